// SPDX-License-Identifier: BSD-2-Clause
/*
 * The demo's workload: a small request-handling service.
 *
 * It handles a stream of generated requests: parses and validates each
 * one, looks its key up in a direct-mapped cache in front of a slower
 * store, and hands it to a handler through a function-pointer table.
 * It runs until SIGTERM or SIGINT.
 *
 * SIGUSR1 shifts its behaviour to an input mix that drives the error
 * path (malformed requests: strerror, an error sink) and the cache-miss
 * path (a key range far larger than the cache).  SIGUSR2 shifts it back.
 *
 * Usage: demo_service [SEED]
 * It prints "ready <pid>" once running, and its request counts at exit.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* Tests build variants of this service (another build of it, another
 * program) that differ in this string, hence in their build-id.
 */
#ifndef DEMO_VARIANT
#define DEMO_VARIANT ""
#endif

enum { OP_GET, OP_PUT, OP_DEL, OP_MAX };

struct request {
	int op;
	unsigned key;
	unsigned len;
	unsigned flags;
};

struct slot {
	unsigned key;
	unsigned val;
	int used;
};

#define CACHE_SLOTS 64
#define STORE_SLOTS 4096
#define MAX_LEN 512
#define FLAG_CORRUPT 0x80

static struct slot cache[CACHE_SLOTS];
static unsigned store[STORE_SLOTS];
static volatile sig_atomic_t shifted, stop;
static unsigned long served, rejected, misses;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng >> 32);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		shifted = 1;
	else if (sig == SIGUSR2)
		shifted = 0;
	else
		stop = 1;
}

/* The error path: what a real service logs. */
static __attribute__((noinline)) void reject(const struct request *r,
					     int err)
{
	const char *why = strerror(err);

	rejected += why[0] != '\0';
	(void)r;
}

static __attribute__((noinline)) int parse_request(const struct request *r)
{
	if (r->len > MAX_LEN || (r->flags & FLAG_CORRUPT)) { /* DEMO error */
		reject(r, EINVAL);
		return -1;
	}
	return 0;
}

static __attribute__((noinline)) unsigned load_slow(unsigned key)
{
	unsigned v = store[key % STORE_SLOTS], i;

	for (i = 1; i < 4; i++)
		v ^= store[(key + i * 97) % STORE_SLOTS];
	misses++;
	return v;
}

static __attribute__((noinline)) unsigned cache_get(unsigned key)
{
	struct slot *s = &cache[key % CACHE_SLOTS];

	if (s->used && s->key == key) /* DEMO miss */
		return s->val;
	s->key = key;
	s->val = load_slow(key);
	s->used = 1;
	return s->val;
}

static __attribute__((noinline)) void op_get(const struct request *r)
{
	served += cache_get(r->key) & 1;
}

static __attribute__((noinline)) void op_put(const struct request *r)
{
	struct slot *s = &cache[r->key % CACHE_SLOTS];

	store[r->key % STORE_SLOTS] = r->len;
	if (s->used && s->key == r->key)
		s->val = r->len;
	served++;
}

static __attribute__((noinline)) void op_del(const struct request *r)
{
	struct slot *s = &cache[r->key % CACHE_SLOTS];

	if (s->used && s->key == r->key)
		s->used = 0;
	served++;
}

static void (*const ops[OP_MAX])(const struct request *) = {
	op_get, op_put, op_del,
};

static __attribute__((noinline)) void handle(const struct request *r)
{
	if (parse_request(r)) /* DEMO caller */
		return;
	ops[r->op](r);
}

/* The input mix is data, not code: the shift changes which table entry
 * is read, so the sensor sees the service's own decisions change, not a
 * branch on the shift flag.
 */
static const unsigned key_space[2] = { 24, 4096 };
static const unsigned corrupt_pct[2] = { 2, 40 };

static void next_request(struct request *r)
{
	unsigned u = next_rand() % 100, mix = shifted != 0;

	r->op = u < 70 ? OP_GET : u < 90 ? OP_PUT : OP_DEL;
	r->key = next_rand() % key_space[mix];
	r->flags = (next_rand() % 100 < corrupt_pct[mix]) * FLAG_CORRUPT;
	r->len = 1 + next_rand() % 400;
}

int main(int argc, char **argv)
{
	struct timespec pause = { 0, 200000 };	/* 0.2 ms */
	struct sigaction sa;
	struct request r;
	unsigned long n = 0;

	if (argc > 1)
		rng ^= strtoull(argv[1], NULL, 10) * 0x2545f4914f6cdd1dull;
	/* Under Yama ptrace_scope 1 (Ubuntu's default) only an ancestor may
	 * attach; the demo's sensor is a sibling, so allow any tracer.
	 * Harmless where Yama is absent.
	 */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (!stop) {
		next_request(&r);
		handle(&r);
		/* A service waits for work now and then. */
		if (++n % 64 == 0)
			nanosleep(&pause, NULL);
	}
	printf("served %lu rejected %lu misses %lu%s\n", served, rejected,
	       misses, DEMO_VARIANT);
	return 0;
}
