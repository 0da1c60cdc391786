/* SPDX-License-Identifier: MIT */
#include "gw/route.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "gw/config.h"

enum { DEFAULT_TUNNEL_MTU = 1420 };

/* What a prefix in the table means: the values stored in the trie. */
static char route_own, route_tunnel;

static int add_cidr(struct route_ctx *r, const struct cidr *c, uint8_t prefix, void *what)
{
	if (c->family != AF_INET)
		return 0;
	return allowedips_insert(&r->table, AF_INET, c->addr, prefix, what);
}

int route_init(struct route_ctx *r, const struct config *cfg, uint32_t uplink_addr,
	       uint16_t uplink_mtu)
{
	int ret = 0;

	r->cfg = cfg;
	r->uplink_addr = uplink_addr;
	r->tunnel_mtu = cfg->mtu ? cfg->mtu : DEFAULT_TUNNEL_MTU;
	r->uplink_mtu = uplink_mtu;
	allowedips_init(&r->table);
	/* peers' AllowedIPs and the Address subnets leave by the tunnel; gw's
	 * own addresses, inserted last, win over an equal peer prefix */
	for (size_t i = 0; i < cfg->n_peers && !ret; i++)
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips && !ret; j++)
			ret = add_cidr(r, &cfg->peers[i].allowed_ips[j],
				       cfg->peers[i].allowed_ips[j].prefix, &route_tunnel);
	for (size_t i = 0; i < cfg->n_addresses && !ret; i++)
		ret = add_cidr(r, &cfg->addresses[i], cfg->addresses[i].prefix, &route_tunnel);
	for (size_t i = 0; i < cfg->n_addresses && !ret; i++)
		ret = add_cidr(r, &cfg->addresses[i], 32, &route_own);
	if (ret)
		allowedips_destroy(&r->table);
	return ret;
}

void route_free(struct route_ctx *r)
{
	allowedips_destroy(&r->table);
}

static uint32_t cidr_addr4(const struct cidr *c)
{
	return (uint32_t)c->addr[0] << 24 | (uint32_t)c->addr[1] << 16 |
	       (uint32_t)c->addr[2] << 8 | c->addr[3];
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
	const void *what;

	memset(out, 0, sizeof(*out));
	/* local: out names the interface the address is on (addrtype's
	 * --limit-iface-in/out): the tunnel has the Addresses, the uplink its
	 * own address */
	if (r->uplink_addr && daddr == r->uplink_addr) {
		out->kind = NF_ROUTE_LOCAL;
		memcpy(out->out, c->uplink, sizeof(out->out));
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

uint32_t route_ifaddr(void *arg, const char *ifname)
{
	const struct route_ctx *r = arg;

	if (!strcmp(ifname, r->cfg->ifname)) {
		for (size_t i = 0; i < r->cfg->n_addresses; i++)
			if (r->cfg->addresses[i].family == AF_INET)
				return cidr_addr4(&r->cfg->addresses[i]);
		return 0;
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
	return route_ifaddr((void *)r, ifname);
}
