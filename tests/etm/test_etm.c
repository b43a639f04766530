// SPDX-License-Identifier: BSD-2-Clause
/*
 * CoreSight unit tests on our own inputs: the INI reader, the snapshot
 * model, the perf AUXTRACE_INFO parser, decoder configuration and bad
 * trace bytes.  Real traces are in test_etm_traces.c.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sensor/coresight.h"
#include "sensor/image.h"
#include "sensor/log.h"
#include "decoder.h"
#include "etm.h"
#include "ini.h"
#include "testutil.h"
#include "sensor/hist.h"
#include "sensor/sites.h"

/* OpenCSD 1.3.3 never frees the callback object that
 * ocsd_dt_set_gen_elem_outfn() allocates (32 bytes per decode tree; a
 * three-line program shows it).  Not ours to fix: tell LeakSanitizer.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:ocsd_dt_set_gen_elem_outfn\n";
}

static int quiet_print(enum sa_log_level l, const char *fmt, va_list ap)
{
	return 0;
}

static void setup(void)
{
	sa_set_print(quiet_print);
}

static struct sa_cs_ini *parse(const char *text, struct sa_errinfo *ei,
			       int *err)
{
	struct sa_cs_ini *ini = NULL;

	*err = sa_cs_ini_parse(text, strlen(text), "t.ini", &ini, ei);
	return ini;
}

START_TEST(test_ini_keeps_duplicates)
{
	struct sa_errinfo ei = { 0 };
	const struct sa_cs_ini_sec *sec;
	struct sa_cs_ini *ini;
	int err;

	ini = parse("; comment\r\n# other\n[core_trace_sources]\r\n"
		    "cpu_0=ETE_0_s1\n cpu_0 = ETE_0_s2 \n\n[Regs]\n"
		    "TRCIDR0(0x078)=0x28000EA1\nempty=\n", &ei, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(ini);
	sec = sa_cs_ini_section(ini, "core_trace_sources");
	ck_assert_ptr_nonnull(sec);
	ck_assert_uint_eq(sec->nr, 2);
	ck_assert_str_eq(sec->kv[0].key, "cpu_0");
	ck_assert_str_eq(sec->kv[0].val, "ETE_0_s1");
	ck_assert_str_eq(sec->kv[1].key, "cpu_0");
	ck_assert_str_eq(sec->kv[1].val, "ETE_0_s2");
	ck_assert_int_eq(sec->kv[1].line, 5);
	sec = sa_cs_ini_section(ini, "regs");	/* case-insensitive */
	ck_assert_ptr_nonnull(sec);
	ck_assert_str_eq(sa_cs_ini_get(sec, "trcidr0(0x078)"), "0x28000EA1");
	ck_assert_str_eq(sa_cs_ini_get(sec, "empty"), "");
	ck_assert_ptr_null(sa_cs_ini_get(sec, "missing"));
	sa_cs_ini__free(ini);
}
END_TEST

/* Corrupt .ini: each gets an error naming file and line. */
static const struct {
	const char *text;
	const char *where;
} bad_ini[] = {
	{ "[device]\nname=x\nthis line is junk\n", "t.ini:3" },
	{ "name=before section\n", "t.ini:1" },
	{ "[device\nname=x\n", "t.ini:1" },
	{ "[]\n", "t.ini:1" },
	{ "[a]\n=value\n", "t.ini:2" },
	{ "[a]\nk=v\0\n", "t.ini:2" },
};

START_TEST(test_ini_corrupt)
{
	struct sa_errinfo ei = { 0 };
	struct sa_cs_ini *ini = NULL;
	const char *t = bad_ini[_i].text;
	size_t len = strlen(t);
	int err;

	if (_i == 5)
		len = 9;	/* include the NUL */
	err = sa_cs_ini_parse(t, len, "t.ini", &ini, &ei);
	ck_assert_int_eq(err, -SA_ERR_FORMAT);
	ck_assert_ptr_null(ini);
	ck_assert_msg(strstr(ei.msg, bad_ini[_i].where) != NULL,
		      "message \"%s\" does not name %s", ei.msg,
		      bad_ini[_i].where);
}
END_TEST

START_TEST(test_ini_too_big)
{
	struct sa_errinfo ei = { 0 };
	struct sa_cs_ini *ini = NULL;
	size_t len = SA_CS_INI_MAX_BYTES + 1;
	char *t = malloc(len);

	ck_assert_ptr_nonnull(t);
	memset(t, '\n', len);
	ck_assert_int_eq(sa_cs_ini_parse(t, len, "t.ini", &ini, &ei),
			 -SA_ERR_TOOBIG);
	free(t);
}
END_TEST

/* A two-session ETE snapshot in memory: one core, two sources with the
 * same core key.
 */
static const char snap_ini[] =
	"[snapshot]\nversion=1.0\n[device_list]\ndevice0=cpu_0.ini\n"
	"device1=ete_s1.ini\ndevice2=ete_s2.ini\n[trace]\n"
	"metadata=trace.ini\n";
static const char cpu_ini[] =
	"[device]\nname=cpu_0\nclass=core\ntype=ARM-AA64\n[regs]\n"
	"PC(size:64)=0\n[dump1]\nfile=code.bin\naddress=0x1000\n"
	"length=0x100\n";
static const char ete1_ini[] =
	"[device]\nname=ETE_0_s1\nclass=trace_source\ntype=ETE\n[regs]\n"
	"TRCCONFIGR=0x1\nTRCTRACEIDR=0x1\nTRCIDR0=0x28000ea1\n"
	"TRCIDR2=0x488\n";
static const char ete2_ini[] =
	"[device]\nname=ETE_0_s2\nclass=trace_source\ntype=ETE\n[regs]\n"
	"TRCCONFIGR=0x1\nTRCTRACEIDR=0x1\nTRCIDR0=0x28000ea1\n"
	"TRCIDR2=not-a-number\n";
static const char trace_ini[] =
	"[trace_buffers]\nbuffers=buffer1, buffer2\n[buffer1]\nname=ETB_1\n"
	"file=s1.bin\nformat=source_data\n[buffer2]\nname=ETB_2\n"
	"file=s2.bin\nformat=source_data\n[source_buffers]\n"
	"ETE_0_s1=ETB_1\nETE_0_s2=ETB_2\n[core_trace_sources]\n"
	"cpu_0=ETE_0_s1\ncpu_0=ETE_0_s2\n";

static struct sa_cs_snapshot *mem_snapshot(size_t nr, const char *drop,
					   struct sa_errinfo *ei)
{
	const char *names[] = { "snapshot.ini", "cpu_0.ini", "ete_s1.ini",
				"ete_s2.ini", "trace.ini" };
	const char *texts[] = { snap_ini, cpu_ini, ete1_ini, ete2_ini,
				trace_ini };
	const char *n2[5], *t2[5];
	size_t lens[5], i, k = 0;

	for (i = 0; i < nr; i++) {
		if (drop && !strcmp(names[i], drop))
			continue;
		n2[k] = names[i];
		t2[k] = texts[i];
		lens[k] = strlen(texts[i]);
		k++;
	}
	return sa_cs_snapshot__parse_mem(k, n2, t2, lens, ei);
}

START_TEST(test_snapshot_multi_session)
{
	struct sa_errinfo ei = { 0 };
	struct sa_cs_snapshot *ss;
	struct sa_image *img;
	struct sa_dec *dec;

	ss = mem_snapshot(5, NULL, &ei);
	ck_assert_msg(ss != NULL, "%s", ei.msg);
	ck_assert_uint_eq(sa_cs_snapshot_nr_buffers(ss), 2);
	ck_assert_str_eq(sa_cs_snapshot_buffer_name(ss, 0), "ETB_1");
	ck_assert_str_eq(sa_cs_snapshot_buffer_name(ss, 1), "ETB_2");
	/* both sessions find their core through the repeated key */
	ck_assert_uint_eq(sa_cs_snapshot_buffer_nr_sources(ss, 0), 1);
	ck_assert_uint_eq(sa_cs_snapshot_buffer_nr_sources(ss, 1), 1);

	/* A register that is not a number: error naming file and line. */
	img = sa_image__new(SA_ARCH_AARCH64);
	ck_assert_ptr_nonnull(img);
	dec = sa_cs_snapshot_decoder(ss, 1, img, 0, &ei);
	ck_assert_ptr_null(dec);
	ck_assert_int_eq(ei.code, -SA_ERR_FORMAT);
	ck_assert_msg(strstr(ei.msg, "ete_s2.ini:9") &&
		      strstr(ei.msg, "TRCIDR2"), "%s", ei.msg);
	/* An in-memory snapshot has no trace file. */
	dec = sa_cs_snapshot_decoder(ss, 0, img, 0, &ei);
	ck_assert_ptr_null(dec);
	ck_assert_int_eq(ei.code, -SA_ERR_NOTFOUND);
	ck_assert_msg(strstr(ei.msg, "s1.bin") != NULL, "%s", ei.msg);
	/* No dump file: best effort, counted, not an error. */
	ck_assert_int_eq(sa_cs_snapshot_load_image(ss, img, &ei), 1);
	sa_image__free(img);
	sa_cs_snapshot__free(ss);
}
END_TEST

START_TEST(test_snapshot_missing_files)
{
	struct sa_errinfo ei = { 0 };
	struct sa_cs_snapshot *ss;
	struct sa_image *img;

	/* a missing device file: the snapshot opens (as trc_pkt_lister
	 * goes on), its source is counted and its buffer cannot decode
	 */
	ss = mem_snapshot(5, "ete_s1.ini", &ei);
	ck_assert_ptr_nonnull(ss);
	ck_assert_uint_eq(sa_cs_snapshot_nr_missing_sources(ss), 1);
	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_ptr_nonnull(img);
	ck_assert_ptr_null(sa_cs_snapshot_decoder(ss, 0, img, 0, &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_NOTFOUND);
	ck_assert_msg(strstr(ei.msg, "ETB_1") != NULL, "%s", ei.msg);
	sa_image__free(img);
	sa_cs_snapshot__free(ss);
	ss = mem_snapshot(5, "trace.ini", &ei);
	ck_assert_ptr_null(ss);
	ck_assert_msg(strstr(ei.msg, "trace.ini") != NULL, "%s", ei.msg);
	ss = sa_cs_snapshot__open("/nonexistent/snapshot", &ei);
	ck_assert_ptr_null(ss);
	ck_assert_int_eq(ei.code, -ENOENT);
	ck_assert_msg(strstr(ei.msg, "/nonexistent/snapshot/snapshot.ini"),
		      "%s", ei.msg);
}
END_TEST

static const uint64_t v0_etmv4[] = {
	0, 0x700000002ull, 0,
	0x4040404040404040ull, 0, 0x40, 0x10, 0x28000ea1, 0x4100f421,
	0x20001088, 0, 0xcc,
	0x4040404040404040ull, 1, 0x40, 0x12, 0x28000ea1, 0x4100f421,
	0x20001088, 0, 0xcc,
};

static const uint64_t v1_mixed[] = {
	1, 0x900000002ull, 1,
	/* ETE with TS_SOURCE */
	0x5050505050505050ull, 3, 9, 0x1, 0x16, 0x28c1cea1, 0x4100fff0,
	0xd0001088, 0, 0xcc, 0x47735a13, 0,
	/* ETMv3 (PTM by ETMIDR) */
	0x3030303030303030ull, 4, 4, 0x1000, 0x18, 0, 0x411cf301,
};

START_TEST(test_perf_info)
{
	struct sa_errinfo ei = { 0 };
	struct sa_cs_perf_info *info;
	uint64_t bad[sizeof(v0_etmv4) / 8];

	ck_assert_int_eq(sa_cs_perf_info_parse(v0_etmv4, 21, &info, &ei), 0);
	ck_assert_uint_eq(info->version, 0);
	ck_assert_uint_eq(info->pmu_type, 7);
	ck_assert_uint_eq(info->nr_cpus, 2);
	ck_assert_int_eq(info->cpus[1].cpu, 1);
	ck_assert_int_eq(info->cpus[1].protocol, SA_CS_PROTO_ETMV4);
	ck_assert_uint_eq(info->cpus[1].trace_id, 0x12);
	ck_assert_uint_eq(info->cpus[1].regs.trcidr2, 0x20001088);
	sa_cs_perf_info__free(info);

	ck_assert_int_eq(sa_cs_perf_info_parse(v1_mixed, 22, &info, &ei), 0);
	ck_assert_uint_eq(info->nr_cpus, 2);
	ck_assert(info->snapshot);
	ck_assert_int_eq(info->cpus[0].protocol, SA_CS_PROTO_ETE);
	ck_assert_uint_eq(info->cpus[0].trace_id, 0x16);
	ck_assert_uint_eq(info->cpus[0].regs.trcdevarch, 0x47735a13);
	ck_assert_int_eq(info->cpus[1].protocol, SA_CS_PROTO_PTM);
	ck_assert_uint_eq(info->cpus[1].trace_id, 0x18);
	ck_assert_int_eq(sa_cs_perf_info_set_trace_id(info, 4, 0x33), 0);
	ck_assert_uint_eq(info->cpus[1].trace_id, 0x33);
	ck_assert_int_eq(sa_cs_perf_info_set_trace_id(info, 9, 1),
			 -SA_ERR_NOTFOUND);
	sa_cs_perf_info__free(info);

	/* truncated */
	ck_assert_int_eq(sa_cs_perf_info_parse(v0_etmv4, 15, &info, &ei),
			 -SA_ERR_TRUNCATED);
	ck_assert_ptr_null(info);
	ck_assert_int_eq(sa_cs_perf_info_parse(v0_etmv4, 2, &info, &ei),
			 -SA_ERR_TRUNCATED);
	/* unknown magic, with its index */
	memcpy(bad, v0_etmv4, sizeof(bad));
	bad[12] = 0x1234;
	ck_assert_int_eq(sa_cs_perf_info_parse(bad, 21, &info, &ei),
			 -SA_ERR_FORMAT);
	ck_assert_uint_eq(ei.offset, 12);
	/* unknown version */
	bad[0] = 7;
	ck_assert_int_eq(sa_cs_perf_info_parse(bad, 21, &info, &ei),
			 -SA_ERR_UNSUPPORTED);
	/* absurd parameter count */
	ck_assert_int_eq(sa_cs_perf_info_parse((const uint64_t[]){
		1, 0x100000001ull, 0, 0x4040404040404040ull, 0, 1000 }, 6,
		&info, &ei), -SA_ERR_FORMAT);
}
END_TEST

START_TEST(test_decoder_config_errors)
{
	struct sa_etm_source src[2] = { 0 };
	struct sa_etm_config cfg = { 0 };
	struct sa_errinfo ei = { 0 };
	struct sa_image *img = sa_image__new(SA_ARCH_AARCH64);
	uint8_t buf[16] = { 0 };

	ck_assert_ptr_nonnull(img);
	src[0].protocol = SA_ETM_PROTO_ETMV4I;
	src[0].arch = SA_ETM_ARCH_V8;
	src[0].profile = SA_ETM_PROFILE_A;
	src[0].trcidr0 = 0x28000ea1;
	src[0].trcidr1 = 0x4100f403;
	src[0].trcidr2 = 0x488;
	src[0].trcconfigr = 1;
	src[0].trace_id = 0x10;
	src[1] = src[0];
	cfg.buf = buf;
	cfg.len = sizeof(buf);
	cfg.image = img;
	cfg.sources = src;
	cfg.nr_sources = 2;

	/* the same trace ID twice */
	ck_assert_ptr_null(sa_etm__new(&cfg, &ei));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(ei.msg, "0x10") != NULL, "%s", ei.msg);
	/* out of range */
	src[1].trace_id = 0x70;
	ck_assert_ptr_null(sa_etm__new(&cfg, &ei));
	/* no protocol */
	src[1].trace_id = 0x11;
	src[1].protocol = SA_ETM_PROTO_NONE;
	ck_assert_ptr_null(sa_etm__new(&cfg, &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_UNSUPPORTED);
	/* raw buffers take one source */
	cfg.format = SA_ETM_FMT_RAW;
	ck_assert_ptr_null(sa_etm__new(&cfg, &ei));
	/* no image */
	cfg.format = SA_ETM_FMT_FRAMED;
	cfg.nr_sources = 1;
	cfg.image = NULL;
	ck_assert_ptr_null(sa_etm__new(&cfg, &ei));
	sa_image__free(img);
}
END_TEST

/* Garbage and truncated buffers: the decoder runs to the end, counts
 * what it could not use, never crashes.  Byte patterns from a fixed LCG.
 */
START_TEST(test_decoder_garbage)
{
	static const size_t lens[] = { 0, 1, 15, 16, 37, 4096, 65537 };
	struct sa_etm_config cfg = { 0 };
	struct sa_etm_source src;
	struct sa_errinfo ei = { 0 };
	struct sa_image *img = sa_image__new(SA_ARCH_AARCH64);
	struct sa_cs_regs regs = { 0 };
	uint8_t *buf = malloc(65537);
	uint32_t x = 12345 + (uint32_t)_i;
	size_t i, li;

	ck_assert_ptr_nonnull(img);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < 65537; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	/* ETMv4 raw, ETMv4 framed, ETE raw, PTM framed */
	memset(&src, 0, sizeof(src));
	src.protocol = (enum sa_etm_protocol[]){ SA_ETM_PROTO_ETMV4I,
		SA_ETM_PROTO_ETMV4I, SA_ETM_PROTO_ETE, SA_ETM_PROTO_PTM }[_i];
	src.trace_id = 0x10;
	src.arch = src.protocol == SA_ETM_PROTO_PTM ? SA_ETM_ARCH_V7 :
						      SA_ETM_ARCH_V8;
	src.profile = SA_ETM_PROFILE_A;
	src.trcidr0 = 0x28000ea1;
	src.trcidr1 = 0x4100f403;
	src.trcidr2 = 0x488;
	src.trcconfigr = 1;
	src.trcdevarch = 0x47705a13;
	src.etmidr = 0x411cf300;
	(void)regs;
	for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		struct sa_dec *dec;
		struct sa_elem e;
		int rc;
		uint64_t n = 0;

		cfg.buf = buf;
		cfg.len = lens[li];
		cfg.image = img;
		cfg.sources = &src;
		cfg.nr_sources = 1;
		cfg.format = (_i & 1) ? SA_ETM_FMT_FRAMED : SA_ETM_FMT_RAW;
		cfg.queue_cap = 4;	/* exercise WAIT / FLUSH */
		dec = sa_etm__new(&cfg, &ei);
		ck_assert_msg(dec != NULL, "%s", ei.msg);
		while ((rc = sa_dec_next(dec, &e)) > 0) {
			n++;
			ck_assert_uint_lt(e.offset, lens[li] + 1);
			/* no memory: no instruction can be decoded */
			ck_assert_int_ne(e.kind, SA_ELEM_RANGE);
		}
		ck_assert_int_eq(rc, 0);
		ck_assert_uint_eq(sa_dec_stats(dec)->trace_bytes, lens[li]);
		ck_assert_uint_le(sa_dec_stats(dec)->lost_bytes, lens[li]);
		sa_dec__free(dec);
	}
	free(buf);
	sa_image__free(img);
}
END_TEST

START_TEST(test_core_names)
{
	/* sa_cs_protocol_parse is the CLI's; names as documented */
	ck_assert_int_eq(sa_cs_protocol_parse("ETMv4"), SA_CS_PROTO_ETMV4);
	ck_assert_int_eq(sa_cs_protocol_parse("ete"), SA_CS_PROTO_ETE);
	ck_assert_int_eq(sa_cs_protocol_parse("ptm"), SA_CS_PROTO_PTM);
	ck_assert_int_eq(sa_cs_protocol_parse("etmv3"), SA_CS_PROTO_ETMV3);
	ck_assert_int_eq(sa_cs_protocol_parse("x86"), SA_CS_PROTO_NONE);
	ck_assert_int_eq(sa_cs_protocol_parse(NULL), SA_CS_PROTO_NONE);
}
END_TEST

/*
 * Ground truth: a hand-assembled A64 loop and the ETMv4 packets that
 * describe one run of it (checked with trc_pkt_lister when written).
 *
 *   0x1000 cmp  x0, #0
 *   0x1004 b.eq 0x1010          decisions: not taken, then taken
 *   0x1008 nop
 *   0x100c b    0x1000
 *   0x1010 ret
 */
static const uint32_t loop_code[] = {
	0xf100001f, 0x54000060, 0xd503201f, 0x17fffffd, 0xd65f03c0,
};

static const uint8_t loop_trace[] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,	/* A-sync */
	0x01, 0x00,				/* trace info */
	0x04,					/* trace on */
	0x85, 0x00, 0x08, 0, 0, 0, 0, 0, 0,	/* address 0x1000 + */
	0x30,					/* context AArch64 EL0 NS */
	0xf6, 0xf7, 0xf7,			/* atoms N E E */
};

static const struct {
	uint64_t start, last;
	uint32_t ninsn;
	uint8_t ic;
	int8_t taken;
	uint64_t offset;
} loop_ranges[] = {
	{ 0x1000, 0x1004, 2, SA_IC_COND, 0, 25 },
	{ 0x1008, 0x100c, 2, SA_IC_JUMP, 1, 26 },
	{ 0x1000, 0x1004, 2, SA_IC_COND, 1, 27 },
};

static void loop_source(struct sa_etm_source *src)
{
	memset(src, 0, sizeof(*src));
	src->protocol = SA_ETM_PROTO_ETMV4I;
	src->trace_id = 0x10;
	src->arch = SA_ETM_ARCH_V8;
	src->profile = SA_ETM_PROFILE_A;
	src->trcidr0 = 0x28000ea1;
	src->trcidr1 = 0x4100f403;
	src->trcidr2 = 0x488;
	src->trcconfigr = 1;
}

static struct sa_dec *loop_decoder(struct sa_image *img, size_t len,
				   size_t queue_cap)
{
	static struct sa_etm_source src;
	struct sa_etm_config cfg = { 0 };
	struct sa_errinfo ei = { 0 };
	struct sa_dec *dec;

	loop_source(&src);
	cfg.buf = loop_trace;
	cfg.len = len;
	cfg.image = img;
	cfg.format = SA_ETM_FMT_RAW;
	cfg.sources = &src;
	cfg.nr_sources = 1;
	cfg.queue_cap = queue_cap;
	dec = sa_etm__new(&cfg, &ei);
	ck_assert_msg(dec != NULL, "%s", ei.msg);
	return dec;
}

START_TEST(test_loop_ground_truth)
{
	struct sa_image *img = sa_image__new(SA_ARCH_AARCH64);
	struct sa_dec *dec;
	struct sa_elem e;
	size_t n = 0;
	int rc;

	ck_assert_ptr_nonnull(img);
	ck_assert_int_eq(sa_image_add_buffer(img, loop_code,
					     sizeof(loop_code), 0x1000), 0);
	/* queue of 1 (every element waits), 2, and the default */
	dec = loop_decoder(img, sizeof(loop_trace), (size_t[]){ 1, 2, 0 }[_i]);
	while ((rc = sa_dec_next(dec, &e)) > 0) {
		if (e.kind != SA_ELEM_RANGE)
			continue;
		ck_assert_uint_lt(n, 3);
		ck_assert_uint_eq(e.start, loop_ranges[n].start);
		ck_assert_uint_eq(e.last, loop_ranges[n].last);
		ck_assert_uint_eq(e.ninsn, loop_ranges[n].ninsn);
		ck_assert_uint_eq(e.last_class, loop_ranges[n].ic);
		ck_assert_int_eq(e.last_taken, loop_ranges[n].taken);
		ck_assert_uint_eq(e.offset, loop_ranges[n].offset);
		ck_assert_uint_eq(e.isa, SA_ISA_A64);
		ck_assert_uint_eq(e.last_size, 4);
		ck_assert_uint_eq(e.stream, 0x10);
		n++;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(sa_dec_stats(dec)->insns, 6);
	if (_i == 0)
		ck_assert_uint_gt(sa_etm_stats(dec)->waits, 3);
	sa_dec__free(dec);

	/* truncated after the second atom: two decisions */
	dec = loop_decoder(img, sizeof(loop_trace) - 1, 0);
	n = 0;
	while ((rc = sa_dec_next(dec, &e)) > 0)
		n += e.kind == SA_ELEM_RANGE;
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(n, 2);
	sa_dec__free(dec);
	sa_image__free(img);

	/* no code in the image: one "not accessible" gap at 0x1000 */
	img = sa_image__new(SA_ARCH_AARCH64);
	dec = loop_decoder(img, sizeof(loop_trace), 0);
	n = 0;
	while ((rc = sa_dec_next(dec, &e)) > 0) {
		ck_assert_int_ne(e.kind, SA_ELEM_RANGE);
		if (e.error == -SA_ERR_NOMAP) {
			ck_assert_uint_eq(e.ip, 0x1000);
			ck_assert_uint_eq(e.gap_reason, SA_GAP_LOST);
			n++;
		}
	}
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_eq(sa_etm_stats(dec)->nacc, n);
	sa_dec__free(dec);
	sa_image__free(img);
}
END_TEST

/* The same run through the history builder: b.eq 1 taken, 1 not. */
START_TEST(test_loop_history)
{
	struct sa_image *img = sa_image__new(SA_ARCH_AARCH64);
	struct sa_sitemap *sites;
	struct sa_hist_builder *b;
	struct sa_hist *h = sa_hist__new();
	const struct sa_hist_branch *br = NULL;
	struct sa_dec *dec;
	struct sa_elem e;
	size_t i, j;
	int rc;

	ck_assert_ptr_nonnull(img);
	ck_assert_int_eq(sa_image_add_buffer(img, loop_code,
					     sizeof(loop_code), 0x1000), 0);
	sites = sa_sitemap__new(img);
	b = sa_hist_builder__new(h, img, sites);
	ck_assert_ptr_nonnull(b);
	dec = loop_decoder(img, sizeof(loop_trace), 0);
	while ((rc = sa_dec_next(dec, &e)) > 0)
		ck_assert_int_eq(sa_hist_builder_add(b, &e), 0);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(sa_hist_builder_flush(b), 0);
	for (i = 0; i < sa_hist_nr_functions(h); i++) {
		const struct sa_hist_func *f = sa_hist_function(h, i);

		for (j = 0; j < f->nr_branches; j++)
			if (f->branches[j].addr == 0x1004)
				br = &f->branches[j];
	}
	ck_assert_ptr_nonnull(br);
	ck_assert_uint_eq(br->iclass, SA_IC_COND);
	ck_assert_uint_eq(br->taken, 1);
	ck_assert_uint_eq(br->not_taken, 1);
	ck_assert_uint_eq(sa_hist_decode(h)->instructions, 6);
	sa_dec__free(dec);
	sa_hist_builder__free(b);
	sa_sitemap__free(sites);
	sa_hist__free(h);
	sa_image__free(img);
}
END_TEST

static Suite *etm_suite(void)
{
	Suite *s = suite_create("etm");
	TCase *tc = tcase_create("ini");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_ini_keeps_duplicates);
	tcase_add_loop_test(tc, test_ini_corrupt, 0,
			    sizeof(bad_ini) / sizeof(bad_ini[0]));
	tcase_add_test(tc, test_ini_too_big);
	suite_add_tcase(s, tc);

	tc = tcase_create("snapshot");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_snapshot_multi_session);
	tcase_add_test(tc, test_snapshot_missing_files);
	suite_add_tcase(s, tc);

	tc = tcase_create("perf");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_perf_info);
	suite_add_tcase(s, tc);

	tc = tcase_create("decoder");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_decoder_config_errors);
	tcase_add_loop_test(tc, test_decoder_garbage, 0, 4);
	tcase_add_test(tc, test_core_names);
	tcase_add_loop_test(tc, test_loop_ground_truth, 0, 3);
	tcase_add_test(tc, test_loop_history);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sa_test_run(etm_suite());
}
