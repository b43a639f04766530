// SPDX-License-Identifier: BSD-2-Clause
/*
 * The image suite: sections and reads, ELF loading (non-PIE, PIE with a
 * bias, static), symbols against readelf, file:line against addr2line,
 * build-id checks and bad input.  The test programs are built by meson
 * and passed as arguments: PIE, non-PIE, static.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>
#include <elf.h>

#include "sensor/image.h"
#include "sensor/log.h"
#include "testutil.h"
#include "peer.h"
#include "image_check.h"

static const char *prog_pie, *prog_nopie, *prog_static;

/* ---- sections and reads ---- */

START_TEST(t_buffer)
{
	struct sa_image *img = sa_image__new(SA_ARCH_X86_64);
	uint8_t a[64], b[16], out[128];
	int i;

	ck_assert(img);
	for (i = 0; i < 64; i++)
		a[i] = i;
	memset(b, 0xee, sizeof(b));
	ck_assert_int_eq(sa_image_add_buffer(img, a, sizeof(a), 0x1000), 0);
	ck_assert_int_eq(sa_image_read(img, 0x1000, out, 8), 8);
	ck_assert_int_eq(out[7], 7);
	/* stops at the end of the section */
	ck_assert_int_eq(sa_image_read(img, 0x1038, out, 100), 8);
	ck_assert_int_eq(out[0], 0x38);
	ck_assert_int_eq(sa_image_read(img, 0x1040, out, 1), -SA_ERR_NOMAP);
	ck_assert_int_eq(sa_image_read(img, 0xfff, out, 1), -SA_ERR_NOMAP);
	/* a newer mapping replaces the middle of an older one */
	ck_assert_int_eq(sa_image_add_buffer(img, b, sizeof(b), 0x1010), 0);
	ck_assert_int_eq(sa_image_read(img, 0x1000, out, 100), 16);
	ck_assert_int_eq(out[15], 15);
	ck_assert_int_eq(sa_image_read(img, 0x1010, out, 100), 16);
	ck_assert_int_eq(out[0], 0xee);
	ck_assert_int_eq(sa_image_read(img, 0x1020, out, 100), 32);
	ck_assert_int_eq(out[0], 0x20);
	ck_assert_ptr_null(sa_image_symbolize(img, 0x1000));
	ck_assert_ptr_null(sa_image_dso(img, 0x1000));
	sa_image__free(img);
	sa_image__free(NULL);
}
END_TEST

START_TEST(t_raw)
{
	char path[4200];
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	uint8_t data[256], out[256];
	FILE *f;
	int i;

	for (i = 0; i < 256; i++)
		data[i] = 255 - i;
	snprintf(path, sizeof(path), "%s/raw.bin", sa_test_tmpdir());
	f = fopen(path, "wb");
	ck_assert(f && fwrite(data, 1, 256, f) == 256 && !fclose(f));
	ck_assert_int_eq(sa_image_add_raw(img, path, 16, 32, 0x400000, &ei),
			 0);
	ck_assert_int_eq(sa_image_read(img, 0x400000, out, 256), 32);
	ck_assert_int_eq(memcmp(out, data + 16, 32), 0);
	ck_assert_int_eq(sa_image_add_raw(img, path, 0, 0, 0x500000, &ei), 0);
	ck_assert_int_eq(sa_image_read(img, 0x500000, out, 256), 256);
	ck_assert_int_eq(memcmp(out, data, 256), 0);
	/* past the end of the file */
	ck_assert_int_eq(sa_image_add_raw(img, path, 200, 100, 0, &ei),
			 -SA_ERR_INVAL);
	ck_assert(strstr(ei.msg, "raw.bin"));
	ck_assert_int_eq(sa_image_add_raw(img, "/nonexistent/x.bin", 0, 0, 0,
					  &ei), -ENOENT);
	ck_assert(strstr(ei.msg, "/nonexistent/x.bin"));
	sa_image__free(img);
}
END_TEST

/* ---- ELF ---- */

/* Bytes of @path at file offset @off. */
static void file_bytes(const char *path, uint64_t off, void *buf, size_t n)
{
	int fd = open(path, O_RDONLY);

	ck_assert(fd >= 0);
	ck_assert_int_eq(pread(fd, buf, n, off), (ssize_t)n);
	close(fd);
}

/* .text of @path from readelf. */
static struct peer_sec text_of(const char *path)
{
	char cmd[600], *out, *p;
	struct peer_sec s = { 0 };

	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' | grep ' .text '",
		 path);
	out = peer_run(cmd);
	p = strstr(out, "PROGBITS");
	ck_assert(p);
	ck_assert(sscanf(p + 8, " %" SCNx64 " %" SCNx64 " %" SCNx64, &s.addr,
			 &s.off, &s.size) == 3);
	free(out);
	return s;
}

START_TEST(t_load_nopie)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	struct peer_sec text = text_of(prog_nopie);
	uint8_t want[64], got[64];
	const struct sa_sym *s;
	const struct sa_dso *d;
	uint64_t main_addr = nm_addr(prog_nopie, "main");

	ck_assert_int_eq(sa_image_load_elf(img, prog_nopie, UINT64_MAX, &ei),
			 0);
	ck_assert_int_eq(sa_image_arch(img), SA_ARCH_X86_64);
	file_bytes(prog_nopie, text.off, want, sizeof(want));
	ck_assert_int_eq(sa_image_read(img, text.addr, got, sizeof(got)), 64);
	ck_assert_int_eq(memcmp(want, got, 64), 0);
	s = sa_image_symbolize(img, main_addr + 1);
	ck_assert(s && !strcmp(s->name, "main") && s->start == main_addr);
	d = sa_image_dso(img, main_addr);
	ck_assert(d && !d->pie && d->bias == 0 && d->build_id_len == 20);
	ck_assert_ptr_eq(sa_image_dso_at(img, 0), d);
	ck_assert_ptr_null(sa_image_dso_at(img, 1));
	s = sa_image_find_symbol(img, "classify");
	ck_assert(s && s->start == nm_addr(prog_nopie, "classify"));
	check_symbols(img, prog_nopie, 0);
	check_srclines(img, prog_nopie, "sum_loop", 0);
	check_srclines(img, prog_nopie, "dispatch", 0);
	sa_image__free(img);
}
END_TEST

/* The PT_LOAD with flags @flg ("R E") of @path from readelf -lW. */
static void load_seg(const char *path, const char *flg, uint64_t *off,
		     uint64_t *vaddr, uint64_t *filesz)
{
	char cmd[700], *out;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s' | grep 'LOAD.*%s'",
		 path, flg);
	out = peer_run(cmd);
	ck_assert(sscanf(out, " LOAD 0x%" SCNx64 " 0x%" SCNx64 " 0x%*x 0x%"
			 SCNx64, off, vaddr, filesz) == 3);
	free(out);
}

START_TEST(t_pie_bias)
{
	const uint64_t base = 0x555555554000ULL;
	struct sa_image *img = sa_image__new(SA_ARCH_X86_64);
	struct sa_errinfo ei;
	struct peer_sec text = text_of(prog_pie);
	uint64_t off, vaddr, fsz, main_addr = nm_addr(prog_pie, "main");
	uint8_t want[32], got[32];
	const struct sa_sym *s;
	const struct sa_dso *d;
	struct stat st;

	/* as perf's MMAP2 for the text: only the executable segment */
	load_seg(prog_pie, "R E", &off, &vaddr, &fsz);
	ck_assert_int_eq(off & 0xfff, 0);
	ck_assert_int_eq(sa_image_add_elf(img, prog_pie, base + vaddr,
					  (fsz + 0xfff) & ~0xfffULL, off,
					  NULL, 0, &ei), 0);
	d = sa_image_dso(img, base + main_addr);
	ck_assert(d && d->pie);
	ck_assert_uint_eq(d->bias, base);
	s = sa_image_symbolize(img, base + main_addr);
	ck_assert(s && !strcmp(s->name, "main"));
	file_bytes(prog_pie, text.off, want, sizeof(want));
	ck_assert_int_eq(sa_image_read(img, base + text.addr, got, 32), 32);
	ck_assert_int_eq(memcmp(want, got, 32), 0);
	/* ELF header page not mapped by this record */
	ck_assert_int_eq(sa_image_read(img, base, got, 1), -SA_ERR_NOMAP);
	/* a second MMAP2 of the same file (the whole of it) shares the dso */
	ck_assert(stat(prog_pie, &st) == 0);
	ck_assert_int_eq(sa_image_add_elf(img, prog_pie, base, 0x1000, 0,
					  NULL, 0, &ei), 0);
	ck_assert_ptr_null(sa_image_dso_at(img, 1));
	ck_assert_int_eq(sa_image_read(img, base, got, 4), 4);
	ck_assert_int_eq(memcmp(got, "\177ELF", 4), 0);
	check_symbols(img, prog_pie, base);
	check_srclines(img, prog_pie, "classify", base);
	sa_image__free(img);

	/* --binary PATH@ADDR: ET_DYN at the address given, 0 without one */
	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_int_eq(sa_image_load_elf(img, prog_pie, 0x7f0000000000ULL,
					   &ei), 0);
	s = sa_image_symbolize(img, 0x7f0000000000ULL + main_addr);
	ck_assert(s && !strcmp(s->name, "main"));
	sa_image__free(img);
	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_int_eq(sa_image_load_elf(img, prog_pie, UINT64_MAX, &ei), 0);
	s = sa_image_symbolize(img, main_addr);
	ck_assert(s && !strcmp(s->name, "main"));
	sa_image__free(img);
}
END_TEST

START_TEST(t_static)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;

	ck_assert_int_eq(sa_image_load_elf(img, prog_static, UINT64_MAX, &ei),
			 0);
	check_symbols(img, prog_static, 0);
	check_srclines(img, prog_static, "dispatch", 0);
	sa_image__free(img);
}
END_TEST

/* The alias rule: two global sized symbols at one address, perf keeps
 * the longer name (choose_best_symbol); a global beats a local.
 */
START_TEST(t_sym_choice)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	const struct sa_sym *s;

	ck_assert_int_eq(sa_image_load_elf(img, prog_nopie, UINT64_MAX, &ei),
			 0);
	s = sa_image_symbolize(img, nm_addr(prog_nopie, "sum_loop"));
	ck_assert(s && !strcmp(s->name, "sum_loop_alias"));
	sa_image__free(img);
}
END_TEST

/* hase's loopy: asm labels _start, again, exit are symbols for perf. */
START_TEST(t_loopy_labels)
{
	const char *p = sa_test_shared("traces/intel-pt/hase/loopy/loopy");
	struct sa_image *img;
	struct sa_errinfo ei;
	const char *names[] = { "_start", "again", "exit" };

	if (!p)
		return;	/* the image-traces suite reports the skip */
	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_int_eq(sa_image_load_elf(img, p, UINT64_MAX, &ei), 0);
	for (int i = 0; i < 3; i++) {
		uint64_t a = nm_addr(p, names[i]);
		const struct sa_sym *s = sa_image_symbolize(img, a);

		ck_assert_msg(s && !strcmp(s->name, names[i]) &&
			      s->size == 0, "loopy: %s", names[i]);
	}
	check_symbols(img, p, 0);
	sa_image__free(img);
}
END_TEST

/* ---- bad input ---- */

static char warn_buf[2048];

static int capture_print(enum sa_log_level level, const char *fmt,
			 va_list ap)
{
	size_t n = strlen(warn_buf);

	if (level == SA_LOG_WARN && n < sizeof(warn_buf) - 1)
		vsnprintf(warn_buf + n, sizeof(warn_buf) - n, fmt, ap);
	return 0;
}

START_TEST(t_missing)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	char dir[4200];

	ck_assert_int_eq(sa_image_add_elf(img, "/no/such/binary", 0x400000,
					  0x1000, 0, NULL, 0, &ei), -ENOENT);
	ck_assert(strstr(ei.msg, "/no/such/binary"));
	ck_assert(strstr(ei.msg, "--symfs") && strstr(ei.msg, "--binary"));
	ck_assert_int_eq(sa_image_load_elf(img, "/no/such/binary", 0, &ei),
			 -ENOENT);
	snprintf(dir, sizeof(dir), "%s", sa_test_tmpdir());
	ck_assert_int_eq(sa_image_set_symfs(img, dir), 0);
	ck_assert_int_eq(sa_image_add_elf(img, "/no/such/binary", 0x400000,
					  0x1000, 0, NULL, 0, &ei), -ENOENT);
	ck_assert(strstr(ei.msg, dir));
	ck_assert_int_eq(sa_image_read(img, 0x400000, dir, 1), -SA_ERR_NOMAP);
	sa_image__free(img);
}
END_TEST

START_TEST(t_symfs)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	char dir[4200], cmd[9000];
	const struct sa_dso *d;

	snprintf(dir, sizeof(dir), "%s/symfs", sa_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/opt/app' && cp '%s' "
		 "'%s/opt/app/prog'", dir, prog_nopie, dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(sa_image_set_symfs(img, dir), 0);
	ck_assert_int_eq(sa_image_add_elf(img, "/opt/app/prog", 0x400000,
					  0x1000, 0, NULL, 0, &ei), 0);
	d = sa_image_dso_at(img, 0);
	ck_assert(d && !strcmp(d->path, "/opt/app/prog"));
	ck_assert(strstr(d->file, "symfs/opt/app/prog"));
	sa_image__free(img);
}
END_TEST

START_TEST(t_not_elf)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/notelf.txt", sa_test_tmpdir());
	f = fopen(path, "w");
	ck_assert(f);
	fputs("#!/bin/sh\necho this is not an ELF file\n", f);
	fclose(f);
	ck_assert_int_eq(sa_image_load_elf(img, path, 0, &ei), -SA_ERR_FORMAT);
	ck_assert(strstr(ei.msg, "notelf.txt") && strstr(ei.msg, "ELF"));
	ck_assert_int_eq(sa_image_add_elf(img, path, 0, 100, 0, NULL, 0, &ei),
			 -SA_ERR_FORMAT);
	/* an empty file and a directory */
	f = fopen(path, "w");
	fclose(f);
	ck_assert_int_eq(sa_image_load_elf(img, path, 0, &ei), -SA_ERR_FORMAT);
	ck_assert_int_eq(sa_image_load_elf(img, sa_test_tmpdir(), 0, &ei),
			 -SA_ERR_FORMAT);
	sa_image__free(img);
}
END_TEST

/* Every prefix of a real binary: an error or a usable image, no crash. */
START_TEST(t_truncated)
{
	char path[4200];
	struct stat st;
	uint8_t *data;
	int fd, ok = 0, bad = 0;
	sa_print_fn old = sa_set_print(NULL);
	uint64_t main_addr = nm_addr(prog_nopie, "main");

	ck_assert(stat(prog_nopie, &st) == 0);
	data = malloc(st.st_size);
	file_bytes(prog_nopie, 0, data, st.st_size);
	snprintf(path, sizeof(path), "%s/trunc.elf", sa_test_tmpdir());
	for (off_t len = 0; len < st.st_size;
	     len += len < 256 ? 1 : len < 8192 ? 61 : 997) {
		struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
		struct sa_errinfo ei;
		uint8_t b[16];
		int err;

		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ck_assert(fd >= 0 && write(fd, data, len) == len);
		close(fd);
		err = sa_image_load_elf(img, path, UINT64_MAX, &ei);
		if (err) {
			ck_assert_msg(err == -SA_ERR_FORMAT ||
				      err == -SA_ERR_TRUNCATED,
				      "len %lld: %d %s", (long long)len, err,
				      ei.msg);
			ck_assert(strstr(ei.msg, "trunc.elf"));
			bad++;
		} else {
			/* whatever is mapped reads, and nothing more */
			const struct sa_sym *s;

			for (uint64_t a = 0x400000; a < 0x420000; a += 64)
				(void)sa_image_read(img, a, b, sizeof(b));
			s = sa_image_symbolize(img, main_addr);
			ck_assert(!s || !strcmp(s->name, "main"));
			ok++;
		}
		err = sa_image_add_elf(img, path, 0x400000, 0x1000, 0, NULL, 0,
				       &ei);
		ck_assert(err == 0 || err == -SA_ERR_FORMAT ||
			  err == -SA_ERR_TRUNCATED || err == -SA_ERR_INVAL);
		sa_image__free(img);
	}
	/* short prefixes must fail: no program headers */
	ck_assert(bad > 64);
	free(data);
	sa_set_print(old);
}
END_TEST

/* Section headers past the end of the file: still loads the segments. */
START_TEST(t_shdrs_past_eof)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	char path[4200], cmd[9000];
	struct peer_sec text = text_of(prog_nopie);
	uint8_t want[16], got[16];
	sa_print_fn old;
	char *out;
	uint64_t shoff;

	snprintf(cmd, sizeof(cmd), "readelf -hW '%s' | grep 'Start of "
		 "section headers' | tr -dc 0-9", prog_nopie);
	out = peer_run(cmd);
	shoff = strtoull(out, NULL, 10);
	free(out);
	ck_assert(shoff > 0);
	snprintf(path, sizeof(path), "%s/noshdr.elf", sa_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "head -c %" PRIu64 " '%s' > '%s'",
		 shoff + 10, prog_nopie, path);
	ck_assert_int_eq(system(cmd), 0);
	warn_buf[0] = '\0';
	old = sa_set_print(capture_print);
	ck_assert_int_eq(sa_image_load_elf(img, path, UINT64_MAX, &ei), 0);
	sa_set_print(old);
	ck_assert_msg(strstr(warn_buf, "noshdr.elf") &&
		      strstr(warn_buf, "section headers"), "%s", warn_buf);
	file_bytes(prog_nopie, text.off, want, sizeof(want));
	ck_assert_int_eq(sa_image_read(img, text.addr, got, 16), 16);
	ck_assert_int_eq(memcmp(want, got, 16), 0);
	ck_assert_ptr_null(sa_image_symbolize(img, text.addr));
	sa_image__free(img);
}
END_TEST

START_TEST(t_build_id)
{
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	uint8_t id[20], wrong[20] = { 0xde, 0xad, 0xbe, 0xef };
	char cmd[700], *out, *p, hex[41], mine[41];
	const struct sa_dso *d;
	sa_print_fn old;
	int i = 0;

	/* readelf -n: "Build ID: 0123abcd..." */
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | grep 'Build ID'",
		 prog_pie);
	out = peer_run(cmd);
	p = strstr(out, "Build ID: ");
	ck_assert(p);
	p += 10;
	while (i < 20 && sscanf(p + 2 * i, "%2hhx", &id[i]) == 1)
		i++;
	ck_assert_int_eq(i, 20);
	snprintf(hex, sizeof(hex), "%.40s", p);
	free(out);

	warn_buf[0] = '\0';
	old = sa_set_print(capture_print);
	ck_assert_int_eq(sa_image_add_elf(img, prog_pie, 0x10000000, 0x1000, 0,
					  id, 20, &ei), 0);
	ck_assert_str_eq(warn_buf, "");
	d = sa_image_dso_at(img, 0);
	ck_assert(!d->build_id_mismatch && d->build_id_len == 20);
	ck_assert_str_eq(sa_build_id_str(d->build_id, 20, mine, 41), hex);
	sa_image__free(img);

	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_int_eq(sa_image_add_elf(img, prog_pie, 0x10000000, 0x1000, 0,
					  wrong, 20, &ei), 0);
	sa_set_print(old);
	d = sa_image_dso_at(img, 0);
	ck_assert(d->build_id_mismatch);
	ck_assert_msg(strstr(warn_buf, prog_pie) && strstr(warn_buf, hex) &&
		      strstr(warn_buf, "deadbeef") &&
		      strstr(warn_buf, "mismatch"), "%s", warn_buf);
	/* the mapping is kept */
	ck_assert_int_eq(sa_image_read(img, 0x10000000, mine, 4), 4);
	sa_image__free(img);
}
END_TEST

/*
 * The by-name symbol reader and the segment reader that the capture's and
 * the emulated sensor's filters use: every FUNC (SA_ELF_SYM_FUNC) and
 * OBJECT (no flag) symbol that .symtab holds once, and every PT_LOAD,
 * against readelf -sW, -SW and -lW.
 */
static void check_elf_lookup(const char *path)
{
	static struct peer_sec secs[256];
	static struct {
		char name[256], value[32], size[32];
		unsigned int sh;
		bool func, obj;
	} ent[8192];
	struct sa_elf_seg segs[16];
	struct sa_errinfo ei;
	char cmd[700], *text, *line, *nl;
	bool symtab = false;
	int nsym = 0, nseg = 0, n, nent = 0, i, j;

	memset(secs, 0, sizeof(secs));
	peer_sections(path, secs, 256);
	snprintf(cmd, sizeof(cmd), "readelf -sW '%s'", path);
	text = peer_run(cmd);
	for (line = text; line && *line && nent < 8192; line = nl) {
		char type[16], bind[16], vis[16], ndx[16];
		unsigned int num;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		if (strstr(line, "Symbol table '"))
			symtab = strstr(line, "'.symtab'") != NULL;
		if (!symtab || sscanf(line, " %u: %31s %31s %15s %15s %15s "
				      "%15s %255s", &num, ent[nent].value,
				      ent[nent].size, type, bind, vis, ndx,
				      ent[nent].name) != 8)
			continue;
		ent[nent].func = !strcmp(type, "FUNC");
		ent[nent].obj = !strcmp(type, "OBJECT");
		if (sscanf(ndx, "%u", &ent[nent].sh) != 1)
			ent[nent].sh = UINT32_MAX;	/* UND, ABS */
		nent++;
	}
	free(text);
	for (i = 0; i < nent; i++) {
		struct sa_elf_sym sym;
		uint64_t v = strtoull(ent[i].value, NULL, 16);
		unsigned int sh = ent[i].sh;
		int same = 0;

		if ((!ent[i].func && !ent[i].obj) || !v || sh >= 256)
			continue;
		/* names readelf lists once in .symtab */
		for (j = 0; j < nent; j++)
			same += !strcmp(ent[j].name, ent[i].name);
		if (same != 1)
			continue;
		n = sa_elf_find_symbol(path, ent[i].name,
				       ent[i].func ? SA_ELF_SYM_FUNC : 0,
				       &sym, 1, &ei);
		ck_assert_msg(n == 1, "%s: %s: %d", path, ent[i].name, n);
		ck_assert_msg(sym.value == v &&
			      sym.size == strtoull(ent[i].size, NULL, 0) &&
			      sym.offset == v - secs[sh].addr + secs[sh].off,
			      "%s: %s: value 0x%" PRIx64 " size %" PRIu64
			      " offset 0x%" PRIx64 ", readelf %s %s", path,
			      ent[i].name, sym.value, sym.size, sym.offset,
			      ent[i].value, ent[i].size);
		nsym++;
	}
	ck_assert_msg(nsym > 10, "%s: %d symbols compared", path, nsym);
	/* an object is no function */
	ck_assert_int_eq(sa_elf_find_symbol(path, "completed.0",
					    SA_ELF_SYM_FUNC, NULL, 0, &ei), 0);
	ck_assert_int_eq(sa_elf_find_symbol(path, "no_such_symbol_here", 0,
					    NULL, 0, &ei), 0);

	n = sa_elf_segments(path, segs, 16, &ei);
	snprintf(cmd, sizeof(cmd), "readelf -lW '%s' | grep ' LOAD '", path);
	text = peer_run(cmd);
	for (line = text; line && *line; line = nl) {
		unsigned long long off, va, pa, fsz, msz;
		char flg[3][8] = { "", "", "" };
		uint32_t want = 0;
		int k, nf;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		nf = sscanf(line, " LOAD %llx %llx %llx %llx %llx %7s %7s %7s",
			    &off, &va, &pa, &fsz, &msz, flg[0], flg[1],
			    flg[2]);
		ck_assert_int_ge(nf, 7);
		for (k = 0; k < nf - 5; k++) {
			if (!strncmp(flg[k], "0x", 2))
				break;	/* the alignment */
			want |= (strchr(flg[k], 'R') ? PF_R : 0) |
				(strchr(flg[k], 'W') ? PF_W : 0) |
				(strchr(flg[k], 'E') ? PF_X : 0);
		}
		ck_assert_int_lt(nseg, n);
		ck_assert_msg(segs[nseg].offset == off &&
			      segs[nseg].vaddr == va &&
			      segs[nseg].filesz == fsz &&
			      segs[nseg].memsz == msz &&
			      segs[nseg].flags == want,
			      "%s: segment %d differs from readelf's %s", path,
			      nseg, line);
		nseg++;
	}
	free(text);
	ck_assert_int_eq(nseg, n);
	ck_assert_int_ge(nseg, 2);
}

START_TEST(t_elf_lookup)
{
	struct sa_errinfo ei;
	char path[4200], cmd[9000];
	char *out;

	check_elf_lookup(prog_nopie);
	check_elf_lookup(prog_pie);
	/* stripped: .dynsym only, where the program defines no classify */
	snprintf(path, sizeof(path), "%s/lookup-stripped", sa_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "strip -o '%s' '%s'", path, prog_pie);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "nm -D '%s' | grep -c ' classify$' || true",
		 path);
	out = peer_run(cmd);
	ck_assert_int_eq(strtol(out, NULL, 10), 0);
	free(out);
	ck_assert_int_eq(sa_elf_find_symbol(path, "classify", SA_ELF_SYM_FUNC,
					    NULL, 0, &ei), 0);
	/* bad input: the errors the filters show */
	ck_assert_int_eq(sa_elf_find_symbol("/nonexistent/x", "main", 0, NULL,
					    0, &ei), -ENOENT);
	ck_assert(strstr(ei.msg, "/nonexistent/x"));
	snprintf(path, sizeof(path), "%s/lookup-text", sa_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "echo not elf > '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(sa_elf_segments(path, NULL, 0, &ei), -SA_ERR_FORMAT);
	ck_assert_msg(strstr(ei.msg, "not an ELF file"), "%s", ei.msg);
}
END_TEST

/*
 * Separate debug files: a stripped copy of the program finds its symbols
 * and lines through .gnu_debuglink, or by build-id under a symfs; they
 * must equal readelf's and addr2line's on the unstripped program.
 */
START_TEST(t_debug_file)
{
	char dir[4200], cmd[20000], stripped[4300], dbg[4300], bid[4300];
	char *out;
	struct sa_image *img;
	struct sa_errinfo ei;
	const struct sa_sym *s;
	uint64_t a = nm_addr(prog_nopie, "classify");

	snprintf(dir, sizeof(dir), "%s/dbg", sa_test_tmpdir());
	snprintf(stripped, sizeof(stripped), "%s/prog", dir);
	snprintf(dbg, sizeof(dbg), "%s/prog.debug", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && objcopy --only-keep-debug "
		 "'%s' '%s' && objcopy --strip-all --add-gnu-debuglink='%s' "
		 "'%s' '%s'", dir, prog_nopie, dbg, dbg, prog_nopie, stripped);
	ck_assert_int_eq(system(cmd), 0);
	/* the peer agrees the copy has no symbols of its own */
	snprintf(cmd, sizeof(cmd), "nm '%s' 2>&1 | grep -c ' classify$' || "
		 "true", stripped);
	out = peer_run(cmd);
	ck_assert_int_eq(strtol(out, NULL, 10), 0);
	free(out);

	img = sa_image__new(SA_ARCH_UNKNOWN);
	ck_assert_int_eq(sa_image_load_elf(img, stripped, UINT64_MAX, &ei), 0);
	s = sa_image_symbolize(img, a);
	ck_assert(s && !strcmp(s->name, "classify"));
	check_symbols(img, prog_nopie, 0);
	check_srclines(img, prog_nopie, "sum_loop", 0);
	sa_image__free(img);

	/* by build-id: /usr/lib/debug/.build-id/xx/yyyy.debug in a symfs */
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | sed -n 's/.*Build ID: "
		 "//p'", prog_nopie);
	out = peer_run(cmd);
	out[strcspn(out, "\n")] = '\0';
	snprintf(bid, sizeof(bid), "%s/symfs/usr/lib/debug/.build-id/%.2s",
		 dir, out);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && mv '%s' '%s/%s.debug' "
		 "&& mkdir -p '%s/symfs/opt' && objcopy --strip-all '%s' "
		 "'%s/symfs/opt/prog'", bid, dbg, bid, out + 2, dir,
		 prog_nopie, dir);
	free(out);
	ck_assert_int_eq(system(cmd), 0);
	img = sa_image__new(SA_ARCH_UNKNOWN);
	snprintf(cmd, sizeof(cmd), "%s/symfs", dir);
	ck_assert_int_eq(sa_image_set_symfs(img, cmd), 0);
	ck_assert_int_eq(sa_image_add_elf(img, "/opt/prog", 0x400000, 0x10000,
					  0, NULL, 0, &ei), 0);
	s = sa_image_symbolize(img, a);
	ck_assert(s && !strcmp(s->name, "classify"));
	check_srclines(img, prog_nopie, "classify", 0);
	sa_image__free(img);
}
END_TEST

/*
 * The on-disk line cache (sa_image_cache_set_dir): a second cache with
 * the same directory (a restarted sensor) answers every line lookup of
 * the program's .text as the first did, without opening DWARF, and with
 * addr2line's lines; a damaged file, a truncated one and one of another
 * build are ignored (DWARF opened again, same answers) and rewritten.
 */
struct lc_answer {
	int err, line;
	char file[256];
};

static uint64_t lc_run(const char *dir, const char *path, uint64_t lo,
		       uint64_t hi, struct lc_answer *want, bool fill)
{
	struct sa_image_cache *c = sa_image_cache__new();
	struct sa_image_cache_stats st;
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	uint64_t a;

	ck_assert(c && img);
	ck_assert_int_eq(sa_image_cache_set_dir(c, dir), 0);
	ck_assert_int_eq(sa_image_set_cache(img, c), 0);
	ck_assert_int_eq(sa_image_load_elf(img, path, UINT64_MAX, &ei), 0);
	for (a = lo; a < hi; a++) {
		struct lc_answer *w = &want[a - lo];
		const char *file = NULL;
		int line = 0, err = sa_image_srcline(img, a, &file, &line);

		if (fill) {
			w->err = err;
			w->line = err ? 0 : line;
			snprintf(w->file, sizeof(w->file), "%s",
				 err ? "" : file);
			continue;
		}
		ck_assert_msg(err == w->err && (err || (line == w->line &&
						       !strcmp(file, w->file))),
			      "0x%" PRIx64 ": %d %s:%d, before %d %s:%d", a,
			      err, err ? "" : file, line, w->err, w->file,
			      w->line);
	}
	check_srclines(img, path, "sum_loop", 0);
	sa_image_cache_stats(c, &st);
	sa_image__free(img);
	sa_image_cache__free(c);
	return st.dwarf_opens;
}

START_TEST(t_line_cache)
{
	struct peer_sec text = text_of(prog_nopie);
	char dir[4200], file[4400], other[4400], cmd[9000], hex[64];
	struct lc_answer *want = calloc(text.size, sizeof(*want));
	int with_line = 0;
	uint64_t i;
	char *out;

	snprintf(dir, sizeof(dir), "%s/lines", sa_test_tmpdir());
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | sed -n 's/.*Build ID: "
		 "//p'", prog_nopie);
	out = peer_run(cmd);
	snprintf(hex, sizeof(hex), "%.*s", (int)strcspn(out, "\n"), out);
	free(out);
	snprintf(file, sizeof(file), "%s/%s.lines", dir, hex);

	/* first run: DWARF, and the file written when the binary goes */
	ck_assert_int_eq(lc_run(dir, prog_nopie, text.addr,
				text.addr + text.size, want, true), 1);
	ck_assert_int_eq(access(file, R_OK), 0);
	for (i = 0; i < text.size; i++)
		with_line += !want[i].err;
	ck_assert_int_gt(with_line, (int)text.size / 2);
	/* restarted: the same answers, no DWARF */
	ck_assert_int_eq(lc_run(dir, prog_nopie, text.addr,
				text.addr + text.size, want, false), 0);

	/* damaged: a byte of the body flipped */
	snprintf(cmd, sizeof(cmd), "printf '\\377' | dd of='%s' bs=1 "
		 "seek=100 conv=notrunc status=none", file);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(lc_run(dir, prog_nopie, text.addr,
				text.addr + text.size, want, false), 1);
	ck_assert_int_eq(lc_run(dir, prog_nopie, text.addr,
				text.addr + text.size, want, false), 0);
	/* truncated */
	snprintf(cmd, sizeof(cmd), "truncate -s 50 '%s'", file);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(lc_run(dir, prog_nopie, text.addr,
				text.addr + text.size, want, false), 1);
	ck_assert_int_eq(lc_run(dir, prog_nopie, text.addr,
				text.addr + text.size, want, false), 0);
	/* of another build: the PIE's file under this build-id's name */
	snprintf(other, sizeof(other), "%s/pie", dir);
	ck_assert_int_eq(mkdir(other, 0755), 0);
	{
		struct peer_sec pt = text_of(prog_pie);
		struct lc_answer *pw = calloc(pt.size, sizeof(*pw));

		lc_run(other, prog_pie, pt.addr, pt.addr + pt.size, pw, true);
		free(pw);
	}
	snprintf(cmd, sizeof(cmd), "cp \"$(ls '%s'/*.lines)\" '%s'", other,
		 file);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(lc_run(dir, prog_nopie, text.addr,
				text.addr + text.size, want, false), 1);
	ck_assert_int_eq(lc_run(dir, prog_nopie, text.addr,
				text.addr + text.size, want, false), 0);
	free(want);
}
END_TEST

/* Without .debug_aranges (as clang builds): lines through CU ranges. */
START_TEST(t_no_aranges)
{
	char path[4200], cmd[9000];
	struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);
	struct sa_errinfo ei;
	char *out;

	snprintf(path, sizeof(path), "%s/noaranges", sa_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "objcopy --remove-section=.debug_aranges "
		 "'%s' '%s'", prog_static, path);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' | grep -c "
		 "debug_aranges || true", path);
	out = peer_run(cmd);
	ck_assert_int_eq(strtol(out, NULL, 10), 0);
	free(out);
	ck_assert_int_eq(sa_image_load_elf(img, path, UINT64_MAX, &ei), 0);
	/* addr2line on the original file, which has its aranges */
	check_srclines(img, prog_static, "dispatch", 0);
	check_srclines(img, prog_static, "main", 0);
	sa_image__free(img);
}
END_TEST

static Suite *image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("image");

	tcase_add_test(tc, t_buffer);
	tcase_add_test(tc, t_raw);
	tcase_add_test(tc, t_load_nopie);
	tcase_add_test(tc, t_pie_bias);
	tcase_add_test(tc, t_static);
	tcase_add_test(tc, t_sym_choice);
	tcase_add_test(tc, t_loopy_labels);
	tcase_add_test(tc, t_missing);
	tcase_add_test(tc, t_symfs);
	tcase_add_test(tc, t_not_elf);
	tcase_add_test(tc, t_truncated);
	tcase_add_test(tc, t_shdrs_past_eof);
	tcase_add_test(tc, t_build_id);
	tcase_add_test(tc, t_elf_lookup);
	tcase_add_test(tc, t_debug_file);
	tcase_add_test(tc, t_no_aranges);
	tcase_add_test(tc, t_line_cache);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s PIE NOPIE STATIC\n", argv[0]);
		return 1;
	}
	prog_pie = argv[1];
	prog_nopie = argv[2];
	prog_static = argv[3];
	return sa_test_run(image_suite());
}
