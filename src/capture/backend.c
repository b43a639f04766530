// SPDX-License-Identifier: BSD-2-Clause
/*
 * Window sources: hardware (intel_pt, cs_etm) through a capture session,
 * or the emulated sensor, behind one duty-cycle scheduler and budget.
 *
 * Scheduling: window k starts at start_0 + k * period + jitter_k, with
 * jitter uniform in +-jitter_pct of the period, so that work the target
 * does every N ms cannot line up with the windows for long.
 *
 * Budget: a token bucket of CPU time.  Every period adds
 * period * cpu_permille / 1000 ns (capped at two periods' worth); every
 * window takes its capture CPU time and the decode time the caller
 * reports.  A window due while the bucket is empty is skipped and
 * counted, so the sensor's average cost stays at the budget whatever
 * the windows cost.
 *
 * Threads (emulate): the emulated sensor traces one thread per window.
 * Before each window the threads' CPU times (/proc/PID/task/TID/schedstat,
 * else utime + stime of .../stat) are compared with those taken after the
 * previous window; each thread's recent CPU time is that delta plus half
 * its previous one (so a gap between windows shorter than the work's
 * rhythm still favours the threads that work), and a thread is drawn at
 * random with it as its weight: the threads that ran, in proportion to
 * how much.  The snapshot is retaken after the window so that the window
 * itself (one thread stepped, the others frozen) does not count.  When no
 * thread ran recently, a thread that is runnable now (state R) is drawn:
 * on a loaded machine the threads released after a window may not get a
 * CPU before the next one, and a worker that was frozen mid-work is busy
 * though its delta is zero.  When none is runnable either, the main
 * thread is taken: the window is idle whichever thread it watches.
 */
#include <dirent.h>
#include <sys/resource.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sensor/backend.h"
#include "sensor/capture.h"
#include "sensor/log.h"
#include "capture_int.h"
#include "sensor/emu.h"

/* Threads considered per window (emulate); more are left out (said in
 * the debug log).
 */
#define MAX_TASKS 4096

struct task_cpu {
	pid_t tid;
	uint64_t cpu_ns;	/* CPU time */
	uint64_t score;		/* recent CPU time, halved each window */
};

struct sa_backend {
	enum sa_backend_kind kind;
	struct sa_backend_opts o;
	char *sysfs_root, *config, *sink, *filter_spec;
	char note[SA_ERRMSG_MAX * 2];
	bool has_note;
	/* hardware */
	struct sa_cap_pmu *pmu;
	struct sa_cap_session *sess;
	struct perf_event_attr attr;
	char filter[SA_CAP_FILTER_MAX];
	/* schedule and budget */
	uint64_t index;
	uint64_t next_ns;
	uint64_t cur_start_ns;	/* the last window's slot */
	uint64_t rng;
	int64_t tokens_ns;
	uint64_t last_refill_ns;
	bool target_gone;
	/* emulate: CPU times after the previous window, sorted by tid */
	struct task_cpu *tasks;
	size_t nr_tasks;
	bool have_tasks;
	struct sa_backend_stats st;
};

static const char *const kind_names[] = {
	[SA_BACKEND_AUTO] = "auto",
	[SA_BACKEND_INTEL_PT] = "intel_pt",
	[SA_BACKEND_CS_ETM] = "cs_etm",
	[SA_BACKEND_EMULATE] = "emulate",
};

int sa_backend_kind_parse(const char *s, enum sa_backend_kind *kind,
			  struct sa_errinfo *ei)
{
	size_t i;

	for (i = 0; s && i < sizeof(kind_names) / sizeof(kind_names[0]);
	     i++) {
		if (!strcmp(s, kind_names[i])) {
			*kind = (enum sa_backend_kind)i;
			return 0;
		}
	}
	return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			      "--backend '%s': want auto, intel_pt, cs_etm or "
			      "emulate", s ? s : "(null)");
}

const char *sa_backend_kind_name(enum sa_backend_kind kind)
{
	if ((unsigned int)kind < sizeof(kind_names) / sizeof(kind_names[0]))
		return kind_names[kind];
	return "unknown";
}

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void defaults(struct sa_backend_opts *o)
{
	if (!o->window_ms && !o->window_insns)
		o->window_ms = SA_BACKEND_DEF_WINDOW_MS;
	if (!o->period_ms)
		o->period_ms = SA_BACKEND_DEF_PERIOD_MS;
	if (!o->jitter_pct)
		o->jitter_pct = 10;
	if (o->jitter_pct > 50)
		o->jitter_pct = 50;
	if (!o->aux_size)
		o->aux_size = SA_BACKEND_DEF_AUX_SIZE;
	if (!o->data_size)
		o->data_size = SA_BACKEND_DEF_DATA_SIZE;
	if (!o->budget.cpu_permille)
		o->budget.cpu_permille = SA_BACKEND_DEF_CPU_PERMILLE;
	if (!o->budget.max_aux_size)
		o->budget.max_aux_size = 64u << 20;
	if (!o->budget.max_mem)
		o->budget.max_mem = 128u << 20;
	if (o->aux_size > o->budget.max_aux_size)
		o->aux_size = o->budget.max_aux_size;
}

static uint64_t budget_per_period(const struct sa_backend *b)
{
	return b->o.period_ms * 1000000ull * b->o.budget.cpu_permille / 1000;
}

/* xorshift64*: jitter needs no quality beyond not being periodic. */
static uint64_t next_rand(struct sa_backend *b)
{
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 0x2545F4914F6CDD1Dull;
}

static int open_hw(struct sa_backend *b, const char *pmu_name,
		   struct sa_errinfo *ei)
{
	struct sa_cap_attr_opts ao = { 0 };
	struct sa_cap_session_opts so = { 0 };
	int err;

	b->pmu = sa_cap_pmu__open(b->sysfs_root, pmu_name, ei);
	if (!b->pmu)
		return -errno;
	ao.terms = b->config;
	ao.sink = b->sink;
	ao.kernel = b->o.kernel;
	ao.per_cpu = b->o.per_cpu;
	err = sa_cap_attr_build(b->pmu, &ao, &b->attr, ei);
	if (err)
		return err;
	if (!b->filter_spec) {
		err = sa_cap_filter_default(NULL, b->o.pid, b->filter,
					    sizeof(b->filter), ei);
	} else if (*b->filter_spec) {
		err = sa_cap_filter_parse(b->filter_spec,
					  sa_cap_pmu_nr_addr_filters(b->pmu),
					  b->filter, sizeof(b->filter), ei);
	} else {
		b->filter[0] = '\0';
		err = 0;
	}
	if (err < 0)
		return err;
	so.pid = b->o.pid;
	so.trace_attr = &b->attr;
	so.pmu = b->pmu;
	so.filter = b->filter[0] ? b->filter : NULL;
	so.data_size = b->o.data_size;
	so.aux_size = b->o.aux_size;
	so.per_cpu = b->o.per_cpu;
	so.cpu = b->o.per_cpu ? b->o.cpu : -1;
	so.kernel = b->o.kernel;
	so.max_mem = b->o.budget.max_mem;
	b->sess = sa_cap_session__open(&so, ei);
	if (!b->sess)
		return -errno;
	return 0;
}

static void close_hw(struct sa_backend *b)
{
	sa_cap_session__free(b->sess);
	b->sess = NULL;
	sa_cap_pmu__free(b->pmu);
	b->pmu = NULL;
}

static const char *native_pmu(void)
{
#if defined(__aarch64__) || defined(__arm__)
	return "cs_etm";
#else
	return "intel_pt";
#endif
}

static void snapshot_tasks(struct sa_backend *b);

static int open_emulate(struct sa_backend *b, struct sa_errinfo *ei)
{
	char path[64];

	/* The emulated sensor attaches per window (so that the target runs
	 * untraced and unstopped between windows); check now that the
	 * target exists.
	 */
	snprintf(path, sizeof(path), "/proc/%d", (int)b->o.pid);
	if (b->o.pid <= 0 || access(path, F_OK))
		return sa_errinfo_set(ei, -ESRCH, SA_NO_OFFSET,
				      "no process %d", (int)b->o.pid);
	/* The first window's pick weighs the CPU time from now on, not
	 * since each thread began (a main thread busy only at start).
	 */
	snapshot_tasks(b);
	return 0;
}

struct sa_backend *sa_backend__new(const struct sa_backend_opts *o,
				   struct sa_errinfo *ei)
{
	struct sa_errinfo hw_ei;
	struct sa_backend *b;
	int err = 0;

	sa_errinfo_clear(&hw_ei);
	if (o->pid <= 0) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "a target pid is required (--pid)");
		errno = SA_ERR_INVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->o = *o;
	defaults(&b->o);
	b->sysfs_root = dup_opt(o->sysfs_root);
	b->config = dup_opt(o->config);
	b->sink = dup_opt(o->sink);
	b->filter_spec = dup_opt(o->filter);
	if ((o->sysfs_root && !b->sysfs_root) || (o->config && !b->config) ||
	    (o->sink && !b->sink) || (o->filter && !b->filter_spec)) {
		err = -ENOMEM;
		goto out_free;
	}
	b->rng = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ sa_cap_now_ns();
	if (!b->rng)
		b->rng = 1;

	switch (o->kind) {
	case SA_BACKEND_INTEL_PT:
	case SA_BACKEND_CS_ETM:
		err = open_hw(b, sa_backend_kind_name(o->kind), ei);
		if (err)
			goto out_free;
		b->kind = o->kind;
		break;
	case SA_BACKEND_AUTO: {
		const char *pmus[] = { "intel_pt", "cs_etm" };
		size_t i;

		for (i = 0; i < 2; i++) {
			struct sa_cap_pmu *p;

			p = sa_cap_pmu__open(b->sysfs_root, pmus[i], NULL);
			if (!p)
				continue;
			sa_cap_pmu__free(p);
			err = open_hw(b, pmus[i], &hw_ei);
			if (!err) {
				b->kind = i ? SA_BACKEND_CS_ETM :
					      SA_BACKEND_INTEL_PT;
				break;
			}
			close_hw(b);
		}
		if (b->sess)
			break;
		if (!hw_ei.msg[0]) {
			char why[SA_ERRMSG_MAX];

			sa_cap_explain_nohw(b->sysfs_root, NULL, native_pmu(),
					    why, sizeof(why));
			snprintf(hw_ei.msg, sizeof(hw_ei.msg), "%s", why);
		}
		snprintf(b->note, sizeof(b->note),
			 "--backend auto: hardware tracing is not usable (%s); "
			 "falling back to the emulated backend (ptrace, much "
			 "slower; windows are shorter)", hw_ei.msg);
		b->has_note = true;
		sa_info("%s\n", b->note);
	}
		/* fall through */
	case SA_BACKEND_EMULATE:
		err = open_emulate(b, ei);
		if (err)
			goto out_free;
		b->kind = SA_BACKEND_EMULATE;
		break;
	default:
		err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				     "unknown backend kind %d", (int)o->kind);
		goto out_free;
	}
	b->tokens_ns = (int64_t)budget_per_period(b);
	b->last_refill_ns = sa_cap_now_ns();
	b->next_ns = b->last_refill_ns;
	return b;

out_free:
	sa_backend__free(b);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

void sa_backend__free(struct sa_backend *b)
{
	if (!b)
		return;
	close_hw(b);
	free(b->tasks);
	free(b->sysfs_root);
	free(b->config);
	free(b->sink);
	free(b->filter_spec);
	free(b);
}

const char *sa_backend_name(const struct sa_backend *b)
{
	return sa_backend_kind_name(b->kind);
}

enum sa_backend_kind sa_backend_kind(const struct sa_backend *b)
{
	return b->kind;
}

const char *sa_backend_note(const struct sa_backend *b)
{
	return b->has_note ? b->note : NULL;
}

/* Sleeps until @t (CLOCK_MONOTONIC).  -EINTR on a signal. */
static int sleep_until(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = (time_t)(t / 1000000000ull),
		.tv_nsec = (long)(t % 1000000000ull),
	};
	int err;

	/* No retry on EINTR: a signal (SIGINT, SIGUSR2) must reach the
	 * caller's loop at once.
	 */
	err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	return err ? -err : 0;
}

static void refill(struct sa_backend *b, uint64_t now)
{
	uint64_t per = budget_per_period(b);
	uint64_t elapsed = now - b->last_refill_ns;
	int64_t add;

	add = (int64_t)(elapsed * per / (b->o.period_ms * 1000000ull));
	b->tokens_ns += add;
	if (b->tokens_ns > (int64_t)(2 * per))
		b->tokens_ns = (int64_t)(2 * per);
	b->last_refill_ns = now;
}

static void schedule_next(struct sa_backend *b, uint64_t start)
{
	uint64_t period = b->o.period_ms * 1000000ull;
	uint64_t span = period * b->o.jitter_pct / 100;
	int64_t j = 0;

	if (span)
		j = (int64_t)(next_rand(b) % (2 * span + 1)) - (int64_t)span;
	b->next_ns = start + (uint64_t)((int64_t)period + j);
}

static bool target_alive(pid_t pid)
{
	return !kill(pid, 0) || errno != ESRCH;
}

static int capture_hw(struct sa_backend *b, const char *path,
		      struct sa_window_info *wi, struct sa_errinfo *ei)
{
	struct sa_cap_session_stats before, after;
	uint64_t end;
	int err;

	sa_cap_session_stats(b->sess, &before);
	err = sa_cap_session_enable(b->sess);
	if (err)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "PERF_EVENT_IOC_ENABLE: %s",
				      strerror(-err));
	wi->start_ns = sa_cap_now_ns();
	end = wi->start_ns + b->o.window_ms * 1000000ull;
	err = sleep_until(end);
	sa_cap_session_disable(b->sess);
	wi->end_ns = sa_cap_now_ns();
	if (err == -EINTR) {
		sa_cap_session_drain(b->sess, NULL, NULL, NULL);
		sa_cap_session_discard(b->sess);
		return sa_errinfo_set(ei, -EINTR, SA_NO_OFFSET,
				      "window interrupted by a signal");
	}
	err = sa_cap_session_drain(b->sess, NULL, NULL, ei);
	if (err < 0)
		return err;
	sa_cap_session_stats(b->sess, &after);
	wi->aux_bytes = after.aux_bytes - before.aux_bytes;
	wi->lost_records = after.ring.lost_records -
			   before.ring.lost_records;
	wi->nr_truncated = (uint32_t)(after.ring.aux_truncated -
				      before.ring.aux_truncated);
	wi->nr_partial = (uint32_t)(after.ring.aux_partial -
				    before.ring.aux_partial);
	wi->nr_collision = (uint32_t)(after.ring.aux_collision -
				      before.ring.aux_collision);
	wi->target_exited = !target_alive(b->o.pid);
	return sa_cap_session_write(b->sess, path, ei);
}

/* Reads up to @len - 1 bytes of /proc/@pid/task/@tid/@name into @buf.
 * Returns false when the file cannot be read (the thread ended).
 */
static bool read_task_file(pid_t pid, pid_t tid, const char *name,
			   char *buf, size_t len)
{
	char path[96];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", (int)pid,
		 (int)tid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* The CPU time of thread @tid in ns, or -1.  schedstat's first field is
 * the exact run time (CONFIG_SCHED_INFO); without it, utime + stime of
 * stat (fields 14 and 15, proc(5)), which the kernel charges by clock
 * tick: a thread busy 2% of the time is seen running only now and then.
 */
static int64_t task_ns(pid_t pid, pid_t tid)
{
	unsigned long long ut, st, ns;
	char buf[1024], *p;
	long hz;

	if (read_task_file(pid, tid, "schedstat", buf, sizeof(buf)) &&
	    sscanf(buf, "%llu", &ns) == 1)
		return (int64_t)ns;
	if (!read_task_file(pid, tid, "stat", buf, sizeof(buf)))
		return -1;
	/* The command name (field 2) may hold spaces and parentheses:
	 * count from its last ')'.  ") S ppid pgrp session tty tpgid flags
	 * minflt cminflt majflt cmajflt utime stime"
	 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			 "%*u %llu %llu", &ut, &st) != 2)
		return -1;
	hz = sysconf(_SC_CLK_TCK);
	return (int64_t)((ut + st) * (1000000000ull / (hz > 0 ? hz : 100)));
}

static int cmp_task(const void *a, const void *b)
{
	const struct task_cpu *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* The threads of @pid and their CPU times, sorted by tid.  Returns the
 * number (0 when the process is gone), or -ENOMEM.
 */
static ssize_t read_tasks(pid_t pid, struct task_cpu **out)
{
	struct task_cpu *v = NULL;
	size_t nr = 0, cap = 0;
	struct dirent *d;
	char path[64];
	DIR *dir;

	*out = NULL;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((d = readdir(dir))) {
		char *end;
		long t = strtol(d->d_name, &end, 10);
		int64_t cpu_ns;

		if (*end || t <= 0)
			continue;
		if (nr == MAX_TASKS) {
			sa_debug("pid %d: over %d threads; the others are "
				 "not sampled\n", (int)pid, MAX_TASKS);
			break;
		}
		cpu_ns = task_ns(pid, (pid_t)t);
		if (cpu_ns < 0)
			continue;	/* ended meanwhile */
		if (nr == cap) {
			struct task_cpu *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(dir);
				return -ENOMEM;
			}
			v = nv;
		}
		v[nr].tid = (pid_t)t;
		v[nr].cpu_ns = (uint64_t)cpu_ns;
		v[nr].score = 0;
		nr++;
	}
	closedir(dir);
	qsort(v, nr, sizeof(*v), cmp_task);
	*out = v;
	return (ssize_t)nr;
}

/* Whether thread @tid of @pid is runnable (state R): busy, whether or
 * not it got a CPU lately.
 */
static bool thread_runnable(pid_t pid, pid_t tid)
{
	char buf[512], *p;

	if (!read_task_file(pid, tid, "stat", buf, sizeof(buf)))
		return false;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'R';
}

/* Draws the thread to trace in the next window (see the top comment). */
static pid_t pick_thread(struct sa_backend *b)
{
	uint64_t total = 0, r, delta = 0, nr_run = 0;
	struct task_cpu *cur, *prev;
	ssize_t n, i;
	pid_t tid = b->o.pid;

	n = read_tasks(b->o.pid, &cur);
	if (n <= 0)
		return tid;
	for (i = 0; i < n; i++) {
		prev = NULL;
		if (b->have_tasks)
			prev = bsearch(&cur[i], b->tasks, b->nr_tasks,
				       sizeof(*prev), cmp_task);
		/* A thread born since the last window: all its time is
		 * recent.
		 */
		delta = cur[i].cpu_ns;
		if (prev)
			delta = cur[i].cpu_ns > prev->cpu_ns ?
				cur[i].cpu_ns - prev->cpu_ns : 0;
		cur[i].score = (prev ? prev->score / 2 : 0) + delta;
		if (prev)
			prev->score = cur[i].score;
		total += cur[i].score;
	}
	if (!total) {
		/* Nothing ran since the last window: a weight of 1 for each
		 * runnable thread (the scores stay 0 for the next pick).
		 */
		for (i = 0; i < n; i++) {
			bool run = thread_runnable(b->o.pid, cur[i].tid);

			cur[i].score = run;
			nr_run += run;
		}
		total = nr_run;
	}
	if (total) {
		r = next_rand(b) % total;
		for (i = 0; i < n; i++) {
			if (r < cur[i].score) {
				tid = cur[i].tid;
				break;
			}
			r -= cur[i].score;
		}
	}
	sa_debug("window %" PRIu64 ": tracing thread %d (%s %" PRIu64
		 " of %" PRIu64 "%s, %zd threads)\n", b->index, (int)tid,
		 nr_run ? "runnable, weight" : "recent CPU",
		 i < n ? cur[i].score : 0, total, nr_run ? "" : " ns", n);
	free(cur);
	return tid;
}

/* The CPU times after a window, for the next pick; the scores carry
 * over.
 */
static void snapshot_tasks(struct sa_backend *b)
{
	struct task_cpu *cur;
	const struct task_cpu *old;
	ssize_t n = read_tasks(b->o.pid, &cur), i;

	if (n < 0)
		return;
	for (i = 0; i < n && b->have_tasks; i++) {
		old = bsearch(&cur[i], b->tasks, b->nr_tasks, sizeof(*old),
			      cmp_task);
		cur[i].score = old ? old->score : 0;
	}
	free(b->tasks);
	b->tasks = cur;
	b->nr_tasks = (size_t)n;
	b->have_tasks = true;
}

/* Whether thread @tid of @pid exists and is not a zombie. */
static bool thread_runs(pid_t pid, pid_t tid)
{
	char buf[512], *p;

	if (!read_task_file(pid, tid, "stat", buf, sizeof(buf)))
		return false;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Whether a thread of @pid is alive: the leader is a zombie once the main
 * thread ends, the whole process until its parent reaps it.
 */
static bool process_runs(pid_t pid)
{
	struct task_cpu *v;
	bool runs = false;
	ssize_t n, i;

	n = read_tasks(pid, &v);
	if (n < 0)
		return true;	/* unknown: not taken for an exit */
	for (i = 0; i < n && !runs; i++)
		runs = thread_runs(pid, v[i].tid);
	free(v);
	return runs;
}

struct emu_window_req {
	pid_t pid;
	const char *path;
	struct sa_emu_opts eo;
};

/* In the guardian: attach, one window, detach. */
static int emu_window_guarded(void *ctx, void *out, struct sa_errinfo *ei)
{
	struct emu_window_req *rq = ctx;
	struct sa_emu_stats *est = out;
	struct sa_emu *emu;
	int err;

	emu = sa_emu__attach(rq->pid, ei);
	if (!emu)
		return -errno;
	err = sa_emu_window(emu, &rq->eo, rq->path, est, ei);
	sa_emu__free(emu);
	return err;
}

static int capture_emu(struct sa_backend *b, const char *path,
		       struct sa_window_info *wi, struct sa_errinfo *ei)
{
	struct emu_window_req rq = { .pid = b->o.pid, .path = path };
	struct sa_emu_stats est = { 0 };
	int err;

	rq.eo.filter = b->filter_spec && *b->filter_spec ?
		       b->filter_spec : NULL;
	rq.eo.aux_size = b->o.aux_size;
	rq.eo.max_insns = b->o.window_insns;
	rq.eo.max_ms = b->o.window_ms;
	if (b->o.trigger_file) {
		rq.eo.stop_file = b->o.trigger_file;
		rq.eo.stop_off = b->o.trigger_off;
		rq.eo.ring = true;
		rq.eo.max_insns = 0;
		rq.eo.max_ms = 0;
	}
	rq.pid = wi->tid = pick_thread(b);
	wi->start_ns = sa_cap_now_ns();
	/* The ptrace side runs in a guardian process, which restores and
	 * releases the target should this process die mid-window.
	 */
	err = sa_emu_guard_run(emu_window_guarded, &rq, &est, sizeof(est),
			       NULL, ei);
	wi->end_ns = sa_cap_now_ns();
	/* The thread ended between the pick and the attach (the attach
	 * fails with ESRCH, or EPERM while it exits) while the process
	 * lives on: not the target's end; take the main thread.
	 */
	if (err < 0 && rq.pid != b->o.pid && !thread_runs(b->o.pid, rq.pid) &&
	    process_runs(b->o.pid)) {
		sa_debug("thread %d ended before its window\n", (int)rq.pid);
		memset(&est, 0, sizeof(est));
		rq.pid = wi->tid = b->o.pid;
		err = sa_emu_guard_run(emu_window_guarded, &rq, &est,
				       sizeof(est), NULL, ei);
		wi->end_ns = sa_cap_now_ns();
	}
	snapshot_tasks(b);
	/* The target ended as the window began: ptrace refuses a zombie
	 * with EPERM.  Its end, not a failure of the sensor.
	 */
	if (err < 0 && err != -ESRCH && !process_runs(b->o.pid)) {
		b->target_gone = true;
		return sa_errinfo_set(ei, -ESRCH, SA_NO_OFFSET,
				      "target %d has exited", (int)b->o.pid);
	}
	if (err)
		return err;
	wi->aux_bytes = est.trace_bytes;
	wi->nr_truncated = est.overflow ? 1 : 0;
	wi->triggered = est.stopped_at;
	wi->trigger_ip = est.stop_ip;
	wi->ring_dropped = est.ring_dropped;
	/* The traced thread ended: the process may live on. */
	wi->target_exited = est.exited &&
			    (rq.pid == b->o.pid || !process_runs(b->o.pid));
	return 0;
}

/* CPU time of the children reaped so far (the emulate backend's
 * guardians): user + system.
 */
static uint64_t children_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_CHILDREN, &ru))
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	       1000000000ull + (uint64_t)(ru.ru_utime.tv_usec +
					  ru.ru_stime.tv_usec) * 1000ull;
}

int sa_backend_capture(struct sa_backend *b, const char *out_path,
		       struct sa_window_info *wi, struct sa_errinfo *ei)
{
	struct sa_window_info local;
	uint64_t now, cpu0, ch0;
	int err;

	if (!wi)
		wi = &local;
	memset(wi, 0, sizeof(*wi));
	if (b->target_gone || !target_alive(b->o.pid)) {
		b->target_gone = true;
		return sa_errinfo_set(ei, -ESRCH, SA_NO_OFFSET,
				      "target %d has exited", (int)b->o.pid);
	}
	if (!b->o.no_wait) {
		err = sleep_until(b->next_ns);
		if (err)
			return sa_errinfo_set(ei, err, SA_NO_OFFSET,
					      "waiting for the next window: %s",
					      strerror(-err));
	}
	now = sa_cap_now_ns();
	b->cur_start_ns = now > b->next_ns ? now : b->next_ns;
	schedule_next(b, b->cur_start_ns);
	refill(b, now);
	wi->index = b->index++;
	/* A trigger window traces until the trigger, budget or not: the
	 * user asked for it (docs/capture.md).
	 */
	if (b->tokens_ns <= 0 && !b->o.trigger_file) {
		wi->skipped = true;
		wi->start_ns = wi->end_ns = now;
		b->st.windows_skipped++;
		sa_debug("window %" PRIu64 " skipped: budget spent (%" PRId64
			 " ns owed)\n", wi->index, -b->tokens_ns);
		return 0;
	}
	cpu0 = sa_cap_thread_cpu_ns();
	ch0 = children_cpu_ns();
	switch (b->kind) {
	case SA_BACKEND_INTEL_PT:
	case SA_BACKEND_CS_ETM:
		err = capture_hw(b, out_path, wi, ei);
		break;
	case SA_BACKEND_EMULATE:
		err = capture_emu(b, out_path, wi, ei);
		break;
	default:
		err = sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
				     "backend %s cannot capture",
				     sa_backend_name(b));
	}
	/* with the guardian's, reaped during the window (emulate) */
	wi->capture_cpu_ns = sa_cap_thread_cpu_ns() - cpu0 +
			     (children_cpu_ns() - ch0);
	b->tokens_ns -= (int64_t)wi->capture_cpu_ns;
	b->st.capture_cpu_ns += wi->capture_cpu_ns;
	if (wi->target_exited)
		b->target_gone = true;
	if (err == -ESRCH)
		b->target_gone = true;
	if (err)
		return err;
	b->st.windows++;
	b->st.aux_bytes += wi->aux_bytes;
	b->st.lost_records += wi->lost_records;
	b->st.truncated += wi->nr_truncated;
	return 1;
}

void sa_backend_account(struct sa_backend *b, uint64_t decode_cpu_ns)
{
	b->tokens_ns -= (int64_t)decode_cpu_ns;
	b->st.decode_cpu_ns += decode_cpu_ns;
}

void sa_backend_set_schedule(struct sa_backend *b, uint64_t window_ms,
			     uint64_t window_insns, uint64_t period_ms)
{
	if (window_ms)
		b->o.window_ms = window_ms;
	if (window_insns && b->kind == SA_BACKEND_EMULATE)
		b->o.window_insns = window_insns;
	if (period_ms && period_ms != b->o.period_ms) {
		b->o.period_ms = period_ms;
		if (b->cur_start_ns)
			schedule_next(b, b->cur_start_ns);
	}
}

void sa_backend_schedule(const struct sa_backend *b, uint64_t *window_ms,
			 uint64_t *window_insns, uint64_t *period_ms)
{
	*window_ms = b->o.window_ms;
	*window_insns = b->o.window_insns;
	*period_ms = b->o.period_ms;
}

void sa_backend_stats(const struct sa_backend *b,
		      struct sa_backend_stats *st)
{
	*st = b->st;
}
