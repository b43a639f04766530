// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent baseline: add windows to a baseline database, list its
 * builds, diff two builds.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/error.h"
#include "sensor/hist.h"
#include "sensor/session.h"
#include "tool.h"

#define SA_MAX_WINDOWS 4096
#define SA_MAX_BINARIES 64

static void baseline_usage(FILE *f)
{
	fprintf(f,
"Usage: %s baseline add --db FILE [OPTIONS] WINDOW...\n"
"       %s baseline list --db FILE\n"
"       %s baseline diff --db FILE [-f text|jsonl|json] [--all]\n"
"                    BUILD_A BUILD_B\n"
"\n"
"A baseline keeps, per build of each binary, how often every function is\n"
"called, which way every branch goes and where every indirect branch\n"
"lands, summed over many trace windows of normal behaviour (SQLite, one\n"
"file).  WINDOW is a perf.data file (sensor-agent record/capture, perf\n"
"record -e intel_pt//u); each one is decoded and added as one window.\n"
"\n"
"add options:\n"
"      --half-life N        age old windows out: every sum halves after N\n"
"                           further windows of the same build (default\n"
"                           %.0f, kept in the file; 0: never)\n"
"  -b, --binary PATH[@ADDR] the binary to decode with; repeatable\n"
"      --symfs DIR          look up binaries under DIR first\n"
"      --error-sink SYMBOL  calls into SYMBOL also start an error path (beside\n"
"                           abort, __assert_fail, __stack_chk_fail, __cxa_throw,\n"
"                           _Unwind_RaiseException, perror, strerror, *.cold);\n"
"                           repeatable\n"
"  -p, --pid PID            only this process of the windows\n"
"diff: BUILD is a build-id (or its first 8+ hex digits), a key from\n"
"`baseline list`, or a binary path (its latest build).  BUILD_B is\n"
"compared with BUILD_A; functions are matched by name, branches by\n"
"function, source file (path suffix), line and position on the line, or\n"
"by offset in the function without a line table.  The output says how\n"
"many could not be matched; two builds with nothing in common are an\n"
"error (exit 1, \"nothing comparable\"), never \"no anomaly\".\n"
"  -f, --format FMT         text (default), jsonl (one record a line) or\n"
"                           json (the same records as one array)\n"
"      --all                also list changes below the threshold\n"
"      --fdr Q              false-discovery level (default %g)\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n",
		sa_prog, sa_prog, sa_prog, SA_BASELINE_DEF_HALF_LIFE,
		SA_DETECT_DEF_FDR);
}

enum { OPT_HALF_LIFE = 256, OPT_ALL, OPT_FDR };

static int baseline_list(struct sa_baseline *bl)
{
	struct sa_baseline_build b;
	struct sa_errinfo ei;
	int n, i, err;

	/* Listed numbers are read from the same rows analyze reads. */
	err = sa_baseline_check(bl, &ei);
	if (err) {
		sa_err("baseline list: %s", ei.msg[0] ? ei.msg :
		       sa_strerror(err));
		return SA_EXIT_FAIL;
	}
	n = sa_baseline_nr_builds(bl);
	if (n < 0) {
		sa_err("baseline %s: %s", sa_baseline_path(bl),
		       sa_strerror(n));
		return SA_EXIT_FAIL;
	}
	printf("baseline %s: %d build%s, decay half-life %g windows\n",
	       sa_baseline_path(bl), n, n == 1 ? "" : "s",
	       sa_baseline_half_life(bl));
	for (i = 0; i < n; i++) {
		char t[32];
		time_t ts;

		if (sa_baseline_build_at(bl, (size_t)i, &b))
			return SA_EXIT_FAIL;
		ts = (time_t)b.last_seen;
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", gmtime(&ts));
		printf("%s\n  build-id %s\n  %llu windows added (%.1f after "
		       "decay), %llu functions, %llu branches, last %s\n",
		       b.binary, b.build_id[0] ? b.build_id : "(none)",
		       (unsigned long long)b.added, b.windows,
		       (unsigned long long)b.functions,
		       (unsigned long long)b.branches, t);
	}
	return SA_EXIT_OK;
}

/* Decodes every window first, so that a bad window leaves no new (empty)
 * baseline file behind.
 */
static int baseline_add(const char *db, double half_life,
			const struct sa_decode_opts *o, char **files, int nr)
{
	struct sa_baseline *bl = NULL;
	struct sa_decode_opts co = *o;
	struct sa_hist **hists;
	struct sa_errinfo ei;
	int i, err, ret = SA_EXIT_FAIL;

	hists = calloc((size_t)nr, sizeof(*hists));
	if (!hists)
		return SA_EXIT_FAIL;
	/* each binary analysed once for all the windows */
	co.cache = sa_image_cache__new();
	for (i = 0; i < nr; i++) {
		hists[i] = sa_hist__new();
		if (!hists[i])
			goto out;
		err = sa_decode_file(files[i], &co, hists[i], &ei);
		if (err < 0) {
			sa_err("baseline add: %s", ei.msg[0] ? ei.msg :
			       sa_strerror(err));
			goto out;
		}
	}
	bl = sa_baseline__open(db, SA_BASELINE_CREATE, &ei);
	if (!bl) {
		sa_err("baseline add: %s", ei.msg);
		goto out;
	}
	if (half_life >= 0 && sa_baseline_set_half_life(bl, half_life)) {
		sa_err("baseline add: cannot store the half-life in %s", db);
		goto out;
	}
	err = sa_baseline_add(bl, hists, (size_t)nr, &ei);
	if (err) {
		sa_err("baseline add: %s", ei.msg[0] ? ei.msg :
		       sa_strerror(err));
		goto out;
	}
	sa_note("added %d window%s to %s", nr,
		nr == 1 ? "" : "s", db);
	ret = SA_EXIT_OK;
out:
	sa_image_cache__free(co.cache);
	sa_baseline__free(bl);
	for (i = 0; i < nr; i++)
		sa_hist__free(hists[i]);
	free(hists);
	return ret;
}

/* -f json: the JSON-lines records as one array */
static int diff_json(const struct sa_anomaly_list *l, unsigned int flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int err;

	if (!m)
		return -ENOMEM;
	err = sa_anomaly_write_jsonl(l, m, NULL, flags);
	if (fclose(m) && !err)
		err = -EIO;
	if (!err)
		err = sa_write_json_array(stdout, buf, len);
	free(buf);
	return err;
}

int cmd_baseline(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "half-life", required_argument, NULL, OPT_HALF_LIFE },
		{ "binary", required_argument, NULL, 'b' },
		{ "symfs", required_argument, NULL, SA_OPT_SYMFS },
		{ "error-sink", required_argument, NULL, SA_OPT_ERROR_SINK },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "fdr", required_argument, NULL, OPT_FDR },
		{ NULL, 0, NULL, 0 },
	};
	struct sa_binary_opt binaries[SA_MAX_BINARIES];
	struct sa_detect_opts dopts = { 0 };
	struct sa_decode_opts o;
	struct sa_baseline *bl;
	struct sa_errinfo ei;
	static char name[32];
	const char *db = NULL, *sub;
	struct sa_common cm;
	double half_life = -1;
	unsigned flags = 0;
	int c, ret;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		baseline_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? SA_EXIT_USAGE : SA_EXIT_OK;
	}
	sub = argv[1];
	if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "diff")) {
		sa_err("baseline: unknown subcommand '%s' (add, list, diff)",
		       sub);
		return SA_EXIT_USAGE;
	}
	snprintf(name, sizeof(name), "baseline %s", sub);
	sa_cmd_name = name;
	memset(&o, 0, sizeof(o));
	o.binaries = binaries;
	argc--;
	argv++;
	sa_common_init(&cm, name, SA_CO_DB | SA_CO_PID | SA_CO_FORMAT);
	if (!strcmp(sub, "diff"))
		cm.formats |= SA_FMT_BIT(SA_FMT_JSONL) |
			      SA_FMT_BIT(SA_FMT_JSON);
	while ((c = sa_getopt(argc, argv, "b:", longopts, &cm)) != -1) {
		switch (c) {
		case SA_GETOPT_USAGE:
			return SA_EXIT_USAGE;
		case OPT_HALF_LIFE:
			if (!sa_parse_double(optarg, &half_life) ||
			    half_life < 0) {
				sa_err("baseline: bad --half-life '%s': a "
				       "number of windows >= 0", optarg);
				return SA_EXIT_USAGE;
			}
			break;
		case OPT_ALL:
			flags |= SA_ANOM_OUT_ALL;
			break;
		case OPT_FDR:
			if (!sa_parse_double(optarg, &dopts.fdr) ||
			    dopts.fdr <= 0 || dopts.fdr >= 1) {
				sa_err("baseline: bad --fdr '%s': 0 < Q < 1",
				       optarg);
				return SA_EXIT_USAGE;
			}
			break;
		case 'h':
			baseline_usage(stdout);
			return SA_EXIT_OK;
		default:
			if (sa_tool_decode_opt("baseline", c, optarg, &o,
					       binaries, SA_MAX_BINARIES) > 0)
				break;
			return SA_EXIT_USAGE;
		}
	}
	db = cm.db;
	o.pid = cm.pid;
	if (!db) {
		sa_err("baseline %s: --db FILE is required", sub);
		return SA_EXIT_USAGE;
	}
	if (!strcmp(sub, "add") && optind >= argc) {
		sa_err("baseline add: no WINDOW given");
		return SA_EXIT_USAGE;
	}
	if (!strcmp(sub, "diff") && argc - optind != 2) {
		sa_err("baseline diff: give two builds, BUILD_A BUILD_B");
		return SA_EXIT_USAGE;
	}
	if (!strcmp(sub, "list") && optind < argc) {
		sa_err("baseline list: unexpected argument '%s'", argv[optind]);
		return SA_EXIT_USAGE;
	}

	if (!strcmp(sub, "add"))
		return baseline_add(db, half_life, &o, argv + optind,
				    argc - optind);
	bl = sa_baseline__open(db, SA_BASELINE_RDONLY, &ei);
	if (!bl) {
		sa_err("%s", ei.msg);
		return SA_EXIT_FAIL;
	}
	if (!strcmp(sub, "list")) {
		ret = baseline_list(bl);
	} else {
		struct sa_anomaly_list *l = NULL;
		int err = sa_anomaly_diff_builds(bl, argv[optind],
						 argv[optind + 1], &dopts, &l,
						 &ei);

		if (err) {
			sa_err("baseline diff: %s", ei.msg);
			ret = SA_EXIT_FAIL;
		} else {
			if (cm.format == SA_FMT_JSONL) {
				err = sa_tool_print_match(stderr, l);
				if (!err)
					err = sa_anomaly_write_jsonl(
						l, stdout, NULL, flags);
			} else if (cm.format == SA_FMT_JSON) {
				err = sa_tool_print_match(stderr, l);
				if (!err)
					err = diff_json(l, flags);
			} else {
				err = sa_tool_print_match(stdout, l);
				if (!err)
					err = sa_anomaly_write_text(l, stdout,
								    flags);
			}
			ret = err ? SA_EXIT_FAIL : SA_EXIT_OK;
		}
		sa_anomaly_list__free(l);
	}
	sa_baseline__free(bl);
	return ret;
}
