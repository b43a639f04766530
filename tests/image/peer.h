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

/* Runs @cmd with the shell and returns its whole stdout (malloc'd). */
static inline char *peer_run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	size_t n;

	ck_assert_msg(p && buf, "cannot run %s", cmd);
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert(buf);
		}
	}
	buf[len] = '\0';
	ck_assert_msg(pclose(p) == 0, "peer command failed: %s", cmd);
	return buf;
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

/*
 * Parses `objdump -d --no-show-raw-insn` output for the function @func
 * (the "<func>:" block).  Returns the number of instructions put in
 * *@out (malloc'd).
 */
static inline size_t peer_objdump_func(const char *objdump, const char *path,
				       const char *func,
				       struct peer_insn **out)
{
	char cmd[1024], hdr[256], *text, *line, *nl;
	size_t n = 0, cap = 256;
	struct peer_insn *v = malloc(cap * sizeof(*v));
	bool in = false;

	snprintf(cmd, sizeof(cmd), "%s -d --no-show-raw-insn -w "
		 "--disassemble='%s' '%s'", objdump, func, path);
	snprintf(hdr, sizeof(hdr), "<%s>:", func);
	text = peer_run(cmd);
	for (line = text; line && *line; line = nl) {
		struct peer_insn *pi;
		char *colon, *p, *end;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';

		if (strstr(line, hdr) && line[0] != ' ') {
			in = true;
			continue;
		}
		if (!in)
			continue;
		if (line[0] != ' ')
			break;		/* next function */
		colon = strchr(line, ':');
		if (!colon || colon[1] != '\t')
			continue;
		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
		}
		pi = &v[n];
		memset(pi, 0, sizeof(*pi));
		pi->addr = strtoull(line, NULL, 16);
		p = colon + 2;
		while (*p == ' ' || *p == '\t')
			p++;
		end = p;
		while (*end && *end != ' ' && *end != '\t')
			end++;
		snprintf(pi->mnem, sizeof(pi->mnem), "%.*s", (int)(end - p), p);
		/* "bnd jmp", "notrack jmp", "rep ret": keep the last word */
		if (!strcmp(pi->mnem, "bnd") || !strcmp(pi->mnem, "notrack") ||
		    !strcmp(pi->mnem, "repz") || !strcmp(pi->mnem, "rep") ||
		    !strncmp(pi->mnem, "data16", 6) || !strcmp(pi->mnem, "cs")) {
			p = end;
			while (*p == ' ' || *p == '\t')
				p++;
			end = p;
			while (*end && *end != ' ' && *end != '\t')
				end++;
			if (end > p)
				snprintf(pi->mnem, sizeof(pi->mnem), "%.*s",
					 (int)(end - p), p);
		}
		while (*end == ' ' || *end == '\t')
			end++;
		snprintf(pi->ops, sizeof(pi->ops), "%s", end);
		/* direct targets: "401136 <f+0x6>" (x86) or "401136 <f>" */
		p = pi->ops;
		if (*p == '#')
			p++;
		{
			char *lt = strchr(p, '<');
			char *q = lt;

			if (lt && lt > p) {
				q = lt - 1;
				while (q > p && *q == ' ')
					q--;
				while (q > p && q[-1] != ' ' && q[-1] != ',' &&
				       q[-1] != '#')
					q--;
				if (*q == '#')
					q++;
				pi->target = strtoull(q, &end, 16);
				pi->has_target = end > q;
			}
		}
		n++;
	}
	free(text);
	*out = v;
	return n;
}

#endif /* SA_TEST_PEER_H */
