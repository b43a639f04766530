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
