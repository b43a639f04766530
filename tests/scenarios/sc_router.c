// SPDX-License-Identifier: BSD-2-Clause
/*
 * Scenario workload: a packet router.  Each packet is checked (TTL,
 * fragments, checksum) and handed to a per-protocol handler through a
 * function-pointer table.
 *
 * Usage: sc_router MODE SEED WINDOWS PACKETS_PER_WINDOW
 *   normal  50% TCP, 30% UDP, 20% ICMP; 10% fragments; 1% bad sums
 *   udp     70% UDP (the handler mix shifts)
 *   nofrag  fragments stop arriving (an edge vanishes)
 *   badsum  20% of the checksums fail (the error path)
 *
 * The planted site of each mode carries a "PLANT <mode>" comment.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_count.h"

enum { P_TCP, P_UDP, P_ICMP, P_MAX };

struct pkt {
	int proto;
	unsigned ttl;
	unsigned flags;
	unsigned port;
	int frag;
	uint16_t sum;
	uint8_t payload[8];
};

static double share_udp = 0.3, p_frag = 0.1, p_badsum = 0.01;
static unsigned long forwarded, dropped, reassembled;

#define NR_PKTS 8192
static struct pkt pkts[NR_PKTS];

static uint16_t fold(const struct pkt *p)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i < sizeof(p->payload); i++)
		s += p->payload[i];
	return (uint16_t)(s ^ (s >> 16));
}

static void log_bad_sum(const struct pkt *p)
{
	SC_ENTER();
	/* strerror is an error sink of the history builder. */
	const char *why = strerror(EBADMSG);

	SC_SINK();
	dropped += why[0] && p->ttl ? 1 : 2;
	SC_LEAVE();
}

static void reassemble(struct pkt *p)
{
	SC_ENTER();
	if (SC_BR(p->port & 1))
		reassembled += 2;
	else
		reassembled++;
	SC_LEAVE();
}

static void tcp_input(struct pkt *p)
{
	SC_ENTER();
	if (SC_BR(p->flags & 2))
		forwarded += 2;
	else
		forwarded++;
	SC_LEAVE();
}

static void udp_input(struct pkt *p)
{
	SC_ENTER();
	if (SC_BR(p->port == 53))
		forwarded += 3;
	else
		forwarded++;
	SC_LEAVE();
}

static void icmp_input(struct pkt *p)
{
	SC_ENTER();
	if (SC_BR(p->flags == 8))
		forwarded += 4;
	else
		forwarded++;
	SC_LEAVE();
}

static void (*const input[P_MAX])(struct pkt *) = {
	tcp_input, udp_input, icmp_input,
};

static const char *const input_names[P_MAX] = {
	"tcp_input", "udp_input", "icmp_input",
};

static void route(struct pkt *p)
{
	SC_ENTER();
	if (SC_BR(p->ttl <= 1)) {
		dropped++;
		SC_LEAVE();
		return;
	}
	if (SC_BR(p->frag)) /* PLANT nofrag */
		reassemble(p);
	if (SC_BR(fold(p) != p->sum)) { /* PLANT badsum */
		log_bad_sum(p);
		SC_LEAVE();
		return;
	}
	void (*fn)(struct pkt *) = input[p->proto];

	SC_IND_CALL(input_names[p->proto], fn(p)); /* PLANT udp */
	SC_LEAVE();
}

static void next_packet(struct pkt *p)
{
	double u = sc_unif();
	uint64_t v;

	if (u < share_udp)
		p->proto = P_UDP;
	else if (u < share_udp + (1 - share_udp) * 5 / 7)
		p->proto = P_TCP;
	else
		p->proto = P_ICMP;
	p->ttl = sc_chance(0.02) ? 1 : 64;
	p->flags = (unsigned)(sc_unif() * 16);
	p->port = sc_chance(0.25) ? 53 : (unsigned)(sc_unif() * 65536);
	p->frag = sc_chance(p_frag);
	v = (uint64_t)(sc_unif() * 18446744073709551615.0);
	memcpy(p->payload, &v, sizeof(p->payload));
	p->sum = fold(p);
	if (sc_chance(p_badsum))
		p->sum ^= 0x5a5a;
}

int main(int argc, char **argv)
{
	unsigned long windows, per, w, i, k = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: %s normal|udp|nofrag|badsum SEED "
			"WINDOWS PACKETS\n", argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "udp")) {
		share_udp = 0.7;
	} else if (!strcmp(argv[1], "nofrag")) {
		p_frag = 0;
	} else if (!strcmp(argv[1], "badsum")) {
		p_badsum = 0.2;
	} else if (strcmp(argv[1], "normal")) {
		fprintf(stderr, "%s: unknown mode %s\n", argv[0], argv[1]);
		return 2;
	}
	sc_seed(strtoull(argv[2], NULL, 10));
	windows = strtoul(argv[3], NULL, 10);
	per = strtoul(argv[4], NULL, 10);
	/* The input is made up front: the routing loop then holds only
	 * the router's own decisions, none of the generator's.
	 */
	for (i = 0; i < NR_PKTS; i++)
		next_packet(&pkts[i]);
	for (w = 0; w < windows; w++) {
		for (i = 0; i < per; i++) {
			route(&pkts[k]);
			if (++k == NR_PKTS)
				k = 0;
		}
		SC_DUMP((int)w);
	}
	fprintf(stderr, "forwarded %lu dropped %lu reassembled %lu\n",
		forwarded, dropped, reassembled);
	return 0;
}
