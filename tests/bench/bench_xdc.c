// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench_xdc: libxdc (github.com/nyx-fuzz/libxdc, kAFL/Nyx's Intel PT
 * decoder) as a peer of scripts/bench-decode.sh.  Not built by meson:
 * the script builds libxdc from its public sources under /tmp and
 * compiles this driver against that build; nothing of libxdc is in this
 * repository.
 *
 *   bench_xdc FILE.perf        one decode by a fresh decoder, timed
 *   bench_xdc -e FILE.perf     libxdc's edges, "SRC DST" in hex, one a line
 *   bench_xdc -i FILE.perf     the same edges from libipt's instruction
 *                              decoder, to check the first against
 *
 * FILE.perf must be in the form libxdc decodes (tests/bench/mkpt.c's
 * XDC.perf: no return compression, no timing packets, TNT-8 only).  The
 * AUX buffers are joined in file order; the code is read from the files
 * of the executable MMAP2 records at their mapped addresses (libxdc's
 * page-fetch callback returns the page of the file's mapping).  One
 * filter range spans every executable mapping.
 *
 * Timed output, one line: libxdc BYTES SECONDS RESULT
 * (process CPU seconds of libxdc_decode() alone; the decoder and its
 * 64 KiB bitmap are allocated before the clock starts, as bench_ipt sets
 * up libipt's image before its clock).
 *
 * Edges: libxdc reports, in trace mode, every conditional branch (to its
 * target or its fall-through), every direct jump and call, and every
 * indirect branch, return and far transfer with the IP of the TIP that
 * resolves it; enable and disable appear as edges from or to
 * 0xffffffffffffffff.  -e leaves out those, and the far transfers
 * (syscall, int, iret, far ret: libxdc gives them the target of the TIP
 * before, as TIP.PGD's IP is suppressed).  -i prints, for the same
 * instructions as libipt decodes them (near branches: conditional,
 * jump, call, return, direct or not), the instruction's IP and the next
 * one's.  The two lists are equal when both decoders agree.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <intel-pt.h>
#include <libxdc.h>

#define MAX_MAPS 4096
#define REC_MMAP2 10
#define REC_AUXTRACE 71

struct map {
	uint64_t start, len, pgoff;
	const uint8_t *file; /* the whole file, mapped */
	size_t fsize;
	char path[4096];
};

static struct map maps[MAX_MAPS];
static size_t nr_maps;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const uint8_t *map_file(const char *path, size_t *size)
{
	struct stat sb;
	void *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) || !sb.st_size) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	*size = (size_t)sb.st_size;
	return p;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* The AUX bytes, joined, with room for libxdc's end marker after them. */
static uint8_t *load(const char *path, size_t *len)
{
	size_t fsize, pos, end, n = 0;
	const uint8_t *d = map_file(path, &fsize);
	uint8_t *buf = NULL;

	if (!d || fsize < 64 || memcmp(d, "PERFILE2", 8)) {
		fprintf(stderr, "bench_xdc: %s: not a perf.data file\n", path);
		exit(1);
	}
	pos = rd64(d + 40);
	end = pos + rd64(d + 48);
	if (end > fsize)
		end = fsize;
	while (pos + 8 <= end) {
		uint32_t type = rd32(d + pos);
		uint16_t size;

		memcpy(&size, d + pos + 6, 2);
		if (size < 8 || pos + size > end) {
			fprintf(stderr, "bench_xdc: %s: bad record at %zu\n",
				path, pos);
			exit(1);
		}
		if (type == REC_MMAP2 && size > 72 && nr_maps < MAX_MAPS &&
		    (rd32(d + pos + 64) & PROT_EXEC) && d[pos + 72] == '/') {
			struct map *m = &maps[nr_maps];

			m->start = rd64(d + pos + 16);
			m->len = rd64(d + pos + 24);
			m->pgoff = rd64(d + pos + 32);
			snprintf(m->path, sizeof(m->path), "%.*s",
				 (int)(size - 72), (const char *)d + pos + 72);
			m->file = map_file(m->path, &m->fsize);
			if (m->file)
				nr_maps++;
			else
				fprintf(stderr, "bench_xdc: %s: cannot read\n",
					m->path);
		} else if (type == REC_AUXTRACE && size >= 48) {
			uint64_t sz = rd64(d + pos + 8);
			uint8_t *nb;

			if (pos + size + sz > end) {
				fprintf(stderr,
					"bench_xdc: %s: AUX record at "
					"%zu runs past the data\n",
					path, pos);
				exit(1);
			}
			nb = realloc(buf, n + sz + 16);
			if (!nb)
				exit(1);
			buf = nb;
			memcpy(buf + n, d + pos + size, sz);
			n += sz;
			pos += sz;
		}
		pos += size;
	}
	munmap((void *)d, fsize);
	if (!buf) {
		fprintf(stderr, "bench_xdc: %s: no Intel PT data\n", path);
		exit(1);
	}
	memset(buf + n, PT_TRACE_END, 16);
	*len = n;
	return buf;
}

/* libxdc's page fetch: the 4 KiB page holding @addr */
static void *fetch(void *opaque, uint64_t addr, bool *success)
{
	static const struct map *last;
	uint64_t page = addr & ~0xfffull, off;
	size_t i;

	(void)opaque;
	if (!last || page < last->start || page >= last->start + last->len) {
		last = NULL;
		for (i = 0; i < nr_maps; i++)
			if (page >= maps[i].start &&
			    page < maps[i].start + maps[i].len) {
				last = &maps[i];
				break;
			}
	}
	if (last) {
		off = last->pgoff + (page - last->start);
		if (off + 0x1000 <= last->fsize) {
			*success = true;
			return (void *)(last->file + off);
		}
	}
	*success = false;
	return (void *)0xFFFFFFFFFFFFFFFFull;
}

/* syscall, sysenter, int3, int N, into, iret, far ret */
static bool far_transfer(uint64_t ip)
{
	bool ok;
	const uint8_t *pg = fetch(NULL, ip, &ok);
	uint8_t b0, b1;

	if (!ok)
		return false;
	b0 = pg[ip & 0xfff];
	if (b0 == 0x48 && (ip & 0xfff) < 0xfff) /* rex.w: iretq, lretq */
		b0 = pg[(ip & 0xfff) + 1];
	if (b0 == 0xcc || b0 == 0xcd || b0 == 0xce || b0 == 0xcf ||
	    b0 == 0xca || b0 == 0xcb)
		return true;
	if (b0 != 0x0f)
		return false;
	b1 = (ip & 0xfff) < 0xfff
		     ? pg[(ip & 0xfff) + 1]
		     : ((const uint8_t *)fetch(NULL, ip + 1, &ok))[0];
	return b1 == 0x05 || b1 == 0x34;
}

static void edge(void *opaque, uint64_t src, uint64_t dst)
{
	FILE *f = opaque;

	if (src == UINT64_MAX || dst == UINT64_MAX || far_transfer(src))
		return;
	fprintf(f, "%" PRIx64 " %" PRIx64 "\n", src, dst);
}

/* libipt's view: every branch instruction and where the flow went next */
static int ipt_edges(const uint8_t *buf, size_t len)
{
	struct pt_insn_decoder *dec;
	struct pt_config pc;
	struct pt_insn in;
	struct pt_event ev;
	struct pt_image *img;
	uint64_t src = 0;
	bool pending = false;
	size_t i;
	int st;

	pt_config_init(&pc);
	pc.begin = (uint8_t *)buf;
	pc.end = (uint8_t *)buf + len;
	dec = pt_insn_alloc_decoder(&pc);
	if (!dec)
		return 1;
	img = pt_insn_get_image(dec);
	for (i = 0; i < nr_maps; i++)
		pt_image_add_file(img, maps[i].path, maps[i].pgoff, maps[i].len,
				  NULL, maps[i].start);
	for (;;) {
		st = pt_insn_sync_forward(dec);
		if (st < 0)
			break;
		pending = false;
		for (;;) {
			while (st & pts_event_pending) {
				st = pt_insn_event(dec, &ev, sizeof(ev));
				if (st < 0)
					break;
				if (ev.type == ptev_disabled ||
				    ev.type == ptev_async_disabled ||
				    ev.type == ptev_overflow)
					pending = false;
			}
			if (st < 0 || (st & pts_eos))
				break;
			st = pt_insn_next(dec, &in, sizeof(in));
			if (st < 0)
				break;
			if (pending)
				printf("%" PRIx64 " %" PRIx64 "\n", src, in.ip);
			pending = false;
			switch (in.iclass) {
			case ptic_cond_jump:
			case ptic_jump:
			case ptic_call:
			case ptic_return:
				pending = true;
				src = in.ip;
				break;
			default:
				break;
			}
		}
		if (st == -pte_eos || st >= 0)
			break;
		{
			uint64_t off = 0;

			pt_insn_get_offset(dec, &off);
			fprintf(stderr,
				"bench_xdc: libipt: %s at trace offset "
				"%#" PRIx64 "\n",
				pt_errstr(pt_errcode(st)), off);
		}
	}
	pt_insn_free_decoder(dec);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t filter[4][2] = { { 0 } };
	const char *mode = argc == 3 ? argv[1] : "";
	const char *path = argv[argc - 1];
	decoder_result_t res;
	libxdc_t *x;
	uint8_t *buf;
	void *bitmap;
	size_t len, i;
	double t0, secs;

	if (argc < 2 || argc > 3 ||
	    (argc == 3 && strcmp(mode, "-e") && strcmp(mode, "-i"))) {
		fprintf(stderr, "usage: bench_xdc [-e|-i] FILE.perf\n");
		return 2;
	}
	buf = load(path, &len);
	if (!nr_maps) {
		fprintf(stderr, "bench_xdc: %s: no executable mapping\n", path);
		return 1;
	}
	if (!strcmp(mode, "-i"))
		return ipt_edges(buf, len);
	filter[0][0] = UINT64_MAX;
	for (i = 0; i < nr_maps; i++) {
		if (maps[i].start < filter[0][0])
			filter[0][0] = maps[i].start;
		if (maps[i].start + maps[i].len > filter[0][1])
			filter[0][1] = maps[i].start + maps[i].len;
	}
	bitmap = calloc(1, 0x10000);
	x = bitmap ? libxdc_init(filter, fetch, NULL, bitmap, 0x10000) : NULL;
	if (!x) {
		fprintf(stderr, "bench_xdc: libxdc_init failed\n");
		return 1;
	}
	if (!strcmp(mode, "-e")) {
		libxdc_enable_tracing(x);
		libxdc_register_edge_callback(x, edge, stdout);
	}
	t0 = now();
	res = libxdc_decode(x, buf, len);
	secs = now() - t0;
	if (!strcmp(mode, "-e"))
		fflush(stdout);
	else
		printf("libxdc %zu %.6f %d\n", len, secs, (int)res);
	if (res != decoder_success && res != decoder_success_pt_overflow)
		fprintf(stderr, "bench_xdc: %s: libxdc_decode: result %d%s\n",
			path, (int)res,
			res == decoder_page_fault
				? " (page fault: code not in the mappings)"
				: "");
	libxdc_free(x);
	free(bitmap);
	free(buf);
	return res == decoder_success || res == decoder_success_pt_overflow ? 0
									    : 1;
}
