// SPDX-License-Identifier: BSD-2-Clause
/*
 * CoreSight inputs into histories: snapshot directories and raw dumps.
 * The snapshot reader and the decoder factories are in src/coresight;
 * this is the same session path as perf.data (image, sites, builder).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "etm/etm.h"
#include "session_int.h"
#include "sensor/coresight.h"
#include "sensor/log.h"

int sa_cs_decode_snapshot(const char *dir, const struct sa_decode_opts *o,
			  struct sa_hist *h, struct sa_errinfo *ei)
{
	static const struct sa_decode_opts none;
	struct sa_cs_snapshot *ss;
	struct sa_session s;
	size_t i, decoded = 0;
	uint64_t flow = 0, unsync = 0;
	int err, first_err = 0;
	struct sa_errinfo e2;

	if (!o)
		o = &none;
	ss = sa_cs_snapshot__open(dir, ei);
	if (!ss)
		return ei && ei->code ? ei->code : -errno;
	err = sa_session_init(&s, dir, o, h, SA_ARCH_UNKNOWN);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "out of memory");
		goto out;
	}
	err = sa_cs_snapshot_load_image(ss, s.img, ei);
	if (err < 0)
		goto out;
	/* dumps that could not be read: their code decodes to counted
	 * "memory not accessible" gaps
	 */
	if (err > 0) {
		sa_hist_decode_mut(h)->missing_binaries += (uint64_t)err;
		sa_hist_note_error(h, SA_NO_OFFSET, -SA_ERR_NOTFOUND,
				   SA_GAP_LOST, 0);
	}
	/* sources without a device file: the decoders skip them with a
	 * warning naming them; the history counts them
	 */
	sa_hist_decode_mut(h)->missing_sources +=
		sa_cs_snapshot_nr_missing_sources(ss);
	err = sa_session_add_user_code(&s, ei);
	if (err)
		goto out;
	err = sa_session_start(&s);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "out of memory");
		goto out;
	}
	for (i = 0; i < sa_cs_snapshot_nr_buffers(ss); i++) {
		struct sa_dec *dec;

		if (!sa_cs_snapshot_buffer_nr_sources(ss, i))
			continue;	/* STM/ITM only */
		dec = sa_cs_snapshot_decoder(ss, i, s.img, 0, &e2);
		if (!dec) {
			sa_warn("%s\n", e2.msg);
			if (!first_err) {
				first_err = e2.code ? e2.code : -EINVAL;
				if (ei)
					*ei = e2;
			}
			continue;
		}
		sa_hist_decode_mut(h)->windows++;
		s.total = sa_dec_stats(dec)->trace_bytes;
		s.next_progress = 0;
		err = sa_session_run(&s, dec, 0);
		flow += sa_dec_stats(dec)->ranges + sa_etm_stats(dec)->nacc;
		unsync += sa_etm_stats(dec)->unsync_bytes;
		sa_dec__free(dec);
		if (err) {
			sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", dir,
				       sa_strerror(err));
			goto out;
		}
		decoded++;
	}
	/* trace that never synchronised decodes to nothing: that is a
	 * failure, not an empty history
	 */
	if (decoded && !flow) {
		const struct sa_hist_decode *d = sa_hist_decode(h);

		err = sa_errinfo_set(ei, unsync ? -SA_ERR_NOSYNC :
				     d->errors ? -SA_ERR_DECODE :
				     -SA_ERR_NODATA, SA_NO_OFFSET,
				     "%s: no program flow decoded: %" PRIu64
				     " of %" PRIu64 " trace bytes lost (%"
				     PRIu64 " never synchronised), %" PRIu64
				     " errors", dir, d->lost_bytes,
				     d->trace_bytes, unsync, d->errors);
		goto out;
	}
	err = decoded ? 0 : (first_err ? first_err :
			     sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
					    "%s: no trace buffer with an ETM, "
					    "PTM or ETE source", dir));
out:
	sa_session_fini(&s);
	sa_cs_snapshot__free(ss);
	return err;
}

int sa_cs_decode_raw(const struct sa_decode_opts *o, struct sa_hist *h,
		     struct sa_errinfo *ei)
{
	const struct sa_cs_raw_opts *r = o ? o->cs_raw : NULL;
	const struct sa_etm_stats *es;
	struct sa_dec *dec = NULL;
	struct sa_session s;
	void *buf = NULL;
	size_t len = 0;
	int err;

	if (!r || !r->trace_file)
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "raw CoreSight decode needs a trace "
				      "file and a trace ID");
	err = sa_session_init(&s, r->trace_file, o, h, SA_ARCH_UNKNOWN);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "out of memory");
		goto out;
	}
	buf = sa_session_map_file(r->trace_file, &len, ei);
	if (!buf) {
		err = ei && ei->code ? ei->code : -EIO;
		goto out;
	}
	err = sa_session_add_user_code(&s, ei);
	if (err)
		goto out;
	err = sa_session_start(&s);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "out of memory");
		goto out;
	}
	dec = sa_cs_raw_decoder__new(r, buf, len, s.img, ei);
	if (!dec) {
		err = ei && ei->code ? ei->code : -errno;
		goto out;
	}
	sa_hist_decode_mut(h)->windows++;
	s.total = len;
	err = sa_session_run(&s, dec, 0);
	if (err) {
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", r->trace_file,
			       sa_strerror(err));
		goto out;
	}
	/* A wrong trace ID or protocol decodes to nothing at all: say so
	 * rather than return an empty history.
	 */
	es = sa_etm_stats(dec);
	if (!sa_dec_stats(dec)->ranges && !es->nacc)
		err = sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
				     "%s: no program flow for trace ID %#x "
				     "(%s); check the trace ID, protocol and "
				     "registers", r->trace_file, r->trace_id,
				     sa_cs_protocol_name(r->protocol ?
							 r->protocol :
							 SA_CS_PROTO_ETMV4));
out:
	sa_dec__free(dec);
	if (buf)
		munmap(buf, len);
	sa_session_fini(&s);
	return err;
}
