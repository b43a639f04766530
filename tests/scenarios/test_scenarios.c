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
#define MAX_NAMES 128

#include "scen.h"

static const char *wl_path[WL_MAX];

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
			snprintf(fe[nfe].name, sizeof(fe[nfe].name), "%s",
				 name);
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

START_TEST(test_scenarios)
{
	scen_evaluate(run_workload, BASE_WINDOWS, SCEN_WINDOWS, false);
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
