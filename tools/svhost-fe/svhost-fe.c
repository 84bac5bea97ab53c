// SPDX-License-Identifier: BSD-3-Clause
/*
 * svhost-fe: a vhost-user front end without QEMU, to test and benchmark a
 * secure back end (DPDK's lib/vhost secure mode) on its own.
 *
 * It plays QEMU: it speaks docs/PROTOCOL.md over the vhost-user socket,
 * runs libsvhost's PD (svhost/device.h) in a thread of its own, and drives
 * one synthetic guest per queue pair (testsupport/guest.h: a virtio-net
 * driver over split virtqueues) whose every packet carries a sequence
 * number, its length and a checksum, checked on arrival.
 *
 * Modes:
 *   secure (default)  the secure protocol; the PD attaches to the broker
 *                     port the back end names (or, with --memfd, maps the
 *                     test-only memfd pool it sends);
 *   --classic         classic vhost-user: the synthetic guest's memory goes
 *                     to the back end with SET_MEM_TABLE and the back end
 *                     walks the virtqueues itself.  The benchmark's fair
 *                     baseline (same guest, same packets, same working set)
 *                     and the isolation audit's negative control: it is
 *                     exactly what secure mode forbids, and says so;
 *   --hostile         a compromised front end: it attaches to the port
 *                     itself (no libsvhost) and writes bad lengths, flags,
 *                     offsets and offload fields into the rings and moves
 *                     their indexes wrongly, for --seconds.
 *
 * Exit status: 0 pass, 1 fail, 2 usage, 4 skip (no broker, or the back end
 * lacks what the mode needs).  Lines starting with "# " are diagnostics;
 * the last line is "result fe ..." with the counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/svhost.h>

#include "guest.h"

#define QP_MAX		16
#define EXIT_SKIP	4

/* ---- vhost-user messages (QEMU's docs/interop/vhost-user.rst, PROTOCOL.md) ---------- */

enum {
	VU_GET_FEATURES = 1, VU_SET_FEATURES = 2, VU_SET_OWNER = 3, VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8, VU_SET_VRING_ADDR = 9, VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11, VU_SET_VRING_KICK = 12, VU_SET_VRING_CALL = 13,
	VU_GET_PROTOCOL_FEATURES = 15, VU_SET_PROTOCOL_FEATURES = 16, VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18, VU_SVHOST_GET_PORT = 1024,
};
#define VU_VERSION		0x1u
#define VU_REPLY		0x4u
#define VU_NEED_REPLY		0x8u
#define F_PROTOCOL_FEATURES	30
#define F_LOG_ALL		26
#define PF_MQ			0
#define PF_REPLY_ACK		3
#define PF_SVHOST		48
#define SVHOST_VERSION		1
#define PORT_F_ACCEPT_MEMFD	0x1u
#define PORT_F_MEMFD		0x2u

struct vu_port {			/* PROTOCOL.md section 2, 72 bytes */
	uint32_t version;
	uint32_t flags;
	char name[32];
	uint32_t queue_pairs, ring_size, buf_size, buf_count;
	uint64_t reserved[2];
};

struct vu_region {
	uint64_t gpa, size, uaddr, mmap_offset;
};

struct vu_msg {
	uint32_t request, flags, size;
	union {
		uint64_t u64;
		struct vhost_vring_state state;
		struct vhost_vring_addr addr;
		struct {
			uint32_t nregions, padding;
			struct vu_region r[8];
		} mem;
		struct vu_port port;
		uint8_t raw[512];
	} p;
} __attribute__((packed));
#define VU_HDR 12u

/* ---- options and state -------------------------------------------------------------- */

enum mode { M_SECURE, M_CLASSIC, M_HOSTILE };

static struct {
	const char *path;
	bool server;
	enum mode mode;
	bool memfd;
	unsigned queues;
	uint64_t packets;
	int64_t expect;		/* -1: = packets */
	uint32_t sizes[64];
	unsigned nsizes;
	bool tx, rx, verify;
	double seconds;
	double linger;
	unsigned sessions;
	bool wait_restart;
	const char *port;
	int cpu, pd_cpu;
	enum svh_sched pd_mode;
	bool offload;
	bool lossy;
	double rate;		/* packets per second per queue pair, 0: as fast as possible */
	bool stats;
	bool quiet;
} o = {
	.queues = 1, .packets = 10000, .expect = -1, .tx = true, .rx = true, .verify = true,
	.seconds = 120, .linger = 1, .sessions = 1, .cpu = -1, .pd_cpu = -1, .pd_mode = SVH_SCHED_ADAPTIVE,
};

struct fe {
	int sock, lsock;
	uint64_t features;		/* negotiated virtio features */
	bool reply_ack;
	struct vu_port port;
	int port_fds[2];
	struct svh_dev *dev;
	pthread_t pd;
	bool pd_running;
	struct synth_guest g[QP_MAX];
	uint64_t lost[QP_MAX];		/* --lossy: sequence numbers never seen */
	double t_start;			/* --rate: when the session's traffic started */
	bool guests;
	/* hostile mode: our own view of the port */
	int hfd;
	struct svhost_layout hl;
	uint8_t *hrings, *hpool;
	int hvfd[2 * QP_MAX][2];
	uint64_t attacks;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	if (o.quiet)
		return;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int print_cb(enum svh_print_level level, const char *fmt, va_list ap)
{
	if (level == SVH_DEBUG || o.quiet)
		return 0;
	printf("# ");
	return vprintf(fmt, ap);
}

/* ---- socket ---------------------------------------------------------------------------- */

static int vu_send(struct fe *f, uint32_t req, const void *payload, uint32_t size,
		   const int *fds, unsigned nfds, uint32_t flags)
{
	struct vu_msg m = { .request = req, .flags = VU_VERSION | flags, .size = size };
	char cbuf[CMSG_SPACE(sizeof(int) * 8)] = { 0 };
	struct iovec io = { &m, VU_HDR + size };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1 };
	ssize_t n;

	if (size > sizeof(m.p) || nfds > 8)
		return -EINVAL;
	if (size)
		memcpy(&m.p, payload, size);
	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(f->sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)(VU_HDR + size) ? 0 : -EPIPE;
}

/* Read the reply to req; its fds (at most 2) land in fds[]. */
static int vu_recv(struct fe *f, uint32_t req, struct vu_msg *m, int *fds, unsigned *nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec io = { m, VU_HDR };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	unsigned got = 0;
	ssize_t n;

	if (nfds)
		*nfds = 0;
	n = recvmsg(f->sock, &mh, MSG_CMSG_CLOEXEC);
	if (n != VU_HDR)
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		got = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (unsigned i = 0; i < got; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fds && nfds && i < 2)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (m->size > sizeof(m->p) || m->request != req || !(m->flags & VU_REPLY))
		return -EPROTO;
	if (m->size && recv(f->sock, &m->p, m->size, MSG_WAITALL) != (ssize_t)m->size)
		return -EPIPE;
	return 0;
}

static int get_u64(struct fe *f, uint32_t req, uint64_t *v)
{
	struct vu_msg m;
	int rc = vu_send(f, req, NULL, 0, NULL, 0, 0);

	if (!rc)
		rc = vu_recv(f, req, &m, NULL, NULL);
	if (!rc && m.size != 8)
		rc = -EPROTO;
	if (!rc)
		*v = m.p.u64;
	return rc;
}

/* A request without a reply of its own; with REPLY_ACK, wait for the ack. */
static int vu_set(struct fe *f, uint32_t req, const void *p, uint32_t size, const int *fds,
		  unsigned nfds)
{
	struct vu_msg m;
	int rc = vu_send(f, req, p, size, fds, nfds, f->reply_ack ? VU_NEED_REPLY : 0);

	if (rc || !f->reply_ack)
		return rc;
	rc = vu_recv(f, req, &m, NULL, NULL);
	if (!rc && (m.size != 8 || m.p.u64 != 0))
		rc = -EREMOTEIO;
	return rc;
}

static int set_u64(struct fe *f, uint32_t req, uint64_t v, const int *fds, unsigned nfds)
{
	return vu_set(f, req, &v, 8, fds, nfds);
}

static int set_state(struct fe *f, uint32_t req, unsigned idx, unsigned num)
{
	struct vhost_vring_state s = { .index = idx, .num = num };

	return vu_set(f, req, &s, sizeof(s), NULL, 0);
}

static int connect_socket(struct fe *f, double deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strncpy(sa.sun_path, o.path, sizeof(sa.sun_path) - 1);
	if (o.server) {
		if (f->lsock < 0) {
			unlink(o.path);
			f->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (f->lsock < 0 || bind(f->lsock, (struct sockaddr *)&sa, sizeof(sa)) ||
			    listen(f->lsock, 1))
				return -errno;
			say("listening on %s", o.path);
		}
		for (;;) {
			struct pollfd p = { f->lsock, POLLIN, 0 };
			int left = (int)((deadline - now()) * 1000);

			if (left <= 0)
				return -ETIMEDOUT;
			if (poll(&p, 1, left) == 1)
				break;
		}
		f->sock = accept4(f->lsock, NULL, NULL, SOCK_CLOEXEC);
		return f->sock < 0 ? -errno : 0;
	}
	for (;;) {
		f->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (f->sock < 0)
			return -errno;
		if (!connect(f->sock, (struct sockaddr *)&sa, sizeof(sa)))
			return 0;
		close(f->sock);
		f->sock = -1;
		if (now() > deadline)
			return -ETIMEDOUT;
		usleep(100000);
	}
}

/* ---- sessions ---------------------------------------------------------------------------- */

static uint32_t size_for(uint64_t i)
{
	return o.sizes[i % o.nsizes];
}

static uint32_t max_size(void)
{
	uint32_t m = 0;

	for (unsigned i = 0; i < o.nsizes; i++)
		if (o.sizes[i] > m)
			m = o.sizes[i];
	return m;
}

static int guests_init(struct fe *f, uint64_t features)
{
	for (unsigned q = 0; q < o.queues; q++) {
		struct sg_cfg gc = {
			.num = 256, .tx_buf_cap = max_size() + SG_VNET_HDR_LEN, .rx_buf_len = 2048,
			.features = features, .split_regions = !o.offload, .tx_layout = SG_TX_ROTATE,
			.verify = o.verify && !o.offload, .use_eventfds = true,
			.gpa_base = q * (1ull << 32),
			.memfd_ram = true,	/* the audit looks for it in the back end */
		};
		int rc = sg_init(&f->g[q], &gc);

		if (rc) {
			say("cannot create synthetic guest %u: %s", q, strerror(-rc));
			return rc;
		}
	}
	f->guests = true;
	return 0;
}

static void guests_fini(struct fe *f)
{
	if (!f->guests)
		return;
	for (unsigned q = 0; q < o.queues; q++)
		sg_fini(&f->g[q]);
	f->guests = false;
}

static struct sg_queue *vring_queue(struct fe *f, unsigned i)
{
	/* vring 2q: the guest's RX queue; 2q + 1: its TX queue */
	return i % 2 ? &f->g[i / 2].tx : &f->g[i / 2].rx;
}

/* Steps 1-4 of PROTOCOL.md section 3 (and the classic equivalent). */
static int handshake(struct fe *f, bool secure, uint64_t *backend_features)
{
	uint64_t pf, want, qn = 1;
	int rc;

	rc = get_u64(f, VU_GET_FEATURES, backend_features);
	if (rc)
		return rc;
	if (!(*backend_features & (1ULL << F_PROTOCOL_FEATURES))) {
		say("the back end does not offer VHOST_USER_F_PROTOCOL_FEATURES");
		return -EPROTONOSUPPORT;
	}
	rc = get_u64(f, VU_GET_PROTOCOL_FEATURES, &pf);
	if (rc)
		return rc;
	if (secure && !(pf & (1ULL << PF_SVHOST))) {
		say("the back end lacks VHOST_USER_PROTOCOL_F_SVHOST: refusing it (fail closed)");
		return -EPROTONOSUPPORT;
	}
	want = pf & ((1ULL << PF_MQ) | (1ULL << PF_REPLY_ACK) |
		     (secure ? 1ULL << PF_SVHOST : 0));
	rc = set_u64(f, VU_SET_PROTOCOL_FEATURES, want, NULL, 0);
	if (rc)
		return rc;
	f->reply_ack = want & (1ULL << PF_REPLY_ACK);
	if (want & (1ULL << PF_MQ)) {
		rc = get_u64(f, VU_GET_QUEUE_NUM, &qn);
		if (rc)
			return rc;
	}
	if (qn < o.queues) {
		say("the back end accepts %llu queue pairs, %u wanted", (unsigned long long)qn,
		    o.queues);
		return -ERANGE;
	}
	return 0;
}

static bool name_ok(const char *n)
{
	size_t l = strnlen(n, 32);

	if (l == 0 || l > 31 || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (size_t i = 0; i < l; i++) {
		char c = n[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	for (size_t i = l; i < 32; i++)
		if (n[i])
			return false;
	return true;
}

/* Step 5: GET_PORT, and every check of PROTOCOL.md section 2 on the reply. */
static int get_port(struct fe *f)
{
	struct vu_port req = { .version = SVHOST_VERSION,
			       .flags = o.memfd ? PORT_F_ACCEPT_MEMFD : 0 };
	struct vu_msg m;
	unsigned nfds = 0;
	int rc;

	f->port_fds[0] = f->port_fds[1] = -1;
	rc = vu_send(f, VU_SVHOST_GET_PORT, &req, sizeof(req), NULL, 0, 0);
	if (!rc)
		rc = vu_recv(f, VU_SVHOST_GET_PORT, &m, f->port_fds, &nfds);
	if (rc)
		return rc;
	f->port = m.p.port;
	if (m.size != sizeof(struct vu_port) || f->port.version != SVHOST_VERSION ||
	    (f->port.flags & ~PORT_F_MEMFD) || !name_ok(f->port.name) ||
	    f->port.reserved[0] || f->port.reserved[1] ||
	    f->port.queue_pairs < o.queues || f->port.queue_pairs > SVHOST_MAX_QUEUE_PAIRS ||
	    ((f->port.flags & PORT_F_MEMFD) ? (!o.memfd || nfds != 2) : nfds != 0)) {
		say("malformed GET_PORT reply (size %u, version %u, flags 0x%x, %u fds): refusing",
		    m.size, f->port.version, f->port.flags, nfds);
		return -EPROTO;
	}
	if (o.port && strcmp(o.port, f->port.name)) {
		say("the back end names port '%s', not '%s': refusing", f->port.name, o.port);
		return -EPERM;
	}
	say("broker port '%s': %u queue pairs, rings of %u, %u buffers of %u bytes%s",
	    f->port.name, f->port.queue_pairs, f->port.ring_size, f->port.buf_count,
	    f->port.buf_size, nfds ? " (TEST-ONLY memfd transport)" : "");
	return 0;
}

static void *pd_main(void *arg)
{
	svh_dev_run(arg);
	return NULL;
}

static void pd_stop(struct fe *f)
{
	if (f->pd_running) {
		svh_dev_shutdown(f->dev);
		pthread_join(f->pd, NULL);
		f->pd_running = false;
	}
	svh_dev_destroy(f->dev);
	f->dev = NULL;
}

/*
 * The ring features the PD implements (whatever the back end says), and
 * with --offload the checksum and TCP segmentation offloads the back end
 * offers: they say what offload metadata may travel in the ring.
 */
static uint64_t guest_features(uint64_t backend)
{
	const uint64_t ring = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
			      (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
			      (1ULL << VIRTIO_RING_F_EVENT_IDX);
	const uint64_t offloads = (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
				  (1ULL << VIRTIO_NET_F_HOST_TSO4) |
				  (1ULL << VIRTIO_NET_F_GUEST_TSO4);

	return (SG_FEATURES & (ring | backend)) | (o.offload ? backend & offloads : 0);
}

/* ---- --offload: real TCP/IPv4 frames with checksum and segmentation requests ---- */

#define OFL_HDRS	54u	/* Ethernet + IPv4 + TCP */
#define OFL_MSS		1448u

static uint32_t csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The TCP pseudo-header sum a NEEDS_CSUM packet carries (TSO: without the length). */
static uint16_t ofl_pseudo(const uint8_t *ip, uint32_t l4_len)
{
	uint32_t sum = csum_add(0, ip + 12, 8) + 6 + l4_len;

	return csum_fold(sum);
}

static bool ofl_gso(uint32_t len)
{
	return len - OFL_HDRS > OFL_MSS;
}

/* An Ethernet/IPv4/TCP frame whose TCP payload is a checked payload (sp_fill). */
static void ofl_frame(uint8_t *p, uint32_t len, uint64_t seq)
{
	static const uint8_t eth[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0 };
	uint8_t *ip = p + 14, *tcp = p + 34;
	uint16_t v;

	memcpy(p, eth, sizeof(eth));
	memset(ip, 0, 40);
	ip[0] = 0x45;
	v = htons((uint16_t)(len - 14));
	memcpy(ip + 2, &v, 2);
	v = htons((uint16_t)seq);
	memcpy(ip + 4, &v, 2);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	v = htons((uint16_t)~csum_fold(csum_add(0, ip, 20)));
	memcpy(ip + 10, &v, 2);
	v = htons(1000);
	memcpy(tcp, &v, 2);
	v = htons(2000);
	memcpy(tcp + 2, &v, 2);
	memcpy(tcp + 4, &seq, 4);
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;		/* PSH ACK */
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	v = htons(ofl_pseudo(ip, ofl_gso(len) ? 0 : len - 34));
	memcpy(tcp + 16, &v, 2);
	sp_fill(p + OFL_HDRS, len - OFL_HDRS, seq);
}

/* Post one offload frame: written where the guest's next TX slot's data goes. */
static int ofl_tx_post(struct synth_guest *g, uint32_t len)
{
	struct sg_queue *q = &g->tx;
	uint64_t a;
	uint8_t *p;

	if (!q->nfree || len + SG_VNET_HDR_LEN > g->cfg.tx_buf_cap)
		return 0;
	a = g->tx_buf_gpa + (uint64_t)q->free_slots[q->nfree - 1] * g->cfg.tx_buf_cap +
	    SG_VNET_HDR_LEN;
	p = sg_hva(g, a);
	if (!p || (uint8_t *)sg_hva(g, a + len - 1) != p + len - 1)
		return 0;
	ofl_frame(p, len, g->tx_seq);
	memset(&g->tx_hdr, 0, sizeof(g->tx_hdr));
	g->tx_hdr.hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	g->tx_hdr.hdr.csum_start = 34;
	g->tx_hdr.hdr.csum_offset = 16;
	if (ofl_gso(len)) {
		g->tx_hdr.hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		g->tx_hdr.hdr.gso_size = OFL_MSS;
		g->tx_hdr.hdr.hdr_len = OFL_HDRS;
	}
	return sg_tx_post(g, len);
}

/* Is the received frame one that was sent, with the same offload requests? */
static bool ofl_check(const uint8_t *p, uint32_t len, const struct virtio_net_hdr *h,
		      uint64_t *seqp)
{
	static uint8_t want[SVH_MAX_PKT_LEN];
	uint64_t seq;
	uint16_t v;

	if (len < OFL_HDRS + SP_HDR_LEN || sp_check(p + OFL_HDRS, len - OFL_HDRS, &seq))
		return false;
	*seqp = seq;
	ofl_frame(want, len, seq);
	/* the vSwitch writes the pseudo-header sum into the TCP checksum itself */
	memcpy(&v, p + 50, 2);
	if (memcmp(p, want, len) || v != htons(ofl_pseudo(p + 14, ofl_gso(len) ? 0 : len - 34)))
		return false;
	if (h->flags != VIRTIO_NET_HDR_F_NEEDS_CSUM || h->csum_start != 34 || h->csum_offset != 16)
		return false;
	if (ofl_gso(len))
		return h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && h->gso_size == OFL_MSS &&
		       h->hdr_len == OFL_HDRS;
	return h->gso_type == VIRTIO_NET_HDR_GSO_NONE;
}

/* Copy guest memory out, across the seams between its mappings. */
static bool guest_read(struct synth_guest *g, uint64_t gpa, void *dst, uint32_t len)
{
	while (len) {
		const struct svh_mem_region *r = NULL;
		uint64_t n;

		for (unsigned i = 0; i < g->nregions; i++)
			if (gpa - g->regions[i].gpa < g->regions[i].size)
				r = &g->regions[i];
		if (!r)
			return false;
		n = r->gpa + r->size - gpa;
		if (n > len)
			n = len;
		memcpy(dst, (uint8_t *)(uintptr_t)r->uaddr + (gpa - r->gpa), n);
		dst = (uint8_t *)dst + n;
		gpa += n;
		len -= (uint32_t)n;
	}
	return true;
}

/*
 * The guest's receive path (mergeable buffers, as sg_rx_poll) for --offload
 * (every frame and its virtio-net header checked) and --lossy (sequence
 * gaps are packets the back end dropped, counted apart from reordering).
 */
static unsigned own_rx_poll(struct fe *f, unsigned qi)
{
	struct synth_guest *g = &f->g[qi];
	static uint8_t pkt[SVH_MAX_PKT_LEN + 4096];
	struct sg_queue *q = &g->rx;
	uint16_t used = sg_load_acquire(&q->used->idx);
	unsigned pkts = 0;

	while (q->last_used != used) {
		struct vring_used_elem e = q->used->ring[q->last_used & (q->num - 1)];
		struct virtio_net_hdr_mrg_rxbuf h;
		uint32_t total = 0;
		uint16_t nb;
		bool bad = false;

		if (e.id >= q->nslots || e.len < SG_VNET_HDR_LEN) {
			if (g->rx_bad_used++ < 5)
				say("bad used element: id %u len %u", e.id, e.len);
			q->last_used++;
			continue;
		}
		guest_read(g, g->rx_buf_gpa + (uint64_t)e.id * g->cfg.rx_buf_len, &h, sizeof(h));
		nb = h.num_buffers;
		if (nb == 0 || nb > (uint16_t)(used - q->last_used)) {
			if (g->rx_bad_used++ < 5)
				say("bad num_buffers %u (%u used)", nb, (uint16_t)(used - q->last_used));
			q->last_used++;
			q->free_slots[q->nfree++] = e.id;
			continue;
		}
		for (uint16_t k = 0; k < nb; k++) {
			struct vring_used_elem ek = q->used->ring[(q->last_used + k) & (q->num - 1)];
			uint32_t skip = k == 0 ? SG_VNET_HDR_LEN : 0;

			if (ek.id >= q->nslots || ek.len > g->cfg.rx_buf_len || ek.len < skip ||
			    total + ek.len - skip > SVH_MAX_PKT_LEN) {
				bad = true;
			} else {
				guest_read(g, g->rx_buf_gpa + (uint64_t)ek.id * g->cfg.rx_buf_len + skip,
					   pkt + total, ek.len - skip);
				total += ek.len - skip;
			}
			if (ek.id < q->nslots && q->nfree < q->nslots)
				q->free_slots[q->nfree++] = ek.id;
		}
		q->last_used = (uint16_t)(q->last_used + nb);
		if (bad) {
			g->rx_bad_used++;
			continue;
		}
		{
			uint64_t seq;
			bool ok = o.offload ? ofl_check(pkt, total, &h.hdr, &seq) :
					      (total >= SP_HDR_LEN && !sp_check(pkt, total, &seq));

			if (!ok) {
				g->rx_bad++;
			} else if (seq < g->rx_seq || (!o.lossy && seq != g->rx_seq)) {
				g->rx_out_of_order++;
				/* --lossy: a late packet was counted lost when skipped */
				if (o.lossy && seq < g->rx_seq && f->lost[qi])
					f->lost[qi]--;
			} else {
				f->lost[qi] += seq - g->rx_seq;
				g->rx_seq = seq + 1;
			}
		}
		g->rx_pkts++;
		g->rx_bytes += total;
		pkts++;
	}
	sg_write_once(&q->avail->ring[q->num], q->last_used);	/* EVENT_IDX: wake me next */
	return pkts;
}

static int secure_session(struct fe *f)
{
	struct svh_dev_opts dopts = {
		.sz = sizeof(dopts), .flags = o.memfd ? SVH_DEV_F_TEST_MEMFD : 0,
		.queue_pairs = o.queues, .mode = o.pd_mode, .cpu = o.pd_cpu, .name = "svhost-fe",
	};
	struct svh_mem_region regs[3 * QP_MAX];
	uint64_t bf, gf;
	unsigned nr = 0;
	int rc;

	rc = handshake(f, true, &bf);
	if (rc)
		return rc;
	rc = get_port(f);
	if (rc)
		return rc;
	gf = guest_features(bf);
	rc = guests_init(f, gf);
	if (rc)
		return rc;
	rc = svh_dev_create(&f->dev, &dopts);
	if (rc) {
		say("svh_dev_create: %s", strerror(-rc));
		return rc;
	}
	rc = pthread_create(&f->pd, NULL, pd_main, f->dev);
	if (rc)
		return -rc;
	f->pd_running = true;
	rc = svh_dev_set_port(f->dev, f->port.name, f->port_fds[0], f->port_fds[1]);
	for (int i = 0; i < 2; i++)
		if (f->port_fds[i] >= 0)
			close(f->port_fds[i]);
	if (rc) {
		say("cannot attach to broker port '%s': %s (fail closed)", f->port.name,
		    strerror(-rc));
		return rc;
	}
	say("PD attached to '%s' as copier", f->port.name);

	/* step 6 */
	rc = vu_set(f, VU_SET_OWNER, NULL, 0, NULL, 0);
	if (!rc)
		rc = set_u64(f, VU_SET_FEATURES,
			     ((gf & ~(1ULL << F_LOG_ALL)) | (1ULL << F_PROTOCOL_FEATURES)) & bf,
			     NULL, 0);
	if (rc)
		return rc;
	f->features = gf;
	for (unsigned q = 0; q < o.queues; q++) {
		unsigned k;

		sg_mem_regions(&f->g[q], regs + nr, &k);
		nr += k;
	}
	if ((rc = svh_dev_set_features(f->dev, gf)) ||
	    (rc = svh_dev_set_mem_table(f->dev, regs, nr)))
		return rc;
	/* step 7, per vring */
	for (unsigned i = 0; i < 2 * o.queues; i++) {
		struct sg_queue *q = vring_queue(f, i);
		struct vhost_vring_addr a;
		int kick, call;

		sg_vring_addr(&f->g[i / 2], !(i % 2), i, &a);
		if ((rc = svh_dev_set_vring_num(f->dev, i, q->num)) ||
		    (rc = svh_dev_set_vring_base(f->dev, i, 0)) ||
		    (rc = svh_dev_set_vring_addr(f->dev, &a)) ||
		    (rc = svh_dev_set_vring_kick(f->dev, i, q->kick_fd)) ||
		    (rc = svh_dev_set_vring_call(f->dev, i, q->call_fd)) ||
		    (rc = svh_dev_doorbells(f->dev, i, &kick, &call)))
			return rc;
		if ((rc = set_u64(f, VU_SET_VRING_KICK, i, &kick, 1)) ||
		    (rc = set_u64(f, VU_SET_VRING_CALL, i, &call, 1)) ||
		    (rc = set_state(f, VU_SET_VRING_ENABLE, i, 1)))
			return rc;
		if ((rc = svh_dev_set_vring_enable(f->dev, i, true)))
			return rc;
	}
	return 0;
}

static int classic_session(struct fe *f)
{
	struct {
		uint32_t nregions, padding;
		struct vu_region r[8];
	} mem = { 0 };
	int fds[8];
	uint64_t bf, gf;
	int rc;

	say("CLASSIC MODE: the synthetic guest's memory is shared with the back end "
	    "(SET_MEM_TABLE): no isolation, baseline and negative control only");
	rc = handshake(f, false, &bf);
	if (rc)
		return rc;
	gf = guest_features(bf) & bf;
	rc = guests_init(f, gf);
	if (rc)
		return rc;
	rc = vu_set(f, VU_SET_OWNER, NULL, 0, NULL, 0);
	if (!rc)
		rc = set_u64(f, VU_SET_FEATURES, gf | (1ULL << F_PROTOCOL_FEATURES), NULL, 0);
	if (rc)
		return rc;
	f->features = gf;
	for (unsigned q = 0; q < o.queues; q++) {
		struct synth_guest *g = &f->g[q];

		for (unsigned i = 0; i < g->nregions; i++) {
			if (mem.nregions == 8)
				return -E2BIG;
			mem.r[mem.nregions] = (struct vu_region){ g->regions[i].gpa, g->regions[i].size,
								  g->regions[i].uaddr, 0 };
			fds[mem.nregions++] = g->memfd[i];
		}
	}
	rc = vu_set(f, VU_SET_MEM_TABLE, &mem, 8 + mem.nregions * sizeof(struct vu_region), fds,
		    mem.nregions);
	if (rc)
		return rc;
	for (unsigned i = 0; i < 2 * o.queues; i++) {
		struct sg_queue *q = vring_queue(f, i);
		struct vhost_vring_addr a;

		sg_vring_addr(&f->g[i / 2], !(i % 2), i, &a);
		if ((rc = set_state(f, VU_SET_VRING_NUM, i, q->num)) ||
		    (rc = set_state(f, VU_SET_VRING_BASE, i, 0)) ||
		    (rc = vu_set(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0)) ||
		    (rc = set_u64(f, VU_SET_VRING_KICK, i, &q->kick_fd, 1)) ||
		    (rc = set_u64(f, VU_SET_VRING_CALL, i, &q->call_fd, 1)) ||
		    (rc = set_state(f, VU_SET_VRING_ENABLE, i, 1)))
			return rc;
	}
	return 0;
}

/* ---- the guests' traffic ------------------------------------------------------------------ */

struct totals {
	uint64_t tx, rx, rx_bytes, bad, ooo, short_, bad_used, lost;
};

static void sum(struct fe *f, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned q = 0; q < o.queues; q++) {
		t->tx += f->g[q].tx_done;
		t->rx += f->g[q].rx_pkts;
		t->rx_bytes += f->g[q].rx_bytes;
		t->bad += f->g[q].rx_bad;
		t->ooo += f->g[q].rx_out_of_order;
		t->short_ += f->g[q].rx_short;
		t->bad_used += f->g[q].rx_bad_used;
		t->lost += f->lost[q];
	}
}

/* Is the back end still there?  (The socket carries nothing once running.) */
static bool peer_gone(struct fe *f)
{
	struct pollfd p = { f->sock, POLLIN, 0 };
	char c;

	if (poll(&p, 1, 0) != 1)
		return false;
	return recv(f->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

/*
 * Idle: sleep on the guests' interrupts (the PD signals the call eventfds
 * as EVENT_IDX asks) and on the socket, as a guest with nothing to do
 * would, instead of spinning on CPUs the PD and the vSwitch need.
 */
static void wait_guests(struct fe *f, int timeout_ms)
{
	struct pollfd p[2 * QP_MAX + 1];
	unsigned n = 0;
	uint64_t v;

	for (unsigned q = 0; q < o.queues; q++) {
		p[n++] = (struct pollfd){ f->g[q].rx.call_fd, POLLIN, 0 };
		p[n++] = (struct pollfd){ f->g[q].tx.call_fd, POLLIN, 0 };
	}
	p[n++] = (struct pollfd){ f->sock, POLLIN, 0 };
	if (poll(p, n, timeout_ms) <= 0)
		return;
	for (unsigned i = 0; i + 1 < n; i++)
		if (p[i].revents & POLLIN)
			while (read(p[i].fd, &v, sizeof(v)) == sizeof(v))
				;
}

/*
 * One queue pair's guest: post its share of the packets, reap, receive.
 * Sizes cycle over all queue pairs' packets, so every size is sent.
 */
static unsigned guest_pass(struct fe *f, unsigned q, uint64_t nsend)
{
	struct synth_guest *g = &f->g[q];

	unsigned work = 0, k = 0;

	if (o.tx) {
		if (o.rate > 0) {
			/* --rate: no more than the schedule allows so far */
			uint64_t allowed = (uint64_t)((now() - f->t_start) * o.rate) + 1;

			if (allowed < nsend)
				nsend = allowed;
		}
		while (g->tx_seq < nsend &&
		       (o.offload ? ofl_tx_post(g, size_for(g->tx_seq * o.queues + q)) :
				    sg_tx_post(g, size_for(g->tx_seq * o.queues + q))))
			k++;
		if (k)
			sg_kick_if_needed(g, &g->tx);
		work += k;
		work += sg_tx_reap(g);
	}
	if (o.rx) {
		work += o.offload || o.lossy ? own_rx_poll(f, q) : sg_rx_poll(g);
		if (sg_rx_refill(g)) {
			sg_kick_if_needed(g, &g->rx);
			work++;
		}
	}
	return work;
}

/* Run until every packet went out and came in, the back end left, or time ran out. */
static int traffic(struct fe *f, double deadline, bool *gone)
{
	uint64_t expect = o.expect < 0 ? o.packets : (uint64_t)o.expect, rx_seen = 0;
	double t0 = now(), last = t0, rx_progress = t0;
	unsigned idle = 0;
	struct totals t;

	*gone = false;
	f->t_start = t0;
	for (;;) {
		unsigned work = 0;
		bool done = true;

		bool tx_done = true;

		for (unsigned q = 0; q < o.queues; q++) {
			/* the packets split over the queue pairs, the first ones take the rest */
			uint64_t share = o.packets / o.queues + (q < o.packets % o.queues);
			uint64_t eshare = expect / o.queues + (q < expect % o.queues);
			struct synth_guest *g = &f->g[q];

			work += guest_pass(f, q, share);
			if (o.tx && g->tx_done < share)
				tx_done = done = false;
			if (o.rx && g->rx_pkts + f->lost[q] < eshare)
				done = false;
		}
		sum(f, &t);
		if (t.rx != rx_seen) {
			rx_seen = t.rx;
			rx_progress = now();
		}
		/* --lossy: what has not come a while after the last packet went is lost */
		if (!done && o.lossy && tx_done && now() - rx_progress > (o.linger > 3 ? o.linger : 3)) {
			for (unsigned q = 0; q < o.queues; q++) {
				uint64_t eshare = expect / o.queues + (q < expect % o.queues);

				if (f->g[q].rx_pkts + f->lost[q] < eshare)
					f->lost[q] = eshare - f->g[q].rx_pkts;
			}
			done = true;
		}
		if (done) {
			/*
			 * A packet is complete for the guest once the PD has put
			 * it in the pool, before the vSwitch took it: stay a
			 * little, as a guest does, before closing the session.
			 */
			double end = now() + o.linger;

			while (now() < end && !peer_gone(f)) {
				for (unsigned q = 0; q < o.queues; q++)
					guest_pass(f, q, 0);
				wait_guests(f, 10);
			}
			break;
		}
		if (now() > deadline) {
			sum(f, &t);
			say("timeout: sent %llu of %llu, received %llu of %llu",
			    (unsigned long long)t.tx, (unsigned long long)(o.tx ? o.packets : 0),
			    (unsigned long long)t.rx, (unsigned long long)(o.rx ? expect : 0));
			return -ETIMEDOUT;
		}
		if (!work) {
			if (++idle % 4 == 0) {
				if (peer_gone(f)) {
					*gone = true;
					return -EPIPE;
				}
				wait_guests(f, 5);
			}
		} else {
			idle = 0;
		}
		if (!o.quiet && now() - last > 10) {
			sum(f, &t);
			last = now();
			say("%.0f s: sent %llu, received %llu", last - t0, (unsigned long long)t.tx,
			    (unsigned long long)t.rx);
		}
	}
	return 0;
}

/* ---- hostile mode ---------------------------------------------------------------------------- */

static int hostile_attach(struct fe *f)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *r, *p;

	if (f->port_fds[0] >= 0) {
		/* test-only memfd transport: header + rings, pool */
		svhost_layout_compute(&f->hl, f->port.queue_pairs, f->port.ring_size,
				      f->port.buf_size, f->port.buf_count, (uint64_t)pg);
		r = mmap(NULL, f->hl.rings_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 f->port_fds[0], (off_t)f->hl.rings_offset);
		p = mmap(NULL, f->hl.pool_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 f->port_fds[1], 0);
	} else {
		struct svhost_copier_attach a = { .pkey = -1 };
		int pkey = (int)syscall(SYS_pkey_alloc, 0, 0);

		f->hfd = open("/dev/svhost", O_RDWR | O_CLOEXEC);
		if (f->hfd < 0)
			return -errno;
		a.pkey = pkey >= 0 ? pkey : -1;
		memcpy(a.name, f->port.name, sizeof(a.name));
		if (ioctl(f->hfd, SVHOST_COPIER_ATTACH, &a))
			return -errno;
		f->hl = a.layout;
		r = mmap(NULL, f->hl.rings_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->hfd,
			 (off_t)f->hl.rings_offset);
		p = mmap(NULL, f->hl.pool_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->hfd,
			 (off_t)f->hl.pool_offset);
	}
	if (r == MAP_FAILED || p == MAP_FAILED)
		return -errno;
	f->hrings = r;
	f->hpool = p;
	say("HOSTILE: mapped the rings and pool of '%s' without libsvhost", f->port.name);
	return 0;
}

static struct svhost_ring *hring(struct fe *f, unsigned idx)
{
	return (struct svhost_ring *)(f->hrings + (uint64_t)idx * f->hl.ring_stride);
}

static uint64_t rnd(void)
{
	static uint64_t x = 0x9E3779B97F4A7C15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

/*
 * One round of abuse on ring idx: complete what the vSwitch posted with
 * garbage in every field it must validate, or move cons where it must not
 * go, or scribble over buffers it owns.  Kinds rotate.
 */
static void hostile_round(struct fe *f, unsigned idx, unsigned kind)
{
	struct svhost_ring *r = hring(f, idx);
	uint32_t mask = f->hl.ring_size - 1;
	uint32_t prod = __atomic_load_n(&r->prod, __ATOMIC_ACQUIRE);
	uint32_t cons = __atomic_load_n(&r->cons, __ATOMIC_RELAXED);
	uint32_t n = prod - cons;

	if (n > f->hl.ring_size)
		n = f->hl.ring_size;
	for (uint32_t i = 0; i < n; i++) {
		struct svhost_desc *d = &r->desc[(cons + i) & mask];

		switch (kind % 9) {
		case 0:	/* length beyond the buffer */
			d->len = f->hl.buf_size + 1 + (uint32_t)(rnd() % 100000);
			break;
		case 1:	/* unknown flags */
			d->len = 64;
			d->flags = (uint16_t)(rnd() | 0x8000);
			break;
		case 2:	/* a chain that never ends */
			d->len = f->hl.buf_size;
			d->flags = SVHOST_DESC_F_NEXT;
			break;
		case 3:	/* offload fields that make no sense */
			d->len = 100;
			d->flags = SVHOST_DESC_F_OFFLOAD;
			d->vnet_flags = (uint8_t)rnd();
			d->gso_type = (uint8_t)rnd();
			d->csum_start = (uint16_t)rnd();
			d->csum_offset = (uint16_t)rnd();
			d->gso_size = (uint16_t)rnd();
			d->hdr_len = (uint16_t)rnd();
			break;
		case 4:	/* another buffer's offset, or one outside the pool */
			d->offset = rnd() % 2 ? rnd() : (rnd() % f->hl.buf_count) * f->hl.buf_size;
			d->len = 64;
			d->flags = 0;
			break;
		case 5:	/* reserved bits */
			d->len = 64;
			d->flags = 0;
			d->reserved = rnd() | 1;
			break;
		case 6:	/* offload fields in a later slot of a chain */
			d->len = 64;
			d->flags = i % 2 ? SVHOST_DESC_F_OFFLOAD : SVHOST_DESC_F_NEXT;
			d->gso_type = 1;
			break;
		case 7:	/* an empty slot with flags */
			d->len = 0;
			d->flags = SVHOST_DESC_F_OFFLOAD;
			break;
		default:	/* a well-formed small packet among the bad ones */
			d->len = 60;
			d->flags = 0;
			d->vnet_flags = d->gso_type = 0;
			d->hdr_len = d->gso_size = d->csum_start = d->csum_offset = 0;
			d->reserved = 0;
			break;
		}
		/* the packet bytes change under the vSwitch's feet */
		memset(f->hpool + (rnd() % f->hl.buf_count) * f->hl.buf_size, (int)rnd(), 64);
	}
	switch (kind % 5) {
	case 0:	/* cons beyond prod */
		__atomic_store_n(&r->cons, prod + 1 + (uint32_t)(rnd() % 1000), __ATOMIC_RELEASE);
		break;
	case 1:	/* cons backwards */
		__atomic_store_n(&r->cons, cons - 1 - (uint32_t)(rnd() % 1000), __ATOMIC_RELEASE);
		break;
	default:	/* consume what we wrote */
		__atomic_store_n(&r->cons, cons + n, __ATOMIC_RELEASE);
		break;
	}
	r->cons_flags = (uint32_t)rnd();
	f->attacks++;
}

static int hostile_session(struct fe *f, double deadline)
{
	uint64_t bf;
	unsigned kind = 0;
	int rc;

	say("HOSTILE MODE: a compromised front end abuses the rings of the port");
	rc = handshake(f, true, &bf);
	if (rc)
		return rc;
	rc = get_port(f);
	if (rc)
		return rc;
	rc = hostile_attach(f);
	if (rc) {
		say("cannot attach to '%s': %s", f->port.name, strerror(-rc));
		return rc;
	}
	rc = vu_set(f, VU_SET_OWNER, NULL, 0, NULL, 0);
	if (!rc)
		rc = set_u64(f, VU_SET_FEATURES,
			     (guest_features(bf) | (1ULL << F_PROTOCOL_FEATURES)) & bf, NULL, 0);
	for (unsigned i = 0; !rc && i < 2 * o.queues; i++) {
		f->hvfd[i][0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->hvfd[i][1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if ((rc = set_u64(f, VU_SET_VRING_KICK, i, &f->hvfd[i][0], 1)) ||
		    (rc = set_u64(f, VU_SET_VRING_CALL, i, &f->hvfd[i][1], 1)) ||
		    (rc = set_state(f, VU_SET_VRING_ENABLE, i, 1)))
			break;
	}
	if (rc)
		return rc;
	while (now() < deadline) {
		for (unsigned i = 0; i < 2 * o.queues; i++) {
			uint64_t one = 1;

			hostile_round(f, i, kind + i);
			if (write(f->hvfd[i][0], &one, 8) != 8)
				break;
		}
		kind++;
		/* now and then a stop and start: the back end makes the ring quiescent */
		if (kind % 16 == 0) {
			unsigned i = (unsigned)(rnd() % (2 * o.queues));

			if ((rc = set_state(f, VU_SET_VRING_ENABLE, i, 0)) ||
			    (rc = set_state(f, VU_SET_VRING_ENABLE, i, 1)))
				return rc;
		}
		if (peer_gone(f)) {
			say("the back end closed the connection");
			return -EPIPE;
		}
		usleep(2000);
	}
	say("HOSTILE: %llu rounds of abuse written", (unsigned long long)f->attacks);
	return 0;
}

/* ---- main -------------------------------------------------------------------------------------- */

static void session_end(struct fe *f)
{
	if (f->dev)
		pd_stop(f);
	if (f->sock >= 0)
		close(f->sock);
	f->sock = -1;
	guests_fini(f);
	if (f->hrings) {
		munmap(f->hrings, f->hl.rings_size);
		munmap(f->hpool, f->hl.pool_size);
		f->hrings = f->hpool = NULL;
	}
	if (f->hfd >= 0)
		close(f->hfd);
	f->hfd = -1;
	for (unsigned i = 0; i < 2 * QP_MAX; i++)
		for (int k = 0; k < 2; k++)
			if (f->hvfd[i][k] >= 0) {
				close(f->hvfd[i][k]);
				f->hvfd[i][k] = -1;
			}
	for (int i = 0; i < 2; i++)
		if (f->port_fds[i] >= 0) {
			close(f->port_fds[i]);
			f->port_fds[i] = -1;
		}
}

static void print_stats(struct fe *f)
{
	struct svh_stat t[512];
	int n;

	if (!f->dev)
		return;
	n = svh_dev_stats(f->dev, t, 512);
	for (int i = 0; i < n && i < 512; i++)
		if (t[i].value)
			printf("# stat %s = %llu\n", t[i].name, (unsigned long long)t[i].value);
}

/* The PD's state after the back end left: OWNER_GONE within a few batches. */
static bool wait_owner_gone(struct fe *f)
{
	double end = now() + 5;

	while (now() < end) {
		if (svh_dev_state(f->dev, NULL) == SVH_DEV_OWNER_GONE)
			return true;
		usleep(10000);
	}
	return false;
}

static void usage(FILE *out)
{
	fprintf(out,
"Usage: svhost-fe [OPTION]... SOCKET\n"
"\n"
"A vhost-user front end without QEMU (the QEMU role of docs/PROTOCOL.md):\n"
"libsvhost's PD thread copies between synthetic guests and the broker port\n"
"of a secure back end; every packet is checked on arrival.\n"
"\n"
"  --server           listen on SOCKET (the back end connects: OVS\n"
"                     dpdkvhostuserclient, net_vhost client=1)\n"
"  --classic          classic vhost-user: share the guest's memory with the\n"
"                     back end (benchmark baseline, audit negative control)\n"
"  --hostile          a compromised front end: bad ring writes for --seconds\n"
"  --memfd            accept the TEST-ONLY memfd transport (no broker)\n"
"  --port NAME        refuse a back end that names another broker port\n"
"  --queues N         queue pairs (default 1)\n"
"  -n, --packets N    packets to send, over all queue pairs (default 10000)\n"
"  --expect N         packets to receive (default: --packets)\n"
"  --sizes LIST       packet sizes in bytes, cycled: 64,1518 or mix (default mix:\n"
"                     60..65536 bytes)\n"
"  --tx-only, --rx-only   one direction only\n"
"  --no-verify        do not check payloads (benchmark with foreign traffic)\n"
"  --rate PPS         send at most PPS packets per second per queue pair\n"
"  --lossy            the back end may drop packets (OVS does when a ring is\n"
"                     full): gaps in the sequence count as lost, not as errors;\n"
"                     late packets (OVS reorders a flow's first packets, which\n"
"                     take its upcall path) are counted out_of_order, not\n"
"                     errors; integrity is still checked\n"
"  --offload          TCP/IPv4 frames asking for checksum offload (and TSO above\n"
"                     one MSS); the frames and virtio-net headers that arrive\n"
"                     must match (sizes 70..65549; the back end must pass\n"
"                     offloads through, e.g. testpmd io with legacy-ol-flags=1)\n"
"  --seconds S        give up after S seconds (default 120); --hostile: run time\n"
"  --linger S         stay S seconds after the last packet (default 1): what the\n"
"                     PD completed may not have reached the vSwitch yet\n"
"  --sessions K       K sessions back to back, closing the socket in between\n"
"  --wait-restart     when the back end goes away, reconnect and go on\n"
"  --cpu C, --pd-cpu C    pin the guest thread, the PD thread\n"
"  --pd-mode M        adaptive (default), poll or fifo-yield\n"
"  --stats            print the PD's counters\n"
"  -q, --quiet        only the result line\n"
"  -h, --help         this help\n"
"\n"
"Exit: 0 pass, 1 fail, 2 usage, 4 skip.  Last line: result fe ... key=value.\n");
}

static int parse_sizes(const char *s)
{
	static const uint32_t mix[] = { 64, 1518, 512, 60, 9000, 128, 2048, 2049, 1500, 4000,
					65536, 100, 64, 256 };
	char *dup, *tok, *save = NULL;

	o.nsizes = 0;
	if (!strcmp(s, "mix")) {
		memcpy(o.sizes, mix, sizeof(mix));
		o.nsizes = sizeof(mix) / sizeof(mix[0]);
		return 0;
	}
	dup = strdup(s);
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long v = strtoul(tok, NULL, 0);

		if (v < 1 || v > SVH_MAX_PKT_LEN || o.nsizes == 64) {
			free(dup);
			return -1;
		}
		o.sizes[o.nsizes++] = (uint32_t)v;
	}
	free(dup);
	return o.nsizes ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", no_argument, 0, 'S' }, { "classic", no_argument, 0, 'C' },
		{ "hostile", no_argument, 0, 'H' }, { "memfd", no_argument, 0, 'M' },
		{ "port", required_argument, 0, 'P' }, { "queues", required_argument, 0, 'Q' },
		{ "packets", required_argument, 0, 'n' }, { "expect", required_argument, 0, 'e' },
		{ "sizes", required_argument, 0, 'z' }, { "tx-only", no_argument, 0, 'T' },
		{ "rx-only", no_argument, 0, 'R' }, { "no-verify", no_argument, 0, 'V' },
		{ "seconds", required_argument, 0, 't' }, { "sessions", required_argument, 0, 'k' },
		{ "wait-restart", no_argument, 0, 'W' }, { "linger", required_argument, 0, 'L' }, { "cpu", required_argument, 0, 'c' },
		{ "pd-cpu", required_argument, 0, 'p' }, { "pd-mode", required_argument, 0, 'm' },
		{ "stats", no_argument, 0, 's' }, { "quiet", no_argument, 0, 'q' },
		{ "offload", no_argument, 0, 'O' }, { "lossy", no_argument, 0, 'l' },
		{ "rate", required_argument, 0, 'r' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	struct fe f = { .sock = -1, .lsock = -1, .hfd = -1, .port_fds = { -1, -1 } };
	unsigned sessions = 0, restarts = 0;
	struct totals all = { 0 }, t;
	double t0, deadline;
	int c, rc = 0;

	parse_sizes("mix");
	while ((c = getopt_long(argc, argv, "qhn:", lo, NULL)) != -1) {
		switch (c) {
		case 'S': o.server = true; break;
		case 'C': o.mode = M_CLASSIC; break;
		case 'H': o.mode = M_HOSTILE; break;
		case 'M': o.memfd = true; break;
		case 'P': o.port = optarg; break;
		case 'Q': o.queues = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'n': o.packets = strtoull(optarg, NULL, 0); break;
		case 'e': o.expect = strtoll(optarg, NULL, 0); break;
		case 'z':
			if (parse_sizes(optarg)) {
				fprintf(stderr, "svhost-fe: bad --sizes %s\n", optarg);
				return 2;
			}
			break;
		case 'T': o.rx = false; break;
		case 'R': o.tx = false; break;
		case 'V': o.verify = false; break;
		case 't': o.seconds = strtod(optarg, NULL); break;
		case 'k': o.sessions = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'W': o.wait_restart = true; break;
		case 'L': o.linger = strtod(optarg, NULL); break;
		case 'c': o.cpu = atoi(optarg); break;
		case 'p': o.pd_cpu = atoi(optarg); break;
		case 'm':
			if (!strcmp(optarg, "poll"))
				o.pd_mode = SVH_SCHED_POLL;
			else if (!strcmp(optarg, "adaptive"))
				o.pd_mode = SVH_SCHED_ADAPTIVE;
			else if (!strcmp(optarg, "fifo-yield"))
				o.pd_mode = SVH_SCHED_FIFO_YIELD;
			else {
				fprintf(stderr, "svhost-fe: unknown --pd-mode %s\n", optarg);
				return 2;
			}
			break;
		case 's': o.stats = true; break;
		case 'O': o.offload = true; break;
		case 'l': o.lossy = true; break;
		case 'r': o.rate = strtod(optarg, NULL); break;
		case 'q': o.quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	for (unsigned i = 0; o.offload && i < o.nsizes; i++)
		if (o.sizes[i] < OFL_HDRS + SP_HDR_LEN || o.sizes[i] > 65535 + 14) {
			fprintf(stderr, "svhost-fe: --offload needs sizes of 70..65549\n");
			return 2;
		}
	if (optind != argc - 1 || o.queues < 1 || o.queues > QP_MAX || !o.sessions ||
	    (!o.tx && !o.rx) || (o.mode == M_CLASSIC && o.memfd)) {
		usage(stderr);
		return 2;
	}
	o.path = argv[optind];
	for (unsigned i = 0; i < 2 * QP_MAX; i++)
		f.hvfd[i][0] = f.hvfd[i][1] = -1;
	signal(SIGPIPE, SIG_IGN);
	svh_set_print(print_cb);
	if (o.cpu >= 0) {
		cpu_set_t s;

		CPU_ZERO(&s);
		CPU_SET(o.cpu, &s);
		sched_setaffinity(0, sizeof(s), &s);
	}
	if (o.mode != M_CLASSIC && !o.memfd && access("/dev/svhost", R_OK | W_OK)) {
		say("no /dev/svhost (and no --memfd): skipping");
		printf("result fe skip=1\n");
		return EXIT_SKIP;
	}

	t0 = now();
	deadline = t0 + o.seconds;
	while (sessions < o.sessions) {
		bool gone = false;

		rc = connect_socket(&f, deadline);
		if (rc) {
			say("cannot connect to %s: %s", o.path, strerror(-rc));
			break;
		}
		say("session %u: connected to %s", sessions + 1, o.path);
		if (o.mode == M_HOSTILE) {
			rc = hostile_session(&f, deadline);
			session_end(&f);
			sessions++;
			break;
		}
		rc = o.mode == M_CLASSIC ? classic_session(&f) : secure_session(&f);
		if (rc == -EPROTONOSUPPORT) {
			session_end(&f);
			printf("result fe refused=1\n");
			return EXIT_SKIP;
		}
		if (!rc)
			rc = traffic(&f, deadline, &gone);
		sum(&f, &t);
		all.tx += t.tx;
		all.rx += t.rx;
		all.rx_bytes += t.rx_bytes;
		all.bad += t.bad;
		all.ooo += t.ooo;
		all.short_ += t.short_;
		all.bad_used += t.bad_used;
		all.lost += t.lost;
		if (o.stats)
			print_stats(&f);
		if (gone && o.wait_restart && f.dev) {
			bool og = wait_owner_gone(&f);

			say("the back end went away; the PD reports %s", og ? "owner-gone" :
			    svh_dev_state_name(svh_dev_state(f.dev, NULL)));
			if (!og && !o.memfd) {
				rc = -EPROTO;
				session_end(&f);
				break;
			}
			restarts++;
			session_end(&f);
			continue;	/* the same session again, on the new port */
		}
		session_end(&f);
		if (rc) {
			say("session %u failed: %s", sessions + 1, strerror(-rc));
			break;
		}
		sessions++;
	}
	if (f.lsock >= 0) {
		close(f.lsock);
		unlink(o.path);
	}
	printf("result fe mode=%s sessions=%u restarts=%u sent=%llu received=%llu bytes=%llu "
	       "bad=%llu out_of_order=%llu short=%llu bad_used=%llu lost=%llu attacks=%llu "
	       "seconds=%.1f\n",
	       o.mode == M_CLASSIC ? "classic" : o.mode == M_HOSTILE ? "hostile" : "secure",
	       sessions, restarts, (unsigned long long)all.tx, (unsigned long long)all.rx,
	       (unsigned long long)all.rx_bytes, (unsigned long long)all.bad,
	       (unsigned long long)all.ooo, (unsigned long long)all.short_,
	       (unsigned long long)all.bad_used, (unsigned long long)all.lost,
	       (unsigned long long)f.attacks, now() - t0);
	/* --lossy: OVS may reorder (a flow's first packets take the upcall path) */
	if (rc || all.bad || (all.ooo && !o.lossy) || all.bad_used || (o.verify && all.short_))
		return 1;
	return 0;
}
