// SPDX-License-Identifier: BSD-2-Clause
/*
 * Decoding sessions: from an input (perf.data, raw Intel PT, CoreSight
 * snapshot or dump) to a history.
 *
 *   perf.data --sa_pd--> sideband (MMAP2, COMM, ...) --> sa_image
 *             \--------> AUXTRACE buffers --> backend decoder (sa_dec)
 *                                              --> sa_elem flow
 *                                              --> sa_hist_builder --> sa_hist
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decoder.h"
#include "session_int.h"
#include "sensor/coresight.h"
#include "sensor/file.h"
#include "sensor/log.h"
#include "sensor/perfdata.h"
#include "sensor/session.h"

#define SA_PROGRESS_STEP (64 * 1024)

enum sa_input_kind sa_detect_input(const char *path)
{
	char magic[8];
	struct stat st;
	char ini[4096];
	ssize_t n;
	int fd;

	if (!path || stat(path, &st))
		return SA_INPUT_UNKNOWN;
	if (S_ISDIR(st.st_mode)) {
		snprintf(ini, sizeof(ini), "%s/snapshot.ini", path);
		return access(ini, R_OK) ? SA_INPUT_UNKNOWN :
					   SA_INPUT_SNAPSHOT;
	}
	/* Only a regular file is read: a FIFO read here would be consumed
	 * (or block), a device could never end.
	 */
	if (!S_ISREG(st.st_mode))
		return SA_INPUT_UNKNOWN;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return SA_INPUT_UNKNOWN;
	n = read(fd, magic, sizeof(magic));
	close(fd);
	if (n == (ssize_t)sizeof(magic) && !memcmp(magic, "PERFILE2", 8))
		return SA_INPUT_PERF_DATA;
	return SA_INPUT_UNKNOWN;
}

void sa_session_progress(struct sa_session *s, uint64_t done)
{
	if (!s->o->progress_fn || done < s->next_progress)
		return;
	s->next_progress = done + SA_PROGRESS_STEP;
	s->o->progress_fn(s->o->progress_ctx, done, s->total);
}

/* Runs @dec to the end, feeding the builder.  The decoder's counters go
 * into the history; an error from the decoder ends this buffer only.
 * Element offsets are already input offsets (the backends add the
 * buffer's base); @base_offset names the buffer in messages.
 */
static int sa_session_edge_flags(void *ctx, const struct sa_elem *range,
				 uint64_t next)
{
	return sa_hist_builder_edge_flags(ctx, range, next);
}

static int sa_session_edge_add(void *ctx, const struct sa_elem *range,
			       uint64_t next, uint64_t count)
{
	return sa_hist_builder_add_counted(ctx, range, next, count);
}

static int sa_session_edge_resolve(void *ctx, uint16_t stream, uint64_t next)
{
	return sa_hist_builder_resolve(ctx, stream, next);
}

int sa_session_run(struct sa_session *s, struct sa_dec *dec,
		   uint64_t base_offset)
{
	const struct sa_dec_stats *st;
	struct sa_dec_counter ctr = {
		.flags = sa_session_edge_flags,
		.add = sa_session_edge_add,
		.resolve = sa_session_edge_resolve,
		.ctx = s->b,
	};
	struct sa_elem e;
	int err;

	/* Only the builder's counts are wanted: the fast backend may add
	 * up identical passes instead of handing out every branch (the
	 * other backends refuse, and hand out elements).
	 */
	if (!s->o->flow_fn && !s->o->branch_fn)
		sa_fpt_set_counter(dec, &ctr);
	while ((err = sa_dec_next(dec, &e)) > 0) {
		err = sa_hist_builder_add(s->b, &e);
		if (!err && s->o->flow_fn) {
			s->fi.image = s->img;
			err = s->o->flow_fn(s->o->flow_ctx, &e, &s->fi);
		}
		if (err)
			return err;
		if (e.kind == SA_ELEM_RANGE || e.kind == SA_ELEM_GAP)
			sa_session_progress(s, e.offset);
	}
	st = sa_dec_stats(dec);
	sa_hist_decode_mut(s->h)->trace_bytes += st->trace_bytes;
	if (err < 0) {
		sa_warn("%s: the %s decoder stopped at trace offset %#" PRIx64
			": %s\n", s->name, dec->ops->name, base_offset,
			sa_strerror(err));
		sa_hist_note_error(s->h, base_offset, err, SA_GAP_ERROR, 0);
	}
	return sa_hist_builder_flush(s->b);
}

int sa_session_init(struct sa_session *s, const char *name,
		    const struct sa_decode_opts *o, struct sa_hist *h,
		    enum sa_arch arch)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->o = o;
	s->h = h;
	s->fi.pid = -1;
	s->fi.tid = -1;
	s->img = sa_image__new(arch);
	if (!s->img)
		return -errno;
	if (o->symfs && sa_image_set_symfs(s->img, o->symfs))
		return -ENOMEM;
	if (o->cache)
		return sa_image_set_cache(s->img, o->cache);
	return 0;
}

/* The builder is made once the image is complete. */
int sa_session_start(struct sa_session *s)
{
	const struct sa_dso *dso;
	size_t i;

	for (i = 0; (dso = sa_image_dso_at(s->img, i)); i++)
		if (dso->build_id_mismatch)
			sa_hist_decode_mut(s->h)->build_id_mismatches++;
	s->sites = sa_sitemap__new(s->img);
	if (!s->sites)
		return -errno;
	s->b = sa_hist_builder__new(s->h, s->img, s->sites);
	if (!s->b)
		return -errno;
	sa_hist_builder_set_branch_fn(s->b, s->o->branch_fn, s->o->branch_ctx);
	for (i = 0; i < s->o->nr_error_sinks; i++) {
		int err = sa_hist_builder_add_sink(s->b, s->o->error_sinks[i]);

		if (err)
			return err;
	}
	return 0;
}

void sa_session_fini(struct sa_session *s)
{
	sa_hist_builder__free(s->b);
	sa_sitemap__free(s->sites);
	sa_image__free(s->img);
	memset(s, 0, sizeof(*s));
}

/* The code the user named: --image FILE@ADDR (flat) and --binary
 * PATH[@ADDR] (ELF, loaded as a loader would).
 */
int sa_session_add_user_code(struct sa_session *s, struct sa_errinfo *ei)
{
	const struct sa_decode_opts *o = s->o;
	size_t i;
	int err;

	for (i = 0; i < o->nr_images; i++) {
		const struct sa_raw_image *ri = &o->images[i];

		err = sa_image_add_raw(s->img, ri->path, ri->offset, ri->size,
				       ri->addr, ei);
		if (err)
			return err;
	}
	for (i = 0; i < o->nr_binaries; i++) {
		err = sa_image_load_elf(s->img, o->binaries[i].path,
					o->binaries[i].addr, ei);
		if (err)
			return err;
	}
	return 0;
}

/* Maps a whole file read-only; *@len gets its size. */
void *sa_session_map_file(const char *path, size_t *len, struct sa_errinfo *ei)
{
	struct stat st;
	void *p;
	int fd;

	fd = sa_file_open_input(path, 0);
	if (fd == -ESPIPE || fd == -EISDIR) {
		sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
			       "%s: not a regular file (FIFOs, sockets and "
			       "devices are refused)", path);
		return NULL;
	}
	if (fd < 0) {
		sa_errinfo_set(ei, fd, SA_NO_OFFSET, "%s: %s", path,
			       strerror(-fd));
		return NULL;
	}
	if (fstat(fd, &st)) {
		sa_errinfo_set(ei, -errno, SA_NO_OFFSET, "%s: %s", path,
			       strerror(errno));
		close(fd);
		return NULL;
	}
	if (st.st_size == 0) {
		sa_errinfo_set(ei, -SA_ERR_NODATA, 0, "%s: the file is empty",
			       path);
		close(fd);
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		sa_errinfo_set(ei, -errno, SA_NO_OFFSET, "%s: mmap: %s", path,
			       strerror(errno));
		return NULL;
	}
	*len = (size_t)st.st_size;
	return p;
}

/* --pt FILE --image FILE[:OFF[-END]]@ADDR ... [--cpu F/M/S], as ptxed. */
static int sa_decode_raw_pt(const struct sa_decode_opts *o, struct sa_hist *h,
			    struct sa_errinfo *ei)
{
	struct sa_ipt_config cfg;
	struct sa_session s;
	struct sa_dec *dec = NULL;
	void *buf = NULL;
	size_t len = 0;
	int err;

	err = sa_session_init(&s, o->pt_file, o, h, SA_ARCH_X86_64);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "out of memory");
		goto out;
	}
	err = sa_session_add_user_code(&s, ei);
	if (err)
		goto out;
	buf = sa_session_map_file(o->pt_file, &len, ei);
	if (!buf) {
		err = ei ? ei->code : -EIO;
		goto out;
	}
	err = sa_session_start(&s);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "out of memory");
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.buf = buf;
	cfg.len = len;
	cfg.image = s.img;
	cfg.family = o->cpu_family;
	cfg.model = o->cpu_model;
	cfg.stepping = o->cpu_stepping;
	s.total = len;
	dec = o->ipt_decoder == SA_IPT_DECODER_FAST ? sa_fpt__new(&cfg, ei) :
						     sa_ipt__new(&cfg, ei);
	if (!dec) {
		err = ei ? ei->code : -errno;
		goto out;
	}
	sa_hist_decode_mut(h)->windows++;
	err = sa_session_run(&s, dec, 0);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", o->pt_file,
			       sa_strerror(err));
		goto out;
	}
	err = sa_session_check_result(&s, ei);
out:
	sa_dec__free(dec);
	if (buf)
		munmap(buf, len);
	sa_session_fini(&s);
	return err;
}

/* Nothing decoded but errors: say so rather than print empty numbers.
 * Nothing decoded and no error is an idle window: the trace was clean but
 * held no IP (the target slept), a valid observation.
 */
int sa_session_check_result(struct sa_session *s, struct sa_errinfo *ei)
{
	struct sa_hist_decode *d = sa_hist_decode_mut(s->h);

	if (d->instructions)
		return 0;
	if (!d->errors && !d->nr_error_list && !d->unmapped) {
		d->idle_windows++;
		return 0;
	}
	if (d->nr_error_list)
		return sa_errinfo_set(ei, -SA_ERR_DECODE,
				      d->error_list[0].offset,
				      "%s: no instruction could be decoded: "
				      "%s at trace offset %#" PRIx64
				      " (check that the binaries match the "
				      "trace: --binary, --symfs)",
				      s->name,
				      sa_strerror(d->error_list[0].code),
				      d->error_list[0].offset);
	return sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
			      "%s: the trace holds no executed instructions",
			      s->name);
}

int sa_decode_file(const char *path, const struct sa_decode_opts *o,
		   struct sa_hist *h, struct sa_errinfo *ei)
{
	static const struct sa_decode_opts none;

	sa_errinfo_clear(ei);
	if (!o)
		o = &none;
	if (!path) {
		if (o->pt_file)
			return sa_decode_raw_pt(o, h, ei);
		if (o->cs_raw)
			return sa_cs_decode_raw(o, h, ei);
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "no input: give a perf.data file, a "
				      "snapshot directory, or --pt");
	}
	if (access(path, R_OK))
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET, "%s: %s", path,
				      strerror(errno));
	switch (sa_detect_input(path)) {
	case SA_INPUT_PERF_DATA:
		return sa_decode_perf_data(path, o, h, ei);
	case SA_INPUT_SNAPSHOT:
		return sa_cs_decode_snapshot(path, o, h, ei);
	default:
		break;
	}
	{
		struct stat st;

		if (!stat(path, &st) && S_ISDIR(st.st_mode))
			return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
					      "%s: a directory, but not an Arm "
					      "snapshot (no snapshot.ini): give "
					      "a perf.data file or a snapshot "
					      "directory", path);
	}
	/* Let the perf.data reader say precisely what is wrong. */
	return sa_decode_perf_data(path, o, h, ei);
}
