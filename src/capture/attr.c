// SPDX-License-Identifier: BSD-2-Clause
/*
 * perf_event_attr from config terms, and address filters.
 *
 * The rules follow perf (tools/perf/arch/x86/util/intel-pt.c,
 * tools/perf/arch/arm/util/cs-etm.c) and the kernel's pt_event_valid():
 * the default config perf would use, user terms overriding it, and the
 * same checks against caps/ so that an attr we build is one the kernel
 * accepts and perf would have built.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sensor/capture.h"
#include "sensor/log.h"
#include "capture_int.h"

#define TERMS_MAX 1024
#define NR_TERMS_MAX 64

static __u64 *attr_field(struct perf_event_attr *a, enum sa_cap_field f)
{
	switch (f) {
	case SA_CAP_CONFIG:
		return &a->config;
	case SA_CAP_CONFIG1:
		return &a->config1;
	case SA_CAP_CONFIG2:
		return &a->config2;
	case SA_CAP_CONFIG3:
#ifdef PERF_ATTR_SIZE_VER8
		return &a->config3;
#else
		return NULL;
#endif
	}
	return NULL;
}

/* Reads the value of term @name out of @a, or 0 when the PMU lacks it. */
static uint64_t term_get(const struct sa_cap_pmu *p,
			 struct perf_event_attr *a, const char *name)
{
	const struct sa_cap_format *f = sa_cap_pmu_format(p, name);
	__u64 *v;
	uint64_t res = 0;
	int bit, out = 0;

	if (!f)
		return 0;
	v = attr_field(a, f->field);
	if (!v)
		return 0;
	for (bit = 0; bit < 64; bit++) {
		if (!(f->mask & (1ULL << bit)))
			continue;
		if (*v & (1ULL << bit))
			res |= 1ULL << out;
		out++;
	}
	return res;
}

static int term_set(const struct sa_cap_pmu *p, struct perf_event_attr *a,
		    const char *name, uint64_t val, struct sa_errinfo *ei)
{
	const struct sa_cap_format *f = sa_cap_pmu_format(p, name);
	__u64 *v;
	uint64_t bits;

	if (!f)
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "%s has no format term '%s'",
				      sa_cap_pmu_name(p), name);
	v = attr_field(a, f->field);
	if (!v)
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
				      "term '%s' is in config3, which this "
				      "build's linux/perf_event.h lacks", name);
	if (sa_cap_format_value(f->mask, val, &bits))
		return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
				      "%s: value %" PRIu64 " of '%s' does not "
				      "fit its %d bits", sa_cap_pmu_name(p),
				      val, name, __builtin_popcountll(f->mask));
	*v = (*v & ~f->mask) | bits;
	return 0;
}

/* perf's intel_pt_pick_bit(): the highest valid value <= @target, or the
 * lowest one above it.
 */
static int pick_bit(uint64_t bits, int target)
{
	int pos, pick = -1;

	for (pos = 0; bits; bits >>= 1, pos++) {
		if (bits & 1) {
			if (pos <= target || pick < 0)
				pick = pos;
			if (pos >= target)
				break;
		}
	}
	return pick;
}

static uint64_t cap_or(const struct sa_cap_pmu *p, const char *name,
		       uint64_t def)
{
	uint64_t v;

	return sa_cap_pmu_cap(p, name, &v) ? def : v;
}

/* intel_pt_default_config(): "tsc,mtc,mtc_period=N,psb_period=N,pt,branch"
 * with N picked from the caps.
 */
static int pt_defaults(const struct sa_cap_pmu *p, struct perf_event_attr *a,
		       struct sa_errinfo *ei)
{
	uint64_t mtc_periods = 0, psb_periods;
	int err = 0;

	if (sa_cap_pmu_format(p, "tsc"))
		err = term_set(p, a, "tsc", 1, ei);
	if (!err && cap_or(p, "mtc", 1)) {
		mtc_periods = cap_or(p, "mtc_periods", 0);
		if (mtc_periods) {
			err = term_set(p, a, "mtc", 1, ei);
			if (!err)
				err = term_set(p, a, "mtc_period",
					       pick_bit(mtc_periods, 3), ei);
		}
	}
	if (!err && cap_or(p, "psb_cyc", 1) && mtc_periods) {
		psb_periods = cap_or(p, "psb_periods", 0);
		if (psb_periods)
			err = term_set(p, a, "psb_period",
				       pick_bit(psb_periods, 3), ei);
	}
	if (!err && sa_cap_pmu_format(p, "pt") &&
	    sa_cap_pmu_format(p, "branch")) {
		err = term_set(p, a, "pt", 1, ei);
		if (!err)
			err = term_set(p, a, "branch", 1, ei);
	}
	return err;
}

/* perf's intel_pt_valid_str(): "0-5", "0,3,6,9". */
static void valid_str(char *s, size_t len, uint64_t valid)
{
	size_t p = 0;
	int v = 0;

	s[0] = '\0';
	while (v < 64) {
		int lo;

		if (!(valid >> v & 1)) {
			v++;
			continue;
		}
		lo = v;
		while (v < 63 && (valid >> (v + 1) & 1))
			v++;
		if (p < len)
			p += snprintf(s + p, len - p, "%s%d", p ? "," : "",
				      lo);
		if (v == lo + 1 && p < len)
			p += snprintf(s + p, len - p, ",%d", v);
		else if (v > lo + 1 && p < len)
			p += snprintf(s + p, len - p, "-%d", v);
		v++;
	}
}

/* perf's intel_pt_val_config_term(). */
static int pt_val_term(const struct sa_cap_pmu *p, struct perf_event_attr *a,
		       const char *caps, const char *name,
		       const char *supported, struct sa_errinfo *ei)
{
	uint64_t valid, ok, val;
	char vs[256];

	if (!sa_cap_pmu_format(p, name))
		return 0;
	if (sa_cap_pmu_cap(p, caps, &valid))
		valid = 0;
	if (supported && !sa_cap_pmu_cap(p, supported, &ok) && !ok)
		valid = 0;
	valid |= 1;
	val = term_get(p, a, name);
	if (val <= 63 && (valid >> val & 1))
		return 0;
	valid_str(vs, sizeof(vs), valid);
	return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			      "Invalid %s=%" PRIu64 " for %s (caps/%s). "
			      "Valid values are: %s", name, val,
			      sa_cap_pmu_name(p), caps, vs);
}

/* The feature checks of the kernel's pt_event_valid(): a term that needs
 * a capability the CPU lacks makes perf_event_open fail with EINVAL and
 * no reason; say which.
 */
static int pt_need_cap(const struct sa_cap_pmu *p, struct perf_event_attr *a,
		       const char *term, const char *cap,
		       struct sa_errinfo *ei)
{
	if (!term_get(p, a, term) || cap_or(p, cap, 0))
		return 0;
	return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			      "%s=%" PRIu64 " needs caps/%s, which this CPU "
			      "does not have (%s/caps/%s is 0); remove the term",
			      term, term_get(p, a, term), cap,
			      sa_cap_pmu_name(p), cap);
}

static int pt_validate(const struct sa_cap_pmu *p, struct perf_event_attr *a,
		       struct sa_errinfo *ei)
{
	int err;

	if (sa_cap_pmu_format(p, "pt") && !term_get(p, a, "pt")) {
		sa_warn("intel_pt: pt=0 doesn't make sense, forcing pt=1\n");
		term_set(p, a, "pt", 1, NULL);
	}
	err = pt_val_term(p, a, "cycle_thresholds", "cyc_thresh", "psb_cyc",
			  ei);
	if (!err)
		err = pt_val_term(p, a, "mtc_periods", "mtc_period", "mtc",
				  ei);
	if (!err)
		err = pt_val_term(p, a, "psb_periods", "psb_period", "psb_cyc",
				  ei);
	if (!err)
		err = pt_need_cap(p, a, "cyc", "psb_cyc", ei);
	if (!err)
		err = pt_need_cap(p, a, "mtc", "mtc", ei);
	if (!err)
		err = pt_need_cap(p, a, "ptw", "ptwrite", ei);
	if (!err)
		err = pt_need_cap(p, a, "fup_on_ptw", "ptwrite", ei);
	if (!err)
		err = pt_need_cap(p, a, "pwr_evt", "power_event_trace", ei);
	if (!err)
		err = pt_need_cap(p, a, "event", "event_trace", ei);
	if (!err)
		err = pt_need_cap(p, a, "notnt", "tnt_disable", ei);
	return err;
}

static uint32_t bmval(uint32_t v, int lo, int hi)
{
	return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

/* perf's cs_etm_validate_context_id() and cs_etm_validate_timestamp(),
 * on every CPU that sysfs lists.
 */
static int etm_validate(const struct sa_cap_pmu *p, struct perf_event_attr *a,
			struct sa_errinfo *ei)
{
	const struct sa_cap_format *c1 = sa_cap_pmu_format(p, "contextid1");
	const struct sa_cap_format *c2 = sa_cap_pmu_format(p, "contextid2");
	const struct sa_cap_format *ctx = sa_cap_pmu_format(p, "contextid");
	const struct sa_cap_format *ts = sa_cap_pmu_format(p, "timestamp");
	uint64_t cfg = a->config;
	size_t i;

	for (i = 0; i < sa_cap_pmu_nr_etm_cpus(p); i++) {
		const struct sa_cap_etm_cpu *c = sa_cap_pmu_etm_cpu(p, i);
		bool want_c1, want_c2;

		/* contextid is an alias of contextid1 or contextid2. */
		want_c1 = c1 && c1->field == SA_CAP_CONFIG &&
			  (cfg & c1->mask);
		want_c2 = c2 && c2->field == SA_CAP_CONFIG &&
			  (cfg & c2->mask);
		if (ctx && ctx->field == SA_CAP_CONFIG && (cfg & ctx->mask)) {
			if (c2 && ctx->mask == c2->mask)
				want_c2 = true;
			else
				want_c1 = true;
		}
		if ((want_c1 || want_c2) && !(c->has_trcidr & (1u << 2)))
			return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					      "cs_etm/cpu%d/trcidr/trcidr2 is "
					      "missing (ETMv3?): contextid "
					      "tracing needs ETMv4", c->cpu);
		if (want_c1 && bmval(c->trcidr[2], 5, 9) != 0x4)
			return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					      "cpu%d: CONTEXTIDR_EL1 isn't "
					      "supported (TRCIDR2.CIDSIZE = %u), "
					      "disable with contextid1=0",
					      c->cpu,
					      bmval(c->trcidr[2], 5, 9));
		if (want_c2 && (!bmval(c->trcidr[2], 29, 30) ||
				bmval(c->trcidr[2], 10, 14) < 4))
			return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					      "cpu%d: CONTEXTIDR_EL2 isn't "
					      "supported (TRCIDR2 0x%x: VMIDOPT "
					      "%u, VMIDSIZE %u), disable with "
					      "contextid2=0", c->cpu,
					      c->trcidr[2],
					      bmval(c->trcidr[2], 29, 30),
					      bmval(c->trcidr[2], 10, 14));
		if (ts && ts->field == SA_CAP_CONFIG && (cfg & ts->mask)) {
			if (!(c->has_trcidr & 1))
				return sa_errinfo_set(ei, -SA_ERR_INVAL,
					SA_NO_OFFSET,
					"cpu%d: timestamp not supported in "
					"ETMv3, disable with timestamp=0",
					c->cpu);
			if (!bmval(c->trcidr[0], 24, 28))
				return sa_errinfo_set(ei, -SA_ERR_INVAL,
					SA_NO_OFFSET,
					"cpu%d: global timestamps are not "
					"implemented (TRCIDR0.TSSIZE = 0), "
					"disable with timestamp=0", c->cpu);
		}
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

static int raw_field(const char *name, enum sa_cap_field *f)
{
	static const char *const names[] = { "config", "config1", "config2",
					     "config3" };
	int i;

	for (i = 0; i < 4; i++) {
		if (!strcmp(name, names[i])) {
			*f = (enum sa_cap_field)i;
			return 0;
		}
	}
	return -1;
}

struct term {
	char name[SA_CAP_NAME_MAX];
	uint64_t val;
};

static int split_terms(const struct sa_cap_pmu *p, const char *terms,
		       struct term *out, size_t *nr, struct sa_errinfo *ei)
{
	const char *s = terms;

	*nr = 0;
	if (!terms)
		return 0;
	if (strlen(terms) >= TERMS_MAX)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, 0,
				      "config terms longer than %d bytes",
				      TERMS_MAX);
	while (*s) {
		size_t off = (size_t)(s - terms), nlen, vlen;
		const char *end = s + strcspn(s, ",");
		const char *eq = memchr(s, '=', (size_t)(end - s));
		char val[64];

		if (end == s) {
			s++;
			continue;
		}
		if (*nr == NR_TERMS_MAX)
			return sa_errinfo_set(ei, -SA_ERR_TOOBIG, off,
					      "more than %d config terms (the limit)",
					      NR_TERMS_MAX);
		nlen = (size_t)((eq ? eq : end) - s);
		if (!nlen || nlen >= SA_CAP_NAME_MAX)
			return sa_errinfo_set(ei, -SA_ERR_INVAL, off,
					      "config terms '%s': bad term at "
					      "offset %zu", terms, off);
		memcpy(out[*nr].name, s, nlen);
		out[*nr].name[nlen] = '\0';
		if (eq) {
			vlen = (size_t)(end - eq - 1);
			if (vlen >= sizeof(val))
				vlen = sizeof(val) - 1;
			memcpy(val, eq + 1, vlen);
			val[vlen] = '\0';
			if (parse_u64(val, &out[*nr].val))
				return sa_errinfo_set(ei, -SA_ERR_INVAL,
						      off + nlen + 1,
						      "config terms '%s': '%s' "
						      "is not a number (term "
						      "'%s')", terms, val,
						      out[*nr].name);
		} else {
			out[*nr].val = 1;
		}
		{
			enum sa_cap_field f;

			if (raw_field(out[*nr].name, &f) &&
			    !sa_cap_pmu_format(p, out[*nr].name)) {
				char known[512];
				size_t i, k = 0;

				known[0] = '\0';
				for (i = 0; i < sa_cap_pmu_nr_formats(p) &&
					    k < sizeof(known); i++)
					k += snprintf(known + k,
						sizeof(known) - k, "%s%s",
						i ? "," : "",
						sa_cap_pmu_format_at(p, i)->name);
				return sa_errinfo_set(ei, -SA_ERR_INVAL, off,
					"unknown %s term '%s' at offset %zu of "
					"'%s'; %s/format/ has: %s",
					sa_cap_pmu_name(p), out[*nr].name, off,
					terms, sa_cap_pmu_name(p), known);
			}
		}
		(*nr)++;
		s = *end ? end + 1 : end;
	}
	return 0;
}

static bool term_given(const struct term *t, size_t nr, const char *name)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (!strcmp(t[i].name, name))
			return true;
	return false;
}

int sa_cap_attr_build(const struct sa_cap_pmu *p,
		      const struct sa_cap_attr_opts *o,
		      struct perf_event_attr *attr, struct sa_errinfo *ei)
{
	struct term terms[NR_TERMS_MAX];
	bool is_pt = !strcmp(sa_cap_pmu_name(p), "intel_pt");
	bool is_etm = !strcmp(sa_cap_pmu_name(p), "cs_etm");
	size_t nr, i;
	int err;

	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->type = sa_cap_pmu_type(p);
	/* One AUX record per buffer fill; perf sets period 1, no freq. */
	attr->sample_period = 1;
	attr->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			    PERF_SAMPLE_TIME | PERF_SAMPLE_IDENTIFIER;
	if (o->per_cpu)
		attr->sample_type |= PERF_SAMPLE_CPU;
	attr->read_format = PERF_FORMAT_ID;
	attr->disabled = 1;
	attr->sample_id_all = 1;
	attr->exclude_kernel = !o->kernel;
	attr->exclude_hv = 1;
	attr->exclude_guest = 1;
	/* The kernel refuses mmap() of inherited per-task events
	 * (perf_mmap: "event->cpu == -1 && event->attr.inherit"), so
	 * threads are covered by one event per thread, like perf -p.
	 */
	attr->inherit = o->per_cpu;

	err = split_terms(p, o->terms, terms, &nr, ei);
	if (err)
		return err;
	if (is_pt && !o->no_defaults) {
		err = pt_defaults(p, attr, ei);
		if (err)
			return err;
	}
	for (i = 0; i < nr; i++) {
		enum sa_cap_field f;

		if (!raw_field(terms[i].name, &f) &&
		    !sa_cap_pmu_format(p, terms[i].name)) {
			__u64 *v = attr_field(attr, f);

			if (!v)
				return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED,
						      SA_NO_OFFSET,
						      "%s: not in this build's "
						      "perf_event_attr",
						      terms[i].name);
			*v = terms[i].val;
			continue;
		}
		err = term_set(p, attr, terms[i].name, terms[i].val, ei);
		if (err)
			return err;
	}
	if (is_etm && o->per_cpu && !o->no_defaults) {
		/* cs_etm_recording_options(): per-CPU decoding needs both. */
		if (!term_given(terms, nr, "timestamp") &&
		    sa_cap_pmu_format(p, "timestamp"))
			term_set(p, attr, "timestamp", 1, NULL);
		if (!term_given(terms, nr, "contextid") &&
		    !term_given(terms, nr, "contextid1") &&
		    !term_given(terms, nr, "contextid2") &&
		    sa_cap_pmu_format(p, "contextid"))
			term_set(p, attr, "contextid", 1, NULL);
	}
	if (o->sink) {
		uint64_t hash;

		if (!is_etm)
			return sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
					      "a sink is a cs_etm option; %s "
					      "has none", sa_cap_pmu_name(p));
		if (sa_cap_pmu_sink(p, o->sink, &hash)) {
			char known[256];
			size_t k = 0;

			known[0] = '\0';
			for (i = 0; i < sa_cap_pmu_nr_sinks(p) &&
				    k < sizeof(known); i++)
				k += snprintf(known + k, sizeof(known) - k,
					      "%s%s", i ? ", " : "",
					      sa_cap_pmu_sink_name(p, i));
			return sa_errinfo_set(ei, -SA_ERR_NOTFOUND,
					      SA_NO_OFFSET,
					      "cs_etm has no sink '%s' (sinks/: "
					      "%s)", o->sink,
					      k ? known : "none");
		}
		err = term_set(p, attr, "sinkid", hash, ei);
		if (err)
			return err;
	}
	if (is_pt)
		return pt_validate(p, attr, ei);
	if (is_etm)
		return etm_validate(p, attr, ei);
	return 0;
}

void sa_cap_attr_sideband(struct perf_event_attr *attr, bool kernel,
			  bool per_cpu)
{
	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->type = PERF_TYPE_SOFTWARE;
	attr->config = PERF_COUNT_SW_DUMMY;
	attr->sample_period = 1;
	attr->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			    PERF_SAMPLE_TIME | PERF_SAMPLE_IDENTIFIER;
	if (per_cpu)
		attr->sample_type |= PERF_SAMPLE_CPU;
	attr->read_format = PERF_FORMAT_ID;
	attr->disabled = 1;
	attr->exclude_kernel = !kernel;
	attr->exclude_hv = 1;
	attr->mmap = 1;
	attr->mmap2 = 1;
	attr->comm = 1;
	attr->comm_exec = 1;
	attr->task = 1;
	attr->context_switch = 1;
	attr->sample_id_all = 1;
	attr->inherit = per_cpu;
}

/*
 * Filters.
 */
static const char *const filter_actions[] = { "filter", "start", "stop",
					      "tracestop" };

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static int append(char *out, size_t len, size_t *pos, struct sa_errinfo *ei,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int append(char *out, size_t len, size_t *pos, struct sa_errinfo *ei,
		  const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *pos)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "filter string longer than %zu bytes",
				      len);
	*pos += (size_t)n;
	return 0;
}

static int file_size_real(const char *file, char *real, uint64_t *size,
			  const char *spec, size_t off, struct sa_errinfo *ei)
{
	struct stat st;

	if (!realpath(file, real))
		return sa_errinfo_set(ei, -errno, off,
				      "filter '%s': file '%s': %s", spec, file,
				      strerror(errno));
	if (stat(real, &st))
		return sa_errinfo_set(ei, -errno, off,
				      "filter '%s': file '%s': %s", spec, real,
				      strerror(errno));
	*size = (uint64_t)st.st_size;
	return 0;
}

int sa_cap_filter_parse(const char *spec, uint32_t max_filters, char *out,
			size_t len, struct sa_errinfo *ei)
{
	const char *s = spec;
	size_t pos = 0;
	uint32_t nr = 0;
	int err;

	if (!len)
		return -SA_ERR_INVAL;
	out[0] = '\0';
	while (*(s = skip_ws(s))) {
		size_t off = (size_t)(s - spec);
		const char *action = "filter";
		char file[PATH_MAX], real[PATH_MAX];
		uint64_t start = 0, size = 0;
		bool have_start = false, have_size = false, whole = false;
		bool have_file = false;
		char sym_from[256] = "", sym_to[256] = "";
		size_t i, n;

		if (*s == ',') {
			s++;
			continue;
		}
		for (i = 0; i < 4; i++) {
			n = strlen(filter_actions[i]);
			if (!strncmp(s, filter_actions[i], n) &&
			    (s[n] == ' ' || s[n] == '\t')) {
				/* The kernel knows "stop" only; perf
				 * writes tracestop as stop.
				 */
				action = i == 3 ? "stop" : filter_actions[i];
				s = skip_ws(s + n);
				break;
			}
		}
		if (i == 4 && *s != '/')
			return sa_errinfo_set(ei, -SA_ERR_INVAL, off,
				"filter '%s' at offset %zu: want filter|start|"
				"stop|tracestop <start> [/ <size>] [@<file>], "
				"or a file path", spec, off);
		if (i == 4) {
			whole = true;
		} else if (*s == '*') {
			whole = true;
			s++;
		} else if (*s != '@') {
			char *end;

			if (!isdigit((unsigned char)*s)) {
				n = strcspn(s, " \t/@,");
				if (!n || n >= sizeof(sym_from))
					return sa_errinfo_set(ei, -SA_ERR_INVAL,
						(uint64_t)(s - spec),
						"filter '%s' at offset %zu: bad "
						"symbol", spec,
						(size_t)(s - spec));
				memcpy(sym_from, s, n);
				sym_from[n] = '\0';
				end = (char *)s + n;
			} else {
				errno = 0;
				start = strtoull(s, &end, 0);
				if (errno)
					return sa_errinfo_set(ei, -SA_ERR_INVAL,
						(uint64_t)(s - spec),
						"filter '%s': bad address",
						spec);
			}
			have_start = true;
			s = skip_ws(end);
			if (*s == '/') {
				s = skip_ws(s + 1);
				if (!isdigit((unsigned char)*s)) {
					n = strcspn(s, " \t@,");
					if (!n || n >= sizeof(sym_to))
						return sa_errinfo_set(ei,
							-SA_ERR_INVAL,
							(uint64_t)(s - spec),
							"filter '%s' at offset "
							"%zu: bad size", spec,
							(size_t)(s - spec));
					memcpy(sym_to, s, n);
					sym_to[n] = '\0';
					s += n;
				} else {
					errno = 0;
					size = strtoull(s, &end, 0);
					if (errno || end == s)
						return sa_errinfo_set(ei,
							-SA_ERR_INVAL,
							(uint64_t)(s - spec),
							"filter '%s' at offset "
							"%zu: bad size", spec,
							(size_t)(s - spec));
					s = end;
				}
				have_size = true;
			}
		} else {
			whole = true;
		}
		s = skip_ws(s);
		if (*s == '@' || (whole && *s == '/')) {
			if (*s == '@')
				s = skip_ws(s + 1);
			n = strcspn(s, " \t,");
			if (!n || n >= sizeof(file))
				return sa_errinfo_set(ei, -SA_ERR_INVAL,
					(uint64_t)(s - spec),
					"filter '%s': bad file name", spec);
			memcpy(file, s, n);
			file[n] = '\0';
			s += n;
			have_file = true;
		}
		if ((whole || sym_from[0]) && !have_file)
			return sa_errinfo_set(ei, -SA_ERR_INVAL, off,
					      "filter '%s': a %s filter needs "
					      "@FILE (kernel symbols are not "
					      "resolved)", spec,
					      whole ? "whole-file" : "symbol");
		if (have_file) {
			uint64_t fsize = 0;

			err = file_size_real(file, real, &fsize, spec, off,
					     ei);
			if (err)
				return err;
			if (whole) {
				/* perf's addr_filter__entire_dso(). */
				start = 0;
				size = fsize;
				have_size = true;
			}
		}
		if (sym_from[0]) {
			uint64_t ssize, eoff, esize;

			err = sa_cap_elf_symbol(real, sym_from, &start, &ssize,
						ei);
			if (err)
				return err;
			if (sym_to[0]) {
				err = sa_cap_elf_symbol(real, sym_to, &eoff,
							&esize, ei);
				if (err)
					return err;
				if (eoff + esize <= start)
					return sa_errinfo_set(ei, -SA_ERR_INVAL,
						off, "filter '%s': %s ends "
						"before %s starts", spec,
						sym_to, sym_from);
				size = eoff + esize - start;
			} else if (!have_size && !strcmp(action, "filter")) {
				/* A filter on a symbol is its whole body. */
				size = ssize;
				have_size = true;
			}
		}
		if (!have_start && !whole)
			return sa_errinfo_set(ei, -SA_ERR_INVAL, off,
					      "filter '%s': no start", spec);
		if (have_size && !size)
			return sa_errinfo_set(ei, -SA_ERR_INVAL, off,
					      "filter '%s': size 0", spec);
		if (++nr > max_filters) {
			if (!max_filters)
				return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED,
					off, "address filters are not "
					"supported by this PMU "
					"(nr_addr_filters is 0)");
			return sa_errinfo_set(ei, -SA_ERR_INVAL, off,
					      "number of address filters (%u) "
					      "exceeds maximum (%u, "
					      "nr_addr_filters)", nr,
					      max_filters);
		}
		/* perf's addr_filter__to_str(). */
		if (pos) {
			err = append(out, len, &pos, ei, ",");
			if (err)
				return err;
		}
		if (have_size)
			err = append(out, len, &pos, ei,
				     "%s 0x%" PRIx64 "/0x%" PRIx64 "%s%s",
				     action, start, size,
				     have_file ? "@" : "",
				     have_file ? real : "");
		else
			err = append(out, len, &pos, ei,
				     "%s 0x%" PRIx64 "%s%s", action, start,
				     have_file ? "@" : "",
				     have_file ? real : "");
		if (err)
			return err;
	}
	return (int)nr;
}

int sa_cap_filter_default(const char *proc, pid_t pid, char *out,
			  size_t len, struct sa_errinfo *ei)
{
	char link[PATH_MAX], exe[PATH_MAX], maps[PATH_MAX], line[PATH_MAX + 128];
	bool mapped = false;
	struct stat st;
	ssize_t n;
	FILE *f;
	int w;

	if (!proc)
		proc = "/proc";
	snprintf(link, sizeof(link), "%s/%d/exe", proc, (int)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0)
		return sa_errinfo_set(ei, errno == ENOENT ? -ESRCH : -errno,
				      SA_NO_OFFSET, "%s: %s (is pid %d alive "
				      "and may we ptrace it?)", link,
				      strerror(errno), (int)pid);
	exe[n] = '\0';
	if (stat(exe, &st))
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET,
				      "main binary of pid %d, '%s': %s (replaced "
				      "or deleted since it started?)", (int)pid,
				      exe, strerror(errno));
	/* The filter is only useful if the binary is mapped executable. */
	snprintf(maps, sizeof(maps), "%s/%d/maps", proc, (int)pid);
	f = fopen(maps, "re");
	if (!f)
		return sa_errinfo_set(ei, -errno, SA_NO_OFFSET, "%s: %s", maps,
				      strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char perm[8];
		int pathoff = 0;

		if (sscanf(line, "%*x-%*x %7s %*x %*s %*u %n", perm,
			   &pathoff) < 1 || !pathoff)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (perm[2] == 'x' && !strcmp(line + pathoff, exe)) {
			mapped = true;
			break;
		}
	}
	fclose(f);
	if (!mapped)
		return sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
				      "%s has no executable mapping of %s; give "
				      "--filter", maps, exe);
	w = snprintf(out, len, "filter 0x0/0x%" PRIx64 "@%s",
		     (uint64_t)st.st_size, exe);
	if (w < 0 || (size_t)w >= len)
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "filter for '%s' too long", exe);
	return 1;
}
