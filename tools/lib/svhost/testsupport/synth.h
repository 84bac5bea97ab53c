/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * synth.h: test-support peers for libsvhost (tests and svhost-bench only).
 *
 *   payload   packets carry {seq, len, checksum} + a seq-derived pattern, so
 *             every receiver checks integrity, loss, duplication and order.
 *   sg_*      a synthetic guest: the driver side of virtio-net over split
 *             virtqueues in emulated guest RAM made of two host mappings
 *             (so buffers can span regions).  TX chains in several layouts
 *             (single, header split, multi-descriptor with the header cut in
 *             two, indirect), RX refill with mergeable or chained buffers,
 *             EVENT_IDX and kicks.
 *   sv_*      a synthetic vSwitch: the producer side of both svhost rings;
 *             pre-posts empty pool buffers, drains and checks packets from
 *             the guest, produces packets (multi-buffer via F_NEXT) for it.
 */
#ifndef SVHOST_SYNTH_H
#define SVHOST_SYNTH_H

#include <stdbool.h>
#include <stdint.h>
#include "broker.h"
#include "compiler.h"
#include "pd.h"

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
};

struct sg_rx_hdr {
	struct virtio_net_hdr_mrg_rxbuf h;
};

struct synth_guest {
	struct sg_cfg cfg;
	uint8_t *map[3];
	uint64_t map_len[3];
	uint64_t mem_size;
	struct svh_gm_region regions[3];
	unsigned nregions;
	struct svh_guestmem gm;
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
/* vq parameters the PD needs for the TX / RX queue. */
void sg_vq_params(const struct synth_guest *g, bool rx, struct svh_vq_params *p);
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

/* ---- synthetic vSwitch ---------------------------------------------------------- */
struct synth_vswitch {
	struct svh_ring tx;	/* TO_VSWITCH, producer */
	struct svh_ring rx;	/* TO_GUEST, producer */
	uint8_t *pool;
	uint32_t buf_size, buf_count;
	uint64_t *free_bufs;	/* stack of offsets */
	uint32_t nfree;
	bool verify;
	uint64_t rx_seq;	/* next expected from the guest */
	uint64_t tx_seq;	/* next to send to the guest */
	uint64_t pkts_in, bytes_in, bad_in, short_in, out_of_order, bad_desc, unused_returned;
	svh_desc_t first_in;	/* first descriptor of the last packet received */
	svh_desc_t offload_out;	/* offload fields for produced packets */
	/* reassembly of a packet spread over several completions */
	uint8_t *asm_buf;
	uint32_t asm_len;
	bool asm_active;
	svh_desc_t scratch[SVH_PD_SCRATCH];
	uint8_t ok[SVH_PD_SCRATCH];
};

int sv_init(struct synth_vswitch *s, struct svhost_ring *to_vswitch, struct svhost_ring *to_guest,
	    void *pool, uint32_t ring_size, uint32_t buf_size, uint32_t buf_count, bool verify,
	    bool reset);
void sv_fini(struct synth_vswitch *s);
/* Post empty buffers on TO_VSWITCH (up to max); returns posted. */
unsigned sv_post_empty(struct synth_vswitch *s, unsigned max);
/* Reap TO_VSWITCH: reassemble, check, recycle; returns packets. */
unsigned sv_drain(struct synth_vswitch *s);
/* Send one packet of len bytes to the guest; 1 or 0 (no buffers/room). */
int sv_send(struct synth_vswitch *s, uint32_t len);
/* Send a batch of packets, all of len bytes; returns packets sent. */
unsigned sv_send_burst(struct synth_vswitch *s, uint32_t len, unsigned n);
/* Reap TO_GUEST completions (buffers come back); returns slots. */
unsigned sv_reap_sent(struct synth_vswitch *s);

#endif

/* ---- rig: one port + synthetic guest + synthetic vSwitch + one queue pair ------ */
struct rig_cfg {
	struct svh_port_params pp;	/* queue_pairs forced to 1 */
	struct sg_cfg g;
	bool verify;
	bool eventfds;		/* PD <-> vSwitch ring doorbells */
	bool dirty_log;
};

struct rig {
	struct rig_cfg cfg;
	struct svh_port owner, copier;
	struct synth_guest g;
	struct synth_vswitch sv;
	struct svh_qp *qp;
	int efd_pd;		/* the PD sleeps on it, the vSwitch kicks it */
	int efd_sw;		/* the vSwitch sleeps on it, the PD kicks it */
	struct svh_dirtylog log;
	uint8_t *logmem;
	uint64_t logsize;
};

/* Local (memfd) port; for tests and benchmarks. 0 or -errno. */
int rig_init(struct rig *r, const struct rig_cfg *c);
void rig_fini(struct rig *r);
void rig_cfg_default(struct rig_cfg *c);
