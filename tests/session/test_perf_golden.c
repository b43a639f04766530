// SPDX-License-Identifier: BSD-2-Clause
/*
 * Golden conformance with Linux perf on the real Intel PT traces in
 * ../shared/traces/intel-pt/hase.  perf is run here, at test time:
 *   executions   perf script --itrace=i0nse -F ip,insn
 *   taken        perf script --itrace=be -F ip,addr,flags
 * and not-taken = executions - taken.  Conditional branches are told by
 * their opcode bytes as perf prints them, not by our disassembler.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sensor/hist.h"
#include "sensor/log.h"
#include "sensor/session.h"
#include "testutil.h"

#define HASE "traces/intel-pt/hase"
#define REC_DIR "/home/joerg/git/angr/hase/tests/bin"

struct addr_count {
	uint64_t addr, count;
};

struct counts {
	struct addr_count *v;
	size_t n, cap;
};

static void counts_add(struct counts *c, uint64_t addr, uint64_t k)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (c->v[i].addr == addr) {
			c->v[i].count += k;
			return;
		}
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		ck_assert_ptr_nonnull(c->v);
	}
	c->v[c->n].addr = addr;
	c->v[c->n].count = k;
	c->n++;
}

static uint64_t counts_get(const struct counts *c, uint64_t addr)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->v[i].addr == addr)
			return c->v[i].count;
	return 0;
}

struct branch {
	uint64_t from, to;
};

struct seq {
	struct branch *v;
	size_t n, cap;
};

static void seq_add(struct seq *s, uint64_t from, uint64_t to)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		ck_assert_ptr_nonnull(s->v);
	}
	s->v[s->n].from = from;
	s->v[s->n].to = to;
	s->n++;
}

static void on_branch(void *ctx, uint64_t from, uint64_t to,
		      enum sa_iclass kind)
{
	seq_add(ctx, from, to);
}

/* A symfs tree with the binary at the path the trace recorded. */
static const char *make_symfs(const char *name)
{
	static char dir[4096];
	char path[4096], target[4096];

	snprintf(dir, sizeof(dir), "%s/symfs-%s", sa_test_tmpdir(), name);
	snprintf(path, sizeof(path), "mkdir -p '%s%s/%s'", dir, REC_DIR, name);
	ck_assert_int_eq(system(path), 0);
	snprintf(path, sizeof(path), "%s%s/%s/%s", dir, REC_DIR, name, name);
	snprintf(target, sizeof(target), "%s/%s/%s/%s",
		 getenv("SA_SHARED_DIR"), HASE, name, name);
	unlink(path);
	ck_assert_int_eq(symlink(target, path), 0);
	return dir;
}

static bool is_jcc(const uint8_t *b, size_t n)
{
	size_t i = 0;

	/* skip legacy prefixes (branch hints, bnd) */
	while (i < n && (b[i] == 0x2e || b[i] == 0x3e || b[i] == 0xf2))
		i++;
	if (i >= n)
		return false;
	if ((b[i] >= 0x70 && b[i] <= 0x7f) || (b[i] >= 0xe0 && b[i] <= 0xe3))
		return true;
	return b[i] == 0x0f && i + 1 < n && b[i + 1] >= 0x80 &&
	       b[i + 1] <= 0x8f;
}

/* "  400202 ilen: 3 insn: 48 31 ed" -> executions, and jcc addresses */
static void parse_insns(const char *text, struct counts *exec,
			struct counts *jcc, uint64_t *total)
{
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n');
		char line[512];
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		uint8_t bytes[16];
		size_t nb = 0;
		uint64_t ip;
		char *ins, *tok, *end;

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		p = eol ? eol + 1 : p + len;
		if (sscanf(line, " %" SCNx64, &ip) != 1)
			continue;
		(*total)++;
		counts_add(exec, ip, 1);
		ins = strstr(line, "insn:");
		if (!ins)
			continue;
		for (tok = ins + 5; nb < 16; tok = end) {
			unsigned long v = strtoul(tok, &end, 16);

			if (end == tok)
				break;
			bytes[nb++] = (uint8_t)v;
		}
		if (is_jcc(bytes, nb) && !counts_get(jcc, ip))
			counts_add(jcc, ip, 1);
	}
}

/* "  jcc    400117 =>   4000ec" and "  tr end  syscall  40010e => 0" */
static void parse_branches(const char *text, struct counts *taken,
			   struct counts *calls, struct seq *seq)
{
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n');
		char line[512], *arrow, *q;
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		uint64_t from, to;

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		p = eol ? eol + 1 : p + len;
		arrow = strstr(line, "=>");
		if (!arrow || strstr(line, "tr strt") || strstr(line, "tr end"))
			continue;
		*arrow = '\0';
		q = arrow;
		while (q > line && isspace((unsigned char)q[-1]))
			q--;
		while (q > line && isxdigit((unsigned char)q[-1]))
			q--;
		from = strtoull(q, NULL, 16);
		to = strtoull(arrow + 2, NULL, 16);
		seq_add(seq, from, to);
		if (strstr(line, "jcc"))
			counts_add(taken, from, 1);
		else if (strstr(line, "call"))
			counts_add(calls, to, 1);
	}
}

static char *run_perf(const char *perf_data, const char *symfs,
		      const char *itrace, const char *fields, const char *tag)
{
	char itr[64], fld[64];
	const char *out = sa_test_path(tag);
	char *argv[] = { "perf", "script", "-i", (char *)perf_data, "--symfs",
			 (char *)symfs, itr, "-F", fld, NULL };
	char *text;

	snprintf(itr, sizeof(itr), "--itrace=%s", itrace);
	snprintf(fld, sizeof(fld), "%s", fields);
	ck_assert_int_eq(sa_test_exec(argv, out, NULL), 0);
	text = sa_test_slurp(out, NULL);
	ck_assert_ptr_nonnull(text);
	return text;
}

static char warnings[8192];

static int keep_warnings(enum sa_log_level level, const char *fmt, va_list ap)
{
	size_t n = strlen(warnings);

	if (level == SA_LOG_WARN && n < sizeof(warnings) - 1)
		vsnprintf(warnings + n, sizeof(warnings) - n, fmt, ap);
	return 0;
}

static void check_trace(const char *name, const char *file)
{
	char perf_data[4096];
	const char *symfs = make_symfs(name);
	struct counts exec = { 0 }, jcc = { 0 }, taken = { 0 }, calls = { 0 };
	struct seq pseq = { 0 }, oseq = { 0 };
	struct sa_decode_opts o;
	struct sa_errinfo ei;
	struct sa_hist *h;
	uint64_t total = 0, checked = 0;
	char *insns, *brs;
	size_t i, k;

	snprintf(perf_data, sizeof(perf_data), "%s/%s/%s/%s",
		 getenv("SA_SHARED_DIR"), HASE, name, file);
	insns = run_perf(perf_data, symfs, "i0nse", "ip,insn", "insns.txt");
	brs = run_perf(perf_data, symfs, "be", "ip,addr,flags", "br.txt");
	parse_insns(insns, &exec, &jcc, &total);
	parse_branches(brs, &taken, &calls, &pseq);
	ck_assert_uint_gt(total, 0);
	ck_assert_uint_gt(jcc.n, 0);

	memset(&o, 0, sizeof(o));
	o.symfs = symfs;
	o.branch_fn = on_branch;
	o.branch_ctx = &oseq;
	h = sa_hist__new();
	warnings[0] = '\0';
	sa_set_print(keep_warnings);
	ck_assert_int_eq(sa_decode_file(perf_data, &o, h, &ei), 0);
	/* loopy maps file page 0 twice (text at 0x400000, data at
	 * 0x600000): both are where the ELF was linked, no warning
	 */
	ck_assert_msg(!warnings[0], "%s: unexpected warnings: %s", name,
		      warnings);
	ck_assert_uint_eq(sa_hist_decode(h)->instructions, total);

	/* every conditional branch perf executed is in our history, with
	 * the same taken and not-taken counts
	 */
	for (i = 0; i < jcc.n; i++) {
		uint64_t a = jcc.v[i].addr, t = counts_get(&taken, a);
		uint64_t x = counts_get(&exec, a);
		const struct sa_hist_branch *br = NULL;

		for (k = 0; k < sa_hist_nr_functions(h) && !br; k++) {
			const struct sa_hist_func *f = sa_hist_function(h, k);
			size_t j;

			for (j = 0; j < f->nr_branches; j++)
				if (f->branches[j].addr == a)
					br = &f->branches[j];
		}
		ck_assert_msg(br, "%s: jcc at %#" PRIx64 " missing", name, a);
		ck_assert_msg(br->taken == t && br->not_taken == x - t,
			      "%s: jcc at %#" PRIx64 ": taken %" PRIu64
			      "/%" PRIu64 " (perf %" PRIu64 "/%" PRIu64 ")",
			      name, a, br->taken, br->not_taken, t, x - t);
		checked++;
	}
	/* and we report no conditional branch perf did not see */
	for (k = 0; k < sa_hist_nr_functions(h); k++) {
		const struct sa_hist_func *f = sa_hist_function(h, k);
		size_t j;

		for (j = 0; j < f->nr_branches; j++) {
			if (f->branches[j].iclass != SA_IC_COND)
				continue;
			ck_assert_msg(counts_get(&jcc, f->branches[j].addr),
				      "%s: extra jcc %#" PRIx64, name,
				      f->branches[j].addr);
		}
		/* calls into each function */
		ck_assert_msg(f->calls == counts_get(&calls, f->entry),
			      "%s: %s called %" PRIu64 " times, perf %" PRIu64,
			      name, f->name, f->calls,
			      counts_get(&calls, f->entry));
	}
	for (i = 0; i < calls.n; i++) {
		bool found = false;

		for (k = 0; k < sa_hist_nr_functions(h); k++)
			found |= sa_hist_function(h, k)->entry ==
				 calls.v[i].addr;
		ck_assert_msg(found, "%s: perf's call target %#" PRIx64
			      " has no function", name, calls.v[i].addr);
	}
	/* the threads: those of perf's branch samples, each once */
	{
		char *tids = run_perf(perf_data, symfs, "be", "tid",
				      "tids.txt"), *p = tids, *end;
		const struct sa_hist_decode *d = sa_hist_decode(h);
		uint64_t nr = 0;

		while (*p) {
			long t = strtol(p, &end, 10);

			if (end == p)
				break;
			for (k = 0; k < d->nr_tids && d->tids[k] != t; k++)
				;
			ck_assert_msg(k < d->nr_tids, "%s: perf's thread %ld "
				      "not in decode.tids", name, t);
			nr |= 1ull << k;
			p = end;
		}
		ck_assert_uint_lt(d->nr_tids, 64);
		ck_assert_msg(d->nr_tids > 0 && nr == (1ull << d->nr_tids) - 1,
			      "%s: decode.tids has threads perf does not "
			      "show", name);
		free(tids);
	}
	/* the taken branches, in trace order */
	ck_assert_uint_eq(oseq.n, pseq.n);
	for (i = 0; i < pseq.n; i++)
		ck_assert_msg(oseq.v[i].from == pseq.v[i].from &&
			      oseq.v[i].to == pseq.v[i].to,
			      "%s: taken branch %zu: %#" PRIx64 "->%#" PRIx64
			      ", perf %#" PRIx64 "->%#" PRIx64, name, i,
			      oseq.v[i].from, oseq.v[i].to, pseq.v[i].from,
			      pseq.v[i].to);
	fprintf(stderr, "%s: %" PRIu64 " instructions, %" PRIu64
		" conditional branches, %zu taken branches, %zu call "
		"targets: equal to perf\n", name, total, checked, pseq.n,
		calls.n);
	sa_hist__free(h);
	free(insns);
	free(brs);
	free(exec.v);
	free(jcc.v);
	free(taken.v);
	free(calls.v);
	free(pseq.v);
	free(oseq.v);
}

START_TEST(test_loopy)
{
	check_trace("loopy", "loopy-20180404T162955.perf");
}
END_TEST

START_TEST(test_control_flow)
{
	check_trace("control_flow", "control_flow-20180404T163033.perf");
}
END_TEST

int main(void)
{
	Suite *s;
	TCase *tc;

	sa_test_require_shared(HASE);
	if (!sa_test_have("perf")) {
		fprintf(stderr, "SKIP: perf is not installed (Debian "
				"linux-perf; scripts/setup.sh installs it)\n");
		return SA_TEST_SKIP;
	}
	s = suite_create("decode-golden");
	tc = tcase_create("perf");
	tcase_add_test(tc, test_loopy);
	tcase_add_test(tc, test_control_flow);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
