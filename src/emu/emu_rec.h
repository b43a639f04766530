/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The emulated sensor's state (private).
 */
#ifndef SA_EMU_REC_H
#define SA_EMU_REC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <capstone/capstone.h>

#include "sensor/emu.h"
#include "emu_priv.h"

#define SA_EMU_ICACHE (1u << 16)	/* instruction cache entries */
#define SA_EMU_MAX_VMAS 65536		/* mappings read from /proc */
#define SA_EMU_MAX_RESCANS 64		/* maps re-reads per window */
#define SA_EMU_MAX_SYS_RESCANS 1024	/* ... after mapping syscalls */
#define SA_EMU_VDSO_MAX (1u << 20)	/* a larger [vdso] is not read */
#define SA_EMU_MAX_RANGES 64		/* filter ranges */
#define SA_EMU_MAX_THREADS 4096		/* other threads frozen */
#define SA_EMU_FILTER_MAX 4096		/* filter string bytes */

struct sa_emu_icache_ent {
	uint64_t ip;
	struct sa_emu_insn in;
};

struct sa_emu_vma {
	uint64_t start, end, pgoff, ino;
	uint32_t maj, min;
	int prot;
	char *path;		/* NULL for anonymous */
};

struct sa_emu_range {
	uint64_t lo, hi;	/* [lo, hi) runtime addresses */
	int prot;		/* pages: protection to restore */
};

enum sa_emu_stop {
	SA_EMU_STOP_EXIT = 1,
	SA_EMU_STOP_EXEC,
	SA_EMU_STOP_GROUP,	/* PTRACE_EVENT_STOP: interrupt, group-stop */
	SA_EMU_STOP_SIGNAL,	/* signal-delivery-stop (SIGTRAP: a step) */
	SA_EMU_STOP_CHILD,	/* fork, vfork, clone: *sig is the event */
	SA_EMU_STOP_SYSCALL,	/* syscall-enter or -exit-stop (SYSGOOD) */
	SA_EMU_STOP_OTHER,
};

struct sa_emu {
	pid_t pid, tid;
	bool spawned;
	bool exited;
	int wstatus;
	bool protected_;
	int pending_sig;	/* to deliver at the next resume */
	volatile sig_atomic_t stop_req;
	int mem_fd;		/* /proc/PID/mem */
	int sig_fd;		/* signalfd for SIGCHLD, or -1 */
	sigset_t old_mask;
	bool mask_set;
	uint64_t syscall_ip;	/* a "syscall" insn for injection */
	char exe[4096];		/* /proc/PID/exe at the last window */
	char comm[32];
	char **argv;		/* spawned command line (for perf.data) */
	int argc;

	csh cs;
	cs_insn *cs_insn;
	struct sa_emu_icache_ent icache[SA_EMU_ICACHE];

	struct sa_emu_vma *vmas;
	size_t nr_vmas;

	/* Filter of the current window. */
	struct sa_emu_range filt[SA_EMU_MAX_RANGES];
	size_t nr_filt;
	struct sa_emu_range pages[SA_EMU_MAX_RANGES];
	size_t nr_pages;
	char filter_str[SA_EMU_FILTER_MAX];

	/* Other threads stopped for the window. */
	pid_t *frozen;
	size_t nr_frozen;

	/* Last window's output. */
	uint8_t *aux;
	size_t aux_len;
	struct sa_emu_map *maps;	/* executable file mappings */
	size_t nr_maps;
	struct sa_emu_map *amaps;	/* [vdso], //anon, ...: no file */
	size_t nr_amaps;
	unsigned rescans;		/* /proc/PID/maps reads this window */
	unsigned sys_rescans;		/* ... after mapping syscalls */
	uint64_t look_ns;		/* time of the last read */
	uint64_t look_clock;		/* the encoder's clock then */
	struct sa_emu_enc *enc;		/* the window's, in record() */
	bool vdso_tried;		/* sa_emu_save_vdso() done */
	bool no_sysinfo;		/* no PTRACE_GET_SYSCALL_INFO */
	uint8_t vdso_bid_len;
	uint8_t vdso_bid[20];		/* the vDSO's build-id */

	sa_emu_insn_fn insn_fn;
	void *insn_ctx;
	struct sa_emu_evlog *evlog;	/* bench hook, NULL normally */
};

uint64_t sa_emu_now_ns(void);
int sa_emu_read_mem(struct sa_emu *emu, uint64_t addr, void *buf,
		    size_t len);
/* Returns 0, 1 when capstone cannot decode the instruction (then
 * @out->size is 0: the length comes from the step), or < 0.
 */
int sa_emu_classify(struct sa_emu *emu, uint64_t ip,
		    struct sa_emu_insn *out);
void sa_emu_icache_clear(struct sa_emu *emu);
void sa_emu_icache_set_size(struct sa_emu *emu, uint64_t ip, uint8_t size);
int sa_emu_maps_read(struct sa_emu *emu);
void sa_emu_maps_free(struct sa_emu *emu);
const struct sa_emu_vma *sa_emu_vma_at(const struct sa_emu *emu,
				       uint64_t addr);
int sa_emu_wait(struct sa_emu *emu, uint64_t deadline_ns, int *status);
int sa_emu_wait_step(struct sa_emu *emu, int *status);
int sa_emu_stop_kind(int status, int *sig);
int sa_emu_inject_syscall(struct sa_emu *emu, long nr, uint64_t a1,
			  uint64_t a2, uint64_t a3, long *ret);
int sa_emu_protect(struct sa_emu *emu, bool protect);
int sa_emu_settle_syscall(struct sa_emu *emu);
bool sa_emu_sig_caught(struct sa_emu *emu, int sig);

/* emu_filter.c */
int sa_emu_filter_resolve(struct sa_emu *emu, const char *filter,
			  struct sa_errinfo *ei);
/* The runtime address of file offset @off of @path, from the mappings. */
int sa_emu_file_off_runtime(const struct sa_emu *emu, const char *path,
			    uint64_t off, uint64_t *rt);

/* emu_perf.c */
void sa_emu_save_vdso(struct sa_emu *emu);
int sa_emu_write_perf(struct sa_emu *emu, const char *path,
		      const struct sa_emu_opts *opts,
		      const struct sa_emu_stats *st, struct sa_errinfo *ei);

#endif /* SA_EMU_REC_H */
