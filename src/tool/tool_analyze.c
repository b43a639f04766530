// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent analyze: compare trace windows with a baseline and print
 * the ranked anomalies.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sensor/file.h"
#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/error.h"
#include "sensor/hist.h"
#include "sensor/report.h"
#include "sensor/session.h"
#include "tool.h"

#define SA_MAX_WINDOWS 4096
#define SA_MAX_BINARIES 64

static void analyze_usage(FILE *f)
{
	fprintf(f,
"Usage: %s analyze --db FILE [OPTIONS] WINDOW...\n"
"\n"
"Decodes the trace windows (perf.data files) and compares them, as one\n"
"group, with the baseline of the same build: bias shifts at branches, new\n"
"and vanished edges, new and shifted indirect targets, call-rate shifts\n"
"and decisions that lead into error paths, ranked most significant first.\n"
"See docs/anomalies.md for the model and the JSON-lines schema.\n"
"\n"
"Options:\n"
"      --db FILE            the baseline (sensor-agent baseline add)\n"
"  -f, --format FMT         text (default), jsonl (one record a line) or\n"
"                           json (the same records as one array)\n"
"  -o, --output FILE        write there instead of standard output\n"
"      --jsonl FILE         also write JSON lines to FILE\n"
"      --html FILE          also write the HTML report to FILE (see\n"
"                           sensor-agent report; not with --each)\n"
"      --source-dir DIR     --html: look for source files under DIR\n"
"      --context            the decision context of the top %d anomalies:\n"
"                           earlier decisions that predict them (decodes\n"
"                           the windows twice; see docs/report.md)\n"
"      --each               analyse every window on its own\n"
"      --all                also list candidates below the threshold\n"
"      --fdr Q              false-discovery level (default %g)\n"
"      --min-support N      executions a site needs in the windows (%d)\n"
"      --min-baseline N     executions a site needs in the baseline (%d)\n"
"      --min-delta D        smallest bias change reported (%g)\n"
"      --min-rate-ratio R   smallest call-rate factor reported (%g)\n"
"      --cross-build        windows of a rebuilt binary: compare with the\n"
"                           baseline's build of the same file name, sites\n"
"                           matched by function, source file suffix, line\n"
"                           and position (offset in the function without\n"
"                           lines); prints how many could not be matched\n"
"                           and fails when nothing matched\n"
"  -b, --binary PATH[@ADDR] the binary to decode with; repeatable\n"
"      --symfs DIR          look up binaries under DIR first\n"
"      --error-sink SYMBOL  calls into SYMBOL also start an error path (beside\n"
"                           abort, __assert_fail, __stack_chk_fail, __cxa_throw,\n"
"                           _Unwind_RaiseException, perror, strerror, *.cold);\n"
"                           repeatable\n"
"  -p, --pid PID            only this process of the windows\n"
SA_TOOL_OTLP_USAGE
"  -h, --help               this help\n"
"\n"
"Exit status: 0 when the analysis ran (whether or not anomalies were\n"
"found), 1 on failure (bad window, empty or foreign baseline, nothing\n"
"comparable across builds), 2 on a usage error.\n",
		sa_prog, SA_TOOL_CONTEXT_ANOMALIES, SA_DETECT_DEF_FDR,
		SA_DETECT_DEF_MIN_SUPPORT,
		SA_DETECT_DEF_MIN_BASELINE, SA_DETECT_DEF_MIN_DELTA,
		SA_DETECT_DEF_MIN_RATE_RATIO);
}

enum { OPT_JSONL = 256, OPT_EACH, OPT_ALL, OPT_FDR,
       OPT_MIN_SUPPORT, OPT_MIN_BASELINE, OPT_MIN_DELTA, OPT_MIN_RATE,
       OPT_CROSS_BUILD, OPT_HTML, OPT_SOURCE_DIR,
       OPT_CONTEXT };

struct analyze {
	struct sa_baseline *bl;
	struct sa_detect_opts dopts;
	bool jsonl;
	FILE *jf;
	FILE *out;	/* -o FILE, else stdout */
	unsigned flags;
	struct sa_tool_otlp otlp;
	int64_t pid;		/* --pid, or 0 */
	bool otlp_failed;
	const char *html;
	struct sa_report_opts ro;
	bool context;
	char *const *windows;
	const struct sa_decode_opts *decode_opts;
};

/* The resource is the binary the analysis names (its first anomaly's):
 * the exporter starts with the first analysis.
 */
static int analyze_otlp(struct analyze *an, const struct sa_anomaly_list *l,
			const char *source, uint64_t windows)
{
	struct sa_otlp_opts o = { .pid = an->pid };
	const struct sa_anomaly *a;
	struct timespec now;
	size_t i, n = sa_anomaly_list_len(l);

	if (!an->otlp.url || an->otlp_failed)
		return 0;
	if (!an->otlp.ot) {
		a = n ? sa_anomaly_list_get(l, 0) : NULL;
		if (a && a->binary) {
			o.exe_path = a->binary;
			o.exe_name = strrchr(a->binary, '/') ?
					     strrchr(a->binary, '/') + 1 :
					     a->binary;
		}
		if (sa_tool_otlp_start("analyze", &an->otlp, &o)) {
			an->otlp_failed = true;
			return -1;
		}
	}
	clock_gettime(CLOCK_REALTIME, &now);
	/* the summary first, as the live loop sends it */
	sa_otlp_log_analysis(an->otlp.ot, l, &now, source, windows);
	for (i = 0; i < n; i++) {
		a = sa_anomaly_list_get(l, i);
		if (!a->significant && !(an->flags & SA_ANOM_OUT_ALL))
			break;
		sa_otlp_log_anomaly(an->otlp.ot, a, &now, source);
	}
	return 0;
}

int sa_tool_print_match(FILE *f, const struct sa_anomaly_list *l)
{
	const struct sa_anomaly_match *m = sa_anomaly_list_match(l);

	if (!m)
		return 0;
	fprintf(f, "Matched across builds: %llu of %llu branches (%llu "
		"could not be matched; %llu of the other build had no "
		"counterpart), %llu of %llu functions (%llu unmatched; %llu of "
		"the other build)\n",
		(unsigned long long)m->branches,
		(unsigned long long)(m->branches + m->branches_unmatched),
		(unsigned long long)m->branches_unmatched,
		(unsigned long long)m->base_branches_unmatched,
		(unsigned long long)m->functions,
		(unsigned long long)(m->functions + m->functions_unmatched),
		(unsigned long long)m->functions_unmatched,
		(unsigned long long)m->base_functions_unmatched);
	return ferror(f) ? -EIO : 0;
}

static int analyze_group(struct analyze *an, struct sa_hist **hists,
			 size_t nr, const char *source)
{
	struct sa_anomaly_list *l = NULL;
	struct sa_errinfo ei;
	int err;

	struct sa_context *ctx = NULL;

	err = sa_anomaly_detect(an->bl, hists, nr, &an->dopts, &l, &ei);
	if (err) {
		sa_err("analyze: %s", ei.msg[0] ? ei.msg : sa_strerror(err));
		return SA_EXIT_FAIL;
	}
	if (an->context) {
		ctx = sa_tool_context(l, an->windows, nr,
				      an->decode_opts);
		if (!ctx) {
			sa_anomaly_list__free(l);
			return SA_EXIT_FAIL;
		}
		an->ro.context = ctx;
	}
	if (an->jsonl) {
		/* the records stay records: the counts go to stderr */
		err = sa_tool_print_match(stderr, l);
		if (!err)
			err = sa_anomaly_write_jsonl(l, an->out, source,
						     an->flags);
		if (!err && ctx)
			err = sa_context_write_jsonl(ctx, an->out, source);
	} else {
		if (source)
			fprintf(an->out, "== %s\n", source);
		err = sa_tool_print_match(an->out, l);
		if (!err)
			err = sa_anomaly_write_text(l, an->out, an->flags);
		if (!err && ctx) {
			fprintf(an->out, "\nDecision context (earlier decisions "
				"that predict the anomalous one):\n");
			err = sa_context_write_text(ctx, an->out);
		}
	}
	if (!err && an->jf)
		err = sa_anomaly_write_jsonl(l, an->jf, source, an->flags);
	if (!err && an->html &&
	    sa_tool_write_report(an->html, l, hists, nr, an->bl, &an->ro))
		err = -EIO;
	an->ro.context = NULL;
	sa_context__free(ctx);
	if ((err && an->html) ||
	    (!err && analyze_otlp(an, l, source, nr))) {
		sa_anomaly_list__free(l);
		return SA_EXIT_FAIL;
	}
	sa_anomaly_list__free(l);
	if (err) {
		sa_err("analyze: writing the output: %s", sa_strerror(err));
		return SA_EXIT_FAIL;
	}
	return SA_EXIT_OK;
}

int cmd_analyze(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "jsonl", required_argument, NULL, OPT_JSONL },
		{ "each", no_argument, NULL, OPT_EACH },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "fdr", required_argument, NULL, OPT_FDR },
		{ "min-support", required_argument, NULL, OPT_MIN_SUPPORT },
		{ "min-baseline", required_argument, NULL, OPT_MIN_BASELINE },
		{ "min-delta", required_argument, NULL, OPT_MIN_DELTA },
		{ "min-rate-ratio", required_argument, NULL, OPT_MIN_RATE },
		{ "cross-build", no_argument, NULL, OPT_CROSS_BUILD },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "context", no_argument, NULL, OPT_CONTEXT },
		{ "source-dir", required_argument, NULL, OPT_SOURCE_DIR },
		{ "binary", required_argument, NULL, 'b' },
		{ "symfs", required_argument, NULL, SA_OPT_SYMFS },
		{ "error-sink", required_argument, NULL, SA_OPT_ERROR_SINK },
		SA_TOOL_OTLP_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct sa_binary_opt binaries[SA_MAX_BINARIES];
	struct analyze an = { 0 };
	struct sa_decode_opts o;
	struct sa_hist **hists = NULL;
	struct sa_errinfo ei;
	const char *db = NULL, *jpath = NULL;
	struct sa_common cm;
	FILE *final = NULL;	/* -f json: where the array goes */
	char *mbuf = NULL;
	size_t mlen = 0;
	bool each = false;
	int c, i, nr, err, ret = SA_EXIT_FAIL;
	double *dv;

	memset(&o, 0, sizeof(o));
	o.binaries = binaries;
	sa_common_init(&cm, "analyze", SA_CO_DB | SA_CO_FORMAT | SA_CO_PID |
		       SA_CO_OUTPUT);
	cm.formats = SA_FMT_BIT(SA_FMT_TEXT) | SA_FMT_BIT(SA_FMT_JSONL) |
		     SA_FMT_BIT(SA_FMT_JSON);
	while ((c = sa_getopt(argc, argv, "b:", longopts, &cm)) != -1) {
		dv = NULL;
		switch (c) {
		case SA_GETOPT_USAGE:
			return SA_EXIT_USAGE;
		case OPT_JSONL:
			jpath = optarg;
			break;
		case OPT_EACH:
			each = true;
			break;
		case OPT_ALL:
			an.flags |= SA_ANOM_OUT_ALL;
			break;
		case OPT_CROSS_BUILD:
			an.dopts.flags |= SA_DETECT_CROSS_BUILD;
			break;
		case OPT_HTML:
			an.html = optarg;
			break;
		case OPT_CONTEXT:
			an.context = true;
			break;
		case OPT_SOURCE_DIR:
			an.ro.source_dir = optarg;
			break;
		case OPT_FDR:
			dv = &an.dopts.fdr;
			break;
		case OPT_MIN_SUPPORT:
			dv = &an.dopts.min_support;
			break;
		case OPT_MIN_BASELINE:
			dv = &an.dopts.min_baseline;
			break;
		case OPT_MIN_DELTA:
			dv = &an.dopts.min_delta;
			break;
		case OPT_MIN_RATE:
			dv = &an.dopts.min_rate_ratio;
			break;
		case 'h':
			analyze_usage(stdout);
			return SA_EXIT_OK;
		default:
			err = sa_tool_otlp_opt("analyze", c, optarg, &an.otlp);
			if (err < 0)
				return SA_EXIT_USAGE;
			if (err > 0)
				break;
			if (sa_tool_decode_opt("analyze", c, optarg, &o,
					       binaries, SA_MAX_BINARIES) > 0)
				break;
			return SA_EXIT_USAGE;
		}
		if (dv && (!sa_parse_double(optarg, dv) || *dv <= 0 ||
			   (c == OPT_FDR && *dv >= 1))) {
			sa_err("analyze: bad value '%s': a positive number "
			       "(--fdr: below 1)", optarg);
			return SA_EXIT_USAGE;
		}
	}
	db = cm.db;
	an.jsonl = cm.format != SA_FMT_TEXT;
	o.pid = cm.pid;
	if (!db) {
		sa_err("analyze: --db FILE (the baseline) is required");
		return SA_EXIT_USAGE;
	}
	nr = argc - optind;
	if (nr <= 0) {
		sa_err("analyze: no WINDOW given");
		return SA_EXIT_USAGE;
	}
	if (nr > SA_MAX_WINDOWS) {
		sa_err("analyze: more than %d windows (the limit)", SA_MAX_WINDOWS);
		return SA_EXIT_USAGE;
	}
	an.pid = o.pid;
	if (an.html && each) {
		sa_err("analyze: --html writes one report: not with --each");
		return SA_EXIT_USAGE;
	}
	an.ro.nr_windows = (size_t)nr;
	an.ro.window_names = (const char *const *)&argv[optind];
	an.decode_opts = &o;
	an.bl = sa_baseline__open(db, SA_BASELINE_RDONLY, &ei);
	if (!an.bl) {
		sa_err("analyze: %s", ei.msg);
		return SA_EXIT_FAIL;
	}
	an.out = stdout;
	if (cm.output) {
		an.out = sa_file_fopen_private(cm.output);
		if (!an.out) {
			sa_err("analyze: cannot write %s: %s", cm.output,
			       strerror(errno));
			an.out = stdout;
			goto out;
		}
	}
	if (cm.format == SA_FMT_JSON) {
		/* the records first, one array at the end */
		final = an.out;
		an.out = open_memstream(&mbuf, &mlen);
		if (!an.out) {
			an.out = final;
			final = NULL;
			goto out;
		}
	}
	if (jpath) {
		an.jf = sa_file_fopen_private(jpath);
		if (!an.jf) {
			sa_err("analyze: cannot write %s: %s", jpath,
			       strerror(errno));
			goto out;
		}
	}
	hists = calloc((size_t)nr, sizeof(*hists));
	if (!hists)
		goto out;
	/* each binary analysed once for all the windows */
	o.cache = sa_image_cache__new();
	for (i = 0; i < nr; i++) {
		hists[i] = sa_hist__new();
		if (!hists[i])
			goto out;
		err = sa_decode_file(argv[optind + i], &o, hists[i], &ei);
		if (err < 0) {
			sa_err("analyze: %s", ei.msg[0] ? ei.msg :
			       sa_strerror(err));
			goto out;
		}
	}
	ret = SA_EXIT_OK;
	if (each) {
		for (i = 0; i < nr && ret == SA_EXIT_OK; i++) {
			an.windows = &argv[optind + i];
			ret = analyze_group(&an, &hists[i], 1,
					    argv[optind + i]);
		}
	} else {
		an.windows = &argv[optind];
		ret = analyze_group(&an, hists, (size_t)nr,
				    nr == 1 ? argv[optind] : NULL);
	}
out:
	if (final) {
		if (fclose(an.out) && ret == SA_EXIT_OK)
			ret = SA_EXIT_FAIL;
		an.out = final;
		if (ret == SA_EXIT_OK &&
		    sa_write_json_array(an.out, mbuf, mlen)) {
			sa_err("analyze: writing the output: %s",
			       strerror(EIO));
			ret = SA_EXIT_FAIL;
		}
		free(mbuf);
	}
	for (i = 0; hists && i < nr; i++)
		sa_hist__free(hists[i]);
	free(hists);
	sa_tool_otlp_finish(&an.otlp, SA_TOOL_OTLP_FLUSH_MS);
	if (an.out && an.out != stdout && fclose(an.out) &&
	    ret == SA_EXIT_OK) {
		sa_err("analyze: writing %s: %s", cm.output, strerror(errno));
		ret = SA_EXIT_FAIL;
	}
	if (an.jf && fclose(an.jf) && ret == SA_EXIT_OK) {
		sa_err("analyze: writing %s: %s", jpath, strerror(errno));
		ret = SA_EXIT_FAIL;
	}
	sa_image_cache__free(o.cache);
	sa_baseline__free(an.bl);
	return ret;
}
