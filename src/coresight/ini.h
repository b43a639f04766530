/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A small INI reader for Arm snapshot files.  Unlike most INI readers it
 * keeps every key=value pair in file order, duplicates included: ETE
 * multi-session snapshots repeat "cpu_0=" once per session.
 */
#ifndef SA_CS_INI_H
#define SA_CS_INI_H

#include <stddef.h>

#include "sensor/error.h"

#define SA_CS_INI_MAX_BYTES	(1u << 20)	/* per file */
#define SA_CS_INI_MAX_SECTIONS	4096
#define SA_CS_INI_MAX_KEYS	65536		/* per file */

struct sa_cs_ini_kv {
	char *key;
	char *val;
	int line;
};

struct sa_cs_ini_sec {
	char *name;
	int line;
	size_t nr, alloc;
	struct sa_cs_ini_kv *kv;
};

struct sa_cs_ini {
	char *file;		/* name for messages */
	size_t nr, alloc;
	struct sa_cs_ini_sec *sec;
};

/* Parses @len bytes of @text (need not be NUL-terminated).  @file names
 * the input in messages.  Lines are "[section]", "key=value", blank, or
 * comments starting with ';' or '#'; surrounding blanks and CR are
 * ignored.  On error returns a negative code with @ei naming the file and
 * line (ei->offset is the byte offset of the line).
 */
int sa_cs_ini_parse(const char *text, size_t len, const char *file,
		    struct sa_cs_ini **out, struct sa_errinfo *ei);
void sa_cs_ini__free(struct sa_cs_ini *ini);

/* First section called @name (case-insensitive), or NULL. */
const struct sa_cs_ini_sec *sa_cs_ini_section(const struct sa_cs_ini *ini,
					      const char *name);
/* First value of @key (case-insensitive) in @sec, or NULL.  @sec may be
 * NULL.
 */
const char *sa_cs_ini_get(const struct sa_cs_ini_sec *sec, const char *key);

/* Parses an unsigned number (0x.. hex, 0.. octal, decimal) that must fill
 * all of @s (blanks around allowed).  Returns 0 or -SA_ERR_FORMAT.
 */
int sa_cs_parse_u64(const char *s, unsigned long long *v);

#endif /* SA_CS_INI_H */
