/* SPDX-License-Identifier: MIT */
/*
 * nat/pkt/vnet: the virtio_net_hdr read and written for the TUN device and
 * the packet socket.  Expected bytes are laid out by hand from the kernel's
 * ABI (flags, gso_type, then hdr_len, gso_size, csum_start, csum_offset as
 * native 16-bit words), not through struct virtio_net_hdr.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nat/pkt/vnet.h"

static void put16(uint8_t *b, uint16_t v)
{
	memcpy(b, &v, 2); /* native order, as the kernel writes it */
}

static void raw(uint8_t b[VNET_HLEN], uint8_t flags, uint8_t type, uint16_t hdr_len,
		uint16_t gso_size, uint16_t start, uint16_t off)
{
	b[0] = flags;
	b[1] = type;
	put16(b + 2, hdr_len);
	put16(b + 4, gso_size);
	put16(b + 6, start);
	put16(b + 8, off);
}

static void test_parse_fields(void **state)
{
	uint8_t b[VNET_HLEN];
	struct vnet_hdr h;

	(void)state;
	/* NEEDS_CSUM, TCPv4 with the ECN bit */
	raw(b, 1, 0x81, 54, 1448, 20, 16);
	assert_int_equal(vnet_parse(&h, b), 0);
	assert_int_equal(h.kind, GSO_TCP4);
	assert_true(h.needs_csum);
	assert_int_equal(h.hdr_len, 54);
	assert_int_equal(h.gso_size, 1448);
	assert_int_equal(h.csum_start, 20);
	assert_int_equal(h.csum_offset, 16);

	/* a plain packet with a partial checksum */
	raw(b, 1, 0, 0, 0, 34, 6);
	assert_int_equal(vnet_parse(&h, b), 0);
	assert_int_equal(h.kind, 0);
	assert_true(h.needs_csum);
	assert_int_equal(h.csum_start, 34);
	assert_int_equal(h.csum_offset, 6);

	/* DATA_VALID (2) is not NEEDS_CSUM */
	raw(b, 2, 0, 0, 0, 0, 0);
	assert_int_equal(vnet_parse(&h, b), 0);
	assert_false(h.needs_csum);
}

static void test_parse_types(void **state)
{
	static const struct { uint8_t type; int ret; enum gso_kind kind; } t[] = {
		{ 0, 0, 0 }, { 0x80, 0, 0 }, { 1, 0, GSO_TCP4 }, { 4, 0, GSO_TCP6 },
		{ 0x84, 0, GSO_TCP6 }, { 5, 0, GSO_UDP4 },
		{ 3, -EPROTONOSUPPORT, 0 },	/* UFO: never asked for */
		{ 2, -EPROTONOSUPPORT, 0 }, { 6, -EPROTONOSUPPORT, 0 },
		{ 0x7f, -EPROTONOSUPPORT, 0 },
	};
	uint8_t b[VNET_HLEN];
	struct vnet_hdr h;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		raw(b, 0, t[i].type, 0, 0, 0, 0);
		assert_int_equal(vnet_parse(&h, b), t[i].ret);
		if (!t[i].ret)
			assert_int_equal(h.kind, t[i].kind);
	}
}

static void test_build(void **state)
{
	static const uint8_t zero[VNET_HLEN];
	uint8_t b[VNET_HLEN], want[VNET_HLEN];
	struct vnet_hdr h = { 0 }, back;

	(void)state;
	memset(b, 0xa5, sizeof(b));
	vnet_build(&h, b);
	assert_memory_equal(b, zero, VNET_HLEN);

	h = (struct vnet_hdr){ .kind = GSO_TCP6, .needs_csum = true, .gso_size = 1428,
			       .hdr_len = 72, .csum_start = 40, .csum_offset = 16 };
	vnet_build(&h, b);
	raw(want, 1, 4, 72, 1428, 40, 16);
	assert_memory_equal(b, want, VNET_HLEN);

	for (enum gso_kind k = 0; k <= GSO_UDP4; k++) {
		h.kind = k;
		vnet_build(&h, b);
		assert_int_equal(vnet_parse(&back, b), 0);
		assert_int_equal(back.kind, h.kind);
		assert_int_equal(back.needs_csum, h.needs_csum);
		assert_int_equal(back.gso_size, h.gso_size);
		assert_int_equal(back.hdr_len, h.hdr_len);
		assert_int_equal(back.csum_start, h.csum_start);
		assert_int_equal(back.csum_offset, h.csum_offset);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_types),
		cmocka_unit_test(test_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
