// SPDX-License-Identifier: BSD-2-Clause
/*
 * Workload: two threads running the same function of this binary, for
 * attach tests: a sensor that traces one thread must not disturb the
 * other.  Runs for about the number of seconds given (default 2), or
 * until SIGUSR1, then prints:
 *   threads: ok
 * With a second argument N, the worker waits for a byte (or the end) on
 * its standard input, runs N iterations and ends while the main thread
 * goes on: a traced worker that ends.
 *
 * Tests give a long bound and end the program with SIGUSR1 once they have
 * detached, and start the worker by writing to its stdin once they have
 * attached: a wall-clock schedule would not hold on a loaded machine,
 * where a window that single-steps a few thousand instructions can last
 * longer than the program.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static unsigned long exit_after;

static void on_usr1(int sig)
{
	(void)sig;
	stop = 1;
}

__attribute__((noinline)) unsigned long spin(unsigned long x)
{
	if (x & 1)
		return x * 3 + 1;
	return x / 2;
}

static void *worker(void *arg)
{
	unsigned long x = (unsigned long)(size_t)arg, n = 0;
	char c;

	/* Restarted after SIGUSR1 (SA_RESTART); 0 at the end of input. */
	if (exit_after && read(0, &c, 1) < 0)
		return NULL;
	while (!stop && (!exit_after || n < exit_after)) {
		x = spin(x) + 7;
		n++;
	}
	return (void *)(size_t)(n > 0);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
	struct sigaction sa = { .sa_handler = on_usr1,
				.sa_flags = SA_RESTART };
	struct timespec t0, t;
	pthread_t th;
	void *ok = NULL;
	unsigned long x = 27;

	if (argc > 2)
		exit_after = strtoul(argv[2], NULL, 10);
	/* Before the worker exists: a test that sees two threads may
	 * signal.
	 */
	sigaction(SIGUSR1, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pthread_create(&th, NULL, worker, (void *)(size_t)31))
		return 1;
	do {
		x = spin(x) + 5;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (!stop && (double)(t.tv_sec - t0.tv_sec) +
				  (double)(t.tv_nsec - t0.tv_nsec) / 1e9 <
			  secs);
	stop = 1;
	pthread_join(th, &ok);
	printf("threads: %s\n", ok ? "ok" : "worker did nothing");
	return ok ? 0 : 1;
}
