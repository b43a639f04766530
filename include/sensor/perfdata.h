/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: perf.data (PERFILE2) reader and writer.
 *
 * The reader maps a file written by Linux perf (4.14 to 6.x, including
 * snapshot mode) or Android simpleperf, checks it, and hands out its
 * attributes, feature sections and records.  Record payloads (names, AUX
 * trace bytes) point into the mapping: they are borrowed and stay valid
 * until sa_pd__close().
 *
 * The writer produces files that Linux `perf script` and `perf report`
 * read: the emulated sensor and the hardware capture both use it.
 */
#ifndef SENSOR_PERFDATA_H
#define SENSOR_PERFDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/perf_event.h>

#include "sensor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Record types that are not in linux/perf_event.h (perf's user types). */
enum sa_pd_user_type {
	SA_PD_HEADER_ATTR = 64,
	SA_PD_HEADER_EVENT_TYPE = 65,
	SA_PD_HEADER_TRACING_DATA = 66,
	SA_PD_HEADER_BUILD_ID = 67,
	SA_PD_FINISHED_ROUND = 68,
	SA_PD_ID_INDEX = 69,
	SA_PD_AUXTRACE_INFO = 70,
	SA_PD_AUXTRACE = 71,
	SA_PD_AUXTRACE_ERROR = 72,
	SA_PD_THREAD_MAP = 73,
	SA_PD_CPU_MAP = 74,
	SA_PD_STAT_CONFIG = 75,
	SA_PD_STAT = 76,
	SA_PD_STAT_ROUND = 77,
	SA_PD_EVENT_UPDATE = 78,
	SA_PD_TIME_CONV = 79,
	SA_PD_HEADER_FEATURE = 80,
	SA_PD_COMPRESSED = 81,
	SA_PD_FINISHED_INIT = 82,
};

/* AUXTRACE_INFO types (perf's enum auxtrace_type). */
enum sa_pd_auxtrace_type {
	SA_PD_AUXTRACE_UNKNOWN = 0,
	SA_PD_AUXTRACE_INTEL_PT = 1,
	SA_PD_AUXTRACE_INTEL_BTS = 2,
	SA_PD_AUXTRACE_CS_ETM = 3,
	SA_PD_AUXTRACE_ARM_SPE = 4,
	SA_PD_AUXTRACE_S390_CPUMSF = 5,
	SA_PD_AUXTRACE_HISI_PTT = 6,
};

/* Intel PT AUXTRACE_INFO private array indices (perf intel-pt.h). */
enum sa_pd_intel_pt_info {
	SA_PD_INTEL_PT_PMU_TYPE,
	SA_PD_INTEL_PT_TIME_SHIFT,
	SA_PD_INTEL_PT_TIME_MULT,
	SA_PD_INTEL_PT_TIME_ZERO,
	SA_PD_INTEL_PT_CAP_USER_TIME_ZERO,
	SA_PD_INTEL_PT_TSC_BIT,
	SA_PD_INTEL_PT_NORETCOMP_BIT,
	SA_PD_INTEL_PT_HAVE_SCHED_SWITCH,
	SA_PD_INTEL_PT_SNAPSHOT_MODE,
	SA_PD_INTEL_PT_PER_CPU_MMAPS,
	SA_PD_INTEL_PT_MTC_BIT,
	SA_PD_INTEL_PT_MTC_FREQ_BITS,
	SA_PD_INTEL_PT_TSC_CTC_N,
	SA_PD_INTEL_PT_TSC_CTC_D,
	SA_PD_INTEL_PT_CYC_BIT,
	SA_PD_INTEL_PT_MAX_NONTURBO_RATIO,
	SA_PD_INTEL_PT_FILTER_STR_LEN,
	SA_PD_INTEL_PT_AUXTRACE_PRIV_MAX,
};

/* Sample fields present on a record (PERF_SAMPLE_* under sample_id_all). */
struct sa_pd_sample_id {
	uint32_t valid;		/* PERF_SAMPLE_TID | _TIME | _ID | _CPU ... */
	uint32_t pid, tid;
	uint64_t time;
	uint64_t id;
	uint64_t stream_id;
	uint32_t cpu;
};

struct sa_pd_attr {
	struct perf_event_attr attr;	/* zero-extended to this header's size */
	uint32_t file_size;		/* attr.size as written in the file */
	size_t nr_ids;
	const uint64_t *ids;		/* owned by the reader */
	const char *name;		/* from HEADER_EVENT_DESC, or NULL */
};

struct sa_pd_build_id {
	int32_t pid;
	uint8_t id[20];
	uint8_t size;			/* bytes of @id in use (20 for SHA-1) */
	uint16_t misc;			/* PERF_RECORD_MISC_KERNEL/USER/... */
	const char *filename;
};

/* One entry of the HEADER_AUXTRACE index. */
struct sa_pd_auxtrace_index_entry {
	uint64_t file_offset;		/* of the AUXTRACE record */
	uint64_t size;			/* record header size (48) */
};

/* One record.  Only the union member for .type is valid. */
struct sa_pd_event {
	uint32_t type;
	uint16_t misc;
	uint16_t size;			/* header size (AUXTRACE data excluded) */
	uint64_t file_offset;
	struct sa_pd_sample_id sid;	/* from the sample_id_all trailer */
	union {
		struct {
			uint32_t pid, tid;
			uint64_t start, len, pgoff;
			/* MMAP2 only: */
			uint32_t maj, min;
			uint64_t ino, ino_generation;
			uint32_t prot, flags;
			uint8_t build_id[20];	/* misc & MMAP_BUILD_ID */
			uint8_t build_id_size;
			const char *filename;
		} mmap;				/* PERF_RECORD_MMAP, _MMAP2 */
		struct {
			uint32_t pid, tid;
			bool exec;
			const char *comm;
		} comm;
		struct {
			uint32_t pid, ppid, tid, ptid;
			uint64_t time;
		} fork;				/* PERF_RECORD_FORK, _EXIT */
		struct {
			uint64_t id, lost;
		} lost;
		struct {
			uint64_t aux_offset, aux_size, flags;	/* PERF_AUX_FLAG_* */
		} aux;
		struct {
			uint32_t pid, tid;
		} itrace_start;
		struct {
			bool out, preempt;
			bool cpu_wide;
			uint32_t next_prev_pid, next_prev_tid;
		} sw;				/* PERF_RECORD_SWITCH, _CPU_WIDE */
		struct {
			uint32_t type;		/* enum sa_pd_auxtrace_type */
			size_t nr_priv;
			const uint64_t *priv;	/* points into the mapping */
		} auxtrace_info;
		struct {
			uint64_t size, offset, reference;
			uint32_t idx, tid, cpu;
			const uint8_t *data;	/* @size bytes in the mapping */
			uint64_t data_file_offset;
		} auxtrace;
		struct {
			uint32_t type, code, cpu, pid, tid;
			uint64_t ip;
			const char *msg;
		} auxtrace_error;
		struct {
			uint64_t time_shift, time_mult, time_zero;
		} time_conv;
		/* PERF_RECORD_AUX_OUTPUT_HW_ID (21, Linux 5.16+): the PMU's
		 * hardware id for the AUX output of the CPU in @sid.cpu
		 * (cs_etm: trace ID in bits 7:0, version in 63:56)
		 */
		struct {
			uint64_t hw_id;
		} aux_output_hw_id;
	};
};

struct sa_pd;

/* Opens and validates @path.  Rejects anything that is not PERFILE2 (or
 * is truncated, or is a pipe-mode stream) with NULL, errno set, and @ei
 * naming the file, the offset and what is wrong.
 */
struct sa_pd *sa_pd__open(const char *path, struct sa_errinfo *ei);

/* Same, on a caller-owned buffer that must outlive the reader. */
struct sa_pd *sa_pd__open_mem(const void *buf, size_t len, const char *name,
			      struct sa_errinfo *ei);

void sa_pd__close(struct sa_pd *pd);

size_t sa_pd_nr_attrs(const struct sa_pd *pd);
const struct sa_pd_attr *sa_pd_attr(const struct sa_pd *pd, size_t idx);
/* The attr that sample id @id belongs to, or NULL. */
const struct sa_pd_attr *sa_pd_attr_by_id(const struct sa_pd *pd, uint64_t id);

/* Feature sections; each returns NULL / 0 when absent. */
bool sa_pd_has_feature(const struct sa_pd *pd, int feat);	/* HEADER_* bit */
const char *sa_pd_cpuid(const struct sa_pd *pd);	/* "GenuineIntel,6,94,3" */
const char *sa_pd_cmdline(const struct sa_pd *pd);	/* argv joined by ' ' */
const char *sa_pd_arch(const struct sa_pd *pd);		/* uname -m */
size_t sa_pd_nr_build_ids(const struct sa_pd *pd);
const struct sa_pd_build_id *sa_pd_build_id(const struct sa_pd *pd,
					    size_t idx);
/* The build-id recorded for @filename (exact path), or NULL. */
const struct sa_pd_build_id *sa_pd_find_build_id(const struct sa_pd *pd,
						 const char *filename);

/*
 * The build-id cache, as perf keeps it: DIR/NAME/HEX/FILE (FILE "vdso"
 * for NAME "[vdso]", else "elf"), DIR $SA_BUILDID_DIR, else $HOME/.debug
 * (perf's default).  SA_BUILDID_DIR set but empty turns it off.  Used
 * for images no file holds: the vDSO (docs/histories.md).
 */
/* DIR into @buf.  Returns 0, -SA_ERR_NOTFOUND (off, no HOME) or
 * -SA_ERR_TOOBIG.
 */
int sa_pd_buildid_dir(char *buf, size_t size);
/* The path of @name's image with build-id @id into @buf.  @name has no
 * '/' ("[vdso]").  Returns 0 or a negative error.
 */
int sa_pd_buildid_path(const char *name, const uint8_t *id, size_t len,
		       char *buf, size_t size);
/* Saves @size bytes of @data as @name's image with build-id @id (kept
 * when already there: one build-id, one content), written to a
 * temporary file and renamed.  Returns 0 or a negative error.
 */
int sa_pd_buildid_save(const char *name, const uint8_t *id, size_t len,
		       const void *data, size_t size);
size_t sa_pd_nr_auxtrace_index(const struct sa_pd *pd);
const struct sa_pd_auxtrace_index_entry *
sa_pd_auxtrace_index(const struct sa_pd *pd, size_t idx);

/* Size of the data section, for progress reports. */
uint64_t sa_pd_data_size(const struct sa_pd *pd);

/* Pull iterator over the data section in file order.  Returns 1 with @ev
 * filled, 0 at the end, or a negative error with @ei filled (the offset
 * of the bad record).  After an error the iterator stops: a record size
 * that cannot be trusted leaves no way to find the next record.
 * sa_pd_rewind() starts again from the first record.
 */
int sa_pd_next(struct sa_pd *pd, struct sa_pd_event *ev,
	       struct sa_errinfo *ei);
void sa_pd_rewind(struct sa_pd *pd);

/* Returns a name for a record type ("MMAP2", "AUXTRACE", ...). */
const char *sa_pd_type_name(uint32_t type);

/*
 * Writer.
 */
struct sa_pd_writer;

/* Creates @path (truncating it).  NULL + errno + @ei on failure. */
struct sa_pd_writer *sa_pd_writer__new(const char *path,
				       struct sa_errinfo *ei);

/* Adds an attribute with its sample ids.  All attrs come before the first
 * record.  @attr->size is set by the writer.
 */
int sa_pd_writer_add_attr(struct sa_pd_writer *w,
			  const struct perf_event_attr *attr,
			  const uint64_t *ids, size_t nr_ids,
			  const char *name);

/* The sample_id_all trailer that typed writers append (per the first
 * attr's sample_type, when it has sample_id_all).  A NULL @sid writes a
 * zeroed trailer naming the first attr's first id: perf would misparse a
 * record without it.
 */
int sa_pd_writer_mmap2(struct sa_pd_writer *w, uint32_t pid, uint32_t tid,
		       uint64_t start, uint64_t len, uint64_t pgoff,
		       uint32_t prot, uint32_t flags, const char *filename,
		       const struct sa_pd_sample_id *sid);
int sa_pd_writer_comm(struct sa_pd_writer *w, uint32_t pid, uint32_t tid,
		      const char *comm, bool exec,
		      const struct sa_pd_sample_id *sid);
int sa_pd_writer_fork(struct sa_pd_writer *w, bool exit_, uint32_t pid,
		      uint32_t ppid, uint32_t tid, uint32_t ptid,
		      uint64_t time, const struct sa_pd_sample_id *sid);
int sa_pd_writer_itrace_start(struct sa_pd_writer *w, uint32_t pid,
			      uint32_t tid,
			      const struct sa_pd_sample_id *sid);
int sa_pd_writer_aux(struct sa_pd_writer *w, uint64_t aux_offset,
		     uint64_t aux_size, uint64_t flags,
		     const struct sa_pd_sample_id *sid);
int sa_pd_writer_lost(struct sa_pd_writer *w, uint64_t id, uint64_t lost,
		      const struct sa_pd_sample_id *sid);
int sa_pd_writer_auxtrace_info(struct sa_pd_writer *w, uint32_t type,
			       const uint64_t *priv, size_t nr_priv);
/* Writes an AUXTRACE record followed by @size bytes of @data, zero-padded
 * to 8 bytes with the padding counted in the record's size (as perf
 * record does), and adds it to the HEADER_AUXTRACE index.  An AUXTRACE_INFO
 * must come first (perf fails otherwise): -SA_ERR_INVAL.
 */
int sa_pd_writer_auxtrace(struct sa_pd_writer *w, const void *data,
			  uint64_t size, uint64_t offset, uint64_t reference,
			  uint32_t idx, uint32_t tid, uint32_t cpu);
int sa_pd_writer_finished_round(struct sa_pd_writer *w);
/* PERF_RECORD_AUX_OUTPUT_HW_ID with @hw_id, then the trailer (@sid: the
 * CPU the id belongs to goes in @sid->cpu; perf needs it).
 */
int sa_pd_writer_aux_output_hw_id(struct sa_pd_writer *w, uint64_t hw_id,
				  const struct sa_pd_sample_id *sid);
/* Any other record, header included, written as given. */
int sa_pd_writer_raw(struct sa_pd_writer *w, const void *rec, size_t len);

/* Feature sections written by sa_pd_writer_close(). */
int sa_pd_writer_add_build_id(struct sa_pd_writer *w, int32_t pid,
			      uint16_t misc, const uint8_t *id, size_t len,
			      const char *filename);
int sa_pd_writer_set_cmdline(struct sa_pd_writer *w, int argc,
			     char *const argv[]);
int sa_pd_writer_set_cpuid(struct sa_pd_writer *w, const char *cpuid);
int sa_pd_writer_set_arch(struct sa_pd_writer *w, const char *arch);
int sa_pd_writer_set_hostname(struct sa_pd_writer *w, const char *host);
int sa_pd_writer_set_osrelease(struct sa_pd_writer *w, const char *rel);
int sa_pd_writer_set_nr_cpus(struct sa_pd_writer *w, uint32_t avail,
			     uint32_t online);

/* Writes the feature sections and the final header, closes the file and
 * frees @w (also on error).  Returns 0 or a negative error.
 */
int sa_pd_writer_close(struct sa_pd_writer *w, struct sa_errinfo *ei);

/* Frees @w without finishing the file (error paths).  Accepts NULL. */
void sa_pd_writer__free(struct sa_pd_writer *w);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_PERFDATA_H */
