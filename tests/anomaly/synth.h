/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Synthetic histories for the anomaly tests: counts drawn from known
 * distributions with a fixed-seed generator, so that the truth (which
 * site changed and how) is known by construction.
 */
#ifndef SA_TEST_SYNTH_H
#define SA_TEST_SYNTH_H

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "sensor/flow.h"
#include "sensor/hist.h"

struct synth_rng {
	uint64_t s;
};

static inline uint64_t synth_next(struct synth_rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 2685821657736338717ull;
}

static inline double synth_unif(struct synth_rng *r)
{
	return (double)(synth_next(r) >> 11) / 9007199254740992.0;
}

static inline uint64_t synth_binom(struct synth_rng *r, uint64_t n, double p)
{
	uint64_t i, k = 0;

	for (i = 0; i < n; i++)
		k += synth_unif(r) < p;
	return k;
}

static inline struct sa_hist_func *synth_func(struct sa_hist *h,
					      const char *bin,
					      const char *build_id,
					      const char *name, uint64_t entry)
{
	struct sa_hist_func k = { .name = name, .binary = bin,
				  .build_id = build_id, .entry = entry,
				  .entry_offset = entry };
	struct sa_hist_func *f = sa_hist_get_func(h, &k);

	ck_assert_ptr_nonnull(f);
	return f;
}

static inline struct sa_hist_branch *
synth_branch(struct sa_hist *h, struct sa_hist_func *f, uint64_t off,
	     enum sa_iclass ic, const char *file, int line, uint64_t target)
{
	struct sa_hist_branch t = { .addr = off, .offset = off, .iclass = ic,
				    .file = file, .line = line,
				    .insn = ic == SA_IC_COND ? "jne 0x0" :
					    ic == SA_IC_IND_CALL ?
						    "call *%rax" : "call 0x0",
				    .target = target };
	struct sa_hist_branch *b = sa_hist_get_branch(h, f, &t);

	ck_assert_ptr_nonnull(b);
	return b;
}

/* A conditional site with @n executions, taken with probability @p. */
static inline void synth_cond(struct sa_hist *h, struct sa_hist_func *f,
			      uint64_t off, int line, struct synth_rng *r,
			      uint64_t n, double p)
{
	struct sa_hist_branch *b = synth_branch(h, f, off, SA_IC_COND, "w.c",
						line, 0);
	uint64_t k = synth_binom(r, n, p);

	b->taken += k;
	b->not_taken += n - k;
	b->executed += n;
}

static inline void synth_target(struct sa_hist *h, struct sa_hist_branch *b,
				const char *bin, const char *sym,
				uint64_t off, uint64_t count)
{
	struct sa_hist_target t = { .addr = off, .offset = off, .sym = sym,
				    .binary = bin };

	if (!count)
		return;
	ck_assert_int_eq(sa_hist_add_target(h, b, &t, count), 0);
	b->executed += count;
}

#endif /* SA_TEST_SYNTH_H */
