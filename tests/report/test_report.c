// SPDX-License-Identifier: BSD-2-Clause
/*
 * The HTML report.
 *
 * hostile: histories whose function, binary and source path are HTML
 * ("<script>...", "<img onerror=...>"); the report escapes every one of
 * them (chromium's DOM has no element made of them and no script error),
 * finds the source under --source-dir with the line marked, and falls
 * back to the disassembly of a binary whose source is unknown, the
 * branch's instruction being the one objdump prints at that address.
 *
 * demo: the demo service recorded with `record --emulate`, normal then
 * shifted; `report` and `analyze --html` of the shifted windows, loaded
 * in headless chromium: no script or console error, the top anomaly of
 * `analyze --format jsonl` (its function and line) in the DOM, the
 * source line marked, and a screenshot that is not blank (kept in the
 * build directory as tests/report/report-demo.png).
 *
 * Skips (77) only when chromium is missing (or ptrace is not allowed for
 * the emulated backend).
 *
 * timeline: `decode --timeline` of emulated recordings of wl_branches,
 * with and without timestamps, and of a real Skylake trace of
 * ../shared/traces when present: valid trace-event JSON whose calls (and
 * with the instruction clock, their nesting) are those of
 * `perf script --itrace=cr` (check_timeline.py).
 *
 * context: `analyze --context` on wl_context: a planted earlier condition
 * is ranked first, with the counts the workload made itself; without
 * one, nothing passes.
 *
 * Usage: test_report SENSOR_AGENT DEMO_SERVICE PNGSTAT_PY WL_BRANCHES
 *        CHECK_TIMELINE_PY WL_CONTEXT
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/image.h"
#include "sensor/report.h"
#include "demo.h"
#include "testutil.h"
#include "../anomaly/synth.h"

static const char *tool, *service, *pngstat, *workload, *checker;
static const char *ctx_workload;

#define CONTEXT_N "400"	/* requests per run of wl_context */
static bool have_chromium;

static char *slurp(const char *path)
{
	char *s = sa_test_slurp(path, NULL);

	ck_assert_msg(s != NULL, "cannot read %s", path);
	return s;
}

/* Loads @html in headless chromium; writes its DOM to @dom and, when
 * @png is not NULL, a screenshot.  Fails the test on a console error.
 */
static void chromium(const char *html, const char *dom, const char *png)
{
	char url[4300], prof[4200], shot[4300], logf[4200], *err;
	char *argv[] = { "timeout", "-k", "5", "90", "chromium",
			 "--headless", "--no-sandbox", "--disable-gpu",
			 "--disable-quic", "--no-first-run",
			 "--disable-background-networking",
			 "--disable-component-update", "--disable-sync",
			 "--enable-logging=stderr", "--v=0", prof,
			 png ? shot : "--dump-dom",
			 png ? "--window-size=1200,900" : "--hide-scrollbars",
			 url, NULL };
	int st;

	snprintf(logf, sizeof(logf), "%s", sa_test_path("chromium.err"));
	snprintf(url, sizeof(url), "file://%s", html);
	snprintf(prof, sizeof(prof), "--user-data-dir=%s",
		 sa_test_path(png ? "prof-shot" : "prof-dom"));
	snprintf(shot, sizeof(shot), "--screenshot=%s", png ? png : "");
	st = sa_test_exec(argv, dom, logf);
	err = slurp(logf);
	ck_assert_msg(st == 0, "chromium exit %d: %s", st, err);
	/* console messages of the page: "CONSOLE(12)] ..." or
	 * "Uncaught ..." in chromium's log
	 */
	ck_assert_msg(!strstr(err, "CONSOLE") && !strstr(err, "Uncaught"),
		      "console error: %s", err);
	free(err);
}

/* The DOM's script result: data-sa-ready set, no data-sa-errors. */
static void check_dom_clean(const char *dom)
{
	ck_assert_msg(strstr(dom, "data-sa-ready=\""), "script did not run");
	ck_assert_msg(!strstr(dom, "data-sa-errors=\""),
		      "script errors: %.2000s", strstr(dom, "data-sa-errors"));
}

#define HOSTILE_FN "<script>alert('x')</script>"
#define HOSTILE_BIN "/nonexistent/<img src=x onerror=alert(1)>/svc"
#define HOSTILE_SRC "/nonexistent/src/a&b<i>.c"

static struct sa_hist *hostile_window(struct synth_rng *r, double p,
				      const char *exe, uint64_t off)
{
	struct sa_hist *h = sa_hist__new();
	struct sa_hist_func *f;
	struct sa_hist_branch *b;
	uint64_t k;

	ck_assert_ptr_nonnull(h);
	f = synth_func(h, HOSTILE_BIN, "", HOSTILE_FN, 0x1000);
	f->calls = 400;
	b = synth_branch(h, f, 0x1010, SA_IC_COND, HOSTILE_SRC, 4, 0);
	k = synth_binom(r, 400, p);
	b->taken += k;
	b->not_taken += 400 - k;
	b->executed += 400;
	/* a real binary without a source file: the disassembly */
	f = synth_func(h, exe, "", "main", off);
	f->calls = 400;
	b = synth_branch(h, f, off, SA_IC_COND, NULL, 0, 0);
	k = synth_binom(r, 400, 1 - p);
	b->taken += k;
	b->not_taken += 400 - k;
	b->executed += 400;
	sa_hist_decode_mut(h)->instructions = 100000;
	sa_hist_decode_mut(h)->windows = 1;
	return h;
}

START_TEST(test_hostile)
{
	struct synth_rng r = { 42 };
	struct sa_report_opts ro = { .title = "<b>hostile</b>" };
	struct sa_anomaly_list *l = NULL;
	struct sa_hist *w[12];
	struct sa_baseline *bl;
	struct sa_image *img;
	struct sa_errinfo ei;
	const struct sa_sym *sym;
	char exe[4096], srcdir[4200], path[4300], cmd[9000], *html, *dom;
	char *want, *hit, insn[64];
	char out[4200];
	uint64_t off;
	ssize_t n;
	FILE *f;
	int i;

	snprintf(out, sizeof(out), "%s", sa_test_path("hostile.html"));
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = 0;
	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_ptr_nonnull(img);
	ck_assert_int_eq(sa_image_load_elf(img, exe, UINT64_MAX, &ei), 0);
	sym = sa_image_find_symbol(img, "main");
	ck_assert_ptr_nonnull(sym);
	off = sym->start;
	sa_image__free(img);

	/* the source, found under --source-dir by its file name */
	snprintf(srcdir, sizeof(srcdir), "%s", sa_test_path("srcdir"));
	ck_assert_int_eq(mkdir(srcdir, 0755), 0);
	snprintf(path, sizeof(path), "%s/a&b<i>.c", srcdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("int f(int x)\n{\n\t/* <b>not bold</b> */\n"
	      "\tif (x > 3 && \"<script>\")\n\t\treturn 1;\n\treturn 0;\n}\n",
	      f);
	fclose(f);
	ro.source_dir = srcdir;

	bl = sa_baseline__open(sa_test_path("h.db"), SA_BASELINE_CREATE, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	for (i = 0; i < 10; i++)
		w[i] = hostile_window(&r, 0.1, exe, off);
	ck_assert_int_eq(sa_baseline_add(bl, w, 10, &ei), 0);
	for (i = 0; i < 10; i++)
		sa_hist__free(w[i]);
	for (i = 0; i < 2; i++)
		w[i] = hostile_window(&r, 0.6, exe, off);
	ck_assert_int_eq(sa_anomaly_detect(bl, w, 2, NULL, &l, &ei), 0);
	ck_assert_uint_ge(sa_anomaly_list_nr_significant(l), 2);

	f = fopen(out, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(sa_report_write_html(f, l, w, 2, bl, &ro, &ei), 0);
	fclose(f);
	html = slurp(out);
	ck_assert_msg(!strstr(html, "<script>alert") && !strstr(html, "<img") &&
		      !strstr(html, "<b>hostile") &&
		      !strstr(html, "<b>not bold") && !strstr(html, "<i>.c"),
		      "unescaped: %.2000s", html);
	ck_assert_msg(strstr(html, "&lt;script&gt;alert(&#39;x&#39;)"
			     "&lt;/script&gt;") &&
		      strstr(html, "&lt;img src=x onerror=alert(1)&gt;") &&
		      strstr(html, "&lt;b&gt;hostile&lt;/b&gt;"), "%.2000s",
		      html);
	/* the source line 4, marked, escaped */
	ck_assert_msg(strstr(html, "class=\"hit\" data-line=\"1\">    4  \tif "
			     "(x &gt; 3 &amp;&amp; &quot;&lt;script&gt;"
			     "&quot;)"), "%.3000s", strstr(html, "<main>"));
	/* the disassembly: the marked instruction is objdump's */
	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn "
		 "--start-address=0x%llx --stop-address=0x%llx '%s' | "
		 "awk -F'\\t' '/^ *[0-9a-f]+:/ {print $2; exit}' > '%s'",
		 (unsigned long long)off, (unsigned long long)off + 16, exe,
		 sa_test_path("objdump.txt"));
	ck_assert_int_eq(system(cmd), 0);
	want = slurp(sa_test_path("objdump.txt"));
	ck_assert_msg(sscanf(want, "%63s", insn) == 1, "objdump: '%s'", want);
	hit = strstr(html, "disassembly of");
	ck_assert_msg(hit, "no disassembly: %.3000s", strstr(html, "<main>"));
	hit = strstr(hit, "class=\"hit\"");
	ck_assert_msg(hit && strstr(hit, insn) &&
		      strstr(hit, insn) < strstr(hit, "</span>"),
		      "marked instruction is not objdump's '%s': %.300s", insn,
		      hit);
	free(want);

	if (have_chromium) {
		chromium(out, sa_test_path("hostile.dom"), NULL);
		dom = slurp(sa_test_path("hostile.dom"));
		check_dom_clean(dom);
		ck_assert_msg(!strstr(dom, "<img") &&
			      !strstr(dom, "<b>hostile") &&
			      strstr(dom, "&lt;script&gt;alert("),
			      "%.2000s", dom);
		free(dom);
	}
	free(html);
	sa_anomaly_list__free(l);
	for (i = 0; i < 2; i++)
		sa_hist__free(w[i]);
	sa_baseline__free(bl);
}
END_TEST

static void copy_artifact(const char *from, const char *name)
{
	const char *bdir = getenv("SA_BUILD_DIR");
	char cmd[9000];

	if (!bdir)
		return;
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/tests/report' && "
		 "cp '%s' '%s/tests/report/%s'", bdir, from, bdir, name);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_demo)
{
	char db[4200], fn[256], line[32], pat[512], cmd[9000];
	char *out, *dom, *html, *p;
	char r1[4200], r2[4200], png[4200];
	unsigned w, h, colours, nonwhite;
	int st;

	snprintf(db, sizeof(db), "%s", sa_test_path("b.db"));
	snprintf(r1, sizeof(r1), "%s", sa_test_path("report.html"));
	snprintf(r2, sizeof(r2), "%s", sa_test_path("analyze.html"));
	snprintf(png, sizeof(png), "%s", sa_test_path("report.png"));
	sa_test_demo_record_shift(tool, service, "base.data", "8",
				  "shift.data", "3");
	sa_test_demo_baseline(tool, db, "base.data", 8);
	/* the peer for the top anomaly: analyze's JSON lines */
	{
		char *argv[] = { (char *)tool, "analyze", "--baseline", db,
				 "--format", "jsonl", "--html", (char *)r2,
				 (char *)sa_test_demo_win("shift.data", 0),
				 (char *)sa_test_demo_win("shift.data", 1),
				 (char *)sa_test_demo_win("shift.data", 2),
				 NULL };

		st = sa_test_exec(argv, sa_test_path("an.jsonl"),
				  sa_test_path("an.err"));
		ck_assert_msg(st == 0, "analyze: %s",
			      slurp(sa_test_path("an.err")));
	}
	out = slurp(sa_test_path("an.jsonl"));
	sa_test_json_field(out, "code.function.name", fn, sizeof(fn));
	sa_test_json_field(out, "code.line.number", line, sizeof(line));
	free(out);
	{
		char *argv[] = { (char *)tool, "report", "--db", db, "-o",
				 (char *)r1, "--title",
				 "demo service: the input mix shifted",
				 (char *)sa_test_demo_win("shift.data", 0),
				 (char *)sa_test_demo_win("shift.data", 1),
				 (char *)sa_test_demo_win("shift.data", 2),
				 NULL };

		st = sa_test_exec(argv, sa_test_path("rep.out"),
				  sa_test_path("rep.err"));
		ck_assert_msg(st == 0, "report: %s",
			      slurp(sa_test_path("rep.err")));
	}
	out = slurp(sa_test_path("rep.out"));
	ck_assert_msg(strstr(out, "report written to"), "%s", out);
	free(out);
	/* no network, no external resource */
	html = slurp(r1);
	ck_assert_msg(!strstr(html, "http://") && !strstr(html, "https://") &&
		      !strstr(html, " src=") && !strstr(html, "@import") &&
		      !strstr(html, "url("), "external reference");
	free(html);

	chromium(r1, sa_test_path("report.dom"), NULL);
	dom = slurp(sa_test_path("report.dom"));
	check_dom_clean(dom);
	/* the top anomaly is the first section, with analyze's function
	 * and line; its source line is marked
	 */
	p = strstr(dom, "class=\"card anomaly\"");
	ck_assert_msg(p, "no anomaly in %s", dom);
	snprintf(pat, sizeof(pat), "id=\"a1\" data-function=\"%s\" "
		 "data-line=\"%s\"", fn, line);
	ck_assert_msg(strstr(p, pat) && strstr(p, pat) - p < 40,
		      "top anomaly %s:%s not first: %.600s", fn, line, p);
	snprintf(pat, sizeof(pat), "data-line=\"1\">%5s  ", line);
	ck_assert_msg(strstr(p, pat), "line %s not marked: %.3000s", line, p);
	ck_assert_msg(strstr(dom, "class=\"card heatview\""), "no heat view");
	ck_assert_msg(strstr(dom, "instructions decoded"), "no losses");
	free(dom);

	/* analyze --html writes the same top anomaly (the same writer:
	 * the file is enough)
	 */
	html = slurp(r2);
	snprintf(pat, sizeof(pat), "id=\"a1\" data-function=\"%s\" "
		 "data-line=\"%s\"", fn, line);
	ck_assert_msg(strstr(html, pat), "analyze --html: no %s", pat);
	free(html);

	chromium(r1, NULL, png);
	snprintf(cmd, sizeof(cmd), "python3 '%s' '%s' > '%s'", pngstat, png,
		 sa_test_path("png.txt"));
	ck_assert_int_eq(system(cmd), 0);
	out = slurp(sa_test_path("png.txt"));
	ck_assert_int_eq(sscanf(out, "%u %u %u %u", &w, &h, &colours,
				&nonwhite), 4);
	/* text, bars, heat colours: far more than a blank page's one or
	 * two colours, and not mostly white
	 */
	ck_assert_msg(w == 1200 && h == 900 && colours >= 64 &&
		      nonwhite >= 100, "blank screenshot? %s", out);
	free(out);
	copy_artifact(png, "report-demo.png");
	copy_artifact(r1, "report-demo.html");
}
END_TEST

/* decode --timeline of an emulated recording of wl_branches (calls,
 * returns, recursion, calls through the PLT out of the traced binary),
 * without timestamps (the instruction clock) and with TSC, MTC and CYC:
 * check_timeline.py compares with perf script --itrace=cr.
 */
static void timeline_case(const char *name, bool timed)
{
	char data[4200], json[4200], cmd[9000], *msg;
	char *rec[] = { (char *)tool, "record", "--emulate", "-o", data,
			"--tsc", "--mtc", "--cyc", "--", (char *)workload, "6",
			NULL };
	char *dec[] = { (char *)tool, "decode", "--timeline", json, data,
			NULL };
	int st;

	snprintf(data, sizeof(data), "%s.data", sa_test_path(name));
	snprintf(json, sizeof(json), "%s.json", sa_test_path(name));
	if (!timed) {	/* drop --tsc --mtc --cyc */
		rec[5] = "--";
		rec[6] = (char *)workload;
		rec[7] = "6";
		rec[8] = NULL;
	}
	st = sa_test_exec(rec, NULL, sa_test_path("rec.txt"));
	ck_assert_msg(st == 0, "record: %s", slurp(sa_test_path("rec.txt")));
	st = sa_test_exec(dec, NULL, sa_test_path("dec.txt"));
	ck_assert_msg(st == 0, "decode: %s", slurp(sa_test_path("dec.txt")));
	snprintf(cmd, sizeof(cmd), "python3 '%s' '%s' '%s' %s > '%s' 2>&1",
		 checker, data, json, timed ? "perf_time" : "instructions",
		 sa_test_path("check.txt"));
	st = system(cmd);
	msg = slurp(sa_test_path("check.txt"));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		/* perf could not decode it here: said, not failed */
		fprintf(stderr, "%s: %s", name, msg);
	} else {
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s",
			      name, msg);
		ck_assert_msg(strstr(msg, "ok: "), "%s", msg);
	}
	free(msg);
}

/* A real silicon trace (Skylake, perf 4.15) of ../shared/traces, when
 * present: the same comparison, perf given the binary under a symfs.
 */
static void timeline_hase(void)
{
	const char *dir = sa_test_shared("traces/intel-pt/hase/control_flow");
	char data[4200], bin[4200], json[4200], symfs[4200], cmd[20000];
	char *msg;
	int st;

	if (!dir) {
		fprintf(stderr, "timeline: ../shared/traces absent, the real "
			"trace is not compared\n");
		return;
	}
	snprintf(data, sizeof(data), "%s/control_flow-20180404T163033.perf",
		 dir);
	snprintf(bin, sizeof(bin), "%s/control_flow", dir);
	snprintf(json, sizeof(json), "%s", sa_test_path("hase.json"));
	snprintf(symfs, sizeof(symfs), "%s", sa_test_path("symfs"));
	{
		char *argv[] = { (char *)tool, "decode", "--timeline", json,
				 "-b", bin, data, NULL };

		st = sa_test_exec(argv, NULL, sa_test_path("dec.txt"));
		ck_assert_msg(st == 0, "decode: %s",
			      slurp(sa_test_path("dec.txt")));
	}
	/* the path the perf.data names (its MMAP2 record) */
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/home/joerg/git/angr/hase/"
		 "tests/bin/control_flow' && cp '%s' '%s/home/joerg/git/angr/"
		 "hase/tests/bin/control_flow/' && python3 '%s' '%s' '%s' "
		 "perf_time '%s' > '%s' 2>&1", symfs, bin, symfs, checker, data,
		 json, symfs, sa_test_path("check.txt"));
	st = system(cmd);
	msg = slurp(sa_test_path("check.txt"));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		fprintf(stderr, "hase: %s", msg);
	else
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
			      strstr(msg, "ok: "), "hase: %s", msg);
	free(msg);
}

START_TEST(test_timeline)
{
	timeline_case("insns", false);
	timeline_case("timed", true);
	timeline_hase();
}
END_TEST

/* The line of the source of wl_context.c that holds @marker. */
static int marker_line(const char *marker)
{
	const char *src = getenv("SA_SOURCE_DIR");
	char path[4200], line[512];
	FILE *f;
	int no = 0;

	ck_assert_ptr_nonnull(src);
	snprintf(path, sizeof(path), "%s/tests/report/wl_context.c", src);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	while (fgets(line, sizeof(line), f)) {
		no++;
		if (strstr(line, marker)) {
			fclose(f);
			return no;
		}
	}
	fclose(f);
	ck_abort_msg("no %s in %s", marker, path);
	return 0;
}

static unsigned long long json_u64(const char *rec, const char *key)
{
	char buf[64];

	sa_test_json_field(rec, key, buf, sizeof(buf));
	return strtoull(buf, NULL, 10);
}

/* Records wl_context MODE whole runs (3 normal into a baseline, one
 * shifted), analyzes the shifted one with --context; returns the JSON
 * lines and sets the workload's own counts of the shifted run.
 */
static char *context_run(const char *mode, unsigned *errors, unsigned *big)
{
	char db[4200], data[4][4200], name[64], *out;
	int i, st;

	snprintf(db, sizeof(db), "%s.db", sa_test_path(mode));
	for (i = 0; i < 4; i++) {
		char *argv[] = { (char *)tool, "record", "--emulate", "-o",
				 data[i], "--", (char *)ctx_workload,
				 (char *)mode, i < 3 ? "normal" : "shift",
				 CONTEXT_N, NULL };

		snprintf(name, sizeof(name), "%s-%d.data", mode, i);
		snprintf(data[i], sizeof(data[i]), "%s", sa_test_path(name));
		st = sa_test_exec(argv, sa_test_path("wl.out"),
				  sa_test_path("rec.txt"));
		ck_assert_msg(st == 0, "record: %s",
			      slurp(sa_test_path("rec.txt")));
	}
	out = slurp(sa_test_path("wl.out"));
	ck_assert_msg(sscanf(out, "errors=%u big=%u", errors, big) == 2,
		      "%s", out);
	free(out);
	{
		char *argv[] = { (char *)tool, "baseline", "add", "--db", db,
				 data[0], data[1], data[2], NULL };

		ck_assert_int_eq(sa_test_exec(argv, NULL, NULL), 0);
	}
	{
		char *argv[] = { (char *)tool, "analyze", "--baseline", db,
				 "--context", "-f", "jsonl", data[3], NULL };

		st = sa_test_exec(argv, sa_test_path("ctx.jsonl"),
				  sa_test_path("ctx.err"));
		ck_assert_msg(st == 0, "analyze: %s",
			      slurp(sa_test_path("ctx.err")));
	}
	return slurp(sa_test_path("ctx.jsonl"));
}

/* The context record of the anomaly at @line (cut at its end). */
static char *context_of(char *out, int line)
{
	char pat[128], *p, *e;

	snprintf(pat, sizeof(pat), "\"code.line.number\":%d,", line);
	for (p = out; (p = strstr(p, "\"schema\":\"sensor-agent.context/1"));
	     p++) {
		e = strchr(p, '\n');
		if (e)
			*e = 0;
		if (strstr(p, pat) && strstr(p, pat) < strstr(p, "\"context\""))
			return p;
		if (e)
			*e = '\n';
	}
	ck_abort_msg("no context record for line %d: %s", line, out);
	return NULL;
}

START_TEST(test_context)
{
	int planted = marker_line("PLANTED_LINE");
	int err_planted = marker_line("ERROR_LINE planted");
	int err_none = marker_line("ERROR_LINE none");
	unsigned errors, big;
	char *out, *rec, *first, pat[128];

	/* a planted earlier condition: ranked first, with the counts the
	 * workload made itself
	 */
	out = context_run("planted", &errors, &big);
	rec = context_of(out, err_planted);
	ck_assert_uint_eq(json_u64(rec, "anomalous_executions"), errors);
	first = strstr(rec, "\"context\":[{");
	ck_assert_msg(first, "nothing passed: %s", rec);
	snprintf(pat, sizeof(pat), "\"code.line.number\":%d,", planted);
	ck_assert_msg(strstr(first, "\"code.function.name\":"
				    "\"handle_planted\"") == first + 12 &&
		      strstr(first, pat) < strchr(first, '}'),
		      "the planted condition (line %d) is not first: %s",
		      planted, first);
	/* every error follows it; it held in every long request */
	ck_assert_uint_eq(json_u64(first, "f_true"), errors);
	ck_assert_uint_eq(json_u64(first, "f_true") +
			  json_u64(first, "s_true"), big);
	ck_assert_uint_eq(json_u64(first, "f_observed") +
			  json_u64(first, "s_observed"),
			  strtoul(CONTEXT_N, NULL, 10));
	free(out);

	/* no cause among the earlier decisions: nothing passes */
	out = context_run("none", &errors, &big);
	rec = context_of(out, err_none);
	ck_assert_uint_eq(json_u64(rec, "anomalous_executions"), errors);
	ck_assert_msg(strstr(rec, "\"context\":[]"), "%s", rec);
	free(out);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");
	int ret;

	if (argc < 7) {
		fprintf(stderr, "usage: %s SENSOR_AGENT DEMO_SERVICE "
			"PNGSTAT_PY WL_BRANCHES CHECK_TIMELINE_PY WL_CONTEXT\n",
			argv[0]);
		return 1;
	}
	ctx_workload = argv[6];
	tool = argv[1];
	service = argv[2];
	pngstat = argv[3];
	workload = argv[4];
	checker = argv[5];
	have_chromium = sa_test_have("chromium");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_hostile);
	sa_test_require_ptrace();
	tcase_add_test(tc, test_timeline);
	tcase_add_test(tc, test_context);
	if (have_chromium)
		tcase_add_test(tc, test_demo);
	suite_add_tcase(s, tc);
	ret = sa_test_run(s);
	if (ret == EXIT_SUCCESS && !have_chromium) {
		fprintf(stderr, "SKIP: chromium is missing (the escaping "
			"was checked without it)\n");
		return SA_TEST_SKIP;
	}
	return ret;
}
