/* SPDX-License-Identifier: MIT */
#include "gw/route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw/config.h"
#include "gw/nl.h"

enum { DEFAULT_TUNNEL_MTU = 1420, ROUTE_DUMP_BUF = 32768 };

/* What a prefix in the table means: the values stored in the trie. */
static char route_own, route_tunnel;

static int add_cidr(struct allowedips *t, const struct cidr *c, uint8_t prefix, void *what)
{
	return allowedips_insert(t, c->family, c->addr, prefix, what);
}

int route_table_build(struct allowedips *t, const struct config *cfg)
{
	int ret = 0;

	allowedips_init(t);
	/* peers' AllowedIPs and the Address subnets leave by the tunnel; gw's
	 * own addresses, inserted last, win over an equal peer prefix */
	for (size_t i = 0; i < cfg->n_peers && !ret; i++)
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips && !ret; j++)
			ret = add_cidr(t, &cfg->peers[i].allowed_ips[j],
				       cfg->peers[i].allowed_ips[j].prefix, &route_tunnel);
	for (size_t i = 0; i < cfg->n_addresses && !ret; i++)
		ret = add_cidr(t, &cfg->addresses[i], cfg->addresses[i].prefix, &route_tunnel);
	for (size_t i = 0; i < cfg->n_addresses && !ret; i++)
		ret = add_cidr(t, &cfg->addresses[i], cfg->addresses[i].family == AF_INET ? 32 : 128,
			       &route_own);
	if (ret)
		allowedips_destroy(t);
	return ret;
}

void route_table_swap(struct route_ctx *r, struct allowedips *t)
{
	allowedips_destroy(&r->table);
	r->table = *t;
	allowedips_init(t);
}

int route_init(struct route_ctx *r, const struct config *cfg, uint32_t uplink_addr,
	       uint16_t uplink_mtu)
{
	r->cfg = cfg;
	r->uplink_addr = uplink_addr;
	r->local = NULL;
	r->nlocal = 0;
	memset(&r->uplink_addr6, 0, sizeof(r->uplink_addr6));
	r->local6 = NULL;
	r->nlocal6 = 0;
	r->tunnel_mtu = cfg->mtu ? cfg->mtu : DEFAULT_TUNNEL_MTU;
	r->uplink_mtu = uplink_mtu;
	return route_table_build(&r->table, cfg);
}

void route_free(struct route_ctx *r)
{
	allowedips_destroy(&r->table);
	free(r->local);
	r->local = NULL;
	r->nlocal = 0;
	free(r->local6);
	r->local6 = NULL;
	r->nlocal6 = 0;
}

static int cmp_addr6(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(union nf_addr));
}

void route_set_local6(struct route_ctx *r, union nf_addr *a, unsigned n)
{
	/* sorted once here, so a packet's lookup is a binary search */
	if (n > 1)
		qsort(a, n, sizeof(*a), cmp_addr6);
	free(r->local6);
	r->local6 = a;
	r->nlocal6 = n;
}

static int cmp_addr(const void *a, const void *b)
{
	uint32_t x = ((const struct route_addr *)a)->addr, y = ((const struct route_addr *)b)->addr;

	return x < y ? -1 : x > y;
}

int route_set_local(struct route_ctx *r, const struct route_addr *a, unsigned n)
{
	struct route_addr *l = malloc((n ? n : 1) * sizeof(*l));
	unsigned k = 0;

	if (!l)
		return -ENOMEM;
	if (n)
		memcpy(l, a, n * sizeof(*l));
	/* stable for equal addresses: the first interface the kernel lists
	 * keeps one that two interfaces have */
	for (unsigned i = 1; i < n; i++) {
		struct route_addr t = l[i];
		unsigned j = i;

		for (; j > 0 && cmp_addr(&l[j - 1], &t) > 0; j--)
			l[j] = l[j - 1];
		l[j] = t;
	}
	for (unsigned i = 0; i < n; i++)
		if (!k || l[i].addr != l[k - 1].addr)
			l[k++] = l[i];
	free(r->local);
	r->local = l;
	r->nlocal = k;
	return 0;
}

/* The host's address daddr, or NULL. */
static const struct route_addr *find_local(const struct route_ctx *r, uint32_t daddr)
{
	unsigned lo = 0, hi = r->nlocal;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (r->local[mid].addr < daddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nlocal && r->local[lo].addr == daddr ? &r->local[lo] : NULL;
}

bool route_is_own(const struct route_ctx *r, uint32_t addr)
{
	const uint8_t key[4] = { (uint8_t)(addr >> 24), (uint8_t)(addr >> 16),
				 (uint8_t)(addr >> 8), (uint8_t)addr };

	return allowedips_lookup(&r->table, AF_INET, key) == &route_own;
}

static void out_tunnel(const struct route_ctx *r, struct nf_route *out)
{
	out->kind = NF_ROUTE_FORWARD;
	memcpy(out->out, r->cfg->ifname, sizeof(out->out));
	out->mtu = r->tunnel_mtu;
}

int route_lookup(void *arg, uint32_t daddr, struct nf_route *out)
{
	const struct route_ctx *r = arg;
	const struct config *c = r->cfg;
	const uint8_t key[4] = { (uint8_t)(daddr >> 24), (uint8_t)(daddr >> 16),
				 (uint8_t)(daddr >> 8), (uint8_t)daddr };
	const struct route_addr *l;
	const void *what;

	memset(out, 0, sizeof(*out));
	/* local: out names the interface the address is on (addrtype's
	 * --limit-iface-in/out): the tunnel has the Addresses, the uplink its
	 * own address; and every other address of the host, as the kernel's
	 * local table comes before any other route */
	if (r->uplink_addr && daddr == r->uplink_addr) {
		out->kind = NF_ROUTE_LOCAL;
		memcpy(out->out, c->uplink, sizeof(out->out));
		return 0;
	}
	if ((l = find_local(r, daddr))) {
		out->kind = NF_ROUTE_LOCAL;
		memcpy(out->out, l->dev, sizeof(out->out));
		return 0;
	}
	what = allowedips_lookup(&r->table, AF_INET, key);
	if (what == &route_own) {
		out->kind = NF_ROUTE_LOCAL;
		memcpy(out->out, c->ifname, sizeof(out->out));
		return 0;
	}
	if (what == &route_tunnel) {
		out_tunnel(r, out);
		return 0;
	}
	if (!c->uplink[0])
		return -ENETUNREACH;
	out->kind = NF_ROUTE_FORWARD;
	memcpy(out->out, c->uplink, sizeof(out->out));
	out->mtu = r->uplink_mtu;
	return 0;
}

/* The groups a forwarding IPv6 host is in (Linux: all nodes and all
 * routers at link-local scope (interface-local ones never arrive:
 * martian6), all routers at site scope,
 * and the solicited-node group of each of its addresses, ff02::1:ffXX:XXXX
 * with the address's last 24 bits). */
static bool joined6(const struct route_ctx *r, const union nf_addr *g)
{
	static const uint8_t sol[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };
	const uint8_t *b = g->b;

	if (!memcmp(b + 2, (const uint8_t[13]){ 0 }, 13) &&
	    (b[1] == 0x02 ? b[15] == 1 || b[15] == 2 : b[1] == 0x05 && b[15] == 2))
		return true;
	if (memcmp(b, sol, 13))
		return false;
	if (!nf_addr_is_zero(&r->uplink_addr6) && !memcmp(r->uplink_addr6.b + 13, b + 13, 3))
		return true;
	for (size_t i = 0; i < r->cfg->n_addresses; i++) {
		const struct cidr *c = &r->cfg->addresses[i];

		if (c->family == AF_INET6 && !memcmp(c->addr + 13, b + 13, 3))
			return true;
	}
	return false;
}

int route_lookup6(void *arg, const union nf_addr *daddr, struct nf_route *out)
{
	const struct route_ctx *r = arg;
	const struct config *c = r->cfg;
	const void *what;

	memset(out, 0, sizeof(*out));
	/* multicast (ff00::/8) is never forwarded: the host's when it is in
	 * the group, else dropped (ip6_mc_input) */
	if (daddr->b[0] == 0xff) {
		if (!joined6(r, daddr))
			return -ENETUNREACH;
		out->kind = NF_ROUTE_LOCAL;
		return 0;
	}
	if (!nf_addr_is_zero(&r->uplink_addr6) && nf_addr_eq(daddr, &r->uplink_addr6)) {
		out->kind = NF_ROUTE_LOCAL;
		memcpy(out->out, c->uplink, sizeof(out->out));
		return 0;
	}
	what = allowedips_lookup(&r->table, AF_INET6, daddr->b);
	/* the host's other addresses (sorted: route_set_local6) */
	if (what != &route_own && r->nlocal6 &&
	    bsearch(daddr, r->local6, r->nlocal6, sizeof(*r->local6), cmp_addr6)) {
		out->kind = NF_ROUTE_LOCAL;
		return 0;
	}
	if (what == &route_own) {
		out->kind = NF_ROUTE_LOCAL;
		memcpy(out->out, c->ifname, sizeof(out->out));
		return 0;
	}
	if (what == &route_tunnel) {
		out_tunnel(r, out);
	} else {
		if (!c->uplink[0] || nf_addr_is_zero(&r->uplink_addr6))
			return -ENETUNREACH;  /* no IPv6 on the uplink: no default route */
		out->kind = NF_ROUTE_FORWARD;
		memcpy(out->out, c->uplink, sizeof(out->out));
		out->mtu = r->uplink_mtu;
	}
	/* ip6_forward: an IPv6 path's MTU is never below 1280 */
	if (out->mtu < 1280)
		out->mtu = 1280;
	return 0;
}

/* The length of the prefix a and b share (0..128). */
static unsigned common_prefix(const uint8_t *a, const uint8_t *b)
{
	unsigned n = 0;

	for (unsigned i = 0; i < 16; i++, n += 8) {
		uint8_t x = a[i] ^ b[i];

		if (x)
			return n + (unsigned)__builtin_clz(x) - 24;
	}
	return n;
}

bool route_ifaddr6(void *arg, const char *ifname, const union nf_addr *dst, union nf_addr *out)
{
	const struct route_ctx *r = arg;

	if (!strcmp(ifname, r->cfg->ifname)) {
		unsigned best = 0;
		bool found = false;

		/* ipv6_dev_get_saddr, for what a tunnel has (global
		 * Addresses): the one sharing the longest prefix with dst
		 * (RFC 6724 rule 8), the first of equals */
		for (size_t i = 0; i < r->cfg->n_addresses; i++) {
			const struct cidr *c = &r->cfg->addresses[i];
			unsigned len;

			if (c->family != AF_INET6)
				continue;
			len = dst ? common_prefix(c->addr, dst->b) : 0;
			if (!found || len > best) {
				memcpy(out->b, c->addr, 16);
				best = len;
				found = true;
			}
		}
		if (found)
			return true;
		/* no IPv6 Address: as ipv6_dev_get_saddr, a global address of
		 * another interface (the uplink's first) */
		if (!nf_addr_is_zero(&r->uplink_addr6)) {
			*out = r->uplink_addr6;
			return true;
		}
		for (unsigned i = 0; i < r->nlocal6; i++)
			if ((r->local6[i].b[0] & 0xe0) == 0x20 || (r->local6[i].b[0] & 0xfe) == 0xfc) {
				*out = r->local6[i];
				return true;
			}
		return false;
	}
	if (!strcmp(ifname, r->cfg->uplink) && !nf_addr_is_zero(&r->uplink_addr6)) {
		*out = r->uplink_addr6;
		return true;
	}
	return false;
}

/* Is a in the subnet of c (an IPv4 Address with its prefix)? */
static bool in_subnet(const struct cidr *c, uint32_t a)
{
	uint32_t mask = c->prefix ? ~(uint32_t)0 << (32 - c->prefix) : 0;

	return ((cidr_addr4(c) ^ a) & mask) == 0;
}

uint32_t route_ifaddr(void *arg, const char *ifname, uint32_t dst)
{
	const struct route_ctx *r = arg;

	if (!strcmp(ifname, r->cfg->ifname)) {
		uint32_t first = 0;

		/* inet_select_addr: an Address in the same subnet as an
		 * earlier one is a secondary there, and that earlier one
		 * matches first */
		for (size_t i = 0; i < r->cfg->n_addresses; i++) {
			const struct cidr *c = &r->cfg->addresses[i];

			if (c->family != AF_INET)
				continue;
			if (dst && in_subnet(c, dst))
				return cidr_addr4(c);
			if (!first)
				first = cidr_addr4(c);
		}
		return first;
	}
	if (!strcmp(ifname, r->cfg->uplink))
		return r->uplink_addr;
	return 0;
}

uint32_t route_src_toward(const struct route_ctx *r, const char *ifname, uint32_t daddr)
{
	struct nf_route out;

	if (!route_lookup((void *)r, daddr, &out) && out.kind == NF_ROUTE_LOCAL)
		return daddr;
	return route_ifaddr((void *)r, ifname, 0);
}

bool route_src_toward6(const struct route_ctx *r, const char *ifname, const union nf_addr *daddr,
		       const union nf_addr *to, union nf_addr *out)
{
	struct nf_route rt;

	if (!route_lookup6((void *)r, daddr, &rt) && rt.kind == NF_ROUTE_LOCAL) {
		*out = *daddr;
		return true;
	}
	return route_ifaddr6((void *)r, ifname, to, out);
}

/* The addresses of one RTM_GETADDR dump into a growing array. */
struct dump {
	struct route_addr *a;
	unsigned n, cap;
	int err;
	unsigned last_index;	/* addresses come grouped by interface */
	char last_dev[NF_IFNAMSIZ];
};

static int dump_one(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct dump *d = data;
	const struct nlattr *at, *local = NULL, *addr = NULL;
	const struct nlattr *use;
	struct route_addr *ra;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) ||
	    ifa->ifa_family != AF_INET)
		return MNL_CB_OK;
	mnl_attr_for_each(at, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(at) == IFA_LOCAL && mnl_attr_get_payload_len(at) == 4)
			local = at;
		else if (mnl_attr_get_type(at) == IFA_ADDRESS && mnl_attr_get_payload_len(at) == 4)
			addr = at;
	}
	/* IFA_LOCAL is the interface's own address (IFA_ADDRESS the peer's
	 * on a point-to-point link) */
	use = local ? local : addr;
	if (!use)
		return MNL_CB_OK;
	if (d->n == d->cap) {
		unsigned cap = d->cap ? 2 * d->cap : 16;
		struct route_addr *na = realloc(d->a, cap * sizeof(*na));

		if (!na) {
			d->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		d->a = na;
		d->cap = cap;
	}
	ra = &d->a[d->n];
	memset(ra, 0, sizeof(*ra));
	ra->addr = ntohl(*(const uint32_t *)mnl_attr_get_payload(use));
	/* by index, not by label: a secondary address labelled eth0:1 is
	 * still eth0's */
	if (ifa->ifa_index != d->last_index) {
		if (!if_indextoname(ifa->ifa_index, d->last_dev))
			return MNL_CB_OK; /* the interface went meanwhile */
		d->last_index = ifa->ifa_index;
	}
	memcpy(ra->dev, d->last_dev, sizeof(ra->dev));
	d->n++;
	return MNL_CB_OK;
}

/* One RTM_GETADDR dump of family's addresses through cb (data its
 * argument; *err its own error, if it set one).  0 or -errno (-EINTR: the
 * dump was interrupted, NLM_F_DUMP_INTR). */
static int addr_dump(int family, mnl_cb_t cb, void *data, const int *err)
{
	char buf[ROUTE_DUMP_BUF] __attribute__((aligned(8)));
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct rtgenmsg *rt;
	unsigned portid, seq = 1;
	ssize_t n;
	int rc;

	nl = nl_route_open(0, 0);
	if (!nl)
		return -errno;
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtgen_family = (unsigned char)family;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (rc <= MNL_CB_STOP)
			break;
	}
	rc = rc < 0 ? (*err ? *err : -errno) : 0;
out:
	mnl_socket_close(nl);
	return rc;
}

int route_addrs_parse(const void *buf, size_t len, struct route_addr **out)
{
	struct dump d = { 0 };
	int rc = mnl_cb_run(buf, len, 0, 0, dump_one, &d);

	*out = NULL;
	if (rc < 0) {
		free(d.a);
		return d.err ? d.err : -EINVAL;
	}
	*out = d.a;
	return (int)d.n;
}

static int host_addrs_once(struct route_addr **out)
{
	struct dump d = { 0 };
	int rc = addr_dump(AF_INET, dump_one, &d, &d.err);

	*out = NULL;
	if (rc < 0) {
		free(d.a);
		return rc;
	}
	*out = d.a;
	return (int)d.n;
}

/* A dump the host's addresses changed under (NLM_F_DUMP_INTR: libmnl says
 * EINTR) is taken again: the change's event may have been read already. */
int route_host_addrs(struct route_addr **out)
{
	int rc = -EINTR;

	for (int i = 0; i < 5 && rc == -EINTR; i++)
		rc = host_addrs_once(out);
	return rc;
}

uint32_t route_dev_addr(const struct route_addr *a, unsigned n, const char *dev)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(a[i].dev, dev))
			return a[i].addr;
	return 0;
}

struct dump6;
static int keep6(struct dump6 *d, const void *addr, bool dev);

/* One RTM_GETADDR dump for IPv6: every address of the host, and the first
 * usable global address of one interface (index). */
struct dump6 {
	unsigned index;
	union nf_addr *out;
	const union nf_addr *keep;  /* preferred while it stays usable, or NULL */
	bool found;
	union nf_addr *all;
	unsigned n, cap;
	unsigned ndev;              /* all[0..ndev): index's global addresses */
	int err;
};

static int dump6_one(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct dump6 *d = data;
	const struct nlattr *at, *use = NULL;
	uint32_t flags;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) ||
	    ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	flags = ifa->ifa_flags;
	if (ifa->ifa_index != d->index || ifa->ifa_scope != RT_SCOPE_UNIVERSE) {
		mnl_attr_for_each(at, nlh, sizeof(*ifa))
			if ((mnl_attr_get_type(at) == IFA_LOCAL ||
			     mnl_attr_get_type(at) == IFA_ADDRESS) &&
			    mnl_attr_get_payload_len(at) == 16 && !use)
				use = at;
		return use ? keep6(d, mnl_attr_get_payload(use), false) : MNL_CB_OK;
	}
	mnl_attr_for_each(at, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(at) == IFA_FLAGS && mnl_attr_get_payload_len(at) == 4)
			flags = mnl_attr_get_u32(at);
		else if ((mnl_attr_get_type(at) == IFA_LOCAL || mnl_attr_get_type(at) == IFA_ADDRESS) &&
			 mnl_attr_get_payload_len(at) == 16 && !use)
			use = at;
	}
	if (!use)
		return MNL_CB_OK;
	/* not yet (or no longer) the host's to send from, or a temporary
	 * (privacy) address that comes and goes: not MASQUERADE's; the first
	 * usable one, or the one MASQUERADE has while it stays usable (a new
	 * address would flush every NAT66 entry) */
	if (!(flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED | IFA_F_TEMPORARY)) &&
	    (!d->found || (d->keep && !memcmp(d->keep->b, mnl_attr_get_payload(use), 16)))) {
		memcpy(d->out->b, mnl_attr_get_payload(use), 16);
		d->found = true;
	}
	/* any the kernel takes as its own (temporary and deprecated ones
	 * too) is the interface's: DNAT66 -d may name it */
	return keep6(d, mnl_attr_get_payload(use),
		     !(flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)));
}

/* Every address into d->all (the kernel's local table has them all); the
 * interface's own (dev) go first, in dump order. */
static int keep6(struct dump6 *d, const void *addr, bool dev)
{
	if (d->n == d->cap) {
		unsigned cap = d->cap ? 2 * d->cap : 16;
		union nf_addr *na = realloc(d->all, cap * sizeof(*na));

		if (!na) {
			d->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		d->all = na;
		d->cap = cap;
	}
	if (dev) {
		memmove(&d->all[d->ndev + 1], &d->all[d->ndev], (d->n - d->ndev) * sizeof(*d->all));
		memcpy(d->all[d->ndev++].b, addr, 16);
		d->n++;
	} else {
		memcpy(d->all[d->n++].b, addr, 16);
	}
	return MNL_CB_OK;
}

int route_addrs6_parse(const void *buf, size_t len, unsigned index, const union nf_addr *keep,
		       union nf_addr *dev_addr, union nf_addr **all, unsigned *ndev)
{
	struct dump6 d = { .index = index, .out = dev_addr, .keep = keep };
	int rc;

	memset(dev_addr, 0, sizeof(*dev_addr));
	rc = mnl_cb_run(buf, len, 0, 0, dump6_one, &d);
	*all = NULL;
	*ndev = 0;
	if (rc < 0) {
		free(d.all);
		return d.err ? d.err : -EINVAL;
	}
	*all = d.all;
	*ndev = d.ndev;
	return (int)d.n;
}

int route_host_addrs6(const char *dev, const union nf_addr *keep, union nf_addr *dev_addr,
		      union nf_addr **all, unsigned *ndev)
{
	struct dump6 d;
	int rc = -EINTR;

	for (int i = 0; i < 5 && rc == -EINTR; i++) {
		d = (struct dump6){ .index = dev ? if_nametoindex(dev) : 0, .out = dev_addr,
				    .keep = keep };
		memset(dev_addr, 0, sizeof(*dev_addr));
		rc = addr_dump(AF_INET6, dump6_one, &d, &d.err);
		if (rc)
			free(d.all);
	}
	if (rc < 0)
		return rc;
	*all = d.all;
	*ndev = d.ndev;
	return (int)d.n;
}
