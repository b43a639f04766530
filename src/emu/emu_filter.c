// SPDX-License-Identifier: BSD-2-Clause
/*
 * Address filters for the emulated sensor, in perf's --filter syntax:
 *
 *	filter SYM [/SIZE] @ FILE
 *	filter OFF /SIZE @ FILE		(OFF: an offset in FILE, as the
 *					 kernel's address filters take it)
 *	filter ADDR /SIZE		(a runtime address range)
 *
 * separated by ','.  They are resolved against the target's mappings to
 * runtime ranges, and written back in the canonical ADDR/SIZE @ FILE form
 * (file offsets) for the perf.data AUXTRACE_INFO filter string, which
 * perf's decoder matches against file offsets.  With no filter: the main
 * binary's executable segments.
 */
#include <errno.h>
#include <fcntl.h>
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "sensor/file.h"
#include "sensor/image.h"
#include "sensor/log.h"
#include "emu_rec.h"

/* At most this many PT_LOAD segments are looked at per file. */
#define SEGS_MAX 64

/* The PT_LOAD segments of @path, through the image module's reader,
 * with this module's messages.
 */
static int elf_segs(const char *path, struct sa_elf_seg *segs, size_t *nr,
		    struct sa_errinfo *ei)
{
	int n = sa_elf_segments(path, segs, SEGS_MAX, ei);

	if (n == -SA_ERR_FORMAT)
		return sa_errinfo_set(ei, n, SA_NO_OFFSET,
				      "filter: %s is not an ELF file", path);
	if (n < 0)
		return sa_errinfo_set(ei, n, SA_NO_OFFSET,
				      "filter: cannot open %s: %s", path,
				      n == -ESPIPE ? "not a regular file" :
				      sa_strerror(n));
	*nr = (size_t)n < SEGS_MAX ? (size_t)n : SEGS_MAX;
	return 0;
}

/* ELF virtual address -> file offset, through the PT_LOAD holding it. */
static int elf_vaddr_off(const struct sa_elf_seg *segs, size_t nr,
			 uint64_t vaddr, uint64_t *off)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		if (vaddr >= segs[i].vaddr &&
		    vaddr < segs[i].vaddr + segs[i].filesz) {
			*off = vaddr - segs[i].vaddr + segs[i].offset;
			return 0;
		}
	}
	return -SA_ERR_NOMAP;
}

/* File offset of @path -> runtime address, through its mappings. */
int sa_emu_file_off_runtime(const struct sa_emu *emu, const char *path,
			    uint64_t off, uint64_t *rt)
{
	size_t i;

	for (i = 0; i < emu->nr_vmas; i++) {
		const struct sa_emu_vma *v = &emu->vmas[i];

		if (!v->path || strcmp(v->path, path) != 0)
			continue;
		if (off >= v->pgoff && off < v->pgoff + (v->end - v->start)) {
			*rt = v->start + (off - v->pgoff);
			return 0;
		}
	}
	return -SA_ERR_NOMAP;
}

static bool file_mapped(const struct sa_emu *emu, const char *path)
{
	size_t i;

	for (i = 0; i < emu->nr_vmas; i++)
		if (emu->vmas[i].path && strcmp(emu->vmas[i].path, path) == 0)
			return true;
	return false;
}

static int add_range(struct sa_emu *emu, uint64_t lo, uint64_t hi,
		     uint64_t off, const char *file, struct sa_errinfo *ei)
{
	size_t len = strlen(emu->filter_str);
	int n;

	if (emu->nr_filt >= SA_EMU_MAX_RANGES)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "filter: more than %d ranges (the limit)",
				      SA_EMU_MAX_RANGES);
	emu->filt[emu->nr_filt].lo = lo;
	emu->filt[emu->nr_filt].hi = hi;
	emu->nr_filt++;
	if (file)
		n = snprintf(emu->filter_str + len,
			     sizeof(emu->filter_str) - len,
			     "%sfilter %#" PRIx64 "/%#" PRIx64 " @ %s",
			     len ? "," : "", off, hi - lo, file);
	else
		n = snprintf(emu->filter_str + len,
			     sizeof(emu->filter_str) - len,
			     "%sfilter %#" PRIx64 "/%#" PRIx64,
			     len ? "," : "", lo, hi - lo);
	if (n < 0 || (size_t)n >= sizeof(emu->filter_str) - len)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "filter: string longer than %d bytes",
				      SA_EMU_FILTER_MAX);
	return 0;
}

/* Adds [off, off + size) of @file (file offsets, as the kernel's address
 * filters and perf's filter matching use them).
 */
static int add_file_range(struct sa_emu *emu, const char *file,
			  uint64_t off, uint64_t size, const char *what,
			  struct sa_errinfo *ei)
{
	uint64_t rt;

	if (sa_emu_file_off_runtime(emu, file, off, &rt))
		return sa_errinfo_set(ei, -SA_ERR_NOMAP, SA_NO_OFFSET,
				      "filter: %s (file offset %#" PRIx64
				      ") of %s is not mapped in pid %d", what,
				      off, file, (int)emu->pid);
	return add_range(emu, rt, rt + size, off, file, ei);
}

/* Same, from an ELF virtual address (a symbol's). */
static int add_vaddr_range(struct sa_emu *emu, const struct sa_elf_seg *segs,
			   size_t nr, const char *file, uint64_t vaddr,
			   uint64_t size, const char *what,
			   struct sa_errinfo *ei)
{
	uint64_t off;

	if (elf_vaddr_off(segs, nr, vaddr, &off))
		return sa_errinfo_set(ei, -SA_ERR_NOMAP, SA_NO_OFFSET,
				      "filter: %s (%#" PRIx64 ") is not in a "
				      "loaded segment of %s", what, vaddr,
				      file);
	return add_file_range(emu, file, off, size, what, ei);
}

static int default_filter(struct sa_emu *emu, struct sa_errinfo *ei)
{
	struct sa_elf_seg segs[SEGS_MAX];
	size_t i, n;
	int err;

	err = elf_segs(emu->exe, segs, &n, ei);
	if (err)
		return err;
	for (i = 0; i < n && !err; i++) {
		if (!(segs[i].flags & PF_X))
			continue;
		err = add_file_range(emu, emu->exe, segs[i].offset,
				     segs[i].filesz, "executable segment", ei);
	}
	if (!err && !emu->nr_filt)
		err = sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
				     "filter: %s has no executable segment",
				     emu->exe);
	return err;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || end == s || *trim(end))
		return -SA_ERR_INVAL;
	return 0;
}

/* One "filter WHAT[/SIZE] [@ FILE]". */
static int parse_one(struct sa_emu *emu, char *f, struct sa_errinfo *ei)
{
	char *what, *file = NULL, *at, *slash;
	uint64_t size = 0, addr;
	bool have_size = false;
	struct sa_elf_seg segs[SEGS_MAX];
	size_t nsegs;
	int err;

	f = trim(f);
	if (strncmp(f, "filter", 6) != 0 || (f[6] != ' ' && f[6] != '\t'))
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "filter: '%s': expected 'filter ADDR/SIZE"
				      " [@ FILE]' or 'filter SYMBOL @ FILE' "
				      "(start/stop filters are not supported)",
				      f);
	what = f + 7;
	at = strchr(what, '@');
	if (at) {
		*at = '\0';
		file = trim(at + 1);
	}
	slash = strchr(what, '/');
	if (slash) {
		*slash = '\0';
		if (parse_u64(slash + 1, &size) || !size)
			return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					      "filter: bad size '%s'",
					      slash + 1);
		have_size = true;
	}
	what = trim(what);
	if (!*what)
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "filter: missing address or symbol");
	if (!file || !*file) {
		if (parse_u64(what, &addr) || !have_size)
			return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					      "filter: '%s' needs '@ FILE', "
					      "or give ADDR/SIZE", what);
		return add_range(emu, addr, addr + size, 0, NULL, ei);
	}
	if (!file_mapped(emu, file))
		return sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
				      "filter: %s is not mapped in pid %d "
				      "(give the path as /proc/%d/maps "
				      "shows it)",
				      file, (int)emu->pid, (int)emu->pid);
	err = elf_segs(file, segs, &nsegs, ei);
	if (err)
		return err;
	if (parse_u64(what, &addr) == 0) {
		if (!have_size)
			err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					     "filter: address %s needs a /SIZE",
					     what);
		else
			err = add_file_range(emu, file, addr, size,
					     "address", ei);
	} else {
		struct sa_elf_sym sym = { 0 };
		uint64_t ssize;
		int found;

		/* the image module's reader, .symtab then .dynsym */
		found = sa_elf_find_symbol(file, what, 0, &sym, 1, ei);
		addr = sym.value;
		ssize = sym.size;
		if (found < 0)
			err = found;
		else if (!found)
			err = sa_errinfo_set(ei, -SA_ERR_NOTFOUND,
					     SA_NO_OFFSET,
					     "filter: no symbol '%s' in %s",
					     what, file);
		else if (!have_size && !ssize)
			err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					     "filter: symbol '%s' in %s has "
					     "no size: give /SIZE", what, file);
		else
			err = add_vaddr_range(emu, segs, nsegs, file, addr,
					      have_size ? size : ssize, what,
					      ei);
	}
	return err;
}

/* Page ranges of the filter, merged, with the protection to restore. */
static int compute_pages(struct sa_emu *emu, struct sa_errinfo *ei)
{
	size_t i, j;

	emu->nr_pages = 0;
	for (i = 0; i < emu->nr_filt; i++) {
		uint64_t lo = emu->filt[i].lo & ~0xfffull;
		uint64_t hi = (emu->filt[i].hi + 0xfff) & ~0xfffull;

		for (j = 0; j < emu->nr_vmas; j++) {
			const struct sa_emu_vma *v = &emu->vmas[j];
			uint64_t a = lo > v->start ? lo : v->start;
			uint64_t b = hi < v->end ? hi : v->end;
			size_t k;
			bool merged = false;

			if (a >= b)
				continue;
			if (!(v->prot & PROT_EXEC))
				continue;
			for (k = 0; k < emu->nr_pages; k++) {
				struct sa_emu_range *p = &emu->pages[k];

				if (p->prot == v->prot && a <= p->hi &&
				    b >= p->lo) {
					if (a < p->lo)
						p->lo = a;
					if (b > p->hi)
						p->hi = b;
					merged = true;
					break;
				}
			}
			if (merged)
				continue;
			if (emu->nr_pages >= SA_EMU_MAX_RANGES)
				return sa_errinfo_set(ei, -SA_ERR_TOOBIG,
						      SA_NO_OFFSET,
						      "filter: more than %d page "
						      "ranges (the limit)",
						      SA_EMU_MAX_RANGES);
			emu->pages[emu->nr_pages].lo = a;
			emu->pages[emu->nr_pages].hi = b;
			emu->pages[emu->nr_pages].prot = v->prot;
			emu->nr_pages++;
		}
	}
	if (!emu->nr_pages)
		return sa_errinfo_set(ei, -SA_ERR_NOMAP, SA_NO_OFFSET,
				      "filter: no executable mapping of pid %d "
				      "falls in '%s'", (int)emu->pid,
				      emu->filter_str);
	return 0;
}

int sa_emu_filter_resolve(struct sa_emu *emu, const char *filter,
			  struct sa_errinfo *ei)
{
	char *copy, *tok, *next;
	int err = 0;

	emu->nr_filt = 0;
	emu->filter_str[0] = '\0';
	if (!filter || !*filter) {
		err = default_filter(emu, ei);
	} else {
		if (strlen(filter) >= SA_EMU_FILTER_MAX)
			return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
					      "filter: longer than %d bytes",
					      SA_EMU_FILTER_MAX);
		copy = strdup(filter);
		if (!copy)
			return -ENOMEM;
		for (tok = copy; tok && !err; tok = next) {
			next = strchr(tok, ',');
			if (next)
				*next++ = '\0';
			err = parse_one(emu, tok, ei);
		}
		free(copy);
	}
	if (!err)
		err = compute_pages(emu, ei);
	return err;
}
