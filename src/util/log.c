// SPDX-License-Identifier: BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>

#include "sensor/log.h"

static int sa_default_print(enum sa_log_level level, const char *fmt,
			    va_list ap)
{
	if (level > SA_LOG_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Process-wide like libbpf's print hook; set once by the program. */
static sa_print_fn sa_print = sa_default_print;
static enum sa_log_level sa_level = SA_LOG_WARN;

sa_print_fn sa_set_print(sa_print_fn fn)
{
	sa_print_fn old = sa_print;

	sa_print = fn;
	return old;
}

enum sa_log_level sa_set_log_level(enum sa_log_level level)
{
	enum sa_log_level old = sa_level;

	sa_level = level;
	return old;
}

bool sa_log_enabled(enum sa_log_level level)
{
	return sa_print && level <= sa_level;
}

void sa_log(enum sa_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!sa_log_enabled(level))
		return;
	va_start(ap, fmt);
	sa_print(level, fmt, ap);
	va_end(ap);
}
