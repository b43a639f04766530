/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Expected instruction classes from objdump's text, per architecture,
 * and the comparison of a function's site map with objdump.
 */
#ifndef SA_TEST_CLASSES_H
#define SA_TEST_CLASSES_H

#include "sensor/sites.h"
#include "../image/peer.h"

/* Expected class of one objdump instruction. */
typedef enum sa_iclass (*class_fn)(const struct peer_insn *pi);

static inline bool is_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static inline enum sa_iclass x86_class(const struct peer_insn *pi)
{
	const char *m = pi->mnem;
	static const char *const sys[] = { "syscall", "sysenter", "int",
					   "int3", "into", "int1", "icebp",
					   NULL };
	static const char *const far[] = { "iret", "iretd", "iretq", "iretw",
					   "sysret", "sysretq", "sysexit",
					   "ljmp", "lcall", "lret", "lretq",
					   NULL };

	if (!strncmp(m, "jmp", 3))
		return pi->ops[0] == '*' ? SA_IC_IND_JUMP : SA_IC_JUMP;
	if (m[0] == 'j' || !strncmp(m, "loop", 4))
		return SA_IC_COND;
	if (!strncmp(m, "call", 4))
		return pi->ops[0] == '*' ? SA_IC_IND_CALL : SA_IC_CALL;
	if (!strcmp(m, "ret") || !strcmp(m, "retq"))
		return SA_IC_RET;
	if (is_in(m, sys))
		return SA_IC_SYSCALL;
	if (is_in(m, far))
		return SA_IC_FAR;
	return SA_IC_OTHER;
}

static inline enum sa_iclass a64_class(const struct peer_insn *pi)
{
	const char *m = pi->mnem;

	if (!strncmp(m, "b.", 2) || is_in(m, (const char *const[]){
		"cbz", "cbnz", "tbz", "tbnz", NULL }))
		return SA_IC_COND;
	if (!strcmp(m, "b"))
		return SA_IC_JUMP;
	if (!strcmp(m, "bl"))
		return SA_IC_CALL;
	if (is_in(m, (const char *const[]){ "br", "braa", "brab", "braaz",
					    "brabz", NULL }))
		return SA_IC_IND_JUMP;
	if (is_in(m, (const char *const[]){ "blr", "blraa", "blrab",
					    "blraaz", "blrabz", NULL }))
		return SA_IC_IND_CALL;
	if (is_in(m, (const char *const[]){ "ret", "retaa", "retab", NULL }))
		return SA_IC_RET;
	if (is_in(m, (const char *const[]){ "svc", "hvc", "smc", NULL }))
		return SA_IC_SYSCALL;
	if (is_in(m, (const char *const[]){ "eret", "eretaa", "eretab",
					    "drps", NULL }))
		return SA_IC_FAR;
	return SA_IC_OTHER;
}

/* A32/T32: the rules of docs/image.md applied to objdump's text. */
static inline enum sa_iclass arm_class(const struct peer_insn *pi)
{
	static const char *const cc[] = { "eq", "ne", "cs", "hs", "cc", "lo",
					  "mi", "pl", "vs", "vc", "hi", "ls",
					  "ge", "lt", "gt", "le", NULL };
	char m[32], *dot;
	const char *ops = pi->ops;
	bool pc_list = strstr(ops, "pc}") != NULL;

	snprintf(m, sizeof(m), "%s", pi->mnem);
	dot = strchr(m, '.');
	if (dot)
		*dot = '\0';	/* .n, .w */
	if (!strcmp(m, "b") || !strcmp(m, "bal"))
		return SA_IC_JUMP;
	if (m[0] == 'b' && strlen(m) == 3 && is_in(m + 1, cc))
		return SA_IC_COND;
	if (!strcmp(m, "cbz") || !strcmp(m, "cbnz"))
		return SA_IC_COND;
	if (!strncmp(m, "blx", 3))
		return ops[0] == 'r' || ops[0] == 'l' || ops[0] == 'i' ||
		       ops[0] == 's' ? SA_IC_IND_CALL : SA_IC_CALL;
	if (!strncmp(m, "bl", 2) && (m[2] == '\0' || is_in(m + 2, cc)))
		return SA_IC_CALL;
	if (!strncmp(m, "bx", 2) && strncmp(m, "bxj", 3))
		return !strcmp(ops, "lr") ? SA_IC_RET : SA_IC_IND_JUMP;
	if (!strcmp(m, "tbb") || !strcmp(m, "tbh"))
		return SA_IC_IND_JUMP;
	if (!strncmp(m, "pop", 3))
		return pc_list ? SA_IC_RET : SA_IC_OTHER;
	if (!strncmp(m, "ldm", 3)) {
		if (!pc_list)
			return SA_IC_OTHER;
		/* only ldm(ia/fd) sp!, {..pc} is a pop (OpenCSD's rule) */
		return (!strcmp(m, "ldm") || !strcmp(m, "ldmia") ||
			!strcmp(m, "ldmfd")) && !strncmp(ops, "sp!", 3) ?
		       SA_IC_RET : SA_IC_IND_JUMP;
	}
	if (!strncmp(m, "svc", 3))
		return SA_IC_SYSCALL;
	if (!strncmp(ops, "pc,", 3)) {
		if (!strncmp(m, "ldr", 3))
			return strstr(ops, "[sp], #4") ? SA_IC_RET :
							 SA_IC_IND_JUMP;
		if (!strcmp(m, "movs") || !strcmp(m, "subs"))
			return SA_IC_FAR;
		if (!strncmp(m, "mov", 3))
			return !strcmp(ops, "pc, lr") ? SA_IC_RET :
							SA_IC_IND_JUMP;
		if (!strncmp(m, "add", 3) || !strncmp(m, "sub", 3))
			return SA_IC_IND_JUMP;
	}
	return SA_IC_OTHER;
}

/*
 * Compares the site map of @func (objdump @tool on @path) with objdump:
 * the same control-transfer instructions with the same classes, direct
 * targets and fall-throughs, the same instruction count, and the
 * direct target in the text at objdump's (link-time) address.  @bias is
 * added to objdump's addresses.  Returns the number of COND sites.
 */
static inline size_t check_insns(struct sa_sitemap *map, const char *path,
				 const char *func, struct peer_insn *pi,
				 size_t n, uint64_t bias, enum sa_isa isa,
				 class_fn cls);

static inline size_t check_func(struct sa_sitemap *map, const char *tool,
				const char *path, const char *func,
				uint64_t bias, enum sa_isa isa, class_fn cls)
{
	struct peer_insn *pi;
	size_t n = peer_objdump_func(tool, path, func, &pi), r;

	r = check_insns(map, path, func, pi, n, bias, isa, cls);
	free(pi);
	return r;
}

static inline size_t check_insns(struct sa_sitemap *map, const char *path,
				 const char *func, struct peer_insn *pi,
				 size_t n, uint64_t bias, enum sa_isa isa,
				 class_fn cls)
{
	size_t i, nsites = 0, ncond = 0, ninsn = 0;
	const struct sa_fmap *fm;
	char tgt[32];

	ck_assert_msg(n > 0, "%s: objdump shows no %s", path, func);
	fm = sa_sitemap_function(map, pi[0].addr + bias, isa);
	ck_assert_msg(fm, "%s: no map for %s", path, func);
	ck_assert_msg(fm->sym && fm->start == pi[0].addr + bias,
		      "%s: %s map starts at 0x%" PRIx64, path, func,
		      fm->start);
	for (i = 0; i < n; i++) {
		enum sa_iclass want = cls(&pi[i]);
		uint64_t a = pi[i].addr + bias;
		const struct sa_site *s = sa_fmap_site(fm, a);

		if (a >= fm->end)
			break;
		/* data in code (Arm literal pools): no site, no instruction */
		if (!strcmp(pi[i].mnem, ".word") ||
		    !strcmp(pi[i].mnem, ".short") ||
		    !strcmp(pi[i].mnem, ".byte")) {
			ck_assert_msg(!s, "%s %s+0x%" PRIx64 ": site %s in "
				      "data", path, func, a - fm->start,
				      s->text);
			continue;
		}
		ninsn++;
		if (want == SA_IC_OTHER) {
			ck_assert_msg(!s, "%s %s+0x%" PRIx64 ": site %s (%d), "
				      "objdump: %s %s", path, func,
				      a - fm->start, s ? s->text : "",
				      s ? s->iclass : 0, pi[i].mnem,
				      pi[i].ops);
			continue;
		}
		nsites++;
		ck_assert_msg(s, "%s %s+0x%" PRIx64 ": no site for objdump's "
			      "%s %s", path, func, a - fm->start, pi[i].mnem,
			      pi[i].ops);
		ck_assert_msg(s->iclass == want, "%s %s+0x%" PRIx64 ": class "
			      "%d (%s), objdump %s %s wants %d", path, func,
			      a - fm->start, s->iclass, s->text, pi[i].mnem,
			      pi[i].ops, want);
		if (want == SA_IC_COND || want == SA_IC_JUMP ||
		    want == SA_IC_CALL) {
			ck_assert_msg(pi[i].has_target &&
				      s->target == pi[i].target + bias,
				      "%s %s+0x%" PRIx64 ": target 0x%" PRIx64
				      ", objdump %s %s", path, func,
				      a - fm->start, s->target, pi[i].mnem,
				      pi[i].ops);
			/* the text at link-time addresses, as objdump's */
			snprintf(tgt, sizeof(tgt), "0x%" PRIx64,
				 pi[i].target);
			ck_assert_msg(strstr(s->text, tgt), "%s %s+0x%" PRIx64
				      ": text '%s', objdump %s %s", path, func,
				      a - fm->start, s->text, pi[i].mnem,
				      pi[i].ops);
		}
		if (i + 1 < n)
			ck_assert_msg(s->fallthrough == pi[i + 1].addr + bias,
				      "%s %s+0x%" PRIx64 ": fall-through",
				      path, func, a - fm->start);
		if (want == SA_IC_COND)
			ncond++;
	}
	ck_assert_msg(fm->nr_sites == nsites, "%s %s: %zu sites, objdump "
		      "%zu", path, func, fm->nr_sites, nsites);
	ck_assert_msg(fm->nr_insns == ninsn, "%s %s: %zu instructions, "
		      "objdump %zu", path, func, fm->nr_insns, ninsn);
	return ncond;
}

#endif /* SA_TEST_CLASSES_H */
