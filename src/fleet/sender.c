// SPDX-License-Identifier: BSD-2-Clause
/*
 * The fleet client behind a bounded queue and a sender thread, so that
 * the live loop never waits for ClickHouse: a slow or unreachable server
 * costs the loop one render of a window's rows, never a request.
 * The thread owns the client while it runs (struct sa_fleet is not
 * thread-safe); the rows are rendered by the caller (sa_fleet__render()
 * reads only what never changes) because the history is the caller's
 * only during the call.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet_int.h"

struct sa_fleet_sender {
	struct sa_fleet *fl;
	pthread_t thread;
	bool started, stopped;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* to the thread: work or stop */
	pthread_cond_t idle;		/* to flush: all sent or spooled */
	/* a ring of queue_max windows */
	struct sa_fleet_win *ring;
	size_t queue_max, head, count;
	bool busy;			/* windows taken, being sent */
	bool stop;
	struct sa_fleet_stats st;	/* the client's, after a round */
	uint64_t queue_dropped, high_water;
	int err;
	struct sa_errinfo ei;
};

static void deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* One round: the windows taken from the queue (none: the spool alone)
 * into the client's queue, then one flush.  Called unlocked.
 */
static void send_round(struct sa_fleet_sender *snd, struct sa_fleet_win *w,
		       size_t nr)
{
	struct sa_errinfo ei = { 0 };
	struct sa_fleet_stats st;
	uint64_t lost = 0;
	size_t i;
	int err;

	for (i = 0; i < nr; i++) {
		if (sa_fleet__enqueue(snd->fl, &w[i])) {
			sa_fleet__win_free(&w[i]);
			lost++;
		}
	}
	err = sa_fleet_flush(snd->fl, &ei);
	sa_fleet_stats(snd->fl, &st);
	pthread_mutex_lock(&snd->lock);
	snd->st = st;
	snd->st.windows_dropped += lost;
	/* the failure itself, not "not tried again yet" after it */
	if (!err || ei.code != -EAGAIN) {
		snd->err = err;
		snd->ei = ei;
	}
	pthread_mutex_unlock(&snd->lock);
}

static void *sender_main(void *arg)
{
	struct sa_fleet_sender *snd = arg;
	long retry_ms = sa_fleet__retry_ms(snd->fl);
	struct sa_fleet_win *w;
	struct timespec ts;
	size_t i, nr;
	bool retry;

	w = calloc(snd->queue_max, sizeof(*w));
	pthread_mutex_lock(&snd->lock);
	/* the spool of an earlier run first */
	retry = snd->st.spool_bytes > 0;
	for (;;) {
		while (!snd->count && !snd->stop && !retry) {
			if (!snd->st.spool_bytes) {
				pthread_cond_wait(&snd->wake, &snd->lock);
				continue;
			}
			/* the spool waits: try it again now and then */
			deadline(&ts, retry_ms);
			if (pthread_cond_timedwait(&snd->wake, &snd->lock,
						   &ts) == ETIMEDOUT)
				retry = true;
		}
		if (snd->stop && !snd->count)
			break;
		if (snd->stop)
			retry = false;	/* no resend on the way out */
		nr = 0;
		while (w && snd->count) {
			w[nr++] = snd->ring[snd->head];
			memset(&snd->ring[snd->head], 0, sizeof(*w));
			snd->head = (snd->head + 1) % snd->queue_max;
			snd->count--;
		}
		snd->busy = true;
		pthread_mutex_unlock(&snd->lock);
		if (nr || retry)
			send_round(snd, w, nr);
		retry = false;
		pthread_mutex_lock(&snd->lock);
		snd->busy = false;
		if (!snd->count)
			pthread_cond_broadcast(&snd->idle);
		if (!w && snd->count) {
			/* no memory for the round: drop what waits */
			for (i = 0; i < snd->count; i++) {
				size_t k = (snd->head + i) % snd->queue_max;

				sa_fleet__win_free(&snd->ring[k]);
			}
			snd->st.windows_dropped += snd->count;
			snd->count = 0;
			pthread_cond_broadcast(&snd->idle);
		}
	}
	pthread_mutex_unlock(&snd->lock);
	free(w);
	return NULL;
}

struct sa_fleet_sender *sa_fleet_sender__new(struct sa_fleet *fl,
					     size_t queue_max,
					     struct sa_errinfo *ei)
{
	struct sa_fleet_sender *snd;
	pthread_condattr_t ca;
	int err;

	sa_errinfo_clear(ei);
	if (queue_max > SA_FLEET_MAX_QUEUE) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "fleet queue of %zu windows: the limit is %d",
			       queue_max, SA_FLEET_MAX_QUEUE);
		errno = SA_ERR_INVAL;
		return NULL;
	}
	snd = calloc(1, sizeof(*snd));
	if (!snd)
		return NULL;
	snd->fl = fl;
	snd->queue_max = queue_max ? queue_max : SA_FLEET_DEF_QUEUE;
	snd->ring = calloc(snd->queue_max, sizeof(*snd->ring));
	if (!snd->ring) {
		free(snd);
		errno = ENOMEM;
		return NULL;
	}
	sa_fleet_stats(fl, &snd->st);
	pthread_mutex_init(&snd->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&snd->wake, &ca);
	pthread_cond_init(&snd->idle, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&snd->thread, NULL, sender_main, snd);
	if (err) {
		sa_errinfo_set(ei, -err, SA_NO_OFFSET,
			       "fleet sender thread: %s", strerror(err));
		snd->stopped = true;
		sa_fleet_sender__free(snd);
		errno = err;
		return NULL;
	}
	snd->started = true;
	return snd;
}

int sa_fleet_sender_add(struct sa_fleet_sender *snd, const struct sa_hist *h,
			uint64_t id, time_t t, struct sa_errinfo *ei)
{
	struct sa_fleet_win w;
	int err;

	err = sa_fleet__render(snd->fl, h, id, t, &w, ei);
	if (err)
		return err;
	pthread_mutex_lock(&snd->lock);
	if (snd->count >= snd->queue_max || snd->stop) {
		snd->queue_dropped++;
		pthread_mutex_unlock(&snd->lock);
		sa_fleet__win_free(&w);
		return 1;
	}
	snd->ring[(snd->head + snd->count) % snd->queue_max] = w;
	snd->count++;
	if (snd->count > snd->high_water)
		snd->high_water = snd->count;
	pthread_cond_signal(&snd->wake);
	pthread_mutex_unlock(&snd->lock);
	return 0;
}

const char *sa_fleet_sender_host(const struct sa_fleet_sender *snd)
{
	return sa_fleet_host(snd->fl);
}

int sa_fleet_sender_flush(struct sa_fleet_sender *snd, long timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	deadline(&ts, timeout_ms > 0 ? timeout_ms : 0);
	pthread_mutex_lock(&snd->lock);
	while ((snd->count || snd->busy) && !snd->stopped)
		if (pthread_cond_timedwait(&snd->idle, &snd->lock, &ts) ==
		    ETIMEDOUT) {
			ret = 1;
			break;
		}
	pthread_mutex_unlock(&snd->lock);
	return ret;
}

void sa_fleet_sender_stop(struct sa_fleet_sender *snd)
{
	if (!snd->started || snd->stopped)
		return;
	pthread_mutex_lock(&snd->lock);
	snd->stop = true;
	pthread_cond_signal(&snd->wake);
	pthread_mutex_unlock(&snd->lock);
	/* the request in flight and the last round's fail at once: what
	 * is queued goes to the spool
	 */
	sa_fleet__abort(snd->fl, true);
	pthread_join(snd->thread, NULL);
	sa_fleet__abort(snd->fl, false);
	snd->stopped = true;
}

void sa_fleet_sender_stats(struct sa_fleet_sender *snd,
			   struct sa_fleet_stats *st)
{
	pthread_mutex_lock(&snd->lock);
	*st = snd->st;
	st->windows_queue_dropped = snd->queue_dropped;
	st->windows_dropped += snd->queue_dropped;
	st->queue_high_water = snd->high_water;
	pthread_mutex_unlock(&snd->lock);
}

int sa_fleet_sender_error(struct sa_fleet_sender *snd, struct sa_errinfo *ei)
{
	int err;

	pthread_mutex_lock(&snd->lock);
	err = snd->err;
	if (ei)
		*ei = snd->ei;
	pthread_mutex_unlock(&snd->lock);
	return err;
}

void sa_fleet_sender__free(struct sa_fleet_sender *snd)
{
	size_t i;

	if (!snd)
		return;
	sa_fleet_sender_stop(snd);
	for (i = 0; i < snd->count; i++)
		sa_fleet__win_free(&snd->ring[(snd->head + i) %
					      snd->queue_max]);
	free(snd->ring);
	pthread_cond_destroy(&snd->wake);
	pthread_cond_destroy(&snd->idle);
	pthread_mutex_destroy(&snd->lock);
	free(snd);
}
