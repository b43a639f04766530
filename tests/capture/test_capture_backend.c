// SPDX-License-Identifier: BSD-2-Clause
/*
 * Check suite 'capture' (backends): --backend auto|intel_pt|cs_etm|emulate
 * through the library, on this machine's real sysfs and on fake roots;
 * one window through the emulated backend; the budget skipping windows.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <intel-pt.h>

#include "testutil.h"
#include "ringemu.h"
#include "sensor/backend.h"
#include "sensor/capture.h"
#include "sensor/emu.h"
#include "sensor/perfdata.h"

static pid_t child;

/* A target that keeps running: a loop in its own main binary. */
static void start_child(void)
{
	child = fork();
	ck_assert_int_ge(child, 0);
	if (!child) {
		volatile unsigned long n = 0;

		for (;;) {
			n++;
			if (!(n & 0xfffff))
				usleep(1000);
		}
	}
}

static void stop_child(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
}

static bool real_has(const char *pmu)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", SA_CAP_SYSFS_DEFAULT, pmu);
	return !stat(path, &st);
}

START_TEST(tc_parse_kind)
{
	enum sa_backend_kind k;
	struct sa_errinfo ei;

	ck_assert_int_eq(sa_backend_kind_parse("auto", &k, &ei), 0);
	ck_assert_int_eq(k, SA_BACKEND_AUTO);
	ck_assert_int_eq(sa_backend_kind_parse("cs_etm", &k, &ei), 0);
	ck_assert_int_eq(k, SA_BACKEND_CS_ETM);
	ck_assert_int_eq(sa_backend_kind_parse("emulate", &k, &ei), 0);
	ck_assert_str_eq(sa_backend_kind_name(SA_BACKEND_INTEL_PT),
			 "intel_pt");
	ck_assert_int_eq(sa_backend_kind_parse("pt", &k, &ei), -SA_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(ei.msg, "'pt'"));
}
END_TEST

/* On this machine (no Intel PT): --backend intel_pt fails and says why. */
START_TEST(tc_intel_pt_absent)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_INTEL_PT };
	struct sa_errinfo ei;

	if (real_has("intel_pt")) {
		fprintf(stderr, "note: this machine has intel_pt\n");
		return;
	}
	start_child();
	o.pid = child;
	errno = 0;
	ck_assert_ptr_null(sa_backend__new(&o, &ei));
	ck_assert_int_eq(errno, SA_ERR_NOHW);
	fprintf(stderr, "--backend intel_pt: %s\n", ei.msg);
	ck_assert_ptr_nonnull(strstr(ei.msg, "no intel_pt PMU"));
	ck_assert_ptr_nonnull(strstr(ei.msg, "--backend emulate"));

	/* The same with an empty fake sysfs root, for cs_etm. */
	o.kind = SA_BACKEND_CS_ETM;
	o.sysfs_root = sa_test_tmpdir();
	errno = 0;
	ck_assert_ptr_null(sa_backend__new(&o, &ei));
	ck_assert_int_eq(errno, SA_ERR_NOHW);
	ck_assert_ptr_nonnull(strstr(ei.msg, "no cs_etm PMU"));
	stop_child();
}
END_TEST

/* --backend auto falls back to emulate and says so. */
START_TEST(tc_auto_fallback)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_AUTO };
	struct sa_errinfo ei;
	struct sa_backend *b;

	if (real_has("intel_pt") || real_has("cs_etm")) {
		fprintf(stderr, "note: this machine has trace hardware\n");
		return;
	}
	start_child();
	o.pid = child;
	b = sa_backend__new(&o, &ei);
	ck_assert_msg(b != NULL, "%s", ei.msg);
	ck_assert_str_eq(sa_backend_name(b), "emulate");
	ck_assert_int_eq(sa_backend_kind(b), SA_BACKEND_EMULATE);
	ck_assert_ptr_nonnull(sa_backend_note(b));
	fprintf(stderr, "--backend auto: %s\n", sa_backend_note(b));
	ck_assert_ptr_nonnull(strstr(sa_backend_note(b), "falling back to "
				     "the emulated backend"));
	ck_assert_ptr_nonnull(strstr(sa_backend_note(b), "no intel_pt PMU"));
	sa_backend__free(b);

	/* Empty fake root: same fallback. */
	o.sysfs_root = sa_test_tmpdir();
	b = sa_backend__new(&o, &ei);
	ck_assert_msg(b != NULL, "%s", ei.msg);
	ck_assert_str_eq(sa_backend_name(b), "emulate");
	sa_backend__free(b);
	stop_child();
}
END_TEST

/* A fake root that has intel_pt: discovery and the attr succeed, the
 * kernel refuses the event (no such PMU type), auto falls back and the
 * note carries the kernel's refusal.
 */
START_TEST(tc_auto_fake_pmu)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_AUTO };
	char root[PATH_MAX + 16], link[PATH_MAX + 64];
	const char *shared = sa_test_shared("sysfs/intel_pt");
	struct sa_errinfo ei;
	struct sa_backend *b;

	if (!shared || real_has("intel_pt")) {
		fprintf(stderr, "note: no fake tree or real intel_pt\n");
		return;
	}
	snprintf(root, sizeof(root), "%s/fake", sa_test_tmpdir());
	ck_assert_int_eq(mkdir(root, 0755), 0);
	snprintf(link, sizeof(link), "%s/intel_pt", root);
	ck_assert_int_eq(symlink(shared, link), 0);
	start_child();
	o.pid = child;
	o.sysfs_root = root;
	b = sa_backend__new(&o, &ei);
	ck_assert_msg(b != NULL, "%s", ei.msg);
	ck_assert_str_eq(sa_backend_name(b), "emulate");
	fprintf(stderr, "auto on fake intel_pt: %s\n", sa_backend_note(b));
	ck_assert_ptr_nonnull(strstr(sa_backend_note(b),
				     "perf_event_open(type 9"));
	sa_backend__free(b);

	o.kind = SA_BACKEND_INTEL_PT;
	errno = 0;
	ck_assert_ptr_null(sa_backend__new(&o, &ei));
	ck_assert_ptr_nonnull(strstr(ei.msg, "perf_event_open(type 9"));
	stop_child();
}
END_TEST

START_TEST(tc_no_target)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_EMULATE,
				     .pid = 0x7ffffff0 };
	struct sa_errinfo ei;

	errno = 0;
	ck_assert_ptr_null(sa_backend__new(&o, &ei));
	ck_assert_int_eq(errno, ESRCH);
	o.pid = 0;
	ck_assert_ptr_null(sa_backend__new(&o, &ei));
	ck_assert_ptr_nonnull(strstr(ei.msg, "--pid"));
}
END_TEST

/* One window through the emulated backend, then the budget: a window
 * due while the budget is spent is skipped and counted.
 */
START_TEST(tc_emulate_window_budget)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_EMULATE };
	struct sa_backend_stats st;
	struct sa_window_info wi;
	struct sa_errinfo ei;
	struct sa_backend *b;
	char path[PATH_MAX + 32];
	struct stat sb;
	int err;

	start_child();
	o.pid = child;
	o.no_wait = true;
	o.window_insns = 2000;
	o.window_ms = 2000;
	o.period_ms = 1000;
	o.budget.cpu_permille = 10;	/* 10 ms per 1 s period */
	b = sa_backend__new(&o, &ei);
	ck_assert_msg(b != NULL, "%s", ei.msg);
	snprintf(path, sizeof(path), "%s/w0.data", sa_test_tmpdir());
	err = sa_backend_capture(b, path, &wi, &ei);
	ck_assert_msg(err == 1, "%d %s", err, ei.msg);
	ck_assert(!wi.skipped);
	ck_assert_uint_eq(wi.index, 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_gt(sb.st_size, 0);
	ck_assert_uint_gt(wi.aux_bytes, 0);

	/* The caller reports 50 ms of decoding: 5 periods' worth. */
	sa_backend_account(b, 50000000ull);
	snprintf(path, sizeof(path), "%s/w1.data", sa_test_tmpdir());
	err = sa_backend_capture(b, path, &wi, &ei);
	ck_assert_int_eq(err, 0);
	ck_assert(wi.skipped);
	ck_assert_uint_eq(wi.index, 1);
	ck_assert_int_ne(stat(path, &sb), 0);
	sa_backend_stats(b, &st);
	ck_assert_uint_eq(st.windows, 1);
	ck_assert_uint_eq(st.windows_skipped, 1);
	ck_assert_uint_eq(st.decode_cpu_ns, 50000000ull);

	/* The target is left running, not stopped or traced. */
	sa_backend__free(b);
	{
		char p[64], buf[512], *s;
		FILE *f;

		snprintf(p, sizeof(p), "/proc/%d/status", (int)child);
		f = fopen(p, "r");
		ck_assert_ptr_nonnull(f);
		while (fgets(buf, sizeof(buf), f)) {
			if (!strncmp(buf, "TracerPid:", 10)) {
				s = buf + 10;
				ck_assert_int_eq(strtol(s, NULL, 10), 0);
			}
		}
		fclose(f);
	}
	stop_child();
}
END_TEST

/* Thread churn: the child's main thread only joins, and each of its
 * threads works about 10 ms and ends.  The emulated backend picks
 * busy threads, which end before their window, or during it: every window
 * is still captured, none is taken for the target's exit, and the target
 * ends cleanly (a thread left with a queued step trap or protected pages
 * would kill the process with SIGTRAP or SIGSEGV).
 */
static volatile sig_atomic_t churn_stop;

static void churn_term(int sig)
{
	(void)sig;
	churn_stop = 1;
}

static __attribute__((noinline)) unsigned long churn_step(unsigned long x)
{
	return x & 1 ? 3 * x + 1 : x / 2;
}

/* About 10 ms of work (of CPU time: a thread stopped in a window is not
 * working), then the thread ends.
 */
static void *churn_thread(void *arg)
{
	volatile unsigned long x = (unsigned long)(uintptr_t)arg | 1;
	struct timespec t;
	unsigned i;

	do {
		for (i = 0; i < 1000; i++)
			x = churn_step(x) + 7;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	} while (t.tv_sec == 0 && t.tv_nsec < 10000000);
	return NULL;
}

/* The number of threads of @pid. */
static unsigned nr_threads(pid_t pid)
{
	char path[64];
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

START_TEST(tc_emulate_thread_churn)
{
	struct sa_backend_opts o = { .kind = SA_BACKEND_EMULATE };
	unsigned k, workers = 0;
	struct sa_window_info wi;
	struct sa_errinfo ei;
	struct sa_backend *b;
	char path[PATH_MAX + 32];
	int err, status;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		uintptr_t n = 0;

		prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
		signal(SIGTERM, churn_term);
		while (!churn_stop) {
			pthread_t t;

			if (pthread_create(&t, NULL, churn_thread,
					   (void *)++n))
				_exit(3);
			pthread_join(t, NULL);
		}
		_exit(0);
	}
	/* Until it has a worker (and so has made itself traceable). */
	for (k = 0; k < 3000 && nr_threads(pid) < 2; k++)
		usleep(10000);
	ck_assert_uint_ge(nr_threads(pid), 2);
	o.pid = pid;
	/* Windows by time, long enough for a traced thread to end in
	 * them.
	 */
	o.window_ms = 300;
	o.period_ms = 20;
	o.budget.cpu_permille = 1000;
	b = sa_backend__new(&o, &ei);
	ck_assert_msg(b != NULL, "%s", ei.msg);
	/* At least 12 windows, and 3 on workers (a worker is picked about
	 * every other window; bounded at 40).
	 */
	for (k = 0; k < 40 && (k < 12 || workers < 3); k++) {
		snprintf(path, sizeof(path), "%s/churn%u.data",
			 sa_test_tmpdir(), k);
		err = sa_backend_capture(b, path, &wi, &ei);
		ck_assert_msg(err == 1, "window %u: %d %s", k, err, ei.msg);
		ck_assert(!wi.target_exited);
		ck_assert_int_gt(wi.tid, 0);
		workers += wi.tid != pid;
		unlink(path);
	}
	sa_backend__free(b);
	fprintf(stderr, "thread churn: %u of %u windows on a worker\n",
		workers, k);
	ck_assert_uint_ge(workers, 3);
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "target status %#x", status);
}
END_TEST

/*
 * The snapshot path end to end without hardware: genuine Intel PT from
 * the emulated sensor is written by an emulated kernel into an AUX area
 * in overwrite mode (wrapping it), with real sideband; a session over
 * that ring finds the rolling buffer, writes perf.data, and Linux perf
 * decodes it.  The AUXTRACE payload must be exactly the last area-size
 * bytes of the trace (ground truth: the emulated sensor's own buffer).
 */
START_TEST(tc_snapshot_replay)
{
	char *argv[] = { "/bin/sh", "-c",
			 "i=0; while [ $i -lt 400 ]; do i=$((i+1)); done",
			 NULL };
	const char *shared = sa_test_shared("sysfs");
	struct sa_emu_opts eo = { .max_insns = 60000 };
	struct sa_cap_session_opts so = { 0 };
	struct sa_cap_attr_opts ao = { 0 };
	struct perf_event_attr attr;
	struct sa_emu_stats est;
	struct sa_errinfo ei;
	struct sa_cap_session *s;
	struct sa_cap_pmu *pmu;
	struct sa_pd_event ev;
	struct sa_emu *emu;
	struct ringemu e;
	struct sa_pd *pd;
	const uint8_t *pt;
	uint8_t *copy;
	char path[PATH_MAX + 32], cmd[2 * PATH_MAX], line[512];
	size_t len, i, area = 8192, nr_aux = 0, nr_mmap = 0;
	uint64_t decoded = 0;
	pid_t pid;
	FILE *f;
	int err;

	if (!shared) {
		fprintf(stderr, "note: no ../shared/sysfs\n");
		return;
	}
	emu = sa_emu__spawn(argv, &ei);
	ck_assert_msg(emu != NULL, "%s", ei.msg);
	pid = sa_emu_pid(emu);
	ck_assert_msg(sa_emu_window(emu, &eo, NULL, &est, &ei) == 0, "%s",
		      ei.msg);
	pt = sa_emu_trace(emu, &len);
	ck_assert_uint_gt(len, area + 4096);
	copy = malloc(len);
	memcpy(copy, pt, len);

	/* The emulated kernel: sideband, then the trace in overwrite mode,
	 * in 512-byte pieces as the hardware would fill it.
	 */
	ringemu_init(&e, 65536, area, true);
	e.pid = e.tid = (uint32_t)pid;
	e.id = 7;
	ringemu_comm(&e, pid, pid, "sh", true);
	for (i = 0; i < sa_emu_nr_maps(emu); i++) {
		const struct sa_emu_map *m = sa_emu_map(emu, i);

		ringemu_mmap2(&e, pid, pid, m->start, m->len, m->pgoff,
			      m->path);
	}
	ringemu_itrace_start(&e);
	for (i = 0; i < len; i += 512)
		ringemu_aux_write(&e, copy + i, len - i < 512 ? len - i : 512);
	sa_emu__free(emu);
	waitpid(pid, NULL, 0);

	/* intel_pt attr as on the Skylake tree, snapshot session. */
	{
		char root[PATH_MAX + 16], link[PATH_MAX + 64];
		char target[PATH_MAX + 32];

		snprintf(root, sizeof(root), "%s/pt", sa_test_tmpdir());
		mkdir(root, 0755);
		snprintf(link, sizeof(link), "%s/intel_pt", root);
		snprintf(target, sizeof(target), "%s/intel_pt-skylake", shared);
		ck_assert_int_eq(symlink(target, link), 0);
		pmu = sa_cap_pmu__open(root, "intel_pt", &ei);
		ck_assert_msg(pmu != NULL, "%s", ei.msg);
	}
	ao.terms = "tsc=0,mtc=0";
	ck_assert_int_eq(sa_cap_attr_build(pmu, &ao, &attr, &ei), 0);
	so.pid = pid;
	so.trace_attr = &attr;
	so.pmu = pmu;
	so.snapshot = true;
	s = sa_cap_session__wrap(&so, e.base, e.aux, 7, 7, &ei);
	ck_assert_msg(s != NULL, "%s", ei.msg);
	ck_assert_int_gt(sa_cap_session_drain(s, NULL, NULL, &ei), 0);
	ck_assert_uint_eq(sa_cap_session_pending_aux(s), area);
	snprintf(path, sizeof(path), "%s/snap.data", sa_test_tmpdir());
	ck_assert_msg(sa_cap_session_write(s, path, &ei) == 0, "%s", ei.msg);
	sa_cap_session__free(s);
	sa_cap_pmu__free(pmu);

	/* Our reader: one AUXTRACE with the last @area bytes. */
	pd = sa_pd__open(path, &ei);
	ck_assert_msg(pd != NULL, "%s", ei.msg);
	while ((err = sa_pd_next(pd, &ev, &ei)) == 1) {
		if (ev.type == SA_PD_AUXTRACE) {
			nr_aux++;
			ck_assert_uint_eq(ev.auxtrace.size, area);
			ck_assert_uint_eq(ev.auxtrace.tid, (uint32_t)pid);
			ck_assert_mem_eq(ev.auxtrace.data, copy + len - area,
					 area);
		} else if (ev.type == PERF_RECORD_MMAP2) {
			nr_mmap++;
		}
	}
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert_uint_eq(nr_aux, 1);
	ck_assert_uint_gt(nr_mmap, 0);
	sa_pd__close(pd);
	free(copy);
	ringemu_fini(&e);

	/* Linux perf decodes the snapshot (it syncs at the first PSB). */
	if (system("perf --version >/dev/null 2>&1"))
		return;
	snprintf(cmd, sizeof(cmd), "perf script -i '%s' --itrace=be -F ip,sym "
		 "2>&1", path);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "instruction trace error"))
			ck_abort_msg("perf: %s", line);
		decoded++;
	}
	pclose(f);
	fprintf(stderr, "snapshot of %zu of %zu PT bytes: perf script "
		"decoded %" PRIu64 " branches\n", area, len, decoded);
	ck_assert_uint_gt(decoded, 100);
}
END_TEST

/* A normal (non-overwrite) window replayed through an emulated kernel
 * ring: the hardware fills the AUX area in 512-byte pieces and the
 * session drains it every 4 KiB, as a live window would; the perf.data we
 * write must decode, in perf, to exactly the branches of the emulated
 * sensor's own perf.data of the same trace.
 */
static int perf_branches(const char *path, char *out, size_t len)
{
	char cmd[PATH_MAX + 128];
	size_t n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "perf script -i '%s' --itrace=be -F "
		 "ip,addr 2>&1", path);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (n < len - 1) {
		size_t r = fread(out + n, 1, len - 1 - n, f);

		if (!r)
			break;
		n += r;
	}
	out[n] = '\0';
	return pclose(f);
}

START_TEST(tc_window_replay)
{
	char *argv[] = { "/bin/sh", "-c",
			 "i=0; while [ $i -lt 300 ]; do i=$((i+1)); done",
			 NULL };
	const char *shared = sa_test_shared("sysfs");
	struct sa_emu_opts eo = { .max_insns = 40000 };
	struct sa_cap_session_opts so = { 0 };
	struct sa_cap_attr_opts ao = { .terms = "tsc=0,mtc=0" };
	static char a[1 << 22], b[1 << 22];
	char emu_path[PATH_MAX + 32], path[PATH_MAX + 32];
	char root[PATH_MAX + 16], link[PATH_MAX + 64], target[PATH_MAX + 32];
	struct perf_event_attr attr;
	struct sa_emu_stats est;
	struct sa_errinfo ei;
	struct sa_cap_session *s;
	struct sa_cap_pmu *pmu;
	struct sa_pd_event ev;
	struct sa_emu *emu;
	struct ringemu e;
	struct sa_pd *pd;
	const uint8_t *pt;
	uint8_t *copy;
	uint64_t next_pos = 0;
	size_t len, i, got = 0, pieces = 0;
	pid_t pid;
	int err;

	if (!shared || system("perf --version >/dev/null 2>&1")) {
		fprintf(stderr, "note: no ../shared/sysfs or no perf\n");
		return;
	}
	snprintf(emu_path, sizeof(emu_path), "%s/emu.data", sa_test_tmpdir());
	emu = sa_emu__spawn(argv, &ei);
	ck_assert_msg(emu != NULL, "%s", ei.msg);
	pid = sa_emu_pid(emu);
	ck_assert_msg(sa_emu_window(emu, &eo, emu_path, &est, &ei) == 0,
		      "%s", ei.msg);
	pt = sa_emu_trace(emu, &len);
	copy = malloc(len);
	memcpy(copy, pt, len);

	snprintf(root, sizeof(root), "%s/pt2", sa_test_tmpdir());
	mkdir(root, 0755);
	snprintf(link, sizeof(link), "%s/intel_pt", root);
	snprintf(target, sizeof(target), "%s/intel_pt-skylake", shared);
	ck_assert_int_eq(symlink(target, link), 0);
	pmu = sa_cap_pmu__open(root, "intel_pt", &ei);
	ck_assert_msg(pmu != NULL, "%s", ei.msg);
	ck_assert_int_eq(sa_cap_attr_build(pmu, &ao, &attr, &ei), 0);

	ringemu_init(&e, 65536, 8192, false);
	e.pid = e.tid = (uint32_t)pid;
	e.id = 7;
	so.pid = pid;
	so.trace_attr = &attr;
	so.pmu = pmu;
	s = sa_cap_session__wrap(&so, e.base, e.aux, 7, 7, &ei);
	ck_assert_msg(s != NULL, "%s", ei.msg);
	ringemu_comm(&e, pid, pid, "sh", true);
	for (i = 0; i < sa_emu_nr_maps(emu); i++) {
		const struct sa_emu_map *m = sa_emu_map(emu, i);

		ringemu_mmap2(&e, pid, pid, m->start, m->len, m->pgoff,
			      m->path);
	}
	ringemu_itrace_start(&e);
	/* The kernel publishes aux_head with the trace stopped (the PT
	 * driver disables it before reading the output offset), so at
	 * packet boundaries: find them with libipt's packet decoder and
	 * let the "hardware" fill about 512 bytes at a time, the session
	 * draining about every 4 KiB.
	 */
	{
		struct pt_packet_decoder *pdec;
		struct pt_config cfg;
		struct pt_packet pkt;
		uint64_t *bnd, o;
		size_t nb = 0, cur = 0, last_drain = 0, k = 0;

		bnd = calloc(len + 1, sizeof(*bnd));
		pt_config_init(&cfg);
		cfg.begin = copy;
		cfg.end = copy + len;
		pdec = pt_pkt_alloc_decoder(&cfg);
		ck_assert_ptr_nonnull(pdec);
		ck_assert_int_ge(pt_pkt_sync_set(pdec, 0), 0);
		while (pt_pkt_get_offset(pdec, &o) >= 0 &&
		       pt_pkt_next(pdec, &pkt, sizeof(pkt)) >= 0)
			bnd[nb++] = o;
		bnd[nb++] = len;
		pt_pkt_free_decoder(pdec);
		while (cur < len) {
			size_t next = cur;

			while (k < nb && bnd[k] <= cur)
				k++;
			while (k < nb && bnd[k] <= cur + 512)
				next = bnd[k++];
			if (next == cur)
				next = bnd[k++];
			ck_assert_uint_eq(ringemu_aux_write(&e, copy + cur,
							    next - cur),
					  next - cur);
			cur = next;
			if (cur - last_drain >= 4096 || cur == len) {
				ck_assert_int_ge(sa_cap_session_drain(s, NULL,
							NULL, &ei), 0);
				last_drain = cur;
			}
		}
		free(bnd);
	}
	ck_assert_int_ge(sa_cap_session_drain(s, NULL, NULL, &ei), 0);
	ck_assert_uint_eq(sa_cap_session_pending_aux(s), len);
	sa_emu__free(emu);
	waitpid(pid, NULL, 0);
	snprintf(path, sizeof(path), "%s/replay.data", sa_test_tmpdir());
	ck_assert_msg(sa_cap_session_write(s, path, &ei) == 0, "%s", ei.msg);
	sa_cap_session__free(s);
	sa_cap_pmu__free(pmu);
	ringemu_fini(&e);

	/* Our reader: the pieces are contiguous and are the trace; each
	 * payload is padded to 8 bytes with zeros (PT PAD packets), as perf
	 * record pads them.
	 */
	pd = sa_pd__open(path, &ei);
	ck_assert_msg(pd != NULL, "%s", ei.msg);
	{
		const uint8_t *data[4096];
		uint64_t off[4096], size[4096];
		size_t k, j;

		while ((err = sa_pd_next(pd, &ev, &ei)) == 1) {
			if (ev.type != SA_PD_AUXTRACE)
				continue;
			ck_assert_uint_lt(pieces, 4096);
			data[pieces] = ev.auxtrace.data;
			off[pieces] = ev.auxtrace.offset;
			size[pieces++] = ev.auxtrace.size;
		}
		ck_assert_int_eq(err, 0);
		for (k = 0; k < pieces; k++) {
			uint64_t real = (k + 1 < pieces ? off[k + 1] : len) -
					off[k];

			ck_assert_uint_eq(off[k], next_pos);
			ck_assert_uint_ge(size[k], real);
			ck_assert_uint_lt(size[k], real + 8);
			ck_assert_mem_eq(data[k], copy + off[k], real);
			for (j = real; j < size[k]; j++)
				ck_assert_uint_eq(data[k][j], 0);
			next_pos += real;
			got += real;
		}
	}
	ck_assert_uint_eq(got, len);
	ck_assert_uint_gt(pieces, 1);
	sa_pd__close(pd);
	free(copy);

	/* perf decodes both files to the same branches. */
	ck_assert_int_eq(perf_branches(emu_path, a, sizeof(a)), 0);
	ck_assert_int_eq(perf_branches(path, b, sizeof(b)), 0);
	ck_assert_ptr_null(strstr(b, "instruction trace error"));
	ck_assert_uint_gt(strlen(a), 1000);
	ck_assert_msg(!strcmp(a, b), "perf decodes our replay differently "
		      "from the emulated sensor's own file");
	fprintf(stderr, "window replay: %zu PT bytes in %zu AUXTRACE pieces; "
		"perf output identical (%zu bytes)\n", len, pieces,
		strlen(a));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("capture-backend");
	TCase *tc = tcase_create("backend");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tc_parse_kind);
	tcase_add_test(tc, tc_intel_pt_absent);
	tcase_add_test(tc, tc_auto_fallback);
	tcase_add_test(tc, tc_auto_fake_pmu);
	tcase_add_test(tc, tc_no_target);
	tcase_add_test(tc, tc_emulate_window_budget);
	tcase_add_test(tc, tc_emulate_thread_churn);
	tcase_add_test(tc, tc_snapshot_replay);
	tcase_add_test(tc, tc_window_replay);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
