/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: the branch-site map.
 *
 * For each function that the trace touches, capstone disassembles the whole
 * function once and records every control-transfer instruction (a "site"):
 * its class, target and fall-through, instruction text and file:line.  An
 * instruction capstone cannot decode is recorded as SA_IC_UNKNOWN and the
 * sweep resynchronises after it; it never ends the function's analysis.
 */
#ifndef SENSOR_SITES_H
#define SENSOR_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "sensor/flow.h"
#include "sensor/image.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sa_sitemap;

#define SA_INSN_TEXT_MAX 64

struct sa_site {
	uint64_t addr;		/* runtime address */
	uint64_t target;	/* direct target, 0 if indirect or none */
	uint64_t fallthrough;	/* addr + size */
	uint8_t size;
	uint8_t iclass;		/* enum sa_iclass */
	uint8_t isa;		/* enum sa_isa */
	int line;		/* 0 when unknown */
	const char *file;	/* NULL when unknown; owned by the image */
	char text[SA_INSN_TEXT_MAX]; /* "jne 0x401136" */
};

/* The sites of one function, sorted by address. */
struct sa_fmap {
	const struct sa_sym *sym;	/* NULL for an anonymous region */
	uint64_t start, end;		/* [start, end) disassembled */
	enum sa_isa isa;
	size_t nr_sites;
	const struct sa_site *sites;
	size_t nr_insns;		/* instructions decoded */
	size_t nr_undecodable;		/* bytes capstone could not decode */
};

/* Creates a map over @img (borrowed: it must outlive the map). */
struct sa_sitemap *sa_sitemap__new(struct sa_image *img);
void sa_sitemap__free(struct sa_sitemap *map);

/* Returns the map of the function that holds @addr, disassembling it on
 * first use with @isa (SA_ISA_UNKNOWN: the image's default).  When @addr
 * has no symbol, an anonymous region around the mapped bytes is used.
 * Returns NULL (and sets errno) only when @addr is not mapped.
 */
const struct sa_fmap *sa_sitemap_function(struct sa_sitemap *map,
					  uint64_t addr, enum sa_isa isa);

/* Returns the site at exactly @addr in @fm, or NULL. */
const struct sa_site *sa_fmap_site(const struct sa_fmap *fm, uint64_t addr);

/* Returns the index of the first site of @fm at or after @addr
 * (fm->nr_sites when none).
 */
size_t sa_fmap_lower_bound(const struct sa_fmap *fm, uint64_t addr);

/* Disassembles the single instruction at @addr into @site (class, target,
 * text) without caching.  Returns its size, or a negative error:
 * -SA_ERR_NOMAP, -SA_ERR_DECODE.
 */
int sa_sitemap_decode_one(struct sa_sitemap *map, uint64_t addr,
			  enum sa_isa isa, struct sa_site *site);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_SITES_H */
