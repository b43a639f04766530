// SPDX-License-Identifier: BSD-2-Clause
/*
 * Workload: qsort with a callback in this binary, called from libc.
 * Counts how often the comparison found a < b and prints it:
 *   cmp: less=N notless=M
 */
#include <stdio.h>
#include <stdlib.h>

static unsigned long n_less, n_notless;

__attribute__((noinline)) int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (x < y) {
		__asm__ volatile("" ::: "memory");
		n_less++;
		return -1;
	}
	n_notless++;
	return x > y;
}

int main(int argc, char **argv)
{
	int v[12] = { 9, 3, 7, 1, 8, 2, 6, 5, 4, 0, 11, 10 };
	size_t n = sizeof(v) / sizeof(v[0]);
	size_t i;

	if (argc > 1)
		n = (size_t)strtoul(argv[1], NULL, 0) % (n + 1);
	qsort(v, n, sizeof(v[0]), cmp_int);
	for (i = 0; i + 1 < n; i++)
		if (v[i] > v[i + 1])
			return 1;
	printf("cmp: less=%lu notless=%lu\n", n_less, n_notless);
	return 0;
}
