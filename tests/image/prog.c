// SPDX-License-Identifier: BSD-2-Clause
/*
 * Test program for the image and sites suites.  It is never run: the
 * tests load it (PIE, non-PIE, static) and compare what we read from it
 * with nm, readelf, addr2line and objdump run on the same file.
 */
#include <stdio.h>
#include <stdlib.h>

int sa_prog_counter;

__attribute__((noinline)) static int classify(int x)
{
	if (x < 0)
		return -1;
	if (x == 0)
		return 0;
	if (x > 1000)
		return 2;
	return 1;
}

__attribute__((noinline)) int sum_loop(const int *v, int n)
{
	int s = 0;

	for (int i = 0; i < n; i++) {
		if (v[i] & 1)
			s += v[i];
		else
			s -= classify(v[i]);
	}
	return s;
}

__attribute__((noinline)) int dispatch(int op, int a, int b)
{
	switch (op) {
	case 0: return a + b;
	case 1: return a - b;
	case 2: return a * b;
	case 3: return b ? a / b : 0;
	case 4: return a % (b | 1);
	case 5: return a << (b & 7);
	case 6: return a >> (b & 7);
	default: return classify(a - b);
	}
}

/* A global alias at the same address as a static function. */
int sum_loop_alias(const int *v, int n) __attribute__((alias("sum_loop")));

int (*sa_prog_fp)(int, int, int) = dispatch;

int main(int argc, char **argv)
{
	int v[8];

	for (int i = 0; i < 8; i++)
		v[i] = argc > i + 1 ? (int)strtol(argv[i + 1], NULL, 0) : i;
	sa_prog_counter = sum_loop(v, 8) + sa_prog_fp(argc, v[0], v[1]);
	printf("%d\n", sa_prog_counter);
	return sa_prog_counter > 100;
}
