/* SPDX-License-Identifier: MIT */
/*
 * bpf — the two classic BPF programs of the uplink, built from the NAT
 * addresses and ports.  Both read the frame from its Ethernet header (no
 * VLAN tag: a hardware-accelerated tag is not in the data; a tagged frame
 * is simply not ours), IPv4 only.
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
 * Ports are compared as proto << 16 | port against ranges sorted and merged
 * (NatPorts with the DNAT-ed ranges); the lists are capped so both programs
 * stay well inside classic BPF's 255-instruction conditional jumps.
 */
#ifndef GW_BPF_H
#define GW_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sock_filter;

enum {
	BPF_NAT_MAX_ADDR = 8,
	BPF_NAT_MAX_FOREIGN = 8,
	BPF_NAT_MAX_TUNNEL = 4,
	BPF_NAT_MAX_PORTS = 32, /* DNAT-ed port ranges per protocol */
	BPF_PROG_MAX = 320, /* instructions; both programs fit for the maxima */
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

/* What the programs match.  Addresses in host order. */
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
};

/* Whether s needs the tc program (anything to hide from the kernel). */
bool bpf_tc_needed(const struct bpf_nat_spec *s);

/* Build into prog[cap]; return the instruction count, or -EINVAL (too many
 * entries, a reversed range, nothing to hide for the tc program) /
 * -E2BIG (does not fit cap or a jump).  A spec without any address gets a
 * socket filter that keeps nothing. */
int bpf_build_tc(const struct bpf_nat_spec *s, struct sock_filter *prog, size_t cap);
int bpf_build_sk(const struct bpf_nat_spec *s, struct sock_filter *prog, size_t cap);

/* "N,code jt jf k,..." — the bytecode in tc's `bpf bytecode` syntax. */
int bpf_format(const struct sock_filter *prog, unsigned n, char *out, size_t len);

#endif
