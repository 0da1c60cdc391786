/* SPDX-License-Identifier: MIT */
#include "gw/route.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "gw/config.h"

enum { DEFAULT_TUNNEL_MTU = 1420 };

void route_init(struct route_ctx *r, const struct config *cfg, uint32_t uplink_addr,
		uint16_t uplink_mtu)
{
	r->cfg = cfg;
	r->uplink_addr = uplink_addr;
	r->tunnel_mtu = cfg->mtu ? cfg->mtu : DEFAULT_TUNNEL_MTU;
	r->uplink_mtu = uplink_mtu;
}

static uint32_t cidr_addr4(const struct cidr *c)
{
	return (uint32_t)c->addr[0] << 24 | (uint32_t)c->addr[1] << 16 |
	       (uint32_t)c->addr[2] << 8 | c->addr[3];
}

bool route_is_own(const struct route_ctx *r, uint32_t addr)
{
	for (size_t i = 0; i < r->cfg->n_addresses; i++)
		if (r->cfg->addresses[i].family == AF_INET && cidr_addr4(&r->cfg->addresses[i]) == addr)
			return true;
	return false;
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

	memset(out, 0, sizeof(*out));
	/* local: out names the interface the address is on (addrtype's
	 * --limit-iface-in/out): the tunnel has the Addresses, the uplink its
	 * own address */
	if (route_is_own(r, daddr)) {
		out->kind = NF_ROUTE_LOCAL;
		memcpy(out->out, c->ifname, sizeof(out->out));
		return 0;
	}
	if (r->uplink_addr && daddr == r->uplink_addr) {
		out->kind = NF_ROUTE_LOCAL;
		memcpy(out->out, c->uplink, sizeof(out->out));
		return 0;
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		for (size_t j = 0; j < c->peers[i].n_allowed_ips; j++) {
			if (cidr_contains4(&c->peers[i].allowed_ips[j], daddr)) {
				out_tunnel(r, out);
				return 0;
			}
		}
	}
	for (size_t i = 0; i < c->n_addresses; i++) {
		if (cidr_contains4(&c->addresses[i], daddr)) {
			out_tunnel(r, out);
			return 0;
		}
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
