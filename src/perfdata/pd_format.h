/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * On-disk layout of perf.data (PERFILE2), shared by the reader and the
 * writer.  Taken from perf's util/header.h and lib/perf/include/perf/event.h;
 * all fields are little-endian (big-endian files are rejected).
 */
#ifndef SA_PD_FORMAT_H
#define SA_PD_FORMAT_H

#include <stdint.h>
#include <string.h>

#define SA_PD_MAGIC2		0x32454c4946524550ULL	/* "PERFILE2" */
#define SA_PD_MAGIC2_SWAPPED	0x50455246494c4532ULL
#define SA_PD_MAGIC1		0x454c494646524550ULL	/* "PERFFILE" */

#define SA_PD_HDR_SIZE		104	/* with the 256-bit feature bitmap */
#define SA_PD_HDR_SIZE_NOFEAT	72	/* perf before the feature bitmap */
#define SA_PD_PIPE_HDR_SIZE	16
#define SA_PD_FEAT_BITS		256
#define SA_PD_SECTION_SIZE	16	/* struct perf_file_section */
#define SA_PD_EVENT_HDR_SIZE	8	/* struct perf_event_header */

/* Header field offsets. */
#define SA_PD_OFF_SIZE		8
#define SA_PD_OFF_ATTR_SIZE	16
#define SA_PD_OFF_ATTRS		24
#define SA_PD_OFF_DATA		40
#define SA_PD_OFF_EVENT_TYPES	56
#define SA_PD_OFF_FEATURES	72

/* Feature bits (perf's enum HEADER_*). */
enum {
	SA_PD_FEAT_TRACING_DATA = 1,
	SA_PD_FEAT_BUILD_ID = 2,
	SA_PD_FEAT_HOSTNAME = 3,
	SA_PD_FEAT_OSRELEASE = 4,
	SA_PD_FEAT_VERSION = 5,
	SA_PD_FEAT_ARCH = 6,
	SA_PD_FEAT_NRCPUS = 7,
	SA_PD_FEAT_CPUDESC = 8,
	SA_PD_FEAT_CPUID = 9,
	SA_PD_FEAT_TOTAL_MEM = 10,
	SA_PD_FEAT_CMDLINE = 11,
	SA_PD_FEAT_EVENT_DESC = 12,
	SA_PD_FEAT_AUXTRACE = 18,
};

/* perf's PERF_RECORD_MISC_BUILD_ID_SIZE: the build-id record carries its
 * size in the byte after the 20 id bytes (perf 5.13+).
 */
#define SA_PD_MISC_BUILD_ID_SIZE	(1 << 15)

/* perf pads feature strings to this (NAME_ALIGN in util/header.c). */
#define SA_PD_NAME_ALIGN	64

/* Fixed parts of the records (after the 8-byte header). */
#define SA_PD_BUILD_ID_REC_MIN	(8 + 4 + 24)	/* header, pid, id[24] */
#define SA_PD_AUXTRACE_REC_SIZE	48
#define SA_PD_AUXTRACE_ERR_MSG	64

static inline uint16_t sa_pd_get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t sa_pd_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t sa_pd_get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#endif /* SA_PD_FORMAT_H */
