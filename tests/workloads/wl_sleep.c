// SPDX-License-Identifier: BSD-2-Clause
/*
 * Workload: short sleeps between bursts of work, for attach tests: the
 * sensor usually finds it blocked in nanosleep (inside the binary when
 * static).  Runs N rounds (default 100, 5 ms sleeps) and prints:
 *   sleep: rounds=N odd=M
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned long n_odd;

__attribute__((noinline)) void work(unsigned int i)
{
	if (i & 1) {
		__asm__ volatile("" ::: "memory");
		n_odd++;
	}
}

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0)
				  : 100;
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	unsigned int i;

	for (i = 0; i < n; i++) {
		nanosleep(&ts, NULL);
		work(i);
	}
	printf("sleep: rounds=%u odd=%lu\n", n, n_odd);
	return 0;
}
