// SPDX-License-Identifier: BSD-2-Clause
/*
 * The committed emulated-sensor window fixtures/wl_branches: decoded
 * counts against the program's own counts (ground truth) and perf.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/hist.h"
#include "sensor/session.h"
#include "testutil.h"

static char dir[4096];

static const char *fx(const char *name)
{
	static char p[4][4096];
	static int n;
	char *s = p[n++ & 3];

	snprintf(s, 4096, "%s/%s", dir, name);
	return s;
}

/* Line of the first occurrence of @needle in @file, or 0. */
static int line_of(const char *file, const char *needle)
{
	char *text = sa_test_slurp(file, NULL), *p;
	int line = 1;

	ck_assert_ptr_nonnull(text);
	p = strstr(text, needle);
	ck_assert_ptr_nonnull(p);
	for (char *q = text; q < p; q++)
		line += *q == '\n';
	free(text);
	return line;
}

/* addr2line's line for ELF address @off of the fixture binary. */
static int addr2line(uint64_t off)
{
	char arg[32], *out, *colon;
	char *argv[] = { "addr2line", "-e", (char *)fx("wl_branches"), arg,
			 NULL };
	const char *o = sa_test_path("a2l.txt");
	int line;

	snprintf(arg, sizeof(arg), "%#" PRIx64, off);
	ck_assert_int_eq(sa_test_exec(argv, o, NULL), 0);
	out = sa_test_slurp(o, NULL);
	colon = strrchr(out, ':');
	ck_assert_ptr_nonnull(colon);
	line = (int)strtol(colon + 1, NULL, 10);
	free(out);
	return line;
}

static struct sa_hist *decode_sinks(const char *const *sinks, size_t n)
{
	struct sa_binary_opt bin = { fx("wl_branches"), SA_ADDR_NONE };
	struct sa_decode_opts o;
	struct sa_errinfo ei;
	struct sa_hist *h = sa_hist__new();

	memset(&o, 0, sizeof(o));
	o.binaries = &bin;
	o.nr_binaries = 1;
	o.error_sinks = sinks;
	o.nr_error_sinks = n;
	ck_assert_msg(sa_decode_file(fx("wl_branches.data"), &o, h, &ei) == 0,
		      "%s", ei.msg);
	return h;
}

static struct sa_hist *decode(void)
{
	return decode_sinks(NULL, 0);
}

START_TEST(test_own_counts)
{
	struct sa_hist *h = decode();
	const struct sa_hist_func *f = sa_hist_find(h, "decide");
	const struct sa_hist_branch *b = NULL;
	unsigned long yes, no;
	char *out = sa_test_slurp(fx("wl_branches.out"), NULL);
	int tline, yes_line, no_line;
	size_t i;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(sscanf(out, "decide: yes=%lu no=%lu", &yes, &no), 2);
	ck_assert_ptr_nonnull(f);
	for (i = 0; i < f->nr_branches; i++)
		if (f->branches[i].iclass == SA_IC_COND) {
			ck_assert_ptr_null(b);	/* decide() has one jcc */
			b = &f->branches[i];
		}
	ck_assert_ptr_nonnull(b);
	/* which way is "yes"? the source line of the jcc's target says */
	tline = addr2line(b->target - (f->entry - f->entry_offset));
	yes_line = line_of(fx("wl_branches.c"), "n_yes++");
	no_line = line_of(fx("wl_branches.c"), "n_no++");
	ck_assert_msg(tline == yes_line || tline == no_line,
		      "target line %d is neither %d nor %d", tline, yes_line,
		      no_line);
	if (tline == no_line) {
		ck_assert_uint_eq(b->taken, no);
		ck_assert_uint_eq(b->not_taken, yes);
	} else {
		ck_assert_uint_eq(b->taken, yes);
		ck_assert_uint_eq(b->not_taken, no);
	}
	ck_assert_uint_eq(f->calls, yes + no);
	free(out);
	sa_hist__free(h);
}
END_TEST

/* --error-sink: main() calls add1 through ops[i % 3], for i % 3 == 0,
 * which is also when decide() counts "yes": each call is an entry into
 * the sink from main.
 */
START_TEST(test_error_sink)
{
	static const char *const sinks[] = { "add1" };
	struct sa_hist *h = decode_sinks(sinks, 1);
	const struct sa_hist_func *add1 = sa_hist_find(h, "add1");
	const struct sa_hist_func *main_f = sa_hist_find(h, "main");
	char *out = sa_test_slurp(fx("wl_branches.out"), NULL);
	unsigned long yes, no;

	ck_assert_int_eq(sscanf(out, "decide: yes=%lu no=%lu", &yes, &no), 2);
	ck_assert_ptr_nonnull(add1);
	ck_assert_ptr_nonnull(main_f);
	ck_assert(add1->is_sink);
	ck_assert(!main_f->is_sink);
	ck_assert_uint_eq(add1->calls, yes);
	ck_assert_uint_eq(main_f->sink_entries, yes);
	free(out);
	sa_hist__free(h);

	/* without the option add1 is an ordinary function */
	h = decode();
	ck_assert(!sa_hist_find(h, "add1")->is_sink);
	ck_assert_uint_eq(sa_hist_find(h, "main")->sink_entries, 0);
	sa_hist__free(h);
}
END_TEST

START_TEST(test_perf_instructions)
{
	struct sa_hist *h = decode();
	char cmd[8192];
	const char *symfs = sa_test_path("symfs");
	const char *out = sa_test_path("perf.txt");
	char *text, *p;
	uint64_t n = 0;

	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/tmp/fx' && ln -sf '%s' '%s/tmp/fx/wl_branches' && "
		 "perf script -i '%s' --symfs '%s' --itrace=i0nse -F ip > '%s' "
		 "2>/dev/null", symfs, fx("wl_branches"), symfs,
		 fx("wl_branches.data"), symfs, out);
	ck_assert_int_eq(system(cmd), 0);
	text = sa_test_slurp(out, NULL);
	for (p = text; *p; p++)
		n += *p == '\n';
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(sa_hist_decode(h)->instructions, n);
	free(text);
	sa_hist__free(h);
}
END_TEST

int main(void)
{
	const char *src = getenv("SA_SOURCE_DIR");
	Suite *s;
	TCase *tc;

	snprintf(dir, sizeof(dir), "%s/fixtures/wl_branches",
		 src ? src : ".");
	s = suite_create("fixture");
	tc = tcase_create("wl_branches");
	tcase_add_test(tc, test_own_counts);
	tcase_add_test(tc, test_error_sink);
	if (sa_test_have("perf"))
		tcase_add_test(tc, test_perf_instructions);
	else
		fprintf(stderr, "note: perf is not installed: the perf "
				"comparison is not run\n");
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
