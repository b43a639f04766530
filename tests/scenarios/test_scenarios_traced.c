// SPDX-License-Identifier: BSD-2-Clause
/*
 * The 'scenarios' suite on real traced runs: the same workloads and
 * scenarios as test_scenarios.c, built without their self-counting
 * (-DSC_NO_COUNT, -fno-inline) and recorded by the emulated Intel PT
 * sensor (ptrace single-step, genuine PT in perf.data), each window
 * decoded by sa_decode_file() as any perf.data window.
 *
 * Windows are small (ptrace manages some 10,000-50,000 steps a second
 * here): WINDOW_INSNS instructions each, with the target running freely
 * for a few milliseconds between windows.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sensor/emu.h"
#include "sensor/session.h"

#include "testutil.h"
#include "scen.h"

#define BASE_WINDOWS 12
#define SCEN_WINDOWS 3
#define WINDOW_INSNS 6000
/* The target runs freely between windows long enough that the windows
 * of one run sample different parts of its input: with 3 ms, a slowed
 * (sanitized, loaded) target moved so little that a null run's three
 * windows saw one stretch of its packets, and a local mix (UDP 21% of
 * 209 calls where the stream has 30%) passed for a target shift.
 */
#define GAP_MS 15

static const char *wl_path[WL_MAX];

static void run_traced(int wl, const char *mode, uint64_t seed,
		       unsigned windows, struct run *r)
{
	char seedbuf[32], path[4200];
	char *argv[] = { (char *)wl_path[wl], (char *)mode, seedbuf, "1",
			 "1000000000", NULL };
	struct sa_emu_opts eo = { .max_insns = WINDOW_INSNS };
	struct sa_decode_opts dopts = { 0 };
	struct sa_errinfo ei;
	struct sa_emu *emu;
	unsigned i;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	snprintf(seedbuf, sizeof(seedbuf), "%llu", (unsigned long long)seed);
	emu = sa_emu__spawn(argv, &ei);
	ck_assert_msg(emu, "%s", ei.msg);
	pid = sa_emu_pid(emu);
	/* Past the start-up, into the request loop: 20 ms of the target's
	 * own CPU time (at most 60 s of waiting).
	 */
	for (i = 0; i < 3000 && sa_test_cpu_ms(pid) < 20; i++)
		ck_assert_int_eq(sa_emu_run_free(emu, 20, &ei), 0);
	for (i = 0; i < windows; i++) {
		snprintf(path, sizeof(path), "%s/%s-%s-%llu-%u.data",
			 sa_test_tmpdir(), wl_names[wl], mode,
			 (unsigned long long)seed, i);
		ck_assert_msg(sa_emu_window(emu, &eo, path, NULL, &ei) == 0,
			      "%s", ei.msg);
		ck_assert_int_eq(sa_emu_run_free(emu, GAP_MS, &ei), 0);
		r->w[r->nr] = sa_hist__new();
		ck_assert_ptr_nonnull(r->w[r->nr]);
		ck_assert_msg(sa_decode_file(path, &dopts, r->w[r->nr],
					     &ei) == 0, "%s", ei.msg);
		r->nr++;
		unlink(path);
	}
	sa_emu__free(emu);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

START_TEST(test_scenarios_traced)
{
	scen_evaluate(run_traced, BASE_WINDOWS, SCEN_WINDOWS, true);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("scenarios-traced");
	TCase *tc = tcase_create("planted and null, traced");
	int i;

	sa_test_require_ptrace();
	if (argc != 1 + WL_MAX) {
		fprintf(stderr, "usage: %s SC_KVSTORE SC_PARSER SC_ROUTER "
			"(built with -DSC_NO_COUNT)\n", argv[0]);
		return 2;
	}
	for (i = 0; i < WL_MAX; i++)
		wl_path[i] = argv[1 + i];
	tcase_add_test(tc, test_scenarios_traced);
	tcase_set_timeout(tc, 240);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
