/* SPDX-License-Identifier: MIT */
/*
 * uplink_tx — one send queue to the uplink, owned by one thread (a worker
 * owns its own: no globals, no locks).
 *
 * Two ways out, chosen per packet at commit:
 *   packet: an Ethernet frame on an AF_PACKET SOCK_RAW socket with
 *     PACKET_QDISC_BYPASS (not bound to a protocol: it receives nothing),
 *     to the next hop's MAC from gw/neigh.h.  gw fills the IP header as the
 *     raw socket did: total length, checksum, and an ID when the packet
 *     has none and no DF (a zero ID with DF stays zero; a non-zero ID is
 *     kept), from per-instance counters by keyed hash of (source,
 *     destination, protocol), as the kernel's ip_idents.  Measured on
 *     veth: 1.3 us per packet against 2.4 for the raw socket (UPLINK.md).
 *   raw: an IPPROTO_RAW socket bound to the uplink, as before (the kernel
 *     routes, resolves, fills the checksum and an ID, fragments nothing:
 *     a packet over the MTU is refused, EMSGSIZE).  Taken when the next hop
 *     has no usable neighbour entry (the kernel resolves it and the next
 *     packets find the entry), once per stale period of an entry (the
 *     kernel confirms it), for what the packet path does not decide (over
 *     the MTU, no source, multicast or broadcast, routes neigh.h does not
 *     follow), and for every packet of an uplink without ARP (IFF_NOARP,
 *     not Ethernet, point-to-point).
 * IPv6 (a packet whose version field says 6) the same ways: frames of
 *   ethertype 0x86dd to the next hop neigh_lookup6 finds (NDP entries; a
 *   link-local gateway is the usual default route), with nothing to fill
 *   but the payload length (no header checksum, no ID; set from the
 *   length for both ways, as IPv4's total length); and an AF_INET6
 *   IPPROTO_RAW socket bound to the uplink (the header included, as for
 *   IPv4: Linux implies IPV6_HDRINCL; a sockaddr_in6 destination) when
 *   there is no usable entry, once per stale period, for multicast, an
 *   unspecified source, over the MTU, and on uplinks without ARP/NDP.  The
 *   kernel leaves that header as it is (no hop limit, flow label or length
 *   filled).  Without IPv6 in the kernel (no AF_INET6 raw socket) IPv6
 *   packets are counted in drop.
 * Both from one preallocated arena of UPLINK_TX_BATCH slots, each with
 * room for the Ethernet header before the IP packet; uplink_flush sends
 * the queue in order, one sendmmsg per run of packets that take the same
 * way (so a flow is not reordered between the two).
 * TCP super-packets: TCP frames go on a second packet socket with
 * PACKET_VNET_HDR that goes through the device's queue, and consecutive
 * segments of one flow in a run that cut back byte for byte (nat/pkt/gro)
 * are joined into one frame with a virtio header (GSO TCPv4 or TCPv6 --
 * TCP right after the fixed IPv6 header; behind extension headers TCPv6
 * takes the bypass, unjoined -- partial checksum).  Not the bypass: it drops a super-packet the device cannot
 * segment itself (__dev_direct_xmit), and the queue lets the kernel's GSO
 * cut it; and all of a flow's frames, joined or not, take the same queue,
 * so a lone segment never overtakes a super-packet waiting in a qdisc.
 * The receiver takes one packet instead of dozens (on a veth, its TCP
 * work runs on gw's time).  Other protocols keep the bypass.
 * Both packet sockets are sealed (uplink_tx_seal): a take-nothing filter,
 * locked.  Sending needs no bind; a bind to a protocol would make such a
 * socket receive, which no capability guards (the socket is open), so code
 * running inside gw could make it see every frame on any interface.  Sealed,
 * it stays send-only.
 */
#ifndef GW_UPLINK_TX_H
#define GW_UPLINK_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/neigh.h"
#include "nat/pkt/gro.h"

struct mmsghdr;
struct iovec;
struct sockaddr_ll;
struct uplink_pkt;
union uplink_tx_addr;

enum {
	UPLINK_TX_BATCH = 64,
	UPLINK_TX_HEAD = 16,	/* before each slot: the Ethernet header, aligned */
	UPLINK_TX_IDS = 256,	/* IP ID counters */
};

struct uplink_tx_stats {
	uint64_t packet;	/* frames sent on the packet socket */
	uint64_t raw;		/* packets sent on the raw socket */
	uint64_t no_neigh;	/* queued raw: no usable neighbour entry */
	uint64_t confirm;	/* queued raw: a stale entry for the kernel to confirm */
	uint64_t drop;		/* refused by the kernel, or not a packet */
	uint64_t gso;		/* TCP super-packets sent on the packet socket */
	uint64_t gso_segs;	/* the segments they carried (counted in packet too) */
};

struct uplink_tx {
	int rfd;		/* raw socket */
	int rfd6;		/* IPv6 raw socket; -1: IPv6 packets dropped */
	int xfd;		/* packet socket; -1: the raw socket only */
	unsigned mtu;		/* the uplink's MTU, at most slot: the control
				 * thread follows a change (uplink_tx_set_mtu) */
	size_t slot;		/* bytes of IP packet a slot holds (>= mtu) */
	size_t stride;
	uint8_t mac[6];
	struct neigh nh;	/* watch nh.fd for reading: uplink_tx_neigh_read */
	struct sockaddr_ll *ll;	/* the packet socket's destinations: [0] IPv4, [1] IPv6 */
	/* TCP frames on gfd (PACKET_VNET_HDR, through the device's queue),
	 * consecutive segments of a flow joined in gro (ETHH_LEN + GRO_MAX
	 * bytes of grobuf) into one frame; -1: TCP takes the bypass too */
	int gfd;
	struct gro gro;
	uint8_t *grobuf;
	/* the queue: count slots committed, the way each takes (uplink_tx.c);
	 * message i uses iov[2i] and iov[2i + 1] */
	struct mmsghdr *msg;
	struct iovec *iov;
	union uplink_tx_addr *addr;	/* the raw sockets' destinations */
	uint8_t *buf, *way;
	unsigned count;
	uint16_t id[UPLINK_TX_IDS];
	uint8_t id_key[16];
	struct uplink_tx_stats st;
};

/* Attaches to socket fd a filter that takes nothing (unlocked): 0 or
 * -errno (-EPERM: its filter is locked). */
int uplink_take_nothing(int fd);
/* Seals the send-only packet socket fd: SO_ATTACH_FILTER of a program that
 * takes nothing, then SO_LOCK_FILTER, so neither a bind nor a new filter
 * ever makes it receive.  A socket sealed already (handed over by a
 * re-exec) refuses the filter with EPERM: that is success too.  0 or
 * -errno. */
int uplink_tx_seal(int fd);

/* The queue for the uplink ifname (ifindex, MTU mtu, MAC mac): the raw
 * socket always, the packet socket and the neighbour cache unless raw_only
 * or the uplink has no ARP (then logged once).  The sockets a re-exec
 * handed over as queue q (gw/handover.h) are taken as they are.  0 or
 * -errno; nothing left open on failure. */
int uplink_tx_open(struct uplink_tx *t, const char *ifname, int ifindex, unsigned mtu,
		   const uint8_t mac[static 6], bool raw_only, unsigned q);
void uplink_tx_close(struct uplink_tx *t);
/* Just the queue's arenas, no socket (all fds -1), for tests of the
 * frames uplink_send_commit builds.  0 or -ENOMEM. */
int uplink_tx_init(struct uplink_tx *t, int ifindex, unsigned mtu, const uint8_t mac[static 6]);
/* Neighbour and route events waiting on nh.fd into the cache.  0 or -errno. */
int uplink_tx_neigh_read(struct uplink_tx *t);
/* The IP header of the packet at ip as the raw socket would send it: total
 * length len, an ID when it has none and no DF, the checksum.  For the
 * packet socket's frames; exposed for tests. */
void uplink_tx_ip_fill(struct uplink_tx *t, uint8_t *ip, size_t len);

/* The MTU t sends at, and a new one (any thread: the control thread
 * follows the uplink's while a worker sends on t). */
static inline unsigned uplink_tx_mtu(const struct uplink_tx *t)
{
	return __atomic_load_n(&t->mtu, __ATOMIC_RELAXED);
}

static inline void uplink_tx_set_mtu(struct uplink_tx *t, unsigned mtu)
{
	__atomic_store_n(&t->mtu, mtu, __ATOMIC_RELAXED);
}

/* The next send slot (slot bytes), or NULL when the queue is full. */
uint8_t *uplink_send_slot(struct uplink_tx *t);
/* Queues the slot with len bytes of IPv4 or IPv6 packet in it (told
 * apart by the version field), deciding its way.  IPv6: the payload
 * length is set from len; dropped (counted) without an IPv6 raw socket. */
void uplink_send_commit(struct uplink_tx *t, size_t len);
/* Sends what is queued (what the kernel refuses is counted and dropped).
 * Returns the number sent. */
unsigned uplink_flush(struct uplink_tx *t);
/* Copies n packets into the queue, flushing as needed, then flushes.
 * Returns the number sent. */
unsigned uplink_send_batch(struct uplink_tx *t, const struct uplink_pkt *pkts, unsigned n);

#endif
