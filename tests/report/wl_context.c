// SPDX-License-Identifier: BSD-2-Clause
/*
 * Workload for the decision context: requests from a fixed-seed
 * generator go through handle(), whose last branch is the error branch.
 *
 *   wl_context planted normal|shift N
 *	an earlier condition (len > 100, line PLANTED_LINE) causes the
 *	error: the error branch is taken when it held and the checksum is
 *	bad (9 in 10); "shift" makes long requests frequent (2 in 5
 *	instead of 1 in 100);
 *   wl_context none normal|shift N
 *	the error comes from a flag no earlier branch looks at; the
 *	earlier branches test independent fields.
 *
 * It prints its own counts: "errors=E big=B".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct req {
	unsigned len, flags, kind, crc, bad;
};

static unsigned long long seed = 0x9e3779b97f4a7c15ull;
static volatile unsigned sink;
static volatile unsigned vbig;
static unsigned errors, bigs;

static unsigned rnd(unsigned n)
{
	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(seed >> 33) % n;
}

#define BARRIER() __asm__ volatile("" ::: "memory")

__attribute__((noinline)) static int handle_planted(const struct req *r)
{
	int big = 0, odd = 0, hi = 0;

	if (r->len > 100) {	/* PLANTED_LINE */
		BARRIER();
		big = 1;
	}
	if (r->flags & 1) {
		BARRIER();
		odd = 1;
	}
	if (r->kind > 5) {
		BARRIER();
		hi = 1;
	}
	sink += (unsigned)(odd + hi);
	/* through memory: the error branch runs for every request, its
	 * outcome decided by what the earlier branch set
	 */
	vbig = big;
	bigs += (unsigned)big;
	if (vbig & r->crc) {	/* ERROR_LINE planted */
		BARRIER();
		errors++;
		return -1;
	}
	return 0;
}

__attribute__((noinline)) static int handle_none(const struct req *r)
{
	int big = 0, odd = 0, hi = 0;

	if (r->len > 100) {
		BARRIER();
		big = 1;
	}
	if (r->flags & 1) {
		BARRIER();
		odd = 1;
	}
	if (r->kind > 5) {
		BARRIER();
		hi = 1;
	}
	sink += (unsigned)(big + odd + hi);
	if (r->bad) {		/* ERROR_LINE none */
		BARRIER();
		errors++;
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int planted, shift;
	unsigned i, n;
	struct req r;

	if (argc < 4) {
		fprintf(stderr, "usage: wl_context planted|none normal|shift "
			"N\n");
		return 2;
	}
	planted = !strcmp(argv[1], "planted");
	shift = !strcmp(argv[2], "shift");
	n = (unsigned)strtoul(argv[3], NULL, 0);
	for (i = 0; i < n; i++) {
		r.len = planted && rnd(100) < (shift ? 40u : 1u) ?
			101 + rnd(100) : rnd(101);
		r.flags = rnd(2);
		r.kind = rnd(10);
		r.crc = rnd(10) != 0;
		r.bad = !planted && rnd(100) < (shift ? 40u : 1u);
		if (planted)
			handle_planted(&r);
		else
			handle_none(&r);
	}
	printf("errors=%u big=%u\n", errors, bigs);
	return 0;
}
