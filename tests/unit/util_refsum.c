/* SPDX-License-Identifier: MIT */
#include "tests/unit/util_refsum.h"

uint32_t ref_sum(uint32_t s, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)b[i] << 8 | (i + 1 < n ? b[i + 1] : 0);
	return s;
}

uint16_t ref_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

uint32_t ref_pseudo(const uint8_t *p, uint8_t proto, size_t l4len)
{
	uint32_t s = proto + (uint32_t)l4len;

	return p[0] >> 4 == 6 ? ref_sum(s, p + 8, 32) : ref_sum(s, p + 12, 8);
}

bool ref_l4_ok(const uint8_t *p, size_t len, size_t l3, uint8_t proto)
{
	return ref_fold(ref_sum(ref_pseudo(p, proto, len - l3), p + l3, len - l3)) == 0xffff;
}
