// SPDX-License-Identifier: BSD-2-Clause
/*
 * Separate debug files, found by libdwfl: by build-id under
 * /usr/lib/debug/.build-id/ and by .gnu_debuglink, where gdb and perf
 * look, and from debuginfod servers when DEBUGINFOD_URLS names some.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>

#include "sensor/image.h"
#include "sensor/file.h"
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

/* Tries the file open at @fd (consumed), @cand by name, as the debug
 * file of @d: an ELF file of the same build-id (when both have one).
 * Returns true and keeps it on success.
 */
static bool sa_dso_try_debug_fd(struct sa_idso *d, int fd, const char *cand)
{
	struct sa_filemap fm = { 0 };
	uint8_t id[SA_BUILD_ID_MAX], len = 0;
	struct stat st;
	Elf *elf;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (st.st_dev == d->st.st_dev && st.st_ino == d->st.st_ino) ||
	    sa_map_fd(fd, cand, &fm, NULL))
		goto fail;
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

static bool sa_dso_try_debug(struct sa_idso *d, const char *cand)
{
	int fd;

	if (!strcmp(cand, d->file))
		return false;
	fd = sa_file_open_input(cand, 0);
	return fd >= 0 && sa_dso_try_debug_fd(d, fd, cand);
}

/*
 * libdwfl's search for the debug file of @d (dwfl_standard_find_debuginfo
 * with @dpath as its debuginfo_path): by build-id under every absolute
 * directory of @dpath (DIR/.build-id/xx/yyyy.debug), then by
 * .gnu_debuglink beside the file, in its .debug/ and under every
 * absolute directory + the file's directory, and last, when
 * DEBUGINFOD_URLS is set and libdebuginfod is installed, from the
 * debuginfod servers (into the client's cache, DEBUGINFOD_CACHE_PATH).
 */
static bool sa_dso_dwfl_debug(struct sa_idso *d, const char *dpath)
{
	char *path = (char *)dpath, *found = NULL, proc[64], cand[4096];
	const Dwfl_Callbacks cb = {
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.debuginfo_path = &path,
	};
	GElf_Word crc = 0;
	const char *link;
	Dwfl_Module *m;
	bool ok = false;
	void **ud = NULL;
	ssize_t n;
	Dwfl *dwfl;
	int fd;

	dwfl = dwfl_begin(&cb);
	if (!dwfl)
		return false;
	fd = dup(d->fd);
	if (fd < 0)
		goto out;
	/* consumed on success only (libdwfl.h; it opened none itself) */
	m = dwfl_report_elf(dwfl, d->path, d->file, fd, 0, false);
	dwfl_report_end(dwfl, NULL, NULL);
	if (!m) {
		close(fd);
		goto out;
	}
	link = dwelf_elf_gnu_debuglink(d->elf, &crc);
	dwfl_module_info(m, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
	fd = dwfl_standard_find_debuginfo(m, ud, d->path, 0, d->file, link,
					  crc, &found);
	if (fd < 0)
		goto out;
	if (!found) {
		/* debuginfod gives a descriptor of its cached copy */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		n = readlink(proc, cand, sizeof(cand) - 1);
		cand[n > 0 ? n : 0] = '\0';
		if (n <= 0)
			snprintf(cand, sizeof(cand), "debuginfod");
	}
	ok = sa_dso_try_debug_fd(d, fd, found ? found : cand);
out:
	free(found);
	dwfl_end(dwfl);
	return ok;
}

/*
 * Finds the separate debug file of a binary that lacks .symtab or
 * .debug_info, where gdb and perf look, through libdwfl: by build-id
 * under /usr/lib/debug/.build-id/, then by .gnu_debuglink beside the
 * file, in its .debug/ directory and under /usr/lib/debug/<dir>/, then
 * from debuginfod servers; each directory under --symfs first.
 */
void sa_dso_find_debug(struct sa_image *img, struct sa_idso *d)
{
	char dpath[4200], cand[4096], *dir, *slash;
	const char *link;

	if (!d->ehdr.e_shnum || d->dw_tried || d->fd < 0 ||
	    (sa_elf_has(d->elf, SHT_SYMTAB, NULL) &&
	     sa_elf_has(d->elf, 0, ".debug_info")))
		return;
	link = img->symfs ? sa_elf_debuglink(d->elf, d->fm.size) : NULL;
	if (link) {
		/*
		 * --symfs: SYMFS/usr/lib/debug + the directory the trace
		 * names (libdwfl would join the directory of the file read,
		 * SYMFS/..., to it)
		 */
		dir = strdup(d->path);
		if (!dir)
			return;
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			dir[0] = '\0';
		snprintf(cand, sizeof(cand), "%s/usr/lib/debug%s%s/%s",
			 img->symfs, dir[0] == '/' ? "" : "/", dir, link);
		free(dir);
		if (sa_dso_try_debug(d, cand))
			return;
	}
	/* libdwfl's default path, with the symfs's debug root first */
	if (img->symfs)
		snprintf(dpath, sizeof(dpath), ":.debug:%s/usr/lib/debug:"
			 "/usr/lib/debug", img->symfs);
	else
		snprintf(dpath, sizeof(dpath), ":.debug:/usr/lib/debug");
	sa_dso_dwfl_debug(d, dpath);
}
