// SPDX-License-Identifier: BSD-2-Clause
/*
 * CoreSight inputs into histories: snapshot directories and raw dumps.
 * (cs_etm perf.data goes through the session module, which calls
 * sa_cs_perf_info_parse() and sa_cs_perf_decoder__new().)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/log.h"
#include "sensor/sites.h"
#include "cs_priv.h"

int sa_cs_add_opts_image(struct sa_image *img, const struct sa_decode_opts *o,
			 struct sa_errinfo *ei)
{
	size_t i;
	int err;

	if (!o)
		return 0;
	if (o->symfs) {
		err = sa_image_set_symfs(img, o->symfs);
		if (err)
			return sa_errinfo_set(ei, err, SA_NO_OFFSET,
					      "--symfs %s: %s", o->symfs,
					      sa_strerror(err));
	}
	for (i = 0; i < o->nr_binaries; i++) {
		const struct sa_binary_opt *b = &o->binaries[i];

		err = sa_image_load_elf(img, b->path,
					b->addr == SA_ADDR_NONE ? UINT64_MAX :
								  b->addr, ei);
		if (err)
			return err;
	}
	for (i = 0; i < o->nr_images; i++) {
		const struct sa_raw_image *r = &o->images[i];

		err = sa_image_add_raw(img, r->path, r->offset, r->size,
				       r->addr, ei);
		if (err)
			return err;
	}
	return 0;
}

int sa_cs_run_to_hist(struct sa_dec *dec, struct sa_image *img,
		      const struct sa_decode_opts *o, struct sa_hist *h,
		      struct sa_errinfo *ei)
{
	struct sa_hist_builder *b = NULL;
	struct sa_sitemap *sites;
	struct sa_hist_decode *hd;
	const struct sa_dec_stats *st;
	struct sa_elem e;
	uint64_t last_progress = 0;
	int err;

	sites = sa_sitemap__new(img);
	if (sites)
		b = sa_hist_builder__new(h, img, sites);
	if (!b) {
		sa_sitemap__free(sites);
		return sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
				      "out of memory");
	}
	if (o && o->branch_fn)
		sa_hist_builder_set_branch_fn(b, o->branch_fn, o->branch_ctx);

	st = sa_dec_stats(dec);
	while ((err = sa_dec_next(dec, &e)) > 0) {
		err = sa_hist_builder_add(b, &e);
		if (err)
			break;
		if (o && o->progress_fn && e.offset - last_progress >= 65536) {
			last_progress = e.offset;
			o->progress_fn(o->progress_ctx, e.offset,
				       st->trace_bytes);
		}
	}
	if (!err)
		err = sa_hist_builder_flush(b);
	if (err)
		sa_errinfo_set(ei, err, SA_NO_OFFSET,
			       "CoreSight decode: %s", sa_strerror(err));

	hd = sa_hist_decode_mut(h);
	hd->windows++;
	hd->trace_bytes += st->trace_bytes;
	/* errors, overflows and losses come from the gap elements */

	sa_hist_builder__free(b);
	sa_sitemap__free(sites);
	return err;
}

int sa_cs_decode_snapshot(const char *dir, const struct sa_decode_opts *o,
			  struct sa_hist *h, struct sa_errinfo *ei)
{
	struct sa_cs_snapshot *ss;
	struct sa_image *img;
	size_t i, decoded = 0;
	int err, first_err = 0;
	struct sa_errinfo e2;

	ss = sa_cs_snapshot__open(dir, ei);
	if (!ss)
		return ei && ei->code ? ei->code : -errno;
	img = sa_image__new(SA_ARCH_UNKNOWN);
	if (!img) {
		sa_cs_snapshot__free(ss);
		return sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
				      "out of memory");
	}
	err = sa_cs_snapshot_load_image(ss, img, ei);
	if (err < 0)
		goto out;
	if (err > 0)
		sa_hist_note_error(h, SA_NO_OFFSET, -SA_ERR_NOTFOUND,
				   SA_GAP_LOST, 0);
	err = sa_cs_add_opts_image(img, o, ei);
	if (err)
		goto out;

	for (i = 0; i < sa_cs_snapshot_nr_buffers(ss); i++) {
		struct sa_dec *dec;

		if (!sa_cs_snapshot_buffer_nr_sources(ss, i))
			continue;	/* STM/ITM only */
		dec = sa_cs_snapshot_decoder(ss, i, img, 0, &e2);
		if (!dec) {
			sa_warn("%s", e2.msg);
			if (!first_err) {
				first_err = e2.code ? e2.code : -EINVAL;
				if (ei)
					*ei = e2;
			}
			continue;
		}
		err = sa_cs_run_to_hist(dec, img, o, h, ei);
		sa_dec__free(dec);
		if (err)
			goto out;
		decoded++;
	}
	err = decoded ? 0 : (first_err ? first_err :
			     sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
					    "%s: no trace buffer with an ETM, "
					    "PTM or ETE source", dir));
out:
	sa_image__free(img);
	sa_cs_snapshot__free(ss);
	return err;
}

int sa_cs_decode_raw(const struct sa_decode_opts *o, struct sa_hist *h,
		     struct sa_errinfo *ei)
{
	const struct sa_cs_raw_opts *r = o ? o->cs_raw : NULL;
	struct sa_image *img = NULL;
	struct sa_dec *dec = NULL;
	const struct sa_etm_stats *es;
	uint8_t *buf = NULL;
	size_t len;
	int err;

	if (!r || !r->trace_file)
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "raw CoreSight decode needs a trace "
				      "file and a trace ID");
	err = sa_cs_read_file(r->trace_file, SA_CS_TRACE_MAX_BYTES, &buf,
			      &len, ei);
	if (err)
		return err;
	if (!len) {
		err = sa_errinfo_set(ei, -SA_ERR_NODATA, 0, "%s: empty",
				     r->trace_file);
		goto out;
	}
	img = sa_image__new(SA_ARCH_UNKNOWN);
	if (!img) {
		err = sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
				     "out of memory");
		goto out;
	}
	err = sa_cs_add_opts_image(img, o, ei);
	if (err)
		goto out;
	dec = sa_cs_raw_decoder__new(r, buf, len, img, ei);
	if (!dec) {
		err = ei && ei->code ? ei->code : -errno;
		goto out;
	}
	err = sa_cs_run_to_hist(dec, img, o, h, ei);
	if (err)
		goto out;
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
	sa_image__free(img);
	free(buf);
	return err;
}
