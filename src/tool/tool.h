/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sensor-agent command-line tool.  One file per subcommand; each
 * returns the process exit status: 0 success, 1 failure, 2 usage error.
 * The tool uses only the public headers in include/sensor/.
 */
#ifndef SA_TOOL_H
#define SA_TOOL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/types.h>

#include "sensor/backend.h"

#define SA_EXIT_OK 0
#define SA_EXIT_FAIL 1
#define SA_EXIT_USAGE 2

extern const char *sa_prog;	/* "sensor-agent" */
extern int sa_verbose;

int cmd_decode(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_trigger(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_live(int argc, char **argv);
int cmd_fleet(int argc, char **argv);

/* tool_fleet.c: the live loop's --fleet window callback (@ctx a struct
 * sa_fleet_sender: it only queues) and the counters of a push.
 */
struct sa_fleet;
struct sa_fleet_stats;
struct sa_hist;
void sa_tool_fleet_window(void *ctx, const struct sa_hist *h,
			  const char *path);
void sa_tool_fleet_report(const char *cmd, const struct sa_fleet_stats *st);
int cmd_report(int argc, char **argv);

struct sa_anomaly_list;
/* Prints how the sites of a cross-build comparison matched (nothing when
 * every build was compared with itself).  Returns 0 or -EIO.
 */
int sa_tool_print_match(FILE *f, const struct sa_anomaly_list *l);

struct sa_hist;
struct sa_baseline;
struct sa_report_opts;
struct sa_context;
struct sa_decode_opts;
#define SA_TOOL_CONTEXT_ANOMALIES 5
/* The decision context of @l's top anomalies: decodes @windows again.
 * NULL (said on stderr) on failure.
 */
struct sa_context *sa_tool_context(const struct sa_anomaly_list *l,
				   char *const *windows, size_t nr,
				   const struct sa_decode_opts *dopts);
/* Writes the HTML report to @path; returns SA_EXIT_OK or SA_EXIT_FAIL. */
int sa_tool_write_report(const char *path, const struct sa_anomaly_list *l,
			 struct sa_hist *const *hists, size_t nr,
			 struct sa_baseline *bl,
			 const struct sa_report_opts *ro);

/* The control socket of `capture --snapshot` for @pid (or @override)
 * into @buf; creates its directory when @create_dir.  tool_capture.c.
 */
int sa_capture_socket_path(pid_t pid, const char *override, char *buf,
			   size_t len, bool create_dir);

struct sa_decode_opts;
struct sa_binary_opt;

/* getopt values of the decode options that decode, analyze, baseline and
 * the live sensor share (beside -b for --binary).
 */
enum {
	SA_OPT_SYMFS = 1000,
	SA_OPT_ERROR_SINK,
	SA_OPT_DECODE_PID,	/* --pid of decode, analyze, baseline */
};

/* Handles a shared decode option @c with argument @arg for command @cmd:
 * -b PATH[@ADDR] (into @bins, at most @max), SA_OPT_SYMFS,
 * SA_OPT_ERROR_SINK, SA_OPT_DECODE_PID.  Returns 1 when it was one, 0 when
 * @c is not, -1 after printing the usage error.
 */
int sa_tool_decode_opt(const char *cmd, int c, char *arg,
		       struct sa_decode_opts *o, struct sa_binary_opt *bins,
		       size_t max);

/* Adds --error-sink @name to @o (at most 64, kept in static storage: one
 * command per process).  False, with a message, when there are too many.
 */
bool sa_tool_add_sink(struct sa_decode_opts *o, const char *name);

/* Parses a decimal or 0x-hex unsigned number; false on junk or overflow. */
bool sa_parse_u64(const char *s, uint64_t *v);

/* Parses a finite floating-point number; false on junk. */
bool sa_parse_double(const char *s, double *v);

/* Parses --binary PATH[@ADDR] into @b, in place (the '@' becomes NUL). */
bool sa_parse_binary(char *arg, struct sa_binary_opt *b);

#include "sensor/otlp.h"

/* --otlp URL, --otlp-protocol P, --service NAME (analyze, --pid). */
enum {
	SA_OPT_OTLP = 1100,
	SA_OPT_OTLP_PROTOCOL,
	SA_OPT_SERVICE,
};

#define SA_TOOL_OTLP_LONGOPTS						\
	{ "otlp", required_argument, NULL, SA_OPT_OTLP },		\
	{ "otlp-protocol", required_argument, NULL,			\
	  SA_OPT_OTLP_PROTOCOL },					\
	{ "service", required_argument, NULL, SA_OPT_SERVICE }

#define SA_TOOL_OTLP_USAGE						\
"      --otlp URL           also send every record as an OTLP log record\n" \
"                           to URL/v1/logs (docs/otlp.md)\n"		\
"      --otlp-protocol P    http/json (default) or http/protobuf\n"	\
"      --service NAME       OTLP service.name (default: the executable)\n"

/* Flush deadline at exit. */
#define SA_TOOL_OTLP_FLUSH_MS 5000

struct sa_tool_otlp {
	const char *url;
	enum sa_otlp_protocol protocol;
	const char *service;
	struct sa_otlp *ot;
};

/* Handles SA_OPT_OTLP*, SA_OPT_SERVICE: 1 when @c was one, 0 when not,
 * -1 after printing the usage error.
 */
int sa_tool_otlp_opt(const char *cmd, int c, const char *arg,
		     struct sa_tool_otlp *t);
/* With --otlp: starts the exporter with @o's resource (0, or -1 after
 * printing the error).
 */
int sa_tool_otlp_start(const char *cmd, struct sa_tool_otlp *t,
		       struct sa_otlp_opts *o);
/* Flushes within @deadline_ms, prints the counters, frees. */
void sa_tool_otlp_finish(struct sa_tool_otlp *t, uint64_t deadline_ms);

/* Messages to stderr, one prefix everywhere: "sensor-agent COMMAND: "
 * (a message that starts with "COMMAND: " is not prefixed twice).  @prio
 * is syslog's (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG):
 * notices show at the default verbosity, info with -v, debug with -vv,
 * and -q leaves only warnings and errors.
 */
void sa_msg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sa_vmsg(int prio, const char *fmt, va_list ap);
/* sa_msg(LOG_ERR, ...) */
void sa_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* sa_msg(LOG_NOTICE, ...): what the user should see by default. */
void sa_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when a message of @prio would be printed. */
bool sa_msg_enabled(int prio);

/* The command running ("decode", "watch"; NULL before one is chosen). */
extern const char *sa_cmd_name;
/* "FILE:LINE" of the config entry being applied, for error messages. */
extern const char *sa_msg_context;
/* Log lines start with the UTC time and the level (the service: watch).
 * Under systemd (JOURNAL_STREAM is standard error) lines start with a
 * <N> priority prefix instead, whatever this says.
 */
extern bool sa_log_timestamps;
/* --config FILE given before the command (main.c). */
extern const char *sa_config_path;

/* -v (+1) or -q (-1), wherever they are on the line. */
void sa_tool_set_verbosity(int delta);

/*
 * The shared option vocabulary (opts.c).  A command says which of the
 * common options it takes; sa_getopt() parses them into struct sa_common
 * and returns the command's own options as getopt_long does.
 */
enum sa_format { SA_FMT_TEXT = 1, SA_FMT_JSON, SA_FMT_JSONL };
#define SA_FMT_BIT(f) (1u << (f))

enum {
	SA_CO_PID = 1 << 0,	/* -p, --pid PID */
	SA_CO_BACKEND = 1 << 1,	/* --backend KIND (--emulate) */
	SA_CO_WINDOW = 1 << 2,	/* --window DURATION (--window-ms/-insns) */
	SA_CO_PERIOD = 1 << 3,	/* --period DURATION (--period-ms) */
	SA_CO_COUNT = 1 << 4,	/* --count N (--windows, --max-windows) */
	SA_CO_OUTPUT = 1 << 5,	/* -o, --output FILE */
	SA_CO_INPUT = 1 << 6,	/* -i, --input FILE */
	SA_CO_FORMAT = 1 << 7,	/* -f, --format text|json|jsonl */
	SA_CO_DB = 1 << 8,	/* --db FILE (--baseline) */
	SA_CO_AUX_SIZE = 1 << 9,	/* --aux-size SIZE */
};

#define SA_COMMON_MAX_OPTS 96
#define SA_COMMON_MAX_COUNT 1000000u
#define SA_GETOPT_USAGE (-2)

struct sa_common {
	const char *cmd;	/* for messages */
	unsigned int mask;	/* SA_CO_* taken */
	unsigned int formats;	/* SA_FMT_BIT()s taken (default: text) */
	char bare_window;	/* a bare --window N: 'm' ms, 'i' insns */
	bool window_insn_ok;	/* --window 4000insn allowed */
	/* what was given: SA_CO_* bits, and the values */
	unsigned int set;
	pid_t pid;
	enum sa_backend_kind backend;
	uint64_t window_ms, window_insns, period_ms, count, aux_size;
	const char *output, *input, *db;
	enum sa_format format;
	/* getopt state */
	bool built;
	bool in_config;	/* returning the config file's options */
	size_t nr_own;
	struct option longopts[SA_COMMON_MAX_OPTS];
	char shortopts[96];
};

/* Sets up @cm for command @cmd taking the common options @mask. */
void sa_common_init(struct sa_common *cm, const char *cmd,
		    unsigned int mask);

/* getopt_long over the command's @shortopts and @own options merged with
 * the common ones (@own's first).  Returns the command's option, 'h' for
 * --help (also as the value of an option: `--pid --help`), -1 at the end,
 * or SA_GETOPT_USAGE after printing a usage error that names the option
 * and the bad value.  Common options are stored in @cm, not returned.
 */
int sa_getopt(int argc, char **argv, const char *shortopts,
	      const struct option *own, struct sa_common *cm);

/* -f json where a command writes records: the JSON-lines text @jsonl
 * (@len bytes, one object a line) as one JSON array on @out.  0 or -EIO.
 */
int sa_write_json_array(FILE *out, const char *jsonl, size_t len);

/* A window of instructions needs the emulated backend: -1 after a message
 * when @backend (the one in use, or NULL for the one asked for) is a
 * hardware one.
 */
int sa_common_check_window(const struct sa_common *cm, const char *backend);

/* A duration: "10ms", "500us", "2s", "1min", "2h", "1d", "4000insn"; a
 * bare number is read in @bare units ('m' ms, 'i' instructions, 0:
 * refused).  Sets exactly one of @d->ns and @d->insns.  0, -EINVAL or
 * -ERANGE.
 */
struct sa_duration {
	uint64_t ns, insns;
};
int sa_parse_duration(const char *s, char bare, struct sa_duration *d);

/* A size: "4M", "512K", "1G", "4194304" (K/M/G binary). */
bool sa_parse_size(const char *s, uint64_t *bytes);

/* "text", "json", "jsonl", if @allowed (SA_FMT_BIT()s) has it. */
bool sa_parse_format(const char *s, unsigned int allowed,
		     enum sa_format *f);
const char *sa_format_name(enum sa_format f);

/* True when @name is a command of the table (set by main.c; config
 * sections of other names are refused).
 */
extern bool (*sa_tool_is_command)(const char *name);

/* A process id, 1 to INT32_MAX. */
bool sa_parse_pid(const char *s, pid_t *pid);

#endif /* SA_TOOL_H */
