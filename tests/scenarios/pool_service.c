// SPDX-License-Identifier: BSD-2-Clause
/*
 * A thread-pool service: the main thread starts two workers and only
 * waits for them (pthread_join); the workers handle generated jobs.
 * An emulated sensor that traced the main thread would see nothing.
 *
 * SIGUSR1 shifts the job mix: before it no job is malformed, after it
 * 30% are, and the workers take the error branch at the line marked
 * "POOL error" (data, not a branch on the shift flag: the flag picks a
 * table entry).  SIGUSR2 shifts back; SIGTERM or SIGINT stops it.
 *
 * Usage: pool_service [SEED]
 * It prints "ready <pid> <tid> <tid>" (the workers' thread ids) once the
 * workers run, and its job counts at exit.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NR_WORKERS 2
#define FLAG_CORRUPT 0x80

struct job {
	unsigned kind;
	unsigned key;
	unsigned flags;
};

struct worker {
	pthread_t thread;
	pid_t tid;
	uint64_t rng;
	unsigned long done, rejected, sum;
	unsigned table[256];
};

static volatile sig_atomic_t shifted, stop;
static struct worker workers[NR_WORKERS];
static pthread_barrier_t started;

static const unsigned corrupt_pct[2] = { 0, 30 };

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		shifted = 1;
	else if (sig == SIGUSR2)
		shifted = 0;
	else
		stop = 1;
}

static unsigned next_rand(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return (unsigned)(w->rng >> 32);
}

static __attribute__((noinline, noclone)) void next_job(struct worker *w,
							struct job *j)
{
	unsigned mix = shifted != 0;

	j->kind = next_rand(w) % 4;
	j->key = next_rand(w) % 256;
	j->flags = (next_rand(w) % 100 < corrupt_pct[mix]) * FLAG_CORRUPT;
}

static __attribute__((noinline, noclone)) void handle_job(struct worker *w,
							  const struct job *j)
{
	if (j->flags & FLAG_CORRUPT) { /* POOL error */
		w->rejected++;
		return;
	}
	if (j->kind == 0)
		w->table[j->key] = j->key * 7;
	else
		w->sum += w->table[j->key];
	w->done++;
}

static void *worker_main(void *arg)
{
	struct timespec pause = { 0, 200000 };	/* 0.2 ms */
	struct worker *w = arg;
	unsigned long n = 0;
	struct job j;

	w->tid = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&started);
	while (!stop) {
		next_job(w, &j);
		handle_job(w, &j);
		/* A worker waits for work now and then. */
		if (++n % 64 == 0)
			nanosleep(&pause, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
	unsigned long done = 0, rejected = 0;
	struct sigaction sa;
	int i;

	/* The sensor is a sibling: allow it under Yama ptrace_scope 1. */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pthread_barrier_init(&started, NULL, NR_WORKERS + 1);
	for (i = 0; i < NR_WORKERS; i++) {
		workers[i].rng = 0x9e3779b97f4a7c15ull ^
				 (seed + (uint64_t)i) * 0x2545f4914f6cdd1dull;
		if (pthread_create(&workers[i].thread, NULL, worker_main,
				   &workers[i]))
			return 1;
	}
	pthread_barrier_wait(&started);
	printf("ready %d %d %d\n", (int)getpid(), (int)workers[0].tid,
	       (int)workers[1].tid);
	fflush(stdout);
	/* The main thread only waits: a signal's handler runs here. */
	for (i = 0; i < NR_WORKERS; i++) {
		pthread_join(workers[i].thread, NULL);
		done += workers[i].done;
		rejected += workers[i].rejected;
	}
	printf("pool: %lu done, %lu rejected\n", done, rejected);
	return 0;
}
