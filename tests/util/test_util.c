// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/error.h"
#include "sensor/file.h"
#include "sensor/log.h"
#include "array.h"
#include "gzip.h"
#include "json.h"
#include "testutil.h"

START_TEST(test_strerror)
{
	ck_assert_str_eq(sa_strerror(-SA_ERR_TRUNCATED), "input is truncated");
	ck_assert_str_eq(sa_strerror(SA_ERR_FORMAT),
			 "input is not in the expected format");
	ck_assert_str_eq(sa_strerror(-ENOENT), strerror(ENOENT));
	ck_assert_str_eq(sa_strerror(-SA_ERR_MAX), "unknown error");
	ck_assert_str_eq(sa_strerror(-99999), "unknown error");
}
END_TEST

START_TEST(test_errinfo)
{
	struct sa_errinfo ei;

	sa_errinfo_clear(&ei);
	ck_assert_int_eq(ei.code, 0);
	ck_assert_int_eq(sa_errinfo_set(&ei, -SA_ERR_CORRUPT, 0x40,
					"%s: bad record at %#x", "f", 0x40),
			 -SA_ERR_CORRUPT);
	ck_assert_str_eq(ei.msg, "f: bad record at 0x40");
	ck_assert_uint_eq(ei.offset, 0x40);
	/* A NULL errinfo still passes the code through. */
	ck_assert_int_eq(sa_errinfo_set(NULL, -EIO, 0, "x"), -EIO);
}
END_TEST

static char logged[256];

static int capture_print(enum sa_log_level level, const char *fmt, va_list ap)
{
	return vsnprintf(logged, sizeof(logged), fmt, ap);
}

START_TEST(test_log_levels)
{
	sa_print_fn old = sa_set_print(capture_print);

	logged[0] = '\0';
	sa_info("hidden %d", 1);
	ck_assert_str_eq(logged, "");
	sa_warn("shown %d", 2);
	ck_assert_str_eq(logged, "shown 2");
	sa_set_log_level(SA_LOG_DEBUG);
	sa_debug("dbg %s", "x");
	ck_assert_str_eq(logged, "dbg x");
	sa_set_log_level(SA_LOG_WARN);
	sa_set_print(NULL);
	logged[0] = '\0';
	sa_warn("silenced");
	ck_assert_str_eq(logged, "");
	sa_set_print(old);
}
END_TEST

START_TEST(test_json_escape)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct sa_json j;

	sa_json_init(&j, f, false);
	sa_json_obj_begin(&j, NULL);
	sa_json_str(&j, "s", "a\"b\\c\n\x01");
	sa_json_hex(&j, "addr", 0x401000);
	sa_json_arr_begin(&j, "a");
	sa_json_u64(&j, NULL, 1);
	sa_json_u64(&j, NULL, 2);
	sa_json_arr_end(&j);
	sa_json_dbl(&j, "nan", 0.0 / 0.0);
	sa_json_obj_end(&j);
	fclose(f);
	ck_assert_str_eq(buf, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\","
			      "\"addr\":\"0x401000\",\"a\":[1,2],\"nan\":null}");
	free(buf);
}
END_TEST

START_TEST(test_array_reserve)
{
	int *a = NULL;
	size_t cap = 0, nr;

	for (nr = 0; nr < 10; nr++) {
		ck_assert_int_eq(sa_array_reserve((void **)&a, &cap, nr,
						  sizeof(*a), 4, 10), 0);
		ck_assert_uint_gt(cap, nr);
		a[nr] = (int)nr;
	}
	/* 4, 8, then the cap */
	ck_assert_uint_eq(cap, 10);
	ck_assert_int_eq(sa_array_reserve((void **)&a, &cap, 10, sizeof(*a),
					  4, 10), -SA_ERR_TOOBIG);
	ck_assert_int_eq(a[9], 9);
	free(a);
	a = NULL;
	cap = 0;
	/* a size that overflows is refused, not wrapped */
	ck_assert_int_eq(sa_array_reserve((void **)&a, &cap, 0, SIZE_MAX / 2,
					  4, 100), -ENOMEM);
	ck_assert_ptr_null(a);
}
END_TEST

static unsigned mode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* sa_gzip() against gzip(1), the peer: what it writes, gzip -dc gives
 * back byte for byte (empty, short, and 1 MiB of rows that compress).
 */
START_TEST(test_gzip)
{
	static const size_t sizes[] = { 0, 5, 1 << 20 };
	static const char row[] = "host1\tparse_request\t42\n";
	char *in, *gz, *back, *sentinel = (char *)"untouched";
	size_t i, j, glen, blen;
	FILE *f;

	in = malloc(1 << 20);
	ck_assert_ptr_nonnull(in);
	for (j = 0; j < 1 << 20; j++)
		in[j] = row[j % (sizeof(row) - 1)] + (j / 4096) % 3;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *argv[] = { "gzip", "-dc",
				 (char *)sa_test_path("body.gz"), NULL };

		ck_assert_int_eq(sa_gzip(in, sizes[i], &gz, &glen), 0);
		if (sizes[i] > 4096)
			ck_assert_uint_lt(glen, sizes[i] / 4);
		f = fopen(sa_test_path("body.gz"), "wb");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(gz, 1, glen, f), glen);
		ck_assert_int_eq(fclose(f), 0);
		free(gz);
		ck_assert_int_eq(sa_test_exec(argv, sa_test_path("body"),
					      NULL), 0);
		back = sa_test_slurp(sa_test_path("body"), &blen);
		ck_assert_ptr_nonnull(back);
		ck_assert_uint_eq(blen, sizes[i]);
		ck_assert(!memcmp(back, in, blen));
		free(back);
	}
	/* zlib counts in 32 bits: refused before reading a byte */
	gz = sentinel;
	ck_assert_int_eq(sa_gzip(in, (size_t)1 << 31, &gz, &glen),
			 -SA_ERR_TOOBIG);
	ck_assert_ptr_eq(gz, sentinel);
	free(in);
}
END_TEST

START_TEST(test_private_outputs)
{
	char dir[4096], file[4200], deep[4200];
	FILE *f;
	int fd;

	umask(022);
	snprintf(dir, sizeof(dir), "%s/keep", sa_test_tmpdir());
	ck_assert_int_eq(sa_dir_create(dir), 0);
	ck_assert_uint_eq(mode_of(dir), 0700);
	/* An existing directory is accepted as it is. */
	ck_assert_int_eq(sa_dir_create(dir), 0);

	snprintf(deep, sizeof(deep), "%s/a/b/c", dir);
	ck_assert_int_eq(sa_dir_create_all(deep), 0);
	ck_assert_uint_eq(mode_of(deep), 0700);
	snprintf(deep, sizeof(deep), "%s/a", dir);
	ck_assert_uint_eq(mode_of(deep), 0700);

	snprintf(file, sizeof(file), "%s/out", dir);
	fd = sa_file_create(file, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_uint_eq(mode_of(file), 0600);
	/* A world-readable file that exists is made private. */
	ck_assert_int_eq(chmod(file, 0644), 0);
	f = sa_file_fopen_private(file);
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_uint_eq(mode_of(file), 0600);
	ck_assert_int_eq(sa_dir_create(file), -ENOTDIR);
	/* A device output is written, never chmod'ed. */
	fd = sa_file_create("/dev/null", O_WRONLY);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_uint_eq(mode_of("/dev/null"), 0666);
}
END_TEST

START_TEST(test_input_kinds)
{
	char path[4096];
	int fd;

	alarm(5);	/* a FIFO open that blocks fails the test */
	snprintf(path, sizeof(path), "%s/fifo", sa_test_tmpdir());
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(sa_file_open_input(path, 0), -ESPIPE);
	ck_assert_int_eq(sa_file_check_input(path, 0), -ESPIPE);
	ck_assert_int_eq(sa_file_open_input("/dev/zero", 0), -ESPIPE);
	ck_assert_int_eq(sa_file_open_input("/dev/null", 0), -ESPIPE);
	ck_assert_int_eq(sa_file_open_input(sa_test_tmpdir(), 0), -EISDIR);
	fd = sa_file_open_input(sa_test_tmpdir(), 1);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = sa_file_open_input("/proc/self/exe", 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
	alarm(0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_errinfo);
	tcase_add_test(tc, test_log_levels);
	tcase_add_test(tc, test_json_escape);
	tcase_add_test(tc, test_array_reserve);
	tcase_add_test(tc, test_gzip);
	tcase_add_test(tc, test_private_outputs);
	tcase_add_test(tc, test_input_kinds);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
