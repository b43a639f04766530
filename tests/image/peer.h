/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Peer tools for the image and sites suites: runs nm, readelf, addr2line
 * and objdump at test time and parses what they print.  The expected
 * values of the tests come from here, never from the code under test.
 */
#ifndef SA_TEST_PEER_H
#define SA_TEST_PEER_H

#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Runs @cmd with the shell and returns its whole stdout (malloc'd); a
 * failing command fails the test.
 */
static inline char *peer_run(const char *cmd)
{
	return sa_test_cmd_output(cmd, 1);
}

/* Returns true when @tool runs (e.g. a cross objdump that may be absent). */
static inline bool peer_have(const char *tool)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

struct peer_insn {
	uint64_t addr;
	char mnem[32];
	char ops[96];		/* operands, objdump's text */
	uint64_t target;	/* the first hex address after the mnemonic */
	bool has_target;
};

/* Parses one instruction line of objdump ("  401136:\tjne    40114a <f+0x14>").
 * Returns false for other lines.
 */
static inline bool peer_parse_insn(char *line, struct peer_insn *pi)
{
	char *colon, *p, *end, *lt;
	static const char *const pfx[] = { "bnd", "notrack", "repz", "rep",
					   "cs", "ds", "data16", "addr32",
					   NULL };

	colon = strchr(line, ':');
	if (line[0] != ' ' || !colon || colon[1] != '\t')
		return false;
	memset(pi, 0, sizeof(*pi));
	pi->addr = strtoull(line, NULL, 16);
	p = colon + 2;
	for (;;) {
		bool again = false;

		while (*p == ' ' || *p == '\t')
			p++;
		end = p;
		while (*end && *end != ' ' && *end != '\t')
			end++;
		snprintf(pi->mnem, sizeof(pi->mnem), "%.*s", (int)(end - p), p);
		/* "bnd jmp", "notrack jmp", "rep ret": keep the last word */
		for (int k = 0; pfx[k]; k++)
			if (!strcmp(pi->mnem, pfx[k]) && *end)
				again = true;
		if (!again)
			break;
		p = end;
	}
	while (*end == ' ' || *end == '\t')
		end++;
	snprintf(pi->ops, sizeof(pi->ops), "%s", end);
	/* a direct target: the hex word before "<sym+off>" */
	p = pi->ops;
	lt = strchr(p, '<');
	if (lt && lt > p) {
		char *q = lt - 1;

		while (q > p && *q == ' ')
			q--;
		while (q > p && q[-1] != ' ' && q[-1] != ',' && q[-1] != '#' &&
		       q[-1] != '\t')
			q--;
		pi->target = strtoull(q, &end, 16);
		pi->has_target = end > q;
	}
	return true;
}

struct peer_func {
	char name[128];
	struct peer_insn *insns;
	size_t n;
};

/*
 * Runs `@objdump -d --no-show-raw-insn -w @args @path` and splits it into
 * functions (the "<name>:" blocks).  Returns how many are in *@out.
 */
static inline size_t peer_objdump_all(const char *objdump, const char *args,
				      const char *path,
				      struct peer_func **out)
{
	char cmd[5000], *text, *line, *nl;
	size_t nf = 0, capf = 64, capi = 0;
	struct peer_func *v = calloc(capf, sizeof(*v)), *cur = NULL;

	snprintf(cmd, sizeof(cmd), "%s -d --no-show-raw-insn -w %s '%s'",
		 objdump, args, path);
	text = peer_run(cmd);
	for (line = text; line && *line; line = nl) {
		char *lt, *gt;
		struct peer_insn pi;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		lt = strchr(line, '<');
		gt = lt ? strstr(lt, ">:") : NULL;
		if (line[0] != ' ' && lt && gt && !gt[2]) {
			if (nf == capf) {
				capf *= 2;
				v = realloc(v, capf * sizeof(*v));
			}
			cur = &v[nf++];
			memset(cur, 0, sizeof(*cur));
			snprintf(cur->name, sizeof(cur->name), "%.*s",
				 (int)(gt - lt - 1), lt + 1);
			capi = 0;
			continue;
		}
		if (!cur || !peer_parse_insn(line, &pi)) {
			if (line[0] != ' ')
				cur = NULL;
			continue;
		}
		if (cur->n == capi) {
			capi = capi ? capi * 2 : 64;
			cur->insns = realloc(cur->insns,
					     capi * sizeof(*cur->insns));
		}
		cur->insns[cur->n++] = pi;
	}
	free(text);
	*out = v;
	return nf;
}

static inline void peer_funcs_free(struct peer_func *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].insns);
	free(v);
}

/* The instructions of the one function @func (malloc'd in *@out). */
static inline size_t peer_objdump_func(const char *objdump, const char *path,
				       const char *func,
				       struct peer_insn **out)
{
	char args[300];
	struct peer_func *v;
	size_t nf, i, n = 0;

	snprintf(args, sizeof(args), "--disassemble='%s'", func);
	nf = peer_objdump_all(objdump, args, path, &v);
	*out = NULL;
	for (i = 0; i < nf; i++) {
		if (strcmp(v[i].name, func) || *out)
			continue;
		*out = v[i].insns;
		n = v[i].n;
		v[i].insns = NULL;
	}
	peer_funcs_free(v, nf);
	if (!*out)
		*out = malloc(sizeof(**out));
	return n;
}

#endif /* SA_TEST_PEER_H */
