/* SPDX-License-Identifier: MIT */
#include "gw/sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw/log.h"

static const char RESERVED[] = "/proc/sys/net/ipv4/ip_local_reserved_ports";

static bool bit(const uint8_t *m, unsigned i)
{
	return m[i / 8] >> (i % 8) & 1;
}

static void set_bit(uint8_t *m, unsigned i, bool v)
{
	if (v)
		m[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		m[i / 8] &= (uint8_t)~(1u << (i % 8));
}

int sysctl_ports_parse(const char *text, uint8_t map[static SYSCTL_PORTMAP_BYTES])
{
	const char *p = text;

	memset(map, 0, SYSCTL_PORTMAP_BYTES);
	for (;;) {
		unsigned long a, b;
		char *end;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			return 0;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (a > 65535 || b > 65535 || b < a)
			return -EINVAL;
		for (; a <= b; a++)
			set_bit(map, (unsigned)a, true);
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
	}
}

int sysctl_ports_format(const uint8_t map[static SYSCTL_PORTMAP_BYTES], char *out, size_t len)
{
	size_t at = 0;
	unsigned i = 0;

	if (len == 0)
		return -ENOSPC;
	out[0] = '\0';
	while (i < 65536) {
		unsigned j;
		int w;

		if (!bit(map, i)) {
			i++;
			continue;
		}
		for (j = i; j + 1 < 65536 && bit(map, j + 1); j++)
			;
		if (j == i)
			w = snprintf(out + at, len - at, "%s%u", at ? "," : "", i);
		else
			w = snprintf(out + at, len - at, "%s%u-%u", at ? "," : "", i, j);
		if (w < 0 || (size_t)w >= len - at)
			return -ENOSPC;
		at += (size_t)w;
		i = j + 1;
	}
	return 0;
}

/* The sysctl's current map. */
static int load(uint8_t *map)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int fd, rc;

	if (!buf)
		return -ENOMEM;
	fd = open(RESERVED, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		free(buf);
		return rc;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	rc = sysctl_ports_parse(buf, map);
out:
	close(fd);
	free(buf);
	return rc;
}

/* Writes the map whole (one open: the kernel ORs the pieces of a long write
 * into the bitmap it cleared at offset 0). */
static int store(const uint8_t *map)
{
	size_t cap = 65536 * 7, len, off = 0;
	char *buf = malloc(cap);
	int fd, rc = 0;

	if (!buf)
		return -ENOMEM;
	rc = sysctl_ports_format(map, buf, cap - 1);
	if (rc < 0)
		goto out_free;
	len = strlen(buf);
	buf[len++] = '\n';
	fd = open(RESERVED, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out_free;
	}
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0 && !rc)
		rc = -errno;
out_free:
	free(buf);
	return rc;
}

int sysctl_ports_reserve(struct sysctl_ports *s, uint16_t lo, uint16_t hi)
{
	uint8_t *map;
	unsigned p;
	bool any = false;
	int rc;

	memset(s, 0, sizeof(*s));
	if (lo > hi)
		return -EINVAL;
	map = malloc(SYSCTL_PORTMAP_BYTES);
	s->ours = calloc(1, ((size_t)hi - lo) / 8 + 1);
	if (!map || !s->ours) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = load(map);
	if (rc < 0)
		goto fail;
	for (p = lo; p <= hi; p++) {
		if (!bit(map, p)) {
			set_bit(map, p, true);
			set_bit(s->ours, p - lo, true);
			any = true;
		}
	}
	rc = any ? store(map) : 0;
	if (rc < 0)
		goto fail;
	s->lo = lo;
	s->hi = hi;
	free(map);
	return 0;
fail:
	free(map);
	free(s->ours);
	s->ours = NULL;
	return rc;
}

int sysctl_ports_release(struct sysctl_ports *s)
{
	uint8_t *map;
	unsigned p;
	int rc;

	if (!s->ours)
		return 0;
	map = malloc(SYSCTL_PORTMAP_BYTES);
	if (!map)
		return -ENOMEM;
	rc = load(map);
	if (rc == 0) {
		for (p = s->lo; p <= s->hi; p++)
			if (bit(s->ours, p - s->lo))
				set_bit(map, p, false);
		rc = store(map);
	}
	free(map);
	free(s->ours);
	s->ours = NULL;
	return rc;
}

/* Scans one /proc/net table; tcp: only listeners (state 0A). */
static int scan(const char *path, bool tcp, uint16_t lo, uint16_t hi)
{
	char line[512];
	FILE *f = fopen(path, "re");
	int n = 0;

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) { /* the header */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char local[64], remote[64];
		unsigned port, st;
		char *colon;

		if (sscanf(line, "%*s %63s %63s %x", local, remote, &st) != 3)
			continue;
		colon = strrchr(local, ':');
		if (!colon || sscanf(colon + 1, "%x", &port) != 1)
			continue;
		if (port < lo || port > hi || (tcp && st != 0x0a))
			continue;
		gw_log("warning: a %s socket holds port %u in NatPorts %u-%u "
		       "(reserved ports still allow bind()): NAT-ed flows on it break",
		       path + sizeof("/proc/net/") - 1, port, lo, hi);
		n++;
	}
	fclose(f);
	return n;
}

int sysctl_ports_warn_taken(uint16_t lo, uint16_t hi)
{
	return scan("/proc/net/tcp", true, lo, hi) + scan("/proc/net/tcp6", true, lo, hi) +
	       scan("/proc/net/udp", false, lo, hi) + scan("/proc/net/udp6", false, lo, hi);
}
