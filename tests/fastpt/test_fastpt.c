// SPDX-License-Identifier: BSD-2-Clause
/*
 * The fast Intel PT backend (decoders/fastpt) against the reference, the
 * libipt backend: the same input decoded by both through sa_decode_file()
 * must give byte-identical histories (every function's calls, returns and
 * instructions, every branch site's executed/taken/not-taken counts and
 * indirect targets, and the decode section: instructions, errors, lost
 * bytes, overflows, unknown outcomes, the error list with its offsets).
 *
 * Inputs: the committed fixture, recordings made at test time with
 * `sensor-agent record --emulate` of tests/workloads programs, a run of
 * gzip under qemu-user turned into Intel PT by tests/bench/mkpt (whose
 * taken branches perf script --itrace=b must list alike), the real
 * traces of ../shared (test "fastpt-traces", skipped when absent).  Each
 * of them is also corrupted in place at many offsets (bit flips, runs of
 * 0xff and of zeros in the AUX data): both must finish with the same
 * status, never crash; where their histories differ the difference is
 * counted and printed (docs/ipt.md, "Corrupt input").
 *
 * The fast backend runs twice on each input: with its counted output
 * (the session's default when only histories are wanted) and with its
 * elements (a flow callback set); those two histories must be identical
 * on every input, corrupt ones included.
 */
#include <stdint.h>

#include "sensor/hist.h"
#include "sensor/log.h"
#include "sensor/session.h"
#include "testutil.h"

#define PERF_RECORD_AUXTRACE 71

static bool traces_mode;
/* cache_equal: the image cache of every decode, and what the fast
 * decoder's debug line said of the blocks it found built
 */
static struct sa_image_cache *use_cache;
static unsigned long long found_built;
/* PSB segments the fast backend handed to libipt, from its debug line */
static unsigned long long fallback_segs;

/* A flow callback that looks at nothing: with it, the session has the
 * fast backend hand out every element instead of counted passes.
 */
static int ignore_flow(void *ctx, const struct sa_elem *e,
		       const struct sa_flow_info *fi)
{
	(void)ctx;
	(void)e;
	(void)fi;
	return 0;
}

/* Histories of @path decoded with @which, as JSON (heap, NUL-ended);
 * @elements: the fast backend's element output (else its counted one);
 * *@fallbacks: the PSB segments it handed to libipt.
 */
static char *decode_json(const char *path, const char *binary,
			 enum sa_ipt_decoder which, bool elements, int *rc,
			 unsigned long long *fallbacks)
{
	struct sa_binary_opt bin = { .path = binary, .addr = SA_ADDR_NONE };
	struct sa_decode_opts o;
	struct sa_errinfo ei;
	struct sa_hist *h = sa_hist__new();
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_ptr_nonnull(h);
	memset(&o, 0, sizeof(o));
	if (binary) {
		o.binaries = &bin;
		o.nr_binaries = 1;
	}
	o.ipt_decoder = which;
	o.cache = use_cache;
	if (elements)
		o.flow_fn = ignore_flow;
	fallback_segs = 0;
	*rc = sa_decode_file(path, &o, h, &ei);
	*fallbacks = fallback_segs;
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	if (!*rc)
		ck_assert_int_eq(sa_hist_sort(h), 0);
	if (!*rc)
		ck_assert_int_eq(sa_hist_write_json(h, f, 0), 0);
	else
		fprintf(f, "error %d: %s\n", *rc, ei.msg);
	fclose(f);
	sa_hist__free(h);
	return buf;
}

/* Prints the first line where @a and @b differ. */
static void show_diff(const char *what, const char *a, const char *b)
{
	size_t line = 1, i = 0;
	const char *la = a, *lb = b;

	while (a[i] && a[i] == b[i]) {
		if (a[i] == '\n') {
			line++;
			la = a + i + 1;
			lb = b + i + 1;
		}
		i++;
	}
	fprintf(stderr, "%s: histories differ at line %zu:\n  libipt: %.*s\n"
		"  fast:   %.*s\n", what, line, (int)strcspn(la, "\n"), la,
		(int)strcspn(lb, "\n"), lb);
}

/* Decodes @path with both backends; returns the libipt instruction count
 * parsed from the JSON (0 when none) so callers can check the input was
 * not empty.
 */
static unsigned long long check_equal_or(const char *what, const char *path,
					 const char *binary, bool strict,
					 unsigned int *ndiff)
{
	int rc_ref, rc_fast, rc_elem;
	unsigned long long fb_ref, fb_fast, fb_elem;
	char *ref = decode_json(path, binary, SA_IPT_DECODER_LIBIPT, false,
				&rc_ref, &fb_ref);
	char *fast = decode_json(path, binary, SA_IPT_DECODER_FAST, false,
				 &rc_fast, &fb_fast);
	char *elem = decode_json(path, binary, SA_IPT_DECODER_FAST, true,
				 &rc_elem, &fb_elem);
	unsigned long long insns = 0;
	const char *p;

	/* The run cache and the counted output walk as the elements do:
	 * they leave no more (and no other) segments to libipt.
	 */
	ck_assert_msg(fb_fast == fb_elem, "%s: the counted output handed %llu "
		      "PSB segments to libipt, the elements %llu", what,
		      fb_fast, fb_elem);

	/* The counted output and the elements of the fast backend give the
	 * same histories on every input, corrupt or not.
	 */
	if (strcmp(elem, fast))
		show_diff(what, elem, fast);
	ck_assert_int_eq(rc_elem, rc_fast);
	ck_assert_msg(!strcmp(elem, fast), "%s: the fast backend's counted "
		      "output gives other histories than its elements", what);
	free(elem);

	if (strcmp(ref, fast)) {
		show_diff(what, ref, fast);
		if (ndiff)
			(*ndiff)++;
	}
	ck_assert_int_eq(rc_ref, rc_fast);
	ck_assert_msg(!strict || !strcmp(ref, fast), "%s: the fast backend's "
		      "histories differ from libipt's", what);
	p = strstr(ref, "\"instructions\": ");
	if (p)
		insns = strtoull(p + 16, NULL, 10);
	free(ref);
	free(fast);
	return insns;
}

static unsigned long long check_equal(const char *what, const char *path,
				      const char *binary)
{
	return check_equal_or(what, path, binary, true, NULL);
}

/* Offsets and sizes of the AUX data in a perf.data file. */
struct aux_span {
	size_t off, len;
};

static size_t find_aux(const uint8_t *d, size_t n, struct aux_span *sp,
		       size_t max)
{
	uint64_t data_off, data_size, pos, end;
	size_t nr = 0;

	if (n < 56)
		return 0;
	memcpy(&data_off, d + 40, 8);
	memcpy(&data_size, d + 48, 8);
	end = data_off + data_size;
	if (end > n)
		end = n;
	for (pos = data_off; pos + 8 <= end && nr < max;) {
		uint32_t type;
		uint16_t size;

		memcpy(&type, d + pos, 4);
		memcpy(&size, d + pos + 6, 2);
		if (size < 8)
			break;
		if (type == PERF_RECORD_AUXTRACE && pos + 16 <= end) {
			uint64_t alen;

			memcpy(&alen, d + pos + 8, 8);
			if (pos + size + alen > end)
				break;
			sp[nr].off = pos + size;
			sp[nr].len = alen;
			nr++;
			pos += size + alen;
			continue;
		}
		pos += size;
	}
	return nr;
}

static void write_file(const char *path, const uint8_t *d, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(d, 1, n, f), n);
	fclose(f);
}

/*
 * Corrupts @path's AUX data at @nr places (deterministic), each variant
 * in its own file.  Both backends must finish (no crash, no hang) with
 * the same status; histories that differ are the documented, counted
 * difference of docs/ipt.md ("Corrupt input") and printed.
 */
static void check_corrupt(const char *what, const char *path,
			  const char *binary, unsigned int nr)
{
	struct aux_span sp[64];
	char out[4200], name[4400];
	uint8_t *orig, *d;
	size_t n = 0, nsp, i;
	unsigned int k, ndiff = 0;

	orig = (uint8_t *)sa_test_slurp(path, &n);
	ck_assert_ptr_nonnull(orig);
	nsp = find_aux(orig, n, sp, 64);
	ck_assert_msg(nsp > 0, "%s: no AUX data", path);
	d = malloc(n);
	ck_assert_ptr_nonnull(d);
	snprintf(out, sizeof(out), "%s/corrupt.data", sa_test_tmpdir());
	for (k = 0; k < nr; k++) {
		const struct aux_span *s = &sp[k % nsp];
		size_t at = s->off + (size_t)((k * 2654435761u) % s->len);
		size_t run = 1 + k % 24;

		memcpy(d, orig, n);
		switch (k % 3) {
		case 0:
			d[at] ^= (uint8_t)(1u << (k % 8));
			break;
		case 1:
			for (i = 0; i < run && at + i < s->off + s->len; i++)
				d[at + i] = 0xff;
			break;
		default:
			for (i = 0; i < run && at + i < s->off + s->len; i++)
				d[at + i] = 0;
			break;
		}
		write_file(out, d, n);
		snprintf(name, sizeof(name), "%s, variant %u (AUX offset %zu)",
			 what, k, at - s->off);
		check_equal_or(name, out, binary, false, &ndiff);
	}
	fprintf(stderr, "%s: %u of %u corrupt variants decode differently\n",
		what, ndiff, nr);
	free(d);
	free(orig);
}

static char *fixture_path(const char *rel)
{
	static char p[4096];
	const char *src = getenv("SA_SOURCE_DIR");

	snprintf(p, sizeof(p), "%s/%s", src ? src : ".", rel);
	return p;
}

/* Reads the fast backend's debug lines "fastpt: N blocks built, M found
 * built, ..." and "fastpt: N of M trace bytes decoded by libipt (K PSB
 * segments)".
 */
static int catch_print(enum sa_log_level level, const char *fmt, va_list ap)
{
	unsigned long long built, found, a, b, k;
	char line[1024];
	const char *p;

	(void)level;
	vsnprintf(line, sizeof(line), fmt, ap);
	p = strstr(line, "fastpt: ");
	if (p && sscanf(p, "fastpt: %llu blocks built, %llu found built",
			&built, &found) == 2)
		found_built += found;
	if (p && sscanf(p, "fastpt: %llu of %llu trace bytes decoded by "
			"libipt (%llu PSB segments)", &a, &b, &k) == 3)
		fallback_segs += k;
	return 0;
}

/*
 * The control-flow graph shared per binary (docs/ipt.md): windows decoded
 * through one image cache; the later ones find the blocks the first
 * built, and every window gives libipt's histories (and the same ones
 * with the fast backend's elements: check_equal()).
 */
START_TEST(cache_equal)
{
	char data[4096], bin[4096];
	unsigned long long before;
	int k;

	snprintf(data, sizeof(data), "%s",
		 fixture_path("fixtures/wl_branches/wl_branches.data"));
	snprintf(bin, sizeof(bin), "%s",
		 fixture_path("fixtures/wl_branches/wl_branches"));
	use_cache = sa_image_cache__new();
	ck_assert_ptr_nonnull(use_cache);
	/* each check_equal() decodes twice with the fast backend */
	for (k = 0; k < 3; k++) {
		before = found_built;
		ck_assert_uint_gt(check_equal("wl_branches.data, cached", data,
					      bin), 0);
		ck_assert_uint_gt(found_built, before);
	}
	sa_image_cache__free(use_cache);
	use_cache = NULL;
}
END_TEST

START_TEST(fixture_equal)
{
	char data[4096], bin[4096];

	snprintf(data, sizeof(data), "%s",
		 fixture_path("fixtures/wl_branches/wl_branches.data"));
	snprintf(bin, sizeof(bin), "%s",
		 fixture_path("fixtures/wl_branches/wl_branches"));
	ck_assert_uint_gt(check_equal("wl_branches.data", data, bin), 0);
	check_corrupt("wl_branches.data", data, bin, 40);
}
END_TEST

/* Records tests/workloads/@wl with the emulated sensor. */
static void record(const char *wl, const char *arg, const char *out)
{
	char sa[4096], prog[4096];
	const char *b = getenv("SA_BUILD_DIR");
	char *argv[] = { sa, "record", "--emulate", "--psb-period", "512",
			 "-o", (char *)out, "--", prog, (char *)arg, NULL };
	int rc;

	snprintf(sa, sizeof(sa), "%s/src/tool/sensor-agent", b ? b : ".");
	snprintf(prog, sizeof(prog), "%s/tests/workloads/%s", b ? b : ".", wl);
	rc = sa_test_exec(argv, NULL, NULL);
	ck_assert_msg(rc == 0, "record --emulate %s: exit %d", wl, rc);
}

static const char *const workloads[][2] = {
	{ "wl_branches-pie", "40" },
	{ "wl_qsort-nopie", "3" },
	{ "wl_signals-pie", "3" },
	{ "wl_threads-pie", "2" },
	{ "wl_branches-static", "3" },
};

START_TEST(emulated_equal)
{
	char out[4200];

	sa_test_require_ptrace();
	snprintf(out, sizeof(out), "%s/%s.data", sa_test_tmpdir(),
		 workloads[_i][0]);
	record(workloads[_i][0], workloads[_i][1], out);
	ck_assert_uint_gt(check_equal(workloads[_i][0], out, NULL), 0);
	check_corrupt(workloads[_i][0], out, NULL, 15);
}
END_TEST

/* A prefix of @path to compare the taken branches of two listings:
 * "FROM TO" pairs in hex without 0x, skipping perf's trace begin/end
 * lines (an address 0).  Returns the number of pairs.
 */
static size_t read_pairs(const char *path, int from_col, int to_col,
			 uint64_t **out)
{
	char line[512];
	size_t n = 0, cap = 0;
	FILE *f = fopen(path, "r");

	*out = NULL;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *tok[8], *save = NULL, *t;
		uint64_t a, b;
		int nt = 0;

		for (t = strtok_r(line, " \t\n", &save); t && nt < 8;
		     t = strtok_r(NULL, " \t\n", &save))
			tok[nt++] = t;
		if (nt <= from_col || nt <= to_col)
			continue;
		a = strtoull(tok[from_col], NULL, 16);
		b = strtoull(tok[to_col], NULL, 16);
		if (!a || !b)
			continue;
		if (n + 2 > cap) {
			cap = cap ? 2 * cap : 4096;
			*out = realloc(*out, cap * sizeof(**out));
			ck_assert_ptr_nonnull(*out);
		}
		(*out)[n++] = a;
		(*out)[n++] = b;
	}
	fclose(f);
	return n / 2;
}

/*
 * A real run of Debian's gzip under qemu-user, turned into Intel PT by
 * tests/bench/mkpt (the bulk generator of the benchmark): both backends
 * agree, and perf script --itrace=b lists the same taken branches as
 * decode --branches.
 */
START_TEST(qemu_equal)
{
	const char *b = getenv("SA_BUILD_DIR"), *dir = sa_test_tmpdir();
	char sa[4096], mkpt[4096], in[4200], log[4200], data[4200];
	char pout[4200], oout[4200];
	char *qemu[] = { "qemu-x86_64", "-d", "in_asm,exec,nochain", "-strace",
			 "-D", log, "/usr/bin/gzip", "-c", in, NULL };
	char *gen[] = { mkpt, log, "/usr/bin/gzip", data, NULL };
	char dense[4200];
	char *gen_dense[] = { mkpt, log, "/usr/bin/gzip", dense, "200", "-",
			      "128", NULL };
	char *perf[] = { "perf", "script", "-i", data, "--itrace=b", "-F",
			 "ip,addr", NULL };
	char *ours[] = { sa, "decode", "--decoder", "fast", "--branches",
			 data, NULL };
	uint64_t *pp, *op;
	size_t np, no, len = 0;
	char *bin;
	int rc;

	if (sa_test_exec((char *[]){ "qemu-x86_64", "-version", NULL }, NULL,
			 NULL)) {
		fprintf(stderr, "SKIP qemu_equal: no qemu-x86_64 (Debian "
			"qemu-user)\n");
		return;
	}
	snprintf(sa, sizeof(sa), "%s/src/tool/sensor-agent", b ? b : ".");
	snprintf(mkpt, sizeof(mkpt), "%s/tests/bench/mkpt", b ? b : ".");
	snprintf(in, sizeof(in), "%s/in.bin", dir);
	snprintf(log, sizeof(log), "%s/qemu.log", dir);
	snprintf(data, sizeof(data), "%s/gzip.perf", dir);
	snprintf(pout, sizeof(pout), "%s/perf.txt", dir);
	snprintf(oout, sizeof(oout), "%s/ours.txt", dir);
	bin = sa_test_slurp(sa, &len);
	ck_assert_ptr_nonnull(bin);
	write_file(in, (const uint8_t *)bin, len > 6000 ? 6000 : len);
	free(bin);
	rc = sa_test_exec(qemu, NULL, NULL);
	ck_assert_msg(rc == 0, "qemu-x86_64 gzip: exit %d", rc);
	rc = sa_test_exec(gen, NULL, NULL);
	ck_assert_msg(rc == 0, "mkpt: exit %d", rc);
	ck_assert_uint_gt(check_equal("gzip under qemu", data, NULL), 500000);
	check_corrupt("gzip under qemu", data, NULL, 8);
	/* PSB+ every 128 bytes: stops everywhere, also right after the last
	 * bit of a TNT (a run cache that walked on past one broke the walk
	 * and left segments to libipt: check_equal() counts them)
	 */
	snprintf(dense, sizeof(dense), "%s/gzip-dense.perf", dir);
	rc = sa_test_exec(gen_dense, NULL, NULL);
	ck_assert_msg(rc == 0, "mkpt (PSB period 128): exit %d", rc);
	ck_assert_uint_gt(check_equal("gzip under qemu, dense PSB", dense,
				      NULL), 500000);

	rc = sa_test_exec(ours, oout, NULL);
	ck_assert_int_eq(rc, 0);
	no = read_pairs(oout, 1, 3, &op);
	ck_assert_uint_gt(no, 10000);
	rc = sa_test_exec(perf, pout, NULL);
	np = rc == 0 ? read_pairs(pout, 0, 2, &pp) : 0;
	if (!np) {
		/* perf checks the intel_pt config against the host on
		 * some versions and vendors: say what it did
		 */
		fprintf(stderr, "SKIP perf comparison: perf script exit %d, "
			"no branches, on a %s host\n", rc,
			sa_test_cpu_vendor());
		free(op);
		return;
	}
	ck_assert_msg(np == no, "perf script: %zu taken branches, decode "
		      "--branches: %zu", np, no);
	ck_assert_msg(!memcmp(pp, op, 2 * no * sizeof(*op)),
		      "perf script and decode --branches list other branches");
	free(pp);
	free(op);
}
END_TEST

static const char *const shared[][2] = {
	{ "intel-pt/hase/loopy/loopy-20180404T162955.perf",
	  "intel-pt/hase/loopy/loopy" },
	{ "intel-pt/hase/control_flow/control_flow-20180404T163033.perf",
	  "intel-pt/hase/control_flow/control_flow" },
};

START_TEST(shared_equal)
{
	char data[4096], bin[4096], sub[512];

	snprintf(sub, sizeof(sub), "traces/%s", shared[_i][0]);
	snprintf(data, sizeof(data), "%s", sa_test_shared(sub));
	snprintf(sub, sizeof(sub), "traces/%s", shared[_i][1]);
	snprintf(bin, sizeof(bin), "%s", sa_test_shared(sub));
	ck_assert_uint_gt(check_equal(shared[_i][0], data, bin), 0);
	check_corrupt(shared[_i][0], data, bin, 60);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("fastpt");
	TCase *tc = tcase_create("equal");

	sa_set_log_level(SA_LOG_DEBUG);
	sa_set_print(catch_print);
	traces_mode = argc > 1 && !strcmp(argv[1], "traces");
	tcase_set_timeout(tc, 240);
	if (traces_mode) {
		sa_test_require_shared("traces/intel-pt/hase");
		tcase_add_loop_test(tc, shared_equal, 0,
				    sizeof(shared) / sizeof(shared[0]));
	} else {
		tcase_add_test(tc, fixture_equal);
		tcase_add_test(tc, cache_equal);
		tcase_add_test(tc, qemu_equal);
		tcase_add_loop_test(tc, emulated_equal, 0,
				    sizeof(workloads) / sizeof(workloads[0]));
	}
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
