// SPDX-License-Identifier: BSD-2-Clause
/*
 * The image-traces suite: the binaries of the real traces in
 * ../shared/traces.  Symbols, build-ids, load bias and site maps are
 * compared with readelf and objdump (aarch64-linux-gnu-objdump for the
 * Arm binaries) run at test time.
 */
#include "sensor/image.h"
#include "sensor/sites.h"
#include "testutil.h"
#include "../sites/classes.h"

#define CS "traces/coresight/"
#define HASE "traces/intel-pt/hase/"
#define A64_OBJDUMP "aarch64-linux-gnu-objdump"

static struct sa_image *load_at(const char *path, uint64_t start,
				uint64_t len, const char *want_arch_name)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	int err;

	if (start == UINT64_MAX)
		err = sa_image_load_elf(img, path, UINT64_MAX, &ei);
	else
		err = sa_image_add_elf(img, path, start, len, 0, NULL, 0, &ei);
	ck_assert_msg(err == 0, "%s: %s", path, ei.msg);
	(void)want_arch_name;
	return img;
}

/* Every function objdump shows in .text; returns the COND sites seen. */
static size_t check_all(struct sa_sitemap *map, const char *tool,
			const char *path, uint64_t bias, enum sa_isa isa,
			class_fn cls,
			size_t *nfuncs)
{
	struct peer_func *v;
	size_t nf = peer_objdump_all(tool, "-j .text", path, &v), i;
	size_t ncond = 0;

	*nfuncs = 0;
	for (i = 0; i < nf; i++) {
		/* "<.text>", "<abort@@GLIBC_2.17-0x98>": no symbol there */
		if (v[i].name[0] == '.' || !v[i].n ||
		    strstr(v[i].name, "-0x") || strstr(v[i].name, "+0x"))
			continue;
		ncond += check_insns(map, path, v[i].name, v[i].insns, v[i].n,
				     bias, isa, cls);
		(*nfuncs)++;
	}
	peer_funcs_free(v, nf);
	return ncond;
}

/* Code without symbols: each objdump instruction against the anonymous
 * regions the map makes.
 */
static size_t check_anon(struct sa_sitemap *map, const char *tool,
			 const char *path, uint64_t bias, enum sa_isa isa,
			 class_fn cls)
{
	struct peer_func *v;
	size_t nf = peer_objdump_all(tool, "-j .text", path, &v), i, k;
	size_t ncond = 0;

	for (i = 0; i < nf; i++) {
		for (k = 0; k < v[i].n; k++) {
			struct peer_insn *pi = &v[i].insns[k];
			uint64_t a = pi->addr + bias;
			const struct sa_fmap *fm = sa_sitemap_function(map, a,
								       isa);
			const struct sa_site *s;
			enum sa_iclass want = cls(pi);

			ck_assert_msg(fm, "%s: no map at 0x%" PRIx64, path, a);
			s = sa_fmap_site(fm, a);
			if (want == SA_IC_OTHER) {
				ck_assert_msg(!s, "%s 0x%" PRIx64 ": site %s, "
					      "objdump %s %s", path, a,
					      s ? s->text : "", pi->mnem,
					      pi->ops);
				continue;
			}
			ck_assert_msg(s && s->iclass == want, "%s 0x%" PRIx64
				      ": objdump %s %s wants class %d, we "
				      "have %d", path, a, pi->mnem, pi->ops,
				      want, s ? s->iclass : -1);
			if (pi->has_target && want != SA_IC_IND_JUMP &&
			    want != SA_IC_IND_CALL)
				ck_assert_uint_eq(s->target, pi->target + bias);
			ncond += want == SA_IC_COND;
		}
	}
	peer_funcs_free(v, nf);
	return ncond;
}

START_TEST(t_etm_test_loop)
{
	const char *p = sa_test_shared(CS "simpleperf/etm_test_loop");
	struct sa_image *img;
	struct sa_sitemap *map;
	const struct sa_dso *d;
	char cmd[4400], *out, hex[41];

	ck_assert(p);
	img = load_at(p, UINT64_MAX, 0, "aarch64");
	ck_assert_int_eq(sa_image_arch(img), SA_ARCH_AARCH64);
	d = sa_image_dso_at(img, 0);
	/* an md5/uuid build-id: 16 bytes */
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | sed -n 's/.*Build ID: "
		 "//p'", p);
	out = peer_run(cmd);
	out[strcspn(out, "\n")] = '\0';
	ck_assert_uint_eq(d->build_id_len, strlen(out) / 2);
	ck_assert_str_eq(sa_build_id_str(d->build_id, d->build_id_len, hex,
					 sizeof(hex)), out);
	free(out);
	map = sa_sitemap__new(img);
	/* stripped: the loop's tbnz and its b's are found without symbols */
	ck_assert_uint_ge(check_anon(map, A64_OBJDUMP, p, 0, SA_ISA_A64,
				     a64_class), 1);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

START_TEST(t_fib)
{
	const char *p = sa_test_shared(CS "ricseclab/fib/fib");
	const uint64_t base = 0xaaaadd370000ULL;	/* trace1/decoderargs */
	struct sa_image *img;
	struct sa_sitemap *map;
	const struct sa_sym *s;
	size_t nf, ncond;
	char cmd[4400], *out;
	uint64_t main_addr;

	ck_assert(p);
	img = load_at(p, base, 0x1000, "aarch64");
	snprintf(cmd, sizeof(cmd), "nm '%s' | sed -n 's/ T main$//p'", p);
	out = peer_run(cmd);
	main_addr = strtoull(out, NULL, 16);
	free(out);
	s = sa_image_symbolize(img, base + main_addr);
	ck_assert(s && !strcmp(s->name, "main") &&
		  s->start == base + main_addr);
	ck_assert_uint_eq(sa_image_dso_at(img, 0)->bias, base);
	map = sa_sitemap__new(img);
	ncond = check_all(map, A64_OBJDUMP, p, base, SA_ISA_UNKNOWN, a64_class,
			  &nf);
	ck_assert_uint_gt(nf, 5);
	ck_assert_uint_gt(ncond, 3);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

START_TEST(t_fib_libc)
{
	const char *p = sa_test_shared(CS "ricseclab/fib/libc-2.31.so");
	const uint64_t base = 0xffff9d2fd000ULL;	/* trace1/decoderargs */
	struct sa_image *img;
	struct sa_sitemap *map;
	size_t nf, ncond;

	ck_assert(p);
	img = load_at(p, base, 0x173000, "aarch64");
	ck_assert_uint_eq(sa_image_dso_at(img, 0)->bias, base);
	map = sa_sitemap__new(img);
	ncond = check_all(map, A64_OBJDUMP, p, base, SA_ISA_A64, a64_class,
			  &nf);
	ck_assert_uint_gt(nf, 1000);
	ck_assert_uint_gt(ncond, 10000);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

START_TEST(t_hase)
{
	const char *names[] = { HASE "loopy/loopy",
				HASE "control_flow/control_flow" };

	for (int i = 0; i < 2; i++) {
		const char *p = sa_test_shared(names[i]);
		struct sa_image *img;
		struct sa_sitemap *map;
		size_t nf, ncond;

		ck_assert(p);
		img = load_at(p, UINT64_MAX, 0, "x86-64");
		map = sa_sitemap__new(img);
		ncond = check_all(map, "objdump", p, 0, SA_ISA_X86_64,
				  x86_class, &nf);
		ck_assert_uint_gt(nf, 2);
		ck_assert_uint_gt(ncond, 1);
		sa_sitemap__free(map);
		sa_image__free(img);
	}
}
END_TEST

/*
 * perf's own view of the hase traces: for every instruction perf decodes
 * (--itrace=i0nse), our symbol is perf's and our instruction length is
 * perf's.  The binaries are mapped as the MMAP2 records say, found
 * through a symfs of symlinks, as perf finds them.
 */
static void check_perf_symbols(const char *perfdata, const char *binary)
{
	char symfs[4400], cmd[16000], *out, *line, *nl, *lb, *p;
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_sitemap *map;
	struct sa_errinfo ei;
	uint64_t start, len, pgoff;
	char path[1024];
	size_t n = 0;

	/* the r-xp MMAP2 of the binary */
	snprintf(cmd, sizeof(cmd), "perf script -i '%s' --show-mmap-events "
		 "2>/dev/null | grep 'MMAP2.*r-xp /' | head -1", perfdata);
	out = peer_run(cmd);
	lb = strstr(out, ": [0x");
	ck_assert_msg(lb, "perf shows no MMAP2 in %s", perfdata);
	lb += 2;
	ck_assert(sscanf(lb, "[0x%" SCNx64 "(0x%" SCNx64 ") @ 0x%" SCNx64,
			 &start, &len, &pgoff) == 3 ||
		  sscanf(lb, "[0x%" SCNx64 "(0x%" SCNx64 ") @ %" SCNu64,
			 &start, &len, &pgoff) == 3);
	p = strstr(lb, "r-xp ");
	ck_assert(p);
	snprintf(path, sizeof(path), "%s", p + 5);
	path[strcspn(path, "\n")] = '\0';
	free(out);

	snprintf(symfs, sizeof(symfs), "%s/symfs", sa_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s%s')\" && "
		 "ln -sf '%s' '%s%s'", symfs, path, binary, symfs, path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(sa_image_set_symfs(img, symfs), 0);
	ck_assert_msg(sa_image_add_elf(img, path, start, len, pgoff, NULL, 0,
				       &ei) == 0, "%s", ei.msg);
	map = sa_sitemap__new(img);

	snprintf(cmd, sizeof(cmd), "perf script -i '%s' --symfs '%s' "
		 "--itrace=i0nse -F ip,sym,insnlen 2>/dev/null", perfdata,
		 symfs);
	out = peer_run(cmd);
	for (line = out; line && *line; line = nl) {
		char sym[256];
		uint64_t ip;
		unsigned int ilen;
		const struct sa_sym *s;
		struct sa_site site;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		if (sscanf(line, " %" SCNx64 " %255s ilen: %u", &ip, sym,
			   &ilen) != 3)
			continue;
		s = sa_image_symbolize(img, ip);
		if (!strcmp(sym, "[unknown]"))
			ck_assert_msg(!s, "0x%" PRIx64 ": perf has no symbol, "
				      "we say %s", ip, s->name);
		else
			ck_assert_msg(s && !strcmp(s->name, sym), "0x%" PRIx64
				      ": perf says %s, we say %s", ip, sym,
				      s ? s->name : "nothing");
		ck_assert_int_eq(sa_sitemap_decode_one(map, ip, SA_ISA_X86_64,
						       &site), (int)ilen);
		n++;
	}
	free(out);
	/* README: 57 and 1092 instructions */
	ck_assert_uint_ge(n, 57);
	sa_sitemap__free(map);
	sa_image__free(img);
}

START_TEST(t_hase_perf)
{
	char pd[4200];

	snprintf(pd, sizeof(pd), "%s", sa_test_shared(HASE "loopy/loopy-"
		 "20180404T162955.perf"));
	check_perf_symbols(pd, sa_test_shared(HASE "loopy/loopy"));
}
END_TEST

START_TEST(t_hase_perf_cf)
{
	char pd[4200];

	snprintf(pd, sizeof(pd), "%s", sa_test_shared(HASE "control_flow/"
		 "control_flow-20180404T163033.perf"));
	check_perf_symbols(pd, sa_test_shared(HASE "control_flow/"
					      "control_flow"));
}
END_TEST

static Suite *traces_suite(void)
{
	Suite *s = suite_create("image-traces");
	TCase *tc = tcase_create("image-traces");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_hase);
	if (peer_have("perf")) {
		tcase_add_test(tc, t_hase_perf);
		tcase_add_test(tc, t_hase_perf_cf);
	} else {
		fprintf(stderr, "note: perf not installed (Debian package "
			"linux-perf): perf symbol checks not run\n");
	}
	if (peer_have(A64_OBJDUMP)) {
		tcase_add_test(tc, t_etm_test_loop);
		tcase_add_test(tc, t_fib);
		tcase_add_test(tc, t_fib_libc);
	} else {
		fprintf(stderr, "note: %s not installed (Debian package "
			"binutils-aarch64-linux-gnu): aarch64 checks not run\n",
			A64_OBJDUMP);
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	sa_test_require_shared("traces/intel-pt/hase/loopy/loopy");
	sa_test_require_shared(CS "ricseclab/fib/fib");
	sa_test_require_shared(CS "simpleperf/etm_test_loop");
	return sa_test_run(traces_suite());
}
