// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent record --emulate: run a command (or attach to a pid) under
 * the emulated Intel PT sensor and write perf.data that `perf script`
 * and `sensor-agent decode` read.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sensor/emu.h"
#include "sensor/error.h"
#include "tool.h"

#define RECORD_WINDOW_MAX_MS 10000

static volatile sig_atomic_t record_stop;

static void record_on_signal(int sig)
{
	(void)sig;
	record_stop = 1;
}

static void record_usage(FILE *f)
{
	fprintf(f,
"Usage: %s record --backend emulate [OPTIONS] -- CMD [ARGS...]\n"
"       %s record --backend emulate -p PID [OPTIONS]\n"
"\n"
"Records what a process executes as genuine Intel PT in perf.data, without PT\n"
"hardware: the thread is single-stepped with ptrace inside the address filter\n"
"and runs at full speed outside it.\n"
"\n"
"Options:\n"
"      --backend emulate    the emulated sensor (required: the only backend\n"
"                           that records here; hardware: `capture`)\n"
"  -p, --pid PID            attach to a running process (thread PID)\n"
"                           instead of CMD\n"
"      --filter FILTER      perf-style filter: 'filter SYM @ BIN' or\n"
"                           'filter OFF/SIZE @ BIN' (OFF: file offset),\n"
"                           several joined by ','; default: the main binary\n"
"  -o, --output FILE        perf.data path (default perf.data); with\n"
"                           --window, FILE.000, FILE.001, ...\n"
"      --aux-size SIZE      PT bytes per window (e.g. 4M, the default);\n"
"                           beyond, OVF and the rest is lost\n"
"      --psb-period SIZE    bytes between PSB+ (default 4K)\n"
"      --tsc                timestamps (TSC) in the trace\n"
"      --mtc                MTC timing packets (and TMA; implies --tsc)\n"
"      --mtc-period N       MTC when bit N (0-15, default 3) of the 25 MHz\n"
"                           crystal clock changes\n"
"      --cyc                CYC packets: core cycles (implies --tsc)\n"
"      --cyc-thresh N       CYC after at least 2^(N-1) cycles (0-15,\n"
"                           default 0)\n"
"      --noretcomp          no return compression\n"
"      --window DURATION    window length: a time (10ms, 2s; at most 10 s)\n"
"                           or traced instructions (4000insn); default:\n"
"                           the whole run in one window, up to an execve\n"
"                           or a new thread\n"
"      --period DURATION    window start to window start with --window\n"
"                           (default 1s); the target runs freely between\n"
"      --count N            stop after N windows (default: until exit)\n"
"  -h, --help               this help\n"
"\n"
"SIGINT/SIGTERM/SIGHUP end the recording; the target is detached and keeps\n"
"running, also when the sensor is killed (SIGKILL): a guardian process\n"
"restores it.\n"
"\n"
"Exit status: the command's (128+N when signal N killed it), as perf record\n"
"and shells pass it on; 1 when the recording failed, 2 on a usage error;\n"
"with -p, 0 on success.\n",
		sa_prog, sa_prog);
}

struct record_ctx {
	uint64_t insns, bytes, steps, ns;
};

static int record_window_done(void *ctx, unsigned int nr, const char *path,
			      const struct sa_emu_stats *st)
{
	struct record_ctx *rc = ctx;

	rc->insns += st->insns;
	rc->bytes += st->trace_bytes;
	rc->steps += st->steps;
	rc->ns += st->ns;
	sa_note("window %u: %s: %" PRIu64 " instructions, %"
		PRIu64 " PT bytes%s%s", nr, path, st->insns,
		st->trace_bytes, st->overflow ? ", OVF (AUX size reached)" :
		"", st->exited ? ", target exited" : "");
	return 0;
}

struct record_req {
	const struct sa_emu_opts *opts;
	pid_t pid;
	char *const *argv;
	const char *out;
	bool windowed;
	uint64_t period;
	unsigned int nwin;
	char fmt[4096];
};

struct record_res {
	struct record_ctx rc;
	bool exited;
	int wstatus;
};

/* In the guardian: attach or spawn, record, detach. */
static int record_guarded(void *ctx, void *out, struct sa_errinfo *ei)
{
	struct record_req *rq = ctx;
	struct record_res *res = out;
	struct sa_emu_stats st;
	struct sa_emu *emu;
	pid_t child = 0;
	int err;

	if (rq->pid)
		emu = sa_emu__attach(rq->pid, ei);
	else
		emu = sa_emu__spawn(rq->argv, ei);
	if (!emu)
		return -errno;
	if (rq->windowed) {
		err = sa_emu_loop(emu, rq->opts, rq->period, rq->nwin,
				  rq->fmt, record_window_done, &res->rc, ei);
	} else {
		err = sa_emu_window(emu, rq->opts, rq->out, &st, ei);
		if (!err) {
			record_window_done(&res->rc, 0, rq->out, &st);
			if (st.exec || st.new_task)
				sa_note("the recording stopped at "
					"%s; use --window to record what "
					"follows in more windows",
					st.exec ? "an execve" :
						  "a new thread");
		}
	}
	res->exited = sa_emu_exited(emu, &res->wstatus);
	/* A command record started must not run on untraced when the
	 * recording fails (a filter that does not resolve fails at the
	 * stop after execve, before the command's first instruction).
	 */
	if (err < 0 && !rq->pid && !res->exited) {
		child = sa_emu_pid(emu);
		kill(child, SIGKILL);
		sa_note("the command was not run (killed before "
			"it ran untraced)");
	}
	sa_emu__free(emu);
	if (child > 0)
		waitpid(child, NULL, 0);
	return err < 0 ? err : 0;
}

int cmd_record(int argc, char **argv)
{
	enum { OPT_FILTER = 256, OPT_PSB, OPT_TSC, OPT_NORETCOMP, OPT_MTC,
	       OPT_MTC_PERIOD, OPT_CYC, OPT_CYC_THRESH };
	static const struct option longopts[] = {
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "psb-period", required_argument, NULL, OPT_PSB },
		{ "tsc", no_argument, NULL, OPT_TSC },
		{ "noretcomp", no_argument, NULL, OPT_NORETCOMP },
		{ "mtc", no_argument, NULL, OPT_MTC },
		{ "mtc-period", required_argument, NULL, OPT_MTC_PERIOD },
		{ "cyc", no_argument, NULL, OPT_CYC },
		{ "cyc-thresh", required_argument, NULL, OPT_CYC_THRESH },
		{ NULL, 0, NULL, 0 },
	};
	struct sa_emu_opts opts = { .mtc_period = 3 };
	const char *out = "perf.data";
	uint64_t pid = 0, period = 1000, nwin = 0, v;
	bool windowed = false;
	struct sa_common cm;
	struct sa_errinfo ei = { 0 };
	struct sigaction sa = { 0 }, old_int, old_term, old_hup;
	struct record_req rq = { 0 };
	struct record_res res = { 0 };
	struct record_ctx rc;
	int c, ret = SA_EXIT_FAIL, err;

	sa_common_init(&cm, "record", SA_CO_PID | SA_CO_BACKEND |
		       SA_CO_WINDOW | SA_CO_PERIOD | SA_CO_COUNT |
		       SA_CO_OUTPUT | SA_CO_AUX_SIZE);
	cm.bare_window = 'i';	/* record's old --window N: instructions */
	cm.window_insn_ok = true;
	/* '+': the options end at the command's name */
	while ((c = sa_getopt(argc, argv, "+", longopts, &cm)) != -1) {
		switch (c) {
		case SA_GETOPT_USAGE:
			return SA_EXIT_USAGE;
		case OPT_FILTER:
			opts.filter = optarg;
			break;
		case OPT_PSB:
			if (!sa_parse_size(optarg, &v) || v < 256 ||
			    v > (1u << 26)) {
				sa_err("record: bad --psb-period '%s' (256 to "
				       "64 MiB)", optarg);
				return SA_EXIT_USAGE;
			}
			opts.psb_period = (uint32_t)v;
			break;
		case OPT_TSC:
			opts.tsc = true;
			break;
		case OPT_NORETCOMP:
			opts.noretcomp = true;
			break;
		case OPT_MTC:
			opts.mtc = true;
			break;
		case OPT_CYC:
			opts.cyc = true;
			break;
		case OPT_MTC_PERIOD:
		case OPT_CYC_THRESH:
			if (!sa_parse_u64(optarg, &v) || v > 15) {
				sa_err("record: bad --%s '%s' (0 to 15)",
				       c == OPT_MTC_PERIOD ? "mtc-period" :
							     "cyc-thresh",
				       optarg);
				return SA_EXIT_USAGE;
			}
			if (c == OPT_MTC_PERIOD)
				opts.mtc_period = (uint8_t)v;
			else
				opts.cyc_thresh = (uint8_t)v;
			break;
		case 'h':
			record_usage(stdout);
			return SA_EXIT_OK;
		default:
			record_usage(stderr);
			return SA_EXIT_USAGE;
		}
	}
	if (cm.backend != SA_BACKEND_EMULATE) {
		sa_err("record: only the emulated sensor records here: add "
		       "--backend emulate (or --emulate); hardware capture "
		       "is `%s capture`", sa_prog);
		return SA_EXIT_USAGE;
	}
	pid = (uint64_t)cm.pid;
	if (cm.output)
		out = cm.output;
	if (cm.aux_size)
		opts.aux_size = cm.aux_size;
	if (cm.set & SA_CO_WINDOW) {
		opts.max_insns = cm.window_insns;
		opts.max_ms = cm.window_ms;
		windowed = true;
	}
	if (cm.set & SA_CO_PERIOD)
		period = cm.period_ms;
	nwin = cm.count;
	if (!pid == (optind >= argc)) {
		sa_err("record: give either --pid PID or -- CMD [ARGS]");
		record_usage(stderr);
		return SA_EXIT_USAGE;
	}

	if (windowed) {
		int n;

		/* Other threads stop during a window: one that the traced
		 * thread waits for would hold an instruction-bounded window
		 * open forever.
		 */
		if (!opts.max_ms)
			opts.max_ms = RECORD_WINDOW_MAX_MS;

		n = snprintf(rq.fmt, sizeof(rq.fmt), "%s.%%03u", out);
		if (n < 0 || (size_t)n >= sizeof(rq.fmt) ||
		    strchr(out, '%')) {
			sa_err("record: bad output name '%s'", out);
			return SA_EXIT_FAIL;
		}
	}
	rq.opts = &opts;
	rq.pid = (pid_t)pid;
	rq.argv = argv + optind;
	rq.out = out;
	rq.windowed = windowed;
	rq.period = period;
	rq.nwin = (unsigned int)nwin;

	/* No SA_RESTART: a signal must break the wait for the guardian. */
	record_stop = 0;
	sa.sa_handler = record_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	/* The tracing runs in a guardian process: it restores and releases
	 * the target even when this process is killed.
	 */
	err = sa_emu_guard_run(record_guarded, &rq, &res, sizeof(res),
			       &record_stop, &ei);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	if (err < 0) {
		sa_err("record: %s", ei.msg);
		return SA_EXIT_FAIL;
	}
	rc = res.rc;
	if (rc.insns)
		sa_note("%.2f PT bits per instruction (%.0f bytes "
			"per million)",
			8.0 * (double)rc.bytes / (double)rc.insns,
			1e6 * (double)rc.bytes / (double)rc.insns);
	if (rc.ns)
		sa_note("%" PRIu64 " single-steps in %.3f s of "
			"windows: %.0f steps/s", rc.steps,
			(double)rc.ns / 1e9,
			(double)rc.steps * 1e9 / (double)rc.ns);
	ret = SA_EXIT_OK;
	/* As perf record and a shell do: the command's status is ours. */
	if (!pid && res.exited && WIFEXITED(res.wstatus)) {
		ret = WEXITSTATUS(res.wstatus);
		if (ret)
			sa_note("the command exited with status %d", ret);
	} else if (!pid && res.exited && WIFSIGNALED(res.wstatus)) {
		ret = 128 + WTERMSIG(res.wstatus);
		sa_note("the command was killed by signal %d (%s)",
			WTERMSIG(res.wstatus),
			strsignal(WTERMSIG(res.wstatus)));
	}
	return ret;
}
