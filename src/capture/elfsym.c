// SPDX-License-Identifier: BSD-2-Clause
/*
 * Function symbols for address filters, as perf resolves them: the
 * symbol's file offset (st_value moved by its section's sh_offset -
 * sh_addr, which is what the kernel's file-based filters compare with
 * vm_pgoff) and its st_size.  .symtab first, .dynsym when stripped.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/capture.h"
#include "sensor/error.h"
#include "sensor/image.h"
#include "capture_int.h"

int sa_cap_elf_symbol(const char *file, const char *name, uint64_t *off,
		      uint64_t *size, struct sa_errinfo *ei)
{
	struct sa_elf_sym sym;
	int found;

	/* the image module's reader, .symtab then .dynsym */
	found = sa_elf_find_symbol(file, name, SA_ELF_SYM_FUNC, &sym, 1, ei);
	if (found < 0)
		return found;
	if (!found)
		return sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
				      "filter: no function '%s' in %s "
				      "(stripped? give START/SIZE)", name,
				      file);
	if (found > 1)
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "filter: %d functions named '%s' in %s; "
				      "give the address", found, name, file);
	*off = sym.offset;
	*size = sym.size;
	if (!*size)
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "filter: '%s' in %s has no size; give "
				      "'/SIZE'", name, file);
	return 0;
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
