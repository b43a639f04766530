// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "array.h"
#include "sensor/error.h"

int sa_array_reserve(void **arr, size_t *cap, size_t nr, size_t size,
		     size_t first, size_t max)
{
	size_t n;
	void *p;

	if (nr >= max)
		return -SA_ERR_TOOBIG;
	if (nr < *cap)
		return 0;
	n = *cap ? 2 * *cap : (first ? first : 1);
	if (n > max)
		n = max;
	if (n < nr + 1 || n > SIZE_MAX / size)
		return -ENOMEM;
	p = realloc(*arr, n * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}
