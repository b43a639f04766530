/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: the versions of the decoding libraries in use.
 */
#ifndef SENSOR_VERSION_H
#define SENSOR_VERSION_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the versions of libipt, capstone and OpenCSD that this process
 * runs with, from each library's own version call (not the headers it
 * was built with), into @buf: "libipt 2.0.5, capstone 4.0, OpenCSD
 * 1.3.3".  Truncated to @len - 1 bytes.
 */
void sa_lib_versions(char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_VERSION_H */
