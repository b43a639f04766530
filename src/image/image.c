// SPDX-License-Identifier: BSD-2-Clause
/*
 * The traced process image: sections of file bytes at runtime addresses,
 * the ELF binaries behind them, their symbols, build-ids and line tables.
 *
 * Files are mapped read-only-private with mmap and every ELF header value
 * that points into the file is checked against the file size before use:
 * the binaries come from the user or from a trace and may be anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <libelf.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <libiberty/demangle.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/image.h"
#include "sensor/file.h"
#include "sensor/log.h"
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
	uint64_t gone_fmaps;
};

static bool sa_elf_ready;

static const struct sa_isym *to_isym(const struct sa_sym *s)
{
	return (const struct sa_isym *)((const char *)s -
					offsetof(struct sa_isym, pub));
}

uint64_t sa_sym_end(const struct sa_sym *sym)
{
	return to_isym(sym)->end;
}

bool sa_sym_thumb(const struct sa_sym *sym)
{
	return to_isym(sym)->thumb;
}

struct sa_image *sa_image__new(enum sa_arch arch)
{
	struct sa_image *img;

	if (!sa_elf_ready) {
		if (elf_version(EV_CURRENT) == EV_NONE) {
			errno = ENOSYS;
			return NULL;
		}
		sa_elf_ready = true;
	}
	img = calloc(1, sizeof(*img));
	if (!img)
		return NULL;
	img->arch = arch;
	return img;
}

static void sa_filemap_fini(struct sa_filemap *fm)
{
	if (fm->base && fm->size)
		munmap(fm->base, fm->size);
	fm->base = NULL;
	fm->size = 0;
}

static void sa_idso_put(struct sa_idso *d);

/* What an analysed dso holds open: DWARF, the ELF handles, the mapped
 * file and its debug file.
 */
static void sa_idso_close(struct sa_idso *d)
{
	if (d->dw)
		dwarf_end(d->dw);
	free(d->cus);
	free(d->cu_ranges);
	for (size_t i = 0; i < d->nr_paths; i++)
		free(d->paths[i].full);
	free(d->paths);
	if (d->elf)
		elf_end(d->elf);
	if (d->dbg_elf)
		elf_end(d->dbg_elf);
	sa_filemap_fini(&d->dbg_fm);
	if (d->dbg_fd >= 0)
		close(d->dbg_fd);
	free(d->dbg_file);
	sa_filemap_fini(&d->fm);
	if (d->fd >= 0)
		close(d->fd);
}

static void sa_idso__free(struct sa_idso *d)
{
	if (!d)
		return;
	if (d->store.free_fn)
		d->store.free_fn(d->store.data);
	if (d->dec.free_fn)
		d->dec.free_fn(d->dec.data);
	free(d->symfs);
	/* a re-biased copy borrows those of its core */
	if (d->core)
		sa_idso_put(d->core);
	else
		sa_idso_close(d);
	free(d->syms);
	free(d->aliases);
	free(d->mapsyms);
	for (size_t i = 0; i < d->nr_strs; i++)
		free(d->strs[i]);
	free(d->strs);
	free(d->path);
	free(d->file);
	free(d);
}

/* Drops a reference; the last one frees (a dso not shared has one). */
static void sa_idso_put(struct sa_idso *d)
{
	if (d && (!d->refs || !--d->refs))
		sa_idso__free(d);
}

void sa_image__free(struct sa_image *img)
{
	size_t i;

	if (!img)
		return;
	for (i = 0; i < img->nr_dsos; i++)
		sa_idso_put(img->dsos[i]);
	sa_image_cache__free(img->cache);
	for (i = 0; i < img->nr_raws; i++)
		sa_filemap_fini(&img->raws[i]);
	free(img->dsos);
	free(img->raws);
	free(img->secs);
	free(img->lines);
	free(img->symfs);
	for (i = 0; i < img->nr_regions; i++)
		free((char *)img->regions[i].name);
	free(img->regions);
	free(img);
}

enum sa_arch sa_image_arch(const struct sa_image *img)
{
	return img ? img->arch : SA_ARCH_UNKNOWN;
}

int sa_image_set_symfs(struct sa_image *img, const char *dir)
{
	char *copy = NULL;

	if (!img)
		return -EINVAL;
	if (dir) {
		copy = strdup(dir);
		if (!copy)
			return -ENOMEM;
	}
	free(img->symfs);
	img->symfs = copy;
	return 0;
}

/* Grows *@arr to hold one more element of @esz bytes, up to @max. */
static int sa_grow(void **arr, size_t *cap, size_t nr, size_t esz, size_t max)
{
	size_t ncap;
	void *p;

	if (nr < *cap)
		return 0;
	if (nr >= max)
		return -SA_ERR_TOOBIG;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > max)
		ncap = max;
	p = reallocarray(*arr, ncap, esz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Index of the first section whose end is above @addr. */
static size_t sa_sec_search(const struct sa_image *img, uint64_t addr)
{
	size_t lo = 0, hi = img->nr_secs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->secs[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct sa_section *sa_sec_find(const struct sa_image *img,
					    uint64_t addr)
{
	size_t i = sa_sec_search(img, addr);

	if (i < img->nr_secs && img->secs[i].start <= addr)
		return &img->secs[i];
	return NULL;
}

/*
 * Adds [start, start + len) and cuts what it overlaps out of the older
 * sections, so that the newest mapping wins as in the kernel (and as in
 * libipt's image): a later MMAP over an older one replaces it.
 */
static int sa_sec_add(struct sa_image *img, uint64_t start, uint64_t len,
		      const uint8_t *data, struct sa_idso *dso)
{
	uint64_t end = start + len;
	struct sa_section *out;
	size_t i, n = 0, cap;

	if (!len)
		return 0;
	if (end < start) {	/* wraps: keep what fits below 2^64 */
		end = UINT64_MAX;
	}
	cap = img->nr_secs + 2;
	if (cap > SA_IMAGE_SECTIONS_MAX)
		return -SA_ERR_TOOBIG;
	out = calloc(cap, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < img->nr_secs; i++) {
		struct sa_section s = img->secs[i];

		if (s.end <= start || s.start >= end) {
			out[n++] = s;
			continue;
		}
		if (s.start < start) {
			out[n] = s;
			out[n++].end = start;
		}
		if (s.end > end) {
			out[n] = s;
			out[n].data = s.data + (end - s.start);
			out[n++].start = end;
		}
	}
	/* insert in order */
	for (i = n; i > 0 && out[i - 1].start > start; i--)
		out[i] = out[i - 1];
	out[i].start = start;
	out[i].end = end;
	out[i].data = data;
	out[i].dso = dso;
	n++;
	free(img->secs);
	img->secs = out;
	img->nr_secs = n;
	img->cap_secs = cap;
	return 0;
}

int sa_image_add_buffer(struct sa_image *img, const void *buf, size_t len,
			uint64_t addr)
{
	if (!img || (!buf && len))
		return -EINVAL;
	return sa_sec_add(img, addr, len, buf, NULL);
}

int sa_image_read(const struct sa_image *img, uint64_t addr, void *buf,
		  size_t len)
{
	const struct sa_section *s;
	uint64_t avail;

	if (!img || (!buf && len))
		return -EINVAL;
	s = sa_sec_find(img, addr);
	if (!s)
		return -SA_ERR_NOMAP;
	avail = s->end - addr;
	if (len > avail)
		len = avail;
	if (len > INT32_MAX)
		len = INT32_MAX;
	memcpy(buf, s->data + (addr - s->start), len);
	return (int)len;
}

int sa_image_section_bounds(const struct sa_image *img, uint64_t addr,
			    uint64_t *start, uint64_t *end)
{
	const struct sa_section *s = sa_sec_find(img, addr);
	size_t i;

	if (!s)
		return -SA_ERR_NOMAP;
	/* Sections split by later mappings may still be adjacent. */
	i = s - img->secs;
	*start = s->start;
	*end = s->end;
	while (i + 1 < img->nr_secs && img->secs[i + 1].start == *end &&
	       img->secs[i + 1].data == s->data + (*end - s->start)) {
		i++;
		*end = img->secs[i].end;
	}
	return 0;
}

/*
 * Opens @path and maps it whole.  On error fills @ei naming @what (the
 * path the user or the trace gave).
 */
static int sa_map_file(const char *path, int *fdp, struct sa_filemap *fm,
		       struct sa_errinfo *ei)
{
	struct stat st;
	void *p;
	int fd, err;

	fd = sa_file_open_input(path, 0);
	if (fd == -ESPIPE || fd == -EISDIR)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
				      "%s: not a regular file (FIFOs, sockets "
				      "and devices are refused)", path);
	if (fd < 0) {
		err = fd;
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "%s: %s%s", path, strerror(-err),
				      err == -ENOENT ?
				      " (give the binary with --binary "
				      "PATH[@ADDR] or its root with --symfs "
				      "DIR)" : "");
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", path,
				      strerror(-err));
	}
	if ((uint64_t)st.st_size > SA_IMAGE_FILE_MAX) {
		close(fd);
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "%s: %" PRIu64 " bytes, more than the "
				      "%llu-byte limit of one image file",
				      path, (uint64_t)st.st_size,
				      SA_IMAGE_FILE_MAX);
	}
	fm->size = st.st_size;
	fm->base = NULL;
	if (fm->size) {
		/*
		 * Private and writable: libelf may convert foreign-endian
		 * headers in place; the file itself is never written.
		 */
		p = mmap(NULL, fm->size, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			 fd, 0);
		if (p == MAP_FAILED) {
			err = -errno;
			close(fd);
			return sa_errinfo_set(ei, err, SA_NO_OFFSET,
					      "%s: mmap: %s", path,
					      strerror(-err));
		}
		fm->base = p;
	}
	*fdp = fd;
	return 0;
}

int sa_image_add_raw(struct sa_image *img, const char *path, uint64_t offset,
		     uint64_t size, uint64_t addr, struct sa_errinfo *ei)
{
	struct sa_filemap fm;
	int fd, err;

	sa_errinfo_clear(ei);
	if (!img || !path)
		return sa_errinfo_set(ei, -EINVAL, SA_NO_OFFSET,
				      "raw image: no path");
	err = sa_grow((void **)&img->raws, &img->cap_raws, img->nr_raws,
		      sizeof(*img->raws), SA_IMAGE_SECTIONS_MAX);
	if (err)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", path,
				      sa_strerror(err));
	err = sa_map_file(path, &fd, &fm, ei);
	if (err)
		return err;
	close(fd);
	if (offset > fm.size) {
		sa_filemap_fini(&fm);
		return sa_errinfo_set(ei, -SA_ERR_INVAL, offset,
				      "%s: offset 0x%" PRIx64 " is past the "
				      "end of the file (%zu bytes)", path,
				      offset, fm.size);
	}
	if (!size)
		size = fm.size - offset;
	if (size > fm.size - offset) {
		sa_filemap_fini(&fm);
		return sa_errinfo_set(ei, -SA_ERR_INVAL, offset,
				      "%s: 0x%" PRIx64 " bytes from offset "
				      "0x%" PRIx64 " go past the end of the "
				      "file (%zu bytes)", path, size, offset,
				      fm.size);
	}
	err = sa_sec_add(img, addr, size, (uint8_t *)fm.base + offset, NULL);
	if (err) {
		sa_filemap_fini(&fm);
		return sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", path,
				      sa_strerror(err));
	}
	img->raws[img->nr_raws++] = fm;
	return 0;
}

static enum sa_arch sa_arch_of(unsigned int machine)
{
	switch (machine) {
	case EM_X86_64:
		return SA_ARCH_X86_64;
	case EM_386:
		return SA_ARCH_X86;
	case EM_AARCH64:
		return SA_ARCH_AARCH64;
	case EM_ARM:
		return SA_ARCH_ARM;
	default:
		return SA_ARCH_UNKNOWN;
	}
}

static const char *sa_arch_name(enum sa_arch a)
{
	switch (a) {
	case SA_ARCH_X86_64:
		return "x86-64";
	case SA_ARCH_X86:
		return "i386";
	case SA_ARCH_AARCH64:
		return "aarch64";
	case SA_ARCH_ARM:
		return "arm";
	default:
		return "unknown";
	}
}

char *sa_build_id_str(const uint8_t *id, size_t len, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (!buf || !size)
		return buf;
	for (i = 0; i < len && o + 2 < size; i++) {
		buf[o++] = hex[id[i] >> 4];
		buf[o++] = hex[id[i] & 0xf];
	}
	buf[o] = '\0';
	return buf;
}

/* The GNU build-id note of @elf, as libdw finds it (PT_NOTE segments,
 * else SHT_NOTE sections: separate debug files have only the section),
 * cut at SA_BUILD_ID_MAX bytes.  The one build-id reader of the project.
 */
static void sa_elf_build_id(Elf *elf, uint8_t *id, uint8_t *len)
{
	const void *p = NULL;
	ssize_t n = dwelf_elf_gnu_build_id(elf, &p);

	*len = 0;
	if (n <= 0 || !p)
		return;
	if (n > SA_BUILD_ID_MAX)
		n = SA_BUILD_ID_MAX;
	memcpy(id, p, (size_t)n);
	*len = (uint8_t)n;
}

int sa_build_id_read(const char *path, uint8_t *id, size_t max)
{
	uint8_t buf[SA_BUILD_ID_MAX], len = 0;
	Elf *elf;
	int fd;

	if (!path || !id)
		return -EINVAL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -SA_ERR_UNSUPPORTED;
	fd = sa_file_open_input(path, 0);
	if (fd == -ESPIPE || fd == -EISDIR)
		return -SA_ERR_FORMAT;
	if (fd < 0)
		return fd;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		close(fd);
		return -SA_ERR_FORMAT;
	}
	sa_elf_build_id(elf, buf, &len);
	elf_end(elf);
	close(fd);
	if (len > max)
		len = (uint8_t)max;
	memcpy(id, buf, len);
	return len;
}

int sa_build_id_mem(const void *buf, size_t len, uint8_t *id, size_t max)
{
	uint8_t bid[SA_BUILD_ID_MAX], n = 0;
	Elf *elf;

	if (!buf || !id)
		return -EINVAL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -SA_ERR_UNSUPPORTED;
	/* libelf only reads the image: the cast drops no promise */
	elf = elf_memory((char *)buf, len);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		return -SA_ERR_FORMAT;
	}
	sa_elf_build_id(elf, bid, &n);
	elf_end(elf);
	if (n > max)
		n = (uint8_t)max;
	memcpy(id, bid, n);
	return n;
}

/*
 * perf's choose_best_symbol() (tools/perf/util/symbol.c), so that where
 * two symbols share an address we name the function as perf does.
 * Returns true when @a should be kept over @b.
 */
static size_t sa_underscores(const char *s)
{
	size_t n = 0;

	while (s[n] == '_')
		n++;
	return n;
}

static bool sa_sym_better(const struct sa_isym *a, const struct sa_isym *b)
{
	size_t na, nb;

	if (a->pub.size && !b->pub.size)
		return true;
	if (!a->pub.size && b->pub.size)
		return false;
	if ((a->bind == STB_WEAK) != (b->bind == STB_WEAK))
		return b->bind == STB_WEAK;
	if ((a->bind == STB_GLOBAL) != (b->bind == STB_GLOBAL))
		return a->bind == STB_GLOBAL;
	na = sa_underscores(a->pub.name);
	nb = sa_underscores(b->pub.name);
	if (na != nb)
		return na < nb;
	na = strlen(a->pub.name);
	nb = strlen(b->pub.name);
	if (na != nb)
		return na > nb;
	return true;
}

static int sa_isym_cmp(const void *pa, const void *pb)
{
	const struct sa_isym *a = pa, *b = pb;

	if (a->pub.start != b->pub.start)
		return a->pub.start < b->pub.start ? -1 : 1;
	/* the better symbol first, so deduplication keeps it */
	if (sa_sym_better(a, b) && !sa_sym_better(b, a))
		return -1;
	if (sa_sym_better(b, a) && !sa_sym_better(a, b))
		return 1;
	return strcmp(a->pub.name, b->pub.name);
}

/* Arm mapping symbols ($a, $t, $d, $x and their "$x.123" forms) mark
 * code and data inside functions; they are not functions.
 */
static bool sa_is_mapping_sym(const char *name)
{
	return name[0] == '$' && strchr("atdx", name[1]) &&
	       (name[2] == '\0' || name[2] == '.');
}

/* Records an Arm mapping symbol ($a, $t, $d, $x) at ELF address @addr. */
static int sa_dso_add_mapsym(struct sa_idso *d, uint64_t addr, char kind)
{
	if (d->nr_mapsyms == d->cap_mapsyms) {
		size_t ncap = d->cap_mapsyms ? d->cap_mapsyms * 2 : 64;
		void *p;

		if (d->nr_mapsyms >= SA_IMAGE_SYMS_MAX)
			return 0;	/* the rest is treated as code */
		p = reallocarray(d->mapsyms, ncap, sizeof(*d->mapsyms));
		if (!p)
			return -ENOMEM;
		d->mapsyms = p;
		d->cap_mapsyms = ncap;
	}
	d->mapsyms[d->nr_mapsyms].addr = addr;
	d->mapsyms[d->nr_mapsyms++].kind = kind;
	return 0;
}

static int sa_mapsym_cmp(const void *pa, const void *pb)
{
	const struct sa_mapsym *a = pa, *b = pb;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* Reads the function symbols of one symbol table of @elf (the binary
 * or its separate debug file, @fsize bytes) into d->syms.
 */
static int sa_dso_read_symtab(struct sa_idso *d, Elf *elf, size_t fsize,
			      Elf_Scn *scn, const GElf_Shdr *sh, size_t *cap)
{
	size_t i, n, shnum = 0, shstrndx = 0;
	Elf_Data *data;
	bool arm = d->pub.arch == SA_ARCH_ARM, shstrndx_ok;

	if (sh->sh_entsize == 0 || sh->sh_type == SHT_NOBITS ||
	    sh->sh_offset > fsize ||
	    sh->sh_size > fsize - sh->sh_offset) {
		sa_warn("%s: symbol table at offset 0x%" PRIx64 " goes past "
			"the end of the file; symbols ignored\n", d->file,
			(uint64_t)sh->sh_offset);
		return 0;
	}
	data = elf_getdata(scn, NULL);
	if (!data)
		return 0;
	if (elf_getshdrnum(elf, &shnum) < 0)
		return 0;
	shstrndx_ok = elf_getshdrstrndx(elf, &shstrndx) == 0;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Shdr tsh;
		Elf_Scn *tscn;
		struct sa_isym *s;
		const char *name;
		int type;
		uint64_t value;

		if (!gelf_getsym(data, i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC &&
		    type != STT_NOTYPE)
			continue;
		if (sym.st_shndx == SHN_UNDEF ||
		    sym.st_shndx >= SHN_LORESERVE ||
		    sym.st_shndx >= shnum)
			continue;
		tscn = elf_getscn(elf, sym.st_shndx);
		if (!tscn || !gelf_getshdr(tscn, &tsh) ||
		    !(tsh.sh_flags & SHF_EXECINSTR) ||
		    !(tsh.sh_flags & SHF_ALLOC))
			continue;
		/*
		 * perf takes a label (STT_NOTYPE) only when it is visible
		 * and in a section named like "*text*" (elf_sym__is_label,
		 * elf_sec__is_text): _init in .init is not a symbol to perf.
		 */
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (name && sa_is_mapping_sym(name)) {
			if (arm || d->pub.arch == SA_ARCH_AARCH64) {
				int err = sa_dso_add_mapsym(d, sym.st_value &
							    ~1ULL, name[1]);

				if (err)
					return err;
			}
			continue;
		}
		if (type == STT_NOTYPE) {
			const char *sname = shstrndx_ok ?
				elf_strptr(elf, shstrndx, tsh.sh_name) :
				NULL;
			int vis = GELF_ST_VISIBILITY(sym.st_other);

			if (!sname || !strstr(sname, "text") ||
			    vis == STV_HIDDEN || vis == STV_INTERNAL)
				continue;
		}
		if (!name || !name[0])
			continue;
		value = sym.st_value;
		if (d->nr_syms >= *cap) {
			size_t ncap = *cap ? *cap * 2 : 256;
			void *p;

			if (d->nr_syms >= SA_IMAGE_SYMS_MAX) {
				sa_warn("%s: more than %u symbols (the limit); "
					"the rest are ignored\n", d->file,
					SA_IMAGE_SYMS_MAX);
				return 0;
			}
			p = reallocarray(d->syms, ncap, sizeof(*d->syms));
			if (!p)
				return -ENOMEM;
			d->syms = p;
			*cap = ncap;
		}
		s = &d->syms[d->nr_syms++];
		memset(s, 0, sizeof(*s));
		s->thumb = arm && type == STT_FUNC && (value & 1);
		if (arm)
			value &= ~1ULL;
		s->pub.name = name;
		s->pub.start = value;	/* ELF address; biased later */
		s->pub.size = sym.st_size;
		s->pub.dso = &d->pub;
		s->bind = GELF_ST_BIND(sym.st_info);
		s->type = type;
		/* the end of the section bounds a label */
		s->end = tsh.sh_addr + tsh.sh_size;
	}
	return 0;
}

/* Keeps @str (malloc'd) until @d is freed; frees it and returns NULL
 * when it cannot.
 */
static char *sa_dso_keep(struct sa_idso *d, char *str)
{
	if (!str)
		return NULL;
	if (sa_grow((void **)&d->strs, &d->cap_strs, d->nr_strs,
		    sizeof(*d->strs), 2 * (size_t)SA_IMAGE_SYMS_MAX + 1)) {
		free(str);
		return NULL;
	}
	d->strs[d->nr_strs++] = str;
	return str;
}

/* A GOT slot and the dynamic symbol its relocation names. */
struct sa_gotsym {
	uint64_t slot;		/* ELF address */
	const char *name;	/* in the dynamic string table */
};

static int sa_gotsym_cmp(const void *pa, const void *pb)
{
	const struct sa_gotsym *a = pa, *b = pb;

	return a->slot < b->slot ? -1 : a->slot > b->slot;
}

static bool sa_is_slot_reloc(unsigned int machine, unsigned int type)
{
	switch (machine) {
	case EM_X86_64:
		return type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT;
	case EM_AARCH64:
		return type == R_AARCH64_JUMP_SLOT ||
		       type == R_AARCH64_GLOB_DAT;
	}
	return false;
}

/*
 * Collects the GOT slots that .rela.plt (JUMP_SLOT) and .rela.dyn
 * (GLOB_DAT, the slots of .plt.got) fill with a named dynamic symbol.
 */
static int sa_dso_got_slots(struct sa_idso *d, struct sa_gotsym **out,
			    size_t *nr_out)
{
	struct sa_gotsym *g = NULL;
	size_t nr = 0, cap = 0;
	Elf_Scn *scn = NULL;
	unsigned int machine = d->ehdr.e_machine;

	while ((scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh, ssh;
		Elf_Scn *sscn;
		Elf_Data *data, *sdata;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    !sh.sh_entsize)
			continue;
		sscn = elf_getscn(d->elf, sh.sh_link);
		if (!sscn || !gelf_getshdr(sscn, &ssh) ||
		    ssh.sh_type != SHT_DYNSYM || !ssh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		sdata = elf_getdata(sscn, NULL);
		if (!data || !sdata)
			continue;
		n = data->d_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			const char *name;

			if (!gelf_getrela(data, (int)i, &r))
				break;
			if (!sa_is_slot_reloc(machine,
					      GELF_R_TYPE(r.r_info)) ||
			    !GELF_R_SYM(r.r_info) ||
			    !gelf_getsym(sdata, (int)GELF_R_SYM(r.r_info),
					 &sym))
				continue;
			name = elf_strptr(d->elf, ssh.sh_link, sym.st_name);
			if (!name || !name[0])
				continue;
			if (sa_grow((void **)&g, &cap, nr, sizeof(*g),
				    SA_IMAGE_SYMS_MAX))
				break;	/* the rest stay unnamed */
			g[nr].slot = r.r_offset;
			g[nr++].name = name;
		}
	}
	if (nr)
		qsort(g, nr, sizeof(*g), sa_gotsym_cmp);
	*out = g;
	*nr_out = nr;
	return 0;
}

static const char *sa_got_name(const struct sa_gotsym *g, size_t nr,
			       uint64_t slot)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g[mid].slot < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nr && g[lo].slot == slot ? g[lo].name : NULL;
}

static uint32_t sa_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/*
 * The GOT slot a PLT stub at @addr (@len bytes at @p) jumps through, or
 * 0 when the stub does not load one (the lazy-binding header, and the
 * lazy entries of an IBT .plt that only push an index).  x86-64: the
 * stub is "jmp *disp(%rip)", possibly after endbr64 and with a bnd
 * prefix (ld's .plt, .plt.sec and .plt.got).  AArch64: "adrp x16, page;
 * ldr x17, [x16, #off]" at the start, after "bti c" or not.
 */
static uint64_t sa_plt_slot(unsigned int machine, const uint8_t *p,
			    size_t len, uint64_t addr)
{
	static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	size_t k = 0;

	if (machine == EM_X86_64) {
		if (len >= 4 && !memcmp(p, endbr64, 4))
			k = 4;
		if (k < len && p[k] == 0xf2)	/* bnd */
			k++;
		if (k + 6 > len || p[k] != 0xff || p[k + 1] != 0x25)
			return 0;
		return addr + k + 6 + (int64_t)(int32_t)sa_le32(p + k + 2);
	}
	if (machine == EM_AARCH64) {
		uint32_t adrp, ldr;
		int64_t page;

		if (len >= 4 && sa_le32(p) == 0xd503245f)	/* bti c */
			k = 4;
		if (k + 8 > len)
			return 0;
		adrp = sa_le32(p + k);
		ldr = sa_le32(p + k + 4);
		/* adrp x16 and ldr x17, [x16, #imm12 * 8] */
		if ((adrp & 0x9f00001f) != 0x90000010 ||
		    (ldr & 0xffc003ff) != 0xf9400211)
			return 0;
		page = (int64_t)(((adrp >> 29) & 3) | ((adrp >> 3) & ~3u &
							0x1ffffc));
		page = (page ^ 0x100000) - 0x100000;	/* 21-bit signed */
		/* unsigned arithmetic: a page below wraps as adrp's does */
		return ((addr + k) & ~0xfffULL) + ((uint64_t)page << 12) +
		       ((ldr >> 10) & 0xfff) * 8;
	}
	return 0;
}

/* How far apart PLT stubs start: ld's x86-64 entries are 16 bytes,
 * those of a non-IBT .plt.got 8 (its sh_entsize says which).  AArch64
 * stubs are 16 or 24 bytes (BTI, PAC): they are found by scanning each
 * instruction.
 */
static size_t sa_plt_step(unsigned int machine, const GElf_Shdr *sh)
{
	if (machine == EM_AARCH64)
		return 4;
	if (sh->sh_entsize == 8 || sh->sh_entsize == 16)
		return sh->sh_entsize;
	return 16;
}

/*
 * Names the stubs of .plt, .plt.sec and .plt.got "SYMBOL@plt", as
 * objdump -d and perf do: each stub jumps through a GOT slot, and the
 * relocation of that slot names the dynamic symbol (bfd's
 * elf_x86_64_get_synthetic_symtab reads the stubs the same way).
 * Best effort: a stub whose slot has no named relocation stays
 * unnamed, as it does for objdump.
 */
static int sa_dso_plt_syms(struct sa_idso *d, size_t *cap)
{
	unsigned int machine = d->ehdr.e_machine;
	struct sa_gotsym *g;
	size_t nr_g, shstrndx;
	Elf_Scn *scn = NULL;
	int err = 0;

	if (machine != EM_X86_64 && machine != EM_AARCH64)
		return 0;
	if (elf_getshdrstrndx(d->elf, &shstrndx))
		return 0;
	err = sa_dso_got_slots(d, &g, &nr_g);
	if (err || !nr_g) {
		free(g);
		return err;
	}
	while (!err && (scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh;
		const char *sname;
		Elf_Data *data;
		size_t es, off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		sname = elf_strptr(d->elf, shstrndx, sh.sh_name);
		if (!sname || (strcmp(sname, ".plt") &&
			       strcmp(sname, ".plt.sec") &&
			       strcmp(sname, ".plt.got")))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf || data->d_size > sh.sh_size)
			continue;
		es = sa_plt_step(machine, &sh);
		for (off = 0; off + es <= data->d_size; off += es) {
			const uint8_t *p = (const uint8_t *)data->d_buf + off;
			size_t len = machine == EM_X86_64 ? es : data->d_size - off;
			uint64_t slot = sa_plt_slot(machine, p, len,
						    sh.sh_addr + off);
			const char *name = slot ? sa_got_name(g, nr_g, slot) :
						  NULL;
			struct sa_isym *s;
			char *pname;

			if (!name)
				continue;
			if (asprintf(&pname, "%s@plt", name) < 0 ||
			    !sa_dso_keep(d, pname)) {
				err = -ENOMEM;
				break;
			}
			if (sa_grow((void **)&d->syms, cap, d->nr_syms,
				    sizeof(*d->syms), SA_IMAGE_SYMS_MAX))
				break;	/* the symbol limit: warned above */
			s = &d->syms[d->nr_syms++];
			memset(s, 0, sizeof(*s));
			s->pub.name = pname;
			s->pub.start = sh.sh_addr + off;
			/* AArch64: up to the next stub (a label) */
			s->pub.size = machine == EM_X86_64 ? es : 0;
			s->pub.dso = &d->pub;
			s->bind = STB_GLOBAL;
			s->type = STT_FUNC;
			s->end = sh.sh_addr + sh.sh_size;
			if (machine == EM_AARCH64)	/* past adrp, ldr */
				off += sa_le32(p) == 0xd503245f ? 8 : 4;
		}
	}
	free(g);
	return err;
}

/*
 * Demangles a C++ or Rust linkage name as objdump -d -C does
 * (DMGL_PARAMS | DMGL_ANSI; libiberty's automatic style tries Rust,
 * legacy and v0, then the Itanium C++ ABI).  A "@plt" suffix is kept
 * after the demangled name.  Returns a malloc'd string or NULL when
 * @name is not mangled (or cannot be demangled: it is then shown as
 * it is).
 */
static char *sa_demangle(const char *name)
{
	size_t len = strlen(name), base = len;
	char *dm, *buf, *out;

	if (strncmp(name, "_Z", 2) && strncmp(name, "_R", 2))
		return NULL;
	if (len > 4 && !strcmp(name + len - 4, "@plt"))
		base = len - 4;
	if (base == len)
		return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI);
	buf = strndup(name, base);
	if (!buf)
		return NULL;
	dm = cplus_demangle(buf, DMGL_PARAMS | DMGL_ANSI);
	free(buf);
	if (!dm || asprintf(&out, "%s@plt", dm) < 0)
		out = NULL;
	free(dm);
	return out;
}

static int sa_dso_read_syms(struct sa_idso *d)
{
	Elf_Scn *scn = NULL;
	size_t cap = 0, i, n;
	int err;

	while ((scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)
			continue;
		err = sa_dso_read_symtab(d, d->elf, d->fm.size, scn, &sh,
					 &cap);
		if (err)
			return err;
	}
	/* a stripped binary's full symbol table is in its debug file */
	while (d->dbg_elf && (scn = elf_nextscn(d->dbg_elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		err = sa_dso_read_symtab(d, d->dbg_elf, d->dbg_fm.size, scn,
					 &sh, &cap);
		if (err)
			return err;
	}
	err = sa_dso_plt_syms(d, &cap);
	if (err)
		return err;
	if (d->nr_mapsyms) {
		size_t k;

		qsort(d->mapsyms, d->nr_mapsyms, sizeof(*d->mapsyms),
		      sa_mapsym_cmp);
		for (k = 0; k < d->nr_mapsyms; k++)
			d->mapsyms[k].addr += d->pub.bias;
	}
	if (!d->nr_syms)
		return 0;
	qsort(d->syms, d->nr_syms, sizeof(*d->syms), sa_isym_cmp);
	/* one symbol per address: the first is the best (see the sort);
	 * the others stay findable by name
	 */
	d->aliases = calloc(d->nr_syms, sizeof(*d->aliases));
	if (!d->aliases)
		return -ENOMEM;
	for (i = 1, n = 1; i < d->nr_syms; i++) {
		if (d->syms[i].pub.start == d->syms[n - 1].pub.start) {
			if (strcmp(d->syms[i].pub.name,
				   d->syms[n - 1].pub.name)) {
				d->aliases[d->nr_aliases].name =
					d->syms[i].pub.name;
				d->aliases[d->nr_aliases++].sym = n - 1;
			}
			continue;
		}
		d->syms[n++] = d->syms[i];
	}
	d->nr_syms = n;
	for (i = 0; i < n; i++) {
		struct sa_isym *s = &d->syms[i];
		uint64_t next = i + 1 < n ? d->syms[i + 1].pub.start :
					    UINT64_MAX;

		if (s->pub.size) {
			s->end = s->pub.start + s->pub.size;
			if (s->end < s->pub.start)
				s->end = UINT64_MAX;
		} else if (next < s->end) {
			s->end = next;
		}
		if (s->end < s->pub.start)	/* outside its section */
			s->end = s->pub.start + 1;
		s->pub.start += d->pub.bias;
		s->end += d->pub.bias;
	}
	return 0;
}

/*
 * Zeroes e_shoff, e_shnum and e_shstrndx in the private mapping of an ELF
 * file.  Returns false when the header is too short to hold them.
 */
static bool sa_forget_shdrs(struct sa_filemap *fm)
{
	uint8_t *h = fm->base;

	if (fm->size < EI_NIDENT)
		return false;
	if (h[EI_CLASS] == ELFCLASS64 && fm->size >= sizeof(Elf64_Ehdr)) {
		memset(h + offsetof(Elf64_Ehdr, e_shoff), 0, 8);
		memset(h + offsetof(Elf64_Ehdr, e_shnum), 0, 4);
		return true;
	}
	if (h[EI_CLASS] == ELFCLASS32 && fm->size >= sizeof(Elf32_Ehdr)) {
		memset(h + offsetof(Elf32_Ehdr, e_shoff), 0, 4);
		memset(h + offsetof(Elf32_Ehdr, e_shnum), 0, 4);
		return true;
	}
	return false;
}

/* Opens @path (under symfs first) as an ELF file and reads its headers. */
static int sa_dso_open(struct sa_image *img, const char *path,
		       struct sa_idso **out, struct sa_errinfo *ei)
{
	struct sa_idso *d;
	char *file = NULL;
	int err;

	d = calloc(1, sizeof(*d));
	if (!d)
		return sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET, "%s: %s",
				      path, strerror(ENOMEM));
	d->fd = -1;
	d->dbg_fd = -1;
	d->path = strdup(path);
	if (!d->path) {
		err = sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET, "%s: %s",
				     path, strerror(ENOMEM));
		goto err_free;
	}
	err = -ENOENT;
	if (img->symfs) {
		if (asprintf(&file, "%s%s%s", img->symfs,
			     path[0] == '/' ? "" : "/", path) < 0) {
			file = NULL;
			err = sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
					     "%s: %s", path, strerror(ENOMEM));
			goto err_free;
		}
		err = sa_map_file(file, &d->fd, &d->fm, NULL);
		if (err)
			free(file);
	}
	if (err) {
		file = strdup(path);
		if (!file) {
			err = sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
					     "%s: %s", path, strerror(ENOMEM));
			goto err_free;
		}
		err = sa_map_file(file, &d->fd, &d->fm, ei);
		if (err) {
			if (err == -ENOENT && img->symfs)
				sa_errinfo_set(ei, err, SA_NO_OFFSET,
					       "%s: not found, neither under "
					       "--symfs %s nor as given (give "
					       "the binary with --binary "
					       "PATH[@ADDR] or fix --symfs)",
					       path, img->symfs);
			free(file);
			goto err_free;
		}
	}
	d->file = file;
	d->pub.path = d->path;
	d->pub.file = d->file;
	if (fstat(d->fd, &d->st))
		memset(&d->st, 0, sizeof(d->st));

	if (d->fm.size < EI_NIDENT ||
	    memcmp(d->fm.base, ELFMAG, SELFMAG) != 0) {
		err = sa_errinfo_set(ei, -SA_ERR_FORMAT, 0,
				     "%s: not an ELF file (no ELF magic)",
				     d->file);
		goto err_free;
	}
	d->elf = elf_memory(d->fm.base, d->fm.size);
	if (!d->elf || elf_kind(d->elf) != ELF_K_ELF ||
	    !gelf_getehdr(d->elf, &d->ehdr)) {
		/*
		 * libelf refuses a file whose section headers lie past its
		 * end.  The segments may still be good: forget the section
		 * headers (in our private copy of the page) and try again.
		 */
		if (d->elf)
			elf_end(d->elf);
		d->elf = NULL;
		if (sa_forget_shdrs(&d->fm)) {
			d->elf = elf_memory(d->fm.base, d->fm.size);
			if (d->elf && elf_kind(d->elf) == ELF_K_ELF &&
			    gelf_getehdr(d->elf, &d->ehdr)) {
				sa_warn("%s: section headers go past the "
					"end of the file (%zu bytes); no "
					"symbols or line information from "
					"it\n", d->file, d->fm.size);
				d->dw_tried = true;
			} else if (d->elf) {
				elf_end(d->elf);
				d->elf = NULL;
			}
		}
	}
	if (d->elf && d->ehdr.e_shoff &&
	    (d->ehdr.e_shoff > d->fm.size ||
	     (uint64_t)d->ehdr.e_shnum * d->ehdr.e_shentsize >
	     d->fm.size - d->ehdr.e_shoff)) {
		/* libelf accepted it but would fail on each section later */
		elf_end(d->elf);
		d->elf = NULL;
		if (sa_forget_shdrs(&d->fm)) {
			d->elf = elf_memory(d->fm.base, d->fm.size);
			if (d->elf && (elf_kind(d->elf) != ELF_K_ELF ||
				       !gelf_getehdr(d->elf, &d->ehdr))) {
				elf_end(d->elf);
				d->elf = NULL;
			}
		}
		if (d->elf) {
			sa_warn("%s: section headers go past the end of the "
				"file (%zu bytes); no symbols or line "
				"information from it\n", d->file, d->fm.size);
			d->dw_tried = true;
		}
	}
	if (!d->elf) {
		err = sa_errinfo_set(ei, -SA_ERR_TRUNCATED, 0,
				     "%s: ELF header unreadable (%zu bytes): "
				     "%s", d->file, d->fm.size,
				     elf_errmsg(-1));
		goto err_free;
	}
	if (d->ehdr.e_phnum &&
	    (d->ehdr.e_phoff > d->fm.size ||
	     (uint64_t)d->ehdr.e_phnum * d->ehdr.e_phentsize >
	     d->fm.size - d->ehdr.e_phoff)) {
		err = sa_errinfo_set(ei, -SA_ERR_TRUNCATED, d->ehdr.e_phoff,
				     "%s: program headers at offset 0x%" PRIx64
				     " go past the end of the file (%zu "
				     "bytes)", d->file,
				     (uint64_t)d->ehdr.e_phoff, d->fm.size);
		goto err_free;
	}
	d->pub.arch = sa_arch_of(d->ehdr.e_machine);
	if (d->pub.arch == SA_ARCH_UNKNOWN) {
		err = sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, 0,
				     "%s: ELF machine %u is not supported "
				     "(x86-64, i386, aarch64 and arm are)",
				     d->file, d->ehdr.e_machine);
		goto err_free;
	}
	if (d->ehdr.e_type != ET_EXEC && d->ehdr.e_type != ET_DYN) {
		err = sa_errinfo_set(ei, -SA_ERR_FORMAT, 0,
				     "%s: ELF type %u is neither an executable "
				     "nor a shared object", d->file,
				     d->ehdr.e_type);
		goto err_free;
	}
	if (img->arch == SA_ARCH_UNKNOWN) {
		img->arch = d->pub.arch;
	} else if (img->arch != d->pub.arch) {
		err = sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, 0,
				     "%s: %s binary in a %s image", d->file,
				     sa_arch_name(d->pub.arch),
				     sa_arch_name(img->arch));
		goto err_free;
	}
	d->pub.pie = d->ehdr.e_type == ET_DYN;
	sa_elf_build_id(d->elf, d->pub.build_id, &d->pub.build_id_len);
	*out = d;
	return 0;

err_free:
	sa_idso__free(d);
	return err;
}

static bool sa_build_id_equal(const struct sa_dso *d, const uint8_t *id,
			      size_t len)
{
	size_t i, n = d->build_id_len;

	/* perf pads build-ids to 20 bytes with zeros */
	if (len < n)
		return false;
	if (memcmp(d->build_id, id, n))
		return false;
	for (i = n; i < len; i++)
		if (id[i])
			return false;
	return true;
}

static void sa_dso_check_build_id(struct sa_idso *d, const uint8_t *id,
				  size_t len)
{
	char want[2 * SA_BUILD_ID_MAX + 1], have[2 * SA_BUILD_ID_MAX + 1];

	if (!id || !len)
		return;
	if (len > SA_BUILD_ID_MAX)
		len = SA_BUILD_ID_MAX;
	if (sa_build_id_equal(&d->pub, id, len))
		return;
	d->pub.build_id_mismatch = true;
	sa_warn("%s: build-id mismatch: the trace expects %s, the file %s has "
		"%s; using it anyway, symbols and branches may be wrong\n",
		d->path, sa_build_id_str(id, len, want, sizeof(want)), d->file,
		d->pub.build_id_len ?
		sa_build_id_str(d->pub.build_id, d->pub.build_id_len, have,
				sizeof(have)) : "none");
}

/* True when @elf has a section of type @type, or named @name. */
static bool sa_elf_has(Elf *elf, unsigned int type, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (type && sh.sh_type == type)
			return true;
		n = name ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
		if (n && !strcmp(n, name) && sh.sh_type != SHT_NOBITS)
			return true;
	}
	return false;
}

/* The file name in .gnu_debuglink, or NULL. */
static const char *sa_elf_debuglink(Elf *elf, size_t fsize)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		const char *n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!n || strcmp(n, ".gnu_debuglink"))
			continue;
		if (sh.sh_offset > fsize || sh.sh_size > fsize - sh.sh_offset)
			return NULL;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_size ||
		    !memchr(data->d_buf, '\0', data->d_size))
			return NULL;
		n = data->d_buf;
		return n[0] && !strchr(n, '/') ? n : NULL;
	}
	return NULL;
}

/* Tries @cand as the debug file of @d: an ELF file of the same build-id
 * (when both have one).  Returns true and keeps it on success.
 */
static bool sa_dso_try_debug(struct sa_idso *d, const char *cand)
{
	struct sa_filemap fm = { 0 };
	uint8_t id[SA_BUILD_ID_MAX], len = 0;
	Elf *elf;
	int fd;

	if (!strcmp(cand, d->file) || sa_map_file(cand, &fd, &fm, NULL))
		return false;
	if (fm.size < EI_NIDENT || memcmp(fm.base, ELFMAG, SELFMAG))
		goto fail;
	elf = elf_memory(fm.base, fm.size);
	if (!elf)
		goto fail;
	sa_elf_build_id(elf, id, &len);
	if (elf_kind(elf) != ELF_K_ELF ||
	    (len && d->pub.build_id_len &&
	     (len != d->pub.build_id_len ||
	      memcmp(id, d->pub.build_id, len)))) {
		elf_end(elf);
		goto fail;
	}
	d->dbg_file = strdup(cand);
	if (!d->dbg_file) {
		elf_end(elf);
		goto fail;
	}
	d->dbg_elf = elf;
	d->dbg_fm = fm;
	d->dbg_fd = fd;
	sa_debug("%s: debug information from %s\n", d->file, cand);
	return true;
fail:
	sa_filemap_fini(&fm);
	close(fd);
	return false;
}

/*
 * Finds the separate debug file of a binary that lacks .symtab or
 * .debug_info, where gdb and perf look: by build-id under
 * /usr/lib/debug/.build-id/, then by .gnu_debuglink beside the file, in
 * its .debug/ directory and under /usr/lib/debug/<dir>/; each under
 * --symfs first.
 */
static void sa_dso_find_debug(struct sa_image *img, struct sa_idso *d)
{
	const char *roots[2] = { img->symfs, "" };
	const char *link;
	char cand[4096], hex[2 * SA_BUILD_ID_MAX + 1], *dir, *slash;
	int r;

	if (!d->ehdr.e_shnum || d->dw_tried ||
	    (sa_elf_has(d->elf, SHT_SYMTAB, NULL) &&
	     sa_elf_has(d->elf, 0, ".debug_info")))
		return;
	sa_build_id_str(d->pub.build_id, d->pub.build_id_len, hex,
			sizeof(hex));
	for (r = 0; r < 2 && d->pub.build_id_len > 1; r++) {
		if (!roots[r])
			continue;
		snprintf(cand, sizeof(cand), "%s/usr/lib/debug/.build-id/"
			 "%.2s/%s.debug", roots[r], hex, hex + 2);
		if (sa_dso_try_debug(d, cand))
			return;
	}
	link = sa_elf_debuglink(d->elf, d->fm.size);
	if (!link)
		return;
	dir = strdup(d->file);
	if (!dir)
		return;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	snprintf(cand, sizeof(cand), "%s%s%s", dir, dir[0] ? "/" : "", link);
	if (sa_dso_try_debug(d, cand))
		goto out;
	snprintf(cand, sizeof(cand), "%s%s.debug/%s", dir, dir[0] ? "/" : "",
		 link);
	if (sa_dso_try_debug(d, cand))
		goto out;
	/* /usr/lib/debug + the directory the trace names */
	free(dir);
	dir = strdup(d->path);
	if (!dir)
		return;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	for (r = 0; r < 2; r++) {
		if (!roots[r])
			continue;
		snprintf(cand, sizeof(cand), "%s/usr/lib/debug%s%s/%s",
			 roots[r], dir[0] == '/' ? "" : "/", dir, link);
		if (sa_dso_try_debug(d, cand))
			goto out;
	}
out:
	free(dir);
}

/* ---- the analysis cache ---- */

struct sa_image_cache *sa_image_cache__new(void)
{
	struct sa_image_cache *c = calloc(1, sizeof(*c));

	if (c)
		c->refs = 1;
	return c;
}

struct sa_image_cache *sa_image_cache_get(struct sa_image_cache *c)
{
	if (c)
		c->refs++;
	return c;
}

/* Takes @d out of the index of @c and drops the cache's reference. */
static void sa_cache_drop(struct sa_image_cache *c, size_t i)
{
	struct sa_idso *d = c->dsos[i];

	c->gone_dw_opens += d->dw_opens;
	c->gone_fmaps += d->store.built;
	memmove(&c->dsos[i], &c->dsos[i + 1],
		(c->nr_dsos - i - 1) * sizeof(*c->dsos));
	c->nr_dsos--;
	d->cached = false;
	sa_idso_put(d);
}

void sa_image_cache__free(struct sa_image_cache *c)
{
	if (!c || --c->refs)
		return;
	while (c->nr_dsos)
		sa_cache_drop(c, c->nr_dsos - 1);
	free(c->dsos);
	free(c);
}

void sa_image_cache_stats(const struct sa_image_cache *c,
			  struct sa_image_cache_stats *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	if (!c)
		return;
	*st = c->st;
	st->entries = c->nr_dsos;
	st->dwarf_opens = c->gone_dw_opens;
	st->site_maps = c->gone_fmaps;
	for (i = 0; i < c->nr_dsos; i++) {
		st->dwarf_opens += c->dsos[i]->dw_opens;
		st->site_maps += c->dsos[i]->store.built;
	}
}

int sa_image_set_cache(struct sa_image *img, struct sa_image_cache *c)
{
	if (!img)
		return -EINVAL;
	if (img->nr_dsos)
		return -SA_ERR_INVAL;	/* binaries already loaded */
	sa_image_cache__free(img->cache);
	img->cache = sa_image_cache_get(c);
	return 0;
}

struct sa_dso_store *sa_dso_store(const struct sa_dso *dso)
{
	struct sa_idso *d;

	if (!dso)
		return NULL;
	d = (struct sa_idso *)((char *)dso - offsetof(struct sa_idso, pub));
	return d->cached ? &d->store : NULL;
}

void *sa_dso_analysis(const struct sa_dso *dso)
{
	const struct sa_idso *d;

	if (!sa_dso_store(dso))
		return NULL;
	d = (const struct sa_idso *)((const char *)dso -
				     offsetof(struct sa_idso, pub));
	return d->dec.data;
}

int sa_dso_set_analysis(const struct sa_dso *dso, void *data,
			void (*free_fn)(void *data))
{
	struct sa_idso *d;

	if (!sa_dso_store(dso) || sa_dso_analysis(dso)) {
		if (free_fn)
			free_fn(data);
		return -SA_ERR_INVAL;
	}
	d = (struct sa_idso *)((char *)dso - offsetof(struct sa_idso, pub));
	d->dec.data = data;
	d->dec.free_fn = free_fn;
	return 0;
}

size_t sa_image_dso_ranges(const struct sa_image *img,
			   const struct sa_dso *dso, uint64_t *start,
			   uint64_t *end, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < img->nr_secs; i++) {
		if (!img->secs[i].dso || &img->secs[i].dso->pub != dso)
			continue;
		if (n < max) {
			start[n] = img->secs[i].start;
			end[n] = img->secs[i].end;
		}
		n++;
	}
	return n;
}

static bool sa_str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Resolves @path as sa_dso_open() does (under the symfs first) into
 * @file and stats it.
 */
static int sa_image_stat(const struct sa_image *img, const char *path,
			 struct stat *st, char *file, size_t size)
{
	if (img->symfs) {
		snprintf(file, size, "%s%s%s", img->symfs,
			 path[0] == '/' ? "" : "/", path);
		if (!stat(file, st) && S_ISREG(st->st_mode))
			return 0;
	}
	snprintf(file, size, "%s", path);
	return stat(file, st) ? -errno : 0;
}

static bool sa_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * The cached dso of @path (as @img resolves it) at @bias, or with
 * @any_bias any of them.  With a build-id from the trace, the entry must
 * have that build-id (the file on disk is not looked at: the build-id
 * names the bytes); without, it must be the same file (device, inode,
 * size, mtime), so a binary replaced on disk is analysed again.
 */
static struct sa_idso *sa_cache_find(struct sa_image *img, const char *path,
				     const uint8_t *bid, size_t bid_len,
				     uint64_t bias, bool any_bias)
{
	struct sa_image_cache *c = img->cache;
	struct stat st;
	char file[4096];
	int stat_err = 1;
	size_t i;

	if (!c)
		return NULL;
	if (bid_len > SA_BUILD_ID_MAX)
		bid_len = SA_BUILD_ID_MAX;
	for (i = 0; i < c->nr_dsos; i++) {
		struct sa_idso *d = c->dsos[i];

		if (strcmp(d->path, path) || !sa_str_eq(d->symfs, img->symfs))
			continue;
		if (!any_bias && d->pub.bias != bias)
			continue;
		if (bid_len && d->pub.build_id_len) {
			if (!sa_build_id_equal(&d->pub, bid, bid_len))
				continue;
			return d;
		}
		if (stat_err > 0)
			stat_err = sa_image_stat(img, path, &st, file,
						 sizeof(file));
		if (stat_err || strcmp(file, d->file) ||
		    !sa_same_file(&st, &d->st))
			continue;
		return d;
	}
	return NULL;
}

/* Offers the freshly analysed @d (held by an image) to @c: the least
 * recently used entry no image holds makes room when it is full.
 */
static void sa_cache_insert(struct sa_image_cache *c, struct sa_idso *d,
			    const char *symfs)
{
	size_t i, lru = SIZE_MAX;

	if (d->pub.build_id_mismatch || !d->st.st_ino)
		return;
	if (c->nr_dsos >= SA_IMAGE_CACHE_MAX) {
		for (i = 0; i < c->nr_dsos; i++)
			if (c->dsos[i]->refs == 1 &&
			    (lru == SIZE_MAX ||
			     c->dsos[i]->last_use < c->dsos[lru]->last_use))
				lru = i;
		if (lru == SIZE_MAX)
			return;
		sa_cache_drop(c, lru);
		c->st.evictions++;
	}
	if (sa_grow((void **)&c->dsos, &c->cap_dsos, c->nr_dsos,
		    sizeof(*c->dsos), SA_IMAGE_CACHE_MAX))
		return;
	if (symfs) {
		d->symfs = strdup(symfs);
		if (!d->symfs)
			return;
	}
	d->refs = 2;		/* the image's and the cache's */
	d->cached = true;
	d->last_use = ++c->clock;
	c->dsos[c->nr_dsos++] = d;
}

/* Adds the cached @d to @img (a reference), checked as sa_dso_open()
 * checks a file.
 */
static int sa_image_attach(struct sa_image *img, struct sa_idso *d,
			   struct sa_errinfo *ei)
{
	int err;

	if (img->arch == SA_ARCH_UNKNOWN) {
		img->arch = d->pub.arch;
	} else if (img->arch != d->pub.arch) {
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, 0,
				      "%s: %s binary in a %s image", d->file,
				      sa_arch_name(d->pub.arch),
				      sa_arch_name(img->arch));
	}
	err = sa_grow((void **)&img->dsos, &img->cap_dsos, img->nr_dsos,
		      sizeof(*img->dsos), SA_IMAGE_DSOS_MAX);
	if (err)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", d->file,
				      sa_strerror(err));
	d->refs++;
	d->last_use = ++img->cache->clock;
	img->cache->st.hits++;
	img->dsos[img->nr_dsos++] = d;
	return 0;
}

static int sa_image_add_dso(struct sa_image *img, struct sa_idso *d,
			    struct sa_errinfo *ei)
{
	int err;

	sa_dso_find_debug(img, d);

	err = sa_grow((void **)&img->dsos, &img->cap_dsos, img->nr_dsos,
		      sizeof(*img->dsos), SA_IMAGE_DSOS_MAX);
	if (!err)
		err = sa_dso_read_syms(d);
	if (err)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", d->file,
				      sa_strerror(err));
	img->dsos[img->nr_dsos++] = d;
	if (img->cache) {
		img->cache->st.builds++;
		sa_cache_insert(img->cache, d, img->symfs);
	}
	return 0;
}

/* A copy of the cached @src (or of its core) at @bias: the symbols
 * moved, the rest borrowed.  NULL on ENOMEM.
 */
static struct sa_idso *sa_idso_rebias(struct sa_idso *src, uint64_t bias)
{
	struct sa_idso *core = src->core ? src->core : src, *d;
	uint64_t delta = bias - core->pub.bias;
	size_t i;

	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->path = strdup(core->path);
	d->file = strdup(core->file);
	d->syms = core->nr_syms ? malloc(core->nr_syms * sizeof(*d->syms)) :
				  NULL;
	d->aliases = core->nr_aliases ?
		     malloc(core->nr_aliases * sizeof(*d->aliases)) : NULL;
	d->mapsyms = core->nr_mapsyms ?
		     malloc(core->nr_mapsyms * sizeof(*d->mapsyms)) : NULL;
	if (!d->path || !d->file || (core->nr_syms && !d->syms) ||
	    (core->nr_aliases && !d->aliases) ||
	    (core->nr_mapsyms && !d->mapsyms)) {
		free(d->path);
		free(d->file);
		free(d->syms);
		free(d->aliases);
		free(d->mapsyms);
		free(d);
		return NULL;
	}
	d->pub = core->pub;
	d->pub.path = d->path;
	d->pub.file = d->file;
	d->pub.bias = bias;
	d->fd = d->dbg_fd = -1;
	d->fm = core->fm;
	d->elf = core->elf;
	d->ehdr = core->ehdr;
	d->dbg_elf = core->dbg_elf;
	d->dbg_fm = core->dbg_fm;
	d->dw_tried = true;	/* lines come from the core */
	d->st = core->st;
	d->nr_syms = core->nr_syms;
	for (i = 0; i < d->nr_syms; i++) {
		d->syms[i] = core->syms[i];
		d->syms[i].pub.start += delta;
		d->syms[i].end += delta;
		d->syms[i].pub.dso = &d->pub;
	}
	d->nr_aliases = core->nr_aliases;
	if (d->nr_aliases)
		memcpy(d->aliases, core->aliases,
		       d->nr_aliases * sizeof(*d->aliases));
	d->nr_mapsyms = d->cap_mapsyms = core->nr_mapsyms;
	for (i = 0; i < d->nr_mapsyms; i++) {
		d->mapsyms[i] = core->mapsyms[i];
		d->mapsyms[i].addr += delta;
	}
	core->refs++;
	d->core = core;
	return d;
}

/* A dso of @path at @bias for @img: from its cache (as it is, or
 * re-biased), else opened, analysed and offered to the cache.
 */
static int sa_image_get_dso(struct sa_image *img, const char *path,
			    uint64_t bias, const uint8_t *bid, size_t bid_len,
			    struct sa_idso **out, struct sa_errinfo *ei)
{
	struct sa_idso *d;
	int err;

	if (img->cache) {
		img->cache->st.lookups++;
		d = sa_cache_find(img, path, bid, bid_len, bias, false);
		if (d) {
			err = sa_image_attach(img, d, ei);
			if (!err)
				*out = d;
			return err;
		}
		d = sa_cache_find(img, path, bid, bid_len, 0, true);
		if (d && (d = sa_idso_rebias(d, bias))) {
			/* attach takes the image's reference; the cache's
			 * comes with the insert
			 */
			err = sa_image_attach(img, d, ei);
			if (err) {
				sa_idso__free(d);
				return err;
			}
			img->cache->st.hits--;
			img->cache->st.rebiased++;
			sa_cache_insert(img->cache, d, img->symfs);
			if (!d->cached)
				d->refs = 0;	/* the image's only */
			*out = d;
			return 0;
		}
	}
	err = sa_dso_open(img, path, &d, ei);
	if (err)
		return err;
	d->pub.bias = bias;
	sa_dso_check_build_id(d, bid, bid_len);
	err = sa_image_add_dso(img, d, ei);
	if (err) {
		sa_idso__free(d);
		return err;
	}
	*out = d;
	return 0;
}

/*
 * Picks the PT_LOAD segment that an mmap of the file at @pgoff maps.
 * The mmap offset is page aligned and p_offset need not be, so a segment
 * matches when pgoff falls in [p_offset rounded down to p_align (or the
 * page size), p_offset + p_filesz).  Several may match in old binaries
 * whose data segment shares a file page with the text: an executable one
 * is preferred, since the bias is used for the symbols of the code.
 */
/* How well segment @ph explains a mapping of @pgoff at @start. */
static int sa_load_rank(const GElf_Phdr *ph, uint64_t pgoff, uint64_t start,
			bool fixed)
{
	uint64_t bias = start - pgoff + ph->p_offset - ph->p_vaddr;
	int rank = (ph->p_flags & PF_X) ? 1 : 0;

	if (fixed ? bias == 0 : (bias & 0xfff) == 0)
		rank += 2;
	return rank;
}

/* The PT_LOAD segment that file offset @pgoff, mapped at @start, belongs
 * to.  In a small file several segments share a page (the hase 'loopy'
 * maps page 0 both as text at 0x400000 and as data at 0x600000): then the
 * segment whose link address matches the mapping (bias 0 for ET_EXEC, a
 * page-aligned bias for ET_DYN) wins, and executable ones before others.
 */
static int sa_pick_load(Elf *elf, uint64_t pgoff, uint64_t start,
			bool fixed, GElf_Phdr *out)
{
	size_t i, nph = 0;
	bool found = false;

	if (elf_getphdrnum(elf, &nph) < 0)
		return -SA_ERR_FORMAT;
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;
		uint64_t align, lo;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		align = ph.p_align > 1 && !(ph.p_align & (ph.p_align - 1)) ?
			ph.p_align : 4096;
		if (align > 4096)
			align = 4096;	/* mmap offsets: page multiples */
		lo = ph.p_offset & ~(align - 1);
		if (pgoff < lo || pgoff >= ph.p_offset + ph.p_filesz)
			continue;
		if (!found || sa_load_rank(&ph, pgoff, start, fixed) >
				      sa_load_rank(out, pgoff, start, fixed)) {
			*out = ph;
			found = true;
		}
	}
	return found ? 0 : -SA_ERR_NOTFOUND;
}

/* The dso already loaded from @path with @bias, if any. */
static struct sa_idso *sa_image_find_dso(struct sa_image *img,
					 const char *path, uint64_t bias,
					 bool any_bias)
{
	size_t i;

	for (i = 0; i < img->nr_dsos; i++) {
		struct sa_idso *d = img->dsos[i];

		if (strcmp(d->path, path))
			continue;
		if (any_bias || d->pub.bias == bias)
			return d;
	}
	return NULL;
}

int sa_image_add_elf(struct sa_image *img, const char *path, uint64_t start,
		     uint64_t len, uint64_t pgoff, const uint8_t *build_id,
		     size_t build_id_len, struct sa_errinfo *ei)
{
	struct sa_idso *d, *nd = NULL, *hd = NULL;
	GElf_Phdr ph = { 0 };
	uint64_t bias, avail;
	bool exec;
	int err;

	sa_errinfo_clear(ei);
	if (!img || !path)
		return sa_errinfo_set(ei, -EINVAL, SA_NO_OFFSET,
				      "ELF mapping: no path");
	d = sa_image_find_dso(img, path, 0, true);
	/* a cached analysis of the file gives its headers, for the bias */
	if (!d)
		hd = sa_cache_find(img, path, build_id, build_id_len, 0, true);
	if (!d && !hd) {
		if (img->cache)
			img->cache->st.lookups++;
		err = sa_dso_open(img, path, &nd, ei);
		if (err)
			return err;
		d = nd;
	}
	if (!hd)
		hd = d;
	if (pgoff > hd->fm.size) {
		err = sa_errinfo_set(ei, -SA_ERR_INVAL, pgoff,
				     "%s: mapping offset 0x%" PRIx64 " is past "
				     "the end of the file %s (%zu bytes)",
				     path, pgoff, hd->file, hd->fm.size);
		goto err_free;
	}
	err = sa_pick_load(hd->elf, pgoff, start, hd->ehdr.e_type == ET_EXEC,
			   &ph);
	if (err) {
		/* Not code of the file (e.g. a mapping of its tail): map the
		 * bytes, but it gives no bias.
		 */
		bias = d ? d->pub.bias : 0;
		exec = false;
	} else {
		bias = start - pgoff + ph.p_offset - ph.p_vaddr;
		exec = ph.p_flags & PF_X;
	}
	if (hd->ehdr.e_type == ET_EXEC && bias && exec) {
		sa_warn("%s: executable (ET_EXEC) mapped at 0x%" PRIx64 " with "
			"offset 0x%" PRIx64 ", not where it was linked (load "
			"bias 0x%" PRIx64 "); symbols are moved with it\n",
			path, start, pgoff, bias);
	}
	if (nd) {
		nd->pub.bias = bias;
		sa_dso_check_build_id(nd, build_id, build_id_len);
		err = sa_image_add_dso(img, nd, ei);
		if (err)
			goto err_free;
		nd = NULL;
	} else if (!d) {
		/* the file's first mapping in this image, cached */
		err = sa_image_get_dso(img, path, bias, build_id,
				       build_id_len, &d, ei);
		if (err)
			return err;
	} else if (exec && bias != d->pub.bias) {
		/* The same file at another address: a dso of its own. */
		struct sa_idso *other = sa_image_find_dso(img, path, bias,
							  false);

		if (!other) {
			err = sa_image_get_dso(img, path, bias, build_id,
					       build_id_len, &other, ei);
			if (err)
				return err;
		}
		d = other;
	} else if (build_id_len && !d->pub.build_id_mismatch) {
		if (d->cached) {
			/* a mismatch must not reach the other images */
			struct sa_image_cache *c = img->cache;
			size_t i;

			for (i = 0; c && i < c->nr_dsos; i++)
				if (c->dsos[i] == d)
					break;
			if (c && i < c->nr_dsos &&
			    !sa_build_id_equal(&d->pub, build_id,
					       build_id_len > SA_BUILD_ID_MAX ?
					       SA_BUILD_ID_MAX : build_id_len))
				sa_cache_drop(c, i);
		}
		sa_dso_check_build_id(d, build_id, build_id_len);
	}
	avail = d->fm.size - pgoff;
	if (len > avail)
		len = avail;	/* the rest is bss or past EOF: no bytes */
	err = sa_sec_add(img, start, len, (uint8_t *)d->fm.base + pgoff, d);
	if (err)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", path,
				      sa_strerror(err));
	return 0;

err_free:
	sa_idso__free(nd);
	return err;
}

int sa_image_load_elf(struct sa_image *img, const char *path, uint64_t base,
		      struct sa_errinfo *ei)
{
	struct sa_idso *d = NULL, *hd;
	size_t i, nph = 0;
	uint64_t first = UINT64_MAX, bias;
	bool mapped = false;
	int err;

	sa_errinfo_clear(ei);
	if (!img || !path)
		return sa_errinfo_set(ei, -EINVAL, SA_NO_OFFSET,
				      "ELF binary: no path");
	hd = sa_cache_find(img, path, NULL, 0, 0, true);
	if (!hd) {
		err = sa_dso_open(img, path, &d, ei);
		if (err)
			return err;
		hd = d;
	}
	if (elf_getphdrnum(hd->elf, &nph) < 0)
		nph = 0;
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(hd->elf, i, &ph) && ph.p_type == PT_LOAD &&
		    ph.p_vaddr < first)
			first = ph.p_vaddr;
	}
	if (first == UINT64_MAX) {
		err = sa_errinfo_set(ei, -SA_ERR_FORMAT, hd->ehdr.e_phoff,
				     "%s: no PT_LOAD segment to map", path);
		goto err_free;
	}
	if (base == UINT64_MAX)
		base = hd->ehdr.e_type == ET_EXEC ? first : 0;
	bias = base - first;
	if (!d) {
		err = sa_image_get_dso(img, path, bias, NULL, 0, &d, ei);
		if (err)
			return err;
	} else {
		if (img->cache)
			img->cache->st.lookups++;
		d->pub.bias = bias;
		err = sa_image_add_dso(img, d, ei);
		if (err)
			goto err_free;
	}
	/* from here on the image owns d */
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;
		uint64_t fsz;

		if (!gelf_getphdr(d->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (ph.p_offset > d->fm.size) {
			sa_warn("%s: PT_LOAD at offset 0x%" PRIx64 " is past "
				"the end of the file; not mapped\n", path,
				(uint64_t)ph.p_offset);
			continue;
		}
		fsz = ph.p_filesz;
		if (fsz > d->fm.size - ph.p_offset) {
			sa_warn("%s: PT_LOAD at offset 0x%" PRIx64 " is cut "
				"by the end of the file\n", path,
				(uint64_t)ph.p_offset);
			fsz = d->fm.size - ph.p_offset;
		}
		err = sa_sec_add(img, ph.p_vaddr + bias, fsz,
				 (uint8_t *)d->fm.base + ph.p_offset, d);
		if (err)
			return sa_errinfo_set(ei, err, ph.p_offset, "%s: %s",
					      path, sa_strerror(err));
		mapped = true;
	}
	if (!mapped)
		return sa_errinfo_set(ei, -SA_ERR_TRUNCATED, SA_NO_OFFSET,
				      "%s: no segment could be mapped", path);
	return 0;

err_free:
	sa_idso__free(d);
	return err;
}

/* The last symbol of @d starting at or below @addr, or NULL. */
static const struct sa_isym *sa_dso_sym_below(const struct sa_idso *d,
					      uint64_t addr)
{
	size_t lo = 0, hi = d->nr_syms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->syms[mid].pub.start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &d->syms[lo - 1] : NULL;
}

const char *sa_sym_demangled(const struct sa_sym *sym)
{
	/*
	 * Demangling every symbol at load would cost libstdc++'s 6000 names
	 * some 50 ms per window; only the functions a trace reaches are
	 * asked for.  The image owns symbol and dso: the const is the
	 * callers' view, not the storage's.
	 */
	struct sa_isym *s;
	struct sa_idso *d;

	if (!sym)
		return NULL;
	s = (struct sa_isym *)to_isym(sym);
	if (!s->dm_tried) {
		d = (struct sa_idso *)((char *)sym->dso -
				       offsetof(struct sa_idso, pub));
		/* without memory the name is shown mangled */
		s->demangled = sa_dso_keep(d, sa_demangle(sym->name));
		s->dm_tried = true;
	}
	return s->demangled;
}

const struct sa_sym *sa_image_symbolize(const struct sa_image *img,
					uint64_t addr)
{
	const struct sa_section *s;
	const struct sa_isym *sym;

	if (!img)
		return NULL;
	s = sa_sec_find(img, addr);
	if (!s || !s->dso)
		return NULL;
	sym = sa_dso_sym_below(s->dso, addr);
	if (!sym || addr >= sym->end)
		return NULL;
	return &sym->pub;
}

char sa_image_code_kind(const struct sa_image *img, uint64_t addr,
			uint64_t *next)
{
	const struct sa_section *s = sa_sec_find(img, addr);
	const struct sa_idso *d;
	size_t lo = 0, hi;

	*next = UINT64_MAX;
	if (!s || !s->dso || !s->dso->nr_mapsyms)
		return 0;
	d = s->dso;
	hi = d->nr_mapsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->mapsyms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < d->nr_mapsyms)
		*next = d->mapsyms[lo].addr;
	return lo ? d->mapsyms[lo - 1].kind : 0;
}

uint64_t sa_image_next_sym_start(const struct sa_image *img, uint64_t addr)
{
	const struct sa_section *s = sa_sec_find(img, addr);
	const struct sa_isym *sym;
	size_t i;

	if (!s || !s->dso || !s->dso->nr_syms)
		return UINT64_MAX;
	sym = sa_dso_sym_below(s->dso, addr);
	i = sym ? (size_t)(sym - s->dso->syms) + 1 : 0;
	return i < s->dso->nr_syms ? s->dso->syms[i].pub.start : UINT64_MAX;
}

const struct sa_sym *sa_image_find_symbol(const struct sa_image *img,
					  const char *name)
{
	size_t i, j;

	if (!img || !name)
		return NULL;
	for (i = 0; i < img->nr_dsos; i++) {
		const struct sa_idso *d = img->dsos[i];

		for (j = 0; j < d->nr_syms; j++)
			if (!strcmp(d->syms[j].pub.name, name))
				return &d->syms[j].pub;
		for (j = 0; j < d->nr_aliases; j++)
			if (!strcmp(d->aliases[j].name, name))
				return &d->syms[d->aliases[j].sym].pub;
	}
	return NULL;
}

const struct sa_dso *sa_image_dso(const struct sa_image *img, uint64_t addr)
{
	const struct sa_section *s;

	if (!img)
		return NULL;
	s = sa_sec_find(img, addr);
	return s && s->dso ? &s->dso->pub : NULL;
}

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

const struct sa_dso *sa_image_dso_at(const struct sa_image *img, size_t idx)
{
	if (!img || idx >= img->nr_dsos)
		return NULL;
	return &img->dsos[idx]->pub;
}

static int sa_cu_range_cmp(const void *pa, const void *pb)
{
	const struct sa_cu_range *a = pa, *b = pb;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/*
 * The CUs and their address ranges, sorted, for files whose line lookup
 * cannot use .debug_aranges (clang, some linkers, addresses aranges do not
 * cover): a binary search instead of dwarf_haspc over every CU.
 */
static void sa_dso_read_cus(struct sa_idso *d)
{
	Dwarf_Off off = 0, next;
	size_t hsize, cap = 0, rcap = 0;

	d->cus_tried = true;
	for (; dwarf_nextcu(d->dw, off, &next, &hsize, NULL, NULL, NULL) == 0;
	     off = next) {
		Dwarf_Die die;
		Dwarf_Addr base, lo, hi;
		ptrdiff_t roff = 0;

		if (!dwarf_offdie(d->dw, off + hsize, &die))
			continue;
		if (d->nr_cus >= cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p;

			if (ncap > SA_IMAGE_LINES_MAX)
				break;
			p = reallocarray(d->cus, ncap, sizeof(*d->cus));
			if (!p)
				break;
			d->cus = p;
			cap = ncap;
		}
		d->cus[d->nr_cus] = die;
		while ((roff = dwarf_ranges(&die, roff, &base, &lo, &hi)) > 0) {
			struct sa_cu_range *r;

			if (hi <= lo)
				continue;
			if (d->nr_cu_ranges >= rcap) {
				size_t ncap = rcap ? rcap * 2 : 256;
				void *p;

				if (ncap > 4 * SA_IMAGE_LINES_MAX)
					break;
				p = reallocarray(d->cu_ranges, ncap,
						 sizeof(*d->cu_ranges));
				if (!p)
					break;
				d->cu_ranges = p;
				rcap = ncap;
			}
			r = &d->cu_ranges[d->nr_cu_ranges++];
			r->lo = lo;
			r->hi = hi;
			r->cu = d->nr_cus;
		}
		d->nr_cus++;
	}
	if (d->nr_cu_ranges)
		qsort(d->cu_ranges, d->nr_cu_ranges, sizeof(*d->cu_ranges),
		      sa_cu_range_cmp);
}

/* The CU whose ranges hold @addr, or NULL. */
static Dwarf_Die *sa_dso_cu_of(struct sa_idso *d, uint64_t addr)
{
	size_t lo = 0, hi = d->nr_cu_ranges, k;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->cu_ranges[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* ranges of different CUs rarely nest: look back a little */
	for (k = 0; k < 16 && lo > 0; k++, lo--)
		if (addr < d->cu_ranges[lo - 1].hi)
			return &d->cus[d->cu_ranges[lo - 1].cu];
	return NULL;
}

/*
 * A relative name of the line table is relative to the CU's compilation
 * directory: join them as addr2line does (without normalising "..").
 * The joined strings are kept per dso, keyed by libdw's pointer.
 */
static const char *sa_dso_full_path(struct sa_idso *d, Dwarf_Die *cu,
				    const char *name)
{
	Dwarf_Attribute attr;
	const char *dir;
	char *full;
	size_t i;

	for (i = 0; i < d->nr_paths; i++)
		if (d->paths[i].name == name)
			return d->paths[i].full;
	dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr));
	if (!dir || !dir[0])
		return name;
	if (d->nr_paths >= d->cap_paths) {
		size_t ncap = d->cap_paths ? d->cap_paths * 2 : 16;
		void *p;

		if (ncap > SA_IMAGE_PATHS_MAX)
			return name;
		p = reallocarray(d->paths, ncap, sizeof(*d->paths));
		if (!p)
			return name;
		d->paths = p;
		d->cap_paths = ncap;
	}
	if (asprintf(&full, "%s/%s", dir, name) < 0)
		return name;
	d->paths[d->nr_paths].name = name;
	d->paths[d->nr_paths++].full = full;
	return full;
}

/*
 * libdw decompresses every compressed debug section (SHF_COMPRESSED, as
 * Debian's debug files have them) into its own memory when it opens the
 * DWARF; the compressed bytes of the file, read once, would stay in our
 * RSS as long as the file is mapped (16 MB for GNU gold's debug file).
 * Hands those pages back to the kernel: they are clean file pages, read
 * again from the file if ever needed.  Only a separate debug file: the
 * decoders read the code from the binary's own mapping.
 */
static void sa_pageout(const void *base, size_t size)
{
#ifdef MADV_PAGEOUT
	uintptr_t b = (uintptr_t)base & ~(uintptr_t)4095;

	if (base && size)
		madvise((void *)b, size + ((uintptr_t)base - b),
			MADV_PAGEOUT);
#else
	(void)base;
	(void)size;
#endif
}

static void sa_dso_dwarf_pageout(struct sa_idso *d)
{
	if (d->dw && d->dbg_elf && dwarf_getelf(d->dw) == d->dbg_elf)
		sa_pageout(d->dbg_fm.base, d->dbg_fm.size);
}

static int sa_dso_srcline(struct sa_idso *d, uint64_t addr,
			  const char **file, int *line)
{
	Dwarf_Die cudie, *cu = NULL;
	Dwarf_Line *l;
	uint64_t eaddr = addr - d->pub.bias;
	int lineno = 0;

	if (d->core)
		return sa_dso_srcline(d->core, eaddr + d->core->pub.bias, file,
				      line);

	if (!d->dw_tried) {
		d->dw_tried = true;
		d->dw_opens++;
		d->dw = dwarf_begin_elf(d->elf, DWARF_C_READ, NULL);
		if (!d->dw && d->dbg_elf)
			d->dw = dwarf_begin_elf(d->dbg_elf, DWARF_C_READ,
						NULL);
		sa_dso_dwarf_pageout(d);
	}
	if (!d->dw)
		return -SA_ERR_NOTFOUND;
	if (dwarf_addrdie(d->dw, eaddr, &cudie)) {
		cu = &cudie;
	} else {
		/* no .debug_aranges (clang, some linkers): CU ranges */
		if (!d->cus_tried)
			sa_dso_read_cus(d);
		cu = sa_dso_cu_of(d, eaddr);
	}
	if (!cu)
		return -SA_ERR_NOTFOUND;
	l = dwarf_getsrc_die(cu, eaddr);
	if (!l)
		return -SA_ERR_NOTFOUND;
	*file = dwarf_linesrc(l, NULL, NULL);
	if (!*file || dwarf_lineno(l, &lineno) != 0)
		return -SA_ERR_NOTFOUND;
	if ((*file)[0] != '/')
		*file = sa_dso_full_path(d, cu, *file);
	*line = lineno;
	return 0;
}

static size_t sa_line_hash(uint64_t addr, size_t mask)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ULL) >> 17) & mask;
}

static void sa_line_put(struct sa_image *img, uint64_t addr, const char *file,
			int line)
{
	size_t i, mask;

	if (!addr)
		return;
	if ((img->nr_lines + 1) * 2 > img->cap_lines) {
		size_t ncap = img->cap_lines ? img->cap_lines * 2 : 1024;
		struct sa_line *n;

		if (ncap > SA_IMAGE_LINES_MAX * 2)
			return;	/* cache full: look up every time */
		n = calloc(ncap, sizeof(*n));
		if (!n)
			return;
		for (i = 0; i < img->cap_lines; i++) {
			struct sa_line *o = &img->lines[i];
			size_t j;

			if (!o->addr)
				continue;
			j = sa_line_hash(o->addr, ncap - 1);
			while (n[j].addr)
				j = (j + 1) & (ncap - 1);
			n[j] = *o;
		}
		free(img->lines);
		img->lines = n;
		img->cap_lines = ncap;
	}
	mask = img->cap_lines - 1;
	i = sa_line_hash(addr, mask);
	while (img->lines[i].addr && img->lines[i].addr != addr)
		i = (i + 1) & mask;
	if (!img->lines[i].addr)
		img->nr_lines++;
	img->lines[i].addr = addr;
	img->lines[i].file = file;
	img->lines[i].line = line;
}

int sa_image_srcline(struct sa_image *img, uint64_t addr, const char **file,
		     int *line)
{
	const struct sa_section *s;
	const char *f = NULL;
	int l = 0, err;

	if (!img || !file || !line)
		return -EINVAL;
	if (img->cap_lines && addr) {
		size_t mask = img->cap_lines - 1, i = sa_line_hash(addr, mask);

		while (img->lines[i].addr) {
			if (img->lines[i].addr == addr) {
				if (!img->lines[i].file)
					return -SA_ERR_NOTFOUND;
				*file = img->lines[i].file;
				*line = img->lines[i].line;
				return 0;
			}
			i = (i + 1) & mask;
		}
	}
	s = sa_sec_find(img, addr);
	if (!s || !s->dso)
		return -SA_ERR_NOTFOUND;
	err = sa_dso_srcline(s->dso, addr, &f, &l);
	sa_line_put(img, addr, err ? NULL : f, l);
	if (err)
		return err;
	*file = f;
	*line = l;
	return 0;
}
