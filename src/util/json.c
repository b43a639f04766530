// SPDX-License-Identifier: BSD-2-Clause
#include <inttypes.h>
#include <math.h>

#include "json.h"

void sa_json_init(struct sa_json *j, FILE *f, bool pretty)
{
	j->f = f;
	j->depth = 0;
	j->pretty = pretty;
	j->need_comma[0] = false;
}

void sa_json_write_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', f);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void sa_json_indent(struct sa_json *j)
{
	int i;

	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

static void sa_json_key(struct sa_json *j, const char *key)
{
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
	if (j->depth > 0)
		sa_json_indent(j);
	if (key) {
		sa_json_write_string(j->f, key);
		fputs(j->pretty ? ": " : ":", j->f);
	}
}

static void sa_json_open(struct sa_json *j, const char *key, char c)
{
	sa_json_key(j, key);
	fputc(c, j->f);
	if (j->depth + 1 < SA_JSON_MAX_DEPTH)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void sa_json_close(struct sa_json *j, char c)
{
	bool had = j->need_comma[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (had)
		sa_json_indent(j);
	fputc(c, j->f);
}

void sa_json_obj_begin(struct sa_json *j, const char *key)
{
	sa_json_open(j, key, '{');
}

void sa_json_obj_end(struct sa_json *j)
{
	sa_json_close(j, '}');
}

void sa_json_arr_begin(struct sa_json *j, const char *key)
{
	sa_json_open(j, key, '[');
}

void sa_json_arr_end(struct sa_json *j)
{
	sa_json_close(j, ']');
}

void sa_json_str(struct sa_json *j, const char *key, const char *val)
{
	sa_json_key(j, key);
	if (val)
		sa_json_write_string(j->f, val);
	else
		fputs("null", j->f);
}

void sa_json_u64(struct sa_json *j, const char *key, uint64_t val)
{
	sa_json_key(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void sa_json_i64(struct sa_json *j, const char *key, int64_t val)
{
	sa_json_key(j, key);
	fprintf(j->f, "%" PRId64, val);
}

void sa_json_dbl(struct sa_json *j, const char *key, double val)
{
	sa_json_key(j, key);
	/* JSON has no NaN or infinity. */
	if (isfinite(val))
		fprintf(j->f, "%.6g", val);
	else
		fputs("null", j->f);
}

void sa_json_bool(struct sa_json *j, const char *key, bool val)
{
	sa_json_key(j, key);
	fputs(val ? "true" : "false", j->f);
}

void sa_json_null(struct sa_json *j, const char *key)
{
	sa_json_key(j, key);
	fputs("null", j->f);
}

void sa_json_hex(struct sa_json *j, const char *key, uint64_t val)
{
	sa_json_key(j, key);
	fprintf(j->f, "\"0x%" PRIx64 "\"", val);
}

void sa_json_newline(struct sa_json *j)
{
	fputc('\n', j->f);
	j->need_comma[0] = false;
}
