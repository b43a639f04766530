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

/* sa_detect_opts.flags: when the baseline holds another build of a
 * window's binary (same file name) but not its own, compare with that
 * build, matching as sa_anomaly_diff_builds() does, instead of failing
 * with -SA_ERR_BUILDID.
 */
#define SA_DETECT_CROSS_BUILD 0x1

struct sa_detect_opts {
	double fdr;
	double min_support;
	double min_baseline;
	double min_delta;
	double min_rate_ratio;
	unsigned flags;		/* SA_DETECT_* */
};

/* Why an anomaly was folded into another one ("also seen in"). */
enum sa_anomaly_relation {
	/* another branch of the same source line of the same function
	 * (one `if` compiled to several instructions, e.g. `a && b`): a
	 * new edge of one and the vanished edge of the other are one
	 * decision
	 */
	SA_ANOM_REL_SAME_LINE = 1,
	/* a caller's branch on the result of a call into the root's
	 * function, with a matching count change: the root's decision is
	 * the origin
	 */
	SA_ANOM_REL_CALLER,
};

/* "same_line", "caller"; "unknown" for bad values. */
const char *sa_anomaly_relation_name(enum sa_anomaly_relation rel);

/* A significant anomaly that shares the cause of the one it is listed
 * under; it is not reported (nor ranked) on its own.
 */
struct sa_anomaly_also {
	enum sa_anomaly_kind kind;
	enum sa_anomaly_relation relation;
	const char *function;
	const char *file;	/* NULL when unknown */
	int line;		/* 0 when unknown */
	const char *insn;
	uint64_t offset;
	const char *decision;
	double base_ratio, cur_ratio;
	double base_count, cur_count;
	double score;		/* its own score before grouping */
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
	 * the target for indirect ones ("handle_get", "strcmp+0x10 in
	 * libc.so.6", "libc.so.6:0x27280" without a symbol, "[anon]"),
	 * "calls" for call_rate.
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
	/* The decisions of the same cause, folded into this one (the
	 * root), by score; see docs/anomalies.md, "One decision, one
	 * report".
	 */
	size_t nr_also;
	const struct sa_anomaly_also *also;
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

/* Compares build @b (the "current" side) with build @a of the same store.
 * Offsets differ between builds: functions are matched by name, and
 * conditional and indirect branches by function, source file (its path
 * suffix, not the whole path: the same source built in two directories
 * matches), line, class and position among the branches of that class on
 * that line; a branch without a line is matched by its offset within its
 * function.  sa_anomaly_list_match() gives the counts.  Same returns as
 * sa_anomaly_detect(); -SA_ERR_NOTFOUND when a build is unknown;
 * -SA_ERR_NODATA ("nothing comparable", @ei gives the counts) when no
 * function, or no branch while either build has some, matched.
 */
int sa_anomaly_diff_builds(struct sa_baseline *bl, const char *a,
			   const char *b, const struct sa_detect_opts *o,
			   struct sa_anomaly_list **out,
			   struct sa_errinfo *ei);

/* How the sites of one build were matched to another build's. */
struct sa_anomaly_match {
	uint64_t builds;		/* pairs of builds matched */
	/* conditional and indirect branches of the current side that
	 * matched one of the other build, and of each side that did not
	 */
	uint64_t branches;
	uint64_t branches_unmatched;
	uint64_t base_branches_unmatched;
	/* functions, by name */
	uint64_t functions;
	uint64_t functions_unmatched;
	uint64_t base_functions_unmatched;
};

void sa_anomaly_list__free(struct sa_anomaly_list *l);
/* The match counts, summed over the builds compared across builds
 * (sa_anomaly_diff_builds(), SA_DETECT_CROSS_BUILD); NULL when every
 * build was compared with its own baseline (sites matched by offset).
 */
const struct sa_anomaly_match *
sa_anomaly_list_match(const struct sa_anomaly_list *l);
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

/* Writes one anomaly in one line, without a newline: "kind: function
 * (file:line), taken 1.5% -> 38.3%".  Returns 0 or -EIO.
 */
int sa_anomaly_write_brief(const struct sa_anomaly *a, FILE *f);

/* Writes one anomaly as a JSON-lines record. */
int sa_anomaly_write_json1(const struct sa_anomaly *a, FILE *f,
			   const char *source);

/* The numbers of the text summary, for every output that shows them
 * beside it (the HTML report), so that both print the same figures.
 *
 * sa_anomaly_fmt_ratio() writes a ratio (0.383) as a percentage: "38.3%",
 * two significant digits under 0.1% ("0.012%"), "0%" for zero and "-"
 * when it is not finite.  sa_anomaly_fmt_count() writes a count or a
 * mean: whole numbers (and anything from 1000 up) without decimals,
 * others with one ("2.5").  Both write at most @size bytes, NUL included,
 * to @buf (truncated as snprintf() does); 32 bytes always suffice.
 */
void sa_anomaly_fmt_ratio(char *buf, size_t size, double r);
void sa_anomaly_fmt_count(char *buf, size_t size, double v);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_ANOMALY_H */
