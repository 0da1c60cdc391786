/* SPDX-License-Identifier: MIT */
/*
 * dataplane — every IPv4 packet through the netfilter pipeline (nat/hook.h)
 * when the config has Rules or an Uplink, and where it goes after:
 *
 *   from a peer (decrypted)  -> nf_input(in = tunnel)  \
 *   off the uplink (frag'd)  -> nf_input(in = uplink)   > dispatch
 *   from the host TUN        -> nf_from_host           /
 *     (made by the host: OUTPUT; forwarded by it: in = tunnel, FORWARD)
 *   dispatch: FORWARD tunnel -> wg_send to the owning peer
 *             FORWARD uplink -> raw socket (queued, sendmmsg at flush)
 *             LOCAL          -> host TUN (from the uplink: the kernel has it)
 *             REJECT / TTL / DF over the path MTU -> the answer gw builds,
 *             through nf_output, dispatched the same way (never answered)
 *
 * Without Rules and Uplink g->nf is NULL and gw.c keeps the plain tunnel
 * (peers <-> TUN), with the host's addresses followed only to drop a
 * peer's packet that claims one as its source.  IPv6 bypasses the pipeline
 * (nat/ is IPv4): in gateway mode it is dropped unless IPv6 = pass.
 * MASQUERADE follows the uplink's address: an rtnetlink RTMGRP_IPV4_IFADDR
 * socket in the loop; when the uplink's primary IPv4 address changes, nf and
 * route take the new one and the entries NAT-ed to the old one are flushed
 * (nat_flush_addr, as Linux does, logged); with no address MASQUERADE drops
 * until one appears.  On every IPv4 address event (any interface) the
 * uplink's filter spec is computed again from the live rules and the host's
 * addresses (gw/uplink_nat.h: the uplink's secondaries, what is foreign);
 * when that spec is refused, the filters fall back to MASQUERADE's address
 * and NatPorts (logged as an error) instead of staying on stale addresses.
 * Timers: conntrack and reassembly expiry run from gw's one timer, armed at
 * dp_next_deadline(); dying entries are reaped at each dp_flush().
 */
#ifndef GW_DATAPLANE_H
#define GW_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/hook.h"
#include "nat/pkt/pkt.h"

struct config;
struct ct_owner_stats;
struct gw;
struct metrics;
struct sbuf;

/* Packets from one source (the peers, or the uplink) on their way into
 * nf_input_batch; at most one of them lives in the reassembly buffer. */
enum { DP_BATCH = 64 };
struct dp_batch {
	struct pkt p[DP_BATCH];
	struct pkt *pp[DP_BATCH];
	struct nf_result res[DP_BATCH];
	uint32_t rnd[DP_BATCH];
	unsigned n;
	const char *in;
	uint8_t from;
	bool fragbuf_used;
};

/* After the tunnel is up: nf, route, reassembly, uplink.  0 or -errno
 * (logged); without Rules and Uplink only route and the host's addresses. */
int dp_setup(struct gw *g);
/* Uplink closed (tc filter and reserved ports removed), nf freed. */
void dp_teardown(struct gw *g);

/* A decrypted packet from a peer (owner: its conntrack owner id, see
 * add_peers); pkt is gw's to rewrite, and must stay until dp_input_flush
 * (packets are batched into nf_input_batch). */
void dp_from_peer(struct gw *g, uint8_t *pkt, size_t len, uint16_t owner, uint64_t now,
		  uint64_t wall);
/* nf_local_fn for a config (cfg: struct config): whether the host's kernel
 * gets what gw routes to it -- not TCP or UDP off the uplink (the tc filter
 * hid it), nor anything off the uplink that gw does not send on by it. */
bool dp_host_gets(void *cfg, const struct pkt *p, const char *in, const struct nf_route *r);
/* The conntrack owner id of the peer whose AllowedIPs hold src (longest
 * prefix; as add_peers numbers them), 0 for none: for gw trace. */
uint16_t dp_peer_owner(const struct config *c, uint32_t src);
/* Gateway mode with IPv6 = drop: an IPv6 packet between peers and the host
 * is dropped (counted); true when it was. */
bool dp_ipv6_dropped(struct gw *g, const uint8_t *pkt);
/* The batched packets' way on: call before their buffers are reused. */
void dp_input_flush(struct gw *g, uint64_t now, uint64_t wall);
/* A packet the host wrote to the TUN device. */
void dp_from_host(struct gw *g, uint8_t *pkt, size_t len, uint64_t now, uint64_t wall);

/* Sends the uplink queue and reaps entries killed on the packet path. */
void dp_flush(struct gw *g, uint64_t now);
/* Conntrack and reassembly expiry. */
void dp_tick(struct gw *g, uint64_t now);
/* The earliest of their deadlines (ns, monotonic), UINT64_MAX when none. */
uint64_t dp_next_deadline(const struct gw *g);

/* gw stats lines: paths, drops, conntrack use, uplink and reassembly. */
void dp_stats(struct gw *g, struct metrics *m);
/* A peer's share of conntrack (owner: its conntrack owner id), for show;
 * -ENOENT without netfilter. */
int dp_peer_ct(struct gw *g, uint16_t owner, struct ct_owner_stats *os);

/* The control socket's requests (gw/ctl.h); -ENOENT without netfilter.
 * SIGHUP: the Rules file again, parsed on top of the live rules and swapped
 * in at once (conntrack and NAT bindings stay); on error the old rules stay
 * (logged). */
int dp_reload(struct gw *g);
/* Rules text on top of the live rules, swapped in at once; counters: take
 * its [packets:bytes] (iptables-restore -c).  On error nothing changes and
 * err has "NAME:LINE: message". */
int dp_restore(struct gw *g, const char *name, const char *text, size_t len, bool counters,
	       char *err, size_t errlen);
int dp_rules_list(struct gw *g, unsigned table, const char *chain, unsigned flags,
		  struct sbuf *out);
/* rules_save with counters. */
int dp_rules_save(struct gw *g, struct sbuf *out);
/* conntrack -L lines (flags: nat/ct.h's CT_FMT_*); *count entries listed. */
int dp_ct_list(struct gw *g, unsigned flags, struct sbuf *out, unsigned *count);
int dp_ct_count(struct gw *g, unsigned *count);
int dp_ct_flush(struct gw *g, unsigned *flushed);

#endif
