/* SPDX-License-Identifier: BSD-2-Clause */
/* Private to src/hist. */
#ifndef SA_HIST_INT_H
#define SA_HIST_INT_H

#include <stdint.h>

#include "sensor/hist.h"

/* Caps on what a history may grow to: enough for any real window, and a
 * bound when the input is hostile.
 */
#define SA_HIST_MAX_FUNCS (1u << 22)
#define SA_HIST_MAX_TARGETS 4096

struct sa_hist {
	struct sa_hist_func **funcs;
	size_t nr_funcs, alloc_funcs;
	/* open addressing: slot holds index + 1, 0 = empty */
	uint32_t *slots;
	size_t nr_slots;
	struct sa_hist_decode dec;
};

/* Capacity of a power-of-two grown array holding @n elements. */
static inline size_t sa_hist_cap(size_t n)
{
	size_t c = 4;

	while (c < n)
		c <<= 1;
	return c;
}

#endif /* SA_HIST_INT_H */
