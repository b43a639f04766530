/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs Linux perf at test time and parses what it prints, so that the
 * expected values of the perfdata tests come from the peer, never from the
 * reader under test.  Header-only: each test program is one executable.
 */
#ifndef SA_PD_PERF_H
#define SA_PD_PERF_H

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

#define PP_MAX_RECS 100000

/* One record as `perf report -D` prints it. */
struct pp_rec {
	uint64_t off;
	unsigned int size;
	unsigned int type;		/* from the "event: N" line */
	int cpu;
	uint64_t time;
	char name[32];			/* after PERF_RECORD_ */
	char rest[1024];		/* the rest of the line */
	uint64_t tc[3];			/* TIME_CONV shift, mult, zero */
};

struct pp_dump {
	struct pp_rec *recs;
	size_t nr;
};

/* Exits 77 (skip) when perf is not installed. */
static inline void pp_require_perf(void)
{
	if (system("perf version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "SKIP: `perf` is not on PATH; install "
			"linux-perf (the setup script does)\n");
		exit(77);
	}
}

/* Runs @cmd and returns its stdout (heap, NUL-terminated), whatever its
 * exit status.
 */
static inline char *pp_run(const char *cmd)
{
	return sa_test_cmd_output(cmd, 0);
}

static struct pp_rec *pp_find(struct pp_dump *d, uint64_t off)
{
	size_t i;

	for (i = 0; i < d->nr; i++)
		if (d->recs[i].off == off)
			return &d->recs[i];
	return NULL;
}

static inline struct pp_rec *pp_get(struct pp_dump *d, uint64_t off)
{
	struct pp_rec *r = pp_find(d, off);

	if (r)
		return r;
	ck_assert_uint_lt(d->nr, PP_MAX_RECS);
	r = &d->recs[d->nr++];
	memset(r, 0, sizeof(*r));
	r->off = off;
	r->type = ~0u;
	return r;
}

/* Parses `perf report -D -i @path`: only the records read from the file
 * (perf prints "0x<offset>@<file> [0x<size>]: event: <type>" for each),
 * not the ones perf synthesizes (offset 0).
 */
static inline void pp_dump_file(const char *path, struct pp_dump *d)
{
	char *cmd, *out, *line, *next;
	struct pp_rec *last = NULL;

	ck_assert_int_ge(asprintf(&cmd, "perf report -D -i '%s' 2>/dev/null",
				  path), 0);
	out = pp_run(cmd);
	free(cmd);
	d->recs = calloc(PP_MAX_RECS, sizeof(*d->recs));
	d->nr = 0;
	ck_assert(d->recs);
	for (line = out; line && *line; line = next) {
		uint64_t off, time;
		unsigned int size, type;
		int cpu, n = 0;
		char name[32];

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "0x%" SCNx64 "@%*s [0x%x]: event: %u",
			   &off, &size, &type) == 3) {
			struct pp_rec *r = pp_get(d, off);

			r->size = size;
			r->type = type;
			continue;
		}
		if (sscanf(line, "%d %" SCNu64 " 0x%" SCNx64
			   " [0x%x]: PERF_RECORD_%31[A-Z_0-9]%n",
			   &cpu, &time, &off, &size, name, &n) == 5 && off) {
			struct pp_rec *r = pp_get(d, off);

			r->cpu = cpu;
			r->time = time;
			snprintf(r->name, sizeof(r->name), "%s", name);
			snprintf(r->rest, sizeof(r->rest), "%s", line + n);
			last = r;
			continue;
		}
		/* Without PERF_SAMPLE_CPU perf prints no cpu column. */
		if (sscanf(line, "%" SCNu64 " 0x%" SCNx64
			   " [0x%x]: PERF_RECORD_%31[A-Z_0-9]%n",
			   &time, &off, &size, name, &n) == 4 && off) {
			struct pp_rec *r = pp_get(d, off);

			r->cpu = -1;
			r->time = time;
			snprintf(r->name, sizeof(r->name), "%s", name);
			snprintf(r->rest, sizeof(r->rest), "%s", line + n);
			last = r;
			continue;
		}
		if (last && !strcmp(last->name, "TIME_CONV")) {
			sscanf(line, "... Time Shift %" SCNu64, &last->tc[0]);
			sscanf(line, "... Time Muliplier %" SCNu64,
			       &last->tc[1]);
			sscanf(line, "... Time Zero %" SCNu64, &last->tc[2]);
		}
	}
	free(out);
}

static inline void pp_dump_free(struct pp_dump *d)
{
	free(d->recs);
	d->recs = NULL;
	d->nr = 0;
}

/* `perf report --header-only`: the value after "# @key : ", or NULL. */
static inline char *pp_header_value(const char *hdr, const char *key)
{
	char pat[128];
	const char *p = hdr;
	size_t n;
	char *v;

	/* perf aligns some keys with spaces: "# data size      : 11512". */
	snprintf(pat, sizeof(pat), "\n# %s", key);
	while ((p = strstr(p, pat))) {
		p += strlen(pat);
		p += strspn(p, " ");
		if (!strncmp(p, ": ", 2))
			break;
	}
	if (!p)
		return NULL;
	p += 2;
	n = strcspn(p, "\n");
	while (n && p[n - 1] == ' ')
		n--;
	v = strndup(p, n);
	ck_assert(v);
	return v;
}

#endif /* SA_PD_PERF_H */
