/* SPDX-License-Identifier: MIT */
/*
 * uplink — gw's packets on the uplink without netfilter (UPLINK.md).
 *
 * In:  an AF_PACKET/ETH_P_ALL SOCK_RAW socket bound to the uplink (it sees
 *      also what the tc filter shoots), PACKET_IGNORE_OUTGOING, the classic
 *      BPF socket filter of gw/bpf.h, PACKET_VNET_HDR, and a TPACKET_V2
 *      receive ring (see "The receive ring" in uplink.c for why not V3):
 *      frames are walked in place in the mmap'ed slots, each slot given back
 *      to the kernel once its packets have been handed on; a frame larger
 *      than a slot (a GRO/GSO super-packet) is read from the socket's queue.
 *      Each frame becomes one or more IPv4 packet views whose checksums are
 *      complete: a GSO super-packet (TCP, UDP_L4) is cut into gso_size
 *      segments with their own IP and TCP/UDP headers and checksums, and a
 *      packet whose checksum is still partial (CHECKSUM_PARTIAL from a local
 *      veth peer) gets it completed.  Fragments are passed on as they are.
 *      IPv6 (ethertype 0x86dd) the same way, each view marked with its
 *      family (struct uplink_pkt.family), when the caller takes IPv6
 *      (uplink_conf.ipv6); else every IPv6 packet is counted
 *      (UPLINK_DROP_IPV6) and dropped, so an IPv4-only caller never sees one.
 *      IPv6 GSO super-packets: TCPv6 (TCP right after the fixed header) is
 *      cut like TCPv4; UDP_L4 over IPv6 and TCPv6 behind extension headers
 *      are counted (UPLINK_DROP_GSO) and dropped — nat/pkt/gso.c cuts
 *      neither.  Neighbor Solicitations are never handed on (below).
 * Out: gw/uplink_tx.h, the send queue: Ethernet frames on AF_PACKET
 *      sockets to the next hop's MAC (gw/neigh.h, learned from the
 *      kernel's neighbour and route tables), the IP header's checksum and
 *      ID filled by gw: PACKET_QDISC_BYPASS for all but TCP; TCP through
 *      the device's queue with PACKET_VNET_HDR, a flow's consecutive
 *      segments joined into GSO super-packets.  The IPPROTO_RAW socket
 *      bound to the uplink for what has no neighbour entry yet (the kernel
 *      resolves it) and for uplinks without ARP.  IPv6 the same way
 *      (ethertype 0x86dd, next hops from the IPv6 routes -- a link-local
 *      gateway as a rule -- and NDP entries, TCPv6 joined, an AF_INET6
 *      IPPROTO_RAW socket as the fallback).  sendmmsg batches from a
 *      preallocated arena.  One queue per owner thread: u->tx here.
 * Host-owned NAT address: uplink_open also installs the tc ingress filter
 *      (gw/tc.h) and reserves NatPorts and the DNAT-ed ports the kernel
 *      could hand out as ephemeral ports (gw/sysctl.h, uplink_reserve_map;
 *      uplink_set_nat moves the reservation with the filters); uplink_close
 *      removes both, so it needs CAP_NET_ADMIN still (or runs before the
 *      drop).
 * Foreign NAT addresses (the host does not own them): the socket filter
 *      keeps all IPv4 to them and the ARP requests for them; uplink answers
 *      those itself on the packet socket (gw/arp.h) with the uplink's MAC,
 *      and announces each address once with a gratuitous ARP when it joins
 *      the spec (up to UPLINK_ANNOUNCE_MAX addresses per change).  IPv6
 *      (nat.foreign6): the same with Neighbor Solicitations and
 *      Advertisements (gw/ndp.h), announced by an unsolicited NA.
 * IPv6 ports: NatPorts and the DNAT-ed ports are reserved once for both
 *      families: net.ipv4.ip_local_reserved_ports (and
 *      ip_local_port_range) govern IPv6 and dual-stack sockets' ephemeral
 *      ports too (gw/sysctl.h; Linux has no IPv6 copy of either).
 *
 * No allocation after uplink_open.  Views live until the callback returns.
 *
 * SO_LOCK_FILTER: the send-only packet sockets of gw/uplink_tx.h are
 *      sealed with a locked take-nothing filter (uplink_tx_seal).  The
 *      receiving one is not locked: uplink_set_nat replaces its filter
 *      while gw runs (MASQUERADE following the uplink's address, a rules
 *      restore, SIGHUP), and a locked filter cannot be replaced.  Opening
 *      new packet sockets instead would need CAP_NET_RAW after the drop
 *      (gw/priv.h keeps it only during setup) and AF_PACKET in the seccomp
 *      filter, which would let code running inside gw open an unfiltered
 *      one: wider than the unlocked filter it has.  Keeping the filter's
 *      values in an eBPF map gw updates, the program locked, needs CAP_BPF
 *      in the initial user namespace (kernel.unprivileged_bpf_disabled),
 *      which a rootless gw never has.  With a host-owned address gw keeps
 *      CAP_NET_ADMIN, with which such code could mirror the uplink by tc
 *      anyway.
 */
#ifndef GW_UPLINK_H
#define GW_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/bpf.h"
#include "gw/sysctl.h"
#include "gw/tc.h"
#include "gw/uplink_tx.h"

enum {
	UPLINK_RING_FRAMES = 4096,	/* ring slots (2 KB each for a 1500-byte MTU) */
	UPLINK_RING_BYTES = 16 << 20,	/* at most, whatever the MTU */
	UPLINK_RX_BATCH = 64,		/* slots walked before their views are used */
	UPLINK_COPY_SLOT = 65536 + 256,	/* vnet header + Ethernet + a 64 KB super-packet */
	UPLINK_SEG_ARENA = 4 * 65536,	/* segments of super-packets */
	UPLINK_VIEWS = 128,		/* views per callback at most */
	UPLINK_ANNOUNCE_MAX = 16,
};

/* One IP packet: data[0] is the IP header; len is its total length (IPv6:
 * 40 + the payload length). */
struct uplink_pkt {
	uint8_t *data;
	uint32_t len;
	bool csum_ok;	/* its L4 checksum is known good: a segment gw cut or a
			 * partial checksum gw completed, or the kernel said
			 * so (VIRTIO_NET_HDR_F_DATA_VALID) */
	uint8_t family;	/* NF_V4, or NF_V6 (only with uplink_conf.ipv6) */
	uint16_t room;	/* bytes writable after data[len] (the rest of its ring
			 * slot or receive buffer; 0 for a segment gw cut) */
};

enum uplink_drop {
	UPLINK_DROP_TRUNC,	/* larger than a slot and not copied, or cut short */
	UPLINK_DROP_NOT_IP,	/* not an IPv4 or IPv6 Ethernet frame */
	UPLINK_DROP_BAD_IP,	/* bad IPv4/IPv6 header or lengths */
	UPLINK_DROP_GSO,	/* a GSO type or layout gw cannot segment */
	UPLINK_DROP_CSUM,	/* partial checksum with offsets outside the packet */
	UPLINK_DROP_ARP,	/* an ARP frame gw does not answer, or an answer refused */
	UPLINK_DROP_IPV6,	/* IPv6 while the caller takes none (uplink_conf.ipv6) */
	UPLINK_DROP_NDP,	/* a Neighbor Solicitation gw does not answer, or an answer refused */
	UPLINK_DROP__MAX
};

struct uplink_stats {
	uint64_t rx_frames;	/* frames read from the packet socket */
	uint64_t rx_copied;	/* of them: larger than a ring slot, read from the queue */
	uint64_t rx_pkts;	/* IP packets handed to the callback */
	uint64_t rx_pkts6;	/* of them IPv6 */
	uint64_t rx_gso;	/* of the frames: GSO super-packets */
	uint64_t rx_segs;	/* packets cut from them */
	uint64_t rx_csum;	/* partial checksums completed */
	uint64_t arp_replies;	/* ARP requests for foreign addresses answered */
	uint64_t arp_announced;	/* gratuitous ARPs sent */
	uint64_t ndp_replies;	/* Neighbor Solicitations for foreign IPv6 addresses answered */
	uint64_t ndp_announced;	/* unsolicited Neighbor Advertisements sent */
	uint64_t drop[UPLINK_DROP__MAX];
	/* PACKET_STATISTICS, summed (the kernel resets them on each read):
	 * what the socket filter passed, of it what found the ring full */
	uint64_t ring_packets, ring_drops;
};

struct uplink_conf {
	const char *ifname;
	struct bpf_nat_spec nat;	/* addresses, NatPorts, DNAT-ed ports, foreign */
	bool host_owned;		/* tc filter (while nat.naddr) and NatPorts reserved */
	uint16_t tc_pref;		/* 0: TC_GW_PREF */
	unsigned ring_frames;		/* 0: UPLINK_RING_FRAMES (tests make it small) */
	bool raw_send;			/* send by the raw socket only (tests, benches) */
	bool ipv6;			/* hand IPv6 packets on (family NF_V6) */
	/* KeepState: take over what a previous gw left (gw/keep.h): a tc
	 * filter at tc_pref is replaced, not refused; adopt_qdisc: it had
	 * created the clsact qdisc; adopt_ports (SYSCTL_PORTMAP_BYTES, or
	 * NULL): the ports it had reserved, now gw's own */
	bool adopt;
	bool adopt_qdisc;
	const uint8_t *adopt_ports;
};

struct uplink {
	int pfd;		/* packet socket: watch it for reading */
	bool adopted;		/* pfd was handed over by a re-exec (gw/handover.h) */
	int ifindex;
	unsigned mtu;
	uint8_t mac[6];
	bool host_owned;
	bool ipv6;		/* uplink_conf.ipv6 */
	uint16_t tc_pref;
	struct bpf_nat_spec nat;	/* what the filters are built from now */
	bool stale;		/* the filters may not be nat's: retry */
	bool keep;		/* uplink_close leaves the tc filter and the ports */
	bool tc_on;
	struct tc_filter tc;
	struct sysctl_ports ports;
	struct uplink_stats st;

	/* receive: the ring (nframes slots of frame_size bytes, per_block
	 * of them in each block of block_size), the next slot to walk; the
	 * buffer for frames read from the queue (UPLINK_COPY_SLOT bytes) */
	uint8_t *ring;
	size_t ring_size;
	unsigned nframes, frame_size, per_block, block_size, cur;
	uint8_t *cbuf;
	uint8_t *seg;		/* UPLINK_SEG_ARENA bytes */
	size_t seg_used;
	struct uplink_pkt *views;
	unsigned nviews;

	struct uplink_tx tx;	/* the send queue (its drops are its own) */

	/* more readers in one PACKET_FANOUT group with pfd (uplink_fanout):
	 * each a struct uplink of its own, receive only */
	struct uplink *rx;
	unsigned nrx;
};

/* Called with up to UPLINK_VIEWS packets; they may be modified in place. */
typedef void uplink_rx_fn(void *ctx, struct uplink_pkt *pkts, unsigned n);

/* Opens the uplink ifname for NAT address nat_addr (host order) and NatPorts
 * [lo, hi], the address being the host's own (tc filter + reserved ports).
 * 0 or -errno (logged); nothing left behind on failure. */
int uplink_open(struct uplink *u, const char *ifname, uint32_t nat_addr, uint16_t lo, uint16_t hi);
/* The same with every knob. */
int uplink_open_conf(struct uplink *u, const struct uplink_conf *c);
/* Moves the filters and the reserved ports to the NAT spec nat
 * (MASQUERADE following the uplink, new rules).  Nothing happens when nat equals the
 * live spec.  The socket filter is swapped in one setsockopt, the tc filter
 * in one replace (installed or removed as nat.naddr comes and goes); new
 * foreign addresses are announced.  All or nothing: 0, or -errno (logged)
 * with the old filters still in place (when even putting the old socket
 * filter back fails, stale is set and the next call tries again). */
int uplink_set_nat(struct uplink *u, const struct bpf_nat_spec *nat);
/* True when a and b make the same filters (unused array slots ignored). */
bool uplink_nat_equal(const struct bpf_nat_spec *a, const struct bpf_nat_spec *b);
/* The ports to reserve for nat (a map for gw/sysctl.h): NatPorts, and the
 * DNAT-ed TCP and UDP ports inside the ephemeral range [elo, ehi] — the
 * filters hide them, so a connection of the host's own from one of them
 * would lose its replies (Linux tells those apart in conntrack: ESTABLISHED,
 * never DNAT-ed).  Unless that would take more than half of the range:
 * then the DNAT-ed ports are left out and it returns false. */
bool uplink_reserve_map(const struct bpf_nat_spec *nat, uint16_t elo, uint16_t ehi,
			uint8_t map[static SYSCTL_PORTMAP_BYTES]);
/* n more readers of the uplink, rx[0..n-1] (the caller's memory): a packet
 * socket and a ring each, with u's socket filter (uplink_set_nat keeps
 * them all in step), in one PACKET_FANOUT_HASH group with u's socket (a
 * group id of their own: PACKET_FANOUT_FLAG_UNIQUEID).  The kernel hands
 * each flow -- by a hash of its addresses and ports, the same both ways;
 * fragments by their addresses -- always to the same reader.  Each is
 * read with uplink_recv_batch, by one thread; their counters are their
 * own.  0 or -errno (logged; no reader added).  uplink_close closes them. */
int uplink_fanout(struct uplink *u, struct uplink *rx, unsigned n, unsigned ring_frames);
/* Removes the tc filter and the port reservation (unless uplink_keep),
 * closes and frees. */
void uplink_close(struct uplink *u);
/* KeepState's exit: uplink_close leaves the tc filter and the reserved
 * ports for the next gw to take over (uplink_conf.adopt). */
void uplink_keep(struct uplink *u);

/* net.ipv4.conf.IFNAME.forwarding — what the kernel reads for a packet in
 * from ifname: 0, 1 or -errno. */
int uplink_forwarding(const char *ifname);
/* Whether the kernel forwards IPv6 in from ifname: 1 when any of
 * net.ipv6.conf.all.forwarding (what ip6_forward reads),
 * net.ipv6.conf.IFNAME.forwarding and net.ipv6.conf.IFNAME.force_forwarding
 * (Linux 6.17; absent: 0) is 1, else 0, or -errno when one cannot be read. */
int uplink_forwarding6(const char *ifname);
/* Walks up to UPLINK_RX_BATCH ring slots the kernel has filled
 * (non-blocking), hands their packets to fn and gives the slots back.
 * Returns the number of frames (0: none waiting). */
int uplink_recv_batch(struct uplink *u, uplink_rx_fn *fn, void *ctx);
/* ifname's MTU now, or 0 when it cannot be read. */
unsigned uplink_mtu_now(const char *ifname);
/* sum += s, counter by counter (the fanout's readers, for gw stats). */
void uplink_stats_add(struct uplink_stats *sum, const struct uplink_stats *s);
/* Adds the kernel's PACKET_STATISTICS since the last call to st (control
 * path: one getsockopt). */
void uplink_ring_stats(struct uplink *u);
/* One frame as read with PACKET_VNET_HDR (vnet header, then Ethernet),
 * frame[0..cap) writable (cap >= len; the views' room): its packets to fn
 * via the view queue; exposed for tests.  Call uplink_rx_flush after the
 * last frame. */
void uplink_rx_frame(struct uplink *u, uint8_t *frame, size_t len, size_t cap,
		     uplink_rx_fn *fn, void *ctx);
void uplink_rx_flush(struct uplink *u, uplink_rx_fn *fn, void *ctx);
/* Just the receive arenas, for tests of uplink_rx_frame.  0 or -ENOMEM. */
int uplink_rx_init(struct uplink *u);

#endif
