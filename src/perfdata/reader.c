// SPDX-License-Identifier: BSD-2-Clause
/*
 * perf.data (PERFILE2) reader.
 *
 * The file is mapped read-only and every structure is bounds-checked
 * against the mapping before it is touched: a perf.data file is outside
 * input (it may come from another machine, a crashed perf, or a fuzzer).
 * Multi-byte fields are read with memcpy so that odd offsets (simpleperf's
 * build-id records are not 8-aligned) are never unaligned loads.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/file.h"
#include "sensor/log.h"
#include "sensor/perfdata.h"
#include "pd_format.h"

/* Caps on what a file can make us allocate (curl dynbuf style). */
#define SA_PD_MAX_ATTRS		4096
#define SA_PD_MAX_ATTR_SIZE	4096
#define SA_PD_MAX_IDS		(1u << 20)	/* over all attrs */
#define SA_PD_MAX_BUILD_IDS	(1u << 20)
#define SA_PD_MAX_INDEX		(1u << 24)
#define SA_PD_MAX_CMDLINE_ARGS	65536

#define SA_PD_SID_MASK                                                     \
	(PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ID |             \
	 PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU | PERF_SAMPLE_IDENTIFIER)

struct sa_pd_idmap {
	uint64_t id;
	size_t attr;
};

struct sa_pd {
	char *name;
	const uint8_t *buf;
	size_t len;
	void *map;		/* sa_pd__open: the mapping */
	void *copy;		/* sa_pd__open_mem on a misaligned buffer */

	uint64_t attr_size;
	uint64_t data_off, data_end;
	uint64_t feat[SA_PD_FEAT_BITS / 64];

	struct sa_pd_attr *attrs;
	uint64_t **ids;		/* per attr, heap */
	char **names;		/* per attr, heap (EVENT_DESC) */
	size_t nr_attrs;
	struct sa_pd_idmap *idmap;
	size_t nr_idmap;

	/* sample_id_all trailer: uniform over all attrs, or found by
	 * PERF_SAMPLE_IDENTIFIER (the last u64) as perf does.
	 */
	bool sid_uniform;
	uint64_t sid_type;	/* when uniform; 0 = no trailer */

	char *cpuid, *cmdline, *arch;
	struct sa_pd_build_id *bids;
	size_t nr_bids;
	struct sa_pd_auxtrace_index_entry *aux_index;
	size_t nr_aux_index;

	uint64_t pos;
	struct sa_errinfo err;	/* sticky iterator error */
};

static int pd_err(const struct sa_pd *pd, struct sa_errinfo *ei, int code,
		  uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Every message names the file and the offset, then says what is wrong. */
static int pd_err(const struct sa_pd *pd, struct sa_errinfo *ei, int code,
		  uint64_t off, const char *fmt, ...)
{
	char what[SA_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (off == SA_NO_OFFSET)
		return sa_errinfo_set(ei, code, off, "%s: %s", pd->name, what);
	return sa_errinfo_set(ei, code, off, "%s: offset %#" PRIx64 ": %s",
			      pd->name, off, what);
}

/* True when [off, off + size) lies inside [0, limit). */
static bool in_bounds(uint64_t off, uint64_t size, uint64_t limit)
{
	return off <= limit && size <= limit - off;
}

static char *dup_bounded(const uint8_t *p, size_t max)
{
	size_t n = strnlen((const char *)p, max);
	char *s = malloc(n + 1);

	if (!s)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static const char *const sa_pd_type_names[] = {
	[PERF_RECORD_MMAP] = "MMAP",
	[PERF_RECORD_LOST] = "LOST",
	[PERF_RECORD_COMM] = "COMM",
	[PERF_RECORD_EXIT] = "EXIT",
	[PERF_RECORD_THROTTLE] = "THROTTLE",
	[PERF_RECORD_UNTHROTTLE] = "UNTHROTTLE",
	[PERF_RECORD_FORK] = "FORK",
	[PERF_RECORD_READ] = "READ",
	[PERF_RECORD_SAMPLE] = "SAMPLE",
	[PERF_RECORD_MMAP2] = "MMAP2",
	[PERF_RECORD_AUX] = "AUX",
	[PERF_RECORD_ITRACE_START] = "ITRACE_START",
	[PERF_RECORD_LOST_SAMPLES] = "LOST_SAMPLES",
	[PERF_RECORD_SWITCH] = "SWITCH",
	[PERF_RECORD_SWITCH_CPU_WIDE] = "SWITCH_CPU_WIDE",
	[PERF_RECORD_NAMESPACES] = "NAMESPACES",
	[PERF_RECORD_KSYMBOL] = "KSYMBOL",
	[PERF_RECORD_BPF_EVENT] = "BPF_EVENT",
	[PERF_RECORD_CGROUP] = "CGROUP",
	[PERF_RECORD_TEXT_POKE] = "TEXT_POKE",
	[PERF_RECORD_AUX_OUTPUT_HW_ID] = "AUX_OUTPUT_HW_ID",
	[SA_PD_HEADER_ATTR] = "ATTR",
	[SA_PD_HEADER_EVENT_TYPE] = "EVENT_TYPE",
	[SA_PD_HEADER_TRACING_DATA] = "TRACING_DATA",
	[SA_PD_HEADER_BUILD_ID] = "BUILD_ID",
	[SA_PD_FINISHED_ROUND] = "FINISHED_ROUND",
	[SA_PD_ID_INDEX] = "ID_INDEX",
	[SA_PD_AUXTRACE_INFO] = "AUXTRACE_INFO",
	[SA_PD_AUXTRACE] = "AUXTRACE",
	[SA_PD_AUXTRACE_ERROR] = "AUXTRACE_ERROR",
	[SA_PD_THREAD_MAP] = "THREAD_MAP",
	[SA_PD_CPU_MAP] = "CPU_MAP",
	[SA_PD_STAT_CONFIG] = "STAT_CONFIG",
	[SA_PD_STAT] = "STAT",
	[SA_PD_STAT_ROUND] = "STAT_ROUND",
	[SA_PD_EVENT_UPDATE] = "EVENT_UPDATE",
	[SA_PD_TIME_CONV] = "TIME_CONV",
	[SA_PD_HEADER_FEATURE] = "FEATURE",
	[SA_PD_COMPRESSED] = "COMPRESSED",
	[SA_PD_FINISHED_INIT] = "FINISHED_INIT",
};

const char *sa_pd_type_name(uint32_t type)
{
	if (type < sizeof(sa_pd_type_names) / sizeof(sa_pd_type_names[0]) &&
	    sa_pd_type_names[type])
		return sa_pd_type_names[type];
	return "UNKNOWN";
}

/*
 * Header and attrs.
 */

static int pd_read_header(struct sa_pd *pd, struct sa_errinfo *ei)
{
	const uint8_t *b = pd->buf;
	uint64_t magic, hsize, data_size;

	if (pd->len < 8)
		return pd_err(pd, ei, -SA_ERR_FORMAT, 0,
			      "not a perf.data file: %zu bytes, too short for "
			      "the PERFILE2 magic", pd->len);
	magic = sa_pd_get64(b);
	if (magic == SA_PD_MAGIC2_SWAPPED)
		return pd_err(pd, ei, -SA_ERR_UNSUPPORTED, 0,
			      "big-endian perf.data (byte-swapped PERFILE2 "
			      "magic) is not supported; convert it on the "
			      "recording machine with perf inject");
	if (magic == SA_PD_MAGIC1)
		return pd_err(pd, ei, -SA_ERR_UNSUPPORTED, 0,
			      "version 1 perf.data (PERFFILE magic) is not "
			      "supported; only PERFILE2");
	if (magic != SA_PD_MAGIC2)
		return pd_err(pd, ei, -SA_ERR_FORMAT, 0,
			      "not a perf.data file (no PERFILE2 magic)");
	if (pd->len < 16)
		return pd_err(pd, ei, -SA_ERR_TRUNCATED, 8,
			      "file ends inside the header (%zu bytes)",
			      pd->len);
	hsize = sa_pd_get64(b + SA_PD_OFF_SIZE);
	if (hsize == SA_PD_PIPE_HDR_SIZE)
		return pd_err(pd, ei, -SA_ERR_UNSUPPORTED, 8,
			      "pipe-mode perf.data stream (header size 16) is "
			      "not supported; record with perf record -o FILE, "
			      "or convert with perf inject -i - -o FILE");
	if (hsize != SA_PD_HDR_SIZE && hsize != SA_PD_HDR_SIZE_NOFEAT)
		return pd_err(pd, ei, -SA_ERR_FORMAT, 8,
			      "header size %" PRIu64 " is neither %d nor %d",
			      hsize, SA_PD_HDR_SIZE, SA_PD_HDR_SIZE_NOFEAT);
	if (pd->len < hsize)
		return pd_err(pd, ei, -SA_ERR_TRUNCATED, 16,
			      "file ends inside the %" PRIu64
			      "-byte header (%zu bytes)", hsize, pd->len);
	pd->attr_size = sa_pd_get64(b + SA_PD_OFF_ATTR_SIZE);
	pd->data_off = sa_pd_get64(b + SA_PD_OFF_DATA);
	data_size = sa_pd_get64(b + SA_PD_OFF_DATA + 8);
	if (!in_bounds(pd->data_off, data_size, pd->len))
		return pd_err(pd, ei, -SA_ERR_TRUNCATED, SA_PD_OFF_DATA,
			      "data section [%#" PRIx64 ", +%#" PRIx64
			      ") runs past the end of the file (%zu bytes)",
			      pd->data_off, data_size, pd->len);
	if (pd->data_off < hsize)
		return pd_err(pd, ei, -SA_ERR_CORRUPT, SA_PD_OFF_DATA,
			      "data section offset %#" PRIx64
			      " overlaps the header", pd->data_off);
	pd->data_end = pd->data_off + data_size;
	if (hsize == SA_PD_HDR_SIZE)
		memcpy(pd->feat, b + SA_PD_OFF_FEATURES, sizeof(pd->feat));
	return 0;
}

static int idmap_cmp(const void *a, const void *b)
{
	const struct sa_pd_idmap *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->attr < y->attr ? -1 : x->attr > y->attr;
}

static int pd_read_attrs(struct sa_pd *pd, struct sa_errinfo *ei)
{
	uint64_t off = sa_pd_get64(pd->buf + SA_PD_OFF_ATTRS);
	uint64_t size = sa_pd_get64(pd->buf + SA_PD_OFF_ATTRS + 8);
	uint64_t asz = pd->attr_size, fasz, nr, total_ids = 0, i;
	size_t k = 0;

	if (asz < PERF_ATTR_SIZE_VER0 + SA_PD_SECTION_SIZE ||
	    asz > SA_PD_MAX_ATTR_SIZE)
		return pd_err(pd, ei, -SA_ERR_FORMAT, SA_PD_OFF_ATTR_SIZE,
			      "attr_size %" PRIu64 " is out of range [%d, %d]",
			      asz, PERF_ATTR_SIZE_VER0 + SA_PD_SECTION_SIZE,
			      SA_PD_MAX_ATTR_SIZE);
	fasz = asz - SA_PD_SECTION_SIZE;
	if (!in_bounds(off, size, pd->len))
		return pd_err(pd, ei, -SA_ERR_TRUNCATED, SA_PD_OFF_ATTRS,
			      "attr section [%#" PRIx64 ", +%#" PRIx64
			      ") runs past the end of the file (%zu bytes)",
			      off, size, pd->len);
	if (size % asz)
		return pd_err(pd, ei, -SA_ERR_CORRUPT, SA_PD_OFF_ATTRS,
			      "attr section size %" PRIu64
			      " is not a multiple of attr_size %" PRIu64,
			      size, asz);
	nr = size / asz;
	if (nr == 0)
		return pd_err(pd, ei, -SA_ERR_FORMAT, SA_PD_OFF_ATTRS,
			      "the file has no event attributes");
	if (nr > SA_PD_MAX_ATTRS)
		return pd_err(pd, ei, -SA_ERR_TOOBIG, SA_PD_OFF_ATTRS,
			      "%" PRIu64 " attrs, more than the cap of %d",
			      nr, SA_PD_MAX_ATTRS);
	pd->attrs = calloc(nr, sizeof(*pd->attrs));
	pd->ids = calloc(nr, sizeof(*pd->ids));
	pd->names = calloc(nr, sizeof(*pd->names));
	if (!pd->attrs || !pd->ids || !pd->names)
		return -ENOMEM;
	pd->nr_attrs = nr;

	for (i = 0; i < nr; i++) {
		const uint8_t *a = pd->buf + off + i * asz;
		uint64_t aoff = off + i * asz;
		struct sa_pd_attr *pa = &pd->attrs[i];
		uint32_t fsz = sa_pd_get32(a + 4);
		uint64_t ids_off, ids_size, j;
		size_t ncopy = fasz;

		/* perf writes attr.size == attr_size - 16; size 0 is the
		 * first ABI (64 bytes).  Anything else would put the ids
		 * section somewhere perf itself would not look.
		 */
		if (fsz != 0 && fsz != fasz)
			return pd_err(pd, ei, -SA_ERR_CORRUPT, aoff + 4,
				      "attr %" PRIu64 " has size %u but the "
				      "header's attr_size says %" PRIu64,
				      i, fsz, fasz);
		if (ncopy > sizeof(pa->attr)) {
			for (j = sizeof(pa->attr); j < fasz; j++)
				if (a[j])
					break;
			if (j < fasz)
				sa_warn("%s: attr %" PRIu64 " uses fields "
					"beyond the %zu bytes this build "
					"knows (newer perf ABI); they are "
					"ignored\n", pd->name, i,
					sizeof(pa->attr));
			ncopy = sizeof(pa->attr);
		}
		memcpy(&pa->attr, a, ncopy);
		pa->file_size = fsz;

		ids_off = sa_pd_get64(a + fasz);
		ids_size = sa_pd_get64(a + fasz + 8);
		if (!in_bounds(ids_off, ids_size, pd->len))
			return pd_err(pd, ei, -SA_ERR_TRUNCATED, aoff + fasz,
				      "ids of attr %" PRIu64 " [%#" PRIx64
				      ", +%#" PRIx64 ") run past the end of "
				      "the file", i, ids_off, ids_size);
		if (ids_size % 8)
			return pd_err(pd, ei, -SA_ERR_CORRUPT, aoff + fasz,
				      "ids size %" PRIu64 " of attr %" PRIu64
				      " is not a multiple of 8", ids_size, i);
		pa->nr_ids = ids_size / 8;
		total_ids += pa->nr_ids;
		if (total_ids > SA_PD_MAX_IDS)
			return pd_err(pd, ei, -SA_ERR_TOOBIG, aoff + fasz,
				      "more than %u sample ids (the limit)", SA_PD_MAX_IDS);
		if (pa->nr_ids) {
			pd->ids[i] = malloc(ids_size);
			if (!pd->ids[i])
				return -ENOMEM;
			memcpy(pd->ids[i], pd->buf + ids_off, ids_size);
		}
		pa->ids = pd->ids[i];
	}

	if (total_ids) {
		pd->idmap = calloc(total_ids, sizeof(*pd->idmap));
		if (!pd->idmap)
			return -ENOMEM;
		for (i = 0; i < nr; i++) {
			size_t j;

			for (j = 0; j < pd->attrs[i].nr_ids; j++) {
				pd->idmap[k].id = pd->attrs[i].ids[j];
				pd->idmap[k].attr = i;
				k++;
			}
		}
		qsort(pd->idmap, k, sizeof(*pd->idmap), idmap_cmp);
		pd->nr_idmap = k;
	}
	return 0;
}

static uint64_t attr_sid_type(const struct perf_event_attr *a)
{
	return a->sample_id_all ? (a->sample_type & SA_PD_SID_MASK) : 0;
}

/* Decides how to find each record's sample_id_all trailer.  perf refuses
 * files whose attrs disagree on the trailer unless each trailer ends in
 * PERF_SAMPLE_IDENTIFIER; so do we.
 */
static int pd_setup_sid(struct sa_pd *pd, struct sa_errinfo *ei)
{
	uint64_t t0 = attr_sid_type(&pd->attrs[0].attr);
	bool all_ident = true;
	size_t i;

	pd->sid_uniform = true;
	pd->sid_type = t0;
	for (i = 0; i < pd->nr_attrs; i++) {
		uint64_t t = attr_sid_type(&pd->attrs[i].attr);

		if (t != t0)
			pd->sid_uniform = false;
		if (!(t & PERF_SAMPLE_IDENTIFIER))
			all_ident = false;
	}
	if (!pd->sid_uniform && !all_ident)
		return pd_err(pd, ei, -SA_ERR_UNSUPPORTED, SA_PD_OFF_ATTRS,
			      "the attrs have different sample_id_all layouts "
			      "and no PERF_SAMPLE_IDENTIFIER, so records "
			      "cannot be attributed (perf refuses such files "
			      "too)");
	return 0;
}

/*
 * Feature sections.
 */

struct pd_cursor {
	const uint8_t *p;
	uint64_t off;		/* file offset of p */
	uint64_t left;
};

static int cur_u32(struct sa_pd *pd, struct pd_cursor *c, uint32_t *v,
		   const char *what, struct sa_errinfo *ei)
{
	if (c->left < 4)
		return pd_err(pd, ei, -SA_ERR_TRUNCATED, c->off,
			      "%s runs past the end of its feature section",
			      what);
	*v = sa_pd_get32(c->p);
	c->p += 4;
	c->off += 4;
	c->left -= 4;
	return 0;
}

static int cur_u64(struct sa_pd *pd, struct pd_cursor *c, uint64_t *v,
		   const char *what, struct sa_errinfo *ei)
{
	if (c->left < 8)
		return pd_err(pd, ei, -SA_ERR_TRUNCATED, c->off,
			      "%s runs past the end of its feature section",
			      what);
	*v = sa_pd_get64(c->p);
	c->p += 8;
	c->off += 8;
	c->left -= 8;
	return 0;
}

static int cur_skip(struct sa_pd *pd, struct pd_cursor *c, uint64_t n,
		    const char *what, struct sa_errinfo *ei)
{
	if (c->left < n)
		return pd_err(pd, ei, -SA_ERR_TRUNCATED, c->off,
			      "%s (%" PRIu64 " bytes) runs past the end of "
			      "its feature section", what, n);
	c->p += n;
	c->off += n;
	c->left -= n;
	return 0;
}

/* perf's do_read_string: u32 length (padded, NUL included), bytes. */
static int cur_string(struct sa_pd *pd, struct pd_cursor *c,
		      const uint8_t **s, size_t *slen, const char *what,
		      struct sa_errinfo *ei)
{
	uint32_t len = 0;
	int err;

	err = cur_u32(pd, c, &len, what, ei);
	if (err)
		return err;
	*s = c->p;
	*slen = strnlen((const char *)c->p, len <= c->left ? len : 0);
	return cur_skip(pd, c, len, what, ei);
}

static int feat_string(struct sa_pd *pd, struct pd_cursor *c, char **out,
		       const char *what, struct sa_errinfo *ei)
{
	const uint8_t *s;
	size_t n;
	int err = cur_string(pd, c, &s, &n, what, ei);

	if (err)
		return err;
	*out = malloc(n + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	return 0;
}

static int feat_cmdline(struct sa_pd *pd, struct pd_cursor *c,
			struct sa_errinfo *ei)
{
	struct pd_cursor c2;
	uint32_t nr = 0, i;
	size_t total = 1, pos = 0;
	int err;

	err = cur_u32(pd, c, &nr, "CMDLINE count", ei);
	if (err)
		return err;
	if (nr > SA_PD_MAX_CMDLINE_ARGS)
		return pd_err(pd, ei, -SA_ERR_TOOBIG, c->off - 4,
			      "CMDLINE has %u arguments, more than the cap "
			      "of %d", nr, SA_PD_MAX_CMDLINE_ARGS);
	/* Two passes: measure, then join (the total is bounded by the
	 * section size, which is bounded by the file).
	 */
	c2 = *c;
	for (i = 0; i < nr; i++) {
		const uint8_t *s;
		size_t n;

		err = cur_string(pd, &c2, &s, &n, "CMDLINE argument", ei);
		if (err)
			return err;
		total += n + 1;
	}
	pd->cmdline = malloc(total);
	if (!pd->cmdline)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		const uint8_t *s;
		size_t n;

		cur_string(pd, c, &s, &n, "CMDLINE argument", ei);
		if (i)
			pd->cmdline[pos++] = ' ';
		memcpy(pd->cmdline + pos, s, n);
		pos += n;
	}
	pd->cmdline[pos] = '\0';
	return 0;
}

static int feat_event_desc(struct sa_pd *pd, struct pd_cursor *c,
			   struct sa_errinfo *ei)
{
	uint32_t nre = 0, sz = 0, i;
	int err;

	err = cur_u32(pd, c, &nre, "EVENT_DESC count", ei);
	if (!err)
		err = cur_u32(pd, c, &sz, "EVENT_DESC attr size", ei);
	if (err)
		return err;
	if (sz < PERF_ATTR_SIZE_VER0 || sz > SA_PD_MAX_ATTR_SIZE)
		return pd_err(pd, ei, -SA_ERR_CORRUPT, c->off - 4,
			      "EVENT_DESC attr size %u is out of range", sz);
	if (nre > SA_PD_MAX_ATTRS)
		return pd_err(pd, ei, -SA_ERR_TOOBIG, c->off - 8,
			      "EVENT_DESC has %u events, more than the cap "
			      "of %d", nre, SA_PD_MAX_ATTRS);
	for (i = 0; i < nre; i++) {
		const uint8_t *name, *ids;
		size_t nlen;
		uint32_t nr_ids = 0;
		uint64_t id0 = 0;
		const struct sa_pd_attr *a = NULL;
		size_t idx;

		err = cur_skip(pd, c, sz, "EVENT_DESC attr", ei);
		if (!err)
			err = cur_u32(pd, c, &nr_ids, "EVENT_DESC id count",
				      ei);
		if (!err)
			err = cur_string(pd, c, &name, &nlen,
					 "EVENT_DESC name", ei);
		ids = c->p;
		if (!err)
			err = cur_skip(pd, c, (uint64_t)nr_ids * 8,
				       "EVENT_DESC ids", ei);
		if (err)
			return err;
		if (nr_ids)
			id0 = sa_pd_get64(ids);
		/* perf matches a description to its evsel by first id. */
		if (nr_ids)
			a = sa_pd_attr_by_id(pd, id0);
		idx = a ? (size_t)(a - pd->attrs) : i;
		if (idx >= pd->nr_attrs || pd->names[idx])
			continue;
		pd->names[idx] = malloc(nlen + 1);
		if (!pd->names[idx])
			return -ENOMEM;
		memcpy(pd->names[idx], name, nlen);
		pd->names[idx][nlen] = '\0';
		pd->attrs[idx].name = pd->names[idx];
	}
	return 0;
}

static int feat_build_id(struct sa_pd *pd, struct pd_cursor *c,
			 struct sa_errinfo *ei)
{
	size_t cap = 0;

	while (c->left) {
		struct sa_pd_build_id *b;
		uint16_t misc, size;
		const uint8_t *r = c->p;

		if (c->left < SA_PD_BUILD_ID_REC_MIN)
			return pd_err(pd, ei, -SA_ERR_TRUNCATED, c->off,
				      "BUILD_ID record needs %d bytes, the "
				      "section has %" PRIu64 " left",
				      SA_PD_BUILD_ID_REC_MIN, c->left);
		misc = sa_pd_get16(r + 4);
		size = sa_pd_get16(r + 6);
		if (size < SA_PD_BUILD_ID_REC_MIN || size > c->left)
			return pd_err(pd, ei, -SA_ERR_CORRUPT, c->off,
				      "BUILD_ID record size %u is out of "
				      "range [%d, %" PRIu64 "]", size,
				      SA_PD_BUILD_ID_REC_MIN, c->left);
		if (pd->nr_bids == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *n;

			if (ncap > SA_PD_MAX_BUILD_IDS)
				return pd_err(pd, ei, -SA_ERR_TOOBIG, c->off,
					      "more than %u build-ids (the limit)",
					      SA_PD_MAX_BUILD_IDS);
			n = realloc(pd->bids, ncap * sizeof(*pd->bids));
			if (!n)
				return -ENOMEM;
			pd->bids = n;
			cap = ncap;
		}
		b = &pd->bids[pd->nr_bids];
		memset(b, 0, sizeof(*b));
		b->pid = (int32_t)sa_pd_get32(r + 8);
		memcpy(b->id, r + 12, 20);
		b->misc = misc & ~SA_PD_MISC_BUILD_ID_SIZE;
		b->size = 20;
		if ((misc & SA_PD_MISC_BUILD_ID_SIZE) && r[32] <= 20)
			b->size = r[32];
		b->filename = dup_bounded(r + SA_PD_BUILD_ID_REC_MIN,
					  size - SA_PD_BUILD_ID_REC_MIN);
		if (!b->filename)
			return -ENOMEM;
		pd->nr_bids++;
		cur_skip(pd, c, size, "BUILD_ID record", ei);
	}
	return 0;
}

static int feat_auxtrace(struct sa_pd *pd, struct pd_cursor *c,
			 struct sa_errinfo *ei)
{
	uint64_t nr = 0, i, sec_off = c->off;

	/* perf: u64 count, then {file_offset, size} pairs, so the section
	 * size is 8 mod 16.  simpleperf writes the pairs without a count
	 * (0 mod 16), and its size is the record header only.
	 */
	if (c->left % 16 == 8) {
		cur_u64(pd, c, &nr, "AUXTRACE index count", ei);
		if (nr != c->left / 16)
			return pd_err(pd, ei, -SA_ERR_CORRUPT, sec_off,
				      "AUXTRACE index claims %" PRIu64
				      " entries, its section holds %" PRIu64,
				      nr, c->left / 16);
	} else if (c->left % 16 == 0) {
		nr = c->left / 16;
		sa_debug("%s: AUXTRACE index without a count (simpleperf)\n",
			 pd->name);
	} else {
		return pd_err(pd, ei, -SA_ERR_CORRUPT, sec_off,
			      "AUXTRACE index section size %" PRIu64
			      " fits neither perf's nor simpleperf's layout",
			      c->left);
	}
	if (nr > SA_PD_MAX_INDEX)
		return pd_err(pd, ei, -SA_ERR_TOOBIG, sec_off,
			      "AUXTRACE index has %" PRIu64 " entries, more "
			      "than the cap of %u", nr, SA_PD_MAX_INDEX);
	if (!nr)
		return 0;
	pd->aux_index = calloc(nr, sizeof(*pd->aux_index));
	if (!pd->aux_index)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		struct sa_pd_auxtrace_index_entry *e = &pd->aux_index[i];
		uint64_t eoff = c->off;

		cur_u64(pd, c, &e->file_offset, "AUXTRACE index", ei);
		cur_u64(pd, c, &e->size, "AUXTRACE index", ei);
		if (e->file_offset < pd->data_off ||
		    !in_bounds(e->file_offset, SA_PD_AUXTRACE_REC_SIZE,
			       pd->data_end) ||
		    !in_bounds(e->file_offset, e->size, pd->data_end))
			return pd_err(pd, ei, -SA_ERR_CORRUPT, eoff,
				      "AUXTRACE index entry %" PRIu64
				      " [%#" PRIx64 ", +%#" PRIx64 ") is not "
				      "inside the data section", i,
				      e->file_offset, e->size);
		if (sa_pd_get32(pd->buf + e->file_offset) != SA_PD_AUXTRACE)
			return pd_err(pd, ei, -SA_ERR_CORRUPT, eoff,
				      "AUXTRACE index entry %" PRIu64
				      " points to %#" PRIx64 ", which is not "
				      "an AUXTRACE record", i, e->file_offset);
	}
	pd->nr_aux_index = nr;
	return 0;
}

static int pd_read_features(struct sa_pd *pd, struct sa_errinfo *ei)
{
	uint64_t tab = pd->data_end, nsec = 0;
	unsigned int bit;
	int err;

	for (bit = 0; bit < SA_PD_FEAT_BITS; bit++)
		if (pd->feat[bit / 64] & (1ULL << (bit % 64)))
			nsec++;
	if (!nsec)
		return 0;
	if (!in_bounds(tab, nsec * SA_PD_SECTION_SIZE, pd->len))
		return pd_err(pd, ei, -SA_ERR_TRUNCATED, tab,
			      "feature section table (%" PRIu64 " entries) "
			      "runs past the end of the file (%zu bytes)",
			      nsec, pd->len);
	/* One table entry per set bit, in bit order, for all 256 bits:
	 * simpleperf sets its own bits from 128 up.
	 */
	for (bit = 0; bit < SA_PD_FEAT_BITS; bit++) {
		struct pd_cursor c;
		uint64_t off, size;

		if (!(pd->feat[bit / 64] & (1ULL << (bit % 64))))
			continue;
		off = sa_pd_get64(pd->buf + tab);
		size = sa_pd_get64(pd->buf + tab + 8);
		if (!in_bounds(off, size, pd->len))
			return pd_err(pd, ei, -SA_ERR_TRUNCATED, tab,
				      "feature %u section [%#" PRIx64 ", +%#"
				      PRIx64 ") runs past the end of the file "
				      "(%zu bytes)", bit, off, size, pd->len);
		tab += SA_PD_SECTION_SIZE;
		c.p = pd->buf + off;
		c.off = off;
		c.left = size;
		switch (bit) {
		case SA_PD_FEAT_BUILD_ID:
			err = feat_build_id(pd, &c, ei);
			break;
		case SA_PD_FEAT_CPUID:
			err = feat_string(pd, &c, &pd->cpuid, "CPUID", ei);
			break;
		case SA_PD_FEAT_ARCH:
			err = feat_string(pd, &c, &pd->arch, "ARCH", ei);
			break;
		case SA_PD_FEAT_CMDLINE:
			err = feat_cmdline(pd, &c, ei);
			break;
		case SA_PD_FEAT_EVENT_DESC:
			err = feat_event_desc(pd, &c, ei);
			break;
		case SA_PD_FEAT_AUXTRACE:
			err = feat_auxtrace(pd, &c, ei);
			break;
		default:
			err = 0;	/* unknown or unused: skipped */
			break;
		}
		if (err)
			return err;
	}
	return 0;
}

/*
 * Open and close.
 */

static struct sa_pd *pd_alloc(const char *name)
{
	struct sa_pd *pd = calloc(1, sizeof(*pd));

	if (!pd)
		return NULL;
	pd->name = strdup(name ? name : "perf.data");
	if (!pd->name) {
		free(pd);
		return NULL;
	}
	sa_errinfo_clear(&pd->err);
	return pd;
}

static struct sa_pd *pd_finish_open(struct sa_pd *pd, struct sa_errinfo *ei)
{
	int err;

	err = pd_read_header(pd, ei);
	if (!err)
		err = pd_read_attrs(pd, ei);
	if (!err)
		err = pd_setup_sid(pd, ei);
	if (!err)
		err = pd_read_features(pd, ei);
	if (err) {
		if (err == -ENOMEM)
			pd_err(pd, ei, err, SA_NO_OFFSET, "out of memory");
		sa_pd__close(pd);
		errno = -err < SA_ERR_BASE ? -err : EINVAL;
		return NULL;
	}
	pd->pos = pd->data_off;
	return pd;
}

struct sa_pd *sa_pd__open_mem(const void *buf, size_t len, const char *name,
			      struct sa_errinfo *ei)
{
	struct sa_pd *pd;

	sa_errinfo_clear(ei);
	if (!buf && len) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "sa_pd__open_mem: NULL buffer");
		errno = EINVAL;
		return NULL;
	}
	pd = pd_alloc(name);
	if (!pd) {
		errno = ENOMEM;
		return NULL;
	}
	pd->buf = buf;
	pd->len = len;
	/* Records hand out const uint64_t * into the buffer (AUXTRACE_INFO
	 * private data), so it must be 8-aligned.
	 */
	if (((uintptr_t)buf & 7) && len) {
		pd->copy = malloc(len);
		if (!pd->copy) {
			sa_pd__close(pd);
			errno = ENOMEM;
			return NULL;
		}
		memcpy(pd->copy, buf, len);
		pd->buf = pd->copy;
	}
	return pd_finish_open(pd, ei);
}

struct sa_pd *sa_pd__open(const char *path, struct sa_errinfo *ei)
{
	struct sa_pd *pd;
	struct stat st;
	int fd, err;

	sa_errinfo_clear(ei);
	pd = pd_alloc(path);
	if (!pd) {
		errno = ENOMEM;
		return NULL;
	}
	fd = sa_file_open_input(path, 0);
	if (fd == -ESPIPE || fd == -EISDIR) {
		err = EINVAL;
		pd_err(pd, ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
		       "not a regular file (a FIFO, socket, device or "
		       "pipe-mode stream cannot be mapped; save it to a "
		       "file first)");
		goto fail;
	}
	if (fd < 0) {
		err = -fd;
		pd_err(pd, ei, -err, SA_NO_OFFSET, "cannot open: %s",
		       strerror(err));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		err = errno;
		pd_err(pd, ei, -err, SA_NO_OFFSET, "cannot stat: %s",
		       strerror(err));
		goto fail_fd;
	}
	if (st.st_size == 0) {
		err = EINVAL;
		pd_err(pd, ei, -SA_ERR_FORMAT, 0,
		       "empty file, not a perf.data file");
		goto fail_fd;
	}
	pd->map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (pd->map == MAP_FAILED) {
		err = errno;
		pd->map = NULL;
		pd_err(pd, ei, -err, SA_NO_OFFSET, "cannot mmap: %s",
		       strerror(err));
		goto fail_fd;
	}
	close(fd);
	pd->buf = pd->map;
	pd->len = st.st_size;
	return pd_finish_open(pd, ei);

fail_fd:
	close(fd);
fail:
	sa_pd__close(pd);
	errno = err;
	return NULL;
}

void sa_pd__close(struct sa_pd *pd)
{
	size_t i;

	if (!pd)
		return;
	if (pd->map)
		munmap(pd->map, pd->len);
	free(pd->copy);
	for (i = 0; i < pd->nr_attrs; i++) {
		free(pd->ids[i]);
		free(pd->names[i]);
	}
	free(pd->ids);
	free(pd->names);
	free(pd->attrs);
	free(pd->idmap);
	free(pd->cpuid);
	free(pd->cmdline);
	free(pd->arch);
	for (i = 0; i < pd->nr_bids; i++)
		free((char *)pd->bids[i].filename);
	free(pd->bids);
	free(pd->aux_index);
	free(pd->name);
	free(pd);
}

/*
 * Accessors.
 */

size_t sa_pd_nr_attrs(const struct sa_pd *pd)
{
	return pd->nr_attrs;
}

const struct sa_pd_attr *sa_pd_attr(const struct sa_pd *pd, size_t idx)
{
	return idx < pd->nr_attrs ? &pd->attrs[idx] : NULL;
}

const struct sa_pd_attr *sa_pd_attr_by_id(const struct sa_pd *pd, uint64_t id)
{
	size_t lo = 0, hi = pd->nr_idmap;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pd->idmap[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < pd->nr_idmap && pd->idmap[lo].id == id)
		return &pd->attrs[pd->idmap[lo].attr];
	return NULL;
}

bool sa_pd_has_feature(const struct sa_pd *pd, int feat)
{
	if (feat < 0 || feat >= SA_PD_FEAT_BITS)
		return false;
	return pd->feat[feat / 64] & (1ULL << (feat % 64));
}

const char *sa_pd_cpuid(const struct sa_pd *pd)
{
	return pd->cpuid;
}

const char *sa_pd_cmdline(const struct sa_pd *pd)
{
	return pd->cmdline;
}

const char *sa_pd_arch(const struct sa_pd *pd)
{
	return pd->arch;
}

size_t sa_pd_nr_build_ids(const struct sa_pd *pd)
{
	return pd->nr_bids;
}

const struct sa_pd_build_id *sa_pd_build_id(const struct sa_pd *pd,
					    size_t idx)
{
	return idx < pd->nr_bids ? &pd->bids[idx] : NULL;
}

const struct sa_pd_build_id *sa_pd_find_build_id(const struct sa_pd *pd,
						 const char *filename)
{
	size_t i;

	for (i = 0; i < pd->nr_bids; i++)
		if (!strcmp(pd->bids[i].filename, filename))
			return &pd->bids[i];
	return NULL;
}

size_t sa_pd_nr_auxtrace_index(const struct sa_pd *pd)
{
	return pd->nr_aux_index;
}

const struct sa_pd_auxtrace_index_entry *
sa_pd_auxtrace_index(const struct sa_pd *pd, size_t idx)
{
	return idx < pd->nr_aux_index ? &pd->aux_index[idx] : NULL;
}

uint64_t sa_pd_data_size(const struct sa_pd *pd)
{
	return pd->data_end - pd->data_off;
}

/*
 * Records.
 */

/* The sample_id_all trailer type of record @r (size @size). */
static uint64_t rec_sid_type(const struct sa_pd *pd, const uint8_t *r,
			     uint16_t size)
{
	const struct sa_pd_attr *a;

	if (pd->sid_uniform)
		return pd->sid_type;
	/* Every attr ends its trailer with PERF_SAMPLE_IDENTIFIER. */
	if (size < SA_PD_EVENT_HDR_SIZE + 8)
		return 0;
	a = sa_pd_attr_by_id(pd, sa_pd_get64(r + size - 8));
	return a ? attr_sid_type(&a->attr) : 0;
}

/* Parses the trailer backwards from the end, as perf's
 * perf_evsel__parse_id_sample does, and returns its size.
 */
static unsigned int parse_sid(uint64_t type, const uint8_t *r, uint16_t size,
			      struct sa_pd_sample_id *sid)
{
	unsigned int n = __builtin_popcountll(type) * 8;
	const uint8_t *p = r + size - 8;

	if (n > (unsigned int)size - SA_PD_EVENT_HDR_SIZE)
		return UINT32_MAX;
	if (type & PERF_SAMPLE_IDENTIFIER) {
		sid->id = sa_pd_get64(p);
		p -= 8;
	}
	if (type & PERF_SAMPLE_CPU) {
		sid->cpu = sa_pd_get32(p);
		p -= 8;
	}
	if (type & PERF_SAMPLE_STREAM_ID) {
		sid->stream_id = sa_pd_get64(p);
		p -= 8;
	}
	if (type & PERF_SAMPLE_ID) {
		sid->id = sa_pd_get64(p);
		p -= 8;
	}
	if (type & PERF_SAMPLE_TIME) {
		sid->time = sa_pd_get64(p);
		p -= 8;
	}
	if (type & PERF_SAMPLE_TID) {
		sid->pid = sa_pd_get32(p);
		sid->tid = sa_pd_get32(p + 4);
	}
	sid->valid = (uint32_t)type;
	return n;
}

static int rec_short(struct sa_pd *pd, struct sa_errinfo *ei, uint64_t off,
		     uint32_t type, uint16_t size, unsigned int need)
{
	return pd_err(pd, ei, -SA_ERR_CORRUPT, off,
		      "%s record of %u bytes is shorter than its %u bytes of "
		      "fields and sample_id trailer", sa_pd_type_name(type),
		      size, need);
}

/* A NUL-terminated string in [p, p + max), or NULL. */
static const char *rec_string(const uint8_t *p, size_t max)
{
	return memchr(p, '\0', max) ? (const char *)p : NULL;
}

static int pd_parse(struct sa_pd *pd, const uint8_t *r, uint64_t off,
		    struct sa_pd_event *ev, struct sa_errinfo *ei)
{
	uint16_t size = ev->size;
	unsigned int tb = 0, fixed;
	const uint8_t *b = r + SA_PD_EVENT_HDR_SIZE;
	size_t body;

	/* Kernel records (other than SAMPLE) carry the trailer; perf's own
	 * user records (64 and up) never do.
	 */
	if (ev->type < SA_PD_HEADER_ATTR && ev->type != PERF_RECORD_SAMPLE) {
		uint64_t st = rec_sid_type(pd, r, size);

		tb = parse_sid(st, r, size, &ev->sid);
		if (tb == UINT32_MAX) {
			/* Unknown kernel record types are handed out
			 * without their trailer rather than refused.
			 */
			if (ev->type > PERF_RECORD_AUX_OUTPUT_HW_ID) {
				memset(&ev->sid, 0, sizeof(ev->sid));
				return 0;
			}
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE +
					 __builtin_popcountll(st) * 8);
		}
	}
	body = size - SA_PD_EVENT_HDR_SIZE - tb;

	switch (ev->type) {
	case PERF_RECORD_MMAP:
	case PERF_RECORD_MMAP2:
		fixed = ev->type == PERF_RECORD_MMAP ? 32 : 64;
		if (body < fixed + 1)
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE + tb + fixed + 1);
		ev->mmap.pid = sa_pd_get32(b);
		ev->mmap.tid = sa_pd_get32(b + 4);
		ev->mmap.start = sa_pd_get64(b + 8);
		ev->mmap.len = sa_pd_get64(b + 16);
		ev->mmap.pgoff = sa_pd_get64(b + 24);
		if (ev->type == PERF_RECORD_MMAP2) {
			if (ev->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
				ev->mmap.build_id_size = b[32];
				if (ev->mmap.build_id_size > 20)
					return pd_err(pd, ei, -SA_ERR_CORRUPT,
						      off, "MMAP2 build-id "
						      "size %u is over 20",
						      b[32]);
				memcpy(ev->mmap.build_id, b + 36, 20);
			} else {
				ev->mmap.maj = sa_pd_get32(b + 32);
				ev->mmap.min = sa_pd_get32(b + 36);
				ev->mmap.ino = sa_pd_get64(b + 40);
				ev->mmap.ino_generation = sa_pd_get64(b + 48);
			}
			ev->mmap.prot = sa_pd_get32(b + 56);
			ev->mmap.flags = sa_pd_get32(b + 60);
		}
		ev->mmap.filename = rec_string(b + fixed, body - fixed);
		if (!ev->mmap.filename)
			return pd_err(pd, ei, -SA_ERR_CORRUPT, off,
				      "%s filename is not NUL-terminated "
				      "within the record",
				      sa_pd_type_name(ev->type));
		break;
	case PERF_RECORD_COMM:
		if (body < 9)
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE + tb + 9);
		ev->comm.pid = sa_pd_get32(b);
		ev->comm.tid = sa_pd_get32(b + 4);
		ev->comm.exec = ev->misc & PERF_RECORD_MISC_COMM_EXEC;
		ev->comm.comm = rec_string(b + 8, body - 8);
		if (!ev->comm.comm)
			return pd_err(pd, ei, -SA_ERR_CORRUPT, off,
				      "COMM name is not NUL-terminated "
				      "within the record");
		break;
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		if (body < 24)
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE + tb + 24);
		ev->fork.pid = sa_pd_get32(b);
		ev->fork.ppid = sa_pd_get32(b + 4);
		ev->fork.tid = sa_pd_get32(b + 8);
		ev->fork.ptid = sa_pd_get32(b + 12);
		ev->fork.time = sa_pd_get64(b + 16);
		break;
	case PERF_RECORD_LOST:
		if (body < 16)
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE + tb + 16);
		ev->lost.id = sa_pd_get64(b);
		ev->lost.lost = sa_pd_get64(b + 8);
		break;
	case PERF_RECORD_AUX:
		if (body < 24)
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE + tb + 24);
		ev->aux.aux_offset = sa_pd_get64(b);
		ev->aux.aux_size = sa_pd_get64(b + 8);
		ev->aux.flags = sa_pd_get64(b + 16);
		break;
	case PERF_RECORD_ITRACE_START:
		if (body < 8)
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE + tb + 8);
		ev->itrace_start.pid = sa_pd_get32(b);
		ev->itrace_start.tid = sa_pd_get32(b + 4);
		break;
	case PERF_RECORD_AUX_OUTPUT_HW_ID:
		if (body < 8)
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE + tb + 8);
		ev->aux_output_hw_id.hw_id = sa_pd_get64(b);
		break;
	case PERF_RECORD_SWITCH:
	case PERF_RECORD_SWITCH_CPU_WIDE:
		ev->sw.out = ev->misc & PERF_RECORD_MISC_SWITCH_OUT;
		ev->sw.preempt = ev->misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT;
		ev->sw.cpu_wide = ev->type == PERF_RECORD_SWITCH_CPU_WIDE;
		if (!ev->sw.cpu_wide)
			break;
		if (body < 8)
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE + tb + 8);
		ev->sw.next_prev_pid = sa_pd_get32(b);
		ev->sw.next_prev_tid = sa_pd_get32(b + 4);
		break;
	case SA_PD_AUXTRACE_INFO:
		if (body < 8 || (body - 8) % 8)
			return pd_err(pd, ei, -SA_ERR_CORRUPT, off,
				      "AUXTRACE_INFO size %u is not 16 plus a "
				      "whole number of u64", size);
		if ((uintptr_t)(b + 8) & 7)
			return pd_err(pd, ei, -SA_ERR_UNSUPPORTED, off,
				      "AUXTRACE_INFO at an offset that is not "
				      "8-byte aligned (perf always aligns "
				      "records)");
		ev->auxtrace_info.type = sa_pd_get32(b);
		ev->auxtrace_info.nr_priv = (body - 8) / 8;
		ev->auxtrace_info.priv = (const uint64_t *)(b + 8);
		break;
	case SA_PD_AUXTRACE_ERROR:
		if (body < 32 + SA_PD_AUXTRACE_ERR_MSG)
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE + 32 +
					 SA_PD_AUXTRACE_ERR_MSG);
		ev->auxtrace_error.type = sa_pd_get32(b);
		ev->auxtrace_error.code = sa_pd_get32(b + 4);
		ev->auxtrace_error.cpu = sa_pd_get32(b + 8);
		ev->auxtrace_error.pid = sa_pd_get32(b + 12);
		ev->auxtrace_error.tid = sa_pd_get32(b + 16);
		ev->auxtrace_error.ip = sa_pd_get64(b + 24);
		ev->auxtrace_error.msg = rec_string(b + 32,
						    SA_PD_AUXTRACE_ERR_MSG);
		if (!ev->auxtrace_error.msg)
			return pd_err(pd, ei, -SA_ERR_CORRUPT, off,
				      "AUXTRACE_ERROR message is not "
				      "NUL-terminated");
		break;
	case SA_PD_TIME_CONV:
		if (body < 24)
			return rec_short(pd, ei, off, ev->type, size,
					 SA_PD_EVENT_HDR_SIZE + 24);
		ev->time_conv.time_shift = sa_pd_get64(b);
		ev->time_conv.time_mult = sa_pd_get64(b + 8);
		ev->time_conv.time_zero = sa_pd_get64(b + 16);
		break;
	case SA_PD_COMPRESSED:
		return pd_err(pd, ei, -SA_ERR_UNSUPPORTED, off,
			      "zstd-compressed records (perf record -z) are "
			      "not supported; decompress with perf inject");
	default:
		break;
	}
	return 0;
}

int sa_pd_next(struct sa_pd *pd, struct sa_pd_event *ev,
	       struct sa_errinfo *ei)
{
	const uint8_t *r;
	uint64_t off = pd->pos, end;
	int err;

	if (pd->err.code) {
		if (ei)
			*ei = pd->err;
		return pd->err.code;
	}
	if (off >= pd->data_end)
		return 0;
	memset(ev, 0, sizeof(*ev));
	if (pd->data_end - off < SA_PD_EVENT_HDR_SIZE) {
		err = pd_err(pd, &pd->err, -SA_ERR_TRUNCATED, off,
			     "record header crosses the end of the data "
			     "section (%#" PRIx64 ")", pd->data_end);
		goto fail;
	}
	r = pd->buf + off;
	ev->type = sa_pd_get32(r);
	ev->misc = sa_pd_get16(r + 4);
	ev->size = sa_pd_get16(r + 6);
	ev->file_offset = off;
	if (ev->size < SA_PD_EVENT_HDR_SIZE) {
		err = pd_err(pd, &pd->err, -SA_ERR_CORRUPT, off,
			     "record (type %u) has size %u, less than its "
			     "8-byte header; the rest of the data section "
			     "cannot be walked", ev->type, ev->size);
		goto fail;
	}
	if (ev->size > pd->data_end - off) {
		err = pd_err(pd, &pd->err, -SA_ERR_TRUNCATED, off,
			     "%s record of %u bytes runs past the end of the "
			     "data section (%#" PRIx64 ")",
			     sa_pd_type_name(ev->type), ev->size,
			     pd->data_end);
		goto fail;
	}
	end = off + ev->size;
	if (ev->type == SA_PD_AUXTRACE) {
		const uint8_t *b = r + SA_PD_EVENT_HDR_SIZE;

		if (ev->size < SA_PD_AUXTRACE_REC_SIZE) {
			err = pd_err(pd, &pd->err, -SA_ERR_CORRUPT, off,
				     "AUXTRACE record of %u bytes is shorter "
				     "than %d", ev->size,
				     SA_PD_AUXTRACE_REC_SIZE);
			goto fail;
		}
		ev->auxtrace.size = sa_pd_get64(b);
		ev->auxtrace.offset = sa_pd_get64(b + 8);
		ev->auxtrace.reference = sa_pd_get64(b + 16);
		ev->auxtrace.idx = sa_pd_get32(b + 24);
		ev->auxtrace.tid = sa_pd_get32(b + 28);
		ev->auxtrace.cpu = sa_pd_get32(b + 32);
		if (ev->auxtrace.size > pd->data_end - end) {
			err = pd_err(pd, &pd->err, -SA_ERR_TRUNCATED, off,
				     "AUXTRACE payload of %" PRIu64 " bytes "
				     "at %#" PRIx64 " runs past the end of "
				     "the data section (%#" PRIx64 ")",
				     ev->auxtrace.size, end, pd->data_end);
			goto fail;
		}
		ev->auxtrace.data = pd->buf + end;
		ev->auxtrace.data_file_offset = end;
		end += ev->auxtrace.size;
	} else {
		err = pd_parse(pd, r, off, ev, &pd->err);
		if (err)
			goto fail;
	}
	pd->pos = end;
	return 1;

fail:
	if (ei)
		*ei = pd->err;
	return err;
}

void sa_pd_rewind(struct sa_pd *pd)
{
	pd->pos = pd->data_off;
	sa_errinfo_clear(&pd->err);
}
