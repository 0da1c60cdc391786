/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the whole netfilter path with NAT (nat/hook.h), as gw's data
 * path drives it: a gateway with a tunnel gw0 (10.8.0.0/24 and
 * fd00:8::/64, gw at .1 and ::1) and an uplink eth0 (192.0.2.1,
 * 2001:db8:1::1), rules with raw NOTRACK, mangle TCPMSS, nat DNAT /
 * REDIRECT / SNAT / MASQUERADE, filter REJECT and conntrack matches, in an
 * IPv4 ruleset and an IPv6 one of the same kinds (NAT66 with IPv6 ranges,
 * REJECT icmp6-* and tcp-reset); a small conntrack table and few NAT
 * ports, so early drop, exhaustion and expiry all happen.  IPv4 routes by
 * the harness's callbacks; IPv6 by gw's own (gw/route.c route_lookup6 and
 * route_ifaddr6 from a gw config), and gw's answers to IPv6 packets come
 * from gw/path.c dp_answer_build.
 *
 * Input: a config byte (bit 0: tcp_be_liberal, bit 1: no uplink address
 * (no IPv6 one either: no IPv6 route out), bit 2: nf_conntrack_checksum
 * off, bits 3-4: the rules' variant, bits 5-7: the tunnel MTU), two bytes
 * whose low 4 bits become ports in the rules (bit 7 of the first: the
 * records are 8 bytes, the last one IPv6's, and the IPv6 ruleset is
 * loaded; clear, the input means what it meant before IPv6), then records
 * of an op byte and 6 argument bytes:
 *   op bits 0-1  where it comes in: nf_input on gw0 (from a peer), nf_input
 *                on eth0, nf_from_host, nf_output
 *   op bits 2-3  what it is: a new packet from the templates; a packet
 *                following one gw let through (same direction, next
 *                sequence numbers); a reply to one gw sent out (addresses,
 *                ports swapped, acknowledging it); an ICMP error quoting one
 *                gw sent out, with a fuzz-chosen byte of the quote changed
 *                (of the family of the packet they follow)
 *   op bit  4    replies and errors come in where the packet went out
 *   op bits 5-7  time passing before it (0 to 2 hours), ct_expire runs
 * and in 8-byte records the IPv6 byte x:
 *   x bit  0     a new packet is IPv6 (TCP, UDP, ICMPv6 echo or, when
 *                the ICMP type bit says so, ND, MLD, router messages...;
 *                in the fourth protocol's place GRE, ESP, no next header
 *                or SCTP)
 *   x bits 1-2   its extension headers: none, hop-by-hop, destination
 *                options, hop-by-hop + routing (no segments left) +
 *                destination options
 *   x bit  3     a fragment header (atomic, or a fragment where the
 *                IPv4 template cuts one)
 *   x bits 4-5   its source: the template's, fe80::2, ::, ::ffff:10.8.0.2
 *   x bits 6-7   its destination: the template's, ff02::1, gw's
 *                solicited-node group, fe80::1 or 2001:db8:99::1 (the
 *                host's)
 *   IPv6 errors are ICMPv6 destination unreachable, packet too big, time
 *   exceeded, parameter problem.
 * Packets in on gw0 and eth0 go through nf_input, or nf_input_batch (one
 * at a time, as gw/path.c does) with 8-byte records.
 * Each result goes on as gw/forward.h decides (fwd_decide, the no-peer
 * answer when an argument bit says no peer owns the destination, cutting
 * into fragments); every answer gw owes (REJECT, time exceeded,
 * fragmentation needed / packet too big, host / address unreachable) is
 * built as gw/path.c builds it and goes through nf_answer; every result is
 * nf_release'd.
 * Properties:
 *   - every accepted packet parses again; its IPv4 header checksum
 *     verifies; its TCP/UDP/ICMP/ICMPv6 checksum (over the pseudo-header
 *     where there is one) verifies when it did before (an ICMP error's
 *     quoted IPv4 header too), a zero UDP checksum stays zero (checked with
 *     tests/unit/util_refsum, not nat/pkt/csum);
 *   - gw's answers and the fragments it cuts are valid the same way; an
 *     IPv6 answer goes to the packet's source, within 1280 bytes; IPv6 is
 *     never cut;
 *   - at the end, everything released and the clock far ahead, conntrack
 *     holds no entry (no held or unconfirmed entry leaked).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/config.h"
#include "gw/forward.h"
#include "gw/path.h"
#include "gw/route.h"
#include "nat/ct.h"
#include "nat/hook.h"
#include "nat/icmp6.h"
#include "nat/pkt/be.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"
#include "nat/reject.h"
#include "nat/rules.h"
#include "nat/sbuf.h"
#include "tests/unit/util_refsum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "CHECK failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

enum {
	P_ICMP = 1, P_TCP = 6, P_UDP = 17, P_ICMP6 = 58,
	PKT_CAP = 1600, RING = 8, REC = 7, REC6 = 8,
	GW_ADDR = A(10, 8, 0, 1), UPLINK = A(192, 0, 2, 1),
};

static const char *const TUN = "gw0", *const UP = "eth0";

static const uint32_t addrs[8] = {
	A(10, 8, 0, 2), A(10, 8, 0, 3), A(10, 8, 0, 5), GW_ADDR,
	UPLINK, A(198, 51, 100, 1), A(198, 51, 100, 200), A(192, 0, 2, 9),
};
/* IPv6 (wire bytes), in the places of addrs[]. */
#define V6(a, b, c, d) { (a) >> 8, (a) & 0xff, (b) >> 8, (b) & 0xff, (c) >> 8, (c) & 0xff, \
			 [14] = (d) >> 8, [15] = (d) & 0xff }
static const uint8_t addrs6[8][16] = {
	V6(0xfd00, 8, 0, 2), V6(0xfd00, 8, 0, 3), V6(0xfd00, 8, 0, 5), V6(0xfd00, 8, 0, 1),
	V6(0x2001, 0xdb8, 1, 1), V6(0x2001, 0xdb8, 0x100, 1), V6(0x2001, 0xdb8, 0x100, 0x200),
	V6(0x2001, 0xdb8, 1, 9),
};
static const uint8_t UPLINK6[16] = V6(0x2001, 0xdb8, 1, 1);
/* x bits 4-5 and 6-7: other sources and destinations */
static const uint8_t src6[4][16] = {
	{ 0 }, V6(0xfe80, 0, 0, 2), { 0 }, { [10] = 0xff, [11] = 0xff, 10, 8, 0, 2 },
};
static const uint8_t dst6[5][16] = {
	{ 0 }, V6(0xff02, 0, 0, 1),
	{ 0xff, 0x02, [11] = 1, [12] = 0xff, [15] = 1 }, /* fd00:8::1's solicited-node group */
	V6(0xfe80, 0, 0, 1), V6(0x2001, 0xdb8, 0x99, 1),
};

/* gw's config for its IPv6 routing (route_lookup6 and route_ifaddr6): the
 * tunnel's Addresses, the peers, the uplink */
static const char conf_text[] =
	"[Interface]\n"
	"PrivateKey = CH25jUd/VT8gP4Hcs8Pf75lJ8emgSMu05XhKGAuxYls=\n"
	"Address = 10.8.0.1/24, fd00:8::1/64\n"
	"Uplink = eth0\n"
	"NatPorts = 61000-61003\n"
	"[Peer]\n"
	"PublicKey = nhFHLv/Sr3ZREuitP6KA7swA/D0flgG8D+EpBbxgr1Q=\n"
	"AllowedIPs = 10.8.0.2/32, fd00:8::2/128\n"
	"[Peer]\n"
	"PublicKey = 3dN8+uzIRzMZ/04W0PSW041xF0qvZ9qFexFTBFHCcRU=\n"
	"AllowedIPs = 10.8.0.3/32, 10.8.0.4/30, fd00:8::3/128, fd00:8::4/126\n";

static const uint16_t ports[16] = {
	80, 8080, 53, 22, 25, 9, 19, 23, 123, 1000, 1001, 61000, 61001, 5353, 2525, 40000,
};
static const uint16_t payloads[8] = { 0, 1, 7, 64, 200, 1000, 1380, 1460 };
static const uint64_t steps[8] = {
	0, 1000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL, 120000000000ULL,
	600000000000ULL, 7200000000000ULL,
};

/* %u: two ports from the input. */
static const char rules_fmt[] =
	"*raw\n"
	":PREROUTING ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	"-A PREROUTING -p udp -m udp --dport 7 -j CT --notrack\n"
	"COMMIT\n"
	"*mangle\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":FORWARD ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	"-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n"
	"-A POSTROUTING -o eth0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200\n"
	"COMMIT\n"
	"*nat\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	"-A PREROUTING -d 192.0.2.1/32 -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.8.0.2:80\n"
	"-A PREROUTING -d 192.0.2.1/32 -i eth0 -p udp -m udp --dport 53 -j DNAT --to-destination 10.8.0.3-10.8.0.5:5353\n"
	"-A PREROUTING -d 192.0.2.9/32 -i eth0 -j DNAT --to-destination 10.8.0.5\n"
	"-A PREROUTING -i eth0 -p tcp -m tcp --dport %u -j DNAT --to-destination 10.8.0.3\n"
	"-A PREROUTING -i gw0 -p tcp -m tcp --dport 25 -j REDIRECT --to-ports 2525\n"
	"-A PREROUTING -i gw0 -p udp -m udp --dport %u -j REDIRECT\n"
	"-A OUTPUT -d 198.51.100.200/32 -p tcp -j DNAT --to-destination 10.8.0.2\n"
	"-A POSTROUTING -s 10.8.0.4/30 -o eth0 -p udp -j SNAT --to-source 192.0.2.50-192.0.2.51:1000-1001\n"
	"-A POSTROUTING -s 10.8.0.4/30 -o eth0 -j SNAT --to-source 192.0.2.50\n"
	"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -p tcp -j MASQUERADE --to-ports 61000-61003%s\n"
	"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE\n"
	"-A POSTROUTING -s 10.8.0.0/24 -d 10.8.0.2/32 -o gw0 -j SNAT --to-source 10.8.0.1\n"
	"COMMIT\n"
	"*filter\n"
	":INPUT ACCEPT [0:0]\n"
	":FORWARD %s [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	"-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset\n"
	"-A INPUT -p udp -m udp --dport 9 -j REJECT\n"
	"-A FORWARD -m conntrack --ctstate INVALID -j DROP\n"
	"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"-A FORWARD -i gw0 -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset\n"
	"-A FORWARD -i gw0 -p udp -m udp --dport 9 -j REJECT --reject-with icmp-port-unreachable\n"
	"-A FORWARD -p udp -m udp --dport 19 -j REJECT --reject-with icmp-admin-prohibited\n"
	"-A FORWARD -i gw0 -j ACCEPT\n"
	"-A FORWARD -i eth0 -o gw0 -m conntrack --ctstate DNAT -j ACCEPT\n"
	"-A OUTPUT -m conntrack --ctstate INVALID -j DROP\n"
	"%s"
	"COMMIT\n";

/* The same for IPv6 (ip6tables-restore); %u: the same two ports. */
static const char rules6_fmt[] =
	"*raw\n"
	":PREROUTING ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	"-A PREROUTING -p udp -m udp --dport 1000 -j CT --notrack\n"
	"COMMIT\n"
	"*mangle\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":FORWARD ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	"-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n"
	"-A POSTROUTING -o eth0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200\n"
	"COMMIT\n"
	"*nat\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	"-A PREROUTING -d 2001:db8:1::1/128 -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:8::2]:80\n"
	"-A PREROUTING -d 2001:db8:1::1/128 -i eth0 -p udp -m udp --dport 53 -j DNAT --to-destination [fd00:8::3-fd00:8::5]:5353\n"
	"-A PREROUTING -d 2001:db8:1::9/128 -i eth0 -j DNAT --to-destination fd00:8::5\n"
	"-A PREROUTING -i eth0 -p tcp -m tcp --dport %u -j DNAT --to-destination fd00:8::3\n"
	"-A PREROUTING -i gw0 -p tcp -m tcp --dport 25 -j REDIRECT --to-ports 2525\n"
	"-A PREROUTING -i gw0 -p udp -m udp --dport %u -j REDIRECT\n"
	"-A OUTPUT -d 2001:db8:100::200/128 -p tcp -j DNAT --to-destination fd00:8::2\n"
	"-A POSTROUTING -s fd00:8::4/126 -o eth0 -p udp -j SNAT --to-source [2001:db8:1::50-2001:db8:1::51]:1000-1001\n"
	"-A POSTROUTING -s fd00:8::4/126 -o eth0 -j SNAT --to-source 2001:db8:1::50\n"
	"-A POSTROUTING -s fd00:8::/64 -o eth0 -p tcp -j MASQUERADE --to-ports 61000-61003%s\n"
	"-A POSTROUTING -s fd00:8::/64 -o eth0 -j MASQUERADE\n"
	"-A POSTROUTING -s fd00:8::/64 -d fd00:8::2/128 -o gw0 -j SNAT --to-source fd00:8::1\n"
	"COMMIT\n"
	"*filter\n"
	":INPUT ACCEPT [0:0]\n"
	":FORWARD %s [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	"-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset\n"
	"-A INPUT -p udp -m udp --dport 9 -j REJECT\n"
	"-A FORWARD -m conntrack --ctstate INVALID -j DROP\n"
	"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"-A FORWARD -i gw0 -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset\n"
	"-A FORWARD -i gw0 -p udp -m udp --dport 9 -j REJECT --reject-with icmp6-port-unreachable\n"
	"-A FORWARD -p udp -m udp --dport 19 -j REJECT --reject-with icmp6-adm-prohibited\n"
	"-A FORWARD -p udp -m udp --dport 123 -j REJECT --reject-with icmp6-addr-unreachable\n"
	"-A FORWARD -p ipv6-icmp -m icmp6 --icmpv6-type 128 -m conntrack --ctstate UNTRACKED -j DROP\n"
	"-A FORWARD -i gw0 -j ACCEPT\n"
	"-A FORWARD -i eth0 -o gw0 -m conntrack --ctstate DNAT -j ACCEPT\n"
	"-A OUTPUT -m conntrack --ctstate INVALID -j DROP\n"
	"%s"
	"COMMIT\n";

/* What gw let through, as it came and as it left. */
struct seen {
	uint8_t in[PKT_CAP], out[PKT_CAP];
	size_t in_len, out_len;
	unsigned path;          /* where it came in (op bits 0-1) */
	bool out_tunnel;        /* it left by gw0 (else eth0) */
};

struct run {
	struct nf *nf;
	uint64_t now;
	uint32_t rnd;
	uint16_t ip_id;
	uint16_t mtu;
	bool no_uplink_addr;
	bool batch;             /* nf_input_batch (8-byte records), else nf_input */
	struct seen ring[RING];
	unsigned nring;
	uint8_t fragout[PKT_CAP];
};

static struct run *cur; /* for the callbacks */
static bool verbose;        /* FUZZ_NF_VERBOSE set: each packet's way on stderr */
static struct config conf;  /* gw's config and routing for IPv6, made once */
static struct route_ctx rt;

static int route(void *arg, uint32_t daddr, struct nf_route *r)
{
	(void)arg;
	memset(r, 0, sizeof(*r));
	if (daddr == GW_ADDR || daddr == UPLINK) {
		r->kind = NF_ROUTE_LOCAL;
		strcpy(r->out, daddr == GW_ADDR ? TUN : UP);
		return 0;
	}
	if (daddr >> 28 == 0xf)
		return -ENETUNREACH;
	r->kind = NF_ROUTE_FORWARD;
	if ((daddr & 0xffffff00) == A(10, 8, 0, 0)) {
		strcpy(r->out, TUN);
		r->mtu = cur->mtu;
	} else {
		strcpy(r->out, UP);
		r->mtu = 1500;
	}
	return 0;
}

static uint32_t ifaddr(void *arg, const char *ifname, uint32_t dst)
{
	(void)arg;
	(void)dst;
	if (!strcmp(ifname, TUN))
		return GW_ADDR;
	if (!strcmp(ifname, UP))
		return cur->no_uplink_addr ? 0 : UPLINK;
	return 0;
}

static const struct fwd_env env = { "gw0", "eth0", true };

static bool local_gets(void *arg, const struct pkt *p, const char *in, const struct nf_route *r)
{
	(void)arg;
	return fwd_host_gets(UP, p, in, r);
}

static bool is6(const uint8_t *b)
{
	return b[0] >> 4 == 6;
}

/* Where the upper layer of the IPv6 packet b starts, walked here (not by
 * nat/pkt) over the extension headers the templates use; *proto gets it.
 * 0 when it is not there (a later fragment, cut short). */
static size_t l4_of6(const uint8_t *b, size_t len, uint8_t *proto)
{
	uint8_t nh = b[6];
	size_t off = 40;

	for (;;) {
		if (nh == 0 || nh == 43 || nh == 60) {
			if (off + 8 > len)
				return 0;
			nh = b[off];
			off += ((size_t)b[off + 1] + 1) * 8;
		} else if (nh == 44) {
			if (off + 8 > len || (be16_get(b + off + 2) & 0xfff8))
				return 0;
			nh = b[off];
			off += 8;
		} else {
			break;
		}
	}
	*proto = nh;
	return off <= len ? off : 0;
}

/* The L3 header length and the L4 protocol of packet b of either family
 * (l3 0: no L4 to go by). */
static size_t l3_of(const uint8_t *b, size_t len, uint8_t *proto)
{
	if (is6(b))
		return l4_of6(b, len, proto);
	*proto = b[9];
	return (size_t)(b[0] & 0xf) * 4;
}

static uint32_t rnd_next(struct run *r)
{
	r->rnd = r->rnd * 1103515245u + 12345u;
	return r->rnd;
}

static void ipv4_csum(uint8_t *b)
{
	size_t ihl = (size_t)(b[0] & 0xf) * 4;

	be16_put(b + 10, 0);
	be16_put(b + 10, (uint16_t)~ref_fold(ref_sum(0, b, ihl)));
}

/* The L4 checksum of packet b (len bytes, either family) made right. */
static void l4_csum(uint8_t *b, size_t len)
{
	uint8_t proto;
	size_t l3 = l3_of(b, len, &proto);
	size_t off = proto == P_TCP ? 16 : proto == P_UDP ? 6 : 2;

	if (!l3 || l3 + off + 2 > len)
		return;
	be16_put(b + l3 + off, 0);
	if (proto == P_ICMP) {
		be16_put(b + l3 + off, (uint16_t)~ref_fold(ref_sum(0, b + l3, len - l3)));
	} else if (proto == P_TCP || proto == P_UDP || proto == P_ICMP6) {
		uint16_t s = (uint16_t)~ref_fold(ref_sum(ref_pseudo(b, proto, len - l3),
							   b + l3, len - l3));

		be16_put(b + l3 + off, proto == P_UDP && !s ? 0xffff : s);
	}
}

/* An IPv4 packet from the template bytes a[0..5]. */
static size_t build_new(uint8_t *b, const uint8_t *a)
{
	static const uint8_t protos[4] = { P_TCP, P_UDP, P_ICMP, P_TCP };
	uint8_t proto = protos[a[0] & 3];
	size_t pl = payloads[a[3] & 7], l4h, len;
	bool mss = a[3] & 8;

	l4h = proto == P_TCP ? (mss ? 24 : 20) : 8;
	len = 20 + l4h + pl;
	memset(b, 0, len);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)len);
	be16_put(b + 4, (uint16_t)(a[4] << 8 | a[5]));
	if (a[3] & 0x10)
		be16_put(b + 6, 0x4000); /* DF */
	if (a[3] & 0x20)
		be16_put(b + 6, (uint16_t)(0x2000 | (a[5] & 0x3))); /* a fragment */
	b[8] = a[3] & 0x40 ? 1 : 64;
	b[9] = proto;
	be32_put(b + 12, addrs[a[0] >> 2 & 7]);
	be32_put(b + 16, addrs[a[0] >> 5]);
	if (proto == P_TCP) {
		be16_put(b + 20, ports[a[1] & 15]);
		be16_put(b + 22, ports[a[1] >> 4]);
		be32_put(b + 24, 1000u * a[4]);
		be32_put(b + 28, 1000u * a[5]);
		b[32] = (uint8_t)(l4h / 4 << 4);
		b[33] = a[2];
		be16_put(b + 34, 65535);
		if (mss) {
			b[40] = 2;
			b[41] = 4;
			be16_put(b + 42, 1460);
		}
	} else if (proto == P_UDP) {
		be16_put(b + 20, ports[a[1] & 15]);
		be16_put(b + 22, ports[a[1] >> 4]);
		be16_put(b + 24, (uint16_t)(8 + pl));
	} else {
		/* echo request or reply (or another type the fuzzer picks) */
		b[20] = a[2] & 0x80 ? a[2] & 0x1f : (a[2] & 1 ? 0 : 8);
		b[21] = a[2] & 0x80 ? a[2] >> 5 & 3 : 0;
		be16_put(b + 24, ports[a[1] & 15]);
		be16_put(b + 26, a[1]);
	}
	for (size_t i = 20 + l4h; i < len; i++)
		b[i] = (uint8_t)i;
	ipv4_csum(b);
	if (!(a[3] & 0x80))
		l4_csum(b, len);
	return len;
}

/* The TCP sequence space a segment takes. */
static uint32_t tcp_span(const uint8_t *b, size_t len)
{
	uint8_t proto;
	size_t l3 = l3_of(b, len, &proto);
	size_t doff = l3 + 13 <= len ? (size_t)(b[l3 + 12] >> 4) * 4 : 0;
	uint32_t n = len > l3 + doff ? (uint32_t)(len - l3 - doff) : 0;

	if (!l3 || l3 + 14 > len)
		return 0;
	return n + !!(b[l3 + 13] & 0x02) + !!(b[l3 + 13] & 0x01);
}

/* The next packet after s->in in its direction: sequence numbers moved on,
 * TCP flags a[2] (ACK kept). */
static size_t build_follow(uint8_t *b, const struct seen *s, const uint8_t *a)
{
	size_t len = s->in_len, l3 = (size_t)(s->in[0] & 0xf) * 4;

	memcpy(b, s->in, len);
	be16_put(b + 4, (uint16_t)(be16_get(b + 4) + 1));
	if (b[9] == P_TCP && l3 + 20 <= len) {
		be32_put(b + l3 + 4, be32_get(b + l3 + 4) + tcp_span(s->in, len));
		b[l3 + 13] = (uint8_t)(a[2] | (a[3] & 1 ? 0 : 0x10));
	} else if (b[9] == P_ICMP && l3 + 8 <= len) {
		be16_put(b + l3 + 6, (uint16_t)(be16_get(b + l3 + 6) + 1));
	}
	ipv4_csum(b);
	if (!(a[3] & 0x80))
		l4_csum(b, len);
	return len;
}

/* A reply to s->out: addresses and ports swapped, TCP acknowledging it. */
static size_t build_reply(uint8_t *b, const struct seen *s, const uint8_t *a)
{
	size_t len = s->out_len, l3 = (size_t)(s->out[0] & 0xf) * 4;
	size_t pl = payloads[a[3] & 7];

	memcpy(b, s->out, len);
	be32_put(b + 12, be32_get(s->out + 16));
	be32_put(b + 16, be32_get(s->out + 12));
	b[8] = 64;
	be16_put(b + 6, a[3] & 0x10 ? 0x4000 : 0);
	if ((b[9] == P_TCP || b[9] == P_UDP) && l3 + 8 <= len) {
		be16_put(b + l3, be16_get(s->out + l3 + 2));
		be16_put(b + l3 + 2, be16_get(s->out + l3));
	}
	if (b[9] == P_TCP && l3 + 20 <= len) {
		size_t doff = (size_t)(b[l3 + 12] >> 4) * 4;

		be32_put(b + l3 + 4, be32_get(s->out + l3 + 8) + (a[4] & 0x80 ? a[5] : 0));
		be32_put(b + l3 + 8, be32_get(s->out + l3 + 4) + tcp_span(s->out, len));
		b[l3 + 13] = (uint8_t)(a[2] | 0x10);
		if (doff >= 20 && l3 + doff <= len && l3 + doff + pl <= PKT_CAP)
			len = l3 + doff + pl;
	} else if (b[9] == P_UDP && l3 + 8 <= len) {
		if (l3 + 8 + pl <= PKT_CAP)
			len = l3 + 8 + pl;
		be16_put(b + l3 + 4, (uint16_t)(len - l3));
	} else if (b[9] == P_ICMP && l3 + 8 <= len) {
		b[l3] = b[l3] == 8 ? 0 : b[l3] == 0 ? 8 : b[l3];
	}
	for (size_t i = s->out_len; i < len; i++) /* a longer reply's payload */
		b[i] = (uint8_t)i;
	be16_put(b + 2, (uint16_t)len);
	ipv4_csum(b);
	if (!(a[3] & 0x80))
		l4_csum(b, len);
	return len;
}

/* An ICMP error quoting s->out, from its destination or a router on the
 * way, one byte of the quote changed (a[3], a[4]), cut to a[5] bytes. */
static size_t build_error(uint8_t *b, const struct seen *s, const uint8_t *a)
{
	static const uint8_t tc[8][2] = {
		{ 3, 3 }, { 3, 1 }, { 3, 4 }, { 11, 0 }, { 3, 13 }, { 12, 0 }, { 5, 1 }, { 4, 0 },
	};
	size_t q = s->out_len, len;
	uint32_t from = a[0] & 0x80 ? be32_get(s->out + 16) : addrs[a[0] & 7];

	if (a[5] && a[5] < q)
		q = a[5] < 28 ? 28 : a[5];
	if (q > s->out_len)
		q = s->out_len;
	if (q > REJECT_ICMP_QUOTE_MAX - 28)
		q = REJECT_ICMP_QUOTE_MAX - 28;
	len = 28 + q;
	memset(b, 0, 28);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)len);
	be16_put(b + 4, a[1]);
	b[8] = 64;
	b[9] = P_ICMP;
	be32_put(b + 12, from);
	be32_put(b + 16, be32_get(s->out + 12));
	b[20] = tc[a[2] & 7][0];
	b[21] = tc[a[2] & 7][1];
	if (b[20] == 3 && b[21] == 4)
		be16_put(b + 26, 1280);
	memcpy(b + 28, s->out, q);
	if (a[3] < q)
		b[28 + a[3]] ^= a[4];
	if (a[2] & 0x40)
		ipv4_csum(b + 28);
	ipv4_csum(b);
	if (!(a[2] & 0x80))
		l4_csum(b, len);
	return len;
}

/* An extension header of type nh and n bytes (a multiple of 8) at b[*off],
 * chained from b[*nhp]; options are PadN. */
static void ext_push(uint8_t *b, size_t *off, size_t *nhp, uint8_t nh, size_t n)
{
	b[*nhp] = nh;
	*nhp = *off;
	memset(b + *off, 0, n);
	if (nh == 43) {
		b[*off + 2] = 253; /* experimental routing type, no segments left */
	} else if (nh != 44) {
		b[*off + 2] = 1; /* PadN */
		b[*off + 3] = (uint8_t)(n - 4);
	}
	b[*off + 1] = (uint8_t)(n / 8 - 1);
	*off += n;
}

/* An IPv6 packet from the template bytes a[0..5] and x (the header
 * comment). */
static size_t build_new6(uint8_t *b, const uint8_t *a, uint8_t x)
{
	static const uint8_t protos[4] = { P_TCP, P_UDP, P_ICMP6, 0 };
	/* the fourth: GRE, ESP, no next header, SCTP (a[2] & 3) */
	static const uint8_t others[4] = { 47, 50, 59, 132 };
	static const uint8_t types[16] = {
		128, 129, 133, 134, 135, 136, 130, 131, 132, 143, 137, 1, 2, 3, 4, 200,
	};
	uint8_t proto = (a[0] & 3) == 3 ? others[a[2] & 3] : protos[a[0] & 3];
	size_t pl = payloads[a[3] & 7], l4h, len, off = 40, nhp = 6, l4;
	bool mss = a[3] & 8;
	unsigned ext = x >> 1 & 3;

	memset(b, 0, 40);
	b[0] = 0x60;
	b[1] = a[4] & 0xf; /* a flow label */
	b[7] = a[3] & 0x40 ? 1 : a[3] & 0x10 ? 255 : 64;
	memcpy(b + 8, x >> 4 & 3 ? src6[x >> 4 & 3] : addrs6[a[0] >> 2 & 7], 16);
	memcpy(b + 24, (x >> 6) == 3 ? dst6[3 + (a[5] & 1)] : x >> 6 ? dst6[x >> 6] :
		       addrs6[a[0] >> 5], 16);
	if (ext & 1)
		ext_push(b, &off, &nhp, 0, 8);
	if (ext == 3)
		ext_push(b, &off, &nhp, 43, 8);
	if (x & 8) {
		ext_push(b, &off, &nhp, 44, 8);
		if (a[3] & 0x20) /* a fragment: M, at offset (a[5] & 3) * 8 */
			be16_put(b + off - 6, (uint16_t)((a[5] & 3) << 3 | 1));
		be32_put(b + off - 4, (uint32_t)a[4] << 8 | a[5]);
	}
	if (ext >= 2)
		ext_push(b, &off, &nhp, 60, ext == 3 ? 16 : 8);
	b[nhp] = proto;
	l4 = off;
	l4h = proto == P_TCP ? (mss ? 24 : 20) : 8;
	len = l4 + l4h + pl;
	memset(b + l4, 0, l4h);
	be16_put(b + 4, (uint16_t)(len - 40));
	if (proto == P_TCP) {
		be16_put(b + l4, ports[a[1] & 15]);
		be16_put(b + l4 + 2, ports[a[1] >> 4]);
		be32_put(b + l4 + 4, 1000u * a[4]);
		be32_put(b + l4 + 8, 1000u * a[5]);
		b[l4 + 12] = (uint8_t)(l4h / 4 << 4);
		b[l4 + 13] = a[2];
		be16_put(b + l4 + 14, 65535);
		if (mss) {
			b[l4 + 20] = 2;
			b[l4 + 21] = 4;
			be16_put(b + l4 + 22, 1440);
		}
	} else if (proto == P_UDP) {
		be16_put(b + l4, ports[a[1] & 15]);
		be16_put(b + l4 + 2, ports[a[1] >> 4]);
		be16_put(b + l4 + 4, (uint16_t)(8 + pl));
	} else if (proto == P_ICMP6) {
		/* echo request or reply, or another type the fuzzer picks */
		b[l4] = a[2] & 0x80 ? types[a[2] & 15] : (a[2] & 1 ? 129 : 128);
		b[l4 + 1] = a[2] & 0x80 ? a[2] >> 5 & 3 : 0;
		be16_put(b + l4 + 4, ports[a[1] & 15]);
		be16_put(b + l4 + 6, a[1]);
	}
	for (size_t i = l4 + l4h; i < len; i++)
		b[i] = (uint8_t)i;
	if (!(a[3] & 0x80))
		l4_csum(b, len);
	return len;
}

/* The next IPv6 packet after s->in in its direction. */
static size_t build_follow6(uint8_t *b, const struct seen *s, const uint8_t *a)
{
	size_t len = s->in_len;
	uint8_t proto;
	size_t l4 = l4_of6(s->in, len, &proto);

	memcpy(b, s->in, len);
	if (l4 && proto == P_TCP && l4 + 20 <= len) {
		be32_put(b + l4 + 4, be32_get(b + l4 + 4) + tcp_span(s->in, len));
		b[l4 + 13] = (uint8_t)(a[2] | (a[3] & 1 ? 0 : 0x10));
	} else if (l4 && proto == P_ICMP6 && l4 + 8 <= len) {
		be16_put(b + l4 + 6, (uint16_t)(be16_get(b + l4 + 6) + 1));
	}
	if (!(a[3] & 0x80))
		l4_csum(b, len);
	return len;
}

/* A reply to the IPv6 packet s->out. */
static size_t build_reply6(uint8_t *b, const struct seen *s, const uint8_t *a)
{
	size_t len = s->out_len;
	size_t pl = payloads[a[3] & 7];
	uint8_t proto;
	size_t l4 = l4_of6(s->out, len, &proto);

	memcpy(b, s->out, len);
	memcpy(b + 8, s->out + 24, 16);
	memcpy(b + 24, s->out + 8, 16);
	b[7] = 64;
	if (l4 && (proto == P_TCP || proto == P_UDP) && l4 + 8 <= len) {
		be16_put(b + l4, be16_get(s->out + l4 + 2));
		be16_put(b + l4 + 2, be16_get(s->out + l4));
	}
	if (l4 && proto == P_TCP && l4 + 20 <= len) {
		size_t doff = (size_t)(b[l4 + 12] >> 4) * 4;

		be32_put(b + l4 + 4, be32_get(s->out + l4 + 8) + (a[4] & 0x80 ? a[5] : 0));
		be32_put(b + l4 + 8, be32_get(s->out + l4 + 4) + tcp_span(s->out, len));
		b[l4 + 13] = (uint8_t)(a[2] | 0x10);
		if (doff >= 20 && l4 + doff <= len && l4 + doff + pl <= PKT_CAP)
			len = l4 + doff + pl;
	} else if (l4 && proto == P_UDP && l4 + 8 <= len) {
		if (l4 + 8 + pl <= PKT_CAP)
			len = l4 + 8 + pl;
		be16_put(b + l4 + 4, (uint16_t)(len - l4));
	} else if (l4 && proto == P_ICMP6 && l4 + 8 <= len) {
		b[l4] = b[l4] == 128 ? 129 : b[l4] == 129 ? 128 : b[l4];
	}
	for (size_t i = s->out_len; i < len; i++)
		b[i] = (uint8_t)i;
	be16_put(b + 4, (uint16_t)(len - 40));
	if (!(a[3] & 0x80))
		l4_csum(b, len);
	return len;
}

/* An ICMPv6 error quoting the IPv6 packet s->out, from its destination or
 * a router on the way, one byte of the quote changed (a[3], a[4]), cut to
 * a[5] bytes. */
static size_t build_error6(uint8_t *b, const struct seen *s, const uint8_t *a)
{
	static const uint8_t tc[8][2] = {
		{ 1, 4 }, { 1, 0 }, { 2, 0 }, { 3, 0 }, { 1, 1 }, { 4, 0 }, { 1, 3 }, { 3, 1 },
	};
	size_t q = s->out_len, len;

	if (a[5] && a[5] < q)
		q = a[5] < 48 ? 48 : a[5];
	if (q > s->out_len)
		q = s->out_len;
	if (q > ICMP6_ERROR_MAX - 48)
		q = ICMP6_ERROR_MAX - 48;
	len = 48 + q;
	memset(b, 0, 48);
	b[0] = 0x60;
	be16_put(b + 4, (uint16_t)(len - 40));
	b[6] = P_ICMP6;
	b[7] = 64;
	memcpy(b + 8, a[0] & 0x80 ? s->out + 24 : addrs6[a[0] & 7], 16);
	memcpy(b + 24, s->out + 8, 16);
	b[40] = tc[a[2] & 7][0];
	b[41] = tc[a[2] & 7][1];
	if (b[40] == 2) /* packet too big: the MTU */
		be32_put(b + 44, a[1] & 1 ? 1280 : 1400);
	else if (b[40] == 4) /* parameter problem: the pointer */
		be32_put(b + 44, a[1]);
	memcpy(b + 48, s->out, q);
	if (a[3] < q)
		b[48 + a[3]] ^= a[4];
	if (!(a[2] & 0x80))
		l4_csum(b, len);
	return len;
}

/* What was right about a packet before netfilter saw it. */
struct sums {
	bool l4_ok, udp_zero, inner_ok, whole;
};

static struct sums sums_of(const struct pkt *p)
{
	const uint8_t *b = p->data;
	struct sums s = { false, false, false, false };
	size_t l3 = p->outer.l4 - p->outer.ip, len = p->outer.end;

	if (p->outer.family == NF_V6)
		s.whole = !(p->outer.flags & PKT_F_FRAG);
	else
		s.whole = !(p->outer.flags & (PKT_F_MF)) && p->outer.frag_off == 0;
	if (!s.whole)
		return s;
	if (p->outer.proto == P_ICMP && p->outer.family == NF_V4)
		s.l4_ok = ref_fold(ref_sum(0, b + l3, len - l3)) == 0xffff;
	else if (p->outer.proto == P_TCP || p->outer.proto == P_UDP ||
		 (p->outer.proto == P_ICMP6 && p->outer.family == NF_V6))
		s.l4_ok = ref_l4_ok(b, len, l3, p->outer.proto);
	s.udp_zero = p->outer.proto == P_UDP && be16_get(b + l3 + 6) == 0;
	if (p->has_inner && p->inner.family == NF_V4)
		s.inner_ok = ref_fold(ref_sum(0, b + p->inner.ip, p->inner.l4 - p->inner.ip)) == 0xffff;
	return s;
}

/* An accepted packet: parses, and what was right is still right. */
static void check_out(struct pkt *p, const struct sums *before)
{
	struct pkt again;
	uint8_t *b = p->data;
	size_t len = p->outer.end, l3 = p->outer.l4 - p->outer.ip;
	bool v6 = p->outer.family == NF_V6;

	if (v6)
		CHECK(is6(b) && be16_get(b + 4) == len - 40);
	else
		CHECK(ref_fold(ref_sum(0, b, l3)) == 0xffff);
	CHECK(pkt_parse(&again, b, len) == PKT_OK);
	CHECK(again.outer.family == p->outer.family && again.outer.proto == p->outer.proto);
	CHECK(nf_addr_eq(&again.outer.saddr, &p->outer.saddr) &&
	      nf_addr_eq(&again.outer.daddr, &p->outer.daddr));
	CHECK(again.outer.sport == p->outer.sport && again.outer.dport == p->outer.dport);
	if (!before->whole)
		return;
	if (before->udp_zero)
		CHECK(be16_get(b + l3 + 6) == 0);
	else if (before->l4_ok && p->outer.proto == P_ICMP && !v6)
		CHECK(ref_fold(ref_sum(0, b + l3, len - l3)) == 0xffff);
	else if (before->l4_ok)
		CHECK(ref_l4_ok(b, len, l3, p->outer.proto));
	if (before->inner_ok && again.has_inner)
		CHECK(ref_fold(ref_sum(0, b + again.inner.ip, again.inner.l4 - again.inner.ip)) ==
		      0xffff);
}

static void remember(struct run *r, const uint8_t *in, size_t in_len, const struct pkt *p,
		     unsigned path, bool out_tunnel)
{
	struct seen *s = &r->ring[r->nring++ % RING];

	memcpy(s->in, in, in_len);
	s->in_len = in_len;
	memcpy(s->out, p->data, p->outer.end);
	s->out_len = p->outer.end;
	s->path = path;
	s->out_tunnel = out_tunnel;
}

struct frag_ctx {
	struct sums whole;
	unsigned n;
};

static void frag_emit(void *ctx, uint8_t *frag, size_t len)
{
	struct frag_ctx *f = ctx;
	struct pkt fp;

	CHECK(pkt_parse(&fp, frag, len) == PKT_OK);
	CHECK(ref_fold(ref_sum(0, frag, fp.outer.l4 - fp.outer.ip)) == 0xffff);
	f->n++;
}

static void finish(struct run *r, struct pkt *p, struct nf_result *res, const char *in,
		   enum fwd_from from, const uint8_t *a, const uint8_t *orig, size_t orig_len,
		   unsigned path, const struct sums *before, unsigned depth);

/* gw's answer about p (in on in), as gw/path.c's answer() makes it: IPv4
 * as the harness routes it, IPv6 by dp_answer_build itself. */
static void answer(struct run *r, const struct pkt *p, const struct nf_result *res,
		   const struct fwd_action *a, const char *in, const uint8_t *arg, unsigned depth)
{
	uint8_t buf[ICMP6_ERROR_MAX];
	struct nf_result rres;
	struct sums s;
	struct pkt rp;
	size_t len;

	if (p->outer.family == NF_V6) {
		len = dp_answer_build(&rt, p, res, a, in, r->ip_id++, buf, sizeof(buf));
	} else {
		uint32_t src = ifaddr(NULL, in, p->outer.saddr.ip);

		if (a->answer == FWD_ANSWER_REJECT)
			len = reject_build(p, res->reject, src, r->ip_id++, buf, sizeof(buf));
		else
			len = icmp_error_build(p, a->type, a->code, a->mtu, src, r->ip_id++, buf,
					       sizeof(buf));
	}
	if (!len)
		return;
	CHECK(len <= sizeof(buf));
	CHECK(pkt_parse(&rp, buf, len) == PKT_OK);
	CHECK(rp.outer.family == p->outer.family);
	if (p->outer.family == NF_V6) {
		/* to the sender, an ICMPv6 error or a RST */
		CHECK(nf_addr_eq(&rp.outer.daddr, &p->outer.saddr));
		CHECK(rp.outer.proto == P_ICMP6 || rp.outer.proto == P_TCP);
		if (rp.outer.proto == P_TCP)
			CHECK(nf_addr_eq(&rp.outer.saddr, &p->outer.daddr) &&
			      (rp.outer.tcp_flags & 0x04));
		else
			CHECK(rp.has_inner);
	}
	s = sums_of(&rp);
	CHECK(s.l4_ok);
	nf_answer(r->nf, &rp, res, r->now, rnd_next(r), &rres, NULL);
	finish(r, &rp, &rres, TUN, FWD_FROM_GW, arg, buf, len, 3, &s, depth + 1);
}

/* As dataplane.c's finish(): carried out, answered, released. */
static void finish(struct run *r, struct pkt *p, struct nf_result *res, const char *in,
		   enum fwd_from from, const uint8_t *a, const uint8_t *orig, size_t orig_len,
		   unsigned path, const struct sums *before, unsigned depth)
{
	struct fwd_action act;

	CHECK(depth < 3);
	fwd_decide(&env, p, res, from, &act);
	if (verbose)
		fprintf(stderr, "%*sv%u from %u proto %u len %u: %s %s ct %s -> %s%s\n",
			(int)depth * 2, "", p->outer.family, (unsigned)from, p->outer.proto,
			(unsigned)p->outer.end, nf_verdict_name(res->verdict), nf_drop_name(res->drop),
			nf_ctstate_name(res->ctstate), fwd_kind_name(act.kind),
			act.answer ? " +answer" : "");
	if (res->verdict == NF_ACCEPT)
		check_out(p, before);
	if (act.kind == FWD_PEER && (a[1] & 0x80))
		fwd_no_peer(from, p, &act);
	if (from == FWD_FROM_GW)
		CHECK(act.answer == FWD_ANSWER_NONE);
	if (act.cut) {
		struct frag_ctx f = { *before, 0 };
		int n;

		CHECK(p->outer.family == NF_V4); /* IPv6 is never cut on the way */
		n = ip_fragment(p->data, p->outer.end, act.cut, r->fragout,
				    sizeof(r->fragout), frag_emit, &f);

		CHECK(n < 0 || (unsigned)n == f.n);
	}
	if (act.kind == FWD_PEER || act.kind == FWD_UPLINK || act.kind == FWD_HOST)
		remember(r, orig, orig_len, p, path, act.kind != FWD_UPLINK);
	if (act.answer != FWD_ANSWER_NONE)
		answer(r, p, res, &act, in, a, depth);
	nf_release(r->nf, res);
	CHECK(!res->ct && !res->ct_held);
}

static void one(struct run *r, uint8_t op, const uint8_t *a, uint8_t x)
{
	static const char *const ins[4] = { "gw0", "eth0", "gw0", "gw0" };
	static const enum fwd_from froms[4] = {
		FWD_FROM_PEER, FWD_FROM_UPLINK, FWD_FROM_HOST, FWD_FROM_HOST,
	};
	unsigned kind = op >> 2 & 3, path = op & 3;
	const struct seen *s = r->nring ? &r->ring[a[0] % (r->nring < RING ? r->nring : RING)] : NULL;
	static const uint32_t uid[2] = { 1000, 1000 };
	uint8_t *buf, orig[PKT_CAP];
	struct nf_result res;
	struct sums before;
	struct pkt p;
	size_t len;

	r->now += steps[op >> 5];
	ct_expire(nf_ct(r->nf), r->now, 8);
	if (kind && !s)
		kind = 0;
	switch (kind) {
	case 0:
		len = x & 1 ? build_new6(orig, a, x) : build_new(orig, a);
		break;
	case 1:
		len = is6(s->in) ? build_follow6(orig, s, a) : build_follow(orig, s, a);
		if (op & 0x10)
			path = s->path;
		break;
	case 2:
		len = is6(s->out) ? build_reply6(orig, s, a) : build_reply(orig, s, a);
		if (op & 0x10)
			path = s->out_tunnel ? 0 : 1;
		break;
	default:
		len = is6(s->out) ? build_error6(orig, s, a) : build_error(orig, s, a);
		if (op & 0x10)
			path = s->out_tunnel ? 0 : 1;
		break;
	}
	buf = malloc(len); /* exact: ASan sees any access past it */
	CHECK(buf);
	memcpy(buf, orig, len);
	if (pkt_parse(&p, buf, len) != PKT_OK) {
		free(buf);
		return;
	}
	before = sums_of(&p);
	if (path == 0)
		p.owner = (uint16_t)(1 + (a[1] & 3));
	switch (path) {
	case 0:
	case 1:
		if (r->batch) { /* as gw's data path does */
			struct pkt *pp = &p;
			uint32_t rnd = rnd_next(r);

			nf_input_batch(r->nf, &pp, 1, ins[path], r->now, &rnd, &res);
		} else {
			nf_input(r->nf, &p, ins[path], r->now, rnd_next(r), &res, NULL);
		}
		break;
	case 2:
		nf_from_host(r->nf, &p, a[4] & 1 ? uid : NULL, r->now, rnd_next(r), &res, NULL);
		break;
	default:
		nf_output(r->nf, &p, a[4] & 1 ? uid : NULL, r->now, rnd_next(r), &res, NULL);
		break;
	}
	finish(r, &p, &res, ins[path], path == 3 ? FWD_FROM_GW : froms[path], a, orig, len,
	       path, &before, 0);
	free(buf);
}

static struct rules *rules_for(const uint8_t *data, bool v6)
{
	static const char *const masq[4] = { "", " --random", " --random-fully", "" };
	static const char *const tail[4] = {
		"",
		"-A OUTPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset\n",
		"-A OUTPUT -m conntrack --ctstate RELATED -j ACCEPT\n-A OUTPUT -o gw0 -j DROP\n",
		"-A OUTPUT -p icmp -j DROP\n",
	};
	static const char *const tail6[4] = {
		"",
		"-A OUTPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset\n",
		"-A OUTPUT -m conntrack --ctstate RELATED -j ACCEPT\n-A OUTPUT -o gw0 -j DROP\n",
		"-A OUTPUT -p ipv6-icmp -j DROP\n",
	};
	unsigned v = data[0] >> 3 & 3;
	static char text[sizeof(rules6_fmt) + 256];
	struct rules_parse_opts opts = { .family = v6 ? NF_V6 : NF_V4 };
	struct rules_error err;
	struct rules *rules;

	snprintf(text, sizeof(text), v6 ? rules6_fmt : rules_fmt, ports[data[1] & 15],
		 ports[data[2] & 15], masq[v], v == 3 ? "ACCEPT" : "DROP", v6 ? tail6[v] : tail[v]);
	if (rules_parse_with(&rules, text, strlen(text), NULL, &opts, &err)) {
		fprintf(stderr, "rules%s:%u: %s\n", v6 ? "6" : "", err.line, err.message);
		abort();
	}
	return rules;
}

/* gw's config and IPv6 routing, once: the tunnel's and the uplink's
 * addresses, the host's other ones. */
static void setup_route(void)
{
	static const uint8_t host6[3][16] = {
		V6(0xfe80, 0, 0, 1), V6(0x2001, 0xdb8, 0x99, 1), V6(0xfd00, 8, 0, 1),
	};
	struct config_error err;
	union nf_addr *local;
	struct sbuf warn;

	sbuf_init(&warn);
	if (config_parse(&conf, "/etc/gw/gw0.conf", conf_text, sizeof(conf_text) - 1, &warn,
			 &err)) {
		fprintf(stderr, "%s\n", err.message);
		abort();
	}
	sbuf_free(&warn);
	CHECK(route_init(&rt, &conf, UPLINK, 1500) == 0);
	local = calloc(3, sizeof(*local));
	CHECK(local);
	for (unsigned i = 0; i < 3; i++)
		memcpy(local[i].b, host6[i], 16);
	route_set_local6(&rt, local, 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run run;
	struct nf_config cfg = {
		.route = route,
		.ifaddr = ifaddr,
		.route6 = route_lookup6,
		.ifaddr6 = route_ifaddr6,
		.route_arg = &rt,
		.uplink_addr = UPLINK,
		.nat_port_min = 61000,
		.nat_port_max = 61003,
		.local_gets = local_gets,
		.tunnel = "gw0",
		.uplink = "eth0",
	};
	union nf_addr up6 = { .ip = 0 };
	struct ct_stats st;
	size_t rec;
	bool v6;

	if (size < 3)
		return 0;
	if (!rt.cfg) {
		setup_route();
		verbose = getenv("FUZZ_NF_VERBOSE");
	}
	v6 = data[1] & 0x80;
	rec = v6 ? REC6 : REC;
	memset(&run, 0, sizeof(run));
	cur = &run;
	run.now = 1000000000000ULL;
	run.rnd = 7;
	run.mtu = (uint16_t)(576 + (data[0] >> 5) * 128);
	run.no_uplink_addr = data[0] & 2;
	run.batch = v6;
	rt.tunnel_mtu = run.mtu;
	if (!run.no_uplink_addr)
		memcpy(up6.b, UPLINK6, 16);
	rt.uplink_addr6 = up6;
	ct_config_default(&cfg.ct, 12);
	cfg.ct.buckets = 4;
	cfg.ct.hash_seed = 3;
	cfg.ct.owners = 4;
	cfg.ct.owner_max = 6;
	cfg.ct.tcp_be_liberal = data[0] & 1;
	cfg.ct.checksum = !(data[0] & 4);
	if (run.no_uplink_addr)
		cfg.uplink_addr = 0;
	CHECK(nf_create(&run.nf, &cfg, rules_for(data, false)) == 0);
	if (v6) {
		nf_set_uplink_addr6(run.nf, &up6);
		CHECK(!nf_set_rules6(run.nf, rules_for(data, true)));
	}
	data += 3;
	size -= 3;
	while (size >= rec) {
		one(&run, data[0], data + 1, v6 ? data[7] : 0);
		data += rec;
		size -= rec;
	}
	ct_expire(nf_ct(run.nf), run.now + 1000000ULL * 1000000000ULL, ~0u);
	ct_get_stats(nf_ct(run.nf), &st);
	CHECK(st.count == 0);
	for (uint16_t o = 1; o <= 4; o++) {
		struct ct_owner_stats os;

		ct_get_owner_stats(nf_ct(run.nf), o, &os);
		CHECK(os.count == 0);
	}
	nf_destroy(run.nf);
	return 0;
}
