// SPDX-License-Identifier: BSD-2-Clause
/*
 * The trigger of hardware snapshots: a uprobe perf event on a function of
 * the target, as `perf probe -x BINARY SYMBOL` makes one but through the
 * uprobe PMU (perf_event_open(2): type from .../uprobe/type, config1 the
 * path, config2 the file offset), one per thread of the target, each
 * with a small ring in which every hit is a PERF_RECORD_SAMPLE.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "sensor/capture.h"
#include "sensor/error.h"
#include "capture_int.h"

#define UPROBE_RING_PAGES 1	/* data pages (plus the header page) */

struct sa_cap_uprobe {
	char *path;		/* config1 points here until the open */
	size_t nr;
	int fds[SA_CAP_UPROBE_MAX_THREADS];
	void *rings[SA_CAP_UPROBE_MAX_THREADS];
	size_t ring_len;
	uint64_t hits;
};

int sa_cap_uprobe_attr(const char *sysfs_root, const char *path,
		       uint64_t off, struct perf_event_attr *attr,
		       struct sa_errinfo *ei)
{
	char p[4096], buf[64], *end;
	unsigned long type;
	int n;

	snprintf(p, sizeof(p), "%s/uprobe/type",
		 sysfs_root ? sysfs_root : SA_CAP_SYSFS_DEFAULT);
	n = sa_cap_read_file(p, buf, sizeof(buf));
	if (n < 0)
		return sa_errinfo_set(ei, n == -ENOENT ? -SA_ERR_NOTFOUND : n,
				      SA_NO_OFFSET, "no uprobe PMU: %s: %s "
				      "(a kernel without "
				      "CONFIG_UPROBE_EVENTS?)",
				      p, strerror(-n));
	errno = 0;
	type = strtoul(buf, &end, 10);
	if (errno || end == buf || *end || type > UINT32_MAX)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, 0, "%s: not a PMU "
				      "type: '%s'", p, buf);
	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->type = (uint32_t)type;
	attr->config = 0;	/* format/retprobe (bit 0) clear: entry */
	attr->config1 = (uint64_t)(uintptr_t)path;	/* uprobe_path */
	attr->config2 = off;				/* probe_offset */
	attr->sample_period = 1;
	attr->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			    PERF_SAMPLE_TIME;
	attr->wakeup_events = 1;
	attr->exclude_kernel = 1;
	attr->exclude_hv = 1;
	return 0;
}

static long uprobe_open(struct perf_event_attr *a, pid_t tid)
{
	return syscall(SYS_perf_event_open, a, tid, -1, -1,
		       PERF_FLAG_FD_CLOEXEC);
}

static int add_thread(struct sa_cap_uprobe *u, struct perf_event_attr *a,
		      pid_t tid, struct sa_errinfo *ei)
{
	long fd;
	void *m;

	if (u->nr >= SA_CAP_UPROBE_MAX_THREADS)
		return 0;	/* said in capture.h */
	fd = uprobe_open(a, tid);
	if (fd < 0) {
		if (errno == ESRCH)
			return 0;	/* the thread ended meanwhile */
		return sa_errinfo_set(ei, errno == EACCES || errno == EPERM ?
				      -SA_ERR_PERM : -errno, SA_NO_OFFSET,
				      "perf_event_open(uprobe %s+%#llx, tid "
				      "%d): %s", u->path,
				      (unsigned long long)a->config2,
				      (int)tid, strerror(errno));
	}
	m = mmap(NULL, u->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		 (int)fd, 0);
	if (m == MAP_FAILED) {
		int err = -errno;

		close((int)fd);
		return sa_errinfo_set(ei, err, SA_NO_OFFSET, "mmap of the "
				      "uprobe ring (tid %d): %s", (int)tid,
				      strerror(-err));
	}
	u->fds[u->nr] = (int)fd;
	u->rings[u->nr++] = m;
	return 0;
}

struct sa_cap_uprobe *sa_cap_uprobe__open(const char *sysfs_root, pid_t pid,
					  const char *path, uint64_t off,
					  struct sa_errinfo *ei)
{
	struct perf_event_attr a;
	struct sa_cap_uprobe *u;
	char dir[64];
	struct dirent *de;
	DIR *d;
	int err;

	u = calloc(1, sizeof(*u));
	if (!u || !(u->path = strdup(path))) {
		free(u);
		sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	u->ring_len = (size_t)(1 + UPROBE_RING_PAGES) *
		      (size_t)sysconf(_SC_PAGESIZE);
	err = sa_cap_uprobe_attr(sysfs_root, u->path, off, &a, ei);
	if (err)
		goto fail;
	/* Per thread: an inherited per-task event cannot be mmapped. */
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	if (!d) {
		err = add_thread(u, &a, pid, ei);
	} else {
		while (!err && (de = readdir(d))) {
			long tid = strtol(de->d_name, NULL, 10);

			if (tid > 0)
				err = add_thread(u, &a, (pid_t)tid, ei);
		}
		closedir(d);
	}
	if (!err && !u->nr)
		err = sa_errinfo_set(ei, -ESRCH, SA_NO_OFFSET,
				     "uprobe: no thread of pid %d left",
				     (int)pid);
	if (err)
		goto fail;
	return u;
fail:
	sa_cap_uprobe__free(u);
	errno = -err;
	return NULL;
}

void sa_cap_uprobe__free(struct sa_cap_uprobe *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->nr; i++) {
		munmap(u->rings[i], u->ring_len);
		close(u->fds[i]);
	}
	free(u->path);
	free(u);
}

size_t sa_cap_uprobe_nr_fds(const struct sa_cap_uprobe *u)
{
	return u->nr;
}

int sa_cap_uprobe_fd(const struct sa_cap_uprobe *u, size_t idx)
{
	return idx < u->nr ? u->fds[idx] : -1;
}

/* Consumes the records of one ring; returns the samples among them. */
static uint64_t drain_ring(struct sa_cap_uprobe *u, size_t i)
{
	struct perf_event_mmap_page *pg = u->rings[i];
	size_t page = u->ring_len / (1 + UPROBE_RING_PAGES);
	size_t size = u->ring_len - page;
	const uint8_t *data = (const uint8_t *)pg + page;
	uint64_t head = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = pg->data_tail, hits = 0;

	while (tail + sizeof(struct perf_event_header) <= head) {
		struct perf_event_header h;
		size_t o = (size_t)(tail % size), k;

		for (k = 0; k < sizeof(h); k++)
			((uint8_t *)&h)[k] = data[(o + k) % size];
		if (h.size < sizeof(h))
			break;	/* corrupt: drop the rest */
		if (h.type == PERF_RECORD_SAMPLE)
			hits++;
		tail += h.size;
	}
	__atomic_store_n(&pg->data_tail, head, __ATOMIC_RELEASE);
	return hits;
}

uint64_t sa_cap_uprobe_read(struct sa_cap_uprobe *u)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < u->nr; i++)
		n += drain_ring(u, i);
	u->hits += n;
	return n;
}
