// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the Intel PT backends (decoders/ipt and the fast
 * one, decoders/fastpt), each on the same input.
 *
 * Input: byte 0 = flags | n.  The next n (bits 0-6) bytes are x86-64 code
 * mapped at 0x401000, so the fuzzer also explores what the block decoder
 * does with odd code; the rest is the PT trace.  With bit 7 set the trace
 * is prefixed with PSB, PSBEND, MODE.Exec (64-bit), TIP.PGE(0x401000), so
 * that random inputs get past synchronisation without a seed corpus.
 *
 * Beyond "no crash", the decoder's accounting must hold: every error is
 * one SA_GAP_ERROR, the lost bytes add up and never exceed the buffer,
 * and the stream ends with exactly one SA_GAP_END.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "sensor/image.h"
#include "sensor/log.h"

#define FUZZ_CODE 0x401000ull

static const uint8_t fuzz_prefix[] = {
	0x02, 0x82, 0x02, 0x82, 0x02, 0x82, 0x02, 0x82,	/* PSB */
	0x02, 0x82, 0x02, 0x82, 0x02, 0x82, 0x02, 0x82,
	0x02, 0x23,					/* PSBEND */
	0x99, 0x01,					/* MODE.Exec 64 */
	0x71, 0x00, 0x10, 0x40, 0x00, 0x00, 0x00,	/* TIP.PGE */
};

/* Bounds the work per input: code that loops without consuming trace
 * (a jmp to itself) yields elements for ever, and took most of the time
 * at 200000.  With -max_len=512 a trace has at most ~3500 TNT bits, so a
 * decode that runs to its end stays under the cap and is checked.
 */
#define FUZZ_MAX_ELEMS 8192

/* Decodes with one backend and checks its accounting. */
static void fuzz_one(const struct sa_ipt_config *cfg,
		     struct sa_dec *(*mk)(const struct sa_ipt_config *,
					  struct sa_errinfo *))
{
	uint64_t errors = 0, lost = 0, insns = 0, ends = 0, n = 0;
	const struct sa_dec_stats *st;
	struct sa_dec *dec;
	struct sa_elem e;
	int ret = 0;

	dec = mk(cfg, NULL);
	if (!dec)
		return;
	while (n < FUZZ_MAX_ELEMS && (ret = sa_dec_next(dec, &e)) > 0) {
		n++;
		if (ends)
			abort();	/* nothing after the end */
		if (e.kind == SA_ELEM_RANGE) {
			if (!e.ninsn || e.last < e.start)
				abort();
			insns += e.ninsn;
		} else if (e.gap_reason == SA_GAP_ERROR) {
			errors++;
			lost += e.lost_bytes;
		} else if (e.gap_reason == SA_GAP_END) {
			ends++;
		}
	}
	st = sa_dec_stats(dec);
	if (n < FUZZ_MAX_ELEMS) {
		if (ret != 0 || ends != 1 || errors != st->errors ||
		    lost != st->lost_bytes || insns != st->insns)
			abort();
	}
	if (st->lost_bytes > cfg->len)
		abort();
	sa_dec__free(dec);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	sa_set_print(NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sa_ipt_config cfg = { 0 };
	struct sa_image *img;
	uint8_t *trace = NULL;
	size_t ncode;

	if (!size)
		return 0;
	ncode = data[0] & 0x7f;
	if (ncode > size - 1)
		ncode = size - 1;
	img = sa_image__new(SA_ARCH_X86_64);
	if (!img)
		return 0;
	if (ncode && sa_image_add_buffer(img, data + 1, ncode, FUZZ_CODE))
		goto out_img;
	cfg.buf = data + 1 + ncode;
	cfg.len = size - 1 - ncode;
	if (data[0] & 0x80) {
		/* Its own allocation of the exact size: ASan sees a read
		 * past the end of the trace.
		 */
		trace = malloc(sizeof(fuzz_prefix) + cfg.len);
		if (!trace)
			goto out_img;
		memcpy(trace, fuzz_prefix, sizeof(fuzz_prefix));
		memcpy(trace + sizeof(fuzz_prefix), cfg.buf, cfg.len);
		cfg.buf = trace;
		cfg.len += sizeof(fuzz_prefix);
	}
	cfg.image = img;
	fuzz_one(&cfg, sa_ipt__new);
	fuzz_one(&cfg, sa_fpt__new);
	free(trace);
out_img:
	sa_image__free(img);
	return 0;
}
