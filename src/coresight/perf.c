// SPDX-License-Identifier: BSD-2-Clause
/*
 * cs_etm AUXTRACE_INFO: the per-CPU ETM metadata that perf and simpleperf
 * record (layout of perf's tools/perf/util/cs-etm.h).
 *
 *   header:  [0] version  [1] pmu_type << 32 | nr_cpus  [2] snapshot
 *   v0 CPU:  magic, cpu, then a fixed block: ETMv3/PTM 4 registers
 *            (ETMCR, ETMTRACEIDR, ETMCCER, ETMIDR), ETMv4 7 (TRCCONFIGR,
 *            TRCTRACEIDR, TRCIDR0, TRCIDR1, TRCIDR2, TRCIDR8,
 *            TRCAUTHSTATUS)
 *   v1+ CPU: magic, cpu, nr_trc_params, then nr_trc_params values in the
 *            same order (ETMv4 may add TS_SOURCE; ETE adds TRCDEVARCH
 *            after TRCAUTHSTATUS, then TS_SOURCE)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/log.h"
#include "cs_priv.h"

#define CS_ETMV3_MAGIC	0x3030303030303030ull
#define CS_ETMV4_MAGIC	0x4040404040404040ull
#define CS_ETE_MAGIC	0x5050505050505050ull
#define CS_HDR_NR	3
#define CS_MAX_PARAMS	64	/* a sane bound on nr_trc_params */
#define CS_MAX_CPUS	4096
#define ETMIDR_PTM_VERSION 0x00000300u

void sa_cs_perf_info__free(struct sa_cs_perf_info *info)
{
	if (!info)
		return;
	free(info->cpus);
	free(info);
}

int sa_cs_perf_info_parse(const uint64_t *priv, size_t nr,
			  struct sa_cs_perf_info **out, struct sa_errinfo *ei)
{
	struct sa_cs_perf_info *info;
	size_t pos, i, ncpu;
	int err;

	*out = NULL;
	if (!priv || nr < CS_HDR_NR)
		return sa_errinfo_set(ei, -SA_ERR_TRUNCATED, 0,
				      "cs_etm AUXTRACE_INFO: %zu u64s, the "
				      "header alone needs %d", nr, CS_HDR_NR);
	if (priv[0] > 2)
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, 0,
				      "cs_etm AUXTRACE_INFO: header version "
				      "%llu (only 0..2 are known)",
				      (unsigned long long)priv[0]);
	ncpu = (uint32_t)priv[1];
	if (!ncpu || ncpu > CS_MAX_CPUS)
		return sa_errinfo_set(ei, -SA_ERR_FORMAT, 1,
				      "cs_etm AUXTRACE_INFO: %zu CPUs", ncpu);

	info = calloc(1, sizeof(*info));
	if (!info || !(info->cpus = calloc(ncpu, sizeof(*info->cpus)))) {
		free(info);
		return sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET,
				      "out of memory");
	}
	info->version = (uint32_t)priv[0];
	info->pmu_type = (uint32_t)(priv[1] >> 32);
	info->snapshot = priv[2] != 0;

	pos = CS_HDR_NR;
	for (i = 0; i < ncpu; i++) {
		struct sa_cs_perf_cpu *c = &info->cpus[i];
		uint64_t magic, v[CS_MAX_PARAMS] = { 0 };
		size_t np, start = pos;

		if (pos + 2 > nr)
			goto trunc;
		magic = priv[pos];
		c->cpu = (int)priv[pos + 1];
		pos += 2;
		if (info->version == 0) {
			if (magic == CS_ETMV3_MAGIC)
				np = 4;
			else if (magic == CS_ETMV4_MAGIC)
				np = 7;
			else {
				pos = start;
				goto badmagic;
			}
		} else {
			if (pos + 1 > nr)
				goto trunc;
			np = priv[pos++];
			if (np > CS_MAX_PARAMS) {
				err = sa_errinfo_set(ei, -SA_ERR_FORMAT,
						     pos - 1,
						     "cs_etm AUXTRACE_INFO: "
						     "CPU %d has %zu "
						     "parameters", c->cpu, np);
				goto err;
			}
		}
		if (pos + np > nr)
			goto trunc;
		memcpy(v, priv + pos, np * sizeof(*v));
		pos += np;

		if (magic == CS_ETMV3_MAGIC) {
			if (np < 4)
				goto short_block;
			c->regs.etmcr = (uint32_t)v[0];
			c->traceidr = (uint32_t)v[1];
			c->regs.etmccer = (uint32_t)v[2];
			c->regs.etmidr = (uint32_t)v[3];
			c->protocol = (c->regs.etmidr & ETMIDR_PTM_VERSION) ==
				      ETMIDR_PTM_VERSION ?
				      SA_CS_PROTO_PTM : SA_CS_PROTO_ETMV3;
		} else if (magic == CS_ETMV4_MAGIC || magic == CS_ETE_MAGIC) {
			if (np < 6 || (magic == CS_ETE_MAGIC && np < 8))
				goto short_block;
			c->regs.trcconfigr = (uint32_t)v[0];
			c->traceidr = (uint32_t)v[1];
			c->regs.trcidr0 = (uint32_t)v[2];
			c->regs.trcidr1 = (uint32_t)v[3];
			c->regs.trcidr2 = (uint32_t)v[4];
			c->regs.trcidr8 = (uint32_t)v[5];
			if (magic == CS_ETE_MAGIC) {
				c->regs.trcdevarch = (uint32_t)v[7];
				c->protocol = SA_CS_PROTO_ETE;
			} else {
				c->protocol = SA_CS_PROTO_ETMV4;
			}
		} else {
			pos = start;
			goto badmagic;
		}
		c->trace_id = c->traceidr & 0x7f;
		continue;

short_block:
		err = sa_errinfo_set(ei, -SA_ERR_FORMAT, start,
				     "cs_etm AUXTRACE_INFO: CPU %d block has "
				     "only %zu parameters", c->cpu, np);
		goto err;
	}
	if (pos != nr)
		sa_debug("cs_etm AUXTRACE_INFO: %zu trailing u64s ignored\n",
			 nr - pos);
	*out = info;
	info->nr_cpus = ncpu;
	return 0;

trunc:
	err = sa_errinfo_set(ei, -SA_ERR_TRUNCATED, pos,
			     "cs_etm AUXTRACE_INFO: %zu u64s end inside the "
			     "block of CPU %zu of %zu", nr, i, ncpu);
	goto err;
badmagic:
	err = sa_errinfo_set(ei, -SA_ERR_FORMAT, pos,
			     "cs_etm AUXTRACE_INFO: CPU %zu: unknown magic "
			     "%#llx", i,
			     (unsigned long long)(pos < nr ? priv[pos] : 0));
err:
	sa_cs_perf_info__free(info);
	return err;
}

int sa_cs_perf_info_set_trace_id(struct sa_cs_perf_info *info, int cpu,
				 uint8_t trace_id)
{
	size_t i;

	for (i = 0; i < info->nr_cpus; i++) {
		if (info->cpus[i].cpu == cpu) {
			info->cpus[i].trace_id = trace_id & 0x7f;
			info->cpus[i].traceidr = trace_id & 0x7f;
			return 0;
		}
	}
	return -SA_ERR_NOTFOUND;
}

struct sa_dec *sa_cs_perf_info_decoder__new(const struct sa_cs_perf_info *info,
					    const uint8_t *buf, size_t len,
					    uint64_t file_offset, bool raw,
					    int cpu, struct sa_image *img,
					    struct sa_errinfo *ei)
{
	struct sa_etm_config cfg = { 0 };
	struct sa_etm_source *srcs;
	struct sa_dec *dec;
	size_t i, n = 0;

	srcs = calloc(info->nr_cpus ? info->nr_cpus : 1, sizeof(*srcs));
	if (!srcs) {
		sa_errinfo_set(ei, -ENOMEM, SA_NO_OFFSET, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < info->nr_cpus; i++) {
		const struct sa_cs_perf_cpu *c = &info->cpus[i];
		size_t j;
		bool dup = false;

		if (raw && c->cpu != cpu)
			continue;
		if (c->traceidr & SA_CS_TRACE_ID_UNUSED) {
			sa_warn("perf.data: CPU %d: trace ID not known (no "
				"AUX_OUTPUT_HW_ID record); not decoded\n",
				c->cpu);
			continue;
		}
		sa_cs_source_from_regs(&srcs[n], c->protocol, c->trace_id,
				       &c->regs);
		/* Registers recorded as 0 are real values, not "unset". */
		srcs[n].trcconfigr = c->regs.trcconfigr;
		srcs[n].etmcr = c->regs.etmcr;
		if (!srcs[n].trace_id)
			continue;
		for (j = 0; j < n; j++)
			dup |= srcs[j].trace_id == srcs[n].trace_id;
		if (dup)
			continue;
		n++;
	}
	if (!n) {
		sa_errinfo_set(ei, -SA_ERR_NOTFOUND, file_offset,
			       "perf.data: AUXTRACE at %#llx: no CPU metadata "
			       "with a trace ID%s",
			       (unsigned long long)file_offset,
			       raw ? " for its CPU" : "");
		free(srcs);
		errno = EINVAL;
		return NULL;
	}
	cfg.buf = buf;
	cfg.len = len;
	cfg.base_offset = file_offset;
	cfg.name = "perf.data AUXTRACE";
	cfg.image = img;
	cfg.format = raw ? SA_ETM_FMT_RAW : SA_ETM_FMT_FRAMED;
	/* perf: ETR/ETB buffers hold whole aligned frames; reset on the
	 * 4x FSYNC padding that some sinks insert.
	 */
	cfg.frame_flags = SA_ETM_FRAME_MEM_ALIGN | SA_ETM_FRAME_RESET_4X_FSYNC;
	cfg.nr_sources = n;
	cfg.sources = srcs;
	cfg.flags = SA_ETM_F_SRC_ADDR_N;
	dec = sa_etm__new(&cfg, ei);
	free(srcs);
	return dec;
}

struct sa_dec *sa_cs_perf_decoder__new(const uint64_t *priv, size_t nr_priv,
				       int cpu, const uint8_t *buf, size_t len,
				       uint64_t file_offset,
				       struct sa_image *img,
				       struct sa_errinfo *ei)
{
	struct sa_cs_perf_info *info;
	struct sa_dec *dec;
	int err;

	err = sa_cs_perf_info_parse(priv, nr_priv, &info, ei);
	if (err) {
		errno = err == -ENOMEM ? ENOMEM : EINVAL;
		return NULL;
	}
	dec = sa_cs_perf_info_decoder__new(info, buf, len, file_offset, false,
					   cpu, img, ei);
	sa_cs_perf_info__free(info);
	return dec;
}
