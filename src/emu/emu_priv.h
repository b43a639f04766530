/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private interfaces of the emulated Intel PT sensor: the PT encoder fed
 * by the ptrace recorder, and the instruction classifier.
 */
#ifndef SA_EMU_PRIV_H
#define SA_EMU_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensor/flow.h"

/* Instruction facts the encoder needs (from capstone). */
struct sa_emu_insn {
	uint8_t size;
	uint8_t iclass;		/* enum sa_iclass */
	bool rep;		/* rep-prefixed string instruction */
};

/*
 * The encoder turns the recorder's events into Intel PT packets, in the
 * order the hardware would emit them, into a buffer of a fixed capacity
 * (the window's AUX size).  Packets that do not fit are lost: an OVF is
 * emitted and the trace ends, as an AUX buffer that filled up.
 */
struct sa_emu_enc;

struct sa_emu_enc_cfg {
	uint8_t *buf;		/* borrowed, @size bytes */
	size_t size;
	uint32_t psb_period;
	bool noretcomp;
	bool tnt8_only;		/* TNT-8 only, never TNT-64 (what libxdc
				 * decodes: tests/bench/mkpt.c) */
	bool tsc;		/* TSC in PSB+ (and CBR) */
	bool mtc;		/* TMA in PSB+, MTC packets */
	bool cyc;		/* CYC packets */
	uint8_t mtc_period;	/* MTC when CTC bit mtc_period changes */
	uint8_t cyc_thresh;	/* CYC after at least 2^(n-1) cycles */
	uint64_t tsc0;		/* the clock when the trace opens */
	bool ring;		/* full: drop the oldest half, not the newest */
};

/*
 * The emulated clocks (docs/emulate.md).  The TSC is the recorder's
 * CLOCK_MONOTONIC in nanoseconds: a 1 GHz TSC, so that perf's TSC
 * conversion (time_mult 1, shift 0) gives back the same nanoseconds.
 * The crystal clock (CTC) runs at 25 MHz: TSC = CTC * 40 / 1, as CPUID
 * 0x15 would say (EBX 40, EAX 1).  The nominal (max non-turbo) ratio is
 * 10 (1 GHz = 10 x 100 MHz) and the core runs at it (CBR 10), so one core
 * cycle is one TSC tick.
 */
#define SA_EMU_TSC_CTC_N 40
#define SA_EMU_TSC_CTC_D 1
#define SA_EMU_NOM_RATIO 10
#define SA_EMU_MTC_PERIOD_DEFAULT 3
#define SA_EMU_MTC_PERIOD_MAX 15
#define SA_EMU_CYC_THRESH_MAX 15

struct sa_emu_enc *sa_emu_enc__new(const struct sa_emu_enc_cfg *cfg);
void sa_emu_enc__free(struct sa_emu_enc *enc);

/* The clock (TSC, ns) is now @tsc: the events that follow happen then.
 * Emits the MTC (or TSC + TMA) and CYC packets that the time that passed
 * calls for.  A @tsc below the last one is taken as the last one.
 */
int sa_emu_enc_time(struct sa_emu_enc *enc, uint64_t tsc);
/* Control entered the filter at @ip: TIP.PGE. */
int sa_emu_enc_enter(struct sa_emu_enc *enc, uint64_t ip);
/* The instruction at @ip (@in facts) retired; the next instruction is at
 * @next, which is inside the filter when @next_in is set.
 */
int sa_emu_enc_retire(struct sa_emu_enc *enc, uint64_t ip,
		      const struct sa_emu_insn *in, uint64_t next,
		      bool next_in);
/* An asynchronous transfer (signal, exit, end of window) took control
 * away from the filter before the instruction at @ip retired: FUP +
 * TIP.PGD.
 */
int sa_emu_enc_async(struct sa_emu_enc *enc, uint64_t ip);
/* Ends the trace: pending TNT bits are flushed.  Returns the number of
 * bytes in the buffer.
 */
size_t sa_emu_enc_finish(struct sa_emu_enc *enc);
/* The trace stops before the instruction at @ip (a trigger): FUP @ip +
 * TIP.PGD, the packets of sa_emu_enc_async(), so that the decoders end
 * the trace at @ip.
 */
int sa_emu_enc_stop(struct sa_emu_enc *enc, uint64_t ip);
/* Ring mode: PT bytes dropped from the front so far. */
uint64_t sa_emu_enc_dropped(const struct sa_emu_enc *enc);
bool sa_emu_enc_enabled(const struct sa_emu_enc *enc);
/* The time the last timing packet (TSC, MTC) carried: decoders date
 * what follows it at that time or later.  0 when the trace has none.
 */
uint64_t sa_emu_enc_clock(const struct sa_emu_enc *enc);
bool sa_emu_enc_overflowed(const struct sa_emu_enc *enc);
size_t sa_emu_enc_bytes(const struct sa_emu_enc *enc);

/* The encoder's input, kept for replay (scripts/bench-emu.sh measures
 * the encoder alone on it).  Bounded: events past @cap are not kept.
 */
enum sa_emu_ev_kind { SA_EMU_EV_ENTER = 1, SA_EMU_EV_RETIRE, SA_EMU_EV_ASYNC };

struct sa_emu_ev {
	uint8_t kind;
	bool next_in;
	struct sa_emu_insn in;
	uint64_t ip, next;
	uint64_t tsc;
};

struct sa_emu_evlog {
	struct sa_emu_ev *ev;
	size_t n, cap;
	bool truncated;
	uint64_t tsc0;		/* the encoder's opening time */
};

static inline void sa_emu_evlog_add(struct sa_emu_evlog *log, uint8_t kind,
				    uint64_t ip, const struct sa_emu_insn *in,
				    uint64_t next, bool next_in, uint64_t tsc)
{
	struct sa_emu_ev *e;

	if (!log)
		return;
	if (log->n >= log->cap) {
		log->truncated = true;
		return;
	}
	e = &log->ev[log->n++];
	e->kind = kind;
	e->ip = ip;
	e->next = next;
	e->next_in = next_in;
	e->tsc = tsc;
	if (in)
		e->in = *in;
}

/* Return-compression call stack depth, as libipt's pt_retstack. */
#define SA_EMU_RETSTACK 64

#endif /* SA_EMU_PRIV_H */
