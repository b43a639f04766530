// SPDX-License-Identifier: BSD-2-Clause
/*
 * The OTLP exporter against a receiver that decodes independently
 * (tests/otlp/receiver.py: Python's json, or protoc --decode with the
 * official .proto files): every field of the resource, the scope and the
 * records, the retry after 503 honouring Retry-After; and, without a
 * working collector, that enqueueing never blocks, that the queue bound
 * drops and counts, and that flush and stop end in bounded time.
 *
 * Usage: test_otlp json|protobuf|noblock|down
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sensor/otlp.h"

#include "receiver.h"

static const char *mode;

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* An anomaly as the detector fills one; values chosen to be exact or
 * not in binary, and a name with characters JSON must escape.
 */
static void fill_anomaly(struct sa_anomaly *a, int rank)
{
	static const struct sa_anomaly_also also[2];

	memset(a, 0, sizeof(*a));
	a->kind = SA_ANOM_ERROR_ORIGIN;
	a->rank = (unsigned)rank;
	a->function = "parse_request";
	a->linkage_name = "_Z13parse_requestPKc";
	a->binary = "/opt/demo/demo_service";
	a->build_id = "0123456789abcdef0123456789abcdef01234567";
	a->file = "/src/demo \"quoted\"\\dir/demo_service.c";
	a->line = 57;
	a->insn = "jne 0x4011a0";
	a->offset = 0x401196;
	a->decision = "taken";
	a->error_path = true;
	a->base_count = 3;
	a->base_total = 2000;
	a->base_ratio = 0.015;
	a->cur_count = 766;
	a->cur_total = 2000;
	a->cur_ratio = 0.383;
	a->base_windows = 8;
	a->cur_windows = 3;
	a->design_effect = 1.25;
	a->stat = 1234.5678901234567;
	a->p_value = 1.2345678901234567e-250;
	a->log10_p = -249.90848501887865;
	a->q_value = 3.3e-248;
	a->score = 247.48148606012211;
	a->confidence = 1;
	a->significant = true;
	a->nr_also = 2;
	a->also = also;
}

static void check_resource(const struct rx_record *r, bool full)
{
	rx_assert_str(r, "resource.service.name", "svc-test");
	rx_assert_str(r, "resource.host.name", "host-a.example");
	rx_assert_int(r, "resource.process.pid", 4242);
	rx_assert_str(r, "resource.process.executable.name", "demo_service");
	rx_assert_str(r, "resource.process.executable.path",
		      "/opt/demo/demo_service");
	ck_assert_str_eq(rx_get(r, "scope.name"), "s:sensor-agent");
	if (full)
		ck_assert_str_eq(rx_get(r, "scope.version"), "s:9.9.9");
}

static void check_anomaly_attrs(const struct rx_record *r,
				const struct sa_anomaly *a)
{
	rx_assert_str(r, "attr.code.function.name", a->function);
	rx_assert_str(r, "attr.code.file.path", a->file);
	rx_assert_int(r, "attr.code.line.number", a->line);
	rx_assert_str(r, "attr.sensor_agent.record", "anomaly");
	rx_assert_str(r, "attr.sensor_agent.kind", "error_origin");
	rx_assert_int(r, "attr.sensor_agent.rank", a->rank);
	rx_assert_bool(r, "attr.sensor_agent.significant", true);
	rx_assert_str(r, "attr.sensor_agent.linkage_name", a->linkage_name);
	rx_assert_str(r, "attr.sensor_agent.binary", a->binary);
	rx_assert_str(r, "attr.sensor_agent.build_id", a->build_id);
	rx_assert_str(r, "attr.sensor_agent.offset", "0x401196");
	rx_assert_str(r, "attr.sensor_agent.instruction", a->insn);
	rx_assert_str(r, "attr.sensor_agent.decision", "taken");
	rx_assert_bool(r, "attr.sensor_agent.error_path", true);
	rx_assert_dbl(r, "attr.sensor_agent.baseline.count", a->base_count);
	rx_assert_dbl(r, "attr.sensor_agent.baseline.total", a->base_total);
	rx_assert_dbl(r, "attr.sensor_agent.baseline.ratio", a->base_ratio);
	rx_assert_dbl(r, "attr.sensor_agent.baseline.windows",
		      a->base_windows);
	rx_assert_dbl(r, "attr.sensor_agent.current.count", a->cur_count);
	rx_assert_dbl(r, "attr.sensor_agent.current.total", a->cur_total);
	rx_assert_dbl(r, "attr.sensor_agent.current.ratio", a->cur_ratio);
	rx_assert_dbl(r, "attr.sensor_agent.current.windows", a->cur_windows);
	rx_assert_dbl(r, "attr.sensor_agent.score", a->score);
	rx_assert_dbl(r, "attr.sensor_agent.g", a->stat);
	rx_assert_dbl(r, "attr.sensor_agent.p_value", a->p_value);
	rx_assert_dbl(r, "attr.sensor_agent.log10_p", a->log10_p);
	rx_assert_dbl(r, "attr.sensor_agent.q_value", a->q_value);
	rx_assert_dbl(r, "attr.sensor_agent.design_effect", a->design_effect);
	rx_assert_dbl(r, "attr.sensor_agent.confidence", a->confidence);
	rx_assert_int(r, "attr.sensor_agent.also_seen_in", 2);
}

/* The anomaly of analyze */
static void check_analyze_anomaly(const struct rx_record *r,
				  const struct sa_anomaly *a)
{
	rx_assert_int(r, "timeUnixNano", 1700000000123456789LL);
	rx_assert_int(r, "severityNumber", 13);
	rx_assert_str(r, "severityText", "WARN");
	rx_assert_str(r, "body",
		      "#1 error_origin: parse_request (/src/demo "
		      "\"quoted\"\\dir/demo_service.c:57), taken "
		      "1.5% -> 38.3%");
	check_anomaly_attrs(r, a);
	rx_assert_str(r, "attr.sensor_agent.source", "w.000");
	ck_assert_ptr_null(rx_get(r, "attr.sensor_agent.state"));
}

/* The live summary */
static void check_live_summary(const struct rx_record *r)
{
	rx_assert_int(r, "timeUnixNano", 1700000060000000005LL);
	rx_assert_int(r, "severityNumber", 9);
	rx_assert_str(r, "severityText", "INFO");
	rx_assert_str(r, "body",
		      "comparison 7, windows 20-21: 1 anomaly (1 "
		      "new, 0 ongoing, 0 resolved); 321 tests, "
		      "123456789012 instructions in 2 windows");
	rx_assert_str(r, "attr.sensor_agent.record", "summary");
	rx_assert_int(r, "attr.sensor_agent.comparison", 7);
	rx_assert_int(r, "attr.sensor_agent.window.first", 20);
	rx_assert_int(r, "attr.sensor_agent.window.last", 21);
	rx_assert_str(r, "attr.sensor_agent.status", "compared");
	rx_assert_int(r, "attr.sensor_agent.windows", 2);
	rx_assert_int(r, "attr.sensor_agent.idle_windows", 1);
	rx_assert_int(r, "attr.sensor_agent.instructions",
		      123456789012LL);
	rx_assert_int(r, "attr.sensor_agent.tests", 321);
	rx_assert_int(r, "attr.sensor_agent.anomalies", 1);
	rx_assert_int(r, "attr.sensor_agent.new", 1);
	rx_assert_int(r, "attr.sensor_agent.ongoing", 0);
	rx_assert_int(r, "attr.sensor_agent.resolved", 0);
	ck_assert_ptr_null(rx_get(r, "attr.code.function.name"));
}

/* The live event */
static void check_live_event(const struct rx_record *r,
			     const struct sa_anomaly *b)
{
	rx_assert_int(r, "timeUnixNano", 1700000060000000005LL);
	rx_assert_int(r, "severityNumber", 13);
	rx_assert_str(r, "severityText", "WARN");
	rx_assert_str(r, "body",
		      "new #3 error_origin: handle_get (/src/demo "
		      "\"quoted\"\\dir/demo_service.c:57), taken "
		      "1.5% -> 38.3%");
	check_anomaly_attrs(r, b);
	rx_assert_str(r, "attr.sensor_agent.state", "new");
	rx_assert_int(r, "attr.sensor_agent.comparison", 7);
	rx_assert_int(r, "attr.sensor_agent.window.first", 20);
	rx_assert_int(r, "attr.sensor_agent.window.last", 21);
	rx_assert_str(r, "attr.sensor_agent.first_seen",
		      "2023-11-14T22:14:20.000Z");
	rx_assert_int(r, "attr.sensor_agent.first_seen_window",
		      20);
	rx_assert_str(r, "attr.sensor_agent.last_seen",
		      "2023-11-14T22:14:20.000Z");
	rx_assert_int(r, "attr.sensor_agent.last_seen_window",
		      21);
	rx_assert_int(r, "attr.sensor_agent.comparisons", 1);
}

/* The records of one run: an anomaly of analyze, a live summary and a
 * live event, through a receiver that answers 503 (Retry-After: 1) once.
 */
static void run_export(enum sa_otlp_protocol proto, const char *proto_dir)
{
	struct sa_otlp_opts o = {
		.protocol = proto,
		.service = "svc-test",
		.host = "host-a.example",
		.pid = 4242,
		.exe_name = "demo_service",
		.exe_path = "/opt/demo/demo_service",
		.version = "9.9.9",
		/* without Retry-After the retry would come after 20-40 ms */
		.backoff_ms = 40,
	};
	struct timespec t1 = { 1700000000, 123456789 };
	struct timespec t2 = { 1700000060, 5 };
	struct sa_live_summary sum = { 0 };
	struct sa_live_event ev = { 0 };
	struct sa_otlp_stats st;
	struct sa_anomaly a, b;
	const struct rx_record *r;
	struct sa_otlp *ot;
	struct sa_errinfo ei;
	uint64_t before, after;
	char url[64];
	struct rx rx;
	int i, ok_records = 0;

	rx_start(&rx, "rx", 1, proto_dir);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rx.port);
	o.url = url;
	ot = sa_otlp__new(&o, &ei);
	ck_assert_msg(ot, "%s", ei.msg);

	fill_anomaly(&a, 1);
	fill_anomaly(&b, 3);
	b.function = "handle_get";
	b.significant = true;
	sum.comparison = 7;
	sum.first_window = 20;
	sum.last_window = 21;
	sum.time = t2;
	sum.windows = 2;
	sum.idle_windows = 1;
	sum.instructions = 123456789012ULL;
	sum.tests = 321;
	sum.anomalies = 1;
	sum.new_anomalies = 1;
	sum.compared = true;
	ev.state = SA_LIVE_NEW;
	ev.a = &b;
	ev.comparison = 7;
	ev.first_window = 20;
	ev.last_window = 21;
	ev.time = t2;
	ev.first_seen = t2;
	ev.first_seen_window = 20;
	ev.last_seen = t2;
	ev.last_seen_window = 21;
	ev.comparisons = 1;

	before = real_ns();
	ck_assert_int_eq(sa_otlp_log_anomaly(ot, &a, &t1, "w.000"), 0);
	ck_assert_int_eq(sa_otlp_log_live_summary(ot, &sum), 0);
	ck_assert_int_eq(sa_otlp_log_live_event(ot, &ev), 0);
	after = real_ns();
	ck_assert_int_eq(sa_otlp_flush(ot, 20000), 0);
	sa_otlp_stats(ot, &st);
	sa_otlp__free(ot);
	rx_stop(&rx);
	rx_read(&rx);

	ck_assert_uint_eq(st.queued, 3);
	ck_assert_uint_eq(st.sent, 3);
	ck_assert_uint_eq(st.dropped, 0);
	ck_assert_uint_eq(st.retried, 1);
	ck_assert_uint_eq(st.requests, (uint64_t)rx.nreq);
	/* the 503 arrives before the first batch completes */
	ck_assert_uint_eq(st.queue_high_water, 3);
	ck_assert_int_ge(rx.nreq, 2);
	ck_assert_int_eq(rx.req[0].status, 503);
	/* Retry-After: 1 was honoured over the 40 ms backoff */
	ck_assert_msg(rx.req[1].t - rx.req[0].t >= 0.95,
		      "retry after %.3f s", rx.req[1].t - rx.req[0].t);
	for (i = 0; i < rx.nreq; i++) {
		ck_assert_str_eq(rx.req[i].path, "/v1/logs");
		ck_assert_str_eq(rx.req[i].ctype,
				 proto == SA_OTLP_HTTP_PROTOBUF ?
					 "application/x-protobuf" :
					 "application/json");
		ck_assert_str_eq(rx.req[i].cenc, "gzip");
	}
	for (i = 0; i < rx.nrec; i++) {
		const char *v;

		r = &rx.rec[i];
		if (rx.req[r->request].status != 200)
			continue;
		check_resource(r, true);
		v = rx_get(r, "attr.sensor_agent.record");
		ck_assert_ptr_nonnull(v);
		/* observed: when it was enqueued */
		v = rx_get(r, "observedTimeUnixNano");
		ck_assert_ptr_nonnull(v);
		ck_assert_uint_ge(strtoull(v + 2, NULL, 10), before);
		ck_assert_uint_le(strtoull(v + 2, NULL, 10), after);
		ok_records++;
		if (ok_records == 1)
			check_analyze_anomaly(r, &a);
		else if (ok_records == 2)
			check_live_summary(r);
		else if (ok_records == 3)
			check_live_event(r, &b);
	}
	ck_assert_int_eq(ok_records, 3);
	rx_free(&rx);
}

START_TEST(test_json)
{
	run_export(SA_OTLP_HTTP_JSON, NULL);
}
END_TEST

START_TEST(test_protobuf)
{
	run_export(SA_OTLP_HTTP_PROTOBUF, getenv("SA_OTLP_PROTO_DIR"));
}
END_TEST

static void fill_record(struct sa_otlp_record *r, struct sa_otlp_attr *at)
{
	memset(r, 0, sizeof(*r));
	memset(at, 0, sizeof(*at));
	clock_gettime(CLOCK_REALTIME, &r->time);
	r->severity = SA_OTLP_SEV_WARN;
	r->body = "a record";
	at->key = "sensor_agent.kind";
	at->type = SA_OTLP_STR;
	at->s = "bias_shift";
	r->attrs = at;
	r->nr_attrs = 1;
}

/* A collector that accepts connections and never answers (a listening
 * socket nobody accepts on: the kernel completes the handshake).
 */
START_TEST(test_noblock)
{
	struct sa_otlp_opts o = {
		.queue_max = 4,
		.batch_max = 2,
		.timeout_ms = 60000,	/* longer than the test may take */
	};
	struct sa_otlp_record rec;
	struct sa_otlp_attr at;
	struct sa_otlp_stats st;
	struct sa_errinfo ei;
	struct sa_otlp *ot;
	double t0, t;
	char url[64];
	int fd, i, err;

	fd = rx_silent(true, url, sizeof(url));
	o.url = url;
	ot = sa_otlp__new(&o, &ei);
	ck_assert_msg(ot, "%s", ei.msg);
	fill_record(&rec, &at);

	t0 = mono();
	for (i = 0; i < 10; i++) {
		err = sa_otlp_enqueue(ot, &rec);
		ck_assert_int_eq(err, i < 4 ? 0 : -ENOSPC);
		/* the sender takes the first batch meanwhile */
		if (i == 1)
			usleep(200000);
	}
	t = mono() - t0 - 0.2;
	ck_assert_msg(t < 0.5, "10 enqueues took %.3f s", t);
	t0 = mono();
	ck_assert_int_eq(sa_otlp_flush(ot, 300), -ETIMEDOUT);
	t = mono() - t0;
	ck_assert_msg(t >= 0.29 && t < 2, "flush(300 ms) took %.3f s", t);
	t0 = mono();
	sa_otlp_stop(ot);
	t = mono() - t0;
	ck_assert_msg(t < 3, "stop took %.3f s", t);
	ck_assert_int_eq(sa_otlp_enqueue(ot, &rec), -ENOSPC);
	sa_otlp_stats(ot, &st);
	sa_otlp__free(ot);
	close(fd);

	ck_assert_uint_eq(st.queued, 4);
	ck_assert_uint_eq(st.sent, 0);
	ck_assert_uint_eq(st.queue_high_water, 4);
	ck_assert_uint_eq(st.dropped_full, 7);
	ck_assert_uint_eq(st.dropped_exit, 4);
	ck_assert_uint_eq(st.dropped_failed, 0);
	ck_assert_uint_eq(st.dropped, 11);
	/* at most the one in flight, aborted by the stop */
	ck_assert_uint_le(st.requests, 1);
}
END_TEST

/* Nobody listens: connection refused, retried with backoff, then given
 * up and counted.
 */
START_TEST(test_down)
{
	struct sa_otlp_opts o = {
		.max_retries = 2,
		.backoff_ms = 20,
	};
	struct sa_otlp_record rec;
	struct sa_otlp_attr at;
	struct sa_otlp_stats st;
	struct sa_errinfo ei;
	struct sa_otlp *ot;
	char url[64];
	double t0, t;
	int fd, i;

	/* a port that was free a moment ago and is closed now */
	fd = rx_silent(false, url, sizeof(url));
	o.url = url;
	ot = sa_otlp__new(&o, &ei);
	ck_assert_msg(ot, "%s", ei.msg);
	fill_record(&rec, &at);
	t0 = mono();
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(sa_otlp_enqueue(ot, &rec), 0);
	ck_assert_int_eq(sa_otlp_flush(ot, 10000), 0);
	t = mono() - t0;
	sa_otlp_stats(ot, &st);
	sa_otlp__free(ot);
	close(fd);	/* bound, never listening: refused meanwhile */

	ck_assert_msg(t < 5, "flush took %.3f s", t);
	ck_assert_uint_eq(st.sent, 0);
	ck_assert_uint_eq(st.dropped_failed, 3);
	ck_assert_uint_eq(st.dropped, 3);
	ck_assert_uint_ge(st.requests, 3);
	ck_assert_uint_eq(st.retried, st.requests - (st.requests / 3));
	ck_assert_msg(strstr(st.last_error, "onnect"), "%s", st.last_error);
}
END_TEST

START_TEST(test_bad_options)
{
	struct sa_otlp_opts o = { .url = "ftp://127.0.0.1/" };
	enum sa_otlp_protocol p;
	struct sa_errinfo ei;

	ck_assert_ptr_null(sa_otlp__new(&o, &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_INVAL);
	ck_assert_msg(strstr(ei.msg, "ftp://127.0.0.1/"), "%s", ei.msg);
	ck_assert_int_eq(sa_otlp_protocol_parse("grpc", &p, &ei),
			 -SA_ERR_INVAL);
	ck_assert_msg(strstr(ei.msg, "'grpc'"), "%s", ei.msg);
	ck_assert_int_eq(sa_otlp_protocol_parse("http/json", &p, &ei), 0);
	ck_assert_int_eq(p, SA_OTLP_HTTP_JSON);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("otlp");
	TCase *tc = tcase_create("otlp");
	const char *dir = getenv("SA_OTLP_PROTO_DIR");

	mode = argc > 1 ? argv[1] : "json";
	if (!sa_test_have("python3")) {
		printf("SKIP: python3 is needed for the receiver\n");
		return SA_TEST_SKIP;
	}
	if (!strcmp(mode, "protobuf")) {
		if (!sa_otlp_have_protobuf() || !dir || !*dir) {
			printf("SKIP: http/protobuf was not built (no "
			       "opentelemetry-proto definitions at build "
			       "time: scripts/setup.sh fetches them)\n");
			return SA_TEST_SKIP;
		}
		if (!sa_test_have("protoc")) {
			printf("SKIP: protoc (Debian protobuf-compiler) "
			       "decodes the requests\n");
			return SA_TEST_SKIP;
		}
		tcase_add_test(tc, test_protobuf);
	} else if (!strcmp(mode, "noblock")) {
		tcase_add_test(tc, test_noblock);
		tcase_add_test(tc, test_down);
		tcase_add_test(tc, test_bad_options);
	} else {
		tcase_add_test(tc, test_json);
	}
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
