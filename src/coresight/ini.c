// SPDX-License-Identifier: BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ini.h"

static char *sa_cs_strndup_trim(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

static int sa_cs_ini_add_sec(struct sa_cs_ini *ini, char *name, int line)
{
	struct sa_cs_ini_sec *sec;

	if (ini->nr == ini->alloc) {
		size_t n = ini->alloc ? ini->alloc * 2 : 8;

		sec = realloc(ini->sec, n * sizeof(*sec));
		if (!sec)
			return -ENOMEM;
		ini->sec = sec;
		ini->alloc = n;
	}
	sec = &ini->sec[ini->nr++];
	memset(sec, 0, sizeof(*sec));
	sec->name = name;
	sec->line = line;
	return 0;
}

static int sa_cs_ini_add_kv(struct sa_cs_ini_sec *sec, char *key, char *val,
			    int line)
{
	if (sec->nr == sec->alloc) {
		size_t n = sec->alloc ? sec->alloc * 2 : 8;
		struct sa_cs_ini_kv *kv = realloc(sec->kv, n * sizeof(*kv));

		if (!kv)
			return -ENOMEM;
		sec->kv = kv;
		sec->alloc = n;
	}
	sec->kv[sec->nr].key = key;
	sec->kv[sec->nr].val = val;
	sec->kv[sec->nr].line = line;
	sec->nr++;
	return 0;
}

void sa_cs_ini__free(struct sa_cs_ini *ini)
{
	size_t i, j;

	if (!ini)
		return;
	for (i = 0; i < ini->nr; i++) {
		for (j = 0; j < ini->sec[i].nr; j++) {
			free(ini->sec[i].kv[j].key);
			free(ini->sec[i].kv[j].val);
		}
		free(ini->sec[i].kv);
		free(ini->sec[i].name);
	}
	free(ini->sec);
	free(ini->file);
	free(ini);
}

int sa_cs_ini_parse(const char *text, size_t len, const char *file,
		    struct sa_cs_ini **out, struct sa_errinfo *ei)
{
	struct sa_cs_ini *ini;
	size_t pos = 0, nkeys = 0;
	int line = 0, err = 0;

	*out = NULL;
	if (!file)
		file = "(ini)";
	if (len > SA_CS_INI_MAX_BYTES)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, 0,
				      "%s: %zu bytes, more than the %u an "
				      "snapshot .ini may have", file, len,
				      SA_CS_INI_MAX_BYTES);
	ini = calloc(1, sizeof(*ini));
	if (!ini || !(ini->file = strdup(file))) {
		free(ini);
		return sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
				      "%s: out of memory", file);
	}

	while (pos < len) {
		const char *l = text + pos, *nl, *eq;
		size_t n, lstart = pos;
		char *key, *val;

		nl = memchr(l, '\n', len - pos);
		n = nl ? (size_t)(nl - l) : len - pos;
		pos += n + (nl ? 1 : 0);
		line++;
		if (memchr(l, '\0', n)) {
			err = sa_errinfo_set(ei, -SA_ERR_FORMAT, lstart,
					     "%s:%d: NUL byte: not a text "
					     "file", file, line);
			goto err;
		}
		while (n && isspace((unsigned char)*l)) {
			l++;
			n--;
		}
		while (n && isspace((unsigned char)l[n - 1]))
			n--;
		if (!n || *l == ';' || *l == '#')
			continue;

		if (*l == '[') {
			if (l[n - 1] != ']' || n < 3) {
				err = sa_errinfo_set(ei, -SA_ERR_FORMAT, lstart,
						     "%s:%d: section header "
						     "without closing ']' or "
						     "name", file, line);
				goto err;
			}
			if (ini->nr >= SA_CS_INI_MAX_SECTIONS) {
				err = sa_errinfo_set(ei, -SA_ERR_TOOBIG,
						     lstart, "%s:%d: more "
						     "than %d sections", file,
						     line,
						     SA_CS_INI_MAX_SECTIONS);
				goto err;
			}
			key = sa_cs_strndup_trim(l + 1, n - 2);
			if (!key || sa_cs_ini_add_sec(ini, key, line)) {
				free(key);
				goto err_nomem;
			}
			continue;
		}

		eq = memchr(l, '=', n);
		if (!eq || eq == l) {
			err = sa_errinfo_set(ei, -SA_ERR_FORMAT, lstart,
					     "%s:%d: expected [section] or "
					     "key=value, found \"%.*s\"",
					     file, line, n > 40 ? 40 : (int)n,
					     l);
			goto err;
		}
		if (!ini->nr) {
			err = sa_errinfo_set(ei, -SA_ERR_FORMAT, lstart,
					     "%s:%d: key=value before the "
					     "first [section]", file, line);
			goto err;
		}
		if (++nkeys > SA_CS_INI_MAX_KEYS) {
			err = sa_errinfo_set(ei, -SA_ERR_TOOBIG, lstart,
					     "%s:%d: more than %d keys (the limit)", file,
					     line, SA_CS_INI_MAX_KEYS);
			goto err;
		}
		key = sa_cs_strndup_trim(l, (size_t)(eq - l));
		val = sa_cs_strndup_trim(eq + 1, n - (size_t)(eq - l) - 1);
		if (!key || !val ||
		    sa_cs_ini_add_kv(&ini->sec[ini->nr - 1], key, val, line)) {
			free(key);
			free(val);
			goto err_nomem;
		}
	}
	*out = ini;
	return 0;

err_nomem:
	err = sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET, "%s: out of memory",
			     file);
err:
	sa_cs_ini__free(ini);
	return err;
}

const struct sa_cs_ini_sec *sa_cs_ini_section(const struct sa_cs_ini *ini,
					      const char *name)
{
	size_t i;

	for (i = 0; ini && i < ini->nr; i++)
		if (!strcasecmp(ini->sec[i].name, name))
			return &ini->sec[i];
	return NULL;
}

const char *sa_cs_ini_get(const struct sa_cs_ini_sec *sec, const char *key)
{
	size_t i;

	for (i = 0; sec && i < sec->nr; i++)
		if (!strcasecmp(sec->kv[i].key, key))
			return sec->kv[i].val;
	return NULL;
}

int sa_cs_parse_u64(const char *s, unsigned long long *v)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -SA_ERR_FORMAT;
	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno)
		return -SA_ERR_FORMAT;
	while (isspace((unsigned char)*end))
		end++;
	return *end ? -SA_ERR_FORMAT : 0;
}
