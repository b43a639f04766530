// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fleet analysis: windows loaded from ClickHouse become one history each
 * again, the baseline side goes into a temporary SQLite baseline (each
 * window its own sample, so the design effect is measured between
 * windows as for a single host), and the detector of src/anomaly
 * compares.  Nothing here knows the statistics.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/baseline.h"
#include "fleet_int.h"

#define NR_COLS 44

enum {
	C_TIME, C_HOST, C_WID, C_KIND, C_BUILD_ID, C_BINARY, C_FUNCTION,
	C_LINKAGE, C_ENTRY, C_ENTRY_OFFSET, C_OFFSET, C_ICLASS, C_FILE,
	C_LINE, C_INSN, C_TARGET, C_EXECUTED, C_TAKEN, C_NOT_TAKEN,
	C_SINK_TAKEN, C_SINK_NOT_TAKEN, C_CALLS, C_RETURNS, C_INSNS,
	C_SINK_ENTRIES, C_IS_SINK, C_T_BINARY, C_T_BUILD_ID, C_T_OFFSET,
	C_T_SYM, C_T_SYM_OFF, C_T_ADDR, C_COUNT, C_TRACE_BYTES,
	C_LOST_BYTES, C_ERRORS, C_OVERFLOWS, C_AUX_TRUNCATED,
	C_AUX_PARTIAL, C_AUX_COLLISION, C_LOST_RECORDS, C_UNKNOWN_TAKEN,
	C_UNMAPPED, C_IDLE,
};


void sa_fleet_hists_fini(struct sa_fleet_hists *hs)
{
	size_t i;

	for (i = 0; i < hs->nr; i++)
		sa_hist__free(hs->h[i]);
	free(hs->h);
	for (i = 0; i < hs->nr_hosts; i++)
		free(hs->hosts[i]);
	free(hs->hosts);
	memset(hs, 0, sizeof(*hs));
}

static int note_host(struct sa_fleet_hists *hs, const char *host)
{
	char **p;
	size_t i;

	for (i = 0; i < hs->nr_hosts; i++)
		if (!strcmp(hs->hosts[i], host))
			return 0;
	p = realloc(hs->hosts, (hs->nr_hosts + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	hs->hosts = p;
	p[hs->nr_hosts] = strdup(host);
	if (!p[hs->nr_hosts])
		return -ENOMEM;
	hs->nr_hosts++;
	return 0;
}

static struct sa_hist *new_window(struct sa_fleet_hists *hs)
{
	struct sa_hist *h;

	if (hs->nr == hs->cap) {
		size_t cap = hs->cap ? 2 * hs->cap : 64;
		void *p = realloc(hs->h, cap * sizeof(*hs->h));

		if (!p)
			return NULL;
		hs->h = p;
		hs->cap = cap;
	}
	h = sa_hist__new();
	if (!h)
		return NULL;
	hs->h[hs->nr++] = h;
	return h;
}

static uint64_t u64(const char *s)
{
	return strtoull(s, NULL, 10);
}

/* A SQL string literal of @s into @b. */
static int sql_str(struct sa_buf *b, const char *s)
{
	int err = sa_buf_add(b, "'", 1);

	for (; *s && !err; s++) {
		if (*s == '\'' || *s == '\\')
			err = sa_buf_add(b, "\\", 1);
		err = err ?: sa_buf_add(b, s, 1);
	}
	return err ?: sa_buf_add(b, "'", 1);
}

/* One row of the answer into the history of its window. */
static int add_row(struct sa_hist *h, char **c)
{
	struct sa_hist_func k = {
		.name = c[C_FUNCTION], .linkage_name = c[C_LINKAGE],
		.binary = c[C_BINARY], .build_id = c[C_BUILD_ID],
		.entry = u64(c[C_ENTRY]),
		.entry_offset = u64(c[C_ENTRY_OFFSET]),
		.is_sink = u64(c[C_IS_SINK]) != 0,
	};
	struct sa_hist_branch tmpl = {
		.offset = u64(c[C_OFFSET]), .iclass = (uint8_t)u64(c[C_ICLASS]),
		.target = u64(c[C_TARGET]), .file = c[C_FILE][0] ?
			c[C_FILE] : NULL,
		.line = (int)u64(c[C_LINE]), .insn = c[C_INSN][0] ?
			c[C_INSN] : NULL,
	};
	struct sa_hist_func *f;
	struct sa_hist_branch *b;
	const char *kind = c[C_KIND];

	if (!strcmp(kind, "window")) {
		struct sa_hist_decode *d = sa_hist_decode_mut(h);

		d->windows = 1;
		d->instructions = u64(c[C_INSNS]);
		d->trace_bytes = u64(c[C_TRACE_BYTES]);
		d->lost_bytes = u64(c[C_LOST_BYTES]);
		d->errors = u64(c[C_ERRORS]);
		d->overflows = u64(c[C_OVERFLOWS]);
		d->aux_truncated = u64(c[C_AUX_TRUNCATED]);
		d->aux_partial = u64(c[C_AUX_PARTIAL]);
		d->aux_collision = u64(c[C_AUX_COLLISION]);
		d->lost_records = u64(c[C_LOST_RECORDS]);
		d->unknown_taken = u64(c[C_UNKNOWN_TAKEN]);
		d->unmapped = u64(c[C_UNMAPPED]);
		d->idle_windows = u64(c[C_IDLE]) ? 1 : 0;
		return 0;
	}
	f = sa_hist_get_func(h, &k);
	if (!f)
		return -errno;
	f->entry = k.entry;
	if (!strcmp(kind, "function")) {
		f->calls = u64(c[C_CALLS]);
		f->returns = u64(c[C_RETURNS]);
		f->insns = u64(c[C_INSNS]);
		f->sink_entries = u64(c[C_SINK_ENTRIES]);
		f->is_sink = k.is_sink;
		return 0;
	}
	b = sa_hist_get_branch(h, f, &tmpl);
	if (!b)
		return -errno;
	if (!strcmp(kind, "branch")) {
		b->executed = u64(c[C_EXECUTED]);
		b->taken = u64(c[C_TAKEN]);
		b->not_taken = u64(c[C_NOT_TAKEN]);
		b->sink_taken = u64(c[C_SINK_TAKEN]);
		b->sink_not_taken = u64(c[C_SINK_NOT_TAKEN]);
		return 0;
	}
	if (!strcmp(kind, "target")) {
		struct sa_hist_target t = {
			.addr = u64(c[C_T_ADDR]),
			.offset = u64(c[C_T_OFFSET]),
			.sym = c[C_T_SYM][0] ? c[C_T_SYM] : NULL,
			.sym_off = u64(c[C_T_SYM_OFF]),
			.binary = c[C_T_BINARY][0] ? c[C_T_BINARY] : NULL,
			.build_id = c[C_T_BUILD_ID],
		};

		return sa_hist_add_target(h, b, &t, u64(c[C_COUNT]));
	}
	return -SA_ERR_FORMAT;
}

int sa_fleet_parse_rows(char *buf, size_t len,
			struct sa_fleet_hists *hs, uint64_t *rows,
			struct sa_errinfo *ei)
{
	char *cur = buf, *end = buf + len, *c[NR_COLS];
	char last_host[512] = "";
	uint64_t last_wid = 0, line = 0;
	struct sa_hist *h = NULL;
	char term;
	int err = 0, i;

	while (cur < end && !err) {
		line++;
		if (++*rows > SA_FLEET_MAX_LOAD_ROWS)
			return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				"more than %d rows to load: narrow the "
				"analysis (--since)", SA_FLEET_MAX_LOAD_ROWS);
		term = '\t';
		for (i = 0; i < NR_COLS && term == '\t' && cur < end; i++)
			c[i] = sa_fleet_tsv_field(&cur, end, &term);
		if (i < NR_COLS || term != '\n')
			return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
				"ClickHouse answer, line %" PRIu64 ": %d "
				"columns, expected %d", line, i, NR_COLS);
		if (!h || u64(c[C_WID]) != last_wid ||
		    strcmp(c[C_HOST], last_host)) {
			h = new_window(hs);
			if (!h)
				return -ENOMEM;
			last_wid = u64(c[C_WID]);
			snprintf(last_host, sizeof(last_host), "%s",
				 c[C_HOST]);
			err = note_host(hs, c[C_HOST]);
			if (err)
				return err;
		}
		err = add_row(h, c);
		if (err == -SA_ERR_FORMAT)
			sa_errinfo_set(ei, err, SA_NO_OFFSET,
				       "ClickHouse answer, line %" PRIu64
				       ": unknown row kind '%s'", line,
				       c[C_KIND]);
	}
	return err;
}

/* Loads the windows that @where selects, one history each. */
static int load(struct sa_fleet *fl, const char *where,
		struct sa_fleet_hists *hs, uint64_t *rows,
		struct sa_errinfo *ei)
{
	struct sa_buf sql = { 0 }, ans = { 0 };
	int err;

	/* DISTINCT: a window two senders stored twice counts once even
	 * before ReplacingMergeTree merged the copies
	 */
	err = sa_buf_printf(&sql, "SELECT DISTINCT %s FROM %s.rows WHERE %s "
			    "ORDER BY host, wid, kind FORMAT TabSeparated",
			    sa_fleet_cols, sa_fleet_db(fl), where);
	err = err ?: sa_fleet_http(fl, sql.p, NULL, 0, &ans, ei);
	sa_buf_fini(&sql);
	if (!err)
		err = sa_fleet_parse_rows(ans.p, ans.len, hs, rows, ei);
	sa_buf_fini(&ans);
	return err;
}

/* Histories with something to compare (or idle windows). */
static size_t usable(struct sa_fleet_hists *hs)
{
	size_t i, n = 0;

	for (i = 0; i < hs->nr; i++) {
		struct sa_hist *h = hs->h[i];

		if (sa_hist_nr_functions(h) ||
		    sa_hist_decode(h)->idle_windows)
			hs->h[n++] = h;
		else
			sa_hist__free(h);
	}
	hs->nr = n;
	return n;
}

int sa_fleet_analyze(struct sa_fleet *fl, const struct sa_fleet_analysis *q,
		     struct sa_anomaly_list **out, struct sa_fleet_result *res,
		     struct sa_errinfo *ei)
{
	struct sa_buf cw = { 0 }, bw = { 0 };
	struct sa_fleet_hists cur = { 0 }, base = { 0 };
	struct sa_fleet_result r = { 0 };
	struct sa_baseline *bl = NULL;
	char dir[4096], db[4200];
	const char *tmp;
	int err;

	*out = NULL;
	if (!q->host && (!q->build || !q->against))
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "a fleet analysis needs a host, or a "
				      "build and a build to compare with");
	if (q->host) {
		err = sa_buf_add(&cw, "host = ", 7);
		err = err ?: sql_str(&cw, q->host);
		err = err ?: sa_buf_add(&bw, "host != ", 8);
		err = err ?: sql_str(&bw, q->host);
	} else {
		err = sa_buf_add(&bw, "1", 1);
	}
	if (q->since) {
		err = err ?: sa_buf_printf(&cw, " AND time >= toDateTime(%lld)",
					   (long long)q->since);
		err = err ?: sa_buf_printf(&bw, " AND time >= toDateTime(%lld)",
					   (long long)q->since);
	}
	if (err)
		goto out;
	if (q->host)
		err = load(fl, cw.p, &cur, &r.rows, ei);
	err = err ?: load(fl, bw.p, &base, &r.rows, ei);
	if (err)
		goto out;
	r.cur_windows = usable(&cur);
	r.base_windows = usable(&base);
	r.base_hosts = base.nr_hosts;
	if (q->host && !r.cur_windows) {
		err = sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
				     "no window of host '%s' in %s at %s",
				     q->host, sa_fleet_db(fl), "ClickHouse");
		goto out;
	}
	if (!r.base_windows) {
		err = sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
				     "no window %s%s%s in %s to compare with",
				     q->host ? "of another host than '" : "",
				     q->host ? q->host : "",
				     q->host ? "'" : "", sa_fleet_db(fl));
		goto out;
	}

	tmp = q->tmpdir ? q->tmpdir : getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/sa-fleet-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		err = sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				     "temporary directory %s: %s", dir,
				     strerror(errno));
		goto out;
	}
	snprintf(db, sizeof(db), "%s/fleet.db", dir);
	bl = sa_baseline__open(db, SA_BASELINE_CREATE, ei);
	if (!bl) {
		err = -errno;
		goto rm;
	}
	/* every window of the fleet counts the same, whatever its age */
	err = sa_baseline_set_half_life(bl, 0);
	err = err ?: sa_baseline_add(bl, base.h, base.nr, ei);
	if (err)
		goto rm;
	if (q->host)
		err = sa_anomaly_detect(bl, cur.h, cur.nr, &q->detect, out,
					ei);
	else
		err = sa_anomaly_diff_builds(bl, q->against, q->build,
					     &q->detect, out, ei);
rm:
	sa_baseline__free(bl);
	unlink(db);
	{
		static const char *const sfx[] = { "-journal", "-wal", "-shm" };
		char side[4300];
		size_t i;

		for (i = 0; i < 3; i++) {
			snprintf(side, sizeof(side), "%s%s", db, sfx[i]);
			unlink(side);
		}
	}
	rmdir(dir);
out:
	if (res)
		*res = r;
	sa_buf_fini(&cw);
	sa_buf_fini(&bw);
	sa_fleet_hists_fini(&cur);
	sa_fleet_hists_fini(&base);
	return err;
}
