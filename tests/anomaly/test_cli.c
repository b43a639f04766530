// SPDX-License-Identifier: BSD-2-Clause
/*
 * The anomaly commands end to end, on real windows: the demo service is
 * recorded by `sensor-agent record --emulate --pid` (normal, then with
 * its input mix shifted), and `baseline add`, `baseline list`,
 * `baseline diff` and `analyze` run on those windows; then every bad
 * input of the issue gets its message and exit status 1: a corrupt
 * database, an empty one, windows of a rebuilt binary, windows of another
 * program; then a baseline that cannot lie: rows edited to break each
 * invariant of the store are refused by `analyze`, `baseline list` and
 * `baseline add` with the table, the row and the file named (add adds
 * nothing), and concurrent `baseline add` of different windows
 * into one new file keep every window.
 *
 * Usage: test_cli SENSOR_AGENT DEMO_SERVICE DEMO_SERVICE_REBUILT OTHER
 */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"
#include "testutil.h"

static const char *tool, *service, *service_v2, *other;

/* Runs the tool; returns its exit status; its stdout and stderr land in
 * out.txt and err.txt of the temp directory.
 */
static int run(const char *a1, const char *a2, const char *a3,
	       const char *a4, const char *a5, const char *a6, const char *a7,
	       const char *a8)
{
	char *argv[] = { (char *)tool, (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, (char *)a5, (char *)a6, (char *)a7,
			 (char *)a8, NULL };

	return sa_test_exec(argv, sa_test_path("out.txt"),
			    sa_test_path("err.txt"));
}

static char *slurp(const char *name)
{
	char *s = sa_test_slurp(sa_test_path(name), NULL);

	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(test_cli)
{
	char db[4200], *out, *err;
	char v2[4200], cmd[8600];
	FILE *f;
	pid_t pid;

	snprintf(db, sizeof(db), "%s", sa_test_path("b.db"));
	sa_test_demo_record_shift(tool, service, "base.data", "8", "shift.data",
				  "3");

	ck_assert_int_eq(run("baseline", "add", "--db", db,
			     sa_test_demo_win("base.data", 0),
			     sa_test_demo_win("base.data", 1),
			     sa_test_demo_win("base.data", 2), NULL),
			 0);
	ck_assert_int_eq(run("baseline", "add", "--db", db,
			     sa_test_demo_win("base.data", 3),
			     sa_test_demo_win("base.data", 4),
			     sa_test_demo_win("base.data", 5), NULL),
			 0);
	ck_assert_int_eq(run("baseline", "add", "--db", db,
			     sa_test_demo_win("base.data", 6),
			     sa_test_demo_win("base.data", 7), NULL, NULL),
			 0);
	ck_assert_int_eq(run("baseline", "list", "--db", db, NULL, NULL, NULL,
			     NULL), 0);
	out = slurp("out.txt");
	ck_assert_msg(strstr(out, service) && strstr(out, "8 windows added"),
		      "%s", out);
	free(out);

	/* The shifted windows: the error path is named. */
	ck_assert_int_eq(run("analyze", "--baseline", db,
			     sa_test_demo_win("shift.data", 0),
			     sa_test_demo_win("shift.data", 1),
			     sa_test_demo_win("shift.data", 2), NULL, NULL),
			 0);
	out = slurp("out.txt");
	ck_assert_msg(strstr(out, "parse_request (") &&
		      strstr(out, "the branch into the error path was taken"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(run("analyze", "--baseline", db, "--format", "jsonl",
			     sa_test_demo_win("shift.data", 0),
			     sa_test_demo_win("shift.data", 1), NULL),
			 0);
	out = slurp("out.txt");
	ck_assert_msg(strstr(out, "\"code.function.name\":\"parse_request\"") &&
		      strstr(out, "\"kind\":\"error_origin\""), "%s", out);
	free(out);
	/* A normal window of the same run: nothing to report. */
	ck_assert_int_eq(run("analyze", "--baseline", db,
			     sa_test_demo_win("base.data", 7), NULL, NULL, NULL,
			     NULL),
			 0);
	out = slurp("out.txt");
	ck_assert_msg(strstr(out, "No anomaly passes the threshold"), "%s",
		      out);
	free(out);

	/* Corrupt database. */
	f = fopen(sa_test_path("bad.db"), "w");
	ck_assert_ptr_nonnull(f);
	fputs("not a database, just text long enough to fill a header: "
	      "................................................\n", f);
	fclose(f);
	ck_assert_int_eq(run("analyze", "--baseline", sa_test_path("bad.db"),
			     sa_test_demo_win("shift.data", 0), NULL, NULL,
			     NULL, NULL),
			 1);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, "file is not a database"), "%s", err);
	free(err);

	/* Empty database. */
	f = fopen(sa_test_path("empty.db"), "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(run("analyze", "--baseline", sa_test_path("empty.db"),
			     sa_test_demo_win("shift.data", 0), NULL, NULL,
			     NULL, NULL),
			 1);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, "is empty"), "%s", err);
	free(err);

	/* A rebuilt binary: the same file name, another build-id. */
	snprintf(v2, sizeof(v2), "%s", sa_test_path("v2"));
	ck_assert_int_eq(mkdir(v2, 0755), 0);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s/%s'", service_v2, v2,
		 strrchr(service, '/') + 1);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(v2 + strlen(v2), sizeof(v2) - strlen(v2), "/%s",
		 strrchr(service, '/') + 1);
	pid = sa_test_demo_start(v2);
	sa_test_demo_record(tool, pid, "v2.data", "1");
	sa_test_demo_stop(pid);
	ck_assert_int_eq(run("analyze", "--baseline", db,
			     sa_test_demo_win("v2.data", 0), NULL, NULL, NULL,
			     NULL),
			 1);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, "of another build") &&
		      strstr(err, "baseline diff"), "%s", err);
	free(err);

	/* Another program. */
	pid = sa_test_demo_start(other);
	sa_test_demo_record(tool, pid, "other.data", "1");
	sa_test_demo_stop(pid);
	ck_assert_int_eq(run("analyze", "--baseline", db,
			     sa_test_demo_win("other.data", 0), NULL, NULL,
			     NULL, NULL),
			 1);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, "from another binary"), "%s", err);
	free(err);

	/* Two builds in one baseline: the diff runs (same behaviour, so
	 * nothing passes with one window of the new build).
	 */
	ck_assert_int_eq(run("baseline", "add", "--db", db,
			     sa_test_demo_win("v2.data", 0), NULL, NULL, NULL),
			 0);
	ck_assert_int_eq(run("baseline", "diff", "--db", db, service, v2,
			     NULL, NULL), 0);
	out = slurp("out.txt");
	ck_assert_msg(strstr(out, "No anomaly passes"), "%s", out);
	free(out);
	ck_assert_int_eq(run("baseline", "diff", "--db", db, service,
			     "nosuchbuild", NULL, NULL), 1);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, "has no build 'nosuchbuild'"), "%s", err);
	free(err);
}
END_TEST


/* Copies the file @from to @to. */
static void copy_file(const char *from, const char *to)
{
	size_t len;
	char *buf = sa_test_slurp(from, &len);
	FILE *f;

	ck_assert_ptr_nonnull(buf);
	f = fopen(to, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	free(buf);
}

/* Runs @sql on the database @path; returns the rows it changed. */
static int tamper(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	int n;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
		      "%s: %s", sql, msg ? msg : "?");
	n = sqlite3_changes(db);
	sqlite3_close(db);
	return n;
}

static int64_t query_int(const char *path, const char *sql)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
					 NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* One branch that ran (so the loader reaches it). */
#define A_BRANCH "(SELECT offset FROM branches WHERE executed>10 " \
		 "AND not_taken>0 ORDER BY offset LIMIT 1)"

static const struct {
	const char *sql;
	const char *table, *what;
} tampered[] = {
	{ "UPDATE branches SET taken=executed-not_taken+3 WHERE offset="
	  A_BRANCH, "table branches", "exceeds executed" },
	{ "UPDATE branches SET not_taken=-2 WHERE offset=" A_BRANCH,
	  "table branches", "not_taken is -2, negative" },
	{ "UPDATE branches SET taken='many' WHERE offset=" A_BRANCH,
	  "table branches", "taken is not a number (text)" },
	{ "UPDATE branches SET executed=9e999 WHERE offset=" A_BRANCH,
	  "table branches", "executed is inf, not finite" },
	{ "UPDATE branches SET taken=1e308, executed=1e308 WHERE offset="
	  A_BRANCH, "table branches", "over 2^53" },
	/* 2^53 + 2: a double, no longer counting by ones */
	{ "UPDATE branches SET executed=9007199254740994 WHERE offset="
	  A_BRANCH, "table branches", "executed is 9.0072e+15, over 2^53" },
	{ "UPDATE branches SET line=12.5 WHERE offset=" A_BRANCH,
	  "table branches", "line is not an integer (12.5)" },
	{ "UPDATE funcs SET calls=-1 WHERE entry=(SELECT min(entry) FROM "
	  "funcs)", "table funcs", "calls is -1, negative" },
	{ "UPDATE funcs SET s_cc=X'00' WHERE entry=(SELECT min(entry) FROM "
	  "funcs)", "table funcs", "s_cc is not a number (blob)" },
	/* WITHOUT ROWID tables: a row by its key */
	{ "UPDATE targets SET count=-5 WHERE (build, offset, key)=(SELECT "
	  "build, offset, key FROM targets WHERE offset IN (SELECT offset "
	  "FROM branches) LIMIT 1)", "table targets",
	  "count is -5, negative" },
	{ "UPDATE builds SET windows=-3 WHERE binary LIKE '%demo_service'",
	  "table builds",
	  "windows is -3, negative" },
	{ "UPDATE builds SET added=2.5 WHERE binary LIKE '%demo_service'",
	  "table builds",
	  "added is not an integer (2.5)" },
};

START_TEST(test_tampered)
{
	char good[4200], bad[4200], *err;
	int64_t added;
	size_t i;
	pid_t pid;

	pid = sa_test_demo_start(service);
	sa_test_demo_record(tool, pid, "t.data", "5");
	sa_test_demo_stop(pid);
	snprintf(good, sizeof(good), "%s", sa_test_path("good.db"));
	snprintf(bad, sizeof(bad), "%s", sa_test_path("bad.db"));
	ck_assert_int_eq(run("baseline", "add", "--db", good,
			     sa_test_demo_win("t.data", 0),
			     sa_test_demo_win("t.data", 1),
			     sa_test_demo_win("t.data", 2),
			     sa_test_demo_win("t.data", 3)),
			 0);
	/* The untouched baseline analyses. */
	ck_assert_int_eq(run("analyze", "--baseline", good,
			     sa_test_demo_win("t.data", 4), NULL, NULL, NULL,
			     NULL),
			 0);
	for (i = 0; i < sizeof(tampered) / sizeof(tampered[0]); i++) {
		copy_file(good, bad);
		ck_assert_msg(tamper(bad, tampered[i].sql) == 1, "%s",
			      tampered[i].sql);
		ck_assert_int_eq(run("analyze", "--baseline", bad,
				     sa_test_demo_win("t.data", 4), NULL, NULL,
				     NULL, NULL),
				 1);
		err = slurp("err.txt");
		ck_assert_msg(strstr(err, bad) && strstr(err, tampered[i].table)
			      && strstr(err, ", row (") &&
			      strstr(err, tampered[i].what),
			      "%s: %s", tampered[i].sql, err);
		free(err);
		/* list prints the same rows: the same refusal */
		ck_assert_int_eq(run("baseline", "list", "--db", bad, NULL,
				     NULL, NULL, NULL), 1);
		err = slurp("err.txt");
		ck_assert_msg(strstr(err, bad) && strstr(err, tampered[i].table)
			      && strstr(err, ", row (") &&
			      strstr(err, tampered[i].what),
			      "list: %s: %s", tampered[i].sql, err);
		free(err);
		/* add would sum onto the row: refused, nothing added */
		added = query_int(bad, "SELECT sum(added) FROM builds");
		ck_assert_int_eq(run("baseline", "add", "--db", bad,
				     sa_test_demo_win("t.data", 4), NULL, NULL,
				     NULL),
				 1);
		err = slurp("err.txt");
		ck_assert_msg(strstr(err, bad) && strstr(err, tampered[i].table)
			      && strstr(err, ", row (") &&
			      strstr(err, tampered[i].what),
			      "add: %s: %s", tampered[i].sql, err);
		free(err);
		ck_assert_int_eq(query_int(bad, "SELECT sum(added) FROM "
					   "builds"), added);
	}
	/* and the untouched one lists and adds */
	ck_assert_int_eq(run("baseline", "list", "--db", good, NULL, NULL,
			     NULL, NULL), 0);
	ck_assert_int_eq(run("baseline", "add", "--db", good,
			     sa_test_demo_win("t.data", 4), NULL, NULL, NULL),
			 0);
}
END_TEST

/* Eight `baseline add` of different windows at once into a file that
 * does not exist yet, 20 times: every window is in it every time.  In
 * odd rounds the file is created empty and held locked (an exclusive
 * transaction that writes nothing) while the adds decode, so that all of
 * them find the file empty at the same moment once it is released.
 */
START_TEST(test_concurrent_add)
{
	enum { NR = 8, ROUNDS = 20 };
	char db[4200], path[4200];
	int round, i, st;
	pid_t pid, kids[NR];

	pid = sa_test_demo_start(service);
	sa_test_demo_record(tool, pid, "c.data", "8");
	sa_test_demo_stop(pid);
	for (round = 0; round < ROUNDS; round++) {
		sqlite3 *hold = NULL;

		snprintf(db, sizeof(db), "%s/new-%d.db", sa_test_tmpdir(),
			 round);
		if (round & 1) {
			ck_assert_int_eq(sqlite3_open(db, &hold), SQLITE_OK);
			ck_assert_int_eq(sqlite3_exec(hold, "BEGIN EXCLUSIVE",
						      NULL, NULL, NULL),
					 SQLITE_OK);
		}
		for (i = 0; i < NR; i++) {
			char *argv[] = { (char *)tool, "baseline", "add",
					 "--db", db,
					 (char *)sa_test_demo_win("c.data", i),
					 NULL };

			snprintf(path, sizeof(path), "%s/add-%d.err",
				 sa_test_tmpdir(), i);
			kids[i] = fork();
			ck_assert_int_ge(kids[i], 0);
			if (!kids[i])
				_exit(sa_test_exec(argv, NULL, path));
		}
		if (hold) {
			usleep(700000);	/* the adds decode, then wait */
			ck_assert_int_eq(sqlite3_exec(hold, "COMMIT", NULL,
						      NULL, NULL), SQLITE_OK);
			sqlite3_close(hold);
		}
		for (i = 0; i < NR; i++) {
			char name[32];

			ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
			snprintf(name, sizeof(name), "add-%d.err", i);
			ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st),
				      "round %d, add %d: %s", round, i,
				      slurp(name));
		}
		/* the service's build: in every window (libc is not) */
		ck_assert_msg(query_int(db, "SELECT added FROM builds WHERE "
					"binary LIKE '%demo_service'") == NR,
			      "round %d: %lld of %d windows in the baseline",
			      round, (long long)query_int(db,
				"SELECT added FROM builds WHERE binary LIKE "
				"'%demo_service'"), NR);
	}
}
END_TEST

/* Runs the shell command @fmt; asserts it succeeds. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	ck_assert_msg(st == 0, "%s: status %d", cmd, st);
}

/* "Matched across builds: M of N branches (U could not ..." */
static void matched(const char *out, unsigned long long *m,
		    unsigned long long *n)
{
	const char *p = strstr(out, "Matched across builds: ");

	ck_assert_msg(p, "%s", out);
	ck_assert_int_eq(sscanf(p, "Matched across builds: %llu of %llu", m,
				n), 2);
}

/* Another program, with nothing of the demo service in it. */
static const char other_src[] =
	"#include <signal.h>\n#include <stdio.h>\n#include <sys/prctl.h>\n"
	"static volatile sig_atomic_t stop;\n"
	"static void on(int s) { (void)s; stop = 1; }\n"
	"static __attribute__((noinline)) unsigned step(unsigned x)\n"
	"{ return (x & 1) ? 3 * x + 1 : x / 2; }\n"
	"int main(void) { unsigned x = 27, n = 0;\n"
	"  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);\n"
	"  signal(SIGTERM, on); printf(\"ready\\n\"); fflush(stdout);\n"
	"  while (!stop) { x = step(x); if (x == 1) x = 27 + n++ % 100; }\n"
	"  return 0; }\n";

/* One source, two builds: built at test time from two directories (so
 * every source path differs), the second one with a function linked
 * before the service's code (so every offset moves).  Before cross-build
 * matching, `baseline diff` of such builds matched no branch and said
 * "No anomaly passes the threshold".
 */
START_TEST(test_cross_build)
{
	const char *cc = getenv("SA_CC"), *src = getenv("SA_SOURCE_DIR");
	char db[4200], a[4200], b[4200], c[4200], *out, *err;
	unsigned long long m, n;
	const char *t = sa_test_tmpdir();
	FILE *f;
	pid_t pid;

	ck_assert_msg(cc && src, "SA_CC and SA_SOURCE_DIR must be set");
	snprintf(db, sizeof(db), "%s/x.db", t);
	sh("mkdir -p '%s/xa/src' '%s/xb/tree/src' '%s/xc' && "
	   "cp '%s/tests/scenarios/demo_service.c' '%s/xa/src/svc.c' && "
	   "cp '%s/tests/scenarios/demo_service.c' '%s/xb/tree/src/svc.c'",
	   t, t, t, src, t, src, t);
	f = fopen(sa_test_path("xb/tree/src/pad.c"), "w");
	ck_assert_ptr_nonnull(f);
	fputs("unsigned pad_table[64];\n"
	      "__attribute__((noinline)) unsigned pad(unsigned x)\n"
	      "{ for (unsigned i = 0; i < 64; i++) x = x * 31 + pad_table[i] "
	      "+ (x >> 3); return x; }\n", f);
	ck_assert_int_eq(fclose(f), 0);
	f = fopen(sa_test_path("xc/other.c"), "w");
	ck_assert_ptr_nonnull(f);
	fputs(other_src, f);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(a, sizeof(a), "%s/xa/demo", t);
	snprintf(b, sizeof(b), "%s/xb/demo", t);
	snprintf(c, sizeof(c), "%s/xc/demo", t);
	sh("%s -g -O2 -fno-sanitize=all -o '%s' '%s/xa/src/svc.c'", cc, a, t);
	sh("%s -g -O2 -fno-sanitize=all -o '%s' '%s/xb/tree/src/pad.c' "
	   "'%s/xb/tree/src/svc.c'", cc, b, t, t);
	sh("%s -g -O2 -fno-sanitize=all -o '%s' '%s/xc/other.c'", cc, c, t);

	pid = sa_test_demo_start(a);
	sa_test_demo_record(tool, pid, "xa.data", "6");
	sa_test_demo_stop(pid);
	ck_assert_int_eq(run("baseline", "add", "--db", db,
			     sa_test_demo_win("xa.data", 0),
			     sa_test_demo_win("xa.data", 1),
			     sa_test_demo_win("xa.data", 2),
			     sa_test_demo_win("xa.data", 3)),
			 0);
	ck_assert_int_eq(run("baseline", "add", "--db", db,
			     sa_test_demo_win("xa.data", 4),
			     sa_test_demo_win("xa.data", 5), NULL, NULL),
			 0);
	pid = sa_test_demo_start(b);
	sa_test_demo_record(tool, pid, "xb.data", "3");
	sa_test_demo_shift(pid);
	sa_test_demo_record(tool, pid, "xbs.data", "3");
	sa_test_demo_stop(pid);

	/* Without --cross-build: another build, refused as before. */
	ck_assert_int_eq(run("analyze", "--baseline", db,
			     sa_test_demo_win("xb.data", 0), NULL, NULL, NULL,
			     NULL),
			 1);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, "of another build") &&
		      strstr(err, "--cross-build"), "%s", err);
	free(err);
	/* The same behaviour across builds: the branches match. */
	ck_assert_int_eq(run("analyze", "--cross-build", "--baseline", db,
			     sa_test_demo_win("xb.data", 0),
			     sa_test_demo_win("xb.data", 1),
			     sa_test_demo_win("xb.data", 2), NULL),
			 0);
	out = slurp("out.txt");
	matched(out, &m, &n);
	ck_assert_msg(n >= 10 && m * 10 >= n * 9, "%s", out);
	free(out);
	/* The planted change is found across builds. */
	ck_assert_int_eq(run("analyze", "--cross-build", "--baseline", db,
			     sa_test_demo_win("xbs.data", 0),
			     sa_test_demo_win("xbs.data", 1),
			     sa_test_demo_win("xbs.data", 2), NULL),
			 0);
	out = slurp("out.txt");
	matched(out, &m, &n);
	ck_assert_msg(m * 10 >= n * 9, "%s", out);
	/* both changes of the shifted mix: the error path and the key
	 * space that no longer fits the cache
	 */
	ck_assert_msg(strstr(out, "error_origin: parse_request (") &&
		      strstr(out, "the branch into the error path was taken") &&
		      strstr(out, ": cache_get ("), "%s", out);
	free(out);

	/* baseline diff of the two builds: matched, and the change named. */
	ck_assert_int_eq(run("baseline", "add", "--db", db,
			     sa_test_demo_win("xbs.data", 0),
			     sa_test_demo_win("xbs.data", 1),
			     sa_test_demo_win("xbs.data", 2), NULL),
			 0);
	ck_assert_int_eq(run("baseline", "diff", "--db", db, a, b, NULL, NULL),
			 0);
	out = slurp("out.txt");
	matched(out, &m, &n);
	ck_assert_msg(m * 10 >= n * 9, "%s", out);
	ck_assert_msg(strstr(out, "parse_request (") &&
		      !strstr(out, "No anomaly passes"), "%s", out);
	free(out);

	/* Another program of the same file name: nothing comparable. */
	pid = sa_test_demo_start(c);
	sa_test_demo_record(tool, pid, "xc.data", "1");
	sa_test_demo_stop(pid);
	ck_assert_int_eq(run("analyze", "--cross-build", "--baseline", db,
			     sa_test_demo_win("xc.data", 0), NULL, NULL, NULL),
			 1);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, "nothing comparable"), "%s", err);
	free(err);
	out = slurp("out.txt");
	ck_assert_msg(!strstr(out, "No anomaly"), "%s", out);
	free(out);
	ck_assert_int_eq(run("baseline", "add", "--db", db,
			     sa_test_demo_win("xc.data", 0), NULL, NULL, NULL),
			 0);
	ck_assert_int_eq(run("baseline", "diff", "--db", db, a, c, NULL, NULL),
			 1);
	err = slurp("err.txt");
	ck_assert_msg(strstr(err, "nothing comparable"), "%s", err);
	free(err);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("anomaly-cli");
	TCase *tc = tcase_create("commands");

	if (argc != 5) {
		fprintf(stderr, "usage: %s SENSOR_AGENT DEMO_SERVICE "
			"DEMO_SERVICE_REBUILT OTHER\n", argv[0]);
		return 2;
	}
	sa_test_require_ptrace();
	tool = argv[1];
	service = argv[2];
	service_v2 = argv[3];
	other = argv[4];
	tcase_add_test(tc, test_cli);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("store");
	tcase_add_test(tc, test_tampered);
	tcase_add_test(tc, test_concurrent_add);
	tcase_set_timeout(tc, 240);
	suite_add_tcase(s, tc);
	tc = tcase_create("cross-build");
	tcase_add_test(tc, test_cross_build);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
