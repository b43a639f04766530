// SPDX-License-Identifier: BSD-2-Clause
/*
 * Check suite 'capture' (trigger): `capture --snapshot --trigger SYMBOL`
 * with the emulated backend on trigger_target, a program that calls
 * sa_test_trigger_here() after 50 ms of other work and counts its calls.
 * One call gives exactly one dump, whose decoded trace (sensor-agent
 * decode --branches, and perf script --itrace=b when perf is here) ends
 * with a taken branch to the symbol's address as the program itself
 * printed it; --trigger-count 2 on three calls gives two dumps; a symbol
 * that does not exist is an error naming it and the binary.  Skips (77)
 * without the sensor-agent binary or ptrace.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"

extern char **environ;

static char agent[PATH_MAX];
static const char *target;

struct tgt {
	pid_t pid;
	uint64_t addr;		/* &sa_test_trigger_here, as it says */
	char err[PATH_MAX];	/* its stderr */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Starts trigger_target @n @ms and reads its "ready PID ADDR" line. */
static void start_target_mode(struct tgt *t, const char *tag,
			      const char *n, const char *ms, const char *mode)
{
	char *argv[] = { (char *)target, (char *)n, (char *)ms,
			 (char *)mode, NULL };
	posix_spawn_file_actions_t fa;
	char line[256];
	size_t len = 0;
	int fds[2], rc;
	unsigned long long a = 0;
	int pid = 0;

	snprintf(t->err, sizeof(t->err), "%s/%s.terr", sa_test_tmpdir(), tag);
	ck_assert_int_eq(pipe(fds), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_addopen(&fa, 2, t->err,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(posix_spawn(&t->pid, target, &fa, NULL, argv,
				     environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		ssize_t r;

		ck_assert_int_eq(poll(&p, 1, 30000), 1);
		r = read(fds[0], line + len, sizeof(line) - 1 - len);
		ck_assert_int_gt(r, 0);
		len += (size_t)r;
		line[len] = '\0';
	}
	close(fds[0]);
	rc = sscanf(line, "ready %d %llx", &pid, &a);
	ck_assert_int_eq(rc, 2);
	ck_assert_int_eq(pid, t->pid);
	t->addr = a;
}

static void start_target(struct tgt *t, const char *tag, const char *n,
			 const char *ms)
{
	start_target_mode(t, tag, n, ms, NULL);
}

static void stop_target(struct tgt *t)
{
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
}

/* Runs the agent, bounded (90 s); stdout/stderr in TAG.out/TAG.err. */
static int run_agent(char *const args[], const char *tag)
{
	char out[PATH_MAX + 32], err[PATH_MAX + 32];
	uint64_t t0 = now_ms();
	pid_t pid;
	int st;

	snprintf(out, sizeof(out), "%s/%s.out", sa_test_tmpdir(), tag);
	snprintf(err, sizeof(err), "%s/%s.err", sa_test_tmpdir(), tag);
	pid = sa_test_spawn(args, out, err);
	ck_assert_int_gt(pid, 0);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ms() - t0 > 90000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ck_abort_msg("%s: the agent did not end in 90 s", tag);
		}
		usleep(20000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp_tag(const char *tag, const char *ext)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s.%s", sa_test_tmpdir(), tag, ext);
	return sa_test_slurp(path, NULL);
}

/* Waits (bounded, 30 s) until the file @path holds @what. */
static bool wait_file(const char *path, const char *what)
{
	uint64_t t0 = now_ms();

	while (now_ms() - t0 < 30000) {
		char *s = sa_test_slurp(path, NULL);
		bool ok = s && strstr(s, what);

		free(s);
		if (ok)
			return true;
		usleep(20000);
	}
	return false;
}

/* The target of the last taken branch in @text, a listing with one
 * "FROM => TO" per line (lines with @skip left out); the number of such
 * lines in *@nr.
 */
static uint64_t last_target(const char *text, const char *skip,
			    unsigned int *nr)
{
	const char *l = text;
	uint64_t to = 0;

	*nr = 0;
	while (l && *l) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		char line[512];
		char *arrow;

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		arrow = strstr(line, "=>");
		if (arrow && !(skip && strstr(line, skip))) {
			to = strtoull(arrow + 2, NULL, 16);
			(*nr)++;
		}
		l = e ? e + 1 : NULL;
	}
	return to;
}

/* Checks that dump @file ends at @addr: ours, then perf's. */
static void check_dump(const char *file, uint64_t addr)
{
	char out[PATH_MAX + 32];
	char *dec[] = { agent, "decode", "--branches", (char *)file, NULL };
	char *perf[] = { "perf", "script", "-i", (char *)file, "--itrace=b",
			 "-F", "ip,addr,flags", NULL };
	unsigned int nr;
	char *s;

	snprintf(out, sizeof(out), "%s.branches", file);
	ck_assert_int_eq(sa_test_exec(dec, out, NULL), 0);
	s = sa_test_slurp(out, NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(last_target(s, NULL, &nr), addr);
	/* the trace before the trigger: the 50 ms loop's branches */
	ck_assert_uint_ge(nr, 10);
	free(s);
	if (!sa_test_have("perf"))
		return;
	snprintf(out, sizeof(out), "%s.perf", file);
	ck_assert_int_eq(sa_test_exec(perf, out, NULL), 0);
	s = sa_test_slurp(out, NULL);
	ck_assert_ptr_nonnull(s);
	/* perf ends with "tr end async SYM => 0": the disable at SYM */
	ck_assert_uint_eq(last_target(s, "tr end", &nr), addr);
	ck_assert_uint_ge(nr, 10);
	ck_assert_ptr_nonnull(strstr(s, "tr end"));
	free(s);
}

static bool exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

START_TEST(tc_once)
{
	char pid[16], out[PATH_MAX], f[PATH_MAX + 8];
	char *args[] = { agent, "capture", "--pid", pid, "--snapshot",
			 "--backend", "emulate", "--trigger",
			 "sa_test_trigger_here", "-o", out, NULL };
	struct tgt t;
	char *s;
	int st;

	start_target(&t, "once", "1", "50");
	snprintf(pid, sizeof(pid), "%d", (int)t.pid);
	snprintf(out, sizeof(out), "%s/once.data", sa_test_tmpdir());
	ck_assert_int_eq(run_agent(args, "once"), 0);
	s = slurp_tag("once", "out");
	ck_assert_ptr_nonnull(strstr(s, "dump 0 (trigger "
				     "sa_test_trigger_here"));
	ck_assert_ptr_nonnull(strstr(s, "dumps 1 of 1"));
	free(s);
	/* the target made its one call, and ended */
	ck_assert(wait_file(t.err, "called 1\n"));
	ck_assert_int_eq(waitpid(t.pid, &st, 0), t.pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(f, sizeof(f), "%s.000", out);
	ck_assert(exists(f));
	check_dump(f, t.addr);
	snprintf(f, sizeof(f), "%s.001", out);
	ck_assert(!exists(f));
}
END_TEST

START_TEST(tc_count2)
{
	char pid[16], out[PATH_MAX], f[PATH_MAX + 8];
	char *args[] = { agent, "capture", "--pid", pid, "--snapshot",
			 "--backend", "emulate", "--trigger",
			 "sa_test_trigger_here", "--trigger-count", "2",
			 "--aux-size", "4K", "-o", out, NULL };
	struct tgt t;
	char *s;
	unsigned int i;

	start_target(&t, "count2", "3", "50");
	snprintf(pid, sizeof(pid), "%d", (int)t.pid);
	snprintf(out, sizeof(out), "%s/count2.data", sa_test_tmpdir());
	ck_assert_int_eq(run_agent(args, "count2"), 0);
	s = slurp_tag("count2", "out");
	ck_assert_ptr_nonnull(strstr(s, "dump 1 (trigger"));
	ck_assert_ptr_nonnull(strstr(s, "dumps 2 of 2"));
	free(s);
	/* two calls were made under the sensor; the third waits for one */
	ck_assert(wait_file(t.err, "called 2\n"));
	stop_target(&t);
	for (i = 0; i < 2; i++) {
		snprintf(f, sizeof(f), "%s.%03u", out, i);
		ck_assert(exists(f));
		check_dump(f, t.addr);
	}
	snprintf(f, sizeof(f), "%s.002", out);
	ck_assert(!exists(f));
}
END_TEST

/* The function called back by libc's qsort: reached from outside the
 * trace filter, the dump shows the entry (perf: "tr strt" to it) and
 * the stop there.
 */
START_TEST(tc_callback)
{
	char pid[16], out[PATH_MAX], f[PATH_MAX + 8], po[PATH_MAX + 16];
	char *args[] = { agent, "capture", "--pid", pid, "--snapshot",
			 "--backend", "emulate", "--trigger",
			 "sa_test_trigger_cmp", "-o", out, NULL };
	char *perf[] = { "perf", "script", "-i", f, "--itrace=b", "-F",
			 "ip,addr,flags", NULL };
	unsigned int nr;
	struct tgt t;
	char *s;

	start_target_mode(&t, "cb", "1", "20", "cb");
	snprintf(pid, sizeof(pid), "%d", (int)t.pid);
	snprintf(out, sizeof(out), "%s/cb.data", sa_test_tmpdir());
	ck_assert_int_eq(run_agent(args, "cb"), 0);
	s = slurp_tag("cb", "out");
	ck_assert_ptr_nonnull(strstr(s, "dumps 1 of 1"));
	free(s);
	ck_assert(wait_file(t.err, "called 1\n"));
	stop_target(&t);
	snprintf(f, sizeof(f), "%s.000", out);
	ck_assert(exists(f));
	if (!sa_test_have("perf"))
		return;
	snprintf(po, sizeof(po), "%s.perf", f);
	ck_assert_int_eq(sa_test_exec(perf, po, NULL), 0);
	s = sa_test_slurp(po, NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(last_target(s, "tr end", &nr), t.addr);
	ck_assert_ptr_nonnull(strstr(s, "tr strt"));
	free(s);
}
END_TEST

START_TEST(tc_errors)
{
	char pid[16], out[PATH_MAX], bad[PATH_MAX + 16];
	char *nosym[] = { agent, "capture", "--pid", pid, "--snapshot",
			  "--backend", "emulate", "--trigger",
			  "no_such_function_here", "-o", out, NULL };
	char *nobin[] = { agent, "capture", "--pid", pid, "--snapshot",
			  "--trigger", bad, "-o", out, NULL };
	char *nosnap[] = { agent, "capture", "--pid", pid, "--trigger",
			   "sa_test_trigger_here", NULL };
	char *zero[] = { agent, "capture", "--pid", pid, "--snapshot",
			 "--trigger", "sa_test_trigger_here",
			 "--trigger-count", "0", NULL };
	struct tgt t;
	char *s, msg[PATH_MAX + 64];

	start_target(&t, "errors", "1", "50");
	snprintf(pid, sizeof(pid), "%d", (int)t.pid);
	snprintf(out, sizeof(out), "%s/errors.data", sa_test_tmpdir());
	ck_assert_int_eq(run_agent(nosym, "nosym"), 1);
	s = slurp_tag("nosym", "err");
	snprintf(msg, sizeof(msg), "no function 'no_such_function_here' in "
		 "%s", target);
	ck_assert_msg(strstr(s, msg), "got: %s", s);
	free(s);
	snprintf(bad, sizeof(bad), "sa_test_trigger_here@%s/missing",
		 sa_test_tmpdir());
	ck_assert_int_eq(run_agent(nobin, "nobin"), 1);
	s = slurp_tag("nobin", "err");
	ck_assert_msg(strstr(s, "/missing") &&
		      strstr(s, "sa_test_trigger_here"), "got: %s", s);
	free(s);
	ck_assert_int_eq(run_agent(nosnap, "nosnap"), 2);
	s = slurp_tag("nosnap", "err");
	ck_assert_ptr_nonnull(strstr(s, "--trigger needs --snapshot"));
	free(s);
	ck_assert_int_eq(run_agent(zero, "zero"), 2);
	s = slurp_tag("zero", "err");
	ck_assert_ptr_nonnull(strstr(s, "bad --trigger-count '0'"));
	free(s);
	snprintf(bad, sizeof(bad), "%s.000", out);
	ck_assert(!exists(bad));
	stop_target(&t);
}
END_TEST

int main(int argc, char **argv)
{
	const char *b = getenv("SA_BUILD_DIR");
	Suite *s;
	TCase *tc;

	snprintf(agent, sizeof(agent), "%s/src/tool/sensor-agent",
		 b ? b : ".");
	if (argc < 2 || access(agent, X_OK) || access(argv[1], X_OK)) {
		fprintf(stderr, "SKIP: %s or the trigger target not built\n",
			agent);
		return SA_TEST_SKIP;
	}
	target = argv[1];
	sa_test_require_ptrace();
	s = suite_create("capture-trigger");
	tc = tcase_create("trigger");
	tcase_set_timeout(tc, 100);
	tcase_add_test(tc, tc_once);
	tcase_add_test(tc, tc_count2);
	tcase_add_test(tc, tc_callback);
	tcase_add_test(tc, tc_errors);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
