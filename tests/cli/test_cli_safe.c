// SPDX-License-Identifier: BSD-2-Clause
/*
 * Safe on a production host: outputs are private (0600 files, 0700
 * directories) whatever the umask, inputs that are not regular files are
 * refused instead of hanging, and a snapshot cannot name files outside its
 * directory.  Every run goes through timeout(1), and the test arms an
 * alarm, so a regression that hangs fails instead of stalling the suite.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "testutil.h"

/* Runs the tool under timeout(1) (124 when it hangs); returns the exit
 * status and the captured stderr.
 */
static int run_limit(char **err_text, char *const args[], const char *secs)
{
	static char *argv[600];
	const char *err = sa_test_path("stderr.txt");
	const char *t = getenv("SA_TOOL");
	int i, st;

	ck_assert_ptr_nonnull(t);
	argv[0] = "timeout";
	argv[1] = (char *)secs;
	argv[2] = (char *)t;
	for (i = 0; args[i] && i < 590; i++)
		argv[i + 3] = args[i];
	argv[i + 3] = NULL;
	alarm((unsigned int)strtoul(secs, NULL, 10) + 25);
	st = sa_test_exec(argv, sa_test_path("stdout.txt"), err);
	alarm(0);
	*err_text = sa_test_slurp(err, NULL);
	ck_assert_ptr_nonnull(*err_text);
	ck_assert_msg(st != 124, "hung (killed by timeout), stderr: %s",
		      *err_text);
	ck_assert_msg(st >= 0 && st < 128, "crashed: status %d, stderr: %s",
		      st, *err_text);
	return st;
}

static int run_many(char **err_text, char *const args[])
{
	return run_limit(err_text, args, "5");
}

static int run(char **err_text, char *const args[])
{
	return run_many(err_text, args);
}

static unsigned mode_of(const char *path)
{
	struct stat st;

	ck_assert_msg(!lstat(path, &st), "%s: %s", path, strerror(errno));
	return st.st_mode & 07777;
}

/* A perf.data window recorded by the emulated sensor. */
static const char *window(void)
{
	static char path[4096];
	char *err;
	char *args[] = { "record", "--emulate", "-o", path, "--",
			 getenv("SA_WL_BRANCHES"), NULL };

	snprintf(path, sizeof(path), "%s", sa_test_path("w.data"));
	ck_assert_ptr_nonnull(args[5]);
	/* the input of the tests, not under test: single-stepping on a
	 * loaded machine may take long
	 */
	ck_assert_msg(run_limit(&err, args, "120") == 0, "record: %s", err);
	free(err);
	return path;
}

START_TEST(test_output_modes)
{
	const char *w, *json = sa_test_path("o.json"),
		   *db = sa_test_path("b.db"), *old = sa_test_path("old.json");
	char *err;
	FILE *f;

	umask(022);
	w = window();
	ck_assert_uint_eq(mode_of(w), 0600);

	char *dec[] = { "decode", "-f", "json", "-o", (char *)json,
			(char *)w, NULL };
	ck_assert_msg(run(&err, dec) == 0, "%s", err);
	free(err);
	ck_assert_uint_eq(mode_of(json), 0600);

	/* An existing, world-readable output is made private too. */
	f = fopen(old, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(chmod(old, 0644), 0);
	char *dec2[] = { "decode", "-o", (char *)old, (char *)w, NULL };
	ck_assert_msg(run(&err, dec2) == 0, "%s", err);
	free(err);
	ck_assert_uint_eq(mode_of(old), 0600);

	char *add[] = { "baseline", "add", "--db", (char *)db, (char *)w,
			NULL };
	ck_assert_msg(run(&err, add) == 0, "%s", err);
	free(err);
	ck_assert_uint_eq(mode_of(db), 0600);
}
END_TEST

static void copy_file(const char *from, const char *to, mode_t mode)
{
	size_t len;
	char *buf = sa_test_slurp(from, &len);
	FILE *f = fopen(to, "wb");

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
	free(buf);
	ck_assert_int_eq(chmod(to, mode), 0);
}

/* capture --bundle of a target whose binary is 0711: the bundle, its
 * directories and the copy of the binary are private.
 */
START_TEST(test_bundle_modes)
{
	char bin[4096], bundle[4096], data[4096], p[8192];
	char *err;
	char pidbuf[32];
	char *args[] = { "capture", "--pid", pidbuf, "--backend", "emulate",
			 "-o", data, "--bundle", bundle, NULL };
	const char *wl = getenv("SA_WL_SLEEP");
	pid_t pid;
	int st;

	ck_assert_ptr_nonnull(wl);
	umask(022);
	snprintf(bin, sizeof(bin), "%s", sa_test_path("wl711"));
	snprintf(bundle, sizeof(bundle), "%s", sa_test_path("bundle"));
	snprintf(data, sizeof(data), "%s", sa_test_path("c.data"));
	copy_file(wl, bin, 0711);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		execl(bin, bin, "1000000", (char *)NULL);
		_exit(127);
	}
	ck_assert(sa_test_wait_exec(pid, bin));
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	st = run(&err, args);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_msg(st == 0, "capture: %s", err);
	free(err);
	ck_assert_uint_eq(mode_of(bundle), 0700);
	snprintf(p, sizeof(p), "%s/MANIFEST", bundle);
	ck_assert_uint_eq(mode_of(p), 0600);
	snprintf(p, sizeof(p), "%s/c.data", bundle);
	ck_assert_uint_eq(mode_of(p), 0600);
	snprintf(p, sizeof(p), "%s/symfs", bundle);
	ck_assert_uint_eq(mode_of(p), 0700);
	snprintf(p, sizeof(p), "%s/symfs%s", bundle, sa_test_tmpdir());
	ck_assert_uint_eq(mode_of(p), 0700);
	snprintf(p, sizeof(p), "%s/symfs%s", bundle, bin);
	ck_assert_uint_eq(mode_of(p), 0600);
}
END_TEST

/* The live loop: --keep-windows DIR is created 0700 with its parents,
 * the windows in it and the --learn-db baseline are 0600.
 */
START_TEST(test_keep_windows_modes)
{
	char keep[4096], top[4096], db[4096], p[8192];
	char *err;
	char pidbuf[32];
	char *args[] = { "--pid", pidbuf, "--backend", "emulate",
			 "--max-windows", "2", "--learn", "1",
			 "--cpu-budget", "1000", "--period-ms", "50",
			 "--window-ms", "20", "--learn-db", db,
			 "--keep-windows", keep, NULL };
	const char *wl = getenv("SA_WL_SLEEP");
	pid_t pid;
	int st;

	ck_assert_ptr_nonnull(wl);
	umask(022);
	snprintf(top, sizeof(top), "%s", sa_test_path("kw"));
	snprintf(keep, sizeof(keep), "%s/sub", top);
	snprintf(db, sizeof(db), "%s", sa_test_path("learn.db"));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		execl(wl, wl, "1000000", (char *)NULL);
		_exit(127);
	}
	ck_assert(sa_test_wait_exec(pid, wl));
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	st = run(&err, args);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_msg(st == 0, "live: %s", err);
	free(err);
	ck_assert_uint_eq(mode_of(top), 0700);
	ck_assert_uint_eq(mode_of(keep), 0700);
	snprintf(p, sizeof(p), "%s/window-0.data", keep);
	ck_assert_uint_eq(mode_of(p), 0600);
	ck_assert_uint_eq(mode_of(db), 0600);
}
END_TEST

/* decode INPUT and decode WINDOW -b INPUT with INPUT not a regular file. */
static void refuse_input(const char *name)
{
	char input[4096], w[4096];
	char *err;
	char *dec[] = { "decode", (char *)input, NULL };
	char *bin[] = { "decode", "-b", (char *)input, (char *)w, NULL };

	snprintf(input, sizeof(input), "%s", name);
	snprintf(w, sizeof(w), "%s", sa_test_path("w.data"));

	ck_assert_int_eq(run(&err, dec), 1);
	ck_assert_msg(strstr(err, input) && strstr(err, "not a regular file"),
		      "decode %s: %s", input, err);
	free(err);
	ck_assert_int_eq(run(&err, bin), 1);
	ck_assert_msg(strstr(err, input) && strstr(err, "not a regular file"),
		      "decode -b %s: %s", input, err);
	free(err);
}

START_TEST(test_fifo_input)
{
	const char *fifo = sa_test_path("fifo");

	window();
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	refuse_input(fifo);
}
END_TEST

START_TEST(test_socket_input)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *sock = sa_test_path("sock");
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	window();
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(sock), sizeof(sun.sun_path));
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	refuse_input(sock);
	close(fd);
}
END_TEST

START_TEST(test_device_input)
{
	window();
	refuse_input("/dev/zero");
	refuse_input("/dev/null");
}
END_TEST

static void put(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* A snapshot directory whose files are all present and plausible. */
static const char *snapshot(const char *name, const char *dump_file,
			    const char *buffer_file)
{
	static char dir[4096];
	char text[512];

	snprintf(dir, sizeof(dir), "%s", sa_test_path(name));
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	put(dir, "snapshot.ini",
	    "[snapshot]\nversion=1.0\n[device_list]\ndevice0=cpu_0.ini\n"
	    "[trace]\nmetadata=trace.ini\n");
	snprintf(text, sizeof(text),
		 "[device]\nname=cpu_0\nclass=core\ntype=ARM-AA64\n"
		 "[dump1]\nfile=%s\naddress=0x1000\n", dump_file);
	put(dir, "cpu_0.ini", text);
	snprintf(text, sizeof(text),
		 "[trace_buffers]\nbuffers=buffer0\n[buffer0]\nname=ETB_0\n"
		 "file=%s\nformat=coresight\n", buffer_file);
	put(dir, "trace.ini", text);
	put(dir, "mem.bin", "\x1f\x20\x03\xd5");
	put(dir, "trace.bin", "");
	return dir;
}

static void refuse_snapshot(const char *dir, const char *what)
{
	char *err;
	char *dec[] = { "decode", (char *)dir, NULL };

	ck_assert_int_eq(run(&err, dec), 1);
	ck_assert_msg(strstr(err, what), "%s: %s", dir, err);
	free(err);
}

START_TEST(test_snapshot_fifo_ini)
{
	char path[4096];
	const char *dir = snapshot("s-fifo-trace", "mem.bin", "trace.bin");

	snprintf(path, sizeof(path), "%s/trace.ini", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	refuse_snapshot(dir, "trace.ini: not a regular file");

	dir = snapshot("s-fifo-snap", "mem.bin", "trace.bin");
	snprintf(path, sizeof(path), "%s/snapshot.ini", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	refuse_snapshot(dir, "snapshot.ini: not a regular file");
}
END_TEST

START_TEST(test_snapshot_escape)
{
	const char *dir;

	dir = snapshot("s-dotdot", "../../../../etc/passwd", "trace.bin");
	refuse_snapshot(dir, "../../../../etc/passwd is outside the snapshot");
	dir = snapshot("s-abs", "mem.bin", "/etc/passwd");
	refuse_snapshot(dir, "/etc/passwd is outside the snapshot");
	dir = snapshot("s-mid", "sub/../../x", "trace.bin");
	refuse_snapshot(dir, "sub/../../x is outside the snapshot");
}
END_TEST

/* A filter that does not resolve stops record before the command runs:
 * the command would create a marker file.
 */
START_TEST(test_record_bad_filter)
{
	char sh[4096], filter[4200], script[4200], marker[4096];
	char *err;
	char *args[] = { "record", "--emulate", "-o",
			 (char *)sa_test_path("r.data"), "--filter", filter,
			 "--", sh, "-c", script, NULL };
	int i;

	ck_assert_ptr_nonnull(realpath("/bin/sh", sh));
	snprintf(marker, sizeof(marker), "%s", sa_test_path("marker"));
	snprintf(filter, sizeof(filter), "filter sa_nosuch_symbol @ %s", sh);
	snprintf(script, sizeof(script), "touch '%s'", marker);
	ck_assert_int_eq(run(&err, args), 1);
	ck_assert_msg(strstr(err, "no symbol 'sa_nosuch_symbol'"), "%s", err);
	free(err);
	/* A command left running untraced would touch the marker soon. */
	for (i = 0; i < 10; i++) {
		ck_assert_msg(access(marker, F_OK), "the command ran");
		usleep(100000);
	}
}
END_TEST

/* A limit says it is one: 257 --image options. */
START_TEST(test_image_limit)
{
	static char *args[600];
	char *err;
	int i = 0;

	args[i++] = "decode";
	args[i++] = "--pt";
	args[i++] = "/dev/null";
	while (i < 2 + 3 + 2 * 257) {
		args[i++] = "--image";
		args[i++] = "/bin/sh@0x1000";
	}
	args[i] = NULL;
	ck_assert_int_eq(run_many(&err, args), 2);
	ck_assert_msg(strstr(err, "more than 256 --image options (the limit)"),
		      "%s", err);
	free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli-safe");
	TCase *tc = tcase_create("production");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_output_modes);
	tcase_add_test(tc, test_bundle_modes);
	tcase_add_test(tc, test_keep_windows_modes);
	tcase_add_test(tc, test_fifo_input);
	tcase_add_test(tc, test_socket_input);
	tcase_add_test(tc, test_device_input);
	tcase_add_test(tc, test_snapshot_fifo_ini);
	tcase_add_test(tc, test_snapshot_escape);
	tcase_add_test(tc, test_record_bad_filter);
	tcase_add_test(tc, test_image_limit);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
