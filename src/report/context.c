// SPDX-License-Identifier: BSD-2-Clause
/*
 * Decision context: which earlier decisions predict an anomalous one.
 *
 * Cooperative bug isolation (Liblit, Naik, Zheng, Aiken, Jordan: "Scalable
 * statistical bug isolation", PLDI 2005) on the ordered branch outcomes
 * of the windows.  Each execution of an anomaly's branch is a run; it
 * "fails" when the branch goes the anomalous way.  A predicate is "branch
 * P went way o" for an earlier conditional branch P of the same thread,
 * in the same call or one of its callers up to SA_CONTEXT_DEPTH frames,
 * its most recent outcome there; P is "observed" when it ran there at
 * all.  Then
 *
 *   Failure(P)  = F(P) / (F(P) + S(P))          runs where P held
 *   Context(P)  = F(P obs) / (F(P obs) + S(P obs))
 *   Increase(P) = Failure(P) - Context(P)
 *
 * and P is kept when the lower bound of the 95% normal interval of its
 * Increase is above 0 (and it held in at least 2 failing runs), ranked
 * by the harmonic mean of Increase and log F(P) / log NumF.
 *
 * Frames are matched as in the timeline (perf's thread stack).  Memory
 * is bounded: SA_CONTEXT_FRAME_SITES outcomes per frame, SA_CONTEXT_
 * MAX_DEPTH frames per thread, SA_CONTEXT_MAX_PREDS predicates per
 * anomaly; the work per branch execution is bounded by the same.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/image.h"
#include "sensor/report.h"
#include "sensor/session.h"
#include "sensor/sites.h"

#include "json.h"

#define SA_CONTEXT_FRAME_SITES 64
#define SA_CONTEXT_MAX_DEPTH 256
#define SA_CONTEXT_MAX_THREADS 64
#define SA_CONTEXT_MAX_PREDS 4096
#define SA_CONTEXT_Z 1.96	/* 95% */

struct ctx_out {
	uint64_t addr;		/* runtime address of the branch */
	int8_t taken;
};

struct ctx_frame {
	uint64_t ret_addr;
	bool trace_end;
	uint8_t n, next;
	struct ctx_out out[SA_CONTEXT_FRAME_SITES];
};

enum { CX_NONE = 0, CX_CALL, CX_RET, CX_COND };

struct ctx_thread {
	int32_t pid, tid;
	uint16_t stream;
	int pending;
	uint64_t pend_addr, pend_target, pend_fall, pend_ret;
	size_t depth;		/* frames in use, >= 1 */
	struct ctx_frame *frames;	/* SA_CONTEXT_MAX_DEPTH */
};

struct ctx_hent {
	uint64_t addr;		/* 0: free */
	size_t idx;
};

/* A predicate site of one anomaly: a branch, both its outcomes. */
struct ctx_pred {
	char *binary;		/* build-id or path */
	uint64_t offset;	/* link-time */
	char *function, *file, *insn;
	int line;
	uint64_t f_obs, s_obs;
	uint64_t f_true[2], s_true[2];	/* [not taken, taken] */
	uint64_t unit;		/* last unit counted (dedup) */
	unsigned distance;	/* fewest frames between it and the runs */
};

struct ctx_target {
	const struct sa_anomaly *a;
	int8_t bad;		/* the anomalous outcome: 1 taken, 0 not */
	uint64_t runtime;	/* in the current image, 0: not mapped */
	uint64_t num_f, num_s;
	size_t nr_preds, cap_preds;
	struct ctx_pred *preds;
	bool full;
	size_t nr_ranked;
	struct sa_context_pred *ranked;
	/* runtime address -> predicate, for the current window */
	size_t hcap, hused;
	struct ctx_hent *hash;
};

struct sa_context {
	size_t nr_targets;
	struct ctx_target *targets;
	size_t nr_threads;
	struct ctx_thread threads[SA_CONTEXT_MAX_THREADS];
	struct sa_image *img;		/* the current window's */
	struct sa_sitemap *map;
	uint64_t unit;
	uint64_t dropped_threads;
	const char *source_dir;
};

static int8_t anomalous_outcome(const struct sa_anomaly *a)
{
	bool taken;

	if (!a->insn || !a->decision)
		return -1;
	if (!strcmp(a->decision, "taken"))
		taken = true;
	else if (!strcmp(a->decision, "not taken"))
		taken = false;
	else
		return -1;	/* indirect branches: not predicates here */
	switch (a->kind) {
	case SA_ANOM_ERROR_ORIGIN:
	case SA_ANOM_NEW_EDGE:
		return taken;
	case SA_ANOM_BIAS_SHIFT:
		/* the direction that became more frequent */
		return a->cur_ratio >= a->base_ratio ? taken : !taken;
	default:
		return -1;
	}
}

struct sa_context *sa_context__new(const struct sa_anomaly_list *l,
				   size_t max)
{
	struct sa_context *c = calloc(1, sizeof(*c));
	size_t i, n = l ? sa_anomaly_list_nr_significant(l) : 0;

	if (!c)
		return NULL;
	if (n > max)
		n = max;
	c->targets = calloc(n ? n : 1, sizeof(*c->targets));
	if (!c->targets) {
		free(c);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		const struct sa_anomaly *a = sa_anomaly_list_get(l, i);
		int8_t bad = anomalous_outcome(a);

		if (bad < 0)
			continue;
		c->targets[c->nr_targets].a = a;
		c->targets[c->nr_targets].bad = bad;
		c->nr_targets++;
	}
	return c;
}

static void free_preds(struct ctx_target *t)
{
	size_t i;

	for (i = 0; i < t->nr_preds; i++) {
		free(t->preds[i].binary);
		free(t->preds[i].function);
		free(t->preds[i].file);
		free(t->preds[i].insn);
	}
	free(t->preds);
	t->preds = NULL;
	t->nr_preds = 0;
}

void sa_context__free(struct sa_context *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nr_targets; i++) {
		free_preds(&c->targets[i]);
		free(c->targets[i].ranked);
		free(c->targets[i].hash);
	}
	free(c->targets);
	for (i = 0; i < c->nr_threads; i++)
		free(c->threads[i].frames);
	sa_sitemap__free(c->map);
	free(c);
}

/* The binary key of a dso: its build-id, else its path. */
static void dso_key(const struct sa_dso *d, char *buf, size_t size)
{
	if (d->build_id_len)
		sa_build_id_str(d->build_id, d->build_id_len, buf, size);
	else
		snprintf(buf, size, "%s", d->path);
}

static bool dso_is(const struct sa_dso *d, const struct sa_anomaly *a)
{
	char key[2 * SA_BUILD_ID_MAX + 1];

	if (d->build_id_len && a->build_id && *a->build_id) {
		sa_build_id_str(d->build_id, d->build_id_len, key, sizeof(key));
		return !strcmp(key, a->build_id);
	}
	return a->binary && !strcmp(d->path, a->binary);
}

/* A new window's image: the targets' runtime addresses, a site map. */
static int set_image(struct sa_context *c, struct sa_image *img)
{
	const struct sa_dso *d;
	size_t i, k;

	sa_sitemap__free(c->map);
	c->map = sa_sitemap__new(img);
	c->img = img;
	if (!c->map)
		return -ENOMEM;
	for (i = 0; i < c->nr_targets; i++) {
		free(c->targets[i].hash);
		c->targets[i].hash = NULL;
		c->targets[i].hcap = c->targets[i].hused = 0;
		c->targets[i].runtime = 0;
		for (k = 0; (d = sa_image_dso_at(img, k)); k++) {
			const struct sa_anomaly *a = c->targets[i].a;

			if (dso_is(d, a)) {
				c->targets[i].runtime = a->offset + d->bias;
				break;
			}
		}
	}
	/* threads and frames do not outlive a window */
	for (i = 0; i < c->nr_threads; i++)
		free(c->threads[i].frames);
	c->nr_threads = 0;
	return 0;
}

static struct ctx_thread *thread_of(struct sa_context *c,
				    const struct sa_elem *e,
				    const struct sa_flow_info *fi)
{
	struct ctx_thread *th;
	size_t i;

	for (i = 0; i < c->nr_threads; i++) {
		th = &c->threads[i];
		if (th->tid == fi->tid && th->pid == fi->pid &&
		    th->stream == e->stream)
			return th;
	}
	if (c->nr_threads >= SA_CONTEXT_MAX_THREADS) {
		c->dropped_threads++;
		return NULL;
	}
	th = &c->threads[c->nr_threads];
	memset(th, 0, sizeof(*th));
	th->frames = calloc(SA_CONTEXT_MAX_DEPTH, sizeof(*th->frames));
	if (!th->frames)
		return NULL;
	th->pid = fi->pid;
	th->tid = fi->tid;
	th->stream = e->stream;
	th->depth = 1;
	c->nr_threads++;
	return th;
}

static void push_frame(struct ctx_thread *th, uint64_t ret, bool trace_end)
{
	struct ctx_frame *f;

	if (th->depth >= SA_CONTEXT_MAX_DEPTH) {
		/* too deep: the oldest frames go */
		memmove(th->frames, th->frames + 1,
			(SA_CONTEXT_MAX_DEPTH - 1) * sizeof(*th->frames));
		th->depth--;
	}
	f = &th->frames[th->depth++];
	f->ret_addr = ret;
	f->trace_end = trace_end;
	f->n = f->next = 0;
}

static void pop_to(struct ctx_thread *th, uint64_t to)
{
	size_t i;

	for (i = th->depth; i > 1;) {
		if (th->frames[--i].ret_addr == to) {
			th->depth = i;
			return;
		}
	}
}

static void pop_trace_end(struct ctx_thread *th)
{
	while (th->depth > 1 && th->frames[th->depth - 1].trace_end)
		th->depth--;
}

static size_t hslot(const struct ctx_target *t, uint64_t addr)
{
	size_t i = (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 17) &
		   (t->hcap - 1);

	while (t->hash[i].addr && t->hash[i].addr != addr)
		i = (i + 1) & (t->hcap - 1);
	return i;
}

static int hput(struct ctx_target *t, uint64_t addr, size_t idx)
{
	size_t i;

	if (2 * (t->hused + 1) > t->hcap) {
		struct ctx_hent *old = t->hash;
		size_t ocap = t->hcap, k;

		t->hcap = ocap ? 2 * ocap : 256;
		t->hash = calloc(t->hcap, sizeof(*t->hash));
		if (!t->hash) {
			t->hash = old;
			t->hcap = ocap;
			return -ENOMEM;
		}
		for (k = 0; k < ocap; k++)
			if (old[k].addr)
				t->hash[hslot(t, old[k].addr)] = old[k];
		free(old);
	}
	i = hslot(t, addr);
	if (!t->hash[i].addr)
		t->hused++;
	t->hash[i].addr = addr;
	t->hash[i].idx = idx;
	return 0;
}

static struct ctx_pred *pred_find(struct sa_context *c, struct ctx_target *t,
				  uint64_t addr);

/* The predicate of the branch at runtime @addr: hashed per window. */
static struct ctx_pred *pred_of(struct sa_context *c, struct ctx_target *t,
				uint64_t addr)
{
	struct ctx_pred *p;
	size_t i;

	if (t->hcap) {
		i = hslot(t, addr);
		if (t->hash[i].addr == addr)
			return &t->preds[t->hash[i].idx];
	}
	p = pred_find(c, t, addr);
	if (p && hput(t, addr, (size_t)(p - t->preds)))
		return NULL;
	return p;
}

/* Finds or adds the predicate of @addr by its (binary, offset). */
static struct ctx_pred *pred_find(struct sa_context *c, struct ctx_target *t,
				  uint64_t addr)
{
	const struct sa_dso *d = sa_image_dso(c->img, addr);
	char key[4096];
	struct ctx_pred *p;
	const struct sa_site *s;
	const struct sa_fmap *fm;
	const struct sa_sym *sym;
	uint64_t off;
	size_t i;

	if (!d)
		return NULL;
	dso_key(d, key, sizeof(key));
	off = addr - d->bias;
	for (i = 0; i < t->nr_preds; i++)
		if (t->preds[i].offset == off &&
		    !strcmp(t->preds[i].binary, key))
			return &t->preds[i];
	if (t->nr_preds >= SA_CONTEXT_MAX_PREDS) {
		t->full = true;
		return NULL;
	}
	if (t->nr_preds == t->cap_preds) {
		size_t cap = t->cap_preds ? 2 * t->cap_preds : 64;
		struct ctx_pred *n = realloc(t->preds, cap * sizeof(*n));

		if (!n)
			return NULL;
		t->preds = n;
		t->cap_preds = cap;
	}
	p = &t->preds[t->nr_preds];
	memset(p, 0, sizeof(*p));
	p->offset = off;
	p->binary = strdup(key);
	sym = sa_image_symbolize(c->img, addr);
	if (sym)
		p->function = strdup(sa_sym_demangled(sym) ?
				     sa_sym_demangled(sym) : sym->name);
	fm = sa_sitemap_function(c->map, addr, SA_ISA_UNKNOWN);
	s = fm ? sa_fmap_site(fm, addr) : NULL;
	if (s) {
		p->insn = strdup(s->text);
		if (s->file)
			p->file = strdup(s->file);
		p->line = s->line;
	}
	p->unit = UINT64_MAX;
	p->distance = UINT32_MAX;
	if (!p->binary)
		return NULL;
	t->nr_preds++;
	return p;
}

/* One execution of target @t: a run, failing when it went the anomalous
 * way; the predicates are the outcomes in the innermost frames.
 */
static void count_unit(struct sa_context *c, struct ctx_target *t,
		       struct ctx_thread *th, int8_t taken)
{
	bool failed = taken == t->bad;
	size_t f, k, lo;
	int tline = t->a->line;
	uint64_t unit = c->unit++;

	if (failed)
		t->num_f++;
	else
		t->num_s++;
	lo = th->depth > SA_CONTEXT_DEPTH ? th->depth - SA_CONTEXT_DEPTH : 0;
	for (f = th->depth; f-- > lo;) {
		const struct ctx_frame *fr = &th->frames[f];

		for (k = 0; k < fr->n; k++) {
			struct ctx_pred *p;

			if (fr->out[k].addr == t->runtime)
				continue;
			p = pred_of(c, t, fr->out[k].addr);
			if (!p || p->unit == unit)
				continue;
			p->unit = unit;
			if (th->depth - 1 - f < p->distance)
				p->distance = (unsigned)(th->depth - 1 - f);
			/* another jcc of the same `if` is the decision
			 * itself, not an earlier one
			 */
			if (tline && p->line == tline && p->function &&
			    t->a->function &&
			    !strcmp(p->function, t->a->function))
				continue;
			if (failed) {
				p->f_obs++;
				p->f_true[fr->out[k].taken]++;
			} else {
				p->s_obs++;
				p->s_true[fr->out[k].taken]++;
			}
		}
	}
}

static void outcome(struct sa_context *c, struct ctx_thread *th,
		    uint64_t addr, int8_t taken)
{
	struct ctx_frame *fr = &th->frames[th->depth - 1];
	size_t i;

	if (taken < 0)
		return;
	for (i = 0; i < c->nr_targets; i++)
		if (c->targets[i].runtime == addr)
			count_unit(c, &c->targets[i], th, taken);
	for (i = 0; i < fr->n; i++) {
		if (fr->out[i].addr == addr) {
			fr->out[i].taken = taken;
			return;
		}
	}
	if (fr->n < SA_CONTEXT_FRAME_SITES) {
		i = fr->n++;
	} else {
		i = fr->next;	/* full: the oldest entry goes */
		fr->next = (uint8_t)((fr->next + 1) % SA_CONTEXT_FRAME_SITES);
	}
	fr->out[i].addr = addr;
	fr->out[i].taken = taken;
}

static void resolve(struct ctx_thread *th, struct sa_context *c,
		    uint64_t target, bool trace_end)
{
	int pending = th->pending;

	th->pending = CX_NONE;
	if (pending == CX_COND)
		outcome(c, th, th->pend_addr,
			target == th->pend_target ? 1 :
			target == th->pend_fall ? 0 : -1);
	else if (pending == CX_CALL && target && target != th->pend_ret)
		push_frame(th, th->pend_ret, trace_end);
	else if (pending == CX_RET && target)
		pop_to(th, target);
}

void sa_context_end_window(struct sa_context *c)
{
	size_t i;

	/* the window's image goes away with its decode */
	for (i = 0; i < c->nr_targets; i++) {
		free(c->targets[i].hash);
		c->targets[i].hash = NULL;
		c->targets[i].hcap = c->targets[i].hused = 0;
	}
	sa_sitemap__free(c->map);
	c->map = NULL;
	c->img = NULL;
	for (i = 0; i < c->nr_threads; i++)
		free(c->threads[i].frames);
	c->nr_threads = 0;
}

int sa_context_flow(void *ctx, const struct sa_elem *e,
		    const struct sa_flow_info *fi)
{
	struct sa_context *c = ctx;
	struct ctx_thread *th;
	uint64_t addr;
	unsigned guard;
	int err;

	if (!c->nr_targets)
		return 0;
	if (!c->img || fi->image != c->img) {
		err = set_image(c, fi->image);
		if (err)
			return err;
	}
	th = thread_of(c, e, fi);
	if (!th)
		return c->dropped_threads ? 0 : -ENOMEM;
	if (e->kind == SA_ELEM_GAP) {
		if (e->gap_reason == SA_GAP_DISABLED) {
			resolve(th, c, e->ip, true);
		} else {
			th->pending = CX_NONE;
			if (e->gap_reason == SA_GAP_START && e->ip) {
				pop_to(th, e->ip);
				pop_trace_end(th);
			}
		}
		return 0;
	}
	if (e->kind != SA_ELEM_RANGE)
		return 0;
	resolve(th, c, e->start, false);
	/* every jcc before the last instruction fell through */
	for (addr = e->start, guard = 0; addr <= e->last && guard < 64;
	     guard++) {
		const struct sa_fmap *fm = sa_sitemap_function(c->map, addr,
						(enum sa_isa)e->isa);
		size_t i;

		if (!fm || fm->end <= addr)
			break;
		for (i = sa_fmap_lower_bound(fm, addr);
		     i < fm->nr_sites && fm->sites[i].addr <= e->last; i++) {
			const struct sa_site *s = &fm->sites[i];

			if (s->iclass != SA_IC_COND)
				continue;
			if (s->addr < e->last) {
				outcome(c, th, s->addr, 0);
			} else if (e->last_taken >= 0) {
				outcome(c, th, s->addr, e->last_taken);
			} else {
				th->pending = CX_COND;
				th->pend_addr = s->addr;
				th->pend_target = s->target;
				th->pend_fall = s->fallthrough;
			}
		}
		addr = fm->end;
	}
	switch (e->last_class) {
	case SA_IC_CALL:
	case SA_IC_IND_CALL:
		th->pending = CX_CALL;
		th->pend_ret = e->last + e->last_size;
		break;
	case SA_IC_RET:
		th->pending = CX_RET;
		break;
	default:
		break;
	}
	return 0;
}

static int cmp_pred(const void *a, const void *b)
{
	const struct sa_context_pred *x = a, *y = b;

	if (x->importance != y->importance)
		return x->importance > y->importance ? -1 : 1;
	/* a tie: the decision nearest in the calls first */
	if (x->distance != y->distance)
		return x->distance < y->distance ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int sa_context_finish(struct sa_context *c)
{
	size_t i, k;
	int o;

	for (i = 0; i < c->nr_targets; i++) {
		struct ctx_target *t = &c->targets[i];

		free(t->ranked);
		t->ranked = NULL;
		t->nr_ranked = 0;
		if (t->num_f < 2)
			continue;
		t->ranked = calloc(2 * t->nr_preds + 1, sizeof(*t->ranked));
		if (!t->ranked)
			return -ENOMEM;
		for (k = 0; k < t->nr_preds; k++) {
			const struct ctx_pred *p = &t->preds[k];
			double nt, no, fail, ctx, inc, se, lo, cov;

			no = (double)(p->f_obs + p->s_obs);
			if (!no)
				continue;
			ctx = (double)p->f_obs / no;
			for (o = 0; o < 2; o++) {
				struct sa_context_pred *r;

				nt = (double)(p->f_true[o] + p->s_true[o]);
				if (!nt || p->f_true[o] < 2)
					continue;
				fail = (double)p->f_true[o] / nt;
				inc = fail - ctx;
				se = sqrt(fail * (1 - fail) / nt +
					  ctx * (1 - ctx) / no);
				lo = inc - SA_CONTEXT_Z * se;
				if (!(inc > 0) || !(lo > 0))
					continue;
				cov = log((double)p->f_true[o]) /
				      log((double)t->num_f);
				r = &t->ranked[t->nr_ranked++];
				r->function = p->function;
				r->file = p->file;
				r->line = p->line;
				r->insn = p->insn;
				r->binary = p->binary;
				r->offset = p->offset;
				r->distance = p->distance;
				r->taken = o;
				r->failure = fail;
				r->context = ctx;
				r->increase = inc;
				r->lower = lo;
				r->importance = cov > 0 ?
					2 / (1 / inc + 1 / cov) : 0;
				r->f_true = p->f_true[o];
				r->s_true = p->s_true[o];
				r->f_obs = p->f_obs;
				r->s_obs = p->s_obs;
				r->num_f = t->num_f;
				r->num_s = t->num_s;
			}
		}
		qsort(t->ranked, t->nr_ranked, sizeof(*t->ranked), cmp_pred);
	}
	return 0;
}

size_t sa_context_nr_anomalies(const struct sa_context *c)
{
	return c->nr_targets;
}

const struct sa_anomaly *sa_context_anomaly(const struct sa_context *c,
					    size_t i, size_t *nr_preds,
					    uint64_t *num_f, uint64_t *num_s)
{
	if (i >= c->nr_targets)
		return NULL;
	if (nr_preds)
		*nr_preds = c->targets[i].nr_ranked;
	if (num_f)
		*num_f = c->targets[i].num_f;
	if (num_s)
		*num_s = c->targets[i].num_s;
	return c->targets[i].a;
}

const struct sa_context_pred *sa_context_pred(const struct sa_context *c,
					      size_t i, size_t k)
{
	if (i >= c->nr_targets || k >= c->targets[i].nr_ranked)
		return NULL;
	return &c->targets[i].ranked[k];
}

const struct sa_context_pred *
sa_context_for(const struct sa_context *c, const struct sa_anomaly *a,
	       size_t *nr)
{
	size_t i;

	for (i = 0; c && i < c->nr_targets; i++) {
		if (c->targets[i].a == a) {
			*nr = c->targets[i].nr_ranked;
			return c->targets[i].ranked;
		}
	}
	*nr = 0;
	return NULL;
}

static void pct(char *buf, size_t size, double r)
{
	snprintf(buf, size, "%.0f%%", 100 * r);
}

int sa_context_write_sentence(const struct sa_anomaly *a,
			      const struct sa_context_pred *p, FILE *f)
{
	char x[16], y[16];

	pct(x, sizeof(x), p->num_f ? (double)p->f_true / p->num_f : 0);
	pct(y, sizeof(y), p->num_s ? (double)p->s_true / p->num_s : 0);
	fprintf(f, "the %s branch at %s:%d follows `%s` %s at %s:%d in %s "
		"of its executions (%s otherwise); Increase %.2f (95%% "
		"lower bound %.2f), importance %.2f",
		a->kind == SA_ANOM_ERROR_ORIGIN ? "error" : "anomalous",
		a->file ? a->file : a->binary, a->line,
		p->insn ? p->insn : "?", p->taken ? "taken" : "not taken",
		p->file ? p->file : p->binary, p->line, x, y, p->increase,
		p->lower, p->importance);
	return ferror(f) ? -EIO : 0;
}

int sa_context_write_text(const struct sa_context *c, FILE *f)
{
	size_t i, k;

	for (i = 0; i < c->nr_targets; i++) {
		const struct ctx_target *t = &c->targets[i];

		fprintf(f, "context of #%u %s (%s:%d), %s: %" PRIu64
			" anomalous and %" PRIu64 " other executions\n",
			t->a->rank, t->a->function,
			t->a->file ? t->a->file : "?", t->a->line,
			t->bad ? "taken" : "not taken", t->num_f, t->num_s);
		if (!t->nr_ranked)
			fprintf(f, "   no earlier decision predicts it (95%% "
				"confidence)\n");
		for (k = 0; k < t->nr_ranked && k < 5; k++) {
			fprintf(f, "   %zu. %s: ", k + 1,
				t->ranked[k].function ? t->ranked[k].function :
							"?");
			sa_context_write_sentence(t->a, &t->ranked[k], f);
			fputc('\n', f);
		}
	}
	return ferror(f) ? -EIO : 0;
}

int sa_context_write_jsonl(const struct sa_context *c, FILE *f,
			   const char *source)
{
	struct sa_json j;
	size_t i, k;

	for (i = 0; i < c->nr_targets; i++) {
		const struct ctx_target *t = &c->targets[i];

		sa_json_init(&j, f, false);
		sa_json_obj_begin(&j, NULL);
		sa_json_str(&j, "schema", "sensor-agent.context/1");
		if (source)
			sa_json_str(&j, "source", source);
		sa_json_u64(&j, "rank", t->a->rank);
		sa_json_str(&j, "code.function.name", t->a->function);
		if (t->a->file)
			sa_json_str(&j, "code.file.path", t->a->file);
		sa_json_i64(&j, "code.line.number", t->a->line);
		sa_json_hex(&j, "offset", t->a->offset);
		sa_json_str(&j, "anomalous_outcome",
			    t->bad ? "taken" : "not taken");
		sa_json_u64(&j, "anomalous_executions", t->num_f);
		sa_json_u64(&j, "other_executions", t->num_s);
		sa_json_dbl(&j, "confidence_level", 0.95);
		sa_json_arr_begin(&j, "context");
		for (k = 0; k < t->nr_ranked; k++) {
			const struct sa_context_pred *p = &t->ranked[k];

			sa_json_obj_begin(&j, NULL);
			if (p->function)
				sa_json_str(&j, "code.function.name",
					    p->function);
			if (p->file)
				sa_json_str(&j, "code.file.path", p->file);
			sa_json_i64(&j, "code.line.number", p->line);
			sa_json_hex(&j, "offset", p->offset);
			if (p->insn)
				sa_json_str(&j, "insn", p->insn);
			sa_json_str(&j, "outcome",
				    p->taken ? "taken" : "not taken");
			sa_json_u64(&j, "call_distance", p->distance);
			sa_json_dbl(&j, "increase", p->increase);
			sa_json_dbl(&j, "increase_lower", p->lower);
			sa_json_dbl(&j, "failure", p->failure);
			sa_json_dbl(&j, "context", p->context);
			sa_json_dbl(&j, "importance", p->importance);
			sa_json_u64(&j, "f_true", p->f_true);
			sa_json_u64(&j, "s_true", p->s_true);
			sa_json_u64(&j, "f_observed", p->f_obs);
			sa_json_u64(&j, "s_observed", p->s_obs);
			sa_json_obj_end(&j);
		}
		sa_json_arr_end(&j);
		sa_json_obj_end(&j);
		sa_json_newline(&j);
	}
	return ferror(f) ? -EIO : 0;
}
