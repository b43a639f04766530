// SPDX-License-Identifier: BSD-2-Clause
/*
 * The count model: one window's history as sums, merging, lookups.
 *
 * Everything is built by appending and then sorting and coalescing equal
 * keys, which keeps merging of several windows (and the odd duplicate
 * offset of a history) on one code path.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#include "sensor/flow.h"
#include "sensor/image.h"

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* strdup that fails only when @s was non-NULL. */
static int dup_field(char **dst, const char *s)
{
	*dst = NULL;
	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

bool sa_iclass_is_indirect(int iclass)
{
	return iclass == SA_IC_IND_JUMP || iclass == SA_IC_IND_CALL;
}

static void target_fini(struct sa_mtarget *t)
{
	free(t->key);
	free(t->sym);
}

static void branch_fini(struct sa_mbranch *br)
{
	size_t i;

	free(br->func);
	free(br->file);
	free(br->insn);
	free(br->callee);
	for (i = 0; i < br->nr_targets; i++)
		target_fini(&br->targets[i]);
	free(br->targets);
	memset(br, 0, sizeof(*br));
}

static void func_fini(struct sa_mfunc *f)
{
	free(f->name);
	free(f->linkage);
	free(f->file);
	memset(f, 0, sizeof(*f));
}

void sa_mbuild_fini(struct sa_mbuild *b)
{
	size_t i;

	if (!b)
		return;
	free(b->key);
	free(b->build_id);
	free(b->binary);
	for (i = 0; i < b->nr_funcs; i++)
		func_fini(&b->funcs[i]);
	free(b->funcs);
	for (i = 0; i < b->nr_branches; i++)
		branch_fini(&b->branches[i]);
	free(b->branches);
	memset(b, 0, sizeof(*b));
}

struct sa_model *sa_model__new(void)
{
	struct sa_model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->confidence = 1.0;
	return m;
}

void sa_model__free(struct sa_model *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nr_builds; i++)
		sa_mbuild_fini(&m->builds[i]);
	free(m->builds);
	free(m);
}

static int cmp_target(const void *a, const void *b)
{
	const struct sa_mtarget *x = a, *y = b;

	return strcmp(x->key, y->key);
}

static int cmp_branch(const void *a, const void *b)
{
	const struct sa_mbranch *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return 0;
}

static int cmp_func(const void *a, const void *b)
{
	const struct sa_mfunc *x = a, *y = b;

	if (x->entry != y->entry)
		return x->entry < y->entry ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_build(const void *a, const void *b)
{
	const struct sa_mbuild *x = a, *y = b;

	return strcmp(x->key, y->key);
}

static void coalesce_targets(struct sa_mbranch *br)
{
	size_t i, o = 0;

	if (!br->nr_targets)
		return;
	qsort(br->targets, br->nr_targets, sizeof(*br->targets), cmp_target);
	for (i = 1; i < br->nr_targets; i++) {
		struct sa_mtarget *d = &br->targets[o], *s = &br->targets[i];

		if (!strcmp(d->key, s->key)) {
			d->count += s->count;
			d->s_kk += s->s_kk;
			target_fini(s);
			continue;
		}
		br->targets[++o] = *s;
	}
	br->nr_targets = o + 1;
}

/* Moves the targets of @s into @d (which owns them afterwards). */
static int take_targets(struct sa_mbranch *d, struct sa_mbranch *s)
{
	struct sa_mtarget *t;

	if (!s->nr_targets)
		return 0;
	t = realloc(d->targets, (d->nr_targets + s->nr_targets) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memcpy(t + d->nr_targets, s->targets, s->nr_targets * sizeof(*t));
	d->targets = t;
	d->nr_targets += s->nr_targets;
	free(s->targets);
	s->targets = NULL;
	s->nr_targets = 0;
	coalesce_targets(d);
	return 0;
}

static int coalesce_branches(struct sa_mbuild *b)
{
	size_t i, o = 0;
	int err;

	if (!b->nr_branches)
		return 0;
	qsort(b->branches, b->nr_branches, sizeof(*b->branches), cmp_branch);
	coalesce_targets(&b->branches[0]);
	for (i = 1; i < b->nr_branches; i++) {
		struct sa_mbranch *d = &b->branches[o], *s = &b->branches[i];

		if (d->offset != s->offset) {
			b->branches[++o] = *s;
			coalesce_targets(&b->branches[o]);
			continue;
		}
		d->executed += s->executed;
		d->taken += s->taken;
		d->not_taken += s->not_taken;
		d->sink_t += s->sink_t;
		d->sink_nt += s->sink_nt;
		d->nwin += s->nwin;
		d->s_tt += s->s_tt;
		d->s_ss += s->s_ss;
		d->tot += s->tot;
		d->nwin_t += s->nwin_t;
		if (!d->file && s->file) {
			d->file = s->file;
			d->line = s->line;
			s->file = NULL;
		}
		if (!d->insn) {
			d->insn = s->insn;
			s->insn = NULL;
		}
		if (!d->callee) {
			d->callee = s->callee;
			s->callee = NULL;
		}
		err = take_targets(d, s);
		branch_fini(s);
		if (err)
			return err;
	}
	b->nr_branches = o + 1;
	return 0;
}

static void coalesce_funcs(struct sa_mbuild *b)
{
	size_t i, o = 0;

	if (!b->nr_funcs)
		return;
	qsort(b->funcs, b->nr_funcs, sizeof(*b->funcs), cmp_func);
	for (i = 1; i < b->nr_funcs; i++) {
		struct sa_mfunc *d = &b->funcs[o], *s = &b->funcs[i];

		if (cmp_func(d, s)) {
			b->funcs[++o] = *s;
			continue;
		}
		d->calls += s->calls;
		d->insns += s->insns;
		d->sink_entries += s->sink_entries;
		d->s_cc += s->s_cc;
		d->s_ee += s->s_ee;
		d->is_sink |= s->is_sink;
		if (!d->file && s->file) {
			d->file = s->file;
			d->line = s->line;
			s->file = NULL;
		}
		func_fini(s);
	}
	b->nr_funcs = o + 1;
}

void sa_mbuild_sort(struct sa_mbuild *b)
{
	size_t i;

	/* qsort() may not be given NULL, even for no elements. */
	if (b->nr_funcs)
		qsort(b->funcs, b->nr_funcs, sizeof(*b->funcs), cmp_func);
	if (b->nr_branches)
		qsort(b->branches, b->nr_branches, sizeof(*b->branches),
		      cmp_branch);
	for (i = 0; i < b->nr_branches; i++)
		if (b->branches[i].nr_targets)
			qsort(b->branches[i].targets,
			      b->branches[i].nr_targets,
			      sizeof(*b->branches[i].targets), cmp_target);
}

static struct sa_mbuild *get_build(struct sa_model *m, const char *key,
				   const char *build_id, const char *binary)
{
	struct sa_mbuild *b;
	size_t i;

	for (i = 0; i < m->nr_builds; i++)
		if (!strcmp(m->builds[i].key, key))
			return &m->builds[i];
	b = realloc(m->builds, (m->nr_builds + 1) * sizeof(*b));
	if (!b)
		return NULL;
	m->builds = b;
	b = &m->builds[m->nr_builds];
	memset(b, 0, sizeof(*b));
	b->key = xstrdup(key);
	b->build_id = xstrdup(build_id ? build_id : "");
	b->binary = xstrdup(binary ? binary : "");
	if (!b->key || !b->build_id || !b->binary) {
		sa_mbuild_fini(b);
		return NULL;
	}
	m->nr_builds++;
	return b;
}

static const char *base_name(const char *path)
{
	const char *s;

	if (!path)
		return "";
	s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* A target's key, its identity across runs: "<object>:<hex link-time
 * address>", the object being the build-id, else the path or the bucket
 * ("[anon]", "[vdso]", ...).  Its display name: "sym", "sym+0x10" in the
 * branch's own binary, "sym+0x10 in libc.so.6" in another object, else
 * "libc.so.6:0x1234" or the bucket.
 */
static int target_names(const struct sa_hist_target *t, const char *own,
			char *key, size_t key_size, char *disp,
			size_t disp_size)
{
	const char *bin = t->binary ? t->binary : "[unknown]";
	const char *obj = t->build_id && t->build_id[0] ? t->build_id : bin;
	bool bucket = bin[0] == '[';
	char in[512] = "";

	if (snprintf(key, key_size, "%s:%#" PRIx64, obj, t->offset) >=
	    (int)key_size)
		return -SA_ERR_TOOBIG;
	if (!own || strcmp(own, bin))
		snprintf(in, sizeof(in), " in %s", base_name(bin));
	if (t->sym && t->sym_off)
		snprintf(disp, disp_size, "%s+%#" PRIx64 "%s", t->sym,
			 t->sym_off, in);
	else if (t->sym)
		snprintf(disp, disp_size, "%s%s", t->sym, in);
	else if (bucket && !t->offset)
		snprintf(disp, disp_size, "%s", bin);
	else if (!strcmp(bin, "[raw]"))
		snprintf(disp, disp_size, "%#" PRIx64, t->offset);
	else
		snprintf(disp, disp_size, "%s:%#" PRIx64, base_name(bin),
			 t->offset);
	return 0;
}

static int add_hist_targets(struct sa_mbranch *mb,
			    const struct sa_hist_branch *hb, const char *own)
{
	double e = 0;
	size_t i;

	for (i = 0; i < hb->nr_targets; i++)
		e += (double)hb->targets[i].count;
	if (!hb->nr_targets || e <= 0)
		return 0;
	mb->targets = calloc(hb->nr_targets, sizeof(*mb->targets));
	if (!mb->targets)
		return -ENOMEM;
	for (i = 0; i < hb->nr_targets; i++) {
		const struct sa_hist_target *t = &hb->targets[i];
		struct sa_mtarget *mt = &mb->targets[mb->nr_targets];
		char key[512], disp[1024];
		double k = (double)t->count;
		int err;

		if (!t->count)
			continue;
		err = target_names(t, own, key, sizeof(key), disp,
				   sizeof(disp));
		if (err)
			return err;
		mt->key = strdup(key);
		mt->sym = strdup(disp);
		mb->nr_targets++;
		if (!mt->key || !mt->sym)
			return -ENOMEM;
		mt->count = k;
		mt->s_kk = k * k / e;
	}
	mb->tot = e;
	mb->nwin_t = 1;
	return 0;
}

/* The function whose entry is @addr (runtime), for direct call sites. */
static const char *callee_name(const struct sa_hist *h, uint64_t addr)
{
	size_t i, n = sa_hist_nr_functions(h);

	if (!addr)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct sa_hist_func *f = sa_hist_function(h, i);

		if (f->entry == addr)
			return f->name;
	}
	return NULL;
}

static int add_hist_func(struct sa_model *m, const struct sa_hist *h,
			 const struct sa_hist_func *f, double win_insns,
			 const char *const *callees)
{
	char key[512];
	struct sa_mbuild *b;
	struct sa_mfunc *mf;
	struct sa_mbranch *mbr;
	size_t i;
	int err;

	if (!f->name || !f->binary || !strcmp(f->binary, "[unknown]"))
		return 0;
	if (f->build_id && f->build_id[0])
		snprintf(key, sizeof(key), "%s", f->build_id);
	else
		snprintf(key, sizeof(key), "path:%s", f->binary);
	b = get_build(m, key, f->build_id, f->binary);
	if (!b)
		return -ENOMEM;

	mf = realloc(b->funcs, (b->nr_funcs + 1) * sizeof(*mf));
	if (!mf)
		return -ENOMEM;
	b->funcs = mf;
	mf = &b->funcs[b->nr_funcs++];
	memset(mf, 0, sizeof(*mf));
	mf->name = strdup(f->name);
	if (!mf->name)
		return -ENOMEM;
	if (f->linkage_name && strcmp(f->linkage_name, f->name)) {
		mf->linkage = strdup(f->linkage_name);
		if (!mf->linkage)
			return -ENOMEM;
	}
	mf->entry = f->entry_offset;
	mf->calls = (double)f->calls;
	mf->insns = (double)f->insns;
	mf->sink_entries = (double)f->sink_entries;
	mf->s_cc = mf->calls * mf->calls / win_insns;
	mf->s_ee = mf->sink_entries * mf->sink_entries / win_insns;
	mf->is_sink = f->is_sink;

	if (!f->nr_branches)
		return 0;
	mbr = realloc(b->branches,
		      (b->nr_branches + f->nr_branches) * sizeof(*mbr));
	if (!mbr)
		return -ENOMEM;
	b->branches = mbr;
	for (i = 0; i < f->nr_branches; i++) {
		const struct sa_hist_branch *hb = &f->branches[i];
		struct sa_mbranch *mb = &b->branches[b->nr_branches++];
		double n = (double)hb->taken + (double)hb->not_taken;

		memset(mb, 0, sizeof(*mb));
		mb->offset = hb->offset;
		mb->func_entry = f->entry_offset;
		mb->line = hb->line;
		mb->iclass = hb->iclass;
		if (dup_field(&mb->func, f->name) ||
		    dup_field(&mb->file, hb->file) ||
		    dup_field(&mb->insn, hb->insn) ||
		    dup_field(&mb->callee, callees ? callees[i] : NULL))
			return -ENOMEM;
		if (!mf->file && hb->file && hb->line) {
			mf->file = strdup(hb->file);
			if (!mf->file)
				return -ENOMEM;
			mf->line = hb->line;
		}
		mb->executed = (double)hb->executed;
		mb->taken = (double)hb->taken;
		mb->not_taken = (double)hb->not_taken;
		mb->sink_t = (double)hb->sink_taken;
		mb->sink_nt = (double)hb->sink_not_taken;
		if (n > 0) {
			double s = mb->sink_t + mb->sink_nt;

			mb->nwin = 1;
			mb->s_tt = mb->taken * mb->taken / n;
			mb->s_ss = s * s / n;
		}
		err = add_hist_targets(mb, hb, f->binary);
		if (err)
			return err;
	}
	(void)h;
	return 0;
}

double sa_hist_confidence(const struct sa_hist *h)
{
	const struct sa_hist_decode *d = sa_hist_decode(h);
	double ok = 1.0, decided = 0, total;
	size_t i, j, n = sa_hist_nr_functions(h);

	if (!d)
		return 1.0;
	total = (double)d->trace_bytes + (double)d->lost_bytes;
	if (total > 0)
		ok = (double)d->trace_bytes / total;
	/* Overflows and truncated AUX lose trace of unknown size. */
	if (d->overflows || d->aux_truncated || d->aux_collision ||
	    d->lost_records)
		ok *= 0.9;
	for (i = 0; i < n; i++) {
		const struct sa_hist_func *f = sa_hist_function(h, i);

		for (j = 0; j < f->nr_branches; j++)
			if (f->branches[j].iclass != SA_IC_CALL)
				decided += (double)f->branches[j].taken +
					   (double)f->branches[j].not_taken;
	}
	if (d->unknown_taken)
		ok *= decided / (decided + (double)d->unknown_taken);
	if (d->errors)
		ok *= 1.0 / (1.0 + 0.05 * (double)d->errors);
	if (ok < 0)
		ok = 0;
	return ok;
}

struct sa_model *sa_model_from_hist(const struct sa_hist *h)
{
	const struct sa_hist_decode *d = sa_hist_decode(h);
	size_t i, j, n = sa_hist_nr_functions(h);
	struct sa_model *m;
	double win_insns = 0;
	int err = 0;

	m = sa_model__new();
	if (!m)
		return NULL;
	if (d)
		win_insns = (double)d->instructions;
	if (win_insns <= 0)
		for (i = 0; i < n; i++)
			win_insns += (double)sa_hist_function(h, i)->insns;
	if (win_insns <= 0)
		win_insns = 1;

	for (i = 0; i < n && !err; i++) {
		const struct sa_hist_func *f = sa_hist_function(h, i);
		const char **callees = NULL;

		if (f->nr_branches) {
			callees = calloc(f->nr_branches, sizeof(*callees));
			if (!callees) {
				err = -ENOMEM;
				break;
			}
			for (j = 0; j < f->nr_branches; j++)
				if (f->branches[j].iclass == SA_IC_CALL)
					callees[j] = callee_name(
						h, f->branches[j].target);
		}
		err = add_hist_func(m, h, f, win_insns, callees);
		free(callees);
	}
	for (i = 0; i < m->nr_builds && !err; i++) {
		struct sa_mbuild *b = &m->builds[i];

		b->windows = 1;
		b->added = 1;
		b->insns = win_insns;
		coalesce_funcs(b);
		err = coalesce_branches(b);
	}
	if (err) {
		sa_model__free(m);
		errno = -err;
		return NULL;
	}
	if (m->nr_builds)
		qsort(m->builds, m->nr_builds, sizeof(*m->builds), cmp_build);
	m->confidence = sa_hist_confidence(h);
	m->windows = 1;
	return m;
}

static int copy_branch(struct sa_mbranch *d, const struct sa_mbranch *s)
{
	size_t i;

	*d = *s;
	d->func = d->file = d->insn = d->callee = NULL;
	d->targets = NULL;
	d->nr_targets = 0;
	if (dup_field(&d->func, s->func) || dup_field(&d->file, s->file) ||
	    dup_field(&d->insn, s->insn) || dup_field(&d->callee, s->callee))
		return -ENOMEM;
	if (!s->nr_targets)
		return 0;
	d->targets = calloc(s->nr_targets, sizeof(*d->targets));
	if (!d->targets)
		return -ENOMEM;
	for (i = 0; i < s->nr_targets; i++) {
		d->targets[i] = s->targets[i];
		d->targets[i].key = xstrdup(s->targets[i].key);
		d->targets[i].sym = xstrdup(s->targets[i].sym);
		d->nr_targets++;
		if (!d->targets[i].key || !d->targets[i].sym)
			return -ENOMEM;
	}
	return 0;
}

static int merge_build(struct sa_mbuild *d, const struct sa_mbuild *s)
{
	size_t i;
	void *p;
	int err;

	p = realloc(d->funcs, (d->nr_funcs + s->nr_funcs + 1) *
				      sizeof(*d->funcs));
	if (!p)
		return -ENOMEM;
	d->funcs = p;
	for (i = 0; i < s->nr_funcs; i++) {
		struct sa_mfunc *f = &d->funcs[d->nr_funcs];

		*f = s->funcs[i];
		f->name = xstrdup(s->funcs[i].name);
		f->linkage = xstrdup(s->funcs[i].linkage);
		f->file = xstrdup(s->funcs[i].file);
		d->nr_funcs++;
		if (!f->name || (s->funcs[i].file && !f->file) ||
		    (s->funcs[i].linkage && !f->linkage))
			return -ENOMEM;
	}
	p = realloc(d->branches, (d->nr_branches + s->nr_branches + 1) *
					 sizeof(*d->branches));
	if (!p)
		return -ENOMEM;
	d->branches = p;
	for (i = 0; i < s->nr_branches; i++) {
		err = copy_branch(&d->branches[d->nr_branches++],
				  &s->branches[i]);
		if (err)
			return err;
	}
	d->windows += s->windows;
	d->insns += s->insns;
	d->added += s->added;
	coalesce_funcs(d);
	return coalesce_branches(d);
}

int sa_model_merge(struct sa_model *dst, const struct sa_model *src)
{
	size_t i;
	int err;

	for (i = 0; i < src->nr_builds; i++) {
		const struct sa_mbuild *s = &src->builds[i];
		struct sa_mbuild *d = get_build(dst, s->key, s->build_id,
						s->binary);

		if (!d)
			return -ENOMEM;
		err = merge_build(d, s);
		if (err)
			return err;
	}
	if (dst->nr_builds)
		qsort(dst->builds, dst->nr_builds, sizeof(*dst->builds),
		      cmp_build);
	/* The group's confidence weighs each window equally. */
	dst->confidence = (dst->confidence * (double)dst->windows +
			   src->confidence * (double)src->windows) /
			  (double)(dst->windows + src->windows ?
					   dst->windows + src->windows : 1);
	dst->windows += src->windows;
	return 0;
}

struct sa_mbuild *sa_model_find_build(const struct sa_model *m,
				      const char *key)
{
	struct sa_mbuild k = { .key = (char *)key };

	if (!m->nr_builds)
		return NULL;
	return bsearch(&k, m->builds, m->nr_builds, sizeof(k), cmp_build);
}

const struct sa_mbranch *sa_mbuild_branch(const struct sa_mbuild *b,
					  uint64_t offset)
{
	struct sa_mbranch k = { .offset = offset };

	if (!b->nr_branches)
		return NULL;
	return bsearch(&k, b->branches, b->nr_branches, sizeof(k),
		       cmp_branch);
}

const struct sa_mfunc *sa_mbuild_func(const struct sa_mbuild *b,
				      uint64_t entry, const char *name)
{
	struct sa_mfunc k = { .entry = entry, .name = (char *)name };

	if (!b->nr_funcs)
		return NULL;
	return bsearch(&k, b->funcs, b->nr_funcs, sizeof(k), cmp_func);
}

const struct sa_mfunc *sa_mbuild_func_by_name(const struct sa_mbuild *b,
					      const char *name)
{
	size_t i;

	for (i = 0; i < b->nr_funcs; i++)
		if (!strcmp(b->funcs[i].name, name))
			return &b->funcs[i];
	return NULL;
}

const struct sa_mtarget *sa_mbranch_target(const struct sa_mbranch *br,
					   const char *key)
{
	struct sa_mtarget k = { .key = (char *)key };

	if (!br->nr_targets)
		return NULL;
	return bsearch(&k, br->targets, br->nr_targets, sizeof(k),
		       cmp_target);
}
