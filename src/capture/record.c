// SPDX-License-Identifier: BSD-2-Clause
/*
 * Sideband records as the kernel writes them into the data ring
 * (include/uapi/linux/perf_event.h, enum perf_event_type), with the
 * sample_id_all trailer at their end.
 */
#include <errno.h>
#include <string.h>

#include "sensor/capture.h"

/* Own names: the module must not need the perf.data reader to parse
 * ring records.
 */
static const char *rec_name(uint32_t type)
{
	static const char *const names[] = {
		[PERF_RECORD_MMAP] = "MMAP", [PERF_RECORD_LOST] = "LOST",
		[PERF_RECORD_COMM] = "COMM", [PERF_RECORD_EXIT] = "EXIT",
		[PERF_RECORD_FORK] = "FORK", [PERF_RECORD_AUX] = "AUX",
		[PERF_RECORD_MMAP2] = "MMAP2",
		[PERF_RECORD_ITRACE_START] = "ITRACE_START",
		[PERF_RECORD_SWITCH] = "SWITCH",
		[PERF_RECORD_SWITCH_CPU_WIDE] = "SWITCH_CPU_WIDE",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "unknown";
}

size_t sa_cap_sample_id_size(uint64_t st)
{
	size_t n = 0;

	if (st & PERF_SAMPLE_TID)
		n += 8;
	if (st & PERF_SAMPLE_TIME)
		n += 8;
	if (st & PERF_SAMPLE_ID)
		n += 8;
	if (st & PERF_SAMPLE_STREAM_ID)
		n += 8;
	if (st & PERF_SAMPLE_CPU)
		n += 8;
	if (st & PERF_SAMPLE_IDENTIFIER)
		n += 8;
	return n;
}

static void parse_sample_id(const uint8_t *p, uint64_t st,
			    struct sa_pd_sample_id *sid)
{
	uint32_t u32[2];
	uint64_t u64;

	memset(sid, 0, sizeof(*sid));
	if (st & PERF_SAMPLE_TID) {
		memcpy(u32, p, 8);
		sid->pid = u32[0];
		sid->tid = u32[1];
		sid->valid |= PERF_SAMPLE_TID;
		p += 8;
	}
	if (st & PERF_SAMPLE_TIME) {
		memcpy(&sid->time, p, 8);
		sid->valid |= PERF_SAMPLE_TIME;
		p += 8;
	}
	if (st & PERF_SAMPLE_ID) {
		memcpy(&sid->id, p, 8);
		sid->valid |= PERF_SAMPLE_ID;
		p += 8;
	}
	if (st & PERF_SAMPLE_STREAM_ID) {
		memcpy(&sid->stream_id, p, 8);
		sid->valid |= PERF_SAMPLE_STREAM_ID;
		p += 8;
	}
	if (st & PERF_SAMPLE_CPU) {
		memcpy(u32, p, 8);
		sid->cpu = u32[0];
		sid->valid |= PERF_SAMPLE_CPU;
		p += 8;
	}
	if (st & PERF_SAMPLE_IDENTIFIER) {
		memcpy(&u64, p, 8);
		sid->id = u64;
		sid->valid |= PERF_SAMPLE_IDENTIFIER;
	}
}

static int short_rec(const struct perf_event_header *h, size_t need,
		     struct sa_errinfo *ei)
{
	return sa_errinfo_set(ei, -SA_ERR_CORRUPT, SA_NO_OFFSET,
			      "%s record of %u bytes, needs at least %zu",
			      rec_name(h->type), h->size, need);
}

/* A string field from @off to @end must hold its NUL. */
static int str_field(const struct perf_event_header *hdr,
		     const struct perf_event_header *h, size_t off,
		     size_t end, const char **s, struct sa_errinfo *ei)
{
	const char *p = (const char *)hdr + off;

	if (off >= end || !memchr(p, '\0', end - off))
		return sa_errinfo_set(ei, -SA_ERR_CORRUPT, SA_NO_OFFSET,
				      "%s record: string at byte %zu is not "
				      "terminated", rec_name(h->type),
				      off);
	*s = p;
	return 0;
}

#define GET(dst, off) memcpy(&(dst), (const uint8_t *)hdr + (off), \
			     sizeof(dst))

int sa_cap_parse_record(const struct perf_event_header *hdr,
			uint64_t sample_type, bool sample_id_all,
			struct sa_pd_event *ev, struct sa_errinfo *ei)
{
	size_t tsz = sample_id_all ? sa_cap_sample_id_size(sample_type) : 0;
	struct perf_event_header hh;
	const struct perf_event_header *h = &hh;
	size_t body, need;

	/* Every field, the header's too, is read with memcpy: @hdr need
	 * not be aligned (the ring reader's copies are; a caller's buffer
	 * may not be).
	 */
	memcpy(&hh, hdr, sizeof(hh));
	memset(ev, 0, sizeof(*ev));
	ev->type = h->type;
	ev->misc = h->misc;
	ev->size = h->size;
	if (h->size < sizeof(*hdr))
		return short_rec(h, sizeof(*hdr), ei);
	/* PERF_RECORD_SAMPLE carries its fields inline, not a trailer. */
	if (h->type == PERF_RECORD_SAMPLE)
		return -SA_ERR_UNSUPPORTED;
	if (h->size < sizeof(*hdr) + tsz)
		return short_rec(h, sizeof(*hdr) + tsz, ei);
	body = h->size - tsz;
	if (tsz)
		parse_sample_id((const uint8_t *)hdr + body, sample_type,
				&ev->sid);

	switch (h->type) {
	case PERF_RECORD_MMAP:
	case PERF_RECORD_MMAP2:
		need = h->type == PERF_RECORD_MMAP ? 8 + 32 : 8 + 32 + 32;
		if (body < need + 1)
			return short_rec(h, need + 1 + tsz, ei);
		GET(ev->mmap.pid, 8);
		GET(ev->mmap.tid, 12);
		GET(ev->mmap.start, 16);
		GET(ev->mmap.len, 24);
		GET(ev->mmap.pgoff, 32);
		if (h->type == PERF_RECORD_MMAP2) {
			if (h->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
				uint8_t n;

				GET(n, 40);
				ev->mmap.build_id_size = n > 20 ? 20 : n;
				memcpy(ev->mmap.build_id,
				       (const uint8_t *)hdr + 44, 20);
			} else {
				GET(ev->mmap.maj, 40);
				GET(ev->mmap.min, 44);
				GET(ev->mmap.ino, 48);
				GET(ev->mmap.ino_generation, 56);
			}
			GET(ev->mmap.prot, 64);
			GET(ev->mmap.flags, 68);
		}
		return str_field(hdr, h, need, body, &ev->mmap.filename, ei);
	case PERF_RECORD_COMM:
		if (body < 8 + 8 + 1)
			return short_rec(h, 17 + tsz, ei);
		GET(ev->comm.pid, 8);
		GET(ev->comm.tid, 12);
		ev->comm.exec = h->misc & PERF_RECORD_MISC_COMM_EXEC;
		return str_field(hdr, h, 16, body, &ev->comm.comm, ei);
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		if (body < 8 + 24)
			return short_rec(h, 32 + tsz, ei);
		GET(ev->fork.pid, 8);
		GET(ev->fork.ppid, 12);
		GET(ev->fork.tid, 16);
		GET(ev->fork.ptid, 20);
		GET(ev->fork.time, 24);
		return 0;
	case PERF_RECORD_LOST:
		if (body < 8 + 16)
			return short_rec(h, 24 + tsz, ei);
		GET(ev->lost.id, 8);
		GET(ev->lost.lost, 16);
		return 0;
	case PERF_RECORD_AUX:
		if (body < 8 + 24)
			return short_rec(h, 32 + tsz, ei);
		GET(ev->aux.aux_offset, 8);
		GET(ev->aux.aux_size, 16);
		GET(ev->aux.flags, 24);
		return 0;
	case PERF_RECORD_ITRACE_START:
		if (body < 8 + 8)
			return short_rec(h, 16 + tsz, ei);
		GET(ev->itrace_start.pid, 8);
		GET(ev->itrace_start.tid, 12);
		return 0;
	case PERF_RECORD_SWITCH:
	case PERF_RECORD_SWITCH_CPU_WIDE:
		ev->sw.out = h->misc & PERF_RECORD_MISC_SWITCH_OUT;
		ev->sw.preempt = h->misc &
				 PERF_RECORD_MISC_SWITCH_OUT_PREEMPT;
		if (h->type == PERF_RECORD_SWITCH_CPU_WIDE) {
			if (body < 8 + 8)
				return short_rec(h, 16 + tsz, ei);
			ev->sw.cpu_wide = true;
			GET(ev->sw.next_prev_pid, 8);
			GET(ev->sw.next_prev_tid, 12);
		}
		return 0;
	default:
		return -SA_ERR_UNSUPPORTED;
	}
}
