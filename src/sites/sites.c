// SPDX-License-Identifier: BSD-2-Clause
/*
 * The branch-site map: each traced function is disassembled once with
 * capstone and its control-transfer instructions are kept, sorted by
 * address, for the history builder to walk.
 *
 * capstone 4.0.2 cannot decode many AVX-512 instructions (EVEX, and the
 * VEX-encoded mask-register instructions kmov, kortest, kand, ...) that
 * glibc's *_evex string functions use.  None of them transfers control,
 * so on x86 their length is computed here from the encoding (see
 * sa_x86_vex_len) and the sweep goes on.  Anything else capstone cannot
 * decode becomes an SA_IC_UNKNOWN site, and the sweep resumes at the next
 * known instruction start: a direct branch target seen in the function,
 * else the end of the function.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/log.h"
#include "sensor/sites.h"
#include "image_priv.h"

/* Caps: the bytes of one function, the functions and sites of a map. */
#define SA_SITES_FUNC_MAX	(4U << 20)
#define SA_SITES_FMAPS_MAX	(1U << 20)
#define SA_SITES_ANON_LEN	4096U	/* an anonymous region's length */
/* Bytes past the cap that its last instruction may need (x86: 15). */
#define SA_SITES_INSN_MAX	16U
#define SA_SITES_TARGETS_MAX	(1U << 20)

struct sa_ifmap {
	struct sa_fmap pub;
	struct sa_site *sites;
	uint8_t *starts;	/* anonymous regions: instruction-start bits */
	bool shared;		/* owned by its binary's store, not the map */
	uint64_t built_end;	/* the end asked for (pub.end may differ) */
};

/* The site maps of one cached binary's functions, shared by the maps of
 * every image of the cache (sa_dso_store()): sorted by (isa, start).
 */
struct sa_fstore {
	struct sa_ifmap **v;
	size_t nr, cap;
};

struct sa_sitemap {
	struct sa_image *img;
	csh cs[SA_ISA_T32 + 1];
	bool cs_open[SA_ISA_T32 + 1];
	struct sa_ifmap **fmaps;	/* sorted by (isa, start) */
	size_t nr_fmaps, cap_fmaps;
	struct sa_ifmap *last;		/* last hit */
	bool warned_cap;
};

struct sa_sitemap *sa_sitemap__new(struct sa_image *img)
{
	struct sa_sitemap *map;

	if (!img) {
		errno = EINVAL;
		return NULL;
	}
	map = calloc(1, sizeof(*map));
	if (!map)
		return NULL;
	map->img = img;
	return map;
}

static void sa_ifmap__free(struct sa_ifmap *fm)
{
	if (!fm)
		return;
	free(fm->sites);
	free(fm->starts);
	free(fm);
}

void sa_sitemap__free(struct sa_sitemap *map)
{
	size_t i;

	if (!map)
		return;
	for (i = 0; i <= SA_ISA_T32; i++)
		if (map->cs_open[i])
			cs_close(&map->cs[i]);
	for (i = 0; i < map->nr_fmaps; i++)
		if (!map->fmaps[i]->shared)
			sa_ifmap__free(map->fmaps[i]);
	free(map->fmaps);
	free(map);
}

static void sa_fstore__free(void *data)
{
	struct sa_fstore *fs = data;
	size_t i;

	if (!fs)
		return;
	for (i = 0; i < fs->nr; i++)
		sa_ifmap__free(fs->v[i]);
	free(fs->v);
	free(fs);
}

/* Index of the first map of @fs at or above (isa, start). */
static size_t sa_fstore_lower(const struct sa_fstore *fs, enum sa_isa isa,
			      uint64_t start)
{
	size_t lo = 0, hi = fs->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct sa_fmap *f = &fs->v[mid]->pub;

		if (f->isa < isa || (f->isa == isa && f->start < start))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static enum sa_isa sa_default_isa(const struct sa_image *img,
				  const struct sa_sym *sym, uint64_t addr)
{
	uint64_t next;

	switch (sa_image_arch(img)) {
	case SA_ARCH_X86_64:
		return SA_ISA_X86_64;
	case SA_ARCH_X86:
		return SA_ISA_X86_32;
	case SA_ARCH_AARCH64:
		return SA_ISA_A64;
	case SA_ARCH_ARM:
		if (sym && sa_sym_thumb(sym))
			return SA_ISA_T32;
		/* a label or no symbol: the $t / $a mapping symbols say */
		return sa_image_code_kind(img, sym ? sym->start : addr,
					  &next) == 't' ? SA_ISA_T32 :
							  SA_ISA_A32;
	default:
		return SA_ISA_UNKNOWN;
	}
}

static csh *sa_cs(struct sa_sitemap *map, enum sa_isa isa)
{
	cs_arch arch;
	cs_mode mode;

	if (isa <= SA_ISA_UNKNOWN || isa > SA_ISA_T32)
		return NULL;
	if (map->cs_open[isa])
		return &map->cs[isa];
	switch (isa) {
	case SA_ISA_X86_64:
		arch = CS_ARCH_X86;
		mode = CS_MODE_64;
		break;
	case SA_ISA_X86_32:
		arch = CS_ARCH_X86;
		mode = CS_MODE_32;
		break;
	case SA_ISA_A64:
		arch = CS_ARCH_ARM64;
		mode = CS_MODE_ARM;
		break;
	case SA_ISA_A32:
		arch = CS_ARCH_ARM;
		mode = CS_MODE_ARM;
		break;
	default:
		arch = CS_ARCH_ARM;
		mode = CS_MODE_THUMB;
		break;
	}
	if (cs_open(arch, mode, &map->cs[isa]) != CS_ERR_OK)
		return NULL;
	cs_option(map->cs[isa], CS_OPT_DETAIL, CS_OPT_ON);
	map->cs_open[isa] = true;
	return &map->cs[isa];
}

/*
 * Length of the VEX (C4, C5) or EVEX (62) instruction at @p, or 0.
 *
 * The rule: optional 0x67 / segment prefixes, the VEX/EVEX prefix (3, 2
 * or 4 bytes) giving the opcode map, the opcode byte, a ModRM byte (all
 * of them have one but VZEROUPPER/VZEROALL, C5 .. 77), a SIB byte when
 * ModRM.rm is 4 outside register form, a displacement of 0, 1 or 4 bytes
 * from ModRM.mod (EVEX's compressed disp8*N is still one byte), and an
 * 8-bit immediate for map 0F3A and for the map-0F opcodes 70-73, C2, C4,
 * C5 and C6.  In 32-bit mode C4, C5 and 62 are LES, LDS and BOUND unless
 * ModRM.mod is 3.
 */
static size_t sa_x86_vex_len(const uint8_t *p, size_t n, bool mode64)
{
	size_t i = 0, j;
	unsigned int map, op, modrm, mod, rm;
	bool evex;

	while (i < n && i < 4 &&
	       (p[i] == 0x67 || p[i] == 0x26 || p[i] == 0x2e ||
		p[i] == 0x36 || p[i] == 0x3e || p[i] == 0x64 || p[i] == 0x65))
		i++;
	if (i + 1 >= n)
		return 0;
	if (!mode64 && ((p[i + 1] & 0xc0) != 0xc0 || i))
		return 0;
	evex = p[i] == 0x62;
	switch (p[i]) {
	case 0xc5:
		map = 1;
		j = i + 2;
		break;
	case 0xc4:
		map = p[i + 1] & 0x1f;
		if (map < 1 || map > 3)
			return 0;
		j = i + 3;
		break;
	case 0x62:
		if (i + 3 >= n || !(p[i + 2] & 0x04) || (p[i + 1] & 0x08))
			return 0;
		map = p[i + 1] & 0x07;
		if (map != 1 && map != 2 && map != 3 && map != 5 && map != 6)
			return 0;
		j = i + 4;
		break;
	default:
		return 0;
	}
	if (j >= n)
		return 0;
	op = p[j++];
	if (!evex && map == 1 && op == 0x77)
		return j;
	if (j >= n)
		return 0;
	modrm = p[j++];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod != 3) {
		if (rm == 4) {
			if (j >= n)
				return 0;
			if (mod == 0 && (p[j] & 7) == 5)
				j += 4;
			j++;
		} else if (mod == 0 && rm == 5) {
			j += 4;
		}
		if (mod == 1)
			j += 1;
		else if (mod == 2)
			j += 4;
	}
	if (map == 3 || (map == 1 && ((op >= 0x70 && op <= 0x73) ||
				      op == 0xc2 || op == 0xc4 ||
				      op == 0xc5 || op == 0xc6)))
		j += 1;
	if (j > n || j > 15)
		return 0;
	return j;
}

/* Length of the T32 instruction whose first halfword is at @p. */
static size_t sa_t32_len(const uint8_t *p, size_t n)
{
	unsigned int hw;

	if (n < 2)
		return 0;
	hw = p[0] | p[1] << 8;
	if ((hw & 0xe000) == 0xe000 && (hw & 0x1800))
		return n >= 4 ? 4 : 0;
	return 2;
}

static uint64_t sa_last_imm_x86(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	if (x->op_count && x->operands[x->op_count - 1].type == X86_OP_IMM)
		return (uint64_t)x->operands[x->op_count - 1].imm;
	return 0;
}

static enum sa_iclass sa_class_x86(const cs_insn *in, uint64_t *target)
{
	const cs_x86 *x = &in->detail->x86;
	bool imm = x->op_count == 1 && x->operands[0].type == X86_OP_IMM;

	*target = 0;
	switch (in->id) {
	case X86_INS_JAE: case X86_INS_JA: case X86_INS_JBE: case X86_INS_JB:
	case X86_INS_JCXZ: case X86_INS_JECXZ: case X86_INS_JRCXZ:
	case X86_INS_JE: case X86_INS_JGE: case X86_INS_JG: case X86_INS_JLE:
	case X86_INS_JL: case X86_INS_JNE: case X86_INS_JNO: case X86_INS_JNP:
	case X86_INS_JNS: case X86_INS_JO: case X86_INS_JP: case X86_INS_JS:
	case X86_INS_LOOP: case X86_INS_LOOPE: case X86_INS_LOOPNE:
		*target = sa_last_imm_x86(in);
		return SA_IC_COND;
	case X86_INS_JMP:
		if (imm) {
			*target = sa_last_imm_x86(in);
			return SA_IC_JUMP;
		}
		return SA_IC_IND_JUMP;
	case X86_INS_CALL:
		if (imm) {
			*target = sa_last_imm_x86(in);
			return SA_IC_CALL;
		}
		return SA_IC_IND_CALL;
	case X86_INS_RET:
		return SA_IC_RET;
	case X86_INS_SYSCALL: case X86_INS_SYSENTER: case X86_INS_INT:
	case X86_INS_INT1: case X86_INS_INT3: case X86_INS_INTO:
		return SA_IC_SYSCALL;
	case X86_INS_IRET: case X86_INS_IRETD: case X86_INS_IRETQ:
	case X86_INS_SYSRET: case X86_INS_SYSEXIT: case X86_INS_LJMP:
	case X86_INS_LCALL: case X86_INS_RETF: case X86_INS_RETFQ:
		return SA_IC_FAR;
	default:
		return SA_IC_OTHER;
	}
}

static uint64_t sa_last_imm_a64(const cs_insn *in)
{
	const cs_arm64 *a = &in->detail->arm64;

	if (a->op_count && a->operands[a->op_count - 1].type == ARM64_OP_IMM)
		return (uint64_t)a->operands[a->op_count - 1].imm;
	return 0;
}

static enum sa_iclass sa_class_a64(const cs_insn *in, uint64_t *target)
{
	const cs_arm64 *a = &in->detail->arm64;

	*target = 0;
	switch (in->id) {
	case ARM64_INS_B:
		*target = sa_last_imm_a64(in);
		if (a->cc != ARM64_CC_INVALID && a->cc != ARM64_CC_AL &&
		    a->cc != ARM64_CC_NV)
			return SA_IC_COND;
		return SA_IC_JUMP;
	case ARM64_INS_CBZ: case ARM64_INS_CBNZ:
	case ARM64_INS_TBZ: case ARM64_INS_TBNZ:
		*target = sa_last_imm_a64(in);
		return SA_IC_COND;
	case ARM64_INS_BL:
		*target = sa_last_imm_a64(in);
		return SA_IC_CALL;
	case ARM64_INS_BR:
		return SA_IC_IND_JUMP;
	case ARM64_INS_BLR:
		return SA_IC_IND_CALL;
	case ARM64_INS_RET:
		return SA_IC_RET;
	case ARM64_INS_SVC: case ARM64_INS_HVC: case ARM64_INS_SMC:
		return SA_IC_SYSCALL;
	case ARM64_INS_ERET: case ARM64_INS_DRPS:
		return SA_IC_FAR;
	default:
		return SA_IC_OTHER;
	}
}

/*
 * A64 pointer-authentication branches (Armv8.3), which capstone 4 does not
 * know: RETAA/RETAB, BRAA/BRAB(Z), BLRAA/BLRAB(Z), ERETAA/ERETAB.
 */
static enum sa_iclass sa_class_a64_raw(uint32_t w, const char **name)
{
	if (w == 0xd65f0bff || w == 0xd65f0fff) {
		*name = w & 0x400 ? "retab" : "retaa";
		return SA_IC_RET;
	}
	if (w == 0xd69f0bff || w == 0xd69f0fff) {
		*name = w & 0x400 ? "eretab" : "eretaa";
		return SA_IC_FAR;
	}
	if ((w & 0xfefff800) == 0xd61f0800) {
		*name = "braa";
		return SA_IC_IND_JUMP;
	}
	if ((w & 0xfefff800) == 0xd63f0800) {
		*name = "blraa";
		return SA_IC_IND_CALL;
	}
	return SA_IC_OTHER;
}

static uint64_t sa_last_imm_arm(const cs_insn *in)
{
	const cs_arm *a = &in->detail->arm;

	if (a->op_count && a->operands[a->op_count - 1].type == ARM_OP_IMM)
		return (uint32_t)a->operands[a->op_count - 1].imm;
	return 0;
}

static bool sa_arm_has_pc(const cs_arm *a, int from)
{
	int i;

	for (i = from; i < a->op_count; i++)
		if (a->operands[i].type == ARM_OP_REG &&
		    a->operands[i].reg == ARM_REG_PC)
			return true;
	return false;
}

/* A32/T32.  @in_it: inside a Thumb IT block, where a B is conditional. */
static enum sa_iclass sa_class_arm(const cs_insn *in, bool in_it,
				   uint64_t *target)
{
	const cs_arm *a = &in->detail->arm;
	bool cond = (a->cc != ARM_CC_INVALID && a->cc != ARM_CC_AL) || in_it;
	bool op0_pc = a->op_count && a->operands[0].type == ARM_OP_REG &&
		      a->operands[0].reg == ARM_REG_PC;
	bool op1_lr = a->op_count > 1 && a->operands[1].type == ARM_OP_REG &&
		      a->operands[1].reg == ARM_REG_LR;
	bool op1_sp = a->op_count > 1 && a->operands[1].type == ARM_OP_MEM &&
		      a->operands[1].mem.base == ARM_REG_SP;

	*target = 0;
	switch (in->id) {
	case ARM_INS_B:
		*target = sa_last_imm_arm(in);
		return cond ? SA_IC_COND : SA_IC_JUMP;
	case ARM_INS_CBZ: case ARM_INS_CBNZ:
		*target = sa_last_imm_arm(in);
		return SA_IC_COND;
	case ARM_INS_BL:
		*target = sa_last_imm_arm(in);
		return SA_IC_CALL;
	case ARM_INS_BLX:
		if (a->op_count && a->operands[0].type == ARM_OP_IMM) {
			*target = sa_last_imm_arm(in);
			return SA_IC_CALL;
		}
		return SA_IC_IND_CALL;
	case ARM_INS_BX:
		if (a->op_count && a->operands[0].type == ARM_OP_REG &&
		    a->operands[0].reg == ARM_REG_LR)
			return SA_IC_RET;
		return SA_IC_IND_JUMP;
	case ARM_INS_BXJ: case ARM_INS_TBB: case ARM_INS_TBH:
		return SA_IC_IND_JUMP;
	case ARM_INS_POP:
		return sa_arm_has_pc(a, 0) ? SA_IC_RET : SA_IC_OTHER;
	case ARM_INS_LDM:
		if (!sa_arm_has_pc(a, 1))
			return SA_IC_OTHER;
		/*
		 * Only a pop (ldmia sp!) is a return, as for OpenCSD (its
		 * "V7 implied return") and so for perf: an APCS frame
		 * return "ldm sp, {fp, sp, pc}" is an indirect jump to it.
		 */
		return a->op_count && a->operands[0].type == ARM_OP_REG &&
		       a->operands[0].reg == ARM_REG_SP && a->writeback ?
		       SA_IC_RET : SA_IC_IND_JUMP;
	case ARM_INS_LDMDA: case ARM_INS_LDMDB: case ARM_INS_LDMIB:
		return sa_arm_has_pc(a, 1) ? SA_IC_IND_JUMP : SA_IC_OTHER;
	case ARM_INS_SVC:
		return SA_IC_SYSCALL;
	case ARM_INS_ERET: case ARM_INS_RFEDA: case ARM_INS_RFEDB:
	case ARM_INS_RFEIA: case ARM_INS_RFEIB:
		return SA_IC_FAR;
	case ARM_INS_MOV:
		if (!op0_pc)
			return SA_IC_OTHER;
		if (a->update_flags)
			return SA_IC_FAR;	/* movs pc, lr */
		return op1_lr ? SA_IC_RET : SA_IC_IND_JUMP;
	case ARM_INS_LDR:
		if (!op0_pc)
			return SA_IC_OTHER;
		/* ldr pc, [sp], #4 (post-indexed) is a one-register pop */
		return op1_sp && strstr(in->op_str, "], ") ? SA_IC_RET :
							    SA_IC_IND_JUMP;
	case ARM_INS_ADD: case ARM_INS_SUB: case ARM_INS_ADC: case ARM_INS_SBC:
	case ARM_INS_RSB: case ARM_INS_RSC: case ARM_INS_AND: case ARM_INS_ORR:
	case ARM_INS_EOR: case ARM_INS_BIC: case ARM_INS_MVN: case ARM_INS_LSL:
	case ARM_INS_LSR: case ARM_INS_ASR: case ARM_INS_ROR:
		if (!op0_pc)
			return SA_IC_OTHER;
		/* subs pc, lr, #4: exception return */
		return a->update_flags ? SA_IC_FAR : SA_IC_IND_JUMP;
	default:
		return SA_IC_OTHER;
	}
}

/* Decodes one instruction of @isa at @addr from @p[0..@n) into @site. */
struct sa_dec {
	size_t size;		/* 0: undecodable, length unknown */
	bool decoded;		/* capstone decoded it */
	bool it;		/* T32: an IT instruction ... */
	unsigned int it_count;	/* ... covering this many instructions */
};

/* "mnemonic op_str", cut to the site's text buffer. */
static void sa_site_text(struct sa_site *s, const char *mn, const char *ops)
{
	size_t max = sizeof(s->text) - 1, n = strlen(mn), m;

	if (n > max)
		n = max;

	memcpy(s->text, mn, n);
	if (ops && ops[0] && n + 1 < max) {
		s->text[n++] = ' ';
		m = strnlen(ops, max - n);
		memcpy(s->text + n, ops, m);
		n += m;
	}
	s->text[n] = '\0';
}

/* Decodes the instruction at runtime address @addr.  Capstone works at
 * the link-time address, @addr - @bias, so that the text shows the
 * addresses objdump shows ("je 0x1238"), the same in every run; the
 * site's target is moved back to runtime.
 */
static void sa_decode(csh h, cs_insn *in, enum sa_isa isa, const uint8_t *p,
		      size_t n, uint64_t addr, uint64_t bias, bool in_it,
		      struct sa_site *site, struct sa_dec *dec)
{
	const uint8_t *code = p;
	size_t left = n;
	uint64_t a = addr - bias, target = 0;
	enum sa_iclass ic = SA_IC_OTHER;

	memset(site, 0, sizeof(*site));
	memset(dec, 0, sizeof(*dec));
	site->addr = addr;
	site->isa = isa;
	if (cs_disasm_iter(h, &code, &left, &a, in)) {
		dec->decoded = true;
		dec->size = in->size;
		switch (isa) {
		case SA_ISA_X86_64: case SA_ISA_X86_32:
			ic = sa_class_x86(in, &target);
			break;
		case SA_ISA_A64:
			ic = sa_class_a64(in, &target);
			break;
		default:
			ic = sa_class_arm(in, in_it, &target);
			if (in->id == ARM_INS_IT && in->size == 2) {
				unsigned int mask = p[0] & 0xf;

				dec->it = true;
				dec->it_count = mask ? 4 - __builtin_ctz(mask) :
						       0;
			}
			break;
		}
		sa_site_text(site, in->mnemonic, in->op_str);
	} else {
		const char *name = NULL;

		switch (isa) {
		case SA_ISA_X86_64: case SA_ISA_X86_32:
			dec->size = sa_x86_vex_len(p, n, isa == SA_ISA_X86_64);
			ic = dec->size ? SA_IC_OTHER : SA_IC_UNKNOWN;
			break;
		case SA_ISA_A64:
			dec->size = n >= 4 ? 4 : 0;
			ic = SA_IC_UNKNOWN;
			if (dec->size) {
				uint32_t w = p[0] | p[1] << 8 | p[2] << 16 |
					     (uint32_t)p[3] << 24;

				ic = sa_class_a64_raw(w, &name);
				if (ic == SA_IC_OTHER)
					ic = SA_IC_UNKNOWN;
			}
			break;
		case SA_ISA_A32:
			dec->size = n >= 4 ? 4 : 0;
			ic = SA_IC_UNKNOWN;
			break;
		default:
			dec->size = sa_t32_len(p, n);
			ic = SA_IC_UNKNOWN;
			break;
		}
		sa_site_text(site, name ? name : "(bad)", NULL);
	}
	site->iclass = ic;
	site->size = dec->size;
	site->target = target ? target + bias : 0;
	site->fallthrough = dec->size ? addr + dec->size : 0;
}

/* ---- one function ---- */

static uint64_t sa_bias_at(const struct sa_image *img, uint64_t addr)
{
	const struct sa_dso *dso = sa_image_dso(img, addr);

	return dso ? dso->bias : 0;
}

struct sa_sweep {
	struct sa_sitemap *map;
	struct sa_ifmap *fm;
	csh h;
	cs_insn *in;
	enum sa_isa isa;
	const uint8_t *buf;
	uint64_t start;
	uint64_t bias;		/* runtime - link-time address */
	size_t len;
	size_t stop;		/* instructions start before it (<= len) */
	uint8_t *seen;		/* per byte: 1 decoded, 2 insn start,
				 * 3 undecodable, 4 data ($d) */
	struct sa_site *sites;
	size_t nr_sites, cap_sites;
	uint64_t *targets;	/* direct targets inside the function */
	size_t nr_targets, cap_targets;
	size_t undecodable;
	uint64_t (*spans)[2];	/* [from, to) skipped after a failure */
	size_t nr_spans, cap_spans;
	bool arm;		/* Arm code: mapping symbols mark data */
	char kind;		/* sa_image_code_kind() for [kind_from, */
	uint64_t kind_from, kind_next;	/* kind_next) */
};

/* Arm: the end of the data ($d) run at @pos, or @pos when it is code. */
static size_t sa_data_end(struct sa_sweep *sw, size_t pos)
{
	uint64_t a = sw->start + pos;

	if (!sw->arm)
		return pos;
	if (a < sw->kind_from || a >= sw->kind_next) {
		sw->kind = sa_image_code_kind(sw->map->img, a, &sw->kind_next);
		sw->kind_from = a;
	}
	if (sw->kind != 'd')
		return pos;
	if (sw->kind_next - sw->start > sw->len)
		return sw->len;
	return sw->kind_next - sw->start;
}

static int sa_push(void **arr, size_t *nr, size_t *cap, size_t esz,
		   const void *elem)
{
	if (*nr == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		void *p;

		if (*cap >= SA_SITES_TARGETS_MAX)
			return -SA_ERR_TOOBIG;
		p = reallocarray(*arr, ncap, esz);
		if (!p)
			return -ENOMEM;
		*arr = p;
		*cap = ncap;
	}
	memcpy((char *)*arr + *nr * esz, elem, esz);
	(*nr)++;
	return 0;
}

/* Smallest target above @pos not decoded yet, or the length. */
static size_t sa_next_target(const struct sa_sweep *sw, size_t pos)
{
	size_t i, best = sw->stop;

	for (i = 0; i < sw->nr_targets; i++) {
		size_t t = sw->targets[i] - sw->start;

		if (t > pos && t < best && !sw->seen[t])
			best = t;
	}
	return best;
}

/* Decodes linearly from @pos until the end or decoded bytes. */
static int sa_sweep_from(struct sa_sweep *sw, size_t pos)
{
	unsigned int it_left = 0;
	int err;

	while (pos < sw->stop && !sw->seen[pos]) {
		struct sa_site site;
		struct sa_dec dec;
		size_t k = sa_data_end(sw, pos);

		if (k > pos) {
			/* a literal pool: data, not instructions */
			for (; pos < k; pos++)
				if (!sw->seen[pos])
					sw->seen[pos] = 4;
			it_left = 0;
			continue;
		}

		sa_decode(sw->h, sw->in, sw->isa, sw->buf + pos, sw->len - pos,
			  sw->start + pos, sw->bias, it_left > 0, &site, &dec);
		if (!dec.size) {
			/* unknown length: resynchronise */
			size_t next = sa_next_target(sw, pos);
			uint64_t span[2] = { pos, next };

			err = sa_push((void **)&sw->sites, &sw->nr_sites,
				      &sw->cap_sites, sizeof(site), &site);
			if (!err)
				err = sa_push((void **)&sw->spans,
					      &sw->nr_spans, &sw->cap_spans,
					      sizeof(span), span);
			if (err)
				return err;
			sw->seen[pos] = 3;
			pos = next;
			it_left = 0;
			continue;
		}
		if (!dec.decoded)
			sw->undecodable += dec.size;	/* VEX/EVEX */
		sw->fm->pub.nr_insns++;
		for (k = 0; k < dec.size; k++)
			sw->seen[pos + k] = k ? 1 : 2;
		if (site.iclass != SA_IC_OTHER) {
			err = sa_push((void **)&sw->sites, &sw->nr_sites,
				      &sw->cap_sites, sizeof(site), &site);
			if (err)
				return err;
		}
		if (site.target && site.target >= sw->start &&
		    site.target < sw->start + sw->stop) {
			err = sa_push((void **)&sw->targets, &sw->nr_targets,
				      &sw->cap_targets, sizeof(uint64_t),
				      &site.target);
			if (err)
				return err;
		}
		if (it_left)
			it_left--;
		if (dec.it)
			it_left = dec.it_count;
		pos += dec.size;
	}
	return 0;
}

static int sa_site_cmp(const void *pa, const void *pb)
{
	const struct sa_site *a = pa, *b = pb;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

static int sa_sweep_run(struct sa_sweep *sw)
{
	size_t i, k;
	int err;

	err = sa_sweep_from(sw, 0);
	/* targets found after the sweep had skipped past them */
	for (i = 0; !err && i < sw->nr_targets; i++) {
		size_t t = sw->targets[i] - sw->start;

		if (!sw->seen[t])
			err = sa_sweep_from(sw, t);
	}
	/* what stayed undecoded of the skipped spans */
	for (i = 0; i < sw->nr_spans; i++)
		for (k = sw->spans[i][0]; k < sw->spans[i][1]; k++)
			if (!sw->seen[k] || sw->seen[k] == 3)
				sw->undecodable++;
	return err;
}

/*
 * Disassembles [start, end) of @isa into a new fmap.  @cut, when not 0:
 * a cap inside [start, end) that no instruction starts at or after; the
 * region ends after the instruction that covers the cap (the bytes up to
 * @end are read for it), so that the next region starts on an
 * instruction boundary.
 */
static struct sa_ifmap *sa_fmap_build(struct sa_sitemap *map,
				      const struct sa_sym *sym, uint64_t start,
				      uint64_t end, size_t cut, enum sa_isa isa,
				      bool anon)
{
	struct sa_sweep sw;
	struct sa_ifmap *fm;
	uint8_t *buf;
	size_t len = end - start, got = 0, i, n;
	csh *h = sa_cs(map, isa);
	int err = -ENOMEM;

	if (!h) {
		errno = EINVAL;
		return NULL;
	}
	fm = calloc(1, sizeof(*fm));
	buf = malloc(len + 1);
	memset(&sw, 0, sizeof(sw));
	sw.seen = calloc(len + 1, 1);
	sw.in = cs_malloc(*h);
	if (!fm || !buf || !sw.seen || !sw.in)
		goto out;
	while (got < len) {
		int r = sa_image_read(map->img, start + got, buf + got,
				      len - got);

		if (r <= 0)
			break;
		got += r;
	}
	len = got;
	fm->pub.sym = sym;
	fm->pub.start = start;
	fm->pub.end = start + len;
	fm->pub.isa = isa;
	sw.map = map;
	sw.fm = fm;
	sw.h = *h;
	sw.isa = isa;
	sw.buf = buf;
	sw.start = start;
	sw.bias = sa_bias_at(map->img, start);
	sw.len = len;
	sw.stop = cut && cut < len ? cut : len;
	sw.arm = isa == SA_ISA_A32 || isa == SA_ISA_T32 || isa == SA_ISA_A64;
	sw.kind_next = 0;	/* nothing cached */
	err = sa_sweep_run(&sw);
	if (err)
		goto out;
	if (sw.stop < len) {
		/* the last instruction may straddle the cap */
		len = sw.stop;
		while (len < sw.len && sw.seen[len] == 1)
			len++;
		fm->pub.end = start + len;
	}
	if (sw.nr_sites)
		qsort(sw.sites, sw.nr_sites, sizeof(*sw.sites), sa_site_cmp);
	for (i = 0, n = 0; i < sw.nr_sites; i++) {
		struct sa_site *s = &sw.sites[i];

		if (n && sw.sites[n - 1].addr == s->addr)
			continue;
		if (s->iclass != SA_IC_UNKNOWN &&
		    sa_image_srcline(map->img, s->addr, &s->file, &s->line))
			s->file = NULL, s->line = 0;
		sw.sites[n++] = *s;
	}
	fm->sites = sw.sites;
	sw.sites = NULL;
	fm->pub.sites = fm->sites;
	fm->pub.nr_sites = n;
	fm->pub.nr_undecodable = sw.undecodable;
	if (anon) {
		fm->starts = calloc((len + 7) / 8 + 1, 1);
		if (!fm->starts) {
			err = -ENOMEM;
			goto out;
		}
		for (i = 0; i < len; i++)
			if (sw.seen[i] == 2)
				fm->starts[i / 8] |= 1 << (i % 8);
	}
	if (sw.undecodable)
		sa_debug("sites: %s at 0x%" PRIx64 ": %zu bytes capstone could "
			 "not decode\n", sym ? sym->name : "[unknown]", start,
			 sw.undecodable);
	err = 0;
out:
	if (sw.in)
		cs_free(sw.in, 1);
	free(sw.seen);
	free(sw.sites);
	free(sw.targets);
	free(sw.spans);
	free(buf);
	if (err) {
		sa_ifmap__free(fm);
		errno = err == -ENOMEM ? ENOMEM : E2BIG;
		return NULL;
	}
	return fm;
}

/* ---- lookup ---- */

static int sa_key_cmp(enum sa_isa ia, uint64_t a, enum sa_isa ib, uint64_t b)
{
	if (ia != ib)
		return ia < ib ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* Index of the first fmap whose key is above (isa, addr). */
static size_t sa_upper(const struct sa_sitemap *map, enum sa_isa isa,
		       uint64_t addr)
{
	size_t lo = 0, hi = map->nr_fmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct sa_fmap *f = &map->fmaps[mid]->pub;

		if (sa_key_cmp(f->isa, f->start, isa, addr) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool sa_covers(const struct sa_ifmap *fm, enum sa_isa isa,
		      uint64_t addr)
{
	uint64_t off;

	if (fm->pub.isa != isa || addr < fm->pub.start || addr >= fm->pub.end)
		return false;
	if (!fm->starts)
		return true;
	off = addr - fm->pub.start;
	return fm->starts[off / 8] & (1 << (off % 8));
}

static struct sa_ifmap *sa_find(struct sa_sitemap *map, enum sa_isa isa,
				uint64_t addr, size_t *pos)
{
	size_t i = sa_upper(map, isa, addr), k;

	*pos = i;
	/* anonymous regions may overlap: look back a little */
	for (k = 0; k < 8 && i > 0; k++, i--) {
		struct sa_ifmap *fm = map->fmaps[i - 1];

		if (fm->pub.isa != isa)
			break;
		if (sa_covers(fm, isa, addr))
			return fm;
	}
	return NULL;
}

static int sa_insert(struct sa_sitemap *map, size_t pos, struct sa_ifmap *fm)
{
	if (map->nr_fmaps == map->cap_fmaps) {
		size_t ncap = map->cap_fmaps ? map->cap_fmaps * 2 : 64;
		void *p;

		if (map->nr_fmaps >= SA_SITES_FMAPS_MAX)
			return -SA_ERR_TOOBIG;
		p = reallocarray(map->fmaps, ncap, sizeof(*map->fmaps));
		if (!p)
			return -ENOMEM;
		map->fmaps = p;
		map->cap_fmaps = ncap;
	}
	memmove(&map->fmaps[pos + 1], &map->fmaps[pos],
		(map->nr_fmaps - pos) * sizeof(*map->fmaps));
	map->fmaps[pos] = fm;
	map->nr_fmaps++;
	return 0;
}

static int sa_grow_fstore(struct sa_fstore *fs)
{
	if (fs->nr == fs->cap) {
		size_t ncap = fs->cap ? fs->cap * 2 : 64;
		void *p = reallocarray(fs->v, ncap, sizeof(*fs->v));

		if (!p)
			return -ENOMEM;
		fs->v = p;
		fs->cap = ncap;
	}
	return 0;
}

const struct sa_fmap *sa_sitemap_function(struct sa_sitemap *map,
					  uint64_t addr, enum sa_isa isa)
{
	const struct sa_sym *sym;
	struct sa_dso_store *store;
	struct sa_fstore *fs;
	struct sa_ifmap *fm;
	uint64_t start, end, sec_start, sec_end, lim;
	size_t pos, spos = 0, cut = 0;
	bool anon = false;
	int err;

	if (!map) {
		errno = EINVAL;
		return NULL;
	}
	if (map->last && map->last->pub.start <= addr &&
	    addr < map->last->pub.end &&
	    (isa == SA_ISA_UNKNOWN || isa == map->last->pub.isa) &&
	    sa_covers(map->last, map->last->pub.isa, addr))
		return &map->last->pub;
	if (sa_image_section_bounds(map->img, addr, &sec_start, &sec_end)) {
		errno = EFAULT;
		return NULL;
	}
	sym = sa_image_symbolize(map->img, addr);
	if (isa == SA_ISA_UNKNOWN)
		isa = sa_default_isa(map->img, sym, addr);
	if (isa == SA_ISA_UNKNOWN) {
		errno = EINVAL;
		return NULL;
	}
	fm = sa_find(map, isa, addr, &pos);
	if (fm) {
		map->last = fm;
		return &fm->pub;
	}
	if (sym) {
		start = sym->start;
		end = sa_sym_end(sym);
		if (start < sec_start) {
			/* the symbol starts in bytes not mapped: anonymous */
			sym = NULL;
		} else {
			if (end > sec_end)
				end = sec_end;
			if (end - start > SA_SITES_FUNC_MAX) {
				if (!map->warned_cap)
					sa_warn("sites: %s is %" PRIu64
						" bytes long; only the first "
						"%u are disassembled\n",
						sym->name,
						end - start,
						SA_SITES_FUNC_MAX);
				map->warned_cap = true;
				end = start + SA_SITES_FUNC_MAX;
			}
			if (addr >= end)
				sym = NULL;
		}
	}
	if (!sym) {
		/*
		 * No symbol: disassemble from @addr itself, a known
		 * instruction start, up to a page, the section's end, the
		 * next symbol or the next region already made.
		 */
		anon = true;
		start = addr;
		end = sec_end;
		/* The cap falls where it falls, often inside an instruction:
		 * read a little past it, and end the region after its last
		 * whole instruction (else the next region, made from this
		 * one's end, is disassembled out of step: phantom branches
		 * in the middle of a mov, real ones swallowed).
		 */
		if (end - start > SA_SITES_ANON_LEN) {
			cut = SA_SITES_ANON_LEN;
			if (end - start > SA_SITES_ANON_LEN + SA_SITES_INSN_MAX)
				end = start + SA_SITES_ANON_LEN +
				      SA_SITES_INSN_MAX;
		}
		lim = sa_image_next_sym_start(map->img, addr);
		if (lim < end)
			end = lim;
		pos = sa_upper(map, isa, addr);
		if (pos < map->nr_fmaps && map->fmaps[pos]->pub.isa == isa &&
		    map->fmaps[pos]->pub.start < end)
			end = map->fmaps[pos]->pub.start;
		/* a symbol or a region is an instruction start: no cut */
		if (end - start <= cut)
			cut = 0;
	}
	/*
	 * A function of a cached binary: its map depends only on the
	 * binary's bytes, the symbol, the end (the symbol's, cut at the
	 * section's end) and the ISA, so it is built once for all images.
	 */
	store = sym ? sa_dso_store(sym->dso) : NULL;
	fs = store ? store->data : NULL;
	if (!fs && store) {
		fs = calloc(1, sizeof(*fs));
		if (fs) {
			store->data = fs;
			store->free_fn = sa_fstore__free;
		}
	}
	fm = NULL;
	if (fs) {
		spos = sa_fstore_lower(fs, isa, start);
		if (spos < fs->nr && fs->v[spos]->pub.isa == isa &&
		    fs->v[spos]->pub.start == start && fs->v[spos]->pub.sym ==
		    sym && fs->v[spos]->built_end == end)
			fm = fs->v[spos];
	}
	if (!fm) {
		fm = sa_fmap_build(map, sym, start, end, cut, isa, anon);
		if (!fm)
			return NULL;
		fm->built_end = end;
		if (fs && fs->nr < SA_SITES_FMAPS_MAX &&
		    !sa_grow_fstore(fs)) {
			memmove(&fs->v[spos + 1], &fs->v[spos],
				(fs->nr - spos) * sizeof(*fs->v));
			fs->v[spos] = fm;
			fs->nr++;
			fm->shared = true;
			store->built++;
		}
	}
	pos = sa_upper(map, isa, start);
	err = sa_insert(map, pos, fm);
	if (err) {
		if (!fm->shared)
			sa_ifmap__free(fm);
		errno = err == -ENOMEM ? ENOMEM : E2BIG;
		return NULL;
	}
	map->last = fm;
	return &fm->pub;
}

size_t sa_fmap_lower_bound(const struct sa_fmap *fm, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!fm)
		return 0;
	hi = fm->nr_sites;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (fm->sites[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct sa_site *sa_fmap_site(const struct sa_fmap *fm, uint64_t addr)
{
	size_t i = sa_fmap_lower_bound(fm, addr);

	if (fm && i < fm->nr_sites && fm->sites[i].addr == addr)
		return &fm->sites[i];
	return NULL;
}

int sa_sitemap_decode_one(struct sa_sitemap *map, uint64_t addr,
			  enum sa_isa isa, struct sa_site *site)
{
	uint8_t buf[16];
	struct sa_dec dec;
	cs_insn *in;
	csh *h;
	int n;

	if (!map || !site)
		return -EINVAL;
	n = sa_image_read(map->img, addr, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (isa == SA_ISA_UNKNOWN)
		isa = sa_default_isa(map->img,
				     sa_image_symbolize(map->img, addr), addr);
	h = sa_cs(map, isa);
	if (!h)
		return -SA_ERR_UNSUPPORTED;
	in = cs_malloc(*h);
	if (!in)
		return -ENOMEM;
	sa_decode(*h, in, isa, buf, n, addr, sa_bias_at(map->img, addr), false,
		  site, &dec);
	cs_free(in, 1);
	if (!dec.size)
		return -SA_ERR_DECODE;
	if (site->iclass != SA_IC_UNKNOWN &&
	    sa_image_srcline(map->img, addr, &site->file, &site->line)) {
		site->file = NULL;
		site->line = 0;
	}
	return dec.size;
}
