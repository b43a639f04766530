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

struct sa_context;

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
	/* Decision context of the anomalies (NULL: none computed). */
	const struct sa_context *context;
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

/*
 * Decision context (cooperative bug isolation, Liblit et al., PLDI 2005):
 * for each of the top anomalies on a conditional branch, the earlier
 * decisions of the same thread, in the same call or its callers up to
 * SA_CONTEXT_DEPTH frames, whose outcome predicts the anomalous outcome.
 * Ranked by importance; on a tie, the nearest call first.  See
 * docs/report.md.
 *
 *	c = sa_context__new(list, 5);
 *	for each window:
 *		opts.flow_fn = sa_context_flow; opts.flow_ctx = c;
 *		sa_decode_file(window, &opts, scratch_hist, &ei);
 *		sa_context_end_window(c);
 *	sa_context_finish(c);
 *	sa_context_write_text(c, stdout);
 */
#define SA_CONTEXT_DEPTH 4	/* the call and 3 callers */

struct sa_context;

/* One predicate that passed: branch @offset of @binary went @taken. */
struct sa_context_pred {
	const char *function, *file, *insn, *binary;
	int line;
	uint64_t offset;	/* link-time */
	int taken;		/* the predicate: 1 taken, 0 not taken */
	unsigned distance;	/* 0: the same call, 1: its caller, ... */
	double failure;		/* P(anomalous | predicate true) */
	double context;		/* P(anomalous | its branch observed) */
	double increase;	/* failure - context */
	double lower;		/* 95% lower bound of the increase */
	double importance;	/* harmonic mean of increase, log-coverage */
	uint64_t f_true, s_true;	/* anomalous / other runs, true */
	uint64_t f_obs, s_obs;		/* ... where its branch ran */
	uint64_t num_f, num_s;		/* all anomalous / other runs */
};

/* Watches the first @max significant anomalies of @l (borrowed: it must
 * outlive the context) that are decisions of a conditional branch.
 * Returns NULL (errno) on failure.
 */
struct sa_context *sa_context__new(const struct sa_anomaly_list *l,
				   size_t max);
void sa_context__free(struct sa_context *c);
/* An sa_flow_fn: @ctx is the context.  Returns 0 or -ENOMEM. */
int sa_context_flow(void *ctx, const struct sa_elem *e,
		    const struct sa_flow_info *fi);
/* Ends a window: its image and threads are forgotten. */
void sa_context_end_window(struct sa_context *c);
/* Ranks the predicates.  Returns 0 or -ENOMEM. */
int sa_context_finish(struct sa_context *c);

size_t sa_context_nr_anomalies(const struct sa_context *c);
/* The @i-th watched anomaly, with its number of ranked predicates and of
 * anomalous and other executions; NULL past the end.
 */
const struct sa_anomaly *sa_context_anomaly(const struct sa_context *c,
					    size_t i, size_t *nr_preds,
					    uint64_t *num_f, uint64_t *num_s);
const struct sa_context_pred *sa_context_pred(const struct sa_context *c,
					      size_t i, size_t k);
/* The ranked predicates of @a (*@nr of them), or NULL. */
const struct sa_context_pred *
sa_context_for(const struct sa_context *c, const struct sa_anomaly *a,
	       size_t *nr);

/* "the error branch at parse.c:88 follows `jle ...` taken at parse.c:71
 * in 96% of its executions (12% otherwise); Increase ...".
 */
int sa_context_write_sentence(const struct sa_anomaly *a,
			      const struct sa_context_pred *p, FILE *f);
/* Text: a paragraph per anomaly, its first 5 predicates.  JSON lines:
 * one record per anomaly, schema "sensor-agent.context/1", with the
 * "context" array.  Both return 0 or -EIO.
 */
int sa_context_write_text(const struct sa_context *c, FILE *f);
int sa_context_write_jsonl(const struct sa_context *c, FILE *f,
			   const char *source);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_REPORT_H */
