/* SPDX-License-Identifier: MIT */
#include "nat/trace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

static const char tcp_flag_letters[] = "FSRPAU"; /* bit order of the TCP header */

static const struct icmp_name {
	const char *name;
	uint8_t type, code;
} icmp_names[] = {
	{ "echo-reply", 0, 0 },
	{ "destination-unreachable", 3, 0 },
	{ "network-unreachable", 3, 0 },
	{ "host-unreachable", 3, 1 },
	{ "protocol-unreachable", 3, 2 },
	{ "port-unreachable", 3, 3 },
	{ "fragmentation-needed", 3, 4 },
	{ "source-quench", 4, 0 },
	{ "redirect", 5, 0 },
	{ "echo-request", 8, 0 },
	{ "time-exceeded", 11, 0 },
	{ "ttl-zero-during-transit", 11, 0 },
	{ "parameter-problem", 12, 0 },
	{ "timestamp-request", 13, 0 },
	{ "timestamp-reply", 14, 0 },
};

__attribute__((format(printf, 3, 4)))
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > max ? -EINVAL : 0;
}

/* ADDR[:PORT], [ADDR6][:PORT] or ADDR6; *family set. */
static int parse_endpoint(const char *w, uint8_t *family, union nf_addr *addr, uint16_t *port)
{
	char buf[64];
	char *colon, *host = buf;
	struct in_addr a;
	unsigned long v;

	if (strlen(w) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, w);
	memset(addr, 0, sizeof(*addr));
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		*close = '\0';
		host = buf + 1;
		colon = close[1] ? close + 1 : NULL;
	} else {
		colon = strchr(buf, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
	}
	if (colon) {
		*colon = '\0';
		if (parse_num(colon + 1, 65535, &v))
			return -EINVAL;
		*port = (uint16_t)v;
	}
	if (host == buf && inet_pton(AF_INET, host, &a) == 1) {
		*family = NF_V4;
		addr->ip = ntohl(a.s_addr);
		return 0;
	}
	if (inet_pton(AF_INET6, host, addr->b) != 1)
		return -EINVAL;
	*family = NF_V6;
	return 0;
}

static int parse_ext(struct trace_spec *s, const char *w)
{
	if (!strcmp(w, "hop"))
		s->ext = TRACE_EXT_HOP;
	else if (!strcmp(w, "dst"))
		s->ext = TRACE_EXT_DST;
	else if (!strcmp(w, "hop,dst"))
		s->ext = TRACE_EXT_HOP | TRACE_EXT_DST;
	else
		return -EINVAL;
	return 0;
}

/* TYPE[/CODE] or a name of names[n]. */
static int parse_type_code(struct trace_spec *s, const char *w, const struct icmp_name *names,
			   size_t n)
{
	char buf[48];
	char *slash;
	unsigned long v;

	if (strlen(w) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, w);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(buf, names[i].name)) {
			s->icmp_type = names[i].type;
			s->icmp_code = names[i].code;
			return 0;
		}
	}
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (parse_num(slash + 1, 255, &v))
			return -EINVAL;
		s->icmp_code = (uint8_t)v;
	} else {
		s->icmp_code = 0;
	}
	if (parse_num(buf, 255, &v))
		return -EINVAL;
	s->icmp_type = (uint8_t)v;
	return 0;
}

static int parse_icmp(struct trace_spec *s, const char *w)
{
	return parse_type_code(s, w, icmp_names, sizeof(icmp_names) / sizeof(icmp_names[0]));
}

static int parse_icmp6(struct trace_spec *s, const char *w)
{
	/* ip6tables' spellings of the common ones */
	static const struct icmp_name names[] = {
		{ "destination-unreachable", 1, 0 }, { "no-route", 1, 0 },
		{ "communication-prohibited", 1, 1 }, { "address-unreachable", 1, 3 },
		{ "port-unreachable", 1, 4 }, { "packet-too-big", 2, 0 },
		{ "time-exceeded", 3, 0 }, { "ttl-zero-during-transit", 3, 0 },
		{ "parameter-problem", 4, 0 }, { "echo-request", 128, 0 },
		{ "echo-reply", 129, 0 },
	};

	return parse_type_code(s, w, names, sizeof(names) / sizeof(names[0]));
}

int trace_spec_parse(struct trace_spec *s, const char *text, char *err, size_t errlen)
{
	char buf[256];
	char *words[16], *save = NULL, *w;
	unsigned n = 0, i;
	unsigned long v;
	uint8_t dfam;

	memset(s, 0, sizeof(*s));
	if (strlen(text) >= sizeof(buf))
		return bad(err, errlen, "packet too long to be a packet description");
	strcpy(buf, text);
	for (w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == sizeof(words) / sizeof(words[0]))
			return bad(err, errlen, "too many words");
		words[n++] = w;
	}
	if (n < 4 || strcmp(words[2], ">"))
		return bad(err, errlen, "expected 'PROTO SRC[:PORT] > DST[:PORT] ...'");
	if (!strcmp(words[0], "tcp"))
		s->proto = IPPROTO_TCP;
	else if (!strcmp(words[0], "udp"))
		s->proto = IPPROTO_UDP;
	else if (!strcmp(words[0], "icmp"))
		s->proto = IPPROTO_ICMP;
	else if (!strcmp(words[0], "icmp6"))
		s->proto = IPPROTO_ICMPV6;
	else if (!parse_num(words[0], 255, &v))
		s->proto = (uint8_t)v;
	else
		return bad(err, errlen, "unknown protocol \"%s\"", words[0]);
	if (parse_endpoint(words[1], &s->family, &s->src, &s->sport))
		return bad(err, errlen, "bad source \"%s\"", words[1]);
	if (parse_endpoint(words[3], &dfam, &s->dst, &s->dport))
		return bad(err, errlen, "bad destination \"%s\"", words[3]);
	if (dfam != s->family)
		return bad(err, errlen, "\"%s\" and \"%s\" are of different IP versions",
			   words[1], words[3]);
	if ((s->proto == IPPROTO_ICMP && s->family == NF_V6) ||
	    (s->proto == IPPROTO_ICMPV6 && s->family == NF_V4))
		return bad(err, errlen, "%s needs IPv%s addresses", words[0],
			   s->proto == IPPROTO_ICMP ? "4" : "6");
	if (s->proto == IPPROTO_ICMP)
		s->icmp_type = 8; /* echo request unless told */
	if (s->proto == IPPROTO_ICMPV6)
		s->icmp_type = 128;
	for (i = 4; i < n; i += 2) {
		const char *key = words[i], *val = i + 1 < n ? words[i + 1] : NULL;

		if (!strcmp(key, "df")) {
			s->df = true; /* a word without a value */
			i--;
			continue;
		}
		if (!val)
			return bad(err, errlen, "\"%s\" needs a value", key);
		if (!strcmp(key, "in")) {
			if (strlen(val) >= sizeof(s->in))
				return bad(err, errlen, "bad interface \"%s\"", val);
			strcpy(s->in, val);
		} else if (!strcmp(key, "flags")) {
			if (s->proto != IPPROTO_TCP)
				return bad(err, errlen, "flags need tcp");
			s->has_flags = true;
			for (const char *c = val; *c; c++) {
				const char *f = strchr(tcp_flag_letters, *c);

				if (!f)
					return bad(err, errlen, "bad TCP flag '%c' (SAFRPU)", *c);
				s->tcp_flags |= (uint8_t)(1 << (f - tcp_flag_letters));
			}
		} else if (!strcmp(key, "icmp")) {
			if (s->proto != IPPROTO_ICMP)
				return bad(err, errlen, "icmp TYPE needs icmp");
			if (parse_icmp(s, val))
				return bad(err, errlen, "bad ICMP type \"%s\"", val);
		} else if (!strcmp(key, "icmp6")) {
			if (s->proto != IPPROTO_ICMPV6)
				return bad(err, errlen, "icmp6 TYPE needs icmp6");
			if (parse_icmp6(s, val))
				return bad(err, errlen, "bad ICMPv6 type \"%s\"", val);
		} else if (!strcmp(key, "mtu")) {
			if (s->family != NF_V6 || parse_num(val, 0xffffffffUL, &v) || v < 1280)
				return bad(err, errlen, "bad MTU \"%s\" (IPv6 Packet Too Big)", val);
			s->mtu = (uint32_t)v;
		} else if (!strcmp(key, "ext")) {
			if (s->family != NF_V6 || parse_ext(s, val))
				return bad(err, errlen, "bad extension headers \"%s\" "
					   "(IPv6: hop, dst or hop,dst)", val);
		} else if (!strcmp(key, "ttl")) {
			if (parse_num(val, 255, &v) || !v)
				return bad(err, errlen, "bad TTL \"%s\"", val);
			s->ttl = (uint8_t)v;
		} else if (!strcmp(key, "len")) {
			if (parse_num(val, 65535, &v) || v < (s->family == NF_V6 ? 40 : 20))
				return bad(err, errlen, "bad length \"%s\"", val);
			s->len = (uint16_t)v;
		} else {
			return bad(err, errlen, "unknown word \"%s\"", key);
		}
	}
	if (s->proto == IPPROTO_TCP && !s->has_flags)
		s->tcp_flags = TCP_ACK;
	return 0;
}

static bool icmp_error_type(uint8_t t)
{
	return t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
}

/* An IPv6 packet: header, the extension headers asked for, upper layer. */
static size_t build6(const struct trace_spec *s, uint32_t seq, uint32_t ack,
		     const uint8_t *quote, size_t quote_len, uint8_t *out, size_t cap)
{
	bool error = s->proto == IPPROTO_ICMPV6 && s->icmp_type < 128;
	size_t ext = (s->ext & TRACE_EXT_HOP ? 8 : 0) + (s->ext & TRACE_EXT_DST ? 8 : 0);
	size_t l4len, len, min, off = IP6H_LEN;
	uint8_t *next = out + IP6H_NEXT, *l4;
	uint32_t sum;

	switch (s->proto) {
	case IPPROTO_TCP: l4len = 20; break;
	case IPPROTO_UDP: l4len = 8; break;
	case IPPROTO_ICMPV6: l4len = 8 + (error ? quote_len : 0); break;
	default: l4len = 0; break;
	}
	min = IP6H_LEN + ext + l4len;
	len = s->len > min ? s->len : min;
	if (len > cap || len - IP6H_LEN > 65535)
		return 0;
	memset(out, 0, len);
	out[0] = 0x60;
	be16_put(out + IP6H_PLEN, (uint16_t)(len - IP6H_LEN));
	out[IP6H_HLIM] = s->ttl ? s->ttl : 64;
	memcpy(out + IP6H_SADDR, s->src.b, 16);
	memcpy(out + IP6H_DADDR, s->dst.b, 16);
	/* each option header: next header, length 0 (8 bytes), PadN of 4 */
	for (unsigned bit = TRACE_EXT_HOP; bit <= TRACE_EXT_DST; bit <<= 1) {
		if (!(s->ext & bit))
			continue;
		*next = bit == TRACE_EXT_HOP ? IPPROTO_HOPOPTS : IPPROTO_DSTOPTS;
		next = out + off;
		out[off + 2] = 1;  /* PadN */
		out[off + 3] = 4;
		off += 8;
	}
	*next = s->proto;
	l4 = out + off;
	l4len = len - off;
	sum = csum_pseudo6(s->src.b, s->dst.b, s->proto, (uint32_t)l4len);
	switch (s->proto) {
	case IPPROTO_TCP:
		be16_put(l4, s->sport);
		be16_put(l4 + 2, s->dport);
		be32_put(l4 + 4, seq);
		be32_put(l4 + 8, (s->tcp_flags & TCP_ACK) ? ack : 0);
		l4[12] = 5 << 4;
		l4[13] = s->tcp_flags;
		be16_put(l4 + 14, 65535);
		be16_put(l4 + 16, csum_fold(csum_add(sum, l4, l4len)));
		break;
	case IPPROTO_UDP: {
		uint16_t c;

		be16_put(l4, s->sport);
		be16_put(l4 + 2, s->dport);
		be16_put(l4 + 4, (uint16_t)l4len);
		c = csum_fold(csum_add(sum, l4, l4len));
		be16_put(l4 + 6, c ? c : 0xffff);
		break;
	}
	case IPPROTO_ICMPV6:
		l4[0] = s->icmp_type;
		l4[1] = s->icmp_code;
		if (error) {
			if (s->icmp_type == 2)
				be32_put(l4 + 4, s->mtu ? s->mtu : 1280);
			if (quote_len)
				memcpy(l4 + 8, quote, quote_len);
		} else {
			be16_put(l4 + 4, s->sport); /* id */
			be16_put(l4 + 6, 1);        /* sequence */
		}
		be16_put(l4 + 2, csum_fold(csum_add(sum, l4, l4len)));
		break;
	}
	return len;
}

size_t trace_build(const struct trace_spec *s, uint32_t seq, uint32_t ack, uint16_t ip_id,
		   const uint8_t *quote, size_t quote_len, uint8_t *out, size_t cap)
{
	size_t l4len, len, min;
	uint8_t *l4 = out + 20;

	if (s->family == NF_V6)
		return build6(s, seq, ack, quote, quote_len, out, cap);
	switch (s->proto) {
	case IPPROTO_TCP: l4len = 20; break;
	case IPPROTO_UDP: l4len = 8; break;
	case IPPROTO_ICMP: l4len = 8 + (icmp_error_type(s->icmp_type) ? quote_len : 0); break;
	default: l4len = 0; break;
	}
	min = 20 + l4len;
	len = s->len > min ? s->len : min;
	if (len > cap || len > 65535)
		return 0;
	memset(out, 0, len);
	out[0] = 0x45;
	be16_put(out + 2, (uint16_t)len);
	be16_put(out + 4, ip_id);
	if (s->df)
		out[6] = 0x40;
	out[8] = s->ttl ? s->ttl : 64;
	out[9] = s->proto;
	be32_put(out + 12, s->src.ip);
	be32_put(out + 16, s->dst.ip);
	be16_put(out + 10, csum_ip(out, 20));
	switch (s->proto) {
	case IPPROTO_TCP:
		be16_put(l4, s->sport);
		be16_put(l4 + 2, s->dport);
		be32_put(l4 + 4, seq);
		be32_put(l4 + 8, (s->tcp_flags & TCP_ACK) ? ack : 0);
		l4[12] = 5 << 4;
		l4[13] = s->tcp_flags;
		be16_put(l4 + 14, 65535);
		be16_put(l4 + 16, csum_l4(s->src.ip, s->dst.ip, IPPROTO_TCP, l4, len - 20));
		break;
	case IPPROTO_UDP:
		be16_put(l4, s->sport);
		be16_put(l4 + 2, s->dport);
		be16_put(l4 + 4, (uint16_t)(len - 20));
		be16_put(l4 + 6, csum_l4(s->src.ip, s->dst.ip, IPPROTO_UDP, l4, len - 20));
		break;
	case IPPROTO_ICMP:
		l4[0] = s->icmp_type;
		l4[1] = s->icmp_code;
		if (icmp_error_type(s->icmp_type)) {
			if (quote_len)
				memcpy(l4 + 8, quote, quote_len);
		} else {
			be16_put(l4 + 4, s->sport); /* id */
			be16_put(l4 + 6, 1);        /* sequence */
		}
		be16_put(l4 + 2, csum_icmp(l4, len - 20));
		break;
	}
	return len;
}

/* An address as the syntax has it: IPv6 in brackets. */
static void put_addr(struct sbuf *out, const struct pkt_hdr *h, const union nf_addr *a)
{
	char text[INET6_ADDRSTRLEN];

	if (h->family != NF_V6) {
		sbuf_printf(out, "%u.%u.%u.%u", a->ip >> 24, (a->ip >> 16) & 0xff,
			    (a->ip >> 8) & 0xff, a->ip & 0xff);
		return;
	}
	inet_ntop(AF_INET6, a->b, text, sizeof(text));
	sbuf_printf(out, "[%s]", text);
}

void trace_format(const struct pkt *p, struct sbuf *out)
{
	const struct pkt_hdr *h = &p->outer;
	bool ports = (h->proto == IPPROTO_TCP || h->proto == IPPROTO_UDP) && (h->flags & PKT_F_PORTS);
	bool icmp6 = h->family == NF_V6 && h->proto == IPPROTO_ICMPV6;
	bool query = (h->flags & PKT_F_PORTS) &&
		     (icmp6 ? h->icmp_type >= 128 :
		      h->proto == IPPROTO_ICMP && !pkt_icmp_is_error(h->icmp_type));

	switch (h->proto) {
	case IPPROTO_TCP: sbuf_add(out, "tcp "); break;
	case IPPROTO_UDP: sbuf_add(out, "udp "); break;
	case IPPROTO_ICMP: sbuf_add(out, "icmp "); break;
	case IPPROTO_ICMPV6: sbuf_add(out, icmp6 ? "icmp6 " : "58 "); break;
	default: sbuf_printf(out, "%u ", h->proto); break;
	}
	put_addr(out, h, &h->saddr);
	if (ports || query)
		sbuf_printf(out, ":%u", h->sport);
	sbuf_add(out, " > ");
	put_addr(out, h, &h->daddr);
	if (ports)
		sbuf_printf(out, ":%u", h->dport);
	if (h->proto == IPPROTO_TCP && (h->flags & PKT_F_L4)) {
		sbuf_add(out, " flags ");
		for (int i = 0; i < 6; i++) {
			/* print in the order of the SAFRPU spelling */
			static const uint8_t order[] = { TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST, TCP_PSH, TCP_URG };
			static const char letters[] = "SAFRPU";

			if (h->tcp_flags & order[i])
				sbuf_addn(out, &letters[i], 1);
		}
	}
	if (h->proto == IPPROTO_ICMP && h->family == NF_V4 && (h->flags & PKT_F_L4))
		sbuf_printf(out, " icmp %u/%u", h->icmp_type, h->icmp_code);
	if (icmp6 && (h->flags & PKT_F_L4))
		sbuf_printf(out, " icmp6 %u/%u", h->icmp_type, h->icmp_code);
}
