// SPDX-License-Identifier: BSD-2-Clause
/*
 * The emulated Intel PT sensor: target control and the window loop.
 * emu_rec.c has the ptrace and memory primitives, emu_enc.c the encoder,
 * emu_filter.c the address filter, emu_perf.c the perf.data output.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "sensor/emu.h"
#include "sensor/log.h"
#include "emu_guard.h"
#include "emu_rec.h"

#define SA_EMU_DEFAULT_AUX (4ull << 20)
#define SA_EMU_MAX_AUX (1ull << 30)
/* Children are traced only long enough to leave them sound: see
 * adopt_child().
 */
#define SA_EMU_PTRACE_OPTS (PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | \
			    PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | \
			    PTRACE_O_TRACECLONE)

static struct sa_emu *emu_alloc(void)
{
	struct sa_emu *emu = calloc(1, sizeof(*emu));
	sigset_t chld;

	if (!emu)
		return NULL;
	emu->mem_fd = -1;
	emu->sig_fd = -1;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &emu->cs) != CS_ERR_OK) {
		free(emu);
		errno = ENOMEM;
		return NULL;
	}
	cs_option(emu->cs, CS_OPT_DETAIL, CS_OPT_ON);
	emu->cs_insn = cs_malloc(emu->cs);
	if (!emu->cs_insn) {
		cs_close(&emu->cs);
		free(emu);
		errno = ENOMEM;
		return NULL;
	}
	/* SIGCHLD through a signalfd lets the waits time out without a
	 * signal handler.  Without it we fall back to short sleeps.
	 */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (pthread_sigmask(SIG_BLOCK, &chld, &emu->old_mask) == 0) {
		emu->mask_set = true;
		emu->sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	}
	return emu;
}

static void maps_reset(struct sa_emu_map **maps, size_t *nr);

static void emu_release(struct sa_emu *emu)
{
	int i;

	if (emu->mem_fd >= 0)
		close(emu->mem_fd);
	if (emu->sig_fd >= 0)
		close(emu->sig_fd);
	if (emu->mask_set)
		pthread_sigmask(SIG_SETMASK, &emu->old_mask, NULL);
	cs_free(emu->cs_insn, 1);
	cs_close(&emu->cs);
	sa_emu_maps_free(emu);
	free(emu->aux);
	for (i = 0; i < emu->argc; i++)
		free(emu->argv[i]);
	free(emu->argv);
	maps_reset(&emu->maps, &emu->nr_maps);
	maps_reset(&emu->amaps, &emu->nr_amaps);
	free(emu->frozen);
	free(emu);
}

static int open_mem(struct sa_emu *emu, struct sa_errinfo *ei)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)emu->pid);
	emu->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (emu->mem_fd < 0)
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "emu: cannot open %s: %s", path,
				      strerror(errno));
	return 0;
}

static void read_comm(struct sa_emu *emu)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)emu->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, emu->comm, sizeof(emu->comm) - 1);
	close(fd);
	if (n > 0) {
		emu->comm[n] = '\0';
		emu->comm[strcspn(emu->comm, "\n")] = '\0';
	}
}

static int read_exe(struct sa_emu *emu)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)emu->pid);
	n = readlink(path, emu->exe, sizeof(emu->exe) - 1);
	if (n < 0)
		return -errno;
	emu->exe[n] = '\0';
	read_comm(emu);
	return 0;
}

static int copy_argv(struct sa_emu *emu, char *const argv[])
{
	int n = 0;

	while (argv[n])
		n++;
	emu->argv = calloc((size_t)n + 1, sizeof(char *));
	if (!emu->argv)
		return -ENOMEM;
	for (emu->argc = 0; emu->argc < n; emu->argc++) {
		emu->argv[emu->argc] = strdup(argv[emu->argc]);
		if (!emu->argv[emu->argc])
			return -ENOMEM;
	}
	return 0;
}

struct sa_emu *sa_emu__spawn(char *const argv[], struct sa_errinfo *ei)
{
	struct sa_emu *emu;
	int pfd[2], status, sig, kind, err = 0, child_errno = 0;
	pid_t pid;

	if (!argv || !argv[0]) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "emu: no command to run");
		errno = EINVAL;
		return NULL;
	}
	emu = emu_alloc();
	if (!emu) {
		sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET, "emu: out of memory");
		return NULL;
	}
	err = copy_argv(emu, argv);
	if (err)
		goto out_err_msg;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		err = -errno;
		goto out_err_msg;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pfd[0]);
		close(pfd[1]);
		goto out_err_msg;
	}
	if (pid == 0) {
		int e;

		close(pfd[0]);
		pthread_sigmask(SIG_SETMASK, &emu->old_mask, NULL);
		/* Stop so that the parent can PTRACE_SEIZE us: seized
		 * tracees accept PTRACE_INTERRUPT, which ends windows on
		 * time.
		 */
		raise(SIGSTOP);
		execvp(argv[0], argv);
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pfd[1]);
	emu->pid = emu->tid = pid;
	emu->spawned = true;
	if (waitpid(pid, &status, WSTOPPED) < 0 || !WIFSTOPPED(status)) {
		err = -ECHILD;
		close(pfd[0]);
		goto out_err_msg;
	}
	if (ptrace(PTRACE_SEIZE, pid, 0, SA_EMU_PTRACE_OPTS) < 0) {
		err = -errno;
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(pfd[0]);
		sa_errinfo_set(ei, -SA_ERR_PERM, SA_NO_OFFSET,
			       "emu: cannot ptrace the spawned %s: %s",
			       argv[0], strerror(-err));
		errno = EPERM;
		emu_release(emu);
		return NULL;
	}
	kill(pid, SIGCONT);
	for (;;) {
		if (waitpid(pid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		kind = sa_emu_stop_kind(status, &sig);
		if (kind == SA_EMU_STOP_EXEC)
			break;
		if (kind == SA_EMU_STOP_EXIT) {
			if (read(pfd[0], &child_errno, sizeof(child_errno)) !=
			    (ssize_t)sizeof(child_errno))
				child_errno = ENOEXEC;
			err = -child_errno;
			break;
		}
		/* The SIGSTOP group-stop and SIGCONT before the exec. */
		if (kind == SA_EMU_STOP_SIGNAL && sig != SIGSTOP &&
		    sig != SIGCONT)
			ptrace(PTRACE_CONT, pid, 0, sig);
		else
			ptrace(PTRACE_CONT, pid, 0, 0);
	}
	close(pfd[0]);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET,
			       "emu: cannot run '%s': %s%s", argv[0],
			       strerror(-err),
			       err == -ENOENT ? " (not found on PATH)" : "");
		errno = -err;
		emu_release(emu);
		return NULL;
	}
	err = open_mem(emu, ei);
	if (!err)
		err = read_exe(emu);
	if (err) {
		ptrace(PTRACE_DETACH, pid, 0, 0);
		goto out_err_msg;
	}
	return emu;

out_err_msg:
	if (ei && !ei->msg[0])
		sa_errinfo_set(ei, err, SA_NO_OFFSET,
			       "emu: cannot start '%s': %s", argv[0],
			       sa_strerror(err));
	errno = err < 0 && err > -4000 ? -err : EINVAL;
	emu_release(emu);
	return NULL;
}

static int yama_scope(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	return buf[0] - '0';
}

static pid_t tgid_of(pid_t tid)
{
	char path[64], line[256];
	FILE *f;
	int tgid = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

static int seize_stop(pid_t tid)
{
	int status, sig, kind;

	if (ptrace(PTRACE_SEIZE, tid, 0, SA_EMU_PTRACE_OPTS) < 0)
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return -errno;
	for (;;) {
		if (waitpid(tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		kind = sa_emu_stop_kind(status, &sig);
		if (kind == SA_EMU_STOP_EXIT)
			return -ESRCH;
		if (kind == SA_EMU_STOP_GROUP)
			return 0;
		/* A signal arrived before our interrupt: let it be
		 * delivered now; the interrupt stops the thread next.
		 * An event stop (the end of an execve under way when we
		 * seized, a clone) may have taken the interrupt's place:
		 * interrupt again, or the thread runs on and this wait
		 * never ends (seen once in 80 attaches right after an
		 * exec, on a loaded machine).  A second interrupt while
		 * one is pending gives one stop.
		 */
		ptrace(PTRACE_CONT, tid, 0,
		       kind == SA_EMU_STOP_SIGNAL ? sig : 0);
		if (kind != SA_EMU_STOP_SIGNAL &&
		    ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 && errno != ESRCH)
			return -errno;
	}
}

struct sa_emu *sa_emu__attach(pid_t tid, struct sa_errinfo *ei)
{
	struct sa_emu *emu;
	pid_t tgid;
	int err, scope;

	if (tid <= 0) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "emu: bad pid %d", (int)tid);
		errno = EINVAL;
		return NULL;
	}
	tgid = tgid_of(tid);
	if (tgid < 0) {
		sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
			       "emu: no process %d", (int)tid);
		errno = ESRCH;
		return NULL;
	}
	if (tgid == getpid()) {
		sa_errinfo_set(ei, -SA_ERR_PERM, SA_NO_OFFSET,
			       "emu: pid %d is the sensor itself", (int)tid);
		errno = EPERM;
		return NULL;
	}
	emu = emu_alloc();
	if (!emu) {
		sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET, "emu: out of memory");
		return NULL;
	}
	emu->pid = tgid;
	emu->tid = tid;
	err = seize_stop(tid);
	if (err) {
		scope = yama_scope();
		if (err == -ESRCH && tgid_of(tid) < 0)
			sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
				       "emu: no process %d", (int)tid);
		else
			sa_errinfo_set(ei, -SA_ERR_PERM, SA_NO_OFFSET,
				       "emu: cannot ptrace pid %d: %s%s%s",
				       (int)tid, strerror(-err),
				       scope > 0 ?
				       " (yama ptrace_scope is set in "
				       "/proc/sys/kernel/yama/ptrace_scope: "
				       "run as root or lower it)" : "",
				       err == -EPERM ?
				       "; is it a kernel thread, another "
				       "user's process, or already traced?" :
				       "");
		errno = err == -ESRCH ? ESRCH : EPERM;
		emu_release(emu);
		return NULL;
	}
	err = open_mem(emu, ei);
	if (!err)
		err = read_exe(emu);
	if (err) {
		ptrace(PTRACE_DETACH, tid, 0, 0);
		if (!ei || !ei->msg[0])
			sa_errinfo_set(ei, err, SA_NO_OFFSET,
				       "emu: cannot read pid %d: %s", (int)tid,
				       sa_strerror(err));
		errno = -err;
		emu_release(emu);
		return NULL;
	}
	return emu;
}

/* Stops the process's other threads for a window: they must not run into
 * the filter's pages while these are not executable.
 */
static void freeze_others(struct sa_emu *emu)
{
	char path[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)emu->pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long t = strtol(de->d_name, &end, 10);
		pid_t *nf;

		if (*end || t <= 0 || t == emu->tid)
			continue;
		if (emu->nr_frozen >= SA_EMU_MAX_THREADS)
			break;
		nf = realloc(emu->frozen,
			     (emu->nr_frozen + 1) * sizeof(*nf));
		if (!nf)
			break;
		emu->frozen = nf;
		if (seize_stop((pid_t)t) == 0)
			emu->frozen[emu->nr_frozen++] = (pid_t)t;
		else
			sa_warn("emu: could not stop thread %ld of pid %d "
				"for the window\n", t, (int)emu->pid);
	}
	closedir(d);
}

static void thaw_others(struct sa_emu *emu)
{
	size_t i;

	for (i = 0; i < emu->nr_frozen; i++)
		ptrace(PTRACE_DETACH, emu->frozen[i], 0, 0);
	emu->nr_frozen = 0;
}

/* After execve the address space is new: nothing of ours is protected
 * there, the vDSO moved and /proc/PID/mem must be opened again.
 */
static int after_exec(struct sa_emu *emu)
{
	emu->protected_ = false;
	emu->syscall_ip = 0;
	if (emu->mem_fd >= 0)
		close(emu->mem_fd);
	emu->mem_fd = -1;
	return open_mem(emu, NULL);
}

static int get_ip(struct sa_emu *emu, uint64_t *ip)
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, emu->tid, 0, &regs) < 0)
		return -errno;
	*ip = regs.rip;
	return 0;
}

static bool in_ranges(const struct sa_emu_range *r, size_t n, uint64_t ip)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ip >= r[i].lo && ip < r[i].hi)
			return true;
	return false;
}

static void maps_reset(struct sa_emu_map **maps, size_t *nr)
{
	size_t i;

	for (i = 0; i < *nr; i++)
		free((char *)(*maps)[i].path);
	free(*maps);
	*maps = NULL;
	*nr = 0;
}

/* Mappings perf writes MMAP2 records for besides files: the vDSO and
 * executable anonymous memory (JIT code), named as perf names them.
 */
static const char *anon_name(const struct sa_emu_vma *v)
{
	if (!v->path)
		return "//anon";
	if (v->path[0] == '[' || !strncmp(v->path, "/memfd:", 7))
		return v->path;
	return NULL;
}

static int maps_add(struct sa_emu_map **maps, size_t *nr,
		    const struct sa_emu_vma *v, const char *path,
		    uint64_t time)
{
	struct sa_emu_map *m;
	size_t i;

	for (i = 0; i < *nr; i++) {
		m = &(*maps)[i];
		if (m->start == v->start && m->len == v->end - v->start &&
		    m->pgoff == v->pgoff && !strcmp(m->path, path))
			return 0;
	}
	if (*nr >= SA_EMU_MAX_VMAS)
		return -SA_ERR_TOOBIG;
	m = realloc(*maps, (*nr + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	*maps = m;
	m = &m[*nr];
	m->start = v->start;
	m->len = v->end - v->start;
	m->pgoff = v->pgoff;
	m->time = time;
	m->path = strdup(path);
	if (!m->path)
		return -ENOMEM;
	(*nr)++;
	return 0;
}

/* Adds the executable mappings of emu->vmas to the window's lists.  The
 * lists only grow during a window: a library mapped after the window
 * started (ld.so mapping libc after exec, dlopen) is added when it is
 * seen, one unmapped before the window ended stays, as perf keeps the
 * MMAP2 records of mappings that went away.  New ones are stamped
 * @time: when they were made (after a mapping syscall), else the last
 * time the maps were read without them, plus one (see reread_maps()).
 */
static int note_maps(struct sa_emu *emu, uint64_t time)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < emu->nr_vmas; i++) {
		const struct sa_emu_vma *v = &emu->vmas[i];
		const char *an;

		if (!(v->prot & 4 /* PROT_EXEC */))
			continue;
		if (v->path && v->path[0] == '/' &&
		    strncmp(v->path, "/memfd:", 7) != 0) {
			err = maps_add(&emu->maps, &emu->nr_maps, v, v->path,
				       time);
			continue;
		}
		an = anon_name(v);
		if (an)
			err = maps_add(&emu->amaps, &emu->nr_amaps, v, an,
				       time);
	}
	return err;
}

/* Reads /proc/PID/maps again and notes what is new.  On failure the
 * mappings read before stay (the protection code looks up the vDSO in
 * them) and the window goes on with what it knows: best effort, a target
 * then left unknown is counted by the decode.  Returns 0 or -ENOMEM.
 *
 * @now is the time of a mapping syscall that just returned: what is new
 * was mapped then.  Without it (0: a read at an unknown address or at
 * the window's end) a new mapping was made some time after the last
 * read.  perf applies MMAP2 records in time order, after decoding the
 * trace up to their time, and dates the trace by its timing packets,
 * which lag behind the events: so a new mapping is stamped just before
 * the last timing packet the encoder had sent when it was made (or at
 * the last read), and its record comes before any trace that may use
 * it.  A trace without timing packets is decoded with every record
 * known; there the stamps are the times it was seen (docs/emulate.md).
 */
static int reread_maps(struct sa_emu *emu, uint64_t now)
{
	uint64_t clock = emu->enc ? sa_emu_enc_clock(emu->enc) : 0;
	uint64_t time;
	struct sa_emu_vma *old = emu->vmas;
	size_t nr_old = emu->nr_vmas;
	int err;

	emu->vmas = NULL;
	emu->nr_vmas = 0;
	err = sa_emu_maps_read(emu);
	if (err) {
		sa_emu_maps_free(emu);
		emu->vmas = old;
		emu->nr_vmas = nr_old;
		emu->rescans = SA_EMU_MAX_RESCANS;
		return err == -ENOMEM ? err : 0;
	}
	{
		struct sa_emu_vma *cur = emu->vmas;
		size_t nr_cur = emu->nr_vmas;

		emu->vmas = old;
		emu->nr_vmas = nr_old;
		sa_emu_maps_free(emu);
		emu->vmas = cur;
		emu->nr_vmas = nr_cur;
	}
	if (emu->enc && sa_emu_enc_clock(emu->enc))
		time = now ? clock : emu->look_clock;
	else
		time = now ? now : emu->look_ns + 1;
	time = time > 1 ? time - 1 : 1;
	emu->look_ns = now ? now : sa_emu_now_ns();
	emu->look_clock = clock;
	return note_maps(emu, time);
}

/* Control is at @ip outside the filter: when no known executable
 * mapping holds it,
 * the process mapped code since we last looked and no mapping syscall
 * told us (one of SA_EMU_MAX_SYS_RESCANS too many, a syscall not
 * stepped).  Reads /proc/PID/maps again, at most SA_EMU_MAX_RESCANS
 * times a window.
 */
static int rescan_maps(struct sa_emu *emu, uint64_t ip)
{
	const struct sa_emu_vma *v = sa_emu_vma_at(emu, ip);

	/* An executable one: a library often takes the place of a data
	 * mapping gone since (dlopen maps it where ld.so.cache was).
	 */
	if ((v && (v->prot & 4 /* PROT_EXEC */)) ||
	    emu->rescans >= SA_EMU_MAX_RESCANS)
		return 0;
	emu->rescans++;
	return reread_maps(emu, 0);
}

/* Whether the syscall @nr with third argument @a3 that returned @ret may
 * have made an executable mapping (x86-64 numbers): mmap, mprotect and
 * pkey_mprotect with PROT_EXEC, shmat with SHM_EXEC, mremap (moves or
 * grows a mapping), remap_file_pages, execve and execveat (that one ends
 * the window at its exec event before it returns).  munmap is not: it
 * only removes or trims mappings, and perf writes no record for that
 * either; the records of what went away stay.
 */
static bool maps_syscall(long nr, uint64_t a3, long ret)
{
	if (ret < 0 && ret > -4096)
		return false;		/* failed: nothing changed */
	switch (nr) {
	case 9:			/* mmap */
	case 10:		/* mprotect */
	case 329:		/* pkey_mprotect */
		return a3 & 4;	/* PROT_EXEC */
	case 30:		/* shmat */
		return a3 & 0100000;	/* SHM_EXEC */
	case 25:		/* mremap */
	case 216:		/* remap_file_pages */
	case 59:		/* execve */
	case 322:		/* execveat */
		return true;
	default:
		return false;
	}
}

/* The traced thread has just completed the syscall @nr (@a3 its third
 * argument), which returned @ret: reads the mappings again when it may
 * have mapped code, so that code mapped in the window gets its record
 * even if control never goes there.
 */
static int after_syscall(struct sa_emu *emu, long nr, uint64_t a3, long ret)
{
	if (emu->sys_rescans >= SA_EMU_MAX_SYS_RESCANS ||
	    !maps_syscall(nr, a3, ret))
		return 0;
	emu->sys_rescans++;
	return reread_maps(emu, sa_emu_now_ns());
}

/* The instruction at @ip, about to be stepped, is a syscall-class one:
 * returns the syscall's number (rax) and third argument (*@a3) when it
 * is a 64-bit `syscall` (0f 05), else -1.
 */
static long stepped_syscall(struct sa_emu *emu, uint64_t ip, uint64_t *a3)
{
	struct user_regs_struct regs;
	uint8_t b[2];

	if (sa_emu_read_mem(emu, ip, b, 2) != 2 || b[0] != 0x0f ||
	    b[1] != 0x05 || ptrace(PTRACE_GETREGS, emu->tid, 0, &regs) < 0)
		return -1;
	*a3 = regs.rdx;
	return (long)regs.rax;
}

/* A stepped syscall @nr (stepped_syscall()) is done. */
static int after_step_syscall(struct sa_emu *emu, long nr, uint64_t a3)
{
	struct user_regs_struct regs;

	if (!maps_syscall(nr, a3, 0))
		return 0;	/* not one that maps code, whatever it did */
	if (ptrace(PTRACE_GETREGS, emu->tid, 0, &regs) < 0)
		return 0;
	return after_syscall(emu, nr, a3, (long)regs.rax);
}

/* The traced thread, running at full speed under PTRACE_SYSCALL, is at
 * a syscall-enter-stop (*@entry set; the syscall's number and third
 * argument noted in @nr, @a3) or -exit-stop (the mappings read again
 * after a mapping syscall).  At the enter-stop, the registers are the
 * syscall's arguments, about to be used: the caller resumes the thread
 * before anything else (no injection there).  At the exit-stop the
 * syscall is done, a stop like an interrupt inside a syscall.
 */
static int syscall_stop(struct sa_emu *emu, bool *entry, long *nr,
			uint64_t *a3)
{
	struct __ptrace_syscall_info si;
	long n = *nr;

	memset(&si, 0, sizeof(si));
	if (ptrace(PTRACE_GET_SYSCALL_INFO, emu->tid, sizeof(si), &si) < 0) {
		if (errno == ESRCH)
			return -errno;
		/* A kernel before 5.3: no more syscall stops (PTRACE_CONT),
		 * and this one is resumed as if at an entry, which is safe
		 * at either.
		 */
		emu->no_sysinfo = true;
		*entry = true;
		*nr = -1;
		return 0;
	}
	*nr = -1;
	if (si.op == PTRACE_SYSCALL_INFO_ENTRY) {
		*entry = true;
		*nr = (long)si.entry.nr;
		*a3 = si.entry.args[2];
		return 0;
	}
	if (si.op == PTRACE_SYSCALL_INFO_EXIT && n >= 0)
		return after_syscall(emu, n, *a3, (long)si.exit.rval);
	return 0;
}

/* Injects the protection restore into another tracee of ours (a new
 * child), borrowing the target's fields.
 */
static int unprotect_in(struct sa_emu *emu, pid_t tid)
{
	pid_t pid = emu->pid, otid = emu->tid;
	int sig = emu->pending_sig, err;

	emu->pid = emu->tid = tid;
	emu->pending_sig = 0;
	err = sa_emu_protect(emu, false);
	emu->pid = pid;
	emu->tid = otid;
	emu->pending_sig = sig;
	return err;
}

/* The traced thread is stopped at a fork/vfork/clone event, inside the
 * syscall, before the kernel stores its return value: registers set now
 * (an injected call) would be overwritten, and restoring ours would lose
 * the return value.  One step brings it to the syscall's exit, a clean
 * stop (the step is reported there, before any user instruction; for a
 * vfork only once the child has execed or exited).
 */
static int step_out_of_syscall(struct sa_emu *emu)
{
	int status, sig, kind, r;

	if (ptrace(PTRACE_SINGLESTEP, emu->tid, 0, 0) < 0)
		return -errno;
	do {
		r = waitpid(emu->tid, &status, __WALL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	kind = sa_emu_stop_kind(status, &sig);
	if (kind == SA_EMU_STOP_EXIT) {
		emu->exited = true;
		emu->wstatus = status;
		return -ESRCH;
	}
	if (kind == SA_EMU_STOP_SIGNAL && sig != SIGTRAP)
		emu->pending_sig = sig;
	return 0;
}

/* The traced thread forked, vforked or made a thread (@event).  The new
 * task was attached automatically and is stopped.
 * - A new thread (same memory) must not run into protected pages: during
 *   a window it stays stopped with the other threads and the window ends
 *   (returns 1); outside a window it goes at once.
 * - A forked child got a copy of our protection: it gets the real one
 *   back, then goes its way untraced.
 * - A vfork child shares the memory: the protection is removed there for
 *   both, until the child execs or exits (the parent is stuck in vfork
 *   until then), and put back: the window goes on.
 */
static int adopt_child(struct sa_emu *emu, int event, bool in_window)
{
	bool was_protected = emu->protected_;
	unsigned long msg = 0;
	int status, ret = 0;
	pid_t child;
	pid_t *nf;

	if (ptrace(PTRACE_GETEVENTMSG, emu->tid, 0, &msg) < 0 || !msg)
		return 0;
	child = (pid_t)msg;
	while (waitpid(child, &status, __WALL) < 0 && errno == EINTR)
		;
	if (event == PTRACE_EVENT_CLONE && in_window &&
	    emu->nr_frozen < SA_EMU_MAX_THREADS) {
		/* It stays stopped until the window ends, which is now:
		 * the traced thread may well wait for it (pthread_join).
		 */
		nf = realloc(emu->frozen, (emu->nr_frozen + 1) * sizeof(*nf));
		if (nf) {
			emu->frozen = nf;
			emu->frozen[emu->nr_frozen++] = child;
			step_out_of_syscall(emu);
			return 1;
		}
	}
	if (event != PTRACE_EVENT_CLONE && emu->protected_) {
		if (unprotect_in(emu, child))
			sa_warn("emu: could not restore the code protection "
				"of pid %d's child %d\n", (int)emu->pid,
				(int)child);
		emu->protected_ = event != PTRACE_EVENT_VFORK;
	}
	ptrace(PTRACE_DETACH, child, 0, 0);
	if (event == PTRACE_EVENT_VFORK && was_protected) {
		/* The child shares our memory until it execs or exits: wait
		 * for that (the parent cannot run meanwhile), then protect
		 * again, and the window goes on.
		 */
		if (step_out_of_syscall(emu) || sa_emu_protect(emu, true))
			ret = 1;
	}
	return ret;
}

/* A SIGTRAP that reports one of our single-steps late: a step over a
 * syscall that was interrupted queues it on the way out of the kernel, and
 * it comes after we have stopped stepping.  It is ours, never the
 * target's; a breakpoint the program hits itself (int3) is SI_KERNEL and
 * is delivered.
 */
static bool stale_step_trap(struct sa_emu *emu, int sig)
{
	siginfo_t si;

	if (sig != SIGTRAP ||
	    ptrace(PTRACE_GETSIGINFO, emu->tid, 0, &si) < 0)
		return false;
	return si.si_code == TRAP_BRKPT || si.si_code == TRAP_TRACE;
}

/* Encoder calls of the recorder, logged for the benchmark when asked.
 * Each event happens when the recorder sees it: the stop that reports
 * it is the emulated clock's time (a vDSO clock read, next to the
 * tens of microseconds a ptrace step costs).
 */
static int rec_enter(struct sa_emu *emu, struct sa_emu_enc *enc,
		     uint64_t ip)
{
	uint64_t now = sa_emu_now_ns();
	int err;

	sa_emu_evlog_add(emu->evlog, SA_EMU_EV_ENTER, ip, NULL, 0, false,
			 now);
	err = sa_emu_enc_time(enc, now);
	return err ? err : sa_emu_enc_enter(enc, ip);
}

static int rec_retire(struct sa_emu *emu, struct sa_emu_enc *enc,
		      uint64_t ip, const struct sa_emu_insn *in, uint64_t next,
		      bool next_in)
{
	uint64_t now = sa_emu_now_ns();
	int err;

	sa_emu_evlog_add(emu->evlog, SA_EMU_EV_RETIRE, ip, in, next, next_in,
			 now);
	err = sa_emu_enc_time(enc, now);
	return err ? err : sa_emu_enc_retire(enc, ip, in, next, next_in);
}

static int rec_async(struct sa_emu *emu, struct sa_emu_enc *enc, uint64_t ip)
{
	uint64_t now = sa_emu_now_ns();
	int err;

	sa_emu_evlog_add(emu->evlog, SA_EMU_EV_ASYNC, ip, NULL, 0, false,
			 now);
	err = sa_emu_enc_time(enc, now);
	return err ? err : sa_emu_enc_async(enc, ip);
}

/* The core loop of a window: see the comment at the top of emu_rec.c. */
static int record(struct sa_emu *emu, const struct sa_emu_opts *opts,
		  struct sa_emu_enc *enc, struct sa_emu_stats *st,
		  struct sa_errinfo *ei)
{
	uint64_t start = sa_emu_now_ns();
	uint64_t deadline = opts->max_ms ? start + opts->max_ms * 1000000ull :
					   0;
	bool delivering = false, sys_entry = false;
	struct sa_emu_insn in = { 0 };
	uint64_t ip = 0, nip = 0, sys_a3 = 0, step_a3 = 0;
	long sys_nr = -1, step_nr = -1;
	int err, status, sig, kind;

	err = sa_emu_settle_syscall(emu);
	if (err >= 0)
		err = get_ip(emu, &ip);
	if (err)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "emu: cannot read registers of %d: %s",
				      (int)emu->tid, strerror(-err));
	for (;;) {
		bool in_page = in_ranges(emu->pages, emu->nr_pages, ip);
		bool in_filt = in_ranges(emu->filt, emu->nr_filt, ip);
		int resume_sig = emu->pending_sig;

		if (!emu->stop_req && sa_emu_guard_tripped())
			emu->stop_req = 1;
		/* Never stop at a syscall-enter-stop: the registers we
		 * would change to restore the protection are the syscall's
		 * (see below).
		 */
		if (emu->stop_req && !sys_entry) {
			st->stopped_by_request = true;
			break;
		}
		if (opts->max_insns && st->insns >= opts->max_insns &&
		    !sys_entry)
			break;
		if (deadline && sa_emu_now_ns() >= deadline && !sys_entry)
			break;
		/* The trigger: before the instruction at stop_ip runs. */
		if (st->stop_ip && ip == st->stop_ip && st->steps &&
		    !sys_entry && in_filt) {
			/* Reached from outside the filter (a callback): the
			 * trace shows the entry, then the stop.
			 */
			err = 0;
			if (!sa_emu_enc_enabled(enc) &&
			    !sa_emu_enc_overflowed(enc)) {
				err = rec_enter(emu, enc, ip);
				st->entries++;
			}
			if (!err)
				err = sa_emu_enc_stop(enc, ip);
			if (err)
				goto fail;
			st->stopped_at = true;
			break;
		}
		emu->pending_sig = 0;

		if (!in_page || sys_entry) {
			if (!sys_entry) {
				err = rescan_maps(emu, ip);
				if (err)
					goto fail;
			}
			/* Full speed until control comes back. */
			if (!emu->protected_) {
				err = sa_emu_protect(emu, true);
				if (err)
					goto fail;
			}
			/* Stopping at each syscall's entry and exit, to read
			 * the mappings again after those that map code.
			 */
			if (ptrace(emu->no_sysinfo ? PTRACE_CONT :
					   PTRACE_SYSCALL, emu->tid, 0,
				   sys_entry ? 0 : resume_sig) < 0) {
				err = -errno;
				goto fail;
			}
			sys_entry = false;
			err = sa_emu_wait(emu, deadline, &status);
			if (err)
				goto fail;
			kind = sa_emu_stop_kind(status, &sig);
			if (kind == SA_EMU_STOP_SYSCALL) {
				err = syscall_stop(emu, &sys_entry, &sys_nr,
						   &sys_a3);
				if (!err)
					err = get_ip(emu, &ip);
				if (err)
					goto fail;
				continue;
			}
			if (kind == SA_EMU_STOP_EXIT) {
				emu->exited = true;
				emu->wstatus = status;
				st->exited = true;
				return 0;
			}
			if (kind == SA_EMU_STOP_EXEC) {
				st->exec = true;
				return after_exec(emu);
			}
			if (kind == SA_EMU_STOP_CHILD &&
			    adopt_child(emu, sig, true)) {
				st->new_task = true;
				return 0;
			}
			err = get_ip(emu, &ip);
			if (err)
				goto fail;
			if (kind == SA_EMU_STOP_SIGNAL && sig == SIGSEGV) {
				siginfo_t si;

				if (ptrace(PTRACE_GETSIGINFO, emu->tid, 0,
					   &si) == 0 &&
				    si.si_code == SEGV_ACCERR &&
				    (uint64_t)(uintptr_t)si.si_addr == ip &&
				    in_ranges(emu->pages, emu->nr_pages, ip))
					continue;	/* our entry fault */
			}
			if (kind == SA_EMU_STOP_SIGNAL &&
			    !stale_step_trap(emu, sig)) {
				emu->pending_sig = sig;
				st->signals++;
			}
			continue;
		}

		if (emu->protected_) {
			err = sa_emu_protect(emu, false);
			if (err)
				goto fail;
		}
		if (in_filt) {
			if (!sa_emu_enc_enabled(enc) &&
			    !sa_emu_enc_overflowed(enc)) {
				err = rec_enter(emu, enc, ip);
				if (err)
					goto fail;
				st->entries++;
			}
			err = sa_emu_classify(emu, ip, &in);
			if (err > 0)
				err = 0;	/* length from the step */
			if (err) {
				sa_errinfo_set(ei, err, SA_NO_OFFSET,
					       "emu: cannot decode the "
					       "instruction at %#" PRIx64
					       " in pid %d: %s", ip,
					       (int)emu->pid, sa_strerror(err));
				goto fail_msg;
			}
		}
		if (resume_sig && sa_emu_sig_caught(emu, resume_sig)) {
			/* The handler is entered before the instruction at
			 * ip retires: hardware shows FUP(ip) + TIP.PGD.
			 */
			if (in_filt)
				rec_async(emu, enc, ip);
			delivering = true;
		}
		/* A syscall stepped in the filter: its number and third
		 * argument, to tell a mapping syscall once it is done.
		 */
		step_nr = -1;
		if (in_filt && in.iclass == SA_IC_SYSCALL && !delivering)
			step_nr = stepped_syscall(emu, ip, &step_a3);
		if (ptrace(PTRACE_SINGLESTEP, emu->tid, 0, resume_sig) < 0) {
			err = -errno;
			goto fail;
		}
		st->steps++;
		/* A step ends in microseconds, unless it is a syscall that
		 * blocks: only those need the deadline.  Stepping outside
		 * the filter (code sharing its pages) may meet syscalls too.
		 */
		if (in_filt && in.iclass != SA_IC_SYSCALL && !delivering) {
			err = sa_emu_wait_step(emu, &status);
		} else {
			err = sa_emu_wait(emu, deadline, &status);
		}
		if (err)
			goto fail;
		kind = sa_emu_stop_kind(status, &sig);
		if (kind == SA_EMU_STOP_EXIT || kind == SA_EMU_STOP_EXEC) {
			if (in_filt && !delivering) {
				if (in.iclass == SA_IC_SYSCALL) {
					if (emu->insn_fn)
						emu->insn_fn(emu->insn_ctx, ip);
					st->insns++;
					st->syscalls++;
					rec_retire(emu, enc, ip, &in, 0,
							  false);
				} else {
					rec_async(emu, enc, ip);
				}
			}
			if (kind == SA_EMU_STOP_EXIT) {
				emu->exited = true;
				emu->wstatus = status;
				st->exited = true;
			} else {
				st->exec = true;
				return after_exec(emu);
			}
			return 0;
		}
		if (kind == SA_EMU_STOP_CHILD) {
			/* Inside fork/clone: the syscall goes on with the
			 * next step, which retires it; a new thread or a
			 * vfork ends the window before that.
			 */
			if (adopt_child(emu, sig, true)) {
				st->new_task = true;
				break;
			}
			continue;
		}
		err = get_ip(emu, &nip);
		if (err)
			goto fail;
		if (kind == SA_EMU_STOP_GROUP) {
			/* Interrupted (deadline) while in a syscall. */
			if (in_filt && nip != ip && !delivering) {
				if (emu->insn_fn)
					emu->insn_fn(emu->insn_ctx, ip);
				st->insns++;
				st->syscalls++;
				rec_retire(emu, enc, ip, &in, nip,
						  in_ranges(emu->filt,
							    emu->nr_filt, nip));
			}
			ip = nip;
			delivering = false;
			continue;
		}
		if (kind == SA_EMU_STOP_SIGNAL && sig != SIGTRAP) {
			/* A signal is about to be delivered.  A syscall that
			 * it interrupted has completed: retire it first.
			 */
			if (in_filt && nip != ip && !delivering &&
			    in.iclass == SA_IC_SYSCALL) {
				if (emu->insn_fn)
					emu->insn_fn(emu->insn_ctx, ip);
				st->insns++;
				st->syscalls++;
				rec_retire(emu, enc, ip, &in, nip, false);
			}
			emu->pending_sig = sig;
			st->signals++;
			ip = nip;
			delivering = false;
			continue;
		}
		/* The step is done. */
		if (delivering) {
			delivering = false;
			ip = nip;
			continue;
		}
		if (in_filt && !in.size) {
			if (nip <= ip || nip - ip > 15) {
				err = sa_errinfo_set(ei, -SA_ERR_DECODE,
						     SA_NO_OFFSET,
						     "emu: cannot decode the "
						     "instruction at %#" PRIx64
						     " in pid %d", ip,
						     (int)emu->pid);
				goto fail_msg;
			}
			in.size = (uint8_t)(nip - ip);
			sa_emu_icache_set_size(emu, ip, in.size);
		}
		if (in_filt) {
			bool jump = in.iclass == SA_IC_JUMP ||
				    in.iclass == SA_IC_COND ||
				    in.iclass == SA_IC_IND_JUMP;

			if (nip == ip && (in.rep || !jump))
				/* One more rep iteration, or the step trap that
				 * a syscall exit reports before anything ran.
				 */
				continue;
			if (emu->insn_fn)
				emu->insn_fn(emu->insn_ctx, ip);
			st->insns++;
			if (in.iclass == SA_IC_SYSCALL)
				st->syscalls++;
			err = rec_retire(emu, enc, ip, &in, nip,
					 in_ranges(emu->filt, emu->nr_filt,
						   nip));
			if (!err && step_nr >= 0)
				err = after_step_syscall(emu, step_nr,
							 step_a3);
			if (err)
				goto fail;
		}
		ip = nip;
	}
	/* The window ends here: trace stops before the next instruction. */
	if (sa_emu_enc_enabled(enc))
		rec_async(emu, enc, ip);
	return 0;

fail:
	sa_errinfo_set(ei, err, SA_NO_OFFSET,
		       "emu: tracing pid %d failed: %s", (int)emu->pid,
		       sa_strerror(err));
fail_msg:
	return err;
}

static int unprotect_retry(struct sa_emu *emu);
static bool adopt_frozen(struct sa_emu *emu);

int sa_emu_window(struct sa_emu *emu, const struct sa_emu_opts *opts,
		  const char *path, struct sa_emu_stats *st,
		  struct sa_errinfo *ei)
{
	struct sa_emu_opts o = opts ? *opts : (struct sa_emu_opts){ 0 };
	struct sa_emu_stats local;
	struct sa_emu_enc_cfg ecfg = { 0 };
	struct sa_emu_enc *enc;
	uint64_t t0 = sa_emu_now_ns();
	int err, uerr;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	sa_errinfo_clear(ei);
	if (emu->exited)
		return sa_errinfo_set(ei, -ESRCH, SA_NO_OFFSET,
				      "emu: pid %d has exited", (int)emu->pid);
	if (!o.aux_size)
		o.aux_size = SA_EMU_DEFAULT_AUX;
	if (o.aux_size > SA_EMU_MAX_AUX)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "emu: --aux-size %" PRIu64 " is over the "
				      "cap of %llu bytes", o.aux_size,
				      SA_EMU_MAX_AUX);
	if (o.mtc_period > SA_EMU_MTC_PERIOD_MAX ||
	    o.cyc_thresh > SA_EMU_CYC_THRESH_MAX)
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "emu: mtc_period %u or cyc_thresh %u is "
				      "over 15 (4-bit fields of the "
				      "intel_pt config)", o.mtc_period,
				      o.cyc_thresh);
	maps_reset(&emu->maps, &emu->nr_maps);
	maps_reset(&emu->amaps, &emu->nr_amaps);
	emu->rescans = 0;
	emu->sys_rescans = 0;
	emu->look_ns = sa_emu_now_ns();
	emu->look_clock = 0;
	err = read_exe(emu);
	if (!err)
		err = sa_emu_maps_read(emu);
	if (!err)
		err = note_maps(emu, 0);
	if (!err)
		sa_emu_save_vdso(emu);
	if (err)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "emu: cannot read the mappings of pid "
				      "%d: %s", (int)emu->pid,
				      sa_strerror(err));
	err = sa_emu_filter_resolve(emu, o.filter, ei);
	if (err)
		return err;
	if (o.stop_file) {
		if (sa_emu_file_off_runtime(emu, o.stop_file, o.stop_off,
					    &st->stop_ip))
			return sa_errinfo_set(ei, -SA_ERR_NOMAP, SA_NO_OFFSET,
					      "emu: trigger: file offset %#"
					      PRIx64 " of %s is not mapped in "
					      "pid %d", o.stop_off,
					      o.stop_file, (int)emu->pid);
		if (!in_ranges(emu->filt, emu->nr_filt, st->stop_ip))
			return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					      "emu: trigger: %#" PRIx64 " (%s+"
					      "%#" PRIx64 ") is outside the "
					      "trace filter; add it with "
					      "--filter", st->stop_ip,
					      o.stop_file, o.stop_off);
	}
	free(emu->aux);
	emu->aux_len = 0;
	emu->aux = malloc(o.aux_size);
	if (!emu->aux)
		return sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
				      "emu: no memory for %" PRIu64
				      " bytes of trace", o.aux_size);
	ecfg.buf = emu->aux;
	ecfg.size = o.aux_size;
	ecfg.psb_period = o.psb_period;
	ecfg.noretcomp = o.noretcomp;
	ecfg.tsc = o.tsc;
	ecfg.mtc = o.mtc;
	ecfg.cyc = o.cyc;
	ecfg.mtc_period = o.mtc_period;
	ecfg.cyc_thresh = o.cyc_thresh;
	ecfg.tsc0 = sa_emu_now_ns();
	ecfg.ring = o.ring;
	if (emu->evlog)
		emu->evlog->tsc0 = ecfg.tsc0;
	enc = sa_emu_enc__new(&ecfg);
	if (!enc)
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "emu: cannot set up the PT encoder "
				      "(--aux-size %" PRIu64 " too small?)",
				      o.aux_size);
	sa_emu_icache_clear(emu);
	st->tid = emu->tid;
	freeze_others(emu);
	emu->enc = enc;
	err = record(emu, &o, enc, st, ei);
	if (emu->exited && emu->nr_frozen && adopt_frozen(emu)) {
		st->exited = false;
		st->thread_exited = true;
	}
	if (emu->protected_ && !emu->exited) {
		uerr = unprotect_retry(emu);
		if (uerr && !err)
			err = sa_errinfo_set(ei, uerr, SA_NO_OFFSET,
					     "emu: cannot restore the "
					     "protection of pid %d's code: %s",
					     (int)emu->pid, sa_strerror(uerr));
	}
	/* Pages left without PROT_EXEC would kill the threads we release:
	 * those stay frozen, for sa_emu__free() to try again.
	 */
	if (!emu->protected_ || emu->exited)
		thaw_others(emu);
	emu->aux_len = sa_emu_enc_finish(enc);
	st->overflow = sa_emu_enc_overflowed(enc);
	st->ring_dropped = sa_emu_enc_dropped(enc);
	st->trace_bytes = emu->aux_len;
	st->start_ns = t0;
	st->end_ns = sa_emu_now_ns();
	st->ns = st->end_ns - t0;
	/* What was mapped since the last look, unless the process is gone
	 * (its mappings were noted when control first reached them) or
	 * exec'd another image.
	 */
	if (!err && !emu->exited && !st->exec)
		err = reread_maps(emu, 0);
	emu->enc = NULL;
	sa_emu_enc__free(enc);
	if (!err && path)
		err = sa_emu_write_perf(emu, path, &o, st, ei);
	return err;
}

int sa_emu_run_free(struct sa_emu *emu, uint64_t ms, struct sa_errinfo *ei)
{
	uint64_t deadline = sa_emu_now_ns() + ms * 1000000ull;
	int status, sig, kind, err;

	if (emu->exited)
		return 1;
	for (;;) {
		int s = emu->pending_sig;

		emu->pending_sig = 0;
		if (ptrace(PTRACE_CONT, emu->tid, 0, s) < 0)
			return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
					      "emu: cannot resume pid %d: %s",
					      (int)emu->pid, strerror(errno));
		err = sa_emu_wait(emu, deadline, &status);
		if (err)
			return sa_errinfo_set(ei, err, SA_NO_OFFSET,
					      "emu: waiting for pid %d: %s",
					      (int)emu->pid, sa_strerror(err));
		kind = sa_emu_stop_kind(status, &sig);
		if (kind == SA_EMU_STOP_EXIT) {
			emu->exited = true;
			emu->wstatus = status;
			return 1;
		}
		if (kind == SA_EMU_STOP_GROUP)
			return 0;	/* our interrupt at the deadline */
		if (kind == SA_EMU_STOP_CHILD)
			adopt_child(emu, sig, false);
		if (kind == SA_EMU_STOP_SIGNAL && !stale_step_trap(emu, sig))
			emu->pending_sig = sig;
	}
}

int sa_emu_loop(struct sa_emu *emu, const struct sa_emu_opts *opts,
		uint64_t period_ms, unsigned int nr_windows,
		const char *path_fmt, sa_emu_window_fn window_fn, void *ctx,
		struct sa_errinfo *ei)
{
	unsigned int nr;
	int err;

	if (!opts || (!opts->max_insns && !opts->max_ms))
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "emu: a window needs a bound "
				      "(instructions or ms)");
	for (nr = 0; !nr_windows || nr < nr_windows; nr++) {
		struct sa_emu_stats st;
		char path[PATH_MAX];
		int n;

		n = snprintf(path, sizeof(path), path_fmt, nr);
		if (n < 0 || (size_t)n >= sizeof(path))
			return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					      "emu: bad output pattern '%s'",
					      path_fmt);
		err = sa_emu_window(emu, opts, path, &st, ei);
		if (err)
			return err;
		if (window_fn && window_fn(ctx, nr, path, &st))
			return (int)nr + 1;
		if (st.exited || emu->stop_req)
			return (int)nr + 1;
		/* The period runs from window start to window start. */
		err = sa_emu_run_free(emu, period_ms > st.ns / 1000000 ?
					   period_ms - st.ns / 1000000 : 0,
				      ei);
		if (err < 0)
			return err;
		if (err == 1 || emu->stop_req)
			return (int)nr + 1;
	}
	return (int)nr;
}

void sa_emu_request_stop(struct sa_emu *emu)
{
	if (emu)
		emu->stop_req = 1;
}

pid_t sa_emu_pid(const struct sa_emu *emu)
{
	return emu->pid;
}

bool sa_emu_exited(const struct sa_emu *emu, int *wstatus)
{
	if (emu->exited && wstatus)
		*wstatus = emu->wstatus;
	return emu->exited;
}

const uint8_t *sa_emu_trace(const struct sa_emu *emu, size_t *len)
{
	*len = emu->aux_len;
	return emu->aux;
}

size_t sa_emu_nr_maps(const struct sa_emu *emu)
{
	return emu->nr_maps;
}

const struct sa_emu_map *sa_emu_map(const struct sa_emu *emu, size_t idx)
{
	return idx < emu->nr_maps ? &emu->maps[idx] : NULL;
}

void sa_emu_set_insn_fn(struct sa_emu *emu, sa_emu_insn_fn fn, void *ctx)
{
	emu->insn_fn = fn;
	emu->insn_ctx = ctx;
}

/* Gives the filter's pages their protection back.  An injected mprotect
 * can fail transiently (a stop that the sensor's own interrupt or a
 * signal puts before it); the target must not keep the protection.
 */
static int unprotect_retry(struct sa_emu *emu)
{
	int i, err = 0;

	for (i = 0; i < 4 && emu->protected_ && !emu->exited; i++)
		err = sa_emu_protect(emu, false);
	return emu->protected_ && !emu->exited ? err : 0;
}

/* The traced thread ended (pthread_exit, SYS_exit) while the process
 * lives on: its frozen threads must not be released onto pages still
 * without PROT_EXEC, and the protection can only be restored from inside
 * the process.  One of them, stopped and seized as the traced thread was,
 * becomes the traced thread: the protection is restored through it, and
 * the next window goes on with it.  When none can be used (exit_group:
 * they are being killed too), the process has exited.
 */
static bool adopt_frozen(struct sa_emu *emu)
{
	int wstatus = emu->wstatus;

	while (emu->nr_frozen) {
		pid_t t = emu->frozen[--emu->nr_frozen];
		int err;

		sa_debug("emu: thread %d of pid %d ended; thread %d is "
			 "traced now\n", (int)emu->tid, (int)emu->pid, (int)t);
		emu->tid = t;
		emu->exited = false;
		emu->pending_sig = 0;
		err = unprotect_retry(emu);
		if (!emu->exited) {
			if (err)
				sa_warn("emu: cannot restore the protection of "
					"pid %d's code from thread %d: %s\n",
					(int)emu->pid, (int)t,
					sa_strerror(err));
			return true;
		}
		ptrace(PTRACE_DETACH, t, 0, 0);
	}
	emu->exited = true;
	emu->wstatus = wstatus;
	return false;
}

/* Whether SIGTRAP is pending for the traced thread (/proc SigPnd). */
static bool trap_pending(struct sa_emu *emu)
{
	char path[64], buf[4096], *p;
	unsigned long long pnd;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)emu->pid,
		 (int)emu->tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strstr(buf, "\nSigPnd:");
	if (!p)
		return false;
	pnd = strtoull(p + 8, NULL, 16);
	/* A blocked one (the program's own) would never stop the thread. */
	p = strstr(buf, "\nSigBlk:");
	if (!p || (strtoull(p + 8, NULL, 16) >> (SIGTRAP - 1)) & 1)
		return false;
	return (pnd >> (SIGTRAP - 1)) & 1;
}

/*
 * A step over a syscall that was interrupted leaves a step SIGTRAP
 * queued, delivered at the next return to user space: after a detach it
 * would kill the target.  Take it now: resume, and the signal-delivery
 * stop comes at once; a stale step trap is then dropped by the detach.
 */
static void drain_step_trap(struct sa_emu *emu)
{
	int i, status, sig, kind;

	for (i = 0; i < 4 && trap_pending(emu); i++) {
		if (ptrace(PTRACE_CONT, emu->tid, 0, emu->pending_sig) < 0)
			return;
		emu->pending_sig = 0;
		if (waitpid(emu->tid, &status, __WALL) != emu->tid)
			return;
		kind = sa_emu_stop_kind(status, &sig);
		if (kind == SA_EMU_STOP_EXIT) {
			emu->exited = true;
			emu->wstatus = status;
			return;
		}
		if (kind == SA_EMU_STOP_SIGNAL && !stale_step_trap(emu, sig))
			emu->pending_sig = sig;
	}
}

void sa_emu__free(struct sa_emu *emu)
{
	if (!emu)
		return;
	if (!emu->exited) {
		unprotect_retry(emu);
		drain_step_trap(emu);
	}
	if (!emu->exited) {
		thaw_others(emu);
		/* Detaching from a ptrace-stop resumes the thread, with the
		 * signal it was about to get.
		 */
		ptrace(PTRACE_DETACH, emu->tid, 0, emu->pending_sig);
	}
	emu_release(emu);
}
