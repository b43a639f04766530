// SPDX-License-Identifier: BSD-2-Clause
/*
 * Check suite 'capture' (CLI): `sensor-agent capture` and `sensor-agent
 * trigger` as a user runs them, on this machine: auto falling back to the
 * emulated backend and saying so, --backend intel_pt refused with the
 * reason, and --snapshot dumping on `trigger`, on SIGUSR2 and reporting
 * the target's crash.  Skips (77) when the sensor-agent binary is not
 * built.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"


static char agent[PATH_MAX];

static pid_t start_target(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		volatile unsigned long n = 0;

		/* Die of the crash signal itself, not of the sanitizer's
		 * report (ASan/UBSan builds catch SIGSEGV).
		 */
		signal(SIGSEGV, SIG_DFL);
		for (;;) {
			n++;
			if (!(n & 0xfffff))
				usleep(1000);
		}
	}
	return pid;
}

/* Runs the agent with @args; stdout and stderr to files under tmpdir. */
static pid_t spawn_agent(char *const args[], const char *tag)
{
	char out[PATH_MAX + 32], err[PATH_MAX + 32];
	pid_t pid;

	snprintf(out, sizeof(out), "%s/%s.out", sa_test_tmpdir(), tag);
	snprintf(err, sizeof(err), "%s/%s.err", sa_test_tmpdir(), tag);
	pid = sa_test_spawn(args, out, err);
	ck_assert_int_gt(pid, 0);
	return pid;
}

static const char *slurp(const char *tag, const char *ext)
{
	static char buf[65536];
	char path[PATH_MAX + 32];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", sa_test_tmpdir(), tag, ext);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Waits (bounded) until the agent's stdout holds @what. */
static bool wait_for(const char *tag, const char *what)
{
	int i;

	for (i = 0; i < 600; i++) {
		if (strstr(slurp(tag, "out"), what))
			return true;
		usleep(50000);
	}
	return false;
}

static int run_status(char *const args[], const char *tag)
{
	pid_t pid = spawn_agent(args, tag);
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool has_hw(void)
{
	struct stat st;

	return !stat("/sys/bus/event_source/devices/intel_pt", &st) ||
	       !stat("/sys/bus/event_source/devices/cs_etm", &st);
}

START_TEST(tc_backend_intel_pt)
{
	char pid[16];
	char *args[] = { agent, "capture", "--pid", pid, "--backend",
			 "intel_pt", NULL };
	pid_t t;

	if (has_hw())
		return;
	t = start_target();
	snprintf(pid, sizeof(pid), "%d", (int)t);
	ck_assert_int_eq(run_status(args, "ipt"), 1);
	ck_assert_ptr_nonnull(strstr(slurp("ipt", "err"), "no intel_pt PMU"));
	ck_assert_ptr_nonnull(strstr(slurp("ipt", "err"),
				     "--backend emulate"));
	kill(t, SIGKILL);
	waitpid(t, NULL, 0);
}
END_TEST

START_TEST(tc_auto_window)
{
	char pid[16], out[PATH_MAX + 32];
	char *args[] = { agent, "capture", "--pid", pid, "--window-insns",
			 "2000", "--window", "2000", "-o", out, NULL };
	struct stat st;
	pid_t t;

	if (has_hw())
		return;
	t = start_target();
	snprintf(pid, sizeof(pid), "%d", (int)t);
	snprintf(out, sizeof(out), "%s/auto.data", sa_test_tmpdir());
	ck_assert_int_eq(run_status(args, "auto"), 0);
	ck_assert_ptr_nonnull(strstr(slurp("auto", "err"),
				     "falling back to the emulated backend"));
	ck_assert_ptr_nonnull(strstr(slurp("auto", "out"), "window 0: "));
	ck_assert_int_eq(stat(out, &st), 0);
	ck_assert_int_gt(st.st_size, 0);
	kill(t, SIGKILL);
	waitpid(t, NULL, 0);
}
END_TEST

static bool is_perf_data(const char *path)
{
	char magic[8] = { 0 };
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "PERFILE2", 8);
	fclose(f);
	return ok;
}

START_TEST(tc_snapshot_triggers)
{
	char pid[16], out[PATH_MAX + 32], sock[PATH_MAX + 32];
	char dump[PATH_MAX + 64];
	char *cap[] = { agent, "capture", "--pid", pid, "--snapshot",
			"--backend", "emulate", "--window-insns", "2000",
			"--window", "2000", "--cpu-budget", "1000", "-o", out,
			"--socket", sock, NULL };
	char *trig[] = { agent, "trigger", "--socket", sock, NULL };
	char *stat_[] = { agent, "trigger", "--socket", sock, "--status",
			  NULL };
	pid_t t, c;
	int st;

	t = start_target();
	snprintf(pid, sizeof(pid), "%d", (int)t);
	snprintf(out, sizeof(out), "%s/snap.data", sa_test_tmpdir());
	snprintf(sock, sizeof(sock), "%s/ctl.sock", sa_test_tmpdir());
	c = spawn_agent(cap, "snap");
	ck_assert_msg(wait_for("snap", "ready "), "capture never ready: %s",
		      slurp("snap", "err"));

	/* 1. sensor-agent trigger. */
	ck_assert_int_eq(run_status(trig, "trig"), 0);
	snprintf(dump, sizeof(dump), "%s.000", out);
	ck_assert_ptr_nonnull(strstr(slurp("trig", "out"), dump));
	ck_assert(is_perf_data(dump));
	ck_assert_int_eq(run_status(stat_, "stat"), 0);
	ck_assert_ptr_nonnull(strstr(slurp("stat", "out"), "dumps 1"));

	/* 2. SIGUSR2 to the capture. */
	kill(c, SIGUSR2);
	ck_assert(wait_for("snap", "dump 1 (SIGUSR2)"));
	snprintf(dump, sizeof(dump), "%s.001", out);
	ck_assert(is_perf_data(dump));

	/* 3. The target crashes: reported, capture ends. */
	kill(t, SIGSEGV);
	ck_assert_int_eq(waitpid(c, &st, 0), c);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_msg(strstr(slurp("snap", "err"), "killed by signal 11") !=
		      NULL, "%s", slurp("snap", "err"));
	waitpid(t, NULL, 0);
	/* The socket is gone: trigger fails clearly. */
	ck_assert_int_eq(run_status(trig, "trig2"), 1);
	ck_assert_ptr_nonnull(strstr(slurp("trig2", "err"), "ctl.sock"));
}
END_TEST

START_TEST(tc_usage)
{
	char *a1[] = { agent, "capture", NULL };
	char *a2[] = { agent, "capture", "--pid", "12", "--backend", "pt",
		       NULL };
	char *a3[] = { agent, "capture", "--help", NULL };

	ck_assert_int_eq(run_status(a1, "u1"), 2);
	ck_assert_ptr_nonnull(strstr(slurp("u1", "err"), "--pid"));
	ck_assert_int_eq(run_status(a2, "u2"), 2);
	ck_assert_ptr_nonnull(strstr(slurp("u2", "err"), "'pt'"));
	ck_assert_int_eq(run_status(a3, "u3"), 0);
	ck_assert_ptr_nonnull(strstr(slurp("u3", "out"), "--snapshot"));
}
END_TEST

int main(void)
{
	const char *b = getenv("SA_BUILD_DIR");
	Suite *s;
	TCase *tc;

	snprintf(agent, sizeof(agent), "%s/src/tool/sensor-agent",
		 b ? b : ".");
	if (access(agent, X_OK)) {
		fprintf(stderr, "SKIP: %s not built\n", agent);
		return SA_TEST_SKIP;
	}
	s = suite_create("capture-cli");
	tc = tcase_create("cli");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, tc_usage);
	tcase_add_test(tc, tc_backend_intel_pt);
	tcase_add_test(tc, tc_auto_window);
	tcase_add_test(tc, tc_snapshot_triggers);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
