/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shared helpers for the Check suites.  Header-only so that every suite
 * stays one executable.
 */
#ifndef SA_TESTUTIL_H
#define SA_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Exit code that makes meson report a test as skipped. */
#define SA_TEST_SKIP 77

/* Returns $SA_SHARED_DIR/@sub when it exists, else NULL (static buffer). */
static inline const char *sa_test_shared(const char *sub)
{
	static char path[4096];
	const char *dir = getenv("SA_SHARED_DIR");
	struct stat st;

	if (!dir)
		dir = "../shared";
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (stat(path, &st) != 0)
		return NULL;
	return path;
}

/* Exits with 77 and says why when @sub is not under ../shared. */
static inline void sa_test_require_shared(const char *sub)
{
	if (!sa_test_shared(sub)) {
		fprintf(stderr, "SKIP: %s/%s not found: real traces are read from "
			"../shared beside the checkout\n",
			getenv("SA_SHARED_DIR") ? getenv("SA_SHARED_DIR") :
						  "../shared", sub);
		exit(SA_TEST_SKIP);
	}
}

/* Returns a fresh directory under $TMPDIR for outputs (never the source
 * tree, which CI keeps read-only).
 */
static inline const char *sa_test_tmpdir(void)
{
	static char path[4096];
	const char *base = getenv("TMPDIR");

	if (path[0])
		return path;
	snprintf(path, sizeof(path), "%s/sa-test-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(path)) {
		perror("mkdtemp");
		exit(1);
	}
	return path;
}

/* Runs @s and returns the process exit status for meson. */
static inline int sa_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* SA_TESTUTIL_H */
