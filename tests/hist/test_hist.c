// SPDX-License-Identifier: BSD-2-Clause
/*
 * History container and builder.  The builder is fed hand-made flows over
 * hand-assembled x86-64 code, so every expected count follows from the
 * code and the flow written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/hist.h"
#include "sensor/image.h"
#include "sensor/sites.h"
#include "testutil.h"

/*
 * 0x1000: 31 c0        xor  eax, eax
 * 0x1002: 83 f8 05     cmp  eax, 5
 * 0x1005: 74 05        je   0x100c
 * 0x1007: ff c0        inc  eax
 * 0x1009: eb f7        jmp  0x1002
 * 0x100b: 90           nop
 * 0x100c: c3           ret
 */
static const uint8_t loop_code[] = {
	0x31, 0xc0, 0x83, 0xf8, 0x05, 0x74, 0x05, 0xff,
	0xc0, 0xeb, 0xf7, 0x90, 0xc3,
};

struct fixture {
	struct sa_image *img;
	struct sa_sitemap *sites;
	struct sa_hist *h;
	struct sa_hist_builder *b;
};

struct taken {
	uint64_t from, to;
	enum sa_iclass kind;
};

static struct taken seen[64];
static size_t nr_seen;

static void on_branch(void *ctx, uint64_t from, uint64_t to,
		      enum sa_iclass kind)
{
	ck_assert_uint_lt(nr_seen, 64);
	seen[nr_seen].from = from;
	seen[nr_seen].to = to;
	seen[nr_seen].kind = kind;
	nr_seen++;
}

static void fx_init(struct fixture *fx)
{
	fx->img = sa_image__new(SA_ARCH_X86_64);
	ck_assert_ptr_nonnull(fx->img);
	ck_assert_int_eq(sa_image_add_buffer(fx->img, loop_code,
					     sizeof(loop_code), 0x1000), 0);
	fx->sites = sa_sitemap__new(fx->img);
	ck_assert_ptr_nonnull(fx->sites);
	fx->h = sa_hist__new();
	ck_assert_ptr_nonnull(fx->h);
	fx->b = sa_hist_builder__new(fx->h, fx->img, fx->sites);
	ck_assert_ptr_nonnull(fx->b);
	sa_hist_builder_set_branch_fn(fx->b, on_branch, NULL);
	nr_seen = 0;
}

static void fx_fini(struct fixture *fx)
{
	sa_hist_builder__free(fx->b);
	sa_hist__free(fx->h);
	sa_sitemap__free(fx->sites);
	sa_image__free(fx->img);
}

static void add_range(struct fixture *fx, uint64_t start, uint64_t last,
		      uint32_t ninsn, enum sa_iclass ic)
{
	struct sa_elem e;

	memset(&e, 0, sizeof(e));
	e.kind = SA_ELEM_RANGE;
	e.isa = SA_ISA_X86_64;
	e.start = start;
	e.last = last;
	e.ninsn = ninsn;
	e.last_class = (uint8_t)ic;
	e.last_taken = -1;
	ck_assert_int_eq(sa_hist_builder_add(fx->b, &e), 0);
}

static void add_gap(struct fixture *fx, enum sa_gap_reason r, uint64_t ip,
		    uint64_t offset)
{
	struct sa_elem e;

	memset(&e, 0, sizeof(e));
	e.kind = SA_ELEM_GAP;
	e.gap_reason = (uint16_t)r;
	e.ip = ip;
	e.offset = offset;
	e.error = r == SA_GAP_ERROR ? -SA_ERR_DECODE : 0;
	e.lost_bytes = r == SA_GAP_ERROR ? 16 : 0;
	ck_assert_int_eq(sa_hist_builder_add(fx->b, &e), 0);
}

/* The loop runs with eax = 0..5: five fall-throughs of je, then taken. */
static void run_loop(struct fixture *fx)
{
	int i;

	add_range(fx, 0x1000, 0x1009, 5, SA_IC_JUMP);
	for (i = 0; i < 4; i++)
		add_range(fx, 0x1002, 0x1009, 4, SA_IC_JUMP);
	add_range(fx, 0x1002, 0x1005, 2, SA_IC_COND);
}

static const struct sa_hist_branch *only_branch(struct sa_hist *h)
{
	const struct sa_hist_func *f;

	ck_assert_uint_eq(sa_hist_nr_functions(h), 1);
	f = sa_hist_function(h, 0);
	ck_assert_uint_eq(f->nr_branches, 1);
	return &f->branches[0];
}

START_TEST(test_loop_counts)
{
	struct fixture fx;
	const struct sa_hist_branch *br;
	size_t i;

	fx_init(&fx);
	run_loop(&fx);
	add_range(&fx, 0x100c, 0x100c, 1, SA_IC_RET);
	add_gap(&fx, SA_GAP_END, 0, 100);
	ck_assert_int_eq(sa_hist_builder_flush(fx.b), 0);

	br = only_branch(fx.h);
	ck_assert_uint_eq(br->addr, 0x1005);
	ck_assert_uint_eq(br->iclass, SA_IC_COND);
	ck_assert_uint_eq(br->target, 0x100c);
	ck_assert_uint_eq(br->fallthrough, 0x1007);
	ck_assert_uint_eq(br->executed, 6);
	ck_assert_uint_eq(br->not_taken, 5);
	ck_assert_uint_eq(br->taken, 1);
	ck_assert_str_eq(br->insn, "je 0x100c");
	ck_assert_uint_eq(sa_hist_decode(fx.h)->instructions, 5 + 16 + 2 + 1);
	ck_assert_uint_eq(sa_hist_function(fx.h, 0)->returns, 1);

	/* five jmp back, then the taken je; the ret has no known target */
	ck_assert_uint_eq(nr_seen, 6);
	for (i = 0; i < 5; i++) {
		ck_assert_uint_eq(seen[i].from, 0x1009);
		ck_assert_uint_eq(seen[i].to, 0x1002);
		ck_assert_int_eq(seen[i].kind, SA_IC_JUMP);
	}
	ck_assert_uint_eq(seen[5].from, 0x1005);
	ck_assert_uint_eq(seen[5].to, 0x100c);
	ck_assert_int_eq(seen[5].kind, SA_IC_COND);
	fx_fini(&fx);
}
END_TEST

/* An error right after the je: its outcome is unknown, not guessed. */
START_TEST(test_error_leaves_outcome_unknown)
{
	struct fixture fx;
	const struct sa_hist_branch *br;
	const struct sa_hist_decode *d;

	fx_init(&fx);
	run_loop(&fx);
	add_gap(&fx, SA_GAP_ERROR, 0, 0x40);
	add_range(&fx, 0x100c, 0x100c, 1, SA_IC_RET);
	ck_assert_int_eq(sa_hist_builder_flush(fx.b), 0);

	br = only_branch(fx.h);
	ck_assert_uint_eq(br->executed, 6);
	ck_assert_uint_eq(br->not_taken, 5);
	ck_assert_uint_eq(br->taken, 0);
	d = sa_hist_decode(fx.h);
	ck_assert_uint_eq(d->unknown_taken, 1);
	ck_assert_uint_eq(d->errors, 1);
	ck_assert_uint_eq(d->lost_bytes, 16);
	ck_assert_uint_eq(d->nr_error_list, 1);
	ck_assert_uint_eq(d->error_list[0].offset, 0x40);
	fx_fini(&fx);
}
END_TEST

/* Tracing disabled after the je, with the next ip known (TIP.PGD target
 * or the FUP of an interrupt): the outcome follows from it.
 */
START_TEST(test_disabled_gap_resolves)
{
	struct fixture fx;
	const struct sa_hist_branch *br;

	fx_init(&fx);
	run_loop(&fx);
	add_gap(&fx, SA_GAP_DISABLED, 0x100c, 0x40);
	ck_assert_int_eq(sa_hist_builder_flush(fx.b), 0);
	br = only_branch(fx.h);
	ck_assert_uint_eq(br->taken, 1);
	ck_assert_uint_eq(sa_hist_decode(fx.h)->unknown_taken, 0);
	fx_fini(&fx);
}
END_TEST

/* The decoder's own outcome wins over inference. */
START_TEST(test_decoder_outcome)
{
	struct fixture fx;
	struct sa_elem e;
	const struct sa_hist_branch *br;

	fx_init(&fx);
	memset(&e, 0, sizeof(e));
	e.kind = SA_ELEM_RANGE;
	e.isa = SA_ISA_X86_64;
	e.start = 0x1002;
	e.last = 0x1005;
	e.ninsn = 2;
	e.last_class = SA_IC_COND;
	e.last_taken = 0;
	ck_assert_int_eq(sa_hist_builder_add(fx.b, &e), 0);
	ck_assert_int_eq(sa_hist_builder_flush(fx.b), 0);
	br = only_branch(fx.h);
	ck_assert_uint_eq(br->not_taken, 1);
	ck_assert_uint_eq(br->taken, 0);
	fx_fini(&fx);
}
END_TEST

/*
 * 0x2000: e8 03 00 00 00   call 0x2008
 * 0x2005: 90               nop
 * 0x2006: 90               nop
 * 0x2007: 90               nop
 * 0x2008: c3               ret
 */
static const uint8_t call_code[] = {
	0xe8, 0x03, 0x00, 0x00, 0x00, 0x90, 0x90, 0x90, 0xc3,
};

/* A call the decoder reports not taken (an A32 BL whose condition failed,
 * CoreSight's N atom) calls nothing; an executed one calls its target.
 */
START_TEST(test_call_not_taken)
{
	struct fixture fx;
	struct sa_elem e;
	size_t i;
	uint64_t calls = 0;

	fx_init(&fx);
	ck_assert_int_eq(sa_image_add_buffer(fx.img, call_code,
					     sizeof(call_code), 0x2000), 0);
	memset(&e, 0, sizeof(e));
	e.kind = SA_ELEM_RANGE;
	e.isa = SA_ISA_X86_64;
	e.start = 0x2000;
	e.last = 0x2000;
	e.ninsn = 1;
	e.last_class = SA_IC_CALL;
	e.last_taken = 0;
	ck_assert_int_eq(sa_hist_builder_add(fx.b, &e), 0);
	e.start = 0x2005, e.last = 0x2007, e.ninsn = 3;
	e.last_class = SA_IC_OTHER, e.last_taken = -1;
	ck_assert_int_eq(sa_hist_builder_add(fx.b, &e), 0);
	ck_assert_int_eq(sa_hist_builder_flush(fx.b), 0);
	for (i = 0; i < sa_hist_nr_functions(fx.h); i++)
		calls += sa_hist_function(fx.h, i)->calls;
	ck_assert_uint_eq(calls, 0);
	ck_assert_uint_eq(nr_seen, 0);

	/* the same call executed */
	e.start = 0x2000, e.last = 0x2000, e.ninsn = 1;
	e.last_class = SA_IC_CALL, e.last_taken = 1;
	ck_assert_int_eq(sa_hist_builder_add(fx.b, &e), 0);
	e.start = 0x2008, e.last = 0x2008, e.ninsn = 1;
	e.last_class = SA_IC_RET, e.last_taken = -1;
	ck_assert_int_eq(sa_hist_builder_add(fx.b, &e), 0);
	ck_assert_int_eq(sa_hist_builder_flush(fx.b), 0);
	for (i = 0, calls = 0; i < sa_hist_nr_functions(fx.h); i++)
		calls += sa_hist_function(fx.h, i)->calls;
	ck_assert_uint_eq(calls, 1);
	ck_assert_uint_eq(nr_seen, 1);
	ck_assert_uint_eq(seen[0].from, 0x2000);
	ck_assert_uint_eq(seen[0].to, 0x2008);
	fx_fini(&fx);
}
END_TEST

/* Indirect targets in code without a file are one bucket per mapping
 * kind, the vDSO by its offset, bytes placed by the user without a dso
 * (raw images) by address; a target no mapping holds is "[unknown]" and
 * counted, never keyed by its runtime address.
 *
 * 0x3000: ff e0        jmp  rax
 */
START_TEST(test_target_buckets)
{
	static const uint8_t jmp_rax[] = { 0xff, 0xe0 };
	static const struct {
		uint64_t to;
		const char *binary;
		uint64_t offset;
	} want[] = {
		{ 0x70010, "[anon]", 0 },	/* two JIT addresses, */
		{ 0x70ff0, "[anon]", 0 },	/* one bucket */
		{ 0x80010, "[vdso]", 0x10 },
		{ 0x90100, "[jit]", 0 },
		{ 0x3001, "[raw]", 0x3001 },	/* bytes without a dso */
		{ 0xa0000, "[unknown]", 0 },
	};
	const struct sa_hist_branch *br = NULL;
	const struct sa_hist_func *f;
	struct fixture fx;
	size_t i, j;

	fx_init(&fx);
	ck_assert_int_eq(sa_image_add_buffer(fx.img, jmp_rax, sizeof(jmp_rax),
					     0x3000), 0);
	ck_assert_int_eq(sa_image_add_region(fx.img, "//anon", 0x70000,
					     0x1000), 0);
	ck_assert_int_eq(sa_image_add_region(fx.img, "[vdso]", 0x80000,
					     0x2000), 0);
	ck_assert_int_eq(sa_image_add_region(fx.img, "/memfd:jit (deleted)",
					     0x90000, 0x1000), 0);
	ck_assert_int_eq(sa_image_add_region(fx.img, "[vdso]", 0, 0),
			 -SA_ERR_INVAL);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		add_range(&fx, 0x3000, 0x3000, 1, SA_IC_IND_JUMP);
		add_gap(&fx, SA_GAP_DISABLED, want[i].to, 0x10 * i);
	}
	ck_assert_int_eq(sa_hist_builder_flush(fx.b), 0);
	for (i = 0; i < sa_hist_nr_functions(fx.h); i++) {
		f = sa_hist_function(fx.h, i);
		for (j = 0; j < f->nr_branches; j++)
			if (f->branches[j].offset == 0x3000)
				br = &f->branches[j];
	}
	ck_assert_ptr_nonnull(br);
	ck_assert_uint_eq(br->taken, 6);
	ck_assert_uint_eq(br->nr_targets, 5);
	for (i = 1; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct sa_hist_target *t = &br->targets[i - 1];

		ck_assert_str_eq(t->binary, want[i].binary);
		ck_assert_uint_eq(t->offset, want[i].offset);
		ck_assert_ptr_null(t->sym);
		ck_assert_uint_eq(t->count, i == 1 ? 2 : 1);
	}
	ck_assert_uint_eq(sa_hist_decode(fx.h)->unnamed_targets, 1);
	fx_fini(&fx);
}
END_TEST

/* Two streams (CPUs, trace IDs) interleaved do not disturb each other. */
START_TEST(test_streams)
{
	struct fixture fx;
	struct sa_elem e;
	const struct sa_hist_branch *br;

	fx_init(&fx);
	memset(&e, 0, sizeof(e));
	e.kind = SA_ELEM_RANGE;
	e.isa = SA_ISA_X86_64;
	e.last_taken = -1;
	e.start = 0x1002, e.last = 0x1005, e.ninsn = 2, e.stream = 1;
	ck_assert_int_eq(sa_hist_builder_add(fx.b, &e), 0);
	e.start = 0x1002, e.last = 0x1005, e.ninsn = 2, e.stream = 2;
	ck_assert_int_eq(sa_hist_builder_add(fx.b, &e), 0);
	/* stream 1 fell through, stream 2 jumped */
	e.start = 0x1007, e.last = 0x1009, e.ninsn = 2, e.stream = 1;
	ck_assert_int_eq(sa_hist_builder_add(fx.b, &e), 0);
	e.start = 0x100c, e.last = 0x100c, e.ninsn = 1, e.stream = 2;
	ck_assert_int_eq(sa_hist_builder_add(fx.b, &e), 0);
	ck_assert_int_eq(sa_hist_builder_flush(fx.b), 0);
	br = only_branch(fx.h);
	ck_assert_uint_eq(br->taken, 1);
	ck_assert_uint_eq(br->not_taken, 1);
	fx_fini(&fx);
}
END_TEST

static void fill(struct sa_hist *h, const char *bid, uint64_t entry,
		 uint64_t taken)
{
	struct sa_hist_func k = { 0 };
	struct sa_hist_branch bt = { 0 };
	struct sa_hist_target t = { 0 };
	struct sa_hist_func *f;
	struct sa_hist_branch *b;

	k.name = "parse_header";
	k.binary = "/usr/bin/app";
	k.build_id = bid;
	k.entry = entry;
	k.entry_offset = 0x1130;
	f = sa_hist_get_func(h, &k);
	ck_assert_ptr_nonnull(f);
	f->calls += 3;
	bt.offset = 0x1158;
	bt.addr = entry + 0x28;
	bt.iclass = SA_IC_COND;
	bt.file = "parse.c";
	bt.line = 88;
	bt.insn = "jne 0x1190";
	b = sa_hist_get_branch(h, f, &bt);
	ck_assert_ptr_nonnull(b);
	b->taken += taken;
	b->not_taken += 10;
	b->executed += taken + 10;
	bt.offset = 0x1140;
	bt.iclass = SA_IC_IND_CALL;
	b = sa_hist_get_branch(h, f, &bt);
	ck_assert_ptr_nonnull(b);
	t.addr = entry + 0x500;
	t.offset = 0x1630;
	t.sym = "handler";
	ck_assert_int_eq(sa_hist_add_target(h, b, &t, 2), 0);
	sa_hist_decode_mut(h)->instructions += 100;
	sa_hist_decode_mut(h)->windows++;
}

/* Windows of one build at other load addresses merge by key. */
/*
 * Code without symbols longer than an anonymous region's cap, the cap
 * falling inside an instruction (the bytes of tests/sites t_anon_cap):
 * 0x10000: 410 x movabs $0xb848007c00000000, %rax  (10 bytes each)
 * 0x11004: jne 0x10000
 * 0x1100a: ret; nop x 9
 * The loop runs 7 times: taken 6 times, then falls through.  Each range
 * runs from 0x10000 to the jne, across the cap.  Out of step, the second
 * region read a phantom `jl` at 0x11000 (inside the last movabs) and
 * swallowed the jne, whose outcomes were dropped without a count.
 */
START_TEST(test_cap_inside_insn)
{
	static const uint8_t imm[8] = { 0, 0, 0, 0, 0x7c, 0x00, 0x48, 0xb8 };
	static uint8_t code[4200];
	const struct sa_hist_branch *br = NULL;
	struct fixture fx;
	size_t n = 0, i, k, nbr = 0;
	int32_t rel;

	for (i = 0; i < 410; i++) {
		code[n++] = 0x48;
		code[n++] = 0xb8;
		for (k = 0; k < 8; k++)
			code[n++] = imm[k];
	}
	rel = -(int32_t)(n + 6);
	code[n++] = 0x0f;
	code[n++] = 0x85;
	memcpy(code + n, &rel, 4);
	n += 4;
	code[n++] = 0xc3;
	for (k = 0; k < 9; k++)
		code[n++] = 0x90;

	fx.img = sa_image__new(SA_ARCH_X86_64);
	ck_assert_ptr_nonnull(fx.img);
	ck_assert_int_eq(sa_image_add_buffer(fx.img, code, n, 0x10000), 0);
	fx.sites = sa_sitemap__new(fx.img);
	fx.h = sa_hist__new();
	fx.b = sa_hist_builder__new(fx.h, fx.img, fx.sites);
	ck_assert(fx.sites && fx.h && fx.b);
	for (i = 0; i < 7; i++)
		add_range(&fx, 0x10000, 0x11004, 411, SA_IC_COND);
	add_range(&fx, 0x1100a, 0x1100a, 1, SA_IC_RET);
	add_gap(&fx, SA_GAP_END, 0, 100);
	ck_assert_int_eq(sa_hist_builder_flush(fx.b), 0);

	/* ground truth: one conditional branch, 6 taken, 1 not taken */
	for (i = 0; i < sa_hist_nr_functions(fx.h); i++) {
		const struct sa_hist_func *f = sa_hist_function(fx.h, i);

		for (k = 0; k < f->nr_branches; k++) {
			nbr++;
			br = &f->branches[k];
		}
	}
	ck_assert_uint_eq(nbr, 1);
	ck_assert_uint_eq(br->addr, 0x11004);
	ck_assert_uint_eq(br->taken, 6);
	ck_assert_uint_eq(br->not_taken, 1);
	ck_assert_uint_eq(br->executed, 7);
	ck_assert_uint_eq(sa_hist_decode(fx.h)->unknown_taken, 0);
	ck_assert_uint_eq(sa_hist_decode(fx.h)->instructions, 7 * 411 + 1);

	/* A range that ends on a decision the site map does not know
	 * there (the decoder says jcc, the map has a nop): an unknown
	 * outcome, counted, not dropped.
	 */
	add_range(&fx, 0x1100b, 0x1100b, 1, SA_IC_COND);
	add_gap(&fx, SA_GAP_END, 0, 200);
	ck_assert_int_eq(sa_hist_builder_flush(fx.b), 0);
	ck_assert_uint_eq(sa_hist_decode(fx.h)->unknown_taken, 1);
	fx_fini(&fx);
}
END_TEST

START_TEST(test_merge_by_key)
{
	struct sa_hist *a = sa_hist__new(), *b = sa_hist__new();
	const struct sa_hist_func *f;

	fill(a, "abcd", 0x555555555130, 4);
	fill(b, "abcd", 0x7f0000001130, 6);
	fill(b, "ef01", 0x7f0000001130, 1);	/* another build */
	ck_assert_int_eq(sa_hist_merge(a, b), 0);
	ck_assert_uint_eq(sa_hist_nr_functions(a), 2);
	f = sa_hist_function(a, 0);
	ck_assert_str_eq(f->build_id, "abcd");
	ck_assert_uint_eq(f->calls, 6);
	ck_assert_uint_eq(f->nr_branches, 2);
	/* sorted by offset */
	ck_assert_uint_eq(f->branches[0].offset, 0x1140);
	ck_assert_uint_eq(f->branches[0].nr_targets, 1);
	ck_assert_uint_eq(f->branches[0].targets[0].count, 4);
	ck_assert_uint_eq(f->branches[1].taken, 10);
	ck_assert_uint_eq(f->branches[1].not_taken, 20);
	ck_assert_uint_eq(sa_hist_decode(a)->instructions, 300);
	ck_assert_uint_eq(sa_hist_decode(a)->windows, 3);
	ck_assert_ptr_nonnull(sa_hist_find(a, "parse_header"));
	ck_assert_ptr_null(sa_hist_find(a, "nope"));
	sa_hist__free(a);
	sa_hist__free(b);
}
END_TEST

/* Histories merge threads; the thread list is their union, ascending,
 * each once, capped (the cap is said, never silent).
 */
START_TEST(test_merge_threads)
{
	struct sa_hist *a = sa_hist__new(), *b = sa_hist__new();
	struct sa_hist_decode *da = sa_hist_decode_mut(a);
	struct sa_hist_decode *db = sa_hist_decode_mut(b);
	int32_t i;

	sa_hist_decode_add_tid(da, 300);
	sa_hist_decode_add_tid(da, 100);
	sa_hist_decode_add_tid(da, 300);
	sa_hist_decode_add_tid(da, -1);		/* per CPU: no tid */
	sa_hist_decode_add_tid(db, 200);
	sa_hist_decode_add_tid(db, 100);
	ck_assert_uint_eq(da->nr_tids, 2);
	ck_assert_int_eq(sa_hist_merge(a, b), 0);
	ck_assert_uint_eq(da->nr_tids, 3);
	ck_assert_int_eq(da->tids[0], 100);
	ck_assert_int_eq(da->tids[1], 200);
	ck_assert_int_eq(da->tids[2], 300);
	ck_assert(!da->tids_truncated);
	for (i = 0; i < SA_HIST_MAX_TIDS + 5; i++)
		sa_hist_decode_add_tid(db, 1000 + i);
	ck_assert_uint_eq(db->nr_tids, SA_HIST_MAX_TIDS);
	ck_assert(db->tids_truncated);
	ck_assert_int_eq(sa_hist_merge(a, b), 0);
	ck_assert_uint_eq(da->nr_tids, SA_HIST_MAX_TIDS);
	ck_assert(da->tids_truncated);
	ck_assert_int_eq(da->tids[0], 100);
	sa_hist__free(a);
	sa_hist__free(b);
}
END_TEST

START_TEST(test_json_shape)
{
	struct sa_hist *h = sa_hist__new();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fill(h, "abcd", 0x401130, 4);
	ck_assert_int_eq(sa_hist_write_json(h, f, 0), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"version\": 1"));
	ck_assert_ptr_nonnull(strstr(buf, "\"functions\": ["));
	ck_assert_ptr_nonnull(strstr(buf, "\"name\": \"parse_header\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"entry\": \"0x401130\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"address\": \"0x401158\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"file\": \"parse.c\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"line\": 88"));
	ck_assert_ptr_nonnull(strstr(buf, "\"taken\": 4"));
	ck_assert_ptr_nonnull(strstr(buf, "\"not_taken\": 10"));
	ck_assert_ptr_nonnull(strstr(buf, "\"lost_bytes\": 0"));
	free(buf);
	sa_hist__free(h);
}
END_TEST

START_TEST(test_sinks)
{
	const char *const *s = sa_hist_default_sinks();
	int n = 0;

	for (; *s; s++)
		n += !strcmp(*s, "__assert_fail") || !strcmp(*s, "abort");
	ck_assert_int_eq(n, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hist");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_loop_counts);
	tcase_add_test(tc, test_error_leaves_outcome_unknown);
	tcase_add_test(tc, test_disabled_gap_resolves);
	tcase_add_test(tc, test_decoder_outcome);
	tcase_add_test(tc, test_streams);
	tcase_add_test(tc, test_call_not_taken);
	tcase_add_test(tc, test_merge_by_key);
	tcase_add_test(tc, test_merge_threads);
	tcase_add_test(tc, test_json_shape);
	tcase_add_test(tc, test_sinks);
	tcase_add_test(tc, test_target_buckets);
	tcase_add_test(tc, test_cap_inside_insn);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
