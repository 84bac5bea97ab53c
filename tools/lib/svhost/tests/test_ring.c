// SPDX-License-Identifier: BSD-3-Clause
/*
 * test_ring.c: svhost rings in both roles, and each side facing a hostile
 * peer: index jumps and rewinds, bad offsets (unaligned, outside the pool,
 * overflowing), oversized lengths, unknown flags, non-zero reserved fields,
 * bad offload values, and a copier that rewrites the offset of a slot (the
 * vSwitch must use its shadow).  Also PD-level handling of bad descriptors.
 * That each slot is read once is test_fetch's job.
 */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <string.h>

#include "synth.h"
#include "tap.h"

#define RS 64
#define BS 2048
#define BC 256

static struct svhost_ring *shm;
static uint8_t *pool;
static struct svh_ring prod, cons;

static void setup(void)
{
	free(shm);
	free(pool);
	shm = aligned_alloc(64, SVHOST_RING_HDR_SIZE + RS * sizeof(struct svhost_desc));
	pool = aligned_alloc(4096, BS * BC);
	memset(shm, 0, SVHOST_RING_HDR_SIZE + RS * sizeof(struct svhost_desc));
	svh_ring_fini(&prod);
	CHECK_EQ(svh_ring_init(&prod, shm, SVH_RING_PRODUCER, RS, pool, BS, BC, true), 0);
	CHECK_EQ(svh_ring_init(&cons, shm, SVH_RING_CONSUMER, RS, pool, BS, BC, false), 0);
}

static svh_desc_t mk(uint64_t off, uint32_t len, uint16_t flags)
{
	svh_desc_t d = { .offset = off, .len = len, .flags = flags };

	return d;
}

static void basic_post_peek_complete_reap(void)
{
	svh_desc_t d[4] = { mk(0, 100, 0), mk(BS, 2048, SVHOST_DESC_F_NEXT), mk(2 * BS, 1, 0),
			    mk((BC - 1) * (uint64_t)BS, 0, 0) };
	svh_desc_t out[8];
	uint8_t ok[8];

	setup();
	CHECK_EQ(svh_ring_prod_post(&prod, d, 4), 4);
	CHECK_EQ(svh_ring_cons_peek(&cons, out, ok, 8), 4);
	for (int i = 0; i < 4; i++) {
		CHECK(ok[i]);
		CHECK_EQ(out[i].offset, d[i].offset);
	}
	out[0].len = 77;
	svh_ring_cons_fill(&cons, 0, &out[0]);
	svh_ring_cons_complete(&cons, 4);
	CHECK_EQ(svh_ring_prod_reap(&prod, out, ok, 8), 4);
	CHECK_EQ(out[0].len, 77);
	CHECK_EQ(svh_ring_prod_free(&prod), RS);
}

static void ring_fills_to_size_only(void)
{
	svh_desc_t d[RS + 1];

	setup();
	for (int i = 0; i <= RS; i++)
		d[i] = mk((uint64_t)i * BS, 10, 0);
	CHECK_EQ(svh_ring_prod_post(&prod, d, RS + 1), RS);
	CHECK_EQ(svh_ring_prod_free(&prod), 0);
	CHECK_EQ(svh_ring_cons_avail(&cons), RS);
	CHECK(!cons.broken);
}

static void consumer_rejects_prod_jump(void)
{
	setup();
	shm->prod = RS + 1;	/* more than ring_size ahead of cons */
	CHECK_EQ(svh_ring_cons_avail(&cons), 0);
	CHECK(cons.broken);
	CHECK_EQ(cons.broken_reason, SVH_RERR_PEER_INDEX);
	CHECK_EQ(cons.stats.errors[SVH_RERR_PEER_INDEX], 1);
	shm->prod = 1;	/* even a sane value later is ignored: broken stays broken */
	CHECK_EQ(svh_ring_cons_avail(&cons), 0);
}

static void consumer_rejects_prod_rewind(void)
{
	svh_desc_t out[8];
	uint8_t ok[8];
	svh_desc_t d[4] = { mk(0, 1, 0), mk(BS, 1, 0), mk(2 * BS, 1, 0), mk(3 * BS, 1, 0) };

	setup();
	svh_ring_prod_post(&prod, d, 4);
	CHECK_EQ(svh_ring_cons_peek(&cons, out, ok, 4), 4);
	shm->prod = 2;	/* producer takes back slots already handed out */
	CHECK_EQ(svh_ring_cons_avail(&cons), 0);
	CHECK(cons.broken);
	CHECK_EQ(cons.broken_reason, SVH_RERR_PEER_INDEX);
}

static void consumer_validates_each_field(void)
{
	svh_desc_t out[16];
	uint8_t ok[16];
	int i = 0;

	setup();
	/* written straight into shared memory, as a hostile vSwitch would */
	shm->desc[i++] = (struct svhost_desc){ .offset = 1, .len = 1 };		/* unaligned */
	shm->desc[i++] = (struct svhost_desc){ .offset = (uint64_t)BC * BS, .len = 1 };	/* past pool */
	shm->desc[i++] = (struct svhost_desc){ .offset = UINT64_MAX - BS + 1, .len = 1 };	/* wraps */
	shm->desc[i++] = (struct svhost_desc){ .offset = 0, .len = BS + 1 };	/* too long */
	shm->desc[i++] = (struct svhost_desc){ .offset = 0, .len = 1, .flags = 4 };	/* flags */
	shm->desc[i++] = (struct svhost_desc){ .offset = 0, .len = 1, .reserved = 1 };
	shm->desc[i++] = (struct svhost_desc){ .offset = 0, .len = 1, .gso_size = 5 };	/* offload w/o flag */
	shm->desc[i++] = (struct svhost_desc){ .offset = 0, .len = 1, .flags = SVHOST_DESC_F_OFFLOAD,
					       .gso_type = 2, .gso_size = 100 };	/* bad gso */
	shm->desc[i++] = (struct svhost_desc){ .offset = 0, .len = 1, .flags = SVHOST_DESC_F_OFFLOAD,
					       .vnet_flags = 0x40 };	/* bad vnet flag */
	shm->desc[i++] = (struct svhost_desc){ .offset = (uint64_t)(BC - 1) * BS, .len = BS };	/* ok */
	shm->prod = (uint32_t)i;
	CHECK_EQ(svh_ring_cons_peek(&cons, out, ok, 16), i);
	for (int k = 0; k < i - 1; k++)
		CHECK_EQ(ok[k], 0);
	CHECK_EQ(ok[i - 1], 1);
	CHECK_EQ(cons.stats.errors[SVH_RERR_OFFSET], 3);
	CHECK_EQ(cons.stats.errors[SVH_RERR_LEN], 1);
	CHECK_EQ(cons.stats.errors[SVH_RERR_FLAGS], 1);
	CHECK_EQ(cons.stats.errors[SVH_RERR_RESERVED], 1);
	CHECK_EQ(cons.stats.errors[SVH_RERR_OFFLOAD], 3);
	CHECK(!cons.broken);
}

static void producer_rejects_cons_jump(void)
{
	svh_desc_t d[2] = { mk(0, 1, 0), mk(BS, 1, 0) };
	svh_desc_t out[4];
	uint8_t ok[4];

	setup();
	svh_ring_prod_post(&prod, d, 2);
	shm->cons = 3;	/* beyond what was posted */
	CHECK_EQ(svh_ring_prod_reap(&prod, out, ok, 4), 0);
	CHECK(prod.broken);
	CHECK_EQ(prod.broken_reason, SVH_RERR_PEER_INDEX);
	CHECK_EQ(svh_ring_prod_free(&prod), 0);
	setup();
	svh_ring_prod_post(&prod, d, 2);
	shm->cons = (uint32_t)-1;	/* backwards */
	CHECK_EQ(svh_ring_prod_reap(&prod, out, ok, 4), 0);
	CHECK(prod.broken);
}

static void producer_uses_shadow_offset(void)
{
	svh_desc_t d[1] = { mk(5 * BS, 0, 0) };
	svh_desc_t out[1];
	uint8_t ok[1];

	setup();
	svh_ring_prod_post(&prod, d, 1);
	/* a hostile copier points the slot at another buffer and lies about len */
	shm->desc[0].offset = 9 * BS;
	shm->desc[0].len = 100;
	shm->cons = 1;
	CHECK_EQ(svh_ring_prod_reap(&prod, out, ok, 1), 1);
	CHECK(ok[0]);
	CHECK_EQ(out[0].offset, 5 * BS);
	CHECK_EQ(out[0].len, 100);
	/* and a length beyond the buffer is flagged */
	svh_ring_prod_post(&prod, d, 1);
	shm->desc[1].len = BS + 1;
	shm->cons = 2;
	CHECK_EQ(svh_ring_prod_reap(&prod, out, ok, 1), 1);
	CHECK_EQ(ok[0], 0);
	CHECK_EQ(out[0].offset, 5 * BS);
	CHECK_EQ(prod.stats.errors[SVH_RERR_LEN], 1);
}

static void producer_refuses_bad_post(void)
{
	svh_desc_t d[2] = { mk(0, 1, 0), mk(3, 1, 0) };

	setup();
	CHECK_EQ(svh_ring_prod_post(&prod, d, 2), 1);
	CHECK_EQ(shm->prod, 1);
}

static void init_rejects_bad_geometry(void)
{
	struct svh_ring r;

	setup();
	CHECK_EQ(svh_ring_init(&r, shm, SVH_RING_CONSUMER, 48, pool, BS, BC, false), -EINVAL);
	CHECK_EQ(svh_ring_init(&r, shm, SVH_RING_CONSUMER, RS, pool, 3000, BC, false), -EINVAL);
	CHECK_EQ(svh_ring_init(&r, shm, SVH_RING_CONSUMER, RS, pool, BS, 0, false), -EINVAL);
	shm->prod = 100;
	shm->cons = 0;
	CHECK_EQ(svh_ring_init(&r, shm, SVH_RING_CONSUMER, RS, pool, BS, BC, false), -EPROTO);
}

static void need_wakeup_and_kick(void)
{
	int efd[2] = { eventfd(0, EFD_NONBLOCK), eventfd(0, EFD_NONBLOCK) };
	uint64_t v = 0;

	setup();
	svh_ring_set_fds(&prod, efd[0], efd[1]);
	svh_ring_set_fds(&cons, efd[1], efd[0]);
	CHECK(!svh_ring_kick_if_needed(&prod));
	svh_ring_set_need_wakeup(&cons, true);
	CHECK(shm->cons_flags & SVHOST_RING_NEED_WAKEUP);
	CHECK(svh_ring_peer_needs_wakeup(&prod));
	CHECK(svh_ring_kick_if_needed(&prod));
	CHECK_EQ(read(efd[0], &v, 8), 8);
	CHECK_EQ(v, 1);
	svh_ring_set_need_wakeup(&cons, false);
	CHECK(!svh_ring_kick_if_needed(&prod));
	CHECK_EQ(prod.stats.kicks_sent, 1);
	close(efd[0]);
	close(efd[1]);
}

/* PD-level: bad descriptors from the vSwitch are dropped or returned, counted. */
static void pd_handles_bad_vswitch_descs(void)
{
	struct rig_cfg c;
	struct rig r;
	struct svhost_ring *tg;

	rig_cfg_default(&c);
	CHECK_EQ(rig_init(&r, &c), 0);
	tg = svh_port_ring(&r.owner, 0, SVHOST_RING_TO_GUEST);
	sg_rx_refill(&r.g);
	/* packet with a bad offset: dropped, slot completed */
	tg->desc[0] = (struct svhost_desc){ .offset = 7, .len = 100 };
	/* packet whose second buffer carries offload fields: dropped */
	tg->desc[1] = (struct svhost_desc){ .offset = 0, .len = 100, .flags = SVHOST_DESC_F_NEXT };
	tg->desc[2] = (struct svhost_desc){ .offset = 2048, .len = 100,
					    .flags = SVHOST_DESC_F_OFFLOAD };
	/* zero-length packet: dropped */
	tg->desc[3] = (struct svhost_desc){ .offset = 0, .len = 0 };
	/* csum outside the packet */
	tg->desc[4] = (struct svhost_desc){ .offset = 0, .len = 60, .flags = SVHOST_DESC_F_OFFLOAD,
					    .vnet_flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					    .csum_start = 50, .csum_offset = 16 };
	/* good one */
	sp_fill(r.owner.pool + 4096, 100, 0);
	tg->desc[5] = (struct svhost_desc){ .offset = 4096, .len = 100 };
	svh_store_release(&tg->prod, 6);
	CHECK_EQ(svh_pd_rx_burst(r.qp, 32), 1);
	CHECK_EQ(r.qp->st[SVH_DIR_TO_GUEST].drops[SVH_DROP_BAD_DESC], 3);
	CHECK_EQ(r.qp->st[SVH_DIR_TO_GUEST].drops[SVH_DROP_EMPTY], 1);
	CHECK_EQ(tg->cons, 6);
	CHECK_EQ(sg_rx_poll(&r.g), 1);
	CHECK_EQ(r.g.rx_bad, 0);
	/* an F_NEXT run longer than any packet breaks the ring */
	for (int i = 6; i < 6 + 40; i++)
		tg->desc[i] = (struct svhost_desc){ .offset = 0, .len = 2048,
						    .flags = SVHOST_DESC_F_NEXT };
	svh_store_release(&tg->prod, 46);
	CHECK_EQ(svh_pd_rx_burst(r.qp, 32), 0);
	CHECK(r.qp->to_guest.broken);
	CHECK_EQ(r.qp->to_guest.broken_reason, SVH_RERR_CHAIN);
	rig_fini(&r);
}

static void pd_returns_bad_empty_buffers(void)
{
	struct rig_cfg c;
	struct rig r;
	struct svhost_ring *tv;

	rig_cfg_default(&c);
	CHECK_EQ(rig_init(&r, &c), 0);
	tv = svh_port_ring(&r.owner, 0, SVHOST_RING_TO_VSWITCH);
	/* the vSwitch library would refuse to post these: write them raw */
	tv->desc[0] = (struct svhost_desc){ .offset = 100 };
	tv->desc[1] = (struct svhost_desc){ .offset = 1ull << 40 };
	tv->desc[2] = (struct svhost_desc){ .offset = 2048 };
	svh_store_release(&tv->prod, 3);
	CHECK_EQ(sg_tx_post(&r.g, 500), 1);
	CHECK_EQ(svh_pd_tx_burst(r.qp, 32), 1);
	CHECK_EQ(tv->cons, 3);
	CHECK_EQ(tv->desc[0].len, 0);	/* returned unused */
	CHECK_EQ(tv->desc[1].len, 0);
	CHECK_EQ(tv->desc[2].len, 500);
	CHECK_EQ(tv->desc[2].offset, 2048);
	CHECK_EQ(r.qp->to_vswitch.stats.errors[SVH_RERR_OFFSET], 2);
	/* TX chain shorter than the virtio-net header: dropped, chain returned */
	r.g.tx.desc[0].len = 8;
	r.g.tx.desc[0].flags = 0;
	r.g.tx.avail->ring[r.g.tx.avail_idx & 255] = 0;
	r.g.tx.avail->idx = ++r.g.tx.avail_idx;
	svh_pd_tx_burst(r.qp, 32);
	CHECK_EQ(r.qp->st[SVH_DIR_TO_VSWITCH].drops[SVH_DROP_GUEST_HDR], 1);
	CHECK_EQ(r.g.tx.used->idx, 2);
	CHECK(!r.qp->txq.broken);
	rig_fini(&r);
}

static void ring_errors_named(void)
{
	for (int i = 0; i < SVH_RERR_MAX; i++)
		CHECK(strcmp(svh_ring_err_name(i), "unknown") != 0);
	CHECK(strcmp(svh_ring_err_name(SVH_RERR_MAX), "unknown") == 0);
}

int main(void)
{
	printf("KTAP version 1\n1..13\n");
	RUN(basic_post_peek_complete_reap);
	RUN(ring_fills_to_size_only);
	RUN(consumer_rejects_prod_jump);
	RUN(consumer_rejects_prod_rewind);
	RUN(consumer_validates_each_field);
	RUN(producer_rejects_cons_jump);
	RUN(producer_uses_shadow_offset);
	RUN(producer_refuses_bad_post);
	RUN(init_rejects_bad_geometry);
	RUN(need_wakeup_and_kick);
	RUN(pd_handles_bad_vswitch_descs);
	RUN(pd_returns_bad_empty_buffers);
	svh_ring_fini(&prod);
	free(shm);
	free(pool);
	RUN(ring_errors_named);
	return tap_done();
}
