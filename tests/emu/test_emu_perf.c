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

/* Runs `perf script --itrace=i0nse -F time,ip --ns` on @data: the ips in
 * @ips, their times (ns) in @times (count in *@n).  Counts in *@errors
 * the lines of either output that mention an error or a warning (trace
 * errors, with the 'e' of i0nse, and perf's warnings).
 */
static void perf_times(const char *data, uint64_t *ips, uint64_t *times,
		       size_t *n, int *errors)
{
	char cmd[8192], line[512];
	FILE *p;

	*n = 0;
	*errors = 0;
	snprintf(cmd, sizeof(cmd), "HOME=%s %s script -i '%s' --itrace=i0nse "
		 "-F time,ip --ns 2>'%s.terr'", sa_test_tmpdir(), perf_path(),
		 data, data);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long sec, nsec, ip;
		char colon;

		if (strcasestr(line, "error") || strcasestr(line, "warning"))
			(*errors)++;
		if (sscanf(line, " %llu.%9llu%c %llx", &sec, &nsec, &colon,
			   &ip) != 4 || colon != ':')
			continue;
		if (*n < EMU_MAX_TRUTH) {
			ips[*n] = ip;
			times[(*n)++] = sec * 1000000000ull + nsec;
		}
	}
	ck_assert_int_eq(pclose(p), 0);
	snprintf(cmd, sizeof(cmd), "%s.terr", data);
	p = fopen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p))
		if (strcasestr(line, "error") || strcasestr(line, "warning"))
			(*errors)++;
	fclose(p);
}

/* The config of @data's attr, as `perf evlist -v` prints it. */
static uint64_t perf_config(const char *data)
{
	char cmd[8192];
	const char *line, *c;

	snprintf(cmd, sizeof(cmd), "HOME=%s %s evlist -v -i '%s' 2>/dev/null",
		 sa_test_tmpdir(), perf_path(), data);
	line = emu_sh(cmd);
	c = strstr(line, "config: ");
	ck_assert_msg(c, "perf evlist printed '%s' for %s", line, data);
	return strtoull(c + 8, NULL, 0);
}

static const char *names[] = {
	"wl_branches-pie", "wl_branches-nopie", "wl_qsort-pie",
	"wl_qsort-nopie", "wl_signals-pie", "wl_signals-nopie",
	"wl_branches-static", "wl_qsort-static-pie", "wl_signals-static",
	/* The whole static binary, libc included: syscalls, the signal
	 * restorer and rt_sigreturn, AVX-512 string functions, in the filter.
	 */
	"wl_signals-static",
	/* Options: TSC packets; no return compression. */
	"wl_signals-pie", "wl_qsort-nopie",
};

#define OPT_TSC 1
#define OPT_NORETCOMP 2
static const int options[] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, OPT_TSC, OPT_NORETCOMP,
};

static const char *static_syms[] = {
	NULL, NULL, NULL, NULL, NULL, NULL,
	"main,decide,classify,add1,dbl,neg,fib", "main,cmp_int",
	"main,deep,copy_rep,on_signal", NULL, NULL, NULL,
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
	opts.tsc = options[_i] & OPT_TSC;
	opts.noretcomp = options[_i] & OPT_NORETCOMP;
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

/* MTC, CYC and TSC, as in suite 'emu': perf decodes the same sequence,
 * with no trace error, and the time it gives every instruction never
 * goes back and stays within the window's wall-clock start and end.
 */
static const struct {
	const char *name;
	bool mtc, cyc;
	uint8_t mtc_period, cyc_thresh;
	uint32_t psb_period;
} timed[] = {
	{ "wl_branches-pie", true, true, 3, 0, 256 },
	{ "wl_qsort-nopie", true, true, 0, 4, 0 },
	{ "wl_signals-pie", true, false, 6, 0, 256 },
	{ "wl_branches-nopie", false, true, 0, 2, 0 },
	/* MTC periods past 8: TMA's 16 CTC bits do not reach the MTC's. */
	{ "wl_qsort-pie", true, true, 9, 0, 0 },
	{ "wl_signals-nopie", true, true, 15, 1, 256 },
};

START_TEST(test_perf_timing)
{
	const char *name = timed[_i].name;
	struct sa_emu_opts opts = { 0 };
	struct sa_errinfo ei = { 0 };
	char exe[4096], data[4200];
	char *argv[] = { exe, NULL };
	uint64_t *ips, *times, config;
	struct emu_run r;
	size_t n, i;
	int errors, err;

	ck_assert_ptr_nonnull(realpath(emu_workload(name), exe));
	opts.mtc = timed[_i].mtc;
	opts.cyc = timed[_i].cyc;
	opts.mtc_period = timed[_i].mtc_period;
	opts.cyc_thresh = timed[_i].cyc_thresh;
	opts.psb_period = timed[_i].psb_period;
	snprintf(data, sizeof(data), "%s/timed-%s.data", sa_test_tmpdir(),
		 name);
	err = emu_run(&r, argv, &opts, data, &ei);
	ck_assert_msg(err == 0, "%s: %s", name, ei.msg);
	ck_assert(!r.truth_overflow && !r.st.overflow);
	ck_assert_uint_gt(r.nr_truth, 50);

	ips = calloc(EMU_MAX_TRUTH, sizeof(*ips));
	times = calloc(EMU_MAX_TRUTH, sizeof(*times));
	ck_assert(ips && times);
	perf_times(data, ips, times, &n, &errors);
	ck_assert_msg(errors == 0, "%s: perf reported %d errors or warnings "
		      "(%s.terr)", name, errors, data);
	if (n != r.nr_truth || memcmp(ips, r.truth, n * sizeof(*ips))) {
		for (i = 0; i < n && i < r.nr_truth && ips[i] == r.truth[i];
		     i++)
			;
		ck_abort_msg("%s: perf script gave %zu instructions, the "
			     "truth has %zu; first difference at %zu", name, n,
			     r.nr_truth, i);
	}
	for (i = 0; i < n; i++) {
		ck_assert_msg(i == 0 || times[i] >= times[i - 1],
			      "%s: perf's time goes back at instruction %zu: "
			      "%" PRIu64 " after %" PRIu64, name, i, times[i],
			      times[i - 1 + !i]);
		ck_assert_msg(times[i] >= r.st.start_ns &&
			      times[i] <= r.st.end_ns,
			      "%s: perf puts instruction %zu at %" PRIu64
			      ", outside the window [%" PRIu64 ", %" PRIu64
			      "]", name, i, times[i], r.st.start_ns,
			      r.st.end_ns);
	}
	ck_assert_uint_gt(times[n - 1], times[0]);

	/* The attr says what the trace holds, as perf reads it.  Bits of
	 * the kernel's intel_pt format/ files: cyc 1, mtc 9, tsc 10,
	 * mtc_period 14-17, cyc_thresh 19-22.
	 */
	config = perf_config(data);
	ck_assert_uint_eq(config >> 10 & 1, 1);
	ck_assert_uint_eq(config >> 9 & 1, opts.mtc);
	ck_assert_uint_eq(config >> 1 & 1, opts.cyc);
	if (opts.mtc)
		ck_assert_uint_eq(config >> 14 & 0xf, opts.mtc_period);
	if (opts.cyc)
		ck_assert_uint_eq(config >> 19 & 0xf, opts.cyc_thresh);
	free(ips);
	free(times);
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

/* `sensor-agent decode` (the lead's CLI, at test time) on our perf.data:
 * the taken / not-taken counts it prints for the counted jcc equal the
 * counts the workload printed.
 */
static const char *sa_cli;	/* sensor-agent, from argv[1] */

static const struct {
	const char *name, *fn, *fmt;
	bool pie;
} counted[] = {
	{ "wl_branches-pie", "decide", "decide: yes=%lu no=%lu", true },
	{ "wl_branches-nopie", "decide", "decide: yes=%lu no=%lu", false },
	{ "wl_qsort-pie", "cmp_int", "cmp: less=%lu notless=%lu", true },
	{ "wl_qsort-nopie", "cmp_int", "cmp: less=%lu notless=%lu", false },
};

START_TEST(test_cli_decode_counts)
{
	const char *cli = sa_cli;
	char exe[4096], data[4200], cmd[8800], line[512], jccs[32];
	char *argv[] = { exe, NULL };
	unsigned long a = 0, b = 0, taken = 0, not_taken = 0;
	unsigned long long jcc;
	struct sa_errinfo ei = { 0 };
	struct emu_run r;
	bool found = false;
	const char *l;
	FILE *p;

	ck_assert_msg(cli && access(cli, X_OK) == 0, "%s is not built", cli);
	ck_assert_ptr_nonnull(realpath(emu_workload(counted[_i].name), exe));
	snprintf(data, sizeof(data), "%s/%s-cli.data", sa_test_tmpdir(),
		 counted[_i].name);
	ck_assert_msg(emu_run(&r, argv, NULL, data, &ei) == 0, "%s", ei.msg);
	ck_assert_int_eq(sscanf(r.out, counted[_i].fmt, &a, &b), 2);
	/* The jcc, from objdump: decode prints link-time addresses. */
	snprintf(cmd, sizeof(cmd),
		 "objdump -d --no-show-raw-insn '%s' | awk '/<%s>:/,/^$/' | "
		 "grep -m1 -E '\\sj[a-z]+ ' | grep -v jmp", exe,
		 counted[_i].fn);
	l = emu_sh(cmd);
	ck_assert_int_eq(sscanf(l, " %llx:", &jcc), 1);
	snprintf(jccs, sizeof(jccs), "%#llx", jcc);
	snprintf(cmd, sizeof(cmd), "'%s' decode '%s' 2>/dev/null", cli, data);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p)) {
		char *tok[16], *save = line, *t;
		int n = 0;

		if (strncmp(line + strspn(line, " "), jccs, strlen(jccs)) ||
		    line[strspn(line, " ") + strlen(jccs)] != ' ')
			continue;
		while ((t = strsep(&save, " \t\n")) && n < 16)
			if (*t)
				tok[n++] = t;
		/* ... taken not-taken taken% */
		ck_assert_int_ge(n, 4);
		taken = strtoul(tok[n - 3], NULL, 10);
		not_taken = strtoul(tok[n - 2], NULL, 10);
		found = true;
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(found, "%s: no line for the jcc at %s", counted[_i].name,
		      jccs);
	ck_assert_msg((taken == a && not_taken == b) ||
		      (taken == b && not_taken == a),
		      "%s: sensor-agent decode says %lu / %lu, the workload "
		      "counted %lu / %lu", counted[_i].name, taken, not_taken,
		      a, b);
	emu_run_free(&r);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("emu-perf");
	TCase *tc = tcase_create("emu-perf");

	sa_test_require_ptrace();
	if (!perf_path()) {
		fprintf(stderr, "SKIP: perf (Debian linux-perf) is not "
			"installed: it is the peer decoder of this suite\n");
		return SA_TEST_SKIP;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_perf_script, 0,
			    (int)(sizeof(names) / sizeof(names[0])));
	tcase_add_test(tc, test_perf_overflow);
	tcase_add_loop_test(tc, test_perf_timing, 0,
			    (int)(sizeof(timed) / sizeof(timed[0])));
	if (argc > 1) {
		sa_cli = argv[1];
		tcase_add_loop_test(tc, test_cli_decode_counts, 0,
				    (int)(sizeof(counted) /
					  sizeof(counted[0])));
	} else {
		fprintf(stderr, "note: sensor-agent is not built in this "
			"tree: decode counts not checked here\n");
	}
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
