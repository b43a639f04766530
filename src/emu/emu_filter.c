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
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "sensor/file.h"
#include "sensor/log.h"
#include "emu_rec.h"

struct elf_file {
	int fd;
	Elf *elf;
};

static int elf_open(struct elf_file *ef, const char *path,
		    struct sa_errinfo *ei)
{
	elf_version(EV_CURRENT);
	ef->fd = sa_file_open_input(path, 0);
	if (ef->fd < 0)
		return sa_errinfo_set(ei, ef->fd, SA_NO_OFFSET,
				      "filter: cannot open %s: %s", path,
				      ef->fd == -ESPIPE ? "not a regular file"
				      : strerror(-ef->fd));
	ef->elf = elf_begin(ef->fd, ELF_C_READ, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF) {
		if (ef->elf)
			elf_end(ef->elf);
		close(ef->fd);
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
				      "filter: %s is not an ELF file", path);
	}
	return 0;
}

static void elf_close(struct elf_file *ef)
{
	elf_end(ef->elf);
	close(ef->fd);
}

/* Looks @name up in .symtab, then .dynsym. */
static int elf_find_sym(struct elf_file *ef, const char *name,
			uint64_t *addr, uint64_t *size)
{
	int pass;

	for (pass = 0; pass < 2; pass++) {
		Elf_Scn *scn = NULL;
		Elf64_Word want = pass ? SHT_DYNSYM : SHT_SYMTAB;

		while ((scn = elf_nextscn(ef->elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *d;
			size_t i, n;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != want ||
			    !sh.sh_entsize)
				continue;
			d = elf_getdata(scn, NULL);
			if (!d)
				continue;
			n = sh.sh_size / sh.sh_entsize;
			for (i = 0; i < n; i++) {
				GElf_Sym sym;
				const char *s;

				if (!gelf_getsym(d, (int)i, &sym) ||
				    !sym.st_value ||
				    sym.st_shndx == SHN_UNDEF)
					continue;
				s = elf_strptr(ef->elf, sh.sh_link,
					       sym.st_name);
				if (s && strcmp(s, name) == 0) {
					*addr = sym.st_value;
					*size = sym.st_size;
					return 0;
				}
			}
		}
	}
	return -SA_ERR_NOTFOUND;
}

/* ELF virtual address -> file offset, through the PT_LOAD holding it. */
static int elf_vaddr_off(struct elf_file *ef, uint64_t vaddr, uint64_t *off)
{
	size_t i, n;

	if (elf_getphdrnum(ef->elf, &n))
		return -SA_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(ef->elf, (int)i, &ph) ||
		    ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
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
static int add_vaddr_range(struct sa_emu *emu, struct elf_file *ef,
			   const char *file, uint64_t vaddr, uint64_t size,
			   const char *what, struct sa_errinfo *ei)
{
	uint64_t off;

	if (elf_vaddr_off(ef, vaddr, &off))
		return sa_errinfo_set(ei, -SA_ERR_NOMAP, SA_NO_OFFSET,
				      "filter: %s (%#" PRIx64 ") is not in a "
				      "loaded segment of %s", what, vaddr,
				      file);
	return add_file_range(emu, file, off, size, what, ei);
}

static int default_filter(struct sa_emu *emu, struct sa_errinfo *ei)
{
	struct elf_file ef;
	size_t i, n;
	int err;

	err = elf_open(&ef, emu->exe, ei);
	if (err)
		return err;
	if (elf_getphdrnum(ef.elf, &n))
		n = 0;
	for (i = 0; i < n && !err; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(ef.elf, (int)i, &ph) ||
		    ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		err = add_file_range(emu, emu->exe, ph.p_offset,
				     ph.p_filesz, "executable segment", ei);
	}
	elf_close(&ef);
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
	struct elf_file ef;
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
	err = elf_open(&ef, file, ei);
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
		uint64_t ssize;

		err = elf_find_sym(&ef, what, &addr, &ssize);
		if (err)
			err = sa_errinfo_set(ei, -SA_ERR_NOTFOUND,
					     SA_NO_OFFSET,
					     "filter: no symbol '%s' in %s",
					     what, file);
		else if (!have_size && !ssize)
			err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					     "filter: symbol '%s' in %s has "
					     "no size: give /SIZE", what, file);
		else
			err = add_vaddr_range(emu, &ef, file, addr,
					      have_size ? size : ssize, what,
					      ei);
	}
	elf_close(&ef);
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
