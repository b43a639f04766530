// SPDX-License-Identifier: BSD-2-Clause
/*
 * The fast Intel PT backend: walks a control-flow graph of basic blocks
 * with the trace's TNT bits and TIPs, as libxdc and Honeybee do, instead
 * of decoding instruction by instruction.  It produces the same elements
 * as the libipt backend (decoders/ipt) for the traces it understands, and
 * hands every PSB segment it does not understand to that backend.  See
 * docs/ipt.md, "The fast path".
 *
 * The walk keeps one packet event ahead (as libipt's query decoder does):
 * when the TNT bits run out it reads up to the next TNT, TIP, FUP or PSB,
 * so that it knows where straight-line code must stop (a FUP's or a
 * PSB+'s IP) before walking it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>
#include <intel-pt.h>

#include "decoder.h"
#include "fastpt_pkt.h"
#include "sensor/log.h"

/* Block exits beside enum sa_iclass's branch classes. */
#define SA_FPT_X_CONT 0xf0	/* no branch: the next block follows */
#define SA_FPT_X_BAD 0xf1	/* undecodable or unmapped: libipt's turn */

#define SA_FPT_BLOCK_MAX_INSNS 256
#define SA_FPT_READ 1024
#define SA_FPT_MAX_BLOCKS (1u << 22)
#define SA_FPT_RETSTACK 64	/* as libipt's pt_retstack */
#define SA_FPT_MAX_ELEMS (1u << 18)	/* per PSB segment */
#define SA_FPT_MAX_SEGMENT (1u << 20)	/* bytes a fallback may hold */
/* Straight-line blocks walked without a packet before we call it a loop
 * that never ends (jmp to itself) and let libipt decide.
 */
#define SA_FPT_MAX_SPIN (1u << 20)
#define SA_FPT_MAX_EDGES (1u << 22)	/* counted output: distinct edges */
#define SA_FPT_MAX_RUNS (1u << 20)	/* run cache entries */
#define SA_FPT_RUN_STEPS 64		/* blocks one run may walk */
#define SA_FPT_RUN_HINTS (1u << 14)

/* Counted output: entries of the segment buffer beside the elements. */
#define SA_FPT_OP_COUNT 0x80	/* ip: edge index, lost_bytes: passes */
#define SA_FPT_OP_RESOLVE 0x81	/* ip: the next address */

struct sa_fpt_block {
	uint64_t start;
	uint64_t last;		/* address of the last instruction */
	uint64_t target;	/* direct branch target */
	uint32_t ninsn;
	uint8_t last_size;
	uint8_t exit;		/* enum sa_iclass or SA_FPT_X_* */
	/* successor cache: the block at target and at the fall-through */
	struct sa_fpt_block *to, *fall;
	struct sa_fpt_block *hnext;
	struct sa_fpt_blocks *owner;
	uint16_t *offs;		/* each instruction's offset */
	/* counted output: the last edges from a range ending here, index +
	 * 1: [0] to the fall-through, [1] anywhere else
	 */
	uint32_t edge[2];
};

/*
 * Counted output: a range and the address the flow went on at, with the
 * passes not yet handed to the consumer.
 */
struct sa_fpt_edge {
	uint64_t start, last, next;
	uint32_t ninsn;
	uint8_t last_size, last_class;
	int8_t last_taken;
	uint8_t flags;		/* SA_DEC_EDGE_* from the consumer */
	uint64_t pend;		/* passes in the current segment */
	uint64_t cpend;		/* committed passes not handed out yet */
	uint32_t hnext;		/* index + 1 */
};

/* The range the counted output holds until it knows where the flow went
 * on after it.
 */
struct sa_fpt_prange {
	uint64_t start, last;
	uint32_t ninsn;
	uint8_t last_size, last_class;
	int8_t last_taken;
	struct sa_fpt_block *blk;	/* the block it ends in */
};

/*
 * The run cache, as libxdc's: from block @from with the next @n TNT bits
 * @bits, the walk through conditional branches, direct jumps and calls,
 * and returns to a call of the same run (no indirect branch, no other
 * return, no stop or event) ends after @used bits at @end_ip (block
 * @end, NULL if not known), with the edges it passed, the return stack
 * operations it made, and the range it ends with.  @used 0: no run.
 */
#define SA_FPT_RUN_ROPS 16
#define SA_FPT_RUN_EXT 2	/* returns to callers outside the run */
#define SA_FPT_RUN_VARIANTS 32	/* runs per (block, bits) with those */

struct sa_fpt_run {
	struct sa_fpt_block *from, *end;
	uint8_t n, bits, used, nr_rops;
	uint8_t nr_ext;			/* returns to callers outside it */
	bool tail;			/* @n are the last bits of the TNT */
	bool has_lc;
	uint32_t lc;			/* the last deciding edge */
	uint32_t tail_edge;		/* index + 1 of (last, end_ip), or 0 */
	uint32_t nr_edges;
	uint64_t end_ip;
	struct sa_fpt_prange last;
	struct sa_fpt_run *hnext;
	uint64_t pend;			/* passes in the current segment */
	/* the return stack's top entries it returns to, top first */
	uint64_t ext[SA_FPT_RUN_EXT];
	uint64_t *rops;			/* push of that address; 0: pop */
	uint32_t edges[];		/* then the rops */
};

/*
 * Blocks owned together: a decoder's own (code of no shared binary), or
 * a binary's, kept with it in the image's analysis cache
 * (sa_dso_analysis()) and shared by every decoder of that binary at that
 * load address: built once per build-id and bias, dropped with the
 * binary.  A binary's blocks hold only its own code, and link only to
 * each other.
 */
#define SA_FPT_BLOCKS_MAGIC 0x66707462u	/* "fptb" */
#define SA_FPT_MAX_RANGES 64
#define SA_FPT_MAX_DSOS 256

struct sa_fpt_blocks {
	uint32_t magic;
	struct sa_fpt_block **tab;	/* chained by hnext */
	size_t nr_tab, nr_blocks;
	/* a binary's: the address ranges it was mapped at */
	uint64_t rs[SA_FPT_MAX_RANGES], re[SA_FPT_MAX_RANGES];
	size_t nr_r;
};

/* The control-flow graph, discovered as the trace walks into code. */
struct sa_fpt_cfg {
	const struct sa_image *image;
	ZydisDecoder zd;
	struct sa_fpt_blocks own;
	/* every block this decoder has used, by start: open addressing */
	struct sa_fpt_block **idx;
	size_t nr_idx, used_idx;
	/* the binaries met, and their blocks (NULL: not shareable) */
	struct {
		const struct sa_dso *dso;
		struct sa_fpt_blocks *bl;
	} dsos[SA_FPT_MAX_DSOS];
	size_t nr_dsos;
	size_t nr_blocks;	/* built by this decoder */
	size_t nr_shared;	/* found built by an earlier one */
};

enum sa_fpt_ev {
	SA_FPT_EV_NONE = 0,
	SA_FPT_EV_TIP,		/* TIP to ev_ip */
	SA_FPT_EV_PGD,		/* TIP.PGD, ev_ip 0 when suppressed */
	SA_FPT_EV_FUP_PGD,	/* FUP at stop_ip, then TIP.PGD */
	SA_FPT_EV_FUP_TIP,	/* FUP at stop_ip, then TIP to ev_ip */
	SA_FPT_EV_PSB,		/* PSB+ with FUP at stop_ip */
	SA_FPT_EV_EOS,
};

struct sa_fpt {
	struct sa_dec dec;	/* first: sa_dec_* cast to it */
	struct sa_ipt_config cfg;
	const uint8_t *buf;
	size_t len, pos;
	uint64_t last_ip;

	struct sa_fpt_cfg g;

	/* walk */
	bool synced, enabled, done;
	uint64_t ip;
	uint64_t tnt;
	unsigned int ntnt;
	enum sa_fpt_ev ev;
	uint64_t ev_ip, stop_ip;
	size_t psb_pos;		/* SA_FPT_EV_PSB: its offset */
	size_t psb_end;		/* and where its PSB+ ends */

	uint64_t ret[SA_FPT_RETSTACK];
	unsigned int ret_top, ret_n;

	/* the open range */
	bool r_open;
	struct {		/* scalars: a struct copy stalls on the
				 * stores that just filled it */
		uint64_t start, last;
		uint32_t ninsn;
		uint8_t last_size, last_class;
		int8_t last_taken;
	} r;
	struct sa_fpt_block *r_blk;	/* the block last added to it */

	/*
	 * Counted output (sa_fpt_set_counter()): ranges are paired with the
	 * next range's start into edges whose passes are added up in a
	 * batch; the batch becomes SA_FPT_OP_COUNT entries of the segment
	 * buffer before every element (a gap, the range before it) and at
	 * every commit, the latest deciding edge last (see
	 * sa_hist_builder_edge_flags()).  An edge the consumer calls
	 * ordered is never batched.
	 */
	const struct sa_dec_counter *ctr;
	struct sa_fpt_edge *edges;
	size_t nr_edges, cap_edges;
	uint32_t *etab;		/* hash: edge index + 1 */
	size_t nr_etab;
	uint32_t *dirty;	/* edges with passes in the segment */
	size_t nr_dirty;
	uint32_t *cdirty;	/* edges with committed passes */
	size_t nr_cdirty;
	uint32_t lc_edge;	/* index + 1 of the latest deciding pass */
	uint32_t lc_commit;	/* the same at the last commit */
	struct sa_fpt_prange p;
	bool p_valid;
	uint32_t p_edge;	/* index + 1 of (p, where it goes), or 0 */
	bool bp;		/* the consumer may hold a pending range */
	struct sa_fpt_prange p_commit;	/* the same at the last commit */
	bool p_commit_valid, bp_commit;
	struct sa_fpt_run **rtab;	/* the run cache */
	size_t nr_rtab, nr_runs;
	struct sa_fpt_run **rhint;	/* direct-mapped in front of it */
	/* runs taken in the segment: their passes go to their edges at the
	 * next commit or flush (one count per run taken, as libxdc's)
	 */
	struct sa_fpt_run **rdirty;
	size_t nr_rdirty, cap_rdirty;
	uint64_t run_hits, run_passes, step_passes;
	uint64_t flushes, ordered_passes;	/* for the debug line */

	/* PSB segment: its start, the flow state there, its elements */
	size_t seg;
	bool seg_first, seg_enabled;
	struct sa_elem *out;
	size_t nr_out, cap_out, committed, head;

	uint64_t fallbacks, fallback_bytes;
	/* libipt on the rest of the buffer (no PSB, or no PSB+ we can
	 * resume at): elements are passed on as they come
	 */
	struct sa_dec *sub;
	bool sub_drop_start;
	int fail_line;
};

/*
 * Control-flow graph.
 */

static size_t sa_fpt_hash(uint64_t a, size_t n)
{
	a ^= a >> 29;
	a *= 0xbf58476d1ce4e5b9ull;
	a ^= a >> 32;
	return (size_t)a & (n - 1);
}

static int sa_fpt_blocks_init(struct sa_fpt_blocks *bl)
{
	bl->magic = SA_FPT_BLOCKS_MAGIC;
	bl->nr_tab = 1 << 12;
	bl->tab = calloc(bl->nr_tab, sizeof(*bl->tab));
	return bl->tab ? 0 : -ENOMEM;
}

static void sa_fpt_blocks_fini(struct sa_fpt_blocks *bl)
{
	size_t i;

	if (bl->tab) {
		for (i = 0; i < bl->nr_tab; i++) {
			struct sa_fpt_block *b = bl->tab[i], *n;

			for (; b; b = n) {
				n = b->hnext;
				free(b);
			}
		}
	}
	free(bl->tab);
	bl->tab = NULL;
}

/* The free_fn of a binary's blocks (sa_dso_set_analysis()). */
static void sa_fpt_blocks_free(void *data)
{
	struct sa_fpt_blocks *bl = data;

	if (!bl)
		return;
	sa_fpt_blocks_fini(bl);
	free(bl);
}

static int sa_fpt_blocks_grow(struct sa_fpt_blocks *bl)
{
	size_t n = bl->nr_tab * 2, i;
	struct sa_fpt_block **t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < bl->nr_tab; i++) {
		struct sa_fpt_block *b = bl->tab[i], *nx;

		for (; b; b = nx) {
			size_t s = sa_fpt_hash(b->start, n);

			nx = b->hnext;
			b->hnext = t[s];
			t[s] = b;
		}
	}
	free(bl->tab);
	bl->tab = t;
	bl->nr_tab = n;
	return 0;
}

static struct sa_fpt_block *sa_fpt_blocks_find(const struct sa_fpt_blocks *bl,
					       uint64_t ip)
{
	struct sa_fpt_block *b = bl->tab[sa_fpt_hash(ip, bl->nr_tab)];

	for (; b; b = b->hnext)
		if (b->start == ip)
			return b;
	return NULL;
}

static int sa_fpt_cfg_init(struct sa_fpt_cfg *g, const struct sa_image *img)
{
	g->image = img;
	if (!ZYAN_SUCCESS(ZydisDecoderInit(&g->zd, ZYDIS_MACHINE_MODE_LONG_64,
					   ZYDIS_STACK_WIDTH_64)))
		return -SA_ERR_INVAL;
	g->nr_idx = 1 << 12;
	g->idx = calloc(g->nr_idx, sizeof(*g->idx));
	if (!g->idx)
		return -ENOMEM;
	return sa_fpt_blocks_init(&g->own);
}

static void sa_fpt_cfg_fini(struct sa_fpt_cfg *g)
{
	sa_fpt_blocks_fini(&g->own);
	free(g->idx);
}

/* Remembers @b as the block at its start for this decoder. */
static int sa_fpt_idx_add(struct sa_fpt_cfg *g, struct sa_fpt_block *b)
{
	size_t s;

	if (2 * (g->used_idx + 1) > g->nr_idx) {
		size_t n = 2 * g->nr_idx, i;
		struct sa_fpt_block **t = calloc(n, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (i = 0; i < g->nr_idx; i++) {
			if (!g->idx[i])
				continue;
			s = sa_fpt_hash(g->idx[i]->start, n);
			while (t[s])
				s = (s + 1) & (n - 1);
			t[s] = g->idx[i];
		}
		free(g->idx);
		g->idx = t;
		g->nr_idx = n;
	}
	s = sa_fpt_hash(b->start, g->nr_idx);
	while (g->idx[s])
		s = (s + 1) & (g->nr_idx - 1);
	g->idx[s] = b;
	g->used_idx++;
	return 0;
}

/*
 * The blocks of @dso, shared through the analysis cache, or NULL when
 * they cannot be: @dso is not in a cache, or this image maps it at
 * other ranges than the image that built them (its blocks and their
 * links hold for those ranges only).
 */
static struct sa_fpt_blocks *sa_fpt_dso_blocks(struct sa_fpt_cfg *g,
					       const struct sa_dso *dso)
{
	uint64_t rs[SA_FPT_MAX_RANGES], re[SA_FPT_MAX_RANGES];
	struct sa_fpt_blocks *bl;
	size_t i, n;

	for (i = 0; i < g->nr_dsos; i++)
		if (g->dsos[i].dso == dso)
			return g->dsos[i].bl;
	if (g->nr_dsos >= SA_FPT_MAX_DSOS)
		return NULL;
	n = sa_image_dso_ranges(g->image, dso, rs, re, SA_FPT_MAX_RANGES);
	bl = sa_dso_analysis(dso);
	if (bl && (bl->magic != SA_FPT_BLOCKS_MAGIC || bl->nr_r != n ||
		   memcmp(bl->rs, rs, n * sizeof(rs[0])) ||
		   memcmp(bl->re, re, n * sizeof(re[0]))))
		bl = NULL;
	else if (!bl && n && n <= SA_FPT_MAX_RANGES) {
		bl = calloc(1, sizeof(*bl));
		if (bl && sa_fpt_blocks_init(bl)) {
			sa_fpt_blocks_free(bl);
			bl = NULL;
		}
		if (bl) {
			memcpy(bl->rs, rs, n * sizeof(rs[0]));
			memcpy(bl->re, re, n * sizeof(re[0]));
			bl->nr_r = n;
			/* frees @bl when @dso is not cached */
			if (sa_dso_set_analysis(dso, bl, sa_fpt_blocks_free))
				bl = NULL;
		}
	}
	g->dsos[g->nr_dsos].dso = dso;
	g->dsos[g->nr_dsos].bl = bl;
	g->nr_dsos++;
	return bl;
}

/* The end of the run of adjacent ranges of @bl holding @ip, 0 if none. */
static uint64_t sa_fpt_blocks_end(const struct sa_fpt_blocks *bl, uint64_t ip)
{
	size_t i;
	uint64_t end = 0;

	for (i = 0; i < bl->nr_r; i++) {
		if (end && bl->rs[i] == end)
			end = bl->re[i];
		else if (!end && ip >= bl->rs[i] && ip < bl->re[i])
			end = bl->re[i];
	}
	return end;
}

/* The class libipt's block decoder gives (as decoders/ipt reports it:
 * libipt's ptic_* with a direct or indirect operand), and a direct
 * branch's target.
 */
static int sa_fpt_class(const ZydisDecodedInstruction *in, uint64_t ip,
			uint64_t *target)
{
	bool far = in->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;
	bool rel = in->raw.imm[0].is_relative;

	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_SYSCALL:
	case ZYDIS_MNEMONIC_SYSENTER:
	case ZYDIS_MNEMONIC_INT:
	case ZYDIS_MNEMONIC_INT1:
	case ZYDIS_MNEMONIC_INT3:
	case ZYDIS_MNEMONIC_INTO:
		return SA_IC_SYSCALL;
	case ZYDIS_MNEMONIC_SYSRET:
	case ZYDIS_MNEMONIC_SYSEXIT:
	case ZYDIS_MNEMONIC_IRET:
	case ZYDIS_MNEMONIC_IRETD:
	case ZYDIS_MNEMONIC_IRETQ:
		return SA_IC_FAR;
	case ZYDIS_MNEMONIC_XBEGIN:	/* no branch for libipt */
		return SA_IC_OTHER;
	default:
		break;
	}
	if (rel)
		*target = ip + in->length + (uint64_t)in->raw.imm[0].value.s;
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_COND_BR:
		return rel ? SA_IC_COND : SA_IC_UNKNOWN;
	case ZYDIS_CATEGORY_UNCOND_BR:
		if (far)
			return SA_IC_FAR;
		return rel ? SA_IC_JUMP : SA_IC_IND_JUMP;
	case ZYDIS_CATEGORY_CALL:
		if (far)
			return SA_IC_FAR;
		return rel ? SA_IC_CALL : SA_IC_IND_CALL;
	case ZYDIS_CATEGORY_RET:
		return far ? SA_IC_FAR : SA_IC_RET;
	case ZYDIS_CATEGORY_SYSCALL:
		return SA_IC_SYSCALL;
	case ZYDIS_CATEGORY_SYSRET:
		return SA_IC_FAR;
	case ZYDIS_CATEGORY_INTERRUPT:
		return SA_IC_SYSCALL;
	default:
		return SA_IC_OTHER;
	}
}

/* Decodes the block at @ip into @bl: instructions up to and including
 * the first branch, or up to SA_FPT_BLOCK_MAX_INSNS, reading no further
 * than @limit (0: no limit).  NULL when out of memory or blocks, or with
 * *@cut when the first instruction runs past @limit.
 */
static struct sa_fpt_block *sa_fpt_build(struct sa_fpt_cfg *g,
					 struct sa_fpt_blocks *bl, uint64_t ip,
					 uint64_t limit, bool *cut)
{
	uint8_t bytes[SA_FPT_READ];
	uint16_t offs[SA_FPT_BLOCK_MAX_INSNS];
	struct sa_fpt_block *b;
	uint64_t addr = ip, target = 0;
	size_t size, n = 0, want = SA_FPT_READ;
	int got, exit = SA_FPT_X_BAD;
	uint8_t last_size = 0;

	*cut = false;
	if (limit && limit - ip < want)
		want = (size_t)(limit - ip);
	got = sa_image_read(g->image, ip, bytes, want);
	if (got < 0)
		got = 0;
	size = (size_t)got;
	while (n < SA_FPT_BLOCK_MAX_INSNS) {
		ZydisDecodedInstruction in;
		size_t off = (size_t)(addr - ip);

		/* Near the end of a full read, an instruction may be cut:
		 * end the block here and decode the rest from a new read.
		 */
		if (size == want && size - off < 16 && n) {
			exit = SA_FPT_X_CONT;
			break;
		}
		if (off >= size ||
		    !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&g->zd, NULL,
					bytes + off, size - off, &in))) {
			if (!n && size == want && want < SA_FPT_READ &&
			    size - off < 16) {
				*cut = true;
				return NULL;
			}
			exit = SA_FPT_X_BAD;
			break;
		}
		offs[n++] = (uint16_t)off;
		last_size = in.length;
		target = 0;
		exit = sa_fpt_class(&in, addr, &target);
		addr += in.length;
		if (exit == SA_IC_UNKNOWN) {
			n--;
			exit = SA_FPT_X_BAD;
			break;
		}
		if (exit != SA_IC_OTHER)
			break;
		exit = SA_FPT_X_CONT;
	}
	if (exit == SA_FPT_X_BAD && n) {
		/* the instructions before the bad one make their own block */
		exit = SA_FPT_X_CONT;
	}
	if (bl->nr_blocks >= SA_FPT_MAX_BLOCKS)
		return NULL;
	if (2 * (bl->nr_blocks + 1) > bl->nr_tab && sa_fpt_blocks_grow(bl))
		return NULL;
	b = malloc(sizeof(*b) + n * sizeof(uint16_t));
	if (!b)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->offs = (uint16_t *)(b + 1);
	memcpy(b->offs, offs, n * sizeof(uint16_t));
	b->start = ip;
	b->ninsn = (uint32_t)n;
	b->last = n ? ip + offs[n - 1] : ip;
	b->last_size = last_size;
	b->exit = (uint8_t)exit;
	b->target = target;
	b->owner = bl;
	{
		size_t s = sa_fpt_hash(ip, bl->nr_tab);

		b->hnext = bl->tab[s];
		bl->tab[s] = b;
	}
	bl->nr_blocks++;
	g->nr_blocks++;
	return b;
}

static struct sa_fpt_block *sa_fpt_block(struct sa_fpt_cfg *g, uint64_t ip)
{
	struct sa_fpt_block *b;
	struct sa_fpt_blocks *bl = NULL;
	const struct sa_dso *dso;
	uint64_t limit = 0;
	size_t s = sa_fpt_hash(ip, g->nr_idx);
	bool cut = false;

	for (; g->idx[s]; s = (s + 1) & (g->nr_idx - 1))
		if (g->idx[s]->start == ip)
			return g->idx[s];
	/* first use here: the binary's blocks, else our own */
	dso = sa_image_dso(g->image, ip);
	if (dso)
		bl = sa_fpt_dso_blocks(g, dso);
	if (bl)
		limit = sa_fpt_blocks_end(bl, ip);
	if (bl && limit) {
		b = sa_fpt_blocks_find(bl, ip);
		if (b)
			g->nr_shared++;
		else
			b = sa_fpt_build(g, bl, ip, limit, &cut);
	} else {
		b = NULL;
		cut = true;
	}
	if (!b && cut)
		b = sa_fpt_build(g, &g->own, ip, 0, &cut);
	if (!b || sa_fpt_idx_add(g, b))
		return NULL;
	return b;
}

/*
 * Output.
 */

static int sa_fpt_room(struct sa_fpt *d)
{
	struct sa_elem *e;
	size_t n;

	if (d->nr_out < d->cap_out)
		return 0;
	n = d->cap_out ? 2 * d->cap_out : 256;
	if (d->nr_out - d->committed >= SA_FPT_MAX_ELEMS)
		return -1;
	e = realloc(d->out, n * sizeof(*e));
	if (!e)
		return -1;
	d->out = e;
	d->cap_out = n;
	return 0;
}

static struct sa_elem *sa_fpt_push(struct sa_fpt *d)
{
	struct sa_elem *e;

	if (sa_fpt_room(d))
		return NULL;
	e = &d->out[d->nr_out++];
	memset(e, 0, sizeof(*e));
	e->last_taken = -1;
	e->offset = d->cfg.base_offset + d->pos;
	return e;
}

/*
 * Counted output.
 */

static void sa_fpt_edge_elem(const struct sa_fpt_edge *x, struct sa_elem *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = SA_ELEM_RANGE;
	e->isa = SA_ISA_X86_64;
	e->last_class = x->last_class;
	e->last_taken = x->last_taken;
	e->last_size = x->last_size;
	e->ninsn = x->ninsn;
	e->start = x->start;
	e->last = x->last;
}

static size_t sa_fpt_ehash(uint64_t start, uint64_t last, uint64_t next,
			   size_t n)
{
	return sa_fpt_hash(start ^ (last * 0x9e3779b97f4a7c15ull) ^
			   (next * 0xc2b2ae3d27d4eb4full), n);
}

static int sa_fpt_etab_grow(struct sa_fpt *d)
{
	size_t n = d->nr_etab ? 2 * d->nr_etab : 1 << 12, i;
	uint32_t *t = calloc(n, sizeof(*t));

	if (!t)
		return -1;
	for (i = 0; i < d->nr_edges; i++) {
		struct sa_fpt_edge *x = &d->edges[i];
		size_t h = sa_fpt_ehash(x->start, x->last, x->next, n);

		x->hnext = t[h];
		t[h] = (uint32_t)(i + 1);
	}
	free(d->etab);
	d->etab = t;
	d->nr_etab = n;
	return 0;
}

static bool sa_fpt_edge_is(const struct sa_fpt_edge *x,
			   const struct sa_fpt_prange *p, uint64_t next)
{
	return x->start == p->start && x->last == p->last &&
	       x->next == next && x->ninsn == p->ninsn &&
	       x->last_taken == p->last_taken;
}

/* The edge of @p then @next, made on first use. */
static int sa_fpt_edge_get(struct sa_fpt *d, const struct sa_fpt_prange *p,
			   uint64_t next, uint32_t *idx)
{
	struct sa_fpt_block *blk = p->blk;
	int slot = next != p->last + p->last_size;
	struct sa_fpt_edge *x;
	struct sa_elem e;
	uint32_t i;
	size_t h;
	int r;

	/* (a binary's block may hold another decoder's index) */
	if (blk && blk->edge[slot] && blk->edge[slot] <= d->nr_edges) {
		i = blk->edge[slot] - 1;
		if (sa_fpt_edge_is(&d->edges[i], p, next)) {
			*idx = i;
			return 0;
		}
	}
	h = sa_fpt_ehash(p->start, p->last, next, d->nr_etab);
	for (i = d->etab[h]; i; i = d->edges[i - 1].hnext)
		if (sa_fpt_edge_is(&d->edges[i - 1], p, next))
			goto found;
	if (d->nr_edges >= SA_FPT_MAX_EDGES)
		return -1;
	if (d->nr_edges == d->cap_edges) {
		size_t n = d->cap_edges ? 2 * d->cap_edges : 1024;
		struct sa_fpt_edge *ne = realloc(d->edges, n * sizeof(*ne));
		uint32_t *nd;

		if (!ne)
			return -1;
		d->edges = ne;
		nd = realloc(d->dirty, n * sizeof(*nd));
		if (!nd)
			return -1;
		d->dirty = nd;
		nd = realloc(d->cdirty, n * sizeof(*nd));
		if (!nd)
			return -1;
		d->cdirty = nd;
		d->cap_edges = n;
	}
	if (2 * (d->nr_edges + 1) > d->nr_etab) {
		if (sa_fpt_etab_grow(d))
			return -1;
		h = sa_fpt_ehash(p->start, p->last, next, d->nr_etab);
	}
	x = &d->edges[d->nr_edges];
	memset(x, 0, sizeof(*x));
	x->start = p->start;
	x->last = p->last;
	x->next = next;
	x->ninsn = p->ninsn;
	x->last_size = p->last_size;
	x->last_class = p->last_class;
	x->last_taken = p->last_taken;
	sa_fpt_edge_elem(x, &e);
	r = d->ctr->flags(d->ctr->ctx, &e, next);
	if (r < 0)
		return -1;
	x->flags = (uint8_t)r;
	x->hnext = d->etab[h];
	i = (uint32_t)++d->nr_edges;
	d->etab[h] = i;
found:
	if (blk)
		blk->edge[slot] = i;
	*idx = i - 1;
	return 0;
}

static int sa_fpt_op(struct sa_fpt *d, uint8_t kind, uint64_t ip,
		     uint64_t count)
{
	struct sa_elem *o;

	if (sa_fpt_room(d))
		return -1;
	o = &d->out[d->nr_out++];
	o->kind = kind;
	o->ip = ip;
	o->lost_bytes = count;
	o->offset = d->cfg.base_offset + d->pos;
	return 0;
}

/* The passes of the runs taken go to their edges. */
static void sa_fpt_runs_expand(struct sa_fpt *d)
{
	size_t k;
	uint32_t j;

	for (k = 0; k < d->nr_rdirty; k++) {
		struct sa_fpt_run *run = d->rdirty[k];

		for (j = 0; j < run->nr_edges; j++) {
			struct sa_fpt_edge *x = &d->edges[run->edges[j]];

			if (!x->pend)
				d->dirty[d->nr_dirty++] = run->edges[j];
			x->pend += run->pend;
		}
		run->pend = 0;
	}
	d->nr_rdirty = 0;
}

/* The committed passes go out before everything not committed: into the
 * buffer at d->committed, the latest deciding one last.
 */
static int sa_fpt_flush_committed(struct sa_fpt *d)
{
	uint32_t lc = d->lc_commit;
	size_t k, n = d->nr_cdirty, at;

	if (!n)
		return 0;
	while (d->cap_out < d->nr_out + n) {
		size_t c = d->cap_out ? 2 * d->cap_out : 256;
		struct sa_elem *e = realloc(d->out, c * sizeof(*e));

		if (!e)
			return -1;
		d->out = e;
		d->cap_out = c;
	}
	memmove(d->out + d->committed + n, d->out + d->committed,
		(d->nr_out - d->committed) * sizeof(*d->out));
	at = d->committed;
	for (k = 0; k < d->nr_cdirty; k++) {
		uint32_t i = d->cdirty[k];

		if (i + 1 == lc || !d->edges[i].cpend)
			continue;
		d->out[at].kind = SA_FPT_OP_COUNT;
		d->out[at].ip = i;
		d->out[at].lost_bytes = d->edges[i].cpend;
		d->out[at].offset = d->cfg.base_offset + d->pos;
		d->edges[i].cpend = 0;
		at++;
	}
	if (lc && d->edges[lc - 1].cpend) {
		d->out[at].kind = SA_FPT_OP_COUNT;
		d->out[at].ip = lc - 1;
		d->out[at].lost_bytes = d->edges[lc - 1].cpend;
		d->out[at].offset = d->cfg.base_offset + d->pos;
		d->edges[lc - 1].cpend = 0;
		at++;
	}
	/* close the room left by any edge listed without passes */
	memmove(d->out + at, d->out + d->committed + n,
		(d->nr_out - d->committed) * sizeof(*d->out));
	d->nr_out = at + (d->nr_out - d->committed);
	d->committed = at;
	d->nr_cdirty = 0;
	return 0;
}

/* A point where order matters (an element, an ordered pass): every pass
 * so far goes out before it, committed ones first, the latest deciding
 * one last (the consumer's "last decision" is then the right one).
 */
static int sa_fpt_batch_flush(struct sa_fpt *d)
{
	uint32_t lc = d->lc_edge;
	size_t k;

	d->flushes++;
	if (sa_fpt_flush_committed(d))
		return -1;
	sa_fpt_runs_expand(d);

	for (k = 0; k < d->nr_dirty; k++) {
		struct sa_fpt_edge *x = &d->edges[d->dirty[k]];

		if (d->dirty[k] + 1 == lc || !x->pend)
			continue;
		if (sa_fpt_op(d, SA_FPT_OP_COUNT, d->dirty[k], x->pend))
			return -1;
		x->pend = 0;
	}
	if (lc && d->edges[lc - 1].pend) {
		if (sa_fpt_op(d, SA_FPT_OP_COUNT, lc - 1,
			      d->edges[lc - 1].pend))
			return -1;
		d->edges[lc - 1].pend = 0;
	}
	d->nr_dirty = 0;
	return 0;
}

/* One pass of the held range, the flow going on at @next. */
static int sa_fpt_count(struct sa_fpt *d, uint64_t next)
{
	struct sa_fpt_edge *x;
	uint32_t i;

	/* the held range ended a run: its edge is known */
	if (d->p_edge && d->edges[d->p_edge - 1].next == next)
		i = d->p_edge - 1;
	else if (sa_fpt_edge_get(d, &d->p, next, &i))
		return -1;
	x = &d->edges[i];
	if (x->flags & SA_DEC_EDGE_ORDERED) {
		d->ordered_passes++;
		if (sa_fpt_batch_flush(d) ||
		    sa_fpt_op(d, SA_FPT_OP_COUNT, i, 1))
			return -1;
		return 0;
	}
	if (!x->pend++)
		d->dirty[d->nr_dirty++] = i;
	if (x->flags & SA_DEC_EDGE_DECIDES)
		d->lc_edge = i + 1;
	return 0;
}

/* The held range as an element (before a gap, or before libipt's). */
static int sa_fpt_put_p(struct sa_fpt *d)
{
	struct sa_fpt_edge x;
	struct sa_elem *e;

	if (!d->p_valid)
		return 0;
	d->p_valid = false;
	if (sa_fpt_room(d))
		return -1;
	memset(&x, 0, sizeof(x));
	x.start = d->p.start;
	x.last = d->p.last;
	x.ninsn = d->p.ninsn;
	x.last_size = d->p.last_size;
	x.last_class = d->p.last_class;
	x.last_taken = d->p.last_taken;
	e = &d->out[d->nr_out++];
	sa_fpt_edge_elem(&x, e);
	e->offset = d->cfg.base_offset + d->pos;
	return 0;
}

/* The open range ends: pair the held one with it, hold it. */
static int sa_fpt_count_close(struct sa_fpt *d)
{
	d->step_passes++;
	if (d->p_valid) {
		if (sa_fpt_count(d, d->r.start))
			return -1;
	} else if (d->bp) {
		if (sa_fpt_op(d, SA_FPT_OP_RESOLVE, d->r.start, 0))
			return -1;
		d->bp = false;
	}
	d->p.start = d->r.start;
	d->p.last = d->r.last;
	d->p.ninsn = d->r.ninsn;
	d->p.last_size = d->r.last_size;
	d->p.last_class = d->r.last_class;
	d->p.last_taken = d->r.last_taken;
	d->p.blk = d->r_blk;
	d->p_valid = true;
	d->p_edge = 0;
	return 0;
}

/*
 * The run cache.
 */

static void sa_fpt_ret_push(struct sa_fpt *d, uint64_t a);
static int sa_fpt_ret_pop(struct sa_fpt *d, uint64_t *a);

static size_t sa_fpt_rhash(const struct sa_fpt_block *b, unsigned int n,
			   unsigned int bits, bool last, size_t size)
{
	return sa_fpt_hash((uint64_t)(uintptr_t)b ^ ((uint64_t)n << 56) ^
			   ((uint64_t)bits << 48) ^ ((uint64_t)last << 60),
			   size);
}

/* The range being walked by sa_fpt_run_build(): sa_fpt_add()'s rules. */
static void sa_fpt_run_add(struct sa_fpt_prange *r, bool *open,
			   struct sa_fpt_block *b)
{
	if (!*open) {
		*open = true;
		r->start = b->start;
		r->ninsn = 0;
		r->last_taken = -1;
	}
	r->ninsn += b->ninsn;
	r->last = b->last;
	r->last_size = b->last_size;
	r->last_class = b->exit < SA_IC_MAX ? b->exit : SA_IC_OTHER;
	r->blk = b;
}

/* Walks from @b with the @n bits @bits as sa_fpt_walk() would; NULL when
 * out of memory.
 */
static struct sa_fpt_run *sa_fpt_run_build(struct sa_fpt *d,
					   struct sa_fpt_block *b,
					   unsigned int n, unsigned int bits,
					   bool last, unsigned int max_ext)
{
	uint32_t edges[SA_FPT_RUN_STEPS];
	uint64_t rops[SA_FPT_RUN_ROPS], stack[SA_FPT_RUN_ROPS];
	struct sa_fpt_prange r, pr;
	unsigned int used = 0, steps, nr = 0, nr_rops = 0, depth = 0;
	unsigned int nr_ext = 0;
	bool open = false, have_pr = false, has_lc = false;
	uint32_t lc = 0;
	uint64_t next = 0;
	struct sa_fpt_run *run, done;

	memset(&r, 0, sizeof(r));
	memset(&pr, 0, sizeof(pr));
	memset(&done, 0, sizeof(done));
	for (steps = 0; b && steps < SA_FPT_RUN_STEPS; steps++) {
		uint64_t fall = b->last + b->last_size;

		if (b->exit == SA_FPT_X_BAD || !b->ninsn)
			break;
		if (b->exit == SA_FPT_X_CONT) {
			sa_fpt_run_add(&r, &open, b);
			b = sa_fpt_block(&d->g, fall);
			continue;
		}
		if (b->exit == SA_IC_JUMP) {
			sa_fpt_run_add(&r, &open, b);
			next = b->target;
		} else if (b->exit == SA_IC_CALL) {
			if (nr_rops == SA_FPT_RUN_ROPS)
				break;
			sa_fpt_run_add(&r, &open, b);
			/* no push for "call next" (sa_fpt_walk()) */
			if (b->target != fall) {
				rops[nr_rops++] = fall;
				stack[depth++] = fall;
			}
			next = b->target;
		} else if (b->exit == SA_IC_COND || b->exit == SA_IC_RET) {
			unsigned int bit;

			if (used == n)
				break;
			bit = (bits >> (n - 1 - used)) & 1;
			if (b->exit == SA_IC_RET) {
				/* a compressed return to a call of this run,
				 * or to the address on the decoder's return
				 * stack: the run is then kept for that
				 * address (sa_fpt_run_fits())
				 */
				if (!bit || nr_rops == SA_FPT_RUN_ROPS ||
				    (!depth && (nr_ext == max_ext ||
						d->ret_n <= nr_ext)))
					break;
				used++;
				sa_fpt_run_add(&r, &open, b);
				rops[nr_rops++] = 0;
				if (depth) {
					next = stack[--depth];
				} else {
					next = d->ret[(d->ret_top +
						       SA_FPT_RETSTACK -
						       nr_ext) %
						      SA_FPT_RETSTACK];
					done.ext[nr_ext++] = next;
				}
			} else {
				used++;
				sa_fpt_run_add(&r, &open, b);
				if (b->target != fall)
					r.last_taken = (int8_t)bit;
				next = bit ? b->target : fall;
			}
		} else {
			break;
		}
		/* the range closes; the one before it is paired */
		open = false;
		if (have_pr) {
			uint32_t i;

			if (sa_fpt_edge_get(d, &pr, r.start, &i) ||
			    (d->edges[i].flags & SA_DEC_EDGE_ORDERED))
				break;
			edges[nr++] = i;
			if (d->edges[i].flags & SA_DEC_EDGE_DECIDES) {
				has_lc = true;
				lc = i;
			}
		}
		pr = r;
		have_pr = true;
		b = sa_fpt_block(&d->g, next);
		/* a run ends after a close: what it is if it ends here */
		done.last = pr;
		done.used = (uint8_t)used;
		done.nr_edges = nr;
		done.end_ip = next;
		done.end = b;
		done.has_lc = has_lc;
		done.lc = lc;
		done.nr_rops = (uint8_t)nr_rops;
		done.nr_ext = (uint8_t)nr_ext;
		/* with no TNT bit left, sa_fpt_walk() reads the next packet
		 * before it walks on: it may stop the flow anywhere
		 */
		if (last && used == n)
			break;
	}
	if (done.used) {
		uint32_t i;

		if (!sa_fpt_edge_get(d, &done.last, done.end_ip, &i))
			done.tail_edge = i + 1;
	}
	run = malloc(sizeof(*run) + done.nr_edges * sizeof(uint32_t) + 8 +
		     done.nr_rops * sizeof(uint64_t));
	if (!run)
		return NULL;
	*run = done;
	run->n = (uint8_t)n;
	run->bits = (uint8_t)bits;
	run->tail = last;
	memcpy(run->edges, edges, done.nr_edges * sizeof(uint32_t));
	run->rops = (uint64_t *)(((uintptr_t)(run->edges + done.nr_edges) +
				  7) & ~(uintptr_t)7);
	memcpy(run->rops, rops, done.nr_rops * sizeof(uint64_t));
	return run;
}

/* Whether the decoder's return stack holds what @run returns to. */
static bool sa_fpt_run_fits(const struct sa_fpt *d,
			    const struct sa_fpt_run *run)
{
	unsigned int k;

	if (run->nr_ext > d->ret_n)
		return false;
	for (k = 0; k < run->nr_ext; k++)
		if (d->ret[(d->ret_top + SA_FPT_RETSTACK - k) %
			   SA_FPT_RETSTACK] != run->ext[k])
			return false;
	return true;
}

/* The run from @b with the next TNT bits, or NULL (none, or no room). */
static struct sa_fpt_run *sa_fpt_run(struct sa_fpt *d, struct sa_fpt_block *b)
{
	unsigned int n = d->ntnt < 8 ? d->ntnt : 8;
	unsigned int bits = (unsigned int)(d->tnt >> (d->ntnt - n)) &
			    ((1u << n) - 1);
	bool last = d->ntnt <= 8;
	struct sa_fpt_run *run, **hint, **hint2;
	uint64_t top = d->ret_n ? d->ret[d->ret_top] : 0;
	size_t h, hk;
	unsigned int variants = 0;

	if (!d->rtab)
		return NULL;
	/* two hints: the run of (block, bits), and the one for the
	 * address on top of the return stack too
	 */
	hk = ((uintptr_t)b >> 4) ^ (bits * 0x9e3779b1u) ^
	     ((unsigned int)last << 13) ^ (n << 10);
	hint = &d->rhint[hk & (SA_FPT_RUN_HINTS - 1)];
	hint2 = &d->rhint[(hk ^ (size_t)(top * 0x9e3779b97f4a7c15ull >> 40)) &
			  (SA_FPT_RUN_HINTS - 1)];
	run = *hint;
	if (run && run->from == b && run->bits == bits && run->n == n &&
	    run->tail == last && sa_fpt_run_fits(d, run))
		return run->used ? run : NULL;
	run = *hint2;
	if (run && run->from == b && run->bits == bits && run->n == n &&
	    run->tail == last && sa_fpt_run_fits(d, run))
		return run->used ? run : NULL;
	h = sa_fpt_rhash(b, n, bits, last, d->nr_rtab);
	for (run = d->rtab[h]; run; run = run->hnext) {
		if (run->from != b || run->n != n || run->bits != bits ||
		    run->tail != last)
			continue;
		if (sa_fpt_run_fits(d, run)) {
			if (run->nr_ext)
				*hint2 = run;
			else
				*hint = run;
			return run->used ? run : NULL;
		}
		variants++;
	}
	if (d->nr_runs >= SA_FPT_MAX_RUNS)
		return NULL;
	if (2 * (d->nr_runs + 1) > d->nr_rtab) {
		size_t nn = 2 * d->nr_rtab, i;
		struct sa_fpt_run **t = calloc(nn, sizeof(*t));

		if (!t)
			return NULL;
		for (i = 0; i < d->nr_rtab; i++) {
			struct sa_fpt_run *x = d->rtab[i], *nx;

			for (; x; x = nx) {
				size_t k = sa_fpt_rhash(x->from, x->n,
							x->bits, x->tail, nn);

				nx = x->hnext;
				x->hnext = t[k];
				t[k] = x;
			}
		}
		free(d->rtab);
		d->rtab = t;
		d->nr_rtab = nn;
		h = sa_fpt_rhash(b, n, bits, last, d->nr_rtab);
	}
	if (d->nr_runs == d->cap_rdirty) {
		size_t c = d->cap_rdirty ? 2 * d->cap_rdirty : 1024;
		struct sa_fpt_run **r = realloc(d->rdirty, c * sizeof(*r));

		if (!r)
			return NULL;
		d->rdirty = r;
		d->cap_rdirty = c;
	}
	/* past that many callers, one run for all that stops at the
	 * return (it goes first in the chain: the search stays short)
	 */
	run = sa_fpt_run_build(d, b, n, bits, last,
			       variants < SA_FPT_RUN_VARIANTS ?
			       SA_FPT_RUN_EXT : 0);
	if (!run)
		return NULL;
	run->from = b;
	run->hnext = d->rtab[h];
	d->rtab[h] = run;
	d->nr_runs++;
	return run->used ? run : NULL;
}

/* Takes the run: its first range pairs with the held one. */
static int sa_fpt_run_take(struct sa_fpt *d, struct sa_fpt_run *run)
{
	uint32_t k;

	if (d->p_valid) {
		if (sa_fpt_count(d, run->from->start))
			return -1;
	} else if (d->bp) {
		if (sa_fpt_op(d, SA_FPT_OP_RESOLVE, run->from->start, 0))
			return -1;
		d->bp = false;
	}
	if (run->nr_edges && !run->pend++)
		d->rdirty[d->nr_rdirty++] = run;
	if (run->has_lc)
		d->lc_edge = run->lc + 1;
	for (k = 0; k < run->nr_rops; k++) {
		uint64_t a;

		if (run->rops[k])
			sa_fpt_ret_push(d, run->rops[k]);
		else
			sa_fpt_ret_pop(d, &a);
	}
	d->p = run->last;
	d->p_valid = true;
	d->p_edge = run->tail_edge;
	d->ip = run->end_ip;
	d->ntnt -= run->used;
	d->run_hits++;
	d->run_passes += run->nr_edges + 1;
	return 0;
}

/* Everything so far is final: the caller may hand it out.  Passes stay
 * counted (committed) until a point where order matters, so that the
 * consumer takes each edge once per stretch without such a point, not
 * once per PSB segment.
 */
static int sa_fpt_commit(struct sa_fpt *d)
{
	if (d->ctr) {
		size_t k;

		sa_fpt_runs_expand(d);
		for (k = 0; k < d->nr_dirty; k++) {
			struct sa_fpt_edge *x = &d->edges[d->dirty[k]];

			if (!x->pend)
				continue;
			if (!x->cpend)
				d->cdirty[d->nr_cdirty++] = d->dirty[k];
			x->cpend += x->pend;
			x->pend = 0;
		}
		d->nr_dirty = 0;
		d->lc_commit = d->lc_edge;
		d->p_commit = d->p;
		d->p_commit_valid = d->p_valid;
		d->bp_commit = d->bp;
	}
	d->committed = d->nr_out;
	return 0;
}

static int sa_fpt_close(struct sa_fpt *d)
{
	struct sa_elem *e;

	if (!d->r_open)
		return 0;
	d->r_open = false;
	if (d->ctr)
		return sa_fpt_count_close(d);
	if (sa_fpt_room(d))
		return -1;
	e = &d->out[d->nr_out++];
	e->kind = SA_ELEM_RANGE;
	e->isa = SA_ISA_X86_64;
	e->last_class = d->r.last_class;
	e->last_taken = d->r.last_taken;
	e->last_size = d->r.last_size;
	e->flags = 0;
	e->gap_reason = 0;
	e->stream = 0;
	e->ninsn = d->r.ninsn;
	e->error = 0;
	e->start = d->r.start;
	e->last = d->r.last;
	e->offset = d->cfg.base_offset + d->pos;
	e->lost_bytes = 0;
	e->ip = 0;
	return 0;
}

static int sa_fpt_gap(struct sa_fpt *d, enum sa_gap_reason why, uint64_t ip)
{
	struct sa_elem *e;

	if (sa_fpt_close(d))
		return -1;
	if (d->ctr) {
		/* The counted passes go out before the range and the gap
		 * only when their order matters to them: the range decides,
		 * may enter a sink, or adds an indirect target (targets are
		 * listed as first seen).  A gap of a syscall or an interrupt
		 * mostly needs none of that.
		 */
		bool flush = why == SA_GAP_END;

		if (!flush && d->p_valid) {
			struct sa_fpt_edge x;
			struct sa_elem pe;
			int r;

			memset(&x, 0, sizeof(x));
			x.start = d->p.start;
			x.last = d->p.last;
			x.ninsn = d->p.ninsn;
			x.last_size = d->p.last_size;
			x.last_class = d->p.last_class;
			x.last_taken = d->p.last_taken;
			sa_fpt_edge_elem(&x, &pe);
			r = d->ctr->flags(d->ctr->ctx, &pe,
					  why == SA_GAP_DISABLED ||
					  why == SA_GAP_ASYNC ? ip : 0);
			if (r < 0)
				return -1;
			flush = r != 0;
		}
		if ((flush && sa_fpt_batch_flush(d)) || sa_fpt_put_p(d))
			return -1;
		d->bp = false;
	}
	e = sa_fpt_push(d);
	if (!e)
		return -1;
	e->kind = SA_ELEM_GAP;
	e->gap_reason = why;
	e->ip = ip;
	return 0;
}

/* Adds the first @n instructions of @b to the open range. */
static void sa_fpt_add(struct sa_fpt *d, struct sa_fpt_block *b, uint32_t n)
{
	if (!n)
		return;
	d->r_blk = b;
	if (!d->r_open) {
		d->r_open = true;
		d->r.start = b->start;
		d->r.ninsn = 0;
		d->r.last_taken = -1;
	}
	d->r.ninsn += n;
	if (n == b->ninsn) {
		d->r.last = b->last;
		d->r.last_size = b->last_size;
		d->r.last_class = b->exit < SA_IC_MAX ? b->exit : SA_IC_OTHER;
	} else {
		/* a prefix: its last instruction is no branch */
		d->r.last = b->start + b->offs[n - 1];
		d->r.last_size = (uint8_t)(b->offs[n] - b->offs[n - 1]);
		d->r.last_class = SA_IC_OTHER;
	}
}

/*
 * Packets.
 */

/* Reads a PSB+ from d->pos (at the PSB).  Returns 1 with *@has_fup and
 * *@fup, 0 when the buffer ends in it, -1 when we do not handle it.
 */
static int sa_fpt_psbplus(const uint8_t *buf, size_t len, size_t *pos,
			  bool *has_fup, uint64_t *fup, uint64_t *last_ip)
{
	struct sa_fpt_pkt p;
	size_t at = *pos;
	int n;

	*has_fup = false;
	*last_ip = 0;
	n = sa_fpt_pkt_parse(buf + at, len - at, &p);
	if (n <= 0 || p.type != SA_FPT_PSB)
		return n < 0 ? -1 : 0;
	at += (size_t)n;
	for (;;) {
		n = sa_fpt_pkt_parse(buf + at, len - at, &p);
		if (n <= 0)
			return n < 0 ? -1 : 0;
		at += (size_t)n;
		switch (p.type) {
		case SA_FPT_PSBEND:
			*pos = at;
			return 1;
		case SA_FPT_PAD:
		case SA_FPT_TIMING:
			break;
		case SA_FPT_MODE_EXEC:
			if ((p.mode & 3) != 1)	/* CS.L: 64-bit only */
				return -1;
			break;
		case SA_FPT_FUP:
			if (sa_fpt_pkt_ip(&p, last_ip, fup) != 1)
				return -1;
			*has_fup = true;
			break;
		default:
			return -1;
		}
	}
}

/* Where the walk gave up, for the debug message of the fallback. */
static int sa_fpt_fail(struct sa_fpt *d, int line)
{
	d->fail_line = line;
	return -1;
}

static const uint8_t sa_fpt_psb_pattern[16] = {
	0x02, 0x82, 0x02, 0x82, 0x02, 0x82, 0x02, 0x82,
	0x02, 0x82, 0x02, 0x82, 0x02, 0x82, 0x02, 0x82,
};

static size_t sa_fpt_find_psb(const struct sa_fpt *d, size_t from)
{
	const uint8_t *p;

	if (from >= d->len)
		return d->len;
	p = memmem(d->buf + from, d->len - from, sa_fpt_psb_pattern,
		   sizeof(sa_fpt_psb_pattern));
	return p ? (size_t)(p - d->buf) : d->len;
}

/*
 * Reads packets until the walk has something to go on: TNT bits or an
 * event.  Returns 0, or -1 for anything we leave to libipt.
 */
static int sa_fpt_fetch(struct sa_fpt *d)
{
	struct sa_fpt_pkt p;
	uint64_t ip;
	int n, r;

	for (;;) {
		n = sa_fpt_pkt_parse(d->buf + d->pos, d->len - d->pos, &p);
		if (n <= 0) {
			if (n < 0 || d->pos < d->len)
				/* a bad or cut packet */
				return sa_fpt_fail(d, __LINE__);
			d->ev = SA_FPT_EV_EOS;
			return 0;
		}
		switch (p.type) {
		case SA_FPT_PAD:
		case SA_FPT_TIMING:
		case SA_FPT_CYC:
			d->pos += (size_t)n;
			continue;
		case SA_FPT_MODE_EXEC:
			if ((p.mode & 3) != 1)
				return sa_fpt_fail(d, __LINE__);
			d->pos += (size_t)n;
			continue;
		case SA_FPT_TNT:
			d->pos += (size_t)n;
			if (!d->enabled)
				return sa_fpt_fail(d, __LINE__);
			if (!p.ntnt)
				continue;
			d->tnt = p.tnt;
			d->ntnt = p.ntnt;
			return 0;
		case SA_FPT_TIP:
			d->pos += (size_t)n;
			if (!d->enabled || sa_fpt_pkt_ip(&p, &d->last_ip,
							 &d->ev_ip) != 1)
				return sa_fpt_fail(d, __LINE__);
			d->ev = SA_FPT_EV_TIP;
			return 0;
		case SA_FPT_TIP_PGD:
			d->pos += (size_t)n;
			if (!d->enabled)
				return sa_fpt_fail(d, __LINE__);
			r = sa_fpt_pkt_ip(&p, &d->last_ip, &d->ev_ip);
			if (r < 0)
				return sa_fpt_fail(d, __LINE__);
			if (!r)
				d->ev_ip = 0;
			d->ev = SA_FPT_EV_PGD;
			return 0;
		case SA_FPT_TIP_PGE:
			d->pos += (size_t)n;
			if (d->enabled ||
			    sa_fpt_pkt_ip(&p, &d->last_ip, &ip) != 1)
				return sa_fpt_fail(d, __LINE__);
			if (sa_fpt_gap(d, SA_GAP_START, ip))
				return sa_fpt_fail(d, __LINE__);
			d->enabled = true;
			d->ip = ip;
			return 0;
		case SA_FPT_FUP: {
			struct sa_fpt_pkt q;
			size_t at = d->pos + (size_t)n;

			if (!d->enabled || sa_fpt_pkt_ip(&p, &d->last_ip,
							 &d->stop_ip) != 1)
				return sa_fpt_fail(d, __LINE__);
			/* the TIP or TIP.PGD that says what happened there */
			for (;;) {
				n = sa_fpt_pkt_parse(d->buf + at, d->len - at,
						     &q);
				if (n <= 0)
					return sa_fpt_fail(d, __LINE__);
				at += (size_t)n;
				if (q.type != SA_FPT_PAD &&
				    q.type != SA_FPT_TIMING &&
				    q.type != SA_FPT_CYC)
					break;
			}
			if (q.type == SA_FPT_TIP_PGD) {
				r = sa_fpt_pkt_ip(&q, &d->last_ip, &d->ev_ip);
				if (r < 0)
					return sa_fpt_fail(d, __LINE__);
				d->ev = SA_FPT_EV_FUP_PGD;
			} else if (q.type == SA_FPT_TIP) {
				if (sa_fpt_pkt_ip(&q, &d->last_ip,
						  &d->ev_ip) != 1)
					return sa_fpt_fail(d, __LINE__);
				d->ev = SA_FPT_EV_FUP_TIP;
			} else {
				return sa_fpt_fail(d, __LINE__);
			}
			d->pos = at;
			return 0;
		}
		case SA_FPT_PSB: {
			size_t at = d->pos;
			bool has_fup;
			uint64_t fup;

			r = sa_fpt_psbplus(d->buf, d->len, &at, &has_fup, &fup,
					   &d->last_ip);
			if (r <= 0)
				return sa_fpt_fail(d, __LINE__);
			if (has_fup != d->enabled)
				return sa_fpt_fail(d, __LINE__);
			d->psb_pos = d->pos;
			d->psb_end = at;
			d->pos = at;
			if (!d->enabled) {
				/* nothing runs: the segment ends here */
				if (sa_fpt_commit(d))
					return sa_fpt_fail(d, __LINE__);
				d->seg = d->psb_pos;
				d->seg_first = false;
				d->seg_enabled = false;
				d->dec.stats.syncs++;
				continue;
			}
			d->stop_ip = fup;
			d->ev = SA_FPT_EV_PSB;
			return 0;
		}
		default:
			/* OVF, PSBEND outside PSB+, PIP, MODE.TSX, PTW, ... */
			return sa_fpt_fail(d, __LINE__);
		}
	}
}

static void sa_fpt_ret_push(struct sa_fpt *d, uint64_t a)
{
	d->ret_top = (d->ret_top + 1) % SA_FPT_RETSTACK;
	d->ret[d->ret_top] = a;
	if (d->ret_n < SA_FPT_RETSTACK)
		d->ret_n++;
}

static int sa_fpt_ret_pop(struct sa_fpt *d, uint64_t *a)
{
	if (!d->ret_n)
		return -1;
	*a = d->ret[d->ret_top];
	d->ret_top = (d->ret_top + SA_FPT_RETSTACK - 1) % SA_FPT_RETSTACK;
	d->ret_n--;
	return 0;
}

/* Index of the instruction of @b at @ip, or -1. */
static int sa_fpt_insn_at(const struct sa_fpt_block *b, uint64_t ip)
{
	uint32_t lo = 0, hi = b->ninsn;

	if (ip < b->start || ip > b->last)
		return -1;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (b->start + b->offs[mid] < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < b->ninsn && b->start + b->offs[lo] == ip ? (int)lo : -1;
}

/* The walk reached the stop address of a FUP or PSB+ event. */
static int sa_fpt_at_stop(struct sa_fpt *d)
{
	enum sa_fpt_ev ev = d->ev;

	if (sa_fpt_close(d))
		return -1;
	d->ev = SA_FPT_EV_NONE;
	d->ip = d->stop_ip;
	switch (ev) {
	case SA_FPT_EV_PSB:
		if (sa_fpt_commit(d))
			return -1;
		d->seg = d->psb_pos;
		d->seg_first = false;
		d->seg_enabled = true;
		d->dec.stats.syncs++;
		return 0;
	case SA_FPT_EV_FUP_PGD:
		d->enabled = false;
		return sa_fpt_gap(d, SA_GAP_DISABLED, d->stop_ip);
	case SA_FPT_EV_FUP_TIP:
		if (sa_fpt_gap(d, SA_GAP_ASYNC, d->stop_ip))
			return -1;
		d->ip = d->ev_ip;
		return 0;
	default:
		return -1;
	}
}

/* The last range ended on @b's cond branch; which way it went. */
static void sa_fpt_taken(struct sa_fpt *d, int taken)
{
	d->r.last_taken = (int8_t)taken;
}

/*
 * Walks the current PSB segment (and on, as long as all goes well) until
 * the end of the buffer.  Returns 1 at the end, 0 when a segment was
 * committed and the caller may drain, -1 to fall back.
 */
static int sa_fpt_walk(struct sa_fpt *d)
{
	struct sa_fpt_block *b = NULL, *prev = NULL, *nb = NULL;
	unsigned int spin = 0;
	size_t committed = d->committed;
	bool via_taken = false;

	for (;;) {
		if (d->committed != committed)
			return 0;
		if (!d->enabled) {
			if (d->ev == SA_FPT_EV_EOS)
				goto eos;
			if (sa_fpt_fetch(d))
				return sa_fpt_fail(d, __LINE__);
			prev = NULL;
			continue;
		}
		if (!d->ntnt && d->ev == SA_FPT_EV_NONE) {
			if (sa_fpt_fetch(d))
				return sa_fpt_fail(d, __LINE__);
			spin = 0;
			continue;
		}
		/* the block at d->ip, from the successor cache if we can */
		if (nb && nb->start == d->ip) {
			b = nb;
		} else if (prev && (via_taken ? prev->to : prev->fall) &&
		    (via_taken ? prev->to : prev->fall)->start == d->ip) {
			b = via_taken ? prev->to : prev->fall;
		} else {
			b = sa_fpt_block(&d->g, d->ip);
			if (!b)
				return sa_fpt_fail(d, __LINE__);
			/* a binary's block links to its own only (ours
			 * go when this decoder does)
			 */
			if (prev && (prev->owner == &d->g.own ||
				     prev->owner == b->owner)) {
				if (via_taken)
					prev->to = b;
				else
					prev->fall = b;
			}
		}
		prev = NULL;
		nb = NULL;
		/* conditional branches, calls and jumps in one step */
		if (d->ctr && !d->r_open && d->ntnt &&
		    d->ev != SA_FPT_EV_PSB && d->ev != SA_FPT_EV_FUP_PGD &&
		    d->ev != SA_FPT_EV_FUP_TIP) {
			struct sa_fpt_run *run = sa_fpt_run(d, b);

			if (run) {
				if (sa_fpt_run_take(d, run))
					return sa_fpt_fail(d, __LINE__);
				spin = 0;
				nb = run->end;
				continue;
			}
		}
		if (d->ev == SA_FPT_EV_PSB || d->ev == SA_FPT_EV_FUP_PGD ||
		    d->ev == SA_FPT_EV_FUP_TIP) {
			int i = sa_fpt_insn_at(b, d->stop_ip);

			if (i >= 0) {
				/* a range that ends on a jcc before the
				 * stop fell through it
				 */
				if (!i && d->r_open &&
				    d->r.last_class == SA_IC_COND)
					sa_fpt_taken(d, 0);
				sa_fpt_add(d, b, (uint32_t)i);
				if (sa_fpt_at_stop(d))
					return sa_fpt_fail(d, __LINE__);
				continue;
			}
		}
		if (b->exit == SA_FPT_X_BAD || !b->ninsn) {
			sa_debug("fastpt: no code at %#" PRIx64 "\n", d->ip);
			return sa_fpt_fail(d, __LINE__);
		}
		if (++spin > SA_FPT_MAX_SPIN)
			return sa_fpt_fail(d, __LINE__);
		switch (b->exit) {
		case SA_FPT_X_CONT:
			sa_fpt_add(d, b, b->ninsn);
			d->ip = b->last + b->last_size;
			prev = b;
			via_taken = false;
			continue;
		case SA_IC_JUMP:
			sa_fpt_add(d, b, b->ninsn);
			if (sa_fpt_close(d))
				return sa_fpt_fail(d, __LINE__);
			d->ip = b->target;
			prev = b;
			via_taken = true;
			continue;
		case SA_IC_CALL:
			sa_fpt_add(d, b, b->ninsn);
			if (sa_fpt_close(d))
				return sa_fpt_fail(d, __LINE__);
			/* libipt and the hardware push no "call next" (it
			 * reads the IP, it does not return)
			 */
			if (b->target != b->last + b->last_size)
				sa_fpt_ret_push(d, b->last + b->last_size);
			d->ip = b->target;
			prev = b;
			via_taken = true;
			continue;
		case SA_IC_COND:
			if (!d->ntnt) {
				if (d->ev == SA_FPT_EV_EOS)
					goto eos_in;
				return sa_fpt_fail(d, __LINE__);
			}
			d->ntnt--;
			sa_fpt_add(d, b, b->ninsn);
			spin = 0;
			/* libipt ends a block at every jcc; one to the next
			 * instruction tells nothing (as decoders/ipt)
			 */
			if (b->target != b->last + b->last_size)
				sa_fpt_taken(d, (d->tnt >> d->ntnt) & 1);
			if (sa_fpt_close(d))
				return sa_fpt_fail(d, __LINE__);
			if ((d->tnt >> d->ntnt) & 1) {
				d->ip = b->target;
				via_taken = true;
			} else {
				d->ip = b->last + b->last_size;
				via_taken = false;
			}
			prev = b;
			continue;
		case SA_IC_RET:
			if (d->ntnt) {
				uint64_t to;

				d->ntnt--;
				if (!((d->tnt >> d->ntnt) & 1) ||
				    sa_fpt_ret_pop(d, &to))
					return sa_fpt_fail(d, __LINE__);
				sa_fpt_add(d, b, b->ninsn);
				if (sa_fpt_close(d))
					return sa_fpt_fail(d, __LINE__);
				d->ip = to;
				/* the successor cache keeps the last one */
				prev = b;
				via_taken = true;
				spin = 0;
				continue;
			}
			/* a TIP says where */
			__attribute__((fallthrough));
		case SA_IC_IND_JUMP:
		case SA_IC_IND_CALL:
		case SA_IC_SYSCALL:
		case SA_IC_FAR:
			if (d->ntnt)
				return sa_fpt_fail(d, __LINE__);
			spin = 0;
			if (d->ev == SA_FPT_EV_TIP) {
				sa_fpt_add(d, b, b->ninsn);
				if (sa_fpt_close(d))
					return sa_fpt_fail(d, __LINE__);
				if (b->exit == SA_IC_IND_CALL)
					sa_fpt_ret_push(d, b->last +
							   b->last_size);
				d->ip = d->ev_ip;
				d->ev = SA_FPT_EV_NONE;
				/* an indirect branch's block keeps the last
				 * target it went to as its taken successor
				 */
				prev = b;
				via_taken = true;
				continue;
			}
			if (d->ev == SA_FPT_EV_PGD) {
				sa_fpt_add(d, b, b->ninsn);
				if (b->exit == SA_IC_IND_CALL)
					sa_fpt_ret_push(d, b->last +
							   b->last_size);
				d->ev = SA_FPT_EV_NONE;
				d->enabled = false;
				if (sa_fpt_gap(d, SA_GAP_DISABLED, d->ev_ip))
					return sa_fpt_fail(d, __LINE__);
				continue;
			}
			if (d->ev == SA_FPT_EV_EOS)
				goto eos_in;
			return sa_fpt_fail(d, __LINE__);
		default:
			return sa_fpt_fail(d, __LINE__);
		}
	}
eos_in:
	/* libipt stops before the branch it has no trace for */
	if (b->ninsn > 1)
		sa_fpt_add(d, b, b->ninsn - 1);
eos:
	if (sa_fpt_gap(d, SA_GAP_END, 0) || sa_fpt_commit(d))
		return sa_fpt_fail(d, __LINE__);
	d->done = true;
	return 1;
}

/*
 * Fallback: libipt decodes the PSB segment [d->seg, next PSB).  Its trace
 * is cut after the next PSB+ and closed with FUP(ip) TIP.PGD, so that
 * libipt stops exactly where that PSB+ says the flow is, and the fast walk
 * takes over from there.
 */
static void sa_fpt_sub_stats(struct sa_fpt *d, const struct sa_dec *sub)
{
	const struct sa_dec_stats *st = sa_dec_stats(sub);

	d->dec.stats.errors += st->errors;
	d->dec.stats.lost_bytes += st->lost_bytes;
	d->dec.stats.overflows += st->overflows;
	d->dec.stats.syncs += st->syncs;
}

static int sa_fpt_sub_drain(struct sa_fpt *d, struct sa_dec *sub,
			    bool drop_start, bool drop_stop, uint64_t stop_ip,
			    uint64_t seg_len)
{
	struct sa_elem e;
	size_t first = d->nr_out;
	bool leading = true;
	int err;

	while ((err = sa_dec_next(sub, &e)) > 0) {
		struct sa_elem *o;

		/* Code that loops without trace (jmp to itself) makes
		 * libipt yield elements for ever: the segment is held in
		 * memory, so cap it and count the segment as lost.
		 */
		if (d->nr_out - first >= SA_FPT_MAX_ELEMS) {
			d->nr_out = first;
			o = sa_fpt_push(d);
			if (!o)
				return -ENOMEM;
			o->kind = SA_ELEM_GAP;
			o->gap_reason = SA_GAP_ERROR;
			o->error = -SA_ERR_TOOBIG;
			o->offset = d->cfg.base_offset + d->seg;
			o->lost_bytes = seg_len;
			d->dec.stats.errors++;
			d->dec.stats.lost_bytes += seg_len;
			sa_debug("fastpt: PSB segment at trace offset %#" PRIx64
				 " yields more than %u elements: dropped\n",
				 d->cfg.base_offset + d->seg,
				 SA_FPT_MAX_ELEMS);
			return 0;
		}

		if (leading && drop_start && e.kind == SA_ELEM_GAP &&
		    e.gap_reason == SA_GAP_START) {
			leading = false;
			continue;
		}
		leading = false;
		if (e.kind == SA_ELEM_GAP && e.gap_reason == SA_GAP_END)
			continue;
		if (d->nr_out >= d->cap_out) {
			size_t n = d->cap_out ? 2 * d->cap_out : 256;

			o = realloc(d->out, n * sizeof(*o));
			if (!o)
				return -ENOMEM;
			d->out = o;
			d->cap_out = n;
		}
		d->out[d->nr_out++] = e;
	}
	if (err < 0)
		return err;
	if (drop_stop && d->nr_out > first) {
		struct sa_elem *l = &d->out[d->nr_out - 1];

		if (l->kind == SA_ELEM_GAP &&
		    l->gap_reason == SA_GAP_DISABLED &&
		    l->ip == stop_ip)
			d->nr_out--;
	}
	sa_fpt_sub_stats(d, sub);
	return 0;
}

static int sa_fpt_fallback(struct sa_fpt *d)
{
	struct sa_ipt_config c = d->cfg;
	struct sa_dec *sub;
	uint8_t *scratch = NULL;
	size_t next, at, n;
	bool has_fup = false, to_end = false;
	uint64_t fup = 0, lip;
	int err;

	/* drop the segment's elements and the walk state */
	d->nr_out = d->committed;
	d->r_open = false;
	if (d->ctr) {
		size_t k;

		for (k = 0; k < d->nr_dirty; k++)
			d->edges[d->dirty[k]].pend = 0;
		d->nr_dirty = 0;
		for (k = 0; k < d->nr_rdirty; k++)
			d->rdirty[k]->pend = 0;
		d->nr_rdirty = 0;
		d->lc_edge = d->lc_commit;
		/* what was committed goes out before libipt's elements */
		if (sa_fpt_flush_committed(d))
			return -ENOMEM;
		/* the range held at the commit ends where libipt's first
		 * element says
		 */
		d->p = d->p_commit;
		d->p_edge = 0;
		d->p_valid = d->p_commit_valid;
		d->bp = d->bp_commit;
		if (sa_fpt_put_p(d))
			return -ENOMEM;
		d->committed = d->nr_out;
		/* libipt's last range is the consumer's to resolve */
		d->bp = true;
		d->p_commit_valid = false;
		d->bp_commit = true;
	}
	next = sa_fpt_find_psb(d, d->seg + 16);
	at = next;
	/* a long segment is not held in memory: libipt streams the rest */
	if (next >= d->len || next - d->seg > SA_FPT_MAX_SEGMENT ||
	    sa_fpt_psbplus(d->buf, d->len, &at, &has_fup, &fup, &lip) != 1)
		to_end = true;
	d->fallbacks++;
	d->fallback_bytes += (to_end ? d->len : next) - d->seg;
	sa_debug("fastpt: PSB segment at trace offset %#" PRIx64
		 " goes to libipt (stopped at %#" PRIx64 ", fastpt.c:%d)\n",
		 d->cfg.base_offset + d->seg, d->cfg.base_offset + d->pos,
		 d->fail_line);

	c.base_offset = d->cfg.base_offset + d->seg;
	c.buf = d->buf + d->seg;
	if (to_end) {
		c.len = d->len - d->seg;
	} else if (!has_fup) {
		c.len = next - d->seg;
	} else {
		struct pt_packet pk[2];
		struct pt_encoder *enc;
		struct pt_config pc;
		size_t room = 32;

		n = at - d->seg;
		scratch = malloc(n + room);
		if (!scratch)
			return -ENOMEM;
		memcpy(scratch, d->buf + d->seg, n);
		pt_config_init(&pc);
		pc.begin = scratch + n;
		pc.end = scratch + n + room;
		enc = pt_alloc_encoder(&pc);
		if (!enc) {
			free(scratch);
			return -ENOMEM;
		}
		memset(pk, 0, sizeof(pk));
		pk[0].type = ppt_fup;
		pk[0].payload.ip.ipc = pt_ipc_full;
		pk[0].payload.ip.ip = fup;
		pk[1].type = ppt_tip_pgd;
		pk[1].payload.ip.ipc = pt_ipc_suppressed;
		if (pt_enc_next(enc, &pk[0]) < 0 ||
		    pt_enc_next(enc, &pk[1]) < 0) {
			pt_free_encoder(enc);
			free(scratch);
			return -SA_ERR_INVAL;
		}
		{
			uint64_t off = 0;

			pt_enc_get_offset(enc, &off);
			c.len = n + off;
		}
		pt_free_encoder(enc);
		c.buf = scratch;
	}
	sub = sa_ipt__new(&c, NULL);
	if (!sub) {
		free(scratch);
		return -errno;
	}
	if (to_end) {
		/* streamed: the rest may be the whole trace */
		d->sub = sub;
		d->sub_drop_start = !d->seg_first && d->seg_enabled;
		return 0;
	}
	err = sa_fpt_sub_drain(d, sub, !d->seg_first && d->seg_enabled,
			       has_fup, fup, next - d->seg);
	sa_dec__free(sub);
	free(scratch);
	if (err)
		return err;
	if (sa_fpt_commit(d))
		return -ENOMEM;
	/* the fast walk resumes at the next PSB+ */
	d->pos = at;
	d->last_ip = lip;
	d->seg = next;
	d->seg_first = false;
	d->seg_enabled = has_fup;
	d->enabled = has_fup;
	d->ip = fup;
	d->ntnt = 0;
	d->ev = SA_FPT_EV_NONE;
	d->ret_n = 0;
	return 0;
}

/* The first PSB+: where the walk starts. */
static int sa_fpt_sync(struct sa_fpt *d)
{
	size_t psb = sa_fpt_find_psb(d, 0), at = psb;
	bool has_fup;
	uint64_t fup;

	d->synced = true;
	if (psb >= d->len) {
		/* no PSB: libipt says whether it is idle or broken */
		d->sub = sa_ipt__new(&d->cfg, NULL);
		if (!d->sub)
			return -errno;
		d->fallbacks++;
		d->fallback_bytes += d->len;
		return 0;
	}
	d->seg = psb;
	d->seg_first = true;
	d->pos = psb;
	if (sa_fpt_psbplus(d->buf, d->len, &at, &has_fup, &fup,
			   &d->last_ip) != 1)
		return -1;
	d->pos = at;
	d->seg_enabled = has_fup;
	d->enabled = has_fup;
	d->dec.stats.syncs++;
	if (has_fup) {
		d->ip = fup;
		if (sa_fpt_gap(d, SA_GAP_START, fup))
			return -1;
	}
	return 0;
}

/* A counted-output entry of the segment buffer to the consumer. */
static int sa_fpt_hand_op(struct sa_fpt *d, const struct sa_elem *op)
{
	const struct sa_fpt_edge *x;
	struct sa_elem r;

	if (op->kind == SA_FPT_OP_RESOLVE)
		return d->ctr->resolve(d->ctr->ctx, 0, op->ip);
	x = &d->edges[op->ip];
	sa_fpt_edge_elem(x, &r);
	r.offset = op->offset;
	d->dec.stats.ranges += op->lost_bytes;
	d->dec.stats.insns += x->ninsn * op->lost_bytes;
	return d->ctr->add(d->ctr->ctx, &r, x->next, op->lost_bytes);
}

static int sa_fpt_next(struct sa_dec *dec, struct sa_elem *e)
{
	struct sa_fpt *d = (struct sa_fpt *)dec;
	int r;

	for (;;) {
		if (d->head < d->committed) {
			*e = d->out[d->head++];
			if (e->kind >= SA_FPT_OP_COUNT) {
				r = sa_fpt_hand_op(d, e);
				if (r < 0)
					return r;
				continue;
			}
			break;
		}
		/* all committed elements handed out: move what the walk
		 * has not committed yet (a START gap) to the front
		 */
		if (d->head) {
			memmove(d->out, d->out + d->head,
				(d->nr_out - d->head) * sizeof(*d->out));
			d->nr_out -= d->head;
			d->committed -= d->head;
			d->head = 0;
		}
		if (d->sub) {
			r = sa_dec_next(d->sub, e);
			if (r > 0) {
				bool drop = d->sub_drop_start &&
					    e->kind == SA_ELEM_GAP &&
					    e->gap_reason == SA_GAP_START;

				d->sub_drop_start = false;
				if (drop)
					continue;
				break;
			}
			sa_fpt_sub_stats(d, d->sub);
			sa_dec__free(d->sub);
			d->sub = NULL;
			d->done = true;
			return r;
		}
		if (d->done)
			return 0;
		if (!d->synced) {
			r = sa_fpt_sync(d);
			if (r < 0)
				r = sa_fpt_fallback(d);
			if (r < 0)
				return r;
			continue;
		}
		r = sa_fpt_walk(d);
		if (r < 0)
			r = sa_fpt_fallback(d);
		if (r < 0)
			return r;
	}
	if (e->kind == SA_ELEM_RANGE) {
		d->dec.stats.ranges++;
		d->dec.stats.insns += e->ninsn;
	}
	return 1;
}

static void sa_fpt_free(struct sa_dec *dec)
{
	struct sa_fpt *d = (struct sa_fpt *)dec;

	if (!d)
		return;
	if (d->fallbacks)
		sa_debug("fastpt: %" PRIu64 " of %zu trace bytes decoded by "
			 "libipt (%" PRIu64 " PSB segments)\n",
			 d->fallback_bytes, d->len, d->fallbacks);
	sa_debug("fastpt: %zu blocks built, %zu found built, %zu elements "
		 "buffered at most, "
		 "%zu counted edges, %zu runs cached, %" PRIu64 " taken "
		 "(%" PRIu64 " passes; %" PRIu64 " passes walked), %" PRIu64
		 " flushes, %" PRIu64 " ordered passes\n",
		 d->g.nr_blocks, d->g.nr_shared, d->cap_out, d->nr_edges,
		 d->nr_runs, d->run_hits, d->run_passes, d->step_passes,
		 d->flushes, d->ordered_passes);
	sa_dec__free(d->sub);
	sa_fpt_cfg_fini(&d->g);
	free(d->out);
	free(d->edges);
	free(d->etab);
	free(d->dirty);
	free(d->cdirty);
	if (d->rtab) {
		size_t i;

		for (i = 0; i < d->nr_rtab; i++) {
			struct sa_fpt_run *x = d->rtab[i], *nx;

			for (; x; x = nx) {
				nx = x->hnext;
				free(x);
			}
		}
	}
	free(d->rtab);
	free(d->rhint);
	free(d->rdirty);
	free(d);
}

static const struct sa_dec_ops sa_fpt_ops = {
	.name = "intel-pt-fast",
	.next = sa_fpt_next,
	.free = sa_fpt_free,
};

struct sa_dec *sa_fpt__new(const struct sa_ipt_config *cfg,
			   struct sa_errinfo *ei)
{
	struct sa_fpt *d;
	int err;

	sa_errinfo_clear(ei);
	if (!cfg || !cfg->image || (!cfg->buf && cfg->len)) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "intel-pt fast decoder: no trace buffer or "
			       "image");
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	d->dec.ops = &sa_fpt_ops;
	d->dec.stats.trace_bytes = cfg->len;
	d->cfg = *cfg;
	d->buf = cfg->buf;
	d->len = cfg->len;
	err = sa_fpt_cfg_init(&d->g, cfg->image);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET,
			       "intel-pt fast decoder: zydis: %s",
			       sa_strerror(err));
		sa_fpt_free(&d->dec);
		errno = err == -ENOMEM ? ENOMEM : EINVAL;
		return NULL;
	}
	if (!cfg->len) {
		d->synced = d->done = true;
		if (sa_fpt_gap(d, SA_GAP_END, 0)) {
			sa_fpt_free(&d->dec);
			errno = ENOMEM;
			return NULL;
		}
		d->committed = d->nr_out;
	}
	return &d->dec;
}

uint64_t sa_fpt_fallbacks(const struct sa_dec *dec)
{
	return ((const struct sa_fpt *)dec)->fallbacks;
}

int sa_fpt_set_counter(struct sa_dec *dec, const struct sa_dec_counter *c)
{
	struct sa_fpt *d = (struct sa_fpt *)dec;

	if (!dec || dec->ops != &sa_fpt_ops || (d->synced && d->len) || !c ||
	    !c->flags ||
	    !c->add || !c->resolve)
		return -SA_ERR_INVAL;
	if (!d->etab && sa_fpt_etab_grow(d))
		return -ENOMEM;
	if (!d->rtab) {
		d->nr_rtab = 1 << 12;
		d->rtab = calloc(d->nr_rtab, sizeof(*d->rtab));
		d->rhint = calloc(SA_FPT_RUN_HINTS, sizeof(*d->rhint));
		if (!d->rtab || !d->rhint)
			return -ENOMEM;
	}
	d->ctr = c;
	return 0;
}
