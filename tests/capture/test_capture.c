// SPDX-License-Identifier: BSD-2-Clause
/*
 * Check suite 'capture': format specs, filters, the ring reader on an
 * emulated kernel ring, and the no-hardware diagnosis.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "testutil.h"
#include "ringemu.h"
#include "sensor/capture.h"
#include "sensor/backend.h"

/*
 * format/ specs.
 */
START_TEST(tc_format_parse)
{
	struct sa_cap_format f;
	struct sa_errinfo ei;

	ck_assert_int_eq(sa_cap_format_parse("config:13", "t", &f, &ei), 0);
	ck_assert_int_eq(f.field, SA_CAP_CONFIG);
	ck_assert_uint_eq(f.mask, 1ull << 13);
	ck_assert_int_eq(sa_cap_format_parse("config:14-17", "t", &f, &ei), 0);
	ck_assert_uint_eq(f.mask, 0xfull << 14);
	ck_assert_int_eq(sa_cap_format_parse("config2:0-31", "t", &f, &ei), 0);
	ck_assert_int_eq(f.field, SA_CAP_CONFIG2);
	ck_assert_uint_eq(f.mask, 0xffffffffull);
	ck_assert_int_eq(sa_cap_format_parse("config3:0-11", "t", &f, &ei), 0);
	ck_assert_int_eq(f.field, SA_CAP_CONFIG3);
	ck_assert_uint_eq(f.mask, 0xfffull);
	ck_assert_int_eq(sa_cap_format_parse("config:0-3,7", "t", &f, &ei), 0);
	ck_assert_uint_eq(f.mask, 0x8full);
	ck_assert_int_eq(sa_cap_format_parse("config1:0-63", "t", &f, &ei), 0);
	ck_assert_uint_eq(f.mask, UINT64_MAX);

	ck_assert_int_eq(sa_cap_format_parse("config:64", "x/format/a", &f,
					     &ei), -SA_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "x/format/a"));
	ck_assert_int_eq(sa_cap_format_parse("config4:1", "t", &f, &ei),
			 -SA_ERR_FORMAT);
	ck_assert_int_eq(sa_cap_format_parse("config:7-3", "t", &f, &ei),
			 -SA_ERR_FORMAT);
	ck_assert_int_eq(sa_cap_format_parse("config13", "t", &f, &ei),
			 -SA_ERR_FORMAT);
	ck_assert_int_eq(sa_cap_format_parse("config:1-", "t", &f, &ei),
			 -SA_ERR_FORMAT);
	ck_assert_uint_eq(ei.offset, 9);
}
END_TEST

START_TEST(tc_format_value)
{
	uint64_t v;

	/* mtc_period=6 in config:14-17 is 6 << 14. */
	ck_assert_int_eq(sa_cap_format_value(0xfull << 14, 6, &v), 0);
	ck_assert_uint_eq(v, 6ull << 14);
	/* Split ranges take the low value bits first, as perf does. */
	ck_assert_int_eq(sa_cap_format_value(0x8full, 0x1f, &v), 0);
	ck_assert_uint_eq(v, 0x8full);
	ck_assert_int_eq(sa_cap_format_value(0xfull << 24, 16, &v),
			 -SA_ERR_INVAL);
}
END_TEST

/*
 * Filters.  Expected strings follow perf's addr_filter__to_str format,
 * with the file size from stat(2) and the path from realpath(3).
 */
static const char *make_file(const char *name, size_t size)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sa_test_tmpdir(), name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	while (size--)
		fputc('x', f);
	fclose(f);
	return path;
}

START_TEST(tc_filter)
{
	char out[SA_CAP_FILTER_MAX], exp[SA_CAP_FILTER_MAX], spec[PATH_MAX * 3];
	char real[PATH_MAX];
	struct sa_errinfo ei;
	const char *file = make_file("bin.so", 12345);

	ck_assert_ptr_nonnull(realpath(file, real));

	snprintf(spec, sizeof(spec), "filter 0x1000/0x200@%s", file);
	ck_assert_int_eq(sa_cap_filter_parse(spec, 2, out, sizeof(out), &ei),
			 1);
	snprintf(exp, sizeof(exp), "filter 0x1000/0x200@%s", real);
	ck_assert_str_eq(out, exp);

	/* Whole file: perf's "filter * @FILE" -> 0/file size. */
	snprintf(spec, sizeof(spec), "filter * @ %s", file);
	ck_assert_int_eq(sa_cap_filter_parse(spec, 2, out, sizeof(out), &ei),
			 1);
	snprintf(exp, sizeof(exp), "filter 0x0/0x3039@%s", real);
	ck_assert_str_eq(out, exp);

	/* Spaces around '/' and '@', two filters joined by ','. */
	snprintf(spec, sizeof(spec), "filter 4096 / 512 @ %s stop 0x2000@%s",
		 file, file);
	ck_assert_int_eq(sa_cap_filter_parse(spec, 2, out, sizeof(out), &ei),
			 2);
	snprintf(exp, sizeof(exp), "filter 0x1000/0x200@%s,stop 0x2000@%s",
		 real, real);
	ck_assert_str_eq(out, exp);

	ck_assert_int_eq(sa_cap_filter_parse("start 0x401000", 2, out,
					     sizeof(out), &ei), 1);
	ck_assert_str_eq(out, "start 0x401000");

	/* Limits and bad input. */
	snprintf(spec, sizeof(spec), "filter 1/1@%s,filter 2/1@%s,"
		 "filter 3/1@%s", file, file, file);
	ck_assert_int_eq(sa_cap_filter_parse(spec, 2, out, sizeof(out), &ei),
			 -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "exceeds maximum (2"));
	ck_assert_int_eq(sa_cap_filter_parse("filter 1/1", 0, out,
					     sizeof(out), &ei),
			 -SA_ERR_UNSUPPORTED);
	ck_assert_int_lt(sa_cap_filter_parse("filter 0x10/4@/no/such/file", 2,
					     out, sizeof(out), &ei), 0);
	ck_assert_ptr_nonnull(strstr(ei.msg, "/no/such/file"));
	/* Symbols: in our own binary (not stripped); none in a stripped
	 * one; a symbol needs its file.
	 */
	ck_assert_int_eq(sa_cap_filter_parse("filter main @ /proc/self/exe",
					     2, out, sizeof(out), &ei), 1);
	ck_assert_ptr_nonnull(strstr(out, "filter 0x"));
	ck_assert_int_eq(sa_cap_filter_parse("filter no_such_fn @ "
					     "/proc/self/exe", 2, out,
					     sizeof(out), &ei),
			 -SA_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(ei.msg, "no_such_fn"));
	ck_assert_int_eq(sa_cap_filter_parse("filter main", 2, out,
					     sizeof(out), &ei), -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "needs @FILE"));
	snprintf(spec, sizeof(spec), "filter main @ %s", file);
	ck_assert_int_eq(sa_cap_filter_parse(spec, 2, out, sizeof(out), &ei),
			 -SA_ERR_FORMAT);
	ck_assert_int_eq(sa_cap_filter_parse("bogus 1/2", 2, out, sizeof(out),
					     &ei), -SA_ERR_INVAL);
	ck_assert_int_eq(sa_cap_filter_parse("filter 0x10/0", 2, out,
					     sizeof(out), &ei), -SA_ERR_INVAL);
}
END_TEST

START_TEST(tc_filter_default)
{
	char out[SA_CAP_FILTER_MAX], exp[SA_CAP_FILTER_MAX], exe[PATH_MAX];
	struct sa_errinfo ei;
	struct stat st;
	ssize_t n;

	/* Ground truth: our own main binary and its size. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	ck_assert_int_eq(stat(exe, &st), 0);
	ck_assert_int_eq(sa_cap_filter_default(NULL, getpid(), out,
					       sizeof(out), &ei), 1);
	snprintf(exp, sizeof(exp), "filter 0x0/0x%jx@%s", (uintmax_t)st.st_size,
		 exe);
	ck_assert_str_eq(out, exp);

	ck_assert_int_eq(sa_cap_filter_default(NULL, 0x7ffffff0, out,
					       sizeof(out), &ei), -ESRCH);
	ck_assert_ptr_nonnull(strstr(ei.msg, "2147483632"));
}
END_TEST

/*
 * Ring reader on an emulated kernel ring.
 */
static struct sa_cap_ring *open_ring(struct ringemu *e)
{
	struct sa_errinfo ei;
	struct sa_cap_ring *r;

	r = sa_cap_ring__new(e->base, e->aux, e->aux_overwrite, &ei);
	ck_assert_msg(r != NULL, "%s", ei.msg);
	return r;
}

/* Reads one batch; parses records into @evs.  Returns the count. */
static int drain(struct sa_cap_ring *r, struct sa_pd_event *evs, int max,
		 struct sa_cap_ring_stats *st)
{
	const struct perf_event_header *h;
	struct sa_errinfo ei;
	int n = 0, err;

	ck_assert_int_eq(sa_cap_ring_read_init(r, &ei), 0);
	while ((err = sa_cap_ring_read_event(r, &h, &ei)) == 1) {
		ck_assert_int_lt(n, max);
		err = sa_cap_parse_record(h, EMU_ST, true, &evs[n], &ei);
		ck_assert_msg(err == 0, "%s", ei.msg);
		if (st)
			sa_cap_ring_account(st, &evs[n]);
		/* Strings point into the ring: keep copies by index. */
		n++;
		sa_cap_ring_consume(r);
	}
	ck_assert_int_eq(err, 0);
	sa_cap_ring_read_done(r);
	return n;
}

START_TEST(tc_ring_records)
{
	struct sa_pd_event ev[16];
	struct ringemu e;
	struct sa_cap_ring *r;
	int n;

	ringemu_init(&e, 4096, 0, false);
	r = open_ring(&e);
	ck_assert_int_eq(ringemu_comm(&e, 10, 11, "worker", true), 1);
	ck_assert_int_eq(ringemu_mmap2(&e, 10, 11, 0x400000, 0x1000, 0,
				       "/usr/bin/worker"), 1);
	ck_assert_int_eq(ringemu_itrace_start(&e), 1);
	ck_assert_int_eq(ringemu_aux_rec(&e, 0, 4096,
					 PERF_AUX_FLAG_TRUNCATED |
					 PERF_AUX_FLAG_PARTIAL), 1);
	ck_assert_int_eq(ringemu_exit(&e, 10, 1), 1);

	n = drain(r, ev, 16, NULL);
	ck_assert_int_eq(n, 5);
	ck_assert_uint_eq(ev[0].type, PERF_RECORD_COMM);
	ck_assert(ev[0].comm.exec);
	ck_assert_str_eq(ev[0].comm.comm, "worker");
	ck_assert_uint_eq(ev[0].sid.pid, 1234);
	ck_assert_uint_eq(ev[0].sid.tid, 1235);
	ck_assert_uint_eq(ev[0].sid.time, 1000);
	ck_assert_uint_eq(ev[0].sid.id, 42);
	ck_assert_uint_eq(ev[1].type, PERF_RECORD_MMAP2);
	ck_assert_uint_eq(ev[1].mmap.start, 0x400000);
	ck_assert_uint_eq(ev[1].mmap.len, 0x1000);
	ck_assert_uint_eq(ev[1].mmap.ino, 777);
	ck_assert_uint_eq(ev[1].mmap.maj, 8);
	ck_assert_str_eq(ev[1].mmap.filename, "/usr/bin/worker");
	ck_assert_uint_eq(ev[1].sid.time, 1010);
	ck_assert_uint_eq(ev[2].type, PERF_RECORD_ITRACE_START);
	ck_assert_uint_eq(ev[2].itrace_start.tid, 1235);
	ck_assert_uint_eq(ev[3].type, PERF_RECORD_AUX);
	ck_assert_uint_eq(ev[3].aux.aux_size, 4096);
	ck_assert_uint_eq(ev[3].aux.flags, PERF_AUX_FLAG_TRUNCATED |
					   PERF_AUX_FLAG_PARTIAL);
	ck_assert_uint_eq(ev[4].type, PERF_RECORD_EXIT);
	ck_assert_uint_eq(ev[4].fork.pid, 10);
	ck_assert_uint_eq(ev[4].fork.ppid, 1);
	ck_assert_uint_eq(ev[4].fork.time, 5555);
	/* Everything consumed: the kernel sees the tail at head. */
	ck_assert_uint_eq(e.pc->data_tail, e.pc->data_head);
	sa_cap_ring__free(r);
	ringemu_fini(&e);
}
END_TEST

START_TEST(tc_ring_wrap)
{
	char name[200], got[16][200];
	struct sa_pd_event ev[16];
	struct ringemu e;
	struct sa_cap_ring *r;
	uint64_t wrapped_at = 0;
	int round, i, n, total = 0;

	/* A 1 KiB ring and 2 KiB of records per round: the ring wraps many
	 * times and records straddle its end.
	 */
	ringemu_init(&e, 1024, 0, false);
	r = open_ring(&e);
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 3; i++) {
			uint64_t before = e.pc->data_head;

			snprintf(name, sizeof(name),
				 "/lib/round-%02d/file-%d-%0*d.so", round, i,
				 40 + 7 * i + round, 0);
			ck_assert_int_eq(ringemu_mmap2(&e, 1, 2, 0x1000 * i,
						       0x1000, round, name),
					 1);
			if ((before & 1023) + (e.pc->data_head - before) >
			    1024)
				wrapped_at++;
			snprintf(got[i], sizeof(got[i]), "%s", name);
		}
		n = drain(r, ev, 16, NULL);
		ck_assert_int_eq(n, 3);
		for (i = 0; i < 3; i++) {
			ck_assert_str_eq(ev[i].mmap.filename, got[i]);
			ck_assert_uint_eq(ev[i].mmap.pgoff, round);
			ck_assert_uint_eq(ev[i].mmap.start, 0x1000 * i);
		}
		total += n;
	}
	ck_assert_int_eq(total, 60);
	/* The test is only meaningful if records did straddle the end. */
	ck_assert_uint_gt(wrapped_at, 5);
	sa_cap_ring__free(r);
	ringemu_fini(&e);
}
END_TEST

START_TEST(tc_ring_lost)
{
	struct sa_pd_event ev[64];
	struct sa_cap_ring_stats st = { 0 };
	struct ringemu e;
	struct sa_cap_ring *r;
	int i, n, written = 0, dropped = 0;

	ringemu_init(&e, 1024, 0, false);
	r = open_ring(&e);
	/* 40 COMM records of 48 bytes into 1 KiB without reading. */
	for (i = 0; i < 40; i++) {
		if (ringemu_comm(&e, 1, 1, "filler", false))
			written++;
		else
			dropped++;
	}
	ck_assert_int_gt(dropped, 0);
	n = drain(r, ev, 64, &st);
	ck_assert_int_eq(n, written);
	ck_assert_uint_eq(st.lost_records, 0);
	/* The next record brings the LOST report first. */
	ck_assert_int_eq(ringemu_comm(&e, 1, 1, "after", false), 1);
	n = drain(r, ev, 64, &st);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(ev[0].type, PERF_RECORD_LOST);
	ck_assert_uint_eq(ev[0].lost.lost, dropped);
	ck_assert_uint_eq(ev[0].lost.id, 42);
	ck_assert_str_eq(ev[1].comm.comm, "after");
	ck_assert_uint_eq(st.lost_records, dropped);
	sa_cap_ring__free(r);
	ringemu_fini(&e);
}
END_TEST

START_TEST(tc_ring_corrupt)
{
	const struct perf_event_header *h;
	struct sa_errinfo ei;
	struct ringemu e;
	struct sa_cap_ring *r;
	struct perf_event_header bad = { .type = PERF_RECORD_COMM, .size = 4 };
	uint8_t rec[24] = { 0 };

	ringemu_init(&e, 1024, 0, false);
	r = open_ring(&e);
	/* A header with an impossible size. */
	memcpy(rec, &bad, sizeof(bad));
	ringemu_put_raw(&e, rec, 8);
	ck_assert_int_eq(sa_cap_ring_read_init(r, &ei), 0);
	ck_assert_int_eq(sa_cap_ring_read_event(r, &h, &ei), -SA_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "size 4"));
	ck_assert_uint_eq(ei.offset, 0);
	/* The reader skipped to head: nothing left. */
	ck_assert_int_eq(sa_cap_ring_read_event(r, &h, &ei), 0);
	sa_cap_ring_read_done(r);

	/* A head further than the ring size from the tail. */
	e.pc->data_head += 4096;
	ck_assert_int_eq(sa_cap_ring_read_init(r, &ei), -SA_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "past tail"));
	sa_cap_ring__free(r);

	/* A user page with a data size that is not a power of two. */
	e.pc->data_size = 1000;
	errno = 0;
	ck_assert_ptr_null(sa_cap_ring__new(e.base, NULL, false, &ei));
	ck_assert_int_eq(errno, EINVAL);
	ringemu_fini(&e);
}
END_TEST

/* The kernel keeps data_head, data_tail and every record size multiples
 * of 8.  A ring that breaks that (a saved ring, a scribbled mapping) is
 * reported and skipped, never read at a misaligned address: under UBSan
 * the old reader read perf_event_header fields at ring offset 2.
 */
START_TEST(tc_ring_misaligned)
{
	/* The fuzz_ring reproducer (tests/fuzz/corpus/fuzz_ring/
	 * misaligned-tail-30): tail 2, head 20, a COMM header at offset 2.
	 */
	static const uint8_t comm_at_2[] = {
		0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x12, 0x00,
		0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		'a', 0x00, 0x00, 0x00,
	};
	struct perf_event_header rec30 = { .type = PERF_RECORD_COMM,
					   .size = 30 };
	const struct perf_event_header *h;
	uint8_t rec[32] = { 0 };
	struct sa_pd_event ev;
	struct sa_errinfo ei;
	struct ringemu e;
	struct sa_cap_ring *r;

	ringemu_init(&e, 1024, 0, false);
	memcpy(e.data, comm_at_2, sizeof(comm_at_2));
	e.pc->data_tail = 2;
	e.pc->data_head = 20;
	r = open_ring(&e);
	ck_assert_int_eq(sa_cap_ring_read_init(r, &ei), -SA_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "not a multiple of 8"));
	ck_assert_uint_eq(ei.offset, 2);
	ck_assert_int_eq(sa_cap_ring_read_event(r, &h, &ei), 0);
	sa_cap_ring_read_done(r);
	ck_assert_uint_eq(e.pc->data_tail, 20);

	/* A misaligned head with an aligned tail: the same. */
	e.pc->data_head = 44;
	ck_assert_int_eq(sa_cap_ring_read_init(r, &ei), -SA_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "head 44"));
	sa_cap_ring_read_done(r);
	sa_cap_ring__free(r);
	ringemu_fini(&e);

	/* Aligned ring, a 30-byte record, then a good one: the bad size is
	 * an error, nothing after it is read as a record.
	 */
	ringemu_init(&e, 1024, 0, false);
	r = open_ring(&e);
	memcpy(rec, &rec30, sizeof(rec30));
	ck_assert_int_eq(ringemu_put_raw(&e, rec, 32), 1);
	ck_assert_int_eq(ringemu_comm(&e, 1, 1, "after", false), 1);
	ck_assert_int_eq(sa_cap_ring_read_init(r, &ei), 0);
	ck_assert_int_eq(sa_cap_ring_read_event(r, &h, &ei), -SA_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "size 30"));
	ck_assert_uint_eq(ei.offset, 0);
	ck_assert_int_eq(sa_cap_ring_read_event(r, &h, &ei), 0);
	sa_cap_ring_read_done(r);
	ck_assert_uint_eq(e.pc->data_tail, e.pc->data_head);

	/* Records that wrap come out whole and 8-byte aligned. */
	while (1024 - (e.pc->data_head & 1023) >= 48) {
		ck_assert_int_eq(ringemu_comm(&e, 1, 1, "fill", false), 1);
		ck_assert_int_eq(sa_cap_ring_read_init(r, &ei), 0);
		ck_assert_int_eq(sa_cap_ring_read_event(r, &h, &ei), 1);
		ck_assert_uint_eq((uintptr_t)h & 7, 0);
		sa_cap_ring_read_done(r);
	}
	ck_assert_int_eq(ringemu_comm(&e, 7, 8, "wrapper", false), 1);
	ck_assert_int_eq(sa_cap_ring_read_init(r, &ei), 0);
	while (sa_cap_ring_read_event(r, &h, &ei) == 1) {
		ck_assert_uint_eq((uintptr_t)h & 7, 0);
		ck_assert_int_eq(sa_cap_parse_record(h, EMU_ST, true, &ev,
						     &ei), 0);
		sa_cap_ring_consume(r);
	}
	ck_assert_str_eq(ev.comm.comm, "wrapper");
	ck_assert_uint_eq(ev.comm.pid, 7);
	sa_cap_ring_read_done(r);
	sa_cap_ring__free(r);

	/* A data ring that is not 8-byte aligned is refused. */
	e.pc->data_offset = 4096 + 4;
	errno = 0;
	ck_assert_ptr_null(sa_cap_ring__new(e.base, NULL, false, &ei));
	ck_assert_int_eq(errno, EINVAL);
	ringemu_fini(&e);
}
END_TEST

/* sa_cap_parse_record() takes any pointer: a record at an odd address
 * parses as the aligned one does.
 */
START_TEST(tc_record_unaligned)
{
	uint8_t buf[64 + 1] __attribute__((aligned(8))) = { 0 };
	struct perf_event_header h = { .type = PERF_RECORD_COMM,
				       .size = 8 + 16 + 24 };
	uint32_t pt[2] = { 21, 22 };
	struct sa_pd_event a, b;
	struct sa_errinfo ei;
	char comm[8];

	memcpy(buf + 1, &h, sizeof(h));
	memcpy(buf + 1 + 8, pt, sizeof(pt));
	memcpy(buf + 1 + 16, "odd", 4);
	ck_assert_int_eq(sa_cap_parse_record((const void *)(buf + 1), EMU_ST,
					     true, &a, &ei), 0);
	ck_assert_uint_eq(a.type, PERF_RECORD_COMM);
	ck_assert_uint_eq(a.size, 48);
	ck_assert_uint_eq(a.comm.tid, 22);
	ck_assert_str_eq(a.comm.comm, "odd");
	snprintf(comm, sizeof(comm), "%s", a.comm.comm);
	memmove(buf, buf + 1, 48);
	ck_assert_int_eq(sa_cap_parse_record((const void *)buf, EMU_ST, true,
					     &b, &ei), 0);
	ck_assert_uint_eq(b.comm.pid, a.comm.pid);
	ck_assert_str_eq(b.comm.comm, comm);
}
END_TEST

START_TEST(tc_record_corrupt)
{
	struct sa_pd_event ev;
	struct sa_errinfo ei;
	uint8_t rec[128] __attribute__((aligned(8)));
	struct perf_event_header h = { .type = PERF_RECORD_MMAP2,
				       .size = 8 + 64 + 8 + 24 };

	/* MMAP2 whose filename has no NUL before the trailer. */
	memset(rec, 'A', sizeof(rec));
	memcpy(rec, &h, sizeof(h));
	ck_assert_int_eq(sa_cap_parse_record((void *)rec, EMU_ST, true, &ev,
					     &ei), -SA_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "not terminated"));
	/* AUX too short for its fields. */
	h.type = PERF_RECORD_AUX;
	h.size = 8 + 16 + 24;
	memcpy(rec, &h, sizeof(h));
	ck_assert_int_eq(sa_cap_parse_record((void *)rec, EMU_ST, true, &ev,
					     &ei), -SA_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "AUX"));
	h.type = 9999;
	h.size = 32;
	memcpy(rec, &h, sizeof(h));
	ck_assert_int_eq(sa_cap_parse_record((void *)rec, EMU_ST, true, &ev,
					     &ei), -SA_ERR_UNSUPPORTED);
}
END_TEST

static void fill_pattern(uint8_t *b, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		/* Never 0: the snapshot wrap test looks for non-zero. */
		b[i] = (uint8_t)((seed >> 16) | 1);
	}
}

static size_t gather(const struct sa_cap_aux_chunk *c, uint8_t *out)
{
	memcpy(out, c->data[0], c->len[0]);
	if (c->len[1])
		memcpy(out + c->len[0], c->data[1], c->len[1]);
	return c->len[0] + c->len[1];
}

START_TEST(tc_aux_normal)
{
	static uint8_t src[20000], got[20000];
	struct sa_pd_event ev[16];
	struct sa_cap_ring_stats st = { 0 };
	struct sa_cap_aux_chunk c;
	struct sa_errinfo ei;
	struct ringemu e;
	struct sa_cap_ring *r;
	int64_t n;
	int i, nr;

	fill_pattern(src, sizeof(src), 7);
	ringemu_init(&e, 4096, 4096, false);
	r = open_ring(&e);

	ck_assert_uint_eq(ringemu_aux_write(&e, src, 3000), 3000);
	n = sa_cap_aux_peek(r, &c, &ei);
	ck_assert_int_eq(n, 3000);
	ck_assert_uint_eq(c.len[1], 0);
	ck_assert_uint_eq(gather(&c, got), 3000);
	ck_assert_mem_eq(got, src, 3000);
	sa_cap_aux_consume(r, (uint64_t)n);
	ck_assert_uint_eq(e.pc->aux_tail, 3000);

	/* Wraps the area: two chunks. */
	ck_assert_uint_eq(ringemu_aux_write(&e, src + 3000, 2000), 2000);
	n = sa_cap_aux_peek(r, &c, &ei);
	ck_assert_int_eq(n, 2000);
	ck_assert_uint_eq(c.len[0], 1096);
	ck_assert_uint_eq(c.len[1], 904);
	ck_assert_uint_eq(c.pos, 3000);
	gather(&c, got);
	ck_assert_mem_eq(got, src + 3000, 2000);
	sa_cap_aux_consume(r, (uint64_t)n);

	/* Not read in time: the hardware fills the area and the rest is
	 * lost; the AUX record says TRUNCATED.
	 */
	ck_assert_uint_eq(ringemu_aux_write(&e, src + 5000, 6000), 4096);
	n = sa_cap_aux_peek(r, &c, &ei);
	ck_assert_int_eq(n, 4096);
	gather(&c, got);
	ck_assert_mem_eq(got, src + 5000, 4096);
	sa_cap_aux_consume(r, (uint64_t)n);

	nr = drain(r, ev, 16, &st);
	ck_assert_int_eq(nr, 3);
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(ev[i].type, PERF_RECORD_AUX);
	ck_assert_uint_eq(ev[1].aux.aux_offset, 3000);
	ck_assert_uint_eq(st.aux_records, 3);
	ck_assert_uint_eq(st.aux_truncated, 1);
	ck_assert_uint_eq(st.aux_bytes, 3000 + 2000 + 4096);
	ck_assert(ev[2].aux.flags & PERF_AUX_FLAG_TRUNCATED);

	/* Head past the area from the tail: overwrite data in a normal
	 * mapping is refused, not read as garbage.
	 */
	e.pc->aux_head += 8192;
	ck_assert_int_eq(sa_cap_aux_peek(r, &c, &ei), -SA_ERR_CORRUPT);
	sa_cap_ring__free(r);
	ringemu_fini(&e);
}
END_TEST

START_TEST(tc_aux_snapshot)
{
	static uint8_t src[40000], got[40000];
	struct sa_pd_event ev[16];
	struct sa_cap_ring_stats st = { 0 };
	struct sa_cap_aux_chunk c;
	struct sa_errinfo ei;
	struct ringemu e;
	struct sa_cap_ring *r;
	const uint64_t area = 16384;
	int64_t n;

	fill_pattern(src, sizeof(src), 99);
	ringemu_init(&e, 4096, area, true);
	r = open_ring(&e);

	/* Before the first wrap: [0, head). */
	ringemu_aux_write(&e, src, 5000);
	n = sa_cap_aux_snapshot(r, &c, &ei);
	ck_assert_int_eq(n, 5000);
	ck_assert(!c.wrapped);
	gather(&c, got);
	ck_assert_mem_eq(got, src, 5000);

	/* The rolling buffer keeps the last 16 KiB of 35000 bytes,
	 * oldest first: what happened before the trigger.
	 */
	ringemu_aux_write(&e, src + 5000, 30000);
	n = sa_cap_aux_snapshot(r, &c, &ei);
	ck_assert_int_eq(n, (int64_t)area);
	ck_assert(c.wrapped);
	ck_assert_uint_eq(c.pos, 35000 - area);
	ck_assert_uint_eq(gather(&c, got), area);
	ck_assert_mem_eq(got, src + 35000 - area, area);

	/* The kernel ignores aux_tail in overwrite mode; so do we. */
	ck_assert_uint_eq(e.pc->aux_tail, 0);
	drain(r, ev, 16, &st);
	ck_assert_uint_eq(st.aux_overwrite, 2);
	sa_cap_ring__free(r);
	ringemu_fini(&e);
}
END_TEST

/*
 * No hardware.
 */
START_TEST(tc_nohw_empty_root)
{
	struct sa_errinfo ei;
	struct sa_cap_pmu *p;

	errno = 0;
	p = sa_cap_pmu__open(sa_test_tmpdir(), "intel_pt", &ei);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(errno, SA_ERR_NOHW);
	ck_assert_int_eq(ei.code, -SA_ERR_NOHW);
	ck_assert_ptr_nonnull(strstr(ei.msg, "no intel_pt PMU"));
	ck_assert_ptr_nonnull(strstr(ei.msg, "--backend emulate"));
	ck_assert_ptr_nonnull(strstr(ei.msg, "sensor-agent decode"));
}
END_TEST

/* The reason must match this machine's facts, which the test reads
 * itself from /proc/cpuinfo.
 */
START_TEST(tc_nohw_real)
{
	char line[4096], vendor[64] = "";
	bool hyper = false;
	struct sa_errinfo ei;
	struct sa_cap_pmu *p;
	struct stat st;
	FILE *f;

	if (!stat(SA_CAP_SYSFS_DEFAULT "/intel_pt", &st)) {
		fprintf(stderr, "note: this machine has intel_pt; the no-hw "
			"case is covered by tc_nohw_empty_root only\n");
		return;
	}
	f = fopen("/proc/cpuinfo", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (!vendor[0] && sscanf(line, "vendor_id : %63s", vendor) == 1)
			continue;
		if (!strncmp(line, "flags", 5) && strstr(line, " hypervisor"))
			hyper = true;
	}
	fclose(f);

	errno = 0;
	p = sa_cap_pmu__open(NULL, "intel_pt", &ei);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(errno, SA_ERR_NOHW);
	fprintf(stderr, "intel_pt here: %s\n", ei.msg);
	if (hyper)
		ck_assert_ptr_nonnull(strstr(ei.msg, "virtual machine"));
	else if (vendor[0] && strcmp(vendor, "GenuineIntel"))
		ck_assert_ptr_nonnull(strstr(ei.msg, vendor));
	ck_assert_ptr_nonnull(strstr(ei.msg, "--backend emulate"));
}
END_TEST

START_TEST(tc_explain_perm)
{
	char root[PATH_MAX], proc[PATH_MAX], path[PATH_MAX + 64], buf[512];
	FILE *f;

	/* A fake sysfs root with the PMU and a fake procfs that forbids. */
	snprintf(root, sizeof(root), "%s/sys-perm", sa_test_tmpdir());
	snprintf(path, sizeof(path), "%s/intel_pt", root);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(proc, sizeof(proc), "%s/proc", sa_test_tmpdir());
	ck_assert_int_eq(mkdir(proc, 0755), 0);
	snprintf(path, sizeof(path), "%s/sys", proc);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/sys/kernel", proc);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/sys/kernel/perf_event_paranoid",
		 proc);
	f = fopen(path, "w");
	fputs("2\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/self", proc);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/self/status", proc);
	f = fopen(path, "w");
	fputs("Name:\tx\nCapEff:\t0000000000000000\n", f);
	fclose(f);
	ck_assert_int_eq(sa_cap_explain_nohw(root, proc, "intel_pt", buf,
					     sizeof(buf)), -SA_ERR_PERM);
	ck_assert_ptr_nonnull(strstr(buf, "perf_event_paranoid is 2"));
	ck_assert_ptr_nonnull(strstr(buf, "CAP_PERFMON"));
}
END_TEST

/* The reason follows the CPU: a fake procfs for AMD bare metal, an Intel
 * VM, and Arm without CoreSight.
 */
static void fake_cpuinfo(const char *proc, const char *body)
{
	char path[PATH_MAX + 32];
	FILE *f;

	mkdir(proc, 0755);
	snprintf(path, sizeof(path), "%s/cpuinfo", proc);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(body, f);
	fclose(f);
}

START_TEST(tc_explain_cpu)
{
	char proc[PATH_MAX], buf[512];
	const char *root = sa_test_tmpdir();	/* no PMUs in it */

	snprintf(proc, sizeof(proc), "%s/amd", root);
	fake_cpuinfo(proc, "processor\t: 0\nvendor_id\t: AuthenticAMD\n"
		     "flags\t\t: fpu vme sse2\n");
	ck_assert_int_eq(sa_cap_explain_nohw(root, proc, "intel_pt", buf,
					     sizeof(buf)), -SA_ERR_NOHW);
	ck_assert_ptr_nonnull(strstr(buf, "AuthenticAMD"));
	ck_assert_ptr_nonnull(strstr(buf, "only on Intel"));
	ck_assert_ptr_null(strstr(buf, "virtual machine"));

	snprintf(proc, sizeof(proc), "%s/vm", root);
	fake_cpuinfo(proc, "vendor_id\t: GenuineIntel\n"
		     "flags\t\t: fpu sse2 hypervisor lahf_lm\n");
	ck_assert_int_eq(sa_cap_explain_nohw(root, proc, "intel_pt", buf,
					     sizeof(buf)), -SA_ERR_NOHW);
	ck_assert_ptr_nonnull(strstr(buf, "virtual machine"));

	snprintf(proc, sizeof(proc), "%s/arm", root);
	fake_cpuinfo(proc, "processor\t: 0\nCPU implementer\t: 0x41\n");
	ck_assert_int_eq(sa_cap_explain_nohw(root, proc, "cs_etm", buf,
					     sizeof(buf)), -SA_ERR_NOHW);
	ck_assert_ptr_nonnull(strstr(buf, "no cs_etm PMU"));
	ck_assert_ptr_nonnull(strstr(buf, "CONFIG_CORESIGHT"));
	ck_assert_int_eq(sa_cap_explain_nohw(root, proc, "intel_pt", buf,
					     sizeof(buf)), -SA_ERR_NOHW);
	ck_assert_ptr_nonnull(strstr(buf, "Arm implementer 0x41"));
}
END_TEST

static Suite *capture_suite(void)
{
	Suite *s = suite_create("capture");
	TCase *tc = tcase_create("units");

	tcase_add_test(tc, tc_format_parse);
	tcase_add_test(tc, tc_format_value);
	tcase_add_test(tc, tc_filter);
	tcase_add_test(tc, tc_filter_default);
	tcase_add_test(tc, tc_ring_records);
	tcase_add_test(tc, tc_ring_wrap);
	tcase_add_test(tc, tc_ring_lost);
	tcase_add_test(tc, tc_ring_corrupt);
	tcase_add_test(tc, tc_record_corrupt);
	tcase_add_test(tc, tc_ring_misaligned);
	tcase_add_test(tc, tc_record_unaligned);
	tcase_add_test(tc, tc_aux_normal);
	tcase_add_test(tc, tc_aux_snapshot);
	tcase_add_test(tc, tc_nohw_empty_root);
	tcase_add_test(tc, tc_nohw_real);
	tcase_add_test(tc, tc_explain_perm);
	tcase_add_test(tc, tc_explain_cpu);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sa_test_run(capture_suite());
}
