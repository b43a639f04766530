/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running the peers (trc_pkt_lister, perf) at test time and reading their
 * output.  Header-only, shared by the etm-traces checks.
 */
#ifndef SA_TEST_ETM_PEER_H
#define SA_TEST_ETM_PEER_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs argv[0] (looked up in PATH) with stdout and stderr to @out.
 * Returns the exit status, or -1 when it could not run.
 */
static inline int peer_run(char *const argv[], const char *out)
{
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Starts argv[0] with its stdout on a pipe; returns the read end, and
 * the child in *@pid.  NULL when it could not start.
 */
static inline FILE *peer_popen(char *const argv[], pid_t *pid)
{
	int fds[2];

	if (pipe(fds) < 0)
		return NULL;
	*pid = fork();
	if (*pid < 0)
		return NULL;
	if (!*pid) {
		int nul = open("/dev/null", O_WRONLY);

		dup2(fds[1], 1);
		if (nul >= 0)
			dup2(nul, 2);
		close(fds[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	return fdopen(fds[0], "r");
}

/* Closes @f; kills the child first when @stop.  Returns its exit status,
 * or -1 (also when killed).
 */
static inline int peer_pclose(FILE *f, pid_t pid, bool stop)
{
	int st;

	if (stop)
		kill(pid, SIGKILL);
	fclose(f);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline bool peer_have(const char *prog)
{
	char *argv[] = { "sh", "-c", NULL, NULL };
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s", prog);
	argv[2] = cmd;
	return peer_run(argv, "/dev/null") == 0;
}

/* One INSTR_RANGE line of trc_pkt_lister. */
struct ppl_range {
	uint64_t idx;
	unsigned int id;
	uint64_t start, end;
	unsigned int ninsn, last_sz;
	bool exec;		/* E */
	char type[16];		/* "BR", "iBR", "---", "ISB", ... */
	bool cond, link, ret, eret;
};

/* Parses @line; returns 1 for an INSTR_RANGE, 2 for ADDR_NACC, 0 for
 * anything else.
 */
static inline int ppl_parse(const char *line, struct ppl_range *r)
{
	const char *p;
	char en;
	int n = 0;

	memset(r, 0, sizeof(*r));
	if (strstr(line, "OCSD_GEN_TRC_ELEM_ADDR_NACC"))
		return sscanf(line, "Idx:%" SCNu64 "; ID:%x;", &r->idx,
			      &r->id) == 2 ? 2 : 0;
	p = strstr(line, "OCSD_GEN_TRC_ELEM_INSTR_RANGE(exec range=");
	if (!p)
		return 0;
	if (sscanf(line, "Idx:%" SCNu64 "; ID:%x;", &r->idx, &r->id) != 2)
		return 0;
	p += strlen("OCSD_GEN_TRC_ELEM_INSTR_RANGE(exec range=");
	if (sscanf(p, "0x%" SCNx64 ":[0x%" SCNx64 "] num_i(%u) last_sz(%u) "
		   "(ISA=%*[^)]) %c %15s%n", &r->start, &r->end, &r->ninsn,
		   &r->last_sz, &en, r->type, &n) < 6)
		return 0;
	r->exec = en == 'E';
	p += n;
	r->cond = strstr(p, "<cond>") != NULL;
	r->link = strstr(p, "b+link") != NULL;
	r->eret = strstr(p, "eret") != NULL;
	r->ret = !r->eret && (strstr(p, "ret") != NULL);
	return 1;
}

#endif /* SA_TEST_ETM_PEER_H */
