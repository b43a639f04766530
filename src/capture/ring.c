// SPDX-License-Identifier: BSD-2-Clause
/*
 * The perf_event mmap rings, read as the kernel expects.
 *
 * Data ring (kernel/events/ring_buffer.c, tools/lib/perf/mmap.c): the
 * kernel writes records at data_head, which only grows; we read
 * [data_tail, data_head) after loading data_head with acquire semantics
 * (the kernel's smp_wmb() before it publishes head pairs with it), and
 * publish data_tail with release semantics so that the kernel does not
 * overwrite what we have not read yet.
 *
 * The kernel keeps data_head, and so data_tail, and every record size a
 * multiple of 8 (perf_output_begin() aligns the header size to u64): a
 * position or size that is not is a clear error, never something to read.
 * With those checked, a record handed out is 8-byte aligned: in place in
 * the ring, or, when it wraps the end of the ring, copied with memcpy into
 * an aligned bounce buffer.  Its header is only ever read with memcpy.
 *
 * AUX area: the same protocol on aux_head/aux_tail in normal mode.  In
 * overwrite (snapshot) mode the area is mapped read-only, the kernel
 * ignores aux_tail, and aux_head is the only valid pointer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/capture.h"
#include "sensor/log.h"

struct sa_cap_ring {
	struct perf_event_mmap_page *pc;
	uint8_t *data;
	uint64_t size, mask;
	uint64_t start, end;		/* current batch: [start, end) */
	uint8_t *aux;
	uint64_t aux_size;
	bool aux_overwrite;
	bool aux_wrapped;		/* snapshot: seen wrapped once */
	uint8_t bounce[SA_CAP_RECORD_MAX] __attribute__((aligned(8)));
};

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

struct sa_cap_ring *sa_cap_ring__new(void *base, void *aux,
				     bool aux_overwrite,
				     struct sa_errinfo *ei)
{
	struct perf_event_mmap_page *pc = base;
	struct sa_cap_ring *r;

	if (!base) {
		errno = EINVAL;
		return NULL;
	}
	if (!is_pow2(pc->data_size) || pc->data_offset < sizeof(*pc) ||
	    pc->data_size < 8 || (pc->data_offset & 7) ||
	    ((uintptr_t)base & 7) || (aux && !is_pow2(pc->aux_size))) {
		sa_errinfo_set(ei, -EINVAL, 0,
			       "perf mmap user page: data_offset %" PRIu64
			       " data_size %" PRIu64 " aux_size %" PRIu64
			       ": sizes must be powers of two and the data "
			       "ring 8-byte aligned",
			       (uint64_t)pc->data_offset,
			       (uint64_t)pc->data_size,
			       (uint64_t)pc->aux_size);
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	r->pc = pc;
	r->data = (uint8_t *)base + pc->data_offset;
	r->size = pc->data_size;
	r->mask = r->size - 1;
	r->start = r->end = __atomic_load_n(&pc->data_tail, __ATOMIC_RELAXED);
	r->aux = aux;
	r->aux_size = aux ? pc->aux_size : 0;
	r->aux_overwrite = aux_overwrite;
	return r;
}

void sa_cap_ring__free(struct sa_cap_ring *r)
{
	free(r);
}

int sa_cap_ring_read_init(struct sa_cap_ring *r, struct sa_errinfo *ei)
{
	uint64_t head = __atomic_load_n(&r->pc->data_head, __ATOMIC_ACQUIRE);

	r->end = head;
	if ((head | r->start) & 7) {
		sa_errinfo_set(ei, -SA_ERR_CORRUPT, r->start,
			       "perf data ring: tail %" PRIu64 " or head %"
			       PRIu64 " is not a multiple of 8 (the kernel "
			       "keeps both 8-byte aligned); skipped to head",
			       r->start, head);
		r->start = head;
		return -SA_ERR_CORRUPT;
	}
	if (head - r->start > r->size) {
		/* The kernel never writes past our tail in forward mode:
		 * a head this far ahead means the page is not a perf ring
		 * (or was scribbled on).  Skip everything.
		 */
		sa_errinfo_set(ei, -SA_ERR_CORRUPT, r->start,
			       "perf data ring: head %" PRIu64 " is %" PRIu64
			       " bytes past tail %" PRIu64 " in a %" PRIu64
			       "-byte ring", head, head - r->start, r->start,
			       r->size);
		r->start = head;
		return -SA_ERR_CORRUPT;
	}
	return 0;
}

int sa_cap_ring_read_event(struct sa_cap_ring *r,
			   const struct perf_event_header **hdr,
			   struct sa_errinfo *ei)
{
	const struct perf_event_header *h;
	struct perf_event_header tmp = { 0 };
	uint64_t avail = r->end - r->start, off, first;

	if (!avail)
		return 0;
	off = r->start & r->mask;
	/* read_init saw both ends aligned; a batch never ends mid-header. */
	if (avail < sizeof(tmp) || (off & 7))
		goto corrupt;
	/* Aligned and the ring a power of two >= 8: the header never
	 * straddles the end, only the rest of the record may.
	 */
	memcpy(&tmp, r->data + off, sizeof(tmp));
	if (tmp.size < sizeof(tmp) || (tmp.size & 7) || tmp.size > avail)
		goto corrupt;
	first = r->size - off;
	if (tmp.size <= first) {
		/* In place, as libperf does: 8-byte aligned (data ring and
		 * position checked above), and valid until consumed, so a
		 * batch's strings stay put.
		 */
		h = (const void *)(r->data + off);
	} else {
		/* Wraps: copied out (tmp.size <= 65535 < bounce). */
		memcpy(r->bounce, r->data + off, first);
		memcpy(r->bounce + first, r->data, tmp.size - first);
		/* The copy carries the size checked above. */
		memcpy(r->bounce, &tmp, sizeof(tmp));
		h = (const void *)r->bounce;
	}
	r->start += tmp.size;
	*hdr = h;
	return 1;

corrupt:
	sa_errinfo_set(ei, -SA_ERR_CORRUPT, r->start,
		       "perf data ring: record at position %" PRIu64
		       " has size %u with %" PRIu64 " bytes left before head "
		       "(records are at least 8 bytes and a multiple of 8); "
		       "skipped to head", r->start, tmp.size, avail);
	r->start = r->end;
	return -SA_ERR_CORRUPT;
}

void sa_cap_ring_consume(struct sa_cap_ring *r)
{
	__atomic_store_n(&r->pc->data_tail, r->start, __ATOMIC_RELEASE);
}

void sa_cap_ring_read_done(struct sa_cap_ring *r)
{
	sa_cap_ring_consume(r);
}

uint64_t sa_cap_ring_pending(const struct sa_cap_ring *r)
{
	return __atomic_load_n(&r->pc->data_head, __ATOMIC_ACQUIRE) - r->start;
}

static void aux_chunks(const struct sa_cap_ring *r, uint64_t from,
		       uint64_t len, struct sa_cap_aux_chunk *c)
{
	uint64_t off = from & (r->aux_size - 1), first = r->aux_size - off;

	c->pos = from;
	c->data[0] = r->aux + off;
	if (len <= first) {
		c->len[0] = len;
		c->data[1] = NULL;
		c->len[1] = 0;
	} else {
		c->len[0] = first;
		c->data[1] = r->aux;
		c->len[1] = len - first;
	}
}

int64_t sa_cap_aux_peek(struct sa_cap_ring *r, struct sa_cap_aux_chunk *c,
			struct sa_errinfo *ei)
{
	uint64_t head, tail;

	memset(c, 0, sizeof(*c));
	if (!r->aux)
		return sa_errinfo_set(ei, -EINVAL, SA_NO_OFFSET,
				      "ring has no AUX area");
	head = __atomic_load_n(&r->pc->aux_head, __ATOMIC_ACQUIRE);
	tail = __atomic_load_n(&r->pc->aux_tail, __ATOMIC_RELAXED);
	if (head - tail > r->aux_size)
		return sa_errinfo_set(ei, -SA_ERR_CORRUPT, tail,
				      "AUX area: head %" PRIu64 " is %" PRIu64
				      " bytes past tail in a %" PRIu64
				      "-byte area (overwrite mode mapped "
				      "as normal?)", head, head - tail,
				      r->aux_size);
	aux_chunks(r, tail, head - tail, c);
	return (int64_t)(head - tail);
}

void sa_cap_aux_consume(struct sa_cap_ring *r, uint64_t bytes)
{
	uint64_t tail = __atomic_load_n(&r->pc->aux_tail, __ATOMIC_RELAXED);

	__atomic_store_n(&r->pc->aux_tail, tail + bytes, __ATOMIC_RELEASE);
}

/* perf's intel_pt_first_wrap(): any non-zero u64 in the last 512 of the
 * buffer means the hardware has written to its end at least once.
 */
static bool first_wrap(const uint8_t *data, uint64_t size)
{
	uint64_t b = size >> 3, a = b > 512 ? b - 512 : 0, i, q;

	for (i = a; i < b; i++) {
		memcpy(&q, data + 8 * i, 8);
		if (q)
			return true;
	}
	return false;
}

int64_t sa_cap_aux_snapshot(struct sa_cap_ring *r,
			    struct sa_cap_aux_chunk *c,
			    struct sa_errinfo *ei)
{
	uint64_t head, off;

	memset(c, 0, sizeof(*c));
	if (!r->aux)
		return sa_errinfo_set(ei, -EINVAL, SA_NO_OFFSET,
				      "ring has no AUX area");
	head = __atomic_load_n(&r->pc->aux_head, __ATOMIC_ACQUIRE);
	off = head & (r->aux_size - 1);
	if (!r->aux_wrapped && first_wrap(r->aux, r->aux_size))
		r->aux_wrapped = true;
	if (r->aux_wrapped) {
		/* The oldest byte is the one the hardware writes next. */
		aux_chunks(r, head, r->aux_size, c);
		c->pos = head >= r->aux_size ? head - r->aux_size : 0;
		c->wrapped = true;
		return (int64_t)r->aux_size;
	}
	/* head counts up from 0 until the first wrap. */
	aux_chunks(r, 0, off, c);
	return (int64_t)off;
}

void sa_cap_ring_account(struct sa_cap_ring_stats *st,
			 const struct sa_pd_event *ev)
{
	st->records++;
	switch (ev->type) {
	case PERF_RECORD_LOST:
		st->lost_records += ev->lost.lost;
		break;
	case PERF_RECORD_AUX:
		st->aux_records++;
		st->aux_bytes += ev->aux.aux_size;
		if (ev->aux.flags & PERF_AUX_FLAG_TRUNCATED)
			st->aux_truncated++;
		if (ev->aux.flags & PERF_AUX_FLAG_OVERWRITE)
			st->aux_overwrite++;
		if (ev->aux.flags & PERF_AUX_FLAG_PARTIAL)
			st->aux_partial++;
		if (ev->aux.flags & PERF_AUX_FLAG_COLLISION)
			st->aux_collision++;
		break;
	case PERF_RECORD_ITRACE_START:
		st->itrace_start++;
		break;
	default:
		break;
	}
}
