// SPDX-License-Identifier: BSD-2-Clause
/*
 * mkpt: turns a long real run, as qemu-user logs it, into genuine Intel
 * PT in a perf.data, much faster than single-stepping (record --emulate).
 * Not a test: scripts/bench-decode.sh uses it for large traces.
 *
 *   qemu-x86_64 -d in_asm,exec,nochain -strace -D LOG PROG ARGS...
 *   mkpt LOG PROG OUT.perf [MAX_MB [XDC.perf|- [PSB_PERIOD]]]
 *
 * qemu logs each translated block once with its instructions and their
 * bytes (in_asm), each block execution in order (exec, with nochain so
 * that none is skipped), and the guest's syscalls (strace: which files
 * ld.so maps where).  Every executed block's last instruction is the
 * branch that led to the next block: classified with Zydis, its outcome
 * is the next block's address.  The events go through the emulated
 * sensor's encoder (src/emu/emu_enc.c, libipt's packet encoder): TNT,
 * TIP, return compression, TIP.PGD/PGE around syscalls, PSB+ every 4
 * KiB, TSC, MTC and CYC from a clock of one instruction per cycle.  The
 * perf.data is written by the emulated sensor's writer, with MMAP2
 * records for PROG and ld.so at qemu's guest load addresses and for the
 * libraries where the strace says ld.so mapped them.
 *
 * The trace stops (OVF, as a full AUX buffer) at MAX_MB (default 200).
 *
 * XDC.perf: a second trace of the same run, in the form libxdc decodes
 * (no return compression and no timing packets, as kAFL and Nyx
 * configure Intel PT; TNT-8 only, as libxdc asserts on a TNT-64), for
 * the libxdc peer of bench-decode.sh.  It has its own MAX_MB; the run
 * ends when OUT.perf is full.
 *
 * PSB_PERIOD (default 4096 bytes) makes PSB+ more frequent, for tests of
 * what a decoder does at them (tests/fastpt).
 */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <Zydis/Zydis.h>

#include "sensor/emu.h"
#include "sensor/log.h"
#include "emu_priv.h"
#include "emu_rec.h"

#define MAX_MAPS 512
#define MAX_FDS 1024

struct tb {
	uint64_t pc, last;
	uint64_t target;	/* direct branch target of the last */
	uint32_t ninsn;
	struct sa_emu_insn in;	/* the last instruction */
	struct tb *next;
};

#define TB_HASH (1u << 20)
static struct tb *tbs[TB_HASH];

static struct tb *tb_find(uint64_t pc)
{
	struct tb *t = tbs[(pc ^ (pc >> 20)) & (TB_HASH - 1)];

	for (; t; t = t->next)
		if (t->pc == pc)
			return t;
	return NULL;
}

static int classify(const uint8_t *b, size_t n, uint64_t ip,
		    struct sa_emu_insn *out, uint64_t *target)
{
	static ZydisDecoder zd;
	static bool init;
	ZydisDecodedInstruction in;
	bool far, rel;

	if (!init) {
		ZydisDecoderInit(&zd, ZYDIS_MACHINE_MODE_LONG_64,
				 ZYDIS_STACK_WIDTH_64);
		init = true;
	}
	memset(out, 0, sizeof(*out));
	if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&zd, NULL, b, n, &in)))
		return -1;
	out->size = in.length;
	far = in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;
	rel = in.raw.imm[0].is_relative;
	*target = rel ? ip + in.length + (uint64_t)in.raw.imm[0].value.s : 0;
	switch (in.mnemonic) {
	case ZYDIS_MNEMONIC_SYSCALL:
	case ZYDIS_MNEMONIC_SYSENTER:
	case ZYDIS_MNEMONIC_INT:
	case ZYDIS_MNEMONIC_INT1:
	case ZYDIS_MNEMONIC_INT3:
	case ZYDIS_MNEMONIC_INTO:
		out->iclass = SA_IC_SYSCALL;
		return 0;
	case ZYDIS_MNEMONIC_XBEGIN:
		out->iclass = SA_IC_OTHER;
		return 0;
	default:
		break;
	}
	switch (in.meta.category) {
	case ZYDIS_CATEGORY_COND_BR:
		out->iclass = SA_IC_COND;
		break;
	case ZYDIS_CATEGORY_UNCOND_BR:
		out->iclass = far ? SA_IC_FAR : rel ? SA_IC_JUMP :
						     SA_IC_IND_JUMP;
		break;
	case ZYDIS_CATEGORY_CALL:
		out->iclass = far ? SA_IC_FAR : rel ? SA_IC_CALL :
						     SA_IC_IND_CALL;
		break;
	case ZYDIS_CATEGORY_RET:
		out->iclass = far ? SA_IC_FAR : SA_IC_RET;
		break;
	case ZYDIS_CATEGORY_SYSCALL:
	case ZYDIS_CATEGORY_INTERRUPT:
		out->iclass = SA_IC_SYSCALL;
		break;
	case ZYDIS_CATEGORY_SYSRET:
		out->iclass = SA_IC_FAR;
		break;
	default:
		out->iclass = SA_IC_OTHER;
		break;
	}
	return 0;
}

static bool isxdigit_pair(const char *p)
{
	return isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1]) &&
	       (p[2] == ' ' || p[2] == '\0' || p[2] == '\n');
}

/* "0x0000004002825b70:  48 89 e7    movq ..." */
static bool parse_insn(const char *l, uint64_t *addr, uint8_t *b, size_t *n)
{
	char *end;
	const char *p;

	if (strncmp(l, "0x", 2))
		return false;
	*addr = strtoull(l, &end, 16);
	if (*end != ':')
		return false;
	p = end + 1;
	*n = 0;
	while (*p == ' ')
		p++;
	while (*n < 16 && isxdigit_pair(p)) {
		b[(*n)++] = (uint8_t)strtoul(p, NULL, 16);
		p += 2;
		if (*p != ' ')
			break;
		p++;
	}
	return *n > 0;
}

static struct sa_emu_map maps[MAX_MAPS];
static size_t nr_maps;

static void add_map(const char *path, uint64_t start, uint64_t len,
		    uint64_t pgoff)
{
	if (nr_maps >= MAX_MAPS)
		return;
	for (size_t i = 0; i < nr_maps; i++)
		if (maps[i].start == start)
			return;
	maps[nr_maps].path = strdup(path);
	maps[nr_maps].start = start;
	maps[nr_maps].len = len;
	maps[nr_maps].pgoff = pgoff;
	nr_maps++;
}

/* The executable PT_LOAD segments of @path loaded at @bias. */
static int elf_exec_maps(const char *path, uint64_t bias, uint64_t *entry,
			 bool *dyn, char *interp, size_t ilen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	FILE *f = fopen(path, "rb");
	int i;

	if (!f)
		return -errno;
	if (fread(&eh, sizeof(eh), 1, f) != 1 ||
	    memcmp(eh.e_ident, ELFMAG, 4)) {
		fclose(f);
		return -EINVAL;
	}
	*entry = eh.e_entry;
	*dyn = eh.e_type == ET_DYN;
	if (interp)
		interp[0] = '\0';
	for (i = 0; i < eh.e_phnum; i++) {
		if (fseek(f, (long)(eh.e_phoff + (uint64_t)i * eh.e_phentsize),
			  SEEK_SET) || fread(&ph, sizeof(ph), 1, f) != 1)
			break;
		if (ph.p_type == PT_INTERP && interp && ph.p_filesz < ilen) {
			long pos = ftell(f);

			if (!fseek(f, (long)ph.p_offset, SEEK_SET) &&
			    fread(interp, 1, ph.p_filesz, f) == ph.p_filesz)
				interp[ph.p_filesz] = '\0';
			fseek(f, pos, SEEK_SET);
		}
		if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
		    bias != UINT64_MAX) {
			uint64_t va = ph.p_vaddr & ~0xfffull;

			add_map(path, bias + va,
				(ph.p_vaddr + ph.p_memsz - va + 0xfff) &
					~0xfffull,
				ph.p_offset & ~0xfffull);
		}
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static char line[8192];
	static char fdpath[MAX_FDS][512];
	char interp[512] = "";
	struct sa_emu_enc_cfg ec, xc;
	struct sa_emu_enc *enc, *encs[2];
	struct sa_emu_opts opts;
	struct sa_emu_stats st;
	struct sa_errinfo ei;
	struct sa_emu *emu;
	struct tb *cur = NULL, *prev = NULL;
	uint64_t first_pc = 0, tsc = 1000, nexec = 0, odd = 0, insns = 0;
	uint64_t entry, ld_entry, max = 200;
	size_t cap, len;
	uint8_t *aux, *xaux = NULL;
	size_t xlen = 0, nenc = 1, k;
	bool dyn, ld_dyn, in_tb = false;
	FILE *f;
	int err;

	if (argc < 4 || argc > 7) {
		fprintf(stderr, "usage: mkpt QEMU_LOG PROG OUT.perf "
			"[MAX_MB [XDC.perf|- [PSB_PERIOD]]]\n");
		return 2;
	}
	if (argc >= 5)
		max = strtoull(argv[4], NULL, 0);
	cap = (size_t)max << 20;
	aux = malloc(cap);
	f = fopen(argv[1], "r");
	if (!aux || !f) {
		fprintf(stderr, "mkpt: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memset(&ec, 0, sizeof(ec));
	ec.buf = aux;
	ec.size = cap;
	ec.psb_period = argc == 7 ? strtoul(argv[6], NULL, 0) : 4096;
	if (ec.psb_period < 64 || ec.psb_period > (1u << 20)) {
		fprintf(stderr, "mkpt: PSB period %s: not 64 to 1048576\n",
			argv[6]);
		return 2;
	}
	ec.tsc = ec.mtc = ec.cyc = true;
	ec.mtc_period = SA_EMU_MTC_PERIOD_DEFAULT;
	ec.cyc_thresh = 6;
	ec.tsc0 = tsc;
	enc = sa_emu_enc__new(&ec);
	if (!enc)
		return 1;
	encs[0] = enc;
	if (argc >= 6 && strcmp(argv[5], "-")) {
		xaux = malloc(cap);
		if (!xaux)
			return 1;
		memset(&xc, 0, sizeof(xc));
		xc.buf = xaux;
		xc.size = cap;
		xc.psb_period = ec.psb_period;
		xc.noretcomp = true;
		xc.tnt8_only = true;
		encs[nenc] = sa_emu_enc__new(&xc);
		if (!encs[nenc])
			return 1;
		nenc++;
	}

	while (fgets(line, sizeof(line), f)) {
		uint64_t a;
		uint8_t b[16];
		size_t n;

		if (in_tb) {
			if (parse_insn(line, &a, b, &n)) {
				cur->ninsn++;
				cur->last = a;
				classify(b, n, a, &cur->in, &cur->target);
				continue;
			}
			in_tb = false;
			if (cur->ninsn && !tb_find(cur->pc)) {
				size_t h = (cur->pc ^ (cur->pc >> 20)) &
					   (TB_HASH - 1);

				cur->next = tbs[h];
				tbs[h] = cur;
			} else {
				free(cur);
			}
			cur = NULL;
		}
		if (!strncmp(line, "IN:", 3)) {
			cur = calloc(1, sizeof(*cur));
			if (!cur)
				return 1;
			in_tb = true;
			/* the pc is the first instruction's: set below */
			if (fgets(line, sizeof(line), f) &&
			    parse_insn(line, &a, b, &n)) {
				cur->pc = a;
				cur->ninsn = 1;
				cur->last = a;
				classify(b, n, a, &cur->in, &cur->target);
			}
			continue;
		}
		if (!strncmp(line, "Trace ", 6)) {
			char *sl = strchr(line, '/');
			struct tb *t;
			uint64_t pc;

			if (!sl)
				continue;
			pc = strtoull(sl + 1, NULL, 16);
			t = tb_find(pc);
			if (!t)
				continue;
			nexec++;
			if (!first_pc) {
				first_pc = pc;
				for (k = 0; k < nenc; k++)
					sa_emu_enc_enter(encs[k], pc);
				prev = t;
				continue;
			}
			if (!prev) {
				prev = t;
				continue;
			}
			insns += prev->ninsn;
			tsc += prev->ninsn;
			for (k = 0; k < nenc; k++)
				sa_emu_enc_time(encs[k], tsc);
			if (prev->in.iclass == SA_IC_OTHER &&
			    pc == prev->last) {
				/* a rep string instruction's next round */
				continue;
			}
			/* qemu ends a block at a page boundary; an
			 * instruction across it is not always logged whole
			 */
			if (prev->in.iclass == SA_IC_OTHER && pc > prev->last &&
			    pc - prev->last <= 15)
				prev->in.size = (uint8_t)(pc - prev->last);
			if (((prev->in.iclass == SA_IC_OTHER ||
			      prev->in.iclass == SA_IC_UNKNOWN) &&
			     pc != prev->last + prev->in.size) ||
			    ((prev->in.iclass == SA_IC_JUMP ||
			      prev->in.iclass == SA_IC_CALL) &&
			     pc != prev->target) ||
			    (prev->in.iclass == SA_IC_COND &&
			     pc != prev->target &&
			     pc != prev->last + prev->in.size)) {
				/* a signal or an exit in the middle: an
				 * asynchronous transfer, as hardware shows it
				 */
				odd++;
				if (getenv("MKPT_DEBUG"))
					fprintf(stderr, "odd: tb %#" PRIx64
						" last %#" PRIx64 " class %d "
						"-> %#" PRIx64 "\n", prev->pc,
						prev->last, prev->in.iclass,
						pc);
				for (k = 0; k < nenc; k++) {
					if (sa_emu_enc_enabled(encs[k]))
						sa_emu_enc_async(encs[k],
								 prev->last);
					if (!sa_emu_enc_enabled(encs[k]))
						sa_emu_enc_enter(encs[k], pc);
				}
				prev = t;
				continue;
			}
			for (k = 0; k < nenc; k++) {
				if (!sa_emu_enc_enabled(encs[k]))
					sa_emu_enc_enter(encs[k], prev->pc);
				sa_emu_enc_retire(encs[k], prev->last,
						  &prev->in, pc, true);
			}
			prev = t;
			if (sa_emu_enc_overflowed(enc))
				break;
			continue;
		}
		/* strace: 1234 openat(-100,"PATH",...) = FD */
		{
			char *o = strstr(line, " openat(");
			char *m = strstr(line, " mmap(");

			if (o) {
				char *q1 = strchr(o, '"'), *q2, *eq;
				long fd;

				q2 = q1 ? strchr(q1 + 1, '"') : NULL;
				eq = strstr(line, ") = ");
				if (q1 && q2 && eq) {
					fd = strtol(eq + 4, NULL, 10);
					if (fd >= 0 && fd < MAX_FDS &&
					    q2 - q1 - 1 < 511) {
						memcpy(fdpath[fd], q1 + 1,
						       (size_t)(q2 - q1 - 1));
						fdpath[fd][q2 - q1 - 1] = 0;
					}
				}
			} else if (m && strstr(m, "PROT_EXEC")) {
				unsigned long long ad, ln, off, ret;
				char prot[128], flags[128];
				int fd;

				if (sscanf(m, " mmap(%llx,%llu,%127[^,],"
					   "%127[^,],%d,%llx) = %llx",
					   &ad, &ln, prot, flags, &fd, &off,
					   &ret) == 7 && fd >= 0 &&
				    fd < MAX_FDS && fdpath[fd][0])
					add_map(fdpath[fd], ret, ln, off);
			}
		}
	}
	fclose(f);
	for (k = 0; k < nenc; k++)
		if (prev && sa_emu_enc_enabled(encs[k]))
			sa_emu_enc_async(encs[k], prev->last);
	len = sa_emu_enc_finish(enc);
	if (nenc > 1)
		xlen = sa_emu_enc_finish(encs[1]);

	/* PROG and ld.so, where qemu loaded them */
	if (elf_exec_maps(argv[2], UINT64_MAX, &entry, &dyn, interp,
			  sizeof(interp))) {
		fprintf(stderr, "mkpt: %s: not an ELF file\n", argv[2]);
		return 1;
	}
	elf_exec_maps(argv[2], dyn ? 0x4000000000ull : 0, &entry, &dyn, NULL,
		      0);
	if (interp[0] && !elf_exec_maps(interp, UINT64_MAX, &ld_entry, &ld_dyn,
					NULL, 0))
		elf_exec_maps(interp, first_pc - ld_entry, &ld_entry, &ld_dyn,
			      NULL, 0);

	emu = calloc(1, sizeof(*emu));
	if (!emu)
		return 1;
	emu->pid = emu->tid = getpid();
	emu->spawned = true;
	snprintf(emu->exe, sizeof(emu->exe), "%s", argv[2]);
	snprintf(emu->comm, sizeof(emu->comm), "%s",
		 strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2]);
	emu->argv = &argv[2];
	emu->argc = 1;
	emu->aux = aux;
	emu->aux_len = len;
	emu->maps = maps;
	emu->nr_maps = nr_maps;
	memset(&opts, 0, sizeof(opts));
	opts.psb_period = ec.psb_period;
	opts.tsc = opts.mtc = opts.cyc = true;
	opts.mtc_period = ec.mtc_period;
	opts.cyc_thresh = ec.cyc_thresh;
	memset(&st, 0, sizeof(st));
	st.tid = emu->tid;
	st.overflow = sa_emu_enc_overflowed(enc);
	err = sa_emu_write_perf(emu, argv[3], &opts, &st, &ei);
	if (err) {
		fprintf(stderr, "mkpt: %s\n", ei.msg);
		return 1;
	}
	fprintf(stderr, "mkpt: %" PRIu64 " blocks executed, %" PRIu64
		" instructions, %zu trace bytes, %zu mappings, %" PRIu64
		" asynchronous transfers%s\n", nexec, insns, len, nr_maps, odd,
		st.overflow ? ", stopped at the size cap (OVF)" : "");
	if (nenc > 1) {
		emu->aux = xaux;
		emu->aux_len = xlen;
		memset(&opts, 0, sizeof(opts));
		opts.psb_period = xc.psb_period;
		opts.noretcomp = true;
		memset(&st, 0, sizeof(st));
		st.tid = emu->tid;
		st.overflow = sa_emu_enc_overflowed(encs[1]);
		err = sa_emu_write_perf(emu, argv[5], &opts, &st, &ei);
		if (err) {
			fprintf(stderr, "mkpt: %s\n", ei.msg);
			return 1;
		}
		fprintf(stderr, "mkpt: %s: %zu trace bytes%s\n", argv[5],
			xlen, st.overflow ? ", stopped at the size cap (OVF)" :
					    "");
		sa_emu_enc__free(encs[1]);
		free(xaux);
	}
	sa_emu_enc__free(enc);
	free(emu);
	free(aux);
	return 0;
}
