// SPDX-License-Identifier: BSD-2-Clause
/*
 * Workload: executes its arguments (execv), for exec tests: a window that
 * meets an execve ends there, and the next one traces the new image.
 */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: wl_exec PROGRAM [ARGS...]\n");
		return 2;
	}
	execv(argv[1], argv + 1);
	perror("wl_exec: execv");
	return 127;
}
