/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers shared by the emu suites: run a workload under the emulated
 * sensor, keep the ground truth (every retired instruction, from the
 * recorder) and what the workload printed.
 */
#ifndef SA_TEST_EMU_CHECK_H
#define SA_TEST_EMU_CHECK_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/emu.h"
#include "testutil.h"

#define EMU_MAX_TRUTH (1u << 20)

struct emu_run {
	uint64_t *truth;
	size_t nr_truth;
	bool truth_overflow;
	struct sa_emu_stats st;
	char out[4096];		/* the workload's stdout */
	char exe[4096];
	struct sa_emu *emu;	/* kept for its trace and maps */
};

static void emu_truth_fn(void *ctx, uint64_t ip)
{
	struct emu_run *r = ctx;

	if (r->nr_truth < EMU_MAX_TRUTH)
		r->truth[r->nr_truth++] = ip;
	else
		r->truth_overflow = true;
}

static inline const char *emu_workload(const char *name)
{
	static char path[4096];
	const char *b = getenv("SA_BUILD_DIR");

	snprintf(path, sizeof(path), "%s/tests/workloads/%s",
		 b ? b : ".", name);
	return path;
}

/* Runs @argv under the sensor with @opts, writing @perf (may be NULL).
 * The workload's stdout is captured in r->out.
 */
static inline int emu_run(struct emu_run *r, char *const argv[],
			  const struct sa_emu_opts *opts, const char *perf,
			  struct sa_errinfo *ei)
{
	char outpath[4200];
	int fd, saved, err;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	r->truth = calloc(EMU_MAX_TRUTH, sizeof(*r->truth));
	ck_assert_ptr_nonnull(r->truth);
	snprintf(r->exe, sizeof(r->exe), "%s", argv[0]);
	snprintf(outpath, sizeof(outpath), "%s/stdout-%d", sa_test_tmpdir(),
		 (int)getpid());
	fd = open(outpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stdout);
	saved = dup(1);
	dup2(fd, 1);
	r->emu = sa_emu__spawn(argv, ei);
	dup2(saved, 1);
	close(saved);
	if (!r->emu) {
		close(fd);
		return -1;
	}
	sa_emu_set_insn_fn(r->emu, emu_truth_fn, r);
	err = sa_emu_window(r->emu, opts, perf, &r->st, ei);
	/* Let it finish if the window ended first. */
	while (!err && !sa_emu_exited(r->emu, NULL) &&
	       sa_emu_run_free(r->emu, 2000, ei) == 0)
		;
	n = pread(fd, r->out, sizeof(r->out) - 1, 0);
	r->out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(outpath);
	return err;
}

static inline void emu_run_free(struct emu_run *r)
{
	sa_emu__free(r->emu);
	free(r->truth);
}

/* Runs a shell command and returns its first line of stdout (static). */
static inline const char *emu_sh(const char *cmd)
{
	static char line[4096];
	FILE *p = popen(cmd, "r");

	line[0] = '\0';
	if (!p)
		return line;
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	return line;
}

#endif /* SA_TEST_EMU_CHECK_H */
