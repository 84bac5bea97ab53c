// SPDX-License-Identifier: BSD-3-Clause
/*
 * pd.c: the PD copy loop (guest TX -> TO_VSWITCH ring, TO_GUEST ring ->
 * guest RX) and the PD thread's scheduling (busy poll, SCHED_FIFO + yield,
 * adaptive poll-then-sleep).  All validation of guest and vSwitch data is
 * done by virtq.c and ring.c on private snapshots; this file only copies
 * between already-validated ranges, and re-checks packet-level rules (total
 * length, header consistency) that no single descriptor can.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"
#include "log.h"
#include "pd.h"

static const char *const drop_names[SVH_DROP_MAX] = {
	[SVH_DROP_GUEST_HDR] = "guest_hdr",
	[SVH_DROP_TOO_BIG] = "too_big",
	[SVH_DROP_EMPTY] = "empty",
	[SVH_DROP_BAD_DESC] = "bad_desc",
	[SVH_DROP_RX_TOO_SMALL] = "rx_too_small",
};

const char *svh_drop_name(int reason)
{
	if (reason < 0 || reason >= SVH_DROP_MAX)
		return "unknown";
	return drop_names[reason];
}

const char *svh_sched_name(enum svh_sched mode)
{
	switch (mode) {
	case SVH_SCHED_POLL: return "poll";
	case SVH_SCHED_FIFO_YIELD: return "fifo-yield";
	case SVH_SCHED_ADAPTIVE: return "adaptive";
	}
	return "unknown";
}

int svh_qp_init(struct svh_qp *qp, const struct svh_qp_cfg *cfg)
{
	int rc;

	memset(qp, 0, sizeof(*qp));
	svh_log_init(&qp->nolog, NULL, 0);
	rc = svh_ring_init(&qp->to_vswitch, cfg->to_vswitch, SVH_RING_CONSUMER, cfg->ring_size,
			   cfg->pool, cfg->buf_size, cfg->buf_count, false);
	if (rc)
		return rc;
	rc = svh_ring_init(&qp->to_guest, cfg->to_guest, SVH_RING_CONSUMER, cfg->ring_size,
			   cfg->pool, cfg->buf_size, cfg->buf_count, false);
	if (rc)
		return rc;
	/* the PD writes each TO_VSWITCH slot it takes: prefetch those for writing */
	qp->to_vswitch.fill_slots = true;
	svh_ring_set_fds(&qp->to_vswitch, cfg->ring_kick_fd, cfg->ring_wait_fd);
	svh_ring_set_fds(&qp->to_guest, cfg->ring_kick_fd, cfg->ring_wait_fd);
	rc = svh_vq_init(&qp->txq, cfg->gm, cfg->log ? cfg->log : &qp->nolog, &cfg->txq);
	if (rc)
		return rc;
	return svh_vq_init(&qp->rxq, cfg->gm, cfg->log ? cfg->log : &qp->nolog, &cfg->rxq);
}

void svh_qp_fini(struct svh_qp *qp)
{
	svh_ring_fini(&qp->to_vswitch);
	svh_ring_fini(&qp->to_guest);
}

/*
 * Prefetch distances, in packets ahead of the one being copied.  A cache
 * line written by the other core takes ~500 TSC cycles to arrive on the test
 * machine while the PD spends 60-160 cycles per packet, so the loads must be
 * issued several packets early: the head descriptor PF_DESC chains ahead,
 * then (once that descriptor has arrived) the start of its buffer PF_BUF
 * chains ahead, and the pool buffer PF_POOL ring slots ahead.  Prefetches
 * are hints: see svh_prefetch() and svh_vq_prefetch_*().
 */
#define PF_DESC	8
#define PF_BUF	4
#define PF_POOL	4
/* bytes of one buffer prefetched ahead (its first and last line); more was
 * measured slower: the hardware prefetcher streams the rest */
#define PF_MAX_BYTES	128u

/* Bytes to prefetch for the next packets: the size of the last one, bounded. */
static inline uint32_t pf_hint(uint64_t len)
{
	return len < PF_MAX_BYTES ? (uint32_t)len : PF_MAX_BYTES;
}

static inline void vq_prefetch_start(struct svh_vq *vq, unsigned burst, bool write,
				     uint32_t bytes)
{
	svh_vq_prefetch_ring(vq, (uint16_t)burst);
	for (uint16_t k = 0; k < PF_DESC; k++)
		svh_vq_prefetch_desc(vq, k);
	for (uint16_t k = 0; k < PF_BUF; k++)
		svh_vq_prefetch_buf(vq, k, write, bytes);
}

/* Before popping the next chain: prefetch the ones PF_DESC / PF_BUF ahead. */
static inline void vq_prefetch_next(struct svh_vq *vq, bool write, uint32_t bytes)
{
	svh_vq_prefetch_desc(vq, PF_DESC);
	svh_vq_prefetch_buf(vq, PF_BUF, write, bytes);
}

/*
 * Pool buffer of peeked slot i (its offset is validated only when rok[i]):
 * first and last line of the bytes the producer wrote (reading; len <=
 * buf_size was checked) or of the bytes we expect to write, both bounded by
 * PF_MAX_BYTES.
 */
static inline void pool_prefetch(const struct svh_qp *qp, const struct svh_ring *r, uint32_t i,
				 uint32_t n, bool write, uint32_t bytes)
{
	const uint8_t *p;
	uint32_t len;

	if (i >= n || !qp->rok[i])
		return;
	p = svh_ring_buf(r, qp->rdesc[i].offset);
	len = write ? bytes : pf_hint(qp->rdesc[i].len);
	if (len > r->buf_size)
		len = r->buf_size;
	if (!len)
		return;
	/* first and last line: the hardware prefetcher streams larger buffers */
	if (write) {
		svh_prefetch_w(p);
		svh_prefetch_w(p + len - 1);
	} else {
		svh_prefetch(p);
		svh_prefetch(p + len - 1);
	}
}

/* Copy len bytes starting at byte off of a chain into dst. */
static void chain_read(const struct svh_chain *c, uint64_t off, void *dst, uint32_t len)
{
	uint8_t *d = dst;

	for (uint32_t i = 0; i < c->nseg && len; i++) {
		const struct svh_iov *s = &c->seg[i];
		uint32_t k;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		k = s->len - (uint32_t)off;
		if (k > len)
			k = len;
		memcpy(d, (const uint8_t *)s->base + off, k);
		d += k;
		len -= k;
		off = 0;
	}
}

/*
 * Next valid empty pool buffer from the TO_VSWITCH ring, peeking more slots
 * as needed.  Invalid slots (already counted by the ring) are handed back as
 * "returned unused" (len 0, no flags).  Returns the scratch index or -1.
 */
static int tx_next_buf(struct svh_qp *qp, uint32_t *n, uint32_t *cur, uint32_t chunk,
		       uint32_t hint)
{
	struct svh_ring *r = &qp->to_vswitch;

	for (;;) {
		if (*cur == *n) {
			uint32_t room = SVH_PD_SCRATCH - *n, got;

			if (room > chunk)
				room = chunk;
			if (!room)
				return -1;
			got = svh_ring_cons_peek(r, &qp->rdesc[*n], &qp->rok[*n], room);
			if (!got)
				return -1;
			for (uint32_t i = 0; i < PF_POOL && i < got; i++)
				pool_prefetch(qp, r, *n + i, *n + got, true, hint);
			*n += got;
		}
		if (svh_likely(qp->rok[*cur])) {
			pool_prefetch(qp, r, *cur + PF_POOL, *n, true, hint);
			return (int)(*cur)++;
		}
		{
			svh_desc_t unused = { .offset = qp->rdesc[*cur].offset };

			svh_ring_cons_fill(r, *cur, &unused);
		}
		(*cur)++;
	}
}

unsigned svh_pd_tx_burst(struct svh_qp *qp, unsigned burst)
{
	struct svh_vq *vq = &qp->txq;
	struct svh_ring *r = &qp->to_vswitch;
	struct svh_dir_stats *st = &qp->st[SVH_DIR_TO_VSWITCH];
	struct svh_chain *c = &qp->chain;
	uint32_t n = 0, cur = 0;
	unsigned pkts = 0, pushed = 0;
	const uint64_t max_len = (uint64_t)r->size * r->buf_size;
	uint32_t hint = 128;	/* bytes of the last packet: what to prefetch next */

	if (svh_unlikely(!svh_qp_dir_ready(vq, r)))
		return 0;
	if (burst > SVH_PD_MAX_BURST)
		burst = SVH_PD_MAX_BURST;
	/* avail->idx is read once per burst (again only if the burst drains it) */
	if (vq->last_avail == vq->avail_idx && svh_vq_avail(vq) == 0)
		return 0;
	vq_prefetch_start(vq, burst, false, hint);

	while (pkts < burst) {
		struct virtio_net_hdr_mrg_rxbuf h;
		svh_desc_t first = { 0 };
		uint64_t plen, left;
		uint32_t start = cur, si = 0, soff = 0;
		bool have_bufs = true, is_first = true;
		int rc;

		vq_prefetch_next(vq, false, hint);
		rc = svh_vq_pop(vq, c, false);

		if (rc <= 0)
			break;
		if (svh_unlikely(c->len < SVH_VNET_HDR_LEN)) {
			st->drops[SVH_DROP_GUEST_HDR]++;
			goto drop;
		}
		plen = c->len - SVH_VNET_HDR_LEN;
		hint = pf_hint(c->len);
		if (svh_unlikely(plen == 0)) {
			st->drops[SVH_DROP_EMPTY]++;
			goto drop;
		}
		if (svh_unlikely(plen > SVH_MAX_PKT_LEN || plen > max_len)) {
			st->drops[SVH_DROP_TOO_BIG]++;
			goto drop;
		}
		chain_read(c, 0, &h, SVH_VNET_HDR_LEN);	/* private copy, checked once */
		if (svh_unlikely(svh_vnet_check(&h.hdr, plen))) {
			st->drops[SVH_DROP_GUEST_HDR]++;
			goto drop;
		}
		svh_vnet_to_desc(&h.hdr, &first);
		/* position the source cursor after the header */
		for (uint32_t skip = SVH_VNET_HDR_LEN; skip;) {
			uint32_t k = c->seg[si].len - soff;

			if (k > skip)
				k = skip;
			soff += k;
			skip -= k;
			if (soff == c->seg[si].len) {
				si++;
				soff = 0;
			}
		}
		left = plen;
		while (left) {
			int b = tx_next_buf(qp, &n, &cur, burst, hint);
			svh_desc_t out = { 0 };
			uint8_t *dst;
			uint32_t room, fill = 0;

			if (b < 0) {
				have_bufs = false;
				break;
			}
			dst = svh_ring_buf(r, qp->rdesc[b].offset);
			room = left < r->buf_size ? (uint32_t)left : r->buf_size;
			while (fill < room) {
				const struct svh_iov *s = &c->seg[si];
				uint32_t k = s->len - soff;

				if (k > room - fill)
					k = room - fill;
				memcpy(dst + fill, (const uint8_t *)s->base + soff, k);
				fill += k;
				soff += k;
				if (soff == s->len) {
					si++;
					soff = 0;
				}
			}
			left -= room;
			if (is_first) {
				out = first;
				is_first = false;
			}
			out.offset = qp->rdesc[b].offset;
			out.len = room;
			out.flags = (uint16_t)((out.flags & SVHOST_DESC_F_OFFLOAD) |
					       (left ? SVHOST_DESC_F_NEXT : 0));
			out.reserved = 0;
			svh_ring_cons_fill(r, (uint32_t)b, &out);
		}
		if (!have_bufs) {
			/* the vSwitch has not posted enough buffers: retry later */
			cur = start;
			svh_vq_unpop(vq, 1);
			st->stalls++;
			break;
		}
		st->packets++;
		st->bytes += plen;
		pkts++;
drop:
		svh_vq_push(vq, c->head, 0);
		pushed++;
	}
	if (cur)
		svh_ring_cons_complete(r, cur);
	if (n > cur)
		svh_ring_cons_unpeek(r, n - cur);
	if (pushed) {
		svh_vq_flush(vq);
		if (svh_vq_notify(vq))
			st->guest_irqs++;
	}
	if (cur && svh_ring_kick_if_needed(r))
		st->peer_kicks++;
	return pkts;
}

/* Where the virtio-net header of the packet being received goes. */
struct hdr_dst {
	unsigned n;
	struct svh_iov iov[SVH_VNET_HDR_LEN];
};

unsigned svh_pd_rx_burst(struct svh_qp *qp, unsigned burst)
{
	struct svh_vq *vq = &qp->rxq;
	struct svh_ring *r = &qp->to_guest;
	struct svh_dir_stats *st = &qp->st[SVH_DIR_TO_GUEST];
	struct svh_chain *c = &qp->chain;
	const uint32_t max_bufs = (SVH_MAX_PKT_LEN + r->buf_size - 1) / r->buf_size;
	uint32_t n, cur = 0;
	unsigned pkts = 0, pushed = 0;

	if (svh_unlikely(!svh_qp_dir_ready(vq, r)))
		return 0;
	if (burst > SVH_PD_MAX_BURST)
		burst = SVH_PD_MAX_BURST;
	/* Look at about one descriptor per packet; more when packets span buffers. */
	n = svh_ring_cons_peek(r, qp->rdesc, qp->rok, burst);
	if (!n)
		return 0;
	for (uint32_t i = 0; i < PF_POOL; i++)
		pool_prefetch(qp, r, i, n, false, 0);
	if (vq->last_avail == vq->avail_idx)
		svh_vq_avail(vq);
	vq_prefetch_start(vq, burst, true, pf_hint(SVH_VNET_HDR_LEN + (uint64_t)qp->rdesc[0].len));

	while (pkts < burst && cur < n) {
		const svh_desc_t *first = &qp->rdesc[cur];
		struct virtio_net_hdr_mrg_rxbuf h;
		struct hdr_dst hd;	/* only hd.iov[0..hd.n) is ever read */
		uint32_t end = cur, cnt, sj, soff = 0, nch = 0;
		uint64_t total = 0, left;
		bool bad = false, stall = false, small = false;

		hd.n = 0;	/* not "= { 0 }": that zeroed 296 bytes per packet */
		pool_prefetch(qp, r, cur + PF_POOL, n, false, 0);
		for (;;) {
			while (end < n && (qp->rdesc[end].flags & SVHOST_DESC_F_NEXT) &&
			       end - cur < max_bufs)
				end++;
			if (end < n || end - cur >= max_bufs || n == SVH_PD_SCRATCH)
				break;
			/* the packet continues past what we looked at: look further */
			{
				uint32_t more = SVH_PD_SCRATCH - n;

				if (more > max_bufs)
					more = max_bufs;
				more = svh_ring_cons_peek(r, &qp->rdesc[n], &qp->rok[n], more);
				if (!more)
					break;
				n += more;
			}
		}
		if (svh_unlikely(end - cur >= max_bufs)) {
			/* longer than any packet can be: the producer is broken */
			svh_ring_break(r, SVH_RERR_CHAIN);
			break;
		}
		if (end == n)
			break;	/* rest of the packet not posted yet */
		cnt = end - cur + 1;
		for (uint32_t j = cur; j <= end; j++) {
			if (!qp->rok[j] || (j > cur && (qp->rdesc[j].flags & SVHOST_DESC_F_OFFLOAD)))
				bad = true;
			total += qp->rdesc[j].len;
		}
		if (svh_unlikely(bad)) {
			st->drops[SVH_DROP_BAD_DESC]++;
			cur += cnt;
			continue;
		}
		if (svh_unlikely(total == 0 || total > SVH_MAX_PKT_LEN)) {
			st->drops[total ? SVH_DROP_TOO_BIG : SVH_DROP_EMPTY]++;
			cur += cnt;
			continue;
		}
		svh_desc_to_vnet(first, &h.hdr);
		if (svh_unlikely(svh_vnet_check(&h.hdr, total))) {
			/* each descriptor passed; the packet as a whole did not */
			r->stats.errors[SVH_RERR_OFFLOAD]++;
			st->drops[SVH_DROP_BAD_DESC]++;
			cur += cnt;
			continue;
		}

		/* Fill guest buffers: header space first, then the data. */
		left = SVH_VNET_HDR_LEN + total;
		sj = cur;
		while (left) {
			uint32_t written = 0;
			int rc;

			if (nch == SVH_PD_MAX_MRG) {
				small = true;
				break;
			}
			vq_prefetch_next(vq, true, pf_hint(SVH_VNET_HDR_LEN + total));
			rc = svh_vq_pop(vq, c, true);
			if (rc <= 0) {
				stall = true;
				break;
			}
			if (!vq->mrg_rxbuf && c->len < left) {
				svh_vq_unpop(vq, 1);
				small = true;
				break;
			}
			for (uint32_t i = 0; i < c->nseg && left; i++) {
				struct svh_iov *s = &c->seg[i];
				uint32_t pos = 0;

				while (pos < s->len && left) {
					uint32_t k;

					if (left > total) {
						/* still inside the header */
						k = (uint32_t)(left - total);
						if (k > s->len - pos)
							k = s->len - pos;
						hd.iov[hd.n].base = (uint8_t *)s->base + pos;
						hd.iov[hd.n].len = k;
						hd.iov[hd.n].gpa = s->gpa + pos;
						hd.n++;
					} else {
						const svh_desc_t *sd = &qp->rdesc[sj];

						while (soff == sd->len) {	/* skip empty/finished buffers */
							sj++;
							sd = &qp->rdesc[sj];
							soff = 0;
						}
						k = sd->len - soff;
						if (k > s->len - pos)
							k = s->len - pos;
						memcpy((uint8_t *)s->base + pos,
						       (const uint8_t *)svh_ring_buf(r, sd->offset) + soff, k);
						soff += k;
					}
					pos += k;
					left -= k;
					written += k;
				}
				svh_log_write(vq->log, s->gpa, pos);
			}
			qp->mrg_head[nch] = c->head;
			qp->mrg_len[nch] = written;
			nch++;
			if (!vq->mrg_rxbuf)
				break;
		}
		if (svh_unlikely(stall || small)) {
			svh_vq_unpop(vq, (uint16_t)nch);
			if (stall) {
				st->stalls++;
				break;
			}
			st->drops[SVH_DROP_RX_TOO_SMALL]++;
			cur += cnt;
			continue;
		}
		h.num_buffers = vq->mrg_rxbuf ? (uint16_t)nch : 1;
		{
			const uint8_t *hp = (const uint8_t *)&h;

			for (unsigned i = 0; i < hd.n; i++) {
				memcpy(hd.iov[i].base, hp, hd.iov[i].len);
				hp += hd.iov[i].len;
			}
		}
		for (uint32_t k = 0; k < nch; k++)
			svh_vq_push(vq, qp->mrg_head[k], qp->mrg_len[k]);
		pushed += nch;
		st->packets++;
		st->bytes += total;
		pkts++;
		cur += cnt;
	}
	if (cur)
		svh_ring_cons_complete(r, cur);
	if (n > cur)
		svh_ring_cons_unpeek(r, n - cur);
	if (pushed) {
		svh_vq_flush(vq);
		if (svh_vq_notify(vq))
			st->guest_irqs++;
	}
	if (cur && svh_ring_kick_if_needed(r))
		st->peer_kicks++;
	return pkts;
}

/* ---- PD thread -------------------------------------------------------------------- */

void svh_pd_cfg_default(struct svh_pd_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = SVH_SCHED_POLL;
	cfg->cpu = -1;
	cfg->fifo_prio = 1;
	cfg->burst = 32;
	cfg->idle_polls = 256;
	cfg->sleep_ms = 100;
}

static void add_pfd(struct svh_pd *pd, int fd)
{
	if (fd < 0 || pd->npfd == SVH_PD_MAX_PFD)
		return;
	for (unsigned i = 0; i < pd->npfd; i++)
		if (pd->pfd[i].fd == fd)
			return;
	pd->pfd[pd->npfd].fd = fd;
	pd->pfd[pd->npfd].events = POLLIN;
	pd->npfd++;
}

void svh_pd_refresh_fds(struct svh_pd *pd)
{
	pd->npfd = 0;
	add_pfd(pd, pd->wake_fd);
	for (unsigned i = 0; i < pd->nqp; i++) {
		struct svh_qp *qp = pd->qp[i];

		if (qp->txq.ready)
			add_pfd(pd, qp->txq.kick_fd);
		if (qp->rxq.ready)
			add_pfd(pd, qp->rxq.kick_fd);
		if (qp->to_vswitch.shm)
			add_pfd(pd, qp->to_vswitch.wait_fd);
		if (qp->to_guest.shm)
			add_pfd(pd, qp->to_guest.wait_fd);
	}
}

int svh_pd_init(struct svh_pd *pd, const struct svh_pd_cfg *cfg, struct svh_qp **qps,
		unsigned nqp)
{
	memset(pd, 0, sizeof(*pd));
	pd->wake_fd = -1;
	if (nqp == 0 || nqp > SVH_PD_MAX_QP || !cfg || cfg->burst == 0 ||
	    cfg->burst > SVH_PD_MAX_BURST)
		return -EINVAL;
	if (cfg->mode != SVH_SCHED_POLL && cfg->mode != SVH_SCHED_FIFO_YIELD &&
	    cfg->mode != SVH_SCHED_ADAPTIVE)
		return -EINVAL;
	pd->cfg = *cfg;
	for (unsigned i = 0; i < nqp; i++)
		pd->qp[i] = qps[i];
	pd->nqp = nqp;
	svh_pd_refresh_fds(pd);
	pd->last_yield = svh_rdtsc();
	return 0;
}

int svh_pd_setup_thread(struct svh_pd *pd)
{
	int rc = 0;

	if (pd->cfg.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(pd->cfg.cpu, &set);
		rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (rc) {
			svh_warn("cannot pin the PD thread to CPU %d: %s", pd->cfg.cpu,
				 strerror(rc));
			rc = -rc;
		}
	}
	if (pd->cfg.mode == SVH_SCHED_FIFO_YIELD) {
		struct sched_param sp = { .sched_priority = pd->cfg.fifo_prio > 0 ?
							     pd->cfg.fifo_prio : 1 };
		int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);

		if (err) {
			/* Not permitted (no CAP_SYS_NICE / RLIMIT_RTPRIO): keep
			 * SCHED_OTHER, still yielding after every batch. */
			svh_warn("SCHED_FIFO refused (%s); the PD thread stays SCHED_OTHER "
				 "and yields after each batch", strerror(err));
			pd->fifo_fallback = true;
		}
	}
	return rc;
}

unsigned svh_pd_poll(struct svh_pd *pd)
{
	unsigned total = 0;

	for (unsigned i = 0; i < pd->nqp; i++) {
		struct svh_qp *qp = pd->qp[i];
		uint64_t t0 = svh_rdtsc(), t1, t2;
		unsigned a, b;

		a = svh_pd_tx_burst(qp, pd->cfg.burst);
		t1 = svh_rdtsc();
		b = svh_pd_rx_burst(qp, pd->cfg.burst);
		t2 = svh_rdtsc();
		if (a) {
			qp->st[SVH_DIR_TO_VSWITCH].busy_cycles += t1 - t0;
			qp->st[SVH_DIR_TO_VSWITCH].batches++;
		}
		if (b) {
			qp->st[SVH_DIR_TO_GUEST].busy_cycles += t2 - t1;
			qp->st[SVH_DIR_TO_GUEST].batches++;
		}
		total += a + b;
	}
	pd->loops++;
	return total;
}

static void arm_all(struct svh_pd *pd, bool on)
{
	for (unsigned i = 0; i < pd->nqp; i++) {
		struct svh_qp *qp = pd->qp[i];

		if (qp->to_vswitch.shm && !qp->to_vswitch.broken)
			svh_ring_set_need_wakeup(&qp->to_vswitch, on);
		if (qp->to_guest.shm && !qp->to_guest.broken)
			svh_ring_set_need_wakeup(&qp->to_guest, on);
		svh_vq_set_notification(&qp->txq, on);
		svh_vq_set_notification(&qp->rxq, on);
	}
}

static bool stopping(const struct svh_pd *pd)
{
	return __atomic_load_n(&pd->stop, __ATOMIC_ACQUIRE) != 0;
}

static void adaptive_sleep(struct svh_pd *pd)
{
	int rc;

	arm_all(pd, true);
	/* Re-check after arming: work that raced with the flags is done now. */
	if (svh_pd_poll(pd) == 0 && !stopping(pd)) {
		pd->sleeps++;
		rc = poll(pd->pfd, pd->npfd, pd->cfg.sleep_ms);
		if (rc > 0) {
			for (unsigned i = 0; i < pd->npfd; i++)
				if (pd->pfd[i].revents & POLLIN)
					svh_eventfd_drain(pd->pfd[i].fd);
		}
	}
	arm_all(pd, false);
}

void svh_pd_idle(struct svh_pd *pd, unsigned moved)
{
	switch (pd->cfg.mode) {
	case SVH_SCHED_FIFO_YIELD:
		if (pd->cfg.yield_cycles) {
			/* budget: keep the core while there is work, up to
			 * yield_cycles; give it up as soon as a pass is empty */
			uint64_t t = svh_rdtsc();

			if (moved && t - pd->last_yield < pd->cfg.yield_cycles)
				break;
			pd->last_yield = t;
		}
		sched_yield();
		pd->yields++;
		break;
	case SVH_SCHED_ADAPTIVE:
		if (moved) {
			pd->idle = 0;
		} else if (++pd->idle >= pd->cfg.idle_polls) {
			pd->idle = 0;
			if (pd->npfd)
				adaptive_sleep(pd);
			else
				sched_yield();
		}
		break;
	case SVH_SCHED_POLL:
		if (!moved)
			svh_cpu_relax();
		break;
	}
}

void svh_pd_run(struct svh_pd *pd)
{
	while (!stopping(pd))
		svh_pd_idle(pd, svh_pd_poll(pd));
}

void svh_pd_stop(struct svh_pd *pd)
{
	__atomic_store_n(&pd->stop, 1, __ATOMIC_RELEASE);
	/* wake a sleeping PD thread */
	for (unsigned i = 0; i < pd->npfd; i++)
		svh_eventfd_kick(pd->pfd[i].fd);
}

void *svh_pd_thread(void *arg)
{
	struct svh_pd *pd = arg;

	svh_pd_setup_thread(pd);
	svh_pd_run(pd);
	return NULL;
}
