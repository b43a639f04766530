/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Self-counting for the scenario workloads: each workload counts its own
 * decisions at chosen sites (which way each marked branch went, which
 * target each marked indirect call reached, how often each function was
 * called, which decision came last before an error sink) and prints the
 * counts of every window.  These exact counts are the scenario suite's
 * input when no traced run is used (see docs/anomalies.md).
 *
 * Output, one block per window:
 *	window N
 *	B func line taken not_taken sink_taken sink_not_taken
 *	I func line target count
 *	C func line calls sink_entries
 *	K caller caller_line callee callee_line calls   (direct calls)
 *	E events
 *	end
 */
#ifndef SC_COUNT_H
#define SC_COUNT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SC_MAX_SITES 256

#ifndef SC_NO_COUNT
#define SC_MAX_TARGETS 16

enum { SC_BRANCH, SC_IND, SC_FUNC };

struct sc_site {
	const char *func;
	int line;
	int kind;
	uint64_t a, b, sa, sb;	/* taken, not taken, sinks / calls, sinks */
	const char *tname[SC_MAX_TARGETS];
	uint64_t tcount[SC_MAX_TARGETS];
	int nt;
};

static struct sc_site sc_sites[SC_MAX_SITES];
static int sc_nr_sites;
static struct sc_site *sc_last_br;	/* last conditional decision */
static int sc_last_taken;
static struct sc_site *sc_cur_func;	/* innermost counted function */
static uint64_t sc_events;

#define SC_MAX_EDGES 256

struct sc_edge {
	struct sc_site *caller, *callee;
	uint64_t n;
};

static struct sc_edge sc_edges[SC_MAX_EDGES];
static int sc_nr_edges;

static void sc_edge(struct sc_site *caller, struct sc_site *callee)
{
	int i;

	for (i = 0; i < sc_nr_edges; i++)
		if (sc_edges[i].caller == caller &&
		    sc_edges[i].callee == callee) {
			sc_edges[i].n++;
			return;
		}
	if (sc_nr_edges == SC_MAX_EDGES) {
		fprintf(stderr, "sc_count: too many call edges\n");
		exit(2);
	}
	sc_edges[sc_nr_edges].caller = caller;
	sc_edges[sc_nr_edges].callee = callee;
	sc_edges[sc_nr_edges++].n = 1;
}

static struct sc_site *sc_site(const char *func, int line, int kind)
{
	int i;

	for (i = 0; i < sc_nr_sites; i++)
		if (sc_sites[i].line == line && sc_sites[i].func == func)
			return &sc_sites[i];
	if (sc_nr_sites == SC_MAX_SITES) {
		fprintf(stderr, "sc_count: too many sites\n");
		exit(2);
	}
	sc_sites[sc_nr_sites].func = func;
	sc_sites[sc_nr_sites].line = line;
	sc_sites[sc_nr_sites].kind = kind;
	return &sc_sites[sc_nr_sites++];
}

static inline int sc_br(const char *func, int line, int cond)
{
	struct sc_site *s = sc_site(func, line, SC_BRANCH);

	if (cond)
		s->a++;
	else
		s->b++;
	sc_last_br = s;
	sc_last_taken = cond;
	sc_events++;
	return cond;
}

static inline void sc_ind(const char *func, int line, const char *target)
{
	struct sc_site *s = sc_site(func, line, SC_IND);
	int i;

	for (i = 0; i < s->nt; i++)
		if (!strcmp(s->tname[i], target))
			break;
	if (i == s->nt) {
		if (s->nt == SC_MAX_TARGETS)
			i = SC_MAX_TARGETS - 1;
		else
			s->tname[s->nt++] = target;
	}
	s->tcount[i]++;
	sc_events++;
}

static inline struct sc_site *sc_enter(const char *func, int line)
{
	struct sc_site *s = sc_site(func, line, SC_FUNC), *prev = sc_cur_func;

	s->a++;
	if (prev)
		sc_edge(prev, s);
	sc_cur_func = s;
	sc_events++;
	return prev;
}

/* Control enters an error sink: the last decision gets the blame. */
static inline void sc_sink(void)
{
	if (sc_last_br) {
		if (sc_last_taken)
			sc_last_br->sa++;
		else
			sc_last_br->sb++;
	}
	if (sc_cur_func)
		sc_cur_func->sa++;
}

static inline void sc_dump(int window)
{
	int i, j;

	printf("window %d\n", window);
	for (i = 0; i < sc_nr_sites; i++) {
		struct sc_site *s = &sc_sites[i];

		if (s->kind == SC_BRANCH)
			printf("B %s %d %llu %llu %llu %llu\n", s->func,
			       s->line, (unsigned long long)s->a,
			       (unsigned long long)s->b,
			       (unsigned long long)s->sa,
			       (unsigned long long)s->sb);
		else if (s->kind == SC_FUNC)
			printf("C %s %d %llu %llu\n", s->func, s->line,
			       (unsigned long long)s->a,
			       (unsigned long long)s->sa);
		else
			for (j = 0; j < s->nt; j++)
				printf("I %s %d %s %llu\n", s->func, s->line,
				       s->tname[j],
				       (unsigned long long)s->tcount[j]);
		s->a = s->b = s->sa = s->sb = 0;
		memset(s->tcount, 0, sizeof(s->tcount));
	}
	for (i = 0; i < sc_nr_edges; i++) {
		struct sc_edge *e = &sc_edges[i];

		if (e->n)
			printf("K %s %d %s %d %llu\n", e->caller->func,
			       e->caller->line, e->callee->func,
			       e->callee->line, (unsigned long long)e->n);
		e->n = 0;
	}
	printf("E %llu\nend\n", (unsigned long long)sc_events);
	sc_events = 0;
	sc_last_br = NULL;
}

#endif /* SC_NO_COUNT */

/* Branch, indirect call and function-entry markers. */
#ifndef SC_NO_COUNT
#define SC_BR(cond) sc_br(__func__, __LINE__, !!(cond))
#define SC_IND_CALL(name, call) \
	(sc_ind(__func__, __LINE__, (name)), (call))
#define SC_ENTER() struct sc_site *sc_prev_func = sc_enter(__func__, __LINE__)
#define SC_LEAVE() (sc_cur_func = sc_prev_func)
#define SC_SINK() sc_sink()
#define SC_DUMP(w) sc_dump(w)
#else
#define SC_BR(cond) (cond)
#define SC_IND_CALL(name, call) ((void)(name), (call))
#define SC_ENTER() do { } while (0)
#define SC_LEAVE() do { } while (0)
#define SC_SINK() do { } while (0)
#define SC_DUMP(w) do { } while (0)
#endif

/* A small deterministic generator, so that seeds give reproducible
 * input mixes.
 */
static uint64_t sc_rng = 88172645463325252ull;

static inline void sc_seed(uint64_t s)
{
	sc_rng = s * 2654435761u + 88172645463325252ull;
}

static inline double sc_unif(void)
{
	sc_rng ^= sc_rng << 13;
	sc_rng ^= sc_rng >> 7;
	sc_rng ^= sc_rng << 17;
	return (double)(sc_rng >> 11) / 9007199254740992.0;
}

static inline int sc_chance(double p)
{
	return sc_unif() < p;
}

#endif /* SC_COUNT_H */
