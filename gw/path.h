/* SPDX-License-Identifier: MIT */
/*
 * path — every IPv4 packet through the netfilter pipeline (nat/hook.h)
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
 * Timers: conntrack and reassembly expiry run from the control thread's
 * timer, armed at dp_next_deadline(); dying entries are reaped at each
 * dp_flush() (the end of each worker's batch).  Everything here runs under
 * the workers' lock (gw/gw.h) and calls only downward: nat/, crypto/, the
 * forwarding decision (gw/forward.h) and the workers' output (gw/worker.h).
 */
#ifndef GW_PATH_H
#define GW_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/hook.h"
#include "nat/pkt/pkt.h"

struct config;
struct fwd_action;
struct gw;
struct route_ctx;
struct uplink_pkt;

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

/* A decrypted packet from a peer (owner: its conntrack owner id, see
 * add_peers); pkt is gw's to rewrite, with room more bytes writable after
 * it (struct pkt), and must stay until dp_input_flush (packets are batched
 * into nf_input_batch). */
void dp_from_peer(struct gw *g, uint8_t *pkt, size_t len, size_t room, uint16_t owner,
		  uint64_t now, uint64_t wall);
/* nf_local_fn for a config (cfg: struct config): whether the host's kernel
 * gets what gw routes to it -- not TCP or UDP off the uplink (the tc filter
 * hid it), nor anything off the uplink that gw does not send on by it. */
bool dp_host_gets(void *cfg, const struct pkt *p, const char *in, const struct nf_route *r);
/* The conntrack owner id of the peer whose AllowedIPs hold src (longest
 * prefix; as add_peers numbers them), 0 for none: for gw trace. */
uint16_t dp_peer_owner(const struct config *c, uint8_t family, const union nf_addr *src);
/* gw's answer to p, which came in on in, as a says (the REJECT reply res
 * names, or a's ICMP/ICMPv6 error), into buf[0..cap): its length, or 0 when
 * none is due.  From p's destination when that is local, else from gw's
 * address on in (route_src_toward). */
size_t dp_answer_build(const struct route_ctx *r, const struct pkt *p,
		       const struct nf_result *res, const struct fwd_action *a, const char *in,
		       uint16_t ip_id, uint8_t *buf, size_t cap);
/* Gateway mode with IPv6 = drop: an IPv6 packet between peers and the host
 * is dropped (counted); true when it was. */
bool dp_ipv6_dropped(struct gw *g, const uint8_t *pkt);
/* Does the packet (from a peer or the host) go through netfilter: IPv4 in
 * gateway mode, IPv6 too with Rules6. */
bool dp_filtered(const struct gw *g, const uint8_t *pkt);
/* The batched packets' way on: call before their buffers are reused. */
void dp_input_flush(struct gw *g, uint64_t now, uint64_t wall);
/* A packet the host wrote to the TUN device, with room more bytes writable
 * after it. */
void dp_from_host(struct gw *g, uint8_t *pkt, size_t len, size_t room, uint64_t now,
		  uint64_t wall);
/* One wake-up's time, for the uplink's receive callback. */
struct dp_rx_ctx {
	struct gw *g;
	uint64_t now, wall;
};
/* uplink_rx_fn (ctx: struct dp_rx_ctx): packets off the uplink. */
void dp_from_uplink(void *ctx, struct uplink_pkt *pkts, unsigned n);

/* Sends the uplink queue and reaps entries killed on the packet path. */
void dp_flush(struct gw *g, uint64_t now);
/* Conntrack and reassembly expiry. */
void dp_tick(struct gw *g, uint64_t now);
/* The earliest of their deadlines (ns, monotonic), UINT64_MAX when none. */
uint64_t dp_next_deadline(const struct gw *g);

#endif
