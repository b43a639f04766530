// SPDX-License-Identifier: BSD-2-Clause
/*
 * Workload: fork, vfork and a thread, each running code of this binary:
 * a sensor tracing the parent must leave the others sound.  Prints
 *   fork: ok
 * when every child and the thread computed the right result.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

__attribute__((noinline)) int collatz(unsigned long x)
{
	int n = 0;

	while (x != 1) {
		x = (x & 1) ? 3 * x + 1 : x / 2;
		n++;
	}
	return n;
}

static void *thread_fn(void *arg)
{
	return (void *)(size_t)(collatz((unsigned long)(size_t)arg) == 111);
}

int main(void)
{
	pthread_t th;
	void *tok = NULL;
	int i, status, bad = 0;
	pid_t pid;

	for (i = 0; i < 2; i++) {
		pid = fork();
		if (pid == 0)
			_exit(collatz(27) == 111 ? 0 : 1);
		if (pid < 0 || waitpid(pid, &status, 0) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			bad |= 1 << i;
	}
	pid = vfork();
	if (pid == 0)
		_exit(collatz(27) == 111 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status))
		bad |= 4;
	if (pthread_create(&th, NULL, thread_fn, (void *)(size_t)27) ||
	    pthread_join(th, &tok) || !tok)
		bad |= 8;
	if (collatz(27) != 111)
		bad |= 16;
	printf("fork: %s\n", bad ? "FAILED" : "ok");
	if (bad)
		fprintf(stderr, "wl_fork: failed checks: %#x\n", bad);
	return bad ? 1 : 0;
}
