// SPDX-License-Identifier: BSD-2-Clause
/*
 * The sensor-agent command on bad input: each case gets a clear message
 * and a non-zero exit, never a crash (a signal would show as 128 + N).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <intel-pt.h>

#include "testutil.h"

#define LOOPY "traces/intel-pt/hase/loopy"
#define LOOPY_DATA LOOPY "/loopy-20180404T162955.perf"
#define REC_DIR "/home/joerg/git/angr/hase/tests/bin"

static const char *tool(void)
{
	const char *t = getenv("SA_TOOL");

	ck_assert_ptr_nonnull(t);
	return t;
}

/* Runs the tool; returns the exit status and the captured stderr. */
static int run(char **err_text, char *const args[])
{
	char *argv[32];
	const char *err = sa_test_path("stderr.txt");
	int i, st;

	argv[0] = (char *)tool();
	for (i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	st = sa_test_exec(argv, sa_test_path("stdout.txt"), err);
	*err_text = sa_test_slurp(err, NULL);
	ck_assert_ptr_nonnull(*err_text);
	ck_assert_msg(st >= 0 && st < 128, "crashed: status %d, stderr: %s",
		      st, *err_text);
	return st;
}

static const char *shared(const char *sub)
{
	static char p[4096];

	snprintf(p, sizeof(p), "%s/%s", getenv("SA_SHARED_DIR"), sub);
	return p;
}

static void copy_prefix(const char *from, const char *to, size_t n)
{
	size_t len;
	char *buf = sa_test_slurp(from, &len);
	FILE *f = fopen(to, "wb");

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(f);
	if (n > len)
		n = len;
	ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	fclose(f);
	free(buf);
}

START_TEST(test_help)
{
	char *err, *out;
	char *args[] = { "decode", "--help", NULL };

	ck_assert_int_eq(run(&err, args), 0);
	out = sa_test_slurp(sa_test_path("stdout.txt"), NULL);
	ck_assert_ptr_nonnull(strstr(out, "Usage: sensor-agent decode"));
	free(out);
	free(err);
}
END_TEST

START_TEST(test_usage_errors)
{
	char *err;
	char *a1[] = { "decode", "--frobnicate", NULL };
	char *a2[] = { "frobnicate", NULL };
	char *a3[] = { "decode", "--format", "xml", "x", NULL };
	char *a4[] = { "decode", NULL };

	ck_assert_int_eq(run(&err, a1), 2);
	free(err);
	ck_assert_int_eq(run(&err, a2), 2);
	ck_assert_ptr_nonnull(strstr(err, "unknown command 'frobnicate'"));
	free(err);
	ck_assert_int_eq(run(&err, a3), 2);
	ck_assert_ptr_nonnull(strstr(err, "--format 'xml'"));
	free(err);
	ck_assert_int_eq(run(&err, a4), 2);
	ck_assert_ptr_nonnull(strstr(err, "no input"));
	free(err);
}
END_TEST

START_TEST(test_missing_file)
{
	char *err;
	char *args[] = { "decode", "/nonexistent/perf.data", NULL };

	ck_assert_int_eq(run(&err, args), 1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/perf.data"));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	free(err);
}
END_TEST

START_TEST(test_not_a_snapshot_dir)
{
	char *err;
	char *args[] = { "decode", (char *)sa_test_tmpdir(), NULL };

	ck_assert_int_eq(run(&err, args), 1);
	ck_assert_msg(strstr(err, "not an Arm snapshot (no snapshot.ini)"),
		      "%s", err);
	free(err);
}
END_TEST

START_TEST(test_random_bytes)
{
	const char *p = sa_test_path("random.data");
	FILE *f = fopen(p, "wb");
	char *err;
	char *args[] = { "decode", (char *)p, NULL };
	unsigned i, x = 12345;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < 4096; i++) {
		x = x * 1103515245 + 12345;
		fputc((int)(x >> 16) & 0xff, f);
	}
	fclose(f);
	ck_assert_int_eq(run(&err, args), 1);
	ck_assert_ptr_nonnull(strstr(err, p));
	ck_assert_ptr_nonnull(strstr(err, "perf.data"));
	free(err);
}
END_TEST

START_TEST(test_truncated)
{
	const char *p = sa_test_path("truncated.data");
	static const size_t cuts[] = { 4, 100, 0x300, 0x1000, 0x2b90 };
	char *err;
	char *args[] = { "decode", (char *)p, NULL };
	size_t i;

	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		copy_prefix(shared(LOOPY_DATA), p, cuts[i]);
		ck_assert_int_eq(run(&err, args), 1);
		ck_assert_msg(strstr(err, p), "cut %zu: %s", cuts[i], err);
		free(err);
	}
}
END_TEST

START_TEST(test_no_aux)
{
	const char *p = sa_test_path("noaux.data");
	char *rec[] = { "perf", "record", "-q", "-e", "cpu-clock", "-o",
			(char *)p, "--", "true", NULL };
	char *args[] = { "decode", (char *)p, NULL };
	char *err;

	/* a real perf.data without AUX data, made by perf itself */
	ck_assert_int_eq(sa_test_exec(rec, NULL, NULL), 0);
	ck_assert_int_eq(run(&err, args), 1);
	ck_assert_ptr_nonnull(strstr(err, "no AUX area trace data"));
	free(err);
}
END_TEST

START_TEST(test_missing_binary)
{
	char *err;
	char *args[] = { "decode", (char *)shared(LOOPY_DATA), NULL };

	ck_assert_int_eq(run(&err, args), 1);
	ck_assert_ptr_nonnull(strstr(err, REC_DIR "/loopy/loopy"));
	ck_assert_ptr_nonnull(strstr(err, "--binary"));
	free(err);
}
END_TEST

/* Another program given as the traced one: the build-id check names both.
 * The trace is recorded here with the emulated sensor, which writes the
 * build-ids into perf.data (the hase traces have none).
 */
START_TEST(test_build_id_mismatch)
{
	const char *wl = getenv("SA_WL_BRANCHES");
	const char *other = getenv("SA_WL_QSORT");
	const char *data = sa_test_path("bid.data");
	char dir[4096], cmd[8192], bin[4096];
	char *rec[] = { (char *)tool(), "record", "--emulate", "-o",
			(char *)data, "--", (char *)wl, "3", NULL };
	char *args[] = { "decode", "--binary", bin, (char *)data, NULL };
	char *err;
	const char *base = strrchr(wl, '/') + 1;

	ck_assert_int_eq(sa_test_exec(rec, NULL, NULL), 0);
	snprintf(dir, sizeof(dir), "%s/other", sa_test_tmpdir());
	snprintf(bin, sizeof(bin), "%s/%s", dir, base);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s' '%s'", dir,
		 other, bin);
	ck_assert_int_eq(system(cmd), 0);
	run(&err, args);
	ck_assert_msg(strstr(err, "build-id mismatch"), "%s", err);
	ck_assert_msg(strstr(err, bin), "%s", err);
	free(err);
}
END_TEST

/* The raw loopy code mapped at the wrong address decodes nothing. */
START_TEST(test_image_wrong_address)
{
	const char *pt = sa_test_path("loopy.pt");
	char img[4096];
	char *err;
	char *args[] = { "decode", "--pt", (char *)pt, "--image", img, NULL };

	/* the AUXTRACE payload of the loopy trace: 0x570 bytes after the
	 * record at 0x2b70 (perf report -D); the input, not an expectation
	 */
	{
		size_t len;
		char *buf = sa_test_slurp(shared(LOOPY_DATA), &len);
		FILE *f = fopen(pt, "wb");

		ck_assert_ptr_nonnull(buf);
		ck_assert_uint_ge(len, 0x2b70 + 0x30 + 0x570);
		ck_assert_ptr_nonnull(f);
		fwrite(buf + 0x2b70 + 0x30, 1, 0x570, f);
		fclose(f);
		free(buf);
	}
	snprintf(img, sizeof(img), "%s@0x500000",
		 shared(LOOPY "/loopy"));
	ck_assert_int_eq(run(&err, args), 1);
	ck_assert_msg(strstr(err, "no instruction could be decoded"), "%s",
		      err);
	ck_assert_msg(strstr(err, "offset"), "%s", err);
	free(err);
}
END_TEST

/* An idle window: PSB+ with timing packets, no IP, no error (the target
 * slept), made by libipt's encoder.  It decodes (exit 0) and is counted
 * idle, in the text and in the JSON.
 */
START_TEST(test_idle_window)
{
	static const enum pt_packet_type seq[] = {
		ppt_psb, ppt_tsc, ppt_cbr, ppt_psbend, ppt_mtc, ppt_pad,
		ppt_mtc, ppt_psb, ppt_tsc, ppt_psbend, ppt_pad,
	};
	const char *pt = sa_test_path("idle.pt");
	char img[4096], *err, *out;
	char *args[] = { "decode", "--pt", (char *)pt, "--image", img, NULL };
	char *json[] = { "decode", "--format", "json", "--pt", (char *)pt,
			 "--image", img, NULL };
	struct pt_encoder *enc;
	struct pt_config cfg;
	struct pt_packet p;
	uint8_t buf[256];
	uint64_t len;
	size_t i;
	FILE *f;

	pt_config_init(&cfg);
	cfg.begin = buf;
	cfg.end = buf + sizeof(buf);
	enc = pt_alloc_encoder(&cfg);
	ck_assert_ptr_nonnull(enc);
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.type = seq[i];
		if (seq[i] == ppt_tsc)
			p.payload.tsc.tsc = 0x1000 * (i + 1);
		if (seq[i] == ppt_cbr)
			p.payload.cbr.ratio = 0x20;
		if (seq[i] == ppt_mtc)
			p.payload.mtc.ctc = (uint8_t)i;
		ck_assert_int_gt(pt_enc_next(enc, &p), 0);
	}
	ck_assert_int_ge(pt_enc_get_offset(enc, &len), 0);
	pt_free_encoder(enc);
	f = fopen(pt, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
	snprintf(img, sizeof(img), "%s@0x400000", shared(LOOPY "/loopy"));

	ck_assert_int_eq(run(&err, args), 0);
	free(err);
	out = sa_test_slurp(sa_test_path("stdout.txt"), NULL);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "decode: 0 instructions") &&
		      strstr(out, " 0 errors") &&
		      strstr(out, "idle: 1 of 1 windows"), "%s", out);
	free(out);
	ck_assert_int_eq(run(&err, json), 0);
	free(err);
	out = sa_test_slurp(sa_test_path("stdout.txt"), NULL);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "\"idle_windows\": 1,") &&
		      strstr(out, "\"errors\": 0,"), "%s", out);
	free(out);
}
END_TEST

int main(void)
{
	Suite *s;
	TCase *tc;

	sa_test_require_shared(LOOPY);
	s = suite_create("cli");
	tc = tcase_create("bad-input");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_usage_errors);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_not_a_snapshot_dir);
	tcase_add_test(tc, test_random_bytes);
	tcase_add_test(tc, test_truncated);
	if (sa_test_have("perf"))
		tcase_add_test(tc, test_no_aux);
	else
		fprintf(stderr, "note: perf is not installed: the no-AUX case "
				"is not run\n");
	tcase_add_test(tc, test_missing_binary);
	tcase_add_test(tc, test_build_id_mismatch);
	tcase_add_test(tc, test_image_wrong_address);
	tcase_add_test(tc, test_idle_window);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
