// SPDX-License-Identifier: BSD-2-Clause
/*
 * OTLP/HTTP JSON: the protobuf JSON mapping as OTLP specifies it
 * (lowerCamelCase keys, 64-bit integers as strings, enums as numbers).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "otlp_priv.h"

static void put_str(FILE *f, const char *s)
{
	sa_json_write_string(f, s ? s : "");
}

/* The JSON mapping writes non-finite doubles as strings. */
static void put_dbl(FILE *f, double d)
{
	if (isnan(d))
		fputs("\"NaN\"", f);
	else if (isinf(d))
		fputs(d > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
	else
		fprintf(f, "%.17g", d);
}

static void put_attrs(FILE *f, const struct sa_otlp_attr *a, size_t nr)
{
	size_t i;

	fputs("\"attributes\":[", f);
	for (i = 0; i < nr; i++) {
		fputs(i ? ",{\"key\":" : "{\"key\":", f);
		put_str(f, a[i].key);
		fputs(",\"value\":{", f);
		switch (a[i].type) {
		case SA_OTLP_STR:
			fputs("\"stringValue\":", f);
			put_str(f, a[i].s);
			break;
		case SA_OTLP_INT:
			fprintf(f, "\"intValue\":\"%" PRId64 "\"", a[i].i);
			break;
		case SA_OTLP_DBL:
			fputs("\"doubleValue\":", f);
			put_dbl(f, a[i].d);
			break;
		case SA_OTLP_BOOL:
			fprintf(f, "\"boolValue\":%s",
				a[i].b ? "true" : "false");
			break;
		}
		fputs("}}", f);
	}
	fputc(']', f);
}

int sa_otlp__encode_json(const struct sa_otlp_res *res,
			 struct sa_otlp_rec *const *recs, size_t nr,
			 char **out, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	size_t i;
	FILE *f;

	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	fputs("{\"resourceLogs\":[{\"resource\":{", f);
	put_attrs(f, res->attrs, res->nr_attrs);
	fputs("},\"scopeLogs\":[{\"scope\":{\"name\":\"sensor-agent\"", f);
	if (res->scope_version) {
		fputs(",\"version\":", f);
		put_str(f, res->scope_version);
	}
	fputs("},\"logRecords\":[", f);
	for (i = 0; i < nr; i++) {
		const struct sa_otlp_rec *r = recs[i];

		fprintf(f, "%s{\"timeUnixNano\":\"%" PRIu64 "\","
			"\"observedTimeUnixNano\":\"%" PRIu64 "\","
			"\"severityNumber\":%d,\"severityText\":",
			i ? "," : "", r->time_ns, r->observed_ns,
			r->severity);
		put_str(f, sa_otlp__severity_text(r->severity));
		fputs(",\"body\":{\"stringValue\":", f);
		put_str(f, r->body);
		fputs("},", f);
		put_attrs(f, r->attrs, r->nr_attrs);
		fputc('}', f);
	}
	fputs("]}]}]}", f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return -ENOMEM;
	}
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = size;
	return 0;
}
