// SPDX-License-Identifier: BSD-2-Clause
/*
 * The history builder: turns the decoder flow (ranges and gaps) into
 * per-function branch-decision counts.
 *
 * Every range is contiguous and only its last instruction can branch
 * (see <sensor/flow.h>), so each conditional site strictly inside a range
 * fell through, and the last instruction is resolved when the flow's next
 * address is known: from the next range, or from the address a gap gives
 * (a TIP.PGD target, the FUP of an interrupt).  Outcomes that cannot be
 * known (the flow broke on an error or an overflow) are counted as
 * unknown, never guessed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hist_int.h"
#include "sensor/log.h"

#define SA_MAX_STREAMS 256
#define SA_MAX_SINKS 256

static const char *const sa_default_sinks[] = {
	"abort", "__assert_fail", "__stack_chk_fail", "__cxa_throw",
	"_Unwind_RaiseException", "perror", "strerror", NULL,
};

const char *const *sa_hist_default_sinks(void)
{
	return sa_default_sinks;
}

struct sa_flow {
	uint16_t stream;
	bool pending;
	struct sa_elem pend;		/* the range whose end is unresolved */
	struct sa_site site;		/* its last instruction */
	bool have_site;
	struct sa_hist_func *func;	/* function of the last instruction */
	/* the last conditional decision, for error origins */
	struct sa_hist_func *lc_func;
	uint64_t lc_offset;
	int lc_taken;			/* -1: none yet */
};

struct sa_fcache {
	const struct sa_fmap *fm;
	struct sa_hist_func *f;
};

struct sa_hist_builder {
	struct sa_hist *h;
	struct sa_image *img;
	struct sa_sitemap *sites;
	sa_branch_fn branch_fn;
	void *branch_ctx;
	struct sa_flow *flows;
	size_t nr_flows;
	struct sa_fcache *cache;	/* open addressing on fm */
	size_t nr_cache, used_cache;
	char **sinks;
	size_t nr_sinks;
	/* passes of the range being added: 1, or a count from
	 * sa_hist_builder_add_counted()
	 */
	uint64_t mult;
};

struct sa_hist_builder *sa_hist_builder__new(struct sa_hist *h,
					     struct sa_image *img,
					     struct sa_sitemap *sites)
{
	struct sa_hist_builder *b = calloc(1, sizeof(*b));
	size_t i;

	if (!b)
		return NULL;
	b->h = h;
	b->img = img;
	b->sites = sites;
	b->mult = 1;
	for (i = 0; sa_default_sinks[i]; i++) {
		if (sa_hist_builder_add_sink(b, sa_default_sinks[i])) {
			sa_hist_builder__free(b);
			errno = ENOMEM;
			return NULL;
		}
	}
	return b;
}

void sa_hist_builder__free(struct sa_hist_builder *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->nr_sinks; i++)
		free(b->sinks[i]);
	free(b->sinks);
	free(b->flows);
	free(b->cache);
	free(b);
}

void sa_hist_builder_set_branch_fn(struct sa_hist_builder *b,
				   sa_branch_fn fn, void *ctx)
{
	b->branch_fn = fn;
	b->branch_ctx = ctx;
}

int sa_hist_builder_add_sink(struct sa_hist_builder *b, const char *name)
{
	char **p;

	if (b->nr_sinks >= SA_MAX_SINKS)
		return -SA_ERR_TOOBIG;
	p = realloc(b->sinks, (b->nr_sinks + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	b->sinks = p;
	p[b->nr_sinks] = strdup(name);
	if (!p[b->nr_sinks])
		return -ENOMEM;
	b->nr_sinks++;
	return 0;
}

/* "abort@plt" is the sink "abort"; "foo.cold" and "foo.cold.3" are sinks
 * (GCC moves unlikely code there).
 */
static bool sa_is_sink(const struct sa_hist_builder *b, const char *name)
{
	size_t i, n;
	const char *at;

	if (!name)
		return false;
	if (strstr(name, ".cold"))
		return true;
	at = strchr(name, '@');
	n = at ? (size_t)(at - name) : strlen(name);
	for (i = 0; i < b->nr_sinks; i++)
		if (strlen(b->sinks[i]) == n && !strncmp(b->sinks[i], name, n))
			return true;
	return false;
}

static struct sa_flow *sa_flow_get(struct sa_hist_builder *b, uint16_t stream)
{
	struct sa_flow *f;
	size_t i;

	for (i = 0; i < b->nr_flows; i++)
		if (b->flows[i].stream == stream)
			return &b->flows[i];
	if (b->nr_flows >= SA_MAX_STREAMS)
		return NULL;
	f = realloc(b->flows, (b->nr_flows + 1) * sizeof(*f));
	if (!f)
		return NULL;
	b->flows = f;
	f = &b->flows[b->nr_flows++];
	memset(f, 0, sizeof(*f));
	f->stream = stream;
	f->lc_taken = -1;
	return f;
}

static size_t sa_ptr_hash(const void *p, size_t n)
{
	uint64_t v = (uint64_t)(uintptr_t)p;

	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return (size_t)v & (n - 1);
}

static int sa_cache_grow(struct sa_hist_builder *b)
{
	size_t n = b->nr_cache ? 2 * b->nr_cache : 1024, i;
	struct sa_fcache *c = calloc(n, sizeof(*c));

	if (!c)
		return -ENOMEM;
	for (i = 0; i < b->nr_cache; i++) {
		size_t s;

		if (!b->cache[i].fm)
			continue;
		s = sa_ptr_hash(b->cache[i].fm, n);
		while (c[s].fm)
			s = (s + 1) & (n - 1);
		c[s] = b->cache[i];
	}
	free(b->cache);
	b->cache = c;
	b->nr_cache = n;
	return 0;
}

/* The history function of a site map, created on first use. */
static struct sa_hist_func *sa_func_of(struct sa_hist_builder *b,
				       const struct sa_fmap *fm)
{
	struct sa_hist_func key, *f;
	const struct sa_dso *dso;
	char bid[2 * SA_BUILD_ID_MAX + 1];
	size_t s;

	if (2 * (b->used_cache + 1) > b->nr_cache && sa_cache_grow(b))
		return NULL;
	s = sa_ptr_hash(fm, b->nr_cache);
	while (b->cache[s].fm) {
		if (b->cache[s].fm == fm)
			return b->cache[s].f;
		s = (s + 1) & (b->nr_cache - 1);
	}

	memset(&key, 0, sizeof(key));
	dso = fm->sym ? fm->sym->dso : sa_image_dso(b->img, fm->start);
	key.linkage_name = fm->sym ? fm->sym->name : "[unknown]";
	key.name = fm->sym ? sa_sym_demangled(fm->sym) : NULL;
	if (!key.name)
		key.name = key.linkage_name;
	key.binary = dso ? dso->path : "[unknown]";
	bid[0] = '\0';
	if (dso && dso->build_id_len)
		sa_build_id_str(dso->build_id, dso->build_id_len, bid,
				sizeof(bid));
	key.build_id = bid;
	key.entry = fm->sym ? fm->sym->start : fm->start;
	key.entry_offset = key.entry - (dso ? dso->bias : 0);
	key.is_sink = fm->sym && sa_is_sink(b, fm->sym->name);
	f = sa_hist_get_func(b->h, &key);
	if (!f)
		return NULL;
	b->cache[s].fm = fm;
	b->cache[s].f = f;
	b->used_cache++;
	return f;
}

static uint64_t sa_offset_of(const struct sa_hist_builder *b, uint64_t addr)
{
	const struct sa_dso *dso = sa_image_dso(b->img, addr);

	return addr - (dso ? dso->bias : 0);
}

static struct sa_hist_branch *sa_branch_of(struct sa_hist_builder *b,
					   struct sa_hist_func *f,
					   const struct sa_site *site)
{
	struct sa_hist_branch tmpl;

	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.addr = site->addr;
	tmpl.offset = sa_offset_of(b, site->addr);
	tmpl.iclass = site->iclass;
	tmpl.target = site->target;
	tmpl.fallthrough = site->fallthrough;
	tmpl.file = site->file;
	tmpl.line = site->line;
	tmpl.insn = site->text;
	return sa_hist_get_branch(b->h, f, &tmpl);
}

/* Decisions (conditional and indirect branches) are counted as ranges pass
 * them; direct calls are kept too, counted when they are taken.
 */
static bool sa_is_decision(uint8_t ic)
{
	return ic == SA_IC_COND || ic == SA_IC_IND_JUMP ||
	       ic == SA_IC_IND_CALL;
}

static const struct sa_fmap *sa_fmap_at(struct sa_hist_builder *b,
					uint64_t addr, uint8_t isa)
{
	return sa_sitemap_function(b->sites, addr, (enum sa_isa)isa);
}

/* Control entered @to through a branch of @fl: count calls and sinks. */
static int sa_enter(struct sa_hist_builder *b, struct sa_flow *fl,
		    uint64_t to, bool call)
{
	const struct sa_fmap *fm = sa_fmap_at(b, to, fl->pend.isa);
	struct sa_hist_func *callee;

	if (!fm)
		return 0;
	callee = sa_func_of(b, fm);
	if (!callee)
		return -ENOMEM;
	if (call)
		callee->calls += b->mult;
	if (!callee->is_sink || (fl->func && fl->func->is_sink))
		return 0;
	/* an error path starts here: blame the last decision */
	if (fl->func)
		fl->func->sink_entries += b->mult;
	if (fl->lc_taken >= 0 && fl->lc_func) {
		struct sa_hist_branch key, *br;

		memset(&key, 0, sizeof(key));
		key.offset = fl->lc_offset;
		br = sa_hist_get_branch(b->h, fl->lc_func, &key);
		if (!br)
			return -ENOMEM;
		if (fl->lc_taken)
			br->sink_taken += b->mult;
		else
			br->sink_not_taken += b->mult;
	}
	return 0;
}

static void sa_emit(struct sa_hist_builder *b, uint64_t from, uint64_t to,
		    enum sa_iclass ic)
{
	uint64_t i;

	if (b->branch_fn)
		for (i = 0; i < b->mult; i++)
			b->branch_fn(b->branch_ctx, from, to, ic);
}

/* Counts the outcome @next of the indirect branch @br by the target's
 * identity (struct sa_hist_target): object and link-time address, never
 * the runtime address alone.
 */
static int sa_add_target(struct sa_hist_builder *b, struct sa_hist_branch *br,
			 uint64_t next)
{
	char bid[2 * SA_BUILD_ID_MAX + 1];
	const struct sa_region *r;
	const struct sa_dso *dso;
	struct sa_hist_target t;

	memset(&t, 0, sizeof(t));
	t.addr = next;
	dso = sa_image_dso(b->img, next);
	r = sa_image_region(b->img, next);
	if (dso) {
		const struct sa_sym *sym = sa_image_symbolize(b->img, next);

		/* the vDSO's image from the build-id cache: shown as the
		 * vDSO, not by the cache's path
		 */
		t.binary = r && !strcmp(r->name, "[vdso]") ? r->name :
							     dso->path;
		t.offset = next - dso->bias;
		if (dso->build_id_len) {
			sa_build_id_str(dso->build_id, dso->build_id_len, bid,
					sizeof(bid));
			t.build_id = bid;
		}
		if (sym) {
			t.sym = sa_sym_demangled(sym);
			if (!t.sym)
				t.sym = sym->name;
			t.sym_off = next - sym->start;
		}
	} else if (r) {
		/* The vDSO is linked at 0: its offset is stable for one
		 * kernel.  Anonymous code has no stable address at all.
		 */
		t.binary = r->name;
		if (!strcmp(r->name, "[vdso]") || !strcmp(r->name, "[vsyscall]"))
			t.offset = next - r->start;
		if (!strcmp(r->name, "[vdso]"))
			b->h->dec.unnamed_vdso_targets += b->mult;
	} else if (sa_image_read(b->img, next, bid, 1) > 0) {
		/* Raw images and memory dumps, at the address the user gave
		 * (--image FILE@ADDR, snapshots): no load bias to remove.
		 */
		t.binary = "[raw]";
		t.offset = next;
	} else {
		t.binary = "[unknown]";
		b->h->dec.unnamed_targets += b->mult;
	}
	return sa_hist_add_target(b->h, br, &t, b->mult);
}

/* Resolves the last instruction of the pending range; @next is the next
 * address in program order, 0 when unknown.
 */
static int sa_resolve(struct sa_hist_builder *b, struct sa_flow *fl,
		      uint64_t next)
{
	const struct sa_site *s = &fl->site;
	struct sa_hist_branch *br;
	uint64_t from = fl->pend.last;
	int taken, err = 0;

	fl->pending = false;
	if (!fl->have_site || !fl->func)
		return 0;
	/* The decoder saw a branch of another class not taken: an A32
	 * instruction whose condition failed (BLEQ, BXNE ...; CoreSight's N
	 * atom).  Nothing was transferred, so nothing is counted.
	 */
	if (fl->pend.last_taken == 0 && s->iclass != SA_IC_COND)
		return 0;

	switch (s->iclass) {
	case SA_IC_COND:
		taken = fl->pend.last_taken;
		if (taken < 0 && next && s->target != s->fallthrough) {
			if (next == s->target)
				taken = 1;
			else if (next == s->fallthrough)
				taken = 0;
		}
		if (taken < 0) {
			b->h->dec.unknown_taken += b->mult;
			break;
		}
		br = sa_branch_of(b, fl->func, s);
		if (!br)
			return -ENOMEM;
		if (taken)
			br->taken += b->mult;
		else
			br->not_taken += b->mult;
		fl->lc_func = fl->func;
		fl->lc_offset = br->offset;
		fl->lc_taken = taken;
		if (taken) {
			sa_emit(b, from, s->target, SA_IC_COND);
			err = sa_enter(b, fl, s->target, false);
		}
		break;
	case SA_IC_JUMP:
		sa_emit(b, from, s->target, SA_IC_JUMP);
		err = sa_enter(b, fl, s->target, false);
		break;
	case SA_IC_CALL:
		/* Kept as a call edge (taken = calls made here): the
		 * detector tells a caller's branch on a callee's result from
		 * an independent decision by it.
		 */
		br = sa_branch_of(b, fl->func, s);
		if (!br)
			return -ENOMEM;
		br->executed += b->mult;
		br->taken += b->mult;
		sa_emit(b, from, s->target, SA_IC_CALL);
		err = sa_enter(b, fl, s->target, true);
		break;
	case SA_IC_IND_CALL:
	case SA_IC_IND_JUMP:
		if (!next)
			break;
		br = sa_branch_of(b, fl->func, s);
		if (!br)
			return -ENOMEM;
		br->taken += b->mult;
		err = sa_add_target(b, br, next);
		if (err)
			return err;
		sa_emit(b, from, next, (enum sa_iclass)s->iclass);
		err = sa_enter(b, fl, next, s->iclass == SA_IC_IND_CALL);
		break;
	case SA_IC_RET:
		if (next)
			sa_emit(b, from, next, SA_IC_RET);
		break;
	default:
		break;
	}
	return err;
}

/* Counts the instructions of @e from its first function onwards, and the
 * conditional sites it passed without taking them.  Returns the function
 * map that holds the last instruction, or NULL.
 */
static int sa_walk_range(struct sa_hist_builder *b, const struct sa_elem *e,
			 const struct sa_fmap **last_fm)
{
	uint64_t addr = e->start;
	bool first = true;
	int hops = 0;

	*last_fm = NULL;
	while (hops++ < 64) {
		const struct sa_fmap *fm = sa_fmap_at(b, addr, e->isa);
		struct sa_hist_func *f;
		size_t i;

		if (!fm) {
			b->h->dec.unmapped += b->mult;
			return 0;
		}
		f = sa_func_of(b, fm);
		if (!f)
			return -ENOMEM;
		/* A range that runs on past its function's end is rare
		 * (fall-through into the next symbol); its instructions are
		 * all counted where the range started.
		 */
		if (first)
			f->insns += e->ninsn * b->mult;
		first = false;
		for (i = sa_fmap_lower_bound(fm, addr);
		     i < fm->nr_sites && fm->sites[i].addr <= e->last; i++) {
			const struct sa_site *s = &fm->sites[i];
			struct sa_hist_branch *br;

			if (!sa_is_decision(s->iclass))
				continue;
			br = sa_branch_of(b, f, s);
			if (!br)
				return -ENOMEM;
			br->executed += b->mult;
			if (s->addr != e->last && s->iclass == SA_IC_COND)
				br->not_taken += b->mult;
		}
		if (e->last < fm->end || fm->end <= addr) {
			*last_fm = fm;
			return 0;
		}
		addr = fm->end;
	}
	return 0;
}

static int sa_add_range(struct sa_hist_builder *b, struct sa_flow *fl,
			const struct sa_elem *e)
{
	const struct sa_fmap *fm;
	const struct sa_site *s;
	int err;

	if (fl->pending) {
		err = sa_resolve(b, fl, e->start);
		if (err)
			return err;
	}
	b->h->dec.instructions += e->ninsn * b->mult;
	err = sa_walk_range(b, e, &fm);
	if (err || !fm)
		return err;

	fl->pend = *e;
	fl->pending = true;
	fl->func = sa_func_of(b, fm);
	if (!fl->func)
		return -ENOMEM;
	s = sa_fmap_site(fm, e->last);
	fl->have_site = s != NULL;
	/* The decoder ended the range on a decision the site map does not
	 * know there (code disassembled out of step, or changed under the
	 * trace): its outcome is lost, and counted as such.
	 */
	if (!s && sa_is_decision(e->last_class))
		b->h->dec.unknown_taken += b->mult;
	if (s) {
		fl->site = *s;
		/* Trust the decoder where the disassembler gave up. */
		if (s->iclass == SA_IC_UNKNOWN)
			fl->site.iclass = e->last_class;
		if (fl->site.iclass == SA_IC_RET)
			fl->func->returns += b->mult;
	}
	return 0;
}

static int sa_add_gap(struct sa_hist_builder *b, struct sa_flow *fl,
		      const struct sa_elem *e)
{
	uint64_t next = 0;

	switch (e->gap_reason) {
	case SA_GAP_DISABLED:
	case SA_GAP_ASYNC:
		next = e->ip;
		break;
	case SA_GAP_ERROR:
	case SA_GAP_OVERFLOW:
	case SA_GAP_LOST:
		sa_hist_note_error(b->h, e->offset, e->error,
				   (enum sa_gap_reason)e->gap_reason,
				   e->lost_bytes);
		break;
	default:
		break;
	}
	if (fl->pending)
		return sa_resolve(b, fl, next);
	return 0;
}

int sa_hist_builder_add(struct sa_hist_builder *b, const struct sa_elem *e)
{
	struct sa_flow *fl = sa_flow_get(b, e->stream);

	if (!fl)
		return -ENOMEM;
	if (e->kind == SA_ELEM_RANGE)
		return sa_add_range(b, fl, e);
	if (e->kind == SA_ELEM_GAP)
		return sa_add_gap(b, fl, e);
	return -SA_ERR_INVAL;
}

int sa_hist_builder_flush(struct sa_hist_builder *b)
{
	size_t i;
	int err;

	for (i = 0; i < b->nr_flows; i++) {
		struct sa_flow *fl = &b->flows[i];

		if (fl->pending) {
			err = sa_resolve(b, fl, 0);
			if (err)
				return err;
		}
		fl->lc_taken = -1;
		fl->lc_func = NULL;
	}
	return 0;
}

int sa_hist_builder_add_counted(struct sa_hist_builder *b,
				const struct sa_elem *range, uint64_t next,
				uint64_t count)
{
	struct sa_flow *fl = sa_flow_get(b, range->stream);
	int err;

	if (!fl)
		return -ENOMEM;
	if (range->kind != SA_ELEM_RANGE)
		return -SA_ERR_INVAL;
	if (!count)
		return 0;
	/* a range the element path left open ends where this one starts */
	if (fl->pending) {
		err = sa_resolve(b, fl, range->start);
		if (err)
			return err;
	}
	b->mult = count;
	err = sa_add_range(b, fl, range);
	if (!err && fl->pending)
		err = sa_resolve(b, fl, next);
	b->mult = 1;
	return err;
}

int sa_hist_builder_resolve(struct sa_hist_builder *b, uint16_t stream,
			    uint64_t next)
{
	struct sa_flow *fl = sa_flow_get(b, stream);

	if (!fl)
		return -ENOMEM;
	if (fl->pending)
		return sa_resolve(b, fl, next);
	return 0;
}

/* The function of @to is an error sink (sa_enter() then reads the last
 * decision).
 */
static bool sa_enters_sink(struct sa_hist_builder *b, uint64_t to, uint8_t isa)
{
	const struct sa_fmap *fm = sa_fmap_at(b, to, isa);

	return fm && fm->sym && sa_is_sink(b, fm->sym->name);
}

/*
 * What sa_hist_builder_add_counted() of @e and @next would do with the
 * flow's order-dependent state, worked out the way sa_walk_range(),
 * sa_add_range() and sa_resolve() do it, without counting (nor creating
 * functions: a caller may drop the edge).
 */
int sa_hist_builder_edge_flags(struct sa_hist_builder *b,
			       const struct sa_elem *e, uint64_t next)
{
	const struct sa_fmap *fm = NULL;
	const struct sa_site *s;
	uint64_t addr = e->start;
	int hops = 0, taken, flags = 0;
	uint8_t ic;

	while (hops++ < 64) {
		fm = sa_fmap_at(b, addr, e->isa);
		if (!fm)
			return 0;
		if (e->last < fm->end || fm->end <= addr)
			break;
		addr = fm->end;
		fm = NULL;
	}
	if (!fm)
		return 0;
	s = sa_fmap_site(fm, e->last);
	if (!s)
		return 0;
	ic = s->iclass == SA_IC_UNKNOWN ? e->last_class : s->iclass;
	if (e->last_taken == 0 && ic != SA_IC_COND)
		return 0;
	switch (ic) {
	case SA_IC_COND:
		taken = e->last_taken;
		if (taken < 0 && next && s->target != s->fallthrough) {
			if (next == s->target)
				taken = 1;
			else if (next == s->fallthrough)
				taken = 0;
		}
		if (taken < 0)
			break;
		flags |= SA_HIST_EDGE_DECIDES;
		if (taken && sa_enters_sink(b, s->target, e->isa))
			flags |= SA_HIST_EDGE_ORDERED;
		break;
	case SA_IC_JUMP:
	case SA_IC_CALL:
		if (sa_enters_sink(b, s->target, e->isa))
			flags |= SA_HIST_EDGE_ORDERED;
		break;
	case SA_IC_IND_CALL:
	case SA_IC_IND_JUMP:
		if (!next)
			break;
		flags |= SA_HIST_EDGE_TARGET;
		if (sa_enters_sink(b, next, e->isa))
			flags |= SA_HIST_EDGE_ORDERED;
		break;
	default:
		break;
	}
	return flags;
}
