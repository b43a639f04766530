// SPDX-License-Identifier: BSD-2-Clause
/*
 * Code mapped after exec (tests/scenarios test_restart.c,
 * mmap_after_exec).  Loads LIB with dlopen() and calls its dl_square()
 * and dl_parity() through pointers, maps LIB's first page a second time
 * executable and an anonymous executable page, calling into neither,
 * copies /proc/self/maps to MAPS while all of it is mapped, then
 * unmaps everything (munmap, dlclose) before exiting: a recorder that
 * looked at the mappings only at the end, or only when control reached
 * an unknown address, would miss some of them.
 *
 * Usage: sc_dl LIB MAPS
 * Exit status 0 when every step worked.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define NR_CALLS 16

static volatile int sink;

static int copy_maps(const char *out)
{
	char buf[4096];
	ssize_t n;
	int in, fd, ret = 0;

	in = open("/proc/self/maps", O_RDONLY);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || fd < 0)
		ret = -1;
	while (!ret && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			ret = -1;
	if (in >= 0)
		close(in);
	if (fd >= 0)
		close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	int (*square)(int), (*parity)(int);
	void *lib, *again, *anon;
	int i, fd, odd = 0;

	if (argc != 3)
		return 2;
	lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return 3;
	square = (int (*)(int))dlsym(lib, "dl_square");
	parity = (int (*)(int))dlsym(lib, "dl_parity");
	if (!square || !parity)
		return 4;
	for (i = 0; i < NR_CALLS; i++) {
		if (parity(i))
			odd++;
		else
			sink += square(i);
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		return 5;
	again = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	close(fd);
	anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (again == MAP_FAILED || anon == MAP_FAILED)
		return 6;
	((volatile unsigned char *)anon)[0] = 0xc3;	/* ret, never run */
	if (copy_maps(argv[2]))
		return 7;
	munmap(anon, 4096);
	munmap(again, 4096);
	dlclose(lib);
	return odd == NR_CALLS / 2 ? 0 : 8;
}
