// SPDX-License-Identifier: BSD-2-Clause
/*
 * The 'session' suite, decode-cache: binaries analysed once for many
 * windows (sa_image_cache, <sensor/image.h>).
 *
 * Windows of two runs of a workload (each its own address-space layout)
 * are recorded by the emulated sensor, then decoded twice: each window
 * on its own (a fresh analysis of every binary, as before the cache), and
 * all through one cache.  The histories' JSON, and the anomalies of a
 * baseline learnt from the first run compared with the second run's
 * windows (text and JSON lines, every candidate), must be the same bytes.
 * The cache's counters must show each binary of a run analysed once for
 * all its windows: the opens, DWARF sessions and site maps of the first
 * window, none after.
 *
 * Usage: test_cache WORKLOAD (wl_branches-pie)
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/emu.h"
#include "sensor/hist.h"
#include "sensor/image.h"
#include "sensor/session.h"

#include "testutil.h"

#define NR_RUNS 2
#define NR_WIN 4		/* windows per run */
#define WIN_INSNS 1500

static const char *wl_path;
static char win[NR_RUNS][NR_WIN][4200];

static void record(void)
{
	char *argv[] = { (char *)wl_path, "1000000", NULL };
	struct sa_emu_opts eo = { .max_insns = WIN_INSNS };
	struct sa_errinfo ei;
	int r, w;

	for (r = 0; r < NR_RUNS; r++) {
		struct sa_emu *emu = sa_emu__spawn(argv, &ei);
		pid_t pid;

		ck_assert_msg(emu, "%s", ei.msg);
		pid = sa_emu_pid(emu);
		for (w = 0; w < NR_WIN; w++) {
			snprintf(win[r][w], sizeof(win[r][w]), "%s/w%d-%d.data",
				 sa_test_tmpdir(), r, w);
			ck_assert_msg(sa_emu_window(emu, &eo, win[r][w], NULL,
						    &ei) == 0, "%s", ei.msg);
		}
		sa_emu__free(emu);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static struct sa_hist *decode(const char *path, struct sa_image_cache *c)
{
	struct sa_decode_opts o = { .cache = c };
	struct sa_errinfo ei;
	struct sa_hist *h = sa_hist__new();

	ck_assert_ptr_nonnull(h);
	ck_assert_msg(sa_decode_file(path, &o, h, &ei) == 0, "%s: %s", path,
		      ei.msg);
	ck_assert_uint_gt(sa_hist_decode(h)->instructions, 0);
	return h;
}

static char *json_of(const struct sa_hist *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(sa_hist_write_json(h, f, 0), 0);
	fclose(f);
	return buf;
}

/* The anomalies of run 1's windows against a baseline of run 0's. */
static char *anomalies(struct sa_hist *h[NR_RUNS][NR_WIN], const char *db)
{
	struct sa_detect_opts dopts = { 0 };
	struct sa_anomaly_list *l = NULL;
	struct sa_errinfo ei;
	struct sa_baseline *bl;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	bl = sa_baseline__open(db, SA_BASELINE_CREATE, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	ck_assert_msg(sa_baseline_add(bl, h[0], NR_WIN, &ei) == 0, "%s",
		      ei.msg);
	ck_assert_msg(sa_anomaly_detect(bl, h[1], NR_WIN, &dopts, &l,
					&ei) == 0, "%s", ei.msg);
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(sa_anomaly_write_text(l, f, SA_ANOM_OUT_ALL), 0);
	ck_assert_int_eq(sa_anomaly_write_jsonl(l, f, "windows",
						SA_ANOM_OUT_ALL), 0);
	fclose(f);
	ck_assert_uint_gt(sa_anomaly_list_nr_tests(l), 0);
	sa_anomaly_list__free(l);
	sa_baseline__free(bl);
	return buf;
}

START_TEST(test_same_output_built_once)
{
	struct sa_hist *plain[NR_RUNS][NR_WIN], *cached[NR_RUNS][NR_WIN];
	struct sa_image_cache_stats st0, st0e, st1, st;
	struct sa_image_cache *c;
	char *a, *b;
	int r, w;

	sa_test_require_ptrace();
	record();
	c = sa_image_cache__new();
	ck_assert_ptr_nonnull(c);
	for (r = 0; r < NR_RUNS; r++) {
		for (w = 0; w < NR_WIN; w++) {
			plain[r][w] = decode(win[r][w], NULL);
			cached[r][w] = decode(win[r][w], c);
			if (w == 0)
				sa_image_cache_stats(c, r ? &st1 : &st0);
			if (!r && w == NR_WIN - 1)
				sa_image_cache_stats(c, &st0e);
			a = json_of(plain[r][w]);
			b = json_of(cached[r][w]);
			ck_assert_msg(!strcmp(a, b), "%s: the histories differ "
				      "with the cache", win[r][w]);
			free(a);
			free(b);
		}
	}
	sa_image_cache_stats(c, &st);
	fprintf(stderr, "cache: window 0: %lu builds, %lu DWARF, %lu site "
		"maps; run 1: %lu, %lu, %lu; all %d windows: %lu lookups, "
		"%lu hits, %lu builds, %lu re-biased, %lu DWARF, %lu site "
		"maps\n",
		(unsigned long)st0.builds, (unsigned long)st0.dwarf_opens,
		(unsigned long)st0.site_maps, (unsigned long)st1.builds,
		(unsigned long)st1.dwarf_opens, (unsigned long)st1.site_maps,
		NR_RUNS * NR_WIN, (unsigned long)st.lookups,
		(unsigned long)st.hits, (unsigned long)st.builds,
		(unsigned long)st.rebiased, (unsigned long)st.dwarf_opens,
		(unsigned long)st.site_maps);
	/* the program, libc and ld.so: several binaries */
	ck_assert_uint_ge(st0.builds, 2);
	ck_assert_uint_gt(st0.site_maps, 0);
	ck_assert_uint_gt(st0.dwarf_opens, 0);
	/*
	 * Later windows of a run add nothing; the second run (another
	 * layout: ASLR) re-biases the first run's analyses, opening no
	 * file and no DWARF again.
	 */
	ck_assert_uint_eq(st0e.builds, st0.builds);
	ck_assert_uint_eq(st0e.dwarf_opens, st0.dwarf_opens);
	ck_assert_uint_eq(st.builds, st0.builds);
	ck_assert_uint_eq(st.dwarf_opens, st0.dwarf_opens);
	ck_assert_uint_eq(st.lookups, NR_RUNS * NR_WIN * st0.lookups);
	ck_assert_uint_eq(st.hits, st.lookups - st.builds - st.rebiased);
	ck_assert_uint_eq(st.entries, st.builds + st.rebiased);
	ck_assert_uint_le(st.rebiased, st0.builds);
	ck_assert_uint_le(st.site_maps, NR_RUNS * st0.site_maps * 2);
	/* the decoding of later windows of run 0 built no site map that
	 * window 0 had built: a site map per function, not per window
	 */
	ck_assert_uint_lt(st.site_maps, NR_RUNS * NR_WIN * st0.site_maps);

	a = anomalies(plain, sa_test_path("plain.db"));
	b = anomalies(cached, sa_test_path("cached.db"));
	ck_assert_msg(!strcmp(a, b), "anomalies differ with the cache:\n"
		      "%s\n---\n%s", a, b);
	free(a);
	free(b);
	for (r = 0; r < NR_RUNS; r++)
		for (w = 0; w < NR_WIN; w++) {
			sa_hist__free(plain[r][w]);
			sa_hist__free(cached[r][w]);
		}
	sa_image_cache__free(c);
}
END_TEST

/* Images hold their binaries: the cache may go first. */
START_TEST(test_refcount)
{
	struct sa_image_cache_stats st;
	struct sa_image_cache *c = sa_image_cache__new();
	struct sa_image *img1 = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_image *img2 = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	const struct sa_sym *s1, *s2;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(sa_image_set_cache(img1, c), 0);
	ck_assert_int_eq(sa_image_set_cache(img2, c), 0);
	ck_assert_msg(sa_image_load_elf(img1, wl_path, 0x555555554000ull,
					&ei) == 0, "%s", ei.msg);
	/* too late for a cache once a binary is in */
	ck_assert_int_eq(sa_image_set_cache(img1, c), -SA_ERR_INVAL);
	sa_image_cache__free(c);	/* the images keep it */
	ck_assert_msg(sa_image_load_elf(img2, wl_path, 0x555555554000ull,
					&ei) == 0, "%s", ei.msg);
	sa_image_cache_stats(c, &st);
	ck_assert_uint_eq(st.lookups, 2);
	ck_assert_uint_eq(st.builds, 1);
	ck_assert_uint_eq(st.hits, 1);
	s1 = sa_image_find_symbol(img1, "decide");
	s2 = sa_image_find_symbol(img2, "decide");
	ck_assert_ptr_nonnull(s1);
	ck_assert_ptr_eq(s1, s2);	/* one analysis */
	sa_image__free(img1);
	ck_assert_ptr_eq(sa_image_symbolize(img2, s2->start), s2);
	sa_image__free(img2);	/* frees the cache and the binary (ASan) */
}
END_TEST

/* The one build-id reader against readelf's. */
START_TEST(test_build_id)
{
	char cmd[4400], want[128] = "", have[2 * SA_BUILD_ID_MAX + 1];
	uint8_t id[SA_BUILD_ID_MAX];
	FILE *p;
	int n;

	if (!sa_test_have("readelf"))
		ck_abort_msg("readelf is not installed (binutils)");
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | sed -n "
		 "'s/.*Build ID: *\\([0-9a-f]*\\).*/\\1/p'", wl_path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(want, sizeof(want), p));
	pclose(p);
	want[strcspn(want, "\n")] = '\0';
	n = sa_build_id_read(wl_path, id, sizeof(id));
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(sa_build_id_str(id, (size_t)n, have, sizeof(have)),
			 want);
	ck_assert_int_eq(sa_build_id_read("/nonexistent/x", id, sizeof(id)),
			 -ENOENT);
	ck_assert_int_eq(sa_build_id_read("/etc/passwd", id, sizeof(id)),
			 -SA_ERR_FORMAT);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("decode-cache");
	TCase *tc = tcase_create("cache");

	if (argc < 2) {
		fprintf(stderr, "usage: %s WORKLOAD\n", argv[0]);
		return 2;
	}
	wl_path = argv[1];
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_build_id);
	tcase_add_test(tc, test_refcount);
	tcase_add_test(tc, test_same_output_built_once);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
