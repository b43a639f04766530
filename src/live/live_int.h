/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private: the live loop's state, shared by live.c (capture, decode,
 * learn or compare, emit) and governor.c (the CPU budget).
 */
#ifndef SA_LIVE_INT_H
#define SA_LIVE_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "sensor/anomaly.h"
#include "sensor/backend.h"
#include "sensor/baseline.h"
#include "sensor/hist.h"
#include "sensor/live.h"

#define SA_LIVE_MAX_GROUP 64

/* An anomaly flagged by the last comparison, for its state. */
struct tracked {
	/* build-id, function, offset, kind, decision */
	char *key;
	struct sa_anomaly a;	/* its last report */
	uint64_t first_window, last_window;
	struct timespec first_time, last_time;
	uint64_t comparisons;
	bool seen;		/* flagged by the current comparison */
	bool resolved;		/* tested by it and not flagged */
};

struct sa_live {
	struct sa_live_opts o;
	struct sa_backend *backend;
	struct sa_baseline *bl;
	char workdir[4096];
	bool own_workdir;
	char db_path[4200];
	bool own_db;
	bool learning;
	/* idle windows learnt, stored with the next busy one (an idle
	 * window names no build to count it in); idle_h stands for them
	 */
	struct sa_hist *idle_h;
	struct sa_hist_decode threads;	/* only its tid list is used */
	size_t idle_held;
	volatile sig_atomic_t stop;
	struct sa_hist *pending[SA_LIVE_MAX_GROUP];
	uint64_t pending_first;
	size_t nr_pending;
	uint64_t groups;
	struct sa_live_stats st;
	struct tracked *tr;
	size_t nr_tr;
	char host[256];
	char exe[256];
	/* the governor: the duty cycle the user asked for (the longest
	 * window, the shortest period), the cost of a window (EWMA)
	 */
	uint64_t user_window_ms, user_window_insns, user_period_ms;
	uint64_t cost_ns;
	uint64_t last_decode_ns;
	uint64_t cpu_start_ns, cpu_mark_ns;	/* proc_cpu_ns() */
	uint64_t start_ns;
	char exe_path[4096];	/* "" when not readable */
	/* budget report: when next, and the counts at the last one */
	uint64_t budget_next_ns, budget_seen, budget_skipped;
	uint64_t progress;	/* sa_live_progress(): atomic */
};

/* Calls the note callback, or logs at info level. */
void sa_live__note(struct sa_live *lv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* governor.c.  The sensor's CPU time: this process (every thread) and
 * its reaped children (the emulate backend's guardians), user + system;
 * CLOCK_MONOTONIC.  Both in ns.
 */
uint64_t sa_live__proc_cpu_ns(void);
uint64_t sa_live__mono_ns(void);
/* After each decoded window: sets the duty cycle from its cost. */
void sa_live__govern(struct sa_live *lv, const struct sa_window_info *wi);
/* Says when the CPU budget skips most windows (at most once a minute). */
void sa_live__budget_report(struct sa_live *lv);

#endif /* SA_LIVE_INT_H */
