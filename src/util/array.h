/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private: growing arrays with a cap (as curl's dynbuf has one), for
 * everything whose size follows the input.
 */
#ifndef SA_UTIL_ARRAY_H
#define SA_UTIL_ARRAY_H

#include <stddef.h>

/* Makes room in *@arr (capacity *@cap elements of @size bytes, @nr in
 * use) for one more element: the capacity doubles, starting at @first.
 * Returns 0, -ENOMEM (the array is unchanged), or -SA_ERR_TOOBIG when @nr
 * already is @max.
 */
int sa_array_reserve(void **arr, size_t *cap, size_t nr, size_t size,
		     size_t first, size_t max);

#endif /* SA_UTIL_ARRAY_H */
