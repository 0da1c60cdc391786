/* SPDX-License-Identifier: MIT */
/*
 * rules — iptables-restore text compiled into flat per-table arrays, walked
 * as Linux walks ip_tables: built-in chains with policies, user chains,
 * jumps (-j) and gotos (-g) on a bounded stack, RETURN, per-rule and
 * per-policy packet/byte counters.
 *
 * A ruleset is built whole by rules_parse() and never half-loaded: on any
 * error nothing is returned.  Swapping rulesets is the caller's single
 * pointer store.  Counters are the only thing rules_run() writes.
 */
#ifndef GW_NAT_RULES_H
#define GW_NAT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/nf.h"

struct rules;
struct sbuf;

/* Where parsing stopped: file line (from 1), the offending word, a message. */
struct rules_error {
	unsigned line;
	char token[64];
	char message[192];
};

/*
 * Parse iptables-restore text.  Tables that appear in the text replace those
 * of base (restore semantics: each *table ... COMMIT block replaces the table);
 * the other tables are copied from base with their counters, or are empty with
 * ACCEPT policies when base is NULL.  Returns 0 and *out, or -EINVAL (with
 * *err filled) / -ENOMEM.
 */
int rules_parse(struct rules **out, const char *text, size_t len,
		const struct rules *base, struct rules_error *err);

/* How rules_parse_with() reads the text; rules_parse() is rules_parse_with()
 * with NULL options (every member zero). */
struct rules_parse_opts {
	/* iptables-restore -c: take the [packets:bytes] of built-in chain
	 * lines and before rules.  Without it they are checked and ignored:
	 * chains and rules start at [0:0] (a rule's own -c still counts, and
	 * user chains never have counters, as in iptables). */
	bool counters;
	/* The id of a user (group) name in --uid-owner (--gid-owner), as
	 * getpwnam (getgrnam) gives it when the rules load: 0 and *id, or
	 * -ENOENT.  The library reads no user database: without a callback
	 * only numbers are taken.  Saved as numbers, as iptables-save does. */
	int (*user)(void *arg, const char *name, uint32_t *id);
	int (*group)(void *arg, const char *name, uint32_t *id);
	void *arg;
	/* NF_V4 (or 0): iptables-restore text; NF_V6: ip6tables-restore text
	 * (IPv6 addresses, -6 lines taken and -4 lines skipped, the
	 * extensions ip6tables has).  A base must be of the same family. */
	uint8_t family;
};
int rules_parse_with(struct rules **out, const char *text, size_t len,
		     const struct rules *base, const struct rules_parse_opts *opts,
		     struct rules_error *err);
void rules_free(struct rules *r);

/* NF_V4 or NF_V6: the family r was parsed for. */
uint8_t rules_family(const struct rules *r);

/* The canonical iptables-save text of every table that has been loaded.
 * counters: prefix each rule with [packets:bytes] as iptables-save -c. */
void rules_save(const struct rules *r, bool counters, struct sbuf *out);

/* rules_list() flags: iptables -L's -v, -n, -x and --line-numbers. */
enum {
	RULES_LIST_VERBOSE = 1 << 0,
	RULES_LIST_NUMERIC = 1 << 1,
	RULES_LIST_EXACT = 1 << 2,
	RULES_LIST_LINE_NUMBERS = 1 << 3,
};

/* Table t as Debian 12's iptables -t TABLE -L [CHAIN] prints it (1.8.9,
 * nf_tables), appended to out: every chain, or only chain (NULL: all).  A
 * chain the table lacks appends nothing (iptables: "No chain/target/match
 * by that name"); any chain appends at least its header.  Without
 * RULES_LIST_NUMERIC, names are printed where iptables finds them in
 * Debian's netbase files or its own tables ("anywhere", "all", "any",
 * protocol, service, TCP flag, ICMP type and log level names); addresses
 * and user ids stay numeric (gw does no DNS, /etc/hosts, /etc/networks or
 * passwd lookups). */
void rules_list(const struct rules *r, enum nf_table t, const char *chain, unsigned flags,
		struct sbuf *out);

/* One rule hit during a walk: "table/CHAIN/N" (N from 1) or, with rule == 0,
 * "table/CHAIN/policy". */
struct rules_hit {
	uint8_t table;    /* enum nf_table */
	uint16_t chain;   /* chain index in the table, see rules_chain_name() */
	uint16_t rule;    /* 1-based position in the chain; 0 = the policy */
	uint16_t bytes;   /* the bytes it counted (the IP total length then:
	                   * TCPMSS may have grown the packet) */
};

/* Optional recording of a walk for gw trace; hits beyond max are counted in
 * dropped. */
struct rules_trace {
	struct rules_hit *hits;
	unsigned n, max, dropped;
};

/* What r's -m owner rules ask of a host packet's socket: RULES_OWNER_SOCKET
 * (any owner rule: whether a socket sent it, and its uid), RULES_OWNER_GID
 * (a rule compares the gid too); 0 when no rule uses the owner match, so
 * the caller never looks sockets up (m_owner.c). */
enum { RULES_OWNER_SOCKET = 1, RULES_OWNER_GID = 2 };
unsigned rules_owner_needs(const struct rules *r);

/* True when the ruleset has a table t with a built-in chain for hook. */
bool rules_has_chain(const struct rules *r, enum nf_table t, enum nf_hook hook);

/*
 * Walk table t's built-in chain for ctx->hook with the packet in ctx.  Counts
 * bytes and packets on every rule that matched and on the policy when it
 * decides.  Returns the verdict; targets also write ctx's outputs (nat
 * request, reject, notrack, mark, log).  A table without that chain accepts.
 */
enum nf_verdict rules_run(struct rules *r, enum nf_table t, struct nf_ctx *ctx,
			  struct rules_trace *trace);

const char *rules_table_name(enum nf_table t);
const char *rules_chain_name(const struct rules *r, enum nf_table t, unsigned chain);

#endif
