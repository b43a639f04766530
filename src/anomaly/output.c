// SPDX-License-Identifier: BSD-2-Clause
/*
 * Anomaly output: the ranked summary for a person and JSON lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sensor/anomaly.h"

#include "json.h"
#include "output.h"

void sa_anomaly_fmt_ratio(char *buf, size_t size, double r)
{
	r *= 100;
	if (r == 0 || !isfinite(r))
		snprintf(buf, size, "%s", r == 0 ? "0%" : "-");
	else if (r < 0.1)
		snprintf(buf, size, "%.2g%%", r);
	else
		snprintf(buf, size, "%.1f%%", r);
}

void sa_anomaly_fmt_count(char *buf, size_t size, double v)
{
	if (fabs(v - nearbyint(v)) < 1e-9 || v >= 1000)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%.1f", v);
}

static void write_sentence(const struct sa_anomaly *a, FILE *f)
{
	char bp[32], cp[32], bc[32], bt[32], cc[32], ct[32];
	const char *dec = a->decision ? a->decision : "?";
	bool taken = !strcmp(dec, "taken");
	/* A conditional branch goes two ways: it is taken, or it falls
	 * through; say which in words.
	 */
	const char *was = taken ? "was taken" : "fell through";
	const char *is = taken ? "is taken" : "falls through";

	sa_anomaly_fmt_ratio(bp, sizeof(bp), a->base_ratio);
	sa_anomaly_fmt_ratio(cp, sizeof(cp), a->cur_ratio);
	sa_anomaly_fmt_count(bc, sizeof(bc), a->base_count);
	sa_anomaly_fmt_count(bt, sizeof(bt), a->base_total);
	sa_anomaly_fmt_count(cc, sizeof(cc), a->cur_count);
	sa_anomaly_fmt_count(ct, sizeof(ct), a->cur_total);

	switch (a->kind) {
	case SA_ANOM_BIAS_SHIFT:
		fprintf(f, "the branch %s %s of the time in the baseline "
			"(%s of %s) and %s now (%s of %s)",
			was, bp, bc, bt, cp, cc, ct);
		break;
	case SA_ANOM_ERROR_ORIGIN:
		if (!a->insn) {
			fprintf(f, "it entered error sinks %.3g times per "
				"million instructions in the baseline and "
				"%.3g now (%s vs %s entries)",
				a->base_ratio, a->cur_ratio, bc, cc);
			break;
		}
		fprintf(f, "the %s into the error path %s %s of the time "
			"in the baseline (%s of %s) and %s now (%s of %s)",
			taken ? "branch" : "fall-through",
			taken ? "was taken" : "happened", bp, bc, bt, cp, cc,
			ct);
		break;
	case SA_ANOM_NEW_EDGE:
		fprintf(f, "the branch %s in the baseline (0 of %s) and %s "
			"%s of the time now (%s of %s)",
			taken ? "was never taken" : "never fell through", bt,
			is, cp, cc, ct);
		break;
	case SA_ANOM_VANISHED_EDGE:
		fprintf(f, "the branch %s %s of the time in the baseline "
			"(%s of %s) and never now (0 of %s)",
			was, bp, bc, bt, ct);
		break;
	case SA_ANOM_NEW_TARGET:
		fprintf(f, "the indirect branch reaches a new target, %s: "
			"%s of its executions now (%s of %s), never in the "
			"baseline (0 of %s)", dec, cp, cc, ct, bt);
		break;
	case SA_ANOM_TARGET_SHIFT:
		fprintf(f, "the indirect branch went to %s %s of the time in "
			"the baseline (%s of %s) and %s now (%s of %s)",
			dec, bp, bc, bt, cp, cc, ct);
		break;
	case SA_ANOM_VANISHED_TARGET:
		fprintf(f, "the indirect branch went to %s %s of the time in "
			"the baseline (%s of %s) and never now (0 of %s)",
			dec, bp, bc, bt, ct);
		break;
	case SA_ANOM_CALL_RATE:
		fprintf(f, "it was called %.3g times per million "
			"instructions in the baseline and %.3g now (x%.2f)",
			a->base_ratio, a->cur_ratio,
			a->base_ratio > 0 ? a->cur_ratio / a->base_ratio :
					    INFINITY);
		if (a->explained_by)
			fprintf(f, "; likely a consequence of the decision "
				"anomaly in its caller %s", a->explained_by);
		break;
	default:
		fprintf(f, "unknown anomaly");
	}
}

static void write_where(FILE *f, const char *function, const char *file,
			int line)
{
	fprintf(f, "%s", function ? function : "?");
	if (file && line)
		fprintf(f, " (%s:%d)", file, line);
	else if (file)
		fprintf(f, " (%s)", file);
}

/* The decision in a few words: "taken 1.5% -> 38.3%". */
static void write_change(FILE *f, const char *decision, double base_ratio,
			 double cur_ratio, bool rate)
{
	char bp[32], cp[32];

	if (rate) {
		fprintf(f, "%s %.3g -> %.3g per million instructions",
			decision ? decision : "?", base_ratio, cur_ratio);
		return;
	}
	sa_anomaly_fmt_ratio(bp, sizeof(bp), base_ratio);
	sa_anomaly_fmt_ratio(cp, sizeof(cp), cur_ratio);
	fprintf(f, "%s %s -> %s", decision ? decision : "?", bp, cp);
}

void sa_anomaly__write_brief(const struct sa_anomaly *a, FILE *f)
{
	fprintf(f, "%s: ", sa_anomaly_kind_name(a->kind));
	write_where(f, a->function, a->file, a->line);
	fputs(", ", f);
	write_change(f, a->decision, a->base_ratio, a->cur_ratio,
		     !a->insn);
}

int sa_anomaly_write_brief(const struct sa_anomaly *a, FILE *f)
{
	sa_anomaly__write_brief(a, f);
	return ferror(f) ? -EIO : 0;
}

static void write_also_text(const struct sa_anomaly *a, FILE *f)
{
	size_t i;

	for (i = 0; i < a->nr_also; i++) {
		const struct sa_anomaly_also *m = &a->also[i];

		fprintf(f, "   also seen in %s: ",
			m->relation == SA_ANOM_REL_CALLER ?
				"a caller, branching on its result" :
				"the same line");
		write_where(f, m->function, m->file, m->line);
		fprintf(f, ", %s, ", sa_anomaly_kind_name(m->kind));
		write_change(f, m->decision, m->base_ratio, m->cur_ratio,
			     false);
		if (m->insn)
			fprintf(f, ", at %#" PRIx64 " `%s`", m->offset,
				m->insn);
		fprintf(f, " (score %.1f)\n", m->score);
	}
}

static void write_one_text(const struct sa_anomaly *a, FILE *f)
{
	fprintf(f, "#%u %s: %s", a->rank, sa_anomaly_kind_name(a->kind),
		a->function ? a->function : "?");
	if (a->file && a->line)
		fprintf(f, " (%s:%d)", a->file, a->line);
	else if (a->file)
		fprintf(f, " (%s)", a->file);
	fprintf(f, "%s\n   ", a->significant ? "" : "  [below threshold]");
	write_sentence(a, f);
	fprintf(f, ".\n   ");
	if (a->insn)
		fprintf(f, "at %#" PRIx64 " `%s`", a->offset, a->insn);
	else
		fprintf(f, "entry %#" PRIx64, a->offset);
	fprintf(f, " in %s", a->binary ? a->binary : "?");
	if (a->build_id && a->build_id[0])
		fprintf(f, " [build-id %.16s]", a->build_id);
	fprintf(f, "\n   score %.1f, p=%.2g (log10 %.1f), q=%.2g, windows "
		"%.0f baseline / %.0f now, design effect %.2f, confidence "
		"%.2f%s\n",
		a->score, a->p_value, a->log10_p, a->q_value, a->base_windows,
		a->cur_windows, a->design_effect, a->confidence,
		a->confidence < 0.5 ? " (much trace was lost: treat with care)"
				    : "");
	write_also_text(a, f);
}

int sa_anomaly_write_text1(const struct sa_anomaly *a, FILE *f)
{
	write_one_text(a, f);
	return ferror(f) ? -EIO : 0;
}

int sa_anomaly_write_text(const struct sa_anomaly_list *l, FILE *f,
			  unsigned flags)
{
	size_t i, n = sa_anomaly_list_len(l);
	size_t sig = sa_anomaly_list_nr_significant(l);

	if (!sig)
		fprintf(f, "No anomaly passes the threshold (%zu tests over "
			"the sites with enough support).\n",
			sa_anomaly_list_nr_tests(l));
	else
		fprintf(f, "%zu anomal%s (of %zu tests), most significant "
			"first:\n", sig, sig == 1 ? "y" : "ies",
			sa_anomaly_list_nr_tests(l));
	for (i = 0; i < n; i++) {
		const struct sa_anomaly *a = sa_anomaly_list_get(l, i);

		if (!a->significant && !(flags & SA_ANOM_OUT_ALL))
			break;
		fputc('\n', f);
		write_one_text(a, f);
	}
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

static void write_also_json(struct sa_json *j, const struct sa_anomaly *a)
{
	size_t i;

	if (!a->nr_also)
		return;
	sa_json_arr_begin(j, "also_seen_in");
	for (i = 0; i < a->nr_also; i++) {
		const struct sa_anomaly_also *m = &a->also[i];

		sa_json_obj_begin(j, NULL);
		sa_json_str(j, "relation",
			    sa_anomaly_relation_name(m->relation));
		sa_json_str(j, "kind", sa_anomaly_kind_name(m->kind));
		sa_json_str(j, "function", m->function);
		if (m->file)
			sa_json_str(j, "file", m->file);
		else
			sa_json_null(j, "file");
		if (m->line)
			sa_json_i64(j, "line", m->line);
		else
			sa_json_null(j, "line");
		sa_json_hex(j, "offset", m->offset);
		if (m->insn)
			sa_json_str(j, "instruction", m->insn);
		else
			sa_json_null(j, "instruction");
		sa_json_str(j, "decision", m->decision);
		sa_json_dbl(j, "baseline_ratio", m->base_ratio);
		sa_json_dbl(j, "current_ratio", m->cur_ratio);
		sa_json_dbl(j, "baseline_count", m->base_count);
		sa_json_dbl(j, "current_count", m->cur_count);
		sa_json_dbl(j, "score", m->score);
		sa_json_obj_end(j);
	}
	sa_json_arr_end(j);
}

int sa_anomaly_write_json1(const struct sa_anomaly *a, FILE *f,
			   const char *source)
{
	return sa_anomaly__write_json(a, f, source, NULL, NULL);
}

int sa_anomaly__write_json(const struct sa_anomaly *a, FILE *f,
			   const char *source, sa_anom_json_extra_fn extra,
			   void *ctx)
{
	struct sa_json j;
	char schema[64];

	snprintf(schema, sizeof(schema), "sensor-agent.anomaly/%d",
		 SA_ANOMALY_SCHEMA_VERSION);
	sa_json_init(&j, f, false);
	sa_json_obj_begin(&j, NULL);
	sa_json_str(&j, "schema", schema);
	sa_json_u64(&j, "rank", a->rank);
	sa_json_str(&j, "kind", sa_anomaly_kind_name(a->kind));
	sa_json_bool(&j, "significant", a->significant);
	sa_json_str(&j, "code.function.name", a->function);
	if (a->linkage_name)
		sa_json_str(&j, "linkage_name", a->linkage_name);
	if (a->file)
		sa_json_str(&j, "code.file.path", a->file);
	else
		sa_json_null(&j, "code.file.path");
	if (a->line)
		sa_json_i64(&j, "code.line.number", a->line);
	else
		sa_json_null(&j, "code.line.number");
	sa_json_str(&j, "binary", a->binary);
	sa_json_str(&j, "build_id", a->build_id ? a->build_id : "");
	sa_json_hex(&j, "offset", a->offset);
	if (a->insn)
		sa_json_str(&j, "instruction", a->insn);
	else
		sa_json_null(&j, "instruction");
	sa_json_str(&j, "decision", a->decision);
	sa_json_bool(&j, "error_path", a->error_path);
	sa_json_obj_begin(&j, "baseline");
	sa_json_dbl(&j, "count", a->base_count);
	sa_json_dbl(&j, "total", a->base_total);
	sa_json_dbl(&j, "ratio", a->base_ratio);
	sa_json_dbl(&j, "windows", a->base_windows);
	sa_json_obj_end(&j);
	sa_json_obj_begin(&j, "current");
	sa_json_dbl(&j, "count", a->cur_count);
	sa_json_dbl(&j, "total", a->cur_total);
	sa_json_dbl(&j, "ratio", a->cur_ratio);
	sa_json_dbl(&j, "windows", a->cur_windows);
	sa_json_obj_end(&j);
	sa_json_dbl(&j, "score", a->score);
	sa_json_dbl(&j, "g", a->stat);
	sa_json_dbl(&j, "p_value", a->p_value);
	sa_json_dbl(&j, "log10_p", a->log10_p);
	sa_json_dbl(&j, "q_value", a->q_value);
	sa_json_dbl(&j, "design_effect", a->design_effect);
	sa_json_dbl(&j, "confidence", a->confidence);
	if (a->explained_by)
		sa_json_str(&j, "explained_by", a->explained_by);
	write_also_json(&j, a);
	if (source)
		sa_json_str(&j, "source", source);
	if (extra)
		extra(&j, ctx);
	sa_json_obj_end(&j);
	sa_json_newline(&j);
	return ferror(f) ? -EIO : 0;
}

int sa_anomaly_write_jsonl(const struct sa_anomaly_list *l, FILE *f,
			   const char *source, unsigned flags)
{
	size_t i, n = sa_anomaly_list_len(l);

	for (i = 0; i < n; i++) {
		const struct sa_anomaly *a = sa_anomaly_list_get(l, i);

		if (!a->significant && !(flags & SA_ANOM_OUT_ALL))
			break;
		if (sa_anomaly_write_json1(a, f, source))
			return -EIO;
	}
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
