// SPDX-License-Identifier: BSD-2-Clause
/*
 * The timeline of a window: Chrome trace-event JSON from the ordered flow.
 *
 * Calls and returns are matched as perf's thread stack matches them
 * (tools/perf/util/thread-stack.c), so that the nesting is the one
 * `perf script --itrace=cr -F +callindent` shows: a call pushes a frame
 * with its return address (unless it "calls" the next instruction); a
 * return pops down to the frame whose return address it lands on, and
 * pops nothing when no frame has it; where the trace begins again, the
 * frames down to the one returning there are popped, then the calls that
 * left the traced code (the trace ended on them) and never came back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/image.h"
#include "sensor/report.h"
#include "sensor/session.h"

#include "json.h"

struct tl_event {
	uint32_t thread;	/* index into threads */
	uint8_t kind;		/* TL_CALL, TL_GAP */
	bool unfinished;	/* still open at the end of the window */
	uint16_t reason;	/* TL_GAP: enum sa_gap_reason */
	uint64_t seq;		/* call order */
	uint64_t start_insn, end_insn;
	uint64_t start_time, end_time;
	uint64_t addr;		/* callee, or the gap's ip */
	uint64_t offset;	/* TL_GAP: trace offset */
	uint64_t lost;		/* TL_GAP: bytes lost */
	const char *name;	/* interned */
};

enum { TL_CALL = 1, TL_GAP };

struct tl_frame {
	uint64_t ret_addr;
	size_t ev;		/* its event */
	bool trace_end;
};

enum { TL_NONE = 0, TL_PEND_CALL, TL_PEND_RET };

struct tl_thread {
	int32_t pid, tid;
	uint16_t stream;
	uint64_t insns;
	uint64_t time;		/* ns (perf time) or TSC, 0 before any */
	int pending;
	uint64_t pend_ret;	/* TL_PEND_CALL: the return address */
	size_t depth;
	struct tl_frame stack[SA_TIMELINE_MAX_DEPTH];
	uint64_t deep;		/* calls not pushed: too deep */
};

struct sa_timeline {
	size_t nr_threads, cap_threads;
	struct tl_thread **threads;
	size_t nr_events, cap_events;
	struct tl_event *events;
	uint64_t dropped;		/* events over the cap */
	uint64_t seq;
	uint64_t ranges, timed_ranges;
	bool time_conv;
	/* interned names: a small open-addressing set */
	size_t nr_names, cap_names;
	char **names;
};

struct sa_timeline *sa_timeline__new(void)
{
	return calloc(1, sizeof(struct sa_timeline));
}

void sa_timeline__free(struct sa_timeline *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nr_threads; i++)
		free(t->threads[i]);
	free(t->threads);
	free(t->events);
	for (i = 0; i < t->cap_names; i++)
		free(t->names[i]);
	free(t->names);
	free(t);
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static const char *intern(struct sa_timeline *t, const char *s)
{
	size_t i, mask;

	if (2 * (t->nr_names + 1) > t->cap_names) {
		size_t cap = t->cap_names ? 2 * t->cap_names : 256, j;
		char **n = calloc(cap, sizeof(*n));

		if (!n)
			return NULL;
		for (j = 0; j < t->cap_names; j++) {
			if (!t->names[j])
				continue;
			for (i = str_hash(t->names[j]) & (cap - 1); n[i];
			     i = (i + 1) & (cap - 1))
				;
			n[i] = t->names[j];
		}
		free(t->names);
		t->names = n;
		t->cap_names = cap;
	}
	mask = t->cap_names - 1;
	for (i = str_hash(s) & mask; t->names[i]; i = (i + 1) & mask)
		if (!strcmp(t->names[i], s))
			return t->names[i];
	t->names[i] = strdup(s);
	if (!t->names[i])
		return NULL;
	t->nr_names++;
	return t->names[i];
}

/* The name of the code at @addr: its function, or the region's bucket,
 * or "0x..." without either.
 */
static const char *name_of(struct sa_timeline *t,
			   const struct sa_flow_info *fi, uint64_t addr)
{
	const struct sa_sym *sym = fi->image ?
		sa_image_symbolize(fi->image, addr) : NULL;
	const struct sa_region *r;
	char buf[32];

	if (sym) {
		const char *d = sa_sym_demangled(sym);

		return intern(t, d ? d : sym->name);
	}
	r = fi->image ? sa_image_region(fi->image, addr) : NULL;
	if (r)
		return intern(t, r->name);
	snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
	return intern(t, buf);
}

static struct tl_thread *thread_of(struct sa_timeline *t,
				   const struct sa_elem *e,
				   const struct sa_flow_info *fi, uint32_t *idx)
{
	struct tl_thread *th;
	size_t i;

	for (i = 0; i < t->nr_threads; i++) {
		th = t->threads[i];
		if (th->tid == fi->tid && th->stream == e->stream &&
		    (fi->tid >= 0 || th->pid == fi->pid)) {
			*idx = (uint32_t)i;
			return th;
		}
	}
	if (t->nr_threads >= SA_TIMELINE_MAX_THREADS) {
		errno = E2BIG;
		return NULL;
	}
	if (t->nr_threads == t->cap_threads) {
		size_t cap = t->cap_threads ? 2 * t->cap_threads : 8;
		struct tl_thread **n = realloc(t->threads, cap * sizeof(*n));

		if (!n)
			return NULL;
		t->threads = n;
		t->cap_threads = cap;
	}
	th = calloc(1, sizeof(*th));
	if (!th)
		return NULL;
	th->pid = fi->pid;
	th->tid = fi->tid;
	th->stream = e->stream;
	*idx = (uint32_t)t->nr_threads;
	t->threads[t->nr_threads++] = th;
	return th;
}

static struct tl_event *new_event(struct sa_timeline *t, size_t *idx)
{
	if (t->nr_events >= SA_TIMELINE_MAX_EVENTS) {
		t->dropped++;
		return NULL;
	}
	if (t->nr_events == t->cap_events) {
		size_t cap = t->cap_events ? 2 * t->cap_events : 1024;
		struct tl_event *n = realloc(t->events, cap * sizeof(*n));

		if (!n)
			return NULL;
		t->events = n;
		t->cap_events = cap;
	}
	*idx = t->nr_events;
	memset(&t->events[t->nr_events], 0, sizeof(t->events[0]));
	return &t->events[t->nr_events++];
}

static int push_call(struct sa_timeline *t, struct tl_thread *th,
		     uint32_t ti, const struct sa_flow_info *fi,
		     uint64_t target, bool trace_end)
{
	struct tl_event *ev;
	size_t idx;

	if (!target || th->pend_ret == target)
		return 0;	/* unknown target; a call to the next insn */
	if (th->depth >= SA_TIMELINE_MAX_DEPTH) {
		th->deep++;
		return 0;
	}
	ev = new_event(t, &idx);
	if (!ev)
		return t->nr_events >= SA_TIMELINE_MAX_EVENTS ? 0 : -ENOMEM;
	ev->thread = ti;
	ev->kind = TL_CALL;
	ev->seq = t->seq++;
	ev->start_insn = th->insns;
	ev->start_time = th->time;
	ev->addr = target;
	ev->name = name_of(t, fi, target);
	if (!ev->name)
		return -ENOMEM;
	th->stack[th->depth].ret_addr = th->pend_ret;
	th->stack[th->depth].ev = idx;
	th->stack[th->depth].trace_end = trace_end;
	th->depth++;
	return 0;
}

static void close_frames(struct sa_timeline *t, struct tl_thread *th,
			 size_t to)
{
	while (th->depth > to) {
		struct tl_event *ev = &t->events[th->stack[--th->depth].ev];

		ev->end_insn = th->insns;
		ev->end_time = th->time;
	}
}

/* perf's thread_stack__pop(): down to the frame returning to @to. */
static void pop_to(struct sa_timeline *t, struct tl_thread *th, uint64_t to)
{
	size_t i;

	for (i = th->depth; i;) {
		if (th->stack[--i].ret_addr == to) {
			close_frames(t, th, i);
			return;
		}
	}
}

/* perf's thread_stack__pop_trace_end() */
static void pop_trace_end(struct sa_timeline *t, struct tl_thread *th)
{
	while (th->depth && th->stack[th->depth - 1].trace_end)
		close_frames(t, th, th->depth - 1);
}

/* The pending call or return goes to @target. */
static int resolve(struct sa_timeline *t, struct tl_thread *th, uint32_t ti,
		   const struct sa_flow_info *fi, uint64_t target,
		   bool trace_end)
{
	int pending = th->pending, err = 0;

	th->pending = TL_NONE;
	if (pending == TL_PEND_CALL)
		err = push_call(t, th, ti, fi, target, trace_end);
	else if (pending == TL_PEND_RET && target)
		pop_to(t, th, target);
	return err;
}

static uint64_t to_time(const struct sa_flow_info *fi, uint64_t tsc)
{
	uint64_t quot, rem;

	if (!fi->has_time_conv || fi->time_shift >= 64)
		return tsc;
	quot = tsc >> fi->time_shift;
	rem = tsc & ((1ull << fi->time_shift) - 1);
	return fi->time_zero + quot * fi->time_mult +
	       ((rem * fi->time_mult) >> fi->time_shift);
}

int sa_timeline_flow(void *ctx, const struct sa_elem *e,
		     const struct sa_flow_info *fi)
{
	struct sa_timeline *t = ctx;
	struct tl_thread *th;
	struct tl_event *ev;
	uint32_t ti;
	size_t idx;
	int err = 0;

	th = thread_of(t, e, fi, &ti);
	if (!th)
		return errno == E2BIG ? 0 : -ENOMEM;
	if (fi->has_time_conv)
		t->time_conv = true;
	if (e->kind == SA_ELEM_RANGE) {
		err = resolve(t, th, ti, fi, e->start, false);
		if (err)
			return err;
		t->ranges++;
		th->insns += e->ninsn;
		if (e->time) {
			uint64_t now = to_time(fi, e->time);

			t->timed_ranges++;
			if (now > th->time)
				th->time = now;
		}
		switch (e->last_class) {
		case SA_IC_CALL:
		case SA_IC_IND_CALL:
			th->pending = TL_PEND_CALL;
			th->pend_ret = e->last + e->last_size;
			break;
		case SA_IC_RET:
			th->pending = TL_PEND_RET;
			break;
		default:
			break;
		}
		return 0;
	}
	if (e->kind != SA_ELEM_GAP)
		return 0;
	switch (e->gap_reason) {
	case SA_GAP_DISABLED:
		/* the trace ends on the transfer: a call out of the traced
		 * code is a frame that may never come back
		 */
		err = resolve(t, th, ti, fi, e->ip, true);
		break;
	case SA_GAP_START:
		th->pending = TL_NONE;
		if (e->ip) {
			pop_to(t, th, e->ip);
			pop_trace_end(t, th);
		}
		break;
	default:
		th->pending = TL_NONE;
		break;
	}
	if (err)
		return err;
	/* the end of a buffer is not news; every other gap is shown */
	if (e->gap_reason == SA_GAP_END)
		return 0;
	ev = new_event(t, &idx);
	if (!ev)
		return t->nr_events >= SA_TIMELINE_MAX_EVENTS ? 0 : -ENOMEM;
	ev->thread = ti;
	ev->kind = TL_GAP;
	ev->reason = e->gap_reason;
	ev->seq = t->seq++;
	ev->start_insn = ev->end_insn = th->insns;
	ev->start_time = ev->end_time = th->time;
	ev->addr = e->ip;
	ev->offset = e->offset;
	ev->lost = e->lost_bytes;
	return 0;
}

static const char *gap_name(unsigned reason)
{
	switch (reason) {
	case SA_GAP_START:
		return "trace start";
	case SA_GAP_DISABLED:
		return "trace disabled";
	case SA_GAP_ASYNC:
		return "interrupt";
	case SA_GAP_OVERFLOW:
		return "overflow";
	case SA_GAP_ERROR:
		return "decode error";
	case SA_GAP_LOST:
		return "trace lost";
	default:
		return "gap";
	}
}

static void write_us(FILE *f, const char *key, uint64_t v, bool ns)
{
	/* microseconds with the nanoseconds as decimals: exact */
	if (ns)
		fprintf(f, ",\"%s\":%" PRIu64 ".%03" PRIu64, key, v / 1000,
			v % 1000);
	else
		fprintf(f, ",\"%s\":%" PRIu64, key, v);
}

int sa_timeline_write_json(struct sa_timeline *t, FILE *f,
			   const char *source)
{
	bool timed = t->ranges && t->timed_ranges == t->ranges;
	uint64_t base = UINT64_MAX;
	size_t i;

	/* frames still open end with the window */
	for (i = 0; i < t->nr_threads; i++) {
		struct tl_thread *th = t->threads[i];
		size_t d;

		for (d = 0; d < th->depth; d++)
			t->events[th->stack[d].ev].unfinished = true;
		close_frames(t, th, 0);
	}
	for (i = 0; i < t->nr_events; i++) {
		uint64_t s = timed ? t->events[i].start_time :
				     t->events[i].start_insn;

		/* a gap before the first timing packet has no time */
		if (s < base && (s || !timed))
			base = s;
	}
	if (base == UINT64_MAX)
		base = 0;

	fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{", f);
	fputs("\"generator\":\"sensor-agent decode --timeline\",\"source\":",
	      f);
	sa_json_write_string(f, source ? source : "");
	if (timed)
		fprintf(f, ",\"clock\":\"%s\",\"clock_note\":\"ts and dur "
			"in microseconds from the trace's timestamps (TSC, "
			"MTC, CYC)%s; ts 0 is %" PRIu64 "%s\"",
			t->time_conv ? "perf_time" : "tsc",
			t->time_conv ? " converted to perf time" :
				       ", in TSC ticks / 1000",
			base, t->time_conv ? " ns" : " ticks");
	else
		fprintf(f, ",\"clock\":\"instructions\",\"clock_note\":\"the "
			"trace has no timestamps: ts and dur count "
			"instructions (1 unit = 1 instruction)\"");
	fprintf(f, ",\"ranges\":%" PRIu64 ",\"timed_ranges\":%" PRIu64
		",\"events_dropped\":%" PRIu64 "},\n\"traceEvents\":[\n",
		t->ranges, t->timed_ranges, t->dropped);

	for (i = 0; i < t->nr_threads; i++) {
		const struct tl_thread *th = t->threads[i];
		int32_t pid = th->pid >= 0 ? th->pid : 0;
		int32_t tid = th->tid >= 0 ? th->tid : (int32_t)th->stream;

		fprintf(f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,"
			"\"tid\":%d,\"args\":{\"name\":", pid, tid);
		sa_json_write_string(f, source ? source : "trace");
		fputs("}},\n", f);
		/* without a thread id (CoreSight, per-CPU traces) the tid
		 * is the decoder's stream: the trace ID
		 */
		fprintf(f, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,"
			"\"tid\":%d,\"args\":{\"name\":\"%s %d%s\"}},\n",
			pid, tid, th->tid >= 0 ? "thread" : "trace stream",
			tid, th->deep ? " (calls too deep dropped)" : "");
	}
	for (i = 0; i < t->nr_events; i++) {
		const struct tl_event *ev = &t->events[i];
		const struct tl_thread *th = t->threads[ev->thread];
		uint64_t s = timed ? ev->start_time : ev->start_insn;
		uint64_t e = timed ? ev->end_time : ev->end_insn;
		int32_t pid = th->pid >= 0 ? th->pid : 0;
		int32_t tid = th->tid >= 0 ? th->tid : (int32_t)th->stream;

		if (s < base)
			s = base;
		if (e < s)
			e = s;
		if (ev->kind == TL_CALL) {
			fputs("{\"ph\":\"X\",\"cat\":\"call\",\"name\":", f);
			sa_json_write_string(f, ev->name);
		} else {
			fprintf(f, "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"gap\","
				"\"name\":\"%s\"", gap_name(ev->reason));
		}
		fprintf(f, ",\"pid\":%d,\"tid\":%d", pid, tid);
		write_us(f, "ts", s - base, timed);
		if (ev->kind == TL_CALL)
			write_us(f, "dur", e - s, timed);
		fprintf(f, ",\"args\":{\"addr\":\"0x%" PRIx64 "\",\"seq\":%"
			PRIu64 ",\"insns\":%" PRIu64, ev->addr, ev->seq,
			ev->end_insn - ev->start_insn);
		if (ev->kind == TL_GAP)
			fprintf(f, ",\"trace_offset\":\"0x%" PRIx64 "\","
				"\"lost_bytes\":%" PRIu64, ev->offset,
				ev->lost);
		if (ev->unfinished)
			fputs(",\"unfinished\":true", f);
		fprintf(f, "}}%s\n", i + 1 < t->nr_events ? "," : "");
	}
	fputs("]}\n", f);
	return fflush(f) || ferror(f) ? -EIO : 0;
}
