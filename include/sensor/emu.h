/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: the emulated Intel PT sensor.
 *
 * Watches a real process with ptrace and writes what it executes as
 * genuine Intel PT (libipt's packet encoder) in a perf.data file that
 * Linux `perf script` decodes.  No PT hardware is needed.
 *
 *	emu = sa_emu__attach(pid, &ei);	(or sa_emu__spawn(argv, &ei))
 *	sa_emu_window(emu, &opts, "w0.data", &st, &ei);	the target runs
 *	sa_emu_run_free(emu, 900, &ei);		freely between windows
 *	sa_emu_window(emu, &opts, "w1.data", &st, &ei);
 *	sa_emu__free(emu);			detaches; the target runs on
 *
 * Only the chosen thread is traced.  While a window runs, the other
 * threads of the process are stopped (so that they never meet the filter's
 * protected pages) and resumed when it ends; a thread created during a
 * window ends it, and so does the end of the traced thread (another
 * thread of the process is then traced, st.thread_exited).  Forked
 * children are left untraced and unharmed.  See docs/emulate.md.
 *
 * An sa_emu is used by one thread: the thread that created it (ptrace
 * binds a tracee to its tracer thread).  sa_emu_request_stop() alone may
 * be called from a signal handler.  While an sa_emu exists, SIGCHLD is
 * blocked in that thread (the sensor reads it through a signalfd to wait
 * with a deadline); sa_emu__free() restores the mask, so free them in the
 * reverse order of creation.
 */
#ifndef SENSOR_EMU_H
#define SENSOR_EMU_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sensor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sa_emu;

/* How a window is recorded and encoded.  Zero means the default. */
struct sa_emu_opts {
	/* perf-style address filter: "filter SYM @ BIN", "filter
	 * 0x1000/0x200 @ BIN", "filter 0x401000/0x80", several separated
	 * by ','; NULL: the main binary's executable mappings.
	 */
	const char *filter;
	uint64_t aux_size;	/* PT bytes kept per window (4 MiB) */
	uint32_t psb_period;	/* bytes between PSB+ (4096) */
	uint64_t max_insns;	/* end the window after this many traced
				 * instructions (0: no limit) */
	uint64_t max_ms;	/* end the window after this long (0: none) */
	bool noretcomp;		/* no return compression */
	bool tsc;		/* TSC packets in PSB+ */
	/* Timing packets, as perf's intel_pt terms mtc, mtc_period, cyc and
	 * cyc_thresh (docs/emulate.md has the clock model).  Either implies
	 * @tsc.  @mtc: TMA in PSB+ and an MTC packet when bit @mtc_period
	 * (0-15, used as given: perf's and the CLI's default is 3) of the
	 * crystal clock changes.  @cyc: CYC packets with the core cycles,
	 * before the packets hardware times with them, once at least
	 * 2^(@cyc_thresh - 1) cycles passed (0-15; 0: every time).
	 */
	bool mtc;
	uint8_t mtc_period;
	bool cyc;
	uint8_t cyc_thresh;
	/* A trigger: the window ends when the traced thread is about to
	 * execute the instruction at file offset @stop_off of @stop_file
	 * (a mapped file of the target, inside the filter), after at least
	 * one traced instruction; the trace then ends with TIP.PGD at that
	 * address, as a hardware TraceStop region does.  NULL: none.
	 */
	const char *stop_file;
	uint64_t stop_off;
	/* A rolling buffer: when @aux_size is full, the oldest trace is
	 * dropped (from a PSB on) instead of the newest (OVF), so that the
	 * window keeps its last bytes, as perf's AUX overwrite mode does.
	 */
	bool ring;
};

/* What a window did. */
struct sa_emu_stats {
	uint64_t insns;		/* traced instructions (in the filter) */
	uint64_t steps;		/* single-steps (also outside the filter) */
	uint64_t entries;	/* times control came into the filter */
	uint64_t signals;	/* signals delivered during the window */
	uint64_t syscalls;	/* syscalls in the filter */
	uint64_t trace_bytes;	/* PT bytes written */
	uint64_t lost_insns;	/* instructions not in the trace (OVF) */
	bool overflow;		/* the AUX cap was hit: OVF emitted */
	bool exited;		/* the target exited during the window */
	bool exec;		/* the target called execve: window ended */
	bool new_task;		/* a new thread: the window ended */
	/* The traced thread ended (the process lives on): the window
	 * ended, and another thread of the process is the traced one now.
	 */
	bool thread_exited;
	pid_t tid;		/* the thread this window traced */
	bool stopped_by_request;	/* sa_emu_request_stop() */
	bool stopped_at;	/* the window reached opts->stop_file/off */
	uint64_t stop_ip;	/* ... at this runtime address */
	uint64_t ring_dropped;	/* opts->ring: oldest PT bytes dropped */
	uint64_t ns;		/* wall time of the window */
	/* CLOCK_MONOTONIC (ns) at the window's start and end: the trace's
	 * timestamps (TSC, MTC, CYC) all fall between the two.
	 */
	uint64_t start_ns, end_ns;
};

/* Runs @argv[0] (found on PATH) under ptrace, stopped at its first
 * instruction after execve.  @argv is copied.  Returns NULL with errno
 * and @ei set: -ENOENT / -EACCES when the command cannot be executed (the
 * message names it), -SA_ERR_PERM when ptrace is refused.
 */
struct sa_emu *sa_emu__spawn(char *const argv[], struct sa_errinfo *ei);

/* Attaches to thread @tid of a running process (PTRACE_SEIZE and
 * PTRACE_INTERRUPT) and leaves it stopped until the first window.
 * Errors: -SA_ERR_NOTFOUND (no such process), -SA_ERR_PERM (ptrace
 * refused: the message says why, e.g. yama ptrace_scope, another tracer,
 * a kernel thread).
 */
struct sa_emu *sa_emu__attach(pid_t tid, struct sa_errinfo *ei);

/* Records one window and writes it to @path as perf.data (NULL: the trace
 * is only kept in memory, see sa_emu_trace()).  The window ends at
 * @opts->max_insns, @opts->max_ms, sa_emu_request_stop(), exit, execve
 * or a new thread of the target (see @st).  The target is left stopped
 * and attached for the next window.  Returns 0, or a negative error with
 * @ei filled; -ESRCH when the target has already exited.  @st may be
 * NULL.
 */
int sa_emu_window(struct sa_emu *emu, const struct sa_emu_opts *opts,
		  const char *path, struct sa_emu_stats *st,
		  struct sa_errinfo *ei);

/* Lets the target run freely (no single-step, no filter) for @ms
 * milliseconds, forwarding its signals, then stops it again.  Returns 0,
 * 1 when the target exited meanwhile, or a negative error.  Ends early,
 * returning 0, after sa_emu_request_stop().
 */
int sa_emu_run_free(struct sa_emu *emu, uint64_t ms, struct sa_errinfo *ei);

/* The sampled-window loop: windows of @opts (bounded by max_insns and/or
 * max_ms) every @period_ms (start to start; the target runs freely for
 * what is left of the period), written to the path that @path_fmt gives with
 * the window number ("w%03u.data"), until @nr_windows windows (0: until
 * the target exits or sa_emu_request_stop()).  @window_fn (may be NULL)
 * is called after each window; a non-zero return ends the loop.  Returns
 * the number of windows written, or a negative error.
 */
typedef int (*sa_emu_window_fn)(void *ctx, unsigned int nr,
				const char *path,
				const struct sa_emu_stats *st);
int sa_emu_loop(struct sa_emu *emu, const struct sa_emu_opts *opts,
		uint64_t period_ms, unsigned int nr_windows,
		const char *path_fmt, sa_emu_window_fn window_fn, void *ctx,
		struct sa_errinfo *ei);

/* Makes the current or next window (or sa_emu_run_free()) end as soon as
 * the target is at a safe point.  Async-signal-safe: meant for SIGINT and
 * SIGTERM handlers, after which the caller frees @emu.
 */
void sa_emu_request_stop(struct sa_emu *emu);

/* The process id and the traced thread id; exit status once exited. */
pid_t sa_emu_pid(const struct sa_emu *emu);
bool sa_emu_exited(const struct sa_emu *emu, int *wstatus);

/* The last window's PT bytes, borrowed until the next window or
 * sa_emu__free().  Sets *@len.
 */
const uint8_t *sa_emu_trace(const struct sa_emu *emu, size_t *len);

/* The executable file mappings of the last window, as its MMAP2 records
 * name them: those present when it started and those mapped during it
 * (libc mapped by ld.so after exec, dlopen).  The perf.data also has
 * MMAP2 records for the vDSO and anonymous executable memory, which are
 * not listed here (no file to read).  sa_emu_nr_maps() returns the
 * number of entries; sa_emu_map() returns NULL for @idx out of range.
 */
struct sa_emu_map {
	uint64_t start, len, pgoff;
	const char *path;	/* borrowed until the next window */
	/* seen since (CLOCK_MONOTONIC ns); 0: before the window */
	uint64_t time;
};
size_t sa_emu_nr_maps(const struct sa_emu *emu);
const struct sa_emu_map *sa_emu_map(const struct sa_emu *emu, size_t idx);

/* Calls @fn for every traced instruction as it retires (the ground
 * truth), in order, during the following windows.  NULL turns it off.
 */
typedef void (*sa_emu_insn_fn)(void *ctx, uint64_t ip);
void sa_emu_set_insn_fn(struct sa_emu *emu, sa_emu_insn_fn fn, void *ctx);

/* Detaches and frees @emu, the target left running: any protection or
 * stop the sensor made is undone first.  A spawned target is not killed.
 * Accepts NULL.
 */
void sa_emu__free(struct sa_emu *emu);

/*
 * The guardian.  Runs @fn(@ctx, @out, ei) in a forked child process, the
 * guardian, and returns what @fn returned, with @ei and the @out_len bytes
 * that @fn left in @out copied back.  Create, use and free every sa_emu
 * inside @fn: the guardian is the tracer, and whenever the calling
 * process dies (any signal, SIGKILL and the OOM killer included), or the
 * guardian gets SIGTERM, SIGINT, SIGHUP or SIGQUIT, the windows and free
 * runs in it end at the next safe point as after sa_emu_request_stop(),
 * so that @fn's sa_emu__free() restores the target and detaches.  The
 * guardian lowers its OOM score where permitted and ignores SIGPIPE.
 * @fn's stdio output goes to the caller's files.
 *
 * While it waits, a signal that interrupts the caller sends the guardian
 * SIGTERM (once): with @stop NULL any such signal, else only once *@stop
 * is non-zero (the caller's handler sets it).  Returns -ECHILD, @ei set,
 * when the guardian died without a result (killed itself).  Call it from
 * a single-threaded process, or a thread that outlives the guardian.
 */
typedef int (*sa_emu_guard_fn)(void *ctx, void *out, struct sa_errinfo *ei);
int sa_emu_guard_run(sa_emu_guard_fn fn, void *ctx, void *out, size_t out_len,
		     const volatile sig_atomic_t *stop, struct sa_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_EMU_H */
