// SPDX-License-Identifier: BSD-2-Clause
/*
 * Scenario workload: a record parser.  It generates lines of
 * comma-separated fields (numbers, words, quoted strings), parses them
 * back and audits some fields.
 *
 * Usage: sc_parser MODE SEED WINDOWS LINES_PER_WINDOW
 *   normal  30% numeric fields, quoted strings without escapes
 *   digits  70% numeric fields (a bias shift)
 *   escape  quoted strings with backslash escapes (a path never taken)
 *   audit   every field is audited instead of every eighth: the audit
 *           function's call rate changes.  The decision that causes it
 *           ("audit-cause") is not a counted site, as if it were in an
 *           untraced library; a traced run sees it, and the sensor
 *           then rightly ranks that decision first
 *
 * The planted site of each mode carries a "PLANT <mode>" comment.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_count.h"

static double p_digit = 0.3;
static int escapes, audit_every = 8;
static unsigned long sum, audits;

#define NR_LINES 2048
static char lines[NR_LINES][512];

static void audit_field(const char *s, size_t n)
{
	SC_ENTER(); /* PLANT audit */
	size_t i;

	for (i = 0; SC_BR(i < n); i++)
		audits += (unsigned char)s[i];
	SC_LEAVE();
}

static size_t parse_number(const char *s, unsigned long *v)
{
	SC_ENTER();
	size_t i = 0;

	*v = 0;
	while (s[i] >= '0' && s[i] <= '9')
		*v = *v * 10 + (unsigned long)(s[i++] - '0');
	if (SC_BR(*v > 5000))
		sum += 1;
	SC_LEAVE();
	return i;
}

static size_t parse_quoted(const char *s, char *out, size_t *outlen)
{
	SC_ENTER();
	size_t i = 1, o = 0;

	while (s[i] && s[i] != '"') {
		if (SC_BR(s[i] == '\\')) { /* PLANT escape */
			i++;
			if (!s[i])
				break;
		}
		out[o++] = s[i++];
	}
	*outlen = o;
	SC_LEAVE();
	return s[i] == '"' ? i + 1 : i;
}

static size_t parse_word(const char *s, char *out, size_t *outlen)
{
	SC_ENTER();
	size_t i = 0;

	while (s[i] && s[i] != ',') {
		out[i] = s[i];
		i++;
	}
	*outlen = i;
	if (SC_BR(i > 6))
		sum += 2;
	SC_LEAVE();
	return i;
}

static size_t parse_field(const char *s, unsigned long nfield)
{
	SC_ENTER();
	char buf[128];
	size_t n = 0, used;
	unsigned long v;

	if (SC_BR(s[0] >= '0' && s[0] <= '9')) { /* PLANT digits */
		used = parse_number(s, &v);
		sum += v;
	} else if (SC_BR(s[0] == '"')) {
		used = parse_quoted(s, buf, &n);
	} else {
		used = parse_word(s, buf, &n);
	}
	if (nfield % (unsigned long)audit_every == 0) /* PLANT audit-cause */
		audit_field(s, used);
	SC_LEAVE();
	return used;
}

static void parse_line(const char *line)
{
	SC_ENTER();
	static unsigned long nfield;
	size_t i = 0;

	for (;;) {
		i += parse_field(line + i, nfield++);
		if (SC_BR(line[i] != ','))
			break;
		i++;
	}
	SC_LEAVE();
}

static void gen_line(char *buf, size_t size)
{
	int fields = 3 + (int)(sc_unif() * 4), f, k;
	size_t o = 0;

	for (f = 0; f < fields && o + 40 < size; f++) {
		if (f)
			buf[o++] = ',';
		if (sc_chance(p_digit)) {
			o += (size_t)snprintf(buf + o, size - o, "%u",
					      (unsigned)(sc_unif() * 10000));
		} else if (sc_chance(0.3)) {
			buf[o++] = '"';
			for (k = 0; k < 8; k++) {
				if (escapes && sc_chance(0.2))
					buf[o++] = '\\';
				buf[o++] = (char)('a' + (int)(sc_unif() * 26));
			}
			buf[o++] = '"';
		} else {
			int len = 2 + (int)(sc_unif() * 9);

			for (k = 0; k < len; k++)
				buf[o++] = (char)('a' + (int)(sc_unif() * 26));
		}
	}
	buf[o] = '\0';
}

int main(int argc, char **argv)
{
	unsigned long windows, per, w, i, k = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: %s normal|digits|escape|audit SEED "
			"WINDOWS LINES\n", argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "digits")) {
		p_digit = 0.7;
	} else if (!strcmp(argv[1], "escape")) {
		escapes = 1;
	} else if (!strcmp(argv[1], "audit")) {
		audit_every = 1;
	} else if (strcmp(argv[1], "normal")) {
		fprintf(stderr, "%s: unknown mode %s\n", argv[0], argv[1]);
		return 2;
	}
	sc_seed(strtoull(argv[2], NULL, 10));
	windows = strtoul(argv[3], NULL, 10);
	per = strtoul(argv[4], NULL, 10);
	/* The input is made up front: the parsing loop then holds only
	 * the parser's own decisions, none of the generator's.
	 */
	for (i = 0; i < NR_LINES; i++)
		gen_line(lines[i], sizeof(lines[i]));
	for (w = 0; w < windows; w++) {
		for (i = 0; i < per; i++) {
			parse_line(lines[k]);
			if (++k == NR_LINES)
				k = 0;
		}
		SC_DUMP((int)w);
	}
	fprintf(stderr, "sum %lu audits %lu\n", sum, audits);
	return 0;
}
