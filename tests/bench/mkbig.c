// SPDX-License-Identifier: BSD-2-Clause
/*
 * mkbig: makes a large Intel PT perf.data for the decode benchmark from a
 * small real one, by repeating its AUX trace K times (each copy starts at
 * a PSB, so every decoder resynchronises at the seam) and keeping its
 * attributes and sideband.  Not a test: scripts/bench-decode.sh uses it.
 *
 *   mkbig IN.perf OUT.perf K
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/perfdata.h"

int main(int argc, char **argv)
{
	struct sa_pd_writer *w;
	struct sa_pd_event ev;
	struct sa_errinfo ei;
	struct sa_pd *pd;
	const uint8_t *aux = NULL;
	uint8_t *big;
	uint64_t aux_len = 0, k, i;
	uint32_t tid = 0, cpu = 0;
	int err;

	if (argc != 4 || !(k = strtoull(argv[3], NULL, 0)) || k > 100000) {
		fprintf(stderr, "usage: mkbig IN.perf OUT.perf K\n");
		return 2;
	}
	pd = sa_pd__open(argv[1], &ei);
	if (!pd) {
		fprintf(stderr, "mkbig: %s\n", ei.msg);
		return 1;
	}
	w = sa_pd_writer__new(argv[2], &ei);
	if (!w) {
		fprintf(stderr, "mkbig: %s\n", ei.msg);
		return 1;
	}
	for (i = 0; i < sa_pd_nr_attrs(pd); i++) {
		const struct sa_pd_attr *a = sa_pd_attr(pd, i);

		sa_pd_writer_add_attr(w, &a->attr, a->ids, a->nr_ids, a->name);
	}
	if (sa_pd_cpuid(pd))
		sa_pd_writer_set_cpuid(w, sa_pd_cpuid(pd));
	if (sa_pd_arch(pd))
		sa_pd_writer_set_arch(w, sa_pd_arch(pd));
	while ((err = sa_pd_next(pd, &ev, &ei)) > 0) {
		switch (ev.type) {
		case SA_PD_AUXTRACE_INFO:
			sa_pd_writer_auxtrace_info(w, ev.auxtrace_info.type,
						   ev.auxtrace_info.priv,
						   ev.auxtrace_info.nr_priv);
			break;
		case PERF_RECORD_COMM:
			sa_pd_writer_comm(w, ev.comm.pid, ev.comm.tid,
					  ev.comm.comm, ev.comm.exec, &ev.sid);
			break;
		case PERF_RECORD_MMAP2:
			sa_pd_writer_mmap2(w, ev.mmap.pid, ev.mmap.tid,
					   ev.mmap.start, ev.mmap.len,
					   ev.mmap.pgoff, ev.mmap.prot,
					   ev.mmap.flags, ev.mmap.filename,
					   &ev.sid);
			break;
		case PERF_RECORD_ITRACE_START:
			sa_pd_writer_itrace_start(w, ev.itrace_start.pid,
						  ev.itrace_start.tid, &ev.sid);
			break;
		case SA_PD_AUXTRACE:
			if (!aux) {
				aux = ev.auxtrace.data;
				aux_len = ev.auxtrace.size;
				tid = ev.auxtrace.tid;
				cpu = ev.auxtrace.cpu;
			}
			break;
		default:
			break;
		}
	}
	if (err < 0 || !aux) {
		fprintf(stderr, "mkbig: %s\n", err < 0 ? ei.msg : "no AUX data");
		return 1;
	}
	big = malloc(aux_len * k);
	if (!big)
		return 1;
	for (i = 0; i < k; i++)
		memcpy(big + i * aux_len, aux, aux_len);
	sa_pd_writer_auxtrace(w, big, aux_len * k, 0, 1, 0, tid, cpu);
	sa_pd_writer_aux(w, 0, aux_len * k, 0, NULL);
	err = sa_pd_writer_close(w, &ei);
	if (err) {
		fprintf(stderr, "mkbig: %s\n", ei.msg);
		return 1;
	}
	free(big);
	sa_pd__close(pd);
	return 0;
}
