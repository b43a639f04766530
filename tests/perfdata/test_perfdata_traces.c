// SPDX-License-Identifier: BSD-2-Clause
/*
 * perfdata-traces: the reader against Linux perf on real silicon traces
 * (../shared/traces), and the writer against perf.  Every expected value
 * comes from `perf report -D`, `perf buildid-list`, `perf report
 * --header-only` or `perf script`, run at test time.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/perfdata.h"
#include "testutil.h"
#include "pd_perf.h"

static const char *const traces[] __attribute__((unused)) = {
	"traces/intel-pt/hase/loopy/loopy-20180404T162955.perf",
	"traces/intel-pt/hase/control_flow/control_flow-20180404T163033.perf",
	"traces/coresight/simpleperf/perf.data",
};
#define NR_TRACES (sizeof(traces) / sizeof(traces[0]))

static __attribute__((unused)) char *trace_path(const char *sub)
{
	const char *p = sa_test_shared(sub);

	ck_assert_msg(p, "%s vanished", sub);
	return strdup(p);
}

static __attribute__((unused)) uint8_t *slurp(const char *path,
						   size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert(fstat(fd, &st) == 0);
	buf = malloc(st.st_size ? st.st_size : 1);
	ck_assert(buf);
	ck_assert_int_eq(read(fd, buf, st.st_size), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

/* Compares one of our records with perf's line for the same offset. */
static void check_fields(const struct sa_pd_event *ev, const struct pp_rec *r)
{
	const char *s = r->rest;
	uint64_t a, b, c, d;
	unsigned int u1, u2, u3;
	int i1, i2, i3, i4, n = 0;
	char buf[1024];

	ck_assert_str_eq(r->name, sa_pd_type_name(ev->type));
	/* perf prints the sample's cpu and time for kernel records. */
	if (ev->sid.valid & PERF_SAMPLE_CPU)
		ck_assert_int_eq(r->cpu, (int)ev->sid.cpu);
	if (ev->sid.valid & PERF_SAMPLE_TIME)
		ck_assert_uint_eq(r->time, ev->sid.time);

	switch (ev->type) {
	case PERF_RECORD_MMAP:
		ck_assert_int_eq(sscanf(s, " %d/%d: [%" SCNx64 "(%" SCNx64
					") @ %" SCNx64 "]: %*c %n",
					&i1, &i2, &a, &b, &c, &n), 5);
		ck_assert_int_eq(i1, (int)ev->mmap.pid);
		ck_assert_int_eq(i2, (int)ev->mmap.tid);
		ck_assert_uint_eq(a, ev->mmap.start);
		ck_assert_uint_eq(b, ev->mmap.len);
		ck_assert_uint_eq(c, ev->mmap.pgoff);
		ck_assert_str_eq(s + n, ev->mmap.filename);
		break;
	case PERF_RECORD_MMAP2:
		if (ev->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
			char hex[64], want[64];
			unsigned int k;

			ck_assert_int_eq(sscanf(s, " %d/%d: [%" SCNx64 "(%"
						SCNx64 ") @ %" SCNx64
						" <%63[0-9a-f]>]: %4s %n",
						&i1, &i2, &a, &b, &c, hex,
						buf, &n), 7);
			for (k = 0; k < ev->mmap.build_id_size; k++)
				snprintf(want + 2 * k, 3, "%02x",
					 ev->mmap.build_id[k]);
			want[2 * k] = '\0';
			ck_assert_str_eq(hex, want);
		} else {
			ck_assert_int_eq(sscanf(s, " %d/%d: [%" SCNx64 "(%"
						SCNx64 ") @ %" SCNx64 " %x:%x %"
						SCNu64 " %" SCNu64 "]: %4s %n",
						&i1, &i2, &a, &b, &c, &u1, &u2,
						&d, &d, buf, &n), 10);
			ck_assert_uint_eq(u1, ev->mmap.maj);
			ck_assert_uint_eq(u2, ev->mmap.min);
		}
		ck_assert_int_eq(i1, (int)ev->mmap.pid);
		ck_assert_int_eq(i2, (int)ev->mmap.tid);
		ck_assert_uint_eq(a, ev->mmap.start);
		ck_assert_uint_eq(b, ev->mmap.len);
		ck_assert_uint_eq(c, ev->mmap.pgoff);
		ck_assert_str_eq(s + n, ev->mmap.filename);
		ck_assert_int_eq(buf[0] == 'r', !!(ev->mmap.prot & 1));
		ck_assert_int_eq(buf[1] == 'w', !!(ev->mmap.prot & 2));
		ck_assert_int_eq(buf[2] == 'x', !!(ev->mmap.prot & 4));
		break;
	case PERF_RECORD_COMM: {
		const char *colon;

		ck_assert_int_eq(!strncmp(s, " exec", 5), ev->comm.exec);
		s = strstr(s, ": ");
		ck_assert_ptr_nonnull(s);
		s += 2;
		colon = strrchr(s, ':');
		ck_assert_ptr_nonnull(colon);
		ck_assert_int_eq(sscanf(colon, ":%d/%d", &i1, &i2), 2);
		ck_assert_int_eq(i1, (int)ev->comm.pid);
		ck_assert_int_eq(i2, (int)ev->comm.tid);
		snprintf(buf, sizeof(buf), "%.*s", (int)(colon - s), s);
		ck_assert_str_eq(buf, ev->comm.comm);
		break;
	}
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		ck_assert_int_eq(sscanf(s, "(%d:%d):(%d:%d)", &i1, &i2, &i3,
					&i4), 4);
		ck_assert_int_eq(i1, (int)ev->fork.pid);
		ck_assert_int_eq(i2, (int)ev->fork.tid);
		ck_assert_int_eq(i3, (int)ev->fork.ppid);
		ck_assert_int_eq(i4, (int)ev->fork.ptid);
		break;
	case PERF_RECORD_AUX:
		ck_assert_int_eq(sscanf(s, " offset: %" SCNx64 " size: %"
					SCNx64 " flags: %" SCNx64, &a, &b,
					&c), 3);
		ck_assert_uint_eq(a, ev->aux.aux_offset);
		ck_assert_uint_eq(b, ev->aux.aux_size);
		ck_assert_uint_eq(c, ev->aux.flags);
		break;
	case PERF_RECORD_LOST:
		/* perf 6.x prints the id too; older perf only the count. */
		if (sscanf(s, ": id:%" SCNu64 ": lost:%" SCNu64, &a, &b) == 2)
			ck_assert_uint_eq(a, ev->lost.id);
		else
			ck_assert_int_eq(sscanf(s, " lost %" SCNu64, &b), 1);
		ck_assert_uint_eq(b, ev->lost.lost);
		break;
	case PERF_RECORD_ITRACE_START:
		ck_assert_int_eq(sscanf(s, " pid: %u tid: %u", &u1, &u2), 2);
		ck_assert_uint_eq(u1, ev->itrace_start.pid);
		ck_assert_uint_eq(u2, ev->itrace_start.tid);
		break;
	case PERF_RECORD_AUX_OUTPUT_HW_ID:
		ck_assert_int_eq(sscanf(s, " hw_id: %" SCNx64, &a), 1);
		ck_assert_uint_eq(a, ev->aux_output_hw_id.hw_id);
		break;
	case PERF_RECORD_SWITCH:
	case PERF_RECORD_SWITCH_CPU_WIDE:
		ck_assert_int_eq(!strncmp(s, " OUT", 4), ev->sw.out);
		ck_assert_int_eq(strstr(s, "preempt") != NULL, ev->sw.preempt);
		if (ev->type == PERF_RECORD_SWITCH)
			break;
		s = strstr(s, "pid/tid:");
		ck_assert_ptr_nonnull(s);
		ck_assert_int_eq(sscanf(s, "pid/tid: %d/%d", &i1, &i2), 2);
		ck_assert_int_eq(i1, (int)ev->sw.next_prev_pid);
		ck_assert_int_eq(i2, (int)ev->sw.next_prev_tid);
		break;
	case SA_PD_AUXTRACE_INFO:
		ck_assert_int_eq(sscanf(s, " type: %u", &u1), 1);
		ck_assert_uint_eq(u1, ev->auxtrace_info.type);
		break;
	case SA_PD_AUXTRACE:
		ck_assert_int_eq(sscanf(s, " size: %" SCNx64 " offset: %"
					SCNx64 " ref: %" SCNx64 " idx: %u "
					"tid: %d cpu: %u", &a, &b, &c, &u1,
					&i1, &u3), 6);
		ck_assert_uint_eq(a, ev->auxtrace.size);
		ck_assert_uint_eq(b, ev->auxtrace.offset);
		ck_assert_uint_eq(c, ev->auxtrace.reference);
		ck_assert_uint_eq(u1, ev->auxtrace.idx);
		ck_assert_int_eq(i1, (int)ev->auxtrace.tid);
		ck_assert_uint_eq(u3, ev->auxtrace.cpu);
		ck_assert_uint_eq(ev->auxtrace.data_file_offset,
				  ev->file_offset + ev->size);
		break;
	case SA_PD_TIME_CONV:
		ck_assert_uint_eq(r->tc[0], ev->time_conv.time_shift);
		ck_assert_uint_eq(r->tc[1], ev->time_conv.time_mult);
		ck_assert_uint_eq(r->tc[2], ev->time_conv.time_zero);
		break;
	default:
		break;
	}
}

/* Every record perf reads from the file, with its fields, in ours. */
static void compare_records(struct sa_pd *pd, const char *path)
{
	struct pp_dump d;
	struct sa_pd_event ev;
	struct sa_errinfo ei;
	unsigned int perf_count[128] = { 0 }, our_count[128] = { 0 };
	size_t i, n = 0;
	int r;

	pp_dump_file(path, &d);
	ck_assert_msg(d.nr > 0, "perf report -D printed no records for %s",
		      path);
	while ((r = sa_pd_next(pd, &ev, &ei)) > 0) {
		struct pp_rec *pr = pp_find(&d, ev.file_offset);

		ck_assert_msg(pr, "%s: record at %#" PRIx64 " (%s) is not in "
			      "perf's dump", path, ev.file_offset,
			      sa_pd_type_name(ev.type));
		ck_assert_uint_eq(pr->type, ev.type);
		ck_assert_uint_eq(pr->size, ev.size);
		if (pr->name[0])
			check_fields(&ev, pr);
		if (ev.type < 128)
			our_count[ev.type]++;
		n++;
	}
	ck_assert_msg(r == 0, "%s: %s", path, ei.msg);
	for (i = 0; i < d.nr; i++)
		if (d.recs[i].type < 128)
			perf_count[d.recs[i].type]++;
	for (i = 0; i < 128; i++)
		ck_assert_msg(perf_count[i] == our_count[i],
			      "%s: %s: perf %u, ours %u", path,
			      sa_pd_type_name(i), perf_count[i], our_count[i]);
	ck_assert_uint_eq(n, d.nr);

	/* Each index entry names an AUXTRACE record that perf read. */
	for (i = 0; i < sa_pd_nr_auxtrace_index(pd); i++) {
		const struct sa_pd_auxtrace_index_entry *e =
			sa_pd_auxtrace_index(pd, i);
		struct pp_rec *pr = pp_find(&d, e->file_offset);

		ck_assert_ptr_nonnull(pr);
		ck_assert_str_eq(pr->name, "AUXTRACE");
		/* perf and simpleperf index the record's header size. */
		ck_assert_uint_eq(e->size, pr->size);
	}
	pp_dump_free(&d);
}

/* Does `perf buildid-list` output @out hold @hex for @name?  perf pads
 * short build-ids with spaces ("%-40s %s").
 */
static __attribute__((unused)) bool buildid_listed(const char *out,
						   const char *hex,
						   const char *name)
{
	const char *p, *next;

	for (p = out; p && *p; p = next) {
		char id[128];
		int n = 0;
		size_t len;

		next = strchr(p, '\n');
		len = next ? (size_t)(next - p) : strlen(p);
		if (next)
			next++;
		if (sscanf(p, "%127s %n", id, &n) != 1 || !n)
			continue;
		if (!strcmp(id, hex) && len - n == strlen(name) &&
		    !strncmp(p + n, name, len - n))
			return true;
	}
	return false;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The sample_id_all pid/tid of the sideband records, as `perf script
 * --show-*-events -F pid,tid,cpu,time` prints them ("%5d/%-5d [%03d]
 * %5lu.%06lu: PERF_RECORD_..."); perf report -D shows only cpu and time.
 */
static __attribute__((unused)) void compare_sideband_ids(struct sa_pd *pd,
							  const char *path)
{
	struct sa_pd_event ev;
	struct sa_errinfo ei;
	char *cmd, *out, want[256];
	int r, n = 0;

	ck_assert_int_ge(asprintf(&cmd, "perf script -i '%s' -F pid,tid,cpu,"
				  "time --show-task-events --show-mmap-events "
				  "--show-switch-events --no-itrace 2>/dev/null",
				  path), 0);
	out = pp_run(cmd);
	free(cmd);
	sa_pd_rewind(pd);
	while ((r = sa_pd_next(pd, &ev, &ei)) > 0) {
		uint32_t need = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
				PERF_SAMPLE_CPU;

		switch (ev.type) {
		case PERF_RECORD_MMAP:
		case PERF_RECORD_MMAP2:
		case PERF_RECORD_COMM:
		case PERF_RECORD_FORK:
		case PERF_RECORD_EXIT:
		case PERF_RECORD_SWITCH:
		case PERF_RECORD_SWITCH_CPU_WIDE:
			break;
		default:
			continue;
		}
		if ((ev.sid.valid & need) != need)
			continue;
		snprintf(want, sizeof(want), "%d/%-5d [%03u] %5" PRIu64
			 ".%06" PRIu64 ": PERF_RECORD_%s", (int)ev.sid.pid,
			 (int)ev.sid.tid, ev.sid.cpu, ev.sid.time / 1000000000,
			 ev.sid.time % 1000000000 / 1000,
			 sa_pd_type_name(ev.type));
		ck_assert_msg(strstr(out, want), "%s: record at %#" PRIx64
			      ": perf script has no '%s'", path,
			      ev.file_offset, want);
		n++;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_int_gt(n, 0);
	sa_pd_rewind(pd);
	free(out);
}

static __attribute__((unused)) void compare_build_ids(struct sa_pd *pd,
						       const char *path)
{
	char cmd[4200], *out, *p, *next;
	size_t i, nperf;

	snprintf(cmd, sizeof(cmd), "perf buildid-list -i '%s' 2>/dev/null",
		 path);
	out = pp_run(cmd);
	nperf = count_lines(out);
	/* Every build-id perf lists is one of ours... */
	for (p = out; p && *p; p = next) {
		char id[128], want[4200];
		bool found = false;
		int n = 0;

		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		ck_assert_int_eq(sscanf(p, "%127s %n", id, &n), 1);
		for (i = 0; i < sa_pd_nr_build_ids(pd) && !found; i++) {
			const struct sa_pd_build_id *b = sa_pd_build_id(pd, i);
			size_t k, o = 0;

			for (k = 0; k < b->size; k++)
				o += snprintf(want + o, sizeof(want) - o,
					      "%02x", b->id[k]);
			found = !strcmp(want, id) &&
				!strcmp(b->filename, p + n);
		}
		ck_assert_msg(found, "%s: perf lists build-id '%s', we do not",
			      path, p);
	}
	/* ...and perf lists each DSO once where we list each record. */
	ck_assert_uint_ge(sa_pd_nr_build_ids(pd), nperf);
	free(out);
}

static void compare_header(struct sa_pd *pd, const char *path)
{
	char *cmd, *hdr, *v;
	size_t i;

	ck_assert_int_ge(asprintf(&cmd, "perf report --header-only -i '%s' "
				  "2>/dev/null", path), 0);
	hdr = pp_run(cmd);
	free(cmd);
	v = pp_header_value(hdr, "cpuid");
	if (v)
		ck_assert_str_eq(v, sa_pd_cpuid(pd));
	else
		ck_assert_ptr_null(sa_pd_cpuid(pd));
	free(v);
	v = pp_header_value(hdr, "arch");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, sa_pd_arch(pd));
	free(v);
	v = pp_header_value(hdr, "cmdline");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, sa_pd_cmdline(pd));
	free(v);
	v = pp_header_value(hdr, "data size");
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(strtoull(v, NULL, 10), sa_pd_data_size(pd));
	free(v);
	/* "# event : name = intel_pt//u, , id = { 153, ... }, type = 6, ..." */
	for (i = 0; i < sa_pd_nr_attrs(pd); i++) {
		const struct sa_pd_attr *a = sa_pd_attr(pd, i);
		char want[256];

		if (!a->name)
			continue;
		snprintf(want, sizeof(want), "# event : name = %s, , id = { %"
			 PRIu64 ",", a->name, a->ids[0]);
		ck_assert_msg(strstr(hdr, want), "%s: no '%s' in perf's header",
			      path, want);
		snprintf(want, sizeof(want), "}, type = %u, size = %u, "
			 "config = %#llx,", a->attr.type, a->file_size,
			 (unsigned long long)a->attr.config);
		ck_assert_msg(strstr(hdr, want), "%s: no '%s' in perf's header",
			      path, want);
	}
	free(hdr);
}

#ifndef PD_WRITER_ONLY
START_TEST(test_trace_vs_perf)
{
	char *path;
	struct sa_errinfo ei;
	struct sa_pd *pd;

	path = trace_path(traces[_i]);
	pd = sa_pd__open(path, &ei);
	ck_assert_msg(pd, "%s", ei.msg);
	compare_records(pd, path);
	compare_sideband_ids(pd, path);
	compare_build_ids(pd, path);
	ck_assert_uint_gt(sa_pd_nr_build_ids(pd), 0);
	compare_header(pd, path);
	sa_pd__close(pd);
	free(path);
}
END_TEST

/* Every strict prefix of a real file is refused with a message naming
 * the file and what is wrong; none crashes (the suite runs under ASan).
 */
START_TEST(test_trace_truncations)
{
	char *path = trace_path(traces[_i]);
	size_t len, cut;
	uint8_t *buf = slurp(path, &len);

	for (cut = 0; cut < len; cut++) {
		struct sa_errinfo ei;
		struct sa_pd *pd = sa_pd__open_mem(buf, cut, "cut.data", &ei);

		ck_assert_msg(!pd, "prefix of %zu bytes was accepted", cut);
		ck_assert_int_lt(ei.code, 0);
		ck_assert_msg(!strncmp(ei.msg, "cut.data: ", 10),
			      "message does not name the input: %s", ei.msg);
		if (cut >= 8)
			ck_assert_msg(strstr(ei.msg, "past the end") ||
				      strstr(ei.msg, "ends inside"),
				      "cut %zu: %s", cut, ei.msg);
	}
	free(buf);
	free(path);
}
END_TEST

/*
 * Writer: rewrite a real Intel PT file with our typed writers and check
 * that perf decodes it exactly as it decodes the original.
 */

static void rewrite(const char *src, const char *dst)
{
	struct sa_errinfo ei;
	struct sa_pd *pd = sa_pd__open(src, &ei);
	struct sa_pd_writer *w;
	struct sa_pd_event ev;
	size_t len, i;
	uint8_t *raw = slurp(src, &len);
	char *argv[64], *cmd;
	int argc = 0, r;

	ck_assert_msg(pd, "%s", ei.msg);
	w = sa_pd_writer__new(dst, &ei);
	ck_assert_msg(w, "%s", ei.msg);
	for (i = 0; i < sa_pd_nr_attrs(pd); i++) {
		const struct sa_pd_attr *a = sa_pd_attr(pd, i);

		ck_assert_int_eq(sa_pd_writer_add_attr(w, &a->attr, a->ids,
						       a->nr_ids, a->name), 0);
	}
	while ((r = sa_pd_next(pd, &ev, &ei)) > 0) {
		int err;

		switch (ev.type) {
		case PERF_RECORD_MMAP2:
			err = sa_pd_writer_mmap2(w, ev.mmap.pid, ev.mmap.tid,
						 ev.mmap.start, ev.mmap.len,
						 ev.mmap.pgoff, ev.mmap.prot,
						 ev.mmap.flags,
						 ev.mmap.filename, &ev.sid);
			break;
		case PERF_RECORD_COMM:
			err = sa_pd_writer_comm(w, ev.comm.pid, ev.comm.tid,
						ev.comm.comm, ev.comm.exec,
						&ev.sid);
			break;
		case PERF_RECORD_FORK:
		case PERF_RECORD_EXIT:
			err = sa_pd_writer_fork(w, ev.type == PERF_RECORD_EXIT,
						ev.fork.pid, ev.fork.ppid,
						ev.fork.tid, ev.fork.ptid,
						ev.fork.time, &ev.sid);
			break;
		case PERF_RECORD_ITRACE_START:
			err = sa_pd_writer_itrace_start(w, ev.itrace_start.pid,
							ev.itrace_start.tid,
							&ev.sid);
			break;
		case PERF_RECORD_AUX:
			err = sa_pd_writer_aux(w, ev.aux.aux_offset,
					       ev.aux.aux_size, ev.aux.flags,
					       &ev.sid);
			break;
		case PERF_RECORD_LOST:
			err = sa_pd_writer_lost(w, ev.lost.id, ev.lost.lost,
						&ev.sid);
			break;
		case SA_PD_AUXTRACE_INFO:
			err = sa_pd_writer_auxtrace_info(w,
				ev.auxtrace_info.type, ev.auxtrace_info.priv,
				ev.auxtrace_info.nr_priv);
			break;
		case SA_PD_AUXTRACE:
			err = sa_pd_writer_auxtrace(w, ev.auxtrace.data,
				ev.auxtrace.size, ev.auxtrace.offset,
				ev.auxtrace.reference, ev.auxtrace.idx,
				ev.auxtrace.tid, ev.auxtrace.cpu);
			break;
		case SA_PD_FINISHED_ROUND:
			err = sa_pd_writer_finished_round(w);
			break;
		default:
			err = sa_pd_writer_raw(w, raw + ev.file_offset,
					       ev.size);
			break;
		}
		ck_assert_int_eq(err, 0);
	}
	ck_assert_msg(r == 0, "%s", ei.msg);
	for (i = 0; i < sa_pd_nr_build_ids(pd); i++) {
		const struct sa_pd_build_id *b = sa_pd_build_id(pd, i);

		ck_assert_int_eq(sa_pd_writer_add_build_id(w, b->pid, b->misc,
			b->id, b->size, b->filename), 0);
	}
	cmd = strdup(sa_pd_cmdline(pd));
	for (char *p = cmd, *sp; p && argc < 64; p = sp) {
		sp = strchr(p, ' ');
		if (sp)
			*sp++ = '\0';
		argv[argc++] = p;
	}
	ck_assert_int_eq(sa_pd_writer_set_cmdline(w, argc, argv), 0);
	ck_assert_int_eq(sa_pd_writer_set_cpuid(w, sa_pd_cpuid(pd)), 0);
	ck_assert_int_eq(sa_pd_writer_set_arch(w, sa_pd_arch(pd)), 0);
	ck_assert_int_eq(sa_pd_writer_set_hostname(w, "sa-host"), 0);
	ck_assert_int_eq(sa_pd_writer_set_osrelease(w, "4.15.12-sa"), 0);
	ck_assert_int_eq(sa_pd_writer_set_nr_cpus(w, 4, 3), 0);
	ck_assert_int_eq(sa_pd_writer_close(w, &ei), 0);
	free(cmd);
	free(raw);
	sa_pd__close(pd);
}

static char *perf_branches(const char *file, const char *symfs)
{
	char cmd[8600];

	snprintf(cmd, sizeof(cmd), "perf script -i '%s' --symfs='%s' "
		 "--itrace=be -F ip,addr,sym,flags 2>/dev/null", file, symfs);
	return pp_run(cmd);
}

START_TEST(test_writer_rewrite_intel_pt)
{
	const char *dir = sa_test_tmpdir();
	char *src = trace_path(traces[0]);
	char *bin = trace_path("traces/intel-pt/hase/loopy/loopy");
	char dst[4200], symfs[4200], link[16384], *a, *b, *hdr, *v;
	struct pp_dump d0, d1;
	size_t i, lines = 0;

	snprintf(dst, sizeof(dst), "%s/loopy-rewritten.perf", dir);
	rewrite(src, dst);

	/* perf finds the binary under its recorded path in --symfs. */
	snprintf(symfs, sizeof(symfs), "%s/symfs", dir);
	snprintf(link, sizeof(link), "mkdir -p '%s/home/joerg/git/angr/hase/"
		 "tests/bin/loopy' && ln -sf '%s' '%s/home/joerg/git/angr/"
		 "hase/tests/bin/loopy/loopy'", symfs, bin, symfs);
	ck_assert_int_eq(system(link), 0);
	a = perf_branches(src, symfs);
	b = perf_branches(dst, symfs);
	for (i = 0; a[i]; i++)
		lines += a[i] == '\n';
	ck_assert_msg(lines >= 15, "perf decoded only %zu branches", lines);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);

	/* perf reads every record with the values we wrote: the same as it
	 * reads from the original, except MMAP2 maj/min/ino (not in the
	 * writer's API), in the same order.
	 */
	pp_dump_file(src, &d0);
	pp_dump_file(dst, &d1);
	ck_assert_uint_eq(d0.nr, d1.nr);
	for (i = 0; i < d0.nr; i++) {
		struct pp_rec *x = &d0.recs[i], *y = &d1.recs[i];

		ck_assert_uint_eq(x->type, y->type);
		ck_assert_uint_eq(x->size, y->size);
		ck_assert_str_eq(x->name, y->name);
		ck_assert_int_eq(x->cpu, y->cpu);
		ck_assert_uint_eq(x->time, y->time);
		if (strcmp(x->name, "MMAP2"))
			ck_assert_str_eq(x->rest, y->rest);
		else
			ck_assert_str_eq(strstr(x->rest, "]: "),
					 strstr(y->rest, "]: "));
	}
	pp_dump_free(&d0);
	pp_dump_free(&d1);

	snprintf(link, sizeof(link), "perf report --header-only -i '%s' "
		 "2>/dev/null", dst);
	hdr = pp_run(link);
	v = pp_header_value(hdr, "hostname");
	ck_assert_str_eq(v ? v : "", "sa-host");
	free(v);
	v = pp_header_value(hdr, "os release");
	ck_assert_str_eq(v ? v : "", "4.15.12-sa");
	free(v);
	v = pp_header_value(hdr, "nrcpus online");
	ck_assert_str_eq(v ? v : "", "3");
	free(v);
	v = pp_header_value(hdr, "nrcpus avail");
	ck_assert_str_eq(v ? v : "", "4");
	free(v);
	v = pp_header_value(hdr, "cpuid");
	ck_assert_str_eq(v ? v : "", "GenuineIntel,6,94,3");
	free(v);
	ck_assert_ptr_nonnull(strstr(hdr, "# event : name = intel_pt//u, "));
	ck_assert_ptr_nonnull(strstr(hdr, "contains AUX area data"));
	free(hdr);

	/* And our reader reads back what perf reads. */
	{
		struct sa_errinfo ei;
		struct sa_pd *pd = sa_pd__open(dst, &ei);

		ck_assert_msg(pd, "%s", ei.msg);
		compare_records(pd, dst);
		compare_sideband_ids(pd, dst);
		compare_build_ids(pd, dst);
		compare_header(pd, dst);
		ck_assert_uint_eq(sa_pd_nr_auxtrace_index(pd), 1);
		sa_pd__close(pd);
	}
	free(src);
	free(bin);
}
END_TEST

#else /* PD_WRITER_ONLY */

/* A file built from scratch with every typed writer; perf must print
 * exactly the values we passed.
 */
START_TEST(test_writer_synthetic_vs_perf)
{
	const char *dir = sa_test_tmpdir();
	char path[4200], cmd[4400], want[512], *out, *v;
	struct perf_event_attr attr = { 0 };
	uint64_t pt_ids[2] = { 901, 902 }, ids[2] = { 903, 904 };
	/* perf 4.15's values from the hase trace, with our PMU type and
	 * no sched_switch.  cap_user_time_zero must be 1: otherwise perf
	 * decodes timelessly and `perf script` (which prints time) fails
	 * on the AUXTRACE_INFO with EINVAL.
	 */
	const uint64_t pt_priv[SA_PD_INTEL_PT_AUXTRACE_PRIV_MAX] = {
		8, 31, 672770566, 18446744061102431664ULL, 1, 0x400, 0x800,
		0, 0, 1, 0x200, 0x3c000, 266, 2, 0x2, 32, 0 };
	struct sa_pd_sample_id sid = { 0 };
	struct sa_pd_writer *w;
	struct sa_errinfo ei;
	struct sa_pd *pd;
	static const uint8_t payload[13] = { 0 };	/* PT PAD packets */
	uint8_t bid[20];
	char *argv[] = { "sensor-agent", "record", "--emulate", "--", "ls" };
	unsigned int k;

	snprintf(path, sizeof(path), "%s/synthetic.perf", dir);
	/* As perf record -e intel_pt//u lays it out: the PT event, then a
	 * dummy event for the sideband.
	 */
	attr.type = 8;
	attr.config = 0x300e601;
	attr.sample_period = 1;
	attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			   PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			   PERF_SAMPLE_IDENTIFIER;
	attr.sample_id_all = 1;
	attr.exclude_kernel = 1;
	w = sa_pd_writer__new(path, &ei);
	ck_assert_msg(w, "%s", ei.msg);
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &attr, pt_ids, 2,
					       "intel_pt//u"), 0);
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_DUMMY;
	attr.sample_period = 1;
	attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			   PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			   PERF_SAMPLE_IDENTIFIER;
	attr.sample_id_all = 1;
	attr.exclude_kernel = 1;
	attr.mmap = attr.comm = attr.task = attr.mmap2 = 1;
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &attr, ids, 2, "dummy:u"),
			 0);
	ck_assert_int_eq(sa_pd_writer_auxtrace_info(w,
		SA_PD_AUXTRACE_INTEL_PT, pt_priv,
		SA_PD_INTEL_PT_AUXTRACE_PRIV_MAX), 0);
	sid.pid = 4242;
	sid.tid = 4243;
	sid.cpu = 3;
	sid.id = 903;
	sid.time = 1000;
	ck_assert_int_eq(sa_pd_writer_comm(w, 4242, 4243, "workload", true,
					   &sid), 0);
	sid.time++;
	ck_assert_int_eq(sa_pd_writer_mmap2(w, 4242, 4243, 0x555555554000ULL,
					    0x3000, 0x1000, 5, 2,
					    "/usr/bin/workload", &sid), 0);
	sid.time++;
	ck_assert_int_eq(sa_pd_writer_fork(w, false, 4242, 4242, 4244, 4243,
					   1002, &sid), 0);
	sid.time++;
	ck_assert_int_eq(sa_pd_writer_itrace_start(w, 4242, 4243, &sid), 0);
	for (k = 0; k < 16; k++) {
		sid.time++;
		ck_assert_int_eq(sa_pd_writer_aux(w, k * 0x100, 0x100, k,
						  &sid), 0);
	}
	sid.time++;
	ck_assert_int_eq(sa_pd_writer_lost(w, 903, 77, &sid), 0);
	ck_assert_int_eq(sa_pd_writer_auxtrace(w, payload, sizeof(payload),
					       0x40, 0xabcdef, 0, 4243, 3), 0);
	ck_assert_int_eq(sa_pd_writer_finished_round(w), 0);
	/* Records without a typed writer go in raw: a SWITCH (out,
	 * preempted) with its trailer, and an AUXTRACE_ERROR.
	 */
	{
		uint32_t sw[10] = { PERF_RECORD_SWITCH,
				    (40u << 16) |
				    PERF_RECORD_MISC_SWITCH_OUT |
				    PERF_RECORD_MISC_SWITCH_OUT_PREEMPT,
				    4242, 4243, 1030, 0, 3, 0, 903, 0 };
		uint8_t er[104] = { 0 };
		uint32_t f[6] = { 1, 5, 3, 4242, 4243, 0 };
		uint64_t ip = 0x401000;

		ck_assert_int_eq(sa_pd_writer_raw(w, sw, sizeof(sw)), 0);
		f[0] = SA_PD_AUXTRACE_ERROR;
		memcpy(er, f, 4);
		er[6] = sizeof(er);
		f[0] = 1;
		memcpy(er + 8, f, sizeof(f));
		memcpy(er + 32, &ip, 8);
		memcpy(er + 40, "Lost trace data", 16);
		ck_assert_int_eq(sa_pd_writer_raw(w, er, sizeof(er)), 0);
	}
	sid.time++;
	ck_assert_int_eq(sa_pd_writer_fork(w, true, 4242, 4242, 4243, 4243,
					   2000, &sid), 0);
	for (k = 0; k < 20; k++)
		bid[k] = 0xa0 + k;
	ck_assert_int_eq(sa_pd_writer_add_build_id(w, 4242,
						   PERF_RECORD_MISC_USER,
						   bid, 20,
						   "/usr/bin/workload"), 0);
	ck_assert_int_eq(sa_pd_writer_add_build_id(w, -1,
						   PERF_RECORD_MISC_KERNEL,
						   bid, 16,
						   "[kernel.kallsyms]"), 0);
	ck_assert_int_eq(sa_pd_writer_set_cmdline(w, 5, argv), 0);
	ck_assert_int_eq(sa_pd_writer_set_cpuid(w, "GenuineIntel,6,94,3"), 0);
	ck_assert_int_eq(sa_pd_writer_set_arch(w, "x86_64"), 0);
	ck_assert_int_eq(sa_pd_writer_set_hostname(w, "h1"), 0);
	ck_assert_int_eq(sa_pd_writer_set_osrelease(w, "6.1.0"), 0);
	ck_assert_int_eq(sa_pd_writer_set_nr_cpus(w, 8, 8), 0);
	ck_assert_int_eq(sa_pd_writer_close(w, &ei), 0);

	/* perf -D: each record's values as written.  compare_records()
	 * checks our reader against perf; here perf against the input.
	 */
	snprintf(cmd, sizeof(cmd), "perf report -D -i '%s' 2>&1", path);
	out = pp_run(cmd);
	ck_assert_ptr_nonnull(strstr(out, "3 1000 0x"));
	ck_assert_ptr_nonnull(strstr(out, "PERF_RECORD_COMM exec: "
				     "workload:4242/4243"));
	ck_assert_ptr_nonnull(strstr(out, "PERF_RECORD_MMAP2 4242/4243: "
				     "[0x555555554000(0x3000) @ 0x1000 00:00 "
				     "0 0]: r-xp /usr/bin/workload"));
	ck_assert_ptr_nonnull(strstr(out, "PERF_RECORD_FORK(4242:4244):"
				     "(4242:4243)"));
	ck_assert_ptr_nonnull(strstr(out, "PERF_RECORD_ITRACE_START pid: "
				     "4242 tid: 4243"));
	for (k = 0; k < 16; k++) {
		snprintf(want, sizeof(want), "PERF_RECORD_AUX offset: %#x "
			 "size: 0x100 flags: %#x [%s%s%s", k * 0x100, k,
			 k & 1 ? "T" : "", k & 2 ? "O" : "", k & 4 ? "P" : "");
		ck_assert_msg(strstr(out, want), "no '%s'", want);
	}
	ck_assert_ptr_nonnull(strstr(out, "PERF_RECORD_LOST: id:903: lost:77"));
	ck_assert_ptr_nonnull(strstr(out, "PERF_RECORD_AUXTRACE size: 0x10  "
				     "offset: 0x40  ref: 0xabcdef  idx: 0  "
				     "tid: 4243  cpu: 3"));
	ck_assert_ptr_nonnull(strstr(out, "PERF_RECORD_EXIT(4242:4243):"
				     "(4242:4243)"));
	ck_assert_ptr_nonnull(strstr(out, "FINISHED_ROUND"));
	ck_assert_ptr_null(strstr(out, "Failed"));
	ck_assert_ptr_null(strstr(out, "Invalid"));
	free(out);

	/* perf script shows the sideband with the sample ids we wrote. */
	snprintf(cmd, sizeof(cmd), "perf script -i '%s' --show-mmap-events "
		 "--show-task-events 2>&1", path);
	out = pp_run(cmd);
	ck_assert_msg(strstr(out, "workload  4243 [003]     0.000001: "
			     "PERF_RECORD_COMM exec: workload:4242/4243"),
		      "%s", out);
	ck_assert_msg(strstr(out, "PERF_RECORD_MMAP2 4242/4243: "
			     "[0x555555554000(0x3000) @ 0x1000 00:00 0 0]: "
			     "r-xp /usr/bin/workload"), "%s", out);
	ck_assert_msg(strstr(out, "PERF_RECORD_EXIT(4242:4243):(4242:4243)"),
		      "%s", out);
	ck_assert_msg(strstr(out, "instruction trace error type 1 time 0 "
			     "cpu 3 pid 4242 tid 4243 ip 0x401000 code 5: "
			     "Lost trace data"), "%s", out);
	free(out);

	snprintf(cmd, sizeof(cmd), "perf buildid-list -i '%s' 2>&1", path);
	out = pp_run(cmd);
	ck_assert_msg(buildid_listed(out, "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
				     "b0b1b2b3", "/usr/bin/workload"),
		      "%s", out);
	ck_assert_msg(buildid_listed(out, "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
				     "[kernel.kallsyms]"), "%s", out);
	ck_assert_uint_eq(count_lines(out), 2);
	free(out);

	snprintf(cmd, sizeof(cmd), "perf report --header-only -i '%s' 2>&1",
		 path);
	out = pp_run(cmd);
	v = pp_header_value(out, "hostname");
	ck_assert_str_eq(v ? v : "", "h1");
	free(v);
	v = pp_header_value(out, "os release");
	ck_assert_str_eq(v ? v : "", "6.1.0");
	free(v);
	v = pp_header_value(out, "arch");
	ck_assert_str_eq(v ? v : "", "x86_64");
	free(v);
	v = pp_header_value(out, "cmdline");
	ck_assert_str_eq(v ? v : "", "sensor-agent record --emulate -- ls");
	free(v);
	ck_assert_msg(strstr(out, "# event : name = dummy:u, , id = { 903, "
			     "904 }, type = 1, size = 128,"), "%s", out);
	free(out);

	pd = sa_pd__open(path, &ei);
	ck_assert_msg(pd, "%s", ei.msg);
	compare_records(pd, path);
	compare_header(pd, path);
	ck_assert_uint_eq(sa_pd_nr_build_ids(pd), 2);
	ck_assert_uint_eq(sa_pd_build_id(pd, 1)->size, 16);
	/* perf -D does not print AUXTRACE_ERROR fields; perf script's
	 * line above shows what perf read, here is what we read.
	 */
	sa_pd_rewind(pd);
	{
		struct sa_pd_event ev;
		int r, seen = 0;

		while ((r = sa_pd_next(pd, &ev, &ei)) > 0) {
			if (ev.type != SA_PD_AUXTRACE_ERROR)
				continue;
			ck_assert_uint_eq(ev.auxtrace_error.type, 1);
			ck_assert_uint_eq(ev.auxtrace_error.code, 5);
			ck_assert_uint_eq(ev.auxtrace_error.cpu, 3);
			ck_assert_uint_eq(ev.auxtrace_error.pid, 4242);
			ck_assert_uint_eq(ev.auxtrace_error.tid, 4243);
			ck_assert_uint_eq(ev.auxtrace_error.ip, 0x401000);
			ck_assert_str_eq(ev.auxtrace_error.msg,
					 "Lost trace data");
			seen++;
		}
		ck_assert_int_eq(r, 0);
		ck_assert_int_eq(seen, 1);
	}
	sa_pd__close(pd);
}
END_TEST

/* PERF_RECORD_AUX_OUTPUT_HW_ID (perf 6.x cs_etm trace IDs).  No
 * AUXTRACE_INFO: perf's Intel PT decoder would take the records for
 * PEBS-via-PT ids, and perf 6.1 refuses cs_etm header version 2.
 */
START_TEST(test_writer_aux_output_hw_id)
{
	char path[4200], cmd[4400], *out;
	struct perf_event_attr attr = { 0 };
	uint64_t ids[1] = { 905 };
	struct sa_pd_sample_id sid = { 0 };
	struct sa_pd_writer *w;
	struct sa_errinfo ei;
	struct sa_pd *pd;

	snprintf(path, sizeof(path), "%s/hwid.perf", sa_test_tmpdir());
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_DUMMY;
	attr.sample_period = 1;
	attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			   PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			   PERF_SAMPLE_IDENTIFIER;
	attr.sample_id_all = 1;
	w = sa_pd_writer__new(path, &ei);
	ck_assert_msg(w, "%s", ei.msg);
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &attr, ids, 1, "dummy:u"),
			 0);
	sid.pid = 77;
	sid.tid = 78;
	sid.id = 905;
	sid.cpu = 3;
	sid.time = 2000;
	/* major 0, minor 1, sink 0x1234, trace ID 0x12 (per-sink IDs) */
	ck_assert_int_eq(sa_pd_writer_aux_output_hw_id(w,
			0x0100000000123412ULL, &sid), 0);
	sid.cpu = 5;
	sid.time++;
	/* major 0, minor 0, trace ID 0x14 (the first layout) */
	ck_assert_int_eq(sa_pd_writer_aux_output_hw_id(w, 0x14, &sid), 0);
	ck_assert_int_eq(sa_pd_writer_close(w, &ei), 0);

	snprintf(cmd, sizeof(cmd), "perf report -D -i '%s' 2>&1", path);
	out = pp_run(cmd);
	ck_assert_msg(strstr(out, "3 2000 0x"), "%s", out);
	ck_assert_msg(strstr(out, "PERF_RECORD_AUX_OUTPUT_HW_ID hw_id: "
			     "0x100000000123412\n"), "%s", out);
	ck_assert_msg(strstr(out, "5 2001 0x"), "%s", out);
	ck_assert_msg(strstr(out, "PERF_RECORD_AUX_OUTPUT_HW_ID hw_id: "
			     "0x14\n"), "%s", out);
	free(out);
	pd = sa_pd__open(path, &ei);
	ck_assert_msg(pd, "%s", ei.msg);
	compare_records(pd, path);
	sa_pd__close(pd);
}
END_TEST
#endif /* PD_WRITER_ONLY */

#ifdef PD_WRITER_ONLY
/* Files that this machine's perf writes now (perf 6.x layout: attr size
 * 128, ID_INDEX, THREAD_MAP, CPU_MAP, FINISHED_INIT, build-id MMAP2 with
 * --buildid-mmap), and its pipe mode, which we refuse.
 */
static const char *const record_opts[] = { "", "--buildid-mmap", "-o -" };

static bool perf_record_works(void)
{
	return system("perf record -q -e dummy:u -o /dev/null -- true "
		      ">/dev/null 2>&1") == 0;
}

START_TEST(test_perf_record_files)
{
	char *path, *cmd;
	struct sa_errinfo ei;
	struct sa_pd *pd;

	ck_assert_int_ge(asprintf(&path, "%s/rec%d.data", sa_test_tmpdir(),
				  _i), 0);
	if (_i == 2)
		ck_assert_int_ge(asprintf(&cmd, "perf record -q -e dummy:u -o "
					  "- -- /bin/true >'%s' 2>/dev/null",
					  path), 0);
	else
		ck_assert_int_ge(asprintf(&cmd, "perf record -q -e dummy:u %s "
					  "-o '%s' -- /bin/true >/dev/null "
					  "2>&1", record_opts[_i], path), 0);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	pd = sa_pd__open(path, &ei);
	if (_i == 2) {
		ck_assert_ptr_null(pd);
		ck_assert_int_eq(ei.code, -SA_ERR_UNSUPPORTED);
		ck_assert_ptr_nonnull(strstr(ei.msg, "pipe-mode"));
		free(path);
		return;
	}
	ck_assert_msg(pd, "%s", ei.msg);
	compare_records(pd, path);
	compare_build_ids(pd, path);
	compare_header(pd, path);
	ck_assert_uint_eq(sa_pd_attr(pd, 0)->file_size, 128);
	sa_pd__close(pd);
	free(path);
}
END_TEST
#endif

/*
 * Built twice: test_perfdata_perf checks the writer against perf (needs
 * only perf), test_perfdata_traces checks the reader on the real traces
 * (needs perf and ../shared/traces).  Each skips with 77 and says why.
 */
int main(void)
{
	Suite *s = suite_create("perfdata-traces");
	TCase *tc = tcase_create("perf");

	pp_require_perf();
	tcase_set_timeout(tc, 300);
#ifdef PD_WRITER_ONLY
	tcase_add_test(tc, test_writer_synthetic_vs_perf);
	tcase_add_test(tc, test_writer_aux_output_hw_id);
	if (perf_record_works())
		tcase_add_loop_test(tc, test_perf_record_files, 0, 3);
	else
		fprintf(stderr, "SKIP (part): `perf record -e dummy:u` is not "
			"permitted here (perf_event_paranoid); files written "
			"by this machine's perf are not checked\n");
#else
	sa_test_require_shared("traces/intel-pt/hase");
	sa_test_require_shared("traces/coresight/simpleperf/perf.data");
	tcase_add_loop_test(tc, test_trace_vs_perf, 0, NR_TRACES);
	tcase_add_loop_test(tc, test_trace_truncations, 0, NR_TRACES);
	tcase_add_test(tc, test_writer_rewrite_intel_pt);
#endif
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
