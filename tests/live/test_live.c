// SPDX-License-Identifier: BSD-2-Clause
/*
 * The live loop end to end: the demo service runs; sa_live watches it
 * through the emulated backend, learns a baseline, and, once told that
 * the baseline is learnt, the test shifts the service's input mix
 * (SIGUSR1).  The loop must then report the error path or the cache-miss
 * path at the lines marked "DEMO error" / "DEMO miss" in the service's
 * source (found here, never taken from the sensor's output), stop when
 * asked from its callback, and report consistent counters.
 *
 * Then an idle service (a short burst, then 1 s asleep): most windows hold
 * no instruction; they are idle windows, never failures, and they count
 * toward learning: the baseline is learnt and holds every learnt window.
 *
 * Then a thread pool (pool_service: the main thread only joins, two
 * workers do the work): the emulated backend traces the threads that run,
 * so the windows are the workers' (their thread ids, printed by the
 * service, are the ground truth), the baseline is learnt from them, and a
 * change in the workers' job mix (SIGUSR1) ranks the branch at the line
 * marked "POOL error" first.
 *
 * Then the same as the live records test through the command line: the
 * real `sensor-agent --pid PID --backend emulate -f jsonl` on the demo
 * service, shifted once its first comparison is printed and shifted back
 * once the error path is ongoing, stopped (SIGTERM) once it is resolved;
 * python3 parses every line it printed and checks the records.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sensor/baseline.h"
#include "sensor/live.h"

#include "testutil.h"

static const char *service, *idle_service, *pool_service, *sensor;

/* The time bound of the windows on busy services, whose checks count
 * 4000 instructions a window: only a safety net, never what ends a
 * busy window.  4000 single-steps take about 0.4 s at load 24 on 2
 * cores (the emu suite's 18,011 steps: 1.8 s), slower again in the
 * sanitized build; a 2 s bound ended a pool window at 3371 instructions
 * on a loaded machine (63371 < 64000).
 */
#define BUSY_WINDOW_MS 10000

struct live_ctx {
	struct sa_live *lv;
	pid_t pid;
	bool shifted;
	unsigned hits, others, notes;
	int line_error, line_miss;
};

static int marker_line_in(const char *file, const char *marker)
{
	const char *dir = getenv("SA_SOURCE_DIR");
	char path[4096], buf[512];
	int n = 0, found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/scenarios/%s",
		 dir ? dir : ".", file);
	f = fopen(path, "r");
	ck_assert_msg(f, "cannot read %s", path);
	while (fgets(buf, sizeof(buf), f)) {
		n++;
		if (strstr(buf, marker)) {
			found = n;
			break;
		}
	}
	fclose(f);
	ck_assert_msg(found, "no %s in %s", marker, path);
	return found;
}

static int marker_line(const char *marker)
{
	return marker_line_in("demo_service.c", marker);
}

/* A service a test watches: its pid and the read end of its stdout. */
struct service {
	pid_t pid;
	int fd;
};

/* Starts @path @arg with its stdout on a pipe and waits until it is in
 * its request loop: its first output ("ready ..."), NUL-terminated in
 * @buf.
 */
static void service_start(struct service *sv, const char *path,
			  const char *arg, char *buf, size_t size)
{
	int pfd[2];
	ssize_t n;

	ck_assert_int_eq(pipe(pfd), 0);
	sv->pid = fork();
	ck_assert_int_ge(sv->pid, 0);
	if (!sv->pid) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execl(path, path, arg, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	sv->fd = pfd[0];
	n = read(sv->fd, buf, size - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
}

/* Ends the service with SIGTERM: it must exit 0, and with @alive it
 * must have kept running until then.
 */
static void service_stop(struct service *sv, bool alive)
{
	int status;

	if (alive)
		ck_assert_int_eq(waitpid(sv->pid, &status, WNOHANG), 0);
	kill(sv->pid, SIGTERM);
	ck_assert_int_eq(waitpid(sv->pid, &status, 0), sv->pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv->fd);
}

/* The loop's backend in every test: the emulated one on @pid, windows
 * of 4000 instructions and at most @window_ms, 30 ms apart, the CPU
 * budget a whole core.
 */
static void emulate_on(struct sa_live_opts *o, pid_t pid, uint64_t window_ms)
{
	o->backend.kind = SA_BACKEND_EMULATE;
	o->backend.pid = pid;
	o->backend.window_insns = 4000;
	o->backend.window_ms = window_ms;
	o->backend.period_ms = 30;
	o->backend.budget.cpu_permille = 1000;
}

static void on_note(void *ctx, const char *msg)
{
	struct live_ctx *c = ctx;

	c->notes++;
	if (strstr(msg, "baseline learnt") && !c->shifted) {
		kill(c->pid, SIGUSR1);
		c->shifted = true;
	}
}

static void on_anomaly(void *ctx, const struct sa_anomaly *a, uint64_t group,
		       uint64_t first, uint64_t last)
{
	struct live_ctx *c = ctx;

	ck_assert_msg(c->shifted, "anomaly before the shift: %s:%d",
		      a->function, a->line);
	ck_assert_uint_le(first, last);
	if ((!strcmp(a->function, "parse_request") &&
	     a->line == c->line_error) ||
	    (!strcmp(a->function, "cache_get") && a->line == c->line_miss))
		c->hits++;
	else
		c->others++;
	/* Enough seen: stop from inside the loop, as a signal would. */
	if (c->hits >= 2)
		sa_live_request_stop(c->lv);
	(void)group;
}

START_TEST(test_live_demo)
{
	struct live_ctx c = { 0 };
	struct sa_live_opts o = { 0 };
	struct sa_live_stats st;
	struct sa_errinfo ei;
	struct service sv;
	char buf[64];

	c.line_error = marker_line("DEMO error");
	c.line_miss = marker_line("DEMO miss");
	/* "ready <pid>": the service is in its request loop. */
	service_start(&sv, service, "7", buf, sizeof(buf));
	c.pid = sv.pid;

	emulate_on(&o, c.pid, BUSY_WINDOW_MS);
	o.learn_windows = 10;
	o.group = 3;
	o.max_windows = 60;
	o.anomaly_fn = on_anomaly;
	o.note_fn = on_note;
	o.ctx = &c;
	c.lv = sa_live__new(&o, &ei);
	ck_assert_msg(c.lv, "%s", ei.msg);
	ck_assert_str_eq(sa_live_backend_name(c.lv), "emulate");
	ck_assert_msg(sa_live_run(c.lv, &ei) == 0, "%s", ei.msg);
	sa_live_stats(c.lv, &st);
	sa_live__free(c.lv);

	/* The service kept running through it all. */
	service_stop(&sv, true);

	printf("live: %llu windows, %llu learnt, %llu compared, %llu "
	       "anomalies (%u at the marked lines, %u others), %llu trace "
	       "bytes, decode %.3f s\n",
	       (unsigned long long)st.windows, (unsigned long long)st.learnt,
	       (unsigned long long)st.analyses,
	       (unsigned long long)st.anomalies, c.hits, c.others,
	       (unsigned long long)st.trace_bytes, st.decode_ns / 1e9);
	ck_assert(c.shifted);
	ck_assert_uint_eq(st.learnt, 10);
	ck_assert_uint_ge(c.hits, 2);
	/* Stopped on request, well before max_windows. */
	ck_assert_uint_lt(st.windows, 60);
	ck_assert_uint_eq(st.anomalies, c.hits + c.others);
	ck_assert_uint_gt(st.trace_bytes, 0);
	ck_assert_uint_eq(st.instructions, 4000 * st.windows);
}
END_TEST

/* Live records: the service is shifted once the baseline is learnt,
 * shifted back (SIGUSR2) once its error path is reported as ongoing, and
 * the loop stops once that anomaly is resolved.  Every record goes
 * through the library's JSON-lines writers into a buffer that Python
 * then checks (JSON, RFC 3339 times).
 */
struct states_ctx {
	struct sa_live *lv;
	pid_t pid;
	bool shifted, back;
	int line_error, line_caller;
	FILE *out;
	unsigned nr_new, nr_ongoing, nr_resolved, summaries;
	unsigned caller_folded, caller_apart;
	uint64_t next_comparison, expect_events;
	bool error_now;		/* parse_request:90 in this comparison */
	bool caller_now;	/* handle's branch reported on its own */
	bool failed;
	char why[256];
};

static void states_fail(struct states_ctx *c, const char *why)
{
	if (!c->failed)
		snprintf(c->why, sizeof(c->why), "%s", why);
	c->failed = true;
	sa_live_request_stop(c->lv);
}

static void states_note(void *ctx, const char *msg)
{
	struct states_ctx *c = ctx;

	if (strstr(msg, "baseline learnt") && !c->shifted) {
		kill(c->pid, SIGUSR1);
		c->shifted = true;
	}
}

static void states_end_comparison(struct states_ctx *c)
{
	if (c->error_now && c->caller_now)
		c->caller_apart++;
	c->error_now = c->caller_now = false;
}

static void states_summary(void *ctx, const struct sa_live_summary *s)
{
	struct states_ctx *c = ctx;

	states_end_comparison(c);
	if (c->expect_events)
		states_fail(c, "fewer events than the summary said");
	if (s->comparison != c->next_comparison)
		states_fail(c, "comparisons not numbered one by one");
	c->next_comparison = s->comparison + 1;
	c->expect_events = s->anomalies + s->resolved;
	if (s->compared && s->anomalies !=
	    s->new_anomalies + s->ongoing)
		states_fail(c, "anomalies != new + ongoing");
	if (s->first_window > s->last_window || !s->windows ||
	    s->windows > s->last_window - s->first_window + 1)
		states_fail(c, "summary windows do not match its range");
	c->summaries++;
	ck_assert_int_eq(sa_live_write_summary_json(c->lv, s, c->out), 0);
}

static void states_event(void *ctx, const struct sa_live_event *ev)
{
	struct states_ctx *c = ctx;
	const struct sa_anomaly *a = ev->a;
	bool error = !strcmp(a->function, "parse_request") &&
		     a->line == c->line_error;
	size_t i;

	ck_assert_int_eq(sa_live_write_event_json(c->lv, ev, c->out), 0);
	if (!c->expect_events)
		states_fail(c, "an event beyond its summary's count");
	else
		c->expect_events--;
	if (!c->shifted)
		states_fail(c, "an anomaly before the shift");
	if (ev->comparisons < 1 || ev->first_seen_window > ev->last_window)
		states_fail(c, "bad first_seen or comparisons");
	if (!strcmp(a->function, "handle") && a->line == c->line_caller &&
	    ev->state != SA_LIVE_RESOLVED)
		c->caller_now = true;
	if (!error)
		return;
	if (ev->state != SA_LIVE_RESOLVED) {
		c->error_now = true;
		for (i = 0; i < a->nr_also; i++)
			if (!strcmp(a->also[i].function, "handle") &&
			    a->also[i].line == c->line_caller &&
			    a->also[i].relation == SA_ANOM_REL_CALLER)
				c->caller_folded++;
	}
	switch (ev->state) {
	case SA_LIVE_NEW:
		c->nr_new++;
		if (ev->comparisons != 1 ||
		    ev->first_seen_window != ev->first_window)
			states_fail(c, "a new anomaly seen before");
		break;
	case SA_LIVE_ONGOING:
		if (!c->nr_new)
			states_fail(c, "ongoing before new");
		if (ev->comparisons < 2 ||
		    ev->first_seen_window >= ev->first_window)
			states_fail(c, "ongoing without an earlier comparison");
		c->nr_ongoing++;
		if (!c->back) {
			kill(c->pid, SIGUSR2);	/* the shift back */
			c->back = true;
		}
		break;
	case SA_LIVE_RESOLVED:
		if (!c->back)
			states_fail(c, "resolved before the shift back");
		if (ev->last_seen_window >= ev->first_window)
			states_fail(c, "resolved but seen in this comparison");
		c->nr_resolved++;
		sa_live_request_stop(c->lv);
		break;
	}
}

static unsigned count_lines_with(const char *buf, const char *needle)
{
	const char *p = buf, *nl;
	unsigned n = 0;

	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		if (memmem(p, (size_t)(nl - p), needle, strlen(needle)))
			n++;
	}
	return n;
}

START_TEST(test_live_states)
{
	struct states_ctx c = { 0 };
	struct sa_live_opts o = { 0 };
	struct sa_live_stats st;
	struct sa_errinfo ei;
	char buf[64], host[256], *out = NULL, pidf[64];
	struct service sv;
	size_t len = 0;

	c.line_error = marker_line("DEMO error");
	c.line_caller = marker_line("DEMO caller");
	service_start(&sv, service, "11", buf, sizeof(buf));
	c.pid = sv.pid;
	c.out = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(c.out);

	emulate_on(&o, c.pid, BUSY_WINDOW_MS);
	o.learn_windows = 10;
	o.group = 3;
	o.max_windows = 75;
	o.event_fn = states_event;
	o.summary_fn = states_summary;
	o.note_fn = states_note;
	o.ctx = &c;
	c.lv = sa_live__new(&o, &ei);
	ck_assert_msg(c.lv, "%s", ei.msg);
	ck_assert_msg(sa_live_run(c.lv, &ei) == 0, "%s", ei.msg);
	states_end_comparison(&c);
	sa_live_stats(c.lv, &st);
	sa_live__free(c.lv);
	fclose(c.out);
	service_stop(&sv, false);

	printf("live states: %llu windows, %llu compared, %u summaries; "
	       "error path: %u new, %u ongoing, %u resolved; its caller's "
	       "branch folded under it %u times, apart %u times\n",
	       (unsigned long long)st.windows,
	       (unsigned long long)st.analyses, c.summaries, c.nr_new,
	       c.nr_ongoing, c.nr_resolved, c.caller_folded, c.caller_apart);
	ck_assert_msg(!c.failed, "%s", c.why);
	ck_assert_uint_eq(c.expect_events, 0);
	ck_assert_uint_eq(c.nr_new, 1);
	ck_assert_uint_ge(c.nr_ongoing, 1);
	ck_assert_uint_eq(c.nr_resolved, 1);
	/* one summary per comparison, the idle ones included */
	ck_assert_uint_ge(c.summaries, st.analyses);
	/* the demo's caller/callee pair: one report */
	ck_assert_uint_eq(c.caller_apart, 0);
	ck_assert_uint_ge(c.caller_folded, 1);

	/* the records, as a log shipper reads them */
	ck_assert_int_eq(sa_test_json_lines_valid(out), 0);
	ck_assert_uint_eq(count_lines_with(out, "\"record\":\"summary\""),
			  c.summaries);
	ck_assert_uint_eq(count_lines_with(out,
		"\"schema\":\"sensor-agent.live-summary/1\""), c.summaries);
	ck_assert_uint_ge(count_lines_with(out, "\"state\":\"new\""), 1);
	ck_assert_uint_ge(count_lines_with(out, "\"state\":\"ongoing\""), 1);
	ck_assert_uint_ge(count_lines_with(out, "\"state\":\"resolved\""), 1);
	ck_assert_uint_eq(count_lines_with(out, "\"time\":\""),
			  count_lines_with(out, "\"record\":\""));
	snprintf(pidf, sizeof(pidf), "\"process.pid\":%d,", (int)c.pid);
	ck_assert_uint_eq(count_lines_with(out, pidf),
			  count_lines_with(out, "\"record\":\""));
	ck_assert_uint_eq(count_lines_with(out,
		"\"process.executable.name\":\"demo_service\""),
		count_lines_with(out, "\"record\":\""));
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	snprintf(buf, sizeof(buf), "\"host.name\":\"%.40s\"", host);
	ck_assert_uint_eq(count_lines_with(out, buf),
			  count_lines_with(out, "\"record\":\""));
	ck_assert_uint_eq(count_lines_with(out, "\"window.first\":"),
			  count_lines_with(out, "\"record\":\""));
	/* (resolved records repeat their last report's list) */
	ck_assert_uint_ge(count_lines_with(out, "\"function\":\"handle\","
				"\"file\":"), c.caller_folded);
	free(out);
}
END_TEST

static void on_idle_note(void *ctx, const char *msg)
{
	unsigned *notes = ctx;

	(*notes)++;
	fprintf(stderr, "note: %s\n", msg);
}

START_TEST(test_live_idle)
{
	struct sa_live_opts o = { 0 };
	struct sa_baseline_build b;
	struct sa_live_stats st;
	struct sa_baseline *bl;
	struct sa_errinfo ei;
	char buf[64], db[4200];
	unsigned notes = 0;
	struct sa_live *lv;
	struct service sv;

	service_start(&sv, idle_service, "1000", buf, sizeof(buf));
	snprintf(db, sizeof(db), "%s", sa_test_path("idle.db"));
	emulate_on(&o, sv.pid, 300);
	o.learn_windows = 6;
	o.learn_db = db;
	o.group = 2;
	/* About one window in five catches a burst: 40 windows make a
	 * run with too few busy ones to learn and compare (p < 1e-3)
	 * unlikely, also under ASan, where windows are sparser.
	 */
	o.max_windows = 40;
	o.note_fn = on_idle_note;
	o.ctx = &notes;
	lv = sa_live__new(&o, &ei);
	ck_assert_msg(lv, "%s", ei.msg);
	ck_assert_msg(sa_live_run(lv, &ei) == 0, "%s", ei.msg);
	sa_live_stats(lv, &st);
	sa_live__free(lv);
	service_stop(&sv, false);
	printf("live idle: %llu windows, %llu idle, %llu failed, %llu learnt, "
	       "%llu compared\n", (unsigned long long)st.windows,
	       (unsigned long long)st.windows_idle,
	       (unsigned long long)st.windows_failed,
	       (unsigned long long)st.learnt,
	       (unsigned long long)st.analyses);
	ck_assert_uint_eq(st.windows_failed, 0);
	ck_assert_uint_eq(st.windows, 40);
	/* asleep 1 s of every ~1.001 s: most windows are idle */
	ck_assert_uint_ge(st.windows_idle, 4);
	ck_assert_uint_lt(st.windows_idle, st.windows);
	ck_assert_uint_ge(st.learnt, 6);
	ck_assert_uint_gt(st.analyses, 0);
	/* The baseline holds every learnt window, idle ones included. */
	bl = sa_baseline__open(db, SA_BASELINE_RDONLY, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	ck_assert_msg(sa_baseline_find_build(bl, idle_service, &b, &ei) == 0,
		      "%s", ei.msg);
	ck_assert_uint_eq(b.added, st.learnt);
	sa_baseline__free(bl);
}
END_TEST

struct pool_ctx {
	struct sa_live *lv;
	pid_t pid;
	bool shifted;
	int line;
	int64_t first_group;	/* the first group after the shift that
				 * reported anything */
	bool first_is_marker;
	char first[300];
	unsigned reported;
};

static void on_pool_note(void *ctx, const char *msg)
{
	struct pool_ctx *c = ctx;

	if (strstr(msg, "baseline learnt") && !c->shifted) {
		kill(c->pid, SIGUSR1);
		c->shifted = true;
	}
}

static void on_pool_anomaly(void *ctx, const struct sa_anomaly *a,
			    uint64_t group, uint64_t first, uint64_t last)
{
	struct pool_ctx *c = ctx;

	ck_assert_msg(c->shifted, "anomaly before the shift: %s:%d",
		      a->function, a->line);
	(void)first;
	(void)last;
	if (c->first_group < 0) {
		/* Called in rank order: this is the group's first. */
		c->first_group = (int64_t)group;
		c->first_is_marker = !strcmp(a->function, "handle_job") &&
				     a->line == c->line;
		snprintf(c->first, sizeof(c->first), "%s:%d", a->function,
			 a->line);
	}
	if ((int64_t)group != c->first_group)
		sa_live_request_stop(c->lv);
	c->reported++;
}

/* Each kept window is one thread's, a worker's: the thread the decoder
 * counts (decode.tids) is one of the tids the service printed, and the
 * one perf script names (the peer) when perf is here.  Both workers are
 * among the windows.
 */
static void check_pool_windows(const char *dir, uint64_t nr,
			       const int tids[2])
{
	unsigned per_worker[2] = { 0, 0 }, peer = 0;
	char path[4200], cmd[4400], out[256];
	uint64_t k;

	for (k = 0; k < nr; k++) {
		struct sa_decode_opts dopts = { 0 };
		const struct sa_hist_decode *d;
		struct sa_errinfo ei;
		struct sa_hist *h = sa_hist__new();
		int tid;

		snprintf(path, sizeof(path), "%s/window-%llu.data", dir,
			 (unsigned long long)k);
		ck_assert_msg(sa_decode_file(path, &dopts, h, &ei) >= 0,
			      "%s", ei.msg);
		d = sa_hist_decode(h);
		ck_assert_uint_eq(d->nr_tids, 1);
		tid = d->tids[0];
		sa_hist__free(h);
		if (tid == tids[0])
			per_worker[0]++;
		else if (tid == tids[1])
			per_worker[1]++;
		if (k >= 2 || !sa_test_have("perf"))
			continue;
		/* perf's view of the same window: the tid of its
		 * branch samples.
		 */
		snprintf(cmd, sizeof(cmd), "perf script -i '%s' -F tid "
			 "--itrace=b 2>/dev/null | sort -u | head -2", path);
		{
			FILE *f = popen(cmd, "r");
			size_t n;

			ck_assert_ptr_nonnull(f);
			n = fread(out, 1, sizeof(out) - 1, f);
			out[n] = '\0';
			pclose(f);
		}
		if (!out[0])
			continue;	/* an idle window: no sample */
		/* one tid, one line */
		ck_assert_msg(strtol(out, NULL, 10) == tid &&
			      strchr(out, '\n') == strrchr(out, '\n'),
			      "perf script tids '%s', decoder %d", out, tid);
		peer++;
	}
	printf("live pool: windows of worker %d: %u, of worker %d: %u; "
	       "%u checked with perf script\n", tids[0], per_worker[0],
	       tids[1], per_worker[1], peer);
	ck_assert_uint_gt(per_worker[0], 0);
	ck_assert_uint_gt(per_worker[1], 0);
}

START_TEST(test_live_pool)
{
	struct pool_ctx c = { .first_group = -1 };
	struct sa_live_opts o = { 0 };
	int tids[2], pid;
	struct service sv;
	struct sa_live_stats st;
	struct sa_errinfo ei;
	bool seen[2] = { false, false };
	char buf[128];
	uint32_t i;

	c.line = marker_line_in("pool_service.c", "/* POOL error */");
	service_start(&sv, pool_service, "3", buf, sizeof(buf));
	c.pid = sv.pid;
	ck_assert_int_eq(sscanf(buf, "ready %d %d %d", &pid, &tids[0],
				&tids[1]), 3);
	ck_assert_int_eq(pid, c.pid);

	emulate_on(&o, c.pid, BUSY_WINDOW_MS);
	o.learn_windows = 10;
	o.group = 3;
	o.max_windows = 40;
	o.workdir = sa_test_path("pool-windows");
	o.keep_windows = true;
	o.anomaly_fn = on_pool_anomaly;
	o.note_fn = on_pool_note;
	o.ctx = &c;
	c.lv = sa_live__new(&o, &ei);
	ck_assert_msg(c.lv, "%s", ei.msg);
	ck_assert_msg(sa_live_run(c.lv, &ei) == 0, "%s", ei.msg);
	sa_live_stats(c.lv, &st);
	sa_live__free(c.lv);

	/* The service kept running through it all, and ends cleanly. */
	service_stop(&sv, true);

	printf("live pool: %llu windows (%llu idle, %llu failed), %llu "
	       "learnt, %llu compared, %llu instructions, %u threads "
	       "observed (workers %d %d), first anomaly %s in group %lld\n",
	       (unsigned long long)st.windows,
	       (unsigned long long)st.windows_idle,
	       (unsigned long long)st.windows_failed,
	       (unsigned long long)st.learnt,
	       (unsigned long long)st.analyses,
	       (unsigned long long)st.instructions, st.nr_threads, tids[0],
	       tids[1], c.first[0] ? c.first : "(none)",
	       (long long)c.first_group);
	ck_assert_uint_eq(st.windows_failed, 0);
	ck_assert(c.shifted);
	ck_assert_uint_eq(st.learnt, 10);
	/* The workers ran between nearly all windows: at most a few
	 * windows watched a thread that did nothing traced.
	 */
	ck_assert_uint_le(st.windows_idle * 4, st.windows);
	ck_assert_uint_ge(st.instructions,
			  4000 * (st.windows - st.windows_idle));
	for (i = 0; i < st.nr_threads; i++) {
		if (st.tids[i] == tids[0])
			seen[0] = true;
		else if (st.tids[i] == tids[1])
			seen[1] = true;
	}
	ck_assert_msg(seen[0] && seen[1], "workers %d and %d not both "
		      "observed (%u threads)", tids[0], tids[1],
		      st.nr_threads);
	check_pool_windows(o.workdir, st.windows, tids);
	ck_assert_msg(c.first_group >= 0, "no anomaly after the shift");
	ck_assert_msg(c.first_is_marker, "ranked first: %s, not "
		      "handle_job:%d", c.first, c.line);
}
END_TEST

/* Checks the sensor's JSON lines (argv: FILE PID ERROR_LINE): every line
 * is a JSON object with an RFC 3339 UTC time, this host, the pid; one
 * summary per comparison, numbered one by one, each followed by as many
 * anomaly records as it announced; the error path's records go new,
 * ongoing, resolved.
 */
static const char cli_check[] =
"import datetime, json, socket, sys\n"
"path, pid, line = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
"recs = []\n"
"for i, l in enumerate(open(path, encoding='utf-8')):\n"
"    try:\n"
"        o = json.loads(l)\n"
"    except ValueError as e:\n"
"        sys.exit('line %d is not JSON: %s: %r' % (i + 1, e, l[:200]))\n"
"    assert isinstance(o, dict), i + 1\n"
"    t = o['time']\n"
"    d = datetime.datetime.strptime(t, '%Y-%m-%dT%H:%M:%S.%fZ')\n"
"    now = datetime.datetime.utcnow()\n"
"    assert abs((now - d).total_seconds()) < 3600, (i + 1, t)\n"
"    assert o['host.name'] == socket.gethostname(), (i + 1, o)\n"
"    assert o['process.pid'] == pid, (i + 1, o['process.pid'])\n"
"    assert o['process.executable.name'] == 'demo_service', i + 1\n"
"    assert o['record'] in ('summary', 'anomaly'), (i + 1, o['record'])\n"
"    recs.append(o)\n"
"sums = [o for o in recs if o['record'] == 'summary']\n"
"assert sums, 'no summary record'\n"
"comps = [o['comparison'] for o in sums]\n"
"assert comps == list(range(comps[0], comps[0] + len(comps))), comps\n"
"want = 0\n"
"for o in recs:\n"
"    if o['record'] == 'summary':\n"
"        assert want == 0, ('missing anomaly records', o)\n"
"        assert o['status'] in ('compared', 'idle'), o\n"
"        assert o['window.first'] <= o['window.last'], o\n"
"        want = o['anomalies'] + o['resolved']\n"
"        cur = o['comparison']\n"
"    else:\n"
"        assert want > 0, ('an anomaly beyond its summary', o)\n"
"        assert o['comparison'] == cur, o\n"
"        want -= 1\n"
"assert want == 0, 'the last summary lacks anomaly records'\n"
"states = [o['state'] for o in recs if o['record'] == 'anomaly' and\n"
"          o['code.function.name'] == 'parse_request' and\n"
"          o['code.line.number'] == line]\n"
"for s in ('new', 'ongoing', 'resolved'):\n"
"    assert s in states, ('no %s record of parse_request:%d' % (s, line),\n"
"                         states)\n"
"assert states.index('new') < states.index('ongoing') < \\\n"
"       states.index('resolved'), states\n"
"print('%d records, %d summaries (comparisons %d-%d), error path: %s' %\n"
"      (len(recs), len(sums), comps[0], comps[-1], ' '.join(states)),\n"
"      file=sys.stderr)\n";

START_TEST(test_live_cli_jsonl)
{
	char pidarg[32], buf[64], errline[32];
	char *line = NULL, *log, *msg;
	const char *out = sa_test_path("live-cli.jsonl");
	const char *errf = sa_test_path("live-cli.err");
	const char *chk = sa_test_path("live-cli-check.err");
	int opipe[2], status, line_error, st;
	bool shifted = false, back = false, stopped = false;
	struct service sv;
	size_t cap = 0;
	pid_t svc, sa;
	FILE *in, *f;

	line_error = marker_line("DEMO error");
	service_start(&sv, service, "11", buf, sizeof(buf));
	svc = sv.pid;

	snprintf(pidarg, sizeof(pidarg), "%d", (int)svc);
	ck_assert_int_eq(pipe(opipe), 0);
	sa = fork();
	ck_assert_int_ge(sa, 0);
	if (!sa) {
		int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(opipe[1], 1);
		if (fd >= 0)
			dup2(fd, 2);
		close(opipe[0]);
		close(sv.fd);
		execl(sensor, sensor, "--pid", pidarg, "--backend", "emulate",
		      "-f", "jsonl", "--window-insns", "4000",
		      "--window-ms", "2000", "--period-ms", "30",
		      "--cpu-budget", "1000", "--learn", "10", "--group", "3",
		      "--max-windows", "90", (char *)NULL);
		_exit(127);
	}
	close(opipe[1]);
	in = fdopen(opipe[0], "r");
	ck_assert_ptr_nonnull(in);
	f = fopen(out, "w");
	ck_assert_ptr_nonnull(f);
	snprintf(errline, sizeof(errline), "\"code.line.number\":%d,",
		 line_error);
	/* Bounded by --max-windows: the sensor ends by itself at worst. */
	while (getline(&line, &cap, in) > 0) {
		bool err_path = strstr(line, "\"code.function.name\":"
					     "\"parse_request\"") &&
				strstr(line, errline);

		fputs(line, f);
		if (!shifted && strstr(line, "\"record\":\"summary\"")) {
			kill(svc, SIGUSR1);	/* learnt: comparing */
			shifted = true;
		}
		if (err_path && !back &&
		    strstr(line, "\"state\":\"ongoing\"")) {
			kill(svc, SIGUSR2);	/* the shift back */
			back = true;
		}
		if (err_path && back && !stopped &&
		    strstr(line, "\"state\":\"resolved\"")) {
			kill(sa, SIGTERM);
			stopped = true;
		}
	}
	free(line);
	fclose(in);
	fclose(f);
	ck_assert_int_eq(waitpid(sa, &status, 0), sa);
	log = sa_test_slurp(errf, NULL);
	fprintf(stderr, "sensor-agent's stderr:\n%s", log ? log : "");
	free(log);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "sensor-agent status %#x", status);
	service_stop(&sv, false);
	ck_assert_msg(shifted && back && stopped, "the run ended before the "
		      "error path was resolved (shifted %d, back %d)",
		      shifted, back);
	{
		char *argv[] = { "python3", "-c", (char *)cli_check,
				 (char *)out, pidarg, errline, NULL };

		snprintf(errline, sizeof(errline), "%d", line_error);
		st = sa_test_exec(argv, NULL, chk);
	}
	msg = sa_test_slurp(chk, NULL);
	fprintf(stderr, "%s", msg ? msg : "");
	ck_assert_msg(st == 0, "the JSON lines check failed: %s",
		      msg ? msg : "");
	free(msg);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("live");
	TCase *tc = tcase_create("demo service");

	sa_test_require_ptrace();
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s DEMO_SERVICE IDLE_SERVICE "
			"POOL_SERVICE [SENSOR_AGENT]\n", argv[0]);
		return 2;
	}
	service = argv[1];
	idle_service = argv[2];
	pool_service = argv[3];
	sensor = argc == 5 ? argv[4] : NULL;
	tcase_add_test(tc, test_live_demo);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("live records");
	tcase_add_test(tc, test_live_states);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("idle service");
	tcase_add_test(tc, test_live_idle);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("thread pool");
	tcase_add_test(tc, test_live_pool);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	if (sensor) {
		tc = tcase_create("command line, jsonl");
		tcase_add_test(tc, test_live_cli_jsonl);
		tcase_set_timeout(tc, 120);
		suite_add_tcase(s, tc);
	}
	return sa_test_run(s);
}
