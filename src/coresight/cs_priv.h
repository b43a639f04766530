/* SPDX-License-Identifier: BSD-2-Clause */
/* Private to src/coresight. */
#ifndef SA_CS_PRIV_H
#define SA_CS_PRIV_H

#include "sensor/coresight.h"
#include "etm.h"
#include "ini.h"

#define SA_CS_TRACE_MAX_BYTES	(1ull << 32)	/* per trace file */

/* Fills @s with the protocol, defaults and @r's non-zero registers. */
void sa_cs_source_from_regs(struct sa_etm_source *s, enum sa_cs_protocol p,
			    uint8_t trace_id, const struct sa_cs_regs *r);

/* Maps an OpenCSD-style core name ("Cortex-A53", "ARMv8.2-A",
 * "ARM-AA64") to architecture and profile; false when unknown.
 */
bool sa_cs_core_profile(const char *core, enum sa_etm_arch *arch,
			enum sa_etm_profile *prof);

/* Reads a whole file, at most @cap bytes.  *@buf is malloc'ed. */
int sa_cs_read_file(const char *path, size_t cap, uint8_t **buf,
		    size_t *len, struct sa_errinfo *ei);

#endif /* SA_CS_PRIV_H */
