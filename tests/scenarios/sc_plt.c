// SPDX-License-Identifier: BSD-2-Clause
/*
 * Restart workload: a small key store whose every request goes through
 * libc by the PLT (strlen, memcpy, strcmp, qsort with a callback), is
 * dispatched through a function-pointer table (indirect calls) and
 * hashed by a function it generated at start-up in anonymous memory
 * (JIT code, called indirectly).  Each
 * run is a whole process, from exec to exit, with the same requests, so
 * that runs differ only in their address-space layout (ASLR).
 *
 * Usage: sc_plt MODE
 *   normal  32 requests, every key at most MAX_KEY bytes
 *   long    the same requests, every fourth key longer than MAX_KEY
 *
 * The planted site of each mode carries a "PLANT <mode>" comment.
 * Built with -fno-builtin so that the libc calls stay calls.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_KEY 12
#define NR_REQ 32
#define NR_SLOTS 8

struct slot {
	char key[MAX_KEY + 1];
	int val;
};

static struct slot slots[NR_SLOTS];
static volatile int sink;

static int find(const char *key)
{
	int i;

	for (i = 0; i < NR_SLOTS; i++)
		if (slots[i].key[0] && !strcmp(slots[i].key, key))
			return i;
	return -1;
}

static int op_get(const char *key, int val)
{
	int i = find(key);

	return i < 0 ? 0 : slots[i].val + val;
}

static int op_put(const char *key, int val)
{
	int i = find(key);

	if (i < 0) {
		for (i = 0; i < NR_SLOTS && slots[i].key[0]; i++)
			;
		if (i == NR_SLOTS)
			i = val % NR_SLOTS;
		memcpy(slots[i].key, key, strlen(key) + 1);
	}
	slots[i].val = val;
	return val;
}

static int op_del(const char *key, int val)
{
	int i = find(key);

	if (i >= 0)
		slots[i].key[0] = '\0';
	return val;
}

static int (*const ops[])(const char *, int) = { op_get, op_put, op_del };

/* "JIT" code: lea eax, [rdi + rsi]; ret */
static const unsigned char jit_code[] = { 0x8d, 0x04, 0x37, 0xc3 };
static int (*jit_mix)(int, int);

static void jit_init(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		abort();
	memcpy(p, jit_code, sizeof(jit_code));
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC))
		abort();
	jit_mix = (int (*)(int, int))p;
}

/* A key too long is cut, and counted. */
static int truncated;

static int handle(const char *key, int op, int val)
{
	char buf[MAX_KEY + 1];
	size_t len = strlen(key);

	if (len > MAX_KEY) { /* PLANT long */
		len = MAX_KEY;
		truncated++;
	}
	memcpy(buf, key, len);
	buf[len] = '\0';
	return ops[op](buf, jit_mix(val, (int)len));
}

static int cmp_val(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	return (x->val > y->val) - (x->val < y->val);
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {
		"alpha", "bravo", "charlie", "delta",
	};
	/* The same keys, every fourth one too long. */
	static const char *const long_keys[] = {
		"alpha", "bravo", "charlie", "delta-with-a-long-suffix",
	};
	const char *const *tab = argc > 1 && !strcmp(argv[1], "long") ?
					 long_keys : keys;
	int i, acc = 0;

	jit_init();
	for (i = 0; i < NR_REQ; i++)
		acc += handle(tab[i % 4], (i * 5 + 1) % 3, i);
	qsort(slots, NR_SLOTS, sizeof(slots[0]), cmp_val);
	sink = acc + truncated + slots[0].val;
	return 0;
}
