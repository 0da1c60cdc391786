/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: gw/sysctl's port maps, the text of
 * net.ipv4.ip_local_reserved_ports as the kernel hands it over (or as
 * another program left it).  The input up to its first NUL byte is the
 * sysctl's text; what follows, the text of the ports gw wants.
 * Properties:
 *   - sysctl_ports_parse accepts or refuses (-EINVAL) without reading past
 *     the text (ASan: an exact heap copy);
 *   - an accepted map formats (sysctl_ports_format, the buffer gw's store
 *     uses) to text that parses to the same map, and formats to the same
 *     text again (the canonical form);
 *   - a buffer one byte short of the text is -ENOSPC, never a cut text;
 *   - sysctl_ports_merge of the wanted map leaves every wanted port
 *     reserved, gw's share exactly the wanted ports that were not reserved
 *     already (or its own), and nothing else changed; a second merge
 *     changes nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/sysctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { TEXT_CAP = 65536 * 7 };

static bool bit(const uint8_t *m, unsigned p)
{
	return m[p / 8] >> (p % 8) & 1;
}

static char *copy_text(const uint8_t *d, size_t n)
{
	char *t = malloc(n + 1);

	CHECK(t);
	memcpy(t, d, n);
	t[n] = '\0';
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t map[SYSCTL_PORTMAP_BYTES], again[SYSCTL_PORTMAP_BYTES],
		want[SYSCTL_PORTMAP_BYTES], ours[SYSCTL_PORTMAP_BYTES], before[SYSCTL_PORTMAP_BYTES];
	static char out[TEXT_CAP], out2[TEXT_CAP];
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	char *text = copy_text(data, tlen), *wtext;
	int ret = sysctl_ports_parse(text, map);
	size_t olen;

	free(text);
	CHECK(ret == 0 || ret == -EINVAL);
	if (ret)
		return 0;
	CHECK(sysctl_ports_format(map, out, sizeof(out)) == 0);
	olen = strlen(out);
	CHECK(sysctl_ports_parse(out, again) == 0 && !memcmp(map, again, sizeof(map)));
	CHECK(sysctl_ports_format(again, out2, sizeof(out2)) == 0 && !strcmp(out, out2));
	if (olen)
		CHECK(sysctl_ports_format(map, out2, olen) == -ENOSPC);
	CHECK(sysctl_ports_format(map, out2, olen + 1) == 0 && !strcmp(out, out2));

	if (!nul)
		return 0;
	wtext = copy_text(nul + 1, size - tlen - 1);
	ret = sysctl_ports_parse(wtext, want);
	free(wtext);
	if (ret)
		return 0;
	/* gw's share so far: every third reserved port (as if it had added
	 * them), a map of its own otherwise */
	memset(ours, 0, sizeof(ours));
	for (unsigned p = 0; p < 65536; p += 3)
		if (bit(map, p))
			ours[p / 8] |= (uint8_t)(1u << (p % 8));
	memcpy(before, map, sizeof(map));
	memcpy(again, ours, sizeof(ours));
	(void)sysctl_ports_merge(map, ours, want);
	for (unsigned p = 0; p < 65536; p++) {
		bool w = bit(want, p), was = bit(before, p), own = bit(again, p);

		if (w) {
			CHECK(bit(map, p));
			CHECK(bit(ours, p) == (!was || own));
		} else {
			CHECK(!bit(ours, p));
			CHECK(bit(map, p) == (was && !own));
		}
	}
	CHECK(!sysctl_ports_merge(map, ours, want));
	return 0;
}
