// SPDX-License-Identifier: BSD-2-Clause
/*
 * The analysis cache: binaries analysed once and shared by every image
 * that names them, found by path, symfs, bias and build-id (or file
 * identity), re-biased when a binary comes back at another address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sensor/image.h"
#include "image_int.h"

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
void sa_cache_drop(struct sa_image_cache *c, size_t i)
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
	free(c->dir);
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

int sa_image_cache_set_dir(struct sa_image_cache *c, const char *dir)
{
	char *copy = NULL;

	if (!c)
		return -EINVAL;
	if (dir) {
		copy = strdup(dir);
		if (!copy)
			return -ENOMEM;
	}
	free(c->dir);
	c->dir = copy;
	return 0;
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
struct sa_idso *sa_cache_find(struct sa_image *img, const char *path,
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
void sa_cache_insert(struct sa_image_cache *c, struct sa_idso *d,
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
	sa_lcache_attach(d, c->dir);
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
int sa_image_get_dso(struct sa_image *img, const char *path,
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
