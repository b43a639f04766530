// SPDX-License-Identifier: BSD-2-Clause
/*
 * The emulated sensor's recorder: ptrace on one thread of a real process.
 *
 * Inside the address filter the thread is single-stepped and every
 * retired instruction goes to the PT encoder.  Outside it the thread runs
 * at full speed: the pages of the filter lose PROT_EXEC (an mprotect
 * injected into the target), so that the first instruction fetched there,
 * whatever brought control back (a return, a callback from libc, longjmp,
 * a signal handler, sigreturn), faults with SEGV_ACCERR at exactly that
 * address.  The sensor swallows that fault, gives the pages their
 * protection back and resumes single-stepping.  Breakpoints on return
 * addresses would miss callbacks, longjmp and sigreturn; the page fault
 * misses nothing.  See docs/emulate.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <capstone/capstone.h>

#include "sensor/emu.h"
#include "sensor/log.h"
#include "emu_guard.h"
#include "emu_rec.h"

#define NS_PER_MS 1000000ull

uint64_t sa_emu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Instruction classification (capstone), cached per window.
 */
static bool x86_is_string_op(unsigned int id)
{
	switch (id) {
	case X86_INS_MOVSB: case X86_INS_MOVSW: case X86_INS_MOVSD:
	case X86_INS_MOVSQ: case X86_INS_STOSB: case X86_INS_STOSW:
	case X86_INS_STOSD: case X86_INS_STOSQ: case X86_INS_LODSB:
	case X86_INS_LODSW: case X86_INS_LODSD: case X86_INS_LODSQ:
	case X86_INS_CMPSB: case X86_INS_CMPSW: case X86_INS_CMPSD:
	case X86_INS_CMPSQ: case X86_INS_SCASB: case X86_INS_SCASW:
	case X86_INS_SCASD: case X86_INS_SCASQ: case X86_INS_INSB:
	case X86_INS_INSW: case X86_INS_INSD: case X86_INS_OUTSB:
	case X86_INS_OUTSW: case X86_INS_OUTSD:
		return true;
	default:
		return false;
	}
}

static enum sa_iclass x86_iclass(csh cs, const cs_insn *ci)
{
	const cs_x86 *x = &ci->detail->x86;
	bool direct = x->op_count == 1 && x->operands[0].type == X86_OP_IMM;

	switch (ci->id) {
	case X86_INS_JMP:
		return direct ? SA_IC_JUMP : SA_IC_IND_JUMP;
	case X86_INS_CALL:
		return direct ? SA_IC_CALL : SA_IC_IND_CALL;
	case X86_INS_RET:
		return SA_IC_RET;
	case X86_INS_LJMP: case X86_INS_LCALL: case X86_INS_RETF:
	case X86_INS_IRET: case X86_INS_IRETD: case X86_INS_IRETQ:
	case X86_INS_SYSRET: case X86_INS_SYSEXIT:
		return SA_IC_FAR;
	case X86_INS_SYSCALL: case X86_INS_SYSENTER: case X86_INS_INT:
	case X86_INS_INT1: case X86_INS_INT3: case X86_INS_INTO:
		return SA_IC_SYSCALL;
	case X86_INS_JRCXZ: case X86_INS_JECXZ: case X86_INS_JCXZ:
	case X86_INS_LOOP: case X86_INS_LOOPE: case X86_INS_LOOPNE:
		return SA_IC_COND;
	default:
		break;
	}
	if (cs_insn_group(cs, ci, CS_GRP_JUMP))
		return SA_IC_COND;	/* every other jump is a jcc */
	return SA_IC_OTHER;
}

static uint32_t cache_hash(uint64_t ip)
{
	ip ^= ip >> 29;
	ip *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(ip >> 32);
}

int sa_emu_read_mem(struct sa_emu *emu, uint64_t addr, void *buf,
		    size_t len)
{
	ssize_t n = pread(emu->mem_fd, buf, len, (off_t)addr);

	if (n < 0)
		return -errno;
	return (int)n;
}

int sa_emu_classify(struct sa_emu *emu, uint64_t ip, struct sa_emu_insn *out)
{
	struct sa_emu_icache_ent *e;
	uint8_t bytes[16];
	cs_insn *ci = emu->cs_insn;
	const uint8_t *code = bytes;
	size_t size;
	uint64_t addr = ip;
	uint32_t h, i;
	int n;

	h = cache_hash(ip) & (SA_EMU_ICACHE - 1);
	for (i = 0; i < 8; i++) {
		e = &emu->icache[(h + i) & (SA_EMU_ICACHE - 1)];
		if (e->ip == ip && e->in.size) {
			*out = e->in;
			return 0;
		}
		if (!e->in.size)
			break;
	}
	n = sa_emu_read_mem(emu, ip, bytes, sizeof(bytes));
	if (n <= 0)
		return n < 0 ? n : -SA_ERR_NOMAP;
	size = (size_t)n;
	if (!cs_disasm_iter(emu->cs, &code, &size, &addr, ci)) {
		/* capstone 4 does not know AVX-512 (EVEX) and some newer
		 * encodings.  None of them transfers control, so the step
		 * itself gives the length (sa_emu_icache_set_size()).
		 */
		out->size = 0;
		out->iclass = SA_IC_OTHER;
		out->rep = false;
		return 1;
	}
	out->size = (uint8_t)ci->size;
	out->iclass = (uint8_t)x86_iclass(emu->cs, ci);
	out->rep = (ci->detail->x86.prefix[0] == X86_PREFIX_REP ||
		    ci->detail->x86.prefix[0] == X86_PREFIX_REPNE) &&
		   x86_is_string_op(ci->id);
	/* A full probe window is simply overwritten: the cache is bounded. */
	e = &emu->icache[(h + (i < 8 ? i : 0)) & (SA_EMU_ICACHE - 1)];
	e->ip = ip;
	e->in = *out;
	return 0;
}

void sa_emu_icache_set_size(struct sa_emu *emu, uint64_t ip, uint8_t size)
{
	uint32_t h = cache_hash(ip) & (SA_EMU_ICACHE - 1), i;
	struct sa_emu_icache_ent *e;

	for (i = 0; i < 8; i++) {
		e = &emu->icache[(h + i) & (SA_EMU_ICACHE - 1)];
		if (!e->in.size || e->ip == ip)
			break;
	}
	if (i == 8)
		e = &emu->icache[h];
	e->ip = ip;
	e->in.size = size;
	e->in.iclass = SA_IC_OTHER;
	e->in.rep = false;
}

void sa_emu_icache_clear(struct sa_emu *emu)
{
	memset(emu->icache, 0, sizeof(emu->icache));
}

/*
 * /proc/PID/maps.
 */
void sa_emu_maps_free(struct sa_emu *emu)
{
	size_t i;

	for (i = 0; i < emu->nr_vmas; i++)
		free(emu->vmas[i].path);
	free(emu->vmas);
	emu->vmas = NULL;
	emu->nr_vmas = 0;
}

int sa_emu_maps_read(struct sa_emu *emu)
{
	char path[64], line[4096 + 128];
	FILE *f;
	int err = 0;

	sa_emu_maps_free(emu);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)emu->pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct sa_emu_vma v = { 0 };
		char perms[8] = "", name[4096] = "";
		unsigned long long start, end, off, ino;
		unsigned int maj, min;
		struct sa_emu_vma *nv;
		int nf;

		nf = sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %4095[^\n]",
			    &start, &end, perms, &off, &maj, &min, &ino, name);
		if (nf < 7)
			continue;
		if (emu->nr_vmas >= SA_EMU_MAX_VMAS) {
			err = -SA_ERR_TOOBIG;
			break;
		}
		v.start = start;
		v.end = end;
		v.pgoff = off;
		v.maj = maj;
		v.min = min;
		v.ino = ino;
		v.prot = (perms[0] == 'r' ? PROT_READ : 0) |
			 (perms[1] == 'w' ? PROT_WRITE : 0) |
			 (perms[2] == 'x' ? PROT_EXEC : 0);
		if (nf == 8) {
			char *p = name;

			while (*p == ' ')
				p++;
			v.path = strdup(p);
			if (!v.path) {
				err = -ENOMEM;
				break;
			}
		}
		nv = realloc(emu->vmas, (emu->nr_vmas + 1) * sizeof(*nv));
		if (!nv) {
			free(v.path);
			err = -ENOMEM;
			break;
		}
		emu->vmas = nv;
		emu->vmas[emu->nr_vmas++] = v;
	}
	fclose(f);
	return err;
}

const struct sa_emu_vma *sa_emu_vma_at(const struct sa_emu *emu,
				       uint64_t addr)
{
	size_t i;

	for (i = 0; i < emu->nr_vmas; i++)
		if (addr >= emu->vmas[i].start && addr < emu->vmas[i].end)
			return &emu->vmas[i];
	return NULL;
}

/*
 * Waiting for the tracee.
 */
static int wait_tid(struct sa_emu *emu, int *status, bool nohang)
{
	pid_t r;

	for (;;) {
		r = waitpid(emu->tid, status, __WALL | (nohang ? WNOHANG : 0));
		if (r >= 0)
			return r == emu->tid ? 1 : 0;
		if (errno != EINTR)
			return -errno;
		if (emu->stop_req && !nohang)
			return -EINTR;
	}
}

static void drain_sigfd(struct sa_emu *emu)
{
	struct signalfd_siginfo si;

	if (emu->sig_fd < 0)
		return;
	while (read(emu->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
}

/* Waits for the next stop of the tracee.  When @deadline_ns passes or a
 * stop is requested, interrupts it (PTRACE_INTERRUPT) and reports that
 * stop: a tracee that blocks or runs outside the filter cannot hold the
 * window open.  Returns 0 with *@status set, or a negative error.
 */
int sa_emu_wait(struct sa_emu *emu, uint64_t deadline_ns, int *status)
{
	bool interrupted = false;
	int r;

	for (;;) {
		r = wait_tid(emu, status, true);
		if (r < 0)
			return r;
		if (r > 0)
			return 0;
		if (!emu->stop_req && sa_emu_guard_tripped())
			emu->stop_req = 1;
		if (!interrupted &&
		    (emu->stop_req ||
		     (deadline_ns && sa_emu_now_ns() >= deadline_ns))) {
			if (ptrace(PTRACE_INTERRUPT, emu->tid, 0, 0) < 0 &&
			    errno != ESRCH)
				return -errno;
			interrupted = true;
		}
		if (interrupted) {
			r = wait_tid(emu, status, false);
			if (r == -EINTR)
				continue;
			return r < 0 ? r : 0;
		}
		if (emu->sig_fd >= 0) {
			struct pollfd pfd = { .fd = emu->sig_fd,
					      .events = POLLIN };
			int ms = 10;

			if (deadline_ns) {
				uint64_t now = sa_emu_now_ns();
				uint64_t left = deadline_ns > now ?
						deadline_ns - now : 0;

				if (left / NS_PER_MS < (uint64_t)ms)
					ms = (int)(left / NS_PER_MS) + 1;
			}
			poll(&pfd, 1, ms);
			drain_sigfd(emu);
		} else {
			struct timespec ts = { 0, 200000 };

			nanosleep(&ts, NULL);
		}
	}
}

/* Waits for the end of a single-step of a non-syscall instruction:
 * blocking, as it comes at once.  A signal to the sensor (SIGINT with a
 * stop request) still gets through.
 */
int sa_emu_wait_step(struct sa_emu *emu, int *status)
{
	int r;

	for (;;) {
		r = wait_tid(emu, status, false);
		if (r == -EINTR)
			continue;	/* the step still ends: take it */
		return r < 0 ? r : 0;
	}
}

/* Classifies a wait status.  */
int sa_emu_stop_kind(int status, int *sig)
{
	*sig = 0;
	if (WIFEXITED(status) || WIFSIGNALED(status))
		return SA_EMU_STOP_EXIT;
	if (!WIFSTOPPED(status))
		return SA_EMU_STOP_OTHER;
	switch (status >> 16) {
	case PTRACE_EVENT_EXEC:
		return SA_EMU_STOP_EXEC;
	case PTRACE_EVENT_STOP:
		*sig = WSTOPSIG(status);
		return SA_EMU_STOP_GROUP;
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		*sig = status >> 16;
		return SA_EMU_STOP_CHILD;
	case 0:
		break;
	default:
		return SA_EMU_STOP_OTHER;
	}
	*sig = WSTOPSIG(status);
	if (*sig == (SIGTRAP | 0x80))	/* PTRACE_O_TRACESYSGOOD */
		return SA_EMU_STOP_SYSCALL;
	return SA_EMU_STOP_SIGNAL;
}

/*
 * Syscall injection, for mprotect on the filter's pages.
 */
static int find_syscall_insn(struct sa_emu *emu)
{
	size_t i;

	/* Any "0f 05" in an executable mapping will do: we jump right to
	 * it and execute only that.  The vDSO always has one.
	 */
	for (i = 0; i < emu->nr_vmas; i++) {
		const struct sa_emu_vma *v = &emu->vmas[i];
		uint8_t buf[4096];
		uint64_t a;

		if (!(v->prot & PROT_EXEC) || !v->path ||
		    strcmp(v->path, "[vdso]") != 0)
			continue;
		for (a = v->start; a < v->end; a += sizeof(buf) - 1) {
			int n = sa_emu_read_mem(emu, a, buf, sizeof(buf));
			int j;

			for (j = 0; j + 1 < n; j++) {
				if (buf[j] == 0x0f && buf[j + 1] == 0x05) {
					emu->syscall_ip = a + (uint64_t)j;
					return 0;
				}
			}
			if (n <= 0)
				break;
		}
	}
	return -SA_ERR_NOTFOUND;
}

/* Kernel-internal return values of an interrupted syscall. */
#define SA_ERESTARTSYS 512
#define SA_ERESTARTNOINTR 513
#define SA_ERESTARTNOHAND 514
#define SA_ERESTART_RESTARTBLOCK 516

/* A thread stopped (PTRACE_INTERRUPT, attach) inside a syscall would have
 * the kernel restart it on its way back to user space: rip moved back to
 * the syscall instruction, rax the syscall number again.  Registers that
 * we change, or a single-step, would skip that fixup and the syscall
 * would return -ERESTART* to the program.  So do the restart here, as the
 * kernel would with no signal to deliver, and leave the thread in a plain
 * user-space state: about to execute its syscall instruction again.
 */
int sa_emu_settle_syscall(struct sa_emu *emu)
{
	struct user_regs_struct regs;
	long rax;

	if (ptrace(PTRACE_GETREGS, emu->tid, 0, &regs) < 0)
		return -errno;
	if ((long long)regs.orig_rax < 0)
		return 0;
	rax = (long)regs.rax;
	switch (-rax) {
	case SA_ERESTARTSYS:
	case SA_ERESTARTNOINTR:
	case SA_ERESTARTNOHAND:
		regs.rax = regs.orig_rax;
		break;
	case SA_ERESTART_RESTARTBLOCK:
		regs.rax = SYS_restart_syscall;
		break;
	default:
		/* Done already: only keep the kernel from looking again. */
		regs.orig_rax = (unsigned long long)-1;
		if (ptrace(PTRACE_SETREGS, emu->tid, 0, &regs) < 0)
			return -errno;
		return 0;
	}
	regs.rip -= 2;		/* syscall is 0f 05 */
	regs.orig_rax = (unsigned long long)-1;
	if (ptrace(PTRACE_SETREGS, emu->tid, 0, &regs) < 0)
		return -errno;
	return 1;
}

/* Whether the signal at the tracee's signal-delivery-stop is the fault of
 * an entry into the filter's pages, which we made non-executable: a
 * SEGV_ACCERR at @ip, the instruction the thread was about to execute.
 * It is ours and must never reach the program.
 */
static bool own_entry_fault(struct sa_emu *emu, int sig, uint64_t ip)
{
	siginfo_t si;
	size_t i;

	if (sig != SIGSEGV || !emu->protected_ ||
	    ptrace(PTRACE_GETSIGINFO, emu->tid, 0, &si) < 0 ||
	    si.si_code != SEGV_ACCERR || (uint64_t)(uintptr_t)si.si_addr != ip)
		return false;
	for (i = 0; i < emu->nr_pages; i++)
		if (ip >= emu->pages[i].lo && ip < emu->pages[i].hi)
			return true;
	return false;
}

int sa_emu_inject_syscall(struct sa_emu *emu, long nr, uint64_t a1,
			  uint64_t a2, uint64_t a3, long *ret)
{
	struct user_regs_struct saved, regs;
	int status, sig, kind, tries = 0, requeue = 0;

	if (!emu->syscall_ip) {
		int err = find_syscall_insn(emu);

		if (err)
			return err;
	}
	if (sa_emu_settle_syscall(emu) < 0 ||
	    ptrace(PTRACE_GETREGS, emu->tid, 0, &saved) < 0)
		return -errno;
	regs = saved;
	regs.rip = emu->syscall_ip;
	regs.rax = (unsigned long long)nr;
	/* orig_rax -1: no syscall-restart fixup may touch our call. */
	regs.orig_rax = (unsigned long long)-1;
	regs.rdi = a1;
	regs.rsi = a2;
	regs.rdx = a3;
again:
	if (ptrace(PTRACE_SETREGS, emu->tid, 0, &regs) < 0)
		return -errno;
	if (ptrace(PTRACE_SINGLESTEP, emu->tid, 0, 0) < 0)
		return -errno;
	for (;;) {
		int r = wait_tid(emu, &status, false);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		break;
	}
	kind = sa_emu_stop_kind(status, &sig);
	if (kind == SA_EMU_STOP_EXIT) {
		emu->exited = true;
		emu->wstatus = status;
		return -ESRCH;
	}
	if (kind == SA_EMU_STOP_SIGNAL && sig != SIGTRAP) {
		/* A signal came first.  Stepping on without it drops it:
		 * queue it again once our call is done -- unless it is the
		 * fault of an entry into our protected pages, queued while
		 * another stop (our interrupt at the window's deadline) was
		 * reported first: requeued, it would kill the program.
		 */
		if (!requeue && !own_entry_fault(emu, sig, saved.rip))
			requeue = sig;
		if (++tries < 8)
			goto again;
		return -EAGAIN;
	}
	if (ptrace(PTRACE_GETREGS, emu->tid, 0, &regs) < 0)
		return -errno;
	/* Resuming from a stop inside a syscall (exec event, interrupt)
	 * with PTRACE_SINGLESTEP first reports the syscall exit as a step
	 * trap, before any instruction ran: step again.
	 */
	if (regs.rip == emu->syscall_ip && ++tries < 8) {
		/* That trap may also have stored the interrupted syscall's
		 * return value in rax: set our registers again.
		 */
		regs = saved;
		regs.rip = emu->syscall_ip;
		regs.rax = (unsigned long long)nr;
		regs.orig_rax = (unsigned long long)-1;
		regs.rdi = a1;
		regs.rsi = a2;
		regs.rdx = a3;
		goto again;
	}
	if (regs.rip != emu->syscall_ip + 2)
		return -SA_ERR_CORRUPT;
	*ret = (long)regs.rax;
	if (ptrace(PTRACE_SETREGS, emu->tid, 0, &saved) < 0)
		return -errno;
	if (requeue)
		syscall(SYS_tgkill, emu->pid, emu->tid, requeue);
	return 0;
}

/* Sets the protection of every filter page range: without PROT_EXEC when
 * @protect, else as it was.
 */
int sa_emu_protect(struct sa_emu *emu, bool protect)
{
	size_t i;

	for (i = 0; i < emu->nr_pages; i++) {
		const struct sa_emu_range *p = &emu->pages[i];
		int prot = p->prot & ~(protect ? PROT_EXEC : 0);
		long ret = 0;
		int err;

		err = sa_emu_inject_syscall(emu, SYS_mprotect, p->lo,
					    p->hi - p->lo, (uint64_t)prot,
					    &ret);
		sa_debug("emu: mprotect(%#" PRIx64 ", %#" PRIx64 ", %d) = %ld"
			 "\n", p->lo, p->hi - p->lo, prot, ret);
		if (err)
			return err;
		if (ret < 0) {
			sa_warn("emu: mprotect(%#" PRIx64 ", %#" PRIx64
				") in pid %d failed: %s\n", p->lo,
				p->hi - p->lo, (int)emu->pid,
				strerror((int)-ret));
			return (int)ret;
		}
	}
	emu->protected_ = protect;
	return 0;
}

/* Whether @sig has a handler in the target (SigCgt in /proc status). */
bool sa_emu_sig_caught(struct sa_emu *emu, int sig)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status",
		 (int)emu->pid, (int)emu->tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SigCgt: %llx", &mask) == 1) {
			found = true;
			break;
		}
	}
	fclose(f);
	return found && sig >= 1 && sig <= 64 && (mask >> (sig - 1)) & 1;
}
