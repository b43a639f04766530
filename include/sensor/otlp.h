/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: OpenTelemetry (OTLP/HTTP) log export.
 *
 * Turns the anomaly records and the summary records of `analyze` and of
 * the live loop into OTLP LogRecords and posts them to URL/v1/logs, JSON
 * (http/json) or protobuf (http/protobuf, built with protobuf-c from the
 * official opentelemetry-proto definitions when they were present at
 * build time), gzip-compressed, through libcurl.
 *
 *	struct sa_otlp_opts o = { .url = "http://collector:4318",
 *				  .service = "demo", .host = host, ... };
 *	ot = sa_otlp__new(&o, &ei);
 *	sa_otlp_log_anomaly(ot, a, &time, "windows 0-2");	never blocks
 *	sa_otlp_flush(ot, 5000);	waits at most 5 s
 *	sa_otlp_stats(ot, &st);
 *	sa_otlp__free(ot);		drops (and counts) what is left
 *
 * Records are copied into a bounded queue and sent by a background
 * thread in batches; a record that finds the queue full is dropped and
 * counted, so the caller never waits for the collector.  A request that
 * fails with HTTP 429, 502, 503 or 504 or a connection error is retried
 * with exponential backoff and jitter, waiting at least as long as a
 * Retry-After header asks; other HTTP errors drop the batch (counted).
 * See docs/otlp.md.
 *
 * All functions may be called from any thread.
 */
#ifndef SENSOR_OTLP_H
#define SENSOR_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sensor/anomaly.h"
#include "sensor/error.h"
#include "sensor/live.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sa_otlp_protocol {
	SA_OTLP_HTTP_JSON = 0,		/* "http/json" */
	SA_OTLP_HTTP_PROTOBUF,		/* "http/protobuf" */
};

/* Parses "http/json" or "http/protobuf".  Returns 0, or -SA_ERR_INVAL
 * with @ei naming the value, or -SA_ERR_UNSUPPORTED when http/protobuf
 * was not built (the .proto files were absent at build time).
 */
int sa_otlp_protocol_parse(const char *s, enum sa_otlp_protocol *p,
			   struct sa_errinfo *ei);
/* Whether http/protobuf was built in. */
bool sa_otlp_have_protobuf(void);

/* OTLP severity numbers used (logs data model). */
#define SA_OTLP_SEV_INFO 9
#define SA_OTLP_SEV_WARN 13

#define SA_OTLP_DEF_QUEUE 1024		/* records */
#define SA_OTLP_DEF_BATCH 256		/* records per request */
#define SA_OTLP_DEF_CONNECT_MS 2000
#define SA_OTLP_DEF_TIMEOUT_MS 10000	/* one request, in total */
#define SA_OTLP_DEF_RETRIES 5		/* after the first attempt */
#define SA_OTLP_DEF_BACKOFF_MS 500	/* first wait, doubled each time */
#define SA_OTLP_DEF_BACKOFF_MAX_MS 30000
#define SA_OTLP_MAX_QUEUE 1000000

struct sa_otlp_opts {
	/* The collector's base URL: records go to URL/v1/logs (a URL that
	 * already ends in /v1/logs is used as it is).  http or https.
	 */
	const char *url;
	enum sa_otlp_protocol protocol;
	/* Resource attributes.  @service: service.name (NULL: @exe_name);
	 * @host: host.name (NULL: gethostname()); @pid: process.pid (0:
	 * omitted); @exe_name, @exe_path: process.executable.name and
	 * .path (NULL: omitted).  Copied.
	 */
	const char *service;
	const char *host;
	int64_t pid;
	const char *exe_name;
	const char *exe_path;
	/* The scope's version (NULL: omitted); its name is "sensor-agent". */
	const char *version;
	size_t queue_max;		/* 0: SA_OTLP_DEF_QUEUE */
	size_t batch_max;		/* 0: SA_OTLP_DEF_BATCH */
	uint64_t connect_timeout_ms;	/* 0: SA_OTLP_DEF_CONNECT_MS */
	uint64_t timeout_ms;		/* 0: SA_OTLP_DEF_TIMEOUT_MS */
	int max_retries;		/* < 0: none; 0: SA_OTLP_DEF_RETRIES */
	uint64_t backoff_ms;		/* 0: SA_OTLP_DEF_BACKOFF_MS */
	uint64_t backoff_max_ms;	/* 0: SA_OTLP_DEF_BACKOFF_MAX_MS */
	bool no_gzip;			/* send uncompressed */
};

struct sa_otlp;

/* Checks the options and starts the sender thread (it connects only when
 * there is something to send).  Returns NULL with errno and @ei set:
 * -SA_ERR_INVAL (no URL, not http(s), bad sizes), -SA_ERR_UNSUPPORTED
 * (http/protobuf not built), -ENOMEM, or a libcurl or pthread failure.
 */
struct sa_otlp *sa_otlp__new(const struct sa_otlp_opts *o,
			     struct sa_errinfo *ei);

/* Stops the sender (an attempt in flight is aborted within a second) and
 * drops what is still queued (counted in dropped_exit); records enqueued
 * later are dropped too.  Call sa_otlp_flush() first to send them.  The
 * counters stay readable.
 */
void sa_otlp_stop(struct sa_otlp *ot);

/* sa_otlp_stop(), then frees.  Accepts NULL. */
void sa_otlp__free(struct sa_otlp *ot);

/* One attribute of a record.  Strings are copied. */
enum sa_otlp_type {
	SA_OTLP_STR = 1,
	SA_OTLP_INT,
	SA_OTLP_DBL,
	SA_OTLP_BOOL,
};

struct sa_otlp_attr {
	const char *key;
	enum sa_otlp_type type;
	const char *s;
	int64_t i;
	double d;
	bool b;
};

#define SA_OTLP_MAX_ATTRS 64

/* One log record.  @time: when it happened (timeUnixNano); its
 * observedTimeUnixNano is the time of sa_otlp_enqueue().  @severity:
 * SA_OTLP_SEV_*, written as severityNumber and severityText ("INFO",
 * "WARN").  @body: one line of text.  At most SA_OTLP_MAX_ATTRS
 * attributes.
 */
struct sa_otlp_record {
	struct timespec time;
	int severity;
	const char *body;
	const struct sa_otlp_attr *attrs;
	size_t nr_attrs;
};

/* Copies @r into the queue.  Never waits for the network.  Returns 0,
 * -ENOSPC when the queue was full (the record is dropped and counted),
 * -SA_ERR_INVAL for a bad record, -ENOMEM.
 */
int sa_otlp_enqueue(struct sa_otlp *ot, const struct sa_otlp_record *r);

/* The records of the commands, built from the same data as their JSON
 * lines (docs/anomalies.md) and enqueued; returns of sa_otlp_enqueue().
 *
 * An anomaly (analyze): WARN when significant, else INFO; @t the time of
 * the analysis, @source the windows it covered (may be NULL).
 */
int sa_otlp_log_anomaly(struct sa_otlp *ot, const struct sa_anomaly *a,
			const struct timespec *t, const char *source);
/* The summary of one analysis (INFO): @windows analysed, the list's
 * tests and significant anomalies.
 */
int sa_otlp_log_analysis(struct sa_otlp *ot, const struct sa_anomaly_list *l,
			 const struct timespec *t, const char *source,
			 uint64_t windows);
/* The live loop's events (WARN for a new or ongoing anomaly, INFO for a
 * resolved one) and comparison summaries (INFO).
 */
int sa_otlp_log_live_event(struct sa_otlp *ot, const struct sa_live_event *ev);
int sa_otlp_log_live_summary(struct sa_otlp *ot,
			     const struct sa_live_summary *s);

/* Waits until every record queued so far was sent or given up, or until
 * @timeout_ms passed.  Returns 0, or -ETIMEDOUT with records still
 * queued (they stay queued).
 */
int sa_otlp_flush(struct sa_otlp *ot, uint64_t timeout_ms);

struct sa_otlp_stats {
	uint64_t queued;		/* records accepted into the queue */
	uint64_t sent;			/* records the collector accepted */
	uint64_t requests;		/* HTTP requests made, retries too */
	uint64_t retried;		/* of them: retries */
	/* records dropped: the queue was full; the collector refused
	 * them or the retries ran out; still queued at sa_otlp__free()
	 */
	uint64_t dropped;
	uint64_t dropped_full, dropped_failed, dropped_exit;
	uint64_t queue_high_water;	/* most records queued at once */
	uint64_t bytes;			/* request bodies sent, compressed */
	/* the last failure ("HTTP 503", a libcurl message), "" if none */
	char last_error[128];
};

void sa_otlp_stats(struct sa_otlp *ot, struct sa_otlp_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_OTLP_H */
