// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench_ipt: decodes the Intel PT of one perf.data once, in this process,
 * with one decoder, and prints how fast.  Not a test: scripts/
 * bench-decode.sh runs it once per decoder, each in a fresh process, so
 * that every decode is the first of that trace (no warm cache from an
 * earlier run of the same bytes).
 *
 *   bench_ipt fast|libipt|fast-hist|libipt-hist|libipt-blk FILE.perf [WARM.perf]
 *
 * fast, libipt: the project's backends (decoders/fastpt, decoders/ipt),
 * elements drained without building histories; fast-hist, libipt-hist:
 * the same backends feeding the history builder as the session does
 * (src/session: the fast backend then hands out counted passes, not
 * elements), the site map empty when the clock starts; libipt-blk: libipt's block
 * decoder alone, the code in a pt_image_section_cache (its block cache
 * on), default flags, as a well-used libipt runs.  The image is set up
 * before the clock starts; the clock is the process CPU time (the host
 * may be shared); the AUX buffers are joined in file order.
 *
 * With WARM.perf (another run of the same programs), that trace is
 * decoded first, untimed, with the same decoder and the same cache of the
 * binaries' analysis (an sa_image_cache: symbols, site maps, the fast
 * backend's control-flow graph; libipt-blk: the pt_image_section_cache
 * with its block cache), so that FILE.perf, never decoded before, is
 * decoded with the binaries' analysis cached, as the live loop's windows
 * after the first are.
 *
 * Output, one line: MODE BYTES SECONDS INSNS ERRORS
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <intel-pt.h>

#include "decoder.h"
#include "sensor/hist.h"
#include "sensor/image.h"
#include "sensor/sites.h"
#include "sensor/log.h"
#include "sensor/perfdata.h"

#define MAX_MAPS 4096

struct map {
	char *path;
	uint64_t start, len, pgoff;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int flags_fn(void *ctx, const struct sa_elem *range, uint64_t next)
{
	return sa_hist_builder_edge_flags(ctx, range, next);
}

static int add_fn(void *ctx, const struct sa_elem *range, uint64_t next,
		  uint64_t count)
{
	return sa_hist_builder_add_counted(ctx, range, next, count);
}

static int resolve_fn(void *ctx, uint16_t stream, uint64_t next)
{
	return sa_hist_builder_resolve(ctx, stream, next);
}

static int run_ours(const char *mode, struct sa_image_cache *cache,
		    const uint8_t *buf, size_t len, const struct map *m,
		    size_t nm, uint64_t *insns, uint64_t *errors, double *secs)
{
	struct sa_image *img = sa_image__new(SA_ARCH_X86_64);
	bool hist = strstr(mode, "-hist") != NULL;
	struct sa_hist_builder *b = NULL;
	struct sa_sitemap *sites = NULL;
	struct sa_hist *h = NULL;
	struct sa_dec_counter ctr;
	struct sa_ipt_config cfg;
	struct sa_errinfo ei;
	struct sa_dec *dec;
	struct sa_elem e;
	double t0;
	size_t i;
	int r;

	if (!img)
		return -1;
	if (cache && sa_image_set_cache(img, cache))
		return -1;
	for (i = 0; i < nm; i++)
		sa_image_add_elf(img, m[i].path, m[i].start, m[i].len,
				 m[i].pgoff, NULL, 0, &ei);
	memset(&cfg, 0, sizeof(cfg));
	cfg.buf = buf;
	cfg.len = len;
	cfg.image = img;
	if (hist) {
		h = sa_hist__new();
		sites = h ? sa_sitemap__new(img) : NULL;
		b = sites ? sa_hist_builder__new(h, img, sites) : NULL;
		if (!b)
			return -1;
	}
	t0 = now();
	dec = strncmp(mode, "fast", 4) ? sa_ipt__new(&cfg, &ei) :
					 sa_fpt__new(&cfg, &ei);
	if (!dec) {
		fprintf(stderr, "bench_ipt: %s\n", ei.msg);
		sa_image__free(img);
		return -1;
	}
	if (hist) {
		/* as sa_session_run() */
		ctr.flags = flags_fn;
		ctr.add = add_fn;
		ctr.resolve = resolve_fn;
		ctr.ctx = b;
		sa_fpt_set_counter(dec, &ctr);
		while ((r = sa_dec_next(dec, &e)) > 0)
			if (sa_hist_builder_add(b, &e))
				break;
		sa_hist_builder_flush(b);
	} else {
		while ((r = sa_dec_next(dec, &e)) > 0)
			;
	}
	*secs = now() - t0;
	*insns = sa_dec_stats(dec)->insns;
	*errors = sa_dec_stats(dec)->errors;
	if (hist && sa_hist_decode(h)->instructions != *insns)
		fprintf(stderr, "bench_ipt: the history counts %" PRIu64
			" instructions, the decoder %" PRIu64 "\n",
			sa_hist_decode(h)->instructions, *insns);
	sa_dec__free(dec);
	sa_hist_builder__free(b);
	sa_sitemap__free(sites);
	sa_hist__free(h);
	sa_image__free(img);
	return r;
}

static int run_blk(struct pt_image_section_cache *isc, const uint8_t *buf,
		   size_t len, const struct map *m, size_t nm, uint64_t *insns,
		   uint64_t *errors, double *secs)
{
	struct pt_block_decoder *blk;
	struct pt_config pc;
	struct pt_image *img;
	struct pt_block b;
	struct pt_event ev;
	double t0;
	size_t i;
	int st;

	if (!isc)
		return -1;
	pt_config_init(&pc);
	pc.begin = (uint8_t *)buf;
	pc.end = (uint8_t *)buf + len;
	blk = pt_blk_alloc_decoder(&pc);
	if (!blk)
		return -1;
	img = pt_blk_get_image(blk);
	for (i = 0; i < nm; i++) {
		int isid = pt_iscache_add_file(isc, m[i].path, m[i].pgoff,
					       m[i].len, m[i].start);

		if (isid >= 0)
			pt_image_add_cached(img, isc, isid, NULL);
	}
	*insns = *errors = 0;
	t0 = now();
	for (;;) {
		st = pt_blk_sync_forward(blk);
		if (st < 0)
			break;
		for (;;) {
			while (st & pts_event_pending) {
				st = pt_blk_event(blk, &ev, sizeof(ev));
				if (st < 0)
					break;
			}
			if (st < 0 || (st & pts_eos))
				break;
			st = pt_blk_next(blk, &b, sizeof(b));
			*insns += b.ninsn;
			if (st < 0)
				break;
		}
		if (st == -pte_eos || st >= 0)
			break;
		(*errors)++;
	}
	*secs = now() - t0;
	pt_blk_free_decoder(blk);
	return 0;
}

struct input {
	struct map maps[MAX_MAPS];
	size_t nm;
	uint8_t *buf;
	size_t len;
};

/* The executable mappings and the joined AUX data of @path. */
static int load(const char *path, struct input *in)
{
	struct sa_pd_event ev;
	struct sa_errinfo ei;
	struct sa_pd *pd;
	int err;

	memset(in, 0, sizeof(*in));
	pd = sa_pd__open(path, &ei);
	if (!pd) {
		fprintf(stderr, "bench_ipt: %s\n", ei.msg);
		return -1;
	}
	while ((err = sa_pd_next(pd, &ev, &ei)) > 0) {
		if (ev.type == PERF_RECORD_MMAP2 && in->nm < MAX_MAPS &&
		    (ev.mmap.prot & 4) && ev.mmap.filename &&
		    ev.mmap.filename[0] == '/') {
			struct map *m = &in->maps[in->nm++];

			m->path = strdup(ev.mmap.filename);
			m->start = ev.mmap.start;
			m->len = ev.mmap.len;
			m->pgoff = ev.mmap.pgoff;
		} else if (ev.type == SA_PD_AUXTRACE) {
			uint8_t *n = realloc(in->buf,
					     in->len + ev.auxtrace.size);

			if (!n)
				return -1;
			in->buf = n;
			memcpy(in->buf + in->len, ev.auxtrace.data,
			       ev.auxtrace.size);
			in->len += ev.auxtrace.size;
		}
	}
	sa_pd__close(pd);
	return 0;
}

static void unload(struct input *in)
{
	size_t i;

	for (i = 0; i < in->nm; i++)
		free(in->maps[i].path);
	free(in->buf);
}

static int run(const char *mode, struct sa_image_cache *cache,
	       struct pt_image_section_cache *isc, const struct input *in,
	       uint64_t *insns, uint64_t *errors, double *secs)
{
	if (!strcmp(mode, "libipt-blk"))
		return run_blk(isc, in->buf, in->len, in->maps, in->nm, insns,
			       errors, secs);
	return run_ours(mode, cache, in->buf, in->len, in->maps, in->nm,
			insns, errors, secs);
}

int main(int argc, char **argv)
{
	static struct input in, warm;
	struct pt_image_section_cache *isc;
	struct sa_image_cache *cache = NULL;
	uint64_t insns = 0, errors = 0;
	const char *mode;
	double secs = 0;
	int err;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: bench_ipt fast|libipt|fast-hist|"
			"libipt-hist|libipt-blk FILE.perf [WARM.perf]\n");
		return 2;
	}
	mode = argv[1];
	if (strcmp(mode, "libipt-blk") && strcmp(mode, "fast") &&
	    strcmp(mode, "libipt") && strcmp(mode, "fast-hist") &&
	    strcmp(mode, "libipt-hist"))
		return 2;
	sa_set_print(NULL);
	isc = pt_iscache_alloc(NULL);
	if (!isc)
		return 1;
	if (argc == 4) {
		cache = sa_image_cache__new();
		if (!cache || load(argv[3], &warm) ||
		    run(mode, cache, isc, &warm, &insns, &errors, &secs) < 0)
			return 1;
		unload(&warm);
	}
	if (load(argv[2], &in))
		return 1;
	err = run(mode, cache, isc, &in, &insns, &errors, &secs);
	if (err < 0)
		return 1;
	printf("%s %zu %.6f %" PRIu64 " %" PRIu64 "\n", mode, in.len, secs,
	       insns, errors);
	unload(&in);
	sa_image_cache__free(cache);
	pt_iscache_free(isc);
	return 0;
}
