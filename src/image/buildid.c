// SPDX-License-Identifier: BSD-2-Clause
/*
 * Build-ids: the GNU build-id note through libdw's
 * dwelf_elf_gnu_build_id(), the project's one reader, and the check of a
 * file's id against the one a trace expects.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <elfutils/libdwelf.h>

#include "sensor/image.h"
#include "sensor/file.h"
#include "sensor/log.h"
#include "image_int.h"

char *sa_build_id_str(const uint8_t *id, size_t len, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (!buf || !size)
		return buf;
	for (i = 0; i < len && o + 2 < size; i++) {
		buf[o++] = hex[id[i] >> 4];
		buf[o++] = hex[id[i] & 0xf];
	}
	buf[o] = '\0';
	return buf;
}

/* The GNU build-id note of @elf, as libdw finds it (PT_NOTE segments,
 * else SHT_NOTE sections: separate debug files have only the section),
 * cut at SA_BUILD_ID_MAX bytes.  The one build-id reader of the project.
 */
void sa_elf_build_id(Elf *elf, uint8_t *id, uint8_t *len)
{
	const void *p = NULL;
	ssize_t n = dwelf_elf_gnu_build_id(elf, &p);

	*len = 0;
	if (n <= 0 || !p)
		return;
	if (n > SA_BUILD_ID_MAX)
		n = SA_BUILD_ID_MAX;
	memcpy(id, p, (size_t)n);
	*len = (uint8_t)n;
}

int sa_build_id_read(const char *path, uint8_t *id, size_t max)
{
	uint8_t buf[SA_BUILD_ID_MAX], len = 0;
	Elf *elf;
	int fd;

	if (!path || !id)
		return -EINVAL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -SA_ERR_UNSUPPORTED;
	fd = sa_file_open_input(path, 0);
	if (fd == -ESPIPE || fd == -EISDIR)
		return -SA_ERR_FORMAT;
	if (fd < 0)
		return fd;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		close(fd);
		return -SA_ERR_FORMAT;
	}
	sa_elf_build_id(elf, buf, &len);
	elf_end(elf);
	close(fd);
	if (len > max)
		len = (uint8_t)max;
	memcpy(id, buf, len);
	return len;
}

int sa_build_id_mem(const void *buf, size_t len, uint8_t *id, size_t max)
{
	uint8_t bid[SA_BUILD_ID_MAX], n = 0;
	Elf *elf;

	if (!buf || !id)
		return -EINVAL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -SA_ERR_UNSUPPORTED;
	/* libelf only reads the image: the cast drops no promise */
	elf = elf_memory((char *)buf, len);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		return -SA_ERR_FORMAT;
	}
	sa_elf_build_id(elf, bid, &n);
	elf_end(elf);
	if (n > max)
		n = (uint8_t)max;
	memcpy(id, bid, n);
	return n;
}

bool sa_build_id_equal(const struct sa_dso *d, const uint8_t *id,
		       size_t len)
{
	size_t i, n = d->build_id_len;

	/* perf pads build-ids to 20 bytes with zeros */
	if (len < n)
		return false;
	if (memcmp(d->build_id, id, n))
		return false;
	for (i = n; i < len; i++)
		if (id[i])
			return false;
	return true;
}

void sa_dso_check_build_id(struct sa_idso *d, const uint8_t *id,
			   size_t len)
{
	char want[2 * SA_BUILD_ID_MAX + 1], have[2 * SA_BUILD_ID_MAX + 1];

	if (!id || !len)
		return;
	if (len > SA_BUILD_ID_MAX)
		len = SA_BUILD_ID_MAX;
	if (sa_build_id_equal(&d->pub, id, len))
		return;
	d->pub.build_id_mismatch = true;
	sa_warn("%s: build-id mismatch: the trace expects %s, the file %s has "
		"%s; using it anyway, symbols and branches may be wrong\n",
		d->path, sa_build_id_str(id, len, want, sizeof(want)), d->file,
		d->pub.build_id_len ?
		sa_build_id_str(d->pub.build_id, d->pub.build_id_len, have,
				sizeof(have)) : "none");
}
