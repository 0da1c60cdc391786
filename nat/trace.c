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

static const struct {
	const char *name;
	uint8_t type, code;
	bool any_code;
} icmp_names[] = {
	{ "echo-reply", 0, 0, false },
	{ "destination-unreachable", 3, 0, true },
	{ "network-unreachable", 3, 0, false },
	{ "host-unreachable", 3, 1, false },
	{ "protocol-unreachable", 3, 2, false },
	{ "port-unreachable", 3, 3, false },
	{ "fragmentation-needed", 3, 4, false },
	{ "source-quench", 4, 0, false },
	{ "redirect", 5, 0, true },
	{ "echo-request", 8, 0, false },
	{ "time-exceeded", 11, 0, true },
	{ "ttl-zero-during-transit", 11, 0, false },
	{ "parameter-problem", 12, 0, true },
	{ "timestamp-request", 13, 0, false },
	{ "timestamp-reply", 14, 0, false },
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

/* ADDR[:PORT] */
static int parse_endpoint(const char *w, uint32_t *addr, uint16_t *port)
{
	char buf[32];
	char *colon;
	struct in_addr a;
	unsigned long v;

	if (strlen(w) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, w);
	colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		if (parse_num(colon + 1, 65535, &v))
			return -EINVAL;
		*port = (uint16_t)v;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*addr = ntohl(a.s_addr);
	return 0;
}

static int parse_icmp(struct trace_spec *s, const char *w)
{
	char buf[48];
	char *slash;
	unsigned long v;

	if (strlen(w) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, w);
	for (size_t i = 0; i < sizeof(icmp_names) / sizeof(icmp_names[0]); i++) {
		if (!strcmp(buf, icmp_names[i].name)) {
			s->icmp_type = icmp_names[i].type;
			s->icmp_code = icmp_names[i].code;
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

int trace_spec_parse(struct trace_spec *s, const char *text, char *err, size_t errlen)
{
	char buf[256];
	char *words[16], *save = NULL, *w;
	unsigned n = 0, i;
	unsigned long v;

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
	else if (!parse_num(words[0], 255, &v))
		s->proto = (uint8_t)v;
	else
		return bad(err, errlen, "unknown protocol \"%s\"", words[0]);
	if (parse_endpoint(words[1], &s->src, &s->sport))
		return bad(err, errlen, "bad source \"%s\"", words[1]);
	if (parse_endpoint(words[3], &s->dst, &s->dport))
		return bad(err, errlen, "bad destination \"%s\"", words[3]);
	if (s->proto == IPPROTO_ICMP)
		s->icmp_type = 8; /* echo request unless told */
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
		} else if (!strcmp(key, "ttl")) {
			if (parse_num(val, 255, &v) || !v)
				return bad(err, errlen, "bad TTL \"%s\"", val);
			s->ttl = (uint8_t)v;
		} else if (!strcmp(key, "len")) {
			if (parse_num(val, 65535, &v) || v < 20)
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

size_t trace_build(const struct trace_spec *s, uint32_t seq, uint32_t ack, uint16_t ip_id,
		   const uint8_t *quote, size_t quote_len, uint8_t *out, size_t cap)
{
	size_t l4len, len, min;
	uint8_t *l4 = out + 20;

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
	be32_put(out + 12, s->src);
	be32_put(out + 16, s->dst);
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
		be16_put(l4 + 16, csum_l4(s->src, s->dst, IPPROTO_TCP, l4, len - 20));
		break;
	case IPPROTO_UDP:
		be16_put(l4, s->sport);
		be16_put(l4 + 2, s->dport);
		be16_put(l4 + 4, (uint16_t)(len - 20));
		be16_put(l4 + 6, csum_l4(s->src, s->dst, IPPROTO_UDP, l4, len - 20));
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

static void put_addr(struct sbuf *out, uint32_t a)
{
	sbuf_printf(out, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

void trace_format(const struct pkt *p, struct sbuf *out)
{
	const struct pkt_hdr *h = &p->outer;
	bool ports = (h->proto == IPPROTO_TCP || h->proto == IPPROTO_UDP) && (h->flags & PKT_F_PORTS);

	switch (h->proto) {
	case IPPROTO_TCP: sbuf_add(out, "tcp "); break;
	case IPPROTO_UDP: sbuf_add(out, "udp "); break;
	case IPPROTO_ICMP: sbuf_add(out, "icmp "); break;
	default: sbuf_printf(out, "%u ", h->proto); break;
	}
	put_addr(out, h->saddr.ip);
	if (ports || (h->proto == IPPROTO_ICMP && (h->flags & PKT_F_PORTS) &&
		      !pkt_icmp_is_error(h->icmp_type)))
		sbuf_printf(out, ":%u", h->sport);
	sbuf_add(out, " > ");
	put_addr(out, h->daddr.ip);
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
	if (h->proto == IPPROTO_ICMP && (h->flags & PKT_F_L4))
		sbuf_printf(out, " icmp %u/%u", h->icmp_type, h->icmp_code);
}
