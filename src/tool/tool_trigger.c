// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent trigger: asks a running `sensor-agent capture --snapshot`
 * to dump its buffer, through its control socket (a unix stream socket,
 * mode 0600, one line request, one line reply).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "sensor/error.h"
#include "tool.h"

static void trigger_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s trigger -p PID [--socket PATH] [--status]\n"
		"\nTells the snapshot capture of PID (`%s capture -p PID "
		"--snapshot`) to\ndump its buffer now, and prints the file it "
		"wrote.  Same as `kill -USR2` to\nthe capture process.\n"
		"\nOptions:\n"
		"  -p, --pid PID      the traced process (names the socket)\n"
		"      --socket PATH  the control socket, if capture was "
		"given --socket\n"
		"      --status       ask for the capture's state instead\n"
		"  -h, --help         this help\n", sa_prog, sa_prog);
}

int cmd_trigger(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "status", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 30 };
	const char *sock_opt = NULL, *req = "dump\n";
	char path[PATH_MAX], reply[PATH_MAX + 128];
	struct sa_common cm;
	pid_t pid;
	size_t got = 0;
	ssize_t n;
	int opt, fd, err;

	sa_common_init(&cm, "trigger", SA_CO_PID);
	while ((opt = sa_getopt(argc, argv, "", opts, &cm)) != -1) {
		switch (opt) {
		case SA_GETOPT_USAGE:
			return SA_EXIT_USAGE;
		case 's':
			sock_opt = optarg;
			break;
		case 'S':
			req = "status\n";
			break;
		case 'h':
			trigger_usage(stdout);
			return SA_EXIT_OK;
		default:
			trigger_usage(stderr);
			return SA_EXIT_USAGE;
		}
	}
	pid = cm.pid;
	if (optind < argc) {
		sa_err("unexpected argument '%s'", argv[optind]);
		return SA_EXIT_USAGE;
	}
	if (!pid && !sock_opt) {
		sa_err("trigger needs --pid PID or --socket PATH");
		return SA_EXIT_USAGE;
	}
	err = sa_capture_socket_path((pid_t)pid, sock_opt, path, sizeof(path),
				     false);
	if (err) {
		sa_err("control socket path: %s", sa_strerror(err));
		return SA_EXIT_FAIL;
	}
	if (strlen(path) >= sizeof(a.sun_path)) {
		sa_err("%s: path too long for a unix socket", path);
		return SA_EXIT_FAIL;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		sa_err("socket: %s", strerror(errno));
		return SA_EXIT_FAIL;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		sa_err("%s: %s (is `%s capture --pid %d --snapshot` "
		       "running?)", path, strerror(errno), sa_prog, (int)pid);
		close(fd);
		return SA_EXIT_FAIL;
	}
	/* A dump of a large buffer takes a while; do not wait forever. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		sa_err("%s: write: %s", path, strerror(errno));
		close(fd);
		return SA_EXIT_FAIL;
	}
	while (got < sizeof(reply) - 1 &&
	       (n = read(fd, reply + got, sizeof(reply) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	if (!got) {
		sa_err("%s: no reply (timeout or the capture ended)", path);
		return SA_EXIT_FAIL;
	}
	if (strncmp(reply, "ok ", 3)) {
		sa_err("%s", reply[0] ? reply : "bad reply");
		return SA_EXIT_FAIL;
	}
	printf("%s\n", reply + 3);
	return SA_EXIT_OK;
}
