/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The scenarios shared by the self-counted and the traced scenario
 * suites, and the lookup of each planted site in the workload's source.
 */
#ifndef SA_TEST_SCEN_H
#define SA_TEST_SCEN_H

#include <check.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/hist.h"

/* The includer includes testutil.h (sa_test_tmpdir()) first. */

#define MAX_WINDOWS 32

enum { WL_KV, WL_PARSER, WL_ROUTER, WL_MAX };

static const char *const wl_names[WL_MAX] = {
	"sc_kvstore", "sc_parser", "sc_router",
};

struct scenario {
	int wl;
	const char *mode;
	uint64_t seed;
	bool planted;
	enum sa_anomaly_kind kind;	/* what the change is */
	/* In traced runs the cause is visible at this other marker. */
	const char *traced_marker;
};

static const struct scenario scenarios[] = {
	{ WL_KV, "miss", 101, true, SA_ANOM_BIAS_SHIFT },
	{ WL_KV, "error", 102, true, SA_ANOM_ERROR_ORIGIN },
	{ WL_KV, "stats", 103, true, SA_ANOM_NEW_TARGET },
	{ WL_PARSER, "digits", 104, true, SA_ANOM_BIAS_SHIFT },
	{ WL_PARSER, "escape", 105, true, SA_ANOM_NEW_EDGE },
	{ WL_PARSER, "audit", 106, true, SA_ANOM_CALL_RATE, "audit-cause" },
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

/* The planted site, from the workload's source; and the sites where the
 * same change acts as directly ("ALSO <mode>" markers: the same decision
 * in another function, which the detector may rank first as rightly).
 */
#define MAX_ALSO 4
struct plant {
	char func[128];
	int line;		/* the marker's line */
	int body_start, body_end;	/* the function's lines */
	struct {
		char func[128];
		int line;
	} also[MAX_ALSO];
	int nr_also;
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
	char path[4096], marker[64], also[64], line[1024], func[128] = "";
	int n = 0, def = 0;
	FILE *f;

	memset(pl, 0, sizeof(*pl));
	snprintf(marker, sizeof(marker), "PLANT %s */", mode);
	snprintf(also, sizeof(also), "ALSO %s */", mode);
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
		if (isalpha((unsigned char)line[0]) &&
		    strchr(line, '(') && line[len - 1] != ';') {
			const char *p = strchr(line, '('), *b = p;

			while (b > line && (isalnum((unsigned char)b[-1]) ||
					    b[-1] == '_'))
				b--;
			snprintf(func, sizeof(func), "%.*s", (int)(p - b), b);
			if (!pl->line) {
				snprintf(pl->func, sizeof(pl->func), "%s",
					 func);
				def = n;
			}
		}
		if (strstr(line, also) && pl->nr_also < MAX_ALSO) {
			snprintf(pl->also[pl->nr_also].func,
				 sizeof(pl->also[0].func), "%s", func);
			pl->also[pl->nr_also++].line = n;
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

/* Whether the top anomaly @a names the planted site of @s. */
static bool scen_match(const struct scenario *s, const struct plant *pl,
		       const struct sa_anomaly *a, bool traced)
{
	int i;

	if (!a || !a->significant)
		return false;
	for (i = 0; i < pl->nr_also; i++)
		if (!strcmp(a->function, pl->also[i].func) &&
		    a->line == pl->also[i].line)
			return true;
	if (strcmp(a->function, pl->func))
		return false;
	if (s->kind == SA_ANOM_CALL_RATE && !(traced && s->traced_marker))
		return a->line >= pl->body_start && a->line <= pl->body_end;
	return a->line == pl->line;
}

/* Windows of one workload run, as histories. */
struct run {
	struct sa_hist *w[MAX_WINDOWS];
	size_t nr;
};

static void run_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nr; i++)
		sa_hist__free(r->w[i]);
}

/* Gets @windows windows of workload @wl in @mode. */
typedef void (*scen_run_fn)(int wl, const char *mode, uint64_t seed,
			    unsigned windows, struct run *r);

/* Learns a baseline from @base_windows windows of each workload's normal
 * mode, analyses @scen_windows windows of every scenario, prints the table
 * with precision and recall, and fails unless every planted change ranks
 * first and every null scenario is clean.
 */
static void scen_evaluate(scen_run_fn run_workload, unsigned base_windows,
			  unsigned scen_windows, bool traced)
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
		run_workload(wl, "normal", 1, base_windows, &r);
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
		run_workload(s->wl, s->mode, s->seed, scen_windows, &r);
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
			find_plant(s->wl, traced && s->traced_marker ?
					  s->traced_marker : s->mode, &pl);
			snprintf(where, sizeof(where), "%s:%d", pl.func,
				 pl.line);
			planted++;
			ok = scen_match(s, &pl, a, traced);
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
				sa_anomaly_write_json1(
					sa_anomaly_list_get(l, k), stdout,
					name);
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

#endif /* SA_TEST_SCEN_H */
