// SPDX-License-Identifier: BSD-2-Clause
/*
 * The fleet on real ClickHouse servers: two clickhouse-server processes
 * started here on free loopback ports, each with a private config, users
 * file and data directory under the test's temp directory, the two shards
 * of one cluster.  Three hosts' windows are recorded from the demo
 * service with `sensor-agent record --emulate` (host3's half with its
 * input mix shifted by SIGUSR1), then:
 *
 *  - one server, plain tables: `fleet push` of every host, a resend that
 *    stores nothing, the sums in ClickHouse (read with clickhouse-client,
 *    in the raw rows and in both rollups) equal to the windows' own
 *    histories (`decode -f json`); `fleet analyze --host` ranks the
 *    error origin in parse_request first on host3 and finds nothing
 *    significant on host1 and host2;
 *  - both servers, Distributed tables: the rows land on both shards, and
 *    every analysis prints exactly what it printed on plain tables;
 *  - a server SIGKILLed in the middle of a push: the push spools what it
 *    could not send; a push to the dead server with a tiny --spool-max
 *    drops and counts; after a restart the spool and a full resend leave
 *    every window stored once with the same sums;
 *  - the live loop with --fleet: every window it decoded is stored; with
 *    the server away, it keeps going, spools them, and a later push
 *    sends them; with a server that takes connections and never
 *    answers, the loop still decides its windows at its pace (a sender
 *    thread waits), spools and counts drops, and its next run against
 *    the real server resends the spool: every window stored once.
 *
 * Skips (77) only when clickhouse-server is not installed.
 *
 * A fourth host runs a rebuilt service with the shifted input, and
 * `fleet analyze --build NEW --against OLD` names what the new build
 * changed.
 *
 * Usage: test_fleet SENSOR_AGENT DEMO_SERVICE DEMO_SERVICE_REBUILT
 */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demo.h"
#include "testutil.h"

static const char *tool, *service, *rebuilt;
static char ch_server[4096], ch_client[4096];

#define NR_WIN 12	/* windows per host */

struct server {
	pid_t pid;
	int http, tcp;
	char dir[4200];
	char url[64];
};

static struct server srv[2];

/* Prints the time since the first call, for the log: where a slow run
 * spent its time.
 */
static void phase(const char *what)
{
	static struct timespec t0;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!t0.tv_sec)
		t0 = now;
	printf("%7.2f s  %s\n", (double)(now.tv_sec - t0.tv_sec) +
	       (double)(now.tv_nsec - t0.tv_nsec) / 1e9, what);
	fflush(stdout);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd, port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void write_file(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(fclose(f), 0);
}

/* A private config: loopback only, small caches, the cluster `fleet2`
 * of both servers (same shard order on both).
 */
static void configure(struct server *s, int i)
{
	char path[4300];

	snprintf(s->dir, sizeof(s->dir), "%s/ch%d", sa_test_tmpdir(), i);
	ck_assert_int_eq(mkdir(s->dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/config.xml", s->dir);
	write_file(path,
		"<?xml version=\"1.0\"?>\n<yandex>\n"
		" <logger><level>warning</level><log>%s/server.log</log>"
		"<errorlog>%s/error.log</errorlog></logger>\n"
		" <http_port>%d</http_port>\n <tcp_port>%d</tcp_port>\n"
		" <listen_host>127.0.0.1</listen_host>\n"
		" <path>%s/data/</path>\n <tmp_path>%s/tmp/</tmp_path>\n"
		" <user_files_path>%s/user_files/</user_files_path>\n"
		" <users_config>%s/users.xml</users_config>\n"
		" <default_profile>default</default_profile>\n"
		" <default_database>default</default_database>\n"
		" <mark_cache_size>67108864</mark_cache_size>\n"
		" <uncompressed_cache_size>67108864</uncompressed_cache_size>\n"
		" <max_concurrent_queries>16</max_concurrent_queries>\n"
		" <remote_servers><fleet2>\n"
		"  <shard><replica><host>127.0.0.1</host><port>%d</port>"
		"</replica></shard>\n"
		"  <shard><replica><host>127.0.0.1</host><port>%d</port>"
		"</replica></shard>\n"
		" </fleet2></remote_servers>\n</yandex>\n",
		s->dir, s->dir, s->http, s->tcp, s->dir, s->dir, s->dir,
		s->dir, srv[0].tcp, srv[1].tcp);
	snprintf(path, sizeof(path), "%s/users.xml", s->dir);
	write_file(path,
		"<?xml version=\"1.0\"?>\n<yandex>\n"
		" <profiles><default><max_memory_usage>1000000000"
		"</max_memory_usage></default></profiles>\n"
		" <users><default><password></password><networks>"
		"<ip>127.0.0.1</ip></networks><profile>default</profile>"
		"<quota>default</quota></default></users>\n"
		" <quotas><default></default></quotas>\n</yandex>\n");
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->http);
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	FILE *f = ctx;

	return fwrite(p, size, n, f);
}

/* POSTs @sql; returns the HTTP code (0: no answer), the body in *@out. */
static long http(const struct server *s, const char *sql, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CURL *c = curl_easy_init();
	long code = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(c);
	curl_easy_setopt(c, CURLOPT_URL, s->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, sql);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	fclose(f);
	if (out)
		*out = buf;
	else
		free(buf);
	return code;
}

static void start(struct server *s)
{
	struct timespec t0, now;
	char cfg[4300], log[4300];
	int st;

	snprintf(cfg, sizeof(cfg), "--config-file=%s/config.xml", s->dir);
	snprintf(log, sizeof(log), "%s/stdout.log", s->dir);
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (!s->pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* never outlive the test, whatever ends it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(ch_server, ch_server, cfg, (char *)NULL);
		_exit(127);
	}
	/* bounded: a few seconds normally, 60 s at most */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *ans = NULL;

		if (http(s, "SELECT 1", &ans) == 200) {
			free(ans);
			return;
		}
		free(ans);
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			char *l = sa_test_slurp(log, NULL);

			s->pid = 0;
			ck_abort_msg("clickhouse-server exited: %s",
				     l ? l : "");
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		ck_assert_msg(now.tv_sec - t0.tv_sec < 60,
			      "clickhouse-server on port %d not ready in 60 s",
			      s->http);
		usleep(50000);
	}
}

static void stop(struct server *s, int sig)
{
	int i;

	if (s->pid <= 0)
		return;
	kill(s->pid, sig);
	for (i = 0; i < 300; i++) {	/* 15 s, then SIGKILL */
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			return;
		}
		usleep(50000);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

static void stop_all(void)
{
	stop(&srv[0], SIGTERM);
	stop(&srv[1], SIGTERM);
}

/* The tool with its arguments (NULL-terminated, at most 30); stdout and
 * stderr in out.txt and err.txt.
 */
static int run(const char *a1, ...)
{
	char *argv[32] = { (char *)tool, (char *)a1 };
	va_list ap;
	int n = 2;

	va_start(ap, a1);
	while ((argv[n] = va_arg(ap, char *)))
		ck_assert_int_lt(++n, 31);
	va_end(ap);
	return sa_test_exec(argv, sa_test_path("out.txt"),
			    sa_test_path("err.txt"));
}

static char *slurp(const char *name)
{
	char *s = sa_test_slurp(sa_test_path(name), NULL);

	ck_assert_ptr_nonnull(s);
	return s;
}

/* clickhouse-client's answer to @sql on server @s (a peer of our HTTP
 * client), one value.
 */
static char *client(const struct server *s, const char *sql)
{
	char port[16];
	char *argv[] = { ch_client, "--host", "127.0.0.1", "--port", port,
			 "--query", (char *)sql, NULL };
	int st;

	snprintf(port, sizeof(port), "%d", s->tcp);
	st = sa_test_exec(argv, sa_test_path("cl.txt"),
			  sa_test_path("cl.err"));
	ck_assert_msg(st == 0, "clickhouse-client '%s': %s", sql,
		      sa_test_slurp(sa_test_path("cl.err"), NULL));
	return slurp("cl.txt");
}

/* The windows of host @h (1..3), as argv entries. */
static char win_paths[3][NR_WIN][4200];

static void window_names(void)
{
	int h, i;

	for (h = 0; h < 3; h++)
		for (i = 0; i < NR_WIN; i++) {
			if (h < 2)
				snprintf(win_paths[h][i], 4200, "%s/w%d.%03d",
					 sa_test_tmpdir(), h + 1, i);
			else
				snprintf(win_paths[h][i], 4200, "%s/w3%s.%03d",
					 sa_test_tmpdir(),
					 i < NR_WIN / 2 ? "n" : "s",
					 i % (NR_WIN / 2));
		}
}

/* Whether the title line of the anomaly ranked @n in the text @out holds
 * @what.
 */
static bool rank_is(const char *out, int n, const char *what)
{
	char head[16], line[512];
	const char *p, *e;

	snprintf(head, sizeof(head), "\n#%d ", n);
	p = strstr(out, head);
	if (!p)
		return false;
	p++;
	e = strchr(p, '\n');
	snprintf(line, sizeof(line), "%.*s", e ? (int)(e - p) : 500, p);
	return strstr(line, what) != NULL;
}

/* True when one of the first @n anomalies of @out is @what. */
static bool in_top(const char *out, int n, const char *what)
{
	int i;

	for (i = 1; i <= n; i++)
		if (rank_is(out, i, what))
			return true;
	return false;
}

/* The build-id of the first function of window @path. */
static char *build_id_of(const char *path)
{
	char *j, *p, *q, *id;

	ck_assert_int_eq(run("decode", "--format", "json", path, NULL), 0);
	j = slurp("out.txt");
	p = strstr(j, "\"build_id\": \"");
	ck_assert_ptr_nonnull(p);
	p += 13;
	q = strchr(p, '"');
	ck_assert_ptr_nonnull(q);
	id = strndup(p, (size_t)(q - p));
	free(j);
	return id;
}

/* What the windows' own histories say, summed (decode -f json). */
struct sums {
	uint64_t taken, not_taken, executed, calls, returns, count, insns,
		sink_taken, sink_entries;
};

static uint64_t sum_key(const char *json, const char *key)
{
	char pat[64];
	const char *p = json;
	uint64_t s = 0;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	while ((p = strstr(p, pat))) {
		p += strlen(pat);
		s += strtoull(p, NULL, 10);
	}
	return s;
}

static void json_sums(int h, struct sums *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < NR_WIN; i++) {
		char *j;

		ck_assert_int_eq(run("decode", "--format", "json",
				     win_paths[h][i], NULL), 0);
		j = slurp("out.txt");
		ck_assert_msg(!strstr(j, "[unknown]"), "%s", j);
		s->taken += sum_key(j, "taken");
		s->not_taken += sum_key(j, "not_taken");
		s->executed += sum_key(j, "executed");
		s->calls += sum_key(j, "calls");
		s->returns += sum_key(j, "returns");
		s->count += sum_key(j, "count");
		s->insns += sum_key(j, "instructions");
		s->sink_taken += sum_key(j, "error_path_taken");
		s->sink_entries += sum_key(j, "error_sink_entries");
		free(j);
	}
}

static struct sums host_sums[3];

/* The sums of host @h in database @db through clickhouse-client: the raw
 * rows, and the branch counts of both rollups.
 */
static void check_sums(const struct server *s, const char *db, int h,
		       bool rollups)
{
	const struct sums *e = &host_sums[h];
	char sql[1024], want[512], *got;

	snprintf(sql, sizeof(sql),
		 "SELECT sum(taken), sum(not_taken), sum(executed), "
		 "sum(calls), sum(returns), sum(count), sum(insns), "
		 "sum(sink_taken), sum(sink_entries), countIf(kind = "
		 "'window') FROM %s.rows WHERE host = 'host%d'", db, h + 1);
	got = client(s, sql);
	snprintf(want, sizeof(want),
		 "%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%d\n",
		 e->taken, e->not_taken, e->executed, e->calls, e->returns,
		 e->count, e->insns, e->sink_taken, e->sink_entries, NR_WIN);
	ck_assert_msg(!strcmp(got, want), "%s host%d: ClickHouse %s, "
		      "decode -f json %s", db, h + 1, got, want);
	free(got);
	if (!rollups)
		return;
	snprintf(sql, sizeof(sql),
		 "SELECT sum(taken), sum(not_taken), sum(executed), "
		 "sum(sink_taken) FROM %s.host_branch_totals WHERE host = "
		 "'host%d'", db, h + 1);
	got = client(s, sql);
	snprintf(want, sizeof(want), "%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		 "\t%" PRIu64 "\n", e->taken, e->not_taken, e->executed,
		 e->sink_taken);
	ck_assert_msg(!strcmp(got, want), "%s host%d rollup: %s, want %s",
		      db, h + 1, got, want);
	free(got);
}

static void check_fleet_rollup(const struct server *s, const char *db)
{
	char sql[512], want[128], *got;
	uint64_t t = 0, nt = 0;
	int h;

	for (h = 0; h < 3; h++) {
		t += host_sums[h].taken;
		nt += host_sums[h].not_taken;
	}
	snprintf(sql, sizeof(sql), "SELECT sum(taken), sum(not_taken) "
		 "FROM %s.branch_totals", db);
	got = client(s, sql);
	snprintf(want, sizeof(want), "%" PRIu64 "\t%" PRIu64 "\n", t, nt);
	ck_assert_msg(!strcmp(got, want), "%s branch_totals: %s, want %s",
		      db, got, want);
	free(got);
}

/* fleet push of host @h's windows to @url (database @db), @batch
 * windows per INSERT, with a spool when @spool.
 */
static int push(const char *url, const char *db, int h, const char *batch,
		const char *spool)
{
	char *argv[16 + NR_WIN];
	char host[16];
	int n = 0, i;

	snprintf(host, sizeof(host), "host%d", h + 1);
	argv[n++] = (char *)tool;
	argv[n++] = "fleet";
	argv[n++] = "push";
	argv[n++] = "--clickhouse";
	argv[n++] = (char *)url;
	argv[n++] = "--database";
	argv[n++] = (char *)db;
	argv[n++] = "--host";
	argv[n++] = host;
	argv[n++] = "--batch";
	argv[n++] = (char *)batch;
	if (spool) {
		argv[n++] = "--spool";
		argv[n++] = (char *)spool;
	}
	for (i = 0; i < NR_WIN; i++)
		argv[n++] = win_paths[h][i];
	argv[n] = NULL;
	return sa_test_exec(argv, sa_test_path("out.txt"),
			    sa_test_path("err.txt"));
}

static char *analyze(const char *url, const char *db, const char *host)
{
	int st = run("fleet", "analyze", "--clickhouse", url, "--database",
		     db, "--host", host, NULL);

	ck_assert_msg(st == 0, "fleet analyze %s: %s", host,
		      slurp("err.txt"));
	return slurp("out.txt");
}

/* host3 ranks the error origin in parse_request first; host1 and host2
 * have nothing significant.
 */
static void check_analyses(const char *url, const char *db, char *out[3])
{
	const char *first;
	int h;

	for (h = 0; h < 3; h++) {
		char host[16];

		snprintf(host, sizeof(host), "host%d", h + 1);
		out[h] = analyze(url, db, host);
	}
	first = strstr(out[2], "\n#1 ");
	ck_assert_msg(first && !strncmp(first, "\n#1 error_origin: "
					"parse_request (", 28),
		      "host3: %s", out[2]);
	ck_assert_msg(strstr(out[2], "against 24 windows of 2 other hosts"),
		      "%s", out[2]);
	for (h = 0; h < 2; h++)
		ck_assert_msg(strstr(out[h], "No anomaly passes the "
				     "threshold"), "host%d: %s", h + 1,
			      out[h]);
}

static uint64_t count_windows(const struct server *s, const char *db)
{
	char sql[256], *ans = NULL;
	uint64_t n = 0;

	snprintf(sql, sizeof(sql), "SELECT count() FROM %s.rows WHERE kind "
		 "= 'window' FORMAT TabSeparated", db);
	if (http(s, sql, &ans) == 200)
		n = strtoull(ans, NULL, 10);
	free(ans);
	return n;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The count after @key in the fleet line of the exit summary. */
static uint64_t fleet_count(const char *log, const char *key)
{
	const char *p = log;
	char pat[64];

	/* the summary line: "fleet: N windows stored ..." */
	while ((p = strstr(p, "fleet: ")) && !(p[7] >= '0' && p[7] <= '9'))
		p++;
	ck_assert_msg(p, "no fleet line: %s", log);
	snprintf(pat, sizeof(pat), " %s", key);
	/* the number before " KEY" on that line */
	for (; *p && *p != '\n'; p++) {
		if (!strncmp(p, pat, strlen(pat))) {
			const char *q = p;

			while (q > log && q[-1] >= '0' && q[-1] <= '9')
				q--;
			return strtoull(q, NULL, 10);
		}
	}
	ck_abort_msg("no '%s' in the fleet line: %s", key, log);
	return 0;
}

/*
 * The live loop's push never blocks it: --fleet is a local TCP listener
 * that takes connections (the kernel's backlog) and never answers, with a
 * request timeout of 10 minutes.  A push in the loop would stall the
 * first window for those 10 minutes; the sender thread takes the wait:
 * the loop decides all its windows and ends within the test's bound (2
 * minutes, generous on a loaded machine, 5 times less than one request),
 * the queue of one window drops and counts the rest, and what the sender
 * held goes to the spool at the end (the request in flight aborted).
 * Then against the real server: the next run resends the spool first,
 * and every window is stored exactly once.
 */
static void live_black_hole(const char *pidbuf)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char url[64], lspool[4200], sql[512], *log, *ans;
	uint64_t spooled, dropped, resent, stored, n;
	double t0, dt;
	int fd, st;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d",
		 (int)ntohs(sin.sin_port));
	snprintf(lspool, sizeof(lspool), "%s/live-spool-hole",
		 sa_test_tmpdir());
	t0 = mono_s();
	st = run("--pid", pidbuf, "--backend", "emulate", "--window-insns",
		 "4000", "--period-ms", "30", "--cpu-budget", "1000",
		 "--learn", "2", "--max-windows", "8", "--fleet", url,
		 "--fleet-timeout", "600000", "--fleet-queue", "1",
		 "--host", "live3", "--spool", lspool, NULL);
	dt = mono_s() - t0;
	close(fd);
	log = slurp("err.txt");
	ck_assert_msg(st == 0 && strstr(log, "8 windows ("), "%s", log);
	ck_assert_msg(dt < 120, "the loop waited for the fleet: %.1f s for 8 "
		      "windows: %s", dt, log);
	spooled = fleet_count(log, "spooled");
	dropped = fleet_count(log, "dropped");
	/* one window in flight, one queued; the others found it full */
	ck_assert_msg(strstr(log, "fleet: 0 windows stored") &&
		      spooled >= 1 && spooled <= 2 && dropped >= 6 &&
		      spooled + dropped == 8, "%s", log);
	ck_assert_msg(strstr(log, "found the sender's queue full"), "%s",
		      log);
	printf("black hole: 8 windows in %.1f s, %" PRIu64 " spooled, %"
	       PRIu64 " dropped\n", dt, spooled, dropped);
	free(log);

	/* the server is back: the spool first, then the new windows */
	st = run("--pid", pidbuf, "--backend", "emulate", "--window-insns",
		 "4000", "--period-ms", "30", "--cpu-budget", "1000",
		 "--learn", "2", "--max-windows", "4", "--fleet", srv[0].url,
		 "--host", "live3", "--spool", lspool, NULL);
	log = slurp("err.txt");
	ck_assert_msg(st == 0, "%s", log);
	stored = fleet_count(log, "windows stored");
	resent = fleet_count(log, "from the");
	ck_assert_msg(resent == spooled && stored == spooled + 4 &&
		      strstr(log, " 0 spooled, 0 dropped") &&
		      strstr(log, "spool 0 bytes"), "spooled %" PRIu64 ": %s",
		      spooled, log);
	free(log);
	snprintf(sql, sizeof(sql), "SELECT count(), uniqExact(wid) FROM "
		 "sensor_agent.rows WHERE kind = 'window' AND host = 'live3'");
	ans = client(&srv[0], sql);
	n = strtoull(ans, NULL, 10);
	ck_assert_msg(n == spooled + 4, "%s", ans);
	snprintf(sql, sizeof(sql), "%" PRIu64 "\t%" PRIu64 "\n", n, n);
	ck_assert_str_eq(ans, sql);
	free(ans);
	/* a resend of the (empty) spool stores nothing more */
	ck_assert_msg(run("fleet", "push", "--clickhouse", srv[0].url,
			  "--spool", lspool, NULL) == 0, "%s",
		      slurp("err.txt"));
	ans = client(&srv[0], "SELECT count() FROM sensor_agent.rows WHERE "
		     "kind = 'window' AND host = 'live3'");
	ck_assert_uint_eq(strtoull(ans, NULL, 10), spooled + 4);
	free(ans);
}

START_TEST(test_fleet)
{
	char *single[3], *dist[3], *out, *err, *ans;
	char spool[4200], tiny[4200], pidbuf[16];
	pid_t pid, pusher;
	int h, st, i;

	/* Windows: host1 and host2 normal, host3 half normal, half with
	 * its input shifted; all from one service.
	 */
	phase("recording");
	window_names();
	pid = sa_test_demo_start(service);
	sa_test_demo_record(tool, pid, "w1", "12");
	sa_test_demo_record(tool, pid, "w2", "12");
	sa_test_demo_record(tool, pid, "w3n", "6");
	sa_test_demo_shift(pid);
	sa_test_demo_record(tool, pid, "w3s", "6");
	kill(pid, SIGUSR2);
	phase("decode -f json");
	for (h = 0; h < 3; h++)
		json_sums(h, &host_sums[h]);
	phase("starting two servers");

	srv[0].http = free_port();
	srv[0].tcp = free_port();
	srv[1].http = free_port();
	srv[1].tcp = free_port();
	configure(&srv[0], 0);
	configure(&srv[1], 1);
	start(&srv[0]);
	start(&srv[1]);

	phase("one server, plain tables");
	/* One server, plain tables. */
	ck_assert_msg(run("fleet", "init", "--clickhouse", srv[0].url,
			  "--database", "single", NULL) == 0, "%s",
		      slurp("err.txt"));
	for (h = 0; h < 3; h++)
		ck_assert_msg(push(srv[0].url, "single", h, "5", NULL) == 0,
			      "%s", slurp("err.txt"));
	/* a resend stores nothing */
	ck_assert_int_eq(push(srv[0].url, "single", 2, "16", NULL), 0);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, " 0 windows stored") &&
		      strstr(err, " 12 already stored"), "%s", err);
	free(err);
	for (h = 0; h < 3; h++)
		check_sums(&srv[0], "single", h, true);
	check_fleet_rollup(&srv[0], "single");
	/* merged, the rollups keep each branch's line and class */
	free(client(&srv[0], "OPTIMIZE TABLE single.host_branch_totals "
		    "FINAL"));
	free(client(&srv[0], "OPTIMIZE TABLE single.branch_totals FINAL"));
	ans = client(&srv[0], "SELECT (SELECT (sum(line), sum(iclass), "
		     "count()) FROM single.branch_totals) = (SELECT "
		     "(sum(line), sum(iclass), count()) FROM (SELECT "
		     "DISTINCT build_id, binary, function, offset, line, "
		     "iclass FROM single.rows WHERE kind = 'branch'))");
	ck_assert_str_eq(ans, "1\n");
	free(ans);
	for (h = 0; h < 3; h++)
		check_sums(&srv[0], "single", h, true);
	check_fleet_rollup(&srv[0], "single");
	check_analyses(srv[0].url, "single", single);
	/* the same as JSON lines: valid records, the same first one */
	ck_assert_int_eq(run("fleet", "analyze", "--clickhouse", srv[0].url,
			     "--database", "single", "--host", "host3", "-f",
			     "jsonl", NULL), 0);
	out = slurp("out.txt");
	ck_assert_int_eq(sa_test_json_lines_valid(out), 0);
	ck_assert_msg(!strncmp(out, "{\"schema\":\"sensor-agent.anomaly/1\","
			       "\"rank\":1,\"kind\":\"error_origin\"", 65) &&
		      strstr(out, "\"code.function.name\":\"parse_request\""),
		      "%s", out);
	free(out);
	/* -f json: the same records as one array, by Python's json */
	ck_assert_int_eq(rename(sa_test_path("out.txt"),
				sa_test_path("fleet.jsonl")), 0);
	ck_assert_int_eq(run("fleet", "analyze", "--clickhouse", srv[0].url,
			     "--database", "single", "--host", "host3", "-f",
			     "json", NULL), 0);
	{
		char *py[] = { "python3", "-c",
			"import json, sys\n"
			"doc = json.load(open(sys.argv[1]))\n"
			"lines = [json.loads(l) for l in open(sys.argv[2])\n"
			"         if l.strip()]\n"
			"assert isinstance(doc, list) and doc, 'not an array'\n"
			"assert doc == lines, 'json differs from jsonl'\n",
			(char *)sa_test_path("out.txt"),
			(char *)sa_test_path("fleet.jsonl"), NULL };

		ck_assert_msg(sa_test_exec(py, NULL, NULL) == 0,
			      "fleet analyze -f json is not the jsonl "
			      "records as one array");
	}
	phase("builds");
	/* A new build on a fourth host, with the shifted input: what did
	 * it change against the build of the others?
	 */
	{
		char host4[4200], *a, *b;
		pid_t p4 = sa_test_demo_start(rebuilt);

		sa_test_demo_shift(p4);
		sa_test_demo_record(tool, p4, "w4", "6");
		sa_test_demo_stop(p4);
		snprintf(host4, sizeof(host4), "%s/w4.000", sa_test_tmpdir());
		a = build_id_of(host4);
		b = build_id_of(win_paths[0][0]);
		ck_assert_str_ne(a, b);
		/* the old build: the normal hosts */
		ck_assert_int_eq(run("fleet", "init", "--clickhouse",
				     srv[1].url, "--database", "builds",
				     NULL), 0);
		for (h = 0; h < 2; h++)
			ck_assert_msg(push(srv[1].url, "builds", h, "16",
					   NULL) == 0, "%s",
				      slurp("err.txt"));
		ck_assert_msg(run("fleet", "push", "--clickhouse", srv[1].url,
				  "--database", "builds", "--host", "host4",
				  host4, sa_test_path("w4.001"),
				  sa_test_path("w4.002"),
				  sa_test_path("w4.003"),
				  sa_test_path("w4.004"),
				  sa_test_path("w4.005"), NULL) == 0, "%s",
			      slurp("err.txt"));
		ck_assert_msg(run("fleet", "analyze", "--clickhouse",
				  srv[1].url, "--database", "builds",
				  "--build", a, "--against", b, NULL) == 0,
			      "%s", slurp("err.txt"));
		/* the planted shift leads: the cache misses in cache_get
		 * (the new build's windows are all shifted: a direction
		 * the old build never took) and the malformed requests into
		 * the error path in parse_request, among the first three
		 * in either order (their scores are close: either came
		 * first in runs here), beside the keys op_put never had
		 * when the few windows of 4000 instructions happen to catch
		 * puts (so that one is not required).
		 */
		out = slurp("out.txt");
		ck_assert_msg(strstr(out, "(0 could not be matched") &&
			      in_top(out, 3, "new_edge: cache_get (") &&
			      in_top(out, 3, "error_origin: parse_request ("),
			      "%s", out);
		ck_assert_msg(strstr(out, "demo_service_rebuilt [build-id"),
			      "%s", out);
		free(out);
		free(a);
		free(b);
	}

	/* a second init is harmless; another layout in it is refused */
	ck_assert_int_eq(run("fleet", "init", "--clickhouse", srv[0].url,
			     "--database", "single", NULL), 0);
	ck_assert_int_eq(run("fleet", "init", "--clickhouse", srv[0].url,
			     "--database", "single", "--cluster", "fleet2",
			     NULL), 1);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, "created without a cluster"), "%s", err);
	free(err);

	phase("Distributed");
	/* Two shards behind Distributed tables: hosts pushed through
	 * either server, read through either.
	 */
	for (i = 0; i < 2; i++)
		ck_assert_msg(run("fleet", "init", "--clickhouse", srv[i].url,
				  "--database", "dist", "--cluster", "fleet2",
				  NULL) == 0, "%s", slurp("err.txt"));
	for (h = 0; h < 3; h++)
		ck_assert_msg(push(srv[h == 2].url, "dist", h, "16", NULL) ==
			      0, "%s", slurp("err.txt"));
	for (i = 0; i < 2; i++) {
		ans = client(&srv[i], "SELECT count() > 0 FROM "
			     "dist.rows_local");
		ck_assert_msg(!strcmp(ans, "1\n"), "shard %d holds no row",
			      i + 1);
		free(ans);
	}
	for (h = 0; h < 3; h++)
		check_sums(&srv[1], "dist", h, true);
	check_fleet_rollup(&srv[0], "dist");
	check_analyses(srv[1].url, "dist", dist);
	for (h = 0; h < 3; h++) {
		ck_assert_str_eq(dist[h], single[h]);
		free(dist[h]);
		free(single[h]);
	}

	phase("SIGKILL mid-push");
	/* SIGKILL in the middle of a push (one window per INSERT). */
	ck_assert_int_eq(run("fleet", "init", "--clickhouse", srv[0].url,
			     "--database", "crash", NULL), 0);
	snprintf(spool, sizeof(spool), "%s/spool", sa_test_tmpdir());
	pusher = fork();
	ck_assert_int_ge(pusher, 0);
	if (!pusher) {
		int r = 0;

		for (h = 0; h < 3; h++)
			r |= push(srv[0].url, "crash", h, "1", spool);
		_exit(r ? 1 : 0);
	}
	for (i = 0; i < 2000 && count_windows(&srv[0], "crash") < 5; i++)
		usleep(5000);
	stop(&srv[0], SIGKILL);
	ck_assert_int_eq(waitpid(pusher, &st, 0), pusher);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		      "the push did not notice the crash (status %d)", st);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, " spooled"), "%s", err);
	free(err);
	/* the server is down: a tiny spool drops, and says so */
	snprintf(tiny, sizeof(tiny), "%s/tiny", sa_test_tmpdir());
	ck_assert_int_eq(run("fleet", "push", "--clickhouse", srv[0].url,
			     "--database", "crash", "--host", "host1",
			     "--spool", tiny, "--spool-max", "1K",
			     win_paths[0][0], NULL), 1);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, " 0 spooled, 1 dropped"), "%s", err);
	free(err);

	phase("restart, resend");
	start(&srv[0]);
	ck_assert_msg(run("fleet", "push", "--clickhouse", srv[0].url,
			  "--database", "crash", "--spool", spool, NULL) == 0,
		      "%s", slurp("err.txt"));
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, "spool 0 bytes"), "%s", err);
	free(err);
	for (h = 0; h < 3; h++)
		ck_assert_msg(push(srv[0].url, "crash", h, "16", NULL) == 0,
			      "%s", slurp("err.txt"));
	/* a damaged spool file does not hold back the others */
	{
		char bad[4300];

		snprintf(bad, sizeof(bad), "%s/00000000000000aa.tsv", spool);
		write_file(bad, "not\ta\trow\n");
		snprintf(bad, sizeof(bad), "%s/00000000000000aa.tsv.bad",
			 spool);
		ck_assert_int_eq(push(srv[0].url, "crash", 0, "16", spool), 1);
		err = slurp("err.txt");
		ck_assert_msg(strstr(err, " 12 already stored, 0 spooled, 1 "
				     "dropped") &&
			      strstr(err, "1 spool files refused"), "%s", err);
		free(err);
		ck_assert_int_eq(access(bad, F_OK), 0);
	}
	for (h = 0; h < 3; h++)
		check_sums(&srv[0], "crash", h, false);
	/* not one row twice */
	ans = client(&srv[0], "SELECT count() = uniqExact(host, wid, kind, "
		     "build_id, binary, entry_offset, linkage_name, offset, "
		     "t_build_id, t_binary, t_offset) FROM crash.rows");
	ck_assert_str_eq(ans, "1\n");
	free(ans);
	/* the rollups are fed by the INSERTs: they can miss a window
	 * whose INSERT died between the table and its view
	 * (docs/fleet.md), never count one twice
	 */
	ans = client(&srv[0], "SELECT (SELECT sum(taken) FROM "
		     "crash.host_branch_totals) <= (SELECT sum(taken) FROM "
		     "crash.rows)");
	ck_assert_str_eq(ans, "1\n");
	free(ans);

	phase("live loop");
	/* The live loop with --fleet: every decoded window is stored. */
	ck_assert_int_eq(run("fleet", "init", "--clickhouse", srv[0].url,
			     NULL), 0);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	st = run("--pid", pidbuf, "--backend", "emulate", "--window-insns",
		 "4000", "--period-ms", "30", "--cpu-budget", "1000",
		 "--learn", "2", "--max-windows", "4", "--fleet", srv[0].url,
		 "--host", "live1", NULL);
	out = slurp("err.txt");
	ck_assert_msg(st == 0, "%s", out);
	ck_assert_msg(strstr(out, "fleet: 4 windows stored"), "%s", out);
	free(out);
	ans = client(&srv[0], "SELECT count() FROM sensor_agent.rows WHERE "
		     "kind = 'window' AND host = 'live1'");
	ck_assert_str_eq(ans, "4\n");
	free(ans);
	/* ClickHouse away: the sensor keeps going, its windows wait in the
	 * spool, and a later push sends them
	 */
	{
		char dead[64], lspool[4200];

		snprintf(dead, sizeof(dead), "http://127.0.0.1:%d",
			 free_port());
		snprintf(lspool, sizeof(lspool), "%s/live-spool",
			 sa_test_tmpdir());
		st = run("--pid", pidbuf, "--backend", "emulate",
			 "--window-insns", "4000", "--period-ms", "30",
			 "--cpu-budget", "1000", "--learn", "2",
			 "--max-windows", "4", "--fleet", dead, "--host",
			 "live2", "--spool", lspool, NULL);
		out = slurp("err.txt");
		ck_assert_msg(st == 0 && strstr(out, "4 windows (") &&
			      strstr(out, "fleet: 0 windows stored") &&
			      strstr(out, " 4 spooled, 0 dropped"), "%s", out);
		free(out);
		ck_assert_msg(run("fleet", "push", "--clickhouse", srv[0].url,
				  "--spool", lspool, NULL) == 0, "%s",
			      slurp("err.txt"));
		err = slurp("err.txt");
		ck_assert_msg(strstr(err, "4 windows stored (4 from the "
				     "spool)"), "%s", err);
		free(err);
		ans = client(&srv[0], "SELECT count() FROM sensor_agent.rows "
			     "WHERE kind = 'window' AND host = 'live2'");
		ck_assert_str_eq(ans, "4\n");
		free(ans);
	}

	phase("live loop, black hole");
	live_black_hole(pidbuf);

	sa_test_demo_stop(pid);
	stop_all();
	phase("done");
}
END_TEST

static bool find_prog(const char *name, char *out, size_t size)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin",
					    "/usr/local/bin", NULL };
	const char *path = getenv("PATH");
	char buf[8192], *dir, *save;
	int i;

	snprintf(buf, sizeof(buf), "%s", path ? path : "");
	for (dir = strtok_r(buf, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, size, "%s/%s", dir, name);
		if (!access(out, X_OK))
			return true;
	}
	for (i = 0; dirs[i]; i++) {
		snprintf(out, size, "%s/%s", dirs[i], name);
		if (!access(out, X_OK))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	Suite *s;
	TCase *tc;
	int ret;

	if (argc < 4) {
		fprintf(stderr, "usage: %s SENSOR_AGENT DEMO_SERVICE "
			"DEMO_SERVICE_REBUILT\n",
			argv[0]);
		return 2;
	}
	if (!find_prog("clickhouse-server", ch_server, sizeof(ch_server)) ||
	    !find_prog("clickhouse-client", ch_client, sizeof(ch_client))) {
		printf("SKIP: clickhouse-server or clickhouse-client is not "
		       "installed (Debian clickhouse-server, "
		       "clickhouse-client)\n");
		return 77;
	}
	sa_test_require_ptrace();
	tool = argv[1];
	service = argv[2];
	rebuilt = argv[3];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	s = suite_create("fleet");
	tc = tcase_create("clickhouse");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_fleet);
	suite_add_tcase(s, tc);
	ret = sa_test_run(s);
	curl_global_cleanup();
	return ret;
}
