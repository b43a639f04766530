// SPDX-License-Identifier: BSD-2-Clause
/*
 * Suite 'ipt-traces': the Intel PT backend on the real Skylake traces of
 * ../shared/traces/intel-pt/hase.  The reference is Linux perf's own
 * Intel PT decoder, run at test time:
 *
 *	perf script -i FILE --itrace=i0nse -F ip --symfs DIR
 *
 * prints one line per executed instruction.  Every range we decode must
 * cover exactly the next ninsn lines, from @start to @last, and the totals
 * must agree.  `--itrace=be -F flags,ip,addr` lists the taken branches and
 * the trace starts and ends: the transfers between our ranges (the jcc
 * outcomes the decoder resolved included) must be that list, and our
 * START and DISABLED/ASYNC gaps as many as perf's "tr strt" and "tr end".
 *
 * The AUX data is located with a minimal PERFILE2 walk of our own (the
 * header's data section, records up to the first PERF_RECORD_AUXTRACE) so
 * that this suite does not depend on the perf.data module; the binaries'
 * PT_LOAD segments are mapped with libelf.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "decoder.h"
#include "sensor/image.h"
#include "testutil.h"

#define HASE "traces/intel-pt/hase"
#define MAX_INSNS 100000
#define REC_AUXTRACE 71

struct trace {
	const char *perf;	/* under HASE */
	const char *binary;	/* under HASE */
	const char *recorded;	/* the path perf.data names */
};

static const struct trace traces[] = {
	{ "loopy/loopy-20180404T162955.perf", "loopy/loopy",
	  "/home/joerg/git/angr/hase/tests/bin/loopy/loopy" },
	{ "control_flow/control_flow-20180404T163033.perf",
	  "control_flow/control_flow",
	  "/home/joerg/git/angr/hase/tests/bin/control_flow/control_flow" },
};

struct map {
	void *p;
	size_t len;
};

static void map_file(const char *path, struct map *m)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	m->len = (size_t)st.st_size;
	m->p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
	ck_assert_msg(m->p != MAP_FAILED, "%s: %s", path, strerror(errno));
	close(fd);
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Finds the first AUXTRACE record's data in the perf.data at @m. */
static void find_aux(const struct map *m, const uint8_t **aux,
		     size_t *len, uint64_t *off)
{
	const uint8_t *b = m->p;
	uint64_t pos, end;

	ck_assert_uint_ge(m->len, 104);
	ck_assert_int_eq(memcmp(b, "PERFILE2", 8), 0);
	pos = rd64(b + 40);		/* data.offset */
	end = pos + rd64(b + 48);	/* data.size */
	ck_assert_uint_le(end, m->len);
	while (pos + 8 <= end) {
		uint32_t type;
		uint16_t size;

		memcpy(&type, b + pos, 4);
		memcpy(&size, b + pos + 6, 2);
		ck_assert_uint_ge(size, 8);
		if (type == REC_AUXTRACE) {
			uint64_t n = rd64(b + pos + 8);

			ck_assert_uint_le(pos + size + n, end);
			*aux = b + pos + size;
			*len = (size_t)n;
			*off = pos + size;
			return;
		}
		pos += size;
	}
	ck_abort_msg("no AUXTRACE record");
}

/* Maps every PT_LOAD segment of the ELF at @m at its virtual address. */
static void add_elf(struct sa_image *img, const struct map *m)
{
	GElf_Phdr ph;
	Elf *elf;
	size_t n, i;

	elf_version(EV_CURRENT);
	elf = elf_memory(m->p, m->len);
	ck_assert_ptr_nonnull(elf);
	ck_assert_int_eq(elf_getphdrnum(elf, &n), 0);
	for (i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(gelf_getphdr(elf, (int)i, &ph));
		if (ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		ck_assert_uint_le(ph.p_offset + ph.p_filesz, m->len);
		ck_assert_int_eq(sa_image_add_buffer(img,
				(const uint8_t *)m->p + ph.p_offset,
				ph.p_filesz, ph.p_vaddr), 0);
	}
	elf_end(elf);
}

static void join(char *buf, size_t size, const char *a, const char *sep,
		 const char *b)
{
	int n = snprintf(buf, size, "%s%s%s", a, sep, b);

	ck_assert_msg(n >= 0 && (size_t)n < size, "path too long: %s%s%s", a,
		      sep, b);
}

struct perf_br {
	uint64_t from, to;
};

/* perf script's view of a trace. */
struct perf_ref {
	uint64_t *ips;			/* --itrace=i0nse: every instruction */
	size_t nips;
	struct perf_br *br;		/* --itrace=be: taken branches */
	size_t nbr;
	size_t strt, end;		/* "tr strt", "tr end" lines */
};

/* Runs `perf script -i PERF ITRACE -F FIELDS --symfs SYMFS` and calls
 * @line_fn on each output line.
 */
static void perf_run(const char *perf, const char *symfs, const char *itrace,
		     const char *fields, void (*line_fn)(char *, void *),
		     void *ctx)
{
	char line[512];
	int fds[2], status;
	FILE *f;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fds[1], 1);
		if (null >= 0)
			dup2(null, 2);
		close(fds[0]);
		execlp("perf", "perf", "script", "-i", perf, itrace, "-F",
		       fields, "--symfs", symfs, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		line_fn(line, ctx);
	fclose(f);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "perf script %s failed (status %d): is linux-perf "
		      "installed?", itrace, status);
}

static void insn_line(char *line, void *ctx)
{
	struct perf_ref *r = ctx;
	char *end;
	uint64_t ip = strtoull(line, &end, 16);

	/* Only lines that are one address count. */
	if (end == line || (*end != '\n' && *end != '\0'))
		return;
	ck_assert_uint_lt(r->nips, MAX_INSNS);
	r->ips[r->nips++] = ip;
}

/* "  jcc     400117 =>     4000ec": flags, from, "=>", to. */
static void branch_line(char *line, void *ctx)
{
	struct perf_ref *r = ctx;
	char *arrow = strstr(line, "=>"), *p;
	uint64_t from, to;

	if (!arrow)
		return;
	if (strstr(line, "tr strt")) {
		r->strt++;
		return;
	}
	if (strstr(line, "tr end")) {
		r->end++;
		return;
	}
	/* The from address is the last word before "=>". */
	for (p = arrow; p > line && p[-1] == ' '; p--)
		;
	*p = '\0';
	p = strrchr(line, ' ');
	ck_assert_ptr_nonnull(p);
	from = strtoull(p + 1, NULL, 16);
	to = strtoull(arrow + 2, NULL, 16);
	ck_assert_uint_lt(r->nbr, MAX_INSNS);
	r->br[r->nbr].from = from;
	r->br[r->nbr].to = to;
	r->nbr++;
}

/* Runs perf script on @t twice: instructions and branches. */
static void perf_ref(const struct trace *t, struct perf_ref *r)
{
	char symfs[4096], link[4096], perf[4096], bin[4096], *p;

	join(perf, sizeof(perf), sa_test_shared(HASE), "/", t->perf);
	join(bin, sizeof(bin), sa_test_shared(HASE), "/", t->binary);
	/* perf looks the binary up at its recorded path under --symfs. */
	join(symfs, sizeof(symfs), sa_test_tmpdir(), "/", "symfs");
	join(link, sizeof(link), symfs, "", t->recorded);
	for (p = link + strlen(sa_test_tmpdir()) + 1; (p = strchr(p, '/'));
	     p++) {
		*p = '\0';
		if (mkdir(link, 0755) && errno != EEXIST)
			ck_abort_msg("mkdir %s: %s", link, strerror(errno));
		*p = '/';
	}
	if (symlink(bin, link) && errno != EEXIST)
		ck_abort_msg("symlink %s: %s", link, strerror(errno));

	perf_run(perf, symfs, "--itrace=i0nse", "ip", insn_line, r);
	perf_run(perf, symfs, "--itrace=be", "flags,ip,addr", branch_line, r);

	/* Leave nothing behind in $TMPDIR. */
	unlink(link);
	while ((p = strrchr(link, '/')) &&
	       p > link + strlen(sa_test_tmpdir())) {
		*p = '\0';
		rmdir(link);
	}
	rmdir(sa_test_tmpdir());
}

static uint64_t perf_ips[MAX_INSNS];
static struct perf_br perf_br[MAX_INSNS];

/* Whether the last instruction of @r branched: unconditional transfers
 * always do; a jcc as the decoder resolved it.
 */
static bool range_taken(const struct sa_elem *r)
{
	switch (r->last_class) {
	case SA_IC_OTHER:
		return false;
	case SA_IC_COND:
		ck_assert_msg(r->last_taken >= 0, "jcc at %#" PRIx64
			      " unresolved", r->last);
		return r->last_taken == 1;
	default:
		return true;
	}
}

START_TEST(test_hase)
{
	const struct trace *t = &traces[_i];
	struct perf_ref ref = { .ips = perf_ips, .br = perf_br };
	struct sa_ipt_config cfg;
	struct map pd, bin;
	struct sa_errinfo ei;
	struct sa_image *img;
	struct sa_dec *dec;
	struct sa_elem e, prev;
	char path[4096];
	size_t k = 0, nb = 0, strt = 0, end = 0;
	bool have_prev = false;
	uint32_t j;
	int ret;

	memset(&prev, 0, sizeof(prev));
	perf_ref(t, &ref);
	ck_assert_uint_gt(ref.nips, 0);
	ck_assert_uint_gt(ref.nbr, 0);

	join(path, sizeof(path), sa_test_shared(HASE), "/", t->perf);
	map_file(path, &pd);
	join(path, sizeof(path), sa_test_shared(HASE), "/", t->binary);
	map_file(path, &bin);
	img = sa_image__new(SA_ARCH_X86_64);
	ck_assert_ptr_nonnull(img);
	add_elf(img, &bin);

	memset(&cfg, 0, sizeof(cfg));
	find_aux(&pd, &cfg.buf, &cfg.len, &cfg.base_offset);
	cfg.image = img;
	/* GenuineIntel 6/94/3, as the perf.data CPUID feature says. */
	cfg.family = 6;
	cfg.model = 94;
	cfg.stepping = 3;
	dec = sa_ipt__new(&cfg, &ei);
	ck_assert_msg(dec, "%s", ei.msg);

	while ((ret = sa_dec_next(dec, &e)) > 0) {
		if (e.kind != SA_ELEM_RANGE) {
			ck_assert_msg(e.gap_reason != SA_GAP_ERROR,
				      "decode error at offset %#" PRIx64,
				      e.offset);
			if (e.gap_reason == SA_GAP_START)
				strt++;
			if (e.gap_reason == SA_GAP_DISABLED ||
			    e.gap_reason == SA_GAP_ASYNC)
				end++;
			have_prev = false;
			continue;
		}
		ck_assert_msg(k + e.ninsn <= ref.nips,
			      "range %#" PRIx64 "-%#" PRIx64 " runs past "
			      "perf's %zu instructions", e.start, e.last,
			      ref.nips);
		ck_assert_msg(perf_ips[k] == e.start &&
			      perf_ips[k + e.ninsn - 1] == e.last,
			      "instruction %zu: range %#" PRIx64 "-%#" PRIx64
			      " (%u) but perf has %#" PRIx64 " .. %#" PRIx64,
			      k, e.start, e.last, e.ninsn, perf_ips[k],
			      perf_ips[k + e.ninsn - 1]);
		/* In between, perf's addresses only go forward: the range
		 * holds no taken branch.
		 */
		for (j = 1; j < e.ninsn; j++)
			ck_assert_uint_gt(perf_ips[k + j], perf_ips[k + j - 1]);
		k += e.ninsn;

		/* The branch between two ranges is perf's next taken
		 * branch, or there is none and the flow fell through.
		 */
		if (have_prev && range_taken(&prev)) {
			ck_assert_uint_lt(nb, ref.nbr);
			ck_assert_msg(perf_br[nb].from == prev.last &&
				      perf_br[nb].to == e.start,
				      "branch %zu: decoded %#" PRIx64 " => %#"
				      PRIx64 ", perf %#" PRIx64 " => %#" PRIx64,
				      nb, prev.last, e.start, perf_br[nb].from,
				      perf_br[nb].to);
			nb++;
		} else if (have_prev) {
			ck_assert_uint_eq(e.start, prev.last + prev.last_size);
		}
		prev = e;
		have_prev = true;
	}
	ck_assert_int_eq(ret, 0);
	ck_assert_uint_eq(k, ref.nips);
	ck_assert_uint_eq(nb, ref.nbr);
	ck_assert_uint_eq(strt, ref.strt);
	ck_assert_uint_eq(end, ref.end);
	ck_assert_uint_eq(sa_dec_stats(dec)->insns, ref.nips);
	ck_assert_uint_eq(sa_dec_stats(dec)->errors, 0);
	ck_assert_uint_eq(sa_dec_stats(dec)->trace_bytes, cfg.len);

	sa_dec__free(dec);
	sa_image__free(img);
	munmap(bin.p, bin.len);
	munmap(pd.p, pd.len);
}
END_TEST

static Suite *suite;

int main(void)
{
	TCase *tc;

	/* Before any allocation: exit(77) must not leave a leak for
	 * LeakSanitizer to turn into a failure in the sanitizer build.
	 */
	sa_test_require_shared(HASE);
	suite = suite_create("ipt-traces");
	tc = tcase_create("hase");
	tcase_add_loop_test(tc, test_hase, 0,
			    sizeof(traces) / sizeof(traces[0]));
	suite_add_tcase(suite, tc);
	return sa_test_run(suite);
}
