// SPDX-License-Identifier: BSD-2-Clause
/*
 * Regions: code without a file to read ([vdso], [anon], [jit], ...),
 * recorded by range under the bucket of its MMAP2 name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/image.h"
#include "image_int.h"

/* The bucket of a mapping without a file, by its perf (MMAP2) name. */
static const char *sa_region_kind(const char *name)
{
	if (!name || !name[0] || !strncmp(name, "//anon", 6) ||
	    !strncmp(name, "[anon", 5))
		return "[anon]";
	if (!strncmp(name, "[stack", 6))
		return "[stack]";
	if (!strcmp(name, "[heap]"))
		return "[heap]";
	if (!strcmp(name, "[vdso]") || !strcmp(name, "[vsyscall]"))
		return name;
	/* memfd and /tmp/perf-PID.map style JIT code, and the rest */
	return "[jit]";
}

int sa_image_add_region(struct sa_image *img, const char *name,
			uint64_t start, uint64_t len)
{
	struct sa_region *r;
	const char *kind = sa_region_kind(name);

	if (!len || start + len < start)
		return -SA_ERR_INVAL;
	if (img->nr_regions >= SA_IMAGE_REGIONS_MAX)
		return -SA_ERR_TOOBIG;
	r = realloc(img->regions, (img->nr_regions + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	img->regions = r;
	r = &r[img->nr_regions];
	r->start = start;
	r->len = len;
	r->name = strdup(kind);
	if (!r->name)
		return -ENOMEM;
	img->nr_regions++;
	return 0;
}

const struct sa_region *sa_image_region(const struct sa_image *img,
					uint64_t addr)
{
	size_t i;

	if (!img)
		return NULL;
	/* the last record wins, as for MMAP records of files */
	for (i = img->nr_regions; i-- > 0;)
		if (addr - img->regions[i].start < img->regions[i].len)
			return &img->regions[i];
	return NULL;
}
