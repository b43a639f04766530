// SPDX-License-Identifier: BSD-2-Clause
/*
 * The target of the capture-trigger suite: calls sa_test_trigger_here()
 * N times, each after M ms of other work once a tracer is attached (the
 * emulated sensor attaches per window), and counts its own calls.
 *
 *	trigger_target N M [cb]
 *
 * With "cb", the function called is sa_test_trigger_cmp(), by libc's
 * qsort (from outside the main binary).
 *
 * stdout: "ready PID ADDR" (ADDR: the function's address at run time);
 * stderr: "called K" after each call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long calls, work;

__attribute__((noinline)) void sa_test_trigger_here(void)
{
	calls++;
}

__attribute__((noinline)) int sa_test_trigger_cmp(const void *a,
						  const void *b)
{
	calls++;
	return *(const int *)a - *(const int *)b;
}

static unsigned long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000ul +
	       (unsigned long)ts.tv_nsec / 1000000;
}

static int traced(void)
{
	char buf[256];
	FILE *f = fopen("/proc/self/status", "r");
	int pid = 0;

	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "TracerPid:", 10))
			pid = atoi(buf + 10);
	fclose(f);
	return pid != 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	unsigned long ms = argc > 2 ? strtoul(argv[2], NULL, 10) : 50;
	int cb = argc > 3 && !strcmp(argv[3], "cb");
	int i, v[2] = { 2, 1 };

	printf("ready %d %p\n", (int)getpid(), cb ?
	       (void *)sa_test_trigger_cmp : (void *)sa_test_trigger_here);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		struct timespec d = { 0, 1000000 };
		unsigned long t0, w = 0;

		/* bounded: 60 s untraced, then the call goes ahead */
		while (!traced() && w++ < 60000)
			nanosleep(&d, NULL);
		t0 = now_ms();
		while (now_ms() - t0 < ms)
			work += (work & 1) ? 3 : 1;
		if (cb)
			qsort(v, 2, sizeof(v[0]), sa_test_trigger_cmp);
		else
			sa_test_trigger_here();
		fprintf(stderr, "called %lu\n", calls);
	}
	return 0;
}
