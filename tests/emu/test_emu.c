// SPDX-License-Identifier: BSD-2-Clause
/*
 * Suite 'emu': the emulated Intel PT sensor on the sample workloads.
 *
 * Exactness: the instruction sequence that libipt (a peer decoder, not our
 * code) decodes from the emulated trace equals the ground truth that the
 * recorder saw retire; the taken / not-taken counts of the workload's own
 * counted branch, located with objdump at test time, equal the counts the
 * workload printed.  Loss, bad input, and the target's fate on SIGTERM.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <intel-pt.h>

#include "sensor/emu.h"
#include "sensor/error.h"
#include "sensor/flow.h"
#include "sensor/image.h"
#include "sensor/perfdata.h"
#include "emu_check.h"
#include "emu_priv.h"
#include "emu_rec.h"
#include "decoder.h"

struct dec_result {
	uint64_t *ips;
	size_t n;
	int overflows;
	int errors;
	int last_err;
	uint64_t err_offset;
	/* With timing: libipt's time after each instruction. */
	uint64_t *times;
	uint32_t lost_mtc, lost_cyc;
	int time_errors;
};

/* The emulated clocks, as docs/emulate.md gives them (and perf.data's
 * AUXTRACE_INFO): CPUID 0x15 EAX 1, EBX 40 (TSC = 40 x CTC), nominal
 * ratio 10.
 */
#define EMU_CPUID15_EAX 1
#define EMU_CPUID15_EBX 40
#define EMU_NOM_FREQ 10

/* Decodes with libipt's instruction flow decoder, as ptxed does; with
 * @mtc_freq >= 0, also libipt's time after every instruction (the
 * trace's timing packets decoded with the documented clock ratios).
 */
static void ipt_decode_timed(struct sa_emu *emu, struct dec_result *d,
			     int mtc_freq)
{
	struct pt_config cfg;
	struct pt_image *img;
	struct pt_insn_decoder *dec;
	const uint8_t *buf;
	size_t len, i;
	int st;

	memset(d, 0, sizeof(*d));
	d->ips = calloc(EMU_MAX_TRUTH, sizeof(*d->ips));
	ck_assert_ptr_nonnull(d->ips);
	buf = sa_emu_trace(emu, &len);
	ck_assert_uint_gt(len, 0);
	pt_config_init(&cfg);
	cfg.begin = (uint8_t *)buf;
	cfg.end = (uint8_t *)buf + len;
	if (mtc_freq >= 0) {
		d->times = calloc(EMU_MAX_TRUTH, sizeof(*d->times));
		ck_assert_ptr_nonnull(d->times);
		cfg.mtc_freq = (uint8_t)mtc_freq;
		cfg.cpuid_0x15_eax = EMU_CPUID15_EAX;
		cfg.cpuid_0x15_ebx = EMU_CPUID15_EBX;
		cfg.nom_freq = EMU_NOM_FREQ;
	}
	dec = pt_insn_alloc_decoder(&cfg);
	ck_assert_ptr_nonnull(dec);
	img = pt_insn_get_image(dec);
	for (i = 0; i < sa_emu_nr_maps(emu); i++) {
		const struct sa_emu_map *m = sa_emu_map(emu, i);

		ck_assert_int_ge(pt_image_add_file(img, m->path, m->pgoff,
						   m->len, NULL, m->start), 0);
	}
	for (;;) {
		st = pt_insn_sync_forward(dec);
		if (st < 0) {
			if (st != -pte_eos) {
				d->errors++;
				d->last_err = st;
			}
			break;
		}
		for (;;) {
			struct pt_insn insn;

			while (st & pts_event_pending) {
				struct pt_event ev;

				st = pt_insn_event(dec, &ev, sizeof(ev));
				if (st < 0)
					break;
				if (ev.type == ptev_overflow)
					d->overflows++;
			}
			if (st < 0)
				break;
			if (st & pts_eos)
				break;
			st = pt_insn_next(dec, &insn, sizeof(insn));
			if (st < 0)
				break;
			if (d->n >= EMU_MAX_TRUTH || insn.speculative)
				continue;
			if (d->times) {
				uint32_t lm = 0, lc = 0;

				if (pt_insn_time(dec, &d->times[d->n], &lm,
						 &lc) < 0)
					d->time_errors++;
				d->lost_mtc += lm;
				d->lost_cyc += lc;
			}
			d->ips[d->n++] = insn.ip;
		}
		if (st < 0 && st != -pte_eos) {
			uint64_t off = 0;

			pt_insn_get_offset(dec, &off);
			d->errors++;
			d->last_err = st;
			d->err_offset = off;
			continue;	/* resync at the next PSB */
		}
		if (st == -pte_eos || (st >= 0 && (st & pts_eos)))
			break;
	}
	pt_insn_free_decoder(dec);
}

static void ipt_decode(struct sa_emu *emu, struct dec_result *d)
{
	ipt_decode_timed(emu, d, -1);
}

static void report_mismatch(const char *what, const uint64_t *a, size_t na,
			    const uint64_t *b, size_t nb)
{
	size_t i, n = na < nb ? na : nb;

	for (i = 0; i < n && a[i] == b[i]; i++)
		;
	fprintf(stderr, "%s: truth %zu insns, decoded %zu; first difference "
		"at %zu: truth %#" PRIx64 " decoded %#" PRIx64 "\n", what, na,
		nb, i, i < na ? a[i] : 0, i < nb ? b[i] : 0);
}

struct workload {
	const char *name;	/* without the flavour */
	const char *syms;	/* functions for the static filter */
	const char *counted;	/* function with the counted jcc */
	const char *fmt;	/* sscanf format of its counts */
};

static const struct workload workloads[] = {
	{ "wl_branches", "main,decide,classify,add1,dbl,neg,fib", "decide",
	  "decide: yes=%lu no=%lu" },
	{ "wl_qsort", "main,cmp_int", "cmp_int", "cmp: less=%lu notless=%lu" },
	{ "wl_signals", "main,deep,copy_rep,on_signal", NULL, NULL },
};

static const char *flavours[] = { "pie", "nopie", "static", "static-pie" };

/* "filter a @ exe,filter b @ exe" for the static binaries: their whole
 * libc is in the main binary, too much to single-step in a unit test.
 */
static void static_filter(char *buf, size_t size, const char *syms,
			  const char *exe)
{
	char copy[256], *s, *next;
	size_t len = 0;

	snprintf(copy, sizeof(copy), "%s", syms);
	buf[0] = '\0';
	for (s = copy; s; s = next) {
		next = strchr(s, ',');
		if (next)
			*next++ = '\0';
		len += (size_t)snprintf(buf + len, size - len,
					"%sfilter %s @ %s", len ? "," : "", s,
					exe);
	}
}

/* The counted jcc of @fn in @exe, from objdump: its ELF address and its
 * target.
 */
static bool find_jcc(const char *exe, const char *fn, uint64_t *addr,
		     uint64_t *target)
{
	char cmd[8192];
	const char *line;
	unsigned long long a, t;

	snprintf(cmd, sizeof(cmd),
		 "objdump -d --no-show-raw-insn '%s' | awk '/<%s>:/,/^$/' | "
		 "grep -m1 -E '\\sj[a-z]+ ' | grep -v jmp", exe, fn);
	line = emu_sh(cmd);
	if (sscanf(line, " %llx: %*s %llx", &a, &t) != 2)
		return false;
	*addr = a;
	*target = t;
	return true;
}

/* Load bias of @exe in the last window (0 for ET_EXEC). */
static uint64_t exe_bias(struct sa_emu *emu, const char *exe, bool pie)
{
	size_t i;

	if (!pie)
		return 0;
	/* Our PIE workloads are linked with vaddr == file offset, so the
	 * bias is start - pgoff of any of their mappings.
	 */
	for (i = 0; i < sa_emu_nr_maps(emu); i++) {
		const struct sa_emu_map *m = sa_emu_map(emu, i);
		char rp[4096];

		if (realpath(exe, rp) && strcmp(rp, m->path) == 0)
			return m->start - m->pgoff;
	}
	ck_abort_msg("%s is not mapped", exe);
	return 0;
}

START_TEST(test_roundtrip)
{
	const struct workload *w = &workloads[_i / 4];
	const char *flavour = flavours[_i % 4];
	bool is_static = strncmp(flavour, "static", 6) == 0;
	bool pie = strstr(flavour, "pie") && strcmp(flavour, "nopie") != 0;
	struct sa_emu_opts opts = { 0 };
	struct sa_errinfo ei = { 0 };
	struct emu_run r;
	struct dec_result d;
	char name[128], exe[4096], filter[2048];
	char *argv[2];
	int err;

	snprintf(name, sizeof(name), "%s-%s", w->name, flavour);
	snprintf(exe, sizeof(exe), "%s", emu_workload(name));
	if (is_static) {
		char rp[4096];

		ck_assert_ptr_nonnull(realpath(exe, rp));
		static_filter(filter, sizeof(filter), w->syms, rp);
		opts.filter = filter;
	}
	argv[0] = exe;
	argv[1] = NULL;
	/* Half the runs with frequent PSB+: return compression restarts at
	 * each, and libipt must still agree.
	 */
	if (_i % 2)
		opts.psb_period = 256;
	err = emu_run(&r, argv, &opts, NULL, &ei);
	ck_assert_msg(err == 0, "%s: %s", name, ei.msg);
	ck_assert(!r.truth_overflow);
	ck_assert_uint_gt(r.nr_truth, 50);
	ck_assert(!r.st.overflow);

	ipt_decode(r.emu, &d);
	ck_assert_msg(d.errors == 0, "%s: libipt error %s at %#" PRIx64, name,
		      pt_errstr(pt_errcode(d.last_err)), d.err_offset);
	if (d.n != r.nr_truth ||
	    memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) != 0) {
		report_mismatch(name, r.truth, r.nr_truth, d.ips, d.n);
		ck_abort_msg("%s: libipt's sequence differs from the truth",
			     name);
	}

	if (w->counted) {
		unsigned long a = 0, b = 0, taken = 0, not_taken = 0;
		uint64_t jcc, target, bias;
		size_t i;

		ck_assert_msg(sscanf(r.out, w->fmt, &a, &b) == 2,
			      "%s printed '%s'", name, r.out);
		ck_assert(find_jcc(exe, w->counted, &jcc, &target));
		bias = exe_bias(r.emu, exe, pie);
		for (i = 0; i + 1 < d.n; i++) {
			if (d.ips[i] != jcc + bias)
				continue;
			if (d.ips[i + 1] == target + bias)
				taken++;
			else
				not_taken++;
		}
		/* Which side is "taken" depends on how gcc laid the branch
		 * out: the pair must match, and the total.
		 */
		ck_assert_msg((taken == a && not_taken == b) ||
			      (taken == b && not_taken == a),
			      "%s: decoded taken %lu not-taken %lu, the "
			      "workload counted %lu / %lu", name, taken,
			      not_taken, a, b);
		ck_assert_uint_ne(a, b);
	}
	free(d.ips);
	emu_run_free(&r);
}
END_TEST

/* The default filter on a static binary: all of libc is traced, with its
 * syscalls (TIP.PGD/PGE around each), the signal restorer and
 * rt_sigreturn, and instructions capstone 4 cannot decode (AVX-512).
 */
START_TEST(test_static_whole)
{
	struct sa_errinfo ei = { 0 };
	struct emu_run r;
	struct dec_result d;
	char exe[4096];
	char *argv[] = { exe, NULL };
	int err;

	ck_assert_ptr_nonnull(realpath(emu_workload("wl_signals-static"), exe));
	err = emu_run(&r, argv, NULL, NULL, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert_uint_gt(r.st.syscalls, 5);
	ck_assert_uint_gt(r.st.signals, 0);
	ipt_decode(r.emu, &d);
	ck_assert_int_eq(d.errors, 0);
	if (d.n != r.nr_truth ||
	    memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) != 0) {
		report_mismatch("wl_signals-static", r.truth, r.nr_truth,
				d.ips, d.n);
		ck_abort_msg("libipt's sequence differs from the truth");
	}
	free(d.ips);
	emu_run_free(&r);
}
END_TEST

/* A window capped by its AUX size ends in OVF; what was decoded before is
 * the start of the truth, exactly.
 */
START_TEST(test_overflow)
{
	struct sa_emu_opts opts = { .aux_size = 160 };
	struct sa_errinfo ei = { 0 };
	struct emu_run r;
	struct dec_result d;
	char *argv[] = { (char *)emu_workload("wl_branches-pie"), NULL };
	int err;

	err = emu_run(&r, argv, &opts, NULL, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert(r.st.overflow);
	ck_assert_uint_le(r.st.trace_bytes, 160);
	ipt_decode(r.emu, &d);
	ck_assert_int_eq(d.overflows, 1);
	ck_assert_uint_gt(d.n, 0);
	ck_assert_uint_lt(d.n, r.nr_truth);
	ck_assert_msg(memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) == 0,
		      "decoded instructions before the OVF differ from truth");
	{
		/* The project's decoder reports the loss as an overflow gap,
		 * after exactly the instructions libipt gave.
		 */
		struct sa_ipt_config cfg = { 0 };
		struct sa_image *img = sa_image__new(SA_ARCH_X86_64);
		uint64_t insns = 0, gaps = 0;
		struct sa_dec *dec;
		struct sa_elem e;
		size_t i, len;

		ck_assert_ptr_nonnull(img);
		for (i = 0; i < sa_emu_nr_maps(r.emu); i++) {
			const struct sa_emu_map *m = sa_emu_map(r.emu, i);

			ck_assert_int_eq(sa_image_add_elf(img, m->path,
							  m->start, m->len,
							  m->pgoff, NULL, 0,
							  &ei), 0);
		}
		cfg.buf = sa_emu_trace(r.emu, &len);
		cfg.len = len;
		cfg.image = img;
		dec = sa_ipt__new(&cfg, &ei);
		ck_assert_msg(dec, "%s", ei.msg);
		while ((err = sa_dec_next(dec, &e)) > 0) {
			if (e.kind == SA_ELEM_RANGE)
				insns += e.ninsn;
			else if (e.gap_reason == SA_GAP_OVERFLOW)
				gaps++;
		}
		ck_assert_int_eq(err, 0);
		ck_assert_uint_eq(gaps, 1);
		ck_assert_uint_eq(sa_dec_stats(dec)->overflows, 1);
		ck_assert_uint_eq(insns, d.n);
		sa_dec__free(dec);
		sa_image__free(img);
	}
	free(d.ips);
	emu_run_free(&r);
}
END_TEST

/* Bounded windows: the instruction bound holds, and two windows of the
 * same process both decode exactly.
 */
START_TEST(test_windows)
{
	struct sa_emu_opts opts = { .max_insns = 300 };
	struct sa_errinfo ei = { 0 };
	char *argv[] = { (char *)emu_workload("wl_branches-pie"), "30000000",
			 NULL };
	struct emu_run r = { 0 };
	struct sa_emu_stats st;
	struct dec_result d;
	int k, err;
	pid_t pid;

	r.truth = calloc(EMU_MAX_TRUTH, sizeof(*r.truth));
	r.emu = sa_emu__spawn(argv, &ei);
	ck_assert_msg(r.emu, "%s", ei.msg);
	sa_emu_set_insn_fn(r.emu, emu_truth_fn, &r);
	for (k = 0; k < 2; k++) {
		r.nr_truth = 0;
		err = sa_emu_window(r.emu, &opts, NULL, &st, &ei);
		ck_assert_msg(err == 0, "%s", ei.msg);
		ck_assert_uint_eq(st.insns, 300);
		ck_assert_uint_eq(r.nr_truth, 300);
		ipt_decode(r.emu, &d);
		ck_assert_int_eq(d.errors, 0);
		ck_assert_uint_eq(d.n, 300);
		ck_assert(memcmp(d.ips, r.truth, 300 * sizeof(*d.ips)) == 0);
		free(d.ips);
		ck_assert_int_eq(sa_emu_run_free(r.emu, 1, &ei), 0);
	}
	pid = sa_emu_pid(r.emu);
	emu_run_free(&r);
	kill(pid, SIGKILL);
	waitpid(pid, &k, 0);
}
END_TEST

START_TEST(test_bad_command)
{
	struct sa_errinfo ei = { 0 };
	char *argv[] = { "/nonexistent/sa-no-such-command", NULL };

	ck_assert_ptr_null(sa_emu__spawn(argv, &ei));
	ck_assert_int_eq(ei.code, -ENOENT);
	ck_assert_ptr_nonnull(strstr(ei.msg, "sa-no-such-command"));
}
END_TEST

START_TEST(test_bad_pid)
{
	struct sa_errinfo ei = { 0 };
	pid_t pid = fork();
	int status;

	/* A pid that surely does not exist: a child we reaped. */
	if (pid == 0)
		_exit(0);
	waitpid(pid, &status, 0);
	ck_assert_ptr_null(sa_emu__attach(pid, &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(ei.msg, "no process"));

	/* kthreadd (pid 2) is a kernel thread: ptrace refuses it. */
	if (access("/proc/2/status", R_OK) == 0 &&
	    strstr(emu_sh("grep -m1 Name /proc/2/status"), "kthreadd")) {
		sa_errinfo_clear(&ei);
		ck_assert_ptr_null(sa_emu__attach(2, &ei));
		ck_assert_int_eq(ei.code, -SA_ERR_PERM);
		ck_assert_ptr_nonnull(strstr(ei.msg, "cannot ptrace"));
	}
	/* Ourselves. */
	sa_errinfo_clear(&ei);
	ck_assert_ptr_null(sa_emu__attach(getpid(), &ei));
	ck_assert_int_eq(ei.code, -SA_ERR_PERM);
}
END_TEST

START_TEST(test_bad_filter)
{
	struct sa_errinfo ei = { 0 };
	char exe[4096], filter[4200];
	char *argv[] = { exe, NULL };
	struct sa_emu_opts opts = { .filter = filter };
	struct sa_emu *emu;
	int wstatus = 0;

	ck_assert_ptr_nonnull(realpath(emu_workload("wl_branches-pie"), exe));
	snprintf(filter, sizeof(filter), "filter no_such_function @ %s", exe);
	emu = sa_emu__spawn(argv, &ei);
	ck_assert_msg(emu, "%s", ei.msg);
	ck_assert_int_eq(sa_emu_window(emu, &opts, NULL, NULL, &ei),
			 -SA_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(ei.msg, "no_such_function"));
	/* Not a filter at all. */
	opts.filter = "start main";
	ck_assert_int_eq(sa_emu_window(emu, &opts, NULL, NULL, &ei),
			 -SA_ERR_INVAL);
	/* A binary that is not mapped. */
	opts.filter = "filter main @ /bin/true";
	ck_assert_int_eq(sa_emu_window(emu, &opts, NULL, NULL, &ei),
			 -SA_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(ei.msg, "not mapped"));
	/* The target still runs to its end once we let it go. */
	while (sa_emu_run_free(emu, 2000, &ei) == 0)
		;
	ck_assert(sa_emu_exited(emu, &wstatus));
	ck_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
	sa_emu__free(emu);
}
END_TEST

static char proc_state(pid_t pid, int *tracer)
{
	char path[64], line[256];
	char state = '?';
	FILE *f;

	*tracer = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "State: %c", &state);
		sscanf(line, "TracerPid: %d", tracer);
	}
	fclose(f);
	return state;
}

static struct sa_emu *sensor_emu;

static void sensor_on_term(int sig)
{
	(void)sig;
	sa_emu_request_stop(sensor_emu);
}

/* A sensor process that gets SIGTERM (or SIGINT) in the middle of a
 * window leaves its target running, untraced, not stopped.
 */
static void check_signal_leaves_target(char *const target_argv[], int sig)
{
	struct sigaction sa = { 0 };
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	pid_t target, sensor;
	int status, tracer, i, ready[2];
	char st, c;

	target = fork();
	ck_assert_int_ge(target, 0);
	if (target == 0) {
		execv(target_argv[0], target_argv);
		_exit(127);
	}
	/* Not fixed sleeps, too short on a loaded machine: attach once
	 * the target runs its program, signal once the sensor's handler
	 * is in place (else the signal kills it).
	 */
	ck_assert(sa_test_wait_exec(target, target_argv[0]));
	ck_assert_int_eq(pipe(ready), 0);
	sensor = fork();
	ck_assert_int_ge(sensor, 0);
	if (sensor == 0) {
		struct sa_errinfo ei = { 0 };
		struct sa_emu_opts o = { 0 };

		close(ready[0]);
		sensor_emu = sa_emu__attach(target, &ei);
		if (!sensor_emu)
			_exit(3);
		sa.sa_handler = sensor_on_term;
		sigaction(sig, &sa, NULL);
		if (write(ready[1], "r", 1) != 1)
			_exit(5);
		close(ready[1]);
		if (sa_emu_window(sensor_emu, &o, NULL, NULL, &ei))
			_exit(4);
		sa_emu__free(sensor_emu);
		_exit(0);
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	/* well inside the window */
	nanosleep(&ts, NULL);
	ck_assert_int_eq(kill(sensor, sig), 0);
	ck_assert_int_eq(waitpid(sensor, &status, 0), sensor);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "sensor status %#x", status);
	/* The target: alive, not stopped, not traced (waited for up to
	 * 30 s: the detach is done, the target may wait for a CPU).
	 */
	for (i = 0; i < 3000; i++) {
		st = proc_state(target, &tracer);
		if (st != 't' && st != 'T')
			break;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	if (st == 'Z') {
		waitpid(target, &status, 0);
		ck_abort_msg("target exited: status %#x", status);
	}
	ck_assert_msg(st == 'R' || st == 'S', "target state %c", st);
	ck_assert_int_eq(tracer, 0);
	ck_assert_int_eq(waitpid(target, &status, WNOHANG), 0);
	kill(target, SIGKILL);
	waitpid(target, &status, 0);
}

/* Attach as soon as the target's /proc/PID/exe names the program: often
 * inside its execve, before the exec event.  The attach must return
 * (it waited for ever in 4 of 200 tries when the exec event took the
 * interrupt's place); each try in a child with a 10 s alarm.
 */
START_TEST(test_attach_during_exec)
{
	char *argv[] = { (char *)emu_workload("wl_branches-pie"),
			 "4000000000", NULL };
	int k, status;

	for (k = 0; k < 40; k++) {
		pid_t target = fork(), sensor;

		ck_assert_int_ge(target, 0);
		if (target == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
		ck_assert(sa_test_wait_exec(target, argv[0]));
		sensor = fork();
		ck_assert_int_ge(sensor, 0);
		if (sensor == 0) {
			struct sa_errinfo ei = { 0 };
			struct sa_emu *emu;

			alarm(10);
			emu = sa_emu__attach(target, &ei);
			if (!emu)
				_exit(3);
			sa_emu__free(emu);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(sensor, &status, 0), sensor);
		kill(target, SIGKILL);
		waitpid(target, NULL, 0);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "try %d: sensor status %#x%s", k, status,
			      WIFSIGNALED(status) &&
			      WTERMSIG(status) == SIGALRM ?
			      " (the attach hung)" : "");
	}
}
END_TEST

START_TEST(test_sigterm_busy)
{
	/* Busy in the filter: the sensor is single-stepping it. */
	char *argv[] = { (char *)emu_workload("wl_branches-pie"),
			 "4000000000", NULL };

	check_signal_leaves_target(argv, SIGTERM);
}
END_TEST

START_TEST(test_sigint_blocked)
{
	/* Blocked outside the filter (in libc's nanosleep). */
	char *argv[] = { "/bin/sleep", "30", NULL };

	check_signal_leaves_target(argv, SIGINT);
}
END_TEST

/* The project's own decoder (decoders/ipt, libipt's block decoder behind
 * decoder.h) on the emulated trace: the taken / not-taken counts of the
 * counted jcc equal what the workload printed.
 */
START_TEST(test_decoder_counts)
{
	const struct workload *w = &workloads[_i / 4];
	const char *flavour = flavours[_i % 4];
	bool is_static = strncmp(flavour, "static", 6) == 0;
	bool pie = strstr(flavour, "pie") && strcmp(flavour, "nopie") != 0;
	struct sa_emu_opts opts = { 0 };
	struct sa_errinfo ei = { 0 };
	struct sa_ipt_config cfg = { 0 };
	unsigned long a = 0, b = 0, taken = 0, not_taken = 0, unknown = 0;
	uint64_t jcc, target, bias, insns = 0;
	char name[128], exe[4096], filter[2048];
	char *argv[2] = { exe, NULL };
	struct sa_image *img;
	struct sa_dec *dec;
	struct sa_elem e;
	struct emu_run r;
	bool pending = false;
	size_t i, len;
	int err;

	snprintf(name, sizeof(name), "%s-%s", w->name, flavour);
	ck_assert_ptr_nonnull(realpath(emu_workload(name), exe));
	if (is_static) {
		static_filter(filter, sizeof(filter), w->syms, exe);
		opts.filter = filter;
	}
	err = emu_run(&r, argv, &opts, NULL, &ei);
	ck_assert_msg(err == 0, "%s: %s", name, ei.msg);
	ck_assert_msg(sscanf(r.out, w->fmt, &a, &b) == 2, "%s printed '%s'",
		      name, r.out);
	ck_assert(find_jcc(exe, w->counted, &jcc, &target));
	bias = exe_bias(r.emu, exe, pie);

	img = sa_image__new(SA_ARCH_X86_64);
	ck_assert_ptr_nonnull(img);
	for (i = 0; i < sa_emu_nr_maps(r.emu); i++) {
		const struct sa_emu_map *m = sa_emu_map(r.emu, i);

		ck_assert_int_eq(sa_image_add_elf(img, m->path, m->start,
						  m->len, m->pgoff, NULL, 0,
						  &ei), 0);
	}
	cfg.buf = sa_emu_trace(r.emu, &len);
	cfg.len = len;
	cfg.image = img;
	dec = sa_ipt__new(&cfg, &ei);
	ck_assert_msg(dec, "%s", ei.msg);
	while ((err = sa_dec_next(dec, &e)) > 0) {
		if (e.kind != SA_ELEM_RANGE)
			continue;
		insns += e.ninsn;
		if (pending) {
			/* The last range ended on the jcc, outcome unknown:
			 * where the next range starts says.
			 */
			if (e.start == target + bias)
				taken++;
			else
				not_taken++;
			pending = false;
		}
		if (e.last != jcc + bias || e.last_class != SA_IC_COND)
			continue;
		if (e.last_taken == 1)
			taken++;
		else if (e.last_taken == 0)
			not_taken++;
		else
			pending = true;
	}
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(sa_dec_stats(dec)->errors, 0);
	ck_assert_uint_eq(insns, r.nr_truth);
	if (pending)
		unknown++;
	ck_assert_msg((taken == a && not_taken == b) ||
		      (taken == b && not_taken == a),
		      "%s: decoder says taken %lu not-taken %lu (unknown %lu),"
		      " the workload counted %lu / %lu", name, taken,
		      not_taken, unknown, a, b);
	sa_dec__free(dec);
	sa_image__free(img);
	emu_run_free(&r);
}
END_TEST

/* Attach to a process with two threads running the same code: windows on
 * one thread decode exactly; the other is stopped meanwhile and neither
 * is disturbed (the process ends normally with its own output).
 */
/* The worker thread of wl_threads, found in /proc/PID/task: its
 * existence also says that the program runs its own code (exec done).
 * Waited for up to 30 s, however loaded the machine.
 */
static pid_t other_thread(pid_t pid)
{
	char path[64];
	int i;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	for (i = 0; i < 3000; i++) {
		struct dirent *e;
		pid_t tid = -1;
		DIR *d = opendir(path);

		while (d && (e = readdir(d))) {
			long t = strtol(e->d_name, NULL, 10);

			if (t > 0 && t != pid)
				tid = (pid_t)t;
		}
		if (d)
			closedir(d);
		if (tid > 0)
			return tid;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	return -1;
}

START_TEST(test_threads_attach)
{
	char out[4200], buf[256] = "";
	/* Ended by SIGUSR1 once detached; 60 s bounds an orphan. */
	char *argv[] = { (char *)emu_workload("wl_threads-pie"), "60", NULL };
	/* Bounded by instructions, not only time: on a loaded machine a
	 * 20 ms window may see just two or three steps.
	 */
	struct sa_emu_opts opts = { .max_insns = 200, .max_ms = 1000 };
	struct sa_errinfo ei = { 0 };
	struct emu_run r = { 0 };
	struct sa_emu_stats st;
	struct dec_result d;
	pid_t target, tid;
	int k, status, err;
	FILE *f;

	snprintf(out, sizeof(out), "%s/threads.out", sa_test_tmpdir());
	target = fork();
	ck_assert_int_ge(target, 0);
	if (target == 0) {
		if (!freopen(out, "w", stdout))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	r.truth = calloc(EMU_MAX_TRUTH, sizeof(*r.truth));
	/* _i == 1: trace the worker thread, not the main one; either way
	 * once the worker exists (the program runs its own loops).
	 */
	tid = other_thread(target);
	ck_assert_int_gt(tid, 0);
	if (!_i)
		tid = target;
	r.emu = sa_emu__attach(tid, &ei);
	ck_assert_msg(r.emu, "%s", ei.msg);
	ck_assert_int_eq(sa_emu_pid(r.emu), target);
	sa_emu_set_insn_fn(r.emu, emu_truth_fn, &r);
	for (k = 0; k < 3; k++) {
		r.nr_truth = 0;
		err = sa_emu_window(r.emu, &opts, NULL, &st, &ei);
		ck_assert_msg(err == 0, "%s", ei.msg);
		ck_assert(!st.exited);
		ck_assert_uint_gt(st.insns, 10);
		ipt_decode(r.emu, &d);
		ck_assert_int_eq(d.errors, 0);
		ck_assert_uint_eq(d.n, r.nr_truth);
		ck_assert(memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) == 0);
		free(d.ips);
		ck_assert_int_eq(sa_emu_run_free(r.emu, 50, &ei), 0);
	}
	emu_run_free(&r);
	ck_assert_int_eq(kill(target, SIGUSR1), 0);
	ck_assert_int_eq(waitpid(target, &status, 0), target);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "target status %#x", status);
	f = fopen(out, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "threads: ok\n");
}
END_TEST

/* The traced thread ends during a window while the process goes on
 * (wl_threads' worker, told to end after 1000 iterations): the window
 * ends there (thread_exited, not exited), decodes exactly, and another
 * thread of the process (the main one, still spinning in the filter) is
 * traced from then on.  The frozen threads are released only once the
 * filter's pages are executable again: the process ends normally.
 */
START_TEST(test_traced_thread_exits)
{
	char out[4200], buf[256] = "";
	/* The worker starts on a byte from the pipe; SIGUSR1 ends the
	 * main thread (60 s bounds an orphan).
	 */
	char *argv[] = { (char *)emu_workload("wl_threads-pie"), "60",
			 "3000", NULL };
	struct sa_emu_opts opts = { .max_ms = 10000 };
	struct sa_errinfo ei = { 0 };
	struct emu_run r = { 0 };
	struct sa_pd_event ev;
	struct sa_emu_stats st;
	struct dec_result d;
	struct sa_pd *pd;
	char data[4200];
	pid_t target, tid;
	int status, err, nr_aux = 0, go[2];
	FILE *f;

	snprintf(out, sizeof(out), "%s/thread-exit.out", sa_test_tmpdir());
	ck_assert_int_eq(pipe(go), 0);
	target = fork();
	ck_assert_int_ge(target, 0);
	if (target == 0) {
		if (!freopen(out, "w", stdout) || dup2(go[0], 0) < 0)
			_exit(126);
		close(go[0]);
		close(go[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(go[0]);
	r.truth = calloc(EMU_MAX_TRUTH, sizeof(*r.truth));
	tid = other_thread(target);
	ck_assert_int_gt(tid, 0);
	/* The worker waits for its byte: it works only once attached (a
	 * fixed head start would be too short on a loaded machine).
	 */
	r.emu = sa_emu__attach(tid, &ei);
	ck_assert_msg(r.emu, "%s", ei.msg);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	close(go[1]);
	sa_emu_set_insn_fn(r.emu, emu_truth_fn, &r);
	snprintf(data, sizeof(data), "%s/thread-exit.data", sa_test_tmpdir());
	err = sa_emu_window(r.emu, &opts, data, &st, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	fprintf(stderr, "traced thread %d ended: %" PRIu64 " insns, "
		"thread_exited %d, exited %d\n", (int)tid, st.insns,
		st.thread_exited, st.exited);
	ck_assert(st.thread_exited);
	ck_assert(!st.exited);
	ck_assert_int_eq(st.tid, tid);
	/* The window's records name the thread that ran it, not the one
	 * traced from now on.
	 */
	pd = sa_pd__open(data, &ei);
	ck_assert_msg(pd, "%s", ei.msg);
	while ((err = sa_pd_next(pd, &ev, &ei)) > 0) {
		if (ev.type == SA_PD_AUXTRACE) {
			ck_assert_int_eq(ev.auxtrace.tid, tid);
			nr_aux++;
		}
		if (ev.type == PERF_RECORD_ITRACE_START)
			ck_assert_int_eq(ev.itrace_start.tid, tid);
	}
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert_int_eq(nr_aux, 1);
	sa_pd__close(pd);
	ck_assert(!sa_emu_exited(r.emu, NULL));
	/* 1000 iterations of a loop in the filter, and their decisions */
	ck_assert_uint_gt(st.insns, 1000 * 4);
	ipt_decode(r.emu, &d);
	ck_assert_int_eq(d.errors, 0);
	ck_assert_uint_eq(d.n, r.nr_truth);
	ck_assert(memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) == 0);
	free(d.ips);

	/* The next window traces the main thread. */
	r.nr_truth = 0;
	opts.max_insns = 200;
	opts.max_ms = 1000;
	err = sa_emu_window(r.emu, &opts, NULL, &st, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert(!st.exited && !st.thread_exited);
	ck_assert_uint_gt(st.insns, 10);
	ipt_decode(r.emu, &d);
	ck_assert_int_eq(d.errors, 0);
	ck_assert_uint_eq(d.n, r.nr_truth);
	ck_assert(memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) == 0);
	free(d.ips);
	emu_run_free(&r);
	/* Not before: on a wall-clock schedule the main thread could end
	 * before the second window on a loaded machine.
	 */
	ck_assert_int_eq(kill(target, SIGUSR1), 0);
	ck_assert_int_eq(waitpid(target, &status, 0), target);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "target status %#x", status);
	f = fopen(out, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "threads: ok\n");
}
END_TEST

/* Attach to a static program that sleeps in nanosleep inside the filter:
 * windows start and end inside the syscall (the kernel's restart must
 * survive our stops, injections and single-steps), decode exactly, and
 * the program finishes normally with its own counts.
 */
START_TEST(test_attach_in_syscall)
{
	char out[4200], buf[256] = "";
	char *argv[] = { (char *)emu_workload("wl_sleep-static"), "60", NULL };
	struct sa_emu_opts opts = { .max_ms = 30 };
	struct sa_errinfo ei = { 0 };
	struct emu_run r = { 0 };
	struct sa_emu_stats st;
	struct dec_result d;
	unsigned int rounds = 0;
	unsigned long odd = 0;
	uint64_t syscalls = 0;
	pid_t target;
	int k, status, err;
	FILE *f;

	snprintf(out, sizeof(out), "%s/sleep.out", sa_test_tmpdir());
	target = fork();
	ck_assert_int_ge(target, 0);
	if (target == 0) {
		if (!freopen(out, "w", stdout))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	/* the exec done (a fixed sleep may end before it on a loaded
	 * machine: then the image is the test's own and the workload's
	 * code "not mapped"), then time to enter its sleep
	 */
	ck_assert(sa_test_wait_exec(target, argv[0]));
	nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	r.truth = calloc(EMU_MAX_TRUTH, sizeof(*r.truth));
	r.emu = sa_emu__attach(target, &ei);
	ck_assert_msg(r.emu, "%s", ei.msg);
	sa_emu_set_insn_fn(r.emu, emu_truth_fn, &r);
	for (k = 0; k < 4; k++) {
		r.nr_truth = 0;
		err = sa_emu_window(r.emu, &opts, NULL, &st, &ei);
		ck_assert_msg(err == 0, "%s", ei.msg);
		ck_assert(!st.exited);
		syscalls += st.syscalls;
		ipt_decode(r.emu, &d);
		ck_assert_int_eq(d.errors, 0);
		ck_assert_uint_eq(d.n, r.nr_truth);
		ck_assert(memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) == 0);
		free(d.ips);
		ck_assert_int_eq(sa_emu_run_free(r.emu, 10, &ei), 0);
	}
	ck_assert_uint_gt(syscalls, 0);
	emu_run_free(&r);
	ck_assert_int_eq(waitpid(target, &status, 0), target);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "target status %#x", status);
	f = fopen(out, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_int_eq(sscanf(buf, "sleep: rounds=%u odd=%lu", &rounds,
				&odd), 2);
	ck_assert_uint_eq(rounds, 60);
	ck_assert_uint_eq(odd, 30);
}
END_TEST

/* The address right after the syscall of queued_fault_child(). */
extern const char emu_unblock_end[];

/* rt_sigprocmask(SIG_UNBLOCK, @set), returning to emu_unblock_end. */
static __attribute__((noinline)) long unblock_at_label(const sigset_t *set)
{
	register long r10 __asm__("r10") = 8;	/* the kernel's sigset size */
	long ret;

	__asm__ volatile("syscall\n\t"
			 ".globl emu_unblock_end\n\t"
			 ".hidden emu_unblock_end\n"
			 "emu_unblock_end:"
			 : "=a"(ret)
			 : "0"((long)SYS_rt_sigprocmask),
			   "D"((long)SIG_UNBLOCK), "S"(set), "d"(0L),
			   "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

/* Queues itself a SIGSEGV that looks like the fault of an entry into a
 * protected page at emu_unblock_end, blocked; once the tracer is there,
 * unblocks it with a syscall whose return address is emu_unblock_end.
 */
static __attribute__((noreturn)) void queued_fault_child(int rfd)
{
	sigset_t segv;
	siginfo_t si;
	char c;

	sigemptyset(&segv);
	sigaddset(&segv, SIGSEGV);
	sigprocmask(SIG_BLOCK, &segv, NULL);
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGSEGV;
	si.si_code = SEGV_ACCERR;
	si.si_addr = (void *)emu_unblock_end;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid),
		    SIGSEGV, &si))
		_exit(125);
	if (read(rfd, &c, 1) != 1)
		_exit(124);
	_exit(unblock_at_label(&segv) == 0 ? 0 : 123);
}

/* Regression (the wl_sleep SIGSEGV of the kill trials): the window's
 * deadline interrupt can stop the target just after it faulted entering
 * a protected page, the SIGSEGV still queued.  The mprotect injected to
 * restore the protection then meets that SIGSEGV first; it is the
 * sensor's own and must be dropped, not queued again for the program to
 * die of.  Built deterministically: the interrupt is set at a
 * syscall-exit stop, so that the group stop comes before the (queued,
 * just unblocked) SIGSEGV.
 */
START_TEST(test_queued_entry_fault)
{
	struct user_regs_struct regs;
	struct sa_errinfo ei = { 0 };
	struct sa_emu *emu;
	int pfd[2], status, i, err;
	bool at_exit = false;
	pid_t target;

	ck_assert_int_eq(pipe(pfd), 0);
	target = fork();
	ck_assert_int_ge(target, 0);
	if (target == 0) {
		close(pfd[1]);
		queued_fault_child(pfd[0]);
	}
	close(pfd[0]);
	emu = sa_emu__attach(target, &ei);
	ck_assert_msg(emu, "%s", ei.msg);
	ck_assert_int_eq(sa_emu_maps_read(emu), 0);
	ck_assert_msg(sa_emu_filter_resolve(emu, NULL, &ei) == 0, "%s",
		      ei.msg);
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	/* To the exit of the unblocking syscall. */
	for (i = 0; i < 64 && !at_exit; i++) {
		ck_assert_int_eq(ptrace(PTRACE_SYSCALL, target, 0, 0), 0);
		ck_assert_int_eq(waitpid(target, &status, __WALL), target);
		ck_assert_msg(WIFSTOPPED(status), "status %#x", status);
		if (WSTOPSIG(status) != (SIGTRAP | 0x80))
			continue;
		ck_assert_int_eq(ptrace(PTRACE_GETREGS, target, 0, &regs), 0);
		at_exit = regs.orig_rax == SYS_rt_sigprocmask &&
			  regs.rip == (uintptr_t)emu_unblock_end &&
			  regs.rax == 0;
	}
	ck_assert(at_exit);
	/* The interrupt now: the group stop comes before the SIGSEGV. */
	ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, target, 0, 0), 0);
	ck_assert_int_eq(ptrace(PTRACE_CONT, target, 0, 0), 0);
	ck_assert_int_eq(waitpid(target, &status, __WALL), target);
	ck_assert_msg(WIFSTOPPED(status) && status >> 16 == PTRACE_EVENT_STOP,
		      "status %#x", status);
	/* As at a window's end with the pages protected. */
	emu->protected_ = true;
	err = sa_emu_protect(emu, false);
	ck_assert_msg(err == 0, "%s", sa_strerror(err));
	sa_emu__free(emu);
	close(pfd[1]);
	ck_assert_int_eq(waitpid(target, &status, 0), target);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "target status %#x (%s)", status,
		      WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "");
}
END_TEST

/* fork, vfork and a thread of a traced parent, all running the binary's
 * code: the children are left sound (they compute right and exit 0), a
 * new thread ends a window, and every window decodes exactly.
 */
START_TEST(test_fork)
{
	struct sa_emu_opts opts = { .max_ms = 5000 };
	struct sa_errinfo ei = { 0 };
	char exe[4096];
	char *argv[] = { exe, NULL };
	struct emu_run r = { 0 };
	struct sa_emu_stats st = { 0 };
	struct dec_result d;
	int k, err, ended = 0, wstatus = 0, saved, fd;

	ck_assert_ptr_nonnull(realpath(emu_workload("wl_fork-pie"), exe));
	r.truth = calloc(EMU_MAX_TRUTH, sizeof(*r.truth));
	fflush(stdout);
	saved = dup(1);
	fd = open("/dev/null", O_WRONLY);
	dup2(fd, 1);
	r.emu = sa_emu__spawn(argv, &ei);
	dup2(saved, 1);
	close(saved);
	close(fd);
	ck_assert_msg(r.emu, "%s", ei.msg);
	sa_emu_set_insn_fn(r.emu, emu_truth_fn, &r);
	for (k = 0; k < 8 && !st.exited; k++) {
		r.nr_truth = 0;
		err = sa_emu_window(r.emu, &opts, NULL, &st, &ei);
		ck_assert_msg(err == 0, "%s", ei.msg);
		ended += st.new_task;
		ipt_decode(r.emu, &d);
		ck_assert_int_eq(d.errors, 0);
		ck_assert_uint_eq(d.n, r.nr_truth);
		ck_assert(memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) == 0);
		free(d.ips);
	}
	ck_assert(sa_emu_exited(r.emu, &wstatus));
	/* Exit status 0: both forked children, the vfork child and the
	 * thread computed right (wl_fork checks them).
	 */
	ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
		      "status %#x", wstatus);
	/* The thread ended a window; the forks and the vfork did not. */
	ck_assert_int_eq(ended, 1);
	emu_run_free(&r);
}
END_TEST

/* A window that meets execve ends there; the next traces the new image
 * (its own filter: the new main binary) exactly.
 */
START_TEST(test_exec)
{
	char wl[4096];
	char *argv[] = { (char *)NULL, wl, NULL };
	char execer[4096];
	struct sa_errinfo ei = { 0 };
	struct emu_run r = { 0 };
	struct sa_emu_stats st;
	struct dec_result d;
	int err, wstatus = 0, saved, fd;

	snprintf(execer, sizeof(execer), "%s", emu_workload("wl_exec-pie"));
	snprintf(wl, sizeof(wl), "%s", emu_workload("wl_branches-nopie"));
	argv[0] = execer;
	r.truth = calloc(EMU_MAX_TRUTH, sizeof(*r.truth));
	fflush(stdout);
	saved = dup(1);
	fd = open("/dev/null", O_WRONLY);
	dup2(fd, 1);
	r.emu = sa_emu__spawn(argv, &ei);
	dup2(saved, 1);
	close(saved);
	close(fd);
	ck_assert_msg(r.emu, "%s", ei.msg);
	sa_emu_set_insn_fn(r.emu, emu_truth_fn, &r);
	err = sa_emu_window(r.emu, NULL, NULL, &st, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert(st.exec);
	ck_assert(!st.exited);
	/* main() of wl_exec ran up to the call into libc's execv. */
	ck_assert_uint_gt(r.nr_truth, 5);
	ipt_decode(r.emu, &d);
	ck_assert_uint_eq(d.n, r.nr_truth);
	ck_assert(memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) == 0);
	free(d.ips);

	r.nr_truth = 0;
	err = sa_emu_window(r.emu, NULL, NULL, &st, &ei);
	ck_assert_msg(err == 0, "%s", ei.msg);
	ck_assert(st.exited);
	ck_assert_uint_gt(r.nr_truth, 500);
	/* Non-PIE: the new image's code is at its link address. */
	ck_assert_uint_ge(r.truth[0], 0x401000);
	ck_assert_uint_lt(r.truth[0], 0x402000);
	ipt_decode(r.emu, &d);
	ck_assert_int_eq(d.errors, 0);
	ck_assert_uint_eq(d.n, r.nr_truth);
	ck_assert(memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) == 0);
	free(d.ips);
	ck_assert(sa_emu_exited(r.emu, &wstatus));
	ck_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
	emu_run_free(&r);
}
END_TEST

/* MTC, CYC and TSC: the sequence libipt decodes still equals the truth,
 * and libipt's time (pt_insn_time) never goes back, stays within the
 * window's wall-clock start and end, and loses no MTC or CYC.
 */
static const struct {
	const char *name;
	bool mtc, cyc;
	uint8_t mtc_period, cyc_thresh;
	uint32_t psb_period;
} timed[] = {
	{ "wl_branches-pie", true, true, 3, 0, 256 },
	{ "wl_qsort-nopie", true, true, 0, 4, 0 },
	{ "wl_signals-pie", true, false, 6, 0, 256 },
	{ "wl_branches-nopie", false, true, 0, 2, 0 },
	/* MTC periods past 8: TMA's 16 CTC bits do not reach the MTC's. */
	{ "wl_qsort-pie", true, true, 9, 0, 0 },
	{ "wl_signals-nopie", true, true, 15, 1, 256 },
};

START_TEST(test_timing)
{
	const char *name = timed[_i].name;
	struct sa_emu_opts opts = { 0 };
	struct sa_errinfo ei = { 0 };
	struct timespec ts;
	struct emu_run r;
	struct dec_result d;
	char exe[4096];
	char *argv[] = { exe, NULL };
	uint64_t before, after;
	size_t i;
	int err;

	snprintf(exe, sizeof(exe), "%s", emu_workload(name));
	opts.mtc = timed[_i].mtc;
	opts.cyc = timed[_i].cyc;
	opts.mtc_period = timed[_i].mtc_period;
	opts.cyc_thresh = timed[_i].cyc_thresh;
	opts.psb_period = timed[_i].psb_period;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	before = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	err = emu_run(&r, argv, &opts, NULL, &ei);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	after = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	ck_assert_msg(err == 0, "%s: %s", name, ei.msg);
	ck_assert(!r.truth_overflow && !r.st.overflow);
	ck_assert_uint_gt(r.nr_truth, 50);
	/* The window's own bounds, checked against ours. */
	ck_assert_uint_le(before, r.st.start_ns);
	ck_assert_uint_le(r.st.start_ns, r.st.end_ns);
	ck_assert_uint_le(r.st.end_ns, after);

	ipt_decode_timed(r.emu, &d, opts.mtc ? opts.mtc_period : 0);
	ck_assert_msg(d.errors == 0, "%s: libipt error %s at %#" PRIx64, name,
		      pt_errstr(pt_errcode(d.last_err)), d.err_offset);
	if (d.n != r.nr_truth ||
	    memcmp(d.ips, r.truth, d.n * sizeof(*d.ips)) != 0) {
		report_mismatch(name, r.truth, r.nr_truth, d.ips, d.n);
		ck_abort_msg("%s: libipt's sequence differs from the truth",
			     name);
	}
	ck_assert_int_eq(d.time_errors, 0);
	ck_assert_msg(d.lost_mtc == 0 && d.lost_cyc == 0,
		      "%s: libipt lost %u MTC, %u CYC", name, d.lost_mtc,
		      d.lost_cyc);
	for (i = 0; i < d.n; i++) {
		ck_assert_msg(i == 0 || d.times[i] >= d.times[i - 1],
			      "%s: time goes back at instruction %zu: %"
			      PRIu64 " after %" PRIu64, name, i, d.times[i],
			      d.times[i - 1 + !i]);
		ck_assert_msg(d.times[i] >= r.st.start_ns &&
			      d.times[i] <= r.st.end_ns,
			      "%s: instruction %zu at %" PRIu64 ", outside "
			      "the window [%" PRIu64 ", %" PRIu64 "]", name, i,
			      d.times[i], r.st.start_ns, r.st.end_ns);
	}
	/* MTC and CYC move the time on between PSB+ (TSC alone would
	 * leave it at the window's first PSB here).
	 */
	ck_assert_uint_gt(d.times[d.n - 1], d.times[0]);
	free(d.times);
	free(d.ips);
	emu_run_free(&r);
}
END_TEST

/* The encoder alone, on made-up events at made-up times: gaps from 10 ns
 * to 2 s between filter visits (past 256 MTC periods and past TMA's 16
 * CTC bits, for every MTC period), a few conditional branches in each.
 * With CYC at threshold 0 every TIP.PGE and every FUP carries the exact
 * time of its event, so libipt's query decoder must give each enable and
 * each asynchronous disable exactly the time we fed, and every branch a
 * time between the two.
 */
#define ENC_VISITS 24
#define ENC_BRANCHES 5

START_TEST(test_enc_times)
{
	static const uint64_t gaps[] = { 10, 700, 40000, 330000, 2700000,
					 5300000, 21000000, 2000000000 };
	struct sa_emu_enc_cfg cfg = { 0 };
	struct sa_emu_insn jcc = { .size = 2, .iclass = SA_IC_COND };
	uint64_t enter_t[ENC_VISITS], leave_t[ENC_VISITS];
	uint64_t t = 1000000000000ull + 12345, ip, prev = 0;
	struct pt_query_decoder *q;
	struct sa_emu_enc *enc;
	struct pt_config pc;
	size_t len;
	uint8_t *buf;
	int v, b, st, taken;

	buf = malloc(1u << 20);
	ck_assert_ptr_nonnull(buf);
	cfg.buf = buf;
	cfg.size = 1u << 20;
	cfg.mtc = true;
	cfg.cyc = true;
	cfg.mtc_period = (uint8_t)_i;
	cfg.psb_period = 256;
	cfg.tsc0 = t;
	enc = sa_emu_enc__new(&cfg);
	ck_assert_ptr_nonnull(enc);
	for (v = 0; v < ENC_VISITS; v++) {
		t += gaps[v % 8] + (uint64_t)v * 37;
		ip = 0x401000 + (uint64_t)v * 0x100;
		ck_assert_int_eq(sa_emu_enc_time(enc, t), 0);
		ck_assert_int_eq(sa_emu_enc_enter(enc, ip), 0);
		enter_t[v] = t;
		for (b = 0; b < ENC_BRANCHES; b++) {
			t += gaps[(v + b) % 5] / 3 + 1;
			ck_assert_int_eq(sa_emu_enc_time(enc, t), 0);
			ck_assert_int_eq(sa_emu_enc_retire(enc, ip, &jcc,
							   ip + 2, true), 0);
			ip += 2;
		}
		t += 5;
		ck_assert_int_eq(sa_emu_enc_time(enc, t), 0);
		ck_assert_int_eq(sa_emu_enc_async(enc, ip), 0);
		leave_t[v] = t;
	}
	ck_assert(!sa_emu_enc_overflowed(enc));
	len = sa_emu_enc_finish(enc);
	sa_emu_enc__free(enc);

	pt_config_init(&pc);
	pc.begin = buf;
	pc.end = buf + len;
	pc.mtc_freq = (uint8_t)_i;
	pc.cpuid_0x15_eax = EMU_CPUID15_EAX;
	pc.cpuid_0x15_ebx = EMU_CPUID15_EBX;
	pc.nom_freq = EMU_NOM_FREQ;
	q = pt_qry_alloc_decoder(&pc);
	ck_assert_ptr_nonnull(q);
	st = pt_qry_sync_forward(q, NULL);
	ck_assert_int_ge(st, 0);
	for (v = 0; v < ENC_VISITS; v++) {
		struct pt_event ev;
		uint64_t now;
		uint32_t lm, lc;

		/* Timing-only events (cbr) may come first. */
		do {
			ck_assert_msg(st & pts_event_pending,
				      "period %d visit %d: no event", _i, v);
			st = pt_qry_event(q, &ev, sizeof(ev));
			ck_assert_int_ge(st, 0);
		} while (ev.type != ptev_enabled);
		ck_assert_msg(ev.has_tsc && ev.tsc == enter_t[v],
			      "period %d visit %d: enabled at %" PRIu64
			      ", fed %" PRIu64, _i, v, ev.tsc, enter_t[v]);
		ck_assert_uint_eq(ev.lost_mtc + ev.lost_cyc, 0);
		ck_assert_uint_ge(ev.tsc, prev);
		prev = ev.tsc;
		for (b = 0; b < ENC_BRANCHES; b++) {
			/* MODE.Exec with the enable, CBR: no flow events. */
			while (st & pts_event_pending) {
				st = pt_qry_event(q, &ev, sizeof(ev));
				ck_assert_int_ge(st, 0);
				ck_assert(ev.type == ptev_exec_mode ||
					  ev.type == ptev_cbr);
			}
			st = pt_qry_cond_branch(q, &taken);
			ck_assert_int_ge(st, 0);
			ck_assert_int_eq(taken, 0);
			ck_assert_int_ge(pt_qry_time(q, &now, &lm, &lc), 0);
			ck_assert_uint_ge(now, prev);
			ck_assert_uint_le(now, leave_t[v]);
			prev = now;
		}
		do {
			ck_assert(st & pts_event_pending);
			st = pt_qry_event(q, &ev, sizeof(ev));
			ck_assert_int_ge(st, 0);
		} while (ev.type != ptev_async_disabled);
		ck_assert_msg(ev.has_tsc && ev.tsc == leave_t[v],
			      "period %d visit %d: disabled at %" PRIu64
			      ", fed %" PRIu64, _i, v, ev.tsc, leave_t[v]);
		prev = ev.tsc;
	}
	pt_qry_free_decoder(q);
	free(buf);
}
END_TEST

static Suite *emu_suite(void)
{
	Suite *s = suite_create("emu");
	TCase *tc = tcase_create("emu");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_roundtrip, 0,
			    (int)(sizeof(workloads) / sizeof(workloads[0])) *
				    4);
	/* The workloads with a counted branch: the first two, 4 flavours. */
	tcase_add_loop_test(tc, test_decoder_counts, 0, 8);
	tcase_add_test(tc, test_overflow);
	tcase_add_loop_test(tc, test_enc_times, 0, 16);
	tcase_add_loop_test(tc, test_timing, 0,
			    (int)(sizeof(timed) / sizeof(timed[0])));
	tcase_add_test(tc, test_static_whole);
	tcase_add_test(tc, test_windows);
	tcase_add_test(tc, test_bad_command);
	tcase_add_test(tc, test_bad_pid);
	tcase_add_test(tc, test_bad_filter);
	tcase_add_test(tc, test_attach_during_exec);
	tcase_add_test(tc, test_sigterm_busy);
	tcase_add_test(tc, test_sigint_blocked);
	tcase_add_loop_test(tc, test_threads_attach, 0, 2);
	tcase_add_test(tc, test_traced_thread_exits);
	tcase_add_test(tc, test_attach_in_syscall);
	tcase_add_test(tc, test_queued_entry_fault);
	tcase_add_test(tc, test_fork);
	tcase_add_test(tc, test_exec);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	sa_test_require_ptrace();
	return sa_test_run(emu_suite());
}
