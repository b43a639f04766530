// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the ELF side of the image and the site map: the
 * input is written to a memfd and loaded both as `--binary` and as an
 * MMAP2 record would map it, and then by two images sharing an analysis
 * cache (the second at another bias); then every symbol is looked up,
 * its source line asked for and its function disassembled.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Iinclude \
 *     -Isrc/image tests/fuzz/fuzz_elf.c src/image/image.c \
 *     src/sites/sites.c src/util/error.c src/util/log.c \
 *     -lelf -ldw -lcapstone
 *
 * Seeds: tests/fuzz/corpus/fuzz_elf (tiny ELF files, see
 * tests/fuzz/README).  Run with -max_len=4096: the seeds are smaller.
 *
 * Per input the work is bounded: the memfd is made once, and the walk
 * asks each function once (line, disassembly) and steps over symbols,
 * 256 probes of the first 16 KiB instead of 4096 of 64 KiB (the seeds'
 * code is in their first 4 KiB).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sensor/image.h"
#include "sensor/log.h"
#include "sensor/sites.h"

static volatile uint64_t sink;

static void walk(struct sa_image *img)
{
	struct sa_sitemap *map = sa_sitemap__new(img);
	const struct sa_dso *d;
	size_t i, k;

	for (i = 0; (d = sa_image_dso_at(img, i)); i++) {
		const struct sa_sym *last = NULL;
		uint64_t base = d->bias + 0x400000 * !d->pie;

		/* The first 16 KiB above the bias, one probe every 64 bytes
		 * or the end of the symbol found.
		 */
		for (k = 0; k < 0x4000;) {
			uint64_t a = base + k;
			const struct sa_sym *s = sa_image_symbolize(img, a);
			const struct sa_fmap *fm;
			const char *file;
			int line;
			uint8_t b[16];

			if (sa_image_read(img, a, b, sizeof(b)) > 0)
				sink += b[0];
			k += 64;
			if (!s || s == last)
				continue;
			last = s;
			sink += s->start + s->size;
			if (s->size && s->start + s->size > a &&
			    s->start + s->size - base > k)
				k = (s->start + s->size - base + 15) & ~15ull;
			if (!sa_image_srcline(img, a, &file, &line))
				sink += line;
			fm = sa_sitemap_function(map, a, SA_ISA_UNKNOWN);
			if (fm && fm->nr_sites)
				sink += fm->sites[fm->nr_sites - 1].target;
		}
	}
	sa_sitemap__free(map);
}

static int fuzz_fd = -1;
static char fuzz_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	sa_set_print(NULL);
	fuzz_fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	if (fuzz_fd < 0)
		abort();
	snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sa_image_cache *cache;
	struct sa_errinfo ei;
	struct sa_image *img, *img2;

	/* libelf maps or reads the file afresh for every load. */
	if (ftruncate(fuzz_fd, 0) ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		return 0;

	img = sa_image__new(SA_ARCH_UNKNOWN);
	if (img && !sa_image_load_elf(img, fuzz_path, UINT64_MAX, &ei))
		walk(img);
	sa_image__free(img);

	img = sa_image__new(SA_ARCH_UNKNOWN);
	if (img && !sa_image_add_elf(img, fuzz_path, 0x555555554000ULL,
				     0x10000, 0, data, size < 20 ? size : 20,
				     &ei))
		walk(img);
	sa_image__free(img);

	/* Through an analysis cache: a second image at another bias gets
	 * a re-biased copy, and outlives the first image and the cache.
	 */
	cache = sa_image_cache__new();
	img = sa_image__new(SA_ARCH_UNKNOWN);
	img2 = sa_image__new(SA_ARCH_UNKNOWN);
	if (cache && img && img2 && !sa_image_set_cache(img, cache) &&
	    !sa_image_set_cache(img2, cache) &&
	    !sa_image_add_elf(img, fuzz_path, 0x555555554000ULL, 0x10000, 0,
			      NULL, 0, &ei)) {
		walk(img);
		if (!sa_image_add_elf(img2, fuzz_path, 0x7f0000000000ULL,
				      0x10000, 0, NULL, 0, &ei)) {
			sa_image__free(img);
			img = NULL;
			sa_image_cache__free(cache);
			cache = NULL;
			walk(img2);
		}
	}
	sa_image__free(img);
	sa_image__free(img2);
	sa_image_cache__free(cache);
	return 0;
}
