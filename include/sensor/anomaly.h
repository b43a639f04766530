/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: decision-level anomalies.
 *
 * The detector compares the history of one trace window, or of a group of
 * windows, with the baseline of the same build (<sensor/baseline.h>), or
 * two builds of the baseline with each other, and reports:
 *
 *   bias_shift       a conditional branch goes the other way more often;
 *   new_edge         a direction the baseline never took is taken now;
 *   vanished_edge    a direction the baseline took is never taken now;
 *   new_target       an indirect branch reaches a target never seen;
 *   target_shift     an indirect branch's target mix changed;
 *   vanished_target  a usual indirect target is no longer reached;
 *   call_rate        a function is called more or less often per
 *                    instruction of the window;
 *   error_origin     a decision leads into an error sink more often.
 *
 * Every test is a likelihood-ratio (G) test on counts divided by their
 * design effect (Rao-Scott), the design effect being measured from the
 * window-to-window spread in the baseline; p-values are controlled for
 * false discoveries over all the tests of one analysis
 * (Benjamini-Hochberg).  An anomaly is "significant" when its q-value is
 * below the FDR level AND its effect passes the minimum effect size AND
 * both sides have the minimum support.  See docs/anomalies.md.
 */
#ifndef SENSOR_ANOMALY_H
#define SENSOR_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sensor/baseline.h"
#include "sensor/error.h"
#include "sensor/hist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the JSON-lines schema: field "schema" is
 * "sensor-agent.anomaly/1".
 */
#define SA_ANOMALY_SCHEMA_VERSION 1

enum sa_anomaly_kind {
	SA_ANOM_BIAS_SHIFT = 1,
	SA_ANOM_NEW_EDGE,
	SA_ANOM_VANISHED_EDGE,
	SA_ANOM_NEW_TARGET,
	SA_ANOM_TARGET_SHIFT,
	SA_ANOM_VANISHED_TARGET,
	SA_ANOM_CALL_RATE,
	SA_ANOM_ERROR_ORIGIN,
	SA_ANOM_KIND_MAX
};

/* "bias_shift", "new_edge", ...; "unknown" for bad values. */
const char *sa_anomaly_kind_name(enum sa_anomaly_kind kind);

/* Defaults of struct sa_detect_opts (used where a field is 0). */
#define SA_DETECT_DEF_FDR 0.01		/* Benjamini-Hochberg level */
#define SA_DETECT_DEF_MIN_SUPPORT 20	/* executions in the window */
#define SA_DETECT_DEF_MIN_BASELINE 50	/* executions in the baseline */
#define SA_DETECT_DEF_MIN_DELTA 0.05	/* |ratio now - ratio before| */
#define SA_DETECT_DEF_MIN_RATE_RATIO 1.5	/* call rate x or / this */
#define SA_DETECT_MAX_ANOMALIES 100000	/* cap on candidates kept */

struct sa_detect_opts {
	double fdr;
	double min_support;
	double min_baseline;
	double min_delta;
	double min_rate_ratio;
};

/* One anomaly.  Strings are owned by the list. */
struct sa_anomaly {
	enum sa_anomaly_kind kind;
	unsigned rank;		/* 1 = most significant */
	const char *function;	/* demangled (C++, Rust), as histories name it */
	const char *linkage_name; /* the mangled name; NULL when @function */
	const char *binary;
	const char *build_id;	/* "" when unknown */
	const char *file;	/* NULL when unknown */
	int line;		/* 0 when unknown */
	const char *insn;	/* instruction text, NULL for call_rate */
	uint64_t offset;	/* branch (or function entry) ELF address */
	/* The decision: "taken" / "not taken" for conditional branches,
	 * the target for indirect ones ("handle_get+0x0"), "calls" for
	 * call_rate.
	 */
	const char *decision;
	bool error_path;	/* the decision leads into an error sink */
	/* Counts: the decision's count out of the site's total, and their
	 * ratio (for call_rate: calls per million instructions).
	 */
	double base_count, base_total, base_ratio;
	double cur_count, cur_total, cur_ratio;
	double base_windows, cur_windows;
	double design_effect;	/* variance inflation used for the test */
	double stat;		/* G statistic, on the adjusted counts */
	double p_value;
	double log10_p;		/* log10(p), exact where p underflows */
	double q_value;		/* Benjamini-Hochberg adjusted */
	double score;		/* ranking: -log10(q), demoted when explained */
	/* 0..1: share of the window's trace that decoded without loss. */
	double confidence;
	bool significant;
	/* For call_rate: the function whose decision anomaly explains it
	 * (a caller), or NULL.
	 */
	const char *explained_by;
};

struct sa_anomaly_list;

/* Compares the windows @wins (@nr >= 1 histories, each one window) with
 * the baseline of the builds they touch.
 *
 * Returns 0 and sets *@out (free with sa_anomaly_list__free()), ranked,
 * or a negative error with @ei filled:
 *   -SA_ERR_NODATA    the baseline is empty, or the windows hold nothing;
 *   -SA_ERR_BUILDID   the baseline holds the windows' binaries but only
 *                     other builds of them;
 *   -SA_ERR_NOTFOUND  the baseline holds none of the windows' binaries;
 *   -SA_ERR_CORRUPT   an SQLite failure;  -ENOMEM, -SA_ERR_TOOBIG.
 */
int sa_anomaly_detect(struct sa_baseline *bl, struct sa_hist *const *wins,
		      size_t nr, const struct sa_detect_opts *o,
		      struct sa_anomaly_list **out, struct sa_errinfo *ei);

/* Compares build @b (the "current" side) with build @a of the same store,
 * matching functions by name and branches by file:line and order within
 * the line (offsets differ between builds).  Same returns as
 * sa_anomaly_detect(); -SA_ERR_NOTFOUND when a build is unknown.
 */
int sa_anomaly_diff_builds(struct sa_baseline *bl, const char *a,
			   const char *b, const struct sa_detect_opts *o,
			   struct sa_anomaly_list **out,
			   struct sa_errinfo *ei);

void sa_anomaly_list__free(struct sa_anomaly_list *l);
/* All candidates tested, ranked; significant ones first. */
size_t sa_anomaly_list_len(const struct sa_anomaly_list *l);
size_t sa_anomaly_list_nr_significant(const struct sa_anomaly_list *l);
const struct sa_anomaly *sa_anomaly_list_get(const struct sa_anomaly_list *l,
					     size_t idx);
/* How many tests entered the FDR correction. */
size_t sa_anomaly_list_nr_tests(const struct sa_anomaly_list *l);

/* Output.  SA_ANOM_OUT_ALL also writes candidates that are not
 * significant.  Both return 0 or -EIO.
 *
 * Text: a ranked summary for a person, one paragraph per anomaly.
 * JSON lines: one object per anomaly, schema in docs/anomalies.md, with
 * OpenTelemetry's code.function.name, code.file.path, code.line.number.
 * @source (may be NULL) names the analysed windows in every record.
 */
#define SA_ANOM_OUT_ALL 0x1
int sa_anomaly_write_text(const struct sa_anomaly_list *l, FILE *f,
			  unsigned flags);
int sa_anomaly_write_jsonl(const struct sa_anomaly_list *l, FILE *f,
			   const char *source, unsigned flags);

/* Writes one anomaly as a paragraph of the text summary. */
int sa_anomaly_write_text1(const struct sa_anomaly *a, FILE *f);

/* Writes one anomaly as a JSON-lines record. */
int sa_anomaly_write_json1(const struct sa_anomaly *a, FILE *f,
			   const char *source);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_ANOMALY_H */
