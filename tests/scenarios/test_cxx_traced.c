// SPDX-License-Identifier: BSD-2-Clause
/*
 * The C++ workload (sc_cxx.cpp, sc_cxx_keys.cpp) recorded by the
 * emulated Intel PT sensor and decoded as any perf.data window:
 *
 * - names: every function of the binary in the histories is named as
 *   objdump -d -C labels it, with the linkage name objdump -d prints;
 *   C++ names also as c++filt -i prints them; PLT stubs are
 *   "SYMBOL@plt" as in objdump -d; the two static check_key(char
 *   const*) of the two files stay two functions; the function that
 *   throws enters __cxa_throw@plt, an error sink;
 * - a planted change: a baseline of three runs (each its own process),
 *   then a run whose input flips the decision of the check_key() of
 *   sc_cxx_keys.cpp, which must rank first, by its demangled name, and
 *   one with more malformed requests (more throws), whose decision
 *   before the throw must rank first; the JSON of histories and of
 *   anomaly records and the baseline's funcs rows carry both names.
 *
 * Every run is a new process with its own ASLR layout: the PLT stubs
 * jump into libstdc++ and libc at runtime addresses that move every
 * run, and targets are identities (object, link-time offset), so a
 * null run (the baseline's input, another seed) must give no
 * significant anomaly at all.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sensor/anomaly.h"
#include "sensor/baseline.h"
#include "sensor/emu.h"
#include "sensor/hist.h"
#include "sensor/session.h"

#include "testutil.h"
#include "../image/peer.h"

#define WINDOW_INSNS 6000
#define GAP_MS 3
#define MAX_WIN 8

static const char *cxx_path;

/* One function label of objdump -d and of objdump -d -C. */
struct label {
	uint64_t addr;
	char *mangled, *demangled;
};

static struct label *labels;
static size_t nr_labels;

/* "0000000000002309 <check_key(char const*)>:" lines, in order. */
static size_t parse_labels(char *out, uint64_t *addrs, char **names,
			   size_t max)
{
	size_t n = 0;
	char *line, *save = NULL;

	for (line = strtok_r(out, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		char *end, *lt = strstr(line, " <");
		size_t len = strlen(line);

		if (!lt || len < 3 || strcmp(line + len - 2, ">:"))
			continue;
		addrs[n] = strtoull(line, &end, 16);
		if (end != lt)
			continue;
		line[len - 2] = '\0';
		names[n++] = lt + 2;
	}
	return n;
}

static void load_labels(void)
{
	char cmd[4200];
	static char *d, *dc;
	static uint64_t a1[4096], a2[4096];
	static char *n1[4096], *n2[4096];
	size_t k1, k2, i;

	if (labels)
		return;
	snprintf(cmd, sizeof(cmd), "objdump -d '%s'", cxx_path);
	d = peer_run(cmd);
	snprintf(cmd, sizeof(cmd), "objdump -d -C '%s'", cxx_path);
	dc = peer_run(cmd);
	k1 = parse_labels(d, a1, n1, 4096);
	k2 = parse_labels(dc, a2, n2, 4096);
	ck_assert_msg(k1 == k2 && k1 > 20, "objdump -d: %zu labels, -d -C: "
		      "%zu", k1, k2);
	labels = calloc(k1, sizeof(*labels));
	ck_assert_ptr_nonnull(labels);
	for (i = 0; i < k1; i++) {
		ck_assert(a1[i] == a2[i]);
		labels[i].addr = a1[i];
		labels[i].mangled = n1[i];
		labels[i].demangled = n2[i];
	}
	nr_labels = k1;
}

static const struct label *label_at(uint64_t addr)
{
	size_t i;

	for (i = 0; i < nr_labels; i++)
		if (labels[i].addr == addr)
			return &labels[i];
	return NULL;
}

/* The label of the function holding @addr (the last one at or below). */
static const struct label *label_below(uint64_t addr)
{
	const struct label *best = NULL;
	size_t i;

	for (i = 0; i < nr_labels; i++)
		if (labels[i].addr <= addr &&
		    (!best || labels[i].addr > best->addr))
			best = &labels[i];
	return best;
}

/* c++filt -i (no verbose: the flags objdump -C and we use) of @name. */
static char *cxxfilt(const char *name)
{
	char cmd[4400], *out, *res;
	size_t len = strlen(name);
	bool plt = len > 4 && !strcmp(name + len - 4, "@plt");

	/* c++filt does not know the "@plt" of objdump's labels */
	snprintf(cmd, sizeof(cmd), "c++filt -i '%.*s'",
		 (int)(plt ? len - 4 : len), name);
	out = peer_run(cmd);
	out[strcspn(out, "\n")] = '\0';
	ck_assert_int_ge(asprintf(&res, "%s%s", out, plt ? "@plt" : ""), 0);
	free(out);
	return res;
}

static bool is_cxx_binary(const char *binary)
{
	const char *a = strrchr(binary, '/'), *b = strrchr(cxx_path, '/');

	return !strcmp(a ? a + 1 : binary, b ? b + 1 : cxx_path);
}

/* Records @nr windows of a new sc_cxx process in @mode. */
static size_t run_windows(const char *mode, const char *seed, size_t nr,
			  struct sa_hist **w)
{
	char *argv[] = { (char *)cxx_path, (char *)mode, (char *)seed, "0",
			 NULL };
	struct sa_emu_opts eo = { .max_insns = WINDOW_INSNS };
	struct sa_decode_opts dopts = { 0 };
	struct sa_errinfo ei;
	struct sa_emu *emu;
	char path[4200];
	size_t i;
	pid_t pid;

	emu = sa_emu__spawn(argv, &ei);
	ck_assert_msg(emu, "%s", ei.msg);
	pid = sa_emu_pid(emu);
	/* Past the start-up, into the request loop: 20 ms of the target's
	 * own CPU time (at most 60 s of waiting).
	 */
	for (i = 0; i < 3000 && sa_test_cpu_ms(pid) < 20; i++)
		ck_assert_int_eq(sa_emu_run_free(emu, 20, &ei), 0);
	for (i = 0; i < nr; i++) {
		snprintf(path, sizeof(path), "%s/cxx-%s-%s-%zu.data",
			 sa_test_tmpdir(), mode, seed, i);
		ck_assert_msg(sa_emu_window(emu, &eo, path, NULL, &ei) == 0,
			      "%s", ei.msg);
		ck_assert_int_eq(sa_emu_run_free(emu, GAP_MS, &ei), 0);
		w[i] = sa_hist__new();
		ck_assert_ptr_nonnull(w[i]);
		ck_assert_msg(sa_decode_file(path, &dopts, w[i], &ei) == 0,
			      "%s", ei.msg);
		unlink(path);
	}
	sa_emu__free(emu);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return nr;
}

/* What @write_fn writes of @obj, as a string (freed by the caller). */
static char *written(int (*write_fn)(const void *obj, FILE *f),
		     const void *obj)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(write_fn(obj, f), 0);
	fclose(f);
	return buf;
}

static int write_hist(const void *h, FILE *f)
{
	return sa_hist_write_json(h, f, 0);
}

static int write_anomaly(const void *a, FILE *f)
{
	return sa_anomaly_write_json1(a, f, NULL);
}

static void free_windows(struct sa_hist **w, size_t nr)
{
	while (nr)
		sa_hist__free(w[--nr]);
}

START_TEST(t_names)
{
	struct sa_hist *w[MAX_WIN], *all = sa_hist__new();
	size_t nr = run_windows("reject", "7", 4, w), i, n, peer_checked = 0,
	       plt = 0, mangled = 0, check_keys = 0;
	uint64_t check_key_entry = 0;
	bool throw_plt = false, strlen_plt = false, thrower_sinks = false;

	load_labels();
	ck_assert_ptr_nonnull(all);
	for (i = 0; i < nr; i++)
		ck_assert_int_eq(sa_hist_merge(all, w[i]), 0);
	n = sa_hist_nr_functions(all);
	for (i = 0; i < n; i++) {
		const struct sa_hist_func *f = sa_hist_function(all, i);
		const struct label *l;

		if (!is_cxx_binary(f->binary) || (!f->insns && !f->calls))
			continue;
		/* The lazy-binding header of .plt (PLT0, run on the first
		 * call of a function through its stub) has no symbol: objdump
		 * labels it as the next stub minus 16, perf gives it to
		 * _init; no peer names it, so neither do we.
		 */
		l = label_at(f->entry_offset);
		if (!strcmp(f->name, "[unknown]") && l &&
		    strlen(l->mangled) > 9 &&
		    !strcmp(l->mangled + strlen(l->mangled) - 9, "@plt-0x10")) {
			printf("%#8" PRIx64 " the .plt header (objdump: %s)\n",
			       f->entry_offset, l->mangled);
			continue;
		}
		ck_assert_ptr_nonnull(f->linkage_name);
		ck_assert_msg(strcmp(f->name, "[unknown]"),
			      "a function of %s at %#" PRIx64 " has no name",
			      f->binary, f->entry_offset);
		ck_assert_msg(l, "objdump has no label at %#" PRIx64 " (%s)",
			      f->entry_offset, f->name);
		/* Where symbols share an address (C1/C2 constructors)
		 * objdump and perf may pick different ones; c++filt then
		 * checks the name.
		 */
		if (!strcmp(l->mangled, f->linkage_name)) {
			ck_assert_msg(!strcmp(l->demangled, f->name),
				      "%#" PRIx64 ": objdump -C says '%s', "
				      "we say '%s'", f->entry_offset,
				      l->demangled, f->name);
			peer_checked++;
		}
		if (!strncmp(f->linkage_name, "_Z", 2)) {
			char *c = cxxfilt(f->linkage_name);

			ck_assert_msg(!strcmp(c, f->name), "c++filt -i '%s': "
				      "'%s', we say '%s'", f->linkage_name, c,
				      f->name);
			free(c);
			mangled++;
		} else {
			ck_assert_str_eq(f->name, f->linkage_name);
		}
		if (strstr(f->linkage_name, "@plt"))
			plt++;
		throw_plt |= !strcmp(f->name, "__cxa_throw@plt");
		strlen_plt |= !strcmp(f->name, "strlen@plt");
		if (!strcmp(f->name, "parse_size(char const*)"))
			thrower_sinks = f->sink_entries > 0;
		if (!strcmp(f->name, "check_key(char const*)")) {
			ck_assert_str_eq(f->linkage_name, "_ZL9check_keyPKc");
			ck_assert(f->entry_offset != check_key_entry);
			check_key_entry = f->entry_offset;
			check_keys++;
		}
		printf("%#8" PRIx64 " %-60s %s\n", f->entry_offset, f->name,
		       f->linkage_name);
	}
	printf("%zu functions named as objdump -d -C does, %zu C++ names as "
	       "c++filt -i, %zu PLT stubs\n", peer_checked, mangled, plt);
	ck_assert_msg(peer_checked >= 8, "only %zu functions checked",
		      peer_checked);
	ck_assert_uint_ge(mangled, 4);
	ck_assert_uint_ge(plt, 3);
	ck_assert_msg(strlen_plt, "no strlen@plt");
	ck_assert_msg(throw_plt, "no __cxa_throw@plt in 4 windows");
	ck_assert_msg(thrower_sinks, "parse_size() entered no error sink");
	ck_assert_msg(check_keys == 2, "%zu check_key(char const*), want 2 "
		      "(one static per file)", check_keys);
	{
		char *json = written(write_hist, all);

		ck_assert_ptr_nonnull(strstr(json, "\"name\": \"parse_size("
					     "char const*)\",\n      "
					     "\"linkage_name\": "
					     "\"_ZL10parse_sizePKc\""));
		ck_assert_ptr_nonnull(strstr(json, "\"name\": \"strlen@plt\""));
		free(json);
	}
	free_windows(w, nr);
	sa_hist__free(all);
}
END_TEST

/* The line of "PLANT @mode" in tests/scenarios/@file. */
static int plant_line(const char *file, const char *mode)
{
	char path[4096], marker[64];

	snprintf(path, sizeof(path), "tests/scenarios/%s", file);
	snprintf(marker, sizeof(marker), "PLANT %s */", mode);
	return sa_test_source_line(path, marker);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = s ? strlen(s) : 0, b = strlen(tail);

	return a >= b && !strcmp(s + a - b, tail);
}

/* The runtime address of the first target in a shared library (ld.so's
 * own and the program's excluded) of the windows @w, or 0.
 */
static uint64_t lib_target(struct sa_hist *const *w, size_t nr)
{
	size_t i, f, b, t;

	for (i = 0; i < nr; i++) {
		for (f = 0; f < sa_hist_nr_functions(w[i]); f++) {
			const struct sa_hist_func *fn =
				sa_hist_function(w[i], f);

			for (b = 0; b < fn->nr_branches; b++) {
				const struct sa_hist_branch *br =
					&fn->branches[b];

				for (t = 0; t < br->nr_targets; t++) {
					const char *bin = br->targets[t].binary;

					if (bin && strstr(bin, ".so") &&
					    !strstr(bin, "ld-linux"))
						return br->targets[t].addr;
				}
			}
		}
	}
	return 0;
}

static bool aslr_on(void)
{
	FILE *f = fopen("/proc/sys/kernel/randomize_va_space", "r");
	int v = 0;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v > 0;
}

START_TEST(t_planted)
{
	static const struct {
		const char *mode, *file, *func;
	} cases[] = {
		{ "upper", "sc_cxx_keys.cpp", "check_key(char const*)" },
		{ "reject", "sc_cxx.cpp", "parse_size(char const*)" },
	};
	struct sa_hist *w[MAX_WIN];
	struct sa_errinfo ei;
	struct sa_baseline *bl;
	const char *db = sa_test_path("cxx.db");
	static const char *const seeds[] = { "11", "12", "13" };
	uint64_t lib_addr[3];
	size_t i, nr;

	load_labels();
	unlink(db);
	bl = sa_baseline__open(db, SA_BASELINE_CREATE, &ei);
	ck_assert_msg(bl, "%s", ei.msg);
	for (i = 0; i < 3; i++) {
		nr = run_windows("normal", seeds[i], 4, w);
		lib_addr[i] = lib_target(w, nr);
		ck_assert_msg(sa_baseline_add(bl, w, nr, &ei) == 0, "%s",
			      ei.msg);
		free_windows(w, nr);
	}
	/* the runs had their own layouts: a target in a shared library
	 * moved (0 when the kernel does not randomize: nothing to check)
	 */
	printf("a library target at 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64
	       "\n", lib_addr[0], lib_addr[1], lib_addr[2]);
	if (lib_addr[0] && aslr_on())
		ck_assert_msg(lib_addr[0] != lib_addr[1] ||
			      lib_addr[1] != lib_addr[2],
			      "one layout in three runs (0x%" PRIx64 ")",
			      lib_addr[0]);
	/* the null run: same input, another process, another layout */
	{
		struct sa_anomaly_list *l = NULL;
		const struct sa_anomaly *a;
		size_t k, sig = 0;

		nr = run_windows("normal", "14", 3, w);
		ck_assert_msg(sa_anomaly_detect(bl, w, nr, NULL, &l, &ei) == 0,
			      "%s", ei.msg);
		for (k = 0; (a = sa_anomaly_list_get(l, k)); k++) {
			if (!a->significant)
				continue;
			sig++;
			printf("null run: %s %s %s:%d %s\n",
			       sa_anomaly_kind_name(a->kind), a->function,
			       a->file ? a->file : "?", a->line,
			       a->decision ? a->decision : "");
		}
		ck_assert_msg(sa_anomaly_list_nr_tests(l) > 10,
			      "null run: only %zu tests",
			      sa_anomaly_list_nr_tests(l));
		ck_assert_msg(sig == 0, "null run: %zu significant anomalies",
			      sig);
		sa_anomaly_list__free(l);
		free_windows(w, nr);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sa_anomaly_list *l = NULL;
		const struct sa_anomaly *a;
		const struct label *lb;
		int line = plant_line(cases[i].file, cases[i].mode);

		nr = run_windows(cases[i].mode, "21", 3, w);
		ck_assert_msg(sa_anomaly_detect(bl, w, nr, NULL, &l, &ei) == 0,
			      "%s", ei.msg);
		for (size_t k = 0; k < 5 && sa_anomaly_list_get(l, k); k++) {
			a = sa_anomaly_list_get(l, k);
			printf("%s %zu %s %s %s:%d %s sig=%d\n",
			       cases[i].mode, k + 1,
			       sa_anomaly_kind_name(a->kind), a->function,
			       a->file ? a->file : "?", a->line,
			       a->decision ? a->decision : "",
			       a->significant);
		}
		fflush(stdout);
		a = sa_anomaly_list_get(l, 0);
		ck_assert_msg(a && a->significant, "%s: no anomaly",
			      cases[i].mode);
		printf("%s: %s %s (%s) %s:%d\n", cases[i].mode,
		       sa_anomaly_kind_name(a->kind), a->function,
		       a->linkage_name ? a->linkage_name : "-",
		       a->file ? a->file : "?", a->line);
		lb = label_below(a->offset);
		ck_assert_ptr_nonnull(lb);
		/* the name objdump -d -C gives the function of the site */
		ck_assert_str_eq(a->function, lb->demangled);
		ck_assert_str_eq(a->function, cases[i].func);
		ck_assert_ptr_nonnull(a->linkage_name);
		ck_assert_str_eq(a->linkage_name, lb->mangled);
		ck_assert_msg(ends_with(a->file, cases[i].file) &&
			      a->line == line, "%s: top anomaly at %s:%d, "
			      "planted at %s:%d", cases[i].mode, a->file,
			      a->line, cases[i].file, line);
		{
			char *js = written(write_anomaly, a), want[256];

			snprintf(want, sizeof(want), "\"code.function.name\":"
				 "\"%s\",\"linkage_name\":\"%s\"",
				 lb->demangled, lb->mangled);
			ck_assert_msg(strstr(js, want), "%s", js);
			free(js);
		}
		sa_anomaly_list__free(l);
		free_windows(w, nr);
	}
	sa_baseline__free(bl);

	/* the baseline keeps both static check_key() and their names */
	{
		sqlite3 *sdb;
		sqlite3_stmt *st;
		int rows = 0;

		ck_assert_int_eq(sqlite3_open_v2(db, &sdb, SQLITE_OPEN_READONLY,
						 NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(sdb,
			"SELECT count(DISTINCT entry) FROM funcs WHERE "
			"name = 'check_key(char const*)' AND "
			"linkage_name = '_ZL9check_keyPKc'", -1, &st, NULL),
			SQLITE_OK);
		if (sqlite3_step(st) == SQLITE_ROW)
			rows = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(sdb);
		ck_assert_int_eq(rows, 2);
	}
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("cxx-traced");
	TCase *tc = tcase_create("C++ names and a planted change");

	sa_test_require_ptrace();
	if (argc != 2) {
		fprintf(stderr, "usage: %s SC_CXX\n", argv[0]);
		return 2;
	}
	if (!sa_test_have("objdump") || !sa_test_have("c++filt")) {
		fprintf(stderr, "SKIP: objdump and c++filt (binutils) are the "
			"peers\n");
		return SA_TEST_SKIP;
	}
	cxx_path = argv[1];
	tcase_add_test(tc, t_names);
	tcase_add_test(tc, t_planted);
	tcase_set_timeout(tc, 180);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
