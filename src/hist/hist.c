// SPDX-License-Identifier: BSD-2-Clause
/*
 * The history container: functions keyed by (binary, name, entry offset),
 * branches sorted by offset, indirect targets per branch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hist_int.h"
#include "sensor/error.h"

struct sa_hist *sa_hist__new(void)
{
	return calloc(1, sizeof(struct sa_hist));
}

static void sa_hist_branch_fini(struct sa_hist_branch *b)
{
	size_t i;

	for (i = 0; i < b->nr_targets; i++) {
		free((char *)b->targets[i].sym);
		free((char *)b->targets[i].binary);
		free((char *)b->targets[i].build_id);
	}
	free(b->targets);
	free((char *)b->file);
	free((char *)b->insn);
}

static void sa_hist_func_free(struct sa_hist_func *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->nr_branches; i++)
		sa_hist_branch_fini(&f->branches[i]);
	free(f->branches);
	free((char *)f->name);
	free((char *)f->linkage_name);
	free((char *)f->binary);
	free((char *)f->build_id);
	free(f);
}

void sa_hist__free(struct sa_hist *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->nr_funcs; i++)
		sa_hist_func_free(h->funcs[i]);
	free(h->funcs);
	free(h->slots);
	free(h);
}

static uint64_t sa_hash_str(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Functions are identified by the build-id when there is one, else the
 * path, so that the same binary loaded at another address (ASLR) or at
 * another path keeps its history.
 */
static const char *sa_hist_binkey(const struct sa_hist_func *f)
{
	if (f->build_id && f->build_id[0])
		return f->build_id;
	return f->binary ? f->binary : "";
}

/* Functions key by their linkage name: a demangled name is derived from
 * it, and two static functions of one name differ by entry offset.
 */
static const char *sa_hist_linkage(const struct sa_hist_func *f)
{
	if (f->linkage_name)
		return f->linkage_name;
	return f->name ? f->name : "";
}

static uint64_t sa_hist_func_hash(const struct sa_hist_func *f)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = sa_hash_str(h, sa_hist_binkey(f));
	h = sa_hash_str(h, sa_hist_linkage(f));
	h ^= f->entry_offset;
	h *= 0x100000001b3ull;
	return h ^ (h >> 29);
}

static int sa_hist_func_eq(const struct sa_hist_func *a,
			   const struct sa_hist_func *b)
{
	return a->entry_offset == b->entry_offset &&
	       !strcmp(sa_hist_linkage(a), sa_hist_linkage(b)) &&
	       !strcmp(sa_hist_binkey(a), sa_hist_binkey(b));
}

static int sa_hist_rehash(struct sa_hist *h, size_t nr_slots)
{
	uint32_t *slots = calloc(nr_slots, sizeof(*slots));
	size_t i;

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < h->nr_funcs; i++) {
		size_t s = sa_hist_func_hash(h->funcs[i]) & (nr_slots - 1);

		while (slots[s])
			s = (s + 1) & (nr_slots - 1);
		slots[s] = (uint32_t)(i + 1);
	}
	free(h->slots);
	h->slots = slots;
	h->nr_slots = nr_slots;
	return 0;
}

static char *sa_strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct sa_hist_func *sa_hist_get_func(struct sa_hist *h,
				      const struct sa_hist_func *k)
{
	struct sa_hist_func *f;
	size_t s;

	if (h->nr_slots) {
		s = sa_hist_func_hash(k) & (h->nr_slots - 1);
		while (h->slots[s]) {
			f = h->funcs[h->slots[s] - 1];
			if (sa_hist_func_eq(f, k))
				return f;
			s = (s + 1) & (h->nr_slots - 1);
		}
	}
	if (h->nr_funcs >= SA_HIST_MAX_FUNCS) {
		errno = E2BIG;
		return NULL;
	}
	if (h->nr_funcs == h->alloc_funcs) {
		size_t n = h->alloc_funcs ? 2 * h->alloc_funcs : 64;
		void *p = realloc(h->funcs, n * sizeof(*h->funcs));

		if (!p)
			return NULL;
		h->funcs = p;
		h->alloc_funcs = n;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->name = strdup(k->name ? k->name : "[unknown]");
	f->linkage_name = strdup(k->linkage_name ? k->linkage_name :
				 f->name ? f->name : "");
	f->binary = strdup(k->binary ? k->binary : "[unknown]");
	f->build_id = strdup(k->build_id ? k->build_id : "");
	if (!f->name || !f->linkage_name || !f->binary || !f->build_id) {
		sa_hist_func_free(f);
		errno = ENOMEM;
		return NULL;
	}
	f->entry = k->entry;
	f->entry_offset = k->entry_offset;
	f->is_sink = k->is_sink;
	h->funcs[h->nr_funcs++] = f;
	/* keep the load factor under one half */
	if (2 * h->nr_funcs > h->nr_slots) {
		if (sa_hist_rehash(h, h->nr_slots ? 2 * h->nr_slots : 256)) {
			h->nr_funcs--;
			sa_hist_func_free(f);
			errno = ENOMEM;
			return NULL;
		}
	} else {
		s = sa_hist_func_hash(f) & (h->nr_slots - 1);
		while (h->slots[s])
			s = (s + 1) & (h->nr_slots - 1);
		h->slots[s] = (uint32_t)h->nr_funcs;
	}
	return f;
}

static size_t sa_hist_branch_lb(const struct sa_hist_func *f, uint64_t off)
{
	size_t lo = 0, hi = f->nr_branches;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->branches[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct sa_hist_branch *sa_hist_get_branch(struct sa_hist *h,
					  struct sa_hist_func *f,
					  const struct sa_hist_branch *tmpl)
{
	size_t i = sa_hist_branch_lb(f, tmpl->offset);
	struct sa_hist_branch *b;

	if (i < f->nr_branches && f->branches[i].offset == tmpl->offset)
		return &f->branches[i];
	if (f->nr_branches == 0 ||
	    sa_hist_cap(f->nr_branches) == f->nr_branches) {
		size_t n = sa_hist_cap(f->nr_branches + 1);
		void *p = realloc(f->branches, n * sizeof(*f->branches));

		if (!p)
			return NULL;
		f->branches = p;
	}
	memmove(&f->branches[i + 1], &f->branches[i],
		(f->nr_branches - i) * sizeof(*f->branches));
	f->nr_branches++;
	b = &f->branches[i];
	memset(b, 0, sizeof(*b));
	b->addr = tmpl->addr;
	b->offset = tmpl->offset;
	b->iclass = tmpl->iclass;
	b->target = tmpl->target;
	b->fallthrough = tmpl->fallthrough;
	b->line = tmpl->line;
	b->file = sa_strdup_or_null(tmpl->file);
	b->insn = sa_strdup_or_null(tmpl->insn);
	if ((tmpl->file && !b->file) || (tmpl->insn && !b->insn)) {
		sa_hist_branch_fini(b);
		memmove(&f->branches[i], &f->branches[i + 1],
			(f->nr_branches - i - 1) * sizeof(*f->branches));
		f->nr_branches--;
		errno = ENOMEM;
		return NULL;
	}
	return b;
}

/* The object of a target: its build-id, else its path or bucket. */
static const char *sa_target_object(const struct sa_hist_target *t)
{
	if (t->build_id && t->build_id[0])
		return t->build_id;
	return t->binary ? t->binary : "[unknown]";
}

int sa_hist_add_target(struct sa_hist *h, struct sa_hist_branch *b,
		       const struct sa_hist_target *t, uint64_t count)
{
	struct sa_hist_target *nt;
	size_t i;

	for (i = 0; i < b->nr_targets; i++) {
		nt = &b->targets[i];
		if (nt->offset == t->offset &&
		    !strcmp(sa_target_object(nt), sa_target_object(t))) {
			nt->count += count;
			nt->addr = t->addr;
			return 0;
		}
	}
	if (b->nr_targets >= SA_HIST_MAX_TARGETS) {
		/* Counted in the last slot rather than dropped. */
		b->targets[b->nr_targets - 1].count += count;
		return 0;
	}
	if (b->nr_targets == 0 || sa_hist_cap(b->nr_targets) == b->nr_targets) {
		size_t n = sa_hist_cap(b->nr_targets + 1);
		void *p = realloc(b->targets, n * sizeof(*b->targets));

		if (!p)
			return -ENOMEM;
		b->targets = p;
	}
	nt = &b->targets[b->nr_targets];
	memset(nt, 0, sizeof(*nt));
	nt->addr = t->addr;
	nt->offset = t->offset;
	nt->sym_off = t->sym_off;
	nt->count = count;
	nt->sym = sa_strdup_or_null(t->sym);
	nt->binary = sa_strdup_or_null(t->binary);
	nt->build_id = sa_strdup_or_null(t->build_id);
	if ((t->sym && !nt->sym) || (t->binary && !nt->binary) ||
	    (t->build_id && !nt->build_id)) {
		free((char *)nt->sym);
		free((char *)nt->binary);
		free((char *)nt->build_id);
		return -ENOMEM;
	}
	b->nr_targets++;
	return 0;
}

int sa_hist_merge(struct sa_hist *dst, const struct sa_hist *src)
{
	const struct sa_hist_decode *sd = &src->dec;
	struct sa_hist_decode *dd = &dst->dec;
	size_t i, j, k;

	for (i = 0; i < src->nr_funcs; i++) {
		const struct sa_hist_func *sf = src->funcs[i];
		struct sa_hist_func *df = sa_hist_get_func(dst, sf);

		if (!df)
			return -errno;
		df->calls += sf->calls;
		df->returns += sf->returns;
		df->insns += sf->insns;
		df->sink_entries += sf->sink_entries;
		df->is_sink |= sf->is_sink;
		df->entry = sf->entry;
		for (j = 0; j < sf->nr_branches; j++) {
			const struct sa_hist_branch *sb = &sf->branches[j];
			struct sa_hist_branch *db;

			db = sa_hist_get_branch(dst, df, sb);
			if (!db)
				return -errno;
			db->addr = sb->addr;
			db->executed += sb->executed;
			db->taken += sb->taken;
			db->not_taken += sb->not_taken;
			db->sink_taken += sb->sink_taken;
			db->sink_not_taken += sb->sink_not_taken;
			for (k = 0; k < sb->nr_targets; k++) {
				int err = sa_hist_add_target(dst, db,
						&sb->targets[k],
						sb->targets[k].count);
				if (err)
					return err;
			}
		}
	}
	dd->windows += sd->windows;
	dd->trace_bytes += sd->trace_bytes;
	dd->instructions += sd->instructions;
	dd->errors += sd->errors;
	dd->lost_bytes += sd->lost_bytes;
	dd->overflows += sd->overflows;
	dd->aux_truncated += sd->aux_truncated;
	dd->aux_partial += sd->aux_partial;
	dd->aux_collision += sd->aux_collision;
	dd->lost_records += sd->lost_records;
	dd->unknown_taken += sd->unknown_taken;
	dd->unmapped += sd->unmapped;
	dd->missing_binaries += sd->missing_binaries;
	dd->build_id_mismatches += sd->build_id_mismatches;
	dd->missing_sources += sd->missing_sources;
	dd->idle_windows += sd->idle_windows;
	dd->unnamed_targets += sd->unnamed_targets;
	dd->unnamed_vdso_targets += sd->unnamed_vdso_targets;
	for (i = 0; i < sd->nr_tids; i++)
		sa_hist_decode_add_tid(dd, sd->tids[i]);
	dd->tids_truncated |= sd->tids_truncated;
	for (i = 0; i < sd->nr_error_list &&
		    dd->nr_error_list < SA_HIST_MAX_ERRORS; i++)
		dd->error_list[dd->nr_error_list++] = sd->error_list[i];
	return 0;
}

void sa_hist_decode_add_tid(struct sa_hist_decode *d, int32_t tid)
{
	uint32_t i;

	if (tid <= 0)
		return;
	for (i = 0; i < d->nr_tids && d->tids[i] < tid; i++)
		;
	if (i < d->nr_tids && d->tids[i] == tid)
		return;
	if (d->nr_tids == SA_HIST_MAX_TIDS) {
		d->tids_truncated = true;
		return;
	}
	memmove(&d->tids[i + 1], &d->tids[i],
		(d->nr_tids - i) * sizeof(d->tids[0]));
	d->tids[i] = tid;
	d->nr_tids++;
}

size_t sa_hist_nr_functions(const struct sa_hist *h)
{
	return h->nr_funcs;
}

const struct sa_hist_func *sa_hist_function(const struct sa_hist *h,
					    size_t idx)
{
	return idx < h->nr_funcs ? h->funcs[idx] : NULL;
}

static int sa_hist_cmp_busy(const void *pa, const void *pb)
{
	const struct sa_hist_func *a = *(const struct sa_hist_func *const *)pa;
	const struct sa_hist_func *b = *(const struct sa_hist_func *const *)pb;

	if (a->insns != b->insns)
		return a->insns > b->insns ? -1 : 1;
	if (a->calls != b->calls)
		return a->calls > b->calls ? -1 : 1;
	if (a->entry != b->entry)
		return a->entry < b->entry ? -1 : 1;
	return strcmp(a->name, b->name);
}

int sa_hist_sort(struct sa_hist *h)
{
	if (h->nr_funcs < 2)
		return 0;
	qsort(h->funcs, h->nr_funcs, sizeof(*h->funcs), sa_hist_cmp_busy);
	/* the hash slots hold indices: rebuild them */
	return sa_hist_rehash(h, h->nr_slots);
}

const struct sa_hist_func *sa_hist_find(const struct sa_hist *h,
					const char *name)
{
	size_t i;

	for (i = 0; i < h->nr_funcs; i++)
		if (!strcmp(h->funcs[i]->name, name))
			return h->funcs[i];
	return NULL;
}

const struct sa_hist_decode *sa_hist_decode(const struct sa_hist *h)
{
	return &h->dec;
}

struct sa_hist_decode *sa_hist_decode_mut(struct sa_hist *h)
{
	return &h->dec;
}

void sa_hist_note_error(struct sa_hist *h, uint64_t offset, int code,
			enum sa_gap_reason reason, uint64_t lost_bytes)
{
	struct sa_hist_decode *d = &h->dec;

	if (reason == SA_GAP_OVERFLOW)
		d->overflows++;
	else
		d->errors++;
	d->lost_bytes += lost_bytes;
	if (d->nr_error_list < SA_HIST_MAX_ERRORS) {
		d->error_list[d->nr_error_list].offset = offset;
		d->error_list[d->nr_error_list].code = code;
		d->error_list[d->nr_error_list].reason = (uint16_t)reason;
		d->nr_error_list++;
	}
}
