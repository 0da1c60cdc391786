/* SPDX-License-Identifier: MIT */
/* The uplink's filter spec from the rules and the host: see uplink_nat.h. */
#include "gw/uplink_nat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/bpf.h"
#include "gw/route.h"
#include "nat/nat.h"
#include "nat/pkt/be.h"
#include "nat/rules.h"
#include "nat/rules_uplink.h"
#include "nat/sbuf.h"

_Static_assert((int)RULES_UPLINK_MAX_PORTS == (int)BPF_NAT_MAX_PORTS,
	       "the rules' port cap is the programs' cap");

static void put_addr(struct sbuf *s, uint32_t a)
{
	char t[INET_ADDRSTRLEN];
	struct in_addr in = { htonl(a) };

	inet_ntop(AF_INET, &in, t, sizeof(t));
	sbuf_add(s, t);
}

static void put_addr6(struct sbuf *s, const union nf_addr *a)
{
	char t[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a->b, t, sizeof(t));
	sbuf_add(s, t);
}

static int cmp_addr4(const void *a, const void *b)
{
	return rules_uplink_addr_cmp(NF_V4, a, b);
}

static int cmp_addr6(const void *a, const void *b)
{
	return rules_uplink_addr_cmp(NF_V6, a, b);
}

/* The uplink's addresses, masq first (when non-zero).  Returns how many of
 * them there are (out holds at most max). */
static unsigned uplink_own(const char *uplink, uint32_t masq, const struct uplink_host *h,
			   uint32_t *out, unsigned max)
{
	unsigned k = 0;

	if (masq)
		out[k++] = masq;
	for (unsigned i = 0; i < h->naddr; i++) {
		if (strcmp(h->addr[i].dev, uplink) || h->addr[i].addr == masq)
			continue;
		if (k < max)
			out[k] = h->addr[i].addr;
		k++;
	}
	return k;
}

/* Adds [lo, hi] to the spec's foreign ranges; -E2BIG beyond the cap. */
static int add_foreign(struct bpf_nat_spec *s, uint64_t lo, uint64_t hi)
{
	if (lo > hi)
		return 0;
	if (s->nforeign == BPF_NAT_MAX_FOREIGN)
		return -E2BIG;
	s->foreign[s->nforeign++] = (struct bpf_addr_range){ (uint32_t)lo, (uint32_t)hi };
	return 0;
}

/* The SNAT ranges minus the host's addresses (sorted, distinct, in
 * host[nhost]); the host's own SNAT addresses other than masq get a
 * remark. */
static int foreign(struct bpf_nat_spec *s, const struct rules_uplink *ru, uint32_t masq,
		   const union nf_addr *host, unsigned nhost, struct sbuf *note)
{
	for (unsigned i = 0; i < ru->nsnat; i++) {
		uint64_t cur = ru->snat_lo[i].ip, hi = ru->snat_hi[i].ip;

		for (unsigned k = 0; k < nhost; k++) {
			if (host[k].ip < cur || host[k].ip > hi)
				continue;
			if (add_foreign(s, cur, (uint64_t)host[k].ip - 1) < 0)
				return -E2BIG;
			cur = (uint64_t)host[k].ip + 1;
			if (host[k].ip != masq && note) {
				sbuf_add(note, "SNAT to ");
				put_addr(note, host[k].ip);
				sbuf_add(note, ", an address of this host other than the uplink's "
					       "MASQUERADE address: replies to it reach the host's "
					       "kernel, not gw\n");
			}
		}
		if (add_foreign(s, cur, hi) < 0)
			return -E2BIG;
	}
	return 0;
}

/* The host's addresses of one family (h's IPv4 ones, or with v6 its IPv6
 * ones) sorted and without duplicates into a new array (*out, freed by the
 * caller): their count, or -ENOMEM. */
static int host_sorted(const struct uplink_host *h, bool v6, union nf_addr **out)
{
	unsigned n = v6 ? h->naddr6 : h->naddr, k = 0;
	union nf_addr *a = calloc(n ? n : 1, sizeof(*a));
	int (*cmp)(const void *, const void *) = v6 ? cmp_addr6 : cmp_addr4;

	*out = a;
	if (!a)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		a[i] = v6 ? h->addr6[i] : nf_addr4(h->addr[i].addr);
	qsort(a, n, sizeof(*a), cmp);
	for (unsigned i = 0; i < n; i++)
		if (!k || cmp(&a[i], &a[k - 1]))
			a[k++] = a[i];
	return (int)k;
}

static unsigned nports(const struct rules_portset *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->n; i++)
		n += (unsigned)(s->hi[i] - s->lo[i]) + 1;
	return n;
}

/* The live connections' DNAT-ed ports join the rules' ones. */
static void linger_ports(struct rules_uplink *ru, const struct nat_live *live,
			 struct uplink_linger *lg, struct sbuf *note)
{
	unsigned before = nports(&ru->tcp) + nports(&ru->udp), merged;

	merged = live->merged + rules_portset_union(&ru->tcp, &live->tcp) +
		 rules_portset_union(&ru->udp, &live->udp);
	if (lg)
		lg->ports = nports(&ru->tcp) + nports(&ru->udp) - before;
	if (merged && note)
		sbuf_printf(note, "the DNAT-ed ports of live connections need more than %u ranges "
			    "per protocol: %u ports between them go to gw too (the host's own "
			    "connections there stop working until those connections end)\n",
			    (unsigned)RULES_UPLINK_MAX_PORTS, merged);
}

bool uplink_nat_foreign_has(const struct bpf_nat_spec *s, uint32_t a)
{
	for (unsigned i = 0; i < s->nforeign; i++)
		if (a >= s->foreign[i].lo && a <= s->foreign[i].hi)
			return true;
	return false;
}

void uplink_nat_base(uint32_t masq, uint16_t lo, uint16_t hi, struct bpf_nat_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->lo = lo;
	out->hi = hi;
	if (masq)
		out->addr[out->naddr++] = masq;
}

/* ---- IPv6 ---------------------------------------------------------------- */

/* Adds the IPv6 addresses pfx[0..11] | [lo, hi] to the foreign6 list;
 * -E2BIG beyond its cap. */
static int add_foreign6(struct bpf_nat_spec *s, const union nf_addr *pfx, uint32_t lo,
			uint32_t hi)
{
	struct bpf_addr6_range *r;

	if (s->nforeign6 == BPF_NAT_MAX_FOREIGN6)
		return -E2BIG;
	r = &s->foreign6[s->nforeign6++];
	r->lo = r->hi = *pfx;
	be32_put(r->lo.b + 12, lo);
	be32_put(r->hi.b + 12, hi);
	return 0;
}

bool uplink_nat_foreign6_has(const struct bpf_nat_spec *s, const union nf_addr *a)
{
	uint32_t last = be32_get(a->b + 12);

	for (unsigned i = 0; s && i < s->nforeign6; i++)
		if (!memcmp(a->b, s->foreign6[i].lo.b, 12) &&
		    last >= be32_get(s->foreign6[i].lo.b + 12) &&
		    last <= be32_get(s->foreign6[i].hi.b + 12))
			return true;
	return false;
}

/* The live connections' foreign SNAT addresses of one family (v6) join the
 * rules' ones (not with that family's forwarding on, unless the rules need
 * it off anyway: a restore is not refused for connections it leaves); host
 * is the host's addresses of that family, sorted. */
static void linger_addrs(struct bpf_nat_spec *out, const struct nat_live *live, bool v6,
			 const char *uplink, int forwarding, const union nf_addr *host,
			 unsigned nhost, struct uplink_linger *lg, struct sbuf *note)
{
	unsigned left = 0, n = 0, count = v6 ? live->nsnat6 : live->nsnat;
	bool fwd = forwarding == 1 && !(v6 ? out->nforeign6 : out->nforeign);

	for (unsigned i = 0; i < count; i++) {
		union nf_addr a = v6 ? live->snat6[i] : nf_addr4(live->snat[i]);
		uint32_t last = v6 ? be32_get(a.b + 12) : a.ip;

		if ((v6 ? uplink_nat_foreign6_has(out, &a) : uplink_nat_foreign_has(out, a.ip)) ||
		    bsearch(&a, host, nhost, sizeof(*host), v6 ? cmp_addr6 : cmp_addr4))
			continue;
		if (fwd || (v6 ? add_foreign6(out, &a, last, last) : add_foreign(out, last, last)) < 0) {
			left++;
			continue;
		}
		n++;
	}
	if (lg)
		lg->addrs += n;
	if (left && note)
		sbuf_printf(note, "%u %sSNAT address(es) of live connections this host does not "
			    "have are not taken (%s%s%s): their replies are lost\n", left,
			    v6 ? "IPv6 " : "", !fwd ? "more than the filters hold" :
			    v6 ? "net.ipv6.conf." : "net.ipv4.conf.", fwd ? uplink : "",
			    fwd ? ".forwarding is 1" : "");
	if ((v6 ? live->snat6_over : live->snat_over) && note)
		sbuf_printf(note, "live connections are SNAT-ed to more than %u %saddresses: "
			    "those beyond stay gw's only where the rules still name them\n",
			    (unsigned)NAT_LIVE_MAX_SNAT, v6 ? "IPv6 " : "");
}

/* The IPv6 SNAT range [lo, hi] into foreign6: cut where its upper 96 bits
 * change (the filters' ranges differ in their last 32 bits only), minus the
 * host's addresses host[nhost] (sorted); the host's own other than masq6
 * get a remark.  -E2BIG beyond the cap (every piece but the first is
 * added, so this ends within the cap's count of rounds). */
static int foreign6_range(struct bpf_nat_spec *s, const union nf_addr *lo, const union nf_addr *hi,
			  const union nf_addr *masq6, const union nf_addr *host, unsigned nhost,
			  struct sbuf *note)
{
	union nf_addr cur = *lo;

	for (;;) {
		bool last = !memcmp(cur.b, hi->b, 12);
		uint64_t a = be32_get(cur.b + 12), b = last ? be32_get(hi->b + 12) : UINT32_MAX;

		for (unsigned k = 0; k < nhost; k++) {
			uint64_t v = be32_get(host[k].b + 12);

			if (memcmp(host[k].b, cur.b, 12) || v < a || v > b)
				continue;
			if (v > a && add_foreign6(s, &cur, (uint32_t)a, (uint32_t)v - 1) < 0)
				return -E2BIG;
			a = v + 1;
			if (!nf_addr_eq(&host[k], masq6) && note) {
				sbuf_add(note, "SNAT to ");
				put_addr6(note, &host[k]);
				sbuf_add(note, ", an IPv6 address of this host other than the uplink's "
					       "MASQUERADE address: replies to it reach the host's "
					       "kernel, not gw\n");
			}
		}
		if (a <= b && add_foreign6(s, &cur, (uint32_t)a, (uint32_t)b) < 0)
			return -E2BIG;
		if (last)
			return 0;
		/* the next 96-bit prefix, from its first address */
		memset(cur.b + 12, 0, 4);
		for (int i = 11; i >= 0 && !++cur.b[i]; i--)
			;
	}
}

/* The IPv6 half of the spec: the uplink's IPv6 address into addr6, what
 * r6 asks into *ru6 (ports zeroed without an address: nothing is DNAT-ed
 * to none), its foreign SNAT ranges into foreign6.  0 or -errno with err. */
static int spec6(const char *uplink, const struct rules *r6, const struct uplink_host *h,
		 struct bpf_nat_spec *out, struct rules_uplink *ru6, struct uplink_linger *lg,
		 struct sbuf *note, char *err, size_t errlen)
{
	union nf_addr *host;
	int nhost, rc;

	out->naddr6 = 0;
	if (!nf_addr_is_zero(&h->masq6)) {
		unsigned over = 0;

		/* MASQUERADE's first, then the uplink's other global
		 * addresses: DNAT66 -d may name them, and NatPorts to them
		 * are gw's too (as IPv4's secondaries) */
		out->addr6[out->naddr6++] = h->masq6;
		for (unsigned i = 0; i < h->ndev6 && i < h->naddr6; i++) {
			if (nf_addr_eq(&h->addr6[i], &h->masq6))
				continue;
			if (out->naddr6 == BPF_NAT_MAX_ADDR6)
				over++;
			else
				out->addr6[out->naddr6++] = h->addr6[i];
		}
		if (over && note)
			sbuf_printf(note, "%s has more than %u global IPv6 addresses: gw takes "
				    "NAT-ed and DNAT-ed traffic to the first %u only\n", uplink,
				    (unsigned)BPF_NAT_MAX_ADDR6, (unsigned)BPF_NAT_MAX_ADDR6);
	}
	/* every IPv6 address of the host: one missing here would be taken for
	 * foreign (NDP answered by gw for the host's own address) */
	nhost = host_sorted(h, true, &host);
	if (nhost < 0) {
		snprintf(err, errlen, "out of memory");
		return nhost;
	}
	rc = rules_uplink(r6, uplink, out->naddr6 ? out->addr6 : NULL, out->naddr6, host,
			  (unsigned)nhost, ru6, err, errlen);
	if (rc)
		goto out;
	if (!out->naddr6)
		ru6->tcp.n = ru6->udp.n = 0;
	for (unsigned i = 0; i < ru6->nsnat && !rc; i++)
		rc = foreign6_range(out, &ru6->snat_lo[i], &ru6->snat_hi[i], &h->masq6, host,
				    (unsigned)nhost, note);
	if (rc) {
		snprintf(err, errlen, "IPv6 SNAT addresses this host does not have need more than "
			 "%u ranges (each within one /96)", (unsigned)BPF_NAT_MAX_FOREIGN6);
		goto out;
	}
	if (h->live)
		linger_addrs(out, h->live, true, uplink, h->forwarding6, host, (unsigned)nhost, lg,
			     note);
	if (out->nforeign6 && h->forwarding6 == 1) {
		struct sbuf a;

		sbuf_init(&a);
		put_addr6(&a, &out->foreign6[0].lo);
		snprintf(err, errlen, "SNAT to %s, an IPv6 address this host does not have, needs "
			 "IPv6 forwarding off (net.ipv6.conf.all.forwarding=0 and "
			 "net.ipv6.conf.%s.forwarding=0, force_forwarding=0): with forwarding on, "
			 "the kernel forwards what gw takes for it", a.buf ? a.buf : "?", uplink);
		sbuf_free(&a);
		rc = -EINVAL;
	} else if (out->nforeign6 && h->forwarding6 < 0 && note) {
		sbuf_printf(note, "cannot read whether the kernel forwards IPv6 from %s (%s): "
			    "net.ipv6.conf.all.forwarding and net.ipv6.conf.%s.forwarding must be 0 "
			    "for SNAT to IPv6 addresses this host does not have\n", uplink,
			    strerror(-h->forwarding6), uplink);
	}
out:
	free(host);
	return rc;
}

/* ---- the spec -------------------------------------------------------------- */

int uplink_nat_spec(const char *uplink, uint32_t masq, uint16_t lo, uint16_t hi,
		    const struct rules *r, const struct rules *r6, const struct uplink_host *h,
		    struct bpf_nat_spec *out, struct uplink_linger *lg, struct sbuf *note, char *err,
		    size_t errlen)
{
	union nf_addr own[RULES_UPLINK_MAX_ADDRS], *host;
	uint32_t own4[RULES_UPLINK_MAX_ADDRS];
	struct rules_uplink ru, ru6 = { 0 };
	unsigned nown;
	int nhost, rc;

	uplink_nat_base(0, lo, hi, out);
	nown = uplink_own(uplink, masq, h, own4, RULES_UPLINK_MAX_ADDRS);
	out->naddr = nown < BPF_NAT_MAX_ADDR ? nown : BPF_NAT_MAX_ADDR;
	memcpy(out->addr, own4, out->naddr * sizeof(own4[0]));
	for (unsigned i = 0; i < out->naddr; i++)
		own[i] = nf_addr4(own4[i]);
	if (nown > BPF_NAT_MAX_ADDR && note)
		sbuf_printf(note, "%s has more than %u IPv4 addresses: gw takes NAT-ed and "
			    "DNAT-ed traffic to the first %u only\n", uplink,
			    (unsigned)BPF_NAT_MAX_ADDR, (unsigned)BPF_NAT_MAX_ADDR);

	/* every address of the host, however many: one missing here would be
	 * taken for foreign (ARP answered by gw for the host's own address) */
	nhost = host_sorted(h, false, &host);
	if (nhost < 0) {
		snprintf(err, errlen, "out of memory");
		return nhost;
	}
	/* no address yet: the rules are checked against what any address
	 * needs, and nothing is DNAT-ed until one comes */
	rc = rules_uplink(r, uplink, out->naddr ? own : NULL, out->naddr, host, (unsigned)nhost,
			  &ru, err, errlen);
	if (rc)
		goto out;
	if (!out->naddr)
		ru.tcp.n = ru.udp.n = 0;
	if (lg)
		*lg = (struct uplink_linger){ 0 };
	if (h->ipv6) {
		rc = spec6(uplink, r6, h, out, &ru6, lg, note, err, errlen);
		if (rc)
			goto out;
		/* The filters hold one list of DNAT-ed ports per protocol for
		 * the host-owned addresses of both families: a port DNAT-ed for
		 * one family is hidden from the host's kernel for both (its own
		 * services there stop answering over IPv4 and IPv6 alike). */
		if (rules_portset_union(&ru.tcp, &ru6.tcp) + rules_portset_union(&ru.udp, &ru6.udp)) {
			snprintf(err, errlen, "DNAT and REDIRECT rules of Rules and Rules6 for %s "
				 "together need more than %u port ranges per protocol", uplink,
				 (unsigned)RULES_UPLINK_MAX_PORTS);
			rc = -E2BIG;
			goto out;
		}
	}
	if (h->live && out->naddr)
		linger_ports(&ru, h->live, lg, note);
	out->ntcp = ru.tcp.n;
	for (unsigned i = 0; i < ru.tcp.n; i++)
		out->tcp[i] = (struct bpf_port_range){ ru.tcp.lo[i], ru.tcp.hi[i] };
	out->nudp = ru.udp.n;
	for (unsigned i = 0; i < ru.udp.n; i++)
		out->udp[i] = (struct bpf_port_range){ ru.udp.lo[i], ru.udp.hi[i] };
	if (ru.nother + ru6.nother && note)
		sbuf_printf(note, "%u DNAT/REDIRECT rule(s) for %s not limited to -p tcp or "
			    "udp: every TCP and UDP port of the uplink's addresses goes to gw (the "
			    "host's own TCP and UDP there stop working); other protocols than TCP, "
			    "UDP and ICMP stay with the host\n", ru.nother + ru6.nother, uplink);
	if (ru.nlocal + ru6.nlocal && note)
		sbuf_printf(note, "%u REDIRECT/DNAT rule(s) send traffic from %s to this host (to "
			    "its own address, gw's tunnel Address or a port only): gw cannot hand "
			    "it to the host's own stack, so it is dropped and counted in gw stats "
			    "as dp_drop_uplink_host (nf_drop_uplink_tunnel_addr for gw's tunnel "
			    "Address; from peers it works)\n", ru.nlocal + ru6.nlocal, uplink);
	rc = foreign(out, &ru, masq, host, (unsigned)nhost, note);
	if (rc) {
		snprintf(err, errlen, "SNAT addresses this host does not have need more than %u "
			 "ranges", (unsigned)BPF_NAT_MAX_FOREIGN);
		goto out;
	}
	if (h->live)
		linger_addrs(out, h->live, false, uplink, h->forwarding, host, (unsigned)nhost, lg,
			     note);
	if (!out->nforeign)
		goto out;
	if (h->forwarding == 1) {
		struct sbuf a;

		sbuf_init(&a);
		put_addr(&a, out->foreign[0].lo);
		snprintf(err, errlen, "SNAT to %s, an address this host does not have, needs "
			 "net.ipv4.conf.%s.forwarding=0: with forwarding on, the kernel forwards "
			 "what gw takes for it", a.buf ? a.buf : "?", uplink);
		sbuf_free(&a);
		rc = -EINVAL;
		goto out;
	}
	if (h->forwarding < 0 && note)
		sbuf_printf(note, "cannot read net.ipv4.conf.%s.forwarding (%s): it must be 0 for "
			    "SNAT to addresses this host does not have\n", uplink,
			    strerror(-h->forwarding));
out:
	free(host);
	return rc;
}

static void put_ports(struct sbuf *s, const struct bpf_port_range *r, unsigned n)
{
	if (!n)
		sbuf_add(s, "none");
	for (unsigned i = 0; i < n; i++) {
		sbuf_printf(s, "%s%u", i ? "," : "", r[i].lo);
		if (r[i].hi != r[i].lo)
			sbuf_printf(s, "-%u", r[i].hi);
	}
}

void uplink_nat_describe(const struct bpf_nat_spec *s, struct sbuf *out)
{
	sbuf_add(out, "addresses ");
	for (unsigned i = 0; i < s->naddr; i++) {
		if (i)
			sbuf_add(out, ",");
		put_addr(out, s->addr[i]);
	}
	for (unsigned i = 0; i < s->ntunnel; i++) {
		sbuf_add(out, i ? "," : "; tunnel (all IPv4) ");
		put_addr(out, s->tunnel[i]);
	}
	for (unsigned i = 0; i < s->naddr6; i++) {
		sbuf_add(out, i ? "," : "; IPv6 addresses ");
		put_addr6(out, &s->addr6[i]);
	}
	for (unsigned i = 0; i < s->ntunnel6; i++) {
		sbuf_add(out, i ? "," : "; tunnel (all IPv6) ");
		put_addr6(out, &s->tunnel6[i]);
	}
	sbuf_add(out, "; DNAT-ed tcp ");
	put_ports(out, s->tcp, s->ntcp);
	sbuf_add(out, " udp ");
	put_ports(out, s->udp, s->nudp);
	if (s->nforeign)
		sbuf_add(out, "; not the host's (gw answers ARP) ");
	for (unsigned i = 0; i < s->nforeign; i++) {
		if (i)
			sbuf_add(out, ",");
		put_addr(out, s->foreign[i].lo);
		if (s->foreign[i].hi != s->foreign[i].lo) {
			sbuf_add(out, "-");
			put_addr(out, s->foreign[i].hi);
		}
	}
	if (s->nforeign6)
		sbuf_add(out, "; not the host's (gw answers NDP) ");
	for (unsigned i = 0; i < s->nforeign6; i++) {
		if (i)
			sbuf_add(out, ",");
		put_addr6(out, &s->foreign6[i].lo);
		if (!nf_addr_eq(&s->foreign6[i].hi, &s->foreign6[i].lo)) {
			sbuf_add(out, "-");
			put_addr6(out, &s->foreign6[i].hi);
		}
	}
}
