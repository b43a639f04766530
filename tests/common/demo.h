/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The demo service (tests/scenarios/demo_service.c) in end-to-end suites:
 * started and stopped, its windows recorded with `sensor-agent record
 * --emulate`, a baseline learnt from them.  Header-only, like testutil.h;
 * every helper fails the running Check test on error.
 */
#ifndef SA_TEST_DEMO_H
#define SA_TEST_DEMO_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* Starts the demo service @prog (or a build of it), waits for its "ready"
 * line and returns its pid.  It is killed when this test process dies.
 */
static inline pid_t sa_test_demo_start(const char *prog)
{
	int pfd[2];
	char buf[64];
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(prog, prog, "5", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	ck_assert_int_gt(read(pfd[0], buf, sizeof(buf)), 0);
	close(pfd[0]);
	return pid;
}

/* Stops (SIGTERM) and reaps the service @pid. */
static inline void sa_test_demo_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Shifts the input mix of the service @pid (SIGUSR1) and gives it a
 * moment to take the new mix.
 */
static inline void sa_test_demo_shift(pid_t pid)
{
	kill(pid, SIGUSR1);
	usleep(100000);
}

/* The path of window @i of the recording @name: "TMP/@name.00i".  Eight
 * rotating static buffers, so one call may name several windows.
 */
static inline const char *sa_test_demo_win(const char *name, int i)
{
	static char buf[8][4200];
	static int next;
	char *p = buf[next++ & 7];

	snprintf(p, 4200, "%s.%03d", sa_test_path(name), i);
	return p;
}

/* Records @n windows of the service @pid with `@tool record --emulate`
 * (4000 us windows every 20 ms) to TMP/@name.000 ...; its stderr in
 * TMP/rec.txt, shown when it fails.
 */
static inline void sa_test_demo_record(const char *tool, pid_t pid,
				       const char *name, const char *n)
{
	char pidbuf[16], out[4200];
	char *argv[] = { (char *)tool, "record", "--emulate", "--pid", pidbuf,
			 "--window", "4000", "--period", "20", "--windows",
			 (char *)n, "-o", out, NULL };
	char *msg;
	int st;

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	snprintf(out, sizeof(out), "%s", sa_test_path(name));
	st = sa_test_exec(argv, NULL, sa_test_path("rec.txt"));
	if (st) {
		msg = sa_test_slurp(sa_test_path("rec.txt"), NULL);
		ck_abort_msg("record: %s", msg ? msg : "(no stderr)");
	}
}

/* The usual pair: the service @prog started, @nbase windows recorded to
 * TMP/@base.*, its input shifted, @nshift windows to TMP/@shift.*, and
 * the service stopped.
 */
static inline void sa_test_demo_record_shift(const char *tool,
					     const char *prog,
					     const char *base,
					     const char *nbase,
					     const char *shift,
					     const char *nshift)
{
	pid_t pid = sa_test_demo_start(prog);

	sa_test_demo_record(tool, pid, base, nbase);
	sa_test_demo_shift(pid);
	sa_test_demo_record(tool, pid, shift, nshift);
	sa_test_demo_stop(pid);
}

/* `@tool baseline add --db @db` of the windows @name.000 to
 * @name.(@n - 1), in one call; its stderr shown when it fails.
 */
static inline void sa_test_demo_baseline(const char *tool, const char *db,
					 const char *name, int n)
{
	char *argv[24], paths[16][4200], *msg;
	int i, st;

	ck_assert_int_le(n, 16);
	argv[0] = (char *)tool;
	argv[1] = "baseline";
	argv[2] = "add";
	argv[3] = "--db";
	argv[4] = (char *)db;
	for (i = 0; i < n; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s",
			 sa_test_demo_win(name, i));
		argv[5 + i] = paths[i];
	}
	argv[5 + n] = NULL;
	st = sa_test_exec(argv, NULL, sa_test_path("baseline.txt"));
	if (st) {
		msg = sa_test_slurp(sa_test_path("baseline.txt"), NULL);
		ck_abort_msg("baseline add: exit %d: %s", st,
			     msg ? msg : "(no stderr)");
	}
}

#endif /* SA_TEST_DEMO_H */
