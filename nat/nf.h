/* SPDX-License-Identifier: MIT */
/*
 * nf — the vocabulary shared by the rule engine, conntrack and NAT: hooks,
 * tables, connection states and the per-packet context a chain walk reads and
 * writes.  Pure data: no functions here.
 */
#ifndef GW_NAT_NF_H
#define GW_NAT_NF_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/pkt/addr.h"

struct pkt;
struct ct_entry;

enum nf_table { NF_RAW, NF_MANGLE, NF_NAT, NF_FILTER, NF_TABLE_MAX };

enum nf_hook {
	NF_PREROUTING, NF_INPUT, NF_FORWARD, NF_OUTPUT, NF_POSTROUTING, NF_HOOK_MAX
};

/* The state a packet has in conntrack, as -m conntrack --ctstate sees it. */
enum ct_state {
	CT_NEW, CT_ESTABLISHED, CT_RELATED, CT_INVALID, CT_UNTRACKED, CT_STATE_MAX
};

enum ct_dir { CT_DIR_ORIGINAL = 0, CT_DIR_REPLY = 1 };

/* What a chain walk ends in. */
enum nf_verdict {
	NF_ACCEPT,
	NF_DROP,
	NF_REJECT,  /* DROP, plus the reply described in nf_ctx.reject */
};

/* NAT mappings a nat-table target asks for (applied by nat/). */
enum nat_kind { NAT_NONE, NAT_SNAT, NAT_DNAT, NAT_MASQUERADE, NAT_REDIRECT };

enum {
	NAT_F_MAP_IPS       = 1 << 0, /* an address range is given */
	NAT_F_PROTO_SPECIFIED = 1 << 1, /* a port range is given */
	NAT_F_RANDOM        = 1 << 2, /* --random: random port offset, no keep */
	NAT_F_PERSISTENT    = 1 << 3, /* --persistent: address ignores the destination */
	NAT_F_RANDOM_FULLY  = 1 << 4,
};

/* An inclusive address and port range (host order; addresses as
 * nat/pkt/addr.h keeps them, of the ruleset's family). */
struct nat_range {
	union nf_addr min_addr, max_addr;
	uint16_t min_port, max_port;
	uint8_t flags;  /* NAT_F_* */
};

struct nat_request {
	enum nat_kind kind;
	struct nat_range range;
};

enum reject_with {
	REJECT_NONE,
	REJECT_ICMP_NET_UNREACH,
	REJECT_ICMP_HOST_UNREACH,
	REJECT_ICMP_PORT_UNREACH,
	REJECT_ICMP_PROTO_UNREACH,
	REJECT_ICMP_NET_PROHIBITED,
	REJECT_ICMP_HOST_PROHIBITED,
	REJECT_ICMP_ADMIN_PROHIBITED,
	REJECT_TCP_RESET,
	/* IPv6 (ip6tables' --reject-with): ICMPv6 destination unreachable
	 * codes 0, 1, 3, 4, 5, 6; REJECT_TCP_RESET serves both families */
	REJECT_ICMP6_NO_ROUTE,
	REJECT_ICMP6_ADM_PROHIBITED,
	REJECT_ICMP6_ADDR_UNREACH,
	REJECT_ICMP6_PORT_UNREACH,
	REJECT_ICMP6_POLICY_FAIL,
	REJECT_ICMP6_REJECT_ROUTE,
};

enum { NF_IFNAMSIZ = 16 };

/* LOG target output: one line in the kernel's LOG format, without prefix. */
typedef void nf_log_fn(void *arg, int level, const char *prefix, const char *line);

/*
 * The per-packet context of one traversal.  The caller (hook.c) fills the
 * inputs; matches read them; targets write the outputs.
 */
struct nf_ctx {
	/* inputs */
	struct pkt *pkt;
	uint64_t now;                /* ns, monotonic; injected */
	enum nf_hook hook;
	char in[NF_IFNAMSIZ];        /* "" when none (OUTPUT) */
	char out[NF_IFNAMSIZ];       /* "" when none (PREROUTING, INPUT) */
	struct ct_entry *ct;         /* NULL: no entry (INVALID or UNTRACKED) */
	struct ct_entry *attach;     /* gw's answer about a packet: that packet's
	                              * entry (nf_answer), else NULL */
	enum ct_dir attach_dir;      /* the direction that packet had */
	enum ct_state ctstate;
	enum ct_dir ctdir;
	uint32_t mark;               /* the packet's mark (skb->mark) */
	uint16_t pmtu;               /* path MTU toward out (TCPMSS --clamp-mss-to-pmtu) */
	uint16_t pkt_room;           /* bytes writable after the packet's end (TCPMSS
	                              * inserting an option grows the packet):
	                              * pkt->room at the start */
	/* the addresses of gw/the host (the local table), for -m addrtype:
	 * whether the source (destination) is one, and the interface it is
	 * on ("" when not local or not known) */
	bool src_local, dst_local;
	char src_dev[NF_IFNAMSIZ], dst_dev[NF_IFNAMSIZ];
	bool has_owner;              /* uid/gid valid: a host socket sent it */
	uint32_t uid, gid;

	/* outputs of targets */
	struct nat_request nat;      /* set by SNAT/DNAT/MASQUERADE/REDIRECT */
	enum reject_with reject;     /* set by REJECT */
	bool notrack;                /* set by NOTRACK / CT --notrack */
	bool pkt_changed;            /* a target rewrote the packet (TCPMSS) */
	nf_log_fn *log;              /* LOG target sink; NULL: LOG does nothing */
	void *log_arg;
};

#endif
