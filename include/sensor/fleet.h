/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: the fleet store on ClickHouse.
 *
 * Many hosts send the histories of their trace windows to one ClickHouse
 * (or a cluster of shards behind Distributed tables), over its HTTP
 * interface (libcurl).  One window is one atomic INSERT of TSV rows into
 * the table `rows`; the window id (sa_fleet_window_id()) makes a resend
 * harmless: a window already stored is skipped.  When ClickHouse cannot
 * be reached, windows wait in a spool directory (capped) and are resent
 * later.  The schema, the protocol and the sizing are in docs/fleet.md.
 *
 *	struct sa_fleet_opts o = { .url = "http://ch:8123", .host = "web1",
 *				   .spool_dir = "/var/spool/sa" };
 *	fl = sa_fleet__new(&o, &ei);
 *	sa_fleet_add(fl, h, id, time(NULL), &ei);	each window
 *	sa_fleet_flush(fl, &ei);			send the batch
 *	sa_fleet__free(fl);				flushes too
 *
 * A caller that must never wait for the server (the live loop's window
 * callback) hands the client to a sender thread instead:
 *
 *	snd = sa_fleet_sender__new(fl, 64, &ei);
 *	sa_fleet_sender_add(snd, h, id, time(NULL), &ei);	never blocks
 *	sa_fleet_sender_flush(snd, 2000);	waits at most 2 s
 *	sa_fleet_sender_stop(snd);		spools what is left
 *	sa_fleet_sender_stats(snd, &st);
 *	sa_fleet_sender__free(snd);
 *	sa_fleet__free(fl);
 *
 * sa_fleet_analyze() compares a host's windows with the rest of the
 * fleet, or two builds across the fleet, with the detector of
 * <sensor/anomaly.h>.
 */
#ifndef SENSOR_FLEET_H
#define SENSOR_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sensor/anomaly.h"
#include "sensor/error.h"
#include "sensor/hist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the ClickHouse schema (table `schema_version`). */
#define SA_FLEET_SCHEMA_VERSION 1
#define SA_FLEET_DEF_DATABASE "sensor_agent"
/* Windows per INSERT (one atomic block) unless set. */
#define SA_FLEET_DEF_BATCH 16
#define SA_FLEET_DEF_SPOOL_MAX (64ull << 20)
/* Caps: rows per INSERT (ClickHouse writes one block, atomically, up to
 * max_insert_block_size rows; we ask for this many) and rows loaded by
 * an analysis.
 */
#define SA_FLEET_MAX_INSERT_ROWS 1000000
#define SA_FLEET_MAX_LOAD_ROWS 20000000

struct sa_fleet;

struct sa_fleet_opts {
	const char *url;	/* http://host:8123 (ClickHouse HTTP) */
	const char *database;	/* NULL: SA_FLEET_DEF_DATABASE */
	const char *host;	/* this host's name; NULL: gethostname() */
	/* Windows that could not be sent are written here (created 0700)
	 * and resent by the next sa_fleet_flush(); NULL: no spool, they
	 * are dropped (and counted).
	 */
	const char *spool_dir;
	uint64_t spool_max;	/* bytes; 0: SA_FLEET_DEF_SPOOL_MAX */
	unsigned batch;		/* windows per INSERT; 0: SA_FLEET_DEF_BATCH */
	long timeout_ms;	/* per request; 0: 10 s (connect: 2 s) */
	/* After a failed request, requests are not tried again for this
	 * long (the spool takes the windows); 0: 5 s.
	 */
	long retry_ms;
};

struct sa_fleet_stats {
	uint64_t windows_sent;		/* stored by an INSERT of ours */
	uint64_t windows_present;	/* skipped: already stored */
	uint64_t windows_spooled;	/* written to the spool */
	uint64_t windows_resent;	/* of sent: taken from the spool */
	uint64_t windows_dropped;	/* lost: spool full or absent, or
					 * refused (spool_refused) */
	/* spool files the server refused (damaged): renamed *.tsv.bad */
	uint64_t spool_refused;
	uint64_t rows_sent;
	uint64_t bytes_sent;		/* TSV bytes of the INSERTs */
	uint64_t bytes_wire;		/* of all INSERTs tried, gzip'ed */
	uint64_t requests_failed;
	uint64_t spool_bytes;		/* now in the spool */
	/* The sender thread (sa_fleet_sender): windows dropped because its
	 * queue was full (also in windows_dropped), and the most windows
	 * its queue held.
	 */
	uint64_t windows_queue_dropped;
	uint64_t queue_high_water;
};

/* Returns NULL with errno and @ei set (-SA_ERR_INVAL: bad URL; errno of
 * the spool directory).  Does not contact the server.
 */
struct sa_fleet *sa_fleet__new(const struct sa_fleet_opts *o,
			       struct sa_errinfo *ei);
/* Flushes (failures go to the spool), frees.  Accepts NULL. */
void sa_fleet__free(struct sa_fleet *fl);

const char *sa_fleet_host(const struct sa_fleet *fl);

/* Creates the database and the tables of docs/fleet.md when missing and
 * records the schema version.  With @cluster (a name of the server's
 * remote_servers), the tables are the shard's local ones (`*_local`) and
 * `rows`, `branch_totals` and `host_branch_totals` are Distributed
 * tables over @cluster, sharded by host; run it on every shard.
 * Returns 0, -SA_ERR_UNSUPPORTED when the database holds another schema
 * version or a layout with(out) a cluster, -ECONNREFUSED and other -errno
 * when the server cannot be reached, -SA_ERR_FORMAT with the server's
 * message when it refused a statement.
 */
int sa_fleet_init(struct sa_fleet *fl, const char *cluster,
		  struct sa_errinfo *ei);

/* A window's id: a 64-bit hash of @host and the bytes of the window
 * file @path (the same file from the same host has the same id).
 * Returns 0 or -errno with @ei naming the file.
 */
int sa_fleet_window_id(const char *host, const char *path, uint64_t *id,
		       struct sa_errinfo *ei);

/* Queues the history of one window (@h, not a merge of windows) with its
 * id and time (unix seconds).  Sends the batch when it is full.  Returns
 * 0 when queued, sent or spooled, -SA_ERR_TOOBIG when the window alone
 * has more than SA_FLEET_MAX_INSERT_ROWS rows, -ENOMEM.  A server that
 * cannot be reached is not an error here: see sa_fleet_stats().
 */
int sa_fleet_add(struct sa_fleet *fl, const struct sa_hist *h, uint64_t id,
		 time_t t, struct sa_errinfo *ei);

/* Resends the spool (in the order of the window ids) and sends the queued
 * windows.
 * Returns 0 when everything is stored, 1 when some windows stay in the
 * spool (the server is unreachable; @ei says why), or a negative error:
 * -SA_ERR_FORMAT when the server refused the rows (its message in @ei;
 * the windows are spooled), -SA_ERR_UNSUPPORTED when the server's
 * database has no sensor-agent schema of this version.
 */
int sa_fleet_flush(struct sa_fleet *fl, struct sa_errinfo *ei);

void sa_fleet_stats(const struct sa_fleet *fl, struct sa_fleet_stats *st);

/* Runs @sql on the server and returns its answer (NUL-terminated, free()
 * it) in *@out.  For tools and tests; same errors as sa_fleet_init().
 */
int sa_fleet_query(struct sa_fleet *fl, const char *sql, char **out,
		   size_t *len, struct sa_errinfo *ei);

/* The sender thread.  Windows wait for it in a queue of at most
 * SA_FLEET_DEF_QUEUE windows unless set, SA_FLEET_MAX_QUEUE at most.
 */
#define SA_FLEET_DEF_QUEUE 64
#define SA_FLEET_MAX_QUEUE 100000

struct sa_fleet_sender;

/* Starts a thread that sends @fl's windows: sa_fleet_sender_add() queues
 * a window and returns; the thread sends what the queue holds (the spool
 * first) with sa_fleet_flush(), so a failure spools (up to the spool's
 * cap) or drops and counts, and the spool is tried again every retry_ms
 * while nothing else comes.  @fl is the thread's until
 * sa_fleet_sender_stop(): the caller must not use it meanwhile, and
 * frees it after the sender.  @queue_max: windows; 0:
 * SA_FLEET_DEF_QUEUE.  Returns NULL with errno and @ei set
 * (-SA_ERR_INVAL: queue over SA_FLEET_MAX_QUEUE; the thread's errno).
 */
struct sa_fleet_sender *sa_fleet_sender__new(struct sa_fleet *fl,
					     size_t queue_max,
					     struct sa_errinfo *ei);

/* Renders @h's rows (in the caller's thread: no I/O) and queues them.
 * Returns 0 when queued, 1 when the queue was full (the window is
 * dropped and counted), or sa_fleet_add()'s errors (-SA_ERR_TOOBIG,
 * -ENOMEM).  Never waits for the server.
 */
int sa_fleet_sender_add(struct sa_fleet_sender *snd, const struct sa_hist *h,
			uint64_t id, time_t t, struct sa_errinfo *ei);

/* The client's host name (sa_fleet_host()), for sa_fleet_window_id(). */
const char *sa_fleet_sender_host(const struct sa_fleet_sender *snd);

/* Waits until the queue is empty and nothing is in flight, at most
 * @timeout_ms.  Returns 0, or 1 when the time ran out.
 */
int sa_fleet_sender_flush(struct sa_fleet_sender *snd, long timeout_ms);

/* Ends the thread: the request in flight is aborted (within about a
 * second) and what was queued goes to the spool (or is dropped and
 * counted).  Then the client is the caller's again.  Idempotent.
 */
void sa_fleet_sender_stop(struct sa_fleet_sender *snd);

/* The client's counters and the queue's, as of the thread's last
 * request.  Any thread.
 */
void sa_fleet_sender_stats(struct sa_fleet_sender *snd,
			   struct sa_fleet_stats *st);

/* The outcome of the thread's last try (0 when it stored everything)
 * with @ei filled: sa_fleet_flush()'s values; a try skipped because an
 * earlier one failed moments ago leaves that failure.  Any thread.
 */
int sa_fleet_sender_error(struct sa_fleet_sender *snd, struct sa_errinfo *ei);

/* Stops (sa_fleet_sender_stop()) and frees; not the client.  Accepts
 * NULL.
 */
void sa_fleet_sender__free(struct sa_fleet_sender *snd);

/* What sa_fleet_analyze() compares. */
struct sa_fleet_analysis {
	/* Host mode: @host's windows since @since against every other
	 * host's windows (of any time) as the baseline.
	 */
	const char *host;
	/* Build mode (@host NULL): build @build (current) against build
	 * @against (baseline), windows of every host since @since, sites
	 * matched across builds by function and line
	 * (sa_anomaly_diff_builds()).  A build is named by its build-id
	 * or a prefix of at least 8 hex digits.
	 */
	const char *build, *against;
	time_t since;			/* 0: all */
	struct sa_detect_opts detect;
	/* A temporary SQLite baseline is built in this directory (NULL:
	 * $TMPDIR or /tmp) and removed.
	 */
	const char *tmpdir;
};

struct sa_fleet_result {
	uint64_t cur_windows;		/* windows on the current side */
	uint64_t base_windows;		/* windows in the baseline */
	uint64_t base_hosts;		/* hosts in the baseline */
	uint64_t rows;			/* rows loaded */
};

/* Loads the windows from ClickHouse, rebuilds one history per window,
 * adds the baseline side's windows to a temporary baseline (each window
 * its own sample: the design effect is measured between windows) and
 * runs the detector.  Returns 0 with *@out set (free with
 * sa_anomaly_list__free()), or a negative error with @ei: the
 * detector's errors, -SA_ERR_NODATA when a side has no window,
 * -SA_ERR_TOOBIG past SA_FLEET_MAX_LOAD_ROWS, server errors as
 * sa_fleet_init().
 */
int sa_fleet_analyze(struct sa_fleet *fl, const struct sa_fleet_analysis *q,
		     struct sa_anomaly_list **out, struct sa_fleet_result *res,
		     struct sa_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_FLEET_H */
