/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sensor-agent command-line tool.  One file per subcommand; each
 * returns the process exit status: 0 success, 1 failure, 2 usage error.
 * The tool uses only the public headers in include/sensor/.
 */
#ifndef SA_TOOL_H
#define SA_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* tool_fleet.c: sizes such as 65536, 64K, 4M, 1G; the live loop's
 * --fleet window callback (@ctx a struct sa_fleet) and its counters.
 */
struct sa_hist;
struct sa_fleet;
bool sa_tool_parse_size(const char *s, uint64_t *v);
void sa_tool_fleet_window(void *ctx, const struct sa_hist *h,
			  const char *path);
void sa_tool_fleet_report(const char *cmd, struct sa_fleet *fl);
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

/* Prints "sensor-agent: <fmt>\n" to stderr. */
void sa_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* SA_TOOL_H */
