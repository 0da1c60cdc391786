/* SPDX-License-Identifier: MIT */
/*
 * rules_int — the rule engine's private layout, shared by its files:
 * rules_lex.c (words of a line), rules_rule.c (one rule's options),
 * rules_parse.c (restore text, commands, tables), rules_compile.c (a parsed
 * table into flat arrays, loops and hooks), rules.c (copy, free, names),
 * rules_run.c (the walk), rules_save.c (iptables-save text).
 *
 * A compiled table: chains in save order (built-ins by hook, then user
 * chains sorted by name), each a range of one flat rule array; matches of
 * all rules in one flat array; extension data in one arena.  Jumps hold
 * chain indices.  Nothing points outside the table, so copying a table is
 * copying its arrays and rebasing the data pointers.
 */
#ifndef GW_NAT_RULES_INT_H
#define GW_NAT_RULES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/ext.h"
#include "nat/nf.h"
#include "nat/rules.h"

struct sbuf;

enum {
	RULES_CHAIN_MAXLEN = 28,   /* iptables-nft: "must be under 29 chars" */
	RULES_MAX_MATCHES = 32,    /* per rule */
	RULES_MAX_DEPTH = 15,      /* user chains nested below a built-in (nf_tables) */
};

enum rule_kind {
	RK_NONE,     /* no -j: count and continue */
	RK_ACCEPT,
	RK_DROP,
	RK_RETURN,
	RK_JUMP,     /* -j CHAIN */
	RK_GOTO,     /* -g CHAIN */
	RK_EXT,      /* an extension target */
};

struct rule_match {
	const struct ext *ext;
	void *data;
};

/* A compiled rule.  Its matches are table->matches[match0 .. match0+nmatch). */
struct rule {
	struct rule_ip ip;
	uint8_t kind;             /* enum rule_kind */
	uint16_t nmatch;
	uint32_t match0;
	uint32_t chain;           /* RK_JUMP, RK_GOTO: target chain index */
	const struct ext *target; /* RK_EXT */
	void *tdata;
	uint64_t pcnt, bcnt;
};

struct rules_chain {
	char name[RULES_CHAIN_MAXLEN + 1];
	bool builtin;
	uint8_t hook;             /* built-in: enum nf_hook */
	uint8_t policy;           /* built-in: NF_ACCEPT or NF_DROP */
	uint64_t pcnt, bcnt;      /* built-in: the policy's counters */
	uint32_t first, n;        /* rules[first .. first+n) */
};

struct rules_table {
	bool loaded;              /* appeared in a restore (printed by save) */
	uint16_t nchains;
	struct rules_chain *chains;
	uint32_t nrules;
	struct rule *rules;
	uint32_t nmatches;
	struct rule_match *matches;
	uint8_t *arena;           /* every rule's match and target data */
	size_t arena_len;
	int32_t hook_chain[NF_HOOK_MAX];  /* built-in chain per hook, or -1 */
};

struct rules {
	uint8_t family;           /* NF_V4 or NF_V6 */
	struct rules_table t[NF_TABLE_MAX];
};

/* ---- parse time ---- */

struct pchain;

/* One parsed rule before compilation; extension data is malloc'ed per
 * instance. */
struct prule {
	struct rule_ip ip;
	uint8_t kind;
	uint16_t nm;
	struct rule_match m[RULES_MAX_MATCHES];
	const struct ext *target;
	void *tdata;
	struct pchain *jump;      /* RK_JUMP, RK_GOTO */
	uint64_t pcnt, bcnt;
	unsigned int line;
};

struct pchain {
	char name[RULES_CHAIN_MAXLEN + 1];
	bool builtin;
	uint8_t hook;
	uint8_t policy;
	uint64_t pcnt, bcnt;
	struct prule **rules;
	unsigned int n, cap;
	unsigned int refs;        /* rules jumping here */
	uint32_t index;           /* set by compile */
};

struct ptable {
	enum nf_table table;
	uint8_t family;           /* NF_V4 or NF_V6 */
	struct pchain **chains;
	unsigned int n, cap;
};

/* One command line after rules_parse_line(). */
struct pcmd {
	char cmd;                 /* 'A','I','D','N','X','F','Z','P'; 0: nothing */
	const char *chain;        /* points into the line's words */
	const char *policy;       /* -P */
	long rulenum;             /* -I, -D: 1-based; 0 none */
	bool has_rule;            /* a rule specification was given */
	bool skip;                /* -6 (-4): the line is not for the family */
	struct prule **rules;     /* -s/-d lists expand into several */
	unsigned int nrules;
};

/* Split a line into words as iptables-restore does ("..." with \ escapes);
 * words point into buf (modified).  Returns the count or -1. */
int rules_lex(char *buf, char **words, unsigned int max, struct rules_error *err);

/* Parse one command line's words for table t.  find resolves -j/-g chain
 * names in the table being built; opts as rules_parse_with() has them (not
 * NULL).  On success cmd->rules are allocated. */
int rules_parse_line(char **words, unsigned int nwords, enum nf_table t,
		     struct pchain *(*find)(void *arg, const char *name), void *arg,
		     unsigned int line, const struct rules_parse_opts *opts, struct pcmd *cmd,
		     struct rules_error *err);
void rules_pcmd_free(struct pcmd *cmd);
void rules_prule_free(struct prule *r);
/* A deep copy (extension data duplicated). */
struct prule *rules_prule_dup(const struct prule *r);

/* Built-in chains. */
bool rules_hook_in_table(enum nf_table t, enum nf_hook h);
const char *rules_hook_name(enum nf_hook h);
int rules_builtin_hook(enum nf_table t, const char *name);
int rules_table_by_name(const char *name);

/* Compile a parsed table into dst (freeing nothing of src).  Runs every
 * check() with the rule's reachable hooks; rejects loops and chains nested
 * deeper than RULES_MAX_DEPTH.  Returns 0, -EINVAL or -ENOMEM. */
int rules_compile(const struct ptable *src, struct rules_table *dst,
		  struct rules_error *err);
void rules_table_free(struct rules_table *t);
int rules_table_copy(struct rules_table *dst, const struct rules_table *src);

/* The canonical text of one rule after "-A CHAIN" (no newline), addresses
 * of family. */
void rules_put_rule(struct sbuf *out, uint8_t family, const char *chain, const struct rule_ip *ip,
		    const struct rule_match *m, unsigned int nm, enum rule_kind kind,
		    const char *jump, const struct ext *target, const void *tdata);

#endif
