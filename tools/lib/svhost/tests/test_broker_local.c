// SPDX-License-Identifier: BSD-3-Clause
/*
 * test_broker_local.c: port layout checks, the memfd-backed local port used
 * by tests and benchmarks (header contents, ring addressing, owner and
 * copier seeing the same memory, a forked process too), two queue pairs
 * served by one PD, and the protection-key helpers where the CPU has PKU.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "synth.h"
#include "tap.h"

static void layout_rules(void)
{
	struct svh_port p;
	struct svh_port_params pp = { 2, 256, 2048, 1000, false };
	struct svhost_layout l;

	CHECK_EQ(svh_port_create_local(&p, "lay", &pp), 0);
	l = p.layout;
	CHECK_EQ(svh_layout_check(&l), 0);
	CHECK(l.pool_size >= 2048ull * 1000);
	CHECK_EQ(l.pool_size % SVHOST_POOL_CHUNK_SIZE, 0);
	l.ring_stride = SVHOST_RING_HDR_SIZE + 255 * 32;
	CHECK_EQ(svh_layout_check(&l), -EPROTO);	/* stride too small */
	l = p.layout;
	l.pool_offset = l.rings_offset;
	CHECK_EQ(svh_layout_check(&l), -EPROTO);	/* overlapping regions */
	l = p.layout;
	l.buf_size = 3000;
	CHECK_EQ(svh_layout_check(&l), -EPROTO);
	l = p.layout;
	l.pool_size = 2048ull * 999;
	CHECK_EQ(svh_layout_check(&l), -EPROTO);
	l = p.layout;
	l.rings_size = l.ring_stride;	/* two queue pairs need four rings */
	CHECK_EQ(svh_layout_check(&l), -EPROTO);
	svh_port_close(&p);
	CHECK_EQ(svh_port_create_local(&p, "", &pp), -EINVAL);
	CHECK_EQ(svh_port_create_local(&p, "0123456789012345678901234567890123", &pp), -EINVAL);
}

static void local_port_shared_memory(void)
{
	struct svh_port o, c;
	struct svh_port_params pp = { 2, 64, 4096, 16, false };
	pid_t pid;
	int st;

	CHECK_EQ(svh_port_create_local(&o, "shm", &pp), 0);
	CHECK_EQ(o.hdr->magic, SVHOST_SHM_MAGIC);
	CHECK_EQ(o.hdr->state, SVHOST_STATE_READY);
	CHECK_EQ(svh_port_attach_local(&c, &o), 0);
	CHECK_EQ(o.hdr->state, SVHOST_STATE_ATTACHED);
	CHECK_EQ(c.hdr->generation, 1);
	CHECK(svh_port_ring(&o, 1, 1) != NULL);
	CHECK(svh_port_ring(&o, 2, 0) == NULL);
	CHECK(svh_port_ring(&o, 0, 2) == NULL);
	o.pool[4096 * 15 + 7] = 0x5a;
	CHECK_EQ(c.pool[4096 * 15 + 7], 0x5a);
	svh_port_ring(&c, 1, 1)->cons = 42;
	CHECK_EQ(svh_port_ring(&o, 1, 1)->cons, 42);
	/* a forked peer (another process) sees the same pool */
	pid = fork();
	if (pid == 0) {
		c.pool[0] = 0x77;
		_exit(0);
	}
	waitpid(pid, &st, 0);
	CHECK_EQ(o.pool[0], 0x77);
	svh_port_close(&c);
	svh_port_close(&o);
	CHECK_EQ(o.fd, -1);
}

static void one_pd_two_queue_pairs(void)
{
	struct rig_cfg cfg;
	struct rig r[2];
	struct svh_pd pd;
	struct svh_pd_cfg pc;
	struct svh_qp *qps[2];
	int rounds = 0;

	rig_cfg_default(&cfg);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(rig_init(&r[i], &cfg), 0);
		qps[i] = r[i].qp;
		sv_post_empty(&r[i].sv, ~0u);
		sg_rx_refill(&r[i].g);
	}
	svh_pd_cfg_default(&pc);
	pc.burst = 8;
	CHECK_EQ(svh_pd_init(&pd, &pc, qps, 2), 0);
	while ((r[0].sv.pkts_in < 5000 || r[1].g.rx_pkts < 5000) && rounds++ < 100000) {
		while (r[0].g.tx_seq < 5000 && sg_tx_post(&r[0].g, 700))
			;
		if (r[1].sv.tx_seq < 5000)
			sv_send_burst(&r[1].sv, 1500, 16);
		svh_pd_poll(&pd);
		sv_drain(&r[0].sv);
		sv_post_empty(&r[0].sv, ~0u);
		sg_tx_reap(&r[0].g);
		sg_rx_poll(&r[1].g);
		sg_rx_refill(&r[1].g);
		sv_reap_sent(&r[1].sv);
	}
	CHECK_EQ(r[0].sv.pkts_in, 5000);
	CHECK_EQ(r[0].sv.bad_in + r[0].sv.out_of_order, 0);
	CHECK_EQ(r[1].g.rx_pkts, 5000);
	CHECK_EQ(r[1].g.rx_bad + r[1].g.rx_out_of_order, 0);
	CHECK_EQ(r[0].qp->st[SVH_DIR_TO_GUEST].packets + r[1].qp->st[SVH_DIR_TO_VSWITCH].packets, 0);
	CHECK(r[0].qp->st[SVH_DIR_TO_VSWITCH].busy_cycles > 0);
	CHECK(pd.loops > 0);
	for (int i = 0; i < 2; i++)
		rig_fini(&r[i]);
}

static void pd_init_rejects_bad_cfg(void)
{
	struct svh_pd pd;
	struct svh_pd_cfg pc;
	struct svh_qp *qps[1] = { NULL };

	svh_pd_cfg_default(&pc);
	pc.burst = 0;
	CHECK_EQ(svh_pd_init(&pd, &pc, qps, 1), -EINVAL);
	pc.burst = SVH_PD_MAX_BURST + 1;
	CHECK_EQ(svh_pd_init(&pd, &pc, qps, 1), -EINVAL);
	pc.burst = 32;
	CHECK_EQ(svh_pd_init(&pd, &pc, qps, 0), -EINVAL);
	pc.mode = (enum svh_sched)7;
	CHECK_EQ(svh_pd_init(&pd, &pc, qps, 1), -EINVAL);
}

static void pkey_helpers(void)
{
	int k;

	if (!svh_pkey_supported()) {
		CHECK_EQ(svh_pkey_set_thread(1, true), -EOPNOTSUPP);
		SKIP("CPU/OS without PKU (only the refusal was checked)");
		return;
	}
	k = svh_pkey_alloc();
	CHECK(k > 0);
	CHECK(svh_rdpkru() & (1u << (2 * k)));	/* access disabled at allocation */
	CHECK_EQ(svh_pkey_set_thread(k, true), 0);
	CHECK(!(svh_rdpkru() & (3u << (2 * k))));
	CHECK_EQ(svh_pkey_set_thread(k, false), 0);
	CHECK(svh_rdpkru() & (1u << (2 * k)));
	CHECK_EQ(svh_pkey_set_thread(0, true), -EINVAL);
	CHECK_EQ(svh_pkey_free(k), 0);
}

static void broker_absent_is_an_error(void)
{
	struct svh_port p;
	struct svh_port_params pp = { 1, 64, 2048, 16, false };

	if (svh_broker_available()) {
		SKIP("/dev/svhost present");
		return;
	}
	/* no silent fallback to the local port */
	CHECK_EQ(svh_port_create(&p, "x", &pp), -ENOENT);
	CHECK_EQ(svh_port_attach(&p, "x", -1), -ENOENT);
}

int main(void)
{
	printf("KTAP version 1\n1..6\n");
	RUN(layout_rules);
	RUN(local_port_shared_memory);
	RUN(one_pd_two_queue_pairs);
	RUN(pd_init_rejects_bad_cfg);
	RUN(pkey_helpers);
	RUN(broker_absent_is_an_error);
	return tap_done();
}
