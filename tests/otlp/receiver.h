/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The OTLP tests' side of tests/otlp/receiver.py: start it on a free
 * loopback port, stop it, and read what it decoded; and a collector that
 * never answers.
 */
#ifndef SA_TEST_OTLP_RECEIVER_H
#define SA_TEST_OTLP_RECEIVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define RX_MAX_RECORDS 256
#define RX_MAX_FIELDS 96
#define RX_MAX_REQUESTS 64

struct rx_field {
	char *key, *val;	/* val typed: "s:..", "i:..", "d:..", "b:.." */
};

struct rx_record {
	int request;		/* index of its request */
	size_t n;
	struct rx_field f[RX_MAX_FIELDS];
};

struct rx_request {
	char path[256], ctype[128], cenc[64];
	int status;
	double t;
};

struct rx {
	pid_t pid;
	int port;
	char out[4096];
	struct rx_request req[RX_MAX_REQUESTS];
	int nreq;
	struct rx_record rec[RX_MAX_RECORDS];
	int nrec;
	char errors[4096];
	char *buf;
};

/* Starts the receiver: @fail requests answered 503 first; @proto_dir
 * for protobuf (may be NULL).  Waits (bounded) for its port.
 */
static inline void rx_start(struct rx *rx, const char *tag, int fail,
			    const char *proto_dir)
{
	char port_file[4096], script[4096], failbuf[16], *s;
	const char *src = getenv("SA_SOURCE_DIR");
	int i;

	memset(rx, 0, sizeof(*rx));
	snprintf(port_file, sizeof(port_file), "%s",
		 sa_test_path(tag));
	strncat(port_file, ".port", sizeof(port_file) - strlen(port_file) - 1);
	snprintf(rx->out, sizeof(rx->out), "%s.out", sa_test_path(tag));
	snprintf(script, sizeof(script), "%s/tests/otlp/receiver.py",
		 src ? src : ".");
	snprintf(failbuf, sizeof(failbuf), "%d", fail);
	rx->pid = fork();
	ck_assert_int_ge(rx->pid, 0);
	if (!rx->pid) {
		execlp("python3", "python3", script, "--port-file", port_file,
		       "--out", rx->out, "--fail", failbuf, "--proto-dir",
		       proto_dir ? proto_dir : "", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {	/* 20 s at most */
		s = sa_test_slurp(port_file, NULL);
		if (s && (rx->port = atoi(s)) > 0) {
			free(s);
			return;
		}
		free(s);
		ck_assert_msg(waitpid(rx->pid, NULL, WNOHANG) == 0,
			      "the receiver ended before listening");
		usleep(100000);
	}
	ck_abort_msg("the receiver did not start in 20 s");
}

static inline void rx_stop(struct rx *rx)
{
	kill(rx->pid, SIGTERM);
	waitpid(rx->pid, NULL, 0);
}

static inline char *rx_unescape(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if (*r == '\\' && r[1] == 'n') {
			*w++ = '\n';
			r += 2;
		} else if (*r == '\\' && r[1] == '\\') {
			*w++ = '\\';
			r += 2;
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
	return s;
}

/* A TCP socket on a free loopback port, its "http://127.0.0.1:PORT" in
 * @url.  With @listening it accepts connections and never answers (a
 * collector that hangs); without, connections to it are refused (a port
 * that was free a moment ago).  Returns the fd, for the caller to close.
 */
static inline int rx_silent(bool listening, char *url, size_t size)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(url, size, "http://127.0.0.1:%d", ntohs(sin.sin_port));
	return fd;
}

/* Reads the receiver's output (after the sender flushed). */
static inline void rx_read(struct rx *rx)
{
	struct rx_record *cur = NULL;
	char *line, *save = NULL, *tab;

	free(rx->buf);
	rx->nreq = rx->nrec = 0;
	rx->errors[0] = 0;
	rx->buf = sa_test_slurp(rx->out, NULL);
	ck_assert_ptr_nonnull(rx->buf);
	for (line = strtok_r(rx->buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "request\t", 8)) {
			struct rx_request *q = &rx->req[rx->nreq];

			ck_assert_int_lt(rx->nreq, RX_MAX_REQUESTS);
			ck_assert_int_eq(sscanf(line + 8,
						"%255[^\t]\t%127[^\t]\t%63[^\t]"
						"\t%d\t%lf", q->path, q->ctype,
						q->cenc, &q->status, &q->t), 5);
			rx->nreq++;
		} else if (!strcmp(line, "record")) {
			ck_assert_int_lt(rx->nrec, RX_MAX_RECORDS);
			cur = &rx->rec[rx->nrec++];
			cur->n = 0;
			cur->request = rx->nreq - 1;
		} else if (!strcmp(line, "end")) {
			cur = NULL;
		} else if (!strncmp(line, "error\t", 6)) {
			strncat(rx->errors, line + 6,
				sizeof(rx->errors) - strlen(rx->errors) - 2);
			strcat(rx->errors, ";");
		} else {
			ck_assert_msg(cur && (tab = strchr(line, '\t')),
				      "receiver output: %s", line);
			ck_assert_int_lt(cur->n, RX_MAX_FIELDS);
			*tab = 0;
			cur->f[cur->n].key = line;
			cur->f[cur->n].val = rx_unescape(tab + 1);
			cur->n++;
		}
	}
	ck_assert_msg(!rx->errors[0], "the receiver found: %s", rx->errors);
}

static inline void rx_free(struct rx *rx)
{
	free(rx->buf);
	rx->buf = NULL;
}

/* The typed value of @key in @r, or NULL. */
static inline const char *rx_get(const struct rx_record *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->f[i].key, key))
			return r->f[i].val;
	return NULL;
}

/* Asserts that @key is the string @s. */
#define rx_assert_str(r, key, s)                                            \
	do {                                                                \
		const char *v_ = rx_get(r, key);                            \
		ck_assert_msg(v_ && v_[0] == 's' && !strcmp(v_ + 2, (s)),   \
			      "%s: %s, expected string %s", key,            \
			      v_ ? v_ : "(absent)", (s));                   \
	} while (0)

#define rx_assert_int(r, key, n)                                            \
	do {                                                                \
		const char *v_ = rx_get(r, key);                            \
		ck_assert_msg(v_ && v_[0] == 'i' &&                         \
				      strtoll(v_ + 2, NULL, 10) ==          \
					      (long long)(n),               \
			      "%s: %s, expected int %lld", key,             \
			      v_ ? v_ : "(absent)", (long long)(n));        \
	} while (0)

/* Doubles must come back exactly: both encodings round-trip. */
#define rx_assert_dbl(r, key, d)                                            \
	do {                                                                \
		const char *v_ = rx_get(r, key);                            \
		ck_assert_msg(v_ && v_[0] == 'd' &&                         \
				      strtod(v_ + 2, NULL) == (double)(d),  \
			      "%s: %s, expected double %.17g", key,         \
			      v_ ? v_ : "(absent)", (double)(d));           \
	} while (0)

#define rx_assert_bool(r, key, b)                                           \
	do {                                                                \
		const char *v_ = rx_get(r, key);                            \
		ck_assert_msg(v_ && !strcmp(v_, (b) ? "b:true" : "b:false"),\
			      "%s: %s, expected %d", key,                   \
			      v_ ? v_ : "(absent)", (int)(b));              \
	} while (0)

#endif /* SA_TEST_OTLP_RECEIVER_H */
