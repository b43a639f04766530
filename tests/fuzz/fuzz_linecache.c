// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the on-disk line cache (src/image/linecache.c):
 * the input is written as the DIR/BUILDID.lines file of the seed binary
 * tests/fuzz/corpus/fuzz_elf/tiny-static, which a cache with that
 * directory then reads; the lines of the addresses the input names and
 * of the binary's code are asked for, and the file is written back when
 * the cache is freed.
 *
 * An input of at least the header's 56 bytes gets the binary's build-id
 * and the checksum of its body patched in (unless its first byte is
 * 'X'), so that mutations reach the checks behind them (sizes, order,
 * indexes, names) instead of all failing the checksum.
 *
 * Seeds: tests/fuzz/corpus/fuzz_linecache (tests/fuzz/mkseeds.py).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/image.h"
#include "sensor/log.h"

#define HDR_SIZE	56	/* struct sa_lc_hdr */
#define OFF_BID		8
#define OFF_BID_LEN	28
#define OFF_NR_ENTS	36
#define OFF_SUM		48
#define ENT_SIZE	16

static char dir[64], file[200];
static uint8_t bid[SA_BUILD_ID_MAX];
static int bid_len;
static volatile uint64_t sink;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static void cleanup(void)
{
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char hex[2 * SA_BUILD_ID_MAX + 1];

	(void)argc;
	(void)argv;
	sa_set_print(NULL);
	snprintf(dir, sizeof(dir), "/tmp/sa-fuzz-lines-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	bid_len = sa_build_id_read(SA_FUZZ_TINY, bid, sizeof(bid));
	if (bid_len <= 0)
		abort();
	snprintf(file, sizeof(file), "%s/%s.lines", dir,
		 sa_build_id_str(bid, bid_len, hex, sizeof(hex)));
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sa_image_cache *c;
	struct sa_image *img;
	struct sa_errinfo ei;
	uint8_t *buf;
	uint32_t nr = 0, u32 = 0;
	uint64_t a, sum;
	FILE *f;
	size_t i;

	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (size >= HDR_SIZE && buf[0] != 'X') {
		memset(buf + OFF_BID, 0, SA_BUILD_ID_MAX);
		memcpy(buf + OFF_BID, bid, bid_len);
		u32 = (uint32_t)bid_len;
		memcpy(buf + OFF_BID_LEN, &u32, 4);
		sum = fnv1a(buf + HDR_SIZE, size - HDR_SIZE);
		memcpy(buf + OFF_SUM, &sum, 8);
	}
	f = fopen(file, "wb");
	if (!f || fwrite(buf, 1, size, f) != size || fclose(f))
		abort();
	c = sa_image_cache__new();
	img = sa_image__new(SA_ARCH_UNKNOWN);
	if (!c || !img || sa_image_cache_set_dir(c, dir) ||
	    sa_image_set_cache(img, c) ||
	    sa_image_load_elf(img, SA_FUZZ_TINY, UINT64_MAX, &ei))
		abort();
	if (size >= HDR_SIZE)
		memcpy(&nr, buf + OFF_NR_ENTS, 4);
	/* the addresses the entries name, then the binary's code */
	for (i = 0; i < nr && i < 64 &&
	     HDR_SIZE + (i + 1) * ENT_SIZE <= size; i++) {
		const char *fn;
		int line;

		memcpy(&a, buf + HDR_SIZE + i * ENT_SIZE, 8);
		if (!sa_image_srcline(img, a, &fn, &line))
			sink += strlen(fn) + (uint64_t)line;
	}
	for (a = 0x40010c; a < 0x40015b; a++) {
		const char *fn;
		int line;

		if (!sa_image_srcline(img, a, &fn, &line))
			sink += strlen(fn) + (uint64_t)line;
	}
	sa_image__free(img);
	sa_image_cache__free(c);	/* writes the file back */
	unlink(file);
	free(buf);
	return 0;
}
