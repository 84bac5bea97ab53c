// SPDX-License-Identifier: BSD-3-Clause
/*
 * vswitch.c: the vSwitch (port owner) role of include/svhost/vswitch.h.
 *
 * Each ring owns a slice of the pool and a last-in-first-out free list of
 * its buffers, so a port keeps reusing the buffers it touched last and its
 * working set is what is in flight, not the pool: TO_GUEST posts packets
 * into the most recently freed buffers; TO_VSWITCH keeps only a bounded
 * number of empty buffers posted (post_max), re-posting those it reaped.
 *
 * Nothing here trusts the PD: the ring layer reads every index and slot
 * once and validates it (ring.c), buffer offsets always come from our own
 * shadow, packets are checked as a whole here (chain length, total length,
 * offload fields against the packet, offload fields only in the first
 * slot), and received bytes are only ever copied out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "compiler.h"
#include "log.h"
#include "offload.h"
#include "ring.h"
#include "svhost/vswitch.h"

/* rd[] entry marks (in our private copy's reserved field) */
#define RD_LIVE	0u	/* part of a valid packet (delivered or not yet) */
#define RD_DEAD	1u	/* dropped: buffer goes back at the next walk */
#define RD_BAD	2u	/* failed validation in the ring layer */

struct vsw_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t bad_packets;	/* send: bad metadata; recv: refused PD packets */
	uint64_t unused;	/* TO_VSWITCH: buffers the PD returned unused */
	uint64_t full;		/* send calls that stopped for lack of slots or buffers */
	uint64_t stop_dropped;	/* packets dropped by a stop */
};

struct vsw_ring {
	struct svh_ring r;		/* producer view: shadow, doorbells, ring errors */
	struct svhost_ring *shm;
	uint8_t dir;			/* enum svh_vsw_dir */
	bool started;
	bool notify;
	uint32_t first;			/* slice: pool buffers [first, first + count) */
	uint32_t count;
	uint32_t *free;			/* LIFO stack of buffer indexes */
	uint32_t nfree;
	uint32_t post_max;		/* TO_VSWITCH: empty buffers kept posted */
	uint32_t max_bufs;		/* buffers the largest packet needs */
	svh_desc_t *scratch;		/* ring_size entries */
	uint8_t *ok;
	uint64_t *offs;			/* ring_size: offsets taken back by a stop */
	uint8_t *eop;			/* TO_GUEST: per slot, "last buffer of a packet" */
	/* TO_VSWITCH: completed descriptors in slot order until released */
	svh_desc_t *rd;
	uint32_t rd_mask;
	uint32_t rd_rel;		/* oldest entry whose buffer we have not taken back */
	uint32_t rd_deliv;		/* oldest entry not yet parsed into a packet */
	uint32_t rd_tail;		/* next entry to fill */
	uint32_t held;			/* delivered packets not yet released */
	struct vsw_stats st;
} __attribute__((aligned(64)));

struct svh_vsw {
	struct svh_port port;
	bool test_memfd;
	uint32_t nrings;
	struct vsw_ring *rings;
};

static const char *const stat_names[] = {
	"packets", "bytes", "bad_packets", "unused_buffers", "ring_full", "stop_dropped",
	"kicks", "broken",
	"err_peer_index", "err_offset", "err_len", "err_flags", "err_reserved", "err_offload",
	"err_chain",
	"buffers_free", "buffers_posted", "buffers_held",
};
#define NSTATS (sizeof(stat_names) / sizeof(stat_names[0]))
_Static_assert(SVH_RERR_MAX == 7, "stat_names lists every ring error");

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static struct vsw_ring *ring_of(const struct svh_vsw *v, uint32_t qp, unsigned dir)
{
	if (svh_unlikely(!v || qp >= v->port.layout.queue_pairs || dir > 1))
		return NULL;
	return &v->rings[2 * qp + dir];
}

static inline void buf_push(struct vsw_ring *R, uint64_t offset, uint32_t buf_size)
{
	R->free[R->nfree++] = (uint32_t)(offset / buf_size);
}

static inline uint64_t buf_pop(struct vsw_ring *R, uint32_t buf_size)
{
	return (uint64_t)R->free[--R->nfree] * buf_size;
}

static void ring_free(struct vsw_ring *R)
{
	svh_ring_fini(&R->r);
	free(R->free);
	free(R->scratch);
	free(R->ok);
	free(R->offs);
	free(R->eop);
	free(R->rd);
}

static int ring_setup(struct svh_vsw *v, uint32_t idx, uint32_t slice)
{
	const struct svhost_layout *l = &v->port.layout;
	struct vsw_ring *R = &v->rings[idx];
	int rc;

	R->shm = svh_port_ring(&v->port, idx / 2, idx % 2);
	R->dir = (uint8_t)(idx % 2);
	R->first = idx * slice;
	R->count = slice;
	R->max_bufs = (SVH_MAX_PKT_LEN + l->buf_size - 1) / l->buf_size;
	/* enough for a batch or two of the largest packets, never the whole
	 * ring by default: the fewer buffers cycle, the smaller the working set */
	R->post_max = 2 * R->max_bufs > 128 ? 2 * R->max_bufs : 128;
	if (R->post_max > l->ring_size)
		R->post_max = l->ring_size;
	if (R->post_max > slice)
		R->post_max = slice;
	rc = svh_ring_init(&R->r, R->shm, SVH_RING_PRODUCER, l->ring_size, v->port.pool,
			   l->buf_size, l->buf_count, true);
	if (rc)
		return rc;
	R->free = calloc(slice, sizeof(*R->free));
	R->scratch = calloc(l->ring_size, sizeof(*R->scratch));
	R->ok = calloc(l->ring_size, 1);
	R->offs = calloc(l->ring_size, sizeof(*R->offs));
	R->eop = calloc(l->ring_size, 1);
	R->rd_mask = pow2_at_least(slice) - 1;
	R->rd = calloc((size_t)R->rd_mask + 1, sizeof(*R->rd));
	if (!R->free || !R->scratch || !R->ok || !R->offs || !R->eop || !R->rd)
		return -ENOMEM;
	/* LIFO: the lowest buffers on top, so a quiet port touches few pages */
	for (uint32_t i = 0; i < slice; i++)
		R->free[i] = R->first + slice - 1 - i;
	R->nfree = slice;
	return 0;
}

SVH_API int svh_vsw_create(struct svh_vsw **out, const char *port_name,
			   const struct svh_vsw_opts *opts)
{
	struct svh_vsw_opts o = { .sz = sizeof(o), .queue_pairs = 1, .ring_size = 256,
				  .buf_size = 2048 };
	struct svh_port_params pp;
	struct svh_vsw *v;
	uint32_t slice, nrings, max_bufs;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts) {
		rc = svh_opts_check(opts, opts->sz, offsetof(struct svh_vsw_opts, buf_count) +
				    sizeof(opts->buf_count), sizeof(o));
		if (rc)
			return rc;
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	}
	if (o.flags & ~(SVH_VSW_F_TEST_MEMFD | SVH_VSW_F_TEST_HUGETLB))
		return -EINVAL;
	if ((o.flags & SVH_VSW_F_TEST_HUGETLB) && !(o.flags & SVH_VSW_F_TEST_MEMFD))
		return -EINVAL;
	if (!svh_port_name_valid(port_name))
		return -EINVAL;
	if (o.queue_pairs == 0 || o.queue_pairs > SVHOST_MAX_QUEUE_PAIRS)
		return -EINVAL;
	if (o.ring_size < SVHOST_MIN_RING_SIZE || o.ring_size > SVHOST_MAX_RING_SIZE ||
	    (o.ring_size & (o.ring_size - 1)))
		return -EINVAL;
	if (o.buf_size < SVHOST_MIN_BUF_SIZE || o.buf_size > SVHOST_MAX_BUF_SIZE ||
	    (o.buf_size & (o.buf_size - 1)))
		return -EINVAL;
	nrings = 2 * o.queue_pairs;
	if (o.buf_count == 0)
		o.buf_count = nrings * o.ring_size;
	if (o.buf_count > SVHOST_MAX_BUF_COUNT)
		return -EINVAL;
	slice = o.buf_count / nrings;
	max_bufs = (SVH_MAX_PKT_LEN + o.buf_size - 1) / o.buf_size;
	if (slice < max_bufs) {
		svh_warn("port '%s': %u buffers give each of the %u rings %u, fewer than the "
			 "%u the largest packet needs", port_name, o.buf_count, nrings, slice,
			 max_bufs);
		return -EINVAL;
	}

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	pp = (struct svh_port_params){ .queue_pairs = o.queue_pairs, .ring_size = o.ring_size,
				       .buf_size = o.buf_size, .buf_count = o.buf_count };
	if (o.flags & SVH_VSW_F_TEST_MEMFD) {
		svh_warn("port '%s': TEST-ONLY memfd pool requested: no broker, no isolation "
			 "between VMs, no protection key; never use this in production",
			 port_name);
		v->test_memfd = true;
		pp.hugetlb = o.flags & SVH_VSW_F_TEST_HUGETLB;
		rc = svh_port_create_local(&v->port, port_name, &pp);
	} else {
		rc = svh_port_create(&v->port, port_name, &pp);
	}
	if (rc) {
		free(v);
		return rc;
	}
	v->nrings = nrings;
	v->rings = aligned_alloc(64, sizeof(*v->rings) * nrings);
	if (!v->rings) {
		svh_port_close(&v->port);
		free(v);
		return -ENOMEM;
	}
	memset(v->rings, 0, sizeof(*v->rings) * nrings);
	for (uint32_t i = 0; i < nrings; i++) {
		rc = ring_setup(v, i, slice);
		if (rc) {
			v->nrings = i + 1;
			svh_vsw_destroy(v);
			return rc;
		}
	}
	svh_info("port '%s' created: %u queue pairs, rings of %u, %u buffers of %u bytes "
		 "(%u per ring)%s", port_name, o.queue_pairs, o.ring_size, o.buf_count,
		 o.buf_size, slice, v->test_memfd ? ", TEST-ONLY memfd pool" : "");
	*out = v;
	return 0;
}

SVH_API void svh_vsw_destroy(struct svh_vsw *v)
{
	if (!v)
		return;
	for (uint32_t i = 0; i < v->nrings; i++) {
		if (v->rings[i].started)
			svh_vsw_ring_stop(v, i / 2, i % 2);
		ring_free(&v->rings[i]);
	}
	/* the broker shows OWNER_GONE when our file goes; a memfd port says it here */
	if (v->test_memfd)
		svh_port_local_set_state(&v->port, SVHOST_STATE_OWNER_GONE, SVHOST_REASON_NONE);
	svh_port_close(&v->port);
	free(v->rings);
	free(v);
}

SVH_API const char *svh_vsw_name(const struct svh_vsw *v)
{
	return v ? v->port.name : NULL;
}

SVH_API int svh_vsw_geometry(const struct svh_vsw *v, uint32_t *queue_pairs,
			     uint32_t *ring_size, uint32_t *buf_size, uint32_t *buf_count)
{
	if (!v)
		return -EINVAL;
	if (queue_pairs)
		*queue_pairs = v->port.layout.queue_pairs;
	if (ring_size)
		*ring_size = v->port.layout.ring_size;
	if (buf_size)
		*buf_size = v->port.layout.buf_size;
	if (buf_count)
		*buf_count = v->port.layout.buf_count;
	return 0;
}

SVH_API int svh_vsw_test_memfds(const struct svh_vsw *v, int *ctl_fd, int *pool_fd)
{
	if (!v || !ctl_fd || !pool_fd)
		return -EINVAL;
	if (!v->test_memfd)
		return -EOPNOTSUPP;
	*ctl_fd = v->port.ctl_memfd;
	*pool_fd = v->port.pool_memfd;
	return 0;
}

SVH_API bool svh_vsw_copier_attached(const struct svh_vsw *v)
{
	return v && v->port.hdr &&
	       svh_load_acquire(&v->port.hdr->state) == SVHOST_STATE_ATTACHED;
}

/* ---- per ring control ----------------------------------------------------------------- */

SVH_API int svh_vsw_set_doorbells(struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir,
				  int call_fd, int kick_fd)
{
	struct vsw_ring *R = ring_of(v, qp, dir);

	if (!R)
		return -EINVAL;
	/* our kick_fd in ring terms is the fd we write: the PD's call fd */
	svh_ring_set_fds(&R->r, call_fd < 0 ? -1 : call_fd, kick_fd < 0 ? -1 : kick_fd);
	return 0;
}

SVH_API int svh_vsw_set_notify(struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir, bool on)
{
	struct vsw_ring *R = ring_of(v, qp, dir);

	if (!R)
		return -EINVAL;
	R->notify = on;
	if (R->started)
		svh_ring_set_need_wakeup(&R->r, on);
	return 0;
}

/*
 * TO_VSWITCH: keep post_max buffers in circulation, posted or completed and
 * not yet released (so a caller that releases at once reposts the very
 * buffers it just copied out of).  Returns how many were posted.
 */
static uint32_t top_up(struct svh_vsw *v, struct vsw_ring *R)
{
	const uint32_t bs = v->port.layout.buf_size;
	uint32_t out = svh_ring_prod_outstanding(&R->r) + (R->rd_tail - R->rd_rel), want, room;

	if (!R->started || R->r.broken || out >= R->post_max)
		return 0;
	want = R->post_max - out;
	room = svh_ring_prod_free(&R->r);
	if (want > room)
		want = room;
	if (want > R->nfree)
		want = R->nfree;
	for (uint32_t i = 0; i < want; i++)
		R->scratch[i] = (svh_desc_t){ .offset = buf_pop(R, bs) };
	if (want) {
		svh_ring_prod_post(&R->r, R->scratch, want);
		svh_ring_kick_if_needed(&R->r);
	}
	return want;
}

/* TO_GUEST: buffers of completed slots back to the free list. */
static void reap_sent(struct svh_vsw *v, struct vsw_ring *R)
{
	const uint32_t bs = v->port.layout.buf_size;
	uint32_t n;

	while ((n = svh_ring_prod_reap(&R->r, R->scratch, R->ok, v->port.layout.ring_size)))
		for (uint32_t i = 0; i < n; i++)
			buf_push(R, R->scratch[i].offset, bs);
}

/* TO_VSWITCH: completed slots into rd[], in slot order. */
static void reap_received(struct svh_vsw *v, struct vsw_ring *R)
{
	uint32_t n = svh_ring_prod_reap(&R->r, R->scratch, R->ok, v->port.layout.ring_size);

	for (uint32_t i = 0; i < n; i++) {
		svh_desc_t *e = &R->rd[R->rd_tail++ & R->rd_mask];

		*e = R->scratch[i];
		/* reserved is zero in every descriptor that passed; mark ours */
		e->reserved = R->ok[i] ? RD_LIVE : RD_BAD;
	}
}

/* Give back the buffers of everything before rd_deliv when no packet is held. */
static void free_dead(struct svh_vsw *v, struct vsw_ring *R)
{
	if (R->held)
		return;
	while (R->rd_rel != R->rd_deliv)
		buf_push(R, R->rd[R->rd_rel++ & R->rd_mask].offset, v->port.layout.buf_size);
}

SVH_API int svh_vsw_ring_start(struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir)
{
	struct vsw_ring *R = ring_of(v, qp, dir);
	int rc;

	if (!R)
		return -EINVAL;
	if (R->started)
		return -EBUSY;
	rc = svh_ring_restart(&R->r, R->shm, v->port.pool);
	if (rc)
		return rc;
	if (R->notify)
		svh_ring_set_need_wakeup(&R->r, true);
	R->started = true;
	if (dir == SVH_VSW_TO_VSWITCH)
		top_up(v, R);
	return 0;
}

SVH_API int svh_vsw_ring_stop(struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir)
{
	const uint32_t bs = v ? v->port.layout.buf_size : 0;
	struct vsw_ring *R = ring_of(v, qp, dir);
	uint32_t n;

	if (!R)
		return -EINVAL;
	if (!R->started)
		return 0;
	if (dir == SVH_VSW_TO_GUEST) {
		reap_sent(v, R);
		/* packets posted and not delivered: count them, take the buffers */
		for (uint32_t i = R->r.peer; i != R->r.head; i++)
			R->st.stop_dropped += R->eop[i & R->r.mask];
	} else {
		reap_received(v, R);
		/* completed but not parsed yet: dropped */
		for (uint32_t i = R->rd_deliv; i != R->rd_tail; i++) {
			svh_desc_t *e = &R->rd[i & R->rd_mask];

			if (e->reserved == RD_BAD || !(e->flags & SVHOST_DESC_F_NEXT) ||
			    i + 1 == R->rd_tail)
				R->st.stop_dropped++;
			e->reserved = RD_DEAD;
		}
		R->rd_deliv = R->rd_tail;
		free_dead(v, R);
	}
	n = svh_ring_prod_cancel(&R->r, R->offs);
	for (uint32_t i = 0; i < n; i++)
		buf_push(R, R->offs[i], bs);
	R->started = false;
	return 0;
}

/* ---- vSwitch -> guest ---------------------------------------------------------------- */

/* Gather len bytes from an iovec into k consecutive pool buffers of scratch[at..]. */
static void copy_in(struct svh_vsw *v, struct vsw_ring *R, const struct svh_vsw_pkt *p,
		    uint32_t at, uint32_t k)
{
	const uint32_t bs = v->port.layout.buf_size;
	uint32_t vi = 0, voff = 0, left = p->len;

	for (uint32_t j = 0; j < k; j++) {
		svh_desc_t *d = &R->scratch[at + j];
		uint8_t *dst = v->port.pool + d->offset;
		uint32_t room = left < bs ? left : bs, fill = 0;

		while (fill < room) {
			const struct iovec *io = &p->iov[vi];
			uint32_t c = (uint32_t)io->iov_len - voff;

			if (c > room - fill)
				c = room - fill;
			memcpy(dst + fill, (const uint8_t *)io->iov_base + voff, c);
			fill += c;
			voff += c;
			if (voff == io->iov_len) {
				vi++;
				voff = 0;
			}
		}
		d->len = room;
		left -= room;
	}
}

/* Sum of the iov lengths, or UINT64_MAX when not sane. */
static uint64_t iov_total(const struct iovec *iov, uint32_t cnt)
{
	uint64_t t = 0;

	if (!iov && cnt)
		return UINT64_MAX;
	for (uint32_t i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SVH_MAX_PKT_LEN || (iov[i].iov_len && !iov[i].iov_base))
			return UINT64_MAX;
		t += iov[i].iov_len;
	}
	return t;
}

SVH_API unsigned svh_vsw_send(struct svh_vsw *v, uint32_t qp, const struct svh_vsw_pkt *pkts,
			      unsigned n)
{
	struct vsw_ring *R = ring_of(v, qp, SVH_VSW_TO_GUEST);
	uint32_t bs, slots, at = 0;
	uint64_t bytes = 0;
	unsigned i, sent = 0;

	if (svh_unlikely(!R || !R->started || R->r.broken || (!pkts && n)))
		return 0;
	bs = v->port.layout.buf_size;
	reap_sent(v, R);
	slots = svh_ring_prod_free(&R->r);
	for (i = 0; i < n; i++) {
		const struct svh_vsw_pkt *p = &pkts[i];
		uint32_t k;

		if (svh_unlikely(p->len == 0 || p->len > SVH_MAX_PKT_LEN ||
				 iov_total(p->iov, p->iovcnt) != p->len ||
				 svh_vnet_check(&p->hdr, p->len))) {
			R->st.bad_packets++;	/* skipped: counts as sent */
			continue;
		}
		k = (p->len + bs - 1) / bs;
		if (k > slots - at || k > R->nfree) {
			R->st.full++;
			break;
		}
		for (uint32_t j = 0; j < k; j++) {
			svh_desc_t *d = &R->scratch[at + j];

			*d = (svh_desc_t){ .offset = buf_pop(R, bs) };
			if (j + 1 < k)
				d->flags = SVHOST_DESC_F_NEXT;
			R->eop[(R->r.head + at + j) & R->r.mask] = j + 1 == k;
		}
		svh_vnet_to_desc(&p->hdr, &R->scratch[at]);
		copy_in(v, R, p, at, k);
		at += k;
		bytes += p->len;
		sent++;
	}
	if (at) {
		svh_ring_prod_post(&R->r, R->scratch, at);
		svh_ring_kick_if_needed(&R->r);
	}
	R->st.packets += sent;
	R->st.bytes += bytes;
	return i;
}

/* ---- guest -> vSwitch ------------------------------------------------------------------- */

SVH_API unsigned svh_vsw_recv(struct svh_vsw *v, uint32_t qp, struct svh_vsw_rx *rx, unsigned n)
{
	struct vsw_ring *R = ring_of(v, qp, SVH_VSW_TO_VSWITCH);
	unsigned k = 0;

	if (svh_unlikely(!R || !R->started || (!rx && n)))
		return 0;
	reap_received(v, R);
	while (k < n && R->rd_deliv != R->rd_tail) {
		uint32_t i = R->rd_deliv, cnt = 0;
		uint64_t total = 0;
		bool bad = false, done = false;
		svh_desc_t *first = &R->rd[i & R->rd_mask];
		struct virtio_net_hdr h;

		for (; i != R->rd_tail; i++) {
			const svh_desc_t *e = &R->rd[i & R->rd_mask];

			cnt++;
			if (e->reserved == RD_BAD || (cnt > 1 && (e->flags & SVHOST_DESC_F_OFFLOAD)))
				bad = true;
			total += e->len;
			if (bad || !(e->flags & SVHOST_DESC_F_NEXT) || cnt == R->max_bufs) {
				/* a run as long as the largest packet and still going: bad */
				if (!bad && (e->flags & SVHOST_DESC_F_NEXT))
					bad = true;
				done = true;
				break;
			}
		}
		if (!done)
			break;	/* the rest of the packet is not completed yet */
		if (!bad && cnt == 1 && first->len == 0 && first->flags == 0) {
			R->st.unused++;
			first->reserved = RD_DEAD;
			R->rd_deliv = i + 1;
			continue;
		}
		if (!bad && (total == 0 || total > SVH_MAX_PKT_LEN))
			bad = true;
		if (!bad) {
			svh_desc_to_vnet(first, &h);
			if (svh_vnet_check(&h, total)) {
				R->r.stats.errors[SVH_RERR_OFFLOAD]++;
				bad = true;
			}
		}
		if (bad) {
			R->st.bad_packets++;
			for (uint32_t j = R->rd_deliv; j != i + 1; j++)
				R->rd[j & R->rd_mask].reserved = RD_DEAD;
			R->rd_deliv = i + 1;
			continue;
		}
		rx[k].len = (uint32_t)total;
		rx[k].hdr = h;
		rx[k].priv[0] = R->rd_deliv;
		rx[k].priv[1] = cnt;
		R->st.packets++;
		R->st.bytes += total;
		R->held++;
		k++;
		R->rd_deliv = i + 1;
	}
	free_dead(v, R);
	top_up(v, R);
	return k;
}

SVH_API int svh_vsw_recv_copy(struct svh_vsw *v, uint32_t qp, const struct svh_vsw_rx *rx,
			      uint32_t off, const struct iovec *iov, uint32_t iovcnt)
{
	struct vsw_ring *R = ring_of(v, qp, SVH_VSW_TO_VSWITCH);
	uint32_t start, cnt, window, si, soff, copied = 0;
	uint64_t total = 0, want;

	if (svh_unlikely(!R || !rx))
		return -EINVAL;
	/* rx is the caller's memory: believe only what our own record says */
	start = rx->priv[0];
	cnt = rx->priv[1];
	window = R->rd_deliv - R->rd_rel;
	if (svh_unlikely(cnt == 0 || cnt > R->max_bufs || start - R->rd_rel >= window ||
			 cnt > window - (start - R->rd_rel) ||
			 R->rd[start & R->rd_mask].reserved != RD_LIVE))
		return -EINVAL;
	for (uint32_t j = 0; j < cnt; j++)
		total += R->rd[(start + j) & R->rd_mask].len;
	want = iov_total(iov, iovcnt);
	if (svh_unlikely(want == UINT64_MAX || off > total || want > total - off))
		return -EINVAL;
	/* find the buffer holding byte off */
	si = start;
	soff = off;
	while (soff && soff >= R->rd[si & R->rd_mask].len) {
		soff -= R->rd[si & R->rd_mask].len;
		si++;
	}
	for (uint32_t vi = 0; vi < iovcnt; vi++) {
		uint8_t *dst = iov[vi].iov_base;
		uint32_t need = (uint32_t)iov[vi].iov_len;

		while (need) {
			const svh_desc_t *e = &R->rd[si & R->rd_mask];
			uint32_t c = e->len - soff;

			if (c == 0) {	/* an empty buffer inside the chain */
				si++;
				soff = 0;
				continue;
			}
			if (c > need)
				c = need;
			memcpy(dst, v->port.pool + e->offset + soff, c);
			dst += c;
			need -= c;
			soff += c;
			copied += c;
		}
	}
	return (int)copied;
}

SVH_API void svh_vsw_recv_release(struct svh_vsw *v, uint32_t qp, unsigned n)
{
	struct vsw_ring *R = ring_of(v, qp, SVH_VSW_TO_VSWITCH);
	uint32_t bs;
	unsigned released = 0;

	if (svh_unlikely(!R))
		return;
	bs = v->port.layout.buf_size;
	while (R->rd_rel != R->rd_deliv) {
		const svh_desc_t *e = &R->rd[R->rd_rel & R->rd_mask];

		if (e->reserved == RD_LIVE) {
			if (released == n)
				break;
			if (!(e->flags & SVHOST_DESC_F_NEXT))
				released++;
		}
		buf_push(R, e->offset, bs);
		R->rd_rel++;
	}
	R->held -= released < R->held ? released : R->held;
	top_up(v, R);
}

/* ---- counters ------------------------------------------------------------------------------ */

SVH_API int svh_vsw_stats(const struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir,
			  struct svh_stat *tbl, unsigned n)
{
	const struct vsw_ring *R = ring_of(v, qp, dir);
	uint64_t val[NSTATS];
	unsigned k = 0;

	if (!R || (!tbl && n))
		return -EINVAL;
#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
	val[k++] = RD(R->st.packets);
	val[k++] = RD(R->st.bytes);
	val[k++] = RD(R->st.bad_packets);
	val[k++] = RD(R->st.unused);
	val[k++] = RD(R->st.full);
	val[k++] = RD(R->st.stop_dropped);
	val[k++] = RD(R->r.stats.kicks_sent);
	val[k++] = RD(R->r.stats.breaks);
	for (int e = 0; e < SVH_RERR_MAX; e++)
		val[k++] = RD(R->r.stats.errors[e]);
	val[k++] = RD(R->nfree);
	val[k++] = RD(R->r.head) - RD(R->r.peer);
	val[k++] = R->count - RD(R->nfree) - (RD(R->r.head) - RD(R->r.peer));
#undef RD
	for (unsigned i = 0; i < n && i < NSTATS; i++) {
		tbl[i].name = stat_names[i];
		tbl[i].value = val[i];
	}
	return (int)NSTATS;
}
