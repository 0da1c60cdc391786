/* SPDX-License-Identifier: MIT */
/*
 * nat/rules: every match and target on crafted packets — the base part,
 * tcp/udp/icmp, multiport, conntrack/state (on real conntrack entries),
 * iprange, limit (over injected time), mark/connmark, length, addrtype,
 * owner, comment; REJECT, LOG (the line format), MARK/CONNMARK, TCPMSS
 * (checksums verified by full recompute), NOTRACK/CT, SNAT/DNAT/
 * MASQUERADE/REDIRECT.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nat/ct.h"
#include "nat/ext.h"
#include "nat/nf.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"
#include "nat/rules.h"
#include "nat/sbuf.h"
#include "tests/unit/util_ctpkt.h"

static const uint32_t PEER = IP4(10, 8, 0, 2), SERVER = IP4(198, 51, 100, 1);
static const uint64_t SEC = 1000000000ull;

static struct rules *load(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct rules *load(const char *fmt, ...)
{
	char text[4096];
	struct rules *r = NULL;
	struct rules_error err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (rules_parse(&r, text, strlen(text), NULL, &err) != 0)
		fail_msg("line %u: %s (%s)\n%s", err.line, err.message, err.token, text);
	return r;
}

static void init_ctx(struct nf_ctx *ctx, struct tpkt *t, enum nf_hook hook, const char *in,
		     const char *out)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->pkt = &t->p;
	ctx->hook = hook;
	ctx->ctstate = CT_NEW;
	ctx->now = 1000 * SEC;
	snprintf(ctx->in, sizeof(ctx->in), "%s", in);
	snprintf(ctx->out, sizeof(ctx->out), "%s", out);
}

/* Does "-A <hook chain> SPEC -j DROP" in filter match ctx's packet? */
static bool matches(const char *spec, struct nf_ctx *ctx)
{
	struct rules *r = load("*filter\n-A %s %s -j DROP\nCOMMIT\n",
			       ctx->hook == NF_INPUT ? "INPUT" :
			       ctx->hook == NF_OUTPUT ? "OUTPUT" : "FORWARD", spec);
	enum nf_verdict v = rules_run(r, NF_FILTER, ctx, NULL);

	rules_free(r);
	assert_true(v == NF_DROP || v == NF_ACCEPT);
	return v == NF_DROP;
}

static void tcp(struct tpkt *t, uint16_t sport, uint16_t dport, uint8_t flags,
		const uint8_t *opt, size_t optlen, size_t data)
{
	struct tcp_spec s = {
		.src = PEER, .dst = SERVER, .sport = sport, .dport = dport, .seq = 1000,
		.ack = flags & TCP_ACK ? 77 : 0, .flags = flags, .win = 64240, .opt = opt,
		.optlen = optlen, .datalen = data,
	};

	tp_tcp(t, &s);
}

/* The IP and TCP checksums of t verify over the whole packet. */
static void assert_csums_ok(const struct tpkt *t)
{
	const uint8_t *ip = t->buf;
	size_t hl = (size_t)(ip[0] & 0xf) * 4, tot = be16_get(ip + 2);

	assert_int_equal(csum_fold(csum_add(0, ip, hl)), 0);
	assert_int_equal(csum_fold(csum_add(csum_pseudo(be32_get(ip + 12), be32_get(ip + 16),
							 ip[9], (uint16_t)(tot - hl)),
					    ip + hl, tot - hl)), 0);
}

/* ---- matches ---- */

static void test_match_base(void **state)
{
	struct tpkt t;
	struct nf_ctx ctx;

	(void)state;
	tcp(&t, 1000, 80, TCP_SYN, NULL, 0, 4);  /* 24 L4 bytes: can be fragmented */
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	assert_true(matches("-s 10.8.0.0/24", &ctx));
	assert_true(matches("-s 10.8.0.2", &ctx));
	assert_false(matches("-s 10.8.0.3", &ctx));
	assert_true(matches("! -s 10.9.0.0/16", &ctx));
	assert_false(matches("! -s 10.0.0.0/8", &ctx));
	assert_true(matches("-d 198.51.100.0/255.255.255.0", &ctx));
	assert_true(matches("-d 198.0.100.0/255.0.255.0", &ctx));
	assert_false(matches("-d 198.0.101.0/255.0.255.0", &ctx));
	assert_true(matches("-i gw0 -o eth0", &ctx));
	assert_false(matches("-i gw", &ctx));
	assert_false(matches("-i gw00", &ctx));
	assert_true(matches("-i gw+", &ctx));
	assert_true(matches("-i +", &ctx));
	assert_false(matches("! -i +", &ctx));
	assert_true(matches("-o e+", &ctx));
	assert_false(matches("! -o eth+", &ctx));
	assert_true(matches("! -o eth1", &ctx));
	assert_true(matches("-p tcp", &ctx));
	assert_true(matches("-p 6", &ctx));
	assert_false(matches("-p udp", &ctx));
	assert_true(matches("! -p udp", &ctx));
	assert_true(matches("-p all", &ctx));
	assert_false(matches("-f", &ctx));
	assert_true(matches("! -f", &ctx));

	/* garbage after the NUL of the packet's interface name is ignored */
	memset(ctx.in, 'x', sizeof(ctx.in));
	memcpy(ctx.in, "gw0", 4);
	assert_true(matches("-i gw0", &ctx));

	/* -f is a later fragment; a first fragment is not */
	tp_set_frag(&t, 0x2000);  /* MF, offset 0 */
	assert_false(matches("-f", &ctx));
	tp_set_frag(&t, 0x0003);  /* offset 24 */
	assert_true(matches("-f", &ctx));
	assert_false(matches("! -f", &ctx));
	/* no tcp header in a later fragment: no tcp match, no drop */
	assert_false(matches("-p tcp --dport 80", &ctx));
	assert_true(matches("-p tcp", &ctx));
}

static void test_match_tcp(void **state)
{
	static const uint8_t mss[] = { 2, 4, 0x05, 0xb4 };
	static const uint8_t nop_wscale[] = { 1, 3, 3, 7 };
	struct tpkt t;
	struct nf_ctx ctx;

	(void)state;
	tcp(&t, 40000, 443, TCP_SYN, mss, sizeof(mss), 0);
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	assert_true(matches("-p tcp --dport 443", &ctx));
	assert_true(matches("-p tcp --dport https", &ctx));
	assert_true(matches("-p tcp --sport 1024:", &ctx));
	assert_false(matches("-p tcp --sport :1023", &ctx));
	assert_true(matches("-p tcp ! --dport 80", &ctx));
	assert_false(matches("-p tcp ! --dport 400:500", &ctx));
	assert_true(matches("-p tcp --syn", &ctx));
	assert_false(matches("-p tcp ! --syn", &ctx));
	assert_true(matches("-p tcp --tcp-flags SYN,RST SYN", &ctx));
	assert_true(matches("-p tcp --tcp-flags ALL SYN", &ctx));
	assert_false(matches("-p tcp --tcp-flags ALL NONE", &ctx));
	assert_true(matches("-p tcp --tcp-option 2", &ctx));
	assert_false(matches("-p tcp --tcp-option 3", &ctx));
	assert_true(matches("-p tcp ! --tcp-option 3", &ctx));
	assert_true(matches("-p tcp -m tcp --dport 443 -m comment --comment x -m tcp --sport 40000",
			    &ctx));
	assert_false(matches("-p tcp -m tcp --dport 443 -m tcp --sport 1", &ctx));

	tcp(&t, 40000, 443, TCP_SYN | TCP_ACK, nop_wscale, sizeof(nop_wscale), 0);
	assert_false(matches("-p tcp --syn", &ctx));
	assert_true(matches("-p tcp --tcp-flags SYN,ACK SYN,ACK", &ctx));
	assert_true(matches("-p tcp --tcp-option 3", &ctx));
	assert_false(matches("-p tcp --tcp-option 2", &ctx));

	/* a fragment at offset 8 could rewrite the flags: dropped at once */
	tcp(&t, 40000, 443, TCP_ACK, NULL, 0, 16);
	tp_set_frag(&t, 0x0001);
	{
		struct rules *r = load("*filter\n-A FORWARD -p tcp --dport 9 -j DROP\n"
				       "-A FORWARD -j ACCEPT\nCOMMIT\n");

		init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
		assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_DROP);
		tp_set_frag(&t, 0x0002);
		assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_ACCEPT);
		rules_free(r);
	}
}

static void test_match_udp_icmp(void **state)
{
	struct tpkt t, inner;
	struct nf_ctx ctx;

	(void)state;
	tp_udp(&t, PEER, SERVER, 5353, 53, 20);
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	assert_true(matches("-p udp --dport 53", &ctx));
	assert_true(matches("-p udp --dport domain", &ctx));
	assert_true(matches("-p udp --sport 5000:6000 --dport 53", &ctx));
	assert_false(matches("-p udp --sport 6000:5000", &ctx));
	assert_false(matches("-p udp ! --dport 53", &ctx));
	assert_false(matches("-p tcp --dport 53", &ctx));

	tp_icmp(&t, PEER, SERVER, 8, 0, 77);
	assert_true(matches("-p icmp --icmp-type echo-request", &ctx));
	assert_true(matches("-p icmp --icmp-type 8/0", &ctx));
	assert_false(matches("-p icmp --icmp-type 8/1", &ctx));
	assert_true(matches("-p icmp --icmp-type any", &ctx));
	assert_true(matches("-p icmp --icmp-type 255/3", &ctx));
	assert_false(matches("-p icmp --icmp-type echo-reply", &ctx));
	assert_true(matches("-p icmp ! --icmp-type echo-reply", &ctx));

	tp_udp(&inner, SERVER, PEER, 53, 5353, 0);
	tp_icmp_err(&t, IP4(192, 0, 2, 9), PEER, 3, 3, &inner, 28);
	assert_true(matches("-p icmp --icmp-type port-unreachable", &ctx));
	assert_true(matches("-p icmp --icmp-type destination-unreachable", &ctx));
	assert_false(matches("-p icmp --icmp-type host-unreachable", &ctx));
	assert_false(matches("-p icmp --icmp-type 3/4", &ctx));
}

static void test_match_multiport_iprange_length(void **state)
{
	struct tpkt t;
	struct nf_ctx ctx;

	(void)state;
	tcp(&t, 40000, 8443, TCP_ACK, NULL, 0, 60);
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	assert_true(matches("-p tcp -m multiport --dports 22,8000:9000", &ctx));
	assert_false(matches("-p tcp -m multiport --dports 22,80,443", &ctx));
	assert_true(matches("-p tcp -m multiport ! --dports 22,80,443", &ctx));
	assert_true(matches("-p tcp -m multiport --sports 40000", &ctx));
	assert_false(matches("-p tcp -m multiport --sports 8443", &ctx));
	assert_true(matches("-p tcp -m multiport --ports 8443", &ctx));
	assert_true(matches("-p tcp -m multiport --ports 39999:40001", &ctx));
	assert_false(matches("-p tcp -m multiport ! --ports 40000,1", &ctx));

	assert_true(matches("-m iprange --src-range 10.8.0.1-10.8.0.9", &ctx));
	assert_false(matches("-m iprange --src-range 10.8.0.3-10.8.0.9", &ctx));
	assert_true(matches("-m iprange ! --src-range 10.8.0.3-10.8.0.9", &ctx));
	assert_true(matches("-m iprange --dst-range 198.51.100.1", &ctx));
	assert_false(matches("-m iprange --src-range 10.8.0.9-10.8.0.1", &ctx));
	assert_false(matches("-m iprange --src-range 10.8.0.2 ! --dst-range 198.51.100.0-198.51.100.255",
			     &ctx));

	/* 20 + 20 + 60 bytes */
	assert_true(matches("-m length --length 100", &ctx));
	assert_true(matches("-m length --length 0:100", &ctx));
	assert_false(matches("-m length --length 101:", &ctx));
	assert_true(matches("-m length ! --length 101:", &ctx));
	assert_false(matches("-m length --length 200:100", &ctx));
}

static void test_match_mark_addrtype_owner_comment(void **state)
{
	struct tpkt t;
	struct nf_ctx ctx;

	(void)state;
	tp_udp(&t, PEER, SERVER, 1, 2, 0);
	init_ctx(&ctx, &t, NF_OUTPUT, "", "eth0");
	ctx.mark = 0x1234;
	assert_true(matches("-m mark --mark 0x1234", &ctx));
	assert_false(matches("-m mark --mark 0x34", &ctx));
	assert_true(matches("-m mark --mark 0x34/0xff", &ctx));
	assert_true(matches("-m mark ! --mark 0x1/0x1", &ctx));
	assert_false(matches("-m connmark --mark 0", &ctx));      /* no entry */
	assert_false(matches("-m connmark ! --mark 0", &ctx));
	assert_true(matches("-m comment --comment \"anything at all\"", &ctx));

	/* addrtype: LOCAL from ctx->dst_local and 127/8, multicast,
	 * limited broadcast, else unicast */
	assert_true(matches("-m addrtype --dst-type UNICAST", &ctx));
	assert_false(matches("-m addrtype --dst-type LOCAL", &ctx));
	assert_true(matches("-m addrtype ! --dst-type LOCAL", &ctx));
	ctx.dst_local = true;
	assert_true(matches("-m addrtype --dst-type LOCAL", &ctx));
	assert_true(matches("-m addrtype --dst-type BROADCAST,LOCAL", &ctx));
	ctx.dst_local = false;
	tp_udp(&t, PEER, IP4(224, 0, 0, 251), 5353, 5353, 0);
	assert_true(matches("-m addrtype --dst-type MULTICAST", &ctx));
	tp_udp(&t, PEER, IP4(255, 255, 255, 255), 68, 67, 0);
	assert_true(matches("-m addrtype --dst-type BROADCAST", &ctx));
	tp_udp(&t, PEER, IP4(127, 0, 0, 53), 1, 53, 0);
	assert_true(matches("-m addrtype --dst-type LOCAL", &ctx));
	/* 127/8 is on lo: not eth0's */
	assert_false(matches("-m addrtype --dst-type LOCAL --limit-iface-out", &ctx));

	/* --src-type from ctx->src_local; --limit-iface-in/out: only the
	 * addresses of that interface are LOCAL, the others UNICAST */
	tp_udp(&t, IP4(10, 8, 0, 1), SERVER, 1, 2, 0);
	assert_true(matches("-m addrtype --src-type UNICAST", &ctx));
	assert_true(matches("-m addrtype ! --src-type LOCAL", &ctx));
	ctx.src_local = true;
	strcpy(ctx.src_dev, "gw0");
	assert_true(matches("-m addrtype --src-type LOCAL", &ctx));
	assert_false(matches("-m addrtype ! --src-type LOCAL", &ctx));
	assert_false(matches("-m addrtype --src-type LOCAL --dst-type LOCAL", &ctx));
	assert_true(matches("-m addrtype --src-type LOCAL --dst-type UNICAST", &ctx));
	assert_false(matches("-m addrtype --src-type LOCAL --limit-iface-out", &ctx));
	assert_true(matches("-m addrtype --src-type UNICAST --limit-iface-out", &ctx));
	snprintf(ctx.out, sizeof(ctx.out), "gw0");
	assert_true(matches("-m addrtype --src-type LOCAL --limit-iface-out", &ctx));
	init_ctx(&ctx, &t, NF_INPUT, "eth0", "");
	tp_udp(&t, SERVER, IP4(10, 8, 0, 1), 1, 2, 0);
	ctx.dst_local = true;
	strcpy(ctx.dst_dev, "gw0");
	assert_true(matches("-m addrtype --dst-type LOCAL", &ctx));
	assert_false(matches("-m addrtype --dst-type LOCAL --limit-iface-in", &ctx));
	assert_true(matches("-m addrtype ! --dst-type LOCAL --limit-iface-in", &ctx));
	snprintf(ctx.in, sizeof(ctx.in), "gw0");
	assert_true(matches("-m addrtype --dst-type LOCAL --limit-iface-in", &ctx));
	/* broadcast and multicast do not depend on the interface */
	tp_udp(&t, IP4(0, 0, 0, 0), IP4(224, 0, 0, 1), 68, 67, 0);
	assert_true(matches("-m addrtype --src-type BROADCAST --dst-type MULTICAST --limit-iface-in",
			    &ctx));
	init_ctx(&ctx, &t, NF_OUTPUT, "", "eth0");

	/* owner: without a socket only all-inverted tests match */
	assert_false(matches("-m owner --uid-owner 0", &ctx));
	assert_true(matches("-m owner ! --uid-owner 0", &ctx));
	assert_false(matches("-m owner ! --uid-owner 0 --gid-owner 0", &ctx));
	assert_false(matches("-m owner --socket-exists", &ctx));
	assert_true(matches("-m owner ! --socket-exists", &ctx));
	ctx.has_owner = true;
	ctx.uid = 1000;
	ctx.gid = 100;
	assert_true(matches("-m owner --uid-owner 1000", &ctx));
	assert_true(matches("-m owner --uid-owner 999-1001 --gid-owner 100", &ctx));
	assert_false(matches("-m owner ! --uid-owner 1000", &ctx));
	assert_false(matches("-m owner --gid-owner 0-99", &ctx));
	assert_true(matches("-m owner --socket-exists", &ctx));
	assert_false(matches("-m owner ! --socket-exists", &ctx));
}

/* What gw must find out about a host packet's socket for the rules. */
static void test_owner_needs(void **state)
{
	static const struct {
		const char *text;
		unsigned need;
	} cases[] = {
		{ "*filter\n-A OUTPUT -p tcp -j ACCEPT\nCOMMIT\n", 0 },
		{ "*filter\n-A OUTPUT -m owner --uid-owner 0 -j ACCEPT\nCOMMIT\n",
		  RULES_OWNER_SOCKET },
		{ "*filter\n-A OUTPUT -m owner ! --socket-exists -j DROP\nCOMMIT\n",
		  RULES_OWNER_SOCKET },
		{ "*filter\n-A OUTPUT -j ACCEPT\nCOMMIT\n*mangle\n"
		  "-A POSTROUTING -m owner --uid-owner 1 ! --gid-owner 2 -j ACCEPT\nCOMMIT\n",
		  RULES_OWNER_SOCKET | RULES_OWNER_GID },
		{ "*nat\n-N X\n-A X -m owner --gid-owner 7 -j RETURN\nCOMMIT\n",
		  RULES_OWNER_SOCKET | RULES_OWNER_GID },
	};

	(void)state;
	assert_int_equal(rules_owner_needs(NULL), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rules *r = load("%s", cases[i].text);

		assert_int_equal(rules_owner_needs(r), cases[i].need);
		rules_free(r);
	}
}

/* A small user database: alice 1000, bob 1001; groups staff 50, 1234 (a
 * group named like a number, taken by name first as iptables does). */
static int fake_user(void *arg, const char *name, uint32_t *id)
{
	(*(unsigned *)arg)++;
	if (!strcmp(name, "alice") || !strcmp(name, "bob")) {
		*id = name[0] == 'a' ? 1000 : 1001;
		return 0;
	}
	return -ENOENT;
}

static int fake_group(void *arg, const char *name, uint32_t *id)
{
	(*(unsigned *)arg)++;
	if (!strcmp(name, "staff") || !strcmp(name, "1234")) {
		*id = name[0] == 's' ? 50 : 7;
		return 0;
	}
	return -ENOENT;
}

/* --uid-owner/--gid-owner names: resolved through the callbacks when the
 * rules load, saved as numbers; ranges numeric; an unknown name or no
 * callback: line and message.  rule;saved (NULL: refused, with message) */
static void test_owner_names(void **state)
{
	static const struct {
		const char *rule, *saved, *message;
	} t[] = {
		/* 1 */ { "--uid-owner alice", "--uid-owner 1000", NULL },
		/* 2 */ { "! --uid-owner bob --gid-owner staff", "! --uid-owner 1001 --gid-owner 50", NULL },
		/* 3 */ { "--uid-owner 1000-2000", "--uid-owner 1000-2000", NULL },
		/* 4 */ { "--gid-owner 1234", "--gid-owner 7", NULL },
		/* 5 */ { "--gid-owner 1235", "--gid-owner 1235", NULL },
		/* 6 */ { "--uid-owner carol", NULL, "no such user" },
		/* 7 */ { "--gid-owner alice", NULL, "no such group" },
		/* 8 */ { "--uid-owner alice-bob", NULL, "Bad value for \"--uid-owner\"" },
		/* 9 */ { "--uid-owner 0-alice", NULL, "Bad value" },
	};
	unsigned calls = 0;
	const struct rules_parse_opts opts = { .user = fake_user, .group = fake_group, .arg = &calls };

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char text[256], want[256];
		struct rules *r = NULL;
		struct rules_error err;
		struct sbuf out;
		int rc;

		snprintf(text, sizeof(text), "*filter\n:OUTPUT ACCEPT [0:0]\n"
			 "-A OUTPUT -m owner %s -j ACCEPT\nCOMMIT\n", t[i].rule);
		rc = rules_parse_with(&r, text, strlen(text), NULL, &opts, &err);
		if (!t[i].saved) {
			if (rc != -EINVAL || err.line != 3 || !strstr(err.message, t[i].message))
				fail_msg("case %zu: rc %d line %u: %s", i + 1, rc, err.line, err.message);
			continue;
		}
		if (rc)
			fail_msg("case %zu: refused: %s", i + 1, err.message);
		sbuf_init(&out);
		rules_save(r, false, &out);
		snprintf(want, sizeof(want), "-A OUTPUT -m owner %s -j ACCEPT\n", t[i].saved);
		if (!strstr(out.buf, want))
			fail_msg("case %zu: saved as\n%s", i + 1, out.buf);
		sbuf_free(&out);
		rules_free(r);
	}
	assert_true(calls > 0);
	/* without callbacks the library takes numbers only */
	{
		const char *text = "*filter\n-A OUTPUT -m owner --uid-owner alice\nCOMMIT\n";
		struct rules *r = NULL;
		struct rules_error err;

		assert_int_equal(rules_parse(&r, text, strlen(text), NULL, &err), -EINVAL);
		assert_int_equal(err.line, 2);
		assert_non_null(strstr(err.message, "ids are numbers"));
	}
}

static void test_match_state_without_entry(void **state)
{
	struct tpkt t;
	struct nf_ctx ctx;

	(void)state;
	tp_udp(&t, PEER, SERVER, 1, 2, 0);
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	ctx.ctstate = CT_INVALID;
	assert_true(matches("-m conntrack --ctstate INVALID", &ctx));
	assert_true(matches("-m state --state INVALID", &ctx));
	assert_false(matches("-m conntrack --ctstate NEW,ESTABLISHED", &ctx));
	assert_true(matches("-m conntrack ! --ctstate NEW,ESTABLISHED", &ctx));
	/* other tests need an entry: no match, even inverted */
	assert_false(matches("-m conntrack --ctorigsrc 10.8.0.2", &ctx));
	assert_false(matches("-m conntrack ! --ctorigsrc 10.8.0.2", &ctx));
	assert_true(matches("-m conntrack --ctstate INVALID --ctorigsrc 1.1.1.1", &ctx));
	ctx.ctstate = CT_UNTRACKED;
	assert_true(matches("-m conntrack --ctstate UNTRACKED", &ctx));
	assert_true(matches("-m state --state UNTRACKED", &ctx));
	assert_false(matches("-m conntrack --ctstate INVALID", &ctx));
	assert_false(matches("-m conntrack --ctstatus NONE", &ctx));
}

/* An unconfirmed entry for t with its reply tuple rewritten as SNAT to
 * nat_addr:nat_port would leave it; confirmed. */
static struct ct_entry *snat_entry(struct ct_table *ct, struct tpkt *t, uint32_t nat_addr,
				   uint16_t nat_port, uint64_t now)
{
	struct nf_ctx ctx;
	struct ct_tuple reply;

	memset(&ctx, 0, sizeof(ctx));
	ctx.pkt = &t->p;
	ctx.now = now;
	ct_in(ct, &ctx, true);
	assert_non_null(ctx.ct);
	assert_int_equal(ctx.ctstate, CT_NEW);
	reply = *ct_entry_tuple(ctx.ct, CT_DIR_REPLY);
	reply.dst = nf_addr4(nat_addr);
	reply.dport = nat_port;
	ct_entry_set_reply(ctx.ct, &reply);
	ct_entry_set_status(ctx.ct, CT_S_SRC_NAT);
	assert_int_equal(ct_confirm(ct, ctx.ct, now), 0);
	return ctx.ct;
}

static void test_match_conntrack_entry(void **state)
{
	struct ct_config cfg;
	struct ct_table *ct;
	struct ct_entry *e;
	struct tpkt t, back;
	struct nf_ctx ctx;
	enum ct_dir dir;
	uint64_t now = 1000 * SEC;

	(void)state;
	ct_config_default(&cfg, 64);
	assert_int_equal(ct_create(&ct, &cfg), 0);

	tp_udp(&t, PEER, SERVER, 5000, 53, 10);
	e = snat_entry(ct, &t, IP4(192, 0, 2, 1), 61000, now);
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	ctx.now = now;
	ctx.ct = e;
	ctx.ctstate = CT_NEW;
	ctx.ctdir = CT_DIR_ORIGINAL;
	assert_true(matches("-m conntrack --ctstate NEW", &ctx));
	assert_true(matches("-m conntrack --ctstate SNAT", &ctx));
	assert_false(matches("-m conntrack --ctstate DNAT", &ctx));
	assert_true(matches("-m conntrack --ctstate NEW,SNAT --ctdir ORIGINAL", &ctx));
	assert_false(matches("-m conntrack --ctdir REPLY", &ctx));
	assert_true(matches("-m conntrack --ctorigsrc 10.8.0.0/24 --ctorigdst 198.51.100.1", &ctx));
	assert_true(matches("-m conntrack --ctorigsrc 10.8.0.99/24", &ctx));
	assert_false(matches("-m conntrack --ctorigsrc 10.9.0.0/24", &ctx));
	assert_true(matches("-m conntrack ! --ctorigsrc 10.9.0.0/24", &ctx));
	assert_true(matches("-m conntrack --ctreplsrc 198.51.100.1 --ctrepldst 192.0.2.1", &ctx));
	assert_true(matches("-m conntrack --ctorigsrcport 5000 --ctorigdstport 53", &ctx));
	assert_true(matches("-m conntrack --ctreplsrcport 53 --ctrepldstport 60000:62000", &ctx));
	assert_false(matches("-m conntrack --ctrepldstport 5000", &ctx));
	assert_true(matches("-m conntrack --ctproto udp", &ctx));
	assert_true(matches("-m conntrack ! --ctproto tcp", &ctx));
	assert_true(matches("-m conntrack --ctstatus CONFIRMED", &ctx));
	assert_false(matches("-m conntrack --ctstatus ASSURED,SEEN_REPLY", &ctx));
	assert_true(matches("-m conntrack ! --ctstatus ASSURED", &ctx));
	assert_false(matches("-m conntrack --ctstatus NONE", &ctx));
	assert_true(matches("-m conntrack --ctexpire 1:30", &ctx));
	assert_false(matches("-m conntrack --ctexpire 31:1000", &ctx));
	assert_false(matches("-m connmark --mark 0x7", &ctx));
	ct_entry_set_mark(e, 0x7);
	assert_true(matches("-m connmark --mark 0x7", &ctx));
	assert_true(matches("-m connmark --mark 0x3/0x3", &ctx));

	/* the reply comes back to the NAT address: ESTABLISHED, REPLY */
	tp_udp(&back, SERVER, IP4(192, 0, 2, 1), 53, 61000, 10);
	assert_int_equal(tp_ct(ct, &back, now + SEC, &e, &dir), CT_ESTABLISHED);
	assert_int_equal(dir, CT_DIR_REPLY);
	init_ctx(&ctx, &back, NF_FORWARD, "eth0", "gw0");
	ctx.now = now + SEC;
	ctx.ct = e;
	ctx.ctstate = CT_ESTABLISHED;
	ctx.ctdir = dir;
	assert_true(matches("-m conntrack --ctstate ESTABLISHED --ctdir REPLY", &ctx));
	assert_true(matches("-m state --state ESTABLISHED,RELATED", &ctx));
	assert_true(matches("-m conntrack --ctstatus SEEN_REPLY", &ctx));
	assert_false(matches("-m conntrack --ctdir ORIGINAL", &ctx));

	ct_destroy(ct);
}

static void test_match_limit(void **state)
{
	struct rules *r;
	struct tpkt t;
	struct nf_ctx ctx;
	uint64_t t0 = 5000 * SEC;
	int n;

	(void)state;
	tp_udp(&t, PEER, SERVER, 1, 2, 0);
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	/* 2 per second, burst 3: the bucket starts full */
	r = load("*filter\n-A FORWARD -m limit --limit 2/sec --limit-burst 3 -j DROP\nCOMMIT\n");
	ctx.now = t0;
	for (n = 0; rules_run(r, NF_FILTER, &ctx, NULL) == NF_DROP && n < 10; n++)
		;
	assert_int_equal(n, 3);
	/* half a second later: one token */
	ctx.now = t0 + SEC / 2 - 1;
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_ACCEPT);
	ctx.now = t0 + SEC / 2;
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_DROP);
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_ACCEPT);
	/* an hour idle fills the bucket to the burst only */
	ctx.now = t0 + 3600 * SEC;
	for (n = 0; rules_run(r, NF_FILTER, &ctx, NULL) == NF_DROP && n < 10; n++)
		;
	assert_int_equal(n, 3);
	/* time going backwards adds nothing */
	ctx.now = t0;
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_ACCEPT);
	rules_free(r);

	/* 3/hour default, burst 5; 60/minute is one per second */
	r = load("*filter\n-A FORWARD -m limit -j DROP\n-A FORWARD -m limit --limit 60/minute "
		 "--limit-burst 1 -j REJECT\nCOMMIT\n");
	ctx.now = t0;
	for (n = 0; rules_run(r, NF_FILTER, &ctx, NULL) == NF_DROP && n < 10; n++)
		;
	assert_int_equal(n, 5);
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_ACCEPT);
	ctx.now = t0 + 1200 * SEC;  /* 20 minutes: one more for 3/hour */
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_DROP);
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_REJECT);
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_ACCEPT);
	ctx.now += SEC;
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_REJECT);
	rules_free(r);
}

/* ---- targets ---- */

static void test_target_reject(void **state)
{
	static const struct {
		const char *opt;
		enum reject_with with;
	} cases[] = {
		{ "", REJECT_ICMP_PORT_UNREACH },
		{ "--reject-with icmp-net-unreachable", REJECT_ICMP_NET_UNREACH },
		{ "--reject-with host-unreach", REJECT_ICMP_HOST_UNREACH },
		{ "--reject-with icmp-proto-unreachable", REJECT_ICMP_PROTO_UNREACH },
		{ "--reject-with icmp-net-prohibited", REJECT_ICMP_NET_PROHIBITED },
		{ "--reject-with icmp-host-prohibited", REJECT_ICMP_HOST_PROHIBITED },
		{ "--reject-with admin-prohib", REJECT_ICMP_ADMIN_PROHIBITED },
		{ "--reject-with tcp-reset", REJECT_TCP_RESET },
	};
	struct tpkt t;
	struct nf_ctx ctx;

	(void)state;
	tcp(&t, 1, 2, TCP_SYN, NULL, 0, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rules *r = load("*filter\n-A INPUT -p tcp -j REJECT %s\nCOMMIT\n", cases[i].opt);

		init_ctx(&ctx, &t, NF_INPUT, "gw0", "");
		assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_REJECT);
		assert_int_equal(ctx.reject, cases[i].with);
		rules_free(r);
	}
}

struct logged {
	int level;
	char prefix[64];
	char line[1024];
	int calls;
};

static void log_cb(void *arg, int level, const char *prefix, const char *line)
{
	struct logged *l = arg;

	l->level = level;
	snprintf(l->prefix, sizeof(l->prefix), "%s", prefix);
	snprintf(l->line, sizeof(l->line), "%s", line);
	l->calls++;
}

static void log_one(const char *table, const char *chain, const char *opts, struct nf_ctx *ctx,
		    struct logged *l)
{
	struct rules *r = load("*%s\n-A %s -j LOG %s\n-A %s -j MARK --set-mark 9\nCOMMIT\n",
			       table, chain, opts, chain);
	uint32_t mark = ctx->mark;

	memset(l, 0, sizeof(*l));
	ctx->log = log_cb;
	ctx->log_arg = l;
	assert_int_equal(rules_run(r, strcmp(table, "mangle") ? NF_FILTER : NF_MANGLE, ctx, NULL),
			 NF_ACCEPT);
	assert_int_equal(l->calls, 1);
	/* LOG does not end the walk */
	assert_int_equal(ctx->mark, 9);
	ctx->mark = mark;
	rules_free(r);
}

static void test_target_log(void **state)
{
	static const uint8_t opts[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7 };
	struct tpkt t, inner;
	struct nf_ctx ctx;
	struct logged l;

	(void)state;
	tcp(&t, 40000, 443, TCP_SYN, NULL, 0, 0);
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	log_one("mangle", "FORWARD", "--log-prefix \"fw: \"", &ctx, &l);
	assert_int_equal(l.level, 4);
	assert_string_equal(l.prefix, "fw: ");
	assert_string_equal(l.line,
		"IN=gw0 OUT=eth0 MAC= SRC=10.8.0.2 DST=198.51.100.1 LEN=40 TOS=0x00 PREC=0x00 "
		"TTL=64 ID=4660 PROTO=TCP SPT=40000 DPT=443 WINDOW=64240 RES=0x00 SYN URGP=0 ");

	/* sequence numbers, options, DF, TOS, ECN flags, mark, uid */
	tcp(&t, 40000, 443, TCP_SYN | TCP_ECE | TCP_CWR, opts, sizeof(opts), 0);
	t.buf[1] = 0xb8;                 /* DSCP EF: TOS 0x18, PREC 0xA0 */
	be16_put(t.buf + 6, 0x4000);     /* DF */
	be16_put(t.buf + 10, 0);
	be16_put(t.buf + 10, csum_ip(t.buf, 20));
	assert_int_equal(pkt_parse(&t.p, t.buf, t.len), PKT_OK);
	init_ctx(&ctx, &t, NF_OUTPUT, "", "eth0");
	ctx.mark = 0x2a;
	ctx.has_owner = true;
	ctx.uid = 1000;
	ctx.gid = 100;
	log_one("filter", "OUTPUT",
		"--log-level debug --log-tcp-sequence --log-tcp-options --log-uid", &ctx, &l);
	assert_int_equal(l.level, 7);
	assert_string_equal(l.prefix, "");
	assert_string_equal(l.line,
		"IN= OUT=eth0 SRC=10.8.0.2 DST=198.51.100.1 LEN=48 TOS=0x18 PREC=0xA0 TTL=64 "
		"ID=4660 DF PROTO=TCP SPT=40000 DPT=443 SEQ=1000 ACK=0 WINDOW=64240 RES=0x00 "
		"CWR ECE SYN URGP=0 OPT (020405B401030307) UID=1000 GID=100 MARK=0x2a ");

	/* the 4 reserved bits: since AccECN (Linux 6.18) the lowest is AE, printed
	 * as a flag, and RES= shows the three others, as the kernel shifts them */
	tcp(&t, 40000, 443, TCP_ACK | TCP_FIN | TCP_PSH | TCP_URG | TCP_RST, NULL, 0, 0);
	t.buf[32] |= 0x0f;
	be16_put(t.buf + 38, 7);  /* urgent pointer */
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	log_one("filter", "FORWARD", "", &ctx, &l);
	assert_non_null(strstr(l.line, " WINDOW=64240 RES=0x38 AE URG ACK PSH RST FIN URGP=7 "));

	/* UDP */
	tp_udp(&t, PEER, SERVER, 5353, 53, 12);
	init_ctx(&ctx, &t, NF_INPUT, "gw0", "");
	log_one("filter", "INPUT", "", &ctx, &l);
	assert_string_equal(l.line,
		"IN=gw0 OUT= MAC= SRC=10.8.0.2 DST=198.51.100.1 LEN=40 TOS=0x00 PREC=0x00 TTL=64 "
		"ID=4660 PROTO=UDP SPT=5353 DPT=53 LEN=20 ");

	/* ICMP echo, and an error quoting a UDP datagram */
	tp_icmp(&t, PEER, SERVER, 8, 0, 77);
	log_one("filter", "INPUT", "", &ctx, &l);
	assert_string_equal(l.line,
		"IN=gw0 OUT= MAC= SRC=10.8.0.2 DST=198.51.100.1 LEN=36 TOS=0x00 PREC=0x00 TTL=64 "
		"ID=4660 PROTO=ICMP TYPE=8 CODE=0 ID=77 SEQ=1 ");
	tp_udp(&inner, SERVER, PEER, 53, 5353, 4);
	tp_icmp_err(&t, IP4(192, 0, 2, 9), PEER, 3, 4, &inner, 28);
	be16_put(t.buf + 20 + 6, 1400);  /* next-hop MTU (outside the checksum test) */
	log_one("filter", "INPUT", "", &ctx, &l);
	assert_string_equal(l.line,
		"IN=gw0 OUT= MAC= SRC=192.0.2.9 DST=10.8.0.2 LEN=56 TOS=0x00 PREC=0x00 TTL=64 "
		"ID=4660 PROTO=ICMP TYPE=3 CODE=4 [SRC=198.51.100.1 DST=10.8.0.2 LEN=32 TOS=0x00 "
		"PREC=0x00 TTL=64 ID=4660 PROTO=UDP SPT=53 DPT=5353 LEN=12 ] MTU=1400 ");

	/* a later fragment: no ports; another protocol: its number */
	tp_udp(&t, PEER, SERVER, 1, 2, 40);
	tp_set_frag(&t, 0x2003);
	log_one("filter", "INPUT", "", &ctx, &l);
	assert_string_equal(l.line,
		"IN=gw0 OUT= MAC= SRC=10.8.0.2 DST=198.51.100.1 LEN=68 TOS=0x00 PREC=0x00 TTL=64 "
		"ID=4660 MF FRAG:3 PROTO=UDP ");
	tp_raw(&t, PEER, SERVER, 47, 8);
	log_one("filter", "INPUT", "", &ctx, &l);
	assert_string_equal(l.line,
		"IN=gw0 OUT= MAC= SRC=10.8.0.2 DST=198.51.100.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 "
		"ID=4660 PROTO=47 ");

	/* the buffer is always terminated */
	{
		char small[16];

		assert_true(ext_log_format(&ctx, 0, small, sizeof(small)) > sizeof(small));
		assert_int_equal(strlen(small), sizeof(small) - 1);
	}

	/* no sink: nothing happens, the walk goes on */
	{
		struct rules *r = load("*filter\n-A INPUT -j LOG\n-A INPUT -j DROP\nCOMMIT\n");

		init_ctx(&ctx, &t, NF_INPUT, "gw0", "");
		assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_DROP);
		rules_free(r);
	}
}

/* ---- IPv6 ---- */

static struct rules *load6(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct rules *load6(const char *fmt, ...)
{
	static const struct rules_parse_opts v6 = { .family = NF_V6 };
	char text[4096];
	struct rules *r = NULL;
	struct rules_error err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (rules_parse_with(&r, text, strlen(text), NULL, &v6, &err) != 0)
		fail_msg("line %u: %s (%s)\n%s", err.line, err.message, err.token, text);
	return r;
}

/* t := the packet in hex, parsed */
static void tp_hex(struct tpkt *t, const char *hex)
{
	size_t n = strlen(hex) / 2;

	assert_true(n <= sizeof(t->buf));
	memset(t->buf, 0, sizeof(t->buf));
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		t->buf[i] = (uint8_t)v;
	}
	t->len = n;
	if (pkt_parse(&t->p, t->buf, t->len) != PKT_OK)
		fail_msg("pkt_parse refuses %s: %s", hex,
			 pkt_error_name(pkt_parse(&t->p, t->buf, t->len)));
}

/* The line an ip6tables LOG rule with opts in chain prints for ctx's packet */
static void log6_one(const char *table, const char *chain, const char *opts,
		     struct nf_ctx *ctx, struct logged *l)
{
	struct rules *r = load6("*%s\n-A %s -j LOG %s\n-A %s -j MARK --set-mark 9\nCOMMIT\n",
				table, chain, opts, chain);
	uint32_t mark = ctx->mark;

	memset(l, 0, sizeof(*l));
	ctx->log = log_cb;
	ctx->log_arg = l;
	assert_int_equal(rules_run(r, strcmp(table, "mangle") ? NF_FILTER : NF_MANGLE, ctx, NULL),
			 NF_ACCEPT);
	assert_int_equal(l->calls, 1);
	assert_int_equal(ctx->mark, 9);
	ctx->mark = mark;
	rules_free(r);
}

/*
 * Packets sent from one namespace into another whose ip6tables raw
 * PREROUTING had "-j LOG" and "-j LOG --log-tcp-sequence --log-tcp-options
 * --log-ip-options" (Linux 6.18.44, iptables 1.8.9), and the two lines the
 * kernel printed for each, MAC= emptied (gw's view has no link-layer header).
 */
static const struct {
	const char *hex, *plain, *opts;
} kernel_log6[] = {
	{ /* tcp_syn */
		"6b8123450028064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4001bb000003e800000000a0c2fd204cc20000020405b40402080a00000001"
		"0000000001030307",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=80 TC=184 HOPLIMIT=64 "
		"FLOWLBL=74565 PROTO=TCP SPT=40000 DPT=443 WINDOW=64800 RES=0x00 CWR ECE SYN "
		"URGP=0 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=80 TC=184 HOPLIMIT=64 "
		"FLOWLBL=74565 PROTO=TCP SPT=40000 DPT=443 SEQ=1000 ACK=0 WINDOW=64800 "
		"RES=0x00 CWR ECE SYN URGP=0 OPT (020405B40402080A000000010000000001030307) " },
	{ /* tcp_flags */
		"600000000019060720010db800010000000000000000000220010db80002000000000000"
		"000000029c4001bb000007d000000bb85f3d02004dcd000768656c6c6f",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=65 TC=0 HOPLIMIT=7 "
		"FLOWLBL=0 PROTO=TCP SPT=40000 DPT=443 WINDOW=512 RES=0x38 AE URG ACK PSH "
		"RST FIN URGP=7 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=65 TC=0 HOPLIMIT=7 "
		"FLOWLBL=0 PROTO=TCP SPT=40000 DPT=443 SEQ=2000 ACK=3000 WINDOW=512 RES=0x38 "
		"AE URG ACK PSH RST FIN URGP=7 " },
	{ /* udp */
		"600fffff0014114020010db800010000000000000000000220010db80002000000000000"
		"0000000214e90035001428c3303132333435363738396162",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=60 TC=0 HOPLIMIT=64 "
		"FLOWLBL=1048575 PROTO=UDP SPT=5353 DPT=53 LEN=20 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=60 TC=0 HOPLIMIT=64 "
		"FLOWLBL=1048575 PROTO=UDP SPT=5353 DPT=53 LEN=20 " },
	{ /* echo */
		"6000000000103a4020010db800010000000000000000000220010db80002000000000000"
		"0000000280006c5a004d000170696e6764617461",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=56 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=128 CODE=0 ID=77 SEQ=1 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=56 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=128 CODE=0 ID=77 SEQ=1 " },
	{ /* unreach */
		"6000000000443a4020010db800010000000000000000000120010db80001000000000000"
		"00000002010431d800000000600000000014113f20010db8000200000000000000000002"
		"20010db8000100000000000000000002003514e9001428c3303132333435363738396162",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0001 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=108 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=1 CODE=4 "
		"[SRC=2001:0db8:0002:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=60 TC=0 HOPLIMIT=63 "
		"FLOWLBL=0 PROTO=UDP SPT=53 DPT=5353 LEN=20 ] ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0001 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=108 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=1 CODE=4 "
		"[SRC=2001:0db8:0002:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=60 TC=0 HOPLIMIT=63 "
		"FLOWLBL=0 PROTO=UDP SPT=53 DPT=5353 LEN=20 ] " },
	{ /* ptb */
		"60000000004c3a4020010db800010000000000000000000120010db80001000000000000"
		"0000000202004bb200000500610abcde0578064020010db8000100000000000000000002"
		"20010db80002000000000000000000029c4001bb0000138800001770501803e8cd5f0000"
		"7878787878787878",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0001 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=116 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=2 CODE=0 "
		"[SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=1440 TC=16 HOPLIMIT=64 "
		"FLOWLBL=703710 PROTO=TCP SPT=40000 DPT=443 WINDOW=1000 RES=0x00 ACK PSH "
		"URGP=0 ] MTU=1280 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0001 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=116 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=2 CODE=0 "
		"[SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=1440 TC=16 HOPLIMIT=64 "
		"FLOWLBL=703710 PROTO=TCP SPT=40000 DPT=443 SEQ=5000 ACK=6000 WINDOW=1000 "
		"RES=0x00 ACK PSH URGP=0 ] MTU=1280 " },
	{ /* param */
		"6000000000443a4020010db800010000000000000000000120010db80001000000000000"
		"000000020401f1a5000000286000000000143c4020010db8000100000000000000000002"
		"20010db8000200000000000000000002110001040000000000010002000cdf9361626364",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0001 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=108 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=4 CODE=1 POINTER=00000028 "
		"[SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=60 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=UDP SPT=1 DPT=2 LEN=12 ] ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0001 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=108 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=4 CODE=1 POINTER=00000028 "
		"[SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=60 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 OPT ( ) PROTO=UDP SPT=1 DPT=2 LEN=12 ] " },
	{ /* timex */
		"6000000000383a4020010db800010000000000000000000120010db80001000000000000"
		"000000020300074f000000006000000000083a0120010db8000100000000000000000002"
		"20010db80002000000000000000000028000243800090003",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0001 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=96 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=3 CODE=0 "
		"[SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=48 TC=0 HOPLIMIT=1 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=128 CODE=0 ID=9 SEQ=3 ] ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0001 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=96 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=3 CODE=0 "
		"[SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=48 TC=0 HOPLIMIT=1 "
		"FLOWLBL=0 PROTO=ICMPv6 TYPE=128 CODE=0 ID=9 SEQ=3 ] " },
	{ /* hbh_dst_tcp */
		"600000000030004020010db800010000000000000000000220010db80002000000000000"
		"000000023c000104000000000601010c0000000000000000000000009c41005000000001"
		"00000000600204009c1b0000020405b4",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=88 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=TCP SPT=40001 DPT=80 WINDOW=1024 RES=0x00 SYN URGP=0 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=88 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 OPT ( ) OPT ( ) PROTO=TCP SPT=40001 DPT=80 SEQ=1 ACK=0 "
		"WINDOW=1024 RES=0x00 SYN URGP=0 OPT (020405B4) " },
	{ /* hbh_rt_dst_udp */
		"600000000031004020010db800010000000000000000000220010db80002000000000000"
		"000000022b000104000000003c0200000000000020010db8000200000000000000000002"
		"11000104000000000007000900092a537a",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=89 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=UDP SPT=7 DPT=9 LEN=9 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=89 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 OPT ( ) OPT ( ) OPT ( ) PROTO=UDP SPT=7 DPT=9 LEN=9 " },
	{ /* frag_first */
		"6000000000202c4020010db800010000000000000000000220010db80002000000000000"
		"0000000211000001deadbeef138817700020794d00000000000000000000000000000000",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=72 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 FRAG:0 INCOMPLETE ID:deadbeef PROTO=UDP SPT=5000 DPT=6000 LEN=32 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=72 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 OPT ( FRAG:0 INCOMPLETE ID:deadbeef ) PROTO=UDP SPT=5000 DPT=6000 "
		"LEN=32 " },
	{ /* frag_later */
		"6000000000102c4020010db800010000000000000000000220010db80002000000000000"
		"0000000211000018deadbeef0000000000000000",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=56 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 FRAG:24 ID:deadbeef PROTO=UDP ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=56 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 OPT ( FRAG:24 ID:deadbeef ) PROTO=UDP " },
	{ /* frag_later_dst */
		"6000000000182c4020010db800010000000000000000000220010db80002000000000000"
		"000000023c0000110000123411000104000000000000000000000000",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=64 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 FRAG:16 INCOMPLETE ID:00001234 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=64 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 OPT ( FRAG:16 INCOMPLETE ID:00001234 ) OPT ( )" },
	{ /* frag_first_hbh */
		"600000000028004020010db800010000000000000000000220010db80002000000000000"
		"000000022c00010400000000060000010000000700010002000000000000000050020001"
		"5462000000000000",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=80 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 FRAG:0 INCOMPLETE ID:00000007 PROTO=TCP SPT=1 DPT=2 WINDOW=1 "
		"RES=0x00 SYN URGP=0 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=80 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 OPT ( ) OPT ( FRAG:0 INCOMPLETE ID:00000007 ) PROTO=TCP SPT=1 "
		"DPT=2 SEQ=0 ACK=0 WINDOW=1 RES=0x00 SYN URGP=0 " },
	{ /* esp */
		"600000000018324020010db800010000000000000000000220010db80002000000000000"
		"00000002000012340000000100000000000000000000000000000000",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=64 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=64 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 OPT ( ESP SPI=0x1234 )" },
	{ /* ah_tcp */
		"60000000002c334020010db800010000000000000000000220010db80002000000000000"
		"00000002060400000000009900000005000000000000000000000000001608ae0000000a"
		"00000014501000644b160000",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=84 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=TCP SPT=22 DPT=2222 WINDOW=100 RES=0x00 ACK URGP=0 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=84 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 OPT ( AH SPI=0x99 ) PROTO=TCP SPT=22 DPT=2222 SEQ=10 ACK=20 "
		"WINDOW=100 RES=0x00 ACK URGP=0 " },
	{ /* nonext */
		"6000000000003b4020010db800010000000000000000000220010db80002000000000000"
		"00000002",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=40 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=59 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=40 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=59 " },
	{ /* gre */
		"6000000000082f4020010db800010000000000000000000220010db80002000000000000"
		"000000020000000000000000",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=48 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=47 ",
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=48 TC=0 HOPLIMIT=64 "
		"FLOWLBL=0 PROTO=47 " },
};

static void test_target_log6(void **state)
{
	struct tpkt t;
	struct nf_ctx ctx;
	struct logged l;

	(void)state;
	for (size_t i = 0; i < sizeof(kernel_log6) / sizeof(kernel_log6[0]); i++) {
		tp_hex(&t, kernel_log6[i].hex);
		init_ctx(&ctx, &t, NF_PREROUTING, "r0", "");
		log6_one("mangle", "PREROUTING", "", &ctx, &l);
		if (strcmp(l.line, kernel_log6[i].plain))
			fail_msg("packet %zu:\n got  %s\n want %s", i, l.line, kernel_log6[i].plain);
		log6_one("mangle", "PREROUTING",
			 "--log-tcp-sequence --log-tcp-options --log-ip-options", &ctx, &l);
		if (strcmp(l.line, kernel_log6[i].opts))
			fail_msg("packet %zu, options:\n got  %s\n want %s", i, l.line,
				 kernel_log6[i].opts);
	}

	/* the mark after the quote (mangle PREROUTING -j MARK --set-mark 0x2a,
	 * then -j LOG --log-uid: no socket, no UID) */
	tp_hex(&t, kernel_log6[5].hex);
	init_ctx(&ctx, &t, NF_PREROUTING, "r0", "");
	ctx.mark = 0x2a;
	log6_one("mangle", "PREROUTING", "--log-uid", &ctx, &l);
	assert_string_equal(l.line,
		"IN=r0 OUT= MAC= SRC=2001:0db8:0001:0000:0000:0000:0000:0001 "
		"DST=2001:0db8:0001:0000:0000:0000:0000:0002 LEN=116 TC=0 HOPLIMIT=64 FLOWLBL=0 "
		"PROTO=ICMPv6 TYPE=2 CODE=0 [SRC=2001:0db8:0001:0000:0000:0000:0000:0002 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=1440 TC=16 HOPLIMIT=64 "
		"FLOWLBL=703710 PROTO=TCP SPT=40000 DPT=443 WINDOW=1000 RES=0x00 ACK PSH "
		"URGP=0 ] MTU=1280 MARK=0x2a ");

	/* every byte of every packet above set to values that steer the walk
	 * (extension header types, lengths, "no next header"): whatever the
	 * parser takes is printed without reading past the packet (SAN=1) and
	 * the line is whole */
	for (size_t i = 0; i < sizeof(kernel_log6) / sizeof(kernel_log6[0]); i++) {
		static const uint8_t vals[] = { 0, 1, 2, 4, 6, 17, 43, 44, 50, 51, 58, 59, 60,
						0x80, 0xff };
		char line[1024];

		tp_hex(&t, kernel_log6[i].hex);
		for (size_t at = 0; at < t.len; at++)
			for (size_t v = 0; v < sizeof(vals); v++) {
				struct tpkt m = t;

				m.buf[at] = vals[v];
				if (pkt_parse(&m.p, m.buf, m.len) != PKT_OK)
					continue;
				init_ctx(&ctx, &m, NF_PREROUTING, "r0", "");
				for (unsigned int f = 0; f < 2; f++) {
					size_t n = ext_log_format(&ctx, f ? 0x0f : 0, line,
								  sizeof(line));

					assert_true(n < sizeof(line));
					assert_int_equal(strlen(line), n);
				}
			}
	}

	/* a datagram of a local socket (uid 1000, gid 100): filter OUTPUT -p udp
	 * -j LOG --log-uid --log-level 6 */
	tp_hex(&t, "600ee985000b114020010db800020000000000000000000120010db80002000000000000"
		   "00000002858f0009000b455d756964");
	init_ctx(&ctx, &t, NF_OUTPUT, "", "r1");
	ctx.has_owner = true;
	ctx.uid = 1000;
	ctx.gid = 100;
	log6_one("filter", "OUTPUT", "--log-uid --log-level 6", &ctx, &l);
	assert_int_equal(l.level, 6);
	assert_string_equal(l.line,
		"IN= OUT=r1 SRC=2001:0db8:0002:0000:0000:0000:0000:0001 "
		"DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=51 TC=0 HOPLIMIT=64 "
		"FLOWLBL=977285 PROTO=UDP SPT=34191 DPT=9 LEN=11 UID=1000 GID=100 ");
}

static void test_target_mark_connmark(void **state)
{
	static const struct {
		const char *opt;
		uint32_t before, after;
	} marks[] = {
		{ "--set-mark 0x5", 0xff00, 0x5 },
		{ "--set-mark 0x5/0xf", 0xff00, 0xff05 },
		{ "--set-xmark 0x5/0x1", 0x0, 0x5 },       /* (0 & ~1) ^ 5 */
		{ "--and-mark 0xf0", 0x1234, 0x30 },
		{ "--or-mark 0x3", 0x10, 0x13 },
		{ "--xor-mark 0x11", 0x10, 0x01 },
	};
	struct ct_config cfg;
	struct ct_table *ct;
	struct ct_entry *e;
	struct rules *r;
	struct tpkt t;
	struct nf_ctx ctx;

	(void)state;
	tp_udp(&t, PEER, SERVER, 1, 2, 0);
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		r = load("*mangle\n-A PREROUTING -j MARK %s\n-A PREROUTING -m mark --mark 0x5 "
			 "-j MARK --or-mark 0x100\nCOMMIT\n", marks[i].opt);
		init_ctx(&ctx, &t, NF_PREROUTING, "gw0", "");
		ctx.mark = marks[i].before;
		assert_int_equal(rules_run(r, NF_MANGLE, &ctx, NULL), NF_ACCEPT);
		/* the next rule sees the new mark */
		assert_int_equal(ctx.mark, marks[i].after == 5 ? 0x105 : marks[i].after);
		rules_free(r);
	}

	ct_config_default(&cfg, 16);
	assert_int_equal(ct_create(&ct, &cfg), 0);
	assert_int_equal(tp_ct(ct, &t, SEC, &e, NULL), CT_NEW);
	init_ctx(&ctx, &t, NF_PREROUTING, "gw0", "");
	ctx.ct = e;

	r = load("*mangle\n-A PREROUTING -j CONNMARK --set-mark 0x30/0xf0\nCOMMIT\n");
	ct_entry_set_mark(e, 0x0f0f);
	rules_run(r, NF_MANGLE, &ctx, NULL);
	assert_int_equal(ct_entry_mark(e), 0x0f3f);
	rules_free(r);

	r = load("*mangle\n-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff00\nCOMMIT\n");
	ctx.mark = 0xabcd;
	ct_entry_set_mark(e, 0x12345678);
	rules_run(r, NF_MANGLE, &ctx, NULL);
	/* (ct & ~ctmask) ^ (mark & nfmask) */
	assert_int_equal(ct_entry_mark(e), (0x12345678u & ~0xff00u) ^ 0xcdu);
	rules_free(r);

	r = load("*mangle\n-A PREROUTING -j CONNMARK --restore-mark --mask 0xff\n"
		 "-A PREROUTING -m mark --mark 0x78/0xff -j DROP\nCOMMIT\n");
	ctx.mark = 0xab00;
	ct_entry_set_mark(e, 0x12345678);
	assert_int_equal(rules_run(r, NF_MANGLE, &ctx, NULL), NF_DROP);
	assert_int_equal(ctx.mark, 0xab78);
	/* without an entry CONNMARK does nothing */
	ctx.ct = NULL;
	ctx.mark = 0xab00;
	assert_int_equal(rules_run(r, NF_MANGLE, &ctx, NULL), NF_ACCEPT);
	assert_int_equal(ctx.mark, 0xab00);
	rules_free(r);

	/* each --mark belongs to the -m it follows: two matches, both tested */
	r = load("*filter\n-A FORWARD -m connmark --mark 0x7 -m mark --mark 0x9 -j DROP\n"
		 "COMMIT\n");
	init_ctx(&ctx, &t, NF_FORWARD, "eth0", "gw0");
	ctx.ct = e;
	ct_entry_set_mark(e, 0x7);
	ctx.mark = 0x9;
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_DROP);
	ctx.mark = 0x7;
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_ACCEPT);
	ctx.mark = 0x9;
	ct_entry_set_mark(e, 0x9);
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_ACCEPT);
	rules_free(r);
	ct_destroy(ct);
}

static uint16_t mss_of(const struct tpkt *t)
{
	const uint8_t *th = t->buf + t->p.outer.l4;

	for (unsigned int i = 20; i + 4 <= t->p.outer.l4_hlen;) {
		if (th[i] == 2 && th[i + 1] == 4)
			return be16_get(th + i + 2);
		i += th[i] <= 1 ? 1 : th[i + 1];
	}
	return 0;
}

static enum nf_verdict mss_run(const char *target, struct tpkt *t, uint16_t pmtu,
			       uint16_t room, struct nf_ctx *ctx)
{
	struct rules *r = load("*mangle\n-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS %s\n"
			       "COMMIT\n", target);
	enum nf_verdict v;

	init_ctx(ctx, t, NF_FORWARD, "gw0", "eth0");
	ctx->pmtu = pmtu;
	ctx->pkt_room = room;
	v = rules_run(r, NF_MANGLE, ctx, NULL);
	rules_free(r);
	return v;
}

static void test_target_tcpmss(void **state)
{
	static const uint8_t mss1460[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7 };
	static const uint8_t mss500[] = { 2, 4, 0x01, 0xf4 };
	static const uint8_t wscale[] = { 1, 3, 3, 7 };
	struct tpkt t;
	struct nf_ctx ctx;

	(void)state;
	/* lowered to --set-mss */
	tcp(&t, 1, 2, TCP_SYN, mss1460, sizeof(mss1460), 0);
	assert_int_equal(mss_run("--set-mss 1400", &t, 0, 0, &ctx), NF_ACCEPT);
	assert_int_equal(mss_of(&t), 1400);
	assert_true(ctx.pkt_changed);
	assert_csums_ok(&t);

	/* clamped to the path MTU - 40 */
	tcp(&t, 1, 2, TCP_SYN, mss1460, sizeof(mss1460), 0);
	assert_int_equal(mss_run("--clamp-mss-to-pmtu", &t, 1420, 0, &ctx), NF_ACCEPT);
	assert_int_equal(mss_of(&t), 1380);
	assert_csums_ok(&t);
	/* an unusable path MTU drops */
	assert_int_equal(mss_run("--clamp-mss-to-pmtu", &t, 40, 0, &ctx), NF_DROP);

	/* never raised */
	tcp(&t, 1, 2, TCP_SYN, mss500, sizeof(mss500), 0);
	assert_int_equal(mss_run("--set-mss 1400", &t, 0, 4, &ctx), NF_ACCEPT);
	assert_int_equal(mss_of(&t), 500);
	assert_false(ctx.pkt_changed);

	/* not a SYN: the rule's --tcp-flags keeps it out */
	tcp(&t, 1, 2, TCP_SYN | TCP_RST, mss1460, sizeof(mss1460), 0);
	assert_int_equal(mss_run("--set-mss 1000", &t, 0, 4, &ctx), NF_ACCEPT);
	assert_int_equal(mss_of(&t), 1460);

	/* a SYN without MSS option gets min(536, target), after its options */
	tcp(&t, 1, 2, TCP_SYN, wscale, sizeof(wscale), 0);
	memset(t.buf + t.len, 0xee, 8);
	/* what the caller set after pkt_parse survives the parse again */
	t.p.owner = 7;
	t.p.frag_max = 1000;
	t.p.l4_csum_ok = true;
	assert_int_equal(mss_run("--set-mss 1400", &t, 0, 8, &ctx), NF_ACCEPT);
	assert_true(ctx.pkt_changed);
	assert_int_equal(ctx.pkt_room, 4);
	assert_int_equal(t.p.room, 4);
	assert_int_equal(t.p.owner, 7);
	assert_int_equal(t.p.frag_max, 1000);
	assert_true(t.p.l4_csum_ok);
	t.len += 4;
	assert_int_equal(t.p.outer.tot_len, 48);
	assert_int_equal(t.p.outer.l4_hlen, 28);
	assert_int_equal(mss_of(&t), 536);
	assert_memory_equal(t.buf + 40, "\x02\x04\x02\x18\x01\x03\x03\x07", 8);
	assert_csums_ok(&t);
	assert_int_equal(t.buf[48], 0xee);

	tcp(&t, 1, 2, TCP_SYN, NULL, 0, 0);
	assert_int_equal(mss_run("--set-mss 500", &t, 0, 4, &ctx), NF_ACCEPT);
	t.len += 4;
	assert_int_equal(mss_of(&t), 500);
	assert_csums_ok(&t);

	tcp(&t, 1, 2, TCP_SYN, NULL, 0, 0);
	assert_int_equal(mss_run("--clamp-mss-to-pmtu", &t, 1500, 4, &ctx), NF_ACCEPT);
	t.len += 4;
	assert_int_equal(mss_of(&t), 536);
	assert_csums_ok(&t);

	/* no room, or data after the header: left alone */
	tcp(&t, 1, 2, TCP_SYN, NULL, 0, 0);
	assert_int_equal(mss_run("--set-mss 500", &t, 0, 3, &ctx), NF_ACCEPT);
	assert_false(ctx.pkt_changed);
	assert_int_equal(t.p.outer.tot_len, 40);
	tcp(&t, 1, 2, TCP_SYN, NULL, 0, 10);
	assert_int_equal(mss_run("--set-mss 500", &t, 0, 4, &ctx), NF_ACCEPT);
	assert_false(ctx.pkt_changed);
	assert_int_equal(t.p.outer.tot_len, 50);
}

/*
 * SYNs sent through a namespace forwarding IPv6 with "ip6tables -t mangle
 * -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS ..." (Linux 6.18.44,
 * iptables 1.8.9) and what came out of it (the hop limit one lower: the
 * kernel forwarded them).  --clamp-mss-to-pmtu: the outgoing link's MTU
 * (the way back was 1500).
 */
static const struct {
	const char *target;
	uint16_t pmtu;
	const char *in, *out;
} kernel_tcpmss6[] = {
	{ "--set-mss 1300", 0, /* mss_syn1460 */
		"600000000028064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4001bb000003e800000000a002fd204d820000020405b40402080a00000001"
		"0000000001030307",
		"600000000028063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4001bb000003e800000000a002fd204e220000020405140402080a00000001"
		"0000000001030307" },
	{ "--set-mss 1300", 0, /* mss_syn_noopt */
		"600000000014064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4201bb000003e8000000005002fd20b5630000",
		"600000000018063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4201bb000003e8000000006002fd209e970000020404c4" },
	{ "--set-mss 1300", 0, /* mss_syn_wscale */
		"600000000018064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4301bb000003e8000000006002fd20a154000001030307",
		"60000000001c063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4301bb000003e8000000007002fd208a880000020404c401030307" },
	{ "--set-mss 1300", 0, /* mss_syn_hbh */
		"600000000030004020010db800010000000000000000000220010db80002000000000000"
		"000000023c0001040000000006000104000000009c4401bb000003e8000000008002fd20"
		"74a40000020405a00101040201030307",
		"600000000030003f20010db800010000000000000000000220010db80002000000000000"
		"000000023c0001040000000006000104000000009c4401bb000003e8000000008002fd20"
		"75300000020405140101040201030307" },
	{ "--set-mss 1300", 0, /* mss_syn_hbh_noopt */
		"60000000001c004020010db800010000000000000000000220010db80002000000000000"
		"0000000206000104000000009c4501bb000003e8000000005002fd20b5600000",
		"600000000020003f20010db800010000000000000000000220010db80002000000000000"
		"0000000206000104000000009c4501bb000003e8000000006002fd209e940000020404c4" },
	{ "--set-mss 1300", 0, /* mss_syn_data */
		"600000000018064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4601bb000003e8000000005002fd20dc98000064617461",
		"600000000018063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4601bb000003e8000000005002fd20dc98000064617461" },
	{ "--set-mss 1300", 0, /* mss_syn_small */
		"600000000018064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4701bb000003e8000000006002fd20a156000002040200",
		"600000000018063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4701bb000003e8000000006002fd20a156000002040200" },
	{ "--set-mss 1000", 0, /* mss_syn_noopt */
		"600000000014064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4201bb000003e8000000005002fd20b5630000",
		"600000000018063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4201bb000003e8000000006002fd209f730000020403e8" },
	{ "--set-mss 1000", 0, /* mss_syn1460 */
		"600000000028064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4001bb000003e800000000a002fd204d820000020405b40402080a00000001"
		"0000000001030307",
		"600000000028063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4001bb000003e800000000a002fd204f4e0000020403e80402080a00000001"
		"0000000001030307" },
	{ "--clamp-mss-to-pmtu", 1400, /* mss_syn1460 */
		"600000000028064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4001bb000003e800000000a002fd204d820000020405b40402080a00000001"
		"0000000001030307",
		"600000000028063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4001bb000003e800000000a002fd204dfa00000204053c0402080a00000001"
		"0000000001030307" },
	{ "--clamp-mss-to-pmtu", 1400, /* mss_syn_noopt */
		"600000000014064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4201bb000003e8000000005002fd20b5630000",
		"600000000018063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4201bb000003e8000000006002fd209e970000020404c4" },
	{ "--clamp-mss-to-pmtu", 1400, /* mss_syn_hbh */
		"600000000030004020010db800010000000000000000000220010db80002000000000000"
		"000000023c0001040000000006000104000000009c4401bb000003e8000000008002fd20"
		"74a40000020405a00101040201030307",
		"600000000030003f20010db800010000000000000000000220010db80002000000000000"
		"000000023c0001040000000006000104000000009c4401bb000003e8000000008002fd20"
		"750800000204053c0101040201030307" },
	{ "--clamp-mss-to-pmtu", 1280, /* mss_syn1460 */
		"600000000028064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4001bb000003e800000000a002fd204d820000020405b40402080a00000001"
		"0000000001030307",
		"600000000028063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4001bb000003e800000000a002fd204e720000020404c40402080a00000001"
		"0000000001030307" },
	{ "--clamp-mss-to-pmtu", 1280, /* mss_syn_noopt */
		"600000000014064020010db800010000000000000000000220010db80002000000000000"
		"000000029c4201bb000003e8000000005002fd20b5630000",
		"600000000018063f20010db800010000000000000000000220010db80002000000000000"
		"000000029c4201bb000003e8000000006002fd209e970000020404c4" },
};

static void test_target_tcpmss6(void **state)
{
	struct tpkt t, want;
	struct nf_ctx ctx;
	struct rules *r;

	(void)state;
	for (size_t i = 0; i < sizeof(kernel_tcpmss6) / sizeof(kernel_tcpmss6[0]); i++) {
		r = load6("*mangle\n-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS %s\n"
			  "COMMIT\n", kernel_tcpmss6[i].target);
		tp_hex(&t, kernel_tcpmss6[i].in);
		tp_hex(&want, kernel_tcpmss6[i].out);
		init_ctx(&ctx, &t, NF_FORWARD, "r0", "r1");
		ctx.pmtu = kernel_tcpmss6[i].pmtu;
		ctx.pkt_room = 8;
		assert_int_equal(rules_run(r, NF_MANGLE, &ctx, NULL), NF_ACCEPT);
		rules_free(r);
		t.buf[7]--;  /* the kernel's forwarding */
		if (want.len != t.p.outer.end || memcmp(t.buf, want.buf, want.len) != 0)
			fail_msg("case %zu (%s): %zu bytes, want %zu", i, kernel_tcpmss6[i].target,
				 (size_t)t.p.outer.end, want.len);
		/* changed unless the kernel passed it as it came (the hop limit aside) */
		assert_int_equal(ctx.pkt_changed,
				 strcmp(kernel_tcpmss6[i].in + 16, kernel_tcpmss6[i].out + 16) != 0);
		/* the view follows the inserted option */
		assert_int_equal(t.p.outer.tot_len, want.len);
		assert_int_equal(t.p.outer.l4_hlen, want.p.outer.l4_hlen);
		assert_int_equal(ctx.pkt_room, 8 - (want.len - t.len));
	}

	/* a path MTU that leaves nothing past the IPv6 and TCP headers drops */
	r = load6("*mangle\n-A FORWARD -p tcp -j TCPMSS --clamp-mss-to-pmtu\nCOMMIT\n");
	tp_hex(&t, kernel_tcpmss6[0].in);
	init_ctx(&ctx, &t, NF_FORWARD, "r0", "r1");
	ctx.pmtu = 60;
	assert_int_equal(rules_run(r, NF_MANGLE, &ctx, NULL), NF_DROP);
	ctx.pmtu = 61;
	assert_int_equal(rules_run(r, NF_MANGLE, &ctx, NULL), NF_ACCEPT);
	assert_int_equal(mss_of(&t), 1);
	rules_free(r);

	/* no room after the packet: left alone */
	r = load6("*mangle\n-A FORWARD -p tcp -j TCPMSS --set-mss 1000\nCOMMIT\n");
	tp_hex(&t, kernel_tcpmss6[1].in);
	init_ctx(&ctx, &t, NF_FORWARD, "r0", "r1");
	ctx.pkt_room = 3;
	assert_int_equal(rules_run(r, NF_MANGLE, &ctx, NULL), NF_ACCEPT);
	assert_false(ctx.pkt_changed);
	assert_int_equal(t.p.outer.tot_len, 60);
	rules_free(r);
}

static void test_target_notrack_nat(void **state)
{
	struct rules *r;
	struct tpkt t;
	struct nf_ctx ctx;

	(void)state;
	tp_udp(&t, PEER, SERVER, 5000, 53, 0);
	r = load("*raw\n-A PREROUTING -p udp --dport 53 -j CT --notrack\n-A PREROUTING -j CT\n"
		 "-A OUTPUT -j NOTRACK\n-A OUTPUT -j DROP\nCOMMIT\n");
	init_ctx(&ctx, &t, NF_PREROUTING, "gw0", "");
	assert_int_equal(rules_run(r, NF_RAW, &ctx, NULL), NF_ACCEPT);
	assert_true(ctx.notrack);
	init_ctx(&ctx, &t, NF_OUTPUT, "", "eth0");
	assert_int_equal(rules_run(r, NF_RAW, &ctx, NULL), NF_DROP);
	assert_true(ctx.notrack);
	rules_free(r);

	r = load("*nat\n"
		 "-A PREROUTING -p udp --dport 53 -j DNAT --to-destination 10.8.0.53-10.8.0.54:5353 --random\n"
		 "-A PREROUTING -p udp -j REDIRECT --to-ports 1000-2000\n"
		 "-A POSTROUTING -p udp --sport 5000 -j MASQUERADE --to-ports 61000-65535 --random-fully\n"
		 "-A POSTROUTING -j SNAT --to-source 192.0.2.1 --persistent\n"
		 "-A OUTPUT -p udp -j DNAT --to-destination :99\n"
		 "COMMIT\n");
	init_ctx(&ctx, &t, NF_PREROUTING, "gw0", "");
	assert_int_equal(rules_run(r, NF_NAT, &ctx, NULL), NF_ACCEPT);
	assert_int_equal(ctx.nat.kind, NAT_DNAT);
	assert_int_equal(ctx.nat.range.min_addr.ip, IP4(10, 8, 0, 53));
	assert_int_equal(ctx.nat.range.max_addr.ip, IP4(10, 8, 0, 54));
	assert_int_equal(ctx.nat.range.min_port, 5353);
	assert_int_equal(ctx.nat.range.max_port, 5353);
	assert_int_equal(ctx.nat.range.flags,
			 NAT_F_MAP_IPS | NAT_F_PROTO_SPECIFIED | NAT_F_RANDOM);

	init_ctx(&ctx, &t, NF_POSTROUTING, "", "eth0");
	assert_int_equal(rules_run(r, NF_NAT, &ctx, NULL), NF_ACCEPT);
	assert_int_equal(ctx.nat.kind, NAT_MASQUERADE);
	assert_int_equal(ctx.nat.range.min_port, 61000);
	assert_int_equal(ctx.nat.range.max_port, 65535);
	assert_int_equal(ctx.nat.range.flags, NAT_F_PROTO_SPECIFIED | NAT_F_RANDOM_FULLY);

	tp_udp(&t, PEER, SERVER, 5001, 53, 0);
	init_ctx(&ctx, &t, NF_POSTROUTING, "", "eth0");
	assert_int_equal(rules_run(r, NF_NAT, &ctx, NULL), NF_ACCEPT);
	assert_int_equal(ctx.nat.kind, NAT_SNAT);
	assert_int_equal(ctx.nat.range.min_addr.ip, IP4(192, 0, 2, 1));
	assert_int_equal(ctx.nat.range.flags, NAT_F_MAP_IPS | NAT_F_PERSISTENT);

	init_ctx(&ctx, &t, NF_OUTPUT, "", "eth0");
	assert_int_equal(rules_run(r, NF_NAT, &ctx, NULL), NF_ACCEPT);
	assert_int_equal(ctx.nat.kind, NAT_DNAT);
	assert_int_equal(ctx.nat.range.flags, NAT_F_PROTO_SPECIFIED);
	assert_int_equal(ctx.nat.range.min_port, 99);
	rules_free(r);

	r = load("*nat\n-A PREROUTING -p tcp -j REDIRECT\nCOMMIT\n");
	tcp(&t, 1, 2, TCP_SYN, NULL, 0, 0);
	init_ctx(&ctx, &t, NF_PREROUTING, "gw0", "");
	assert_int_equal(rules_run(r, NF_NAT, &ctx, NULL), NF_ACCEPT);
	assert_int_equal(ctx.nat.kind, NAT_REDIRECT);
	assert_int_equal(ctx.nat.range.flags, 0);
	rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_base),
		cmocka_unit_test(test_match_tcp),
		cmocka_unit_test(test_match_udp_icmp),
		cmocka_unit_test(test_match_multiport_iprange_length),
		cmocka_unit_test(test_match_mark_addrtype_owner_comment),
		cmocka_unit_test(test_owner_needs),
		cmocka_unit_test(test_owner_names),
		cmocka_unit_test(test_match_state_without_entry),
		cmocka_unit_test(test_match_conntrack_entry),
		cmocka_unit_test(test_match_limit),
		cmocka_unit_test(test_target_reject),
		cmocka_unit_test(test_target_log),
		cmocka_unit_test(test_target_log6),
		cmocka_unit_test(test_target_mark_connmark),
		cmocka_unit_test(test_target_tcpmss),
		cmocka_unit_test(test_target_tcpmss6),
		cmocka_unit_test(test_target_notrack_nat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
