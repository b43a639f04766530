// SPDX-License-Identifier: BSD-2-Clause
/*
 * Scenario workload: a key-value service.  Requests (GET, SET, DEL, and
 * STATS in one mode) go through validation, a direct-mapped cache in
 * front of a slower store, and a handler table called through function
 * pointers.
 *
 * Usage: sc_kvstore MODE SEED WINDOWS REQUESTS_PER_WINDOW
 *   normal  the usual mix: 1% invalid keys, hot keys that fit the cache
 *   miss    the key space outgrows the cache (cache-miss path)
 *   error   a quarter of the requests carry invalid keys (error path)
 *   stats   STATS requests appear (a new handler behind the table)
 *
 * The planted site of each mode carries a "PLANT <mode>" comment; the
 * scenario suite finds it with grep, never from the sensor's output.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_count.h"

enum { CMD_GET, CMD_SET, CMD_DEL, CMD_STATS, CMD_MAX };

struct req {
	int cmd;
	unsigned key;
	unsigned len;
	int bad;
};

struct slot {
	unsigned key;
	unsigned val;
	int used;
};

#define CACHE_SLOTS 64
#define STORE_SIZE 8192
#define NR_REQS 8192

static struct slot cache[CACHE_SLOTS];
static unsigned store[STORE_SIZE];
static int mode_miss, mode_error, mode_stats;
static unsigned long errors, served;
static struct req reqs[NR_REQS];

static void report_error(const struct req *r)
{
	SC_ENTER();
	/* strerror is an error sink of the history builder. */
	const char *why = strerror(EINVAL);

	SC_SINK();
	errors += why[0] && (r->key & 1) ? 1 : 2;
	SC_LEAVE();
}

static unsigned load_from_store(unsigned key)
{
	SC_ENTER();
	unsigned v = store[key % STORE_SIZE];
	unsigned i;

	/* The slow path: walk a few store buckets. */
	for (i = 1; i < 8; i++)
		v ^= store[(key + i * 131) % STORE_SIZE];
	SC_LEAVE();
	return v;
}

static unsigned cache_lookup(unsigned key)
{
	SC_ENTER();
	struct slot *s = &cache[key % CACHE_SLOTS];
	unsigned v;

	if (SC_BR(s->used && s->key == key)) { /* PLANT miss */
		v = s->val;
	} else {
		v = load_from_store(key);
		s->key = key;
		s->val = v;
		s->used = 1;
	}
	SC_LEAVE();
	return v;
}

static void handle_get(struct req *r)
{
	SC_ENTER();
	unsigned v = cache_lookup(r->key);

	if (SC_BR(v & 1))
		served += 2;
	else
		served++;
	SC_LEAVE();
}

static void handle_set(struct req *r)
{
	SC_ENTER();
	struct slot *s = &cache[r->key % CACHE_SLOTS];

	store[r->key % STORE_SIZE] = r->len;
	if (SC_BR(s->used && s->key == r->key)) /* ALSO miss */
		s->val = r->len;
	served++;
	SC_LEAVE();
}

static void handle_del(struct req *r)
{
	SC_ENTER();
	struct slot *s = &cache[r->key % CACHE_SLOTS];

	if (SC_BR(s->used && s->key == r->key)) /* ALSO miss */
		s->used = 0;
	store[r->key % STORE_SIZE] = 0;
	served++;
	SC_LEAVE();
}

static void handle_stats(struct req *r)
{
	SC_ENTER();
	served += errors + r->len;
	SC_LEAVE();
}

static void (*const handlers[CMD_MAX])(struct req *) = {
	handle_get, handle_set, handle_del, handle_stats,
};

static const char *const handler_names[CMD_MAX] = {
	"handle_get", "handle_set", "handle_del", "handle_stats",
};

static void handle_request(struct req *r)
{
	SC_ENTER();
	if (SC_BR(r->bad)) { /* PLANT error */
		report_error(r);
		SC_LEAVE();
		return;
	}
	if (SC_BR(r->len > 150))
		served++;
	void (*fn)(struct req *) = handlers[r->cmd];

	SC_IND_CALL(handler_names[r->cmd], fn(r)); /* PLANT stats */
	SC_LEAVE();
}

static void next_request(struct req *r)
{
	double u = sc_unif();
	unsigned space = mode_miss ? 4096 : 48;

	r->cmd = u < 0.6 ? CMD_GET : u < 0.9 ? CMD_SET : CMD_DEL;
	if (mode_stats && sc_chance(0.15))
		r->cmd = CMD_STATS;
	r->key = (unsigned)(sc_unif() * space);
	r->len = 1 + (unsigned)(sc_unif() * 200);
	r->bad = sc_chance(mode_error ? 0.25 : 0.01);
}

int main(int argc, char **argv)
{
	unsigned long windows, per, w, i, k = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: %s normal|miss|error|stats SEED "
			"WINDOWS REQUESTS\n", argv[0]);
		return 2;
	}
	mode_miss = !strcmp(argv[1], "miss");
	mode_error = !strcmp(argv[1], "error");
	mode_stats = !strcmp(argv[1], "stats");
	if (!mode_miss && !mode_error && !mode_stats &&
	    strcmp(argv[1], "normal")) {
		fprintf(stderr, "%s: unknown mode %s\n", argv[0], argv[1]);
		return 2;
	}
	sc_seed(strtoull(argv[2], NULL, 10));
	windows = strtoul(argv[3], NULL, 10);
	per = strtoul(argv[4], NULL, 10);
	/* The input is made up front: the request loop then holds only
	 * the service's own decisions, none of the generator's.
	 */
	for (i = 0; i < NR_REQS; i++)
		next_request(&reqs[i]);
	for (w = 0; w < windows; w++) {
		for (i = 0; i < per; i++) {
			handle_request(&reqs[k]);
			if (++k == NR_REQS)
				k = 0;
		}
		SC_DUMP((int)w);
	}
	fprintf(stderr, "served %lu errors %lu\n", served, errors);
	return 0;
}
