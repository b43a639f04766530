/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private to src/capture: helpers shared by the module's files.
 */
#ifndef SA_CAPTURE_INT_H
#define SA_CAPTURE_INT_H

#include <stddef.h>
#include <stdint.h>

/* Reads a small text file into @buf (NUL-terminated, trailing white
 * space removed).  Returns the length or -errno.
 */
int sa_cap_read_file(const char *path, char *buf, size_t len);

/* CLOCK_MONOTONIC and this thread's CPU time, in ns. */
uint64_t sa_cap_now_ns(void);
uint64_t sa_cap_thread_cpu_ns(void);

struct sa_errinfo;

/* File offset and size of function @name in ELF @file (.symtab, else
 * .dynsym).  -SA_ERR_NOTFOUND, or -SA_ERR_INVAL when ambiguous or
 * sizeless.
 */
int sa_cap_elf_symbol(const char *file, const char *name, uint64_t *off,
		      uint64_t *size, struct sa_errinfo *ei);

#endif /* SA_CAPTURE_INT_H */
