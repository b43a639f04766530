// SPDX-License-Identifier: BSD-2-Clause
/*
 * `analyze --otlp` end to end: the demo service is recorded with
 * `record --emulate` (normal, then with its input mix shifted), a
 * baseline is learnt from the normal windows, and the shifted windows are
 * analysed with --otlp to tests/otlp/receiver.py (answering 503 once),
 * in http/json and, when built, http/protobuf.  The ranked anomalies
 * arrive as WARN records after the analysis' INFO summary, in the order
 * and with the names of the JSON lines of the same run; their code.*
 * attributes name the line that addr2line (a peer) gives for their
 * offset, and the error_origin of parse_request the demo's error branch
 * (its source marker).  The live loop (--pid) sends its summary and
 * anomaly records as its JSON lines give them, with the target as the
 * resource, and does not stall on a collector that never answers.
 *
 * Usage: test_otlp_cli SENSOR_AGENT DEMO_SERVICE
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sensor/otlp.h"

#include "demo.h"
#include "receiver.h"

static const char *tool, *service;

static char *slurp(const char *name)
{
	char *s = sa_test_slurp(sa_test_path(name), NULL);

	ck_assert_ptr_nonnull(s);
	return s;
}

/* addr2line's "file:line" for @addr in the demo binary. */
static void addr2line(const char *addr, char *file, size_t fsize, int *line)
{
	char *argv[] = { "addr2line", "-e", (char *)service, (char *)addr,
			 NULL };
	char *out, *colon;

	ck_assert_int_eq(sa_test_exec(argv, sa_test_path("a2l.txt"), NULL),
			 0);
	out = slurp("a2l.txt");
	colon = strrchr(out, ':');
	ck_assert_msg(colon, "addr2line: %s", out);
	*colon = 0;
	snprintf(file, fsize, "%s", out);
	*line = atoi(colon + 1);
	free(out);
}

static void check_run(const char *db, const char *proto, const char *dir)
{
	char url[64], host[256], file[4096], want[512], *out, *err, *line;
	char real[4096];
	char *save = NULL, *lines[64];
	const char *name = strrchr(service, '/') + 1, *v;
	int i, n = 0, nlines = 0, st, a2l_line, error_origin = 0;
	/* the demo's error branch (its source marker: ground truth) */
	int error_line = sa_test_source_line("tests/scenarios/demo_service.c",
					     "/* DEMO error */");
	struct rx rx;

	rx_start(&rx, proto[5] == 'j' ? "rx-json" : "rx-pb", 1, dir);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", rx.port);
	{
		char *argv[] = { (char *)tool, "analyze", "--baseline",
				 (char *)db, "-f", "jsonl", "--otlp", url,
				 "--otlp-protocol", (char *)proto,
				 "--service", "demo-svc",
				 (char *)sa_test_demo_win("shift.data", 0),
				 (char *)sa_test_demo_win("shift.data", 1),
				 (char *)sa_test_demo_win("shift.data", 2),
				 NULL };

		st = sa_test_exec(argv, sa_test_path("out.txt"),
				  sa_test_path("err.txt"));
	}
	rx_stop(&rx);
	out = slurp("out.txt");
	err = slurp("err.txt");
	ck_assert_msg(st == 0, "analyze: %d: %s", st, err);
	for (line = strtok_r(out, "\n", &save); line && nlines < 64;
	     line = strtok_r(NULL, "\n", &save))
		lines[nlines++] = line;
	ck_assert_int_gt(nlines, 0);
	snprintf(want, sizeof(want), "OTLP: %d records sent, 0 dropped",
		 nlines + 1);
	ck_assert_msg(strstr(err, want), "want '%s' in: %s", want, err);
	ck_assert_msg(strstr(err, "1 retried"), "%s", err);

	rx_read(&rx);
	ck_assert_int_eq(rx.req[0].status, 503);
	ck_assert_ptr_nonnull(realpath(service, real));
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	for (i = 0; i < rx.nrec; i++) {
		const struct rx_record *r = &rx.rec[i];

		if (rx.req[r->request].status != 200)
			continue;
		rx_assert_str(r, "resource.service.name", "demo-svc");
		rx_assert_str(r, "resource.host.name", host);
		rx_assert_str(r, "resource.process.executable.name", name);
		rx_assert_str(r, "resource.process.executable.path", real);
		rx_assert_str(r, "scope.name", "sensor-agent");
		if (n == 0) {
			rx_assert_str(r, "attr.sensor_agent.record", "summary");
			rx_assert_int(r, "severityNumber", 9);
			rx_assert_str(r, "severityText", "INFO");
			rx_assert_int(r, "attr.sensor_agent.windows", 3);
			rx_assert_int(r, "attr.sensor_agent.anomalies", nlines);
			n++;
			continue;
		}
		ck_assert_int_le(n, nlines);
		rx_assert_str(r, "attr.sensor_agent.record", "anomaly");
		rx_assert_int(r, "severityNumber", 13);
		rx_assert_str(r, "severityText", "WARN");
		rx_assert_int(r, "attr.sensor_agent.rank", n);
		rx_assert_bool(r, "attr.sensor_agent.significant", true);
		/* the same anomaly as the JSON line of that rank */
		v = rx_get(r, "attr.code.function.name");
		ck_assert_ptr_nonnull(v);
		snprintf(want, sizeof(want), "\"code.function.name\":\"%s\"",
			 v + 2);
		ck_assert_msg(strstr(lines[n - 1], want), "%s vs %s", want,
			      lines[n - 1]);
		v = rx_get(r, "attr.sensor_agent.kind");
		snprintf(want, sizeof(want), "\"kind\":\"%s\"", v + 2);
		ck_assert_msg(strstr(lines[n - 1], want), "%s vs %s", want,
			      lines[n - 1]);
		/* code.* where addr2line puts the branch */
		v = rx_get(r, "attr.sensor_agent.offset");
		ck_assert_ptr_nonnull(v);
		addr2line(v + 2, file, sizeof(file), &a2l_line);
		if (rx_get(r, "attr.sensor_agent.instruction")) {
			rx_assert_str(r, "attr.code.file.path", file);
			rx_assert_int(r, "attr.code.line.number", a2l_line);
		}
		v = rx_get(r, "attr.code.function.name");
		if (!strcmp(v, "s:parse_request") &&
		    !strcmp(rx_get(r, "attr.sensor_agent.kind"),
			    "s:error_origin")) {
			rx_assert_int(r, "attr.code.line.number",
				      error_line);
			rx_assert_bool(r, "attr.sensor_agent.error_path",
				       true);
			error_origin++;
		}
		n++;
	}
	ck_assert_int_eq(n, nlines + 1);
	/* the shift drives requests into the error path */
	ck_assert_int_eq(error_origin, 1);
	rx_free(&rx);
	free(out);
	free(err);
}

START_TEST(test_analyze_otlp)
{
	char db[4200];
	const char *dir = getenv("SA_OTLP_PROTO_DIR");

	snprintf(db, sizeof(db), "%s", sa_test_path("b.db"));
	/* bad options: usage errors before any work */
	{
		char *argv[] = { (char *)tool, "analyze", "--baseline", db,
				 "--otlp", "ftp://127.0.0.1/", "w", NULL };
		char *argv2[] = { (char *)tool, "analyze", "--baseline", db,
				  "--otlp", "http://127.0.0.1:1",
				  "--otlp-protocol", "grpc", "w", NULL };
		char *err;

		ck_assert_int_eq(sa_test_exec(argv, NULL,
					      sa_test_path("err.txt")), 2);
		err = slurp("err.txt");
		ck_assert_msg(strstr(err, "bad --otlp 'ftp://127.0.0.1/'"),
			      "%s", err);
		free(err);
		ck_assert_int_eq(sa_test_exec(argv2, NULL,
					      sa_test_path("err.txt")), 2);
		err = slurp("err.txt");
		ck_assert_msg(strstr(err, "bad --otlp-protocol 'grpc'"), "%s",
			      err);
		free(err);
	}
	sa_test_demo_record_shift(tool, service, "base.data", "8",
				  "shift.data", "3");
	sa_test_demo_baseline(tool, db, "base.data", 8);
	check_run(db, "http/json", NULL);
	if (sa_otlp_have_protobuf() && dir && *dir && sa_test_have("protoc"))
		check_run(db, "http/protobuf", dir);
	else
		printf("http/protobuf part skipped: not built or no protoc\n");
}
END_TEST

/* Runs the live sensor on the demo service for 8 windows with --otlp
 * @url; returns the wall time, its stdout lines in @lines.
 */
static double live(pid_t pid, const char *url, char **out, char **lines,
		   int *nlines)
{
	char pidbuf[16], *save = NULL, *line;
	struct timespec t0, t1;
	int st;

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	{
		char *argv[] = { (char *)tool, "--pid", pidbuf, "--backend",
				 "emulate", "--window-insns", "4000",
				 "--period-ms", "30", "--cpu-budget", "1000",
				 "--learn", "4", "--max-windows", "8", "-f",
				 "jsonl", "--otlp", (char *)url, NULL };

		clock_gettime(CLOCK_MONOTONIC, &t0);
		st = sa_test_exec(argv, sa_test_path("out.txt"),
				  sa_test_path("err.txt"));
		clock_gettime(CLOCK_MONOTONIC, &t1);
	}
	ck_assert_msg(st == 0, "live: %d: %s", st, slurp("err.txt"));
	*out = slurp("out.txt");
	*nlines = 0;
	for (line = strtok_r(*out, "\n", &save); line && *nlines < 64;
	     line = strtok_r(NULL, "\n", &save))
		lines[(*nlines)++] = line;
	return (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* The live loop's records: every summary (and event) of the JSON lines
 * reaches the collector, with the target as the resource; and with a
 * collector that never answers the loop still captures its windows and
 * ends in bounded time, counting what it could not send.
 */
START_TEST(test_live_otlp)
{
	char url[64], real[4096], host[256], want[256], v[128], exe[64];
	char *out, *err, *lines[64];
	int i, n = 0, nlines, fd;
	struct rx rx;
	double t, wall;
	const char *p;
	pid_t pid;

	pid = sa_test_demo_start(service);
	rx_start(&rx, "rx-live", 1, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", rx.port);
	live(pid, url, &out, lines, &nlines);
	rx_stop(&rx);
	rx_read(&rx);
	ck_assert_int_gt(nlines, 0);
	ck_assert_ptr_nonnull(realpath(service, real));
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	snprintf(exe, sizeof(exe), "%s", strrchr(service, '/') + 1);
	for (i = 0; i < rx.nrec; i++) {
		const struct rx_record *r = &rx.rec[i];

		if (rx.req[r->request].status != 200)
			continue;
		ck_assert_int_lt(n, nlines);
		rx_assert_str(r, "resource.service.name", exe);
		rx_assert_str(r, "resource.host.name", host);
		rx_assert_int(r, "resource.process.pid", pid);
		rx_assert_str(r, "resource.process.executable.name", exe);
		rx_assert_str(r, "resource.process.executable.path", real);
		/* the JSON line of the same record */
		sa_test_json_field(lines[n], "record", v, sizeof(v));
		rx_assert_str(r, "attr.sensor_agent.record", v);
		sa_test_json_field(lines[n], "comparison", v, sizeof(v));
		rx_assert_int(r, "attr.sensor_agent.comparison", atoll(v));
		sa_test_json_field(lines[n], "window.first", v, sizeof(v));
		rx_assert_int(r, "attr.sensor_agent.window.first", atoll(v));
		sa_test_json_field(lines[n], "window.last", v, sizeof(v));
		rx_assert_int(r, "attr.sensor_agent.window.last", atoll(v));
		if (!strcmp(rx_get(r, "attr.sensor_agent.record"),
			    "s:summary")) {
			rx_assert_int(r, "severityNumber", 9);
			sa_test_json_field(lines[n], "tests", v, sizeof(v));
			rx_assert_int(r, "attr.sensor_agent.tests", atoll(v));
			sa_test_json_field(lines[n], "instructions", v,
					   sizeof(v));
			rx_assert_int(r, "attr.sensor_agent.instructions",
				      atoll(v));
			sa_test_json_field(lines[n], "anomalies", v, sizeof(v));
			rx_assert_int(r, "attr.sensor_agent.anomalies",
				      atoll(v));
		} else {
			sa_test_json_field(lines[n], "state", v, sizeof(v));
			rx_assert_str(r, "attr.sensor_agent.state", v);
			sa_test_json_field(lines[n], "code.function.name", v,
					   sizeof(v));
			rx_assert_str(r, "attr.code.function.name", v);
		}
		n++;
	}
	ck_assert_int_eq(n, nlines);
	err = slurp("err.txt");
	snprintf(want, sizeof(want), "OTLP: %d records sent, 0 dropped",
		 nlines);
	ck_assert_msg(strstr(err, want), "want '%s' in: %s", want, err);
	free(err);
	free(out);
	rx_free(&rx);

	/* a collector that accepts and never answers */
	fd = rx_silent(true, url, sizeof(url));
	t = live(pid, url, &out, lines, &nlines);
	close(fd);
	sa_test_demo_stop(pid);
	err = slurp("err.txt");
	/* all 8 windows, then the 5 s flush deadline and the abort (a
	 * second at most) on top of the loop's own wall time
	 */
	ck_assert_msg(strstr(err, "sensor-agent watch: 8 windows"), "%s",
		      err);
	p = strstr(err, " s wall");
	ck_assert_msg(p, "%s", err);
	while (p > err && p[-1] != ' ')
		p--;
	wall = strtod(p, NULL);
	ck_assert_msg(t - wall < 10, "the live run took %.1f s, its loop "
		      "%.1f s", t, wall);
	snprintf(want, sizeof(want), "OTLP: 0 records sent, %d dropped (0 "
		 "queue full, 0 refused or retries out, %d unsent at exit, "
		 "the flush deadline passed)", nlines, nlines);
	ck_assert_msg(strstr(err, want), "want '%s' in: %s", want, err);
	free(err);
	free(out);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("otlp-cli");
	TCase *tc = tcase_create("otlp-cli");

	if (argc != 3) {
		fprintf(stderr, "usage: %s SENSOR_AGENT DEMO_SERVICE\n",
			argv[0]);
		return 1;
	}
	tool = argv[1];
	service = argv[2];
	if (!sa_test_have("python3") || !sa_test_have("addr2line")) {
		printf("SKIP: python3 and addr2line are needed\n");
		return SA_TEST_SKIP;
	}
	sa_test_require_ptrace();
	tcase_add_test(tc, test_analyze_otlp);
	tcase_add_test(tc, test_live_otlp);
	tcase_set_timeout(tc, 240);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
