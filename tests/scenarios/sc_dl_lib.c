// SPDX-License-Identifier: BSD-2-Clause
/*
 * The library sc_dl loads with dlopen() after exec (tests/scenarios
 * test_restart.c, mmap_after_exec): two functions it calls through
 * pointers from dlsym().
 */
int dl_square(int x);
int dl_parity(int x);

int dl_square(int x)
{
	return x * x;
}

int dl_parity(int x)
{
	return x & 1;
}
