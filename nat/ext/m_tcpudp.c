/* SPDX-License-Identifier: MIT */
/*
 * m_tcpudp — the tcp and udp matches (xt_tcpudp): port ranges, TCP flags
 * and a TCP option kind.
 *
 * Canonical form (libxt_tcp/libxt_udp save): "--sport a[:b]" "--dport
 * a[:b]" (a range 0:65535 is not printed), "--tcp-option N", "--tcp-flags
 * MASK COMP" with flags named in the order FIN,SYN,RST,PSH,ACK,URG (or
 * NONE); --syn is --tcp-flags FIN,SYN,RST,ACK SYN.  iptables-nft turns a
 * tcp/udp match without --tcp-option into native expressions and prints
 * all of them of one rule as one match (fold below); an inverted full
 * range or empty flag test prints as nothing there, so gw refuses those
 * rather than change their meaning on reload.
 */
#include <string.h>
#include <strings.h>

#include "nat/ext.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

enum { INV_SRCPT = 0x01, INV_DSTPT = 0x02, INV_FLAGS = 0x04, INV_OPTION = 0x08 };
enum { O_SPORT, O_DPORT, O_FLAGS, O_OPTION };

struct tcp_info {
	uint16_t spts[2], dpts[2];
	uint8_t option;
	uint8_t flg_mask, flg_cmp;
	uint8_t invflags;
};

struct udp_info {
	uint16_t spts[2], dpts[2];
	uint8_t invflags;
};

static const struct ext_opt tcp_opts[] = {
	{ "source-port", O_SPORT, 1, EXT_O_INV },
	{ "sport", O_SPORT, 1, EXT_O_INV },
	{ "destination-port", O_DPORT, 1, EXT_O_INV },
	{ "dport", O_DPORT, 1, EXT_O_INV },
	/* --syn and --tcp-flags share an id: only one of them per match */
	{ "syn", O_FLAGS, 0, EXT_O_INV },
	{ "tcp-flags", O_FLAGS, 2, EXT_O_INV },
	{ "tcp-option", O_OPTION, 1, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

static const struct ext_opt udp_opts[] = {
	{ "source-port", O_SPORT, 1, EXT_O_INV },
	{ "sport", O_SPORT, 1, EXT_O_INV },
	{ "destination-port", O_DPORT, 1, EXT_O_INV },
	{ "dport", O_DPORT, 1, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

static const struct {
	const char *name;
	uint8_t flag;
} tcp_flag_names[] = {
	{ "FIN", 0x01 }, { "SYN", 0x02 }, { "RST", 0x04 }, { "PSH", 0x08 },
	{ "ACK", 0x10 }, { "URG", 0x20 }, { "ALL", 0x3f }, { "NONE", 0 },
};

static void ports_init(uint16_t *spts, uint16_t *dpts)
{
	spts[0] = dpts[0] = 0;
	spts[1] = dpts[1] = 0xffff;
}

static void tcp_init(void *data)
{
	struct tcp_info *t = data;

	ports_init(t->spts, t->dpts);
}

static void udp_init(void *data)
{
	struct udp_info *u = data;

	ports_init(u->spts, u->dpts);
}

static int parse_ports(char *arg, const char *proto, uint16_t *pts, struct ext_parse *pc)
{
	const char *bad;

	if (ext_parse_port_range(arg, proto, &pts[0], &pts[1], &bad) < 0) {
		if (!bad)
			return ext_fail(pc, arg, "invalid portrange (min > max)");
		return ext_fail(pc, arg, "invalid port/service \"%s\" specified", bad);
	}
	return 0;
}

static int parse_udp_ports(char *arg, uint16_t *pts, struct ext_parse *pc)
{
	const char *bad;

	if (ext_parse_portrc(arg, &pts[0], &pts[1], &bad) < 0)
		return ext_fail(pc, arg, "Port \"%s\" does not resolve to anything", bad);
	return 0;
}

static int parse_flag_list(const char *arg, uint8_t *out, struct ext_parse *pc)
{
	char buf[128], *p, *comma;

	if (strlen(arg) >= sizeof(buf))
		return ext_fail(pc, arg, "Unknown TCP flag \"%s\"", arg);
	strcpy(buf, arg);
	*out = 0;
	for (p = buf;; p = comma + 1) {
		size_t i;

		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		for (i = 0; i < sizeof(tcp_flag_names) / sizeof(tcp_flag_names[0]); i++)
			if (strcasecmp(tcp_flag_names[i].name, p) == 0)
				break;
		if (i == sizeof(tcp_flag_names) / sizeof(tcp_flag_names[0]))
			return ext_fail(pc, arg, "Unknown TCP flag \"%s\"", p);
		*out |= tcp_flag_names[i].flag;
		if (!comma)
			return 0;
	}
}

static int tcp_parse(void *data, unsigned int id, char *const *args, bool inv,
		     struct ext_parse *pc)
{
	struct tcp_info *t = data;
	uint32_t v;

	switch (id) {
	case O_SPORT:
		if (inv)
			t->invflags |= INV_SRCPT;
		return parse_ports(args[0], "tcp", t->spts, pc);
	case O_DPORT:
		if (inv)
			t->invflags |= INV_DSTPT;
		return parse_ports(args[0], "tcp", t->dpts, pc);
	case O_FLAGS:
		if (inv)
			t->invflags |= INV_FLAGS;
		if (!args[0]) {  /* --syn */
			t->flg_mask = 0x17;  /* FIN,SYN,RST,ACK */
			t->flg_cmp = 0x02;
			return 0;
		}
		if (parse_flag_list(args[0], &t->flg_mask, pc) < 0 ||
		    parse_flag_list(args[1], &t->flg_cmp, pc) < 0)
			return -1;
		return 0;
	case O_OPTION:
		if (!ext_strtou32(args[0], 255, &v) || v == 0)
			return ext_fail(pc, args[0], "Bad TCP option \"%s\"", args[0]);
		t->option = (uint8_t)v;
		if (inv)
			t->invflags |= INV_OPTION;
		return 0;
	}
	return -1;
}

static int udp_parse(void *data, unsigned int id, char *const *args, bool inv,
		     struct ext_parse *pc)
{
	struct udp_info *u = data;

	if (id == O_SPORT) {
		if (inv)
			u->invflags |= INV_SRCPT;
		return parse_udp_ports(args[0], u->spts, pc);
	}
	if (inv)
		u->invflags |= INV_DSTPT;
	return parse_udp_ports(args[0], u->dpts, pc);
}

static bool full(const uint16_t *pts)
{
	return pts[0] == 0 && pts[1] == 0xffff;
}

static int ports_final(const uint16_t *spts, const uint16_t *dpts, uint8_t inv,
		       struct ext_parse *pc)
{
	if ((inv & INV_SRCPT) && full(spts))
		return ext_fail(pc, "--sport", "\"! --sport 0:65535\" never matches");
	if ((inv & INV_DSTPT) && full(dpts))
		return ext_fail(pc, "--dport", "\"! --dport 0:65535\" never matches");
	return 0;
}

static int tcp_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	const struct tcp_info *t = data;

	(void)seen;
	if ((t->invflags & INV_FLAGS) && !t->flg_mask && !t->flg_cmp)
		return ext_fail(pc, "--tcp-flags", "\"! --tcp-flags NONE NONE\" never matches");
	return ports_final(t->spts, t->dpts, t->invflags, pc);
}

static int udp_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	const struct udp_info *u = data;

	(void)seen;
	return ports_final(u->spts, u->dpts, u->invflags, pc);
}

static inline bool port_in(const uint16_t *pts, uint16_t port, bool inv)
{
	return (port >= pts[0] && port <= pts[1]) != inv;
}

/* tcp_find_option() */
static bool has_option(const struct pkt_hdr *h, const uint8_t *data, uint8_t kind)
{
	const uint8_t *op = data + h->l4 + 20;
	unsigned int len = h->l4_hlen > 20 ? h->l4_hlen - 20u : 0, i = 0;

	while (i < len) {
		if (op[i] == kind)
			return true;
		if (op[i] < 2 || i + 1 >= len)
			i++;
		else
			i += op[i + 1] ? op[i + 1] : 1;
	}
	return false;
}

static bool tcp_match(void *data, struct ext_pkt *xp)
{
	const struct tcp_info *t = data;
	const struct pkt_hdr *h = xp->h;

	if (h->frag_off) {
		if (h->frag_off == 8)  /* an 8-byte offset rewrites the flags */
			xp->hotdrop = true;
		return false;
	}
	if (!(h->flags & PKT_F_L4)) {
		xp->hotdrop = true;
		return false;
	}
	if (!port_in(t->spts, h->sport, t->invflags & INV_SRCPT) ||
	    !port_in(t->dpts, h->dport, t->invflags & INV_DSTPT))
		return false;
	if (((h->tcp_flags & t->flg_mask) == t->flg_cmp) == !!(t->invflags & INV_FLAGS))
		return false;
	if (t->option &&
	    has_option(h, xp->ctx->pkt->data, t->option) == !!(t->invflags & INV_OPTION))
		return false;
	return true;
}

static bool udp_match(void *data, struct ext_pkt *xp)
{
	const struct udp_info *u = data;
	const struct pkt_hdr *h = xp->h;

	if (h->frag_off)
		return false;
	if (!(h->flags & PKT_F_L4)) {
		xp->hotdrop = true;
		return false;
	}
	return port_in(u->spts, h->sport, u->invflags & INV_SRCPT) &&
	       port_in(u->dpts, h->dport, u->invflags & INV_DSTPT);
}

static void save_ports(struct sbuf *out, const char *name, const uint16_t *pts, bool inv)
{
	if (full(pts) && !inv)
		return;
	if (inv)
		sbuf_add(out, " !");
	if (pts[0] != pts[1])
		sbuf_printf(out, " --%s %u:%u", name, pts[0], pts[1]);
	else
		sbuf_printf(out, " --%s %u", name, pts[0]);
}

static void save_flags(struct sbuf *out, uint8_t flags)
{
	bool any = false;

	while (flags) {
		size_t i = 0;

		while (!(flags & tcp_flag_names[i].flag))
			i++;
		sbuf_printf(out, "%s%s", any ? "," : "", tcp_flag_names[i].name);
		any = true;
		flags &= (uint8_t)~tcp_flag_names[i].flag;
	}
	if (!any)
		sbuf_add(out, "NONE");
}

static void tcp_save(const void *data, struct sbuf *out)
{
	const struct tcp_info *t = data;

	save_ports(out, "sport", t->spts, t->invflags & INV_SRCPT);
	save_ports(out, "dport", t->dpts, t->invflags & INV_DSTPT);
	if (t->option || (t->invflags & INV_OPTION))
		sbuf_printf(out, "%s --tcp-option %u", t->invflags & INV_OPTION ? " !" : "",
			    t->option);
	if (t->flg_mask || (t->invflags & INV_FLAGS)) {
		sbuf_printf(out, "%s --tcp-flags ", t->invflags & INV_FLAGS ? " !" : "");
		save_flags(out, t->flg_mask);
		sbuf_add(out, " ");
		save_flags(out, t->flg_cmp);
	}
}

static void udp_save(const void *data, struct sbuf *out)
{
	const struct udp_info *u = data;

	save_ports(out, "sport", u->spts, u->invflags & INV_SRCPT);
	save_ports(out, "dport", u->dpts, u->invflags & INV_DSTPT);
}

/* libxt_tcp/libxt_udp print(): "spt:N", "spts:A:B", "!" after the colon;
 * service names unless numeric. */
static void print_port(struct sbuf *out, uint16_t port, const char *proto, bool numeric)
{
	const char *name = numeric ? NULL : ext_port_name(port, proto);

	if (name)
		sbuf_add(out, name);
	else
		sbuf_printf(out, "%u", port);
}

static void print_ports(struct sbuf *out, const char *name, const uint16_t *pts, bool inv,
			const char *proto, bool numeric)
{
	if (full(pts) && !inv)
		return;
	sbuf_printf(out, " %s%s:%s", name, pts[0] == pts[1] ? "" : "s", inv ? "!" : "");
	print_port(out, pts[0], proto, numeric);
	if (pts[0] != pts[1]) {
		sbuf_add(out, ":");
		print_port(out, pts[1], proto, numeric);
	}
}

static void tcp_print(const void *data, const struct rule_ip *ip, bool numeric,
		      struct sbuf *out)
{
	const struct tcp_info *t = data;

	(void)ip;
	sbuf_add(out, " tcp");
	print_ports(out, "spt", t->spts, t->invflags & INV_SRCPT, "tcp", numeric);
	print_ports(out, "dpt", t->dpts, t->invflags & INV_DSTPT, "tcp", numeric);
	if (t->option || (t->invflags & INV_OPTION))
		sbuf_printf(out, " option=%s%u", t->invflags & INV_OPTION ? "!" : "", t->option);
	if (t->flg_mask || (t->invflags & INV_FLAGS)) {
		sbuf_printf(out, " flags:%s", t->invflags & INV_FLAGS ? "!" : "");
		if (numeric) {
			sbuf_printf(out, "0x%02X/0x%02X", t->flg_mask, t->flg_cmp);
		} else {
			save_flags(out, t->flg_mask);
			sbuf_add(out, "/");
			save_flags(out, t->flg_cmp);
		}
	}
}

static void udp_print(const void *data, const struct rule_ip *ip, bool numeric,
		      struct sbuf *out)
{
	const struct udp_info *u = data;

	(void)ip;
	sbuf_add(out, " udp");
	print_ports(out, "spt", u->spts, u->invflags & INV_SRCPT, "udp", numeric);
	print_ports(out, "dpt", u->dpts, u->invflags & INV_DSTPT, "udp", numeric);
}

/* Which of sport (1), dport (2), flags (4) a native match sets; 0 when the
 * match is not native (an option test, or nothing at all). */
static unsigned int tcp_fields(const struct tcp_info *t)
{
	unsigned int f = 0;

	if (t->option || (t->invflags & INV_OPTION))
		return 0;
	if (!full(t->spts) || (t->invflags & INV_SRCPT))
		f |= 1;
	if (!full(t->dpts) || (t->invflags & INV_DSTPT))
		f |= 2;
	if (t->flg_mask || (t->invflags & INV_FLAGS))
		f |= 4;
	return f;
}

static int tcp_fold(void *into, const void *from)
{
	struct tcp_info *a = into;
	const struct tcp_info *b = from;
	unsigned int fa = tcp_fields(a), fb = tcp_fields(b);

	if (!fa || !fb)
		return 0;
	if (fa & fb)
		return -1;
	if (fb & 1) {
		memcpy(a->spts, b->spts, sizeof(a->spts));
		a->invflags |= b->invflags & INV_SRCPT;
	}
	if (fb & 2) {
		memcpy(a->dpts, b->dpts, sizeof(a->dpts));
		a->invflags |= b->invflags & INV_DSTPT;
	}
	if (fb & 4) {
		a->flg_mask = b->flg_mask;
		a->flg_cmp = b->flg_cmp;
		a->invflags |= b->invflags & INV_FLAGS;
	}
	return 1;
}

static unsigned int udp_fields(const struct udp_info *u)
{
	unsigned int f = 0;

	if (!full(u->spts) || (u->invflags & INV_SRCPT))
		f |= 1;
	if (!full(u->dpts) || (u->invflags & INV_DSTPT))
		f |= 2;
	return f;
}

static int udp_fold(void *into, const void *from)
{
	struct udp_info *a = into;
	const struct udp_info *b = from;
	unsigned int fa = udp_fields(a), fb = udp_fields(b);

	if (!fa || !fb)
		return 0;
	if (fa & fb)
		return -1;
	if (fb & 1) {
		memcpy(a->spts, b->spts, sizeof(a->spts));
		a->invflags |= b->invflags & INV_SRCPT;
	}
	if (fb & 2) {
		memcpy(a->dpts, b->dpts, sizeof(a->dpts));
		a->invflags |= b->invflags & INV_DSTPT;
	}
	return 1;
}

static int tcp_dports(const void *data, uint16_t *lo, uint16_t *hi, bool *inv)
{
	const struct tcp_info *t = data;

	lo[0] = t->dpts[0];
	hi[0] = t->dpts[1];
	*inv = t->invflags & INV_DSTPT;
	return 1;
}

static int udp_dports(const void *data, uint16_t *lo, uint16_t *hi, bool *inv)
{
	const struct udp_info *u = data;

	lo[0] = u->dpts[0];
	hi[0] = u->dpts[1];
	*inv = u->invflags & INV_DSTPT;
	return 1;
}

const struct ext m_tcp = {
	.name = "tcp",
	.size = sizeof(struct tcp_info),
	.proto = 6,
	.opts = tcp_opts,
	.init = tcp_init,
	.parse = tcp_parse,
	.final = tcp_final,
	.match = tcp_match,
	.save = tcp_save,
	.print = tcp_print,
	.fold = tcp_fold,
	.dports = tcp_dports,
};

const struct ext m_udp = {
	.name = "udp",
	.size = sizeof(struct udp_info),
	.proto = 17,
	.opts = udp_opts,
	.init = udp_init,
	.parse = udp_parse,
	.final = udp_final,
	.match = udp_match,
	.save = udp_save,
	.print = udp_print,
	.fold = udp_fold,
	.dports = udp_dports,
};
