/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private: what the detector reads from the baseline store.
 */
#ifndef SA_ANOMALY_STORE_H
#define SA_ANOMALY_STORE_H

#include <stddef.h>

#include "sensor/baseline.h"

#include "model.h"

/* Loads the sums of the build @key into @out (zeroed first; release with
 * sa_mbuild_fini()).  Returns 0, -SA_ERR_NOTFOUND, -SA_ERR_TOOBIG,
 * -SA_ERR_CORRUPT or -ENOMEM, with @ei filled.
 */
int sa_baseline_load(struct sa_baseline *bl, const char *key,
		     struct sa_mbuild *out, struct sa_errinfo *ei);

/* Fills @buf with the build-id (or key) of the most recent build of the
 * binary whose path ends in the same file name as @binary, other than
 * @key.  Returns 1 when found, 0 when not, or a negative error.
 */
int sa_baseline_other_build(struct sa_baseline *bl, const char *binary,
			    const char *key, char *buf, size_t size);

/* Lists up to a few binaries of the store into @buf ("a, b, c"). */
int sa_baseline_describe(struct sa_baseline *bl, char *buf, size_t size);

#endif /* SA_ANOMALY_STORE_H */
