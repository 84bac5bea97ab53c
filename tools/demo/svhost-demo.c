// SPDX-License-Identifier: GPL-2.0
/*
 * svhost-demo: end-to-end demonstration of secure-vhost through the broker.
 *
 * Two processes, as in production:
 *
 *   owner  (this process; plays the vSwitch) creates port "demo0" with
 *          libsvhost's vSwitch role (svh_vsw_create on /dev/svhost) and
 *          moves packets with it: svh_vsw_send towards the guest,
 *          svh_vsw_recv/recv_copy/recv_release from it.
 *
 *   copier (a forked child that drops to an unprivileged uid; plays QEMU)
 *          is libsvhost's device role: its PD thread runs svh_dev_run(),
 *          which allocates a protection key, attaches to the port (the
 *          kernel tags rings and pool with the key), opens PKRU for itself
 *          only and copies between the pool and the guest's virtqueues.  A
 *          "vcpu" thread drives a synthetic guest (a virtio-net driver over
 *          split virtqueues in the copier's private memory) and shows that
 *          any thread but the PD faults with SEGV_PKUERR on the pool.
 *
 * The demo uses libsvhost's public API only (svhost/vswitch.h,
 * svhost/device.h).  It adds the packets and their checks, the
 * administrator's pauses, and a few raw calls on /dev/svhost and on the
 * copier's own mappings that provoke the broker's refusals on purpose
 * (PORT_CREATE without CAP_NET_ADMIN, malformed attaches, re-keying or
 * making the pool executable, making the header writable).
 *
 * Losing the port is shown twice: the administrator revokes the copier (no
 * signal; the header says REVOKED/ADMIN; the PD thread stops, and since a
 * revoke also empties the grant it stays out until the administrator
 * grants again, when it attaches again by itself), then withdraws the
 * grant (REVOKED/ACL; the PD stays down).
 *
 * Administrative steps are done by an administrator with svhostctl while
 * the demo waits: pass --ctl DIR with two FIFOs, DIR/status (the demo writes
 * "PAUSE <tag> key=value..." lines) and DIR/cmd (the demo reads "continue"
 * or "abort").  Without --ctl the demo runs those svhostctl commands itself
 * (--svhostctl PATH, default tools/svhostctl).  tools/demo/run-demo.sh
 * drives it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/svhost.h>	/* the broker's uapi, for the raw refusals */

#include "guest.h"		/* the synthetic guest: public API only */

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

#define MSG_TIMEOUT_MS		(900 * 1000)	/* TCG is slow */
#define STALL_TIMEOUT_S		120.0

static struct {
	const char *port;
	const char *ctl;
	const char *svhostctl;
	uint64_t packets;
	uid_t copier_uid;
	gid_t copier_gid;
} opt = {
	.port = "demo0",
	.svhostctl = "tools/svhostctl",
	.packets = 100000,
	.copier_uid = 4242,
	.copier_gid = 4242,
};

static const char *role = "owner";
static int failures;
static int sock = -1;		/* owner <-> copier, the "vhost-user socket" */

/* ------------------------------------------------------------------------
 * Reports, messages, small helpers
 */

static void vreport(const char *kind, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	printf("[%s] %s%s\n", role, kind, buf);
	fflush(stdout);
}

#define REPORT_FN(name, kind, after)					\
	static void name(const char *fmt, ...)				\
		__attribute__((format(printf, 1, 2)));			\
	static void name(const char *fmt, ...)				\
	{								\
		va_list ap;						\
		va_start(ap, fmt);					\
		vreport(kind, fmt, ap);					\
		va_end(ap);						\
		after;							\
	}
REPORT_FN(say, "", (void)0)
REPORT_FN(pass, "ok: ", (void)0)
REPORT_FN(fail, "FAIL: ", failures++)

/* libsvhost's log lines (print callback), tagged with our role */
static int lib_print(enum svh_print_level level, const char *fmt, va_list ap)
{
	char buf[512];

	if (level == SVH_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = 0;
	printf("[%s] %s\n", role, buf);
	fflush(stdout);
	return 0;
}

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "success";

	return n ? n : "E?";
}

/* Check that an operation (rc: 0 or -errno) failed with errno want. */
static void expect_err(const char *what, int rc, int want)
{
	if (rc == 0)
		fail("%s: succeeded, expected %s", what, errname(want));
	else if (-rc != want)
		fail("%s: got %s (%s), expected %s", what, errname(-rc),
		     strerror(-rc), errname(want));
	else
		pass("%s refused with %s", what, errname(want));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One message: a line of text and up to 4 fds (SCM_RIGHTS). */
static int send_msg(const int *fds, int nfds, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int send_msg(const int *fds, int nfds, const char *fmt, ...)
{
	char buf[256], cbuf[CMSG_SPACE(4 * sizeof(int))] = { 0 };
	struct iovec io = { buf, 0 };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1 };
	va_list ap;

	va_start(ap, fmt);
	io.iov_len = (size_t)vsnprintf(buf, sizeof(buf), fmt, ap) + 1;
	va_end(ap);
	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static int recv_msg(char *buf, size_t size, int *fds, int *nfds)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct iovec io = { buf, size - 1 };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t n;

	if (nfds)
		*nfds = 0;
	if (poll(&pfd, 1, MSG_TIMEOUT_MS) != 1)
		return -1;
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	for (c = CMSG_FIRSTHDR(&mh); c && fds && nfds; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			*nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (*nfds > 4)
				*nfds = 4;
			memcpy(fds, CMSG_DATA(c), *nfds * sizeof(int));
		}
	}
	return 0;
}

static int expect_msg(const char *prefix, char *line, size_t size, int *fds, int *nfds)
{
	if (recv_msg(line, size, fds, nfds)) {
		fail("the other side went away or timed out waiting for %s", prefix);
		return -1;
	}
	if (strncmp(line, prefix, strlen(prefix))) {
		fail("the other side said '%s', expected %s", line, prefix);
		return -1;
	}
	return 0;
}

/* The mapping of /dev/svhost in this process with the most (largest) or fewest bytes. */
static void *svhost_mapping(bool largest, size_t *len, int *pkey)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	unsigned long a, b, best_a = 0, best_len = 0;
	bool in = false;
	int k;

	if (pkey)
		*pkey = -1;
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && strchr(line, ' ')) {
			in = strstr(line, "/dev/svhost") &&
			     (!best_len || (largest ? b - a > best_len : b - a < best_len));
			if (in) {
				best_a = a;
				best_len = b - a;
			}
		} else if (in && pkey && sscanf(line, "ProtectionKey: %d", &k) == 1) {
			*pkey = k;
		}
	}
	fclose(f);
	if (len)
		*len = best_len;
	return (void *)best_a;
}

/* Packets: 60..1514 bytes, sequence, length and checksum in the payload. */
static uint32_t pkt_len(uint64_t seq)
{
	return 60 + (uint32_t)((seq * 2654435761ull) % (1514 - 60 + 1));
}

static void print_rate(const char *what, uint64_t pkts, uint64_t bytes, double s)
{
	if (s <= 0)
		s = 1e-9;
	say("%-34s %8" PRIu64 " pkts %10" PRIu64 " bytes in %.2f s: %.3f Mpps, %.1f MB/s",
	    what, pkts, bytes, s, (double)pkts / s / 1e6, (double)bytes / s / 1e6);
}

/* ------------------------------------------------------------------------
 * Copier process (QEMU's role)
 */

static struct svh_dev *dev;
static struct synth_guest guest;
static pthread_t pd_thr, vcpu_thr;
static volatile pid_t pd_tid;
static volatile sig_atomic_t signals_seen;

static void *pd_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "svdemo-pd");
	pd_tid = (pid_t)syscall(SYS_gettid);
	svh_dev_run(dev);	/* QEMU: the body of the thread qemu_thread_create made */
	return NULL;
}

/* Any signal the broker might send (it must not: losing the port never signals). */
static void count_signal(int sig)
{
	(void)sig;
	signals_seen++;
}

static sigjmp_buf probe_jb;
static volatile int probe_sig, probe_code, probe_pkey;

static void probe_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	probe_sig = sig;
	probe_code = si->si_code;
	probe_pkey = (sig == SIGSEGV && si->si_code == SEGV_PKUERR) ? (int)si->si_pkey : -1;
	siglongjmp(probe_jb, 1);
}

/* The vCPU thread: drives the guest for the data path, then touches the pool. */
static void *vcpu_main(void *arg)
{
	uint64_t idle = 0;
	double t0, deadline, last = now();
	uint64_t rx_bytes;

	(void)arg;
	prctl(PR_SET_NAME, "svdemo-vcpu0");
	sg_rx_refill(&guest);
	sg_kick_if_needed(&guest, &guest.rx);
	t0 = now();
	deadline = t0 + STALL_TIMEOUT_S;
	while ((guest.tx_done < opt.packets || guest.rx_pkts < opt.packets) && now() < deadline) {
		unsigned work = 0, k = 0;

		while (guest.tx_seq < opt.packets && sg_tx_post(&guest, pkt_len(guest.tx_seq)))
			k++;
		if (k)
			sg_kick_if_needed(&guest, &guest.tx);
		work += k + sg_tx_reap(&guest) + sg_rx_poll(&guest);
		if (sg_rx_refill(&guest)) {
			sg_kick_if_needed(&guest, &guest.rx);
			work++;
		}
		if (work) {
			last = now();
			deadline = last + STALL_TIMEOUT_S;
		} else if ((++idle & 15) == 0) {
			usleep(200);
		}
	}
	rx_bytes = guest.rx_bytes;
	print_rate("guest TX (guest -> pool, by the PD)", guest.tx_done, 0, now() - t0);
	print_rate("guest RX (pool -> guest, by the PD)", guest.rx_pkts, rx_bytes, now() - t0);
	if (guest.tx_done == opt.packets && guest.rx_pkts == opt.packets &&
	    guest.rx_bad == 0 && guest.rx_out_of_order == 0 && guest.rx_bad_used == 0)
		pass("guest: %" PRIu64 " packets sent, %" PRIu64 " received in order, "
		     "every payload intact", guest.tx_done, guest.rx_pkts);
	else
		fail("guest: sent %" PRIu64 ", received %" PRIu64 ", bad %" PRIu64
		     ", out of order %" PRIu64, guest.tx_done, guest.rx_pkts, guest.rx_bad,
		     guest.rx_out_of_order);

	/* A non-PD thread of this process touches the pool: PKRU stops it. */
	{
		struct sigaction sa = { .sa_sigaction = probe_handler, .sa_flags = SA_SIGINFO };
		struct sigaction old;
		int pkey;
		volatile uint8_t *pool = svhost_mapping(true, NULL, &pkey);

		sigaction(SIGSEGV, &sa, &old);
		probe_sig = 0;
		if (pool && sigsetjmp(probe_jb, 1) == 0)
			(void)pool[4096];
		sigaction(SIGSEGV, &old, NULL);
		say("vcpu thread: read of the pool at %p -> %s si_code %d si_pkey %d (pool key %d)",
		    (void *)(pool ? pool + 4096 : NULL),
		    probe_sig == SIGSEGV ? "SIGSEGV" : probe_sig ? "another signal" : "no fault",
		    probe_code, probe_pkey, pkey);
		if (pool && probe_sig == SIGSEGV && probe_code == SEGV_PKUERR && probe_pkey == pkey)
			pass("non-PD thread faulted with SIGSEGV/SEGV_PKUERR on key %d", pkey);
		else
			fail("non-PD thread was not stopped by its PKRU");
	}
	return NULL;
}

/* Wait until the device's state is want (or timeout); returns the reason. */
static int wait_state(enum svh_dev_state want, double secs, uint32_t *reason)
{
	struct pollfd pf = { .fd = svh_dev_state_fd(dev), .events = POLLIN };
	double end = now() + secs;
	uint64_t v;

	while (svh_dev_state(dev, reason) != want) {
		if (now() > end)
			return -1;
		if (poll(&pf, 1, 100) > 0 && read(pf.fd, &v, sizeof(v)) < 0)
			return -1;
	}
	return 0;
}

static uint64_t dev_stat(const char *name)
{
	struct svh_stat t[128];
	int n = svh_dev_stats(dev, t, 128);

	for (int i = 0; i < n && i < 128; i++)
		if (!strcmp(t[i].name, name))
			return t[i].value;
	return 0;
}

/* Attaches made by hand on /dev/svhost that the broker must refuse. */
static int raw_attach(const char *name, int pkey)
{
	struct svhost_copier_attach a = { .pkey = pkey };
	int fd = open("/dev/svhost", O_RDWR | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	snprintf(a.name, sizeof(a.name), "%s", name);
	if (ioctl(fd, SVHOST_COPIER_ATTACH, &a) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* The refusals the broker owes us on our own mappings of the port. */
static void copier_mapping_checks(void)
{
	size_t plen = 0, hlen = 0;
	int pkey;
	void *pool = svhost_mapping(true, &plen, &pkey);
	void *hdr = svhost_mapping(false, &hlen, NULL);

	if (!pool || !hdr) {
		fail("the port's mappings are not in /proc/self/smaps");
		return;
	}
	say("mappings of /dev/svhost: pool %p (%zu KiB, ProtectionKey %d), header %p (%zu bytes)",
	    pool, plen >> 10, pkey, hdr, hlen);
	/*
	 * The kernel tagged rings and pool with the PD's key: re-keying is
	 * refused by the driver's mprotect hook (EPERM); PROT_EXEC and a
	 * writable header by the core (the driver cleared VM_MAYEXEC and, for
	 * the header, VM_MAYWRITE: EACCES).
	 */
	expect_err("pkey_mprotect(pool, key 0)",
		   pkey_mprotect(pool, plen, PROT_READ | PROT_WRITE, 0) ? -errno : 0, EPERM);
	expect_err("mprotect(pool, +PROT_EXEC)",
		   mprotect(pool, plen, PROT_READ | PROT_WRITE | PROT_EXEC) ? -errno : 0, EACCES);
	expect_err("mprotect(header, +PROT_WRITE)",
		   mprotect(hdr, hlen, PROT_READ | PROT_WRITE) ? -errno : 0, EACCES);
}

static int copier_setup(void)
{
	struct svh_dev_opts o = { .sz = sizeof(o), .queue_pairs = 1, .mode = SVH_SCHED_ADAPTIVE,
				  .cpu = -1, .name = "demo" };
	struct sg_cfg gc = { .num = 256, .tx_buf_cap = 2048, .rx_buf_len = 2048,
			     .features = SG_FEATURES, .split_regions = true,
			     .tx_layout = SG_TX_ROTATE, .verify = true, .use_eventfds = true };
	struct svh_mem_region regs[3];
	unsigned nr;
	int rc;

	rc = svh_dev_create(&dev, &o);
	if (!rc)
		rc = sg_init(&guest, &gc);
	if (rc) {
		fail("device / guest set-up: %s", strerror(-rc));
		return -1;
	}
	/* what QEMU's vhost_dev_start hands to the vhost back end */
	svh_dev_set_features(dev, SG_FEATURES);
	sg_mem_regions(&guest, regs, &nr);
	rc = svh_dev_set_mem_table(dev, regs, nr);
	for (unsigned i = 0; i < 2 && !rc; i++) {
		struct sg_queue *q = i ? &guest.tx : &guest.rx;
		struct vhost_vring_addr a;

		sg_vring_addr(&guest, !i, i, &a);
		rc = svh_dev_set_vring_num(dev, i, q->num);
		if (!rc)
			rc = svh_dev_set_vring_base(dev, i, 0);
		if (!rc)
			rc = svh_dev_set_vring_addr(dev, &a);
		if (!rc)
			rc = svh_dev_set_vring_kick(dev, i, q->kick_fd);
		if (!rc)
			rc = svh_dev_set_vring_call(dev, i, q->call_fd);
	}
	if (rc) {
		fail("vhost operations: %s", strerror(-rc));
		return -1;
	}
	pass("device set up: features, memory table (%u regions of the guest's private "
	     "memory), vring num/base/addr/kick/call", nr);
	if (pthread_create(&pd_thr, NULL, pd_main, NULL)) {
		fail("pthread_create");
		return -1;
	}
	return 0;
}

static int copier_main(void *owner_pool, size_t owner_pool_size)
{
	struct svhost_version ver = { 0 };
	char line[256];
	int rc, fd, fds[4];
	uint32_t reason;

	role = "copier";
	prctl(PR_SET_NAME, "svdemo-qemu");
	signal(SIGBUS, count_signal);

	/* fork() did not give us the owner's pool (VM_DONTCOPY). */
	{
		unsigned char vec;

		if (owner_pool && mincore(owner_pool, 4096, &vec) == 0)
			fail("the owner's pool mapping was inherited by fork()");
		else if (owner_pool && errno == ENOMEM)
			pass("fork() did not inherit the owner's pool mapping (%zu KiB)",
			     owner_pool_size >> 10);
		else
			fail("mincore: %s", strerror(errno));
	}
	if (opt.copier_uid != 0) {
		struct svhost_port_create pc = { .queue_pairs = 1, .ring_size = 64,
						 .buf_size = 2048, .buf_count = 1 };

		if (setgroups(0, NULL) || setgid(opt.copier_gid) || setuid(opt.copier_uid)) {
			fail("dropping privileges to uid %u: %s", (unsigned)opt.copier_uid,
			     strerror(errno));
			return 1;
		}
		say("running as uid %d gid %d, no supplementary groups", (int)getuid(),
		    (int)getgid());
		snprintf(pc.name, sizeof(pc.name), "copier-port");
		fd = open("/dev/svhost", O_RDWR | O_CLOEXEC);
		rc = fd < 0 ? -errno : ioctl(fd, SVHOST_PORT_CREATE, &pc) ? -errno : 0;
		if (fd >= 0)
			close(fd);
		expect_err("PORT_CREATE without CAP_NET_ADMIN", rc, EPERM);
	}
	fd = open("/dev/svhost", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		ioctl(fd, SVHOST_GET_VERSION, &ver);
		close(fd);
	}
	if (copier_setup())
		return 1;

	/* GET_PORT said "demo0": before the administrator's grant, refused */
	rc = svh_dev_set_port(dev, opt.port, -1, -1);
	expect_err("svh_dev_set_port before the grant (the PD's attach)", rc, EPERM);
	if (svh_dev_state(dev, NULL) == SVH_DEV_DETACHED)
		pass("device state %s: the front end fails closed",
		     svh_dev_state_name(svh_dev_state(dev, NULL)));
	send_msg(NULL, 0, "DENIED");
	if (expect_msg("GRANTED", line, sizeof(line), NULL, NULL))
		return 1;

	/* malformed attaches, now that the grant admits us */
	if (ver.features & SVHOST_FEATURE_PKEY_REQUIRED)
		expect_err("attach with pkey -1 while require_pkey=Y", raw_attach(opt.port, -1),
			   EINVAL);
	expect_err("attach with a pkey not allocated in this process",
		   raw_attach(opt.port, 15), ENOKEY);
	expect_err("attach to a port that does not exist", raw_attach("no-such-port", 1), ENOENT);

	rc = svh_dev_set_port(dev, opt.port, -1, -1);
	if (rc || svh_dev_state(dev, NULL) != SVH_DEV_ATTACHED) {
		fail("svh_dev_set_port(%s): %s", opt.port, strerror(-rc));
		return 1;
	}
	{
		int pkey;

		svhost_mapping(true, NULL, &pkey);
		pass("the PD thread (tid %d) attached to %s as uid %d with protection key %d",
		     (int)pd_tid, opt.port, (int)geteuid(), pkey);
		copier_mapping_checks();
		/* SET_VRING_KICK / SET_VRING_CALL: the doorbells go to the vSwitch */
		for (unsigned i = 0; i < 2; i++)
			svh_dev_doorbells(dev, i, &fds[2 * i], &fds[2 * i + 1]);
		send_msg(fds, 4, "ATTACHED pid=%d tid=%d uid=%d pkey=%d", (int)getpid(),
			 (int)pd_tid, (int)geteuid(), pkey);
	}
	if (expect_msg("GO", line, sizeof(line), NULL, NULL))
		return 1;
	/* SET_VRING_ENABLE */
	if (svh_dev_set_vring_enable(dev, 0, true) || svh_dev_set_vring_enable(dev, 1, true)) {
		fail("svh_dev_set_vring_enable");
		return 1;
	}
	pthread_create(&vcpu_thr, NULL, vcpu_main, NULL);
	pthread_join(vcpu_thr, NULL);
	say("PD thread: %" PRIu64 " + %" PRIu64 " packets, %.0f + %.0f busy cycles/packet, "
	    "%" PRIu64 " guest interrupts, %" PRIu64 " sleeps",
	    dev_stat("q0.to_vswitch.packets"), dev_stat("q0.to_guest.packets"),
	    (double)dev_stat("q0.to_vswitch.busy_cycles") /
	    (double)(dev_stat("q0.to_vswitch.packets") | 1),
	    (double)dev_stat("q0.to_guest.busy_cycles") /
	    (double)(dev_stat("q0.to_guest.packets") | 1),
	    dev_stat("q0.to_vswitch.guest_irqs") + dev_stat("q0.to_guest.guest_irqs"),
	    dev_stat("pd.sleeps"));
	send_msg(NULL, 0, "DATAPATH_OK");

	/* 1. the administrator revokes us: no signal, the PD stops and stays out */
	send_msg(NULL, 0, "IDLE");
	say("PD thread idle and attached; waiting for the administrator to revoke it");
	if (wait_state(SVH_DEV_REVOKED, MSG_TIMEOUT_MS / 1000.0, &reason)) {
		fail("not revoked");
		return 1;
	}
	say("device state revoked, reason %u (%s); signals received: %d", reason,
	    reason == SVHOST_REASON_ADMIN ? "ADMIN" : "?", (int)signals_seen);
	if (reason == SVHOST_REASON_ADMIN && !signals_seen)
		pass("revocation seen in the header (REVOKED/ADMIN) and no signal: the process "
		     "lives on");
	else
		fail("expected REVOKED/ADMIN and no signal");
	sleep(2);	/* several attach attempts: the revoke emptied our grant */
	if (svh_dev_state(dev, NULL) == SVH_DEV_REVOKED && dev_stat("pd.attach_failures") > 0)
		pass("still out after 2 s: %" PRIu64 " attach attempts refused",
		     dev_stat("pd.attach_failures"));
	else
		fail("the PD is %s after the revoke",
		     svh_dev_state_name(svh_dev_state(dev, NULL)));
	send_msg(NULL, 0, "REVOKED reason=%u signals=%d", reason, (int)signals_seen);

	/* 2. granted again: the PD attaches again by itself */
	if (expect_msg("REGRANTED", line, sizeof(line), NULL, NULL))
		return 1;
	if (wait_state(SVH_DEV_ATTACHED, 60, NULL) == 0)
		pass("granted again: the PD thread attached again by itself (%" PRIu64
		     " attaches)", dev_stat("pd.attaches"));
	else
		fail("the PD thread did not attach again");
	send_msg(NULL, 0, "REATTACHED attaches=%" PRIu64, dev_stat("pd.attaches"));

	/* 3. the administrator withdraws the grant: the PD stays down */
	if (expect_msg("UNGRANTED", line, sizeof(line), NULL, NULL))
		return 1;
	if (wait_state(SVH_DEV_REVOKED, 30, &reason) || reason != SVHOST_REASON_ACL)
		fail("expected REVOKED/ACL after the grant was withdrawn (reason %u)", reason);
	else
		pass("grant withdrawn: REVOKED/ACL, no signal (%d)", (int)signals_seen);
	sleep(2);
	if (svh_dev_state(dev, NULL) == SVH_DEV_REVOKED)
		pass("still down after 2 s");
	else
		fail("the PD is %s after the grant was withdrawn",
		     svh_dev_state_name(svh_dev_state(dev, NULL)));
	send_msg(NULL, 0, "DOWN reason=%u", reason);

	if (expect_msg("BYE", line, sizeof(line), NULL, NULL))
		return 1;
	svh_dev_shutdown(dev);
	pthread_join(pd_thr, NULL);
	svh_dev_destroy(dev);
	sg_fini(&guest);
	say("copier exits (%s)", failures ? "with failures" : "all checks passed");
	send_msg(NULL, 0, failures ? "BYE fail" : "BYE ok");
	return failures ? 1 : 0;
}

/* ------------------------------------------------------------------------
 * Owner process (the vSwitch's role)
 */

static int status_fd = -1, cmd_fd = -1;
static pid_t copier_pid = -1;

/* Let the administrator act (svhostctl), or act ourselves without --ctl. */
static int admin_pause(const char *tag, const char *info)
{
	char line[64];
	struct pollfd pfd = { .fd = cmd_fd, .events = POLLIN };
	size_t n = 0;
	char c;

	if (!opt.ctl)
		return 0;
	say("pausing for the administrator (%s)", tag);
	if (dprintf(status_fd, "PAUSE %s %s\n", tag, info) < 0) {
		fail("cannot write the status FIFO");
		return -1;
	}
	while (n + 1 < sizeof(line)) {
		if (poll(&pfd, 1, MSG_TIMEOUT_MS) != 1 || read(cmd_fd, &c, 1) != 1) {
			fail("no answer on the command FIFO");
			return -1;
		}
		if (c == '\n')
			break;
		line[n++] = c;
	}
	line[n] = 0;
	if (strcmp(line, "continue")) {
		fail("administrator said '%s'", line);
		return -1;
	}
	return 0;
}

/* Without --ctl: the administrator's step ourselves, with svhostctl CMD [OPT ARG] PORT. */
static int admin_do(const char *cmd, const char *opt1, const char *opt2)
{
	pid_t p;
	int st;

	if (opt.ctl)
		return 0;
	fflush(stdout);
	p = fork();
	if (p == 0) {
		if (opt1)
			execl(opt.svhostctl, opt.svhostctl, cmd, opt1, opt2, opt.port, (char *)NULL);
		else
			execl(opt.svhostctl, opt.svhostctl, cmd, opt.port, (char *)NULL);
		_exit(127);
	}
	if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fail("%s %s %s: failed", opt.svhostctl, cmd, opt.port);
		return -1;
	}
	say("ran %s %s%s%s%s%s %s", opt.svhostctl, cmd, opt1 ? " " : "", opt1 ? opt1 : "",
	    opt1 ? " " : "", opt1 ? opt2 : "", opt.port);
	return 0;
}

/* The vSwitch's data path: send opt.packets to the guest, receive as many. */
static int owner_datapath(struct svh_vsw *v)
{
	static uint8_t sbuf[32][1514], rbuf[65536];
	uint64_t sent = 0, recvd = 0, sbytes = 0, rbytes = 0, bad = 0, ooo = 0;
	double t0 = now(), last = t0;

	while (sent < opt.packets || recvd < opt.packets) {
		struct svh_vsw_pkt pk[32];
		struct iovec iov[32];
		struct svh_vsw_rx rx[32];
		unsigned k = 0, n, m;

		while (k < 32 && sent + k < opt.packets) {
			uint32_t len = pkt_len(sent + k);

			sp_fill(sbuf[k], len, sent + k);
			iov[k] = (struct iovec){ sbuf[k], len };
			pk[k] = (struct svh_vsw_pkt){ .iov = &iov[k], .iovcnt = 1, .len = len };
			k++;
		}
		n = k ? svh_vsw_send(v, 0, pk, k) : 0;
		for (unsigned i = 0; i < n; i++)
			sbytes += pk[i].len;
		sent += n;
		m = svh_vsw_recv(v, 0, rx, 32);
		for (unsigned i = 0; i < m; i++) {
			struct iovec io = { rbuf, rx[i].len };
			uint64_t seq;

			if (svh_vsw_recv_copy(v, 0, &rx[i], 0, &io, 1) != (int)rx[i].len ||
			    rx[i].len != pkt_len(recvd) || sp_check(rbuf, rx[i].len, &seq)) {
				bad++;
			} else if (seq != recvd) {
				ooo++;
			}
			rbytes += rx[i].len;
			recvd++;
		}
		svh_vsw_recv_release(v, 0, m);
		if (n || m) {
			last = now();
		} else if (now() - last > STALL_TIMEOUT_S) {
			fail("no progress for %.0f s (sent %" PRIu64 ", received %" PRIu64 ")",
			     STALL_TIMEOUT_S, sent, recvd);
			return -1;
		} else {
			usleep(100);
		}
	}
	print_rate("vSwitch -> guest (sent)", sent, sbytes, now() - t0);
	print_rate("guest -> vSwitch (received, checked)", recvd, rbytes, now() - t0);
	if (bad || ooo) {
		fail("%" PRIu64 " packets corrupted, %" PRIu64 " out of order", bad, ooo);
		return -1;
	}
	pass("%" PRIu64 " packets each way; every packet from the guest checked (length, "
	     "sequence, checksum)", opt.packets);
	return 0;
}

static int owner_main(void)
{
	struct svh_vsw_opts vo = { .sz = sizeof(vo), .queue_pairs = 1, .ring_size = 256,
				   .buf_size = 2048, .buf_count = 1024 };
	struct svhost_version ver = { 0 };
	struct svh_vsw *v = NULL;
	char line[256], info[256], uid[16];
	int rc, sv[2], status, fd, fds[4], nfds;
	void *pool;
	size_t pool_len;

	fd = open("/dev/svhost", O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, SVHOST_GET_VERSION, &ver)) {
		fail("open /dev/svhost / SVHOST_GET_VERSION: %s (is svhost.ko loaded?)",
		     strerror(errno));
		return 1;
	}
	close(fd);
	say("/dev/svhost: API version %u, features %#x [%s%s], max %u queue pairs, max ring %u, "
	    "max pool per port %" PRIu64 " MiB; libsvhost %s", ver.api_version, ver.features,
	    ver.features & SVHOST_FEATURE_PKEY ? "PKEY" : "",
	    ver.features & SVHOST_FEATURE_PKEY_REQUIRED ? " PKEY_REQUIRED" : "",
	    ver.max_queue_pairs, ver.max_ring_size, (uint64_t)ver.max_port_pool_bytes >> 20,
	    svh_version());

	rc = svh_vsw_create(&v, opt.port, &vo);
	if (rc) {
		fail("svh_vsw_create %s: %s (%s)", opt.port, strerror(-rc), errname(-rc));
		return 1;
	}
	{
		uint32_t q, r, b, c;

		svh_vsw_geometry(v, &q, &r, &b, &c);
		pass("created port %s: %u queue pair(s), rings of %u, %u buffers of %u bytes",
		     svh_vsw_name(v), q, r, c, b);
	}
	pool = svhost_mapping(true, &pool_len, NULL);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		fail("socketpair: %s", strerror(errno));
		goto close;
	}
	fflush(stdout);
	copier_pid = fork();
	if (copier_pid < 0) {
		fail("fork: %s", strerror(errno));
		goto close;
	}
	if (copier_pid == 0) {
		/* the owner's port file is close-on-exec only: the copier never uses it */
		if (status_fd >= 0)
			close(status_fd);
		if (cmd_fd >= 0)
			close(cmd_fd);
		close(sv[0]);
		sock = sv[1];
		_exit(copier_main(pool, pool_len));
	}
	close(sv[1]);
	sock = sv[0];
	say("forked copier process pid %d (uid %u)", (int)copier_pid, (unsigned)opt.copier_uid);

	/* 1. ACL: the copier is refused until the administrator grants it. */
	if (expect_msg("DENIED", line, sizeof(line), NULL, NULL))
		goto kill;
	snprintf(info, sizeof(info), "port=%s copier_pid=%d copier_uid=%u", opt.port,
		 (int)copier_pid, (unsigned)opt.copier_uid);
	if (admin_pause("grant", info))
		goto kill;
	snprintf(uid, sizeof(uid), "%u", (unsigned)opt.copier_uid);
	if (admin_do("grant", "--uid", uid))
		goto kill;
	send_msg(NULL, 0, "GRANTED");

	/* 2. Attached: doorbells, rings, the data path. */
	if (expect_msg("ATTACHED", line, sizeof(line), fds, &nfds) || nfds != 4)
		goto kill;
	say("copier attached: %s", line + 9);
	snprintf(info, sizeof(info), "%s", line + 9);
	if (svh_vsw_copier_attached(v))
		pass("the port's header shows a copier attached");
	else
		fail("the port's header does not show the copier");
	for (unsigned i = 0; i < 2; i++) {
		/* fds: kick (the PD writes, we would sleep on it), call (we write) */
		svh_vsw_set_doorbells(v, 0, i, fds[2 * i + 1], fds[2 * i]);
		svh_vsw_ring_start(v, 0, i);
	}
	send_msg(NULL, 0, "GO");
	if (owner_datapath(v) || expect_msg("DATAPATH_OK", line, sizeof(line), NULL, NULL))
		goto kill;

	/* 3. Attached and idle: the administrator inspects, then revokes. */
	if (expect_msg("IDLE", line, sizeof(line), NULL, NULL) || admin_pause("attached", info))
		goto kill;
	if (admin_do("revoke", NULL, NULL))
		goto kill;
	if (expect_msg("REVOKED", line, sizeof(line), NULL, NULL))
		goto kill;
	say("copier reports: %s", line);
	if (!svh_vsw_copier_attached(v))
		pass("the port's header shows no copier attached");
	else
		fail("the port still shows a copier");

	/* 4. The administrator grants again; the copier comes back by itself. */
	snprintf(info, sizeof(info), "port=%s copier_uid=%u", opt.port,
		 (unsigned)opt.copier_uid);
	if (admin_pause("revoked", info))
		goto kill;
	snprintf(uid, sizeof(uid), "%u", (unsigned)opt.copier_uid);
	if (admin_do("grant", "--uid", uid))
		goto kill;
	send_msg(NULL, 0, "REGRANTED");
	if (expect_msg("REATTACHED", line, sizeof(line), NULL, NULL))
		goto kill;
	say("copier reports: %s", line);
	if (svh_vsw_copier_attached(v))
		pass("the port's header shows the copier attached again");
	else
		fail("the port does not show the copier");

	/* 5. The administrator withdraws the grant: the copier stays out. */
	if (admin_pause("reattached", info))
		goto kill;
	if (admin_do("ungrant", "--uid", uid))
		goto kill;
	send_msg(NULL, 0, "UNGRANTED");
	if (expect_msg("DOWN", line, sizeof(line), NULL, NULL))
		goto kill;
	say("copier reports: %s", line);
	if (admin_pause("ungranted", info))
		goto kill;

	/* 6. Teardown. */
	for (unsigned i = 0; i < 2; i++)
		svh_vsw_ring_stop(v, 0, i);
	send_msg(NULL, 0, "BYE");
	if (expect_msg("BYE", line, sizeof(line), NULL, NULL))
		goto kill;
	if (strcmp(line, "BYE ok"))
		fail("the copier reported failures");
	if (waitpid(copier_pid, &status, 0) == copier_pid) {
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail("copier exit status %#x", status);
		else
			pass("copier process exited cleanly");
	}
	copier_pid = -1;
	svh_vsw_destroy(v);
	say("owner closed the port");
	return failures ? 1 : 0;

kill:
	if (copier_pid > 0) {
		kill(copier_pid, SIGKILL);
		waitpid(copier_pid, NULL, 0);
	}
close:
	svh_vsw_destroy(v);
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: svhost-demo [--packets N] [--copier-uid UID] [--port NAME] [--ctl DIR]\n"
"                   [--svhostctl PATH]\n"
"\n"
"Run as root with svhost.ko loaded.  Creates a port (owner = vSwitch role),\n"
"forks a copier (QEMU role) that drops to UID (default 4242) and whose PD\n"
"thread attaches with a protection key, and moves N packets (default 100000)\n"
"each way with integrity checks; then shows the PKU fault of a non-PD thread,\n"
"a revocation (no signal, REVOKED in the header, the PD stays out until a new\n"
"grant, then attaches again), a withdrawn grant (the PD stays down) and a\n"
"clean teardown.\n"
"\n"
"--ctl DIR  pause for the administrator: write \"PAUSE <tag> k=v...\" lines to\n"
"           the FIFO DIR/status and wait for \"continue\" on DIR/cmd (tags:\n"
"           grant, attached, revoked, reattached, ungranted).  Without it the\n"
"           demo runs the svhostctl commands itself (--svhostctl, default\n"
"           tools/svhostctl).\n"
"\n"
"Exit status 0 when every check passed, 1 otherwise, 2 on usage errors.\n");
}

static int open_fifo(const char *name, int flags)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", opt.ctl, name);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "svhost-demo: %s: %s\n", path, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "packets", required_argument, NULL, 'n' },
		{ "copier-uid", required_argument, NULL, 'u' },
		{ "port", required_argument, NULL, 'p' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "svhostctl", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "n:u:p:c:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			opt.packets = strtoull(optarg, &end, 10);
			if (errno || *end || !opt.packets)
				goto usage;
			break;
		case 'u':
			errno = 0;
			opt.copier_uid = (uid_t)strtoul(optarg, &end, 10);
			if (errno || *end)
				goto usage;
			opt.copier_gid = (gid_t)opt.copier_uid;
			break;
		case 'p':
			opt.port = optarg;
			break;
		case 'c':
			opt.ctl = optarg;
			break;
		case 's':
			opt.svhostctl = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc || !*opt.port || strlen(opt.port) >= SVHOST_NAME_LEN)
		goto usage;
	if (geteuid() != 0) {
		fprintf(stderr, "svhost-demo: must run as root (creates a port, "
			"needs CAP_NET_ADMIN)\n");
		return 1;
	}
	if (opt.copier_uid == 0) {
		fprintf(stderr, "svhost-demo: the copier must not be root (the grant is "
			"part of the demo)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	svh_set_print(lib_print);

	/* Same order as run-demo.sh opens them, or both block. */
	if (opt.ctl && ((status_fd = open_fifo("status", O_WRONLY)) < 0 ||
			(cmd_fd = open_fifo("cmd", O_RDONLY)) < 0))
		return 1;
	if (owner_main() || failures) {
		say("FAILED (%d check(s) failed)", failures);
		return 1;
	}
	say("all checks passed");
	return 0;

usage:
	usage(stderr);
	return 2;
}
