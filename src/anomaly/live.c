// SPDX-License-Identifier: BSD-2-Clause
/*
 * The live loop: capture, decode, learn or compare, emit.
 *
 * Every window goes through a perf.data file, the same path an offline
 * `sensor-agent analyze` takes, so that the live results can be
 * reproduced from kept windows (--keep-windows).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sensor/anomaly.h"
#include "sensor/backend.h"
#include "sensor/baseline.h"
#include "sensor/file.h"
#include "sensor/hist.h"
#include "sensor/live.h"
#include "sensor/log.h"
#include "sensor/session.h"

#define SA_LIVE_MAX_GROUP 64

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
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void note(struct sa_live *lv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct sa_live *lv, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (lv->o.note_fn)
		lv->o.note_fn(lv->o.ctx, buf);
	else
		sa_info("%s%s", buf, *buf && buf[strlen(buf) - 1] == '\n' ?
			"" : "\n");
}

#define LIVE_DIR_PREFIX "sa-live-"

/* Removes the files of @dir (one level: the live loop's windows) and
 * @dir.
 */
static void remove_workdir(int parent_fd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(fd, de->d_name, 0);
	closedir(d);
	unlinkat(parent_fd, name, AT_REMOVEDIR);
}

/*
 * A live loop that was killed (SIGKILL, OOM) leaves its work directory,
 * named sa-live-PID-XXXXXX: remove those whose owner is gone.  Only our
 * own (same owner), and never one whose pid is alive, even if reused.
 */
static void remove_stale_workdirs(const char *tmp)
{
	size_t plen = strlen(LIVE_DIR_PREFIX);
	struct dirent *de;
	struct stat sb;
	DIR *d;

	d = opendir(tmp);
	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *p = de->d_name;
		char *end;
		long pid;

		if (strncmp(p, LIVE_DIR_PREFIX, plen))
			continue;
		errno = 0;
		pid = strtol(p + plen, &end, 10);
		if (errno || end == p + plen || *end != '-' || pid <= 0 ||
		    pid > INT32_MAX)
			continue;
		if (!kill((pid_t)pid, 0) || errno != ESRCH)
			continue;
		if (fstatat(dirfd(d), p, &sb, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
			continue;
		remove_workdir(dirfd(d), p);
	}
	closedir(d);
}

struct sa_live *sa_live__new(const struct sa_live_opts *o,
			     struct sa_errinfo *ei)
{
	struct sa_live *lv;
	const char *tmp;
	int err;

	sa_errinfo_clear(ei);
	lv = calloc(1, sizeof(*lv));
	if (!lv)
		return NULL;
	lv->o = *o;
	if (!lv->o.learn_windows)
		lv->o.learn_windows = SA_LIVE_DEF_LEARN_WINDOWS;
	if (!lv->o.group)
		lv->o.group = SA_LIVE_DEF_GROUP;
	if (lv->o.group > SA_LIVE_MAX_GROUP) {
		err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				     "group of %u windows: the limit is %d",
				     lv->o.group, SA_LIVE_MAX_GROUP);
		goto err;
	}

	if (o->workdir) {
		snprintf(lv->workdir, sizeof(lv->workdir), "%s", o->workdir);
		err = sa_dir_create_all(lv->workdir);
		if (err) {
			sa_errinfo_set(ei, err, SA_NO_OFFSET,
				       "--keep-windows %s: cannot create: %s",
				       lv->workdir, strerror(-err));
			goto err;
		}
	} else {
		tmp = getenv("TMPDIR");
		tmp = tmp && *tmp ? tmp : "/tmp";
		remove_stale_workdirs(tmp);
		snprintf(lv->workdir, sizeof(lv->workdir),
			 "%s/" LIVE_DIR_PREFIX "%d-XXXXXX", tmp, (int)getpid());
		if (!mkdtemp(lv->workdir)) {
			err = sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
					     "cannot create %s: %s",
					     lv->workdir, strerror(errno));
			goto err;
		}
		lv->own_workdir = true;
	}

	if (o->baseline) {
		lv->bl = sa_baseline__open(o->baseline, SA_BASELINE_RDONLY, ei);
		if (!lv->bl) {
			err = -errno;
			goto err;
		}
		if (sa_baseline_nr_builds(lv->bl) <= 0) {
			err = sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
				"baseline %s is empty: learn one first (omit "
				"--baseline, or `sensor-agent baseline add`)",
				o->baseline);
			goto err;
		}
	} else {
		if (o->learn_db) {
			snprintf(lv->db_path, sizeof(lv->db_path), "%s",
				 o->learn_db);
		} else {
			snprintf(lv->db_path, sizeof(lv->db_path),
				 "%s/baseline.db", lv->workdir);
			unlink(lv->db_path);
			lv->own_db = true;
		}
		lv->bl = sa_baseline__open(lv->db_path, SA_BASELINE_CREATE, ei);
		if (!lv->bl) {
			err = -errno;
			goto err;
		}
		lv->learning = true;
	}

	lv->backend = sa_backend__new(&o->backend, ei);
	if (!lv->backend) {
		err = -errno;
		goto err;
	}
	return lv;
err:
	sa_live__free(lv);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

static void drop_pending(struct sa_live *lv)
{
	size_t i;

	for (i = 0; i < lv->nr_pending; i++)
		sa_hist__free(lv->pending[i]);
	lv->nr_pending = 0;
}

void sa_live__free(struct sa_live *lv)
{
	if (!lv)
		return;
	drop_pending(lv);
	sa_hist__free(lv->idle_h);
	sa_backend__free(lv->backend);
	sa_baseline__free(lv->bl);
	if (lv->own_db) {
		char j[4300];

		unlink(lv->db_path);
		snprintf(j, sizeof(j), "%s-journal", lv->db_path);
		unlink(j);
	}
	if (lv->own_workdir)
		rmdir(lv->workdir);
	free(lv);
}

void sa_live_request_stop(struct sa_live *lv)
{
	lv->stop = 1;
}

void sa_live_stats(const struct sa_live *lv, struct sa_live_stats *st)
{
	struct sa_backend_stats bs;

	*st = lv->st;
	st->nr_threads = lv->threads.nr_tids;
	st->threads_truncated = lv->threads.tids_truncated;
	memcpy(st->tids, lv->threads.tids, sizeof(st->tids));
	if (lv->backend) {
		sa_backend_stats(lv->backend, &bs);
		st->windows_skipped = bs.windows_skipped;
		st->capture_ns = bs.capture_cpu_ns;
	}
}

const char *sa_live_backend_name(const struct sa_live *lv)
{
	return sa_backend_name(lv->backend);
}

const char *sa_live_backend_note(const struct sa_live *lv)
{
	return sa_backend_note(lv->backend);
}

/* Compares the pending group with the baseline.  Returns 0, or a
 * negative error when the baseline cannot serve these windows at all.
 */
static int analyse(struct sa_live *lv, uint64_t last, struct sa_errinfo *ei)
{
	struct sa_anomaly_list *l = NULL;
	struct sa_errinfo lei;
	size_t i, n;
	int err;

	if (!lv->nr_pending)
		return 0;
	err = sa_anomaly_detect(lv->bl, lv->pending, lv->nr_pending,
				&lv->o.detect, &l, &lei);
	drop_pending(lv);
	if (err == -SA_ERR_NODATA && sa_baseline_nr_builds(lv->bl) > 0) {
		/* Windows without a known function (the target slept in
		 * a syscall): nothing to compare, not a failure.
		 */
		note(lv, "windows %" PRIu64 "-%" PRIu64 ": %s",
		     lv->pending_first, last, lei.msg);
		return 0;
	}
	if (err) {
		if (ei)
			*ei = lei;
		return err;
	}
	n = sa_anomaly_list_nr_significant(l);
	for (i = 0; i < n; i++) {
		if (lv->o.anomaly_fn)
			lv->o.anomaly_fn(lv->o.ctx, sa_anomaly_list_get(l, i),
					 lv->groups, lv->pending_first, last);
		lv->st.anomalies++;
	}
	lv->groups++;
	lv->st.analyses++;
	sa_anomaly_list__free(l);
	return 0;
}

static void account_decode(struct sa_live *lv, const struct sa_hist *h)
{
	const struct sa_hist_decode *d = sa_hist_decode(h);
	uint32_t i;

	lv->st.trace_bytes += d->trace_bytes;
	lv->st.lost_bytes += d->lost_bytes;
	lv->st.lost_events += d->overflows + d->aux_truncated +
			      d->aux_collision + d->lost_records;
	lv->st.decode_errors += d->errors;
	lv->st.instructions += d->instructions;
	for (i = 0; i < d->nr_tids; i++)
		sa_hist_decode_add_tid(&lv->threads, d->tids[i]);
	lv->threads.tids_truncated |= d->tids_truncated;
}

/* Adds the busy window @h and the idle windows held before it. */
static int learn(struct sa_live *lv, struct sa_hist *h,
		 struct sa_errinfo *ei)
{
	struct sa_hist **v;
	size_t i;
	int err;

	if (!lv->idle_held)
		return sa_baseline_add(lv->bl, &h, 1, ei);
	v = calloc(lv->idle_held + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[0] = h;
	for (i = 0; i < lv->idle_held; i++)
		v[i + 1] = lv->idle_h;
	err = sa_baseline_add(lv->bl, v, lv->idle_held + 1, ei);
	free(v);
	if (!err)
		lv->idle_held = 0;
	return err;
}

/* One captured window: decode, then learn or queue for comparison. */
static int window(struct sa_live *lv, const char *path,
		  const struct sa_window_info *wi, struct sa_errinfo *ei)
{
	struct sa_decode_opts dopts = lv->o.decode;
	struct sa_errinfo lei;
	struct sa_hist *h;
	uint64_t t0, dt;
	bool idle;
	int err;

	h = sa_hist__new();
	if (!h)
		return -ENOMEM;
	t0 = thread_cpu_ns();
	err = sa_decode_file(path, &dopts, h, &lei);
	dt = thread_cpu_ns() - t0;
	sa_backend_account(lv->backend, dt);
	lv->st.decode_ns += dt;
	if (!lv->o.keep_windows)
		unlink(path);
	if (err < 0) {
		lv->st.windows_failed++;
		note(lv, "window %" PRIu64 " not decoded: %s", wi->index,
		     lei.msg);
		sa_hist__free(h);
		return 0;
	}
	lv->st.windows++;
	account_decode(lv, h);
	idle = sa_hist_decode(h)->idle_windows &&
	       !sa_hist_decode(h)->instructions;
	if (idle)
		lv->st.windows_idle++;
	if (lv->learning && idle) {
		if (!lv->idle_h)
			lv->idle_h = h;
		else
			sa_hist__free(h);
		lv->idle_held++;
		lv->st.learnt++;
		goto learnt;
	}
	if (lv->learning) {
		err = learn(lv, h, &lei);
		sa_hist__free(h);
		if (err == -SA_ERR_NODATA) {
			note(lv, "window %" PRIu64 ": nothing to learn: %s",
			     wi->index, lei.msg);
			return 0;
		}
		if (err) {
			if (ei)
				*ei = lei;
			return err;
		}
		lv->st.learnt++;
learnt:
		/* Idle windows are stored with the next busy one (which
		 * names the builds they belong to): learning ends when
		 * none is held.
		 */
		if (lv->st.learnt >= lv->o.learn_windows && !lv->idle_held) {
			lv->learning = false;
			note(lv, "baseline learnt from %" PRIu64 " windows; "
			     "watching for anomalies", lv->st.learnt);
		}
		return 0;
	}
	if (!lv->nr_pending)
		lv->pending_first = wi->index;
	lv->pending[lv->nr_pending++] = h;
	if (lv->nr_pending >= lv->o.group)
		return analyse(lv, wi->index, ei);
	return 0;
}

int sa_live_run(struct sa_live *lv, struct sa_errinfo *ei)
{
	uint64_t start = mono_ns(), last = 0;
	char path[4300];
	int err = 0;

	sa_errinfo_clear(ei);
	if (lv->learning)
		note(lv, "learning a baseline from %" PRIu64 " windows",
		     lv->o.learn_windows);
	while (!lv->stop) {
		struct sa_window_info wi;
		struct sa_errinfo lei;

		if (lv->o.max_windows &&
		    lv->st.windows + lv->st.windows_failed >= lv->o.max_windows)
			break;
		snprintf(path, sizeof(path), "%s/window-%" PRIu64 ".data",
			 lv->workdir, lv->st.windows + lv->st.windows_failed +
					      lv->st.windows_skipped);
		err = sa_backend_capture(lv->backend, path, &wi, &lei);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err == -ESRCH) {
			lv->st.target_exited = true;
			note(lv, "%s", lei.msg);
			err = 0;
			break;
		}
		if (err < 0) {
			if (ei)
				*ei = lei;
			break;
		}
		if (err == 0)
			continue;	/* skipped: over budget */
		last = wi.index;
		err = window(lv, path, &wi, ei);
		if (err)
			break;
		if (wi.target_exited) {
			lv->st.target_exited = true;
			note(lv, "target %d exited", (int)lv->o.backend.pid);
			break;
		}
	}
	/* Flush: what was captured is analysed, even when stopped. */
	if (!err)
		err = analyse(lv, last, ei);
	else
		drop_pending(lv);
	if (lv->learning && lv->st.learnt < lv->o.learn_windows)
		note(lv, "stopped while learning: %" PRIu64 " of %" PRIu64
		     " windows learnt, nothing compared", lv->st.learnt,
		     lv->o.learn_windows);
	lv->st.wall_ns = mono_ns() - start;
	return err;
}
