// SPDX-License-Identifier: GPL-2.0
/*
 * svhost-demo: end-to-end demonstration of the svhost broker.
 *
 * Two processes, as in production:
 *
 *   owner  (this process; plays the vSwitch)  creates port "demo0" on
 *          /dev/svhost, maps header, rings and pool, and drives both rings:
 *          it posts filled buffers on TO_GUEST and empty buffers on
 *          TO_VSWITCH, and checks what comes back.
 *
 *   copier (a forked child that drops to an unprivileged uid; plays QEMU)
 *          runs a packet-delivery (PD) thread that allocates a protection
 *          key, attaches to the port with it, maps rings and pool (the
 *          kernel tags those mappings with the key), enables the key in
 *          its own PKRU only, and copies packets between the pool and its
 *          private "guest memory".  A second thread ("vcpu") shows that
 *          any other thread of the copier faults with SEGV_PKUERR.
 *
 * Administrative steps (grant, revoke) are done by an administrator with
 * svhostctl while the demo waits: pass --ctl DIR with two FIFOs, DIR/status
 * (the demo writes "PAUSE <tag> key=value..." lines) and DIR/cmd (the demo
 * reads "continue" or "abort").  Without --ctl the demo performs those steps
 * itself by writing sysfs.  tools/demo/run-demo.sh drives it.
 *
 * Nothing read from shared memory is trusted: ring indexes are checked
 * against the ring size, descriptors are read once into a private copy and
 * their offset and length validated against the pool before use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/svhost.h>

/* Port geometry of the demo. */
#define DEMO_QUEUE_PAIRS	1
#define DEMO_RING_SIZE		256
#define DEMO_BUF_SIZE		2048
#define DEMO_BUF_COUNT		1024

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
	const char *dev;
	const char *port;
	const char *ctl;
	uint64_t packets;
	uid_t copier_uid;
	gid_t copier_gid;
} opt = {
	.dev = "/dev/svhost",
	.port = "demo0",
	.packets = 100000,
	.copier_uid = 4242,
	.copier_gid = 4242,
};

static const char *role = "owner";
static int failures;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("[%s] %s\n", role, buf);
	fflush(stdout);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("[%s] FAIL: %s\n", role, buf);
	fflush(stdout);
	failures++;
}

static void pass(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void pass(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("[%s] ok: %s\n", role, buf);
	fflush(stdout);
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "success";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case E2BIG: return "E2BIG";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOKEY: return "ENOKEY";
	default: return "E?";
	}
}

/* Check that a call failed with the expected errno (ret < 0, errno set). */
static void expect_errno(const char *what, long ret, int err, int want)
{
	if (ret >= 0)
		fail("%s: succeeded, expected %s", what, errname(want));
	else if (err != want)
		fail("%s: got %s (%s), expected %s", what, errname(err),
		     strerror(err), errname(want));
	else
		pass("%s refused with %s", what, errname(want));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Line messages over pipes/FIFOs, with a timeout. */
static int send_line(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int send_line(int fd, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf) - 1)
		return -1;
	buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(fd, buf + off, (size_t)(n - off));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (int)w;
	}
	return 0;
}

/* Read one line (without '\n'); returns 0, or -1 on EOF/error/timeout. */
static int recv_line(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t t = now_ns();
		int r;
		ssize_t rd;
		char c;

		if (t >= deadline)
			return -1;
		r = poll(&pfd, 1, (int)((deadline - t) / 1000000ull) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		rd = read(fd, &c, 1);
		if (rd < 0 && errno == EINTR)
			continue;
		if (rd <= 0)
			return -1;
		if (c == '\n') {
			buf[n] = '\0';
			return 0;
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	return 0;
}

/* ------------------------------------------------------------------------
 * Shared-memory access: acquire/release indexes, single-fetch descriptors
 */

static inline uint32_t load_acquire(const __u32 *p)
{
	return atomic_load_explicit((const _Atomic uint32_t *)p,
				    memory_order_acquire);
}

static inline void store_release(__u32 *p, uint32_t v)
{
	atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_release);
}

/*
 * Copy a descriptor out of shared memory, reading each field exactly once
 * through a volatile pointer, so that the values checked are the values
 * used (no double fetch).
 */
static void desc_read(const struct svhost_desc *shared, struct svhost_desc *out)
{
	const volatile struct svhost_desc *d = shared;

	out->offset = d->offset;
	out->len = d->len;
	out->flags = d->flags;
	out->vnet_flags = d->vnet_flags;
	out->gso_type = d->gso_type;
	out->hdr_len = d->hdr_len;
	out->gso_size = d->gso_size;
	out->csum_start = d->csum_start;
	out->csum_offset = d->csum_offset;
	out->reserved = d->reserved;
}

static void desc_write(struct svhost_desc *shared, uint64_t offset,
		       uint32_t len)
{
	volatile struct svhost_desc *d = shared;

	d->offset = offset;
	d->len = len;
	d->flags = 0;
	d->vnet_flags = 0;
	d->gso_type = 0;
	d->hdr_len = 0;
	d->gso_size = 0;
	d->csum_start = 0;
	d->csum_offset = 0;
	d->reserved = 0;
}

struct port_map {
	struct svhost_layout lay;
	const struct svhost_shm_header *hdr;
	uint8_t *rings;
	uint8_t *pool;
};

static struct svhost_ring *ring_at(const struct port_map *m, unsigned int qp,
				   unsigned int dir)
{
	return (struct svhost_ring *)(m->rings +
				      (size_t)(2 * qp + dir) * m->lay.ring_stride);
}

/*
 * A descriptor's buffer: offset a multiple of buf_size naming one of the
 * buf_count buffers, len at most buf_size.  Returns the buffer index or -1.
 */
static long desc_check(const struct svhost_layout *l,
		       const struct svhost_desc *d)
{
	if (d->offset % l->buf_size)
		return -1;
	if (d->offset / l->buf_size >= l->buf_count)
		return -1;
	if (d->len > l->buf_size)
		return -1;
	if (d->flags & ~SVHOST_DESC_F_ALL)
		return -1;
	return (long)(d->offset / l->buf_size);
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
static bool pkt_check(const uint8_t *buf, uint32_t len, uint64_t seq,
		      uint32_t magic, uint8_t *scratch, char *why, size_t whylen)
{
	struct pkt_hdr h;

	if (len != pkt_len(seq)) {
		snprintf(why, whylen, "seq %" PRIu64 ": len %u, expected %u",
			 seq, len, pkt_len(seq));
		return false;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.seq != seq || h.len != len || h.magic != magic) {
		snprintf(why, whylen, "seq %" PRIu64 ": header says seq %" PRIu64
			 " len %u magic %08x", seq, h.seq, h.len, h.magic);
		return false;
	}
	pkt_fill(scratch, seq, len, magic);
	if (memcmp(buf, scratch, len)) {
		snprintf(why, whylen, "seq %" PRIu64 ": payload corrupted", seq);
		return false;
	}
	return true;
}

static void print_rate(const char *what, uint64_t pkts, uint64_t bytes,
		       uint64_t ns)
{
	double s = (double)ns / 1e9;

	if (s <= 0)
		s = 1e-9;
	say("%-32s %8" PRIu64 " pkts %10" PRIu64 " bytes in %.2f s: "
	    "%.3f Mpps, %.1f MB/s", what, pkts, bytes, s,
	    (double)pkts / s / 1e6, (double)bytes / s / 1e6);
}

/* ------------------------------------------------------------------------
 * Mapping and layout checks
 */

static bool layout_sane(const struct svhost_layout *l)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t ring_bytes = SVHOST_RING_HDR_SIZE +
		(uint64_t)l->ring_size * sizeof(struct svhost_desc);

	if (l->queue_pairs != DEMO_QUEUE_PAIRS || l->ring_size != DEMO_RING_SIZE ||
	    l->buf_size != DEMO_BUF_SIZE || l->buf_count != DEMO_BUF_COUNT) {
		fail("layout geometry %u/%u/%u/%u differs from the request",
		     l->queue_pairs, l->ring_size, l->buf_size, l->buf_count);
		return false;
	}
	if (l->header_offset != 0 || l->header_size != (uint64_t)page ||
	    l->rings_offset % page || l->pool_offset % page ||
	    l->rings_size % page || l->pool_size % SVHOST_POOL_CHUNK_SIZE ||
	    l->rings_offset < l->header_offset + l->header_size ||
	    l->pool_offset < l->rings_offset + l->rings_size ||
	    l->ring_stride < ring_bytes ||
	    l->rings_size < 2ull * l->queue_pairs * l->ring_stride ||
	    l->pool_size < (uint64_t)l->buf_size * l->buf_count) {
		fail("layout is inconsistent");
		return false;
	}
	return true;
}

static void print_layout(const struct svhost_layout *l)
{
	say("layout: header 0x%" PRIx64 "+0x%" PRIx64 ", rings 0x%" PRIx64 "+0x%"
	    PRIx64 " (stride %u), pool 0x%" PRIx64 "+0x%" PRIx64,
	    (uint64_t)l->header_offset, (uint64_t)l->header_size,
	    (uint64_t)l->rings_offset, (uint64_t)l->rings_size, l->ring_stride,
	    (uint64_t)l->pool_offset, (uint64_t)l->pool_size);
	say("        %u queue pair(s), ring %u, %u buffers of %u bytes",
	    l->queue_pairs, l->ring_size, l->buf_count, l->buf_size);
}

static const char *state_name(uint32_t s)
{
	switch (s) {
	case SVHOST_STATE_READY: return "READY";
	case SVHOST_STATE_ATTACHED: return "ATTACHED";
	case SVHOST_STATE_REVOKED: return "REVOKED";
	case SVHOST_STATE_OWNER_GONE: return "OWNER_GONE";
	default: return "?";
	}
}

static const char *reason_name(uint32_t r)
{
	switch (r) {
	case SVHOST_REASON_NONE: return "NONE";
	case SVHOST_REASON_ADMIN: return "ADMIN";
	case SVHOST_REASON_ACL: return "ACL";
	default: return "?";
	}
}

static uint32_t hdr_read(const __u32 *p)
{
	return load_acquire(p);
}

/* Map header (read-only), rings and pool; check the header. */
static int map_port(int fd, const struct svhost_layout *lay,
		    struct port_map *m, uint32_t want_state)
{
	void *p;

	memset(m, 0, sizeof(*m));
	m->lay = *lay;
	p = mmap(NULL, lay->header_size, PROT_READ, MAP_SHARED, fd,
		 (off_t)lay->header_offset);
	if (p == MAP_FAILED) {
		fail("mmap header: %s", strerror(errno));
		return -1;
	}
	m->hdr = p;
	p = mmap(NULL, lay->rings_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)lay->rings_offset);
	if (p == MAP_FAILED) {
		fail("mmap rings: %s", strerror(errno));
		return -1;
	}
	m->rings = p;
	p = mmap(NULL, lay->pool_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)lay->pool_offset);
	if (p == MAP_FAILED) {
		fail("mmap pool: %s", strerror(errno));
		return -1;
	}
	m->pool = p;

	if (m->hdr->magic != SVHOST_SHM_MAGIC ||
	    m->hdr->version != SVHOST_API_VERSION) {
		fail("header magic %08x version %u", m->hdr->magic,
		     m->hdr->version);
		return -1;
	}
	if (memcmp(&m->hdr->layout, lay, sizeof(*lay))) {
		fail("header layout differs from the ioctl's");
		return -1;
	}
	if (hdr_read(&m->hdr->state) != want_state) {
		fail("header state %s, expected %s",
		     state_name(hdr_read(&m->hdr->state)),
		     state_name(want_state));
		return -1;
	}
	pass("mapped header (ro) at %p, rings at %p, pool at %p; header state "
	     "%s, generation %u", (const void *)m->hdr, (void *)m->rings,
	     (void *)m->pool, state_name(want_state),
	     hdr_read(&m->hdr->generation));
	return 0;
}

static void unmap_port(struct port_map *m)
{
	if (m->pool)
		munmap(m->pool, m->lay.pool_size);
	if (m->rings)
		munmap(m->rings, m->lay.rings_size);
	if (m->hdr)
		munmap((void *)m->hdr, m->lay.header_size);
	m->pool = NULL;
	m->rings = NULL;
	m->hdr = NULL;
}

/* ------------------------------------------------------------------------
 * Copier process (QEMU's role)
 */

static int c2p = -1, p2c = -1;		/* pipes copier->owner, owner->copier */
static struct port_map cmap;		/* copier's mappings */
static int cfd = -1;			/* copier's /dev/svhost file */
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
	struct sigaction sa;

	(void)uc;
	if (!j) {
		/* Unexpected fault: restore the default action and re-fault. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(sig, &sa, NULL);
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

/* The vCPU thread: a non-PD thread of the copier process. */
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t probe_cond = PTHREAD_COND_INITIALIZER;
static enum { PROBE_IDLE, PROBE_ASK, PROBE_DONE, PROBE_EXIT } probe_state;
static volatile uint8_t *probe_target;
static int probe_sig, probe_code, probe_pkey;
static void *probe_addr;
static unsigned int probe_pkru;

static void *vcpu_thread(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "svdemo-vcpu0");
	pthread_mutex_lock(&probe_lock);
	for (;;) {
		while (probe_state != PROBE_ASK && probe_state != PROBE_EXIT)
			pthread_cond_wait(&probe_cond, &probe_lock);
		if (probe_state == PROBE_EXIT)
			break;
		pthread_mutex_unlock(&probe_lock);

		sigjmp_buf jb;
		volatile int sig = 0, code = 0, pkey = -1;
		void *volatile addr = NULL;

		probe_pkru = (unsigned int)pkey_get(cpkey);
		if (sigsetjmp(jb, 1) == 0) {
			fault_jmp = &jb;
			uint8_t v = *probe_target;	/* must fault */
			(void)v;
			fault_jmp = NULL;
		} else {
			sig = fault_sig;
			code = fault_code;
			pkey = fault_pkey;
			addr = fault_addr;
		}

		pthread_mutex_lock(&probe_lock);
		probe_sig = sig;
		probe_code = code;
		probe_pkey = pkey;
		probe_addr = addr;
		probe_state = PROBE_DONE;
		pthread_cond_broadcast(&probe_cond);
	}
	pthread_mutex_unlock(&probe_lock);
	return NULL;
}

static void run_probe(volatile uint8_t *target)
{
	pthread_mutex_lock(&probe_lock);
	probe_target = target;
	probe_state = PROBE_ASK;
	pthread_cond_broadcast(&probe_cond);
	while (probe_state != PROBE_DONE)
		pthread_cond_wait(&probe_cond, &probe_lock);
	probe_state = PROBE_IDLE;
	pthread_mutex_unlock(&probe_lock);
}

static int do_attach(int fd, const char *name, int pkey,
		     struct svhost_layout *lay)
{
	struct svhost_copier_attach a;

	memset(&a, 0, sizeof(a));
	a.pkey = pkey;
	snprintf(a.name, sizeof(a.name), "%s", name);
	if (ioctl(fd, SVHOST_COPIER_ATTACH, &a))
		return -errno;
	if (lay)
		*lay = a.layout;
	return 0;
}

/* Copier side of the data path: consume TO_GUEST, fill TO_VSWITCH. */
static int copier_datapath(void)
{
	const struct svhost_layout *l = &cmap.lay;
	struct svhost_ring *tg = ring_at(&cmap, 0, SVHOST_RING_TO_GUEST);
	struct svhost_ring *tv = ring_at(&cmap, 0, SVHOST_RING_TO_VSWITCH);
	const uint32_t mask = l->ring_size - 1;
	uint32_t tg_cons = load_acquire(&tg->cons);
	uint32_t tv_cons = load_acquire(&tv->cons);
	uint64_t tg_seq = 0, tv_seq = 0, tg_bytes = 0, tv_bytes = 0;
	uint64_t t0 = now_ns(), last_progress = t0, t_tg = 0, t_tv = 0;
	/* Private "guest memory": RX buffers and a TX packet being built. */
	static uint8_t guest_rx[DEMO_RING_SIZE][DEMO_BUF_SIZE];
	static uint8_t guest_tx[DEMO_BUF_SIZE];
	static uint8_t scratch[DEMO_BUF_SIZE];
	char why[160];

	while (tg_seq < opt.packets || tv_seq < opt.packets) {
		bool progress = false;
		uint32_t prod, n;

		/* TO_GUEST: copy each posted packet into guest memory. */
		prod = load_acquire(&tg->prod);
		n = prod - tg_cons;
		if (n > l->ring_size) {
			fail("TO_GUEST: producer index %u is %u ahead of %u "
			     "(ring %u): refusing the ring", prod, n, tg_cons,
			     l->ring_size);
			return -1;
		}
		if (n > BATCH)
			n = BATCH;
		for (uint32_t i = 0; i < n; i++) {
			struct svhost_desc d;
			uint8_t *g = guest_rx[(tg_cons + i) & mask];

			desc_read(&tg->desc[(tg_cons + i) & mask], &d);
			if (desc_check(l, &d) < 0 || d.len < sizeof(struct pkt_hdr) ||
			    (d.flags & SVHOST_DESC_F_NEXT)) {
				fail("TO_GUEST: bad descriptor offset 0x%" PRIx64
				     " len %u flags %#x", (uint64_t)d.offset,
				     d.len, d.flags);
				return -1;
			}
			memcpy(g, cmap.pool + d.offset, d.len);	/* the copy */
			if (!pkt_check(g, d.len, tg_seq, PKT_MAGIC_TO_GUEST,
				       scratch, why, sizeof(why))) {
				fail("TO_GUEST: %s", why);
				return -1;
			}
			tg_seq++;
			tg_bytes += d.len;
		}
		if (n) {
			tg_cons += n;
			store_release(&tg->cons, tg_cons);
			progress = true;
			if (tg_seq == opt.packets)
				t_tg = now_ns() - t0;
		}

		/* TO_VSWITCH: fill each posted empty buffer with a packet. */
		prod = load_acquire(&tv->prod);
		n = prod - tv_cons;
		if (n > l->ring_size) {
			fail("TO_VSWITCH: producer index %u is %u ahead of %u",
			     prod, n, tv_cons);
			return -1;
		}
		if (n > BATCH)
			n = BATCH;
		for (uint32_t i = 0; i < n && tv_seq < opt.packets; i++) {
			struct svhost_desc d;
			struct svhost_desc *sd = &tv->desc[(tv_cons) & mask];
			uint32_t len = pkt_len(tv_seq);

			desc_read(sd, &d);
			if (desc_check(l, &d) < 0 || d.len < len) {
				fail("TO_VSWITCH: bad descriptor offset 0x%" PRIx64
				     " capacity %u (packet %u)",
				     (uint64_t)d.offset, d.len, len);
				return -1;
			}
			pkt_fill(guest_tx, tv_seq, len, PKT_MAGIC_TO_VSWITCH);
			memcpy(cmap.pool + d.offset, guest_tx, len); /* the copy */
			desc_write(sd, d.offset, len);
			tv_cons++;
			tv_seq++;
			tv_bytes += len;
			progress = true;
		}
		if (progress) {
			store_release(&tv->cons, tv_cons);
			if (tv_seq == opt.packets && !t_tv)
				t_tv = now_ns() - t0;
			last_progress = now_ns();
		} else {
			if (now_ns() - last_progress > STALL_TIMEOUT_NS) {
				fail("no progress for %llu s (to_guest %" PRIu64
				     ", to_vswitch %" PRIu64 ")",
				     STALL_TIMEOUT_NS / 1000000000ull, tg_seq,
				     tv_seq);
				return -1;
			}
			sched_yield();
		}
	}
	print_rate("TO_GUEST   (pool -> guest)", tg_seq, tg_bytes, t_tg);
	print_rate("TO_VSWITCH (guest -> pool)", tv_seq, tv_bytes, t_tv);
	pass("%" PRIu64 " packets each way copied and verified (seq, length, "
	     "payload)", opt.packets);
	return 0;
}

/*
 * The PD (copy) thread: allocate a key, attach, map, enable the key in this
 * thread only, move packets, then idle-poll until revoked.
 */
static void *pd_thread(void *arg)
{
	struct svhost_layout lay;
	struct svhost_version ver;
	char line[128];
	int ret, unalloc;
	long tid = gettid_();
	bool pkey_required;

	(void)arg;
	prctl(PR_SET_NAME, "svdemo-pd");

	memset(&ver, 0, sizeof(ver));
	if (ioctl(cfd, SVHOST_GET_VERSION, &ver)) {
		fail("GET_VERSION: %s", strerror(errno));
		goto out;
	}
	pkey_required = ver.features & SVHOST_FEATURE_PKEY_REQUIRED;

	/* pkey_alloc() sets this thread's rights for the key: none at all. */
	cpkey = pkey_alloc(0, PKEY_DISABLE_ACCESS);
	if (cpkey < 0) {
		fail("pkey_alloc: %s (the CPU/kernel needs protection keys)",
		     strerror(errno));
		goto out;
	}
	say("PD thread tid %ld: pkey_alloc(PKEY_DISABLE_ACCESS) = %d", tid, cpkey);

	/* Before the administrator grants our uid: refused. */
	ret = do_attach(cfd, opt.port, cpkey, NULL);
	if (getuid() != 0) {
		expect_errno("attach before grant", ret, -ret, EPERM);
		send_line(c2p, "DENIED");
	} else {
		/* root is admitted by the default ACL: nothing to show */
		if (ret == 0) {
			fail("running the copier as root: cannot show the ACL");
			goto out;
		}
		send_line(c2p, "DENIED");
	}
	if (recv_line(p2c, line, sizeof(line), MSG_TIMEOUT_MS) ||
	    strcmp(line, "GRANTED")) {
		fail("owner did not confirm the grant");
		goto out;
	}

	/* Malformed attachments, now that the ACL admits us. */
	if (pkey_required) {
		ret = do_attach(cfd, opt.port, -1, NULL);
		expect_errno("attach with pkey -1 while require_pkey=Y", ret,
			     -ret, EINVAL);
	}
	unalloc = cpkey == 15 ? 14 : 15;
	ret = do_attach(cfd, opt.port, unalloc, NULL);
	expect_errno("attach with a pkey not allocated in this process", ret,
		     -ret, ENOKEY);
	ret = do_attach(cfd, "no-such-port", cpkey, NULL);
	expect_errno("attach to a port that does not exist", ret, -ret,
		     ENOENT);

	ret = do_attach(cfd, opt.port, cpkey, &lay);
	if (ret) {
		fail("attach: %s", strerror(-ret));
		goto out;
	}
	pass("SVHOST_COPIER_ATTACH(%s, pkey %d) as uid %d", opt.port, cpkey,
	     (int)geteuid());
	if (!layout_sane(&lay) || map_port(cfd, &lay, &cmap, SVHOST_STATE_ATTACHED))
		goto out;

	/* Header can never be mapped writable. */
	{
		void *p = mmap(NULL, lay.header_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, cfd, 0);
		int e = errno;

		expect_errno("mmap of the header with PROT_WRITE",
			     p == MAP_FAILED ? -1 : 0, e, EPERM);
		if (p != MAP_FAILED)
			munmap(p, lay.header_size);
	}

	/*
	 * The kernel tagged rings and pool with our key: re-keying is refused
	 * by the driver's mprotect hook (EPERM); PROT_EXEC by the core,
	 * because the driver cleared VM_MAYEXEC (EACCES).
	 */
	ret = pkey_mprotect(cmap.pool, lay.pool_size, PROT_READ | PROT_WRITE, 0);
	expect_errno("pkey_mprotect(pool, key 0)", ret, errno, EPERM);
	ret = mprotect(cmap.pool, lay.pool_size,
		       PROT_READ | PROT_WRITE | PROT_EXEC);
	expect_errno("mprotect(pool, +PROT_EXEC)", ret, errno, EACCES);

	/* WRPKRU: give this thread, and only this thread, access to the key. */
	say("PD thread PKRU rights for key %d: before %#x", cpkey,
	    (unsigned int)pkey_get(cpkey));
	if (pkey_set(cpkey, 0)) {
		fail("pkey_set: %s", strerror(errno));
		goto out;
	}
	say("PD thread PKRU rights for key %d: after pkey_set(0) %#x (WRPKRU)",
	    cpkey, (unsigned int)pkey_get(cpkey));

	send_line(c2p, "ATTACHED pid=%d tid=%ld uid=%d pkey=%d gen=%u",
		  (int)getpid(), tid, (int)geteuid(), cpkey,
		  hdr_read(&cmap.hdr->generation));

	if (copier_datapath())
		goto out;
	send_line(c2p, "DATAPATH_OK");

	/* A non-PD thread of this process touches the pool. */
	run_probe(cmap.pool + 4096);
	say("vcpu thread: PKRU rights for key %d = %#x, read of pool+4096 -> %s "
	    "si_code %d si_pkey %d addr %p", cpkey, probe_pkru,
	    probe_sig == SIGSEGV ? "SIGSEGV" : probe_sig ? "other signal" :
	    "no fault", probe_code, probe_pkey, probe_addr);
	if (probe_sig == SIGSEGV && probe_code == SEGV_PKUERR &&
	    probe_pkey == cpkey && probe_addr == (void *)(cmap.pool + 4096))
		pass("non-PD thread faulted with SIGSEGV/SEGV_PKUERR on key %d",
		     cpkey);
	else
		fail("non-PD thread was not stopped by its PKRU");
	/* The PD thread itself still reads and writes the pool. */
	{
		volatile uint8_t *b = cmap.pool + 4096;

		b[0] = 0xA5;
		if (b[0] == 0xA5)
			pass("PD thread reads and writes the same byte");
		else
			fail("PD thread could not write the pool");
	}

	/* Idle-poll the rings like a PD thread with nothing to do. */
	{
		sigjmp_buf jb;
		uint64_t t0 = now_ns();

		send_line(c2p, "IDLE");
		say("PD thread idle-polling the rings; waiting for revocation");
		if (sigsetjmp(jb, 1) == 0) {
			fault_jmp = &jb;
			for (;;) {
				(void)load_acquire(&ring_at(&cmap, 0, 0)->prod);
				(void)*(volatile uint8_t *)cmap.pool;
				if (now_ns() - t0 > REVOKE_TIMEOUT_NS)
					break;
				sleep_ms(2);
			}
			fault_jmp = NULL;
			fail("no SIGBUS after %llu s: not revoked?",
			     REVOKE_TIMEOUT_NS / 1000000000ull);
			goto out;
		}
		/*
		 * The handler ran with the kernel's default PKRU and
		 * siglongjmp() does not restore ours: re-enable the key.
		 */
		pkey_set(cpkey, 0);
		uint32_t st = hdr_read(&cmap.hdr->state);
		uint32_t rs = hdr_read(&cmap.hdr->reason);
		uint32_t gen = hdr_read(&cmap.hdr->generation);

		say("PD thread caught %s (si_code %d) at %p; header: state %s, "
		    "reason %s, generation %u",
		    fault_sig == SIGBUS ? "SIGBUS" : "another signal",
		    fault_code, fault_addr, state_name(st), reason_name(rs), gen);
		if (fault_sig == SIGBUS && st == SVHOST_STATE_REVOKED &&
		    rs == SVHOST_REASON_ADMIN)
			pass("revocation seen: SIGBUS, header REVOKED/ADMIN");
		else
			fail("expected SIGBUS and REVOKED/ADMIN");

		/* The whole pool is gone, not just the page we touched. */
		if (sigsetjmp(jb, 1) == 0) {
			fault_jmp = &jb;
			(void)*(volatile uint8_t *)(cmap.pool + lay.pool_size - 1);
			fault_jmp = NULL;
			fail("last pool byte still readable after revocation");
		} else {
			pkey_set(cpkey, 0);
			if (fault_sig == SIGBUS)
				pass("last pool byte: SIGBUS too");
			else
				fail("last pool byte: signal %d code %d",
				     fault_sig, fault_code);
		}

		/* The revoked file maps nothing any more. */
		void *p = mmap(NULL, lay.pool_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, cfd, (off_t)lay.pool_offset);
		int e = errno;

		expect_errno("new pool mmap through the revoked file",
			     p == MAP_FAILED ? -1 : 0, e, EACCES);
		if (p != MAP_FAILED)
			munmap(p, lay.pool_size);
		send_line(c2p, "REVOKED sig=%d state=%u reason=%u gen=%u",
			  fault_sig, st, rs, gen);

		/* The port takes a new attachment on a fresh file. */
		if (recv_line(p2c, line, sizeof(line), MSG_TIMEOUT_MS) ||
		    strcmp(line, "REATTACH")) {
			fail("owner did not ask for the re-attachment");
			goto out;
		}
		int fd2 = open(opt.dev, O_RDWR | O_CLOEXEC);

		if (fd2 < 0) {
			fail("open %s: %s", opt.dev, strerror(errno));
		} else {
			ret = do_attach(fd2, opt.port, cpkey, NULL);
			if (ret)
				fail("re-attach on a fresh file: %s",
				     strerror(-ret));
			else if (hdr_read(&cmap.hdr->state) !=
				 SVHOST_STATE_ATTACHED ||
				 hdr_read(&cmap.hdr->generation) <= gen)
				fail("re-attach: header state %s generation %u",
				     state_name(hdr_read(&cmap.hdr->state)),
				     hdr_read(&cmap.hdr->generation));
			else
				pass("re-attached on a fresh file: header "
				     "ATTACHED, generation %u",
				     hdr_read(&cmap.hdr->generation));
			close(fd2);
		}
	}
out:
	unmap_port(&cmap);
	if (cfd >= 0)
		close(cfd);
	cfd = -1;
	send_line(c2p, failures ? "BYE fail" : "BYE ok");
	return NULL;
}

static int copier_main(void *owner_pool, size_t owner_pool_size)
{
	struct sigaction sa;
	pthread_t vcpu, pd;
	unsigned char vec;

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
			return 1;
		}
		say("running as uid %d gid %d, no supplementary groups",
		    (int)getuid(), (int)getgid());
	}

	cfd = open(opt.dev, O_RDWR | O_CLOEXEC);
	if (cfd < 0) {
		fail("open %s as uid %d: %s", opt.dev, (int)getuid(),
		     strerror(errno));
		send_line(c2p, "BYE fail");
		return 1;
	}
	if (opt.copier_uid != 0) {
		struct svhost_port_create c;
		int ret;

		memset(&c, 0, sizeof(c));
		c.queue_pairs = 1;
		c.ring_size = DEMO_RING_SIZE;
		c.buf_size = DEMO_BUF_SIZE;
		c.buf_count = 1;
		snprintf(c.name, sizeof(c.name), "copier-port");
		ret = ioctl(cfd, SVHOST_PORT_CREATE, &c);
		expect_errno("PORT_CREATE without CAP_NET_ADMIN", ret, errno,
			     EPERM);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fault_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	/* vCPU thread first: it inherits this thread's default PKRU. */
	if (pthread_create(&vcpu, NULL, vcpu_thread, NULL) ||
	    pthread_create(&pd, NULL, pd_thread, NULL)) {
		fail("pthread_create");
		return 1;
	}
	pthread_join(pd, NULL);
	pthread_mutex_lock(&probe_lock);
	probe_state = PROBE_EXIT;
	pthread_cond_broadcast(&probe_cond);
	pthread_mutex_unlock(&probe_lock);
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

static int owner_datapath(struct port_map *m)
{
	const struct svhost_layout *l = &m->lay;
	struct svhost_ring *tg = ring_at(m, 0, SVHOST_RING_TO_GUEST);
	struct svhost_ring *tv = ring_at(m, 0, SVHOST_RING_TO_VSWITCH);
	const uint32_t mask = l->ring_size - 1;
	/* Our own record of which buffer sits in which slot. */
	static uint32_t tg_slot[DEMO_RING_SIZE], tv_slot[DEMO_RING_SIZE];
	static uint32_t free_bufs[DEMO_BUF_COUNT];
	static uint8_t scratch[DEMO_BUF_SIZE];
	uint32_t nfree = 0;
	/* Private copies of the indexes; we never read our own back. */
	uint32_t tg_prod = 0, tg_cons = 0, tv_prod = 0, tv_cons = 0;
	uint64_t tg_sent = 0, tg_done = 0, tv_posted = 0, tv_recv = 0;
	uint64_t tg_bytes = 0, tv_bytes = 0;
	uint64_t t0 = now_ns(), last_progress = t0, t_tg = 0, t_tv = 0;
	char why[160];

	for (uint32_t i = 0; i < l->buf_count; i++)
		free_bufs[nfree++] = l->buf_count - 1 - i;

	while (tg_done < opt.packets || tv_recv < opt.packets) {
		bool progress = false;
		uint32_t c, posted;

		/* TO_GUEST: reclaim buffers the copier has completed. */
		c = load_acquire(&tg->cons);
		if ((uint32_t)(c - tg_cons) > (uint32_t)(tg_prod - tg_cons)) {
			fail("TO_GUEST: consumer index %u outside [%u, %u]",
			     c, tg_cons, tg_prod);
			return -1;
		}
		while (tg_cons != c) {
			free_bufs[nfree++] = tg_slot[tg_cons & mask];
			tg_cons++;
			tg_done++;
			progress = true;
		}
		if (tg_done == opt.packets && !t_tg)
			t_tg = now_ns() - t0;

		/* TO_GUEST: post filled buffers. */
		posted = 0;
		while (tg_sent < opt.packets && nfree &&
		       tg_prod - tg_cons < l->ring_size && posted < BATCH) {
			uint32_t b = free_bufs[--nfree];
			uint32_t len = pkt_len(tg_sent);
			uint64_t off = (uint64_t)b * l->buf_size;

			pkt_fill(m->pool + off, tg_sent, len, PKT_MAGIC_TO_GUEST);
			desc_write(&tg->desc[tg_prod & mask], off, len);
			tg_slot[tg_prod & mask] = b;
			tg_prod++;
			tg_sent++;
			tg_bytes += len;
			posted++;
		}
		if (posted) {
			store_release(&tg->prod, tg_prod);
			progress = true;
		}

		/* TO_VSWITCH: harvest packets the copier wrote. */
		c = load_acquire(&tv->cons);
		if ((uint32_t)(c - tv_cons) > (uint32_t)(tv_prod - tv_cons)) {
			fail("TO_VSWITCH: consumer index %u outside [%u, %u]",
			     c, tv_cons, tv_prod);
			return -1;
		}
		while (tv_cons != c) {
			struct svhost_desc d;
			uint32_t b = tv_slot[tv_cons & mask];

			/* Only len, flags and offloads are read back. */
			desc_read(&tv->desc[tv_cons & mask], &d);
			if (d.len > l->buf_size || d.len < sizeof(struct pkt_hdr) ||
			    (d.flags & ~SVHOST_DESC_F_ALL) ||
			    (d.flags & SVHOST_DESC_F_NEXT)) {
				fail("TO_VSWITCH: copier returned len %u flags "
				     "%#x", d.len, d.flags);
				return -1;
			}
			if (!pkt_check(m->pool + (uint64_t)b * l->buf_size, d.len,
				       tv_recv, PKT_MAGIC_TO_VSWITCH, scratch,
				       why, sizeof(why))) {
				fail("TO_VSWITCH: %s", why);
				return -1;
			}
			free_bufs[nfree++] = b;
			tv_bytes += d.len;
			tv_cons++;
			tv_recv++;
			progress = true;
		}
		if (tv_recv == opt.packets && !t_tv)
			t_tv = now_ns() - t0;

		/* TO_VSWITCH: post empty buffers. */
		posted = 0;
		while (tv_posted < opt.packets && nfree &&
		       tv_prod - tv_cons < l->ring_size && posted < BATCH) {
			uint32_t b = free_bufs[--nfree];

			desc_write(&tv->desc[tv_prod & mask],
				   (uint64_t)b * l->buf_size, l->buf_size);
			tv_slot[tv_prod & mask] = b;
			tv_prod++;
			tv_posted++;
			posted++;
		}
		if (posted) {
			store_release(&tv->prod, tv_prod);
			progress = true;
		}

		if (progress) {
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
				return -1;
			}
			if (idle > STALL_TIMEOUT_NS) {
				fail("no progress for %llu s (to_guest %" PRIu64
				     " done, to_vswitch %" PRIu64 " received)",
				     STALL_TIMEOUT_NS / 1000000000ull, tg_done,
				     tv_recv);
				return -1;
			}
			sched_yield();
		}
	}
	if (nfree != l->buf_count) {
		fail("%u of %u buffers came back", nfree, l->buf_count);
		return -1;
	}
	print_rate("TO_GUEST   (posted, completed)", tg_done, tg_bytes, t_tg);
	print_rate("TO_VSWITCH (received, checked)", tv_recv, tv_bytes, t_tv);
	pass("%" PRIu64 " packets each way, all %u buffers back", opt.packets,
	     l->buf_count);
	return 0;
}

static void decode_features(uint32_t f, char *buf, size_t len)
{
	const uint32_t known = SVHOST_FEATURE_PKEY | SVHOST_FEATURE_PKEY_REQUIRED;

	snprintf(buf, len, "%s%s%s%s",
		 (f & SVHOST_FEATURE_PKEY) ? "PKEY" : "",
		 (f & SVHOST_FEATURE_PKEY) && (f & ~SVHOST_FEATURE_PKEY) ? " " : "",
		 (f & SVHOST_FEATURE_PKEY_REQUIRED) ? "PKEY_REQUIRED" : "",
		 (f & ~known) ? " +unknown" : "");
}

static int owner_main(void)
{
	struct svhost_version ver;
	struct svhost_port_create pc;
	struct port_map m;
	char line[256], info[256], feat[64], path[256];
	int fd, ret, pc2p[2], pp2c[2], status;

	fd = open(opt.dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fail("open %s: %s (is svhost.ko loaded?)", opt.dev,
		     strerror(errno));
		return 1;
	}
	memset(&ver, 0, sizeof(ver));
	if (ioctl(fd, SVHOST_GET_VERSION, &ver)) {
		fail("SVHOST_GET_VERSION: %s", strerror(errno));
		return 1;
	}
	decode_features(ver.features, feat, sizeof(feat));
	say("%s: API version %u, features %#x [%s], max %u queue pairs, "
	    "max ring %u, max pool per port %" PRIu64 " MiB", opt.dev,
	    ver.api_version, ver.features, feat, ver.max_queue_pairs,
	    ver.max_ring_size, (uint64_t)ver.max_port_pool_bytes >> 20);
	if (ver.api_version != SVHOST_API_VERSION) {
		fail("API version %u, this demo speaks %u", ver.api_version,
		     SVHOST_API_VERSION);
		return 1;
	}
	if (ver.reserved[0] || ver.reserved[1])
		fail("svhost_version.reserved not zeroed");

	memset(&pc, 0, sizeof(pc));
	pc.queue_pairs = DEMO_QUEUE_PAIRS;
	pc.ring_size = DEMO_RING_SIZE;
	pc.buf_size = DEMO_BUF_SIZE;
	pc.buf_count = DEMO_BUF_COUNT;
	snprintf(pc.name, sizeof(pc.name), "%s", opt.port);
	if (ioctl(fd, SVHOST_PORT_CREATE, &pc)) {
		fail("SVHOST_PORT_CREATE %s: %s (%s)", opt.port, strerror(errno),
		     errname(errno));
		return 1;
	}
	pass("created port %s", opt.port);
	print_layout(&pc.layout);
	if (!layout_sane(&pc.layout))
		return 1;
	if (map_port(fd, &pc.layout, &m, SVHOST_STATE_READY))
		return 1;

	/* The copier: a separate process, like QEMU. */
	if (pipe2(pc2p, O_CLOEXEC) || pipe2(pp2c, O_CLOEXEC)) {
		fail("pipe: %s", strerror(errno));
		return 1;
	}
	fflush(stdout);
	copier_pid = fork();
	if (copier_pid < 0) {
		fail("fork: %s", strerror(errno));
		return 1;
	}
	if (copier_pid == 0) {
		/* Drop everything of the owner's: its file, the FIFOs. */
		close(fd);
		if (status_fd >= 0)
			close(status_fd);
		if (cmd_fd >= 0)
			close(cmd_fd);
		close(pc2p[0]);
		close(pp2c[1]);
		c2p = pc2p[1];
		p2c = pp2c[0];
		_exit(copier_main(m.pool, m.lay.pool_size));
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
	if (!opt.ctl) {
		snprintf(path, sizeof(path), SYSFS_PORTS "/%s/allowed_uids",
			 opt.port);
		snprintf(info, sizeof(info), "0 %u\n",
			 (unsigned int)opt.copier_uid);
		ret = write_file(path, info);
		if (ret) {
			fail("write %s: %s", path, strerror(-ret));
			goto kill;
		}
		say("granted uid %u on %s (wrote %s)",
		    (unsigned int)opt.copier_uid, opt.port, path);
	}
	send_line(p2c, "GRANTED");

	/* 2. Attach, then the data path. */
	if (expect_msg("ATTACHED", line, sizeof(line)))
		goto kill;
	say("copier attached: %s", line + 9);
	if (hdr_read(&m.hdr->state) == SVHOST_STATE_ATTACHED)
		pass("owner's header shows ATTACHED, generation %u",
		     hdr_read(&m.hdr->generation));
	else
		fail("owner's header shows %s",
		     state_name(hdr_read(&m.hdr->state)));
	snprintf(info, sizeof(info), "%s", line + 9);

	if (owner_datapath(&m))
		goto kill;
	if (expect_msg("DATAPATH_OK", line, sizeof(line)))
		goto kill;

	/* 3. Attached and idle: the administrator inspects, then revokes. */
	if (expect_msg("IDLE", line, sizeof(line)))
		goto kill;
	if (admin_pause("attached", info))
		goto kill;
	if (!opt.ctl) {
		snprintf(path, sizeof(path), SYSFS_PORTS "/%s/revoke", opt.port);
		ret = write_file(path, "1\n");
		if (ret) {
			fail("write %s: %s", path, strerror(-ret));
			goto kill;
		}
		say("revoked the copier (wrote 1 to %s)", path);
	}
	if (expect_msg("REVOKED", line, sizeof(line)))
		goto kill;
	say("copier reports: %s", line);
	if (hdr_read(&m.hdr->state) == SVHOST_STATE_REVOKED &&
	    hdr_read(&m.hdr->reason) == SVHOST_REASON_ADMIN)
		pass("owner's header shows REVOKED/ADMIN too");
	else
		fail("owner's header shows %s/%s",
		     state_name(hdr_read(&m.hdr->state)),
		     reason_name(hdr_read(&m.hdr->reason)));
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
	    "generation %u", state_name(hdr_read(&m.hdr->state)),
	    reason_name(hdr_read(&m.hdr->reason)),
	    hdr_read(&m.hdr->generation));
	unmap_port(&m);
	close(fd);
	say("owner unmapped and closed the port");
	return failures ? 1 : 0;

kill:
	if (copier_pid > 0) {
		kill(copier_pid, SIGKILL);
		waitpid(copier_pid, NULL, 0);
	}
	unmap_port(&m);
	close(fd);
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: svhost-demo [--packets N] [--copier-uid UID] [--port NAME]\n"
"                   [--device PATH] [--ctl DIR]\n"
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

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "packets", required_argument, NULL, 'n' },
		{ "copier-uid", required_argument, NULL, 'u' },
		{ "port", required_argument, NULL, 'p' },
		{ "device", required_argument, NULL, 'd' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char path[512];
	char *end;
	int c, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "n:u:p:d:c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			opt.packets = strtoull(optarg, &end, 10);
			if (errno || *end || !opt.packets) {
				usage(stderr);
				return 2;
			}
			break;
		case 'u':
			errno = 0;
			opt.copier_uid = (uid_t)strtoul(optarg, &end, 10);
			if (errno || *end) {
				usage(stderr);
				return 2;
			}
			opt.copier_gid = (gid_t)opt.copier_uid;
			break;
		case 'p':
			opt.port = optarg;
			break;
		case 'd':
			opt.dev = optarg;
			break;
		case 'c':
			opt.ctl = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || strlen(opt.port) >= SVHOST_NAME_LEN) {
		usage(stderr);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "svhost-demo: must run as root (creates a port, "
			"needs CAP_NET_ADMIN)\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	if (opt.ctl) {
		/* Same order as run-demo.sh opens them, or both block. */
		snprintf(path, sizeof(path), "%s/status", opt.ctl);
		status_fd = open(path, O_WRONLY | O_CLOEXEC);
		if (status_fd < 0) {
			fprintf(stderr, "svhost-demo: %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		snprintf(path, sizeof(path), "%s/cmd", opt.ctl);
		cmd_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (cmd_fd < 0) {
			fprintf(stderr, "svhost-demo: %s: %s\n", path,
				strerror(errno));
			return 1;
		}
	}
	ret = owner_main();
	if (ret || failures) {
		say("FAILED (%d check(s) failed)", failures);
		return 1;
	}
	say("all checks passed");
	return 0;
}
