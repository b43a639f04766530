// SPDX-License-Identifier: BSD-2-Clause
/*
 * The guardian: the process that holds ptrace over a target.
 *
 * A sensor that dies while it traces a target takes the target with it:
 * a step trap queued after the detach the kernel does at the tracer's
 * exit is delivered as a fatal SIGTRAP, the filter's pages stay without
 * PROT_EXEC (SIGSEGV at the next call into them), an injected mprotect
 * is left half done.  So the tracing runs in a forked child that does
 * nothing else, and that restores and detaches whenever the process that
 * started it goes away, by whatever signal, SIGKILL and the OOM killer
 * included: it learns that from PR_SET_PDEATHSIG and, robustly (the death
 * signal fires at the death of the parent *thread*), from the end of a
 * pipe whose only write end the parent holds.  See docs/emulate.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sensor/emu.h"
#include "emu_guard.h"

/*
 * Process-wide by nature: they describe the guardian process itself, are
 * set once after the fork and read by the signal handler and the
 * recorder's waits.  In the parent they keep their initial values.
 */
static volatile sig_atomic_t guard_stop;
static int guard_fd = -1;

bool sa_emu_guard_tripped(void)
{
	struct pollfd pfd;

	if (guard_stop)
		return true;
	if (guard_fd < 0)
		return false;
	pfd.fd = guard_fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	/* The parent never writes: readable or hung up means it is gone. */
	if (poll(&pfd, 1, 0) > 0 && pfd.revents)
		guard_stop = 1;
	return guard_stop;
}

static void guard_on_signal(int sig)
{
	(void)sig;
	guard_stop = 1;
}

static void guard_lower_oom(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	/* Lowering needs CAP_SYS_RESOURCE, unless the score was raised
	 * before: try the floor, then a step down, else keep it.
	 */
	if (write(fd, "-1000", 5) < 0 && write(fd, "-500", 4) < 0) {
		/* not permitted: the parent's score stays ours */
	}
	close(fd);
}

static void guard_setup(pid_t parent, int life_fd)
{
	/* SA_RESTART: a stop signal must not fail a ptrace wait with EINTR
	 * in the middle of an injected call (the error path could leave
	 * the protection half undone); the recorder polls the flag at every
	 * step and at least every 10 ms in its waits instead.
	 */
	struct sigaction sa = { .sa_handler = guard_on_signal,
				.sa_flags = SA_RESTART };
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	sigset_t unblock;
	size_t i;

	guard_fd = life_fd;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&unblock);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&unblock, sigs[i]);
	}
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* The parent may have died before the prctl. */
	if (getppid() != parent)
		guard_stop = 1;
	guard_lower_oom();
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct guard_hdr {
	int ret;
	struct sa_errinfo ei;
};

/* Reads what the guardian sends until it closes its end.  A signal to
 * this process forwards a stop request (SIGTERM) to the guardian once
 * @stop, if given, is set.
 */
static size_t read_result(int fd, pid_t child, const volatile sig_atomic_t *stop,
			  char *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	bool forwarded = false;
	size_t got = 0;

	for (;;) {
		ssize_t n;

		if (!forwarded && stop && *stop) {
			kill(child, SIGTERM);
			forwarded = true;
		}
		/* Bounded: a signal that comes between the test of @stop
		 * and the poll interrupts nothing; the next look sees it.
		 */
		n = poll(&pfd, 1, 100);
		if (n == 0)
			continue;
		if (n < 0) {
			if (errno != EINTR)
				return got;
			if (!forwarded && !stop) {
				kill(child, SIGTERM);
				forwarded = true;
			}
			continue;
		}
		if (got < len) {
			n = read(fd, buf + got, len - got);
		} else {
			char c;

			n = read(fd, &c, 1);	/* wait for the end */
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return got;
		if (got < len)
			got += (size_t)n;
	}
}

int sa_emu_guard_run(sa_emu_guard_fn fn, void *ctx, void *out, size_t out_len,
		     const volatile sig_atomic_t *stop, struct sa_errinfo *ei)
{
	struct guard_hdr hdr;
	int res[2], life[2];
	size_t got, total = sizeof(hdr) + out_len;
	char *buf;
	pid_t parent = getpid(), child;
	sigset_t stopsigs, oldmask;
	int ws = 0, err;

	buf = malloc(total);
	if (!buf)
		return sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
				      "guardian: out of memory");
	if (pipe2(res, O_CLOEXEC) < 0) {
		free(buf);
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "guardian: pipe: %s", strerror(errno));
	}
	if (pipe2(life, O_CLOEXEC) < 0) {
		err = -errno;
		goto close_res;
	}
	/* Nothing buffered may be written twice, by both processes. */
	fflush(NULL);
	/* The stop signals wait until the guardian has its own handlers
	 * (guard_setup() unblocks them): one forwarded right after the fork
	 * would otherwise run the caller's handler, inherited, which sets
	 * the caller's flag in the guardian's copy, and the guardian would
	 * trace on while this process waits for it.
	 */
	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGHUP);
	sigaddset(&stopsigs, SIGQUIT);
	sigprocmask(SIG_BLOCK, &stopsigs, &oldmask);
	child = fork();
	if (child)
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
	if (child < 0) {
		err = -errno;
		goto close_life;
	}
	if (!child) {
		close(res[0]);
		close(life[1]);
		guard_setup(parent, life[0]);
		memset(&hdr, 0, sizeof(hdr));
		hdr.ret = fn(ctx, out, &hdr.ei);
		fflush(NULL);
		if (!write_all(res[1], &hdr, sizeof(hdr)) && out_len)
			write_all(res[1], out, out_len);
		_exit(0);
	}
	close(res[1]);
	close(life[0]);
	got = read_result(res[0], child, stop, buf, total);
	if (got == total) {
		memcpy(&hdr, buf, sizeof(hdr));
		if (out_len)
			memcpy(out, buf + sizeof(hdr), out_len);
	}
	while (waitpid(child, &ws, 0) < 0 && errno == EINTR) {
		if (!stop || *stop)
			kill(child, SIGTERM);
	}
	close(res[0]);
	close(life[1]);
	free(buf);
	if (got != total) {
		if (WIFSIGNALED(ws))
			return sa_errinfo_set(ei, -ECHILD, SA_NO_OFFSET,
				"guardian process %d killed by signal %d (%s): "
				"its target may have been left traced or "
				"stopped", (int)child, WTERMSIG(ws),
				strsignal(WTERMSIG(ws)));
		return sa_errinfo_set(ei, -ECHILD, SA_NO_OFFSET,
				      "guardian process %d ended without a "
				      "result", (int)child);
	}
	if (ei)
		*ei = hdr.ei;
	return hdr.ret;

close_life:
	close(life[0]);
	close(life[1]);
close_res:
	close(res[0]);
	close(res[1]);
	free(buf);
	return sa_errinfo_set(ei, err, SA_NO_OFFSET, "guardian: %s",
			      strerror(-err));
}
