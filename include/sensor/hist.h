/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: per-function branch-decision histories.
 *
 * A history says, for each function a trace window touched: how often it
 * was called and returned, and for each branch site which way it went and
 * how often (conditional branches), or where it went (indirect branches).
 * It also keeps what the decode lost.  Histories of several windows merge
 * by summing.
 *
 * Functions and branches are keyed by binary (build-id, else path),
 * function name and offset in the binary, so histories of runs with
 * different load addresses (ASLR) merge correctly.
 */
#ifndef SENSOR_HIST_H
#define SENSOR_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sensor/flow.h"
#include "sensor/image.h"
#include "sensor/sites.h"

#ifdef __cplusplus
extern "C" {
#endif

/* JSON schema version of sa_hist_write_json(); see docs/histories.md. */
#define SA_HIST_SCHEMA_VERSION 1

struct sa_hist;
struct sa_hist_builder;

/* An indirect branch's target, identified by (object, offset): the
 * object is @build_id when it has one, else @binary; @offset is the
 * link-time (ELF) address in it.  Code without a file is one bucket per
 * mapping kind: @binary "[anon]", "[jit]", "[heap]", "[stack]" with
 * @offset 0, or "[vdso]" with the offset from its start (its link-time
 * address); "[raw]" with the address itself in raw images and memory
 * dumps placed by the user (no load bias); "[unknown]" (offset 0) when
 * no mapping holds the target.
 * @addr, the runtime address, is informational only: ASLR changes it.
 */
struct sa_hist_target {
	uint64_t addr;		/* runtime address (informational) */
	uint64_t offset;	/* link-time address in the object */
	const char *sym;	/* function name, or NULL */
	uint64_t sym_off;	/* @offset - the symbol's link-time start */
	const char *binary;	/* path, bucket, or NULL ("[unknown]") */
	const char *build_id;	/* hex, NULL or "" when none */
	uint64_t count;
};

struct sa_hist_branch {
	uint64_t addr;		/* runtime address (last window seen) */
	uint64_t offset;	/* ELF virtual address in the binary */
	uint8_t iclass;		/* enum sa_iclass */
	uint64_t target;	/* direct target (runtime), 0 if indirect */
	uint64_t fallthrough;
	const char *file;	/* may be NULL */
	int line;		/* 0 when unknown */
	const char *insn;	/* instruction text */
	uint64_t executed;	/* times the instruction ran */
	uint64_t taken;		/* conditional: taken */
	uint64_t not_taken;	/* conditional: fell through */
	size_t nr_targets;	/* indirect branches: observed targets */
	struct sa_hist_target *targets;
	/* Error origins: times this decision (taken / not taken) was the
	 * last conditional decision before control entered an error sink.
	 */
	uint64_t sink_taken;
	uint64_t sink_not_taken;
};

struct sa_hist_func {
	const char *name;	/* demangled (C++, Rust), else the linkage name */
	const char *linkage_name; /* the symbol table's name (mangled) */
	const char *binary;	/* path of the binary, or "[unknown]" */
	const char *build_id;	/* hex, "" when unknown */
	uint64_t entry;		/* runtime address */
	uint64_t entry_offset;	/* ELF virtual address */
	uint64_t calls;		/* call instructions that entered it */
	uint64_t returns;	/* return instructions executed in it */
	uint64_t insns;		/* instructions executed in it */
	uint64_t sink_entries;	/* error sinks entered from it */
	bool is_sink;		/* it is an error sink itself */
	size_t nr_branches;	/* sorted by offset */
	struct sa_hist_branch *branches;
};

struct sa_hist_error {
	uint64_t offset;	/* trace byte offset */
	int code;		/* negative error */
	uint16_t reason;	/* enum sa_gap_reason */
};

#define SA_HIST_MAX_ERRORS 64
#define SA_HIST_MAX_TIDS 64

struct sa_hist_decode {
	uint64_t windows;
	uint64_t trace_bytes;
	uint64_t instructions;
	uint64_t errors;	/* decode errors */
	uint64_t lost_bytes;	/* trace bytes skipped or lost */
	uint64_t overflows;	/* OVF / overflow */
	uint64_t aux_truncated;	/* PERF_RECORD_AUX flags seen */
	uint64_t aux_partial;
	uint64_t aux_collision;
	uint64_t lost_records;	/* PERF_RECORD_LOST events */
	uint64_t unknown_taken;	/* conditional outcomes lost to a gap */
	uint64_t unmapped;	/* ranges outside any binary */
	uint64_t missing_binaries;	/* traced binaries not found */
	uint64_t build_id_mismatches;	/* binaries of another build */
	uint64_t missing_sources;	/* CoreSight sources without a
					 * device file: not decoded */
	/* windows with no instruction and no error: a clean trace without
	 * any IP (PSB, PSBEND, timing) or no trace at all; the target did
	 * not run traced code.  Valid, empty observations.
	 */
	uint64_t idle_windows;
	/* indirect-branch outcomes whose target no mapping holds: counted
	 * under the target "[unknown]"
	 */
	uint64_t unnamed_targets;
	/* indirect-branch outcomes into the vDSO named "[vdso]" + offset
	 * only: its image was not in the build-id cache (docs/histories.md)
	 */
	uint64_t unnamed_vdso_targets;
	/* The threads the trace came from (the AUXTRACE records' tid; for
	 * per-CPU traces, the ITRACE_START records'), distinct, ascending:
	 * histories merge threads, this says which were observed.  At most
	 * SA_HIST_MAX_TIDS are listed; @tids_truncated: more were seen.
	 */
	uint32_t nr_tids;
	bool tids_truncated;
	int32_t tids[SA_HIST_MAX_TIDS];
	size_t nr_error_list;	/* first SA_HIST_MAX_ERRORS errors */
	struct sa_hist_error error_list[SA_HIST_MAX_ERRORS];
};

/* Called for every taken branch in trace order (--branches). */
typedef void (*sa_branch_fn)(void *ctx, uint64_t from, uint64_t to,
			     enum sa_iclass kind);

struct sa_hist *sa_hist__new(void);
void sa_hist__free(struct sa_hist *h);

/* Adds every count of @src to @dst.  Returns 0 or -ENOMEM. */
int sa_hist_merge(struct sa_hist *dst, const struct sa_hist *src);

size_t sa_hist_nr_functions(const struct sa_hist *h);
/* Functions in insertion order; sa_hist_sort() orders them busiest first
 * (instructions, then calls, then address) and returns 0 or -ENOMEM.
 */
const struct sa_hist_func *sa_hist_function(const struct sa_hist *h,
					    size_t idx);
int sa_hist_sort(struct sa_hist *h);
const struct sa_hist_func *sa_hist_find(const struct sa_hist *h,
					const char *name);
const struct sa_hist_decode *sa_hist_decode(const struct sa_hist *h);
struct sa_hist_decode *sa_hist_decode_mut(struct sa_hist *h);

/* Adds thread @tid to @d's list of observed threads (a no-op when it is
 * listed already or @tid <= 0; sets tids_truncated when the list is full).
 */
void sa_hist_decode_add_tid(struct sa_hist_decode *d, int32_t tid);

/* Direct construction, for merging, importing and tests.
 *
 * sa_hist_get_func() finds the function with the key of @k (binary
 * build-id, else path; linkage name; entry offset) or adds it; strings
 * are copied (a NULL linkage_name is taken as @k's name).
 * sa_hist_get_branch() finds the branch at @offset in @f or adds it with
 * the fields of @tmpl (strings copied; counts ignored).  Returned pointers
 * stay valid until the next sa_hist_get_branch() on the same function or
 * sa_hist_sort()/sa_hist_merge() on @h.  Both return NULL (errno ENOMEM)
 * on failure.
 */
struct sa_hist_func *sa_hist_get_func(struct sa_hist *h,
				      const struct sa_hist_func *k);
struct sa_hist_branch *sa_hist_get_branch(struct sa_hist *h,
					  struct sa_hist_func *f,
					  const struct sa_hist_branch *tmpl);
int sa_hist_add_target(struct sa_hist *h, struct sa_hist_branch *b,
		       const struct sa_hist_target *t, uint64_t count);

/* Error sinks: calls into these functions end an "error path".  The
 * builder attributes each entry to the last conditional decision before
 * it (sink_taken / sink_not_taken) and counts sink_entries of the caller.
 * sa_hist_default_sinks() lists the built-in names (abort,
 * __assert_fail, __stack_chk_fail, __cxa_throw, _Unwind_RaiseException,
 * perror, strerror, and every "*.cold" function).
 */
const char *const *sa_hist_default_sinks(void);
int sa_hist_builder_add_sink(struct sa_hist_builder *b, const char *name);

/* Records a decode error or loss in @h's decode counters. */
void sa_hist_note_error(struct sa_hist *h, uint64_t offset, int code,
			enum sa_gap_reason reason, uint64_t lost_bytes);

/* Builds a history from decoder elements.  @img and @sites are borrowed. */
struct sa_hist_builder *sa_hist_builder__new(struct sa_hist *h,
					     struct sa_image *img,
					     struct sa_sitemap *sites);
void sa_hist_builder__free(struct sa_hist_builder *b);
void sa_hist_builder_set_branch_fn(struct sa_hist_builder *b,
				   sa_branch_fn fn, void *ctx);
/* Feeds one element.  Returns 0 or a negative error (-ENOMEM). */
int sa_hist_builder_add(struct sa_hist_builder *b, const struct sa_elem *e);
/* Ends the current buffer: the last range's outcome becomes unknown. */
int sa_hist_builder_flush(struct sa_hist_builder *b);

/*
 * Counted input, for a decoder that adds up identical passes instead of
 * handing out one element per branch (decoders/fastpt, docs/ipt.md).
 *
 * sa_hist_builder_add_counted() counts @count passes of @range (an
 * SA_ELEM_RANGE) after each of which the flow went on at @next (0 when
 * not known): the same counts as @count times sa_hist_builder_add() of
 * @range followed by an element starting at @next, except for the one
 * order-dependent rule, the blame of an error-sink entry on the last
 * decision before it.  A range the element path left pending is first
 * resolved at @range's start.  Returns 0 or -ENOMEM.
 *
 * sa_hist_builder_edge_flags() says, without counting anything, how a
 * pass of @range then @next touches that rule: SA_HIST_EDGE_DECIDES, it
 * becomes the last decision; SA_HIST_EDGE_ORDERED, it may enter an error
 * sink and read the last decision; SA_HIST_EDGE_TARGET, it adds to an
 * indirect branch's targets, which are listed in the order first seen.
 * A caller that reorders passes keeps each ORDERED pass in its place
 * (count 1), hands the latest DECIDES pass before it last, and hands
 * TARGET passes in the order they were first seen; the histories are
 * then identical.
 *
 * sa_hist_builder_resolve() resolves a range the element path left
 * pending on @stream with the flow's next address @next.
 */
#define SA_HIST_EDGE_DECIDES 1
#define SA_HIST_EDGE_ORDERED 2
#define SA_HIST_EDGE_TARGET 4
int sa_hist_builder_add_counted(struct sa_hist_builder *b,
				const struct sa_elem *range, uint64_t next,
				uint64_t count);
int sa_hist_builder_edge_flags(struct sa_hist_builder *b,
			       const struct sa_elem *range, uint64_t next);
int sa_hist_builder_resolve(struct sa_hist_builder *b, uint16_t stream,
			    uint64_t next);

/* Output. */
#define SA_HIST_OUT_TARGETS 0x1		/* list indirect targets */
int sa_hist_write_json(const struct sa_hist *h, FILE *f, unsigned flags);
int sa_hist_write_text(const struct sa_hist *h, FILE *f, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_HIST_H */
