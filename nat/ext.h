/* SPDX-License-Identifier: MIT */
/*
 * ext — match and target descriptors, as the iptables extension tables have
 * them: a name, an option list, parse (names the bad token), final (after
 * the last option of the instance), check (once at load, knowing the table
 * and the hooks the rule is reachable from), match or target (per packet)
 * and save (the canonical iptables-save spelling).
 *
 * One file per family (m_*.c, t_*.c) defines the descriptors; rules_ext.c
 * holds the registry and the parsers every family shares (numbers,
 * addresses, ports, protocols).  Instance data is plain old data: the rule
 * engine copies it byte for byte when it copies a table.
 */
#ifndef GW_NAT_EXT_H
#define GW_NAT_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/nf.h"
#include "nat/pkt/addr.h"

struct sbuf;
struct pkt_hdr;
struct rules_error;
struct rules_parse_opts;

enum { EXT_IFNAMSIZ = 16 };

/* struct rule_ip.flags */
enum { IPF_FRAG = 1 << 0 };

/* struct rule_ip.invflags (the IPT_INV_* bits) */
enum {
	IPINV_VIA_IN  = 1 << 0,
	IPINV_VIA_OUT = 1 << 1,
	IPINV_SRC     = 1 << 3,
	IPINV_DST     = 1 << 4,
	IPINV_FRAG    = 1 << 5,
	IPINV_PROTO   = 1 << 6,
};

/* The part of a rule every packet is checked against first (struct ipt_ip,
 * struct ip6t_ip6).  Addresses and masks are of the ruleset's family
 * (nat/pkt/addr.h: IPv4 .ip in host order, the rest zero; IPv6 the wire
 * bytes).  Invariant: src & smsk == src, dst & dmsk == dst; interface masks
 * cover the name and its NUL, or only the prefix before a trailing '+'.
 * IPv6: proto is the upper layer past the extension headers; IPF_FRAG is
 * never set (ip6tables has no -f). */
struct rule_ip {
	union nf_addr src, smsk, dst, dmsk;
	uint8_t iniface[EXT_IFNAMSIZ], iniface_mask[EXT_IFNAMSIZ];
	uint8_t outiface[EXT_IFNAMSIZ], outiface_mask[EXT_IFNAMSIZ];
	uint8_t proto;       /* 0: any */
	uint8_t flags;       /* IPF_* */
	uint8_t invflags;    /* IPINV_* */
};

/* One option of an extension.  Aliases share an id; ids are < 32. */
struct ext_opt {
	const char *name;    /* without "--"; NULL ends the list */
	uint8_t id;
	uint8_t nargs;       /* 0, 1 or 2 (--tcp-flags MASK COMP) */
	uint8_t flags;       /* EXT_O_* */
};

enum {
	EXT_O_INV   = 1 << 0,  /* may follow "!" */
	EXT_O_MULTI = 1 << 1,  /* may be given more than once */
};

/* Where a parse or check failed: fills the error record, returns -1. */
struct ext_parse {
	const struct rule_ip *ip;     /* the rule's base part so far */
	uint8_t family;               /* NF_V4 or NF_V6: the ruleset's */
	const struct rules_parse_opts *opts; /* parse: never NULL; check: NULL */
	struct rules_error *err;
	const char *token;            /* the word being parsed */
};

/* What check() learns at load. */
struct ext_check {
	enum nf_table table;
	uint8_t family;               /* NF_V4 or NF_V6 */
	uint8_t hooks;                /* 1 << hook for every hook reaching the rule; 0: unreachable */
	const struct rule_ip *ip;
};

/* One packet during a walk. */
struct ext_pkt {
	struct nf_ctx *ctx;
	struct pkt_hdr *h;            /* &ctx->pkt->outer */
	bool hotdrop;                 /* a match saw a packet it must drop */
};

/* What target() returns besides an enum nf_verdict. */
enum { EXT_CONTINUE = -1 };

struct ext {
	const char *name;
	uint16_t size;                /* instance data bytes */
	uint8_t family;               /* NF_V4 or NF_V6 only (iptables or
				       * ip6tables has it); 0: both */
	uint8_t tables;               /* 1 << table where allowed; 0: all */
	uint8_t hooks;                /* 1 << hook where allowed; 0: all */
	uint8_t proto;                /* needs -p PROTO; 0: any */
	const struct ext_opt *opts;
	void (*init)(void *data);
	int (*parse)(void *data, unsigned int id, char *const *args, bool inv,
		     struct ext_parse *pc);
	int (*final)(void *data, uint32_t seen, struct ext_parse *pc);
	int (*check)(const void *data, const struct ext_check *ck, struct ext_parse *pc);
	bool (*match)(void *data, struct ext_pkt *xp);
	int (*target)(void *data, struct ext_pkt *xp);
	void (*save)(const void *data, struct sbuf *out);
	/* The iptables -L text (the extension's print()), with its leading
	 * blank; numeric: -n (no service, type or level names).  ip is the
	 * rule's base part (multiport names ports by its protocol). */
	void (*print)(const void *data, const struct rule_ip *ip, bool numeric,
		      struct sbuf *out);
	/* iptables-nft prints native tcp/udp matches of one rule as one: fold
	 * from into into; 1 folded, 0 not foldable, -1 both set one field. */
	int (*fold)(void *into, const void *from);
	/* The destination ports a packet this match accepts can have, for
	 * working out what DNAT rules catch (nat/rules_uplink.h): up to
	 * EXT_DPORTS_MAX inclusive ranges into lo/hi (lo > hi: empty) and
	 * *inv set when the match takes the ports outside them instead.
	 * Returns the count, or -1: the destination port is not restricted.
	 * NULL for matches that never restrict it. */
	int (*dports)(const void *data, uint16_t *lo, uint16_t *hi, bool *inv);
};

enum { EXT_DPORTS_MAX = 15 };

/* Registry (rules_ext.c): the match or target of that name that exists
 * for family (NF_V4, NF_V6), or NULL. */
const struct ext *ext_find_match(const char *name, uint8_t family);
const struct ext *ext_find_target(const char *name, uint8_t family);
/* True for iptables targets gw does not implement (TRACE, QUEUE, ...). */
bool ext_known_target(const char *name);

/* Errors: fill pc->err with token and printf-style message; return -1. */
__attribute__((format(printf, 3, 4)))
int ext_fail(struct ext_parse *pc, const char *token, const char *fmt, ...);

/* Numbers as xtables_strtoui: base 0 (0x.., 0..), optional leading blanks
 * and '+', the whole string, at most max. */
bool ext_strtou(const char *s, uint64_t max, uint64_t *out);
bool ext_strtou32(const char *s, uint32_t max, uint32_t *out);

/* value[/mask] with mask defaulting to 0xffffffff (mark, --set-xmark). */
bool ext_parse_markmask(const char *s, uint32_t *value, uint32_t *mask);

/* Addresses, host order.  ext_parse_ipaddr is iptables' numeric form (one
 * to four parts, base 0 each, missing parts zero); strict is inet_pton's. */
bool ext_parse_ipaddr(const char *s, uint32_t *addr);
bool ext_parse_ipaddr_strict(const char *s, uint32_t *addr);
/* A prefix length (base 0, 0..32) or a dotted mask. */
bool ext_parse_ipmask(const char *s, uint32_t *mask);
uint32_t ext_prefix_mask(unsigned int bits);
/* Prefix length of a contiguous mask, or -1. */
int ext_mask_bits(uint32_t mask);
void ext_put_addr(struct sbuf *out, uint32_t addr);
/* "/N" for a contiguous mask, "/a.b.c.d" otherwise; nothing for /32 when
 * omit32. */
void ext_put_mask(struct sbuf *out, uint32_t mask, bool omit32);

/* IPv6 (wire bytes in a union nf_addr).  ext_parse_ip6addr is inet_pton's
 * (numeric only, as ip6tables' numeric_to_ip6addr); ext_parse_ip6mask a
 * prefix length (base 0, 0..128) or a numeric IPv6 mask (any bits, as
 * ip6tables' parse_ip6mask). */
bool ext_parse_ip6addr(const char *s, union nf_addr *a);
bool ext_parse_ip6mask(const char *s, union nf_addr *mask);
void ext_prefix_mask6(unsigned int bits, union nf_addr *mask);
/* Prefix length of a contiguous IPv6 mask, or -1. */
int ext_mask_bits6(const union nf_addr *mask);
/* inet_ntop's text, as ip6tables prints addresses (RFC 5952 compression). */
void ext_put_addr6(struct sbuf *out, const union nf_addr *a);
/* "/N" or "/MASK" as ip6tables-save; nothing for /128 when omit128. */
void ext_put_mask6(struct sbuf *out, const union nf_addr *mask, bool omit128);
/* Either family: addr of family (NF_V4 .ip, NF_V6 the bytes). */
void ext_put_addr_fam(struct sbuf *out, uint8_t family, const union nf_addr *a);
/* a & m into out, 128 bits (IPv4 has zeros past .ip). */
void ext_addr_and(union nf_addr *out, const union nf_addr *a, const union nf_addr *m);
/* (a & m) == want, 128 bits. */
bool ext_addr_masked_eq(const union nf_addr *a, const union nf_addr *m,
			const union nf_addr *want);

/* A port number (base 0) or a service name for proto ("tcp", "udp", NULL
 * for any).  Returns -1 when neither. */
int ext_parse_port(const char *s, const char *proto);
/* "a", "a:b", ":b", "a:", ":" (missing ends 0 and 65535).  Returns 0, or -1
 * with *bad pointing at the word at fault (or NULL when min > max). */
int ext_parse_port_range(char *s, const char *proto, uint16_t *min, uint16_t *max,
			 const char **bad);
/* XTTYPE_PORTRC (udp, conntrack): "a", "a:b", ":b", "a:" with decimal
 * numbers or service names of any protocol; a reversed range is kept.
 * Returns 0, or -1 with *bad at the word at fault. */
int ext_parse_portrc(char *s, uint16_t *min, uint16_t *max, const char **bad);
/* The service-name protocol for a -p value ("tcp", "udp", ...), or NULL. */
const char *ext_proto_service(uint8_t proto);

/* Protocols (rules_names.c): -p NAME|NUMBER as iptables parses it
 * (lower-cased by the caller); the name iptables-save prints. */
int ext_parse_proto(const char *s);
const char *ext_proto_name(uint8_t proto);
int ext_service_port(const char *name, const char *proto);
/* The service name iptables -L prints for a port of proto ("tcp", "udp"),
 * or NULL (rules_list.c). */
const char *ext_port_name(uint16_t port, const char *proto);

/* An ICMP or ICMPv6 type name as iptables / ip6tables spell them, with
 * the codes it stands for. */
struct ext_icmp_name {
	const char *name;
	uint8_t type, code_min, code_max;
};
/* --icmp-type / --icmpv6-type's argument: a name of names[n] (a unique
 * prefix, any case) or TYPE[/CODE]; kind ("ICMP", "ICMPv6") names it in
 * errors.  0 and *type, code[0..1] (code[1] 0xFF: any code), or -1. */
int ext_parse_icmp_type(const struct ext_icmp_name *names, size_t n, const char *kind,
			const char *arg, uint8_t *type, uint8_t code[2], struct ext_parse *pc);

/* libipt_icmp / libip6t_icmp6 print(): " WORD" (icmp, ipv6-icmp), then the
 * first name of names[n] for the type and code range unless numeric, else
 * "type T", " code C" or " codes A-B". */
void ext_print_icmp_type(const struct ext_icmp_name *names, size_t n, const char *word,
			 uint8_t type, const uint8_t code[2], bool inv, bool numeric,
			 struct sbuf *out);

/* Quoting as xtables_save_string: bare when only [A-Za-z0-9_-], else in
 * double quotes with " \ ' escaped.  Prints a leading space. */
void ext_put_string(struct sbuf *out, const char *s);

/* Descriptors (m_*.c, t_*.c). */
extern const struct ext m_tcp, m_udp, m_icmp, m_multiport, m_conntrack, m_state,
	m_iprange, m_limit, m_mark, m_connmark, m_comment, m_length, m_addrtype,
	m_owner, m_icmp6;
extern const struct ext t_reject, t_log, t_mark, t_connmark, t_tcpmss, t_notrack,
	t_ct, t_snat, t_dnat, t_masquerade, t_redirect;

/* The address and port range of a SNAT, DNAT, MASQUERADE or REDIRECT
 * target's data, NULL for any other target (t_nat.c). */
const struct nat_range *ext_nat_range(const struct ext *target, const void *tdata);

/* The kernel's LOG line for ctx's packet into buf (always NUL-terminated,
 * cut at len - 1); returns the length it wanted (t_log.c). */
size_t ext_log_format(const struct nf_ctx *ctx, unsigned int logflags, char *buf,
		      size_t len);
enum {
	EXT_LOG_TCPSEQ = 0x01, EXT_LOG_TCPOPT = 0x02, EXT_LOG_IPOPT = 0x04,
	EXT_LOG_UID = 0x08, EXT_LOG_MACDECODE = 0x20,
};

#endif
