// SPDX-License-Identifier: BSD-2-Clause
/*
 * Intel PT packets of the fast backend's hot path.  libipt's packet
 * decoder (pt_pkt_next) does the same for every packet type, but through
 * a decoder object and a call per packet that also fills payloads we skip;
 * this parser is the inner loop of sa_fpt and returns small packets
 * inline.  Anything it does not name is left to libipt.
 */
#include <string.h>

#include "fastpt_pkt.h"

static const uint8_t sa_fpt_ipsize[8] = { 0, 2, 4, 6, 6, 0xff, 8, 0xff };

static uint64_t sa_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

/* Stop bit = the highest set bit of @payload; the bits below it are the
 * TNT bits, oldest first.
 */
static int sa_fpt_tnt(uint64_t payload, struct sa_fpt_pkt *p)
{
	int top;

	if (!payload)
		return -1;
	top = 63 - __builtin_clzll(payload);
	p->type = SA_FPT_TNT;
	p->ntnt = (uint8_t)top;
	p->tnt = payload & ((1ull << top) - 1);
	return 0;
}

static int sa_fpt_ext(const uint8_t *buf, size_t len, struct sa_fpt_pkt *p)
{
	static const uint8_t psb[16] = {
		0x02, 0x82, 0x02, 0x82, 0x02, 0x82, 0x02, 0x82,
		0x02, 0x82, 0x02, 0x82, 0x02, 0x82, 0x02, 0x82,
	};

	if (len < 2)
		return 0;
	switch (buf[1]) {
	case 0xa3:		/* long TNT */
		if (len < 8)
			return 0;
		if (sa_fpt_tnt(sa_le(buf + 2, 6), p))
			return -1;
		return 8;
	case 0x82:
		if (len < 16)
			return 0;
		if (memcmp(buf, psb, sizeof(psb)))
			return -1;
		p->type = SA_FPT_PSB;
		return 16;
	case 0x23:
		p->type = SA_FPT_PSBEND;
		return 2;
	case 0xf3:
		p->type = SA_FPT_OVF;
		return 2;
	case 0x03:		/* CBR */
		if (len < 4)
			return 0;
		/* reserved bits set: libipt's to judge (all of these) */
		if (buf[3])
			return -1;
		p->type = SA_FPT_TIMING;
		return 4;
	case 0x73:		/* TMA */
		if (len < 7)
			return 0;
		if (buf[4] || (buf[6] & 0xfe))
			return -1;
		p->type = SA_FPT_TIMING;
		return 7;
	default:
		p->type = SA_FPT_OTHER;
		return 2;
	}
}

int sa_fpt_pkt_parse(const uint8_t *buf, size_t len, struct sa_fpt_pkt *p)
{
	uint8_t b;
	size_t n;

	if (!len)
		return 0;
	b = buf[0];
	if (!b) {
		p->type = SA_FPT_PAD;
		return 1;
	}
	if (!(b & 1)) {
		if (b == 0x02)
			return sa_fpt_ext(buf, len, p);
		sa_fpt_tnt(b >> 1, p);
		return 1;
	}
	/* CYC: more bytes while the Exp bit is set */
	if ((b & 3) == 3) {
		n = 1;
		if (b & 4) {
			/* Hardware's CYCs are short; a long run (0xff
			 * filler) is for libipt to judge, not us.
			 */
			do {
				if (n >= len)
					return 0;
				if (n >= 5)
					return -1;
			} while (buf[n++] & 1);
		}
		p->type = SA_FPT_CYC;
		return (int)n;
	}
	switch (b) {
	case 0x19:		/* TSC */
		if (len < 8)
			return 0;
		p->type = SA_FPT_TIMING;
		return 8;
	case 0x59:		/* MTC */
		if (len < 2)
			return 0;
		p->type = SA_FPT_TIMING;
		return 2;
	case 0x99:		/* MODE */
		if (len < 2)
			return 0;
		if (buf[1] & 0x18)
			return -1;
		p->type = (buf[1] >> 5) ? SA_FPT_OTHER : SA_FPT_MODE_EXEC;
		p->mode = buf[1];
		return 2;
	default:
		break;
	}
	switch (b & 0x1f) {
	case 0x01:
		p->type = SA_FPT_TIP_PGD;
		break;
	case 0x0d:
		p->type = SA_FPT_TIP;
		break;
	case 0x11:
		p->type = SA_FPT_TIP_PGE;
		break;
	case 0x1d:
		p->type = SA_FPT_FUP;
		break;
	default:
		p->type = SA_FPT_OTHER;
		return 1;
	}
	p->ipc = b >> 5;
	n = sa_fpt_ipsize[p->ipc];
	if (n == 0xff)
		return -1;
	if (len < 1 + n)
		return 0;
	p->ip = sa_le(buf + 1, (unsigned int)n);
	return (int)(1 + n);
}

int sa_fpt_pkt_ip(const struct sa_fpt_pkt *p, uint64_t *last_ip, uint64_t *ip)
{
	uint64_t v;

	switch (p->ipc) {
	case 0:
		return 0;
	case 1:
		v = (*last_ip & ~0xffffull) | p->ip;
		break;
	case 2:
		v = (*last_ip & ~0xffffffffull) | p->ip;
		break;
	case 3:
		v = p->ip;
		if (v & (1ull << 47))
			v |= ~((1ull << 48) - 1);
		break;
	case 4:
		v = (*last_ip & ~((1ull << 48) - 1)) | p->ip;
		break;
	case 6:
		v = p->ip;
		break;
	default:
		return -1;
	}
	*last_ip = v;
	*ip = v;
	return 1;
}
