/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: library logging.
 *
 * The library never prints by itself.  It hands messages to a print
 * function that the caller sets (as libbpf_set_print does).  The default
 * prints warnings to stderr and drops info and debug messages.
 */
#ifndef SENSOR_LOG_H
#define SENSOR_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum sa_log_level {
	SA_LOG_WARN,
	SA_LOG_INFO,
	SA_LOG_DEBUG,
};

typedef int (*sa_print_fn)(enum sa_log_level level, const char *fmt,
			   va_list ap);

/* Sets the print function and returns the previous one.  NULL silences
 * the library.
 */
sa_print_fn sa_set_print(sa_print_fn fn);

/* Sets the most verbose level that reaches the print function and returns
 * the previous one.  Hot paths call sa_log_enabled() before formatting.
 */
enum sa_log_level sa_set_log_level(enum sa_log_level level);
bool sa_log_enabled(enum sa_log_level level);

void sa_log(enum sa_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define sa_warn(...) sa_log(SA_LOG_WARN, __VA_ARGS__)
#define sa_info(...) \
	do { if (sa_log_enabled(SA_LOG_INFO)) sa_log(SA_LOG_INFO, __VA_ARGS__); } while (0)
#define sa_debug(...) \
	do { if (sa_log_enabled(SA_LOG_DEBUG)) sa_log(SA_LOG_DEBUG, __VA_ARGS__); } while (0)

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_LOG_H */
