// SPDX-License-Identifier: BSD-3-Clause
/*
 * synth.c: the synthetic vSwitch (svhost ring producer written on the ring
 * layer, so tests can make it misbehave) and the glue between the
 * synthetic guest and libsvhost's internals, for tests and svhost-bench.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "synth.h"

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

const struct svh_guestmem *sg_gm(struct synth_guest *g)
{
	if (!g->gm) {
		struct svh_gm_region r[3];

		for (unsigned i = 0; i < g->nregions; i++) {
			r[i].gpa = g->regions[i].gpa;
			r[i].size = g->regions[i].size;
			r[i].hva = (void *)(uintptr_t)g->regions[i].uaddr;
		}
		g->gm = malloc(sizeof(*g->gm));
		if (!g->gm || svh_gm_init(g->gm, r, g->nregions))
			abort();
	}
	return g->gm;
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
