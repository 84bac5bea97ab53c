// SPDX-License-Identifier: BSD-3-Clause
/*
 * synth.c: synthetic guest (virtio-net driver side) and synthetic vSwitch
 * (svhost ring producer) used by libsvhost's tests and by svhost-bench.
 * They are deliberately simple and deterministic; correctness checks live
 * in the payload format so that every test verifies integrity and loss.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "synth.h"

/* ---- payload ------------------------------------------------------------------ */

static uint32_t fnv1a(const uint8_t *p, uint32_t n)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

void sp_fill(uint8_t *p, uint32_t len, uint64_t seq)
{
	uint32_t csum;

	if (len < SP_HDR_LEN) {
		for (uint32_t i = 0; i < len; i++)
			p[i] = (uint8_t)(seq + i);
		return;
	}
	for (uint32_t i = SP_HDR_LEN; i < len; i++)
		p[i] = (uint8_t)(seq * 7 + i * 13);
	csum = fnv1a(p + SP_HDR_LEN, len - SP_HDR_LEN);
	memcpy(p, &seq, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &csum, 4);
}

int sp_check(const uint8_t *p, uint32_t len, uint64_t *seq)
{
	uint32_t l, csum;

	if (len < SP_HDR_LEN)
		return 1;	/* too short to carry the header: cannot check */
	memcpy(seq, p, 8);
	memcpy(&l, p + 8, 4);
	memcpy(&csum, p + 12, 4);
	if (l != len || csum != fnv1a(p + SP_HDR_LEN, len - SP_HDR_LEN))
		return -1;
	return 0;
}

/* ---- synthetic guest ------------------------------------------------------------ */

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

void *sg_hva(struct synth_guest *g, uint64_t gpa)
{
	for (unsigned i = 0; i < g->nregions; i++) {
		const struct svh_gm_region *r = &g->regions[i];

		if (gpa - r->gpa < r->size)
			return (uint8_t *)r->hva + (gpa - r->gpa);
	}
	return NULL;
}

static void sg_write(struct synth_guest *g, uint64_t gpa, const void *src, uint64_t len)
{
	struct svh_iov iov[4];
	int n = svh_gm_iov(&g->gm, NULL, gpa, len, iov, 4);
	const uint8_t *s = src;

	for (int i = 0; i < n; i++) {
		memcpy(iov[i].base, s, iov[i].len);
		s += iov[i].len;
	}
}

static void sg_read(struct synth_guest *g, uint64_t gpa, void *dst, uint64_t len)
{
	struct svh_iov iov[4];
	int n = svh_gm_iov(&g->gm, NULL, gpa, len, iov, 4);
	uint8_t *d = dst;

	for (int i = 0; i < n; i++) {
		memcpy(d, iov[i].base, iov[i].len);
		d += iov[i].len;
	}
}

static uint8_t bounce[SVH_MAX_PKT_LEN + 4096];
static __thread uint8_t tbounce[SVH_MAX_PKT_LEN + 4096];

static int q_layout(struct synth_guest *g, struct sg_queue *q, uint64_t *off, uint32_t stride)
{
	uint32_t nslots = g->cfg.num / stride;

	q->num = g->cfg.num;
	q->desc_gpa = align_up(*off, 16);
	*off = q->desc_gpa + 16ull * q->num;
	q->avail_gpa = align_up(*off, 2);
	*off = q->avail_gpa + 4 + 2ull * q->num + 2;
	q->used_gpa = align_up(*off, 4);
	*off = q->used_gpa + 4 + 8ull * q->num + 2;
	q->nslots = nslots;
	q->stride = stride;
	q->free_slots = calloc(nslots, sizeof(uint32_t));
	if (!q->free_slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < nslots; i++)
		q->free_slots[i] = nslots - 1 - i;
	q->nfree = nslots;
	q->kick_fd = -1;
	q->call_fd = -1;
	return 0;
}

static void q_bind(struct synth_guest *g, struct sg_queue *q)
{
	q->desc = sg_hva(g, q->desc_gpa);
	q->avail = sg_hva(g, q->avail_gpa);
	q->used = sg_hva(g, q->used_gpa);
}

static bool has(const struct synth_guest *g, unsigned bit)
{
	return (g->cfg.features >> bit) & 1;
}

int sg_init(struct synth_guest *g, const struct sg_cfg *cfg)
{
	uint64_t off = 0, cuts[3];
	uint32_t rx_descs;
	int rc;

	memset(g, 0, sizeof(*g));
	g->cfg = *cfg;
	if (!cfg->num || (cfg->num & (cfg->num - 1)) || cfg->num < SG_CHAIN ||
	    cfg->tx_buf_cap < SVH_VNET_HDR_LEN + 1 || cfg->rx_buf_len == 0)
		return -EINVAL;
	/* single-descriptor layouts pack slots densely, like a real driver */
	if ((rc = q_layout(g, &g->tx, &off, cfg->tx_layout == SG_TX_SIMPLE ||
					     cfg->tx_layout == SG_TX_INDIRECT ? 1 : SG_CHAIN)))
		return rc;
	rx_descs = cfg->num;
	if ((rc = q_layout(g, &g->rx, &off, has(g, VIRTIO_NET_F_MRG_RXBUF) ? 1 : SG_CHAIN)))
		return rc;
	g->tx_ind_gpa = align_up(off, 16);
	off = g->tx_ind_gpa + 16ull * SG_CHAIN * g->tx.nslots;
	g->tx_buf_gpa = align_up(off, 64);
	off = g->tx_buf_gpa + (uint64_t)cfg->tx_buf_cap * g->tx.nslots;
	g->rx_buf_gpa = align_up(off, 64);
	off = g->rx_buf_gpa + (uint64_t)cfg->rx_buf_len * rx_descs;
	g->mem_size = align_up(off, 4096);

	/* Region seams: inside TX slot 1's buffer and inside RX buffer 1. */
	cuts[0] = 0;
	cuts[1] = g->tx_buf_gpa + cfg->tx_buf_cap + 7;
	cuts[2] = g->rx_buf_gpa + cfg->rx_buf_len + 5;
	g->nregions = cfg->split_regions && g->tx.nslots > 2 && rx_descs > 2 ? 3 : 1;
	for (unsigned i = 0; i < g->nregions; i++) {
		uint64_t start = cuts[i];
		uint64_t end = i + 1 < g->nregions ? cuts[i + 1] : g->mem_size;

		g->map_len[i] = align_up(end - start, 4096);
		g->map[i] = mmap(NULL, g->map_len[i], PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (g->map[i] == MAP_FAILED) {
			g->map[i] = NULL;
			return -ENOMEM;
		}
		g->regions[i].gpa = start;
		g->regions[i].size = end - start;
		g->regions[i].hva = g->map[i];
	}
	if ((rc = svh_gm_init(&g->gm, g->regions, g->nregions)))
		return rc;
	q_bind(g, &g->tx);
	q_bind(g, &g->rx);
	if (cfg->use_eventfds) {
		g->tx.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		g->rx.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		g->tx.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		g->rx.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	}
	/* Pre-fill TX buffers so bench runs need not write payloads. */
	for (uint32_t s = 0; s < g->tx.nslots; s++) {
		uint32_t l = cfg->tx_buf_cap - SVH_VNET_HDR_LEN;

		sp_fill(tbounce, l, s);
		sg_write(g, g->tx_buf_gpa + (uint64_t)s * cfg->tx_buf_cap + SVH_VNET_HDR_LEN,
			 tbounce, l);
	}
	return 0;
}

void sg_fini(struct synth_guest *g)
{
	for (unsigned i = 0; i < 3; i++)
		if (g->map[i])
			munmap(g->map[i], g->map_len[i]);
	free(g->tx.free_slots);
	free(g->rx.free_slots);
	if (g->cfg.use_eventfds) {
		close(g->tx.kick_fd);
		close(g->rx.kick_fd);
		close(g->tx.call_fd);
		close(g->rx.call_fd);
	}
	memset(g, 0, sizeof(*g));
}

void sg_vq_params(const struct synth_guest *g, bool rx, struct svh_vq_params *p)
{
	const struct sg_queue *q = rx ? &g->rx : &g->tx;

	memset(p, 0, sizeof(*p));
	p->num = q->num;
	p->desc_gpa = q->desc_gpa;
	p->avail_gpa = q->avail_gpa;
	p->used_gpa = q->used_gpa;
	p->features = g->cfg.features;
	p->last_avail_idx = 0;
	p->kick_fd = q->kick_fd;
	p->call_fd = q->call_fd;
}

static void set_desc(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void publish(struct sg_queue *q, uint16_t head, bool now)
{
	q->avail->ring[q->avail_idx & (q->num - 1)] = head;
	q->avail_idx++;
	if (now)
		svh_store_release(&q->avail->idx, q->avail_idx);
}

static int tx_post(struct synth_guest *g, uint32_t len, bool now);

int sg_tx_post(struct synth_guest *g, uint32_t len)
{
	return tx_post(g, len, true);
}

unsigned sg_tx_post_burst(struct synth_guest *g, uint32_t len, unsigned n)
{
	unsigned i = 0;

	while (i < n && tx_post(g, len, false))
		i++;
	if (i)
		svh_store_release(&g->tx.avail->idx, g->tx.avail_idx);
	return i;
}

static int tx_post(struct synth_guest *g, uint32_t len, bool now)
{
	struct sg_queue *q = &g->tx;
	uint32_t s, t = SVH_VNET_HDR_LEN + len;
	uint16_t d0;
	uint64_t a;
	int layout;

	if (!q->nfree || t > g->cfg.tx_buf_cap)
		return 0;
	s = q->free_slots[--q->nfree];
	d0 = (uint16_t)(s * q->stride);
	a = g->tx_buf_gpa + (uint64_t)s * g->cfg.tx_buf_cap;
	sg_write(g, a, &g->tx_hdr, SVH_VNET_HDR_LEN);
	if (g->cfg.verify) {
		sp_fill(tbounce, len, g->tx_seq);
		sg_write(g, a + SVH_VNET_HDR_LEN, tbounce, len);
	}
	g->tx_seq++;
	layout = g->cfg.tx_layout;
	if (layout == SG_TX_ROTATE)
		layout = (int)(g->layout_next++ % SG_TX_NLAYOUTS);
	if ((layout == SG_TX_MULTI || layout == SG_TX_INDIRECT) && len < 3)
		layout = SG_TX_HDR_SPLIT;
	if (layout == SG_TX_INDIRECT && !has(g, VIRTIO_RING_F_INDIRECT_DESC))
		layout = SG_TX_MULTI;
	if (q->stride == 1 && layout != SG_TX_INDIRECT)
		layout = SG_TX_SIMPLE;	/* one descriptor per slot only */
	switch (layout) {
	case SG_TX_SIMPLE:
		set_desc(&q->desc[d0], a, t, 0, 0);
		break;
	case SG_TX_HDR_SPLIT:
		set_desc(&q->desc[d0], a, SVH_VNET_HDR_LEN, VRING_DESC_F_NEXT, d0 + 1);
		set_desc(&q->desc[d0 + 1], a + SVH_VNET_HDR_LEN, len, 0, 0);
		break;
	default: {
		uint32_t c[5] = { 0, 5, SVH_VNET_HDR_LEN + len / 3,
				  SVH_VNET_HDR_LEN + 2 * (len / 3), t };
		struct vring_desc tab[SG_CHAIN];

		for (int j = 0; j < SG_CHAIN; j++) {
			bool last = j == SG_CHAIN - 1;
			uint16_t nx = layout == SG_TX_INDIRECT ? (uint16_t)(j + 1) : (uint16_t)(d0 + j + 1);

			set_desc(&tab[j], a + c[j], c[j + 1] - c[j], last ? 0 : VRING_DESC_F_NEXT,
				 last ? 0 : nx);
		}
		if (layout == SG_TX_INDIRECT) {
			uint64_t tg = g->tx_ind_gpa + 16ull * SG_CHAIN * s;

			sg_write(g, tg, tab, sizeof(tab));
			set_desc(&q->desc[d0], tg, sizeof(tab), VRING_DESC_F_INDIRECT, 0);
		} else {
			memcpy(&q->desc[d0], tab, sizeof(tab));
		}
	}
	}
	publish(q, d0, now);
	return 1;
}

static bool event_idx(const struct synth_guest *g)
{
	return has(g, VIRTIO_RING_F_EVENT_IDX);
}

unsigned sg_tx_reap(struct synth_guest *g)
{
	struct sg_queue *q = &g->tx;
	uint16_t idx = svh_load_acquire(&q->used->idx);
	unsigned n = 0;

	while (q->last_used != idx) {
		struct vring_used_elem e = q->used->ring[q->last_used & (q->num - 1)];
		uint32_t s = e.id / q->stride;

		if (e.id % q->stride || s >= q->nslots || q->nfree >= q->nslots)
			g->rx_bad_used++;
		else
			q->free_slots[q->nfree++] = s;
		q->last_used++;
		n++;
	}
	g->tx_done += n;
	if (event_idx(g))
		svh_write_once(&q->avail->ring[q->num], q->last_used);
	return n;
}

unsigned sg_rx_refill(struct synth_guest *g)
{
	struct sg_queue *q = &g->rx;
	bool mrg = has(g, VIRTIO_NET_F_MRG_RXBUF);
	unsigned n = 0;

	while (q->nfree) {
		uint32_t s = q->free_slots[--q->nfree];
		uint16_t d0;

		if (mrg) {
			d0 = (uint16_t)s;
			set_desc(&q->desc[d0], g->rx_buf_gpa + (uint64_t)s * g->cfg.rx_buf_len,
				 g->cfg.rx_buf_len, VRING_DESC_F_WRITE, 0);
		} else {
			d0 = (uint16_t)(s * SG_CHAIN);
			for (int j = 0; j < SG_CHAIN; j++) {
				bool last = j == SG_CHAIN - 1;

				set_desc(&q->desc[d0 + j],
					 g->rx_buf_gpa + (uint64_t)(d0 + j) * g->cfg.rx_buf_len,
					 g->cfg.rx_buf_len,
					 VRING_DESC_F_WRITE | (last ? 0 : VRING_DESC_F_NEXT),
					 last ? 0 : (uint16_t)(d0 + j + 1));
			}
		}
		q->avail->ring[q->avail_idx & (q->num - 1)] = d0;
		q->avail_idx++;
		n++;
	}
	if (n)
		svh_store_release(&q->avail->idx, q->avail_idx);
	return n;
}

unsigned sg_rx_poll(struct synth_guest *g)
{
	struct sg_queue *q = &g->rx;
	bool mrg = has(g, VIRTIO_NET_F_MRG_RXBUF);
	unsigned pkts = 0;

	for (;;) {
		uint16_t idx = svh_load_acquire(&q->used->idx);
		uint16_t ready = (uint16_t)(idx - q->last_used), nb;
		struct vring_used_elem e;
		struct virtio_net_hdr_mrg_rxbuf h;
		uint32_t s, total = 0;
		bool bad = false;

		if (!ready)
			break;
		e = q->used->ring[q->last_used & (q->num - 1)];
		s = mrg ? e.id : e.id / SG_CHAIN;
		if (s >= q->nslots || (!mrg && e.id % SG_CHAIN) || e.len < SVH_VNET_HDR_LEN) {
			g->rx_bad_used++;
			q->last_used++;
			continue;
		}
		sg_read(g, g->rx_buf_gpa + (uint64_t)e.id * g->cfg.rx_buf_len, &h, sizeof(h));
		nb = mrg ? h.num_buffers : 1;
		if (nb == 0 || nb > ready) {
			/* num_buffers must match what was published together */
			g->rx_bad_used++;
			q->last_used++;
			q->free_slots[q->nfree++] = s;
			continue;
		}
		g->last_rx_hdr = h;
		for (uint16_t k = 0; k < nb; k++) {
			struct vring_used_elem ek = q->used->ring[(q->last_used + k) & (q->num - 1)];
			uint32_t sk = mrg ? ek.id : ek.id / SG_CHAIN;
			uint32_t skip = k == 0 ? SVH_VNET_HDR_LEN : 0;
			uint32_t cap = mrg ? g->cfg.rx_buf_len : g->cfg.rx_buf_len * SG_CHAIN;

			if (sk >= q->nslots || ek.len > cap || ek.len < skip ||
			    total + ek.len - skip > SVH_MAX_PKT_LEN) {
				bad = true;
			} else if (g->cfg.verify) {
				sg_read(g, g->rx_buf_gpa + (uint64_t)ek.id * g->cfg.rx_buf_len + skip,
					bounce + total, ek.len - skip);
			}
			if (!bad)
				total += ek.len - skip;
			if (sk < q->nslots && q->nfree < q->nslots)
				q->free_slots[q->nfree++] = sk;
		}
		q->last_used = (uint16_t)(q->last_used + nb);
		if (bad) {
			g->rx_bad_used++;
			continue;
		}
		if (g->cfg.verify) {
			uint64_t seq;

			int rc = sp_check(bounce, total, &seq);

			if (rc > 0) {
				g->rx_short++;
				g->rx_seq++;
			} else if (rc < 0) {
				g->rx_bad++;
			} else {
				if (seq != g->rx_seq)
					g->rx_out_of_order++;
				g->rx_seq = seq + 1;
			}
		}
		g->rx_pkts++;
		g->rx_bytes += total;
		pkts++;
	}
	if (event_idx(g))
		svh_write_once(&q->avail->ring[q->num], q->last_used);
	return pkts;
}

void sg_kick_if_needed(struct synth_guest *g, struct sg_queue *q)
{
	uint16_t newi = q->avail_idx, old = q->kicked_avail;
	bool kick;

	svh_mb();
	if (event_idx(g)) {
		uint16_t ev = svh_read_once((uint16_t *)&q->used->ring[q->num]);

		kick = (uint16_t)(newi - ev - 1) < (uint16_t)(newi - old);
	} else {
		kick = !(svh_read_once(&q->used->flags) & VRING_USED_F_NO_NOTIFY);
	}
	q->kicked_avail = newi;
	if (kick && newi != old && q->kick_fd >= 0) {
		svh_eventfd_kick(q->kick_fd);
		q->kicks++;
	}
}

/* ---- synthetic vSwitch ------------------------------------------------------------- */

int sv_init(struct synth_vswitch *s, struct svhost_ring *to_vswitch, struct svhost_ring *to_guest,
	    void *pool, uint32_t ring_size, uint32_t buf_size, uint32_t buf_count, bool verify,
	    bool reset)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = svh_ring_init(&s->tx, to_vswitch, SVH_RING_PRODUCER, ring_size, pool, buf_size,
			   buf_count, reset);
	if (rc)
		return rc;
	rc = svh_ring_init(&s->rx, to_guest, SVH_RING_PRODUCER, ring_size, pool, buf_size,
			   buf_count, reset);
	if (rc)
		return rc;
	s->pool = pool;
	s->buf_size = buf_size;
	s->buf_count = buf_count;
	s->verify = verify;
	s->free_bufs = calloc(buf_count, sizeof(uint64_t));
	s->asm_buf = malloc(SVH_MAX_PKT_LEN + buf_size);
	if (!s->free_bufs || !s->asm_buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < buf_count; i++)
		s->free_bufs[i] = (uint64_t)(buf_count - 1 - i) * buf_size;
	s->nfree = buf_count;
	/* Pre-fill buffers so bench runs need not write payloads. */
	for (uint32_t i = 0; i < buf_count; i++)
		sp_fill(s->pool + (uint64_t)i * buf_size, buf_size, i);
	return 0;
}

void sv_fini(struct synth_vswitch *s)
{
	svh_ring_fini(&s->tx);
	svh_ring_fini(&s->rx);
	free(s->free_bufs);
	free(s->asm_buf);
	s->free_bufs = NULL;
	s->asm_buf = NULL;
}

unsigned sv_post_empty(struct synth_vswitch *s, unsigned max)
{
	unsigned total = 0;

	for (;;) {
		uint32_t n = svh_ring_prod_free(&s->tx);

		if (n > s->nfree)
			n = s->nfree;
		if (n > max - total)
			n = max - total;
		if (n > SVH_PD_SCRATCH)
			n = SVH_PD_SCRATCH;
		if (!n)
			break;
		for (uint32_t i = 0; i < n; i++) {
			memset(&s->scratch[i], 0, sizeof(s->scratch[i]));
			s->scratch[i].offset = s->free_bufs[s->nfree - 1 - i];
		}
		n = svh_ring_prod_post(&s->tx, s->scratch, n);
		s->nfree -= n;
		total += n;
		if (!n)
			break;
	}
	return total;
}

static void sv_packet_done(struct synth_vswitch *s)
{
	s->pkts_in++;
	s->bytes_in += s->asm_len;
	if (s->verify) {
		uint64_t seq;

		int rc = sp_check(s->asm_buf, s->asm_len, &seq);

		if (rc > 0) {
			s->short_in++;
			s->rx_seq++;
		} else if (rc < 0) {
			s->bad_in++;
		} else {
			if (seq != s->rx_seq)
				s->out_of_order++;
			s->rx_seq = seq + 1;
		}
	}
	s->asm_active = false;
	s->asm_len = 0;
}

unsigned sv_drain(struct synth_vswitch *s)
{
	unsigned pkts = 0;
	uint32_t n;

	while ((n = svh_ring_prod_reap(&s->tx, s->scratch, s->ok, SVH_PD_SCRATCH))) {
		for (uint32_t i = 0; i < n; i++) {
			const svh_desc_t *d = &s->scratch[i];

			s->free_bufs[s->nfree++] = d->offset;
			if (!s->ok[i]) {
				s->bad_desc++;
				if (s->asm_active)
					s->bad_in++;
				s->asm_active = false;
				s->asm_len = 0;
				continue;
			}
			if (!s->asm_active && d->len == 0 && d->flags == 0) {
				s->unused_returned++;
				continue;
			}
			if (!s->asm_active) {
				s->first_in = *d;
				s->asm_active = true;
				s->asm_len = 0;
			}
			if (s->asm_len + d->len > SVH_MAX_PKT_LEN) {
				s->bad_in++;
				s->asm_active = false;
				s->asm_len = 0;
				continue;
			}
			if (s->verify)
				memcpy(s->asm_buf + s->asm_len, s->pool + d->offset, d->len);
			s->asm_len += d->len;
			if (!(d->flags & SVHOST_DESC_F_NEXT)) {
				sv_packet_done(s);
				pkts++;
			}
		}
	}
	return pkts;
}

static unsigned sv_build(struct synth_vswitch *s, uint32_t len, unsigned at)
{
	uint32_t k = (len + s->buf_size - 1) / s->buf_size, left = len;

	if (s->verify)
		sp_fill(s->asm_buf, len, s->tx_seq);
	for (uint32_t j = 0; j < k; j++) {
		svh_desc_t *d = &s->scratch[at + j];
		uint32_t piece = left < s->buf_size ? left : s->buf_size;

		*d = j == 0 ? s->offload_out : (svh_desc_t){ 0 };
		if (j == 0 && (s->offload_out.flags & SVHOST_DESC_F_OFFLOAD))
			d->flags = SVHOST_DESC_F_OFFLOAD;
		else if (j == 0)
			d->flags = 0;
		d->offset = s->free_bufs[--s->nfree];
		d->len = piece;
		d->reserved = 0;
		if (j + 1 < k)
			d->flags |= SVHOST_DESC_F_NEXT;
		if (s->verify)
			memcpy(s->pool + d->offset, s->asm_buf + (len - left), piece);
		left -= piece;
	}
	s->tx_seq++;
	return k;
}

unsigned sv_send_burst(struct synth_vswitch *s, uint32_t len, unsigned n)
{
	uint32_t k = (len + s->buf_size - 1) / s->buf_size;
	unsigned at = 0, sent = 0;
	uint32_t room = svh_ring_prod_free(&s->rx);

	if (len == 0 || len > SVH_MAX_PKT_LEN)
		return 0;
	while (sent < n && at + k <= SVH_PD_SCRATCH && at + k <= room && s->nfree >= k) {
		at += sv_build(s, len, at);
		sent++;
	}
	if (at)
		svh_ring_prod_post(&s->rx, s->scratch, at);
	return sent;
}

int sv_send(struct synth_vswitch *s, uint32_t len)
{
	return (int)sv_send_burst(s, len, 1);
}

unsigned sv_reap_sent(struct synth_vswitch *s)
{
	unsigned total = 0;
	uint32_t n;

	while ((n = svh_ring_prod_reap(&s->rx, s->scratch, s->ok, SVH_PD_SCRATCH))) {
		for (uint32_t i = 0; i < n; i++)
			s->free_bufs[s->nfree++] = s->scratch[i].offset;
		total += n;
	}
	return total;
}
