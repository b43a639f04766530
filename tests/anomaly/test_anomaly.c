// SPDX-License-Identifier: BSD-2-Clause
/*
 * The 'anomaly' suite: the statistics, the baseline store and the
 * detector, on synthetic histories whose truth is known by construction
 * (counts drawn from fixed distributions with a fixed seed).
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/hist.h"

#include "model.h"
#include "stats.h"
#include "store.h"
#include "synth.h"
#include "testutil.h"

#define BIN "/opt/svc/app"
#define BID "aa11bb22cc33dd44ee55ff6677889900aabbccdd"

struct wparams {
	double p_parse;		/* parse: line 10 */
	double p_err;		/* lookup: line 22 leads to abort() */
	double share_set;	/* dispatch: share of h_set */
	double share_stats;	/* dispatch: new target h_stats */
	double flush_calls;	/* calls of flush per window */
	double p_alt;		/* check: line 40, per-window p (see below) */
	const char *binary, *build_id;
};

static const struct wparams normal = {
	.p_parse = 0.10, .p_err = 0.01, .share_set = 0.4,
	.flush_calls = 100, .p_alt = 0.3,
};

static struct sa_hist *window(const struct wparams *p, struct synth_rng *r)
{
	const char *bin = p->binary ? p->binary : BIN;
	const char *bid = p->build_id ? p->build_id : BID;
	struct sa_hist *h = sa_hist__new();
	struct sa_hist_func *f;
	struct sa_hist_branch *b;
	uint64_t n, k;

	ck_assert_ptr_nonnull(h);
	f = synth_func(h, bin, bid, "parse", 0x1000);
	f->calls = 1000;
	synth_cond(h, f, 0x1010, 10, r, 1000, p->p_parse);
	synth_cond(h, f, 0x1020, 12, r, 1000, 0.5);
	synth_cond(h, f, 0x1030, 14, r, 500, 0.9);

	f = synth_func(h, bin, bid, "lookup", 0x2000);
	f->calls = 800;
	synth_cond(h, f, 0x2010, 20, r, 800, 0.8);
	b = synth_branch(h, f, 0x2020, SA_IC_COND, "w.c", 22, 0);
	k = synth_binom(r, 800, p->p_err);
	b->taken = k;
	b->not_taken = 800 - k;
	b->executed = 800;
	b->sink_taken = k;
	f->sink_entries = k;

	f = synth_func(h, bin, bid, "dispatch", 0x3000);
	f->calls = 600;
	b = synth_branch(h, f, 0x3010, SA_IC_IND_CALL, "w.c", 30, 0);
	n = 600;
	k = synth_binom(r, n, p->share_stats);
	synth_target(h, b, bin, "h_stats", 0x4200, k);
	n -= k;
	k = synth_binom(r, n, p->share_set);
	synth_target(h, b, bin, "h_set", 0x4100, k);
	synth_target(h, b, bin, "h_get", 0x4000, n - k);

	f = synth_func(h, bin, bid, "flush", 0x5000);
	f->calls = (uint64_t)(p->flush_calls * (0.9 + 0.2 * synth_unif(r)));
	synth_cond(h, f, 0x5010, 50, r, 100, 0.5);

	/* check: the bias itself moves from window to window (bursts of
	 * similar requests), uniformly in p_alt +- 0.1: over-dispersed.
	 */
	f = synth_func(h, bin, bid, "check", 0x6000);
	f->calls = 400;
	synth_cond(h, f, 0x6010, 40, r, 2000,
		   p->p_alt - 0.1 + 0.2 * synth_unif(r));

	sa_hist_decode_mut(h)->instructions = 200000;
	return h;
}

static char db_path[4200];

static struct sa_baseline *make_baseline(const char *name, unsigned nwin,
					 uint64_t seed)
{
	struct synth_rng r = { seed };
	struct sa_hist *w[64];
	struct sa_baseline *bl;
	struct sa_errinfo ei;
	unsigned i;

	ck_assert_uint_le(nwin, 64);
	snprintf(db_path, sizeof(db_path), "%s/%s.db", sa_test_tmpdir(), name);
	unlink(db_path);
	bl = sa_baseline__open(db_path, SA_BASELINE_CREATE, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	for (i = 0; i < nwin; i++)
		w[i] = window(&normal, &r);
	ck_assert_int_eq(sa_baseline_add(bl, w, nwin, &ei), 0);
	for (i = 0; i < nwin; i++)
		sa_hist__free(w[i]);
	return bl;
}

static struct sa_anomaly_list *detect(struct sa_baseline *bl,
				      const struct wparams *p, uint64_t seed,
				      unsigned nwin)
{
	struct synth_rng r = { seed };
	struct sa_anomaly_list *l = NULL;
	struct sa_hist *w[8];
	struct sa_errinfo ei;
	unsigned i;

	for (i = 0; i < nwin; i++)
		w[i] = window(p, &r);
	ck_assert_msg(sa_anomaly_detect(bl, w, nwin, NULL, &l, &ei) == 0,
		      "%s", ei.msg);
	for (i = 0; i < nwin; i++)
		sa_hist__free(w[i]);
	return l;
}

START_TEST(test_chi2_tail)
{
	/* The 5% and 1% critical values of chi-square(1) (tables). */
	ck_assert_double_eq_tol(sa_chi2_1_log10_sf(3.841458820694124),
				log10(0.05), 1e-9);
	ck_assert_double_eq_tol(sa_chi2_1_log10_sf(6.634896601021214),
				log10(0.01), 1e-9);
	ck_assert_double_eq(sa_chi2_1_log10_sf(0), 0);
	/* The asymptotic branch joins the exact one (z = 25). */
	ck_assert_double_eq_tol(sa_chi2_1_log10_sf(2 * 24.999 * 24.999),
				sa_chi2_1_log10_sf(2 * 25.001 * 25.001), 0.05);
	/* Far beyond double range it still orders. */
	ck_assert(sa_chi2_1_log10_sf(1e5) < sa_chi2_1_log10_sf(1e4));
	ck_assert(sa_chi2_1_log10_sf(1e4) < -300);
}
END_TEST

START_TEST(test_g_stat)
{
	/* Values from the textbook formula 2 sum O ln(O/E), evaluated in
	 * Python's math module.
	 */
	ck_assert_double_eq_tol(sa_g_2x2(10, 20, 30, 40), 0.8043486460964835,
				1e-9);
	ck_assert_double_eq_tol(sa_g_2x2(90, 10, 60, 40), 25.31512976738241,
				1e-9);
	ck_assert_double_eq_tol(sa_g_2x2(5, 5, 50, 50), 0, 1e-12);
	ck_assert_double_eq(sa_g_2x2(0, 0, 5, 5), 0);
	/* Equal rates: no evidence. */
	ck_assert_double_eq_tol(sa_g_rates(10, 100, 100, 1000), 0, 1e-9);
	ck_assert(sa_g_rates(30, 100, 100, 1000) > 10);
}
END_TEST

START_TEST(test_bh)
{
	/* Benjamini & Hochberg's step-up on four p-values, by hand:
	 * sorted 0.005 0.01 0.03 0.04 -> 0.02 0.02 0.04 0.04.
	 */
	double p[4] = { log10(0.01), log10(0.04), log10(0.03),
			log10(0.005) };
	double q[4];

	ck_assert_int_eq(sa_bh_log10(p, q, 4), 0);
	ck_assert_double_eq_tol(pow(10, q[0]), 0.02, 1e-12);
	ck_assert_double_eq_tol(pow(10, q[1]), 0.04, 1e-12);
	ck_assert_double_eq_tol(pow(10, q[2]), 0.04, 1e-12);
	ck_assert_double_eq_tol(pow(10, q[3]), 0.02, 1e-12);
}
END_TEST

START_TEST(test_dispersion)
{
	/* Windows with identical ratios: no extra spread. */
	ck_assert_double_eq_tol(sa_phi_binom(30, 100, 4 * (7.5 * 7.5 / 25),
					     4), 1, 1e-12);
	/* Two windows of 100: 10 and 50 taken; Pearson chi-square by hand:
	 * p = 0.3, (10-30)^2/21 + (50-30)^2/21 = 38.095 over 1 d.f.
	 */
	ck_assert_double_eq_tol(sa_phi_binom(60, 200, 1.0 + 25.0, 2),
				800.0 / 21.0, 1e-9);
}
END_TEST

START_TEST(test_store_sums_and_decay)
{
	struct sa_baseline *bl;
	struct sa_baseline_build bb;
	struct sa_mbuild mb;
	const struct sa_mbranch *br;
	struct sa_errinfo ei;
	struct sa_hist *h[2];
	struct sa_hist_func *f;
	struct sa_hist_branch *b;
	int i;

	snprintf(db_path, sizeof(db_path), "%s/decay.db", sa_test_tmpdir());
	unlink(db_path);
	bl = sa_baseline__open(db_path, SA_BASELINE_CREATE, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	ck_assert_int_eq(sa_baseline_set_half_life(bl, 1), 0);
	for (i = 0; i < 2; i++) {
		h[i] = sa_hist__new();
		f = synth_func(h[i], BIN, BID, "parse", 0x1000);
		f->calls = 10;
		b = synth_branch(h[i], f, 0x1010, SA_IC_COND, "w.c", 10, 0);
		b->taken = 100;
		b->not_taken = 300;
		b->executed = 400;
		sa_hist_decode_mut(h[i])->instructions = 1000;
	}
	ck_assert_int_eq(sa_baseline_add(bl, &h[0], 1, &ei), 0);
	ck_assert_int_eq(sa_baseline_add(bl, &h[1], 1, &ei), 0);
	sa_baseline__free(bl);

	/* Reopen read-only: the half-life was kept in the file. */
	bl = sa_baseline__open(db_path, SA_BASELINE_RDONLY, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	ck_assert_double_eq(sa_baseline_half_life(bl), 1);
	ck_assert_int_eq(sa_baseline_nr_builds(bl), 1);
	ck_assert_int_eq(sa_baseline_find_build(bl, "aa11bb22", &bb, &ei), 0);
	ck_assert_str_eq(bb.binary, BIN);
	ck_assert_uint_eq(bb.added, 2);
	/* Half-life 1 window: the first window weighs 1/2. */
	ck_assert_double_eq_tol(bb.windows, 1.5, 1e-9);
	ck_assert_int_eq(sa_baseline_load(bl, BID, &mb, &ei), 0);
	br = sa_mbuild_branch(&mb, 0x1010);
	ck_assert_ptr_nonnull(br);
	ck_assert_double_eq_tol(br->taken, 150, 1e-9);
	ck_assert_double_eq_tol(br->not_taken, 450, 1e-9);
	ck_assert_double_eq_tol(mb.funcs[0].calls, 15, 1e-9);
	ck_assert_str_eq(br->file, "w.c");
	ck_assert_int_eq(br->line, 10);
	sa_mbuild_fini(&mb);
	/* By path, and an unknown build. */
	ck_assert_int_eq(sa_baseline_find_build(bl, BIN, &bb, &ei), 0);
	ck_assert_int_eq(sa_baseline_find_build(bl, "deadbeef00", &bb, &ei),
			 -SA_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(ei.msg, BIN));
	/* Read-only means read-only. */
	ck_assert_int_eq(sa_baseline_add(bl, &h[0], 1, &ei), -EROFS);
	sa_baseline__free(bl);
	sa_hist__free(h[0]);
	sa_hist__free(h[1]);
}
END_TEST

START_TEST(test_store_corrupt)
{
	struct sa_errinfo ei;
	FILE *f;

	snprintf(db_path, sizeof(db_path), "%s/corrupt.db", sa_test_tmpdir());
	f = fopen(db_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("this is not an sqlite file, it is plain text, long enough to "
	      "have a header page of its own.........................\n", f);
	fclose(f);
	ck_assert_ptr_null(sa_baseline__open(db_path, SA_BASELINE_RDONLY, &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_CORRUPT);
	ck_assert_msg(strstr(ei.msg, "file is not a database") &&
		      strstr(ei.msg, db_path), "%s", ei.msg);
	ck_assert_ptr_null(sa_baseline__open(db_path, SA_BASELINE_CREATE, &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_CORRUPT);

	/* Missing file, read-only. */
	snprintf(db_path, sizeof(db_path), "%s/missing.db", sa_test_tmpdir());
	ck_assert_ptr_null(sa_baseline__open(db_path, SA_BASELINE_RDONLY, &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(ei.msg, "baseline add"));
}
END_TEST

START_TEST(test_store_version)
{
	struct sa_baseline *bl;
	struct sa_errinfo ei;
	sqlite3 *db;

	bl = make_baseline("version", 1, 1);
	sa_baseline__free(bl);
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_ptr_null(sa_baseline__open(db_path, SA_BASELINE_RDONLY, &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(ei.msg, "schema version 99"));

	/* Version 1 keyed targets by runtime address: refused, saying so. */
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version=1", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_ptr_null(sa_baseline__open(db_path, SA_BASELINE_RDONLY, &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_UNSUPPORTED);
	ck_assert_msg(strstr(ei.msg, "schema version 1 ") &&
		      strstr(ei.msg, "runtime address") &&
		      strstr(ei.msg, "baseline add"), "%s", ei.msg);

	/* An SQLite file of something else. */
	snprintf(db_path, sizeof(db_path), "%s/other.db", sa_test_tmpdir());
	unlink(db_path);
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_ptr_null(sa_baseline__open(db_path, SA_BASELINE_RDONLY, &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_UNSUPPORTED);
}
END_TEST

START_TEST(test_bad_baselines)
{
	struct synth_rng r = { 7 };
	struct sa_anomaly_list *l = NULL;
	struct sa_baseline *bl;
	struct sa_errinfo ei;
	struct wparams p = normal;
	struct sa_hist *h;

	/* Empty. */
	snprintf(db_path, sizeof(db_path), "%s/empty.db", sa_test_tmpdir());
	unlink(db_path);
	bl = sa_baseline__open(db_path, SA_BASELINE_CREATE, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	h = window(&normal, &r);
	ck_assert_int_eq(sa_anomaly_detect(bl, &h, 1, NULL, &l, &ei),
			 -SA_ERR_NODATA);
	ck_assert_msg(strstr(ei.msg, "empty"), "%s", ei.msg);
	ck_assert_ptr_null(l);
	sa_baseline__free(bl);
	sa_hist__free(h);

	bl = make_baseline("foreign", 4, 3);
	/* The same binary, rebuilt. */
	p.build_id = "0123456789abcdef0123456789abcdef01234567";
	h = window(&p, &r);
	ck_assert_int_eq(sa_anomaly_detect(bl, &h, 1, NULL, &l, &ei),
			 -SA_ERR_BUILDID);
	ck_assert_msg(strstr(ei.msg, "another build") &&
		      strstr(ei.msg, "0123456789abcdef") &&
		      strstr(ei.msg, "aa11bb22"), "%s", ei.msg);
	sa_hist__free(h);
	/* Another program. */
	p.binary = "/usr/bin/other";
	h = window(&p, &r);
	ck_assert_int_eq(sa_anomaly_detect(bl, &h, 1, NULL, &l, &ei),
			 -SA_ERR_NOTFOUND);
	ck_assert_msg(strstr(ei.msg, "another binary") &&
		      strstr(ei.msg, "/usr/bin/other") &&
		      strstr(ei.msg, BIN), "%s", ei.msg);
	sa_hist__free(h);
	/* A window with nothing in a known binary. */
	h = sa_hist__new();
	ck_assert_int_eq(sa_anomaly_detect(bl, &h, 1, NULL, &l, &ei),
			 -SA_ERR_NODATA);
	ck_assert_int_eq(sa_baseline_add(bl, &h, 1, &ei), -SA_ERR_NODATA);
	sa_hist__free(h);
	sa_baseline__free(bl);
}
END_TEST

static const struct sa_anomaly *top(const struct sa_anomaly_list *l)
{
	const struct sa_anomaly *a = sa_anomaly_list_get(l, 0);

	ck_assert_ptr_nonnull(a);
	ck_assert_msg(a->significant, "top candidate %s at line %d is not "
		      "significant (q=%g)", a->function, a->line, a->q_value);
	return a;
}

START_TEST(test_detect_null)
{
	struct sa_baseline *bl = make_baseline("null", 20, 11);
	uint64_t seed;

	/* Same distribution, other seeds, one window and a group. */
	for (seed = 100; seed < 110; seed++) {
		struct sa_anomaly_list *l = detect(bl, &normal, seed,
						   seed & 1 ? 1 : 4);

		ck_assert_msg(sa_anomaly_list_nr_significant(l) == 0,
			      "seed %llu: %s line %d q=%g",
			      (unsigned long long)seed,
			      sa_anomaly_list_get(l, 0)->function,
			      sa_anomaly_list_get(l, 0)->line,
			      sa_anomaly_list_get(l, 0)->q_value);
		ck_assert_uint_gt(sa_anomaly_list_nr_tests(l), 5);
		sa_anomaly_list__free(l);
	}
	sa_baseline__free(bl);
}
END_TEST

START_TEST(test_detect_overdispersion)
{
	struct sa_baseline *bl = make_baseline("overdisp", 20, 12);
	struct wparams p = normal;
	struct sa_anomaly_list *l;
	size_t i;

	/* check's bias wanders +-0.1 between windows in the baseline: a
	 * window at the edge of that range is normal, although a binomial
	 * test on 2000 decisions would call 0.38 vs 0.30 a shift.
	 */
	p.p_alt = 0.38;
	l = detect(bl, &p, 5, 1);
	for (i = 0; i < sa_anomaly_list_len(l); i++) {
		const struct sa_anomaly *a = sa_anomaly_list_get(l, i);

		if (a->line == 40 && a->kind != SA_ANOM_CALL_RATE) {
			ck_assert_msg(a->design_effect > 5, "deff %g",
				      a->design_effect);
			ck_assert(!a->significant);
		}
	}
	ck_assert_uint_eq(sa_anomaly_list_nr_significant(l), 0);
	sa_anomaly_list__free(l);
	/* A real shift beyond the spread is still found. */
	p.p_alt = 0.75;
	l = detect(bl, &p, 5, 1);
	ck_assert_int_eq(top(l)->line, 40);
	ck_assert_int_eq(top(l)->kind, SA_ANOM_BIAS_SHIFT);
	sa_anomaly_list__free(l);
	sa_baseline__free(bl);
}
END_TEST

START_TEST(test_detect_planted)
{
	struct sa_baseline *bl = make_baseline("planted", 20, 13);
	struct sa_anomaly_list *l;
	const struct sa_anomaly *a;
	struct wparams p;

	/* Bias shift. */
	p = normal;
	p.p_parse = 0.30;
	l = detect(bl, &p, 21, 1);
	a = top(l);
	ck_assert_str_eq(a->function, "parse");
	ck_assert_int_eq(a->line, 10);
	ck_assert_int_eq(a->kind, SA_ANOM_BIAS_SHIFT);
	ck_assert_str_eq(a->decision, "taken");
	ck_assert_double_eq_tol(a->base_ratio, 0.10, 0.02);
	ck_assert_double_eq_tol(a->cur_ratio, 0.30, 0.05);
	ck_assert_str_eq(a->build_id, BID);
	ck_assert_str_eq(a->file, "w.c");
	ck_assert(a->p_value < 1e-10 && a->q_value >= a->p_value);
	ck_assert_uint_eq(sa_anomaly_list_nr_significant(l), 1);
	sa_anomaly_list__free(l);

	/* Error path. */
	p = normal;
	p.p_err = 0.2;
	l = detect(bl, &p, 22, 1);
	a = top(l);
	ck_assert_str_eq(a->function, "lookup");
	ck_assert_int_eq(a->line, 22);
	ck_assert_int_eq(a->kind, SA_ANOM_ERROR_ORIGIN);
	ck_assert(a->error_path);
	sa_anomaly_list__free(l);

	/* New indirect target. */
	p = normal;
	p.share_stats = 0.1;
	l = detect(bl, &p, 23, 1);
	a = top(l);
	ck_assert_str_eq(a->function, "dispatch");
	ck_assert_int_eq(a->kind, SA_ANOM_NEW_TARGET);
	ck_assert_str_eq(a->decision, "h_stats");
	sa_anomaly_list__free(l);

	/* Target mix. */
	p = normal;
	p.share_set = 0.8;
	l = detect(bl, &p, 24, 1);
	a = top(l);
	ck_assert_int_eq(a->line, 30);
	ck_assert_int_eq(a->kind, SA_ANOM_TARGET_SHIFT);
	sa_anomaly_list__free(l);

	/* Call rate. */
	p = normal;
	p.flush_calls = 400;
	l = detect(bl, &p, 25, 1);
	a = top(l);
	ck_assert_str_eq(a->function, "flush");
	ck_assert_int_eq(a->kind, SA_ANOM_CALL_RATE);
	ck_assert_double_eq_tol(a->cur_ratio / a->base_ratio, 4, 0.5);
	sa_anomaly_list__free(l);

	/* New edge and vanished edge. */
	p = normal;
	p.p_parse = 0;
	l = detect(bl, &p, 26, 1);
	a = top(l);
	ck_assert_int_eq(a->line, 10);
	ck_assert_int_eq(a->kind, SA_ANOM_VANISHED_EDGE);
	ck_assert_str_eq(a->decision, "taken");
	sa_anomaly_list__free(l);
	sa_baseline__free(bl);
}
END_TEST

START_TEST(test_detect_loss_confidence)
{
	struct sa_baseline *bl = make_baseline("loss", 10, 14);
	struct synth_rng r = { 31 };
	struct wparams p = normal;
	struct sa_anomaly_list *l = NULL;
	struct sa_hist_decode *d;
	struct sa_errinfo ei;
	struct sa_hist *h;

	p.p_parse = 0.5;
	h = window(&p, &r);
	d = sa_hist_decode_mut(h);
	d->trace_bytes = 3000;
	d->lost_bytes = 1000;
	d->overflows = 1;
	ck_assert_int_eq(sa_anomaly_detect(bl, &h, 1, NULL, &l, &ei), 0);
	/* 3000 of 4000 bytes decoded, and an OVF of unknown size. */
	ck_assert_double_eq_tol(top(l)->confidence, 0.75 * 0.9, 1e-9);
	sa_anomaly_list__free(l);
	sa_hist__free(h);
	sa_baseline__free(bl);
}
END_TEST

/* The figures the text summary and the HTML report share, against the
 * rules of sensor/anomaly.h worked out by hand.
 */
START_TEST(test_fmt)
{
	static const struct {
		double v;
		const char *ratio, *count;
	} t[] = {
		{ 0, "0%", "0" },
		{ 0.383, "38.3%", "0.4" },
		{ 0.00012, "0.012%", "0.0" },
		{ 1, "100.0%", "1" },
		{ 2.5, "250.0%", "2.5" },
		{ 1234.56, "123456.0%", "1235" },
		{ 41, "4100.0%", "41" },
		{ NAN, "-", "nan" },
		{ INFINITY, "-", "inf" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		sa_anomaly_fmt_ratio(buf, sizeof(buf), t[i].v);
		ck_assert_msg(!strcmp(buf, t[i].ratio), "ratio %g: '%s' not "
			      "'%s'", t[i].v, buf, t[i].ratio);
		sa_anomaly_fmt_count(buf, sizeof(buf), t[i].v);
		ck_assert_msg(!strcmp(buf, t[i].count), "count %g: '%s' not "
			      "'%s'", t[i].v, buf, t[i].count);
	}
	/* truncated as snprintf does, always terminated */
	sa_anomaly_fmt_ratio(buf, 4, 0.383);
	ck_assert_str_eq(buf, "38.");
}
END_TEST

START_TEST(test_output)
{
	struct sa_baseline *bl = make_baseline("output", 10, 15);
	struct wparams p = normal;
	struct sa_anomaly_list *l;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	p.p_err = 0.3;
	l = detect(bl, &p, 41, 1);
	f = open_memstream(&buf, &len);
	ck_assert_int_eq(sa_anomaly_write_jsonl(l, f, "w.data", 0), 0);
	fclose(f);
	/* One line per significant anomaly, OTel code attributes. */
	ck_assert_ptr_nonnull(strstr(buf,
				     "\"schema\":\"sensor-agent.anomaly/1\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"code.function.name\":\"lookup\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"code.file.path\":\"w.c\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"code.line.number\":22"));
	ck_assert_ptr_nonnull(strstr(buf, "\"kind\":\"error_origin\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"source\":\"w.data\""));
	ck_assert_int_eq(buf[len - 1], '\n');
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	ck_assert_int_eq(sa_anomaly_write_text(l, f, 0), 0);
	fclose(f);
	ck_assert_msg(strstr(buf, "#1 error_origin: lookup (w.c:22)") &&
		      strstr(buf, "the branch into the error path was taken"),
		      "%s", buf);
	free(buf);
	sa_anomaly_list__free(l);
	sa_baseline__free(bl);
}
END_TEST

/* One decision, one report.  validate() decides (line 70, into an error
 * sink); serve() calls it and branches on its result (line 80: the same
 * events, so the same counts); audit() has a branch whose change has the
 * same size but does not call validate(); recheck() calls validate() but
 * its branch changes by another amount; lookup() has one `if (a && b)` on
 * line 90 compiled to two branches: the first's taken edge vanishes, the
 * second's fall-through appears.
 */
static struct sa_hist *cause_window(bool shifted, struct synth_rng *r)
{
	struct sa_hist *h = sa_hist__new();
	struct sa_hist_func *f;
	struct sa_hist_branch *b;
	uint64_t n = 1000, bad, k, u;

	ck_assert_ptr_nonnull(h);
	bad = synth_binom(r, n, shifted ? 0.30 : 0.01);
	f = synth_func(h, BIN, BID, "validate", 0x7000);
	f->calls = n;
	f->sink_entries = bad;
	b = synth_branch(h, f, 0x7010, SA_IC_COND, "w.c", 70, 0);
	b->taken = bad, b->not_taken = n - bad, b->executed = n;
	b->sink_taken = bad;

	f = synth_func(h, BIN, BID, "serve", 0x8000);
	f->calls = n;
	b = synth_branch(h, f, 0x8008, SA_IC_CALL, "w.c", 79, 0x7000);
	b->taken = b->executed = n;
	b = synth_branch(h, f, 0x8010, SA_IC_COND, "w.c", 80, 0);
	b->taken = bad, b->not_taken = n - bad, b->executed = n;

	/* as large a change, but no call into validate() */
	f = synth_func(h, BIN, BID, "audit", 0x9000);
	f->calls = n;
	k = synth_binom(r, n, shifted ? 0.30 : 0.01);
	b = synth_branch(h, f, 0x9010, SA_IC_COND, "w.c", 85, 0);
	b->taken = k, b->not_taken = n - k, b->executed = n;

	/* calls validate(), but its branch moves far less */
	f = synth_func(h, BIN, BID, "recheck", 0xb000);
	f->calls = n;
	b = synth_branch(h, f, 0xb008, SA_IC_CALL, "w.c", 94, 0x7000);
	b->taken = b->executed = n;
	k = synth_binom(r, n, shifted ? 0.12 : 0.01);
	b = synth_branch(h, f, 0xb010, SA_IC_COND, "w.c", 95, 0);
	b->taken = k, b->not_taken = n - k, b->executed = n;

	/* if (s->used && s->key == key): used is always set once shifted */
	f = synth_func(h, BIN, BID, "lookup", 0xa000);
	f->calls = n;
	u = shifted ? 0 : synth_binom(r, n, 0.10);
	b = synth_branch(h, f, 0xa010, SA_IC_COND, "w.c", 90, 0);
	b->taken = u, b->not_taken = n - u, b->executed = n;
	k = shifted ? 0 : n - u;	/* a miss falls through */
	b = synth_branch(h, f, 0xa014, SA_IC_COND, "w.c", 90, 0);
	b->taken = k, b->not_taken = n - u - k, b->executed = n - u;

	sa_hist_decode_mut(h)->instructions = 100000;
	return h;
}

static const struct sa_anomaly *find_anom(const struct sa_anomaly_list *l,
					  const char *func)
{
	size_t i;

	for (i = 0; i < sa_anomaly_list_nr_significant(l); i++)
		if (!strcmp(sa_anomaly_list_get(l, i)->function, func))
			return sa_anomaly_list_get(l, i);
	return NULL;
}

static bool also_has(const struct sa_anomaly *a, const char *func,
		     int line, enum sa_anomaly_relation rel)
{
	size_t i;

	for (i = 0; a && i < a->nr_also; i++)
		if (!strcmp(a->also[i].function, func) &&
		    a->also[i].line == line && a->also[i].relation == rel)
			return true;
	return false;
}

START_TEST(test_one_decision_one_report)
{
	struct synth_rng r = { 77 };
	struct sa_anomaly_list *l = NULL;
	const struct sa_anomaly *v, *a;
	struct sa_hist *w[16];
	struct sa_baseline *bl;
	struct sa_errinfo ei;
	char *buf = NULL, *line;
	size_t len = 0, i, nline = 0;
	FILE *f;

	snprintf(db_path, sizeof(db_path), "%s/cause.db", sa_test_tmpdir());
	unlink(db_path);
	bl = sa_baseline__open(db_path, SA_BASELINE_CREATE, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	for (i = 0; i < 12; i++)
		w[i] = cause_window(false, &r);
	ck_assert_int_eq(sa_baseline_add(bl, w, 12, &ei), 0);
	for (i = 0; i < 12; i++)
		sa_hist__free(w[i]);
	for (i = 0; i < 2; i++)
		w[i] = cause_window(true, &r);
	ck_assert_msg(sa_anomaly_detect(bl, w, 2, NULL, &l, &ei) == 0, "%s",
		      ei.msg);
	for (i = 0; i < 2; i++)
		sa_hist__free(w[i]);

	/* the origin is reported, its caller's branch under it */
	v = find_anom(l, "validate");
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->line, 70);
	ck_assert_msg(also_has(v, "serve", 80, SA_ANOM_REL_CALLER),
		      "serve:80 not under validate (%zu also)", v->nr_also);
	ck_assert_ptr_null(find_anom(l, "serve"));
	/* an equal change without the call, and a call without the equal
	 * change, stay reports of their own
	 */
	ck_assert_ptr_nonnull(find_anom(l, "audit"));
	ck_assert_ptr_nonnull(find_anom(l, "recheck"));
	ck_assert(!also_has(v, "audit", 85, SA_ANOM_REL_CALLER));
	ck_assert(!also_has(v, "recheck", 95, SA_ANOM_REL_CALLER));
	/* one line, one report: the best of its two branches, the other
	 * under it
	 */
	a = find_anom(l, "lookup");
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->nr_also, 1);
	ck_assert_int_eq(a->also[0].relation, SA_ANOM_REL_SAME_LINE);
	ck_assert_int_eq(a->also[0].line, 90);
	ck_assert_uint_ne(a->also[0].offset, a->offset);
	ck_assert(a->kind == SA_ANOM_NEW_EDGE ||
		  a->kind == SA_ANOM_VANISHED_EDGE);
	ck_assert(a->also[0].kind == SA_ANOM_NEW_EDGE ||
		  a->also[0].kind == SA_ANOM_VANISHED_EDGE);
	ck_assert_int_ne(a->kind, a->also[0].kind);
	ck_assert_uint_eq(sa_anomaly_list_nr_significant(l), 4);
	/* ranked by the roots' own scores */
	for (i = 1; i < sa_anomaly_list_nr_significant(l); i++)
		ck_assert(sa_anomaly_list_get(l, i - 1)->score >=
			  sa_anomaly_list_get(l, i)->score);

	/* text: said under the root; JSON: an also_seen_in array */
	f = open_memstream(&buf, &len);
	ck_assert_int_eq(sa_anomaly_write_text(l, f, 0), 0);
	fclose(f);
	ck_assert_msg(strstr(buf, "also seen in a caller, branching on its "
				  "result: serve (w.c:80)"), "%s", buf);
	ck_assert_msg(strstr(buf, "also seen in the same line: lookup "
				  "(w.c:90)"), "%s", buf);
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	ck_assert_int_eq(sa_anomaly_write_jsonl(l, f, NULL, 0), 0);
	fclose(f);
	for (line = buf; line && *line; nline++) {
		char *nl = strchr(line, '\n');

		ck_assert_ptr_nonnull(nl);
		*nl = 0;
		if (strstr(line, "\"code.function.name\":\"validate\""))
			ck_assert_msg(strstr(line, "\"also_seen_in\":[{"
					   "\"relation\":\"caller\","
					   "\"kind\":\"bias_shift\","
					   "\"function\":\"serve\","
					   "\"file\":\"w.c\",\"line\":80,"
					   "\"offset\":\"0x8010\""), "%s",
				      line);
		*nl = '\n';
		line = nl + 1;
	}
	ck_assert_uint_eq(nline, 4);
	ck_assert_int_eq(sa_test_json_lines_valid(buf), 0);
	free(buf);
	sa_anomaly_list__free(l);
	sa_baseline__free(bl);
}
END_TEST

START_TEST(test_diff_builds)
{
	struct synth_rng r = { 51 };
	struct sa_anomaly_list *l = NULL;
	struct sa_baseline *bl;
	struct sa_errinfo ei;
	struct sa_hist *w[10];
	struct wparams p = normal;
	const struct sa_anomaly *a;
	int i;

	bl = make_baseline("diff", 10, 16);
	sa_baseline__free(bl);
	bl = sa_baseline__open(db_path, 0, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	/* Build B: parse's line-10 branch goes the other way more often. */
	p.build_id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	p.p_parse = 0.5;
	for (i = 0; i < 10; i++)
		w[i] = window(&p, &r);
	ck_assert_int_eq(sa_baseline_add(bl, w, 10, &ei), 0);
	for (i = 0; i < 10; i++)
		sa_hist__free(w[i]);
	ck_assert_int_eq(sa_anomaly_diff_builds(bl, BID, "bbbbbbbb", NULL, &l,
						&ei), 0);
	a = top(l);
	ck_assert_str_eq(a->function, "parse");
	ck_assert_int_eq(a->line, 10);
	ck_assert_uint_eq(sa_anomaly_list_nr_significant(l), 1);
	sa_anomaly_list__free(l);
	ck_assert_int_eq(sa_anomaly_diff_builds(bl, BID, "nosuchbuild", NULL,
						&l, &ei), -SA_ERR_NOTFOUND);
	sa_baseline__free(bl);
}
END_TEST

/* Cross-build windows: the same source built in directory @dir, its code
 * @shift bytes further (a function inserted before it).  parse has two
 * branches on line 14 with different biases (matched by position on the
 * line), nolines has no line table (matched by offset in the function),
 * dispatch reaches two functions of its own binary (targets named by
 * symbol).  @extra adds a branch on a new line 16 and a new function,
 * and drops helper (inlined).
 */
struct xparams {
	const char *bid, *dir;
	uint64_t shift;
	double p_parse;
	bool extra;
};

static struct sa_hist *xwindow(const struct xparams *p, struct synth_rng *r)
{
	struct sa_hist *h = sa_hist__new();
	struct sa_hist_func *f;
	struct sa_hist_branch *b;
	char file[256];
	uint64_t s = p->shift, k;

	ck_assert_ptr_nonnull(h);
	snprintf(file, sizeof(file), "%s/src/w.c", p->dir);
	f = synth_func(h, BIN, p->bid, "parse", 0x1000 + s);
	f->calls = 1000;
	b = synth_branch(h, f, 0x1010 + s, SA_IC_COND, file, 10, 0);
	k = synth_binom(r, 1000, p->p_parse);
	b->taken = k, b->not_taken = 1000 - k, b->executed = 1000;
	b = synth_branch(h, f, 0x1020 + s, SA_IC_COND, file, 14, 0);
	k = synth_binom(r, 1000, 0.9);
	b->taken = k, b->not_taken = 1000 - k, b->executed = 1000;
	b = synth_branch(h, f, 0x1030 + s, SA_IC_COND, file, 14, 0);
	k = synth_binom(r, 1000, 0.2);
	b->taken = k, b->not_taken = 1000 - k, b->executed = 1000;
	if (p->extra) {
		b = synth_branch(h, f, 0x1040 + s, SA_IC_COND, file, 16, 0);
		b->taken = 500, b->not_taken = 500, b->executed = 1000;
		f = synth_func(h, BIN, p->bid, "inserted", 0x900);
		f->calls = 10;
	} else {
		/* inlined in the other build: never entered there */
		f = synth_func(h, BIN, p->bid, "helper", 0x5000);
		f->calls = 300;
	}
	f = synth_func(h, BIN, p->bid, "nolines", 0x2000 + s);
	f->calls = 500;
	b = synth_branch(h, f, 0x2008 + s, SA_IC_COND, NULL, 0, 0);
	k = synth_binom(r, 500, 0.3);
	b->taken = k, b->not_taken = 500 - k, b->executed = 500;
	b = synth_branch(h, f, 0x2018 + s, SA_IC_COND, NULL, 0, 0);
	k = synth_binom(r, 500, 0.7);
	b->taken = k, b->not_taken = 500 - k, b->executed = 500;
	f = synth_func(h, BIN, p->bid, "dispatch", 0x3000 + s);
	f->calls = 600;
	b = synth_branch(h, f, 0x3010 + s, SA_IC_IND_CALL, file, 30, 0);
	k = synth_binom(r, 600, 0.4);
	synth_target(h, b, BIN, "h_set", 0x4100 + s, k);
	synth_target(h, b, BIN, "h_get", 0x4000 + s, 600 - k);
	sa_hist_decode_mut(h)->instructions = 200000;
	return h;
}

static void xadd(struct sa_baseline *bl, const struct xparams *p,
		 uint64_t seed, int n)
{
	struct synth_rng r = { seed };
	struct sa_hist *w[10];
	struct sa_errinfo ei;
	int i;

	for (i = 0; i < n; i++)
		w[i] = xwindow(p, &r);
	ck_assert_msg(sa_baseline_add(bl, w, (size_t)n, &ei) == 0, "%s",
		      ei.msg);
	for (i = 0; i < n; i++)
		sa_hist__free(w[i]);
}

#define XA "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"
#define XB "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"
#define XC "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
#define XE "e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4"

START_TEST(test_cross_builds)
{
	struct xparams a = { .bid = XA, .dir = "/home/ci/a", .p_parse = 0.1 };
	struct xparams b = { .bid = XB, .dir = "/build/other/tree",
			     .shift = 0x140, .p_parse = 0.1, .extra = true };
	struct xparams c = b;
	const struct sa_anomaly_match *m;
	struct sa_anomaly_list *l = NULL;
	const struct sa_anomaly *an;
	struct sa_baseline *bl;
	struct sa_errinfo ei;
	struct synth_rng r = { 77 };
	struct sa_hist *w;
	char path[4200];

	snprintf(path, sizeof(path), "%s/cross.db", sa_test_tmpdir());
	unlink(path);
	bl = sa_baseline__open(path, SA_BASELINE_CREATE, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	xadd(bl, &a, 1, 10);
	xadd(bl, &b, 2, 10);
	c.bid = XC;
	c.p_parse = 0.4;
	xadd(bl, &c, 3, 10);

	/* Same behaviour, other directory and layout: every old branch
	 * matches (6 of 7: line 16 is new), nothing passes.
	 */
	ck_assert_msg(sa_anomaly_diff_builds(bl, XA, XB, NULL, &l, &ei) == 0,
		      "%s", ei.msg);
	m = sa_anomaly_list_match(l);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->builds, 1);
	ck_assert_uint_eq(m->branches, 6);
	ck_assert_uint_eq(m->branches_unmatched, 1);
	ck_assert_uint_eq(m->base_branches_unmatched, 0);
	ck_assert_uint_eq(m->functions, 3);
	ck_assert_uint_eq(m->functions_unmatched, 1);
	ck_assert_uint_eq(m->base_functions_unmatched, 1);
	/* helper, gone from B, is unmatched, not a call rate fallen to 0 */
	ck_assert_uint_eq(sa_anomaly_list_nr_significant(l), 0);
	/* the two line-14 branches and the two of nolines were tested
	 * against their own counterparts: 0.9 vs 0.2 would be flagged
	 */
	ck_assert_uint_ge(sa_anomaly_list_nr_tests(l), 6);
	sa_anomaly_list__free(l);

	/* The planted change is found across builds, at its line. */
	ck_assert_msg(sa_anomaly_diff_builds(bl, XA, XC, NULL, &l, &ei) == 0,
		      "%s", ei.msg);
	an = top(l);
	ck_assert_str_eq(an->function, "parse");
	ck_assert_int_eq(an->line, 10);
	ck_assert_uint_eq(an->offset, 0x1010 + 0x140);
	ck_assert_uint_eq(sa_anomaly_list_nr_significant(l), 1);
	sa_anomaly_list__free(l);

	/* analyze: windows of a rebuilt binary, once refused, compared
	 * across builds with SA_DETECT_CROSS_BUILD.  The baseline's latest
	 * build of the file name is C: a window of B's behaviour shows the
	 * change back.
	 */
	b.bid = "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3";
	w = xwindow(&b, &r);
	ck_assert_int_eq(sa_anomaly_detect(bl, &w, 1, NULL, &l, &ei),
			 -SA_ERR_BUILDID);
	{
		struct sa_detect_opts o = { .flags = SA_DETECT_CROSS_BUILD };

		ck_assert_msg(sa_anomaly_detect(bl, &w, 1, &o, &l, &ei) == 0,
			      "%s", ei.msg);
		m = sa_anomaly_list_match(l);
		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(m->branches, 7);
		ck_assert_uint_eq(m->branches_unmatched, 0);
		an = top(l);
		ck_assert_str_eq(an->function, "parse");
		ck_assert_int_eq(an->line, 10);
		sa_anomaly_list__free(l);
	}
	sa_hist__free(w);
	sa_baseline__free(bl);
}
END_TEST

/* Two builds with nothing in common: an error, never "no anomaly". */
START_TEST(test_cross_nothing)
{
	struct xparams a = { .bid = XA, .dir = "/a", .p_parse = 0.1 };
	struct sa_anomaly_list *l = NULL;
	struct sa_baseline *bl;
	struct sa_errinfo ei;
	struct synth_rng r = { 5 };
	struct sa_hist *w[4];
	struct sa_hist_func *f;
	char path[4200];
	int i;

	snprintf(path, sizeof(path), "%s/cross0.db", sa_test_tmpdir());
	unlink(path);
	bl = sa_baseline__open(path, SA_BASELINE_CREATE, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	xadd(bl, &a, 1, 4);
	for (i = 0; i < 4; i++) {
		w[i] = sa_hist__new();
		f = synth_func(w[i], BIN, XB, "other_main", 0x1000);
		f->calls = 100;
		synth_cond(w[i], f, 0x1010, 10, &r, 1000, 0.5);
		sa_hist_decode_mut(w[i])->instructions = 10000;
	}
	ck_assert_int_eq(sa_baseline_add(bl, w, 4, &ei), 0);
	ck_assert_int_eq(sa_anomaly_diff_builds(bl, XA, XB, NULL, &l, &ei),
			 -SA_ERR_NODATA);
	ck_assert_ptr_null(l);
	ck_assert_msg(strstr(ei.msg, "nothing comparable") &&
		      strstr(ei.msg, "share no function"), "%s", ei.msg);
	/* same names, no common branch: still nothing comparable */
	for (i = 0; i < 4; i++)
		sa_hist__free(w[i]);
	for (i = 0; i < 4; i++) {
		w[i] = sa_hist__new();
		f = synth_func(w[i], BIN, XC, "parse", 0x1000);
		f->calls = 100;
		synth_cond(w[i], f, 0x1010, 99, &r, 1000, 0.5);
		sa_hist_decode_mut(w[i])->instructions = 10000;
	}
	ck_assert_int_eq(sa_baseline_add(bl, w, 4, &ei), 0);
	ck_assert_int_eq(sa_anomaly_diff_builds(bl, XA, XC, NULL, &l, &ei),
			 -SA_ERR_NODATA);
	ck_assert_msg(strstr(ei.msg, "share no branch"), "%s", ei.msg);
	{
		struct sa_detect_opts o = { .flags = SA_DETECT_CROSS_BUILD };

		/* a rebuilt BIN whose one function neither A nor C (the
		 * baseline's latest build of BIN, the one compared) has
		 */
		sa_hist__free(w[0]);
		w[0] = sa_hist__new();
		f = synth_func(w[0], BIN, XE, "unrelated", 0x1000);
		f->calls = 100;
		synth_cond(w[0], f, 0x1010, 10, &r, 1000, 0.5);
		sa_hist_decode_mut(w[0])->instructions = 10000;
		ck_assert_int_eq(sa_anomaly_detect(bl, w, 1, &o, &l, &ei),
				 -SA_ERR_NODATA);
		ck_assert_msg(strstr(ei.msg, "nothing comparable"), "%s",
			      ei.msg);
	}
	for (i = 0; i < 4; i++)
		sa_hist__free(w[i]);
	sa_baseline__free(bl);
}
END_TEST

static Suite *anomaly_suite(void)
{
	Suite *s = suite_create("anomaly");
	TCase *tc = tcase_create("stats");

	tcase_add_test(tc, test_chi2_tail);
	tcase_add_test(tc, test_g_stat);
	tcase_add_test(tc, test_bh);
	tcase_add_test(tc, test_dispersion);
	suite_add_tcase(s, tc);
	tc = tcase_create("store");
	tcase_add_test(tc, test_store_sums_and_decay);
	tcase_add_test(tc, test_store_corrupt);
	tcase_add_test(tc, test_store_version);
	tcase_add_test(tc, test_bad_baselines);
	suite_add_tcase(s, tc);
	tc = tcase_create("detect");
	tcase_add_test(tc, test_detect_null);
	tcase_add_test(tc, test_detect_overdispersion);
	tcase_add_test(tc, test_detect_planted);
	tcase_add_test(tc, test_detect_loss_confidence);
	tcase_add_test(tc, test_output);
	tcase_add_test(tc, test_fmt);
	tcase_add_test(tc, test_diff_builds);
	tcase_add_test(tc, test_one_decision_one_report);
	tcase_add_test(tc, test_cross_builds);
	tcase_add_test(tc, test_cross_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sa_test_run(anomaly_suite());
}
