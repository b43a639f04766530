// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor-agent capture: trace windows of a running process, or an
 * incident snapshot dumped on a trigger.
 *
 * Window mode goes through the window sources of <sensor/backend.h>.
 * Snapshot mode keeps the hardware AUX area in overwrite mode (a rolling
 * buffer of the most recent trace) and dumps it on SIGUSR2, on a
 * `sensor-agent trigger` command on the control socket, or when the
 * target dies, or (--trigger) when the target executes a symbol: a
 * uprobe beside the trace.  The emulated backend keeps no rolling buffer
 * for the other triggers (it would have to single-step the target all the
 * time), so there each records a window from the trigger on, and says so;
 * with --trigger it does single-step into a rolling buffer until the
 * symbol.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "sensor/backend.h"
#include "sensor/capture.h"
#include "sensor/error.h"
#include "sensor/file.h"
#include "sensor/log.h"
#include "sensor/perfdata.h"
#include "tool.h"

#define BUNDLE_MAX_BYTES (1ull << 30)
#define MAX_DUMPS 10000

static void capture_usage(FILE *f)
{
	fprintf(f,
"Usage: %s capture -p PID [OPTIONS]\n"
"\n"
"Captures trace windows of process PID as perf.data files that `perf script`\n"
"and `%s decode` read.  With --snapshot, keeps a rolling buffer and\n"
"dumps it on a trigger: SIGUSR2, `%s trigger -p PID`, or the target\n"
"dying.\n"
"\n"
"Options:\n"
"  -p, --pid PID            the target process (required)\n"
"      --backend KIND       auto (default), intel_pt, cs_etm or emulate;\n"
"                           auto uses the hardware when present and else\n"
"                           the emulated sensor, and says why\n"
"  -o, --output FILE        output (default capture.data); several windows\n"
"                           or dumps are FILE.000, FILE.001, ...\n"
"      --window DURATION    window length (default %dms); emulate also\n"
"                           takes instructions (4000insn)\n"
"      --period DURATION    window start to window start (default %dms)\n"
"      --count N            number of windows (default 1)\n"
"      --snapshot           incident mode: rolling buffer, dump on a trigger\n"
"      --trigger SYM[@BIN]  with --snapshot: dump when the target executes\n"
"                           function SYM of BIN (default: its executable)\n"
"      --trigger-count N    dump at most N times on --trigger, then end\n"
"                           (default 1)\n"
"      --socket PATH        control socket (default $XDG_RUNTIME_DIR/\n"
"                           sensor-agent/capture-PID.sock, else\n"
"                           /run/sensor-agent/...)\n"
"      --pt-config TERMS    intel_pt terms, e.g.\n"
"                           psb_period=3,mtc=1,cyc=0,noretcomp=0\n"
"      --etm-config TERMS   cs_etm terms, e.g. timestamp=1,contextid=1,\n"
"                           retstack=1\n"
"      --sink NAME          cs_etm sink (sinks/NAME, e.g. tmc_etr0)\n"
"      --filter SPEC        perf --filter syntax: 'filter START/SIZE@FILE',\n"
"                           'filter * @FILE', start|stop ADDR; default: the\n"
"                           target's main binary; '' none\n"
"      --aux-size SIZE      AUX area (power of two, default 4M)\n"
"      --per-cpu            per-CPU events (with --cpu N: one CPU)\n"
"      --cpu N              the CPU for --per-cpu\n"
"      --kernel             trace the kernel too (needs privilege)\n"
"      --cpu-budget N       own CPU time per period, in thousandths of a\n"
"                           core (default %d = 1%%)\n"
"      --sysfs DIR          PMU discovery root (default\n"
"                           %s)\n"
"      --bundle DIR         also write DIR/ with the perf.data files and\n"
"                           the binaries they map (DIR/symfs/<path>), for\n"
"                           decoding elsewhere:\n"
"                           %s decode --symfs DIR/symfs DIR/<file>\n"
"      --list-pmu           print what discovery finds and exit\n"
"  -h, --help               this help\n"
"\n"
"Permissions: hardware tracing of another user's process needs root or\n"
"CAP_PERFMON (or kernel.perf_event_paranoid <= 1 for your own processes);\n"
"the emulated backend needs ptrace rights (kernel.yama.ptrace_scope).  See\n"
"docs/capture.md.\n",
		sa_prog, sa_prog, sa_prog, SA_BACKEND_DEF_WINDOW_MS,
		SA_BACKEND_DEF_PERIOD_MS, SA_BACKEND_DEF_CPU_PERMILLE,
		SA_CAP_SYSFS_DEFAULT, sa_prog);
}

enum {
	OPT_PID = 256, OPT_BACKEND, OPT_WINDOW, OPT_WINDOW_INSNS, OPT_PERIOD,
	OPT_COUNT, OPT_SNAPSHOT, OPT_SOCKET, OPT_PT_CONFIG, OPT_ETM_CONFIG,
	OPT_SINK, OPT_FILTER, OPT_AUX_SIZE, OPT_PER_CPU, OPT_CPU, OPT_KERNEL,
	OPT_BUDGET, OPT_SYSFS, OPT_BUNDLE, OPT_LIST_PMU, OPT_TRIGGER,
	OPT_TRIGGER_COUNT,
};

static const struct option capture_opts[] = {
	{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "pt-config", required_argument, NULL, OPT_PT_CONFIG },
	{ "etm-config", required_argument, NULL, OPT_ETM_CONFIG },
	{ "sink", required_argument, NULL, OPT_SINK },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "per-cpu", no_argument, NULL, OPT_PER_CPU },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "kernel", no_argument, NULL, OPT_KERNEL },
	{ "cpu-budget", required_argument, NULL, OPT_BUDGET },
	{ "sysfs", required_argument, NULL, OPT_SYSFS },
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "list-pmu", no_argument, NULL, OPT_LIST_PMU },
	{ "trigger", required_argument, NULL, OPT_TRIGGER },
	{ "trigger-count", required_argument, NULL, OPT_TRIGGER_COUNT },
	{ NULL, 0, NULL, 0 },
};

struct capture_cfg {
	struct sa_backend_opts bo;
	const char *output;
	const char *socket;
	const char *bundle;
	const char *pt_config, *etm_config;
	uint64_t count;
	bool snapshot;
	bool list_pmu;
	const char *trigger;		/* SYMBOL[@BINARY] */
	uint64_t trigger_count;		/* 0: not given (1) */
	char trigger_file[PATH_MAX];	/* resolved */
	uint64_t trigger_off;
};

static int out_path(char *buf, size_t len, const char *base, bool many,
		    uint64_t idx)
{
	int n;

	if (many)
		n = snprintf(buf, len, "%s.%03" PRIu64, base, idx);
	else
		n = snprintf(buf, len, "%s", base);
	return n < 0 || (size_t)n >= len ? -SA_ERR_TOOBIG : 0;
}

int sa_capture_socket_path(pid_t pid, const char *override, char *buf,
			   size_t len, bool create_dir)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char dir[PATH_MAX];
	int n, err;

	if (override) {
		n = snprintf(buf, len, "%s", override);
		return n < 0 || (size_t)n >= len ? -SA_ERR_TOOBIG : 0;
	}
	if (rt && *rt)
		n = snprintf(dir, sizeof(dir), "%s/sensor-agent", rt);
	else
		n = snprintf(dir, sizeof(dir), "/run/sensor-agent");
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -SA_ERR_TOOBIG;
	if (create_dir && (err = sa_dir_create(dir)))
		return err;
	n = snprintf(buf, len, "%s/capture-%d.sock", dir, (int)pid);
	if (n < 0 || (size_t)n >= len)
		return -SA_ERR_TOOBIG;
	/* sun_path is 108 bytes. */
	if ((size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static void print_window(const char *path, const struct sa_window_info *wi)
{
	if (wi->skipped) {
		printf("window %" PRIu64 ": skipped (CPU budget spent)\n",
		       wi->index);
		return;
	}
	printf("window %" PRIu64 ": %s, %.1f ms, %" PRIu64 " trace bytes",
	       wi->index, path, (double)(wi->end_ns - wi->start_ns) / 1e6,
	       wi->aux_bytes);
	if (wi->tid)
		printf(", thread %d", (int)wi->tid);
	if (wi->nr_truncated)
		printf(", %u truncated", wi->nr_truncated);
	if (wi->lost_records)
		printf(", %" PRIu64 " sideband records lost",
		       wi->lost_records);
	if (wi->target_exited)
		printf(", target exited");
	printf("\n");
}

/*
 * Bundles: DIR/<perf.data files> + DIR/symfs/<abs path of every mapped
 * file> + DIR/MANIFEST, the layout `--symfs DIR/symfs` expects.
 */
static int copy_file(const char *from, const char *to, uint64_t *budget)
{
	char buf[65536];
	int in, out, err = 0;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = sa_file_create(to, O_WRONLY | O_TRUNC);
	if (out < 0) {
		err = out;
		close(in);
		return err;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if ((uint64_t)n > *budget) {
			err = -SA_ERR_TOOBIG;
			break;
		}
		*budget -= (uint64_t)n;
		if (write(out, buf, (size_t)n) != n) {
			err = -errno;
			break;
		}
	}
	if (n < 0)
		err = -errno;
	close(in);
	if (close(out) && !err)
		err = -errno;
	return err;
}

static int mkdir_p(const char *path)
{
	return sa_dir_create_all(path);
}

static int bundle_one(const char *dir, const char *data, FILE *manifest,
		      uint64_t *budget)
{
	char dst[PATH_MAX * 2], parent[PATH_MAX * 2];
	struct sa_errinfo ei;
	struct sa_pd_event ev;
	const char *base;
	struct sa_pd *pd;
	struct stat st;
	int err;

	base = strrchr(data, '/');
	base = base ? base + 1 : data;
	snprintf(dst, sizeof(dst), "%s/%s", dir, base);
	err = copy_file(data, dst, budget);
	if (err)
		return err;
	fprintf(manifest, "data %s\n", base);
	pd = sa_pd__open(data, &ei);
	if (!pd) {
		sa_err("bundle: %s", ei.msg);
		return -errno;
	}
	while ((err = sa_pd_next(pd, &ev, &ei)) == 1) {
		const char *fn;
		char *slash;

		if (ev.type != PERF_RECORD_MMAP2 && ev.type != PERF_RECORD_MMAP)
			continue;
		fn = ev.mmap.filename;
		if (fn[0] != '/')
			continue;	/* [vdso], anon, ... */
		snprintf(dst, sizeof(dst), "%s/symfs%s", dir, fn);
		if (!stat(dst, &st))
			continue;
		snprintf(parent, sizeof(parent), "%s", dst);
		slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		if (mkdir_p(parent))
			continue;
		if (copy_file(fn, dst, budget)) {
			fprintf(manifest, "missing %s\n", fn);
			unlink(dst);
			continue;
		}
		{
			const struct sa_pd_build_id *b =
				sa_pd_find_build_id(pd, fn);
			unsigned int k;

			fprintf(manifest, "binary %s ", fn);
			for (k = 0; b && k < b->size; k++)
				fprintf(manifest, "%02x", b->id[k]);
			fprintf(manifest, "%s\n", b && b->size ? "" : "-");
		}
	}
	if (err < 0)
		sa_err("bundle: %s", ei.msg);
	sa_pd__close(pd);
	return 0;
}

static int make_bundle(const char *dir, char **files, size_t nr)
{
	char path[PATH_MAX + 16];
	uint64_t budget = BUNDLE_MAX_BYTES;
	FILE *m;
	size_t i;
	int err;

	err = mkdir_p(dir);
	if (err) {
		sa_err("--bundle %s: %s", dir, strerror(-err));
		return err;
	}
	snprintf(path, sizeof(path), "%s/MANIFEST", dir);
	m = sa_file_fopen_private(path);
	if (!m) {
		sa_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	fprintf(m, "# sensor-agent capture bundle: decode with\n"
		"#   sensor-agent decode --symfs symfs FILE\n"
		"#   perf script -i FILE --symfs symfs\n");
	for (i = 0; i < nr; i++) {
		err = bundle_one(dir, files[i], m, &budget);
		if (err) {
			sa_err("bundle: %s: %s", files[i], sa_strerror(err));
			break;
		}
	}
	fclose(m);
	if (!err)
		printf("bundle: %s (see %s)\n", dir, path);
	return err;
}

/*
 * Windows.
 */
static volatile sig_atomic_t capture_stop;

static void on_stop(int sig)
{
	(void)sig;
	capture_stop = 1;
}

static int run_windows(struct capture_cfg *c)
{
	struct sa_backend_stats st;
	struct sa_window_info wi;
	struct sa_errinfo ei;
	struct sa_backend *b;
	char **files = NULL;
	size_t nr_files = 0;
	struct sigaction sa = { .sa_handler = on_stop };
	uint64_t i;
	int rc = SA_EXIT_OK, err;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	b = sa_backend__new(&c->bo, &ei);
	if (!b) {
		sa_err("%s", ei.msg);
		return SA_EXIT_FAIL;
	}
	if (c->bo.window_insns && strcmp(sa_backend_name(b), "emulate")) {
		sa_err("--window %" PRIu64 "insn: only the emulated backend "
		       "counts instructions; %s windows are timed (e.g. "
		       "--window 10ms)", c->bo.window_insns,
		       sa_backend_name(b));
		sa_backend__free(b);
		return SA_EXIT_USAGE;
	}
	if (sa_backend_note(b))
		sa_note("%s", sa_backend_note(b));
	sa_note("capturing %" PRIu64 " window(s) of pid %d with "
		"the %s backend", c->count, (int)c->bo.pid,
		sa_backend_name(b));
	files = calloc(c->count, sizeof(*files));
	if (!files) {
		sa_backend__free(b);
		return SA_EXIT_FAIL;
	}
	for (i = 0; i < c->count && !capture_stop; i++) {
		char path[PATH_MAX];

		if (out_path(path, sizeof(path), c->output, c->count > 1, i)) {
			sa_err("output name too long");
			rc = SA_EXIT_FAIL;
			break;
		}
		err = sa_backend_capture(b, path, &wi, &ei);
		if (err < 0) {
			if (err == -EINTR && capture_stop)
				break;
			sa_err("%s", ei.msg);
			rc = SA_EXIT_FAIL;
			break;
		}
		print_window(path, &wi);
		if (err == 1)
			files[nr_files++] = strdup(path);
		if (wi.target_exited)
			break;
	}
	sa_backend_stats(b, &st);
	printf("windows %" PRIu64 ", skipped %" PRIu64 ", trace bytes %"
	       PRIu64 ", lost records %" PRIu64 ", truncated %" PRIu64
	       ", capture cpu %.1f ms\n", st.windows, st.windows_skipped,
	       st.aux_bytes, st.lost_records, st.truncated,
	       (double)st.capture_cpu_ns / 1e6);
	sa_backend__free(b);
	if (c->bundle && nr_files && make_bundle(c->bundle, files, nr_files))
		rc = SA_EXIT_FAIL;
	for (i = 0; i < nr_files; i++)
		free(files[i]);
	free(files);
	return rc;
}

/*
 * Snapshot mode.
 */
struct snap {
	struct capture_cfg *c;
	/* hardware */
	struct sa_cap_pmu *pmu;
	struct sa_cap_session *sess;
	struct perf_event_attr attr;
	char filter[SA_CAP_FILTER_MAX];
	/* emulate */
	struct sa_backend *b;
	uint64_t dumps;
	char last[PATH_MAX];
};

static int snap_open_hw(struct snap *s, const char *pmu_name,
			struct sa_errinfo *ei)
{
	struct capture_cfg *c = s->c;
	struct sa_cap_attr_opts ao = { 0 };
	struct sa_cap_session_opts so = { 0 };
	int err;

	s->pmu = sa_cap_pmu__open(c->bo.sysfs_root, pmu_name, ei);
	if (!s->pmu)
		return -errno;
	ao.terms = c->bo.config;
	ao.sink = c->bo.sink;
	ao.kernel = c->bo.kernel;
	ao.per_cpu = c->bo.per_cpu;
	err = sa_cap_attr_build(s->pmu, &ao, &s->attr, ei);
	if (err)
		return err;
	if (!c->bo.filter)
		err = sa_cap_filter_default(NULL, c->bo.pid, s->filter,
					    sizeof(s->filter), ei);
	else if (*c->bo.filter)
		err = sa_cap_filter_parse(c->bo.filter,
					  sa_cap_pmu_nr_addr_filters(s->pmu),
					  s->filter, sizeof(s->filter), ei);
	if (err < 0)
		return err;
	so.pid = c->bo.pid;
	so.trace_attr = &s->attr;
	so.pmu = s->pmu;
	so.filter = s->filter[0] ? s->filter : NULL;
	so.aux_size = c->bo.aux_size;
	so.data_size = c->bo.data_size;
	so.snapshot = true;
	so.per_cpu = c->bo.per_cpu;
	so.cpu = c->bo.cpu;
	so.kernel = c->bo.kernel;
	s->sess = sa_cap_session__open(&so, ei);
	if (!s->sess)
		return -errno;
	return sa_cap_session_enable(s->sess);
}

static int snap_dump(struct snap *s, const char *why, char *path,
		     size_t len, struct sa_errinfo *ei)
{
	int err;

	if (s->dumps >= MAX_DUMPS)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "more than %d dumps (the limit)", MAX_DUMPS);
	if (out_path(path, len, s->c->output, true, s->dumps))
		return -SA_ERR_TOOBIG;
	if (s->sess) {
		/* perf's snapshot_start/finish: stop the trace so that the
		 * buffer does not move while it is copied.
		 */
		sa_cap_session_disable(s->sess);
		err = sa_cap_session_drain(s->sess, NULL, NULL, ei);
		if (err >= 0)
			err = sa_cap_session_write(s->sess, path, ei);
		sa_cap_session_enable(s->sess);
	} else {
		struct sa_window_info wi;

		err = sa_backend_capture(s->b, path, &wi, ei);
		if (err == 0)
			err = sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
					     "dump skipped: CPU budget spent");
		else if (err == 1)
			err = 0;
	}
	if (err < 0)
		return err;
	s->dumps++;
	snprintf(s->last, sizeof(s->last), "%s", path);
	printf("dump %" PRIu64 " (%s): %s\n", s->dumps - 1, why, path);
	fflush(stdout);
	return 0;
}

static int listen_socket(const char *path, struct sa_errinfo *ei)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return sa_errinfo_set(ei, -ENAMETOOLONG, SA_NO_OFFSET,
				      "socket path too long: %s", path);
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET, "socket: %s",
				      strerror(errno));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    chmod(path, 0600) || listen(fd, 4)) {
		int err = -errno;

		close(fd);
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "control socket %s: %s", path,
				      strerror(-err));
	}
	return fd;
}

static void serve_client(struct snap *s, int lfd)
{
	char req[128], reply[PATH_MAX + 64], path[PATH_MAX];
	struct sa_errinfo ei;
	struct timeval tv = { .tv_sec = 2 };
	ssize_t n;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = read(fd, req, sizeof(req) - 1);
	if (n <= 0) {
		close(fd);
		return;
	}
	req[n] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	if (!strcmp(req, "dump")) {
		if (snap_dump(s, "trigger command", path, sizeof(path), &ei))
			snprintf(reply, sizeof(reply), "error %s\n", ei.msg);
		else
			snprintf(reply, sizeof(reply), "ok %s\n", path);
	} else if (!strcmp(req, "status")) {
		snprintf(reply, sizeof(reply), "ok pid %d dumps %" PRIu64
			 " backend %s last %s\n", (int)s->c->bo.pid, s->dumps,
			 s->sess ? sa_cap_pmu_name(s->pmu) : "emulate",
			 s->dumps ? s->last : "-");
	} else {
		snprintf(reply, sizeof(reply), "error unknown command '%.64s' "
			 "(dump, status)\n", req);
	}
	if (write(fd, reply, strlen(reply)) < 0)
		sa_debug("trigger client went away\n");
	close(fd);
}

/* How the target ended: known exactly when it is our child; else from
 * /proc/PID/stat's exit_code while it is still a zombie.
 */
static void describe_exit(pid_t pid, char *buf, size_t len)
{
	char path[64], stat[1024];
	siginfo_t si = { 0 };
	int fd, code = -1;

	if (!waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) &&
	    si.si_pid == pid) {
		if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
			snprintf(buf, len, "target killed by signal %d (%s)",
				 si.si_status, strsignal(si.si_status));
		else
			snprintf(buf, len, "target exited with status %d",
				 si.si_status);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, stat, sizeof(stat) - 1);
		char *p;
		int field;

		close(fd);
		if (n > 0) {
			stat[n] = '\0';
			/* Field 52 (exit_code) counted after "(comm)". */
			p = strrchr(stat, ')');
			for (field = 2; p && field < 52; field++)
				p = strchr(p + 1, ' ');
			if (p)
				code = (int)strtol(p + 1, NULL, 10);
		}
	}
	if (code < 0)
		snprintf(buf, len, "target ended (exit status not visible: "
			 "not our child)");
	else if (code & 0x7f)
		snprintf(buf, len, "target killed by signal %d (%s)",
			 code & 0x7f, strsignal(code & 0x7f));
	else
		snprintf(buf, len, "target exited with status %d",
			 (code >> 8) & 0xff);
}

/*
 * --trigger with the emulated backend: each window single-steps the
 * target with a rolling buffer until it reaches the trigger; that window
 * is the dump.
 */
static int run_trigger_emu(struct snap *s)
{
	struct capture_cfg *c = s->c;
	struct sigaction sa = { .sa_handler = on_stop };
	uint64_t n = c->trigger_count ? c->trigger_count : 1;
	struct sa_window_info wi;
	struct sa_errinfo ei;
	char path[PATH_MAX];
	int err;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa_note("waiting for pid %d to execute %s (%s+%#" PRIx64 "), at most "
		"%" PRIu64 " dump(s)", (int)c->bo.pid, c->trigger,
		c->trigger_file, c->trigger_off, n);
	printf("ready trigger %s\n", c->trigger);
	fflush(stdout);
	while (s->dumps < n && !capture_stop) {
		if (out_path(path, sizeof(path), c->output, true, s->dumps))
			return SA_EXIT_FAIL;
		err = sa_backend_capture(s->b, path, &wi, &ei);
		if (err < 0) {
			if (err == -ESRCH) {
				sa_note("pid %d ended before the trigger",
					(int)c->bo.pid);
				break;
			}
			if (err == -EINTR && capture_stop)
				break;
			sa_err("%s", ei.msg);
			return SA_EXIT_FAIL;
		}
		if (!wi.triggered) {
			/* ended by a signal, the target's end, an exec or
			 * a new thread: not a dump
			 */
			if (err == 1)
				unlink(path);
			if (wi.target_exited || capture_stop) {
				sa_note("%s before the trigger", capture_stop ?
					"stopped" : "target ended");
				break;
			}
			continue;
		}
		printf("dump %" PRIu64 " (trigger %s at %#" PRIx64 "): %s, %"
		       PRIu64 " trace bytes, %" PRIu64 " older bytes dropped\n",
		       s->dumps, c->trigger, wi.trigger_ip, path,
		       wi.aux_bytes, wi.ring_dropped);
		fflush(stdout);
		s->dumps++;
	}
	printf("dumps %" PRIu64 " of %" PRIu64 "\n", s->dumps, n);
	return SA_EXIT_OK;
}

static int run_snapshot(struct capture_cfg *c)
{
	char sock[PATH_MAX], path[PATH_MAX], why[256];
	struct snap s = { .c = c };
	struct sa_errinfo ei;
	struct pollfd pfd[3 + SA_CAP_UPROBE_MAX_THREADS];
	bool up_on[SA_CAP_UPROBE_MAX_THREADS];
	struct sa_cap_uprobe *up = NULL;
	uint64_t up_dumps = 0, up_max = c->trigger_count ? c->trigger_count : 1;
	sigset_t mask;
	int sfd = -1, lfd = -1, pidfd = -1, rc = SA_EXIT_FAIL, err;
	enum sa_backend_kind kind = c->bo.kind;

	/* Hardware first, as --backend asks. */
	if (kind == SA_BACKEND_INTEL_PT || kind == SA_BACKEND_CS_ETM) {
		err = snap_open_hw(&s, sa_backend_kind_name(kind), &ei);
		if (err) {
			sa_err("%s", ei.msg);
			goto out;
		}
	} else if (kind == SA_BACKEND_AUTO) {
		const char *pmus[] = { "intel_pt", "cs_etm" };
		size_t i;

		for (i = 0; i < 2; i++) {
			if (!snap_open_hw(&s, pmus[i], &ei))
				break;
			sa_cap_session__free(s.sess);
			sa_cap_pmu__free(s.pmu);
			s.sess = NULL;
			s.pmu = NULL;
		}
	}
	if (!s.sess) {
		struct sa_backend_opts bo = c->bo;

		bo.kind = c->bo.kind == SA_BACKEND_AUTO ? SA_BACKEND_AUTO :
			  SA_BACKEND_EMULATE;
		bo.no_wait = true;
		s.b = sa_backend__new(&bo, &ei);
		if (!s.b) {
			sa_err("%s", ei.msg);
			goto out;
		}
		if (sa_backend_note(s.b))
			sa_note("%s",
				sa_backend_note(s.b));
		if (c->trigger) {
			sa_note("snapshot with the emulated backend and a "
				"trigger: the target is single-stepped (much "
				"slower) into a rolling %" PRIu64 "-byte "
				"buffer until it executes %s", c->bo.aux_size,
				c->trigger);
			rc = run_trigger_emu(&s);
			goto out;
		}
		sa_note("snapshot with the emulated backend: there "
			"is no rolling buffer of the past (that needs AUX "
			"overwrite hardware); each trigger records a window "
			"from the trigger on");
	} else if (c->trigger) {
		size_t i;

		up = sa_cap_uprobe__open(c->bo.sysfs_root, c->bo.pid,
					 c->trigger_file, c->trigger_off, &ei);
		if (!up) {
			sa_err("--trigger %s: %s", c->trigger, ei.msg);
			goto out;
		}
		for (i = 0; i < sa_cap_uprobe_nr_fds(up); i++)
			up_on[i] = true;
		sa_note("snapshot mode on %s: rolling %" PRIu64 "-byte AUX "
			"buffer per ring, dumped when pid %d executes %s "
			"(uprobe on %s+%#" PRIx64 ", %zu thread(s)), at most "
			"%" PRIu64 " time(s)", sa_cap_pmu_name(s.pmu),
			c->bo.aux_size, (int)c->bo.pid, c->trigger,
			c->trigger_file, c->trigger_off,
			sa_cap_uprobe_nr_fds(up), up_max);
	} else {
		sa_note("snapshot mode on %s: rolling %" PRIu64
			"-byte AUX buffer per ring",
			sa_cap_pmu_name(s.pmu), c->bo.aux_size);
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	err = sa_capture_socket_path(c->bo.pid, c->socket, sock, sizeof(sock),
				     true);
	if (err) {
		sa_err("control socket path: %s", sa_strerror(err));
		goto out;
	}
	lfd = listen_socket(sock, &ei);
	if (lfd < 0) {
		sa_err("%s", ei.msg);
		goto out;
	}
	pidfd = (int)syscall(SYS_pidfd_open, c->bo.pid, 0);
	if (pidfd < 0)
		sa_note("pidfd_open(%d): %s: the target's death "
			"will not trigger a dump", (int)c->bo.pid,
			strerror(errno));
	/* the trigger command that reaches this socket */
	if (c->socket)
		snprintf(why, sizeof(why), "--socket %s", c->socket);
	else
		snprintf(why, sizeof(why), "--pid %d", (int)c->bo.pid);
	sa_note("waiting for triggers: kill -USR2 %d, `%s trigger %s`, or "
		"pid %d dying; control socket %s", (int)getpid(), sa_prog, why,
		(int)c->bo.pid, sock);
	printf("ready %s\n", sock);
	fflush(stdout);

	for (;;) {
		int n = 0, nbase;
		size_t k;

		pfd[n].fd = sfd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = lfd;
		pfd[n++].events = POLLIN;
		if (pidfd >= 0) {
			pfd[n].fd = pidfd;
			pfd[n++].events = POLLIN;
		}
		nbase = n;
		for (k = 0; up && k < sa_cap_uprobe_nr_fds(up); k++) {
			pfd[n].fd = up_on[k] ? sa_cap_uprobe_fd(up, k) : -1;
			pfd[n++].events = POLLIN;
		}
		/* Hardware: read the sideband every second so that the data
		 * ring does not overflow while the AUX area rolls.
		 */
		err = poll(pfd, (nfds_t)n, s.sess ? 1000 : -1);
		if (err < 0) {
			if (errno == EINTR)
				continue;
			sa_err("poll: %s", strerror(errno));
			break;
		}
		for (k = 0; up && k < sa_cap_uprobe_nr_fds(up); k++)
			if ((pfd[nbase + (int)k].revents &
			     (POLLHUP | POLLERR)) &&
			    !(pfd[nbase + (int)k].revents & POLLIN))
				up_on[k] = false;	/* thread ended */
		/* Every wake-up (the rings' poll is edge-like), timeouts
		 * too.
		 */
		if (up && sa_cap_uprobe_read(up)) {
			/* Hits while a dump is written make one dump: the
			 * trace is stopped meanwhile.
			 */
			snprintf(why, sizeof(why), "trigger %s", c->trigger);
			if (snap_dump(&s, why, path, sizeof(path), &ei))
				sa_err("%s", ei.msg);
			else
				up_dumps++;
			sa_cap_uprobe_read(up);
			if (up_dumps >= up_max) {
				printf("dumps %" PRIu64 " of %" PRIu64 "\n",
				       up_dumps, up_max);
				rc = SA_EXIT_OK;
				break;
			}
		}
		if (!err) {
			sa_cap_session_drain_sideband(s.sess, &ei);
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGUSR2) {
				if (snap_dump(&s, "SIGUSR2", path, sizeof(path),
					      &ei))
					sa_err("%s", ei.msg);
				continue;
			}
			rc = SA_EXIT_OK;
			break;
		}
		if (pfd[1].revents & POLLIN)
			serve_client(&s, lfd);
		if (n > 2 && (pfd[2].revents & POLLIN)) {
			describe_exit(c->bo.pid, why, sizeof(why));
			sa_note("%s", why);
			if (s.sess) {
				if (snap_dump(&s, why, path, sizeof(path),
					      &ei))
					sa_err("%s", ei.msg);
			} else {
				sa_note("the emulated backend has "
					"no buffer from before the end; "
					"nothing to dump");
			}
			rc = SA_EXIT_OK;
			break;
		}
	}
out:
	if (lfd >= 0) {
		close(lfd);
		unlink(sock);
	}
	if (sfd >= 0)
		close(sfd);
	if (pidfd >= 0)
		close(pidfd);
	sa_cap_uprobe__free(up);
	sa_cap_session__free(s.sess);
	sa_cap_pmu__free(s.pmu);
	sa_backend__free(s.b);
	return rc;
}

static int resolve_trigger(struct capture_cfg *c)
{
	struct sa_errinfo ei;
	int err;

	if (!c->snapshot) {
		sa_err("--trigger%s needs --snapshot", c->trigger ? "" :
		       "-count");
		return SA_EXIT_USAGE;
	}
	if (!c->trigger) {
		sa_err("--trigger-count needs --trigger SYMBOL[@BINARY]");
		return SA_EXIT_USAGE;
	}
	err = sa_cap_trigger_resolve(NULL, c->bo.pid, c->trigger,
				     c->trigger_file, sizeof(c->trigger_file),
				     &c->trigger_off, &ei);
	if (err) {
		sa_err("%s", ei.msg);
		return err == -SA_ERR_INVAL ? SA_EXIT_USAGE : SA_EXIT_FAIL;
	}
	c->bo.trigger_file = c->trigger_file;
	c->bo.trigger_off = c->trigger_off;
	return SA_EXIT_OK;
}

static int list_pmu(const char *root)
{
	const char *names[] = { "intel_pt", "cs_etm" };
	int found = 0;
	size_t i, j;

	for (i = 0; i < 2; i++) {
		struct sa_errinfo ei;
		struct sa_cap_pmu *p = sa_cap_pmu__open(root, names[i], &ei);
		uint64_t v;

		if (!p) {
			printf("%s: %s\n", names[i], ei.msg);
			continue;
		}
		found++;
		printf("%s: type %u, nr_addr_filters %u\n", names[i],
		       sa_cap_pmu_type(p), sa_cap_pmu_nr_addr_filters(p));
		for (j = 0; j < sa_cap_pmu_nr_formats(p); j++) {
			const struct sa_cap_format *f =
				sa_cap_pmu_format_at(p, j);

			printf("  format %-18s config%s mask 0x%016" PRIx64
			       "\n", f->name,
			       f->field ? (f->field == 1 ? "1" :
					   f->field == 2 ? "2" : "3") : "",
			       f->mask);
		}
		for (j = 0; j < sa_cap_pmu_nr_sinks(p); j++) {
			sa_cap_pmu_sink(p, sa_cap_pmu_sink_name(p, j), &v);
			printf("  sink %s 0x%" PRIx64 "\n",
			       sa_cap_pmu_sink_name(p, j), v);
		}
		for (j = 0; j < sa_cap_pmu_nr_etm_cpus(p); j++) {
			const struct sa_cap_etm_cpu *c =
				sa_cap_pmu_etm_cpu(p, j);

			printf("  cpu%d trcidr0 0x%x trcidr1 0x%x trcidr2 0x%x"
			       " traceid 0x%x\n", c->cpu, c->trcidr[0],
			       c->trcidr[1], c->trcidr[2], c->traceid);
		}
		sa_cap_pmu__free(p);
	}
	switch (sa_cap_kernel_aux_pause()) {
	case 1:
		printf("kernel: AUX pause/resume known (Linux 6.13+)\n");
		break;
	case 0:
		printf("kernel: no AUX pause/resume (before Linux 6.13)\n");
		break;
	default:
		printf("kernel: AUX pause/resume unknown (perf_event_open "
		       "refused)\n");
		break;
	}
	return found ? SA_EXIT_OK : SA_EXIT_FAIL;
}

int cmd_capture(int argc, char **argv)
{
	struct capture_cfg c = { 0 };
	struct sa_common cm;
	uint64_t v;
	int opt;

	c.output = "capture.data";
	c.count = 1;
	c.bo.kind = SA_BACKEND_AUTO;
	c.bo.cpu = -1;
	c.bo.aux_size = SA_BACKEND_DEF_AUX_SIZE;
	sa_common_init(&cm, "capture", SA_CO_PID | SA_CO_BACKEND |
		       SA_CO_WINDOW | SA_CO_PERIOD | SA_CO_COUNT |
		       SA_CO_OUTPUT | SA_CO_AUX_SIZE);
	cm.window_insn_ok = true;
	while ((opt = sa_getopt(argc, argv, "", capture_opts, &cm)) != -1) {
		switch (opt) {
		case SA_GETOPT_USAGE:
			return SA_EXIT_USAGE;
		case OPT_CPU:
		case OPT_BUDGET:
			if (!sa_parse_u64(optarg, &v) || v > INT32_MAX ||
			    (opt == OPT_BUDGET && !v)) {
				sa_err("bad --%s '%s': not a number%s",
				       opt == OPT_CPU ? "cpu" : "cpu-budget",
				       optarg, opt == OPT_CPU ? "" :
				       " of thousandths of a core (10 = 1%)");
				return SA_EXIT_USAGE;
			}
			if (opt == OPT_CPU)
				c.bo.cpu = (int)v;
			else
				c.bo.budget.cpu_permille = (uint32_t)v;
			break;
		case OPT_SNAPSHOT:
			c.snapshot = true;
			break;
		case OPT_SOCKET:
			c.socket = optarg;
			break;
		case OPT_PT_CONFIG:
			c.pt_config = optarg;
			break;
		case OPT_ETM_CONFIG:
			c.etm_config = optarg;
			break;
		case OPT_SINK:
			c.bo.sink = optarg;
			break;
		case OPT_FILTER:
			c.bo.filter = optarg;
			break;
		case OPT_PER_CPU:
			c.bo.per_cpu = true;
			break;
		case OPT_KERNEL:
			c.bo.kernel = true;
			break;
		case OPT_SYSFS:
			c.bo.sysfs_root = optarg;
			break;
		case OPT_BUNDLE:
			c.bundle = optarg;
			break;
		case OPT_LIST_PMU:
			c.list_pmu = true;
			break;
		case OPT_TRIGGER:
			c.trigger = optarg;
			break;
		case OPT_TRIGGER_COUNT:
			if (!sa_parse_u64(optarg, &v) || !v ||
			    v > MAX_DUMPS) {
				sa_err("bad --trigger-count '%s': a count "
				       "from 1 to %d", optarg, MAX_DUMPS);
				return SA_EXIT_USAGE;
			}
			c.trigger_count = v;
			break;
		case 'h':
			capture_usage(stdout);
			return SA_EXIT_OK;
		default:
			capture_usage(stderr);
			return SA_EXIT_USAGE;
		}
	}
	c.bo.pid = cm.pid;
	c.bo.kind = cm.backend;
	if (cm.output)
		c.output = cm.output;
	if (cm.set & SA_CO_WINDOW) {
		c.bo.window_ms = cm.window_ms;
		c.bo.window_insns = cm.window_insns;
	}
	if (cm.set & SA_CO_PERIOD)
		c.bo.period_ms = cm.period_ms;
	if (cm.count)
		c.count = cm.count;
	if (cm.aux_size)
		c.bo.aux_size = cm.aux_size;
	if (c.list_pmu)
		return list_pmu(c.bo.sysfs_root);
	if (sa_common_check_window(&cm, NULL))
		return SA_EXIT_USAGE;
	if (optind < argc) {
		sa_err("unexpected argument '%s'", argv[optind]);
		return SA_EXIT_USAGE;
	}
	if (!c.bo.pid) {
		sa_err("capture needs --pid PID (see --help)");
		return SA_EXIT_USAGE;
	}
	if (!c.count || c.count > MAX_DUMPS) {
		sa_err("--count must be 1..%d", MAX_DUMPS);
		return SA_EXIT_USAGE;
	}
	/* The terms for the PMU in use; auto on x86 means intel_pt. */
	c.bo.config = c.bo.kind == SA_BACKEND_CS_ETM ? c.etm_config :
		      c.pt_config;
#if defined(__aarch64__) || defined(__arm__)
	if (c.bo.kind == SA_BACKEND_AUTO)
		c.bo.config = c.etm_config;
#endif
	if (c.trigger || c.trigger_count) {
		int rc = resolve_trigger(&c);

		if (rc)
			return rc;
	}
	return c.snapshot ? run_snapshot(&c) : run_windows(&c);
}
