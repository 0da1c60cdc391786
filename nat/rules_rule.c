/* SPDX-License-Identifier: MIT */
/*
 * rules_rule — one command line of iptables-restore input (already split
 * into words) into a command and its rules, the way iptables 1.8.9's
 * do_parse() and getopt_long() read it:
 *
 *  - long options may be abbreviated to any unambiguous prefix of the
 *    options known at that point (the built-in ones, then those of every
 *    extension loaded so far, in load order), and may carry "=value";
 *  - "!" inverts the next option; options are taken in order;
 *  - an option no loaded extension knows loads the -p protocol's match
 *    (tcp, udp, icmp) once, as iptables' implicit match does;
 *  - an option belongs to the extension loaded most recently (a second -m
 *    of a name loaded before does not count as a new load, as iptables
 *    clones it without merging its options again) among those having it,
 *    and goes to the newest instance of that extension;
 *  - -s/-d lists expand into one rule per address pair (source-major);
 *  - iptables-nft prints all native tcp (udp) matches of a rule as one:
 *    they are folded here, so that save -> load is a fixed point.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/rules_int.h"

enum { OPTIONAL = 3 };  /* nargs: an optional argument in the next word */

struct base_opt {
	const char *name;
	char id;
	uint8_t nargs;
};

/* iptables' original_opts[]: every one takes part in prefix matching. */
static const struct base_opt base_opts[] = {
	{ "append", 'A', 1 }, { "delete", 'D', 1 }, { "check", 'C', 1 },
	{ "insert", 'I', 1 }, { "replace", 'R', 1 }, { "list", 'L', OPTIONAL },
	{ "list-rules", 'S', OPTIONAL }, { "flush", 'F', OPTIONAL },
	{ "zero", 'Z', OPTIONAL }, { "new-chain", 'N', 1 },
	{ "delete-chain", 'X', OPTIONAL }, { "rename-chain", 'E', 1 },
	{ "policy", 'P', 1 }, { "source", 's', 1 }, { "destination", 'd', 1 },
	{ "src", 's', 1 }, { "dst", 'd', 1 }, { "protocol", 'p', 1 },
	{ "in-interface", 'i', 1 }, { "jump", 'j', 1 }, { "table", 't', 1 },
	{ "match", 'm', 1 }, { "numeric", 'n', 0 }, { "out-interface", 'o', 1 },
	{ "verbose", 'v', 0 }, { "wait", 'w', OPTIONAL },
	{ "wait-interval", 'W', OPTIONAL }, { "exact", 'x', 0 },
	{ "fragments", 'f', 0 }, { "version", 'V', 0 }, { "help", 'h', OPTIONAL },
	{ "line-numbers", '0', 0 }, { "modprobe", 'M', 1 },
	{ "set-counters", 'c', 1 }, { "goto", 'g', 1 }, { "ipv4", '4', 0 },
	{ "ipv6", '6', 0 },
};

enum { MAX_ADDRS = 1024, MAX_EXPANDED = 4096 };

struct inst {
	const struct ext *ext;
	void *data;
	uint32_t seen;
	bool completed;       /* a later -m of the same name took over */
};

struct state {
	struct prule r;
	struct inst m[RULES_MAX_MATCHES];
	unsigned int nm;
	struct inst t;                       /* target, when ext */
	const struct ext *types[RULES_MAX_MATCHES + 1];
	unsigned int ntypes;
	uint32_t base_seen;                  /* 1 << (s d p i o f j c) */
	const char *first_rule_opt;
	char *srcs, *dsts;                   /* -s / -d argument lists */
	bool invert;
	enum nf_table table;
	uint8_t family;                      /* NF_V4 or NF_V6 */
	struct pchain *(*find)(void *arg, const char *name);
	void *find_arg;
	struct ext_parse pc;
};

/* One resolved option: base (ext NULL) or an extension's. */
struct opt_ref {
	const struct ext *ext;
	const struct base_opt *base;
	const struct ext_opt *eo;
};

static int fail(struct state *st, const char *token, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct state *st, const char *token, const char *fmt, ...)
{
	struct rules_error *err = st->pc.err;
	va_list ap;

	snprintf(err->token, sizeof(err->token), "%s", token ? token : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static unsigned int base_bit(char id)
{
	switch (id) {
	case 's': return 1u << 0;
	case 'd': return 1u << 1;
	case 'p': return 1u << 2;
	case 'i': return 1u << 3;
	case 'o': return 1u << 4;
	case 'f': return 1u << 5;
	case 'j': return 1u << 6;
	case 'g': return 1u << 6;
	case 'c': return 1u << 7;
	default: return 0;
	}
}

static bool same_ref(const struct opt_ref *a, const struct opt_ref *b)
{
	if (a->ext != b->ext)
		return false;
	if (a->base)
		return b->base && a->base->id == b->base->id && a->base->nargs == b->base->nargs;
	return a->eo->id == b->eo->id && a->eo->nargs == b->eo->nargs;
}

/* getopt_long's lookup of "--name" among the options known now: an exact
 * name wins; otherwise a unique prefix (options equal in owner, id and
 * argument count count as one).  0 found, -1 unknown or ambiguous. */
static int lookup_long(const struct state *st, const char *name, size_t len,
		       struct opt_ref *out)
{
	struct opt_ref cand = { 0 }, first = { 0 };
	bool have = false, ambiguous = false;

	for (size_t i = 0; i < sizeof(base_opts) / sizeof(base_opts[0]); i++) {
		const char *n = base_opts[i].name;

		if (strncmp(n, name, len) != 0)
			continue;
		cand = (struct opt_ref){ .base = &base_opts[i] };
		if (n[len] == '\0') {
			*out = cand;
			return 0;
		}
		if (!have) {
			first = cand;
			have = true;
		} else if (!same_ref(&first, &cand)) {
			ambiguous = true;
		}
	}
	/* xtables_merge_options puts a newly loaded extension's options
	 * before the older ones: an exact name belongs to the newest */
	for (unsigned int t = st->ntypes; t-- > 0;) {
		for (const struct ext_opt *o = st->types[t]->opts; o && o->name; o++) {
			if (strncmp(o->name, name, len) != 0)
				continue;
			cand = (struct opt_ref){ .ext = st->types[t], .eo = o };
			if (o->name[len] == '\0') {
				*out = cand;
				return 0;
			}
			if (!have) {
				first = cand;
				have = true;
			} else if (!same_ref(&first, &cand)) {
				ambiguous = true;
			}
		}
	}
	if (!have || ambiguous)
		return -1;
	*out = first;
	return 0;
}

static bool type_loaded(const struct state *st, const struct ext *e)
{
	for (unsigned int i = 0; i < st->ntypes; i++)
		if (st->types[i] == e)
			return true;
	return false;
}

static int load_match(struct state *st, const struct ext *e, const char *word)
{
	struct inst *in;

	if (st->nm == RULES_MAX_MATCHES)
		return fail(st, word, "too many matches in one rule");
	for (unsigned int i = 0; i < st->nm; i++)
		if (st->m[i].ext == e)
			st->m[i].completed = true;
	in = &st->m[st->nm];
	in->ext = e;
	in->seen = 0;
	in->completed = false;
	in->data = calloc(1, e->size ? e->size : 1);
	if (!in->data)
		return fail(st, word, "out of memory");
	if (e->init)
		e->init(in->data);
	st->nm++;
	if (!type_loaded(st, e))
		st->types[st->ntypes++] = e;
	return 0;
}

/* The match iptables (ip6tables) loads for -p when an option is unknown. */
static const struct ext *proto_match(uint8_t proto, uint8_t family)
{
	switch (proto) {
	case 6: return &m_tcp;
	case 17: return &m_udp;
	case 1: return family == NF_V4 ? &m_icmp : NULL;
	case 58: return family == NF_V6 ? &m_icmp6 : NULL;
	default: return NULL;
	}
}

static int parse_iface(struct state *st, const char *arg, uint8_t *name, uint8_t *mask)
{
	size_t len = strlen(arg);

	if (len + 1 > EXT_IFNAMSIZ)
		return fail(st, arg, "interface name must be shorter than %d characters",
			    EXT_IFNAMSIZ);
	if (len == 0)
		return fail(st, arg, "empty interface name");
	/* saved bare, so it must read back as one word */
	for (size_t i = 0; i < len; i++)
		if (isspace((unsigned char)arg[i]) || arg[i] == '"')
			return fail(st, arg, "blank or quote in interface name");
	memset(name, 0, EXT_IFNAMSIZ);
	memset(mask, 0, EXT_IFNAMSIZ);
	memcpy(name, arg, len);
	if (arg[len - 1] == '+')
		memset(mask, 0xff, len - 1);
	else
		memset(mask, 0xff, len + 1);
	return 0;
}

/* One address[/mask] of an ip6tables -s/-d list (xtables_ip6parse_multiple):
 * the mask after the last '/'; with a zero mask the address is not looked
 * at ("any/0"). */
static int parse_addr6_item(struct state *st, char *item, union nf_addr *addr,
			    union nf_addr *mask)
{
	char *slash = strrchr(item, '/');
	int rc = 0;

	ext_prefix_mask6(128, mask);
	if (slash) {
		*slash = '\0';
		if (!ext_parse_ip6mask(slash + 1, mask)) {
			*slash = '/';
			return fail(st, slash + 1, "invalid mask \"%s\" specified", slash + 1);
		}
	}
	if (ext_mask_bits6(mask) == 0)
		memset(addr, 0, sizeof(*addr));
	else if (!ext_parse_ip6addr(item, addr))
		rc = fail(st, item, "host/network \"%s\" not found (names are not resolved)",
			  item);
	if (slash)
		*slash = '/';
	if (rc == 0)
		ext_addr_and(addr, addr, mask);
	return rc;
}

/* One address[/mask] of a -s/-d list (xtables_ipparse_multiple). */
static int parse_addr_item(struct state *st, char *item, union nf_addr *a, union nf_addr *m)
{
	char *slash = strchr(item, '/');
	uint32_t *addr = &a->ip, *mask = &m->ip;

	if (st->family == NF_V6)
		return parse_addr6_item(st, item, a, m);
	*a = nf_addr4(0);
	*m = nf_addr4(0);
	*mask = UINT32_MAX;
	if (slash) {
		*slash = '\0';
		if (!ext_parse_ipmask(slash + 1, mask)) {
			*slash = '/';
			return fail(st, slash + 1, "invalid mask \"%s\" specified", slash + 1);
		}
	}
	if (!ext_parse_ipaddr(item, addr)) {
		if (slash)
			*slash = '/';
		return fail(st, item, "host/network \"%s\" not found (names are not resolved)",
			    item);
	}
	if (slash)
		*slash = '/';
	*addr &= *mask;
	return 0;
}

static int parse_addrs(struct state *st, const char *list, union nf_addr *addrs,
		       union nf_addr *masks, unsigned int *n)
{
	char buf[4096], *p, *comma;

	if (strlen(list) >= sizeof(buf))
		return fail(st, list, "address list too long");
	strcpy(buf, list);
	*n = 0;
	for (p = buf;; p = comma + 1) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (*n == MAX_ADDRS)
			return fail(st, list, "too many addresses");
		if (parse_addr_item(st, p, &addrs[*n], &masks[*n]) < 0)
			return -1;
		(*n)++;
		if (!comma)
			break;
	}
	return 0;
}

static int set_jump(struct state *st, const char *name, bool go)
{
	struct pchain *c;

	if (st->base_seen & base_bit('j'))
		return fail(st, name, "multiple -j flags not allowed");
	st->base_seen |= base_bit('j');
	if (!go) {
		const struct ext *e;
		const struct ext *other = ext_find_target(name, st->family == NF_V6 ? NF_V4 : NF_V6);

		if (strcmp(name, "ACCEPT") == 0) {
			st->r.kind = RK_ACCEPT;
			return 0;
		}
		if (strcmp(name, "DROP") == 0) {
			if (st->table == NF_NAT)
				return fail(st, name, "the nat table is not for filtering: DROP is not allowed");
			st->r.kind = RK_DROP;
			return 0;
		}
		if (strcmp(name, "RETURN") == 0) {
			st->r.kind = RK_RETURN;
			return 0;
		}
		e = ext_find_target(name, st->family);
		if (!e && other && !st->find(st->find_arg, name))
			return fail(st, name, "target \"%s\" does not exist in %s", name,
				    st->family == NF_V6 ? "ip6tables" : "iptables");
		if (e) {
			st->r.kind = RK_EXT;
			st->t.ext = e;
			st->t.seen = 0;
			st->t.data = calloc(1, e->size ? e->size : 1);
			if (!st->t.data)
				return fail(st, name, "out of memory");
			if (e->init)
				e->init(st->t.data);
			if (!type_loaded(st, e))
				st->types[st->ntypes++] = e;
			return 0;
		}
	}
	c = st->find(st->find_arg, name);
	if (!c) {
		if (!go && ext_known_target(name))
			return fail(st, name, "target \"%s\" is not supported", name);
		return fail(st, name, "chain \"%s\" does not exist", name);
	}
	if (c->builtin)
		return fail(st, name, "cannot jump to built-in chain \"%s\"", name);
	st->r.kind = go ? RK_GOTO : RK_JUMP;
	st->r.jump = c;
	return 0;
}

/* Counters are decimal (iptables reads them with strtoull(.., 10)). */
static bool dec64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

static int parse_counters(struct state *st, const char *p, const char *b)
{
	if (!dec64(p, &st->r.pcnt))
		return fail(st, p, "-c packet counter not numeric");
	if (!b || !dec64(b, &st->r.bcnt))
		return fail(st, b ? b : p, "-c byte counter not numeric");
	return 0;
}

/* A built-in option with its argument(s); *used counts extra words taken. */
static int do_base(struct state *st, struct pcmd *cmd, const struct base_opt *o,
		   const char *word, const char *arg, char **words, unsigned int nwords,
		   unsigned int *i)
{
	bool inv = st->invert;
	unsigned int bit = base_bit(o->id);
	struct rule_ip *ip = &st->r.ip;

	st->invert = false;
	if (inv && !strchr("sdpiof", o->id)) {
		if (o->id == 'm')
			return fail(st, word, "unexpected ! flag before --match");
		return fail(st, word, "cannot have ! before %s", word);
	}
	if (o->id != 'j' && o->id != 'g') {
		if (st->base_seen & bit)
			return fail(st, word, "multiple %s flags not allowed", word);
		st->base_seen |= bit;
	}
	if (strchr("sdpiofjgmc", o->id) && !st->first_rule_opt)
		st->first_rule_opt = word;

	switch (o->id) {
	case 'A': case 'D': case 'I': case 'N': case 'P':
	case 'F': case 'X': case 'Z':
		if (cmd->cmd)
			return fail(st, word, "cannot use -%c with -%c", o->id, cmd->cmd);
		cmd->cmd = o->id;
		cmd->chain = arg;
		if ((o->id == 'I' || o->id == 'D') && *i < nwords &&
		    words[*i][0] != '-' && words[*i][0] != '!') {
			uint64_t n;

			if (!ext_strtou(words[*i], INT32_MAX, &n) || n == 0)
				return fail(st, words[*i], "invalid rule number \"%s\"", words[*i]);
			cmd->rulenum = (long)n;
			(*i)++;
		} else if (o->id == 'P') {
			if (*i >= nwords)
				return fail(st, word, "-P requires a chain and a policy");
			cmd->policy = words[(*i)++];
		}
		return 0;
	case 'C': case 'R': case 'L': case 'S': case 'E':
		return fail(st, word, "command %s is not supported in a rules file", word);
	case 't':
		return fail(st, word, "the -t option cannot be used in a rules file");
	case 'n': case 'x': case 'V': case 'h': case '0': case 'M': case 'w': case 'W':
		return fail(st, word, "illegal option %s with this command", word);
	case 'v':
		return 0;
	case '4':
	case '6':
		/* a line for the other family is skipped, as iptables-restore
		 * skips -6 lines and ip6tables-restore -4 lines */
		if ((o->id == '6') != (st->family == NF_V6))
			cmd->skip = true;
		return 0;
	case 's':
	case 'd': {
		char **list = o->id == 's' ? &st->srcs : &st->dsts;

		*list = (char *)arg;
		if (inv)
			ip->invflags |= o->id == 's' ? IPINV_SRC : IPINV_DST;
		return 0;
	}
	case 'p': {
		char buf[64];
		size_t n = strlen(arg);
		int p;

		if (n >= sizeof(buf))
			return fail(st, arg, "unknown protocol \"%s\" specified", arg);
		for (size_t k = 0; k <= n; k++)
			buf[k] = (char)tolower((unsigned char)arg[k]);
		p = ext_parse_proto(buf);
		if (p < 0)
			return fail(st, arg, "unknown protocol \"%s\" specified", arg);
		if (p == 0 && inv)
			return fail(st, arg, "rule would never match protocol");
		ip->proto = (uint8_t)p;
		if (inv)
			ip->invflags |= IPINV_PROTO;
		return 0;
	}
	case 'i':
		if (inv)
			ip->invflags |= IPINV_VIA_IN;
		return parse_iface(st, arg, ip->iniface, ip->iniface_mask);
	case 'o':
		if (inv)
			ip->invflags |= IPINV_VIA_OUT;
		return parse_iface(st, arg, ip->outiface, ip->outiface_mask);
	case 'f':
		if (st->family == NF_V6)
			return fail(st, word, "-f is not supported in IPv6, use -m frag instead");
		ip->flags |= IPF_FRAG;
		if (inv)
			ip->invflags |= IPINV_FRAG;
		return 0;
	case 'j':
	case 'g':
		return set_jump(st, arg, o->id == 'g');
	case 'm': {
		const struct ext *e = ext_find_match(arg, st->family);

		if (!e && ext_find_match(arg, st->family == NF_V6 ? NF_V4 : NF_V6))
			return fail(st, arg, "match \"%s\" does not exist in %s", arg,
				    st->family == NF_V6 ? "ip6tables" : "iptables");
		if (!e)
			return fail(st, arg, "unknown match \"%s\"", arg);
		return load_match(st, e, arg);
	}
	case 'c': {
		const char *b = *i < nwords ? words[(*i)++] : NULL;

		return parse_counters(st, arg, b);
	}
	}
	return fail(st, word, "unknown option \"%s\"", word);
}

static int do_ext(struct state *st, const struct ext *e, const struct ext_opt *o,
		  const char *word, char **args)
{
	struct inst *in = NULL;
	bool inv = st->invert;
	int rc;

	st->invert = false;
	if (!st->first_rule_opt)
		st->first_rule_opt = word;
	if (st->t.ext == e && st->r.kind == RK_EXT) {
		in = &st->t;
	} else {
		for (unsigned int k = st->nm; k-- > 0;)
			if (st->m[k].ext == e && !st->m[k].completed) {
				in = &st->m[k];
				break;
			}
	}
	if (!in)
		return fail(st, word, "unknown option \"%s\"", word);
	if (inv && !(o->flags & EXT_O_INV))
		return fail(st, word, "%s: option \"--%s\" cannot be inverted", e->name, o->name);
	if ((in->seen & (1u << o->id)) && !(o->flags & EXT_O_MULTI))
		return fail(st, word, "%s: option \"--%s\" can only be used once", e->name,
			    o->name);
	in->seen |= 1u << o->id;
	st->pc.ip = &st->r.ip;
	st->pc.family = st->family;
	st->pc.token = args[0] ? args[0] : word;
	rc = e->parse(in->data, o->id, args, inv, &st->pc);
	return rc < 0 ? -1 : 0;
}

/* The option word at words[*i - 1]; consumes its arguments. */
static int do_option(struct state *st, struct pcmd *cmd, char *word, char **words,
		     unsigned int nwords, unsigned int *i)
{
	struct opt_ref ref;
	char *eq = NULL, *name;
	size_t len;
	unsigned int nargs;
	char *args[3] = { NULL, NULL, NULL };

	if (word[1] == '-') {
		name = word + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if (len == 0)
			return fail(st, word, "unknown option \"%s\"", word);
		if (lookup_long(st, name, len, &ref) < 0) {
			const struct ext *pm = proto_match(st->r.ip.proto, st->family);

			if (!pm || type_loaded(st, pm) || st->nm == RULES_MAX_MATCHES)
				return fail(st, word, "unknown option \"%s\"", word);
			if (load_match(st, pm, word) < 0)
				return -1;
			if (lookup_long(st, name, len, &ref) < 0)
				return fail(st, word, "unknown option \"%s\"", word);
		}
	} else {
		const struct base_opt *b = NULL;

		if (word[2] == '\0')
			for (size_t k = 0; k < sizeof(base_opts) / sizeof(base_opts[0]); k++)
				if (base_opts[k].id == word[1]) {
					b = &base_opts[k];
					break;
				}
		if (!b)
			return fail(st, word, "unknown option \"%s\"", word);
		ref = (struct opt_ref){ .base = b };
	}

	nargs = ref.base ? ref.base->nargs : ref.eo->nargs;
	if (nargs == 0 && eq)
		return fail(st, word, "option \"%s\" does not take an argument", word);
	if (nargs == OPTIONAL) {
		if (eq)
			args[0] = eq + 1;
		else if (*i < nwords && words[*i][0] != '-' && words[*i][0] != '!')
			args[0] = words[(*i)++];
	} else if (nargs >= 1) {
		if (eq) {
			args[0] = eq + 1;
		} else {
			if (*i >= nwords)
				return fail(st, word, "option \"%s\" requires an argument", word);
			args[0] = words[(*i)++];
		}
		if (nargs == 2) {
			if (*i >= nwords || words[*i][0] == '-' || words[*i][0] == '!')
				return fail(st, word, "option \"%s\" requires two arguments", word);
			args[1] = words[(*i)++];
		}
	}
	if (ref.base)
		return do_base(st, cmd, ref.base, word, args[0], words, nwords, i);
	return do_ext(st, ref.ext, ref.eo, word, args);
}

static void free_insts(struct state *st)
{
	for (unsigned int k = 0; k < st->nm; k++)
		free(st->m[k].data);
	st->nm = 0;
	free(st->t.data);
	st->t.data = NULL;
}

/* iptables checks -i/-o against the chain's name, whatever the table. */
static int check_iface_chain(struct state *st, const char *chain)
{
	bool in_only = strcmp(chain, "PREROUTING") == 0 || strcmp(chain, "INPUT") == 0;
	bool out_only = strcmp(chain, "POSTROUTING") == 0 || strcmp(chain, "OUTPUT") == 0;

	if (in_only && (st->base_seen & base_bit('o')))
		return fail(st, "-o", "can't use -o with %s", chain);
	if (out_only && (st->base_seen & base_bit('i')))
		return fail(st, "-i", "can't use -i with %s", chain);
	return 0;
}

static int finish_exts(struct state *st)
{
	struct rule_ip *ip = &st->r.ip;

	st->pc.ip = ip;
	for (unsigned int k = 0; k < st->nm; k++) {
		const struct ext *e = st->m[k].ext;

		st->pc.token = e->name;
		if (e->final && e->final(st->m[k].data, st->m[k].seen, &st->pc) < 0)
			return -1;
		if (e->proto && (ip->proto != e->proto || (ip->invflags & IPINV_PROTO)))
			return fail(st, e->name, "%s match needs \"-p %s\"", e->name,
				    ext_proto_name(e->proto));
	}
	if (st->r.kind == RK_EXT) {
		const struct ext *e = st->t.ext;

		st->pc.token = e->name;
		if (e->final && e->final(st->t.data, st->t.seen, &st->pc) < 0)
			return -1;
		if (e->proto && (ip->proto != e->proto || (ip->invflags & IPINV_PROTO)))
			return fail(st, e->name, "%s target needs \"-p %s\"", e->name,
				    ext_proto_name(e->proto));
	}
	/* fold native tcp/udp matches into the first one (iptables-nft) */
	for (unsigned int k = 1; k < st->nm; k++) {
		const struct ext *e = st->m[k].ext;

		if (!e->fold)
			continue;
		for (unsigned int j = 0; j < k; j++) {
			int rc;

			if (st->m[j].ext != e)
				continue;
			rc = e->fold(st->m[j].data, st->m[k].data);
			if (rc < 0)
				return fail(st, e->name,
					    "%s: two %s matches set the same option", e->name,
					    e->name);
			if (rc == 0)
				continue;
			free(st->m[k].data);
			memmove(&st->m[k], &st->m[k + 1], (st->nm - k - 1) * sizeof(st->m[0]));
			st->nm--;
			k--;
			break;
		}
	}
	return 0;
}

void rules_prule_free(struct prule *r)
{
	if (!r)
		return;
	for (unsigned int k = 0; k < r->nm; k++)
		free(r->m[k].data);
	free(r->tdata);
	free(r);
}

struct prule *rules_prule_dup(const struct prule *r)
{
	struct prule *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	*d = *r;
	d->nm = 0;
	d->tdata = NULL;
	for (unsigned int k = 0; k < r->nm; k++) {
		size_t sz = r->m[k].ext->size ? r->m[k].ext->size : 1;

		d->m[k].data = malloc(sz);
		if (!d->m[k].data) {
			rules_prule_free(d);
			return NULL;
		}
		memcpy(d->m[k].data, r->m[k].data, sz);
		d->nm++;
	}
	if (r->tdata) {
		size_t sz = r->target->size ? r->target->size : 1;

		d->tdata = malloc(sz);
		if (!d->tdata) {
			rules_prule_free(d);
			return NULL;
		}
		memcpy(d->tdata, r->tdata, sz);
	}
	return d;
}

/* Expand the -s/-d lists of st->r into cmd->rules. */
static int expand(struct state *st, struct pcmd *cmd)
{
	static const union nf_addr any;
	union nf_addr *sa = NULL, *sm = NULL, *da = NULL, *dm = NULL;
	unsigned int ns = 1, nd = 1, n = 0;
	int rc = -1;

	if (st->srcs) {
		sa = malloc(2 * MAX_ADDRS * sizeof(*sa));
		if (!sa)
			goto oom;
		sm = sa + MAX_ADDRS;
		if (parse_addrs(st, st->srcs, sa, sm, &ns) < 0)
			goto out;
	}
	if (st->dsts) {
		da = malloc(2 * MAX_ADDRS * sizeof(*da));
		if (!da)
			goto oom;
		dm = da + MAX_ADDRS;
		if (parse_addrs(st, st->dsts, da, dm, &nd) < 0)
			goto out;
	}
	if ((ns > 1 || nd > 1) && (st->r.ip.invflags & (IPINV_SRC | IPINV_DST))) {
		fail(st, ns > 1 ? st->srcs : st->dsts,
		     "! not allowed with multiple source or destination IP addresses");
		goto out;
	}
	if (((st->r.ip.invflags & IPINV_SRC) && sm && nf_addr_eq(&sm[0], &any)) ||
	    ((st->r.ip.invflags & IPINV_DST) && dm && nf_addr_eq(&dm[0], &any))) {
		fail(st, (st->r.ip.invflags & IPINV_SRC) && sm && nf_addr_eq(&sm[0], &any) ?
			     st->srcs : st->dsts,
		     st->family == NF_V6 ? "\"! ::/0\" never matches" :
					   "\"! 0.0.0.0/0\" never matches");
		goto out;
	}
	if ((size_t)ns * nd > MAX_EXPANDED) {
		fail(st, st->srcs, "-s and -d lists make more than %d rules", MAX_EXPANDED);
		goto out;
	}
	cmd->rules = calloc((size_t)ns * nd, sizeof(*cmd->rules));
	if (!cmd->rules)
		goto oom;
	for (unsigned int a = 0; a < ns; a++)
		for (unsigned int b = 0; b < nd; b++) {
			struct prule *r = rules_prule_dup(&st->r);

			if (!r)
				goto oom;
			r->ip.src = sa ? sa[a] : any;
			r->ip.smsk = sm ? sm[a] : any;
			r->ip.dst = da ? da[b] : any;
			r->ip.dmsk = dm ? dm[b] : any;
			cmd->rules[n++] = r;
			cmd->nrules = n;
		}
	rc = 0;
	goto out;
oom:
	fail(st, "", "out of memory");
out:
	free(sa);
	free(da);
	return rc;
}

void rules_pcmd_free(struct pcmd *cmd)
{
	for (unsigned int k = 0; k < cmd->nrules; k++)
		rules_prule_free(cmd->rules[k]);
	free(cmd->rules);
	cmd->rules = NULL;
	cmd->nrules = 0;
}

int rules_parse_line(char **words, unsigned int nwords, enum nf_table t,
		     struct pchain *(*find)(void *arg, const char *name), void *arg,
		     unsigned int line, const struct rules_parse_opts *opts, struct pcmd *cmd,
		     struct rules_error *err)
{
	struct state *st = calloc(1, sizeof(*st));
	unsigned int i = 0;
	int rc = -1;

	memset(cmd, 0, sizeof(*cmd));
	if (!st) {
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -ENOMEM;
	}
	st->table = t;
	st->family = opts->family == NF_V6 ? NF_V6 : NF_V4;
	st->find = find;
	st->find_arg = arg;
	st->pc.err = err;
	st->pc.ip = &st->r.ip;
	st->pc.opts = opts;
	st->pc.family = st->family;
	st->r.line = line;
	st->r.kind = RK_NONE;

	if (nwords > 0 && words[0][0] == '[') {
		/* "[packets:bytes]" before the command: taken with
		 * iptables-restore -c, as a -c of the rule (so another one is
		 * refused), else checked and ignored */
		char *w = words[0], *colon = strchr(w, ':');
		size_t len = strlen(w);

		if (!colon || w[len - 1] != ']') {
			fail(st, w, "bad counters \"%s\"", w);
			goto out;
		}
		*colon = '\0';
		w[len - 1] = '\0';
		if (!dec64(w + 1, &st->r.pcnt) || !dec64(colon + 1, &st->r.bcnt)) {
			*colon = ':';
			w[len - 1] = ']';
			fail(st, w, "bad counters \"%s\"", w);
			goto out;
		}
		*colon = ':';
		w[len - 1] = ']';
		i = 1;
		if (opts->counters)
			st->base_seen |= base_bit('c');
		else
			st->r.pcnt = st->r.bcnt = 0;
	}

	while (i < nwords && !cmd->skip) {
		char *w = words[i++];

		if (strcmp(w, "!") == 0) {
			if (st->invert) {
				fail(st, w, "multiple consecutive ! not allowed");
				goto out;
			}
			st->invert = true;
			continue;
		}
		if (w[0] != '-' || w[1] == '\0') {
			fail(st, w, "bad argument \"%s\"", w);
			goto out;
		}
		if (do_option(st, cmd, w, words, nwords, &i) < 0)
			goto out;
	}
	if (cmd->skip) {
		rc = 0;
		goto out;
	}
	if (st->invert) {
		fail(st, "!", "nothing appropriate following !");
		goto out;
	}
	if (!cmd->cmd) {
		fail(st, nwords ? words[0] : "", "no command given");
		goto out;
	}
	if (!strchr("AID", cmd->cmd)) {
		if (st->first_rule_opt) {
			fail(st, st->first_rule_opt, "illegal option %s with -%c",
			     st->first_rule_opt, cmd->cmd);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (cmd->cmd == 'D' && cmd->rulenum && st->first_rule_opt) {
		fail(st, st->first_rule_opt, "-D takes a rule number or a rule, not both");
		goto out;
	}
	if (check_iface_chain(st, cmd->chain) < 0 || finish_exts(st) < 0)
		goto out;
	cmd->has_rule = !(cmd->cmd == 'D' && cmd->rulenum);
	if (cmd->has_rule) {
		/* hand the extension data over to st->r for expand() to copy */
		for (unsigned int k = 0; k < st->nm; k++)
			st->r.m[k] = (struct rule_match){ st->m[k].ext, st->m[k].data };
		st->r.nm = (uint16_t)st->nm;
		if (st->r.kind == RK_EXT) {
			st->r.target = st->t.ext;
			st->r.tdata = st->t.data;
		}
		if (expand(st, cmd) < 0) {
			st->r.nm = 0;
			st->r.tdata = NULL;
			goto out;
		}
		st->r.nm = 0;
		st->r.tdata = NULL;
	}
	rc = 0;
out:
	if (rc < 0)
		rules_pcmd_free(cmd);
	free_insts(st);
	free(st);
	return rc < 0 ? -EINVAL : 0;
}
