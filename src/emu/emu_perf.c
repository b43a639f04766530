// SPDX-License-Identifier: BSD-2-Clause
/*
 * One emulated window as perf.data, laid out like `perf record -e
 * intel_pt//u --per-thread` writes it: the intel_pt attr, AUXTRACE_INFO
 * with the Intel PT private array and the filter string, COMM and MMAP2
 * sideband, ITRACE_START, the AUXTRACE record (indexed in
 * HEADER_AUXTRACE), the AUX record, and the build-ids of the binaries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "sensor/image.h"
#include "sensor/log.h"
#include "sensor/perfdata.h"
#include "emu_rec.h"

/* Bits of the intel_pt PMU's config (its sysfs "format" directory). */
#define PT_CFG_PT (1ull << 0)
#define PT_CFG_CYC (1ull << 1)
#define PT_CFG_MTC (1ull << 9)
#define PT_CFG_TSC (1ull << 10)
#define PT_CFG_NORETCOMP (1ull << 11)
#define PT_CFG_BRANCH (1ull << 13)
#define PT_CFG_MTC_PERIOD_SHIFT 14
#define PT_CFG_CYC_THRESH_SHIFT 19
#define PT_CFG_PSB_SHIFT 24

/* The dynamic PMU type perf gives intel_pt when the machine has none. */
#define PT_PMU_TYPE_FALLBACK 8

#define EMU_SAMPLE_ID 1

static uint32_t pt_pmu_type(void)
{
	char buf[32] = "";
	unsigned long v;
	char *end;
	ssize_t n;
	int fd;

	fd = open("/sys/bus/event_source/devices/intel_pt/type",
		  O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PT_PMU_TYPE_FALLBACK;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return PT_PMU_TYPE_FALLBACK;
	v = strtoul(buf, &end, 10);
	return end != buf && v ? (uint32_t)v : PT_PMU_TYPE_FALLBACK;
}

/* The vDSO's image is no file: read it from the target's memory (its
 * [vdso] mapping, an ELF with a build-id) and keep it in the build-id
 * cache, DIR/[vdso]/BUILDID/vdso as perf does (sa_pd_buildid_save()),
 * for the decoder to name targets there.  Once per target; best effort:
 * without it, vDSO targets stay [vdso] + offset (counted by the decode).
 */
void sa_emu_save_vdso(struct sa_emu *emu)
{
	const struct sa_emu_vma *v = NULL;
	uint8_t *buf;
	size_t i, len;
	int n, err;

	if (emu->vdso_tried)
		return;
	emu->vdso_tried = true;
	for (i = 0; i < emu->nr_vmas && !v; i++)
		if (emu->vmas[i].path &&
		    !strcmp(emu->vmas[i].path, "[vdso]"))
			v = &emu->vmas[i];
	if (!v || v->end - v->start > SA_EMU_VDSO_MAX)
		return;
	len = v->end - v->start;
	buf = malloc(len);
	if (!buf)
		return;
	n = sa_emu_read_mem(emu, v->start, buf, len);
	if (n < 0 || (size_t)n != len) {
		free(buf);
		return;
	}
	n = sa_build_id_mem(buf, len, emu->vdso_bid, sizeof(emu->vdso_bid));
	emu->vdso_bid_len = n > 0 ? (uint8_t)n : 0;
	if (emu->vdso_bid_len) {
		err = sa_pd_buildid_save("[vdso]", emu->vdso_bid,
					 emu->vdso_bid_len, buf, len);
		if (err)
			sa_debug("emu: the vDSO image was not saved: %s\n",
				 sa_strerror(err));
	}
	free(buf);
}

struct mmap_ref {
	const struct sa_emu_map *m;
	size_t order;
};

static int mmap_ref_cmp(const void *a, const void *b)
{
	const struct mmap_ref *x = a, *y = b;

	if (x->m->time != y->m->time)
		return x->m->time < y->m->time ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The MMAP2 records of the window's executable mappings, in time order
 * (a mapping's time is 0 when it was there before the window: written
 * as 1, with the COMM).  *@last is the latest time written.
 */
static int write_mmaps(struct sa_pd_writer *w, const struct sa_emu *emu,
		       uint32_t tid, struct sa_pd_sample_id *sid,
		       uint64_t *last)
{
	size_t n = emu->nr_maps + emu->nr_amaps, i;
	struct mmap_ref *refs;
	int err = 0;

	*last = 1;
	if (!n)
		return 0;
	refs = calloc(n, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (i = 0; i < emu->nr_maps; i++)
		refs[i] = (struct mmap_ref){ &emu->maps[i], i };
	for (i = 0; i < emu->nr_amaps; i++)
		refs[emu->nr_maps + i] = (struct mmap_ref){ &emu->amaps[i],
							    emu->nr_maps + i };
	qsort(refs, n, sizeof(*refs), mmap_ref_cmp);
	for (i = 0; !err && i < n; i++) {
		const struct sa_emu_map *m = refs[i].m;

		sid->time = m->time ? m->time : 1;
		if (sid->time > *last)
			*last = sid->time;
		err = sa_pd_writer_mmap2(w, (uint32_t)emu->pid, tid, m->start,
					 m->len, m->pgoff,
					 PROT_READ | PROT_EXEC, MAP_PRIVATE,
					 m->path, sid);
	}
	free(refs);
	return err;
}

int sa_emu_write_perf(struct sa_emu *emu, const char *path,
		      const struct sa_emu_opts *opts,
		      const struct sa_emu_stats *st, struct sa_errinfo *ei)
{
	struct perf_event_attr attr = { 0 };
	struct sa_pd_sample_id sid = { 0 };
	uint64_t priv[SA_PD_INTEL_PT_AUXTRACE_PRIV_MAX + SA_EMU_FILTER_MAX / 8 +
		      1] = { 0 };
	uint64_t id = EMU_SAMPLE_ID, psb_exp = 0, period;
	size_t flen = strlen(emu->filter_str), nr_priv, i, j;
	struct sa_pd_writer *w;
	struct utsname un;
	char *argv1[2] = { emu->exe, NULL };
	uint64_t last = 1;
	uint32_t tid;
	int err;

	w = sa_pd_writer__new(path, ei);
	if (!w)
		return ei && ei->code ? ei->code : -errno;

	/* psb_period is log2(bytes) - 11 in the config. */
	period = opts->psb_period ? opts->psb_period : 4096;
	while ((2048ull << psb_exp) < period && psb_exp < 15)
		psb_exp++;
	attr.type = pt_pmu_type();
	/* The config says what the trace holds: perf decodes by it. */
	attr.config = PT_CFG_PT | PT_CFG_BRANCH |
		      (opts->tsc || opts->mtc || opts->cyc ? PT_CFG_TSC : 0) |
		      (opts->mtc ? PT_CFG_MTC |
			(uint64_t)opts->mtc_period << PT_CFG_MTC_PERIOD_SHIFT :
			0) |
		      (opts->cyc ? PT_CFG_CYC |
			(uint64_t)opts->cyc_thresh << PT_CFG_CYC_THRESH_SHIFT :
			0) |
		      (opts->noretcomp ? PT_CFG_NORETCOMP : 0) |
		      (psb_exp << PT_CFG_PSB_SHIFT);
	attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			   PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			   PERF_SAMPLE_IDENTIFIER;
	attr.sample_period = 1;
	attr.sample_id_all = 1;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	attr.disabled = 1;
	attr.enable_on_exec = emu->spawned ? 1 : 0;
	attr.mmap = 1;
	attr.comm = 1;
	attr.mmap2 = 1;
	attr.comm_exec = 1;
	attr.aux_watermark = 0;
	err = sa_pd_writer_add_attr(w, &attr, &id, 1, "intel_pt//u");
	if (err)
		goto out_free;

	priv[SA_PD_INTEL_PT_PMU_TYPE] = attr.type;
	priv[SA_PD_INTEL_PT_TIME_SHIFT] = 0;
	priv[SA_PD_INTEL_PT_TIME_MULT] = 1;
	priv[SA_PD_INTEL_PT_TIME_ZERO] = 0;
	/* perf decodes with time only when the clock conversion is
	 * valid (cap_user_time_zero) and the config has tsc.
	 */
	priv[SA_PD_INTEL_PT_CAP_USER_TIME_ZERO] = attr.config & PT_CFG_TSC ?
							  1 : 0;
	priv[SA_PD_INTEL_PT_TSC_BIT] = PT_CFG_TSC;
	priv[SA_PD_INTEL_PT_NORETCOMP_BIT] = PT_CFG_NORETCOMP;
	priv[SA_PD_INTEL_PT_HAVE_SCHED_SWITCH] = 0;
	priv[SA_PD_INTEL_PT_SNAPSHOT_MODE] = 0;
	priv[SA_PD_INTEL_PT_PER_CPU_MMAPS] = 0;
	priv[SA_PD_INTEL_PT_MTC_BIT] = PT_CFG_MTC;
	priv[SA_PD_INTEL_PT_MTC_FREQ_BITS] = 0xfull << PT_CFG_MTC_PERIOD_SHIFT;
	/* The emulated clocks (emu_priv.h): CPUID 0x15 EBX/EAX and the
	 * nominal ratio.  With time_mult 1 and time_shift 0, perf's time is
	 * the TSC: the recorder's CLOCK_MONOTONIC nanoseconds.
	 */
	priv[SA_PD_INTEL_PT_TSC_CTC_N] = SA_EMU_TSC_CTC_N;
	priv[SA_PD_INTEL_PT_TSC_CTC_D] = SA_EMU_TSC_CTC_D;
	priv[SA_PD_INTEL_PT_CYC_BIT] = PT_CFG_CYC;
	priv[SA_PD_INTEL_PT_MAX_NONTURBO_RATIO] = SA_EMU_NOM_RATIO;
	priv[SA_PD_INTEL_PT_FILTER_STR_LEN] = flen;
	nr_priv = SA_PD_INTEL_PT_AUXTRACE_PRIV_MAX;
	/* The filter string follows, NUL-padded to 8 bytes (perf's
	 * intel_pt_info_fill: len + 1 rounded up).
	 */
	if (flen) {
		memcpy(&priv[nr_priv], emu->filter_str, flen);
		nr_priv += (flen + 1 + 7) / 8;
	}
	err = sa_pd_writer_auxtrace_info(w, SA_PD_AUXTRACE_INTEL_PT, priv,
					 nr_priv);
	if (err)
		goto out_free;

	/* The thread the window traced (emu->tid may be another one now,
	 * when it ended in the window).
	 */
	tid = (uint32_t)(st->tid ? st->tid : emu->tid);
	sid.valid = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
		    PERF_SAMPLE_IDENTIFIER;
	sid.pid = (uint32_t)emu->pid;
	sid.tid = tid;
	sid.time = 1;
	sid.id = id;
	sid.cpu = 0;
	err = sa_pd_writer_comm(w, (uint32_t)emu->pid, tid,
				emu->comm[0] ? emu->comm : "target",
				emu->spawned, &sid);
	/* File mappings, then the vDSO and executable anonymous memory as
	 * perf writes them ("[vdso]", "//anon": the decode names targets
	 * there by kind), in the order they were made: those of the
	 * window's start at time 1, those made during the window at the
	 * time they were seen (docs/emulate.md), so that perf applies each
	 * before the trace that may use it.
	 */
	if (!err)
		err = write_mmaps(w, emu, tid, &sid, &last);
	sid.time = 1;
	if (!err)
		err = sa_pd_writer_itrace_start(w, (uint32_t)emu->pid,
						tid, &sid);
	if (!err)
		err = sa_pd_writer_finished_round(w);
	if (!err)
		err = sa_pd_writer_auxtrace(w, emu->aux, emu->aux_len, 0,
					    emu->aux_len, 0,
					    tid, (uint32_t)-1);
	sid.time = last + 1 > 2 ? last + 1 : 2;
	if (!err)
		err = sa_pd_writer_aux(w, 0, emu->aux_len,
				       st->overflow ? PERF_AUX_FLAG_TRUNCATED :
						      0, &sid);
	if (!err)
		err = sa_pd_writer_finished_round(w);
	if (err)
		goto out_free;

	/* Build-ids, one per binary. */
	for (i = 0; i < emu->nr_maps; i++) {
		uint8_t bid[20];
		size_t n;
		int r;
		bool dup = false;

		for (j = 0; j < i; j++)
			dup |= strcmp(emu->maps[j].path,
				      emu->maps[i].path) == 0;
		if (dup)
			continue;
		r = sa_build_id_read(emu->maps[i].path, bid, sizeof(bid));
		if (r <= 0)
			continue;
		n = (size_t)r;
		err = sa_pd_writer_add_build_id(w, (int32_t)emu->pid,
						PERF_RECORD_MISC_USER, bid, n,
						emu->maps[i].path);
		if (err)
			goto out_free;
	}
	/* The vDSO's, as perf lists it: "[vdso]" */
	for (i = 0; emu->vdso_bid_len && i < emu->nr_amaps; i++) {
		if (strcmp(emu->amaps[i].path, "[vdso]"))
			continue;
		err = sa_pd_writer_add_build_id(w, (int32_t)emu->pid,
						PERF_RECORD_MISC_USER,
						emu->vdso_bid,
						emu->vdso_bid_len, "[vdso]");
		if (err)
			goto out_free;
		break;
	}
	if (emu->argc)
		err = sa_pd_writer_set_cmdline(w, emu->argc, emu->argv);
	else
		err = sa_pd_writer_set_cmdline(w, 1, argv1);
	/* perf's Intel PT decoder applies CPU errata by cpuid: claim a
	 * model without PT errata that matter for user-space branches.
	 */
	if (!err)
		err = sa_pd_writer_set_cpuid(w, "GenuineIntel,6,94,3");
	if (!err)
		err = sa_pd_writer_set_arch(w, "x86_64");
	if (!err && uname(&un) == 0) {
		err = sa_pd_writer_set_hostname(w, un.nodename);
		if (!err)
			err = sa_pd_writer_set_osrelease(w, un.release);
	}
	if (!err)
		err = sa_pd_writer_set_nr_cpus(w, 1, 1);
	if (err)
		goto out_free;
	return sa_pd_writer_close(w, ei);

out_free:
	sa_pd_writer__free(w);
	return sa_errinfo_set(ei, err, SA_NO_OFFSET,
			      "emu: writing %s failed: %s", path,
			      sa_strerror(err));
}
