/* SPDX-License-Identifier: MIT */
/*
 * IPv4 as nf_reject_ipv4.c and icmp_send(); IPv6 as nf_reject_ipv6.c: a
 * TCP RST over IPv6 has hop limit 64, traffic class and flow label 0, as
 * nf_reject_ip6hdr_put writes it; ICMPv6 errors come from nat/icmp6.h.
 */
#include "nat/reject.h"

#include <netinet/in.h>
#include <string.h>

#include "nat/icmp6.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"

enum { DEFAULT_TTL = 64, IPTOS_PREC_INTERNETCONTROL = 0xc0, IPTOS_TOS_MASK = 0x1e };

static bool special_source(uint32_t a)
{
	return a == 0 || a == 0xffffffff || (a >> 28) == 0xe;
}

static void ip_header(uint8_t *ip, uint8_t tos, uint16_t len, uint16_t id, bool df,
		      uint8_t proto, uint32_t src, uint32_t dst)
{
	memset(ip, 0, IP4H_LEN);
	ip[0] = 0x45;
	ip[IP4H_TOS] = tos;
	be16_put(ip + IP4H_TOTLEN, len);
	be16_put(ip + IP4H_ID, id);
	be16_put(ip + IP4H_FRAG, df ? IP4_DF : 0);
	ip[IP4H_TTL] = DEFAULT_TTL;
	ip[IP4H_PROTO] = proto;
	be32_put(ip + IP4H_SADDR, src);
	be32_put(ip + IP4H_DADDR, dst);
	be16_put(ip + IP4H_CSUM, csum_ip(ip, IP4H_LEN));
}

/* The checksum of p's L4 payload is right (the kernel checks it before
 * answering TCP and UDP, and ICMPv6 over IPv6 (nf_reject_verify_csum);
 * UDP without a checksum passes). */
static bool l4_sum_ok(const struct pkt *p)
{
	const struct pkt_hdr *h = &p->outer;
	const uint8_t *l4 = p->data + h->l4;
	size_t len = h->end - h->l4;

	if (h->flags & PKT_F_FRAG)
		return true; /* not checked on fragments */
	if (h->proto == IPPROTO_UDP && !be16_get(l4 + 6))
		return true;
	if (h->proto != IPPROTO_TCP && h->proto != IPPROTO_UDP &&
	    !(h->family == NF_V6 && h->proto == IPPROTO_ICMPV6))
		return true;
	if (h->family == NF_V6)
		return csum_fold(csum_add(csum_pseudo6(h->saddr.b, h->daddr.b, h->proto, (uint32_t)len),
					  l4, len)) == 0;
	return csum_fold(csum_add(csum_pseudo(h->saddr.ip, h->daddr.ip, h->proto, (uint16_t)len),
				  l4, len)) == 0;
}

size_t icmp_error_build(const struct pkt *p, uint8_t type, uint8_t code, uint16_t mtu,
			uint32_t src, uint16_t ip_id, uint8_t *out, size_t cap)
{
	const struct pkt_hdr *h = &p->outer;
	size_t quote = h->end - h->ip, len;

	if (h->flags & PKT_F_LATER || special_source(h->saddr.ip))
		return 0;
	/* never an error about an ICMP error */
	if (h->proto == IPPROTO_ICMP && (!(h->flags & PKT_F_PORTS) ||
					 pkt_icmp_is_error(h->icmp_type) || h->icmp_type > 18))
		return 0;
	if (quote > REJECT_ICMP_QUOTE_MAX - 28)
		quote = REJECT_ICMP_QUOTE_MAX - 28;
	len = 28 + quote;
	if (cap < len)
		return 0;
	ip_header(out, (uint8_t)((p->data[h->ip + 1] & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL),
		  (uint16_t)len, ip_id, false, IPPROTO_ICMP, src, h->saddr.ip);
	memset(out + 20, 0, 8);
	out[20] = type;
	out[21] = code;
	if (type == 3 && code == 4)
		be16_put(out + 26, mtu);
	memcpy(out + 28, p->data + h->ip, quote);
	be16_put(out + 22, csum_icmp(out + 20, len - 20));
	return len;
}

static void ip6_header(uint8_t *ip, uint16_t plen, uint8_t proto, const uint8_t *src,
		       const uint8_t *dst)
{
	memset(ip, 0, IP6H_LEN);
	ip[0] = 0x60;
	be16_put(ip + IP6H_PLEN, plen);
	ip[IP6H_NEXT] = proto;
	ip[IP6H_HLIM] = DEFAULT_TTL;
	memcpy(ip + IP6H_SADDR, src, 16);
	memcpy(ip + IP6H_DADDR, dst, 16);
}

static bool multicast6(const union nf_addr *a)
{
	return a->b[0] == 0xff;
}

static size_t tcp_reset(const struct pkt *p, uint8_t *out, size_t cap)
{
	const struct pkt_hdr *h = &p->outer;
	const uint8_t *th = p->data + h->l4;
	bool v6 = h->family == NF_V6;
	size_t iplen = v6 ? IP6H_LEN : IP4H_LEN;
	uint8_t *t = out + iplen;
	uint32_t seq, ack = 0;
	uint8_t flags = TCP_RST;

	if (!(h->flags & PKT_F_L4) || (h->flags & PKT_F_FRAG) || (h->tcp_flags & TCP_RST) ||
	    cap < iplen + TCPH_LEN || !l4_sum_ok(p))
		return 0;
	/* nf_send_reset6: unicast addresses only */
	if (v6 && (multicast6(&h->daddr) || multicast6(&h->saddr) ||
		   nf_addr_is_zero(&h->saddr) || nf_addr_is_zero(&h->daddr)))
		return 0;
	if (h->tcp_flags & TCP_ACK) {
		seq = be32_get(th + 8);
	} else {
		seq = 0;
		ack = be32_get(th + 4) + (uint32_t)(h->end - h->l4 - h->l4_hlen) +
		      !!(h->tcp_flags & TCP_SYN) + !!(h->tcp_flags & TCP_FIN);
		flags |= TCP_ACK;
	}
	if (v6)
		ip6_header(out, TCPH_LEN, IPPROTO_TCP, h->daddr.b, h->saddr.b);
	else
		ip_header(out, 0, 40, 0, true, IPPROTO_TCP, h->daddr.ip, h->saddr.ip);
	memset(t, 0, TCPH_LEN);
	be16_put(t, h->dport);
	be16_put(t + 2, h->sport);
	be32_put(t + 4, seq);
	be32_put(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	if (v6)
		be16_put(t + TCPH_CSUM,
			 csum_fold(csum_add(csum_pseudo6(h->daddr.b, h->saddr.b, IPPROTO_TCP, TCPH_LEN),
					    t, TCPH_LEN)));
	else
		be16_put(t + TCPH_CSUM, csum_l4(h->daddr.ip, h->saddr.ip, IPPROTO_TCP, t, TCPH_LEN));
	return iplen + TCPH_LEN;
}

size_t reject_build(const struct pkt *p, enum reject_with with, uint32_t icmp_src,
		    uint16_t ip_id, uint8_t *out, size_t cap)
{
	static const uint8_t codes[] = {
		[REJECT_ICMP_NET_UNREACH] = 0,
		[REJECT_ICMP_HOST_UNREACH] = 1,
		[REJECT_ICMP_PROTO_UNREACH] = 2,
		[REJECT_ICMP_PORT_UNREACH] = 3,
		[REJECT_ICMP_NET_PROHIBITED] = 9,
		[REJECT_ICMP_HOST_PROHIBITED] = 10,
		[REJECT_ICMP_ADMIN_PROHIBITED] = 13,
	};

	if (with == REJECT_TCP_RESET)
		return p->outer.proto == IPPROTO_TCP ? tcp_reset(p, out, cap) : 0;
	if (with == REJECT_NONE || (unsigned)with >= sizeof(codes) || !l4_sum_ok(p) ||
	    p->outer.family != NF_V4)
		return 0;
	return icmp_error_build(p, 3, codes[with], 0, icmp_src, ip_id, out, cap);
}

size_t reject6_build(const struct pkt *p, enum reject_with with, const union nf_addr *src,
		     uint8_t *out, size_t cap)
{
	/* nf_send_unreach6: destination unreachable with the code asked */
	static const uint8_t codes[] = {
		[REJECT_ICMP6_NO_ROUTE] = 0, [REJECT_ICMP6_ADM_PROHIBITED] = 1,
		[REJECT_ICMP6_ADDR_UNREACH] = 3, [REJECT_ICMP6_PORT_UNREACH] = 4,
		[REJECT_ICMP6_POLICY_FAIL] = 5, [REJECT_ICMP6_REJECT_ROUTE] = 6,
	};
	const struct pkt_hdr *h = &p->outer;

	if (with == REJECT_TCP_RESET)
		return h->proto == IPPROTO_TCP ? tcp_reset(p, out, cap) : 0;
	if (with < REJECT_ICMP6_NO_ROUTE || (unsigned)with >= sizeof(codes) || !l4_sum_ok(p))
		return 0;
	return icmp6_error_build(p->data + h->ip, h->end - h->ip, 1, codes[with], 0, src->b, out,
				 cap);
}
