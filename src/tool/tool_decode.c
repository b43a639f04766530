// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent decode: a saved trace window to branch-decision histories.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <strings.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "sensor/file.h"
#include "sensor/coresight.h"
#include "sensor/error.h"
#include "sensor/hist.h"
#include "sensor/image.h"
#include "sensor/report.h"
#include "sensor/session.h"
#include "tool.h"

#define SA_MAX_OPT_FILES 256

static void decode_usage(FILE *f)
{
	fprintf(f,
"Usage: %s decode [OPTIONS] [-i] FILE\n"
"       %s decode [OPTIONS] --pt TRACE --image FILE[:OFF[-END]]@ADDR... [--cpu F/M/S]\n"
"       %s decode [OPTIONS] --cs-trace DUMP --trace-id ID [--protocol P] --binary PATH@ADDR...\n"
"\n"
"Decodes a saved trace window into per-function branch-decision histories:\n"
"how often each function was called, and which way each conditional branch\n"
"went and how often.  FILE is a perf.data file (perf record -e intel_pt//u\n"
"or cs_etm//u, simpleperf, or sensor-agent record/capture) or an Arm\n"
"CoreSight snapshot directory (snapshot.ini).\n"
"\n"
"Options:\n"
"  -i, --input FILE         the input (as perf's -i; or give it as FILE)\n"
"  -f, --format text|json   output format (default text); json follows\n"
"                           docs/histories.md\n"
"  -o, --output FILE        write there instead of standard output\n"
"  -b, --binary PATH[@ADDR] use PATH for the binary of the same name in the\n"
"                           trace, or load it at ADDR; repeatable\n"
"      --symfs DIR          look up every binary under DIR first\n"
"      --error-sink SYMBOL  calls into SYMBOL also start an error path (the\n"
"                           built-in sinks: docs/histories.md); repeatable\n"
"  -p, --pid PID            only the process PID (default: the traced one)\n"
"      --branches           print the taken branches in trace order\n"
"                           (from, to, kind) instead of the histories\n"
"      --targets            text: list the targets of indirect branches\n"
"      --timeline FILE      write the window's calls as Chrome trace-event\n"
"                           JSON (chrome://tracing, Perfetto) to FILE\n"
"                           instead of the histories (docs/report.md)\n"
"      --progress           report progress on standard error (redrawn\n"
"                           on a terminal, else a line per 10%%)\n"
"      --decoder fast|libipt  Intel PT backend (default libipt; fast:\n"
"                           docs/ipt.md)\n"
"  Raw Intel PT (the inputs of ptxed --pt/--raw, in this syntax):\n"
"      --pt FILE            raw Intel PT packet stream\n"
"      --image FILE[:OFF[-END]]@ADDR\n"
"                           map bytes OFF..END of FILE at ADDR; repeatable\n"
"      --cpu F/M/S          CPU family/model/stepping, for errata\n"
"  Raw CoreSight (a formatted ETR/ETB dump, or --unformatted TRBE/ETE):\n"
"      --cs-trace FILE      the trace dump\n"
"      --trace-id ID        the trace source to decode (e.g. 0x10)\n"
"      --protocol P         etmv4 (default), ete, ptm or etmv3\n"
"      --unformatted        the dump holds one source's bytes, no frames\n"
"      --cs-reg NAME=VALUE  a register of the source: trcidr0, trcidr1,\n"
"                           trcidr2, trcidr8, trcconfigr, trcdevarch,\n"
"                           etmidr, etmcr, etmccer (defaults and what they\n"
"                           mean: docs/coresight.md); repeatable\n"
"                           (code: --binary PATH@ADDR or --image)\n"
"  -h, --help               this help\n"
"\n"
"Exit status: 0 when something was decoded (losses are reported in the\n"
"output), 1 when nothing could be, 2 on a usage error.\n",
		sa_prog, sa_prog, sa_prog);
}

enum {
	OPT_BRANCHES = 256, OPT_TARGETS, OPT_PROGRESS,
	OPT_PT, OPT_IMAGE, OPT_CPU, OPT_CS_TRACE, OPT_TRACE_ID, OPT_PROTOCOL,
	OPT_UNFORMATTED, OPT_CS_REG, OPT_DECODER, OPT_TIMELINE,
};

/* NAME=VALUE for --cs-reg */
static bool parse_cs_reg(char *arg, struct sa_cs_regs *r)
{
	static const struct {
		const char *name;
		size_t off;
	} regs[] = {
		{ "trcidr0", offsetof(struct sa_cs_regs, trcidr0) },
		{ "trcidr1", offsetof(struct sa_cs_regs, trcidr1) },
		{ "trcidr2", offsetof(struct sa_cs_regs, trcidr2) },
		{ "trcidr8", offsetof(struct sa_cs_regs, trcidr8) },
		{ "trcconfigr", offsetof(struct sa_cs_regs, trcconfigr) },
		{ "trcdevarch", offsetof(struct sa_cs_regs, trcdevarch) },
		{ "etmidr", offsetof(struct sa_cs_regs, etmidr) },
		{ "etmcr", offsetof(struct sa_cs_regs, etmcr) },
		{ "etmccer", offsetof(struct sa_cs_regs, etmccer) },
	};
	char *eq = strchr(arg, '=');
	uint64_t v;
	size_t i;

	if (!eq || !sa_parse_u64(eq + 1, &v) || v > UINT32_MAX)
		return false;
	*eq = '\0';
	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		if (!strcasecmp(arg, regs[i].name)) {
			*(uint32_t *)((char *)r + regs[i].off) = (uint32_t)v;
			return true;
		}
	}
	return false;
}

/* FILE[:OFF[-END]]@ADDR */
static bool parse_image(char *arg, struct sa_raw_image *ri)
{
	char *at = strrchr(arg, '@'), *colon, *dash;
	uint64_t end;

	if (!at)
		return false;
	*at = '\0';
	if (!sa_parse_u64(at + 1, &ri->addr))
		return false;
	ri->path = arg;
	ri->offset = 0;
	ri->size = 0;
	colon = strrchr(arg, ':');
	if (!colon)
		return true;
	*colon = '\0';
	dash = strchr(colon + 1, '-');
	if (dash)
		*dash = '\0';
	if (!sa_parse_u64(colon + 1, &ri->offset))
		return false;
	if (dash) {
		if (!sa_parse_u64(dash + 1, &end) || end <= ri->offset)
			return false;
		ri->size = end - ri->offset;
	}
	return true;
}

struct branch_printer {
	FILE *f;
	struct sa_hist *h;
	uint64_t n;
};

static void print_branch(void *ctx, uint64_t from, uint64_t to,
			 enum sa_iclass kind)
{
	struct branch_printer *bp = ctx;

	fprintf(bp->f, "%-8s %#18" PRIx64 " => %#18" PRIx64 "\n",
		sa_iclass_name(kind), from, to);
	bp->n++;
}

/* --progress: a line redrawn with \r on a terminal; elsewhere (a pipe,
 * a log) one plain line per 10%, never a \r.
 */
struct progress {
	const char *name;
	uint64_t total;
	unsigned int shown;	/* last percentage printed + 1 */
	bool tty;
};

static void print_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	unsigned int pct;

	if (!total)
		return;
	p->total = total;
	pct = (unsigned int)(done >= total ? 100 : 100 * done / total);
	if (p->tty) {
		fprintf(stderr, "\r%s decode: decoding %s: %3u%%", sa_prog,
			p->name, pct);
	} else if (pct / 10 * 10 + 1 > p->shown) {
		p->shown = pct / 10 * 10 + 1;
		fprintf(stderr, "%s decode: decoding %s: %u%%\n", sa_prog,
			p->name, pct / 10 * 10);
	}
	p->shown = p->tty ? pct + 1 : p->shown;
}

/* The decoder reports offsets it reached; the end of the input is 100%. */
static void end_progress(struct progress *p, bool done)
{
	if (p->tty) {
		if (done && p->total)
			print_progress(p, p->total, p->total);
		if (p->shown)
			fputc('\n', stderr);
	} else if (done && p->total && p->shown != 101) {
		fprintf(stderr, "%s decode: decoding %s: 100%%\n", sa_prog,
			p->name);
	}
}

int cmd_decode(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "binary", required_argument, NULL, 'b' },
		{ "symfs", required_argument, NULL, SA_OPT_SYMFS },
		{ "error-sink", required_argument, NULL, SA_OPT_ERROR_SINK },
		{ "branches", no_argument, NULL, OPT_BRANCHES },
		{ "targets", no_argument, NULL, OPT_TARGETS },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "pt", required_argument, NULL, OPT_PT },
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "cs-trace", required_argument, NULL, OPT_CS_TRACE },
		{ "trace-id", required_argument, NULL, OPT_TRACE_ID },
		{ "protocol", required_argument, NULL, OPT_PROTOCOL },
		{ "unformatted", no_argument, NULL, OPT_UNFORMATTED },
		{ "cs-reg", required_argument, NULL, OPT_CS_REG },
		{ "decoder", required_argument, NULL, OPT_DECODER },
		{ "timeline", required_argument, NULL, OPT_TIMELINE },
		{ NULL, 0, NULL, 0 },
	};
	struct sa_binary_opt binaries[SA_MAX_OPT_FILES];
	struct sa_raw_image images[SA_MAX_OPT_FILES];
	struct sa_decode_opts o;
	struct sa_cs_raw_opts cs;
	bool have_trace_id = false;
	struct branch_printer bp = { 0 };
	struct sa_errinfo ei;
	struct sa_hist *h = NULL;
	const char *output = NULL, *input = NULL;
	struct sa_common cm;
	struct progress prog = { 0 };
	struct timespec t0, t1;
	const char *timeline = NULL;
	struct sa_timeline *tl = NULL;
	bool branches = false, json;
	unsigned out_flags = 0;
	FILE *out = stdout;
	uint64_t v;
	int c, err, ret = SA_EXIT_FAIL;
	unsigned f, m, s;

	memset(&o, 0, sizeof(o));
	memset(&cs, 0, sizeof(cs));
	o.binaries = binaries;
	o.images = images;
	sa_common_init(&cm, "decode", SA_CO_PID | SA_CO_OUTPUT | SA_CO_INPUT |
		       SA_CO_FORMAT);
	cm.formats = SA_FMT_BIT(SA_FMT_TEXT) | SA_FMT_BIT(SA_FMT_JSON);
	while ((c = sa_getopt(argc, argv, "b:", longopts, &cm)) != -1) {
		switch (c) {
		case SA_GETOPT_USAGE:
			return SA_EXIT_USAGE;
		case OPT_BRANCHES:
			branches = true;
			break;
		case OPT_TIMELINE:
			timeline = optarg;
			break;
		case OPT_TARGETS:
			out_flags |= SA_HIST_OUT_TARGETS;
			break;
		case OPT_PROGRESS:
			o.progress_fn = print_progress;
			break;
		case OPT_DECODER:
			if (!strcmp(optarg, "fast")) {
				o.ipt_decoder = SA_IPT_DECODER_FAST;
			} else if (!strcmp(optarg, "libipt")) {
				o.ipt_decoder = SA_IPT_DECODER_LIBIPT;
			} else {
				sa_err("decode: unknown --decoder '%s': use "
				       "fast or libipt", optarg);
				return SA_EXIT_USAGE;
			}
			break;
		case OPT_PT:
			o.pt_file = optarg;
			break;
		case OPT_IMAGE:
			if (o.nr_images >= SA_MAX_OPT_FILES) {
				sa_err("decode: more than %d --image options "
				       "(the limit)", SA_MAX_OPT_FILES);
				return SA_EXIT_USAGE;
			}
			if (!parse_image(optarg, &images[o.nr_images])) {
				sa_err("decode: bad --image '%s': expected "
				       "FILE[:OFFSET[-END]]@ADDR", optarg);
				return SA_EXIT_USAGE;
			}
			o.nr_images++;
			break;
		case OPT_CPU:
			if (sscanf(optarg, "%u/%u/%u", &f, &m, &s) != 3 ||
			    f > 0xffff || m > 0xff || s > 0xff) {
				sa_err("decode: bad --cpu '%s': expected "
				       "FAMILY/MODEL/STEPPING, e.g. 6/94/3",
				       optarg);
				return SA_EXIT_USAGE;
			}
			o.cpu_family = (uint16_t)f;
			o.cpu_model = (uint8_t)m;
			o.cpu_stepping = (uint8_t)s;
			break;
		case OPT_CS_TRACE:
			cs.trace_file = optarg;
			break;
		case OPT_TRACE_ID:
			if (!sa_parse_u64(optarg, &v) || !v || v > 0x6f) {
				sa_err("decode: bad --trace-id '%s': a source "
				       "ID is 0x01..0x6f", optarg);
				return SA_EXIT_USAGE;
			}
			cs.trace_id = (uint8_t)v;
			have_trace_id = true;
			break;
		case OPT_PROTOCOL:
			cs.protocol = sa_cs_protocol_parse(optarg);
			if (cs.protocol == SA_CS_PROTO_NONE) {
				sa_err("decode: unknown --protocol '%s': use "
				       "etmv4, ete, ptm or etmv3", optarg);
				return SA_EXIT_USAGE;
			}
			break;
		case OPT_UNFORMATTED:
			cs.unformatted = true;
			break;
		case OPT_CS_REG:
			if (!parse_cs_reg(optarg, &cs.regs)) {
				sa_err("decode: bad --cs-reg '%s': expected "
				       "NAME=VALUE, NAME one of trcidr0, "
				       "trcidr1, trcidr2, trcidr8, trcconfigr, "
				       "trcdevarch, etmidr, etmcr, etmccer",
				       optarg);
				return SA_EXIT_USAGE;
			}
			break;
		case 'h':
			decode_usage(stdout);
			return SA_EXIT_OK;
		default:
			err = sa_tool_decode_opt("decode", c, optarg, &o,
						 binaries, SA_MAX_OPT_FILES);
			if (err > 0)
				break;
			if (err == 0)
				decode_usage(stderr);
			return SA_EXIT_USAGE;
		}
	}
	json = cm.format == SA_FMT_JSON;
	output = cm.output;
	o.pid = cm.pid;
	input = cm.input;
	if (!input && optind < argc)
		input = argv[optind++];
	if (optind < argc) {
		sa_err("decode: one input at a time ('%s' is extra)",
		       argv[optind]);
		return SA_EXIT_USAGE;
	}
	if (cs.trace_file) {
		if (!have_trace_id) {
			sa_err("decode: --cs-trace needs --trace-id ID (the "
			       "source to decode, e.g. 0x10)");
			return SA_EXIT_USAGE;
		}
		o.cs_raw = &cs;
	}
	if (!input && !o.pt_file && !o.cs_raw) {
		sa_err("decode: no input: give a perf.data file, a snapshot "
		       "directory, --pt FILE --image FILE@ADDR, or "
		       "--cs-trace FILE --trace-id ID");
		decode_usage(stderr);
		return SA_EXIT_USAGE;
	}
	if (!!input + !!o.pt_file + !!o.cs_raw > 1) {
		sa_err("decode: give one input: FILE, --pt or --cs-trace");
		return SA_EXIT_USAGE;
	}
	if (o.pt_file && !o.nr_images && !o.nr_binaries) {
		sa_err("decode: --pt needs the code: --image FILE@ADDR or "
		       "--binary PATH[@ADDR]");
		return SA_EXIT_USAGE;
	}
	if (output) {
		out = sa_file_fopen_private(output);
		if (!out) {
			sa_err("decode: cannot write %s: %m", output);
			return SA_EXIT_FAIL;
		}
	}
	prog.name = input ? input : o.pt_file ? o.pt_file : cs.trace_file;
	prog.tty = isatty(STDERR_FILENO);
	o.progress_ctx = &prog;
	if (branches) {
		bp.f = out;
		o.branch_fn = print_branch;
		o.branch_ctx = &bp;
	}
	if (timeline) {
		tl = sa_timeline__new();
		if (!tl) {
			sa_err("decode: out of memory");
			goto out;
		}
		o.flow_fn = sa_timeline_flow;
		o.flow_ctx = tl;
	}
	h = sa_hist__new();
	if (!h) {
		sa_err("decode: out of memory");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = sa_decode_file(input, &o, h, &ei);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (o.progress_fn)
		end_progress(&prog, !err);
	sa_msg(LOG_INFO, "%s: decoded in %.3f s", prog.name,
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (err) {
		sa_err("%s", ei.msg[0] ? ei.msg : sa_strerror(err));
		goto out;
	}
	if (timeline) {
		FILE *tf = sa_file_fopen_private(timeline);

		if (!tf) {
			sa_err("decode: cannot write %s: %m", timeline);
			goto out;
		}
		err = sa_timeline_write_json(tl, tf, input ? input :
					     o.pt_file ? o.pt_file :
					     cs.trace_file);
		if (fclose(tf) && !err)
			err = -EIO;
		if (err) {
			sa_err("decode: writing %s: %s", timeline,
			       sa_strerror(err));
			goto out;
		}
	} else if (branches) {
		const struct sa_hist_decode *d = sa_hist_decode(h);

		/* the sequence has holes where trace was lost: say so */
		if (d->errors || d->overflows || d->lost_bytes ||
		    d->unknown_taken)
			sa_err("decode: %" PRIu64 " errors, %" PRIu64
			       " overflows, %" PRIu64 " lost bytes: the "
			       "branch sequence has gaps there",
			       d->errors, d->overflows, d->lost_bytes);
	} else {
		if (sa_hist_sort(h)) {
			sa_err("decode: out of memory");
			goto out;
		}
		err = json ? sa_hist_write_json(h, out, out_flags) :
			     sa_hist_write_text(h, out, out_flags);
		if (err) {
			sa_err("decode: writing the output: %s",
			       sa_strerror(err));
			goto out;
		}
	}
	ret = SA_EXIT_OK;
out:
	if (out != stdout && fclose(out) && ret == SA_EXIT_OK) {
		sa_err("decode: writing %s: %m", output);
		ret = SA_EXIT_FAIL;
	}
	sa_hist__free(h);
	sa_timeline__free(tl);
	return ret;
}
