// SPDX-License-Identifier: BSD-2-Clause
/*
 * ELF binaries of an image: opening and checking a file (struct sa_idso),
 * the load bias of an MMAP record or of --binary, and a dso's teardown.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/image.h"
#include "sensor/file.h"
#include "sensor/log.h"
#include "image_int.h"

/* What an analysed dso holds open: DWARF, the ELF handles, the mapped
 * file and its debug file.
 */
static void sa_idso_close(struct sa_idso *d)
{
	/* first: it writes names that DWARF and d->paths own */
	sa_lcache_close(d);
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

void sa_idso__free(struct sa_idso *d)
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
void sa_idso_put(struct sa_idso *d)
{
	if (d && (!d->refs || !--d->refs))
		sa_idso__free(d);
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

const char *sa_arch_name(enum sa_arch a)
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
int sa_dso_open(struct sa_image *img, const char *path,
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

int sa_image_add_dso(struct sa_image *img, struct sa_idso *d,
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

/* Opens @path for one of the by-path readers below, with elfsym's
 * messages (the capture's filters show them).
 */
int sa_elf_open_path(const char *path, int *fdp, Elf **elfp,
		     struct sa_errinfo *ei)
{
	Elf *e;
	int fd;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
				      "libelf: %s", elf_errmsg(-1));
	fd = sa_file_open_input(path, 0);
	if (fd < 0)
		return sa_errinfo_set(ei, fd, SA_NO_OFFSET, "%s: %s", path,
				      fd == -ESPIPE ? "not a regular file "
				      "(FIFOs, sockets and devices are "
				      "refused)" : strerror(-fd));
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		int err = sa_errinfo_set(ei, -SA_ERR_FORMAT, 0,
					 "%s is not an ELF file: %s", path,
					 elf_errmsg(-1));

		if (e)
			elf_end(e);
		close(fd);
		return err;
	}
	*fdp = fd;
	*elfp = e;
	return 0;
}

int sa_elf_segments(const char *path, struct sa_elf_seg *out, size_t max,
		    struct sa_errinfo *ei)
{
	size_t i, n = 0, nr = 0;
	Elf *e;
	int fd, err;

	sa_errinfo_clear(ei);
	if (!path || (!out && max))
		return sa_errinfo_set(ei, -EINVAL, SA_NO_OFFSET,
				      "segments: no path");
	err = sa_elf_open_path(path, &fd, &e, ei);
	if (err)
		return err;
	if (elf_getphdrnum(e, &n))
		n = 0;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (nr < max) {
			out[nr].offset = ph.p_offset;
			out[nr].vaddr = ph.p_vaddr;
			out[nr].filesz = ph.p_filesz;
			out[nr].memsz = ph.p_memsz;
			out[nr].flags = ph.p_flags;
		}
		nr++;
	}
	elf_end(e);
	close(fd);
	return nr > INT32_MAX ? INT32_MAX : (int)nr;
}
