/* SPDX-License-Identifier: MIT */
/*
 * m_icmp6 — the icmp6 match (ip6t_icmp6, ip6tables only): a type and a
 * code range.
 *
 * --icmpv6-type takes a name (any unambiguous case-insensitive prefix of
 * libip6t_icmp6's table: "echo" and "ne" are ambiguous) or TYPE[/CODE]
 * (numbers base 0, at most 255).  A type without a code matches codes
 * 0-255.  Unlike IPv4's icmp match there is no "any": type 255 is a type.
 * ip6tables-save prints numbers only, "TYPE" for the full code range,
 * "TYPE/CODE" otherwise.
 */
#include <string.h>
#include <strings.h>

#include "nat/ext.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

struct icmp6_info {
	uint8_t type;
	uint8_t code[2];
	uint8_t inv;
};

static const struct ext_opt icmp6_opts[] = {
	{ "icmpv6-type", 0, 1, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

static const struct ext_icmp_name icmp6_codes[] = {
	{ "destination-unreachable", 1, 0, 0xFF },
	{ "no-route", 1, 0, 0 },
	{ "communication-prohibited", 1, 1, 1 },
	{ "beyond-scope", 1, 2, 2 },
	{ "address-unreachable", 1, 3, 3 },
	{ "port-unreachable", 1, 4, 4 },
	{ "failed-policy", 1, 5, 5 },
	{ "reject-route", 1, 6, 6 },
	{ "packet-too-big", 2, 0, 0xFF },
	{ "time-exceeded", 3, 0, 0xFF },
	{ "ttl-exceeded", 3, 0, 0xFF },
	{ "ttl-zero-during-transit", 3, 0, 0 },
	{ "ttl-zero-during-reassembly", 3, 1, 1 },
	{ "parameter-problem", 4, 0, 0xFF },
	{ "bad-header", 4, 0, 0 },
	{ "unknown-header-type", 4, 1, 1 },
	{ "unknown-option", 4, 2, 2 },
	{ "echo-request", 128, 0, 0xFF },
	{ "ping", 128, 0, 0xFF },
	{ "echo-reply", 129, 0, 0xFF },
	{ "pong", 129, 0, 0xFF },
	{ "router-solicitation", 133, 0, 0xFF },
	{ "router-advertisement", 134, 0, 0xFF },
	{ "neighbour-solicitation", 135, 0, 0xFF },
	{ "neighbor-solicitation", 135, 0, 0xFF },
	{ "neighbour-advertisement", 136, 0, 0xFF },
	{ "neighbor-advertisement", 136, 0, 0xFF },
	{ "redirect", 137, 0, 0xFF },
};

enum { NCODES = sizeof(icmp6_codes) / sizeof(icmp6_codes[0]) };

static int icmp6_parse(void *data, unsigned int id, char *const *args, bool inv,
		       struct ext_parse *pc)
{
	struct icmp6_info *ic = data;

	(void)id;
	ic->inv = inv;
	return ext_parse_icmp_type(icmp6_codes, NCODES, "ICMPv6", args[0], &ic->type, ic->code, pc);
}

static int icmp6_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!seen)
		return ext_fail(pc, "icmp6", "icmp6: option \"--icmpv6-type\" must be specified");
	return 0;
}

/* icmp6_match(), icmp6_type_code_match() */
static bool icmp6_match(void *data, struct ext_pkt *xp)
{
	const struct icmp6_info *ic = data;
	const struct pkt_hdr *h = xp->h;
	bool m;

	if (h->frag_off)
		return false;
	if (!(h->flags & PKT_F_L4)) {
		xp->hotdrop = true;
		return false;
	}
	m = h->icmp_type == ic->type && h->icmp_code >= ic->code[0] &&
	    h->icmp_code <= ic->code[1];
	return m != ic->inv;
}

static void icmp6_save(const void *data, struct sbuf *out)
{
	const struct icmp6_info *ic = data;

	if (ic->inv)
		sbuf_add(out, " !");
	sbuf_printf(out, " --icmpv6-type %u", ic->type);
	if (ic->code[0] != 0 || ic->code[1] != 0xFF)
		sbuf_printf(out, "/%u", ic->code[0]);
}

/* libip6t_icmp6 print(): the first name of the table for the type and code
 * range unless numeric, else "type T", " code C" or " codes A-B". */
static void icmp6_print(const void *data, const struct rule_ip *ip, bool numeric,
			struct sbuf *out)
{
	const struct icmp6_info *ic = data;

	(void)ip;
	ext_print_icmp_type(icmp6_codes, NCODES, "ipv6-icmp", ic->type, ic->code, ic->inv,
			    numeric, out);
}

const struct ext m_icmp6 = {
	.name = "icmp6",
	.size = sizeof(struct icmp6_info),
	.family = NF_V6,
	.proto = 58,
	.opts = icmp6_opts,
	.parse = icmp6_parse,
	.final = icmp6_final,
	.match = icmp6_match,
	.save = icmp6_save,
	.print = icmp6_print,
};
