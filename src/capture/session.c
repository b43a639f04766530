// SPDX-License-Identifier: BSD-2-Clause
/*
 * A capture session: perf events on a target, their rings, and one
 * window's worth of data on its way to a perf.data file.
 *
 * The layout follows perf record: the trace event owns the ring (data +
 * AUX) and comes first in the file; a dummy event carries the sideband
 * (mmap2, comm, task, context_switch) into the same ring through
 * PERF_EVENT_IOC_SET_OUTPUT.  Sideband records are kept as the kernel
 * wrote them: perf.data stores exactly these bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include "sensor/capture.h"
#include "sensor/image.h"
#include "sensor/log.h"
#include "capture_int.h"

#define DEF_DATA_SIZE (512u << 10)
#define DEF_AUX_SIZE (4u << 20)
#define DEF_MAX_MEM (64ull << 20)
#define MAX_PIECES 4096

/* Per CPU, another thread of the target: its events write into the
 * CPU's ring (PERF_EVENT_IOC_SET_OUTPUT; the kernel allows it on one CPU).
 */
struct cap_extra {
	int fd, sb_fd;
	pid_t tid;
	uint64_t id, sb_id;
};

struct cap_rb {
	int fd;			/* owns the ring */
	int sb_fd;		/* sideband dummy, output to @fd, or -1 */
	pid_t tid;
	int cpu;
	uint64_t id, sb_id;
	void *base;
	size_t base_len;
	void *aux;
	size_t aux_len;
	struct sa_cap_ring *ring;
	bool borrowed;		/* mappings are the caller's */
	struct cap_extra *extra;	/* per CPU: the other threads */
	size_t nr_extra;
};

struct aux_piece {
	uint64_t buf_off, len, pos;
	uint32_t idx, tid, cpu;
};

struct sa_cap_session {
	struct sa_cap_session_opts o;
	struct perf_event_attr trace_attr, sb_attr;
	bool has_trace;
	char *filter;
	size_t nr;
	struct cap_rb *rb;		/* SA_CAP_MAX_THREADS per thread */
	uint64_t sample_type;
	bool enabled;
	bool follow;			/* open events for new threads */
	pid_t new_tids[64];
	size_t nr_new;
	/* The pending window. */
	uint8_t *sb;
	size_t sb_len, sb_cap;
	uint8_t *aux;
	size_t aux_len, aux_cap;
	struct aux_piece *pieces;
	size_t nr_pieces;
	struct sa_cap_session_stats st;
};

static long perf_event_open(struct perf_event_attr *a, pid_t pid, int cpu,
			    int group, unsigned long flags)
{
	return syscall(SYS_perf_event_open, a, pid, cpu, group, flags);
}

/* Why perf_event_open failed, in words the user can act on. */
static int open_error(int err, const struct perf_event_attr *a, pid_t pid,
		      int cpu, struct sa_errinfo *ei)
{
	char paranoid[16] = "?";

	sa_cap_read_file("/proc/sys/kernel/perf_event_paranoid", paranoid,
			 sizeof(paranoid));
	switch (err) {
	case EACCES:
	case EPERM:
		return sa_errinfo_set(ei, -SA_ERR_PERM, SA_NO_OFFSET,
			"perf_event_open(type %u, pid %d, cpu %d): %s; "
			"perf_event_paranoid is %s: run as root, grant "
			"CAP_PERFMON, or lower kernel.perf_event_paranoid "
			"(2 allows user-space per-thread tracing of your own "
			"processes; -1 allows everything)",
			a->type, (int)pid, cpu, strerror(err), paranoid);
	case ESRCH:
		return sa_errinfo_set(ei, -ESRCH, SA_NO_OFFSET,
				      "perf_event_open: no process %d",
				      (int)pid);
	case ENOENT:
	case ENODEV:
		return sa_errinfo_set(ei, -SA_ERR_NOHW, SA_NO_OFFSET,
				      "perf_event_open(type %u): %s: the PMU "
				      "is not available on cpu %d", a->type,
				      strerror(err), cpu);
	default:
		return sa_errinfo_set(ei, -err, SA_NO_OFFSET,
				      "perf_event_open(type %u, config 0x%llx, "
				      "pid %d, cpu %d): %s", a->type,
				      (unsigned long long)a->config, (int)pid,
				      cpu, strerror(err));
	}
}

static int list_threads(pid_t pid, pid_t *tids, size_t max, size_t *nr,
			struct sa_errinfo *ei)
{
	char path[64];
	struct dirent *d;
	DIR *dir;

	*nr = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return sa_errinfo_set(ei, errno == ENOENT ? -ESRCH : -errno,
				      SA_NO_OFFSET, "%s: %s", path,
				      strerror(errno));
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		if (*nr == max) {
			sa_warn("pid %d has more than %zu threads (the "
				"limit); tracing the first %zu\n", (int)pid, max, max);
			break;
		}
		tids[(*nr)++] = (pid_t)strtol(d->d_name, NULL, 10);
	}
	closedir(dir);
	return 0;
}

static int map_rb(struct sa_cap_session *s, struct cap_rb *r,
		  struct sa_errinfo *ei)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct perf_event_mmap_page *pc;

	r->base_len = page + s->o.data_size;
	r->base = mmap(NULL, r->base_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       r->fd, 0);
	if (r->base == MAP_FAILED) {
		r->base = NULL;
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "mmap of the %" PRIu64 "-byte perf ring: "
				      "%s (perf_event_mlock_kb too small?)",
				      s->o.data_size, strerror(errno));
	}
	if (s->has_trace) {
		pc = r->base;
		pc->aux_offset = r->base_len;
		pc->aux_size = s->o.aux_size;
		/* Read-only AUX means overwrite (snapshot) mode. */
		r->aux_len = s->o.aux_size;
		r->aux = mmap(NULL, r->aux_len,
			      s->o.snapshot ? PROT_READ :
					      PROT_READ | PROT_WRITE,
			      MAP_SHARED, r->fd, (off_t)pc->aux_offset);
		if (r->aux == MAP_FAILED) {
			r->aux = NULL;
			return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				"mmap of the %" PRIu64 "-byte AUX area: %s "
				"(perf_event_mlock_kb, RLIMIT_MEMLOCK?)",
				s->o.aux_size, strerror(errno));
		}
	}
	r->ring = sa_cap_ring__new(r->base, r->aux, s->o.snapshot, ei);
	return r->ring ? 0 : -errno;
}

static int open_rb(struct sa_cap_session *s, struct cap_rb *r, pid_t pid,
		   int cpu, struct sa_errinfo *ei)
{
	struct perf_event_attr *first = s->has_trace ? &s->trace_attr :
						       &s->sb_attr;
	unsigned long fl = PERF_FLAG_FD_CLOEXEC;
	long fd;
	int err;

	r->fd = r->sb_fd = -1;
	r->tid = pid;
	r->cpu = cpu;
	fd = perf_event_open(first, pid, cpu, -1, fl);
	if (fd < 0)
		return open_error(errno, first, pid, cpu, ei);
	r->fd = (int)fd;
	if (ioctl(r->fd, PERF_EVENT_IOC_ID, &r->id))
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "PERF_EVENT_IOC_ID: %s", strerror(errno));
	if (s->has_trace && s->filter &&
	    ioctl(r->fd, PERF_EVENT_IOC_SET_FILTER, s->filter))
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "PERF_EVENT_IOC_SET_FILTER '%s': %s "
				      "(is the file mapped by pid %d?)",
				      s->filter, strerror(errno), (int)pid);
	err = map_rb(s, r, ei);
	if (err)
		return err;
	if (!s->has_trace)
		return 0;
	fd = perf_event_open(&s->sb_attr, pid, cpu, -1, fl);
	if (fd < 0)
		return open_error(errno, &s->sb_attr, pid, cpu, ei);
	r->sb_fd = (int)fd;
	if (ioctl(r->sb_fd, PERF_EVENT_IOC_ID, &r->sb_id) ||
	    ioctl(r->sb_fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd))
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "sideband event: %s", strerror(errno));
	return 0;
}

/* One event (two with a trace: trace + sideband) of thread @tid on the
 * CPU of @r, output to @r's ring.  -ESRCH: the thread is gone.
 */
static int open_extra(struct sa_cap_session *s, struct cap_rb *r, pid_t tid,
		      struct sa_errinfo *ei)
{
	struct perf_event_attr *first = s->has_trace ? &s->trace_attr :
						       &s->sb_attr;
	unsigned long fl = PERF_FLAG_FD_CLOEXEC;
	struct cap_extra *x = &r->extra[r->nr_extra];
	long fd;

	x->fd = x->sb_fd = -1;
	x->tid = tid;
	r->nr_extra++;
	fd = perf_event_open(first, tid, r->cpu, -1, fl);
	if (fd < 0)
		return open_error(errno, first, tid, r->cpu, ei);
	x->fd = (int)fd;
	if (ioctl(x->fd, PERF_EVENT_IOC_ID, &x->id) ||
	    ioctl(x->fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd))
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "thread %d on CPU %d: %s", (int)tid,
				      r->cpu, strerror(errno));
	if (s->has_trace && s->filter &&
	    ioctl(x->fd, PERF_EVENT_IOC_SET_FILTER, s->filter))
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "PERF_EVENT_IOC_SET_FILTER '%s': %s "
				      "(thread %d)", s->filter,
				      strerror(errno), (int)tid);
	if (!s->has_trace)
		return 0;
	fd = perf_event_open(&s->sb_attr, tid, r->cpu, -1, fl);
	if (fd < 0)
		return open_error(errno, &s->sb_attr, tid, r->cpu, ei);
	x->sb_fd = (int)fd;
	if (ioctl(x->sb_fd, PERF_EVENT_IOC_ID, &x->sb_id) ||
	    ioctl(x->sb_fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd))
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "sideband event of thread %d: %s",
				      (int)tid, strerror(errno));
	return 0;
}

static void close_extra(struct cap_extra *x)
{
	if (x->sb_fd >= 0)
		close(x->sb_fd);
	if (x->fd >= 0)
		close(x->fd);
	x->fd = x->sb_fd = -1;
}

static void close_rb(struct cap_rb *r)
{
	size_t i;

	for (i = 0; i < r->nr_extra; i++)
		close_extra(&r->extra[i]);
	free(r->extra);
	r->extra = NULL;
	r->nr_extra = 0;
	sa_cap_ring__free(r->ring);
	if (r->aux && !r->borrowed)
		munmap(r->aux, r->aux_len);
	if (r->base && !r->borrowed)
		munmap(r->base, r->base_len);
	if (r->sb_fd >= 0)
		close(r->sb_fd);
	if (r->fd >= 0)
		close(r->fd);
}

static bool pow2_pages(uint64_t v)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return v >= page && !(v & (v - 1));
}

/* Shared by __open and __wrap: copies and checks the options. */
static int session_init(struct sa_cap_session *s,
			const struct sa_cap_session_opts *o,
			struct sa_errinfo *ei)
{
	s->o = *o;
	if (!s->o.data_size)
		s->o.data_size = DEF_DATA_SIZE;
	if (!s->o.aux_size)
		s->o.aux_size = DEF_AUX_SIZE;
	if (!s->o.max_mem)
		s->o.max_mem = DEF_MAX_MEM;
	if (!pow2_pages(s->o.data_size) ||
	    (o->trace_attr && !pow2_pages(s->o.aux_size)))
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "ring sizes must be a power of two "
				      "pages: data %" PRIu64 ", aux %" PRIu64,
				      s->o.data_size, s->o.aux_size);
	s->has_trace = o->trace_attr != NULL;
	if (s->has_trace)
		s->trace_attr = *o->trace_attr;
	sa_cap_attr_sideband(&s->sb_attr, o->kernel, o->per_cpu);
	/* One sample_id layout for the whole file. */
	if (s->has_trace)
		s->sb_attr.sample_type = s->trace_attr.sample_type;
	s->sample_type = s->sb_attr.sample_type;
	if (o->filter && *o->filter) {
		s->filter = strdup(o->filter);
		if (!s->filter)
			return -ENOMEM;
	}
	s->o.filter = s->filter;
	return 0;
}

struct sa_cap_session *sa_cap_session__wrap(
	const struct sa_cap_session_opts *o, void *base, void *aux,
	uint64_t id, uint64_t sb_id, struct sa_errinfo *ei)
{
	const struct perf_event_mmap_page *pc = base;
	struct sa_cap_session *s;
	struct cap_rb *r;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	err = session_init(s, o, ei);
	if (err)
		goto out_free;
	s->o.data_size = pc->data_size;
	s->o.aux_size = aux ? pc->aux_size : s->o.aux_size;
	s->rb = calloc(1, sizeof(*s->rb));
	if (!s->rb) {
		err = -ENOMEM;
		goto out_free;
	}
	s->nr = 1;
	r = &s->rb[0];
	r->fd = r->sb_fd = -1;
	r->borrowed = true;
	r->tid = o->pid;
	r->cpu = o->per_cpu ? o->cpu : -1;
	r->id = id;
	r->sb_id = sb_id;
	r->base = base;
	r->aux = s->has_trace ? aux : NULL;
	r->ring = sa_cap_ring__new(base, r->aux, o->snapshot, ei);
	if (!r->ring) {
		err = -errno;
		goto out_free;
	}
	return s;

out_free:
	sa_cap_session__free(s);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

struct sa_cap_session *sa_cap_session__open(
	const struct sa_cap_session_opts *o, struct sa_errinfo *ei)
{
	pid_t tids[SA_CAP_MAX_THREADS], threads[SA_CAP_MAX_THREADS];
	size_t nr_threads = 0, t;
	struct sa_cap_session *s;
	size_t i, n = 0;
	int err = 0;

	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	err = session_init(s, o, ei);
	if (err)
		goto out_free;

	if (o->per_cpu) {
		int cpu, nr_cpus = get_nprocs_conf();

		/* Every thread on every CPU, as perf record -p does: an
		 * event on @pid alone follows the threads it creates
		 * (inherit), not those that exist already.
		 */
		err = list_threads(o->pid, threads, SA_CAP_MAX_THREADS,
				   &nr_threads, ei);
		if (err)
			goto out_free;

		if (o->cpu >= 0) {
			tids[0] = o->cpu;
			n = 1;
		} else {
			for (cpu = 0; cpu < nr_cpus &&
				      n < SA_CAP_MAX_THREADS; cpu++)
				tids[n++] = cpu;
		}
	} else {
		err = list_threads(o->pid, tids, SA_CAP_MAX_THREADS, &n, ei);
		if (err)
			goto out_free;
	}
	/* The AUX areas of all rings are locked memory: keep their sum
	 * within the memory cap by halving the per-ring size (down to 8 KiB,
	 * perf's minimum for full-trace mode).
	 */
	if (s->has_trace) {
		uint64_t aux = s->o.aux_size;

		while (aux > 8192 && aux * n > s->o.max_mem)
			aux /= 2;
		if (aux * n > s->o.max_mem) {
			err = sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				"%zu rings of at least 8 KiB of AUX exceed the "
				"memory cap of %" PRIu64 " bytes", n,
				s->o.max_mem);
			goto out_free;
		}
		if (aux != s->o.aux_size)
			sa_warn("AUX area per ring cut from %" PRIu64 " to %"
				PRIu64 " bytes: %zu rings within the %" PRIu64
				"-byte memory cap\n", s->o.aux_size, aux, n,
				s->o.max_mem);
		s->o.aux_size = aux;
	}
	/* Per thread, room for the threads born later (see drain). */
	s->follow = !o->per_cpu;
	s->rb = calloc(s->follow ? SA_CAP_MAX_THREADS : n, sizeof(*s->rb));
	if (!s->rb) {
		err = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		s->rb[i].fd = s->rb[i].sb_fd = -1;
		if (o->per_cpu)
			err = open_rb(s, &s->rb[i], o->pid, tids[i], ei);
		else
			err = open_rb(s, &s->rb[i], tids[i], -1, ei);
		s->nr = i + 1;
		if (!err && o->per_cpu && nr_threads > 1) {
			struct cap_rb *r = &s->rb[i];

			r->extra = calloc(nr_threads, sizeof(*r->extra));
			if (!r->extra)
				err = -ENOMEM;
			for (t = 0; !err && t < nr_threads; t++) {
				if (threads[t] == o->pid)
					continue;
				err = open_extra(s, r, threads[t], ei);
				/* A thread that ended meanwhile. */
				if (err == -ESRCH) {
					close_extra(&r->extra[--r->nr_extra]);
					err = 0;
				}
			}
		}
		/* A thread that ended meanwhile is not an error. */
		if (err == -ESRCH && !o->per_cpu && i) {
			close_rb(&s->rb[i]);
			memset(&s->rb[i], 0, sizeof(s->rb[i]));
			s->rb[i].fd = s->rb[i].sb_fd = -1;
			s->nr = i;
			err = 0;
			continue;
		}
		if (err)
			goto out_free;
	}
	return s;

out_free:
	sa_cap_session__free(s);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

void sa_cap_session__free(struct sa_cap_session *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nr; i++)
		close_rb(&s->rb[i]);
	free(s->rb);
	free(s->filter);
	free(s->sb);
	free(s->aux);
	free(s->pieces);
	free(s);
}

static int ioctl_all(struct sa_cap_session *s, unsigned long req)
{
	size_t i;

	size_t k;

	for (i = 0; i < s->nr; i++) {
		if (s->rb[i].fd < 0)
			continue;
		if (ioctl(s->rb[i].fd, req, 0))
			return -errno;
		if (s->rb[i].sb_fd >= 0 && ioctl(s->rb[i].sb_fd, req, 0))
			return -errno;
		for (k = 0; k < s->rb[i].nr_extra; k++) {
			const struct cap_extra *x = &s->rb[i].extra[k];

			if (x->fd >= 0 && ioctl(x->fd, req, 0))
				return -errno;
			if (x->sb_fd >= 0 && ioctl(x->sb_fd, req, 0))
				return -errno;
		}
	}
	return 0;
}

int sa_cap_session_enable(struct sa_cap_session *s)
{
	s->enabled = true;
	return ioctl_all(s, PERF_EVENT_IOC_ENABLE);
}

int sa_cap_session_disable(struct sa_cap_session *s)
{
	s->enabled = false;
	return ioctl_all(s, PERF_EVENT_IOC_DISABLE);
}

/* A thread of the target was born (PERF_RECORD_FORK in the ring of the
 * thread that created it): remember it, its events are opened after the
 * rings are read.  Per-task events cannot inherit and still be mmapped,
 * so this is how per-thread mode follows new threads, as soon as the
 * sideband tells us (the first instructions of the thread are missed).
 */
static void note_new_thread(struct sa_cap_session *s,
			    const struct sa_pd_event *ev)
{
	size_t i;

	if (!s->follow || ev->type != PERF_RECORD_FORK ||
	    ev->fork.pid != (uint32_t)s->o.pid || ev->fork.tid == ev->fork.pid)
		return;
	for (i = 0; i < s->nr; i++)
		if (s->rb[i].tid == (pid_t)ev->fork.tid)
			return;
	for (i = 0; i < s->nr_new; i++)
		if (s->new_tids[i] == (pid_t)ev->fork.tid)
			return;
	if (s->nr_new < sizeof(s->new_tids) / sizeof(s->new_tids[0]))
		s->new_tids[s->nr_new++] = (pid_t)ev->fork.tid;
}

static void open_new_threads(struct sa_cap_session *s)
{
	size_t i;

	for (i = 0; i < s->nr_new; i++) {
		struct cap_rb *r;

		if (s->nr == SA_CAP_MAX_THREADS) {
			s->st.threads_missed += s->nr_new - i;
			break;
		}
		r = &s->rb[s->nr];
		memset(r, 0, sizeof(*r));
		if (open_rb(s, r, s->new_tids[i], -1, NULL)) {
			/* Gone already, or refused. */
			close_rb(r);
			memset(r, 0, sizeof(*r));
			s->st.threads_missed++;
			continue;
		}
		s->nr++;
		s->st.threads_followed++;
		if (s->enabled) {
			ioctl(r->fd, PERF_EVENT_IOC_ENABLE, 0);
			if (r->sb_fd >= 0)
				ioctl(r->sb_fd, PERF_EVENT_IOC_ENABLE, 0);
		}
	}
	s->nr_new = 0;
}

/* Grows @buf to hold @need more bytes, within the memory cap. */
static int reserve(struct sa_cap_session *s, uint8_t **buf, size_t *cap,
		   size_t len, size_t need)
{
	size_t ncap = *cap ? *cap : 65536;
	uint8_t *nb;

	if (len + need <= *cap)
		return 0;
	if (s->sb_cap + s->aux_cap + need > s->o.max_mem)
		return -SA_ERR_TOOBIG;
	while (ncap < len + need)
		ncap *= 2;
	if (ncap > s->o.max_mem)
		ncap = len + need;
	nb = realloc(*buf, ncap);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

static void take_aux(struct sa_cap_session *s, size_t idx,
		     const struct sa_cap_aux_chunk *c)
{
	uint64_t len = c->len[0] + c->len[1];
	struct aux_piece *p;

	if (!len)
		return;
	if (s->nr_pieces == MAX_PIECES ||
	    reserve(s, &s->aux, &s->aux_cap, s->aux_len, len)) {
		s->st.aux_dropped += len;
		return;
	}
	if (!s->pieces) {
		s->pieces = calloc(MAX_PIECES, sizeof(*s->pieces));
		if (!s->pieces) {
			s->st.aux_dropped += len;
			return;
		}
	}
	memcpy(s->aux + s->aux_len, c->data[0], c->len[0]);
	if (c->len[1])
		memcpy(s->aux + s->aux_len + c->len[0], c->data[1], c->len[1]);
	p = &s->pieces[s->nr_pieces++];
	p->buf_off = s->aux_len;
	p->len = len;
	p->pos = c->pos;
	p->idx = (uint32_t)idx;
	p->tid = s->o.per_cpu ? (uint32_t)-1 : (uint32_t)s->rb[idx].tid;
	p->cpu = s->o.per_cpu ? (uint32_t)s->rb[idx].cpu : (uint32_t)-1;
	s->aux_len += len;
	s->st.aux_bytes += len;
}

/* Reads one data ring; keeps the records (all of them, or all but
 * context switches when @keep_switch is false) in the window buffer.
 * Returns the records read, or nr + 1 with *@stop when @fn asked to stop.
 */
static int read_ring(struct sa_cap_session *s, struct cap_rb *r,
		     bool keep_switch, sa_cap_record_fn fn, void *ctx,
		     bool *stop, struct sa_errinfo *ei)
{
	const struct perf_event_header *h;
	struct sa_pd_event ev;
	int nr = 0, err;

	if (sa_cap_ring_read_init(r->ring, ei)) {
		s->st.corrupt++;
		return 0;
	}
	while ((err = sa_cap_ring_read_event(r->ring, &h, ei)) == 1) {
		bool sw = h->type == PERF_RECORD_SWITCH ||
			  h->type == PERF_RECORD_SWITCH_CPU_WIDE;

		if (sw && !keep_switch) {
			s->st.switch_dropped++;
		} else if (!reserve(s, &s->sb, &s->sb_cap, s->sb_len,
				    h->size)) {
			memcpy(s->sb + s->sb_len, h, h->size);
			s->sb_len += h->size;
			s->st.sideband_bytes += h->size;
		} else {
			s->st.sideband_dropped++;
		}
		nr++;
		if (!sa_cap_parse_record(h, s->sample_type, true, &ev, NULL)) {
			sa_cap_ring_account(&s->st.ring, &ev);
			note_new_thread(s, &ev);
			if (fn && fn(ctx, &ev)) {
				*stop = true;
				break;
			}
		}
		sa_cap_ring_consume(r->ring);
	}
	if (err < 0)
		s->st.corrupt++;
	sa_cap_ring_consume(r->ring);
	sa_cap_ring_read_done(r->ring);
	return nr;
}

int sa_cap_session_drain(struct sa_cap_session *s, sa_cap_record_fn fn,
			 void *ctx, struct sa_errinfo *ei)
{
	struct sa_cap_aux_chunk c;
	bool stop = false;
	int64_t n;
	size_t i;
	int nr = 0;

	for (i = 0; i < s->nr && !stop; i++) {
		struct cap_rb *r = &s->rb[i];

		if (!r->ring)
			continue;
		if (s->has_trace && r->aux) {
			if (s->o.snapshot) {
				n = sa_cap_aux_snapshot(r->ring, &c, ei);
				if (n > 0)
					take_aux(s, i, &c);
			} else {
				n = sa_cap_aux_peek(r->ring, &c, ei);
				if (n > 0) {
					take_aux(s, i, &c);
					sa_cap_aux_consume(r->ring,
							   (uint64_t)n);
				}
			}
			if (n < 0)
				s->st.corrupt++;
		}
		nr += read_ring(s, r, true, fn, ctx, &stop, ei);
	}
	open_new_threads(s);
	return nr;
}

int sa_cap_session_drain_sideband(struct sa_cap_session *s,
				  struct sa_errinfo *ei)
{
	bool stop = false;
	size_t i;
	int nr = 0;

	for (i = 0; i < s->nr; i++)
		if (s->rb[i].ring)
			nr += read_ring(s, &s->rb[i], false, NULL, NULL, &stop,
					ei);
	open_new_threads(s);
	return nr;
}

void sa_cap_session_discard(struct sa_cap_session *s)
{
	s->sb_len = 0;
	s->aux_len = 0;
	s->nr_pieces = 0;
}

/* perf's intel_pt_info_fill(), from sysfs and the user page. */
static int pt_info(struct sa_cap_session *s, uint64_t *priv, size_t max,
		   size_t *nr)
{
	const struct sa_cap_pmu *p = s->o.pmu;
	const struct perf_event_mmap_page *pc = s->rb[0].base;
	const struct sa_cap_format *f;
	size_t flen = s->filter ? strlen(s->filter) : 0;
	size_t fwords = flen ? (flen + 1 + 7) / 8 : 0;
	uint32_t n = 0, d = 0, ratio = 0;

	if (SA_PD_INTEL_PT_AUXTRACE_PRIV_MAX + fwords > max)
		return -SA_ERR_TOOBIG;
	memset(priv, 0, (SA_PD_INTEL_PT_AUXTRACE_PRIV_MAX + fwords) * 8);
	priv[SA_PD_INTEL_PT_PMU_TYPE] = sa_cap_pmu_type(p);
	if (pc->cap_user_time_zero) {
		priv[SA_PD_INTEL_PT_TIME_SHIFT] = pc->time_shift;
		priv[SA_PD_INTEL_PT_TIME_MULT] = pc->time_mult;
		priv[SA_PD_INTEL_PT_TIME_ZERO] = pc->time_zero;
		priv[SA_PD_INTEL_PT_CAP_USER_TIME_ZERO] = 1;
	}
	f = sa_cap_pmu_format(p, "tsc");
	priv[SA_PD_INTEL_PT_TSC_BIT] = f ? f->mask : 0;
	f = sa_cap_pmu_format(p, "noretcomp");
	priv[SA_PD_INTEL_PT_NORETCOMP_BIT] = f ? f->mask : 0;
	/* perf's 2: context switches come as PERF_RECORD_SWITCH from the
	 * tracking event (ours has context_switch), needed per CPU.
	 */
	priv[SA_PD_INTEL_PT_HAVE_SCHED_SWITCH] = s->o.per_cpu ? 2 : 0;
	priv[SA_PD_INTEL_PT_SNAPSHOT_MODE] = s->o.snapshot;
	priv[SA_PD_INTEL_PT_PER_CPU_MMAPS] = s->o.per_cpu;
	f = sa_cap_pmu_format(p, "mtc");
	priv[SA_PD_INTEL_PT_MTC_BIT] = f ? f->mask : 0;
	f = sa_cap_pmu_format(p, "mtc_period");
	priv[SA_PD_INTEL_PT_MTC_FREQ_BITS] = f ? f->mask : 0;
	/* tsc_art_ratio is CPUID.15H EBX:EAX = n:d. */
	if (!sa_cap_pmu_tsc_art_ratio(p, &n, &d)) {
		priv[SA_PD_INTEL_PT_TSC_CTC_N] = n;
		priv[SA_PD_INTEL_PT_TSC_CTC_D] = d;
	}
	f = sa_cap_pmu_format(p, "cyc");
	priv[SA_PD_INTEL_PT_CYC_BIT] = f ? f->mask : 0;
	if (!sa_cap_pmu_max_nonturbo_ratio(p, &ratio))
		priv[SA_PD_INTEL_PT_MAX_NONTURBO_RATIO] = ratio;
	priv[SA_PD_INTEL_PT_FILTER_STR_LEN] = flen;
	if (flen)
		memcpy(&priv[SA_PD_INTEL_PT_AUXTRACE_PRIV_MAX], s->filter,
		       flen);
	*nr = SA_PD_INTEL_PT_AUXTRACE_PRIV_MAX + fwords;
	return 0;
}

/* perf's cs_etm_info_fill() (header version 1; ETMv4 per-CPU blocks with
 * the ID registers from sysfs and TRCCONFIGR/TRCTRACEIDR synthesized from
 * the attr, as perf does).
 */
#define CS_HEADER_VERSION 1
#define CS_ETMV4_MAGIC 0x4040404040404040ULL
#define CS_ETMV4_NR_PARAMS 7	/* TRCCONFIGR .. TRCAUTHSTATUS */

static int etm_info(struct sa_cap_session *s, uint64_t *priv, size_t max,
		    size_t *nr)
{
	const struct sa_cap_pmu *p = s->o.pmu;
	size_t ncpu = sa_cap_pmu_nr_etm_cpus(p), i, k = 0;
	uint64_t cfg = s->trace_attr.config, trcconfigr = 0;
	const struct sa_cap_format *f;

	if (3 + ncpu * (3 + CS_ETMV4_NR_PARAMS) > max)
		return -SA_ERR_TOOBIG;
	/* cs_etmv4_get_config(): attr bits to TRCCONFIGR bits. */
	if ((f = sa_cap_pmu_format(p, "cycacc")) && (cfg & f->mask))
		trcconfigr |= 1u << 4;
	if ((f = sa_cap_pmu_format(p, "timestamp")) && (cfg & f->mask))
		trcconfigr |= 1u << 11;
	if ((f = sa_cap_pmu_format(p, "contextid1")) && (cfg & f->mask))
		trcconfigr |= 1u << 6;
	if ((f = sa_cap_pmu_format(p, "contextid2")) && (cfg & f->mask))
		trcconfigr |= (1u << 7) | (1u << 15);	/* VMID, VMID_OPT */
	if ((f = sa_cap_pmu_format(p, "retstack")) && (cfg & f->mask))
		trcconfigr |= 1u << 12;
	if ((f = sa_cap_pmu_format(p, "branch_broadcast")) && (cfg & f->mask))
		trcconfigr |= 1u << 3;
	priv[k++] = CS_HEADER_VERSION;
	priv[k++] = (uint64_t)sa_cap_pmu_type(p) << 32 | ncpu;
	priv[k++] = s->o.snapshot;
	for (i = 0; i < ncpu; i++) {
		const struct sa_cap_etm_cpu *c = sa_cap_pmu_etm_cpu(p, i);

		priv[k++] = CS_ETMV4_MAGIC;
		priv[k++] = (uint64_t)c->cpu;
		priv[k++] = CS_ETMV4_NR_PARAMS;
		priv[k++] = trcconfigr;
		/* CORESIGHT_LEGACY_CPU_TRACE_ID: 0x10 + 2 * cpu. */
		priv[k++] = c->has_traceid ? c->traceid :
					     0x10u + 2u * (unsigned)c->cpu;
		priv[k++] = c->trcidr[0];
		priv[k++] = c->trcidr[1];
		priv[k++] = c->trcidr[2];
		priv[k++] = c->trcidr[8];
		priv[k++] = c->trcauthstatus;
	}
	*nr = k;
	return 0;
}

/* Build-ids of the files a window maps, once each, in the perf.data
 * build-id table (as perf record's HEADER_BUILD_ID: pid -1 = host, misc
 * USER), so that the window decodes from a build-id cache elsewhere.
 */
#define BID_FILES_MAX 1024

struct bid_set {
	size_t nr;
	char *names[BID_FILES_MAX];
};

/* The size of this process's [vdso] mapping that starts at @start, 0
 * when /proc/self/maps does not show it.
 */
static size_t own_vdso_len(uintptr_t start)
{
	char line[256];
	size_t len = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return 0;
	while (!len && fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;

		if (strstr(line, "[vdso]") &&
		    sscanf(line, "%llx-%llx", &lo, &hi) == 2 && lo == start)
			len = (size_t)(hi - lo);
	}
	fclose(f);
	return len;
}

/*
 * The vDSO has no file: the kernel maps one image into every process of
 * an ABI.  As perf record does (tools/perf/util/vdso.c), the sensor saves
 * its own vDSO in the build-id cache and lists its build-id as [vdso],
 * so that the decoder names the targets there (docs/histories.md).  Only
 * when the target's [vdso] mapping has our size: a 32-bit target has
 * another image, and a wrong one would name its code wrongly.  Best
 * effort: without it, vDSO targets stay [vdso] + offset, counted.
 */
static void bid_add_vdso(struct sa_pd_writer *w, uint64_t target_len)
{
	uintptr_t start = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	size_t len;
	uint8_t id[20];
	int n, err;

	if (!start)
		return;
	len = own_vdso_len(start);
	if (!len || len != target_len)
		return;
	n = sa_build_id_mem((const void *)start, len, id, sizeof(id));
	if (n <= 0)
		return;
	err = sa_pd_buildid_save("[vdso]", id, (size_t)n,
				 (const void *)start, len);
	if (err)
		sa_debug("capture: the vDSO image was not saved: %s\n",
			 sa_strerror(err));
	else
		sa_pd_writer_add_build_id(w, -1, PERF_RECORD_MISC_USER, id,
					  (size_t)n, "[vdso]");
}

static void bid_add(struct bid_set *b, struct sa_pd_writer *w,
		    const char *fn, uint64_t len)
{
	uint8_t id[20];
	size_t i;
	int n;

	if (b->nr == BID_FILES_MAX || (fn[0] != '/' && strcmp(fn, "[vdso]")))
		return;
	for (i = 0; i < b->nr; i++)
		if (!strcmp(b->names[i], fn))
			return;
	b->names[b->nr] = strdup(fn);
	if (!b->names[b->nr])
		return;
	b->nr++;
	if (fn[0] == '[') {
		bid_add_vdso(w, len);
		return;
	}
	n = sa_build_id_read(fn, id, sizeof(id));
	if (n > 0)
		sa_pd_writer_add_build_id(w, -1, PERF_RECORD_MISC_USER, id,
					  (size_t)n, fn);
}

static void bid_free(struct bid_set *b)
{
	size_t i;

	for (i = 0; i < b->nr; i++)
		free(b->names[i]);
	b->nr = 0;
}

/* COMM and MMAP2 of what the target has mapped when the window starts,
 * as perf's synthesize step does, so that the decoder knows the
 * executable mappings that were there before the trace began.
 */
static int synth_maps(struct sa_cap_session *s, struct sa_pd_writer *w,
		      const struct sa_pd_sample_id *sid, struct bid_set *bids)
{
	char path[64], line[PATH_MAX + 256], comm[32] = "";
	pid_t pid = s->o.pid;
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (sa_cap_read_file(path, comm, sizeof(comm)) >= 0) {
		err = sa_pd_writer_comm(w, pid, pid, comm, false, sid);
		if (err)
			return err;
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, off, ino;
		unsigned int maj, min;
		char perm[8];
		int n = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &lo, &hi,
			   perm, &off, &maj, &min, &ino, &n) < 7)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (perm[2] != 'x' || (line[n] != '/' && line[n] != '['))
			continue;
		err = sa_pd_writer_mmap2(w, pid, pid, lo, hi - lo, off,
					 PROT_READ | PROT_EXEC, MAP_PRIVATE,
					 line + n, sid);
		bid_add(bids, w, line + n, hi - lo);
		if (err) {
			fclose(f);
			return err;
		}
	}
	fclose(f);
	return 0;
}

int sa_cap_session_write(struct sa_cap_session *s, const char *path,
			 struct sa_errinfo *ei)
{
	uint64_t priv[SA_PD_INTEL_PT_AUXTRACE_PRIV_MAX + 600];
	uint64_t *ids = NULL, *sb_ids = NULL;
	struct sa_pd_sample_id sid = { 0 };
	struct bid_set bids = { 0 };
	struct sa_pd_writer *w;
	struct utsname u;
	size_t i, nr_priv = 0, off, nr_ids = 0, n;
	int err = 0;

	w = sa_pd_writer__new(path, ei);
	if (!w)
		return -errno;
	/* Every event's id: perf matches records by their sample id. */
	for (i = 0; i < s->nr; i++)
		nr_ids += 1 + s->rb[i].nr_extra;
	ids = calloc(nr_ids ? nr_ids : 1, sizeof(*ids));
	sb_ids = calloc(nr_ids ? nr_ids : 1, sizeof(*sb_ids));
	if (!ids || !sb_ids) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0, n = 0; i < s->nr; i++) {
		size_t k;

		ids[n] = s->rb[i].id;
		sb_ids[n++] = s->rb[i].sb_id;
		for (k = 0; k < s->rb[i].nr_extra; k++) {
			ids[n] = s->rb[i].extra[k].id;
			sb_ids[n++] = s->rb[i].extra[k].sb_id;
		}
	}
	if (s->has_trace) {
		err = sa_pd_writer_add_attr(w, &s->trace_attr, ids, nr_ids,
					    s->o.pmu ?
					    sa_cap_pmu_name(s->o.pmu) : NULL);
		if (!err)
			err = sa_pd_writer_add_attr(w, &s->sb_attr, sb_ids,
						    nr_ids, "dummy:u");
	} else {
		err = sa_pd_writer_add_attr(w, &s->sb_attr, ids, nr_ids,
					    "dummy:u");
	}
	if (err)
		goto out;
	if (!uname(&u)) {
		sa_pd_writer_set_arch(w, u.machine);
		sa_pd_writer_set_osrelease(w, u.release);
		sa_pd_writer_set_hostname(w, u.nodename);
	}
	sa_pd_writer_set_nr_cpus(w, (uint32_t)get_nprocs_conf(),
				 (uint32_t)get_nprocs());
	if (s->has_trace && s->o.pmu) {
		bool pt = !strcmp(sa_cap_pmu_name(s->o.pmu), "intel_pt");

		err = pt ? pt_info(s, priv, sizeof(priv) / 8, &nr_priv) :
			   etm_info(s, priv, sizeof(priv) / 8, &nr_priv);
		if (!err)
			err = sa_pd_writer_auxtrace_info(w,
				pt ? SA_PD_AUXTRACE_INTEL_PT :
				     SA_PD_AUXTRACE_CS_ETM, priv, nr_priv);
		if (err)
			goto out;
	}
	sid.valid = (uint32_t)(s->sample_type & (PERF_SAMPLE_TID |
			       PERF_SAMPLE_TIME | PERF_SAMPLE_IDENTIFIER |
			       PERF_SAMPLE_CPU));
	sid.pid = sid.tid = (uint32_t)s->o.pid;
	sid.id = s->nr ? s->rb[0].sb_id ? s->rb[0].sb_id : s->rb[0].id : 0;
	err = synth_maps(s, w, &sid, &bids);
	if (err && err != -ENOENT && err != -ESRCH)
		goto out;
	err = 0;
	for (off = 0; off < s->sb_len && !err;) {
		const struct perf_event_header *h = (const void *)(s->sb + off);
		struct sa_pd_event ev;

		err = sa_pd_writer_raw(w, h, h->size);
		if ((h->type == PERF_RECORD_MMAP2 ||
		     h->type == PERF_RECORD_MMAP) &&
		    !sa_cap_parse_record(h, s->sample_type, true, &ev, NULL))
			bid_add(&bids, w, ev.mmap.filename, ev.mmap.len);
		off += h->size;
	}
	for (i = 0; i < s->nr_pieces && !err; i++) {
		const struct aux_piece *p = &s->pieces[i];

		err = sa_pd_writer_auxtrace(w, s->aux + p->buf_off, p->len,
					    p->pos, 0, p->idx, p->tid, p->cpu);
	}
	if (!err)
		err = sa_pd_writer_finished_round(w);
out:
	free(ids);
	free(sb_ids);
	bid_free(&bids);
	sa_cap_session_discard(s);
	if (err) {
		sa_pd_writer__free(w);
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "writing window %s: %s", path,
				      sa_strerror(err));
	}
	return sa_pd_writer_close(w, ei);
}

void sa_cap_session_stats(const struct sa_cap_session *s,
			  struct sa_cap_session_stats *st)
{
	size_t i;

	*st = s->st;
	st->threads = 0;
	if (!s->o.per_cpu) {
		for (i = 0; i < s->nr; i++)
			st->threads += s->rb[i].fd >= 0;
		return;
	}
	/* The same threads on every CPU, but for one that ended while the
	 * events were opened.
	 */
	for (i = 0; i < s->nr; i++)
		if (s->rb[i].fd >= 0 && 1 + s->rb[i].nr_extra > st->threads)
			st->threads = 1 + s->rb[i].nr_extra;
}

size_t sa_cap_session_nr_rings(const struct sa_cap_session *s)
{
	return s->nr;
}

uint64_t sa_cap_session_pending_aux(const struct sa_cap_session *s)
{
	return s->aux_len;
}

/* aux_start_paused is bit 0 of the u32 at byte 116 of perf_event_attr
 * (aux_action, Linux 6.13; formerly __reserved_3, which older kernels
 * require to be 0).  The build's linux/perf_event.h may predate it, so
 * the probe sets the bit by offset.
 */
#define ATTR_AUX_ACTION_OFF 116

int sa_cap_kernel_aux_pause(void)
{
	union {
		struct perf_event_attr a;
		uint8_t b[PERF_ATTR_SIZE_VER7];
	} u;
	uint32_t start_paused = 1;
	long fd;

	memset(&u, 0, sizeof(u));
	u.a.size = PERF_ATTR_SIZE_VER7;
	u.a.type = PERF_TYPE_SOFTWARE;
	u.a.config = PERF_COUNT_SW_DUMMY;
	u.a.disabled = 1;
	u.a.exclude_kernel = 1;
	u.a.exclude_hv = 1;
	memcpy(u.b + ATTR_AUX_ACTION_OFF, &start_paused, 4);
	fd = perf_event_open(&u.a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd >= 0) {
		close((int)fd);
		return 1;
	}
	/* A kernel that knows the bit refuses it for a PMU without
	 * PERF_PMU_CAP_AUX_PAUSE; an older one refuses a reserved bit.
	 */
	if (errno == EOPNOTSUPP)
		return 1;
	if (errno == EINVAL)
		return 0;
	return -errno;
}
