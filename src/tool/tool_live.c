// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent --pid PID: the live sensor.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/anomaly.h"
#include "sensor/file.h"
#include "sensor/backend.h"
#include "sensor/live.h"
#include "sensor/session.h"
#include "tool.h"

#define SA_MAX_BINARIES 64

static void live_usage(FILE *f)
{
	fprintf(f,
"Usage: %s watch -p PID [OPTIONS]\n"
"       %s -p PID [OPTIONS]   (the same, short form)\n"
"\n"
"Watches process PID: captures sampled trace windows, learns a baseline\n"
"of its branch decisions from the first windows (or uses --db), then\n"
"compares every group of windows with it.  Each comparison prints one\n"
"summary (windows, instructions, tests, anomalies: silence is never\n"
"ambiguous), its new anomalies in full, and its ongoing and resolved ones\n"
"in a line; --format jsonl writes the same as records for log shipping\n"
"(time, host.name, process.pid, state: docs/anomalies.md).\n"
"SIGINT, SIGTERM or SIGHUP stop it cleanly: the windows captured so\n"
"far are analysed and the counters printed; the target keeps running (also\n"
"after a SIGKILL of the sensor: a guardian process releases it).\n"
"\n"
"Window source:\n"
"  -p, --pid PID            the process to watch\n"
"      --backend KIND       auto, intel_pt, cs_etm or emulate (default\n"
"                           auto: hardware when present, else emulate)\n"
"      --window DURATION    window length (default %dms); emulate also\n"
"                           takes instructions (4000insn)\n"
"      --period DURATION    window start to window start (default %dms)\n"
"      --cpu-budget N       the sensor's CPU, in thousandths of a core,\n"
"                           capture and decode (default %d = 1%%); windows\n"
"                           over budget are skipped and counted\n"
"      --filter SPEC        address filter, perf's --filter syntax\n"
"                           (default: the target's main binary)\n"
"Baseline and analysis:\n"
"      --db FILE            the baseline: compared with from the start when\n"
"                           FILE exists, else learnt into FILE\n"
"      --learn N            learn from the first N windows (default %d)\n"
"      --group N            windows per comparison (default 1)\n"
"      --count N            stop after N windows\n"
"      --fdr Q              false-discovery level (default %g)\n"
"  -f, --format text|jsonl  output: text, or JSON lines (one summary\n"
"                           record per comparison and one record per new,\n"
"                           ongoing or resolved anomaly); default text\n"
"  -o, --output FILE        write there instead of standard output\n"
"      --keep-windows DIR   keep the window files (perf.data) in DIR\n"
"  -b, --binary PATH[@ADDR] decode with this binary; repeatable\n"
"      --symfs DIR          look up binaries under DIR first\n"
"      --error-sink SYMBOL  calls into SYMBOL also start an error path\n"
"                           (beside abort, __assert_fail,\n"
"                           __stack_chk_fail, __cxa_throw,\n"
"                           _Unwind_RaiseException, perror, strerror,\n"
"                           *.cold); repeatable\n"
"  -h, --help               this help\n"
"\n"
"Exit status: 0 on a clean stop or the target's exit, 1 on failure, 2 on\n"
"a usage error.\n",
		sa_prog, sa_prog, SA_BACKEND_DEF_WINDOW_MS,
		SA_BACKEND_DEF_PERIOD_MS, SA_BACKEND_DEF_CPU_PERMILLE,
		SA_LIVE_DEF_LEARN_WINDOWS, SA_DETECT_DEF_FDR);
}

enum { OPT_BUDGET = 256, OPT_FILTER, OPT_BASELINE, OPT_LEARN,
       OPT_LEARN_DB, OPT_GROUP, OPT_FDR, OPT_KEEP };

static struct sa_live *live_lv;

static void on_signal(int sig)
{
	(void)sig;
	if (live_lv)
		sa_live_request_stop(live_lv);
}

struct live_out {
	bool jsonl;
	FILE *f;	/* -o FILE, else stdout */
	struct sa_live *lv;
};

/* Every comparison: a summary record (jsonl) or header line (text), then
 * its new anomalies in full and its ongoing and resolved ones briefly.
 */
static void on_summary(void *ctx, const struct sa_live_summary *s)
{
	struct live_out *lo = ctx;

	if (lo->jsonl)
		sa_live_write_summary_json(lo->lv, s, lo->f);
	else
		sa_live_write_summary_text(lo->lv, s, lo->f);
}

static void on_event(void *ctx, const struct sa_live_event *ev)
{
	struct live_out *lo = ctx;

	if (lo->jsonl)
		sa_live_write_event_json(lo->lv, ev, lo->f);
	else
		sa_live_write_event_text(lo->lv, ev, lo->f);
}

static void on_note(void *ctx, const char *msg)
{
	(void)ctx;
	sa_note("%s", msg);
}

static bool parse_u64_opt(const char *name, const char *arg, uint64_t *v,
			  uint64_t max)
{
	if (!sa_parse_u64(arg, v) || *v > max) {
		sa_err("bad --%s '%s'", name, arg);
		return false;
	}
	return true;
}

int cmd_live(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cpu-budget", required_argument, NULL, OPT_BUDGET },
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "learn", required_argument, NULL, OPT_LEARN },
		{ "learn-db", required_argument, NULL, OPT_LEARN_DB },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "fdr", required_argument, NULL, OPT_FDR },
		{ "keep-windows", required_argument, NULL, OPT_KEEP },
		{ "binary", required_argument, NULL, 'b' },
		{ "symfs", required_argument, NULL, SA_OPT_SYMFS },
		{ "error-sink", required_argument, NULL, SA_OPT_ERROR_SINK },
		{ NULL, 0, NULL, 0 },
	};
	struct sa_binary_opt binaries[SA_MAX_BINARIES];
	struct sa_live_opts o;
	struct live_out lo = { 0 };
	struct sa_live_stats st;
	struct sigaction sa, old_int, old_term, old_hup;
	struct sa_errinfo ei;
	struct sa_live *lv;
	struct sa_common cm;
	uint64_t v;
	char *end;
	int c, err;

	memset(&o, 0, sizeof(o));
	o.backend.cpu = -1;
	o.decode.binaries = binaries;
	/* a service's log: every line with its time and level */
	sa_log_timestamps = true;
	sa_common_init(&cm, sa_cmd_name ? sa_cmd_name : "watch",
		       SA_CO_PID | SA_CO_BACKEND | SA_CO_WINDOW | SA_CO_PERIOD |
		       SA_CO_COUNT | SA_CO_OUTPUT | SA_CO_FORMAT | SA_CO_DB);
	cm.formats = SA_FMT_BIT(SA_FMT_TEXT) | SA_FMT_BIT(SA_FMT_JSONL);
	cm.window_insn_ok = true;
	while ((c = sa_getopt(argc, argv, "b:", longopts, &cm)) != -1) {
		switch (c) {
		case SA_GETOPT_USAGE:
			return SA_EXIT_USAGE;
		case OPT_BUDGET:
			if (!parse_u64_opt("cpu-budget", optarg, &v, 1000000) ||
			    !v)
				return SA_EXIT_USAGE;
			o.backend.budget.cpu_permille = (uint32_t)v;
			break;
		case OPT_FILTER:
			o.backend.filter = optarg;
			break;
		case OPT_BASELINE:
			o.baseline = optarg;
			break;
		case OPT_LEARN:
			if (!parse_u64_opt("learn", optarg, &o.learn_windows,
					   1000000) || !o.learn_windows)
				return SA_EXIT_USAGE;
			break;
		case OPT_LEARN_DB:
			o.learn_db = optarg;
			break;
		case OPT_GROUP:
			if (!parse_u64_opt("group", optarg, &v, 64) || !v)
				return SA_EXIT_USAGE;
			o.group = (uint32_t)v;
			break;
		case OPT_FDR:
			o.detect.fdr = strtod(optarg, &end);
			if (end == optarg || *end || !(o.detect.fdr > 0) ||
			    o.detect.fdr >= 1) {
				sa_err("bad --fdr '%s': 0 < Q < 1", optarg);
				return SA_EXIT_USAGE;
			}
			break;
		case OPT_KEEP:
			o.workdir = optarg;
			o.keep_windows = true;
			break;
		case 'h':
			live_usage(stdout);
			return SA_EXIT_OK;
		default:
			if (sa_tool_decode_opt("watch", c, optarg, &o.decode,
					       binaries, SA_MAX_BINARIES) > 0)
				break;
			return SA_EXIT_USAGE;
		}
	}
	o.backend.pid = cm.pid;
	o.backend.kind = cm.backend;
	if (cm.set & SA_CO_WINDOW) {
		o.backend.window_ms = cm.window_ms;
		o.backend.window_insns = cm.window_insns;
	}
	if (cm.set & SA_CO_PERIOD)
		o.backend.period_ms = cm.period_ms;
	o.max_windows = cm.count;
	lo.jsonl = cm.format == SA_FMT_JSONL;
	if (cm.db) {
		/* one file for a service: learnt into on the first run,
		 * compared with from then on
		 */
		if (o.baseline || o.learn_db) {
			sa_err("--db excludes --baseline and --learn-db");
			return SA_EXIT_USAGE;
		}
		if (!access(cm.db, F_OK))
			o.baseline = cm.db;
		else
			o.learn_db = cm.db;
	}
	if (!o.backend.pid) {
		sa_err("--pid PID is required");
		return SA_EXIT_USAGE;
	}
	if (optind < argc) {
		sa_err("unexpected argument '%s'", argv[optind]);
		return SA_EXIT_USAGE;
	}
	if (o.baseline && o.learn_db) {
		sa_err("--baseline and --learn-db exclude each other");
		return SA_EXIT_USAGE;
	}
	o.event_fn = on_event;
	o.summary_fn = on_summary;
	o.note_fn = on_note;
	o.ctx = &lo;
	lo.f = stdout;
	if (cm.output) {
		lo.f = sa_file_fopen_private(cm.output);
		if (!lo.f) {
			sa_err("cannot write %s: %s", cm.output,
			       strerror(errno));
			return SA_EXIT_FAIL;
		}
		setvbuf(lo.f, NULL, _IOLBF, 0);
	}

	lv = sa_live__new(&o, &ei);
	if (!lv) {
		sa_err("%s", ei.msg[0] ? ei.msg : strerror(errno));
		if (lo.f != stdout)
			fclose(lo.f);
		return SA_EXIT_FAIL;
	}
	lo.lv = lv;
	sa_note("watching pid %d with the %s backend%s%s",
		(int)o.backend.pid, sa_live_backend_name(lv),
		sa_live_backend_note(lv) ? ": " : "",
		sa_live_backend_note(lv) ? sa_live_backend_note(lv) : "");

	/* No SA_RESTART: the wait for the next window must see EINTR. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	live_lv = lv;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);	/* a closed terminal */
	err = sa_live_run(lv, &ei);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	live_lv = NULL;

	sa_live_stats(lv, &st);
	sa_note("%" PRIu64 " windows (%" PRIu64 " skipped over budget, %"
		PRIu64 " failed, %" PRIu64 " idle), %" PRIu64 " learnt, %"
		PRIu64
		" compared; %" PRIu64 " trace bytes, %" PRIu64
		" lost bytes, %" PRIu64 " loss events, %" PRIu64
		" decode errors; %" PRIu64 " instructions; decode %.3f s, "
		"capture %.3f s CPU, %.1f s wall; %" PRIu64 " anomalies",
		st.windows, st.windows_skipped, st.windows_failed,
		st.windows_idle, st.learnt, st.analyses, st.trace_bytes,
		st.lost_bytes, st.lost_events, st.decode_errors,
		st.instructions,
		(double)st.decode_ns / 1e9, (double)st.capture_ns / 1e9,
		(double)st.wall_ns / 1e9, st.anomalies);
	if (st.nr_threads) {
		char tids[1024];
		size_t n = 0;
		uint32_t i;

		tids[0] = '\0';
		for (i = 0; i < st.nr_threads && n < sizeof(tids) - 16; i++)
			n += (size_t)snprintf(tids + n, sizeof(tids) - n,
					      " %" PRId32, st.tids[i]);
		sa_note("threads: %s%" PRIu32 " observed (tids%s%s)",
			st.threads_truncated ? "over " : "", st.nr_threads,
			tids, st.threads_truncated || i < st.nr_threads ?
			" ..." : "");
	}
	if (lo.f != stdout && fclose(lo.f) && !err) {
		sa_err("writing %s: %s", cm.output, strerror(errno));
		sa_live__free(lv);
		return SA_EXIT_FAIL;
	}
	sa_live__free(lv);
	if (err) {
		sa_err("%s", ei.msg[0] ? ei.msg : sa_strerror(err));
		return SA_EXIT_FAIL;
	}
	return SA_EXIT_OK;
}
