// SPDX-License-Identifier: BSD-2-Clause
/*
 * The on-disk line cache: the DWARF line lookups answered for a binary,
 * kept in DIR/BUILDID.lines so that a restarted sensor answers them
 * without opening DWARF (the first window's main cost: inflating the
 * debug file's compressed sections).  Keyed and validated by build-id;
 * a file that does not validate is ignored and rewritten.
 *
 * Layout (little-endian host order; a file from another host fails the
 * magic or the checksum):
 *
 *	struct sa_lc_hdr
 *	struct sa_lc_ent[nr_ents]	sorted by ELF address, unique
 *	char strs[strs_size]		nr_files NUL-terminated names
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sensor/image.h"
#include "sensor/log.h"
#include "image_int.h"

#define SA_LC_MAGIC	"SALINES1"
#define SA_LC_NOFILE	UINT32_MAX	/* no line information there */
#define SA_LC_FILES_MAX	(1U << 20)
#define SA_LC_STRS_MAX	(64U << 20)

struct sa_lc_hdr {
	char magic[8];
	uint8_t build_id[SA_BUILD_ID_MAX];
	uint32_t build_id_len;
	uint32_t nr_files;
	uint32_t nr_ents;
	uint64_t strs_size;
	uint64_t sum;		/* FNV-1a of everything after the header */
};

struct sa_lc_ent {
	uint64_t addr;		/* ELF address */
	uint32_t file;		/* index of the name, or SA_LC_NOFILE */
	int32_t line;
};

/* The lines of one binary: what the file held, and what was added. */
struct sa_lcache {
	char *dir;
	struct sa_lc_ent *ents;		/* loaded, sorted */
	size_t nr_ents;
	const char **files;		/* into strs */
	size_t nr_files;
	char *strs;
	struct sa_lc_new {
		uint64_t addr;
		const char *file;	/* libdw's or the dso's; NULL: none */
		int line;
	} *added;
	size_t nr_added, cap_added;
};

static uint64_t sa_fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static void sa_lc_path(const struct sa_idso *d, const char *dir, char *buf,
		       size_t size)
{
	char hex[2 * SA_BUILD_ID_MAX + 1];

	snprintf(buf, size, "%s/%s.lines", dir,
		 sa_build_id_str(d->pub.build_id, d->pub.build_id_len, hex,
				 sizeof(hex)));
}

/* Reads and validates the file of @d into @lc; false when it is absent
 * or does not validate (then it is rebuilt).
 */
static bool sa_lc_read(struct sa_idso *d, struct sa_lcache *lc)
{
	struct sa_lc_hdr h;
	char path[4200], *buf = NULL;
	size_t i, body, off;
	struct stat st;
	bool ok = false;
	int fd;

	sa_lc_path(d, lc->dir, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < sizeof(h) ||
	    (uint64_t)st.st_size > sizeof(h) +
	    (uint64_t)SA_IMAGE_LINES_MAX * sizeof(struct sa_lc_ent) +
	    SA_LC_STRS_MAX)
		goto out;
	buf = malloc(st.st_size);
	if (!buf || read(fd, buf, st.st_size) != st.st_size)
		goto out;
	memcpy(&h, buf, sizeof(h));
	body = st.st_size - sizeof(h);
	if (memcmp(h.magic, SA_LC_MAGIC, 8) ||
	    h.build_id_len != d->pub.build_id_len ||
	    memcmp(h.build_id, d->pub.build_id, h.build_id_len) ||
	    h.nr_ents > SA_IMAGE_LINES_MAX || h.nr_files > SA_LC_FILES_MAX ||
	    h.strs_size > SA_LC_STRS_MAX ||
	    body != h.nr_ents * sizeof(struct sa_lc_ent) + h.strs_size ||
	    sa_fnv1a(0xcbf29ce484222325ULL, buf + sizeof(h), body) != h.sum)
		goto out;
	lc->nr_ents = h.nr_ents;
	lc->ents = malloc((h.nr_ents ? h.nr_ents : 1) * sizeof(*lc->ents));
	lc->strs = malloc(h.strs_size + 1);
	lc->files = calloc(h.nr_files ? h.nr_files : 1, sizeof(*lc->files));
	if (!lc->ents || !lc->strs || !lc->files)
		goto out;
	memcpy(lc->ents, buf + sizeof(h), h.nr_ents * sizeof(*lc->ents));
	memcpy(lc->strs, buf + sizeof(h) + h.nr_ents * sizeof(*lc->ents),
	       h.strs_size);
	lc->strs[h.strs_size] = '\0';
	for (i = 0, off = 0; i < h.nr_files; i++) {
		char *nul;

		if (off >= h.strs_size)
			goto out;
		nul = memchr(lc->strs + off, '\0', h.strs_size - off);
		if (!nul)
			goto out;
		lc->files[i] = lc->strs + off;
		off = nul - lc->strs + 1;
	}
	lc->nr_files = h.nr_files;
	for (i = 0; i < lc->nr_ents; i++)
		if ((lc->ents[i].file != SA_LC_NOFILE &&
		     lc->ents[i].file >= h.nr_files) ||
		    (i && lc->ents[i].addr <= lc->ents[i - 1].addr))
			goto out;
	ok = true;
	sa_debug("%s: %zu line lookups from %s\n", d->file, lc->nr_ents,
		 path);
out:
	if (!ok) {
		sa_debug("%s: line cache %s ignored (absent, damaged or of "
			 "another build); rebuilt\n", d->file, path);
		free(lc->ents);
		free(lc->strs);
		free(lc->files);
		lc->ents = NULL;
		lc->strs = NULL;
		lc->files = NULL;
		lc->nr_ents = lc->nr_files = 0;
	}
	free(buf);
	close(fd);
	return ok;
}

void sa_lcache_attach(struct sa_idso *d, const char *dir)
{
	struct sa_lcache *lc;

	if (!dir || d->lcache || d->core || !d->pub.build_id_len)
		return;
	lc = calloc(1, sizeof(*lc));
	if (!lc)
		return;
	lc->dir = strdup(dir);
	if (!lc->dir) {
		free(lc);
		return;
	}
	sa_lc_read(d, lc);
	d->lcache = lc;
}

int sa_lcache_find(const struct sa_idso *d, uint64_t addr, const char **file,
		   int *line)
{
	const struct sa_lcache *lc = d->lcache;
	size_t lo = 0, hi;

	if (!lc)
		return 0;
	hi = lc->nr_ents;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (lc->ents[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == lc->nr_ents || lc->ents[lo].addr != addr)
		return 0;
	if (lc->ents[lo].file == SA_LC_NOFILE)
		return -SA_ERR_NOTFOUND;
	*file = lc->files[lc->ents[lo].file];
	*line = lc->ents[lo].line;
	return 1;
}

void sa_lcache_add(struct sa_idso *d, uint64_t addr, const char *file,
		   int line)
{
	struct sa_lcache *lc = d->lcache;

	if (!lc || sa_grow((void **)&lc->added, &lc->cap_added, lc->nr_added,
			   sizeof(*lc->added), SA_IMAGE_LINES_MAX))
		return;
	lc->added[lc->nr_added].addr = addr;
	lc->added[lc->nr_added].file = file;
	lc->added[lc->nr_added++].line = line;
}

static int sa_lc_new_cmp(const void *pa, const void *pb)
{
	const struct sa_lc_new *a = pa, *b = pb;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* The index of @name among @names (added when new), or SA_LC_NOFILE. */
static uint32_t sa_lc_intern(const char ***names, size_t *nr, size_t *cap,
			     const char *name)
{
	size_t i, k;

	/* neighbours share files: look back a little (a name found
	 * farther is stored again, which the reader accepts)
	 */
	for (i = *nr, k = 0; i-- > 0 && k < 64; k++)
		if (!strcmp((*names)[i], name))
			return (uint32_t)i;
	if (sa_grow((void **)names, cap, *nr, sizeof(**names),
		    SA_LC_FILES_MAX))
		return SA_LC_NOFILE;
	(*names)[*nr] = name;
	return (uint32_t)(*nr)++;
}

/*
 * Writes what was loaded and what was added, merged, to a temporary file
 * renamed over DIR/BUILDID.lines (a reader never sees half a file).
 */
static void sa_lc_write(struct sa_idso *d, struct sa_lcache *lc)
{
	struct sa_lc_ent *ents = NULL;
	const char **names = NULL;
	size_t nr = 0, nr_names = 0, cap_names = 0, i, j, strs = 0;
	char path[4200], tmp[4300];
	struct sa_lc_hdr h;
	uint64_t sum;
	FILE *f;
	int fd;

	qsort(lc->added, lc->nr_added, sizeof(*lc->added), sa_lc_new_cmp);
	ents = malloc((lc->nr_ents + lc->nr_added + 1) * sizeof(*ents));
	if (!ents)
		return;
	for (i = 0, j = 0; i < lc->nr_ents || j < lc->nr_added;) {
		struct sa_lc_ent e;
		const char *name;

		if (j == lc->nr_added || (i < lc->nr_ents &&
					  lc->ents[i].addr <=
					  lc->added[j].addr)) {
			e = lc->ents[i++];
			name = e.file == SA_LC_NOFILE ? NULL :
			       lc->files[e.file];
		} else {
			e.addr = lc->added[j].addr;
			e.line = lc->added[j].line;
			name = lc->added[j++].file;
		}
		if (nr && ents[nr - 1].addr == e.addr)
			continue;
		e.file = name ? sa_lc_intern(&names, &nr_names, &cap_names,
					     name) : SA_LC_NOFILE;
		if (name && e.file == SA_LC_NOFILE)
			continue;	/* too many files: not kept */
		ents[nr++] = e;
	}
	for (i = 0; i < nr_names; i++)
		strs += strlen(names[i]) + 1;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, SA_LC_MAGIC, 8);
	memcpy(h.build_id, d->pub.build_id, d->pub.build_id_len);
	h.build_id_len = d->pub.build_id_len;
	h.nr_files = nr_names;
	h.nr_ents = nr;
	h.strs_size = strs;
	sum = sa_fnv1a(0xcbf29ce484222325ULL, ents, nr * sizeof(*ents));
	for (i = 0; i < nr_names; i++)
		sum = sa_fnv1a(sum, names[i], strlen(names[i]) + 1);
	h.sum = sum;
	sa_lc_path(d, lc->dir, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	f = fd >= 0 ? fdopen(fd, "wb") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		sa_debug("%s: cannot write %s: %s\n", d->file, tmp,
			 strerror(errno));
		goto out;
	}
	fwrite(&h, sizeof(h), 1, f);
	fwrite(ents, sizeof(*ents), nr, f);
	for (i = 0; i < nr_names; i++)
		fwrite(names[i], 1, strlen(names[i]) + 1, f);
	if (fflush(f) || ferror(f)) {
		fclose(f);
		unlink(tmp);
		goto out;
	}
	fclose(f);
	if (rename(tmp, path))
		unlink(tmp);
out:
	free(names);
	free(ents);
}

void sa_lcache_close(struct sa_idso *d)
{
	struct sa_lcache *lc = d->lcache;

	if (!lc)
		return;
	if (lc->nr_added)
		sa_lc_write(d, lc);
	free(lc->dir);
	free(lc->ents);
	free(lc->files);
	free(lc->strs);
	free(lc->added);
	free(lc);
	d->lcache = NULL;
}
