/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private: a small streaming JSON writer.  It tracks whether a comma is
 * due, escapes strings per RFC 8259, and never allocates.
 */
#ifndef SA_UTIL_JSON_H
#define SA_UTIL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SA_JSON_MAX_DEPTH 32

struct sa_json {
	FILE *f;
	int depth;
	bool pretty;
	bool need_comma[SA_JSON_MAX_DEPTH];
};

void sa_json_init(struct sa_json *j, FILE *f, bool pretty);
void sa_json_obj_begin(struct sa_json *j, const char *key);
void sa_json_obj_end(struct sa_json *j);
void sa_json_arr_begin(struct sa_json *j, const char *key);
void sa_json_arr_end(struct sa_json *j);
void sa_json_str(struct sa_json *j, const char *key, const char *val);
void sa_json_u64(struct sa_json *j, const char *key, uint64_t val);
void sa_json_i64(struct sa_json *j, const char *key, int64_t val);
void sa_json_dbl(struct sa_json *j, const char *key, double val);
void sa_json_bool(struct sa_json *j, const char *key, bool val);
void sa_json_null(struct sa_json *j, const char *key);
/* A hex string "0x...", as the schemas write addresses. */
void sa_json_hex(struct sa_json *j, const char *key, uint64_t val);
/* Ends a JSON-lines record with a newline. */
void sa_json_newline(struct sa_json *j);
/* Writes @s as a quoted, escaped JSON string. */
void sa_json_write_string(FILE *f, const char *s);

#endif /* SA_UTIL_JSON_H */
