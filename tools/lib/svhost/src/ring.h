/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ring.h: both roles of the svhost shared-memory descriptor rings
 * (uapi/linux/svhost.h).  The vSwitch is the producer of every ring: it posts
 * buffers and later reaps them.  The copier (PD thread) is the consumer: it
 * takes posted buffers, fills or drains them, and completes the slots.
 *
 * Neither side trusts the other.  Every index and descriptor read from shared
 * memory is read once into a private copy and validated before use:
 *   - peer index: 0 <= prod - cons <= ring_size, and it never moves backwards
 *     or past what was outstanding;
 *   - offset: a multiple of buf_size and inside the pool (overflow-safe);
 *   - len <= buf_size; only known flags; reserved fields zero;
 *   - offload fields: the rules of offload.h.
 * The producer keeps a shadow of the offset it posted in each slot and, on
 * reaping, trusts only len, flags and the offload fields read back.
 * A ring whose indexes are inconsistent is marked broken (with a reason
 * counter) and is not touched again; a bad descriptor is skipped and counted.
 */
#ifndef SVHOST_RING_H
#define SVHOST_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/svhost.h>

#include "offload.h"

#ifdef __cplusplus
extern "C" {
#endif

enum svh_ring_role {
	SVH_RING_PRODUCER = 1,	/* vSwitch side */
	SVH_RING_CONSUMER = 2,	/* copier (PD thread) side */
};

/* Why a descriptor or a whole ring was refused. */
enum svh_ring_err {
	SVH_RERR_PEER_INDEX,	/* prod-cons distance > size, or index went backwards */
	SVH_RERR_OFFSET,	/* offset not a multiple of buf_size or outside the pool */
	SVH_RERR_LEN,		/* len > buf_size */
	SVH_RERR_FLAGS,		/* unknown descriptor flags */
	SVH_RERR_RESERVED,	/* reserved field non-zero */
	SVH_RERR_OFFLOAD,	/* offload fields hold unknown or inconsistent values */
	SVH_RERR_CHAIN,		/* F_NEXT chain malformed (too long, never ends) */
	SVH_RERR_MAX
};

struct svh_ring_stats {
	uint64_t errors[SVH_RERR_MAX];
	uint64_t kicks_sent;	/* eventfd writes to wake the peer */
	uint64_t breaks;	/* times the ring went from sane to broken */
};

/* The private view of one ring.  Never shared with the peer. */
struct svh_ring {
	struct svhost_ring *shm;
	uint8_t *pool;		/* start of the pool mapping */
	uint64_t pool_len;	/* buf_size * buf_count: valid offsets below it */
	uint32_t size;		/* descriptors, power of two */
	uint32_t mask;
	uint32_t buf_size;
	uint8_t role;
	bool broken;
	bool fill_slots;	/* consumer writes results back into the slots it peeks
				 * (TO_VSWITCH): peek prefetches them with write intent */
	uint16_t broken_reason;	/* enum svh_ring_err, valid when broken */
	uint32_t head;		/* our own index: prod (producer) or cons (consumer) */
	uint32_t peer;		/* last validated peer index */
	uint32_t pending;	/* consumer: slots handed out by peek, not yet completed */
	int kick_fd;		/* eventfd we write to wake the peer, -1 if none */
	int wait_fd;		/* eventfd we sleep on, -1 if none */
	uint64_t *shadow;	/* producer: offset posted in each slot */
	struct svh_ring_stats stats;	/* kept by svh_ring_restart: keep it last */
};

/* One validated descriptor in private memory. */
typedef struct svhost_desc svh_desc_t;

/*
 * Set up a private view.  ring_size must be a power of two in
 * SVHOST_MIN_RING_SIZE..SVHOST_MAX_RING_SIZE, buf_size a power of two in
 * SVHOST_MIN_BUF_SIZE..SVHOST_MAX_BUF_SIZE.  The producer role allocates its
 * shadow table here (never on the data path).  reset_shm zeroes the indexes
 * and flags (only the creator of a fresh port should ask for it); otherwise
 * the current indexes are read and validated.  Returns 0 or -errno.
 */
int svh_ring_init(struct svh_ring *r, struct svhost_ring *shm, enum svh_ring_role role,
		  uint32_t ring_size, void *pool, uint32_t buf_size, uint32_t buf_count,
		  bool reset_shm);
void svh_ring_fini(struct svh_ring *r);
void svh_ring_set_fds(struct svh_ring *r, int kick_fd, int wait_fd);
/*
 * Start the view again on a (possibly new) shared ring and pool of the same
 * geometry, keeping role, shadow, doorbells and counters: reads both indexes
 * afresh and clears broken and pending.  A producer also makes the ring
 * quiescent from its side (prod = cons, its need-wakeup flag cleared); a
 * consumer refuses (-EPROTO) indexes more than ring_size apart.
 */
int svh_ring_restart(struct svh_ring *r, struct svhost_ring *shm, void *pool);

/*
 * Validate one descriptor held in private memory; returns 0 or an
 * svh_ring_err.  check_offset: false when the offset comes from our own
 * shadow (the producer reaping), true for an offset read from the slot.
 */
int svh_desc_check(const struct svh_ring *r, const svh_desc_t *d, bool check_offset);

static inline void *svh_ring_buf(const struct svh_ring *r, uint64_t offset)
{
	return r->pool + offset;
}

/* ---- consumer (copier) side ----------------------------------------------- */

/*
 * Number of posted slots not yet handed out by peek, after reading and
 * validating prod once.  Returns 0 (and marks the ring broken) on a bad index.
 */
uint32_t svh_ring_cons_avail(struct svh_ring *r);
/*
 * Copy up to max posted descriptors (after those already pending) into out[],
 * each read once from shared memory.  ok[i] tells whether out[i] passed
 * validation; invalid ones must still be completed (skipped) by the caller.
 * Returns the number copied.
 */
uint32_t svh_ring_cons_peek(struct svh_ring *r, svh_desc_t *out, uint8_t *ok, uint32_t max);
/* Write a result descriptor into the i-th pending slot (0 = oldest pending). */
void svh_ring_cons_fill(struct svh_ring *r, uint32_t i, const svh_desc_t *d);
/* Hand n oldest pending slots back to the producer (release store of cons). */
void svh_ring_cons_complete(struct svh_ring *r, uint32_t n);
/* Forget the n newest pending slots without completing them (peek them again later). */
void svh_ring_cons_unpeek(struct svh_ring *r, uint32_t n);

/* ---- producer (vSwitch) side ---------------------------------------------- */

/* Free slots, after reading and validating cons once. */
uint32_t svh_ring_prod_free(struct svh_ring *r);
/*
 * Post up to n descriptors (offset must be valid; see svh_desc_check).  The
 * shadow remembers each offset.  Returns the number posted (stops at the first
 * invalid descriptor or when the ring is full).  Publishes prod with a release
 * store.
 */
uint32_t svh_ring_prod_post(struct svh_ring *r, const svh_desc_t *d, uint32_t n);
/*
 * Reap up to max completed slots.  out[i].offset comes from the shadow; len,
 * flags and offload fields are read back once from the slot and validated:
 * ok[i] = 0 means the consumer wrote garbage (the buffer is still returned to
 * the caller, who owns it again).  Returns the number reaped.
 */
uint32_t svh_ring_prod_reap(struct svh_ring *r, svh_desc_t *out, uint8_t *ok, uint32_t max);
/*
 * Take back every slot posted and not completed (as last seen): their buffer
 * offsets go to offsets[] (room for ring_size) in post order.  prod is then
 * set to the consumer's current cons, whatever it holds, and our need-wakeup
 * flag cleared: the ring is left empty and consistent for the next session
 * even when a broken (or hostile) consumer moved cons wrongly.  Call it once
 * the consumer has stopped.  Returns how many were taken back.
 */
uint32_t svh_ring_prod_cancel(struct svh_ring *r, uint64_t *offsets);
/* Slots posted and not yet reaped. */
static inline uint32_t svh_ring_prod_outstanding(const struct svh_ring *r)
{
	return r->head - r->peer;
}

/* ---- need-wakeup and doorbells ----------------------------------------------- */

/* Set or clear NEED_WAKEUP in our own flags word (with a full barrier when set). */
void svh_ring_set_need_wakeup(struct svh_ring *r, bool on);
/* Does the peer ask to be woken? */
bool svh_ring_peer_needs_wakeup(const struct svh_ring *r);
/* Kick the peer's eventfd if it asked for it; returns true if kicked. */
bool svh_ring_kick_if_needed(struct svh_ring *r);
/* Eventfd helpers: write 1 / drain.  Return 0 or -errno. */
int svh_eventfd_kick(int fd);
int svh_eventfd_drain(int fd);

static inline void svh_ring_break(struct svh_ring *r, enum svh_ring_err why)
{
	if (!r->broken) {
		r->broken = true;
		r->broken_reason = (uint16_t)why;
		r->stats.breaks++;
	}
	r->stats.errors[why]++;
}

const char *svh_ring_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif /* SVHOST_RING_H */
