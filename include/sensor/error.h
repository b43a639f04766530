/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: error codes shared by every module.
 *
 * Functions returning int use the libipt/libbpf convention: >= 0 is success
 * (and may carry status flags), < 0 is an error.  Operating-system failures
 * are returned as -errno; the project's own conditions as -SA_ERR_*, which
 * start at 4000 so that they never collide with errno values.
 *
 * Functions that can fail on outside input also fill a struct sa_errinfo,
 * so that the message can name the input and the byte offset.
 */
#ifndef SENSOR_ERROR_H
#define SENSOR_ERROR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum sa_err {
	SA_ERR_BASE = 4000,
	SA_ERR_FORMAT = 4001,	/* input is not in the expected format */
	SA_ERR_TRUNCATED,	/* input ends before a structure it announces */
	SA_ERR_CORRUPT,		/* values contradict each other */
	SA_ERR_UNSUPPORTED,	/* valid, but not handled (version, arch, ...) */
	SA_ERR_NOTFOUND,	/* a named thing (file, symbol, pid) is absent */
	SA_ERR_NOMAP,		/* address not mapped in the process image */
	SA_ERR_DECODE,		/* trace decoder error */
	SA_ERR_NODATA,		/* the input holds nothing to decode */
	SA_ERR_BUILDID,		/* build-id mismatch */
	SA_ERR_TOOBIG,		/* a size cap was hit */
	SA_ERR_NOHW,		/* the tracing PMU is not present */
	SA_ERR_PERM,		/* not permitted (ptrace, perf_event_paranoid) */
	SA_ERR_INVAL,		/* bad argument or option value */
	SA_ERR_NOSYNC,		/* trace bytes with no synchronisation point */
	SA_ERR_MAX
};

/* Detail for an error on outside input.  @msg names the input and says
 * what the user can do; @offset is the byte offset in that input, or
 * SA_NO_OFFSET.
 */
#define SA_NO_OFFSET UINT64_MAX
#define SA_ERRMSG_MAX 320

struct sa_errinfo {
	int code;		/* the negative return value */
	uint64_t offset;
	char msg[SA_ERRMSG_MAX];
};

/* Returns a static string for @err, which may be negative or positive,
 * an errno value or an SA_ERR_* value.  Never returns NULL.
 */
const char *sa_strerror(int err);

/* Fills @ei (which may be NULL) with @code, @offset and a formatted
 * message, and returns @code, so that callers can write
 * "return sa_errinfo_set(ei, -SA_ERR_FORMAT, off, "...", ...);".
 */
int sa_errinfo_set(struct sa_errinfo *ei, int code, uint64_t offset,
		   const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Clears @ei (may be NULL). */
void sa_errinfo_clear(struct sa_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_ERROR_H */
