// SPDX-License-Identifier: BSD-2-Clause
/*
 * OTLP/HTTP protobuf: an ExportLogsServiceRequest packed by protobuf-c,
 * with the code generated at build time from the official
 * opentelemetry-proto definitions (docs/otlp.md).  Without them this
 * file only says that the encoding was not built.
 */
#include <errno.h>
#include <stdlib.h>

#include "sensor/error.h"

#include "otlp_priv.h"

#ifdef SA_OTLP_PROTOBUF

#include "logs_service.pb-c.h"

/* protobuf-c's names are long */
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Logs__V1__LogRecord pb_rec;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs pb_rlogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs pb_slogs;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest
	pb_request;
#define PB_KV_INIT OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT
#define PB_ANY_INIT OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT
#define PB_REC_INIT OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT
#define PB_RLOGS_INIT OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT
#define PB_SLOGS_INIT OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT
#define PB_RESOURCE_INIT OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT
#define PB_SCOPE_INIT \
	OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT
#define PB_REQUEST_INIT \
	OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT
#define PB_CASE(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x
#define pb_request_size \
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size
#define pb_request_pack \
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack

bool sa_otlp_have_protobuf(void)
{
	return true;
}

/* Fills @kv, @val and @ptr (arrays of @nr) from @a; the strings are
 * borrowed (protobuf-c only reads them).
 */
static void fill_attrs(const struct sa_otlp_attr *a, size_t nr, pb_kv *kv,
		       pb_any *val, pb_kv **ptr)
{
	static const pb_kv kv0 = PB_KV_INIT;
	static const pb_any any0 = PB_ANY_INIT;
	size_t i;

	for (i = 0; i < nr; i++) {
		kv[i] = kv0;
		val[i] = any0;
		kv[i].key = (char *)a[i].key;
		kv[i].value = &val[i];
		switch (a[i].type) {
		case SA_OTLP_STR:
			val[i].value_case = PB_CASE(STRING_VALUE);
			val[i].string_value = (char *)(a[i].s ? a[i].s : "");
			break;
		case SA_OTLP_INT:
			val[i].value_case = PB_CASE(INT_VALUE);
			val[i].int_value = a[i].i;
			break;
		case SA_OTLP_DBL:
			val[i].value_case = PB_CASE(DOUBLE_VALUE);
			val[i].double_value = a[i].d;
			break;
		case SA_OTLP_BOOL:
			val[i].value_case = PB_CASE(BOOL_VALUE);
			val[i].bool_value = a[i].b;
			break;
		}
		ptr[i] = &kv[i];
	}
}

int sa_otlp__encode_pb(const struct sa_otlp_res *res,
		       struct sa_otlp_rec *const *recs, size_t nr,
		       char **out, size_t *len)
{
	pb_request req = PB_REQUEST_INIT;
	pb_rlogs rl = PB_RLOGS_INIT, *rlp = &rl;
	pb_slogs sl = PB_SLOGS_INIT, *slp = &sl;
	pb_resource resource = PB_RESOURCE_INIT;
	pb_scope scope = PB_SCOPE_INIT;
	static const pb_rec rec0 = PB_REC_INIT;
	static const pb_any any0 = PB_ANY_INIT;
	pb_kv res_kv[5], *res_ptr[5];
	pb_any res_val[5];
	pb_rec *lr = NULL, **lrp = NULL;
	pb_any *bodies = NULL, *vals = NULL;
	pb_kv *kvs = NULL, **kvp = NULL;
	size_t i, nattr = 0, k = 0, size;
	uint8_t *buf;
	int err = -ENOMEM;

	for (i = 0; i < nr; i++)
		nattr += recs[i]->nr_attrs;
	lr = calloc(nr ? nr : 1, sizeof(*lr));
	lrp = calloc(nr ? nr : 1, sizeof(*lrp));
	bodies = calloc(nr ? nr : 1, sizeof(*bodies));
	vals = calloc(nattr ? nattr : 1, sizeof(*vals));
	kvs = calloc(nattr ? nattr : 1, sizeof(*kvs));
	kvp = calloc(nattr ? nattr : 1, sizeof(*kvp));
	if (!lr || !lrp || !bodies || !vals || !kvs || !kvp)
		goto out;

	fill_attrs(res->attrs, res->nr_attrs, res_kv, res_val, res_ptr);
	resource.n_attributes = res->nr_attrs;
	resource.attributes = res_ptr;
	scope.name = "sensor-agent";
	if (res->scope_version)
		scope.version = (char *)res->scope_version;
	for (i = 0; i < nr; i++) {
		const struct sa_otlp_rec *r = recs[i];

		lr[i] = rec0;
		bodies[i] = any0;
		lr[i].time_unix_nano = r->time_ns;
		lr[i].observed_time_unix_nano = r->observed_ns;
		lr[i].severity_number = r->severity;
		lr[i].severity_text =
			(char *)sa_otlp__severity_text(r->severity);
		bodies[i].value_case = PB_CASE(STRING_VALUE);
		bodies[i].string_value = r->body;
		lr[i].body = &bodies[i];
		fill_attrs(r->attrs, r->nr_attrs, kvs + k, vals + k, kvp + k);
		lr[i].n_attributes = r->nr_attrs;
		lr[i].attributes = kvp + k;
		k += r->nr_attrs;
		lrp[i] = &lr[i];
	}
	sl.scope = &scope;
	sl.n_log_records = nr;
	sl.log_records = lrp;
	rl.resource = &resource;
	rl.n_scope_logs = 1;
	rl.scope_logs = &slp;
	req.n_resource_logs = 1;
	req.resource_logs = &rlp;

	size = pb_request_size(&req);
	buf = malloc(size ? size : 1);
	if (!buf)
		goto out;
	*len = pb_request_pack(&req, buf);
	*out = (char *)buf;
	err = 0;
out:
	free(lr);
	free(lrp);
	free(bodies);
	free(vals);
	free(kvs);
	free(kvp);
	return err;
}

#else /* !SA_OTLP_PROTOBUF */

bool sa_otlp_have_protobuf(void)
{
	return false;
}

int sa_otlp__encode_pb(const struct sa_otlp_res *res,
		       struct sa_otlp_rec *const *recs, size_t nr,
		       char **out, size_t *len)
{
	return -SA_ERR_UNSUPPORTED;
}

#endif
