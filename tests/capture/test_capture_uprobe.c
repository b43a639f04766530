// SPDX-License-Identifier: BSD-2-Clause
/*
 * Check suite 'capture' (uprobe): the trigger of hardware snapshots.
 * The attr of a uprobe from a PMU tree (a temporary one, and the fake
 * trees of ../shared/sysfs, which have no uprobe PMU: a clear error); and,
 * when this kernel lets us open one, a real uprobe on a function of a
 * child process beside a dummy software event (what stands in for the
 * trace event here, where there is no PT hardware): it counts exactly the
 * calls that the child counts itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sensor/capture.h"
#include "sensor/file.h"
#include "testutil.h"

static volatile unsigned long fn_calls;

__attribute__((noinline, used)) void sa_test_uprobe_fn(void)
{
	fn_calls++;
	__asm__ volatile("" ::: "memory");
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(tc_attr)
{
	char root[PATH_MAX], dir[PATH_MAX + 16], file[PATH_MAX + 32];
	const char *bin = "/usr/bin/true";
	struct perf_event_attr a;
	struct sa_errinfo ei;

	snprintf(root, sizeof(root), "%s/sysfs", sa_test_tmpdir());
	snprintf(dir, sizeof(dir), "%s/uprobe", root);
	ck_assert_int_eq(sa_dir_create_all(dir), 0);
	snprintf(file, sizeof(file), "%s/type", dir);
	put(file, "7\n");
	ck_assert_int_eq(sa_cap_uprobe_attr(root, bin, 0x1234, &a, &ei), 0);
	ck_assert_uint_eq(a.type, 7);
	ck_assert_uint_eq(a.size, sizeof(a));
	ck_assert_uint_eq(a.config, 0);
	ck_assert_str_eq((const char *)(uintptr_t)a.config1, bin);
	ck_assert_uint_eq(a.config2, 0x1234);
	ck_assert_uint_eq(a.sample_period, 1);
	ck_assert(a.sample_type & PERF_SAMPLE_TID);
	put(file, "uprobe\n");
	ck_assert_int_eq(sa_cap_uprobe_attr(root, bin, 0, &a, &ei),
			 -SA_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(ei.msg, file));
	unlink(file);
	ck_assert_int_eq(sa_cap_uprobe_attr(root, bin, 0, &a, &ei),
			 -SA_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(ei.msg, "no uprobe PMU"));
}
END_TEST

/* The fake trees are copies of PT/ETM machines' event_source/devices
 * without the uprobe PMU: the error names what is missing.
 */
START_TEST(tc_attr_shared)
{
	const char *trees[] = { "intel_pt", "intel_pt-icelake", "cs_etm" };
	struct perf_event_attr a;
	struct sa_errinfo ei;
	unsigned int i, seen = 0;

	for (i = 0; i < 3; i++) {
		char sub[64];
		const char *root;
		char type[PATH_MAX + 16];
		struct stat st;

		snprintf(sub, sizeof(sub), "sysfs/%s", trees[i]);
		root = sa_test_shared(sub);
		if (!root)
			continue;
		seen++;
		snprintf(type, sizeof(type), "%s/uprobe/type", root);
		if (!stat(type, &st)) {
			ck_assert_int_eq(sa_cap_uprobe_attr(root, "/bin/sh", 1,
							    &a, &ei), 0);
			continue;
		}
		ck_assert_int_eq(sa_cap_uprobe_attr(root, "/bin/sh", 1, &a,
						    &ei), -SA_ERR_NOTFOUND);
		ck_assert_ptr_nonnull(strstr(ei.msg, type));
	}
	if (!seen)
		fprintf(stderr, "note: ../shared/sysfs absent: fake trees "
			"not checked\n");
}
END_TEST

START_TEST(tc_real)
{
	struct perf_event_attr d = { .size = sizeof(d) };
	struct sa_cap_uprobe *u;
	struct sa_errinfo ei;
	char file[PATH_MAX];
	uint64_t off, hits = 0;
	unsigned long theirs = 0;
	int go[2], res[2], dfd, i;
	struct timespec t0, t;
	pid_t pid;
	char c = 'g';
	struct stat st;

	if (stat("/sys/bus/event_source/devices/uprobe/type", &st)) {
		fprintf(stderr, "note: no uprobe PMU here: real part "
			"skipped\n");
		return;
	}
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(res), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		for (i = 0; i < 5; i++)
			sa_test_uprobe_fn();
		if (write(res[1], (const void *)&fn_calls,
			  sizeof(fn_calls)) < 0)
			_exit(1);
		if (read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(sa_cap_trigger_resolve(NULL, pid,
						"sa_test_uprobe_fn", file,
						sizeof(file), &off, &ei), 0);
	d.type = PERF_TYPE_SOFTWARE;
	d.config = PERF_COUNT_SW_DUMMY;
	d.exclude_kernel = 1;
	dfd = (int)syscall(SYS_perf_event_open, &d, pid, -1, -1,
			   PERF_FLAG_FD_CLOEXEC);
	u = sa_cap_uprobe__open(NULL, pid, file, off, &ei);
	if (dfd < 0 || !u) {
		fprintf(stderr, "note: perf_event_open refused here (%s): "
			"real part skipped\n", dfd < 0 ? strerror(errno) :
			ei.msg);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		sa_cap_uprobe__free(u);
		if (dfd >= 0)
			close(dfd);
		return;
	}
	ck_assert_uint_eq(sa_cap_uprobe_nr_fds(u), 1);
	ck_assert_int_eq(sa_cap_uprobe_read(u), 0);
	ck_assert_int_eq(write(go[1], &c, 1), 1);
	ck_assert_int_eq(read(res[0], &theirs, sizeof(theirs)),
			 sizeof(theirs));
	ck_assert_uint_eq(theirs, 5);
	/* bounded: the samples are in the ring once the calls returned */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct pollfd p = { .fd = sa_cap_uprobe_fd(u, 0),
				    .events = POLLIN };

		poll(&p, 1, 100);
		hits += sa_cap_uprobe_read(u);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (hits < theirs && t.tv_sec - t0.tv_sec < 10);
	ck_assert_uint_eq(hits, theirs);
	ck_assert_uint_eq(sa_cap_uprobe_read(u), 0);
	ck_assert_int_eq(write(go[1], &c, 1), 1);
	waitpid(pid, NULL, 0);
	sa_cap_uprobe__free(u);
	close(dfd);
	close(go[0]);
	close(go[1]);
	close(res[0]);
	close(res[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("capture-uprobe");
	TCase *tc = tcase_create("uprobe");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tc_attr);
	tcase_add_test(tc, tc_attr_shared);
	tcase_add_test(tc, tc_real);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
