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
 * and the stream ends with exactly one SA_GAP_END.  The fast backend runs
 * a second time with its counted output (sa_fpt_set_counter(), flags
 * made up from the edge so that ordered and deciding edges occur): the
 * same accounting, and the same instructions, errors and lost bytes as
 * with its elements.
 */
#include <stdbool.h>
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

struct fuzz_sums {
	bool done;		/* decoded to the end, under the cap */
	uint64_t insns, errors, lost;
	uint64_t counted;	/* passes handed to the counter */
};

static int fuzz_flags(void *ctx, const struct sa_elem *r, uint64_t next)
{
	(void)ctx;
	return (int)((r->start ^ r->last ^ next) >> 1) & 3;
}

static int fuzz_add(void *ctx, const struct sa_elem *r, uint64_t next,
		    uint64_t count)
{
	struct fuzz_sums *s = ctx;

	(void)next;
	if (r->kind != SA_ELEM_RANGE || !r->ninsn || r->last < r->start ||
	    !count)
		abort();
	s->insns += r->ninsn * count;
	s->counted += count;
	return 0;
}

static int fuzz_resolve(void *ctx, uint16_t stream, uint64_t next)
{
	(void)ctx;
	(void)stream;
	(void)next;
	return 0;
}

/* Decodes with one backend (@counted: the fast one's counted output) and
 * checks its accounting.
 */
static void fuzz_one(const struct sa_ipt_config *cfg,
		     struct sa_dec *(*mk)(const struct sa_ipt_config *,
					  struct sa_errinfo *),
		     bool counted, struct fuzz_sums *sum)
{
	uint64_t errors = 0, lost = 0, insns = 0, ends = 0, n = 0;
	struct sa_dec_counter ctr = {
		.flags = fuzz_flags,
		.add = fuzz_add,
		.resolve = fuzz_resolve,
		.ctx = sum,
	};
	const struct sa_dec_stats *st;
	struct sa_dec *dec;
	struct sa_elem e;
	int ret = 0;

	memset(sum, 0, sizeof(*sum));
	dec = mk(cfg, NULL);
	if (!dec)
		return;
	if (counted && sa_fpt_set_counter(dec, &ctr))
		abort();
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
	/* counted passes: a cap on elements is no cap on them */
	if (n < FUZZ_MAX_ELEMS && sum->counted < FUZZ_MAX_ELEMS) {
		if (ret != 0 || ends != 1 || errors != st->errors ||
		    lost != st->lost_bytes || insns + sum->insns != st->insns)
			abort();
		sum->done = true;
		sum->insns += insns;
		sum->errors = errors;
		sum->lost = lost;
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
	struct fuzz_sums s1, s2;
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
	fuzz_one(&cfg, sa_ipt__new, false, &s1);
	fuzz_one(&cfg, sa_fpt__new, false, &s1);
	fuzz_one(&cfg, sa_fpt__new, true, &s2);
	if (s1.done && s2.done &&
	    (s1.insns != s2.insns || s1.errors != s2.errors ||
	     s1.lost != s2.lost))
		abort();
	free(trace);
out_img:
	sa_image__free(img);
	return 0;
}
