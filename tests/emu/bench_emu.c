// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench_emu: the emulated sensor's costs, for scripts/bench-emu.sh.  Not a
 * unit test (it measures time).
 *
 *   bench_emu whole CMD ARGS...      one window over the whole run:
 *                                    recorder steps/s, encoder MB/s (the
 *                                    encoder replayed alone on the
 *                                    recorded events), trace density
 *   bench_emu duty W_MS P_MS CMD ... windows of W ms every P ms: wall
 *                                    time against a native run
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "sensor/emu.h"
#include "emu_rec.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Wall time of a native run of @argv, stdout to /dev/null. */
static double native_s(char **argv)
{
	uint64_t t0 = now_ns();
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	return (double)(now_ns() - t0) / 1e9;
}

static int bench_whole(char **argv, bool timed)
{
	struct sa_emu_opts opts = { .aux_size = 256ull << 20,
				    .mtc = timed, .mtc_period = 3,
				    .cyc = timed };
	struct sa_evlog_holder { struct sa_emu_evlog log; } h = { 0 };
	struct sa_errinfo ei = { 0 };
	struct sa_emu_stats st;
	struct sa_emu *emu;
	uint8_t *buf;
	uint64_t t0, enc_ns, bytes = 0;
	size_t i;
	int rep, reps = 20, saved, fd;

	h.log.cap = 16u << 20;
	h.log.ev = calloc(h.log.cap, sizeof(*h.log.ev));
	buf = malloc(opts.aux_size);
	if (!h.log.ev || !buf)
		return 1;
	fflush(stdout);
	saved = dup(1);
	fd = open("/dev/null", O_WRONLY);
	dup2(fd, 1);
	emu = sa_emu__spawn(argv, &ei);
	dup2(saved, 1);
	if (!emu) {
		fprintf(stderr, "bench_emu: %s\n", ei.msg);
		return 1;
	}
	emu->evlog = &h.log;
	t0 = now_ns();
	if (sa_emu_window(emu, &opts, NULL, &st, &ei)) {
		fprintf(stderr, "bench_emu: %s\n", ei.msg);
		return 1;
	}
	printf("whole run under the sensor: %.3f s (native %.4f s)\n",
	       (double)(now_ns() - t0) / 1e9, native_s(argv));
	printf("recorder: %" PRIu64 " instructions traced, %" PRIu64
	       " single-steps in %.3f s: %.0f steps/s; %" PRIu64
	       " filter entries, %" PRIu64 " signals, %" PRIu64
	       " syscalls\n", st.insns, st.steps, (double)st.ns / 1e9,
	       (double)st.steps * 1e9 / (double)st.ns, st.entries,
	       st.signals, st.syscalls);

	/* The encoder alone, replayed on the recorded events. */
	t0 = now_ns();
	for (rep = 0; rep < reps; rep++) {
		struct sa_emu_enc_cfg cfg = {
			.buf = buf, .size = opts.aux_size,
			.mtc = opts.mtc, .mtc_period = opts.mtc_period,
			.cyc = opts.cyc,
			.tsc0 = h.log.tsc0 };
		struct sa_emu_enc *enc = sa_emu_enc__new(&cfg);

		for (i = 0; i < h.log.n; i++) {
			const struct sa_emu_ev *e = &h.log.ev[i];

			sa_emu_enc_time(enc, e->tsc);
			if (e->kind == SA_EMU_EV_ENTER)
				sa_emu_enc_enter(enc, e->ip);
			else if (e->kind == SA_EMU_EV_RETIRE)
				sa_emu_enc_retire(enc, e->ip, &e->in, e->next,
						  e->next_in);
			else
				sa_emu_enc_async(enc, e->ip);
		}
		bytes = sa_emu_enc_finish(enc);
		sa_emu_enc__free(enc);
	}
	enc_ns = now_ns() - t0;
	if (bytes != st.trace_bytes || h.log.truncated)
		printf("note: replay gave %" PRIu64 " bytes, the window %"
		       PRIu64 "%s\n", bytes, st.trace_bytes,
		       h.log.truncated ? " (event log truncated)" : "");
	printf("encoder: %" PRIu64 " bytes x %d in %.3f ms: %.1f MB/s, "
	       "%.1f M instructions/s\n", bytes, reps, (double)enc_ns / 1e6,
	       (double)bytes * reps * 1e3 / (double)enc_ns,
	       (double)st.insns * reps * 1e3 / (double)enc_ns);
	printf("trace: %.0f bytes per million instructions = %.2f bits per "
	       "instruction (hardware: about 62,500 = 0.5 bits)\n",
	       1e6 * (double)st.trace_bytes / (double)st.insns,
	       8.0 * (double)st.trace_bytes / (double)st.insns);
	sa_emu__free(emu);
	free(h.log.ev);
	free(buf);
	return 0;
}

struct duty_ctx {
	uint64_t win_ns, insns, steps;
	unsigned int n;
};

static int duty_window(void *ctx, unsigned int nr, const char *path,
		       const struct sa_emu_stats *st)
{
	struct duty_ctx *d = ctx;

	d->win_ns += st->ns;
	d->insns += st->insns;
	d->steps += st->steps;
	d->n = nr + 1;
	return 0;
}

static int bench_duty(uint64_t win_ms, uint64_t period_ms, char **argv)
{
	struct sa_emu_opts opts = { .max_ms = win_ms };
	struct sa_errinfo ei = { 0 };
	struct duty_ctx d = { 0 };
	struct sa_emu *emu;
	char fmt[4096];
	uint64_t t0;
	double native, wall;
	int saved, fd, n;

	native = native_s(argv);
	snprintf(fmt, sizeof(fmt), "/tmp/bench-emu-%d.%%u.data",
		 (int)getpid());
	fflush(stdout);
	saved = dup(1);
	fd = open("/dev/null", O_WRONLY);
	dup2(fd, 1);
	t0 = now_ns();
	emu = sa_emu__spawn(argv, &ei);
	dup2(saved, 1);
	if (!emu) {
		fprintf(stderr, "bench_emu: %s\n", ei.msg);
		return 1;
	}
	n = sa_emu_loop(emu, &opts, period_ms, 0, fmt, duty_window, &d, &ei);
	wall = (double)(now_ns() - t0) / 1e9;
	if (n < 0) {
		fprintf(stderr, "bench_emu: %s\n", ei.msg);
		return 1;
	}
	printf("duty %" PRIu64 " ms every %" PRIu64 " ms: %u windows, %.3f "
	       "s of %.3f s wall in windows (%.1f%%); run took %.3f s "
	       "against %.3f s native: %.2fx; %" PRIu64 " instructions "
	       "traced\n", win_ms, period_ms, d.n, (double)d.win_ns / 1e9,
	       wall, 100.0 * (double)d.win_ns / 1e9 / wall, wall, native,
	       wall / native, d.insns);
	sa_emu__free(emu);
	for (unsigned int i = 0; i < d.n; i++) {
		char p[4200];

		snprintf(p, sizeof(p), fmt, i);
		unlink(p);
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t w, p;
	char *end;

	if (argc > 2 && strcmp(argv[1], "whole") == 0)
		return bench_whole(argv + 2, false);
	if (argc > 2 && strcmp(argv[1], "whole-timed") == 0)
		return bench_whole(argv + 2, true);
	if (argc > 4 && strcmp(argv[1], "duty") == 0) {
		w = strtoull(argv[2], &end, 0);
		p = strtoull(argv[3], &end, 0);
		return bench_duty(w, p, argv + 4);
	}
	fprintf(stderr, "usage: bench_emu whole CMD...\n"
			"       bench_emu whole-timed CMD...  (MTC and CYC)\n"
			"       bench_emu duty WINDOW_MS PERIOD_MS CMD...\n");
	return 2;
}
