/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pd.h: the packet-delivery (PD) copy loop and its thread.  One PD thread
 * serves one or more queue pairs in both directions:
 *
 *   guest TX virtqueue --copy--> pool buffers posted on the TO_VSWITCH ring
 *   TO_GUEST ring buffers --copy--> guest RX virtqueue (mergeable buffers)
 *
 * Packets larger than a pool buffer are spread over consecutive slots with
 * SVHOST_DESC_F_NEXT.  virtio-net header offload fields travel in the first
 * descriptor.  The data path makes no system call and no allocation per
 * packet: doorbells (eventfd writes), sched_yield and the adaptive sleep are
 * at most once per batch.  Per queue and direction it counts packets, bytes,
 * drops by reason, notifications and busy TSC cycles; validation errors are
 * counted by reason in the ring (svh_ring_stats) and virtqueue (svh_vq).
 */
#ifndef SVHOST_PD_H
#define SVHOST_PD_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "ring.h"
#include "virtq.h"
#include "dirtylog.h"
#include "svhost/device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SVH_PD_MAX_BURST	256
#define SVH_PD_SCRATCH		512	/* ring descriptors looked at per batch */
#define SVH_PD_MAX_MRG		128	/* guest RX chains one packet may use */
#define SVH_PD_MAX_QP		64

enum svh_dir {
	SVH_DIR_TO_VSWITCH = 0,	/* guest TX */
	SVH_DIR_TO_GUEST = 1,	/* guest RX */
};

enum svh_drop {
	SVH_DROP_GUEST_HDR,	/* TX chain shorter than the virtio-net header or bad header */
	SVH_DROP_TOO_BIG,	/* packet larger than SVH_MAX_PKT_LEN or than the ring can hold */
	SVH_DROP_EMPTY,		/* zero-length packet */
	SVH_DROP_BAD_DESC,	/* vSwitch descriptor failed validation */
	SVH_DROP_RX_TOO_SMALL,	/* guest RX buffers cannot hold the packet */
	SVH_DROP_MAX
};

struct svh_dir_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t drops[SVH_DROP_MAX];
	uint64_t guest_irqs;	/* interrupts sent to the guest */
	uint64_t peer_kicks;	/* doorbells sent to the vSwitch */
	uint64_t busy_cycles;	/* TSC cycles spent in batches that moved packets */
	uint64_t batches;	/* batches that moved packets */
	uint64_t stalls;	/* batches stopped for lack of buffers on the far side */
};

struct svh_qp_cfg {
	struct svhost_ring *to_guest;
	struct svhost_ring *to_vswitch;
	void *pool;
	uint32_t ring_size;
	uint32_t buf_size;
	uint32_t buf_count;
	const struct svh_guestmem *gm;
	struct svh_dirtylog *log;	/* may be NULL */
	struct svh_vq_params txq;	/* guest TX queue (virtio-net queue 2q+1) */
	struct svh_vq_params rxq;	/* guest RX queue (virtio-net queue 2q) */
	int ring_kick_fd;	/* eventfd the vSwitch sleeps on, -1 if none */
	int ring_wait_fd;	/* eventfd the vSwitch kicks us with, -1 if none */
};

struct svh_qp {
	struct svh_vq txq;
	struct svh_vq rxq;
	struct svh_ring to_vswitch;	/* consumer role */
	struct svh_ring to_guest;	/* consumer role */
	struct svh_dir_stats st[2];	/* indexed by enum svh_dir */
	struct svh_dirtylog nolog;
	/* scratch, private to the PD thread */
	svh_desc_t rdesc[SVH_PD_SCRATCH];
	uint8_t rok[SVH_PD_SCRATCH];
	uint16_t mrg_head[SVH_PD_MAX_MRG];
	uint32_t mrg_len[SVH_PD_MAX_MRG];
	struct svh_chain chain;
};

int svh_qp_init(struct svh_qp *qp, const struct svh_qp_cfg *cfg);
void svh_qp_fini(struct svh_qp *qp);

/* Can this direction move packets: queue started and intact, ring attached and intact? */
static inline bool svh_qp_dir_ready(const struct svh_vq *vq, const struct svh_ring *r)
{
	return vq->ready && !vq->broken && r->shm && !r->broken;
}

/* Move up to burst packets in one direction.  Returns packets moved. */
unsigned svh_pd_tx_burst(struct svh_qp *qp, unsigned burst);	/* guest -> vSwitch */
unsigned svh_pd_rx_burst(struct svh_qp *qp, unsigned burst);	/* vSwitch -> guest */

/* ---- the PD thread -------------------------------------------------------- */

/* enum svh_sched (poll, fifo-yield, adaptive) is public: svhost/device.h */

struct svh_pd_cfg {
	enum svh_sched mode;
	int cpu;		/* pin to this CPU, -1: leave affinity alone */
	int fifo_prio;		/* SCHED_FIFO priority (1..99), FIFO_YIELD only */
	unsigned burst;		/* packets per direction per batch, 1..SVH_PD_MAX_BURST */
	unsigned idle_polls;	/* ADAPTIVE: empty passes before sleeping */
	uint64_t yield_cycles;	/* FIFO_YIELD: 0 (default, the original): yield after
				 * every pass.  Otherwise a yield budget: yield after a
				 * pass that moved nothing, or once this many TSC cycles
				 * have passed since the last yield */
	int sleep_ms;		/* ADAPTIVE: longest sleep (to notice stop) */
};

#define SVH_PD_MAX_PFD	(SVH_PD_MAX_QP * 4 + 1)

struct svh_pd {
	struct svh_pd_cfg cfg;
	struct svh_qp *qp[SVH_PD_MAX_QP];
	unsigned nqp;
	int stop;		/* set by svh_pd_stop() from any thread */
	int wake_fd;		/* extra eventfd the adaptive sleep waits on, -1: none */
	bool fifo_fallback;	/* SCHED_FIFO was refused, running SCHED_OTHER */
	unsigned idle;		/* ADAPTIVE: empty passes in a row */
	uint64_t last_yield;	/* FIFO_YIELD budget: TSC of the last yield */
	uint64_t loops;
	uint64_t sleeps;	/* adaptive sleeps (all rings and queues armed) */
	uint64_t yields;
	struct pollfd pfd[SVH_PD_MAX_PFD];
	unsigned npfd;
};

void svh_pd_cfg_default(struct svh_pd_cfg *cfg);
int svh_pd_init(struct svh_pd *pd, const struct svh_pd_cfg *cfg, struct svh_qp **qps,
		unsigned nqp);
/* Rebuild the sleep set (wake_fd, kick fds of ready queues, doorbells of attached rings). */
void svh_pd_refresh_fds(struct svh_pd *pd);
/* Apply CPU affinity and the scheduling policy to the calling thread. */
int svh_pd_setup_thread(struct svh_pd *pd);
/* One pass over every queue pair, both directions.  Returns packets moved. */
unsigned svh_pd_poll(struct svh_pd *pd);
/* After a pass that moved `moved` packets: yield, relax or sleep per the mode. */
void svh_pd_idle(struct svh_pd *pd, unsigned moved);
/* Loop until svh_pd_stop(); call from the PD thread after svh_pd_setup_thread. */
void svh_pd_run(struct svh_pd *pd);
void svh_pd_stop(struct svh_pd *pd);
/* pthread entry point: arg is a struct svh_pd *. */
void *svh_pd_thread(void *arg);

const char *svh_drop_name(int reason);
const char *svh_sched_name(enum svh_sched mode);

#ifdef __cplusplus
}
#endif
#endif /* SVHOST_PD_H */
