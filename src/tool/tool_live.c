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

#include "sensor/anomaly.h"
#include "sensor/backend.h"
#include "sensor/fleet.h"
#include "sensor/live.h"
#include "sensor/session.h"
#include "tool.h"

#define SA_MAX_BINARIES 64

static void live_usage(FILE *f)
{
	fprintf(f,
"Usage: %s [-v] --pid PID [OPTIONS]\n"
"\n"
"Watches process PID: captures sampled trace windows, learns a baseline\n"
"of its branch decisions from the first windows (or uses --baseline), then\n"
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
"      --backend KIND       auto, intel_pt, cs_etm or emulate (default\n"
"                           auto: hardware when present, else emulate)\n"
"      --window-ms N        window length (default %d)\n"
"      --window-insns N     emulate: end a window after N instructions\n"
"      --period-ms N        window start to window start (default %d)\n"
"      --cpu-budget N       the sensor's CPU, in thousandths of a core,\n"
"                           all of it (default %d = 1%%); the period\n"
"                           (then the window) is stretched to hold it\n"
"      --filter SPEC        address filter, perf's --filter syntax\n"
"                           (default: the target's main binary)\n"
"Baseline and analysis:\n"
"      --baseline FILE      compare with this baseline from the start\n"
"      --learn N            else learn from the first N windows (default %d)\n"
"      --learn-db FILE      keep the learnt baseline in FILE\n"
"      --group N            windows per comparison (default 1)\n"
"      --max-windows N      stop after N windows\n"
"      --fdr Q              false-discovery level (default %g)\n"
"  -f, --format text|jsonl  output: text, or JSON lines (one summary\n"
"                           record per comparison and one record per new,\n"
"                           ongoing or resolved anomaly); default text\n"
"      --keep-windows DIR   keep the window files (perf.data) in DIR\n"
"Fleet (docs/fleet.md):\n"
"      --fleet URL          also store every window's history in ClickHouse\n"
"                           (HTTP interface; `fleet init` first)\n"
"      --host NAME          this host's name in the fleet (default hostname)\n"
"      --spool DIR          windows wait here while ClickHouse is away\n"
"      --spool-max SIZE     spool cap (default 64M); beyond, drops counted\n"
"  -b, --binary PATH[@ADDR] decode with this binary; repeatable\n"
"      --symfs DIR          look up binaries under DIR first\n"
"      --error-sink SYMBOL  calls into SYMBOL also start an error path (beside\n"
"                           abort, __assert_fail, __stack_chk_fail, __cxa_throw,\n"
"                           _Unwind_RaiseException, perror, strerror, *.cold);\n"
"                           repeatable\n"
SA_TOOL_OTLP_USAGE
"  -h, --help               this help\n"
"\n"
"Exit status: 0 on a clean stop or the target's exit, 1 on failure, 2 on\n"
"a usage error.\n",
		sa_prog, SA_BACKEND_DEF_WINDOW_MS, SA_BACKEND_DEF_PERIOD_MS,
		SA_BACKEND_DEF_CPU_PERMILLE, SA_LIVE_DEF_LEARN_WINDOWS,
		SA_DETECT_DEF_FDR);
}

enum { OPT_PID = 256, OPT_BACKEND, OPT_WINDOW_MS, OPT_WINDOW_INSNS,
       OPT_PERIOD, OPT_BUDGET, OPT_FILTER, OPT_BASELINE, OPT_LEARN,
       OPT_LEARN_DB, OPT_GROUP, OPT_MAX_WINDOWS, OPT_FDR, OPT_KEEP };

enum { OPT_FLEET = 400, OPT_FLEET_HOST, OPT_SPOOL, OPT_SPOOL_MAX };

static struct sa_live *live_lv;

static void on_signal(int sig)
{
	(void)sig;
	if (live_lv)
		sa_live_request_stop(live_lv);
}

struct live_out {
	bool jsonl;
	struct sa_live *lv;
	struct sa_tool_otlp otlp;
};

/* Every comparison: a summary record (jsonl) or header line (text), then
 * its new anomalies in full and its ongoing and resolved ones briefly.
 */
static void on_summary(void *ctx, const struct sa_live_summary *s)
{
	struct live_out *lo = ctx;

	if (lo->jsonl)
		sa_live_write_summary_json(lo->lv, s, stdout);
	else
		sa_live_write_summary_text(lo->lv, s, stdout);
	/* queued: the loop never waits for the collector */
	if (lo->otlp.ot)
		sa_otlp_log_live_summary(lo->otlp.ot, s);
}

static void on_event(void *ctx, const struct sa_live_event *ev)
{
	struct live_out *lo = ctx;

	if (lo->jsonl)
		sa_live_write_event_json(lo->lv, ev, stdout);
	else
		sa_live_write_event_text(lo->lv, ev, stdout);
	if (lo->otlp.ot)
		sa_otlp_log_live_event(lo->otlp.ot, ev);
}

static void on_note(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "%s: %s\n", sa_prog, msg);
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
		{ "pid", required_argument, NULL, OPT_PID },
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ "window-ms", required_argument, NULL, OPT_WINDOW_MS },
		{ "window-insns", required_argument, NULL, OPT_WINDOW_INSNS },
		{ "period-ms", required_argument, NULL, OPT_PERIOD },
		{ "cpu-budget", required_argument, NULL, OPT_BUDGET },
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "learn", required_argument, NULL, OPT_LEARN },
		{ "learn-db", required_argument, NULL, OPT_LEARN_DB },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "max-windows", required_argument, NULL, OPT_MAX_WINDOWS },
		{ "fdr", required_argument, NULL, OPT_FDR },
		{ "format", required_argument, NULL, 'f' },
		{ "keep-windows", required_argument, NULL, OPT_KEEP },
		{ "binary", required_argument, NULL, 'b' },
		{ "symfs", required_argument, NULL, SA_OPT_SYMFS },
		{ "error-sink", required_argument, NULL, SA_OPT_ERROR_SINK },
		SA_TOOL_OTLP_LONGOPTS,
		{ "fleet", required_argument, NULL, OPT_FLEET },
		{ "host", required_argument, NULL, OPT_FLEET_HOST },
		{ "spool", required_argument, NULL, OPT_SPOOL },
		{ "spool-max", required_argument, NULL, OPT_SPOOL_MAX },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sa_binary_opt binaries[SA_MAX_BINARIES];
	struct sa_fleet_opts fo = { .batch = 1 };
	struct sa_fleet *fl = NULL;
	struct sa_live_opts o;
	struct live_out lo = { 0 };
	struct sa_live_stats st;
	char gov[256];
	struct sigaction sa, old_int, old_term, old_hup;
	struct sa_errinfo ei;
	struct sa_live *lv;
	uint64_t v;
	char *end;
	int c, err;

	memset(&o, 0, sizeof(o));
	o.backend.cpu = -1;
	o.decode.binaries = binaries;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:b:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PID:
			if (!parse_u64_opt("pid", optarg, &v, INT32_MAX) || !v)
				return SA_EXIT_USAGE;
			o.backend.pid = (pid_t)v;
			break;
		case OPT_BACKEND:
			if (sa_backend_kind_parse(optarg, &o.backend.kind,
						  &ei)) {
				sa_err("%s", ei.msg);
				return SA_EXIT_USAGE;
			}
			break;
		case OPT_WINDOW_MS:
			if (!parse_u64_opt("window-ms", optarg,
					   &o.backend.window_ms, 3600000))
				return SA_EXIT_USAGE;
			break;
		case OPT_WINDOW_INSNS:
			if (!parse_u64_opt("window-insns", optarg,
					   &o.backend.window_insns,
					   UINT64_MAX))
				return SA_EXIT_USAGE;
			break;
		case OPT_PERIOD:
			if (!parse_u64_opt("period-ms", optarg,
					   &o.backend.period_ms, 86400000))
				return SA_EXIT_USAGE;
			break;
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
		case OPT_MAX_WINDOWS:
			if (!parse_u64_opt("max-windows", optarg,
					   &o.max_windows, UINT64_MAX))
				return SA_EXIT_USAGE;
			break;
		case OPT_FDR:
			o.detect.fdr = strtod(optarg, &end);
			if (end == optarg || *end || !(o.detect.fdr > 0) ||
			    o.detect.fdr >= 1) {
				sa_err("bad --fdr '%s': 0 < Q < 1", optarg);
				return SA_EXIT_USAGE;
			}
			break;
		case 'f':
			if (!strcmp(optarg, "jsonl")) {
				lo.jsonl = true;
			} else if (strcmp(optarg, "text")) {
				sa_err("bad --format '%s': text or jsonl",
				       optarg);
				return SA_EXIT_USAGE;
			}
			break;
		case OPT_KEEP:
			o.workdir = optarg;
			o.keep_windows = true;
			break;
		case OPT_FLEET:
			fo.url = optarg;
			break;
		case OPT_FLEET_HOST:
			fo.host = optarg;
			break;
		case OPT_SPOOL:
			fo.spool_dir = optarg;
			break;
		case OPT_SPOOL_MAX:
			if (!sa_tool_parse_size(optarg, &fo.spool_max) ||
			    !fo.spool_max) {
				sa_err("bad --spool-max '%s': a size such as "
				       "64K, 4M, 1G", optarg);
				return SA_EXIT_USAGE;
			}
			break;
		case 'h':
			live_usage(stdout);
			return SA_EXIT_OK;
		default:
			err = sa_tool_otlp_opt("--pid", c, optarg, &lo.otlp);
			if (err < 0)
				return SA_EXIT_USAGE;
			if (err > 0)
				break;
			if (sa_tool_decode_opt("--pid", c, optarg, &o.decode,
					       binaries, SA_MAX_BINARIES) > 0)
				break;
			return SA_EXIT_USAGE;
		}
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
	if (fo.url) {
		/* short requests: the sensor waits for each window's */
		fo.timeout_ms = 3000;
		fl = sa_fleet__new(&fo, &ei);
		if (!fl) {
			sa_err("--fleet: %s", ei.msg[0] ? ei.msg :
			       strerror(errno));
			return SA_EXIT_FAIL;
		}
		o.window_fn = sa_tool_fleet_window;
		o.window_ctx = fl;
	}
	o.event_fn = on_event;
	o.summary_fn = on_summary;
	o.note_fn = on_note;
	o.ctx = &lo;

	lv = sa_live__new(&o, &ei);
	if (!lv) {
		sa_fleet__free(fl);
		sa_err("%s", ei.msg[0] ? ei.msg : strerror(errno));
		return SA_EXIT_FAIL;
	}
	lo.lv = lv;
	if (lo.otlp.url) {
		struct sa_otlp_opts oo = {
			.host = sa_live_host_name(lv),
			.pid = o.backend.pid,
			.exe_name = sa_live_exe_name(lv),
			.exe_path = sa_live_exe_path(lv),
		};

		if (sa_tool_otlp_start("--pid", &lo.otlp, &oo)) {
			sa_live__free(lv);
			return SA_EXIT_FAIL;
		}
	}
	fprintf(stderr, "%s: watching pid %d with the %s backend%s%s\n",
		sa_prog, (int)o.backend.pid, sa_live_backend_name(lv),
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
	fprintf(stderr,
		"%s: %" PRIu64 " windows (%" PRIu64 " skipped over budget, %"
		PRIu64 " failed, %" PRIu64 " idle), %" PRIu64 " learnt, %"
		PRIu64
		" compared; %" PRIu64 " trace bytes, %" PRIu64
		" lost bytes, %" PRIu64 " loss events, %" PRIu64
		" decode errors; %" PRIu64 " instructions; decode %.3f s, "
		"capture %.3f s CPU, %.1f s wall; %" PRIu64 " anomalies\n",
		sa_prog, st.windows, st.windows_skipped, st.windows_failed,
		st.windows_idle, st.learnt, st.analyses, st.trace_bytes,
		st.lost_bytes, st.lost_events, st.decode_errors,
		st.instructions,
		(double)st.decode_ns / 1e9, (double)st.capture_ns / 1e9,
		(double)st.wall_ns / 1e9, st.anomalies);
	fprintf(stderr, "%s: %s\n", sa_prog,
		sa_live_format_governor(&st, gov, sizeof(gov)));
	if (st.nr_threads) {
		uint32_t i;

		fprintf(stderr, "%s: threads: %s%" PRIu32 " observed (tids",
			sa_prog, st.threads_truncated ? "over " : "",
			st.nr_threads);
		for (i = 0; i < st.nr_threads; i++)
			fprintf(stderr, " %" PRId32, st.tids[i]);
		fprintf(stderr, "%s)\n", st.threads_truncated ? " ..." : "");
	}
	sa_tool_otlp_finish(&lo.otlp, SA_TOOL_OTLP_FLUSH_MS);
	sa_live__free(lv);
	if (fl) {
		struct sa_errinfo fei = { 0 };

		/* a last try for the spool; what stays waits for later */
		if (sa_fleet_flush(fl, &fei))
			sa_err("fleet: %s", fei.msg);
		sa_tool_fleet_report("fleet", fl);
		sa_fleet__free(fl);
	}
	if (err) {
		sa_err("%s", ei.msg[0] ? ei.msg : sa_strerror(err));
		return SA_EXIT_FAIL;
	}
	return SA_EXIT_OK;
}
