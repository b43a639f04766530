// SPDX-License-Identifier: BSD-2-Clause
/*
 * Suite 'ipt': the Intel PT backend on streams built at test time with
 * libipt's packet encoder over a small hand-assembled code buffer.  The
 * expected ranges and gaps are written from the code and the packets we
 * chose (what the CPU executed), never from the decoder's own output.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <intel-pt.h>

#include "decoder.h"
#include "sensor/image.h"
#include "testutil.h"

#define CODE 0x401000ull

/*
 * The traced program.  Offsets are relative to CODE.
 *
 *   00  b9 03 00 00 00        mov   ecx, 3
 *   05  ff c9                 dec   ecx          <- loop
 *   07  75 fc                 jnz   05
 *   09  e8 12 00 00 00        call  20
 *   0e  ff e0                 jmp   rax
 *   20  90                    nop                <- func
 *   21  c3                    ret
 *   30  90                    nop
 *   31  ff d2                 call  rdx
 *   33  ff e3                 jmp   rbx
 *   40  0f 05                 syscall
 *   42  90                    nop
 *   43  ff 24 25 00 10 40 00  jmp   [0x401000]
 *
 * Everything else is int3 (cc).
 */
static uint8_t code[0x60];

static void code_init(void)
{
	static const uint8_t p0[] = { 0xb9, 0x03, 0x00, 0x00, 0x00, 0xff,
				      0xc9, 0x75, 0xfc, 0xe8, 0x12, 0x00,
				      0x00, 0x00, 0xff, 0xe0 };
	static const uint8_t p20[] = { 0x90, 0xc3 };
	static const uint8_t p30[] = { 0x90, 0xff, 0xd2, 0xff, 0xe3 };
	static const uint8_t p40[] = { 0x0f, 0x05, 0x90, 0xff, 0x24, 0x25,
				       0x00, 0x10, 0x40, 0x00 };

	memset(code, 0xcc, sizeof(code));
	memcpy(code, p0, sizeof(p0));
	memcpy(code + 0x20, p20, sizeof(p20));
	memcpy(code + 0x30, p30, sizeof(p30));
	memcpy(code + 0x40, p40, sizeof(p40));
}

/* A PT stream written with libipt's encoder. */
struct stream {
	uint8_t buf[1 << 16];
	struct pt_encoder *enc;
};

static void st_init(struct stream *s)
{
	struct pt_config cfg;

	pt_config_init(&cfg);
	cfg.begin = s->buf;
	cfg.end = s->buf + sizeof(s->buf);
	s->enc = pt_alloc_encoder(&cfg);
	ck_assert_ptr_nonnull(s->enc);
}

static size_t st_off(struct stream *s)
{
	uint64_t off;

	ck_assert_int_eq(pt_enc_get_offset(s->enc, &off), 0);
	return (size_t)off;
}

static size_t st_done(struct stream *s)
{
	size_t len = st_off(s);

	pt_free_encoder(s->enc);
	s->enc = NULL;
	return len;
}

static void put(struct stream *s, struct pt_packet *p)
{
	ck_assert_int_gt(pt_enc_next(s->enc, p), 0);
}

static void put_type(struct stream *s, enum pt_packet_type t)
{
	struct pt_packet p;

	memset(&p, 0, sizeof(p));
	p.type = t;
	put(s, &p);
}

/* PSB+ with tracing disabled: PSB, PSBEND. */
static void psb(struct stream *s)
{
	put_type(s, ppt_psb);
	put_type(s, ppt_psbend);
}

static void mode64(struct stream *s)
{
	struct pt_packet p;

	memset(&p, 0, sizeof(p));
	p.type = ppt_mode;
	p.payload.mode.leaf = pt_mol_exec;
	p.payload.mode.bits.exec = pt_set_exec_mode(ptem_64bit);
	put(s, &p);
}

static void ip_pkt(struct stream *s, enum pt_packet_type t, uint64_t ip,
		   enum pt_ip_compression ipc)
{
	struct pt_packet p;

	memset(&p, 0, sizeof(p));
	p.type = t;
	p.payload.ip.ipc = ipc;
	p.payload.ip.ip = ip;
	put(s, &p);
}

#define pge(s, ip) ip_pkt(s, ppt_tip_pge, ip, pt_ipc_sext_48)
#define tip(s, ip) ip_pkt(s, ppt_tip, ip, pt_ipc_sext_48)
#define fup(s, ip) ip_pkt(s, ppt_fup, ip, pt_ipc_sext_48)
#define pgd(s) ip_pkt(s, ppt_tip_pgd, 0, pt_ipc_suppressed)

/* @n TNT bits, the first branch in the most significant one. */
static void tnt(struct stream *s, int n, uint64_t bits)
{
	struct pt_packet p;

	memset(&p, 0, sizeof(p));
	p.type = ppt_tnt_8;
	p.payload.tnt.bit_size = (uint8_t)n;
	p.payload.tnt.payload = bits;
	put(s, &p);
}

/*
 * Trace of: mov; 3x (dec; jnz) taken, taken, not taken; call 20; nop; ret
 * (compressed); jmp rax -> 30; nop; call rdx -> 20; nop; ret (compressed)
 * -> 33.  Leaves the CPU at 33 (jmp rbx), which needs trace.
 */
static void body(struct stream *s)
{
	mode64(s);
	pge(s, CODE);
	tnt(s, 4, 0xd);		/* jnz T, jnz T, jnz N, ret T */
	tip(s, CODE + 0x30);	/* jmp rax */
	tip(s, CODE + 0x20);	/* call rdx */
	tnt(s, 1, 1);		/* ret T */
}

/* An expected element. */
struct exp {
	int kind;
	int what;		/* gap reason or last_class */
	uint64_t start, last;
	uint32_t ninsn;
	int taken;
	int size;
	uint64_t ip;		/* gap ip */
};

#define R(s, l, n, c, t, sz) \
	{ SA_ELEM_RANGE, c, CODE + (s), CODE + (l), n, t, sz, 0 }
#define G(r, ip) { SA_ELEM_GAP, r, 0, 0, 0, 0, 0, ip }

/* The ranges of body(), in order. */
#define BODY_RANGES \
	R(0x00, 0x07, 3, SA_IC_COND, 1, 2), \
	R(0x05, 0x07, 2, SA_IC_COND, 1, 2), \
	R(0x05, 0x07, 2, SA_IC_COND, 0, 2), \
	R(0x09, 0x09, 1, SA_IC_CALL, -1, 5), \
	R(0x20, 0x21, 2, SA_IC_RET, -1, 1), \
	R(0x0e, 0x0e, 1, SA_IC_IND_JUMP, -1, 2), \
	R(0x30, 0x31, 2, SA_IC_IND_CALL, -1, 2), \
	R(0x20, 0x21, 2, SA_IC_RET, -1, 1)
#define BODY_INSNS 15

#define MAX_ELEMS 4096

struct run {
	struct sa_elem e[MAX_ELEMS];
	size_t n;
	struct sa_dec_stats stats;
	int last_ret;
};

static void fmt_elem(const struct sa_elem *e, char *buf, size_t size)
{
	if (e->kind == SA_ELEM_RANGE)
		snprintf(buf, size, "range %#" PRIx64 "-%#" PRIx64
			 " n=%u class=%u taken=%d size=%u flags=%u",
			 e->start, e->last, e->ninsn, e->last_class,
			 e->last_taken, e->last_size, e->flags);
	else
		snprintf(buf, size, "gap reason=%u ip=%#" PRIx64 " off=%#"
			 PRIx64 " lost=%" PRIu64 " err=%d", e->gap_reason,
			 e->ip, e->offset, e->lost_bytes, e->error);
}

static void fmt_exp(const struct exp *x, char *buf, size_t size)
{
	if (x->kind == SA_ELEM_RANGE)
		snprintf(buf, size, "range %#" PRIx64 "-%#" PRIx64
			 " n=%u class=%d taken=%d size=%d", x->start, x->last,
			 x->ninsn, x->what, x->taken, x->size);
	else
		snprintf(buf, size, "gap reason=%d ip=%#" PRIx64, x->what,
			 x->ip);
}

static void decode(const uint8_t *buf, size_t len, uint64_t base,
		   struct run *r)
{
	struct sa_ipt_config cfg;
	struct sa_errinfo ei;
	struct sa_image *img;
	struct sa_dec *dec;
	int ret;

	img = sa_image__new(SA_ARCH_X86_64);
	ck_assert_ptr_nonnull(img);
	ck_assert_int_eq(sa_image_add_buffer(img, code, sizeof(code), CODE),
			 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.buf = buf;
	cfg.len = len;
	cfg.base_offset = base;
	cfg.image = img;
	cfg.family = 6;
	cfg.model = 94;
	cfg.stepping = 3;
	dec = sa_ipt__new(&cfg, &ei);
	ck_assert_msg(dec, "sa_ipt__new: %s", ei.msg);
	r->n = 0;
	while ((ret = sa_dec_next(dec, &r->e[r->n])) > 0) {
		r->n++;
		ck_assert_uint_lt(r->n, MAX_ELEMS);
	}
	r->last_ret = ret;
	/* After the end, it stays at the end. */
	ck_assert_int_eq(sa_dec_next(dec, &r->e[r->n]), 0);
	r->stats = *sa_dec_stats(dec);
	sa_dec__free(dec);
	sa_image__free(img);
}

/* The isa every expected range has. */
static int want_isa = SA_ISA_X86_64;

static bool same(const struct sa_elem *e, const struct exp *x)
{
	if (e->kind != x->kind)
		return false;
	if (x->kind == SA_ELEM_GAP)
		return e->gap_reason == x->what && e->ip == x->ip;
	return e->start == x->start && e->last == x->last &&
	       e->ninsn == x->ninsn && e->last_class == x->what &&
	       e->last_taken == x->taken && e->last_size == x->size &&
	       e->isa == want_isa && !e->flags;
}

/* Compares the whole sequence and prints both sides when they differ. */
static void check_seq(const struct run *r, const struct exp *x, size_t nx)
{
	char a[160], b[160];
	size_t i, n = r->n > nx ? r->n : nx;
	bool ok = r->n == nx;

	for (i = 0; ok && i < nx; i++)
		ok = same(&r->e[i], &x[i]);
	if (ok)
		return;
	for (i = 0; i < n; i++) {
		a[0] = b[0] = '\0';
		if (i < r->n)
			fmt_elem(&r->e[i], a, sizeof(a));
		if (i < nx)
			fmt_exp(&x[i], b, sizeof(b));
		fprintf(stderr, "%c %3zu got:  %s\n        want: %s\n",
			(i < r->n && i < nx && same(&r->e[i], &x[i])) ? ' ' :
									'!',
			i, a, b);
	}
	ck_abort_msg("element sequence differs (see above)");
}

/* With SA_IPT_DUMP=DIR, writes the code image and the trace of a test
 * as DIR/NAME-I.bin and DIR/NAME-I.pt, for a manual comparison with
 * libipt's ptxed (docs/ipt.md).
 */
static void dump(const char *name, int i, const uint8_t *code_buf,
		 size_t code_len, const uint8_t *pt, size_t pt_len)
{
	const char *dir = getenv("SA_IPT_DUMP");
	char path[4096];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s-%d.bin", dir, name, i);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(code_buf, 1, code_len, f), code_len);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s-%d.pt", dir, name, i);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(pt, 1, pt_len, f), pt_len);
	fclose(f);
}

static struct stream st;
static struct run run;

START_TEST(test_basic)
{
	static const struct exp want[] = {
		G(SA_GAP_START, CODE),
		BODY_RANGES,
		R(0x33, 0x33, 1, SA_IC_IND_JUMP, -1, 2),
		G(SA_GAP_DISABLED, 0),
		G(SA_GAP_END, 0),
	};
	size_t len;

	st_init(&st);
	psb(&st);
	body(&st);
	pgd(&st);		/* jmp rbx leaves the traced region */
	len = st_done(&st);

	dump("basic", 0, code, sizeof(code), st.buf, len);
	decode(st.buf, len, 0, &run);
	check_seq(&run, want, sizeof(want) / sizeof(want[0]));
	ck_assert_int_eq(run.last_ret, 0);
	ck_assert_uint_eq(run.stats.insns, BODY_INSNS + 1);
	ck_assert_uint_eq(run.stats.ranges, 9);
	ck_assert_uint_eq(run.stats.errors, 0);
	ck_assert_uint_eq(run.stats.lost_bytes, 0);
	ck_assert_uint_eq(run.stats.overflows, 0);
	ck_assert_uint_eq(run.stats.syncs, 1);
	ck_assert_uint_eq(run.stats.trace_bytes, len);
}
END_TEST

/* TIP.PGD after a syscall (user-only tracing), TIP.PGE back, and an
 * indirect jump through memory.
 */
START_TEST(test_pgd_pge)
{
	static const struct exp want[] = {
		G(SA_GAP_START, CODE + 0x40),
		R(0x40, 0x40, 1, SA_IC_SYSCALL, -1, 2),
		G(SA_GAP_DISABLED, 0),
		G(SA_GAP_START, CODE + 0x42),
		R(0x42, 0x43, 2, SA_IC_IND_JUMP, -1, 7),
		G(SA_GAP_DISABLED, 0),
		G(SA_GAP_END, 0),
	};
	size_t len;

	st_init(&st);
	psb(&st);
	mode64(&st);
	pge(&st, CODE + 0x40);
	pgd(&st);
	mode64(&st);
	pge(&st, CODE + 0x42);
	pgd(&st);
	len = st_done(&st);

	dump("pgd_pge", 0, code, sizeof(code), st.buf, len);
	decode(st.buf, len, 0, &run);
	check_seq(&run, want, sizeof(want) / sizeof(want[0]));
	ck_assert_uint_eq(run.stats.insns, 3);
	ck_assert_uint_eq(run.stats.errors, 0);
}
END_TEST

/* OVF, then FUP: the trace resumes at the FUP address. */
START_TEST(test_overflow)
{
	static const struct exp want[] = {
		G(SA_GAP_START, CODE),
		R(0x00, 0x07, 3, SA_IC_COND, 1, 2),
		R(0x05, 0x07, 2, SA_IC_COND, 1, 2),
		R(0x05, 0x07, 2, SA_IC_COND, 0, 2),
		R(0x09, 0x09, 1, SA_IC_CALL, -1, 5),
		R(0x20, 0x21, 2, SA_IC_RET, -1, 1),
		R(0x0e, 0x0e, 1, SA_IC_IND_JUMP, -1, 2),
		G(SA_GAP_OVERFLOW, CODE + 0x20),
		R(0x20, 0x21, 2, SA_IC_RET, -1, 1),
		R(0x33, 0x33, 1, SA_IC_IND_JUMP, -1, 2),
		G(SA_GAP_DISABLED, 0),
		G(SA_GAP_END, 0),
	};
	size_t len;

	st_init(&st);
	psb(&st);
	mode64(&st);
	pge(&st, CODE);
	tnt(&st, 4, 0xd);
	tip(&st, CODE + 0x30);	/* jmp rax */
	put_type(&st, ppt_ovf);	/* lost: nop; call rdx */
	fup(&st, CODE + 0x20);
	tip(&st, CODE + 0x33);	/* ret, not compressed */
	pgd(&st);
	len = st_done(&st);

	dump("overflow", 0, code, sizeof(code), st.buf, len);
	decode(st.buf, len, 0, &run);
	check_seq(&run, want, sizeof(want) / sizeof(want[0]));
	ck_assert_uint_eq(run.stats.overflows, 1);
	ck_assert_uint_eq(run.stats.errors, 0);
}
END_TEST

/*
 * A bad packet between two PSB+ sequences: one SA_GAP_ERROR at the bad
 * packet's offset, the bytes up to the next PSB lost, and the second
 * sequence decoded in full.
 */
START_TEST(test_corrupt)
{
	static const struct exp want[] = {
		G(SA_GAP_START, CODE),
		BODY_RANGES,
		/* jmp rbx at 33 needs the TIP that the bad packet hides */
		G(SA_GAP_ERROR, 0),
		G(SA_GAP_START, CODE),
		BODY_RANGES,
		R(0x33, 0x33, 1, SA_IC_IND_JUMP, -1, 2),
		G(SA_GAP_DISABLED, 0),
		G(SA_GAP_END, 0),
	};
	const uint64_t base = 0x10000;
	size_t bad, next, len, i;

	st_init(&st);
	psb(&st);
	body(&st);
	bad = st_off(&st);
	/* 0x02 0x02 is a reserved extended opcode.  Pad to the next PSB. */
	for (i = 0; i < 24; i++)
		put_type(&st, ppt_pad);
	next = st_off(&st);
	psb(&st);
	body(&st);
	pgd(&st);
	len = st_done(&st);
	st.buf[bad] = 0x02;
	st.buf[bad + 1] = 0x02;

	dump("corrupt", 0, code, sizeof(code), st.buf, len);
	decode(st.buf, len, base, &run);
	check_seq(&run, want, sizeof(want) / sizeof(want[0]));
	ck_assert_uint_eq(run.e[9].offset, base + bad);
	ck_assert_uint_eq(run.e[9].lost_bytes, next - bad);
	ck_assert_int_eq(run.e[9].error, -SA_ERR_DECODE);
	ck_assert_uint_eq(run.stats.errors, 1);
	ck_assert_uint_eq(run.stats.lost_bytes, next - bad);
	ck_assert_uint_eq(run.stats.syncs, 2);
	ck_assert_uint_eq(run.stats.insns, 2 * BODY_INSNS + 1);
}
END_TEST

/* The buffer ends in the middle of the TIP of jmp rax. */
/*
 * An interrupt after the third jnz (FUP = the next instruction, 09) to a
 * handler at 30 (TIP): the async gap's ip also tells that the jnz fell
 * through.
 */
START_TEST(test_async)
{
	static const struct exp want[] = {
		G(SA_GAP_START, CODE),
		R(0x00, 0x07, 3, SA_IC_COND, 1, 2),
		R(0x05, 0x07, 2, SA_IC_COND, 1, 2),
		R(0x05, 0x07, 2, SA_IC_COND, 0, 2),
		G(SA_GAP_ASYNC, CODE + 0x09),
		R(0x30, 0x31, 2, SA_IC_IND_CALL, -1, 2),
		R(0x20, 0x21, 2, SA_IC_RET, -1, 1),
		R(0x33, 0x33, 1, SA_IC_IND_JUMP, -1, 2),
		G(SA_GAP_DISABLED, 0),
		G(SA_GAP_END, 0),
	};
	size_t len;

	st_init(&st);
	psb(&st);
	mode64(&st);
	pge(&st, CODE);
	tnt(&st, 3, 0x6);	/* jnz T, T, N */
	fup(&st, CODE + 0x09);
	tip(&st, CODE + 0x30);
	tip(&st, CODE + 0x20);	/* call rdx */
	tnt(&st, 1, 1);		/* ret T */
	pgd(&st);
	len = st_done(&st);

	dump("async", 0, code, sizeof(code), st.buf, len);
	decode(st.buf, len, 0, &run);
	check_seq(&run, want, sizeof(want) / sizeof(want[0]));
	ck_assert_uint_eq(run.stats.insns, 12);
}
END_TEST

/* The same interrupt with user-only tracing: FUP + TIP.PGD. */
START_TEST(test_async_disabled)
{
	static const struct exp want[] = {
		G(SA_GAP_START, CODE),
		R(0x00, 0x07, 3, SA_IC_COND, 1, 2),
		R(0x05, 0x07, 2, SA_IC_COND, 1, 2),
		R(0x05, 0x07, 2, SA_IC_COND, 0, 2),
		G(SA_GAP_DISABLED, CODE + 0x09),
		G(SA_GAP_END, 0),
	};
	size_t len;

	st_init(&st);
	psb(&st);
	mode64(&st);
	pge(&st, CODE);
	tnt(&st, 3, 0x6);
	fup(&st, CODE + 0x09);
	pgd(&st);
	len = st_done(&st);

	dump("async_disabled", 0, code, sizeof(code), st.buf, len);
	decode(st.buf, len, 0, &run);
	check_seq(&run, want, sizeof(want) / sizeof(want[0]));
}
END_TEST

/* basic() in 32-bit mode: the same bytes mean the same instructions. */
START_TEST(test_mode32)
{
	static const struct exp want[] = {
		G(SA_GAP_START, CODE),
		BODY_RANGES,
		R(0x33, 0x33, 1, SA_IC_IND_JUMP, -1, 2),
		G(SA_GAP_DISABLED, 0),
		G(SA_GAP_END, 0),
	};
	struct pt_packet p;
	size_t len;

	st_init(&st);
	psb(&st);
	memset(&p, 0, sizeof(p));
	p.type = ppt_mode;
	p.payload.mode.leaf = pt_mol_exec;
	p.payload.mode.bits.exec = pt_set_exec_mode(ptem_32bit);
	put(&st, &p);
	pge(&st, CODE);
	tnt(&st, 4, 0xd);
	tip(&st, CODE + 0x30);
	tip(&st, CODE + 0x20);
	tnt(&st, 1, 1);
	pgd(&st);
	len = st_done(&st);

	dump("mode32", 0, code, sizeof(code), st.buf, len);
	decode(st.buf, len, 0, &run);
	want_isa = SA_ISA_X86_32;
	check_seq(&run, want, sizeof(want) / sizeof(want[0]));
	want_isa = SA_ISA_X86_64;
}
END_TEST

/* The code is not where the trace runs (an image at the wrong address):
 * one error, nothing decoded, the rest of the buffer lost.
 */
START_TEST(test_nomap)
{
	struct sa_ipt_config cfg;
	struct sa_errinfo ei;
	struct sa_image *img;
	struct sa_dec *dec;
	struct sa_elem e;
	size_t len, nerr = 0, nrange = 0;
	int ret;

	st_init(&st);
	psb(&st);
	body(&st);
	pgd(&st);
	len = st_done(&st);

	img = sa_image__new(SA_ARCH_X86_64);
	ck_assert_ptr_nonnull(img);
	ck_assert_int_eq(sa_image_add_buffer(img, code, sizeof(code),
					     CODE + 0x10000), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.buf = st.buf;
	cfg.len = len;
	cfg.image = img;
	dec = sa_ipt__new(&cfg, &ei);
	ck_assert_ptr_nonnull(dec);
	while ((ret = sa_dec_next(dec, &e)) > 0) {
		if (e.kind == SA_ELEM_RANGE)
			nrange++;
		else if (e.gap_reason == SA_GAP_ERROR) {
			nerr++;
			ck_assert_uint_eq(e.offset + e.lost_bytes, len);
		}
	}
	ck_assert_int_eq(ret, 0);
	ck_assert_uint_eq(nrange, 0);
	ck_assert_uint_eq(nerr, 1);
	ck_assert_uint_eq(sa_dec_stats(dec)->errors, 1);
	ck_assert_uint_eq(sa_dec_stats(dec)->insns, 0);
	sa_dec__free(dec);
	sa_image__free(img);
}
END_TEST

START_TEST(test_truncated)
{
	static const struct exp want[] = {
		G(SA_GAP_START, CODE),
		R(0x00, 0x07, 3, SA_IC_COND, 1, 2),
		R(0x05, 0x07, 2, SA_IC_COND, 1, 2),
		R(0x05, 0x07, 2, SA_IC_COND, 0, 2),
		R(0x09, 0x09, 1, SA_IC_CALL, -1, 5),
		R(0x20, 0x21, 2, SA_IC_RET, -1, 1),
		R(0x0e, 0x0e, 1, SA_IC_IND_JUMP, -1, 2),
		G(SA_GAP_END, 0),
	};
	size_t cut;

	st_init(&st);
	psb(&st);
	mode64(&st);
	pge(&st, CODE);
	tnt(&st, 4, 0xd);
	cut = st_off(&st) + 3;
	tip(&st, CODE + 0x30);
	st_done(&st);

	decode(st.buf, cut, 0, &run);
	check_seq(&run, want, sizeof(want) / sizeof(want[0]));
	ck_assert_uint_eq(run.stats.errors, 0);
	ck_assert_uint_eq(run.stats.insns, 11);
}
END_TEST

START_TEST(test_empty)
{
	static const struct exp want[] = { G(SA_GAP_END, 0) };

	decode(NULL, 0, 0, &run);
	check_seq(&run, want, 1);
	ck_assert_uint_eq(run.stats.insns, 0);
	ck_assert_uint_eq(run.stats.errors, 0);
	ck_assert_uint_eq(run.stats.syncs, 0);
}
END_TEST

/* Bytes without any PSB: nothing decodes, all of it is lost. */
START_TEST(test_no_psb)
{
	static const struct exp want[] = {
		G(SA_GAP_ERROR, 0),
		G(SA_GAP_END, 0),
	};
	static uint8_t buf[100];

	memset(buf, 0x55, sizeof(buf));
	decode(buf, sizeof(buf), 7, &run);
	check_seq(&run, want, 2);
	ck_assert_uint_eq(run.e[0].offset, 7);
	ck_assert_uint_eq(run.e[0].lost_bytes, sizeof(buf));
	ck_assert_uint_eq(run.stats.errors, 1);
	ck_assert_uint_eq(run.stats.lost_bytes, sizeof(buf));
}
END_TEST

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Random bytes with PSB+ and an enable planted every 2 KiB: the decoder
 * must end, account for every error gap and lost byte, and never report
 * more bytes lost than the buffer holds.
 */
START_TEST(test_random)
{
	static uint8_t buf[1 << 15];
	uint64_t seed = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
	uint64_t errors = 0, lost = 0, insns = 0;
	size_t i, pos;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)xorshift(&seed);
	for (pos = 0; pos + 64 < sizeof(buf); pos += 2048) {
		uint8_t tmp[64];
		struct pt_config cfg;
		struct pt_encoder *enc;
		struct pt_packet p;
		uint64_t off;

		pt_config_init(&cfg);
		cfg.begin = tmp;
		cfg.end = tmp + sizeof(tmp);
		enc = pt_alloc_encoder(&cfg);
		ck_assert_ptr_nonnull(enc);
		memset(&p, 0, sizeof(p));
		p.type = ppt_psb;
		ck_assert_int_gt(pt_enc_next(enc, &p), 0);
		p.type = ppt_psbend;
		ck_assert_int_gt(pt_enc_next(enc, &p), 0);
		p.type = ppt_tip_pge;
		p.payload.ip.ipc = pt_ipc_sext_48;
		p.payload.ip.ip = CODE;
		ck_assert_int_gt(pt_enc_next(enc, &p), 0);
		pt_enc_get_offset(enc, &off);
		pt_free_encoder(enc);
		memcpy(buf + pos, tmp, off);
	}

	dump("random", _i, code, sizeof(code), buf, sizeof(buf));
	decode(buf, sizeof(buf), 0, &run);
	ck_assert_int_eq(run.last_ret, 0);
	ck_assert_uint_gt(run.n, 0);
	ck_assert_int_eq(run.e[run.n - 1].kind, SA_ELEM_GAP);
	ck_assert_int_eq(run.e[run.n - 1].gap_reason, SA_GAP_END);
	for (i = 0; i < run.n; i++) {
		const struct sa_elem *e = &run.e[i];

		if (e->kind == SA_ELEM_RANGE) {
			insns += e->ninsn;
			ck_assert_uint_ge(e->last, e->start);
			ck_assert_uint_gt(e->ninsn, 0);
		} else if (e->gap_reason == SA_GAP_ERROR) {
			errors++;
			lost += e->lost_bytes;
			ck_assert_uint_lt(e->offset, sizeof(buf));
			ck_assert_int_eq(e->error, -SA_ERR_DECODE);
		}
	}
	ck_assert_uint_ge(errors, 1);
	ck_assert_uint_eq(errors, run.stats.errors);
	ck_assert_uint_eq(lost, run.stats.lost_bytes);
	ck_assert_uint_le(lost, sizeof(buf));
	ck_assert_uint_eq(insns, run.stats.insns);
	/* Every planted PSB is a sync point (a random byte run may add
	 * more), so the decoder resynchronised after errors.
	 */
	ck_assert_uint_ge(run.stats.syncs, 2);
}
END_TEST

/*
 * Random walk: a generated program and the trace of one random execution
 * of it, written by a simulator that knows every branch it takes.  The
 * decoder's ranges, expanded with the instruction lengths we laid down,
 * must give the simulator's instruction sequence; every range that ends
 * in a conditional branch must say which way that execution went.
 */
#define WALK_CODE 0x500000ull
#define WALK_SIZE 0x2000
#define WALK_FUNCS 10
#define WALK_MAX_INSNS 100000

enum walk_kind {
	W_NONE = 0, W_NOP, W_MOV, W_DEC, W_JCC, W_LOOP, W_JMP, W_CALL,
	W_ICALL, W_IJMP, W_RET,
};

struct walk {
	uint8_t code[WALK_SIZE];
	uint8_t kind[WALK_SIZE];	/* at each instruction start */
	uint8_t len[WALK_SIZE];
	uint16_t target[WALK_SIZE];	/* direct target offset */
	uint8_t func[WALK_SIZE];
	uint16_t entry[WALK_FUNCS], end[WALK_FUNCS];
	/* The execution. */
	uint64_t ips[WALK_MAX_INSNS];
	int8_t taken[WALK_MAX_INSNS];	/* COND outcomes, else -1 */
	size_t n;
	uint8_t trace[1 << 18];
	size_t tlen;
};

static struct walk walk;

static int walk_class(int kind)
{
	switch (kind) {
	case W_JCC:
	case W_LOOP:
		return SA_IC_COND;
	case W_JMP:
		return SA_IC_JUMP;
	case W_CALL:
		return SA_IC_CALL;
	case W_ICALL:
		return SA_IC_IND_CALL;
	case W_IJMP:
		return SA_IC_IND_JUMP;
	case W_RET:
		return SA_IC_RET;
	default:
		return SA_IC_OTHER;
	}
}

static void walk_put(struct walk *w, uint16_t *pc, int kind, int f,
		     const uint8_t *b, int len)
{
	memcpy(w->code + *pc, b, (size_t)len);
	w->kind[*pc] = (uint8_t)kind;
	w->len[*pc] = (uint8_t)len;
	w->func[*pc] = (uint8_t)f;
	*pc = (uint16_t)(*pc + len);
}

/* A random instruction start in (@from, end of @f's code]. */
static uint16_t walk_later(struct walk *w, uint64_t *seed, int f,
			   uint16_t from)
{
	uint16_t cand[256], n = 0, pc;

	for (pc = (uint16_t)(from + 1); pc < w->end[f]; pc++)
		/* Not into a loop body: it would count from a stale ecx. */
		if (w->kind[pc] && w->kind[pc] != W_DEC &&
		    !(w->kind[pc] == W_NOP && w->kind[pc + 1] == W_DEC))
			cand[n++] = pc;
	/* Mostly short hops, so that executions stay long. */
	if (n > 4 && xorshift(seed) % 4)
		n = 4;
	return cand[xorshift(seed) % n];
}

static void walk_gen(struct walk *w, uint64_t *seed)
{
	uint16_t pc = 0x10;
	int f, calls;

	memset(w, 0, offsetof(struct walk, ips));
	memset(w->code, 0xcc, sizeof(w->code));
	for (f = 0; f < WALK_FUNCS; f++) {
		w->entry[f] = pc;
		calls = 0;
		while (pc - w->entry[f] < 90) {
			uint8_t b[8] = { 0 };

			switch (xorshift(seed) % 8) {
			case 1:
				b[0] = (uint8_t)(0x70 + xorshift(seed) % 16);
				walk_put(w, &pc, W_JCC, f, b, 2);
				break;
			case 2:
				b[0] = 0xeb;
				walk_put(w, &pc, W_JMP, f, b, 2);
				break;
			case 3:
				if (f + 1 >= WALK_FUNCS || calls == 2)
					goto nop;
				calls++;
				b[0] = 0xe8;
				walk_put(w, &pc, W_CALL, f, b, 5);
				/* Callee: f + 1 or f + 2, patched below. */
				w->target[pc - 5] = (uint16_t)(f + 1 +
					(f + 2 < WALK_FUNCS ?
					 xorshift(seed) % 2 : 0));
				break;
			case 4:
				if (f + 1 >= WALK_FUNCS || calls == 2)
					goto nop;
				calls++;
				b[0] = 0xff;
				b[1] = 0xd2;	/* call rdx */
				walk_put(w, &pc, W_ICALL, f, b, 2);
				break;
			case 5:
				b[0] = 0xff;
				b[1] = 0xe0;	/* jmp rax */
				walk_put(w, &pc, W_IJMP, f, b, 2);
				break;
			case 6:
				/* mov ecx, k; L: nop; dec ecx; jnz L */
				b[0] = 0xb9;
				b[1] = (uint8_t)(1 + xorshift(seed) % 4);
				walk_put(w, &pc, W_MOV, f, b, 5);
				b[0] = 0x90;
				walk_put(w, &pc, W_NOP, f, b, 1);
				b[0] = 0xff;
				b[1] = 0xc9;
				walk_put(w, &pc, W_DEC, f, b, 2);
				b[0] = 0x75;
				b[1] = 0xfb;
				walk_put(w, &pc, W_LOOP, f, b, 2);
				w->target[pc - 2] = (uint16_t)(pc - 5);
				break;
			default:
nop:
				b[0] = 0x90;
				walk_put(w, &pc, W_NOP, f, b, 1);
				break;
			}
		}
		walk_put(w, &pc, W_RET, f, (const uint8_t[]){ 0xc3 }, 1);
		w->end[f] = pc;
		pc = (uint16_t)(pc + 3);	/* int3 between functions */
	}
	/* Forward targets within the function, callees' entries. */
	for (pc = 0; pc < WALK_SIZE; pc++) {
		int32_t rel;

		switch (w->kind[pc]) {
		case W_JCC:
		case W_JMP:
			w->target[pc] = walk_later(w, seed, w->func[pc], pc);
			rel = w->target[pc] - (pc + 2);
			ck_assert_int_le(rel, 127);
			w->code[pc + 1] = (uint8_t)rel;
			break;
		case W_CALL:
			w->target[pc] = w->entry[w->target[pc]];
			rel = w->target[pc] - (pc + 5);
			memcpy(w->code + pc + 1, &rel, 4);
			break;
		default:
			break;
		}
	}
}

/* TNT bits wait here until a TIP-class packet or six bits. */
struct walk_tnt {
	int n;
	uint64_t bits;
};

static void walk_flush(struct stream *s, struct walk_tnt *t)
{
	if (t->n)
		tnt(s, t->n, t->bits);
	t->n = 0;
	t->bits = 0;
}

static void walk_bit(struct stream *s, struct walk_tnt *t, int bit)
{
	t->bits = (t->bits << 1) | (uint64_t)bit;
	if (++t->n == 6)
		walk_flush(s, t);
}

static void walk_run(struct walk *w, struct stream *s, uint64_t *seed)
{
	uint16_t stack[64], pc = w->entry[0];
	struct walk_tnt t = { 0 };
	int depth = 0, ecx = 0, bit;

	st_init(s);
	psb(s);
	mode64(s);
	pge(s, WALK_CODE + pc);
	w->n = 0;
	for (;;) {
		ck_assert_uint_lt(w->n, WALK_MAX_INSNS);
		ck_assert_int_ne(w->kind[pc], W_NONE);
		w->ips[w->n] = WALK_CODE + pc;
		w->taken[w->n] = -1;
		switch (w->kind[pc]) {
		case W_MOV:
			ecx = w->code[pc + 1];
			pc = (uint16_t)(pc + w->len[pc]);
			break;
		case W_DEC:
			ecx--;
			pc = (uint16_t)(pc + w->len[pc]);
			break;
		case W_JCC:
		case W_LOOP:
			bit = w->kind[pc] == W_LOOP ? ecx != 0 :
						      (int)(xorshift(seed) & 1);
			w->taken[w->n] = (int8_t)bit;
			walk_bit(s, &t, bit);
			pc = bit ? w->target[pc] : (uint16_t)(pc + 2);
			break;
		case W_JMP:
			pc = w->target[pc];
			break;
		case W_CALL:
			ck_assert_int_lt(depth, 64);
			stack[depth++] = (uint16_t)(pc + 5);
			pc = w->target[pc];
			break;
		case W_ICALL: {
			int f = w->func[pc];

			ck_assert_int_lt(depth, 64);
			stack[depth++] = (uint16_t)(pc + 2);
			pc = w->entry[f + 1 + (int)(xorshift(seed) %
				(uint64_t)(WALK_FUNCS - f - 1))];
			walk_flush(s, &t);
			tip(s, WALK_CODE + pc);
			break;
		}
		case W_IJMP:
			pc = walk_later(w, seed, w->func[pc], pc);
			walk_flush(s, &t);
			tip(s, WALK_CODE + pc);
			break;
		case W_RET:
			if (!depth) {
				w->n++;
				walk_flush(s, &t);
				pgd(s);
				w->tlen = st_done(s);
				return;
			}
			/* Compressed: the decoder knows the call. */
			walk_bit(s, &t, 1);
			pc = stack[--depth];
			break;
		default:
			pc = (uint16_t)(pc + w->len[pc]);
			break;
		}
		w->n++;
	}
}

START_TEST(test_walk)
{
	uint64_t seed = 0x2545f4914f6cdd1dull * (uint64_t)(_i + 1);
	struct sa_ipt_config cfg;
	struct sa_errinfo ei;
	struct sa_image *img;
	struct sa_dec *dec;
	struct sa_elem e;
	size_t k = 0, nconds = 0, i;
	int ret;

	walk_gen(&walk, &seed);
	walk_run(&walk, &st, &seed);
	dump("walk", _i, walk.code, sizeof(walk.code), st.buf, walk.tlen);

	img = sa_image__new(SA_ARCH_X86_64);
	ck_assert_ptr_nonnull(img);
	ck_assert_int_eq(sa_image_add_buffer(img, walk.code,
					     sizeof(walk.code), WALK_CODE), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.buf = st.buf;
	cfg.len = walk.tlen;
	cfg.image = img;
	dec = sa_ipt__new(&cfg, &ei);
	ck_assert_msg(dec, "%s", ei.msg);

	ck_assert_int_eq(sa_dec_next(dec, &e), 1);
	ck_assert_int_eq(e.kind, SA_ELEM_GAP);
	ck_assert_int_eq(e.gap_reason, SA_GAP_START);
	ck_assert_uint_eq(e.ip, walk.ips[0]);
	while ((ret = sa_dec_next(dec, &e)) > 0 && e.kind == SA_ELEM_RANGE) {
		uint64_t ip = e.start;
		uint32_t j;
		int kind;

		for (j = 0; j < e.ninsn; j++) {
			ck_assert_uint_lt(k, walk.n);
			ck_assert_msg(ip == walk.ips[k],
				      "insn %zu: decoded %#" PRIx64
				      ", executed %#" PRIx64, k, ip,
				      walk.ips[k]);
			if (j + 1 < e.ninsn)
				ip += walk.len[ip - WALK_CODE];
			k++;
		}
		ck_assert_uint_eq(ip, e.last);
		kind = walk.kind[ip - WALK_CODE];
		ck_assert_int_eq(e.last_class, walk_class(kind));
		ck_assert_int_eq(e.last_size, walk.len[ip - WALK_CODE]);
		if (e.last_class == SA_IC_COND &&
		    walk.target[ip - WALK_CODE] == ip - WALK_CODE + 2) {
			/* jcc to the next instruction: both ways lead to the
			 * same address, the decoder cannot tell (docs/ipt.md).
			 */
			ck_assert_int_eq(e.last_taken, -1);
			nconds++;
		} else if (e.last_class == SA_IC_COND) {
			ck_assert_msg(e.last_taken == walk.taken[k - 1],
				      "jcc at %#" PRIx64 " (insn %zu): decoded "
				      "taken=%d, executed %d", ip, k - 1,
				      e.last_taken, walk.taken[k - 1]);
			nconds++;
		} else {
			ck_assert_int_eq(e.last_taken, -1);
		}
	}
	ck_assert_int_eq(ret, 1);
	ck_assert_int_eq(e.gap_reason, SA_GAP_DISABLED);
	ck_assert_int_eq(sa_dec_next(dec, &e), 1);
	ck_assert_int_eq(e.gap_reason, SA_GAP_END);
	ck_assert_int_eq(sa_dec_next(dec, &e), 0);
	ck_assert_uint_eq(k, walk.n);
	ck_assert_uint_eq(sa_dec_stats(dec)->insns, walk.n);
	/* Every executed jcc ended a range (libipt's uncached path stops
	 * at each one), so each outcome was checked above.
	 */
	for (i = 0; i < walk.n; i++)
		if (walk.taken[i] >= 0)
			nconds--;
	ck_assert_uint_eq(nconds, 0);
	sa_dec__free(dec);
	sa_image__free(img);
}
END_TEST

START_TEST(test_bad_config)
{
	struct sa_ipt_config cfg;
	struct sa_errinfo ei;

	errno = 0;
	ck_assert_ptr_null(sa_ipt__new(NULL, &ei));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(ei.code, -SA_ERR_INVAL);

	memset(&cfg, 0, sizeof(cfg));
	cfg.len = 10;		/* no buffer, no image */
	errno = 0;
	ck_assert_ptr_null(sa_ipt__new(&cfg, &ei));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static Suite *ipt_suite(void)
{
	Suite *s = suite_create("ipt");
	TCase *tc = tcase_create("encoded");

	code_init();
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_pgd_pge);
	tcase_add_test(tc, test_overflow);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_async);
	tcase_add_test(tc, test_async_disabled);
	tcase_add_test(tc, test_mode32);
	tcase_add_test(tc, test_nomap);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_no_psb);
	tcase_add_loop_test(tc, test_random, 0, 4);
	tcase_add_test(tc, test_bad_config);
	tcase_add_loop_test(tc, test_walk, 0, 16);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sa_test_run(ipt_suite());
}
