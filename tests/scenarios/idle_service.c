// SPDX-License-Identifier: BSD-2-Clause
/*
 * An idle service: a short burst of work (a few thousand instructions of
 * branches), then a sleep of SLEEP_MS (default 1000) milliseconds, until
 * SIGTERM.  Most sampled windows find it asleep in the kernel: they hold
 * no user instruction.  It prints "ready <pid>" once running.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t done;
static unsigned long n_odd, n_seen;

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

__attribute__((noinline)) static void burst(unsigned int seed)
{
	unsigned int i, x = seed;

	for (i = 0; i < 400; i++) {
		x = x * 1103515245u + 12345u;
		if (x & 0x100)
			n_odd++;
		n_seen++;
	}
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	unsigned int round = 0;

	signal(SIGTERM, on_term);
	/* the sensor is a sibling: allow it under Yama ptrace_scope 1 */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (!done) {
		burst(round++);
		nanosleep(&ts, NULL);
	}
	printf("idle: %u rounds, %lu of %lu odd\n", round, n_odd, n_seen);
	return 0;
}
