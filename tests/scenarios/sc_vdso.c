// SPDX-License-Identifier: BSD-2-Clause
/*
 * Calls into the vDSO (tests/scenarios test_restart.c, vdso_names):
 * __vdso_clock_gettime() and __vdso_gettimeofday(), looked up with
 * dlsym() in the vDSO's link map ("linux-vdso.so.1", which glibc
 * registers), called through pointers from this program's code, so that
 * the calls are indirect branches into the vDSO that a trace of this
 * binary sees.  Writes its own vDSO image, found by
 * getauxval(AT_SYSINFO_EHDR) and sized by its ELF headers, to OUT: the
 * test's independent copy, to name the offsets with nm -D.
 *
 * Usage: sc_vdso OUT
 * Exit status 0 when every step worked.
 */
#include <dlfcn.h>
#include <elf.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>

#define NR_CALLS 8

static volatile long sink;

/* The vDSO image: its ELF header up to the end of its section headers. */
static int dump_vdso(const char *out)
{
	const Elf64_Ehdr *e = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	size_t len;
	FILE *f;
	int ret;

	if (!e)
		return -1;
	len = e->e_shoff + (size_t)e->e_shnum * e->e_shentsize;
	f = fopen(out, "w");
	if (!f)
		return -1;
	ret = fwrite(e, 1, len, f) == len ? 0 : -1;
	if (fclose(f))
		ret = -1;
	return ret;
}

int main(int argc, char **argv)
{
	int (*cg)(clockid_t, struct timespec *);
	int (*gtod)(struct timeval *, void *);
	struct timespec ts;
	struct timeval tv;
	void *vdso;
	int i;

	if (argc != 2)
		return 2;
	vdso = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
	if (!vdso)
		return 3;
	cg = (int (*)(clockid_t, struct timespec *))
		dlsym(vdso, "__vdso_clock_gettime");
	gtod = (int (*)(struct timeval *, void *))
		dlsym(vdso, "__vdso_gettimeofday");
	if (!cg || !gtod)
		return 4;
	for (i = 0; i < NR_CALLS; i++) {
		if (cg(CLOCK_MONOTONIC, &ts) || gtod(&tv, NULL))
			return 5;
		sink += ts.tv_nsec + tv.tv_usec;
	}
	return dump_vdso(argv[1]) ? 6 : 0;
}
