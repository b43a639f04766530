// SPDX-License-Identifier: BSD-2-Clause
/*
 * Workload: setjmp/longjmp, a signal handler entered asynchronously
 * (interval timer) and synchronously (raise), and rep-prefixed string
 * instructions.  Prints:
 *   jumps: longjmp=N
 *   signals: handled=N
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static jmp_buf env;
static volatile sig_atomic_t hits;
static unsigned long n_longjmp;

static void on_signal(int sig)
{
	(void)sig;
	hits++;
}

__attribute__((noinline)) void deep(int depth)
{
	if (depth == 0)
		longjmp(env, 1);
	deep(depth - 1);
}

__attribute__((noinline)) void copy_rep(char *dst, const char *src,
					size_t n)
{
	/* Explicit rep movsb / rep stosb: one PT instruction each however
	 * many iterations they take.
	 */
	__asm__ volatile("rep movsb"
			 : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
	n = 5;
	__asm__ volatile("rep stosb"
			 : "+D"(dst), "+c"(n) : "a"(0x41) : "memory");
}

int main(int argc, char **argv)
{
	struct itimerval it = { { 0, 2000 }, { 0, 2000 } };
	char buf[64];
	volatile unsigned long spin = 0;
	int i, rounds = argc > 1 ? (int)strtol(argv[1], NULL, 0) : 3;

	signal(SIGUSR1, on_signal);
	signal(SIGALRM, on_signal);
	for (i = 0; i < rounds; i++) {
		if (setjmp(env) == 0)
			deep(i + 1);
		else
			n_longjmp++;
	}
	raise(SIGUSR1);
	copy_rep(buf, "hello, world, 0123456789", 24);
	/* Asynchronous delivery: a timer fires while we spin. */
	setitimer(ITIMER_REAL, &it, NULL);
	while (hits < 3)
		spin++;
	it.it_value.tv_usec = 0;
	it.it_interval.tv_usec = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	printf("jumps: longjmp=%lu\n", n_longjmp);
	printf("signals: handled=%d\n", (int)hits);
	return buf[24] == 'A' ? 0 : 1;
}
