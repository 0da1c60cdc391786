/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: gw trace's packet syntax (nat/trace.c), what a user types
 * after "gw trace IFACE".  The input is the text (up to a NUL byte).
 * Properties:
 *   - trace_spec_parse accepts, or refuses with -EINVAL and a message,
 *     without reading past the text (ASan: an exact heap copy);
 *   - an accepted spec builds (trace_build, an ICMP error quoting a UDP
 *     packet) into a packet within the buffer, of the spec's family,
 *     protocol and addresses when pkt_parse takes it;
 *   - trace_format of that packet is text the parser takes again, naming
 *     the same family, protocol and addresses.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"
#include "nat/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* a UDP datagram 10.8.0.2:5353 > 192.0.2.9:53 to quote in ICMP errors */
static const uint8_t quote[28] = {
	0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 8, 0, 2, 192, 0, 2, 9,
	0x14, 0xe9, 0, 53, 0, 8, 0, 0,
};

static bool same(const struct trace_spec *a, const struct trace_spec *b)
{
	return a->family == b->family && a->proto == b->proto &&
	       !memcmp(&a->src, &b->src, sizeof(a->src)) && !memcmp(&a->dst, &b->dst, sizeof(a->dst));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_spec s, s2;
	char err[128] = "", *text;
	uint8_t out[2048];
	struct pkt p;
	struct sbuf f;
	size_t len;
	int ret;

	if (size > 4096)
		return 0;
	text = malloc(size + 1);
	CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';
	ret = trace_spec_parse(&s, text, err, sizeof(err));
	free(text);
	if (ret) {
		CHECK(ret == -EINVAL && err[0] && memchr(err, 0, sizeof(err)));
		return 0;
	}
	CHECK(s.family == NF_V4 || s.family == NF_V6);
	len = trace_build(&s, 1000, 2000, 7, quote, sizeof(quote), out, sizeof(out));
	CHECK(len <= sizeof(out));
	if (!len || pkt_parse(&p, out, len) != PKT_OK)
		return 0;
	CHECK(p.outer.family == s.family && p.outer.proto == s.proto);
	CHECK(!memcmp(&p.outer.saddr, &s.src, sizeof(s.src)) &&
	      !memcmp(&p.outer.daddr, &s.dst, sizeof(s.dst)));
	sbuf_init(&f);
	trace_format(&p, &f);
	CHECK(!f.oom && f.len);
	ret = trace_spec_parse(&s2, f.buf, err, sizeof(err));
	CHECK(ret == 0 && same(&s, &s2));
	sbuf_free(&f);
	return 0;
}
