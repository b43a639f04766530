// SPDX-License-Identifier: BSD-2-Clause
/*
 * A minimal sa_image for the ipt tests, linked only while the image module
 * (src/image) is not in the build: caller-owned buffers at addresses,
 * read as sensor/image.h specifies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/image.h"

#define FIX_MAX_BUFS 64

struct sa_image {
	struct {
		const uint8_t *buf;
		size_t len;
		uint64_t addr;
	} b[FIX_MAX_BUFS];
	size_t n;
};

struct sa_image *sa_image__new(enum sa_arch arch)
{
	return calloc(1, sizeof(struct sa_image));
}

void sa_image__free(struct sa_image *img)
{
	free(img);
}

int sa_image_add_buffer(struct sa_image *img, const void *buf, size_t len,
			uint64_t addr)
{
	if (img->n >= FIX_MAX_BUFS)
		return -SA_ERR_TOOBIG;
	img->b[img->n].buf = buf;
	img->b[img->n].len = len;
	img->b[img->n].addr = addr;
	img->n++;
	return 0;
}

int sa_image_read(const struct sa_image *img, uint64_t addr, void *buf,
		  size_t len)
{
	size_t i, n;

	/* Later buffers shadow earlier ones, as later mappings do. */
	for (i = img->n; i-- > 0;) {
		if (addr < img->b[i].addr ||
		    addr - img->b[i].addr >= img->b[i].len)
			continue;
		n = img->b[i].len - (size_t)(addr - img->b[i].addr);
		if (n > len)
			n = len;
		memcpy(buf, img->b[i].buf + (addr - img->b[i].addr), n);
		return (int)n;
	}
	return -SA_ERR_NOMAP;
}
