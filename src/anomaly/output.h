/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private: the anomaly writers shared by output.c and the live loop.
 */
#ifndef SA_ANOMALY_OUTPUT_H
#define SA_ANOMALY_OUTPUT_H

#include <stdio.h>

#include "sensor/anomaly.h"

#include "json.h"

/* Adds fields to a record before it is closed. */
typedef void (*sa_anom_json_extra_fn)(struct sa_json *j, void *ctx);

/* sa_anomaly_write_json1() with @extra's fields after the common ones. */
int sa_anomaly__write_json(const struct sa_anomaly *a, FILE *f,
			   const char *source, sa_anom_json_extra_fn extra,
			   void *ctx);

/* One line without newline: "kind: function (file:line), decision". */
void sa_anomaly__write_brief(const struct sa_anomaly *a, FILE *f);

/* Deep copy of @src into @dst (0 or -ENOMEM; @dst then needs
 * sa_anomaly__fini() either way), and its release.
 */
int sa_anomaly__copy(struct sa_anomaly *dst, const struct sa_anomaly *src);
void sa_anomaly__fini(struct sa_anomaly *a);

#endif /* SA_ANOMALY_OUTPUT_H */
