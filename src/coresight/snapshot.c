// SPDX-License-Identifier: BSD-2-Clause
/*
 * Arm "Debug and Trace Snapshot" directories (format v0.2 as OpenCSD's
 * tests and DS-5 write them).  OpenCSD ships its reader only in its test
 * programs, so this is our own, on the INI reader that keeps duplicate
 * keys.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sensor/log.h"
#include "cs_priv.h"

#define SA_CS_MAX_DEVICES	256
#define SA_CS_MAX_BUFFERS	256
#define SA_CS_MAX_DUMPS		256

struct sa_cs_dump {
	char *file;
	uint64_t addr, length, offset;
	const char *ini;
	int line;
};

struct sa_cs_device {
	const char *name, *class, *type;
	struct sa_cs_ini *ini;		/* owns the strings above */
	const struct sa_cs_ini_sec *regs;
	size_t nr_dumps;
	struct sa_cs_dump *dumps;
};

struct sa_cs_buffer {
	const char *name, *file, *format;
	uint8_t *data;
	size_t len;
	bool loaded;
};

struct sa_cs_pair {
	const char *a, *b;
};

struct sa_cs_snapshot {
	char *dir;
	bool mem;		/* from memory: no files to read */
	struct sa_cs_ini *snap, *trace;
	size_t nr_devices;
	struct sa_cs_device *devices;
	size_t nr_buffers;
	struct sa_cs_buffer *buffers;
	size_t nr_src_buf;
	struct sa_cs_pair *src_buf;	/* source -> buffer */
	size_t nr_core_src;
	struct sa_cs_pair *core_src;	/* core -> source, dupes kept */
};

/* Where the .ini texts come from: the directory or memory. */
struct sa_cs_loader {
	const char *dir;
	size_t nr;
	const char *const *names;
	const char *const *texts;
	const size_t *lens;
};

/*
 * A file named by the snapshot stays inside the snapshot directory: no
 * absolute path, no ".." component (a hostile snapshot.ini must not make
 * the tool read /etc/passwd or a device).
 */
static bool sa_cs_path_inside(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		while (*p == '/')
			p++;
	}
	return true;
}

static int sa_cs_path_refused(const char *where, const char *name,
			      struct sa_errinfo *ei)
{
	return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
			      "%s: file %s is outside the snapshot directory "
			      "(absolute paths and \"..\" are refused)",
			      where, name);
}

static int sa_cs_load_ini(const struct sa_cs_loader *ld, const char *name,
			  struct sa_cs_ini **out, struct sa_errinfo *ei)
{
	char path[PATH_MAX];
	uint8_t *buf;
	size_t len, i;
	int err;

	*out = NULL;
	if (!ld->dir) {
		for (i = 0; i < ld->nr; i++)
			if (!strcmp(ld->names[i], name))
				return sa_cs_ini_parse(ld->texts[i],
						       ld->lens[i], name, out,
						       ei);
		return sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
				      "%s: no such snapshot file", name);
	}
	if (!sa_cs_path_inside(name))
		return sa_cs_path_refused(ld->dir, name, ei);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", ld->dir, name) >=
	    sizeof(path))
		return sa_errinfo_set(ei, -ENAMETOOLONG, SA_NO_OFFSET,
				      "%s/%s: path too long", ld->dir, name);
	err = sa_cs_read_file(path, SA_CS_INI_MAX_BYTES, &buf, &len, ei);
	if (err)
		return err;
	err = sa_cs_ini_parse((const char *)buf, len, path, out, ei);
	free(buf);
	return err;
}

void sa_cs_snapshot__free(struct sa_cs_snapshot *ss)
{
	size_t i, j;

	if (!ss)
		return;
	for (i = 0; i < ss->nr_devices; i++) {
		for (j = 0; j < ss->devices[i].nr_dumps; j++)
			free(ss->devices[i].dumps[j].file);
		free(ss->devices[i].dumps);
		sa_cs_ini__free(ss->devices[i].ini);
	}
	for (i = 0; i < ss->nr_buffers; i++)
		free(ss->buffers[i].data);
	free(ss->devices);
	free(ss->buffers);
	free(ss->src_buf);
	free(ss->core_src);
	sa_cs_ini__free(ss->snap);
	sa_cs_ini__free(ss->trace);
	free(ss->dir);
	free(ss);
}

static int sa_cs_need(const struct sa_cs_ini *ini,
		      const struct sa_cs_ini_sec *sec, const char *key,
		      const char **val, struct sa_errinfo *ei)
{
	*val = sa_cs_ini_get(sec, key);
	if (*val && **val)
		return 0;
	return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
			      "%s:%d: section [%s] has no %s=", ini->file,
			      sec->line, sec->name, key);
}

static int sa_cs_parse_dump(struct sa_cs_device *dev,
			    const struct sa_cs_ini_sec *sec,
			    struct sa_errinfo *ei)
{
	const struct sa_cs_ini *ini = dev->ini;
	struct sa_cs_dump *d;
	unsigned long long v;
	const char *s;
	int err;

	if (dev->nr_dumps >= SA_CS_MAX_DUMPS)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "%s:%d: more than %d dumps (the limit)", ini->file,
				      sec->line, SA_CS_MAX_DUMPS);
	d = &dev->dumps[dev->nr_dumps];
	memset(d, 0, sizeof(*d));
	d->ini = ini->file;
	d->line = sec->line;
	err = sa_cs_need(ini, sec, "file", &s, ei);
	if (err)
		return err;
	if (!sa_cs_path_inside(s))
		return sa_cs_path_refused(ini->file, s, ei);
	d->file = strdup(s);
	if (!d->file)
		return -ENOMEM;
	dev->nr_dumps++;
	err = sa_cs_need(ini, sec, "address", &s, ei);
	if (err)
		return err;
	if (sa_cs_parse_u64(s, &v))
		goto bad;
	d->addr = v;
	s = sa_cs_ini_get(sec, "length");
	if (s) {
		if (sa_cs_parse_u64(s, &v))
			goto bad;
		d->length = v;
	}
	s = sa_cs_ini_get(sec, "offset");
	if (s) {
		if (sa_cs_parse_u64(s, &v))
			goto bad;
		d->offset = v;
	}
	return 0;
bad:
	return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
			      "%s:%d: [%s]: \"%s\" is not a number",
			      ini->file, sec->line, sec->name, s);
}

static int sa_cs_parse_device(struct sa_cs_device *dev, struct sa_errinfo *ei)
{
	const struct sa_cs_ini *ini = dev->ini;
	const struct sa_cs_ini_sec *sec;
	size_t i;
	int err;

	sec = sa_cs_ini_section(ini, "device");
	if (!sec)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
				      "%s: no [device] section", ini->file);
	err = sa_cs_need(ini, sec, "name", &dev->name, ei);
	if (err)
		return err;
	dev->class = sa_cs_ini_get(sec, "class");
	if (!dev->class)
		dev->class = "";
	err = sa_cs_need(ini, sec, "type", &dev->type, ei);
	if (err)
		return err;
	dev->regs = sa_cs_ini_section(ini, "regs");
	dev->dumps = calloc(SA_CS_MAX_DUMPS, sizeof(*dev->dumps));
	if (!dev->dumps)
		return -ENOMEM;
	for (i = 0; i < ini->nr; i++) {
		if (strncasecmp(ini->sec[i].name, "dump", 4))
			continue;
		err = sa_cs_parse_dump(dev, &ini->sec[i], ei);
		if (err)
			return err;
	}
	return 0;
}

static int sa_cs_add_pairs(const struct sa_cs_ini *ini, const char *name,
			   struct sa_cs_pair **out, size_t *nr,
			   struct sa_errinfo *ei)
{
	const struct sa_cs_ini_sec *sec = sa_cs_ini_section(ini, name);
	size_t i;

	*out = NULL;
	*nr = 0;
	if (!sec)
		return 0;
	*out = calloc(sec->nr ? sec->nr : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < sec->nr; i++) {
		(*out)[i].a = sec->kv[i].key;
		(*out)[i].b = sec->kv[i].val;
	}
	*nr = sec->nr;
	return 0;
}

static int sa_cs_parse_trace(struct sa_cs_snapshot *ss, struct sa_errinfo *ei)
{
	const struct sa_cs_ini *ini = ss->trace;
	const struct sa_cs_ini_sec *sec;
	const char *list, *p;
	int err;

	sec = sa_cs_ini_section(ini, "trace_buffers");
	if (!sec)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
				      "%s: no [trace_buffers] section",
				      ini->file);
	err = sa_cs_need(ini, sec, "buffers", &list, ei);
	if (err)
		return err;
	ss->buffers = calloc(SA_CS_MAX_BUFFERS, sizeof(*ss->buffers));
	if (!ss->buffers)
		return -ENOMEM;

	for (p = list; *p;) {
		const struct sa_cs_ini_sec *bs;
		struct sa_cs_buffer *b;
		size_t n = strcspn(p, ",");
		char id[64];

		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (!n || n >= sizeof(id))
			return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
					      "%s:%d: bad buffer list \"%s\"",
					      ini->file, sec->line, list);
		memcpy(id, p, n);
		id[n] = '\0';
		while (n && (id[n - 1] == ' ' || id[n - 1] == '\t'))
			id[--n] = '\0';
		p += strcspn(p, ",");
		if (*p == ',')
			p++;

		if (ss->nr_buffers >= SA_CS_MAX_BUFFERS)
			return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
					      "%s: more than %d buffers (the limit)",
					      ini->file, SA_CS_MAX_BUFFERS);
		bs = sa_cs_ini_section(ini, id);
		if (!bs)
			return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
					      "%s:%d: buffer [%s] is listed "
					      "but has no section", ini->file,
					      sec->line, id);
		b = &ss->buffers[ss->nr_buffers];
		err = sa_cs_need(ini, bs, "name", &b->name, ei);
		if (!err)
			err = sa_cs_need(ini, bs, "file", &b->file, ei);
		if (!err && !sa_cs_path_inside(b->file))
			err = sa_cs_path_refused(ini->file, b->file, ei);
		if (err)
			return err;
		b->format = sa_cs_ini_get(bs, "format");
		if (!b->format)
			b->format = "coresight";
		ss->nr_buffers++;
	}

	err = sa_cs_add_pairs(ini, "source_buffers", &ss->src_buf,
			      &ss->nr_src_buf, ei);
	if (!err)
		err = sa_cs_add_pairs(ini, "core_trace_sources", &ss->core_src,
				      &ss->nr_core_src, ei);
	return err;
}

static struct sa_cs_snapshot *sa_cs_snapshot_load(const struct sa_cs_loader *ld,
						  struct sa_errinfo *ei)
{
	const struct sa_cs_ini_sec *list, *tsec;
	struct sa_cs_snapshot *ss;
	const char *meta;
	size_t i;
	int err;

	ss = calloc(1, sizeof(*ss));
	if (!ss || !(ss->dir = strdup(ld->dir ? ld->dir : "(memory)"))) {
		err = -ENOMEM;
		goto err;
	}
	ss->mem = !ld->dir;
	err = sa_cs_load_ini(ld, "snapshot.ini", &ss->snap, ei);
	if (err)
		goto err;
	list = sa_cs_ini_section(ss->snap, "device_list");
	if (!list) {
		err = sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
				     "%s: no [device_list] section",
				     ss->snap->file);
		goto err;
	}
	if (list->nr > SA_CS_MAX_DEVICES) {
		err = sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				     "%s: more than %d devices (the limit)",
				     ss->snap->file, SA_CS_MAX_DEVICES);
		goto err;
	}
	ss->devices = calloc(list->nr ? list->nr : 1, sizeof(*ss->devices));
	if (!ss->devices) {
		err = -ENOMEM;
		goto err;
	}
	for (i = 0; i < list->nr; i++) {
		struct sa_cs_device *dev = &ss->devices[ss->nr_devices];

		err = sa_cs_load_ini(ld, list->kv[i].val, &dev->ini, ei);
		if (err == -ENOENT || err == -SA_ERR_NOTFOUND) {
			/* trc_pkt_lister goes on without it: so do we,
			 * and the sources that need it are not decoded
			 */
			sa_warn("%s: device file %s is missing: the trace "
				"sources that need it are not decoded\n",
				ss->snap->file, list->kv[i].val);
			continue;
		}
		if (err)
			goto err;
		ss->nr_devices++;
		err = sa_cs_parse_device(dev, ei);
		if (err)
			goto err;
	}

	tsec = sa_cs_ini_section(ss->snap, "trace");
	meta = sa_cs_ini_get(tsec, "metadata");
	if (!meta || !*meta) {
		err = sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
				     "%s: no [trace] metadata=: the snapshot "
				     "holds no trace", ss->snap->file);
		goto err;
	}
	err = sa_cs_load_ini(ld, meta, &ss->trace, ei);
	if (err)
		goto err;
	err = sa_cs_parse_trace(ss, ei);
	if (err)
		goto err;
	return ss;

err:
	if (err == -ENOMEM)
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: out of memory",
			       ld->dir ? ld->dir : "snapshot");
	sa_cs_snapshot__free(ss);
	errno = err == -ENOMEM ? ENOMEM : EINVAL;
	return NULL;
}

struct sa_cs_snapshot *sa_cs_snapshot__open(const char *dir,
					    struct sa_errinfo *ei)
{
	struct sa_cs_loader ld = { .dir = dir };

	if (!dir) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "no snapshot directory given");
		errno = EINVAL;
		return NULL;
	}
	return sa_cs_snapshot_load(&ld, ei);
}

struct sa_cs_snapshot *sa_cs_snapshot__parse_mem(size_t nr,
						 const char *const *names,
						 const char *const *texts,
						 const size_t *lens,
						 struct sa_errinfo *ei)
{
	struct sa_cs_loader ld = {
		.nr = nr, .names = names, .texts = texts, .lens = lens,
	};

	return sa_cs_snapshot_load(&ld, ei);
}

size_t sa_cs_snapshot_nr_buffers(const struct sa_cs_snapshot *ss)
{
	return ss->nr_buffers;
}

const char *sa_cs_snapshot_buffer_name(const struct sa_cs_snapshot *ss,
				       size_t idx)
{
	return idx < ss->nr_buffers ? ss->buffers[idx].name : NULL;
}

static struct sa_cs_device *sa_cs_device(const struct sa_cs_snapshot *ss,
					 const char *name)
{
	size_t i;

	for (i = 0; i < ss->nr_devices; i++)
		if (!strcmp(ss->devices[i].name, name))
			return &ss->devices[i];
	return NULL;
}

static const char *sa_cs_core_of(const struct sa_cs_snapshot *ss,
				 const char *source)
{
	size_t i;

	for (i = 0; i < ss->nr_core_src; i++)
		if (!strcmp(ss->core_src[i].b, source))
			return ss->core_src[i].a;
	return NULL;
}

size_t sa_cs_snapshot_nr_missing_sources(const struct sa_cs_snapshot *ss)
{
	size_t i, n = 0;

	for (i = 0; i < ss->nr_src_buf; i++) {
		const char *cname = sa_cs_core_of(ss, ss->src_buf[i].a);

		if (cname && (!sa_cs_device(ss, ss->src_buf[i].a) ||
			      !sa_cs_device(ss, cname)))
			n++;
	}
	return n;
}

size_t sa_cs_snapshot_buffer_nr_sources(const struct sa_cs_snapshot *ss,
					size_t idx)
{
	size_t i, n = 0;

	if (idx >= ss->nr_buffers)
		return 0;
	for (i = 0; i < ss->nr_src_buf; i++)
		if (!strcmp(ss->src_buf[i].b, ss->buffers[idx].name) &&
		    sa_cs_core_of(ss, ss->src_buf[i].a))
			n++;
	return n;
}

int sa_cs_snapshot_load_image(struct sa_cs_snapshot *ss, struct sa_image *img,
			      struct sa_errinfo *ei)
{
	size_t i, j, k, l;
	int skipped = 0;

	for (i = 0; i < ss->nr_devices; i++) {
		struct sa_cs_device *dev = &ss->devices[i];

		for (j = 0; j < dev->nr_dumps; j++) {
			struct sa_cs_dump *d = &dev->dumps[j];
			struct sa_errinfo e2;
			char path[PATH_MAX];
			bool dup = false;
			int err;

			/* SMP snapshots give every core the same kernel
			 * dump: map each region once.
			 */
			for (k = 0; k <= i && !dup; k++) {
				const struct sa_cs_device *o = &ss->devices[k];

				for (l = 0; l < o->nr_dumps; l++) {
					const struct sa_cs_dump *x =
						&o->dumps[l];

					if (k == i && l >= j)
						break;
					if (x->addr == d->addr &&
					    x->offset == d->offset &&
					    x->length == d->length &&
					    !strcmp(x->file, d->file)) {
						dup = true;
						break;
					}
				}
			}
			if (dup)
				continue;
			if (ss->mem) {
				skipped++;
				continue;
			}
			if ((size_t)snprintf(path, sizeof(path), "%s/%s",
					     ss->dir, d->file) >= sizeof(path))
				return sa_errinfo_set(ei, -ENAMETOOLONG,
						      SA_NO_OFFSET,
						      "%s:%d: dump path too "
						      "long", d->ini, d->line);
			err = sa_image_add_raw(img, path, d->offset, d->length,
					       d->addr, &e2);
			if (err == -ENOMEM)
				return sa_errinfo_set(ei, err, SA_NO_OFFSET,
						      "out of memory");
			if (err) {
				/* Best effort: the code in this dump then
				 * decodes to "memory not accessible" gaps,
				 * which the decoder counts.
				 */
				sa_warn("%s:%d: memory dump %s not mapped "
					"(%s); its code will not decode\n",
					d->ini, d->line, path, e2.msg);
				skipped++;
			}
		}
	}
	return skipped;
}

/* Reads register @name of @dev; a key may carry a "(0x...)" suffix. */
static int sa_cs_reg(const struct sa_cs_device *dev, const char *name,
		     bool required, uint32_t *val, struct sa_errinfo *ei)
{
	const struct sa_cs_ini_sec *sec = dev->regs;
	size_t i, n = strlen(name);

	for (i = 0; sec && i < sec->nr; i++) {
		const char *k = sec->kv[i].key;
		unsigned long long v;

		if (strncasecmp(k, name, n) || (k[n] && k[n] != '('))
			continue;
		if (sa_cs_parse_u64(sec->kv[i].val, &v) || v > UINT32_MAX)
			return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
					      "%s:%d: register %s: \"%s\" is "
					      "not a 32-bit number",
					      dev->ini->file, sec->kv[i].line,
					      name, sec->kv[i].val);
		*val = (uint32_t)v;
		return 1;
	}
	if (required)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
				      "%s: register %s missing in [regs]",
				      dev->ini->file, name);
	return 0;
}

struct sa_cs_regdef {
	const char *name;
	bool required;
	uint32_t *val;
};

static int sa_cs_regs_read(const struct sa_cs_device *dev,
			   const struct sa_cs_regdef *t, size_t n,
			   struct sa_errinfo *ei)
{
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		err = sa_cs_reg(dev, t[i].name, t[i].required, t[i].val, ei);
		if (err < 0)
			return err;
	}
	return 0;
}

static int sa_cs_make_source(const struct sa_cs_device *src,
			     const struct sa_cs_device *core,
			     struct sa_etm_source *s, struct sa_errinfo *ei)
{
	struct sa_cs_regs r = { 0 };
	enum sa_cs_protocol p;
	uint32_t id = 0;
	size_t tl = strcspn(src->type, ".");
	int err = 0;

	if (tl == 4 && !strncasecmp(src->type, "ETM4", 4))
		p = SA_CS_PROTO_ETMV4;
	else if (tl == 3 && !strncasecmp(src->type, "ETE", 3))
		p = SA_CS_PROTO_ETE;
	else if (tl == 4 && !strncasecmp(src->type, "ETM3", 4))
		p = SA_CS_PROTO_ETMV3;
	else if (tl == 4 && (!strncasecmp(src->type, "PTM1", 4) ||
			     !strncasecmp(src->type, "PFT1", 4)))
		p = SA_CS_PROTO_PTM;
	else
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
				      "%s: source type %s is not an ETM, PTM "
				      "or ETE", src->ini->file, src->type);

	/* Required and optional registers as OpenCSD's snapshot reader has
	 * them, with its defaults for the optional ones.
	 */
	if (p == SA_CS_PROTO_ETMV4 || p == SA_CS_PROTO_ETE) {
		const struct sa_cs_regdef t[] = {
			{ "TRCCONFIGR", true, &r.trcconfigr },
			{ "TRCTRACEIDR", true, &id },
			{ "TRCIDR0", true, &r.trcidr0 },
			{ "TRCIDR2", true, &r.trcidr2 },
			{ "TRCIDR1", false, &r.trcidr1 },
			{ "TRCIDR8", false, &r.trcidr8 },
			{ "TRCDEVARCH", false, &r.trcdevarch },	/* ETE */
		};

		r.trcidr1 = 0x4100f403;
		r.trcdevarch = 0x47705a13;
		err = sa_cs_regs_read(src, t, p == SA_CS_PROTO_ETE ? 7 : 6, ei);
	} else {
		const struct sa_cs_regdef t[] = {
			{ "ETMIDR", true, &r.etmidr },
			{ "ETMCR", true, &r.etmcr },
			{ "ETMCCER", true, &r.etmccer },
			{ "ETMTRACEIDR", true, &id },
		};

		err = sa_cs_regs_read(src, t, 4, ei);
	}
	if (err < 0)
		return err;
	sa_cs_source_from_regs(s, p, (uint8_t)(id & 0x7f), &r);
	/* Zero registers read from the file stay zero. */
	s->trcconfigr = r.trcconfigr;
	s->trcidr8 = r.trcidr8;
	s->etmcr = r.etmcr;
	s->etmccer = r.etmccer;
	if (p == SA_CS_PROTO_ETMV4 || p == SA_CS_PROTO_ETE) {
		s->trcidr0 = r.trcidr0;
		s->trcidr1 = r.trcidr1;
		s->trcidr2 = r.trcidr2;
	} else {
		s->etmidr = r.etmidr;
	}
	if (!sa_cs_core_profile(core->type, &s->arch, &s->profile))
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
				      "%s: core type %s unknown to OpenCSD "
				      "(no architecture/profile)",
				      core->ini->file, core->type);
	return 0;
}

struct sa_dec *sa_cs_snapshot_decoder(struct sa_cs_snapshot *ss, size_t idx,
				      struct sa_image *img, unsigned flags,
				      struct sa_errinfo *ei)
{
	struct sa_etm_config cfg = { 0 };
	struct sa_etm_source *srcs = NULL;
	struct sa_cs_buffer *b;
	struct sa_dec *dec = NULL;
	char path[PATH_MAX];
	size_t i, n = 0, missing = 0;
	int err;

	if (idx >= ss->nr_buffers) {
		err = sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				     "%s: no trace buffer %zu", ss->dir, idx);
		goto out;
	}
	b = &ss->buffers[idx];
	if (!strcasecmp(b->format, "coresight")) {
		cfg.format = SA_ETM_FMT_FRAMED;
		cfg.frame_flags = SA_ETM_FRAME_MEM_ALIGN;
	} else if (!strcasecmp(b->format, "dstream_coresight")) {
		cfg.format = SA_ETM_FMT_FRAMED;
		cfg.frame_flags = SA_ETM_FRAME_FSYNCS;
	} else if (!strcasecmp(b->format, "source_data")) {
		cfg.format = SA_ETM_FMT_RAW;
	} else {
		err = sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
				     "%s: buffer %s: unknown format \"%s\"",
				     ss->trace->file, b->name, b->format);
		goto out;
	}

	srcs = calloc(ss->nr_src_buf ? ss->nr_src_buf : 1, sizeof(*srcs));
	if (!srcs) {
		err = sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
				     "out of memory");
		goto out;
	}
	for (i = 0; i < ss->nr_src_buf; i++) {
		const struct sa_cs_device *src, *core;
		struct sa_errinfo e2;
		const char *cname;
		size_t j;
		bool dup = false;

		if (strcmp(ss->src_buf[i].b, b->name))
			continue;
		cname = sa_cs_core_of(ss, ss->src_buf[i].a);
		if (!cname)
			continue;	/* STM, ITM: not program flow */
		src = sa_cs_device(ss, ss->src_buf[i].a);
		core = sa_cs_device(ss, cname);
		if (!src || !core) {
			/* trc_pkt_lister decodes the others */
			sa_warn("%s: buffer %s: source %s not decoded: %s %s "
				"has no device file\n", ss->trace->file,
				b->name, ss->src_buf[i].a,
				src ? "core" : "source",
				src ? cname : ss->src_buf[i].a);
			missing++;
			continue;
		}
		err = sa_cs_make_source(src, core, &srcs[n], &e2);
		if (err == -SA_ERR_UNSUPPORTED) {
			/* trc_pkt_lister skips these too. */
			sa_warn("%s\n", e2.msg);
			continue;
		}
		if (err) {
			if (ei)
				*ei = e2;
			goto out;
		}
		for (j = 0; j < n; j++)
			dup |= srcs[j].trace_id == srcs[n].trace_id;
		if (dup) {
			sa_warn("%s: source %s repeats trace ID %#x; ignored\n",
				ss->trace->file, src->name, srcs[n].trace_id);
			continue;
		}
		n++;
		/* A raw buffer holds one source; OpenCSD's reader takes
		 * the first.
		 */
		if (cfg.format == SA_ETM_FMT_RAW)
			break;
	}
	if (!n && missing) {
		err = sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
				     "%s: buffer %s: none of its sources has "
				     "a device file (%zu missing)",
				     ss->trace->file, b->name, missing);
		goto out;
	}
	if (!n) {
		err = sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
				     "%s: buffer %s has no ETM, PTM or ETE "
				     "source that can be decoded",
				     ss->trace->file, b->name);
		goto out;
	}

	if (!b->loaded && ss->mem) {
		err = sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
				     "%s: a snapshot read from memory has no "
				     "trace file", b->file);
		goto out;
	}
	if (!b->loaded) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", ss->dir,
				     b->file) >= sizeof(path)) {
			err = sa_errinfo_set(ei, -ENAMETOOLONG, SA_NO_OFFSET,
					     "%s/%s: path too long", ss->dir,
					     b->file);
			goto out;
		}
		err = sa_cs_read_file(path, SA_CS_TRACE_MAX_BYTES, &b->data,
				      &b->len, ei);
		if (err)
			goto out;
		b->loaded = true;
	}

	cfg.buf = b->data;
	cfg.len = b->len;
	cfg.name = b->file;
	cfg.image = img;
	cfg.nr_sources = n;
	cfg.sources = srcs;
	if (!(flags & SA_CS_NO_SRC_ADDR_N))
		cfg.flags |= SA_ETM_F_SRC_ADDR_N;
	if (flags & SA_CS_TINY_QUEUE)
		cfg.queue_cap = 2;
	dec = sa_etm__new(&cfg, ei);
	err = dec ? 0 : -errno;
out:
	free(srcs);
	if (!dec)
		errno = err == -ENOMEM ? ENOMEM : EINVAL;
	return dec;
}
