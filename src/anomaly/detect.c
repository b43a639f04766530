// SPDX-License-Identifier: BSD-2-Clause
/*
 * The detector: one likelihood-ratio test per branch direction, indirect
 * target, function call rate and error-sink rate; Rao-Scott adjustment by
 * the design effect measured in the baseline; Benjamini-Hochberg over all
 * the tests of one analysis; one anomaly per site; ranking.
 *
 * The design effect matters: branch outcomes inside one window are not
 * independent coin flips (loops, bursts of similar requests), so a plain
 * binomial test flags differences between two windows of the very same
 * workload.  The baseline's window-to-window spread says by how much the
 * variance is inflated, and the counts are divided by that factor before
 * testing.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/anomaly.h"
#include "sensor/log.h"

#include "model.h"
#include "stats.h"
#include "store.h"

/* Minimum share of a new or vanished edge or target at its site. */
#define SA_DETECT_MIN_NEW_SHARE 0.01
/* Demotion of call-rate shifts that a caller's decision explains. */
#define SA_DETECT_EXPLAINED_FACTOR 0.1

struct sa_anomaly_list {
	struct sa_anomaly *v;
	size_t n, cap;
	size_t nr_sig;
	size_t nr_tests;
};

/* A candidate before ranking. */
struct cand {
	struct sa_anomaly a;
	const struct sa_mbuild *build;	/* current side */
	const struct sa_mbuild *base;	/* baseline side */
	bool is_func;			/* site is a function, not a branch */
	bool effect_ok;
};

struct det {
	const struct sa_detect_opts *o;
	struct cand *c;
	size_t n, cap;
	double confidence;
	bool by_line;			/* diff: match by file:line */
	const struct sa_mbuild *base;	/* baseline build being compared */
	int err;
};

const char *sa_anomaly_kind_name(enum sa_anomaly_kind kind)
{
	static const char *const names[] = {
		[SA_ANOM_BIAS_SHIFT] = "bias_shift",
		[SA_ANOM_NEW_EDGE] = "new_edge",
		[SA_ANOM_VANISHED_EDGE] = "vanished_edge",
		[SA_ANOM_NEW_TARGET] = "new_target",
		[SA_ANOM_TARGET_SHIFT] = "target_shift",
		[SA_ANOM_VANISHED_TARGET] = "vanished_target",
		[SA_ANOM_CALL_RATE] = "call_rate",
		[SA_ANOM_ERROR_ORIGIN] = "error_origin",
	};

	if (kind <= 0 || kind >= SA_ANOM_KIND_MAX)
		return "unknown";
	return names[kind];
}

static void opts_fill(struct sa_detect_opts *d, const struct sa_detect_opts *o)
{
	memset(d, 0, sizeof(*d));
	if (o)
		*d = *o;
	if (!(d->fdr > 0))
		d->fdr = SA_DETECT_DEF_FDR;
	if (!(d->min_support > 0))
		d->min_support = SA_DETECT_DEF_MIN_SUPPORT;
	if (!(d->min_baseline > 0))
		d->min_baseline = SA_DETECT_DEF_MIN_BASELINE;
	if (!(d->min_delta > 0))
		d->min_delta = SA_DETECT_DEF_MIN_DELTA;
	if (!(d->min_rate_ratio > 1))
		d->min_rate_ratio = SA_DETECT_DEF_MIN_RATE_RATIO;
}

static void anomaly_fini(struct sa_anomaly *a)
{
	free((char *)a->function);
	free((char *)a->linkage_name);
	free((char *)a->binary);
	free((char *)a->build_id);
	free((char *)a->file);
	free((char *)a->insn);
	free((char *)a->decision);
	free((char *)a->explained_by);
}

void sa_anomaly_list__free(struct sa_anomaly_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		anomaly_fini(&l->v[i]);
	free(l->v);
	free(l);
}

size_t sa_anomaly_list_len(const struct sa_anomaly_list *l)
{
	return l ? l->n : 0;
}

size_t sa_anomaly_list_nr_significant(const struct sa_anomaly_list *l)
{
	return l ? l->nr_sig : 0;
}

size_t sa_anomaly_list_nr_tests(const struct sa_anomaly_list *l)
{
	return l ? l->nr_tests : 0;
}

const struct sa_anomaly *sa_anomaly_list_get(const struct sa_anomaly_list *l,
					     size_t idx)
{
	if (!l || idx >= l->n)
		return NULL;
	return &l->v[idx];
}

/* Adds a candidate; its strings are borrowed until sa_anomaly_list is
 * made (they live in the models).
 */
static struct cand *cand_new(struct det *d, const struct sa_mbuild *b,
			     enum sa_anomaly_kind kind)
{
	struct cand *c;

	if (d->err)
		return NULL;
	if (d->n >= SA_DETECT_MAX_ANOMALIES) {
		d->err = -SA_ERR_TOOBIG;
		return NULL;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 256;

		c = realloc(d->c, cap * sizeof(*c));
		if (!c) {
			d->err = -ENOMEM;
			return NULL;
		}
		d->c = c;
		d->cap = cap;
	}
	c = &d->c[d->n++];
	memset(c, 0, sizeof(*c));
	c->build = b;
	c->base = d->base;
	c->a.kind = kind;
	c->a.binary = b->binary;
	c->a.build_id = b->build_id;
	c->a.confidence = d->confidence;
	return c;
}

/* The mangled name of the function holding @br in @b, or NULL. */
static const char *linkage_of(const struct sa_mbuild *b,
			      const struct sa_mbranch *br)
{
	const struct sa_mfunc *f;

	if (!b || !br->func)
		return NULL;
	f = sa_mbuild_func(b, br->func_entry, br->func);
	return f ? f->linkage : NULL;
}

static void set_site(struct cand *c, const struct sa_mbranch *br)
{
	c->a.function = br->func;
	c->a.linkage_name = linkage_of(c->build, br);
	if (!c->a.linkage_name)
		c->a.linkage_name = linkage_of(c->base, br);
	c->a.file = br->file;
	c->a.line = br->line;
	c->a.insn = br->insn;
	c->a.offset = br->offset;
}

/* The design effect for the current side from the baseline's spread:
 * phi_b at the baseline's mean window size n_b becomes an intra-window
 * correlation rho, scaled to the current mean window size.
 */
static double deff_cur(double phi_b, double n_b, double n_c, double phi_c)
{
	double rho = 0, deff;

	if (n_b > 1 && phi_b > 1)
		rho = (phi_b - 1) / (n_b - 1);
	if (rho > 1)
		rho = 1;
	deff = 1 + (n_c > 1 ? n_c - 1 : 0) * rho;
	return deff > phi_c ? deff : phi_c;
}

static void finish_test(struct cand *c, double g)
{
	c->a.stat = g;
	c->a.log10_p = sa_chi2_1_log10_sf(g);
	c->a.p_value = pow(10, c->a.log10_p);
}

/* One conditional branch: the direction that changed. */
static void test_cond(struct det *d, const struct sa_mbuild *bb,
		      const struct sa_mbuild *cb, const struct sa_mbranch *b,
		      const struct sa_mbranch *c)
{
	double N = b->taken + b->not_taken, n = c->taken + c->not_taken;
	double phi_b, phi_c, deff, pb, pc, delta, g;
	double bt, bn, ct, cn;	/* the decision's and the other's counts */
	bool taken, vanished = false, is_new = false, sink;
	enum sa_anomaly_kind kind;
	struct cand *ca;

	if (N < d->o->min_baseline || n < d->o->min_support)
		return;
	phi_b = sa_phi_binom(b->taken, N, b->s_tt, b->nwin);
	phi_c = c->nwin >= 3 ? sa_phi_binom(c->taken, n, c->s_tt, c->nwin) : 1;
	deff = deff_cur(phi_b, b->nwin > 0 ? N / b->nwin : N,
			c->nwin > 0 ? n / c->nwin : n, phi_c);
	g = sa_g_2x2(b->taken / phi_b, b->not_taken / phi_b, c->taken / deff,
		     c->not_taken / deff);
	pb = b->taken / N;
	pc = c->taken / n;
	delta = pc - pb;
	taken = delta >= 0;

	/* Name the decision that appeared, or the one that vanished. */
	if (taken) {
		bt = b->taken, bn = b->not_taken, ct = c->taken;
		cn = c->not_taken;
	} else {
		bt = b->not_taken, bn = b->taken, ct = c->not_taken;
		cn = c->taken;
	}
	if (bt < 0.5 && ct > 0) {
		is_new = true;
		kind = SA_ANOM_NEW_EDGE;
	} else if (cn <= 0 && bn >= 0.5) {
		vanished = true;
		taken = !taken;
		kind = SA_ANOM_VANISHED_EDGE;
	} else {
		kind = SA_ANOM_BIAS_SHIFT;
	}
	sink = taken ? b->sink_t + c->sink_t > 0 : b->sink_nt + c->sink_nt > 0;
	if (sink && !vanished)
		kind = SA_ANOM_ERROR_ORIGIN;

	ca = cand_new(d, cb, kind);
	if (!ca)
		return;
	set_site(ca, c);
	ca->a.decision = taken ? "taken" : "not taken";
	ca->a.error_path = sink;
	ca->a.base_count = vanished ? bn : bt;
	ca->a.cur_count = vanished ? cn : ct;
	ca->a.base_total = N;
	ca->a.cur_total = n;
	ca->a.base_ratio = ca->a.base_count / N;
	ca->a.cur_ratio = ca->a.cur_count / n;
	ca->a.base_windows = b->nwin;
	ca->a.cur_windows = c->nwin;
	ca->a.design_effect = deff;
	finish_test(ca, g);
	if (is_new)
		ca->effect_ok = ca->a.cur_ratio >= SA_DETECT_MIN_NEW_SHARE;
	else if (vanished)
		ca->effect_ok = ca->a.base_ratio >= SA_DETECT_MIN_NEW_SHARE;
	else
		ca->effect_ok = fabs(delta) >= d->o->min_delta;
	(void)bb;
}

/* Smoothed rate ratio, so that a zero on one side stays finite. */
static double rate_ratio(double x, double ex, double y, double ey)
{
	return ((x + 0.5) / ex) / ((y + 0.5) / ey);
}

static bool ratio_ok(const struct det *d, double r)
{
	return r >= d->o->min_rate_ratio || r <= 1 / d->o->min_rate_ratio;
}

/* How often a branch's decisions lead into an error sink. */
static void test_sink(struct det *d, const struct sa_mbuild *cb,
		      const struct sa_mbranch *b, const struct sa_mbranch *c)
{
	double N = b->taken + b->not_taken, n = c->taken + c->not_taken;
	double S = b->sink_t + b->sink_nt, s = c->sink_t + c->sink_nt;
	double phi_b, deff, g, r;
	struct cand *ca;

	if (S + s <= 0 || N < d->o->min_baseline || n < d->o->min_support)
		return;
	phi_b = sa_phi_binom(S, N, b->s_ss, b->nwin);
	deff = deff_cur(phi_b, b->nwin > 0 ? N / b->nwin : N,
			c->nwin > 0 ? n / c->nwin : n, 1);
	g = sa_g_2x2(S / phi_b, (N - S) / phi_b, s / deff, (n - s) / deff);
	r = rate_ratio(s, n, S, N);
	ca = cand_new(d, cb, SA_ANOM_ERROR_ORIGIN);
	if (!ca)
		return;
	set_site(ca, c);
	ca->a.decision = c->sink_t + b->sink_t >= c->sink_nt + b->sink_nt ?
				 "taken" : "not taken";
	ca->a.error_path = true;
	ca->a.base_count = S;
	ca->a.cur_count = s;
	ca->a.base_total = N;
	ca->a.cur_total = n;
	ca->a.base_ratio = S / N;
	ca->a.cur_ratio = s / n;
	ca->a.base_windows = b->nwin;
	ca->a.cur_windows = c->nwin;
	ca->a.design_effect = deff;
	finish_test(ca, g);
	/* Only more errors is an error origin; fewer is good news. */
	ca->effect_ok = s / n > S / N && ratio_ok(d, r);
}

static void test_targets(struct det *d, const struct sa_mbuild *cb,
			 const struct sa_mbranch *b, const struct sa_mbranch *c)
{
	double E = b->tot, e = c->tot;
	size_t i, j;

	if (E < d->o->min_baseline || e < d->o->min_support)
		return;
	/* Union of the target keys: both lists are sorted. */
	for (i = 0, j = 0; i < b->nr_targets || j < c->nr_targets;) {
		const struct sa_mtarget *tb = NULL, *tc = NULL;
		double K, k, phi_b, deff, g, delta;
		enum sa_anomaly_kind kind;
		struct cand *ca;
		int cmp;

		if (i >= b->nr_targets)
			cmp = 1;
		else if (j >= c->nr_targets)
			cmp = -1;
		else
			cmp = strcmp(b->targets[i].key, c->targets[j].key);
		if (cmp <= 0)
			tb = &b->targets[i++];
		if (cmp >= 0)
			tc = &c->targets[j++];
		K = tb ? tb->count : 0;
		k = tc ? tc->count : 0;
		if (K + k <= 0)
			continue;
		phi_b = tb ? sa_phi_binom(K, E, tb->s_kk, b->nwin_t) : 1;
		deff = deff_cur(phi_b, b->nwin_t > 0 ? E / b->nwin_t : E,
				c->nwin_t > 0 ? e / c->nwin_t : e, 1);
		g = sa_g_2x2(K / phi_b, (E - K) / phi_b, k / deff,
			     (e - k) / deff);
		delta = k / e - K / E;
		if (K < 0.5)
			kind = SA_ANOM_NEW_TARGET;
		else if (k <= 0)
			kind = SA_ANOM_VANISHED_TARGET;
		else
			kind = SA_ANOM_TARGET_SHIFT;
		ca = cand_new(d, cb, kind);
		if (!ca)
			return;
		set_site(ca, c);
		ca->a.decision = tc ? tc->sym : tb->sym;
		ca->a.base_count = K;
		ca->a.cur_count = k;
		ca->a.base_total = E;
		ca->a.cur_total = e;
		ca->a.base_ratio = K / E;
		ca->a.cur_ratio = k / e;
		ca->a.base_windows = b->nwin_t;
		ca->a.cur_windows = c->nwin_t;
		ca->a.design_effect = deff;
		finish_test(ca, g);
		if (kind == SA_ANOM_NEW_TARGET)
			ca->effect_ok = k / e >= SA_DETECT_MIN_NEW_SHARE;
		else if (kind == SA_ANOM_VANISHED_TARGET)
			ca->effect_ok = K / E >= SA_DETECT_MIN_NEW_SHARE;
		else
			ca->effect_ok = fabs(delta) >= d->o->min_delta;
	}
}

/* Calls (or error-sink entries) of a function per window instruction. */
static void test_rate(struct det *d, const struct sa_mbuild *bb,
		      const struct sa_mbuild *cb, const struct sa_mfunc *bf,
		      const struct sa_mfunc *cf, bool sinks)
{
	double C = sinks ? bf->sink_entries : bf->calls;
	double s_cc = sinks ? bf->s_ee : bf->s_cc;
	double c = cf ? (sinks ? cf->sink_entries : cf->calls) : 0;
	double I = bb->insns, Ic = cb->insns, mu, phi_b, deff, g, r;
	struct cand *ca;

	if (I <= 0 || Ic <= 0)
		return;
	mu = C / I * Ic;
	if (C < d->o->min_baseline || (mu < d->o->min_support &&
				       c < d->o->min_support))
		return;
	phi_b = sa_phi_pois(C, I, s_cc, bb->windows);
	/* Negative-binomial style: the extra variance grows with the
	 * expected count per window.
	 */
	deff = 1;
	if (phi_b > 1 && bb->windows > 0 && cb->windows > 0)
		deff = 1 + (phi_b - 1) * (mu / cb->windows) /
				   (C / bb->windows);
	if (deff < 1)
		deff = 1;
	g = sa_g_rates(c / deff, Ic / deff, C / phi_b, I / phi_b);
	r = rate_ratio(c, Ic, C, I);
	ca = cand_new(d, cb, sinks ? SA_ANOM_ERROR_ORIGIN : SA_ANOM_CALL_RATE);
	if (!ca)
		return;
	ca->is_func = true;
	ca->a.function = bf->name;
	ca->a.linkage_name = bf->linkage;
	ca->a.file = cf && cf->file ? cf->file : bf->file;
	ca->a.line = cf && cf->file ? cf->line : bf->line;
	ca->a.offset = cf ? cf->entry : bf->entry;
	ca->a.decision = sinks ? "error sink entries" : "calls";
	ca->a.error_path = sinks;
	ca->a.base_count = C;
	ca->a.cur_count = c;
	ca->a.base_total = I;
	ca->a.cur_total = Ic;
	ca->a.base_ratio = C / I * 1e6;
	ca->a.cur_ratio = c / Ic * 1e6;
	ca->a.base_windows = bb->windows;
	ca->a.cur_windows = cb->windows;
	ca->a.design_effect = deff;
	finish_test(ca, g);
	ca->effect_ok = ratio_ok(d, r);
	if (sinks)
		ca->effect_ok = ca->effect_ok && c / Ic > C / I;
}

/* Diff mode: branches of two builds are matched by function, file,
 * line, class and order within that line, since offsets move.
 */
struct sig {
	char *key;
	const struct sa_mbranch *br;
};

static int cmp_sig(const void *a, const void *b)
{
	const struct sig *x = a, *y = b;

	return strcmp(x->key, y->key);
}

static void sigs_free(struct sig *s, size_t n)
{
	size_t i;

	for (i = 0; s && i < n; i++)
		free(s[i].key);
	free(s);
}

static struct sig *make_sigs(const struct sa_mbuild *b)
{
	struct sig *s = calloc(b->nr_branches + 1, sizeof(*s));
	size_t i, j;

	if (!s)
		return NULL;
	for (i = 0; i < b->nr_branches; i++) {
		const struct sa_mbranch *br = &b->branches[i];
		unsigned ord = 0;
		char buf[1024];

		/* Branches are sorted by offset: count the earlier ones
		 * with the same function, line and class.
		 */
		for (j = i; j-- > 0;) {
			const struct sa_mbranch *o = &b->branches[j];

			if (strcmp(o->func, br->func))
				break;
			if (o->line == br->line && o->iclass == br->iclass &&
			    !strcmp(o->file ? o->file : "",
				    br->file ? br->file : ""))
				ord++;
		}
		snprintf(buf, sizeof(buf), "%s\x1%s\x1%d\x1%u\x1%u", br->func,
			 br->file ? br->file : "", br->line, br->iclass, ord);
		s[i].key = strdup(buf);
		s[i].br = br;
		if (!s[i].key) {
			sigs_free(s, i);
			return NULL;
		}
	}
	if (b->nr_branches)
		qsort(s, b->nr_branches, sizeof(*s), cmp_sig);
	return s;
}

static const struct sa_mbranch *find_sig(const struct sig *s, size_t n,
					 const char *key)
{
	struct sig k = { .key = (char *)key };
	const struct sig *r;

	if (!n)
		return NULL;
	r = bsearch(&k, s, n, sizeof(k), cmp_sig);
	return r ? r->br : NULL;
}

static void compare_builds(struct det *d, const struct sa_mbuild *bb,
			   const struct sa_mbuild *cb)
{
	struct sig *bs = NULL, *cs = NULL;
	bool attributed = false;
	size_t i, j;

	d->base = bb;
	if (d->by_line) {
		bs = make_sigs(bb);
		cs = make_sigs(cb);
		if (!bs || !cs) {
			d->err = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < cb->nr_branches && !d->err; i++) {
		const struct sa_mbranch *c = d->by_line ? cs[i].br :
							  &cb->branches[i];
		const struct sa_mbranch *b;

		b = d->by_line ? find_sig(bs, bb->nr_branches, cs[i].key) :
				 sa_mbuild_branch(bb, c->offset);
		if (!b)
			continue;
		if (c->iclass == SA_IC_COND) {
			test_cond(d, bb, cb, b, c);
			test_sink(d, cb, b, c);
		} else if (sa_iclass_is_indirect(c->iclass)) {
			test_targets(d, cb, b, c);
		}
	}
	/* When the history builder attributes sink entries to decisions,
	 * error origins are tested at those decisions; the per-function
	 * sink counts are only tested when no decision of the build carries
	 * attribution (histories from builders that do not attribute).
	 */
	for (j = 0; j < bb->nr_branches && !attributed; j++)
		attributed = bb->branches[j].sink_t +
			     bb->branches[j].sink_nt > 0;
	for (j = 0; j < cb->nr_branches && !attributed; j++)
		attributed = cb->branches[j].sink_t +
			     cb->branches[j].sink_nt > 0;
	for (i = 0; i < bb->nr_funcs && !d->err; i++) {
		const struct sa_mfunc *bf = &bb->funcs[i], *cf;

		cf = d->by_line ? sa_mbuild_func_by_name(cb, bf->name) :
				  sa_mbuild_func(cb, bf->entry, bf->name);
		test_rate(d, bb, cb, bf, cf, false);
		if (!attributed && (bf->sink_entries ||
				    (cf && cf->sink_entries)))
			test_rate(d, bb, cb, bf, cf, true);
	}
out:
	sigs_free(bs, bb->nr_branches);
	sigs_free(cs, cb->nr_branches);
}

static int cmp_cand_site(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;
	int r = strcmp(a->build->key, b->build->key);

	if (r)
		return r;
	if (a->is_func != b->is_func)
		return a->is_func ? 1 : -1;
	if (a->a.offset != b->a.offset)
		return a->a.offset < b->a.offset ? -1 : 1;
	/* Best first within a site. */
	if (a->a.significant != b->a.significant)
		return a->a.significant ? -1 : 1;
	if (a->a.score != b->a.score)
		return a->a.score > b->a.score ? -1 : 1;
	return 0;
}

static int cmp_rank(const void *x, const void *y)
{
	const struct sa_anomaly *a = x, *b = y;

	if (a->significant != b->significant)
		return a->significant ? -1 : 1;
	/* Decisions first: a call-rate shift is usually the consequence
	 * of a decision (often in a caller), rarely the other way round.
	 */
	if ((a->kind == SA_ANOM_CALL_RATE) != (b->kind == SA_ANOM_CALL_RATE))
		return a->kind == SA_ANOM_CALL_RATE ? 1 : -1;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->log10_p != b->log10_p)
		return a->log10_p < b->log10_p ? -1 : 1;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static char *dup_or_null(const char *s, int *err)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*err = -ENOMEM;
	return d;
}

/* Marks call-rate shifts whose function is called directly from a
 * function that has a significant decision anomaly: the decision is the
 * likelier cause, so it ranks first.
 */
static bool calls_from_flagged(const struct sa_mbuild *b, const char *callee,
			       const struct cand *v, size_t n,
			       const struct sa_mbuild *cur, const char **who)
{
	size_t j, k;

	for (j = 0; b && j < b->nr_branches; j++) {
		const struct sa_mbranch *br = &b->branches[j];

		if (br->iclass != SA_IC_CALL || !br->callee ||
		    strcmp(br->callee, callee))
			continue;
		for (k = 0; k < n; k++) {
			if (v[k].build != cur || v[k].is_func ||
			    !v[k].a.significant ||
			    strcmp(v[k].a.function, br->func))
				continue;
			*who = br->func;
			return true;
		}
	}
	return false;
}

/* Marks call-rate shifts whose function is called directly from a
 * function that has a significant decision anomaly: the decision is the
 * likelier cause, so it ranks first.  Call sites are looked up on both
 * sides, since a call that stopped happening exists only in the baseline.
 */
static void explain_rates(struct cand *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct cand *r = &v[i];
		const char *who = NULL;

		if (r->a.kind != SA_ANOM_CALL_RATE || !r->a.significant)
			continue;
		if (calls_from_flagged(r->build, r->a.function, v, n, r->build,
				       &who) ||
		    calls_from_flagged(r->base, r->a.function, v, n, r->build,
				       &who)) {
			r->a.explained_by = who;
			r->a.score *= SA_DETECT_EXPLAINED_FACTOR;
		}
	}
}

static int make_list(struct det *d, struct sa_anomaly_list **out)
{
	struct sa_anomaly_list *l;
	double *lp;
	size_t i, o;
	int err = 0;

	lp = calloc(d->n + 1, sizeof(*lp));
	if (!lp)
		return -ENOMEM;
	for (i = 0; i < d->n; i++)
		lp[i] = d->c[i].a.log10_p;
	err = sa_bh_log10(lp, lp, d->n);
	if (err) {
		free(lp);
		return err;
	}
	for (i = 0; i < d->n; i++) {
		struct cand *c = &d->c[i];

		c->a.q_value = pow(10, lp[i]);
		c->a.score = -lp[i];
		c->a.significant = lp[i] < log10(d->o->fdr) && c->effect_ok;
	}
	free(lp);

	/* One anomaly per site: the best of its tests. */
	if (d->n)
		qsort(d->c, d->n, sizeof(*d->c), cmp_cand_site);
	for (i = 0, o = 0; i < d->n; i++) {
		if (o && d->c[o - 1].build == d->c[i].build &&
		    d->c[o - 1].is_func == d->c[i].is_func &&
		    d->c[o - 1].a.offset == d->c[i].a.offset) {
			/* A significant error test at the site makes the
			 * kept anomaly an error origin.
			 */
			if (d->c[i].a.significant && d->c[i].a.error_path &&
			    d->c[o - 1].a.significant) {
				d->c[o - 1].a.error_path = true;
				if (d->c[o - 1].a.kind == SA_ANOM_BIAS_SHIFT ||
				    d->c[o - 1].a.kind == SA_ANOM_NEW_EDGE)
					d->c[o - 1].a.kind =
						SA_ANOM_ERROR_ORIGIN;
			}
			continue;
		}
		d->c[o++] = d->c[i];
	}
	explain_rates(d->c, o);

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->v = calloc(o + 1, sizeof(*l->v));
	if (!l->v) {
		free(l);
		return -ENOMEM;
	}
	l->nr_tests = d->n;
	for (i = 0; i < o; i++) {
		const struct sa_anomaly *s = &d->c[i].a;
		struct sa_anomaly *a = &l->v[l->n++];

		*a = *s;
		a->function = dup_or_null(s->function, &err);
		a->linkage_name = dup_or_null(s->linkage_name, &err);
		a->binary = dup_or_null(s->binary, &err);
		a->build_id = dup_or_null(s->build_id, &err);
		a->file = dup_or_null(s->file, &err);
		a->insn = dup_or_null(s->insn, &err);
		a->decision = dup_or_null(s->decision, &err);
		a->explained_by = dup_or_null(s->explained_by, &err);
		if (a->significant)
			l->nr_sig++;
	}
	if (err) {
		sa_anomaly_list__free(l);
		return err;
	}
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_rank);
	for (i = 0; i < l->n; i++)
		l->v[i].rank = (unsigned)i + 1;
	*out = l;
	return 0;
}

static int det_finish(struct det *d, struct sa_anomaly_list **out,
		      struct sa_errinfo *ei)
{
	int err = d->err;

	if (!err)
		err = make_list(d, out);
	free(d->c);
	if (err == -SA_ERR_TOOBIG)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "more than %d candidate anomalies (the limit)",
				      SA_DETECT_MAX_ANOMALIES);
	if (err)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "anomaly detection: %s",
				      sa_strerror(err));
	return 0;
}

/* Instructions of a build's functions (0 when the history has none). */
static double build_insns(const struct sa_mbuild *b)
{
	double n = 0;
	size_t i;

	for (i = 0; i < b->nr_funcs; i++)
		n += b->funcs[i].insns;
	return n;
}

int sa_anomaly_detect(struct sa_baseline *bl, struct sa_hist *const *wins,
		      size_t nr, const struct sa_detect_opts *o,
		      struct sa_anomaly_list **out, struct sa_errinfo *ei)
{
	struct sa_detect_opts opts;
	struct sa_model *cur = NULL;
	struct sa_mbuild *bases = NULL;
	struct det d = { 0 };
	char other[256] = "", known[256];
	const struct sa_mbuild *unmatched = NULL;
	double all_insns = 0, matched_insns = 0;
	size_t i, matched = 0;
	int nb, err = 0;

	sa_errinfo_clear(ei);
	*out = NULL;
	opts_fill(&opts, o);
	d.o = &opts;

	nb = sa_baseline_nr_builds(bl);
	if (nb < 0)
		return sa_errinfo_set(ei, nb, SA_NO_OFFSET,
				      "baseline %s: cannot read its builds",
				      sa_baseline_path(bl));
	if (nb == 0)
		return sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
			"baseline %s is empty: add windows of normal "
			"behaviour first (`sensor-agent baseline add --db %s "
			"WINDOW...`)", sa_baseline_path(bl),
			sa_baseline_path(bl));

	cur = sa_model__new();
	if (!cur)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		struct sa_model *m = sa_model_from_hist(wins[i]);

		if (!m) {
			err = -errno;
			goto out;
		}
		err = sa_model_merge(cur, m);
		sa_model__free(m);
		if (err)
			goto out;
	}
	if (!cur->nr_builds) {
		err = sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
			"the windows hold no function of a known binary: "
			"nothing to compare");
		goto out;
	}
	d.confidence = cur->confidence;

	bases = calloc(cur->nr_builds, sizeof(*bases));
	if (!bases) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < cur->nr_builds; i++) {
		const struct sa_mbuild *cb = &cur->builds[i];
		struct sa_errinfo lei;
		double insns = build_insns(cb);

		all_insns += insns;
		err = sa_baseline_load(bl, cb->key, &bases[i], &lei);
		if (err == -SA_ERR_NOTFOUND) {
			err = sa_baseline_other_build(bl, cb->binary, cb->key,
						      other, sizeof(other));
			if (err < 0)
				goto out;
			if (err == 1) {
				/* A rebuilt binary: its baseline says nothing
				 * about the new code, and comparing only the
				 * other binaries would hide that.
				 */
				err = sa_errinfo_set(ei, -SA_ERR_BUILDID,
					SA_NO_OFFSET,
					"windows of another build: %s is "
					"build %s, the baseline %s holds "
					"build %s of it (rebuilt: `baseline "
					"add` windows of the new build, or "
					"`baseline diff` the two)",
					cb->binary, cb->key,
					sa_baseline_path(bl), other);
				goto out;
			}
			sa_info("baseline has no build %s of %s; skipped\n",
				cb->key, cb->binary);
			if (!unmatched)
				unmatched = cb;
			err = 0;
			continue;
		}
		if (err) {
			if (ei)
				*ei = lei;
			goto out;
		}
		matched++;
		matched_insns += insns;
		compare_builds(&d, &bases[i], cb);
	}
	/* Windows mostly of a binary the baseline does not know: comparing
	 * the few library functions they share would be misleading.
	 */
	if (!matched || (unmatched && matched_insns < all_insns / 2)) {
		sa_baseline_describe(bl, known, sizeof(known));
		err = sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
			"the windows are from another binary: they trace %s "
			"[%s], the baseline %s holds %s",
			unmatched ? unmatched->binary : cur->builds[0].binary,
			unmatched ? unmatched->key : cur->builds[0].key,
			sa_baseline_path(bl), known);
		goto out;
	}
	err = det_finish(&d, out, ei);
	d.c = NULL;
out:
	free(d.c);
	if (bases)
		for (i = 0; i < cur->nr_builds; i++)
			sa_mbuild_fini(&bases[i]);
	free(bases);
	sa_model__free(cur);
	if (err && ei && !ei->msg[0])
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "anomaly detection: %s",
			       sa_strerror(err));
	return err;
}

int sa_anomaly_diff_builds(struct sa_baseline *bl, const char *a,
			   const char *b, const struct sa_detect_opts *o,
			   struct sa_anomaly_list **out,
			   struct sa_errinfo *ei)
{
	struct sa_baseline_build ba, bb;
	struct sa_mbuild ma, mb;
	struct sa_detect_opts opts;
	struct det d = { 0 };
	int err;

	sa_errinfo_clear(ei);
	*out = NULL;
	opts_fill(&opts, o);
	d.o = &opts;
	d.by_line = true;
	d.confidence = 1;
	err = sa_baseline_find_build(bl, a, &ba, ei);
	if (!err)
		err = sa_baseline_find_build(bl, b, &bb, ei);
	if (err)
		return err;
	err = sa_baseline_load(bl, ba.key, &ma, ei);
	if (err)
		return err;
	err = sa_baseline_load(bl, bb.key, &mb, ei);
	if (err) {
		sa_mbuild_fini(&ma);
		return err;
	}
	compare_builds(&d, &ma, &mb);
	err = det_finish(&d, out, ei);
	sa_mbuild_fini(&ma);
	sa_mbuild_fini(&mb);
	return err;
}
