// SPDX-License-Identifier: BSD-2-Clause
/*
 * Separate debug files: by build-id under /usr/lib/debug/.build-id/ and
 * by .gnu_debuglink, where gdb and perf look.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/image.h"
#include "sensor/log.h"
#include "image_int.h"

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
void sa_dso_find_debug(struct sa_image *img, struct sa_idso *d)
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
