// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the perf.data reader: open the input as a
 * PERFILE2 file, read every attr and feature accessor, and walk every
 * record, touching each pointer a record hands out.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *     tests/fuzz/fuzz_perfdata.c src/perfdata/reader.c \
 *     src/perfdata/writer.c src/util/error.c src/util/log.c
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sensor/log.h"
#include "sensor/perfdata.h"

static volatile uint64_t sink;

static void touch_str(const char *s)
{
	if (s)
		sink += strlen(s);
}

static void touch_event(const struct sa_pd_event *ev)
{
	size_t i;

	switch (ev->type) {
	case PERF_RECORD_MMAP:
	case PERF_RECORD_MMAP2:
		touch_str(ev->mmap.filename);
		break;
	case PERF_RECORD_COMM:
		touch_str(ev->comm.comm);
		break;
	case SA_PD_AUXTRACE_INFO:
		for (i = 0; i < ev->auxtrace_info.nr_priv; i++)
			sink += ev->auxtrace_info.priv[i];
		break;
	case SA_PD_AUXTRACE:
		if (ev->auxtrace.size) {
			sink += ev->auxtrace.data[0];
			sink += ev->auxtrace.data[ev->auxtrace.size - 1];
		}
		break;
	case SA_PD_AUXTRACE_ERROR:
		touch_str(ev->auxtrace_error.msg);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sa_errinfo ei;
	struct sa_pd_event ev;
	struct sa_pd *pd;
	size_t i, j;
	int r, n = 0;

	sa_set_print(NULL);
	pd = sa_pd__open_mem(data, size, "fuzz", &ei);
	if (!pd)
		return 0;
	for (i = 0; i < sa_pd_nr_attrs(pd); i++) {
		const struct sa_pd_attr *a = sa_pd_attr(pd, i);

		for (j = 0; j < a->nr_ids; j++)
			sink += sa_pd_attr_by_id(pd, a->ids[j]) != NULL;
		touch_str(a->name);
	}
	for (i = 0; i < sa_pd_nr_build_ids(pd); i++) {
		const struct sa_pd_build_id *b = sa_pd_build_id(pd, i);

		touch_str(b->filename);
		sink += sa_pd_find_build_id(pd, b->filename) != NULL;
	}
	for (i = 0; i < sa_pd_nr_auxtrace_index(pd); i++)
		sink += sa_pd_auxtrace_index(pd, i)->file_offset;
	touch_str(sa_pd_cpuid(pd));
	touch_str(sa_pd_cmdline(pd));
	touch_str(sa_pd_arch(pd));
	sink += sa_pd_data_size(pd);
	while ((r = sa_pd_next(pd, &ev, &ei)) > 0 && n++ < 1000000)
		touch_event(&ev);
	sa_pd__close(pd);
	return 0;
}
