// SPDX-License-Identifier: BSD-2-Clause
/*
 * Check suite 'emu' (ring): the encoder's ring mode, which the trigger of
 * `capture --snapshot --trigger` uses with the emulated backend.  Far more
 * conditional branches than a 4 KiB buffer holds are fed, with outcomes
 * from a fixed pseudo-random sequence, then the trigger's stop.  libipt's
 * query decoder (the peer) must synchronise at the buffer's first byte,
 * read a run of outcomes that is exactly the tail of what was fed (the
 * oldest trace dropped, never the newest), and end with the disable at
 * the stop address.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include <intel-pt.h>

#include "emu_priv.h"
#include "testutil.h"

#define RING_SIZE 4096
#define NR_BRANCHES 200000
#define IP_JCC 0x401000ull
#define IP_STOP 0x402340ull

START_TEST(test_ring_keeps_tail)
{
	struct sa_emu_enc_cfg cfg = { 0 };
	struct sa_emu_insn jcc = { .size = 2, .iclass = SA_IC_COND };
	struct pt_query_decoder *q;
	struct sa_emu_enc *enc;
	struct pt_config pc;
	uint64_t off, x = 12345, stop_at = 0;
	uint8_t *buf, *fed;
	int *got;
	size_t len, i, m = 0;
	int st, taken;
	bool stopped = false;

	buf = malloc(RING_SIZE);
	fed = malloc(NR_BRANCHES);
	got = malloc(NR_BRANCHES * sizeof(*got));
	ck_assert(buf && fed && got);
	cfg.buf = buf;
	cfg.size = RING_SIZE;
	cfg.ring = true;
	cfg.tsc0 = 1000;
	enc = sa_emu_enc__new(&cfg);
	ck_assert_ptr_nonnull(enc);
	ck_assert_int_eq(sa_emu_enc_enter(enc, IP_JCC), 0);
	for (i = 0; i < NR_BRANCHES; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		fed[i] = (uint8_t)(x >> 63);
		ck_assert_int_eq(sa_emu_enc_retire(enc, IP_JCC, &jcc,
						   fed[i] ? IP_JCC :
							    IP_JCC + 2,
						   true), 0);
	}
	ck_assert_int_eq(sa_emu_enc_stop(enc, IP_STOP), 0);
	ck_assert(!sa_emu_enc_overflowed(enc));
	ck_assert_uint_gt(sa_emu_enc_dropped(enc), RING_SIZE);
	len = sa_emu_enc_finish(enc);
	ck_assert_uint_le(len, RING_SIZE);
	/* the newest half or more is kept */
	ck_assert_uint_ge(len, RING_SIZE / 2);
	sa_emu_enc__free(enc);

	pt_config_init(&pc);
	pc.begin = buf;
	pc.end = buf + len;
	q = pt_qry_alloc_decoder(&pc);
	ck_assert_ptr_nonnull(q);
	st = pt_qry_sync_forward(q, NULL);
	ck_assert_int_ge(st, 0);
	ck_assert_int_ge(pt_qry_get_sync_offset(q, &off), 0);
	ck_assert_uint_eq(off, 0);
	for (;;) {
		while (st & pts_event_pending) {
			struct pt_event ev;

			st = pt_qry_event(q, &ev, sizeof(ev));
			ck_assert_int_ge(st, 0);
			if (ev.type == ptev_async_disabled) {
				stopped = true;
				stop_at = ev.variant.async_disabled.at;
			}
		}
		if (stopped)
			break;
		st = pt_qry_cond_branch(q, &taken);
		if (st == -pte_eos)
			break;
		ck_assert_msg(st >= 0, "libipt: %s after %zu outcomes",
			      pt_errstr(pt_errcode(st)), m);
		ck_assert_uint_lt(m, NR_BRANCHES);
		got[m++] = taken;
	}
	ck_assert(stopped);
	ck_assert_uint_eq(stop_at, IP_STOP);
	/* 47 outcomes per 8-byte TNT: thousands in 2 KiB and more */
	ck_assert_uint_ge(m, 4000);
	for (i = 0; i < m; i++)
		ck_assert_msg(got[i] == fed[NR_BRANCHES - m + i],
			      "outcome %zu of the kept %zu differs", i, m);
	pt_qry_free_decoder(q);
	free(buf);
	free(fed);
	free(got);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("emu-ring");
	TCase *tc = tcase_create("ring");

	tcase_add_test(tc, test_ring_keeps_tail);
	suite_add_tcase(s, tc);
	return sa_test_run(s);
}
