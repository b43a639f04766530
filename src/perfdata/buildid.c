// SPDX-License-Identifier: BSD-2-Clause
/*
 * The build-id cache, laid out as perf keeps it (tools/perf/util/
 * build-id.c): DIR/NAME/HEX/FILE, FILE being "vdso" for the vDSO and
 * "elf" for the rest, and the link DIR/.build-id/XX/REST ->
 * ../../NAME/HEX.  DIR is $SA_BUILDID_DIR, else $HOME/.debug, perf's
 * default: the vDSO images perf record saves there are found too, and
 * perf finds ours.  See docs/histories.md (vDSO).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sensor/error.h"
#include "sensor/perfdata.h"

int sa_pd_buildid_dir(char *buf, size_t size)
{
	const char *dir = getenv("SA_BUILDID_DIR");
	const char *home = getenv("HOME");
	int n;

	if (dir && !dir[0])
		return -SA_ERR_NOTFOUND;	/* turned off */
	if (dir)
		n = snprintf(buf, size, "%s", dir);
	else if (home && home[0])
		n = snprintf(buf, size, "%s/.debug", home);
	else
		return -SA_ERR_NOTFOUND;
	if (n < 0 || (size_t)n >= size)
		return -SA_ERR_TOOBIG;
	return 0;
}

static void hex(const uint8_t *id, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * len] = '\0';
}

static const char *cache_file(const char *name)
{
	return strcmp(name, "[vdso]") ? "elf" : "vdso";
}

int sa_pd_buildid_path(const char *name, const uint8_t *id, size_t len,
		       char *buf, size_t size)
{
	char dir[4096], h[2 * 20 + 1];
	int n, err;

	if (!len || len > 20 || !name || !name[0] || strchr(name, '/'))
		return -SA_ERR_INVAL;
	err = sa_pd_buildid_dir(dir, sizeof(dir));
	if (err)
		return err;
	hex(id, len, h);
	n = snprintf(buf, size, "%s/%s/%s/%s", dir, name, h,
		     cache_file(name));
	if (n < 0 || (size_t)n >= size)
		return -SA_ERR_TOOBIG;
	return 0;
}

/* mkdir -p of the directories in @path up to its last '/'. */
static int mkdirs(char *path)
{
	char *p;

	for (p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			int err = -errno;

			*p = '/';
			return err;
		}
		*p = '/';
	}
	return 0;
}

int sa_pd_buildid_save(const char *name, const uint8_t *id, size_t len,
		       const void *data, size_t size)
{
	char path[4200], tmp[4300], dir[4096], link[4200], target[4200];
	char h[2 * 20 + 1];
	const char *p = data;
	size_t done = 0;
	int fd, err;

	err = sa_pd_buildid_path(name, id, len, path, sizeof(path));
	if (err)
		return err;
	if (access(path, R_OK) == 0)
		return 0;	/* one build-id, one content */
	err = mkdirs(path);
	if (err)
		return err;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (done < size) {
		ssize_t w = write(fd, p + done, size - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)w;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	/* rename: a reader sees the whole image or none */
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	/* perf's index by build-id; best effort, as perf's own */
	hex(id, len, h);
	if (sa_pd_buildid_dir(dir, sizeof(dir)) == 0 &&
	    snprintf(link, sizeof(link), "%s/.build-id/%.2s/%s", dir, h,
		     h + 2) < (int)sizeof(link) &&
	    snprintf(target, sizeof(target), "../../%s/%s", name, h) <
		    (int)sizeof(target) &&
	    mkdirs(link) == 0)
		(void)symlink(target, link);
	return 0;
}
