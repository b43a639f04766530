// SPDX-License-Identifier: BSD-2-Clause
/*
 * A32 and T32 classification on real kernel code: OpenCSD's
 * trc_pkt_lister decodes the TC2 (PTM, T32) and Snowball (PTM, A32)
 * snapshots of ../shared/traces at test time; for the last instruction of
 * every executed range it reports the size and the type (BR, iBR,
 * b+link, V7 implied return, or none).  The site map decodes the same
 * bytes of the snapshot's memory dump and must agree.  Skips (77)
 * without the snapshots or trc_pkt_lister.
 */
#include "sensor/image.h"
#include "sensor/sites.h"
#include "testutil.h"
#include "peer.h"

#define SNAP "traces/coresight/opencsd-snapshots/"

static bool class_ok(const char *type, const char *sub, enum sa_iclass ic,
		     bool executed, const char *text)
{
	bool far = !strncmp(text, "eret", 4) || !strncmp(text, "rfe", 3) ||
		   !strncmp(text, "movs pc", 7) || !strncmp(text, "subs pc", 7);
	bool link = strstr(sub, "b+link") != NULL;
	bool ret = strstr(sub, "V7:impl ret") != NULL;

	if (!strcmp(type, "BR")) {
		if (link)
			return ic == SA_IC_CALL;
		if (!executed)
			return ic == SA_IC_COND;
		return ic == SA_IC_JUMP || ic == SA_IC_COND;
	}
	if (!strcmp(type, "iBR")) {
		if (link)
			return ic == SA_IC_IND_CALL;
		if (ret)
			return ic == SA_IC_RET;
		/* exception returns are FAR for us (eret, rfe, movs pc) */
		return ic == SA_IC_IND_JUMP || (ic == SA_IC_FAR && far);
	}
	return ic == SA_IC_OTHER;
}

static void check_snapshot(const char *name, uint64_t dump_addr,
			   size_t *nranges)
{
	char dir[4200], dump[4300], log[4300], cmd[9000], *out, *line, *nl;
	struct sa_image *img = sa_image__new(SA_ARCH_ARM);
	struct sa_sitemap *map;
	struct sa_errinfo ei;
	size_t n = 0, bad = 0;

	snprintf(dir, sizeof(dir), "%s", sa_test_shared(SNAP));
	snprintf(dump, sizeof(dump), "%s%s/kernel_dump.bin", dir, name);
	snprintf(log, sizeof(log), "%s/%s.ppl", sa_test_tmpdir(), name);
	ck_assert_int_eq(sa_image_add_raw(img, dump, 0, 0, dump_addr, &ei), 0);
	map = sa_sitemap__new(img);
	snprintf(cmd, sizeof(cmd), "trc_pkt_lister -ss_dir '%s%s' -decode "
		 "-no_time_print -logfilename '%s' >/dev/null 2>&1; "
		 "grep INSTR_RANGE '%s'", dir, name, log, log);
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
		want_isa = !strcmp(isa, "T32") ? SA_ISA_T32 :
			   !strcmp(isa, "A32") ? SA_ISA_A32 : SA_ISA_UNKNOWN;
		if (want_isa == SA_ISA_UNKNOWN)
			continue;
		sz = sa_sitemap_decode_one(map, end - last_sz, want_isa,
					   &site);
		ck_assert_msg(sz == (int)last_sz, "%s 0x%" PRIx64 ": size %d, "
			      "OpenCSD %u", name, end - last_sz, sz, last_sz);
		if (!class_ok(type, sub, site.iclass, ex == 'E', site.text)) {
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

	check_snapshot("TC2", 0xc0008000, &n);
	ck_assert_uint_gt(n, 10000);
}
END_TEST

START_TEST(t_snowball_a32)
{
	size_t n;

	check_snapshot("Snowball", 0xc0008000, &n);
	ck_assert_uint_gt(n, 1000);
}
END_TEST

int main(void)
{
	Suite *s;
	TCase *tc;

	sa_test_require_shared(SNAP "TC2/kernel_dump.bin");
	sa_test_require_shared(SNAP "Snowball/kernel_dump.bin");
	if (!peer_have("trc_pkt_lister")) {
		fprintf(stderr, "SKIP: trc_pkt_lister not installed (Debian "
			"package libopencsd-bin)\n");
		return SA_TEST_SKIP;
	}
	s = suite_create("sites-opencsd");
	tc = tcase_create("sites-opencsd");
	tcase_add_test(tc, t_tc2_t32);
	tcase_add_test(tc, t_snowball_a32);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
