/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: the internal decoder interface.
 *
 * Each backend under decoders/<backend>/ turns one trace buffer into the
 * flow of <sensor/flow.h>: ranges of executed instructions and gaps.  It
 * is a pull iterator, in the style of libipt's pt_blk_next():
 *
 *	dec = sa_ipt__new(&cfg, &ei);
 *	while ((err = sa_dec_next(dec, &elem)) > 0)
 *		sa_hist_builder_add(b, &elem);
 *	sa_dec__free(dec);
 *
 * A backend resynchronises by itself after an error (at the next PSB, the
 * next A-sync, ...) and reports what it skipped as an SA_GAP_ERROR element
 * with the trace offset and the bytes lost, so one error never ends the
 * window.  A negative return means the decoder cannot go on at all (out of
 * memory, broken configuration).
 *
 * The decoder borrows the trace buffer and the image: the caller keeps
 * both alive until sa_dec__free().
 *
 * A faster backend (for example one that walks a precomputed control-flow
 * graph, as Honeybee and libxdc do) implements the same two operations and
 * must produce the same elements for the same trace.
 *
 * Nothing outside decoders/ includes libipt or OpenCSD headers.
 */
#ifndef SA_DECODERS_DECODER_H
#define SA_DECODERS_DECODER_H

#include <stdint.h>

#include "sensor/error.h"
#include "sensor/flow.h"
#include "sensor/image.h"

struct sa_dec;

/* Counters kept by every backend. */
struct sa_dec_stats {
	uint64_t trace_bytes;	/* size of the buffer */
	uint64_t insns;		/* instructions in all ranges */
	uint64_t ranges;
	uint64_t errors;	/* decode errors (each a SA_GAP_ERROR) */
	uint64_t lost_bytes;	/* trace bytes skipped after errors */
	uint64_t overflows;	/* OVF packets / overflow elements */
	uint64_t syncs;		/* synchronisation points used */
};

struct sa_dec_ops {
	const char *name;
	/* Returns 1 with @e filled, 0 at the end of the buffer, < 0 when the
	 * decoder cannot continue.
	 */
	int (*next)(struct sa_dec *dec, struct sa_elem *e);
	void (*free)(struct sa_dec *dec);
};

/* Backends embed this as their first member. */
struct sa_dec {
	const struct sa_dec_ops *ops;
	struct sa_dec_stats stats;
};

static inline int sa_dec_next(struct sa_dec *dec, struct sa_elem *e)
{
	return dec->ops->next(dec, e);
}

static inline void sa_dec__free(struct sa_dec *dec)
{
	if (dec)
		dec->ops->free(dec);
}

static inline const struct sa_dec_stats *sa_dec_stats(const struct sa_dec *dec)
{
	return &dec->stats;
}

/*
 * Intel PT (decoders/ipt, libipt).
 */
struct sa_ipt_config {
	const uint8_t *buf;	/* borrowed trace bytes */
	size_t len;
	uint64_t base_offset;	/* file offset of buf[0], for messages */
	struct sa_image *image;	/* borrowed; all memory reads go here */
	/* CPU identification for errata workarounds; 0/0/0 = none. */
	uint16_t family;
	uint8_t model, stepping;
	/* Timing parameters (from the perf AUXTRACE_INFO / attr), 0 when
	 * unknown: MTC frequency, nominal frequency, TSC:CTC ratio.
	 */
	uint8_t mtc_freq;
	uint8_t nom_freq;
	uint32_t cpuid_0x15_eax, cpuid_0x15_ebx;
	/* Return compression is on unless the perf attr had noretcomp. */
	int noretcomp;
};

struct sa_dec *sa_ipt__new(const struct sa_ipt_config *cfg,
			   struct sa_errinfo *ei);

/*
 * Intel PT, fast path (decoders/fastpt): walks a control-flow graph of
 * the image with the TNT bits and TIPs; same configuration, same elements
 * as sa_ipt__new() (the equality is tested).  Each PSB segment it does not
 * handle (other packets, other modes, a decode error) is decoded by the
 * libipt backend; sa_fpt_fallbacks() counts those segments.
 */
struct sa_dec *sa_fpt__new(const struct sa_ipt_config *cfg,
			   struct sa_errinfo *ei);
uint64_t sa_fpt_fallbacks(const struct sa_dec *dec);

/*
 * Counted output of the fast path, for a consumer that needs per-branch
 * counts and not the order of every branch (the history builder without
 * flow or branch callbacks).  With a counter set, sa_dec_next() still
 * returns the gaps, the range before each gap, and the elements of
 * segments libipt decodes, in order; every other range goes to @add as
 * (range, the address the flow went on at, passes), adding up identical
 * passes until an element or a pass needs them out.  Before it hands a
 * range to @add the first time, the decoder asks @flags (SA_DEC_EDGE_*):
 * an ORDERED edge is handed over once per pass, in its place in the
 * flow, and the latest DECIDES pass before it is handed over last;
 * TARGET edges go in the order first seen.  The counted passes go out
 * before an element whose range @flags gives any of these for.
 * @resolve gives the consumer the next address after the range it was
 * last handed as an element, when the flow goes on with counted ranges.
 * Each returns 0 or a negative error, which ends the decode with it.
 *
 * Set it before the first sa_dec_next(); @c is borrowed.  Returns 0, or
 * -SA_ERR_INVAL when @dec is not the fast backend or already started.
 */
#define SA_DEC_EDGE_DECIDES 1	/* as SA_HIST_EDGE_DECIDES */
#define SA_DEC_EDGE_ORDERED 2	/* as SA_HIST_EDGE_ORDERED */
#define SA_DEC_EDGE_TARGET 4	/* as SA_HIST_EDGE_TARGET */
struct sa_dec_counter {
	int (*flags)(void *ctx, const struct sa_elem *range, uint64_t next);
	int (*add)(void *ctx, const struct sa_elem *range, uint64_t next,
		   uint64_t count);
	int (*resolve)(void *ctx, uint16_t stream, uint64_t next);
	void *ctx;
};
int sa_fpt_set_counter(struct sa_dec *dec, const struct sa_dec_counter *c);
/* The versions of libipt and capstone this process runs with, from the
 * libraries' own calls (pt_library_version(), cs_version()), into @buf:
 * "libipt 2.0.5, capstone 4.0".
 */
void sa_ipt_lib_versions(char *buf, size_t len);

#endif /* SA_DECODERS_DECODER_H */
