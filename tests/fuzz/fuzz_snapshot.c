// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the Arm snapshot reader: the INI parser, the
 * snapshot model (device, trace and buffer sections, duplicate keys,
 * dumps) and the register checks that come before a decoder is made; and
 * the cs_etm AUXTRACE_INFO parser on the same bytes.
 *
 * The input is up to four .ini texts separated by lines "%%":
 * snapshot.ini, cpu_0.ini, etm_0.ini, trace.ini; a missing one is taken
 * from a small valid snapshot.  Nothing is read from disk.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined with the sa_coresight,
 * sa_etm, sa_image and sa_util libraries (see tests/fuzz/meson.build).
 * With -DSA_FUZZ_STANDALONE it is a plain program that runs each file
 * named on the command line once (corpus replay without clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/coresight.h"
#include "sensor/image.h"
#include "sensor/log.h"
#include "decoder.h"
#include "ini.h"

static const char *const names[] = {
	"snapshot.ini", "cpu_0.ini", "etm_0.ini", "trace.ini",
};

static const char *const defaults[] = {
	"[snapshot]\nversion=1.0\n[device_list]\ndevice0=cpu_0.ini\n"
	"device1=etm_0.ini\n[trace]\nmetadata=trace.ini\n",
	"[device]\nname=cpu_0\nclass=core\ntype=Cortex-A53\n[dump1]\n"
	"file=kernel.bin\naddress=0xffffffc000081000\nlength=0x1000\n",
	"[device]\nname=ETM_0\nclass=trace_source\ntype=ETM4\n[regs]\n"
	"TRCCONFIGR(0x004)=0xC1\nTRCTRACEIDR(0x010)=0x10\n"
	"TRCIDR0(0x078)=0x28000EA1\nTRCIDR1=0x4100F402\nTRCIDR2=0x488\n",
	"[trace_buffers]\nbuffers=buffer0\n[buffer0]\nname=ETB_0\n"
	"file=cstrace.bin\nformat=coresight\n[source_buffers]\n"
	"ETM_0=ETB_0\n[core_trace_sources]\ncpu_0=ETM_0\n",
};

static int fuzz_quiet(enum sa_log_level l, const char *fmt, va_list ap)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *texts[4];
	size_t lens[4], i, part = 0, start = 0;
	struct sa_errinfo ei;
	struct sa_cs_ini *ini = NULL;
	struct sa_cs_perf_info *info = NULL;
	struct sa_cs_snapshot *ss;
	const char *d = (const char *)data;

	sa_set_print(fuzz_quiet);

	/* the whole input as one .ini */
	if (!sa_cs_ini_parse(d, size, "fuzz.ini", &ini, &ei))
		sa_cs_ini__free(ini);

	/* the whole input as an AUXTRACE_INFO array (aligned copy) */
	if (size >= 8 && size <= 65536) {
		uint64_t *priv = malloc(size);

		if (priv) {
			memcpy(priv, data, size / 8 * 8);
			if (!sa_cs_perf_info_parse(priv, size / 8, &info, &ei))
				sa_cs_perf_info__free(info);
			free(priv);
		}
	}

	for (i = 0; i < 4; i++) {
		texts[i] = defaults[i];
		lens[i] = strlen(defaults[i]);
	}
	for (i = 0; i <= size && part < 4; i++) {
		bool sep = i + 3 <= size && (i == 0 || d[i - 1] == '\n') &&
			   !memcmp(d + i, "%%\n", 3);

		if (i == size || sep) {
			texts[part] = d + start;
			lens[part] = i - start;
			part++;
			start = i + 3;
			i += 2;
		}
	}

	ss = sa_cs_snapshot__parse_mem(4, names, texts, lens, &ei);
	if (ss) {
		struct sa_image *img = sa_image__new(SA_ARCH_UNKNOWN);

		for (i = 0; img && i < sa_cs_snapshot_nr_buffers(ss); i++) {
			struct sa_dec *dec;

			sa_cs_snapshot_buffer_name(ss, i);
			sa_cs_snapshot_buffer_nr_sources(ss, i);
			/* checks every register; never reads a file */
			dec = sa_cs_snapshot_decoder(ss, i, img, 0, &ei);
			sa_dec__free(dec);
		}
		if (img)
			sa_cs_snapshot_load_image(ss, img, &ei);
		sa_image__free(img);
		sa_cs_snapshot__free(ss);
	}
	return 0;
}

#include "standalone.h"
