/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the control socket as gw run serves it: gw/ctl.c's
 * non-blocking server in a libev loop with gw/ctl_ops.c's real handler
 * (show, stats, metrics, rules[6]-list/-save/-restore, trace-info, conf,
 * ct-list/-count/-flush) on a gateway built here as gw/dataplane.c builds
 * one, but without sockets: a config with two peers, a WireGuard device,
 * the routing table, netfilter with IPv4 and IPv6 rules (NAT, LOG, REJECT,
 * conntrack matches), a reassembler, and a few conntrack entries.  The
 * input is what a client writes before it shuts its side down, through a
 * socketpair.
 *
 * An input starting with byte 0x01 is served with the UAPI framing
 * instead (gw/uapi.h): the handler, a stand-in that echoes the request,
 * gets the whole request, which holds no empty line but at its end, and
 * no body.
 *
 * Properties:
 *   - the request line the handler gets has no newline and is at most
 *     CTL_MAX_LINE bytes; a body comes only with a request ctl_ops_has_body
 *     says has one;
 *   - an answer, when the handler ran, arrives whole: what it wrote, byte
 *     for byte, ending in a newline;
 *   - a rules-restore that answers ok=1 leaves rules whose save loads
 *     again (the gateway goes back to its own rules after each input, and
 *     conntrack gets its entries back after a ct-flush).
 *
 * Seeds: tests/fuzz/corpus/fuzz_ctl ("show\n", "rules-list nat 11\n",
 * "rules6-restore -c x\n*filter\n...", "ct-list extended ipv4\n", ...).
 */
#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "gw/ctl.h"
#include "gw/ctl_ops.h"
#include "gw/dataplane.h"
#include "gw/gw.h"
#include "gw/log.h"
#include "gw/route.h"
#include "nat/ct.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"
#include "nat/rules.h"
#include "nat/sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "CHECK failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static const char conf[] =
	"[Interface]\n"
	"PrivateKey = qE24TcZcMJottOF+NHKb0ymO3QNe1Bf78VQdf64id0w=\n"
	"Address = 10.8.0.1/24, fd00:8::1/64\n"
	"ListenPort = 51820\n"
	"[Peer]\n"
	"PublicKey = S8rnuSWd3j7SHUKnbUiwA0AjOFowhGJp2rPdp4rvMyM=\n"
	"AllowedIPs = 10.8.0.2/32, fd00:8::2/128\n"
	"Endpoint = 192.0.2.7:51820\n"
	"PersistentKeepalive = 25\n"
	"[Peer]\n"
	"PublicKey = rE0iJWaLnYCRwJdo2a8qBdAuO0RYlf9hT/ahvZ8RmXU=\n"
	"AllowedIPs = 10.8.0.3/32, 10.9.0.0/16\n";

static const char rules4[] =
	"*nat\n"
	":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	"-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.8.0.2:80\n"
	"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -p tcp -j MASQUERADE --to-ports 61000-61003\n"
	"COMMIT\n"
	"*filter\n"
	":INPUT ACCEPT [3:180]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:peers - [0:0]\n"
	"-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset\n"
	"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"-A FORWARD -i gw0 -j peers\n"
	"-A FORWARD -m limit --limit 3/min -j LOG --log-prefix \"fwd \" --log-level 6\n"
	"-A peers -s 10.8.0.2/32 -p udp -m multiport --dports 53,123 -j ACCEPT\n"
	"-A peers -m comment --comment \"the rest\" -j REJECT --reject-with icmp-admin-prohibited\n"
	"COMMIT\n";

static const char rules6[] =
	"*filter\n"
	":INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	"-A FORWARD -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT\n"
	"-A FORWARD -s fd00:8::/64 -p tcp -j REJECT --reject-with tcp-reset\n"
	"COMMIT\n";

static struct gw g;
static struct ev_loop *loop;
static unsigned handled;
static bool uapi, restored;
static struct sbuf sent; /* what the handler wrote */

static void no_emit(void *ctx, struct wg_peer *peer, const struct wg_endpoint *to,
		    const uint8_t *dgram, size_t len)
{
	(void)ctx, (void)peer, (void)to, (void)dgram, (void)len;
}

static struct rules *parse(const char *text, uint8_t family)
{
	const struct rules_parse_opts o = { .counters = true, .family = family };
	struct rules_error e;
	struct rules *r = NULL;

	if (rules_parse_with(&r, text, strlen(text), NULL, &o, &e))
		fprintf(stderr, "line %d: %s\n", e.line, e.message);
	CHECK(r);
	return r;
}

/* A few connections in conntrack: a TCP SYN, a UDP datagram, IPv4 and
 * IPv6, from the peers. */
static void ct_fill(void)
{
	struct ct_table *t = nf_ct(g.nf);

	for (int i = 0; i < 6; i++) {
		uint8_t b[80] = { 0 };
		struct nf_ctx ctx;
		struct pkt p;
		size_t len;

		if (i < 4) {
			len = 20 + (i & 1 ? 8 : 20);
			b[0] = 0x45;
			be16_put(b + 2, (uint16_t)len);
			b[8] = 64;
			b[9] = i & 1 ? 17 : 6;
			be32_put(b + 12, 0x0a080002 + (uint32_t)(i >> 1));
			be32_put(b + 16, 0xc6336401);
			be16_put(b + 10, csum_ip(b, 20));
			be16_put(b + 20, (uint16_t)(40000 + i));
			be16_put(b + 22, 443);
			if (i & 1)
				be16_put(b + 24, 8);
			else
				b[32] = 0x50, b[33] = 0x02;
		} else {
			len = 40 + 8;
			b[0] = 0x60;
			be16_put(b + 4, 8);
			b[6] = 17;
			b[7] = 64;
			b[8] = 0xfd, b[23] = 2;
			b[24] = 0x20, b[25] = 0x01, b[26] = 0x0d, b[27] = 0xb8, b[39] = (uint8_t)i;
			be16_put(b + 40, 5353);
			be16_put(b + 42, 53);
			be16_put(b + 44, 8);
		}
		CHECK(pkt_parse(&p, b, len) == PKT_OK);
		memset(&ctx, 0, sizeof(ctx));
		ctx.pkt = &p;
		ctx.now = gw_mono();
		ct_in(t, &ctx, false);
		if (ctx.ct && !(ct_entry_status(ctx.ct) & CT_S_CONFIRMED))
			ct_confirm(t, ctx.ct, ctx.now);
	}
}

static void setup(void)
{
	struct config_error err;
	struct nf_config nfc = { 0 };
	struct frag_config fc;
	struct sbuf warn;

	log_set_level(LOG_ERR); /* no notices per restore */
	sbuf_init(&warn);
	CHECK(config_parse(&g.cfg, "/etc/gw/fuzz.conf", conf, sizeof(conf) - 1, &warn, &err) == 0);
	sbuf_free(&warn);
	snprintf(g.cfg.ifname, sizeof(g.cfg.ifname), "gw0");
	snprintf(g.cfg.uplink, sizeof(g.cfg.uplink), "eth0");
	CHECK(wg_device_init(&g.dev, g.cfg.private_key, 8, 0, no_emit, NULL) == 0);
	for (size_t i = 0; i < g.cfg.n_peers; i++) {
		int e;
		struct wg_peer *p = wg_peer_add(&g.dev, g.cfg.peers[i].public_key, NULL,
						g.cfg.peers[i].persistent_keepalive, &e);

		CHECK(p);
		p->user = (void *)(uintptr_t)(i + 1);
		p->rx_bytes = 1000 * i;
		p->handshakes_sent = (uint32_t)i;
	}
	g.port = 51820;
	g.route.uplink_addr = 0xc0000201;
	CHECK(route_init(&g.route, &g.cfg, 0xc0000201, 1500) == 0);
	ct_config_default(&nfc.ct, 64);
	nfc.ct.owners = UINT16_MAX;
	nfc.route = route_lookup;
	nfc.ifaddr = route_ifaddr;
	nfc.route6 = route_lookup6;
	nfc.ifaddr6 = route_ifaddr6;
	nfc.route_arg = &g.route;
	nfc.uplink_addr = 0xc0000201;
	nfc.nat_port_min = 61000;
	nfc.nat_port_max = 61999;
	snprintf(nfc.tunnel, sizeof(nfc.tunnel), "gw0");
	snprintf(nfc.uplink, sizeof(nfc.uplink), "eth0");
	frag_config_default(&fc);
	CHECK(frag_create(&g.frag, &fc) == 0);
	CHECK(nf_create(&g.nf, &nfc, parse(rules4, NF_V4)) == 0);
	nf_set_rules6(g.nf, parse(rules6, NF_V6));
	g.ipv6_rules = true;
	g.uplink_addr = 0xc0000201;
	ct_fill();
	sbuf_init(&sent);
	loop = ev_loop_new(EVFLAG_AUTO);
	CHECK(loop);
}

static void handle(void *arg, const char *req, const char *body, size_t blen, struct sbuf *out)
{
	size_t before = out->len;

	CHECK(arg == &g);
	if (uapi) {
		const char *end = strstr(req, "\n\n");

		CHECK(!body && !blen && !(end && end[2]) && !(req[0] == '\n' && req[1]));
		sbuf_addn(out, req, strlen(req));
		sbuf_add(out, "errno=0\n\n");
	} else {
		CHECK(strlen(req) <= CTL_MAX_LINE && !strchr(req, '\n'));
		CHECK(!blen || (body && ctl_ops_has_body(req)));
		ctl_ops_handle(arg, req, body, blen, out);
		if (!strncmp(req, "rules", 5) && strstr(req, "-restore"))
			restored = true;
	}
	CHECK(!out->oom && out->len > before && out->buf[out->len - 1] == '\n');
	sbuf_addn(&sent, out->buf + before, out->len - before);
	handled++;
}

/* A restored ruleset saves to text that loads again; then the gateway's
 * own rules come back. */
static void unrestore(void)
{
	struct sbuf s;
	struct rules *r;

	for (int f = 0; f < 2; f++) {
		const struct rules *live = f ? nf_rules6(g.nf) : nf_rules(g.nf);

		sbuf_init(&s);
		rules_save(live, true, &s);
		CHECK(!s.oom);
		r = NULL;
		{
			const struct rules_parse_opts o = { .counters = true,
							    .family = f ? NF_V6 : NF_V4 };
			struct rules_error e;

			CHECK(rules_parse_with(&r, s.buf, s.len, NULL, &o, &e) == 0);
		}
		rules_free(r);
		sbuf_free(&s);
	}
	rules_free(nf_set_rules(g.nf, parse(rules4, NF_V4)));
	rules_free(nf_set_rules6(g.nf, parse(rules6, NF_V6)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_server srv;
	struct sbuf ans;
	char buf[65536];
	unsigned n;
	int sv[2];
	size_t off = 0;

	if (!loop)
		setup();
	if (size > (1u << 20) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return 0;
	uapi = size && data[0] == 1;
	if (uapi) {
		data++;
		size--;
	}
	memset(&srv, 0, sizeof(srv));
	srv.uapi = uapi;
	srv.has_body = ctl_ops_has_body;
	srv.handle = handle;
	srv.arg = &g;
	ctl_server_start(&srv, loop, -1);
	CHECK(ctl_server_adopt(&srv, sv[0]) == 0);
	sbuf_init(&ans);
	sent.len = 0;
	handled = 0;
	restored = false;
	/* the client: writes what the socket takes, reads what comes back,
	 * until the server closes; the loop runs between */
	for (int round = 0; round < 100000; round++) {
		ssize_t r;

		if (off < size) {
			r = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (r > 0)
				off += (size_t)r;
			if (off == size)
				shutdown(sv[1], SHUT_WR);
		} else if (!size) {
			shutdown(sv[1], SHUT_WR);
		}
		ev_run(loop, EVRUN_NOWAIT);
		r = read(sv[1], buf, sizeof(buf));
		if (r > 0)
			sbuf_addn(&ans, buf, (size_t)r);
		else if (r == 0)
			break; /* the server closed: done */
	}
	/* the answer, when the handler ran, arrived whole */
	CHECK(handled <= 1);
	if (handled)
		CHECK(ans.len == sent.len && !memcmp(ans.buf, sent.buf, ans.len));
	ctl_server_stop(&srv);
	close(sv[1]);
	sbuf_free(&ans);
	if (restored)
		unrestore();
	if (!dp_ct_count(&g, &n) && !n)
		ct_fill();
	return 0;
}
