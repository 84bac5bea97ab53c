/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * offload.h: the one set of rules for virtio-net offload metadata, wherever
 * it comes from (a guest's TX header, a TO_GUEST descriptor written by the
 * vSwitch, a TO_VSWITCH descriptor written by the PD, a packet the vSwitch
 * application sends) and the conversions between the virtio-net header and
 * the offload fields of struct svhost_desc (same meanings, host order).
 *
 * Rules: only known header flags (NEEDS_CSUM, DATA_VALID, RSC_INFO) and GSO
 * types (TCPV4, UDP, TCPV6, UDP_L4, each optionally with ECN; ECN alone is
 * refused); a GSO type needs gso_size > 0; with NEEDS_CSUM the checksum
 * field (csum_start + csum_offset + 2 bytes) lies inside the packet.  A
 * descriptor without SVHOST_DESC_F_OFFLOAD has all offload fields zero.
 */
#ifndef SVHOST_OFFLOAD_H
#define SVHOST_OFFLOAD_H

#include <stdint.h>
#include <linux/virtio_net.h>
#include <linux/svhost.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4	5	/* Linux 4.18 uapi; older headers lack it */
#endif

/* virtio-net header size with VERSION_1 (always includes num_buffers). */
#define SVH_VNET_HDR_LEN	12u

/* Check a header for a packet of pkt_len bytes (without the header): 0 or -EINVAL. */
int svh_vnet_check(const struct virtio_net_hdr *h, uint64_t pkt_len);
/* Fill the offload fields of d from h (sets or clears SVHOST_DESC_F_OFFLOAD). */
void svh_vnet_to_desc(const struct virtio_net_hdr *h, struct svhost_desc *d);
/* The header described by d's offload fields (all zero without F_OFFLOAD). */
void svh_desc_to_vnet(const struct svhost_desc *d, struct virtio_net_hdr *h);
/*
 * Check d's offload fields on their own (the packet length is not known
 * yet, so the checksum rule uses the largest packet): 0 or -EINVAL.
 */
int svh_desc_check_offload(const struct svhost_desc *d);

#endif /* SVHOST_OFFLOAD_H */
