// SPDX-License-Identifier: BSD-2-Clause
/*
 * The sites suite (x86-64): site maps of the test programs and of glibc's
 * AVX-512 functions (static build) against objdump, file:line against
 * addr2line, lookups and anonymous regions.
 */
#include <errno.h>

#include "sensor/image.h"
#include "sensor/sites.h"
#include "testutil.h"
#include "classes.h"

static const char *prog_pie, *prog_nopie, *prog_static, *x86_32_src;

static struct sa_image *load(const char *path, uint64_t base)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;

	ck_assert(img);
	ck_assert_msg(sa_image_load_elf(img, path, base, &ei) == 0, "%s",
		      ei.msg);
	return img;
}

static const char *const funcs[] = { "classify", "sum_loop", "dispatch",
				     "main", "avx512_branches", NULL };

START_TEST(t_prog_nopie)
{
	struct sa_image *img = load(prog_nopie, UINT64_MAX);
	struct sa_sitemap *map = sa_sitemap__new(img);
	size_t ncond = 0;

	for (int i = 0; funcs[i]; i++)
		ncond += check_func(map, "objdump", prog_nopie, funcs[i], 0,
				    SA_ISA_UNKNOWN, x86_class);
	ck_assert_uint_gt(ncond, 10);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

START_TEST(t_prog_pie)
{
	const uint64_t base = 0x7f1234560000ULL;
	struct sa_image *img = load(prog_pie, base);
	struct sa_sitemap *map = sa_sitemap__new(img);

	for (int i = 0; funcs[i]; i++)
		check_func(map, "objdump", prog_pie, funcs[i], base,
			   SA_ISA_X86_64, x86_class);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

/* The AVX-512 function: capstone fails on most of it; every jcc found. */
START_TEST(t_avx512)
{
	struct sa_image *img = load(prog_nopie, UINT64_MAX);
	struct sa_sitemap *map = sa_sitemap__new(img);
	const struct sa_sym *sym = sa_image_find_symbol(img,
							"avx512_branches");
	const struct sa_fmap *fm;
	size_t i, ncond = 0;

	ck_assert(sym);
	ck_assert_uint_eq(check_func(map, "objdump", prog_nopie,
				     "avx512_branches", 0, SA_ISA_X86_64,
				     x86_class), 7);
	fm = sa_sitemap_function(map, sym->start, SA_ISA_X86_64);
	ck_assert(fm && fm->nr_undecodable > 0);
	for (i = 0; i < fm->nr_sites; i++) {
		ck_assert(fm->sites[i].iclass != SA_IC_UNKNOWN);
		ncond += fm->sites[i].iclass == SA_IC_COND;
	}
	ck_assert_uint_eq(ncond, 7);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

/* glibc's own AVX-512 string functions in the static program. */
START_TEST(t_glibc_evex)
{
	struct sa_image *img = load(prog_static, UINT64_MAX);
	struct sa_sitemap *map = sa_sitemap__new(img);
	char cmd[700], *out, *line, *nl;
	size_t nfunc = 0, ncond = 0, undec = 0;

	/* the names objdump uses (one per address) */
	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn '%s' | "
		 "grep -E '^[0-9a-f]+ <__[a-z]+_(evex|avx512)[a-z_0-9]*>:$' | "
		 "tr -d '<>:' | head -40", prog_static);
	out = peer_run(cmd);
	for (line = out; line && *line; line = nl) {
		const struct sa_fmap *fm;
		char *name;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		name = strrchr(line, ' ');
		ck_assert(name);
		name++;
		ncond += check_func(map, "objdump", prog_static, name, 0,
				    SA_ISA_X86_64, x86_class);
		fm = sa_sitemap_function(map, strtoull(line, NULL, 16),
					 SA_ISA_X86_64);
		undec += fm->nr_undecodable;
		nfunc++;
	}
	free(out);
	if (nfunc == 0) {
		/* a glibc without AVX-512 variants: nothing to compare */
		sa_sitemap__free(map);
		sa_image__free(img);
		return;
	}
	ck_assert_uint_gt(ncond, nfunc);
	ck_assert_uint_gt(undec, 0);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

START_TEST(t_srclines)
{
	struct sa_image *img = load(prog_nopie, UINT64_MAX);
	struct sa_sitemap *map = sa_sitemap__new(img);
	const struct sa_sym *sym = sa_image_find_symbol(img, "dispatch");
	const struct sa_fmap *fm = sa_sitemap_function(map, sym->start, 0);
	char cmd[8192], *out, *line, *nl;
	size_t i, o, checked = 0;

	ck_assert(fm && fm->nr_sites > 2);
	o = snprintf(cmd, sizeof(cmd), "addr2line -e '%s'", prog_nopie);
	for (i = 0; i < fm->nr_sites && o < sizeof(cmd) - 20; i++)
		o += snprintf(cmd + o, sizeof(cmd) - o, " %" PRIx64,
			      fm->sites[i].addr);
	out = peer_run(cmd);
	for (i = 0, line = out; line && *line && i < fm->nr_sites;
	     i++, line = nl) {
		const struct sa_site *s = &fm->sites[i];
		char want[600];

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		if (strstr(line, " (discriminator"))
			*strstr(line, " (discriminator") = '\0';
		if (!strncmp(line, "??", 2)) {
			ck_assert(!s->file);
			continue;
		}
		ck_assert(s->file);
		snprintf(want, sizeof(want), "%s:%d", s->file, s->line);
		ck_assert_str_eq(want, line);
		checked++;
	}
	ck_assert_uint_gt(checked, 2);
	free(out);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

START_TEST(t_lookup)
{
	struct sa_image *img = load(prog_nopie, UINT64_MAX);
	struct sa_sitemap *map = sa_sitemap__new(img);
	const struct sa_sym *sym = sa_image_find_symbol(img, "sum_loop");
	const struct sa_fmap *fm, *fm2;
	struct sa_site one;
	size_t i;

	fm = sa_sitemap_function(map, sym->start, SA_ISA_UNKNOWN);
	ck_assert(fm && fm->isa == SA_ISA_X86_64);
	ck_assert_uint_eq(fm->end, sym->start + sym->size);
	fm2 = sa_sitemap_function(map, sym->start + sym->size - 1,
				  SA_ISA_X86_64);
	ck_assert_ptr_eq(fm, fm2);
	/* another function and back: still the same cached maps */
	fm2 = sa_sitemap_function(map, sa_image_find_symbol(img, "main")->start,
				  SA_ISA_X86_64);
	ck_assert(fm2 && fm2 != fm);
	ck_assert_ptr_eq(sa_sitemap_function(map, sym->start + 1,
					     SA_ISA_X86_64), fm);
	ck_assert_uint_eq(sa_fmap_lower_bound(fm, 0), 0);
	ck_assert_uint_eq(sa_fmap_lower_bound(fm, UINT64_MAX), fm->nr_sites);
	for (i = 0; i < fm->nr_sites; i++) {
		const struct sa_site *s = &fm->sites[i];

		ck_assert_ptr_eq(sa_fmap_site(fm, s->addr), s);
		ck_assert_uint_eq(sa_fmap_lower_bound(fm, s->addr), i);
		ck_assert_ptr_null(sa_fmap_site(fm, s->addr + 1));
		ck_assert_int_eq(sa_sitemap_decode_one(map, s->addr,
						       SA_ISA_X86_64, &one),
				 s->size);
		ck_assert_int_eq(one.iclass, s->iclass);
		ck_assert_str_eq(one.text, s->text);
		ck_assert_uint_eq(one.target, s->target);
	}
	errno = 0;
	ck_assert_ptr_null(sa_sitemap_function(map, 0x10, SA_ISA_X86_64));
	ck_assert_int_ne(errno, 0);
	ck_assert_int_eq(sa_sitemap_decode_one(map, 0x10, SA_ISA_X86_64,
					       &one), -SA_ERR_NOMAP);
	sa_sitemap__free(map);
	sa_image__free(img);
	sa_sitemap__free(NULL);
}
END_TEST

/* Code without symbols: an anonymous region from the address given. */
START_TEST(t_anonymous)
{
	/* 0: cmp $1,%edi; 3: je +4; 5: call *%rax; 7: nop x2; 9: nop;
	 * a: nop; b: ret;  jrcxz back to 0 at c
	 */
	static const uint8_t code[] = {
		0x83, 0xff, 0x01,	/* cmp $1, %edi */
		0x74, 0x04,		/* je 0x1009 */
		0xff, 0xd0,		/* call *%rax */
		0x90, 0x90,		/* nop; nop */
		0xc3,			/* ret */
		0xe3, 0xf4,		/* jrcxz 0x1000 */
		0x0f, 0x05,		/* syscall */
	};
	struct sa_image *img = sa_image__new(SA_ARCH_X86_64);
	struct sa_sitemap *map = sa_sitemap__new(img);
	const struct sa_fmap *fm, *fm2;
	const struct sa_site *s;

	ck_assert_int_eq(sa_image_add_buffer(img, code, sizeof(code), 0x1000),
			 0);
	fm = sa_sitemap_function(map, 0x1000, SA_ISA_UNKNOWN);
	ck_assert(fm && !fm->sym && fm->start == 0x1000 &&
		  fm->end == 0x1000 + sizeof(code));
	ck_assert_uint_eq(fm->nr_sites, 5);
	s = sa_fmap_site(fm, 0x1003);
	ck_assert(s && s->iclass == SA_IC_COND && s->target == 0x1009 &&
		  s->fallthrough == 0x1005 && !strcmp(s->text, "je 0x1009"));
	ck_assert_int_eq(sa_fmap_site(fm, 0x1005)->iclass, SA_IC_IND_CALL);
	ck_assert_int_eq(sa_fmap_site(fm, 0x1009)->iclass, SA_IC_RET);
	s = sa_fmap_site(fm, 0x100a);
	ck_assert(s && s->iclass == SA_IC_COND && s->target == 0x1000);
	ck_assert_int_eq(sa_fmap_site(fm, 0x100c)->iclass, SA_IC_SYSCALL);
	/* an instruction start inside: the same region */
	ck_assert_ptr_eq(sa_sitemap_function(map, 0x1007, 0), fm);
	/* not an instruction start of it (inside je): a region of its own */
	fm2 = sa_sitemap_function(map, 0x1004, SA_ISA_X86_64);
	ck_assert(fm2 && fm2 != fm && fm2->start == 0x1004);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

/* Bytes capstone cannot decode and that are not VEX/EVEX: an UNKNOWN
 * site, then the sweep resumes at the next known branch target.
 */
START_TEST(t_resync)
{
	static const uint8_t code[] = {
		0x85, 0xc0,		/* 0: test %eax, %eax */
		0x74, 0x03,		/* 2: je 0x7 */
		0x0f, 0x0b,		/* 4: ud2 */
		0x06,			/* 6: push %es (not in 64-bit) */
		0x31, 0xc0,		/* 7: xor %eax, %eax */
		0x75, 0xf5,		/* 9: jne 0x0 */
		0xc3,			/* b: ret */
	};
	struct sa_image *img = sa_image__new(SA_ARCH_X86_64);
	struct sa_sitemap *map = sa_sitemap__new(img);
	const struct sa_fmap *fm;

	ck_assert_int_eq(sa_image_add_buffer(img, code, sizeof(code), 0x2000),
			 0);
	fm = sa_sitemap_function(map, 0x2000, SA_ISA_X86_64);
	ck_assert(fm);
	ck_assert_int_eq(sa_fmap_site(fm, 0x2006)->iclass, SA_IC_UNKNOWN);
	ck_assert_int_eq(sa_fmap_site(fm, 0x2009)->iclass, SA_IC_COND);
	ck_assert_int_eq(sa_fmap_site(fm, 0x200b)->iclass, SA_IC_RET);
	ck_assert_uint_eq(fm->nr_undecodable, 1);
	ck_assert_uint_eq(fm->nr_insns, 6);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

/* i386 code, assembled and linked at test time (VEX, EVEX, LES/LDS). */
START_TEST(t_i386)
{
	char elf[4200], cmd[9000];
	struct sa_image *img;
	struct sa_sitemap *map;

	snprintf(elf, sizeof(elf), "%s/i386.elf", sa_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "as --32 -o '%s.o' '%s' && ld -m elf_i386 "
		 "-e i386_func -o '%s' '%s.o'", elf, x86_32_src, elf, elf);
	ck_assert_int_eq(system(cmd), 0);
	img = load(elf, UINT64_MAX);
	ck_assert_int_eq(sa_image_arch(img), SA_ARCH_X86);
	map = sa_sitemap__new(img);
	ck_assert_uint_eq(check_func(map, "objdump", elf, "i386_func", 0,
				     SA_ISA_UNKNOWN, x86_class), 4);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

/*
 * Code without symbols, longer than an anonymous region's cap: the
 * regions are walked the way the history builder walks a range that runs
 * on (each one made from the previous one's end) and compared with
 * objdump's linear sweep of the same bytes: every region ends on one of
 * objdump's instruction boundaries, and holds exactly objdump's branch
 * sites over its bytes, with the same classes and targets (no phantom,
 * none swallowed).  A region where capstone met an instruction it cannot
 * decode (CET's rdssp, in glibc) resynchronises at a branch target, not
 * linearly: such regions are counted in *@blind and not compared.
 * Returns the number of COND sites compared.
 */
static size_t check_regions(struct sa_sitemap *map, const char *what,
			    const struct peer_insn *pi, size_t n,
			    size_t *blind)
{
	size_t i, j = 0, ncond = 0;
	uint64_t a = pi[0].addr, last = pi[n - 1].addr;

	*blind = 0;
	while (a <= last) {
		const struct sa_fmap *fm;
		size_t first, nsites = 0, k;
		bool clean = true;

		fm = sa_sitemap_function(map, a, SA_ISA_X86_64);
		ck_assert_msg(fm && fm->start == a && fm->end > a,
			      "%s: no region at 0x%" PRIx64, what, a);
		ck_assert_msg(!fm->sym, "%s: a symbol at 0x%" PRIx64, what, a);
		for (k = 0; k < fm->nr_sites; k++)
			if (fm->sites[k].iclass == SA_IC_UNKNOWN)
				clean = false;
		while (j < n && pi[j].addr < fm->start)
			j++;
		first = j;
		while (j < n && pi[j].addr < fm->end)
			j++;
		a = fm->end;
		if (!clean) {
			(*blind)++;
			continue;
		}
		ck_assert_msg(j == n || pi[j].addr == fm->end,
			      "%s: region 0x%" PRIx64 "-0x%" PRIx64 " ends "
			      "inside objdump's %s at 0x%" PRIx64, what,
			      fm->start, fm->end, pi[j - 1].mnem,
			      pi[j - 1].addr);
		for (i = first; i < j; i++) {
			enum sa_iclass want = x86_class(&pi[i]);
			const struct sa_site *s = sa_fmap_site(fm, pi[i].addr);
			uint64_t target = pi[i].has_target ? pi[i].target :
				strtoull(pi[i].ops, NULL, 16);

			if (want == SA_IC_OTHER) {
				ck_assert_msg(!s, "%s 0x%" PRIx64 ": site %s, "
					      "objdump: %s %s", what,
					      pi[i].addr, s ? s->text : "",
					      pi[i].mnem, pi[i].ops);
				continue;
			}
			nsites++;
			ck_assert_msg(s && s->iclass == want, "%s 0x%" PRIx64
				      ": objdump's %s %s: %s", what,
				      pi[i].addr, pi[i].mnem, pi[i].ops,
				      s ? s->text : "no site");
			if (want == SA_IC_COND) {
				ck_assert_msg(s->target == target, "%s 0x%"
					      PRIx64 ": target 0x%" PRIx64
					      ", objdump %s", what,
					      pi[i].addr, s->target,
					      pi[i].ops);
				ncond++;
			}
		}
		/* and nothing objdump does not have (a phantom); the last
		 * region may run on past the bytes objdump was given
		 */
		ck_assert_msg(sa_fmap_lower_bound(fm, last + 1) == nsites,
			      "%s: region 0x%" PRIx64 "-0x%" PRIx64 ": %zu "
			      "sites, objdump %zu", what, fm->start, fm->end,
			      sa_fmap_lower_bound(fm, last + 1), nsites);
	}
	return ncond;
}

/* 410 movabs of 10 bytes, then jne back to the start: the cap (4096)
 * falls in the last movabs, whose immediate's last bytes read, out of
 * step, as `jl .+2` and a movabs that swallows the jne.
 */
static size_t cap_code(uint8_t *code, size_t size)
{
	size_t i, k, n = 0;
	static const uint8_t imm[8] = { 0, 0, 0, 0, 0x7c, 0x00, 0x48, 0xb8 };
	int32_t rel;

	ck_assert_uint_ge(size, 4200);
	for (i = 0; i < 410; i++) {
		code[n++] = 0x48;
		code[n++] = 0xb8;
		for (k = 0; k < 8; k++)
			code[n++] = imm[k];
	}
	rel = -(int32_t)(n + 6);
	code[n++] = 0x0f;		/* jne 0x10000 */
	code[n++] = 0x85;
	memcpy(code + n, &rel, 4);
	n += 4;
	code[n++] = 0xc3;		/* ret */
	for (k = 0; k < 9; k++)
		code[n++] = 0x90;
	return n;
}

START_TEST(t_anon_cap)
{
	static uint8_t code[4200];
	size_t len = cap_code(code, sizeof(code));
	struct sa_image *img = sa_image__new(SA_ARCH_X86_64);
	struct sa_sitemap *map = sa_sitemap__new(img);
	const struct sa_fmap *fm;
	struct peer_func *v;
	char path[4200], args[200];
	size_t nf, blind;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cap.bin", sa_test_tmpdir());
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(code, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(sa_image_add_buffer(img, code, len, 0x10000), 0);
	fm = sa_sitemap_function(map, 0x10000, SA_ISA_X86_64);
	ck_assert(fm);
	/* the region ends after the movabs the cap falls in */
	ck_assert_uint_eq(fm->end, 0x10000 + 4100);
	ck_assert_uint_eq(fm->nr_insns, 410);
	ck_assert_uint_eq(fm->nr_sites, 0);
	snprintf(args, sizeof(args), "-D -b binary -m i386:x86-64 "
		 "--adjust-vma=0x10000");
	nf = peer_objdump_all("objdump", args, path, &v);
	ck_assert_uint_eq(nf, 1);
	ck_assert_uint_eq(v[0].n, 410 + 2 + 9);
	ck_assert_uint_eq(check_regions(map, "cap.bin", v[0].insns, v[0].n,
					&blind), 1);
	ck_assert_uint_eq(blind, 0);
	/* the one jne, where objdump has it */
	fm = sa_sitemap_function(map, 0x10000 + 4100, SA_ISA_X86_64);
	ck_assert(fm && sa_fmap_site(fm, 0x10000 + 4100) &&
		  sa_fmap_site(fm, 0x10000 + 4100)->iclass == SA_IC_COND);
	peer_funcs_free(v, nf);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

/* A stripped binary (the static test program, stripped at test time):
 * its whole .text in anonymous regions, against objdump -d.
 */
START_TEST(t_stripped)
{
	char path[4200], cmd[9000];
	struct sa_image *img;
	struct sa_sitemap *map;
	struct peer_func *v;
	size_t nf, i, ncond = 0, ntext = 0, blind, nblind = 0;

	snprintf(path, sizeof(path), "%s/static.stripped", sa_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "strip -o '%s' '%s'", path, prog_static);
	ck_assert_int_eq(system(cmd), 0);
	img = load(path, UINT64_MAX);
	map = sa_sitemap__new(img);
	nf = peer_objdump_all("objdump", "-j .text", path, &v);
	for (i = 0; i < nf; i++) {
		if (strcmp(v[i].name, ".text"))
			continue;
		ntext += v[i].n;
		ncond += check_regions(map, ".text of the stripped program",
				       v[i].insns, v[i].n, &blind);
		nblind += blind;
	}
	/* many regions, many branches: the caps fall everywhere; a few
	 * regions hold an instruction capstone 4 cannot decode
	 */
	ck_assert_uint_gt(ntext, 20000);
	ck_assert_uint_gt(ncond, 5000);
	ck_assert_uint_le(nblind, 12);
	peer_funcs_free(v, nf);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

static Suite *sites_suite(void)
{
	Suite *s = suite_create("sites");
	TCase *tc = tcase_create("sites");

	tcase_add_test(tc, t_prog_nopie);
	tcase_add_test(tc, t_prog_pie);
	tcase_add_test(tc, t_avx512);
	tcase_add_test(tc, t_glibc_evex);
	tcase_add_test(tc, t_srclines);
	tcase_add_test(tc, t_lookup);
	tcase_add_test(tc, t_anonymous);
	tcase_add_test(tc, t_resync);
	tcase_add_test(tc, t_anon_cap);
	tcase_add_test(tc, t_stripped);
	tcase_add_test(tc, t_i386);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s PIE NOPIE STATIC X86_32.s\n",
			argv[0]);
		return 1;
	}
	x86_32_src = argv[4];
	prog_pie = argv[1];
	prog_nopie = argv[2];
	prog_static = argv[3];
	return sa_test_run(sites_suite());
}
