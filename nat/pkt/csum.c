/* SPDX-License-Identifier: MIT */
/*
 * Internet checksums (RFC 1071) and their incremental update (RFC 1624).
 *
 * csum_add() sums native-order 32-bit words and swaps the folded result to
 * big-endian order at the end (RFC 1071 §2(B): the one's-complement sum is
 * byte-order independent), so the loop has no per-word byte swap.
 */
#include <netinet/in.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/proto.h"

/* Fold to 16 bits with end-around carry; not complemented. */
static uint16_t fold16(uint64_t s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

uint32_t csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t acc = 0;
	uint16_t s;

	while (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		acc += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* A trailing odd byte is the high byte of a zero-padded word. */
		uint16_t w = 0;

		memcpy(&w, p, 1);
		acc += w;
	}
	s = fold16(acc);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = (uint16_t)(s << 8 | s >> 8);
#endif
	acc = (uint64_t)sum + s;
	return (uint32_t)((acc & 0xffffffff) + (acc >> 32));
}

uint16_t csum_fold(uint32_t sum)
{
	return (uint16_t)~fold16(sum);
}

uint32_t csum_pseudo(uint32_t saddr, uint32_t daddr, uint8_t proto, uint16_t len)
{
	return (saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) +
	       (daddr & 0xffff) + proto + len;
}

uint32_t csum_pseudo6(const uint8_t *saddr16, const uint8_t *daddr16, uint8_t proto,
		      uint32_t len)
{
	uint64_t s = (uint64_t)csum_add(0, saddr16, 16) + csum_add(0, daddr16, 16) +
		     (len >> 16) + (len & 0xffff) + proto;

	return fold16(s);
}

/* Sum of len bytes with the 16-bit field at off (even) left out. */
static uint32_t sum_skip(const uint8_t *buf, size_t len, size_t off)
{
	if (len < off + 2)
		return csum_add(0, buf, len);
	return csum_add(csum_add(0, buf, off), buf + off + 2, len - off - 2);
}

uint16_t csum_ip(const uint8_t *hdr, size_t hlen)
{
	return csum_fold(sum_skip(hdr, hlen, IP4H_CSUM));
}

uint16_t csum_l4(uint32_t saddr, uint32_t daddr, uint8_t proto,
		 const uint8_t *l4, size_t len)
{
	uint64_t sum = csum_pseudo(saddr, daddr, proto, (uint16_t)len);
	uint16_t c;

	if (proto == IPPROTO_TCP)
		sum += sum_skip(l4, len, TCPH_CSUM);
	else if (proto == IPPROTO_UDP)
		sum += sum_skip(l4, len, UDPH_CSUM);
	else
		sum += csum_add(0, l4, len);
	c = (uint16_t)~fold16(sum);
	if (proto == IPPROTO_UDP && c == 0)
		return 0xffff;
	return c;
}

uint16_t csum_l4_6(const uint8_t *saddr16, const uint8_t *daddr16, uint8_t proto,
		   const uint8_t *l4, size_t len)
{
	uint64_t sum = csum_pseudo6(saddr16, daddr16, proto, (uint32_t)len);
	uint16_t c;

	if (proto == IPPROTO_TCP)
		sum += sum_skip(l4, len, TCPH_CSUM);
	else if (proto == IPPROTO_UDP)
		sum += sum_skip(l4, len, UDPH_CSUM);
	else
		sum += sum_skip(l4, len, ICMPH_CSUM);  /* ICMPv6 */
	c = (uint16_t)~fold16(sum);
	if (proto == IPPROTO_UDP && c == 0)
		return 0xffff;
	return c;
}

uint16_t csum_icmp(const uint8_t *icmp, size_t len)
{
	return csum_fold(sum_skip(icmp, len, ICMPH_CSUM));
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one or two 16-bit words. */
void csum_replace2(uint8_t *field, uint16_t old, uint16_t new_)
{
	uint32_t s = (uint16_t)~be16_get(field);

	s += (uint16_t)~old;
	s += new_;
	be16_put(field, (uint16_t)~fold16(s));
}

void csum_replace4(uint8_t *field, uint32_t old, uint32_t new_)
{
	uint32_t s = (uint16_t)~be16_get(field);

	s += (uint16_t)~(old >> 16) + (uint16_t)~old;
	s += (new_ >> 16) + (new_ & 0xffff);
	be16_put(field, (uint16_t)~fold16(s));
}

void csum_replace2_udp(uint8_t *field, uint16_t old, uint16_t new_)
{
	if (!be16_get(field))
		return;
	csum_replace2(field, old, new_);
	if (!be16_get(field))
		be16_put(field, 0xffff);
}

void csum_replace4_udp(uint8_t *field, uint32_t old, uint32_t new_)
{
	if (!be16_get(field))
		return;
	csum_replace4(field, old, new_);
	if (!be16_get(field))
		be16_put(field, 0xffff);
}

void csum_replace16(uint8_t *field, const uint8_t *old16, const uint8_t *new16)
{
	uint64_t s = (uint16_t)~be16_get(field);

	for (int i = 0; i < 16; i += 2)
		s += (uint16_t)~be16_get(old16 + i) + (uint64_t)be16_get(new16 + i);
	be16_put(field, (uint16_t)~fold16(s));
}

void csum_replace16_udp(uint8_t *field, const uint8_t *old16, const uint8_t *new16)
{
	if (!be16_get(field))
		return;
	csum_replace16(field, old16, new16);
	if (!be16_get(field))
		be16_put(field, 0xffff);
}
