// SPDX-License-Identifier: BSD-2-Clause
/*
 * A32, T32 and A64 classification on real code: OpenCSD's trc_pkt_lister
 * decodes the TC2 (PTM, T32), Snowball (PTM, A32), juno_r1_1 (ETMv4, A64
 * kernel) and bugfix-exact-match (ETMv4, A64 user) snapshots of
 * ../shared/traces at test time; for the last instruction of
 * every executed range it reports the size and the type (BR, iBR,
 * b+link, V7 implied return, or none).  The site map decodes the same
 * bytes of the snapshot's memory dump and must agree.  Skips (77)
 * without the snapshots or trc_pkt_lister.
 */
#include "sensor/image.h"
#include "sensor/sites.h"
#include "testutil.h"
#include "peer.h"

#include <stdio.h>

#define SNAP "traces/coresight/opencsd-snapshots/"

/*
 * @sub is what follows the type: "b+link", "V7:impl ret", "A64:ret",
 * "A64:eret", "<cond>" (ETMv4 marks conditional instructions; PTM does
 * not, there only a not-executed branch is known to be conditional).
 */
static bool class_ok(const char *type, const char *sub, enum sa_iclass ic,
		     bool executed, bool etmv4, const char *text)
{
	bool link = strstr(sub, "b+link") != NULL;
	bool ret = strstr(sub, "ret") && !strstr(sub, "eret");
	bool cond = strstr(sub, "<cond>") != NULL;
	bool far = !strncmp(text, "eret", 4) || !strncmp(text, "rfe", 3) ||
		   !strncmp(text, "movs pc", 7) || !strncmp(text, "subs pc", 7);

	if (!strcmp(type, "BR")) {
		if (link)
			return ic == SA_IC_CALL;
		if (cond)
			return ic == SA_IC_COND;
		if (etmv4)
			return ic == SA_IC_JUMP;
		if (!executed)
			return ic == SA_IC_COND;
		return ic == SA_IC_JUMP || ic == SA_IC_COND;
	}
	if (!strcmp(type, "iBR")) {
		if (link)
			return ic == SA_IC_IND_CALL;
		if (ret)
			return ic == SA_IC_RET;
		if (strstr(sub, "eret"))
			return ic == SA_IC_FAR;
		/* exception returns are FAR for us (eret, rfe, movs pc) */
		return ic == SA_IC_IND_JUMP || (ic == SA_IC_FAR && far);
	}
	/* OpenCSD traces the exception an svc takes, not the svc */
	if (ic == SA_IC_SYSCALL)
		return !strncmp(text, "svc", 3) || !strncmp(text, "hvc", 3) ||
		       !strncmp(text, "smc", 3);
	return ic == SA_IC_OTHER;
}

/* Maps every [dump*] of the snapshot's @cpu_ini, as OpenCSD does. */
static void load_dumps(struct sa_image *img, const char *dir,
		       const char *cpu_ini)
{
	char path[4400], line[512], file[256] = "";
	uint64_t addr = 0, off = 0, len = 0;
	bool in_dump = false, have_addr = false;
	struct sa_errinfo ei;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, cpu_ini);
	f = fopen(path, "r");
	ck_assert_msg(f, "%s", path);
	for (;;) {
		bool eof = !fgets(line, sizeof(line), f);

		if (eof || line[0] == '[') {
			if (in_dump && file[0] && have_addr) {
				snprintf(path, sizeof(path), "%s/%s", dir,
					 file);
				ck_assert_msg(sa_image_add_raw(img, path, off,
							       len, addr,
							       &ei) == 0,
					      "%s", ei.msg);
				n++;
			}
			if (eof)
				break;
			in_dump = !strncmp(line, "[dump", 5);
			file[0] = '\0';
			have_addr = false;
			off = len = 0;
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (!strncmp(line, "file=", 5))
			snprintf(file, sizeof(file), "%s", line + 5);
		else if (!strncmp(line, "address=", 8))
			addr = strtoull(line + 8, NULL, 0), have_addr = true;
		else if (!strncmp(line, "offset=", 7))
			off = strtoull(line + 7, NULL, 0);
		else if (!strncmp(line, "length=", 7))
			len = strtoull(line + 7, NULL, 0);
	}
	fclose(f);
	ck_assert_uint_gt(n, 0);
}

static void check_snapshot(const char *name, enum sa_arch arch,
			   size_t *nranges)
{
	char dir[4200], cmd[9000], *out, *line, *nl;
	struct sa_image *img = sa_image__new(arch);
	struct sa_sitemap *map;
	size_t n = 0, bad = 0;

	snprintf(dir, sizeof(dir), "%s%s", sa_test_shared(SNAP), name);
	load_dumps(img, dir, "cpu_0.ini");
	map = sa_sitemap__new(img);
	/* the first 200000 ranges (bugfix-exact-match has 1.7 million) */
	snprintf(cmd, sizeof(cmd), "trc_pkt_lister -ss_dir '%s' -decode_only "
		 "-no_time_print -logstdout -logfilename /dev/null 2>/dev/null | "
		 "grep -m 200000 INSTR_RANGE", dir);
	out = peer_run(cmd);
	for (line = out; line && *line; line = nl) {
		uint64_t start, end;
		unsigned int ninsn, last_sz;
		char isa[8], ex, type[8], sub[64] = "", *p;
		struct sa_site site;
		enum sa_isa want_isa;
		int sz;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		p = strstr(line, "exec range=");
		if (!p || sscanf(p, "exec range=0x%" SCNx64 ":[0x%" SCNx64
				 "] num_i(%u) last_sz(%u) (ISA=%7[A-Z0-9]) "
				 "%c %7s", &start, &end, &ninsn, &last_sz, isa,
				 &ex, type) != 7)
			continue;
		p = strstr(p, type) + strlen(type);
		snprintf(sub, sizeof(sub), "%s", p);
		if (strstr(sub, "[CC"))
			*strstr(sub, "[CC") = '\0';
		if (strrchr(sub, ')'))
			*strrchr(sub, ')') = '\0';
		want_isa = !strcmp(isa, "T32") ? SA_ISA_T32 :
			   !strcmp(isa, "A32") ? SA_ISA_A32 :
			   !strcmp(isa, "A64") ? SA_ISA_A64 : SA_ISA_UNKNOWN;
		if (want_isa == SA_ISA_UNKNOWN)
			continue;
		sz = sa_sitemap_decode_one(map, end - last_sz, want_isa,
					   &site);
		ck_assert_msg(sz == (int)last_sz, "%s 0x%" PRIx64 ": size %d, "
			      "OpenCSD %u", name, end - last_sz, sz, last_sz);
		if (!class_ok(type, sub, site.iclass, ex == 'E',
			      want_isa == SA_ISA_A64, site.text)) {
			if (bad++ < 10)
				fprintf(stderr, "%s 0x%" PRIx64 " %s: \"%s\" "
					"class %d, OpenCSD %c %s%s\n", name,
					end - last_sz, isa, site.text,
					site.iclass, ex, type, sub);
		}
		n++;
	}
	free(out);
	ck_assert_msg(bad == 0, "%s: %zu of %zu ranges classified unlike "
		      "OpenCSD", name, bad, n);
	*nranges = n;
	sa_sitemap__free(map);
	sa_image__free(img);
}

START_TEST(t_tc2_t32)
{
	size_t n;

	check_snapshot("TC2", SA_ARCH_ARM, &n);
	ck_assert_uint_gt(n, 10000);
}
END_TEST

START_TEST(t_snowball_a32)
{
	size_t n;

	check_snapshot("Snowball", SA_ARCH_ARM, &n);
	ck_assert_uint_gt(n, 1000);
}
END_TEST

START_TEST(t_juno_a64)
{
	size_t n;

	check_snapshot("juno_r1_1", SA_ARCH_AARCH64, &n);
	ck_assert_uint_gt(n, 5000);
}
END_TEST

START_TEST(t_bugfix_a64_user)
{
	size_t n;

	check_snapshot("bugfix-exact-match", SA_ARCH_AARCH64, &n);
	ck_assert_uint_gt(n, 10);
}
END_TEST

int main(void)
{
	Suite *s;
	TCase *tc;

	sa_test_require_shared(SNAP "TC2/kernel_dump.bin");
	sa_test_require_shared(SNAP "Snowball/kernel_dump.bin");
	sa_test_require_shared(SNAP "juno_r1_1/kernel_dump.bin");
	sa_test_require_shared(SNAP "bugfix-exact-match/cc1.text_dump.bin");
	if (!peer_have("trc_pkt_lister")) {
		fprintf(stderr, "SKIP: trc_pkt_lister not installed (Debian "
			"package libopencsd-bin)\n");
		return SA_TEST_SKIP;
	}
	s = suite_create("sites-opencsd");
	tc = tcase_create("sites-opencsd");
	tcase_add_test(tc, t_tc2_t32);
	tcase_add_test(tc, t_snowball_a32);
	tcase_add_test(tc, t_juno_a64);
	tcase_add_test(tc, t_bugfix_a64_user);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
