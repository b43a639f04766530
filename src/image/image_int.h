/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Internal to src/image: the structures of an image, its binaries and
 * the analysis cache, and the functions its files share.  Only the
 * files of src/image include it (src/sites has image_priv.h).
 */
#ifndef SA_IMAGE_INT_H
#define SA_IMAGE_INT_H

#include <gelf.h>
#include <libelf.h>
#include <elfutils/libdw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "sensor/image.h"
#include "image_priv.h"

/* Caps on what one image may grow to (every growing buffer has one). */
#define SA_IMAGE_FILE_MAX	(1ULL << 30)	/* bytes per mapped file */
#define SA_IMAGE_SECTIONS_MAX	(1U << 16)
#define SA_IMAGE_DSOS_MAX	4096U
#define SA_IMAGE_SYMS_MAX	(1U << 22)	/* per dso */
#define SA_IMAGE_LINES_MAX	(1U << 20)	/* srcline cache entries */
#define SA_IMAGE_PATHS_MAX	(1U << 14)	/* source files per dso */
#define SA_IMAGE_REGIONS_MAX	(1U << 16)	/* mappings without a file */
#define SA_IMAGE_CACHE_MAX	256U		/* binaries kept by a cache */

/* A symbol with what the lookups need beyond the public part. */
struct sa_isym {
	struct sa_sym pub;
	uint64_t end;
	const char *demangled;	/* once dm_tried; owned by the dso's strs */
	uint8_t bind;
	uint8_t type;
	bool thumb;
	bool dm_tried;
};

/* One mapped file (an ELF binary or a raw file); unmapped on free. */
struct sa_filemap {
	void *base;
	size_t size;
};

struct sa_cu_range {
	uint64_t lo, hi;	/* [lo, hi), ELF addresses */
	size_t cu;		/* index in cus */
};

struct sa_path {
	const char *name;	/* libdw's */
	char *full;
};

/* An Arm mapping symbol: what the bytes from @addr on are. */
struct sa_mapsym {
	uint64_t addr;		/* runtime address (biased once read) */
	char kind;		/* 'a' A32, 't' T32, 'd' data, 'x' A64 */
};

/* Another name of a symbol kept at the same address. */
struct sa_alias {
	const char *name;
	size_t sym;		/* index in syms */
};

struct sa_idso {
	struct sa_dso pub;
	char *path;
	char *file;
	int fd;
	struct sa_filemap fm;
	Elf *elf;
	GElf_Ehdr ehdr;
	char *dbg_file;		/* separate debug file, if found */
	int dbg_fd;
	struct sa_filemap dbg_fm;
	Elf *dbg_elf;
	Dwarf *dw;
	bool dw_tried;
	Dwarf_Die *cus;		/* CU DIEs (no .debug_aranges) */
	size_t nr_cus;
	struct sa_cu_range *cu_ranges;	/* sorted by lo */
	size_t nr_cu_ranges;
	bool cus_tried;
	struct sa_path *paths;	/* line-table names joined to comp_dir */
	size_t nr_paths, cap_paths;
	struct sa_isym *syms;	/* sorted by start */
	size_t nr_syms;
	struct sa_alias *aliases; /* names dropped for a better one */
	size_t nr_aliases;
	struct sa_mapsym *mapsyms; /* Arm: $a $t $d $x, sorted */
	size_t nr_mapsyms, cap_mapsyms;
	char **strs;		/* names made here: "x@plt", demangled */
	size_t nr_strs, cap_strs;
	/* Sharing through a cache: every image holding the dso and the
	 * cache hold a reference.  The key is the trace's path, the symfs,
	 * the bias and the file (its build-id, or device, inode, size and
	 * mtime).
	 */
	unsigned int refs;
	bool cached;		/* indexed by a cache */
	char *symfs;
	struct stat st;		/* of the file, when opened */
	uint64_t last_use;	/* the cache's clock */
	uint64_t dw_opens;	/* DWARF sessions begun (0 or 1) */
	struct sa_lcache *lcache; /* on-disk line cache, or NULL */
	struct sa_dso_store store;
	struct sa_dso_store dec;	/* a decoder's (sa_dso_analysis()) */
	/* A re-biased copy (the same file at another load bias, as after a
	 * restart with ASLR): its symbols are @core's moved by the bias
	 * difference; file, ELF, debug file and DWARF are @core's
	 * (borrowed, a reference held).
	 */
	struct sa_idso *core;
};

struct sa_section {
	uint64_t start, end;	/* [start, end) */
	const uint8_t *data;	/* the byte at start */
	struct sa_idso *dso;	/* NULL for raw files and buffers */
};

struct sa_line {
	uint64_t addr;		/* 0: empty slot */
	const char *file;	/* NULL: no line information */
	int line;
};

struct sa_image {
	enum sa_arch arch;
	char *symfs;
	struct sa_section *secs;	/* sorted by start, disjoint */
	size_t nr_secs, cap_secs;
	struct sa_idso **dsos;		/* load order */
	size_t nr_dsos, cap_dsos;
	struct sa_filemap *raws;
	size_t nr_raws, cap_raws;
	struct sa_line *lines;		/* open addressing, 2^n slots */
	size_t nr_lines, cap_lines;
	struct sa_region *regions;	/* code without a file: [vdso], ... */
	size_t nr_regions;
	struct sa_image_cache *cache;	/* a reference, or NULL */
};

/* Analysed binaries shared by the images of one cache; see image.h. */
struct sa_image_cache {
	unsigned int refs;
	struct sa_idso **dsos;
	size_t nr_dsos, cap_dsos;
	uint64_t clock;
	struct sa_image_cache_stats st;	/* lookups, hits, builds, evictions */
	uint64_t gone_dw_opens;		/* of evicted dsos */
	char *dir;			/* of the on-disk line caches */
	uint64_t gone_fmaps;
};

static inline const struct sa_isym *to_isym(const struct sa_sym *s)
{
	return (const struct sa_isym *)((const char *)s -
					offsetof(struct sa_isym, pub));
}

/* image.c */
void sa_filemap_fini(struct sa_filemap *fm);
int sa_grow(void **arr, size_t *cap, size_t nr, size_t esz, size_t max);
const struct sa_section *sa_sec_find(const struct sa_image *img,
				     uint64_t addr);
int sa_sec_add(struct sa_image *img, uint64_t start, uint64_t len,
	       const uint8_t *data, struct sa_idso *dso);
int sa_map_fd(int fd, const char *path, struct sa_filemap *fm,
	      struct sa_errinfo *ei);
int sa_map_file(const char *path, int *fdp, struct sa_filemap *fm,
		struct sa_errinfo *ei);

/* elf.c */
void sa_idso__free(struct sa_idso *d);
void sa_idso_put(struct sa_idso *d);
const char *sa_arch_name(enum sa_arch a);
int sa_dso_open(struct sa_image *img, const char *path,
		struct sa_idso **out, struct sa_errinfo *ei);
int sa_image_add_dso(struct sa_image *img, struct sa_idso *d,
		     struct sa_errinfo *ei);
int sa_elf_open_path(const char *path, int *fdp, Elf **elfp,
		     struct sa_errinfo *ei);

/* buildid.c */
void sa_elf_build_id(Elf *elf, uint8_t *id, uint8_t *len);
bool sa_build_id_equal(const struct sa_dso *d, const uint8_t *id,
		       size_t len);
void sa_dso_check_build_id(struct sa_idso *d, const uint8_t *id,
			   size_t len);

/* debuglink.c */
void sa_dso_find_debug(struct sa_image *img, struct sa_idso *d);

/* symbols.c */
int sa_dso_read_syms(struct sa_idso *d);

/* cache.c */
void sa_cache_drop(struct sa_image_cache *c, size_t i);
struct sa_idso *sa_cache_find(struct sa_image *img, const char *path,
			      const uint8_t *bid, size_t bid_len,
			      uint64_t bias, bool any_bias);
void sa_cache_insert(struct sa_image_cache *c, struct sa_idso *d,
		     const char *symfs);
int sa_image_get_dso(struct sa_image *img, const char *path,
		     uint64_t bias, const uint8_t *bid, size_t bid_len,
		     struct sa_idso **out, struct sa_errinfo *ei);

/* linecache.c */
void sa_lcache_attach(struct sa_idso *d, const char *dir);
int sa_lcache_find(const struct sa_idso *d, uint64_t addr, const char **file,
		   int *line);
void sa_lcache_add(struct sa_idso *d, uint64_t addr, const char *file,
		   int line);
void sa_lcache_close(struct sa_idso *d);

#endif /* SA_IMAGE_INT_H */
