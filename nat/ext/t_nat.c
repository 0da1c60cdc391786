/* SPDX-License-Identifier: MIT */
/*
 * t_nat — SNAT, DNAT, MASQUERADE and REDIRECT: fill ctx->nat and accept
 * (nat/ applies the mapping).  nat table only; SNAT in POSTROUTING and
 * INPUT, MASQUERADE in POSTROUTING, DNAT and REDIRECT in PREROUTING and
 * OUTPUT (and user chains reached only from those).
 *
 * --to-source/--to-destination [a[-b]][:p[-q]] (addresses as inet_pton
 * reads them, a reversed address range is kept), --to-ports p[-q]; ports
 * need -p tcp, udp, sctp, dccp or icmp (checked when the option is read,
 * as libxt_NAT does).  Saved in libxt_NAT's order: the range, then
 * --random, --random-fully, --persistent.
 *
 * IPv6 (ip6tables): [a[-b]]:p[-q] with the addresses in brackets when ports
 * follow; without brackets, one colon introduces ports and more make the
 * whole an address (libxt_NAT parse_to); saved bracketed only when ports
 * are printed.  The range's addresses are IPv6 wire bytes.
 */
#include <string.h>

#include "nat/ext.h"
#include "nat/sbuf.h"

enum { O_TO, O_RANDOM, O_RANDOM_FULLY, O_PERSISTENT };

struct nat_tg {
	struct nat_range range;   /* addresses of family (nat/pkt/addr.h) */
	uint8_t family;           /* NF_V4 or NF_V6 */
};

static const struct ext_opt snat_opts[] = {
	{ "to-source", O_TO, 1, 0 },
	{ "random", O_RANDOM, 0, 0 },
	{ "random-fully", O_RANDOM_FULLY, 0, 0 },
	{ "persistent", O_PERSISTENT, 0, 0 },
	{ NULL, 0, 0, 0 },
};

static const struct ext_opt dnat_opts[] = {
	{ "to-destination", O_TO, 1, 0 },
	{ "random", O_RANDOM, 0, 0 },
	{ "persistent", O_PERSISTENT, 0, 0 },
	{ NULL, 0, 0, 0 },
};

static const struct ext_opt masq_opts[] = {
	{ "to-ports", O_TO, 1, 0 },
	{ "random", O_RANDOM, 0, 0 },
	{ "random-fully", O_RANDOM_FULLY, 0, 0 },
	{ NULL, 0, 0, 0 },
};

static const struct ext_opt redirect_opts[] = {
	{ "to-ports", O_TO, 1, 0 },
	{ "random", O_RANDOM, 0, 0 },
	{ NULL, 0, 0, 0 },
};

static bool portok(const struct rule_ip *ip)
{
	return ip->proto == 6 || ip->proto == 17 || ip->proto == 132 || ip->proto == 33 ||
	       ip->proto == 1;
}

/* One port: a number (xtables_strtoui prefix) or, when names is set, a
 * service name (libxt_NAT looks up only the first port of a range). */
static int one_port(const char *s, const char **end, uint16_t *port, bool names)
{
	uint64_t v = 0;
	const char *p = s;
	int n;

	if (*p >= '0' && *p <= '9') {
		/* base 0 like strtoul: 0x.., 0.. */
		unsigned int base = 10;

		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
		    ((p[2] >= '0' && p[2] <= '9') || (p[2] >= 'a' && p[2] <= 'f') ||
		     (p[2] >= 'A' && p[2] <= 'F'))) {
			base = 16;
			p += 2;
		} else if (p[0] == '0') {
			base = 8;
		}
		for (;; p++) {
			unsigned int d;

			if (*p >= '0' && *p <= '9')
				d = (unsigned int)(*p - '0');
			else if (*p >= 'a' && *p <= 'f')
				d = (unsigned int)(*p - 'a' + 10);
			else if (*p >= 'A' && *p <= 'F')
				d = (unsigned int)(*p - 'A' + 10);
			else
				break;
			if (d >= base)
				break;
			v = v * base + d;
			if (v > 65535)
				return -1;
		}
		*port = (uint16_t)v;
		*end = p;
		return 0;
	}
	n = names ? ext_service_port(s, NULL) : -1;
	if (n < 0)
		return -1;
	*port = (uint16_t)n;
	*end = s + strlen(s);
	return 0;
}

/* libxt_NAT parse_ports() */
static int parse_ports(const char *arg, struct nat_range *r, struct ext_parse *pc)
{
	const char *end;

	if (!portok(pc->ip))
		return ext_fail(pc, arg, "Need TCP, UDP, SCTP or DCCP with port specification");
	r->flags |= NAT_F_PROTO_SPECIFIED;
	if (one_port(arg, &end, &r->min_port, true) < 0)
		return ext_fail(pc, arg, "Port \"%s\" not valid", arg);
	if (*end == '\0') {
		r->max_port = r->min_port;
		return 0;
	}
	if (*end == ':')
		return ext_fail(pc, arg, "Invalid port:port syntax - use dash");
	if (*end != '-')
		return ext_fail(pc, arg, "Garbage after port value: \"%s\"", end);
	arg = end + 1;
	if (one_port(arg, &end, &r->max_port, false) < 0)
		return ext_fail(pc, arg, "Port \"%s\" not valid", arg);
	if (*end != '\0')
		return ext_fail(pc, arg, "Garbage after port value: \"%s\"", end);
	if (r->max_port < r->min_port)
		return ext_fail(pc, arg, "Port range \"%s\" funky", arg);
	return 0;
}

/* libxt_NAT parse_to() */
static int parse_to(char *arg, struct nat_range *r, struct ext_parse *pc)
{
	char *colon = strchr(arg, ':'), *dash;
	int rc = 0;

	if (colon && strchr(colon + 1, ':'))
		return ext_fail(pc, arg, "Bad IP address \"%s\"", arg);
	if (colon) {
		if (parse_ports(colon + 1, r, pc) < 0)
			return -1;
		if (colon == arg)
			return 0;
		*colon = '\0';
	}
	r->flags |= NAT_F_MAP_IPS;
	dash = strchr(arg, '-');
	if (dash)
		*dash = '\0';
	if (!ext_parse_ipaddr_strict(arg, &r->min_addr.ip))
		rc = ext_fail(pc, arg, "Bad IP address \"%s\"", arg);
	else if (dash && !ext_parse_ipaddr_strict(dash + 1, &r->max_addr.ip))
		rc = ext_fail(pc, dash + 1, "Bad IP address \"%s\"", dash + 1);
	else if (!dash)
		r->max_addr = r->min_addr;
	if (dash)
		*dash = '-';
	if (colon)
		*colon = ':';
	return rc;
}

/* libxt_NAT parse_to() for AF_INET6 */
static int parse_to6(char *arg, struct nat_range *r, struct ext_parse *pc)
{
	char *start, *end = NULL, *colon, *dash;
	int rc = 0;

	start = strchr(arg, '[');
	if (!start) {
		start = arg;
		colon = strchr(arg, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
	} else {
		start++;
		end = strchr(start, ']');
		if (!end)
			return ext_fail(pc, arg, "Invalid address format");
		*end = '\0';
		colon = strchr(end + 1, ':');
	}
	if (colon) {
		if (parse_ports(colon + 1, r, pc) < 0) {
			if (end)
				*end = ']';
			return -1;
		}
		if (colon == arg || colon == arg + 2) {
			if (end)
				*end = ']';
			return 0;
		}
		*colon = '\0';
	}
	r->flags |= NAT_F_MAP_IPS;
	dash = strchr(start, '-');
	if (dash)
		*dash = '\0';
	if (!ext_parse_ip6addr(start, &r->min_addr))
		rc = ext_fail(pc, arg, "Bad IP address \"%s\"", start);
	else if (dash && !ext_parse_ip6addr(dash + 1, &r->max_addr))
		rc = ext_fail(pc, arg, "Bad IP address \"%s\"", dash + 1);
	else if (!dash)
		r->max_addr = r->min_addr;
	if (dash)
		*dash = '-';
	if (colon)
		*colon = ':';
	if (end)
		*end = ']';
	return rc;
}

static int nat_parse(void *data, unsigned int id, char *const *args, bool inv,
		     struct ext_parse *pc)
{
	struct nat_tg *n = data;

	(void)inv;
	n->family = pc->family;
	switch (id) {
	case O_TO:
		if (pc->family == NF_V6)
			return parse_to6(args[0], &n->range, pc);
		return parse_to(args[0], &n->range, pc);
	case O_RANDOM:
		n->range.flags |= NAT_F_RANDOM;
		return 0;
	case O_RANDOM_FULLY:
		n->range.flags |= NAT_F_RANDOM_FULLY;
		return 0;
	case O_PERSISTENT:
		n->range.flags |= NAT_F_PERSISTENT;
		return 0;
	}
	return -1;
}

static int ports_parse(void *data, unsigned int id, char *const *args, bool inv,
		       struct ext_parse *pc)
{
	struct nat_tg *n = data;

	if (id == O_TO)
		return parse_ports(args[0], &n->range, pc);
	return nat_parse(data, id, args, inv, pc);
}

static int snat_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!(seen & (1u << O_TO)))
		return ext_fail(pc, NULL, "SNAT: option \"--to-source\" must be specified");
	return 0;
}

static int dnat_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!(seen & (1u << O_TO)))
		return ext_fail(pc, NULL, "DNAT: option \"--to-destination\" must be specified");
	return 0;
}

static int fill(void *data, struct ext_pkt *xp, enum nat_kind kind)
{
	const struct nat_tg *n = data;

	xp->ctx->nat.kind = kind;
	xp->ctx->nat.range = n->range;
	return NF_ACCEPT;
}

static int snat_target(void *data, struct ext_pkt *xp)
{
	return fill(data, xp, NAT_SNAT);
}

static int dnat_target(void *data, struct ext_pkt *xp)
{
	return fill(data, xp, NAT_DNAT);
}

static int masq_target(void *data, struct ext_pkt *xp)
{
	return fill(data, xp, NAT_MASQUERADE);
}

static int redirect_target(void *data, struct ext_pkt *xp)
{
	return fill(data, xp, NAT_REDIRECT);
}

static void put_ports(struct sbuf *out, const struct nat_range *r)
{
	sbuf_printf(out, "%u", r->min_port);
	if (r->max_port != r->min_port)
		sbuf_printf(out, "-%u", r->max_port);
}

/* libxt_NAT print_range() */
static void put_to(struct sbuf *out, uint8_t family, const struct nat_range *r)
{
	bool brackets = family == NF_V6 && (r->flags & NAT_F_PROTO_SPECIFIED);

	if (r->flags & NAT_F_MAP_IPS) {
		if (brackets)
			sbuf_add(out, "[");
		ext_put_addr_fam(out, family, &r->min_addr);
		if (!nf_addr_eq(&r->max_addr, &r->min_addr)) {
			sbuf_add(out, "-");
			ext_put_addr_fam(out, family, &r->max_addr);
		}
		if (brackets)
			sbuf_add(out, "]");
	}
	if (r->flags & NAT_F_PROTO_SPECIFIED) {
		sbuf_add(out, ":");
		put_ports(out, r);
	}
}

static void put_range(struct sbuf *out, const char *opt, uint8_t family,
		      const struct nat_range *r)
{
	sbuf_printf(out, " %s ", opt);
	put_to(out, family, r);
}

static void put_flags(struct sbuf *out, uint8_t flags)
{
	if (flags & NAT_F_RANDOM)
		sbuf_add(out, " --random");
	if (flags & NAT_F_RANDOM_FULLY)
		sbuf_add(out, " --random-fully");
	if (flags & NAT_F_PERSISTENT)
		sbuf_add(out, " --persistent");
}

static void snat_save(const void *data, struct sbuf *out)
{
	const struct nat_tg *n = data;

	put_range(out, "--to-source", n->family, &n->range);
	put_flags(out, n->range.flags);
}

static void dnat_save(const void *data, struct sbuf *out)
{
	const struct nat_tg *n = data;

	put_range(out, "--to-destination", n->family, &n->range);
	put_flags(out, n->range.flags);
}

static void ports_save(const void *data, struct sbuf *out)
{
	const struct nat_tg *n = data;

	if (n->range.flags & NAT_F_PROTO_SPECIFIED) {
		sbuf_add(out, " --to-ports ");
		put_ports(out, &n->range);
	}
	put_flags(out, n->range.flags);
}

/* libxt_NAT / libxt_MASQUERADE / libxt_REDIRECT print(). */
static void print_flags(struct sbuf *out, uint8_t flags)
{
	if (flags & NAT_F_RANDOM)
		sbuf_add(out, " random");
	if (flags & NAT_F_RANDOM_FULLY)
		sbuf_add(out, " random-fully");
	if (flags & NAT_F_PERSISTENT)
		sbuf_add(out, " persistent");
}

static void nat_print(const void *data, const struct rule_ip *ip, bool numeric,
		      struct sbuf *out)
{
	const struct nat_tg *n = data;
	const struct nat_range *r = &n->range;

	(void)ip;
	(void)numeric;
	sbuf_add(out, " to:");
	put_to(out, n->family, r);
	print_flags(out, r->flags);
}

/* MASQUERADE and REDIRECT print only their ports, after label. */
static void ports_print(const struct nat_tg *n, const char *label, struct sbuf *out)
{
	if (n->range.flags & NAT_F_PROTO_SPECIFIED) {
		sbuf_add(out, label);
		put_ports(out, &n->range);
	}
	print_flags(out, n->range.flags);
}

static void masq_print(const void *data, const struct rule_ip *ip, bool numeric,
		       struct sbuf *out)
{
	(void)ip, (void)numeric;
	ports_print(data, " masq ports: ", out);
}

static void redirect_print(const void *data, const struct rule_ip *ip, bool numeric,
			   struct sbuf *out)
{
	(void)ip, (void)numeric;
	ports_print(data, " redir ports ", out);
}

const struct nat_range *ext_nat_range(const struct ext *target, const void *tdata)
{
	if (target != &t_snat && target != &t_dnat && target != &t_masquerade &&
	    target != &t_redirect)
		return NULL;
	return &((const struct nat_tg *)tdata)->range;
}

const struct ext t_snat = {
	.name = "SNAT",
	.size = sizeof(struct nat_tg),
	.tables = 1 << NF_NAT,
	.hooks = 1 << NF_POSTROUTING | 1 << NF_INPUT,
	.opts = snat_opts,
	.parse = nat_parse,
	.final = snat_final,
	.target = snat_target,
	.save = snat_save,
	.print = nat_print,
};

const struct ext t_dnat = {
	.name = "DNAT",
	.size = sizeof(struct nat_tg),
	.tables = 1 << NF_NAT,
	.hooks = 1 << NF_PREROUTING | 1 << NF_OUTPUT,
	.opts = dnat_opts,
	.parse = nat_parse,
	.final = dnat_final,
	.target = dnat_target,
	.save = dnat_save,
	.print = nat_print,
};

const struct ext t_masquerade = {
	.name = "MASQUERADE",
	.size = sizeof(struct nat_tg),
	.tables = 1 << NF_NAT,
	.hooks = 1 << NF_POSTROUTING,
	.opts = masq_opts,
	.parse = ports_parse,
	.target = masq_target,
	.save = ports_save,
	.print = masq_print,
};

const struct ext t_redirect = {
	.name = "REDIRECT",
	.size = sizeof(struct nat_tg),
	.tables = 1 << NF_NAT,
	.hooks = 1 << NF_PREROUTING | 1 << NF_OUTPUT,
	.opts = redirect_opts,
	.parse = ports_parse,
	.target = redirect_target,
	.save = ports_save,
	.print = redirect_print,
};
