// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sensor/error.h"

static const char *const sa_errstr[] = {
	[SA_ERR_FORMAT - SA_ERR_BASE] = "input is not in the expected format",
	[SA_ERR_TRUNCATED - SA_ERR_BASE] = "input is truncated",
	[SA_ERR_CORRUPT - SA_ERR_BASE] = "input is corrupt",
	[SA_ERR_UNSUPPORTED - SA_ERR_BASE] = "not supported",
	[SA_ERR_NOTFOUND - SA_ERR_BASE] = "not found",
	[SA_ERR_NOMAP - SA_ERR_BASE] = "address not mapped in the image",
	[SA_ERR_DECODE - SA_ERR_BASE] = "trace decode error",
	[SA_ERR_NODATA - SA_ERR_BASE] = "no trace data to decode",
	[SA_ERR_BUILDID - SA_ERR_BASE] = "build-id mismatch",
	[SA_ERR_TOOBIG - SA_ERR_BASE] = "size limit exceeded",
	[SA_ERR_NOHW - SA_ERR_BASE] = "hardware trace PMU not present",
	[SA_ERR_PERM - SA_ERR_BASE] = "operation not permitted",
	[SA_ERR_INVAL - SA_ERR_BASE] = "invalid argument",
	[SA_ERR_NOSYNC - SA_ERR_BASE] = "trace not synchronised (bytes lost)",
};

const char *sa_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err > SA_ERR_BASE && err < SA_ERR_MAX)
		return sa_errstr[err - SA_ERR_BASE];
	if (err == 0)
		return "success";
	if (err < SA_ERR_BASE)
		return strerror(err);
	return "unknown error";
}

int sa_errinfo_set(struct sa_errinfo *ei, int code, uint64_t offset,
		   const char *fmt, ...)
{
	va_list ap;

	if (!ei)
		return code;
	ei->code = code;
	ei->offset = offset;
	va_start(ap, fmt);
	vsnprintf(ei->msg, sizeof(ei->msg), fmt, ap);
	va_end(ap);
	return code;
}

void sa_errinfo_clear(struct sa_errinfo *ei)
{
	if (!ei)
		return;
	ei->code = 0;
	ei->offset = SA_NO_OFFSET;
	ei->msg[0] = '\0';
}
