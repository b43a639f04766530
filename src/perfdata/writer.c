// SPDX-License-Identifier: BSD-2-Clause
/*
 * perf.data (PERFILE2) writer.
 *
 * Layout, as perf record lays it out: the 104-byte header (rewritten at
 * close), the attr ids, the attr section, the data section, then the
 * feature section table and the feature sections.  Records are padded to
 * 8 bytes and strings are NUL-padded, as the kernel and perf do, so that
 * Linux perf reads the file with no complaint.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/file.h"
#include "sensor/perfdata.h"
#include "pd_format.h"

#define SA_PDW_BUF_SIZE		(256 * 1024)
#define SA_PDW_MAX_ATTRS	4096
#define SA_PDW_MAX_IDS		(1u << 20)
#define SA_PDW_MAX_BUILD_IDS	(1u << 20)
#define SA_PDW_MAX_INDEX	(1u << 24)
#define SA_PDW_MAX_ARGS		65536
#define SA_PDW_MAX_STRING	4096

#define ALIGN8(x) (((x) + 7) & ~(uint64_t)7)

#define SA_PDW_SID_MASK                                                    \
	(PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ID |             \
	 PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU | PERF_SAMPLE_IDENTIFIER)

struct pdw_attr {
	struct perf_event_attr attr;
	uint64_t *ids;
	size_t nr_ids;
	char *name;
};

struct pdw_build_id {
	int32_t pid;
	uint16_t misc;
	uint8_t id[20];
	uint8_t len;
	char *filename;
};

struct sa_pd_writer {
	int fd;
	char *path;
	uint8_t *buf;
	size_t blen;
	uint64_t off;		/* file offset of the next byte */
	int err;		/* sticky: the first write error */

	struct pdw_attr *attrs;
	size_t nr_attrs;
	size_t nr_ids;
	bool data_started;
	uint64_t attrs_off, data_off;
	uint64_t sid_type;

	struct pdw_build_id *bids;
	size_t nr_bids, cap_bids;
	struct sa_pd_auxtrace_index_entry *index;
	size_t nr_index, cap_index;
	char **argv;
	int argc;
	char *cpuid, *arch, *hostname, *osrelease;
	bool have_nrcpus;
	uint32_t nr_avail, nr_online;
	bool have_info;		/* an AUXTRACE_INFO was written */
};

static int pdw_flush(struct sa_pd_writer *w)
{
	size_t done = 0;

	while (done < w->blen) {
		ssize_t n = write(w->fd, w->buf + done, w->blen - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += n;
	}
	w->blen = 0;
	return 0;
}

static int pdw_write(struct sa_pd_writer *w, const void *p, size_t len)
{
	const uint8_t *s = p;

	if (w->err)
		return w->err;
	while (len) {
		size_t n = SA_PDW_BUF_SIZE - w->blen;

		if (n > len)
			n = len;
		memcpy(w->buf + w->blen, s, n);
		w->blen += n;
		w->off += n;
		s += n;
		len -= n;
		if (w->blen == SA_PDW_BUF_SIZE) {
			w->err = pdw_flush(w);
			if (w->err)
				return w->err;
		}
	}
	return 0;
}

static int pdw_zero(struct sa_pd_writer *w, size_t len)
{
	static const uint8_t zero[64];
	int err = 0;

	while (len && !err) {
		size_t n = len < sizeof(zero) ? len : sizeof(zero);

		err = pdw_write(w, zero, n);
		len -= n;
	}
	return err;
}

static int pdw_u32(struct sa_pd_writer *w, uint32_t v)
{
	return pdw_write(w, &v, sizeof(v));
}

static int pdw_u64(struct sa_pd_writer *w, uint64_t v)
{
	return pdw_write(w, &v, sizeof(v));
}

struct sa_pd_writer *sa_pd_writer__new(const char *path,
				       struct sa_errinfo *ei)
{
	struct sa_pd_writer *w;
	int err;

	sa_errinfo_clear(ei);
	w = calloc(1, sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	w->fd = -1;
	w->path = strdup(path);
	w->buf = malloc(SA_PDW_BUF_SIZE);
	if (!w->path || !w->buf) {
		err = ENOMEM;
		goto fail;
	}
	w->fd = sa_file_create(path, O_WRONLY | O_TRUNC);
	if (w->fd < 0) {
		err = -w->fd;
		w->fd = -1;
		sa_errinfo_set(ei, -err, SA_NO_OFFSET, "%s: cannot create: %s",
			       path, strerror(err));
		goto fail;
	}
	/* Room for the header, written for real at close. */
	if (pdw_zero(w, SA_PD_HDR_SIZE)) {
		err = -w->err;
		goto fail;
	}
	return w;

fail:
	sa_pd_writer__free(w);
	errno = err;
	return NULL;
}

void sa_pd_writer__free(struct sa_pd_writer *w)
{
	size_t i;
	int j;

	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	for (i = 0; i < w->nr_attrs; i++) {
		free(w->attrs[i].ids);
		free(w->attrs[i].name);
	}
	free(w->attrs);
	for (i = 0; i < w->nr_bids; i++)
		free(w->bids[i].filename);
	free(w->bids);
	free(w->index);
	for (j = 0; j < w->argc; j++)
		free(w->argv[j]);
	free(w->argv);
	free(w->cpuid);
	free(w->arch);
	free(w->hostname);
	free(w->osrelease);
	free(w->buf);
	free(w->path);
	free(w);
}

static uint64_t attr_sid(const struct perf_event_attr *a)
{
	return a->sample_id_all ? (a->sample_type & SA_PDW_SID_MASK) : 0;
}

static bool sid_compatible(const struct perf_event_attr *first,
			   const struct perf_event_attr *a)
{
	if (attr_sid(first) == attr_sid(a))
		return true;
	return (attr_sid(first) & PERF_SAMPLE_IDENTIFIER) &&
	       (attr_sid(a) & PERF_SAMPLE_IDENTIFIER);
}

int sa_pd_writer_add_attr(struct sa_pd_writer *w,
			  const struct perf_event_attr *attr,
			  const uint64_t *ids, size_t nr_ids,
			  const char *name)
{
	struct pdw_attr *a;
	void *n;

	if (!attr || (nr_ids && !ids))
		return -SA_ERR_INVAL;
	if (w->data_started)
		return -SA_ERR_INVAL;	/* attrs precede the first record */
	if (w->nr_attrs >= SA_PDW_MAX_ATTRS ||
	    nr_ids > SA_PDW_MAX_IDS - w->nr_ids)
		return -SA_ERR_TOOBIG;
	/* perf refuses files whose attrs disagree on the sample_id_all
	 * trailer unless every trailer ends in PERF_SAMPLE_IDENTIFIER.
	 */
	if (w->nr_attrs && !sid_compatible(&w->attrs[0].attr, attr))
		return -SA_ERR_INVAL;
	n = realloc(w->attrs, (w->nr_attrs + 1) * sizeof(*w->attrs));
	if (!n)
		return -ENOMEM;
	w->attrs = n;
	a = &w->attrs[w->nr_attrs];
	memset(a, 0, sizeof(*a));
	a->attr = *attr;
	a->attr.size = sizeof(a->attr);
	if (nr_ids) {
		a->ids = malloc(nr_ids * sizeof(*ids));
		if (!a->ids)
			return -ENOMEM;
		memcpy(a->ids, ids, nr_ids * sizeof(*ids));
	}
	a->nr_ids = nr_ids;
	if (name) {
		a->name = strndup(name, SA_PDW_MAX_STRING);
		if (!a->name) {
			free(a->ids);
			return -ENOMEM;
		}
	}
	w->nr_ids += nr_ids;
	if (w->nr_attrs == 0 && attr->sample_id_all)
		w->sid_type = attr->sample_type & SA_PDW_SID_MASK;
	w->nr_attrs++;
	return 0;
}

/* Writes the ids and the attr section once, before the first record. */
static int pdw_start_data(struct sa_pd_writer *w)
{
	size_t i;
	int err = 0;

	if (w->data_started)
		return w->err;
	if (!w->nr_attrs)
		return -SA_ERR_INVAL;	/* perf needs at least one attr */
	w->data_started = true;
	for (i = 0; i < w->nr_attrs && !err; i++)
		err = pdw_write(w, w->attrs[i].ids,
				w->attrs[i].nr_ids * sizeof(uint64_t));
	w->attrs_off = w->off;
	{
		uint64_t ids_off = SA_PD_HDR_SIZE;

		for (i = 0; i < w->nr_attrs && !err; i++) {
			uint64_t isz = w->attrs[i].nr_ids * sizeof(uint64_t);

			err = pdw_write(w, &w->attrs[i].attr,
					sizeof(w->attrs[i].attr));
			if (!err)
				err = pdw_u64(w, isz ? ids_off : 0);
			if (!err)
				err = pdw_u64(w, isz);
			ids_off += isz;
		}
	}
	w->data_off = w->off;
	return err;
}

static unsigned int sid_size(const struct sa_pd_writer *w)
{
	return __builtin_popcountll(w->sid_type) * 8;
}

static int pdw_sid(struct sa_pd_writer *w, const struct sa_pd_sample_id *sid)
{
	struct sa_pd_sample_id z = { 0 };
	uint64_t t = w->sid_type;
	int err = 0;

	/* A record without its trailer would be misparsed by perf, so a
	 * NULL @sid writes a zeroed one naming the first attr.
	 */
	if (!sid) {
		if (w->attrs[0].nr_ids)
			z.id = w->attrs[0].ids[0];
		sid = &z;
	}
	if (t & PERF_SAMPLE_TID) {
		err = pdw_u32(w, sid->pid);
		if (!err)
			err = pdw_u32(w, sid->tid);
	}
	if (!err && (t & PERF_SAMPLE_TIME))
		err = pdw_u64(w, sid->time);
	if (!err && (t & PERF_SAMPLE_ID))
		err = pdw_u64(w, sid->id);
	if (!err && (t & PERF_SAMPLE_STREAM_ID))
		err = pdw_u64(w, sid->stream_id);
	if (!err && (t & PERF_SAMPLE_CPU)) {
		err = pdw_u32(w, sid->cpu);
		if (!err)
			err = pdw_u32(w, 0);
	}
	if (!err && (t & PERF_SAMPLE_IDENTIFIER))
		err = pdw_u64(w, sid->id);
	return err;
}

/* Header of a record of @body bytes (before the trailer, if any). */
static int pdw_hdr(struct sa_pd_writer *w, uint32_t type, uint16_t misc,
		   size_t body, bool trailer)
{
	uint64_t size = SA_PD_EVENT_HDR_SIZE + body +
			(trailer ? sid_size(w) : 0);
	struct perf_event_header h;
	int err = pdw_start_data(w);

	if (err)
		return err;
	if (size > UINT16_MAX)
		return -SA_ERR_TOOBIG;
	h.type = type;
	h.misc = misc;
	h.size = size;
	return pdw_write(w, &h, sizeof(h));
}

/* A NUL-padded string field of a record (kernel layout). */
static int pdw_rec_string(struct sa_pd_writer *w, const char *s, size_t len)
{
	int err = pdw_write(w, s, len);

	if (!err)
		err = pdw_zero(w, ALIGN8(len + 1) - len);
	return err;
}

int sa_pd_writer_mmap2(struct sa_pd_writer *w, uint32_t pid, uint32_t tid,
		       uint64_t start, uint64_t len, uint64_t pgoff,
		       uint32_t prot, uint32_t flags, const char *filename,
		       const struct sa_pd_sample_id *sid)
{
	size_t flen;
	uint32_t f[2] = { prot, flags };
	uint64_t v[3] = { start, len, pgoff };
	int err;

	if (!filename)
		return -SA_ERR_INVAL;
	flen = strnlen(filename, SA_PDW_MAX_STRING);
	if (flen == SA_PDW_MAX_STRING)
		return -SA_ERR_TOOBIG;
	err = pdw_hdr(w, PERF_RECORD_MMAP2, PERF_RECORD_MISC_USER,
		      64 + ALIGN8(flen + 1), true);
	if (!err)
		err = pdw_u32(w, pid);
	if (!err)
		err = pdw_u32(w, tid);
	if (!err)
		err = pdw_write(w, v, sizeof(v));
	if (!err)
		err = pdw_zero(w, 24);	/* maj, min, ino, ino_generation */
	if (!err)
		err = pdw_write(w, f, sizeof(f));
	if (!err)
		err = pdw_rec_string(w, filename, flen);
	if (!err)
		err = pdw_sid(w, sid);
	return err;
}

int sa_pd_writer_comm(struct sa_pd_writer *w, uint32_t pid, uint32_t tid,
		      const char *comm, bool exec,
		      const struct sa_pd_sample_id *sid)
{
	size_t clen;
	int err;

	if (!comm)
		return -SA_ERR_INVAL;
	clen = strnlen(comm, SA_PDW_MAX_STRING);
	if (clen == SA_PDW_MAX_STRING)
		return -SA_ERR_TOOBIG;
	err = pdw_hdr(w, PERF_RECORD_COMM,
		      exec ? PERF_RECORD_MISC_COMM_EXEC : 0,
		      8 + ALIGN8(clen + 1), true);
	if (!err)
		err = pdw_u32(w, pid);
	if (!err)
		err = pdw_u32(w, tid);
	if (!err)
		err = pdw_rec_string(w, comm, clen);
	if (!err)
		err = pdw_sid(w, sid);
	return err;
}

int sa_pd_writer_fork(struct sa_pd_writer *w, bool exit_, uint32_t pid,
		      uint32_t ppid, uint32_t tid, uint32_t ptid,
		      uint64_t time, const struct sa_pd_sample_id *sid)
{
	uint32_t v[4] = { pid, ppid, tid, ptid };
	int err;

	err = pdw_hdr(w, exit_ ? PERF_RECORD_EXIT : PERF_RECORD_FORK, 0, 24,
		      true);
	if (!err)
		err = pdw_write(w, v, sizeof(v));
	if (!err)
		err = pdw_u64(w, time);
	if (!err)
		err = pdw_sid(w, sid);
	return err;
}

int sa_pd_writer_itrace_start(struct sa_pd_writer *w, uint32_t pid,
			      uint32_t tid,
			      const struct sa_pd_sample_id *sid)
{
	int err = pdw_hdr(w, PERF_RECORD_ITRACE_START, 0, 8, true);

	if (!err)
		err = pdw_u32(w, pid);
	if (!err)
		err = pdw_u32(w, tid);
	if (!err)
		err = pdw_sid(w, sid);
	return err;
}

int sa_pd_writer_aux(struct sa_pd_writer *w, uint64_t aux_offset,
		     uint64_t aux_size, uint64_t flags,
		     const struct sa_pd_sample_id *sid)
{
	uint64_t v[3] = { aux_offset, aux_size, flags };
	int err = pdw_hdr(w, PERF_RECORD_AUX, 0, sizeof(v), true);

	if (!err)
		err = pdw_write(w, v, sizeof(v));
	if (!err)
		err = pdw_sid(w, sid);
	return err;
}

int sa_pd_writer_lost(struct sa_pd_writer *w, uint64_t id, uint64_t lost,
		      const struct sa_pd_sample_id *sid)
{
	uint64_t v[2] = { id, lost };
	int err = pdw_hdr(w, PERF_RECORD_LOST, 0, sizeof(v), true);

	if (!err)
		err = pdw_write(w, v, sizeof(v));
	if (!err)
		err = pdw_sid(w, sid);
	return err;
}

int sa_pd_writer_aux_output_hw_id(struct sa_pd_writer *w, uint64_t hw_id,
				  const struct sa_pd_sample_id *sid)
{
	/* misc 0, as the kernel's perf_report_aux_output_id() */
	int err = pdw_hdr(w, PERF_RECORD_AUX_OUTPUT_HW_ID, 0, 8, true);

	if (!err)
		err = pdw_write(w, &hw_id, sizeof(hw_id));
	if (!err)
		err = pdw_sid(w, sid);
	return err;
}

int sa_pd_writer_auxtrace_info(struct sa_pd_writer *w, uint32_t type,
			       const uint64_t *priv, size_t nr_priv)
{
	int err;

	if (nr_priv && !priv)
		return -SA_ERR_INVAL;
	if (nr_priv > (UINT16_MAX - 16) / 8)
		return -SA_ERR_TOOBIG;
	err = pdw_hdr(w, SA_PD_AUXTRACE_INFO, 0, 8 + nr_priv * 8, false);
	if (!err)
		w->have_info = true;
	if (!err)
		err = pdw_u32(w, type);
	if (!err)
		err = pdw_u32(w, 0);
	if (!err)
		err = pdw_write(w, priv, nr_priv * 8);
	return err;
}

static int pdw_index_add(struct sa_pd_writer *w, uint64_t off, uint64_t size)
{
	if (w->nr_index == w->cap_index) {
		size_t ncap = w->cap_index ? w->cap_index * 2 : 64;
		void *n;

		if (ncap > SA_PDW_MAX_INDEX)
			return -SA_ERR_TOOBIG;
		n = realloc(w->index, ncap * sizeof(*w->index));
		if (!n)
			return -ENOMEM;
		w->index = n;
		w->cap_index = ncap;
	}
	w->index[w->nr_index].file_offset = off;
	w->index[w->nr_index].size = size;
	w->nr_index++;
	return 0;
}

int sa_pd_writer_auxtrace(struct sa_pd_writer *w, const void *data,
			  uint64_t size, uint64_t offset, uint64_t reference,
			  uint32_t idx, uint32_t tid, uint32_t cpu)
{
	/* perf record pads the payload to 8 bytes and counts the padding
	 * in the size field (auxtrace_mmap__read), so the next record
	 * stays aligned.
	 */
	uint64_t padded = ALIGN8(size);
	uint64_t v[3] = { padded, offset, reference };
	uint32_t u[4] = { idx, tid, cpu, 0 };
	uint64_t rec_off;
	int err;

	/* perf fails on AUXTRACE data it has no AUXTRACE_INFO for. */
	if ((size && !data) || !w->have_info)
		return -SA_ERR_INVAL;
	if (padded < size)
		return -SA_ERR_TOOBIG;
	err = pdw_start_data(w);
	if (err)
		return err;
	rec_off = w->off;
	/* perf's index holds the record's header size, not the payload's
	 * (auxtrace_index__auxtrace_event; perf 4.15 files show 0x30).
	 */
	err = pdw_index_add(w, rec_off, SA_PD_AUXTRACE_REC_SIZE);
	if (!err)
		err = pdw_hdr(w, SA_PD_AUXTRACE, 0, 40, false);
	if (!err)
		err = pdw_write(w, v, sizeof(v));
	if (!err)
		err = pdw_write(w, u, sizeof(u));
	if (!err)
		err = pdw_write(w, data, size);
	if (!err)
		err = pdw_zero(w, padded - size);
	return err;
}

int sa_pd_writer_finished_round(struct sa_pd_writer *w)
{
	return pdw_hdr(w, SA_PD_FINISHED_ROUND, 0, 0, false);
}

int sa_pd_writer_raw(struct sa_pd_writer *w, const void *rec, size_t len)
{
	const uint8_t *r = rec;
	uint16_t size;
	uint32_t type;
	int err;

	if (!rec || len < SA_PD_EVENT_HDR_SIZE)
		return -SA_ERR_INVAL;
	type = sa_pd_get32(r);
	size = sa_pd_get16(r + 6);
	if (size < SA_PD_EVENT_HDR_SIZE || size > len)
		return -SA_ERR_INVAL;
	/* Only an AUXTRACE record is followed by more than its header. */
	if (type == SA_PD_AUXTRACE_INFO)
		w->have_info = true;
	if (type == SA_PD_AUXTRACE) {
		if (size < SA_PD_AUXTRACE_REC_SIZE || !w->have_info ||
		    sa_pd_get64(r + 8) != len - size)
			return -SA_ERR_INVAL;
	} else if (size != len) {
		return -SA_ERR_INVAL;
	}
	err = pdw_start_data(w);
	if (!err && type == SA_PD_AUXTRACE)
		err = pdw_index_add(w, w->off, size);
	if (!err)
		err = pdw_write(w, rec, len);
	return err;
}

int sa_pd_writer_add_build_id(struct sa_pd_writer *w, int32_t pid,
			      uint16_t misc, const uint8_t *id, size_t len,
			      const char *filename)
{
	struct pdw_build_id *b;

	if (!id || !filename || len > 20)
		return -SA_ERR_INVAL;
	if (strnlen(filename, SA_PDW_MAX_STRING) == SA_PDW_MAX_STRING)
		return -SA_ERR_TOOBIG;
	if (w->nr_bids == w->cap_bids) {
		size_t ncap = w->cap_bids ? w->cap_bids * 2 : 16;
		void *n;

		if (ncap > SA_PDW_MAX_BUILD_IDS)
			return -SA_ERR_TOOBIG;
		n = realloc(w->bids, ncap * sizeof(*w->bids));
		if (!n)
			return -ENOMEM;
		w->bids = n;
		w->cap_bids = ncap;
	}
	b = &w->bids[w->nr_bids];
	memset(b, 0, sizeof(*b));
	b->filename = strdup(filename);
	if (!b->filename)
		return -ENOMEM;
	b->pid = pid;
	b->misc = misc & ~SA_PD_MISC_BUILD_ID_SIZE;
	memcpy(b->id, id, len);
	b->len = len;
	w->nr_bids++;
	return 0;
}

static int set_string(char **dst, const char *s)
{
	char *n;

	if (!s)
		return -SA_ERR_INVAL;
	if (strnlen(s, SA_PDW_MAX_STRING) == SA_PDW_MAX_STRING)
		return -SA_ERR_TOOBIG;
	n = strdup(s);
	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

int sa_pd_writer_set_cmdline(struct sa_pd_writer *w, int argc,
			     char *const argv[])
{
	char **v;
	int i, j;

	if (argc < 0 || (argc && !argv))
		return -SA_ERR_INVAL;
	if (argc > SA_PDW_MAX_ARGS)
		return -SA_ERR_TOOBIG;
	v = calloc(argc ? argc : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < argc; i++) {
		v[i] = strndup(argv[i] ? argv[i] : "", SA_PDW_MAX_STRING);
		if (!v[i]) {
			for (j = 0; j < i; j++)
				free(v[j]);
			free(v);
			return -ENOMEM;
		}
	}
	for (j = 0; j < w->argc; j++)
		free(w->argv[j]);
	free(w->argv);
	w->argv = v;
	w->argc = argc;
	return 0;
}

int sa_pd_writer_set_cpuid(struct sa_pd_writer *w, const char *cpuid)
{
	return set_string(&w->cpuid, cpuid);
}

int sa_pd_writer_set_arch(struct sa_pd_writer *w, const char *arch)
{
	return set_string(&w->arch, arch);
}

int sa_pd_writer_set_hostname(struct sa_pd_writer *w, const char *host)
{
	return set_string(&w->hostname, host);
}

int sa_pd_writer_set_osrelease(struct sa_pd_writer *w, const char *rel)
{
	return set_string(&w->osrelease, rel);
}

int sa_pd_writer_set_nr_cpus(struct sa_pd_writer *w, uint32_t avail,
			     uint32_t online)
{
	w->have_nrcpus = true;
	w->nr_avail = avail;
	w->nr_online = online;
	return 0;
}

/*
 * Feature sections.
 */

/* perf's do_write_string: u32 padded length, string, NUL padding. */
static int pdw_fstring(struct sa_pd_writer *w, const char *s)
{
	size_t n = strlen(s) + 1;
	uint32_t len = (n + SA_PD_NAME_ALIGN - 1) & ~(SA_PD_NAME_ALIGN - 1);
	int err = pdw_u32(w, len);

	if (!err)
		err = pdw_write(w, s, n);
	if (!err)
		err = pdw_zero(w, len - n);
	return err;
}

static int feat_build_id(struct sa_pd_writer *w)
{
	size_t i;
	int err = 0;

	for (i = 0; i < w->nr_bids && !err; i++) {
		const struct pdw_build_id *b = &w->bids[i];
		size_t n = strlen(b->filename) + 1;
		size_t len = (n + SA_PD_NAME_ALIGN - 1) &
			     ~(size_t)(SA_PD_NAME_ALIGN - 1);
		struct perf_event_header h = {
			.type = SA_PD_HEADER_BUILD_ID,
			.misc = b->misc | SA_PD_MISC_BUILD_ID_SIZE,
			.size = SA_PD_BUILD_ID_REC_MIN + len,
		};
		uint8_t id[24] = { 0 };

		memcpy(id, b->id, b->len);
		id[20] = b->len;
		err = pdw_write(w, &h, sizeof(h));
		if (!err)
			err = pdw_u32(w, (uint32_t)b->pid);
		if (!err)
			err = pdw_write(w, id, sizeof(id));
		if (!err)
			err = pdw_write(w, b->filename, n);
		if (!err)
			err = pdw_zero(w, len - n);
	}
	return err;
}

static int feat_cmdline(struct sa_pd_writer *w)
{
	int i, err = pdw_u32(w, w->argc);

	for (i = 0; i < w->argc && !err; i++)
		err = pdw_fstring(w, w->argv[i]);
	return err;
}

static int feat_event_desc(struct sa_pd_writer *w)
{
	uint32_t nre = 0;
	size_t i;
	int err;

	for (i = 0; i < w->nr_attrs; i++)
		nre += w->attrs[i].name != NULL;
	err = pdw_u32(w, nre);
	if (!err)
		err = pdw_u32(w, sizeof(struct perf_event_attr));
	for (i = 0; i < w->nr_attrs && !err; i++) {
		const struct pdw_attr *a = &w->attrs[i];

		if (!a->name)
			continue;
		err = pdw_write(w, &a->attr, sizeof(a->attr));
		if (!err)
			err = pdw_u32(w, a->nr_ids);
		if (!err)
			err = pdw_fstring(w, a->name);
		if (!err)
			err = pdw_write(w, a->ids, a->nr_ids * 8);
	}
	return err;
}

static int feat_auxtrace(struct sa_pd_writer *w)
{
	size_t i;
	int err = pdw_u64(w, w->nr_index);

	for (i = 0; i < w->nr_index && !err; i++) {
		err = pdw_u64(w, w->index[i].file_offset);
		if (!err)
			err = pdw_u64(w, w->index[i].size);
	}
	return err;
}

static bool has_event_desc(const struct sa_pd_writer *w)
{
	size_t i;

	for (i = 0; i < w->nr_attrs; i++)
		if (w->attrs[i].name)
			return true;
	return false;
}

static bool feat_present(const struct sa_pd_writer *w, int feat)
{
	switch (feat) {
	case SA_PD_FEAT_BUILD_ID:
		return w->nr_bids;
	case SA_PD_FEAT_HOSTNAME:
		return w->hostname;
	case SA_PD_FEAT_OSRELEASE:
		return w->osrelease;
	case SA_PD_FEAT_ARCH:
		return w->arch;
	case SA_PD_FEAT_NRCPUS:
		return w->have_nrcpus;
	case SA_PD_FEAT_CPUID:
		return w->cpuid;
	case SA_PD_FEAT_CMDLINE:
		return w->argv;
	case SA_PD_FEAT_EVENT_DESC:
		return has_event_desc(w);
	case SA_PD_FEAT_AUXTRACE:
		return w->nr_index;
	default:
		return false;
	}
}

static int feat_write(struct sa_pd_writer *w, int feat)
{
	switch (feat) {
	case SA_PD_FEAT_BUILD_ID:
		return feat_build_id(w);
	case SA_PD_FEAT_HOSTNAME:
		return pdw_fstring(w, w->hostname);
	case SA_PD_FEAT_OSRELEASE:
		return pdw_fstring(w, w->osrelease);
	case SA_PD_FEAT_ARCH:
		return pdw_fstring(w, w->arch);
	case SA_PD_FEAT_NRCPUS: {
		int err = pdw_u32(w, w->nr_avail);

		return err ? err : pdw_u32(w, w->nr_online);
	}
	case SA_PD_FEAT_CPUID:
		return pdw_fstring(w, w->cpuid);
	case SA_PD_FEAT_CMDLINE:
		return feat_cmdline(w);
	case SA_PD_FEAT_EVENT_DESC:
		return feat_event_desc(w);
	case SA_PD_FEAT_AUXTRACE:
		return feat_auxtrace(w);
	}
	return 0;
}

static const int pdw_feats[] = {
	SA_PD_FEAT_BUILD_ID, SA_PD_FEAT_HOSTNAME, SA_PD_FEAT_OSRELEASE,
	SA_PD_FEAT_ARCH, SA_PD_FEAT_NRCPUS, SA_PD_FEAT_CPUID,
	SA_PD_FEAT_CMDLINE, SA_PD_FEAT_EVENT_DESC, SA_PD_FEAT_AUXTRACE,
};
#define PDW_NR_FEATS (sizeof(pdw_feats) / sizeof(pdw_feats[0]))

static int pdw_pwrite(int fd, const void *p, size_t len, off_t off)
{
	const uint8_t *s = p;

	while (len) {
		ssize_t n = pwrite(fd, s, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += n;
		len -= n;
		off += n;
	}
	return 0;
}

static int pdw_finish(struct sa_pd_writer *w)
{
	uint64_t sec[PDW_NR_FEATS][2] = { { 0 } };
	uint64_t feat[SA_PD_FEAT_BITS / 64] = { 0 };
	uint8_t hdr[SA_PD_HDR_SIZE] = { 0 };
	uint64_t data_end, tab, v;
	size_t i, nsec = 0;
	int err;

	err = pdw_start_data(w);
	if (err)
		return err;
	data_end = w->off;
	for (i = 0; i < PDW_NR_FEATS; i++)
		if (feat_present(w, pdw_feats[i]))
			nsec++;
	/* The table first (filled in below), then the sections in bit
	 * order, as perf_header__adds_write lays them out.
	 */
	tab = w->off;
	err = pdw_zero(w, nsec * SA_PD_SECTION_SIZE);
	nsec = 0;
	for (i = 0; i < PDW_NR_FEATS && !err; i++) {
		int f = pdw_feats[i];

		if (!feat_present(w, f))
			continue;
		sec[nsec][0] = w->off;
		err = feat_write(w, f);
		sec[nsec][1] = w->off - sec[nsec][0];
		feat[f / 64] |= 1ULL << (f % 64);
		nsec++;
	}
	if (!err)
		err = pdw_flush(w);
	if (!err)
		err = pdw_pwrite(w->fd, sec, nsec * sizeof(sec[0]), tab);
	if (err)
		return err;

	v = SA_PD_MAGIC2;
	memcpy(hdr, &v, 8);
	v = SA_PD_HDR_SIZE;
	memcpy(hdr + SA_PD_OFF_SIZE, &v, 8);
	v = sizeof(struct perf_event_attr) + SA_PD_SECTION_SIZE;
	memcpy(hdr + SA_PD_OFF_ATTR_SIZE, &v, 8);
	memcpy(hdr + SA_PD_OFF_ATTRS, &w->attrs_off, 8);
	v = w->nr_attrs * (sizeof(struct perf_event_attr) + SA_PD_SECTION_SIZE);
	memcpy(hdr + SA_PD_OFF_ATTRS + 8, &v, 8);
	memcpy(hdr + SA_PD_OFF_DATA, &w->data_off, 8);
	v = data_end - w->data_off;
	memcpy(hdr + SA_PD_OFF_DATA + 8, &v, 8);
	memcpy(hdr + SA_PD_OFF_FEATURES, feat, sizeof(feat));
	return pdw_pwrite(w->fd, hdr, sizeof(hdr), 0);
}

int sa_pd_writer_close(struct sa_pd_writer *w, struct sa_errinfo *ei)
{
	int err;

	sa_errinfo_clear(ei);
	if (!w)
		return -SA_ERR_INVAL;
	err = w->err ? w->err : pdw_finish(w);
	if (!err && close(w->fd) < 0)
		err = -errno;
	if (!err)
		w->fd = -1;
	if (err)
		sa_errinfo_set(ei, err, w->off, "%s: cannot finish the "
			       "perf.data file: %s", w->path,
			       sa_strerror(err));
	sa_pd_writer__free(w);
	return err;
}
