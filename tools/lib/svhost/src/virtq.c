// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtq.c: split-virtqueue device engine (see include/svhost/virtq.h).
 * Descriptor chains are walked from private snapshots only; the guest can
 * rewrite its rings at any moment and we must never act on a value we have
 * not checked, or check one value and use another.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <linux/virtio_config.h>

#include "compiler.h"
#include "virtq.h"

_Static_assert(sizeof(struct vring_desc) == 16, "vring_desc");
_Static_assert(sizeof(struct virtio_net_hdr_mrg_rxbuf) == SVH_VNET_HDR_LEN, "vnet hdr");

#define KNOWN_DESC_FLAGS (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT)

static const char *const vq_err_names[SVH_VQERR_MAX] = {
	[SVH_VQERR_AVAIL_IDX] = "avail_idx",
	[SVH_VQERR_HEAD] = "head",
	[SVH_VQERR_NEXT] = "next",
	[SVH_VQERR_LOOP] = "loop",
	[SVH_VQERR_ADDR] = "addr",
	[SVH_VQERR_DIR] = "direction",
	[SVH_VQERR_INDIRECT] = "indirect",
	[SVH_VQERR_SEGS] = "segments",
	[SVH_VQERR_FLAGS] = "flags",
};

const char *svh_vq_err_name(int err)
{
	if (err < 0 || err >= SVH_VQERR_MAX)
		return "unknown";
	return vq_err_names[err];
}

/* Translate and set the ring pointers; all or nothing. */
static int vq_map(struct svh_vq *vq, const struct svh_guestmem *gm, uint64_t num,
		  uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa)
{
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3))
		return -EINVAL;
	/* Sizes always include the event fields so either mode stays in bounds. */
	desc = svh_gm_translate(gm, &vq->gm_hint, desc_gpa, 16 * num);
	avail = svh_gm_translate(gm, &vq->gm_hint, avail_gpa, 4 + 2 * num + 2);
	used = svh_gm_translate(gm, &vq->gm_hint, used_gpa, 4 + 8 * num + 2);
	if (!desc || !avail || !used)
		return -EFAULT;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->used_event = &avail->ring[num];
	vq->avail_event = (uint16_t *)&used->ring[num];
	vq->gm = gm;
	vq->desc_gpa = desc_gpa;
	vq->avail_gpa = avail_gpa;
	vq->used_gpa = used_gpa;
	return 0;
}

int svh_vq_start(struct svh_vq *vq, const struct svh_guestmem *gm, struct svh_dirtylog *log,
		 const struct svh_vq_params *p)
{
	uint64_t num = p->num;
	int rc;

	memset(vq, 0, offsetof(struct svh_vq, errors));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	if (!gm || num == 0 || num > SVH_VQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	if (!(p->features & (1ULL << VIRTIO_F_VERSION_1)))
		return -EINVAL;
	vq->num = (uint16_t)num;	/* 32768 fits; masks use num - 1 */
	rc = vq_map(vq, gm, num, p->desc_gpa, p->avail_gpa, p->used_gpa);
	if (rc)
		return rc;
	vq->log = log;
	vq->last_avail = p->last_avail_idx;
	vq->avail_idx = p->last_avail_idx;
	vq->used_idx = svh_read_once(&vq->used->idx);
	vq->used_pub = vq->used_idx;
	vq->event_idx = !!(p->features & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	vq->indirect = !!(p->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	vq->mrg_rxbuf = !!(p->features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	vq->kick_fd = p->kick_fd;
	vq->call_fd = p->call_fd;
	vq->ready = true;
	return 0;
}

int svh_vq_init(struct svh_vq *vq, const struct svh_guestmem *gm, struct svh_dirtylog *log,
		const struct svh_vq_params *p)
{
	memset(vq, 0, sizeof(*vq));
	return svh_vq_start(vq, gm, log, p);
}

int svh_vq_remap(struct svh_vq *vq, const struct svh_guestmem *gm, uint64_t desc_gpa,
		 uint64_t avail_gpa, uint64_t used_gpa)
{
	int rc;

	if (!vq->num)
		return -EINVAL;
	rc = vq_map(vq, gm, vq->num, desc_gpa, avail_gpa, used_gpa);
	if (rc)
		vq->ready = false;
	return rc;
}

uint16_t svh_vq_avail(struct svh_vq *vq)
{
	uint16_t idx, n;

	if (svh_unlikely(vq->broken || !vq->ready))
		return 0;
	idx = svh_read_once(&vq->avail->idx);
	n = (uint16_t)(idx - vq->last_avail);
	if (svh_unlikely(n > vq->num)) {
		svh_vq_break(vq, SVH_VQERR_AVAIL_IDX);
		return 0;
	}
	vq->avail_idx = idx;
	/* ring entries are read after the index */
	svh_rmb();
	return n;
}

static int walk(struct svh_vq *vq, struct svh_chain *c, uint16_t head, bool device_writes)
{
	const struct vring_desc *table = vq->desc;
	uint32_t tsize = vq->num, max = vq->num, count = 0, idx = head;
	bool in_indirect = false;
	uint16_t want = device_writes ? VRING_DESC_F_WRITE : 0;

	c->head = head;
	c->nseg = 0;
	c->len = 0;
	c->ndesc = 0;
	if (head >= vq->num)
		return SVH_VQERR_HEAD;
	for (;;) {
		struct vring_desc d;

		svh_snapshot(&d, &table[idx], sizeof(d));
		if (++count > max)
			return SVH_VQERR_LOOP;
		c->ndesc++;
		if (d.flags & ~KNOWN_DESC_FLAGS)
			return SVH_VQERR_FLAGS;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			const struct vring_desc *t;

			if (!vq->indirect || in_indirect || (d.flags & VRING_DESC_F_NEXT))
				return SVH_VQERR_INDIRECT;
			/*
			 * The virtio spec asks no alignment of an indirect
			 * table; drivers give a descriptor's natural one (8:
			 * Linux with SLOB kmallocs tables 8-aligned), which we
			 * require so the table is read as descriptors.
			 */
			if (d.len == 0 || (d.len & 15) || (d.addr & 7) ||
			    d.len / 16 > SVH_VQ_MAX_SEGS)
				return SVH_VQERR_INDIRECT;
			/* the whole table must be host-contiguous and mapped */
			t = svh_gm_translate(vq->gm, &vq->gm_hint, d.addr, d.len);
			if (!t)
				return SVH_VQERR_ADDR;
			table = t;
			tsize = d.len / 16;
			max = tsize;
			count = 0;
			idx = 0;
			in_indirect = true;
			continue;
		}
		if ((d.flags & VRING_DESC_F_WRITE) != want)
			return SVH_VQERR_DIR;
#ifdef SVH_TEST_DOUBLE_FETCH
		/* deliberately wrong, for tests/test_fetch only: fetch again after checking */
		d.addr = svh_read_once(&table[idx].addr);
#endif
		if (d.len) {
			int n = svh_gm_iov(vq->gm, &vq->gm_hint, d.addr, d.len, &c->seg[c->nseg],
					   SVH_VQ_MAX_SEGS - c->nseg);

			if (n == -E2BIG)
				return SVH_VQERR_SEGS;
			if (n < 0)
				return SVH_VQERR_ADDR;
			c->nseg += (uint32_t)n;
			c->len += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return -1;	/* done */
		idx = d.next;
		if (idx >= tsize)
			return SVH_VQERR_NEXT;
	}
}

int svh_vq_pop(struct svh_vq *vq, struct svh_chain *c, bool device_writes)
{
	uint16_t head;
	int err;

	if (svh_unlikely(vq->broken || !vq->ready))
		return -1;
	if (vq->last_avail == vq->avail_idx && svh_vq_avail(vq) == 0)
		return vq->broken ? -1 : 0;
	head = svh_read_once(&vq->avail->ring[vq->last_avail & (vq->num - 1)]);
	err = walk(vq, c, head, device_writes);
	if (svh_unlikely(err >= 0)) {
		svh_vq_break(vq, (enum svh_vq_err)err);
		return -1;
	}
	vq->last_avail++;
	return 1;
}

void svh_vq_unpop(struct svh_vq *vq, uint16_t n)
{
	vq->last_avail = (uint16_t)(vq->last_avail - n);
}

void svh_vq_push(struct svh_vq *vq, uint16_t head, uint32_t len)
{
	uint16_t slot = vq->used_idx & (vq->num - 1);
	struct vring_used_elem e = { .id = head, .len = len };

	if (svh_unlikely(vq->broken || !vq->ready))
		return;
	memcpy(&vq->used->ring[slot], &e, sizeof(e));
	svh_log_write(vq->log, vq->used_gpa + 4 + 8ull * slot, sizeof(e));
	vq->used_idx++;
}

void svh_vq_flush(struct svh_vq *vq)
{
	if (vq->used_idx == vq->used_pub || vq->broken)
		return;
	/* elements before the index */
	svh_wmb();
	svh_store_release(&vq->used->idx, vq->used_idx);
	svh_log_write(vq->log, vq->used_gpa + 2, 2);
	vq->used_pub = vq->used_idx;
}

static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool svh_vq_notify(struct svh_vq *vq)
{
	bool send;

	if (vq->broken)
		return false;
	/* our used->idx store must be visible before we read the guest's wish */
	svh_mb();
	if (vq->event_idx) {
		uint16_t old = vq->signalled_used;
		uint16_t ev = svh_read_once(vq->used_event);

		if (vq->signalled_valid && old == vq->used_pub)
			return false;	/* nothing new since the last interrupt */
		send = !vq->signalled_valid || need_event(ev, vq->used_pub, old);
		vq->signalled_used = vq->used_pub;
		vq->signalled_valid = true;
	} else {
		send = !(svh_read_once(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (!send) {
		vq->suppressed++;
		return false;
	}
	if (vq->call_fd >= 0 && svh_eventfd_kick(vq->call_fd) == 0)
		vq->interrupts++;
	return true;
}

void svh_vq_set_notification(struct svh_vq *vq, bool enable)
{
	if (vq->broken || !vq->ready)
		return;
	if (vq->event_idx) {
		/* kick us once the guest goes past what we have seen */
		if (enable) {
			svh_write_once(vq->avail_event, vq->avail_idx);
			svh_log_write(vq->log, vq->used_gpa + 4 + 8ull * vq->num, 2);
		}
	} else {
		svh_write_once(&vq->used->flags, enable ? 0 : VRING_USED_F_NO_NOTIFY);
		svh_log_write(vq->log, vq->used_gpa, 2);
	}
	if (enable)
		svh_mb();
}

/* ---- prefetch hints (values read here steer prefetches only) ------------------ */

void svh_vq_prefetch_ring(const struct svh_vq *vq, uint16_t n)
{
	const uint16_t mask = (uint16_t)(vq->num - 1);

	if (svh_unlikely(vq->broken || !vq->ready))
		return;
	if (n > svh_vq_pending(vq))
		n = svh_vq_pending(vq);
	/* 32 avail entries and 8 used entries per cache line */
	for (uint16_t i = 0; i < n; i += 32)
		svh_prefetch(&vq->avail->ring[(uint16_t)(vq->last_avail + i) & mask]);
	if (n)
		svh_prefetch(&vq->avail->ring[(uint16_t)(vq->last_avail + n - 1) & mask]);
	for (uint16_t i = 0; i < n; i += 8)
		svh_prefetch_w(&vq->used->ring[(uint16_t)(vq->used_idx + i) & mask]);
	if (n)
		svh_prefetch_w(&vq->used->ring[(uint16_t)(vq->used_idx + n - 1) & mask]);
	svh_prefetch_w(&vq->used->idx);
}

static uint16_t pf_head(const struct svh_vq *vq, uint16_t k)
{
	uint16_t mask = (uint16_t)(vq->num - 1);

	return svh_read_once(&vq->avail->ring[(uint16_t)(vq->last_avail + k) & mask]) & mask;
}

void svh_vq_prefetch_desc(const struct svh_vq *vq, uint16_t k)
{
	if (svh_unlikely(vq->broken || k >= svh_vq_pending(vq)))
		return;
	svh_prefetch(&vq->desc[pf_head(vq, k)]);
}

void svh_vq_prefetch_buf(struct svh_vq *vq, uint16_t k, bool write, uint32_t max_bytes)
{
	struct vring_desc d;
	const uint8_t *p;
	uint32_t len;

	if (svh_unlikely(vq->broken || k >= svh_vq_pending(vq)))
		return;
	svh_snapshot(&d, &vq->desc[pf_head(vq, k)], sizeof(d));
	if (d.flags & VRING_DESC_F_INDIRECT) {
		if (!vq->indirect || d.len < 16)
			return;
		p = svh_gm_translate(vq->gm, &vq->gm_hint, d.addr, 16);
		if (p)
			svh_prefetch(p);
		return;
	}
	if (max_bytes < 64)
		max_bytes = 64;
	len = d.len < max_bytes ? d.len : max_bytes;
	if (!len)
		return;
	/* translate checks [addr, addr + len) lies in one mapped region */
	p = svh_gm_translate(vq->gm, &vq->gm_hint, d.addr, len);
	if (!p)
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
