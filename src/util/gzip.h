/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private: one buffer as one gzip member (zlib's deflate), for request
 * bodies sent with Content-Encoding: gzip (OTLP/HTTP, ClickHouse).
 */
#ifndef SA_UTIL_GZIP_H
#define SA_UTIL_GZIP_H

#include <stddef.h>

/* Compresses @len bytes at @in into a new buffer, returned in *@out
 * (malloc'd, the caller frees it) with its length in *@olen.  Returns 0,
 * -SA_ERR_TOOBIG when @len is 2 GiB or more (zlib counts in 32 bits), or
 * -ENOMEM; *@out is untouched on error.
 */
int sa_gzip(const void *in, size_t len, char **out, size_t *olen);

#endif /* SA_UTIL_GZIP_H */
