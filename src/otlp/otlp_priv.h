/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private: the OTLP exporter's records and its two encodings.
 */
#ifndef SA_OTLP_PRIV_H
#define SA_OTLP_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "sensor/otlp.h"

/* A queued record: a deep copy of a struct sa_otlp_record. */
struct sa_otlp_rec {
	uint64_t time_ns, observed_ns;
	int severity;
	char *body;
	size_t nr_attrs;
	struct sa_otlp_attr attrs[];	/* keys and strings owned */
};

/* The resource and scope every request carries. */
struct sa_otlp_res {
	size_t nr_attrs;
	struct sa_otlp_attr attrs[5];	/* strings owned by struct sa_otlp */
	const char *scope_version;	/* NULL: omitted */
};

/* "INFO", "WARN", ... for a severity number. */
const char *sa_otlp__severity_text(int sev);

/* Encodes @nr records into a request body (malloc'd, *@len bytes).
 * Returns 0 or -ENOMEM; -SA_ERR_UNSUPPORTED for protobuf when not built.
 */
int sa_otlp__encode_json(const struct sa_otlp_res *res,
			 struct sa_otlp_rec *const *recs, size_t nr,
			 char **out, size_t *len);
int sa_otlp__encode_pb(const struct sa_otlp_res *res,
		       struct sa_otlp_rec *const *recs, size_t nr,
		       char **out, size_t *len);

#endif /* SA_OTLP_PRIV_H */
