/* SPDX-License-Identifier: MIT */
/*
 * m_icmp — the icmp match (ipt_icmp): a type and a code range.
 *
 * --icmp-type takes a name (any unambiguous case-insensitive prefix of
 * libipt_icmp's table, "echo" alone is ambiguous) or TYPE[/CODE].  A type
 * without a code matches codes 0-255.  iptables-save prints numbers only:
 * "TYPE" for the full code range, "TYPE/CODE" otherwise, and "any" for
 * type 255 (which matches every ICMP packet).
 */
#include <string.h>
#include <strings.h>

#include "nat/ext.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

struct icmp_info {
	uint8_t type;
	uint8_t code[2];
	uint8_t inv;
};

static const struct ext_opt icmp_opts[] = {
	{ "icmp-type", 0, 1, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

static const struct ext_icmp_name icmp_codes[] = {
	{ "any", 0xFF, 0, 0xFF },
	{ "echo-reply", 0, 0, 0xFF },
	{ "pong", 0, 0, 0xFF },
	{ "destination-unreachable", 3, 0, 0xFF },
	{ "network-unreachable", 3, 0, 0 },
	{ "host-unreachable", 3, 1, 1 },
	{ "protocol-unreachable", 3, 2, 2 },
	{ "port-unreachable", 3, 3, 3 },
	{ "fragmentation-needed", 3, 4, 4 },
	{ "source-route-failed", 3, 5, 5 },
	{ "network-unknown", 3, 6, 6 },
	{ "host-unknown", 3, 7, 7 },
	{ "network-prohibited", 3, 9, 9 },
	{ "host-prohibited", 3, 10, 10 },
	{ "TOS-network-unreachable", 3, 11, 11 },
	{ "TOS-host-unreachable", 3, 12, 12 },
	{ "communication-prohibited", 3, 13, 13 },
	{ "host-precedence-violation", 3, 14, 14 },
	{ "precedence-cutoff", 3, 15, 15 },
	{ "source-quench", 4, 0, 0xFF },
	{ "redirect", 5, 0, 0xFF },
	{ "network-redirect", 5, 0, 0 },
	{ "host-redirect", 5, 1, 1 },
	{ "TOS-network-redirect", 5, 2, 2 },
	{ "TOS-host-redirect", 5, 3, 3 },
	{ "echo-request", 8, 0, 0xFF },
	{ "ping", 8, 0, 0xFF },
	{ "router-advertisement", 9, 0, 0xFF },
	{ "router-solicitation", 10, 0, 0xFF },
	{ "time-exceeded", 11, 0, 0xFF },
	{ "ttl-exceeded", 11, 0, 0xFF },
	{ "ttl-zero-during-transit", 11, 0, 0 },
	{ "ttl-zero-during-reassembly", 11, 1, 1 },
	{ "parameter-problem", 12, 0, 0xFF },
	{ "ip-header-bad", 12, 0, 0 },
	{ "required-option-missing", 12, 1, 1 },
	{ "timestamp-request", 13, 0, 0xFF },
	{ "timestamp-reply", 14, 0, 0xFF },
	{ "address-mask-request", 17, 0, 0xFF },
	{ "address-mask-reply", 18, 0, 0xFF },
};

enum { NCODES = sizeof(icmp_codes) / sizeof(icmp_codes[0]) };

static int icmp_parse(void *data, unsigned int id, char *const *args, bool inv,
		      struct ext_parse *pc)
{
	struct icmp_info *ic = data;

	(void)id;
	ic->inv = inv;
	return ext_parse_icmp_type(icmp_codes, NCODES, "ICMP", args[0], &ic->type, ic->code, pc);
}

static int icmp_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!seen)
		return ext_fail(pc, "icmp", "icmp: option \"--icmp-type\" must be specified");
	return 0;
}

/* icmp_type_code_match() */
static bool icmp_match(void *data, struct ext_pkt *xp)
{
	const struct icmp_info *ic = data;
	const struct pkt_hdr *h = xp->h;
	bool m;

	if (h->frag_off)
		return false;
	if (!(h->flags & PKT_F_L4)) {
		xp->hotdrop = true;
		return false;
	}
	m = ic->type == 0xFF ||
	    (h->icmp_type == ic->type && h->icmp_code >= ic->code[0] &&
	     h->icmp_code <= ic->code[1]);
	return m != ic->inv;
}

static void icmp_save(const void *data, struct sbuf *out)
{
	const struct icmp_info *ic = data;

	if (ic->inv)
		sbuf_add(out, " !");
	if (ic->type == 0xFF) {
		sbuf_add(out, " --icmp-type any");
		return;
	}
	sbuf_printf(out, " --icmp-type %u", ic->type);
	if (ic->code[0] != 0 || ic->code[1] != 0xFF)
		sbuf_printf(out, "/%u", ic->code[0]);
}

/* libipt_icmp print(): the first name of the table for the type and code
 * range unless numeric, else "type T", " code C" or " codes A-B". */
static void icmp_print(const void *data, const struct rule_ip *ip, bool numeric,
		       struct sbuf *out)
{
	const struct icmp_info *ic = data;

	(void)ip;
	ext_print_icmp_type(icmp_codes, NCODES, "icmp", ic->type, ic->code, ic->inv,
			    numeric, out);
}

const struct ext m_icmp = {
	.name = "icmp",
	.size = sizeof(struct icmp_info),
	.family = NF_V4,
	.proto = 1,
	.opts = icmp_opts,
	.parse = icmp_parse,
	.final = icmp_final,
	.match = icmp_match,
	.save = icmp_save,
	.print = icmp_print,
};
