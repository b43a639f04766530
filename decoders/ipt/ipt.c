// SPDX-License-Identifier: BSD-2-Clause
/*
 * Intel PT backend: libipt's block decoder turned into sa_elem ranges and
 * gaps.  See docs/ipt.md for the event mapping and the resync rules.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>
#include <intel-pt.h>

#include "decoder.h"
#include "sensor/log.h"

/* Elements produced by one decode step: a range, an error gap, a start
 * gap and the end gap at most; a few more for slack.
 */
#define SA_IPT_QCAP 8

/* Direct-mapped cache of decoded last instructions, keyed by address.
 * The image does not change while a decoder lives, so entries never go
 * stale.
 */
#define SA_IPT_ICACHE_BITS 12
#define SA_IPT_ICACHE_SIZE (1u << SA_IPT_ICACHE_BITS)

struct sa_ipt_insn {
	uint64_t ip;
	uint64_t target;	/* direct branch target, 0 when none */
	uint8_t size;		/* 0 when the bytes could not be decoded */
	uint8_t iclass;		/* enum sa_iclass */
	uint8_t mode;		/* enum pt_exec_mode it was decoded in */
	uint8_t ptclass;	/* enum pt_insn_class it was decoded with */
	bool valid;		/* false: empty slot */
};

enum sa_ipt_state {
	SA_IPT_SYNC,		/* looking for the first PSB */
	SA_IPT_RUN,
	SA_IPT_RESYNC,		/* after an error at err_off */
	SA_IPT_DONE,		/* SA_GAP_END queued */
};

struct sa_ipt {
	struct sa_dec dec;	/* first: sa_dec_* cast to it */
	struct pt_block_decoder *blk;
	const struct sa_image *image;
	uint64_t base_offset;
	size_t len;
	enum sa_ipt_state state;
	int status;		/* pt_status_flag of the last libipt call */
	uint64_t last_sync;	/* offset of the last PSB synced onto */
	bool synced;
	uint64_t err_off;	/* SA_IPT_RESYNC: offset of the error */

	/* Output queue.  A range that ends in a conditional branch stays at
	 * the tail until the next element tells which way it went.
	 */
	struct sa_elem q[SA_IPT_QCAP];
	unsigned int qhead, qlen;
	bool cond_open;		/* q tail is a COND range to resolve */
	uint64_t cond_target, cond_fall;
	bool start_open;	/* q tail is a START gap waiting for its ip */

	csh cs[3];		/* per pt_exec_mode: 16, 32, 64 bit */
	bool cs_open[3];
	struct sa_ipt_insn icache[SA_IPT_ICACHE_SIZE];
};

static int sa_ipt_read_cb(uint8_t *buf, size_t size,
			  const struct pt_asid *asid, uint64_t ip, void *ctx)
{
	const struct sa_ipt *d = ctx;
	int n;

	n = sa_image_read(d->image, ip, buf, size);
	if (n < 0)
		return -pte_nomap;
	return n;
}

static uint64_t sa_ipt_offset(const struct sa_ipt *d)
{
	uint64_t off = 0;

	if (pt_blk_get_offset(d->blk, &off) < 0)
		off = 0;
	return d->base_offset + off;
}

static struct sa_elem *sa_ipt_push(struct sa_ipt *d)
{
	struct sa_elem *e;

	/* One step queues a handful of elements and next() drains the
	 * queue before the next step, so this cannot overflow; the check
	 * keeps it that way if a step ever grows.
	 */
	if (d->qlen >= SA_IPT_QCAP)
		return NULL;
	e = &d->q[(d->qhead + d->qlen) % SA_IPT_QCAP];
	d->qlen++;
	memset(e, 0, sizeof(*e));
	e->last_taken = -1;
	e->offset = sa_ipt_offset(d);
	d->cond_open = false;
	d->start_open = false;
	return e;
}

static struct sa_elem *sa_ipt_tail(struct sa_ipt *d)
{
	return &d->q[(d->qhead + d->qlen - 1) % SA_IPT_QCAP];
}

/* The element after a COND range starts (or, for an async gap, stops the
 * flow) at @ip: that is the branch target when it was taken and the next
 * instruction when not.
 */
static void sa_ipt_resolve_cond(struct sa_ipt *d, uint64_t ip)
{
	struct sa_elem *r;

	if (!d->cond_open || !d->qlen)
		return;
	r = sa_ipt_tail(d);
	/* A jcc to the next instruction gives no answer. */
	if (d->cond_target == d->cond_fall)
		return;
	if (ip == d->cond_target)
		r->last_taken = 1;
	else if (ip == d->cond_fall)
		r->last_taken = 0;
}

static int sa_ipt_gap(struct sa_ipt *d, enum sa_gap_reason why, uint64_t ip)
{
	struct sa_elem *e;

	if (why == SA_GAP_ASYNC || why == SA_GAP_DISABLED)
		sa_ipt_resolve_cond(d, ip);
	e = sa_ipt_push(d);
	if (!e)
		return -SA_ERR_TOOBIG;
	e->kind = SA_ELEM_GAP;
	e->gap_reason = why;
	e->ip = ip;
	if (why == SA_GAP_START && !ip)
		d->start_open = true;
	return 0;
}

static csh sa_ipt_cs(struct sa_ipt *d, enum pt_exec_mode mode)
{
	static const cs_mode csmode[3] = { CS_MODE_16, CS_MODE_32,
					   CS_MODE_64 };
	int i;

	switch (mode) {
	case ptem_16bit:
		i = 0;
		break;
	case ptem_32bit:
		i = 1;
		break;
	default:
		i = 2;
		break;
	}
	if (!d->cs_open[i]) {
		if (cs_open(CS_ARCH_X86, csmode[i], &d->cs[i]) != CS_ERR_OK)
			return 0;
		cs_option(d->cs[i], CS_OPT_DETAIL, CS_OPT_ON);
		d->cs_open[i] = true;
	}
	return d->cs[i];
}

static bool sa_ipt_is_syscall(unsigned int id)
{
	switch (id) {
	case X86_INS_SYSCALL:
	case X86_INS_SYSENTER:
	case X86_INS_INT:
	case X86_INS_INT1:
	case X86_INS_INT3:
	case X86_INS_INTO:
		return true;
	default:
		return false;
	}
}

/* Classifies from capstone alone: used when libipt gives no class
 * (ptic_error, a block from the block cache).
 */
static enum sa_iclass sa_ipt_cs_class(const cs_insn *in, bool direct)
{
	const cs_detail *dt = in->detail;
	bool jump = false, call = false, ret = false, intr = false;
	bool iret = false;
	int i;

	if (sa_ipt_is_syscall(in->id))
		return SA_IC_SYSCALL;
	switch (in->id) {
	case X86_INS_SYSRET:
	case X86_INS_SYSEXIT:
	case X86_INS_LJMP:
	case X86_INS_LCALL:
	case X86_INS_RETF:
	case X86_INS_RETFQ:
		return SA_IC_FAR;
	default:
		break;
	}
	for (i = 0; i < dt->groups_count; i++) {
		switch (dt->groups[i]) {
		case CS_GRP_JUMP:
			jump = true;
			break;
		case CS_GRP_CALL:
			call = true;
			break;
		case CS_GRP_RET:
			ret = true;
			break;
		case CS_GRP_INT:
			intr = true;
			break;
		case CS_GRP_IRET:
			iret = true;
			break;
		default:
			break;
		}
	}
	if (ret)
		return SA_IC_RET;
	if (iret)
		return SA_IC_FAR;
	if (intr)
		return SA_IC_SYSCALL;
	if (call)
		return direct ? SA_IC_CALL : SA_IC_IND_CALL;
	if (jump) {
		if (in->id == X86_INS_JMP)
			return direct ? SA_IC_JUMP : SA_IC_IND_JUMP;
		return SA_IC_COND;
	}
	return SA_IC_OTHER;
}

/* Class when capstone cannot decode the bytes: libipt's class where it is
 * unambiguous, else unknown.
 */
static enum sa_iclass sa_ipt_pt_class(enum pt_insn_class c)
{
	switch (c) {
	case ptic_other:
	case ptic_ptwrite:
		return SA_IC_OTHER;
	case ptic_cond_jump:
		return SA_IC_COND;
	case ptic_return:
		return SA_IC_RET;
	case ptic_far_return:
	case ptic_far_jump:
		return SA_IC_FAR;
	default:
		return SA_IC_UNKNOWN;
	}
}

/*
 * Decodes the last instruction of @b: its size, whether a jump or call is
 * direct (capstone's operand is an immediate: E8/E9/EB/Jcc/LOOP forms) or
 * indirect (a register or memory operand: FF /2, FF /4), and a direct
 * branch's target.  libipt's ptic_* class decides the kind of transfer;
 * it does not say direct or indirect, and gives no size unless truncated.
 */
static void sa_ipt_last_insn(struct sa_ipt *d, const struct pt_block *b,
			     struct sa_ipt_insn *out)
{
	uint8_t bytes[pt_max_insn_size];
	struct sa_ipt_insn *slot, tmp;
	const uint8_t *code;
	const cs_x86 *x;
	cs_insn *in = NULL;
	size_t n;
	uint64_t key = b->end_ip;
	bool direct;
	csh cs;
	int got;

	slot = &d->icache[(key ^ (key >> SA_IPT_ICACHE_BITS)) &
			  (SA_IPT_ICACHE_SIZE - 1)];
	if (!b->truncated && slot->valid && slot->ip == key &&
	    slot->mode == b->mode && slot->ptclass == b->iclass) {
		*out = *slot;
		return;
	}
	if (b->truncated) {
		/* The bytes span sections: libipt gathered them for us.
		 * Rare, so not cached.
		 */
		slot = &tmp;
		code = b->raw;
		n = b->size;
	} else {
		got = sa_image_read(d->image, key, bytes, sizeof(bytes));
		code = bytes;
		n = got > 0 ? (size_t)got : 0;
	}
	memset(slot, 0, sizeof(*slot));
	slot->valid = true;
	slot->ip = key;
	slot->mode = b->mode;
	slot->ptclass = b->iclass;
	slot->iclass = sa_ipt_pt_class(b->iclass);

	cs = sa_ipt_cs(d, b->mode);
	if (!n || !cs || cs_disasm(cs, code, n, key, 1, &in) != 1) {
		sa_debug("ipt: cannot decode the instruction at %#" PRIx64
			 " (%zu bytes mapped)\n", key, n);
		if (b->truncated)
			slot->size = b->size;
		*out = *slot;
		return;
	}

	x = &in->detail->x86;
	direct = x->op_count > 0 && x->operands[0].type == X86_OP_IMM;

	slot->size = in->size;
	if (direct)
		slot->target = (uint64_t)x->operands[0].imm;
	switch (b->iclass) {
	case ptic_cond_jump:
		slot->iclass = SA_IC_COND;
		break;
	case ptic_jump:
		slot->iclass = direct ? SA_IC_JUMP : SA_IC_IND_JUMP;
		break;
	case ptic_call:
		slot->iclass = direct ? SA_IC_CALL : SA_IC_IND_CALL;
		break;
	case ptic_return:
		slot->iclass = SA_IC_RET;
		break;
	case ptic_far_call:
		slot->iclass = sa_ipt_is_syscall(in->id) ? SA_IC_SYSCALL :
							   SA_IC_FAR;
		break;
	case ptic_far_return:
	case ptic_far_jump:
		slot->iclass = SA_IC_FAR;
		break;
	case ptic_other:
	case ptic_ptwrite:
		slot->iclass = SA_IC_OTHER;
		break;
	default:
		slot->iclass = sa_ipt_cs_class(in, direct);
		break;
	}
	if (slot->iclass != SA_IC_COND && slot->iclass != SA_IC_JUMP &&
	    slot->iclass != SA_IC_CALL)
		slot->target = 0;
	cs_free(in, 1);
	*out = *slot;
}

static int sa_ipt_range(struct sa_ipt *d, const struct pt_block *b)
{
	struct sa_ipt_insn last;
	const struct sa_ipt_insn *li = &last;
	struct sa_elem *e;

	if (!b->ninsn)
		return 0;
	sa_ipt_resolve_cond(d, b->ip);
	if (d->start_open && d->qlen)
		sa_ipt_tail(d)->ip = b->ip;
	sa_ipt_last_insn(d, b, &last);
	e = sa_ipt_push(d);
	if (!e)
		return -SA_ERR_TOOBIG;
	e->kind = SA_ELEM_RANGE;
	{
		uint64_t tsc = 0;
		uint32_t lost_mtc, lost_cyc;

		/* the time of the last timing packet, refined by CYC: the
		 * block's end; -pte_no_time without any
		 */
		if (pt_blk_time(d->blk, &tsc, &lost_mtc, &lost_cyc) >= 0)
			e->time = tsc;
	}
	switch (b->mode) {
	case ptem_64bit:
		e->isa = SA_ISA_X86_64;
		break;
	case ptem_32bit:
		e->isa = SA_ISA_X86_32;
		break;
	default:
		e->isa = SA_ISA_UNKNOWN;
		break;
	}
	e->start = b->ip;
	e->last = b->end_ip;
	e->ninsn = b->ninsn;
	e->last_class = li->iclass;
	e->last_size = li->size;
	if (b->truncated)
		e->flags |= SA_RANGE_TRUNCATED;
	if (li->iclass == SA_IC_COND && li->size) {
		d->cond_open = true;
		d->cond_target = li->target;
		d->cond_fall = b->end_ip + li->size;
	}
	d->dec.stats.ranges++;
	d->dec.stats.insns += b->ninsn;
	return 0;
}

static int sa_ipt_end(struct sa_ipt *d)
{
	d->state = SA_IPT_DONE;
	return sa_ipt_gap(d, SA_GAP_END, 0);
}

/* Decode error @err at trace offset @eoff (relative to the buffer): the
 * next step resynchronises and queues the error gap.
 */
static int sa_ipt_error(struct sa_ipt *d, int err, uint64_t eoff)
{
	sa_debug("ipt: decode error at trace offset %#" PRIx64 ": %s\n",
		 d->base_offset + eoff, pt_errstr(pt_errcode(err)));
	d->state = SA_IPT_RESYNC;
	d->err_off = eoff;
	return 0;
}

/*
 * Moves to the next PSB after the pending error and queues its
 * SA_GAP_ERROR: lost_bytes is what lies between the error and that PSB.
 * A PSB+ that fails to decode is one more error, from where libipt gave
 * up, as ptxed reports it.  Each round moves at least one PSB forward,
 * so this ends.
 */
static int sa_ipt_resync(struct sa_ipt *d)
{
	uint64_t eoff = d->err_off, soff = 0;
	struct sa_elem *e;
	int status;

	status = pt_blk_sync_forward(d->blk);
	if (status != -pte_eos && pt_blk_get_sync_offset(d->blk, &soff) < 0)
		status = -pte_eos;
	/* A sync that does not move past the last one would decode the
	 * same bytes again: give up on the rest instead.
	 */
	if (status != -pte_eos && d->synced && soff <= d->last_sync) {
		sa_debug("ipt: resync at %#" PRIx64 " does not advance\n",
			 d->base_offset + soff);
		status = -pte_eos;
	}
	if (status == -pte_eos)
		soff = d->len;

	e = sa_ipt_push(d);
	if (!e)
		return -SA_ERR_TOOBIG;
	e->kind = SA_ELEM_GAP;
	e->gap_reason = SA_GAP_ERROR;
	e->error = -SA_ERR_DECODE;
	e->offset = d->base_offset + eoff;
	e->lost_bytes = soff > eoff ? soff - eoff : 0;
	d->dec.stats.errors++;
	d->dec.stats.lost_bytes += e->lost_bytes;

	if (status == -pte_eos)
		return sa_ipt_end(d);
	d->last_sync = soff;
	d->synced = true;
	if (status < 0) {
		uint64_t off = soff;

		pt_blk_get_offset(d->blk, &off);
		return sa_ipt_error(d, status, off > soff ? off : soff);
	}
	d->state = SA_IPT_RUN;
	d->status = status;
	d->dec.stats.syncs++;
	if (!(status & pts_ip_suppressed))
		return sa_ipt_gap(d, SA_GAP_START, 0);
	return 0;
}

static int sa_ipt_event(struct sa_ipt *d)
{
	struct pt_event ev;
	uint64_t eoff = 0;
	int status;

	status = pt_blk_event(d->blk, &ev, sizeof(ev));
	if (status < 0) {
		if (status == -pte_eos)
			return sa_ipt_end(d);
		pt_blk_get_offset(d->blk, &eoff);
		return sa_ipt_error(d, status, eoff);
	}
	d->status = status;

	switch (ev.type) {
	case ptev_enabled:
		return sa_ipt_gap(d, SA_GAP_START, ev.variant.enabled.ip);
	case ptev_disabled:
		return sa_ipt_gap(d, SA_GAP_DISABLED, ev.ip_suppressed ? 0 :
				  ev.variant.disabled.ip);
	case ptev_async_disabled:
		return sa_ipt_gap(d, SA_GAP_DISABLED,
				  ev.variant.async_disabled.at);
	case ptev_async_branch:
		return sa_ipt_gap(d, SA_GAP_ASYNC, ev.variant.async_branch.from);
	case ptev_overflow:
		d->dec.stats.overflows++;
		return sa_ipt_gap(d, SA_GAP_OVERFLOW, ev.ip_suppressed ? 0 :
				  ev.variant.overflow.ip);
	case ptev_tsx:
		/* An abort branches to the abort handler from wherever the
		 * transaction was: an asynchronous branch for the flow.
		 */
		if (ev.variant.tsx.aborted)
			return sa_ipt_gap(d, SA_GAP_ASYNC, ev.ip_suppressed ?
					  0 : ev.variant.tsx.ip);
		return 0;
	default:
		/* exec_mode, paging, vmcs, stop, exstop, mwait, pwre, pwrx,
		 * ptwrite, tick, cbr, mnt: the flow goes on.
		 */
		return 0;
	}
}

static int sa_ipt_block(struct sa_ipt *d)
{
	struct pt_block b;
	uint64_t eoff = 0;
	int status, err;

	status = pt_blk_next(d->blk, &b, sizeof(b));
	/* Even a failing call may have decoded instructions first. */
	err = sa_ipt_range(d, &b);
	if (err < 0)
		return err;
	if (status < 0) {
		if (status == -pte_eos)
			return sa_ipt_end(d);
		pt_blk_get_offset(d->blk, &eoff);
		/* With no instruction decoded, block.ip is where it failed:
		 * for -pte_nomap the address the image lacks.
		 */
		if (!b.ninsn)
			sa_debug("ipt: %s at ip %#" PRIx64 "\n",
				 pt_errstr(pt_errcode(status)), b.ip);
		return sa_ipt_error(d, status, eoff);
	}
	d->status = status;
	return 0;
}

/*
 * Whether the buffer is an idle trace: at least one PSB, every packet
 * decodes, and none says where the code ran (no TNT, no TIP or FUP with
 * an IP, no overflow): PSB, PSBEND, timing and power packets only.  The
 * block decoder reports the end of the stream on the first sync of such
 * a buffer, as it does for one without any PSB; this tells them apart.
 */
static bool sa_ipt_idle(const struct sa_ipt *d)
{
	const struct pt_config *cfg = pt_blk_get_config(d->blk);
	struct pt_packet_decoder *pkt;
	struct pt_packet p;
	bool idle = false;
	int status;

	if (!cfg)
		return false;
	pkt = pt_pkt_alloc_decoder(cfg);
	if (!pkt)
		return false;
	if (pt_pkt_sync_forward(pkt) < 0)
		goto out;
	for (;;) {
		status = pt_pkt_next(pkt, &p, sizeof(p));
		if (status == -pte_eos) {
			idle = true;
			break;
		}
		if (status < 0)
			break;
		if (p.type == ppt_tnt_8 || p.type == ppt_tnt_64 ||
		    p.type == ppt_ovf || p.type == ppt_unknown ||
		    p.type == ppt_invalid)
			break;
		if ((p.type == ppt_tip || p.type == ppt_tip_pge ||
		     p.type == ppt_tip_pgd || p.type == ppt_fup) &&
		    p.payload.ip.ipc != pt_ipc_suppressed)
			break;
	}
out:
	pt_pkt_free_decoder(pkt);
	return idle;
}

static int sa_ipt_sync_first(struct sa_ipt *d)
{
	uint64_t soff = 0;
	int status;

	status = pt_blk_sync_forward(d->blk);
	if (status == -pte_eos) {
		/* No PSB at all: nothing in the buffer can be decoded.  A
		 * clean trace without any IP is no error: the target did
		 * not run traced code (it slept).
		 */
		if (d->len && sa_ipt_idle(d)) {
			sa_debug("ipt: %zu trace bytes at offset %#" PRIx64
				 " without any IP: idle\n", d->len,
				 d->base_offset);
			d->dec.stats.syncs++;
		} else if (d->len) {
			struct sa_elem *e = sa_ipt_push(d);

			if (!e)
				return -SA_ERR_TOOBIG;
			e->kind = SA_ELEM_GAP;
			e->gap_reason = SA_GAP_ERROR;
			e->error = -SA_ERR_DECODE;
			e->offset = d->base_offset;
			e->lost_bytes = d->len;
			d->dec.stats.errors++;
			d->dec.stats.lost_bytes += d->len;
			sa_debug("ipt: no PSB in %zu trace bytes at offset %#"
				 PRIx64 "\n", d->len, d->base_offset);
		}
		return sa_ipt_end(d);
	}
	if (status < 0) {
		/* A PSB was found but its PSB+ is broken. */
		uint64_t eoff = 0;

		if (pt_blk_get_sync_offset(d->blk, &soff) >= 0) {
			d->last_sync = soff;
			d->synced = true;
		}
		pt_blk_get_offset(d->blk, &eoff);
		return sa_ipt_error(d, status, eoff);
	}
	pt_blk_get_sync_offset(d->blk, &soff);
	if (soff)
		sa_debug("ipt: first PSB at trace offset %#" PRIx64 "\n",
			 d->base_offset + soff);
	d->state = SA_IPT_RUN;
	d->status = status;
	d->last_sync = soff;
	d->synced = true;
	d->dec.stats.syncs++;
	if (!(status & pts_ip_suppressed))
		return sa_ipt_gap(d, SA_GAP_START, 0);
	return 0;
}

static int sa_ipt_step(struct sa_ipt *d)
{
	if (d->state == SA_IPT_SYNC)
		return sa_ipt_sync_first(d);
	if (d->state == SA_IPT_RESYNC)
		return sa_ipt_resync(d);
	if (d->status & pts_event_pending)
		return sa_ipt_event(d);
	if (d->status & pts_eos)
		return sa_ipt_end(d);
	return sa_ipt_block(d);
}

static bool sa_ipt_can_pop(const struct sa_ipt *d)
{
	if (!d->qlen)
		return false;
	if (d->qlen > 1 || d->state == SA_IPT_DONE)
		return true;
	/* The only element may still be completed by the next one. */
	return !d->cond_open && !d->start_open;
}

static int sa_ipt_next(struct sa_dec *dec, struct sa_elem *e)
{
	struct sa_ipt *d = (struct sa_ipt *)dec;
	int err;

	while (!sa_ipt_can_pop(d)) {
		if (d->state == SA_IPT_DONE)
			return 0;
		err = sa_ipt_step(d);
		if (err < 0)
			return err;
	}
	*e = d->q[d->qhead];
	d->qhead = (d->qhead + 1) % SA_IPT_QCAP;
	d->qlen--;
	return 1;
}

static void sa_ipt_free(struct sa_dec *dec)
{
	struct sa_ipt *d = (struct sa_ipt *)dec;
	int i;

	if (!d)
		return;
	for (i = 0; i < 3; i++)
		if (d->cs_open[i])
			cs_close(&d->cs[i]);
	pt_blk_free_decoder(d->blk);
	free(d);
}

static const struct sa_dec_ops sa_ipt_ops = {
	.name = "intel-pt",
	.next = sa_ipt_next,
	.free = sa_ipt_free,
};

struct sa_dec *sa_ipt__new(const struct sa_ipt_config *cfg,
			   struct sa_errinfo *ei)
{
	struct pt_config pc;
	struct sa_ipt *d;
	int err;

	sa_errinfo_clear(ei);
	if (!cfg || !cfg->image || (!cfg->buf && cfg->len)) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "intel-pt decoder: no trace buffer or image");
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
			       "intel-pt decoder: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	d->dec.ops = &sa_ipt_ops;
	d->dec.stats.trace_bytes = cfg->len;
	d->image = cfg->image;
	d->base_offset = cfg->base_offset;
	d->len = cfg->len;

	if (!cfg->len) {
		/* libipt refuses an empty buffer; there is simply nothing
		 * to decode.
		 */
		d->state = SA_IPT_DONE;
		sa_ipt_gap(d, SA_GAP_END, 0);
		return &d->dec;
	}

	pt_config_init(&pc);
	pc.begin = (uint8_t *)cfg->buf;
	pc.end = (uint8_t *)cfg->buf + cfg->len;
	if (cfg->family) {
		pc.cpu.vendor = pcv_intel;
		pc.cpu.family = cfg->family;
		pc.cpu.model = cfg->model;
		pc.cpu.stepping = cfg->stepping;
		err = pt_cpu_errata(&pc.errata, &pc.cpu);
		if (err < 0) {
			sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				       "intel-pt decoder: cpu %u/%u/%u: %s",
				       cfg->family, cfg->model, cfg->stepping,
				       pt_errstr(pt_errcode(err)));
			goto err_free;
		}
	}
	pc.mtc_freq = cfg->mtc_freq;
	pc.nom_freq = cfg->nom_freq;
	pc.cpuid_0x15_eax = cfg->cpuid_0x15_eax;
	pc.cpuid_0x15_ebx = cfg->cpuid_0x15_ebx;
	/* Ranges must be contiguous in memory (see sensor/flow.h): end a
	 * block at every direct call and jump too.
	 */
	pc.flags.variant.block.end_on_call = 1;
	pc.flags.variant.block.end_on_jump = 1;

	d->blk = pt_blk_alloc_decoder(&pc);
	if (!d->blk) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "intel-pt decoder: libipt rejected the "
			       "configuration (%zu trace bytes)", cfg->len);
		goto err_free;
	}
	err = pt_image_set_callback(pt_blk_get_image(d->blk), sa_ipt_read_cb,
				    d);
	if (err < 0) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "intel-pt decoder: image callback: %s",
			       pt_errstr(pt_errcode(err)));
		goto err_blk;
	}
	d->state = SA_IPT_SYNC;
	return &d->dec;

err_blk:
	pt_blk_free_decoder(d->blk);
err_free:
	free(d);
	errno = EINVAL;
	return NULL;
}

void sa_ipt_lib_versions(char *buf, size_t len)
{
	struct pt_version v = pt_library_version();
	int major = 0, minor = 0;

	cs_version(&major, &minor);
	snprintf(buf, len, "libipt %u.%u.%u%s%s, capstone %d.%d",
		 (unsigned int)v.major, (unsigned int)v.minor,
		 (unsigned int)v.patch, v.ext && *v.ext ? "-" : "",
		 v.ext ? v.ext : "", major, minor);
}
