/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * synth.h: test support on libsvhost's internals (tests and svhost-bench):
 * the synthetic guest (guest.h) as the internals see it, and
 *   sv_*      a synthetic vSwitch: the producer side of both svhost rings,
 *             written on the ring layer so tests can make it misbehave;
 *             pre-posts empty pool buffers, drains and checks packets from
 *             the guest, produces packets (multi-buffer via F_NEXT) for it;
 *   rig_*     one local port + synthetic guest + synthetic vSwitch + one
 *             PD queue pair.
 */
#ifndef SVHOST_SYNTH_H
#define SVHOST_SYNTH_H

#include <stdbool.h>
#include <stdint.h>
#include "guest.h"
#include "broker.h"
#include "compiler.h"
#include "pd.h"

/* ---- the synthetic guest seen by libsvhost's internals --------------------- */
/* vq parameters the PD needs for the TX / RX queue. */
void sg_vq_params(const struct synth_guest *g, bool rx, struct svh_vq_params *p);
/* The guest's memory table (built on first use, freed by sg_fini). */
const struct svh_guestmem *sg_gm(struct synth_guest *g);

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
