// SPDX-License-Identifier: BSD-2-Clause
/*
 * The 'restart' suite: identities that survive restarts.
 *
 * sc_plt (beside this file) calls libc through the PLT (strlen, memcpy,
 * strcmp, qsort with a callback into it), dispatches through a
 * function-pointer table and calls code it generated in anonymous
 * memory.  Each run is a new process, recorded by the
 * emulated sensor from its first instruction after execve to its exit,
 * so libc is mapped during the window (by ld.so) and every run has its
 * own address-space layout.
 *
 * - mmap_events: a window's perf.data holds an MMAP2 record for every
 *   executable mapping /proc/PID/maps shows at its end, libc included,
 *   as `perf script --show-mmap-events` (the peer) reads them;
 * - restarts: three baseline runs and a null run give no anomaly at all;
 *   the targets in libc and ld.so carry their build-id and link-time
 *   address (checked against `nm -D` of libc), the generated code is the
 *   bucket [anon], while their runtime
 *   addresses differ between runs; a run whose input flips one decision
 *   ranks that decision first, its instruction at link-time addresses
 *   as objdump prints it.
 *
 * - mmap_after_exec: sc_dl (beside this file) loads a library with
 *   dlopen() after exec and calls into it, maps code it never runs (the
 *   library's first page again, an anonymous executable page) and
 *   unmaps all of it before exiting: each mapping gets its MMAP2
 *   record, equal (start, length, page offset, name) to what
 *   /proc/self/maps said inside the workload, as `perf script
 *   --show-mmap-events` reads them, and the library's functions are
 *   named in the decoded history at the offsets `nm -D` gives.
 *
 * - vdso_names: sc_vdso calls __vdso_clock_gettime() and
 *   __vdso_gettimeofday() through pointers; the recorder saved the
 *   vDSO's image in the build-id cache ($SA_BUILDID_DIR, set by meson
 *   to the build tree), equal to the image the workload dumped itself
 *   (getauxval(AT_SYSINFO_EHDR)); the targets are named as `nm -D` of
 *   that dump names their offsets, as `perf script` names them too;
 *   with the cache empty they are [vdso] + the same offsets, counted.
 *
 * Usage: test_restart SC_PLT [SC_DL SC_DL_LIB SC_VDSO]
 */
#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/emu.h"
#include "sensor/hist.h"
#include "sensor/session.h"

#include "testutil.h"

static const char *wl_path;
static const char *dl_path, *dl_lib, *vdso_path;

/* Each run is a few thousand traced instructions; the cap only bounds a
 * runaway.
 */
#define RUN_MAX_INSNS 200000

/* Records @wl_path @mode as one window from exec to exit, decoded. */
static struct sa_hist *run_once(const char *mode, int n)
{
	char *argv[] = { (char *)wl_path, (char *)mode, NULL };
	struct sa_emu_opts eo = { .max_insns = RUN_MAX_INSNS };
	struct sa_decode_opts dopts = { 0 };
	struct sa_emu_stats st;
	struct sa_errinfo ei;
	struct sa_emu *emu;
	struct sa_hist *h;
	char path[4200];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s-%d.data", sa_test_tmpdir(), mode,
		 n);
	emu = sa_emu__spawn(argv, &ei);
	ck_assert_msg(emu, "%s", ei.msg);
	pid = sa_emu_pid(emu);
	ck_assert_msg(sa_emu_window(emu, &eo, path, &st, &ei) == 0, "%s",
		      ei.msg);
	ck_assert_msg(st.exited, "%s %s did not exit within %d instructions",
		      wl_path, mode, RUN_MAX_INSNS);
	sa_emu__free(emu);
	waitpid(pid, NULL, WNOHANG);
	h = sa_hist__new();
	ck_assert_ptr_nonnull(h);
	ck_assert_msg(sa_decode_file(path, &dopts, h, &ei) == 0, "%s", ei.msg);
	unlink(path);
	return h;
}

static FILE *sh(const char *cmd)
{
	FILE *p = popen(cmd, "r");

	ck_assert_msg(p, "cannot run %s", cmd);
	return p;
}

START_TEST(test_mmap_events)
{
	char *argv[] = { (char *)wl_path, "normal", NULL };
	struct sa_emu_opts eo = { .max_insns = 300 };
	char path[4200], cmd[8600], line[4600], maps[64];
	struct sa_errinfo ei;
	struct sa_emu *emu;
	unsigned want = 0, found = 0;
	bool libc = false;
	char *ev = NULL;
	size_t evlen = 0;
	FILE *f, *p;
	pid_t pid;

	if (!sa_test_have("perf"))
		ck_abort_msg("perf is not installed (scripts/setup.sh)");
	snprintf(path, sizeof(path), "%s/mmap.data", sa_test_tmpdir());
	emu = sa_emu__spawn(argv, &ei);
	ck_assert_msg(emu, "%s", ei.msg);
	pid = sa_emu_pid(emu);
	/* From exec: ld.so maps libc after the window started. */
	ck_assert_msg(sa_emu_window(emu, &eo, path, NULL, &ei) == 0, "%s",
		      ei.msg);
	snprintf(cmd, sizeof(cmd),
		 "perf script -i '%s' --show-mmap-events 2>/dev/null | "
		 "grep PERF_RECORD_MMAP2", path);
	p = sh(cmd);
	{
		FILE *m = open_memstream(&ev, &evlen);

		ck_assert_ptr_nonnull(m);
		while (fgets(line, sizeof(line), p))
			fputs(line, m);
		fclose(m);
	}
	pclose(p);

	/* The process is stopped, not gone: its mappings now. */
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, off;
		char perms[8], name[4096] = "", want_ev[4400];

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &lo,
			   &hi, perms, &off, name) < 4 || perms[2] != 'x')
			continue;
		if (name[0] != '/' && strcmp(name, "[vdso]"))
			continue;
		/* perf script: "[0xSTART(0xLEN) @ 0xPGOFF ...]: r-xp PATH" */
		snprintf(want_ev, sizeof(want_ev), "[%#llx(%#llx) @ %#llx ",
			 lo, hi - lo, off);
		want++;
		if (strstr(ev, want_ev) && strstr(ev, name))
			found++;
		else
			fprintf(stderr, "no MMAP2 %s %s in:\n%s\n", want_ev,
				name, ev);
		if (strstr(name, "/libc.so"))
			libc = true;
	}
	fclose(f);
	sa_emu__free(emu);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(ev);
	ck_assert_msg(libc, "libc is not mapped in %s", maps);
	ck_assert_uint_ge(want, 3);	/* the program, ld.so, libc */
	ck_assert_uint_eq(found, want);
}
END_TEST

/* The target of @h called @sym, in an object other than the program. */
static const struct sa_hist_target *find_target(const struct sa_hist *h,
						const char *sym)
{
	size_t i, j, k;

	for (i = 0; i < sa_hist_nr_functions(h); i++) {
		const struct sa_hist_func *f = sa_hist_function(h, i);

		for (j = 0; j < f->nr_branches; j++)
			for (k = 0; k < f->branches[j].nr_targets; k++) {
				const struct sa_hist_target *t =
					&f->branches[j].targets[k];

				if (t->sym && !strcmp(t->sym, sym))
					return t;
			}
	}
	return NULL;
}

/* Every target of @h has an identity: an object with a build-id, or
 * for the generated code, the bucket [anon].
 */
static void check_identities(const struct sa_hist *h)
{
	size_t i, j, k, n = 0, anon = 0;

	ck_assert_uint_eq(sa_hist_decode(h)->unnamed_targets, 0);
	for (i = 0; i < sa_hist_nr_functions(h); i++) {
		const struct sa_hist_func *f = sa_hist_function(h, i);

		for (j = 0; j < f->nr_branches; j++)
			for (k = 0; k < f->branches[j].nr_targets; k++) {
				const struct sa_hist_target *t =
					&f->branches[j].targets[k];

				if (t->binary && !strcmp(t->binary, "[anon]")) {
					ck_assert_uint_eq(t->offset, 0);
					ck_assert_ptr_null(t->sym);
					ck_assert_str_eq(f->name, "handle");
					anon += t->count;
					continue;
				}
				ck_assert_msg(t->binary && t->binary[0] == '/'
					      && t->build_id &&
					      strlen(t->build_id) == 40,
					      "target %#" PRIx64 " of %s has "
					      "no object", t->addr, f->name);
				n++;
			}
	}
	ck_assert_uint_gt(n, 5);
	ck_assert_uint_eq(anon, 32);	/* jit_mix, once a request */
}

/* The value of @sym in `nm -D` of @lib. */
static uint64_t nm_dynamic(const char *lib, const char *sym)
{
	char cmd[4400], line[512], name[256], type;
	unsigned long long v;
	uint64_t found = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", lib);
	p = sh(cmd);
	while (fgets(line, sizeof(line), p)) {
		char *at;

		if (sscanf(line, "%llx %c %255s", &v, &type, name) != 3)
			continue;
		at = strchr(name, '@');	/* __libc_start_main@@GLIBC_2.34 */
		if (at)
			*at = '\0';
		if (!strcmp(name, sym))
			found = v;
	}
	pclose(p);
	return found;
}

/* The line of "PLANT long" in sc_plt.c. */
static int plant_line(void)
{
	const char *dir = getenv("SA_SOURCE_DIR");
	char path[4096], line[512];
	int n = 0, at = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/scenarios/sc_plt.c",
		 dir ? dir : ".");
	f = fopen(path, "r");
	ck_assert_msg(f, "cannot read %s", path);
	while (fgets(line, sizeof(line), f) && !at) {
		n++;
		if (strstr(line, "PLANT long */"))
			at = n;
	}
	fclose(f);
	ck_assert_int_gt(at, 0);
	return at;
}

START_TEST(test_restarts)
{
	struct sa_hist *base[3], *null, *planted;
	const struct sa_hist_target *t[4];
	struct sa_anomaly_list *l = NULL;
	const struct sa_anomaly *a;
	struct sa_baseline *bl;
	struct sa_errinfo ei;
	char db[4200], cmd[4400], want[64];
	unsigned long long jcc = 0;
	const char *lsm = "__libc_start_main";
	uint64_t v;
	size_t i;
	FILE *p;

	for (i = 0; i < 3; i++)
		base[i] = run_once("normal", (int)i);
	null = run_once("normal", 3);
	planted = run_once("long", 4);

	/* libc's entry, called from _start through the GOT, by build-id and
	 * link-time address in every run, whatever its load address.
	 */
	for (i = 0; i < 4; i++) {
		struct sa_hist *h = i < 3 ? base[i] : null;

		check_identities(h);
		t[i] = find_target(h, lsm);
		if (!t[i]) {	/* a versioned name: __libc_start_main@@... */
			size_t f, b, k;

			for (f = 0; !t[i] && f < sa_hist_nr_functions(h); f++) {
				const struct sa_hist_func *fn =
					sa_hist_function(h, f);

				for (b = 0; b < fn->nr_branches; b++)
					for (k = 0;
					     k < fn->branches[b].nr_targets;
					     k++) {
						const struct sa_hist_target *x
							= &fn->branches[b]
								   .targets[k];

						if (x->sym &&
						    !strncmp(x->sym, lsm,
							     strlen(lsm)) &&
						    x->sym[strlen(lsm)] == '@')
							t[i] = x;
					}
			}
		}
		ck_assert_msg(t[i], "no target %s in run %zu", lsm, i);
		ck_assert_ptr_nonnull(strstr(t[i]->binary, "/libc.so"));
		ck_assert_str_eq(t[i]->build_id, t[0]->build_id);
		ck_assert_uint_eq(t[i]->offset, t[0]->offset);
		ck_assert_uint_eq(t[i]->sym_off, 0);
	}
	v = nm_dynamic(t[0]->binary, lsm);
	ck_assert_msg(v && v == t[0]->offset,
		      "%s: nm -D says %#" PRIx64 ", the history %#" PRIx64,
		      lsm, v, t[0]->offset);
	/* ASLR moved libc (unless it is off on this machine) */
	if (t[0]->addr != t[1]->addr || t[1]->addr != t[2]->addr)
		ck_assert_uint_ne(t[0]->addr - t[0]->offset,
				  t[3]->addr - t[3]->offset);
	else
		fprintf(stderr, "note: libc at the same address in every "
			"run: ASLR is off\n");

	snprintf(db, sizeof(db), "%s/restart.db", sa_test_tmpdir());
	unlink(db);
	bl = sa_baseline__open(db, SA_BASELINE_CREATE, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	ck_assert_msg(sa_baseline_add(bl, base, 3, &ei) == 0, "%s", ei.msg);

	/* The same input in a new process: nothing at all. */
	ck_assert_msg(sa_anomaly_detect(bl, &null, 1, NULL, &l, &ei) == 0,
		      "%s", ei.msg);
	for (i = 0; i < sa_anomaly_list_len(l); i++)
		if (sa_anomaly_list_get(l, i)->significant)
			sa_anomaly_write_json1(sa_anomaly_list_get(l, i),
					       stderr, "null");
	ck_assert_uint_eq(sa_anomaly_list_nr_significant(l), 0);
	ck_assert_uint_gt(sa_anomaly_list_nr_tests(l), 10);
	sa_anomaly_list__free(l);

	/* The planted input: its decision first, printed as objdump does. */
	ck_assert_msg(sa_anomaly_detect(bl, &planted, 1, NULL, &l, &ei) == 0,
		      "%s", ei.msg);
	a = sa_anomaly_list_get(l, 0);
	ck_assert_msg(a && a->significant, "the planted change is not found");
	sa_anomaly_write_json1(a, stdout, "planted");
	ck_assert_str_eq(a->function, "handle");
	ck_assert_int_eq(a->line, plant_line());
	snprintf(cmd, sizeof(cmd),
		 "objdump -d --no-show-raw-insn '%s' | grep -E '^ *%" PRIx64
		 ":'", wl_path, a->offset);
	p = sh(cmd);
	ck_assert_int_eq(fscanf(p, " %*x: j%*s %llx", &jcc), 1);
	pclose(p);
	snprintf(want, sizeof(want), " %#llx", jcc);
	ck_assert_msg(a->insn && strstr(a->insn, want) &&
		      !strcmp(strstr(a->insn, want), want),
		      "insn '%s', objdump's target %s", a->insn, want);
	sa_anomaly_list__free(l);

	sa_baseline__free(bl);
	for (i = 0; i < 3; i++)
		sa_hist__free(base[i]);
	sa_hist__free(null);
	sa_hist__free(planted);
}
END_TEST

/* The MMAP2 lines `perf script --show-mmap-events` prints for @path. */
static __attribute__((noinline)) char *perf_mmap_events(const char *path)
{
	char cmd[4400], line[4600];
	char *ev = NULL;
	size_t evlen = 0;
	FILE *p, *m;

	snprintf(cmd, sizeof(cmd),
		 "perf script -i '%s' --show-mmap-events 2>/dev/null | "
		 "grep PERF_RECORD_MMAP2", path);
	p = sh(cmd);
	m = open_memstream(&ev, &evlen);
	ck_assert_ptr_nonnull(m);
	while (fgets(line, sizeof(line), p))
		fputs(line, m);
	fclose(m);
	pclose(p);
	return ev;
}

START_TEST(test_mmap_after_exec)
{
	char lib[4096], maps[4200], path[4200], line[4600];
	char *argv[] = { (char *)dl_path, lib, maps, NULL };
	struct sa_emu_opts eo = { .max_insns = RUN_MAX_INSNS };
	struct sa_decode_opts dopts = { 0 };
	const struct sa_hist_target *t;
	unsigned nlib = 0, nanon = 0, found = 0, second = 0;
	const char *fn[] = { "dl_square", "dl_parity" };
	struct sa_emu_stats st;
	struct sa_errinfo ei;
	struct sa_emu *emu;
	struct sa_hist *h;
	int wstatus = -1;
	char *ev;
	size_t i;
	FILE *f;

	if (!sa_test_have("perf"))
		ck_abort_msg("perf is not installed (scripts/setup.sh)");
	ck_assert_ptr_nonnull(realpath(dl_lib, lib));
	snprintf(maps, sizeof(maps), "%s/dl.maps", sa_test_tmpdir());
	snprintf(path, sizeof(path), "%s/dl.data", sa_test_tmpdir());
	unlink(maps);
	emu = sa_emu__spawn(argv, &ei);
	ck_assert_msg(emu, "%s", ei.msg);
	ck_assert_msg(sa_emu_window(emu, &eo, path, &st, &ei) == 0, "%s",
		      ei.msg);
	ck_assert_msg(st.exited, "sc_dl did not exit within %d instructions",
		      RUN_MAX_INSNS);
	ck_assert(sa_emu_exited(emu, &wstatus));
	sa_emu__free(emu);
	ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
		      "sc_dl failed: status %#x", wstatus);

	/* What the workload saw mapped, against the records. */
	ev = perf_mmap_events(path);
	f = fopen(maps, "r");
	ck_assert_msg(f, "sc_dl wrote no %s", maps);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, off;
		char perms[8], name[4096] = "", want[4400];
		const char *as;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &lo,
			   &hi, perms, &off, name) < 4 || perms[2] != 'x')
			continue;
		if (!strcmp(name, lib)) {
			as = lib;
			nlib++;
			second += off == 0 && hi - lo == 4096;
		} else if (!name[0]) {
			as = "//anon";
			nanon++;
		} else {
			continue;
		}
		snprintf(want, sizeof(want), "[%#llx(%#llx) @ %#llx ", lo,
			 hi - lo, off);
		if (strstr(ev, want) && strstr(strstr(ev, want), as))
			found++;
		else
			fprintf(stderr, "no MMAP2 %s %s in:\n%s\n", want, as,
				ev);
	}
	fclose(f);
	free(ev);
	ck_assert_uint_ge(nlib, 2);	/* dlopen's text, the page again */
	ck_assert_uint_eq(second, 1);
	ck_assert_uint_ge(nanon, 1);
	ck_assert_uint_eq(found, nlib + nanon);

	/* The library's functions, named as nm -D names them. */
	h = sa_hist__new();
	ck_assert_ptr_nonnull(h);
	ck_assert_msg(sa_decode_file(path, &dopts, h, &ei) == 0, "%s",
		      ei.msg);
	for (i = 0; i < 2; i++) {
		uint64_t v = nm_dynamic(lib, fn[i]);

		t = find_target(h, fn[i]);
		ck_assert_msg(t, "no target %s in the history", fn[i]);
		ck_assert_str_eq(t->binary, lib);
		ck_assert_uint_eq(t->sym_off, 0);
		ck_assert_msg(v && t->offset == v, "%s: nm -D %#" PRIx64
			      ", the history %#" PRIx64, fn[i], v, t->offset);
		/* dl_parity every call, dl_square every other one */
		ck_assert_uint_eq(t->count, i ? 16 : 8);
	}
	ck_assert_uint_eq(sa_hist_decode(h)->unnamed_targets, 0);
	sa_hist__free(h);
	unlink(path);
	unlink(maps);
}
END_TEST

/* The names `nm -D` gives @value in @lib, versions cut, joined by
 * spaces into @out (" a b "), or "" when none.
 */
static void nm_names_at(const char *lib, uint64_t value, char *out,
			size_t size)
{
	char cmd[4400], line[512], name[256], type;
	unsigned long long v;
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", lib);
	p = sh(cmd);
	out[0] = '\0';
	while (fgets(line, sizeof(line), p)) {
		char *at;

		if (sscanf(line, "%llx %c %255s", &v, &type, name) != 3 ||
		    v != value || (type != 'T' && type != 'W'))
			continue;
		at = strchr(name, '@');
		if (at)
			*at = '\0';
		n += (size_t)snprintf(out + n, size - n, "%s%s ",
				      n ? "" : " ", name);
		if (n >= size)
			break;
	}
	pclose(p);
}

/* The vDSO targets of @h, at most @max, into @t. */
static size_t vdso_targets(const struct sa_hist *h,
			   const struct sa_hist_target **t, size_t max)
{
	size_t i, j, k, n = 0;

	for (i = 0; i < sa_hist_nr_functions(h); i++) {
		const struct sa_hist_func *f = sa_hist_function(h, i);

		for (j = 0; j < f->nr_branches; j++)
			for (k = 0; k < f->branches[j].nr_targets; k++) {
				const struct sa_hist_target *x =
					&f->branches[j].targets[k];

				if (x->binary && !strcmp(x->binary, "[vdso]")
				    && n < max)
					t[n++] = x;
			}
	}
	return n;
}

START_TEST(test_vdso_names)
{
	char dump[4200], path[4200], cmd[8600], names[1024], want[512];
	char cache[4200], empty[4200], dir[4200];
	char *argv[] = { (char *)vdso_path, dump, NULL };
	const char *fn[] = { "__vdso_clock_gettime", "__vdso_gettimeofday" };
	struct sa_emu_opts eo = { .max_insns = RUN_MAX_INSNS };
	struct sa_decode_opts dopts = { 0 };
	const struct sa_hist_target *t[8];
	const char *env = getenv("SA_BUILDID_DIR");
	struct sa_errinfo ei;
	struct sa_emu_stats st;
	struct sa_emu *emu;
	struct sa_hist *h;
	int wstatus = -1, perf_named = 0;
	size_t i, j, n;
	FILE *p;

	ck_assert_msg(env && env[0], "SA_BUILDID_DIR is not set (meson)");
	snprintf(dir, sizeof(dir), "%s", env);
	if (!sa_test_have("perf"))
		ck_abort_msg("perf is not installed (scripts/setup.sh)");
	snprintf(dump, sizeof(dump), "%s/vdso.dump", sa_test_tmpdir());
	snprintf(path, sizeof(path), "%s/vdso.data", sa_test_tmpdir());
	emu = sa_emu__spawn(argv, &ei);
	ck_assert_msg(emu, "%s", ei.msg);
	ck_assert_msg(sa_emu_window(emu, &eo, path, &st, &ei) == 0, "%s",
		      ei.msg);
	ck_assert(st.exited);
	ck_assert(sa_emu_exited(emu, &wstatus));
	sa_emu__free(emu);
	ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
		      "sc_vdso failed: status %#x", wstatus);

	h = sa_hist__new();
	ck_assert_ptr_nonnull(h);
	ck_assert_msg(sa_decode_file(path, &dopts, h, &ei) == 0, "%s",
		      ei.msg);
	n = vdso_targets(h, t, 8);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(sa_hist_decode(h)->unnamed_vdso_targets, 0);
	/* The saved image is the one the workload has mapped. */
	ck_assert(t[0]->build_id && strlen(t[0]->build_id) == 40);
	snprintf(cache, sizeof(cache), "%s/[vdso]/%s/vdso", dir,
		 t[0]->build_id);
	snprintf(cmd, sizeof(cmd), "cmp -n $(stat -c %%s '%s') '%s' '%s'",
		 dump, dump, cache);
	ck_assert_msg(system(cmd) == 0, "%s differs from %s", cache, dump);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(t[i]->build_id, t[0]->build_id);
		ck_assert_uint_eq(t[i]->count, 8);
		ck_assert_uint_eq(t[i]->sym_off, 0);
		ck_assert_ptr_nonnull(t[i]->sym);
		nm_names_at(dump, t[i]->offset, names, sizeof(names));
		snprintf(want, sizeof(want), " %s ", t[i]->sym);
		ck_assert_msg(strstr(names, want), "%s at %#" PRIx64 ": nm "
			      "-D of the dump says '%s'", t[i]->sym,
			      t[i]->offset, names);
	}
	/* The two functions the program called, one target each. */
	for (j = 0; j < 2; j++) {
		uint64_t v = nm_dynamic(dump, fn[j]);
		bool seen = false;

		ck_assert_uint_ne(v, 0);
		for (i = 0; i < n; i++)
			seen |= t[i]->offset == v;
		ck_assert_msg(seen, "no vDSO target at %s (%#" PRIx64 ")",
			      fn[j], v);
	}
	/* perf, from the same cache, names the same calls so. */
	for (i = 0; i < n; i++) {
		snprintf(cmd, sizeof(cmd),
			 "perf --buildid-dir '%s' script -i '%s' --itrace=b "
			 "-F addr,sym,symoff 2>/dev/null | grep -c "
			 "'%" PRIx64 " %s+0x0'", dir, path, t[i]->addr,
			 t[i]->sym);
		p = sh(cmd);
		ck_assert_int_eq(fscanf(p, "%d", &perf_named), 1);
		pclose(p);
		ck_assert_msg(perf_named == 8, "perf names %s %d times",
			      t[i]->sym, perf_named);
	}
	sa_hist__free(h);

	/* No image: [vdso] + the same offsets, counted. */
	snprintf(empty, sizeof(empty), "%s/no-cache", sa_test_tmpdir());
	ck_assert_int_eq(setenv("SA_BUILDID_DIR", empty, 1), 0);
	h = sa_hist__new();
	ck_assert_ptr_nonnull(h);
	ck_assert_msg(sa_decode_file(path, &dopts, h, &ei) == 0, "%s",
		      ei.msg);
	ck_assert_int_eq(setenv("SA_BUILDID_DIR", dir, 1), 0);
	n = vdso_targets(h, t, 8);
	ck_assert_uint_eq(n, 2);
	for (i = 0; i < n; i++) {
		ck_assert_ptr_null(t[i]->sym);
		ck_assert(!t[i]->build_id || !t[i]->build_id[0]);
		ck_assert(t[i]->offset == nm_dynamic(dump, fn[0]) ||
			  t[i]->offset == nm_dynamic(dump, fn[1]));
	}
	ck_assert_uint_eq(sa_hist_decode(h)->unnamed_vdso_targets, 16);
	sa_hist__free(h);
	unlink(path);
	unlink(dump);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("restart");
	TCase *tc = tcase_create("identities across restarts");

	sa_test_require_ptrace();
	if (argc != 2 && argc != 5) {
		fprintf(stderr, "usage: %s SC_PLT [SC_DL SC_DL_LIB SC_VDSO]\n",
			argv[0]);
		return 2;
	}
	wl_path = argv[1];
	if (argc == 5) {
		dl_path = argv[2];
		dl_lib = argv[3];
		vdso_path = argv[4];
		tcase_add_test(tc, test_mmap_after_exec);
		tcase_add_test(tc, test_vdso_names);
	}
	tcase_add_test(tc, test_mmap_events);
	tcase_add_test(tc, test_restarts);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
