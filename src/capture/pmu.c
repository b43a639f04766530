// SPDX-License-Identifier: BSD-2-Clause
/*
 * PMU discovery from sysfs.
 *
 * Every value comes from a file under <root>/<pmu>/; nothing about bit
 * positions is assumed, because kernels move terms (cs_etm contextid is
 * config:15 under VHE, timestamp moves to config:4-7 in newer kernels).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sensor/capture.h"
#include "sensor/log.h"
#include "capture_int.h"

#define PMU_MAX_FORMATS 64
#define PMU_MAX_CAPS 64
#define PMU_MAX_SINKS 32
#define PMU_MAX_ETM_CPUS 512
#define PMU_FILE_MAX 256

struct pmu_kv {
	char name[SA_CAP_NAME_MAX];
	uint64_t val;
};

struct sa_cap_pmu {
	char name[SA_CAP_NAME_MAX];
	uint32_t type;
	uint32_t nr_addr_filters;
	size_t nr_formats;
	struct sa_cap_format formats[PMU_MAX_FORMATS];
	size_t nr_caps;
	struct pmu_kv caps[PMU_MAX_CAPS];
	size_t nr_sinks;
	struct pmu_kv sinks[PMU_MAX_SINKS];
	size_t nr_cpus;
	struct sa_cap_etm_cpu *cpus;
	bool has_nonturbo, has_art;
	uint32_t nonturbo, art_num, art_den;
};

int sa_cap_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	/* sysfs show() routines end with '\n'. */
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	return (int)n;
}

/* Reads one unsigned number; base 0 takes "0x" prefixes, 16 is perf's
 * "%x" for caps/ and sinks/ (which the kernel prints with or without
 * "0x").
 */
static int read_num(const char *path, int base, uint64_t *val,
		    struct sa_errinfo *ei)
{
	char buf[PMU_FILE_MAX], *end;
	int n;

	n = sa_cap_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return sa_errinfo_set(ei, n, SA_NO_OFFSET, "%s: %s", path,
				      sa_strerror(n));
	errno = 0;
	*val = strtoull(buf, &end, base);
	if (errno || end == buf || *end)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, end - buf,
				      "%s: '%s' is not a number", path, buf);
	return 0;
}

static const char *field_names[] = {
	[SA_CAP_CONFIG] = "config",
	[SA_CAP_CONFIG1] = "config1",
	[SA_CAP_CONFIG2] = "config2",
	[SA_CAP_CONFIG3] = "config3",
};

int sa_cap_format_parse(const char *spec, const char *what,
			struct sa_cap_format *f, struct sa_errinfo *ei)
{
	const char *p = spec, *colon;
	size_t flen;
	int i;

	if (!what)
		what = "format";
	colon = strchr(spec, ':');
	if (!colon)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, 0,
				      "%s: '%s' has no ':' (want config:N-M)",
				      what, spec);
	flen = (size_t)(colon - spec);
	f->field = (enum sa_cap_field)-1;
	for (i = 0; i < 4; i++) {
		if (strlen(field_names[i]) == flen &&
		    !strncmp(spec, field_names[i], flen))
			f->field = (enum sa_cap_field)i;
	}
	if ((int)f->field < 0)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, 0,
				      "%s: unknown field in '%s' (want config, config1, config2 or config3)",
				      what, spec);
	f->mask = 0;
	p = colon + 1;
	for (;;) {
		unsigned long lo, hi;
		char *end;

		if (!isdigit((unsigned char)*p))
			goto bad;
		lo = strtoul(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			hi = strtoul(p, &end, 10);
			p = end;
		}
		if (lo > 63 || hi > 63 || hi < lo)
			goto bad;
		if (hi - lo == 63)
			f->mask = UINT64_MAX;
		else
			f->mask |= ((1ULL << (hi - lo + 1)) - 1) << lo;
		if (*p == '\0')
			break;
		if (*p != ',')
			goto bad;
		p++;
	}
	return 0;
bad:
	return sa_errinfo_set(ei, -SA_ERR_FORMAT, (uint64_t)(p - spec),
			      "%s: bad bit range in '%s' at offset %zu",
			      what, spec, (size_t)(p - spec));
}

int sa_cap_format_value(uint64_t mask, uint64_t val, uint64_t *out)
{
	uint64_t res = 0;
	int bit;

	for (bit = 0; bit < 64; bit++) {
		if (!(mask & (1ULL << bit)))
			continue;
		if (val & 1)
			res |= 1ULL << bit;
		val >>= 1;
	}
	if (val)
		return -SA_ERR_INVAL;
	*out = res;
	return 0;
}

/* Iterates over the regular entries of @dir, sorted so that output and
 * tests are stable.
 */
static int scan_dir(const char *dir, struct dirent ***list)
{
	int n = scandir(dir, list, NULL, alphasort);

	return n < 0 ? -errno : n;
}

static void free_list(struct dirent **list, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static int load_formats(struct sa_cap_pmu *p, const char *dir,
			struct sa_errinfo *ei)
{
	struct dirent **list;
	char path[PATH_MAX + 320], buf[PMU_FILE_MAX];
	int n, i, err = 0;

	snprintf(path, sizeof(path), "%s/format", dir);
	n = scan_dir(path, &list);
	if (n < 0)
		return n == -ENOENT ? 0 : sa_errinfo_set(ei, n, SA_NO_OFFSET,
						"%s: %s", path, sa_strerror(n));
	for (i = 0; i < n; i++) {
		struct sa_cap_format *f;

		if (list[i]->d_name[0] == '.')
			continue;
		if (p->nr_formats == PMU_MAX_FORMATS) {
			err = sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
					     "%s: more than %d format terms (the limit)",
					     path, PMU_MAX_FORMATS);
			break;
		}
		snprintf(path, sizeof(path), "%s/format/%s", dir,
			 list[i]->d_name);
		err = sa_cap_read_file(path, buf, sizeof(buf));
		if (err < 0) {
			sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", path,
				       sa_strerror(err));
			break;
		}
		f = &p->formats[p->nr_formats];
		err = sa_cap_format_parse(buf, path, f, ei);
		if (err < 0)
			break;
		snprintf(f->name, sizeof(f->name), "%.63s", list[i]->d_name);
		p->nr_formats++;
	}
	free_list(list, n);
	return err < 0 ? err : 0;
}

static int load_kv_dir(const char *dir, const char *sub, struct pmu_kv *kv,
		       size_t max, size_t *nr, struct sa_errinfo *ei)
{
	struct dirent **list;
	char path[PATH_MAX + 320];
	int n, i, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	n = scan_dir(path, &list);
	if (n < 0)
		return n == -ENOENT ? 0 : sa_errinfo_set(ei, n, SA_NO_OFFSET,
						"%s: %s", path, sa_strerror(n));
	for (i = 0; i < n; i++) {
		if (list[i]->d_name[0] == '.')
			continue;
		if (*nr == max) {
			err = sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
					     "%s: more than %zu entries (the limit)", path,
					     max);
			break;
		}
		snprintf(path, sizeof(path), "%s/%s/%s", dir, sub,
			 list[i]->d_name);
		err = read_num(path, 16, &kv[*nr].val, ei);
		if (err < 0)
			break;
		snprintf(kv[*nr].name, sizeof(kv[*nr].name), "%.63s",
			 list[i]->d_name);
		(*nr)++;
	}
	free_list(list, n);
	return err < 0 ? err : 0;
}

static int etm_cpu_cmp(const void *a, const void *b)
{
	const struct sa_cap_etm_cpu *x = a, *y = b;

	return (x->cpu > y->cpu) - (x->cpu < y->cpu);
}

static int load_etm_cpu(const char *dir, const char *name,
			struct sa_cap_etm_cpu *c, struct sa_errinfo *ei)
{
	char path[PATH_MAX + 320];
	uint64_t v;
	int i, err;

	memset(c, 0, sizeof(*c));
	c->cpu = (int)strtol(name + 3, NULL, 10);
	for (i = 0; i < 14; i++) {
		snprintf(path, sizeof(path), "%s/%s/trcidr/trcidr%d", dir,
			 name, i);
		if (access(path, R_OK))
			continue;
		err = read_num(path, 0, &v, ei);
		if (err < 0)
			return err;
		c->trcidr[i] = (uint32_t)v;
		c->has_trcidr |= 1u << i;
	}
	snprintf(path, sizeof(path), "%s/%s/mgmt/trcauthstatus", dir, name);
	if (!access(path, R_OK)) {
		err = read_num(path, 0, &v, ei);
		if (err < 0)
			return err;
		c->trcauthstatus = (uint32_t)v;
	}
	/* Top level since dynamic trace ids, under mgmt/ before. */
	snprintf(path, sizeof(path), "%s/%s/trctraceid", dir, name);
	if (access(path, R_OK))
		snprintf(path, sizeof(path), "%s/%s/mgmt/trctraceid", dir,
			 name);
	if (!access(path, R_OK)) {
		err = read_num(path, 0, &v, ei);
		if (err < 0)
			return err;
		c->traceid = (uint32_t)v;
		c->has_traceid = true;
	}
	return 0;
}

static int load_etm_cpus(struct sa_cap_pmu *p, const char *dir,
			 struct sa_errinfo *ei)
{
	struct dirent **list;
	int n, i, err = 0;

	n = scan_dir(dir, &list);
	if (n < 0)
		return sa_errinfo_set(ei, n, SA_NO_OFFSET, "%s: %s", dir,
				      sa_strerror(n));
	for (i = 0; i < n; i++) {
		const char *nm = list[i]->d_name;
		struct sa_cap_etm_cpu *c;

		if (strncmp(nm, "cpu", 3) || !isdigit((unsigned char)nm[3]))
			continue;
		if (p->nr_cpus == PMU_MAX_ETM_CPUS) {
			err = sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
					     "%s: more than %d cpuN entries (the limit)",
					     dir, PMU_MAX_ETM_CPUS);
			break;
		}
		c = realloc(p->cpus, (p->nr_cpus + 1) * sizeof(*c));
		if (!c) {
			err = -ENOMEM;
			break;
		}
		p->cpus = c;
		err = load_etm_cpu(dir, nm, &p->cpus[p->nr_cpus], ei);
		if (err < 0)
			break;
		p->nr_cpus++;
	}
	free_list(list, n);
	if (!err && p->nr_cpus)
		qsort(p->cpus, p->nr_cpus, sizeof(*p->cpus), etm_cpu_cmp);
	return err;
}

struct sa_cap_pmu *sa_cap_pmu__open(const char *root, const char *name,
				    struct sa_errinfo *ei)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], buf[PMU_FILE_MAX];
	struct sa_cap_pmu *p;
	struct stat st;
	uint64_t v;
	int err;

	if (!root)
		root = SA_CAP_SYSFS_DEFAULT;
	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		char why[SA_ERRMSG_MAX];

		err = sa_cap_explain_nohw(root, NULL, name, why, sizeof(why));
		sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s", why);
		errno = -err;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);

	snprintf(path, sizeof(path), "%s/type", dir);
	err = read_num(path, 10, &v, ei);
	if (err < 0)
		goto out_free;
	p->type = (uint32_t)v;

	snprintf(path, sizeof(path), "%s/nr_addr_filters", dir);
	if (!access(path, R_OK)) {
		err = read_num(path, 10, &v, ei);
		if (err < 0)
			goto out_free;
		p->nr_addr_filters = (uint32_t)v;
	}

	err = load_formats(p, dir, ei);
	if (err < 0)
		goto out_free;
	err = load_kv_dir(dir, "caps", p->caps, PMU_MAX_CAPS, &p->nr_caps,
			  ei);
	if (err < 0)
		goto out_free;
	err = load_kv_dir(dir, "sinks", p->sinks, PMU_MAX_SINKS,
			  &p->nr_sinks, ei);
	if (err < 0)
		goto out_free;
	err = load_etm_cpus(p, dir, ei);
	if (err < 0)
		goto out_free;

	snprintf(path, sizeof(path), "%s/max_nonturbo_ratio", dir);
	if (!access(path, R_OK)) {
		err = read_num(path, 10, &v, ei);
		if (err < 0)
			goto out_free;
		p->nonturbo = (uint32_t)v;
		p->has_nonturbo = true;
	}
	snprintf(path, sizeof(path), "%s/tsc_art_ratio", dir);
	if (sa_cap_read_file(path, buf, sizeof(buf)) >= 0) {
		unsigned int num, den;
		int used = 0;

		/* Kernel prints "%u:%u\n" (CPUID.15H EBX:EAX). */
		if (sscanf(buf, "%u:%u%n", &num, &den, &used) != 2 ||
		    buf[used]) {
			err = sa_errinfo_set(ei, -SA_ERR_FORMAT, 0,
					     "%s: '%s' is not N:D", path, buf);
			goto out_free;
		}
		p->art_num = num;
		p->art_den = den;
		p->has_art = true;
	}
	return p;

out_free:
	sa_cap_pmu__free(p);
	errno = -err;
	return NULL;
}

void sa_cap_pmu__free(struct sa_cap_pmu *p)
{
	if (!p)
		return;
	free(p->cpus);
	free(p);
}

const char *sa_cap_pmu_name(const struct sa_cap_pmu *p)
{
	return p->name;
}

uint32_t sa_cap_pmu_type(const struct sa_cap_pmu *p)
{
	return p->type;
}

uint32_t sa_cap_pmu_nr_addr_filters(const struct sa_cap_pmu *p)
{
	return p->nr_addr_filters;
}

size_t sa_cap_pmu_nr_formats(const struct sa_cap_pmu *p)
{
	return p->nr_formats;
}

const struct sa_cap_format *sa_cap_pmu_format_at(const struct sa_cap_pmu *p,
						 size_t idx)
{
	return idx < p->nr_formats ? &p->formats[idx] : NULL;
}

const struct sa_cap_format *sa_cap_pmu_format(const struct sa_cap_pmu *p,
					      const char *name)
{
	size_t i;

	for (i = 0; i < p->nr_formats; i++)
		if (!strcmp(p->formats[i].name, name))
			return &p->formats[i];
	return NULL;
}

static int kv_find(const struct pmu_kv *kv, size_t nr, const char *name,
		   uint64_t *val)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		if (!strcmp(kv[i].name, name)) {
			*val = kv[i].val;
			return 0;
		}
	}
	return -SA_ERR_NOTFOUND;
}

int sa_cap_pmu_cap(const struct sa_cap_pmu *p, const char *name,
		   uint64_t *val)
{
	return kv_find(p->caps, p->nr_caps, name, val);
}

size_t sa_cap_pmu_nr_sinks(const struct sa_cap_pmu *p)
{
	return p->nr_sinks;
}

const char *sa_cap_pmu_sink_name(const struct sa_cap_pmu *p, size_t idx)
{
	return idx < p->nr_sinks ? p->sinks[idx].name : NULL;
}

int sa_cap_pmu_sink(const struct sa_cap_pmu *p, const char *name,
		    uint64_t *hash)
{
	return kv_find(p->sinks, p->nr_sinks, name, hash);
}

size_t sa_cap_pmu_nr_etm_cpus(const struct sa_cap_pmu *p)
{
	return p->nr_cpus;
}

const struct sa_cap_etm_cpu *sa_cap_pmu_etm_cpu(const struct sa_cap_pmu *p,
						size_t idx)
{
	return idx < p->nr_cpus ? &p->cpus[idx] : NULL;
}

int sa_cap_pmu_max_nonturbo_ratio(const struct sa_cap_pmu *p,
				  uint32_t *ratio)
{
	if (!p->has_nonturbo)
		return -SA_ERR_NOTFOUND;
	*ratio = p->nonturbo;
	return 0;
}

int sa_cap_pmu_tsc_art_ratio(const struct sa_cap_pmu *p, uint32_t *num,
			     uint32_t *den)
{
	if (!p->has_art)
		return -SA_ERR_NOTFOUND;
	*num = p->art_num;
	*den = p->art_den;
	return 0;
}

/*
 * Why there is no PMU.  The message is built from what this machine
 * says, so that it is right on a VM, on AMD, on Arm without CoreSight,
 * and on a locked-down host.
 */
struct cpu_facts {
	char vendor[64];
	bool hypervisor;
	bool has_cpuinfo;
};

static void read_cpu_facts(const char *proc, struct cpu_facts *cf)
{
	char path[PATH_MAX + 320], line[4096];
	FILE *f;

	memset(cf, 0, sizeof(*cf));
	snprintf(path, sizeof(path), "%s/cpuinfo", proc);
	f = fopen(path, "re");
	if (!f)
		return;
	cf->has_cpuinfo = true;
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');

		if (!v)
			continue;
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\n")] = '\0';
		if (!strncmp(line, "vendor_id", 9) && !cf->vendor[0])
			snprintf(cf->vendor, sizeof(cf->vendor), "%s", v);
		else if (!strncmp(line, "CPU implementer", 15) &&
			 !cf->vendor[0])
			snprintf(cf->vendor, sizeof(cf->vendor),
				 "Arm implementer %s", v);
		else if (!strncmp(line, "flags", 5) &&
			 (strstr(v, " hypervisor") ||
			  !strncmp(v, "hypervisor", 10)))
			cf->hypervisor = true;
		if (cf->vendor[0] && cf->hypervisor)
			break;
	}
	fclose(f);
}

/* Effective capability bits from /proc/self/status (CapEff). */
static bool has_cap(const char *proc, int cap)
{
	char path[PATH_MAX + 320], line[256];
	unsigned long long eff = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/self/status", proc);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = true;
			break;
		}
	}
	fclose(f);
	return found && cap < 64 && (eff >> cap) & 1;
}

#define SA_CAP_SYS_ADMIN 21
#define SA_CAP_PERFMON 38

int sa_cap_explain_nohw(const char *root, const char *proc,
			const char *pmu_name, char *buf, size_t len)
{
	const char *alt = "use --backend emulate (ptrace-based, slower), or "
			  "record on a host with the hardware and run "
			  "`sensor-agent decode` offline";
	char path[PATH_MAX + 320], val[64];
	struct cpu_facts cf;
	bool want_pt, priv;
	int paranoid = 2;
	struct stat st;

	if (!root)
		root = SA_CAP_SYSFS_DEFAULT;
	if (!proc)
		proc = "/proc";
	want_pt = !pmu_name || !strcmp(pmu_name, "intel_pt");
	read_cpu_facts(proc, &cf);

	snprintf(path, sizeof(path), "%s/sys/kernel/perf_event_paranoid",
		 proc);
	if (sa_cap_read_file(path, val, sizeof(val)) > 0)
		paranoid = (int)strtol(val, NULL, 10);
	priv = has_cap(proc, SA_CAP_PERFMON) ||
	       has_cap(proc, SA_CAP_SYS_ADMIN);

	if (stat(root, &st)) {
		snprintf(buf, len,
			 "no %s PMU: %s does not exist (sysfs not mounted?); %s",
			 pmu_name ? pmu_name : "tracing", root, alt);
		return -SA_ERR_NOHW;
	}
	snprintf(path, sizeof(path), "%s/%s", root,
		 pmu_name ? pmu_name : "intel_pt");
	if (!stat(path, &st)) {
		/* The PMU is there: then only permissions can stop us. */
		if (paranoid > 0 && !priv) {
			snprintf(buf, len,
				 "%s is present but perf_event_paranoid is %d "
				 "and this process has neither CAP_PERFMON nor "
				 "CAP_SYS_ADMIN; run as root, grant CAP_PERFMON "
				 "(setcap cap_perfmon+ep), or set "
				 "kernel.perf_event_paranoid=-1", pmu_name,
				 paranoid);
			return -SA_ERR_PERM;
		}
		snprintf(buf, len, "%s is present", pmu_name);
		return 0;
	}
	if (cf.hypervisor && want_pt)
		snprintf(buf, len,
			 "no %s PMU under %s: this is a virtual machine "
			 "(cpuinfo flag 'hypervisor', vendor %s) and the "
			 "hypervisor does not pass Intel PT through; %s",
			 pmu_name ? pmu_name : "intel_pt", root,
			 cf.vendor[0] ? cf.vendor : "unknown", alt);
	else if (want_pt && cf.vendor[0] &&
		 strcmp(cf.vendor, "GenuineIntel"))
		snprintf(buf, len,
			 "no %s PMU under %s: the CPU vendor is %s and Intel PT "
			 "exists only on Intel CPUs (use cs_etm on Arm); %s",
			 pmu_name ? pmu_name : "intel_pt", root, cf.vendor,
			 alt);
	else if (!want_pt && cf.vendor[0] &&
		 strncmp(cf.vendor, "Arm implementer", 15))
		snprintf(buf, len,
			 "no %s PMU under %s: the CPU vendor is %s; CoreSight "
			 "ETM exists only on Arm (use intel_pt on Intel); %s",
			 pmu_name, root, cf.vendor, alt);
	else if (cf.hypervisor)
		snprintf(buf, len,
			 "no %s PMU under %s: this is a virtual machine "
			 "(cpuinfo flag 'hypervisor'), which does not expose "
			 "CoreSight; %s", pmu_name, root, alt);
	else
		snprintf(buf, len,
			 "no %s PMU under %s: the kernel has no driver for it "
			 "(CONFIG_PERF_EVENTS_INTEL_PT / CONFIG_CORESIGHT_* "
			 "off, or the hardware is disabled in firmware); %s",
			 pmu_name ? pmu_name : "tracing", root, alt);
	return -SA_ERR_NOHW;
}
