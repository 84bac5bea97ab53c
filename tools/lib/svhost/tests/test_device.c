// SPDX-License-Identifier: BSD-3-Clause
/*
 * test_device.c: the copier role of the public API (svhost/device.h) with
 * its PD thread running, against the vSwitch role (svhost/vswitch.h) on the
 * test-only memfd pool and a synthetic guest (guest.h): options, the vhost
 * operations, packets both ways with payload checks over one and two queue
 * pairs, stop with the last avail index and restart from it, a memory
 * table swap under traffic after which the old mapping is gone, revocation
 * and re-grant (the header page written as the broker writes it), the
 * owner going away and a new port, the dirty log, shutdown and a second
 * run, a hostile guest, and the counter table.  Only public calls drive
 * the library; the test plays the kernel on the memfd header page.
 */
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/svhost.h>

#include "guest.h"
#include "tap.h"

#define QP_MAX 2

struct env {
	struct svh_vsw *v;
	struct svh_dev *d;
	struct synth_guest g[QP_MAX];
	unsigned nqp;
	pthread_t pd;
	bool pd_running;
	/* vSwitch-side bookkeeping */
	uint64_t tx_seq[QP_MAX];	/* next packet the vSwitch sends */
	uint64_t rx_seq[QP_MAX];	/* next packet it expects */
	uint64_t rx_pkts[QP_MAX], rx_bad[QP_MAX], rx_ooo[QP_MAX], rx_short[QP_MAX];
	uint64_t tx_bytes_out[QP_MAX];
};

static uint8_t vbuf[SVH_MAX_PKT_LEN + 64];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *pd_main(void *arg)
{
	svh_dev_run(arg);
	return NULL;
}

static uint64_t dstat(struct svh_dev *d, const char *name)
{
	static struct svh_stat t[600];
	int n = svh_dev_stats(d, t, 600);

	for (int i = 0; i < n && i < 600; i++)
		if (!strcmp(t[i].name, name))
			return t[i].value;
	printf("#   no counter %s\n", name);
	return UINT64_MAX;
}

static bool wait_state(struct svh_dev *d, enum svh_dev_state want, int ms)
{
	double end = now() + ms / 1000.0;
	struct pollfd pf = { .fd = svh_dev_state_fd(d), .events = POLLIN };
	uint64_t v;

	while (svh_dev_state(d, NULL) != want) {
		if (now() > end)
			return false;
		if (poll(&pf, 1, 20) > 0 && read(pf.fd, &v, 8) != 8)
			return false;
	}
	return true;
}

static void pd_start(struct env *e)
{
	CHECK_EQ(pthread_create(&e->pd, NULL, pd_main, e->d), 0);
	e->pd_running = true;
}

static void pd_stop(struct env *e)
{
	if (!e->pd_running)
		return;
	svh_dev_shutdown(e->d);
	pthread_join(e->pd, NULL);
	e->pd_running = false;
}

static int vsw_up(struct env *e, const char *name)
{
	struct svh_vsw_opts vo = { .sz = sizeof(vo), .flags = SVH_VSW_F_TEST_MEMFD,
				   .queue_pairs = e->nqp, .ring_size = 256, .buf_size = 2048 };
	int rc = svh_vsw_create(&e->v, name, &vo);

	if (rc)
		return rc;
	for (unsigned i = 0; i < 2 * e->nqp; i++) {
		int kick, call;

		svh_dev_doorbells(e->d, i, &kick, &call);
		/* vSwitch: call_fd is what it writes (the PD's SET_VRING_CALL fd) */
		svh_vsw_set_doorbells(e->v, i / 2, i % 2, call, kick);
		svh_vsw_ring_start(e->v, i / 2, i % 2);
	}
	return 0;
}

static int attach(struct env *e, const char *name)
{
	int ctl, pool;

	svh_vsw_test_memfds(e->v, &ctl, &pool);
	return svh_dev_set_port(e->d, name, ctl, pool);
}

/* Everything QEMU's vhost_dev_start would do, then the PD thread. */
static void env_init(struct env *e, unsigned nqp, enum svh_sched mode, bool eventfds)
{
	struct svh_dev_opts o = { .sz = sizeof(o), .flags = SVH_DEV_F_TEST_MEMFD,
				  .queue_pairs = nqp, .mode = mode, .cpu = -1, .name = "t0" };
	struct svh_mem_region regs[3 * QP_MAX];
	unsigned nr = 0;

	memset(e, 0, sizeof(*e));
	e->nqp = nqp;
	CHECK_EQ(svh_dev_create(&e->d, &o), 0);
	for (unsigned q = 0; q < nqp; q++) {
		struct sg_cfg gc = { .num = 256, .tx_buf_cap = 65600, .rx_buf_len = 2048,
				     .features = SG_FEATURES, .split_regions = true,
				     .tx_layout = SG_TX_ROTATE, .verify = true,
				     .use_eventfds = eventfds, .gpa_base = q * (1ull << 30),
				     .memfd_ram = true };
		unsigned k;

		CHECK_EQ(sg_init(&e->g[q], &gc), 0);
		sg_mem_regions(&e->g[q], regs + nr, &k);
		nr += k;
	}
	CHECK_EQ(vsw_up(e, "tdev"), 0);
	CHECK_EQ(svh_dev_set_features(e->d, SG_FEATURES), 0);
	CHECK_EQ(svh_dev_set_mem_table(e->d, regs, nr), 0);
	for (unsigned i = 0; i < 2 * nqp; i++) {
		struct synth_guest *g = &e->g[i / 2];
		struct sg_queue *q = i % 2 ? &g->tx : &g->rx;
		struct vhost_vring_addr a;

		CHECK_EQ(svh_dev_set_vring_num(e->d, i, q->num), 0);
		CHECK_EQ(svh_dev_set_vring_base(e->d, i, 0), 0);
		sg_vring_addr(g, !(i % 2), i, &a);
		CHECK_EQ(svh_dev_set_vring_addr(e->d, &a), 0);
		CHECK_EQ(svh_dev_set_vring_kick(e->d, i, q->kick_fd), 0);
		CHECK_EQ(svh_dev_set_vring_call(e->d, i, q->call_fd), 0);
	}
	pd_start(e);
	CHECK_EQ(attach(e, "tdev"), 0);
	CHECK_EQ(svh_dev_state(e->d, NULL), SVH_DEV_ATTACHED);
	for (unsigned i = 0; i < 2 * nqp; i++)
		CHECK_EQ(svh_dev_set_vring_enable(e->d, i, true), 0);
}

static void env_fini(struct env *e)
{
	pd_stop(e);
	svh_dev_destroy(e->d);
	svh_vsw_destroy(e->v);
	for (unsigned q = 0; q < e->nqp; q++)
		sg_fini(&e->g[q]);
}

static uint32_t size_for(uint64_t i)
{
	static const uint32_t sizes[] = { 60, 64, 1514, 17, 512, 2048, 2049, 9000, 100, 4097,
					  65000, 1 };

	return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

/* The vSwitch's side of one pass: receive and check, send new packets. */
static unsigned vsw_pass(struct env *e, unsigned q, uint64_t nsend)
{
	struct svh_vsw_rx rx[32];
	struct svh_vsw_pkt pk[16];
	struct iovec iov[16];
	static uint8_t sbuf[16][SVH_MAX_PKT_LEN];
	unsigned n, work = 0, k = 0;

	n = svh_vsw_recv(e->v, q, rx, 32);
	for (unsigned i = 0; i < n; i++) {
		struct iovec io = { vbuf, rx[i].len };
		uint64_t seq;
		int rc;

		if (svh_vsw_recv_copy(e->v, q, &rx[i], 0, &io, 1) != (int)rx[i].len) {
			e->rx_bad[q]++;
			continue;
		}
		rc = sp_check(vbuf, rx[i].len, &seq);
		if (rc > 0) {
			e->rx_short[q]++;
			e->rx_seq[q]++;
		} else if (rc < 0) {
			e->rx_bad[q]++;
		} else {
			if (seq != e->rx_seq[q])
				e->rx_ooo[q]++;
			e->rx_seq[q] = seq + 1;
		}
		e->rx_pkts[q]++;
	}
	svh_vsw_recv_release(e->v, q, n);
	work += n;
	while (k < 16 && e->tx_seq[q] + k < nsend) {
		uint32_t len = size_for(e->tx_seq[q] + k);

		sp_fill(sbuf[k], len, e->tx_seq[q] + k);
		iov[k] = (struct iovec){ sbuf[k], len };
		pk[k] = (struct svh_vsw_pkt){ .iov = &iov[k], .iovcnt = 1, .len = len };
		k++;
	}
	if (k) {
		n = svh_vsw_send(e->v, q, pk, k);
		for (unsigned i = 0; i < n; i++)
			e->tx_bytes_out[q] += pk[i].len;
		e->tx_seq[q] += n;
		work += n;
	}
	return work;
}

/* The guest's side of one pass. */
static unsigned guest_pass(struct synth_guest *g, uint64_t nsend)
{
	unsigned work = 0, k = 0;

	while (g->tx_seq < nsend && sg_tx_post(g, size_for(g->tx_seq)))
		k++;
	if (k)
		sg_kick_if_needed(g, &g->tx);
	work += k;
	work += sg_tx_reap(g);
	work += sg_rx_poll(g);
	if (sg_rx_refill(g)) {
		sg_kick_if_needed(g, &g->rx);
		work++;
	}
	return work;
}

/* Run both peers until n packets went each way on every queue pair (or timeout). */
static void pump(struct env *e, uint64_t n, double secs)
{
	double end = now() + secs;
	unsigned idle = 0;

	for (;;) {
		unsigned work = 0;
		bool done = true;

		for (unsigned q = 0; q < e->nqp; q++) {
			work += guest_pass(&e->g[q], n);
			work += vsw_pass(e, q, n);
			if (e->g[q].tx_done < n || e->g[q].rx_pkts < n || e->rx_pkts[q] < n)
				done = false;
		}
		if (done || now() > end)
			break;
		if (!work && ++idle % 64 == 0)
			usleep(100);
	}
}

static void check_clean(struct env *e, uint64_t n)
{
	for (unsigned q = 0; q < e->nqp; q++) {
		CHECK_EQ(e->g[q].tx_done, n);
		CHECK_EQ(e->rx_pkts[q], n);
		CHECK_EQ(e->rx_bad[q] + e->rx_ooo[q], 0);
		CHECK_EQ(e->g[q].rx_pkts, n);
		CHECK_EQ(e->g[q].rx_bad + e->g[q].rx_out_of_order + e->g[q].rx_bad_used, 0);
	}
}

/* ---- the tests ----------------------------------------------------------------- */

static void create_rules(void)
{
	struct svh_dev_opts o = { .sz = sizeof(o), .queue_pairs = 2, .cpu = -1 };
	struct svh_dev *d = NULL;
	struct svh_stat t[1];
	int kick, call, k2, c2;

	CHECK_EQ(svh_dev_create(&d, &o), 0);
	CHECK_EQ(svh_dev_state(d, NULL), SVH_DEV_DETACHED);
	CHECK(svh_dev_state_fd(d) >= 0);
	CHECK(!strcmp(svh_dev_state_name(SVH_DEV_REVOKED), "revoked"));
	CHECK(!strcmp(svh_dev_state_name(SVH_DEV_OWNER_GONE), "owner-gone"));
	CHECK(svh_dev_features() & (1ULL << VIRTIO_F_VERSION_1));
	CHECK(svh_dev_features() & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	CHECK(svh_dev_features() & (1ULL << 26));	/* VHOST_F_LOG_ALL: the PD logs */
	CHECK_EQ(svh_dev_doorbells(d, 3, &kick, &call), 0);
	CHECK_EQ(svh_dev_doorbells(d, 2, &k2, &c2), 0);
	CHECK(kick >= 0 && call >= 0 && kick != call && kick != k2 && call != c2);
	CHECK_EQ(svh_dev_doorbells(d, 4, &kick, &call), -EINVAL);
	/* 31 counters per queue pair and direction, 8 for the PD */
	CHECK_EQ(svh_dev_stats(d, t, 0), 2 * 2 * 31 + 8);
	CHECK_EQ(svh_dev_stats(d, t, 1), 2 * 2 * 31 + 8);
	CHECK(!strcmp(t[0].name, "q0.to_vswitch.packets") || !strcmp(t[0].name, "q0.to_guest.packets"));
	/* the vhost operations refuse what they cannot use */
	CHECK_EQ(svh_dev_set_features(d, 0), -EINVAL);	/* VERSION_1 required */
	CHECK_EQ(svh_dev_set_vring_num(d, 4, 256), -EINVAL);
	CHECK_EQ(svh_dev_set_vring_num(d, 0, 100), -EINVAL);
	CHECK_EQ(svh_dev_set_vring_base(d, 0, 70000), -EINVAL);
	{
		struct vhost_vring_addr a = { .index = 0, .desc_user_addr = 4096 };

		CHECK_EQ(svh_dev_set_vring_addr(d, &a), -EFAULT);	/* no memory table */
	}
	{
		static uint8_t ram[8192];
		struct svh_mem_region r[2] = { { 0, 8192, (uintptr_t)ram },
					       { 4096, 8192, (uintptr_t)ram } };

		CHECK_EQ(svh_dev_set_mem_table(d, r, 2), -EINVAL);	/* overlap */
		CHECK_EQ(svh_dev_set_mem_table(d, r, 1), 0);
	}
	/* memfds only for a device that asked for the test transport */
	CHECK_EQ(svh_dev_set_port(d, "p", 0, 1), -EINVAL);
	CHECK_EQ(svh_dev_set_port(d, "bad name", -1, -1), -EINVAL);
	svh_dev_destroy(d);
	svh_dev_destroy(NULL);
	o.queue_pairs = 0;
	CHECK_EQ(svh_dev_create(&d, &o), -EINVAL);
	o.queue_pairs = 1;
	o.mode = (enum svh_sched)9;
	CHECK_EQ(svh_dev_create(&d, &o), -EINVAL);
	o.mode = SVH_SCHED_ADAPTIVE;
	o.flags = 0x10;
	CHECK_EQ(svh_dev_create(&d, &o), -EINVAL);
	o.flags = 0;
	o.sz = 4;
	CHECK_EQ(svh_dev_create(&d, &o), -EINVAL);
	CHECK_EQ(svh_dev_create(&d, NULL), 0);	/* all defaults */
	svh_dev_destroy(d);
}

static void traffic_both_ways(void)
{
	struct env e;
	const uint64_t n = 20000;

	env_init(&e, 1, SVH_SCHED_POLL, false);
	pump(&e, n, 60);
	check_clean(&e, n);
	CHECK_EQ(dstat(e.d, "q0.to_vswitch.packets"), n);
	CHECK_EQ(dstat(e.d, "q0.to_guest.packets"), n);
	CHECK_EQ(dstat(e.d, "q0.to_guest.ring_err_offset"), 0);
	CHECK_EQ(dstat(e.d, "pd.attaches"), 1);
	CHECK(svh_vsw_copier_attached(e.v));
	env_fini(&e);
}

static void two_queue_pairs_adaptive(void)
{
	struct env e;
	const uint64_t n = 5000;

	env_init(&e, 2, SVH_SCHED_ADAPTIVE, true);
	pump(&e, n, 60);
	check_clean(&e, n);
	CHECK_EQ(dstat(e.d, "q1.to_vswitch.packets"), n);
	CHECK_EQ(dstat(e.d, "q1.to_guest.packets"), n);
	/* idle: the adaptive PD goes to sleep and wakes for new work */
	usleep(300000);
	CHECK(dstat(e.d, "pd.sleeps") > 0);
	pump(&e, n + 100, 30);
	check_clean(&e, n + 100);
	env_fini(&e);
}

/* GET_VRING_BASE: the PD stops at a batch boundary and says where. */
static void stop_reports_last_avail(void)
{
	struct env e;
	unsigned base = 0;
	uint16_t used;

	env_init(&e, 1, SVH_SCHED_POLL, false);
	pump(&e, 300, 30);
	check_clean(&e, 300);
	CHECK_EQ(svh_dev_get_vring_base(e.d, 1, &base), 0);
	CHECK_EQ(base, e.g[0].tx.avail_idx);	/* every posted chain was consumed */
	CHECK_EQ(svh_dev_get_vring_base(e.d, 0, &base), 0);
	CHECK_EQ(base, e.g[0].rx.used->idx);	/* RX chains the PD used */
	/* stopped: new TX chains stay in the guest's ring */
	used = e.g[0].tx.used->idx;
	CHECK_EQ(sg_tx_post(&e.g[0], 100), 1);
	usleep(100000);
	CHECK_EQ(e.g[0].tx.used->idx, used);
	/* started again where it stopped (QEMU sends that base back) */
	CHECK_EQ(svh_dev_get_vring_base(e.d, 1, &base), 0);
	CHECK_EQ(svh_dev_set_vring_base(e.d, 1, base), 0);
	CHECK_EQ(svh_dev_set_vring_enable(e.d, 1, true), 0);
	CHECK_EQ(svh_dev_get_vring_base(e.d, 0, &base), 0);
	CHECK_EQ(svh_dev_set_vring_base(e.d, 0, base), 0);
	CHECK_EQ(svh_dev_set_vring_enable(e.d, 0, true), 0);
	pump(&e, 600, 30);	/* the extra packet was seq 300: nothing lost, in order */
	CHECK_EQ(e.rx_pkts[0], 600);
	CHECK_EQ(e.rx_bad[0] + e.rx_ooo[0], 0);
	CHECK_EQ(e.g[0].rx_pkts, 600);
	/* enabling a vring whose address is not in guest memory fails, with the reason */
	CHECK_EQ(svh_dev_get_vring_base(e.d, 1, &base), 0);
	{
		struct svh_mem_region r[3];
		unsigned nr;

		sg_mem_regions(&e.g[0], r, &nr);
		/* the rings live in r[0]: the running RX vring stops, TX cannot start */
		CHECK_EQ(svh_dev_set_mem_table(e.d, r + 1, nr - 1), 0);
		CHECK_EQ(svh_dev_set_vring_enable(e.d, 1, true), -EFAULT);
		CHECK_EQ(svh_dev_set_mem_table(e.d, r, nr), 0);
		CHECK_EQ(svh_dev_set_vring_base(e.d, 1, base), 0);
		CHECK_EQ(svh_dev_set_vring_enable(e.d, 1, true), 0);
		CHECK_EQ(svh_dev_get_vring_base(e.d, 0, &base), 0);
		CHECK_EQ(base, e.g[0].rx.used->idx);
		CHECK_EQ(svh_dev_set_vring_base(e.d, 0, base), 0);
		CHECK_EQ(svh_dev_set_vring_enable(e.d, 0, true), 0);
	}
	pump(&e, 800, 30);
	check_clean(&e, 800);
	env_fini(&e);
}

/*
 * QEMU changes its memory map under a running device: the PD must use the
 * new table (and stop using the old mapping) before the call returns.  The
 * old mapping is unmapped right after each swap, under traffic: a PD still
 * using it would crash this test.
 */
static void mem_table_swap_under_traffic(void)
{
	struct env e;
	uint64_t n = 0;

	env_init(&e, 1, SVH_SCHED_POLL, false);
	for (int round = 0; round < 20; round++) {
		struct svh_mem_region r[3];
		unsigned nr;

		n += 500;
		pump(&e, n, 30);
		CHECK_EQ(sg_remap(&e.g[0]), 0);	/* the guest moves to a new view */
		sg_mem_regions(&e.g[0], r, &nr);
		CHECK_EQ(svh_dev_set_mem_table(e.d, r, nr), 0);
		sg_unmap_old(&e.g[0]);		/* gone: any later use faults */
	}
	pump(&e, n + 500, 30);
	check_clean(&e, n + 500);
	env_fini(&e);
}

/* Writes the header page as the broker would (the test plays the kernel). */
static struct svhost_shm_header *hdr_map(struct env *e)
{
	int ctl, pool;
	void *m;

	svh_vsw_test_memfds(e->v, &ctl, &pool);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ctl, 0);
	return m == MAP_FAILED ? NULL : m;
}

static void revoke_and_regrant(void)
{
	struct env e;
	struct svhost_shm_header *h;
	uint32_t reason = 0;
	uint16_t used;
	double t0;

	env_init(&e, 1, SVH_SCHED_ADAPTIVE, true);
	pump(&e, 1000, 30);
	check_clean(&e, 1000);
	h = hdr_map(&e);
	CHECK(h != NULL);
	CHECK_EQ(h->state, SVHOST_STATE_ATTACHED);
	/* revoke: generation + 1, reason, then state (release), as the broker does */
	h->reason = SVHOST_REASON_ADMIN;
	__atomic_store_n(&h->generation, h->generation + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&h->state, SVHOST_STATE_REVOKED, __ATOMIC_RELEASE);
	t0 = now();
	CHECK(wait_state(e.d, SVH_DEV_REVOKED, 2000));
	printf("#   revocation noticed after %.1f ms\n", (now() - t0) * 1e3);
	CHECK_EQ(svh_dev_state(e.d, &reason), SVH_DEV_REVOKED);
	CHECK_EQ(reason, SVHOST_REASON_ADMIN);
	CHECK_EQ(dstat(e.d, "pd.revocations"), 1);
	/* no copying while revoked: the guest's new packets stay put */
	used = e.g[0].tx.used->idx;
	CHECK_EQ(sg_tx_post(&e.g[0], 64), 1);
	sg_kick_if_needed(&e.g[0], &e.g[0].tx);
	usleep(300000);	/* several retries: the port is not granted */
	CHECK_EQ(e.g[0].tx.used->idx, used);
	CHECK_EQ(svh_dev_state(e.d, NULL), SVH_DEV_REVOKED);
	CHECK(dstat(e.d, "pd.attach_failures") >= 1);
	/* a new grant: the PD attaches again by itself and nothing is lost */
	__atomic_store_n(&h->state, SVHOST_STATE_READY, __ATOMIC_RELEASE);
	CHECK(wait_state(e.d, SVH_DEV_ATTACHED, 5000));
	CHECK_EQ(dstat(e.d, "pd.attaches"), 2);
	pump(&e, 2000, 30);
	CHECK_EQ(e.rx_pkts[0], 2000);
	CHECK_EQ(e.rx_bad[0] + e.rx_ooo[0], 0);
	CHECK_EQ(e.g[0].rx_pkts, 2000);
	munmap(h, 4096);
	env_fini(&e);
}

static void owner_gone_then_new_port(void)
{
	struct env e;

	env_init(&e, 1, SVH_SCHED_FIFO_YIELD, false);
	pump(&e, 500, 30);
	check_clean(&e, 500);
	svh_vsw_destroy(e.v);
	e.v = NULL;
	CHECK(wait_state(e.d, SVH_DEV_OWNER_GONE, 2000));
	CHECK_EQ(dstat(e.d, "pd.owner_gone"), 1);
	/* the vSwitch comes back with a new port of the same name */
	CHECK_EQ(vsw_up(&e, "tdev"), 0);
	memset(e.tx_seq, 0, sizeof(e.tx_seq));
	memset(e.rx_seq, 0, sizeof(e.rx_seq));
	e.rx_seq[0] = e.g[0].tx_seq;	/* the guest's numbering continues */
	e.rx_pkts[0] = 0;
	e.g[0].rx_seq = 0;	/* the new vSwitch numbers from 0 */
	CHECK_EQ(attach(&e, "tdev"), 0);
	CHECK_EQ(svh_dev_state(e.d, NULL), SVH_DEV_ATTACHED);
	{
		uint64_t base = e.g[0].tx_done, rxbase = e.g[0].rx_pkts;
		double end = now() + 30;

		while ((e.rx_pkts[0] < 500 || e.g[0].rx_pkts < rxbase + 500) && now() < end) {
			guest_pass(&e.g[0], base + 500);
			vsw_pass(&e, 0, 500);
		}
		CHECK_EQ(e.rx_pkts[0], 500);
		CHECK_EQ(e.g[0].rx_pkts, rxbase + 500);
	}
	CHECK_EQ(e.rx_bad[0] + e.rx_ooo[0], 0);
	CHECK_EQ(e.g[0].rx_bad + e.g[0].rx_out_of_order, 0);
	/* a second device cannot attach to a port that has its copier */
	{
		struct svh_dev_opts o = { .sz = sizeof(o), .flags = SVH_DEV_F_TEST_MEMFD,
					  .queue_pairs = 1, .cpu = -1 };
		struct svh_dev *d2;
		pthread_t t;
		int ctl, pool;

		CHECK_EQ(svh_dev_create(&d2, &o), 0);
		CHECK_EQ(pthread_create(&t, NULL, pd_main, d2), 0);
		svh_vsw_test_memfds(e.v, &ctl, &pool);
		usleep(10000);
		CHECK_EQ(svh_dev_set_port(d2, "tdev", ctl, pool), -EBUSY);
		CHECK_EQ(svh_dev_state(d2, NULL), SVH_DEV_DETACHED);
		svh_dev_shutdown(d2);
		pthread_join(t, NULL);
		svh_dev_destroy(d2);
	}
	env_fini(&e);
}

static int log_bit(const uint8_t *bm, uint64_t gpa)
{
	return (bm[gpa / 4096 / 8] >> (gpa / 4096 % 8)) & 1;
}

static void dirty_log(void)
{
	struct env e;
	static uint8_t bm[4096];
	uint64_t marked = 0;

	env_init(&e, 1, SVH_SCHED_POLL, false);
	memset(bm, 0, sizeof(bm));
	CHECK_EQ(svh_dev_set_log_base(e.d, bm, sizeof(bm)), 0);
	pump(&e, 100, 30);
	CHECK_EQ(log_bit(bm, e.g[0].rx.used_gpa), 0);	/* LOG_ALL not negotiated yet */
	CHECK_EQ(svh_dev_set_features(e.d, SG_FEATURES | (1ULL << 26)), 0);
	pump(&e, 1100, 30);
	check_clean(&e, 1100);
	CHECK_EQ(log_bit(bm, e.g[0].rx.used_gpa), 1);
	CHECK_EQ(log_bit(bm, e.g[0].tx.used_gpa), 1);
	for (uint64_t gpa = e.g[0].rx_buf_gpa; gpa < e.g[0].rx_buf_gpa + 256ull * 2048; gpa += 4096)
		marked += log_bit(bm, gpa);
	CHECK_EQ(marked, 256ull * 2048 / 4096);	/* every RX buffer page the PD wrote */
	CHECK_EQ(log_bit(bm, e.g[0].tx_buf_gpa + 3 * 4096), 0);	/* TX buffers only read */
	/* logging off again, then a new bitmap: QEMU frees the old one at once */
	CHECK_EQ(svh_dev_set_log_base(e.d, NULL, 0), 0);
	memset(bm, 0, sizeof(bm));
	pump(&e, 1200, 30);
	CHECK_EQ(log_bit(bm, e.g[0].rx.used_gpa), 0);
	env_fini(&e);
}

static void shutdown_and_run_again(void)
{
	struct env e;
	struct svhost_shm_header *h;

	env_init(&e, 1, SVH_SCHED_ADAPTIVE, true);
	pump(&e, 500, 30);
	h = hdr_map(&e);
	pd_stop(&e);
	CHECK_EQ(svh_dev_state(e.d, NULL), SVH_DEV_DETACHED);
	CHECK_EQ(h->state, SVHOST_STATE_READY);	/* the port is free again */
	/* control calls work without a PD thread */
	{
		unsigned base;

		CHECK_EQ(svh_dev_get_vring_base(e.d, 1, &base), 0);
		CHECK_EQ(base, e.g[0].tx.avail_idx);
		CHECK_EQ(svh_dev_set_vring_enable(e.d, 1, true), 0);
	}
	/* a second run attaches again and resumes every vring where it stopped */
	pd_start(&e);
	CHECK(wait_state(e.d, SVH_DEV_ATTACHED, 2000));
	pump(&e, 1500, 30);
	check_clean(&e, 1500);
	munmap(h, 4096);
	env_fini(&e);
}

static void hostile_guest(void)
{
	struct env e;

	env_init(&e, 1, SVH_SCHED_POLL, false);
	pump(&e, 200, 30);
	/* the guest moves avail->idx beyond the queue size */
	__atomic_store_n(&e.g[0].tx.avail->idx, (uint16_t)(e.g[0].tx.avail_idx + 1000),
			 __ATOMIC_RELEASE);
	usleep(100000);
	CHECK_EQ(dstat(e.d, "q0.to_vswitch.vq_err_avail_idx"), 1);
	CHECK_EQ(dstat(e.d, "q0.to_vswitch.vq_broken"), 1);
	/* the other direction keeps going; the device and the vSwitch are fine */
	{
		double end = now() + 30;

		while (e.g[0].rx_pkts < 400 && now() < end) {
			sg_rx_poll(&e.g[0]);
			sg_rx_refill(&e.g[0]);
			vsw_pass(&e, 0, 400);
		}
	}
	CHECK_EQ(e.g[0].rx_pkts, 400);
	CHECK_EQ(svh_dev_state(e.d, NULL), SVH_DEV_ATTACHED);
	env_fini(&e);
}

int main(void)
{
	printf("KTAP version 1\n1..10\n");
	RUN(create_rules);
	RUN(traffic_both_ways);
	RUN(two_queue_pairs_adaptive);
	RUN(stop_reports_last_avail);
	RUN(mem_table_swap_under_traffic);
	RUN(revoke_and_regrant);
	RUN(owner_gone_then_new_port);
	RUN(dirty_log);
	RUN(shutdown_and_run_again);
	RUN(hostile_guest);
	return tap_done();
}
