/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Checks of an image against the peers, shared by the image suites:
 * every function symbol readelf lists (by the rule of docs/image.md) and
 * every line addr2line gives for the instructions objdump shows.
 */
#ifndef SA_TEST_IMAGE_CHECK_H
#define SA_TEST_IMAGE_CHECK_H

#include "sensor/image.h"
#include "peer.h"

/* ---- peers: readelf ---- */

struct peer_sec {
	uint64_t addr, off, size;
	bool exec;
	bool text;		/* the name has "text" in it */
};

struct peer_sym {
	uint64_t addr;
	char name[128];
};

/* Sections of @path indexed by number (readelf -SW). */
static inline size_t peer_sections(const char *path, struct peer_sec *v, size_t max)
{
	char cmd[600], *text, *line, *nl;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "readelf -SW '%s'", path);
	text = peer_run(cmd);
	for (line = text; line && *line; line = nl) {
		char *rb, *tok[12];
		unsigned int idx;
		int nt = 0;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		rb = strchr(line, ']');
		if (sscanf(line, " [%u]", &idx) != 1 || !rb || idx >= max)
			continue;
		for (char *p = rb + 1; *p && nt < 12;) {
			while (*p == ' ')
				p++;
			if (!*p)
				break;
			tok[nt++] = p;
			while (*p && *p != ' ')
				p++;
			if (*p)
				*p++ = '\0';
		}
		if (idx == 0 || nt < 9)
			continue;
		/* Name Type Address Off Size ES [Flg] Lk Inf Al */
		v[idx].addr = strtoull(tok[2], NULL, 16);
		v[idx].off = strtoull(tok[3], NULL, 16);
		v[idx].size = strtoull(tok[4], NULL, 16);
		v[idx].exec = nt == 10 && strchr(tok[6], 'X') &&
			      strchr(tok[6], 'A');
		v[idx].text = strstr(tok[0], "text") != NULL;
		if (idx + 1 > n)
			n = idx + 1;
	}
	free(text);
	return n;
}

/* Function symbols by the rule of docs/image.md, from readelf -sW. */
static inline size_t peer_func_syms(const char *path, struct peer_sym **out)
{
	static struct peer_sec secs[256];
	char cmd[600], *text, *line, *nl;
	size_t n = 0, cap = 1024, nsec;
	struct peer_sym *v = malloc(cap * sizeof(*v));

	memset(secs, 0, sizeof(secs));
	nsec = peer_sections(path, secs, 256);
	snprintf(cmd, sizeof(cmd), "readelf -sW '%s'", path);
	text = peer_run(cmd);
	for (line = text; line && *line; line = nl) {
		char value[32], size[32], type[16], bind[16], vis[16];
		char ndx[16], name[256];
		unsigned int num, sh;
		uint64_t a;
		char *at;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		name[0] = '\0';
		if (sscanf(line, " %u: %31s %31s %15s %15s %15s %15s %255s",
			   &num, value, size, type, bind, vis, ndx,
			   name) != 8)
			continue;
		if (strcmp(type, "FUNC") && strcmp(type, "IFUNC") &&
		    strcmp(type, "NOTYPE"))
			continue;
		if (sscanf(ndx, "%u", &sh) != 1 || sh >= nsec ||
		    !secs[sh].exec)
			continue;
		if (name[0] == '$')
			continue;
		/* labels: visible, in a "*text*" section (perf's rule) */
		if (!strcmp(type, "NOTYPE") &&
		    (!secs[sh].text || !strcmp(vis, "HIDDEN") ||
		     !strcmp(vis, "INTERNAL")))
			continue;
		at = strchr(name, '@');
		if (at)
			*at = '\0';
		a = strtoull(value, NULL, 16);
		if (a < secs[sh].addr || a >= secs[sh].addr + secs[sh].size)
			continue;
		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
		}
		v[n].addr = a;
		snprintf(v[n].name, sizeof(v[n].name), "%s", name);
		n++;
	}
	free(text);
	*out = v;
	return n;
}

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Compares every function symbol of @path with readelf; @bias is ours. */
static inline void check_symbols(struct sa_image *img, const char *path,
			  uint64_t bias)
{
	static struct peer_sec secs[256];
	struct peer_sym *ps;
	size_t n = peer_func_syms(path, &ps), i, nsec, nuniq = 0;
	uint64_t *addrs = malloc((n + 1) * sizeof(*addrs));

	ck_assert_msg(n > 0, "%s: readelf lists no function symbols", path);
	for (i = 0; i < n; i++) {
		const struct sa_sym *s = sa_image_symbolize(img,
							    ps[i].addr + bias);
		bool named = false;

		ck_assert_msg(s, "%s: no symbol at 0x%" PRIx64 " (%s)", path,
			      ps[i].addr, ps[i].name);
		ck_assert_msg(s->start == ps[i].addr + bias,
			      "%s: %s at 0x%" PRIx64 ": we say %s at 0x%"
			      PRIx64, path, ps[i].name, ps[i].addr, s->name,
			      s->start - bias);
		for (size_t j = 0; j < n; j++)
			if (ps[j].addr == ps[i].addr &&
			    !strcmp(ps[j].name, s->name))
				named = true;
		ck_assert_msg(named, "%s: 0x%" PRIx64 " named %s, not a name "
			      "readelf gives there", path, ps[i].addr,
			      s->name);
		addrs[i] = ps[i].addr + bias;
	}
	qsort(addrs, n, sizeof(*addrs), cmp_u64);
	for (i = 0; i < n; i++)
		if (!nuniq || addrs[nuniq - 1] != addrs[i])
			addrs[nuniq++] = addrs[i];
	/* no symbol of ours that readelf does not have */
	memset(secs, 0, sizeof(secs));
	nsec = peer_sections(path, secs, 256);
	for (i = 0; i < nsec; i++) {
		if (!secs[i].exec)
			continue;
		for (uint64_t a = secs[i].addr;
		     a < secs[i].addr + secs[i].size; a++) {
			const struct sa_sym *s = sa_image_symbolize(img,
								    a + bias);

			/* PLT stubs: objdump's, checked by image-names */
			if (!s || strstr(s->name, "@plt"))
				continue;
			ck_assert_msg(bsearch(&s->start, addrs, nuniq,
					      sizeof(*addrs), cmp_u64),
				      "%s: symbol %s at 0x%" PRIx64 " is not "
				      "in readelf", path, s->name,
				      s->start - bias);
		}
	}
	free(addrs);
	free(ps);
}

/* Compares our file:line with addr2line for every instruction of @func. */
static inline void check_srclines(struct sa_image *img, const char *path,
			   const char *func, uint64_t bias)
{
	struct peer_insn *pi;
	size_t n = peer_objdump_func("objdump", path, func, &pi), i, len;
	char *cmd, *out, *line, *nl;
	int matched = 0;

	ck_assert_msg(n > 3, "%s: objdump shows no %s", path, func);
	len = 64 + strlen(path) + n * 20;
	cmd = malloc(len);
	i = snprintf(cmd, len, "addr2line -e '%s'", path);
	for (size_t k = 0; k < n; k++)
		i += snprintf(cmd + i, len - i, " %" PRIx64, pi[k].addr);
	out = peer_run(cmd);
	line = out;
	for (i = 0; i < n && line && *line; i++, line = nl) {
		const char *file = NULL;
		char *colon;
		int l = 0, err, want;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		colon = strrchr(line, ':');
		ck_assert(colon);
		*colon = '\0';
		err = sa_image_srcline(img, pi[i].addr + bias, &file, &l);
		if (!strcmp(line, "??")) {
			ck_assert_msg(err == -SA_ERR_NOTFOUND, "%s+0x%" PRIx64
				      ": addr2line has no line, we say %s:%d",
				      func, pi[i].addr, file, l);
			continue;
		}
		want = (int)strtol(colon + 1, NULL, 10);
		ck_assert_msg(err == 0, "%s 0x%" PRIx64 ": no line, addr2line "
			      "says %s:%d", func, pi[i].addr, line, want);
		ck_assert_msg(!strcmp(file, line) && l == want,
			      "0x%" PRIx64 ": we say %s:%d, addr2line %s:%d",
			      pi[i].addr, file, l, line, want);
		matched++;
	}
	ck_assert_int_eq(i, n);
	ck_assert_msg(matched > 3, "%s: too few lines compared", func);
	free(out);
	free(cmd);
	free(pi);
}

/* nm's address of @name in @path. */
static inline uint64_t nm_addr(const char *path, const char *name)
{
	char cmd[700], *out;
	uint64_t a;

	snprintf(cmd, sizeof(cmd), "nm '%s' | grep ' %s$' | head -1", path,
		 name);
	out = peer_run(cmd);
	ck_assert_msg(out[0], "nm: no %s in %s", name, path);
	a = strtoull(out, NULL, 16);
	free(out);
	return a;
}

#endif /* SA_TEST_IMAGE_CHECK_H */
