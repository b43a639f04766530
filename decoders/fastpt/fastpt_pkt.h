/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The fast Intel PT backend's packet parser: a pure (buf, len, &pkt)
 * function for the packets a user-space trace carries on its hot path
 * (Intel SDM vol. 3C, 33.4 "Trace Packets and Data Types").  Everything
 * else comes back as SA_FPT_OTHER and makes the decoder hand the PSB
 * segment to libipt.
 */
#ifndef SA_DECODERS_FASTPT_PKT_H
#define SA_DECODERS_FASTPT_PKT_H

#include <stddef.h>
#include <stdint.h>

enum sa_fpt_pkt_type {
	SA_FPT_PAD = 1,
	SA_FPT_TNT,		/* short or long */
	SA_FPT_TIP,
	SA_FPT_TIP_PGE,
	SA_FPT_TIP_PGD,
	SA_FPT_FUP,
	SA_FPT_PSB,
	SA_FPT_PSBEND,
	SA_FPT_OVF,
	SA_FPT_MODE_EXEC,
	SA_FPT_TIMING,		/* MTC, TSC, CBR, TMA: skipped */
	SA_FPT_CYC,		/* skipped, but not inside PSB+ */
	SA_FPT_OTHER,		/* anything else: PIP, MODE.TSX, PTW */
};

struct sa_fpt_pkt {
	uint8_t type;		/* enum sa_fpt_pkt_type */
	uint8_t ipc;		/* IP packets: IPBytes; 0 = suppressed */
	uint8_t ntnt;		/* TNT: number of bits */
	uint8_t mode;		/* MODE.Exec: the payload byte */
	uint64_t tnt;		/* TNT: bits, oldest in bit ntnt - 1 */
	uint64_t ip;		/* IP packets: the raw payload */
};

/* Parses the packet at @buf.  Returns its size (> 0), 0 when @len ends
 * inside it, or -1 when the bytes are not a valid packet.
 */
int sa_fpt_pkt_parse(const uint8_t *buf, size_t len, struct sa_fpt_pkt *p);

/* Applies the IP compression of @p to @last_ip (SDM 33.4.2.2).  Returns
 * 1 with *@ip set, 0 when the IP is suppressed, -1 for a reserved IPBytes.
 */
int sa_fpt_pkt_ip(const struct sa_fpt_pkt *p, uint64_t *last_ip, uint64_t *ip);

#endif /* SA_DECODERS_FASTPT_PKT_H */
