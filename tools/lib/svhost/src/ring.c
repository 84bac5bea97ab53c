// SPDX-License-Identifier: BSD-3-Clause
/*
 * ring.c: producer (vSwitch) and consumer (copier) operations on the svhost
 * descriptor rings.  See include/svhost/ring.h for the trust rules.  Every
 * read of the peer's index or of a slot is a single snapshot into private
 * memory followed by validation; nothing here allocates or makes a system
 * call except init/fini and the explicit eventfd helpers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_net.h>

#include "compiler.h"
#include "ring.h"

_Static_assert(sizeof(struct svhost_desc) == 32, "descriptor is 32 bytes");
_Static_assert(sizeof(struct svhost_ring) == SVHOST_RING_HDR_SIZE, "ring header size");

static const char *const err_names[SVH_RERR_MAX] = {
	[SVH_RERR_PEER_INDEX] = "peer_index",
	[SVH_RERR_OFFSET] = "offset",
	[SVH_RERR_LEN] = "len",
	[SVH_RERR_FLAGS] = "flags",
	[SVH_RERR_RESERVED] = "reserved",
	[SVH_RERR_OFFLOAD] = "offload",
	[SVH_RERR_CHAIN] = "chain",
};

const char *svh_ring_err_name(int err)
{
	if (err < 0 || err >= SVH_RERR_MAX)
		return "unknown";
	return err_names[err];
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

int svh_ring_init(struct svh_ring *r, struct svhost_ring *shm, enum svh_ring_role role,
		  uint32_t ring_size, void *pool, uint32_t buf_size, uint32_t buf_count,
		  bool reset_shm)
{
	uint32_t prod, cons;

	memset(r, 0, sizeof(*r));
	r->kick_fd = -1;
	r->wait_fd = -1;
	if (!shm || !pool || (role != SVH_RING_PRODUCER && role != SVH_RING_CONSUMER))
		return -EINVAL;
	if (!is_pow2(ring_size) || ring_size < SVHOST_MIN_RING_SIZE ||
	    ring_size > SVHOST_MAX_RING_SIZE)
		return -EINVAL;
	if (!is_pow2(buf_size) || buf_size < SVHOST_MIN_BUF_SIZE ||
	    buf_size > SVHOST_MAX_BUF_SIZE)
		return -EINVAL;
	if (buf_count == 0 || buf_count > SVHOST_MAX_BUF_COUNT)
		return -EINVAL;

	r->shm = shm;
	r->pool = pool;
	r->pool_len = (uint64_t)buf_size * buf_count;
	r->size = ring_size;
	r->mask = ring_size - 1;
	r->buf_size = buf_size;
	r->role = (uint8_t)role;

	if (reset_shm) {
		svh_write_once(&shm->prod, 0);
		svh_write_once(&shm->cons, 0);
		svh_write_once(&shm->prod_flags, 0);
		svh_write_once(&shm->cons_flags, 0);
		svh_mb();
	}
	prod = svh_load_acquire(&shm->prod);
	cons = svh_load_acquire(&shm->cons);
	if (prod - cons > ring_size)
		return -EPROTO;

	if (role == SVH_RING_PRODUCER) {
		/* A producer cannot know what older slots held: start empty. */
		if (prod != cons)
			return -EBUSY;
		r->shadow = calloc(ring_size, sizeof(*r->shadow));
		if (!r->shadow)
			return -ENOMEM;
		r->head = prod;
		r->peer = cons;
	} else {
		r->head = cons;
		r->peer = prod;
	}
	return 0;
}

int svh_ring_restart(struct svh_ring *r, struct svhost_ring *shm, void *pool)
{
	uint32_t prod, cons;

	if (!shm || !pool)
		return -EINVAL;
	r->shm = shm;
	r->pool = pool;
	r->broken = false;
	r->broken_reason = 0;
	r->pending = 0;
	cons = svh_load_acquire(&shm->cons);
	if (r->role == SVH_RING_PRODUCER) {
		/* we own prod: whatever was posted is taken back */
		svh_write_once(&shm->prod_flags, 0);
		svh_store_release(&shm->prod, cons);
		r->head = r->peer = cons;
		return 0;
	}
	prod = svh_load_acquire(&shm->prod);
	if (prod - cons > r->size) {
		r->shm = NULL;
		return -EPROTO;
	}
	svh_write_once(&shm->cons_flags, 0);
	r->head = cons;
	r->peer = prod;
	return 0;
}

void svh_ring_fini(struct svh_ring *r)
{
	free(r->shadow);
	r->shadow = NULL;
}

void svh_ring_set_fds(struct svh_ring *r, int kick_fd, int wait_fd)
{
	r->kick_fd = kick_fd;
	r->wait_fd = wait_fd;
}

int svh_desc_check(const struct svh_ring *r, const svh_desc_t *d, bool check_offset)
{
	if (check_offset) {
		/* buf_size is a power of two: alignment check is a mask. */
		if (d->offset & (uint64_t)(r->buf_size - 1))
			return SVH_RERR_OFFSET;
		/* offset is aligned and pool_len a multiple of buf_size, so
		 * offset < pool_len implies offset + buf_size <= pool_len. */
		if (d->offset >= r->pool_len)
			return SVH_RERR_OFFSET;
	}
	if (d->len > r->buf_size)
		return SVH_RERR_LEN;
	if (d->flags & (uint16_t)~SVHOST_DESC_F_ALL)
		return SVH_RERR_FLAGS;
	if (d->reserved)
		return SVH_RERR_RESERVED;
	return svh_desc_check_offload(d) ? SVH_RERR_OFFLOAD : 0;
}

/* ---- consumer ------------------------------------------------------------------ */

uint32_t svh_ring_cons_avail(struct svh_ring *r)
{
	uint32_t prod, dist;

	if (svh_unlikely(r->broken))
		return 0;
	prod = svh_load_acquire(&r->shm->prod);
	dist = prod - r->head;
	/* The producer may post at most ring_size slots beyond cons and can
	 * never take back slots it already published. */
	if (svh_unlikely(dist > r->size || dist < r->peer - r->head)) {
		svh_ring_break(r, SVH_RERR_PEER_INDEX);
		return 0;
	}
	r->peer = prod;
	return dist - r->pending;
}

uint32_t svh_ring_cons_peek(struct svh_ring *r, svh_desc_t *out, uint8_t *ok, uint32_t max)
{
	uint32_t avail = svh_ring_cons_avail(r);
	uint32_t n = avail < max ? avail : max;
	uint32_t idx = r->head + r->pending;

	/*
	 * Ask for every cache line of the n slots first (two slots per line) so
	 * that the transfers from the producer's core overlap instead of
	 * arriving one after the other in the snapshot loop below.
	 */
	for (uint32_t i = 0; i < n; i++) {
		const void *slot = &r->shm->desc[(idx + i) & r->mask];

		if (i && ((idx + i) & 1))
			continue;	/* same line as the slot before */
		if (r->fill_slots)
			svh_prefetch_w(slot);
		else
			svh_prefetch(slot);
	}
	for (uint32_t i = 0; i < n; i++, idx++) {
		int err;

		svh_snapshot(&out[i], &r->shm->desc[idx & r->mask], sizeof(out[i]));
		err = svh_desc_check(r, &out[i], true);
#ifdef SVH_TEST_DOUBLE_FETCH
		/* deliberately wrong, for tests/test_fetch only: fetch again after checking */
		out[i].offset = svh_read_once(&r->shm->desc[idx & r->mask].offset);
#endif
		ok[i] = err == 0;
		if (svh_unlikely(err))
			r->stats.errors[err]++;
	}
	r->pending += n;
	return n;
}

void svh_ring_cons_fill(struct svh_ring *r, uint32_t i, const svh_desc_t *d)
{
	struct svhost_desc *slot = &r->shm->desc[(r->head + i) & r->mask];

	memcpy(slot, d, sizeof(*slot));
}

void svh_ring_cons_complete(struct svh_ring *r, uint32_t n)
{
	if (n > r->pending)
		n = r->pending;
	r->head += n;
	r->pending -= n;
	svh_store_release(&r->shm->cons, r->head);
}

void svh_ring_cons_unpeek(struct svh_ring *r, uint32_t n)
{
	if (n > r->pending)
		n = r->pending;
	r->pending -= n;
}

/* ---- producer ------------------------------------------------------------------ */

uint32_t svh_ring_prod_free(struct svh_ring *r)
{
	if (svh_unlikely(r->broken))
		return 0;
	return r->size - (r->head - r->peer);
}

uint32_t svh_ring_prod_post(struct svh_ring *r, const svh_desc_t *d, uint32_t n)
{
	uint32_t free_slots = svh_ring_prod_free(r);
	uint32_t i;

	if (n > free_slots)
		n = free_slots;
	for (i = 0; i < n; i++) {
		uint32_t slot = (r->head + i) & r->mask;

		if (svh_unlikely(svh_desc_check(r, &d[i], true) != 0))
			break;
		memcpy(&r->shm->desc[slot], &d[i], sizeof(d[i]));
		r->shadow[slot] = d[i].offset;
	}
	if (i) {
		r->head += i;
		svh_store_release(&r->shm->prod, r->head);
	}
	return i;
}

uint32_t svh_ring_prod_reap(struct svh_ring *r, svh_desc_t *out, uint8_t *ok, uint32_t max)
{
	uint32_t cons, done, n;

	if (svh_unlikely(r->broken))
		return 0;
	cons = svh_load_acquire(&r->shm->cons);
	done = cons - r->peer;
	/* cons may only move forward, and not past what we posted. */
	if (svh_unlikely(done > r->head - r->peer)) {
		svh_ring_break(r, SVH_RERR_PEER_INDEX);
		return 0;
	}
	n = done < max ? done : max;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = (r->peer + i) & r->mask;
		int err;

		svh_snapshot(&out[i], &r->shm->desc[slot], sizeof(out[i]));
		/* The offset is ours: never believe the one in the slot. */
		out[i].offset = r->shadow[slot];
		err = svh_desc_check(r, &out[i], false);
#ifdef SVH_TEST_DOUBLE_FETCH
		/* deliberately wrong, for tests/test_fetch only: fetch again after checking */
		out[i].len = svh_read_once(&r->shm->desc[slot].len);
#endif
		ok[i] = err == 0;
		if (svh_unlikely(err))
			r->stats.errors[err]++;
	}
	r->peer += n;
	return n;
}

uint32_t svh_ring_prod_cancel(struct svh_ring *r, uint64_t *offsets)
{
	uint32_t n = r->head - r->peer;

	for (uint32_t i = 0; i < n; i++)
		offsets[i] = r->shadow[(r->peer + i) & r->mask];
	/* cons may be anything a broken peer left: start the next session empty */
	r->head = r->peer = svh_load_acquire(&r->shm->cons);
	svh_write_once(&r->shm->prod_flags, 0);
	svh_store_release(&r->shm->prod, r->head);
	return n;
}

/* ---- need-wakeup ---------------------------------------------------------------- */

static uint32_t *own_flags(struct svh_ring *r)
{
	return r->role == SVH_RING_PRODUCER ? &r->shm->prod_flags : &r->shm->cons_flags;
}

void svh_ring_set_need_wakeup(struct svh_ring *r, bool on)
{
	svh_write_once(own_flags(r), on ? SVHOST_RING_NEED_WAKEUP : 0u);
	/* Order the flag store before the caller's re-check of the ring. */
	if (on)
		svh_mb();
}

bool svh_ring_peer_needs_wakeup(const struct svh_ring *r)
{
	const uint32_t *f = r->role == SVH_RING_PRODUCER ? &r->shm->cons_flags
							 : &r->shm->prod_flags;

	return (svh_read_once(f) & SVHOST_RING_NEED_WAKEUP) != 0;
}

int svh_eventfd_kick(int fd)
{
	uint64_t one = 1;

	if (fd < 0)
		return -EBADF;
	if (write(fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		return errno == EAGAIN ? 0 : -errno;
	return 0;
}

int svh_eventfd_drain(int fd)
{
	uint64_t v;

	if (fd < 0)
		return -EBADF;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

bool svh_ring_kick_if_needed(struct svh_ring *r)
{
	if (r->kick_fd < 0)
		return false;
	/* Our index store must be visible before we read the peer's flag
	 * (the peer stores its flag, then re-reads our index). */
	svh_mb();
	if (!svh_ring_peer_needs_wakeup(r))
		return false;
	if (svh_eventfd_kick(r->kick_fd) == 0)
		r->stats.kicks_sent++;
	return true;
}
