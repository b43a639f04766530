// SPDX-License-Identifier: BSD-2-Clause
/*
 * Check suite 'capture' (backends): --backend auto|intel_pt|cs_etm|emulate
 * through the library, on this machine's real sysfs and on fake roots;
 * one window through the emulated backend; the budget skipping windows.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"
#include "sensor/backend.h"
#include "sensor/capture.h"

static pid_t child;

/* A target that keeps running: a loop in its own main binary. */
static void start_child(void)
{
	child = fork();
	ck_assert_int_ge(child, 0);
	if (!child) {
		volatile unsigned long n = 0;

		for (;;) {
			n++;
			if (!(n & 0xfffff))
				usleep(1000);
		}
	}
}

static void stop_child(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
}

static bool real_has(const char *pmu)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", SA_CAP_SYSFS_DEFAULT, pmu);
	return !stat(path, &st);
}

START_TEST(tc_parse_kind)
{
	enum sa_backend_kind k;
	struct sa_errinfo ei;

	ck_assert_int_eq(sa_backend_kind_parse("auto", &k, &ei), 0);
	ck_assert_int_eq(k, SA_BACKEND_AUTO);
	ck_assert_int_eq(sa_backend_kind_parse("cs_etm", &k, &ei), 0);
	ck_assert_int_eq(k, SA_BACKEND_CS_ETM);
	ck_assert_int_eq(sa_backend_kind_parse("emulate", &k, &ei), 0);
	ck_assert_str_eq(sa_backend_kind_name(SA_BACKEND_INTEL_PT),
			 "intel_pt");
	ck_assert_int_eq(sa_backend_kind_parse("pt", &k, &ei), -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "'pt'"));
}
END_TEST

/* On this machine (no Intel PT): --backend intel_pt fails and says why. */
START_TEST(tc_intel_pt_absent)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_INTEL_PT };
	struct sa_errinfo ei;

	if (real_has("intel_pt")) {
		fprintf(stderr, "note: this machine has intel_pt\n");
		return;
	}
	start_child();
	o.pid = child;
	errno = 0;
	ck_assert_ptr_null(sa_backend__new(&o, &ei));
	ck_assert_int_eq(errno, SA_ERR_NOHW);
	fprintf(stderr, "--backend intel_pt: %s\n", ei.msg);
	ck_assert_ptr_nonnull(strstr(ei.msg, "no intel_pt PMU"));
	ck_assert_ptr_nonnull(strstr(ei.msg, "--backend emulate"));

	/* The same with an empty fake sysfs root, for cs_etm. */
	o.kind = SA_BACKEND_CS_ETM;
	o.sysfs_root = sa_test_tmpdir();
	errno = 0;
	ck_assert_ptr_null(sa_backend__new(&o, &ei));
	ck_assert_int_eq(errno, SA_ERR_NOHW);
	ck_assert_ptr_nonnull(strstr(ei.msg, "no cs_etm PMU"));
	stop_child();
}
END_TEST

/* --backend auto falls back to emulate and says so. */
START_TEST(tc_auto_fallback)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_AUTO };
	struct sa_errinfo ei;
	struct sa_backend *b;

	if (real_has("intel_pt") || real_has("cs_etm")) {
		fprintf(stderr, "note: this machine has trace hardware\n");
		return;
	}
	start_child();
	o.pid = child;
	b = sa_backend__new(&o, &ei);
	ck_assert_msg(b != NULL, "%s", ei.msg);
	ck_assert_str_eq(sa_backend_name(b), "emulate");
	ck_assert_int_eq(sa_backend_kind(b), SA_BACKEND_EMULATE);
	ck_assert_ptr_nonnull(sa_backend_note(b));
	fprintf(stderr, "--backend auto: %s\n", sa_backend_note(b));
	ck_assert_ptr_nonnull(strstr(sa_backend_note(b), "falling back to "
				     "the emulated backend"));
	ck_assert_ptr_nonnull(strstr(sa_backend_note(b), "no intel_pt PMU"));
	sa_backend__free(b);

	/* Empty fake root: same fallback. */
	o.sysfs_root = sa_test_tmpdir();
	b = sa_backend__new(&o, &ei);
	ck_assert_msg(b != NULL, "%s", ei.msg);
	ck_assert_str_eq(sa_backend_name(b), "emulate");
	sa_backend__free(b);
	stop_child();
}
END_TEST

/* A fake root that has intel_pt: discovery and the attr succeed, the
 * kernel refuses the event (no such PMU type), auto falls back and the
 * note carries the kernel's refusal.
 */
START_TEST(tc_auto_fake_pmu)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_AUTO };
	char root[PATH_MAX + 16], link[PATH_MAX + 64];
	const char *shared = sa_test_shared("sysfs/intel_pt");
	struct sa_errinfo ei;
	struct sa_backend *b;

	if (!shared || real_has("intel_pt")) {
		fprintf(stderr, "note: no fake tree or real intel_pt\n");
		return;
	}
	snprintf(root, sizeof(root), "%s/fake", sa_test_tmpdir());
	ck_assert_int_eq(mkdir(root, 0755), 0);
	snprintf(link, sizeof(link), "%s/intel_pt", root);
	ck_assert_int_eq(symlink(shared, link), 0);
	start_child();
	o.pid = child;
	o.sysfs_root = root;
	b = sa_backend__new(&o, &ei);
	ck_assert_msg(b != NULL, "%s", ei.msg);
	ck_assert_str_eq(sa_backend_name(b), "emulate");
	fprintf(stderr, "auto on fake intel_pt: %s\n", sa_backend_note(b));
	ck_assert_ptr_nonnull(strstr(sa_backend_note(b),
				     "perf_event_open(type 9"));
	sa_backend__free(b);

	o.kind = SA_BACKEND_INTEL_PT;
	errno = 0;
	ck_assert_ptr_null(sa_backend__new(&o, &ei));
	ck_assert_ptr_nonnull(strstr(ei.msg, "perf_event_open(type 9"));
	stop_child();
}
END_TEST

START_TEST(tc_no_target)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_EMULATE,
				     .pid = 0x7ffffff0 };
	struct sa_errinfo ei;

	errno = 0;
	ck_assert_ptr_null(sa_backend__new(&o, &ei));
	ck_assert_int_eq(errno, ESRCH);
	o.pid = 0;
	ck_assert_ptr_null(sa_backend__new(&o, &ei));
	ck_assert_ptr_nonnull(strstr(ei.msg, "--pid"));
}
END_TEST

/* One window through the emulated backend, then the budget: a window
 * due while the budget is spent is skipped and counted.
 */
START_TEST(tc_emulate_window_budget)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_EMULATE };
	struct sa_backend_stats st;
	struct sa_window_info wi;
	struct sa_errinfo ei;
	struct sa_backend *b;
	char path[PATH_MAX + 32];
	struct stat sb;
	int err;

	start_child();
	o.pid = child;
	o.no_wait = true;
	o.window_insns = 2000;
	o.window_ms = 2000;
	o.period_ms = 1000;
	o.budget.cpu_permille = 10;	/* 10 ms per 1 s period */
	b = sa_backend__new(&o, &ei);
	ck_assert_msg(b != NULL, "%s", ei.msg);
	snprintf(path, sizeof(path), "%s/w0.data", sa_test_tmpdir());
	err = sa_backend_capture(b, path, &wi, &ei);
	ck_assert_msg(err == 1, "%d %s", err, ei.msg);
	ck_assert(!wi.skipped);
	ck_assert_uint_eq(wi.index, 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_gt(sb.st_size, 0);
	ck_assert_uint_gt(wi.aux_bytes, 0);

	/* The caller reports 50 ms of decoding: 5 periods' worth. */
	sa_backend_account(b, 50000000ull);
	snprintf(path, sizeof(path), "%s/w1.data", sa_test_tmpdir());
	err = sa_backend_capture(b, path, &wi, &ei);
	ck_assert_int_eq(err, 0);
	ck_assert(wi.skipped);
	ck_assert_uint_eq(wi.index, 1);
	ck_assert_int_ne(stat(path, &sb), 0);
	sa_backend_stats(b, &st);
	ck_assert_uint_eq(st.windows, 1);
	ck_assert_uint_eq(st.windows_skipped, 1);
	ck_assert_uint_eq(st.decode_cpu_ns, 50000000ull);

	/* The target is left running, not stopped or traced. */
	sa_backend__free(b);
	{
		char p[64], buf[512], *s;
		FILE *f;

		snprintf(p, sizeof(p), "/proc/%d/status", (int)child);
		f = fopen(p, "r");
		ck_assert_ptr_nonnull(f);
		while (fgets(buf, sizeof(buf), f)) {
			if (!strncmp(buf, "TracerPid:", 10)) {
				s = buf + 10;
				ck_assert_int_eq(strtol(s, NULL, 10), 0);
			}
		}
		fclose(f);
	}
	stop_child();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("capture-backend");
	TCase *tc = tcase_create("backend");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tc_parse_kind);
	tcase_add_test(tc, tc_intel_pt_absent);
	tcase_add_test(tc, tc_auto_fallback);
	tcase_add_test(tc, tc_auto_fake_pmu);
	tcase_add_test(tc, tc_no_target);
	tcase_add_test(tc, tc_emulate_window_budget);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
