// SPDX-License-Identifier: BSD-2-Clause
/* Shared pieces of the CoreSight inputs: register defaults, core names,
 * file reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/file.h"
#include "sensor/log.h"
#include "cs_priv.h"

const char *sa_cs_protocol_name(enum sa_cs_protocol p)
{
	switch (p) {
	case SA_CS_PROTO_ETMV3:
		return "ETMv3";
	case SA_CS_PROTO_PTM:
		return "PTM";
	case SA_CS_PROTO_ETMV4:
		return "ETMv4";
	case SA_CS_PROTO_ETE:
		return "ETE";
	default:
		return "none";
	}
}

enum sa_cs_protocol sa_cs_protocol_parse(const char *s)
{
	static const struct {
		const char *name;
		enum sa_cs_protocol p;
	} t[] = {
		{ "etmv3", SA_CS_PROTO_ETMV3 }, { "etm3", SA_CS_PROTO_ETMV3 },
		{ "ptm", SA_CS_PROTO_PTM }, { "pft", SA_CS_PROTO_PTM },
		{ "etmv4", SA_CS_PROTO_ETMV4 }, { "etm4", SA_CS_PROTO_ETMV4 },
		{ "ete", SA_CS_PROTO_ETE },
	};
	size_t i;

	for (i = 0; s && i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcasecmp(s, t[i].name))
			return t[i].p;
	return SA_CS_PROTO_NONE;
}

/* The defaults are OpenCSD's own (EtmV4Config, ETEConfig, and the
 * snapshot reader's fallbacks): an ETMv4.0 / ETE with 64-bit addresses,
 * no cycle counting, no context or VMID tracing.
 */
void sa_cs_source_from_regs(struct sa_etm_source *s, enum sa_cs_protocol p,
			    uint8_t trace_id, const struct sa_cs_regs *r)
{
	static const struct sa_cs_regs none;

	if (!r)
		r = &none;
	memset(s, 0, sizeof(*s));
	s->trace_id = trace_id;
	switch (p) {
	case SA_CS_PROTO_ETMV3:
	case SA_CS_PROTO_PTM:
		s->protocol = p == SA_CS_PROTO_PTM ? SA_ETM_PROTO_PTM :
						     SA_ETM_PROTO_ETMV3;
		s->arch = SA_ETM_ARCH_V7;
		s->profile = SA_ETM_PROFILE_A;
		s->etmidr = r->etmidr ? r->etmidr :
			    (p == SA_CS_PROTO_PTM ? 0x411cf300 : 0x4114f250);
		s->etmcr = r->etmcr;
		s->etmccer = r->etmccer;
		break;
	case SA_CS_PROTO_ETE:
		s->protocol = SA_ETM_PROTO_ETE;
		s->arch = SA_ETM_ARCH_AA64;
		s->profile = SA_ETM_PROFILE_A;
		s->trcidr0 = r->trcidr0 ? r->trcidr0 : 0x28000ea1;
		s->trcidr1 = r->trcidr1 ? r->trcidr1 : 0x4100fff3;
		s->trcidr2 = r->trcidr2 ? r->trcidr2 : 0x00000488;
		s->trcidr8 = r->trcidr8;
		s->trcconfigr = r->trcconfigr ? r->trcconfigr : 0x1;
		s->trcdevarch = r->trcdevarch ? r->trcdevarch : 0x47705a13;
		break;
	default:
		s->protocol = SA_ETM_PROTO_ETMV4I;
		s->arch = SA_ETM_ARCH_V8;
		s->profile = SA_ETM_PROFILE_A;
		s->trcidr0 = r->trcidr0 ? r->trcidr0 : 0x28000ea1;
		s->trcidr1 = r->trcidr1 ? r->trcidr1 : 0x4100f403;
		s->trcidr2 = r->trcidr2 ? r->trcidr2 : 0x00000488;
		s->trcidr8 = r->trcidr8;
		s->trcconfigr = r->trcconfigr ? r->trcconfigr : 0x1;
		break;
	}
}

/* The core names OpenCSD 1.3 knows (trc_core_arch_map.cpp), so that a
 * snapshot decodes the same sources as trc_pkt_lister does.
 */
bool sa_cs_core_profile(const char *core, enum sa_etm_arch *arch,
			enum sa_etm_profile *prof)
{
	static const struct {
		const char *name;
		enum sa_etm_arch arch;
		enum sa_etm_profile prof;
	} t[] = {
		{ "Cortex-A77", SA_ETM_ARCH_V8R3, SA_ETM_PROFILE_A },
		{ "Cortex-A76", SA_ETM_ARCH_V8R3, SA_ETM_PROFILE_A },
		{ "Cortex-A75", SA_ETM_ARCH_V8R3, SA_ETM_PROFILE_A },
		{ "Cortex-A73", SA_ETM_ARCH_V8, SA_ETM_PROFILE_A },
		{ "Cortex-A72", SA_ETM_ARCH_V8, SA_ETM_PROFILE_A },
		{ "Cortex-A65", SA_ETM_ARCH_V8R3, SA_ETM_PROFILE_A },
		{ "Cortex-A57", SA_ETM_ARCH_V8, SA_ETM_PROFILE_A },
		{ "Cortex-A55", SA_ETM_ARCH_V8R3, SA_ETM_PROFILE_A },
		{ "Cortex-A53", SA_ETM_ARCH_V8, SA_ETM_PROFILE_A },
		{ "Cortex-A35", SA_ETM_ARCH_V8, SA_ETM_PROFILE_A },
		{ "Cortex-A32", SA_ETM_ARCH_V8, SA_ETM_PROFILE_A },
		{ "Cortex-A17", SA_ETM_ARCH_V7, SA_ETM_PROFILE_A },
		{ "Cortex-A15", SA_ETM_ARCH_V7, SA_ETM_PROFILE_A },
		{ "Cortex-A12", SA_ETM_ARCH_V7, SA_ETM_PROFILE_A },
		{ "Cortex-A9", SA_ETM_ARCH_V7, SA_ETM_PROFILE_A },
		{ "Cortex-A8", SA_ETM_ARCH_V7, SA_ETM_PROFILE_A },
		{ "Cortex-A7", SA_ETM_ARCH_V7, SA_ETM_PROFILE_A },
		{ "Cortex-A5", SA_ETM_ARCH_V7, SA_ETM_PROFILE_A },
		{ "Cortex-R52", SA_ETM_ARCH_V8, SA_ETM_PROFILE_R },
		{ "Cortex-R8", SA_ETM_ARCH_V7, SA_ETM_PROFILE_R },
		{ "Cortex-R7", SA_ETM_ARCH_V7, SA_ETM_PROFILE_R },
		{ "Cortex-R5", SA_ETM_ARCH_V7, SA_ETM_PROFILE_R },
		{ "Cortex-R4", SA_ETM_ARCH_V7, SA_ETM_PROFILE_R },
		{ "Cortex-M33", SA_ETM_ARCH_V8, SA_ETM_PROFILE_M },
		{ "Cortex-M23", SA_ETM_ARCH_V8, SA_ETM_PROFILE_M },
		{ "Cortex-M0", SA_ETM_ARCH_V7, SA_ETM_PROFILE_M },
		{ "Cortex-M0+", SA_ETM_ARCH_V7, SA_ETM_PROFILE_M },
		{ "Cortex-M3", SA_ETM_ARCH_V7, SA_ETM_PROFILE_M },
		{ "Cortex-M4", SA_ETM_ARCH_V7, SA_ETM_PROFILE_M },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!strcmp(core, t[i].name)) {
			*arch = t[i].arch;
			*prof = t[i].prof;
			return true;
		}
	}

	/* ARMv<M>[.<m>]-<P> */
	if (!strncmp(core, "ARMv", 4) && core[4] >= '7' && core[4] <= '9') {
		int maj = core[4] - '0', min = 0;
		const char *p = core + 5;

		if (*p == '.') {
			if (p[1] < '0' || p[1] > '9')
				return false;
			min = p[1] - '0';
			p += 2;
		}
		if (*p != '-')
			return false;
		switch (p[1]) {
		case 'A':
			*prof = SA_ETM_PROFILE_A;
			break;
		case 'R':
			*prof = SA_ETM_PROFILE_R;
			break;
		case 'M':
			*prof = SA_ETM_PROFILE_M;
			break;
		default:
			return false;
		}
		if (maj == 7)
			*arch = SA_ETM_ARCH_V7;
		else if (maj == 8 && min < 3)
			*arch = SA_ETM_ARCH_V8;
		else if (maj == 8 && min == 3)
			*arch = SA_ETM_ARCH_V8R3;
		else
			*arch = SA_ETM_ARCH_AA64;
		return true;
	}

	/* ARM-AA64[-<P>] / ARM-aa64[-<P>] */
	if (!strncmp(core, "ARM-AA64", 8) || !strncmp(core, "ARM-aa64", 8)) {
		*arch = SA_ETM_ARCH_AA64;
		*prof = SA_ETM_PROFILE_A;
		if (core[8] == '-' && core[9] == 'R')
			*prof = SA_ETM_PROFILE_R;
		else if (core[8] == '-' && core[9] == 'M')
			*prof = SA_ETM_PROFILE_M;
		return true;
	}
	return false;
}

int sa_cs_read_file(const char *path, size_t cap, uint8_t **buf,
		    size_t *len, struct sa_errinfo *ei)
{
	struct stat st;
	uint8_t *b;
	size_t done = 0;
	int fd, err;

	*buf = NULL;
	*len = 0;
	fd = sa_file_open_input(path, 0);
	if (fd == -ESPIPE || fd == -EISDIR)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, SA_NO_OFFSET,
				      "%s: not a regular file (FIFOs, sockets "
				      "and devices are refused)", path);
	if (fd < 0)
		return sa_errinfo_set(ei, fd, SA_NO_OFFSET, "%s: %s", path,
				      strerror(-fd));
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return sa_errinfo_set(ei, err, SA_NO_OFFSET, "%s: %s", path,
				      strerror(-err));
	}
	if ((uint64_t)st.st_size > cap) {
		close(fd);
		return sa_errinfo_set(ei, -SA_ERR_TOOBIG, SA_NO_OFFSET,
				      "%s: %lld bytes, more than the %zu "
				      "allowed", path,
				      (long long)st.st_size, cap);
	}
	b = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!b) {
		close(fd);
		return sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
				      "%s: out of memory", path);
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, b + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -SA_ERR_TRUNCATED;
			free(b);
			close(fd);
			return sa_errinfo_set(ei, err, done, "%s: read failed",
					      path);
		}
		done += (size_t)n;
	}
	close(fd);
	*buf = b;
	*len = done;
	return 0;
}
