// SPDX-License-Identifier: BSD-3-Clause
/*
 * broker_e2e: the PD copy loop through the real broker (/dev/svhost).
 *
 * The parent process plays the vSwitch: it creates a port (owner) and runs
 * the synthetic vSwitch on the owner's mappings.  A child process plays
 * QEMU: its main thread is the synthetic guest; its PD thread allocates a
 * protection key, attaches to the port as copier (so the broker binds that
 * thread), enables the key in its own PKRU only, and runs the PD loop in
 * adaptive mode with eventfd doorbells shared across the two processes.
 * Before traffic the guest thread checks that touching the pool faults with
 * SEGV_PKUERR.  Moves -n packets (default 1,000,000) each way with every
 * payload's sequence number and checksum verified, then prints rates and
 * counters.  Exit: 0 pass, 1 fail, 4 skip (no /dev/svhost).
 *
 *   broker_e2e [-n packets] [-t timeout_seconds] [-q]
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "synth.h"

#define KSFT_SKIP 4
#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

static const struct svh_port_params PP = { 1, 256, 2048, 2048, false };
static uint64_t npkts = 1000000;
static int timeout_s = 600;
static int quiet;
static char port_name[SVHOST_NAME_LEN];
static int efd_pd, efd_sw;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t size_for(uint64_t i)
{
	static const uint32_t sizes[] = { 64, 1518, 512, 60, 9000, 128, 2048, 2049, 1500, 4000 };

	return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

/* ---- child: QEMU role ------------------------------------------------------------ */

struct qemu {
	struct synth_guest g;
	struct svh_port port;
	struct svh_qp *qp;
	struct svh_pd pd;
	int pkey;
	int attach_rc;
	volatile int attached;	/* 1 ok, -1 failed */
	volatile int go;
};

static void *pd_main(void *arg)
{
	struct qemu *q = arg;
	struct svh_qp_cfg qc;
	struct svh_qp *qps[1];
	struct svh_pd_cfg pc;
	int rc;

	q->pkey = -1;
	if (svh_pkey_supported()) {
		q->pkey = svh_pkey_alloc();
		if (q->pkey < 0) {
			fprintf(stderr, "broker_e2e: pkey_alloc: %s\n", strerror(-q->pkey));
			q->pkey = -1;
		}
	}
	rc = svh_port_attach(&q->port, port_name, q->pkey);
	if (rc) {
		q->attach_rc = rc;
		q->attached = -1;
		return NULL;
	}
	/* only this thread may touch the rings and the pool */
	if (q->pkey > 0)
		svh_pkey_set_thread(q->pkey, true);
	memset(&qc, 0, sizeof(qc));
	qc.to_guest = svh_port_ring(&q->port, 0, SVHOST_RING_TO_GUEST);
	qc.to_vswitch = svh_port_ring(&q->port, 0, SVHOST_RING_TO_VSWITCH);
	qc.pool = q->port.pool;
	qc.ring_size = q->port.layout.ring_size;
	qc.buf_size = q->port.layout.buf_size;
	qc.buf_count = q->port.layout.buf_count;
	qc.gm = &q->g.gm;
	sg_vq_params(&q->g, false, &qc.txq);
	sg_vq_params(&q->g, true, &qc.rxq);
	qc.ring_kick_fd = efd_sw;
	qc.ring_wait_fd = efd_pd;
	rc = svh_qp_init(q->qp, &qc);
	if (rc) {
		q->attach_rc = rc;
		q->attached = -1;
		return NULL;
	}
	qps[0] = q->qp;
	svh_pd_cfg_default(&pc);
	pc.mode = SVH_SCHED_ADAPTIVE;
	pc.idle_polls = 64;
	pc.sleep_ms = 50;
	svh_pd_init(&q->pd, &pc, qps, 1);
	q->attached = 1;
	while (!q->go)
		usleep(1000);
	svh_pd_run(&q->pd);
	if (q->pkey > 0)
		svh_pkey_set_thread(q->pkey, false);
	return NULL;
}

static sigjmp_buf segv_jb;
static volatile int segv_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	segv_code = si->si_code;
	siglongjmp(segv_jb, 1);
}

static int n_ok, n_fail;
static const char *ind = "";	/* the child's lines are an indented KTAP subtest */

static void report(int ok, const char *what)
{
	printf("%s%s %d - %s\n", ind, ok ? "ok" : "not ok", n_ok + n_fail + 1, what);
	if (ok)
		n_ok++;
	else
		n_fail++;
	fflush(stdout);
}

/* The guest (non-PD) thread must not be able to read the pool. */
static __attribute__((noinline)) void pku_check(struct qemu *q)
{
	if (q->pkey > 0) {
		struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO }, old;
		volatile uint8_t v = 0;

		sigaction(SIGSEGV, &sa, &old);
		segv_code = 0;
		if (sigsetjmp(segv_jb, 1) == 0)
			v = *(volatile uint8_t *)q->port.pool;
		sigaction(SIGSEGV, &old, NULL);
		(void)v;
		report(segv_code == SEGV_PKUERR, "non-PD thread faults with SEGV_PKUERR on the pool");
	} else {
		printf("%sok %d - non-PD thread PKU check # SKIP no protection key\n", ind,
		       n_ok + n_fail + 1);
		n_ok++;
	}
}

static int qemu_child(void)
{
	struct qemu *q = calloc(1, sizeof(*q));
	struct sg_cfg gc = { .num = 256, .tx_buf_cap = 10240, .rx_buf_len = 2048,
			     .features = SVH_VQ_FEATURES, .split_regions = true,
			     .tx_layout = SG_TX_ROTATE, .verify = true, .use_eventfds = true };
	pthread_t t;
	double t0, t1, deadline;
	uint64_t idle = 0;

	q->qp = aligned_alloc(64, (sizeof(*q->qp) + 63) / 64 * 64);
	if (sg_init(&q->g, &gc)) {
		report(0, "synthetic guest set up");
		return 1;
	}
	pthread_create(&t, NULL, pd_main, q);
	while (!q->attached)
		usleep(1000);
	if (q->attached < 0) {
		printf("%s# copier attach to '%s' with pkey %d failed: %s\n", ind, port_name, q->pkey,
		       strerror(-q->attach_rc));
		report(0, "copier attaches through /dev/svhost");
		pthread_join(t, NULL);
		return 1;
	}
	report(1, "copier attaches through /dev/svhost");
	printf("%s# pkey %d, PKU %s\n", ind, q->pkey, svh_pkey_supported() ? "yes" : "no");

	pku_check(q);

	q->go = 1;
	sg_rx_refill(&q->g);
	sg_kick_if_needed(&q->g, &q->g.rx);
	t0 = now();
	deadline = t0 + timeout_s;
	while ((q->g.tx_done < npkts || q->g.rx_pkts < npkts) && now() < deadline) {
		unsigned work = 0, k = 0;

		while (q->g.tx_seq < npkts && sg_tx_post(&q->g, size_for(q->g.tx_seq)))
			k++;
		if (k)
			sg_kick_if_needed(&q->g, &q->g.tx);
		work += k;
		work += sg_tx_reap(&q->g);
		work += sg_rx_poll(&q->g);
		if (sg_rx_refill(&q->g)) {
			sg_kick_if_needed(&q->g, &q->g.rx);
			work++;
		}
		if (!work && (++idle & 15) == 0)
			usleep(200);
	}
	t1 = now();
	svh_pd_stop(&q->pd);
	pthread_join(t, NULL);

	report(q->g.tx_done == npkts, "guest TX: every packet taken by the PD");
	report(q->g.rx_pkts == npkts, "guest RX: every packet from the vSwitch received");
	report(q->g.rx_bad == 0 && q->g.rx_out_of_order == 0 && q->g.rx_bad_used == 0,
	       "guest RX: payload checksums and sequence intact");
	{
		const struct svh_dir_stats *tx = &q->qp->st[SVH_DIR_TO_VSWITCH];
		const struct svh_dir_stats *rx = &q->qp->st[SVH_DIR_TO_GUEST];
		uint64_t errs = 0, drops = 0;

		for (int i = 0; i < SVH_VQERR_MAX; i++)
			errs += q->qp->txq.errors[i] + q->qp->rxq.errors[i];
		for (int i = 0; i < SVH_RERR_MAX; i++)
			errs += q->qp->to_guest.stats.errors[i] + q->qp->to_vswitch.stats.errors[i];
		for (int i = 0; i < SVH_DROP_MAX; i++)
			drops += tx->drops[i] + rx->drops[i];
		report(errs == 0 && drops == 0, "PD: no validation errors, no drops");
		printf("%s# PD to-vswitch: %llu pkts %llu bytes, %.3f Mpps, %.1f busy cycles/pkt, "
		       "guest irqs %llu, vSwitch kicks %llu\n", ind,
		       (unsigned long long)tx->packets, (unsigned long long)tx->bytes,
		       tx->packets / (t1 - t0) / 1e6,
		       tx->packets ? (double)tx->busy_cycles / tx->packets : 0.0,
		       (unsigned long long)tx->guest_irqs, (unsigned long long)tx->peer_kicks);
		printf("%s# PD to-guest:   %llu pkts %llu bytes, %.3f Mpps, %.1f busy cycles/pkt, "
		       "guest irqs %llu, vSwitch kicks %llu\n", ind,
		       (unsigned long long)rx->packets, (unsigned long long)rx->bytes,
		       rx->packets / (t1 - t0) / 1e6,
		       rx->packets ? (double)rx->busy_cycles / rx->packets : 0.0,
		       (unsigned long long)rx->guest_irqs, (unsigned long long)rx->peer_kicks);
		printf("%s# PD loops %llu, sleeps %llu, errors %llu, drops %llu, %.1f s\n", ind,
		       (unsigned long long)q->pd.loops, (unsigned long long)q->pd.sleeps,
		       (unsigned long long)errs, (unsigned long long)drops, t1 - t0);
	}
	svh_qp_fini(q->qp);
	svh_port_close(&q->port);
	sg_fini(&q->g);
	printf("%s# %d passed, %d failed\n", ind, n_ok, n_fail);
	fflush(stdout);
	return n_fail ? 1 : 0;
}

/* ---- parent: vSwitch role ----------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct svh_port owner;
	struct synth_vswitch *sv;
	struct svhost_version ver;
	pid_t pid;
	int c, rc, st = 0, child_done = 0;
	double deadline;
	uint64_t idle = 0;

	while ((c = getopt(argc, argv, "n:t:q")) != -1) {
		switch (c) {
		case 'n': npkts = strtoull(optarg, NULL, 0); break;
		case 't': timeout_s = atoi(optarg); break;
		case 'q': quiet = 1; break;
		default:
			fprintf(stderr, "usage: broker_e2e [-n packets] [-t seconds]\n");
			return 2;
		}
	}
	printf("KTAP version 1\n");
	if (!svh_broker_available()) {
		printf("1..0 # SKIP %s absent (svhost.ko not loaded): run inside the test VM\n",
		       SVH_DEV_PATH);
		return KSFT_SKIP;
	}
	rc = svh_broker_version(&ver);
	if (rc) {
		printf("not ok 1 - SVHOST_GET_VERSION: %s\n# 0 passed, 1 failed\n", strerror(-rc));
		return 1;
	}
	printf("1..6\n# broker api %u features 0x%x; %llu packets each way\n", ver.api_version,
	       ver.features, (unsigned long long)npkts);
	snprintf(port_name, sizeof(port_name), "e2e-%d", (int)getpid());
	rc = svh_port_create(&owner, port_name, &PP);
	if (rc) {
		printf("not ok 1 - owner creates port: %s\n# 0 passed, 1 failed\n", strerror(-rc));
		return 1;
	}
	report(1, "owner creates port and maps header, rings, pool");
	efd_pd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	efd_sw = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sv = calloc(1, sizeof(*sv));
	rc = sv_init(sv, svh_port_ring(&owner, 0, SVHOST_RING_TO_VSWITCH),
		     svh_port_ring(&owner, 0, SVHOST_RING_TO_GUEST), owner.pool, PP.ring_size,
		     PP.buf_size, PP.buf_count, true, true);
	report(rc == 0, "synthetic vSwitch set up on the owner mapping");
	svh_ring_set_fds(&sv->tx, efd_pd, efd_sw);
	svh_ring_set_fds(&sv->rx, efd_pd, efd_sw);
	fflush(stdout);

	pid = fork();
	if (pid == 0) {
		n_ok = n_fail = 0;
		ind = "    ";
		printf("    # Subtest: QEMU-role child %d (guest thread + PD thread)\n", (int)getpid());
		_exit(qemu_child());
	}
	deadline = now() + timeout_s + 30;
	sv_post_empty(sv, ~0u);
	while (now() < deadline) {
		unsigned work = 0;

		work += sv_drain(sv);
		if (sv_post_empty(sv, ~0u)) {
			svh_ring_kick_if_needed(&sv->tx);
			work++;
		}
		if (sv->tx_seq < npkts) {
			unsigned n = sv_send_burst(sv, size_for(sv->tx_seq),
						   (unsigned)(npkts - sv->tx_seq < 32 ? npkts - sv->tx_seq : 32));

			if (n)
				svh_ring_kick_if_needed(&sv->rx);
			work += n;
		}
		work += sv_reap_sent(sv);
		if (!work) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				child_done = 1;
				break;
			}
			if ((++idle & 15) == 0)
				usleep(200);
		}
	}
	if (!child_done) {
		if (waitpid(pid, &st, WNOHANG) != pid) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			printf("# child killed after the timeout\n");
		}
	}
	report(WIFEXITED(st) && WEXITSTATUS(st) == 0, "QEMU-role child (guest + PD thread)");
	report(sv->pkts_in == npkts, "vSwitch: every guest packet received");
	report(sv->bad_in == 0 && sv->out_of_order == 0 && sv->bad_desc == 0,
	       "vSwitch: payload checksums and sequence intact, no bad descriptors");
	report(!sv->tx.broken && !sv->rx.broken, "vSwitch: rings never broken");
	printf("# vSwitch: in %llu pkts %llu bytes, out %llu pkts, kicks to PD %llu\n",
	       (unsigned long long)sv->pkts_in, (unsigned long long)sv->bytes_in,
	       (unsigned long long)sv->tx_seq,
	       (unsigned long long)(sv->tx.stats.kicks_sent + sv->rx.stats.kicks_sent));
	sv_fini(sv);
	free(sv);
	svh_port_close(&owner);
	printf("# %d passed, %d failed\n", n_ok, n_fail);
	return n_fail ? 1 : 0;
}
