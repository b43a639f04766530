// SPDX-License-Identifier: BSD-2-Clause
/*
 * CoreSight backend: OpenCSD's C API behind the pull interface of
 * decoders/decoder.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opencsd/c_api/opencsd_c_api.h>
#include <opencsd/etmv4/trc_pkt_types_etmv4.h>
#include <opencsd/ete/trc_pkt_types_ete.h>
#include <opencsd/ptm/trc_pkt_types_ptm.h>
#include <opencsd/etmv3/trc_pkt_types_etmv3.h>

#include "sensor/log.h"
#include "etm.h"

struct sa_etm {
	struct sa_dec dec;		/* first: sa_dec_next() casts */
	struct sa_etm_stats est;
	dcd_tree_handle_t tree;
	const uint8_t *buf;
	size_t len;
	size_t pos;			/* next byte to hand to OpenCSD */
	uint64_t base;
	struct sa_image *image;
	char name[96];
	bool framed;
	size_t tail;			/* bytes of a last partial frame */
	bool eot_sent;
	bool done;
	ocsd_datapath_resp_t prev;	/* last OpenCSD response */
	/* an overflow NO_SYNC was reported for this trace ID: the TRACE_ON
	 * that follows it is the same overflow
	 */
	bool ovf_seen[128];
	/* unsynchronised spans: a trace ID's NO_SYNC opens one at its byte
	 * index, its first other element closes it; the bytes in it are
	 * lost.  UINT64_MAX: no open span.
	 */
	uint64_t unsync_from[128];
	uint64_t first_sync;		/* first synchronised element since
					 * the start or the last reset */
	uint64_t lost_until;		/* bytes below were counted lost */
	bool ever_synced;
	size_t tail0;			/* the partial frame, as given */
	/* ring of converted elements */
	struct sa_elem *q;
	size_t cap, ring, head, count;	/* WAIT at cap; ring slots */
};

static const struct sa_dec_ops sa_etm_ops;

const char *sa_etm_protocol_name(enum sa_etm_protocol p)
{
	switch (p) {
	case SA_ETM_PROTO_ETMV3:
		return "ETMv3";
	case SA_ETM_PROTO_PTM:
		return "PTM";
	case SA_ETM_PROTO_ETMV4I:
		return "ETMv4";
	case SA_ETM_PROTO_ETE:
		return "ETE";
	default:
		return "none";
	}
}

const struct sa_etm_stats *sa_etm_stats(const struct sa_dec *dec)
{
	return &((const struct sa_etm *)dec)->est;
}

/* OpenCSD's logger would print to stdout; the library never prints, so
 * its messages go to the debug log.
 */
static void sa_etm_log_cb(const void *ctx, const char *msg, const int len)
{
	sa_debug("opencsd: %.*s%s", len, msg,
		 len > 0 && msg[len - 1] == '\n' ? "" : "\n");
}

/* OpenCSD's default logger is global and each init allocates a new
 * output logger: set it up once, printing nothing (the string callback
 * of each tree goes to the debug log).
 */
static pthread_once_t sa_etm_log_once = PTHREAD_ONCE_INIT;

static void sa_etm_log_init(void)
{
	ocsd_def_errlog_init(OCSD_ERR_SEV_ERROR, 1);
	ocsd_def_errlog_config_output(C_API_MSGLOGOUT_FLG_NONE, NULL);
}

static uint32_t sa_etm_mem_cb(const void *ctx, const ocsd_vaddr_t addr,
			      const ocsd_mem_space_acc_t space,
			      const uint8_t trc_id, const uint32_t req,
			      uint8_t *out)
{
	const struct sa_etm *etm = ctx;
	uint32_t done = 0;

	/* A read may cross from one image section into the next. */
	while (done < req) {
		int n = sa_image_read(etm->image, addr + done, out + done,
				      req - done);

		if (n <= 0)
			break;
		done += (uint32_t)n;
	}
	return done;
}

static struct sa_elem *sa_etm_push(struct sa_etm *etm)
{
	struct sa_elem *e;

	/* The callback answers WAIT when the queue is full, so OpenCSD never
	 * pushes into a full queue; this is a safety net.
	 */
	if (etm->count == etm->ring)
		return NULL;
	e = &etm->q[(etm->head + etm->count) % etm->ring];
	etm->count++;
	memset(e, 0, sizeof(*e));
	return e;
}

static enum sa_isa sa_etm_isa(ocsd_isa isa)
{
	switch (isa) {
	case ocsd_isa_arm:
		return SA_ISA_A32;
	case ocsd_isa_thumb2:
		return SA_ISA_T32;
	case ocsd_isa_aarch64:
		return SA_ISA_A64;
	default:
		return SA_ISA_UNKNOWN;
	}
}

static enum sa_iclass sa_etm_iclass(const ocsd_generic_trace_elem *el)
{
	switch (el->last_i_type) {
	case OCSD_INSTR_BR:
		if (el->last_instr_cond)
			return SA_IC_COND;
		if (el->last_i_subtype == OCSD_S_INSTR_BR_LINK)
			return SA_IC_CALL;
		return SA_IC_JUMP;
	case OCSD_INSTR_BR_INDIRECT:
		switch (el->last_i_subtype) {
		case OCSD_S_INSTR_V8_RET:
		case OCSD_S_INSTR_V7_IMPLIED_RET:
			return SA_IC_RET;
		case OCSD_S_INSTR_V8_ERET:
			return SA_IC_FAR;
		case OCSD_S_INSTR_BR_LINK:
			return SA_IC_IND_CALL;
		default:
			return SA_IC_IND_JUMP;
		}
	default:
		return SA_IC_OTHER;
	}
}

static void sa_etm_range(struct sa_etm *etm, struct sa_elem *e,
			 const ocsd_generic_trace_elem *el)
{
	e->kind = SA_ELEM_RANGE;
	e->isa = sa_etm_isa(el->isa);
	e->last_class = sa_etm_iclass(el);
	e->last_size = el->last_instr_sz;
	e->start = el->st_addr;
	e->last = el->en_addr - el->last_instr_sz;
	e->ninsn = el->num_instr_range;
	if (el->last_i_type == OCSD_INSTR_BR ||
	    el->last_i_type == OCSD_INSTR_BR_INDIRECT)
		e->last_taken = el->last_instr_exec ? 1 : 0;
	else
		e->last_taken = -1;
	etm->dec.stats.ranges++;
	etm->dec.stats.insns += el->num_instr_range;
}

static void sa_etm_gap(struct sa_elem *e, enum sa_gap_reason reason,
		       uint64_t ip)
{
	e->kind = SA_ELEM_GAP;
	e->gap_reason = reason;
	e->ip = ip;
	e->last_taken = -1;
}

/* Closes the unsynchronised span of @chan at byte index @end: its bytes
 * are lost, counted once.  In a framed buffer the span of one trace ID
 * also holds the frames of the others; once another ID is synchronised
 * those bytes may be its trace, so the span counts only up to there (a
 * lower bound).  Returns the bytes counted.
 */
static uint64_t sa_etm_close_unsync(struct sa_etm *etm, uint8_t chan,
				    uint64_t end)
{
	uint64_t from = etm->unsync_from[chan & 0x7f];

	if (from == UINT64_MAX)
		return 0;
	etm->unsync_from[chan & 0x7f] = UINT64_MAX;
	if (end > etm->first_sync)
		end = etm->first_sync;
	if (from < etm->lost_until)
		from = etm->lost_until;
	if (end <= from)
		return 0;
	etm->lost_until = end;
	etm->est.unsync_bytes += end - from;
	etm->dec.stats.lost_bytes += end - from;
	return end - from;
}

/* The element that says what an unsynchronised span lost (@e NULL: no
 * slot, which the spare slot rules out; the count is in the stats).
 */
static void sa_etm_lost_elem(struct sa_elem *e, uint8_t chan, uint64_t off,
			     uint64_t lost)
{
	if (!e)
		return;
	sa_etm_gap(e, SA_GAP_LOST, 0);
	e->error = -SA_ERR_NOSYNC;
	e->stream = chan;
	e->offset = off;
	e->lost_bytes = lost;
}

static ocsd_datapath_resp_t sa_etm_elem_cb(const void *ctx,
					   const ocsd_trc_index_t idx,
					   const uint8_t chan,
					   const ocsd_generic_trace_elem *el)
{
	struct sa_etm *etm = (struct sa_etm *)ctx;
	struct sa_elem *e;

	/* Every element but NO_SYNC and EO_TRACE (timestamps and context
	 * too) says its trace ID is synchronised.
	 */
	if (el->elem_type != OCSD_GEN_TRC_ELEM_NO_SYNC &&
	    el->elem_type != OCSD_GEN_TRC_ELEM_EO_TRACE) {
		uint64_t lost;

		if (idx < etm->first_sync)
			etm->first_sync = idx;
		etm->ever_synced = true;
		/* OpenCSD takes this element whatever we answer: the
		 * lost-bytes element goes before it, in the spare slot
		 * (the queue holds at most cap - 1 here)
		 */
		lost = sa_etm_close_unsync(etm, chan, idx);
		if (lost)
			sa_etm_lost_elem(sa_etm_push(etm), chan,
					 etm->base + idx, lost);
	}
	if (el->elem_type == OCSD_GEN_TRC_ELEM_NO_SYNC &&
	    el->unsync_eot_info != UNSYNC_EOT &&
	    etm->unsync_from[chan & 0x7f] == UINT64_MAX)
		etm->unsync_from[chan & 0x7f] = idx;

	switch (el->elem_type) {
	case OCSD_GEN_TRC_ELEM_INSTR_RANGE:
	case OCSD_GEN_TRC_ELEM_NO_SYNC:
	case OCSD_GEN_TRC_ELEM_TRACE_ON:
	case OCSD_GEN_TRC_ELEM_EO_TRACE:
	case OCSD_GEN_TRC_ELEM_EXCEPTION:
	case OCSD_GEN_TRC_ELEM_EXCEPTION_RET:
	case OCSD_GEN_TRC_ELEM_ADDR_NACC:
	case OCSD_GEN_TRC_ELEM_ADDR_UNKNOWN:
	case OCSD_GEN_TRC_ELEM_I_RANGE_NOPATH:
		break;
	default:
		if (etm->count >= etm->cap) {
			etm->est.waits++;
			return OCSD_RESP_WAIT;
		}
		return OCSD_RESP_CONT;
	}

	e = sa_etm_push(etm);
	if (!e)
		return OCSD_RESP_WAIT;
	e->stream = chan;
	e->offset = etm->base + idx;

	switch (el->elem_type) {
	case OCSD_GEN_TRC_ELEM_INSTR_RANGE:
		sa_etm_range(etm, e, el);
		break;
	case OCSD_GEN_TRC_ELEM_NO_SYNC:
		switch (el->unsync_eot_info) {
		case UNSYNC_OVERFLOW:
			sa_etm_gap(e, SA_GAP_OVERFLOW, 0);
			etm->dec.stats.overflows++;
			etm->ovf_seen[chan & 0x7f] = true;
			break;
		case UNSYNC_BAD_PACKET:
			sa_etm_gap(e, SA_GAP_ERROR, 0);
			e->error = -SA_ERR_DECODE;
			etm->est.bad_packets++;
			etm->dec.stats.errors++;
			break;
		case UNSYNC_DISCARD:
			sa_etm_gap(e, SA_GAP_LOST, 0);
			break;
		case UNSYNC_EOT:
			sa_etm_gap(e, SA_GAP_END, 0);
			break;
		default:
			sa_etm_gap(e, SA_GAP_START, 0);
			break;
		}
		break;
	case OCSD_GEN_TRC_ELEM_TRACE_ON:
		if (el->trace_on_reason == TRACE_ON_OVERFLOW &&
		    !etm->ovf_seen[chan & 0x7f]) {
			sa_etm_gap(e, SA_GAP_OVERFLOW, 0);
			etm->dec.stats.overflows++;
		} else {
			sa_etm_gap(e, SA_GAP_START, 0);
		}
		etm->ovf_seen[chan & 0x7f] = false;
		etm->dec.stats.syncs++;
		break;
	case OCSD_GEN_TRC_ELEM_EO_TRACE:
		sa_etm_gap(e, SA_GAP_END, 0);
		break;
	case OCSD_GEN_TRC_ELEM_EXCEPTION:
	case OCSD_GEN_TRC_ELEM_EXCEPTION_RET:
		/* The preferred return address is not where the flow
		 * goes next, so no ip: the next range tells.
		 */
		sa_etm_gap(e, SA_GAP_ASYNC, 0);
		etm->est.exceptions++;
		break;
	case OCSD_GEN_TRC_ELEM_ADDR_NACC:
		sa_etm_gap(e, SA_GAP_LOST, el->st_addr);
		e->error = -SA_ERR_NOMAP;
		if (!etm->est.nacc)
			etm->est.nacc_first = el->st_addr;
		etm->est.nacc++;
		break;
	default:	/* ADDR_UNKNOWN, I_RANGE_NOPATH */
		sa_etm_gap(e, SA_GAP_LOST, el->st_addr);
		etm->est.unknown_addr++;
		break;
	}

	if (etm->count >= etm->cap) {
		etm->est.waits++;
		return OCSD_RESP_WAIT;
	}
	return OCSD_RESP_CONT;
}

/* A fatal response: note it as an error element with the offset, reset
 * OpenCSD and skip what it consumed, at least one frame, so that the
 * decode goes on at the next sync point.
 */
static void sa_etm_fatal(struct sa_etm *etm, ocsd_datapath_resp_t resp,
			 uint32_t consumed)
{
	size_t skip = consumed ? consumed : (etm->framed ? 16 : 1);
	char msg[160] = "";
	ocsd_trc_index_t idx = etm->pos;
	uint8_t chan = 0;
	struct sa_elem *e;

	ocsd_get_last_err(&idx, &chan, msg, sizeof(msg));
	if (etm->framed && !consumed)
		skip = 16 - (etm->pos % 16);
	if (skip > etm->len - etm->pos)
		skip = etm->len - etm->pos;
	sa_debug("%s: OpenCSD fatal response %d at offset %#llx: %s\n",
		 etm->name, (int)resp,
		 (unsigned long long)(etm->base + etm->pos), msg);
	ocsd_dt_process_data(etm->tree, OCSD_OP_RESET, 0, 0, NULL, NULL);
	etm->est.fatal++;
	etm->dec.stats.errors++;
	etm->dec.stats.lost_bytes += skip;
	if (etm->lost_until < etm->pos + skip)
		etm->lost_until = etm->pos + skip;
	etm->first_sync = UINT64_MAX;
	/* Reset drops OpenCSD's state, so the queue (already drained) is
	 * the only one that needs a slot.
	 */
	e = sa_etm_push(etm);
	if (e) {
		sa_etm_gap(e, SA_GAP_ERROR, 0);
		e->error = -SA_ERR_DECODE;
		e->offset = etm->base + etm->pos;
		e->lost_bytes = skip;
		e->stream = chan;
	}
	etm->pos += skip;
	etm->prev = OCSD_RESP_CONT;
}

/* Drives OpenCSD until it has queued something or the buffer is done. */
static int sa_etm_fill(struct sa_etm *etm)
{
	while (!etm->count && !etm->done) {
		ocsd_datapath_resp_t resp;
		uint32_t n = 0;

		if (OCSD_DATA_RESP_IS_WAIT(etm->prev)) {
			resp = ocsd_dt_process_data(etm->tree, OCSD_OP_FLUSH,
						    0, 0, NULL, NULL);
		} else if (etm->pos < etm->len) {
			size_t chunk = etm->len - etm->pos;

			if (chunk > UINT32_MAX)
				chunk = UINT32_MAX & ~(size_t)15;
			resp = ocsd_dt_process_data(etm->tree, OCSD_OP_DATA,
						    etm->pos, (uint32_t)chunk,
						    etm->buf + etm->pos, &n);
			if (!OCSD_DATA_RESP_IS_FATAL(resp))
				etm->pos += n;
		} else if (etm->tail) {
			/* OpenCSD takes whole frames only: a buffer cut in
			 * the middle of one loses the rest of it.
			 */
			struct sa_elem *e = sa_etm_push(etm);

			sa_etm_gap(e, SA_GAP_LOST, 0);
			e->error = -SA_ERR_TRUNCATED;
			e->offset = etm->base + etm->len;
			e->lost_bytes = etm->tail;
			etm->dec.stats.lost_bytes += etm->tail;
			etm->tail = 0;
			continue;
		} else if (!etm->eot_sent) {
			etm->eot_sent = true;
			resp = ocsd_dt_process_data(etm->tree, OCSD_OP_EOT,
						    0, 0, NULL, NULL);
		} else {
			/* trace IDs that never synchronised again: the rest
			 * of the buffer is lost for them
			 */
			unsigned int c;
			uint64_t lost = 0;

			for (c = 0; c < 128 && !lost; c++)
				lost = sa_etm_close_unsync(etm, (uint8_t)c,
							   etm->len);
			if (lost) {
				sa_etm_lost_elem(sa_etm_push(etm),
						 (uint8_t)(c - 1),
						 etm->base + etm->len, lost);
				continue;
			}
			/* no trace ID ever synchronised: nothing in the
			 * buffer decoded, so all of it is lost (frames of
			 * IDs no source has, bytes skipped after resets)
			 */
			if (!etm->ever_synced &&
			    etm->dec.stats.lost_bytes < etm->len + etm->tail0) {
				uint64_t rest = etm->len + etm->tail0 -
						etm->dec.stats.lost_bytes;

				etm->lost_until = etm->len;
				etm->est.unsync_bytes += rest;
				etm->dec.stats.lost_bytes += rest;
				sa_etm_lost_elem(sa_etm_push(etm), 0,
						 etm->base, rest);
				continue;
			}
			etm->done = true;
			break;
		}

		if (OCSD_DATA_RESP_IS_FATAL(resp)) {
			if (etm->pos >= etm->len) {
				/* EOT or flush failed: nothing left to skip,
				 * so say so and stop
				 */
				struct sa_elem *e = sa_etm_push(etm);

				sa_etm_gap(e, SA_GAP_ERROR, 0);
				e->error = -SA_ERR_DECODE;
				e->offset = etm->base + etm->pos;
				etm->est.fatal++;
				etm->dec.stats.errors++;
				etm->done = true;
				break;
			}
			sa_etm_fatal(etm, resp, n);
			continue;
		}
		etm->prev = resp;
	}
	return 0;
}

static int sa_etm_next(struct sa_dec *dec, struct sa_elem *e)
{
	struct sa_etm *etm = (struct sa_etm *)dec;
	int err;

	err = sa_etm_fill(etm);
	if (err < 0)
		return err;
	if (!etm->count)
		return 0;
	*e = etm->q[etm->head];
	etm->head = (etm->head + 1) % etm->ring;
	etm->count--;
	return 1;
}

static void sa_etm_free(struct sa_dec *dec)
{
	struct sa_etm *etm = (struct sa_etm *)dec;

	if (!etm)
		return;
	if (etm->tree)
		ocsd_destroy_dcd_tree(etm->tree);
	free(etm->q);
	free(etm);
}

static const struct sa_dec_ops sa_etm_ops = {
	.name = "etm",
	.next = sa_etm_next,
	.free = sa_etm_free,
};

static int sa_etm_add_source(struct sa_etm *etm, const struct sa_etm_source *s,
			     unsigned int flags, struct sa_errinfo *ei)
{
	int cflags = OCSD_CREATE_FLG_FULL_DECODER;
	const char *dname;
	unsigned char csid = 0;
	ocsd_etmv4_cfg v4;
	ocsd_ete_cfg ete;
	ocsd_ptm_cfg ptm;
	ocsd_etmv3_cfg v3;
	const void *cfg;
	ocsd_err_t err;

	switch (s->protocol) {
	case SA_ETM_PROTO_ETMV4I:
		memset(&v4, 0, sizeof(v4));
		v4.reg_idr0 = s->trcidr0;
		v4.reg_idr1 = s->trcidr1;
		v4.reg_idr2 = s->trcidr2;
		v4.reg_idr8 = s->trcidr8;
		v4.reg_idr9 = s->trcidr9;
		v4.reg_idr10 = s->trcidr10;
		v4.reg_idr11 = s->trcidr11;
		v4.reg_idr12 = s->trcidr12;
		v4.reg_idr13 = s->trcidr13;
		v4.reg_configr = s->trcconfigr;
		v4.reg_traceidr = s->trace_id;
		v4.arch_ver = (ocsd_arch_version_t)s->arch;
		v4.core_prof = (ocsd_core_profile_t)s->profile;
		dname = OCSD_BUILTIN_DCD_ETMV4I;
		cfg = &v4;
		break;
	case SA_ETM_PROTO_ETE:
		memset(&ete, 0, sizeof(ete));
		ete.reg_idr0 = s->trcidr0;
		ete.reg_idr1 = s->trcidr1;
		ete.reg_idr2 = s->trcidr2;
		ete.reg_idr8 = s->trcidr8;
		ete.reg_devarch = s->trcdevarch;
		ete.reg_configr = s->trcconfigr;
		ete.reg_traceidr = s->trace_id;
		ete.arch_ver = (ocsd_arch_version_t)s->arch;
		ete.core_prof = (ocsd_core_profile_t)s->profile;
		dname = OCSD_BUILTIN_DCD_ETE;
		cfg = &ete;
		if (flags & SA_ETM_F_SRC_ADDR_N)
			cflags |= ETE_OPFLG_PKTDEC_SRCADDR_N_ATOMS;
		break;
	case SA_ETM_PROTO_PTM:
		memset(&ptm, 0, sizeof(ptm));
		ptm.reg_idr = s->etmidr;
		ptm.reg_ctrl = s->etmcr;
		ptm.reg_ccer = s->etmccer;
		ptm.reg_trc_id = s->trace_id;
		ptm.arch_ver = (ocsd_arch_version_t)s->arch;
		ptm.core_prof = (ocsd_core_profile_t)s->profile;
		dname = OCSD_BUILTIN_DCD_PTM;
		cfg = &ptm;
		break;
	case SA_ETM_PROTO_ETMV3:
		memset(&v3, 0, sizeof(v3));
		v3.reg_idr = s->etmidr;
		v3.reg_ctrl = s->etmcr;
		v3.reg_ccer = s->etmccer;
		v3.reg_trc_id = s->trace_id;
		v3.arch_ver = (ocsd_arch_version_t)s->arch;
		v3.core_prof = (ocsd_core_profile_t)s->profile;
		dname = OCSD_BUILTIN_DCD_ETMV3;
		cfg = &v3;
		break;
	default:
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
				      "%s: trace ID %#x: unknown protocol %d",
				      etm->name, s->trace_id, s->protocol);
	}
	if (s->arch == SA_ETM_ARCH_UNKNOWN ||
	    s->profile == SA_ETM_PROFILE_UNKNOWN)
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "%s: trace ID %#x: the core architecture "
				      "and profile must be known", etm->name,
				      s->trace_id);

	err = ocsd_dt_create_decoder(etm->tree, dname, cflags, cfg, &csid);
	if (err != OCSD_OK) {
		char what[96];

		ocsd_err_str(err, what, sizeof(what));
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "%s: OpenCSD refuses the %s decoder for "
				      "trace ID %#x: %s", etm->name,
				      sa_etm_protocol_name(s->protocol),
				      s->trace_id, what);
	}
	return 0;
}

struct sa_dec *sa_etm__new(const struct sa_etm_config *cfg,
			   struct sa_errinfo *ei)
{
	uint8_t seen[128] = { 0 };
	struct sa_etm *etm;
	uint32_t fflags;
	size_t i;
	int err;

	if (!cfg || !cfg->image || (!cfg->buf && cfg->len) ||
	    !cfg->nr_sources || cfg->nr_sources > SA_ETM_MAX_SOURCES ||
	    !cfg->sources || cfg->queue_cap > SA_ETM_QUEUE_MAX ||
	    (cfg->format == SA_ETM_FMT_RAW && cfg->nr_sources != 1)) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "etm: invalid decoder configuration (a raw "
			       "source takes exactly one trace source, a "
			       "framed one 1..%d)", SA_ETM_MAX_SOURCES);
		errno = EINVAL;
		return NULL;
	}

	etm = calloc(1, sizeof(*etm));
	if (!etm)
		goto err_nomem;
	etm->dec.ops = &sa_etm_ops;
	etm->dec.stats.trace_bytes = cfg->len;
	etm->buf = cfg->buf;
	etm->len = cfg->len;
	etm->base = cfg->base_offset;
	etm->image = cfg->image;
	etm->framed = cfg->format == SA_ETM_FMT_FRAMED;
	etm->first_sync = UINT64_MAX;
	for (i = 0; i < 128; i++)
		etm->unsync_from[i] = UINT64_MAX;
	if (etm->framed) {
		etm->tail = etm->len % 16;
		etm->tail0 = etm->tail;
		etm->len -= etm->tail;
	}
	etm->prev = OCSD_RESP_CONT;
	snprintf(etm->name, sizeof(etm->name), "%s",
		 cfg->name ? cfg->name : "CoreSight trace");
	etm->cap = cfg->queue_cap ? cfg->queue_cap : SA_ETM_QUEUE_DEFAULT;
	/* one more slot than the threshold: the element that closes an
	 * unsynchronised span comes with the lost-bytes element before it
	 */
	etm->ring = etm->cap + 1;
	etm->q = calloc(etm->ring, sizeof(*etm->q));
	if (!etm->q)
		goto err_nomem;

	pthread_once(&sa_etm_log_once, sa_etm_log_init);

	fflags = cfg->frame_flags ? cfg->frame_flags : SA_ETM_FRAME_MEM_ALIGN;
	etm->tree = ocsd_create_dcd_tree(etm->framed ?
					 OCSD_TRC_SRC_FRAME_FORMATTED :
					 OCSD_TRC_SRC_SINGLE,
					 etm->framed ? fflags : 0);
	if (etm->tree == C_API_INVALID_TREE_HANDLE) {
		err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				     "%s: OpenCSD cannot create a decode tree "
				     "(frame flags %#x)", etm->name, fflags);
		goto err_free;
	}
	ocsd_def_errlog_set_strprint_cb(etm->tree, NULL, sa_etm_log_cb);

	for (i = 0; i < cfg->nr_sources; i++) {
		const struct sa_etm_source *s = &cfg->sources[i];

		/* A raw (single source) buffer carries no IDs: snapshots
		 * of one ETM may say TRCTRACEIDR=0.
		 */
		if ((etm->framed && s->trace_id == 0) ||
		    s->trace_id >= 0x70) {
			err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					     "%s: trace ID %#x is out of range "
					     "(0x01..0x6f)", etm->name,
					     s->trace_id);
			goto err_free;
		}
		if (seen[s->trace_id]++) {
			err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					     "%s: trace ID %#x is given twice",
					     etm->name, s->trace_id);
			goto err_free;
		}
		err = sa_etm_add_source(etm, s, cfg->flags, ei);
		if (err)
			goto err_free;
	}

	if (ocsd_dt_set_gen_elem_outfn(etm->tree, sa_etm_elem_cb, etm) !=
	    OCSD_OK ||
	    ocsd_dt_add_callback_trcid_mem_acc(etm->tree, 0, UINT64_MAX,
					       OCSD_MEM_SPACE_ANY,
					       sa_etm_mem_cb, etm) != OCSD_OK) {
		err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				     "%s: OpenCSD refuses the element or "
				     "memory callback", etm->name);
		goto err_free;
	}
	return &etm->dec;

err_nomem:
	err = sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
			     "etm: out of memory");
err_free:
	sa_etm_free(etm ? &etm->dec : NULL);
	errno = err == -ENOMEM ? ENOMEM : EINVAL;
	return NULL;
}

void sa_etm_lib_version(char *buf, size_t len)
{
	uint32_t v = ocsd_get_version();

	/* OCSD_VER_NUM: major << 16 | minor << 8 | patch */
	snprintf(buf, len, "OpenCSD %u.%u.%u", (unsigned int)(v >> 16) & 0xff,
		 (unsigned int)(v >> 8) & 0xff, (unsigned int)v & 0xff);
}
