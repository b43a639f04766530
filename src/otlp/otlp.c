// SPDX-License-Identifier: BSD-2-Clause
/*
 * The OTLP/HTTP exporter: a bounded queue of records and a sender thread
 * that posts them in batches through libcurl, gzip-compressed, with
 * retries (docs/otlp.md).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "sensor/otlp.h"
#include "gzip.h"

#include "otlp_priv.h"

#define RESP_MAX 4096		/* response bytes kept for messages */

struct sa_otlp {
	char *url;
	enum sa_otlp_protocol protocol;
	struct sa_otlp_res res;
	char *strs[6];			/* owned resource strings */
	size_t queue_max, batch_max;
	long connect_ms, timeout_ms;
	int max_retries;
	uint64_t backoff_ms, backoff_max_ms;
	bool gzip;

	pthread_t thread;
	bool started, stopped;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* to the sender: work or stop */
	pthread_cond_t idle;		/* to flush: the queue emptied */
	bool stop;
	/* A ring of queue_max records; the first @inflight of them are
	 * being sent and stay counted in @count until done.
	 */
	struct sa_otlp_rec **ring;
	size_t head, count, inflight;
	uint64_t rand;			/* jitter, xorshift64 */
	struct sa_otlp_stats st;	/* under @lock */

	/* sender thread only */
	CURL *curl;
	struct curl_slist *headers;
	char resp[RESP_MAX];
	size_t resp_len;
};

const char *sa_otlp__severity_text(int sev)
{
	if (sev >= 21)
		return "FATAL";
	if (sev >= 17)
		return "ERROR";
	if (sev >= 13)
		return "WARN";
	if (sev >= 9)
		return "INFO";
	if (sev >= 5)
		return "DEBUG";
	return "TRACE";
}

int sa_otlp_protocol_parse(const char *s, enum sa_otlp_protocol *p,
			   struct sa_errinfo *ei)
{
	if (!strcmp(s, "http/json")) {
		*p = SA_OTLP_HTTP_JSON;
		return 0;
	}
	if (!strcmp(s, "http/protobuf")) {
		if (!sa_otlp_have_protobuf())
			return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED,
				SA_NO_OFFSET, "--otlp-protocol http/protobuf "
				"was not built: the opentelemetry-proto "
				"definitions were absent at build time "
				"(scripts/setup.sh fetches them with npm; "
				"docs/otlp.md); use http/json");
		*p = SA_OTLP_HTTP_PROTOBUF;
		return 0;
	}
	return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			      "bad --otlp-protocol '%s': http/json or "
			      "http/protobuf", s);
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void rec_free(struct sa_otlp_rec *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nr_attrs; i++) {
		free((char *)r->attrs[i].key);
		free((char *)r->attrs[i].s);
	}
	free(r->body);
	free(r);
}

static struct sa_otlp_rec *rec_copy(const struct sa_otlp_record *in)
{
	struct sa_otlp_rec *r;
	size_t i;

	r = calloc(1, sizeof(*r) + in->nr_attrs * sizeof(r->attrs[0]));
	if (!r)
		return NULL;
	r->time_ns = (uint64_t)in->time.tv_sec * 1000000000u +
		     (uint64_t)in->time.tv_nsec;
	r->observed_ns = now_ns(CLOCK_REALTIME);
	r->severity = in->severity;
	r->body = strdup(in->body ? in->body : "");
	if (!r->body)
		goto err;
	for (i = 0; i < in->nr_attrs; i++) {
		const struct sa_otlp_attr *a = &in->attrs[i];

		r->attrs[i] = *a;
		r->attrs[i].s = NULL;
		r->attrs[i].key = strdup(a->key);
		r->nr_attrs = i + 1;
		if (!r->attrs[i].key)
			goto err;
		if (a->type == SA_OTLP_STR) {
			r->attrs[i].s = strdup(a->s ? a->s : "");
			if (!r->attrs[i].s)
				goto err;
		}
	}
	return r;
err:
	rec_free(r);
	return NULL;
}

int sa_otlp_enqueue(struct sa_otlp *ot, const struct sa_otlp_record *r)
{
	struct sa_otlp_rec *c;
	size_t i;

	if (!r || r->nr_attrs > SA_OTLP_MAX_ATTRS ||
	    (r->nr_attrs && !r->attrs) || r->time.tv_sec < 0)
		return -SA_ERR_INVAL;
	for (i = 0; i < r->nr_attrs; i++)
		if (!r->attrs[i].key || r->attrs[i].type < SA_OTLP_STR ||
		    r->attrs[i].type > SA_OTLP_BOOL)
			return -SA_ERR_INVAL;
	c = rec_copy(r);
	if (!c)
		return -ENOMEM;
	pthread_mutex_lock(&ot->lock);
	if (ot->count >= ot->queue_max || ot->stop) {
		ot->st.dropped_full++;
		ot->st.dropped++;
		pthread_mutex_unlock(&ot->lock);
		rec_free(c);
		return -ENOSPC;
	}
	ot->ring[(ot->head + ot->count) % ot->queue_max] = c;
	ot->count++;
	ot->st.queued++;
	if (ot->count > ot->st.queue_high_water)
		ot->st.queue_high_water = ot->count;
	pthread_cond_signal(&ot->wake);
	pthread_mutex_unlock(&ot->lock);
	return 0;
}

/* Removes the @n records sent (or given up) from the queue's head. */
static void done_batch(struct sa_otlp *ot, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		rec_free(ot->ring[ot->head]);
		ot->ring[ot->head] = NULL;
		ot->head = (ot->head + 1) % ot->queue_max;
	}
	ot->count -= n;
	ot->inflight = 0;
	if (!ot->count)
		pthread_cond_broadcast(&ot->idle);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sa_otlp *ot = ctx;
	size_t n = size * nmemb, room = sizeof(ot->resp) - 1 - ot->resp_len;

	memcpy(ot->resp + ot->resp_len, p, n < room ? n : room);
	ot->resp_len += n < room ? n : room;
	ot->resp[ot->resp_len] = 0;
	return n;
}

/* libcurl calls it at least once a second: a stop aborts the request. */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn,
		       curl_off_t ut, curl_off_t un)
{
	struct sa_otlp *ot = ctx;
	bool stop;

	pthread_mutex_lock(&ot->lock);
	stop = ot->stop;
	pthread_mutex_unlock(&ot->lock);
	return stop;
}

static int curl_setup(struct sa_otlp *ot)
{
	const char *ct = ot->protocol == SA_OTLP_HTTP_PROTOBUF ?
				 "Content-Type: application/x-protobuf" :
				 "Content-Type: application/json";
	struct curl_slist *h;

	ot->curl = curl_easy_init();
	if (!ot->curl)
		return -ENOMEM;
	h = ot->headers = curl_slist_append(NULL, ct);
	/* no "Expect: 100-continue" round trip */
	if (!h || !curl_slist_append(h, "Expect:") ||
	    (ot->gzip && !curl_slist_append(h, "Content-Encoding: gzip")))
		return -ENOMEM;
	curl_easy_setopt(ot->curl, CURLOPT_URL, ot->url);
	curl_easy_setopt(ot->curl, CURLOPT_HTTPHEADER, ot->headers);
	curl_easy_setopt(ot->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(ot->curl, CURLOPT_CONNECTTIMEOUT_MS, ot->connect_ms);
	curl_easy_setopt(ot->curl, CURLOPT_TIMEOUT_MS, ot->timeout_ms);
	curl_easy_setopt(ot->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(ot->curl, CURLOPT_WRITEDATA, ot);
	curl_easy_setopt(ot->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(ot->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(ot->curl, CURLOPT_XFERINFODATA, ot);
	curl_easy_setopt(ot->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(ot->curl, CURLOPT_USERAGENT,
			 "sensor-agent (OTLP/HTTP logs)");
	return 0;
}

enum { SEND_OK, SEND_RETRY, SEND_FAIL, SEND_STOP };

/* One POST.  *@retry_after_ms: what a Retry-After header asked, or 0. */
static int post(struct sa_otlp *ot, const char *body, size_t len,
		uint64_t *retry_after_ms, char *msg, size_t msize)
{
	curl_off_t ra = -1;
	long code = 0;
	CURLcode rc;

	*retry_after_ms = 0;
	ot->resp_len = 0;
	ot->resp[0] = 0;
	curl_easy_setopt(ot->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(ot->curl, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)len);
	rc = curl_easy_perform(ot->curl);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(msg, msize, "aborted at exit");
		return SEND_STOP;
	}
	if (rc != CURLE_OK) {
		/* connection refused, reset, timed out: the collector may
		 * come back
		 */
		snprintf(msg, msize, "%s", curl_easy_strerror(rc));
		return SEND_RETRY;
	}
	curl_easy_getinfo(ot->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return SEND_OK;
	snprintf(msg, msize, "HTTP %ld%s%.80s", code, ot->resp_len ? ": " : "",
		 ot->resp);
	msg[strcspn(msg, "\r\n")] = 0;
	if (code == 429 || code == 502 || code == 503 || code == 504) {
		/* seconds or an HTTP date, which libcurl turns into
		 * seconds from now
		 */
		if (curl_easy_getinfo(ot->curl, CURLINFO_RETRY_AFTER, &ra) ==
			    CURLE_OK && ra > 0)
			*retry_after_ms = (uint64_t)ra * 1000;
		return SEND_RETRY;
	}
	return SEND_FAIL;
}

static uint64_t jitter(struct sa_otlp *ot, uint64_t max)
{
	uint64_t x = ot->rand;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	ot->rand = x;
	return max ? x % (max + 1) : 0;
}

/* Waits @ms unless a stop comes first (then returns true).  Called with
 * @lock held.
 */
static bool wait_stop(struct sa_otlp *ot, uint64_t ms)
{
	struct timespec ts;
	uint64_t end = now_ns(CLOCK_MONOTONIC) + ms * 1000000u;

	ts.tv_sec = (time_t)(end / 1000000000u);
	ts.tv_nsec = (long)(end % 1000000000u);
	while (!ot->stop)
		if (pthread_cond_timedwait(&ot->wake, &ot->lock, &ts) ==
		    ETIMEDOUT)
			break;
	return ot->stop;
}

/* Sends the first @n records of the queue, retrying; returns SEND_*. */
static int send_batch(struct sa_otlp *ot, size_t n)
{
	struct sa_otlp_rec *batch[SA_OTLP_DEF_BATCH * 4];
	char *body = NULL, *gz = NULL, msg[128];
	size_t i, len = 0, glen = 0;
	uint64_t ra, wait, base;
	int attempt, ret, err;
	bool stop;

	pthread_mutex_lock(&ot->lock);
	for (i = 0; i < n; i++)
		batch[i] = ot->ring[(ot->head + i) % ot->queue_max];
	pthread_mutex_unlock(&ot->lock);
	if (ot->protocol == SA_OTLP_HTTP_PROTOBUF)
		err = sa_otlp__encode_pb(&ot->res, batch, n, &body, &len);
	else
		err = sa_otlp__encode_json(&ot->res, batch, n, &body, &len);
	if (!err && ot->gzip) {
		err = sa_gzip(body, len, &gz, &glen);
		free(body);
		body = gz;
		len = glen;
	}
	if (err) {
		snprintf(msg, sizeof(msg), "encoding: %s", sa_strerror(err));
		ret = SEND_FAIL;
		goto out;
	}
	for (attempt = 0;; attempt++) {
		ret = post(ot, body, len, &ra, msg, sizeof(msg));
		pthread_mutex_lock(&ot->lock);
		ot->st.requests++;
		if (attempt)
			ot->st.retried++;
		if (ret == SEND_OK)
			ot->st.bytes += len;
		if (ret != SEND_RETRY || attempt >= ot->max_retries) {
			pthread_mutex_unlock(&ot->lock);
			break;
		}
		/* exponential backoff, half of it random, and never less
		 * than the collector asked for
		 */
		base = ot->backoff_ms << (attempt < 20 ? attempt : 20);
		if (base > ot->backoff_max_ms)
			base = ot->backoff_max_ms;
		wait = base / 2 + jitter(ot, base / 2);
		if (ra > ot->backoff_max_ms)
			ra = ot->backoff_max_ms;
		if (ra > wait)
			wait = ra;
		snprintf(ot->st.last_error, sizeof(ot->st.last_error), "%s",
			 msg);
		stop = wait_stop(ot, wait);
		pthread_mutex_unlock(&ot->lock);
		if (stop) {
			ret = SEND_STOP;
			break;
		}
	}
out:
	if (ret != SEND_OK) {
		pthread_mutex_lock(&ot->lock);
		snprintf(ot->st.last_error, sizeof(ot->st.last_error), "%s",
			 msg);
		pthread_mutex_unlock(&ot->lock);
	}
	free(body);
	return ret;
}

static void *sender(void *arg)
{
	struct sa_otlp *ot = arg;
	size_t n;
	int ret;

	pthread_mutex_lock(&ot->lock);
	for (;;) {
		while (!ot->stop && !ot->count)
			pthread_cond_wait(&ot->wake, &ot->lock);
		if (ot->stop)
			break;
		n = ot->count < ot->batch_max ? ot->count : ot->batch_max;
		ot->inflight = n;
		pthread_mutex_unlock(&ot->lock);
		ret = send_batch(ot, n);
		pthread_mutex_lock(&ot->lock);
		if (ret == SEND_OK) {
			ot->st.sent += n;
		} else if (ret == SEND_STOP) {
			ot->inflight = 0;
			break;	/* counted as dropped at exit */
		} else {
			ot->st.dropped_failed += n;
			ot->st.dropped += n;
		}
		done_batch(ot, n);
	}
	pthread_mutex_unlock(&ot->lock);
	return NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int build_url(struct sa_otlp *ot, const char *url)
{
	size_t n = strlen(url);

	while (n && url[n - 1] == '/')
		n--;
	if (n >= 8 && !strncmp(url + n - 8, "/v1/logs", 8)) {
		ot->url = strndup(url, n);
	} else if (asprintf(&ot->url, "%.*s/v1/logs", (int)n, url) < 0) {
		ot->url = NULL;
	}
	return ot->url ? 0 : -ENOMEM;
}

static int add_res(struct sa_otlp *ot, const char *key, const char *s,
		   int64_t i)
{
	struct sa_otlp_attr *a = &ot->res.attrs[ot->res.nr_attrs];

	a->key = key;
	if (s) {
		a->type = SA_OTLP_STR;
		a->s = ot->strs[ot->res.nr_attrs] = strdup(s);
		if (!a->s)
			return -ENOMEM;
	} else {
		a->type = SA_OTLP_INT;
		a->i = i;
	}
	ot->res.nr_attrs++;
	return 0;
}

struct sa_otlp *sa_otlp__new(const struct sa_otlp_opts *o,
			     struct sa_errinfo *ei)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct sa_otlp *ot;
	char host[256];
	const char *svc;
	int err;

	sa_errinfo_clear(ei);
	if (!o->url || (strncmp(o->url, "http://", 7) &&
			strncmp(o->url, "https://", 8))) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "--otlp '%s': not an http:// or https:// URL",
			       o->url ? o->url : "");
		errno = SA_ERR_INVAL;
		return NULL;
	}
	if (o->queue_max > SA_OTLP_MAX_QUEUE) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "OTLP queue of %zu records: the limit is %d",
			       o->queue_max, SA_OTLP_MAX_QUEUE);
		errno = SA_ERR_INVAL;
		return NULL;
	}
	if (o->protocol == SA_OTLP_HTTP_PROTOBUF && !sa_otlp_have_protobuf()) {
		err = sa_otlp_protocol_parse("http/protobuf", NULL, ei);
		errno = -err;
		return NULL;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
			       "libcurl: %s", curl_easy_strerror(curl_init_rc));
		errno = SA_ERR_UNSUPPORTED;
		return NULL;
	}
	ot = calloc(1, sizeof(*ot));
	if (!ot)
		return NULL;
	ot->protocol = o->protocol;
	ot->queue_max = o->queue_max ? o->queue_max : SA_OTLP_DEF_QUEUE;
	ot->batch_max = o->batch_max ? o->batch_max : SA_OTLP_DEF_BATCH;
	if (ot->batch_max > SA_OTLP_DEF_BATCH * 4)
		ot->batch_max = SA_OTLP_DEF_BATCH * 4;
	ot->connect_ms = (long)(o->connect_timeout_ms ? o->connect_timeout_ms :
					SA_OTLP_DEF_CONNECT_MS);
	ot->timeout_ms = (long)(o->timeout_ms ? o->timeout_ms :
					SA_OTLP_DEF_TIMEOUT_MS);
	ot->max_retries = o->max_retries < 0 ? 0 :
			  o->max_retries ? o->max_retries : SA_OTLP_DEF_RETRIES;
	ot->backoff_ms = o->backoff_ms ? o->backoff_ms : SA_OTLP_DEF_BACKOFF_MS;
	ot->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms :
						 SA_OTLP_DEF_BACKOFF_MAX_MS;
	ot->gzip = !o->no_gzip;
	ot->rand = now_ns(CLOCK_MONOTONIC) ^ ((uint64_t)getpid() << 32) ^
		   (uintptr_t)ot;
	if (!ot->rand)
		ot->rand = 1;

	if (!o->host) {
		if (gethostname(host, sizeof(host) - 1))
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = 0;
	}
	svc = o->service ? o->service :
	      o->exe_name && *o->exe_name ? o->exe_name : "sensor-agent";
	err = build_url(ot, o->url);
	if (!err)
		err = add_res(ot, "service.name", svc, 0);
	if (!err)
		err = add_res(ot, "host.name", o->host ? o->host : host, 0);
	if (!err && o->pid)
		err = add_res(ot, "process.pid", NULL, o->pid);
	if (!err && o->exe_name && *o->exe_name)
		err = add_res(ot, "process.executable.name", o->exe_name, 0);
	if (!err && o->exe_path && *o->exe_path)
		err = add_res(ot, "process.executable.path", o->exe_path, 0);
	if (!err && o->version) {
		ot->strs[5] = strdup(o->version);
		ot->res.scope_version = ot->strs[5];
		if (!ot->strs[5])
			err = -ENOMEM;
	}
	ot->ring = calloc(ot->queue_max, sizeof(*ot->ring));
	if (!err && !ot->ring)
		err = -ENOMEM;
	if (!err)
		err = curl_setup(ot);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "OTLP exporter: %s",
			       sa_strerror(err));
		goto err;
	}
	pthread_mutex_init(&ot->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ot->wake, &ca);
	pthread_cond_init(&ot->idle, &ca);
	pthread_condattr_destroy(&ca);
	/* The sender takes no signal: the caller's thread must see them
	 * (the live loop's wait ends on EINTR).
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&ot->thread, NULL, sender, ot);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET,
			       "OTLP exporter: cannot start its thread: %s",
			       strerror(-err));
		pthread_cond_destroy(&ot->wake);
		pthread_cond_destroy(&ot->idle);
		pthread_mutex_destroy(&ot->lock);
		goto err;
	}
	ot->started = true;
	return ot;
err:
	ot->res.nr_attrs = 0;
	sa_otlp__free(ot);
	errno = err < 0 ? -err : ENOMEM;
	return NULL;
}

int sa_otlp_flush(struct sa_otlp *ot, uint64_t timeout_ms)
{
	struct timespec ts;
	uint64_t end = now_ns(CLOCK_MONOTONIC) + timeout_ms * 1000000u;
	int err = 0;

	ts.tv_sec = (time_t)(end / 1000000000u);
	ts.tv_nsec = (long)(end % 1000000000u);
	pthread_mutex_lock(&ot->lock);
	while (ot->count && !err)
		if (pthread_cond_timedwait(&ot->idle, &ot->lock, &ts) ==
		    ETIMEDOUT)
			err = -ETIMEDOUT;
	if (!ot->count)
		err = 0;
	pthread_mutex_unlock(&ot->lock);
	return err;
}

void sa_otlp_stats(struct sa_otlp *ot, struct sa_otlp_stats *st)
{
	pthread_mutex_lock(&ot->lock);
	*st = ot->st;
	pthread_mutex_unlock(&ot->lock);
}

void sa_otlp_stop(struct sa_otlp *ot)
{
	if (!ot->started || ot->stopped)
		return;
	pthread_mutex_lock(&ot->lock);
	ot->stop = true;
	pthread_cond_broadcast(&ot->wake);
	pthread_mutex_unlock(&ot->lock);
	pthread_join(ot->thread, NULL);
	ot->stopped = true;
	pthread_mutex_lock(&ot->lock);
	ot->st.dropped_exit += ot->count;
	ot->st.dropped += ot->count;
	pthread_mutex_unlock(&ot->lock);
}

void sa_otlp__free(struct sa_otlp *ot)
{
	size_t i;

	if (!ot)
		return;
	if (ot->started) {
		sa_otlp_stop(ot);
		pthread_cond_destroy(&ot->wake);
		pthread_cond_destroy(&ot->idle);
		pthread_mutex_destroy(&ot->lock);
	}
	for (i = 0; ot->ring && i < ot->count; i++)
		rec_free(ot->ring[(ot->head + i) % ot->queue_max]);
	free(ot->ring);
	if (ot->curl)
		curl_easy_cleanup(ot->curl);
	curl_slist_free_all(ot->headers);
	for (i = 0; i < 6; i++)
		free(ot->strs[i]);
	free(ot->url);
	free(ot);
}
