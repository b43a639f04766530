// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the ELF side of the image and the site map: the
 * input is written to a memfd and loaded both as `--binary` and as an
 * MMAP2 record would map it; then every symbol is looked up, its source
 * line asked for and its function disassembled.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Iinclude \
 *     -Isrc/image tests/fuzz/fuzz_elf.c src/image/image.c \
 *     src/sites/sites.c src/util/error.c src/util/log.c \
 *     -lelf -ldw -lcapstone
 *
 * Seeds: any small ELF files (the test programs of tests/image, the
 * binaries of ../shared/traces).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
		/* the first 64 KiB above the bias, one lookup every 16 bytes */
		for (k = 0; k < 0x10000; k += 16) {
			uint64_t a = d->bias + 0x400000 * !d->pie + k;
			const struct sa_sym *s = sa_image_symbolize(img, a);
			const struct sa_fmap *fm;
			const char *file;
			int line;
			uint8_t b[16];

			if (sa_image_read(img, a, b, sizeof(b)) > 0)
				sink += b[0];
			if (!s)
				continue;
			sink += s->start + s->size;
			if (!sa_image_srcline(img, a, &file, &line))
				sink += line;
			fm = sa_sitemap_function(map, a, SA_ISA_UNKNOWN);
			if (fm && fm->nr_sites)
				sink += fm->sites[fm->nr_sites - 1].target;
		}
	}
	sa_sitemap__free(map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct sa_errinfo ei;
	struct sa_image *img;
	int fd;

	sa_set_print(NULL);
	fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	img = sa_image__new(SA_ARCH_UNKNOWN);
	if (img && !sa_image_load_elf(img, path, UINT64_MAX, &ei))
		walk(img);
	sa_image__free(img);

	img = sa_image__new(SA_ARCH_UNKNOWN);
	if (img && !sa_image_add_elf(img, path, 0x555555554000ULL, 0x10000, 0,
				     data, size < 20 ? size : 20, &ei))
		walk(img);
	sa_image__free(img);
	close(fd);
	return 0;
}
