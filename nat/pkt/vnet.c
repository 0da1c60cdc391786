/* SPDX-License-Identifier: MIT */
#include "nat/pkt/vnet.h"

#include <assert.h>
#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* linux 5.19 */
#endif

static_assert(sizeof(struct virtio_net_hdr) == VNET_HLEN, "VNET_HLEN is the virtio_net_hdr");

int vnet_parse(struct vnet_hdr *h, const uint8_t buf[static VNET_HLEN])
{
	struct virtio_net_hdr vh;

	memcpy(&vh, buf, sizeof(vh));
	*h = (struct vnet_hdr){
		.needs_csum = vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.data_valid = vh.flags & VIRTIO_NET_HDR_F_DATA_VALID,
		.gso_size = vh.gso_size, .hdr_len = vh.hdr_len,
		.csum_start = vh.csum_start, .csum_offset = vh.csum_offset,
	};
	switch (vh.gso_type & (unsigned)~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE: return 0;
	case VIRTIO_NET_HDR_GSO_TCPV4: h->kind = GSO_TCP4; return 0;
	case VIRTIO_NET_HDR_GSO_TCPV6: h->kind = GSO_TCP6; return 0;
	case VIRTIO_NET_HDR_GSO_UDP_L4: h->kind = GSO_UDP4; return 0;
	default: return -EPROTONOSUPPORT;
	}
}

void vnet_build(const struct vnet_hdr *h, uint8_t out[static VNET_HLEN])
{
	struct virtio_net_hdr vh = {
		.flags = h->needs_csum ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0,
		.gso_size = h->gso_size, .hdr_len = h->hdr_len,
		.csum_start = h->csum_start, .csum_offset = h->csum_offset,
	};

	switch (h->kind) {
	case GSO_TCP4: vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4; break;
	case GSO_TCP6: vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6; break;
	case GSO_UDP4: vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4; break;
	default: vh.gso_type = VIRTIO_NET_HDR_GSO_NONE; break;
	}
	memcpy(out, &vh, sizeof(vh));
}
