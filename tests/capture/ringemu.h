/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An emulated kernel side of the perf_event mmap rings, for tests.
 *
 * Lays out memory exactly as perf_mmap() does: one user page (struct
 * perf_event_mmap_page) with data_offset = page size, data_size bytes of
 * data ring after it, and a separate AUX area whose offset/size are in
 * the user page.  The writer follows kernel/events/ring_buffer.c:
 * records are u64-aligned and written at data_head, which is published
 * with release semantics after the bytes; a record that does not fit
 * before data_tail is dropped and counted, and a PERF_RECORD_LOST is
 * written once there is space again.  The AUX writer follows the normal
 * (aux_tail respected, TRUNCATED when full) and overwrite (aux_head only)
 * modes.
 */
#ifndef SA_TEST_RINGEMU_H
#define SA_TEST_RINGEMU_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/perf_event.h>

#define EMU_ST (PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_IDENTIFIER)

struct ringemu {
	void *base;
	size_t map_len;
	struct perf_event_mmap_page *pc;
	uint8_t *data;
	uint64_t size;
	uint8_t *aux;
	uint64_t aux_size;
	bool aux_overwrite;
	uint64_t lost;		/* records dropped, not yet reported */
	uint64_t id;		/* sample id written in trailers */
	uint32_t pid, tid;
	uint64_t time;
};

static inline void ringemu_init(struct ringemu *e, uint64_t data_size,
				uint64_t aux_size, bool overwrite)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	memset(e, 0, sizeof(*e));
	e->map_len = page + data_size;
	e->base = mmap(NULL, e->map_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	e->pc = e->base;
	e->pc->data_offset = page;
	e->pc->data_size = data_size;
	e->data = (uint8_t *)e->base + page;
	e->size = data_size;
	if (aux_size) {
		/* Zeroed, as the kernel's AUX pages are. */
		e->aux = mmap(NULL, aux_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		e->pc->aux_offset = e->map_len;
		e->pc->aux_size = aux_size;
		e->aux_size = aux_size;
	}
	e->aux_overwrite = overwrite;
	e->id = 42;
	e->pid = 1234;
	e->tid = 1235;
	e->time = 1000;
}

static inline void ringemu_fini(struct ringemu *e)
{
	munmap(e->base, e->map_len);
	if (e->aux)
		munmap(e->aux, e->aux_size);
}

static inline uint64_t ringemu_free(const struct ringemu *e)
{
	uint64_t head = e->pc->data_head;
	uint64_t tail = __atomic_load_n(&e->pc->data_tail, __ATOMIC_ACQUIRE);

	return e->size - (head - tail);
}

static inline void ringemu_copy(struct ringemu *e, uint64_t pos,
				const void *src, size_t len)
{
	uint64_t off = pos & (e->size - 1), first = e->size - off;

	if (len <= first) {
		memcpy(e->data + off, src, len);
	} else {
		memcpy(e->data + off, src, first);
		memcpy(e->data, (const uint8_t *)src + first, len - first);
	}
}

/* Writes a complete record (header included, u64-aligned).  Returns 1,
 * or 0 when dropped (ring full).
 */
static inline int ringemu_put_raw(struct ringemu *e, const void *rec,
				  size_t len)
{
	uint64_t head = e->pc->data_head;

	if (len > ringemu_free(e)) {
		e->lost++;
		return 0;
	}
	ringemu_copy(e, head, rec, len);
	__atomic_store_n(&e->pc->data_head, head + len, __ATOMIC_RELEASE);
	return 1;
}

static inline size_t ringemu_trailer(struct ringemu *e, uint8_t *p)
{
	uint32_t t[2] = { e->pid, e->tid };

	memcpy(p, t, 8);
	memcpy(p + 8, &e->time, 8);
	memcpy(p + 16, &e->id, 8);
	e->time += 10;
	return 24;
}

/* The kernel reports drops before the next record that fits. */
static inline int ringemu_put(struct ringemu *e, uint32_t type, uint16_t misc,
			      const void *body, size_t blen)
{
	uint8_t rec[4096];
	struct perf_event_header h;
	size_t len;

	if (e->lost) {
		uint8_t lrec[64];
		uint64_t v[2] = { e->id, e->lost };
		size_t ll = 8;

		h.type = PERF_RECORD_LOST;
		h.misc = 0;
		memcpy(lrec + ll, v, 16);
		ll += 16;
		ll += ringemu_trailer(e, lrec + ll);
		h.size = (uint16_t)ll;
		memcpy(lrec, &h, 8);
		if (ll <= ringemu_free(e)) {
			ringemu_copy(e, e->pc->data_head, lrec, ll);
			__atomic_store_n(&e->pc->data_head,
					 e->pc->data_head + ll,
					 __ATOMIC_RELEASE);
			e->lost = 0;
		}
	}
	len = 8 + ((blen + 7) & ~(size_t)7);
	memset(rec, 0, sizeof(rec));
	memcpy(rec + 8, body, blen);
	len += ringemu_trailer(e, rec + len);
	h.type = type;
	h.misc = misc;
	h.size = (uint16_t)len;
	memcpy(rec, &h, 8);
	return ringemu_put_raw(e, rec, len);
}

static inline int ringemu_comm(struct ringemu *e, uint32_t pid, uint32_t tid,
			       const char *comm, bool exec)
{
	uint8_t b[64] = { 0 };

	memcpy(b, &pid, 4);
	memcpy(b + 4, &tid, 4);
	strncpy((char *)b + 8, comm, 15);
	return ringemu_put(e, PERF_RECORD_COMM,
			   exec ? PERF_RECORD_MISC_COMM_EXEC : 0, b,
			   8 + strlen(comm) + 1);
}

static inline int ringemu_mmap2(struct ringemu *e, uint32_t pid, uint32_t tid,
				uint64_t start, uint64_t len, uint64_t pgoff,
				const char *fn)
{
	uint8_t b[2048] = { 0 };
	uint32_t maj = 8, min = 1, prot = PROT_READ | PROT_EXEC;
	uint32_t flags = MAP_PRIVATE;
	uint64_t ino = 777, gen = 0;
	size_t n = strlen(fn) + 1;

	memcpy(b, &pid, 4);
	memcpy(b + 4, &tid, 4);
	memcpy(b + 8, &start, 8);
	memcpy(b + 16, &len, 8);
	memcpy(b + 24, &pgoff, 8);
	memcpy(b + 32, &maj, 4);
	memcpy(b + 36, &min, 4);
	memcpy(b + 40, &ino, 8);
	memcpy(b + 48, &gen, 8);
	memcpy(b + 56, &prot, 4);
	memcpy(b + 60, &flags, 4);
	memcpy(b + 64, fn, n);
	return ringemu_put(e, PERF_RECORD_MMAP2, PERF_RECORD_MISC_USER, b,
			   64 + n);
}

static inline int ringemu_exit(struct ringemu *e, uint32_t pid, uint32_t ppid)
{
	uint8_t b[24];
	uint64_t t = 5555;

	memcpy(b, &pid, 4);
	memcpy(b + 4, &ppid, 4);
	memcpy(b + 8, &pid, 4);
	memcpy(b + 12, &ppid, 4);
	memcpy(b + 16, &t, 8);
	return ringemu_put(e, PERF_RECORD_EXIT, 0, b, 24);
}

static inline int ringemu_itrace_start(struct ringemu *e)
{
	uint32_t b[2] = { e->pid, e->tid };

	return ringemu_put(e, PERF_RECORD_ITRACE_START, 0, b, 8);
}

static inline int ringemu_aux_rec(struct ringemu *e, uint64_t off,
				  uint64_t size, uint64_t flags)
{
	uint64_t b[3] = { off, size, flags };

	return ringemu_put(e, PERF_RECORD_AUX, 0, b, 24);
}

/* Hardware writes @len trace bytes.  Normal mode: only what fits before
 * aux_tail is written, the rest is lost and the AUX record says
 * TRUNCATED.  Overwrite mode: the area is written circularly and only
 * aux_head moves; the record says OVERWRITE.  Returns bytes written.
 */
static inline uint64_t ringemu_aux_write(struct ringemu *e, const uint8_t *buf,
					 uint64_t len)
{
	uint64_t head = e->pc->aux_head, flags = 0, n = len, i;

	if (!e->aux_overwrite) {
		uint64_t tail = __atomic_load_n(&e->pc->aux_tail,
						__ATOMIC_ACQUIRE);
		uint64_t room = e->aux_size - (head - tail);

		if (n > room) {
			n = room;
			flags |= PERF_AUX_FLAG_TRUNCATED;
		}
	} else {
		flags |= PERF_AUX_FLAG_OVERWRITE;
	}
	for (i = 0; i < n; i++)
		e->aux[(head + i) & (e->aux_size - 1)] = buf[i];
	__atomic_store_n(&e->pc->aux_head, head + n, __ATOMIC_RELEASE);
	ringemu_aux_rec(e, head, n, flags);
	return n;
}

#endif /* SA_TEST_RINGEMU_H */
