/* SPDX-License-Identifier: MIT */
/*
 * ct_proto — the UDP, ICMP and generic trackers (nf_conntrack_proto_udp.c,
 * nf_conntrack_proto_icmp.c, generic_packet in nf_conntrack_core.c).
 *
 * UDP: 30 s until a reply was seen; then, for packets more than 2 s after
 * the first one, 120 s and ASSURED (a "stream"), else 30 s again.
 * ICMP: only echo, timestamp, info and address-mask requests make
 * entries; 30 s, refreshed by every packet.  Errors never reach here (they
 * are RELATED, see conntrack.c).  ICMPv6 (nf_conntrack_proto_icmpv6.c):
 * the same with echo requests and node information queries; Neighbor
 * Discovery and MLD are UNTRACKED before they get here.
 * GRE: 30 s, 180 s and ASSURED once a reply was seen (keys are not
 * tracked: they only matter for PPTP).
 * Everything else: 600 s, no L4 state.  SCTP, DCCP and UDP-Lite are
 * tracked this generic way (the kernel has trackers for some of them).
 */
#include "nat/ct_priv.h"
#include "nat/pkt/be.h"
#include "nat/pkt/pkt.h"

static const uint32_t udp_timeout_unreplied = CT_SECS(30);
static const uint32_t udp_timeout_stream = CT_SECS(120);
static const uint32_t udp_stream_after = CT_SECS(2);
static const uint32_t icmp_timeout = CT_SECS(30);
static const uint32_t generic_timeout = CT_SECS(600);
static const uint32_t gre_timeout = CT_SECS(30);
static const uint32_t gre_timeout_stream = CT_SECS(180);

bool ct_udp_error(const struct pkt *p, bool check_csum)
{
	/* pkt_parse checked the length field against the packet */
	return check_csum && !ct_l4_csum_ok(p);
}

enum ct_verdict ct_udp_packet(struct ct_ctx *c, struct ct_entry *e)
{
	if (!(e->status & CT_S_CONFIRMED))
		e->proto.udp.stream_ts = c->now_u + udp_stream_after;

	if (e->status & CT_S_SEEN_REPLY) {
		uint32_t extra = udp_timeout_unreplied;
		bool stream = false;

		/* still active after two seconds: a stream */
		if (ct_before(e->proto.udp.stream_ts, c->now_u)) {
			extra = udp_timeout_stream;
			stream = !(e->status & CT_S_ASSURED);
		}
		ct_refresh(c, e, extra);
		if (stream)
			e->status |= CT_S_ASSURED;
	} else {
		ct_refresh(c, e, udp_timeout_unreplied);
	}
	return CT_V_ACCEPT;
}

enum ct_verdict ct_icmp_packet(struct ct_ctx *c, struct ct_entry *e)
{
	/* echo, timestamp, info request, address mask request */
	static const uint8_t valid_new[] = { [8] = 1, [13] = 1, [15] = 1, [17] = 1 };
	unsigned type = e->tuple[CT_DIR_ORIGINAL].dport >> 8;

	if (type >= sizeof(valid_new) || !valid_new[type])
		return CT_V_INVALID;
	ct_refresh(c, e, icmp_timeout);
	return CT_V_ACCEPT;
}

int ct_icmp6_inverse(uint8_t type)
{
	switch (type) {
	case 128: return 129;  /* echo request, reply */
	case 129: return 128;
	case 139: return 140;  /* node information query, reply */
	case 140: return 139;
	default: return -1;
	}
}

enum ct_verdict ct_icmp6_packet(struct ct_ctx *c, struct ct_entry *e)
{
	unsigned type = e->tuple[CT_DIR_ORIGINAL].dport >> 8;

	/* only echo requests and node information queries make entries */
	if (!(e->status & CT_S_CONFIRMED) && type != 128 && type != 139)
		return CT_V_INVALID;
	ct_refresh(c, e, icmp_timeout);
	return CT_V_ACCEPT;
}

enum ct_verdict ct_gre_packet(struct ct_ctx *c, struct ct_entry *e)
{
	if (e->status & CT_S_SEEN_REPLY) {
		ct_refresh(c, e, gre_timeout_stream);
		e->status |= CT_S_ASSURED;
	} else {
		ct_refresh(c, e, gre_timeout);
	}
	return CT_V_ACCEPT;
}

enum ct_verdict ct_generic_packet(struct ct_ctx *c, struct ct_entry *e)
{
	ct_refresh(c, e, generic_timeout);
	return CT_V_ACCEPT;
}
