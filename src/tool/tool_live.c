// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent --pid PID: the live sensor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <systemd/sd-daemon.h>

#include "sensor/anomaly.h"
#include "sensor/file.h"
#include "sensor/backend.h"
#include "sensor/fleet.h"
#include "sensor/live.h"
#include "sensor/session.h"
#include "tool.h"

#define SA_MAX_BINARIES 64

/* A request to ClickHouse, from the sender thread: the loop never waits
 * for it.
 */
#define LIVE_FLEET_TIMEOUT_MS 10000
/* At the end, how long the sender may take to send what is queued
 * before the rest goes to the spool.
 */
#define LIVE_FLEET_FLUSH_MS 3000

static void live_usage(FILE *f)
{
	fprintf(f,
"Usage: %s watch -p PID [OPTIONS]\n"
"       %s watch --comm NAME | --unit NAME.service [OPTIONS]\n"
"       %s -p PID [OPTIONS]   (the same as watch -p PID)\n"
"\n"
"Watches process PID: captures sampled trace windows, learns a baseline\n"
"of its branch decisions from the first windows (or uses --db), then\n"
"compares every group of windows with it.  Each comparison prints one\n"
"summary (windows, instructions, tests, anomalies: silence is never\n"
"ambiguous), its new anomalies in full, and its ongoing and resolved ones\n"
"in a line; --format jsonl writes the same as records for log shipping\n"
"(time, host.name, process.pid, state: docs/live.md).\n"
"SIGINT, SIGTERM or SIGHUP stop it cleanly: the windows captured so\n"
"far are analysed and the counters printed; the target keeps running (also\n"
"after a SIGKILL of the sensor: a guardian process releases it).\n"
"With --comm or --unit it runs as a service: it watches every process of\n"
"that name or unit, one watcher each, keeps running when they exit and\n"
"attaches again when one starts.  Under systemd (every mode) it reports\n"
"READY=1 once watching, WATCHDOG=1 while its loop makes progress and\n"
"STATUS= lines (sd_notify), and logs each line with its time and level.\n"
"\n"
"Targets:\n"
"  -p, --pid PID            the process to watch; the end of it ends watch\n"
"      --comm NAME          every process named NAME (/proc/PID/comm)\n"
"      --unit NAME.service  every process of the unit's cgroup\n"
"                           (/sys/fs/cgroup/system.slice/NAME.service)\n"
"      --cgroup-root DIR    where the cgroup tree is (default\n"
"                           /sys/fs/cgroup)\n"
"Window source:\n"
"      --backend KIND       auto, intel_pt, cs_etm or emulate (default\n"
"                           auto: hardware when present, else emulate)\n"
"      --window DURATION    window length (default %dms); emulate also\n"
"                           takes instructions (4000insn)\n"
"      --period DURATION    window start to window start (default %dms)\n"
"      --cpu-budget N       the sensor's CPU, in thousandths of a core,\n"
"                           all of it (default %d = 1%%); the period\n"
"                           (then the window) is stretched to hold it\n"
"      --filter SPEC        address filter, perf's --filter syntax\n"
"                           (default: the target's main binary)\n"
"Baseline and analysis:\n"
"      --db FILE            the baseline: compared with from the start when\n"
"                           FILE exists, else learnt into FILE (by the\n"
"                           first watcher; the others learn their own\n"
"                           until FILE exists)\n"
"      --learn N            learn from the first N windows (default %d)\n"
"      --group N            windows per comparison (default 1)\n"
"      --count N            stop after N windows\n"
"      --fdr Q              false-discovery level (default %g)\n"
"  -f, --format text|jsonl  output: text, or JSON lines (one summary\n"
"                           record per comparison and one record per new,\n"
"                           ongoing or resolved anomaly); default text\n"
"  -o, --output FILE        write there instead of standard output\n"
"      --keep-windows DIR   keep the window files (perf.data) in DIR\n"
"      --cache-dir DIR      keep each binary's answered line lookups in\n"
"                           DIR/BUILDID.lines (made 0700 if missing), so\n"
"                           that a restarted sensor skips opening DWARF\n"
"Fleet (docs/fleet.md):\n"
"      --fleet URL          also store every window's history in ClickHouse\n"
"                           (HTTP interface; `fleet init` first)\n"
"      --host NAME          this host's name in the fleet (default hostname)\n"
"      --spool DIR          windows wait here while ClickHouse is away\n"
"      --spool-max SIZE     spool cap (default 64M); beyond, drops counted\n"
"      --fleet-queue N      windows waiting for the sender thread (default\n"
"                           %d); beyond, drops counted\n"
"      --fleet-timeout MS   per request (default %d)\n"
"  -b, --binary PATH[@ADDR] decode with this binary; repeatable\n"
"      --symfs DIR          look up binaries under DIR first\n"
"      --error-sink SYMBOL  calls into SYMBOL also start an error path\n"
"                           (beside abort, __assert_fail,\n"
"                           __stack_chk_fail, __cxa_throw,\n"
"                           _Unwind_RaiseException, perror, strerror,\n"
"                           *.cold); repeatable\n"
SA_TOOL_OTLP_USAGE
"  -h, --help               this help\n"
"\n"
"Exit status: 0 on a clean stop or the target's exit, 1 on failure, 2 on\n"
"a usage error.\n",
		sa_prog, sa_prog, sa_prog, SA_BACKEND_DEF_WINDOW_MS,
		SA_BACKEND_DEF_PERIOD_MS, SA_BACKEND_DEF_CPU_PERMILLE,
		SA_LIVE_DEF_LEARN_WINDOWS, SA_DETECT_DEF_FDR,
		SA_FLEET_DEF_QUEUE, LIVE_FLEET_TIMEOUT_MS);
}

enum { OPT_BUDGET = 256, OPT_FILTER, OPT_BASELINE, OPT_LEARN,
       OPT_LEARN_DB, OPT_GROUP, OPT_FDR, OPT_KEEP, OPT_COMM, OPT_UNIT,
       OPT_CGROUP_ROOT, OPT_CACHE_DIR };

enum { OPT_FLEET = 400, OPT_FLEET_HOST, OPT_SPOOL, OPT_SPOOL_MAX,
       OPT_FLEET_QUEUE, OPT_FLEET_TIMEOUT };

static struct sa_live *live_lv;

static volatile sig_atomic_t live_stop_early;

static void on_signal(int sig)
{
	(void)sig;
	if (live_lv)
		sa_live_request_stop(live_lv);
	else
		live_stop_early = 1;	/* the loop is still starting */
}

struct live_out {
	bool jsonl;
	FILE *f;	/* -o FILE, else stdout */
	struct sa_live *lv;
	/* opened by each watcher (after the fork, in service mode: the
	 * exporter's sender thread would not survive it)
	 */
	struct sa_tool_otlp otlp;
	const struct sa_fleet_opts *fleet;	/* --fleet, or NULL */
	size_t fleet_queue;			/* 0: the default */
	struct sa_fleet_sender *snd;		/* while watching */
	struct watchdog *wd;			/* -p under systemd */
	const char *cache_dir;			/* --cache-dir, or NULL */
};

/*
 * systemd for one watcher (-p, --pid): a thread sends WATCHDOG=1 every
 * third of WATCHDOG_USEC while the loop makes progress, and STATUS=
 * lines.  The loop runs in the main thread and waits for its windows
 * (the emulate backend's ptrace binds it there), so the pings come from
 * a thread, but only while sa_live_progress() moves: a loop that hangs
 * for longer than the longest a window step may legitimately take (the
 * governor stretches the period up to ten times, plus the window and a
 * decode) stops the pings, and systemd restarts the sensor.
 */
struct watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	uint64_t wd_usec;	/* 0: STATUS only */
	uint64_t stall_ns;
	struct sa_live *lv;	/* NULL while attaching */
	struct sa_fleet_sender *snd;
	pid_t pid;
	char what[256];		/* "pid N (exe), emulate backend" */
	uint64_t windows;	/* decoded (window callback) */
	uint64_t learn;		/* to learn; 0: a given baseline */
	bool comparing;
	struct sa_live_summary last;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The STATUS= line: what the watcher observes now.  Under wd->lock. */
static void wd_status(struct watchdog *wd, char *buf, size_t size)
{
	size_t n;

	if (!wd->lv) {
		snprintf(buf, size, "STATUS=attaching to pid %d",
			 (int)wd->pid);
		return;
	}
	if (!wd->comparing && wd->learn)
		n = (size_t)snprintf(buf, size, "STATUS=watching %s: learning "
				     "a baseline of %" PRIu64 " windows; %"
				     PRIu64 " windows decoded", wd->what,
				     wd->learn, wd->windows);
	else if (!wd->comparing)
		n = (size_t)snprintf(buf, size, "STATUS=watching %s: %" PRIu64
				     " windows, no comparison yet", wd->what,
				     wd->windows);
	else
		n = (size_t)snprintf(buf, size, "STATUS=watching %s: %" PRIu64
				     " windows; comparison %" PRIu64 ": %"
				     PRIu64 " anomalies (%" PRIu64 " new, %"
				     PRIu64 " ongoing, %" PRIu64 " resolved)",
				     wd->what, wd->windows,
				     wd->last.comparison, wd->last.anomalies,
				     wd->last.new_anomalies, wd->last.ongoing,
				     wd->last.resolved);
	if (wd->snd && n < size) {
		struct sa_fleet_stats fs;

		sa_fleet_sender_stats(wd->snd, &fs);
		snprintf(buf + n, size - n, "; fleet: %" PRIu64 " stored, %"
			 PRIu64 " spooled, %" PRIu64 " dropped",
			 fs.windows_sent, fs.windows_spooled,
			 fs.windows_dropped);
	}
}

static void *wd_main(void *arg)
{
	struct watchdog *wd = arg;
	uint64_t every = wd->wd_usec ? wd->wd_usec * 1000 / 3 :
				       2000000000ull;
	uint64_t seen = 0, moved = mono_ns(), now, p;
	char status[600], sent[600] = "";
	bool stalled = false;
	struct timespec ts;

	pthread_mutex_lock(&wd->lock);
	while (!wd->stop) {
		now = mono_ns();
		p = wd->lv ? sa_live_progress(wd->lv) : 0;
		if (p != seen || !wd->lv) {
			seen = p;
			moved = now;
		}
		if (now - moved > wd->stall_ns) {
			uint64_t s = (now - moved) / 1000000000ull;

			if (!stalled)
				snprintf(status, sizeof(status), "STATUS="
					 "watching %s: no window for %" PRIu64
					 " s", wd->what, s);
			stalled = true;
		} else {
			wd_status(wd, status, sizeof(status));
			stalled = false;
		}
		if (strcmp(status, sent)) {
			sd_notify(0, status);
			memcpy(sent, status, sizeof(sent));
		}
		/* no ping from a loop that hangs: systemd steps in */
		if (wd->wd_usec && !stalled)
			sd_notify(0, "WATCHDOG=1");
		now += every;
		ts.tv_sec = (time_t)(now / 1000000000ull);
		ts.tv_nsec = (long)(now % 1000000000ull);
		while (!wd->stop && pthread_cond_timedwait(&wd->cond, &wd->lock,
							   &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&wd->lock);
	return NULL;
}

/* Starts the thread when NOTIFY_SOCKET is set; NULL otherwise (or when
 * it cannot: a warning, the watcher runs without).
 */
static struct watchdog *wd_start(const struct sa_live_opts *o)
{
	uint64_t period, window, usec = 0;
	pthread_condattr_t ca;
	struct watchdog *wd;
	const char *ns = getenv("NOTIFY_SOCKET");
	int err;

	if (!ns || !*ns)
		return NULL;
	wd = calloc(1, sizeof(*wd));
	if (!wd)
		return NULL;
	if (sd_watchdog_enabled(0, &usec) > 0)
		wd->wd_usec = usec;
	period = o->backend.period_ms ? o->backend.period_ms :
					SA_BACKEND_DEF_PERIOD_MS;
	window = o->backend.window_ms ? o->backend.window_ms :
					SA_BACKEND_DEF_WINDOW_MS;
	wd->stall_ns = (10 * period + window) * 1000000ull +
		       60000000000ull;
	if (wd->stall_ns < 3 * wd->wd_usec * 1000)
		wd->stall_ns = 3 * wd->wd_usec * 1000;
	wd->pid = o->backend.pid;
	wd->learn = o->baseline ? 0 : o->learn_windows ? o->learn_windows :
				      SA_LIVE_DEF_LEARN_WINDOWS;
	pthread_mutex_init(&wd->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wd->cond, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&wd->thread, NULL, wd_main, wd);
	if (err) {
		sa_msg(LOG_WARNING, "no systemd watchdog thread: %s",
		       strerror(err));
		pthread_cond_destroy(&wd->cond);
		pthread_mutex_destroy(&wd->lock);
		free(wd);
		return NULL;
	}
	return wd;
}

static void wd_stop(struct watchdog *wd)
{
	if (!wd)
		return;
	pthread_mutex_lock(&wd->lock);
	wd->stop = true;
	pthread_cond_signal(&wd->cond);
	pthread_mutex_unlock(&wd->lock);
	pthread_join(wd->thread, NULL);
	pthread_cond_destroy(&wd->cond);
	pthread_mutex_destroy(&wd->lock);
	free(wd);
}

/* The loop is running (@lv) or done (NULL). */
static void wd_attach(struct watchdog *wd, struct sa_live *lv,
		      struct sa_fleet_sender *snd)
{
	if (!wd)
		return;
	pthread_mutex_lock(&wd->lock);
	wd->lv = lv;
	wd->snd = snd;
	if (lv)
		snprintf(wd->what, sizeof(wd->what), "pid %d (%s), %s "
			 "backend", (int)wd->pid, sa_live_exe_name(lv),
			 sa_live_backend_name(lv));
	pthread_cond_signal(&wd->cond);
	pthread_mutex_unlock(&wd->lock);
}

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
	/* queued: the loop never waits for the collector */
	if (lo->otlp.ot)
		sa_otlp_log_live_summary(lo->otlp.ot, s);
	if (lo->wd) {
		pthread_mutex_lock(&lo->wd->lock);
		lo->wd->last = *s;
		lo->wd->comparing = true;
		pthread_mutex_unlock(&lo->wd->lock);
	}
}

/* Every decoded window: counted for STATUS=, queued for the fleet. */
static void on_window(void *ctx, const struct sa_hist *h, const char *path)
{
	struct live_out *lo = ctx;

	if (lo->wd) {
		pthread_mutex_lock(&lo->wd->lock);
		lo->wd->windows++;
		pthread_mutex_unlock(&lo->wd->lock);
	}
	if (lo->snd)
		sa_tool_fleet_window(lo->snd, h, path);
}

static void on_event(void *ctx, const struct sa_live_event *ev)
{
	struct live_out *lo = ctx;

	if (lo->jsonl)
		sa_live_write_event_json(lo->lv, ev, lo->f);
	else
		sa_live_write_event_text(lo->lv, ev, lo->f);
	if (lo->otlp.ot)
		sa_otlp_log_live_event(lo->otlp.ot, ev);
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

/*
 * systemd: READY=1 once watching, WATCHDOG=1 from the supervising loop,
 * STOPPING=1 on the way out; nothing without NOTIFY_SOCKET.
 */
static void notify_ready(void)
{
	sd_notify(0, "READY=1");
}

static void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

/* Watches @o->backend.pid until a stop signal, the target's exit or the
 * count; prints the counters.  The exit status.  @child: one target of
 * a supervisor (its messages name the pid).
 */
static int watch_one_run(struct sa_live_opts *o, struct live_out *lo,
			 bool child)
{
	struct sa_fleet *fl = NULL;
	struct sa_live_stats st;
	struct sa_errinfo ei;
	struct sa_live *lv;
	char who[32] = "", gov[256];
	int err;

	if (child)
		snprintf(who, sizeof(who), "pid %d: ", (int)o->backend.pid);
	else
		lo->wd = wd_start(o);
	if (lo->fleet) {
		fl = sa_fleet__new(lo->fleet, &ei);
		if (fl)
			lo->snd = sa_fleet_sender__new(fl, lo->fleet_queue,
						       &ei);
		if (!fl || !lo->snd) {
			sa_err("%s--fleet: %s", who,
			       ei.msg[0] ? ei.msg : strerror(errno));
			sa_fleet__free(fl);
			wd_stop(lo->wd);
			lo->wd = NULL;
			return SA_EXIT_FAIL;
		}
	}
	/* the loop knows nothing of the fleet: a window callback */
	o->window_fn = on_window;
	o->window_ctx = lo;
	if (lo->cache_dir) {
		/* the loop takes its own reference; the lines are written
		 * when the loop drops the cache, at its end
		 */
		o->decode.cache = sa_image_cache__new();
		err = o->decode.cache ?
		      sa_image_cache_set_dir(o->decode.cache, lo->cache_dir) :
		      -ENOMEM;
		if (err) {
			sa_err("%s--cache-dir %s: %s", who, lo->cache_dir,
			       sa_strerror(err));
			sa_image_cache__free(o->decode.cache);
			o->decode.cache = NULL;
			err = SA_EXIT_FAIL;
			goto out_fleet;
		}
	}
	lv = sa_live__new(o, &ei);
	sa_image_cache__free(o->decode.cache);
	o->decode.cache = NULL;
	if (!lv) {
		sa_err("%s%s", who, ei.msg[0] ? ei.msg : strerror(errno));
		err = SA_EXIT_FAIL;
		goto out_fleet;
	}
	lo->lv = lv;
	if (o->backend.window_insns &&
	    strcmp(sa_live_backend_name(lv), "emulate")) {
		sa_err("%s--window %" PRIu64 "insn: only the emulated backend "
		       "counts instructions; %s windows are timed", who,
		       o->backend.window_insns, sa_live_backend_name(lv));
		err = SA_EXIT_USAGE;
		goto out_live;
	}
	if (lo->otlp.url) {
		struct sa_otlp_opts oo = {
			.host = sa_live_host_name(lv),
			.pid = o->backend.pid,
			.exe_name = sa_live_exe_name(lv),
			.exe_path = sa_live_exe_path(lv),
		};

		if (sa_tool_otlp_start("watch", &lo->otlp, &oo)) {
			err = SA_EXIT_FAIL;
			goto out_live;
		}
	}
	sa_note("watching pid %d with the %s backend%s%s",
		(int)o->backend.pid, sa_live_backend_name(lv),
		sa_live_backend_note(lv) ? ": " : "",
		sa_live_backend_note(lv) ? sa_live_backend_note(lv) : "");
	wd_attach(lo->wd, lv, lo->snd);
	if (!child)
		notify_ready();

	live_lv = lv;
	if (live_stop_early)
		sa_live_request_stop(lv);
	err = sa_live_run(lv, &ei);
	live_lv = NULL;

	sa_live_stats(lv, &st);
	sa_note("%s%" PRIu64 " windows (%" PRIu64 " skipped over budget, %"
		PRIu64 " failed, %" PRIu64 " idle), %" PRIu64 " learnt, %"
		PRIu64
		" compared; %" PRIu64 " trace bytes, %" PRIu64
		" lost bytes, %" PRIu64 " loss events, %" PRIu64
		" decode errors; %" PRIu64 " instructions; decode %.3f s, "
		"capture %.3f s CPU, %.1f s wall; %" PRIu64 " anomalies",
		who, st.windows, st.windows_skipped, st.windows_failed,
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
		sa_note("%sthreads: %s%" PRIu32 " observed (tids%s%s)", who,
			st.threads_truncated ? "over " : "", st.nr_threads,
			tids, st.threads_truncated || i < st.nr_threads ?
			" ..." : "");
	}
	sa_note("%s%s", who, sa_live_format_governor(&st, gov, sizeof(gov)));
	sa_tool_otlp_finish(&lo->otlp, SA_TOOL_OTLP_FLUSH_MS);
	if (err) {
		sa_err("%s%s", who, ei.msg[0] ? ei.msg : sa_strerror(err));
		err = SA_EXIT_FAIL;
	} else {
		err = SA_EXIT_OK;
	}
out_live:
	wd_attach(lo->wd, NULL, NULL);
	sa_live__free(lv);
	lo->lv = NULL;
out_fleet:
	if (lo->snd) {
		struct sa_fleet_stats fst;
		struct sa_errinfo fei;
		char cmd[64];
		int err2;

		/* what is queued gets a last chance, then the spool */
		if (sa_fleet_sender_flush(lo->snd, LIVE_FLEET_FLUSH_MS))
			sa_msg(LOG_INFO, "%sfleet: ClickHouse did not take "
			       "the last windows in %d ms: to the spool", who,
			       LIVE_FLEET_FLUSH_MS);
		sa_fleet_sender_stop(lo->snd);
		err2 = sa_fleet_sender_error(lo->snd, &fei);
		if (err2 && fei.msg[0])
			sa_msg(err2 < 0 ? LOG_WARNING : LOG_INFO,
			       "%sfleet: %s%s", who, fei.msg, err2 > 0 ?
			       " (windows spooled)" : "");
		sa_fleet_sender_stats(lo->snd, &fst);
		snprintf(cmd, sizeof(cmd), "%sfleet", who);
		sa_tool_fleet_report(cmd, &fst);
		sa_fleet_sender__free(lo->snd);
		lo->snd = NULL;
	}
	sa_fleet__free(fl);
	wd_stop(lo->wd);
	lo->wd = NULL;
	return err;
}

/* watch_one_run() with the signal handlers in place from the start: a
 * SIGINT, SIGTERM or SIGHUP while the loop is still being set up (its
 * working directory made, the target being attached) ends it as cleanly
 * as one during the windows.
 */
static int watch_one(struct sa_live_opts *o, struct live_out *lo,
		     bool child)
{
	struct sigaction sa, old_int, old_term, old_hup;
	int ret;

	/* No SA_RESTART: the wait for the next window must see EINTR. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	live_stop_early = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);	/* a closed terminal */
	ret = watch_one_run(o, lo, child);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	return ret;
}

/*
 * Service mode: the targets are every process named --comm NAME, or every
 * process of the cgroup of --unit NAME.service.  One child process
 * watches each target (the live loop attaches to one process); the
 * supervisor looks for new targets twice a second, so that a restarted
 * target is watched again, and keeps running while there is none.
 */
#define SUPERVISE_MAX 64
#define SUPERVISE_SCAN_MS 500

struct select {
	const char *comm, *unit, *cgroup_root, *db;
};

struct target {
	pid_t pid;		/* the target */
	pid_t child;		/* its watcher; 0: none (failed, waiting for
				 * the target to go) */
	bool learner;		/* learning into --db */
};

static volatile sig_atomic_t supervise_stop;

static void on_supervise_signal(int sig)
{
	(void)sig;
	supervise_stop = 1;
}

static bool comm_matches(pid_t pid, const char *name)
{
	char path[64], comm[64];
	size_t n;
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fgets(comm, sizeof(comm), f) != NULL;
	fclose(f);
	if (!ok)
		return false;
	comm[strcspn(comm, "\n")] = '\0';
	/* the kernel keeps 15 bytes of the name (TASK_COMM_LEN) */
	n = strlen(name);
	return n > 15 ? !strncmp(comm, name, 15) && strlen(comm) == 15 :
			!strcmp(comm, name);
}

/* A zombie has no code to trace. */
static bool is_live_process(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* The pids that match now, at most @max; -1 when the unit's cgroup
 * cannot be read (the unit is not running: no targets).
 */
static int find_targets(const struct select *sel, pid_t *pids, int max)
{
	char path[512];
	int n = 0;

	if (sel->unit) {
		long long v;
		FILE *f;
		size_t len = strlen(sel->unit);

		snprintf(path, sizeof(path),
			 "%s/system.slice/%s%s/cgroup.procs", sel->cgroup_root,
			 sel->unit,
			 len > 8 && !strcmp(sel->unit + len - 8, ".service") ?
			 "" : ".service");
		f = fopen(path, "re");
		if (!f)
			return -1;
		while (n < max && fscanf(f, "%lld", &v) == 1)
			if (v > 0 && v <= INT32_MAX && v != getpid() &&
			    is_live_process((pid_t)v))
				pids[n++] = (pid_t)v;
		fclose(f);
		return n;
	} else {
		struct dirent *de;
		DIR *d = opendir("/proc");

		if (!d)
			return -1;
		while (n < max && (de = readdir(d))) {
			char *end;
			long v = strtol(de->d_name, &end, 10);

			if (*end || v <= 0 || v == getpid())
				continue;
			if (comm_matches((pid_t)v, sel->comm) &&
			    is_live_process((pid_t)v))
				pids[n++] = (pid_t)v;
		}
		closedir(d);
		return n;
	}
}

static pid_t start_watcher(struct sa_live_opts *base, struct live_out *lo,
			   pid_t pid, const char *db, bool learner)
{
	struct sa_live_opts o = *base;
	char dir[PATH_MAX];
	pid_t child, parent = getpid();
	int i;

	fflush(NULL);
	child = fork();
	if (child)
		return child;
	/* the watcher: ends with its supervisor (also one that died
	 * before the prctl)
	 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(SA_EXIT_FAIL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	/* whole lines from each watcher into the shared output */
	if (lo->f == stdout)
		setvbuf(stdout, NULL, _IOLBF, 0);
	o.backend.pid = pid;
	if (db && !access(db, F_OK))
		o.baseline = db;
	else if (db && learner)
		o.learn_db = db;
	if (o.keep_windows && o.workdir) {
		/* one directory per target: window names repeat */
		snprintf(dir, sizeof(dir), "%s/pid-%d", o.workdir, (int)pid);
		if (sa_dir_create_all(dir)) {
			sa_err("pid %d: cannot create %s", (int)pid, dir);
			_exit(SA_EXIT_FAIL);
		}
		o.workdir = dir;
	}
	i = watch_one(&o, lo, true);
	fflush(NULL);	/* _exit: no atexit flush */
	_exit(i);
}

/* STATUS=: the processes watched, or that none is. */
static void supervise_status(const struct target *t, int nt,
			     const char *what, const char *name, char *buf,
			     size_t size)
{
	size_t n;
	int i, w = 0;

	for (i = 0; i < nt; i++)
		w += t[i].child > 0;
	if (!nt) {
		snprintf(buf, size, "STATUS=no process %s %s: waiting for "
			 "one", what, name);
		return;
	}
	n = (size_t)snprintf(buf, size, "STATUS=watching %d process%s %s "
			     "%s (pid", w, w == 1 ? "" : "es", what, name);
	for (i = 0; i < nt && n < size - 16; i++)
		if (t[i].child > 0)
			n += (size_t)snprintf(buf + n, size - n, " %d",
					      (int)t[i].pid);
	if (w < nt && n < size - 40)
		n += (size_t)snprintf(buf + n, size - n, "; %d not watched: "
				      "its watcher failed", nt - w);
	if (n < size - 2)
		snprintf(buf + n, size - n, ")");
}

static int supervise(const struct select *sel, struct sa_live_opts *o,
		     struct live_out *lo)
{
	struct target t[SUPERVISE_MAX];
	pid_t found[SUPERVISE_MAX];
	struct sigaction sa = { .sa_handler = on_supervise_signal };
	const char *what = sel->comm ? "named" : "of unit";
	const char *name = sel->comm ? sel->comm : sel->unit;
	uint64_t wd_usec = 0, wd_every, now, last_wd = 0, attached = 0;
	char line[512], sent[512] = "";
	int nt = 0, nf, i, j, status;
	bool waiting_said = false, ready = false;
	struct timespec ts;
	pid_t w;

	sigemptyset(&sa.sa_mask);	/* no SA_RESTART: wake the sleep */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (sd_watchdog_enabled(0, &wd_usec) <= 0)
		wd_usec = 0;
	/* a ping at most every half of WATCHDOG_USEC, scans included */
	wd_every = wd_usec / 2 > 2 * SUPERVISE_SCAN_MS * 1000 ?
		   wd_usec / 2 - SUPERVISE_SCAN_MS * 1000 : 0;
	sa_note("watching every process %s %s (new ones and restarts "
		"too)", what, name);
	while (!supervise_stop) {
		/* the watchers that ended */
		while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < nt && t[i].child != w; i++)
				;
			if (i == nt)
				continue;
			t[i].child = 0;
			t[i].learner = false;
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				sa_msg(LOG_WARNING, "pid %d: the watcher "
				       "failed (%s %d); not retried while "
				       "pid %d lives", (int)t[i].pid,
				       WIFEXITED(status) ? "status" :
				       "signal", WIFEXITED(status) ?
				       WEXITSTATUS(status) : WTERMSIG(status),
				       (int)t[i].pid);
			else
				sa_note("pid %d ended: watching for the "
					"next process %s %s", (int)t[i].pid,
					what, name);
		}
		nf = find_targets(sel, found, SUPERVISE_MAX);
		/* targets gone: forget them (their pids may come back) */
		for (i = 0; i < nt; i++) {
			for (j = 0; j < nf && found[j] != t[i].pid; j++)
				;
			if (j == nf && !t[i].child) {
				t[i] = t[--nt];
				i--;
			}
		}
		for (j = 0; j < nf; j++) {
			bool learner = false;

			for (i = 0; i < nt && t[i].pid != found[j]; i++)
				;
			if (i < nt || nt >= SUPERVISE_MAX)
				continue;
			/* one watcher learns into --db; the others learn
			 * their own until it exists
			 */
			if (sel->db && access(sel->db, F_OK)) {
				learner = true;
				for (i = 0; i < nt; i++)
					learner &= !t[i].learner;
			}
			t[nt].pid = found[j];
			t[nt].learner = learner;
			t[nt].child = start_watcher(o, lo, found[j], sel->db,
						    learner);
			if (t[nt].child < 0) {
				sa_err("fork: %s", strerror(errno));
				t[nt].child = 0;
			}
			sa_note("%s pid %d (%s %s)", attached ?
				"re-attached to" : "attached to",
				(int)found[j], what, name);
			attached++;
			nt++;
			waiting_said = false;
		}
		if (!nt && !waiting_said) {
			sa_note("no process %s %s: waiting for one", what,
				name);
			waiting_said = true;
		}
		if (!ready) {
			notify_ready();
			ready = true;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000 +
		      (uint64_t)ts.tv_nsec / 1000;
		supervise_status(t, nt, what, name, line, sizeof(line));
		if (strcmp(line, sent)) {
			sd_notify(0, line);
			memcpy(sent, line, sizeof(sent));
		}
		if (wd_usec && now - last_wd >= wd_every) {
			sd_notify(0, "WATCHDOG=1");
			last_wd = now;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = SUPERVISE_SCAN_MS * 1000000L;
		nanosleep(&ts, NULL);
	}
	notify_stopping();
	sa_note("stopping: detaching from %d process%s", nt,
		nt == 1 ? "" : "es");
	for (i = 0; i < nt; i++)
		if (t[i].child > 0)
			kill(t[i].child, SIGTERM);
	for (i = 0; i < nt; i++)
		if (t[i].child > 0)
			waitpid(t[i].child, NULL, 0);
	return SA_EXIT_OK;
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
		{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
		{ "comm", required_argument, NULL, OPT_COMM },
		{ "unit", required_argument, NULL, OPT_UNIT },
		{ "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
		{ "binary", required_argument, NULL, 'b' },
		{ "symfs", required_argument, NULL, SA_OPT_SYMFS },
		{ "error-sink", required_argument, NULL, SA_OPT_ERROR_SINK },
		SA_TOOL_OTLP_LONGOPTS,
		{ "fleet", required_argument, NULL, OPT_FLEET },
		{ "host", required_argument, NULL, OPT_FLEET_HOST },
		{ "spool", required_argument, NULL, OPT_SPOOL },
		{ "spool-max", required_argument, NULL, OPT_SPOOL_MAX },
		{ "fleet-queue", required_argument, NULL, OPT_FLEET_QUEUE },
		{ "fleet-timeout", required_argument, NULL, OPT_FLEET_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct sa_binary_opt binaries[SA_MAX_BINARIES];
	struct sa_fleet_opts fo = { .batch = 1 };
	struct sa_live_opts o;
	struct live_out lo = { 0 };
	struct sa_common cm;
	struct select sel = { .cgroup_root = "/sys/fs/cgroup" };
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
		case OPT_CACHE_DIR:
			if (mkdir(optarg, 0700) && errno != EEXIST) {
				sa_err("--cache-dir %s: %s", optarg,
				       strerror(errno));
				return SA_EXIT_FAIL;
			}
			lo.cache_dir = optarg;
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
			if (!sa_parse_size(optarg, &fo.spool_max) ||
			    !fo.spool_max) {
				sa_err("bad --spool-max '%s': a size such as "
				       "64K, 4M, 1G", optarg);
				return SA_EXIT_USAGE;
			}
			break;
		case OPT_FLEET_QUEUE:
			if (!parse_u64_opt("fleet-queue", optarg, &v,
					   SA_FLEET_MAX_QUEUE) || !v)
				return SA_EXIT_USAGE;
			lo.fleet_queue = (size_t)v;
			break;
		case OPT_FLEET_TIMEOUT:
			if (!parse_u64_opt("fleet-timeout", optarg, &v,
					   3600000) || !v)
				return SA_EXIT_USAGE;
			fo.timeout_ms = (long)v;
			break;
		case OPT_COMM:
			if (!*optarg || strchr(optarg, '/')) {
				sa_err("bad --comm '%s': a process name "
				       "(/proc/PID/comm)", optarg);
				return SA_EXIT_USAGE;
			}
			sel.comm = optarg;
			break;
		case OPT_UNIT:
			if (!*optarg || strchr(optarg, '/') ||
			    strlen(optarg) > 200) {
				sa_err("bad --unit '%s': a unit name such as "
				       "nginx.service", optarg);
				return SA_EXIT_USAGE;
			}
			sel.unit = optarg;
			break;
		case OPT_CGROUP_ROOT:
			sel.cgroup_root = optarg;
			break;
		case 'h':
			live_usage(stdout);
			return SA_EXIT_OK;
		default:
			err = sa_tool_otlp_opt("watch", c, optarg, &lo.otlp);
			if (err < 0)
				return SA_EXIT_USAGE;
			if (err > 0)
				break;
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
	if (cm.db && (o.baseline || o.learn_db)) {
		sa_err("--db excludes --baseline and --learn-db");
		return SA_EXIT_USAGE;
	}
	if (sa_common_check_window(&cm, NULL))
		return SA_EXIT_USAGE;
	if (!!o.backend.pid + !!sel.comm + !!sel.unit != 1) {
		sa_err("give one of -p PID, --comm NAME or --unit "
		       "NAME.service");
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
		/* the sender thread waits for the requests, never the loop */
		if (!fo.timeout_ms)
			fo.timeout_ms = LIVE_FLEET_TIMEOUT_MS;
		lo.fleet = &fo;
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
	if (o.backend.pid) {
		sel.db = cm.db;
		if (cm.db && !access(cm.db, F_OK))
			o.baseline = cm.db;
		else if (cm.db)
			o.learn_db = cm.db;
		c = watch_one(&o, &lo, false);
		notify_stopping();
	} else {
		sel.db = cm.db;
		c = supervise(&sel, &o, &lo);
	}
	if (lo.f != stdout && fclose(lo.f) && c == SA_EXIT_OK) {
		sa_err("writing %s: %s", cm.output, strerror(errno));
		c = SA_EXIT_FAIL;
	}
	return c;
}
