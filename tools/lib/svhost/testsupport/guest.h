/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * guest.h: a synthetic guest for libsvhost's tests, examples and benchmark,
 * written against the public API only (svhost/ headers, Linux uapi).
 *
 *   payload   packets carry {seq, len, checksum} + a seq-derived pattern, so
 *             every receiver checks integrity, loss, duplication and order.
 *   sg_*      the driver side of virtio-net over split virtqueues in guest
 *             RAM made of up to three memfd mappings (so buffers can span
 *             regions).  TX chains in several layouts (single, header
 *             split, multi-descriptor with the header cut in two, indirect),
 *             RX refill with mergeable or chained buffers, EVENT_IDX, kicks.
 */
#ifndef SVHOST_GUEST_H
#define SVHOST_GUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_net.h>
#include "svhost/svhost.h"

#define SG_VNET_HDR_LEN 12u	/* virtio-net header with VERSION_1 */
/* The ring features the PD implements, without VHOST_F_LOG_ALL (bit 26). */
#define SG_FEATURES	(svh_dev_features() & ~(1ULL << 26))

#define sg_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define sg_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define sg_read_once(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define sg_write_once(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

struct svh_guestmem;

/* ---- payload ---------------------------------------------------------------- */
#define SP_HDR_LEN 16u	/* seq(8) len(4) csum(4) */
void sp_fill(uint8_t *p, uint32_t len, uint64_t seq);
/* Check a packet; 0 (and *seq) if intact, -1 if corrupted, 1 if shorter than SP_HDR_LEN. */
int sp_check(const uint8_t *p, uint32_t len, uint64_t *seq);

/* ---- synthetic guest -------------------------------------------------------- */
enum sg_layout {
	SG_TX_SIMPLE,		/* one descriptor: header + data */
	SG_TX_HDR_SPLIT,	/* header descriptor + data descriptor */
	SG_TX_MULTI,		/* four descriptors, header cut across the first two */
	SG_TX_INDIRECT,		/* the MULTI layout in an indirect table */
	SG_TX_NLAYOUTS,
	SG_TX_ROTATE = -1,	/* cycle through all layouts */
};

#define SG_CHAIN 4	/* descriptors reserved per TX slot (and per non-mrg RX slot) */

struct sg_queue {
	uint16_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;	/* driver's shadow of avail->idx */
	uint16_t last_used;
	uint16_t kicked_avail;	/* avail idx at the last kick decision */
	uint32_t nslots;
	uint32_t stride;	/* descriptors reserved per slot */
	uint32_t *free_slots;	/* stack */
	uint32_t nfree;
	int kick_fd;		/* driver -> device */
	int call_fd;		/* device -> driver */
	uint64_t kicks;
};

struct sg_cfg {
	uint16_t num;		/* queue size */
	uint32_t tx_buf_cap;	/* bytes per TX slot buffer (>= 12 + largest packet) */
	uint32_t rx_buf_len;	/* bytes per RX descriptor */
	uint64_t features;
	bool split_regions;	/* two host mappings, buffers straddling the seam */
	int tx_layout;		/* enum sg_layout or SG_TX_ROTATE */
	bool verify;		/* check every received packet */
	bool use_eventfds;
	uint64_t gpa_base;	/* where guest RAM starts (several guests, one table) */
	bool memfd_ram;		/* guest RAM in memfds (sg_remap needs it); else
				 * anonymous private memory, as QEMU's default RAM */
};

struct sg_rx_hdr {
	struct virtio_net_hdr_mrg_rxbuf h;
};

struct synth_guest {
	struct sg_cfg cfg;
	uint8_t *map[3];
	uint8_t *old_map[3];	/* sg_remap: the previous views, until sg_unmap_old */
	uint64_t map_len[3];
	uint64_t mem_size;
	int memfd[3];		/* memfd_ram: each region's memfd, else -1 */
	struct svh_mem_region regions[3];	/* gpa, size, where mapped (uaddr) */
	unsigned nregions;
	struct svh_guestmem *gm;	/* internal tests only: sg_gm() in synth.c */
	struct sg_queue tx, rx;
	uint64_t tx_ind_gpa, tx_buf_gpa, rx_buf_gpa;
	uint32_t layout_next;
	uint64_t tx_seq;
	uint64_t rx_seq;	/* next expected */
	uint64_t tx_done;	/* TX chains returned by the device */
	uint64_t rx_pkts, rx_bytes, rx_bad, rx_short, rx_out_of_order, rx_bad_used;
	struct virtio_net_hdr_mrg_rxbuf last_rx_hdr;
	/* offload header to put on the next TX packets (zero: none) */
	struct virtio_net_hdr_mrg_rxbuf tx_hdr;
};

int sg_init(struct synth_guest *g, const struct sg_cfg *cfg);
void sg_fini(struct synth_guest *g);
void *sg_hva(struct synth_guest *g, uint64_t gpa);
/*
 * Map guest RAM a second time and switch the guest to the new view (the way
 * QEMU's memory map changes under a running device); the old view stays
 * mapped until sg_unmap_old().  0 or -errno.
 */
int sg_remap(struct synth_guest *g);
void sg_unmap_old(struct synth_guest *g);
/* The guest's RAM as QEMU would pass it (svh_dev_set_mem_table); *nr <= 3. */
void sg_mem_regions(const struct synth_guest *g, struct svh_mem_region *out, unsigned *nr);
/* Ring addresses of the TX / RX queue as QEMU computes them (svh_dev_set_vring_addr). */
void sg_vring_addr(struct synth_guest *g, bool rx, unsigned index, struct vhost_vring_addr *a);
/* Post one TX packet of len bytes (without virtio-net header); 1 or 0 (full). */
int sg_tx_post(struct synth_guest *g, uint32_t len);
/* Post up to n packets and publish avail->idx once (as a batching driver does). */
unsigned sg_tx_post_burst(struct synth_guest *g, uint32_t len, unsigned n);
/* Reap TX completions; returns chains reaped. */
unsigned sg_tx_reap(struct synth_guest *g);
/* Fill free RX slots; returns buffers posted. */
unsigned sg_rx_refill(struct synth_guest *g);
/* Receive (and check if verify) packets; returns packets. */
unsigned sg_rx_poll(struct synth_guest *g);
/* Kick the device if it asked (EVENT_IDX / NO_NOTIFY aware). */
void sg_kick_if_needed(struct synth_guest *g, struct sg_queue *q);

#endif /* SVHOST_GUEST_H */
