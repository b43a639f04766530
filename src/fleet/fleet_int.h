/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private to src/fleet: the client, the TSV buffer, the row layout.
 */
#ifndef SA_FLEET_INT_H
#define SA_FLEET_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensor/fleet.h"

/* A growing text buffer with a cap. */
struct sa_buf {
	char *p;
	size_t len, cap, max;
};

int sa_buf_add(struct sa_buf *b, const void *s, size_t n);
int sa_buf_printf(struct sa_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sa_buf_fini(struct sa_buf *b);

/* The columns of `rows`, in the order of every INSERT and SELECT. */
extern const char sa_fleet_cols[];

/* Unescapes the TSV field at *@cur in place (ClickHouse's escapes),
 * NUL-terminates it, moves *@cur past its separator (stored in *@term:
 * tab, newline, or NUL at @end) and returns it.
 */
char *sa_fleet_tsv_field(char **cur, char *end, char *term);

/* Histories rebuilt from rows: one per window, in the order of the
 * answer, and the distinct hosts they came from.
 */
struct sa_hist;
struct sa_fleet_hists {
	struct sa_hist **h;
	size_t nr, cap;
	char **hosts;
	size_t nr_hosts;
};

/* Parses a TabSeparated answer of SELECT sa_fleet_cols ... ORDER BY host,
 * wid, kind (@buf, @len bytes, NUL at buf[len]; modified in place) into
 * @hs; *@rows counts the rows.  Returns 0, -SA_ERR_FORMAT (@ei names the
 * line), -SA_ERR_TOOBIG past SA_FLEET_MAX_LOAD_ROWS, -ENOMEM.  Outside
 * input: fuzzed (tests/fuzz/fuzz_fleet.c).
 */
int sa_fleet_parse_rows(char *buf, size_t len, struct sa_fleet_hists *hs,
			uint64_t *rows, struct sa_errinfo *ei);
void sa_fleet_hists_fini(struct sa_fleet_hists *hs);

/* One window's rows, queued or loaded from the spool. */
struct sa_fleet_win {
	uint64_t id;
	char *body;		/* TSV rows */
	size_t len;
	size_t rows;
	char *spool_path;	/* when it came from the spool */
};

void sa_fleet__win_free(struct sa_fleet_win *w);

/* The rows of @h into @w (sa_fleet_add() without the queue): reads only
 * what does not change after sa_fleet__new(), so any thread may call it
 * while another one sends.  0, -SA_ERR_TOOBIG, -ENOMEM.
 */
int sa_fleet__render(const struct sa_fleet *fl, const struct sa_hist *h,
		     uint64_t id, time_t t, struct sa_fleet_win *w,
		     struct sa_errinfo *ei);
/* Moves @w into the queue of the next sa_fleet_flush() (0 or -ENOMEM,
 * then @w is still the caller's).
 */
int sa_fleet__enqueue(struct sa_fleet *fl, struct sa_fleet_win *w);

/* Makes the request in flight, and every one after it until called
 * with false, fail at once with -ECANCELED (libcurl's progress
 * callback, at least once a second).  Any thread.
 */
void sa_fleet__abort(struct sa_fleet *fl, bool on);

/* How long a failure holds requests back (sa_fleet_opts.retry_ms). */
long sa_fleet__retry_ms(const struct sa_fleet *fl);

/* The database name. */
const char *sa_fleet_db(const struct sa_fleet *fl);

/* POSTs @sql (and @body, when not NULL, with @sql in the URL) and keeps
 * the answer.  Returns 0, -SA_ERR_FORMAT (the server's exception in
 * @ei), or a transport error (-ECONNREFUSED, -ETIMEDOUT, -ECONNRESET,
 * -EIO) with @ei naming the URL.
 */
int sa_fleet_http(struct sa_fleet *fl, const char *sql, const char *body,
		  size_t len, struct sa_buf *out, struct sa_errinfo *ei);

/* A transport error: the server may come back. */
static inline bool sa_fleet_transient(int err)
{
	return err == -ECONNREFUSED || err == -ETIMEDOUT ||
	       err == -ECONNRESET || err == -EIO || err == -EHOSTUNREACH;
}

#endif /* SA_FLEET_INT_H */
