// SPDX-License-Identifier: BSD-2-Clause
/*
 * Suite 'emu-perf': the emulated sensor's perf.data against Linux perf.
 *
 * `perf script --itrace=i0nse -F ip` (perf's own Intel PT decoder, run at
 * test time) must give exactly the instruction sequence the recorder saw
 * retire, for every workload; with a small AUX size perf must report the
 * overflow and still agree on everything before it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/emu.h"
#include "emu_check.h"

static const char *perf_path(void)
{
	static const char *const cands[] = { "/usr/bin/perf",
					     "/usr/local/bin/perf", NULL };
	int i;

	for (i = 0; cands[i]; i++)
		if (access(cands[i], X_OK) == 0)
			return cands[i];
	return NULL;
}

/* Runs perf script on @data; returns the ips it printed (count in *@n)
 * and the number of lines mentioning an overflow in *@ovf.
 */
static uint64_t *perf_ips(const char *data, size_t *n, int *ovf,
			  const char *itrace)
{
	char cmd[8192], line[512];
	uint64_t *ips = calloc(EMU_MAX_TRUTH, sizeof(*ips));
	FILE *p;

	ck_assert_ptr_nonnull(ips);
	*n = 0;
	*ovf = 0;
	/* Errors go to stderr, kept apart so they cannot split ip lines. */
	snprintf(cmd, sizeof(cmd), "HOME=%s %s script -i '%s' --itrace=%s "
		 "-F ip 2>'%s.err'", sa_test_tmpdir(), perf_path(), data,
		 itrace, data);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long ip;
		char *end;

		if (strstr(line, "verflow"))
			(*ovf)++;
		ip = strtoull(line, &end, 16);
		if (end == line || (*end != '\n' && *end))
			continue;
		if (*n < EMU_MAX_TRUTH)
			ips[(*n)++] = ip;
	}
	ck_assert_int_eq(pclose(p), 0);
	snprintf(cmd, sizeof(cmd), "%s.err", data);
	p = fopen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p))
		if (strstr(line, "Overflow packet"))
			(*ovf)++;
	fclose(p);
	return ips;
}

static const char *names[] = {
	"wl_branches-pie", "wl_branches-nopie", "wl_qsort-pie",
	"wl_qsort-nopie", "wl_signals-pie", "wl_signals-nopie",
	"wl_branches-static", "wl_qsort-static-pie", "wl_signals-static",
	/* The whole static binary, libc included: syscalls, the signal
	 * restorer and rt_sigreturn, AVX-512 string functions, in the filter.
	 */
	"wl_signals-static",
};

static const char *static_syms[] = {
	NULL, NULL, NULL, NULL, NULL, NULL,
	"main,decide,classify,add1,dbl,neg,fib", "main,cmp_int",
	"main,deep,copy_rep,on_signal", NULL,
};

START_TEST(test_perf_script)
{
	const char *name = names[_i];
	struct sa_emu_opts opts = { 0 };
	struct sa_errinfo ei = { 0 };
	char exe[4096], data[4200], filter[4096];
	char *argv[] = { exe, NULL };
	struct emu_run r;
	uint64_t *ips;
	size_t n, i;
	int ovf, err;

	ck_assert_ptr_nonnull(realpath(emu_workload(name), exe));
	if (static_syms[_i]) {
		char copy[256], *s, *next;
		size_t len = 0;

		snprintf(copy, sizeof(copy), "%s", static_syms[_i]);
		filter[0] = '\0';
		for (s = copy; s; s = next) {
			next = strchr(s, ',');
			if (next)
				*next++ = '\0';
			len += (size_t)snprintf(filter + len,
						sizeof(filter) - len,
						"%sfilter %s @ %s",
						len ? "," : "", s, exe);
		}
		opts.filter = filter;
	}
	/* Small PSB period: many PSB+ with return compression across them,
	 * the case where libipt and perf treat the stack differently.
	 */
	opts.psb_period = 256;
	snprintf(data, sizeof(data), "%s/%s.data", sa_test_tmpdir(), name);
	err = emu_run(&r, argv, &opts, data, &ei);
	ck_assert_msg(err == 0, "%s: %s", name, ei.msg);
	ips = perf_ips(data, &n, &ovf, "i0nse");
	if (n != r.nr_truth || memcmp(ips, r.truth, n * sizeof(*ips))) {
		for (i = 0; i < n && i < r.nr_truth && ips[i] == r.truth[i];
		     i++)
			;
		ck_abort_msg("%s: perf script gave %zu instructions, the "
			     "truth has %zu; first difference at %zu: %#"
			     PRIx64 " vs %#" PRIx64, name, n, r.nr_truth, i,
			     i < n ? ips[i] : 0,
			     i < r.nr_truth ? r.truth[i] : 0);
	}
	ck_assert_int_eq(ovf, 0);
	free(ips);
	emu_run_free(&r);
}
END_TEST

START_TEST(test_perf_overflow)
{
	struct sa_emu_opts opts = { .aux_size = 160 };
	struct sa_errinfo ei = { 0 };
	char exe[4096], data[4200];
	char *argv[] = { exe, NULL };
	struct emu_run r;
	uint64_t *ips;
	size_t n, i;
	int ovf, err;

	ck_assert_ptr_nonnull(realpath(emu_workload("wl_branches-pie"), exe));
	snprintf(data, sizeof(data), "%s/ovf.data", sa_test_tmpdir());
	err = emu_run(&r, argv, &opts, data, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert(r.st.overflow);
	/* With 'e', perf prints the overflow as a decoder error. */
	ips = perf_ips(data, &n, &ovf, "i0nse");
	ck_assert_int_ge(ovf, 1);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_lt(n, r.nr_truth);
	for (i = 0; i < n && ips[i] == r.truth[i]; i++)
		;
	ck_assert_msg(i == n, "perf's instructions before the OVF differ "
		      "from truth at %zu of %zu: %#" PRIx64 " vs %#" PRIx64,
		      i, n, ips[i], r.truth[i]);
	free(ips);
	emu_run_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("emu-perf");
	TCase *tc = tcase_create("emu-perf");

	if (!perf_path()) {
		fprintf(stderr, "SKIP: perf (Debian linux-perf) is not "
			"installed: it is the peer decoder of this suite\n");
		return SA_TEST_SKIP;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_perf_script, 0,
			    (int)(sizeof(names) / sizeof(names[0])));
	tcase_add_test(tc, test_perf_overflow);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
