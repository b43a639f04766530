// SPDX-License-Identifier: BSD-2-Clause
/*
 * The 'scenarios' suite: planted behaviour changes in three workloads,
 * and null scenarios of unchanged behaviour with other seeds.
 *
 * Each workload (sc_*.c beside this file) counts its own decisions
 * exactly (sc_count.h) and prints them per window; the windows become
 * histories here, a baseline is learnt from the "normal" mode, and the
 * other modes are analysed against it.  The expected function and line of
 * every planted change come from a "PLANT <mode>" comment in the
 * workload's source, found at test time; never from the sensor's output.
 *
 * Pass: in every planted scenario the top-ranked significant anomaly
 * names the planted function and line (for a call-rate change: a line of
 * the planted function); in every null scenario nothing passes the
 * default threshold.  The suite prints its precision and recall.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/flow.h"
#include "sensor/hist.h"

#include "testutil.h"

#define BASE_WINDOWS 16
#define SCEN_WINDOWS 2
#define PER_WINDOW 2000
#define MAX_WINDOWS 32
#define MAX_NAMES 128

enum { WL_KV, WL_PARSER, WL_ROUTER, WL_MAX };

static const char *const wl_names[WL_MAX] = {
	"sc_kvstore", "sc_parser", "sc_router",
};

static const char *wl_path[WL_MAX];

struct scenario {
	int wl;
	const char *mode;
	uint64_t seed;
	bool planted;
	enum sa_anomaly_kind kind;	/* what the change is (for the log) */
};

static const struct scenario scenarios[] = {
	{ WL_KV, "miss", 101, true, SA_ANOM_BIAS_SHIFT },
	{ WL_KV, "error", 102, true, SA_ANOM_ERROR_ORIGIN },
	{ WL_KV, "stats", 103, true, SA_ANOM_NEW_TARGET },
	{ WL_PARSER, "digits", 104, true, SA_ANOM_BIAS_SHIFT },
	{ WL_PARSER, "escape", 105, true, SA_ANOM_NEW_EDGE },
	{ WL_PARSER, "audit", 106, true, SA_ANOM_CALL_RATE },
	{ WL_ROUTER, "udp", 107, true, SA_ANOM_TARGET_SHIFT },
	{ WL_ROUTER, "nofrag", 108, true, SA_ANOM_VANISHED_EDGE },
	{ WL_ROUTER, "badsum", 109, true, SA_ANOM_ERROR_ORIGIN },
	{ WL_KV, "normal", 201, false, 0 },
	{ WL_PARSER, "normal", 202, false, 0 },
	{ WL_ROUTER, "normal", 203, false, 0 },
	{ WL_KV, "normal", 204, false, 0 },
	{ WL_PARSER, "normal", 205, false, 0 },
	{ WL_ROUTER, "normal", 206, false, 0 },
};

#define NR_SCEN (sizeof(scenarios) / sizeof(scenarios[0]))

/* The planted site, from the workload's source. */
struct plant {
	char func[128];
	int line;		/* the marker's line */
	int body_start, body_end;	/* the function's lines */
};

static char *source_path(int wl, char *buf, size_t size)
{
	const char *dir = getenv("SA_SOURCE_DIR");

	snprintf(buf, size, "%s/tests/scenarios/%s.c", dir ? dir : ".",
		 wl_names[wl]);
	return buf;
}

static void find_plant(int wl, const char *mode, struct plant *pl)
{
	char path[4096], marker[64], line[1024];
	int n = 0, def = 0;
	FILE *f;

	memset(pl, 0, sizeof(*pl));
	snprintf(marker, sizeof(marker), "PLANT %s */", mode);
	f = fopen(source_path(wl, path, sizeof(path)), "r");
	ck_assert_msg(f, "cannot read %s", path);
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		n++;
		while (len && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		/* A function definition starts in column 0 with a type and
		 * has a '(' and no ';'.
		 */
		if (!pl->line && isalpha((unsigned char)line[0]) &&
		    strchr(line, '(') && line[len - 1] != ';') {
			const char *p = strchr(line, '('), *b = p;

			while (b > line && (isalnum((unsigned char)b[-1]) ||
					    b[-1] == '_'))
				b--;
			snprintf(pl->func, sizeof(pl->func), "%.*s",
				 (int)(p - b), b);
			def = n;
		}
		if (!pl->line && strstr(line, marker)) {
			pl->line = n;
			pl->body_start = def;
		}
		if (pl->line && !pl->body_end && !strcmp(line, "}"))
			pl->body_end = n;
	}
	fclose(f);
	ck_assert_msg(pl->line && pl->body_end, "no '%s' in %s", marker, path);
}

/* Windows of one workload run, as histories. */
struct run {
	struct sa_hist *w[MAX_WINDOWS];
	size_t nr;
};

struct fentry {
	char name[64];
	uint64_t entry;
};

static uint64_t entry_of(struct fentry *fe, size_t nfe, const char *name)
{
	size_t i;

	for (i = 0; i < nfe; i++)
		if (!strcmp(fe[i].name, name))
			return fe[i].entry;
	return 0x100000;
}

static struct sa_hist_func *func_of(struct sa_hist *h, const char *bin,
				    struct fentry *fe, size_t nfe,
				    const char *name)
{
	uint64_t e = entry_of(fe, nfe, name);
	struct sa_hist_func k = { .name = name, .binary = bin, .build_id = "",
				  .entry = e, .entry_offset = e };
	struct sa_hist_func *f = sa_hist_get_func(h, &k);

	ck_assert_ptr_nonnull(f);
	return f;
}

static struct sa_hist_branch *branch_of(struct sa_hist *h,
					struct sa_hist_func *f, uint64_t off,
					enum sa_iclass ic, const char *file,
					int line, uint64_t target)
{
	struct sa_hist_branch t = {
		.addr = off, .offset = off, .iclass = ic, .file = file,
		.line = line, .target = target,
		.insn = ic == SA_IC_COND ? "jcc (counted in source)" :
			ic == SA_IC_IND_CALL ? "call * (counted in source)" :
					       "call (counted in source)",
	};
	struct sa_hist_branch *b = sa_hist_get_branch(h, f, &t);

	ck_assert_ptr_nonnull(b);
	return b;
}

/* Turns one window block (lines between "window N" and "end") into a
 * history: functions at 0x100000 + 16 * line of their SC_ENTER, branch
 * sites at 16 * line, direct call sites at 0x200000 + 4096 * caller line
 * + callee line.
 */
static struct sa_hist *block_hist(char **lines, size_t n, const char *bin,
				  const char *file)
{
	struct fentry fe[MAX_NAMES];
	struct sa_hist *h = sa_hist__new();
	struct sa_hist_func *f;
	struct sa_hist_branch *b;
	size_t i, nfe = 0;

	ck_assert_ptr_nonnull(h);
	for (i = 0; i < n; i++) {
		char name[64];
		int line;

		if (sscanf(lines[i], "C %63s %d", name, &line) == 2 &&
		    nfe < MAX_NAMES) {
			snprintf(fe[nfe].name, sizeof(fe[nfe].name), "%s", name);
			fe[nfe++].entry = 0x100000 + 16 * (uint64_t)line;
		}
	}
	for (i = 0; i < n; i++) {
		char name[64], callee[64], tgt[64];
		unsigned long long a, bb, sa, sb;
		int line, cline;

		if (sscanf(lines[i], "B %63s %d %llu %llu %llu %llu", name,
			   &line, &a, &bb, &sa, &sb) == 6) {
			f = func_of(h, bin, fe, nfe, name);
			b = branch_of(h, f, 16 * (uint64_t)line, SA_IC_COND,
				      file, line, 0);
			b->taken += a;
			b->not_taken += bb;
			b->executed += a + bb;
			b->sink_taken += sa;
			b->sink_not_taken += sb;
		} else if (sscanf(lines[i], "C %63s %d %llu %llu", name, &line,
				  &a, &sa) == 4) {
			f = func_of(h, bin, fe, nfe, name);
			f->calls += a;
			f->sink_entries += sa;
		} else if (sscanf(lines[i], "I %63s %d %63s %llu", name, &line,
				  tgt, &a) == 4) {
			uint64_t te = entry_of(fe, nfe, tgt);
			struct sa_hist_target t = { .addr = te, .offset = te,
						    .sym = tgt, .binary = bin };

			f = func_of(h, bin, fe, nfe, name);
			b = branch_of(h, f, 16 * (uint64_t)line,
				      SA_IC_IND_CALL, file, line, 0);
			ck_assert_int_eq(sa_hist_add_target(h, b, &t, a), 0);
			b->executed += a;
		} else if (sscanf(lines[i], "K %63s %d %63s %d %llu", name,
				  &line, callee, &cline, &a) == 5) {
			f = func_of(h, bin, fe, nfe, name);
			b = branch_of(h, f,
				      0x200000 + 4096 * (uint64_t)line + cline,
				      SA_IC_CALL, file, line,
				      entry_of(fe, nfe, callee));
			b->executed += a;
		} else if (sscanf(lines[i], "E %llu", &a) == 1) {
			/* Instructions: ten per counted event. */
			sa_hist_decode_mut(h)->instructions = 10 * a;
		}
	}
	return h;
}

static void run_workload(int wl, const char *mode, uint64_t seed,
			 unsigned windows, struct run *r)
{
	char cmd[4600], src[4096], *lines[4096], buf[512];
	const char *file;
	size_t n = 0, i;
	FILE *p;

	memset(r, 0, sizeof(*r));
	snprintf(cmd, sizeof(cmd), "'%s' %s %llu %u %u", wl_path[wl], mode,
		 (unsigned long long)seed, windows, PER_WINDOW);
	p = popen(cmd, "r");
	ck_assert_msg(p, "cannot run %s", cmd);
	source_path(wl, src, sizeof(src));
	file = strrchr(src, '/') + 1;
	while (fgets(buf, sizeof(buf), p)) {
		buf[strcspn(buf, "\n")] = '\0';
		if (!strncmp(buf, "window ", 7)) {
			n = 0;
			continue;
		}
		if (!strcmp(buf, "end")) {
			ck_assert_uint_lt(r->nr, MAX_WINDOWS);
			r->w[r->nr++] = block_hist(lines, n, wl_path[wl], file);
			for (i = 0; i < n; i++)
				free(lines[i]);
			n = 0;
			continue;
		}
		ck_assert_uint_lt(n, 4096);
		lines[n] = strdup(buf);
		ck_assert_ptr_nonnull(lines[n]);
		n++;
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_uint_eq(r->nr, windows);
}

static void run_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nr; i++)
		sa_hist__free(r->w[i]);
}

START_TEST(test_scenarios)
{
	struct sa_baseline *bl[WL_MAX];
	unsigned tp = 0, fp = 0, fn = 0, planted = 0, nulls = 0, null_ok = 0;
	char db[4200];
	size_t i, k;
	int wl;

	for (wl = 0; wl < WL_MAX; wl++) {
		struct sa_errinfo ei;
		struct run r;

		snprintf(db, sizeof(db), "%s/%s.db", sa_test_tmpdir(),
			 wl_names[wl]);
		unlink(db);
		bl[wl] = sa_baseline__open(db, SA_BASELINE_CREATE, &ei);
		ck_assert_msg(bl[wl], "%s", ei.msg);
		run_workload(wl, "normal", 1, BASE_WINDOWS, &r);
		ck_assert_int_eq(sa_baseline_add(bl[wl], r.w, r.nr, &ei), 0);
		run_free(&r);
	}

	printf("%-22s %-20s %-40s %s\n", "scenario", "planted at",
	       "top anomaly", "result");
	for (i = 0; i < NR_SCEN; i++) {
		const struct scenario *s = &scenarios[i];
		struct sa_anomaly_list *l = NULL;
		const struct sa_anomaly *a;
		struct sa_errinfo ei;
		struct plant pl = { 0 };
		char name[64], where[192], got[256];
		bool ok;
		struct run r;

		snprintf(name, sizeof(name), "%s/%s#%llu", wl_names[s->wl] + 3,
			 s->mode, (unsigned long long)s->seed);
		run_workload(s->wl, s->mode, s->seed, SCEN_WINDOWS, &r);
		ck_assert_msg(sa_anomaly_detect(bl[s->wl], r.w, r.nr, NULL, &l,
						&ei) == 0, "%s", ei.msg);
		run_free(&r);
		a = sa_anomaly_list_get(l, 0);
		if (a && a->significant)
			snprintf(got, sizeof(got), "%s %s:%d log10q=%.0f",
				 sa_anomaly_kind_name(a->kind), a->function,
				 a->line, -a->score);
		else
			snprintf(got, sizeof(got), "(none)");
		if (s->planted) {
			find_plant(s->wl, s->mode, &pl);
			snprintf(where, sizeof(where), "%s:%d", pl.func,
				 pl.line);
			planted++;
			ok = a && a->significant && !strcmp(a->function,
							    pl.func);
			if (ok && s->kind == SA_ANOM_CALL_RATE)
				ok = a->line >= pl.body_start &&
				     a->line <= pl.body_end;
			else if (ok)
				ok = a->line == pl.line;
			if (ok)
				tp++;
			else if (a && a->significant)
				fp++, fn++;
			else
				fn++;
		} else {
			snprintf(where, sizeof(where), "-");
			nulls++;
			ok = sa_anomaly_list_nr_significant(l) == 0;
			null_ok += ok;
			fp += (unsigned)sa_anomaly_list_nr_significant(l);
		}
		printf("%-22s %-20s %-40s %s\n", name, where, got,
		       ok ? "ok" : "FAIL");
		if (!ok || getenv("SA_SCENARIO_VERBOSE")) {
			for (k = 0; k < sa_anomaly_list_len(l) && k < 5; k++)
				sa_anomaly_write_json1(sa_anomaly_list_get(l, k),
						       stdout, name);
		}
		sa_anomaly_list__free(l);
	}
	printf("planted %u, found first %u; null %u, clean %u\n", planted, tp,
	       nulls, null_ok);
	printf("precision %.3f recall %.3f\n",
	       tp + fp ? (double)tp / (tp + fp) : 1.0,
	       planted ? (double)tp / planted : 1.0);
	fflush(stdout);
	for (wl = 0; wl < WL_MAX; wl++)
		sa_baseline__free(bl[wl]);
	ck_assert_uint_eq(tp, planted);
	ck_assert_uint_eq(null_ok, nulls);
	ck_assert_uint_eq(fp, 0);
	(void)fn;
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("scenarios");
	TCase *tc = tcase_create("planted and null");
	int i;

	if (argc != 1 + WL_MAX) {
		fprintf(stderr, "usage: %s SC_KVSTORE SC_PARSER SC_ROUTER\n",
			argv[0]);
		return 2;
	}
	for (i = 0; i < WL_MAX; i++)
		wl_path[i] = argv[1 + i];
	tcase_add_test(tc, test_scenarios);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
