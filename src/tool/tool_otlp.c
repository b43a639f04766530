// SPDX-License-Identifier: BSD-2-Clause
/*
 * --otlp URL, --otlp-protocol and --service of analyze and the live
 * sensor: the exporter's options, its start and its end (docs/otlp.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "sensor/otlp.h"
#include "tool.h"

int sa_tool_otlp_opt(const char *cmd, int c, const char *arg,
		     struct sa_tool_otlp *t)
{
	struct sa_errinfo ei;

	switch (c) {
	case SA_OPT_OTLP:
		/* checked here too: analyze starts the exporter late */
		if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8)) {
			sa_err("%s: bad --otlp '%s': an http:// or https:// "
			       "URL", cmd, arg);
			return -1;
		}
		t->url = arg;
		return 1;
	case SA_OPT_OTLP_PROTOCOL:
		if (sa_otlp_protocol_parse(arg, &t->protocol, &ei)) {
			sa_err("%s: %s", cmd, ei.msg);
			return -1;
		}
		return 1;
	case SA_OPT_SERVICE:
		if (!*arg) {
			sa_err("%s: --service needs a name", cmd);
			return -1;
		}
		t->service = arg;
		return 1;
	default:
		return 0;
	}
}

int sa_tool_otlp_start(const char *cmd, struct sa_tool_otlp *t,
		       struct sa_otlp_opts *o)
{
	struct sa_errinfo ei;

	if (!t->url)
		return 0;
	o->url = t->url;
	o->protocol = t->protocol;
	o->service = t->service;
	o->version = SA_VERSION;
	t->ot = sa_otlp__new(o, &ei);
	if (!t->ot) {
		sa_err("%s: %s", cmd, ei.msg[0] ? ei.msg : strerror(errno));
		return -1;
	}
	sa_msg(LOG_INFO, "OTLP logs to %s (%s)", t->url,
	       t->protocol == SA_OTLP_HTTP_PROTOBUF ? "http/protobuf" :
						      "http/json");
	return 0;
}

void sa_tool_otlp_finish(struct sa_tool_otlp *t, uint64_t deadline_ms)
{
	struct sa_otlp_stats st;
	bool late;

	if (!t->ot)
		return;
	late = sa_otlp_flush(t->ot, deadline_ms) == -ETIMEDOUT;
	sa_otlp_stop(t->ot);
	sa_otlp_stats(t->ot, &st);
	sa_note("OTLP: %" PRIu64 " records sent, %" PRIu64 " dropped (%"
		PRIu64 " queue full, %" PRIu64 " refused or retries out, %"
		PRIu64 " unsent at exit%s); %" PRIu64 " requests, %" PRIu64
		" retried, %" PRIu64 " bytes; queue high-water %" PRIu64
		"%s%s", st.sent, st.dropped, st.dropped_full,
		st.dropped_failed, st.dropped_exit,
		late ? ", the flush deadline passed" : "", st.requests,
		st.retried, st.bytes, st.queue_high_water,
		st.last_error[0] ? "; last error: " : "", st.last_error);
	sa_otlp__free(t->ot);
	t->ot = NULL;
}
