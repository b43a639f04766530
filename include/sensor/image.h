/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: the traced process image, its binaries and symbols.
 *
 * An image is the address space of one traced process: a set of sections,
 * each mapping bytes of a file (an ELF binary, a flat raw file, a memory
 * dump) or of a caller-owned buffer at a runtime address.  Every
 * target-memory read of every decoder goes through sa_image_read(), so
 * tests can give fixture memory (as libipt's read_memory_callback_t).
 *
 * ELF sections also bring symbols (symtab and dynsym), the load bias of
 * PIE and shared objects, the build-id, and file:line from DWARF (libdw).
 */
#ifndef SENSOR_IMAGE_H
#define SENSOR_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sa_image;

#define SA_BUILD_ID_MAX 20

enum sa_arch {
	SA_ARCH_UNKNOWN = 0,
	SA_ARCH_X86_64,
	SA_ARCH_X86,
	SA_ARCH_AARCH64,
	SA_ARCH_ARM,
};

/* One binary (an ELF file) loaded into the image.  Owned by the image. */
struct sa_dso {
	const char *path;	/* the path the trace names (MMAP2 filename) */
	const char *file;	/* the file actually read (after --symfs) */
	enum sa_arch arch;
	bool pie;		/* ET_DYN: addresses are biased */
	uint64_t bias;		/* runtime address - ELF virtual address */
	uint8_t build_id[SA_BUILD_ID_MAX];
	uint8_t build_id_len;	/* 0 when the file has none */
	bool build_id_mismatch; /* the trace expected another build-id */
};

/* A function symbol.  Owned by the image.
 *
 * @name is the linkage name, as the symbol table spells it (mangled for
 * C++ and Rust); PLT entries of x86-64 and AArch64 binaries are named
 * "SYMBOL@plt" after the dynamic symbol of the GOT slot they jump
 * through, as objdump -d prints them.  sa_sym_demangled() gives the
 * demangled name.
 */
struct sa_sym {
	const char *name;
	uint64_t start;		/* runtime address */
	uint64_t size;		/* 0 for labels: extends to the next symbol */
	const struct sa_dso *dso;
};

/* Returns @sym's name demangled by libiberty with DMGL_PARAMS |
 * DMGL_ANSI, as objdump -d -C and c++filt -i print it (a "@plt" suffix
 * kept), or NULL when the name is not a C++ or Rust one (or cannot be
 * demangled).  Made on first use and kept by the image, which owns the
 * string: like every lookup, not to be called on one image from two
 * threads at once.
 */
const char *sa_sym_demangled(const struct sa_sym *sym);

/* Creates an empty image for @arch (SA_ARCH_UNKNOWN: taken from the first
 * ELF added).  Returns NULL and sets errno on failure.
 */
struct sa_image *sa_image__new(enum sa_arch arch);

/* Frees @img and every section, dso and symbol.  Accepts NULL. */
void sa_image__free(struct sa_image *img);

enum sa_arch sa_image_arch(const struct sa_image *img);

/* Sets a directory under which every ELF path is looked up first, like
 * perf's --symfs.  @dir is copied.  NULL clears it.
 */
int sa_image_set_symfs(struct sa_image *img, const char *dir);

/* Maps the bytes [@pgoff, @pgoff + @len) of the ELF file @path at the
 * runtime address @start, as an MMAP/MMAP2 record describes it.  Computes
 * the load bias from the PT_LOAD segment that holds @pgoff.  Symbols,
 * build-id and DWARF of the file become available to lookups.
 *
 * @build_id (may be NULL, @build_id_len 0) is the build-id the trace
 * expects.  When the file's differs, a warning names both, the dso is
 * marked, and the mapping is still used (the user may know better).
 *
 * Returns 0, or a negative error with @ei filled: -ENOENT when the file
 * is missing, -SA_ERR_FORMAT when it is not ELF.
 */
int sa_image_add_elf(struct sa_image *img, const char *path, uint64_t start,
		     uint64_t len, uint64_t pgoff, const uint8_t *build_id,
		     size_t build_id_len, struct sa_errinfo *ei);

/* Loads every PT_LOAD segment of the ELF @path, as a loader would, with
 * the first segment's ELF address placed at @base (for ET_EXEC pass the
 * ELF's own address or UINT64_MAX for "as linked").  Used for
 * `--binary PATH[@ADDR]` when the trace has no MMAP records for it.
 */
int sa_image_load_elf(struct sa_image *img, const char *path, uint64_t base,
		      struct sa_errinfo *ei);

/* Maps @size bytes of the file @path, from @offset, at @addr: ptxed's
 * `--raw file[:from[-to]]:addr`, and memory dumps of Arm snapshots.
 * @size 0 maps to the end of the file.
 */
int sa_image_add_raw(struct sa_image *img, const char *path, uint64_t offset,
		     uint64_t size, uint64_t addr, struct sa_errinfo *ei);

/* Maps a caller-owned buffer at @addr.  The buffer must outlive @img. */
int sa_image_add_buffer(struct sa_image *img, const void *buf, size_t len,
			uint64_t addr);

/* Reads up to @len bytes at @addr into @buf.  Stops at the end of the
 * section that holds @addr.  Returns the number of bytes read (> 0), or
 * -SA_ERR_NOMAP when @addr is not mapped.
 */
int sa_image_read(const struct sa_image *img, uint64_t addr, void *buf,
		  size_t len);

/* Returns the function symbol that contains @addr, or NULL.  A symbol of
 * size 0 (an assembler label) covers up to the next symbol or the end of
 * its section.  Both STT_FUNC and STT_NOTYPE symbols in executable
 * sections count, as in perf.
 */
const struct sa_sym *sa_image_symbolize(const struct sa_image *img,
					uint64_t addr);

/* Returns the symbol called @name (first match over the dsos in load
 * order), or NULL.
 */
const struct sa_sym *sa_image_find_symbol(const struct sa_image *img,
					  const char *name);

/* Returns the dso that maps @addr, or NULL. */
const struct sa_dso *sa_image_dso(const struct sa_image *img, uint64_t addr);

/* Looks up the source position of the instruction at @addr in DWARF line
 * tables.  On success sets *@file (owned by the image) and *@line and
 * returns 0; returns -SA_ERR_NOTFOUND when there is no line information.
 */
int sa_image_srcline(struct sa_image *img, uint64_t addr, const char **file,
		     int *line);

/* Code without a file to read: the vDSO, anonymous executable memory
 * (JIT code), as MMAP2 records name them ("[vdso]", "//anon",
 * "/memfd:...", "[stack]", "[heap]").  A region has no symbols; its
 * @name is the bucket that identifies its code across runs: "[vdso]",
 * "[vsyscall]", "[anon]", "[stack]", "[heap]", or "[jit]" for the rest.
 */
struct sa_region {
	uint64_t start, len;	/* runtime addresses */
	const char *name;	/* the bucket */
};

/* Adds a region.  Returns 0, -SA_ERR_INVAL (empty or wrapping),
 * -SA_ERR_TOOBIG (over 65536 regions) or -ENOMEM.
 */
int sa_image_add_region(struct sa_image *img, const char *name,
			uint64_t start, uint64_t len);

/* The region that holds @addr (the latest added), or NULL. */
const struct sa_region *sa_image_region(const struct sa_image *img,
					uint64_t addr);

/* Iterates the dsos in load order; returns NULL past the end. */
const struct sa_dso *sa_image_dso_at(const struct sa_image *img, size_t idx);

/* Reads the GNU build-id note of the ELF file @path (libdw's
 * dwelf_elf_gnu_build_id(): PT_NOTE segments, else SHT_NOTE sections)
 * into @id, at most @max bytes.  The one build-id reader of the project.
 * Returns the length (0: the file has none), -errno, or -SA_ERR_FORMAT
 * when @path is not an ELF file.
 */
int sa_build_id_read(const char *path, uint8_t *id, size_t max);

/* The same for an ELF image in memory (@buf, @len bytes; the vDSO read
 * from a process), which the call only reads.
 */
int sa_build_id_mem(const void *buf, size_t len, uint8_t *id, size_t max);

/* A symbol of an ELF file, found by name (sa_elf_find_symbol). */
struct sa_elf_sym {
	uint64_t value;		/* st_value: the ELF virtual address */
	uint64_t size;		/* st_size (0 for labels) */
	uint64_t offset;	/* file offset: @value moved by its section's
				 * sh_offset - sh_addr, as the kernel's
				 * file-based address filters count;
				 * UINT64_MAX without a section (SHN_ABS) */
	unsigned int type;	/* STT_FUNC, STT_OBJECT, ... */
};

/* sa_elf_find_symbol() @flags: only functions (STT_FUNC, STT_GNU_IFUNC)
 * defined in a section; without it, any defined symbol of non-zero value.
 */
#define SA_ELF_SYM_FUNC 0x1u

/* Looks the symbol @name up in the ELF file @path as perf resolves an
 * address filter: in .symtab, else (no match there: stripped) in
 * .dynsym.  A match at the file offset of the one before is an alias
 * and counts once.  Fills the first @max matches into @out in table
 * order and returns how many there are (possibly more than @max; 0:
 * none), or a negative error with @ei filled: -errno when @path cannot
 * be opened, -SA_ERR_FORMAT when it is not ELF.
 */
int sa_elf_find_symbol(const char *path, const char *name,
		       unsigned int flags, struct sa_elf_sym *out, size_t max,
		       struct sa_errinfo *ei);

/* A loadable segment (PT_LOAD) of an ELF file. */
struct sa_elf_seg {
	uint64_t offset, vaddr, filesz, memsz;
	uint32_t flags;		/* PF_R, PF_W, PF_X */
};

/* Reads the PT_LOAD program headers of the ELF file @path, the first
 * @max into @out, in file order.  Returns how many there are, or an
 * error as sa_elf_find_symbol().
 */
int sa_elf_segments(const char *path, struct sa_elf_seg *out, size_t max,
		    struct sa_errinfo *ei);

/*
 * The analysis cache: binaries analysed once and shared by every image
 * that names them (the windows of the live loop, of `baseline add` and
 * of `analyze`), as libipt's pt_image_section_cache and libdwfl's Dwfl.
 * What is shared per binary: the mapped file and its ELF headers, the
 * build-id, the separate debug file, the sorted symbols, the DWARF line
 * tables (opened on the first line lookup) and the site maps of its
 * functions (src/sites).
 *
 * An entry is found by the trace's path, the symfs, the load bias and
 * the file: its build-id when the trace gives one (MMAP2 or a build-id
 * record), else the file's device, inode, size and mtime, so a binary
 * replaced on disk is analysed again.  A file whose build-id is not the
 * one the trace expects is analysed for its image only, never cached.
 *
 * Reference counted: the creator and every image that uses the cache
 * hold a reference, and every image holds a reference to each cached
 * binary it maps, so binaries outlive the cache while an image needs
 * them.  Up to 256 binaries are kept; beyond, the least recently used
 * that no image holds is dropped.  Not for two threads at once.
 */
struct sa_image_cache;

struct sa_image_cache_stats {
	uint64_t lookups;	/* binaries images asked for */
	uint64_t hits;		/* found analysed */
	uint64_t builds;	/* opened and analysed (symbols read) */
	uint64_t rebiased;	/* copies of an analysis at another load
				 * bias (symbols moved, the rest shared) */
	uint64_t entries;	/* held now */
	uint64_t evictions;
	uint64_t dwarf_opens;	/* DWARF sessions begun */
	uint64_t site_maps;	/* function site maps built */
};

/* Returns a new empty cache holding one reference, or NULL (errno). */
struct sa_image_cache *sa_image_cache__new(void);

/* Takes another reference to @c (may be NULL); returns @c. */
struct sa_image_cache *sa_image_cache_get(struct sa_image_cache *c);

/* Drops a reference; the last frees the cache and its references to
 * the binaries (images still holding one keep them).  Accepts NULL.
 */
void sa_image_cache__free(struct sa_image_cache *c);

/* Makes @img take its binaries from @c (NULL: none), holding a
 * reference to it.  Before any binary is added: returns -SA_ERR_INVAL
 * after.
 */
int sa_image_set_cache(struct sa_image *img, struct sa_image_cache *c);

/* Keeps the DWARF line lookups answered for each binary of @c that has
 * a build-id in the file DIR/BUILDID.lines (written when the binary is
 * dropped), and answers from it, without opening DWARF, the lookups a
 * cache before (a sensor before a restart) answered.  A file that does
 * not validate (magic, build-id, sizes, order, checksum) is ignored and
 * rewritten.  @dir must exist; NULL: none (the default).  Before any
 * binary is added.  Returns 0, -EINVAL or -ENOMEM.
 */
int sa_image_cache_set_dir(struct sa_image_cache *c, const char *dir);

/* The counters of @c, summed over its life (dwarf_opens and site_maps
 * include binaries dropped since).
 */
void sa_image_cache_stats(const struct sa_image_cache *c,
			  struct sa_image_cache_stats *st);

/*
 * A decoder's analysis of a binary shared through the cache (the fast
 * Intel PT decoder's control-flow graph, decoders/fastpt), kept with the
 * binary so that every decoder of it finds it, and freed with @free_fn
 * when the binary is dropped.  sa_dso_analysis() returns what was set, or
 * NULL (nothing yet, or @dso is not shared through a cache).
 * sa_dso_set_analysis() returns 0, or -SA_ERR_INVAL (and frees @data)
 * when @dso is not shared through a cache or holds one already.
 */
void *sa_dso_analysis(const struct sa_dso *dso);
int sa_dso_set_analysis(const struct sa_dso *dso, void *data,
			void (*free_fn)(void *data));

/* The address ranges [start, end) @img maps from @dso, by address: the
 * first @max into @start and @end.  Returns how many there are.
 */
size_t sa_image_dso_ranges(const struct sa_image *img,
			   const struct sa_dso *dso, uint64_t *start,
			   uint64_t *end, size_t max);

/* Formats a build-id as lowercase hex into @buf (at least 41 bytes). */
char *sa_build_id_str(const uint8_t *id, size_t len, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_IMAGE_H */
