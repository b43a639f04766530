// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent: the option vocabulary that every command shares, parsed
 * in one place.  A table lists the common options (and the old spellings
 * kept as hidden aliases); each command says which ones it takes, and
 * sa_getopt() merges them with the command's own options for
 * getopt_long, parses the common ones into struct sa_common and returns
 * the rest.  Durations, sizes and formats have their own table-driven
 * parsers here, so that every command accepts and rejects the same
 * spellings with the same message.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/backend.h"
#include "sensor/log.h"
#include "tool.h"

/* How a common option's value is read. */
enum copt_kind {
	CK_PID, CK_BACKEND, CK_EMULATE, CK_WINDOW, CK_WINDOW_MS,
	CK_WINDOW_INSN, CK_PERIOD, CK_PERIOD_MS, CK_COUNT, CK_OUTPUT,
	CK_INPUT, CK_FORMAT, CK_DB, CK_AUX_SIZE, CK_VERBOSE, CK_QUIET,
	CK_HELP, CK_CONFIG,
};

struct copt {
	const char *name;
	int has_arg;
	int val;		/* getopt value: a short letter or CO_VAL + i */
	unsigned int bit;	/* the SA_CO_* that enables it; 0: always */
	enum copt_kind kind;
};

#define CO_VAL 0x4000

/* The vocabulary; the entries after the first of each bit are the old
 * spellings (hidden: no --help lists them).
 */
static const struct copt copts[] = {
	{ "pid", required_argument, 'p', SA_CO_PID, CK_PID },
	{ "backend", required_argument, CO_VAL + 1, SA_CO_BACKEND,
	  CK_BACKEND },
	{ "emulate", no_argument, CO_VAL + 2, SA_CO_BACKEND, CK_EMULATE },
	{ "window", required_argument, CO_VAL + 3, SA_CO_WINDOW, CK_WINDOW },
	{ "window-ms", required_argument, CO_VAL + 4, SA_CO_WINDOW,
	  CK_WINDOW_MS },
	{ "window-insns", required_argument, CO_VAL + 5, SA_CO_WINDOW,
	  CK_WINDOW_INSN },
	{ "period", required_argument, CO_VAL + 6, SA_CO_PERIOD, CK_PERIOD },
	{ "period-ms", required_argument, CO_VAL + 7, SA_CO_PERIOD,
	  CK_PERIOD_MS },
	{ "count", required_argument, CO_VAL + 8, SA_CO_COUNT, CK_COUNT },
	{ "windows", required_argument, CO_VAL + 9, SA_CO_COUNT, CK_COUNT },
	{ "max-windows", required_argument, CO_VAL + 10, SA_CO_COUNT,
	  CK_COUNT },
	{ "output", required_argument, 'o', SA_CO_OUTPUT, CK_OUTPUT },
	{ "input", required_argument, 'i', SA_CO_INPUT, CK_INPUT },
	{ "format", required_argument, 'f', SA_CO_FORMAT, CK_FORMAT },
	{ "db", required_argument, CO_VAL + 11, SA_CO_DB, CK_DB },
	{ "baseline", required_argument, CO_VAL + 12, SA_CO_DB, CK_DB },
	{ "aux-size", required_argument, CO_VAL + 13, SA_CO_AUX_SIZE,
	  CK_AUX_SIZE },
	{ "verbose", no_argument, 'v', 0, CK_VERBOSE },
	{ "quiet", no_argument, 'q', 0, CK_QUIET },
	{ "help", no_argument, 'h', 0, CK_HELP },
	{ "config", required_argument, CO_VAL + 14, 0, CK_CONFIG },
};

#define NR_COPTS (sizeof(copts) / sizeof(copts[0]))

struct unit {
	const char *suffix;
	uint64_t mul;
};

/* Durations in nanoseconds; "insn" is handled apart. */
static const struct unit time_units[] = {
	{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
	{ "s", 1000000000ull }, { "min", 60000000000ull },
	{ "h", 3600000000000ull }, { "d", 86400000000000ull },
};

/* Sizes: K/M/G, binary (as perf's --mmap-pages and dd take them). */
static const struct unit size_units[] = {
	{ "", 1 }, { "K", 1ull << 10 }, { "KiB", 1ull << 10 },
	{ "M", 1ull << 20 }, { "MiB", 1ull << 20 },
	{ "G", 1ull << 30 }, { "GiB", 1ull << 30 },
	{ "k", 1ull << 10 }, { "m", 1ull << 20 }, { "g", 1ull << 30 },
};

static const char *const format_names[] = { "text", "json", "jsonl" };

/* Splits "123unit" into the number and the unit; false on junk. */
static bool split_number(const char *s, uint64_t *v, const char **unit)
{
	char *end;
	unsigned long long x;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		x = strtoull(s, &end, 16);
	else
		x = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	*v = x;
	*unit = end;
	return true;
}

static bool mul_ok(uint64_t v, uint64_t mul, uint64_t *out)
{
	if (mul && v > UINT64_MAX / mul)
		return false;
	*out = v * mul;
	return true;
}

int sa_parse_duration(const char *s, char bare, struct sa_duration *d)
{
	const char *unit;
	uint64_t v;
	size_t i;

	d->ns = d->insns = 0;
	if (!split_number(s, &v, &unit) || !v)
		return -EINVAL;
	if (!*unit) {
		if (bare == 'i')
			unit = "insn";
		else if (bare == 'm')
			unit = "ms";
		else
			return -EINVAL;
	}
	if (!strcmp(unit, "insn") || !strcmp(unit, "insns") ||
	    !strcmp(unit, "i")) {
		d->insns = v;
		return 0;
	}
	for (i = 0; i < sizeof(time_units) / sizeof(time_units[0]); i++)
		if (!strcmp(unit, time_units[i].suffix))
			return mul_ok(v, time_units[i].mul, &d->ns) ? 0 :
								     -ERANGE;
	return -EINVAL;
}

bool sa_parse_size(const char *s, uint64_t *bytes)
{
	const char *unit;
	uint64_t v;
	size_t i;

	if (!split_number(s, &v, &unit))
		return false;
	for (i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++)
		if (!strcmp(unit, size_units[i].suffix))
			return mul_ok(v, size_units[i].mul, bytes);
	return false;
}

const char *sa_format_name(enum sa_format f)
{
	return f >= SA_FMT_TEXT && f <= SA_FMT_JSONL ?
		       format_names[f - SA_FMT_TEXT] : "?";
}

/* "text, json or jsonl" from a mask of SA_FMT_BIT(). */
static void format_list(unsigned int mask, char *buf, size_t len)
{
	size_t i, n = 0, left = 0, done = 0;

	for (i = 0; i < 3; i++)
		left += !!(mask & SA_FMT_BIT(SA_FMT_TEXT + i));
	buf[0] = '\0';
	for (i = 0; i < 3 && n < len; i++) {
		if (!(mask & SA_FMT_BIT(SA_FMT_TEXT + i)))
			continue;
		done++;
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      done == 1 ? "" :
				      done == left ? " or " : ", ",
				      format_names[i]);
	}
}

bool sa_parse_format(const char *s, unsigned int allowed,
		     enum sa_format *f)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcmp(s, format_names[i]))
			continue;
		if (!(allowed & SA_FMT_BIT(SA_FMT_TEXT + i)))
			return false;
		*f = (enum sa_format)(SA_FMT_TEXT + i);
		return true;
	}
	return false;
}

bool sa_parse_pid(const char *s, pid_t *pid)
{
	uint64_t v;

	if (!sa_parse_u64(s, &v) || !v || v > INT32_MAX)
		return false;
	*pid = (pid_t)v;
	return true;
}

void sa_common_init(struct sa_common *cm, const char *cmd,
		    unsigned int mask)
{
	memset(cm, 0, sizeof(*cm));
	cm->cmd = cmd;
	cm->mask = mask;
	cm->formats = SA_FMT_BIT(SA_FMT_TEXT);
	cm->format = SA_FMT_TEXT;
	cm->bare_window = 'm';
	cm->backend = SA_BACKEND_AUTO;
}

/* Builds the merged long options and short option string once. */
static int build(struct sa_common *cm, const char *shortopts,
		 const struct option *own)
{
	size_t n = 0, i, s = 0;

	if (shortopts && *shortopts == '+')
		cm->shortopts[s++] = *shortopts++;
	cm->shortopts[s++] = ':';	/* ':' for a missing argument */
	for (i = 0; shortopts && shortopts[i] && s < sizeof(cm->shortopts) - 4;
	     i++)
		cm->shortopts[s++] = shortopts[i];
	/* The command's own options first: getopt_long takes the first of
	 * two equal names, so a command can give an alias its own meaning.
	 */
	for (i = 0; own && own[i].name; i++) {
		if (n >= SA_COMMON_MAX_OPTS - NR_COPTS - 1)
			return -1;
		cm->longopts[n++] = own[i];
	}
	cm->nr_own = n;
	for (i = 0; i < NR_COPTS; i++) {
		const struct copt *c = &copts[i];

		if (c->bit && !(cm->mask & c->bit))
			continue;
		cm->longopts[n].name = c->name;
		cm->longopts[n].has_arg = c->has_arg;
		cm->longopts[n].flag = NULL;
		cm->longopts[n].val = c->val;
		n++;
		if (c->val < 128 && !strchr(cm->shortopts, c->val) &&
		    s < sizeof(cm->shortopts) - 3) {
			cm->shortopts[s++] = (char)c->val;
			if (c->has_arg)
				cm->shortopts[s++] = ':';
		}
	}
	memset(&cm->longopts[n], 0, sizeof(cm->longopts[n]));
	cm->shortopts[s] = '\0';
	cm->built = true;
	return 0;
}

static const struct copt *find_copt(const struct sa_common *cm, int val)
{
	size_t i;

	for (i = 0; i < NR_COPTS; i++)
		if (copts[i].val == val &&
		    (!copts[i].bit || (cm->mask & copts[i].bit)))
			return &copts[i];
	return NULL;
}

/* The spelling the user typed, for messages: "--window-ms" or "-p". */
static const char *typed(char **argv, int longidx, int ch,
			 const struct sa_common *cm, char *buf, size_t len)
{
	const char *a = argv[optind - 1];

	if (longidx >= 0 && cm->longopts[longidx].name)
		snprintf(buf, len, "--%s", cm->longopts[longidx].name);
	else if (a && a[0] == '-' && a[1] == '-')
		snprintf(buf, len, "%.*s", (int)strcspn(a, "="), a);
	else
		snprintf(buf, len, "-%c", ch > 0 && ch < 128 && ch != ':' ? ch :
					  optopt ? optopt : '?');
	return buf;
}

static int window_value(struct sa_common *cm, const char *opt,
			const char *arg, char bare, bool alias)
{
	struct sa_duration d;
	int err = sa_parse_duration(arg, bare, &d);

	if (err) {
		sa_err("bad %s '%s': a duration such as 10ms, 500us or 2s%s",
		       opt, arg, cm->window_insn_ok ?
				 ", or instructions such as 4000insn" : "");
		return -1;
	}
	if (d.insns && !cm->window_insn_ok) {
		sa_err("bad %s '%s': %s counts time, not instructions "
		       "(10ms, 500us, 2s)", opt, arg, cm->cmd);
		return -1;
	}
	if (d.ns % 1000000) {
		sa_err("bad %s '%s': windows are timed in whole "
		       "milliseconds (e.g. 1ms, 2000us)", opt, arg);
		return -1;
	}
	if (alias) {
		/* the old spellings set only their own part, so that
		 * `--window-insns 4000 --window-ms 2000` keeps meaning what
		 * it meant: 4000 instructions, at most 2 s
		 */
		if (d.insns)
			cm->window_insns = d.insns;
		else
			cm->window_ms = d.ns / 1000000;
	} else {
		cm->window_ms = d.ns / 1000000;
		cm->window_insns = d.insns;
	}
	cm->set |= SA_CO_WINDOW;
	return 0;
}

static int period_value(struct sa_common *cm, const char *opt,
			const char *arg)
{
	struct sa_duration d;

	if (sa_parse_duration(arg, 'm', &d) || d.insns) {
		sa_err("bad %s '%s': a duration such as 500ms, 2s or 1min",
		       opt, arg);
		return -1;
	}
	if (d.ns % 1000000) {
		sa_err("bad %s '%s': the period is timed in whole "
		       "milliseconds", opt, arg);
		return -1;
	}
	cm->period_ms = d.ns / 1000000;
	cm->set |= SA_CO_PERIOD;
	return 0;
}

/* Handles common option @c; 0 done, 'h' for help, -1 usage error. */
static int common(struct sa_common *cm, const struct copt *c,
		  const char *opt, char *arg)
{
	struct sa_errinfo ei;
	char list[64];
	uint64_t v;

	switch (c->kind) {
	case CK_PID:
		if (!sa_parse_pid(arg, &cm->pid)) {
			sa_err("bad %s '%s': not a process id", opt, arg);
			return -1;
		}
		break;
	case CK_BACKEND:
		if (sa_backend_kind_parse(arg, &cm->backend, &ei)) {
			sa_err("bad %s '%s': auto, intel_pt, cs_etm or "
			       "emulate", opt, arg);
			return -1;
		}
		break;
	case CK_EMULATE:
		cm->backend = SA_BACKEND_EMULATE;
		break;
	case CK_WINDOW:
		return window_value(cm, opt, arg, cm->bare_window, false);
	case CK_WINDOW_MS:
		return window_value(cm, opt, arg, 'm', true);
	case CK_WINDOW_INSN:
		return window_value(cm, opt, arg, 'i', true);
	case CK_PERIOD:
	case CK_PERIOD_MS:
		return period_value(cm, opt, arg);
	case CK_COUNT:
		if (!sa_parse_u64(arg, &v) || !v || v > SA_COMMON_MAX_COUNT) {
			sa_err("bad %s '%s': a count from 1 to %u", opt, arg,
			       SA_COMMON_MAX_COUNT);
			return -1;
		}
		cm->count = v;
		break;
	case CK_OUTPUT:
		cm->output = arg;
		break;
	case CK_INPUT:
		cm->input = arg;
		break;
	case CK_FORMAT:
		if (!sa_parse_format(arg, cm->formats, &cm->format)) {
			format_list(cm->formats, list, sizeof(list));
			sa_err("bad %s '%s': %s", opt, arg, list);
			return -1;
		}
		break;
	case CK_DB:
		cm->db = arg;
		break;
	case CK_AUX_SIZE:
		if (!sa_parse_size(arg, &cm->aux_size) || !cm->aux_size) {
			sa_err("bad %s '%s': a size such as 4M, 512K or "
			       "4194304", opt, arg);
			return -1;
		}
		break;
	case CK_VERBOSE:
		sa_tool_set_verbosity(1);
		return 0;
	case CK_QUIET:
		sa_tool_set_verbosity(-1);
		return 0;
	case CK_HELP:
		return 'h';
	case CK_CONFIG:
		return 0;	/* read before the options: load_config() */
	}
	cm->set |= c->bit;
	return 0;
}

/*
 * The config file: "key = value" lines whose keys are the long option
 * names.  Keys before any section are the shared vocabulary (they apply
 * to every command that takes them); a "[COMMAND]" section holds options
 * of that command.  Its entries become "--key=value" arguments that are
 * parsed before the command line's, so the command line wins.
 */
#define CFG_MAX_ENTRIES 256
#define CFG_MAX_LINE 4096
#define CFG_DEFAULT "/etc/sensor-agent/sensor-agent.conf"

const char *sa_config_path;
bool (*sa_tool_is_command)(const char *name);

static struct {
	char *argv[CFG_MAX_ENTRIES + 2];	/* [0]: the program */
	unsigned int line[CFG_MAX_ENTRIES + 2];
	int argc;
	char path[512];
	char where[600];
} cfg;

static const struct option *find_long(const struct sa_common *cm,
				      const char *name)
{
	size_t i;

	for (i = 0; cm->longopts[i].name; i++)
		if (!strcmp(cm->longopts[i].name, name))
			return &cm->longopts[i];
	return NULL;
}

static bool is_common_name(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COPTS; i++)
		if (!strcmp(copts[i].name, name))
			return true;
	return false;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* The config file named by --config on the command line (before "--"),
 * before the command, or the default when it exists; NULL for none.
 */
static const char *config_path(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	if (sa_config_path)
		return sa_config_path;
	return access(CFG_DEFAULT, F_OK) ? NULL : CFG_DEFAULT;
}

#define cfg_err(lineno, ...)                                                  \
	do {                                                                  \
		snprintf(cfg.where, sizeof(cfg.where), "%s:%u", cfg.path,     \
			 (lineno));                                           \
		sa_msg_context = cfg.where;                                   \
		sa_err(__VA_ARGS__);                                          \
		sa_msg_context = NULL;                                        \
	} while (0)

static bool cfg_bool(const char *v, bool *b)
{
	static const char *const t[] = { "true", "yes", "on", "1" };
	static const char *const f[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcmp(v, t[i]))
			return *b = true;
		if (!strcmp(v, f[i])) {
			*b = false;
			return true;
		}
	}
	return false;
}

/* Reads the config file into cfg.argv; 0, or -1 after a message. */
static int load_config(struct sa_common *cm, int argc, char **argv)
{
	const char *path = config_path(argc, argv);
	char line[CFG_MAX_LINE], section[64] = "", cmdword[64];
	const struct option *o;
	unsigned int lineno = 0;
	FILE *f;
	int ret = 0;

	cfg.argc = 0;
	if (!path)
		return 0;
	snprintf(cfg.path, sizeof(cfg.path), "%s", path);
	snprintf(cmdword, sizeof(cmdword), "%.*s",
		 (int)strcspn(cm->cmd, " "), cm->cmd);
	f = fopen(path, "re");
	if (!f) {
		sa_err("config file %s: %s", path, strerror(errno));
		return -1;
	}
	cfg.argv[cfg.argc++] = (char *)sa_prog;
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *val;
		bool mine, flag;
		size_t n;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			cfg_err(lineno, "line longer than %d bytes",
				CFG_MAX_LINE - 2);
			ret = -1;
			break;
		}
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			n = strlen(s);
			if (n < 3 || s[n - 1] != ']' ||
			    n - 2 >= sizeof(section)) {
				cfg_err(lineno, "bad section '%s': [COMMAND]",
					s);
				ret = -1;
				break;
			}
			s[n - 1] = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			if (sa_tool_is_command &&
			    !sa_tool_is_command(section)) {
				cfg_err(lineno, "unknown section [%s]: a "
					"command's name", section);
				ret = -1;
				break;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			cfg_err(lineno, "expected 'key = value', not '%s'", s);
			ret = -1;
			break;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		n = strlen(val);
		if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
			val[n - 1] = '\0';
			val++;
		}
		if (!strcmp(key, "config") || !strcmp(key, "help")) {
			cfg_err(lineno, "key '%s' has no place in a config "
				"file", key);
			ret = -1;
			break;
		}
		mine = !section[0] || !strcmp(section, cmdword);
		if (!section[0] && !is_common_name(key)) {
			cfg_err(lineno, "unknown key '%s' (keys are the long "
				"option names; a command's own options go in "
				"a [COMMAND] section)", key);
			ret = -1;
			break;
		}
		if (!mine)
			continue;	/* another command's section */
		o = find_long(cm, key);
		if (!o) {
			if (!section[0])
				continue;	/* not an option of this one */
			cfg_err(lineno, "unknown key '%s': %s has no option "
				"--%s", key, cm->cmd, key);
			ret = -1;
			break;
		}
		if (o->has_arg == no_argument) {
			if (!cfg_bool(val, &flag)) {
				cfg_err(lineno, "bad value '%s' for %s: true "
					"or false", val, key);
				ret = -1;
				break;
			}
			if (!flag)
				continue;
		} else if (!*val) {
			cfg_err(lineno, "key '%s' needs a value", key);
			ret = -1;
			break;
		}
		if (cfg.argc >= CFG_MAX_ENTRIES + 1) {
			cfg_err(lineno, "more than %d entries (the limit)",
				CFG_MAX_ENTRIES);
			ret = -1;
			break;
		}
		n = strlen(key) + strlen(val) + 4;
		cfg.argv[cfg.argc] = malloc(n);
		if (!cfg.argv[cfg.argc]) {
			ret = -1;
			break;
		}
		if (o->has_arg == no_argument)
			snprintf(cfg.argv[cfg.argc], n, "--%s", key);
		else
			snprintf(cfg.argv[cfg.argc], n, "--%s=%s", key, val);
		cfg.line[cfg.argc++] = lineno;
	}
	if (!ret && ferror(f)) {
		sa_err("config file %s: %s", path, strerror(errno));
		ret = -1;
	}
	fclose(f);
	cfg.argv[cfg.argc] = NULL;
	return ret;
}

int sa_write_json_array(FILE *out, const char *jsonl, size_t len)
{
	const char *p = jsonl, *end = jsonl + len, *nl;
	bool first = true;

	fputs("[", out);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (nl > p) {
			fputs(first ? "\n" : ",\n", out);
			fwrite(p, 1, (size_t)(nl - p), out);
			first = false;
		}
		p = nl + 1;
	}
	fputs(first ? "]\n" : "\n]\n", out);
	return ferror(out) ? -EIO : 0;
}

int sa_common_check_window(const struct sa_common *cm, const char *backend)
{
	if (!cm->window_insns)
		return 0;
	if (!backend)
		backend = cm->backend == SA_BACKEND_INTEL_PT ? "intel_pt" :
			  cm->backend == SA_BACKEND_CS_ETM ? "cs_etm" : NULL;
	if (!backend || !strcmp(backend, "emulate"))
		return 0;
	sa_err("--window %" PRIu64 "insn: only the emulated backend counts "
	       "instructions; %s windows are timed (e.g. --window 10ms)",
	       cm->window_insns, backend);
	return -1;
}

int sa_getopt(int argc, char **argv, const char *shortopts,
	      const struct option *own, struct sa_common *cm)
{
	const struct copt *c;
	char opt[64];
	int ch, idx, r;

	if (!cm->built) {
		if (build(cm, shortopts, own)) {
			sa_err("too many options (internal limit)");
			return SA_GETOPT_USAGE;
		}
		if (load_config(cm, argc, argv))
			return SA_GETOPT_USAGE;
		cm->in_config = cfg.argc > 1;
		optind = 0;	/* glibc: start afresh */
	}
	opterr = 0;
	for (;;) {
		idx = -1;
		optopt = 0;
		if (cm->in_config) {
			ch = getopt_long(cfg.argc, cfg.argv, cm->shortopts,
					 cm->longopts, &idx);
			if (ch == -1) {
				cm->in_config = false;
				sa_msg_context = NULL;
				optind = 0;
				continue;
			}
			snprintf(cfg.where, sizeof(cfg.where), "%s:%u",
				 cfg.path, cfg.line[optind - 1]);
			sa_msg_context = cfg.where;
		} else {
			sa_msg_context = NULL;
			ch = getopt_long(argc, argv, cm->shortopts,
					 cm->longopts, &idx);
		}
		if (ch == -1)
			return -1;
		if (ch == '?') {
			const char *a = argv[optind - 1];

			if (optopt && optopt < 128 &&
			    !(a && a[0] == '-' && a[1] == '-'))
				sa_err("unknown option '-%c' (see %s %s "
				       "--help)", optopt, sa_prog, cm->cmd);
			else
				sa_err("unknown option '%s' (see %s %s "
				       "--help)", a ? a : "?", sa_prog,
				       cm->cmd);
			return SA_GETOPT_USAGE;
		}
		if (ch == ':') {
			sa_err("option '%s' needs a value (see %s %s --help)",
			       typed(argv, idx, ch, cm, opt, sizeof(opt)),
			       sa_prog, cm->cmd);
			return SA_GETOPT_USAGE;
		}
		/* `--pid --help`: the help, not a bad value. */
		if (optarg && (!strcmp(optarg, "--help") ||
			       !strcmp(optarg, "-h")))
			return 'h';
		/* The command's own option of that value wins. */
		if (idx >= 0 && (size_t)idx < cm->nr_own)
			return ch;
		c = find_copt(cm, ch);
		if (!c)
			return ch;
		r = common(cm, c, typed(argv, idx, ch, cm, opt, sizeof(opt)),
			   optarg);
		if (r < 0)
			return SA_GETOPT_USAGE;
		if (r == 'h')
			return 'h';
	}
}
