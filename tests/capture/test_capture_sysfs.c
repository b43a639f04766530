// SPDX-License-Identifier: BSD-2-Clause
/*
 * Check suite 'capture' (sysfs part): the fake PMU trees of
 * ../shared/sysfs give the exact perf_event_attr bits.
 *
 * Expected values are written here from the bit positions and caps that
 * ../shared/sysfs/README.md documents (taken there from the kernel
 * sources and CPUID dumps), not from the parser under test.  Where a real
 * `perf record -vvv` log exists (README R6, R7) its value is checked too.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "testutil.h"
#include "sensor/capture.h"

/* README "intel_pt: format/": */
#define PT_PT		(1ull << 0)	/* config:0 */
#define PT_CYC		(1ull << 1)	/* config:1 */
#define PT_PWR_EVT	(1ull << 4)	/* config:4 */
#define PT_MTC		(1ull << 9)	/* config:9 */
#define PT_TSC		(1ull << 10)	/* config:10 */
#define PT_NORETCOMP	(1ull << 11)	/* config:11 */
#define PT_PTW		(1ull << 12)	/* config:12 */
#define PT_BRANCH	(1ull << 13)	/* config:13 */
#define PT_MTC_PERIOD(v)  ((uint64_t)(v) << 14)	/* config:14-17 */
#define PT_CYC_THRESH(v)  ((uint64_t)(v) << 19)	/* config:19-22 */
#define PT_PSB_PERIOD(v)  ((uint64_t)(v) << 24)	/* config:24-27 */
#define PT_EVENT	(1ull << 31)	/* config:31 */
#define PT_NOTNT	(1ull << 55)	/* config:55 */

/* README "cs_etm": */
#define ETM_BB		(1ull << 8)	/* branch_broadcast config:8 */
#define ETM_CYCACC	(1ull << 12)	/* cycacc config:12 */
#define ETM_CTXID	(1ull << 14)	/* contextid config:14 */
#define ETM_TS		(1ull << 28)	/* timestamp config:28 */
#define ETM_RETSTACK	(1ull << 29)	/* retstack config:29 */

static const char *variants[] = { "intel_pt", "intel_pt-skylake",
				   "intel_pt-icelake",
				   "intel_pt-sapphirerapids",
				   "intel_pt-alderlake-n" };

/* The variant directories are named intel_pt-<cpu>; the PMU inside a root
 * is always "intel_pt", so each one is linked into its own root.
 */
static struct sa_cap_pmu *open_variant(const char *variant)
{
	char root[PATH_MAX + 64], link[PATH_MAX + 96];
	struct sa_errinfo ei;
	struct sa_cap_pmu *p;
	const char *src = sa_test_shared("sysfs");

	ck_assert_ptr_nonnull(src);
	snprintf(root, sizeof(root), "%s/%s", sa_test_tmpdir(), variant);
	mkdir(root, 0755);
	snprintf(link, sizeof(link), "%s/intel_pt", root);
	if (access(link, F_OK)) {
		char target[PATH_MAX + 64];

		snprintf(target, sizeof(target), "%s/%s", src, variant);
		ck_assert_int_eq(symlink(target, link), 0);
	}
	p = sa_cap_pmu__open(root, "intel_pt", &ei);
	ck_assert_msg(p != NULL, "%s: %s", variant, ei.msg);
	return p;
}

static uint64_t build(struct sa_cap_pmu *p, const char *terms, int *err,
		      struct sa_errinfo *ei)
{
	struct sa_cap_attr_opts o = { .terms = terms };
	struct perf_event_attr a;

	*err = sa_cap_attr_build(p, &o, &a, ei);
	return a.config;
}

/* perf's default intel_pt config for caps mtc_periods 0x249 and
 * psb_periods 0x3f (every variant): "tsc,mtc,mtc_period=3,psb_period=3,
 * pt,branch".
 */
static const uint64_t pt_default = PT_TSC | PT_MTC | PT_MTC_PERIOD(3) |
				   PT_PSB_PERIOD(3) | PT_PT | PT_BRANCH;

START_TEST(tc_pt_discovery)
{
	struct sa_cap_pmu *p = open_variant(variants[_i]);
	uint64_t v;
	uint32_t n, d;

	ck_assert_uint_eq(sa_cap_pmu_type(p), 9);
	ck_assert_uint_eq(sa_cap_pmu_nr_addr_filters(p), 2);
	ck_assert_uint_eq(sa_cap_pmu_nr_formats(p), 14);
	ck_assert_int_eq(sa_cap_pmu_cap(p, "mtc_periods", &v), 0);
	ck_assert_uint_eq(v, 0x249);
	ck_assert_int_eq(sa_cap_pmu_cap(p, "psb_periods", &v), 0);
	ck_assert_uint_eq(v, 0x3f);
	ck_assert_int_eq(sa_cap_pmu_cap(p, "num_address_ranges", &v), 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(sa_cap_pmu_cap(p, "no_such_cap", &v),
			 -SA_ERR_NOTFOUND);
	ck_assert_int_eq(sa_cap_pmu_tsc_art_ratio(p, &n, &d), 0);
	ck_assert_uint_eq(d, 2);
	ck_assert_int_eq(sa_cap_pmu_max_nonturbo_ratio(p, &n), 0);
	if (!strcmp(variants[_i], "intel_pt-icelake")) {
		ck_assert_int_eq(sa_cap_pmu_cap(p, "cycle_thresholds", &v), 0);
		ck_assert_uint_eq(v, 0x1fff);
		ck_assert_int_eq(sa_cap_pmu_tsc_art_ratio(p, &n, &d), 0);
		ck_assert_uint_eq(n, 160);
		ck_assert_int_eq(sa_cap_pmu_max_nonturbo_ratio(p, &n), 0);
		ck_assert_uint_eq(n, 20);
	}
	sa_cap_pmu__free(p);
}
END_TEST

START_TEST(tc_pt_defaults)
{
	struct sa_cap_pmu *p = open_variant(variants[_i]);
	struct sa_cap_attr_opts o = { 0 };
	struct perf_event_attr a;
	struct sa_errinfo ei;

	ck_assert_int_eq(sa_cap_attr_build(p, &o, &a, &ei), 0);
	ck_assert_uint_eq(a.config, pt_default);
	/* README R6: real perf -vvv -e intel_pt// showed config 0x300e601. */
	ck_assert_uint_eq(a.config, 0x300e601);
	ck_assert_uint_eq(a.type, 9);
	ck_assert_uint_eq(a.size, sizeof(a));
	ck_assert(a.exclude_kernel);
	ck_assert(a.exclude_hv);
	ck_assert(a.disabled);
	ck_assert(a.sample_id_all);
	ck_assert(!a.inherit);
	ck_assert_uint_eq(a.sample_period, 1);
	ck_assert_uint_eq(a.sample_type, PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			  PERF_SAMPLE_TIME | PERF_SAMPLE_IDENTIFIER);

	o.kernel = true;
	o.per_cpu = true;
	ck_assert_int_eq(sa_cap_attr_build(p, &o, &a, &ei), 0);
	ck_assert(!a.exclude_kernel);
	ck_assert(a.inherit);
	ck_assert(a.sample_type & PERF_SAMPLE_CPU);
	sa_cap_pmu__free(p);
}
END_TEST

START_TEST(tc_pt_terms)
{
	struct sa_cap_pmu *p = open_variant(variants[_i]);
	struct sa_errinfo ei;
	int err;
	uint64_t c;

	/* The example leaves the defaults as they are. */
	c = build(p, "psb_period=3,mtc=1,cyc=0,noretcomp=0", &err, &ei);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(c, pt_default);

	c = build(p, "psb_period=5,mtc_period=6,cyc,noretcomp=1", &err, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert_uint_eq(c, PT_TSC | PT_MTC | PT_MTC_PERIOD(6) |
			  PT_PSB_PERIOD(5) | PT_PT | PT_BRANCH | PT_CYC |
			  PT_NORETCOMP);

	c = build(p, "mtc=0,tsc=0,psb_period=0,mtc_period=0", &err, &ei);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(c, PT_PT | PT_BRANCH);

	/* Raw config overrides everything before it, as in perf. */
	c = build(p, "config=0x2001", &err, &ei);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(c, PT_PT | PT_BRANCH);

	/* psb_periods 0x3f: 0-5 (README R5: 'Valid values are: 0-5'). */
	build(p, "psb_period=6", &err, &ei);
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "Valid values are: 0-5"));
	/* mtc_periods 0x249: 0,3,6,9. */
	build(p, "mtc_period=2", &err, &ei);
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "Valid values are: 0,3,6,9"));
	/* Does not fit config:24-27. */
	build(p, "psb_period=16", &err, &ei);
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	build(p, "psb_period=3,nosuchterm=1", &err, &ei);
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "nosuchterm"));
	ck_assert_ptr_nonnull(strstr(ei.msg, "psb_period"));
	build(p, "psb_period=x", &err, &ei);
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	ck_assert_uint_eq(ei.offset, 11);
	sa_cap_pmu__free(p);
}
END_TEST

/* Terms that depend on per-CPU caps (README caps table). */
START_TEST(tc_pt_caps)
{
	struct sa_cap_pmu *p;
	struct sa_errinfo ei;
	int err;
	uint64_t c;

	p = open_variant("intel_pt-skylake");
	build(p, "ptw=1", &err, &ei);		/* ptwrite 0 */
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "caps/ptwrite"));
	build(p, "notnt=1", &err, &ei);		/* tnt_disable 0 */
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	build(p, "event=1", &err, &ei);		/* event_trace 0 */
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	build(p, "pwr_evt=1", &err, &ei);	/* power_event_trace 0 */
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	/* cycle_thresholds 3fff: 0-13. */
	c = build(p, "cyc,cyc_thresh=13", &err, &ei);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(c, pt_default | PT_CYC | PT_CYC_THRESH(13));
	sa_cap_pmu__free(p);

	p = open_variant("intel_pt-icelake");	/* cycle_thresholds 1fff */
	build(p, "cyc,cyc_thresh=13", &err, &ei);
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "Valid values are: 0-12"));
	sa_cap_pmu__free(p);

	p = open_variant("intel_pt-sapphirerapids");	/* 3f, ptwrite 1 */
	build(p, "cyc,cyc_thresh=6", &err, &ei);
	ck_assert_int_eq(err, -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "Valid values are: 0-5"));
	c = build(p, "ptw=1", &err, &ei);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(c, pt_default | PT_PTW);
	sa_cap_pmu__free(p);

	p = open_variant("intel_pt-alderlake-n");	/* everything */
	c = build(p, "notnt=1,event=1,pwr_evt=1,ptw=1", &err, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert_uint_eq(c, pt_default | PT_NOTNT | PT_EVENT | PT_PWR_EVT |
			  PT_PTW);
	sa_cap_pmu__free(p);
}
END_TEST

static struct sa_cap_pmu *open_etm(const char *root)
{
	struct sa_errinfo ei;
	struct sa_cap_pmu *p = sa_cap_pmu__open(root, "cs_etm", &ei);

	ck_assert_msg(p != NULL, "%s", ei.msg);
	return p;
}

START_TEST(tc_etm)
{
	struct sa_cap_pmu *p = open_etm(sa_test_shared("sysfs"));
	struct sa_cap_attr_opts o = { 0 };
	const struct sa_cap_etm_cpu *c;
	struct perf_event_attr a;
	struct sa_errinfo ei;
	uint64_t h;

	ck_assert_uint_eq(sa_cap_pmu_type(p), 7);
	ck_assert_uint_eq(sa_cap_pmu_nr_addr_filters(p), 8);
	ck_assert_uint_eq(sa_cap_pmu_nr_sinks(p), 3);
	ck_assert_int_eq(sa_cap_pmu_sink(p, "tmc_etr0", &h), 0);
	ck_assert_uint_eq(h, 0xa6509eae);
	ck_assert_uint_eq(sa_cap_pmu_nr_etm_cpus(p), 6);
	c = sa_cap_pmu_etm_cpu(p, 1);
	ck_assert_int_eq(c->cpu, 1);
	ck_assert_uint_eq(c->trcidr[1], 0x4100f400);	/* A72 */
	ck_assert_uint_eq(c->trcidr[0], 0x28000ea1);
	ck_assert_uint_eq(c->trcidr[2], 0x488);
	ck_assert_uint_eq(c->trcauthstatus, 0xcc);
	ck_assert_uint_eq(c->traceid, 0x12);
	c = sa_cap_pmu_etm_cpu(p, 5);
	ck_assert_uint_eq(c->trcidr[1], 0x4100f403);	/* A53 */
	ck_assert_uint_eq(c->traceid, 0x1a);

	/* Per-thread: perf sets no default terms. */
	ck_assert_int_eq(sa_cap_attr_build(p, &o, &a, &ei), 0);
	ck_assert_uint_eq(a.type, 7);
	ck_assert_uint_eq(a.config, 0);
	/* Per-CPU: timestamp and contextid, as cs_etm_recording_options. */
	o.per_cpu = true;
	ck_assert_int_eq(sa_cap_attr_build(p, &o, &a, &ei), 0);
	ck_assert_uint_eq(a.config, ETM_TS | ETM_CTXID);

	o.per_cpu = false;
	o.terms = "timestamp=1,contextid=1,retstack=1,branch_broadcast=1,"
		  "cycacc";
	o.sink = "tmc_etr0";
	ck_assert_msg(sa_cap_attr_build(p, &o, &a, &ei) == 0, "%s", ei.msg);
	ck_assert_uint_eq(a.config, ETM_TS | ETM_CTXID | ETM_RETSTACK |
			  ETM_BB | ETM_CYCACC);
	/* README R7: real perf -vvv with @tmc_etr0 showed config2
	 * 0xa6509eae (sinkid is config2:0-31).
	 */
	ck_assert_uint_eq(a.config2, 0xa6509eae);

	/* Juno TRCIDR2 0x488: VMIDSIZE 1, so no CONTEXTIDR_EL2. */
	o.terms = "contextid2=1";
	o.sink = NULL;
	ck_assert_int_eq(sa_cap_attr_build(p, &o, &a, &ei), -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "CONTEXTIDR_EL2"));
	o.terms = NULL;
	o.sink = "tmc_etf9";
	ck_assert_int_eq(sa_cap_attr_build(p, &o, &a, &ei), -SA_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(ei.msg, "tmc_etr0"));
#ifdef PERF_ATTR_SIZE_VER8
	o.sink = NULL;
	o.terms = "cc_threshold=0x123";
	ck_assert_int_eq(sa_cap_attr_build(p, &o, &a, &ei), 0);
	ck_assert_uint_eq(a.config3, 0x123);
#endif
	sa_cap_pmu__free(p);
}
END_TEST

static void copy_tree(const char *from, const char *to)
{
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", from, to);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(s, f);
	fclose(f);
}

/* Kernels move terms: a copy of the tree with timestamp at config:4-7
 * (the pending interval patch, README) and contextid at config:15 (VHE)
 * must follow the files.
 */
START_TEST(tc_etm_moved_terms)
{
	char root[PATH_MAX + 16], dir[PATH_MAX + 32], f[PATH_MAX + 96];
	char src[PATH_MAX + 16];
	struct sa_cap_attr_opts o = { .terms = "timestamp=1,contextid=1" };
	struct perf_event_attr a;
	struct sa_errinfo ei;
	struct sa_cap_pmu *p;

	snprintf(root, sizeof(root), "%s/moved", sa_test_tmpdir());
	ck_assert_int_eq(mkdir(root, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/cs_etm", root);
	snprintf(src, sizeof(src), "%s/cs_etm", sa_test_shared("sysfs"));
	copy_tree(src, dir);
	snprintf(f, sizeof(f), "%s/format/timestamp", dir);
	write_file(f, "config:4-7\n");
	snprintf(f, sizeof(f), "%s/format/contextid", dir);
	write_file(f, "config:15\n");
	/* Give the CPUs a VMID so that contextid2 (config:15) passes. */
	p = open_etm(root);
	sa_cap_pmu__free(p);
	for (int cpu = 0; cpu < 6; cpu++) {
		snprintf(f, sizeof(f), "%s/cpu%d/trcidr/trcidr2", dir, cpu);
		write_file(f, "0x60001088\n");
	}
	p = open_etm(root);
	ck_assert_msg(sa_cap_attr_build(p, &o, &a, &ei) == 0, "%s", ei.msg);
	ck_assert_uint_eq(a.config, (1ull << 4) | (1ull << 15));
	sa_cap_pmu__free(p);

	/* A broken format file names itself. */
	snprintf(f, sizeof(f), "%s/format/retstack", dir);
	write_file(f, "config:29-\n");
	errno = 0;
	ck_assert_ptr_null(sa_cap_pmu__open(root, "cs_etm", &ei));
	ck_assert_int_eq(errno, SA_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "format/retstack"));
}
END_TEST

START_TEST(tc_filters_limit)
{
	struct sa_cap_pmu *p = open_variant("intel_pt");
	char out[SA_CAP_FILTER_MAX];
	struct sa_errinfo ei;
	uint32_t max = sa_cap_pmu_nr_addr_filters(p);

	ck_assert_int_eq(sa_cap_filter_parse("start 0x1000,stop 0x2000", max,
					     out, sizeof(out), &ei), 2);
	ck_assert_int_eq(sa_cap_filter_parse("start 1,stop 2,start 3", max,
					     out, sizeof(out), &ei),
			 -SA_ERR_INVAL);
	sa_cap_pmu__free(p);
}
END_TEST

static Suite *sysfs_suite(void)
{
	Suite *s = suite_create("capture-sysfs");
	TCase *tc = tcase_create("sysfs");
	int n = sizeof(variants) / sizeof(variants[0]);

	tcase_add_loop_test(tc, tc_pt_discovery, 0, n);
	tcase_add_loop_test(tc, tc_pt_defaults, 0, n);
	tcase_add_loop_test(tc, tc_pt_terms, 0, n);
	tcase_add_test(tc, tc_pt_caps);
	tcase_add_test(tc, tc_etm);
	tcase_add_test(tc, tc_etm_moved_terms);
	tcase_add_test(tc, tc_filters_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	sa_test_require_shared("sysfs/intel_pt");
	sa_test_require_shared("sysfs/cs_etm");
	return sa_test_run(sysfs_suite());
}
