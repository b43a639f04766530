// SPDX-License-Identifier: BSD-2-Clause
/*
 * The names of the image, against objdump and c++filt run at test time:
 *
 * - PLT stubs of .plt, .plt.sec (IBT) and .plt.got are "SYMBOL@plt" at
 *   the address objdump -d labels them, and nowhere else: x86-64 lazy
 *   and IBT layouts of g++ builds, Debian's /usr/bin/ls, and AArch64
 *   layouts (plain and BTI) linked by the cross ld;
 * - C++ and Rust names (legacy and v0) are demangled as objdump -d -C
 *   labels them and as c++filt -i prints them, the linkage name kept.
 *
 * Usage: test_image_names NAMES_LAZY NAMES_IBT [A64 A64_BTI]
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/image.h"

#include "testutil.h"
#include "peer.h"

#define BASE 0x555555554000ULL
#define MAX_LABELS 8192

static const char *progs[4];
static size_t nr_progs;

struct label {
	uint64_t addr;
	char *name;
};

/* The "ADDR <NAME>:" labels of @objdump -d @opts on @path. */
static size_t labels(const char *objdump, const char *opts, const char *path,
		     struct label *out, char **buf)
{
	char cmd[4400], *line, *next;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "%s -d %s '%s'", objdump, opts, path);
	*buf = peer_run(cmd);
	for (line = *buf; line && *line && n < MAX_LABELS; line = next) {
		char *lt, *end;
		size_t len;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		len = strlen(line);
		lt = strstr(line, " <");
		if (!lt || len < 3 || strcmp(line + len - 2, ">:"))
			continue;
		out[n].addr = strtoull(line, &end, 16);
		if (end != lt)
			continue;
		line[len - 2] = '\0';
		out[n++].name = lt + 2;
	}
	return n;
}

static bool is_plt(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, "@plt");
}

/* [lo, hi) of the PLT sections of @path, from objdump -h. */
static size_t plt_ranges(const char *objdump, const char *path,
			 uint64_t lo[3], uint64_t hi[3])
{
	char cmd[4400], *out, *line;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "%s -h '%s'", objdump, path);
	out = peer_run(cmd);
	for (line = out; line && n < 3; line = strchr(line, '\n')) {
		char name[64];
		unsigned long long size, vma;

		line += *line == '\n';
		if (sscanf(line, " %*d %63s %llx %llx", name, &size,
			   &vma) == 3 && (!strcmp(name, ".plt") ||
					  !strcmp(name, ".plt.sec") ||
					  !strcmp(name, ".plt.got"))) {
			lo[n] = vma;
			hi[n++] = vma + size;
		}
	}
	free(out);
	return n;
}

/* Every PLT label of objdump is our symbol there, and every byte of the
 * PLT sections we name "@plt" lies in a stub objdump labels.
 */
static void check_plt(const char *objdump, const char *path,
		      enum sa_arch arch, size_t min)
{
	static struct label l[MAX_LABELS];
	struct sa_image *img = sa_image__new(arch);
	struct sa_errinfo ei;
	uint64_t lo[3], hi[3], a;
	size_t n, i, k, nr_plt = 0, ours = 0, nr_sec;
	const struct sa_sym *last = NULL;
	char *buf;

	ck_assert_ptr_nonnull(img);
	ck_assert_msg(sa_image_load_elf(img, path, BASE, &ei) == 0, "%s",
		      ei.msg);
	n = labels(objdump, "", path, l, &buf);
	for (i = 0; i < n; i++) {
		const struct sa_sym *s;

		if (!is_plt(l[i].name))
			continue;
		nr_plt++;
		s = sa_image_symbolize(img, BASE + l[i].addr);
		ck_assert_msg(s && s->start == BASE + l[i].addr &&
			      !strcmp(s->name, l[i].name),
			      "%s: objdump names %#" PRIx64 " %s, we %s", path,
			      l[i].addr, l[i].name, s ? s->name : "nothing");
	}
	nr_sec = plt_ranges(objdump, path, lo, hi);
	ck_assert_msg(nr_sec > 0, "%s: no PLT section", path);
	for (k = 0; k < nr_sec; k++) {
		for (a = lo[k]; a < hi[k]; a++) {
			const struct sa_sym *s =
				sa_image_symbolize(img, BASE + a);

			if (!s || !is_plt(s->name) || s == last)
				continue;
			last = s;
			ours++;
			for (i = 0; i < n; i++)
				if (BASE + l[i].addr == s->start &&
				    !strcmp(l[i].name, s->name))
					break;
			ck_assert_msg(i < n, "%s: %s at %#" PRIx64 " is no "
				      "objdump label", path, s->name,
				      (uint64_t)(s->start - BASE));
		}
	}
	printf("%s: %zu PLT stubs, as objdump\n", path, ours);
	ck_assert_uint_eq(ours, nr_plt);
	ck_assert_uint_ge(nr_plt, min);
	free(buf);
	sa_image__free(img);
}

/* Every label of objdump -d -C that differs from objdump -d's is our
 * demangled name of the symbol with objdump -d's name there.
 */
static size_t check_demangled(const char *objdump, const char *path,
			      enum sa_arch arch)
{
	static struct label m[MAX_LABELS], d[MAX_LABELS];
	struct sa_image *img = sa_image__new(arch);
	struct sa_errinfo ei;
	size_t n, nd, i, checked = 0;
	char *b1, *b2;

	ck_assert_msg(sa_image_load_elf(img, path, BASE, &ei) == 0, "%s",
		      ei.msg);
	n = labels(objdump, "", path, m, &b1);
	nd = labels(objdump, "-C", path, d, &b2);
	ck_assert_uint_eq(n, nd);
	for (i = 0; i < n; i++) {
		const struct sa_sym *s = sa_image_symbolize(img,
							    BASE + m[i].addr);
		const char *dm = sa_sym_demangled(s);

		ck_assert(m[i].addr == d[i].addr);
		/* objdump picks its own among aliases (C1/C2) */
		if (!s || s->start != BASE + m[i].addr ||
		    strcmp(s->name, m[i].name))
			continue;
		if (!strcmp(m[i].name, d[i].name)) {
			ck_assert_msg(!dm, "%s: %s demangled to %s", path,
				      s->name, dm);
			continue;
		}
		ck_assert_msg(dm && !strcmp(dm, d[i].name),
			      "%s: objdump -C says '%s' for %s, we '%s'", path,
			      d[i].name, s->name,
			      dm ? dm : "(none)");
		checked++;
	}
	free(b1);
	free(b2);
	sa_image__free(img);
	return checked;
}

START_TEST(t_plt_x86)
{
	check_plt("objdump", progs[0], SA_ARCH_X86_64, 8);	/* lazy */
	check_plt("objdump", progs[1], SA_ARCH_X86_64, 8);	/* IBT */
}
END_TEST

START_TEST(t_plt_system)
{
	if (access("/usr/bin/ls", R_OK))
		return;
	check_plt("objdump", "/usr/bin/ls", SA_ARCH_X86_64, 20);
}
END_TEST

START_TEST(t_plt_aarch64)
{
	if (nr_progs < 4 || !peer_have("aarch64-linux-gnu-objdump"))
		return;
	check_plt("aarch64-linux-gnu-objdump", progs[2], SA_ARCH_AARCH64, 3);
	check_plt("aarch64-linux-gnu-objdump", progs[3], SA_ARCH_AARCH64, 3);
	ck_assert_uint_ge(check_demangled("aarch64-linux-gnu-objdump",
					  progs[3], SA_ARCH_AARCH64), 1);
}
END_TEST

START_TEST(t_demangle)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		size_t n = check_demangled("objdump", progs[i],
					   SA_ARCH_X86_64);

		printf("%s: %zu names demangled as objdump -C\n", progs[i], n);
		ck_assert_uint_ge(n, 20);
	}
}
END_TEST

/* Rust (legacy and v0) and C++ names, against c++filt -i. */
START_TEST(t_cxxfilt)
{
	static const char *const names[] = {
		"_ZN4core3fmt5write17h0123456789abcdefE",
		"_ZN3std2io5stdio6_print17h1a2b3c4d5e6f7a8bE",
		"_RNvNtCs1234_7mycrate3foo3bar",
		"_RINvCs1234_7mycrate4openNtNtCs5678_3std4path4PathEB2_",
		"_ZL9check_keyPKc",
		"_ZNK5outer5inner3BoxIiEltERKS2_",
		"_ZNK5outer5inner3BoxINSt7__cxx1112basic_stringIcSt11char_"
		"traitsIcESaIcEEEE3getEv",
		"_ZN5outer7DerivedD0Ev",
		"_ZNK5outer7Derived1fEi",
		"_ZL10overloadedd",
	};
	struct sa_image *img = sa_image__new(SA_ARCH_X86_64);
	struct sa_errinfo ei;
	size_t i;

	ck_assert_msg(sa_image_load_elf(img, progs[0], BASE, &ei) == 0, "%s",
		      ei.msg);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct sa_sym *s = sa_image_find_symbol(img, names[i]);
		const char *dm = sa_sym_demangled(s);
		char cmd[512], *want;

		ck_assert_msg(s, "no symbol %s", names[i]);
		snprintf(cmd, sizeof(cmd), "c++filt -i '%s'", names[i]);
		want = peer_run(cmd);
		want[strcspn(want, "\n")] = '\0';
		ck_assert_msg(dm && !strcmp(dm, want),
			      "c++filt -i %s: '%s', we '%s'", names[i], want,
			      dm ? dm : "(none)");
		ck_assert_str_eq(s->name, names[i]);
		free(want);
	}
	/* not mangled: no demangled name */
	ck_assert_ptr_null(sa_sym_demangled(sa_image_find_symbol(img, "main")));
	ck_assert_ptr_null(sa_sym_demangled(sa_image_find_symbol(img,
						      "strlen@plt")));
	ck_assert_str_eq(sa_sym_demangled(sa_image_find_symbol(img,
							       "_Znwm@plt")),
			 "operator new(unsigned long)@plt");
	sa_image__free(img);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("image-names");
	TCase *tc = tcase_create("names");
	int i;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: %s NAMES_LAZY NAMES_IBT [A64 A64_BTI]"
			"\n", argv[0]);
		return 2;
	}
	if (!peer_have("objdump") || !peer_have("c++filt")) {
		fprintf(stderr, "SKIP: objdump and c++filt (binutils) are the "
			"peers\n");
		return SA_TEST_SKIP;
	}
	for (i = 1; i < argc; i++)
		progs[nr_progs++] = argv[i];
	tcase_add_test(tc, t_plt_x86);
	tcase_add_test(tc, t_plt_system);
	tcase_add_test(tc, t_plt_aarch64);
	tcase_add_test(tc, t_demangle);
	tcase_add_test(tc, t_cxxfilt);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
