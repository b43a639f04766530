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
#include "output.h"
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
	struct sa_anomaly_match match;
};

/* A candidate before ranking. */
struct cand {
	struct sa_anomaly a;
	const struct sa_mbuild *build;	/* current side */
	const struct sa_mbuild *base;	/* baseline side */
	bool is_func;			/* site is a function, not a branch */
	bool effect_ok;
	/* grouping (group_causes()): the candidate this one is folded
	 * into, or -1 for a root
	 */
	long parent;
	enum sa_anomaly_relation rel;
};

struct det {
	const struct sa_detect_opts *o;
	struct cand *c;
	size_t n, cap;
	double confidence;
	const struct sa_mbuild *base;	/* baseline build being compared */
	struct sa_anomaly_match match;	/* cross-build pairs */
	bool cross;			/* comparing two builds */
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

const char *sa_anomaly_relation_name(enum sa_anomaly_relation rel)
{
	switch (rel) {
	case SA_ANOM_REL_SAME_LINE:
		return "same_line";
	case SA_ANOM_REL_CALLER:
		return "caller";
	default:
		return "unknown";
	}
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
	size_t i;

	free((char *)a->function);
	free((char *)a->linkage_name);
	free((char *)a->binary);
	free((char *)a->build_id);
	free((char *)a->file);
	free((char *)a->insn);
	free((char *)a->decision);
	free((char *)a->explained_by);
	for (i = 0; i < a->nr_also; i++) {
		const struct sa_anomaly_also *m = &a->also[i];

		free((char *)m->function);
		free((char *)m->file);
		free((char *)m->insn);
		free((char *)m->decision);
	}
	free((void *)a->also);
}

void sa_anomaly__fini(struct sa_anomaly *a)
{
	anomaly_fini(a);
	memset(a, 0, sizeof(*a));
}

static char *dup_or_null(const char *s, int *err);

int sa_anomaly__copy(struct sa_anomaly *dst, const struct sa_anomaly *src)
{
	struct sa_anomaly_also *m = NULL;
	size_t i;
	int err = 0;

	*dst = *src;
	dst->nr_also = 0;
	dst->also = NULL;
	dst->function = dup_or_null(src->function, &err);
	dst->binary = dup_or_null(src->binary, &err);
	dst->build_id = dup_or_null(src->build_id, &err);
	dst->file = dup_or_null(src->file, &err);
	dst->insn = dup_or_null(src->insn, &err);
	dst->decision = dup_or_null(src->decision, &err);
	dst->explained_by = dup_or_null(src->explained_by, &err);
	if (src->nr_also) {
		m = calloc(src->nr_also, sizeof(*m));
		if (!m)
			return -ENOMEM;
		dst->also = m;
	}
	for (i = 0; i < src->nr_also; i++) {
		m[i] = src->also[i];
		m[i].function = dup_or_null(src->also[i].function, &err);
		m[i].file = dup_or_null(src->also[i].file, &err);
		m[i].insn = dup_or_null(src->also[i].insn, &err);
		m[i].decision = dup_or_null(src->also[i].decision, &err);
		dst->nr_also++;
	}
	return err;
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

const struct sa_anomaly_match *
sa_anomaly_list_match(const struct sa_anomaly_list *l)
{
	return l && l->match.builds ? &l->match : NULL;
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
	c->parent = -1;
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

static int cmp_target_sym(const void *x, const void *y)
{
	const struct sa_mtarget *a = x, *b = y;

	return strcmp(a->sym, b->sym);
}

/* Across builds a target's address moves with the code: its symbol names
 * it.  Targets of one symbol (a jump table inside one function) are
 * summed into one; their per-window second moment is bounded above by
 * m times the sum of theirs (Cauchy-Schwarz), which can only make the
 * test more cautious.  A target without a symbol keeps its address in
 * its name and shows as new or vanished, never as the same.  The copies
 * borrow the strings of @br.
 */
static struct sa_mtarget *targets_by_sym(const struct sa_mbranch *br,
					 size_t *nr)
{
	struct sa_mtarget *v = calloc(br->nr_targets + 1, sizeof(*v));
	size_t i, o, m;

	if (!v)
		return NULL;
	if (br->nr_targets) {
		memcpy(v, br->targets, br->nr_targets * sizeof(*v));
		qsort(v, br->nr_targets, sizeof(*v), cmp_target_sym);
	}
	for (i = 0, o = 0; i < br->nr_targets; o++) {
		double count = 0, s_kk = 0;

		for (m = 0; i + m < br->nr_targets &&
			    !strcmp(v[i + m].sym, v[i].sym); m++) {
			count += v[i + m].count;
			s_kk += v[i + m].s_kk;
		}
		v[o] = v[i];
		v[o].count = count;
		v[o].s_kk = s_kk * (double)m;
		i += m;
	}
	*nr = o;
	return v;
}

static void test_targets(struct det *d, const struct sa_mbuild *cb,
			 const struct sa_mbranch *b, const struct sa_mbranch *c)
{
	const struct sa_mtarget *bt = b->targets, *ct = c->targets;
	struct sa_mtarget *bx = NULL, *cx = NULL;
	size_t i, j, nb = b->nr_targets, nc = c->nr_targets;
	double E = b->tot, e = c->tot;

	if (E < d->o->min_baseline || e < d->o->min_support)
		return;
	if (d->cross) {
		bt = bx = targets_by_sym(b, &nb);
		ct = cx = targets_by_sym(c, &nc);
		if (!bx || !cx) {
			d->err = -ENOMEM;
			goto out;
		}
	}
	/* Union of the target keys (the symbols across builds): both lists
	 * are sorted.
	 */
	for (i = 0, j = 0; i < nb || j < nc;) {
		const struct sa_mtarget *tb = NULL, *tc = NULL;
		double K, k, phi_b, deff, g, delta;
		enum sa_anomaly_kind kind;
		struct cand *ca;
		int cmp;

		if (i >= nb)
			cmp = 1;
		else if (j >= nc)
			cmp = -1;
		else if (d->cross)
			cmp = strcmp(bt[i].sym, ct[j].sym);
		else
			cmp = strcmp(bt[i].key, ct[j].key);
		if (cmp <= 0)
			tb = &bt[i++];
		if (cmp >= 0)
			tc = &ct[j++];
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
			break;
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
out:
	free(bx);
	free(cx);
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

/* Across builds, offsets move: branches are matched by function name,
 * source file, line, class and position among the branches of that class
 * on that line; without a line table, by their offset within the
 * function.  The file is compared by its path suffix, not the whole path
 * (two checkouts of the same source in different directories build the
 * same code): the key holds the last component, and among several
 * candidates with the same key the one sharing the longest suffix wins.
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

static const char *path_base(const char *p)
{
	const char *s;

	if (!p)
		return "";
	s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Number of trailing path components @a and @b share. */
static unsigned path_suffix(const char *a, const char *b)
{
	size_t i, j;
	unsigned n = 0;

	if (!a || !b)
		return 0;
	i = strlen(a);
	j = strlen(b);
	while (i && j) {
		size_t ai = i, bj = j;

		while (ai && a[ai - 1] != '/')
			ai--;
		while (bj && b[bj - 1] != '/')
			bj--;
		if (i - ai != j - bj || memcmp(a + ai, b + bj, i - ai))
			break;
		n++;
		if (!ai || !bj)
			break;
		i = ai - 1;
		j = bj - 1;
	}
	return n;
}

static bool testable(const struct sa_mbranch *br)
{
	return br->iclass == SA_IC_COND || sa_iclass_is_indirect(br->iclass);
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

		if (br->file && br->line > 0) {
			/* Branches are sorted by offset: count the earlier
			 * ones with the same function, file, line and class.
			 */
			for (j = i; j-- > 0;) {
				const struct sa_mbranch *o = &b->branches[j];

				if (strcmp(o->func, br->func))
					break;
				if (o->line == br->line &&
				    o->iclass == br->iclass && o->file &&
				    !strcmp(o->file, br->file))
					ord++;
			}
			snprintf(buf, sizeof(buf), "%s\x1%s\x1L%d\x1%u\x1%u",
				 br->func, path_base(br->file), br->line,
				 br->iclass, ord);
		} else {
			snprintf(buf, sizeof(buf), "%s\x1\x1+%" PRIx64
				 "\x1%u", br->func,
				 br->offset - br->func_entry, br->iclass);
		}
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

/* The branch of @s (@n) with @key whose file shares the longest path
 * suffix with @file.
 */
static const struct sa_mbranch *find_sig(const struct sig *s, size_t n,
					 const char *key, const char *file)
{
	struct sig k = { .key = (char *)key };
	const struct sig *r, *best;
	unsigned best_n;

	if (!n)
		return NULL;
	r = bsearch(&k, s, n, sizeof(k), cmp_sig);
	if (!r)
		return NULL;
	while (r > s && !strcmp(r[-1].key, key))
		r--;
	best = r;
	best_n = path_suffix(r->br->file, file);
	for (r++; r < s + n && !strcmp(r->key, key); r++) {
		unsigned m = path_suffix(r->br->file, file);

		if (m > best_n) {
			best = r;
			best_n = m;
		}
	}
	return best->br;
}

static int cmp_func_name(const void *a, const void *b)
{
	const struct sa_mfunc *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Functions of @b sorted by name, for matching by name. */
static const struct sa_mfunc **funcs_by_name(const struct sa_mbuild *b)
{
	const struct sa_mfunc **v = calloc(b->nr_funcs + 1, sizeof(*v));
	size_t i;

	if (!v)
		return NULL;
	for (i = 0; i < b->nr_funcs; i++)
		v[i] = &b->funcs[i];
	if (b->nr_funcs)
		qsort(v, b->nr_funcs, sizeof(*v), cmp_func_name);
	return v;
}

static const struct sa_mfunc *find_func(const struct sa_mfunc **v, size_t n,
					const char *name)
{
	struct sa_mfunc k = { .name = (char *)name };
	const struct sa_mfunc *kp = &k, *const *r;

	if (!n)
		return NULL;
	r = bsearch(&kp, v, n, sizeof(*v), cmp_func_name);
	return r ? *r : NULL;
}

/* Counts of one cross-build pair, added to @d->match; also whether the
 * pair has anything in common.
 */
static void count_match(struct det *d, const struct sa_mbuild *bb,
			const struct sa_mbuild *cb, const struct sig *bs,
			const struct sig *cs, const struct sa_mfunc **bf,
			const struct sa_mfunc **cf, struct sa_anomaly_match *m)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	m->builds = 1;
	for (i = 0; i < cb->nr_branches; i++) {
		if (!testable(cs[i].br))
			continue;
		if (find_sig(bs, bb->nr_branches, cs[i].key, cs[i].br->file))
			m->branches++;
		else
			m->branches_unmatched++;
	}
	for (i = 0; i < bb->nr_branches; i++)
		if (testable(bs[i].br) &&
		    !find_sig(cs, cb->nr_branches, bs[i].key, bs[i].br->file))
			m->base_branches_unmatched++;
	for (i = 0; i < cb->nr_funcs; i++) {
		if (find_func(bf, bb->nr_funcs, cf[i]->name))
			m->functions++;
		else
			m->functions_unmatched++;
	}
	for (i = 0; i < bb->nr_funcs; i++)
		if (!find_func(cf, cb->nr_funcs, bf[i]->name))
			m->base_functions_unmatched++;
	d->match.builds += m->builds;
	d->match.branches += m->branches;
	d->match.branches_unmatched += m->branches_unmatched;
	d->match.base_branches_unmatched += m->base_branches_unmatched;
	d->match.functions += m->functions;
	d->match.functions_unmatched += m->functions_unmatched;
	d->match.base_functions_unmatched += m->base_functions_unmatched;
}

/* Nothing of the two builds matched: comparing them would say "no
 * anomaly" about code it never compared.
 */
static bool nothing_comparable(const struct sa_anomaly_match *m)
{
	if (!m->functions)
		return true;
	return !m->branches && (m->branches_unmatched ||
				m->base_branches_unmatched);
}

static int nothing_err(const struct sa_mbuild *bb, const struct sa_mbuild *cb,
		       const struct sa_anomaly_match *m, struct sa_errinfo *ei)
{
	return sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
		"nothing comparable: build %s of %s and build %s of %s share "
		"no %s (%" PRIu64 " branches and %" PRIu64 " functions of "
		"the one, %" PRIu64 " and %" PRIu64 " of the other, matched "
		"by function name, source file suffix, line and position, or "
		"offset in the function without a line table): are they "
		"builds of the same source?", cb->key, cb->binary, bb->key,
		bb->binary, m->functions ? "branch" : "function",
		m->branches_unmatched, m->functions_unmatched,
		m->base_branches_unmatched, m->base_functions_unmatched);
}

/* Compares @cb with @bb; @cross: another build, matched by name and
 * line (with @m its match counts), else the same build, by offset.
 */
static void compare_builds(struct det *d, const struct sa_mbuild *bb,
			   const struct sa_mbuild *cb, bool cross,
			   struct sa_anomaly_match *m)
{
	struct sig *bs = NULL, *cs = NULL;
	const struct sa_mfunc **bfn = NULL, **cfn = NULL;
	bool attributed = false;
	size_t i, j;

	d->base = bb;
	d->cross = cross;
	if (cross) {
		bs = make_sigs(bb);
		cs = make_sigs(cb);
		bfn = funcs_by_name(bb);
		cfn = funcs_by_name(cb);
		if (!bs || !cs || !bfn || !cfn) {
			d->err = -ENOMEM;
			goto out;
		}
		count_match(d, bb, cb, bs, cs, bfn, cfn, m);
	}
	for (i = 0; i < cb->nr_branches && !d->err; i++) {
		const struct sa_mbranch *c = cross ? cs[i].br :
						     &cb->branches[i];
		const struct sa_mbranch *b;

		b = cross ? find_sig(bs, bb->nr_branches, cs[i].key, c->file) :
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

		cf = cross ? find_func(cfn, cb->nr_funcs, bf->name) :
			     sa_mbuild_func(cb, bf->entry, bf->name);
		/* Across builds a function the windows never reach may be
		 * gone (inlined, renamed): counted as unmatched, not as a
		 * call rate fallen to 0.
		 */
		if (cross && !cf)
			continue;
		test_rate(d, bb, cb, bf, cf, false);
		if (!attributed && (bf->sink_entries ||
				    (cf && cf->sink_entries)))
			test_rate(d, bb, cb, bf, cf, true);
	}
out:
	sigs_free(bs, bb->nr_branches);
	sigs_free(cs, cb->nr_branches);
	free(bfn);
	free(cfn);
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

/* One decision, one report.  Two significant anomalies share a cause
 * when:
 *
 *  same line:  both are conditional-branch anomalies of one function at
 *              one known file:line (one source `if` compiled to several
 *              instructions: the new edge of one and the vanished edge
 *              of the other are one decision); the best-scored is kept;
 *  caller:     X is a conditional-branch anomaly in function F, the
 *              other (Y) a decision anomaly in function G, F makes a
 *              direct call to G before X's branch (a call edge of the
 *              histories or the baseline), and the change of X's count
 *              matches Y's: |dX| and |dY| within the tolerance below,
 *              d = current count - baseline ratio x current total (the
 *              count beyond what the baseline predicts).  Y is the
 *              origin: X is folded into Y.
 *
 * Tolerance: when X is the branch on G's result, both count the same
 * events, except where a window's edge falls between G's decision and
 * F's branch: at most one per window on each side.  So
 *	tol = W_now + W_base * n_X / N_X + 5% of max(|dX|, |dY|),
 * the second term being the baseline's window edges carried into the
 * prediction, the third the rounding of decayed baseline counts and the
 * estimate of the two ratios from their own totals.
 */
#define SA_GROUP_REL_TOL 0.05

static bool is_cond_kind(const struct cand *c)
{
	return !c->is_func && c->a.insn &&
	       (c->a.kind == SA_ANOM_BIAS_SHIFT ||
		c->a.kind == SA_ANOM_NEW_EDGE ||
		c->a.kind == SA_ANOM_VANISHED_EDGE ||
		c->a.kind == SA_ANOM_ERROR_ORIGIN);
}

static bool is_decision_kind(const struct cand *c)
{
	return !c->is_func && c->a.kind != SA_ANOM_CALL_RATE;
}

static double excess(const struct cand *c)
{
	return c->a.cur_count - c->a.base_ratio * c->a.cur_total;
}

/* A direct call from @caller to @callee before @before, in @b. */
static bool calls_before(const struct sa_mbuild *b, const char *caller,
			 const char *callee, uint64_t before)
{
	size_t j;

	for (j = 0; b && j < b->nr_branches; j++) {
		const struct sa_mbranch *br = &b->branches[j];

		if (br->offset >= before)
			break;
		if (br->iclass == SA_IC_CALL && br->callee && br->func &&
		    !strcmp(br->callee, callee) && !strcmp(br->func, caller))
			return true;
	}
	return false;
}

static long root_of(const struct cand *v, long i, size_t n)
{
	size_t steps = 0;
	long r = i;

	while (v[r].parent >= 0) {
		r = v[r].parent;
		if (++steps > n || r == i)
			return -1;	/* a cycle (recursion) */
	}
	return r;
}

/* A better root than @best for the line of @o: higher score, then lower
 * offset.
 */
static bool better(const struct cand *o, const struct cand *best)
{
	return o->a.score > best->a.score ||
	       (o->a.score == best->a.score && o->a.offset < best->a.offset);
}

/* Sets parent (and rel) of the significant candidates folded into
 * another one; @sig lists the @ns significant ones.  Every pass runs over
 * @sig only (a list can hold up to SA_DETECT_MAX_ANOMALIES candidates,
 * few of them significant).  @cross: two builds compared, whose baseline side
 * has other offsets: call edges are looked up on the current side only.
 */
static void group_causes(struct cand *v, size_t n, const size_t *sig,
			 size_t ns, bool cross)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		v[i].parent = -1;
	/* same line: fold into the best-scored of the line */
	for (i = 0; i < ns; i++) {
		struct cand *x = &v[sig[i]];
		long best = -1;

		if (!is_cond_kind(x) || !x->a.file || !x->a.line)
			continue;
		for (j = 0; j < ns; j++) {
			const struct cand *o = &v[sig[j]];

			if (j == i || !is_cond_kind(o) ||
			    o->build != x->build || o->a.line != x->a.line || !o->a.file ||
			    strcmp(o->a.file, x->a.file) ||
			    strcmp(o->a.function, x->a.function) ||
			    !better(o, x))
				continue;
			if (best < 0 || better(o, &v[best]))
				best = (long)sig[j];
		}
		if (best >= 0) {
			x->parent = best;
			x->rel = SA_ANOM_REL_SAME_LINE;
		}
	}
	/* caller: a line's root on a callee's result */
	for (i = 0; i < ns; i++) {
		struct cand *x = &v[sig[i]];
		double dx = fabs(excess(x)), best_gap = INFINITY, tol_x;
		long best = -1;

		if (!is_cond_kind(x) || x->parent >= 0)
			continue;
		tol_x = x->a.cur_windows;
		if (x->a.base_total > 0)
			tol_x += x->a.base_windows * x->a.cur_total /
				 x->a.base_total;
		for (j = 0; j < ns; j++) {
			const struct cand *y = &v[sig[j]];
			double dy, gap, tol;

			if (j == i || !is_decision_kind(y) ||
			    y->build != x->build ||
			    !strcmp(y->a.function, x->a.function))
				continue;
			dy = fabs(excess(y));
			gap = fabs(dx - dy);
			tol = tol_x + SA_GROUP_REL_TOL * (dx > dy ? dx : dy);
			if (!(dy > 0) || gap > tol || gap >= best_gap)
				continue;
			/* a build diff's baseline side has other offsets */
			if (!calls_before(x->build, x->a.function,
					  y->a.function, x->a.offset) &&
			    (cross || !calls_before(x->base, x->a.function,
						      y->a.function,
						      x->a.offset)))
				continue;
			best = (long)sig[j];
			best_gap = gap;
		}
		if (best >= 0) {
			long r = v[best].parent >= 0 ? v[best].parent : best;

			x->parent = r;
			x->rel = SA_ANOM_REL_CALLER;
			if (root_of(v, (long)sig[i], n) < 0)
				x->parent = -1;
		}
	}
}

static int cmp_also(const void *x, const void *y)
{
	const struct sa_anomaly_also *a = x, *b = y;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Lists under root @r every significant candidate whose root it is
 * (@root: each one's root, -1 for none).
 */
static int collect_also(const struct cand *v, const size_t *sig, size_t ns,
			const long *root, size_t r, struct sa_anomaly *a)
{
	struct sa_anomaly_also *m;
	size_t i, k = 0;
	int err = 0;

	a->nr_also = 0;
	a->also = NULL;
	for (i = 0; i < ns; i++)
		if (sig[i] != r && root[i] == (long)r)
			k++;
	if (!k)
		return 0;
	m = calloc(k, sizeof(*m));
	if (!m)
		return -ENOMEM;
	a->also = m;
	for (i = 0; i < ns; i++) {
		const struct sa_anomaly *s = &v[sig[i]].a;
		struct sa_anomaly_also *e;

		if (sig[i] == r || root[i] != (long)r)
			continue;
		e = &m[a->nr_also++];
		e->kind = s->kind;
		e->relation = v[sig[i]].rel;
		e->function = dup_or_null(s->function, &err);
		e->file = dup_or_null(s->file, &err);
		e->line = s->line;
		e->insn = dup_or_null(s->insn, &err);
		e->offset = s->offset;
		e->decision = dup_or_null(s->decision, &err);
		e->base_ratio = s->base_ratio;
		e->cur_ratio = s->cur_ratio;
		e->base_count = s->base_count;
		e->cur_count = s->cur_count;
		e->score = s->score;
	}
	qsort(m, a->nr_also, sizeof(*m), cmp_also);
	return err;
}

static int make_list(struct det *d, struct sa_anomaly_list **out)
{
	struct sa_anomaly_list *l;
	size_t *sig = NULL, ns = 0, i, o, k;
	long *root = NULL;
	double *lp;
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
	sig = calloc(o + 1, sizeof(*sig));
	root = calloc(o + 1, sizeof(*root));
	if (!sig || !root) {
		free(sig);
		free(root);
		return -ENOMEM;
	}
	for (i = 0; i < o; i++)
		if (d->c[i].a.significant)
			sig[ns++] = i;
	group_causes(d->c, o, sig, ns, d->cross);
	for (i = 0; i < ns; i++)
		root[i] = d->c[sig[i]].parent >= 0 ?
				  root_of(d->c, (long)sig[i], o) : -1;

	l = calloc(1, sizeof(*l));
	if (l)
		l->v = calloc(o + 1, sizeof(*l->v));
	if (!l || !l->v) {
		free(l);
		free(sig);
		free(root);
		return -ENOMEM;
	}
	l->nr_tests = d->n;
	l->match = d->match;
	for (i = 0, k = 0; i < o; i++) {
		const struct sa_anomaly *s = &d->c[i].a;
		struct sa_anomaly *a;
		bool folded = false;

		while (k < ns && sig[k] < i)
			k++;
		if (k < ns && sig[k] == i)
			folded = root[k] >= 0;
		/* folded into its root: listed there, not on its own */
		if (folded)
			continue;
		a = &l->v[l->n++];
		*a = *s;
		a->nr_also = 0;
		a->also = NULL;
		if (s->significant &&
		    collect_also(d->c, sig, ns, root, i, a) && !err)
			err = -ENOMEM;
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
	free(sig);
	free(root);
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
			if (err == 1 && (opts.flags & SA_DETECT_CROSS_BUILD)) {
				struct sa_anomaly_match m;

				/* @other is the key: the build-id, or the
				 * path key of a binary without one.
				 */
				err = sa_baseline_load(bl, other, &bases[i],
						       ei);
				if (err)
					goto out;
				compare_builds(&d, &bases[i], cb, true, &m);
				if (!d.err && nothing_comparable(&m)) {
					err = nothing_err(&bases[i], cb, &m,
							  ei);
					goto out;
				}
				matched++;
				matched_insns += insns;
				continue;
			}
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
					"add` windows of the new build, "
					"`baseline diff` the two, or analyze "
					"--cross-build)",
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
		compare_builds(&d, &bases[i], cb, false, NULL);
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
	struct sa_anomaly_match m;
	struct sa_mbuild ma, mb;
	struct sa_detect_opts opts;
	struct det d = { 0 };
	int err;

	sa_errinfo_clear(ei);
	*out = NULL;
	opts_fill(&opts, o);
	d.o = &opts;
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
	compare_builds(&d, &ma, &mb, true, &m);
	if (!d.err && nothing_comparable(&m)) {
		free(d.c);
		err = nothing_err(&ma, &mb, &m, ei);
	} else {
		err = det_finish(&d, out, ei);
	}
	sa_mbuild_fini(&ma);
	sa_mbuild_fini(&mb);
	return err;
}
