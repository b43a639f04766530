// SPDX-License-Identifier: BSD-2-Clause
/*
 * CoreSight conformance on real silicon traces (../shared/traces).
 *
 * Expected values come from the peers, run here: trc_pkt_lister
 * (libopencsd-bin) for the snapshots, perf script for the simpleperf
 * perf.data.  Nothing is compared against output of our own code.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/coresight.h"
#include "sensor/image.h"
#include "sensor/log.h"
#include "sensor/perfdata.h"
#include "sensor/session.h"
#include "decoder.h"
#include "etm.h"
#include "peer.h"
#include "testutil.h"
#include "sensor/hist.h"
#include "sensor/sites.h"

static const char *const snapshots[] = {
	"opencsd-snapshots/Snowball",
	"opencsd-snapshots/TC2",
	"opencsd-snapshots/a55-test-tpiu",
	"opencsd-snapshots/a57_single_step",
	"opencsd-snapshots/armv8_1m_branches",
	"opencsd-snapshots/bugfix-exact-match",
	"opencsd-snapshots/init-short-addr",
	"opencsd-snapshots/juno-ret-stck",
	"opencsd-snapshots/juno-uname-001",
	"opencsd-snapshots/juno_r1_1",
	"opencsd-snapshots/tc2-ptm-rstk-t32",
	"opencsd-snapshots/trace_cov_a15",
	"opencsd-snapshots-ete/001-ack_test",
	"opencsd-snapshots-ete/002-ack_test_scr",
	"opencsd-snapshots-ete/ete-bc-instr",
	"opencsd-snapshots-ete/ete-ite-instr",
	"opencsd-snapshots-ete/ete-wfet",
	"opencsd-snapshots-ete/ete_mem",
	"opencsd-snapshots-ete/ete_spec_1",
	"opencsd-snapshots-ete/ete_spec_2",
	"opencsd-snapshots-ete/ete_spec_3",
	"opencsd-snapshots-ete/event_test",
	"opencsd-snapshots-ete/feat_cmpbr",
	"opencsd-snapshots-ete/infrastructure",
	"opencsd-snapshots-ete/maxspec0_commopt1",
	"opencsd-snapshots-ete/maxspec78_commopt0",
	"opencsd-snapshots-ete/pauth_lr_Rm",
	"opencsd-snapshots-ete/q_elem",
	"opencsd-snapshots-ete/rme_test",
	"opencsd-snapshots-ete/s_9001",
	"opencsd-snapshots-ete/src_addr",
	"opencsd-snapshots-ete/ss_ib_el1ns",
	"opencsd-snapshots-ete/texit-poe2",
	"opencsd-snapshots-ete/tme_simple",
	"opencsd-snapshots-ete/tme_tcancel",
	"opencsd-snapshots-ete/tme_test",
	"opencsd-snapshots-ete/trace_file_vmid",
	"opencsd-snapshots-ete/ts_bit64_set",
	"opencsd-snapshots-ete/ts_marker",
};
/* bugfix-exact-match has 1.74 million ranges (trc_pkt_lister alone takes
 * 4.6 s and writes 216 MB): its first 50000 are compared.
 */
#define BIG_MAX_RANGES 50000
#define NR_SNAPSHOTS (int)(sizeof(snapshots) / sizeof(snapshots[0]))

/* OpenCSD 1.3.3 never frees the callback object that
 * ocsd_dt_set_gen_elem_outfn() allocates (32 bytes per decode tree; a
 * three-line program shows it).  Not ours to fix: tell LeakSanitizer.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:ocsd_dt_set_gen_elem_outfn\n";
}

static int quiet_print(enum sa_log_level l, const char *fmt, va_list ap)
{
	return 0;
}

static void setup(void)
{
	sa_set_print(quiet_print);
}

static const char *cs_path(const char *sub)
{
	static char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/traces/coresight/%s",
		 getenv("SA_SHARED_DIR") ? getenv("SA_SHARED_DIR") :
					   "../shared", sub);
	return p;
}

/* Conditional-branch outcome counts, keyed by address. */
struct cond_count {
	uint64_t addr, taken, not_taken;
};

struct cond_tab {
	size_t nr, alloc;
	struct cond_count *c;
	/* every peer range, for the branches it runs through */
	size_t nr_spans, alloc_spans;
	uint64_t (*spans)[2];	/* start, last */
};

static void span_add(struct cond_tab *t, uint64_t start, uint64_t last)
{
	if (t->nr_spans == t->alloc_spans) {
		t->alloc_spans = t->alloc_spans ? t->alloc_spans * 2 : 256;
		t->spans = realloc(t->spans,
				   t->alloc_spans * sizeof(*t->spans));
		ck_assert_ptr_nonnull(t->spans);
	}
	t->spans[t->nr_spans][0] = start;
	t->spans[t->nr_spans][1] = last;
	t->nr_spans++;
}

static void cond_add(struct cond_tab *t, uint64_t addr, bool taken)
{
	size_t i;

	for (i = 0; i < t->nr; i++)
		if (t->c[i].addr == addr)
			break;
	if (i == t->nr) {
		if (t->nr == t->alloc) {
			t->alloc = t->alloc ? t->alloc * 2 : 64;
			t->c = realloc(t->c, t->alloc * sizeof(*t->c));
			ck_assert_ptr_nonnull(t->c);
		}
		memset(&t->c[t->nr++], 0, sizeof(*t->c));
		t->c[i].addr = addr;
	}
	if (taken)
		t->c[i].taken++;
	else
		t->c[i].not_taken++;
}

/* Compares our flow for buffer @bi of snapshot @ss with trc_pkt_lister's
 * listing of the same buffer.  Returns the number of ranges compared.
 */
static uint64_t compare_buffer(const char *name, const char *dir,
			       struct sa_cs_snapshot *ss, size_t bi,
			       struct sa_image *img, struct sa_dec *given,
			       const char *given_buf, uint64_t max_ranges,
			       bool tiny)
{
	const char *bname = given ? given_buf :
				    sa_cs_snapshot_buffer_name(ss, bi);
	char line[1024];
	char *argv[] = { "trc_pkt_lister", "-ss_dir", (char *)dir,
			 "-decode_only", "-src_addr_n", "-src_name",
			 (char *)bname, "-logstdout",
			 /* else it also writes trc_pkt_lister.ppl in the cwd */
			 "-logfilename", "/dev/null", NULL };
	pid_t pid;
	bool stopped = false;
	uint64_t nranges = 0, nnacc = 0;
	bool peer_fatal = false;
	struct sa_errinfo ei = { 0 };
	struct sa_dec *dec;
	struct sa_elem e;
	FILE *f;
	int rc;
	struct cond_tab want = { 0 };
	struct sa_hist *h = sa_hist__new();
	struct sa_sitemap *sites = sa_sitemap__new(img);
	struct sa_hist_builder *b = sa_hist_builder__new(h, img, sites);
	size_t fi, bj, k, sp, checked = 0;
	char *found;

	ck_assert_ptr_nonnull(b);

	f = peer_popen(argv, &pid);
	ck_assert_ptr_nonnull(f);

	/* every other snapshot through a 2-element queue: OpenCSD then
	 * waits and is flushed all the time, and must give the same flow
	 */
	dec = given ? given : sa_cs_snapshot_decoder(ss, bi, img,
						     tiny ? SA_CS_TINY_QUEUE :
							    0, &ei);
	if (!dec) {
		/* Only acceptable when the peer could not decode it
		 * either (a core OpenCSD 1.3 does not know).
		 */
		ck_assert_int_eq(ei.code, -SA_ERR_UNSUPPORTED);
		while (fgets(line, sizeof(line), f)) {
			struct ppl_range r;

			ck_assert_msg(ppl_parse(line, &r) != 1,
				      "%s: peer decodes ranges, we refused: "
				      "%s", name, ei.msg);
		}
		ck_assert_int_eq(peer_pclose(f, pid, false), 0);
		goto out;
	}

	while (fgets(line, sizeof(line), f)) {
		struct ppl_range r;
		int kind = ppl_parse(line, &r), got;
		bool branch;

		if (strstr(line, "Data Path fatal error"))
			peer_fatal = true;
		if (!kind)
			continue;
		if (max_ranges && nranges >= max_ranges) {
			stopped = true;
			break;
		}
		/* our next range or NACC gap */
		for (;;) {
			got = sa_dec_next(dec, &e);
			ck_assert_msg(got == 1, "%s buf %zu: we end (%d) "
				      "before the peer's line: %s", name, bi,
				      got, line);
			ck_assert_int_eq(sa_hist_builder_add(b, &e), 0);
			if (e.kind == SA_ELEM_RANGE)
				break;
			if (e.gap_reason == SA_GAP_LOST &&
			    e.error == -SA_ERR_NOMAP)
				break;
		}
		if (kind == 2) {
			ck_assert_msg(e.kind == SA_ELEM_GAP,
				      "%s: peer has ADDR_NACC at %" PRIu64
				      ", we have a range at %#" PRIx64,
				      name, r.idx, e.start);
			ck_assert_uint_eq(e.offset, r.idx);
			ck_assert_uint_eq(e.stream, r.id);
			nnacc++;
			continue;
		}
		ck_assert_msg(e.kind == SA_ELEM_RANGE,
			      "%s: peer has a range at idx %" PRIu64 ", we "
			      "have a NACC gap", name, r.idx);
		ck_assert_msg(e.start == r.start &&
			      e.last + e.last_size == r.end &&
			      e.ninsn == r.ninsn && e.last_size == r.last_sz &&
			      e.offset == r.idx && e.stream == r.id,
			      "%s buf %zu range %" PRIu64 ": peer %s"
			      "we 0x%" PRIx64 "-0x%" PRIx64 " n=%u sz=%u "
			      "idx=%" PRIu64 " id=%x", name, bi, nranges,
			      line, e.start, e.last + e.last_size, e.ninsn,
			      e.last_size, e.offset, e.stream);
		branch = !strcmp(r.type, "BR") || !strcmp(r.type, "iBR");
		if (branch) {
			enum sa_iclass want_ic;

			if (!strcmp(r.type, "BR"))
				want_ic = r.cond ? SA_IC_COND :
					  r.link ? SA_IC_CALL : SA_IC_JUMP;
			else
				want_ic = r.ret ? SA_IC_RET :
					  r.eret ? SA_IC_FAR :
					  r.link ? SA_IC_IND_CALL :
						   SA_IC_IND_JUMP;
			ck_assert_msg(e.last_taken == (r.exec ? 1 : 0) &&
				      e.last_class == want_ic,
				      "%s range %" PRIu64 ": peer %s we "
				      "taken=%d class=%d", name, nranges,
				      line, e.last_taken, e.last_class);
			/* A32 conditional BL: a decision for the flow,
			 * a call for the site map (capstone)
			 */
			if (want_ic == SA_IC_COND && !r.link)
				cond_add(&want, r.end - r.last_sz, r.exec);
		} else {
			ck_assert_msg(e.last_taken == -1 &&
				      e.last_class == SA_IC_OTHER,
				      "%s range %" PRIu64 ": peer %s we "
				      "taken=%d class=%d", name, nranges,
				      line, e.last_taken, e.last_class);
		}
		span_add(&want, r.start, r.end - r.last_sz);
		nranges++;
	}
	rc = peer_pclose(f, pid, stopped);
	ck_assert_msg(stopped || rc == 0, "trc_pkt_lister failed (%d) on %s",
		      rc, dir);
	if (stopped) {
		/* the first max_ranges agree; that is what we check of a
		 * large snapshot
		 */
		sa_dec__free(dec);
		goto out;
	}
	if (peer_fatal) {
		/* trc_pkt_lister stops at a fatal data path error; we
		 * count it, reset and go on.
		 */
		ck_assert_uint_ge(sa_etm_stats(dec)->fatal, 1);
		while ((rc = sa_dec_next(dec, &e)) > 0)
			;
		ck_assert_int_eq(rc, 0);
		ck_assert_uint_ge(sa_etm_stats(dec)->fatal, 1);
		sa_dec__free(dec);
		goto out;
	}
	/* nothing more from us but gaps */
	while ((rc = sa_dec_next(dec, &e)) > 0) {
		ck_assert_msg(e.kind == SA_ELEM_GAP &&
			      e.error != -SA_ERR_NOMAP,
			      "%s: we have more ranges than the peer (at "
			      "%#" PRIx64 ")", name, e.start);
		ck_assert_int_eq(sa_hist_builder_add(b, &e), 0);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(sa_dec_stats(dec)->ranges, nranges);
	ck_assert_uint_eq(sa_etm_stats(dec)->nacc, nnacc);
	if (tiny && nranges > 4)
		ck_assert_uint_gt(sa_etm_stats(dec)->waits, nranges / 4);
	sa_dec__free(dec);

	/* The history's conditional counts equal those derived from the
	 * peer's ranges: taken / not taken where a range ends on the
	 * branch (E / N), plus not taken for every range that runs through
	 * it (OpenCSD ends ranges at every waypoint, so that happens only
	 * where a range runs to the end of mapped memory).  Every decision
	 * the peer has must be in the history.
	 */
	ck_assert_int_eq(sa_hist_builder_flush(b), 0);
	found = calloc(want.nr + 1, 1);
	ck_assert_ptr_nonnull(found);
	for (fi = 0; fi < sa_hist_nr_functions(h); fi++) {
		const struct sa_hist_func *fn = sa_hist_function(h, fi);

		for (bj = 0; bj < fn->nr_branches; bj++) {
			const struct sa_hist_branch *br = &fn->branches[bj];
			uint64_t et = 0, en = 0, thru = 0;

			if (br->iclass != SA_IC_COND ||
			    (!br->taken && !br->not_taken))
				continue;
			for (k = 0; k < want.nr; k++)
				if (want.c[k].addr == br->addr)
					break;
			if (k < want.nr) {
				et = want.c[k].taken;
				en = want.c[k].not_taken;
				found[k] = 1;
			}
			for (sp = 0; sp < want.nr_spans; sp++)
				thru += want.spans[sp][0] <= br->addr &&
					br->addr < want.spans[sp][1];
			ck_assert_msg(k < want.nr || thru, "%s: history has "
				      "cond branch %#" PRIx64 " that no peer "
				      "range reaches", name, br->addr);
			ck_assert_msg(br->taken == et &&
				      br->not_taken == en + thru,
				      "%s: branch %#" PRIx64 ": history "
				      "%" PRIu64 "/%" PRIu64 ", peer %" PRIu64
				      "/%" PRIu64, name, br->addr, br->taken,
				      br->not_taken, et, en + thru);
			checked++;
		}
	}
	for (k = 0; k < want.nr; k++)
		ck_assert_msg(found[k], "%s: peer decides cond branch %#"
			      PRIx64 " %" PRIu64 "/%" PRIu64 " times, the "
			      "history does not have it", name,
			      want.c[k].addr, want.c[k].taken,
			      want.c[k].not_taken);
	free(found);
	if (getenv("SA_TEST_VERBOSE"))
		fprintf(stderr, "%s buf %zu: %" PRIu64 " ranges, %" PRIu64
			" NACC, %zu cond branches, %zu checked\n", name, bi,
			nranges, nnacc, want.nr, checked);
out:
	sa_hist_builder__free(b);
	sa_sitemap__free(sites);
	sa_hist__free(h);
	free(want.c);
	free(want.spans);
	return nranges;
}

/* The ricseclab fib dumps: raw ETR dumps, trace ID 0x10, no registers
 * recorded.  We decode them with the documented default ETMv4 registers
 * and the ELF files loaded at the addresses of decoderargs.txt; the peer
 * decodes a snapshot made here from the same dump, the same registers
 * and the same code bytes (the ELF files mapped flat from offset 0 over
 * the given ranges, which is the text segment).
 */
START_TEST(test_ricseclab_fib)
{
	static const struct sa_cs_raw_opts defaults = { .trace_id = 0x10 };
	char dir[PATH_MAX], args[PATH_MAX], p[PATH_MAX], line[1024];
	const char *fib = cs_path("ricseclab/fib");
	struct sa_cs_raw_opts r = defaults;
	struct sa_errinfo ei = { 0 };
	char *tok, *save = NULL, tname[64];
	struct sa_image *img;
	struct sa_dec *dec;
	uint8_t *buf;
	size_t len, n;
	FILE *f, *ini;
	unsigned int id, nbin, i;
	uint64_t ranges;
	int k;

	if (!peer_have("trc_pkt_lister")) {
		fprintf(stderr, "SKIP-PART: trc_pkt_lister not installed\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/fib%d", sa_test_tmpdir(), _i + 1);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(args, sizeof(args), "%s/trace%d/decoderargs.txt", fib,
		 _i + 1);
	f = fopen(args, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);

	/* <trace> <id> <n> (<binary> <start> <end>)*n */
	tok = strtok_r(line, " \t\n", &save);
	ck_assert_ptr_nonnull(tok);
	snprintf(tname, sizeof(tname), "%s", tok);
	ck_assert_int_eq(sscanf(strtok_r(NULL, " \t\n", &save), "%x", &id),
			 1);
	ck_assert_uint_eq(id, 0x10);
	ck_assert_int_eq(sscanf(strtok_r(NULL, " \t\n", &save), "%u",
				&nbin), 1);

	img = sa_image__new(SA_ARCH_AARCH64);
	ck_assert_ptr_nonnull(img);
	snprintf(p, sizeof(p), "%s/cpu_0.ini", dir);
	ini = fopen(p, "w");
	ck_assert_ptr_nonnull(ini);
	fprintf(ini, "[device]\nname=cpu_0\nclass=core\ntype=Cortex-A53\n");
	for (i = 0; i < nbin; i++) {
		char *bin = strtok_r(NULL, " \t\n", &save);
		char *s0 = strtok_r(NULL, " \t\n", &save);
		char *s1 = strtok_r(NULL, " \t\n", &save);
		unsigned long long start, end;
		char src[PATH_MAX], dst[PATH_MAX];
		struct stat st;

		ck_assert_ptr_nonnull(s1);
		start = strtoull(s0, NULL, 16);
		end = strtoull(s1, NULL, 16);
		snprintf(src, sizeof(src), "%s/%s", fib, bin);
		snprintf(dst, sizeof(dst), "%s/%s", dir, bin);
		ck_assert_int_eq(symlink(src, dst), 0);
		/* OpenCSD maps nothing when a region passes the end of
		 * its file (libc's range does)
		 */
		ck_assert_int_eq(stat(src, &st), 0);
		if (end - start > (unsigned long long)st.st_size)
			end = start + (unsigned long long)st.st_size;
		fprintf(ini, "[dump%u]\nfile=%s\naddress=%#llx\nlength=%#llx\n",
			i + 1, bin, start, end - start);
		k = sa_image_load_elf(img, src, start, &ei);
		ck_assert_msg(k == 0, "%s", ei.msg);
	}
	fclose(ini);
	snprintf(p, sizeof(p), "%s/snapshot.ini", dir);
	ini = fopen(p, "w");
	fprintf(ini, "[snapshot]\nversion=1.0\n[device_list]\n"
		"device0=cpu_0.ini\ndevice1=etm_0.ini\n[trace]\n"
		"metadata=trace.ini\n");
	fclose(ini);
	/* the registers we assume (docs/coresight.md) */
	snprintf(p, sizeof(p), "%s/etm_0.ini", dir);
	ini = fopen(p, "w");
	fprintf(ini, "[device]\nname=ETM_0\nclass=trace_source\ntype=ETM4\n"
		"[regs]\nTRCCONFIGR=0x1\nTRCTRACEIDR=0x10\n"
		"TRCIDR0=0x28000ea1\nTRCIDR1=0x4100f403\n"
		"TRCIDR2=0x00000488\n");
	fclose(ini);
	snprintf(p, sizeof(p), "%s/trace.ini", dir);
	ini = fopen(p, "w");
	fprintf(ini, "[trace_buffers]\nbuffers=buffer0\n[buffer0]\n"
		"name=ETR_0\nfile=cstrace.bin\nformat=coresight\n"
		"[source_buffers]\nETM_0=ETR_0\n[core_trace_sources]\n"
		"cpu_0=ETM_0\n");
	fclose(ini);
	snprintf(p, sizeof(p), "%s/%s", fib, tname);
	snprintf(args, sizeof(args), "%s/cstrace.bin", dir);
	ck_assert_int_eq(symlink(p, args), 0);

	/* ours: the raw path with defaults */
	f = fopen(p, "rb");
	ck_assert_ptr_nonnull(f);
	buf = malloc(1 << 20);
	len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	ck_assert_uint_gt(len, 0);
	r.trace_file = p;
	dec = sa_cs_raw_decoder__new(&r, buf, len, img, &ei);
	ck_assert_msg(dec != NULL, "%s", ei.msg);
	snprintf(tname, sizeof(tname), "ricseclab/fib%d", _i + 1);
	ranges = compare_buffer(tname, dir, NULL, 0, img, dec, "ETR_0", 0,
				false);
	ck_assert_uint_gt(ranges, 1000);
	n = 0;
	(void)n;
	free(buf);
	sa_image__free(img);
}
END_TEST

START_TEST(test_snapshot_vs_trc_pkt_lister)
{
	const char *name = snapshots[_i];
	char dir[PATH_MAX];
	struct sa_errinfo ei = { 0 };
	struct sa_cs_snapshot *ss;
	struct sa_image *img;
	size_t bi;
	int err;

	if (!peer_have("trc_pkt_lister")) {
		fprintf(stderr, "SKIP-PART: trc_pkt_lister not installed\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s", cs_path(name));
	ss = sa_cs_snapshot__open(dir, &ei);
	ck_assert_msg(ss != NULL, "%s: %s", name, ei.msg);
	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_ptr_nonnull(img);
	err = sa_cs_snapshot_load_image(ss, img, &ei);
	ck_assert_msg(err >= 0, "%s: %s", name, ei.msg);
	for (bi = 0; bi < sa_cs_snapshot_nr_buffers(ss); bi++) {
		if (!sa_cs_snapshot_buffer_nr_sources(ss, bi))
			continue;
		compare_buffer(name, dir, ss, bi, img, NULL, NULL,
			       strstr(name, "bugfix-exact-match") ?
			       BIG_MAX_RANGES : 0, _i & 1);
	}
	sa_image__free(img);
	sa_cs_snapshot__free(ss);
}
END_TEST

/* Taken branches in trace order: (from, to), to 0 when a gap follows. */
struct branch_seq {
	size_t nr, alloc;
	uint64_t (*b)[2];
};

static void seq_add(struct branch_seq *q, uint64_t from, uint64_t to)
{
	if (q->nr == q->alloc) {
		q->alloc = q->alloc ? q->alloc * 2 : 256;
		q->b = realloc(q->b, q->alloc * sizeof(*q->b));
		ck_assert_ptr_nonnull(q->b);
	}
	q->b[q->nr][0] = from;
	q->b[q->nr][1] = to;
	q->nr++;
}

/* Decodes every AUXTRACE buffer of the simpleperf perf.data with our
 * decoder, memory from the MMAP records (binary under @symfs).
 */
static void our_perf_branches(const char *path, const char *symfs,
			      struct branch_seq *q)
{
	struct sa_errinfo ei = { 0 };
	struct sa_cs_perf_info *info = NULL;
	struct sa_pd_event ev;
	struct sa_image *img;
	struct sa_pd *pd;
	int rc, nbuf = 0;

	pd = sa_pd__open(path, &ei);
	ck_assert_msg(pd != NULL, "%s", ei.msg);
	img = sa_image__new(SA_ARCH_AARCH64);
	ck_assert_ptr_nonnull(img);
	ck_assert_int_eq(sa_image_set_symfs(img, symfs), 0);
	while ((rc = sa_pd_next(pd, &ev, &ei)) > 0) {
		struct sa_dec *dec;
		struct sa_elem e;
		uint64_t pend = 0;
		bool have = false;

		switch (ev.type) {
		case SA_PD_AUXTRACE_INFO:
			ck_assert_uint_eq(ev.auxtrace_info.type,
					  SA_PD_AUXTRACE_CS_ETM);
			ck_assert_int_eq(sa_cs_perf_info_parse(
				ev.auxtrace_info.priv,
				ev.auxtrace_info.nr_priv, &info, &ei), 0);
			break;
		case PERF_RECORD_MMAP:
		case PERF_RECORD_MMAP2:
			/* kernel modules are absent: ignore failures */
			sa_image_add_elf(img, ev.mmap.filename, ev.mmap.start,
					 ev.mmap.len, ev.mmap.pgoff, NULL, 0,
					 &ei);
			break;
		case SA_PD_AUXTRACE:
			ck_assert_ptr_nonnull(info);
			dec = sa_cs_perf_info_decoder__new(info,
				ev.auxtrace.data, ev.auxtrace.size,
				ev.auxtrace.data_file_offset, false,
				(int)ev.auxtrace.cpu, img, &ei);
			ck_assert_msg(dec != NULL, "%s", ei.msg);
			while ((rc = sa_dec_next(dec, &e)) > 0) {
				if (e.kind == SA_ELEM_RANGE) {
					if (have)
						seq_add(q, pend, e.start);
					have = e.last_taken == 1;
					pend = e.last;
				} else if (e.gap_reason == SA_GAP_LOST &&
					   e.error == -SA_ERR_NOMAP) {
					/* perf ignores ADDR_NACC too */
				} else if (e.gap_reason == SA_GAP_END) {
					/* perf synthesises no branch at the
					 * end of the buffer
					 */
					have = false;
				} else if (have) {
					/* perf: "tr end", target 0 */
					seq_add(q, pend, 0);
					have = false;
				}
			}
			ck_assert_int_eq(rc, 0);
			sa_dec__free(dec);
			nbuf++;
			break;
		default:
			break;
		}
	}
	ck_assert_msg(rc == 0, "%s", ei.msg);
	ck_assert_int_ge(nbuf, 1);
	sa_cs_perf_info__free(info);
	sa_image__free(img);
	sa_pd__close(pd);
}

/* A symfs under the test's temporary directory where perf and we find
 * the traced binary at its recorded path.  Returns the link to unlink.
 */
static void make_symfs(char *symfs, size_t n, char *link, size_t ln)
{
	char bin[PATH_MAX];

	snprintf(bin, sizeof(bin), "%s", cs_path("simpleperf/etm_test_loop"));
	snprintf(symfs, n, "%s/symfs", sa_test_tmpdir());
	mkdir(symfs, 0755);
	snprintf(link, ln, "%s/data", symfs);
	mkdir(link, 0755);
	snprintf(link, ln, "%s/data/local", symfs);
	mkdir(link, 0755);
	snprintf(link, ln, "%s/data/local/tmp", symfs);
	mkdir(link, 0755);
	snprintf(link, ln, "%s/data/local/tmp/etm_test_loop", symfs);
	unlink(link);
	ck_assert_int_eq(symlink(bin, link), 0);
}

/* perf script's taken branches of @perfdata, without its "tr strt"
 * lines.  Returns perf's exit status; its output is left in @out.
 */
static int perf_script_branches(const char *perfdata, const char *symfs,
				const char *out, struct branch_seq *q)
{
	char *argv[] = { "perf", "script", "-i", (char *)perfdata, "--symfs",
			 (char *)symfs, "-F", "flags,ip,addr", NULL };
	char line[512];
	FILE *f;
	int rc = peer_run(argv, out);

	f = fopen(out, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		char *arrow = strstr(line, "=>"), *p;
		unsigned long long from, to;

		if (!arrow || strstr(line, "tr strt"))
			continue;
		*arrow = '\0';
		p = strrchr(line, ' ');
		while (p && p > line && p[1] == '\0') {
			*p = '\0';
			p = strrchr(line, ' ');
		}
		ck_assert_ptr_nonnull(p);
		from = strtoull(p + 1, NULL, 16);
		to = strtoull(arrow + 2, NULL, 16);
		seq_add(q, from, to);
	}
	fclose(f);
	return rc;
}

static void seq_compare(const char *what, const struct branch_seq *want,
			const struct branch_seq *got)
{
	size_t i;

	for (i = 0; i < want->nr && i < got->nr; i++)
		ck_assert_msg(want->b[i][0] == got->b[i][0] &&
			      want->b[i][1] == got->b[i][1],
			      "%s: taken branch %zu: %#" PRIx64 " => %#"
			      PRIx64 ", then %#" PRIx64 " => %#" PRIx64,
			      what, i, want->b[i][0], want->b[i][1],
			      got->b[i][0], got->b[i][1]);
	ck_assert_msg(got->nr == want->nr, "%s: %zu taken branches, then %zu",
		      what, want->nr, got->nr);
}

START_TEST(test_simpleperf_vs_perf_script)
{
	char perfdata[PATH_MAX], symfs[PATH_MAX], link[PATH_MAX];
	char out[PATH_MAX];
	struct branch_seq want = { 0 }, got = { 0 };

	if (!peer_have("perf")) {
		fprintf(stderr, "SKIP-PART: perf not installed\n");
		return;
	}
	snprintf(perfdata, sizeof(perfdata), "%s",
		 cs_path("simpleperf/perf.data"));
	make_symfs(symfs, sizeof(symfs), link, sizeof(link));
	snprintf(out, sizeof(out), "%s/perf-script.txt", sa_test_tmpdir());
	ck_assert_int_eq(perf_script_branches(perfdata, symfs, out, &want), 0);
	ck_assert_uint_gt(want.nr, 100);

	our_perf_branches(perfdata, symfs, &got);
	seq_compare("perf script, then ours", &want, &got);
	unlink(out);
	unlink(link);
	free(want.b);
	free(got.b);
}
END_TEST

/*
 * perf 6.x layout (cs_etm AUXTRACE_INFO header version 2): the trace IDs
 * come in PERF_RECORD_AUX_OUTPUT_HW_ID records and TRCTRACEIDR is
 * flagged unused (perf 6.3's CORESIGHT_TRACE_ID_UNUSED_FLAG | 0x7f).  No
 * such recording exists here, so the simpleperf one is rewritten that way
 * with our writer: same trace bytes, same ETMv4 registers, same sideband
 * of etm_test_loop.
 */
enum v2_kind {
	V2_HW_ID,	/* version 2, IDs only in AUX_OUTPUT_HW_ID */
	V1_METADATA,	/* version 1, IDs in TRCTRACEIDR (perf 5.11+) */
	V2_NO_HW_ID,	/* version 2, unused IDs, no HW_ID record */
	V2_LEGACY,	/* version 2, flagged legacy IDs, no HW_ID record */
	V2_BAD_MAJOR,	/* a hw_id of major version 1 */
	V2_BAD_CPU,	/* a hw_id for a CPU without metadata */
	V2_STALE,	/* wrong, unflagged TRCTRACEIDR; HW_ID records right */
};

#define CS_UNUSED_FLAG	0x80000000ull
#define CS_ETMV4_MAGIC	0x4040404040404040ull

/* cs_etm AUXTRACE_INFO version 0 (simpleperf) to version 1/2: the same
 * ETMv4 registers with NR_TRC_PARAMS 7.  Fills @trace_ids by CPU.
 */
static size_t v0_to_v2(const uint64_t *priv, size_t nr, enum v2_kind kind,
		       uint64_t *out, uint8_t *trace_ids, size_t max_cpus)
{
	size_t ncpu = (uint32_t)priv[1], i, pos = 3, n = 3;

	ck_assert_uint_eq(priv[0], 0);
	ck_assert_uint_le(ncpu, max_cpus);
	out[0] = kind == V1_METADATA ? 1 : 2;
	out[1] = priv[1];
	out[2] = priv[2];
	for (i = 0; i < ncpu; i++) {
		uint64_t cpu = priv[pos + 1], idr = priv[pos + 3];

		ck_assert_uint_le(pos + 9, nr);
		ck_assert_uint_eq(priv[pos], CS_ETMV4_MAGIC);
		ck_assert_uint_lt(cpu, max_cpus);
		trace_ids[cpu] = (uint8_t)(idr & 0x7f);
		out[n++] = CS_ETMV4_MAGIC;
		out[n++] = cpu;
		out[n++] = 7;
		out[n++] = priv[pos + 2];		/* TRCCONFIGR */
		if (kind == V1_METADATA)
			out[n++] = idr;
		else if (kind == V2_LEGACY)
			out[n++] = CS_UNUSED_FLAG | idr;
		else if (kind == V2_STALE)
			out[n++] = 0x40 + cpu;
		else
			out[n++] = CS_UNUSED_FLAG | 0x7f;
		memcpy(out + n, priv + pos + 4, 5 * sizeof(*out));
		n += 5;
		pos += 9;
	}
	return n;
}

static void write_v2(const char *src, const char *dst, enum v2_kind kind)
{
	uint64_t priv[512];
	uint8_t trace_ids[32] = { 0 };
	struct sa_errinfo ei = { 0 };
	struct sa_pd_writer *w;
	struct sa_pd_event ev;
	struct sa_pd *pd;
	size_t i, ncpu = 0, nr;
	int rc;

	pd = sa_pd__open(src, &ei);
	ck_assert_msg(pd != NULL, "%s", ei.msg);
	w = sa_pd_writer__new(dst, &ei);
	ck_assert_msg(w != NULL, "%s", ei.msg);
	for (i = 0; i < sa_pd_nr_attrs(pd); i++) {
		const struct sa_pd_attr *a = sa_pd_attr(pd, i);

		ck_assert_int_eq(sa_pd_writer_add_attr(w, &a->attr, a->ids,
						       a->nr_ids, a->name), 0);
	}
	while ((rc = sa_pd_next(pd, &ev, &ei)) > 0) {
		struct sa_pd_sample_id sid = ev.sid;

		switch (ev.type) {
		case SA_PD_AUXTRACE_INFO:
			ck_assert_uint_le(ev.auxtrace_info.nr_priv,
					  sizeof(priv) / sizeof(priv[0]));
			ncpu = (uint32_t)ev.auxtrace_info.priv[1];
			nr = v0_to_v2(ev.auxtrace_info.priv,
				      ev.auxtrace_info.nr_priv, kind, priv,
				      trace_ids, 32);
			ck_assert_int_eq(sa_pd_writer_auxtrace_info(w,
					ev.auxtrace_info.type, priv, nr), 0);
			break;
		case PERF_RECORD_COMM:
			ck_assert_int_eq(sa_pd_writer_comm(w, ev.comm.pid,
					ev.comm.tid, ev.comm.comm,
					ev.comm.exec, &sid), 0);
			break;
		case PERF_RECORD_ITRACE_START:
			/* The kernel reports each CPU's trace ID when the
			 * event first starts there (etm_event_start()).
			 */
			for (i = 0; kind != V1_METADATA &&
				    kind != V2_NO_HW_ID &&
				    kind != V2_LEGACY && i < ncpu; i++) {
				uint64_t hw_id = trace_ids[i];

				sid.cpu = (uint32_t)i;
				if (kind == V2_BAD_MAJOR && i == 3)
					hw_id |= 1ull << 60;
				if (kind == V2_BAD_CPU && i == 3)
					sid.cpu = 9;
				ck_assert_int_eq(sa_pd_writer_aux_output_hw_id(
					w, hw_id, &sid), 0);
			}
			sid = ev.sid;
			ck_assert_int_eq(sa_pd_writer_itrace_start(w,
					ev.itrace_start.pid,
					ev.itrace_start.tid, &sid), 0);
			break;
		case PERF_RECORD_AUX:
			ck_assert_int_eq(sa_pd_writer_aux(w, ev.aux.aux_offset,
					ev.aux.aux_size, ev.aux.flags,
					&sid), 0);
			break;
		case PERF_RECORD_MMAP2:
			if (!strstr(ev.mmap.filename, "etm_test_loop"))
				break;
			ck_assert_int_eq(sa_pd_writer_mmap2(w, ev.mmap.pid,
					ev.mmap.tid, ev.mmap.start,
					ev.mmap.len, ev.mmap.pgoff,
					ev.mmap.prot, ev.mmap.flags,
					ev.mmap.filename, &sid), 0);
			break;
		case SA_PD_AUXTRACE:
			ck_assert_int_eq(sa_pd_writer_auxtrace(w,
					ev.auxtrace.data, ev.auxtrace.size,
					ev.auxtrace.offset,
					ev.auxtrace.reference,
					ev.auxtrace.idx, ev.auxtrace.tid,
					ev.auxtrace.cpu), 0);
			break;
		default:
			break;
		}
	}
	ck_assert_msg(rc == 0, "%s", ei.msg);
	ck_assert_uint_eq(ncpu, 8);
	for (i = 0; i < sa_pd_nr_build_ids(pd); i++) {
		const struct sa_pd_build_id *b = sa_pd_build_id(pd, i);

		ck_assert_int_eq(sa_pd_writer_add_build_id(w, b->pid, b->misc,
				b->id, b->size, b->filename), 0);
	}
	ck_assert_int_eq(sa_pd_writer_set_arch(w, sa_pd_arch(pd)), 0);
	ck_assert_int_eq(sa_pd_writer_close(w, &ei), 0);
	sa_pd__close(pd);
}

static struct sa_hist *decode_hist(const char *path, const char *symfs,
				   int want_err, const char *want_msg)
{
	struct sa_decode_opts o = { .symfs = symfs };
	struct sa_errinfo ei = { 0 };
	struct sa_hist *h = sa_hist__new();
	int err;

	ck_assert_ptr_nonnull(h);
	err = sa_decode_file(path, &o, h, &ei);
	ck_assert_msg(err == want_err, "%s: %d %s", path, err, ei.msg);
	if (want_msg)
		ck_assert_msg(strstr(ei.msg, want_msg), "%s: %s", path,
			      ei.msg);
	if (err) {
		sa_hist__free(h);
		return NULL;
	}
	ck_assert_int_eq(sa_hist_sort(h), 0);
	return h;
}

/* Per function and per branch, the same counts. */
static void hist_compare(const struct sa_hist *a, const struct sa_hist *b)
{
	uint64_t decisions = 0;
	size_t i, j;

	ck_assert_uint_eq(sa_hist_decode(a)->instructions,
			  sa_hist_decode(b)->instructions);
	ck_assert_uint_eq(sa_hist_nr_functions(a), sa_hist_nr_functions(b));
	for (i = 0; i < sa_hist_nr_functions(a); i++) {
		const struct sa_hist_func *fa = sa_hist_function(a, i);
		const struct sa_hist_func *fb = sa_hist_function(b, i);

		ck_assert_str_eq(fa->name, fb->name);
		ck_assert_uint_eq(fa->entry, fb->entry);
		ck_assert_uint_eq(fa->insns, fb->insns);
		ck_assert_uint_eq(fa->calls, fb->calls);
		ck_assert_uint_eq(fa->nr_branches, fb->nr_branches);
		for (j = 0; j < fa->nr_branches; j++) {
			const struct sa_hist_branch *ba = &fa->branches[j];
			const struct sa_hist_branch *bb = &fb->branches[j];

			ck_assert_uint_eq(ba->addr, bb->addr);
			ck_assert_uint_eq(ba->executed, bb->executed);
			ck_assert_msg(ba->taken == bb->taken &&
				      ba->not_taken == bb->not_taken,
				      "%s+%#" PRIx64 ": %" PRIu64 "/%" PRIu64
				      " then %" PRIu64 "/%" PRIu64, fa->name,
				      ba->addr - fa->entry, ba->taken,
				      ba->not_taken, bb->taken, bb->not_taken);
			ck_assert_uint_eq(ba->nr_targets, bb->nr_targets);
			decisions += ba->taken + ba->not_taken;
		}
	}
	ck_assert_uint_gt(decisions, 100);
	if (getenv("SA_TEST_VERBOSE"))
		fprintf(stderr, "histories: %zu functions, %" PRIu64
			" instructions, %" PRIu64 " conditional decisions\n",
			sa_hist_nr_functions(a),
			sa_hist_decode(a)->instructions, decisions);
}

START_TEST(test_perf6_hw_id)
{
	char orig[PATH_MAX], v2[PATH_MAX], v1[PATH_MAX], bad[PATH_MAX];
	char symfs[PATH_MAX], link[PATH_MAX], out[PATH_MAX];
	struct branch_seq want = { 0 }, got = { 0 }, got1 = { 0 };
	struct sa_hist *ho, *h2, *hl;
	char *txt;
	int rc;

	snprintf(orig, sizeof(orig), "%s", cs_path("simpleperf/perf.data"));
	snprintf(v2, sizeof(v2), "%s/v2.data", sa_test_tmpdir());
	snprintf(v1, sizeof(v1), "%s/v1.data", sa_test_tmpdir());
	snprintf(bad, sizeof(bad), "%s/bad.data", sa_test_tmpdir());
	make_symfs(symfs, sizeof(symfs), link, sizeof(link));
	write_v2(orig, v2, V2_HW_ID);

	/* (b) the same histories from the trace IDs of the HW_ID records */
	ho = decode_hist(orig, symfs, 0, NULL);
	h2 = decode_hist(v2, symfs, 0, NULL);
	hist_compare(ho, h2);
	/* no HW_ID record (older kernel): the flagged legacy IDs are used */
	write_v2(orig, bad, V2_LEGACY);
	hl = decode_hist(bad, symfs, 0, NULL);
	hist_compare(ho, hl);
	sa_hist__free(hl);
	/* HW_ID records override whatever TRCTRACEIDR says */
	write_v2(orig, bad, V2_STALE);
	hl = decode_hist(bad, symfs, 0, NULL);
	hist_compare(ho, hl);
	sa_hist__free(hl);

	/* Without the records nothing can be attributed; bad records are
	 * refused with their offset.
	 */
	write_v2(orig, bad, V2_NO_HW_ID);
	decode_hist(bad, symfs, -SA_ERR_NODATA, "no AUX_OUTPUT_HW_ID record");
	write_v2(orig, bad, V2_BAD_MAJOR);
	decode_hist(bad, symfs, -SA_ERR_UNSUPPORTED,
		    "AUX_OUTPUT_HW_ID at offset 0x");
	write_v2(orig, bad, V2_BAD_CPU);
	decode_hist(bad, symfs, -SA_ERR_FORMAT, "names CPU 9, which has no");

	if (!peer_have("perf")) {
		fprintf(stderr, "SKIP-PART: perf not installed\n");
		goto out;
	}
	/* (a) perf script on the rewritten file */
	snprintf(out, sizeof(out), "%s/perf-script.txt", sa_test_tmpdir());
	ck_assert_int_eq(perf_script_branches(orig, symfs, out, &want), 0);
	ck_assert_uint_gt(want.nr, 100);
	rc = perf_script_branches(v2, symfs, out, &got);
	if (rc) {
		char *argv[] = { "perf", "report", "-D", "-i", v2, NULL };

		/* perf before 6.3 (CS_HEADER_CURRENT_VERSION 1) refuses
		 * header version 2 outright, and says why only with -D.
		 * The same file in version 1, IDs in TRCTRACEIDR, then
		 * checks the rest of what we wrote.
		 */
		peer_run(argv, out);
		txt = sa_test_slurp(out, NULL);
		ck_assert_ptr_nonnull(txt);
		ck_assert_msg(strstr(txt, "Unknown Header Version = 2"),
			      "perf script failed on %s, and perf report -D "
			      "does not say it is the header version:\n%s",
			      v2, txt);
		free(txt);
		fprintf(stderr, "NOTE: this perf refuses cs_etm header "
			"version 2; comparing its version 1 rewrite\n");
		ck_assert_uint_eq(got.nr, 0);
	} else {
		seq_compare("perf script: simpleperf file, then v2 file",
			    &want, &got);
	}
	write_v2(orig, v1, V1_METADATA);
	ck_assert_int_eq(perf_script_branches(v1, symfs, out, &got1), 0);
	seq_compare("perf script: simpleperf file, then v1 rewrite", &want,
		    &got1);
	if (getenv("SA_TEST_VERBOSE"))
		fprintf(stderr, "perf script: %zu taken branches\n", want.nr);
out:
	sa_hist__free(ho);
	sa_hist__free(h2);
	unlink(link);
	free(want.b);
	free(got.b);
	free(got1.b);
}
END_TEST

/* Decodes ricseclab trace1 (raw path, default registers) with @len bytes,
 * trace ID @id and the binaries at the addresses of decoderargs.txt, the
 * ones in @wrong moved by 0x1000 and @skip not loaded at all.
 */
static struct sa_dec_stats decode_fib1(size_t len, uint8_t id,
				       const char *wrong, const char *skip,
				       struct sa_etm_stats *est)
{
	static const struct {
		const char *bin;
		uint64_t addr;
	} maps[] = {
		{ "fib", 0xaaaadd370000ull },
		{ "ld-2.31.so", 0xffff9d470000ull },
		{ "libc-2.31.so", 0xffff9d2fd000ull },
	};
	struct sa_cs_raw_opts r = { .trace_id = id };
	struct sa_errinfo ei = { 0 };
	struct sa_dec_stats st;
	struct sa_image *img;
	struct sa_dec *dec;
	struct sa_elem e;
	char p[PATH_MAX];
	uint8_t *buf;
	size_t n, i;
	FILE *f;
	int rc;

	img = sa_image__new(SA_ARCH_AARCH64);
	ck_assert_ptr_nonnull(img);
	for (i = 0; i < 3; i++) {
		if (skip && !strcmp(skip, maps[i].bin))
			continue;
		snprintf(p, sizeof(p), "%s/%s", cs_path("ricseclab/fib"),
			 maps[i].bin);
		ck_assert_int_eq(sa_image_load_elf(img, p, maps[i].addr +
				 (wrong && !strcmp(wrong, maps[i].bin) ?
				  0x1000 : 0), &ei), 0);
	}
	snprintf(p, sizeof(p), "%s",
		 cs_path("ricseclab/fib/trace1/cstrace.bin"));
	f = fopen(p, "rb");
	ck_assert_ptr_nonnull(f);
	buf = malloc(1 << 20);
	n = fread(buf, 1, 1 << 20, f);
	fclose(f);
	ck_assert_uint_ge(n, len);
	r.trace_file = p;
	dec = sa_cs_raw_decoder__new(&r, buf, len, img, &ei);
	ck_assert_msg(dec != NULL, "%s", ei.msg);
	while ((rc = sa_dec_next(dec, &e)) > 0)
		;
	ck_assert_int_eq(rc, 0);
	st = *sa_dec_stats(dec);
	*est = *sa_etm_stats(dec);
	sa_dec__free(dec);
	free(buf);
	sa_image__free(img);
	return st;
}

START_TEST(test_bad_real_input)
{
	struct sa_etm_stats est, est_full;
	struct sa_dec_stats full, st;

	full = decode_fib1(14464, 0x10, NULL, NULL, &est_full);
	ck_assert_uint_gt(full.ranges, 10000);

	/* wrong trace ID: nothing at all decodes */
	st = decode_fib1(14464, 0x11, NULL, NULL, &est);
	ck_assert_uint_eq(st.ranges, 0);
	ck_assert_uint_eq(est.nacc, 0);

	/* truncated in the middle of a frame: a prefix, then the end */
	st = decode_fib1(7000 + 7, 0x10, NULL, NULL, &est);
	ck_assert_uint_gt(st.ranges, 0);
	ck_assert_uint_lt(st.ranges, full.ranges);

	/* a binary missing from the image: counted as not accessible */
	st = decode_fib1(14464, 0x10, NULL, "fib", &est);
	ck_assert_uint_gt(est.nacc, est_full.nacc);
	ck_assert_uint_lt(st.ranges, full.ranges);

	/* an image that does not match (libc 4 KiB off): the decode
	 * completes, and what it finds differs
	 */
	st = decode_fib1(14464, 0x10, "libc-2.31.so", NULL, &est);
	ck_assert(st.ranges != full.ranges || est.nacc != est_full.nacc ||
		  st.errors != full.errors);

	{
		struct sa_cs_raw_opts r = {
			.trace_file =
				cs_path("ricseclab/fib/trace1/cstrace.bin"),
			.trace_id = 0x11,
		};
		struct sa_decode_opts o = { .cs_raw = &r };
		struct sa_errinfo ei = { 0 };
		struct sa_hist *h = sa_hist__new();
		char tf[PATH_MAX];

		snprintf(tf, sizeof(tf), "%s", r.trace_file);
		r.trace_file = tf;
		ck_assert_int_eq(sa_cs_decode_raw(&o, h, &ei), -SA_ERR_NODATA);
		ck_assert_msg(strstr(ei.msg, "0x11") != NULL, "%s", ei.msg);
		sa_hist__free(h);
	}
}
END_TEST

/* Sum of num_i of trc_pkt_lister's ranges for the first buffer of @dir. */
static uint64_t peer_insns(const char *dir)
{
	char *argv[] = { "trc_pkt_lister", "-ss_dir", (char *)dir,
			 "-decode_only", "-src_addr_n", "-logstdout",
			 "-logfilename", "/dev/null", NULL };
	char line[1024];
	uint64_t n = 0;
	pid_t pid;
	FILE *f = peer_popen(argv, &pid);

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		struct ppl_range r;

		if (ppl_parse(line, &r) == 1)
			n += r.ninsn;
	}
	ck_assert_int_eq(peer_pclose(f, pid, false), 0);
	return n;
}

/* A copy of snapshot @src in the temporary directory: symlinks to every
 * file but @drop (left out) and @corrupt (copied with a junk line 3).
 */
static const char *snapshot_copy(const char *src, const char *tag,
				 const char *drop, const char *corrupt)
{
	static char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", sa_test_tmpdir(), tag);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	d = opendir(src);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		char from[PATH_MAX], to[PATH_MAX];

		if (de->d_name[0] == '.' || (drop && !strcmp(de->d_name, drop)))
			continue;
		snprintf(from, sizeof(from), "%s/%s", src, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", dir, de->d_name);
		if (corrupt && !strcmp(de->d_name, corrupt)) {
			FILE *in = fopen(from, "r"), *out = fopen(to, "w");
			char line[512];
			int n = 0;

			ck_assert_ptr_nonnull(in);
			ck_assert_ptr_nonnull(out);
			while (fgets(line, sizeof(line), in)) {
				if (++n == 3)
					fputs("this is not ini\n", out);
				fputs(line, out);
			}
			fclose(in);
			fclose(out);
			continue;
		}
		ck_assert_int_eq(symlink(from, to), 0);
	}
	closedir(d);
	return dir;
}

/* sa_cs_decode_snapshot(): the instruction count of the history equals
 * the peer's; a corrupt .ini and a missing dump behave as documented.
 */
START_TEST(test_decode_snapshot_to_history)
{
	static const char *const which[] = {
		"opencsd-snapshots/juno_r1_1", "opencsd-snapshots/TC2",
		"opencsd-snapshots-ete/001-ack_test",
	};
	char dir[PATH_MAX];
	struct sa_decode_opts o = { 0 };
	struct sa_errinfo ei = { 0 };
	const struct sa_hist_decode *hd;
	struct sa_hist *h;
	uint64_t want, full;
	const char *copy;
	int err;

	if (!peer_have("trc_pkt_lister"))
		return;
	snprintf(dir, sizeof(dir), "%s", cs_path(which[_i]));
	want = peer_insns(dir);
	ck_assert_uint_gt(want, 0);
	h = sa_hist__new();
	err = sa_cs_decode_snapshot(dir, &o, h, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	hd = sa_hist_decode(h);
	ck_assert_uint_eq(hd->instructions, want);
	ck_assert_uint_ge(hd->windows, 1);
	ck_assert_uint_gt(sa_hist_nr_functions(h), 0);
	full = hd->instructions;
	sa_hist__free(h);
	if (_i)
		return;

	/* corrupt trace.ini: an error naming file and line */
	copy = snapshot_copy(dir, "corrupt", NULL, "trace.ini");
	h = sa_hist__new();
	err = sa_cs_decode_snapshot(copy, &o, h, &ei);
	ck_assert_int_eq(err, -SA_ERR_FORMAT);
	ck_assert_msg(strstr(ei.msg, "trace.ini:3") != NULL, "%s", ei.msg);
	sa_hist__free(h);

	/* missing memory dump: best effort, the loss is counted */
	copy = snapshot_copy(dir, "nodump", "kernel_dump.bin", NULL);
	h = sa_hist__new();
	err = sa_cs_decode_snapshot(copy, &o, h, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	hd = sa_hist_decode(h);
	ck_assert_uint_lt(hd->instructions, full);
	ck_assert_uint_gt(hd->errors + hd->lost_bytes + hd->nr_error_list, 0);
	sa_hist__free(h);

	/* missing trace buffer: a clear error */
	copy = snapshot_copy(dir, "notrace", "cstrace.bin", NULL);
	h = sa_hist__new();
	err = sa_cs_decode_snapshot(copy, &o, h, &ei);
	ck_assert_int_eq(err, -ENOENT);
	ck_assert_msg(strstr(ei.msg, "cstrace.bin") != NULL, "%s", ei.msg);
	sa_hist__free(h);
}
END_TEST


/* What trc_pkt_lister says about synchronisation in buffer @bname of
 * @dir: whether any trace ID synchronised (an element other than NO_SYNC
 * and EO_TRACE), whether it stopped at a fatal error, and the bytes lost
 * before each ID synchronised, counted from its lines: a NO_SYNC opens a
 * span at its index, the ID's next other element closes it (at @len when
 * none does); once some ID is synchronised a span counts only up to
 * there (the other IDs' frames are interleaved), and bytes are counted
 * once.  When no ID synchronised at all, the whole buffer is lost.
 */
struct peer_sync {
	bool synced, fatal;
	uint64_t lost;
};

static struct peer_sync peer_sync_of(const char *dir, const char *bname,
				     uint64_t len)
{
	char *argv[] = { "trc_pkt_lister", "-ss_dir", (char *)dir,
			 "-decode_only", "-src_addr_n", "-src_name",
			 (char *)bname, "-logstdout",
			 "-logfilename", "/dev/null", NULL };
	uint64_t open_at[128], first_sync = UINT64_MAX, until = 0;
	struct peer_sync ps = { 0 };
	char line[1024];
	unsigned int id, c;
	pid_t pid;
	FILE *f = peer_popen(argv, &pid);

	ck_assert_ptr_nonnull(f);
	for (c = 0; c < 128; c++)
		open_at[c] = UINT64_MAX;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long idx;
		bool nosync, eot;

		if (strstr(line, "Data Path fatal error"))
			ps.fatal = true;
		if (sscanf(line, "Idx:%llu; ID:%x;", &idx, &id) != 2 ||
		    !strstr(line, "OCSD_GEN_TRC_ELEM_"))
			continue;
		id &= 0x7f;
		nosync = strstr(line, "ELEM_NO_SYNC") != NULL;
		eot = strstr(line, "ELEM_EO_TRACE") != NULL ||
		      (nosync && strstr(line, "end-of-trace"));
		if (nosync && !eot) {
			if (open_at[id] == UINT64_MAX)
				open_at[id] = idx;
			continue;
		}
		if (eot)
			continue;
		ps.synced = true;
		if (idx < first_sync)
			first_sync = idx;
		if (open_at[id] != UINT64_MAX) {
			uint64_t from = open_at[id] > until ? open_at[id] :
							       until;
			uint64_t to = idx < first_sync ? idx : first_sync;

			if (to > from) {
				ps.lost += to - from;
				until = to;
			}
			open_at[id] = UINT64_MAX;
		}
	}
	ck_assert_int_eq(peer_pclose(f, pid, false), 0);
	/* nothing synchronised: nothing decoded, all of it is lost */
	if (!ps.synced) {
		ps.lost = len;
		return ps;
	}
	for (c = 0; c < 128; c++) {
		uint64_t from, to;

		if (open_at[c] == UINT64_MAX)
			continue;
		from = open_at[c] > until ? open_at[c] : until;
		to = len < first_sync ? len : first_sync;
		if (to > from) {
			ps.lost += to - from;
			until = to;
		}
	}
	return ps;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Our lost-before-sync bytes for buffer 0 of @dir, and the ranges. */
static uint64_t our_unsync(const char *dir, uint64_t *ranges)
{
	struct sa_errinfo ei = { 0 };
	struct sa_cs_snapshot *ss = sa_cs_snapshot__open(dir, &ei);
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_dec *dec;
	struct sa_elem e;
	uint64_t lost = 0, n;
	int rc;

	ck_assert_msg(ss != NULL, "%s: %s", dir, ei.msg);
	ck_assert_int_ge(sa_cs_snapshot_load_image(ss, img, &ei), 0);
	dec = sa_cs_snapshot_decoder(ss, 0, img, 0, &ei);
	ck_assert_msg(dec != NULL, "%s: %s", dir, ei.msg);
	while ((rc = sa_dec_next(dec, &e)) > 0)
		if (e.kind == SA_ELEM_GAP && e.error == -SA_ERR_NOSYNC)
			lost += e.lost_bytes;
	ck_assert_int_eq(rc, 0);
	n = sa_etm_stats(dec)->unsync_bytes;
	ck_assert_uint_eq(lost, n);
	*ranges = sa_dec_stats(dec)->ranges;
	sa_dec__free(dec);
	sa_image__free(img);
	sa_cs_snapshot__free(ss);
	return n;
}

/* Honest losses: a buffer that never synchronises (cut before the first
 * trace ID synchronised; every bit flipped) is lost bytes and a failed
 * decode, not an empty success; the unsynchronised prefix of a good
 * buffer is lost bytes too.  Whether the peer synchronised, and where,
 * comes from trc_pkt_lister on the same bytes.
 */
START_TEST(test_unsync_vs_peer)
{
	static const char *const which[] = {
		"opencsd-snapshots/juno_r1_1", "opencsd-snapshots/TC2",
		"opencsd-snapshots/Snowball",
	};
	char dir[PATH_MAX], path[PATH_MAX];
	struct sa_decode_opts o = { 0 };
	struct sa_errinfo ei = { 0 };
	const struct sa_hist_decode *hd;
	struct sa_cs_snapshot *ss;
	struct peer_sync ps;
	struct sa_hist *h;
	const char *copy, *bname, *bfile = "cstrace.bin";
	uint8_t *buf;
	size_t len, cut, i;
	uint64_t ranges, lost;
	FILE *f;
	int err;

	if (!peer_have("trc_pkt_lister")) {
		fprintf(stderr, "SKIP-PART: trc_pkt_lister not installed\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s", cs_path(which[_i]));
	ss = sa_cs_snapshot__open(dir, &ei);
	ck_assert_msg(ss != NULL, "%s", ei.msg);
	bname = sa_cs_snapshot_buffer_name(ss, 0);
	ck_assert_ptr_nonnull(bname);
	snprintf(path, sizeof(path), "%s/%s", dir, bfile);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	buf = malloc(1 << 20);
	ck_assert_ptr_nonnull(buf);
	len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	ck_assert_uint_gt(len, 64);

	/* the whole buffer: the peer synchronises; the bytes before it
	 * did, per trace ID, are ours too
	 */
	ps = peer_sync_of(dir, bname, len - len % 16);
	ck_assert(ps.synced);
	lost = our_unsync(dir, &ranges);
	ck_assert_uint_gt(ranges, 0);
	ck_assert_msg(lost == ps.lost, "%s: %" PRIu64 " bytes lost before "
		      "sync, the peer's listing says %" PRIu64, which[_i],
		      lost, ps.lost);
	if (getenv("SA_TEST_VERBOSE"))
		fprintf(stderr, "%s: %" PRIu64 " bytes before sync\n",
			which[_i], lost);

	/* cut where the peer has not synchronised yet: the largest
	 * 16-byte multiple at which it lists no synchronised element
	 * (bisection: more bytes never unsynchronise an ID)
	 */
	{
		size_t lo = 16, hi = len - len % 16, mid;
		int step = 0;

		ck_assert(hi > lo);
		while (hi - lo > 16) {
			mid = (lo + hi) / 2 & ~(size_t)15;
			snprintf(path, sizeof(path), "cut%d_%d", step++, _i);
			copy = snapshot_copy(dir, path, bfile, NULL);
			snprintf(path, sizeof(path), "%s/%s", copy, bfile);
			write_file(path, buf, mid);
			ps = peer_sync_of(copy, bname, mid);
			if (ps.synced)
				hi = mid;
			else
				lo = mid;
		}
		cut = lo;
	}

	snprintf(path, sizeof(path), "last%d", _i);
	copy = snapshot_copy(dir, path, bfile, NULL);
	snprintf(path, sizeof(path), "%s/%s", copy, bfile);
	write_file(path, buf, cut);
	ps = peer_sync_of(copy, bname, cut);
	ck_assert_msg(!ps.synced, "%s: peer synchronised in %zu bytes",
		      which[_i], cut);
	lost = our_unsync(copy, &ranges);
	ck_assert_uint_eq(ranges, 0);
	ck_assert_msg(lost == ps.lost && lost > 0, "%s cut at %zu: we lose "
		      "%" PRIu64 ", the peer's listing %" PRIu64, which[_i],
		      cut, lost, ps.lost);
	h = sa_hist__new();
	err = sa_cs_decode_snapshot(copy, &o, h, &ei);
	ck_assert_msg(err == -SA_ERR_NOSYNC, "%d %s", err, ei.msg);
	hd = sa_hist_decode(h);
	ck_assert_uint_eq(hd->instructions, 0);
	ck_assert_uint_ge(hd->lost_bytes, lost);
	sa_hist__free(h);

	/* every bit flipped: the peer decodes nothing; all of it is lost */
	for (i = 0; i < len; i++)
		buf[i] ^= 0xff;
	snprintf(path, sizeof(path), "flip%d", _i);
	copy = snapshot_copy(dir, path, bfile, NULL);
	snprintf(path, sizeof(path), "%s/%s", copy, bfile);
	write_file(path, buf, len);
	ps = peer_sync_of(copy, bname, len);
	if (ps.synced) {
		fprintf(stderr, "SKIP-PART: %s: the peer syncs on the "
			"flipped buffer\n", which[_i]);
	} else {
		h = sa_hist__new();
		err = sa_cs_decode_snapshot(copy, &o, h, &ei);
		ck_assert_msg(err == -SA_ERR_NOSYNC || err == -SA_ERR_DECODE,
			      "%d %s", err, ei.msg);
		hd = sa_hist_decode(h);
		ck_assert_uint_eq(hd->instructions, 0);
		ck_assert_uint_eq(hd->lost_bytes, len);
		sa_hist__free(h);
	}
	free(buf);
	sa_cs_snapshot__free(ss);
}
END_TEST

/* A source whose device .ini is missing: the peer decodes the others,
 * and so do we, range for range and branch for branch; the missing one
 * is counted.
 */
START_TEST(test_missing_source_device)
{
	char dir[PATH_MAX], line[1024];
	char *argv[] = { "trc_pkt_lister", "-ss_dir", dir, "-decode_only",
			 "-src_addr_n", "-logstdout", "-logfilename",
			 "/dev/null", NULL };
	struct sa_decode_opts o = { 0 };
	struct sa_errinfo ei = { 0 };
	struct sa_cs_snapshot *ss;
	struct sa_image *img;
	struct sa_hist *h;
	const char *copy;
	uint64_t id11 = 0;
	pid_t pid;
	FILE *f;
	int err;

	if (!peer_have("trc_pkt_lister")) {
		fprintf(stderr, "SKIP-PART: trc_pkt_lister not installed\n");
		return;
	}
	/* device_7.ini is ETM_1, trace ID 0x11, which has ranges */
	snprintf(dir, sizeof(dir), "%s",
		 cs_path("opencsd-snapshots/juno_r1_1"));
	f = peer_popen(argv, &pid);
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		id11 += strstr(line, "ID:11;") &&
			strstr(line, "INSTR_RANGE");
	ck_assert_int_eq(peer_pclose(f, pid, false), 0);
	ck_assert_uint_gt(id11, 0);

	copy = snapshot_copy(dir, "nodev", "device_7.ini", NULL);
	ss = sa_cs_snapshot__open(copy, &ei);
	ck_assert_msg(ss != NULL, "%s", ei.msg);
	ck_assert_uint_eq(sa_cs_snapshot_nr_missing_sources(ss), 1);
	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_int_ge(sa_cs_snapshot_load_image(ss, img, &ei), 0);
	/* trace ID per range, counts and histories as the peer's */
	ck_assert_uint_gt(compare_buffer("juno_r1_1 without ETM_1", copy, ss,
					 0, img, NULL, NULL, 0, false), 0);
	sa_image__free(img);
	sa_cs_snapshot__free(ss);

	h = sa_hist__new();
	err = sa_cs_decode_snapshot(copy, &o, h, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert_uint_eq(sa_hist_decode(h)->missing_sources, 1);
	ck_assert_uint_eq(sa_hist_decode(h)->instructions, peer_insns(copy));
	ck_assert_uint_lt(sa_hist_decode(h)->instructions, peer_insns(dir));
	sa_hist__free(h);
}
END_TEST

static Suite *etm_traces_suite(void)
{
	Suite *s = suite_create("etm-traces");
	TCase *tc = tcase_create("snapshots");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_snapshot_vs_trc_pkt_lister, 0,
			    NR_SNAPSHOTS);
	suite_add_tcase(s, tc);
	tc = tcase_create("ricseclab");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_ricseclab_fib, 0, 4);
	suite_add_tcase(s, tc);
	tc = tcase_create("history");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_decode_snapshot_to_history, 0, 3);
	tcase_add_loop_test(tc, test_unsync_vs_peer, 0, 3);
	tcase_add_test(tc, test_missing_source_device);
	suite_add_tcase(s, tc);
	tc = tcase_create("bad-input");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_bad_real_input);
	suite_add_tcase(s, tc);
	tc = tcase_create("perf");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_simpleperf_vs_perf_script);
	tcase_add_test(tc, test_perf6_hw_id);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	sa_test_require_shared("traces/coresight");
	return sa_test_run(etm_traces_suite());
}
