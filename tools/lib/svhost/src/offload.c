// SPDX-License-Identifier: BSD-3-Clause
/*
 * offload.c: validation of virtio-net offload metadata and its mapping to
 * and from ring descriptors (see offload.h).  Every module that accepts
 * offload fields from a peer calls svh_vnet_check(), so the rules exist once.
 */
#include <errno.h>
#include <string.h>

#include "offload.h"
#include "svhost/api.h"

int svh_vnet_check(const struct virtio_net_hdr *h, uint64_t pkt_len)
{
	const uint8_t known = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID |
			      VIRTIO_NET_HDR_F_RSC_INFO;

	if (h->flags & (uint8_t)~known)
		return -EINVAL;
	switch (h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (h->gso_type)
			return -EINVAL;	/* ECN without a GSO type */
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_UDP:
	case VIRTIO_NET_HDR_GSO_TCPV6:
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (h->gso_size == 0)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (uint64_t)h->csum_start + h->csum_offset + 2u > pkt_len)
		return -EINVAL;
	return 0;
}

void svh_vnet_to_desc(const struct virtio_net_hdr *h, struct svhost_desc *d)
{
	d->vnet_flags = h->flags;
	d->gso_type = h->gso_type;
	d->hdr_len = h->hdr_len;
	d->gso_size = h->gso_size;
	d->csum_start = h->csum_start;
	d->csum_offset = h->csum_offset;
	if (d->vnet_flags || d->gso_type || d->hdr_len || d->gso_size || d->csum_start ||
	    d->csum_offset)
		d->flags |= SVHOST_DESC_F_OFFLOAD;
	else
		d->flags &= (uint16_t)~SVHOST_DESC_F_OFFLOAD;
}

void svh_desc_to_vnet(const struct svhost_desc *d, struct virtio_net_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (!(d->flags & SVHOST_DESC_F_OFFLOAD))
		return;
	h->flags = d->vnet_flags;
	h->gso_type = d->gso_type;
	h->hdr_len = d->hdr_len;
	h->gso_size = d->gso_size;
	h->csum_start = d->csum_start;
	h->csum_offset = d->csum_offset;
}

int svh_desc_check_offload(const struct svhost_desc *d)
{
	struct virtio_net_hdr h;

	if (!(d->flags & SVHOST_DESC_F_OFFLOAD))
		return (d->vnet_flags || d->gso_type || d->hdr_len || d->gso_size ||
			d->csum_start || d->csum_offset) ? -EINVAL : 0;
	svh_desc_to_vnet(d, &h);
	return svh_vnet_check(&h, SVH_MAX_PKT_LEN);
}
