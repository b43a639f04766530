// SPDX-License-Identifier: BSD-2-Clause
/*
 * The live loop's fixed cost per window (scripts/bench-window.sh): the
 * CPU time of sa_decode_file() on small windows of a large binary, each
 * window analysing its binaries afresh ("cold", as before the analysis
 * cache) and through one sa_image_cache ("warm": the first window builds
 * the analysis, the others reuse it).  Every window is a different
 * recording of the same process, decoded once per mode.
 *
 *   bench_window [-n WINDOWS] [-i INSNS] [-f FREE_MS] [-d DIR]
 *                PROGRAM [ARGS...]
 *
 * -f: how long the target runs untraced between windows (default 20 ms).
 *
 * Records the windows with the emulated sensor (ptrace), then prints one
 * line per mode, and the first window of a "restarted" sensor: a new
 * cache whose on-disk line cache (sa_image_cache_set_dir) the warm one
 * wrote.  Not a test.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sensor/emu.h"
#include "sensor/hist.h"
#include "sensor/image.h"
#include "sensor/session.h"

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t decode_ns(const char *path, struct sa_image_cache *c,
			  uint64_t *insns)
{
	struct sa_decode_opts o = { .cache = c };
	struct sa_errinfo ei;
	struct sa_hist *h = sa_hist__new();
	uint64_t t0, t;

	if (!h)
		exit(1);
	t0 = cpu_ns();
	if (sa_decode_file(path, &o, h, &ei) < 0) {
		fprintf(stderr, "bench_window: %s\n", ei.msg);
		exit(1);
	}
	t = cpu_ns() - t0;
	*insns += sa_hist_decode(h)->instructions;
	sa_hist__free(h);
	return t;
}

int main(int argc, char **argv)
{
	struct sa_emu_opts eo = { .max_insns = 500 };
	struct sa_image_cache_stats st;
	struct sa_image_cache *c;
	const char *dir = "/tmp";
	uint64_t cold = 0, first, warm = 0, insns = 0, t, restart, seen;
	struct sa_image_cache_stats rst, sst;
	char path[4200], lines[4200], cmd[4300];
	struct sa_errinfo ei;
	struct sa_emu *emu;
	unsigned n = 10, i, free_ms = 20;
	int opt;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+n:i:d:f:")) != -1) {
		switch (opt) {
		case 'n':
			n = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'i':
			eo.max_insns = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'f':
			free_ms = (unsigned)strtoul(optarg, NULL, 0);
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc || n < 2) {
		fprintf(stderr, "usage: bench_window [-n WINDOWS>=2] "
			"[-i INSNS] [-f FREE_MS] [-d DIR] PROGRAM [ARGS...]\n");
		return 2;
	}
	emu = sa_emu__spawn(argv + optind, &ei);
	if (!emu) {
		fprintf(stderr, "bench_window: %s\n", ei.msg);
		return 1;
	}
	pid = sa_emu_pid(emu);
	/* two sets of windows: each mode decodes windows it never saw; one
	 * more for the process's one-time set-up (libraries' lazy tables)
	 */
	for (i = 0; i <= 2 * n + 1; i++) {
		snprintf(path, sizeof(path), "%s/bw-%u.data", dir, i);
		if (sa_emu_window(emu, &eo, path, NULL, &ei)) {
			fprintf(stderr, "bench_window: %s\n", ei.msg);
			return 1;
		}
		if (free_ms && sa_emu_run_free(emu, free_ms, &ei)) {
			fprintf(stderr, "bench_window: the target ended\n");
			return 1;
		}
	}
	sa_emu__free(emu);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	snprintf(path, sizeof(path), "%s/bw-%u.data", dir, 2 * n);
	t = decode_ns(path, NULL, &insns);
	printf("first decode of the process (one-time set-up, not counted) "
	       "%.3f ms CPU\n", t / 1e6);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/bw-%u.data", dir, i);
		t = decode_ns(path, NULL, &insns);
		if (getenv("BW_VERBOSE"))
			fprintf(stderr, "cold %u: %.3f ms\n", i, t / 1e6);
		cold += t;
	}
	c = sa_image_cache__new();
	snprintf(lines, sizeof(lines), "%s/bw-lines", dir);
	if (!c || (mkdir(lines, 0700) && errno != EEXIST) ||
	    sa_image_cache_set_dir(c, lines))
		return 1;
	snprintf(path, sizeof(path), "%s/bw-%u.data", dir, n);
	first = decode_ns(path, c, &insns);
	for (i = n + 1; i < 2 * n; i++) {
		snprintf(path, sizeof(path), "%s/bw-%u.data", dir, i);
		warm += decode_ns(path, c, &insns);
	}
	sa_image_cache_stats(c, &st);
	sa_image_cache__free(c);	/* writes the line caches */
	c = sa_image_cache__new();
	if (!c || sa_image_cache_set_dir(c, lines))
		return 1;
	snprintf(path, sizeof(path), "%s/bw-%u.data", dir, 2 * n + 1);
	restart = decode_ns(path, c, &insns);
	sa_image_cache_stats(c, &rst);
	sa_image_cache__free(c);
	/* the code the warm cache saw first, in a restarted sensor: its
	 * lines all on disk (a latency, not a throughput: the window was
	 * decoded before, by the other cache)
	 */
	c = sa_image_cache__new();
	if (!c || sa_image_cache_set_dir(c, lines))
		return 1;
	snprintf(path, sizeof(path), "%s/bw-%u.data", dir, n);
	seen = decode_ns(path, c, &t);
	sa_image_cache_stats(c, &sst);
	sa_image_cache__free(c);
	for (i = 0; i <= 2 * n + 1; i++) {
		snprintf(path, sizeof(path), "%s/bw-%u.data", dir, i);
		unlink(path);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lines);
	if (system(cmd))
		fprintf(stderr, "bench_window: could not remove %s\n", lines);
	t = cold / n;
	printf("cold (no cache)      %3u windows  %9.3f ms CPU per window\n",
	       n, t / 1e6);
	printf("first, cache empty     1 window   %9.3f ms CPU\n",
	       first / 1e6);
	printf("warm (cache)         %3u windows  %9.3f ms CPU per window\n",
	       n - 1, warm / (n - 1) / 1e6);
	printf("cache: %" PRIu64 " lookups, %" PRIu64 " hits, %" PRIu64
	       " binaries analysed, %" PRIu64 " DWARF opened, %" PRIu64
	       " site maps; %.1f instructions per window\n", st.lookups,
	       st.hits, st.builds, st.dwarf_opens, st.site_maps,
	       (double)insns / (2 * n + 2));
	printf("first after a restart  1 window   %9.3f ms CPU (on-disk line "
	       "cache; %" PRIu64 " DWARF opened)\n", restart / 1e6,
	       rst.dwarf_opens);
	printf("  the same, code seen   1 window   %9.3f ms CPU (the warm "
	       "cache's first window again; %" PRIu64 " DWARF opened)\n",
	       seen / 1e6, sst.dwarf_opens);
	printf("ratio cold / warm: %.1fx; target <= 1 ms warm: %s\n",
	       (double)t / ((double)warm / (n - 1)),
	       warm / (n - 1) <= 1000000 ? "met" : "NOT met");
	return 0;
}
