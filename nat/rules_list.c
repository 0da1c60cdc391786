/* SPDX-License-Identifier: MIT */
/*
 * rules_list — a table as Debian 12's iptables -L prints it (1.8.9,
 * nf_tables: print_header, print_rule_details, print_ifaces,
 * print_ipv4_addresses, then each match's and the target's print()):
 *
 *  - chains in save order, one blank line between them; a built-in chain's
 *    header has its policy (and, with -v, the policy counters), a user
 *    chain's the number of rules that jump or go to it;
 *  - columns as iptables pads them, counters as xtables_print_num (K, M,
 *    G, T by thousands, rounded, unless -x); a field wider than its column
 *    pushes the rest of the line right;
 *  - with -n the protocol is a number ("0" for any), without it "all" or
 *    the /etc/protocols name; "*" or "any" for no interface; "anywhere"
 *    for a /0 address without -n;
 *  - "[goto] " before the matches of a -g rule; NOTRACK's column reads "CT"
 *    (libxt_CT's alias).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nat/rules_int.h"
#include "nat/sbuf.h"

/* Port -> the name getservbyport() returns for tcp and udp on Debian 12
 * (netbase 6.4 /etc/services: the first entry for the port and protocol),
 * generated with Python's socket.getservbyport over 0..65535.  Only
 * iptables -L uses it; it belongs with rules_names.c's tables. */
static const struct port_name {
	uint16_t port;
	const char *tcp, *udp;
} port_names[] = {
	{ 1, "tcpmux", NULL },
	{ 7, "echo", "echo" },
	{ 9, "discard", "discard" },
	{ 11, "systat", NULL },
	{ 13, "daytime", "daytime" },
	{ 15, "netstat", NULL },
	{ 17, "qotd", NULL },
	{ 19, "chargen", "chargen" },
	{ 20, "ftp-data", NULL },
	{ 21, "ftp", "fsp" },
	{ 22, "ssh", NULL },
	{ 23, "telnet", NULL },
	{ 25, "smtp", NULL },
	{ 37, "time", "time" },
	{ 43, "whois", NULL },
	{ 49, "tacacs", "tacacs" },
	{ 53, "domain", "domain" },
	{ 67, NULL, "bootps" },
	{ 68, NULL, "bootpc" },
	{ 69, NULL, "tftp" },
	{ 70, "gopher", NULL },
	{ 79, "finger", NULL },
	{ 80, "http", NULL },
	{ 88, "kerberos", "kerberos" },
	{ 102, "iso-tsap", NULL },
	{ 104, "acr-nema", NULL },
	{ 106, "poppassd", NULL },
	{ 110, "pop3", NULL },
	{ 111, "sunrpc", "sunrpc" },
	{ 113, "auth", NULL },
	{ 119, "nntp", NULL },
	{ 123, NULL, "ntp" },
	{ 135, "epmap", NULL },
	{ 137, NULL, "netbios-ns" },
	{ 138, NULL, "netbios-dgm" },
	{ 139, "netbios-ssn", NULL },
	{ 143, "imap2", NULL },
	{ 161, "snmp", "snmp" },
	{ 162, "snmp-trap", "snmp-trap" },
	{ 163, "cmip-man", "cmip-man" },
	{ 164, "cmip-agent", "cmip-agent" },
	{ 174, "mailq", NULL },
	{ 177, NULL, "xdmcp" },
	{ 179, "bgp", NULL },
	{ 199, "smux", NULL },
	{ 209, "qmtp", NULL },
	{ 210, "z3950", NULL },
	{ 213, NULL, "ipx" },
	{ 319, NULL, "ptp-event" },
	{ 320, NULL, "ptp-general" },
	{ 345, "pawserv", NULL },
	{ 346, "zserv", NULL },
	{ 369, "rpc2portmap", "rpc2portmap" },
	{ 370, "codaauth2", "codaauth2" },
	{ 371, NULL, "clearcase" },
	{ 389, "ldap", "ldap" },
	{ 427, "svrloc", "svrloc" },
	{ 443, "https", "https" },
	{ 444, "snpp", NULL },
	{ 445, "microsoft-ds", NULL },
	{ 464, "kpasswd", "kpasswd" },
	{ 465, "submissions", NULL },
	{ 487, "saft", NULL },
	{ 500, NULL, "isakmp" },
	{ 512, "exec", "biff" },
	{ 513, "login", "who" },
	{ 514, "shell", "syslog" },
	{ 515, "printer", NULL },
	{ 517, NULL, "talk" },
	{ 518, NULL, "ntalk" },
	{ 520, NULL, "route" },
	{ 538, "gdomap", "gdomap" },
	{ 540, "uucp", NULL },
	{ 543, "klogin", NULL },
	{ 544, "kshell", NULL },
	{ 546, NULL, "dhcpv6-client" },
	{ 547, NULL, "dhcpv6-server" },
	{ 548, "afpovertcp", NULL },
	{ 554, "rtsp", "rtsp" },
	{ 563, "nntps", NULL },
	{ 587, "submission", NULL },
	{ 607, "nqs", NULL },
	{ 623, NULL, "asf-rmcp" },
	{ 628, "qmqp", NULL },
	{ 631, "ipp", NULL },
	{ 636, "ldaps", "ldaps" },
	{ 646, "ldp", "ldp" },
	{ 655, "tinc", "tinc" },
	{ 706, "silc", NULL },
	{ 749, "kerberos-adm", NULL },
	{ 750, "kerberos4", "kerberos4" },
	{ 751, "kerberos-master", "kerberos-master" },
	{ 752, NULL, "passwd-server" },
	{ 754, "krb-prop", NULL },
	{ 775, "moira-db", NULL },
	{ 777, "moira-update", NULL },
	{ 779, NULL, "moira-ureg" },
	{ 783, "spamd", NULL },
	{ 853, "domain-s", "domain-s" },
	{ 871, "supfilesrv", NULL },
	{ 873, "rsync", NULL },
	{ 989, "ftps-data", NULL },
	{ 990, "ftps", NULL },
	{ 992, "telnets", NULL },
	{ 993, "imaps", NULL },
	{ 995, "pop3s", NULL },
	{ 1080, "socks", NULL },
	{ 1093, "proofd", NULL },
	{ 1094, "rootd", NULL },
	{ 1099, "rmiregistry", NULL },
	{ 1127, "supfiledbg", NULL },
	{ 1178, "skkserv", NULL },
	{ 1194, "openvpn", "openvpn" },
	{ 1210, NULL, "predict" },
	{ 1236, "rmtcfg", NULL },
	{ 1313, "xtel", NULL },
	{ 1314, "xtelw", NULL },
	{ 1352, "lotusnote", NULL },
	{ 1433, "ms-sql-s", NULL },
	{ 1434, NULL, "ms-sql-m" },
	{ 1524, "ingreslock", NULL },
	{ 1645, "datametrics", "datametrics" },
	{ 1646, "sa-msg-port", "sa-msg-port" },
	{ 1649, "kermit", NULL },
	{ 1677, "groupwise", NULL },
	{ 1701, NULL, "l2f" },
	{ 1812, "radius", "radius" },
	{ 1813, "radius-acct", "radius-acct" },
	{ 2000, "cisco-sccp", NULL },
	{ 2049, "nfs", "nfs" },
	{ 2086, "gnunet", "gnunet" },
	{ 2101, "rtcm-sc104", "rtcm-sc104" },
	{ 2102, NULL, "zephyr-srv" },
	{ 2103, NULL, "zephyr-clt" },
	{ 2104, NULL, "zephyr-hm" },
	{ 2119, "gsigatekeeper", NULL },
	{ 2121, "iprop", NULL },
	{ 2135, "gris", NULL },
	{ 2401, "cvspserver", NULL },
	{ 2430, "venus", "venus" },
	{ 2431, "venus-se", "venus-se" },
	{ 2432, "codasrv", "codasrv" },
	{ 2433, "codasrv-se", "codasrv-se" },
	{ 2583, "mon", "mon" },
	{ 2600, "zebrasrv", NULL },
	{ 2601, "zebra", NULL },
	{ 2602, "ripd", NULL },
	{ 2603, "ripngd", NULL },
	{ 2604, "ospfd", NULL },
	{ 2605, "bgpd", NULL },
	{ 2606, "ospf6d", NULL },
	{ 2607, "ospfapi", NULL },
	{ 2608, "isisd", NULL },
	{ 2628, "dict", NULL },
	{ 2792, "f5-globalsite", NULL },
	{ 2811, "gsiftp", NULL },
	{ 2947, "gpsd", NULL },
	{ 3050, "gds-db", NULL },
	{ 3130, NULL, "icpv2" },
	{ 3205, "isns", "isns" },
	{ 3260, "iscsi-target", NULL },
	{ 3306, "mysql", NULL },
	{ 3389, "ms-wbt-server", NULL },
	{ 3493, "nut", "nut" },
	{ 3632, "distcc", NULL },
	{ 3689, "daap", NULL },
	{ 3690, "svn", NULL },
	{ 4031, "suucp", NULL },
	{ 4094, "sysrqd", NULL },
	{ 4190, "sieve", NULL },
	{ 4353, "f5-iquery", NULL },
	{ 4369, "epmd", NULL },
	{ 4373, "remctl", NULL },
	{ 4460, "ntske", NULL },
	{ 4500, NULL, "ipsec-nat-t" },
	{ 4557, "fax", NULL },
	{ 4559, "hylafax", NULL },
	{ 4569, NULL, "iax" },
	{ 4691, "mtn", NULL },
	{ 4899, "radmin-port", NULL },
	{ 4949, "munin", NULL },
	{ 5060, "sip", "sip" },
	{ 5061, "sip-tls", "sip-tls" },
	{ 5222, "xmpp-client", NULL },
	{ 5269, "xmpp-server", NULL },
	{ 5308, "cfengine", NULL },
	{ 5353, NULL, "mdns" },
	{ 5432, "postgresql", NULL },
	{ 5555, NULL, "rplay" },
	{ 5556, "freeciv", NULL },
	{ 5666, "nrpe", NULL },
	{ 5667, "nsca", NULL },
	{ 5671, "amqps", NULL },
	{ 5672, "amqp", NULL },
	{ 5680, "canna", NULL },
	{ 6000, "x11", NULL },
	{ 6001, "x11-1", NULL },
	{ 6002, "x11-2", NULL },
	{ 6003, "x11-3", NULL },
	{ 6004, "x11-4", NULL },
	{ 6005, "x11-5", NULL },
	{ 6006, "x11-6", NULL },
	{ 6007, "x11-7", NULL },
	{ 6346, "gnutella-svc", "gnutella-svc" },
	{ 6347, "gnutella-rtr", "gnutella-rtr" },
	{ 6379, "redis", NULL },
	{ 6444, "sge-qmaster", NULL },
	{ 6445, "sge-execd", NULL },
	{ 6446, "mysql-proxy", NULL },
	{ 6514, "syslog-tls", NULL },
	{ 6566, "sane-port", NULL },
	{ 6667, "ircd", NULL },
	{ 6696, NULL, "babel" },
	{ 6697, "ircs-u", NULL },
	{ 7000, "bbs", "afs3-fileserver" },
	{ 7001, NULL, "afs3-callback" },
	{ 7002, NULL, "afs3-prserver" },
	{ 7003, NULL, "afs3-vlserver" },
	{ 7004, NULL, "afs3-kaserver" },
	{ 7005, NULL, "afs3-volser" },
	{ 7007, NULL, "afs3-bos" },
	{ 7008, NULL, "afs3-update" },
	{ 7009, NULL, "afs3-rmtsys" },
	{ 7100, "font-service", NULL },
	{ 8021, "zope-ftp", NULL },
	{ 8080, "http-alt", NULL },
	{ 8081, "tproxy", NULL },
	{ 8088, "omniorb", NULL },
	{ 8140, "puppet", NULL },
	{ 8990, "clc-build-daemon", NULL },
	{ 9098, "xinetd", NULL },
	{ 9101, "bacula-dir", NULL },
	{ 9102, "bacula-fd", NULL },
	{ 9103, "bacula-sd", NULL },
	{ 9418, "git", NULL },
	{ 9667, "xmms2", NULL },
	{ 9673, "zope", NULL },
	{ 10000, "webmin", NULL },
	{ 10050, "zabbix-agent", NULL },
	{ 10051, "zabbix-trapper", NULL },
	{ 10080, "amanda", NULL },
	{ 10081, "kamanda", NULL },
	{ 10082, "amandaidx", NULL },
	{ 10083, "amidxtape", NULL },
	{ 10809, "nbd", NULL },
	{ 11112, "dicom", NULL },
	{ 11371, "hkp", NULL },
	{ 17001, NULL, "sgi-cmsd" },
	{ 17002, NULL, "sgi-crsd" },
	{ 17003, NULL, "sgi-gcd" },
	{ 17004, "sgi-cad", NULL },
	{ 17500, "db-lsp", NULL },
	{ 22125, "dcap", NULL },
	{ 22128, "gsidcap", NULL },
	{ 22273, "wnn6", NULL },
	{ 24554, "binkp", NULL },
	{ 27374, "asp", "asp" },
	{ 30865, "csync2", NULL },
	{ 57000, "dircproxy", NULL },
	{ 60177, "tfido", NULL },
	{ 60179, "fido", NULL },
};

static int cmp_port(const void *key, const void *elem)
{
	return (int)*(const uint16_t *)key - (int)((const struct port_name *)elem)->port;
}

const char *ext_port_name(uint16_t port, const char *proto)
{
	const struct port_name *p;

	if (!proto)
		return NULL;
	p = bsearch(&port, port_names, sizeof(port_names) / sizeof(port_names[0]),
		    sizeof(port_names[0]), cmp_port);
	if (!p)
		return NULL;
	if (strcmp(proto, "tcp") == 0)
		return p->tcp;
	if (strcmp(proto, "udp") == 0)
		return p->udp;
	return NULL;
}

enum {
	F_VERBOSE = RULES_LIST_VERBOSE,
	F_NUMERIC = RULES_LIST_NUMERIC,
	F_EXACT = RULES_LIST_EXACT,
	F_LINES = RULES_LIST_LINE_NUMBERS,
};

/* xtables_print_num(): table columns unless notable (the policy header). */
static void put_num(struct sbuf *out, uint64_t n, unsigned int flags, bool notable)
{
	static const char units[] = "KMG";
	unsigned long long v = n;

	if (flags & F_EXACT) {
		sbuf_printf(out, notable ? "%llu " : "%8llu ", v);
		return;
	}
	if (v <= 99999) {
		sbuf_printf(out, notable ? "%llu " : "%5llu ", v);
		return;
	}
	for (int i = 0; i < 3; i++) {
		v = (v + 500) / 1000;
		if (v <= 9999) {
			sbuf_printf(out, notable ? "%llu%c " : "%4llu%c ", v, units[i]);
			return;
		}
	}
	v = (v + 500) / 1000;
	sbuf_printf(out, notable ? "%lluT " : "%4lluT ", v);
}

static unsigned int refs(const struct rules_table *t, uint32_t chain)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < t->nrules; i++)
		if ((t->rules[i].kind == RK_JUMP || t->rules[i].kind == RK_GOTO) &&
		    t->rules[i].chain == chain)
			n++;
	return n;
}

static void put_header(struct sbuf *out, const struct rules_table *t, uint32_t c,
		       unsigned int flags)
{
	const struct rules_chain *ch = &t->chains[c];

	sbuf_printf(out, "Chain %s", ch->name);
	if (ch->builtin) {
		sbuf_printf(out, " (policy %s", ch->policy == NF_DROP ? "DROP" : "ACCEPT");
		if (flags & F_VERBOSE) {
			sbuf_add(out, " ");
			put_num(out, ch->pcnt, flags, true);
			sbuf_add(out, "packets, ");
			put_num(out, ch->bcnt, flags, true);
			sbuf_add(out, "bytes");
		}
		sbuf_add(out, ")\n");
	} else {
		sbuf_printf(out, " (%u references)\n", refs(t, c));
	}
	if (flags & F_LINES)
		sbuf_add(out, "num  ");
	if (flags & F_VERBOSE)
		sbuf_add(out, flags & F_EXACT ? "    pkts      bytes " : " pkts bytes ");
	sbuf_add(out, "target     prot opt");
	if (flags & F_VERBOSE)
		sbuf_add(out, " in     out    ");
	sbuf_printf(out, " %-19s  %-19s \n", "source", "destination");
}

static void put_iface(struct sbuf *out, const uint8_t *name, const uint8_t *mask, bool inv,
		      unsigned int flags)
{
	char buf[EXT_IFNAMSIZ + 2];
	bool any = true;
	size_t n = 0;

	for (int i = 0; i < EXT_IFNAMSIZ; i++)
		any = any && !mask[i];
	if (!name[0] || (any && !inv)) {
		sbuf_printf(out, "%-6s ", flags & F_NUMERIC ? "*" : "any");
		return;
	}
	if (inv)
		buf[n++] = '!';
	for (int i = 0; i < EXT_IFNAMSIZ && name[i]; i++)
		buf[n++] = (char)name[i];
	buf[n] = '\0';
	sbuf_printf(out, "%-6s ", buf);
}

static void put_addr(struct sbuf *out, uint8_t family, const union nf_addr *addr,
		     const union nf_addr *mask, bool inv, unsigned int flags)
{
	static const union nf_addr any;
	struct sbuf a;

	sbuf_add(out, inv ? "!" : " ");
	if (nf_addr_eq(mask, &any) && !(flags & F_NUMERIC)) {
		sbuf_printf(out, "%-19s ", "anywhere");
		return;
	}
	sbuf_init(&a);
	if (family == NF_V6) {
		ext_put_addr6(&a, addr);
		ext_put_mask6(&a, mask, true);
	} else {
		ext_put_addr(&a, addr->ip);
		ext_put_mask(&a, mask->ip, true);
	}
	sbuf_printf(out, "%-19s ", a.oom ? "" : a.buf);
	if (a.oom)
		out->oom = true;
	sbuf_free(&a);
}

static void put_proto(struct sbuf *out, const struct rule_ip *ip, unsigned int flags)
{
	const char *name = NULL;

	sbuf_add(out, ip->invflags & IPINV_PROTO ? "!" : " ");
	if (!(flags & F_NUMERIC))
		name = ip->proto ? ext_proto_name(ip->proto) : "all";
	if (name)
		sbuf_printf(out, "%-4s ", name);
	else
		sbuf_printf(out, "%-4u ", ip->proto);
}

static const char *target_name(const struct rules_table *t, const struct rule *rl)
{
	switch (rl->kind) {
	case RK_ACCEPT:
		return "ACCEPT";
	case RK_DROP:
		return "DROP";
	case RK_RETURN:
		return "RETURN";
	case RK_JUMP:
	case RK_GOTO:
		return t->chains[rl->chain].name;
	case RK_EXT:
		/* libxt_CT registers NOTRACK as an alias of CT */
		return strcmp(rl->target->name, "NOTRACK") == 0 ? "CT" : rl->target->name;
	default:
		return "";
	}
}

static void put_rule(struct sbuf *out, uint8_t family, const struct rules_table *t,
		     const struct rule *rl, unsigned int num, unsigned int flags)
{
	const struct rule_ip *ip = &rl->ip;

	if (flags & F_LINES)
		sbuf_printf(out, "%-4u ", num);
	if (flags & F_VERBOSE) {
		put_num(out, rl->pcnt, flags, false);
		put_num(out, rl->bcnt, flags, false);
	}
	sbuf_printf(out, "%-9s ", target_name(t, rl));
	put_proto(out, ip, flags);
	sbuf_printf(out, "%c%c ", ip->invflags & IPINV_FRAG ? '!' : '-',
		    ip->flags & IPF_FRAG ? 'f' : '-');
	if (flags & F_VERBOSE) {
		sbuf_add(out, " ");
		put_iface(out, ip->iniface, ip->iniface_mask, ip->invflags & IPINV_VIA_IN, flags);
		put_iface(out, ip->outiface, ip->outiface_mask, ip->invflags & IPINV_VIA_OUT,
			  flags);
	}
	put_addr(out, family, &ip->src, &ip->smsk, ip->invflags & IPINV_SRC, flags);
	put_addr(out, family, &ip->dst, &ip->dmsk, ip->invflags & IPINV_DST, flags);
	if (rl->kind == RK_GOTO)
		sbuf_add(out, "[goto] ");
	for (uint32_t k = rl->match0; k < rl->match0 + rl->nmatch; k++) {
		const struct rule_match *m = &t->matches[k];

		if (m->ext->print)
			m->ext->print(m->data, ip, flags & F_NUMERIC, out);
		else
			sbuf_printf(out, "%s ", m->ext->name);
	}
	if (rl->kind == RK_EXT && rl->target->print)
		rl->target->print(rl->tdata, ip, flags & F_NUMERIC, out);
	sbuf_add(out, "\n");
}

/* A table no restore has created: iptables-nft lists its built-in chains,
 * empty, with ACCEPT policies and no counters. */
static void list_empty(enum nf_table table, const char *chain, unsigned int flags,
		       struct sbuf *out)
{
	struct rules_chain ch = { .builtin = true, .policy = NF_ACCEPT };
	struct rules_table t = { .nchains = 1, .chains = &ch };
	bool first = true;

	for (int h = 0; h < NF_HOOK_MAX; h++) {
		const char *name = rules_hook_name((enum nf_hook)h);

		if (!rules_hook_in_table(table, (enum nf_hook)h) ||
		    (chain && strcmp(chain, name) != 0))
			continue;
		memcpy(ch.name, name, strlen(name) + 1);
		if (!first)
			sbuf_add(out, "\n");
		first = false;
		put_header(out, &t, 0, flags);
	}
}

void rules_list(const struct rules *r, enum nf_table table, const char *chain,
		unsigned int flags, struct sbuf *out)
{
	const struct rules_table *t = &r->t[table];
	bool first = true;

	if (!t->nchains) {
		list_empty(table, chain, flags, out);
		return;
	}
	for (uint32_t c = 0; c < t->nchains; c++) {
		const struct rules_chain *ch = &t->chains[c];

		if (chain && strcmp(chain, ch->name) != 0)
			continue;
		if (!first)
			sbuf_add(out, "\n");
		first = false;
		put_header(out, t, c, flags);
		for (uint32_t i = 0; i < ch->n; i++)
			put_rule(out, r->family, t, &t->rules[ch->first + i], i + 1, flags);
	}
}
