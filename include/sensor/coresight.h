/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: CoreSight inputs (ETMv3, PTM, ETMv4, ETE).
 *
 * Three inputs lead to the CoreSight decoder (decoders/etm, OpenCSD):
 *
 *  - Arm "Debug and Trace Snapshot" directories (snapshot.ini, device
 *    .ini files, trace.ini, memory dumps), as OpenCSD's tests and DS-5
 *    write them: sa_cs_snapshot__open(), sa_cs_decode_snapshot().
 *  - cs_etm perf.data from Linux perf and simpleperf: the session reads
 *    the file and calls sa_cs_perf_info_parse() on the AUXTRACE_INFO
 *    private array, then sa_cs_perf_decoder__new() per AUXTRACE buffer.
 *  - Raw CoreSight dumps with a trace ID and register values given by the
 *    user or by documented defaults: sa_cs_decode_raw().
 *
 * See docs/coresight.md for formats, defaults and what was verified.
 */
#ifndef SENSOR_CORESIGHT_H
#define SENSOR_CORESIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensor/error.h"
#include "sensor/hist.h"
#include "sensor/image.h"
#include "sensor/session.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sa_dec;		/* decoders/decoder.h */

enum sa_cs_protocol {
	SA_CS_PROTO_NONE = 0,
	SA_CS_PROTO_ETMV3,
	SA_CS_PROTO_PTM,
	SA_CS_PROTO_ETMV4,
	SA_CS_PROTO_ETE,
};

/* Returns "ETMv4", ... or "none". */
const char *sa_cs_protocol_name(enum sa_cs_protocol p);

/* Parses "etmv3", "ptm", "etmv4", "ete" (any case).  Returns
 * SA_CS_PROTO_NONE for anything else.
 */
enum sa_cs_protocol sa_cs_protocol_parse(const char *s);

/*
 * Register values of one trace source.  A field left 0 takes the default
 * that docs/coresight.md lists (for ETMv4: TRCIDR0 0x28000ea1, TRCIDR1
 * 0x4100f403, TRCIDR2 0x00000488, TRCCONFIGR 0x1 = plain instruction
 * trace without cycle counts, context IDs, VMIDs, timestamps or return
 * stack, an ETMv4.0 on an Armv8-A core).
 */
struct sa_cs_regs {
	uint32_t trcidr0, trcidr1, trcidr2, trcidr8;
	uint32_t trcconfigr;
	uint32_t trcdevarch;
	uint32_t etmidr, etmcr, etmccer;
};

/* Raw CoreSight input (struct sa_decode_opts.cs_raw). */
struct sa_cs_raw_opts {
	const char *trace_file;		/* the dump */
	uint8_t trace_id;		/* the source to decode (0x01..0x6f) */
	enum sa_cs_protocol protocol;	/* NONE: ETMv4 */
	bool unformatted;		/* raw protocol bytes (TRBE, one
					 * source), not 16-byte frames */
	struct sa_cs_regs regs;		/* zeros: the defaults */
	/* Code memory: sa_decode_opts.binaries (ELF at PATH@ADDR, loaded
	 * as the loader would) and sa_decode_opts.images (flat dumps).
	 */
};

/*
 * Snapshot directories.
 */
struct sa_cs_snapshot;

/* Reads @dir/snapshot.ini, every device .ini it lists and trace.ini.
 * Keys may repeat (ETE multi-session snapshots map one core to several
 * sources) and all values are kept.  Returns NULL with errno set and @ei
 * naming the file and line of the first problem: a line that is neither
 * a section, a key=value pair nor a comment, a missing required key, a
 * register value that is not a number, a file over 1 MiB.
 */
struct sa_cs_snapshot *sa_cs_snapshot__open(const char *dir,
					    struct sa_errinfo *ei);
void sa_cs_snapshot__free(struct sa_cs_snapshot *ss);

/* Same from in-memory .ini texts (for the fuzzer and unit tests):
 * @texts[i] (@lens[i] bytes) is the file called @names[i]; snapshot.ini
 * and the files it names must be among them.  Such a snapshot reads no
 * file: its dumps count as skipped and its decoders fail with
 * -SA_ERR_NOTFOUND after the registers were checked.
 */
struct sa_cs_snapshot *sa_cs_snapshot__parse_mem(size_t nr,
						 const char *const *names,
						 const char *const *texts,
						 const size_t *lens,
						 struct sa_errinfo *ei);

/* Trace buffers in trace.ini order. */
size_t sa_cs_snapshot_nr_buffers(const struct sa_cs_snapshot *ss);
const char *sa_cs_snapshot_buffer_name(const struct sa_cs_snapshot *ss,
				       size_t idx);
/* Number of core (ETM/PTM/ETE) sources that write into buffer @idx. */
size_t sa_cs_snapshot_buffer_nr_sources(const struct sa_cs_snapshot *ss,
					size_t idx);
/* Number of core sources (in any buffer) that cannot be decoded because
 * the source or its core has no device file: a device .ini listed in
 * snapshot.ini but missing (skipped with a warning when the snapshot
 * is opened), or a name no device .ini carries.  sa_cs_snapshot_decoder()
 * decodes the buffer's other sources and warns naming these, as
 * trc_pkt_lister does.
 */
size_t sa_cs_snapshot_nr_missing_sources(const struct sa_cs_snapshot *ss);

/* Maps every memory dump of every core into @img (sa_image_add_raw),
 * once per distinct file region.  A dump file that is missing or
 * unreadable is skipped with a warning: its code then decodes to
 * "memory not accessible" gaps.  Returns the number of skipped dumps
 * (>= 0), or a negative error.
 */
int sa_cs_snapshot_load_image(struct sa_cs_snapshot *ss, struct sa_image *img,
			      struct sa_errinfo *ei);

/* Flags of sa_cs_snapshot_decoder(). */
#define SA_CS_NO_SRC_ADDR_N	0x1	/* ETE: no range split on N */
#define SA_CS_TINY_QUEUE	0x2	/* a 2-element queue: OpenCSD waits
					 * after every other element (tests
					 * the WAIT/FLUSH path)
					 */

/* Creates the decoder of trace buffer @idx, reading its file (the bytes
 * stay owned by @ss until it is freed).  Buffers without a core source
 * (STM, ITM) give -SA_ERR_UNSUPPORTED.  Sources whose core OpenCSD does
 * not know (e.g. Cortex-M55 in OpenCSD 1.3) are skipped with a warning;
 * when none is left the call fails.  NULL, errno and @ei on error.
 */
struct sa_dec *sa_cs_snapshot_decoder(struct sa_cs_snapshot *ss, size_t idx,
				      struct sa_image *img, unsigned flags,
				      struct sa_errinfo *ei);

/* Decodes every trace buffer of the snapshot in @dir that has core
 * sources, with the memory dumps as image (plus @o->binaries and
 * @o->images when given), into @h.  Returns 0 when something was decoded
 * (losses are in sa_hist_decode(h)), or a negative error with @ei.
 */
/* (This and sa_cs_decode_raw() are implemented by the session module,
 * src/session/coresight.c, on the same path as perf.data.)
 */
int sa_cs_decode_snapshot(const char *dir, const struct sa_decode_opts *o,
			  struct sa_hist *h, struct sa_errinfo *ei);

/* Decodes the raw dump of @o->cs_raw into @h. */
int sa_cs_decode_raw(const struct sa_decode_opts *o, struct sa_hist *h,
		     struct sa_errinfo *ei);

/* Creates the decoder of a raw dump (what sa_cs_decode_raw() uses).
 * @buf is borrowed.
 */
struct sa_dec *sa_cs_raw_decoder__new(const struct sa_cs_raw_opts *r,
				      const uint8_t *buf, size_t len,
				      struct sa_image *img,
				      struct sa_errinfo *ei);

/*
 * cs_etm perf.data (PERF_RECORD_AUXTRACE_INFO type 3).
 */
/* perf 6.x: the trace ID comes in a PERF_RECORD_AUX_OUTPUT_HW_ID */
#define SA_CS_TRACE_ID_UNUSED	0x80000000u

struct sa_cs_perf_cpu {
	int cpu;
	enum sa_cs_protocol protocol;
	uint32_t traceidr;		/* as recorded, flag bit included */
	uint8_t trace_id;		/* traceidr & 0x7f */
	struct sa_cs_regs regs;
};

struct sa_cs_perf_info {
	uint32_t version;		/* header version 0..2 */
	uint32_t pmu_type;
	bool snapshot;			/* perf record -S */
	size_t nr_cpus;
	struct sa_cs_perf_cpu *cpus;
};

/* Parses the AUXTRACE_INFO private array (@nr u64 after the type field).
 * Handles header versions 0 (fixed blocks, perf <= 5.10 and simpleperf)
 * and 1/2 (blocks with NR_TRC_PARAMS), ETMv3/PTM, ETMv4 and ETE magics.
 * On success *@out is a new object for sa_cs_perf_info__free().  Errors:
 * -SA_ERR_TRUNCATED (array shorter than its CPU count says),
 * -SA_ERR_FORMAT (unknown magic), -SA_ERR_UNSUPPORTED (version > 2),
 * each with the u64 index in @ei->offset.
 */
int sa_cs_perf_info_parse(const uint64_t *priv, size_t nr,
			  struct sa_cs_perf_info **out, struct sa_errinfo *ei);
void sa_cs_perf_info__free(struct sa_cs_perf_info *info);

/* Sets the trace ID of @cpu from a PERF_RECORD_AUX_OUTPUT_HW_ID record
 * (perf 6.x, header version 2).  Returns 0 or -SA_ERR_NOTFOUND.
 */
int sa_cs_perf_info_set_trace_id(struct sa_cs_perf_info *info, int cpu,
				 uint8_t trace_id);

/* Creates the decoder for one AUXTRACE buffer: @buf (borrowed, @len
 * bytes, at @file_offset in the perf.data for messages).  Formatted
 * buffers (ETR/ETB: PERF_AUX_FLAG_CORESIGHT_FORMAT_RAW clear) hold every
 * CPU's trace ID: pass @cpu -1 and all CPUs are decoded.  Unformatted
 * buffers (TRBE: @raw true) hold one CPU's trace: pass that @cpu.
 * Memory reads go to @img.  NULL, errno and @ei on error.
 */
struct sa_dec *sa_cs_perf_info_decoder__new(const struct sa_cs_perf_info *info,
					    const uint8_t *buf, size_t len,
					    uint64_t file_offset, bool raw,
					    int cpu, struct sa_image *img,
					    struct sa_errinfo *ei);

/* Shorthand for the session: parses @priv (@nr_priv u64s of the
 * AUXTRACE_INFO record) and creates the decoder of a formatted AUXTRACE
 * buffer (ETR/ETB, every CPU's trace ID; @cpu is only used in messages).
 * For TRBE buffers (AUX flag PERF_AUX_FLAG_CORESIGHT_FORMAT_RAW, 0x100)
 * and for perf 6.x trace IDs from AUX_OUTPUT_HW_ID, use
 * sa_cs_perf_info_parse() and sa_cs_perf_info_decoder__new().
 */
struct sa_dec *sa_cs_perf_decoder__new(const uint64_t *priv, size_t nr_priv,
				       int cpu, const uint8_t *buf, size_t len,
				       uint64_t file_offset,
				       struct sa_image *img,
				       struct sa_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_CORESIGHT_H */
