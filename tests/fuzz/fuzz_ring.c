// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target: the perf ring reader and the sideband record parser
 * on arbitrary ring contents (the kernel is trusted, but a saved ring or
 * a corrupted mapping is outside input).
 *
 * Input: byte 0 picks the sample_type bits of the trailer (TID 1, TIME 2,
 * ID 4, CPU 8, IDENTIFIER 16) and overwrite mode (32); bytes 1-2 are
 * data_tail, bytes 3-4 data_head - data_tail, bytes 5-8 aux_head (all
 * little-endian); the rest fills a 4 KiB data ring and an 8 KiB AUX area.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/capture.h"
#include "sensor/log.h"

#define PAGE 4096
#define DATA 4096
#define AUX 8192

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static uint8_t map[PAGE + DATA] __attribute__((aligned(PAGE)));
	static uint8_t aux[AUX] __attribute__((aligned(PAGE)));
	struct perf_event_mmap_page *pc = (void *)map;
	const struct perf_event_header *h;
	struct sa_cap_ring_stats st = { 0 };
	struct sa_cap_aux_chunk c;
	struct sa_errinfo ei;
	struct sa_cap_ring *r;
	struct sa_pd_event ev;
	uint64_t st_bits;
	uint16_t tail, delta;
	uint32_t aux_head;
	bool ow;
	int n = 0;

	sa_set_print(NULL);
	if (len < 9)
		return 0;
	memset(map, 0, sizeof(map));
	memset(aux, 0, sizeof(aux));
	st_bits = 0;
	if (buf[0] & 1)
		st_bits |= PERF_SAMPLE_TID;
	if (buf[0] & 2)
		st_bits |= PERF_SAMPLE_TIME;
	if (buf[0] & 4)
		st_bits |= PERF_SAMPLE_ID;
	if (buf[0] & 8)
		st_bits |= PERF_SAMPLE_CPU;
	if (buf[0] & 16)
		st_bits |= PERF_SAMPLE_IDENTIFIER;
	ow = buf[0] & 32;
	memcpy(&tail, buf + 1, 2);
	memcpy(&delta, buf + 3, 2);
	memcpy(&aux_head, buf + 5, 4);
	buf += 9;
	len -= 9;
	memcpy(map + PAGE, buf, len < DATA ? len : DATA);
	if (len > DATA)
		memcpy(aux, buf + DATA, len - DATA < AUX ? len - DATA : AUX);
	pc->data_offset = PAGE;
	pc->data_size = DATA;
	pc->aux_offset = PAGE + DATA;
	pc->aux_size = AUX;
	pc->data_tail = tail;
	pc->data_head = (uint64_t)tail + delta;
	pc->aux_head = aux_head;
	r = sa_cap_ring__new(map, aux, ow, &ei);
	if (!r)
		return 0;
	if (!sa_cap_ring_read_init(r, &ei)) {
		while (sa_cap_ring_read_event(r, &h, &ei) == 1 && n++ < 10000) {
			if (!sa_cap_parse_record(h, st_bits, true, &ev, &ei))
				sa_cap_ring_account(&st, &ev);
			sa_cap_ring_consume(r);
		}
		sa_cap_ring_read_done(r);
	}
	if (ow)
		sa_cap_aux_snapshot(r, &c, &ei);
	else if (sa_cap_aux_peek(r, &c, &ei) > 0)
		sa_cap_aux_consume(r, c.len[0] + c.len[1]);
	sa_cap_ring__free(r);
	return 0;
}
