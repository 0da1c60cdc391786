/* SPDX-License-Identifier: MIT */
/*
 * m_multiport — the multiport match, revision 1: up to 15 ports, a range
 * a:b (a < b) counting as two, on the source, destination or either port.
 *
 * Needs -p tcp, udp, udplite, sctp or dccp (not inverted).  Names resolve
 * as services of that protocol.  Saved as "--sports", "--dports" or
 * "--ports" followed by the list as given, ports numeric.
 */
#include <string.h>

#include "nat/ext.h"
#include "nat/pkt/be.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

enum { MP_MAX = 15 };
enum { MP_SRC, MP_DST, MP_ANY };

struct mp_info {
	uint8_t flags;              /* MP_* */
	uint8_t count;
	uint8_t invert;
	uint8_t pflags[MP_MAX];     /* ports[i] starts a range ending at ports[i+1] */
	uint16_t ports[MP_MAX];
};

static const struct ext_opt mp_opts[] = {
	{ "source-ports", MP_SRC, 1, EXT_O_INV },
	{ "sports", MP_SRC, 1, EXT_O_INV },
	{ "destination-ports", MP_DST, 1, EXT_O_INV },
	{ "dports", MP_DST, 1, EXT_O_INV },
	{ "ports", MP_ANY, 1, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

static bool proto_ok(uint8_t p)
{
	return p == 6 || p == 17 || p == 136 || p == 132 || p == 33;
}

static int mp_parse(void *data, unsigned int id, char *const *args, bool inv,
		    struct ext_parse *pc)
{
	struct mp_info *mp = data;
	const char *proto;
	char buf[256], *p, *comma;
	unsigned int i = 0;

	if (mp->count)
		return ext_fail(pc, args[0],
				"multiport: only one of --sports, --dports, --ports");
	if (!pc->ip->proto)
		return ext_fail(pc, args[0],
				"multiport needs \"-p tcp\", \"-p udp\", \"-p udplite\", \"-p sctp\" or \"-p dccp\"");
	if (!proto_ok(pc->ip->proto) || (pc->ip->invflags & IPINV_PROTO))
		return ext_fail(pc, args[0],
				"multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP");
	proto = ext_proto_service(pc->ip->proto);
	if (strlen(args[0]) >= sizeof(buf))
		return ext_fail(pc, args[0], "too many ports specified");
	strcpy(buf, args[0]);
	for (p = buf;; p = comma + 1) {
		char *colon;
		int a, b;

		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (i >= MP_MAX)
			return ext_fail(pc, args[0], "too many ports specified");
		colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		a = ext_parse_port(p, proto);
		if (a < 0)
			return ext_fail(pc, args[0], "invalid port/service \"%s\" specified", p);
		mp->ports[i] = (uint16_t)a;
		if (colon) {
			if (i + 1 >= MP_MAX)
				return ext_fail(pc, args[0], "too many ports specified");
			b = ext_parse_port(colon + 1, proto);
			if (b < 0)
				return ext_fail(pc, args[0], "invalid port/service \"%s\" specified",
						colon + 1);
			if (a >= b)
				return ext_fail(pc, args[0], "invalid portrange specified");
			mp->pflags[i] = 1;
			mp->ports[++i] = (uint16_t)b;
		}
		i++;
		if (!comma)
			break;
	}
	mp->count = (uint8_t)i;
	mp->flags = (uint8_t)id;
	mp->invert = inv;
	return 0;
}

static int mp_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!seen)
		return ext_fail(pc, "multiport", "multiport expects an option");
	return 0;
}

/* Ports of TCP/UDP from the view; of SCTP/DCCP/UDP-Lite from the first
 * four L4 bytes. */
static bool get_ports(const struct ext_pkt *xp, uint16_t *sp, uint16_t *dp)
{
	const struct pkt_hdr *h = xp->h;

	if (h->flags & PKT_F_PORTS) {
		*sp = h->sport;
		*dp = h->dport;
		return true;
	}
	if (h->proto == 6 || h->proto == 17 || h->end < h->l4 + 4)
		return false;
	*sp = be16_get(xp->ctx->pkt->data + h->l4);
	*dp = be16_get(xp->ctx->pkt->data + h->l4 + 2);
	return true;
}

/* ports_match_v1() */
static bool mp_match(void *data, struct ext_pkt *xp)
{
	const struct mp_info *mp = data;
	uint16_t src, dst;

	if (xp->h->frag_off)
		return false;
	if (!get_ports(xp, &src, &dst)) {
		xp->hotdrop = true;
		return false;
	}
	for (unsigned int i = 0; i < mp->count; i++) {
		uint16_t s = mp->ports[i], e = s;

		if (mp->pflags[i])
			e = mp->ports[++i];
		switch (mp->flags) {
		case MP_SRC:
			if (src >= s && src <= e)
				return !mp->invert;
			break;
		case MP_DST:
			if (dst >= s && dst <= e)
				return !mp->invert;
			break;
		default:
			if ((src >= s && src <= e) || (dst >= s && dst <= e))
				return !mp->invert;
			break;
		}
	}
	return mp->invert;
}

static void mp_save(const void *data, struct sbuf *out)
{
	static const char *const names[] = { " --sports ", " --dports ", " --ports " };
	const struct mp_info *mp = data;

	if (mp->invert)
		sbuf_add(out, " !");
	sbuf_add(out, names[mp->flags]);
	for (unsigned int i = 0; i < mp->count; i++) {
		sbuf_printf(out, "%s%u", i ? "," : "", mp->ports[i]);
		if (mp->pflags[i])
			sbuf_printf(out, ":%u", mp->ports[++i]);
	}
}

/* libxt_multiport print() (revision 1): service names of the rule's
 * protocol unless numeric. */
static void print_port(struct sbuf *out, uint16_t port, const struct rule_ip *ip, bool numeric)
{
	const char *name = numeric ? NULL : ext_port_name(port, ext_proto_name(ip->proto));

	if (name)
		sbuf_add(out, name);
	else
		sbuf_printf(out, "%u", port);
}

static void mp_print(const void *data, const struct rule_ip *ip, bool numeric,
		     struct sbuf *out)
{
	static const char *const names[] = { "sports ", "dports ", "ports " };
	const struct mp_info *mp = data;

	sbuf_printf(out, " multiport %s", names[mp->flags]);
	if (mp->invert)
		sbuf_add(out, " !");
	for (unsigned int i = 0; i < mp->count; i++) {
		if (i)
			sbuf_add(out, ",");
		print_port(out, mp->ports[i], ip, numeric);
		if (mp->pflags[i]) {
			sbuf_add(out, ":");
			print_port(out, mp->ports[++i], ip, numeric);
		}
	}
}

/* Only --dports restricts the destination port (--ports also takes a
 * matching source port with any destination). */
static int mp_dports(const void *data, uint16_t *lo, uint16_t *hi, bool *inv)
{
	const struct mp_info *mp = data;
	int n = 0;

	if (mp->flags != MP_DST)
		return -1;
	for (unsigned int i = 0; i < mp->count && n < EXT_DPORTS_MAX; i++, n++) {
		lo[n] = hi[n] = mp->ports[i];
		if (mp->pflags[i])
			hi[n] = mp->ports[++i];
	}
	*inv = mp->invert;
	return n;
}

const struct ext m_multiport = {
	.name = "multiport",
	.size = sizeof(struct mp_info),
	.opts = mp_opts,
	.parse = mp_parse,
	.final = mp_final,
	.match = mp_match,
	.save = mp_save,
	.print = mp_print,
	.dports = mp_dports,
};
