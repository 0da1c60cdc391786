/* SPDX-License-Identifier: MIT */
/* Test helper: IPv4 packets for the conntrack tests. */
#include <stdlib.h>
#include <string.h>

#include "nat/ct.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "tests/unit/util_ctpkt.h"

enum { IPH = 20 };

static void reparse(struct tpkt *t)
{
	if (pkt_parse(&t->p, t->buf, t->len) != PKT_OK)
		abort();
}

static void ip_hdr(struct tpkt *t, uint32_t src, uint32_t dst, uint8_t proto,
		   size_t l4len)
{
	uint8_t *ip = t->buf;

	if (IPH + l4len > sizeof(t->buf))
		abort();
	memset(ip, 0, IPH);
	ip[0] = 0x45;
	be16_put(ip + 2, (uint16_t)(IPH + l4len));
	be16_put(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = proto;
	be32_put(ip + 12, src);
	be32_put(ip + 16, dst);
	be16_put(ip + 10, csum_ip(ip, IPH));
	t->len = IPH + l4len;
}

void tp_tcp(struct tpkt *t, const struct tcp_spec *s)
{
	size_t hlen = 20 + s->optlen, len = hlen + s->datalen;
	uint8_t *th = t->buf + IPH;

	if (s->optlen % 4 || hlen > 60)
		abort();
	ip_hdr(t, s->src, s->dst, 6, len);
	memset(th, 0, len);
	be16_put(th, s->sport);
	be16_put(th + 2, s->dport);
	be32_put(th + 4, s->seq);
	be32_put(th + 8, s->ack);
	th[12] = (uint8_t)(hlen / 4 << 4);
	th[13] = s->flags;
	be16_put(th + 14, s->win);
	if (s->optlen)
		memcpy(th + 20, s->opt, s->optlen);
	be16_put(th + 16, csum_l4(s->src, s->dst, 6, th, len));
	reparse(t);
}

void tp_udp(struct tpkt *t, uint32_t src, uint32_t dst, uint16_t sport,
	    uint16_t dport, size_t datalen)
{
	size_t len = 8 + datalen;
	uint8_t *uh = t->buf + IPH;

	ip_hdr(t, src, dst, 17, len);
	memset(uh, 0, len);
	be16_put(uh, sport);
	be16_put(uh + 2, dport);
	be16_put(uh + 4, (uint16_t)len);
	for (size_t i = 0; i < datalen; i++)
		uh[8 + i] = (uint8_t)(i * 7 + 1);
	be16_put(uh + 6, csum_l4(src, dst, 17, uh, len));
	reparse(t);
}

void tp_icmp(struct tpkt *t, uint32_t src, uint32_t dst, uint8_t type,
	     uint8_t code, uint16_t id)
{
	uint8_t *ih = t->buf + IPH;

	ip_hdr(t, src, dst, 1, 16);
	memset(ih, 0, 16);
	ih[0] = type;
	ih[1] = code;
	be16_put(ih + 4, id);
	be16_put(ih + 6, 1);
	memcpy(ih + 8, "abcdefgh", 8);
	be16_put(ih + 2, csum_icmp(ih, 16));
	reparse(t);
}

void tp_icmp_err(struct tpkt *t, uint32_t src, uint32_t dst, uint8_t type,
		 uint8_t code, const struct tpkt *inner, size_t quote)
{
	uint8_t *ih = t->buf + IPH;

	if (quote > inner->len)
		quote = inner->len;
	ip_hdr(t, src, dst, 1, 8 + quote);
	memset(ih, 0, 8);
	ih[0] = type;
	ih[1] = code;
	memcpy(ih + 8, inner->buf, quote);
	be16_put(ih + 2, csum_icmp(ih, 8 + quote));
	reparse(t);
}

void tp_raw(struct tpkt *t, uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	ip_hdr(t, src, dst, proto, len);
	memset(t->buf + IPH, 0, len);
	reparse(t);
}

void tp_set_frag(struct tpkt *t, uint16_t frag_field)
{
	be16_put(t->buf + 6, frag_field);
	be16_put(t->buf + 10, 0);
	be16_put(t->buf + 10, csum_ip(t->buf, IPH));
	reparse(t);
}

void tp_corrupt(struct tpkt *t)
{
	t->buf[t->len - 1] ^= 0x5a;
	reparse(t);
}

void tp_udp_nocsum(struct tpkt *t)
{
	be16_put(t->buf + IPH + 6, 0);
	reparse(t);
}

enum ct_state tp_ct(struct ct_table *ct, struct tpkt *t, uint64_t now,
		    struct ct_entry **e, enum ct_dir *dir)
{
	struct nf_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.pkt = &t->p;
	ctx.now = now;
	ct_in(ct, &ctx, true);
	if (ctx.ct && !(ct_entry_status(ctx.ct) & CT_S_CONFIRMED) &&
	    ct_confirm(ct, ctx.ct, now) != 0)
		ctx.ct = NULL;
	if (e)
		*e = ctx.ct;
	if (dir)
		*dir = ctx.ctdir;
	return ctx.ctstate;
}
