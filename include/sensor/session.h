/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: decoding a saved trace window into a history.
 *
 * A session ties the modules together: it reads the input (perf.data, a
 * raw Intel PT stream with flat images, a CoreSight snapshot directory or
 * raw dump), builds the process image from the sideband and the user's
 * options, runs the backend decoder on every trace buffer and feeds the
 * flow to the history builder.
 */
#ifndef SENSOR_SESSION_H
#define SENSOR_SESSION_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sensor/error.h"
#include "sensor/flow.h"
#include "sensor/hist.h"
#include "sensor/image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SA_ADDR_NONE UINT64_MAX

/* --binary PATH[@ADDR] */
struct sa_binary_opt {
	const char *path;
	uint64_t addr;		/* SA_ADDR_NONE: from MMAP records or as linked */
};

/* --image FILE[:OFFSET[-END]]@ADDR (ptxed's --raw) */
struct sa_raw_image {
	const char *path;
	uint64_t offset;
	uint64_t size;		/* 0: to the end of the file */
	uint64_t addr;
};

typedef void (*sa_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct sa_cs_raw_opts;	/* <sensor/coresight.h> */

/* The Intel PT backend (--decoder): libipt's block decoder, the reference
 * and the default, or the fast control-flow-graph walk (docs/ipt.md).
 */
enum sa_ipt_decoder {
	SA_IPT_DECODER_LIBIPT = 0,
	SA_IPT_DECODER_FAST,
};

/* What a flow callback is told beside each element. */
struct sa_flow_info {
	int32_t pid, tid;	/* the trace buffer's process and thread, -1
				 * when not known (per-CPU traces, CoreSight) */
	struct sa_image *image;	/* borrowed: to name addresses (lookups
				 * fill its caches) */
	/* perf's conversion of the trace's TSC into perf time (ns):
	 * time_zero + (tsc >> shift) * mult + ((tsc & mask) * mult >> shift)
	 */
	bool has_time_conv;
	uint16_t time_shift;
	uint32_t time_mult;
	uint64_t time_zero;
};

/* Called with every element of the flow, in trace order, after the
 * history builder saw it (the ordered flow, not the summed history).
 * Returns 0, or a negative error that ends the decode with that error.
 */
typedef int (*sa_flow_fn)(void *ctx, const struct sa_elem *e,
			  const struct sa_flow_info *fi);

struct sa_decode_opts {
	const char *symfs;			/* --symfs DIR */
	size_t nr_binaries;
	const struct sa_binary_opt *binaries;	/* --binary */
	/* Raw Intel PT input (--pt FILE --image ... --cpu F/M/S). */
	const char *pt_file;
	size_t nr_images;
	const struct sa_raw_image *images;
	uint16_t cpu_family;
	uint8_t cpu_model, cpu_stepping;
	/* Raw CoreSight input; see <sensor/coresight.h>. */
	const struct sa_cs_raw_opts *cs_raw;
	/* Only decode the trace of this pid / tid (0: all). */
	pid_t pid, tid;
	/* Taken branches in trace order (--branches). */
	sa_branch_fn branch_fn;
	void *branch_ctx;
	/* Every flow element in trace order (decode --timeline). */
	sa_flow_fn flow_fn;
	void *flow_ctx;
	/* Progress on long inputs, called at most every 64 KiB of trace. */
	sa_progress_fn progress_fn;
	void *progress_ctx;
	/* More error sinks (--error-sink SYMBOL) beside the built-in ones of
	 * sa_hist_default_sinks().
	 */
	size_t nr_error_sinks;
	const char *const *error_sinks;
	/* Binaries analysed once for many inputs (<sensor/image.h>): the
	 * image of each decode takes them from here (NULL: analysed for
	 * each input, freed after it).  Borrowed.
	 */
	struct sa_image_cache *cache;
	/* Intel PT backend (--decoder fast|libipt). */
	enum sa_ipt_decoder ipt_decoder;
};

enum sa_input_kind {
	SA_INPUT_UNKNOWN = 0,
	SA_INPUT_PERF_DATA,	/* PERFILE2 */
	SA_INPUT_SNAPSHOT,	/* Arm snapshot directory (snapshot.ini) */
	SA_INPUT_RAW_PT,	/* options: --pt */
	SA_INPUT_RAW_ETM,	/* options: CoreSight raw dump */
};

/* Says what @path is, by its content (not its name). */
enum sa_input_kind sa_detect_input(const char *path);

/* Decodes @path (or the raw input named in @o when @path is NULL) and
 * adds to @h.  Returns 0 when something was decoded (the losses are in
 * sa_hist_decode(h)), or a negative error with @ei filled when nothing
 * could be: not perf.data, no AUX data, missing binary, ...
 */
int sa_decode_file(const char *path, const struct sa_decode_opts *o,
		   struct sa_hist *h, struct sa_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_SESSION_H */
