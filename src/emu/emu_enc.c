// SPDX-License-Identifier: BSD-2-Clause
/*
 * The emulated sensor's Intel PT encoder: recorder events in, packets out,
 * written with libipt's encoder (pt_enc_next) so that every byte follows
 * the packet layout libipt itself decodes.
 *
 * The packet choices follow what hardware with `intel_pt//u` and an
 * address filter emits, as seen in real traces (the hase "loopy" trace in
 * ../shared: syscall -> TIP.PGD without IP, return -> TIP.PGE; interrupt
 * -> FUP + TIP.PGD; MODE.Exec before the first TIP.PGE after a PSB+ taken
 * while tracing was off).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <intel-pt.h>

#include "sensor/error.h"
#include "sensor/log.h"
#include "emu_priv.h"

/* Longest single packet we emit (PSB) plus the OVF we keep room for. */
#define SA_EMU_PKT_MAX 16
#define SA_EMU_OVF_SIZE 2
/* PSB+ as we write it: PSB, TSC, TMA, CBR, MODE.Exec, FUP, PSBEND. */
#define SA_EMU_PSBPLUS_MAX (16 + 8 + 7 + 4 + 2 + 9 + 2)
/* TNT-64 carries at most 47 bits. */
#define SA_EMU_TNT64_BITS 47

struct sa_emu_enc {
	struct pt_encoder *pte;
	struct pt_config cfg;
	size_t size;
	uint32_t psb_period;
	bool noretcomp, tnt8_only, tsc, mtc, cyc;
	uint8_t mtc_period, cyc_thresh;

	bool enabled;		/* PacketEn: inside the filter */
	bool overflow;		/* buffer full: OVF written, rest lost */
	bool mode_sent;		/* MODE.Exec since the last PSB */
	bool last_ip_valid;
	uint64_t last_ip;
	uint64_t last_psb;	/* offset of the last PSB */
	bool ring;		/* full: drop the oldest trace */
	uint64_t mid_psb;	/* ring: first PSB in the buffer's back half */
	uint64_t dropped;	/* ring: bytes dropped from the front */
	bool in_psb;		/* inside PSB+: no CYC */

	uint64_t now;		/* TSC of the current event (ns) */
	uint64_t clock;		/* time of the last TSC or MTC sent */
	uint64_t last_mtc;	/* CTC >> mtc_period at the last MTC / TMA */
	uint64_t tma_ctc;	/* CTC at the last TMA */
	bool mtc_since_tma;	/* an MTC went out since that TMA */
	uint64_t last_cyc;	/* TSC up to which CYC packets counted */

	uint64_t tnt;		/* pending TNT bits, oldest highest */
	unsigned int nr_tnt;

	/* Return compression: a ring like libipt's pt_retstack.  It is
	 * emptied at each PSB and TIP.PGE: after those, every return to an
	 * older call goes out as a TIP, which libipt and perf decode the same
	 * way whatever they do with their own stacks there.
	 */
	uint64_t ret[SA_EMU_RETSTACK];
	unsigned int ret_top, ret_n;
};

static uint64_t enc_offset(const struct sa_emu_enc *enc)
{
	uint64_t off = 0;

	pt_enc_get_offset(enc->pte, &off);
	return off;
}

/* Ring mode: makes room by dropping the trace before the first PSB of
 * the buffer's back half (every PSB+ is a place where a decoder can
 * start), so that about half of the buffer, the newest, is kept.
 * Returns true when room was made.
 */
static bool enc_ring_wrap(struct sa_emu_enc *enc)
{
	uint64_t off = enc_offset(enc), cut = enc->mid_psb;

	if (!cut)
		cut = enc->last_psb;
	if (!cut || cut >= off)
		return false;
	memmove((uint8_t *)enc->cfg.begin, enc->cfg.begin + cut, off - cut);
	if (pt_enc_sync_set(enc->pte, off - cut) < 0)
		return false;
	enc->last_psb -= cut;
	enc->mid_psb = 0;
	enc->dropped += cut;
	return true;
}

/* Writes @pkt unless the buffer is full; on the first packet that does
 * not fit, writes OVF in the space kept for it and drops everything that
 * follows.  Returns 0 (also when dropped) or a negative error.
 */
static int enc_put_room(struct sa_emu_enc *enc, const struct pt_packet *pkt,
			size_t room)
{
	struct pt_packet ovf = { .type = ppt_ovf };
	int err;

	if (enc->overflow)
		return 0;
	if (enc->ring && enc_offset(enc) + room + SA_EMU_OVF_SIZE > enc->size)
		enc_ring_wrap(enc);
	if (enc_offset(enc) + room + SA_EMU_OVF_SIZE > enc->size) {
		err = pt_enc_next(enc->pte, &ovf);
		if (err < 0)
			return -SA_ERR_TOOBIG;
		enc->overflow = true;
		enc->enabled = false;
		return 0;
	}
	err = pt_enc_next(enc->pte, pkt);
	if (err < 0) {
		sa_warn("emu: libipt encoder refused packet type %d: %s\n",
			pkt->type, pt_errstr(pt_errcode(err)));
		return -SA_ERR_INVAL;
	}
	return 0;
}

static int enc_put(struct sa_emu_enc *enc, const struct pt_packet *pkt)
{
	return enc_put_room(enc, pkt, SA_EMU_PKT_MAX);
}

/* The CTC (crystal clock) at TSC @tsc (emu_priv.h has the ratio). */
static uint64_t enc_ctc(uint64_t tsc)
{
	return tsc * SA_EMU_TSC_CTC_D / SA_EMU_TSC_CTC_N;
}

/* A CYC packet with the core cycles from the last CYC up to TSC @until:
 * the core runs at the nominal ratio, one cycle per TSC tick.  Before a
 * CYC-eligible packet (@align false) it obeys cyc_thresh; before MTC, TSC
 * and PSB (@align true) it always goes out, so that both decoders count
 * the following cycles from that timestamp: perf restarts its cycle count
 * at an MTC or TSC that follows a CYC, libipt at every MTC and TSC.
 */
static int enc_cyc(struct sa_emu_enc *enc, uint64_t until, bool align)
{
	struct pt_packet pkt = { .type = ppt_cyc };
	uint64_t cycles;

	if (!enc->cyc || enc->in_psb || until <= enc->last_cyc)
		return 0;
	cycles = until - enc->last_cyc;
	if (!align && enc->cyc_thresh &&
	    cycles < (1ull << (enc->cyc_thresh - 1)))
		return 0;
	pkt.payload.cyc.value = cycles;
	enc->last_cyc = until;
	return enc_put(enc, &pkt);
}

static int enc_flush_tnt(struct sa_emu_enc *enc)
{
	struct pt_packet pkt = { 0 };
	int err;

	if (!enc->nr_tnt)
		return 0;
	err = enc_cyc(enc, enc->now, false);
	if (err)
		return err;
	pkt.type = enc->nr_tnt <= 6 ? ppt_tnt_8 : ppt_tnt_64;
	pkt.payload.tnt.bit_size = (uint8_t)enc->nr_tnt;
	pkt.payload.tnt.payload = enc->tnt;
	enc->tnt = 0;
	enc->nr_tnt = 0;
	return enc_put(enc, &pkt);
}

static int enc_tnt(struct sa_emu_enc *enc, bool taken)
{
	enc->tnt = (enc->tnt << 1) | (taken ? 1 : 0);
	enc->nr_tnt++;
	if (enc->nr_tnt == (enc->tnt8_only ? 6u : SA_EMU_TNT64_BITS))
		return enc_flush_tnt(enc);
	return 0;
}

/* Chooses the IP compression the way hardware does against last-IP. */
static enum pt_ip_compression enc_ipc(struct sa_emu_enc *enc, uint64_t ip)
{
	enum pt_ip_compression ipc;
	uint64_t last = enc->last_ip;
	int64_t sext = ((int64_t)(ip << 16)) >> 16;

	if (enc->last_ip_valid && (ip >> 16) == (last >> 16))
		ipc = pt_ipc_update_16;
	else if (enc->last_ip_valid && (ip >> 32) == (last >> 32))
		ipc = pt_ipc_update_32;
	else if ((uint64_t)sext == ip)
		ipc = pt_ipc_sext_48;
	else if (enc->last_ip_valid && (ip >> 48) == (last >> 48))
		ipc = pt_ipc_update_48;
	else
		ipc = pt_ipc_full;
	enc->last_ip = ip;
	enc->last_ip_valid = true;
	return ipc;
}

static int enc_ip_pkt(struct sa_emu_enc *enc, enum pt_packet_type type,
		      uint64_t ip, bool suppressed)
{
	struct pt_packet pkt = { .type = type };
	int err;

	err = enc_flush_tnt(enc);
	if (!err)
		err = enc_cyc(enc, enc->now, false);
	if (err)
		return err;
	if (suppressed) {
		pkt.payload.ip.ipc = pt_ipc_suppressed;
	} else {
		pkt.payload.ip.ipc = enc_ipc(enc, ip);
		pkt.payload.ip.ip = ip;
	}
	return enc_put(enc, &pkt);
}

static void ret_reset(struct sa_emu_enc *enc)
{
	enc->ret_n = 0;
}

static void ret_push(struct sa_emu_enc *enc, uint64_t ip)
{
	enc->ret_top = (enc->ret_top + 1) % SA_EMU_RETSTACK;
	enc->ret[enc->ret_top] = ip;
	if (enc->ret_n < SA_EMU_RETSTACK)
		enc->ret_n++;
}

static bool ret_pop_if(struct sa_emu_enc *enc, uint64_t ip)
{
	if (!enc->ret_n || enc->ret[enc->ret_top] != ip)
		return false;
	enc->ret_top = (enc->ret_top + SA_EMU_RETSTACK - 1) % SA_EMU_RETSTACK;
	enc->ret_n--;
	return true;
}

static int enc_mode_exec(struct sa_emu_enc *enc)
{
	struct pt_packet pkt = { .type = ppt_mode };

	int err;

	pkt.payload.mode.leaf = pt_mol_exec;
	pkt.payload.mode.bits.exec.csl = 1;	/* 64-bit */
	enc->mode_sent = true;
	err = enc_cyc(enc, enc->now, false);
	return err ? err : enc_put(enc, &pkt);
}

/* TSC, then TMA (the CTC and FastCounter at that TSC) when MTC is on:
 * the full time, from which MTC packets count.
 */
static int enc_tsc(struct sa_emu_enc *enc)
{
	struct pt_packet pkt = { .type = ppt_tsc };
	uint64_t ctc = enc_ctc(enc->now);
	int err;

	if (!enc->tsc)
		return 0;
	pkt.payload.tsc.tsc = enc->now & ((1ull << 56) - 1);
	err = enc_put(enc, &pkt);
	if (!err)
		enc->clock = enc->now;
	if (err || !enc->mtc)
		return err;
	pkt.type = ppt_tma;
	pkt.payload.tma.ctc = (uint16_t)ctc;
	pkt.payload.tma.fc = (uint16_t)(enc->now - ctc * SA_EMU_TSC_CTC_N /
					SA_EMU_TSC_CTC_D);
	enc->last_mtc = ctc >> enc->mtc_period;
	enc->tma_ctc = ctc;
	enc->mtc_since_tma = false;
	return enc_put(enc, &pkt);
}

static int enc_cbr(struct sa_emu_enc *enc)
{
	struct pt_packet pkt = { .type = ppt_cbr };

	if (!enc->tsc)
		return 0;
	pkt.payload.cbr.ratio = SA_EMU_NOM_RATIO;
	return enc_put(enc, &pkt);
}

/* PSB+ at an instruction boundary; @next is the next instruction when
 * tracing is on (its FUP), as the hardware's PSB+ carries.
 */
static int enc_psbplus(struct sa_emu_enc *enc, uint64_t next)
{
	struct pt_packet psb = { .type = ppt_psb };
	struct pt_packet end = { .type = ppt_psbend };
	int err;

	err = enc_flush_tnt(enc);
	if (!err)
		err = enc_cyc(enc, enc->now, true);
	if (err)
		return err;
	/* PSB+ is all or nothing: a cut one would not resynchronise. */
	err = enc_put_room(enc, &psb, SA_EMU_PSBPLUS_MAX);
	if (err || enc->overflow)
		return err;
	enc->last_psb = enc_offset(enc) - 16;
	if (enc->ring && !enc->mid_psb && enc->last_psb >= enc->size / 2)
		enc->mid_psb = enc->last_psb;
	enc->last_ip_valid = false;
	enc->mode_sent = false;
	enc->in_psb = true;
	ret_reset(enc);
	err = enc_tsc(enc);
	if (!err)
		err = enc_cbr(enc);
	if (!err && enc->enabled) {
		err = enc_mode_exec(enc);
		if (!err)
			err = enc_ip_pkt(enc, ppt_fup, next, false);
	}
	if (!err)
		err = enc_put(enc, &end);
	enc->in_psb = false;
	return err;
}

static int enc_maybe_psb(struct sa_emu_enc *enc, uint64_t next)
{
	if (enc_offset(enc) - enc->last_psb < enc->psb_period)
		return 0;
	return enc_psbplus(enc, next);
}

struct sa_emu_enc *sa_emu_enc__new(const struct sa_emu_enc_cfg *cfg)
{
	struct sa_emu_enc *enc;

	if (!cfg->buf || cfg->size < SA_EMU_PSBPLUS_MAX + SA_EMU_OVF_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	enc = calloc(1, sizeof(*enc));
	if (!enc)
		return NULL;
	pt_config_init(&enc->cfg);
	enc->cfg.begin = cfg->buf;
	enc->cfg.end = cfg->buf + cfg->size;
	enc->size = cfg->size;
	enc->psb_period = cfg->psb_period ? cfg->psb_period : 4096;
	enc->ring = cfg->ring;
	/* A ring keeps its back half: it needs PSBs in there. */
	if (enc->ring && enc->psb_period > cfg->size / 4)
		enc->psb_period = (uint32_t)(cfg->size / 4);
	enc->noretcomp = cfg->noretcomp;
	enc->tnt8_only = cfg->tnt8_only;
	/* MTC and CYC count from a TSC: they bring it with them. */
	enc->mtc = cfg->mtc;
	enc->cyc = cfg->cyc;
	enc->tsc = cfg->tsc || cfg->mtc || cfg->cyc;
	enc->mtc_period = cfg->mtc_period;
	enc->cyc_thresh = cfg->cyc_thresh;
	if (enc->mtc_period > SA_EMU_MTC_PERIOD_MAX ||
	    enc->cyc_thresh > SA_EMU_CYC_THRESH_MAX) {
		free(enc);
		errno = EINVAL;
		return NULL;
	}
	enc->now = enc->last_cyc = cfg->tsc0;
	enc->pte = pt_alloc_encoder(&enc->cfg);
	if (!enc->pte) {
		free(enc);
		errno = ENOMEM;
		return NULL;
	}
	/* The trace opens with a PSB+ (tracing off until the first PGE). */
	if (enc_psbplus(enc, 0) < 0) {
		sa_emu_enc__free(enc);
		errno = EINVAL;
		return NULL;
	}
	return enc;
}

void sa_emu_enc__free(struct sa_emu_enc *enc)
{
	if (!enc)
		return;
	pt_free_encoder(enc->pte);
	free(enc);
}

int sa_emu_enc_time(struct sa_emu_enc *enc, uint64_t tsc)
{
	struct pt_packet pkt = { .type = ppt_mtc };
	uint64_t p;
	int err;

	if (tsc > enc->now)
		enc->now = tsc;
	if (!enc->mtc || enc->overflow)
		return 0;
	p = enc_ctc(enc->now) >> enc->mtc_period;
	if (p == enc->last_mtc)
		return 0;
	/* The first MTC after a TMA also must not be 2^16 CTC ticks or more
	 * past it: TMA carries only CTC bits 15:0, and with mtc_period
	 * over 8 the decoders (libipt's pt_time_update_mtc, perf's
	 * intel_pt_fixup_last_mtc) guess the higher bits of the first MTC
	 * as if it came less than 2^16 ticks later, as hardware's would.
	 */
	if (p - enc->last_mtc >= 256 ||
	    (!enc->mtc_since_tma &&
	     (p << enc->mtc_period) - enc->tma_ctc >= (1u << 16))) {
		/* MTC carries 8 bits of the period count: after 256 periods
		 * or more without one, it could not tell how many passed.
		 * Hardware sends every MTC, also while tracing is filtered
		 * out; we send the full time instead, TSC + TMA + CBR, as
		 * hardware does when tracing is enabled again (the hase
		 * trace).  The CBR matters: libipt calibrates CYC against
		 * the CTC between MTCs and restarts that only at a CBR
		 * outside PSB+ (or OVF); without it, the first MTC after
		 * the gap would calibrate on a wrapped CTC difference.
		 */
		err = enc_cyc(enc, enc->now, true);
		if (!err)
			err = enc_tsc(enc);
		return err ? err : enc_cbr(enc);
	}
	/* One MTC for the latest CTC edge, however many periods passed
	 * since the last (fewer than 256): decoders take the 8-bit
	 * difference, so they get the same time as from every MTC.
	 */
	err = enc_cyc(enc, (p << enc->mtc_period) * SA_EMU_TSC_CTC_N /
			   SA_EMU_TSC_CTC_D, true);
	if (err)
		return err;
	pkt.payload.mtc.ctc = (uint8_t)p;
	enc->last_mtc = p;
	enc->mtc_since_tma = true;
	err = enc_put(enc, &pkt);
	if (!err)
		enc->clock = (p << enc->mtc_period) * SA_EMU_TSC_CTC_N /
			     SA_EMU_TSC_CTC_D;
	return err;
}

uint64_t sa_emu_enc_clock(const struct sa_emu_enc *enc)
{
	return enc->tsc ? enc->clock : 0;
}

int sa_emu_enc_enter(struct sa_emu_enc *enc, uint64_t ip)
{
	int err = 0;

	if (enc->overflow)
		return 0;
	if (enc->enabled)
		return -SA_ERR_INVAL;
	if (!enc->mode_sent)
		err = enc_mode_exec(enc);
	if (!err)
		err = enc_ip_pkt(enc, ppt_tip_pge, ip, false);
	if (enc->overflow)
		return err;
	enc->enabled = true;
	ret_reset(enc);
	return err;
}

int sa_emu_enc_retire(struct sa_emu_enc *enc, uint64_t ip,
		      const struct sa_emu_insn *in, uint64_t next,
		      bool next_in)
{
	uint64_t fall = ip + in->size;
	int err = 0;

	if (enc->overflow)
		return 0;
	if (!enc->enabled)
		return -SA_ERR_INVAL;

	if (in->iclass == SA_IC_SYSCALL || in->iclass == SA_IC_FAR) {
		/* User-only tracing: the kernel is not traced, so the far
		 * transfer ends packet generation without an IP.
		 */
		err = enc_ip_pkt(enc, ppt_tip_pgd, 0, true);
		enc->enabled = false;
		if (!err && next_in)
			err = sa_emu_enc_enter(enc, next);
		return err;
	}
	if (!next_in) {
		/* The branch leaves the filter: TIP.PGD carries where it
		 * went; a conditional branch gives no TNT bit (libipt binds
		 * the disable to it by its target).
		 */
		err = enc_ip_pkt(enc, ppt_tip_pgd, next, false);
		enc->enabled = false;
		return err;
	}
	switch (in->iclass) {
	case SA_IC_COND:
		err = enc_tnt(enc, next != fall);
		break;
	case SA_IC_CALL:
		ret_push(enc, fall);
		break;
	case SA_IC_IND_CALL:
		ret_push(enc, fall);
		err = enc_ip_pkt(enc, ppt_tip, next, false);
		break;
	case SA_IC_IND_JUMP:
		err = enc_ip_pkt(enc, ppt_tip, next, false);
		break;
	case SA_IC_RET:
		if (!enc->noretcomp && ret_pop_if(enc, next)) {
			err = enc_tnt(enc, true);
		} else {
			/* A decoder may or may not pop on an uncompressed
			 * return: forget our stack so that no later return
			 * depends on which.
			 */
			ret_reset(enc);
			err = enc_ip_pkt(enc, ppt_tip, next, false);
		}
		break;
	case SA_IC_JUMP:
	case SA_IC_OTHER:
	default:
		if (next != fall && in->iclass != SA_IC_JUMP)
			sa_debug("emu: %#llx: flow to %#llx without a branch\n",
				 (unsigned long long)ip,
				 (unsigned long long)next);
		break;
	}
	if (!err)
		err = enc_maybe_psb(enc, next);
	return err;
}

int sa_emu_enc_async(struct sa_emu_enc *enc, uint64_t ip)
{
	int err;

	if (enc->overflow || !enc->enabled)
		return 0;
	err = enc_ip_pkt(enc, ppt_fup, ip, false);
	if (!err)
		err = enc_ip_pkt(enc, ppt_tip_pgd, 0, true);
	enc->enabled = false;
	return err;
}

int sa_emu_enc_stop(struct sa_emu_enc *enc, uint64_t ip)
{
	/* the packets of an asynchronous disable at @ip */
	return sa_emu_enc_async(enc, ip);
}

uint64_t sa_emu_enc_dropped(const struct sa_emu_enc *enc)
{
	return enc->dropped;
}

size_t sa_emu_enc_finish(struct sa_emu_enc *enc)
{
	enc_flush_tnt(enc);
	return (size_t)enc_offset(enc);
}

bool sa_emu_enc_enabled(const struct sa_emu_enc *enc)
{
	return enc->enabled;
}

bool sa_emu_enc_overflowed(const struct sa_emu_enc *enc)
{
	return enc->overflow;
}

size_t sa_emu_enc_bytes(const struct sa_emu_enc *enc)
{
	return (size_t)enc_offset(enc);
}
