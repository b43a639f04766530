// SPDX-License-Identifier: BSD-2-Clause
/*
 * perfdata: writer -> reader round trips and bad input.  The checks
 * against Linux perf and the real traces are in test_perfdata_traces.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/log.h"
#include "sensor/perfdata.h"
#include "testutil.h"

static char *tmp_path(const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", sa_test_tmpdir(), name), 0);
	return p;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert(fstat(fd, &st) == 0);
	buf = malloc(st.st_size + 1);
	ck_assert(buf);
	ck_assert_int_eq(read(fd, buf, st.st_size), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

static void spit(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert(fd >= 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static const uint8_t payload[21] = { 0x02, 0x82, 0x02, 0x82, 0x02, 0x82,
				     0x02, 0x82, 0x02, 0x82, 0x02, 0x82,
				     0x02, 0x82, 0x02, 0x82, 0x23, 0, 0, 0,
				     0x99 };
static const uint64_t info_priv[3] = { 6, 31, 0x1234 };

#define SID_ALL                                                            \
	(PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |             \
	 PERF_SAMPLE_ID | PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU |        \
	 PERF_SAMPLE_IDENTIFIER)

/* Writes a file with one of each record the writer has a helper for.
 * Two attrs with different sample_type both ending in IDENTIFIER, so
 * that the reader must find the attr by id as perf does.
 */
static char *make_file(const char *name)
{
	char *path = tmp_path(name);
	struct perf_event_attr a = { 0 }, b = { 0 };
	uint64_t ids_a[3] = { 11, 12, 13 }, ids_b[1] = { 21 };
	struct sa_pd_sample_id sid = { 0 };
	struct sa_errinfo ei;
	struct sa_pd_writer *w;
	static const uint8_t bid[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
					 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	char *argv[] = { "prog", "--flag", "x y" };
	uint8_t raw[16] = { 0 };

	a.type = 6;
	a.config = 0x300e601;
	a.sample_type = SID_ALL;
	a.sample_id_all = 1;
	b.type = PERF_TYPE_SOFTWARE;
	b.config = PERF_COUNT_SW_DUMMY;
	b.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			PERF_SAMPLE_IDENTIFIER;
	b.sample_id_all = 1;

	w = sa_pd_writer__new(path, &ei);
	ck_assert_msg(w, "%s", ei.msg);
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &a, ids_a, 3, "intel_pt//u"),
			 0);
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &b, ids_b, 1, NULL), 0);
	ck_assert_int_eq(sa_pd_writer_auxtrace_info(w, SA_PD_AUXTRACE_INTEL_PT,
						    info_priv, 3), 0);
	/* Attrs must all come before the first record. */
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &b, ids_b, 1, NULL),
			 -SA_ERR_INVAL);
	sid.pid = 100;
	sid.tid = 101;
	sid.time = 5000;
	sid.id = 12;
	sid.stream_id = 77;
	sid.cpu = 2;
	ck_assert_int_eq(sa_pd_writer_comm(w, 100, 101, "a-long-command-nm",
					   true, &sid), 0);
	ck_assert_int_eq(sa_pd_writer_mmap2(w, 100, 101, 0x400000, 0x2000,
					    0x1000, 5, 2, "/bin/x", &sid), 0);
	ck_assert_int_eq(sa_pd_writer_fork(w, false, 100, 1, 101, 1, 4999,
					   &sid), 0);
	ck_assert_int_eq(sa_pd_writer_itrace_start(w, 100, 101, &sid), 0);
	ck_assert_int_eq(sa_pd_writer_aux_output_hw_id(w,
						       0x0100000000000a12ULL,
						       &sid), 0);
	ck_assert_int_eq(sa_pd_writer_aux(w, 0x40, 0x80,
					  PERF_AUX_FLAG_TRUNCATED |
					  PERF_AUX_FLAG_COLLISION, &sid), 0);
	ck_assert_int_eq(sa_pd_writer_lost(w, 12, 3, NULL), 0);
	ck_assert_int_eq(sa_pd_writer_auxtrace(w, payload, sizeof(payload),
					       0x40, 0xfeed, 1, 101, 2), 0);
	ck_assert_int_eq(sa_pd_writer_finished_round(w), 0);
	/* A SWITCH written raw (no typed helper), no trailer fields used. */
	raw[0] = PERF_RECORD_SWITCH;
	raw[4] = 0;
	raw[5] = PERF_RECORD_MISC_SWITCH_OUT >> 8;
	raw[6] = sizeof(raw);
	ck_assert_int_eq(sa_pd_writer_raw(w, raw, sizeof(raw) - 1),
			 -SA_ERR_INVAL);
	ck_assert_int_eq(sa_pd_writer_fork(w, true, 100, 1, 101, 1, 6000,
					   &sid), 0);
	ck_assert_int_eq(sa_pd_writer_add_build_id(w, 100,
						   PERF_RECORD_MISC_USER, bid,
						   20, "/bin/x"), 0);
	ck_assert_int_eq(sa_pd_writer_add_build_id(w, -1,
						   PERF_RECORD_MISC_KERNEL,
						   bid, 16,
						   "[kernel.kallsyms]"), 0);
	ck_assert_int_eq(sa_pd_writer_set_cmdline(w, 3, argv), 0);
	ck_assert_int_eq(sa_pd_writer_set_cpuid(w, "GenuineIntel,6,94,3"), 0);
	ck_assert_int_eq(sa_pd_writer_set_arch(w, "x86_64"), 0);
	ck_assert_int_eq(sa_pd_writer_set_hostname(w, "h"), 0);
	ck_assert_int_eq(sa_pd_writer_set_osrelease(w, "6.1"), 0);
	ck_assert_int_eq(sa_pd_writer_set_nr_cpus(w, 4, 4), 0);
	ck_assert_int_eq(sa_pd_writer_close(w, &ei), 0);
	return path;
}

static void next_ok(struct sa_pd *pd, struct sa_pd_event *ev, uint32_t type)
{
	struct sa_errinfo ei;
	int r = sa_pd_next(pd, ev, &ei);

	ck_assert_msg(r == 1, "sa_pd_next: %d %s", r, ei.msg);
	ck_assert_str_eq(sa_pd_type_name(ev->type), sa_pd_type_name(type));
	ck_assert_uint_eq(ev->file_offset % 8, 0);
}

static void check_sid(const struct sa_pd_event *ev, bool full)
{
	ck_assert_uint_eq(ev->sid.pid, 100);
	ck_assert_uint_eq(ev->sid.tid, 101);
	ck_assert_uint_eq(ev->sid.time, 5000);
	ck_assert_uint_eq(ev->sid.cpu, 2);
	ck_assert_uint_eq(ev->sid.id, 12);
	if (full)
		ck_assert_uint_eq(ev->sid.stream_id, 77);
}

START_TEST(test_round_trip)
{
	char *path = make_file("rt.data");
	struct sa_errinfo ei;
	struct sa_pd *pd = sa_pd__open(path, &ei);
	struct sa_pd_event ev;
	const struct sa_pd_attr *a;
	const struct sa_pd_build_id *b;
	int pass;

	ck_assert_msg(pd, "%s", ei.msg);
	ck_assert_uint_eq(sa_pd_nr_attrs(pd), 2);
	a = sa_pd_attr(pd, 0);
	ck_assert_uint_eq(a->attr.type, 6);
	ck_assert_uint_eq(a->attr.config, 0x300e601);
	ck_assert_uint_eq(a->file_size, sizeof(struct perf_event_attr));
	ck_assert_uint_eq(a->nr_ids, 3);
	ck_assert_uint_eq(a->ids[2], 13);
	ck_assert_str_eq(a->name, "intel_pt//u");
	ck_assert_ptr_null(sa_pd_attr(pd, 1)->name);
	ck_assert_ptr_eq(sa_pd_attr_by_id(pd, 21), sa_pd_attr(pd, 1));
	ck_assert_ptr_eq(sa_pd_attr_by_id(pd, 11), a);
	ck_assert_ptr_null(sa_pd_attr_by_id(pd, 99));
	ck_assert_ptr_null(sa_pd_attr(pd, 2));
	ck_assert_str_eq(sa_pd_cpuid(pd), "GenuineIntel,6,94,3");
	ck_assert_str_eq(sa_pd_arch(pd), "x86_64");
	ck_assert_str_eq(sa_pd_cmdline(pd), "prog --flag x y");
	ck_assert(sa_pd_has_feature(pd, 3));	/* HOSTNAME */
	ck_assert(sa_pd_has_feature(pd, 7));	/* NRCPUS */
	ck_assert(!sa_pd_has_feature(pd, 1));	/* TRACING_DATA */
	ck_assert(!sa_pd_has_feature(pd, -1));
	ck_assert(!sa_pd_has_feature(pd, 256));
	ck_assert_uint_eq(sa_pd_nr_build_ids(pd), 2);
	b = sa_pd_find_build_id(pd, "[kernel.kallsyms]");
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b->size, 16);
	ck_assert_int_eq(b->pid, -1);
	ck_assert_uint_eq(b->misc, PERF_RECORD_MISC_KERNEL);
	ck_assert_uint_eq(b->id[15], 16);
	b = sa_pd_find_build_id(pd, "/bin/x");
	ck_assert_uint_eq(b->size, 20);
	ck_assert_uint_eq(b->id[19], 20);
	ck_assert_ptr_null(sa_pd_find_build_id(pd, "/bin/y"));
	ck_assert_uint_eq(sa_pd_nr_auxtrace_index(pd), 1);
	ck_assert_uint_eq(sa_pd_auxtrace_index(pd, 0)->size, 48);
	ck_assert_ptr_null(sa_pd_auxtrace_index(pd, 1));

	/* Twice: sa_pd_rewind() starts over. */
	for (pass = 0; pass < 2; pass++) {
		next_ok(pd, &ev, SA_PD_AUXTRACE_INFO);
		ck_assert_uint_eq(ev.auxtrace_info.type, 1);
		ck_assert_uint_eq(ev.auxtrace_info.nr_priv, 3);
		ck_assert_uint_eq(ev.auxtrace_info.priv[2], 0x1234);
		ck_assert_uint_eq(ev.sid.valid, 0);

		next_ok(pd, &ev, PERF_RECORD_COMM);
		ck_assert(ev.comm.exec);
		ck_assert_str_eq(ev.comm.comm, "a-long-command-nm");
		ck_assert_uint_eq(ev.comm.pid, 100);
		check_sid(&ev, true);
		ck_assert_uint_eq(ev.sid.valid, SID_ALL & ~PERF_SAMPLE_IP);

		next_ok(pd, &ev, PERF_RECORD_MMAP2);
		ck_assert_uint_eq(ev.mmap.start, 0x400000);
		ck_assert_uint_eq(ev.mmap.len, 0x2000);
		ck_assert_uint_eq(ev.mmap.pgoff, 0x1000);
		ck_assert_uint_eq(ev.mmap.prot, 5);
		ck_assert_uint_eq(ev.mmap.flags, 2);
		ck_assert_str_eq(ev.mmap.filename, "/bin/x");
		check_sid(&ev, true);

		next_ok(pd, &ev, PERF_RECORD_FORK);
		ck_assert_uint_eq(ev.fork.ppid, 1);
		ck_assert_uint_eq(ev.fork.time, 4999);

		next_ok(pd, &ev, PERF_RECORD_ITRACE_START);
		ck_assert_uint_eq(ev.itrace_start.tid, 101);
		check_sid(&ev, true);

		next_ok(pd, &ev, PERF_RECORD_AUX_OUTPUT_HW_ID);
		ck_assert_uint_eq(ev.aux_output_hw_id.hw_id,
				  0x0100000000000a12ULL);
		check_sid(&ev, true);

		next_ok(pd, &ev, PERF_RECORD_AUX);
		ck_assert_uint_eq(ev.aux.aux_offset, 0x40);
		ck_assert_uint_eq(ev.aux.aux_size, 0x80);
		ck_assert_uint_eq(ev.aux.flags, PERF_AUX_FLAG_TRUNCATED |
						PERF_AUX_FLAG_COLLISION);

		/* NULL sid: zeros, and the first attr's first id. */
		next_ok(pd, &ev, PERF_RECORD_LOST);
		ck_assert_uint_eq(ev.lost.id, 12);
		ck_assert_uint_eq(ev.lost.lost, 3);
		ck_assert_uint_eq(ev.sid.id, 11);
		ck_assert_uint_eq(ev.sid.time, 0);

		next_ok(pd, &ev, SA_PD_AUXTRACE);
		ck_assert_uint_eq(ev.auxtrace.size, 24);	/* padded */
		ck_assert_uint_eq(ev.auxtrace.offset, 0x40);
		ck_assert_uint_eq(ev.auxtrace.reference, 0xfeed);
		ck_assert_uint_eq(ev.auxtrace.idx, 1);
		ck_assert_uint_eq(ev.auxtrace.tid, 101);
		ck_assert_uint_eq(ev.auxtrace.cpu, 2);
		ck_assert_mem_eq(ev.auxtrace.data, payload, sizeof(payload));
		ck_assert_uint_eq(ev.auxtrace.data[21], 0);
		ck_assert_uint_eq(ev.file_offset,
				  sa_pd_auxtrace_index(pd, 0)->file_offset);

		next_ok(pd, &ev, SA_PD_FINISHED_ROUND);
		next_ok(pd, &ev, PERF_RECORD_EXIT);
		ck_assert_uint_eq(ev.fork.time, 6000);
		ck_assert_int_eq(sa_pd_next(pd, &ev, &ei), 0);
		ck_assert_int_eq(sa_pd_next(pd, &ev, &ei), 0);
		sa_pd_rewind(pd);
	}
	sa_pd__close(pd);
	free(path);
}
END_TEST

/* A record is attributed by its IDENTIFIER when the attrs differ: a
 * record of attr b has a shorter trailer (TID, TIME, CPU, IDENTIFIER).
 */
START_TEST(test_sid_by_identifier)
{
	char *path = tmp_path("ident.data");
	struct perf_event_attr a = { 0 }, b = { 0 };
	uint64_t ida = 1, idb = 2;
	struct sa_errinfo ei;
	struct sa_pd_writer *w;
	struct sa_pd *pd;
	struct sa_pd_event ev;
	/* ITRACE_START of attr b, written raw: pid, tid, then b's
	 * trailer: pid/tid, time, cpu/res, identifier.
	 */
	uint32_t rec[12] = { PERF_RECORD_ITRACE_START, 48 << 16, 7, 8,
			     7, 8, 900, 0, 5, 0, 2, 0 };

	a.sample_type = SID_ALL;
	a.sample_id_all = 1;
	b.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			PERF_SAMPLE_IDENTIFIER;
	b.sample_id_all = 1;
	w = sa_pd_writer__new(path, &ei);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &a, &ida, 1, NULL), 0);
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &b, &idb, 1, NULL), 0);
	ck_assert_int_eq(sa_pd_writer_raw(w, rec, sizeof(rec)), 0);
	ck_assert_int_eq(sa_pd_writer_close(w, &ei), 0);

	pd = sa_pd__open(path, &ei);
	ck_assert_msg(pd, "%s", ei.msg);
	next_ok(pd, &ev, PERF_RECORD_ITRACE_START);
	ck_assert_uint_eq(ev.itrace_start.pid, 7);
	ck_assert_uint_eq(ev.sid.valid, b.sample_type);
	ck_assert_uint_eq(ev.sid.time, 900);
	ck_assert_uint_eq(ev.sid.cpu, 5);
	ck_assert_uint_eq(ev.sid.id, 2);
	sa_pd__close(pd);
	free(path);
}
END_TEST

START_TEST(test_writer_errors)
{
	char *path = tmp_path("err.data");
	struct perf_event_attr a = { 0 }, b = { 0 };
	struct sa_errinfo ei;
	struct sa_pd_writer *w;
	uint8_t rec[8] = { 68, 0, 0, 0, 0, 0, 8, 0 };
	char big[5000];

	ck_assert_ptr_null(sa_pd_writer__new("/nonexistent/dir/x.data", &ei));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "/nonexistent/dir/x.data"));
	sa_pd_writer__free(NULL);

	/* No attr: perf cannot read such a file, so close refuses. */
	w = sa_pd_writer__new(path, &ei);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(sa_pd_writer_finished_round(w), -SA_ERR_INVAL);
	sa_pd_writer__free(w);

	w = sa_pd_writer__new(path, &ei);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &a, NULL, 0, NULL), 0);
	/* A second attr with another trailer and no IDENTIFIER. */
	b.sample_id_all = 1;
	b.sample_type = PERF_SAMPLE_TIME;
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &b, NULL, 0, NULL),
			 -SA_ERR_INVAL);
	/* AUXTRACE before AUXTRACE_INFO: perf fails on it. */
	ck_assert_int_eq(sa_pd_writer_auxtrace(w, payload, 4, 0, 0, 0, 0, 0),
			 -SA_ERR_INVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(sa_pd_writer_comm(w, 1, 1, big, false, NULL),
			 -SA_ERR_TOOBIG);
	ck_assert_int_eq(sa_pd_writer_mmap2(w, 1, 1, 0, 0, 0, 0, 0, NULL,
					    NULL), -SA_ERR_INVAL);
	ck_assert_int_eq(sa_pd_writer_raw(w, rec, 7), -SA_ERR_INVAL);
	rec[6] = 4;
	ck_assert_int_eq(sa_pd_writer_raw(w, rec, 8), -SA_ERR_INVAL);
	rec[6] = 8;
	ck_assert_int_eq(sa_pd_writer_raw(w, rec, 8), 0);
	ck_assert_int_eq(sa_pd_writer_add_build_id(w, 1, 0,
						   (const uint8_t *)"x", 21,
						   "f"), -SA_ERR_INVAL);
	ck_assert_int_eq(sa_pd_writer_close(w, &ei), 0);
	free(path);
}
END_TEST

/*
 * Bad input.  Each case must be refused with a message that names the
 * input and says what is wrong; none may crash (ASan/UBSan in CI).
 */

static void expect_open_error(const void *buf, size_t len, int code,
			      const char *needle)
{
	struct sa_errinfo ei;
	struct sa_pd *pd = sa_pd__open_mem(buf, len, "bad.data", &ei);

	ck_assert_msg(!pd, "accepted; wanted '%s'", needle);
	ck_assert_int_eq(ei.code, code);
	ck_assert_msg(!strncmp(ei.msg, "bad.data: ", 10), "%s", ei.msg);
	ck_assert_msg(strstr(ei.msg, needle), "'%s' lacks '%s'", ei.msg,
		      needle);
}

/* Opens @buf and iterates to the first error, which must match. */
static void expect_next_error(const void *buf, size_t len, uint64_t off,
			      const char *needle)
{
	struct sa_errinfo ei, ei2;
	struct sa_pd *pd = sa_pd__open_mem(buf, len, "bad.data", &ei);
	struct sa_pd_event ev;
	int r;

	ck_assert_msg(pd, "%s", ei.msg);
	while ((r = sa_pd_next(pd, &ev, &ei)) > 0)
		;
	ck_assert_int_lt(r, 0);
	ck_assert_int_eq(ei.code, r);
	ck_assert_uint_eq(ei.offset, off);
	ck_assert_msg(strstr(ei.msg, needle), "'%s' lacks '%s'", ei.msg,
		      needle);
	ck_assert_msg(!strncmp(ei.msg, "bad.data: offset 0x", 19), "%s",
		      ei.msg);
	/* The iterator stays stopped. */
	ck_assert_int_eq(sa_pd_next(pd, &ev, &ei2), r);
	ck_assert_str_eq(ei2.msg, ei.msg);
	sa_pd__close(pd);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Offset of the first record of @type in the good file. */
static uint64_t find_record(const uint8_t *buf, size_t len, uint32_t type)
{
	uint64_t off = get64(buf + 40), end = off + get64(buf + 48);

	while (off < end) {
		uint32_t t;
		uint16_t sz;

		memcpy(&t, buf + off, 4);
		memcpy(&sz, buf + off + 6, 2);
		if (t == type)
			return off;
		off += sz;
		if (t == SA_PD_AUXTRACE)
			off += get64(buf + off - sz + 8);
	}
	ck_abort_msg("no record of type %u", type);
	return 0;
}

START_TEST(test_bad_header)
{
	static const uint8_t swapped[16] = { '2', 'E', 'L', 'I', 'F', 'R',
					     'E', 'P' };
	uint8_t pipe[16] = { 'P', 'E', 'R', 'F', 'I', 'L', 'E', '2', 16 };
	static const uint8_t v1[16] = { 'P', 'E', 'R', 'F', 'F', 'I', 'L',
					'E' };
	char *path = tmp_path("empty.data");
	struct sa_errinfo ei;

	expect_open_error("", 0, -SA_ERR_FORMAT, "too short");
	expect_open_error("PERFILE2", 8, -SA_ERR_TRUNCATED, "ends inside");
	expect_open_error(swapped, sizeof(swapped), -SA_ERR_UNSUPPORTED,
			  "big-endian");
	expect_open_error(pipe, sizeof(pipe), -SA_ERR_UNSUPPORTED,
			  "pipe-mode");
	expect_open_error(v1, sizeof(v1), -SA_ERR_UNSUPPORTED, "version 1");
	expect_open_error("ELF\x7f........", 16, -SA_ERR_FORMAT,
			  "not a perf.data file");
	pipe[8] = 99;
	expect_open_error(pipe, sizeof(pipe), -SA_ERR_FORMAT,
			  "header size 99");

	spit(path, "", 0);
	ck_assert_ptr_null(sa_pd__open(path, &ei));
	ck_assert_ptr_nonnull(strstr(ei.msg, "empty file"));
	ck_assert_ptr_nonnull(strstr(ei.msg, path));
	ck_assert_ptr_null(sa_pd__open("/nonexistent.data", &ei));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(ei.code, -ENOENT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "/nonexistent.data"));
	ck_assert_ptr_null(sa_pd__open("/", &ei));
	ck_assert_ptr_nonnull(strstr(ei.msg, "not a regular file"));
	free(path);
}
END_TEST

START_TEST(test_random_bytes)
{
	uint8_t buf[4096];
	unsigned int seed = 12345, i, k;

	for (k = 0; k < 200; k++) {
		size_t len = rand_r(&seed) % sizeof(buf);

		for (i = 0; i < len; i++)
			buf[i] = rand_r(&seed);
		expect_open_error(buf, len, -SA_ERR_FORMAT,
				  len < 8 ? "too short" : "no PERFILE2 magic");
	}
}
END_TEST

START_TEST(test_bad_sections)
{
	char *path = make_file("sec.data");
	size_t len;
	uint8_t *good = slurp(path, &len), *b = malloc(len);
	uint64_t data_off = get64(good + 40), data_size = get64(good + 48);
	uint64_t off;

	/* Data section past EOF. */
	memcpy(b, good, len);
	put64(b + 48, len);
	expect_open_error(b, len, -SA_ERR_TRUNCATED,
			  "data section [0x");
	/* Attr section past EOF, and not a multiple of attr_size. */
	memcpy(b, good, len);
	put64(b + 32, len);
	expect_open_error(b, len, -SA_ERR_TRUNCATED, "attr section");
	memcpy(b, good, len);
	put64(b + 32, get64(good + 32) - 1);
	expect_open_error(b, len, -SA_ERR_CORRUPT, "not a multiple");
	memcpy(b, good, len);
	put64(b + 16, 8);
	expect_open_error(b, len, -SA_ERR_FORMAT, "attr_size 8");
	/* An attr whose own size disagrees with attr_size. */
	memcpy(b, good, len);
	b[get64(good + 24) + 4] = 72;
	expect_open_error(b, len, -SA_ERR_CORRUPT, "has size 72");
	/* Ids past EOF. */
	memcpy(b, good, len);
	put64(b + get64(good + 24) + get64(good + 16) - 16, len);
	expect_open_error(b, len, -SA_ERR_TRUNCATED, "ids of attr 0");
	/* A feature section past EOF. */
	memcpy(b, good, len);
	put64(b + data_off + data_size, len - 4);
	expect_open_error(b, len, -SA_ERR_TRUNCATED, "feature 2 section");
	/* A feature bit with no table entry behind it. */
	memcpy(b, good, len);
	b[72 + 16] |= 1;	/* bit 128: a 10th table entry */
	expect_open_error(b, data_off + data_size + 16 * 9 + 8,
			  -SA_ERR_TRUNCATED, "feature section table");
	/* AUXTRACE index pointing at something else. */
	memcpy(b, good, len);
	off = find_record(good, len, SA_PD_AUXTRACE);
	b[off] = SA_PD_FINISHED_ROUND;
	expect_open_error(b, len, -SA_ERR_CORRUPT, "not an AUXTRACE record");

	free(b);
	free(good);
	free(path);
}
END_TEST

START_TEST(test_bad_records)
{
	char *path = make_file("rec.data");
	size_t len;
	uint8_t *good = slurp(path, &len), *b = malloc(len);
	uint64_t data_off = get64(good + 40), data_end;
	uint64_t off;

	data_end = data_off + get64(good + 48);
	/* Record size 0, and size < 8. */
	memcpy(b, good, len);
	off = find_record(good, len, PERF_RECORD_MMAP2);
	b[off + 6] = 0;
	b[off + 7] = 0;
	expect_next_error(b, len, off, "has size 0, less than its 8-byte");
	b[off + 6] = 5;
	expect_next_error(b, len, off, "has size 5, less than its 8-byte");
	/* A record running past the data section. */
	memcpy(b, good, len);
	b[off + 7] = 0x7f;
	expect_next_error(b, len, off, "runs past the end of the data");
	/* A record too short for its trailer and fields. */
	memcpy(b, good, len);
	b[off + 6] = 16;
	b[off + 7] = 0;
	expect_next_error(b, len, off, "shorter than its");
	/* An unterminated file name. */
	memcpy(b, good, len);
	memset(b + off + 8 + 64, 'A', 8);
	expect_next_error(b, len, off, "not NUL-terminated");
	/* An AUXTRACE whose payload runs past the data section. */
	memcpy(b, good, len);
	off = find_record(good, len, SA_PD_AUXTRACE);
	put64(b + off + 8, data_end);
	expect_next_error(b, len, off, "AUXTRACE payload of");
	/* Data section ending inside a record header. */
	memcpy(b, good, len);
	off = find_record(good, len, PERF_RECORD_EXIT);
	ck_assert_uint_eq(off + good[off + 6], data_end);	/* the last */
	put64(b + 48, off + 4 - data_off);
	memset(b + 72, 0, 32);	/* no features behind the new data end */
	expect_next_error(b, len, off, "crosses the end");

	free(b);
	free(good);
	free(path);
}
END_TEST

/* Every strict prefix is refused (the features are at the end), with a
 * message naming the input; none crashes.
 */
START_TEST(test_truncations)
{
	char *path = make_file("trunc.data");
	size_t len, cut;
	uint8_t *good = slurp(path, &len);

	for (cut = 0; cut < len; cut++) {
		struct sa_errinfo ei;
		uint8_t *b = malloc(cut + 1);	/* exact size for ASan */
		struct sa_pd *pd;

		memcpy(b, good, cut);
		pd = sa_pd__open_mem(b, cut, "bad.data", &ei);
		ck_assert_msg(!pd, "prefix of %zu bytes accepted", cut);
		ck_assert_msg(!strncmp(ei.msg, "bad.data: ", 10), "%s",
			      ei.msg);
		ck_assert_int_lt(ei.code, 0);
		free(b);
	}
	free(good);
	free(path);
}
END_TEST

/* Random byte mutations of a good file: every record is walked, and
 * whatever happens is either a record or a clean error.
 */
START_TEST(test_mutations)
{
	char *path = make_file("mut.data");
	size_t len;
	uint8_t *good = slurp(path, &len), *b = malloc(len);
	unsigned int seed = 777, k, m;
	volatile uint64_t sink = 0;

	for (k = 0; k < 3000; k++) {
		struct sa_errinfo ei;
		struct sa_pd *pd;
		struct sa_pd_event ev;
		int r, n = 0;

		memcpy(b, good, len);
		for (m = 0; m < 1 + k % 4; m++)
			b[rand_r(&seed) % len] = rand_r(&seed);
		pd = sa_pd__open_mem(b, len, "bad.data", &ei);
		if (!pd) {
			ck_assert_msg(!strncmp(ei.msg, "bad.data: ", 10),
				      "%s", ei.msg);
			continue;
		}
		while ((r = sa_pd_next(pd, &ev, &ei)) > 0 && n < 10000) {
			/* Touch what the record points at (ASan). */
			if (ev.type == SA_PD_AUXTRACE && ev.auxtrace.size)
				sink += ev.auxtrace.data[ev.auxtrace.size - 1];
			if ((ev.type == PERF_RECORD_MMAP2 ||
			     ev.type == PERF_RECORD_MMAP))
				sink += strlen(ev.mmap.filename);
			if (ev.type == PERF_RECORD_COMM)
				sink += strlen(ev.comm.comm);
			if (ev.type == SA_PD_AUXTRACE_INFO &&
			    ev.auxtrace_info.nr_priv)
				sink += ev.auxtrace_info.priv[
					ev.auxtrace_info.nr_priv - 1];
			n++;
		}
		if (r < 0)
			ck_assert_msg(!strncmp(ei.msg, "bad.data: offset ", 17),
				      "%s", ei.msg);
		sa_pd__close(pd);
	}
	free(b);
	free(good);
	free(path);
}
END_TEST

/* A misaligned caller buffer still gives aligned AUXTRACE_INFO data. */
START_TEST(test_open_mem_misaligned)
{
	char *path = make_file("mis.data");
	size_t len;
	uint8_t *good = slurp(path, &len), *b = malloc(len + 1);
	struct sa_errinfo ei;
	struct sa_pd *pd;
	struct sa_pd_event ev;

	memcpy(b + 1, good, len);
	pd = sa_pd__open_mem(b + 1, len, NULL, &ei);
	ck_assert_msg(pd, "%s", ei.msg);
	next_ok(pd, &ev, SA_PD_AUXTRACE_INFO);
	ck_assert_uint_eq((uintptr_t)ev.auxtrace_info.priv % 8, 0);
	ck_assert_uint_eq(ev.auxtrace_info.priv[0], 6);
	sa_pd__close(pd);
	ck_assert_ptr_null(sa_pd__open_mem(NULL, 5, "x", &ei));
	free(b);
	free(good);
	free(path);
}
END_TEST

/* A minimal file built by hand with an attr of @afs bytes (as perf from
 * 2.6 to 6.x wrote them: 64 .. 136), so that the zero-extension into this
 * build's struct perf_event_attr is checked for each ABI size.
 */
static size_t build_min(uint8_t *b, unsigned int afs, uint32_t size_field,
			bool config3)
{
	uint64_t attrs = 104, ids = attrs + afs + 16, data = ids + 8;
	uint64_t flags = 1ULL << 18;	/* sample_id_all */
	uint32_t u;

	memset(b, 0, 512);
	memcpy(b, "PERFILE2", 8);
	put64(b + 8, 104);
	put64(b + 16, afs + 16);
	put64(b + 24, attrs);
	put64(b + 32, afs + 16);
	put64(b + 40, data);
	put64(b + 48, 32);
	u = 6;
	memcpy(b + attrs, &u, 4);
	memcpy(b + attrs + 4, &size_field, 4);
	put64(b + attrs + 8, 0x1234);				/* config */
	put64(b + attrs + 24, PERF_SAMPLE_TID | PERF_SAMPLE_TIME);
	put64(b + attrs + 40, flags);
	if (config3)
		b[attrs + 128] = 1;
	put64(b + attrs + afs, ids);
	put64(b + attrs + afs + 8, 8);
	put64(b + ids, 5);
	/* ITRACE_START pid 7 tid 8, trailer pid/tid 7/8, time 42. */
	u = PERF_RECORD_ITRACE_START;
	memcpy(b + data, &u, 4);
	u = 32 << 16;
	memcpy(b + data + 4, &u, 4);
	u = 7;
	memcpy(b + data + 8, &u, 4);
	memcpy(b + data + 16, &u, 4);
	u = 8;
	memcpy(b + data + 12, &u, 4);
	memcpy(b + data + 20, &u, 4);
	put64(b + data + 24, 42);
	return data + 32;
}

static char warned[512];

static int capture_warn(enum sa_log_level level, const char *fmt, va_list ap)
{
	return vsnprintf(warned, sizeof(warned), fmt, ap);
}

START_TEST(test_attr_sizes)
{
	static const unsigned int sizes[] = { 64, 72, 80, 96, 104, 112, 120,
					      128, 136 };
	uint8_t b[512];
	unsigned int i;
	sa_print_fn old = sa_set_print(capture_warn);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned int afs = sizes[i];
		int variant;

		for (variant = 0; variant < 2; variant++) {
			/* Size 0 means the first ABI (64 bytes). */
			uint32_t field = variant && afs == 64 ? 0 : afs;
			bool c3 = variant && afs > 128;
			size_t len = build_min(b, afs, field, c3);
			struct sa_errinfo ei;
			struct sa_pd *pd;
			const struct sa_pd_attr *a;
			struct sa_pd_event ev;

			warned[0] = '\0';
			pd = sa_pd__open_mem(b, len, "min.data", &ei);
			ck_assert_msg(pd, "attr size %u: %s", afs, ei.msg);
			a = sa_pd_attr(pd, 0);
			ck_assert_uint_eq(a->file_size, field);
			ck_assert_uint_eq(a->attr.type, 6);
			ck_assert_uint_eq(a->attr.config, 0x1234);
			ck_assert(a->attr.sample_id_all);
			ck_assert_uint_eq(a->attr.sig_data, 0);
			if (afs <= 104)
				ck_assert_uint_eq(a->attr.aux_watermark, 0);
			ck_assert_uint_eq(a->nr_ids, 1);
			ck_assert_uint_eq(a->ids[0], 5);
			/* Fields past this build's struct are dropped
			 * with a warning, never silently.
			 */
			ck_assert_int_eq(strstr(warned, "newer perf ABI") !=
					 NULL, c3);
			next_ok(pd, &ev, PERF_RECORD_ITRACE_START);
			ck_assert_uint_eq(ev.itrace_start.pid, 7);
			ck_assert_uint_eq(ev.sid.tid, 8);
			ck_assert_uint_eq(ev.sid.time, 42);
			sa_pd__close(pd);
		}
	}
	sa_set_print(old);
}
END_TEST

START_TEST(test_type_names)
{
	ck_assert_str_eq(sa_pd_type_name(PERF_RECORD_MMAP2), "MMAP2");
	ck_assert_str_eq(sa_pd_type_name(SA_PD_AUXTRACE), "AUXTRACE");
	ck_assert_str_eq(sa_pd_type_name(SA_PD_FINISHED_ROUND),
			 "FINISHED_ROUND");
	ck_assert_str_eq(sa_pd_type_name(63), "UNKNOWN");
	ck_assert_str_eq(sa_pd_type_name(100000), "UNKNOWN");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("perfdata");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_sid_by_identifier);
	tcase_add_test(tc, test_writer_errors);
	tcase_add_test(tc, test_bad_header);
	tcase_add_test(tc, test_random_bytes);
	tcase_add_test(tc, test_bad_sections);
	tcase_add_test(tc, test_bad_records);
	tcase_add_test(tc, test_truncations);
	tcase_add_test(tc, test_mutations);
	tcase_add_test(tc, test_open_mem_misaligned);
	tcase_add_test(tc, test_attr_sizes);
	tcase_add_test(tc, test_type_names);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
