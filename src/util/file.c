// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/file.h"

int sa_file_create(const char *path, int flags)
{
	struct stat st;
	int fd, err;

	fd = open(path, flags | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	/* The file may have existed with a wider mode.  Only a regular
	 * file: `-o /dev/null` must not make /dev/null root's alone.
	 */
	if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != 0600 &&
	    fchmod(fd, 0600)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

FILE *sa_file_fopen_private(const char *path)
{
	FILE *f;
	int fd = sa_file_create(path, O_WRONLY | O_TRUNC);

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		int err = errno;

		close(fd);
		errno = err;
	}
	return f;
}

int sa_dir_create(const char *path)
{
	struct stat st;

	if (!mkdir(path, 0700))
		return chmod(path, 0700) ? -errno : 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int sa_dir_create_all(const char *path)
{
	char tmp[PATH_MAX];
	size_t i;
	int err, n = snprintf(tmp, sizeof(tmp), "%s", path);

	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	for (i = 1; tmp[i]; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = '\0';
		err = sa_dir_create(tmp);
		if (err)
			return err;
		tmp[i] = '/';
	}
	return sa_dir_create(tmp);
}

static int input_kind_ok(mode_t mode, int allow_dir)
{
	if (S_ISREG(mode) || (allow_dir && S_ISDIR(mode)))
		return 0;
	return S_ISDIR(mode) ? -EISDIR : -ESPIPE;
}

int sa_file_check_input(const char *path, int allow_dir)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	return input_kind_ok(st.st_mode, allow_dir);
}

int sa_file_open_input(const char *path, int allow_dir)
{
	struct stat st;
	int fd, fl, err;

	/* A socket cannot be opened (ENXIO): look first. */
	if (!stat(path, &st) && (err = input_kind_ok(st.st_mode, allow_dir)))
		return err;
	/* O_NONBLOCK: opening a FIFO without a writer must not hang. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto fail;
	}
	err = input_kind_ok(st.st_mode, allow_dir);
	if (err)
		goto fail;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		err = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}
