// SPDX-License-Identifier: BSD-3-Clause
/*
 * test_pd.c: the PD copy loop end to end between the synthetic guest and the
 * synthetic vSwitch over a local port: integrity and loss in both
 * directions, every TX layout, region-spanning buffers, multi-buffer packets,
 * mergeable and non-mergeable RX, offload fields, backpressure, EVENT_IDX
 * interrupt suppression, dirty logging, index wrap-around and the PD thread
 * in each scheduling mode.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "synth.h"
#include "tap.h"

static uint32_t size_for(uint64_t i)
{
	static const uint32_t sizes[] = { 60, 64, 1, 17, 512, 1500, 1518, 2047, 2048, 2049,
					  4096, 4097, 9000, 100, 3 };

	return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

static uint64_t short_count(uint64_t n)
{
	uint64_t k = 0;

	for (uint64_t i = 0; i < n; i++)
		k += size_for(i) < SP_HDR_LEN;
	return k;
}

/* Push n packets guest -> vSwitch with a single-threaded pump. */
static void pump_tx(struct rig *r, uint64_t n, uint32_t fixed_len)
{
	unsigned spins = 0;

	/* n: total packets the guest has sent when done */
	sv_post_empty(&r->sv, ~0u);
	while (r->sv.pkts_in < n && spins < 1000000) {
		while (r->g.tx_seq < n &&
		       sg_tx_post(&r->g, fixed_len ? fixed_len : size_for(r->g.tx_seq)))
			;
		svh_pd_tx_burst(r->qp, 32);
		sv_drain(&r->sv);
		sv_post_empty(&r->sv, ~0u);
		sg_tx_reap(&r->g);
		spins++;
	}
}

static void pump_rx(struct rig *r, uint64_t n, uint32_t fixed_len)
{
	unsigned spins = 0;

	sg_rx_refill(&r->g);
	while (r->g.rx_pkts < n && spins < 1000000) {
		while (r->sv.tx_seq < n &&
		       sv_send(&r->sv, fixed_len ? fixed_len : size_for(r->sv.tx_seq)))
			;
		svh_pd_rx_burst(r->qp, 32);
		sg_rx_poll(&r->g);
		sg_rx_refill(&r->g);
		sv_reap_sent(&r->sv);
		spins++;
	}
}

static void no_errors(struct rig *r)
{
	for (int i = 0; i < SVH_VQERR_MAX; i++) {
		CHECK_EQ(r->qp->txq.errors[i], 0);
		CHECK_EQ(r->qp->rxq.errors[i], 0);
	}
	for (int i = 0; i < SVH_RERR_MAX; i++) {
		CHECK_EQ(r->qp->to_guest.stats.errors[i], 0);
		CHECK_EQ(r->qp->to_vswitch.stats.errors[i], 0);
		CHECK_EQ(r->sv.tx.stats.errors[i], 0);
		CHECK_EQ(r->sv.rx.stats.errors[i], 0);
	}
	CHECK(!r->qp->txq.broken && !r->qp->rxq.broken);
	CHECK(!r->qp->to_guest.broken && !r->qp->to_vswitch.broken);
}

static void tx_all_layouts_integrity(void)
{
	struct rig_cfg c;
	struct rig r;
	const uint64_t n = 30000;	/* > 65536/2: u16 indexes wrap in later tests */

	rig_cfg_default(&c);
	CHECK_EQ(rig_init(&r, &c), 0);
	pump_tx(&r, n, 0);
	/* sizes 1, 3 are below the payload header: they arrive but cannot be checked */
	CHECK_EQ(r.sv.pkts_in, n);
	CHECK_EQ(r.qp->st[SVH_DIR_TO_VSWITCH].packets, n);
	CHECK_EQ(r.sv.bad_in, 0);
	CHECK_EQ(r.sv.short_in, short_count(n));
	CHECK_EQ(r.sv.out_of_order, 0);
	CHECK_EQ(r.g.tx_done, n);
	CHECK_EQ(r.g.rx_bad_used, 0);
	no_errors(&r);
	rig_fini(&r);
}

static void tx_large_packets_chain_buffers(void)
{
	struct rig_cfg c;
	struct rig r;

	rig_cfg_default(&c);
	c.g.tx_buf_cap = 65536 + 64;
	c.g.num = 64;
	CHECK_EQ(rig_init(&r, &c), 0);
	pump_tx(&r, 500, 65000);
	CHECK_EQ(r.sv.pkts_in, 500);
	CHECK_EQ(r.sv.bad_in, 0);
	CHECK_EQ(r.sv.out_of_order, 0);
	CHECK_EQ(r.sv.bytes_in, 500ull * 65000);
	no_errors(&r);
	rig_fini(&r);
}

static void rx_mergeable_integrity(void)
{
	struct rig_cfg c;
	struct rig r;
	const uint64_t n = 40000;

	rig_cfg_default(&c);
	c.g.rx_buf_len = 1024;	/* forces num_buffers > 1 for most sizes */
	CHECK_EQ(rig_init(&r, &c), 0);
	pump_rx(&r, n, 0);
	CHECK_EQ(r.g.rx_pkts, n);
	CHECK_EQ(r.g.rx_bad, 0);
	CHECK_EQ(r.g.rx_short, short_count(n));
	CHECK_EQ(r.g.rx_out_of_order, 0);
	CHECK_EQ(r.g.rx_bad_used, 0);
	CHECK_EQ(r.qp->st[SVH_DIR_TO_GUEST].packets, n);
	no_errors(&r);
	rig_fini(&r);
}

static void rx_large_mergeable(void)
{
	struct rig_cfg c;
	struct rig r;

	rig_cfg_default(&c);
	c.g.rx_buf_len = 4096;
	CHECK_EQ(rig_init(&r, &c), 0);
	pump_rx(&r, 300, 65000);
	CHECK_EQ(r.g.rx_pkts, 300);
	CHECK_EQ(r.g.rx_bad, 0);
	CHECK_EQ(r.g.rx_out_of_order, 0);
	CHECK_EQ(r.g.last_rx_hdr.num_buffers, (65000 + 12 + 4095) / 4096);
	no_errors(&r);
	rig_fini(&r);
}

static void rx_non_mergeable(void)
{
	struct rig_cfg c;
	struct rig r;

	rig_cfg_default(&c);
	c.g.features &= ~(1ULL << VIRTIO_NET_F_MRG_RXBUF);
	c.g.rx_buf_len = 2560;	/* chains of 4 x 2560 = 10240 */
	CHECK_EQ(rig_init(&r, &c), 0);
	pump_rx(&r, 3000, 0);
	CHECK_EQ(r.g.rx_pkts, 3000);
	CHECK_EQ(r.g.rx_bad, 0);
	CHECK_EQ(r.g.rx_out_of_order, 0);
	CHECK_EQ(r.g.last_rx_hdr.num_buffers, 1);
	/* a packet larger than one chain is dropped, not truncated */
	sv_send(&r.sv, 12000);
	svh_pd_rx_burst(r.qp, 32);
	CHECK_EQ(r.qp->st[SVH_DIR_TO_GUEST].drops[SVH_DROP_RX_TOO_SMALL], 1);
	CHECK_EQ(sg_rx_poll(&r.g), 0);
	no_errors(&r);
	rig_fini(&r);
}

static void tx_offload_fields_carried(void)
{
	struct rig_cfg c;
	struct rig r;

	rig_cfg_default(&c);
	CHECK_EQ(rig_init(&r, &c), 0);
	r.g.tx_hdr.hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	r.g.tx_hdr.hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	r.g.tx_hdr.hdr.hdr_len = 66;
	r.g.tx_hdr.hdr.gso_size = 1448;
	r.g.tx_hdr.hdr.csum_start = 34;
	r.g.tx_hdr.hdr.csum_offset = 16;
	pump_tx(&r, 8, 9000);
	CHECK_EQ(r.sv.pkts_in, 8);
	CHECK(r.sv.first_in.flags & SVHOST_DESC_F_OFFLOAD);
	CHECK_EQ(r.sv.first_in.vnet_flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(r.sv.first_in.gso_type, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);
	CHECK_EQ(r.sv.first_in.hdr_len, 66);
	CHECK_EQ(r.sv.first_in.gso_size, 1448);
	CHECK_EQ(r.sv.first_in.csum_start, 34);
	CHECK_EQ(r.sv.first_in.csum_offset, 16);
	/* a header whose checksum lies outside the packet is dropped */
	r.g.tx_hdr.hdr.csum_start = 9000;
	CHECK_EQ(sg_tx_post(&r.g, 100), 1);
	svh_pd_tx_burst(r.qp, 32);
	CHECK_EQ(r.qp->st[SVH_DIR_TO_VSWITCH].drops[SVH_DROP_GUEST_HDR], 1);
	CHECK_EQ(sg_tx_reap(&r.g), 1);
	/* unknown GSO type: dropped */
	r.g.tx_hdr.hdr.csum_start = 34;
	r.g.tx_hdr.hdr.gso_type = 2;
	CHECK_EQ(sg_tx_post(&r.g, 100), 1);
	svh_pd_tx_burst(r.qp, 32);
	CHECK_EQ(r.qp->st[SVH_DIR_TO_VSWITCH].drops[SVH_DROP_GUEST_HDR], 2);
	no_errors(&r);
	rig_fini(&r);
}

static void rx_offload_fields_carried(void)
{
	struct rig_cfg c;
	struct rig r;

	rig_cfg_default(&c);
	c.g.rx_buf_len = 1024;
	CHECK_EQ(rig_init(&r, &c), 0);
	r.sv.offload_out.flags = SVHOST_DESC_F_OFFLOAD;
	r.sv.offload_out.vnet_flags = VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_NEEDS_CSUM;
	r.sv.offload_out.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	r.sv.offload_out.gso_size = 1440;
	r.sv.offload_out.hdr_len = 86;
	r.sv.offload_out.csum_start = 54;
	r.sv.offload_out.csum_offset = 16;
	pump_rx(&r, 5, 5000);
	CHECK_EQ(r.g.rx_pkts, 5);
	CHECK_EQ(r.g.rx_bad, 0);
	CHECK_EQ(r.g.last_rx_hdr.hdr.flags,
		 VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(r.g.last_rx_hdr.hdr.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	CHECK_EQ(r.g.last_rx_hdr.hdr.gso_size, 1440);
	CHECK_EQ(r.g.last_rx_hdr.hdr.hdr_len, 86);
	CHECK_EQ(r.g.last_rx_hdr.hdr.csum_start, 54);
	CHECK_EQ(r.g.last_rx_hdr.hdr.csum_offset, 16);
	CHECK_EQ(r.g.last_rx_hdr.num_buffers, (5000 + 12 + 1023) / 1024);
	no_errors(&r);
	rig_fini(&r);
}

static void tx_backpressure_no_loss(void)
{
	struct rig_cfg c;
	struct rig r;
	unsigned moved;

	rig_cfg_default(&c);
	CHECK_EQ(rig_init(&r, &c), 0);
	CHECK_EQ(sv_post_empty(&r.sv, 5), 5);
	for (int i = 0; i < 20; i++)
		CHECK_EQ(sg_tx_post(&r.g, 3000), 1);	/* 2 buffers each */
	moved = svh_pd_tx_burst(r.qp, 32);
	CHECK_EQ(moved, 2);
	CHECK_EQ(r.qp->st[SVH_DIR_TO_VSWITCH].stalls, 1);
	CHECK_EQ(sv_drain(&r.sv), 2);
	/* nothing lost: the rest flows once buffers are posted */
	pump_tx(&r, 20, 3000);
	CHECK_EQ(r.sv.pkts_in, 20);
	CHECK_EQ(r.sv.bad_in, 0);
	CHECK_EQ(r.sv.out_of_order, 0);
	no_errors(&r);
	rig_fini(&r);
}

static void rx_stall_until_refill(void)
{
	struct rig_cfg c;
	struct rig r;

	rig_cfg_default(&c);
	CHECK_EQ(rig_init(&r, &c), 0);
	CHECK_EQ(sv_send_burst(&r.sv, 700, 50), 50);
	CHECK_EQ(svh_pd_rx_burst(r.qp, 32), 0);	/* guest posted no RX buffers */
	CHECK_EQ(r.qp->st[SVH_DIR_TO_GUEST].stalls, 1);
	CHECK_EQ(sv_reap_sent(&r.sv), 0);	/* buffers still held, not dropped */
	pump_rx(&r, 50, 700);
	CHECK_EQ(r.g.rx_pkts, 50);
	CHECK_EQ(r.g.rx_out_of_order, 0);
	no_errors(&r);
	rig_fini(&r);
}

static void event_idx_suppresses_interrupts(void)
{
	struct rig_cfg c;
	struct rig r;
	uint64_t irqs;

	rig_cfg_default(&c);
	c.g.use_eventfds = true;
	CHECK_EQ(rig_init(&r, &c), 0);
	/* The guest does not re-arm used_event while we send 64 packets. */
	sv_post_empty(&r.sv, ~0u);
	for (int i = 0; i < 16; i++)
		sg_tx_post(&r.g, 100);
	svh_pd_tx_burst(r.qp, 4);
	svh_pd_tx_burst(r.qp, 4);
	svh_pd_tx_burst(r.qp, 4);
	irqs = r.qp->txq.interrupts;
	CHECK_EQ(irqs, 1);	/* used_event = 0: only the first batch interrupts */
	CHECK(r.qp->txq.suppressed >= 2);
	sg_tx_reap(&r.g);	/* re-arms used_event */
	svh_pd_tx_burst(r.qp, 4);
	CHECK_EQ(r.qp->txq.interrupts, 2);
	/* without EVENT_IDX, NO_INTERRUPT suppresses */
	rig_fini(&r);
	rig_cfg_default(&c);
	c.g.use_eventfds = true;
	c.g.features &= ~(1ULL << VIRTIO_RING_F_EVENT_IDX);
	CHECK_EQ(rig_init(&r, &c), 0);
	sv_post_empty(&r.sv, ~0u);
	r.g.tx.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	sg_tx_post(&r.g, 100);
	svh_pd_tx_burst(r.qp, 4);
	CHECK_EQ(r.qp->txq.interrupts, 0);
	r.g.tx.avail->flags = 0;
	sg_tx_post(&r.g, 100);
	svh_pd_tx_burst(r.qp, 4);
	CHECK_EQ(r.qp->txq.interrupts, 1);
	rig_fini(&r);
}

static void dirty_log_marks_written_pages(void)
{
	struct rig_cfg c;
	struct rig r;
	uint64_t marked = 0, expect_first = 0;

	rig_cfg_default(&c);
	c.dirty_log = true;
	CHECK_EQ(rig_init(&r, &c), 0);
	pump_tx(&r, 10, 100);
	/* TX writes only the used ring */
	CHECK(svh_log_test(&r.log, r.g.tx.used_gpa));
	CHECK(!svh_log_test(&r.log, r.g.tx_buf_gpa + 8192));
	pump_rx(&r, 300, 1500);
	for (uint64_t gpa = r.g.rx_buf_gpa; gpa < r.g.rx_buf_gpa + 256ull * 2048; gpa += 4096)
		marked += svh_log_test(&r.log, gpa);
	expect_first = svh_log_test(&r.log, r.g.rx_buf_gpa);
	CHECK_EQ(expect_first, 1);
	CHECK_EQ(marked, 256ull * 2048 / 4096);
	CHECK(svh_log_test(&r.log, r.g.rx.used_gpa));
	CHECK_EQ(r.log.out_of_range, 0);
	/* out-of-range writes are counted, not performed */
	svh_log_write(&r.log, r.logsize * 8 * 4096 + 5, 10);
	CHECK_EQ(r.log.out_of_range, 1);
	rig_fini(&r);
}

static void ring_index_wraparound(void)
{
	struct rig_cfg c;
	struct rig r;
	struct svhost_ring *a, *b;

	rig_cfg_default(&c);
	CHECK_EQ(rig_init(&r, &c), 0);
	/* restart both sides with u32 indexes just below the wrap */
	a = svh_port_ring(&r.owner, 0, SVHOST_RING_TO_VSWITCH);
	b = svh_port_ring(&r.owner, 0, SVHOST_RING_TO_GUEST);
	a->prod = a->cons = b->prod = b->cons = 0xFFFFFF80u;
	sv_fini(&r.sv);
	svh_qp_fini(r.qp);
	CHECK_EQ(sv_init(&r.sv, a, b, r.owner.pool, 256, 2048, 2048, true, false), 0);
	CHECK_EQ(svh_ring_init(&r.qp->to_vswitch, svh_port_ring(&r.copier, 0, 1),
			       SVH_RING_CONSUMER, 256, r.copier.pool, 2048, 2048, false), 0);
	CHECK_EQ(svh_ring_init(&r.qp->to_guest, svh_port_ring(&r.copier, 0, 0),
			       SVH_RING_CONSUMER, 256, r.copier.pool, 2048, 2048, false), 0);
	pump_tx(&r, 2000, 0);
	pump_rx(&r, 2000, 0);
	CHECK_EQ(r.sv.pkts_in, 2000);
	CHECK_EQ(r.g.rx_pkts, 2000);
	CHECK(a->prod < 0x10000u && b->prod < 0x10000u);
	CHECK_EQ(r.sv.out_of_order + r.g.rx_out_of_order, 0);
	no_errors(&r);
	rig_fini(&r);
}

static void run_thread_mode(enum svh_sched mode, uint64_t n)
{
	struct rig_cfg c;
	struct rig r;
	struct svh_pd pd;
	struct svh_pd_cfg pc;
	struct svh_qp *qps[1];
	pthread_t t;
	uint64_t sent = 0, posted = 0;
	unsigned long spins = 0;

	rig_cfg_default(&c);
	c.eventfds = true;
	c.g.use_eventfds = true;
	CHECK_EQ(rig_init(&r, &c), 0);
	qps[0] = r.qp;
	svh_pd_cfg_default(&pc);
	pc.mode = mode;
	pc.idle_polls = 16;
	pc.sleep_ms = 20;
	CHECK_EQ(svh_pd_init(&pd, &pc, qps, 1), 0);
	CHECK_EQ(pthread_create(&t, NULL, svh_pd_thread, &pd), 0);
	sg_rx_refill(&r.g);
	time_t deadline = time(NULL) + 60;

	while ((r.sv.pkts_in < n || r.g.rx_pkts < n) && time(NULL) < deadline) {
		unsigned k;

		k = 0;
		while (posted < n && sg_tx_post(&r.g, size_for(posted))) {
			posted++;
			k++;
		}
		if (k)
			sg_kick_if_needed(&r.g, &r.g.tx);
		sent += sv_send_burst(&r.sv, size_for(sent), (unsigned)(n - sent < 64 ? n - sent : 64));
		sv_drain(&r.sv);
		sv_post_empty(&r.sv, ~0u);
		svh_ring_kick_if_needed(&r.sv.tx);
		svh_ring_kick_if_needed(&r.sv.rx);
		sg_tx_reap(&r.g);
		sg_rx_poll(&r.g);
		if (sg_rx_refill(&r.g))
			sg_kick_if_needed(&r.g, &r.g.rx);
		sv_reap_sent(&r.sv);
		spins++;
		if ((spins & 63) == 0) {
			if (mode == SVH_SCHED_POLL)
				sched_yield();
			else
				usleep(100);
		}
	}
	/* idle for a while: the adaptive PD must go to sleep */
	usleep(200000);
	svh_pd_stop(&pd);
	pthread_join(t, NULL);
	CHECK_EQ(r.sv.pkts_in, n);
	CHECK_EQ(r.g.rx_pkts, n);
	CHECK_EQ(r.sv.bad_in, 0);
	CHECK_EQ(r.g.rx_bad, 0);
	CHECK_EQ(r.sv.out_of_order + r.g.rx_out_of_order, 0);
	if (mode == SVH_SCHED_ADAPTIVE)
		CHECK(pd.sleeps > 0);
	no_errors(&r);
	printf("#   %s: %llu loops, %llu sleeps, guest irqs %llu/%llu, kicks to PD %llu\n",
	       svh_sched_name(mode), (unsigned long long)pd.loops, (unsigned long long)pd.sleeps,
	       (unsigned long long)r.qp->txq.interrupts, (unsigned long long)r.qp->rxq.interrupts,
	       (unsigned long long)(r.sv.tx.stats.kicks_sent + r.sv.rx.stats.kicks_sent));
	rig_fini(&r);
}

static void thread_poll(void) { run_thread_mode(SVH_SCHED_POLL, 100000); }
static void thread_fifo_yield(void) { run_thread_mode(SVH_SCHED_FIFO_YIELD, 100000); }
static void thread_adaptive(void) { run_thread_mode(SVH_SCHED_ADAPTIVE, 100000); }

int main(void)
{
	printf("KTAP version 1\n1..15\n");
	RUN(tx_all_layouts_integrity);
	RUN(tx_large_packets_chain_buffers);
	RUN(rx_mergeable_integrity);
	RUN(rx_large_mergeable);
	RUN(rx_non_mergeable);
	RUN(tx_offload_fields_carried);
	RUN(rx_offload_fields_carried);
	RUN(tx_backpressure_no_loss);
	RUN(rx_stall_until_refill);
	RUN(event_idx_suppresses_interrupts);
	RUN(dirty_log_marks_written_pages);
	RUN(ring_index_wraparound);
	RUN(thread_poll);
	RUN(thread_fifo_yield);
	RUN(thread_adaptive);
	return tap_done();
}
