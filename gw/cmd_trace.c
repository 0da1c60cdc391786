/* SPDX-License-Identifier: MIT */
/*
 * gw trace CONFIG [--uplink-addr ADDR] [--json] [--hex] [--conntrack] PACKET...
 * gw trace IFACE [--json] [--hex] [--conntrack] PACKET...
 *
 * The live form (IFACE names a running gateway, or its control socket)
 * asks the gateway for its config path, its uplink address and its live
 * rules (rules_save text with counters) and traces here, in the CLI, on a
 * private copy: those rules parsed afresh and a fresh conntrack.  Nothing
 * is sent and nothing of the running gateway changes (no counter, no
 * conntrack entry, no NAT binding); routing comes from the config file as
 * the gateway read it (peers' AllowedIPs, Address, Uplink).
 *
 * --hex prints each packet as built, before gw sees it (the differential
 * tests send those very bytes through the kernel); --conntrack lists the
 * table in the conntrack -L format after the last packet.
 *
 * Runs packets through the config's rules and one fresh conntrack, in order,
 * and prints the chains each crossed, the rules it hit and what came out.
 * TCP sequence numbers are made up per connection and direction so that a
 * sequence (S, SA, A, ...) passes window tracking; an ICMP error quotes the
 * latest packet that left towards its sender.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gw/cmd.h"
#include "gw/forward.h"
#include "gw/config.h"
#include "gw/dataplane.h"
#include "gw/route.h"
#include "gw/rulesfile.h"
#include "nat/hook.h"
#include "nat/icmp6.h"
#include "nat/nat.h"
#include "nat/pkt/pkt.h"
#include "nat/reject.h"
#include "nat/rules.h"
#include "nat/sbuf.h"
#include "nat/trace.h"

enum {
	TRACE_CT_MAX = 4096,
	TRACE_PKT_MAX = 2048,
	TRACE_FLOWS = 64,
	TRACE_SENT = 32,
	TRACE_HITS = 256,
	TRACE_PACKETS = 256,
	UPLINK_MTU = 1500,
};

/* Made-up TCP sequence state of one direction of a connection. */
struct flow {
	const struct ct_entry *e;
	enum ct_dir dir;
	uint32_t next_seq;
};

struct sent {
	uint8_t buf[TRACE_PKT_MAX];
	size_t len;
	uint8_t family;
	union nf_addr saddr;
};

struct tracer {
	struct config cfg;
	struct route_ctx route;
	struct nf *nf;
	bool json;
	bool hex;        /* --hex: also print the packet as built, before gw */
	bool conntrack;  /* --conntrack: list the table after the packets */
	struct flow flows[TRACE_FLOWS];
	unsigned n_flows;
	struct sent sent[TRACE_SENT];  /* ring of packets that left */
	unsigned n_sent;
	uint16_t ip_id;
	/* each packet after gw, for @N.src / @N.dst / @N.sport / @N.dport */
	struct { uint8_t family; union nf_addr src, dst; uint16_t sport, dport; }
		after[TRACE_PACKETS];
	unsigned n_packets;
};

static void usage(void)
{
	fputs("Usage: gw trace CONFIG [--uplink-addr ADDR] [--json] [--hex] [--conntrack] PACKET...\n"
	      "       gw trace IFACE [--json] [--hex] [--conntrack] PACKET...   (live rules, nothing sent)\n"
	      "  PACKET: 'PROTO SRC[:PORT] > DST[:PORT] [in IFACE] [flags SAFRPU] [icmp TYPE[/CODE]] [len N]'\n"
	      "  e.g.  gw trace gw0.conf --uplink-addr 192.0.2.1 'tcp 10.8.0.2:40000 > 203.0.113.5:443 flags S'\n",
	      stderr);
}

static struct flow *flow_find(struct tracer *t, const struct ct_entry *e, enum ct_dir dir)
{
	for (unsigned i = 0; i < t->n_flows; i++)
		if (t->flows[i].e == e && t->flows[i].dir == dir)
			return &t->flows[i];
	return NULL;
}

static struct flow *flow_add(struct tracer *t, const struct ct_entry *e, enum ct_dir dir)
{
	struct flow *f = &t->flows[t->n_flows < TRACE_FLOWS ? t->n_flows++ : TRACE_FLOWS - 1];

	f->e = e;
	f->dir = dir;
	f->next_seq = dir == CT_DIR_ORIGINAL ? 1000000 : 5000000;
	return f;
}

static void spec_tuple(const struct trace_spec *s, struct ct_tuple *t)
{
	memset(t, 0, sizeof(*t));
	t->src = s->src;
	t->dst = s->dst;
	t->proto = s->proto;
	t->family = s->family;
	if (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP) {
		t->sport = s->sport;
		t->dport = s->dport;
	} else if (s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6) {
		t->sport = s->sport;
		t->dport = (uint16_t)(s->icmp_type << 8 | s->icmp_code);
	}
}

/* seq/ack for a TCP packet of spec s, from the connection it belongs to. */
static void tcp_numbers(struct tracer *t, const struct trace_spec *s, uint32_t *seq, uint32_t *ack,
			const struct ct_entry **e_out, enum ct_dir *dir_out)
{
	struct ct_tuple tuple;
	enum ct_dir dir = CT_DIR_ORIGINAL;
	const struct ct_entry *e;
	struct flow *mine, *theirs;

	spec_tuple(s, &tuple);
	e = ct_lookup(nf_ct(t->nf), &tuple, &dir);
	*e_out = e;
	*dir_out = dir;
	mine = e ? flow_find(t, e, dir) : NULL;
	theirs = e ? flow_find(t, e, (enum ct_dir)!dir) : NULL;
	*seq = mine ? mine->next_seq : (dir == CT_DIR_ORIGINAL ? 1000000 : 5000000);
	*ack = theirs ? theirs->next_seq : 0;
}

static void tcp_advance(struct tracer *t, const struct ct_entry *e, enum ct_dir dir,
			const struct pkt *p, uint32_t seq)
{
	struct flow *f;
	const struct pkt_hdr *h = &p->outer;

	if (!e)
		return;
	f = flow_find(t, e, dir);
	if (!f)
		f = flow_add(t, e, dir);
	f->next_seq = seq + (uint32_t)(h->end - h->l4 - h->l4_hlen) +
		      !!(h->tcp_flags & TCP_SYN) + !!(h->tcp_flags & TCP_FIN);
}

/* The latest packet that left towards addr, for an ICMP error to quote. */
static const struct sent *quote_for(const struct tracer *t, uint8_t family,
				    const union nf_addr *addr)
{
	for (unsigned i = 0; i < t->n_sent && i < TRACE_SENT; i++) {
		const struct sent *s = &t->sent[(t->n_sent - 1 - i) % TRACE_SENT];

		if (s->family == family && nf_addr_eq(&s->saddr, addr))
			return s;
	}
	return NULL;
}

static void remember(struct tracer *t, const struct pkt *p)
{
	struct sent *s = &t->sent[t->n_sent++ % TRACE_SENT];
	size_t len = p->outer.end;

	if (len > sizeof(s->buf))
		len = sizeof(s->buf);
	memcpy(s->buf, p->data, len);
	s->len = len;
	s->family = p->outer.family;
	s->saddr = p->outer.saddr;
}

/* Replace @N.src, @N.dst, @N.sport, @N.dport (N from 1: an earlier packet
 * as it left gw) in arg.  Returns 0 or -EINVAL. */
static int expand_refs(const struct tracer *t, const char *arg, char *out, size_t cap)
{
	static const char *const fields[] = { "src", "dst", "sport", "dport" };
	size_t o = 0;

	while (*arg) {
		char *end;
		unsigned long n;
		size_t f, flen = 0;
		uint32_t v = 0;
		const union nf_addr *a = NULL;
		char text[INET6_ADDRSTRLEN];
		int w;

		if (*arg != '@') {
			if (o + 1 >= cap)
				return -EINVAL;
			out[o++] = *arg++;
			continue;
		}
		n = strtoul(arg + 1, &end, 10);
		if (end == arg + 1 || *end != '.' || !n || n > t->n_packets)
			return -EINVAL;
		for (f = 0; f < 4; f++) {
			flen = strlen(fields[f]);
			if (!strncmp(end + 1, fields[f], flen) && !isalpha((unsigned char)end[1 + flen]))
				break;
		}
		if (f == 4)
			return -EINVAL;
		switch (f) {
		case 0: a = &t->after[n - 1].src; break;
		case 1: a = &t->after[n - 1].dst; break;
		case 2: v = t->after[n - 1].sport; break;
		case 3: v = t->after[n - 1].dport; break;
		}
		/* an IPv6 address bare: the packet writes [@1.src]:@1.sport */
		if (a && t->after[n - 1].family == NF_V6)
			w = snprintf(out + o, cap - o, "%s",
				     inet_ntop(AF_INET6, a->b, text, sizeof(text)));
		else if (a)
			w = snprintf(out + o, cap - o, "%u.%u.%u.%u", a->ip >> 24,
				     (a->ip >> 16) & 0xff, (a->ip >> 8) & 0xff, a->ip & 0xff);
		else
			w = snprintf(out + o, cap - o, "%u", v);
		if (w < 0 || (size_t)w >= cap - o)
			return -EINVAL;
		o += (size_t)w;
		arg = end + 1 + flen;
	}
	out[o] = '\0';
	return 0;
}

static void hit_name(const struct rules *r, const struct rules_hit *h, struct sbuf *out)
{
	sbuf_printf(out, "%s/%s/", rules_table_name((enum nf_table)h->table),
		    rules_chain_name(r, (enum nf_table)h->table, h->chain));
	if (h->rule)
		sbuf_printf(out, "%u", h->rule);
	else
		sbuf_add(out, "policy");
}

static void json_str(struct sbuf *out, const char *s)
{
	sbuf_add(out, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_printf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			sbuf_printf(out, "\\u%04x", *s);
		else
			sbuf_addn(out, s, 1);
	}
	sbuf_add(out, "\"");
}

static void print_hex(struct sbuf *out, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sbuf_printf(out, "%02x", b[i]);
}

static void json_hits(struct sbuf *out, const struct rules *r, const struct rules_trace *rt)
{
	sbuf_add(out, "[");
	for (unsigned i = 0; rt && i < rt->n && i < rt->max; i++) {
		struct sbuf h;

		sbuf_init(&h);
		hit_name(r, &rt->hits[i], &h);
		if (i)
			sbuf_add(out, ",");
		json_str(out, h.buf);
		sbuf_free(&h);
	}
	sbuf_add(out, "]");
}

/* The bytes each hit counted, in json_hits' order. */
static void json_hit_bytes(struct sbuf *out, const struct rules_trace *rt)
{
	sbuf_add(out, "[");
	for (unsigned i = 0; rt && i < rt->n && i < rt->max; i++)
		sbuf_printf(out, "%s%u", i ? "," : "", rt->hits[i].bytes);
	sbuf_add(out, "]");
}

static void steps(struct sbuf *out, const struct rules *r, const struct nf_trace *tr,
		  const char *indent)
{
	for (unsigned i = 0; i < tr->n_steps; i++) {
		const struct nf_step *st = &tr->steps[i];

		sbuf_printf(out, "%s%-6s %-11s", indent, rules_table_name((enum nf_table)st->table),
			    nf_hook_name((enum nf_hook)st->hook));
		for (unsigned j = 0; j < st->n_hits; j++) {
			sbuf_add(out, j ? ", " : "  hit ");
			hit_name(r, &tr->rules->hits[st->first_hit + j], out);
		}
		if (!st->n_hits)
			sbuf_add(out, "  no rule hit");
		sbuf_printf(out, "  -> %s\n", nf_verdict_name((enum nf_verdict)st->verdict));
	}
}

static void print_result(struct tracer *t, const char *arg, const uint8_t *in, size_t in_len,
			 const struct pkt *p, const struct nf_result *res,
			 const struct fwd_action *a, const struct nf_trace *tr,
			 const struct rules_trace *rt,
			 const char *reply, const struct nf_trace *rtr, size_t reply_len)
{
	const struct rules *r = p->outer.family == NF_V6 ? nf_rules6(t->nf) : nf_rules(t->nf);
	struct sbuf out, pkt;
	const char *ct = res->ctstate < CT_STATE_MAX ? nf_ctstate_name(res->ctstate) : NULL;
	bool has_out = res->verdict == NF_ACCEPT;

	sbuf_init(&out);
	sbuf_init(&pkt);
	trace_format(p, &pkt);
	if (t->json) {
		sbuf_add(&out, "{\"verdict\":");
		json_str(&out, nf_verdict_name(res->verdict));
		sbuf_add(&out, ",\"out\":");
		if (has_out)
			json_str(&out, res->route.kind == NF_ROUTE_LOCAL ? t->cfg.ifname : res->route.out);
		else
			sbuf_add(&out, "null");
		if (has_out)
			sbuf_printf(&out, ",\"to\":\"%s\"", res->route.kind == NF_ROUTE_LOCAL ? "host" :
				    !strcmp(res->route.out, t->cfg.ifname) ? "peer" : "uplink");
		sbuf_add(&out, ",\"packet\":");
		json_str(&out, pkt.buf);
		if (reply) {
			sbuf_add(&out, ",\"reply\":");
			json_str(&out, reply);
		}
		sbuf_add(&out, ",\"ct\":");
		if (ct)
			json_str(&out, ct);
		else
			sbuf_add(&out, "null");
		if (res->drop != NF_DROP_NONE && res->drop != NF_DROP_RULE && res->drop != NF_DROP_REJECT) {
			sbuf_add(&out, ",\"drop\":");
			json_str(&out, nf_drop_name(res->drop));
		} else if (a->kind == FWD_DROP && !a->nf_drop) {
			sbuf_add(&out, ",\"drop\":");
			json_str(&out, gw_drop_name(a->drop));
		}
		sbuf_add(&out, ",\"hits\":");
		json_hits(&out, r, rt);
		sbuf_add(&out, ",\"hit_bytes\":");
		json_hit_bytes(&out, rt);
		if (reply_len) {
			sbuf_add(&out, ",\"reply_hits\":");
			json_hits(&out, r, rtr->rules);
			sbuf_printf(&out, ",\"reply_len\":%zu", reply_len);
		}
		if (t->hex) {
			sbuf_add(&out, ",\"in_hex\":\"");
			print_hex(&out, in, in_len);
			sbuf_add(&out, "\"");
		}
		sbuf_add(&out, "}\n");
	} else {
		sbuf_printf(&out, "%s\n", arg);
		if (t->hex) {
			sbuf_add(&out, "  bytes ");
			print_hex(&out, in, in_len);
			sbuf_add(&out, "\n");
		}
		steps(&out, r, tr, "  ");
		sbuf_printf(&out, "=> %s", nf_verdict_name(res->verdict));
		if (has_out)
			sbuf_printf(&out, " out %s", res->route.kind == NF_ROUTE_LOCAL ? t->cfg.ifname : res->route.out);
		sbuf_printf(&out, " %s", pkt.buf);
		if (ct)
			sbuf_printf(&out, " ct %s", ct);
		if (res->drop != NF_DROP_NONE && res->drop != NF_DROP_RULE && res->drop != NF_DROP_REJECT)
			sbuf_printf(&out, " (%s)", nf_drop_name(res->drop));
		else if (a->kind == FWD_DROP && !a->nf_drop)
			sbuf_printf(&out, " (dropped by gw: %s)", gw_drop_name(a->drop));
		if (a->kind == FWD_HOST)
			sbuf_add(&out, " (to the host)");
		if (a->cut)
			sbuf_printf(&out, " (in fragments of at most %u bytes)", a->cut);
		sbuf_add(&out, "\n");
		if (reply) {
			sbuf_printf(&out, "   answered with %s\n", reply);
			steps(&out, r, rtr, "     ");
		}
	}
	fputs(out.buf, stdout);
	sbuf_free(&out);
	sbuf_free(&pkt);
}

static int list_entry(struct ct_entry *e, void *arg)
{
	struct sbuf out;

	(void)arg;
	sbuf_init(&out);
	ct_format(e, 0, &out);
	if (out.len)
		printf("%s\n", out.buf);
	sbuf_free(&out);
	return 0;
}

/* What gw sends back, as the forwarding decision a says (a REJECT's reply,
 * time exceeded, fragmentation needed, host unreachable): built as the
 * kernel builds it, then sent through OUTPUT and POSTROUTING. */
static size_t answer(struct tracer *t, struct pkt *p, const struct nf_result *res,
		     const struct fwd_action *a, const char *in_iface, struct nf_trace *tr,
		     struct sbuf *reply)
{
	uint8_t buf[TRACE_PKT_MAX];
	struct nf_result rres;
	struct pkt rp;
	size_t len = dp_answer_build(&t->route, p, res, a, in_iface, t->ip_id++, buf, sizeof(buf));

	if (!len || pkt_parse(&rp, buf, len) != PKT_OK)
		return 0;
	nf_answer(t->nf, &rp, res, 0, 0x5eed + t->ip_id, &rres, tr);
	if (rres.verdict == NF_ACCEPT)
		trace_format(&rp, reply);
	return len;
}

/* Whether a source is a peer's (routes back by the tunnel). */
static bool from_peer(struct tracer *t, uint8_t family, const union nf_addr *src)
{
	struct nf_route r;
	int ret = family == NF_V6 ? route_lookup6(&t->route, src, &r) :
				    route_lookup(&t->route, src->ip, &r);

	/* any source that routes by the tunnel (the Address subnet included:
	 * the kernel-differential scenarios send from addresses no peer has) */
	return !ret && r.kind == NF_ROUTE_FORWARD && !strcmp(r.out, t->cfg.ifname);
}

static int trace_one(struct tracer *t, const char *arg)
{
	struct trace_spec s;
	char err[160];
	uint8_t buf[TRACE_PKT_MAX + 64], in_copy[TRACE_PKT_MAX];
	struct pkt p;
	struct nf_result res;
	struct rules_hit hits[TRACE_HITS];
	struct rules_trace rt = { .hits = hits, .max = TRACE_HITS };
	struct nf_trace tr = { .rules = &rt };
	uint32_t seq = 0, ack = 0;
	const struct ct_entry *e = NULL;
	enum ct_dir dir = CT_DIR_ORIGINAL;
	const struct sent *q = NULL;
	size_t len;
	enum pkt_error pe;

	char expanded[256];
	const char *in_iface;
	struct sbuf reply;
	struct rules_hit reply_hits[TRACE_HITS];
	struct rules_trace rrt = { .hits = reply_hits, .max = TRACE_HITS };
	struct nf_trace rtr = { .rules = &rrt };
	size_t reply_len = 0;
	struct fwd_env env = { t->cfg.ifname, t->cfg.uplink, t->cfg.uplink[0] != 0 };
	struct fwd_action act;
	enum fwd_from from;

	if (expand_refs(t, arg, expanded, sizeof(expanded))) {
		fprintf(stderr, "gw: trace: '%s': a reference @N.src|dst|sport|dport names no "
			"earlier packet\n", arg);
		return -EINVAL;
	}
	arg = expanded;
	if (trace_spec_parse(&s, arg, err, sizeof(err))) {
		fprintf(stderr, "gw: trace: '%s': %s\n", arg, err);
		return -EINVAL;
	}
	if (s.proto == IPPROTO_TCP)
		tcp_numbers(t, &s, &seq, &ack, &e, &dir);
	if ((s.proto == IPPROTO_ICMP && s.family == NF_V4 && pkt_icmp_is_error(s.icmp_type)) ||
	    (s.proto == IPPROTO_ICMPV6 && s.family == NF_V6 && s.icmp_type < 128)) {
		q = quote_for(t, s.family, &s.dst);
		if (!q) {
			fprintf(stderr, "gw: trace: '%s': an ICMP error quotes a packet that left "
				"towards %s, and none has\n", arg, strchr(arg, '>') + 2);
			return -EINVAL;
		}
	}
	{
		/* as much as an error quotes: 576 bytes in all for ICMP,
		 * 1280 for ICMPv6 */
		size_t room = s.family == NF_V6 ? ICMP6_ERROR_MAX - 48 : 548 - 8;

		len = trace_build(&s, seq, ack, t->ip_id++, q ? q->buf : NULL,
				  q ? (q->len > room ? room : q->len) : 0, buf, TRACE_PKT_MAX);
	}
	if (!len) {
		fprintf(stderr, "gw: trace: '%s': too long\n", arg);
		return -EINVAL;
	}
	memcpy(in_copy, buf, len);
	pe = pkt_parse(&p, buf, len);
	if (pe != PKT_OK) {
		fprintf(stderr, "gw: trace: '%s': not a valid packet (%s)\n", arg, pkt_error_name(pe));
		return -EINVAL;
	}
	p.room = pkt_room_of(sizeof(buf) - len); /* as gw run's buffers (TCPMSS) */
	in_iface = s.in[0] ? s.in : t->cfg.ifname;
	/* without "in": a peer's source comes from that peer; any other
	 * came from the host's TUN, made by the host or forwarded by it,
	 * decided as gw run decides it */
	if (!s.in[0] && !from_peer(t, s.family, &s.src)) {
		from = FWD_FROM_HOST;
		nf_from_host(t->nf, &p, NULL, 0, 0x5eed + t->ip_id, &res, &tr);
	} else {
		from = strcmp(in_iface, t->cfg.ifname) ? FWD_FROM_UPLINK : FWD_FROM_PEER;
		if (!strcmp(in_iface, t->cfg.ifname))
			p.owner = dp_peer_owner(&t->cfg, s.family, &s.src);
		nf_input(t->nf, &p, in_iface, 0, 0x5eed + t->ip_id, &res, &tr);
	}
	/* what gw run does with it next (gw/forward.h), cryptokey routing
	 * by the config's peers */
	fwd_decide(&env, &p, &res, from, &act);
	if (act.kind == FWD_PEER &&
	    !(p.outer.family == NF_V6 ? config_peer_for6(&t->cfg, p.outer.daddr.b) :
				       config_peer_for4(&t->cfg, p.outer.daddr.ip)))
		fwd_no_peer(from, &p, &act);
	sbuf_init(&reply);
	if (act.answer != FWD_ANSWER_NONE)
		reply_len = answer(t, &p, &res, &act, in_iface, &rtr, &reply);
	nf_release(t->nf, &res);
	if (s.proto == IPPROTO_TCP && res.verdict == NF_ACCEPT) {
		if (!e) {
			struct ct_tuple tuple;

			spec_tuple(&s, &tuple);
			e = ct_lookup(nf_ct(t->nf), &tuple, &dir);
		}
		tcp_advance(t, e, dir, &p, seq);
	}
	if (res.verdict == NF_ACCEPT)
		remember(t, &p);
	if (t->n_packets < TRACE_PACKETS) {
		t->after[t->n_packets].family = p.outer.family;
		t->after[t->n_packets].src = p.outer.saddr;
		t->after[t->n_packets].dst = p.outer.daddr;
		t->after[t->n_packets].sport = p.outer.sport;
		t->after[t->n_packets].dport = p.outer.dport;
		t->n_packets++;
	}
	print_result(t, arg, in_copy, len, &p, &res, &act, &tr, &rt,
		     reply.len ? reply.buf : NULL, &rtr, reply_len);
	sbuf_free(&reply);
	/* entries killed on the way (an RST, a reopen) are freed here */
	ct_expire(nf_ct(t->nf), 0, UINT32_MAX);
	return 0;
}

/* Rules = relative paths are relative to the config's directory. */
static int load_rules(struct tracer *t, struct rules **out, struct rules **out6,
		      const struct sbuf *live, const struct sbuf *live6)
{
	char err[512];

	*out = NULL;
	*out6 = NULL;
	if (live) {
		if (rulesfile_parse(out, "live rules", live->buf ? live->buf : "", live->len, NULL,
				    true, err, sizeof(err)) ||
		    (live6 && rulesfile_parse_as(out6, "live IPv6 rules", live6->buf ? live6->buf : "",
						 live6->len, NULL, true, NF_V6, err, sizeof(err)))) {
			fprintf(stderr, "gw: trace: %s\n", err);
			rules_free(*out);
			*out = NULL;
			return -EINVAL;
		}
		return 0;
	}
	if ((t->cfg.rules_path && rulesfile_load_cfg(out, t->cfg.path, t->cfg.rules_path, NULL,
						     NF_V4, err, sizeof(err))) ||
	    (t->cfg.rules6_path && rulesfile_load_cfg(out6, t->cfg.path, t->cfg.rules6_path, NULL,
						      NF_V6, err, sizeof(err)))) {
		fprintf(stderr, "%s\n", err);
		rules_free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

/* A live gateway's peers (trace-info's peer_owner / peer_allowed_ip lines
 * in text) replace the config file's: peers changed at runtime route and
 * own packets as they do in the gateway.  0 or -ENOMEM / -EINVAL. */
static int live_peers(struct config *c, char *text)
{
	char *line, *save = NULL;

	for (size_t i = 0; i < c->n_peers; i++)
		config_peer_free(&c->peers[i]);
	c->n_peers = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "peer_owner=", 11)) {
			struct config_peer *grown = realloc(c->peers, (c->n_peers + 1) * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			c->peers = grown;
			memset(&c->peers[c->n_peers], 0, sizeof(*grown));
			c->peers[c->n_peers++].owner = (uint16_t)strtoul(line + 11, NULL, 10);
		} else if (!strncmp(line, "peer_allowed_ip=", 16) && c->n_peers) {
			struct config_peer *p = &c->peers[c->n_peers - 1];
			struct cidr x, *grown;

			if (cidr_parse(line + 16, &x))
				return -EINVAL;
			grown = realloc(p->allowed_ips, (p->n_allowed_ips + 1) * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			p->allowed_ips = grown;
			p->allowed_ips[p->n_allowed_ips++] = x;
		}
	}
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	struct tracer *t;
	struct config_error cerr;
	struct sbuf warn;
	struct rules *rules = NULL, *rules6 = NULL;
	struct nf_config nfc = { 0 };
	struct in_addr a;
	uint32_t uplink = 0;
	union nf_addr uplink6 = { 0 };
	struct stat st;
	struct sbuf live, live6, info;
	bool has_live6 = false;
	char *cfgpath = NULL, *ua = NULL, *peers_text = NULL;
	bool is_live = false;
	int i, ret = 1;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage();
		return argc < 2 ? 1 : 0;
	}
	sbuf_init(&live);
	sbuf_init(&live6);
	sbuf_init(&info);
	if ((stat(argv[1], &st) && !strchr(argv[1], '/') && !strstr(argv[1], ".conf")) ||
	    (!stat(argv[1], &st) && S_ISSOCK(st.st_mode))) {
		const char *e;

		is_live = true;
		if (cmd_ask(argv[1], "trace-info", NULL, 0, &info) ||
		    cmd_ask(argv[1], "rules-save", NULL, 0, &live)) {
			ret = 1;
			goto out_live;
		}
		if ((e = cmd_answer_error(&info)) || (e = cmd_answer_error(&live))) {
			fprintf(stderr, "gw: %s", e);
			ret = 1;
			goto out_live;
		}
		cfgpath = info.buf ? strstr(info.buf, "config=") : NULL;
		ua = info.buf ? strstr(info.buf, "uplink_addr=") : NULL;
		if (!cfgpath || !ua) {
			fputs("gw: trace: unexpected answer\n", stderr);
			ret = 1;
			goto out_live;
		}
		cfgpath += 7;
		ua += 12;
		cfgpath[strcspn(cfgpath, "\n")] = 0;
		peers_text = ua + strcspn(ua, "\n");
		if (*peers_text)
			*peers_text++ = 0;
		if (inet_pton(AF_INET, ua, &a) == 1)
			uplink = ntohl(a.s_addr);
		if (!strncmp(peers_text, "uplink_addr6=", 13)) {
			char *v = peers_text + 13;

			peers_text = v + strcspn(v, "\n");
			if (*peers_text)
				*peers_text++ = 0;
			if (inet_pton(AF_INET6, v, uplink6.b) != 1)
				memset(&uplink6, 0, sizeof(uplink6));
		}
		/* the IPv6 rules, when the gateway has them (Rules6) */
		has_live6 = !cmd_ask(argv[1], "rules6-save", NULL, 0, &live6) &&
			    !cmd_answer_error(&live6);
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		ret = 1;
		goto out_live;
	}
	sbuf_init(&warn);
	if (config_load(&t->cfg, is_live ? cfgpath : argv[1], &warn, &cerr)) {
		fprintf(stderr, "%s\n", cerr.message);
		free(t);
		sbuf_free(&warn);
		ret = 1;
		goto out_live;
	}
	if (warn.len)
		fputs(warn.buf, stderr);
	if (is_live && live_peers(&t->cfg, peers_text)) {
		fputs("gw: trace: unexpected answer\n", stderr);
		goto out;
	}
	for (i = 2; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--json")) {
			t->json = true;
		} else if (!strcmp(argv[i], "--hex")) {
			t->hex = true;
		} else if (!strcmp(argv[i], "--conntrack")) {
			t->conntrack = true;
		} else if (!strcmp(argv[i], "--uplink-addr") && i + 1 < argc && !is_live) {
			/* once for IPv4, once for IPv6 */
			if (inet_pton(AF_INET, argv[++i], &a) == 1) {
				uplink = ntohl(a.s_addr);
			} else if (inet_pton(AF_INET6, argv[i], uplink6.b) != 1) {
				fprintf(stderr, "gw: trace: --uplink-addr: '%s' is not an IPv4 or "
					"IPv6 address\n", argv[i]);
				goto out;
			}
		} else {
			usage();
			goto out;
		}
	}
	if (i == argc) {
		usage();
		goto out;
	}
	if (load_rules(t, &rules, &rules6, is_live ? &live : NULL, has_live6 ? &live6 : NULL))
		goto out;
	if (route_init(&t->route, &t->cfg, uplink, UPLINK_MTU)) {
		fprintf(stderr, "gw: trace: out of memory\n");
		rules_free(rules);
		rules_free(rules6);
		goto out;
	}
	t->route.uplink_addr6 = uplink6;
	if (is_live) {
		/* as the live gateway routes: every address of the host (the
		 * CLI runs on the gateway's host) is local */
		struct route_addr *host = NULL;
		int n = route_host_addrs(&host);

		if (n > 0 && route_set_local(&t->route, host, (unsigned)n))
			n = -ENOMEM;
		free(host);
		if (n < 0) {
			fprintf(stderr, "gw: trace: the host's addresses: %s\n", strerror(-n));
			rules_free(rules);
			rules_free(rules6);
			goto out;
		}
	}
	ct_config_default(&nfc.ct, TRACE_CT_MAX);
	nfc.route = route_lookup;
	nfc.ifaddr = route_ifaddr;
	nfc.route6 = route_lookup6;
	nfc.ifaddr6 = route_ifaddr6;
	nfc.route_arg = &t->route;
	nfc.uplink_addr = uplink;
	nfc.nat_port_min = t->cfg.nat_port_min;
	nfc.nat_port_max = t->cfg.nat_port_max;
	snprintf(nfc.tunnel, sizeof(nfc.tunnel), "%s", t->cfg.ifname);
	snprintf(nfc.uplink, sizeof(nfc.uplink), "%s", t->cfg.uplink);
	/* as gw run: each peer's share of conntrack, no entry for what the
	 * host's kernel would never get */
	nfc.ct.owners = (uint16_t)(t->cfg.n_peers < UINT16_MAX ? t->cfg.n_peers : UINT16_MAX);
	nfc.ct.owner_max = t->cfg.peer_ct_max;
	nfc.local_gets = dp_host_gets;
	nfc.local_arg = &t->cfg;
	if (nf_create(&t->nf, &nfc, rules)) {
		fprintf(stderr, "gw: trace: out of memory\n");
		rules_free(rules);
		rules_free(rules6);
		goto out;
	}
	nf_set_uplink_addr6(t->nf, &uplink6);
	nf_set_rules6(t->nf, rules6);
	ret = 0;
	for (; i < argc; i++)
		if (trace_one(t, argv[i]))
			ret = 1;
	if (t->conntrack)
		ct_foreach(nf_ct(t->nf), list_entry, NULL);
	nf_destroy(t->nf);
out:
	route_free(&t->route);
	sbuf_free(&warn);
	config_free(&t->cfg);
	free(t);
out_live:
	sbuf_free(&live);
	sbuf_free(&live6);
	sbuf_free(&info);
	return ret;
}
