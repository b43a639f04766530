// SPDX-License-Identifier: BSD-2-Clause
/*
 * The commands' records as OTLP LogRecords: the fields of the JSON lines
 * (docs/anomalies.md), code.* by the semantic conventions and the rest
 * under sensor_agent.*.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/otlp.h"

struct attrs {
	/* one more: where attributes past the cap go (never sent) */
	struct sa_otlp_attr a[SA_OTLP_MAX_ATTRS + 1];
	size_t n;
	char hex[24];
	char times[2][40];
};

static struct sa_otlp_attr *next(struct attrs *x, const char *key)
{
	struct sa_otlp_attr *a;

	/* the builders below stay far under the cap */
	a = &x->a[x->n < SA_OTLP_MAX_ATTRS ? x->n++ : SA_OTLP_MAX_ATTRS];
	memset(a, 0, sizeof(*a));
	a->key = key;
	return a;
}

static void str(struct attrs *x, const char *key, const char *s)
{
	struct sa_otlp_attr *a = next(x, key);

	a->type = SA_OTLP_STR;
	a->s = s ? s : "";
}

static void i64(struct attrs *x, const char *key, int64_t i)
{
	struct sa_otlp_attr *a = next(x, key);

	a->type = SA_OTLP_INT;
	a->i = i;
}

static void dbl(struct attrs *x, const char *key, double d)
{
	struct sa_otlp_attr *a = next(x, key);

	a->type = SA_OTLP_DBL;
	a->d = d;
}

static void boolean(struct attrs *x, const char *key, bool b)
{
	struct sa_otlp_attr *a = next(x, key);

	a->type = SA_OTLP_BOOL;
	a->b = b;
}

/* The fields of an anomaly's JSON line (sa_anomaly_write_json1()). */
static void anomaly_attrs(struct attrs *x, const struct sa_anomaly *a)
{
	str(x, "code.function.name", a->function);
	if (a->file)
		str(x, "code.file.path", a->file);
	if (a->line)
		i64(x, "code.line.number", a->line);
	str(x, "sensor_agent.record", "anomaly");
	str(x, "sensor_agent.kind", sa_anomaly_kind_name(a->kind));
	i64(x, "sensor_agent.rank", a->rank);
	boolean(x, "sensor_agent.significant", a->significant);
	if (a->linkage_name)
		str(x, "sensor_agent.linkage_name", a->linkage_name);
	str(x, "sensor_agent.binary", a->binary);
	str(x, "sensor_agent.build_id", a->build_id);
	snprintf(x->hex, sizeof(x->hex), "%#" PRIx64, a->offset);
	str(x, "sensor_agent.offset", x->hex);
	if (a->insn)
		str(x, "sensor_agent.instruction", a->insn);
	str(x, "sensor_agent.decision", a->decision);
	boolean(x, "sensor_agent.error_path", a->error_path);
	dbl(x, "sensor_agent.baseline.count", a->base_count);
	dbl(x, "sensor_agent.baseline.total", a->base_total);
	dbl(x, "sensor_agent.baseline.ratio", a->base_ratio);
	dbl(x, "sensor_agent.baseline.windows", a->base_windows);
	dbl(x, "sensor_agent.current.count", a->cur_count);
	dbl(x, "sensor_agent.current.total", a->cur_total);
	dbl(x, "sensor_agent.current.ratio", a->cur_ratio);
	dbl(x, "sensor_agent.current.windows", a->cur_windows);
	dbl(x, "sensor_agent.score", a->score);
	dbl(x, "sensor_agent.g", a->stat);
	dbl(x, "sensor_agent.p_value", a->p_value);
	dbl(x, "sensor_agent.log10_p", a->log10_p);
	dbl(x, "sensor_agent.q_value", a->q_value);
	dbl(x, "sensor_agent.design_effect", a->design_effect);
	dbl(x, "sensor_agent.confidence", a->confidence);
	if (a->explained_by)
		str(x, "sensor_agent.explained_by", a->explained_by);
	if (a->nr_also)
		i64(x, "sensor_agent.also_seen_in", (int64_t)a->nr_also);
}

/* @prefix, then the anomaly's line (sa_anomaly_write_brief()). */
static char *brief(const char *prefix, const struct sa_anomaly *a)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fputs(prefix, f);
	sa_anomaly_write_brief(a, f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int enqueue(struct sa_otlp *ot, const struct timespec *t, int sev,
		   const char *body, const struct attrs *x)
{
	struct sa_otlp_record r = {
		.time = *t,
		.severity = sev,
		.body = body,
		.attrs = x->a,
		.nr_attrs = x->n,
	};

	return sa_otlp_enqueue(ot, &r);
}

int sa_otlp_log_anomaly(struct sa_otlp *ot, const struct sa_anomaly *a,
			const struct timespec *t, const char *source)
{
	struct attrs x = { .n = 0 };
	char pre[32], *body;
	int err;

	anomaly_attrs(&x, a);
	if (source)
		str(&x, "sensor_agent.source", source);
	snprintf(pre, sizeof(pre), "#%u ", a->rank);
	body = brief(pre, a);
	if (!body)
		return -ENOMEM;
	err = enqueue(ot, t, a->significant ? SA_OTLP_SEV_WARN :
					      SA_OTLP_SEV_INFO, body, &x);
	free(body);
	return err;
}

int sa_otlp_log_analysis(struct sa_otlp *ot, const struct sa_anomaly_list *l,
			 const struct timespec *t, const char *source,
			 uint64_t windows)
{
	size_t sig = sa_anomaly_list_nr_significant(l);
	size_t tests = sa_anomaly_list_nr_tests(l);
	struct attrs x = { .n = 0 };
	char body[512];

	str(&x, "sensor_agent.record", "summary");
	if (source)
		str(&x, "sensor_agent.source", source);
	i64(&x, "sensor_agent.windows", (int64_t)windows);
	i64(&x, "sensor_agent.tests", (int64_t)tests);
	i64(&x, "sensor_agent.anomalies", (int64_t)sig);
	i64(&x, "sensor_agent.candidates",
	    (int64_t)sa_anomaly_list_len(l));
	snprintf(body, sizeof(body),
		 "analysis of %" PRIu64 " window%s%s%s: %zu anomal%s (of %zu "
		 "tests)", windows, windows == 1 ? "" : "s",
		 source ? " " : "", source ? source : "", sig,
		 sig == 1 ? "y" : "ies", tests);
	return enqueue(ot, t, SA_OTLP_SEV_INFO, body, &x);
}

int sa_otlp_log_live_event(struct sa_otlp *ot, const struct sa_live_event *ev)
{
	struct attrs x = { .n = 0 };
	char pre[48], *body;
	int err;

	anomaly_attrs(&x, ev->a);
	str(&x, "sensor_agent.state", sa_live_state_name(ev->state));
	i64(&x, "sensor_agent.comparison", (int64_t)ev->comparison);
	i64(&x, "sensor_agent.window.first", (int64_t)ev->first_window);
	i64(&x, "sensor_agent.window.last", (int64_t)ev->last_window);
	str(&x, "sensor_agent.first_seen",
	    sa_live_format_time(&ev->first_seen, x.times[0],
				sizeof(x.times[0])));
	i64(&x, "sensor_agent.first_seen_window",
	    (int64_t)ev->first_seen_window);
	str(&x, "sensor_agent.last_seen",
	    sa_live_format_time(&ev->last_seen, x.times[1],
				sizeof(x.times[1])));
	i64(&x, "sensor_agent.last_seen_window",
	    (int64_t)ev->last_seen_window);
	i64(&x, "sensor_agent.comparisons", (int64_t)ev->comparisons);
	snprintf(pre, sizeof(pre), "%s #%u ", sa_live_state_name(ev->state),
		 ev->a->rank);
	body = brief(pre, ev->a);
	if (!body)
		return -ENOMEM;
	/* a resolved anomaly is good news */
	err = enqueue(ot, &ev->time,
		      ev->state != SA_LIVE_RESOLVED && ev->a->significant ?
			      SA_OTLP_SEV_WARN : SA_OTLP_SEV_INFO,
		      body, &x);
	free(body);
	return err;
}

int sa_otlp_log_live_summary(struct sa_otlp *ot,
			     const struct sa_live_summary *s)
{
	struct attrs x = { .n = 0 };
	char body[512];
	int n;

	str(&x, "sensor_agent.record", "summary");
	i64(&x, "sensor_agent.comparison", (int64_t)s->comparison);
	i64(&x, "sensor_agent.window.first", (int64_t)s->first_window);
	i64(&x, "sensor_agent.window.last", (int64_t)s->last_window);
	str(&x, "sensor_agent.status", s->compared ? "compared" : "idle");
	i64(&x, "sensor_agent.windows", (int64_t)s->windows);
	i64(&x, "sensor_agent.idle_windows", (int64_t)s->idle_windows);
	i64(&x, "sensor_agent.instructions", (int64_t)s->instructions);
	i64(&x, "sensor_agent.tests", (int64_t)s->tests);
	i64(&x, "sensor_agent.anomalies", (int64_t)s->anomalies);
	i64(&x, "sensor_agent.new", (int64_t)s->new_anomalies);
	i64(&x, "sensor_agent.ongoing", (int64_t)s->ongoing);
	i64(&x, "sensor_agent.resolved", (int64_t)s->resolved);
	/* the words of the text summary line */
	n = snprintf(body, sizeof(body),
		     "comparison %" PRIu64 ", windows %" PRIu64 "-%" PRIu64
		     ": ", s->comparison, s->first_window, s->last_window);
	if (!s->compared)
		snprintf(body + n, sizeof(body) - (size_t)n,
			 "idle, nothing to compare");
	else
		snprintf(body + n, sizeof(body) - (size_t)n,
			 "%" PRIu64 " anomal%s (%" PRIu64 " new, %" PRIu64
			 " ongoing, %" PRIu64 " resolved); %" PRIu64
			 " tests, %" PRIu64 " instructions in %" PRIu64
			 " window%s", s->anomalies,
			 s->anomalies == 1 ? "y" : "ies", s->new_anomalies,
			 s->ongoing, s->resolved, s->tests, s->instructions,
			 s->windows, s->windows == 1 ? "" : "s");
	return enqueue(ot, &s->time, SA_OTLP_SEV_INFO, body, &x);
}
