// SPDX-License-Identifier: BSD-2-Clause
/* Raw CoreSight dumps: one trace ID, registers given or defaulted. */
#include <errno.h>

#include "cs_priv.h"

struct sa_dec *sa_cs_raw_decoder__new(const struct sa_cs_raw_opts *r,
				      const uint8_t *buf, size_t len,
				      struct sa_image *img,
				      struct sa_errinfo *ei)
{
	struct sa_etm_config cfg = { 0 };
	struct sa_etm_source src;

	/* Unformatted bytes carry no trace ID: any value will do there. */
	if ((!r->trace_id && !r->unformatted) || r->trace_id >= 0x70) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "%s: trace ID %#x out of range (0x01..0x6f)",
			       r->trace_file ? r->trace_file : "raw trace",
			       r->trace_id);
		errno = EINVAL;
		return NULL;
	}
	sa_cs_source_from_regs(&src, r->protocol ? r->protocol :
				     SA_CS_PROTO_ETMV4, r->trace_id, &r->regs);
	cfg.buf = buf;
	cfg.len = len;
	cfg.name = r->trace_file;
	cfg.image = img;
	cfg.format = r->unformatted ? SA_ETM_FMT_RAW : SA_ETM_FMT_FRAMED;
	cfg.frame_flags = SA_ETM_FRAME_MEM_ALIGN;
	cfg.nr_sources = 1;
	cfg.sources = &src;
	cfg.flags = SA_ETM_F_SRC_ADDR_N;
	return sa_etm__new(&cfg, ei);
}
