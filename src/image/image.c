// SPDX-License-Identifier: BSD-2-Clause
/*
 * The traced process image: sections of file bytes at runtime addresses
 * (ELF mappings, raw files, caller buffers) and reads from them.
 *
 * Files are mapped read-only-private with mmap and every ELF header value
 * that points into the file is checked against the file size before use:
 * the binaries come from the user or from a trace and may be anything.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/image.h"
#include "sensor/file.h"
#include "image_int.h"

static bool sa_elf_ready;

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

void sa_filemap_fini(struct sa_filemap *fm)
{
	if (fm->base && fm->size)
		munmap(fm->base, fm->size);
	fm->base = NULL;
	fm->size = 0;
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
int sa_grow(void **arr, size_t *cap, size_t nr, size_t esz, size_t max)
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

const struct sa_section *sa_sec_find(const struct sa_image *img,
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
int sa_sec_add(struct sa_image *img, uint64_t start, uint64_t len,
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
 * Maps the file open at @fd (@path names it in errors) whole.  On error
 * fills @ei; @fd stays open either way.
 */
int sa_map_fd(int fd, const char *path, struct sa_filemap *fm,
	      struct sa_errinfo *ei)
{
	struct stat st;
	void *p;
	int err;

	if (fstat(fd, &st) < 0) {
		err = -errno;
		return sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", path,
				      strerror(-err));
	}
	if ((uint64_t)st.st_size > SA_IMAGE_FILE_MAX)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "%s: %" PRIu64 " bytes, more than the "
				      "%llu-byte limit of one image file",
				      path, (uint64_t)st.st_size,
				      SA_IMAGE_FILE_MAX);
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
			fm->size = 0;
			return sa_errinfo_set(ei, err, SA_NO_OFFSET,
					      "%s: mmap: %s", path,
					      strerror(-err));
		}
		fm->base = p;
	}
	return 0;
}

/*
 * Opens @path and maps it whole.  On error fills @ei naming @what (the
 * path the user or the trace gave).
 */
int sa_map_file(const char *path, int *fdp, struct sa_filemap *fm,
		struct sa_errinfo *ei)
{
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
	err = sa_map_fd(fd, path, fm, ei);
	if (err) {
		close(fd);
		return err;
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

const struct sa_dso *sa_image_dso_at(const struct sa_image *img, size_t idx)
{
	if (!img || idx >= img->nr_dsos)
		return NULL;
	return &img->dsos[idx]->pub;
}
