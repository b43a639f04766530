// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent: command table and global options (bpftool style).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "sensor/log.h"
#include "sensor/session.h"
#include "sensor/version.h"
#include "git_version.h"
#include "tool.h"

#ifndef SA_VERSION
#define SA_VERSION "unknown"
#endif

struct sa_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct sa_cmd sa_cmds[] = {
	{ "decode", cmd_decode,
	  "decode a saved trace window into branch-decision histories" },
	{ "record", cmd_record,
	  "run a command under the emulated Intel PT sensor" },
	{ "capture", cmd_capture,
	  "capture one trace window (or an incident snapshot) of a process" },
	{ "trigger", cmd_trigger,
	  "tell a running snapshot capture to dump its buffer" },
	{ "baseline", cmd_baseline,
	  "add windows to a baseline database, list or diff builds" },
	{ "analyze", cmd_analyze,
	  "compare windows with a baseline and rank the anomalies" },
	{ "fleet", cmd_fleet,
	  "many hosts in ClickHouse: init, push windows, analyze a host" },
	{ "report", cmd_report,
	  "write the anomalies of windows as one HTML report" },
	{ "watch", cmd_live,
	  "the live sensor: watch processes, learn, report anomalies" },
	{ NULL, NULL, NULL },
};

static void sa_usage(FILE *f)
{
	const struct sa_cmd *c;

	fprintf(f,
		"Usage: %s [-v|-q] COMMAND [OPTIONS]\n"
		"       %s [-v|-q] --pid PID [OPTIONS]   "
		"(watch --pid PID: see --pid --help)\n"
		"       %s help COMMAND\n"
		"\nA runtime code sensor built on hardware branch tracing "
		"(Intel PT,\nArm CoreSight).  It shows which decision inside "
		"which function changed.\n\nCommands:\n",
		sa_prog
		, sa_prog
		, sa_prog
		);
	for (c = sa_cmds; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->help);
	fprintf(f,
		"\nGlobal options (-v, -q and --config also after the "
		"command):\n"
		"  -v, --verbose      more messages (repeat for debug)\n"
		"  -q, --quiet        only warnings and errors\n"
		"      --config FILE  options from FILE before the command "
		"line's (default\n"
		"                     /etc/sensor-agent/sensor-agent.conf "
		"when it exists)\n"
		"  -h, --help         this help; COMMAND --help for a "
		"command\n"
		"  -V, --version      the version, git describe and the "
		"libraries' versions\n"
		"\nSee docs/cli.md, or `%s COMMAND --help`.\n", sa_prog);
}

bool sa_parse_double(const char *s, double *v)
{
	char *end;

	*v = strtod(s, &end);
	return end != s && !*end && isfinite(*v);
}

bool sa_parse_binary(char *arg, struct sa_binary_opt *b)
{
	char *at = strrchr(arg, '@');

	b->path = arg;
	b->addr = SA_ADDR_NONE;
	if (!at)
		return true;
	*at = '\0';
	if (sa_parse_u64(at + 1, &b->addr))
		return true;
	*at = '@';	/* whole again, for the error message */
	return false;
}

bool sa_tool_add_sink(struct sa_decode_opts *o, const char *name)
{
	static const char *sinks[64];

	if (o->nr_error_sinks >= sizeof(sinks) / sizeof(sinks[0])) {
		sa_err("too many --error-sink options (the limit is %zu)",
		       sizeof(sinks) / sizeof(sinks[0]));
		return false;
	}
	if (!name[0]) {
		sa_err("--error-sink needs a symbol name");
		return false;
	}
	sinks[o->nr_error_sinks++] = name;
	o->error_sinks = sinks;
	return true;
}

int sa_tool_decode_opt(const char *cmd, int c, char *arg,
		       struct sa_decode_opts *o, struct sa_binary_opt *bins,
		       size_t max)
{
	uint64_t v;

	switch (c) {
	case 'b':
		if (o->nr_binaries >= max ||
		    !sa_parse_binary(arg, &bins[o->nr_binaries])) {
			sa_err("%s: bad --binary '%s': expected PATH or "
			       "PATH@ADDR (the limit is %zu of them)", cmd, arg, max);
			return -1;
		}
		o->binaries = bins;
		o->nr_binaries++;
		return 1;
	case SA_OPT_SYMFS:
		o->symfs = arg;
		return 1;
	case SA_OPT_ERROR_SINK:
		return sa_tool_add_sink(o, arg) ? 1 : -1;
	case SA_OPT_DECODE_PID:
		if (!sa_parse_u64(arg, &v) || !v || v > INT32_MAX) {
			sa_err("%s: bad --pid '%s'", cmd, arg);
			return -1;
		}
		o->pid = (pid_t)v;
		return 1;
	default:
		return 0;
	}
}

/* The library's messages: the same prefix, levels as syslog's. */
static int sa_tool_print(enum sa_log_level level, const char *fmt, va_list ap)
{
	sa_vmsg(level == SA_LOG_WARN ? LOG_WARNING :
		level == SA_LOG_INFO ? LOG_INFO : LOG_DEBUG, fmt, ap);
	return 0;
}

/* --version: ours, the build's `git describe`, and the libraries' own
 * versions (the ones this process runs with, not the headers').
 */
static int print_version(void)
{
	char libs[256];

	sa_lib_versions(libs, sizeof(libs));
	printf("%s %s (git %s)\n%s\n", sa_prog, SA_VERSION, SA_GIT_DESCRIBE,
	       libs);
	return SA_EXIT_OK;
}

static const struct sa_cmd *find_cmd(const char *name);

static bool is_command(const char *name)
{
	return find_cmd(name) != NULL;
}

static const struct sa_cmd *find_cmd(const char *name)
{
	const struct sa_cmd *c;

	for (c = sa_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* `sensor-agent help [COMMAND]` */
static int cmd_help(int argc, char **argv)
{
	const struct sa_cmd *c;
	char *args[] = { NULL, "--help", NULL };

	if (argc < 2) {
		sa_usage(stdout);
		return SA_EXIT_OK;
	}
	c = find_cmd(argv[1]);
	if (!c) {
		sa_cmd_name = "help";
		sa_err("unknown command '%s' (see %s --help)", argv[1],
		       sa_prog);
		return SA_EXIT_USAGE;
	}
	sa_cmd_name = c->name;
	args[0] = (char *)c->name;
	return c->fn(2, args);
}

int main(int argc, char **argv)
{
	const struct sa_cmd *c;
	int i = 1;

	sa_set_print(sa_tool_print);
	sa_tool_is_command = is_command;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			sa_tool_set_verbosity(1);
		} else if (!strcmp(a, "-vv")) {
			sa_tool_set_verbosity(2);
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			sa_tool_set_verbosity(-1);
		} else if (!strcmp(a, "--config") && i + 1 < argc) {
			sa_config_path = argv[++i];
		} else if (!strncmp(a, "--config=", 9)) {
			sa_config_path = a + 9;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			sa_usage(stdout);
			return SA_EXIT_OK;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			return print_version();
		} else if (!strcmp(a, "--pid") || !strncmp(a, "--pid=", 6) ||
			   !strcmp(a, "-p")) {
			break;	/* the live sensor takes it from here */
		} else {
			sa_err("unknown option '%s'", a);
			sa_usage(stderr);
			return SA_EXIT_USAGE;
		}
	}
	if (i < argc && (!strcmp(argv[i], "--pid") || !strcmp(argv[i], "-p") ||
			 !strncmp(argv[i], "--pid=", 6))) {
		/* the short form of `watch --pid PID` */
		sa_cmd_name = "watch";
		argv[i - 1] = "watch";
		return cmd_live(argc - i + 1, argv + i - 1);
	}
	if (i >= argc) {
		sa_usage(stderr);
		return SA_EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help"))
		return cmd_help(argc - i, argv + i);
	c = find_cmd(argv[i]);
	if (c) {
		sa_cmd_name = c->name;
		return c->fn(argc - i, argv + i);
	}
	sa_err("unknown command '%s'", argv[i]);
	sa_usage(stderr);
	return SA_EXIT_USAGE;
}
