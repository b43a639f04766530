/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: the CoreSight backend (ETMv3, PTM, ETMv4, ETE) on OpenCSD.
 *
 * OpenCSD is a push library: it calls back with generic trace elements
 * while it consumes bytes.  The backend parks those elements, converted to
 * struct sa_elem, in a bounded queue; when the queue is full the callback
 * answers OCSD_RESP_WAIT and the next sa_dec_next() resumes OpenCSD with
 * OCSD_OP_FLUSH before it feeds more bytes, as perf's cs-etm-decoder.c
 * does.  All target memory is read through sa_image_read().
 *
 * This header does not include OpenCSD: the rest of the project describes
 * a trace source with the plain register values below.
 */
#ifndef SA_DECODERS_ETM_H
#define SA_DECODERS_ETM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sa_etm_protocol {
	SA_ETM_PROTO_NONE = 0,
	SA_ETM_PROTO_ETMV3,	/* ETMv3.x (ETMIDR, ETMCR, ETMCCER) */
	SA_ETM_PROTO_PTM,	/* PTM / PFT 1.x (same registers) */
	SA_ETM_PROTO_ETMV4I,	/* ETMv4 instruction trace */
	SA_ETM_PROTO_ETE,	/* Armv9 Embedded Trace Extension */
};

/* Architecture of the traced core (OpenCSD's ocsd_arch_version_t). */
enum sa_etm_arch {
	SA_ETM_ARCH_UNKNOWN = 0,
	SA_ETM_ARCH_V7 = 0x0700,
	SA_ETM_ARCH_V8 = 0x0800,
	SA_ETM_ARCH_V8R3 = 0x0803,
	SA_ETM_ARCH_AA64 = 0x0864,	/* v8.3 and later AArch64 */
};

enum sa_etm_profile {
	SA_ETM_PROFILE_UNKNOWN = 0,
	SA_ETM_PROFILE_M,
	SA_ETM_PROFILE_R,
	SA_ETM_PROFILE_A,
};

/* One trace source (one ETM, PTM or ETE) and the registers its decoder
 * needs.  Only the registers of @protocol are read.
 */
struct sa_etm_source {
	enum sa_etm_protocol protocol;
	uint8_t trace_id;		/* CoreSight trace ID (0x01..0x6f) */
	enum sa_etm_arch arch;
	enum sa_etm_profile profile;
	/* ETMv4 / ETE */
	uint32_t trcidr0, trcidr1, trcidr2, trcidr8;
	uint32_t trcidr9, trcidr10, trcidr11, trcidr12, trcidr13;
	uint32_t trcconfigr;
	uint32_t trcdevarch;		/* ETE only */
	/* ETMv3 / PTM */
	uint32_t etmidr, etmcr, etmccer;
};

/* How the trace buffer is framed. */
enum sa_etm_format {
	/* CoreSight formatter output of an ETB/ETR/TMC: 16-byte frames,
	 * several trace IDs in one buffer.
	 */
	SA_ETM_FMT_FRAMED = 0,
	/* Raw protocol bytes of one source (TRBE, ETE sessions, a single
	 * source sink); the trace ID comes from sources[0].
	 */
	SA_ETM_FMT_RAW,
};

/* Frame synchronisation of SA_ETM_FMT_FRAMED (OpenCSD OCSD_DFRMTR_*). */
#define SA_ETM_FRAME_MEM_ALIGN	0x04	/* aligned frames: ETB/ETR */
#define SA_ETM_FRAME_FSYNCS	0x01	/* TPIU / DSTREAM with FSYNCs */
#define SA_ETM_FRAME_HSYNCS	0x02	/* TPIU with HSYNCs too */
#define SA_ETM_FRAME_RESET_4X_FSYNC 0x20 /* perf: reset on 4x FSYNC */

/* Flags of struct sa_etm_config. */
/* ETE: split ranges at N atoms using the source address (trc_pkt_lister
 * -src_addr_n).  Gives one range per conditional decision, as the
 * history builder wants it.
 */
#define SA_ETM_F_SRC_ADDR_N	0x1

#define SA_ETM_MAX_SOURCES	112	/* trace IDs 0x01..0x6f */
#define SA_ETM_QUEUE_DEFAULT	1024
#define SA_ETM_QUEUE_MAX	(1u << 20)

struct sa_etm_config {
	const uint8_t *buf;		/* borrowed trace bytes */
	size_t len;
	uint64_t base_offset;		/* offset of buf[0] (messages) */
	const char *name;		/* the input for messages, or NULL */
	struct sa_image *image;		/* borrowed; every memory read */
	enum sa_etm_format format;
	uint32_t frame_flags;		/* SA_ETM_FRAME_*; 0: MEM_ALIGN */
	size_t nr_sources;		/* 1..SA_ETM_MAX_SOURCES */
	const struct sa_etm_source *sources; /* copied */
	unsigned int flags;		/* SA_ETM_F_* */
	size_t queue_cap;		/* elements; 0: SA_ETM_QUEUE_DEFAULT */
};

/* Creates a decoder for @cfg->buf.  The buffer and the image are borrowed
 * until sa_dec__free().  Returns NULL with errno set and @ei filled when
 * the configuration is not usable (unknown protocol, duplicate trace ID,
 * OpenCSD refuses the registers).
 *
 * The decoder yields, per OpenCSD element:
 *   INSTR_RANGE     -> SA_ELEM_RANGE (stream = trace ID)
 *   NO_SYNC         -> SA_GAP_START, or _OVERFLOW / _ERROR / _LOST / _END
 *                      by its unsync reason
 *   TRACE_ON        -> SA_GAP_START (SA_GAP_OVERFLOW after an overflow)
 *   EO_TRACE        -> SA_GAP_END
 *   EXCEPTION(_RET) -> SA_GAP_ASYNC
 *   ADDR_NACC       -> SA_GAP_LOST, error -SA_ERR_NOMAP, ip = address
 *   ADDR_UNKNOWN, I_RANGE_NOPATH -> SA_GAP_LOST
 * and drops the others (timestamps, cycle counts, context, events).
 * A fatal OpenCSD response becomes SA_GAP_ERROR with the byte offset; the
 * decoder is reset and resumes after the bytes OpenCSD consumed (at
 * least one frame), so decoding goes on at the next sync.
 */
struct sa_dec *sa_etm__new(const struct sa_etm_config *cfg,
			   struct sa_errinfo *ei);

/* CoreSight-specific counters, beyond struct sa_dec_stats. */
struct sa_etm_stats {
	uint64_t nacc;		/* ADDR_NACC: code not in the image */
	uint64_t nacc_first;	/* address of the first one */
	uint64_t unknown_addr;	/* ADDR_UNKNOWN / I_RANGE_NOPATH */
	uint64_t exceptions;
	uint64_t bad_packets;	/* NO_SYNC after a bad packet */
	uint64_t fatal;		/* fatal OpenCSD responses (resets) */
	uint64_t waits;		/* times the queue filled up */
	uint64_t unsync_bytes;	/* bytes before a trace ID synchronised
				 * (also in sa_dec_stats()->lost_bytes) */
};

/* Returns the counters of @dec, which must come from sa_etm__new(). */
const struct sa_etm_stats *sa_etm_stats(const struct sa_dec *dec);

/* Returns a name for @p ("ETMv4", ...). */
const char *sa_etm_protocol_name(enum sa_etm_protocol p);

/* The OpenCSD version this process runs with (ocsd_get_version()), into
 * @buf: "OpenCSD 1.3.1".
 */
void sa_etm_lib_version(char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SA_DECODERS_ETM_H */
