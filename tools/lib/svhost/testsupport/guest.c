// SPDX-License-Identifier: BSD-3-Clause
/*
 * guest.c: the synthetic guest (the virtio-net driver side of split
 * virtqueues) and the payload format, for libsvhost's tests, examples and
 * svhost-bench.  It uses nothing of libsvhost but its public headers: the
 * guest is the other party, not the library.  Correctness checks live in
 * the payload format so that every test verifies integrity and loss.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "guest.h"

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
		const struct svh_mem_region *r = &g->regions[i];

		if (gpa - r->gpa < r->size)
			return (uint8_t *)(uintptr_t)r->uaddr + (gpa - r->gpa);
	}
	return NULL;
}

/* Copy to (out) or from guest memory, crossing adjacent regions (the driver's view). */
static void sg_copy(struct synth_guest *g, uint64_t gpa, uint8_t *buf, uint64_t len, bool out)
{
	while (len) {
		const struct svh_mem_region *r = NULL;
		uint64_t off, k;

		for (unsigned i = 0; i < g->nregions && !r; i++)
			if (gpa - g->regions[i].gpa < g->regions[i].size)
				r = &g->regions[i];
		if (!r)
			return;
		off = gpa - r->gpa;
		k = r->size - off < len ? r->size - off : len;
		if (out)
			memcpy((uint8_t *)(uintptr_t)r->uaddr + off, buf, k);
		else
			memcpy(buf, (uint8_t *)(uintptr_t)r->uaddr + off, k);
		gpa += k;
		buf += k;
		len -= k;
	}
}

static void sg_write(struct synth_guest *g, uint64_t gpa, const void *src, uint64_t len)
{
	sg_copy(g, gpa, (uint8_t *)(uintptr_t)src, len, true);
}

static void sg_read(struct synth_guest *g, uint64_t gpa, void *dst, uint64_t len)
{
	sg_copy(g, gpa, dst, len, false);
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
	uint64_t off = cfg->gpa_base, cuts[3];
	uint32_t rx_descs;
	int rc;

	memset(g, 0, sizeof(*g));
	for (unsigned i = 0; i < 3; i++)
		g->memfd[i] = -1;
	g->cfg = *cfg;
	if (!cfg->num || (cfg->num & (cfg->num - 1)) || cfg->num < SG_CHAIN ||
	    cfg->tx_buf_cap < SG_VNET_HDR_LEN + 1 || cfg->rx_buf_len == 0)
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
	cuts[0] = cfg->gpa_base;
	cuts[1] = g->tx_buf_gpa + cfg->tx_buf_cap + 7;
	cuts[2] = g->rx_buf_gpa + cfg->rx_buf_len + 5;
	g->nregions = cfg->split_regions && g->tx.nslots > 2 && rx_descs > 2 ? 3 : 1;
	for (unsigned i = 0; i < g->nregions; i++) {
		uint64_t start = cuts[i];
		uint64_t end = i + 1 < g->nregions ? cuts[i + 1] : g->mem_size;

		g->map_len[i] = align_up(end - start, 4096);
		if (cfg->memfd_ram) {
			/* a memfd, so that tests can map the same guest RAM twice */
			g->memfd[i] = memfd_create("synth-guest-ram", MFD_CLOEXEC);
			if (g->memfd[i] < 0 ||
			    ftruncate(g->memfd[i], (off_t)g->map_len[i]))
				return -ENOMEM;
			g->map[i] = mmap(NULL, g->map_len[i], PROT_READ | PROT_WRITE,
					 MAP_SHARED, g->memfd[i], 0);
		} else {
			g->map[i] = mmap(NULL, g->map_len[i], PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		}
		if (g->map[i] == MAP_FAILED) {
			g->map[i] = NULL;
			return -ENOMEM;
		}
		g->regions[i].gpa = start;
		g->regions[i].size = end - start;
		g->regions[i].uaddr = (uintptr_t)g->map[i];
	}
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
		uint32_t l = cfg->tx_buf_cap - SG_VNET_HDR_LEN;

		sp_fill(tbounce, l, s);
		sg_write(g, g->tx_buf_gpa + (uint64_t)s * cfg->tx_buf_cap + SG_VNET_HDR_LEN,
			 tbounce, l);
	}
	return 0;
}

void sg_fini(struct synth_guest *g)
{
	sg_unmap_old(g);
	for (unsigned i = 0; i < 3; i++) {
		if (g->map[i])
			munmap(g->map[i], g->map_len[i]);
		if (g->cfg.memfd_ram && g->memfd[i] >= 0)
			close(g->memfd[i]);
	}
	free(g->gm);
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
		sg_store_release(&q->avail->idx, q->avail_idx);
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
		sg_store_release(&g->tx.avail->idx, g->tx.avail_idx);
	return i;
}

static int tx_post(struct synth_guest *g, uint32_t len, bool now)
{
	struct sg_queue *q = &g->tx;
	uint32_t s, t = SG_VNET_HDR_LEN + len;
	uint16_t d0;
	uint64_t a;
	int layout;

	if (!q->nfree || t > g->cfg.tx_buf_cap)
		return 0;
	s = q->free_slots[--q->nfree];
	d0 = (uint16_t)(s * q->stride);
	a = g->tx_buf_gpa + (uint64_t)s * g->cfg.tx_buf_cap;
	sg_write(g, a, &g->tx_hdr, SG_VNET_HDR_LEN);
	if (g->cfg.verify) {
		sp_fill(tbounce, len, g->tx_seq);
		sg_write(g, a + SG_VNET_HDR_LEN, tbounce, len);
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
		set_desc(&q->desc[d0], a, SG_VNET_HDR_LEN, VRING_DESC_F_NEXT, d0 + 1);
		set_desc(&q->desc[d0 + 1], a + SG_VNET_HDR_LEN, len, 0, 0);
		break;
	default: {
		uint32_t c[5] = { 0, 5, SG_VNET_HDR_LEN + len / 3,
				  SG_VNET_HDR_LEN + 2 * (len / 3), t };
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
	uint16_t idx = sg_load_acquire(&q->used->idx);
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
		sg_write_once(&q->avail->ring[q->num], q->last_used);
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
		sg_store_release(&q->avail->idx, q->avail_idx);
	return n;
}

unsigned sg_rx_poll(struct synth_guest *g)
{
	struct sg_queue *q = &g->rx;
	bool mrg = has(g, VIRTIO_NET_F_MRG_RXBUF);
	unsigned pkts = 0;

	for (;;) {
		uint16_t idx = sg_load_acquire(&q->used->idx);
		uint16_t ready = (uint16_t)(idx - q->last_used), nb;
		struct vring_used_elem e;
		struct virtio_net_hdr_mrg_rxbuf h;
		uint32_t s, total = 0;
		bool bad = false;

		if (!ready)
			break;
		e = q->used->ring[q->last_used & (q->num - 1)];
		s = mrg ? e.id : e.id / SG_CHAIN;
		if (s >= q->nslots || (!mrg && e.id % SG_CHAIN) || e.len < SG_VNET_HDR_LEN) {
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
			uint32_t skip = k == 0 ? SG_VNET_HDR_LEN : 0;
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
		sg_write_once(&q->avail->ring[q->num], q->last_used);
	return pkts;
}

void sg_kick_if_needed(struct synth_guest *g, struct sg_queue *q)
{
	uint16_t newi = q->avail_idx, old = q->kicked_avail;
	bool kick;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (event_idx(g)) {
		uint16_t ev = sg_read_once((uint16_t *)&q->used->ring[q->num]);

		kick = (uint16_t)(newi - ev - 1) < (uint16_t)(newi - old);
	} else {
		kick = !(sg_read_once(&q->used->flags) & VRING_USED_F_NO_NOTIFY);
	}
	q->kicked_avail = newi;
	if (kick && newi != old && q->kick_fd >= 0) {
		uint64_t one = 1;

		if (write(q->kick_fd, &one, sizeof(one)) < 0) {
			/* counter full: the device is woken anyway */
		}
		q->kicks++;
	}
}

int sg_remap(struct synth_guest *g)
{
	if (!g->cfg.memfd_ram)
		return -EINVAL;
	for (unsigned i = 0; i < g->nregions; i++) {
		void *m = mmap(NULL, g->map_len[i], PROT_READ | PROT_WRITE, MAP_SHARED,
			       g->memfd[i], 0);

		if (m == MAP_FAILED)
			return -errno;
		g->old_map[i] = g->map[i];
		g->map[i] = m;
		g->regions[i].uaddr = (uintptr_t)m;
	}
	q_bind(g, &g->tx);
	q_bind(g, &g->rx);
	return 0;
}

void sg_unmap_old(struct synth_guest *g)
{
	for (unsigned i = 0; i < g->nregions; i++) {
		if (g->old_map[i])
			munmap(g->old_map[i], g->map_len[i]);
		g->old_map[i] = NULL;
	}
}

void sg_mem_regions(const struct synth_guest *g, struct svh_mem_region *out, unsigned *nr)
{
	for (unsigned i = 0; i < g->nregions; i++)
		out[i] = g->regions[i];
	*nr = g->nregions;
}

void sg_vring_addr(struct synth_guest *g, bool rx, unsigned index, struct vhost_vring_addr *a)
{
	const struct sg_queue *q = rx ? &g->rx : &g->tx;

	memset(a, 0, sizeof(*a));
	a->index = index;
	a->desc_user_addr = (uintptr_t)sg_hva(g, q->desc_gpa);
	a->avail_user_addr = (uintptr_t)sg_hva(g, q->avail_gpa);
	a->used_user_addr = (uintptr_t)sg_hva(g, q->used_gpa);
	a->log_guest_addr = q->used_gpa;
}
