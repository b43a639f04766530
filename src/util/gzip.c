// SPDX-License-Identifier: BSD-2-Clause
/*
 * One-shot gzip of a request body.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "sensor/error.h"

#include "gzip.h"

int sa_gzip(const void *in, size_t len, char **out, size_t *olen)
{
	z_stream zs = { 0 };
	uLong bound;
	char *buf;
	int ret;

	if (len > UINT32_MAX / 2)
		return -SA_ERR_TOOBIG;
	/* windowBits 15 + 16: a gzip header and trailer */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	/* deflateBound() covers the zlib wrapper; the gzip one is longer */
	bound = deflateBound(&zs, (uLong)len) + 32;
	buf = malloc(bound);
	if (!buf) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)buf;
	zs.avail_out = (uInt)bound;
	ret = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (ret != Z_STREAM_END) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*olen = bound - zs.avail_out;
	return 0;
}
