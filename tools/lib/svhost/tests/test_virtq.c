// SPDX-License-Identifier: BSD-3-Clause
/*
 * test_virtq.c: the split-virtqueue engine against a hostile guest.  Every
 * validation rule has a test that builds the offending ring by hand and
 * checks the exact reason counter, that the queue is then broken and that a
 * broken queue publishes nothing.  Also used-ring/event-index wrap-around and
 * the virtio-net header mapping.
 */
#include <string.h>
#include <linux/virtio_config.h>

#include "synth.h"
#include "tap.h"

static struct synth_guest g;
static struct svh_vq vq;

static void setup(uint64_t features, uint16_t num, bool split)
{
	struct sg_cfg c = { .num = num, .tx_buf_cap = 4096, .rx_buf_len = 2048,
			    .features = features, .split_regions = split,
			    .tx_layout = SG_TX_SIMPLE };
	struct svh_vq_params p;

	sg_fini(&g);
	CHECK_EQ(sg_init(&g, &c), 0);
	sg_vq_params(&g, false, &p);
	CHECK_EQ(svh_vq_init(&vq, sg_gm(&g), NULL, &p), 0);
}

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	g.tx.desc[i].addr = addr;
	g.tx.desc[i].len = len;
	g.tx.desc[i].flags = flags;
	g.tx.desc[i].next = next;
}

static void avail(uint16_t head)
{
	g.tx.avail->ring[g.tx.avail_idx & (g.tx.num - 1)] = head;
	g.tx.avail->idx = ++g.tx.avail_idx;
}

static struct svh_chain ch;

/* Expect the next pop to fail for reason err and leave the queue broken. */
static void expect_broken(bool rx, int err)
{
	uint16_t used_before = g.tx.used->idx;

	CHECK_EQ(svh_vq_pop(&vq, &ch, rx), -1);
	CHECK(vq.broken);
	CHECK_EQ(vq.broken_reason, err);
	CHECK_EQ(vq.errors[err], 1);
	/* a broken queue never touches the rings again */
	svh_vq_push(&vq, 0, 0);
	svh_vq_flush(&vq);
	CHECK_EQ(g.tx.used->idx, used_before);
	CHECK_EQ(svh_vq_pop(&vq, &ch, rx), -1);
	CHECK_EQ(svh_vq_avail(&vq), 0);
}

#define BUF (g.tx_buf_gpa)
#define ALLF ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
	      (1ULL << VIRTIO_RING_F_EVENT_IDX))

static void valid_chain_pops(void)
{
	setup(ALLF, 64, false);
	desc(0, BUF, 12, VRING_DESC_F_NEXT, 1);
	desc(1, BUF + 12, 100, 0, 0);
	avail(0);
	CHECK_EQ(svh_vq_pop(&vq, &ch, false), 1);
	CHECK_EQ(ch.head, 0);
	CHECK_EQ(ch.len, 112);
	CHECK_EQ(ch.nseg, 2);
	CHECK_EQ(svh_vq_pop(&vq, &ch, false), 0);
	CHECK(!vq.broken);
}

static void avail_idx_jump_rejected(void)
{
	setup(ALLF, 64, false);
	g.tx.avail->idx = 65;	/* 65 > queue size 64 */
	expect_broken(false, SVH_VQERR_AVAIL_IDX);
	/* exactly the queue size is fine */
	setup(ALLF, 64, false);
	for (int i = 0; i < 64; i++)
		desc((uint16_t)i, BUF, 20, 0, 0);
	g.tx.avail->idx = 64;
	CHECK_EQ(svh_vq_avail(&vq), 64);
	CHECK(!vq.broken);
}

static void head_out_of_range(void)
{
	setup(ALLF, 64, false);
	avail(64);
	expect_broken(false, SVH_VQERR_HEAD);
}

static void next_out_of_range(void)
{
	setup(ALLF, 64, false);
	desc(0, BUF, 20, VRING_DESC_F_NEXT, 200);
	avail(0);
	expect_broken(false, SVH_VQERR_NEXT);
}

static void chain_loop_detected(void)
{
	setup(ALLF, 64, false);
	desc(0, BUF, 20, VRING_DESC_F_NEXT, 1);
	desc(1, BUF, 20, VRING_DESC_F_NEXT, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_LOOP);
}

static void chain_longer_than_queue(void)
{
	setup(ALLF, 64, false);
	for (int i = 0; i < 64; i++)
		desc((uint16_t)i, BUF, 1, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 64));
	avail(0);
	expect_broken(false, SVH_VQERR_LOOP);
}

static void buffer_outside_memory(void)
{
	setup(ALLF, 64, false);
	desc(0, g.mem_size + 4096, 20, 0, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_ADDR);
}

static void buffer_straddles_end(void)
{
	setup(ALLF, 64, false);
	desc(0, g.mem_size - 10, 20, 0, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_ADDR);
}

static void buffer_address_wraps(void)
{
	setup(ALLF, 64, false);
	desc(0, UINT64_MAX - 5, 100, 0, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_ADDR);
}

static void buffer_spanning_regions_ok(void)
{
	setup(ALLF, 64, true);
	/* the seam sits 7 bytes into TX slot 1's buffer */
	desc(0, g.tx_buf_gpa + 4096, 100, 0, 0);
	avail(0);
	CHECK_EQ(svh_vq_pop(&vq, &ch, false), 1);
	CHECK_EQ(ch.nseg, 2);
	CHECK_EQ(ch.seg[0].len, 7);
	CHECK_EQ(ch.seg[1].len, 93);
	CHECK((uint8_t *)ch.seg[0].base + 7 != ch.seg[1].base);
}

static void device_writes_readonly_rejected(void)
{
	setup(ALLF, 64, false);
	desc(0, BUF, 100, 0, 0);	/* read-only in an RX queue */
	avail(0);
	expect_broken(true, SVH_VQERR_DIR);
}

static void device_reads_writeonly_rejected(void)
{
	setup(ALLF, 64, false);
	desc(0, BUF, 12, VRING_DESC_F_NEXT, 1);
	desc(1, BUF, 100, VRING_DESC_F_WRITE, 0);	/* write-only in a TX chain */
	avail(0);
	expect_broken(false, SVH_VQERR_DIR);
}

static void unknown_desc_flags(void)
{
	setup(ALLF, 64, false);
	desc(0, BUF, 100, 0x80, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_FLAGS);
}

/* a table OFF bytes after the usual place (OFF a multiple of 8) */
static uint64_t ind_table_at(int n, uint64_t off)
{
	struct vring_desc *t = sg_hva(&g, g.tx_ind_gpa + off);

	for (int i = 0; i < n; i++) {
		t[i].addr = BUF + 10 * i;
		t[i].len = 10;
		t[i].flags = i + 1 < n ? VRING_DESC_F_NEXT : 0;
		t[i].next = (uint16_t)(i + 1);
	}
	return g.tx_ind_gpa + off;
}

static uint64_t ind_table(int n)
{
	return ind_table_at(n, 0);
}

static void indirect_ok(void)
{
	setup(ALLF, 64, false);
	desc(0, ind_table(4), 64, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	CHECK_EQ(svh_vq_pop(&vq, &ch, false), 1);
	CHECK_EQ(ch.len, 40);
	CHECK_EQ(ch.nseg, 4);
}

static void indirect_not_negotiated(void)
{
	setup(ALLF & ~(1ULL << VIRTIO_RING_F_INDIRECT_DESC), 64, false);
	desc(0, ind_table(4), 64, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_INDIRECT);
}

static void indirect_nested(void)
{
	struct vring_desc *t;

	setup(ALLF, 64, false);
	ind_table(4);
	t = sg_hva(&g, g.tx_ind_gpa);
	t[2].flags = VRING_DESC_F_INDIRECT;
	t[2].addr = g.tx_ind_gpa;
	t[2].len = 64;
	desc(0, g.tx_ind_gpa, 64, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_INDIRECT);
}

static void indirect_with_next(void)
{
	setup(ALLF, 64, false);
	desc(0, ind_table(4), 64, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	desc(1, BUF, 10, 0, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_INDIRECT);
}

static void indirect_bad_size(void)
{
	setup(ALLF, 64, false);
	desc(0, ind_table(4), 40, VRING_DESC_F_INDIRECT, 0);	/* not a multiple of 16 */
	avail(0);
	expect_broken(false, SVH_VQERR_INDIRECT);
	setup(ALLF, 64, false);
	desc(0, ind_table(4), 0, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_INDIRECT);
	setup(ALLF, 64, false);
	desc(0, ind_table(4), 16 * (SVH_VQ_MAX_SEGS + 1), VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_INDIRECT);
}

/* Linux with SLOB allocates indirect tables 8-aligned: they are valid */
static void indirect_8_aligned(void)
{
	setup(ALLF, 64, false);
	desc(0, ind_table_at(4, 8), 64, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	CHECK_EQ(svh_vq_pop(&vq, &ch, false), 1);
	CHECK_EQ(ch.len, 40);
	CHECK_EQ(ch.nseg, 4);
}

static void indirect_misaligned(void)
{
	setup(ALLF, 64, false);
	desc(0, ind_table(4) + 4, 48, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_INDIRECT);
}

static void indirect_table_outside_memory(void)
{
	setup(ALLF, 64, false);
	desc(0, g.mem_size - 32, 64, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_ADDR);
}

static void indirect_loop_and_next(void)
{
	struct vring_desc *t;

	setup(ALLF, 64, false);
	ind_table(4);
	t = sg_hva(&g, g.tx_ind_gpa);
	t[3].flags = VRING_DESC_F_NEXT;
	t[3].next = 0;		/* loops back inside the table */
	desc(0, g.tx_ind_gpa, 64, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_LOOP);
	setup(ALLF, 64, false);
	ind_table(4);
	t = sg_hva(&g, g.tx_ind_gpa);
	t[3].flags = VRING_DESC_F_NEXT;
	t[3].next = 4;		/* past the table */
	desc(0, g.tx_ind_gpa, 64, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_NEXT);
}

static void too_many_segments(void)
{
	struct vring_desc *t;
	uint64_t seam;

	setup(ALLF, 1024, true);
	seam = g.regions[1].gpa;
	/* indirect table of 1024 entries each crossing a region seam: 2048 segments */
	t = sg_hva(&g, g.tx_ind_gpa);
	for (int i = 0; i < 1024; i++) {
		t[i].addr = seam - 1;
		t[i].len = 2;
		t[i].flags = i < 1023 ? VRING_DESC_F_NEXT : 0;
		t[i].next = (uint16_t)(i + 1);
	}
	desc(0, g.tx_ind_gpa, 16 * 1024, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_broken(false, SVH_VQERR_SEGS);
}

static void init_rejects_bad_layout(void)
{
	struct svh_vq_params p;
	struct svh_vq v;

	setup(ALLF, 64, false);
	sg_vq_params(&g, false, &p);
	p.desc_gpa += 8;
	CHECK_EQ(svh_vq_init(&v, sg_gm(&g), NULL, &p), -EINVAL);
	sg_vq_params(&g, false, &p);
	p.num = 48;
	CHECK_EQ(svh_vq_init(&v, sg_gm(&g), NULL, &p), -EINVAL);
	sg_vq_params(&g, false, &p);
	p.features &= ~(1ULL << VIRTIO_F_VERSION_1);
	CHECK_EQ(svh_vq_init(&v, sg_gm(&g), NULL, &p), -EINVAL);
	sg_vq_params(&g, false, &p);
	p.used_gpa = g.mem_size - 16;
	CHECK_EQ(svh_vq_init(&v, sg_gm(&g), NULL, &p), -EFAULT);
	sg_vq_params(&g, false, &p);
	p.num = 32768;		/* desc table no longer fits in guest memory */
	CHECK_EQ(svh_vq_init(&v, sg_gm(&g), NULL, &p), -EFAULT);
}

static void used_ring_wraps(void)
{
	struct svh_vq_params p;

	setup(ALLF, 64, false);
	sg_vq_params(&g, false, &p);
	p.last_avail_idx = 65530;
	g.tx.used->idx = 65530;
	g.tx.avail_idx = 65530;
	CHECK_EQ(svh_vq_init(&vq, sg_gm(&g), NULL, &p), 0);
	for (int i = 0; i < 12; i++) {
		desc((uint16_t)i, BUF, 20, 0, 0);
		avail((uint16_t)i);
	}
	CHECK_EQ(svh_vq_avail(&vq), 12);
	for (int i = 0; i < 12; i++) {
		CHECK_EQ(svh_vq_pop(&vq, &ch, false), 1);
		CHECK_EQ(ch.head, i);
		svh_vq_push(&vq, ch.head, (uint32_t)i);
	}
	svh_vq_flush(&vq);
	CHECK_EQ(g.tx.used->idx, 6);
	for (int i = 0; i < 12; i++) {
		struct vring_used_elem e = g.tx.used->ring[(uint16_t)(65530 + i) & 63];

		CHECK_EQ(e.id, i);
		CHECK_EQ(e.len, i);
	}
	CHECK(!vq.broken);
}

static void event_idx_across_wrap(void)
{
	struct svh_vq_params p;

	setup(ALLF, 64, false);
	sg_vq_params(&g, false, &p);
	p.last_avail_idx = 65534;
	g.tx.used->idx = 65534;
	g.tx.avail_idx = 65534;
	CHECK_EQ(svh_vq_init(&vq, sg_gm(&g), NULL, &p), 0);
	vq.signalled_valid = true;
	vq.signalled_used = 65534;
	for (int i = 0; i < 4; i++) {
		desc((uint16_t)i, BUF, 20, 0, 0);
		avail((uint16_t)i);
	}
	/* guest wants an interrupt once used passes 65535 (i.e. at 0) */
	g.tx.avail->ring[64] = 65535;
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(svh_vq_pop(&vq, &ch, false), 1);
		svh_vq_push(&vq, ch.head, 0);
	}
	svh_vq_flush(&vq);
	CHECK(svh_vq_notify(&vq));
	/* next batch: guest asks at 10, we only reach 4: no interrupt */
	g.tx.avail->ring[64] = 10;
	for (int i = 0; i < 2; i++) {
		desc((uint16_t)(4 + i), BUF, 20, 0, 0);
		avail((uint16_t)(4 + i));
		CHECK_EQ(svh_vq_pop(&vq, &ch, false), 1);
		svh_vq_push(&vq, ch.head, 0);
	}
	svh_vq_flush(&vq);
	CHECK(!svh_vq_notify(&vq));
	/* avail_event: with notifications enabled we ask for a kick past avail */
	svh_vq_set_notification(&vq, true);
	CHECK_EQ(*(uint16_t *)&g.tx.used->ring[64], vq.avail_idx);
}

/* The one offload validator (offload.c), as every caller uses it. */
static void vnet_header_mapping(void)
{
	struct virtio_net_hdr h = { 0 }, back;
	svh_desc_t d = { 0 };

	CHECK_EQ(svh_vnet_check(&h, 100), 0);
	svh_vnet_to_desc(&h, &d);
	CHECK(!(d.flags & SVHOST_DESC_F_OFFLOAD));
	h.flags = 0x8;	/* unknown */
	CHECK_EQ(svh_vnet_check(&h, 100), -EINVAL);
	h.flags = 0;
	h.gso_type = VIRTIO_NET_HDR_GSO_ECN;	/* ECN without GSO */
	CHECK_EQ(svh_vnet_check(&h, 100), -EINVAL);
	h.gso_type = 2;	/* no such GSO type */
	CHECK_EQ(svh_vnet_check(&h, 100), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;	/* gso_size 0 */
	CHECK_EQ(svh_vnet_check(&h, 100), -EINVAL);
	h.gso_size = 1400;
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4 | VIRTIO_NET_HDR_GSO_ECN;
	CHECK_EQ(svh_vnet_check(&h, 100), 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 90;
	h.csum_offset = 9;	/* 90 + 9 + 2 > 100 */
	CHECK_EQ(svh_vnet_check(&h, 100), -EINVAL);
	CHECK_EQ(svh_vnet_check(&h, 101), 0);
	h.csum_offset = 8;
	h.hdr_len = 54;
	CHECK_EQ(svh_vnet_check(&h, 100), 0);
	svh_vnet_to_desc(&h, &d);
	CHECK(d.flags & SVHOST_DESC_F_OFFLOAD);
	CHECK_EQ(svh_desc_check_offload(&d), 0);
	svh_desc_to_vnet(&d, &back);
	CHECK(!memcmp(&back, &h, sizeof(h)));
	/* without F_OFFLOAD every offload field must be zero */
	d.flags = 0;
	CHECK_EQ(svh_desc_check_offload(&d), -EINVAL);
	svh_desc_to_vnet(&d, &back);
	CHECK_EQ(back.gso_size, 0);
	/* with it, the same rules as for a header */
	d.flags = SVHOST_DESC_F_OFFLOAD;
	d.gso_type = 7;
	CHECK_EQ(svh_desc_check_offload(&d), -EINVAL);
}

int main(void)
{
	printf("KTAP version 1\n1..26\n");
	RUN(valid_chain_pops);
	RUN(avail_idx_jump_rejected);
	RUN(head_out_of_range);
	RUN(next_out_of_range);
	RUN(chain_loop_detected);
	RUN(chain_longer_than_queue);
	RUN(buffer_outside_memory);
	RUN(buffer_straddles_end);
	RUN(buffer_address_wraps);
	RUN(buffer_spanning_regions_ok);
	RUN(device_writes_readonly_rejected);
	RUN(device_reads_writeonly_rejected);
	RUN(unknown_desc_flags);
	RUN(indirect_ok);
	RUN(indirect_not_negotiated);
	RUN(indirect_nested);
	RUN(indirect_with_next);
	RUN(indirect_bad_size);
	RUN(indirect_8_aligned);
	RUN(indirect_misaligned);
	RUN(indirect_table_outside_memory);
	RUN(indirect_loop_and_next);
	RUN(too_many_segments);
	RUN(init_rejects_bad_layout);
	RUN(used_ring_wraps);
	RUN(event_idx_across_wrap);
	RUN(vnet_header_mapping);
	sg_fini(&g);
	return tap_done();
}
