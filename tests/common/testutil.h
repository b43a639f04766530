/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shared helpers for the Check suites.  Header-only so that every suite
 * stays one executable.
 */
#ifndef SA_TESTUTIL_H
#define SA_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit code that makes meson report a test as skipped. */
#define SA_TEST_SKIP 77

/* Returns $SA_SHARED_DIR/@sub when it exists, else NULL (static buffer). */
static inline const char *sa_test_shared(const char *sub)
{
	static char path[4096];
	const char *dir = getenv("SA_SHARED_DIR");
	struct stat st;

	if (!dir)
		dir = "../shared";
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (stat(path, &st) != 0)
		return NULL;
	return path;
}

/* The host's CPU vendor as /proc/cpuinfo names it ("GenuineIntel",
 * "AuthenticAMD"), "unknown" when it does not say (static buffer).  For
 * tests whose peer behaves differently per vendor.
 */
static inline const char *sa_test_cpu_vendor(void)
{
	static char vendor[64];
	char line[256];
	FILE *f;

	snprintf(vendor, sizeof(vendor), "unknown");
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return vendor;
	while (fgets(line, sizeof(line), f)) {
		const char *v;

		if (strncmp(line, "vendor_id", 9) || !(v = strchr(line, ':')))
			continue;
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		snprintf(vendor, sizeof(vendor), "%.*s",
			 (int)strcspn(v, "\n"), v);
		break;
	}
	fclose(f);
	return vendor;
}

/* Exits with 77 and says why when this process may not ptrace a child
 * of its own (Yama ptrace_scope 2 without CAP_SYS_PTRACE, scope 3, a
 * seccomp or container policy): the emulated backend needs it.
 */
static inline void sa_test_require_ptrace(void)
{
	char scope[16] = "absent";
	pid_t pid = fork();
	FILE *f;
	int err = 0;

	if (pid < 0)
		return;	/* let the suite report it */
	if (!pid) {
		for (;;)
			pause();
	}
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0)
		err = errno;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (!err)
		return;
	f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
	if (f) {
		if (!fgets(scope, sizeof(scope), f))
			snprintf(scope, sizeof(scope), "unreadable");
		scope[strcspn(scope, "\n")] = '\0';
		fclose(f);
	}
	fprintf(stderr, "SKIP: this process may not ptrace its own child "
		"(%s; Yama ptrace_scope %s): the emulated backend needs "
		"ptrace\n", strerror(err), scope);
	exit(SA_TEST_SKIP);
}

/* Exits with 77 and says why when @sub is not under ../shared. */
static inline void sa_test_require_shared(const char *sub)
{
	if (!sa_test_shared(sub)) {
		fprintf(stderr, "SKIP: %s/%s not found: real traces are read from "
			"../shared beside the checkout\n",
			getenv("SA_SHARED_DIR") ? getenv("SA_SHARED_DIR") :
						  "../shared", sub);
		exit(SA_TEST_SKIP);
	}
}

static char sa_test_tmp_path[4096];
static pid_t sa_test_tmp_owner;

static int sa_test_rm_one(const char *path, const struct stat *st, int flag,
			  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes the temp directory when the process that made it exits (Check
 * runs each test in a forked child: only the creator cleans up).
 * SA_TEST_KEEP=1 keeps it for debugging.
 */
static void sa_test_tmp_cleanup(void)
{
	const char *keep = getenv("SA_TEST_KEEP");

	if (!sa_test_tmp_path[0] || getpid() != sa_test_tmp_owner ||
	    (keep && *keep == '1'))
		return;
	nftw(sa_test_tmp_path, sa_test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Returns a fresh directory under $TMPDIR for outputs (never the source
 * tree, which CI keeps read-only), removed when the test process exits.
 */
static inline const char *sa_test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (sa_test_tmp_path[0])
		return sa_test_tmp_path;
	snprintf(sa_test_tmp_path, sizeof(sa_test_tmp_path),
		 "%s/sa-test-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(sa_test_tmp_path)) {
		perror("mkdtemp");
		exit(1);
	}
	sa_test_tmp_owner = getpid();
	atexit(sa_test_tmp_cleanup);
	return sa_test_tmp_path;
}

/* Runs @s and returns the process exit status for meson. */
static inline int sa_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#include <fcntl.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

/* Starts @argv (NULL-terminated) with stdout and stderr sent to the
 * files @out and @err (either may be NULL: /dev/null), without waiting.
 * Returns its pid, or -1 when it could not be forked (126/127: its exit
 * status when the files or the program could not be opened).
 */
static inline pid_t sa_test_spawn(char *const argv[], const char *out,
				  const char *err)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fo = open(out ? out : "/dev/null",
			      O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fe = open(err ? err : "/dev/null",
			      O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fo < 0 || fe < 0)
			_exit(126);
		dup2(fo, 1);
		dup2(fe, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* sa_test_spawn(), then waits.  Returns the exit status, 128 + signal
 * when killed, or -1 when it could not be started.
 */
static inline int sa_test_exec(char *const argv[], const char *out,
			       const char *err)
{
	pid_t pid = sa_test_spawn(argv, out, err);
	int st;

	if (pid < 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* Waits until process @pid runs the program @path (its exec is done:
 * /proc/PID/exe names it), polling every 10 ms for at most 30 s.  A fixed
 * sleep after fork() may end before the exec on a loaded machine, and a
 * sensor attached then traces the test's own child.  Returns whether it
 * did.
 */
static inline bool sa_test_wait_exec(pid_t pid, const char *path)
{
	char proc[64], exe[4096], want[4096];
	ssize_t n;
	int i;

	if (!realpath(path, want))
		return false;
	snprintf(proc, sizeof(proc), "/proc/%d/exe", (int)pid);
	for (i = 0; i < 3000; i++) {
		n = readlink(proc, exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			if (!strcmp(exe, want))
				return true;
		}
		usleep(10000);
	}
	return false;
}

/* CPU time (user + system) that @pid has used, in ms; -1 when /proc says
 * nothing.  Start-up measured in CPU time rather than wall time holds on
 * a loaded machine, where a fixed delay may end before a program is past
 * ld.so and its constructors.
 */
static inline long sa_test_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
			 "%llu %llu", &ut, &st) != 2)
		return -1;
	return (long)((ut + st) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* Reads a whole file into a NUL-terminated heap buffer (NULL on error). */
static inline char *sa_test_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, r;

	if (!f)
		return NULL;
	do {
		if (cap - n < 65536) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap + 1);
			if (!buf) {
				fclose(f);
				return NULL;
			}
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Path of a new file in the test's temp directory. */
static inline const char *sa_test_path(const char *name)
{
	static char paths[8][4096];
	static int next;
	char *p = paths[next++ & 7];

	snprintf(p, 4096, "%s/%s", sa_test_tmpdir(), name);
	return p;
}

/* Whether @prog is on PATH. */
static inline int sa_test_have(const char *prog)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* Checks, with Python's json and datetime (peers, not our code), that
 * every line of @buf is one JSON object and that every "time",
 * "first_seen" and "last_seen" field is an RFC 3339 UTC timestamp with
 * milliseconds ("2026-12-02T18:40:00.123Z").  Returns 0, or the checker's
 * exit status (its message on stderr).
 */
static inline int sa_test_json_lines_valid(const char *buf)
{
	static const char script[] =
"import json, sys, datetime\n"
"n = 0\n"
"for i, line in enumerate(open(sys.argv[1], encoding='utf-8')):\n"
"    o = json.loads(line)\n"
"    assert isinstance(o, dict), 'line %d: not an object' % (i + 1)\n"
"    for k in ('time', 'first_seen', 'last_seen'):\n"
"        if k in o:\n"
"            t = o[k]\n"
"            assert t.endswith('Z') and len(t) == 24, (i + 1, k, t)\n"
"            d = datetime.datetime.strptime(t, '%Y-%m-%dT%H:%M:%S.%fZ')\n"
"            assert abs(d.year - datetime.datetime.utcnow().year) <= 1, t\n"
"    n += 1\n"
"assert n > 0, 'no line'\n";
	const char *path = sa_test_path("json-lines.txt");
	const char *err = sa_test_path("json-lines.err");
	char *argv[] = { "python3", "-c", (char *)script, (char *)path, NULL };
	FILE *f = fopen(path, "w");
	char *msg;
	int st;

	if (!f)
		return -1;
	fputs(buf, f);
	fclose(f);
	st = sa_test_exec(argv, NULL, err);
	if (st) {
		msg = sa_test_slurp(err, NULL);
		fprintf(stderr, "JSON lines check failed (%d): %s\n", st,
			msg ? msg : "");
		free(msg);
	}
	return st;
}

/* Runs @cmd with the shell and returns its whole stdout (malloc'd,
 * NUL-terminated).  With @must_succeed, a command that exits non-zero
 * fails the test.  The peer runners of the image, sites and perfdata
 * suites (peer_run(), pp_run()).
 */
static inline char *sa_test_cmd_output(const char *cmd, int must_succeed)
{
	FILE *p = popen(cmd, "r");
	size_t len = 0, cap = 1 << 16, n;
	char *buf = malloc(cap);
	int st;

	ck_assert_msg(p && buf, "cannot run %s", cmd);
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert(buf);
		}
	}
	buf[len] = '\0';
	st = pclose(p);
	if (must_succeed)
		ck_assert_msg(st == 0, "peer command failed: %s", cmd);
	return buf;
}

/* The string or number of the first field "@key" in the JSON line @line,
 * as text, in @buf (the test fails when it is missing or longer than
 * @size - 1).  For the tool's JSON-lines records, whose string values
 * hold no '"'.
 */
static inline void sa_test_json_field(const char *line, const char *key,
				      char *buf, size_t size)
{
	char pat[128];
	const char *p;
	size_t len;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	ck_assert_msg(p, "no %s in %s", key, line);
	p += strlen(pat);
	if (*p == '"')
		p++;
	len = strcspn(p, "\",}");
	ck_assert_msg(len < size, "%s: %.*s is too long", key, (int)len, p);
	memcpy(buf, p, len);
	buf[len] = 0;
}

/* The number of the first line of $SA_SOURCE_DIR/@file (a path in the
 * source tree; "." when unset) that holds @marker: the ground truth for
 * a line the tool reports.  The test fails when the file cannot be read
 * or holds no @marker.
 */
static inline int sa_test_source_line(const char *file, const char *marker)
{
	const char *dir = getenv("SA_SOURCE_DIR");
	char path[4096], line[1024];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", file);
	f = fopen(path, "r");
	ck_assert_msg(f, "cannot read %s", path);
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, marker)) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	ck_abort_msg("no '%s' in %s", marker, path);
	return 0;
}

#endif /* SA_TESTUTIL_H */
