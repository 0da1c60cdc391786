/* SPDX-License-Identifier: MIT */
#include "crypto/messages.h"

uint32_t msg_get_le32(const uint8_t p[static 4])
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

void msg_put_le32(uint8_t p[static 4], uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t msg_get_le64(const uint8_t p[static 8])
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void msg_put_le64(uint8_t p[static 8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

enum msg_type msg_classify(const uint8_t *buf, size_t len)
{
	if (len < 4 || buf[1] || buf[2] || buf[3])
		return 0;
	switch (buf[0]) {
	case MSG_INITIATION:
		return len == MSG_INITIATION_LEN ? MSG_INITIATION : 0;
	case MSG_RESPONSE:
		return len == MSG_RESPONSE_LEN ? MSG_RESPONSE : 0;
	case MSG_COOKIE_REPLY:
		return len == MSG_COOKIE_REPLY_LEN ? MSG_COOKIE_REPLY : 0;
	case MSG_DATA:
		return len >= MSG_DATA_MIN_LEN ? MSG_DATA : 0;
	default:
		return 0;
	}
}
