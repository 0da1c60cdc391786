/* SPDX-License-Identifier: MIT */
/* One send queue to the uplink: see uplink_tx.h. */
#include "gw/uplink_tx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "gw/handover.h"
#include "gw/log.h"
#include "gw/uplink.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/proto.h"
#include "nat/pkt/vnet.h"

enum { TX_SNDBUF = 4 << 20 };

/* raw socket; packet socket (bypass); packet socket with the virtio
 * header, through the device's queue (TCP, so that a flow's segments and
 * its super-packets keep their order); the IPv6 raw socket */
enum tx_way { WAY_RAW, WAY_PACKET, WAY_QUEUE, WAY_RAW6 };

/* A raw socket's destination, either family. */
union uplink_tx_addr {
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

/* The virtio header of a frame that is neither GSO nor partial. */
static const uint8_t plain_vnet[VNET_HLEN];

/* ---- the IP header ------------------------------------------------------ */

/* What ip_select_ident gives a raw socket's packet without an ID and DF:
 * the next value of a counter chosen by keyed hash of the addresses and
 * protocol (the kernel's ip_idents; its counters start random too). */
static uint16_t next_id(struct uplink_tx *t, const uint8_t *ip)
{
	uint8_t in[9], h[crypto_shorthash_BYTES];

	memcpy(in, ip + IP4H_SADDR, 4);
	memcpy(in + 4, ip + IP4H_DADDR, 4);
	in[8] = ip[IP4H_PROTO];
	crypto_shorthash(h, in, sizeof(in), t->id_key);
	return t->id[h[0]]++;
}

void uplink_tx_ip_fill(struct uplink_tx *t, uint8_t *ip, size_t len)
{
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;

	be16_put(ip + IP4H_TOTLEN, (uint16_t)len);
	if (!be16_get(ip + IP4H_ID) && !(be16_get(ip + IP4H_FRAG) & IP4_DF))
		be16_put(ip + IP4H_ID, next_id(t, ip));
	be16_put(ip + IP4H_CSUM, 0);
	be16_put(ip + IP4H_CSUM, csum_ip(ip, ihl));
}

/* ---- the queue ---------------------------------------------------------- */

static uint8_t *slot_at(const struct uplink_tx *t, unsigned i)
{
	return t->buf + (size_t)i * t->stride + UPLINK_TX_HEAD;
}

uint8_t *uplink_send_slot(struct uplink_tx *t)
{
	return t->count < UPLINK_TX_BATCH ? slot_at(t, t->count) : NULL;
}

/* The packet socket when it can send p as the raw socket would, with the
 * next hop's MAC in mac. */
static enum tx_way way4(struct uplink_tx *t, const uint8_t *ip, size_t len, uint8_t mac[6])
{
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;
	uint32_t src = be32_get(ip + IP4H_SADDR), dst = be32_get(ip + IP4H_DADDR);

	if (t->xfd < 0)
		return WAY_RAW;
	/* what the kernel decides: refuse, fill in, or send to no neighbour */
	if (ihl < IP4H_LEN || ihl > len || len > uplink_tx_mtu(t) || !src || dst >= 0xe0000000u)
		return WAY_RAW;
	switch (neigh_lookup(&t->nh, dst, mac)) {
	case NEIGH_MAC:
		return t->gfd >= 0 && ip[IP4H_PROTO] == IPPROTO_TCP ? WAY_QUEUE : WAY_PACKET;
	case NEIGH_CONFIRM:
		t->st.confirm++;
		return WAY_RAW;
	case NEIGH_RAW:
		break;
	}
	t->st.no_neigh++;
	return WAY_RAW;
}

/* The same for IPv6.  TCP right after the fixed header takes the queue
 * (gro joins only that); behind extension headers it takes the bypass. */
static enum tx_way way6(struct uplink_tx *t, const uint8_t *ip, size_t len, uint8_t mac[6])
{
	union nf_addr dst;
	static const uint8_t any[16];

	if (t->xfd < 0)
		return WAY_RAW6;
	memcpy(dst.b, ip + IP6H_DADDR, 16);
	/* what the kernel decides: refuse, or send to no neighbour
	 * (multicast; an unspecified source) */
	if (len > uplink_tx_mtu(t) || dst.b[0] == 0xff || !memcmp(ip + IP6H_SADDR, any, 16))
		return WAY_RAW6;
	switch (neigh_lookup6(&t->nh, &dst, mac)) {
	case NEIGH_MAC:
		return t->gfd >= 0 && ip[IP6H_NEXT] == IPPROTO_TCP ? WAY_QUEUE : WAY_PACKET;
	case NEIGH_CONFIRM:
		t->st.confirm++;
		return WAY_RAW6;
	case NEIGH_RAW:
		break;
	}
	t->st.no_neigh++;
	return WAY_RAW6;
}

/* The raw sockets' message i: the packet at p, to its destination. */
static void raw_msg(struct uplink_tx *t, unsigned i, uint8_t *p, size_t len, bool v6)
{
	union uplink_tx_addr *a = &t->addr[i];

	if (v6) {
		const uint8_t *d = p + IP6H_DADDR;

		a->v6 = (struct sockaddr_in6){ .sin6_family = AF_INET6 };
		memcpy(&a->v6.sin6_addr, d, 16);
		/* link-local and link-scope multicast: the uplink's (the bound
		 * device would be taken anyway) */
		if ((d[0] == 0xfe && (d[1] & 0xc0) == 0x80) || (d[0] == 0xff && (d[1] & 0xf) == 2))
			a->v6.sin6_scope_id = (uint32_t)t->nh.ifindex;
	} else {
		a->v4 = (struct sockaddr_in){ .sin_family = AF_INET };
		memcpy(&a->v4.sin_addr, p + IP4H_DADDR, 4);
	}
	t->iov[2 * i] = (struct iovec){ p, len };
	t->msg[i].msg_hdr = (struct msghdr){
		.msg_name = a, .msg_namelen = v6 ? sizeof(a->v6) : sizeof(a->v4),
		.msg_iov = &t->iov[2 * i], .msg_iovlen = 1,
	};
}

void uplink_send_commit(struct uplink_tx *t, size_t len)
{
	unsigned i = t->count;
	uint8_t *p, mac[6];
	bool v6;

	if (i >= UPLINK_TX_BATCH || len < IP4H_LEN || len > t->slot) {
		t->st.drop++;
		return;
	}
	p = slot_at(t, i);
	v6 = p[0] >> 4 == 6;
	if (v6) {
		/* the payload length as the IPv4 total length: from len */
		if (len < IP6H_LEN || len - IP6H_LEN > IP6H_MAXPLEN || t->rfd6 < 0) {
			t->st.drop++;
			return;
		}
		be16_put(p + IP6H_PLEN, (uint16_t)(len - IP6H_LEN));
		t->way[i] = (uint8_t)way6(t, p, len, mac);
	} else if (p[0] >> 4 == 4) {
		t->way[i] = (uint8_t)way4(t, p, len, mac);
	} else {
		t->way[i] = WAY_RAW; /* the kernel refuses it, as before */
	}
	if (t->way[i] == WAY_PACKET || t->way[i] == WAY_QUEUE) {
		uint8_t *eth = p - ETHH_LEN;
		bool vh = t->way[i] == WAY_QUEUE;

		if (!v6)
			uplink_tx_ip_fill(t, p, len);
		memcpy(eth, mac, 6);
		memcpy(eth + 6, t->mac, 6);
		be16_put(eth + ETHH_TYPE, v6 ? ETYPE_IPV6 : ETYPE_IP);
		t->iov[2 * i] = (struct iovec){ (void *)(uintptr_t)plain_vnet, VNET_HLEN };
		t->iov[2 * i + 1] = (struct iovec){ eth, ETHH_LEN + len };
		t->msg[i].msg_hdr = (struct msghdr){
			.msg_name = &t->ll[v6], .msg_namelen = sizeof(*t->ll),
			.msg_iov = &t->iov[2 * i + !vh], .msg_iovlen = vh ? 2 : 1,
		};
	} else {
		raw_msg(t, i, p, len, v6);
	}
	t->count++;
}

/* Messages [from, to) on fd; what is refused is counted and skipped. */
static unsigned send_run(struct uplink_tx *t, int fd, unsigned from, unsigned to)
{
	unsigned sent = 0;

	while (from < to) {
		int n = sendmmsg(fd, t->msg + from, to - from, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = 0;
		}
		from += (unsigned)n;
		sent += (unsigned)n;
		if (from < to) { /* this one was refused: drop it, go on */
			t->st.drop++;
			from++;
		}
	}
	return sent;
}

/* The segments held in t->gro, messages [from, to) of the queue, as one
 * frame: a GSO super-packet the kernel cuts again.  Fewer than two are
 * left to go as they are (false).  Else the plain messages before them,
 * [*plain, from), go first, and *plain moves past them. */
static bool send_joined(struct uplink_tx *t, unsigned from, unsigned to, unsigned *plain,
			unsigned *sent)
{
	unsigned n = t->gro.len ? t->gro.n : 0; /* n stays after a finish */
	uint8_t vh[VNET_HLEN], *eth = t->grobuf;
	struct vnet_hdr h;
	size_t len = gro_finish(&t->gro, &h);
	struct iovec iov[2] = { { vh, sizeof(vh) }, { eth, ETHH_LEN + len } };
	struct msghdr m = { .msg_namelen = sizeof(*t->ll), .msg_iov = iov, .msg_iovlen = 2 };

	if (n < 2)
		return false;
	m.msg_name = t->msg[from].msg_hdr.msg_name; /* the family's destination */
	/* csum_start and hdr_len count from the Ethernet header here */
	h.csum_start += ETHH_LEN;
	h.hdr_len += ETHH_LEN;
	vnet_build(&h, vh);
	memcpy(eth, slot_at(t, from) - ETHH_LEN, ETHH_LEN);
	*sent += send_run(t, t->gfd, *plain, from);
	*plain = to;
	for (;;) {
		if (sendmsg(t->gfd, &m, MSG_DONTWAIT) >= 0) {
			*sent += n;
			t->st.gso++;
			t->st.gso_segs += n;
		} else if (errno == EINTR) {
			continue;
		} else {
			t->st.drop += n;
		}
		return true;
	}
}

/* TCP messages [from, to) on the queued packet socket, consecutive
 * segments of a flow joined into super-packets (nat/pkt/gro checks that
 * they cut back byte for byte). */
static unsigned send_queued(struct uplink_tx *t, unsigned from, unsigned to)
{
	unsigned plain = from, held = from, sent = 0;

	for (unsigned i = from; i < to; i++) {
		const uint8_t *ip = slot_at(t, i);
		size_t len = t->iov[2 * i + 1].iov_len - ETHH_LEN;
		enum gro_res r = gro_add(&t->gro, ip, len);

		if (r == GRO_HELD) {
			if (t->gro.n == 1)
				held = i;
			continue;
		}
		(void)send_joined(t, held, i, &plain, &sent);
		if (r == GRO_FLUSH && gro_add(&t->gro, ip, len) == GRO_HELD)
			held = i;
	}
	(void)send_joined(t, held, to, &plain, &sent);
	return sent + send_run(t, t->gfd, plain, to);
}

unsigned uplink_flush(struct uplink_tx *t)
{
	unsigned i = 0, sent = 0;

	while (i < t->count) {
		unsigned end = i + 1, n;

		while (end < t->count && t->way[end] == t->way[i])
			end++;
		if (t->way[i] == WAY_PACKET) {
			n = send_run(t, t->xfd, i, end);
			t->st.packet += n;
		} else if (t->way[i] == WAY_QUEUE) {
			n = send_queued(t, i, end);
			t->st.packet += n;
		} else {
			n = send_run(t, t->way[i] == WAY_RAW6 ? t->rfd6 : t->rfd, i, end);
			t->st.raw += n;
		}
		sent += n;
		i = end;
	}
	t->count = 0;
	return sent;
}

unsigned uplink_send_batch(struct uplink_tx *t, const struct uplink_pkt *pkts, unsigned n)
{
	unsigned sent = 0;

	for (unsigned i = 0; i < n; i++) {
		uint8_t *s = uplink_send_slot(t);

		if (!s) {
			sent += uplink_flush(t);
			s = uplink_send_slot(t);
		}
		if (pkts[i].len > t->slot) {
			t->st.drop++;
			continue;
		}
		memcpy(s, pkts[i].data, pkts[i].len);
		uplink_send_commit(t, pkts[i].len);
	}
	return sent + uplink_flush(t);
}

int uplink_tx_neigh_read(struct uplink_tx *t)
{
	return neigh_read(&t->nh);
}

/* ---- open / close ------------------------------------------------------- */

/* A raw socket of family af bound to the uplink into *fd.  IPPROTO_RAW
 * implies the header included, for IPv6 too (IPV6_HDRINCL): the kernel
 * sends the IPv6 header as it is. */
static int open_raw(int *fd, int af, const char *ifname, unsigned q)
{
	int sndbuf = TX_SNDBUF, zero = 0;

	*fd = handover_take(af == AF_INET ? "raw4" : "raw6", q);
	if (*fd >= 0)
		return 0; /* bound and sized by the image that opened it */
	*fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
	if (*fd < 0)
		return -errno;
	if (setsockopt(*fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0)
		return -errno;
	if (setsockopt(*fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		(void)setsockopt(*fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	(void)setsockopt(*fd, SOL_SOCKET, SO_RCVBUF, &zero, sizeof(zero));
	return 0;
}

/* Why the uplink must keep to the raw socket, or NULL: it has no ARP. */
static const char *no_arp(const char *ifname, const uint8_t mac[6])
{
	static const uint8_t zero[6];
	struct ifreq ifr = { 0 };
	const char *why = NULL;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return "no socket to ask";
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		why = "no interface flags";
	else if (ifr.ifr_flags & (IFF_NOARP | IFF_POINTOPOINT | IFF_LOOPBACK))
		why = "no ARP (point-to-point, loopback or NOARP)";
	else if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		why = "not Ethernet";
	else if (!memcmp(mac, zero, 6))
		why = "no MAC";
	close(fd);
	return why;
}

int uplink_take_nothing(int fd)
{
	struct sock_filter none = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog fp = { .len = 1, .filter = &none };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0 ? -errno : 0;
}

int uplink_tx_seal(int fd)
{
	int one = 1, rc = uplink_take_nothing(fd);
	socklen_t len = sizeof(one);

	if (rc == -EPERM) {
		/* locked already (a re-exec's socket), as the kernel says */
		one = 0;
		if (getsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &one, &len) < 0)
			return -errno;
		return one ? 0 : -EPERM;
	}
	if (rc < 0)
		return rc;
	if (setsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

/* The packet socket, not bound to a protocol (it receives nothing), frames
 * straight to the driver. */
static int open_packet(struct uplink_tx *t, unsigned q)
{
	int one = 1, sndbuf = TX_SNDBUF, zero = 0, rc;
	bool handed;

	t->xfd = handover_take("xmit", q);
	handed = t->xfd >= 0;
	if (!handed)
		t->xfd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->xfd < 0)
		return -errno;
	rc = uplink_tx_seal(t->xfd);
	if (rc < 0)
		return rc;
	if (!handed && setsockopt(t->xfd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
		return -errno;
	if (!handed && setsockopt(t->xfd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		(void)setsockopt(t->xfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	(void)setsockopt(t->xfd, SOL_SOCKET, SO_RCVBUF, &zero, sizeof(zero));
	/* super-packets through the device's queue: when the device cannot
	 * segment them, the kernel's GSO does (a bypass would drop them) */
	t->grobuf = malloc(ETHH_LEN + GRO_MAX);
	t->gfd = handover_take("gso", q);
	if (t->gfd < 0 && !handed)
		t->gfd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->gfd >= 0 && (rc = uplink_tx_seal(t->gfd)) < 0)
		gw_log("uplink: sealing the TCP super-packet socket: %s: TCP is sent unjoined",
		       strerror(-rc));
	if (!t->grobuf || t->gfd < 0 || rc < 0 ||
	    setsockopt(t->gfd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) {
		if (t->gfd >= 0)
			close(t->gfd);
		t->gfd = -1;
	} else {
		if (setsockopt(t->gfd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
			(void)setsockopt(t->gfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		(void)setsockopt(t->gfd, SOL_SOCKET, SO_RCVBUF, &zero, sizeof(zero));
		gro_init(&t->gro, t->grobuf + ETHH_LEN, GRO_MAX);
		t->gro.trusted = true; /* peers' packets, authenticated (gro.h) */
	}
	return 0;
}

int uplink_tx_init(struct uplink_tx *t, int ifindex, unsigned mtu, const uint8_t mac[static 6])
{
	memset(t, 0, sizeof(*t));
	neigh_init(&t->nh, ifindex);
	t->rfd = t->rfd6 = t->xfd = t->gfd = -1;
	t->mtu = mtu;
	t->slot = mtu < 1500 ? 1500 : mtu;
	t->stride = (UPLINK_TX_HEAD + t->slot + 63) & ~(size_t)63;
	memcpy(t->mac, mac, 6);
	t->msg = calloc(UPLINK_TX_BATCH, sizeof(*t->msg));
	t->iov = calloc(2 * UPLINK_TX_BATCH, sizeof(*t->iov));
	t->addr = calloc(UPLINK_TX_BATCH, sizeof(*t->addr));
	t->way = calloc(UPLINK_TX_BATCH, 1);
	t->ll = calloc(2, sizeof(*t->ll));
	t->buf = aligned_alloc(64, (size_t)UPLINK_TX_BATCH * t->stride);
	if (!t->msg || !t->iov || !t->addr || !t->way || !t->ll || !t->buf) {
		uplink_tx_close(t);
		return -ENOMEM;
	}
	/* the frame's protocol (skb->protocol): the kernel's GSO and the
	 * virtio header's gso_type are checked against it */
	t->ll[0] = (struct sockaddr_ll){
		.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = ifindex,
	};
	t->ll[1] = (struct sockaddr_ll){
		.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IPV6), .sll_ifindex = ifindex,
	};
	randombytes_buf(t->id, sizeof(t->id));
	randombytes_buf(t->id_key, sizeof(t->id_key));
	return 0;
}

int uplink_tx_open(struct uplink_tx *t, const char *ifname, int ifindex, unsigned mtu,
		   const uint8_t mac[static 6], bool raw_only, unsigned q)
{
	const char *why = raw_only ? "RawSend" : no_arp(ifname, mac);
	int rc = uplink_tx_init(t, ifindex, mtu, mac);

	if (rc < 0)
		return rc;
	rc = open_raw(&t->rfd, AF_INET, ifname, q);
	if (rc < 0)
		goto fail;
	rc = open_raw(&t->rfd6, AF_INET6, ifname, q);
	if (rc < 0) { /* IPv6 off in the kernel: IPv6 packets are dropped */
		gw_log("uplink %s: IPv6 raw socket: %s: IPv6 packets will be dropped", ifname,
		       strerror(-rc));
		if (t->rfd6 >= 0)
			close(t->rfd6);
		t->rfd6 = -1;
	}
	if (why) {
		if (!raw_only)
			gw_log("uplink %s: %s: sending by the raw socket only", ifname, why);
		return 0;
	}
	rc = open_packet(t, q);
	if (rc == 0)
		rc = neigh_open(&t->nh, ifindex);
	if (rc < 0) {
		gw_log("uplink %s: packet socket for sending: %s: by the raw socket only", ifname,
		       strerror(-rc));
		if (t->xfd >= 0)
			close(t->xfd);
		if (t->gfd >= 0)
			close(t->gfd);
		t->xfd = t->gfd = -1;
	}
	return 0;
fail:
	uplink_tx_close(t);
	return rc;
}

void uplink_tx_close(struct uplink_tx *t)
{
	if (t->rfd >= 0)
		close(t->rfd);
	if (t->rfd6 >= 0)
		close(t->rfd6);
	if (t->xfd >= 0)
		close(t->xfd);
	if (t->gfd >= 0)
		close(t->gfd);
	t->rfd = t->rfd6 = t->xfd = t->gfd = -1;
	neigh_close(&t->nh);
	free(t->msg);
	free(t->iov);
	free(t->addr);
	free(t->way);
	free(t->ll);
	free(t->buf);
	free(t->grobuf);
	t->grobuf = NULL;
	t->msg = NULL;
	t->iov = NULL;
	t->addr = NULL;
	t->way = t->buf = NULL;
	t->ll = NULL;
}
