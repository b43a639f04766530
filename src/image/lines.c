// SPDX-License-Identifier: BSD-2-Clause
/*
 * Source lines from DWARF (libdw), opened on the first line asked for,
 * and the image's cache of the lines looked up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <dwarf.h>

#include "sensor/image.h"
#include "image_int.h"

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

static int sa_dso_srcline_dw(struct sa_idso *d, uint64_t eaddr,
			     const char **file, int *line);

static int sa_dso_srcline(struct sa_idso *d, uint64_t addr,
			  const char **file, int *line)
{
	uint64_t eaddr = addr - d->pub.bias;
	int err;

	if (d->core)
		return sa_dso_srcline(d->core, eaddr + d->core->pub.bias, file,
				      line);
	/* answered before, by this sensor or an earlier one */
	err = sa_lcache_find(d, eaddr, file, line);
	if (err)
		return err < 0 ? err : 0;
	err = sa_dso_srcline_dw(d, eaddr, file, line);
	/* "no line" only when there is DWARF to say so: a debug file
	 * installed later must be read
	 */
	if (!err || (err == -SA_ERR_NOTFOUND && d->dw))
		sa_lcache_add(d, eaddr, err ? NULL : *file, err ? 0 : *line);
	return err;
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

static int sa_dso_srcline_dw(struct sa_idso *d, uint64_t eaddr,
			     const char **file, int *line)
{
	Dwarf_Die cudie, *cu = NULL;
	Dwarf_Line *l;
	int lineno = 0;

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
