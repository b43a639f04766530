// SPDX-License-Identifier: BSD-2-Clause
/*
 * Symbols as perf names them.  A perf.data is written with an MMAP2 of a
 * test program and one sample at the start, the second byte and the last
 * byte of every function symbol readelf lists; `perf script -F ip,sym`
 * then names each address, and our symbolizer must give the same name
 * (perf's choice among aliases, labels, [unknown]).  Skips (77) without
 * perf.
 */
#include <linux/perf_event.h>
#include <unistd.h>

#include "sensor/image.h"
#include "sensor/perfdata.h"
#include "testutil.h"
#include "peer.h"

struct sample {
	struct perf_event_header h;
	uint64_t ip;
	uint32_t pid, tid;
};

static const char *progs[3];

/* Function symbol addresses and sizes in executable sections, from
 * readelf (data addresses are named by OBJECT symbols in perf, and are
 * not code).
 */
static size_t readelf_funcs(const char *path, uint64_t **addrs,
			    uint64_t **sizes)
{
	char cmd[4400], *out, *line, *nl;
	bool exec[4096] = { false };
	size_t n = 0, cap = 4096;

	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' | "
		 "awk '/^ *\\[ *[0-9]+\\]/ "
		 "{ i = $0; sub(/^ *\\[ */, \"\", i); sub(/\\].*/, \"\", i); "
		 "sub(/^ *\\[ *[0-9]+\\] */, \"\"); "
		 "if (NF == 10 && $7 ~ /X/) print i }'", path);
	out = peer_run(cmd);
	for (line = out; line && *line; line = nl) {
		unsigned long i = strtoul(line, &nl, 10);

		if (i < 4096)
			exec[i] = true;
		nl = strchr(line, '\n');
		if (nl)
			nl++;
	}
	free(out);
	snprintf(cmd, sizeof(cmd), "readelf -sW '%s' | awk '$4==\"FUNC\" || "
		 "$4==\"IFUNC\" || $4==\"NOTYPE\" { print $2, $3, $7 }'",
		 path);
	out = peer_run(cmd);
	*addrs = malloc(cap * sizeof(**addrs));
	*sizes = malloc(cap * sizeof(**sizes));
	for (line = out; line && *line; line = nl) {
		char *p;
		unsigned long ndx;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		if (n == cap) {
			cap *= 2;
			*addrs = realloc(*addrs, cap * sizeof(**addrs));
			*sizes = realloc(*sizes, cap * sizeof(**sizes));
		}
		(*addrs)[n] = strtoull(line, &p, 16);
		(*sizes)[n] = strtoull(p, &p, 0);
		ndx = strtoul(p, &p, 10);
		if ((*addrs)[n] && ndx < 4096 && exec[ndx])
			n++;
	}
	free(out);
	ck_assert_uint_gt(n, 10);
	return n;
}

static void check_prog(const char *prog, bool pie)
{
	const uint64_t base = pie ? 0x555555554000ULL : 0;
	char pd[4200], abs[4096], cmd[9000], *out, *line, *nl;
	struct perf_event_attr attr;
	struct sa_pd_writer *w;
	struct sa_errinfo ei;
	struct sa_image *img;
	uint64_t *addrs, *sizes, id = 1, nips = 0;
	size_t n = readelf_funcs(prog, &addrs, &sizes), i, checked = 0;
	struct stat st;

	ck_assert(realpath(prog, abs));
	ck_assert(stat(abs, &st) == 0);
	snprintf(pd, sizeof(pd), "%s/%s.data", sa_test_tmpdir(),
		 pie ? "pie" : "nopie");
	w = sa_pd_writer__new(pd, &ei);
	ck_assert_msg(w, "%s", ei.msg);
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	attr.sample_period = 1;
	attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID;
	attr.exclude_kernel = 1;
	ck_assert_int_eq(sa_pd_writer_add_attr(w, &attr, &id, 1, "cpu-clock"),
			 0);
	ck_assert_int_eq(sa_pd_writer_comm(w, 42, 42, "prog", true, NULL), 0);
	/* the whole file mapped executable, as a test of the bias too */
	ck_assert_int_eq(sa_pd_writer_mmap2(w, 42, 42, base ? base : 0x400000,
					    (st.st_size + 0xfff) & ~0xfffULL,
					    0, 5, 2, abs, NULL), 0);
	for (i = 0; i < n; i++) {
		uint64_t offs[3] = { 0, 1, sizes[i] ? sizes[i] - 1 : 2 };

		for (int k = 0; k < 3; k++) {
			struct sample s = {
				.h = { PERF_RECORD_SAMPLE,
				       PERF_RECORD_MISC_USER, sizeof(s) },
				.ip = addrs[i] + offs[k] + base,
				.pid = 42, .tid = 42,
			};

			ck_assert_int_eq(sa_pd_writer_raw(w, &s, sizeof(s)), 0);
			nips++;
		}
	}
	ck_assert_int_eq(sa_pd_writer_close(w, &ei), 0);

	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_int_eq(sa_image_add_elf(img, abs, base ? base : 0x400000,
					  (st.st_size + 0xfff) & ~0xfffULL, 0,
					  NULL, 0, &ei), 0);
	snprintf(cmd, sizeof(cmd), "perf script -i '%s' -F ip,sym 2>/dev/null",
		 pd);
	out = peer_run(cmd);
	for (line = out; line && *line; line = nl) {
		char sym[512];
		uint64_t ip;
		const struct sa_sym *s;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		if (sscanf(line, " %" SCNx64 " %511s", &ip, sym) != 2)
			continue;
		s = sa_image_symbolize(img, ip);
		if (!strcmp(sym, "[unknown]"))
			ck_assert_msg(!s, "%s 0x%" PRIx64 ": perf has no "
				      "symbol, we say %s", prog, ip - base,
				      s->name);
		else
			ck_assert_msg(s && !strcmp(s->name, sym), "%s 0x%"
				      PRIx64 ": perf says %s, we say %s", prog,
				      ip - base, sym, s ? s->name : "nothing");
		checked++;
	}
	ck_assert_uint_eq(checked, nips);
	free(out);
	free(addrs);
	free(sizes);
	sa_image__free(img);
}

START_TEST(t_perf_pie)
{
	check_prog(progs[0], true);
}
END_TEST

START_TEST(t_perf_nopie)
{
	check_prog(progs[1], false);
}
END_TEST

START_TEST(t_perf_static)
{
	check_prog(progs[2], false);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s;
	TCase *tc;

	if (argc < 4) {
		fprintf(stderr, "usage: %s PIE NOPIE STATIC\n", argv[0]);
		return 1;
	}
	if (!peer_have("perf")) {
		fprintf(stderr, "SKIP: perf not installed (Debian package "
			"linux-perf)\n");
		return SA_TEST_SKIP;
	}
	progs[0] = argv[1];
	progs[1] = argv[2];
	progs[2] = argv[3];
	s = suite_create("image-perf");
	tc = tcase_create("image-perf");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_perf_pie);
	tcase_add_test(tc, t_perf_nopie);
	tcase_add_test(tc, t_perf_static);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
