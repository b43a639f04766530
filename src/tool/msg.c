// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent: messages (one prefix, levels, verbosity) and numbers,
 * shared by every command.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "sensor/log.h"
#include "tool.h"

const char *sa_prog = "sensor-agent";
int sa_verbose;
const char *sa_cmd_name;
static int sa_quiet;


bool sa_parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

bool sa_msg_enabled(int prio)
{
	int max = sa_quiet ? LOG_WARNING : LOG_NOTICE + sa_verbose;

	return prio <= max;
}

void sa_tool_set_verbosity(int delta)
{
	if (delta < 0) {
		sa_quiet = 1;
		sa_verbose = 0;
	} else {
		sa_quiet = 0;
		sa_verbose += delta;
	}
	sa_set_log_level(sa_verbose > 1 ? SA_LOG_DEBUG :
			 sa_verbose ? SA_LOG_INFO : SA_LOG_WARN);
}

void sa_vmsg(int prio, const char *fmt, va_list ap)
{
	char buf[4096];
	const char *m = buf;
	size_t n, cl;

	if (!sa_msg_enabled(prio))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	/* "decode: bad ..." from a command already named: one prefix */
	cl = sa_cmd_name ? strlen(sa_cmd_name) : 0;
	if (cl && !strncmp(m, sa_cmd_name, cl) && m[cl] == ':' &&
	    m[cl + 1] == ' ')
		m += cl + 2;
	/* "baseline: ..." under "baseline add" */
	cl = sa_cmd_name ? strcspn(sa_cmd_name, " ") : 0;
	if (cl && sa_cmd_name[cl] && !strncmp(m, sa_cmd_name, cl) &&
	    m[cl] == ':' && m[cl + 1] == ' ')
		m += cl + 2;
	fprintf(stderr, "%s%s%s: %s%s\n", sa_prog, sa_cmd_name ? " " : "",
		sa_cmd_name ? sa_cmd_name : "",
		prio == LOG_WARNING ? "warning: " : "", m);
}

void sa_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sa_vmsg(prio, fmt, ap);
	va_end(ap);
}

void sa_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sa_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
}

void sa_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sa_vmsg(LOG_NOTICE, fmt, ap);
	va_end(ap);
}

