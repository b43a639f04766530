// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the fleet's reader of ClickHouse answers: the
 * TabSeparated rows of `fleet analyze` (escapes, column counts, row
 * kinds, numbers) rebuilt into one history per window, which are then
 * sorted and written as JSON, as the detector would read them.
 *
 * The input is the answer's text.  Nothing is read from disk or the
 * network.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined with the sa_fleet,
 * sa_hist and sa_util libraries (see tests/fuzz/meson.build).  With
 * -DSA_FUZZ_STANDALONE it is a plain program that runs each file named
 * on the command line once (corpus replay without clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/hist.h"
#include "fleet_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sa_fleet_hists hs = { 0 };
	struct sa_errinfo ei;
	uint64_t rows = 0;
	char *buf, *out = NULL;
	size_t i, len = 0;
	FILE *f;

	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	sa_fleet_parse_rows(buf, size, &hs, &rows, &ei);
	f = open_memstream(&out, &len);
	for (i = 0; i < hs.nr; i++) {
		sa_hist_sort(hs.h[i]);
		if (f)
			sa_hist_write_json(hs.h[i], f, SA_HIST_OUT_TARGETS);
	}
	if (f)
		fclose(f);
	free(out);
	sa_fleet_hists_fini(&hs);
	free(buf);
	return 0;
}

#include "standalone.h"
