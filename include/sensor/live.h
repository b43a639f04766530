/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: the live loop.
 *
 * Watches one process: captures trace windows through a window source
 * (<sensor/backend.h>: Intel PT, CoreSight or the emulated sensor),
 * decodes each into a history within the backend's CPU budget, learns a
 * baseline from the first windows (or uses a given one) and then compares
 * every group of windows with it, handing each significant anomaly to a
 * callback as it appears.
 *
 *	struct sa_live_opts o = { .backend = { .pid = pid },
 *				  .learn_windows = 20,
 *				  .anomaly_fn = print, .ctx = f };
 *	lv = sa_live__new(&o, &ei);
 *	signal handler: sa_live_request_stop(lv);
 *	err = sa_live_run(lv, &ei);	until stop, the target's exit
 *					or max_windows; then flushes
 *	sa_live_stats(lv, &st);
 *	sa_live__free(lv);
 *
 * One thread: sa_live_run() must be called by the thread that created
 * the loop (ptrace binds a tracee to its tracer thread).
 */
#ifndef SENSOR_LIVE_H
#define SENSOR_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "sensor/anomaly.h"
#include "sensor/backend.h"
#include "sensor/error.h"
#include "sensor/session.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SA_LIVE_DEF_LEARN_WINDOWS 20
#define SA_LIVE_DEF_GROUP 1

struct sa_live;

/* Called for each significant anomaly of a group, in rank order.
 * @group is the analysis number (0, 1, ...), @first_window and
 * @last_window the window indexes it covered.
 */
typedef void (*sa_live_anomaly_fn)(void *ctx, const struct sa_anomaly *a,
				   uint64_t group, uint64_t first_window,
				   uint64_t last_window);

/* The state of an anomaly across comparisons.  Its identity is (build-id,
 * function, offset, kind, decision).
 */
enum sa_live_state {
	SA_LIVE_NEW = 1,	/* flagged now, not tracked before */
	SA_LIVE_ONGOING,	/* flagged now and by an earlier comparison */
	SA_LIVE_RESOLVED,	/* flagged before; tested now, not flagged */
};

/* "new", "ongoing", "resolved"; "unknown" for bad values. */
const char *sa_live_state_name(enum sa_live_state st);

struct sa_live_event {
	enum sa_live_state state;
	/* The anomaly as this comparison reports it; for a resolved one,
	 * as the last comparison that flagged it reported it.
	 */
	const struct sa_anomaly *a;
	uint64_t comparison;		/* 0, 1, ... (= group) */
	uint64_t first_window, last_window;	/* of this comparison */
	struct timespec time;		/* CLOCK_REALTIME of the comparison */
	/* the comparison that first flagged it (first window, time) */
	uint64_t first_seen_window;
	struct timespec first_seen;
	/* the last comparison that flagged it (this one unless resolved) */
	uint64_t last_seen_window;
	struct timespec last_seen;
	uint64_t comparisons;		/* comparisons that flagged it */
};

/* One per comparison, so a consumer can tell "nothing found" from "not
 * running".  Called before the comparison's events.
 */
struct sa_live_summary {
	uint64_t comparison;
	uint64_t first_window, last_window;
	struct timespec time;
	uint64_t windows;		/* decoded windows compared */
	uint64_t idle_windows;		/* of them */
	uint64_t instructions;
	uint64_t tests;			/* entering the FDR correction */
	uint64_t anomalies;		/* significant reports (roots) */
	uint64_t new_anomalies, ongoing, resolved;
	/* false: the group held no function of a known binary (idle
	 * windows): nothing compared, no state changed
	 */
	bool compared;
};

typedef void (*sa_live_event_fn)(void *ctx, const struct sa_live_event *ev);
/* Called with each decoded window's history and its file (which exists
 * during the call), e.g. to send it to a fleet store.
 */
typedef void (*sa_live_window_fn)(void *ctx, const struct sa_hist *h,
				  const char *path);
typedef void (*sa_live_summary_fn)(void *ctx,
				   const struct sa_live_summary *s);

/* Called on events worth telling a person: "learning done", a window
 * that failed to decode, the target's exit.  @msg is formatted.
 */
typedef void (*sa_live_note_fn)(void *ctx, const char *msg);

struct sa_live_opts {
	struct sa_backend_opts backend;
	/* Windows are decoded with these (symfs, binaries); pid is set
	 * from the backend's target.
	 */
	struct sa_decode_opts decode;
	/* An existing baseline to compare with (read-only), or NULL: learn
	 * one from the first @learn_windows windows, in @learn_db when set
	 * (created or extended), else in a file of @workdir removed at the
	 * end.
	 */
	const char *baseline;
	const char *learn_db;
	uint64_t learn_windows;		/* 0: SA_LIVE_DEF_LEARN_WINDOWS */
	uint32_t group;			/* windows per analysis; 0: 1 */
	uint64_t max_windows;		/* stop after this many; 0: never */
	/* Where window files go; NULL: a new directory under $TMPDIR,
	 * removed at the end.  Window files are removed after decoding
	 * unless @keep_windows.
	 */
	const char *workdir;
	bool keep_windows;
	struct sa_detect_opts detect;
	sa_live_anomaly_fn anomaly_fn;
	/* each new, ongoing and resolved anomaly, in rank order (resolved
	 * last), after the comparison's summary
	 */
	sa_live_event_fn event_fn;
	sa_live_summary_fn summary_fn;
	sa_live_note_fn note_fn;
	void *ctx;
	sa_live_window_fn window_fn;	/* with @window_ctx */
	void *window_ctx;
};

struct sa_live_stats {
	uint64_t windows;		/* captured and decoded */
	uint64_t windows_skipped;	/* over the CPU budget */
	uint64_t windows_failed;	/* capture or decode failed */
	uint64_t windows_idle;		/* of windows: no instruction, no
					 * error (the target slept); valid,
					 * learnt and compared like others */
	uint64_t learnt;		/* windows added to the baseline */
	uint64_t analyses;		/* groups compared */
	uint64_t anomalies;		/* significant anomalies emitted */
	uint64_t trace_bytes;
	uint64_t lost_bytes;		/* trace lost (decode) */
	uint64_t lost_events;		/* OVF, truncated AUX, LOST records */
	uint64_t decode_errors;
	uint64_t instructions;
	uint64_t decode_ns;		/* thread CPU time decoding */
	uint64_t capture_ns;		/* CPU time capturing (with the
					 * emulate backend's guardian) */
	uint64_t wall_ns;
	/* The governor (docs/live.md): all of the sensor's CPU time
	 * (this process and its guardians, getrusage) and the time the
	 * windows observed the target, since sa_live_run() began (a
	 * window's cost is all the sensor's CPU from the end of the previous
	 * one to its own: capture, decode, learning or comparing); the
	 * budget and the duty cycle in use (window_insns 0: windows are
	 * timed), and how often the governor changed it.
	 */
	uint64_t sensor_cpu_ns;
	uint64_t observed_ns;
	uint32_t cpu_permille;
	uint64_t window_ms, window_insns, period_ms;
	uint64_t governor_changes;
	uint64_t max_window_cpu_ns;	/* the costliest window */
	bool target_exited;
	/* The threads of the target whose windows were decoded (windows
	 * merge threads): distinct, ascending, at most SA_HIST_MAX_TIDS;
	 * @threads_truncated: more were observed.
	 */
	uint32_t nr_threads;
	bool threads_truncated;
	int32_t tids[SA_HIST_MAX_TIDS];
};

/* Opens the backend and the baseline.  Returns NULL with errno and @ei
 * set: every error of sa_backend__new() and sa_baseline__open().
 */
struct sa_live *sa_live__new(const struct sa_live_opts *o,
			     struct sa_errinfo *ei);

/* Runs the loop until sa_live_request_stop(), the target's exit or
 * max_windows, then analyses the windows still pending (flush).
 * Returns 0 on a clean end (including the target's exit), or a negative
 * error with @ei filled (the backend failed, the baseline is unusable:
 * empty, of another build or another binary).
 */
int sa_live_run(struct sa_live *lv, struct sa_errinfo *ei);

/* Async-signal-safe: makes sa_live_run() end after the current step. */
void sa_live_request_stop(struct sa_live *lv);

void sa_live_stats(const struct sa_live *lv, struct sa_live_stats *st);

/* The steps sa_live_run() has taken: every capture that returned (a
 * window decoded, skipped over the budget or failed).  May be called
 * from any thread while the loop runs, to tell a loop that waits for its
 * next window from one that hangs (a systemd watchdog).
 */
uint64_t sa_live_progress(const struct sa_live *lv);

/* The backend in use ("emulate", "intel_pt", ...) and why auto did not
 * pick hardware (or NULL).  Owned by @lv.
 */
const char *sa_live_backend_name(const struct sa_live *lv);
const char *sa_live_backend_note(const struct sa_live *lv);

/* Records for log shipping (docs/live.md, "Live records").  Every
 * record carries the time (RFC 3339, UTC, milliseconds), host.name,
 * process.pid and process.executable.name of @lv's target.
 *
 * JSON lines: an anomaly record (the sensor-agent.anomaly/1 fields plus
 * state, window.first/last, first_seen, comparisons, ...) and a summary
 * record (schema sensor-agent.live-summary/1).  Text: a new anomaly in
 * full, an ongoing or resolved one in one line, the summary as the
 * comparison's header line.  All return 0 or -EIO.
 */
int sa_live_write_event_json(const struct sa_live *lv,
			     const struct sa_live_event *ev, FILE *f);
int sa_live_write_summary_json(const struct sa_live *lv,
			       const struct sa_live_summary *s, FILE *f);
int sa_live_write_event_text(const struct sa_live *lv,
			     const struct sa_live_event *ev, FILE *f);
int sa_live_write_summary_text(const struct sa_live *lv,
			       const struct sa_live_summary *s, FILE *f);

/* Formats the governor's counters of @st into @buf: "observed N ms of
 * every second at X% of a core (budget B%; window W ms every P ms)".
 * Returns @buf.
 */
char *sa_live_format_governor(const struct sa_live_stats *st, char *buf,
			      size_t size);
/* The target as the records name it: host.name, process.executable.name
 * and process.executable.path ("" when /proc/PID/exe was not readable).
 * Owned by @lv.
 */
const char *sa_live_host_name(const struct sa_live *lv);
const char *sa_live_exe_name(const struct sa_live *lv);
const char *sa_live_exe_path(const struct sa_live *lv);

/* Formats @ts as RFC 3339 UTC with milliseconds into @buf (>= 25 bytes):
 * "2026-12-02T18:40:00.123Z".  Returns @buf.
 */
char *sa_live_format_time(const struct timespec *ts, char *buf, size_t size);

/* Stops the backend, removes temporary files, frees.  Accepts NULL. */
void sa_live__free(struct sa_live *lv);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_LIVE_H */
