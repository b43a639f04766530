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
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sensor/log.h"
#include "tool.h"

const char *sa_prog = "sensor-agent";
int sa_verbose;
const char *sa_cmd_name;
const char *sa_msg_context;
bool sa_log_timestamps;
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

static const char *level_name(int prio)
{
	static const char *const names[] = {
		"emergency", "alert", "critical", "error", "warning",
		"notice", "info", "debug",
	};

	return prio >= 0 && prio <= LOG_DEBUG ? names[prio] : "debug";
}

/* Standard error is the journal's stream: JOURNAL_STREAM names its
 * device and inode (systemd.exec(5)), checked so that a child whose
 * stderr was redirected does not inherit the format.
 */
static bool journal_stream(void)
{
	static int is = -1;
	unsigned long long dev, ino;
	const char *e;
	struct stat st;

	if (is >= 0)
		return is;
	is = 0;
	e = getenv("JOURNAL_STREAM");
	if (e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
	    !fstat(STDERR_FILENO, &st) &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		is = 1;
	return is;
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
	if (journal_stream()) {
		/* sd-daemon(3): the journal takes the level from <N> and
		 * stamps the time itself
		 */
		fprintf(stderr, "<%d>%s%s%s: %s%s%s\n", prio, sa_prog,
			sa_cmd_name ? " " : "", sa_cmd_name ? sa_cmd_name : "",
			sa_msg_context && prio <= LOG_ERR ? sa_msg_context : "",
			sa_msg_context && prio <= LOG_ERR ? ": " : "", m);
		return;
	}
	if (sa_log_timestamps) {
		char t[32];
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(stderr, "%s %s: ", t, level_name(prio));
	}
	fprintf(stderr, "%s%s%s: %s%s%s%s\n", sa_prog,
		sa_cmd_name ? " " : "", sa_cmd_name ? sa_cmd_name : "",
		sa_msg_context && prio <= LOG_ERR ? sa_msg_context : "",
		sa_msg_context && prio <= LOG_ERR ? ": " : "",
		prio == LOG_WARNING && !sa_log_timestamps ? "warning: " : "",
		m);
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

