// SPDX-License-Identifier: BSD-2-Clause
/*
 * The guardian (src/emu/emu_guard.c): the sensor is killed at random
 * moments -- SIGKILL, SIGTERM, SIGINT, SIGHUP -- while it traces a target
 * with the emulated backend, in the live loop, `capture --pid`, `record
 * --emulate --pid` and windowed `record`, on a multi-threaded target
 * (wl_threads), a CPU-bound one (wl_branches, mostly single-stepped) and
 * one blocked in syscalls (wl_sleep).  After each kill, once the sensor
 * and its guardian are gone, the target must be alive, not stopped
 * ('t'/'T'), untraced (TracerPid 0), with the permissions of its file
 * mappings and the bytes of its text as before the sensor came, and still
 * making progress.  Finally, a live run removes the work directories that
 * killed runs left behind.
 *
 *	test_emu_guard SENSOR_AGENT WL_THREADS WL_BRANCHES WL_SLEEP
 *
 * SA_KILL_TRIALS (default 16) sets the number of trials, SA_KILL_SEED the
 * random seed (default: the time; printed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_KILL_MS 700		/* kill moments: uniform in [0, this) */
#define SETTLE_MS 10000		/* the guardian's time to release */

static const char *sensor, *tmpdir;
static unsigned int nr_traced;	/* trials with the target traced */
static bool target_reaped;	/* reap_others() took the target's status */
static int target_ws;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static size_t read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (got + 1 < len && (n = read(fd, buf + got, len - got - 1)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return got;
}

static pid_t spawn(char *const argv[], bool quiet)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (quiet && fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("TMPDIR", tmpdir, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* The file mappings' ranges and permissions, one per line. */
static void file_maps(pid_t pid, char *out, size_t len)
{
	char path[64], buf[65536], *line, *save = NULL;
	size_t o = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	read_file(path, buf, sizeof(buf));
	out[0] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char range[64], perms[8], file[4096] = "";
		int n;

		if (sscanf(line, "%63s %7s %*s %*s %*s %4095s", range, perms,
			   file) < 3 || file[0] != '/')
			continue;
		n = snprintf(out + o, len - o, "%s %s %s\n", range, perms,
			     file);
		if (n < 0 || (size_t)n >= len - o)
			break;
		o += (size_t)n;
	}
}

/* The bytes of every executable file mapping. */
static size_t text_bytes(pid_t pid, uint8_t *out, size_t len)
{
	char path[64], buf[65536], *line, *save = NULL;
	size_t o = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	read_file(path, buf, sizeof(buf));
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long lo, hi;
		char perms[8], file[4096] = "";
		ssize_t n;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095s", &lo, &hi,
			   perms, file) < 4 || file[0] != '/' ||
		    perms[2] != 'x')
			continue;
		if (hi - lo > len - o)
			hi = lo + (len - o);
		n = pread(fd, out + o, hi - lo, (off_t)lo);
		if (n > 0)
			o += (size_t)n;
	}
	close(fd);
	return o;
}

/* State letter, TracerPid, and a progress counter (CPU ticks of the
 * process plus context switches of its main thread).
 */
static bool proc_state(pid_t pid, char *state, long *tracer,
		       unsigned long long *progress)
{
	char path[64], buf[8192], *p;
	unsigned long long ut, stt, v = 0, nv = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!read_file(path, buf, sizeof(buf)))
		return false;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
			 "%llu %llu", state, &ut, &stt) != 3)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!read_file(path, buf, sizeof(buf)))
		return false;
	p = strstr(buf, "TracerPid:");
	if (!p)
		return false;
	*tracer = strtol(p + 10, NULL, 10);
	p = strstr(buf, "\nvoluntary_ctxt_switches:");
	if (p)
		v = strtoull(p + 25, NULL, 10);
	p = strstr(buf, "nonvoluntary_ctxt_switches:");
	if (p)
		nv = strtoull(p + 27, NULL, 10);
	*progress = ut + stt + v + nv;
	return true;
}

/* Whether this process has children other than @target. */
static bool other_children(pid_t target)
{
	char path[64], buf[4096], *p, *end;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children",
		 (int)getpid());
	read_file(path, buf, sizeof(buf));
	for (p = buf; *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid != target)
			return true;
	}
	return false;
}

/* Reaps everything but @target (the sensor, orphaned guardians: we are
 * their subreaper) until only @target is left.  Returns false on timeout.
 */
static bool reap_others(pid_t target, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	for (;;) {
		pid_t r;
		int ws;

		while ((r = waitpid(-1, &ws, WNOHANG)) > 0)
			if (r == target) {
				target_ws = ws;
				target_reaped = true;
				return false;
			}
		if (!other_children(target))
			return true;
		if (now_ms() >= end)
			return false;
		sleep_ms(5);
	}
}

/* Waits until @pid's file mappings include libc and stay the same over
 * three looks 20 ms apart; leaves them in @out.
 */
static bool wait_maps_settled(pid_t pid, char *out, size_t len)
{
	static char prev[65536];
	uint64_t end = now_ms() + SETTLE_MS;
	int same = 0;

	prev[0] = '\0';
	do {
		file_maps(pid, out, len);
		if (strstr(out, "/libc.so") && !strcmp(out, prev))
			same++;
		else
			same = 0;
		if (same >= 3)
			return true;
		snprintf(prev, sizeof(prev), "%s", out);
		sleep_ms(20);
	} while (now_ms() < end);
	return false;
}

/* Waits until @pid runs @exe (a loaded machine may take long to exec). */
static bool wait_exec(pid_t pid, const char *exe)
{
	char path[64], link[4096], want[4096];
	uint64_t end = now_ms() + SETTLE_MS;
	ssize_t n;

	if (!realpath(exe, want))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	do {
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			if (!strcmp(link, want))
				return true;
		}
		sleep_ms(1);
	} while (now_ms() < end);
	return false;
}

/* Waits until @pid catches @sig (SigCgt in /proc/PID/status). */
static bool wait_caught(pid_t pid, int sig, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	char path[64], buf[8192], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	do {
		if (read_file(path, buf, sizeof(buf)) &&
		    (p = strstr(buf, "SigCgt:")) &&
		    (strtoull(p + 7, NULL, 16) >> (sig - 1)) & 1)
			return true;
		sleep_ms(1);
	} while (now_ms() < end);
	return false;
}

enum { MODE_LIVE, MODE_CAPTURE, MODE_RECORD, MODE_RECORD_WIN, NR_MODES };
static const char *const mode_names[] = { "live", "capture", "record",
					  "record-window" };
static const int sigs[] = { SIGKILL, SIGTERM, SIGINT, SIGHUP };

static int trial(unsigned int nr, int mode, int sig, char *const wl[],
		 unsigned int kill_ms)
{
	static char maps0[65536], maps1[65536];
	static uint8_t text0[1 << 22], text1[1 << 22];
	char pidbuf[16], out[4200];
	char *argv[24];
	size_t n0, n1;
	pid_t target, sens;
	unsigned long long p0, p1;
	long tracer;
	char state;
	int ws, fails = 0, i = 0;
	bool exited_self = false, traced = false;

	target = spawn(wl, true);
	if (!wait_exec(target, wl[0])) {
		fprintf(stderr, "  %s did not start\n", wl[0]);
		fails++;
	}
	/* Threads started and libraries mapped: on a loaded machine ld.so
	 * may still be at work after any fixed delay, and a mapping it adds
	 * later would count as one the sensor changed.
	 */
	if (!wait_maps_settled(target, maps0, sizeof(maps0))) {
		fprintf(stderr, "  %s: mappings never settled\n", wl[0]);
		fails++;
	}
	n0 = text_bytes(target, text0, sizeof(text0));

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)target);
	snprintf(out, sizeof(out), "%s/w%u.data", tmpdir, nr);
	argv[i++] = (char *)sensor;
	switch (mode) {
	case MODE_LIVE:
		argv[i++] = "--pid";
		argv[i++] = pidbuf;
		argv[i++] = "--backend";
		argv[i++] = "emulate";
		argv[i++] = "--window-ms";
		argv[i++] = "40";
		argv[i++] = "--period-ms";
		argv[i++] = "60";
		argv[i++] = "--cpu-budget";
		argv[i++] = "1000";
		break;
	case MODE_CAPTURE:
		argv[i++] = "capture";
		argv[i++] = "--pid";
		argv[i++] = pidbuf;
		argv[i++] = "--backend";
		argv[i++] = "emulate";
		argv[i++] = "--window";
		argv[i++] = "40";
		argv[i++] = "--period";
		argv[i++] = "60";
		argv[i++] = "--count";
		argv[i++] = "1000";
		argv[i++] = "--cpu-budget";
		argv[i++] = "1000";
		argv[i++] = "-o";
		argv[i++] = out;
		break;
	case MODE_RECORD:
	case MODE_RECORD_WIN:
		argv[i++] = "record";
		argv[i++] = "--emulate";
		argv[i++] = "--pid";
		argv[i++] = pidbuf;
		argv[i++] = "-o";
		argv[i++] = out;
		if (mode == MODE_RECORD_WIN) {
			argv[i++] = "--window";
			argv[i++] = "20ms";
			argv[i++] = "--period";
			argv[i++] = "50";
		}
		break;
	}
	argv[i] = NULL;
	sens = spawn(argv, true);
	/* A signal that the sensor handles is sent once it handles it:
	 * before that, the default action ends a sensor that has not yet
	 * touched the target.  SIGKILL's moment counts from the start.
	 */
	if (sig != SIGKILL && !wait_caught(sens, sig, SETTLE_MS)) {
		fprintf(stderr, "  sensor never handles %s\n", strsignal(sig));
		fails++;
	}
	sleep_ms(kill_ms);
	/* Not a vacuous trial: the sensor runs, and (most of the time) has
	 * the target under ptrace, when the signal comes.
	 */
	if (waitpid(sens, &ws, WNOHANG) != 0) {
		fprintf(stderr, "  sensor ended before the signal (%s %d)\n",
			WIFSIGNALED(ws) ? "signal" : "exit status",
			WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
		fails++;
	}
	if (proc_state(target, &state, &tracer, &p0) && tracer) {
		traced = true;
		nr_traced++;
	}
	kill(sens, sig);
	if (sig != SIGKILL) {
		/* It handles the signal: it must end by itself, cleanly. */
		uint64_t end = now_ms() + SETTLE_MS;

		while (waitpid(sens, &ws, WNOHANG) == 0 && now_ms() < end)
			sleep_ms(5);
		if (now_ms() >= end) {
			fprintf(stderr, "  sensor did not end after %s\n",
				strsignal(sig));
			kill(sens, SIGKILL);
			fails++;
		} else if (WIFSIGNALED(ws)) {
			fprintf(stderr, "  sensor killed by its %s\n",
				strsignal(WTERMSIG(ws)));
			fails++;
		} else {
			exited_self = true;
		}
	}
	if (!reap_others(target, SETTLE_MS)) {
		fprintf(stderr, "  sensor or guardian still there after %d "
			"ms (or the target was reaped)\n", SETTLE_MS);
		fails++;
	}
	if (target_reaped || waitpid(target, &ws, WNOHANG) != 0) {
		if (target_reaped)
			ws = target_ws;
		target_reaped = false;
		fprintf(stderr, "  target died: %s %d\n",
			WIFSIGNALED(ws) ? "signal" : "exit status",
			WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
		printf("trial %u: %s, %s, %s: FAIL\n", nr, mode_names[mode],
		       strsignal(sig), strrchr(wl[0], '/') + 1);
		return 1;
	}
	if (!proc_state(target, &state, &tracer, &p0)) {
		fprintf(stderr, "  cannot read /proc/%d\n", (int)target);
		fails++;
		goto out;
	}
	if (state == 't' || state == 'T') {
		fprintf(stderr, "  target stopped (state %c)\n", state);
		fails++;
	}
	if (tracer) {
		fprintf(stderr, "  target still traced by %ld\n", tracer);
		fails++;
	}
	file_maps(target, maps1, sizeof(maps1));
	if (strcmp(maps0, maps1)) {
		fprintf(stderr, "  file mappings changed:\n%s---\n%s", maps0,
			maps1);
		fails++;
	}
	n1 = text_bytes(target, text1, sizeof(text1));
	if (!n0 || n0 != n1 || memcmp(text0, text1, n0)) {
		fprintf(stderr, "  text bytes changed (%zu, %zu bytes)\n", n0,
			n1);
		fails++;
	}
	/* Progress: CPU ticks or context switches grow.  A target starved
	 * by a loaded machine may need more than one look; a stopped one
	 * never gets there.
	 */
	{
		uint64_t end = now_ms() + SETTLE_MS;
		bool ok;

		do {
			sleep_ms(100);
			ok = proc_state(target, &state, &tracer, &p1) &&
			     p1 > p0;
		} while (!ok && now_ms() < end);
		if (!ok) {
			fprintf(stderr, "  target makes no progress in %d ms "
				"(state %c)\n", SETTLE_MS, state);
			fails++;
		}
	}
	if (waitpid(target, &ws, WNOHANG) != 0) {
		fprintf(stderr, "  target died: %s %d\n",
			WIFSIGNALED(ws) ? "signal" : "exit status",
			WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
		fails++;
		goto out;
	}
out:
	printf("trial %u: %s, %s after %u ms, %s%s: %s%s\n", nr,
	       mode_names[mode], strsignal(sig), kill_ms,
	       strrchr(wl[0], '/') + 1, traced ? " (traced)" : "",
	       fails ? "FAIL" : "ok", exited_self ? " (sensor exited)" : "");
	fflush(stdout);
	kill(target, SIGKILL);
	waitpid(target, &ws, 0);
	return fails ? 1 : 0;
}

/* Waits (30 s at most) until @dir holds sa-live-@pid-*, the work
 * directory the live loop of process @pid makes once it runs.
 */
static void wait_own_workdir(const char *dir, pid_t pid)
{
	char prefix[64];
	struct dirent *de;
	bool found = false;
	DIR *d;
	int i;

	snprintf(prefix, sizeof(prefix), "sa-live-%d-", (int)pid);
	for (i = 0; i < 3000 && !found; i++) {
		d = opendir(dir);
		while (d && (de = readdir(d)))
			found |= !strncmp(de->d_name, prefix, strlen(prefix));
		if (d)
			closedir(d);
		if (!found)
			sleep_ms(10);
	}
}

/* A run killed with SIGKILL leaves TMPDIR/sa-live-PID-*; the next live
 * run removes it (and its own at exit).
 */
static int check_stale_dirs(char *const wl[])
{
	char dir[4200], file[4300], pidbuf[16];
	char *argv[] = { (char *)sensor, "--pid", pidbuf, "--backend",
			 "emulate", "--window-ms", "20", "--period-ms", "50",
			 "--cpu-budget", "1000", NULL };
	struct dirent *de;
	pid_t dead, target, sens;
	int ws, left = 0, fd;
	DIR *d;

	dead = fork();
	if (!dead)
		_exit(0);
	waitpid(dead, &ws, 0);
	snprintf(dir, sizeof(dir), "%s/sa-live-%d-AbCdEf", tmpdir, (int)dead);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return 1;
	snprintf(file, sizeof(file), "%s/window-3.data", dir);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	if (fd >= 0)
		close(fd);

	target = spawn(wl, true);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)target);
	sens = spawn(argv, true);
	/* Stopped once it has cleaned up and handles SIGTERM (a fixed delay
	 * is too short on a loaded machine); if it never cleans up, the
	 * stale directory is still there below.
	 */
	{
		uint64_t end = now_ms() + SETTLE_MS;
		struct stat st;

		while (!stat(dir, &st) && now_ms() < end)
			sleep_ms(10);
	}
	wait_caught(sens, SIGTERM, SETTLE_MS);
	sleep_ms(100);
	/* Stopped once its own work directory exists (it sweeps the stale
	 * ones first), not after a fixed time: a slow start (ASan on a
	 * loaded machine) took the SIGTERM before its handler was set.
	 */
	wait_own_workdir(tmpdir, sens);
	kill(sens, SIGTERM);
	waitpid(sens, &ws, 0);
	reap_others(target, SETTLE_MS);
	kill(target, SIGKILL);
	waitpid(target, &ws, 0);

	d = opendir(tmpdir);
	while (d && (de = readdir(d))) {
		if (!strncmp(de->d_name, "sa-live-", 8)) {
			fprintf(stderr, "  left behind: %s/%s\n", tmpdir,
				de->d_name);
			left++;
		}
	}
	if (d)
		closedir(d);
	printf("stale sa-live-* directories after a live run: %d%s\n", left,
	       left ? " FAIL" : " (ok)");
	return left ? 1 : 0;
}

static void rm_tree(const char *dir)
{
	struct dirent *de;
	char p[4300];
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p))
			rm_tree(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	char *wl_threads[] = { argv[2], "100000", NULL };
	char *wl_branches[] = { argc > 3 ? argv[3] : NULL, "4000000000", NULL };
	char *wl_sleep[] = { argc > 4 ? argv[4] : NULL, "100000", NULL };
	char *const *wls[] = { wl_threads, wl_branches, wl_sleep };
	char tmpl[] = "/tmp/sa-guard-test-XXXXXX";
	const char *e;
	unsigned int trials = 16, seed, i, failed = 0;
	uint64_t t0 = now_ms();

	if (argc != 5) {
		fprintf(stderr, "usage: %s SENSOR_AGENT WL_THREADS "
			"WL_BRANCHES WL_SLEEP\n", argv[0]);
		return 2;
	}
	sensor = argv[1];
	e = getenv("SA_KILL_TRIALS");
	if (e && *e)
		trials = (unsigned int)strtoul(e, NULL, 10);
	e = getenv("SA_KILL_SEED");
	seed = e && *e ? (unsigned int)strtoul(e, NULL, 10) :
			 (unsigned int)time(NULL);
	srand(seed);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	tmpdir = mkdtemp(tmpl);
	if (!tmpdir) {
		perror("mkdtemp");
		return 1;
	}
	printf("%u trials, seed %u (SA_KILL_TRIALS, SA_KILL_SEED)\n", trials,
	       seed);
	for (i = 0; i < trials; i++) {
		/* Every mode meets every signal within 16 trials. */
		int mode = (int)(i % NR_MODES);
		int sig = sigs[(i / NR_MODES + i) % 4];

		failed += (unsigned int)trial(i, mode, sig, wls[i % 3],
					      (unsigned int)(rand() %
							     MAX_KILL_MS));
	}
	failed += (unsigned int)check_stale_dirs(wl_threads);
	printf("target under ptrace at the signal: %u of %u trials\n",
	       nr_traced, trials);
	if (trials && nr_traced < (trials + 3) / 4) {
		printf("too few trials hit a traced target: FAIL\n");
		failed++;
	}
	rm_tree(tmpdir);
	printf("%u trials, %u failed, %.1f s\n", trials, failed,
	       (double)(now_ms() - t0) / 1000.0);
	return failed ? 1 : 0;
}
