/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the rules parser.  The input is iptables-restore text.  When
 * rules_parse() accepts it, its save (with counters) must load again and
 * save to the same text (load -> save -> load -> save is a fixed point),
 * and a few packets walk every built-in chain of every table.  The text is
 * read twice: as iptables-restore text and as ip6tables-restore text.
 * The packets go through conntrack first (ctx.ct set, so conntrack and
 * connmark matches and CONNMARK/CT targets see an entry), LOG targets
 * format their line (ext_log_format, into a sink that checks it is one
 * NUL-terminated line), and every table is listed as iptables -L prints it
 * (rules_list with each flag combination, all chains and each chain).
 *
 * Seeds: the OK rows of tests/unit/rules_canon.txt make good ones, each
 * written as "*TABLE", the rule and "COMMIT" into a file of the corpus.
 */
#include <stdlib.h>
#include <string.h>

#include "nat/ct.h"
#include "nat/nf.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"
#include "nat/rules.h"
#include "nat/sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A TCP SYN with an MSS option, a UDP datagram, an ICMP echo and a later
 * fragment, with valid checksums. */
static size_t make_packet(uint8_t *b, size_t room, int kind)
{
	static const uint8_t protos[] = { 6, 17, 1, 6 };
	size_t l4 = kind == 0 ? 24 : kind == 3 ? 16 : 8, tot = 20 + l4;

	if (room < tot + 8)
		return 0;
	memset(b, 0, tot + 8);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)tot);
	be16_put(b + 4, 0x4242);
	if (kind == 3)
		be16_put(b + 6, 0x0001);
	b[8] = 64;
	b[9] = protos[kind];
	be32_put(b + 12, 0x0a080002);
	be32_put(b + 16, 0xc6336401);
	be16_put(b + 10, csum_ip(b, 20));
	if (kind == 0) {
		be16_put(b + 20, 40000);
		be16_put(b + 22, 443);
		b[32] = 0x60;
		b[33] = 0x02;
		b[40] = 2;
		b[41] = 4;
		be16_put(b + 42, 1460);
		be16_put(b + 36, csum_l4(0x0a080002, 0xc6336401, 6, b + 20, l4));
	} else if (kind == 1) {
		be16_put(b + 20, 5353);
		be16_put(b + 22, 53);
		be16_put(b + 24, 8);
		be16_put(b + 26, csum_l4(0x0a080002, 0xc6336401, 17, b + 20, l4));
	} else if (kind == 2) {
		b[20] = 8;
		be16_put(b + 24, 7);
		be16_put(b + 22, csum_icmp(b + 20, l4));
	}
	return tot;
}

/* LOG's sink: one line, NUL-terminated, within the kernel's length. */
static void log_sink(void *arg, int level, const char *prefix, const char *line)
{
	(void)arg;
	if (level < 0 || level > 7 || !prefix || strlen(line) >= 1024 || strchr(line, '\n'))
		abort();
}

static void walk(struct rules *r, uint64_t now)
{
	struct ct_config cfg;
	struct ct_table *ct;

	ct_config_default(&cfg, 16);
	if (ct_create(&ct, &cfg))
		abort();
	static const char *const ifs[] = { "gw0", "eth0", "" };

	for (int kind = 0; kind < 4; kind++)
		for (int t = 0; t < NF_TABLE_MAX; t++)
			for (int h = 0; h < NF_HOOK_MAX; h++) {
				uint8_t buf[128];
				struct pkt p;
				struct nf_ctx ctx;
				size_t len = make_packet(buf, sizeof(buf), kind);

				if (!rules_has_chain(r, (enum nf_table)t, (enum nf_hook)h) ||
				    pkt_parse(&p, buf, len) != PKT_OK)
					continue;
				memset(&ctx, 0, sizeof(ctx));
				ctx.pkt = &p;
				ctx.now = now;
				ctx.hook = (enum nf_hook)h;
				ctx.ctstate = (enum ct_state)(kind % CT_STATE_MAX);
				ctx.pmtu = 1420;
				ctx.pkt_room = 8;
				ctx.mark = (uint32_t)kind;
				ctx.has_owner = kind & 1;
				strcpy(ctx.in, ifs[h == NF_OUTPUT || h == NF_POSTROUTING ? 2 : kind % 2]);
				strcpy(ctx.out, ifs[h == NF_PREROUTING || h == NF_INPUT ? 2 : 1]);
				ctx.log = log_sink;
				ct_in(ct, &ctx, false);
				(void)rules_run(r, (enum nf_table)t, &ctx, NULL);
				if (ctx.ct && !(ct_entry_status(ctx.ct) & CT_S_CONFIRMED))
					ct_confirm(ct, ctx.ct, now);
			}
	ct_destroy(ct);
}

/* iptables -L of every table, every flag combination; all chains, then
 * each built-in chain, and a chain no table has. */
static void list(const struct rules *r)
{
	static const char *const chains[] = {
		"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING", "nosuch",
	};

	for (int t = 0; t < NF_TABLE_MAX; t++)
		for (unsigned flags = 0; flags < 16; flags++) {
			struct sbuf out;

			sbuf_init(&out);
			rules_list(r, (enum nf_table)t, NULL, flags, &out);
			for (size_t c = 0; c < sizeof(chains) / sizeof(chains[0]) && flags % 5 == 0; c++)
				rules_list(r, (enum nf_table)t, chains[c], flags, &out);
			if (out.oom || (out.len && (strlen(out.buf) != out.len ||
						    out.buf[out.len - 1] != '\n')))
				abort();
			sbuf_free(&out);
		}
}

static void one(const uint8_t *data, size_t size, uint8_t family)
{
	const struct rules_parse_opts opts = { .family = family };
	const struct rules_parse_opts with_counters = { .counters = true, .family = family };
	struct rules *r = NULL, *r2 = NULL;
	struct rules_error err;
	struct sbuf s1, s2;

	if (rules_parse_with(&r, (const char *)data, size, NULL, &opts, &err) != 0) {
		if (r || !err.message[0])
			abort();
		return;
	}
	walk(r, 1000000000ull);
	list(r);
	sbuf_init(&s1);
	sbuf_init(&s2);
	rules_save(r, true, &s1);
	if (s1.oom)
		abort();
	if (rules_parse_with(&r2, s1.buf, s1.len, NULL, &with_counters, &err) != 0)
		abort();  /* a save that does not load (as iptables-restore -c) */
	rules_save(r2, true, &s2);
	if (s1.len != s2.len || memcmp(s1.buf, s2.buf, s1.len) != 0)
		abort();  /* not a fixed point */
	walk(r2, 2000000000ull);
	sbuf_free(&s1);
	sbuf_free(&s2);
	rules_free(r);
	rules_free(r2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, NF_V4);
	one(data, size, NF_V6);
	return 0;
}
