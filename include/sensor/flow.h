/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: the execution flow that every trace decoder produces.
 *
 * A decoder (Intel PT with libipt, CoreSight with OpenCSD, or a future
 * control-flow-graph fast path) turns a trace into a sequence of elements:
 * ranges of instructions that executed one after the other, and gaps where
 * the flow is not known (trace disabled, an error, an overflow).  The
 * history builder consumes only this; it never sees a decoder library.
 */
#ifndef SENSOR_FLOW_H
#define SENSOR_FLOW_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction set of a range. */
enum sa_isa {
	SA_ISA_UNKNOWN = 0,
	SA_ISA_X86_64,
	SA_ISA_X86_32,
	SA_ISA_A64,
	SA_ISA_A32,
	SA_ISA_T32,
};

/* What kind of control transfer an instruction is. */
enum sa_iclass {
	SA_IC_OTHER = 0,	/* not a branch */
	SA_IC_COND,		/* conditional direct branch (jcc, b.cond, cbz,
				 * tbz, loop, jrcxz, conditional A32/T32 b) */
	SA_IC_JUMP,		/* unconditional direct jump */
	SA_IC_CALL,		/* direct call (call rel, bl) */
	SA_IC_IND_JUMP,		/* indirect jump (jmp *reg, br) */
	SA_IC_IND_CALL,		/* indirect call (call *reg, blr) */
	SA_IC_RET,		/* return */
	SA_IC_SYSCALL,		/* syscall, sysenter, int, svc */
	SA_IC_FAR,		/* other far transfer (iret, eret, ...) */
	SA_IC_UNKNOWN,		/* the disassembler could not decode it */
	SA_IC_MAX
};

/* Returns a short name ("jcc", "call", "return", ...). */
const char *sa_iclass_name(enum sa_iclass ic);

enum sa_elem_kind {
	SA_ELEM_RANGE = 1,
	SA_ELEM_GAP,
};

/* Why the flow is not known between two ranges. */
enum sa_gap_reason {
	SA_GAP_START = 1,	/* trace (re)starts: PSB, TIP.PGE, first sync */
	SA_GAP_DISABLED,	/* tracing disabled: TIP.PGD, filter, syscall */
	SA_GAP_ASYNC,		/* interrupt, exception or other async event */
	SA_GAP_OVERFLOW,	/* the hardware or buffer dropped trace (OVF) */
	SA_GAP_ERROR,		/* decode error; resynchronised later */
	SA_GAP_LOST,		/* bytes lost in the record stream (AUX
				 * truncated, LOST record, collision) */
	SA_GAP_END,		/* end of the trace buffer */
};

/*
 * The range contract, which every backend keeps:
 * - the instructions of a range are contiguous in memory: each one starts
 *   where the previous one ends, from @start to @last;
 * - only the last instruction may transfer control elsewhere: a taken
 *   branch of any kind (conditional, direct call or jump, indirect) ends
 *   the range (libipt: end_on_call and end_on_jump set);
 * - so every conditional branch before @last fell through (not taken).
 * A range may also end for other reasons (an event, a section boundary);
 * then @last_class says what the last instruction is and @last_taken is 0
 * or -1.
 */

/* Flags of a range. */
#define SA_RANGE_TRUNCATED 0x1	/* the last instruction is not complete */

struct sa_elem {
	uint8_t kind;		/* enum sa_elem_kind */
	uint8_t isa;		/* enum sa_isa */
	uint8_t last_class;	/* enum sa_iclass of the last instruction */
	int8_t last_taken;	/* SA_RANGE: 1 taken, 0 not taken, -1 unknown
				 * (the builder then looks at the next range) */
	uint8_t last_size;	/* size in bytes of the last instruction */
	uint8_t flags;		/* SA_RANGE_* */
	uint16_t gap_reason;	/* SA_GAP: enum sa_gap_reason */
	uint16_t stream;	/* decoder-defined flow (CoreSight trace ID,
				 * CPU); the builder keeps state per stream */
	uint32_t ninsn;		/* instructions in the range */
	int32_t error;		/* SA_GAP_ERROR: -SA_ERR_* or backend code */
	uint64_t start;		/* address of the first instruction */
	uint64_t last;		/* address of the last instruction */
	uint64_t offset;	/* trace byte offset where this was decoded */
	uint64_t lost_bytes;	/* SA_GAP: trace bytes skipped */
	uint64_t ip;		/* SA_GAP_DISABLED, SA_GAP_ASYNC: the address of
				 * the next instruction in program order after
				 * the last range (TIP.PGD target, FUP of an
				 * interrupt), 0 when not known (suppressed);
				 * SA_GAP_START: where the trace resumes */
	uint64_t time;		/* the trace's clock when the element was
				 * decoded (Intel PT: TSC, refined by MTC and
				 * CYC), 0 when the trace has no timing; a
				 * backend without timing leaves it 0 */
};

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_FLOW_H */
