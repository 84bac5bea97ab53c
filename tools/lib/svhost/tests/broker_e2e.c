// SPDX-License-Identifier: BSD-3-Clause
/*
 * broker_e2e: both roles of libsvhost end to end, through the public API
 * only (svhost/vswitch.h, svhost/device.h; it is linked against
 * libsvhost.so, so nothing else is even reachable), as the DPDK and QEMU
 * patches use it.
 *
 * The parent process is the vSwitch: it creates a port (svh_vsw) and runs
 * the data path on it.  A child process is QEMU: its main thread is a
 * synthetic guest (virtio-net driver over split virtqueues, guest.h) and
 * its PD thread runs svh_dev_run(), which allocates the protection key,
 * attaches to the port and copies.  The two talk over a socketpair the way
 * the vhost-user socket would carry it: the port name (and, with --memfd,
 * the two memfds of the test-only transport, SCM_RIGHTS) one way, the
 * doorbell eventfds of every vring the other way.  Every payload carries a
 * sequence number, its length and a checksum, checked on arrival.
 *
 * Modes:
 *   (default)   through /dev/svhost (run it in the test VM: exit 4 = skip
 *               when the broker is absent); the guest thread must fault
 *               with SEGV_PKUERR on the pool mapping, only the PD may touch it;
 *   --memfd     the test-only memfd transport, both sides opting in (host);
 *   --revoke    (broker) the administrator revokes the copier mid-stream,
 *               once by withdrawing the grant (reason ACL; the PD must stop
 *               within one batch and stay down until the grant is back) and
 *               once through sysfs "revoke" (reason ADMIN; the grant still
 *               admits it, so the PD attaches again by itself).  The child
 *               must see both, lose at most one batch each time, survive
 *               (no SIGBUS), and finish every packet after re-attaching.
 *
 *   broker_e2e [--memfd] [--revoke] [-n packets] [-t seconds]
 *
 * Exit: 0 pass, 1 fail, 4 skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <getopt.h>

#include "guest.h"

#define KSFT_SKIP	4
#define BURST		32	/* the PD's batch */
#ifndef SEGV_PKUERR
#define SEGV_PKUERR	4
#endif
#define REASON_ADMIN	1	/* enum svhost_revoke_reason (uapi/linux/svhost.h) */
#define REASON_ACL	2

static uint64_t npkts = 1000000;
static int timeout_s = 600;
static bool memfd_mode, revoke_mode;
static char port_name[32];
static int sock[2];

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

static int n_ok, n_fail;
static const char *ind = "";	/* the child's lines are an indented KTAP subtest */

static void report(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s%s %d - ", ind, ok ? "ok" : "not ok", n_ok + n_fail + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (ok)
		n_ok++;
	else
		n_fail++;
	fflush(stdout);
}

static void skip(const char *what, const char *why)
{
	printf("%sok %d - %s # SKIP %s\n", ind, n_ok + n_fail + 1, what, why);
	n_ok++;
}

/* libsvhost's log lines, for the record */
static int print_cb(enum svh_print_level level, const char *fmt, va_list ap)
{
	if (level == SVH_DEBUG)
		return 0;
	printf("%s# ", ind);
	return vprintf(fmt, ap);
}

/* ---- the control channel: what the vhost-user socket would carry ----------------- */

struct msg {
	char name[32];
	uint32_t nfds;
};

static int send_msg(int s, const struct msg *m, const int *fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 16)] = { 0 };
	struct iovec io = { (void *)m, sizeof(*m) };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1 };

	if (m->nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * m->nfds);
	}
	return sendmsg(s, &mh, 0) == (ssize_t)sizeof(*m) ? 0 : -1;
}

static int recv_msg(int s, struct msg *m, int *fds, unsigned max)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 16)];
	struct iovec io = { m, sizeof(*m) };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	unsigned n = 0;

	if (recvmsg(s, &mh, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(*m))
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	if (n != m->nfds || n > max)
		return -1;
	if (n)
		memcpy(fds, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int) * n);
	return 0;
}

/* ---- child: QEMU ---------------------------------------------------------------- */

static void *pd_main(void *arg)
{
	svh_dev_run(arg);
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

/*
 * The pool, as /proc/self/smaps shows it: the largest mapping of
 * /dev/svhost, and its protection key.
 */
static __attribute__((noinline)) volatile uint8_t *find_pool(int *pkey)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	unsigned long a, b, best = 0, best_a = 0;
	bool in = false;
	int k;

	*pkey = -1;
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && strchr(line, ' ')) {
			in = strstr(line, "/dev/svhost") && b - a > best;
			if (in) {
				best = b - a;
				best_a = a;
			}
		} else if (in && sscanf(line, "ProtectionKey: %d", &k) == 1) {
			*pkey = k;
		}
	}
	fclose(f);
	return (volatile uint8_t *)best_a;
}

/* Only the PD thread may touch the pool: this (guest) thread must fault. */
static void pku_check(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO }, old;
	int pkey;
	volatile uint8_t *pool = find_pool(&pkey);
	volatile uint8_t v = 0;

	if (!pool) {
		report(0, "the pool mapping of /dev/svhost is in /proc/self/smaps");
		return;
	}
	if (pkey <= 0) {
		skip("a non-PD thread reading the pool faults with SEGV_PKUERR",
		     "the pool mapping has no protection key (no PKU)");
		return;
	}
	sigaction(SIGSEGV, &sa, &old);
	segv_code = 0;
	if (sigsetjmp(segv_jb, 1) == 0)
		v = pool[0];
	sigaction(SIGSEGV, &old, NULL);
	(void)v;
	report(segv_code == SEGV_PKUERR,
	       "a non-PD thread reading the pool (protection key %d) faults with "
	       "SEGV_PKUERR (si_code %d)", pkey, segv_code);
}

struct child {
	struct svh_dev *d;
	struct synth_guest g;
	pthread_t pd;
	enum svh_dev_state last;
	unsigned revoked_acl, revoked_admin, reattached;
	uint64_t lost_at_revoke;
};

static uint64_t dstat(struct svh_dev *d, const char *name)
{
	static struct svh_stat t[128];
	int n = svh_dev_stats(d, t, 128);

	for (int i = 0; i < n && i < 128; i++)
		if (!strcmp(t[i].name, name))
			return t[i].value;
	return 0;
}

static void watch_state(struct child *c)
{
	uint32_t reason;
	enum svh_dev_state s = svh_dev_state(c->d, &reason);

	if (s == c->last)
		return;
	printf("%s# PD state %s -> %s (reason %u), TX used %u, RX used %u\n", ind,
	       svh_dev_state_name(c->last), svh_dev_state_name(s), reason,
	       c->g.tx.used->idx, c->g.rx.used->idx);
	if (s == SVH_DEV_REVOKED && reason == REASON_ACL)
		c->revoked_acl++;
	if (s == SVH_DEV_REVOKED && reason == REASON_ADMIN)
		c->revoked_admin++;
	if (s == SVH_DEV_ATTACHED && c->last == SVH_DEV_REVOKED)
		c->reattached++;
	c->last = s;
}

static int qemu_child(void)
{
	struct child *c = calloc(1, sizeof(*c));
	struct sg_cfg gc = { .num = 256, .tx_buf_cap = 10240, .rx_buf_len = 2048,
			     .features = SG_FEATURES, .split_regions = true,
			     .tx_layout = SG_TX_ROTATE, .verify = true, .use_eventfds = true };
	struct svh_dev_opts o = { .sz = sizeof(o), .queue_pairs = 1, .mode = SVH_SCHED_ADAPTIVE,
				  .cpu = -1, .name = "e2e" };
	struct svh_mem_region regs[3];
	struct msg m;
	int fds[4], rc;
	unsigned nr;
	double t0, t1, deadline;
	uint64_t idle = 0;

	svh_set_print(print_cb);
	if (memfd_mode)
		o.flags = SVH_DEV_F_TEST_MEMFD;
	if (svh_dev_create(&c->d, &o) || sg_init(&c->g, &gc)) {
		report(0, "device and synthetic guest set up");
		return 1;
	}
	/* what QEMU's vhost_dev_start does, in its order */
	svh_dev_set_features(c->d, SG_FEATURES);
	sg_mem_regions(&c->g, regs, &nr);
	rc = svh_dev_set_mem_table(c->d, regs, nr);
	for (unsigned i = 0; i < 2 && !rc; i++) {
		struct sg_queue *q = i ? &c->g.tx : &c->g.rx;
		struct vhost_vring_addr a;

		sg_vring_addr(&c->g, !i, i, &a);
		rc = svh_dev_set_vring_num(c->d, i, q->num);
		if (!rc)
			rc = svh_dev_set_vring_base(c->d, i, 0);
		if (!rc)
			rc = svh_dev_set_vring_addr(c->d, &a);
		if (!rc)
			rc = svh_dev_set_vring_kick(c->d, i, q->kick_fd);
		if (!rc)
			rc = svh_dev_set_vring_call(c->d, i, q->call_fd);
	}
	report(rc == 0, "vhost operations: features, memory table, vring num/base/addr/kick/call");
	pthread_create(&c->pd, NULL, pd_main, c->d);	/* QEMU: qemu_thread_create */

	/* GET_PORT reply: the name (and the memfds of the test transport) */
	if (recv_msg(sock[1], &m, fds, 2)) {
		report(0, "GET_PORT reply received");
		return 1;
	}
	m.name[sizeof(m.name) - 1] = 0;
	rc = svh_dev_set_port(c->d, m.name, m.nfds ? fds[0] : -1, m.nfds ? fds[1] : -1);
	report(rc == 0 && svh_dev_state(c->d, NULL) == SVH_DEV_ATTACHED,
	       "the PD thread attaches to port '%s'%s: %s", m.name,
	       m.nfds ? " (test-only memfds)" : "", strerror(-rc));
	if (m.nfds) {
		close(fds[0]);
		close(fds[1]);
	}
	if (rc) {
		svh_dev_shutdown(c->d);
		pthread_join(c->pd, NULL);
		return 1;
	}
	c->last = SVH_DEV_ATTACHED;
	/* SET_VRING_KICK / SET_VRING_CALL: the doorbells, to the vSwitch */
	for (unsigned i = 0; i < 2; i++)
		svh_dev_doorbells(c->d, i, &fds[2 * i], &fds[2 * i + 1]);
	m.nfds = 4;
	send_msg(sock[1], &m, fds);
	/* SET_VRING_ENABLE */
	rc = svh_dev_set_vring_enable(c->d, 0, true);
	if (!rc)
		rc = svh_dev_set_vring_enable(c->d, 1, true);
	report(rc == 0, "both vrings enabled");

	if (!memfd_mode)
		pku_check();

	sg_rx_refill(&c->g);
	sg_kick_if_needed(&c->g, &c->g.rx);
	t0 = now();
	deadline = t0 + timeout_s;
	while ((c->g.tx_done < npkts || c->g.rx_pkts < npkts) && now() < deadline) {
		unsigned work = 0, k = 0;

		while (c->g.tx_seq < npkts && sg_tx_post(&c->g, size_for(c->g.tx_seq)))
			k++;
		if (k)
			sg_kick_if_needed(&c->g, &c->g.tx);
		work += k;
		work += sg_tx_reap(&c->g);
		work += sg_rx_poll(&c->g);
		if (sg_rx_refill(&c->g)) {
			sg_kick_if_needed(&c->g, &c->g.rx);
			work++;
		}
		watch_state(c);
		if (!work && (++idle & 15) == 0)
			usleep(200);
	}
	t1 = now();
	watch_state(c);

	report(c->g.tx_done == npkts, "guest TX: every packet taken by the PD (%llu)",
	       (unsigned long long)c->g.tx_done);
	report(c->g.rx_pkts == npkts, "guest RX: every packet from the vSwitch received (%llu)",
	       (unsigned long long)c->g.rx_pkts);
	report(c->g.rx_bad == 0 && c->g.rx_bad_used == 0, "guest RX: payload checksums intact");
	if (revoke_mode) {
		/* at most one batch of the vSwitch's packets lost per revocation */
		report(c->g.rx_out_of_order <= 2, "guest RX: gaps only at the revocations (%llu)",
		       (unsigned long long)c->g.rx_out_of_order);
		report(c->revoked_acl >= 1, "the PD saw the grant withdrawn (REVOKED, reason ACL)");
		report(c->revoked_admin >= 1,
		       "the PD saw the administrator's revoke (REVOKED, reason ADMIN)");
		report(c->reattached >= 2 && c->last == SVH_DEV_ATTACHED,
		       "the PD attached again after each (%u) and ends attached",
		       c->reattached);
	} else {
		report(c->g.rx_out_of_order == 0, "guest RX: in order, nothing lost");
		report(c->last == SVH_DEV_ATTACHED && dstat(c->d, "pd.revocations") == 0,
		       "attached throughout");
	}
	{
		uint64_t errs = 0, drops = 0;
		static const char *const errnames[] = {
			"drop_guest_hdr", "drop_too_big", "drop_empty", "drop_bad_desc",
			"drop_rx_too_small", "vq_err_avail_idx", "vq_err_head", "vq_err_next",
			"vq_err_loop", "vq_err_addr", "vq_err_direction", "vq_err_indirect",
			"vq_err_segments", "vq_err_flags" };
		char name[64];

		for (unsigned dir = 0; dir < 2; dir++)
			for (unsigned i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
				snprintf(name, sizeof(name), "q0.%s.%s",
					 dir ? "to_guest" : "to_vswitch", errnames[i]);
				if (i < 5)
					drops += dstat(c->d, name);
				else
					errs += dstat(c->d, name);
			}
		report(errs == 0 && drops == 0, "PD: no guest errors, no drops");
		printf("%s# PD to-vswitch: %llu pkts, %.3f Mpps, %.1f busy cycles/pkt, "
		       "guest irqs %llu, vSwitch kicks %llu\n", ind,
		       (unsigned long long)dstat(c->d, "q0.to_vswitch.packets"),
		       dstat(c->d, "q0.to_vswitch.packets") / (t1 - t0) / 1e6,
		       (double)dstat(c->d, "q0.to_vswitch.busy_cycles") /
		       (double)(dstat(c->d, "q0.to_vswitch.packets") | 1),
		       (unsigned long long)dstat(c->d, "q0.to_vswitch.guest_irqs"),
		       (unsigned long long)dstat(c->d, "q0.to_vswitch.peer_kicks"));
		printf("%s# PD to-guest:   %llu pkts, %.3f Mpps, %.1f busy cycles/pkt, "
		       "guest irqs %llu, vSwitch kicks %llu\n", ind,
		       (unsigned long long)dstat(c->d, "q0.to_guest.packets"),
		       dstat(c->d, "q0.to_guest.packets") / (t1 - t0) / 1e6,
		       (double)dstat(c->d, "q0.to_guest.busy_cycles") /
		       (double)(dstat(c->d, "q0.to_guest.packets") | 1),
		       (unsigned long long)dstat(c->d, "q0.to_guest.guest_irqs"),
		       (unsigned long long)dstat(c->d, "q0.to_guest.peer_kicks"));
		printf("%s# PD loops %llu, sleeps %llu, attaches %llu, revocations %llu, "
		       "ring errors (to_guest peer_index) %llu, %.1f s\n", ind,
		       (unsigned long long)dstat(c->d, "pd.loops"),
		       (unsigned long long)dstat(c->d, "pd.sleeps"),
		       (unsigned long long)dstat(c->d, "pd.attaches"),
		       (unsigned long long)dstat(c->d, "pd.revocations"),
		       (unsigned long long)dstat(c->d, "q0.to_guest.ring_err_peer_index"),
		       t1 - t0);
	}
	svh_dev_shutdown(c->d);
	pthread_join(c->pd, NULL);
	report(svh_dev_state(c->d, NULL) == SVH_DEV_DETACHED, "PD thread stopped and detached");
	svh_dev_destroy(c->d);
	sg_fini(&c->g);
	printf("%s# %d passed, %d failed\n", ind, n_ok, n_fail);
	fflush(stdout);
	return n_fail ? 1 : 0;
}

/* ---- parent: the vSwitch ---------------------------------------------------------- */

struct vsw {
	struct svh_vsw *v;
	uint64_t tx_seq, rx_seq, rx_pkts, rx_bad, rx_gaps, rx_lost;
};

static unsigned vsw_pass(struct vsw *s)
{
	static uint8_t buf[SVH_MAX_PKT_LEN];
	static uint8_t sbuf[32][10240];
	struct svh_vsw_rx rx[32];
	struct svh_vsw_pkt pk[32];
	struct iovec iov[32];
	unsigned n, k = 0, work;

	n = svh_vsw_recv(s->v, 0, rx, 32);
	for (unsigned i = 0; i < n; i++) {
		struct iovec io = { buf, rx[i].len };
		uint64_t seq;

		if (svh_vsw_recv_copy(s->v, 0, &rx[i], 0, &io, 1) != (int)rx[i].len ||
		    sp_check(buf, rx[i].len, &seq) != 0) {
			s->rx_bad++;
			continue;
		}
		if (seq != s->rx_seq) {
			s->rx_gaps++;
			s->rx_lost += seq - s->rx_seq;
		}
		s->rx_seq = seq + 1;
		s->rx_pkts++;
	}
	svh_vsw_recv_release(s->v, 0, n);
	work = n;
	while (k < 32 && s->tx_seq + k < npkts) {
		uint32_t len = size_for(s->tx_seq + k);

		sp_fill(sbuf[k], len, s->tx_seq + k);
		iov[k] = (struct iovec){ sbuf[k], len };
		pk[k] = (struct svh_vsw_pkt){ .iov = &iov[k], .iovcnt = 1, .len = len };
		k++;
	}
	if (k) {
		n = svh_vsw_send(s->v, 0, pk, k);
		s->tx_seq += n;
		work += n;
	}
	return work;
}

static int sysfs_write(const char *attr, const char *val)
{
	char path[128];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/sys/kernel/svhost/ports/%s/%s", port_name, attr);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "memfd", 0, 0, 'm' }, { "revoke", 0, 0, 'r' }, { 0, 0, 0, 0 }
	};
	struct svh_vsw_opts vo = { .sz = sizeof(vo), .queue_pairs = 1, .ring_size = 256,
				   .buf_size = 2048 };
	struct vsw s = { 0 };
	struct msg m = { 0 };
	int c, rc, st = 0, child_done = 0, fds[4];
	int phase = 0;	/* revoke: 0 before, 1 grant withdrawn, 2 granted, 3 revoked */
	double deadline, t_phase = 0;
	uint64_t idle = 0;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "n:t:q", lo, NULL)) != -1) {
		switch (c) {
		case 'n': npkts = strtoull(optarg, NULL, 0); break;
		case 't': timeout_s = atoi(optarg); break;
		case 'm': memfd_mode = true; break;
		case 'r': revoke_mode = true; break;
		case 'q': break;
		default:
			fprintf(stderr, "usage: broker_e2e [--memfd] [--revoke] [-n packets] "
				"[-t seconds]\n");
			return 2;
		}
	}
	printf("KTAP version 1\n");
	if (memfd_mode && revoke_mode) {
		printf("1..0 # SKIP --revoke needs the broker (test_device covers revocation "
		       "on memfds)\n");
		return KSFT_SKIP;
	}
	if (!memfd_mode && access("/dev/svhost", F_OK)) {
		printf("1..0 # SKIP /dev/svhost absent (svhost.ko not loaded): run inside the "
		       "test VM, or use --memfd\n");
		return KSFT_SKIP;
	}
	printf("# libsvhost %s, %s transport, %llu packets each way%s\n", svh_version(),
	       memfd_mode ? "test-only memfd" : "broker", (unsigned long long)npkts,
	       revoke_mode ? ", revoked twice mid-stream" : "");
	svh_set_print(print_cb);
	snprintf(port_name, sizeof(port_name), "e2e-%d", (int)getpid());
	if (memfd_mode)
		vo.flags = SVH_VSW_F_TEST_MEMFD;
	rc = svh_vsw_create(&s.v, port_name, &vo);
	report(rc == 0, "vSwitch creates port '%s': %s", port_name, strerror(-rc));
	if (rc)
		return 1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock)) {
		report(0, "socketpair");
		return 1;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		n_ok = n_fail = 0;
		ind = "    ";
		close(sock[0]);
		printf("    # Subtest: QEMU-role child %d (guest thread + PD thread)\n",
		       (int)getpid());
		_exit(qemu_child());
	}
	close(sock[1]);
	/* GET_PORT reply */
	snprintf(m.name, sizeof(m.name), "%s", port_name);
	if (memfd_mode) {
		svh_vsw_test_memfds(s.v, &fds[0], &fds[1]);
		m.nfds = 2;
	}
	send_msg(sock[0], &m, fds);
	/* SET_VRING_KICK / SET_VRING_CALL of both vrings */
	rc = recv_msg(sock[0], &m, fds, 4);
	if (rc == 0) {
		for (unsigned i = 0; i < 2; i++) {
			/* fds: kick (the PD writes), call (we write) */
			svh_vsw_set_doorbells(s.v, 0, i, fds[2 * i + 1], fds[2 * i]);
			svh_vsw_ring_start(s.v, 0, i);
		}
	}
	report(rc == 0, "doorbells received, rings started");

	deadline = now() + timeout_s + 30;
	while (now() < deadline) {
		unsigned work = vsw_pass(&s);

		if (revoke_mode) {
			/* the administrator, at a third and two thirds of the stream */
			if (phase == 0 && s.rx_pkts > npkts / 3) {
				rc = sysfs_write("allowed_uids", "\n");
				printf("# admin: grant withdrawn (allowed_uids cleared): %s\n",
				       strerror(-rc));
				phase = 1;
				t_phase = now();
			} else if (phase == 1 && now() - t_phase > 1.0) {
				rc = sysfs_write("allowed_uids", "0");
				printf("# admin: root granted again: %s\n", strerror(-rc));
				phase = 2;
			} else if (phase == 2 && s.rx_pkts > 2 * npkts / 3) {
				rc = sysfs_write("revoke", "1");
				printf("# admin: revoke: %s\n", strerror(-rc));
				phase = 3;
			}
		}
		if (!work) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				child_done = 1;
				break;
			}
			if ((++idle & 15) == 0)
				usleep(200);
		}
	}
	if (!child_done && waitpid(pid, &st, WNOHANG) != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		printf("# child killed after the timeout\n");
	}
	report(WIFEXITED(st) && WEXITSTATUS(st) == 0, "QEMU-role child (guest + PD thread)%s",
	       WIFSIGNALED(st) ? ": killed by a signal" : "");
	if (WIFSIGNALED(st))
		printf("# child signal %d (%s)\n", WTERMSIG(st), strsignal(WTERMSIG(st)));
	report(s.rx_bad == 0, "vSwitch: payload checksums intact");
	if (revoke_mode) {
		report(s.rx_pkts + s.rx_lost == npkts && s.rx_lost <= 2 * BURST,
		       "vSwitch: every guest packet received but at most a batch per "
		       "revocation (%llu received, %llu lost)", (unsigned long long)s.rx_pkts,
		       (unsigned long long)s.rx_lost);
	} else {
		report(s.rx_pkts == npkts && s.rx_gaps == 0,
		       "vSwitch: every guest packet received, in order (%llu)",
		       (unsigned long long)s.rx_pkts);
	}
	{
		struct svh_stat t[32];
		int n = svh_vsw_stats(s.v, 0, SVH_VSW_TO_VSWITCH, t, 32);
		uint64_t bad = 0;

		for (int i = 0; i < n && i < 32; i++)
			if (!strncmp(t[i].name, "err_", 4) || !strcmp(t[i].name, "bad_packets"))
				bad += t[i].value;
		report(bad == 0, "vSwitch: no bad completion from the PD");
	}
	svh_vsw_destroy(s.v);
	printf("# %d passed, %d failed\n", n_ok, n_fail);
	return n_fail ? 1 : 0;
}
