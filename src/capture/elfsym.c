// SPDX-License-Identifier: BSD-2-Clause
/*
 * Function symbols for address filters, as perf resolves them: the
 * symbol's file offset (st_value moved by its section's sh_offset -
 * sh_addr, which is what the kernel's file-based filters compare with
 * vm_pgoff) and its st_size.  .symtab first, .dynsym when stripped.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/capture.h"
#include "sensor/error.h"
#include "sensor/file.h"
#include "capture_int.h"

#define SYMS_MAX (1u << 24)	/* entries scanned per table */

static int scan(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, const char *name,
		uint64_t *off, uint64_t *size, int *found)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t i, n;

	if (!d || !sh->sh_entsize)
		return 0;
	n = sh->sh_size / sh->sh_entsize;
	if (n > SYMS_MAX)
		n = SYMS_MAX;
	for (i = 0; i < n; i++) {
		GElf_Sym sym;
		GElf_Shdr ts;
		Elf_Scn *tscn;
		const char *nm;
		uint64_t o;
		int type;

		if (!gelf_getsym(d, (int)i, &sym) || !sym.st_name ||
		    sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		nm = elf_strptr(e, sh->sh_link, sym.st_name);
		if (!nm || strcmp(nm, name))
			continue;
		tscn = elf_getscn(e, sym.st_shndx);
		if (!tscn || !gelf_getshdr(tscn, &ts))
			continue;
		o = sym.st_value - ts.sh_addr + ts.sh_offset;
		if (*found && o == *off)
			continue;	/* an alias at the same place */
		(*found)++;
		*off = o;
		*size = sym.st_size;
	}
	return 0;
}

int sa_cap_elf_symbol(const char *file, const char *name, uint64_t *off,
		      uint64_t *size, struct sa_errinfo *ei)
{
	static const uint32_t types[] = { SHT_SYMTAB, SHT_DYNSYM };
	int fd, found = 0, err = 0;
	size_t t;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
				      "libelf: %s", elf_errmsg(-1));
	fd = sa_file_open_input(file, 0);
	if (fd < 0)
		return sa_errinfo_set(ei, fd, SA_NO_OFFSET, "%s: %s", file,
				      fd == -ESPIPE ? "not a regular file "
				      "(FIFOs, sockets and devices are "
				      "refused)" : strerror(-fd));
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		err = sa_errinfo_set(ei, -SA_ERR_FORMAT, 0,
				     "%s is not an ELF file: %s", file,
				     elf_errmsg(-1));
		goto out;
	}
	for (t = 0; t < 2 && !found; t++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(e, scn))) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) && sh.sh_type == types[t])
				scan(e, scn, &sh, name, off, size, &found);
		}
	}
	if (!found)
		err = sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
				     "filter: no function '%s' in %s (stripped? "
				     "give START/SIZE)", name, file);
	else if (found > 1)
		err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				     "filter: %d functions named '%s' in %s; "
				     "give the address", found, name, file);
	else if (!*size)
		err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				     "filter: '%s' in %s has no size; give "
				     "'/SIZE'", name, file);
out:
	if (e)
		elf_end(e);
	close(fd);
	return err;
}


int sa_cap_trigger_resolve(const char *proc, pid_t pid, const char *spec,
			   char *file, size_t len, uint64_t *off,
			   struct sa_errinfo *ei)
{
	char sym[512], path[PATH_MAX], real[PATH_MAX];
	const char *at = strrchr(spec, '@');
	uint64_t size = 0;
	size_t n = at ? (size_t)(at - spec) : strlen(spec);
	int err;

	if (!n || n >= sizeof(sym) || (at && !at[1]))
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "trigger '%s': expected SYMBOL or "
				      "SYMBOL@BINARY", spec);
	memcpy(sym, spec, n);
	sym[n] = '\0';
	if (at) {
		snprintf(path, sizeof(path), "%s", at + 1);
	} else {
		char link[64];
		ssize_t r;

		snprintf(link, sizeof(link), "%s/%d/exe", proc ? proc : "/proc",
			 (int)pid);
		r = readlink(link, path, sizeof(path) - 1);
		if (r < 0)
			return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
					      "trigger '%s': %s: %s", spec,
					      link, strerror(errno));
		path[r] = '\0';
	}
	if (!realpath(path, real))
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "trigger '%s': binary %s: %s", spec,
				      path, strerror(errno));
	if (strlen(real) >= len)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "trigger: path too long: %s", real);
	err = sa_cap_elf_symbol(real, sym, off, &size, ei);
	if (err == -SA_ERR_INVAL && !size && ei && strstr(ei->msg, "no size"))
		err = 0;	/* a label: its address is all we need */
	if (err == -SA_ERR_NOTFOUND)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "trigger: no function '%s' in %s",
				      sym, real);
	if (err && ei) {
		char msg[SA_ERRMSG_MAX];

		snprintf(msg, sizeof(msg), "%s", ei->msg);
		return sa_errinfo_set(ei, err, ei->offset, "trigger '%s': %s",
				      spec, msg);
	}
	if (err)
		return err;
	snprintf(file, len, "%s", real);
	return 0;
}
