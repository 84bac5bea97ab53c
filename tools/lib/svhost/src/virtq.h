/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtq.h: device side of a virtio 1.x split virtqueue, as run by the PD
 * thread inside QEMU over the guest's own RAM.  Supports VERSION_1,
 * INDIRECT_DESC, EVENT_IDX (and MRG_RXBUF through the caller); legacy
 * (pre-1.0) layouts are not supported.
 *
 * The guest is untrusted.  Every avail index, ring entry and descriptor is
 * read once into private memory and checked: avail idx may move at most
 * queue size past last_avail; head and next indexes inside the table; chain
 * length at most the queue size (direct) or the table size (indirect), so
 * loops end; indirect tables non-empty, a multiple of 16 bytes, 16-byte
 * aligned, only when negotiated, never nested and never combined with NEXT;
 * every buffer wholly inside guest memory (guestmem.h); the device writes
 * only write-only buffers and reads only read-only ones.  Any violation marks
 * the queue broken with a reason counter; a broken queue is never touched
 * again until re-initialised.
 */
#ifndef SVHOST_VIRTQ_H
#define SVHOST_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_net.h>

#include "guestmem.h"
#include "dirtylog.h"
#include "ring.h"
#include "offload.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SVH_VQ_MAX_SIZE		32768
/* Host-contiguous segments one chain may resolve to (QEMU's VIRTQUEUE_MAX_SIZE). */
#define SVH_VQ_MAX_SEGS		1024

/* Feature bits the engine understands. */
#define SVH_VQ_FEATURES	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MRG_RXBUF) | \
			 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_RING_F_EVENT_IDX))

enum svh_vq_err {
	SVH_VQERR_AVAIL_IDX,	/* avail idx moved more than the queue size */
	SVH_VQERR_HEAD,		/* head index >= queue size */
	SVH_VQERR_NEXT,		/* next index outside the table */
	SVH_VQERR_LOOP,		/* chain longer than the table: loop */
	SVH_VQERR_ADDR,		/* buffer or table not wholly inside guest memory */
	SVH_VQERR_DIR,		/* write-only buffer where read-only expected, or vice versa */
	SVH_VQERR_INDIRECT,	/* indirect table not negotiated, nested, empty, misaligned, with NEXT */
	SVH_VQERR_SEGS,		/* chain resolves to more than SVH_VQ_MAX_SEGS segments */
	SVH_VQERR_FLAGS,	/* unknown descriptor flags */
	SVH_VQERR_MAX
};

/* A parsed descriptor chain: only private, validated data. */
struct svh_chain {
	uint16_t head;
	uint16_t ndesc;		/* descriptors walked (incl. indirect) */
	uint32_t nseg;
	uint64_t len;		/* total bytes over all segments */
	struct svh_iov seg[SVH_VQ_MAX_SEGS];
};

struct svh_vq_params {
	uint16_t num;		/* queue size, power of two, 1..32768 */
	uint64_t desc_gpa;	/* 16-byte aligned */
	uint64_t avail_gpa;	/* 2-byte aligned */
	uint64_t used_gpa;	/* 4-byte aligned */
	uint64_t features;	/* negotiated; must include VERSION_1 */
	uint16_t last_avail_idx;	/* VHOST_USER_SET_VRING_BASE */
	int kick_fd;		/* guest -> device doorbell (we wait on it), -1 if none */
	int call_fd;		/* device -> guest interrupt, -1 if none */
};

struct svh_vq {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t *used_event;	/* avail->ring[num] */
	uint16_t *avail_event;	/* used->ring[num] */
	const struct svh_guestmem *gm;
	struct svh_dirtylog *log;
	uint32_t gm_hint;	/* our lookup cache in gm */
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint16_t num;
	uint16_t last_avail;	/* next avail entry to consume */
	uint16_t avail_idx;	/* last validated avail->idx */
	uint16_t used_idx;	/* next used entry to write */
	uint16_t used_pub;	/* used->idx as last published */
	uint16_t signalled_used;	/* used idx at the last interrupt */
	bool signalled_valid;
	bool event_idx;
	bool indirect;
	bool mrg_rxbuf;
	bool broken;
	uint8_t broken_reason;	/* enum svh_vq_err */
	bool ready;
	int kick_fd;
	int call_fd;
	/* counters: svh_vq_start keeps them, so they must stay last */
	uint64_t errors[SVH_VQERR_MAX];
	uint64_t interrupts;	/* call_fd writes */
	uint64_t suppressed;	/* interrupts avoided by EVENT_IDX / NO_INTERRUPT */
};

/* Validate the layout against guest memory and set up, counters zeroed.  0 or -errno. */
int svh_vq_init(struct svh_vq *vq, const struct svh_guestmem *gm, struct svh_dirtylog *log,
		const struct svh_vq_params *p);
/* The same, keeping the counters (a vring started again). */
int svh_vq_start(struct svh_vq *vq, const struct svh_guestmem *gm, struct svh_dirtylog *log,
		 const struct svh_vq_params *p);
/*
 * Translate the rings again (a new memory table, or new ring addresses) while
 * keeping every index: used after a memory table swap at a batch boundary.
 * On failure the queue is no longer ready (-EFAULT / -EINVAL).
 */
int svh_vq_remap(struct svh_vq *vq, const struct svh_guestmem *gm, uint64_t desc_gpa,
		 uint64_t avail_gpa, uint64_t used_gpa);

/* Heads available after reading avail->idx once (0 and broken on a bad jump). */
uint16_t svh_vq_avail(struct svh_vq *vq);

/*
 * Take the next available chain.  device_writes: true for an RX queue (every
 * buffer must be write-only), false for TX (every buffer read-only).
 * Returns 1 with *c filled, 0 when nothing is available, -1 when the queue is
 * (now) broken.
 */
int svh_vq_pop(struct svh_vq *vq, struct svh_chain *c, bool device_writes);
/* Give back the n most recently popped chains (not yet pushed). */
void svh_vq_unpop(struct svh_vq *vq, uint16_t n);
/* Write a used element (not yet visible to the guest). */
void svh_vq_push(struct svh_vq *vq, uint16_t head, uint32_t len);
/* Publish pushed elements (release store of used->idx). */
void svh_vq_flush(struct svh_vq *vq);
/* After a flush: interrupt the guest if it asked for it (EVENT_IDX aware). */
bool svh_vq_notify(struct svh_vq *vq);
/* Ask (enable=true) or stop asking the guest for kicks.  Full barrier on enable. */
void svh_vq_set_notification(struct svh_vq *vq, bool enable);

/*
 * Prefetch hints for the copy loop (see svh_prefetch in compiler.h).  They
 * read guest memory only to compute addresses to prefetch: nothing read here
 * is used for anything else, every value is bounded (masked index, address
 * translated with bounds checks) and svh_vq_pop still takes its own snapshot.
 *   svh_vq_prefetch_ring: avail entries of the next n chains, the used
 *     entries (write intent) and used->idx they will need;
 *   svh_vq_prefetch_desc: the head descriptor of the k-th pending chain;
 *   svh_vq_prefetch_buf:  the first max_bytes (at least one line) of its
 *     first buffer (or the start of its indirect table), with write intent
 *     for an RX queue.
 * k counts from the next chain to pop and must be below the avail count
 * already validated (avail_idx - last_avail); otherwise nothing is done.
 */
void svh_vq_prefetch_ring(const struct svh_vq *vq, uint16_t n);
void svh_vq_prefetch_desc(const struct svh_vq *vq, uint16_t k);
void svh_vq_prefetch_buf(struct svh_vq *vq, uint16_t k, bool write, uint32_t max_bytes);
/* Chains available without reading avail->idx again. */
static inline uint16_t svh_vq_pending(const struct svh_vq *vq)
{
	return (uint16_t)(vq->avail_idx - vq->last_avail);
}

static inline void svh_vq_break(struct svh_vq *vq, enum svh_vq_err why)
{
	if (!vq->broken) {
		vq->broken = true;
		vq->broken_reason = (uint8_t)why;
	}
	vq->errors[why]++;
}

const char *svh_vq_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif /* SVHOST_VIRTQ_H */
