/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: hardware trace capture through perf_event.
 *
 * The pieces below the window sources of <sensor/backend.h>:
 *
 *   PMU discovery   reads /sys/bus/event_source/devices/<pmu> (or a copy):
 *                   type, format/, caps/, nr_addr_filters, cs_etm sinks/
 *                   and cpuN/trcidr/, max_nonturbo_ratio, tsc_art_ratio.
 *   attributes      builds perf_event_attr from perf-style config terms
 *                   through the format/ bit positions and checks them
 *                   against caps/ as perf and the kernel do.
 *   filters         perf's --filter syntax to the kernel's
 *                   PERF_EVENT_IOC_SET_FILTER string.
 *   rings           the perf_event mmap data ring and AUX area, read with
 *                   the kernel's head/tail protocol (libperf's read_init,
 *                   read_event, consume, read_done), incl. AUX overwrite
 *                   (snapshot) mode.
 *   records         sideband records (MMAP2, COMM, FORK, EXIT, LOST, AUX,
 *                   ITRACE_START) with their sample_id_all trailer.
 *
 * Nothing here needs the hardware: the ring reader works on any memory laid
 * out as the kernel lays it out, and discovery takes its sysfs root as an
 * argument.
 */
#ifndef SENSOR_CAPTURE_H
#define SENSOR_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/perf_event.h>

#include "sensor/error.h"
#include "sensor/perfdata.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SA_CAP_SYSFS_DEFAULT "/sys/bus/event_source/devices"

/*
 * PMU discovery.
 */

/* Which perf_event_attr field a format term lives in. */
enum sa_cap_field {
	SA_CAP_CONFIG = 0,
	SA_CAP_CONFIG1,
	SA_CAP_CONFIG2,
	SA_CAP_CONFIG3,
};

#define SA_CAP_NAME_MAX 64

struct sa_cap_format {
	char name[SA_CAP_NAME_MAX];
	enum sa_cap_field field;
	uint64_t mask;		/* the bits of @field, as format/ says */
};

/* Parses a format/ file body: "config:13", "config:14-17",
 * "config2:0-31", "config3:0-11", "config:0-3,7" (ranges joined by ',').
 * Returns 0, or -SA_ERR_FORMAT with @ei naming @what and the offset.
 */
int sa_cap_format_parse(const char *spec, const char *what,
			struct sa_cap_format *f, struct sa_errinfo *ei);

/* Spreads @val over the set bits of @mask, lowest first (perf's
 * pmu_format_value).  Returns -SA_ERR_INVAL when @val does not fit.
 */
int sa_cap_format_value(uint64_t mask, uint64_t val, uint64_t *out);

/* CoreSight ETM registers of one CPU (cs_etm/cpuN/). */
struct sa_cap_etm_cpu {
	int cpu;
	uint32_t trcidr[14];	/* trcidr/trcidrN, valid per @has_trcidr */
	uint16_t has_trcidr;	/* bit N: trcidrN was read */
	uint32_t trcauthstatus;	/* mgmt/trcauthstatus */
	uint32_t traceid;	/* trctraceid or mgmt/trctraceid */
	bool has_traceid;
};

struct sa_cap_pmu;

/* Reads PMU @name ("intel_pt", "cs_etm") under @root (NULL: the real
 * sysfs).  NULL + errno on failure: SA_ERR_NOHW when the directory is
 * absent (@ei says why, see sa_cap_explain_nohw()), SA_ERR_FORMAT when a
 * file does not parse (@ei names the file).
 */
struct sa_cap_pmu *sa_cap_pmu__open(const char *root, const char *name,
				    struct sa_errinfo *ei);
void sa_cap_pmu__free(struct sa_cap_pmu *p);

const char *sa_cap_pmu_name(const struct sa_cap_pmu *p);
uint32_t sa_cap_pmu_type(const struct sa_cap_pmu *p);
/* nr_addr_filters, 0 when absent. */
uint32_t sa_cap_pmu_nr_addr_filters(const struct sa_cap_pmu *p);

size_t sa_cap_pmu_nr_formats(const struct sa_cap_pmu *p);
const struct sa_cap_format *sa_cap_pmu_format_at(const struct sa_cap_pmu *p,
						 size_t idx);
/* The format term @name, or NULL. */
const struct sa_cap_format *sa_cap_pmu_format(const struct sa_cap_pmu *p,
					      const char *name);

/* caps/@name, read as hex like perf ("%x").  0 or -SA_ERR_NOTFOUND. */
int sa_cap_pmu_cap(const struct sa_cap_pmu *p, const char *name,
		   uint64_t *val);

/* cs_etm sinks/: names and config2 hashes. */
size_t sa_cap_pmu_nr_sinks(const struct sa_cap_pmu *p);
const char *sa_cap_pmu_sink_name(const struct sa_cap_pmu *p, size_t idx);
int sa_cap_pmu_sink(const struct sa_cap_pmu *p, const char *name,
		    uint64_t *hash);

/* cs_etm cpuN/ directories, in CPU order. */
size_t sa_cap_pmu_nr_etm_cpus(const struct sa_cap_pmu *p);
const struct sa_cap_etm_cpu *sa_cap_pmu_etm_cpu(const struct sa_cap_pmu *p,
						size_t idx);

/* intel_pt timing files; -SA_ERR_NOTFOUND when absent. */
int sa_cap_pmu_max_nonturbo_ratio(const struct sa_cap_pmu *p,
				  uint32_t *ratio);
int sa_cap_pmu_tsc_art_ratio(const struct sa_cap_pmu *p, uint32_t *num,
			     uint32_t *den);

/* Whether the running kernel knows AUX pause/resume (attr.aux_action:
 * aux_start_paused, aux_pause, aux_resume; Linux 6.13).  Probed with a
 * dummy event: 1 yes, 0 no, or -errno when perf_event_open is refused.
 * Whether a PMU supports it is a PMU capability (intel_pt on hardware
 * with it); windows do not use it yet, see docs/capture.md.
 */
int sa_cap_kernel_aux_pause(void);

/* Writes into @buf why no tracing PMU is usable and what to do, from the
 * facts of this machine: the PMUs under @root, /proc/cpuinfo (vendor and
 * the hypervisor flag), /proc/sys/kernel/perf_event_paranoid and
 * CAP_PERFMON / CAP_SYS_ADMIN.  @proc is the procfs root (NULL:
 * "/proc"), for tests.  Returns the SA_ERR_* code that fits (-SA_ERR_NOHW
 * or -SA_ERR_PERM).
 */
int sa_cap_explain_nohw(const char *root, const char *proc,
			const char *pmu_name, char *buf, size_t len);

/*
 * perf_event_attr.
 */
struct sa_cap_attr_opts {
	/* Config terms, perf's syntax: "psb_period=3,mtc,cyc=0".  A bare
	 * term means 1.  NULL or "": perf's defaults only.
	 */
	const char *terms;
	const char *sink;	/* cs_etm: sinks/<name> -> sinkid */
	bool kernel;		/* also trace the kernel */
	bool per_cpu;		/* per-CPU event: PERF_SAMPLE_CPU, inherit */
	bool no_defaults;	/* start from 0, not perf's default config */
};

/* Fills @attr for the trace event of @p: type, config/config1/2/3 from
 * perf's default config and @o->terms, user space only unless
 * @o->kernel, disabled, sample_id_all and the sample_type perf uses.
 * Validates the terms against format/ and caps/ (and, for cs_etm, the
 * ETM ID registers), as perf and the kernel would.  Returns 0 or
 * -SA_ERR_INVAL with @ei naming the term and the valid values.
 */
int sa_cap_attr_build(const struct sa_cap_pmu *p,
		      const struct sa_cap_attr_opts *o,
		      struct perf_event_attr *attr, struct sa_errinfo *ei);

/* Fills @attr for the sideband event: a software dummy event with mmap,
 * mmap2, comm, comm_exec, task, context_switch and sample_id_all (TID,
 * TIME, IDENTIFIER; CPU when @per_cpu).
 */
void sa_cap_attr_sideband(struct perf_event_attr *attr, bool kernel,
			  bool per_cpu);

/*
 * Address filters.
 */
#define SA_CAP_FILTER_MAX 4096

/* Turns perf --filter syntax into the string the kernel takes, as perf
 * does (addr_filter__to_str): "filter 0x1000/0x200@/abs/path", filters
 * joined by ','.  Accepts filter|start|stop|tracestop (written as
 * "stop", as perf does) START [/ SIZE|END_SYMBOL] [@FILE], where START is
 * an address or a function symbol of FILE (its file offset; a "filter" on
 * a symbol alone covers its st_size); "filter * @FILE", "filter @FILE"
 * or just "/FILE" mean the whole file (0/file size, as perf's
 * addr_filter__entire_dso).  FILE is made absolute with realpath(3).
 * Returns the number of filters, or: -SA_ERR_INVAL for more than
 * @max_filters (perf: "number of address filters exceeds maximum") or
 * bad syntax (@ei has the offset), -SA_ERR_UNSUPPORTED when
 * @max_filters is 0 (the PMU has none), -SA_ERR_NOTFOUND for an unknown
 * symbol, -errno for a FILE that cannot be opened.
 */
int sa_cap_filter_parse(const char *spec, uint32_t max_filters, char *out,
			size_t len, struct sa_errinfo *ei);

/* The default filter: the main binary of @pid (the mapping of
 * /proc/PID/exe in @proc/PID/maps), whole file.  @proc NULL: "/proc".
 */
int sa_cap_filter_default(const char *proc, pid_t pid, char *out,
			  size_t len, struct sa_errinfo *ei);

/* Resolves a trigger "SYMBOL[@BINARY]" of process @pid: BINARY (default
 * the target's main executable, /proc/PID/exe under @proc, NULL:
 * "/proc") made absolute into @file, and the file offset of SYMBOL's
 * first instruction in *@off (.symtab, then .dynsym), the place a uprobe
 * goes.  Errors name the symbol and the binary: -SA_ERR_NOTFOUND when
 * there is no such function, -SA_ERR_INVAL when the name is ambiguous
 * or the spec malformed, -ENOENT and the like when BINARY cannot be read.
 */
int sa_cap_trigger_resolve(const char *proc, pid_t pid, const char *spec,
			   char *file, size_t len, uint64_t *off,
			   struct sa_errinfo *ei);

/*
 * The trigger of a hardware snapshot: a uprobe perf event on a function.
 */

/* Threads of the target a uprobe watches (those present at the open). */
#define SA_CAP_UPROBE_MAX_THREADS 256

/* Fills @attr for a uprobe at file offset @off of @path (which must stay
 * alive until the event is opened: config1 points at it) from the uprobe
 * PMU's type under @sysfs_root (NULL: SA_CAP_SYSFS_DEFAULT): sampling
 * every hit, TID and time.  -SA_ERR_NOTFOUND when the kernel has no
 * uprobe PMU.
 */
int sa_cap_uprobe_attr(const char *sysfs_root, const char *path,
		       uint64_t off, struct perf_event_attr *attr,
		       struct sa_errinfo *ei);

/* Opens the uprobe on every thread of @pid (per-thread events with a
 * small ring each; threads created later are not watched), beside the
 * trace session.  NULL with errno and @ei set on failure.
 */
struct sa_cap_uprobe;
struct sa_cap_uprobe *sa_cap_uprobe__open(const char *sysfs_root, pid_t pid,
					  const char *path, uint64_t off,
					  struct sa_errinfo *ei);
void sa_cap_uprobe__free(struct sa_cap_uprobe *u);
/* The fds to poll (POLLIN: a hit; POLLHUP: the thread ended). */
size_t sa_cap_uprobe_nr_fds(const struct sa_cap_uprobe *u);
int sa_cap_uprobe_fd(const struct sa_cap_uprobe *u, size_t idx);
/* Consumes the hits in the rings; returns how many there were. */
uint64_t sa_cap_uprobe_read(struct sa_cap_uprobe *u);

/*
 * Sideband records.
 */

/* Bytes of the sample_id_all trailer for @sample_type. */
size_t sa_cap_sample_id_size(uint64_t sample_type);

/* Parses one ring record into @ev (struct from <sensor/perfdata.h>;
 * strings point into @hdr).  @sample_type is the event's, for the
 * sample_id_all trailer; @sample_id_all false means no trailer.
 * Returns 0, -SA_ERR_UNSUPPORTED for a type it does not parse (@ev->type
 * still set), or -SA_ERR_CORRUPT with @ei when the record is too short
 * for its type or a string is not terminated.
 */
int sa_cap_parse_record(const struct perf_event_header *hdr,
			uint64_t sample_type, bool sample_id_all,
			struct sa_pd_event *ev, struct sa_errinfo *ei);

/*
 * Rings.
 */

/* Largest record the reader copies out when it wraps the ring. */
#define SA_CAP_RECORD_MAX 65536

struct sa_cap_ring;

/* Wraps a mapping laid out as perf_event_open's: the user page
 * (struct perf_event_mmap_page) at @base, the data ring at
 * base + pc->data_offset (pc->data_size bytes, a power of two); when
 * @aux is not NULL, the AUX area at @aux (pc->aux_size bytes) as mapped
 * at pc->aux_offset.  @aux_overwrite: the AUX area was mapped read-only
 * (snapshot mode).  The ring borrows both mappings.  NULL + errno
 * (EINVAL with @ei when the user page's offsets or sizes are wrong).
 */
struct sa_cap_ring *sa_cap_ring__new(void *base, void *aux,
				     bool aux_overwrite,
				     struct sa_errinfo *ei);
void sa_cap_ring__free(struct sa_cap_ring *r);

/* libperf's protocol: read_init takes data_head (acquire); read_event
 * returns the next record in [tail, head), 8-byte aligned (in place;
 * copied out into the ring's aligned storage when it wraps, then valid
 * until the next call); consume publishes the new tail (release)
 * so the kernel can reuse the space; read_done ends the batch.
 *
 * read_init returns 0, or -SA_ERR_CORRUPT when head - tail exceeds the
 * ring or either is not a multiple of 8 (the kernel keeps them aligned).
 * read_event returns 1 with @hdr set, 0 when the batch is empty, or
 * -SA_ERR_CORRUPT with @ei (offset = ring position) when a record header
 * is impossible: smaller than the header, not a multiple of 8, or past
 * head.  Either error skips the reader to head.
 */
int sa_cap_ring_read_init(struct sa_cap_ring *r, struct sa_errinfo *ei);
int sa_cap_ring_read_event(struct sa_cap_ring *r,
			   const struct perf_event_header **hdr,
			   struct sa_errinfo *ei);
void sa_cap_ring_consume(struct sa_cap_ring *r);
void sa_cap_ring_read_done(struct sa_cap_ring *r);

/* Bytes in the data ring not yet read. */
uint64_t sa_cap_ring_pending(const struct sa_cap_ring *r);

/* AUX data as at most two chunks of the area, oldest first.  @pos is
 * the position of the first byte in the AUX byte stream (the kernel's
 * aux_head counts).
 */
struct sa_cap_aux_chunk {
	const uint8_t *data[2];
	size_t len[2];
	uint64_t pos;
	bool wrapped;		/* snapshot: the buffer had wrapped */
};

/* Normal mode: the new AUX data [aux_tail, aux_head).  Returns the
 * number of bytes (0: none), or -SA_ERR_CORRUPT when head - tail exceeds
 * the area.  sa_cap_aux_consume() then moves aux_tail (release).
 */
int64_t sa_cap_aux_peek(struct sa_cap_ring *r, struct sa_cap_aux_chunk *c,
			struct sa_errinfo *ei);
void sa_cap_aux_consume(struct sa_cap_ring *r, uint64_t bytes);

/* Snapshot (overwrite) mode: aux_head is the only valid pointer.  Finds
 * the valid data the way perf's intel_pt_find_snapshot() does without
 * reference buffers: once anything was written in the last 4 KiB of the
 * area the buffer has wrapped, and the whole area, oldest first from
 * head, is valid; before that, [0, head).  The AUX area must be zeroed
 * when mapped (the kernel's AUX pages are).  Call with the trace event
 * disabled.  Returns the bytes, or a negative error.
 */
int64_t sa_cap_aux_snapshot(struct sa_cap_ring *r,
			    struct sa_cap_aux_chunk *c,
			    struct sa_errinfo *ei);

/* Counters of PERF_RECORD_AUX flags and LOST seen by
 * sa_cap_ring_account().
 */
struct sa_cap_ring_stats {
	uint64_t records;
	uint64_t lost_records;		/* sum of LOST.lost */
	uint64_t aux_records;
	uint64_t aux_bytes;		/* sum of AUX.aux_size */
	uint64_t aux_truncated;		/* PERF_AUX_FLAG_TRUNCATED */
	uint64_t aux_overwrite;		/* PERF_AUX_FLAG_OVERWRITE */
	uint64_t aux_partial;		/* PERF_AUX_FLAG_PARTIAL */
	uint64_t aux_collision;		/* PERF_AUX_FLAG_COLLISION */
	uint64_t itrace_start;
};

/* Adds a parsed record to @st. */
void sa_cap_ring_account(struct sa_cap_ring_stats *st,
			 const struct sa_pd_event *ev);


/*
 * A capture session: the perf events on one target and their rings.
 *
 * Per-thread mode (the default) opens, for every thread of @pid
 * (/proc/PID/task, at most SA_CAP_MAX_THREADS), the trace event with its
 * data ring and AUX area and a sideband dummy event whose records go to
 * the same ring (PERF_EVENT_IOC_SET_OUTPUT), as perf record -p does.
 * Threads the target creates later are followed from their FORK record
 * (their events are opened at the next drain).
 * Per-CPU mode opens, on each CPU, one ring with the events of @pid and
 * the events of every other thread of it output to that ring
 * (PERF_EVENT_IOC_SET_OUTPUT), all with inherit, so that the threads
 * that exist and those created later are traced, as perf record -p does.
 * Without a trace attr the session is sideband only (no AUX), which is
 * what this machine can run.
 */
#define SA_CAP_MAX_THREADS 256

struct sa_cap_session_opts {
	pid_t pid;
	/* The trace event (from sa_cap_attr_build()), or NULL for a
	 * sideband-only session.  Copied.
	 */
	const struct perf_event_attr *trace_attr;
	const struct sa_cap_pmu *pmu;	/* for AUXTRACE_INFO; may be NULL */
	const char *filter;	/* kernel filter string, or NULL */
	uint64_t data_size;	/* bytes, power-of-two pages */
	uint64_t aux_size;	/* bytes, power-of-two pages */
	bool snapshot;		/* AUX overwrite: mapped read-only */
	bool per_cpu;		/* one event per CPU (all online CPUs if
				 * @cpu < 0) */
	int cpu;
	bool kernel;
	/* Caps on what one window may hold in memory (0: 64 MiB). */
	uint64_t max_mem;
};

struct sa_cap_session;

/* Opens the events (disabled) and maps their rings.  NULL + errno and
 * @ei: EACCES/EPERM (perf_event_paranoid, CAP_PERFMON: the message
 * says which), ESRCH (no such pid), E2BIG / EINVAL (the kernel refused
 * the attr or the filter: the message names it).
 */
struct sa_cap_session *sa_cap_session__open(
	const struct sa_cap_session_opts *o, struct sa_errinfo *ei);
void sa_cap_session__free(struct sa_cap_session *s);

/* A session over one ring the caller has laid out (the user page at
 * @base, the AUX area at @aux), with no perf events behind it: for
 * replaying a saved ring and for tests with an emulated kernel ring.
 * @id and @sb_id are the sample ids the records carry; the ring's thread
 * is @o->pid.  The mappings are borrowed.  enable/disable do nothing.
 */
struct sa_cap_session *sa_cap_session__wrap(
	const struct sa_cap_session_opts *o, void *base, void *aux,
	uint64_t id, uint64_t sb_id, struct sa_errinfo *ei);

int sa_cap_session_enable(struct sa_cap_session *s);
int sa_cap_session_disable(struct sa_cap_session *s);

/* Moves what the rings hold into the session's window buffers: sideband
 * records (kept raw, as perf.data stores them) and AUX data (normal mode:
 * [aux_tail, aux_head); snapshot mode: the rolling buffer, oldest first).
 * Parsed records go to @fn too when it is not NULL.  Over the memory cap
 * the AUX data is dropped and counted (st.aux_dropped).  Returns the
 * number of records, or a negative error.  @fn sees the records ring by
 * ring (per CPU in per-CPU mode), each ring in its own order, not merged
 * by time: a thread's EXIT written on one CPU can come before its FORK
 * written on another (the records' times tell).
 */
typedef int (*sa_cap_record_fn)(void *ctx, const struct sa_pd_event *ev);
int sa_cap_session_drain(struct sa_cap_session *s, sa_cap_record_fn fn,
			 void *ctx, struct sa_errinfo *ei);

/* Snapshot mode, between dumps: reads the data rings only, so that they
 * do not overflow while the AUX area rolls, and keeps the records except
 * context switches (the next drain keeps the recent ones).  Returns the
 * records read.
 */
int sa_cap_session_drain_sideband(struct sa_cap_session *s,
				  struct sa_errinfo *ei);

/* Writes the window buffers as perf.data at @path (attrs with their ids,
 * AUXTRACE_INFO, synthesized COMM/MMAP2 of the target's mappings at the
 * window start, the sideband, one AUXTRACE record per AUX piece) and
 * empties them.  Returns 0 or a negative error with @ei.
 */
int sa_cap_session_write(struct sa_cap_session *s, const char *path,
			 struct sa_errinfo *ei);

/* Empties the window buffers without writing (a skipped window). */
void sa_cap_session_discard(struct sa_cap_session *s);

struct sa_cap_session_stats {
	struct sa_cap_ring_stats ring;
	uint64_t aux_bytes;		/* AUX bytes taken from the rings */
	uint64_t aux_dropped;		/* over the memory cap */
	uint64_t sideband_bytes;
	uint64_t sideband_dropped;	/* records over the memory cap */
	uint64_t switch_dropped;	/* by sa_cap_session_drain_sideband */
	uint64_t corrupt;		/* ring errors */
	/* threads with events open: per thread, one ring each; per CPU,
	 * those of /proc/PID/task at the start (later ones by inherit)
	 */
	uint64_t threads;
	uint64_t threads_followed;	/* per-thread: opened on FORK */
	uint64_t threads_missed;	/* ... gone first, or over the cap */
};
void sa_cap_session_stats(const struct sa_cap_session *s,
			  struct sa_cap_session_stats *st);
size_t sa_cap_session_nr_rings(const struct sa_cap_session *s);
/* The pending window's buffered sizes. */
uint64_t sa_cap_session_pending_aux(const struct sa_cap_session *s);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_CAPTURE_H */
