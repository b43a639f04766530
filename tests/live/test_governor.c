// SPDX-License-Identifier: BSD-2-Clause
/*
 * The 'scenarios' suite, governor: the live loop holds its CPU budget.
 *
 * A busy workload (wl_branches, a loop that never sleeps) is watched by
 * the live loop in this process with the emulated backend, at a budget
 * of 2% of a core, with windows (3000 instructions single-stepped, some
 * 40 ms of CPU with the guardian) that cost far more than 2% of the
 * 200 ms period asked for.  The sensor's CPU time is measured here with
 * getrusage (this process, and the guardian processes it reaped; the
 * workload is reaped only after the measurement), around sa_live_run().
 *
 * Tolerance: the budget can be overdrawn by one window (a window is
 * never cut short) and by the first period's tokens, so the measured
 * share must be at most 2% * 1.25 plus the costliest window over the
 * run's wall time; and at least 2% / 4 (the governor uses the budget,
 * rather than starving the sensor).  The loop's own counters
 * (sensor_cpu_ns, the "observed N ms of every second at X% of a core"
 * line) must agree with the measurement within 5% (+ 5 ms).
 *
 * Usage: test_governor WORKLOAD
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sensor/live.h"

#include "testutil.h"

#define BUDGET_PERMILLE 20
#define RUN_S 12

static const char *wl_path;
static struct sa_live *cur;

static uint64_t cpu_ns(void)
{
	struct rusage self, ch;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &self), 0);
	ck_assert_int_eq(getrusage(RUSAGE_CHILDREN, &ch), 0);
	return (uint64_t)(self.ru_utime.tv_sec + self.ru_stime.tv_sec +
			  ch.ru_utime.tv_sec + ch.ru_stime.tv_sec) *
	       1000000000ull +
	       (uint64_t)(self.ru_utime.tv_usec + self.ru_stime.tv_usec +
			  ch.ru_utime.tv_usec + ch.ru_stime.tv_usec) * 1000ull;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_alarm(int sig)
{
	(void)sig;
	if (cur)
		sa_live_request_stop(cur);
}

static void on_note(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

START_TEST(test_budget_holds)
{
	struct sa_live_opts o = { 0 };
	struct sa_live_stats st;
	struct sa_errinfo ei;
	struct sigaction sa;
	uint64_t c0, c1, t0, t1, used, wall;
	double share, budget = BUDGET_PERMILLE / 1000.0, said;
	char line[256], *at;
	pid_t pid;

	sa_test_require_ptrace();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		execl(wl_path, wl_path, "4000000000", (char *)NULL);
		_exit(127);
	}
	usleep(100000);

	o.backend.kind = SA_BACKEND_EMULATE;
	o.backend.pid = pid;
	o.backend.window_insns = 3000;
	o.backend.window_ms = 2000;
	o.backend.period_ms = 200;
	o.backend.budget.cpu_permille = BUDGET_PERMILLE;
	o.learn_windows = 3;
	o.note_fn = on_note;
	cur = sa_live__new(&o, &ei);
	ck_assert_msg(cur, "%s", ei.msg);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	c0 = cpu_ns();
	t0 = mono_ns();
	alarm(RUN_S);
	ck_assert_msg(sa_live_run(cur, &ei) == 0, "%s", ei.msg);
	c1 = cpu_ns();
	t1 = mono_ns();
	alarm(0);
	sa_live_stats(cur, &st);
	sa_live_format_governor(&st, line, sizeof(line));
	sa_live__free(cur);
	cur = NULL;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	used = c1 - c0;
	wall = t1 - t0;
	share = (double)used / (double)wall;
	printf("governor: %llu windows (%llu skipped), sensor CPU %.1f ms "
	       "in %.2f s = %.2f%% (budget %.1f%%); costliest window %.1f "
	       "ms; counters: %.1f ms; %s\n",
	       (unsigned long long)st.windows,
	       (unsigned long long)st.windows_skipped, used / 1e6, wall / 1e9,
	       100 * share, 100 * budget, st.max_window_cpu_ns / 1e6,
	       st.sensor_cpu_ns / 1e6, line);
	fflush(stdout);
	ck_assert_uint_ge(st.windows, 2);
	ck_assert_msg(share <= budget * 1.25 +
		      (double)st.max_window_cpu_ns / (double)wall,
		      "the sensor used %.2f%% of a core, over the %.1f%% "
		      "budget", 100 * share, 100 * budget);
	ck_assert_msg(share >= budget / 4, "the sensor used %.2f%% of a "
		      "core, far below its budget", 100 * share);
	/* the budget was binding: the governor stretched the period or
	 * shortened the window
	 */
	ck_assert_uint_gt(st.governor_changes, 0);
	ck_assert(st.period_ms > 200 || st.window_insns < 3000);
	/* the counters agree with the measurement */
	ck_assert_msg(st.sensor_cpu_ns <= used + 5000000 &&
		      st.sensor_cpu_ns + used / 20 + 5000000 >= used,
		      "counted %.1f ms, measured %.1f ms",
		      st.sensor_cpu_ns / 1e6, used / 1e6);
	at = strstr(line, " ms of every second at ");
	ck_assert_ptr_nonnull(at);
	said = strtod(at + strlen(" ms of every second at "), NULL) / 100;
	ck_assert_msg(said <= share * 1.05 + 0.0005 &&
		      said >= share * 0.95 - 0.0005,
		      "'%s' but %.2f%% measured", line, 100 * share);
	ck_assert_uint_gt(st.observed_ns, 0);
	ck_assert_uint_lt(st.observed_ns, wall);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("governor");
	TCase *tc = tcase_create("governor");

	if (argc < 2) {
		fprintf(stderr, "usage: %s WORKLOAD\n", argv[0]);
		return 2;
	}
	wl_path = argv[1];
	tcase_set_timeout(tc, 3 * RUN_S + 60);
	tcase_add_test(tc, test_budget_holds);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
