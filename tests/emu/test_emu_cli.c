// SPDX-License-Identifier: BSD-2-Clause
/*
 * `sensor-agent record --emulate` (src/tool/tool_record.c), driven through
 * cmd_record() in a child process: options, errors, a whole run and
 * windows that perf decodes, and SIGINT leaving an attached target alive.
 * The tool's shared helpers come from src/tool/msg.c and opts.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "tool.h"
#include "emu_check.h"

/* Runs cmd_record(@argv) in a child with stdout and stderr in files;
 * returns its exit status (or -1), stderr's text in @err.
 */
static int run_record(char **argv, char *err, size_t errsz, pid_t *child,
		      int sig_after_ms)
{
	char outp[4200], errp[4200];
	int status, fd, argc = 0;
	pid_t pid;

	while (argv[argc])
		argc++;
	snprintf(outp, sizeof(outp), "%s/cli.out", sa_test_tmpdir());
	snprintf(errp, sizeof(errp), "%s/cli.err", sa_test_tmpdir());
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (!freopen(outp, "w", stdout) || !freopen(errp, "w", stderr))
			_exit(126);
		status = cmd_record(argc, argv);
		fflush(NULL);
		_exit(status);
	}
	if (child)
		*child = pid;
	if (sig_after_ms) {
		nanosleep(&(struct timespec){ 0, sig_after_ms * 1000000L },
			  NULL);
		kill(pid, SIGINT);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	fd = open(errp, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, err, errsz - 1);

		err[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Instructions perf script decodes from @data, -1 on a perf error. */
static long perf_count(const char *data)
{
	char cmd[8400];
	const char *line;

	snprintf(cmd, sizeof(cmd), "HOME=%s perf script -i '%s' "
		 "--itrace=i0nse -F ip 2>/dev/null | wc -l; exit 0",
		 sa_test_tmpdir(), data);
	line = emu_sh(cmd);
	return strtol(line, NULL, 10);
}

START_TEST(test_cli_usage)
{
	char err[4096];
	char *help[] = { "record", "--help", NULL };
	char *noemu[] = { "record", "--", "/bin/true", NULL };
	char *badwin[] = { "record", "--emulate", "--window", "xyz", "--",
			   "/bin/true", NULL };
	char *both[] = { "record", "--emulate", NULL };
	char *nocmd[] = { "record", "--emulate", "--",
			  "/nonexistent/sa-no-such", NULL };
	char *badpid[] = { "record", "--emulate", "--pid", "0", NULL };
	char *badmtc[] = { "record", "--emulate", "--mtc", "--mtc-period",
			   "16", "--", "/bin/true", NULL };
	char *badcyc[] = { "record", "--emulate", "--cyc", "--cyc-thresh",
			   "x", "--", "/bin/true", NULL };

	ck_assert_int_eq(run_record(help, err, sizeof(err), NULL, 0), 0);
	ck_assert_int_eq(run_record(noemu, err, sizeof(err), NULL, 0), 2);
	ck_assert_ptr_nonnull(strstr(err, "--emulate"));
	ck_assert_int_eq(run_record(badwin, err, sizeof(err), NULL, 0), 2);
	ck_assert_ptr_nonnull(strstr(err, "--window"));
	ck_assert_int_eq(run_record(both, err, sizeof(err), NULL, 0), 2);
	ck_assert_int_eq(run_record(nocmd, err, sizeof(err), NULL, 0), 1);
	ck_assert_ptr_nonnull(strstr(err, "sa-no-such"));
	ck_assert_int_eq(run_record(badpid, err, sizeof(err), NULL, 0), 2);
	ck_assert_int_eq(run_record(badmtc, err, sizeof(err), NULL, 0), 2);
	ck_assert_ptr_nonnull(strstr(err, "--mtc-period"));
	ck_assert_int_eq(run_record(badcyc, err, sizeof(err), NULL, 0), 2);
	ck_assert_ptr_nonnull(strstr(err, "--cyc-thresh"));
}
END_TEST

START_TEST(test_cli_whole_run)
{
	char err[4096], data[4200];
	char *argv[] = { "record", "--emulate", "-o", data, "--",
			 (char *)emu_workload("wl_branches-pie"), NULL };
	unsigned long insns = 0;
	const char *p;

	snprintf(data, sizeof(data), "%s/cli-whole.data", sa_test_tmpdir());
	ck_assert_int_eq(run_record(argv, err, sizeof(err), NULL, 0), 0);
	p = strstr(err, "window 0: ");
	ck_assert_ptr_nonnull(p);
	p = strchr(p + 10, ':');
	ck_assert_ptr_nonnull(p);
	insns = strtoul(p + 1, NULL, 10);
	ck_assert_uint_gt(insns, 500);
	ck_assert_int_eq(perf_count(data), (long)insns);
}
END_TEST

/* Timing packets through the CLI: perf decodes every instruction. */
START_TEST(test_cli_timing)
{
	char err[4096], data[4200];
	char *argv[] = { "record", "--emulate", "--mtc", "--mtc-period", "0",
			 "--cyc", "--cyc-thresh", "3", "-o", data, "--",
			 (char *)emu_workload("wl_qsort-pie"), NULL };
	unsigned long insns = 0;
	const char *p;

	snprintf(data, sizeof(data), "%s/cli-timing.data", sa_test_tmpdir());
	ck_assert_int_eq(run_record(argv, err, sizeof(err), NULL, 0), 0);
	p = strstr(err, "window 0: ");
	ck_assert_ptr_nonnull(p);
	p = strchr(p + 10, ':');
	ck_assert_ptr_nonnull(p);
	insns = strtoul(p + 1, NULL, 10);
	ck_assert_uint_gt(insns, 100);
	ck_assert_int_eq(perf_count(data), (long)insns);
}
END_TEST

START_TEST(test_cli_windows)
{
	char err[4096], data[4200], w[4300];
	char *argv[] = { "record", "--emulate", "-o", data, "--window",
			 "200", "--windows", "2", "--period", "20", "--",
			 (char *)emu_workload("wl_branches-pie"), "30000000",
			 NULL };
	int i;

	snprintf(data, sizeof(data), "%s/cli-win.data", sa_test_tmpdir());
	ck_assert_int_eq(run_record(argv, err, sizeof(err), NULL, 0), 0);
	for (i = 0; i < 2; i++) {
		snprintf(w, sizeof(w), "%s.%03d", data, i);
		ck_assert_int_eq(perf_count(w), 200);
	}
	snprintf(w, sizeof(w), "%s.%03d", data, 2);
	ck_assert_int_ne(access(w, F_OK), 0);
}
END_TEST

START_TEST(test_cli_sigint)
{
	char err[4096], pidbuf[32], data[4200], path[64], line[256];
	char *targv[] = { (char *)emu_workload("wl_branches-pie"),
			  "4000000000", NULL };
	char *argv[] = { "record", "--emulate", "--pid", pidbuf, "-o", data,
			 NULL };
	int status, tracer = -1;
	char state = '?';
	pid_t target;
	FILE *f;

	target = fork();
	ck_assert_int_ge(target, 0);
	if (target == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execv(targv[0], targv);
		_exit(127);
	}
	ck_assert(sa_test_wait_exec(target, targv[0]));
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)target);
	snprintf(data, sizeof(data), "%s/cli-int.data", sa_test_tmpdir());
	ck_assert_int_eq(run_record(argv, err, sizeof(err), NULL, 300), 0);
	ck_assert_int_gt(perf_count(data), 100);
	nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)target);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "State: %c", &state);
		sscanf(line, "TracerPid: %d", &tracer);
	}
	fclose(f);
	ck_assert_msg(state == 'R' || state == 'S', "target state %c", state);
	ck_assert_int_eq(tracer, 0);
	kill(target, SIGKILL);
	waitpid(target, &status, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("emu-cli");
	TCase *tc = tcase_create("emu-cli");

	sa_test_require_ptrace();
	if (access("/usr/bin/perf", X_OK) != 0) {
		fprintf(stderr, "SKIP: perf (Debian linux-perf) is not "
			"installed: it decodes what record writes\n");
		return SA_TEST_SKIP;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_cli_usage);
	tcase_add_test(tc, test_cli_whole_run);
	tcase_add_test(tc, test_cli_windows);
	tcase_add_test(tc, test_cli_timing);
	tcase_add_test(tc, test_cli_sigint);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
