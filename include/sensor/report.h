/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: reports a person reads.
 *
 * The HTML report shows the anomalies of one analysis in one
 * self-contained file (inline CSS and one inline script, no network, no
 * external fonts: it opens from a mail attachment): the ranked anomalies
 * with a bar of baseline vs now, the source lines around each decision
 * (or the disassembly when the source cannot be read), per function a
 * heat view of every conditional branch's taken ratio in the baseline and
 * now, and the decode losses the analysis rests on.
 *
 * The timeline turns the ordered flow of one window into Chrome
 * trace-event JSON (the format of chrome://tracing and Perfetto): per
 * thread one complete event per function call, nested, and the decode
 * gaps as instant events.  See docs/report.md.
 */
#ifndef SENSOR_REPORT_H
#define SENSOR_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/error.h"
#include "sensor/flow.h"
#include "sensor/hist.h"
#include "sensor/image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SA_REPORT_DEF_MAX_ANOMALIES 20
#define SA_REPORT_CONTEXT_LINES 6	/* source lines each side */
#define SA_REPORT_CONTEXT_INSNS 8	/* instructions each side */

struct sa_report_opts {
	const char *title;		/* NULL: "sensor-agent report" */
	/* Where to look for source files whose DWARF path is not readable
	 * as it is: DIR/PATH, then DIR/ with PATH's leading components
	 * dropped one by one (NULL: only the DWARF path).
	 */
	const char *source_dir;
	/* The window files, listed in the report (may be NULL). */
	size_t nr_windows;
	const char *const *window_names;
	/* Significant anomalies shown (0: SA_REPORT_DEF_MAX_ANOMALIES). */
	unsigned max_anomalies;
};

/* Writes the HTML report of @l (the result of sa_anomaly_detect() on the
 * windows @wins, @nr of them) to @f.  @bl (may be NULL) gives the
 * baseline side of the heat views.  Every name and path is HTML-escaped.
 *
 * Returns 0, or a negative error with @ei filled: -EIO when writing
 * fails, -ENOMEM.  Sources and binaries that cannot be read are said in
 * the report, they are not errors.
 */
int sa_report_write_html(FILE *f, const struct sa_anomaly_list *l,
			 struct sa_hist *const *wins, size_t nr,
			 struct sa_baseline *bl,
			 const struct sa_report_opts *o,
			 struct sa_errinfo *ei);

/* Writes @s to @f with &, <, >, " and ' escaped for HTML text and
 * attribute values; NULL writes nothing.  Returns 0 or -EIO.
 */
int sa_report_html_escape(FILE *f, const char *s);

/*
 * The timeline.
 *
 *	struct sa_timeline *t = sa_timeline__new();
 *	opts.flow_fn = sa_timeline_flow;	// struct sa_decode_opts
 *	opts.flow_ctx = t;
 *	sa_decode_file(path, &opts, hist, &ei);
 *	sa_timeline_write_json(t, f, path);
 *	sa_timeline__free(t);
 *
 * Memory is bounded: at most SA_TIMELINE_MAX_EVENTS events (calls and
 * gaps; more are counted as dropped in the metadata), calls nested at
 * most SA_TIMELINE_MAX_DEPTH deep per thread, SA_TIMELINE_MAX_THREADS
 * threads.
 */
#define SA_TIMELINE_MAX_EVENTS (4u << 20)
#define SA_TIMELINE_MAX_DEPTH 1024
#define SA_TIMELINE_MAX_THREADS 4096

struct sa_timeline;
struct sa_flow_info;	/* <sensor/session.h> */

/* Returns NULL (errno) on failure. */
struct sa_timeline *sa_timeline__new(void);
void sa_timeline__free(struct sa_timeline *t);

/* An sa_flow_fn: @ctx is the timeline.  Returns 0 or -ENOMEM. */
int sa_timeline_flow(void *ctx, const struct sa_elem *e,
		     const struct sa_flow_info *fi);

/* Writes the Chrome trace-event JSON: "traceEvents" with one metadata
 * event naming each process and thread, one complete event ("ph":"X")
 * per call from the call to the return, in call order, and one instant
 * event ("ph":"i") per gap; "otherData" says which clock "ts" and "dur"
 * use: the trace's timestamps (microseconds) when every range had one,
 * else instruction counts.  Frames still open end with the window
 * ("unfinished").  @source names the window.  Returns 0 or -EIO.
 */
int sa_timeline_write_json(struct sa_timeline *t, FILE *f,
			   const char *source);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_REPORT_H */
