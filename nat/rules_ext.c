/* SPDX-License-Identifier: MIT */
/*
 * rules_ext — the extension registry and the parsers and printers every
 * match and target family shares.  Each follows the libxtables function it
 * is named after in its comment, so that gw accepts and prints what
 * iptables 1.8.9 accepts and prints.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/ext.h"
#include "nat/rules.h"
#include "nat/sbuf.h"

static const struct ext *const matches[] = {
	&m_tcp, &m_udp, &m_icmp, &m_multiport, &m_conntrack, &m_state,
	&m_iprange, &m_limit, &m_mark, &m_connmark, &m_comment, &m_length,
	&m_addrtype, &m_owner, &m_icmp6,
};

static const struct ext *const targets[] = {
	&t_reject, &t_log, &t_mark, &t_connmark, &t_tcpmss, &t_notrack, &t_ct,
	&t_snat, &t_dnat, &t_masquerade, &t_redirect,
};

/* Targets iptables has and gw refuses by name rather than as a missing
 * chain. */
static const char *const unsupported_targets[] = {
	"AUDIT", "CHECKSUM", "CLASSIFY", "CLUSTERIP", "CONNSECMARK", "DSCP",
	"ECN", "HMARK", "IDLETIMER", "LED", "NETMAP", "NFLOG", "NFQUEUE",
	"QUEUE", "RATEEST", "SECMARK", "SET", "SYNPROXY", "TCPOPTSTRIP", "TEE",
	"TOS", "TPROXY", "TRACE", "TTL", "ULOG",
};

static bool for_family(const struct ext *e, uint8_t family)
{
	return !e->family || e->family == family;
}

const struct ext *ext_find_match(const char *name, uint8_t family)
{
	for (size_t i = 0; i < sizeof(matches) / sizeof(matches[0]); i++)
		if (strcmp(matches[i]->name, name) == 0 && for_family(matches[i], family))
			return matches[i];
	return NULL;
}

const struct ext *ext_find_target(const char *name, uint8_t family)
{
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (strcmp(targets[i]->name, name) == 0 && for_family(targets[i], family))
			return targets[i];
	return NULL;
}

bool ext_known_target(const char *name)
{
	for (size_t i = 0; i < sizeof(unsupported_targets) / sizeof(unsupported_targets[0]); i++)
		if (strcmp(unsupported_targets[i], name) == 0)
			return true;
	return false;
}

int ext_fail(struct ext_parse *pc, const char *token, const char *fmt, ...)
{
	va_list ap;

	if (!token)
		token = pc->token ? pc->token : "";
	snprintf(pc->err->token, sizeof(pc->err->token), "%s", token);
	va_start(ap, fmt);
	vsnprintf(pc->err->message, sizeof(pc->err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* xtables_strtoul_base(s, NULL, ..., 0): no sign, whole string. */
bool ext_strtou(const char *s, uint64_t max, uint64_t *out)
{
	const char *p = s;
	unsigned long long v;
	char *end;

	while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		p++;
	if (*p == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (end == s || *end != '\0' || errno == ERANGE || v > max)
		return false;
	*out = v;
	return true;
}

bool ext_strtou32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (!ext_strtou(s, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

/* The leading number of s as xtables_strtoui(s, &end, ...): returns false
 * when no digits or out of range. */
static bool strtou_prefix(const char *s, uint32_t max, uint32_t *out, const char **endp)
{
	const char *p = s;
	unsigned long long v;
	char *end;

	while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		p++;
	if (*p == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (end == s || errno == ERANGE || v > max)
		return false;
	*out = (uint32_t)v;
	*endp = end;
	return true;
}

/* xtopt_parse_markmask */
bool ext_parse_markmask(const char *s, uint32_t *value, uint32_t *mask)
{
	const char *end;

	*mask = UINT32_MAX;
	if (!strtou_prefix(s, UINT32_MAX, value, &end))
		return false;
	if (*end == '/')
		return ext_strtou32(end + 1, UINT32_MAX, mask);
	return *end == '\0';
}

/* __numeric_to_ipaddr(dotted, is_mask) */
static bool numeric_addr(const char *s, uint32_t *addr, bool is_mask)
{
	char buf[20], *p = buf, *q;
	uint32_t part, a = 0;
	int i;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	for (i = 0; i < 3; i++) {
		q = strchr(p, '.');
		if (!q) {
			if (is_mask || !ext_strtou32(p, 255, &part))
				return false;
			*addr = (a | part << (24 - 8 * i)) ;
			return true;
		}
		*q = '\0';
		if (!ext_strtou32(p, 255, &part))
			return false;
		a |= part << (24 - 8 * i);
		p = q + 1;
	}
	if (!ext_strtou32(p, 255, &part))
		return false;
	*addr = a | part;
	return true;
}

bool ext_parse_ipaddr(const char *s, uint32_t *addr)
{
	return numeric_addr(s, addr, false);
}

/* inet_pton(AF_INET): four decimal parts, no leading zeros. */
bool ext_parse_ipaddr_strict(const char *s, uint32_t *addr)
{
	uint32_t a = 0, part = 0;
	int parts = 0, digits = 0;

	for (;; s++) {
		if (*s >= '0' && *s <= '9') {
			if (digits && part == 0)
				return false;
			part = part * 10 + (uint32_t)(*s - '0');
			if (part > 255)
				return false;
			digits++;
		} else if (*s == '.' || *s == '\0') {
			if (!digits || parts == 4)
				return false;
			a = a << 8 | part;
			parts++;
			part = 0;
			digits = 0;
			if (*s == '\0')
				break;
		} else {
			return false;
		}
	}
	if (parts != 4)
		return false;
	*addr = a;
	return true;
}

uint32_t ext_prefix_mask(unsigned int bits)
{
	return bits ? UINT32_MAX << (32 - bits) : 0;
}

int ext_mask_bits(uint32_t mask)
{
	int bits = 0;

	while (mask & 0x80000000u) {
		mask <<= 1;
		bits++;
	}
	return mask ? -1 : bits;
}

/* parse_ipmask */
bool ext_parse_ipmask(const char *s, uint32_t *mask)
{
	uint32_t bits;

	if (numeric_addr(s, mask, true))
		return true;
	if (!ext_strtou32(s, 32, &bits))
		return false;
	*mask = ext_prefix_mask(bits);
	return true;
}

void ext_put_addr(struct sbuf *out, uint32_t a)
{
	sbuf_printf(out, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

/* xtables_ipmask_to_numeric (omit32) or iptables-save's /32 */
void ext_put_mask(struct sbuf *out, uint32_t mask, bool omit32)
{
	int bits = ext_mask_bits(mask);

	if (bits < 0) {
		sbuf_add(out, "/");
		ext_put_addr(out, mask);
	} else if (bits != 32 || !omit32) {
		sbuf_printf(out, "/%d", bits);
	}
}

bool ext_parse_ip6addr(const char *s, union nf_addr *a)
{
	union nf_addr v;

	if (inet_pton(AF_INET6, s, v.b) != 1)
		return false;
	*a = v;
	return true;
}

void ext_prefix_mask6(unsigned int bits, union nf_addr *mask)
{
	memset(mask, 0, sizeof(*mask));
	for (unsigned int i = 0; i < 16 && bits; i++) {
		unsigned int n = bits < 8 ? bits : 8;

		mask->b[i] = (uint8_t)(0xff00u >> n);
		bits -= n;
	}
}

/* parse_ip6mask: a numeric address first, then a prefix length */
bool ext_parse_ip6mask(const char *s, union nf_addr *mask)
{
	uint32_t bits;

	if (ext_parse_ip6addr(s, mask))
		return true;
	if (!ext_strtou32(s, 128, &bits))
		return false;
	ext_prefix_mask6(bits, mask);
	return true;
}

/* xtables_ip6mask_to_cidr */
int ext_mask_bits6(const union nf_addr *mask)
{
	int bits = 0;
	unsigned int i = 0;

	while (i < 16 && mask->b[i] == 0xff) {
		bits += 8;
		i++;
	}
	if (i < 16) {
		uint8_t b = mask->b[i];

		while (b & 0x80) {
			b = (uint8_t)(b << 1);
			bits++;
		}
		if (b)
			return -1;
		for (i++; i < 16; i++)
			if (mask->b[i])
				return -1;
	}
	return bits;
}

void ext_put_addr6(struct sbuf *out, const union nf_addr *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (inet_ntop(AF_INET6, a->b, buf, sizeof(buf)))
		sbuf_add(out, buf);
}

void ext_put_mask6(struct sbuf *out, const union nf_addr *mask, bool omit128)
{
	int bits = ext_mask_bits6(mask);

	if (bits < 0) {
		sbuf_add(out, "/");
		ext_put_addr6(out, mask);
	} else if (bits != 128 || !omit128) {
		sbuf_printf(out, "/%d", bits);
	}
}

void ext_put_addr_fam(struct sbuf *out, uint8_t family, const union nf_addr *a)
{
	if (family == NF_V6)
		ext_put_addr6(out, a);
	else
		ext_put_addr(out, a->ip);
}

void ext_addr_and(union nf_addr *out, const union nf_addr *a, const union nf_addr *m)
{
	for (int i = 0; i < 4; i++)
		out->ip6[i] = a->ip6[i] & m->ip6[i];
}

bool ext_addr_masked_eq(const union nf_addr *a, const union nf_addr *m,
			const union nf_addr *want)
{
	return ((a->ip6[0] & m->ip6[0]) ^ want->ip6[0]) == 0 &&
	       ((a->ip6[1] & m->ip6[1]) ^ want->ip6[1]) == 0 &&
	       ((a->ip6[2] & m->ip6[2]) ^ want->ip6[2]) == 0 &&
	       ((a->ip6[3] & m->ip6[3]) ^ want->ip6[3]) == 0;
}

/* xtables_parse_port */
int ext_parse_port(const char *s, const char *proto)
{
	uint32_t v;

	if (ext_strtou32(s, 65535, &v))
		return (int)v;
	return ext_service_port(s, proto);
}

/* parse_tcp_ports / parse_udp_ports */
int ext_parse_port_range(char *s, const char *proto, uint16_t *min, uint16_t *max,
			 const char **bad)
{
	char *colon = strchr(s, ':');
	int a, b;

	if (!colon) {
		a = ext_parse_port(s, proto);
		if (a < 0) {
			*bad = s;
			return -1;
		}
		*min = *max = (uint16_t)a;
		return 0;
	}
	*colon = '\0';
	a = s[0] ? ext_parse_port(s, proto) : 0;
	if (a < 0) {
		*colon = ':';
		*bad = s;
		return -1;
	}
	b = colon[1] ? ext_parse_port(colon + 1, proto) : 65535;
	*colon = ':';
	if (b < 0) {
		*bad = colon + 1;
		return -1;
	}
	if (a > b) {
		*bad = NULL;
		return -1;
	}
	*min = (uint16_t)a;
	*max = (uint16_t)b;
	return 0;
}

/* xtables_getportbyname(): getaddrinfo() takes decimal digits or a name */
static int portbyname(const char *s)
{
	uint32_t v = 0;
	const char *p = s;

	if (!*p)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint32_t)(*p - '0');
		if (v > 65535)
			return -1;
	}
	if (*p == '\0')
		return (int)v;
	return ext_service_port(s, NULL);
}

/* xtopt_parse_mport() */
int ext_parse_portrc(char *s, uint16_t *min, uint16_t *max, const char **bad)
{
	char *colon = strchr(s, ':');
	int a, b;

	if (colon)
		*colon = '\0';
	a = colon && !s[0] ? 0 : portbyname(s);
	b = !colon ? a : colon[1] ? portbyname(colon + 1) : 65535;
	if (colon)
		*colon = ':';
	if (a < 0 || b < 0) {
		*bad = a < 0 ? s : colon + 1;
		return -1;
	}
	*min = (uint16_t)a;
	*max = (uint16_t)b;
	return 0;
}

const char *ext_proto_service(uint8_t proto)
{
	switch (proto) {
	case 6: return "tcp";
	case 17: return "udp";
	case 132: return "sctp";
	case 33: return "dccp";
	case 136: return "udplite";
	default: return NULL;
	}
}

/* xtables_save_string */
void ext_put_string(struct sbuf *out, const char *s)
{
	size_t n = strspn(s, "_-0123456789abcdefghijklmnopqrstuvwxyz"
			  "ABCDEFGHIJKLMNOPQRSTUVWXYZ");

	if (n > 0 && s[n] == '\0') {
		sbuf_add(out, " ");
		sbuf_add(out, s);
		return;
	}
	sbuf_add(out, " \"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\' || *s == '\'')
			sbuf_addn(out, "\\", 1);
		sbuf_addn(out, s, 1);
	}
	sbuf_add(out, "\"");
}

int ext_parse_icmp_type(const struct ext_icmp_name *names, size_t n, const char *kind,
			const char *arg, uint8_t *type, uint8_t code[2], struct ext_parse *pc)
{
	size_t len = strlen(arg), match = n;
	char buf[32], *slash;
	uint32_t v;

	for (size_t i = 0; i < n; i++) {
		if (strncasecmp(names[i].name, arg, len) != 0)
			continue;
		if (match != n)
			return ext_fail(pc, arg, "Ambiguous %s type \"%s\": \"%s\" or \"%s\"?",
					kind, arg, names[match].name, names[i].name);
		match = i;
	}
	if (match != n && len > 0) {
		*type = names[match].type;
		code[0] = names[match].code_min;
		code[1] = names[match].code_max;
		return 0;
	}
	if (len >= sizeof(buf))
		return ext_fail(pc, arg, "Unknown %s type \"%s\"", kind, arg);
	strcpy(buf, arg);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (!ext_strtou32(buf, 255, &v))
		return ext_fail(pc, arg, "Unknown %s type \"%s\"", kind, arg);
	*type = (uint8_t)v;
	if (!slash) {
		code[0] = 0;
		code[1] = 0xFF;
		return 0;
	}
	if (!ext_strtou32(slash + 1, 255, &v))
		return ext_fail(pc, arg, "Unknown %s code \"%s\"", kind, arg);
	code[0] = code[1] = (uint8_t)v;
	return 0;
}

void ext_print_icmp_type(const struct ext_icmp_name *names, size_t n, const char *word,
			 uint8_t type, const uint8_t code[2], bool inv, bool numeric,
			 struct sbuf *out)
{
	sbuf_printf(out, " %s", word);
	if (!numeric)
		for (size_t i = 0; i < n; i++)
			if (names[i].type == type && names[i].code_min == code[0] &&
			    names[i].code_max == code[1]) {
				sbuf_printf(out, " %s%s", inv ? "!" : "", names[i].name);
				return;
			}
	if (inv)
		sbuf_add(out, " !");
	sbuf_printf(out, "type %u", type);
	if (code[0] == code[1])
		sbuf_printf(out, " code %u", code[0]);
	else if (code[0] != 0 || code[1] != 0xFF)
		sbuf_printf(out, " codes %u-%u", code[0], code[1]);
}
