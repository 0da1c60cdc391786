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

void sysctl_ports_add(uint8_t map[static SYSCTL_PORTMAP_BYTES], uint16_t lo, uint16_t hi)
{
	for (unsigned p = lo; p <= hi; p++)
		set_bit(map, p, true);
}

bool sysctl_ports_merge(uint8_t map[static SYSCTL_PORTMAP_BYTES],
			uint8_t ours[static SYSCTL_PORTMAP_BYTES],
			const uint8_t want[static SYSCTL_PORTMAP_BYTES])
{
	bool changed = false;

	for (unsigned p = 0; p < 65536; p++) {
		bool w = bit(want, p), m = bit(map, p), o = bit(ours, p);

		if (w && !m) {
			/* not reserved (or no longer, though gw had added it) */
			set_bit(map, p, true);
			set_bit(ours, p, true);
			changed = true;
		} else if (!w && o) {
			if (m) {
				set_bit(map, p, false);
				changed = true;
			}
			set_bit(ours, p, false);
		}
	}
	return changed;
}

/* The sysctl could not be written (a container runtime mounts /proc/sys
 * read-only; gw without CAP_NET_ADMIN over the namespace): says which ports
 * it lacks and the whole value to preset, so that gw needs no write. */
static void explain_unwritable(const uint8_t *before, const uint8_t *after, int err)
{
	size_t cap = 65536 * 7;
	uint8_t *lack = calloc(1, SYSCTL_PORTMAP_BYTES);
	char *miss = malloc(cap), *all = malloc(cap);

	if (!lack || !miss || !all)
		goto out;
	for (unsigned i = 0; i < SYSCTL_PORTMAP_BYTES; i++)
		lack[i] = after[i] & (uint8_t)~before[i];
	if (sysctl_ports_format(lack, miss, cap) < 0 || sysctl_ports_format(after, all, cap) < 0)
		goto out;
	gw_err("net.ipv4.ip_local_reserved_ports cannot be written here (%s) and lacks "
	       "ports %s that gw reserves: preset it before gw starts, in gw's network "
	       "namespace: net.ipv4.ip_local_reserved_ports=%s (podman/docker run --sysctl, "
	       "compose sysctls:, quadlet Sysctl=, or sysctl -w)",
	       strerror(-err), miss, all);
out:
	free(lack);
	free(miss);
	free(all);
}

int sysctl_ports_set(struct sysctl_ports *s, const uint8_t want[static SYSCTL_PORTMAP_BYTES])
{
	uint8_t *map = malloc(SYSCTL_PORTMAP_BYTES), *ours = calloc(1, SYSCTL_PORTMAP_BYTES);
	uint8_t *before = malloc(SYSCTL_PORTMAP_BYTES);
	int rc;

	if (!map || !ours || !before) {
		rc = -ENOMEM;
		goto out;
	}
	if (s->ours)
		memcpy(ours, s->ours, SYSCTL_PORTMAP_BYTES);
	rc = load(map);
	if (rc == 0)
		memcpy(before, map, SYSCTL_PORTMAP_BYTES);
	/* nothing to add (preset, as in a container) writes nothing */
	if (rc == 0 && sysctl_ports_merge(map, ours, want)) {
		rc = store(map);
		if (rc == -EROFS || rc == -EACCES || rc == -EPERM)
			explain_unwritable(before, map, rc);
	}
	if (rc == 0) {
		free(s->ours);
		s->ours = ours;
		ours = NULL;
	}
out:
	free(map);
	free(ours);
	free(before);
	return rc;
}

int sysctl_ports_release(struct sysctl_ports *s)
{
	uint8_t *none;
	int rc;

	if (!s->ours)
		return 0;
	none = calloc(1, SYSCTL_PORTMAP_BYTES);
	rc = none ? sysctl_ports_set(s, none) : -ENOMEM;
	free(none);
	free(s->ours);
	s->ours = NULL;
	return rc;
}

int sysctl_local_port_range(uint16_t *lo, uint16_t *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	unsigned a, b;
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "%u %u", &a, &b);
	fclose(f);
	if (n != 2 || a > b || b > 65535)
		return -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
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
		gw_warn("warning: a %s socket holds port %u in NatPorts %u-%u "
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
