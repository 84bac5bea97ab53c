// SPDX-License-Identifier: GPL-2.0
/*
 * svhost-demo: end-to-end demonstration of the svhost broker.
 *
 * Two processes, as in production:
 *
 *   owner  (this process; plays the vSwitch) creates port "demo0" on
 *          /dev/svhost and is the producer of both rings: it posts filled
 *          buffers on TO_GUEST and empty buffers on TO_VSWITCH, and checks
 *          what comes back.
 *
 *   copier (a forked child that drops to an unprivileged uid; plays QEMU)
 *          runs a packet-delivery (PD) thread that allocates a protection
 *          key, attaches to the port with it (the kernel tags rings and pool
 *          with the key), enables the key in its own PKRU only, and is the
 *          consumer of both rings, copying packets between the pool and its
 *          private "guest memory".  A "vcpu" thread shows that any other
 *          thread of the copier faults with SEGV_PKUERR.
 *
 * Everything that moves data or talks to the broker the normal way comes
 * from libsvhost (tools/lib/svhost): svh_broker_version, svh_port_create /
 * svh_port_attach / svh_port_close (open, ioctl, layout check, mmap of
 * header, rings and pool), svh_ring_* (producer and consumer: posting,
 * peeking, filling, completing, reaping, with every index and descriptor
 * read once and validated) and the PKRU helpers (svh_pkey_alloc,
 * svh_pkey_set_thread, svh_rdpkru).  This file only adds the demo itself:
 * the packets and their integrity checks, the administrator pauses, and the
 * negative checks that poke the broker directly on purpose (attach
 * refusals, a writable header mapping, re-keying, mmap after revocation).
 *
 * Administrative steps (grant, revoke) are done by an administrator with
 * svhostctl while the demo waits: pass --ctl DIR with two FIFOs, DIR/status
 * (the demo writes "PAUSE <tag> key=value..." lines) and DIR/cmd (the demo
 * reads "continue" or "abort").  Without --ctl the demo performs those steps
 * itself by writing sysfs.  tools/demo/run-demo.sh drives it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "compiler.h"
#include "ring.h"

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

/* Port geometry of the demo. */
#define DEMO_BUF_SIZE		2048
#define DEMO_BUF_COUNT		1024
static const struct svh_port_params demo_geom = {
	.queue_pairs = 1, .ring_size = 256,
	.buf_size = DEMO_BUF_SIZE, .buf_count = DEMO_BUF_COUNT,
};

/* Packets: 60..1514 bytes, a 16-byte header then a pattern. */
#define PKT_MIN_LEN		60
#define PKT_MAX_LEN		1514
#define PKT_MAGIC_TO_GUEST	0x47545350u	/* "PSTG" */
#define PKT_MAGIC_TO_VSWITCH	0x56545350u	/* "PSTV" */

#define BATCH			32
#define MSG_TIMEOUT_MS		(600 * 1000)	/* TCG is slow */
#define STALL_TIMEOUT_NS	(120ull * 1000000000ull)
#define REVOKE_TIMEOUT_NS	(900ull * 1000000000ull)

#define SYSFS_PORTS		"/sys/kernel/svhost/ports"

struct pkt_hdr {
	uint64_t seq;
	uint32_t len;
	uint32_t magic;
};

/* ------------------------------------------------------------------------
 * Options and common helpers
 */

static struct {
	const char *port;
	const char *ctl;
	uint64_t packets;
	uid_t copier_uid;
	gid_t copier_gid;
} opt = {
	.port = "demo0",
	.packets = 100000,
	.copier_uid = 4242,
	.copier_gid = 4242,
};

static const char *role = "owner";
static int failures;

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

/* A raw mmap of the broker's file that must be refused. */
static void expect_mmap_err(const char *what, int fd, size_t len, int prot,
			    off_t off, int want)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, off);
	int rc = p == MAP_FAILED ? -errno : 0;

	if (p != MAP_FAILED)
		munmap(p, len);
	expect_err(what, rc, want);
}

/* An attachment that must be refused (libsvhost opens a fresh file). */
static void expect_attach_err(const char *what, const char *name, int pkey,
			      int want)
{
	struct svh_port p;
	int rc = svh_port_attach(&p, name, pkey);

	if (rc == 0)
		svh_port_close(&p);
	expect_err(what, rc, want);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Line messages over pipes and FIFOs (short lines: one atomic write). */
static int send_line(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int send_line(int fd, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return dprintf(fd, "%s\n", buf) < 0 ? -1 : 0;
}

/* Read one line (without '\n'); returns 0, or -1 on EOF/error/timeout. */
static int recv_line(int fd, char *buf, size_t size, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	char c;

	while (now_ns() < deadline) {
		int r = poll(&pfd, 1, 1000);

		if (r == 0 || (r < 0 && errno == EINTR))
			continue;
		if (r < 0 || read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n') {
			buf[n] = '\0';
			return 0;
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
	return -1;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------------
 * Packets
 */

static uint32_t pkt_len(uint64_t seq)
{
	return PKT_MIN_LEN +
		(uint32_t)((seq * 2654435761ull) % (PKT_MAX_LEN - PKT_MIN_LEN + 1));
}

/* Fill buf (at least len rounded up to 8 bytes) with packet seq. */
static void pkt_fill(uint8_t *buf, uint64_t seq, uint32_t len, uint32_t magic)
{
	struct pkt_hdr h = { .seq = seq, .len = len, .magic = magic };
	uint64_t x = seq * 0x9E3779B97F4A7C15ull ^ magic;

	memcpy(buf, &h, sizeof(h));
	for (uint32_t off = sizeof(h), j = 0; off < len; off += 8, j++) {
		uint64_t v = x ^ ((uint64_t)j * 0xC2B2AE3D27D4EB4Full);

		memcpy(buf + off, &v, 8);
	}
}

/* Check a received packet against its expected sequence number. */
static bool pkt_check(const char *dir, const uint8_t *buf, uint32_t len,
		      uint64_t seq, uint32_t magic)
{
	static _Thread_local uint8_t want[PKT_MAX_LEN + 8];
	struct pkt_hdr h;

	if (len != pkt_len(seq)) {
		fail("%s: seq %" PRIu64 ": len %u, expected %u", dir, seq, len,
		     pkt_len(seq));
		return false;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.seq != seq || h.len != len || h.magic != magic) {
		fail("%s: seq %" PRIu64 ": header says seq %" PRIu64
		     " len %u magic %08x", dir, seq, h.seq, h.len, h.magic);
		return false;
	}
	pkt_fill(want, seq, len, magic);
	if (memcmp(buf, want, len)) {
		fail("%s: seq %" PRIu64 ": payload corrupted", dir, seq);
		return false;
	}
	return true;
}

/* Packets left after done of opt.packets, at most BATCH. */
static uint32_t batch_left(uint64_t done)
{
	return opt.packets - done < BATCH ? (uint32_t)(opt.packets - done) : BATCH;
}

static void print_rate(const char *what, uint64_t pkts, uint64_t bytes,
		       uint64_t ns)
{
	double s = ns ? (double)ns / 1e9 : 1e-9;

	say("%-32s %8" PRIu64 " pkts %10" PRIu64 " bytes in %.2f s: "
	    "%.3f Mpps, %.1f MB/s", what, pkts, bytes, s,
	    (double)pkts / s / 1e6, (double)bytes / s / 1e6);
}

/* A ring that libsvhost refused (bad peer index): say why. */
static bool ring_broken(const char *dir, const struct svh_ring *r)
{
	if (r->broken)
		fail("%s: libsvhost marked the ring broken (%s)", dir,
		     svh_ring_err_name(r->broken_reason));
	return r->broken;
}

/* ------------------------------------------------------------------------
 * Port header
 */

static const char *state_name(uint32_t s)
{
	static const char *const names[] = {
		[SVHOST_STATE_READY] = "READY", [SVHOST_STATE_ATTACHED] = "ATTACHED",
		[SVHOST_STATE_REVOKED] = "REVOKED",
		[SVHOST_STATE_OWNER_GONE] = "OWNER_GONE",
	};

	return s < sizeof(names) / sizeof(names[0]) && names[s] ? names[s] : "?";
}

static const char *reason_name(uint32_t r)
{
	static const char *const names[] = {
		[SVHOST_REASON_NONE] = "NONE", [SVHOST_REASON_ADMIN] = "ADMIN",
		[SVHOST_REASON_ACL] = "ACL",
	};

	return r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

#define HDR(p, field)	svh_load_acquire(&(p)->hdr->field)

/*
 * libsvhost checked the layout's consistency and the header's magic and
 * version; check the demo's geometry, the header's copy of the layout and
 * the port state.
 */
static int check_port(const struct svh_port *p, uint32_t want_state)
{
	const struct svhost_layout *l = &p->layout;

	if (l->queue_pairs != demo_geom.queue_pairs ||
	    l->ring_size != demo_geom.ring_size ||
	    l->buf_size != demo_geom.buf_size ||
	    l->buf_count != demo_geom.buf_count) {
		fail("layout geometry %u/%u/%u/%u differs from the request",
		     l->queue_pairs, l->ring_size, l->buf_size, l->buf_count);
		return -1;
	}
	if (memcmp(&p->hdr->layout, l, sizeof(*l))) {
		fail("header layout differs from the ioctl's");
		return -1;
	}
	if (HDR(p, state) != want_state) {
		fail("header state %s, expected %s", state_name(HDR(p, state)),
		     state_name(want_state));
		return -1;
	}
	pass("mapped header (ro) at %p, rings at %p, pool at %p; header state "
	     "%s, generation %u", (const void *)p->hdr, (void *)p->rings,
	     (void *)p->pool, state_name(want_state), HDR(p, generation));
	return 0;
}

static int ring_open(struct svh_ring *r, const struct svh_port *p,
		     unsigned int dir, enum svh_ring_role ring_role)
{
	const struct svhost_layout *l = &p->layout;
	int rc = svh_ring_init(r, svh_port_ring(p, 0, dir), ring_role,
			       l->ring_size, p->pool, l->buf_size, l->buf_count,
			       ring_role == SVH_RING_PRODUCER);

	if (rc)
		fail("svh_ring_init(%s): %s", dir == SVHOST_RING_TO_GUEST ?
		     "TO_GUEST" : "TO_VSWITCH", strerror(-rc));
	return rc;
}

static unsigned int pkru_bits(int pkey)
{
	return (svh_rdpkru() >> (2 * pkey)) & 3;
}

/* ------------------------------------------------------------------------
 * Copier process (QEMU's role)
 */

static int c2p = -1, p2c = -1;		/* pipes copier->owner, owner->copier */
/* The PD thread's attachment (as left by svh_port_close). */
static struct svh_port cport = { .fd = -1, .ctl_memfd = -1, .pool_memfd = -1,
				 .pkey = -1 };
static int cpkey = -1;

/*
 * Fault capture for the probe and the revocation, per thread.  fault_jmp is
 * volatile so that the compiler keeps the store before the faulting access
 * (otherwise "set, access, clear" is a dead store to it).
 */
static _Thread_local sigjmp_buf *volatile fault_jmp;
static _Thread_local volatile int fault_sig, fault_code, fault_pkey;
static _Thread_local void *volatile fault_addr;

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *j = fault_jmp;

	(void)uc;
	if (!j) {
		/* Unexpected fault: restore the default action and re-fault. */
		signal(sig, SIG_DFL);
		return;
	}
	fault_sig = sig;
	fault_code = si->si_code;
	fault_addr = si->si_addr;
	fault_pkey = (sig == SIGSEGV && si->si_code == SEGV_PKUERR) ?
		(int)si->si_pkey : -1;
	fault_jmp = NULL;
	siglongjmp(*j, 1);
}

/* Read one byte; returns the signal it raised (0 if none). */
static int touch(const volatile uint8_t *b)
{
	sigjmp_buf jb;

	fault_sig = 0;
	if (sigsetjmp(jb, 1) == 0) {
		fault_jmp = &jb;
		(void)*b;
		fault_jmp = NULL;
	}
	return fault_sig;
}

/*
 * The vCPU thread: a non-PD thread of the copier process.  It is created by
 * the main thread, so it has the default PKRU (no access to the key).
 */
static sem_t probe_go, probe_done;
static struct {
	volatile uint8_t *target;	/* NULL: nothing to probe, exit */
	int sig, code, pkey;
	unsigned int rights;
	void *addr;
} probe;

static void *vcpu_thread(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "svdemo-vcpu0");
	while (sem_wait(&probe_go) && errno == EINTR)
		;
	if (probe.target) {
		probe.rights = pkru_bits(cpkey);
		probe.sig = touch(probe.target);	/* must fault */
		probe.code = fault_code;
		probe.pkey = fault_pkey;
		probe.addr = fault_addr;
	}
	sem_post(&probe_done);
	return NULL;
}

static void run_probe(volatile uint8_t *target)
{
	probe.target = target;
	sem_post(&probe_go);
	while (sem_wait(&probe_done) && errno == EINTR)
		;
}

/* Copier side of the data path: consume TO_GUEST, fill TO_VSWITCH. */
static int copier_datapath(struct svh_ring *tg, struct svh_ring *tv)
{
	uint64_t tg_seq = 0, tv_seq = 0, tg_bytes = 0, tv_bytes = 0;
	uint64_t t0 = now_ns(), last_progress = t0, t_tg = 0, t_tv = 0;
	/* Private "guest memory": RX buffers and a TX packet being built. */
	static uint8_t guest_rx[BATCH][DEMO_BUF_SIZE];
	static uint8_t guest_tx[DEMO_BUF_SIZE];
	svh_desc_t d[BATCH];
	uint8_t ok[BATCH];

	while (tg_seq < opt.packets || tv_seq < opt.packets) {
		uint32_t n, m;

		/* TO_GUEST: copy each posted packet into guest memory. */
		n = svh_ring_cons_peek(tg, d, ok, BATCH);
		for (uint32_t i = 0; i < n; i++) {
			if (!ok[i] || d[i].len < sizeof(struct pkt_hdr) ||
			    (d[i].flags & SVHOST_DESC_F_NEXT)) {
				fail("TO_GUEST: bad descriptor offset 0x%" PRIx64
				     " len %u flags %#x", (uint64_t)d[i].offset,
				     d[i].len, d[i].flags);
				return -1;
			}
			memcpy(guest_rx[i], svh_ring_buf(tg, d[i].offset),
			       d[i].len);			/* the copy */
			if (!pkt_check("TO_GUEST", guest_rx[i], d[i].len,
				       tg_seq, PKT_MAGIC_TO_GUEST))
				return -1;
			tg_seq++;
			tg_bytes += d[i].len;
		}
		svh_ring_cons_complete(tg, n);
		if (n && tg_seq == opt.packets)
			t_tg = now_ns() - t0;

		/* TO_VSWITCH: fill each posted empty buffer with a packet. */
		m = svh_ring_cons_peek(tv, d, ok, batch_left(tv_seq));
		for (uint32_t i = 0; i < m; i++) {
			svh_desc_t res = { .offset = d[i].offset };
			uint32_t len = pkt_len(tv_seq);

			if (!ok[i] || d[i].len < len) {
				fail("TO_VSWITCH: bad descriptor offset 0x%" PRIx64
				     " capacity %u (packet %u)",
				     (uint64_t)d[i].offset, d[i].len, len);
				return -1;
			}
			pkt_fill(guest_tx, tv_seq, len, PKT_MAGIC_TO_VSWITCH);
			memcpy(svh_ring_buf(tv, d[i].offset), guest_tx,
			       len);				/* the copy */
			res.len = len;
			svh_ring_cons_fill(tv, i, &res);
			tv_seq++;
			tv_bytes += len;
		}
		svh_ring_cons_complete(tv, m);
		if (m && tv_seq == opt.packets)
			t_tv = now_ns() - t0;

		if (ring_broken("TO_GUEST", tg) || ring_broken("TO_VSWITCH", tv))
			return -1;
		if (n || m) {
			last_progress = now_ns();
		} else if (now_ns() - last_progress > STALL_TIMEOUT_NS) {
			fail("no progress for %llu s (to_guest %" PRIu64
			     ", to_vswitch %" PRIu64 ")",
			     STALL_TIMEOUT_NS / 1000000000ull, tg_seq, tv_seq);
			return -1;
		} else {
			sched_yield();
		}
	}
	print_rate("TO_GUEST   (pool -> guest)", tg_seq, tg_bytes, t_tg);
	print_rate("TO_VSWITCH (guest -> pool)", tv_seq, tv_bytes, t_tv);
	pass("%" PRIu64 " packets each way copied and verified (seq, length, "
	     "payload)", opt.packets);
	return 0;
}

/* After attaching: the refusals the broker owes us on the new mappings. */
static void copier_mapping_checks(void)
{
	const struct svhost_layout *l = &cport.layout;

	/* The header can never be mapped writable. */
	expect_mmap_err("mmap of the header with PROT_WRITE", cport.fd,
			l->header_size, PROT_READ | PROT_WRITE,
			(off_t)l->header_offset, EPERM);
	/*
	 * The kernel tagged rings and pool with our key: re-keying is refused
	 * by the driver's mprotect hook (EPERM); PROT_EXEC by the core,
	 * because the driver cleared VM_MAYEXEC (EACCES).
	 */
	expect_err("pkey_mprotect(pool, key 0)",
		   pkey_mprotect(cport.pool, l->pool_size,
				 PROT_READ | PROT_WRITE, 0) ? -errno : 0, EPERM);
	expect_err("mprotect(pool, +PROT_EXEC)",
		   mprotect(cport.pool, l->pool_size,
			    PROT_READ | PROT_WRITE | PROT_EXEC) ? -errno : 0,
		   EACCES);
}

/* Idle-poll the rings like a PD thread with nothing to do, until revoked. */
static void copier_revocation(struct svh_ring *tg)
{
	const struct svhost_layout *l = &cport.layout;
	uint64_t t0 = now_ns();
	uint32_t st, rs, gen;
	struct svh_port fresh;
	char line[64];
	sigjmp_buf jb;
	int rc;

	send_line(c2p, "IDLE");
	say("PD thread idle-polling the rings; waiting for revocation");
	if (sigsetjmp(jb, 1) == 0) {
		fault_jmp = &jb;
		while (now_ns() - t0 < REVOKE_TIMEOUT_NS) {
			(void)svh_ring_cons_avail(tg);
			(void)*(volatile uint8_t *)cport.pool;
			usleep(2000);
		}
		fault_jmp = NULL;
		fail("no SIGBUS after %llu s: not revoked?",
		     REVOKE_TIMEOUT_NS / 1000000000ull);
		return;
	}
	/*
	 * The handler ran with the kernel's default PKRU and siglongjmp()
	 * does not restore ours: re-enable the key.
	 */
	svh_pkey_set_thread(cpkey, true);
	st = HDR(&cport, state);
	rs = HDR(&cport, reason);
	gen = HDR(&cport, generation);
	say("PD thread caught %s (si_code %d) at %p; header: state %s, "
	    "reason %s, generation %u",
	    fault_sig == SIGBUS ? "SIGBUS" : "another signal", fault_code,
	    fault_addr, state_name(st), reason_name(rs), gen);
	if (fault_sig == SIGBUS && st == SVHOST_STATE_REVOKED &&
	    rs == SVHOST_REASON_ADMIN)
		pass("revocation seen: SIGBUS, header REVOKED/ADMIN");
	else
		fail("expected SIGBUS and REVOKED/ADMIN");

	/* The whole pool is gone, not just the page we touched. */
	rc = touch(cport.pool + l->pool_size - 1);
	svh_pkey_set_thread(cpkey, true);
	if (rc == SIGBUS)
		pass("last pool byte: SIGBUS too");
	else
		fail("last pool byte: signal %d code %d after revocation", rc,
		     fault_code);

	/* The revoked file maps nothing any more. */
	expect_mmap_err("new pool mmap through the revoked file", cport.fd,
			l->pool_size, PROT_READ | PROT_WRITE,
			(off_t)l->pool_offset, EACCES);
	send_line(c2p, "REVOKED sig=%d state=%u reason=%u gen=%u", fault_sig,
		  st, rs, gen);

	/* The port takes a new attachment on a fresh file. */
	if (recv_line(p2c, line, sizeof(line), MSG_TIMEOUT_MS) ||
	    strcmp(line, "REATTACH")) {
		fail("owner did not ask for the re-attachment");
		return;
	}
	rc = svh_port_attach(&fresh, opt.port, cpkey);
	if (rc) {
		fail("re-attach on a fresh file: %s", strerror(-rc));
		return;
	}
	if (HDR(&fresh, state) != SVHOST_STATE_ATTACHED ||
	    HDR(&fresh, generation) <= gen)
		fail("re-attach: header state %s generation %u",
		     state_name(HDR(&fresh, state)), HDR(&fresh, generation));
	else
		pass("re-attached on a fresh file: header ATTACHED, "
		     "generation %u", HDR(&fresh, generation));
	svh_port_close(&fresh);
}

/*
 * The PD (copy) thread: allocate a key, attach, map, enable the key in this
 * thread only, move packets, then idle-poll until revoked.
 */
static void *pd_thread(void *arg)
{
	struct svh_ring tg = { 0 }, tv = { 0 };
	struct svhost_version ver;
	uint32_t pkru_before;
	long tid = syscall(SYS_gettid);
	char line[128];
	int rc;

	(void)arg;
	prctl(PR_SET_NAME, "svdemo-pd");
	rc = svh_broker_version(&ver);
	if (rc) {
		fail("open %s / GET_VERSION as uid %d: %s", SVH_DEV_PATH,
		     (int)getuid(), strerror(-rc));
		goto out;
	}

	/* pkey_alloc() sets this thread's rights for the key: none at all. */
	cpkey = svh_pkey_alloc();
	if (cpkey < 0) {
		fail("pkey_alloc: %s (the CPU/kernel needs protection keys)",
		     strerror(-cpkey));
		goto out;
	}
	say("PD thread tid %ld: pkey_alloc(PKEY_DISABLE_ACCESS) = %d", tid, cpkey);

	/* Before the administrator grants our uid: refused. */
	rc = svh_port_attach(&cport, opt.port, cpkey);
	if (getuid() != 0)
		expect_err("attach before grant", rc, EPERM);
	if (rc == 0) {
		svh_port_close(&cport);
		if (getuid() == 0) {
			/* root is admitted by the default ACL: nothing to show */
			fail("running the copier as root: cannot show the ACL");
			goto out;
		}
	}
	send_line(c2p, "DENIED");
	if (recv_line(p2c, line, sizeof(line), MSG_TIMEOUT_MS) ||
	    strcmp(line, "GRANTED")) {
		fail("owner did not confirm the grant");
		goto out;
	}

	/* Malformed attachments, now that the ACL admits us. */
	if (ver.features & SVHOST_FEATURE_PKEY_REQUIRED)
		expect_attach_err("attach with pkey -1 while require_pkey=Y",
				  opt.port, -1, EINVAL);
	expect_attach_err("attach with a pkey not allocated in this process",
			  opt.port, cpkey == 15 ? 14 : 15, ENOKEY);
	expect_attach_err("attach to a port that does not exist",
			  "no-such-port", cpkey, ENOENT);

	rc = svh_port_attach(&cport, opt.port, cpkey);
	if (rc) {
		fail("attach: %s", strerror(-rc));
		goto out;
	}
	pass("svh_port_attach(%s, pkey %d) as uid %d: attached and mapped",
	     opt.port, cpkey, (int)geteuid());
	if (check_port(&cport, SVHOST_STATE_ATTACHED))
		goto out;
	copier_mapping_checks();

	/* WRPKRU: give this thread, and only this thread, access to the key. */
	pkru_before = svh_rdpkru();
	rc = svh_pkey_set_thread(cpkey, true);
	if (rc) {
		fail("svh_pkey_set_thread: %s", strerror(-rc));
		goto out;
	}
	say("PD thread PKRU %#010x -> %#010x (WRPKRU): rights for key %d %u -> %u",
	    pkru_before, svh_rdpkru(), cpkey, (pkru_before >> (2 * cpkey)) & 3,
	    pkru_bits(cpkey));

	if (ring_open(&tg, &cport, SVHOST_RING_TO_GUEST, SVH_RING_CONSUMER) ||
	    ring_open(&tv, &cport, SVHOST_RING_TO_VSWITCH, SVH_RING_CONSUMER))
		goto out;
	send_line(c2p, "ATTACHED pid=%d tid=%ld uid=%d pkey=%d gen=%u",
		  (int)getpid(), tid, (int)geteuid(), cpkey,
		  HDR(&cport, generation));

	if (copier_datapath(&tg, &tv))
		goto out;
	send_line(c2p, "DATAPATH_OK");

	/* A non-PD thread of this process touches the pool. */
	run_probe(cport.pool + 4096);
	say("vcpu thread: PKRU rights for key %d = %u, read of pool+4096 -> %s "
	    "si_code %d si_pkey %d addr %p", cpkey, probe.rights,
	    probe.sig == SIGSEGV ? "SIGSEGV" : probe.sig ? "other signal" :
	    "no fault", probe.code, probe.pkey, probe.addr);
	if (probe.sig == SIGSEGV && probe.code == SEGV_PKUERR &&
	    probe.pkey == cpkey && probe.addr == (void *)(cport.pool + 4096))
		pass("non-PD thread faulted with SIGSEGV/SEGV_PKUERR on key %d",
		     cpkey);
	else
		fail("non-PD thread was not stopped by its PKRU");
	/* The PD thread itself still reads and writes the pool. */
	((volatile uint8_t *)cport.pool)[4096] = 0xA5;
	if (((volatile uint8_t *)cport.pool)[4096] == 0xA5)
		pass("PD thread reads and writes the same byte");
	else
		fail("PD thread could not write the pool");

	copier_revocation(&tg);
out:
	if (!probe.target)
		run_probe(NULL);	/* let the vcpu thread go */
	svh_ring_fini(&tg);
	svh_ring_fini(&tv);
	svh_port_close(&cport);
	send_line(c2p, failures ? "BYE fail" : "BYE ok");
	return NULL;
}

static int copier_main(void *owner_pool, size_t owner_pool_size)
{
	struct sigaction sa = { .sa_sigaction = fault_handler,
				.sa_flags = SA_SIGINFO };
	struct svh_port_params pp = demo_geom;
	struct svh_port tmp;
	pthread_t vcpu, pd;
	unsigned char vec;
	int rc;

	role = "copier";
	prctl(PR_SET_NAME, "svdemo-qemu");

	/* fork() did not give us the owner's pool (VM_DONTCOPY). */
	if (mincore(owner_pool, owner_pool_size < 4096 ? owner_pool_size : 4096,
		    &vec) == 0)
		fail("the owner's pool mapping was inherited by fork()");
	else if (errno == ENOMEM)
		pass("fork() did not inherit the owner's pool mapping");
	else
		fail("mincore: %s", strerror(errno));

	if (opt.copier_uid != 0) {
		if (setgroups(0, NULL) || setgid(opt.copier_gid) ||
		    setuid(opt.copier_uid)) {
			fail("dropping privileges to uid %u: %s",
			     (unsigned int)opt.copier_uid, strerror(errno));
			send_line(c2p, "BYE fail");
			return 1;
		}
		say("running as uid %d gid %d, no supplementary groups",
		    (int)getuid(), (int)getgid());
		pp.buf_count = 1;
		rc = svh_port_create(&tmp, "copier-port", &pp);
		if (rc == 0)
			svh_port_close(&tmp);
		expect_err("PORT_CREATE without CAP_NET_ADMIN", rc, EPERM);
	}

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sem_init(&probe_go, 0, 0);
	sem_init(&probe_done, 0, 0);

	/* Created here, not by the PD thread: it keeps the default PKRU. */
	if (pthread_create(&vcpu, NULL, vcpu_thread, NULL) ||
	    pthread_create(&pd, NULL, pd_thread, NULL)) {
		fail("pthread_create");
		return 1;
	}
	pthread_join(pd, NULL);
	pthread_join(vcpu, NULL);
	say("copier exits (%s)", failures ? "with failures" : "all checks passed");
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

	if (!opt.ctl)
		return 0;
	say("pausing for the administrator (%s)", tag);
	if (send_line(status_fd, "PAUSE %s %s", tag, info)) {
		fail("cannot write the status FIFO");
		return -1;
	}
	if (recv_line(cmd_fd, line, sizeof(line), MSG_TIMEOUT_MS)) {
		fail("no answer on the command FIFO");
		return -1;
	}
	if (strcmp(line, "continue")) {
		fail("administrator said '%s'", line);
		return -1;
	}
	return 0;
}

/* Without --ctl: write a port's sysfs attribute ourselves. */
static int admin_write(const char *attr, const char *val)
{
	char path[256];
	int rc;

	snprintf(path, sizeof(path), SYSFS_PORTS "/%s/%s", opt.port, attr);
	rc = write_file(path, val);
	if (rc)
		fail("write %s: %s", path, strerror(-rc));
	else
		say("wrote '%.*s' to %s", (int)strcspn(val, "\n"), val, path);
	return rc;
}

static int expect_msg(const char *prefix, char *line, size_t size)
{
	if (recv_line(c2p, line, size, MSG_TIMEOUT_MS)) {
		fail("copier went away or timed out waiting for %s", prefix);
		return -1;
	}
	if (strncmp(line, prefix, strlen(prefix))) {
		fail("copier said '%s', expected %s", line, prefix);
		return -1;
	}
	return 0;
}

/*
 * Post up to batch_left(*count) buffers from the free list: packets for
 * TO_GUEST (bytes != NULL), empty buffers for TO_VSWITCH.  0 or -1.
 */
static int owner_post(struct svh_ring *r, uint64_t *free_bufs, uint32_t *nfree,
		      uint64_t *count, uint64_t *bytes)
{
	svh_desc_t d[BATCH];
	uint32_t n = svh_ring_prod_free(r), posted;

	if (n > batch_left(*count))
		n = batch_left(*count);
	if (n > *nfree)
		n = *nfree;
	for (uint32_t i = 0; i < n; i++) {
		d[i] = (svh_desc_t){ .offset = free_bufs[--*nfree],
				     .len = r->buf_size };
		if (bytes) {
			d[i].len = pkt_len(*count + i);
			pkt_fill(svh_ring_buf(r, d[i].offset), *count + i,
				 d[i].len, PKT_MAGIC_TO_GUEST);
			*bytes += d[i].len;
		}
	}
	posted = svh_ring_prod_post(r, d, n);
	*count += posted;
	if (posted == n)
		return 0;
	fail("svh_ring_prod_post took %u of %u descriptors", posted, n);
	return -1;
}

static int owner_datapath(struct svh_port *m)
{
	static uint64_t free_bufs[DEMO_BUF_COUNT];
	struct svh_ring tg, tv;
	uint32_t nfree = 0, buf_count = m->layout.buf_count;
	uint64_t tg_sent = 0, tg_done = 0, tv_posted = 0, tv_recv = 0;
	uint64_t tg_bytes = 0, tv_bytes = 0;
	uint64_t t0 = now_ns(), last_progress = t0, t_tg = 0, t_tv = 0;
	svh_desc_t d[BATCH];
	uint8_t ok[BATCH];
	int rc = -1;

	if (ring_open(&tg, m, SVHOST_RING_TO_GUEST, SVH_RING_PRODUCER))
		return -1;
	if (ring_open(&tv, m, SVHOST_RING_TO_VSWITCH, SVH_RING_PRODUCER)) {
		svh_ring_fini(&tg);
		return -1;
	}
	for (uint32_t i = 0; i < buf_count; i++)
		free_bufs[nfree++] = (uint64_t)(buf_count - 1 - i) * m->layout.buf_size;

	while (tg_done < opt.packets || tv_recv < opt.packets) {
		uint64_t posted_before = tg_sent + tv_posted;
		uint32_t n, reaped = 0;

		/* TO_GUEST: reclaim completed buffers, post filled ones. */
		n = svh_ring_prod_reap(&tg, d, ok, BATCH);
		for (uint32_t i = 0; i < n; i++) {
			if (!ok[i]) {
				fail("TO_GUEST: copier completed a slot with "
				     "len %u flags %#x", d[i].len, d[i].flags);
				goto out;
			}
			free_bufs[nfree++] = d[i].offset;
		}
		tg_done += n;
		if (n && tg_done == opt.packets)
			t_tg = now_ns() - t0;
		reaped += n;
		if (owner_post(&tg, free_bufs, &nfree, &tg_sent, &tg_bytes))
			goto out;

		/* TO_VSWITCH: harvest packets the copier wrote, post empties. */
		n = svh_ring_prod_reap(&tv, d, ok, BATCH);
		for (uint32_t i = 0; i < n; i++) {
			/* libsvhost read len/flags back once; offset is ours. */
			if (!ok[i] || (d[i].flags & SVHOST_DESC_F_NEXT) ||
			    d[i].len < sizeof(struct pkt_hdr)) {
				fail("TO_VSWITCH: copier returned len %u flags "
				     "%#x", d[i].len, d[i].flags);
				goto out;
			}
			if (!pkt_check("TO_VSWITCH", svh_ring_buf(&tv, d[i].offset),
				       d[i].len, tv_recv, PKT_MAGIC_TO_VSWITCH))
				goto out;
			free_bufs[nfree++] = d[i].offset;
			tv_bytes += d[i].len;
			tv_recv++;
		}
		if (n && tv_recv == opt.packets)
			t_tv = now_ns() - t0;
		reaped += n;
		if (owner_post(&tv, free_bufs, &nfree, &tv_posted, NULL))
			goto out;

		if (ring_broken("TO_GUEST", &tg) || ring_broken("TO_VSWITCH", &tv))
			goto out;
		if (reaped || tg_sent + tv_posted != posted_before) {
			last_progress = now_ns();
		} else {
			uint64_t idle = now_ns() - last_progress;
			struct pollfd pfd = { .fd = c2p, .events = POLLIN };

			/*
			 * The copier says nothing until it is done; if it
			 * spoke (or died) and we still wait, it gave up.
			 */
			if (idle > 5000000000ull && poll(&pfd, 1, 0) > 0) {
				fail("copier stopped during the data path");
				goto out;
			}
			if (idle > STALL_TIMEOUT_NS) {
				fail("no progress for %llu s (to_guest %" PRIu64
				     " done, to_vswitch %" PRIu64 " received)",
				     STALL_TIMEOUT_NS / 1000000000ull, tg_done,
				     tv_recv);
				goto out;
			}
			sched_yield();
		}
	}
	if (nfree != buf_count) {
		fail("%u of %u buffers came back", nfree, buf_count);
		goto out;
	}
	print_rate("TO_GUEST   (posted, completed)", tg_done, tg_bytes, t_tg);
	print_rate("TO_VSWITCH (received, checked)", tv_recv, tv_bytes, t_tv);
	pass("%" PRIu64 " packets each way, all %u buffers back", opt.packets,
	     buf_count);
	rc = 0;
out:
	svh_ring_fini(&tg);
	svh_ring_fini(&tv);
	return rc;
}

static int owner_main(void)
{
	struct svhost_version ver;
	struct svh_port m;
	const struct svhost_layout *l = &m.layout;
	char line[256], info[256];
	int rc, pc2p[2], pp2c[2], status;

	rc = svh_broker_version(&ver);
	if (rc) {
		fail("open %s / SVHOST_GET_VERSION: %s (is svhost.ko loaded?)",
		     SVH_DEV_PATH, strerror(-rc));
		return 1;
	}
	say("%s: API version %u, features %#x [%s%s%s], max %u queue pairs, "
	    "max ring %u, max pool per port %" PRIu64 " MiB", SVH_DEV_PATH,
	    ver.api_version, ver.features,
	    ver.features & SVHOST_FEATURE_PKEY ? "PKEY" : "",
	    ver.features & SVHOST_FEATURE_PKEY_REQUIRED ? " PKEY_REQUIRED" : "",
	    ver.features & ~(SVHOST_FEATURE_PKEY | SVHOST_FEATURE_PKEY_REQUIRED) ?
	    " +unknown" : "", ver.max_queue_pairs, ver.max_ring_size,
	    (uint64_t)ver.max_port_pool_bytes >> 20);
	if (ver.api_version != SVHOST_API_VERSION) {
		fail("API version %u, this demo speaks %u", ver.api_version,
		     SVHOST_API_VERSION);
		return 1;
	}
	if (ver.reserved[0] || ver.reserved[1])
		fail("svhost_version.reserved not zeroed");

	rc = svh_port_create(&m, opt.port, &demo_geom);
	if (rc) {
		fail("svh_port_create %s: %s (%s)", opt.port, strerror(-rc),
		     errname(-rc));
		return 1;
	}
	pass("created port %s", opt.port);
	say("layout: header 0x%" PRIx64 "+0x%" PRIx64 ", rings 0x%" PRIx64 "+0x%"
	    PRIx64 " (stride %u), pool 0x%" PRIx64 "+0x%" PRIx64,
	    (uint64_t)l->header_offset, (uint64_t)l->header_size,
	    (uint64_t)l->rings_offset, (uint64_t)l->rings_size, l->ring_stride,
	    (uint64_t)l->pool_offset, (uint64_t)l->pool_size);
	say("        %u queue pair(s), ring %u, %u buffers of %u bytes",
	    l->queue_pairs, l->ring_size, l->buf_count, l->buf_size);
	if (check_port(&m, SVHOST_STATE_READY))
		goto close;

	/* The copier: a separate process, like QEMU. */
	if (pipe2(pc2p, O_CLOEXEC) || pipe2(pp2c, O_CLOEXEC)) {
		fail("pipe: %s", strerror(errno));
		goto close;
	}
	fflush(stdout);
	copier_pid = fork();
	if (copier_pid < 0) {
		fail("fork: %s", strerror(errno));
		goto close;
	}
	if (copier_pid == 0) {
		/* Drop everything of the owner's: its file, the FIFOs. */
		close(m.fd);
		if (status_fd >= 0)
			close(status_fd);
		if (cmd_fd >= 0)
			close(cmd_fd);
		close(pc2p[0]);
		close(pp2c[1]);
		c2p = pc2p[1];
		p2c = pp2c[0];
		_exit(copier_main(m.pool, l->pool_size));
	}
	close(pc2p[1]);
	close(pp2c[0]);
	c2p = pc2p[0];
	p2c = pp2c[1];
	say("forked copier process pid %d (uid %u)", (int)copier_pid,
	    (unsigned int)opt.copier_uid);

	/* 1. ACL: the copier is refused until the administrator grants it. */
	if (expect_msg("DENIED", line, sizeof(line)))
		goto kill;
	snprintf(info, sizeof(info), "port=%s copier_pid=%d copier_uid=%u",
		 opt.port, (int)copier_pid, (unsigned int)opt.copier_uid);
	if (admin_pause("grant", info))
		goto kill;
	snprintf(info, sizeof(info), "0 %u\n", (unsigned int)opt.copier_uid);
	if (!opt.ctl && admin_write("allowed_uids", info))
		goto kill;
	send_line(p2c, "GRANTED");

	/* 2. Attach, then the data path. */
	if (expect_msg("ATTACHED", line, sizeof(line)))
		goto kill;
	say("copier attached: %s", line + 9);
	if (HDR(&m, state) == SVHOST_STATE_ATTACHED)
		pass("owner's header shows ATTACHED, generation %u",
		     HDR(&m, generation));
	else
		fail("owner's header shows %s", state_name(HDR(&m, state)));
	snprintf(info, sizeof(info), "%s", line + 9);

	if (owner_datapath(&m) || expect_msg("DATAPATH_OK", line, sizeof(line)))
		goto kill;

	/* 3. Attached and idle: the administrator inspects, then revokes. */
	if (expect_msg("IDLE", line, sizeof(line)) ||
	    admin_pause("attached", info))
		goto kill;
	if (!opt.ctl && admin_write("revoke", "1\n"))
		goto kill;
	if (expect_msg("REVOKED", line, sizeof(line)))
		goto kill;
	say("copier reports: %s", line);
	if (HDR(&m, state) == SVHOST_STATE_REVOKED &&
	    HDR(&m, reason) == SVHOST_REASON_ADMIN)
		pass("owner's header shows REVOKED/ADMIN too");
	else
		fail("owner's header shows %s/%s", state_name(HDR(&m, state)),
		     reason_name(HDR(&m, reason)));
	snprintf(info, sizeof(info), "port=%s", opt.port);
	if (admin_pause("revoked", info))
		goto kill;
	send_line(p2c, "REATTACH");

	/* 4. Teardown. */
	if (expect_msg("BYE", line, sizeof(line)))
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
	say("owner header after the copier left: state %s, reason %s, "
	    "generation %u", state_name(HDR(&m, state)),
	    reason_name(HDR(&m, reason)), HDR(&m, generation));
	svh_port_close(&m);
	say("owner unmapped and closed the port");
	return failures ? 1 : 0;

kill:
	if (copier_pid > 0) {
		kill(copier_pid, SIGKILL);
		waitpid(copier_pid, NULL, 0);
	}
close:
	svh_port_close(&m);
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: svhost-demo [--packets N] [--copier-uid UID] [--port NAME] [--ctl DIR]\n"
"\n"
"Run as root with svhost.ko loaded.  Creates a port (owner = vSwitch role),\n"
"forks a copier (QEMU role) that drops to UID (default 4242), attaches with\n"
"a protection key, and moves N packets (default 100000) each way with\n"
"integrity checks; then shows the PKU fault of a non-PD thread, revocation\n"
"(SIGBUS, header REVOKED) and a clean teardown.\n"
"\n"
"--ctl DIR  pause for the administrator: write \"PAUSE <tag> k=v...\" lines to\n"
"           the FIFO DIR/status and wait for \"continue\" on DIR/cmd (tags:\n"
"           grant, attached, revoked).  Without it the demo writes sysfs\n"
"           itself.\n"
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "n:u:p:c:h", lo, NULL)) != -1) {
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
	signal(SIGPIPE, SIG_IGN);

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
