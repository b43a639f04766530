// SPDX-License-Identifier: BSD-2-Clause
/*
 * The HTML report: one self-contained file.
 *
 * Everything that comes from a trace, a binary or a source file (function
 * names, paths, instruction text, source lines) goes through html_esc():
 * a symbol called "<script>" must show as text.  The only script is the
 * inline one of sa_html_head, which records errors into the DOM (so that
 * a headless browser shows them) and marks the page as loaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/file.h"
#include "sensor/report.h"
#include "sensor/sites.h"

/* Source files longer than this are not read for an excerpt. */
#define SA_REPORT_MAX_SRC_LINES 1000000
#define SA_REPORT_MAX_HEAT_FUNCS 12
#define SA_REPORT_MAX_HEAT_ROWS 4096

int sa_report_html_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			/* control characters other than tab would make the
			 * document invalid; show them as U+FFFD
			 */
			if ((unsigned char)*s < 0x20 && *s != '\t' &&
			    *s != '\n')
				fputs("&#xfffd;", f);
			else
				fputc(*s, f);
		}
	}
	return ferror(f) ? -EIO : 0;
}

static void esc(FILE *f, const char *s)
{
	sa_report_html_escape(f, s);
}

static const char sa_html_head[] =
"<!DOCTYPE html>\n"
"<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
"<script>\n"
"window.addEventListener('error', function (e) {\n"
"  var d = document.documentElement;\n"
"  d.setAttribute('data-sa-errors',\n"
"    (d.getAttribute('data-sa-errors') || '') + e.message + ';');\n"
"});\n"
"document.addEventListener('DOMContentLoaded', function () {\n"
"  var n = document.querySelectorAll('.anomaly').length;\n"
"  document.body.setAttribute('data-sa-ready', String(n));\n"
"});\n"
"</script>\n"
"<style>\n"
"body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;"
"margin:0;background:#f6f7f9;color:#1d2330;font-size:14px}\n"
"header{background:#1d2330;color:#fff;padding:14px 24px}\n"
"header h1{margin:0;font-size:20px;font-weight:600}\n"
"header p{margin:4px 0 0;color:#b9c1d0;font-size:13px}\n"
"main{padding:16px 24px;max-width:1180px}\n"
"h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid #d5d9e0;"
"padding-bottom:4px}\n"
".card{background:#fff;border:1px solid #d5d9e0;border-radius:6px;"
"padding:12px 16px;margin:10px 0}\n"
".anomaly h3{margin:0 0 6px;font-size:15px}\n"
".rank{display:inline-block;background:#c0392b;color:#fff;"
"border-radius:4px;padding:1px 7px;margin-right:6px}\n"
".kind{color:#8a4b08;font-weight:600;margin-right:6px}\n"
".loc{color:#4a5568;font-family:ui-monospace,monospace}\n"
".sentence{margin:6px 0}\n"
".bars{display:grid;grid-template-columns:80px 1fr 200px;gap:4px 8px;"
"align-items:center;max-width:720px;margin:8px 0}\n"
".bar{background:#e8ebf0;height:14px;border-radius:3px;overflow:hidden}\n"
".bar span{display:block;height:100%}\n"
".b0 span{background:#6b8fd6}.b1 span{background:#d9534f}\n"
".stats{color:#4a5568;font-size:12px}\n"
"pre.code{background:#fbfbfc;border:1px solid #e2e5ea;padding:6px 0;"
"overflow-x:auto;font-size:12px;line-height:1.45;margin:8px 0}\n"
"pre.code span{display:block;padding:0 10px;white-space:pre;"
"tab-size:4}\n"
"pre.code .hit{background:#fde2e1;border-left:4px solid #d9534f;"
"padding-left:6px;font-weight:600}\n"
".also{font-size:12px;color:#4a5568;margin:4px 0 0 12px}\n"
"table{border-collapse:collapse;font-size:12px;background:#fff}\n"
"th,td{border:1px solid #e2e5ea;padding:2px 8px;text-align:left}\n"
"td.num{text-align:right;font-family:ui-monospace,monospace}\n"
"td.heat{text-align:right;min-width:70px;font-family:ui-monospace,"
"monospace}\n"
"tr.hit td{font-weight:700}\n"
"tr.hit td:first-child{border-left:4px solid #d9534f}\n"
".legend{font-size:12px;color:#4a5568;margin:4px 0}\n"
".note{color:#8a4b08}\n"
".context{font-size:13px;margin:6px 0;background:#f3f6fb;"
"border-left:3px solid #6b8fd6;padding:4px 10px}\n"
".context ol{margin:4px 0;padding-left:22px}\n"
"</style>\n";

/* A background for a taken ratio: blue (never) to red (always). */
static void heat_style(FILE *f, double r)
{
	int hue, light;

	if (!isfinite(r) || r < 0) {
		fputs("background:#f0f0f0;color:#999", f);
		return;
	}
	if (r > 1)
		r = 1;
	hue = (int)lround(220 - 220 * r);
	light = (int)lround(88 - 60 * fabs(r - 0.5));
	fprintf(f, "background:hsl(%d,70%%,%d%%)", hue, light);
}

/*
 * Source excerpts.
 */

static FILE *open_source(const char *path, const char *dir, char *used,
			 size_t usize)
{
	const char *p;
	FILE *f;
	char buf[4096];

	if (!path || !*path)
		return NULL;
	if (sa_file_check_input(path, 0) == 0) {
		f = fopen(path, "r");
		if (f) {
			snprintf(used, usize, "%s", path);
			return f;
		}
	}
	if (!dir)
		return NULL;
	/* DIR/PATH, then DIR/ with the leading components of PATH dropped
	 * one by one ("../tests/x.c", "tests/x.c", "x.c")
	 */
	for (p = path; p && *p;) {
		while (*p == '/')
			p++;
		if (*p && (size_t)snprintf(buf, sizeof(buf), "%s/%s", dir, p) <
				  sizeof(buf) &&
		    sa_file_check_input(buf, 0) == 0) {
			f = fopen(buf, "r");
			if (f) {
				snprintf(used, usize, "%s", buf);
				return f;
			}
		}
		p = strchr(p, '/');
	}
	return NULL;
}

/* Writes lines [line - n, line + n] of the source; returns 1 when done,
 * 0 when the file could not be read or is shorter than @line.
 */
static int write_source(FILE *out, const char *path, int line,
			const char *dir)
{
	char used[4096], *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	int no = 0, from = line - SA_REPORT_CONTEXT_LINES;
	int to = line + SA_REPORT_CONTEXT_LINES;
	bool started = false;
	FILE *f;

	if (line <= 0)
		return 0;
	f = open_source(path, dir, used, sizeof(used));
	if (!f)
		return 0;
	while (no < SA_REPORT_MAX_SRC_LINES &&
	       (len = getline(&buf, &cap, f)) >= 0) {
		no++;
		if (no < from)
			continue;
		if (no > to)
			break;
		if (len > 0 && buf[len - 1] == '\n')
			buf[len - 1] = 0;
		if (!started) {
			if (line > no + SA_REPORT_CONTEXT_LINES)
				break;
			fputs("<div class=\"src\">source <span class=\"loc\">",
			      out);
			esc(out, used);
			fputs("</span></div><pre class=\"code\">", out);
			started = true;
		}
		fprintf(out, "<span%s>%5d  ",
			no == line ? " class=\"hit\" data-line=\"1\"" : "", no);
		esc(out, buf);
		fputs("</span>", out);
	}
	free(buf);
	fclose(f);
	if (!started)
		return 0;
	fputs("</pre>\n", out);
	return 1;
}

/* The disassembly around the branch at @offset (a link-time address) of
 * @binary; returns 1 when written.
 */
static int write_disasm(FILE *out, const char *binary, uint64_t offset)
{
	struct sa_site ring[SA_REPORT_CONTEXT_INSNS], s;
	struct sa_sitemap *map = NULL;
	struct sa_image *img;
	struct sa_errinfo ei;
	const struct sa_sym *sym;
	uint64_t addr, end;
	size_t n = 0, i, after = 0;
	bool hit = false;
	int sz, ret = 0;

	if (!binary || binary[0] == '[')
		return 0;
	img = sa_image__new(SA_ARCH_UNKNOWN);
	if (!img)
		return 0;
	if (sa_image_load_elf(img, binary, UINT64_MAX, &ei))
		goto out;
	map = sa_sitemap__new(img);
	sym = sa_image_symbolize(img, offset);
	if (!map || !sym)
		goto out;
	addr = sym->start;
	end = sym->size ? sym->start + sym->size : offset + 256;
	/* a bounded walk: a few thousand instructions at most */
	for (i = 0; i < 20000 && addr < end; i++) {
		sz = sa_sitemap_decode_one(map, addr, SA_ISA_UNKNOWN, &s);
		if (sz <= 0)
			break;
		if (!hit) {
			if (s.addr >= offset) {
				hit = true;
				fprintf(out, "<div class=\"src\">disassembly "
					"of <span class=\"loc\">");
				esc(out, binary);
				fputs("</span> (the source is not readable)"
				      "</div><pre class=\"code\">", out);
				for (size_t k = n > SA_REPORT_CONTEXT_INSNS ?
						n - SA_REPORT_CONTEXT_INSNS : 0;
				     k < n; k++) {
					const struct sa_site *r =
					    &ring[k % SA_REPORT_CONTEXT_INSNS];

					fprintf(out, "<span>%8" PRIx64 ":  ",
						r->addr);
					esc(out, r->text);
					fputs("</span>", out);
				}
			} else {
				ring[n++ % SA_REPORT_CONTEXT_INSNS] = s;
			}
		}
		if (hit) {
			fprintf(out, "<span%s>%8" PRIx64 ":  ",
				s.addr == offset ?
				" class=\"hit\" data-line=\"1\"" : "", s.addr);
			esc(out, s.text);
			fputs("</span>", out);
			if (++after > SA_REPORT_CONTEXT_INSNS)
				break;
		}
		addr += (uint64_t)sz;
	}
	if (hit) {
		fputs("</pre>\n", out);
		ret = 1;
	}
out:
	sa_sitemap__free(map);
	sa_image__free(img);
	return ret;
}

/*
 * One anomaly.
 */


static void write_bar(FILE *f, const char *label, int cls, double r,
		      double scale, const char *what)
{
	double w = scale > 0 ? 100 * r / scale : 0;

	if (!isfinite(w) || w < 0)
		w = 0;
	if (w > 100)
		w = 100;
	fprintf(f, "<div>%s</div><div class=\"bar b%d\"><span "
		"style=\"width:%.1f%%\"></span></div><div>", label, cls, w);
	esc(f, what);
	fputs("</div>\n", f);
}

/* The decision context of @a, when it was computed for it. */
static void write_context(FILE *f, const struct sa_context *c,
			  const struct sa_anomaly *a)
{
	const struct sa_context_pred *p;
	size_t i, n, k;
	uint64_t nf = 0, ns = 0;
	char *s = NULL;
	size_t len = 0;
	FILE *m;

	for (i = 0; i < sa_context_nr_anomalies(c); i++)
		if (sa_context_anomaly(c, i, NULL, &nf, &ns) == a)
			break;
	if (i == sa_context_nr_anomalies(c))
		return;
	p = sa_context_for(c, a, &n);
	fprintf(f, "<div class=\"context\"><b>decision context</b> "
		"(%" PRIu64 " anomalous, %" PRIu64 " other executions): ",
		nf, ns);
	if (!n) {
		fputs("no earlier decision predicts it (95% confidence)"
		      "</div>\n", f);
		return;
	}
	fputs("<ol>", f);
	for (k = 0; k < n && k < 5; k++) {
		m = open_memstream(&s, &len);
		if (!m)
			break;
		sa_context_write_sentence(a, &p[k], m);
		fclose(m);
		fputs("<li>", f);
		esc(f, p[k].function);
		fputs(": ", f);
		esc(f, s);
		fputs("</li>", f);
		free(s);
		s = NULL;
	}
	fputs("</ol></div>\n", f);
}

static int write_anomaly(FILE *f, const struct sa_anomaly *a,
			 const struct sa_report_opts *o)
{
	char bp[32], cp[32], bc[32], bt[32], cc[32], ct[32], what[160];
	char *para = NULL;
	size_t plen = 0;
	FILE *m;
	double scale = 1;
	size_t i;

	fprintf(f, "<section class=\"card anomaly\" id=\"a%u\" "
		"data-function=\"", a->rank);
	esc(f, a->function);
	fprintf(f, "\" data-line=\"%d\">\n<h3><span class=\"rank\">#%u"
		"</span><span class=\"kind\">%s</span>", a->line, a->rank,
		sa_anomaly_kind_name(a->kind));
	esc(f, a->function);
	fputs(" <span class=\"loc\">(", f);
	if (a->file) {
		esc(f, a->file);
		fprintf(f, ":%d", a->line);
	} else {
		esc(f, a->binary);
		fprintf(f, "+0x%" PRIx64, a->offset);
	}
	fputs(")</span></h3>\n", f);

	/* the sentence of the text summary (its second line), so that
	 * both say the same
	 */
	m = open_memstream(&para, &plen);
	if (m) {
		char *s, *e;

		sa_anomaly_write_text1(a, m);
		fclose(m);
		s = para ? strchr(para, '\n') : NULL;
		if (s) {
			s += strspn(s, "\n ");
			e = strchr(s, '\n');
			if (e)
				*e = 0;
			fputs("<p class=\"sentence\">", f);
			esc(f, s);
			fputs("</p>\n", f);
		}
		free(para);
	}

	sa_anomaly_fmt_ratio(bp, sizeof(bp), a->base_ratio);
	sa_anomaly_fmt_ratio(cp, sizeof(cp), a->cur_ratio);
	sa_anomaly_fmt_count(bc, sizeof(bc), a->base_count);
	sa_anomaly_fmt_count(bt, sizeof(bt), a->base_total);
	sa_anomaly_fmt_count(cc, sizeof(cc), a->cur_count);
	sa_anomaly_fmt_count(ct, sizeof(ct), a->cur_total);
	fputs("<div class=\"bars\">\n", f);
	if (a->kind == SA_ANOM_CALL_RATE ||
	    (a->kind == SA_ANOM_ERROR_ORIGIN && !a->insn)) {
		/* rates per million instructions: scaled to the larger */
		scale = fmax(a->base_ratio, a->cur_ratio);
		snprintf(what, sizeof(what), "%.3g per M insns (%s)",
			 a->base_ratio, bc);
		write_bar(f, "baseline", 0, a->base_ratio, scale, what);
		snprintf(what, sizeof(what), "%.3g per M insns (%s)",
			 a->cur_ratio, cc);
		write_bar(f, "now", 1, a->cur_ratio, scale, what);
	} else {
		snprintf(what, sizeof(what), "%s (%s of %s)", bp, bc, bt);
		write_bar(f, "baseline", 0, a->base_ratio, scale, what);
		snprintf(what, sizeof(what), "%s (%s of %s)", cp, cc, ct);
		write_bar(f, "now", 1, a->cur_ratio, scale, what);
	}
	fputs("</div>\n", f);
	fprintf(f, "<div class=\"stats\">decision: <b>");
	esc(f, a->decision);
	fprintf(f, "</b>%s; score %.1f, p=%.2g (log10 %.1f), q=%.2g; "
		"windows %.0f baseline / %.0f now; design effect %.2f; "
		"confidence %.2f</div>\n",
		a->error_path ? " (into an error path)" : "", a->score,
		a->p_value, a->log10_p, a->q_value, a->base_windows,
		a->cur_windows, a->design_effect, a->confidence);
	if (a->insn) {
		fprintf(f, "<div class=\"stats\">at 0x%" PRIx64
			" <code>", a->offset);
		esc(f, a->insn);
		fputs("</code> in <span class=\"loc\">", f);
		esc(f, a->binary);
		fputs("</span>", f);
		if (a->build_id && *a->build_id) {
			fputs(" [build-id ", f);
			esc(f, a->build_id);
			fputs("]", f);
		}
		fputs("</div>\n", f);
	}
	for (i = 0; i < a->nr_also; i++) {
		const struct sa_anomaly_also *x = &a->also[i];

		fprintf(f, "<div class=\"also\">also seen (%s): %s ",
			sa_anomaly_relation_name(x->relation),
			sa_anomaly_kind_name(x->kind));
		esc(f, x->function);
		if (x->file) {
			fputs(" (", f);
			esc(f, x->file);
			fprintf(f, ":%d)", x->line);
		}
		sa_anomaly_fmt_ratio(bp, sizeof(bp), x->base_ratio);
		sa_anomaly_fmt_ratio(cp, sizeof(cp), x->cur_ratio);
		fprintf(f, ", %s &rarr; %s, at 0x%" PRIx64 " <code>", bp, cp,
			x->offset);
		esc(f, x->insn);
		fprintf(f, "</code> (score %.1f)</div>\n", x->score);
	}
	if (o->context)
		write_context(f, o->context, a);
	if (a->kind != SA_ANOM_CALL_RATE &&
	    !write_source(f, a->file, a->line, o->source_dir)) {
		if (!write_disasm(f, a->binary, a->offset) && a->file) {
			fputs("<div class=\"stats note\">source ", f);
			esc(f, a->file);
			fputs(" not readable (give --source-dir) and no "
			      "disassembly</div>\n", f);
		}
	}
	fputs("</section>\n", f);
	return ferror(f) ? -EIO : 0;
}

/*
 * Heat views: per function, each conditional branch's taken ratio in the
 * baseline and now.
 */

struct heat_row {
	uint64_t offset;
	const char *file;	/* borrowed from a history, or NULL */
	int line;
	const char *insn;
	double bt, bn;		/* baseline taken, not taken */
	double ct, cn;		/* now */
	bool has_base, has_cur;
};

struct heat {
	const char *function;
	size_t nr, cap;
	struct heat_row *rows;
	bool full;
};

static struct heat_row *heat_row(struct heat *h, uint64_t offset)
{
	struct heat_row *r;
	size_t i;

	for (i = 0; i < h->nr; i++)
		if (h->rows[i].offset == offset)
			return &h->rows[i];
	if (h->nr >= SA_REPORT_MAX_HEAT_ROWS) {
		h->full = true;
		return NULL;
	}
	if (h->nr == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 32;

		r = realloc(h->rows, cap * sizeof(*r));
		if (!r)
			return NULL;
		h->rows = r;
		h->cap = cap;
	}
	r = &h->rows[h->nr++];
	memset(r, 0, sizeof(*r));
	r->offset = offset;
	return r;
}

static int heat_base_fn(void *ctx, const struct sa_baseline_branch *b)
{
	struct heat *h = ctx;
	struct heat_row *r;

	if (!b->function || strcmp(b->function, h->function))
		return 0;
	r = heat_row(h, b->offset);
	if (!r)
		return h->full ? 0 : -ENOMEM;
	r->bt = b->taken;
	r->bn = b->not_taken;
	r->has_base = true;
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	const struct heat_row *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static bool same_binary(const struct sa_hist_func *hf,
			const struct sa_anomaly *a)
{
	if (a->build_id && *a->build_id && hf->build_id && *hf->build_id)
		return !strcmp(a->build_id, hf->build_id);
	return hf->binary && a->binary && !strcmp(hf->binary, a->binary);
}

static void heat_cell(FILE *f, double t, double n, bool has)
{
	char p[32];
	double r = t + n > 0 ? t / (t + n) : NAN;

	fputs("<td class=\"heat\" style=\"", f);
	heat_style(f, has ? r : NAN);
	fputs("\">", f);
	if (has && t + n > 0) {
		sa_anomaly_fmt_ratio(p, sizeof(p), r);
		fprintf(f, "%s <small>(%.0f)</small>", p, t + n);
	} else {
		fputs("&ndash;", f);
	}
	fputs("</td>", f);
}

static int write_heat(FILE *f, const struct sa_anomaly *a,
		      struct sa_hist *const *wins, size_t nr,
		      struct sa_baseline *bl, const struct sa_anomaly_list *l)
{
	struct heat h = { .function = a->function };
	struct sa_errinfo ei;
	size_t w, i, j, k;
	int err = 0;

	for (w = 0; w < nr; w++) {
		size_t nf = sa_hist_nr_functions(wins[w]);

		for (i = 0; i < nf; i++) {
			const struct sa_hist_func *hf =
				sa_hist_function(wins[w], i);

			if (strcmp(hf->name, a->function) ||
			    !same_binary(hf, a))
				continue;
			for (j = 0; j < hf->nr_branches; j++) {
				const struct sa_hist_branch *b =
					&hf->branches[j];
				struct heat_row *r;

				if (b->iclass != SA_IC_COND)
					continue;
				r = heat_row(&h, b->offset);
				if (!r) {
					if (h.full)
						continue;
					err = -ENOMEM;
					goto out;
				}
				r->ct += (double)b->taken;
				r->cn += (double)b->not_taken;
				r->has_cur = true;
				if (!r->file)
					r->file = b->file;
				if (!r->line)
					r->line = b->line;
				if (!r->insn)
					r->insn = b->insn;
			}
		}
	}
	if (bl) {
		err = sa_baseline_for_each_branch(bl, *a->build_id ?
						  a->build_id : a->binary,
						  heat_base_fn, &h, &ei);
		if (err == -SA_ERR_NOTFOUND)
			err = 0;
		if (err)
			goto out;
	}
	if (!h.nr)
		goto out;
	qsort(h.rows, h.nr, sizeof(*h.rows), cmp_row);
	fputs("<section class=\"card heatview\" data-function=\"", f);
	esc(f, a->function);
	fputs("\"><h3>", f);
	esc(f, a->function);
	fprintf(f, " <span class=\"loc\">%zu conditional branches%s</span>"
		"</h3>\n<table><tr><th>branch</th><th>line</th>"
		"<th>instruction</th><th>baseline taken</th><th>now taken"
		"</th></tr>\n", h.nr, h.full ? " (list capped)" : "");
	for (i = 0; i < h.nr; i++) {
		const struct heat_row *r = &h.rows[i];
		bool hit = false;

		/* mark every shown anomaly's branch in this function */
		for (k = 0; k < sa_anomaly_list_nr_significant(l); k++) {
			const struct sa_anomaly *x = sa_anomaly_list_get(l, k);

			if (x->offset == r->offset &&
			    !strcmp(x->function, a->function))
				hit = true;
		}
		fprintf(f, "<tr%s><td class=\"num\">0x%" PRIx64 "</td><td>",
			hit ? " class=\"hit\"" : "", r->offset);
		if (r->line)
			fprintf(f, "%d", r->line);
		fputs("</td><td><code>", f);
		esc(f, r->insn);
		fputs("</code></td>", f);
		heat_cell(f, r->bt, r->bn, r->has_base);
		heat_cell(f, r->ct, r->cn, r->has_cur);
		fputs("</tr>\n", f);
	}
	fputs("</table></section>\n", f);
	err = ferror(f) ? -EIO : 0;
out:
	free(h.rows);
	return err;
}

static void write_losses(FILE *f, struct sa_hist *const *wins, size_t nr,
			 const struct sa_report_opts *o)
{
	struct sa_hist_decode s = { 0 };
	size_t i, t;
	char tids[512];
	size_t tl = 0;

	tids[0] = 0;
	for (i = 0; i < nr; i++) {
		const struct sa_hist_decode *d = sa_hist_decode(wins[i]);

		s.windows += d->windows;
		s.trace_bytes += d->trace_bytes;
		s.instructions += d->instructions;
		s.errors += d->errors;
		s.lost_bytes += d->lost_bytes;
		s.overflows += d->overflows;
		s.aux_truncated += d->aux_truncated;
		s.aux_collision += d->aux_collision;
		s.lost_records += d->lost_records;
		s.unknown_taken += d->unknown_taken;
		s.unmapped += d->unmapped;
		s.missing_binaries += d->missing_binaries;
		s.build_id_mismatches += d->build_id_mismatches;
		s.idle_windows += d->idle_windows;
		for (t = 0; t < d->nr_tids; t++)
			sa_hist_decode_add_tid(&s, d->tids[t]);
	}
	for (t = 0; t < s.nr_tids && tl + 16 < sizeof(tids); t++)
		tl += (size_t)snprintf(tids + tl, sizeof(tids) - tl, "%s%d",
				       t ? " " : "", s.tids[t]);
	fputs("<h2>What the report rests on</h2>\n<div class=\"card\">"
	      "<table class=\"losses\">\n", f);
#define ROW(label, v) \
	fprintf(f, "<tr><td>%s</td><td class=\"num\">%" PRIu64 \
		"</td></tr>\n", label, (uint64_t)(v))
	ROW("windows", nr);
	ROW("idle windows (no traced code ran)", s.idle_windows);
	ROW("trace bytes", s.trace_bytes);
	ROW("instructions decoded", s.instructions);
	ROW("decode errors", s.errors);
	ROW("trace bytes lost or skipped", s.lost_bytes);
	ROW("overflows", s.overflows);
	ROW("AUX records truncated", s.aux_truncated);
	ROW("AUX collisions", s.aux_collision);
	ROW("lost records", s.lost_records);
	ROW("branch outcomes lost to a gap", s.unknown_taken);
	ROW("ranges outside any binary", s.unmapped);
	ROW("traced binaries not found", s.missing_binaries);
	ROW("binaries of another build", s.build_id_mismatches);
#undef ROW
	fprintf(f, "<tr><td>threads observed</td><td class=\"num\">%s%s"
		"</td></tr>\n", tids, s.tids_truncated ? " ..." : "");
	fputs("</table>\n", f);
	if (o->nr_windows && o->window_names) {
		fputs("<details><summary>window files</summary><ul>", f);
		for (i = 0; i < o->nr_windows; i++) {
			fputs("<li class=\"loc\">", f);
			esc(f, o->window_names[i]);
			fputs("</li>", f);
		}
		fputs("</ul></details>\n", f);
	}
	fputs("</div>\n", f);
}

int sa_report_write_html(FILE *f, const struct sa_anomaly_list *l,
			 struct sa_hist *const *wins, size_t nr,
			 struct sa_baseline *bl,
			 const struct sa_report_opts *o,
			 struct sa_errinfo *ei)
{
	static const struct sa_report_opts def;
	size_t i, j, nsig, shown, max;
	const char *title;
	int err = 0;

	sa_errinfo_clear(ei);
	if (!o)
		o = &def;
	title = o->title ? o->title : "sensor-agent report";
	max = o->max_anomalies ? o->max_anomalies :
				 SA_REPORT_DEF_MAX_ANOMALIES;
	nsig = sa_anomaly_list_nr_significant(l);
	shown = nsig < max ? nsig : max;

	fputs(sa_html_head, f);
	fputs("<title>", f);
	esc(f, title);
	fputs("</title></head>\n<body>\n<header><h1>", f);
	esc(f, title);
	fprintf(f, "</h1><p>%zu significant anomal%s of %zu tests; "
		"%zu window%s", nsig, nsig == 1 ? "y" : "ies",
		sa_anomaly_list_nr_tests(l), nr, nr == 1 ? "" : "s");
	if (bl) {
		fputs(" compared with the baseline ", f);
		esc(f, sa_baseline_path(bl));
	}
	fputs("</p></header>\n<main>\n<h2>Anomalies, most significant "
	      "first</h2>\n", f);
	if (!shown)
		fputs("<div class=\"card\" id=\"none\">No anomaly passes the "
		      "threshold.</div>\n", f);
	if (nsig > shown)
		fprintf(f, "<div class=\"stats\">the first %zu of %zu are "
			"shown</div>\n", shown, nsig);
	for (i = 0; i < shown && !err; i++)
		err = write_anomaly(f, sa_anomaly_list_get(l, i), o);
	if (err)
		goto out;

	if (shown) {
		fputs("<h2>Branch bias per function</h2>\n"
		      "<div class=\"legend\">each conditional branch's taken ratio, in the baseline "
		      "and now (executions in brackets); colour from blue "
		      "(never taken) to red (always taken); the anomalies' "
		      "branches in bold</div>\n", f);
	}
	for (i = 0, j = 0; i < shown && j < SA_REPORT_MAX_HEAT_FUNCS; i++) {
		const struct sa_anomaly *a = sa_anomaly_list_get(l, i);
		size_t k;
		bool dup = false;

		for (k = 0; k < i; k++)
			if (!strcmp(sa_anomaly_list_get(l, k)->function,
				    a->function))
				dup = true;
		if (dup)
			continue;
		err = write_heat(f, a, wins, nr, bl, l);
		if (err)
			goto out;
		j++;
	}
	write_losses(f, wins, nr, o);
	fputs("<p class=\"stats\">Made by sensor-agent; the model and the "
	      "numbers are explained in docs/anomalies.md.</p>\n"
	      "</main>\n</body></html>\n", f);
out:
	if (!err && (fflush(f) || ferror(f)))
		err = -EIO;
	if (err)
		sa_errinfo_set(ei, err, SA_NO_OFFSET,
			       "writing the HTML report: %s",
			       sa_strerror(err));
	return err;
}
