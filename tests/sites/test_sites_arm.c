// SPDX-License-Identifier: BSD-2-Clause
/*
 * The sites suite, A32 and T32: arm.s is assembled and linked at test
 * time with the arm-linux-gnueabihf binutils and the site maps of its
 * A32 and T32 functions are compared with that objdump.  Skips (77) when
 * the cross binutils are not installed.
 */
#include "sensor/image.h"
#include "sensor/sites.h"
#include "testutil.h"
#include "classes.h"

#define ARM_PFX "arm-linux-gnueabihf-"

static const char *arm_src;
static char arm_elf[4200];

START_TEST(t_arm_thumb)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_sitemap *map;
	struct sa_errinfo ei;
	const struct sa_fmap *fm;
	const struct sa_site *s;
	size_t ncond;

	ck_assert_msg(sa_image_load_elf(img, arm_elf, UINT64_MAX, &ei) == 0,
		      "%s", ei.msg);
	ck_assert_int_eq(sa_image_arch(img), SA_ARCH_ARM);
	map = sa_sitemap__new(img);
	ncond = check_func(map, ARM_PFX "objdump", arm_elf, "a32_func", 0,
			   SA_ISA_UNKNOWN, arm_class);
	ck_assert_uint_eq(ncond, 2);
	fm = sa_sitemap_function(map, sa_image_find_symbol(img,
				 "a32_func")->start, SA_ISA_UNKNOWN);
	ck_assert_int_eq(fm->isa, SA_ISA_A32);
	/* the Thumb bit of st_value selects T32 and is not in the address */
	ncond = check_func(map, ARM_PFX "objdump", arm_elf, "t32_func", 0,
			   SA_ISA_UNKNOWN, arm_class);
	ck_assert_uint_eq(ncond, 7);
	fm = sa_sitemap_function(map, sa_image_find_symbol(img,
				 "t32_func")->start, SA_ISA_UNKNOWN);
	ck_assert_int_eq(fm->isa, SA_ISA_T32);
	ck_assert_uint_eq(fm->start & 1, 0);
	/* inside an IT block, a B without condition in its encoding */
	s = sa_fmap_site(fm, fm->start + 0x0a);
	ck_assert(s && s->iclass == SA_IC_COND && s->size == 2);
	/* the same bytes asked for as A32 make another map */
	ck_assert_ptr_ne(sa_sitemap_function(map, fm->start, SA_ISA_A32), fm);
	ck_assert_ptr_eq(sa_sitemap_function(map, fm->start, SA_ISA_T32), fm);
	sa_sitemap__free(map);
	sa_image__free(img);
}
END_TEST

int main(int argc, char **argv)
{
	char cmd[20000];
	Suite *s;
	TCase *tc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s arm.s\n", argv[0]);
		return 1;
	}
	arm_src = argv[1];
	if (!peer_have(ARM_PFX "as") || !peer_have(ARM_PFX "ld") ||
	    !peer_have(ARM_PFX "objdump")) {
		fprintf(stderr, "SKIP: " ARM_PFX "as/ld/objdump not installed "
			"(Debian package binutils-arm-linux-gnueabihf)\n");
		return SA_TEST_SKIP;
	}
	snprintf(arm_elf, sizeof(arm_elf), "%s/arm.elf", sa_test_tmpdir());
	snprintf(cmd, sizeof(cmd), ARM_PFX "as -o '%s.o' '%s' && " ARM_PFX
		 "ld -Ttext=0x8000 -e a32_func -o '%s' '%s.o'", arm_elf,
		 arm_src, arm_elf, arm_elf);
	if (system(cmd) != 0) {
		fprintf(stderr, "cannot build %s from %s\n", arm_elf, arm_src);
		return 1;
	}
	s = suite_create("sites-arm");
	tc = tcase_create("sites-arm");
	tcase_add_test(tc, t_arm_thumb);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
