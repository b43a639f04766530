/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private outputs and safe inputs.  Every file sensor-agent writes is
 * created 0600 and every directory 0700, whatever the umask: traces and
 * baselines hold a process's control flow.  Inputs that are not regular
 * files (FIFOs, sockets, devices) are refused before anything blocks on
 * them.
 */
#ifndef SENSOR_FILE_H
#define SENSOR_FILE_H

#include <stdio.h>

/* Opens @path for writing with @flags (O_CREAT is added, O_CLOEXEC too)
 * and mode 0600; an existing regular file is brought to 0600 with
 * fchmod() (a device such as /dev/null or a pipe is left as it is).
 * Returns the descriptor, or -errno.
 */
int sa_file_create(const char *path, int flags);

/* The stdio form of sa_file_create(path, O_WRONLY | O_TRUNC).  Returns
 * NULL and sets errno on failure.
 */
FILE *sa_file_fopen_private(const char *path);

/* Creates directory @path with mode 0700 (chmod'ed after mkdir, so the
 * umask does not matter).  An existing directory is left as it is.
 * Returns 0 or -errno (-ENOTDIR when @path exists and is no directory).
 */
int sa_dir_create(const char *path);

/* sa_dir_create() for @path and every missing parent. */
int sa_dir_create_all(const char *path);

/* Opens input @path read-only without blocking on a FIFO, and refuses
 * anything that is not a regular file (or a directory when @allow_dir).
 * Returns the descriptor (blocking mode restored), -ESPIPE for a FIFO,
 * socket or device, or -errno.
 */
int sa_file_open_input(const char *path, int allow_dir);

/* Returns 0 when @path is a regular file (or a directory when @allow_dir),
 * -ESPIPE when it is a FIFO, socket or device, or -errno from stat().
 */
int sa_file_check_input(const char *path, int allow_dir);

#endif /* SENSOR_FILE_H */
