// SPDX-License-Identifier: BSD-2-Clause
/*
 * Separate debug files that only a debuginfod server has: a stripped copy
 * of the test program (no symbols, no DWARF, no .gnu_debuglink) whose
 * debug file is in no directory the image looks in, served by a real
 * `debuginfod -F DIR` started here on a loopback port.  With
 * DEBUGINFOD_URLS naming it (and a private DEBUGINFOD_CACHE_PATH), the
 * image's symbols must equal readelf's and its lines addr2line's on the
 * unstripped program; without, the stripped copy has no such symbols.
 *
 * Skips (77) only when the debuginfod package is missing.  Every wait is
 * bounded; the client only ever talks to 127.0.0.1.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sensor/image.h"
#include "testutil.h"
#include "peer.h"
#include "image_check.h"

static const char *prog_nopie;
static pid_t server = -1;
static char url[64];

static void server_stop(void)
{
	int i, st;

	if (server <= 0)
		return;
	kill(server, SIGTERM);
	for (i = 0; i < 500; i++) {	/* 5 s, then SIGKILL */
		if (waitpid(server, &st, WNOHANG) == server) {
			server = -1;
			return;
		}
		usleep(10000);
	}
	kill(server, SIGKILL);
	waitpid(server, &st, 0);
	server = -1;
}

/* Whether the server at @url serves the debug file of @hex: asked with
 * debuginfod-find (the package's own client) and a fresh cache of its
 * own each time (a 404 is cached too), so the image's cache stays empty
 * until the image asks.
 */
static bool served(const char *dir, const char *hex)
{
	char cmd[9000];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/peer-cache' && env "
		 "DEBUGINFOD_URLS=%s DEBUGINFOD_CACHE_PATH='%s/peer-cache' "
		 "DEBUGINFOD_TIMEOUT=5 debuginfod-find debuginfo %s "
		 ">/dev/null 2>&1", dir, url, dir, hex);
	return system(cmd) == 0;
}

/*
 * Starts `debuginfod -F @srv` on a free loopback port and waits (at most
 * about 120 s: a loaded machine scans slowly) until it serves @hex.
 */
static void server_start(const char *dir, const char *srv, const char *hex)
{
	char port[16], db[4300], log[4300];
	int attempt, i, st;

	for (attempt = 0; attempt < 8; attempt++) {
		char *argv[] = { "debuginfod", "-F", (char *)srv, "-p", port,
				 "-d", db, "-g", "0", "-c", "1", NULL };

		snprintf(port, sizeof(port), "%d",
			 20000 + (int)((getpid() * 7 + attempt * 977) %
				       30000));
		snprintf(db, sizeof(db), "%s/db-%d.sqlite", dir, attempt);
		snprintf(log, sizeof(log), "%s/debuginfod-%d.log", dir,
			 attempt);
		snprintf(url, sizeof(url), "http://127.0.0.1:%s", port);
		server = sa_test_spawn(argv, log, log);
		ck_assert_msg(server > 0, "fork: %s", strerror(errno));
		for (i = 0; i < 240; i++) {
			if (waitpid(server, &st, WNOHANG) == server) {
				server = -1;	/* the port was taken? */
				break;
			}
			if (served(dir, hex))
				return;
			usleep(500000);
		}
		if (server > 0) {
			char *text = sa_test_slurp(log, NULL);

			server_stop();
			ck_abort_msg("debuginfod on %s did not serve %s in "
				     "120 s: %s", url, hex, text ? text : "");
		}
	}
	ck_abort_msg("debuginfod: no free port after 8 attempts");
}

START_TEST(t_debuginfod)
{
	char dir[4200], srv[4300], stripped[4300], cmd[20000], hex[64];
	char cache[4300];
	struct sa_image *img;
	struct sa_errinfo ei;
	const struct sa_sym *s;
	uint64_t a = nm_addr(prog_nopie, "classify");
	char *out;

	snprintf(dir, sizeof(dir), "%s/dbgd", sa_test_tmpdir());
	snprintf(srv, sizeof(srv), "%s/srv", dir);
	snprintf(stripped, sizeof(stripped), "%s/bin/prog", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	/* the debug file only in the server's directory */
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s/bin' && objcopy "
		 "--only-keep-debug '%s' '%s/prog.debug' && objcopy "
		 "--strip-all '%s' '%s'", srv, dir, prog_nopie, srv,
		 prog_nopie, stripped);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | sed -n 's/.*Build ID: "
		 "//p'", stripped);
	out = peer_run(cmd);
	snprintf(hex, sizeof(hex), "%.*s", (int)strcspn(out, "\n"), out);
	free(out);
	ck_assert_int_eq(strlen(hex), 40);
	/* the peers agree: no symbols, no DWARF, no debuglink */
	snprintf(cmd, sizeof(cmd), "{ nm '%s' 2>&1 | grep -c ' classify$'; "
		 "readelf -SW '%s' | grep -c -e debug_info -e gnu_debuglink; "
		 "} | tr '\\n' ' '", stripped, stripped);
	out = peer_run(cmd);
	ck_assert_str_eq(out, "0 0 ");
	free(out);

	/* without a server: the stripped copy's own (dynamic) symbols only */
	unsetenv("DEBUGINFOD_URLS");
	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_int_eq(sa_image_load_elf(img, stripped, UINT64_MAX, &ei), 0);
	s = sa_image_symbolize(img, a);
	ck_assert_msg(!s || strcmp(s->name, "classify"),
		      "classify found without a debug file");
	sa_image__free(img);

	server_start(dir, srv, hex);
	setenv("DEBUGINFOD_URLS", url, 1);
	setenv("DEBUGINFOD_CACHE_PATH", cache, 1);
	setenv("DEBUGINFOD_TIMEOUT", "30", 1);
	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_int_eq(sa_image_load_elf(img, stripped, UINT64_MAX, &ei), 0);
	s = sa_image_symbolize(img, a);
	ck_assert_msg(s && !strcmp(s->name, "classify"), "%s",
		      s ? s->name : "no symbol");
	check_symbols(img, prog_nopie, 0);
	check_srclines(img, prog_nopie, "sum_loop", 0);
	check_srclines(img, prog_nopie, "classify", 0);
	sa_image__free(img);
	server_stop();
	/* it came through the client: the file is in the private cache */
	snprintf(cmd, sizeof(cmd), "ls '%s/%s/debuginfo' >/dev/null", cache,
		 hex);
	ck_assert_msg(system(cmd) == 0, "%s/%s/debuginfo missing", cache, hex);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("image-debuginfod");
	TCase *tc = tcase_create("debuginfod");

	if (argc < 2) {
		fprintf(stderr, "usage: %s PROG_NOPIE\n", argv[0]);
		return 2;
	}
	prog_nopie = argv[1];
	if (!sa_test_have("debuginfod") || !sa_test_have("debuginfod-find")) {
		printf("SKIP: debuginfod missing (apt-get install "
		       "debuginfod)\n");
		return 77;
	}
	/* the server is a child: one process, no fork per test */
	setenv("CK_FORK", "no", 1);
	atexit(server_stop);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, t_debuginfod);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
