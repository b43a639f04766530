// SPDX-License-Identifier: BSD-2-Clause
/*
 * perf.data sessions: the sideband builds the process image, every AUX
 * stream is decoded by the backend its AUXTRACE_INFO names.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "array.h"
#include "session_int.h"
#include "sensor/coresight.h"
#include "sensor/log.h"
#include "sensor/perfdata.h"

/* perf's PERF_RECORD_MISC_MMAP_DATA: a non-executable mapping. */
#ifndef PERF_RECORD_MISC_MMAP_DATA
#define PERF_RECORD_MISC_MMAP_DATA (1 << 13)
#endif

/* Caps on what one perf.data may make us keep. */
#define SA_MAX_AUX_RECORDS (1u << 24)
#define SA_MAX_MMAP_RECORDS (1u << 20)

/* Total AUX bytes one session may copy into contiguous streams. */
#define SA_MAX_STREAM_BYTES (1ull << 32)

/* CoreSight PERF_RECORD_AUX_OUTPUT_HW_ID payload (the kernel's
 * include/linux/coresight-pmu.h CS_AUX_HW_ID_*): trace ID in bits 7:0,
 * sink ID 39:8 (minor version 1), minor version 59:56, major 63:60.
 * Only major version 0 is defined; minor versions only add fields.
 */
#define SA_CS_HW_ID_TRACE_ID(v)	((uint8_t)((v) & 0xff))
#define SA_CS_HW_ID_MAJOR(v)	((unsigned)((v) >> 60))
/* At most one trace ID per CPU is kept; as many CPUs as cs_etm allows. */
#define SA_MAX_HW_IDS		4096

struct sa_aux_piece {
	const uint8_t *data;
	uint64_t size, offset, file_offset;
	uint32_t idx, cpu, tid;
	size_t order;
};

struct sa_mmap_rec {
	uint32_t pid;
	uint64_t start, len, pgoff, file_offset;
	const char *filename;
	uint8_t build_id[20];		/* MMAP2 with a build-id */
	uint8_t build_id_len;
	bool region;			/* code without a file: [vdso], ... */
};

struct sa_hw_id {
	uint32_t cpu;
	uint8_t trace_id;
	uint64_t file_offset;
};

struct sa_perf_session {
	struct sa_session s;
	struct sa_pd *pd;
	uint32_t aux_type;
	const uint64_t *priv;
	size_t nr_priv;
	struct sa_aux_piece *aux;
	size_t nr_aux, cap_aux;
	struct sa_mmap_rec *maps;
	size_t nr_maps, cap_maps;
	int64_t pid;			/* traced process, -1 unknown */
	bool cs_raw_format;		/* AUX flag CORESIGHT_FORMAT_RAW: TRBE */
	bool has_info;			/* an AUXTRACE_INFO record seen */
	unsigned missing;		/* binaries not found */
	struct sa_cs_perf_info *cs_info;
	const char *first_missing;
	struct sa_hw_id *hw_ids;	/* AUX_OUTPUT_HW_ID, one per CPU */
	size_t nr_hw_ids, cap_hw_ids;
};

static bool sa_skip_mapping(const char *name)
{
	return !name || !name[0] || name[0] == '[' ||
	       !strncmp(name, "//anon", 6) || !strncmp(name, "/dev/", 5) ||
	       !strncmp(name, "/memfd:", 7) || !strncmp(name, "anon_inode:", 11);
}

/* Skipped mappings whose code the image still names, by kind: the vDSO,
 * anonymous executable memory (JIT code), memfd code.
 */
static bool sa_region_mapping(const char *name)
{
	return name && (name[0] == '[' || !strncmp(name, "//anon", 6) ||
			!strncmp(name, "/memfd:", 7));
}

/* Remembers the trace ID of a CPU from a PERF_RECORD_AUX_OUTPUT_HW_ID.
 * perf checks the same: the CPU comes from the sample_id_all trailer, the
 * major version must be 0, and a CPU keeps one trace ID.
 */
static int sa_add_hw_id(struct sa_perf_session *ps,
			const struct sa_pd_event *ev, struct sa_errinfo *ei)
{
	uint64_t v = ev->aux_output_hw_id.hw_id;
	uint8_t id = SA_CS_HW_ID_TRACE_ID(v);
	struct sa_hw_id *h;
	size_t i;
	int err;

	if (ps->aux_type == SA_PD_AUXTRACE_INTEL_PT)
		return 0;	/* PEBS-via-PT ids: not used here */
	if (SA_CS_HW_ID_MAJOR(v))
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, ev->file_offset,
				      "%s: AUX_OUTPUT_HW_ID at offset %#"
				      PRIx64 ": hw_id %#" PRIx64 " has major "
				      "version %u (only 0 is known)",
				      ps->s.name, ev->file_offset, v,
				      SA_CS_HW_ID_MAJOR(v));
	if (!(ev->sid.valid & PERF_SAMPLE_CPU))
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, ev->file_offset,
				      "%s: AUX_OUTPUT_HW_ID at offset %#"
				      PRIx64 " has no CPU (the event's "
				      "sample_type lacks PERF_SAMPLE_CPU)",
				      ps->s.name, ev->file_offset);
	if (!id || id >= 0x70)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, ev->file_offset,
				      "%s: AUX_OUTPUT_HW_ID at offset %#"
				      PRIx64 ": trace ID %#x of CPU %u is not "
				      "a valid CoreSight trace ID (1..0x6f)",
				      ps->s.name, ev->file_offset, id,
				      ev->sid.cpu);
	for (i = 0; i < ps->nr_hw_ids; i++) {
		h = &ps->hw_ids[i];
		if (h->cpu != ev->sid.cpu)
			continue;
		if (h->trace_id == id)
			return 0;
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, ev->file_offset,
				      "%s: AUX_OUTPUT_HW_ID at offset %#"
				      PRIx64 " gives CPU %u trace ID %#x, "
				      "the one at %#" PRIx64 " gave %#x",
				      ps->s.name, ev->file_offset,
				      ev->sid.cpu, id, h->file_offset,
				      h->trace_id);
	}
	err = sa_array_reserve((void **)&ps->hw_ids, &ps->cap_hw_ids,
			       ps->nr_hw_ids, sizeof(*ps->hw_ids), 16,
			       SA_MAX_HW_IDS);
	if (err == -SA_ERR_TOOBIG)
		return sa_errinfo_set(ei, err, ev->file_offset,
				      "%s: more than %d CPUs in "
				      "AUX_OUTPUT_HW_ID records (the limit)",
				      ps->s.name, SA_MAX_HW_IDS);
	if (err)
		return err;
	h = &ps->hw_ids[ps->nr_hw_ids++];
	h->cpu = ev->sid.cpu;
	h->trace_id = id;
	h->file_offset = ev->file_offset;
	return 0;
}

static int sa_collect(struct sa_perf_session *ps, struct sa_errinfo *ei)
{
	struct sa_hist_decode *d = sa_hist_decode_mut(ps->s.h);
	struct sa_pd_event ev;
	int err;

	while ((err = sa_pd_next(ps->pd, &ev, ei)) > 0) {
		switch (ev.type) {
		case SA_PD_AUXTRACE_INFO:
			if (ps->priv) {
				sa_warn("%s: more than one AUXTRACE_INFO "
					"record (offset %#" PRIx64
					"); using the first\n",
					ps->s.name, ev.file_offset);
				break;
			}
			ps->aux_type = ev.auxtrace_info.type;
			ps->has_info = true;
			ps->priv = ev.auxtrace_info.priv;
			ps->nr_priv = ev.auxtrace_info.nr_priv;
			break;
		case SA_PD_AUXTRACE: {
			struct sa_aux_piece *a;

			if (!ev.auxtrace.size)
				break;
			err = sa_array_reserve((void **)&ps->aux, &ps->cap_aux,
					       ps->nr_aux, sizeof(*ps->aux),
					       64, SA_MAX_AUX_RECORDS);
			if (err)
				return sa_errinfo_set(ei, err, ev.file_offset,
						      "%s: AUXTRACE records: %s",
						      ps->s.name,
						      sa_strerror(err));
			a = &ps->aux[ps->nr_aux];
			a->data = ev.auxtrace.data;
			a->size = ev.auxtrace.size;
			a->offset = ev.auxtrace.offset;
			a->file_offset = ev.auxtrace.data_file_offset;
			a->idx = ev.auxtrace.idx;
			a->cpu = ev.auxtrace.cpu;
			a->tid = ev.auxtrace.tid;
			a->order = ps->nr_aux++;
			/* per CPU: tid -1, the threads are in ITRACE_START */
			sa_hist_decode_add_tid(d, (int32_t)ev.auxtrace.tid);
			break;
		}
		case PERF_RECORD_MMAP:
		case PERF_RECORD_MMAP2: {
			struct sa_mmap_rec *m;
			bool region;

			if (ev.misc & PERF_RECORD_MISC_MMAP_DATA)
				break;
			if (ev.type == PERF_RECORD_MMAP2 &&
			    !(ev.mmap.prot & 4 /* PROT_EXEC */))
				break;
			if ((ev.misc & PERF_RECORD_MISC_CPUMODE_MASK) ==
			    PERF_RECORD_MISC_KERNEL)
				break;
			region = sa_skip_mapping(ev.mmap.filename);
			if (region && !sa_region_mapping(ev.mmap.filename))
				break;
			err = sa_array_reserve((void **)&ps->maps,
					       &ps->cap_maps, ps->nr_maps,
					       sizeof(*ps->maps), 64,
					       SA_MAX_MMAP_RECORDS);
			if (err)
				return sa_errinfo_set(ei, err, ev.file_offset,
						      "%s: MMAP records: %s",
						      ps->s.name,
						      sa_strerror(err));
			m = &ps->maps[ps->nr_maps++];
			m->pid = ev.mmap.pid;
			m->start = ev.mmap.start;
			m->len = ev.mmap.len;
			m->pgoff = ev.mmap.pgoff;
			m->filename = ev.mmap.filename;
			m->file_offset = ev.file_offset;
			m->region = region;
			m->build_id_len = ev.mmap.build_id_size;
			if (m->build_id_len > sizeof(m->build_id))
				m->build_id_len = sizeof(m->build_id);
			memcpy(m->build_id, ev.mmap.build_id, m->build_id_len);
			break;
		}
		case PERF_RECORD_ITRACE_START:
			if (ps->pid < 0)
				ps->pid = ev.itrace_start.pid;
			/* only the traced process (system-wide files have
			 * them all)
			 */
			if (ev.itrace_start.pid == (uint32_t)ps->pid)
				sa_hist_decode_add_tid(d, (int32_t)
						       ev.itrace_start.tid);
			break;
		case PERF_RECORD_COMM:
			if (ev.comm.exec && ps->pid < 0)
				ps->pid = ev.comm.pid;
			break;
		case PERF_RECORD_AUX:
			if (ev.aux.flags & PERF_AUX_FLAG_TRUNCATED)
				d->aux_truncated++;
			if (ev.aux.flags & PERF_AUX_FLAG_PARTIAL)
				d->aux_partial++;
			if (ev.aux.flags & PERF_AUX_FLAG_COLLISION)
				d->aux_collision++;
			/* PERF_AUX_FLAG_CORESIGHT_FORMAT_RAW: unformatted
			 * (TRBE) buffers, one CPU each
			 */
			if (ev.aux.flags & 0x100)
				ps->cs_raw_format = true;
			break;
		case PERF_RECORD_LOST:
			d->lost_records += ev.lost.lost;
			break;
		case PERF_RECORD_AUX_OUTPUT_HW_ID:
			err = sa_add_hw_id(ps, &ev, ei);
			if (err)
				return err;
			break;
		default:
			break;
		}
	}
	return err;
}

/* The user's --binary for a recorded path: same path or same basename. */
static const struct sa_binary_opt *sa_user_binary(const struct sa_decode_opts *o,
						  const char *recorded)
{
	const char *rb = strrchr(recorded, '/');
	size_t i;

	rb = rb ? rb + 1 : recorded;
	for (i = 0; i < o->nr_binaries; i++) {
		const char *p = o->binaries[i].path;
		const char *ub = strrchr(p, '/');

		ub = ub ? ub + 1 : p;
		if (o->binaries[i].addr != SA_ADDR_NONE)
			continue;
		if (!strcmp(p, recorded) || !strcmp(ub, rb))
			return &o->binaries[i];
	}
	return NULL;
}

/* The vDSO's image, when the build-id cache holds the one the
 * recording names (MMAP2 build-id, else the "[vdso]" entry of the
 * build-id list): record --emulate and perf record save it there
 * (sa_pd_buildid_save()).  Its symbols then name the targets there;
 * without it they stay [vdso] + offset, counted by the history.
 * Returns 0 or -ENOMEM.
 */
static int sa_add_vdso(struct sa_perf_session *ps,
		       const struct sa_mmap_rec *m)
{
	const struct sa_pd_build_id *bid = NULL;
	const uint8_t *id = m->build_id;
	size_t len = m->build_id_len;
	struct sa_errinfo mei;
	char path[4200];
	int err;

	if (!len) {
		bid = sa_pd_find_build_id(ps->pd, "[vdso]");
		if (!bid)
			return 0;
		id = bid->id;
		len = bid->size;
	}
	if (sa_pd_buildid_path("[vdso]", id, len, path, sizeof(path)) ||
	    access(path, R_OK) < 0)
		return 0;
	err = sa_image_add_elf(ps->s.img, path, m->start, m->len, m->pgoff,
			       id, len, &mei);
	if (err == -ENOMEM)
		return err;
	if (err)
		sa_debug("%s: the vDSO image %s: %s\n", ps->s.name, path,
			 mei.msg);
	return 0;
}

static int sa_build_image(struct sa_perf_session *ps, struct sa_errinfo *ei)
{
	const struct sa_decode_opts *o = ps->s.o;
	bool *used = NULL;
	size_t i;
	int err = 0;

	if (o->pid)
		ps->pid = o->pid;
	if (ps->pid < 0 && ps->nr_maps)
		ps->pid = ps->maps[0].pid;
	if (o->nr_binaries) {
		used = calloc(o->nr_binaries, sizeof(*used));
		if (!used)
			return -ENOMEM;
	}
	for (i = 0; i < ps->nr_maps; i++) {
		const struct sa_mmap_rec *m = &ps->maps[i];
		const struct sa_binary_opt *ub;
		const struct sa_pd_build_id *bid;
		struct sa_errinfo mei;
		const char *path = m->filename;

		if (ps->pid >= 0 && m->pid != (uint32_t)ps->pid)
			continue;
		if (m->region) {
			err = sa_image_add_region(ps->s.img, m->filename,
						  m->start, m->len);
			if (err == -ENOMEM)
				goto out;
			err = 0;	/* empty or too many: left unnamed */
			if (!strcmp(m->filename, "[vdso]"))
				err = sa_add_vdso(ps, m);
			if (err)
				goto out;
			continue;
		}
		ub = sa_user_binary(o, m->filename);
		if (ub) {
			path = ub->path;
			used[ub - o->binaries] = true;
		}
		bid = sa_pd_find_build_id(ps->pd, m->filename);
		if (m->build_id_len)
			err = sa_image_add_elf(ps->s.img, path, m->start,
					       m->len, m->pgoff, m->build_id,
					       m->build_id_len, &mei);
		else
			err = sa_image_add_elf(ps->s.img, path, m->start,
					       m->len, m->pgoff,
					       bid ? bid->id : NULL,
					       bid ? bid->size : 0, &mei);
		if (!err)
			continue;
		if (err == -ENOMEM)
			goto out;
		if (!ps->missing++)
			ps->first_missing = m->filename;
		sa_warn("%s: MMAP record at offset %#" PRIx64 ": %s\n",
			ps->s.name, m->file_offset, mei.msg);
		err = 0;
	}
	sa_hist_decode_mut(ps->s.h)->missing_binaries += ps->missing;
	/* --binary PATH@ADDR, and binaries no MMAP record named */
	for (i = 0; i < o->nr_binaries; i++) {
		if (used && used[i])
			continue;
		err = sa_image_load_elf(ps->s.img, o->binaries[i].path,
					o->binaries[i].addr, ei);
		if (err)
			goto out;
	}
out:
	free(used);
	return err;
}

static int sa_cmp_piece(const void *pa, const void *pb)
{
	const struct sa_aux_piece *a = pa, *b = pb;

	if (a->idx != b->idx)
		return a->idx < b->idx ? -1 : 1;
	return a->order < b->order ? -1 : (a->order > b->order);
}

static bool sa_parse_cpuid(const char *cpuid, struct sa_ipt_config *cfg)
{
	unsigned f, m, s;

	/* "GenuineIntel,6,94,3" */
	if (!cpuid || strncmp(cpuid, "GenuineIntel,", 13))
		return false;
	if (sscanf(cpuid + 13, "%u,%u,%u", &f, &m, &s) != 3)
		return false;
	cfg->family = (uint16_t)f;
	cfg->model = (uint8_t)m;
	cfg->stepping = (uint8_t)s;
	return true;
}

static uint64_t sa_priv(const struct sa_perf_session *ps, size_t i)
{
	return i < ps->nr_priv ? ps->priv[i] : 0;
}

static void sa_ipt_from_perf(const struct sa_perf_session *ps,
			     struct sa_ipt_config *cfg)
{
	const struct perf_event_attr *attr = NULL;
	uint64_t type = sa_priv(ps, SA_PD_INTEL_PT_PMU_TYPE);
	size_t i;

	sa_parse_cpuid(sa_pd_cpuid(ps->pd), cfg);
	for (i = 0; i < sa_pd_nr_attrs(ps->pd); i++) {
		if (sa_pd_attr(ps->pd, i)->attr.type == type) {
			attr = &sa_pd_attr(ps->pd, i)->attr;
			break;
		}
	}
	cfg->cpuid_0x15_eax = (uint32_t)sa_priv(ps, SA_PD_INTEL_PT_TSC_CTC_D);
	cfg->cpuid_0x15_ebx = (uint32_t)sa_priv(ps, SA_PD_INTEL_PT_TSC_CTC_N);
	cfg->nom_freq = (uint8_t)sa_priv(ps, SA_PD_INTEL_PT_MAX_NONTURBO_RATIO);
	if (attr) {
		uint64_t bits = sa_priv(ps, SA_PD_INTEL_PT_MTC_FREQ_BITS);
		uint64_t nrc = sa_priv(ps, SA_PD_INTEL_PT_NORETCOMP_BIT);

		if (bits < 60)
			cfg->mtc_freq = (uint8_t)((attr->config >> bits) & 0xf);
		if (nrc && nrc < 64)
			cfg->noretcomp = !!(attr->config & (1ull << nrc));
	}
}

/* Decodes one AUX stream: pieces [lo, hi) of one ring, already sorted.
 * Pieces that follow each other without a hole are joined, since a packet
 * may straddle two AUXTRACE records; a hole is lost trace.
 */
static int sa_decode_stream(struct sa_perf_session *ps, size_t lo, size_t hi,
			    struct sa_errinfo *ei)
{
	bool snapshot = ps->aux_type == SA_PD_AUXTRACE_INTEL_PT &&
			sa_priv(ps, SA_PD_INTEL_PT_SNAPSHOT_MODE);
	size_t i = lo;
	int err = 0;

	while (i < hi) {
		size_t j = i + 1, k;
		uint64_t total = ps->aux[i].size;
		const uint8_t *buf = ps->aux[i].data;
		uint8_t *joined = NULL;
		struct sa_ipt_config cfg;
		struct sa_dec *dec = NULL;

		while (!snapshot && j < hi &&
		       ps->aux[j].offset == ps->aux[j - 1].offset +
						    ps->aux[j - 1].size &&
		       total + ps->aux[j].size <= SA_MAX_STREAM_BYTES)
			total += ps->aux[j++].size;
		if (j < hi && !snapshot &&
		    ps->aux[j].offset > ps->aux[j - 1].offset +
					       ps->aux[j - 1].size) {
			uint64_t hole = ps->aux[j].offset -
					(ps->aux[j - 1].offset +
					 ps->aux[j - 1].size);

			sa_hist_note_error(ps->s.h, ps->aux[j].file_offset,
					   -SA_ERR_TRUNCATED, SA_GAP_LOST,
					   hole);
		}
		if (j - i > 1) {
			uint64_t pos = 0;

			joined = malloc(total);
			if (!joined)
				return -ENOMEM;
			for (k = i; k < j; k++) {
				memcpy(joined + pos, ps->aux[k].data,
				       ps->aux[k].size);
				pos += ps->aux[k].size;
			}
			buf = joined;
		}
		sa_hist_decode_mut(ps->s.h)->windows++;
		switch (ps->aux_type) {
		case SA_PD_AUXTRACE_INTEL_PT:
			memset(&cfg, 0, sizeof(cfg));
			cfg.buf = buf;
			cfg.len = total;
			cfg.base_offset = ps->aux[i].file_offset;
			cfg.image = ps->s.img;
			sa_ipt_from_perf(ps, &cfg);
			dec = ps->s.o->ipt_decoder == SA_IPT_DECODER_FAST ?
				      sa_fpt__new(&cfg, ei) :
				      sa_ipt__new(&cfg, ei);
			break;
		case SA_PD_AUXTRACE_CS_ETM:
			/* formatted (ETR/ETB): every CPU's trace ID in one
			 * buffer; unformatted (TRBE): the buffer's CPU only
			 */
			dec = sa_cs_perf_info_decoder__new(ps->cs_info, buf,
					total, ps->aux[i].file_offset,
					ps->cs_raw_format,
					ps->cs_raw_format ?
						(int)ps->aux[i].cpu : -1,
					ps->s.img, ei);
			break;
		default:
			break;
		}
		if (!dec) {
			err = ei && ei->code ? ei->code : -errno;
			free(joined);
			return err;
		}
		ps->s.fi.pid = ps->pid;
		ps->s.fi.tid = ps->aux[i].tid == UINT32_MAX ? -1 :
			       (int32_t)ps->aux[i].tid;
		if (ps->aux_type == SA_PD_AUXTRACE_INTEL_PT &&
		    sa_priv(ps, SA_PD_INTEL_PT_CAP_USER_TIME_ZERO)) {
			ps->s.fi.has_time_conv = true;
			ps->s.fi.time_shift = (uint16_t)sa_priv(ps,
					SA_PD_INTEL_PT_TIME_SHIFT);
			ps->s.fi.time_mult = (uint32_t)sa_priv(ps,
					SA_PD_INTEL_PT_TIME_MULT);
			ps->s.fi.time_zero = sa_priv(ps,
					SA_PD_INTEL_PT_TIME_ZERO);
		}
		err = sa_session_run(&ps->s, dec, ps->aux[i].file_offset);
		sa_dec__free(dec);
		free(joined);
		if (err)
			return err;
		i = j;
	}
	return 0;
}

static enum sa_arch sa_arch_of(const char *uname_m)
{
	if (!uname_m)
		return SA_ARCH_UNKNOWN;
	if (!strcmp(uname_m, "x86_64"))
		return SA_ARCH_X86_64;
	if (!strcmp(uname_m, "aarch64") || !strcmp(uname_m, "arm64"))
		return SA_ARCH_AARCH64;
	if (!strncmp(uname_m, "arm", 3))
		return SA_ARCH_ARM;
	if (uname_m[0] == 'i' && strstr(uname_m, "86"))
		return SA_ARCH_X86;
	return SA_ARCH_UNKNOWN;
}

static bool sa_has_hw_id(const struct sa_perf_session *ps, int cpu)
{
	size_t i;

	for (i = 0; i < ps->nr_hw_ids; i++)
		if ((int)ps->hw_ids[i].cpu == cpu)
			return true;
	return false;
}

/* perf 6.x (cs_etm header version 2) records the trace IDs in
 * AUX_OUTPUT_HW_ID records; TRCTRACEIDR holds the legacy ID, flagged
 * unused by perf 6.3.  As perf does: when the file has such records, they
 * alone give the IDs and a CPU without one is not decoded (its legacy ID
 * may belong to another CPU now); when it has none (a kernel that does not
 * emit them), the low bits of a flagged TRCTRACEIDR are used, if valid.
 */
static int sa_cs_apply_hw_ids(struct sa_perf_session *ps,
			      struct sa_errinfo *ei)
{
	struct sa_cs_perf_info *info = ps->cs_info;
	size_t i, known = 0;

	for (i = 0; i < ps->nr_hw_ids; i++) {
		const struct sa_hw_id *h = &ps->hw_ids[i];

		if (sa_cs_perf_info_set_trace_id(info, (int)h->cpu,
						 h->trace_id))
			return sa_errinfo_set(ei, -SA_ERR_FORMAT,
					      h->file_offset,
					      "%s: AUX_OUTPUT_HW_ID at offset "
					      "%#" PRIx64 " names CPU %u, "
					      "which has no cs_etm metadata "
					      "in AUXTRACE_INFO", ps->s.name,
					      h->file_offset, h->cpu);
	}
	for (i = 0; i < info->nr_cpus; i++) {
		struct sa_cs_perf_cpu *c = &info->cpus[i];
		uint8_t legacy = c->traceidr & 0x7f;

		if (c->traceidr & SA_CS_TRACE_ID_UNUSED && !ps->nr_hw_ids &&
		    legacy && legacy < 0x70)
			sa_cs_perf_info_set_trace_id(info, c->cpu, legacy);
		if (ps->nr_hw_ids ? sa_has_hw_id(ps, c->cpu) :
				    !(c->traceidr & SA_CS_TRACE_ID_UNUSED))
			info->cpus[known++] = *c;
		else
			sa_debug("%s: CPU %d has no trace ID; not decoded\n",
				 ps->s.name, c->cpu);
	}
	if (!known)
		return sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
				      "%s: cs_etm AUXTRACE_INFO version %u "
				      "gives no CPU a trace ID, and %s "
				      "(perf 6.x records them there): the "
				      "trace cannot be attributed", ps->s.name,
				      info->version, ps->nr_hw_ids ?
				      "no AUX_OUTPUT_HW_ID record names one of "
				      "its CPUs" :
				      "the file has no AUX_OUTPUT_HW_ID record");
	info->nr_cpus = known;
	return 0;
}

int sa_decode_perf_data(const char *path, const struct sa_decode_opts *o,
			struct sa_hist *h, struct sa_errinfo *ei)
{
	struct sa_perf_session ps;
	size_t i, lo;
	int err;

	memset(&ps, 0, sizeof(ps));
	ps.pid = -1;
	ps.pd = sa_pd__open(path, ei);
	if (!ps.pd)
		return ei && ei->code ? ei->code : -errno;
	err = sa_session_init(&ps.s, path, o, h,
			      sa_arch_of(sa_pd_arch(ps.pd)));
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "out of memory");
		goto out;
	}
	err = sa_collect(&ps, ei);
	if (err < 0)
		goto out;
	if (!ps.nr_aux && ps.has_info &&
	    (ps.aux_type == SA_PD_AUXTRACE_INTEL_PT ||
	     ps.aux_type == SA_PD_AUXTRACE_CS_ETM)) {
		/* A trace session that wrote no trace: the target did not
		 * run inside the filter (it slept).  An idle window.
		 */
		struct sa_hist_decode *d = sa_hist_decode_mut(ps.s.h);

		d->windows++;
		d->idle_windows++;
		err = 0;
		goto out;
	}
	if (!ps.nr_aux) {
		err = sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
				     "%s: no AUX area trace data (no AUXTRACE "
				     "record): record with `perf record -e "
				     "intel_pt//u` or `-e cs_etm//u`", path);
		goto out;
	}
	if (ps.aux_type != SA_PD_AUXTRACE_INTEL_PT &&
	    ps.aux_type != SA_PD_AUXTRACE_CS_ETM) {
		err = sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
				     "%s: AUX trace type %u is not supported "
				     "(Intel PT and CoreSight ETM are)",
				     path, ps.aux_type);
		goto out;
	}
	if (ps.aux_type == SA_PD_AUXTRACE_CS_ETM) {
		err = sa_cs_perf_info_parse(ps.priv, ps.nr_priv, &ps.cs_info,
					    ei);
		if (err) {
			char msg[SA_ERRMSG_MAX];

			snprintf(msg, sizeof(msg), "%s", ei ? ei->msg : "");
			sa_errinfo_set(ei, err, SA_NO_OFFSET,
				       "%s: cs_etm AUXTRACE_INFO: %s", path,
				       msg);
			goto out;
		}
		err = sa_cs_apply_hw_ids(&ps, ei);
		if (err)
			goto out;
	}
	err = sa_build_image(&ps, ei);
	if (err)
		goto out;
	err = sa_session_start(&ps.s);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "out of memory");
		goto out;
	}
	ps.s.total = sa_pd_data_size(ps.pd);
	qsort(ps.aux, ps.nr_aux, sizeof(*ps.aux), sa_cmp_piece);
	for (lo = 0, i = 1; i <= ps.nr_aux; i++) {
		if (i < ps.nr_aux && ps.aux[i].idx == ps.aux[lo].idx)
			continue;
		err = sa_decode_stream(&ps, lo, i, ei);
		if (err) {
			if (!ei || !ei->msg[0])
				sa_errinfo_set(ei, err, ps.aux[lo].file_offset,
					       "%s: AUX stream %u: %s", path,
					       ps.aux[lo].idx,
					       sa_strerror(err));
			goto out;
		}
		lo = i;
	}
	err = sa_session_check_result(&ps.s, ei);
	if (err && ps.missing)
		err = sa_errinfo_set(ei, -ENOENT, SA_NO_OFFSET,
				     "%s: nothing could be decoded: %u traced "
				     "binaries are missing, first %s: give "
				     "--binary PATH or --symfs DIR",
				     path, ps.missing, ps.first_missing);
out:
	sa_cs_perf_info__free(ps.cs_info);
	sa_session_fini(&ps.s);
	free(ps.aux);
	free(ps.maps);
	free(ps.hw_ids);
	sa_pd__close(ps.pd);
	return err;
}
