/* SPDX-License-Identifier: MIT */
/*
 * bpf — the two classic BPF programs of the uplink, built from the NAT
 * addresses and ports.  Both read the frame from its Ethernet header (no
 * VLAN tag: a hardware-accelerated tag is not in the data; a tagged frame
 * is simply not ours), IPv4 and IPv6.
 *
 * tc ingress (cls_bpf, direct action): returns 2 (TC_ACT_SHOT) for a TCP or
 * UDP packet to a host-owned NAT address whose destination port is in
 * NatPorts or DNAT-ed for its protocol, -1 (TC_ACT_UNSPEC: the stack goes
 * on) for anything else, so the kernel never answers NAT-ed flows with RST
 * or ICMP port unreachable.  Foreign addresses need no tc filter.
 *   Fragments: only a first fragment (offset 0) carries ports, and it is
 *   shot like an unfragmented packet.  Later fragments (offset != 0) cannot
 *   be told apart from the host's own, so they pass: the kernel queues them
 *   for reassembly, the first fragment never comes, and the queue expires
 *   after net.ipv4.ipfrag_time (30 s) within ipfrag_high_thresh — silently,
 *   because Linux sends "reassembly time exceeded" only when it holds the
 *   first fragment (ip_expire, INET_FRAG_FIRST_IN).  gw sees every fragment
 *   on its packet socket and reassembles itself.
 *
 * Both also take all IPv4 to gw's tunnel Addresses: the kernel would take
 * it (any interface's address is local) and answer past gw's rules; gw runs
 * it through its own (and, having no way to hand it to the host, drops it).
 *
 * packet socket (SO_ATTACH_FILTER on AF_PACKET/ETH_P_ALL): keeps what gw
 * needs — IPv4 to a host-owned NAT address that is ICMP, a later fragment of
 * anything, or TCP/UDP to NatPorts or a DNAT-ed port; all IPv4 to a foreign
 * NAT address (one the host does not own: nothing there is the kernel's);
 * ARP requests whose target is a foreign NAT address (gw answers them) —
 * and returns 0 (not copied) for the rest.
 *
 * IPv6 (ethertype 0x86dd), with the addresses of the addr6/foreign6/tunnel6
 * lists.  To a host-owned address, the upper-layer header is found past at
 * most BPF_EXT6_WALK hop-by-hop, routing or destination-options headers and
 * one fragment header (classic BPF cannot loop: the walk is unrolled).
 *   tc: TCP/UDP to NatPorts or a DNAT-ed port, and ICMPv6 errors (types
 *   1-4) quoting TCP/UDP from such a port (a NAT-ed flow: Packet Too Big
 *   would lower the host's path MTU to the remote end) are shot; all else
 *   passes — ICMPv6 informational messages (echo, Neighbor Discovery, MLD,
 *   router advertisements) always: the host keeps resolving and defending
 *   its own addresses.  All IPv6 to a tunnel6 address is shot.
 *   Fragments: a first fragment (offset 0) carries the ports after its
 *   fragment header and is shot like a whole packet; later fragments pass
 *   and the kernel's reassembly queue for them expires silently after
 *   net.ipv6.ip6frag_time (60 s), within ip6frag_high_thresh — Linux sends
 *   "fragment reassembly time exceeded" only when it holds the first
 *   fragment (ip6frag_expire_frag_queue, INET_FRAG_FIRST_IN), as for IPv4.
 *   A packet whose chain is longer than the walk, or an AH/ESP/unknown
 *   header, passes: the host answers it as it would without gw (for TCP to
 *   a NAT port a RST to the sender, who chose the headers; real peers send
 *   no such chains).
 *   socket: TCP/UDP to NatPorts or a DNAT-ed port, every fragment (gw
 *   reassembles), ICMPv6 errors and echo request/reply (types < 130, not
 *   Neighbor Discovery), and a chain longer than the walk (gw's parser walks
 *   it) — to a host-owned address; all IPv6 to a foreign6 address or a
 *   tunnel6 address; a Neighbor Solicitation (no extension header) whose
 *   target is a foreign6 address, whatever its destination (solicited-node
 *   multicast, or unicast for reachability), so gw can answer it.
 *
 * Ports are compared as proto << 16 | port against ranges sorted and merged
 * (NatPorts with the DNAT-ed ranges); the lists are capped so both programs
 * stay well inside classic BPF's 255-instruction conditional jumps.
 */
#ifndef GW_BPF_H
#define GW_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/pkt/addr.h"

struct sock_filter;

enum {
	BPF_NAT_MAX_ADDR = 8,
	BPF_NAT_MAX_FOREIGN = 8,
	BPF_NAT_MAX_TUNNEL = 4,
	BPF_NAT_MAX_PORTS = 32, /* DNAT-ed port ranges per protocol */
	BPF_NAT_MAX_ADDR6 = 8,
	BPF_NAT_MAX_FOREIGN6 = 4,
	BPF_NAT_MAX_TUNNEL6 = 4,
	BPF_EXT6_WALK = 2, /* hop-by-hop/routing/destination options walked */
	BPF_PROG_MAX = 512, /* instructions; both programs fit for the maxima */
	BPF_TC_SHOT = 2,
	BPF_TC_UNSPEC = -1,
	BPF_SK_ACCEPT = 0x40000, /* bytes kept (>= a 64 KB GSO super-packet) */
};

struct bpf_port_range {
	uint16_t lo, hi; /* inclusive */
};

struct bpf_addr_range {
	uint32_t lo, hi; /* inclusive, host order */
};

/* IPv6 addresses lo..hi, network order (nat/pkt/addr.h): they differ in
 * their last 32 bits at most (a wider range: split it), lo <= hi there. */
struct bpf_addr6_range {
	union nf_addr lo, hi;
};

/* What the programs match.  IPv4 addresses in host order; the *6 lists are
 * IPv6 (the family is the list's), network order. */
struct bpf_nat_spec {
	uint32_t addr[BPF_NAT_MAX_ADDR];	/* host-owned NAT addresses */
	unsigned naddr;
	uint16_t lo, hi;	/* NatPorts on them (TCP and UDP); lo > hi: none */
	struct bpf_port_range tcp[BPF_NAT_MAX_PORTS], udp[BPF_NAT_MAX_PORTS];
	unsigned ntcp, nudp;	/* DNAT-ed destination ports on them */
	struct bpf_addr_range foreign[BPF_NAT_MAX_FOREIGN];
	unsigned nforeign;	/* NAT addresses the host does not own */
	uint32_t tunnel[BPF_NAT_MAX_TUNNEL];
	unsigned ntunnel;	/* gw's tunnel Addresses: all IPv4 to them */
	union nf_addr addr6[BPF_NAT_MAX_ADDR6];
	unsigned naddr6;	/* host-owned IPv6 NAT addresses (NatPorts, DNAT-ed ports) */
	struct bpf_addr6_range foreign6[BPF_NAT_MAX_FOREIGN6];
	unsigned nforeign6;	/* IPv6 NAT addresses the host does not own */
	union nf_addr tunnel6[BPF_NAT_MAX_TUNNEL6];
	unsigned ntunnel6;	/* gw's IPv6 tunnel Addresses: all IPv6 to them */
};

/* Whether s has any IPv6 entry (else both programs are IPv4 only, as
 * before IPv6: the same instructions). */
bool bpf_has_v6(const struct bpf_nat_spec *s);

/* Whether s needs the tc program (anything to hide from the kernel). */
bool bpf_tc_needed(const struct bpf_nat_spec *s);

/* Build into prog[cap]; return the instruction count, or -EINVAL (too many
 * entries, a reversed range, an IPv6 range wider than its last 32 bits,
 * nothing to hide for the tc program) /
 * -E2BIG (does not fit cap or a jump).  A spec without any address gets a
 * socket filter that keeps nothing. */
int bpf_build_tc(const struct bpf_nat_spec *s, struct sock_filter *prog, size_t cap);
int bpf_build_sk(const struct bpf_nat_spec *s, struct sock_filter *prog, size_t cap);

/* "N,code jt jf k,..." — the bytecode in tc's `bpf bytecode` syntax. */
int bpf_format(const struct sock_filter *prog, unsigned n, char *out, size_t len);

#endif
