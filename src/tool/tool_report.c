// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent report: the anomalies of some windows as one HTML file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/error.h"
#include "sensor/file.h"
#include "sensor/hist.h"
#include "sensor/report.h"
#include "sensor/session.h"
#include "tool.h"

#define SA_MAX_WINDOWS 4096
#define SA_MAX_BINARIES 64

static void report_usage(FILE *f)
{
	fprintf(f,
"Usage: %s report --db FILE -o report.html [OPTIONS] WINDOW...\n"
"\n"
"Decodes the trace windows, compares them as one group with the baseline\n"
"(as analyze does) and writes one self-contained HTML file: the ranked\n"
"anomalies with a bar of baseline vs now, the source lines around each\n"
"decision (or its disassembly), per function a heat view of every\n"
"conditional branch's taken ratio, and the decode losses.  See\n"
"docs/report.md.\n"
"\n"
"Options:\n"
"      --db FILE            the baseline (sensor-agent baseline add)\n"
"  -o, --output FILE        the HTML file to write (required)\n"
"      --source-dir DIR     look for source files under DIR when the\n"
"                           path in DWARF is not readable\n"
"      --title TEXT         the report's title\n"
"      --max N              significant anomalies shown (default %d)\n"
"      --no-context         skip the decision context (a second decode of\n"
"                           every window)\n"
"      --cross-build        compare a rebuilt binary's windows with the\n"
"                           baseline's build of the same file name\n"
"  -b, --binary PATH[@ADDR] the binary to decode with; repeatable\n"
"      --symfs DIR          look up binaries under DIR first\n"
"      --error-sink SYMBOL  calls into SYMBOL also start an error path\n"
"  -p, --pid PID            only this process of the windows\n"
"  -h, --help               this help\n"
"\n"
"Exit status: 0 when the report was written (whether or not anomalies\n"
"were found), 1 on failure, 2 on a usage error.\n",
		sa_prog, SA_REPORT_DEF_MAX_ANOMALIES);
}

int sa_tool_write_report(const char *path, const struct sa_anomaly_list *l,
			 struct sa_hist *const *hists, size_t nr,
			 struct sa_baseline *bl,
			 const struct sa_report_opts *ro)
{
	struct sa_errinfo ei;
	FILE *f;
	int err;

	f = sa_file_fopen_private(path);
	if (!f) {
		sa_err("report: cannot write %s: %s", path, strerror(errno));
		return SA_EXIT_FAIL;
	}
	err = sa_report_write_html(f, l, hists, nr, bl, ro, &ei);
	if (fclose(f) && !err)
		err = -EIO;
	if (err) {
		sa_err("report: writing %s: %s", path,
		       ei.msg[0] ? ei.msg : sa_strerror(err));
		return SA_EXIT_FAIL;
	}
	return SA_EXIT_OK;
}

struct sa_context *sa_tool_context(const struct sa_anomaly_list *l,
				   char *const *windows, size_t nr,
				   const struct sa_decode_opts *dopts)
{
	struct sa_decode_opts o = *dopts;
	struct sa_context *c;
	struct sa_errinfo ei;
	size_t i;
	int err;

	c = sa_context__new(l, SA_TOOL_CONTEXT_ANOMALIES);
	if (!c) {
		sa_err("context: out of memory");
		return NULL;
	}
	/* a second decode of each window, for the ordered outcomes */
	o.flow_fn = sa_context_flow;
	o.flow_ctx = c;
	for (i = 0; i < nr && sa_context_nr_anomalies(c); i++) {
		struct sa_hist *h = sa_hist__new();

		if (!h) {
			err = -ENOMEM;
			goto fail;
		}
		err = sa_decode_file(windows[i], &o, h, &ei);
		sa_hist__free(h);
		sa_context_end_window(c);
		if (err < 0) {
			sa_err("context: %s", ei.msg[0] ? ei.msg :
			       sa_strerror(err));
			goto fail_quiet;
		}
	}
	err = sa_context_finish(c);
	if (!err)
		return c;
fail:
	sa_err("context: %s", sa_strerror(err));
fail_quiet:
	sa_context__free(c);
	return NULL;
}

enum { OPT_SOURCE_DIR = 256, OPT_TITLE, OPT_MAX, OPT_CROSS,
       OPT_NO_CONTEXT };

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "source-dir", required_argument, NULL, OPT_SOURCE_DIR },
		{ "title", required_argument, NULL, OPT_TITLE },
		{ "max", required_argument, NULL, OPT_MAX },
		{ "cross-build", no_argument, NULL, OPT_CROSS },
		{ "no-context", no_argument, NULL, OPT_NO_CONTEXT },
		{ "binary", required_argument, NULL, 'b' },
		{ "symfs", required_argument, NULL, SA_OPT_SYMFS },
		{ "error-sink", required_argument, NULL, SA_OPT_ERROR_SINK },
		{ NULL, 0, NULL, 0 },
	};
	struct sa_binary_opt binaries[SA_MAX_BINARIES];
	struct sa_report_opts ro = { 0 };
	struct sa_detect_opts dopts = { 0 };
	struct sa_anomaly_list *l = NULL;
	struct sa_baseline *bl = NULL;
	struct sa_hist **hists = NULL;
	struct sa_decode_opts o;
	struct sa_errinfo ei;
	int c, i, nr, err, ret = SA_EXIT_FAIL;
	struct sa_common cm;
	struct sa_context *ctx = NULL;
	bool no_context = false;
	uint64_t v;

	memset(&o, 0, sizeof(o));
	o.binaries = binaries;
	sa_common_init(&cm, "report", SA_CO_DB | SA_CO_OUTPUT | SA_CO_PID);
	while ((c = sa_getopt(argc, argv, "b:", longopts, &cm)) != -1) {
		switch (c) {
		case SA_GETOPT_USAGE:
			return SA_EXIT_USAGE;
		case OPT_SOURCE_DIR:
			ro.source_dir = optarg;
			break;
		case OPT_TITLE:
			ro.title = optarg;
			break;
		case OPT_MAX:
			if (!sa_parse_u64(optarg, &v) || !v || v > 10000) {
				sa_err("bad --max '%s': 1 to 10000", optarg);
				return SA_EXIT_USAGE;
			}
			ro.max_anomalies = (unsigned)v;
			break;
		case OPT_CROSS:
			dopts.flags |= SA_DETECT_CROSS_BUILD;
			break;
		case OPT_NO_CONTEXT:
			no_context = true;
			break;
		case 'h':
			report_usage(stdout);
			return SA_EXIT_OK;
		default:
			if (sa_tool_decode_opt("report", c, optarg, &o,
					       binaries, SA_MAX_BINARIES) > 0)
				break;
			return SA_EXIT_USAGE;
		}
	}
	o.pid = cm.pid;
	if (!cm.db || !cm.output) {
		sa_err("--db FILE and -o FILE are required");
		return SA_EXIT_USAGE;
	}
	nr = argc - optind;
	if (nr <= 0 || nr > SA_MAX_WINDOWS) {
		sa_err("give 1 to %d WINDOW files", SA_MAX_WINDOWS);
		return SA_EXIT_USAGE;
	}
	bl = sa_baseline__open(cm.db, SA_BASELINE_RDONLY, &ei);
	if (!bl) {
		sa_err("%s", ei.msg);
		return SA_EXIT_FAIL;
	}
	hists = calloc((size_t)nr, sizeof(*hists));
	if (!hists)
		goto out;
	for (i = 0; i < nr; i++) {
		hists[i] = sa_hist__new();
		if (!hists[i])
			goto out;
		err = sa_decode_file(argv[optind + i], &o, hists[i], &ei);
		if (err < 0) {
			sa_err("%s", ei.msg[0] ? ei.msg : sa_strerror(err));
			goto out;
		}
	}
	err = sa_anomaly_detect(bl, hists, (size_t)nr, &dopts, &l, &ei);
	if (err) {
		sa_err("%s", ei.msg[0] ? ei.msg : sa_strerror(err));
		goto out;
	}
	if (!no_context) {
		ctx = sa_tool_context(l, &argv[optind], (size_t)nr, &o);
		if (!ctx)
			goto out;
		ro.context = ctx;
	}
	ro.nr_windows = (size_t)nr;
	ro.window_names = (const char *const *)&argv[optind];
	ret = sa_tool_write_report(cm.output, l, hists, (size_t)nr, bl, &ro);
	if (ret == SA_EXIT_OK)
		printf("%zu anomalies; report written to %s\n",
		       sa_anomaly_list_nr_significant(l), cm.output);
out:
	sa_context__free(ctx);
	sa_anomaly_list__free(l);
	for (i = 0; hists && i < nr; i++)
		sa_hist__free(hists[i]);
	free(hists);
	sa_baseline__free(bl);
	return ret;
}
