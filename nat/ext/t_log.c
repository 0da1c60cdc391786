/* SPDX-License-Identifier: MIT */
/*
 * t_log — the LOG target: one line in the kernel's format (nf_log_syslog.c
 * dump_ipv4_packet(), dump_ipv6_packet() and friends, as Linux 6.18 prints
 * them) built in a stack buffer and handed to ctx->log with the level and
 * prefix; non-terminating.
 *
 *   IN=gw0 OUT=eth0 MAC= SRC=10.8.0.2 DST=203.0.113.5 LEN=60 TOS=0x00
 *   PREC=0x00 TTL=63 ID=4711 DF PROTO=TCP SPT=40000 DPT=443 WINDOW=64240
 *   RES=0x00 SYN URGP=0
 *
 * IPv6 (nf_log_ipv6): addresses in full (%pI6: eight groups of four hex
 * digits), LEN is 40 + the payload length, then TC= HOPLIMIT= FLOWLBL= in
 * decimal.  The extension headers are walked as the kernel walks them:
 * a fragment header prints "FRAG:<byte offset> [INCOMPLETE ]ID:<hex> "
 * always; with --log-ip-options each header is "OPT ( ... ) " (empty for
 * hop-by-hop, routing and destination options; "AH SPI=0x.. " inside for
 * AH; ESP ends the line "OPT ( ESP SPI=0x.. )", and without the flag ESP
 * ends it after FLOWLBL=).  A later fragment prints its upper layer's name
 * only, and stops at an options header after its fragment header.  ICMPv6
 * errors quote the embedded packet in brackets (one level; MTU= after it
 * for Packet Too Big, POINTER= before it for Parameter Problem).
 *
 * "MAC=" is printed empty for every input interface: gw's view has no
 * link-layer header (the kernel prints the same for tunnel devices).
 * Fields end with a space, as the kernel's do.
 *
 * Options: --log-prefix (1-29 characters, no newline), --log-level (0-7
 * or a syslog name, default 4), --log-tcp-sequence, --log-tcp-options,
 * --log-ip-options, --log-uid, --log-macdecode.  Saved in the order
 * prefix, level (when not 4), then the flags.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nat/ext.h"
#include "nat/pkt/be.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

enum { PREFIX_MAX = 30, LEVEL_DEFAULT = 4, LINE_MAX_ = 1024 };
enum { O_LEVEL, O_PREFIX, O_TCPSEQ, O_TCPOPT, O_IPOPT, O_UID, O_MACDECODE };

struct log_info {
	uint8_t level;
	uint8_t logflags;
	char prefix[PREFIX_MAX];
};

static const struct ext_opt log_opts[] = {
	{ "log-level", O_LEVEL, 1, 0 },
	{ "log-prefix", O_PREFIX, 1, 0 },
	{ "log-tcp-sequence", O_TCPSEQ, 0, 0 },
	{ "log-tcp-options", O_TCPOPT, 0, 0 },
	{ "log-ip-options", O_IPOPT, 0, 0 },
	{ "log-uid", O_UID, 0, 0 },
	{ "log-macdecode", O_MACDECODE, 0, 0 },
	{ NULL, 0, 0, 0 },
};

static const struct {
	const char *name;
	uint8_t level;
} level_names[] = {
	{ "alert", 1 }, { "crit", 2 }, { "debug", 7 }, { "emerg", 0 }, { "error", 3 },
	{ "info", 6 }, { "notice", 5 }, { "panic", 0 }, { "warning", 4 },
};

static const struct {
	uint8_t flag;
	const char *name;
} flag_names[] = {
	{ EXT_LOG_TCPSEQ, "--log-tcp-sequence" }, { EXT_LOG_TCPOPT, "--log-tcp-options" },
	{ EXT_LOG_IPOPT, "--log-ip-options" }, { EXT_LOG_UID, "--log-uid" },
	{ EXT_LOG_MACDECODE, "--log-macdecode" },
};

static void log_init(void *data)
{
	struct log_info *l = data;

	l->level = LEVEL_DEFAULT;
}

static int log_parse(void *data, unsigned int id, char *const *args, bool inv,
		     struct ext_parse *pc)
{
	struct log_info *l = data;
	uint32_t v;
	size_t n;

	(void)inv;
	switch (id) {
	case O_LEVEL:
		if (ext_strtou32(args[0], 7, &v)) {
			l->level = (uint8_t)v;
			return 0;
		}
		for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
			if (strcmp(level_names[i].name, args[0]) == 0) {
				l->level = level_names[i].level;
				return 0;
			}
		return ext_fail(pc, args[0], "log level \"%s\" unknown", args[0]);
	case O_PREFIX:
		n = strlen(args[0]);
		if (n == 0)
			return ext_fail(pc, args[0], "Argument must have a minimum length of 1 characters");
		if (strchr(args[0], '\n'))
			return ext_fail(pc, args[0], "Newlines not allowed in --log-prefix");
		if (n >= PREFIX_MAX)
			n = PREFIX_MAX - 1;
		memcpy(l->prefix, args[0], n);
		l->prefix[n] = '\0';
		return 0;
	case O_TCPSEQ: l->logflags |= EXT_LOG_TCPSEQ; return 0;
	case O_TCPOPT: l->logflags |= EXT_LOG_TCPOPT; return 0;
	case O_IPOPT: l->logflags |= EXT_LOG_IPOPT; return 0;
	case O_UID: l->logflags |= EXT_LOG_UID; return 0;
	case O_MACDECODE: l->logflags |= EXT_LOG_MACDECODE; return 0;
	}
	return -1;
}

struct lbuf {
	char *buf;
	size_t len, pos;
};

static void add(struct lbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct lbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (b->pos < b->len)
		n = vsnprintf(b->buf + b->pos, b->len - b->pos, fmt, ap);
	else
		n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->pos += (size_t)n;
}

static void add_addr(struct lbuf *b, const char *name, const uint8_t *a)
{
	add(b, "%s=%u.%u.%u.%u ", name, a[0], a[1], a[2], a[3]);
}

static void add_hex(struct lbuf *b, const uint8_t *p, size_t n)
{
	add(b, "OPT (");
	for (size_t i = 0; i < n; i++)
		add(b, "%02X", p[i]);
	add(b, ") ");
}

/* The kernel's "skb->len - offset" of an INCOMPLETE [N bytes]: unsigned,
 * so an offset past the end (an extension header longer than what is
 * left of a quote) wraps as there. */
static unsigned int left(size_t end, size_t off)
{
	return (unsigned int)end - (unsigned int)off;
}

/* nf_log_dump_tcp_header(): 1 when the header is cut short */
static int dump_tcp(struct lbuf *b, const uint8_t *d, size_t off, size_t end, bool frag,
		    unsigned int logflags)
{
	const uint8_t *th = d + off;
	unsigned int doff;

	add(b, "PROTO=TCP ");
	if (frag)
		return 0;
	if (end < off + 20) {
		add(b, "INCOMPLETE [%u bytes] ", left(end, off));
		return 1;
	}
	add(b, "SPT=%u DPT=%u ", be16_get(th), be16_get(th + 2));
	if (logflags & EXT_LOG_TCPSEQ)
		add(b, "SEQ=%u ACK=%u ", be32_get(th + 4), be32_get(th + 8));
	add(b, "WINDOW=%u ", be16_get(th + 14));
	/* TCP_RESERVED_BITS: the three bits left of AE (AccECN, RFC 9768) */
	add(b, "RES=0x%02x ", (th[12] & 0x0e) << 2);
	if (th[12] & 0x01) add(b, "AE ");
	if (th[13] & 0x80) add(b, "CWR ");
	if (th[13] & 0x40) add(b, "ECE ");
	if (th[13] & 0x20) add(b, "URG ");
	if (th[13] & 0x10) add(b, "ACK ");
	if (th[13] & 0x08) add(b, "PSH ");
	if (th[13] & 0x04) add(b, "RST ");
	if (th[13] & 0x02) add(b, "SYN ");
	if (th[13] & 0x01) add(b, "FIN ");
	add(b, "URGP=%u ", be16_get(th + 18));
	doff = (unsigned int)(th[12] >> 4) * 4;
	if ((logflags & EXT_LOG_TCPOPT) && doff > 20) {
		if (end < off + doff) {
			add(b, "OPT (TRUNCATED)");
			return 1;
		}
		add_hex(b, th + 20, doff - 20);
	}
	return 0;
}

static int dump_udp(struct lbuf *b, const uint8_t *d, size_t off, size_t end, bool frag,
		    uint8_t proto)
{
	const uint8_t *uh = d + off;

	add(b, proto == 17 ? "PROTO=UDP " : "PROTO=UDPLITE ");
	if (frag)
		return 0;
	if (end < off + 8) {
		add(b, "INCOMPLETE [%u bytes] ", left(end, off));
		return 1;
	}
	add(b, "SPT=%u DPT=%u LEN=%u ", be16_get(uh), be16_get(uh + 2), be16_get(uh + 4));
	return 0;
}

static void dump_ipv4(struct lbuf *b, const struct nf_ctx *ctx, size_t ipoff,
		      unsigned int logflags);

static void dump_icmp(struct lbuf *b, const struct nf_ctx *ctx, size_t ipoff, size_t off,
		      size_t end, bool frag, unsigned int logflags)
{
	static const uint8_t required[19] = {
		[0] = 4, [3] = 28, [4] = 28, [5] = 28, [8] = 4, [11] = 28, [12] = 28,
		[13] = 20, [14] = 20, [17] = 12, [18] = 12,
	};
	const uint8_t *ic = ctx->pkt->data + off;
	size_t have = end > off ? end - off : 0;

	add(b, "PROTO=ICMP ");
	if (frag)
		return;
	if (end < off + 8) {
		add(b, "INCOMPLETE [%u bytes] ", left(end, off));
		return;
	}
	add(b, "TYPE=%u CODE=%u ", ic[0], ic[1]);
	if (ic[0] <= 18 && required[ic[0]] && have < required[ic[0]]) {
		add(b, "INCOMPLETE [%zu bytes] ", have);
		return;
	}
	switch (ic[0]) {
	case 0:
	case 8:
		add(b, "ID=%u SEQ=%u ", be16_get(ic + 4), be16_get(ic + 6));
		break;
	case 12:
		add(b, "PARAMETER=%u ", ic[4]);
		break;
	case 5:
		add_addr(b, "GATEWAY", ic + 4);
		/* fall through */
	case 3:
	case 4:
	case 11:
		if (ipoff == 0) {  /* one level only */
			add(b, "[");
			dump_ipv4(b, ctx, off + 8, logflags);
			add(b, "] ");
		}
		if (ic[0] == 3 && ic[1] == 4)
			add(b, "MTU=%u ", be16_get(ic + 6));
		break;
	}
}

/* dump_ipv4_packet(): the header at ipoff; bytes end at the packet's end. */
static void dump_ipv4(struct lbuf *b, const struct nf_ctx *ctx, size_t ipoff,
		      unsigned int logflags)
{
	const uint8_t *d = ctx->pkt->data, *ih = d + ipoff;
	size_t end = ctx->pkt->outer.end, ihl, off;
	uint16_t frag;
	bool fragment;

	if (end < ipoff + 20) {
		add(b, "TRUNCATED");
		return;
	}
	ihl = (size_t)(ih[0] & 0x0f) * 4;
	frag = be16_get(ih + 6);
	fragment = frag & 0x1fff;
	add_addr(b, "SRC", ih + 12);
	add_addr(b, "DST", ih + 16);
	add(b, "LEN=%u TOS=0x%02X PREC=0x%02X TTL=%u ID=%u ", be16_get(ih + 2), ih[1] & 0x1e,
	    ih[1] & 0xe0, ih[8], be16_get(ih + 4));
	if (frag & 0x8000)
		add(b, "CE ");
	if (frag & 0x4000)
		add(b, "DF ");
	if (frag & 0x2000)
		add(b, "MF ");
	if (fragment)
		add(b, "FRAG:%u ", frag & 0x1fff);
	if ((logflags & EXT_LOG_IPOPT) && ihl > 20) {
		if (end < ipoff + ihl) {
			add(b, "OPT (TRUNCATED)");
			return;
		}
		add_hex(b, ih + 20, ihl - 20);
	}
	off = ipoff + ihl;
	switch (ih[9]) {
	case 6:
		if (dump_tcp(b, d, off, end, fragment, logflags))
			return;
		break;
	case 17:
	case 136:
		if (dump_udp(b, d, off, end, fragment, ih[9]))
			return;
		break;
	case 1:
		dump_icmp(b, ctx, ipoff, off, end, fragment, logflags);
		break;
	case 51:  /* AH */
		add(b, "PROTO=AH ");
		if (fragment)
			break;
		if (end < off + 12) {
			add(b, "INCOMPLETE [%u bytes] ", left(end, off));
			break;
		}
		add(b, "SPI=0x%x ", be32_get(d + off + 4));
		break;
	case 50:  /* ESP */
		add(b, "PROTO=ESP ");
		if (fragment)
			break;
		if (end < off + 8) {
			add(b, "INCOMPLETE [%u bytes] ", left(end, off));
			break;
		}
		add(b, "SPI=0x%x ", be32_get(d + off));
		break;
	default:
		add(b, "PROTO=%u ", ih[9]);
	}
	if ((logflags & EXT_LOG_UID) && ipoff == 0 && ctx->has_owner)
		add(b, "UID=%u GID=%u ", ctx->uid, ctx->gid);
	if (ipoff == 0 && ctx->mark)
		add(b, "MARK=0x%x ", ctx->mark);
}

static void add_addr6(struct lbuf *b, const char *name, const uint8_t *a)
{
	add(b, "%s=", name);
	for (unsigned int i = 0; i < 16; i += 2)
		add(b, "%02x%02x%s", a[i], a[i + 1], i < 14 ? ":" : " ");
}

/* dump_ipv6_packet(): the header at ipoff; bytes end at the packet's end.
 * recurse: the outer packet (quotes an ICMPv6 error's packet, prints the
 * owner and the mark). */
static void dump_ipv6(struct lbuf *b, const struct nf_ctx *ctx, size_t ipoff, bool recurse,
		      unsigned int logflags)
{
	const uint8_t *d = ctx->pkt->data, *ih = d + ipoff, *ic;
	size_t end = ctx->pkt->outer.end, ptr, hlen = 0;
	bool opt = logflags & EXT_LOG_IPOPT, fragment = false;
	uint32_t w;
	uint8_t cur;

	if (end < ipoff + 40) {
		add(b, "TRUNCATED");
		return;
	}
	w = be32_get(ih);
	add_addr6(b, "SRC", ih + 8);
	add_addr6(b, "DST", ih + 24);
	add(b, "LEN=%u TC=%u HOPLIMIT=%u FLOWLBL=%u ", be16_get(ih + 4) + 40u,
	    (w >> 20) & 0xff, ih[7], w & 0xfffff);
	ptr = ipoff + 40;
	cur = ih[6];
	/* nf_ip6_ext_hdr(), "no next header" aside */
	while (cur == IPPROTO_HOPOPTS || cur == IPPROTO_ROUTING || cur == IPPROTO_FRAGMENT ||
	       cur == IPPROTO_ESP || cur == IPPROTO_AH || cur == IPPROTO_DSTOPTS) {
		const uint8_t *hp;
		uint16_t fo;

		if (end < ptr + 2) {
			add(b, "TRUNCATED");
			return;
		}
		hp = d + ptr;
		if (opt)
			add(b, "OPT ( ");
		switch (cur) {
		case IPPROTO_FRAGMENT:
			add(b, "FRAG:");
			if (end < ptr + 8) {
				add(b, "TRUNCATED ");
				return;
			}
			fo = be16_get(hp + 2);
			add(b, "%u ", fo & 0xfff8);
			if (fo & 1)
				add(b, "INCOMPLETE ");
			add(b, "ID:%08x ", be32_get(hp + 4));
			if (fo & 0xfff8)
				fragment = true;
			hlen = 8;
			break;
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (fragment) {
				if (opt)
					add(b, ")");
				return;
			}
			hlen = ((size_t)hp[1] + 1) * 8;
			break;
		case IPPROTO_AH:
			if (opt) {
				add(b, "AH ");
				if (fragment) {
					add(b, ")");
					return;
				}
				if (end < ptr + 12) {
					add(b, "INCOMPLETE [%u bytes] )", left(end, ptr));
					return;
				}
				add(b, "SPI=0x%x ", be32_get(hp + 4));
			}
			hlen = ((size_t)hp[1] + 2) * 4;
			break;
		case IPPROTO_ESP:
			if (opt) {
				add(b, "ESP ");
				if (fragment) {
					add(b, ")");
					return;
				}
				if (end < ptr + 8) {
					add(b, "INCOMPLETE [%u bytes] )", left(end, ptr));
					return;
				}
				add(b, "SPI=0x%x )", be32_get(hp));
			}
			return;
		}
		if (opt)
			add(b, ") ");
		cur = hp[0];
		ptr += hlen;
	}

	switch (cur) {
	case IPPROTO_TCP:
		if (dump_tcp(b, d, ptr, end, fragment, logflags))
			return;
		break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		if (dump_udp(b, d, ptr, end, fragment, cur))
			return;
		break;
	case IPPROTO_ICMPV6:
		add(b, "PROTO=ICMPv6 ");
		if (fragment)
			break;
		if (end < ptr + 8) {
			add(b, "INCOMPLETE [%u bytes] ", left(end, ptr));
			return;
		}
		ic = d + ptr;
		add(b, "TYPE=%u CODE=%u ", ic[0], ic[1]);
		switch (ic[0]) {
		case 128:  /* echo request, reply */
		case 129:
			add(b, "ID=%u SEQ=%u ", be16_get(ic + 4), be16_get(ic + 6));
			break;
		case 4:    /* parameter problem */
			add(b, "POINTER=%08x ", be32_get(ic + 4));
			/* fall through */
		case 1:    /* destination unreachable, packet too big, time exceeded */
		case 2:
		case 3:
			if (recurse) {
				add(b, "[");
				dump_ipv6(b, ctx, ptr + 8, false, logflags);
				add(b, "] ");
			}
			if (ic[0] == 2)
				add(b, "MTU=%u ", be32_get(ic + 4));
			break;
		}
		break;
	default:
		add(b, "PROTO=%u ", cur);
	}
	if ((logflags & EXT_LOG_UID) && recurse && ctx->has_owner)
		add(b, "UID=%u GID=%u ", ctx->uid, ctx->gid);
	if (recurse && ctx->mark)
		add(b, "MARK=0x%x ", ctx->mark);
}

static void add_iface(struct lbuf *b, const char *name, const char *dev)
{
	char n[NF_IFNAMSIZ + 1];

	memcpy(n, dev, NF_IFNAMSIZ);
	n[NF_IFNAMSIZ] = '\0';
	add(b, "%s=%s ", name, n);
}

size_t ext_log_format(const struct nf_ctx *ctx, unsigned int logflags, char *buf, size_t len)
{
	struct lbuf b = { .buf = buf, .len = len, .pos = 0 };

	if (len)
		buf[0] = '\0';
	add_iface(&b, "IN", ctx->in);
	add_iface(&b, "OUT", ctx->out);
	if (ctx->in[0])
		add(&b, "MAC= ");
	if (ctx->pkt->outer.family == NF_V6)
		dump_ipv6(&b, ctx, ctx->pkt->outer.ip, true, logflags);
	else
		dump_ipv4(&b, ctx, ctx->pkt->outer.ip, logflags);
	return b.pos;
}

static int log_target(void *data, struct ext_pkt *xp)
{
	const struct log_info *l = data;
	char line[LINE_MAX_];

	if (!xp->ctx->log)
		return EXT_CONTINUE;
	ext_log_format(xp->ctx, l->logflags, line, sizeof(line));
	xp->ctx->log(xp->ctx->log_arg, l->level, l->prefix, line);
	return EXT_CONTINUE;
}

static void log_save(const void *data, struct sbuf *out)
{
	const struct log_info *l = data;

	if (l->prefix[0]) {
		sbuf_add(out, " --log-prefix");
		ext_put_string(out, l->prefix);
	}
	if (l->level != LEVEL_DEFAULT)
		sbuf_printf(out, " --log-level %u", l->level);
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if (l->logflags & flag_names[i].flag)
			sbuf_printf(out, " %s", flag_names[i].name);
}

/* libxt_LOG print(): numeric "flags F level L"; else the level's syslog
 * name and the flags' names. */
static void log_print(const void *data, const struct rule_ip *ip, bool numeric,
		      struct sbuf *out)
{
	static const char *const levels[] = {
		"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
	};
	static const char *const flags[] = {
		"tcp-sequence", "tcp-options", "ip-options", "uid", NULL, "macdecode",
	};
	const struct log_info *l = data;

	(void)ip;
	sbuf_add(out, " LOG");
	if (numeric) {
		sbuf_printf(out, " flags %u level %u", l->logflags, l->level);
	} else {
		if (l->level < 8)
			sbuf_printf(out, " level %s", levels[l->level]);
		else
			sbuf_printf(out, " UNKNOWN level %u", l->level);
		for (unsigned int i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
			if (flags[i] && (l->logflags & (1u << i)))
				sbuf_printf(out, " %s", flags[i]);
	}
	if (l->prefix[0])
		sbuf_printf(out, " prefix \"%s\"", l->prefix);
}

const struct ext t_log = {
	.name = "LOG",
	.size = sizeof(struct log_info),
	.opts = log_opts,
	.init = log_init,
	.parse = log_parse,
	.target = log_target,
	.save = log_save,
	.print = log_print,
};
