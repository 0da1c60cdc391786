/* SPDX-License-Identifier: MIT */
/*
 * NAT bindings, following nf_nat_core.c (get_unique_tuple,
 * nf_nat_l4proto_unique_tuple) and nf_nat_proto.c (manip, ICMP errors).
 *
 * A binding for manip m turns the connection's current original tuple
 * (the inverse of its reply tuple) into a new one with the source (SRC) or
 * destination (DST) changed; the entry's reply tuple becomes the inverse of
 * the new tuple.  Rewriting a packet in direction dir at a hook of manip m
 * makes it look like the inverse of the other direction's tuple.
 *
 * Reuse of closed connections' tuples (nf_nat_used_tuple_harder, Linux
 * 6.5+; what 6.18 does is pinned down in tests/netns/23-nat-reuse-kernel.sh
 * and test_nat's reuse_* tests): in the last NAT_HARDER_THRESH (32) probes
 * of each round of the port search, a new TCP connection whose SYN was just
 * seen may take a candidate tuple held by the reply direction of another
 * source-NAT-ed TCP connection that is over -- TIME_WAIT (FIN close) or
 * CLOSE (RST) -- when its SYN's sequence number is after the old
 * connection's last one in the original direction (RFC 6191's condition
 * without timestamps: a late segment of the old connection cannot fall into
 * the new one's window).  The old entry is removed.  With a narrow range
 * (32 ports or fewer) every probe may do so, so a closed connection's port
 * can be taken even while another is free, as in Linux.  So the capacity
 * toward one destination is the open connections, not the past ones; UDP
 * and ICMP bindings are never taken over (as Linux).  gw goes further than
 * Linux in one test, RFC 6191's: where the old connection and the new SYN
 * both carry timestamps, the SYN's TSval must be after the old one's last
 * too (ct_tcp_may_take_over: otherwise the server's TIME_WAIT on the same
 * addresses and ports refuses the SYN by PAWS and the client waits 1 s).
 *
 * The search itself gives Linux's answers, with fewer lookups where it
 * toils: toward a destination whose range is mostly taken, each probe that
 * would only look a tuple up tests a bit of ct's bitmap of the ports held
 * there instead (ct.h's hot destinations; test_nat's hot_same_answers walks
 * 20,000 steps through a table with them and one without and compares
 * every answer).
 *
 * MASQUERADE takes the address of the interface the packet leaves by, as
 * Linux's inet_select_addr(out, next hop) does: the uplink's out of the
 * uplink, the tunnel's Address out of the tunnel (a peer reaching another
 * peer through a DNAT-ed uplink port, hairpin); the caller passes it in
 * env->masq_addr.
 *
 * Where gw differs from Linux by design: the uplink's address is only ever
 * paired with source ports from NatPorts, so the host kernel's own
 * connections never collide with NAT-ed ones: replies to it arrive on an
 * interface the host kernel receives on too, and gw's uplink filter hides
 * only that range from it.  The tunnel's Address needs no such range,
 * though the host owns it too: a reply to it comes from a peer through gw,
 * never reaching the host kernel unless gw writes it to the TUN, and the
 * host's own connections out of the TUN go through this same conntrack
 * table, so the tuple search alone keeps them apart (a host connection that
 * would clash gets its source port remapped by its null binding, as in
 * Linux).  And a tuple search that finds nothing free returns -ENOSPC at
 * once instead of leaving a clash for confirmation to drop.
 */
#include "nat/nat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "nat/ct.h"
#include "nat/pkt/pkt.h"

enum {
	NAT_MAX_ATTEMPTS = 128, NAT_MIN_ATTEMPTS = 16, NAT_HARDER_THRESH = NAT_MAX_ATTEMPTS / 4,
	NAT_LOOKAHEAD = 8,   /* probes of the port search in flight */
};

/* One remembered source mapping: (proto, src, sport) -> (addr, port). */
struct srcmap_slot {
	union nf_addr src, addr;
	uint16_t sport, port;
	uint8_t proto, family, used;
};

struct nat_srcmap {
	uint32_t mask;
	struct srcmap_slot slot[];
};

int nat_srcmap_create(struct nat_srcmap **out, uint32_t slots)
{
	uint32_t n = 1;
	struct nat_srcmap *m;

	while (n < slots && n < (1u << 30))
		n <<= 1;
	m = calloc(1, sizeof(*m) + (size_t)n * sizeof(m->slot[0]));
	if (!m)
		return -ENOMEM;
	m->mask = n - 1;
	*out = m;
	return 0;
}

void nat_srcmap_destroy(struct nat_srcmap *m)
{
	free(m);
}

enum nat_manip nat_hook_manip(enum nf_hook hook)
{
	return hook == NF_PREROUTING || hook == NF_OUTPUT ? NAT_MANIP_DST : NAT_MANIP_SRC;
}

static uint32_t done_bit(enum nat_manip m)
{
	return m == NAT_MANIP_SRC ? CT_S_NAT_DONE_SRC : CT_S_NAT_DONE_DST;
}

bool nat_needs_setup(const struct ct_entry *e, enum nat_manip m)
{
	return !(ct_entry_status(e) & done_bit(m));
}

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* An ICMP (ICMPv6) query's tuple whose packets carry an id: the id is the
 * port-like key.  Of the ICMPv6 types conntrack tracks only echo has one
 * (a Node Information query's tuple id is zero, nothing nat_packet could
 * rewrite); every ICMP type it tracks has. */
static bool icmp_query(const struct ct_tuple *t)
{
	if (t->family == NF_V6)
		return t->proto == IPPROTO_ICMPV6 &&
		       (t->dport >> 8 == ICMP6T_ECHO_REQ || t->dport >> 8 == ICMP6T_ECHO_REPLY);
	return t->proto == IPPROTO_ICMP;
}

bool nat_tuple_invert(struct ct_tuple *out, const struct ct_tuple *in)
{
	return ct_tuple_invert(out, in);
}

static bool tuple_equal(const struct ct_tuple *a, const struct ct_tuple *b)
{
	return nf_addr_eq(&a->src, &b->src) && nf_addr_eq(&a->dst, &b->dst) &&
	       a->sport == b->sport && a->dport == b->dport && a->proto == b->proto &&
	       a->family == b->family;
}

/* The port-like key a manip may change: TCP/UDP ports, the ICMP query id
 * (one field for both directions, kept in sport). */
static uint16_t *manip_key(struct ct_tuple *t, enum nat_manip m)
{
	if (icmp_query(t))
		return &t->sport;
	if (has_ports(t->proto))
		return m == NAT_MANIP_SRC ? &t->sport : &t->dport;
	return NULL;
}

static bool in_range(const struct ct_tuple *t, enum nat_manip m, const struct nat_range *r)
{
	struct ct_tuple copy = *t;
	const union nf_addr *addr = m == NAT_MANIP_SRC ? &t->src : &t->dst;
	const uint16_t *key = manip_key(&copy, m);

	if (r->flags & NAT_F_MAP_IPS) {
		if (t->family == NF_V6 ? memcmp(addr->b, r->min_addr.b, 16) < 0 ||
					 memcmp(addr->b, r->max_addr.b, 16) > 0 :
		    addr->ip < r->min_addr.ip || addr->ip > r->max_addr.ip)
			return false;
	}
	if ((r->flags & NAT_F_PROTO_SPECIFIED) && key &&
	    (*key < r->min_port || *key > r->max_port))
		return false;
	return true;
}

/* Would new, as a connection's original tuple, clash with another entry? */
static bool used(const struct ct_table *t, const struct ct_tuple *new_,
		 const struct ct_entry *e)
{
	struct ct_tuple reply;

	if (!nat_tuple_invert(&reply, new_))
		return true;
	return ct_tuple_taken(t, &reply, e);
}

/* One candidate of the port search: its reply tuple and that tuple's hash. */
struct probe {
	struct ct_tuple reply;
	uint32_t hash;
	bool ok;      /* the tuple has an inverse */
};

/* nf_nat_used_tuple_harder: in the last NAT_HARDER_THRESH attempts of a
 * round, a new TCP connection (its SYN just seen) may take the tuple of a
 * source-NAT-ed connection that is over (see the top comment). */
static bool used_harder(struct ct_table *t, const struct probe *pr, const struct ct_entry *e,
			uint32_t attempts_left)
{
	if (!pr->ok)
		return true;
	if (attempts_left > NAT_HARDER_THRESH || pr->reply.proto != IPPROTO_TCP ||
	    ct_entry_tcp_state(e) != CT_TCP_SYN_SENT)
		return ct_tuple_taken_hash(t, &pr->reply, pr->hash, e);
	return !ct_evict_closed(t, &pr->reply, e);
}

static uint32_t mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x7feb352d;
	h ^= h >> 15;
	h *= 0x846ca68b;
	h ^= h >> 16;
	return h;
}

static uint32_t rol32(uint32_t w, unsigned s)
{
	return w << s | w >> (32 - s);
}

/* The kernel's jhash2() (jhash.h, Bob Jenkins' lookup3 over 32-bit words). */
static uint32_t jhash2(const uint32_t *k, uint32_t len, uint32_t initval)
{
	uint32_t a, b, c;

	a = b = c = 0xdeadbeef + (len << 2) + initval;
	while (len > 3) {
		a += k[0]; b += k[1]; c += k[2];
		a -= c; a ^= rol32(c, 4); c += b;
		b -= a; b ^= rol32(a, 6); a += c;
		c -= b; c ^= rol32(b, 8); b += a;
		a -= c; a ^= rol32(c, 16); c += b;
		b -= a; b ^= rol32(a, 19); a += c;
		c -= b; c ^= rol32(b, 4); b += a;
		len -= 3;
		k += 3;
	}
	switch (len) {
	case 3: c += k[2]; /* fall through */
	case 2: b += k[1]; /* fall through */
	case 1: a += k[0];
		c ^= b; c -= rol32(b, 14);
		a ^= c; a -= rol32(c, 11);
		b ^= a; b -= rol32(a, 25);
		c ^= b; c -= rol32(b, 16);
		a ^= c; a -= rol32(c, 4);
		b ^= a; b -= rol32(a, 14);
		c ^= b; c -= rol32(b, 24);
		break;
	}
	return c;
}

/* An address as the kernel's union nf_inet_addr holds it: 32-bit words as
 * they lie in memory (network order bytes). */
static void wire_words(const union nf_addr *a, uint8_t family, uint32_t w[4])
{
	if (family == NF_V6) {
		memcpy(w, a->b, 16);
	} else {
		w[0] = htonl(a->ip);
		w[1] = w[2] = w[3] = 0;
	}
}

/* find_best_ips_proto: one address of the range by a hash of the source,
 * seeded with the destination (unless --persistent), exactly as Linux picks
 * it so a client keeps its address: jhash2 over the source's four words
 * (an IPv4 address and three zero words), then each word of the address
 * picked within the range word by word, the hash stirred with the
 * destination's word after each.  Measured against Linux 6.18 in
 * tests/netns/diff/52-snat-addr-range.scn. */
static void pick_addr(struct ct_tuple *t, enum nat_manip m, const struct nat_range *r)
{
	union nf_addr *addr = m == NAT_MANIP_SRC ? &t->src : &t->dst;
	unsigned words = t->family == NF_V6 ? 4 : 1;
	uint32_t src[4], dst[4], lo[4], hi[4], out[4], j;
	bool full = false;

	if (!(r->flags & NAT_F_MAP_IPS))
		return;
	if (nf_addr_eq(&r->min_addr, &r->max_addr)) {
		*addr = r->min_addr;
		return;
	}
	wire_words(&t->src, t->family, src);
	wire_words(&t->dst, t->family, dst);
	wire_words(&r->min_addr, t->family, lo);
	wire_words(&r->max_addr, t->family, hi);
	j = jhash2(src, 4, (r->flags & NAT_F_PERSISTENT) ? 0 : dst[words - 1]);
	for (unsigned i = 0; i < words; i++) {
		uint32_t min = full ? 0 : ntohl(lo[i]);
		uint32_t dist = full ? ~0u : ntohl(hi[i]) - min + 1;

		out[i] = htonl(min + (uint32_t)(((uint64_t)j * dist) >> 32));
		if (out[i] != hi[i])
			full = true;
		/* Linux XORs in tuple->dst's word after writing it: the new
		 * one when the destination is what is picked (DNAT) */
		if (!(r->flags & NAT_F_PERSISTENT))
			j ^= m == NAT_MANIP_DST ? out[i] : dst[i];
	}
	if (t->family == NF_V6)
		memcpy(addr->b, out, 16);
	else
		*addr = nf_addr4(ntohl(out[0]));
}

/* One round of the search over the candidates min + (off + i) % size,
 * i < attempts, with the bitmap of slot instead of lookups wherever
 * used_harder would only look up (ct.h's hot destinations: the same
 * answers).  0: *key is free; -ENOSPC: none was. */
static int hot_round(struct ct_table *t, struct ct_tuple *tuple, uint16_t *key,
		     const struct ct_entry *e, int slot, uint32_t min, uint32_t size,
		     uint32_t off, uint32_t attempts)
{
	bool harder = tuple->proto == IPPROTO_TCP && ct_entry_tcp_state(e) == CT_TCP_SYN_SENT;

	for (uint32_t i = 0; i < attempts; i++) {
		struct probe pr;

		*key = (uint16_t)(min + (off + i) % size);
		if (!harder || attempts - i > NAT_HARDER_THRESH) {
			if (!ct_hot_held(t, slot, *key))
				return 0;
			continue;
		}
		pr.ok = nat_tuple_invert(&pr.reply, tuple);
		pr.hash = pr.ok ? ct_tuple_hash(t, &pr.reply) : 0;
		if (!used_harder(t, &pr, e, attempts - i))
			return 0;
	}
	return -ENOSPC;
}

/* One round of the search by lookups, NAT_LOOKAHEAD of them in flight:
 * candidate i is tested at step i + NAT_LOOKAHEAD; its bucket is fetched
 * from step i on, the first entry of its chain from step i +
 * NAT_LOOKAHEAD / 2 (when the range is full, every probe is a lookup that
 * misses the cache).  0: *key is free; -ENOSPC: none was.  *spent: the
 * taken candidates tested before the harder phase. */
static int lookup_round(struct ct_table *t, struct ct_tuple *tuple, uint16_t *key,
			const struct ct_entry *e, uint32_t min, uint32_t size, uint32_t off,
			uint32_t attempts, uint32_t *spent)
{
	struct probe ring[NAT_LOOKAHEAD];

	for (uint32_t j = 0; j < attempts + NAT_LOOKAHEAD; j++) {
		if (j >= NAT_LOOKAHEAD) {
			uint32_t i = j - NAT_LOOKAHEAD;

			*key = (uint16_t)(min + (off + i) % size);
			if (!used_harder(t, &ring[i % NAT_LOOKAHEAD], e, attempts - i))
				return 0;
			*spent += attempts - i > NAT_HARDER_THRESH;
		}
		if (j < attempts) {
			struct probe *pr = &ring[j % NAT_LOOKAHEAD];

			*key = (uint16_t)(min + (off + j) % size);
			pr->ok = nat_tuple_invert(&pr->reply, tuple);
			if (pr->ok) {
				pr->hash = ct_tuple_hash(t, &pr->reply);
				ct_prefetch_hash(t, pr->hash, false);
			}
		}
		if (j >= NAT_LOOKAHEAD / 2 && j - NAT_LOOKAHEAD / 2 < attempts) {
			const struct probe *pr = &ring[(j - NAT_LOOKAHEAD / 2) % NAT_LOOKAHEAD];

			if (pr->ok)
				ct_prefetch_hash(t, pr->hash, true);
		}
	}
	return -ENOSPC;
}

/* nf_nat_l4proto_unique_tuple: probe the port range from a random offset,
 * min(range, 128) tries, then halve the window while it is >= 16.  A new
 * source port toward a TCP or UDP destination may use ct's bitmap of it
 * (ct_hot_find), and a search that spent NAT_MIN_ATTEMPTS probes or more on
 * taken tuples tells ct (ct_hot_learn). */
static int unique_key(struct ct_table *t, struct ct_tuple *tuple, enum nat_manip m,
		      const struct nat_range *r, const struct ct_entry *e, uint32_t rnd)
{
	uint16_t *key = manip_key(tuple, m);
	uint32_t min, size, attempts, off, spent = 0;
	struct ct_tuple reply;
	bool hot;
	int slot = -1, ret;

	/* nothing to vary (GRE, ESP, ...): the mapped addresses alone, as
	 * Linux keeps them, when no other connection holds them (--random
	 * comes here with them untried) */
	if (!key)
		return used(t, tuple, e) ? -ENOSPC : 0;
	if (r->flags & NAT_F_PROTO_SPECIFIED) {
		min = r->min_port;
		size = (uint32_t)r->max_port - r->min_port + 1;
	} else if (icmp_query(tuple)) {
		min = 0;
		size = 65536;
	} else if (m == NAT_MANIP_DST) {
		return -ENOSPC; /* a destination port is never changed unasked */
	} else if (*key < 512) {
		min = 1;
		size = 511;
	} else if (*key < 1024) {
		min = 600;
		size = 1023 - 600 + 1;
	} else {
		min = 1024;
		size = 65535 - 1024 + 1;
	}
	hot = m == NAT_MANIP_SRC && has_ports(tuple->proto) && size <= CT_HOT_PORTS &&
	      nat_tuple_invert(&reply, tuple);
	if (hot)
		slot = ct_hot_find(t, &reply, (uint16_t)min, size);
	off = rnd & 0xffff;
	attempts = size < NAT_MAX_ATTEMPTS ? size : NAT_MAX_ATTEMPTS;
	for (;;) {
		ret = slot >= 0 ? hot_round(t, tuple, key, e, slot, min, size, off, attempts) :
				  lookup_round(t, tuple, key, e, min, size, off, attempts, &spent);
		if (!ret || attempts >= size || attempts < NAT_MIN_ATTEMPTS)
			break;
		attempts /= 2;
		rnd = mix32(rnd + 0x9e3779b9);
		off = rnd & 0xffff;
	}
	if (hot && slot < 0 && spent >= NAT_MIN_ATTEMPTS)
		ct_hot_learn(t, &reply, (uint16_t)min, size, spent);
	return ret;
}

/* The range a request means for this connection. */
static int effective_range(struct nat_range *r, const struct nat_request *req,
			   const struct nat_env *env, const struct ct_tuple *curr,
			   enum nat_manip m)
{
	*r = req->range;
	switch (req->kind) {
	case NAT_NONE:
		/* the null binding: keep the address, reserve the tuple */
		r->flags = NAT_F_MAP_IPS;
		r->min_addr = r->max_addr = m == NAT_MANIP_SRC ? curr->src : curr->dst;
		return 0;
	case NAT_MASQUERADE:
		if (nf_addr_is_zero(&env->masq_addr))
			return -EADDRNOTAVAIL;
		r->flags |= NAT_F_MAP_IPS;
		r->min_addr = r->max_addr = env->masq_addr;
		return 0;
	case NAT_REDIRECT:
		if (nf_addr_is_zero(&env->redirect_addr))
			return -EADDRNOTAVAIL;
		r->flags |= NAT_F_MAP_IPS;
		r->min_addr = r->max_addr = env->redirect_addr;
		return 0;
	case NAT_SNAT:
	case NAT_DNAT:
		return 0;
	}
	return -EINVAL;
}

static struct srcmap_slot *srcmap_slot(struct nat_srcmap *m, const struct ct_tuple *t)
{
	uint32_t h = mix32(t->src.ip6[0] ^ t->src.ip6[1] ^ t->src.ip6[2] ^ t->src.ip6[3] ^
			   mix32((uint32_t)t->sport << 8 | t->proto));

	return &m->slot[h & m->mask];
}

/* find_appropriate_src: the mapping this source already has, if any. */
static bool srcmap_find(struct nat_srcmap *m, const struct ct_tuple *curr, struct ct_tuple *out)
{
	const struct srcmap_slot *s;

	if (!m)
		return false;
	s = srcmap_slot(m, curr);
	if (!s->used || !nf_addr_eq(&s->src, &curr->src) || s->sport != curr->sport ||
	    s->proto != curr->proto || s->family != curr->family)
		return false;
	*out = *curr;
	out->src = s->addr;
	out->sport = s->port;
	return true;
}

static void srcmap_note(struct nat_srcmap *m, const struct ct_tuple *curr,
			const struct ct_tuple *new_)
{
	struct srcmap_slot *s;

	if (!m || !has_ports(curr->proto))
		return;
	s = srcmap_slot(m, curr);
	*s = (struct srcmap_slot){ .src = curr->src, .sport = curr->sport, .proto = curr->proto,
				   .family = curr->family, .addr = new_->src, .port = new_->sport,
				   .used = 1 };
}

/* get_unique_tuple.  host_ports: the binding is SNAT/MASQUERADE, so the
 * uplink's address gets a port from NatPorts. */
static int unique_tuple(struct ct_table *t, struct ct_tuple *new_,
			const struct ct_tuple *curr, struct nat_range *r,
			const struct ct_entry *e, enum nat_manip m,
			const struct nat_env *env, bool host_ports)
{
	bool random = r->flags & (NAT_F_RANDOM | NAT_F_RANDOM_FULLY);
	union nf_addr uplink = curr->family == NF_V6 ? env->uplink_addr6 :
			       nf_addr4(env->uplink_addr);

	*new_ = *curr;
	pick_addr(new_, m, r);
	if (host_ports && has_ports(new_->proto) && !nf_addr_is_zero(&uplink) &&
	    nf_addr_eq(&new_->src, &uplink) && !(r->flags & NAT_F_PROTO_SPECIFIED) &&
	    env->host_port_min) {
		r->flags |= NAT_F_PROTO_SPECIFIED;
		r->min_port = env->host_port_min;
		r->max_port = env->host_port_max;
	}
	/* source NAT tries the original tuple first, or else the mapping the
	 * source already has; then every binding tries the chosen address
	 * with the original port */
	if (m == NAT_MANIP_SRC && !random) {
		struct ct_tuple known;

		if (in_range(curr, m, r)) {
			if (!used(t, curr, e)) {
				*new_ = *curr;
				return 0;
			}
		} else if (has_ports(curr->proto) && srcmap_find(env->srcmap, curr, &known) &&
			   in_range(&known, m, r) && !used(t, &known, e)) {
			*new_ = known;
			return 0;
		}
	}
	if (!random && in_range(new_, m, r) && !used(t, new_, e))
		return 0;
	return unique_key(t, new_, m, r, e, env->rnd);
}

int nat_setup(struct ct_table *t, struct ct_entry *e, enum nat_manip m,
	      const struct nat_request *req, const struct nat_env *env)
{
	struct ct_tuple curr, new_, reply;
	struct nat_range r;
	int ret;

	if (!nat_tuple_invert(&curr, ct_entry_tuple(e, CT_DIR_REPLY)))
		return -EINVAL;
	ret = effective_range(&r, req, env, &curr, m);
	if (ret)
		return ret;
	ret = unique_tuple(t, &new_, &curr, &r, e, m, env,
			   req->kind == NAT_SNAT || req->kind == NAT_MASQUERADE);
	if (ret)
		return ret;
	if (!tuple_equal(&new_, &curr)) {
		if (!nat_tuple_invert(&reply, &new_))
			return -EINVAL;
		ct_entry_set_reply(e, &reply);
		ct_entry_set_status(e, m == NAT_MANIP_SRC ? CT_S_SRC_NAT : CT_S_DST_NAT);
		if (m == NAT_MANIP_SRC)
			srcmap_note(env->srcmap, &curr, &new_);
	}
	ct_entry_set_status(e, done_bit(m));
	return 0;
}

/* Make header h carry target's source (SRC) or destination (DST). */
static void manip(struct pkt *p, struct pkt_hdr *h, const struct ct_tuple *target,
		  enum nat_manip m)
{
	bool query = h->family == NF_V6 ?
		     h->proto == IPPROTO_ICMPV6 && h->icmp_type >= 128 :
		     h->proto == IPPROTO_ICMP && !pkt_icmp_is_error(h->icmp_type);

	if (m == NAT_MANIP_SRC) {
		if (!nf_addr_eq(&h->saddr, &target->src))
			pkt_set_saddr(p, h, &target->src);
	} else if (!nf_addr_eq(&h->daddr, &target->dst)) {
		pkt_set_daddr(p, h, &target->dst);
	}
	if (!(h->flags & PKT_F_PORTS))
		return;
	if (query) {
		if (h->sport != target->sport)
			pkt_set_icmp_id(p, h, target->sport);
	} else if (has_ports(h->proto)) {
		if (m == NAT_MANIP_SRC && h->sport != target->sport)
			pkt_set_sport(p, h, target->sport);
		else if (m == NAT_MANIP_DST && h->dport != target->dport)
			pkt_set_dport(p, h, target->dport);
	}
}

int nat_packet(struct ct_entry *e, enum ct_dir dir, enum nat_manip m,
	       struct pkt *p, bool related)
{
	uint32_t status = ct_entry_status(e);
	uint32_t bit = m == NAT_MANIP_SRC ? CT_S_SRC_NAT : CT_S_DST_NAT;
	const struct ct_tuple *other = ct_entry_tuple(e, (enum ct_dir)!dir);
	struct ct_tuple target;

	if (dir == CT_DIR_REPLY)
		bit ^= CT_S_SRC_NAT | CT_S_DST_NAT;
	if (related && p->has_inner) {
		/* nf_nat_icmp_reply_translation */
		if (p->outer.family == NF_V4 && p->outer.icmp_type == 5 /* redirect */ &&
		    ((status & (CT_S_NAT_DONE_SRC | CT_S_NAT_DONE_DST)) !=
			     (CT_S_NAT_DONE_SRC | CT_S_NAT_DONE_DST) ||
		     (status & (CT_S_SRC_NAT | CT_S_DST_NAT))))
			return -EPERM;
		if (!(status & bit))
			return 0;
		/* the embedded packet went the other way: make it what that
		 * side sent, with the opposite manip */
		manip(p, &p->inner, other, m == NAT_MANIP_SRC ? NAT_MANIP_DST : NAT_MANIP_SRC);
	} else if (!(status & bit)) {
		return 0;
	}
	if (!nat_tuple_invert(&target, other))
		return 0;
	manip(p, &p->outer, &target, m);
	return 0;
}

struct flush_arg {
	struct ct_table *t;
	union nf_addr addr;
	uint8_t family;
	unsigned n;
};

static int flush_one(struct ct_entry *e, void *arg)
{
	struct flush_arg *f = arg;

	if ((ct_entry_status(e) & CT_S_SRC_NAT) &&
	    ct_entry_tuple(e, CT_DIR_REPLY)->family == f->family &&
	    nf_addr_eq(&ct_entry_tuple(e, CT_DIR_REPLY)->dst, &f->addr)) {
		ct_remove(f->t, e);
		f->n++;
	}
	return 0;
}

unsigned nat_flush_addr(struct ct_table *t, uint32_t addr)
{
	struct flush_arg f = { .t = t, .addr = nf_addr4(addr), .family = NF_V4 };

	ct_foreach(t, flush_one, &f);
	return f.n;
}

unsigned nat_flush_addr6(struct ct_table *t, const union nf_addr *addr)
{
	struct flush_arg f = { .t = t, .addr = *addr, .family = NF_V6 };

	ct_foreach(t, flush_one, &f);
	return f.n;
}

struct live_arg {
	const uint32_t *addrs;
	unsigned naddr;
	const union nf_addr *addrs6;
	unsigned naddr6;
	const struct rules_portset *within;
	struct nat_live *out;
};

static bool in_portset(const struct rules_portset *s, uint16_t port)
{
	for (unsigned i = 0; i < s->n; i++)
		if (port >= s->lo[i] && port <= s->hi[i])
			return true;
	return false;
}

static void live_snat(struct nat_live *o, uint32_t a)
{
	unsigned i = 0;

	while (i < o->nsnat && o->snat[i] < a)
		i++;
	if (i < o->nsnat && o->snat[i] == a)
		return;
	if (o->nsnat == NAT_LIVE_MAX_SNAT) {
		o->snat_over++;
		return;
	}
	memmove(&o->snat[i + 1], &o->snat[i], (o->nsnat - i) * sizeof(o->snat[0]));
	o->snat[i] = a;
	o->nsnat++;
}

static void live_snat6(struct nat_live *o, const union nf_addr *a)
{
	unsigned i = 0;
	int c = 1;

	while (i < o->nsnat6 && (c = memcmp(o->snat6[i].b, a->b, 16)) < 0)
		i++;
	if (i < o->nsnat6 && c == 0)
		return;
	if (o->nsnat6 == NAT_LIVE_MAX_SNAT) {
		o->snat6_over++;
		return;
	}
	memmove(&o->snat6[i + 1], &o->snat6[i], (o->nsnat6 - i) * sizeof(o->snat6[0]));
	o->snat6[i] = *a;
	o->nsnat6++;
}

static int live_one(struct ct_entry *e, void *arg)
{
	struct live_arg *l = arg;
	uint32_t st = ct_entry_status(e);
	const struct ct_tuple *o = ct_entry_tuple(e, CT_DIR_ORIGINAL);
	bool found = false;

	if ((st & CT_S_SRC_NAT) && o->family == NF_V4)
		live_snat(l->out, ct_entry_tuple(e, CT_DIR_REPLY)->dst.ip);
	else if (st & CT_S_SRC_NAT)
		live_snat6(l->out, &ct_entry_tuple(e, CT_DIR_REPLY)->dst);
	if (!(st & CT_S_DST_NAT) || (o->proto != IPPROTO_TCP && o->proto != IPPROTO_UDP))
		return 0;
	if (o->proto == IPPROTO_TCP && (ct_entry_tcp_state(e) == CT_TCP_TIME_WAIT ||
					ct_entry_tcp_state(e) == CT_TCP_CLOSE))
		return 0;
	if (o->family == NF_V6) {
		for (unsigned i = 0; i < l->naddr6 && !found; i++)
			found = nf_addr_eq(&l->addrs6[i], &o->dst);
	} else {
		for (unsigned i = 0; i < l->naddr && !found; i++)
			found = l->addrs[i] == o->dst.ip;
	}
	if (found && l->within && !in_portset(&l->within[o->proto == IPPROTO_UDP], o->dport))
		found = false;
	if (found) {
		unsigned bit = (o->proto == IPPROTO_UDP ? 65536u : 0u) + o->dport;

		l->out->bits[bit / 64] |= (uint64_t)1 << (bit % 64);
	}
	return 0;
}

/* The ports set in bits[0, 1024) as ranges into s; the ports merging added. */
static unsigned bits_ports(const uint64_t *bits, struct rules_portset *s)
{
	unsigned added = 0;
	uint32_t p = 0;

	s->n = 0;
	while (p <= UINT16_MAX) {
		uint32_t lo;

		if (!(bits[p / 64] >> (p % 64))) { /* none left in this word */
			p = (p / 64 + 1) * 64;
			continue;
		}
		if (!(bits[p / 64] >> (p % 64) & 1)) {
			p++;
			continue;
		}
		lo = p;
		while (p <= UINT16_MAX && bits[p / 64] >> (p % 64) & 1)
			p++;
		added += rules_portset_append(s, (uint16_t)lo, (uint16_t)(p - 1));
	}
	return added;
}

void nat_live(struct ct_table *t, const uint32_t *addrs, unsigned naddr,
	      const struct rules_portset *within, struct nat_live *out)
{
	nat_live6(t, addrs, naddr, NULL, 0, within, out);
}

void nat_live6(struct ct_table *t, const uint32_t *addrs, unsigned naddr,
	       const union nf_addr *addrs6, unsigned naddr6, const struct rules_portset *within,
	       struct nat_live *out)
{
	struct live_arg l = { addrs, naddr, addrs6, naddr6, within, out };

	memset(out, 0, sizeof(*out));
	ct_foreach(t, live_one, &l);
	out->merged = bits_ports(out->bits, &out->tcp) + bits_ports(out->bits + 1024, &out->udp);
}
