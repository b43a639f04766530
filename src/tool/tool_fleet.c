// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent fleet init|push|analyze: the fleet store on ClickHouse.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>

#include "sensor/anomaly.h"
#include "sensor/error.h"
#include "sensor/fleet.h"
#include "sensor/hist.h"
#include "sensor/session.h"
#include "tool.h"

#define SA_MAX_BINARIES 64

static void fleet_usage(FILE *f)
{
	fprintf(f,
"Usage: %s fleet init --clickhouse URL [--cluster NAME] [--database DB]\n"
"       %s fleet push --clickhouse URL [--host NAME] [OPTIONS] WINDOW...\n"
"       %s fleet analyze --clickhouse URL --host NAME [--since T]\n"
"                                 [-f text|json|jsonl] [OPTIONS]\n"
"       %s fleet analyze --clickhouse URL --build A --against B [...]\n"
"\n"
"Many hosts, one view: the histories of trace windows in ClickHouse (its\n"
"HTTP interface, e.g. http://127.0.0.1:8123).  See docs/fleet.md.\n"
"\n"
"init     creates the database and the tables (schema version %d); with\n"
"         --cluster NAME (of the server's remote_servers) the tables are\n"
"         the shard's *_local ones and Distributed tables over NAME: run\n"
"         it on every shard\n"
"push     decodes the windows and stores their histories, one INSERT per\n"
"         --batch windows; a window stored already is skipped (its id is\n"
"         a hash of the host and the file), so resending never counts\n"
"         twice.  When ClickHouse cannot be reached, the windows go to\n"
"         --spool DIR (at most --spool-max bytes, default 64M; beyond,\n"
"         they are dropped and counted) and the next push resends them;\n"
"         `fleet push --spool DIR` without windows only resends\n"
"analyze  --host NAME: that host's windows (since T) against the other\n"
"         hosts' windows (since T), with the statistics and the ranking\n"
"         of `analyze` (windows are the samples); --build A --against B:\n"
"         what build A changed against build B, over every host\n"
"\n"
"Options:\n"
"      --clickhouse URL     ClickHouse's HTTP interface (required)\n"
"      --cluster NAME       init: Distributed tables over this cluster of\n"
"                           the server's remote_servers\n"
"      --database DB        database name (default %s)\n"
"      --host NAME          this host's name (push; default the host name)\n"
"      --batch N            windows per INSERT (default %d)\n"
"      --spool DIR          where unsent windows wait\n"
"      --spool-max SIZE     spool cap, bytes or 64K, 4M, 1G\n"
"      --timeout DURATION   per request (default 10s; 500ms, 2s, 1min)\n"
"      --since T            windows from T on: unix seconds, or a\n"
"                           duration back from now (30min, 2h, 1d)\n"
"      --build A            analyze: the build-id (or an 8+ hex digit\n"
"                           prefix) of the new build\n"
"      --against B          analyze: the build-id it is compared with\n"
"  -f, --format FMT         output of analyze: text (default), jsonl (one\n"
"                           record a line) or json (one array)\n"
"      --all                also list candidates below the threshold\n"
"      --fdr Q              false-discovery level (default %g)\n"
"  -b, --binary PATH[@ADDR] the binary to decode with; repeatable (push)\n"
"      --symfs DIR          look up binaries under DIR first (push)\n"
"      --error-sink SYMBOL  calls into SYMBOL also start an error path\n"
"                           (push; as for `decode`)\n"
"  -p, --pid PID            only this process of the windows (push)\n"
"  -h, --help               this help\n"
"\n"
"Exit status: 0 success (push: every window stored), 1 failure (push:\n"
"some windows spooled or dropped), 2 usage error.\n",
		sa_prog, sa_prog, sa_prog, sa_prog, SA_FLEET_SCHEMA_VERSION,
		SA_FLEET_DEF_DATABASE, SA_FLEET_DEF_BATCH, SA_DETECT_DEF_FDR);
}

enum { OPT_CLICKHOUSE = 256, OPT_CLUSTER, OPT_DATABASE, OPT_HOST,
       OPT_BATCH, OPT_SPOOL, OPT_SPOOL_MAX, OPT_TIMEOUT, OPT_SINCE,
       OPT_BUILD, OPT_AGAINST, OPT_ALL, OPT_FDR };

/* --timeout, --since: a duration of the vocabulary (500ms, 2s, 30min,
 * 2h, 1d), a bare number of seconds, or the old "30m" for minutes (a
 * hidden alias: the vocabulary says "min").  0 or -EINVAL.
 */
static int fleet_duration(const char *s, uint64_t *ms)
{
	struct sa_duration d;
	char buf[32];
	size_t n;
	uint64_t v;

	if (sa_parse_u64(s, &v)) {
		if (v > UINT64_MAX / 1000)
			return -EINVAL;
		*ms = v * 1000;
		return 0;
	}
	n = strlen(s);
	if (n > 1 && n < sizeof(buf) - 2 && s[n - 1] == 'm' &&
	    s[n - 2] >= '0' && s[n - 2] <= '9') {
		snprintf(buf, sizeof(buf), "%sin", s);
		s = buf;
	}
	if (sa_parse_duration(s, 0, &d) || d.insns)
		return -EINVAL;
	*ms = d.ns / 1000000;
	return 0;
}

struct fleet_args {
	struct sa_fleet_opts fo;
	const char *cluster;
	const char *build, *against, *host;
	time_t since;
	enum sa_format format;
	unsigned flags;
	struct sa_detect_opts detect;
	struct sa_decode_opts dec;
	struct sa_binary_opt binaries[SA_MAX_BINARIES];
};

/* The common options each subcommand takes. */
static unsigned int fleet_mask(const char *cmd)
{
	if (!strcmp(cmd, "fleet push"))
		return SA_CO_PID;
	if (!strcmp(cmd, "fleet analyze"))
		return SA_CO_FORMAT;
	return 0;
}

static int parse(const char *cmd, int argc, char **argv,
		 struct fleet_args *a)
{
	static const struct option longopts[] = {
		{ "clickhouse", required_argument, NULL, OPT_CLICKHOUSE },
		{ "cluster", required_argument, NULL, OPT_CLUSTER },
		{ "database", required_argument, NULL, OPT_DATABASE },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "spool", required_argument, NULL, OPT_SPOOL },
		{ "spool-max", required_argument, NULL, OPT_SPOOL_MAX },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "build", required_argument, NULL, OPT_BUILD },
		{ "against", required_argument, NULL, OPT_AGAINST },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "fdr", required_argument, NULL, OPT_FDR },
		{ "binary", required_argument, NULL, 'b' },
		{ "symfs", required_argument, NULL, SA_OPT_SYMFS },
		{ "error-sink", required_argument, NULL, SA_OPT_ERROR_SINK },
		{ NULL, 0, NULL, 0 },
	};
	struct sa_common cm;
	uint64_t v;
	int c;

	a->dec.binaries = a->binaries;
	sa_cmd_name = cmd;
	sa_common_init(&cm, cmd, fleet_mask(cmd));
	cm.formats = SA_FMT_BIT(SA_FMT_TEXT) | SA_FMT_BIT(SA_FMT_JSONL) |
		     SA_FMT_BIT(SA_FMT_JSON);
	while ((c = sa_getopt(argc, argv, "b:", longopts, &cm)) != -1) {
		switch (c) {
		case SA_GETOPT_USAGE:
			return -1;
		case OPT_CLICKHOUSE:
			a->fo.url = optarg;
			break;
		case OPT_CLUSTER:
			a->cluster = optarg;
			break;
		case OPT_DATABASE:
			a->fo.database = optarg;
			break;
		case OPT_HOST:
			a->host = optarg;
			break;
		case OPT_BATCH:
			if (!sa_parse_u64(optarg, &v) || !v || v > 100000) {
				sa_err("bad --batch '%s': 1 to 100000",
				       optarg);
				return -1;
			}
			a->fo.batch = (unsigned)v;
			break;
		case OPT_SPOOL:
			a->fo.spool_dir = optarg;
			break;
		case OPT_SPOOL_MAX:
			if (!sa_parse_size(optarg, &a->fo.spool_max) ||
			    !a->fo.spool_max) {
				sa_err("bad --spool-max '%s': a size such as "
				       "65536, 64K, 4M or 1G", optarg);
				return -1;
			}
			break;
		case OPT_TIMEOUT:
			if (fleet_duration(optarg, &v) || !v ||
			    v > 3600000) {
				sa_err("bad --timeout '%s': a duration from "
				       "1ms to 1h, such as 500ms or 10s",
				       optarg);
				return -1;
			}
			a->fo.timeout_ms = (long)v;
			break;
		case OPT_SINCE:
			if (sa_parse_u64(optarg, &v) && v > 1000000000) {
				a->since = (time_t)v;
			} else if (!fleet_duration(optarg, &v) &&
				   v / 1000 < (uint64_t)time(NULL)) {
				a->since = time(NULL) - (time_t)(v / 1000);
			} else {
				sa_err("bad --since '%s': unix seconds, or a "
				       "duration back from now (30min, 2h, "
				       "1d)", optarg);
				return -1;
			}
			break;
		case OPT_BUILD:
			a->build = optarg;
			break;
		case OPT_AGAINST:
			a->against = optarg;
			break;
		case OPT_ALL:
			a->flags |= SA_ANOM_OUT_ALL;
			break;
		case OPT_FDR:
			if (!sa_parse_double(optarg, &a->detect.fdr) ||
			    !(a->detect.fdr > 0) || a->detect.fdr >= 1) {
				sa_err("bad --fdr '%s': 0 < Q < 1", optarg);
				return -1;
			}
			break;
		case 'h':
			fleet_usage(stdout);
			return 1;
		default:
			if (sa_tool_decode_opt(cmd, c, optarg, &a->dec,
					       a->binaries,
					       SA_MAX_BINARIES) > 0)
				break;
			return -1;
		}
	}
	a->dec.pid = cm.pid;
	a->format = cm.format;
	if (!a->fo.url) {
		sa_err("--clickhouse URL is required");
		return -1;
	}
	return 0;
}

static struct sa_fleet *open_fleet(const char *cmd, struct fleet_args *a)
{
	struct sa_errinfo ei = { 0 };
	struct sa_fleet *fl;

	fl = sa_fleet__new(&a->fo, &ei);
	if (!fl)
		sa_err("%s: %s", cmd, ei.msg[0] ? ei.msg : strerror(errno));
	return fl;
}

static int fleet_init(int argc, char **argv)
{
	struct fleet_args a = { 0 };
	struct sa_errinfo ei = { 0 };
	struct sa_fleet *fl;
	int err;

	err = parse("fleet init", argc, argv, &a);
	if (err)
		return err > 0 ? SA_EXIT_OK : SA_EXIT_USAGE;
	fl = open_fleet("fleet init", &a);
	if (!fl)
		return SA_EXIT_FAIL;
	err = sa_fleet_init(fl, a.cluster, &ei);
	sa_fleet__free(fl);
	if (err) {
		sa_err("fleet init: %s", ei.msg[0] ? ei.msg : sa_strerror(err));
		return SA_EXIT_FAIL;
	}
	sa_note("fleet schema version %d ready in %s%s%s",
		SA_FLEET_SCHEMA_VERSION, a.fo.url,
		a.cluster ? ", Distributed over cluster " : "",
		a.cluster ? a.cluster : "");
	return SA_EXIT_OK;
}

void sa_tool_fleet_report(const char *cmd, const struct sa_fleet_stats *st)
{
	sa_note("%s: %" PRIu64 " windows stored (%" PRIu64 " from the "
		"spool), %" PRIu64 " already stored, %" PRIu64 " spooled, %"
		PRIu64 " dropped; %" PRIu64 " rows, %" PRIu64 " bytes (%"
		PRIu64 " gzip'ed); %" PRIu64 " failed requests; spool %"
		PRIu64 " bytes", cmd, st->windows_sent, st->windows_resent,
		st->windows_present, st->windows_spooled, st->windows_dropped,
		st->rows_sent, st->bytes_sent, st->bytes_wire,
		st->requests_failed, st->spool_bytes);
	if (st->windows_queue_dropped)
		sa_msg(LOG_WARNING, "%s: %" PRIu64 " of the dropped windows "
		       "found the sender's queue full (--fleet-queue, at most "
		       "%" PRIu64 " waiting)", cmd, st->windows_queue_dropped,
		       st->queue_high_water);
	if (st->spool_refused)
		sa_msg(LOG_WARNING, "%s: %" PRIu64 " spool files refused by "
		       "the server (damaged?), kept as *.tsv.bad", cmd,
		       st->spool_refused);
}

static int fleet_push(int argc, char **argv)
{
	struct fleet_args a = { 0 };
	struct sa_errinfo ei = { 0 };
	struct sa_fleet_stats st;
	struct sa_fleet *fl;
	int err, i, ret = SA_EXIT_OK;

	err = parse("fleet push", argc, argv, &a);
	if (err)
		return err > 0 ? SA_EXIT_OK : SA_EXIT_USAGE;
	if (optind >= argc && !a.fo.spool_dir) {
		sa_err("fleet push: no WINDOW given (and no --spool to "
		       "resend)");
		return SA_EXIT_USAGE;
	}
	a.fo.host = a.host;
	fl = open_fleet("fleet push", &a);
	if (!fl)
		return SA_EXIT_FAIL;
	for (i = optind; i < argc; i++) {
		struct sa_hist *h = sa_hist__new();
		struct stat sb;
		uint64_t id;

		if (!h) {
			ret = SA_EXIT_FAIL;
			break;
		}
		err = sa_decode_file(argv[i], &a.dec, h, &ei);
		if (err >= 0)
			err = sa_fleet_window_id(sa_fleet_host(fl), argv[i],
						 &id, &ei);
		if (err >= 0)
			err = stat(argv[i], &sb) ? -errno : 0;
		if (err >= 0)
			err = sa_fleet_add(fl, h, id, sb.st_mtime, &ei);
		sa_hist__free(h);
		if (err < 0) {
			sa_err("fleet push: %s", ei.msg[0] ? ei.msg :
			       sa_strerror(err));
			ret = SA_EXIT_FAIL;
			if (err == -SA_ERR_FORMAT &&
			    strstr(ei.msg, "ClickHouse"))
				break;
		}
	}
	err = sa_fleet_flush(fl, &ei);
	if (err) {
		sa_err("fleet push: %s%s", ei.msg[0] ? ei.msg :
		       sa_strerror(err), err > 0 ? " (windows spooled)" : "");
		ret = SA_EXIT_FAIL;
	}
	sa_fleet_stats(fl, &st);
	sa_tool_fleet_report("fleet push", &st);
	if (st.windows_spooled || st.windows_dropped)
		ret = SA_EXIT_FAIL;
	sa_fleet__free(fl);
	return ret;
}

static int fleet_analyze(int argc, char **argv)
{
	struct fleet_args a = { 0 };
	struct sa_errinfo ei = { 0 };
	struct sa_fleet_analysis q = { 0 };
	struct sa_fleet_result r;
	struct sa_anomaly_list *l = NULL;
	struct sa_fleet *fl;
	char source[600];
	int err;

	err = parse("fleet analyze", argc, argv, &a);
	if (err)
		return err > 0 ? SA_EXIT_OK : SA_EXIT_USAGE;
	if (!a.host == !(a.build || a.against) ||
	    (!a.host && !(a.build && a.against))) {
		sa_err("fleet analyze: either --host NAME, or --build A "
		       "--against B");
		return SA_EXIT_USAGE;
	}
	if (optind < argc) {
		sa_err("fleet analyze: unexpected argument '%s'",
		       argv[optind]);
		return SA_EXIT_USAGE;
	}
	fl = open_fleet("fleet analyze", &a);
	if (!fl)
		return SA_EXIT_FAIL;
	q.host = a.host;
	q.build = a.build;
	q.against = a.against;
	q.since = a.since;
	q.detect = a.detect;
	err = sa_fleet_analyze(fl, &q, &l, &r, &ei);
	sa_fleet__free(fl);
	if (err) {
		sa_err("fleet analyze: %s", ei.msg[0] ? ei.msg :
		       sa_strerror(err));
		return SA_EXIT_FAIL;
	}
	if (a.host)
		snprintf(source, sizeof(source), "fleet: host %s, %" PRIu64
			 " windows, against %" PRIu64 " windows of %" PRIu64
			 " other hosts", a.host, r.cur_windows,
			 r.base_windows, r.base_hosts);
	else
		snprintf(source, sizeof(source), "fleet: build %s against "
			 "build %s, %" PRIu64 " windows of %" PRIu64 " hosts",
			 a.build, a.against, r.base_windows, r.base_hosts);
	if (a.format == SA_FMT_JSON) {
		/* the same records as one array */
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);

		err = m ? sa_tool_print_match(stderr, l) : -ENOMEM;
		err = err ?: sa_anomaly_write_jsonl(l, m, source, a.flags);
		if (m && fclose(m) && !err)
			err = -EIO;
		err = err ?: sa_write_json_array(stdout, buf, len);
		free(buf);
	} else if (a.format == SA_FMT_JSONL) {
		err = sa_tool_print_match(stderr, l);
		err = err ?: sa_anomaly_write_jsonl(l, stdout, source,
						    a.flags);
	} else {
		printf("== %s\n", source);
		err = sa_tool_print_match(stdout, l);
		err = err ?: sa_anomaly_write_text(l, stdout, a.flags);
	}
	sa_anomaly_list__free(l);
	if (err || fflush(stdout)) {
		sa_err("fleet analyze: writing the output: %s",
		       sa_strerror(err ? err : -EIO));
		return SA_EXIT_FAIL;
	}
	return SA_EXIT_OK;
}

int cmd_fleet(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fleet_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? SA_EXIT_USAGE : SA_EXIT_OK;
	}
	if (!strcmp(argv[1], "init"))
		return fleet_init(argc - 1, argv + 1);
	if (!strcmp(argv[1], "push"))
		return fleet_push(argc - 1, argv + 1);
	if (!strcmp(argv[1], "analyze"))
		return fleet_analyze(argc - 1, argv + 1);
	sa_err("fleet: unknown command '%s': init, push or analyze",
	       argv[1]);
	return SA_EXIT_USAGE;
}

/* The live loop's --fleet: every decoded window goes to the fleet. */
void sa_tool_fleet_window(void *ctx, const struct sa_hist *h,
			  const char *path)
{
	struct sa_fleet_sender *snd = ctx;
	struct sa_errinfo ei = { 0 };
	uint64_t id;
	int err;

	/* the host is the client's: read-only while the sender runs */
	err = sa_fleet_window_id(sa_fleet_sender_host(snd), path, &id, &ei);
	if (!err)
		err = sa_fleet_sender_add(snd, h, id, time(NULL), &ei);
	if (err < 0)
		sa_err("fleet: %s", ei.msg[0] ? ei.msg : sa_strerror(err));
}
