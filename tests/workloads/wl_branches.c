// SPDX-License-Identifier: BSD-2-Clause
/*
 * Workload: loops, a switch jump table, function pointers, recursion.
 *
 * It counts its own decisions at one chosen branch, the single
 * conditional jump in decide(), and prints them:
 *   decide: yes=N no=M
 * Tests compare those counts with what a trace decoder says about the
 * taken / not-taken outcomes of that jcc: the workload is its own oracle.
 */
#include <stdio.h>
#include <stdlib.h>

static unsigned long n_yes, n_no;

__attribute__((noinline)) void decide(unsigned int x)
{
	/* The empty asm keeps gcc from turning this into setcc/cmov. */
	if (x % 3 == 0) {
		__asm__ volatile("" ::: "memory");
		n_yes++;
	} else {
		n_no++;
	}
}

__attribute__((noinline)) int classify(int v)
{
	/* Dense cases: gcc emits an indirect jump through a table. */
	switch (v & 7) {
	case 0: return v + 11;
	case 1: return v * 3;
	case 2: return v - 7;
	case 3: return v ^ 0x55;
	case 4: return v << 2;
	case 5: return v >> 1;
	case 6: return ~v;
	default: return v + 1;
	}
}

__attribute__((noinline)) int add1(int v) { return v + 1; }
__attribute__((noinline)) int dbl(int v) { return v * 2; }
__attribute__((noinline)) int neg(int v) { return -v; }

static int (*const ops[])(int) = { add1, dbl, neg };

__attribute__((noinline)) int fib(int n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
	/* Small default: single-stepping runs about 4,000 steps/s. */
	unsigned int n = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0)
				  : 20;
	volatile int acc = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		decide(i);
		acc += classify((int)i);
		acc += ops[i % 3]((int)i);
	}
	acc += fib(6);
	printf("decide: yes=%lu no=%lu\n", n_yes, n_no);
	printf("acc=%d\n", acc);
	return 0;
}
