/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: window sources for the live loop.
 *
 * A backend attaches to one process and produces trace windows, each
 * written as a perf.data file that `perf script` and sa_decode_file()
 * read.  Three kinds exist:
 *
 *   intel_pt  hardware Intel PT through perf_event (intel_pt PMU);
 *   cs_etm    hardware CoreSight ETM through perf_event (cs_etm PMU);
 *   emulate   the emulated Intel PT sensor (<sensor/emu.h>, ptrace);
 *
 * and "auto", which picks the hardware PMU that sysfs shows and falls
 * back to emulate when none is usable, saying why (sa_backend_note()).
 *
 * The hardware backends trace every thread of the process (one event per
 * thread, new threads followed).  The emulated backend traces one thread
 * per window, picked at random with a weight of its recent CPU time
 * (/proc/PID/task/TID/schedstat, else utime + stime of .../stat: what it
 * used since the previous window plus half its previous weight), so every
 * busy thread is observed over time and an idle one (a main thread in
 * pthread_join) is never picked while another runs.
 *
 * Windows follow a duty cycle: a window of @window_ms every @period_ms,
 * with a random jitter so that periodic work in the target does not
 * alias with the sampling.  A budget caps what the sensor itself costs;
 * a window that would exceed it is skipped and counted, never cut short
 * silently.
 *
 * Typical use (the live loop):
 *
 *	struct sa_backend_opts o = { .kind = SA_BACKEND_AUTO, .pid = pid };
 *	struct sa_backend *b = sa_backend__new(&o, &ei);
 *	if (!b)
 *		die(ei.msg);
 *	if (sa_backend_note(b))
 *		print(sa_backend_note(b));	// e.g. "no Intel PT: ... using emulate"
 *	for (;;) {
 *		err = sa_backend_capture(b, path, &wi, &ei);
 *		if (err < 0)
 *			break;			// -ESRCH: target gone
 *		if (err == 0)
 *			continue;		// skipped: over budget
 *		t0 = thread cpu time;
 *		decode(path);
 *		sa_backend_account(b, thread cpu time - t0);
 *	}
 *	sa_backend__free(b);
 */
#ifndef SENSOR_BACKEND_H
#define SENSOR_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sensor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sa_backend_kind {
	SA_BACKEND_AUTO = 0,
	SA_BACKEND_INTEL_PT,
	SA_BACKEND_CS_ETM,
	SA_BACKEND_EMULATE,
};

/* Parses "auto", "intel_pt", "cs_etm" or "emulate" (the --backend
 * values).  Returns 0, or -SA_ERR_INVAL with @ei naming the bad value.
 */
int sa_backend_kind_parse(const char *s, enum sa_backend_kind *kind,
			  struct sa_errinfo *ei);

/* Returns the --backend spelling of @kind ("auto", "intel_pt", ...). */
const char *sa_backend_kind_name(enum sa_backend_kind kind);

/* Defaults, used where an option is 0. */
#define SA_BACKEND_DEF_WINDOW_MS	10
#define SA_BACKEND_DEF_PERIOD_MS	1000
#define SA_BACKEND_DEF_AUX_SIZE		(4u << 20)	/* bytes */
#define SA_BACKEND_DEF_DATA_SIZE	(512u << 10)	/* bytes */
#define SA_BACKEND_DEF_CPU_PERMILLE	10		/* 1% of one core */

/* What the sensor may spend.  0 in any field means the default. */
struct sa_budget {
	uint64_t max_aux_size;	/* cap on the AUX area (bytes) */
	uint64_t max_mem;	/* cap on all buffers the backend holds */
	/* Own CPU time (capture + what sa_backend_account() reports) per
	 * period, in thousandths of one core; 10 = 1%.
	 */
	uint32_t cpu_permille;
};

struct sa_backend_opts {
	enum sa_backend_kind kind;
	pid_t pid;		/* the target (required) */
	/* PMU discovery root; NULL: /sys/bus/event_source/devices. */
	const char *sysfs_root;
	/* PMU config terms, perf's syntax: "psb_period=3,mtc=1,cyc=0"
	 * (intel_pt) or "timestamp=1,contextid=1" (cs_etm).  NULL: the
	 * defaults perf uses.
	 */
	const char *config;
	/* cs_etm sink name ("tmc_etr0"); NULL: the kernel picks. */
	const char *sink;
	/* Address filter, perf's --filter syntax ("filter main @ /bin/x",
	 * "filter 0x1000/0x200@/bin/x").  NULL: the target's main binary;
	 * "": trace everything.
	 */
	const char *filter;
	uint64_t window_ms;	/* window length */
	uint64_t period_ms;	/* window start to window start */
	uint32_t jitter_pct;	/* +- this % of the period; 0: 10 */
	/* emulate only: stop a window after this many instructions (0: by
	 * @window_ms).
	 */
	uint64_t window_insns;
	uint64_t aux_size;	/* AUX area, bytes (power-of-two pages) */
	uint64_t data_size;	/* data ring, bytes (power-of-two pages) */
	int cpu;		/* -1 (or 0 with @per_cpu false): per-thread */
	bool per_cpu;		/* trace on @cpu, all tasks of @pid there */
	bool kernel;		/* also trace the kernel (needs privilege) */
	bool no_wait;		/* capture at once, ignore the period */
	/* emulate only: a trigger (see sa_cap_trigger_resolve()).  Each
	 * window then rolls (the oldest trace dropped, @aux_size kept)
	 * until the target is about to execute file offset @trigger_off of
	 * @trigger_file, and ends there, whatever @window_ms says.
	 */
	const char *trigger_file;
	uint64_t trigger_off;
	struct sa_budget budget;
};

/* One captured (or skipped) window. */
struct sa_window_info {
	uint64_t index;		/* 0, 1, ... over the backend's life */
	uint64_t start_ns;	/* CLOCK_MONOTONIC, window enabled */
	uint64_t end_ns;	/* window disabled */
	uint64_t aux_bytes;	/* trace bytes written to the file */
	uint64_t lost_records;	/* PERF_RECORD_LOST: sideband lost */
	uint32_t nr_truncated;	/* AUX records with TRUNCATED */
	uint32_t nr_partial;	/* ... with PARTIAL */
	uint32_t nr_collision;	/* ... with COLLISION */
	bool skipped;		/* over budget: no file written */
	bool target_exited;	/* the target ended during the window */
	/* sensor CPU time for this window: the capturing thread's and,
	 * with emulate, the guardian process's
	 */
	uint64_t capture_cpu_ns;
	/* emulate: the thread traced in this window, picked by its CPU
	 * time since the previous window; 0 for the hardware backends,
	 * which trace every thread.
	 */
	pid_t tid;
	/* emulate with a trigger: the window ended at it, at this runtime
	 * address; the PT bytes the rolling buffer dropped before it
	 */
	bool triggered;
	uint64_t trigger_ip;
	uint64_t ring_dropped;
};

/* Counters over the backend's life, for the sensor's metrics. */
struct sa_backend_stats {
	uint64_t windows;		/* written */
	uint64_t windows_skipped;	/* over budget */
	uint64_t aux_bytes;
	uint64_t lost_records;
	uint64_t truncated;		/* AUX records flagged TRUNCATED */
	uint64_t capture_cpu_ns;	/* spent capturing */
	uint64_t decode_cpu_ns;		/* reported by sa_backend_account() */
};

struct sa_backend;

/* Opens a window source on @o->pid.
 *
 * SA_BACKEND_AUTO picks intel_pt or cs_etm when the PMU exists and can be
 * opened, else emulate; sa_backend_note() then says why hardware was not
 * used.  A hardware kind asked for explicitly fails when the PMU is
 * absent: NULL, errno = SA_ERR_NOHW (or SA_ERR_PERM, ESRCH, ...) and @ei
 * says why (a VM, an AMD CPU, perf_event_paranoid, CAP_PERFMON) and what
 * to do instead (--backend emulate, or record elsewhere and run
 * `sensor-agent decode` offline).
 *
 * The backend borrows nothing from @o after it returns.
 */
struct sa_backend *sa_backend__new(const struct sa_backend_opts *o,
				   struct sa_errinfo *ei);

/* Detaches (the target keeps running) and frees.  Accepts NULL. */
void sa_backend__free(struct sa_backend *b);

/* "intel_pt", "cs_etm" or "emulate": what is in use. */
const char *sa_backend_name(const struct sa_backend *b);
enum sa_backend_kind sa_backend_kind(const struct sa_backend *b);

/* Why auto did not pick hardware, or NULL.  Owned by @b. */
const char *sa_backend_note(const struct sa_backend *b);

/* Waits for the next window of the duty cycle (unless no_wait), captures
 * it and writes it to @out_path as perf.data.
 *
 * Returns 1 when the file was written, 0 when the window was skipped
 * because the budget is spent (@wi->skipped, no file), or a negative
 * error with @ei filled: -ESRCH when the target is gone, -EINTR when a
 * signal interrupted the wait (the caller decides whether to stop).
 * @wi may be NULL.
 */
int sa_backend_capture(struct sa_backend *b, const char *out_path,
		       struct sa_window_info *wi, struct sa_errinfo *ei);

/* Reports CPU time the caller spent on the last window (decoding), so
 * that the budget covers it.
 */
void sa_backend_account(struct sa_backend *b, uint64_t decode_cpu_ns);

/* Changes the duty cycle from the next window on (the live loop's
 * governor): 0 leaves a value as it is; @window_insns only for emulate.
 * The period's change moves the next window's start (from the last
 * window's).  The budget's rate (cpu_permille) is unchanged.
 */
void sa_backend_set_schedule(struct sa_backend *b, uint64_t window_ms,
			     uint64_t window_insns, uint64_t period_ms);

/* The duty cycle in use (defaults applied). */
void sa_backend_schedule(const struct sa_backend *b, uint64_t *window_ms,
			 uint64_t *window_insns, uint64_t *period_ms);

void sa_backend_stats(const struct sa_backend *b,
		      struct sa_backend_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_BACKEND_H */
