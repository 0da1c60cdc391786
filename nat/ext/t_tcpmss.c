/* SPDX-License-Identifier: MIT */
/*
 * t_tcpmss — the TCPMSS target: lower the MSS option of a TCP segment to
 * --set-mss N or, with --clamp-mss-to-pmtu, to ctx->pmtu - 40 (IPv6: - 60,
 * the fixed headers of both; a path MTU at or below that drops the
 * packet); never raise it.  A segment without an MSS option and without
 * payload gets one, of min(536, target) (RFC 1122 §4.2.2.6: the peer
 * assumes 536 without it; IPv6: min(1220, target), the 1280-byte minimum
 * MTU less 60), at the start of the options, when its header has room
 * (< 60 bytes) and ctx->pkt_room allows 4 more bytes; the IPv4 total
 * length or the IPv6 payload length grows by 4, checksums are updated
 * incrementally (the TCP length in the pseudo-header too) and the view is
 * parsed again.  IPv6 extension headers stay in front of the TCP header.
 * Later fragments are left alone.  Non-terminating.  As
 * tcpmss_mangle_packet(), tcpmss_tg4() and tcpmss_tg6().
 *
 * Needs -p tcp.  Under iptables-nft the kernel skips the "only for SYN
 * packets" load check (nft_compat), so a rule without --tcp-flags SYN,RST
 * SYN is accepted, as there; clamping is only valid in FORWARD, OUTPUT and
 * POSTROUTING.  Saved as "--set-mss N" or "--clamp-mss-to-pmtu".
 * ip6tables: --set-mss at most 65495.
 */
#include "nat/ext.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

#include <string.h>

enum {
	CLAMP = 0xffff, TCPOPT_MSS = 2, TCPOLEN_MSS = 4,
	MSS_DEFAULT = 536,   /* IPv4: RFC 1122 */
	MSS_DEFAULT6 = 1220, /* IPv6: 1280 - 40 - 20 */
};

struct tcpmss_info {
	uint16_t mss;    /* CLAMP: from the path MTU */
};

static const struct ext_opt tcpmss_opts[] = {
	{ "set-mss", 0, 1, 0 },
	{ "clamp-mss-to-pmtu", 1, 0, 0 },
	{ NULL, 0, 0, 0 },
};

static int tcpmss_parse(void *data, unsigned int id, char *const *args, bool inv,
			struct ext_parse *pc)
{
	struct tcpmss_info *t = data;
	uint32_t v;

	(void)inv;
	if (id == 1) {
		t->mss = CLAMP;
		return 0;
	}
	/* the largest MSS of a full-size IPv4 (IPv6) packet's header */
	if (!ext_strtou32(args[0], pc->family == NF_V6 ? 65535 - 40 : 65535 - 20, &v))
		return ext_fail(pc, args[0],
				"TCPMSS: bad value for option \"--set-mss\", or out of range (0-%u)",
				pc->family == NF_V6 ? 65495 : 65515);
	t->mss = (uint16_t)v;
	return 0;
}

static int tcpmss_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!seen)
		return ext_fail(pc, NULL, "TCPMSS target: At least one parameter is required");
	return 0;
}

static int tcpmss_check(const void *data, const struct ext_check *ck, struct ext_parse *pc)
{
	const struct tcpmss_info *t = data;
	uint8_t ok = 1 << NF_FORWARD | 1 << NF_OUTPUT | 1 << NF_POSTROUTING;

	if (t->mss == CLAMP && (ck->hooks & ~ok))
		return ext_fail(pc, "--clamp-mss-to-pmtu",
				"TCPMSS: path-MTU clamping only supported in FORWARD, OUTPUT and POSTROUTING");
	return 0;
}

static int tcpmss_target(void *data, struct ext_pkt *xp)
{
	const struct tcpmss_info *t = data;
	struct nf_ctx *ctx = xp->ctx;
	struct pkt *p = ctx->pkt;
	const struct pkt_hdr *h = &p->outer;
	uint8_t *ip = p->data + h->ip, *th = p->data + h->l4;
	bool v6 = h->family == NF_V6;
	/* the smallest IP and TCP headers: what the path MTU leaves for the MSS */
	unsigned int minlen = v6 ? 40 + 20 : 20 + 20;
	unsigned int hlen, len, i;
	uint16_t newmss, old, tot, w12;

	if (h->frag_off || (h->flags & PKT_F_LATER))
		return EXT_CONTINUE;
	if (!(h->flags & PKT_F_L4))
		return NF_DROP;
	hlen = h->l4_hlen;
	len = (unsigned int)(h->end - h->l4);
	if (t->mss == CLAMP) {
		if (ctx->pmtu <= minlen)
			return NF_DROP;  /* "unknown or invalid path-MTU" */
		newmss = (uint16_t)(ctx->pmtu - minlen);
	} else {
		newmss = t->mss;
	}
	for (i = 20; i + TCPOLEN_MSS <= hlen;) {
		if (th[i] == TCPOPT_MSS && th[i + 1] == TCPOLEN_MSS) {
			old = be16_get(th + i + 2);
			if (old <= newmss)
				return EXT_CONTINUE;
			be16_put(th + i + 2, newmss);
			csum_replace2(th + 16, old, newmss);
			ctx->pkt_changed = true;
			return EXT_CONTINUE;
		}
		i += th[i] <= 1 || th[i + 1] == 0 ? 1 : th[i + 1];
	}
	/* no MSS option: add one, unless there is data after the header */
	if (len > hlen || hlen >= 60 || ctx->pkt_room < TCPOLEN_MSS ||
	    p->buflen < (size_t)h->end || (size_t)h->end - h->ip + TCPOLEN_MSS > 65535)
		return EXT_CONTINUE; /* (the last: IPv6 extension headers near 64 KB) */
	if (newmss > (v6 ? MSS_DEFAULT6 : MSS_DEFAULT))
		newmss = v6 ? MSS_DEFAULT6 : MSS_DEFAULT;
	memmove(th + 20 + TCPOLEN_MSS, th + 20, hlen - 20);
	csum_replace2(th + 16, (uint16_t)len, (uint16_t)(len + TCPOLEN_MSS));
	th[20] = TCPOPT_MSS;
	th[21] = TCPOLEN_MSS;
	be16_put(th + 22, newmss);
	csum_replace4(th + 16, 0, be32_get(th + 20));
	w12 = be16_get(th + 12);
	th[12] = (uint8_t)(th[12] + (TCPOLEN_MSS / 4 << 4));
	csum_replace2(th + 16, w12, be16_get(th + 12));
	if (v6) {
		/* the payload length; no header checksum */
		tot = be16_get(ip + 4);
		be16_put(ip + 4, (uint16_t)(tot + TCPOLEN_MSS));
	} else {
		tot = be16_get(ip + 2);
		be16_put(ip + 2, (uint16_t)(tot + TCPOLEN_MSS));
		csum_replace2(ip + 10, tot, (uint16_t)(tot + TCPOLEN_MSS));
	}
	ctx->pkt_room = (uint16_t)(ctx->pkt_room - TCPOLEN_MSS);
	ctx->pkt_changed = true;
	{
		/* parsed again: what the caller set after pkt_parse stays */
		struct pkt keep = *p;

		if (pkt_parse(p, p->data, (size_t)h->end + TCPOLEN_MSS) != PKT_OK)
			return NF_DROP;
		p->owner = keep.owner;
		p->frag_max = keep.frag_max;
		p->l4_csum_ok = keep.l4_csum_ok;
		p->room = ctx->pkt_room;
	}
	return EXT_CONTINUE;
}

static void tcpmss_save(const void *data, struct sbuf *out)
{
	const struct tcpmss_info *t = data;

	if (t->mss == CLAMP)
		sbuf_add(out, " --clamp-mss-to-pmtu");
	else
		sbuf_printf(out, " --set-mss %u", t->mss);
}

static void tcpmss_print(const void *data, const struct rule_ip *ip, bool numeric,
			 struct sbuf *out)
{
	const struct tcpmss_info *t = data;

	(void)ip;
	(void)numeric;
	if (t->mss == CLAMP)
		sbuf_add(out, " TCPMSS clamp to PMTU");
	else
		sbuf_printf(out, " TCPMSS set %u", t->mss);
}

const struct ext t_tcpmss = {
	.name = "TCPMSS",
	.size = sizeof(struct tcpmss_info),
	.proto = 6,
	.opts = tcpmss_opts,
	.parse = tcpmss_parse,
	.final = tcpmss_final,
	.check = tcpmss_check,
	.target = tcpmss_target,
	.save = tcpmss_save,
	.print = tcpmss_print,
};
