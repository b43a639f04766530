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
#include <sys/resource.h>
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

#include "json.h"
#include "live_int.h"
#include "output.h"

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sa_live__note(struct sa_live *lv, const char *fmt, ...)
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

/* host.name and process.executable.name for the records. */
static void target_names(struct sa_live *lv)
{
	char path[64], exe[4096];
	const char *base;
	ssize_t n;
	FILE *f;

	if (gethostname(lv->host, sizeof(lv->host) - 1))
		snprintf(lv->host, sizeof(lv->host), "unknown");
	lv->host[sizeof(lv->host) - 1] = 0;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)lv->o.backend.pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		/* a replaced binary: "/path/prog (deleted)" */
		if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
			exe[n - 10] = 0;
		base = strrchr(exe, '/');
		snprintf(lv->exe_path, sizeof(lv->exe_path), "%s", exe);
		snprintf(lv->exe, sizeof(lv->exe), "%.*s",
			 (int)sizeof(lv->exe) - 1, base ? base + 1 : exe);
		return;
	}
	/* not ours to read (another user's): the kernel's comm */
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)lv->o.backend.pid);
	f = fopen(path, "r");
	if (f && fgets(lv->exe, sizeof(lv->exe), f))
		lv->exe[strcspn(lv->exe, "\n")] = 0;
	else
		snprintf(lv->exe, sizeof(lv->exe), "unknown");
	if (f)
		fclose(f);
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
	/* every window maps the same binaries: analyse them once */
	lv->o.decode.cache = o->decode.cache ?
			     sa_image_cache_get(o->decode.cache) :
			     sa_image_cache__new();
	if (!lv->o.decode.cache) {
		free(lv);
		return NULL;
	}
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
	target_names(lv);
	sa_backend_schedule(lv->backend, &lv->user_window_ms,
			    &lv->user_window_insns, &lv->user_period_ms);
	lv->st.window_ms = lv->user_window_ms;
	lv->st.window_insns = lv->user_window_insns;
	lv->st.period_ms = lv->user_period_ms;
	lv->st.cpu_permille = o->backend.budget.cpu_permille ?
			      o->backend.budget.cpu_permille :
			      SA_BACKEND_DEF_CPU_PERMILLE;
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

static void tracked_fini(struct tracked *t)
{
	free(t->key);
	sa_anomaly__fini(&t->a);
}

void sa_live__free(struct sa_live *lv)
{
	size_t i;

	if (!lv)
		return;
	drop_pending(lv);
	for (i = 0; i < lv->nr_tr; i++)
		tracked_fini(&lv->tr[i]);
	free(lv->tr);
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
	sa_image_cache__free(lv->o.decode.cache);
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
	if (!st->wall_ns && lv->start_ns) {
		/* while running */
		st->wall_ns = sa_live__mono_ns() - lv->start_ns;
		st->sensor_cpu_ns = sa_live__proc_cpu_ns() - lv->cpu_start_ns;
	}
}

uint64_t sa_live_progress(const struct sa_live *lv)
{
	return __atomic_load_n(&lv->progress, __ATOMIC_RELAXED);
}

const char *sa_live_backend_name(const struct sa_live *lv)
{
	return sa_backend_name(lv->backend);
}

const char *sa_live_backend_note(const struct sa_live *lv)
{
	return sa_backend_note(lv->backend);
}

const char *sa_live_state_name(enum sa_live_state st)
{
	switch (st) {
	case SA_LIVE_NEW:
		return "new";
	case SA_LIVE_ONGOING:
		return "ongoing";
	case SA_LIVE_RESOLVED:
		return "resolved";
	default:
		return "unknown";
	}
}

/* The identity of an anomaly across comparisons. */
static char *identity(const struct sa_anomaly *a)
{
	char *k = NULL;

	if (asprintf(&k, "%s\x1%s\x1%s\x1%" PRIx64 "\x1%s\x1%s",
		     a->build_id && a->build_id[0] ? a->build_id : "",
		     a->build_id && a->build_id[0] ? "" : a->binary,
		     a->function ? a->function : "", a->offset,
		     sa_anomaly_kind_name(a->kind),
		     a->decision ? a->decision : "") < 0)
		return NULL;
	return k;
}

static struct tracked *tracked_find(struct sa_live *lv, const char *key)
{
	size_t i;

	for (i = 0; i < lv->nr_tr; i++)
		if (!strcmp(lv->tr[i].key, key))
			return &lv->tr[i];
	return NULL;
}

static bool same_site(const struct sa_anomaly *a, const struct sa_anomaly *b)
{
	return a->offset == b->offset && !a->insn == !b->insn &&
	       !strcmp(a->build_id ? a->build_id : "",
		       b->build_id ? b->build_id : "") &&
	       !strcmp(a->binary ? a->binary : "",
		       b->binary ? b->binary : "") &&
	       !strcmp(a->function ? a->function : "",
		       b->function ? b->function : "");
}

/* Whether @l tested the site of @a and did not flag it: only then is a
 * tracked anomaly resolved.  A comparison without enough support at the
 * site (a short flush group, an idle spell) says nothing about it, and
 * a decision now listed under another root (also seen in) is still
 * flagged.
 */
static bool site_tested(const struct sa_anomaly_list *l,
			const struct sa_anomaly *a)
{
	size_t i, k, n = sa_anomaly_list_len(l);
	bool tested = false;

	for (i = 0; i < n; i++) {
		const struct sa_anomaly *c = sa_anomaly_list_get(l, i);

		if (same_site(c, a)) {
			if (c->significant)
				return false;	/* flagged as another kind */
			tested = true;
		}
		for (k = 0; c->significant && k < c->nr_also; k++)
			if (c->also[k].offset == a->offset &&
			    c->also[k].function && a->function &&
			    !strcmp(c->also[k].function, a->function))
				return false;
	}
	return tested;
}

/* Matches the significant anomalies of @l with the tracked ones; fills
 * @states (one per anomaly) and the summary's counts.
 */
static int track(struct sa_live *lv, const struct sa_anomaly_list *l,
		 enum sa_live_state *states, struct sa_live_summary *sum)
{
	size_t i, n = sa_anomaly_list_nr_significant(l);

	for (i = 0; i < lv->nr_tr; i++)
		lv->tr[i].seen = false;
	for (i = 0; i < n; i++) {
		const struct sa_anomaly *a = sa_anomaly_list_get(l, i);
		struct tracked *t, *v;
		char *key = identity(a);
		int err;

		if (!key)
			return -ENOMEM;
		t = tracked_find(lv, key);
		if (t && !t->seen) {
			free(key);
			sa_anomaly__fini(&t->a);
			states[i] = SA_LIVE_ONGOING;
			sum->ongoing++;
		} else if (t) {
			/* the same identity twice in one list (cannot
			 * happen: one anomaly per site and kind): keep the
			 * first
			 */
			free(key);
			states[i] = 0;
			continue;
		} else {
			v = realloc(lv->tr, (lv->nr_tr + 1) * sizeof(*v));
			if (!v) {
				free(key);
				return -ENOMEM;
			}
			lv->tr = v;
			t = &lv->tr[lv->nr_tr++];
			memset(t, 0, sizeof(*t));
			t->key = key;
			t->first_window = sum->first_window;
			t->first_time = sum->time;
			states[i] = SA_LIVE_NEW;
			sum->new_anomalies++;
		}
		err = sa_anomaly__copy(&t->a, a);
		if (err)
			return err;
		t->seen = true;
		t->comparisons++;
		t->last_window = sum->last_window;
		t->last_time = sum->time;
	}
	for (i = 0; i < lv->nr_tr; i++) {
		struct tracked *t = &lv->tr[i];

		t->resolved = !t->seen && site_tested(l, &t->a);
		sum->resolved += t->resolved;
	}
	sum->anomalies = sum->new_anomalies + sum->ongoing;
	return 0;
}

static void event_of(const struct tracked *t, enum sa_live_state st,
		     const struct sa_live_summary *sum,
		     struct sa_live_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->state = st;
	ev->a = &t->a;
	ev->comparison = sum->comparison;
	ev->first_window = sum->first_window;
	ev->last_window = sum->last_window;
	ev->time = sum->time;
	ev->first_seen_window = t->first_window;
	ev->first_seen = t->first_time;
	ev->last_seen_window = t->last_window;
	ev->last_seen = t->last_time;
	ev->comparisons = t->comparisons;
}

/* Compares the pending group with the baseline.  Returns 0, or a
 * negative error when the baseline cannot serve these windows at all.
 */
static int analyse(struct sa_live *lv, uint64_t last, struct sa_errinfo *ei)
{
	struct sa_anomaly_list *l = NULL;
	struct sa_live_summary sum;
	enum sa_live_state *states = NULL;
	struct sa_errinfo lei;
	size_t i, j, n;
	int err;

	if (!lv->nr_pending)
		return 0;
	memset(&sum, 0, sizeof(sum));
	sum.comparison = lv->groups;
	sum.first_window = lv->pending_first;
	sum.last_window = last;
	sum.windows = lv->nr_pending;
	for (i = 0; i < lv->nr_pending; i++) {
		const struct sa_hist_decode *d = sa_hist_decode(lv->pending[i]);

		sum.instructions += d->instructions;
		sum.idle_windows += d->idle_windows && !d->instructions;
	}
	err = sa_anomaly_detect(lv->bl, lv->pending, lv->nr_pending,
				&lv->o.detect, &l, &lei);
	drop_pending(lv);
	clock_gettime(CLOCK_REALTIME, &sum.time);
	if (err == -SA_ERR_NODATA && sa_baseline_nr_builds(lv->bl) > 0) {
		/* Windows without a known function (the target slept in
		 * a syscall): nothing to compare, not a failure; the
		 * states stay as they were (nothing was observed).
		 */
		sa_live__note(lv, "windows %" PRIu64 "-%" PRIu64 ": %s",
		     lv->pending_first, last, lei.msg);
		if (lv->o.summary_fn)
			lv->o.summary_fn(lv->o.ctx, &sum);
		lv->groups++;
		return 0;
	}
	if (err) {
		if (ei)
			*ei = lei;
		return err;
	}
	sum.compared = true;
	sum.tests = sa_anomaly_list_nr_tests(l);
	n = sa_anomaly_list_nr_significant(l);
	states = calloc(n + 1, sizeof(*states));
	err = states ? track(lv, l, states, &sum) : -ENOMEM;
	if (err) {
		free(states);
		sa_anomaly_list__free(l);
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "tracking anomalies: %s",
				      sa_strerror(err));
	}
	if (lv->o.summary_fn)
		lv->o.summary_fn(lv->o.ctx, &sum);
	for (i = 0; i < n; i++) {
		const struct sa_anomaly *a = sa_anomaly_list_get(l, i);
		struct sa_live_event ev;
		struct tracked *t;
		char *key;

		if (lv->o.anomaly_fn)
			lv->o.anomaly_fn(lv->o.ctx, a, lv->groups,
					 lv->pending_first, last);
		lv->st.anomalies++;
		if (!lv->o.event_fn || !states[i])
			continue;
		key = identity(a);
		t = key ? tracked_find(lv, key) : NULL;
		free(key);
		if (!t)
			continue;
		event_of(t, states[i], &sum, &ev);
		lv->o.event_fn(lv->o.ctx, &ev);
	}
	/* resolved: tell, then forget */
	for (i = 0, j = 0; i < lv->nr_tr; i++) {
		struct tracked *t = &lv->tr[i];

		if (!t->resolved) {
			lv->tr[j++] = *t;
			continue;
		}
		if (lv->o.event_fn) {
			struct sa_live_event ev;

			event_of(t, SA_LIVE_RESOLVED, &sum, &ev);
			lv->o.event_fn(lv->o.ctx, &ev);
		}
		tracked_fini(t);
	}
	lv->nr_tr = j;
	free(states);
	lv->groups++;
	lv->st.analyses++;
	sa_anomaly_list__free(l);
	return 0;
}

const char *sa_live_host_name(const struct sa_live *lv)
{
	return lv->host;
}

const char *sa_live_exe_name(const struct sa_live *lv)
{
	return lv->exe;
}

const char *sa_live_exe_path(const struct sa_live *lv)
{
	return lv->exe_path;
}

char *sa_live_format_time(const struct timespec *ts, char *buf, size_t size)
{
	struct tm tm;
	char s[32];

	if (!gmtime_r(&ts->tv_sec, &tm) ||
	    !strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(s, sizeof(s), "1970-01-01T00:00:00");
	snprintf(buf, size, "%s.%03ldZ", s, ts->tv_nsec / 1000000);
	return buf;
}

static void json_context(struct sa_json *j, const struct sa_live *lv,
			 const struct timespec *ts)
{
	char t[40];

	sa_json_str(j, "time", sa_live_format_time(ts, t, sizeof(t)));
	sa_json_str(j, "host.name", lv->host);
	sa_json_i64(j, "process.pid", lv->o.backend.pid);
	sa_json_str(j, "process.executable.name", lv->exe);
}

struct event_json {
	const struct sa_live *lv;
	const struct sa_live_event *ev;
};

static void event_fields(struct sa_json *j, void *ctx)
{
	const struct event_json *x = ctx;
	const struct sa_live_event *ev = x->ev;
	char t[40];

	sa_json_str(j, "record", "anomaly");
	json_context(j, x->lv, &ev->time);
	sa_json_str(j, "state", sa_live_state_name(ev->state));
	sa_json_u64(j, "comparison", ev->comparison);
	sa_json_u64(j, "window.first", ev->first_window);
	sa_json_u64(j, "window.last", ev->last_window);
	sa_json_str(j, "first_seen",
		    sa_live_format_time(&ev->first_seen, t, sizeof(t)));
	sa_json_u64(j, "first_seen_window", ev->first_seen_window);
	sa_json_str(j, "last_seen",
		    sa_live_format_time(&ev->last_seen, t, sizeof(t)));
	sa_json_u64(j, "last_seen_window", ev->last_seen_window);
	sa_json_u64(j, "comparisons", ev->comparisons);
}

int sa_live_write_event_json(const struct sa_live *lv,
			     const struct sa_live_event *ev, FILE *f)
{
	struct event_json x = { lv, ev };
	char src[64];

	snprintf(src, sizeof(src), "windows %" PRIu64 "-%" PRIu64,
		 ev->first_window, ev->last_window);
	if (sa_anomaly__write_json(ev->a, f, src, event_fields, &x))
		return -EIO;
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

int sa_live_write_summary_json(const struct sa_live *lv,
			       const struct sa_live_summary *s, FILE *f)
{
	struct sa_json j;

	sa_json_init(&j, f, false);
	sa_json_obj_begin(&j, NULL);
	sa_json_str(&j, "schema", "sensor-agent.live-summary/1");
	sa_json_str(&j, "record", "summary");
	json_context(&j, lv, &s->time);
	sa_json_u64(&j, "comparison", s->comparison);
	sa_json_u64(&j, "window.first", s->first_window);
	sa_json_u64(&j, "window.last", s->last_window);
	sa_json_str(&j, "status", s->compared ? "compared" : "idle");
	sa_json_u64(&j, "windows", s->windows);
	sa_json_u64(&j, "idle_windows", s->idle_windows);
	sa_json_u64(&j, "instructions", s->instructions);
	sa_json_u64(&j, "tests", s->tests);
	sa_json_u64(&j, "anomalies", s->anomalies);
	sa_json_u64(&j, "new", s->new_anomalies);
	sa_json_u64(&j, "ongoing", s->ongoing);
	sa_json_u64(&j, "resolved", s->resolved);
	sa_json_obj_end(&j);
	sa_json_newline(&j);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

int sa_live_write_event_text(const struct sa_live *lv,
			     const struct sa_live_event *ev, FILE *f)
{
	char t[40];
	size_t i;

	(void)lv;
	switch (ev->state) {
	case SA_LIVE_NEW:
		fprintf(f, "\nnew:\n");
		sa_anomaly_write_text1(ev->a, f);
		break;
	case SA_LIVE_ONGOING:
		fprintf(f, "\nongoing #%u ", ev->a->rank);
		sa_anomaly__write_brief(ev->a, f);
		fprintf(f, "; score %.1f; flagged in %" PRIu64
			" comparisons since windows %" PRIu64 " (%s)",
			ev->a->score, ev->comparisons, ev->first_seen_window,
			sa_live_format_time(&ev->first_seen, t, sizeof(t)));
		for (i = 0; i < ev->a->nr_also; i++)
			fprintf(f, "%s%s:%d", i ? ", " : "; also seen in ",
				ev->a->also[i].function,
				ev->a->also[i].line);
		fputc('\n', f);
		break;
	case SA_LIVE_RESOLVED:
		fprintf(f, "\nresolved ");
		sa_anomaly__write_brief(ev->a, f);
		fprintf(f, "; no longer flagged: last seen in windows up to %"
			PRIu64 ", flagged in %" PRIu64 " comparison%s since "
			"windows %" PRIu64 " (%s)\n", ev->last_seen_window,
			ev->comparisons, ev->comparisons == 1 ? "" : "s",
			ev->first_seen_window,
			sa_live_format_time(&ev->first_seen, t, sizeof(t)));
		break;
	default:
		break;
	}
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

int sa_live_write_summary_text(const struct sa_live *lv,
			       const struct sa_live_summary *s, FILE *f)
{
	char t[40];

	fprintf(f, "\n== comparison %" PRIu64 ", windows %" PRIu64 "-%"
		PRIu64 " at %s: ", s->comparison, s->first_window,
		s->last_window, sa_live_format_time(&s->time, t, sizeof(t)));
	if (!s->compared)
		fprintf(f, "idle, nothing to compare");
	else if (!s->anomalies)
		fprintf(f, "no anomaly");
	else
		fprintf(f, "%" PRIu64 " anomal%s (%" PRIu64 " new, %" PRIu64
			" ongoing)", s->anomalies,
			s->anomalies == 1 ? "y" : "ies", s->new_anomalies,
			s->ongoing);
	if (s->resolved)
		fprintf(f, ", %" PRIu64 " resolved", s->resolved);
	fprintf(f, "; %" PRIu64 " tests, %" PRIu64 " instructions in %"
		PRIu64 " window%s (%" PRIu64 " idle); %s pid %d on %s\n",
		s->tests, s->instructions, s->windows,
		s->windows == 1 ? "" : "s", s->idle_windows,
		lv->exe, (int)lv->o.backend.pid, lv->host);
	fflush(f);
	return ferror(f) ? -EIO : 0;
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
	lv->last_decode_ns = dt;
	lv->st.decode_ns += dt;
	if (err >= 0 && lv->o.window_fn)
		lv->o.window_fn(lv->o.window_ctx, h, path);
	if (!lv->o.keep_windows)
		unlink(path);
	if (err < 0) {
		lv->st.windows_failed++;
		sa_live__note(lv, "window %" PRIu64 " not decoded: %s",
			      wi->index, lei.msg);
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
			sa_live__note(lv, "window %" PRIu64 ": nothing to "
				      "learn: %s", wi->index, lei.msg);
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
			sa_live__note(lv, "baseline learnt from %" PRIu64
				      " windows; watching for anomalies",
				      lv->st.learnt);
		} else if (lv->st.learnt < lv->o.learn_windows &&
			   lv->st.learnt * 4 / lv->o.learn_windows !=
			   (lv->st.learnt - 1) * 4 / lv->o.learn_windows) {
			/* progress at each quarter */
			sa_live__note(lv, "learning: %" PRIu64 "/%" PRIu64
				      " windows", lv->st.learnt,
				      lv->o.learn_windows);
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
	uint64_t start = sa_live__mono_ns(), last = 0;
	char path[4300];
	int err = 0;

	sa_errinfo_clear(ei);
	lv->cpu_start_ns = lv->cpu_mark_ns = sa_live__proc_cpu_ns();
	lv->start_ns = start;
	if (lv->learning)
		sa_live__note(lv, "learning a baseline from %" PRIu64
			      " windows", lv->o.learn_windows);
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
		__atomic_add_fetch(&lv->progress, 1, __ATOMIC_RELAXED);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err == -ESRCH) {
			lv->st.target_exited = true;
			sa_live__note(lv, "%s", lei.msg);
			err = 0;
			break;
		}
		if (err < 0) {
			if (ei)
				*ei = lei;
			break;
		}
		if (err == 0) {
			sa_live__budget_report(lv);
			continue;	/* skipped: over budget */
		}
		last = wi.index;
		err = window(lv, path, &wi, ei);
		sa_live__govern(lv, &wi);
		if (err)
			break;
		sa_live__budget_report(lv);
		if (wi.target_exited) {
			lv->st.target_exited = true;
			sa_live__note(lv, "target %d exited",
				      (int)lv->o.backend.pid);
			break;
		}
	}
	/* Flush: what was captured is analysed, even when stopped. */
	if (!err)
		err = analyse(lv, last, ei);
	else
		drop_pending(lv);
	if (lv->learning && lv->st.learnt < lv->o.learn_windows)
		sa_live__note(lv, "stopped while learning: %" PRIu64 " of %"
			      PRIu64 " windows learnt, nothing compared",
			      lv->st.learnt, lv->o.learn_windows);
	lv->st.wall_ns = sa_live__mono_ns() - start;
	lv->st.sensor_cpu_ns = sa_live__proc_cpu_ns() - lv->cpu_start_ns;
	return err;
}
