/* SPDX-License-Identifier: MIT */
/*
 * t_reject — the REJECT target: drop, and ask for the answer named by
 * --reject-with in ctx->reject (nat/ builds it).  filter table only, in
 * INPUT, FORWARD and OUTPUT (and user chains reached from them);
 * tcp-reset needs -p tcp.  --reject-with takes a case-insensitive prefix
 * of a name or its alias; the first in libipt_REJECT's order wins.
 * Saved with its full name, the default icmp-port-unreachable included.
 * IPv6 (ip6tables, libip6t_REJECT): the icmp6-* names (no-route,
 * adm-prohibited, addr-unreachable, port-unreachable, policy-fail,
 * reject-route) and tcp-reset, default icmp6-port-unreachable.
 */
#include <string.h>
#include <strings.h>

#include "nat/ext.h"
#include "nat/sbuf.h"

struct reject_info {
	uint8_t with;   /* enum reject_with */
};

static const struct ext_opt reject_opts[] = {
	{ "reject-with", 0, 1, 0 },
	{ NULL, 0, 0, 0 },
};

/* libipt_REJECT's table order; echo-reply is recognised, then refused. */
static const struct {
	const char *name, *alias;
	uint8_t with;
} reject_table[] = {
	{ "icmp-net-unreachable", "net-unreach", REJECT_ICMP_NET_UNREACH },
	{ "icmp-host-unreachable", "host-unreach", REJECT_ICMP_HOST_UNREACH },
	{ "icmp-proto-unreachable", "proto-unreach", REJECT_ICMP_PROTO_UNREACH },
	{ "icmp-port-unreachable", "port-unreach", REJECT_ICMP_PORT_UNREACH },
	{ "echo-reply", "echoreply", REJECT_NONE },
	{ "icmp-net-prohibited", "net-prohib", REJECT_ICMP_NET_PROHIBITED },
	{ "icmp-host-prohibited", "host-prohib", REJECT_ICMP_HOST_PROHIBITED },
	{ "tcp-reset", "tcp-rst", REJECT_TCP_RESET },
	{ "icmp-admin-prohibited", "admin-prohib", REJECT_ICMP_ADMIN_PROHIBITED },
};

/* libip6t_REJECT's (not-neighbour and echo-reply have no names) */
static const struct {
	const char *name, *alias;
	uint8_t with;
} reject6_table[] = {
	{ "icmp6-no-route", "no-route", REJECT_ICMP6_NO_ROUTE },
	{ "icmp6-adm-prohibited", "adm-prohibited", REJECT_ICMP6_ADM_PROHIBITED },
	{ "icmp6-addr-unreachable", "addr-unreach", REJECT_ICMP6_ADDR_UNREACH },
	{ "icmp6-port-unreachable", "port-unreach", REJECT_ICMP6_PORT_UNREACH },
	{ "tcp-reset", "tcp-reset", REJECT_TCP_RESET },
	{ "icmp6-policy-fail", "policy-fail", REJECT_ICMP6_POLICY_FAIL },
	{ "icmp6-reject-route", "reject-route", REJECT_ICMP6_REJECT_ROUTE },
};

enum {
	NREJECT = sizeof(reject_table) / sizeof(reject_table[0]),
	NREJECT6 = sizeof(reject6_table) / sizeof(reject6_table[0]),
};

/* The default; the family's is set by the first parse or final. */
static void reject_init(void *data)
{
	struct reject_info *r = data;

	r->with = REJECT_NONE;
}

static const char *with_name(uint8_t with)
{
	for (size_t i = 0; i < NREJECT; i++)
		if (reject_table[i].with == with)
			return reject_table[i].name;
	for (size_t i = 0; i < NREJECT6; i++)
		if (reject6_table[i].with == with)
			return reject6_table[i].name;
	return "?";
}

static int reject_parse(void *data, unsigned int id, char *const *args, bool inv,
			struct ext_parse *pc)
{
	struct reject_info *r = data;
	size_t n = strlen(args[0]);

	(void)id;
	(void)inv;
	if (pc->family == NF_V6) {
		for (size_t i = 0; i < NREJECT6; i++)
			if (strncasecmp(reject6_table[i].name, args[0], n) == 0 ||
			    strncasecmp(reject6_table[i].alias, args[0], n) == 0) {
				r->with = reject6_table[i].with;
				return 0;
			}
		return ext_fail(pc, args[0], "unknown reject type \"%s\"", args[0]);
	}
	for (size_t i = 0; i < NREJECT; i++) {
		if (strncasecmp(reject_table[i].name, args[0], n) != 0 &&
		    strncasecmp(reject_table[i].alias, args[0], n) != 0)
			continue;
		if (reject_table[i].with == REJECT_NONE)
			return ext_fail(pc, args[0], "--reject-with echo-reply no longer supported");
		r->with = reject_table[i].with;
		return 0;
	}
	return ext_fail(pc, args[0], "unknown reject type \"%s\"", args[0]);
}

static int reject_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	struct reject_info *r = data;

	(void)seen;
	if (r->with == REJECT_NONE)
		r->with = pc->family == NF_V6 ? REJECT_ICMP6_PORT_UNREACH : REJECT_ICMP_PORT_UNREACH;
	if (r->with == REJECT_TCP_RESET &&
	    (pc->ip->proto != 6 || (pc->ip->invflags & IPINV_PROTO)))
		return ext_fail(pc, "tcp-reset", "REJECT --reject-with tcp-reset needs \"-p tcp\"");
	return 0;
}

static int reject_target(void *data, struct ext_pkt *xp)
{
	const struct reject_info *r = data;

	xp->ctx->reject = (enum reject_with)r->with;
	return NF_REJECT;
}

static void reject_save(const void *data, struct sbuf *out)
{
	const struct reject_info *r = data;

	sbuf_printf(out, " --reject-with %s", with_name(r->with));
}

static void reject_print(const void *data, const struct rule_ip *ip, bool numeric,
			 struct sbuf *out)
{
	const struct reject_info *r = data;

	(void)ip;
	(void)numeric;
	sbuf_printf(out, " reject-with %s", with_name(r->with));
}

const struct ext t_reject = {
	.name = "REJECT",
	.size = sizeof(struct reject_info),
	.tables = 1 << NF_FILTER,
	.hooks = 1 << NF_INPUT | 1 << NF_FORWARD | 1 << NF_OUTPUT,
	.opts = reject_opts,
	.init = reject_init,
	.parse = reject_parse,
	.final = reject_final,
	.target = reject_target,
	.save = reject_save,
	.print = reject_print,
};
