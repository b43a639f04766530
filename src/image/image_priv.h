/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private: what the site map (src/sites) needs from the image beyond the
 * public interface.  Not for the command-line tool.
 */
#ifndef SA_IMAGE_PRIV_H
#define SA_IMAGE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "sensor/image.h"

/* Returns the end (exclusive) of @sym's extent: start + size for a sized
 * symbol, else the next symbol or the end of its ELF section.
 */
uint64_t sa_sym_end(const struct sa_sym *sym);

/* True when @sym is an Arm Thumb function (bit 0 of st_value was set, or
 * a $t mapping symbol covers its start).
 */
bool sa_sym_thumb(const struct sa_sym *sym);

/* Sets [*@start, *@end) to the bounds of the contiguous mapped range that
 * holds @addr (one section).  Returns 0 or -SA_ERR_NOMAP.
 */
int sa_image_section_bounds(const struct sa_image *img, uint64_t addr,
			    uint64_t *start, uint64_t *end);

/* Returns the start of the first symbol of the dso mapping @addr that
 * starts strictly after @addr, or UINT64_MAX.
 */
uint64_t sa_image_next_sym_start(const struct sa_image *img, uint64_t addr);

/* Arm mapping symbols: what the bytes at @addr are, 'a' (A32), 't'
 * (T32), 'd' (data: literal pools, jump tables) or 'x' (A64), or 0 when
 * no mapping symbol says.  *@next is set to the address of the next
 * mapping symbol above @addr, or UINT64_MAX.
 */
char sa_image_code_kind(const struct sa_image *img, uint64_t addr,
			uint64_t *next);

/* What other modules build from a binary's bytes (the site maps of its
 * functions), kept with the binary and freed with it by @free_fn.
 * @built counts what was built, for sa_image_cache_stats().
 */
struct sa_dso_store {
	void *data;
	void (*free_fn)(void *data);
	uint64_t built;
};

/* The store of @dso when it is shared through an image cache (so that
 * what is kept there serves every image of the cache), else NULL.
 */
struct sa_dso_store *sa_dso_store(const struct sa_dso *dso);

#endif /* SA_IMAGE_PRIV_H */
