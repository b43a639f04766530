// SPDX-License-Identifier: BSD-2-Clause
/*
 * The fleet store on ClickHouse: the HTTP client (libcurl), the schema,
 * and pushing windows with a spool for when the server is away.
 *
 * Idempotence: every row of a window is in one INSERT, which ClickHouse
 * writes as one block, so one part of the MergeTree, or nothing: a
 * window is stored whole or not at all.  Before an INSERT the client
 * asks which of its windows are stored already and leaves them out; a
 * window whose INSERT got no answer (the server died) is asked about
 * again when it is resent.  docs/fleet.md says what this does and does
 * not cover.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "sensor/file.h"
#include "gzip.h"
#include "fleet_int.h"

#define SA_FLEET_MAX_ANSWER (1ull << 31)

struct sa_fleet {
	char *url;
	char *db;
	char *host;
	char *spool_dir;
	uint64_t spool_max;
	unsigned batch;
	long timeout_ms, retry_ms;
	CURL *curl;
	struct sa_fleet_win *q;
	size_t nr_q, cap_q;
	struct timespec retry_at;	/* no request before this */
	bool refused;		/* the last INSERT's rows were refused */
	int ch_code;		/* ClickHouse's code of the last error */
	struct sa_fleet_stats st;
	int abort_req;		/* sa_fleet__abort(): atomic */
};

const char sa_fleet_cols[] =
	"time, host, wid, kind, build_id, binary, function, linkage_name, "
	"entry, entry_offset, offset, iclass, file, line, insn, target, "
	"executed, taken, not_taken, sink_taken, sink_not_taken, calls, "
	"returns, insns, sink_entries, is_sink, t_binary, t_build_id, "
	"t_offset, t_sym, t_sym_off, t_addr, count, trace_bytes, lost_bytes, "
	"errors, overflows, aux_truncated, aux_partial, aux_collision, "
	"lost_records, unknown_taken, unmapped, idle";

/* --- buffers --- */

int sa_buf_add(struct sa_buf *b, const void *s, size_t n)
{
	size_t max = b->max ? b->max : SA_FLEET_MAX_ANSWER;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > max) {
			if (b->len + n + 1 > max)
				return -SA_ERR_TOOBIG;
			cap = max;
		}
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int sa_buf_printf(struct sa_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(tmp))
		return sa_buf_add(b, tmp, (size_t)n);
	{
		char *big = malloc((size_t)n + 1);
		int err;

		if (!big)
			return -ENOMEM;
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		err = sa_buf_add(b, big, (size_t)n);
		free(big);
		return err;
	}
}

void sa_buf_fini(struct sa_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ClickHouse's TabSeparated escapes. */
static int tsv_str(struct sa_buf *b, const char *s)
{
	const char *run = s;
	int err = 0;

	if (!s)
		return 0;
	for (; *s && !err; s++) {
		static const char special[] = "\\\t\n\r", code[] = "\\tnr";
		const char *k = strchr(special, *s);
		char esc[2] = { '\\' };

		if (!k)
			continue;
		esc[1] = code[k - special];
		err = sa_buf_add(b, run, (size_t)(s - run));
		if (!err)
			err = sa_buf_add(b, esc, 2);
		run = s + 1;
	}
	if (!err)
		err = sa_buf_add(b, run, strlen(run));
	return err;
}

char *sa_fleet_tsv_field(char **cur, char *end, char *term)
{
	char *s = *cur, *d = *cur, *start = *cur;

	while (s < end && *s != '\t' && *s != '\n') {
		if (*s == '\\' && s + 1 < end) {
			static const char code[] = "tnr0bf";
			static const char value[] = "\t\n\r\0\b\f";
			const char *k = s[1] ? strchr(code, s[1]) : NULL;

			*d++ = k ? value[k - code] : s[1];
			s += 2;
			continue;
		}
		*d++ = *s++;
	}
	*term = s < end ? *s : '\0';
	*cur = s < end ? s + 1 : s;
	if (d < end)
		*d = '\0';
	return start;
}

/* --- rows --- */

enum { K_WINDOW = 1, K_FUNCTION, K_BRANCH, K_TARGET };
static const char *const kind_names[] = {
	NULL, "window", "function", "branch", "target"
};

struct frow {
	int kind;
	const char *build_id, *binary, *function, *linkage_name;
	uint64_t entry, entry_offset, offset;
	unsigned iclass;
	const char *file;
	int line;
	const char *insn;
	uint64_t target, executed, taken, not_taken, sink_taken,
		sink_not_taken, calls, returns, insns, sink_entries;
	unsigned is_sink;
	const char *t_binary, *t_build_id;
	uint64_t t_offset;
	const char *t_sym;
	uint64_t t_sym_off, t_addr, count;
	const struct sa_hist_decode *d;
};

static int put_row(struct sa_buf *b, time_t t, const char *host,
		   uint64_t wid, const struct frow *r)
{
	const struct sa_hist_decode *d = r->d;
	int err;

	err = sa_buf_printf(b, "%lld\t", (long long)t);
	err = err ?: tsv_str(b, host);
	err = err ?: sa_buf_printf(b, "\t%" PRIu64 "\t%s\t", wid,
				   kind_names[r->kind]);
	err = err ?: tsv_str(b, r->build_id);
	err = err ?: sa_buf_add(b, "\t", 1);
	err = err ?: tsv_str(b, r->binary);
	err = err ?: sa_buf_add(b, "\t", 1);
	err = err ?: tsv_str(b, r->function);
	err = err ?: sa_buf_add(b, "\t", 1);
	err = err ?: tsv_str(b, r->linkage_name);
	err = err ?: sa_buf_printf(b, "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
				   "\t%u\t", r->entry, r->entry_offset,
				   r->offset, r->iclass);
	err = err ?: tsv_str(b, r->file);
	err = err ?: sa_buf_printf(b, "\t%u\t", r->line > 0 ? r->line : 0);
	err = err ?: tsv_str(b, r->insn);
	err = err ?: sa_buf_printf(b,
		"\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		"\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		"\t%" PRIu64 "\t%" PRIu64 "\t%u\t",
		r->target, r->executed, r->taken, r->not_taken, r->sink_taken,
		r->sink_not_taken, r->calls, r->returns, r->insns,
		r->sink_entries, r->is_sink);
	err = err ?: tsv_str(b, r->t_binary);
	err = err ?: sa_buf_add(b, "\t", 1);
	err = err ?: tsv_str(b, r->t_build_id);
	err = err ?: sa_buf_printf(b, "\t%" PRIu64 "\t", r->t_offset);
	err = err ?: tsv_str(b, r->t_sym);
	err = err ?: sa_buf_printf(b, "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64,
				   r->t_sym_off, r->t_addr, r->count);
	if (d)
		err = err ?: sa_buf_printf(b,
			"\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
			"\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
			"\t%" PRIu64 "\t%" PRIu64 "\t%u\n",
			d->trace_bytes, d->lost_bytes, d->errors, d->overflows,
			d->aux_truncated, d->aux_partial, d->aux_collision,
			d->lost_records, d->unknown_taken, d->unmapped,
			(unsigned)(d->idle_windows && !d->instructions));
	else
		err = err ?: sa_buf_add(b,
					"\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\n",
					23);
	return err;
}

static bool known(const struct sa_hist_func *f)
{
	return f->name && f->binary && strcmp(f->binary, "[unknown]");
}

/* Every row of one window: the window's counters, then per function its
 * counts, its branches and their indirect targets.
 */
static int window_rows(const struct sa_hist *h, uint64_t wid, time_t t,
		       const char *host, struct sa_buf *b, size_t *nrows)
{
	const struct sa_hist_decode *d = sa_hist_decode(h);
	size_t i, j, k, n = sa_hist_nr_functions(h);
	struct frow w = { .kind = K_WINDOW, .d = d,
			  .insns = d->instructions };
	int err;

	*nrows = 1;
	err = put_row(b, t, host, wid, &w);
	for (i = 0; i < n && !err; i++) {
		const struct sa_hist_func *f = sa_hist_function(h, i);
		struct frow r = {
			.kind = K_FUNCTION, .build_id = f->build_id,
			.binary = f->binary, .function = f->name,
			.linkage_name = f->linkage_name, .entry = f->entry,
			.entry_offset = f->entry_offset, .calls = f->calls,
			.returns = f->returns, .insns = f->insns,
			.sink_entries = f->sink_entries, .is_sink = f->is_sink,
		};

		if (!known(f))
			continue;
		err = put_row(b, t, host, wid, &r);
		(*nrows)++;
		for (j = 0; j < f->nr_branches && !err; j++) {
			const struct sa_hist_branch *br = &f->branches[j];
			struct frow x = r;

			x.kind = K_BRANCH;
			x.calls = x.returns = x.insns = x.sink_entries = 0;
			x.is_sink = 0;
			x.offset = br->offset;
			x.iclass = br->iclass;
			x.file = br->file;
			x.line = br->line;
			x.insn = br->insn;
			x.target = br->target;
			x.executed = br->executed;
			x.taken = br->taken;
			x.not_taken = br->not_taken;
			x.sink_taken = br->sink_taken;
			x.sink_not_taken = br->sink_not_taken;
			err = put_row(b, t, host, wid, &x);
			(*nrows)++;
			for (k = 0; k < br->nr_targets && !err; k++) {
				const struct sa_hist_target *tg =
					&br->targets[k];
				struct frow y = r;

				y.kind = K_TARGET;
				y.calls = y.returns = y.insns = 0;
				y.sink_entries = 0;
				y.is_sink = 0;
				y.offset = br->offset;
				y.t_binary = tg->binary ? tg->binary : "";
				y.t_build_id = tg->build_id;
				y.t_offset = tg->offset;
				y.t_sym = tg->sym;
				y.t_sym_off = tg->sym_off;
				y.t_addr = tg->addr;
				y.count = tg->count;
				err = put_row(b, t, host, wid, &y);
				(*nrows)++;
			}
		}
	}
	return err;
}

/* --- HTTP --- */

void sa_fleet__abort(struct sa_fleet *fl, bool on)
{
	__atomic_store_n(&fl->abort_req, on, __ATOMIC_RELAXED);
}

/* libcurl calls it at least once a second: an abort ends the request. */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	const struct sa_fleet *fl = ctx;

	return __atomic_load_n(&fl->abort_req, __ATOMIC_RELAXED) ? 1 : 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sa_buf *b = ctx;

	if (sa_buf_add(b, p, size * n))
		return 0;
	return size * n;
}

const char *sa_fleet_db(const struct sa_fleet *fl)
{
	return fl->db;
}

int sa_fleet_http(struct sa_fleet *fl, const char *sql, const char *body,
		  size_t len, struct sa_buf *out, struct sa_errinfo *ei)
{
	struct sa_buf url = { 0 }, ans = { 0 }, gz = { 0 };
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *esc = NULL, *p;
	long code = 0;
	CURLcode rc;
	int err;

	esc = curl_easy_escape(fl->curl, sql, 0);
	if (!esc)
		return -ENOMEM;
	/* the database of the URL is the default of unqualified names; a
	 * block per INSERT (up to our cap); Distributed INSERTs wait for
	 * the shards, so that success means stored
	 */
	err = sa_buf_printf(&url, "%s/?max_insert_block_size=%d"
			    "&insert_distributed_sync=1&query=", fl->url,
			    SA_FLEET_MAX_INSERT_ROWS + 1);
	err = err ?: sa_buf_add(&url, esc, strlen(esc));
	curl_free(esc);
	if (err)
		goto out;
	curl_easy_reset(fl->curl);
	curl_easy_setopt(fl->curl, CURLOPT_URL, url.p);
	curl_easy_setopt(fl->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(fl->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(fl->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 fl->timeout_ms < 2000 ? fl->timeout_ms : 2000L);
	curl_easy_setopt(fl->curl, CURLOPT_TIMEOUT_MS, fl->timeout_ms);
	curl_easy_setopt(fl->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(fl->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(fl->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(fl->curl, CURLOPT_XFERINFODATA, fl);
	if (body && len) {
		/* a body is rows, @sql their INSERT (in the URL);
		 * ClickHouse reads it gzip'ed (TSV rows shrink about 6 times)
		 */
		err = sa_gzip(body, len, &gz.p, &gz.len);
		gz.cap = gz.len;
		if (!err) {
			hdrs = curl_slist_append(NULL,
						 "Content-Encoding: gzip");
			if (!hdrs)
				err = -ENOMEM;
		}
		if (err)
			goto out;
		body = gz.p;
		len = gz.len;
		fl->st.bytes_wire += len;
		curl_easy_setopt(fl->curl, CURLOPT_HTTPHEADER, hdrs);
	}
	curl_easy_setopt(fl->curl, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(fl->curl, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)(body ? len : 0));
	curl_easy_setopt(fl->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(fl->curl, CURLOPT_WRITEDATA, &ans);
	rc = curl_easy_perform(fl->curl);
	if (rc != CURLE_OK) {
		switch (rc) {
		case CURLE_COULDNT_CONNECT:
			err = -ECONNREFUSED;
			break;
		case CURLE_OPERATION_TIMEDOUT:
			err = -ETIMEDOUT;
			break;
		case CURLE_GOT_NOTHING:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_PARTIAL_FILE:
			err = -ECONNRESET;
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
			err = -EHOSTUNREACH;
			break;
		case CURLE_WRITE_ERROR:
			err = -SA_ERR_TOOBIG;
			break;
		case CURLE_OUT_OF_MEMORY:
			err = -ENOMEM;
			break;
		case CURLE_ABORTED_BY_CALLBACK:
			err = -ECANCELED;	/* sa_fleet__abort() */
			break;
		default:
			err = -EIO;
			break;
		}
		fl->st.requests_failed++;
		if (err == -ECANCELED)
			snprintf(errbuf, sizeof(errbuf), "no answer yet; the "
				 "request was abandoned (the sender stopped)");
		sa_errinfo_set(ei, err, SA_NO_OFFSET,
			       "ClickHouse at %s: %s", fl->url,
			       errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(fl->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		size_t n = ans.len;

		while (n && (ans.p[n - 1] == '\n' || ans.p[n - 1] == ' '))
			n--;
		fl->st.requests_failed++;
		p = ans.p ? strstr(ans.p, "Code: ") : NULL;
		fl->ch_code = p ? atoi(p + 6) : 0;
		err = sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
				     "ClickHouse at %s answered %ld: %.*s",
				     fl->url, code, (int)(n < 240 ? n : 240),
				     ans.p ? ans.p : "");
		goto out;
	}
	if (out) {
		if (!ans.p)
			err = sa_buf_add(&ans, "", 0);
		*out = ans;
		memset(&ans, 0, sizeof(ans));
	}
out:
	curl_slist_free_all(hdrs);
	sa_buf_fini(&gz);
	sa_buf_fini(&url);
	sa_buf_fini(&ans);
	return err;
}

int sa_fleet_query(struct sa_fleet *fl, const char *sql, char **out,
		   size_t *len, struct sa_errinfo *ei)
{
	struct sa_buf b = { 0 };
	int err;

	err = sa_fleet_http(fl, sql, NULL, 0, &b, ei);
	if (err)
		return err;
	*out = b.p;
	if (len)
		*len = b.len;
	return 0;
}

/* --- the object --- */

static int spool_scan(struct sa_fleet *fl)
{
	struct dirent *de;
	DIR *d;

	fl->st.spool_bytes = 0;
	d = opendir(fl->spool_dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct stat sb;
		size_t l = strlen(de->d_name);

		if (l < 4 || strcmp(de->d_name + l - 4, ".tsv") ||
		    fstatat(dirfd(d), de->d_name, &sb, 0) ||
		    !S_ISREG(sb.st_mode))
			continue;
		fl->st.spool_bytes += (uint64_t)sb.st_size;
	}
	closedir(d);
	return 0;
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
		      ('0' <= *s && *s <= '9') || *s == '_'))
			return false;
	return true;
}

struct sa_fleet *sa_fleet__new(const struct sa_fleet_opts *o,
			       struct sa_errinfo *ei)
{
	struct sa_fleet *fl;
	char hostbuf[256];
	size_t n;
	int err;

	if (!o->url || (strncmp(o->url, "http://", 7) &&
			strncmp(o->url, "https://", 8))) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "ClickHouse URL '%s': expected "
			       "http://HOST:PORT (its HTTP interface)",
			       o->url ? o->url : "");
		errno = SA_ERR_INVAL;
		return NULL;
	}
	if (o->database && !valid_name(o->database)) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "database name '%s': letters, digits and _ "
			       "only", o->database);
		errno = SA_ERR_INVAL;
		return NULL;
	}
	/* reference-counted (and thread-safe since curl 7.84) */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		errno = ENOMEM;
		return NULL;
	}
	fl = calloc(1, sizeof(*fl));
	if (!fl) {
		curl_global_cleanup();
		return NULL;
	}
	fl->url = strdup(o->url);
	fl->db = strdup(o->database ? o->database : SA_FLEET_DEF_DATABASE);
	if (o->host) {
		fl->host = strdup(o->host);
	} else {
		if (gethostname(hostbuf, sizeof(hostbuf)))
			snprintf(hostbuf, sizeof(hostbuf), "localhost");
		hostbuf[sizeof(hostbuf) - 1] = '\0';
		fl->host = strdup(hostbuf);
	}
	fl->curl = curl_easy_init();
	if (!fl->url || !fl->db || !fl->host || !fl->curl)
		goto nomem;
	n = strlen(fl->url);
	while (n && fl->url[n - 1] == '/')
		fl->url[--n] = '\0';
	fl->spool_max = o->spool_max ? o->spool_max : SA_FLEET_DEF_SPOOL_MAX;
	fl->batch = o->batch ? o->batch : SA_FLEET_DEF_BATCH;
	fl->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	fl->retry_ms = o->retry_ms > 0 ? o->retry_ms : 5000;
	if (o->spool_dir) {
		fl->spool_dir = strdup(o->spool_dir);
		if (!fl->spool_dir)
			goto nomem;
		err = sa_dir_create_all(fl->spool_dir);
		err = err ?: spool_scan(fl);
		if (err) {
			sa_errinfo_set(ei, err, SA_NO_OFFSET,
				       "spool directory %s: %s", o->spool_dir,
				       sa_strerror(err));
			sa_fleet__free(fl);
			errno = -err;
			return NULL;
		}
	}
	return fl;
nomem:
	sa_fleet__free(fl);
	errno = ENOMEM;
	return NULL;
}

long sa_fleet__retry_ms(const struct sa_fleet *fl)
{
	return fl->retry_ms;
}

const char *sa_fleet_host(const struct sa_fleet *fl)
{
	return fl->host;
}

void sa_fleet_stats(const struct sa_fleet *fl, struct sa_fleet_stats *st)
{
	*st = fl->st;
}

void sa_fleet__win_free(struct sa_fleet_win *w)
{
	free(w->body);
	free(w->spool_path);
	memset(w, 0, sizeof(*w));
}

void sa_fleet__free(struct sa_fleet *fl)
{
	size_t i;

	if (!fl)
		return;
	if (fl->nr_q)
		sa_fleet_flush(fl, NULL);
	for (i = 0; i < fl->nr_q; i++)
		sa_fleet__win_free(&fl->q[i]);
	free(fl->q);
	if (fl->curl)
		curl_easy_cleanup(fl->curl);
	free(fl->url);
	free(fl->db);
	free(fl->host);
	free(fl->spool_dir);
	free(fl);
	curl_global_cleanup();
}

/* --- the schema --- */

static int exec_sql(struct sa_fleet *fl, struct sa_errinfo *ei,
		    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int exec_sql(struct sa_fleet *fl, struct sa_errinfo *ei,
		    const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return -SA_ERR_TOOBIG;
	return sa_fleet_http(fl, sql, NULL, 0, NULL, ei);
}

#define ROWS_COLUMNS \
	"day Date DEFAULT toDate(time), time DateTime, host String, " \
	"wid UInt64, kind Enum8('window' = 1, 'function' = 2, " \
	"'branch' = 3, 'target' = 4), build_id String, binary String, " \
	"function String, linkage_name String, entry UInt64, " \
	"entry_offset UInt64, offset UInt64, iclass UInt8, file String, " \
	"line UInt32, insn String, target UInt64, executed UInt64, " \
	"taken UInt64, not_taken UInt64, sink_taken UInt64, " \
	"sink_not_taken UInt64, calls UInt64, returns UInt64, " \
	"insns UInt64, sink_entries UInt64, is_sink UInt8, " \
	"t_binary String, t_build_id String, t_offset UInt64, " \
	"t_sym String, t_sym_off UInt64, t_addr UInt64, count UInt64, " \
	"trace_bytes UInt64, lost_bytes UInt64, errors UInt64, " \
	"overflows UInt64, aux_truncated UInt64, aux_partial UInt64, " \
	"aux_collision UInt64, lost_records UInt64, " \
	"unknown_taken UInt64, unmapped UInt64, idle UInt8"

#define TOTALS_COLUMNS \
	"build_id String, binary String, function String, offset UInt64, " \
	"file String, line UInt32, iclass UInt8, executed UInt64, " \
	"taken UInt64, not_taken UInt64, sink_taken UInt64, " \
	"sink_not_taken UInt64, samples UInt64"

/* the columns summed: without the list, SummingMergeTree would add up
 * every numeric column outside the key, line and iclass too
 */
#define TOTALS_SUMMED \
	"SummingMergeTree((executed, taken, not_taken, sink_taken, " \
	"sink_not_taken, samples))"

#define TOTALS_SELECT \
	"build_id, binary, function, offset, file, line, iclass, " \
	"executed, taken, not_taken, sink_taken, sink_not_taken, " \
	"toUInt64(1) AS samples"

static int check_version(struct sa_fleet *fl, bool cluster,
			 struct sa_errinfo *ei)
{
	struct sa_buf b = { 0 };
	char sql[512];
	unsigned v = 0;
	int c = 0, err;

	snprintf(sql, sizeof(sql),
		 "SELECT max(version), max(cluster) FROM %s.schema_version "
		 "FORMAT TabSeparated", fl->db);
	err = sa_fleet_http(fl, sql, NULL, 0, &b, ei);
	if (err)
		return err;
	if (sscanf(b.p, "%u\t%d", &v, &c) != 2)
		v = 0;
	sa_buf_fini(&b);
	if (!v)
		return 0;	/* new: the caller records it */
	if (v != SA_FLEET_SCHEMA_VERSION)
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
			"database %s at %s holds fleet schema version %u; "
			"this sensor-agent writes version %d: use another "
			"database (--database)", fl->db, fl->url, v,
			SA_FLEET_SCHEMA_VERSION);
	if (!c != !cluster)
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
			"database %s at %s was created %s a cluster; "
			"use another database (--database)", fl->db,
			fl->url, c ? "with" : "without");
	return 1;
}

int sa_fleet_init(struct sa_fleet *fl, const char *cluster,
		  struct sa_errinfo *ei)
{
	const char *sfx = cluster ? "_local" : "";
	const char *db = fl->db;
	int err;

	if (cluster && !valid_name(cluster))
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "cluster name '%s': letters, digits "
				      "and _ only", cluster);
	err = exec_sql(fl, ei, "CREATE DATABASE IF NOT EXISTS %s", db);
	err = err ?: exec_sql(fl, ei,
		"CREATE TABLE IF NOT EXISTS %s.schema_version (version "
		"UInt32, cluster UInt8, created DateTime) ENGINE = TinyLog",
		db);
	if (err)
		return err;
	err = check_version(fl, cluster, ei);
	if (err < 0)
		return err;
	/* One row per window, function, branch and indirect target; rows
	 * are replaced (not summed) by their identity, so a window stored
	 * twice by two racing senders still counts once after a merge.
	 */
	err = exec_sql(fl, ei,
		"CREATE TABLE IF NOT EXISTS %s.rows%s (" ROWS_COLUMNS ") "
		"ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(day) "
		"ORDER BY (host, wid, kind, build_id, binary, entry_offset, "
		"linkage_name, offset, t_build_id, t_binary, t_offset)",
		db, sfx);
	err = err ?: exec_sql(fl, ei,
		"CREATE TABLE IF NOT EXISTS %s.branch_totals%s "
		"(" TOTALS_COLUMNS ") ENGINE = " TOTALS_SUMMED " "
		"ORDER BY (build_id, binary, function, offset)", db, sfx);
	err = err ?: exec_sql(fl, ei,
		"CREATE TABLE IF NOT EXISTS %s.host_branch_totals%s "
		"(host String, " TOTALS_COLUMNS ") ENGINE = "
		TOTALS_SUMMED " ORDER BY (host, build_id, binary, "
		"function, offset)", db, sfx);
	err = err ?: exec_sql(fl, ei,
		"CREATE MATERIALIZED VIEW IF NOT EXISTS %s.branch_totals_mv "
		"TO %s.branch_totals%s AS SELECT " TOTALS_SELECT " FROM "
		"%s.rows%s WHERE kind = 'branch'", db, db, sfx, db, sfx);
	err = err ?: exec_sql(fl, ei,
		"CREATE MATERIALIZED VIEW IF NOT EXISTS "
		"%s.host_branch_totals_mv TO %s.host_branch_totals%s AS "
		"SELECT host, " TOTALS_SELECT " FROM %s.rows%s WHERE kind = "
		"'branch'", db, db, sfx, db, sfx);
	if (!err && cluster) {
		static const char *const names[] = {
			"rows", "branch_totals", "host_branch_totals"
		};
		size_t i;

		for (i = 0; i < 3 && !err; i++)
			err = exec_sql(fl, ei,
				"CREATE TABLE IF NOT EXISTS %s.%s AS "
				"%s.%s_local ENGINE = Distributed(%s, %s, "
				"%s_local, cityHash64(%s))", db, names[i],
				db, names[i], cluster, db, names[i],
				i == 1 ? "build_id" : "host");
	}
	if (err)
		return err;
	return exec_sql(fl, ei,
		"INSERT INTO %s.schema_version SELECT %d, %d, now() FROM "
		"system.one WHERE (SELECT count() FROM %s.schema_version) "
		"= 0", db, SA_FLEET_SCHEMA_VERSION, cluster ? 1 : 0, db);
}

/* --- window ids --- */

int sa_fleet_window_id(const char *host, const char *path, uint64_t *id,
		       struct sa_errinfo *ei)
{
	/* FNV-1a, 64 bits, over the host name, a NUL, and the file */
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned char buf[65536];
	const char *s;
	ssize_t n;
	int fd;

	for (s = host; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	h = (h ^ 0) * 0x100000001b3ull;
	fd = sa_file_open_input(path, 0);
	if (fd < 0)
		return sa_errinfo_set(ei, fd, SA_NO_OFFSET, "%s: %s", path,
				      sa_strerror(fd));
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t i;

		for (i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
	}
	if (n < 0) {
		int err = -errno;

		close(fd);
		return sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", path,
				      sa_strerror(err));
	}
	close(fd);
	*id = h;
	return 0;
}

/* --- sending --- */

static bool waiting(const struct sa_fleet *fl)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < fl->retry_at.tv_sec ||
	       (now.tv_sec == fl->retry_at.tv_sec &&
		now.tv_nsec < fl->retry_at.tv_nsec);
}

static void back_off(struct sa_fleet *fl)
{
	clock_gettime(CLOCK_MONOTONIC, &fl->retry_at);
	fl->retry_at.tv_sec += fl->retry_ms / 1000;
	fl->retry_at.tv_nsec += (fl->retry_ms % 1000) * 1000000;
	if (fl->retry_at.tv_nsec >= 1000000000) {
		fl->retry_at.tv_sec++;
		fl->retry_at.tv_nsec -= 1000000000;
	}
}

/* Writes a queued window to the spool (atomically: a temporary name,
 * then rename), or drops it when the spool is full or absent.
 */
static void spool(struct sa_fleet *fl, struct sa_fleet_win *w)
{
	char path[4200], tmp[4300];
	ssize_t n;
	size_t off = 0;
	int fd;

	if (w->spool_path)
		return;		/* it is there already */
	if (!fl->spool_dir || fl->st.spool_bytes + w->len > fl->spool_max) {
		fl->st.windows_dropped++;
		return;
	}
	snprintf(path, sizeof(path), "%s/%016" PRIx64 ".tsv", fl->spool_dir,
		 w->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = sa_file_create(tmp, O_WRONLY | O_TRUNC);
	if (fd < 0) {
		fl->st.windows_dropped++;
		return;
	}
	while (off < w->len) {
		n = write(fd, w->body + off, w->len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (close(fd) || off < w->len || rename(tmp, path)) {
		unlink(tmp);
		fl->st.windows_dropped++;
		return;
	}
	fl->st.windows_spooled++;
	fl->st.spool_bytes += w->len;
}

/* ClickHouse's error codes for input it cannot read: 6, 25, 26, 27, 32,
 * 33, 38, 41, 72, 117, 131 (CANNOT_PARSE_TEXT, ..._ESCAPE_SEQUENCE,
 * ..._QUOTED_STRING, ..._INPUT_ASSERTION_FAILED, ATTEMPT_TO_READ_AFTER_EOF,
 * CANNOT_READ_ALL_DATA, CANNOT_PARSE_DATE, ..._DATETIME, ..._NUMBER,
 * INCORRECT_DATA, TOO_LARGE_STRING_SIZE) and 49, which 18.16 answers for
 * an unknown Enum value.  27, 41 and 49 are what 18.16 answered here to
 * rows with too few or too many columns, a bad number, date or kind.
 * Anything else (too many parts, memory) is the server's state: the
 * windows stay in the spool.
 */
static bool bad_data(int code)
{
	static const int codes[] = { 6, 25, 26, 27, 32, 33, 38, 41, 49, 72,
				     117, 131 };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (code == codes[i])
			return true;
	return false;
}

/* Which of @w's windows are stored; marks them by setting rows to 0. */
static int present(struct sa_fleet *fl, struct sa_fleet_win *w, size_t nr,
		   size_t *left, struct sa_errinfo *ei)
{
	struct sa_buf sql = { 0 }, ans = { 0 };
	char *cur, *end;
	size_t i;
	int err;

	err = sa_buf_printf(&sql, "SELECT DISTINCT wid FROM %s.rows WHERE "
			    "kind = 'window' AND wid IN (", fl->db);
	for (i = 0; i < nr && !err; i++)
		err = sa_buf_printf(&sql, "%s%" PRIu64, i ? ", " : "",
				    w[i].id);
	err = err ?: sa_buf_add(&sql, ") FORMAT TabSeparated", 21);
	err = err ?: sa_fleet_http(fl, sql.p, NULL, 0, &ans, ei);
	sa_buf_fini(&sql);
	if (err)
		return err;
	*left = nr;
	cur = ans.p;
	end = ans.p + ans.len;
	while (cur < end) {
		uint64_t id = strtoull(cur, NULL, 10);

		for (i = 0; i < nr; i++)
			if (w[i].id == id && w[i].rows) {
				w[i].rows = 0;
				(*left)--;
			}
		cur = memchr(cur, '\n', (size_t)(end - cur));
		if (!cur)
			break;
		cur++;
	}
	sa_buf_fini(&ans);
	return 0;
}

/* Sends @nr windows in one INSERT.  On success (or when they are stored
 * already) their spool files go; on failure the caller spools.
 */
static int send_batch(struct sa_fleet *fl, struct sa_fleet_win *w,
		      size_t nr, struct sa_errinfo *ei)
{
	struct sa_buf body = { 0 };
	size_t i, left, rows = 0;
	char sql[512];
	int err;

	err = present(fl, w, nr, &left, ei);
	if (err)
		return err;
	for (i = 0; i < nr && !err; i++) {
		if (!w[i].rows) {
			fl->st.windows_present++;
			continue;
		}
		rows += w[i].rows;
		err = sa_buf_add(&body, w[i].body, w[i].len);
	}
	fl->refused = false;
	if (!err && left) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO %s.rows (%s) FORMAT TabSeparated",
			 fl->db, sa_fleet_cols);
		err = sa_fleet_http(fl, sql, body.p, body.len, NULL, ei);
		/* the table is there (the check read it): was it the
		 * rows it refused, or was it busy (too many parts,
		 * memory)?
		 */
		fl->refused = err == -SA_ERR_FORMAT &&
			      bad_data(fl->ch_code);
	}
	if (!err) {
		fl->st.windows_sent += left;
		fl->st.rows_sent += rows;
		fl->st.bytes_sent += body.len;
		for (i = 0; i < nr; i++) {
			if (w[i].spool_path) {
				if (w[i].rows)
					fl->st.windows_resent++;
				unlink(w[i].spool_path);
				fl->st.spool_bytes -= w[i].len <
					fl->st.spool_bytes ? w[i].len :
					fl->st.spool_bytes;
			}
		}
	}
	sa_buf_fini(&body);
	return err;
}

/* Sends @w[0..nr) in batches of fl->batch windows and at most
 * SA_FLEET_MAX_INSERT_ROWS rows.  Stops at the first failure; *@done
 * says how many were sent.
 */
static int send_all(struct sa_fleet *fl, struct sa_fleet_win *w, size_t nr,
		    size_t *done, struct sa_errinfo *ei)
{
	size_t i = 0;
	int err = 0;

	*done = 0;
	while (i < nr) {
		size_t j = i, rows = 0;

		while (j < nr && j - i < fl->batch &&
		       (j == i || rows + w[j].rows <=
				SA_FLEET_MAX_INSERT_ROWS))
			rows += w[j++].rows;
		err = send_batch(fl, w + i, j - i, ei);
		if (err)
			break;
		i = j;
		*done = i;
	}
	return err;
}

static int load_spool(struct sa_fleet *fl, struct sa_fleet_win **out,
		      size_t *nr)
{
	struct dirent **names = NULL;
	struct sa_fleet_win *w = NULL;
	int i, n, err = 0;
	size_t k = 0;

	*out = NULL;
	*nr = 0;
	n = scandir(fl->spool_dir, &names, NULL, alphasort);
	if (n < 0)
		return -errno;
	w = calloc((size_t)n + 1, sizeof(*w));
	if (!w)
		err = -ENOMEM;
	for (i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		size_t l = strlen(nm);
		char path[4200];
		struct sa_fleet_win *x;
		uint64_t id;
		char *end;
		FILE *f;
		long sz;

		if (err || l != 20 || strcmp(nm + 16, ".tsv"))
			goto next;
		id = strtoull(nm, &end, 16);
		if (end != nm + 16)
			goto next;
		snprintf(path, sizeof(path), "%s/%s", fl->spool_dir, nm);
		f = fopen(path, "re");
		if (!f)
			goto next;
		x = &w[k];
		if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) <= 0 ||
		    fseek(f, 0, SEEK_SET) ||
		    !(x->body = malloc((size_t)sz + 1)) ||
		    fread(x->body, 1, (size_t)sz, f) != (size_t)sz) {
			free(x->body);
			x->body = NULL;
			fclose(f);
			goto next;
		}
		fclose(f);
		x->id = id;
		x->len = (size_t)sz;
		x->body[sz] = '\0';
		for (end = x->body; end < x->body + sz; end++)
			if (*end == '\n')
				x->rows++;
		x->spool_path = strdup(path);
		if (!x->spool_path) {
			sa_fleet__win_free(x);
			err = -ENOMEM;
			goto next;
		}
		k++;
next:
		free(names[i]);
	}
	free(names);
	if (err) {
		for (i = 0; i < (int)k; i++)
			sa_fleet__win_free(&w[i]);
		free(w);
		return err;
	}
	*out = w;
	*nr = k;
	return 0;
}

static int flush_spool(struct sa_fleet *fl, struct sa_errinfo *ei)
{
	struct sa_fleet_win *w;
	size_t i, nr, done;
	int err;

	if (!fl->spool_dir || !fl->st.spool_bytes)
		return 0;
	err = load_spool(fl, &w, &nr);
	if (err)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "spool directory %s: %s",
				      fl->spool_dir, sa_strerror(err));
	err = send_all(fl, w, nr, &done, ei);
	/* A spool file the server refuses (damaged on disk, or written by
	 * another version) must not hold back the others: one at a time,
	 * the refused ones are renamed *.bad and counted as dropped.
	 */
	if (err == -SA_ERR_FORMAT && fl->refused) {
		err = 0;
		for (i = done; i < nr && !err; i++) {
			char bad[4300];

			err = send_batch(fl, &w[i], 1, ei);
			if (err != -SA_ERR_FORMAT || !fl->refused)
				continue;
			snprintf(bad, sizeof(bad), "%s.bad",
				 w[i].spool_path);
			rename(w[i].spool_path, bad);
			fl->st.windows_dropped++;
			fl->st.spool_refused++;
			err = 0;
		}
	}
	for (i = 0; i < nr; i++)
		sa_fleet__win_free(&w[i]);
	free(w);
	if (!err)
		spool_scan(fl);
	return err;
}

int sa_fleet_flush(struct sa_fleet *fl, struct sa_errinfo *ei)
{
	size_t i, done = 0;
	int err = 0;

	if (waiting(fl)) {
		err = sa_errinfo_set(ei, -EAGAIN, SA_NO_OFFSET,
				     "ClickHouse at %s: not tried again "
				     "yet after a failure", fl->url);
	} else {
		err = flush_spool(fl, ei);
		if (!err)
			err = send_all(fl, fl->q, fl->nr_q, &done, ei);
	}
	for (i = done; i < fl->nr_q; i++)
		spool(fl, &fl->q[i]);
	for (i = 0; i < fl->nr_q; i++)
		sa_fleet__win_free(&fl->q[i]);
	fl->nr_q = 0;
	if (!err)
		return 0;
	if (err == -EAGAIN || sa_fleet_transient(err)) {
		if (err != -EAGAIN)
			back_off(fl);
		return 1;
	}
	return err;
}

int sa_fleet__render(const struct sa_fleet *fl, const struct sa_hist *h,
		     uint64_t id, time_t t, struct sa_fleet_win *w,
		     struct sa_errinfo *ei)
{
	struct sa_buf b = { .max = SIZE_MAX / 2 };
	size_t rows;
	int err;

	memset(w, 0, sizeof(*w));
	err = window_rows(h, id, t, fl->host, &b, &rows);
	if (!err && rows > SA_FLEET_MAX_INSERT_ROWS)
		err = sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				     "window %016" PRIx64 " has %zu rows, "
				     "more than one INSERT takes (%d)", id,
				     rows, SA_FLEET_MAX_INSERT_ROWS);
	if (err) {
		sa_buf_fini(&b);
		return err;
	}
	w->id = id;
	w->body = b.p;
	w->len = b.len;
	w->rows = rows;
	return 0;
}

int sa_fleet__enqueue(struct sa_fleet *fl, struct sa_fleet_win *w)
{
	void *p;

	if (fl->nr_q == fl->cap_q) {
		size_t cap = fl->cap_q ? 2 * fl->cap_q : 16;

		p = realloc(fl->q, cap * sizeof(*fl->q));
		if (!p)
			return -ENOMEM;
		fl->q = p;
		fl->cap_q = cap;
	}
	fl->q[fl->nr_q++] = *w;
	memset(w, 0, sizeof(*w));
	return 0;
}

int sa_fleet_add(struct sa_fleet *fl, const struct sa_hist *h, uint64_t id,
		 time_t t, struct sa_errinfo *ei)
{
	struct sa_fleet_win w;
	int err;

	err = sa_fleet__render(fl, h, id, t, &w, ei);
	if (err)
		return err;
	err = sa_fleet__enqueue(fl, &w);
	if (err) {
		sa_fleet__win_free(&w);
		return err;
	}
	if (fl->nr_q >= fl->batch) {
		err = sa_fleet_flush(fl, ei);
		if (err > 0)
			err = 0;
	}
	return err;
}
