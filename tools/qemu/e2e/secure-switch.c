// SPDX-License-Identifier: GPL-2.0
/*
 * secure-switch: a two-port secure vhost-user vSwitch for the QEMU
 * end-to-end test, on libsvhost's vSwitch role (svhost/vswitch.h, what the
 * DPDK series glues to lib/vhost).  Each port is a broker port (or, with
 * --test-memfd, the test-only memfd pool) served on a vhost-user socket in
 * secure mode (docs/PROTOCOL.md); every packet one guest sends is copied
 * to the other.  One queue pair per port, one thread, poll() loop.
 *
 *   secure-switch [--test-memfd] PORT_A SOCKET_A PORT_B SOCKET_B
 *
 * It refuses what a secure back end refuses: forbidden requests (the
 * connection is dropped), file descriptors that are not one eventfd with
 * SET_VRING_KICK/CALL; it prints a line per request and counters on exit
 * (SIGTERM/SIGINT).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <svhost/vswitch.h>

enum {
	GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, RESET_OWNER = 4,
	GET_VRING_BASE = 11, SET_VRING_KICK = 12, SET_VRING_CALL = 13,
	GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES = 16,
	GET_QUEUE_NUM = 17, SET_VRING_ENABLE = 18, SEND_RARP = 19,
	SVHOST_GET_PORT = 1024,
};
#define F_VERSION_1	32
#define F_PROTOCOL	30
#define PF_MQ		0
#define PF_REPLY_ACK	3
#define PF_SVHOST	48
#define FLAG_REPLY	0x4
#define FLAG_NEED_REPLY	0x8

struct msg {
	uint32_t request, flags, size;
	union {
		uint64_t u64;
		struct { uint32_t index, num; } state;
		struct {
			uint32_t version, flags;
			char name[32];
			uint32_t queue_pairs, ring_size, buf_size, buf_count;
			uint64_t reserved[2];
		} port;
		uint8_t raw[512];
	} p;
} __attribute__((packed));

struct port {
	const char *name, *path;
	struct svh_vsw *vsw;
	int lfd, cfd;
	int kick[2], call[2];
	bool started[2];
	unsigned long requests, forbidden, bad_fds, fwd;
};

static bool test_memfd;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "secure-switch: %s: %s\n", what, strerror(err));
	exit(1);
}

static void reply(struct port *p, struct msg *m, uint32_t size, int *fds, int nfds)
{
	struct iovec iov = { m, 12 + size };
	char ctl[CMSG_SPACE(2 * sizeof(int))] = { 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	m->flags = 1 | FLAG_REPLY;
	m->size = size;
	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	if (sendmsg(p->cfd, &mh, MSG_NOSIGNAL) < 0)
		fprintf(stderr, "secure-switch: %s: reply: %s\n", p->name, strerror(errno));
}

static bool is_eventfd(int fd)
{
	char link[64], target[64] = "";

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return readlink(link, target, sizeof(target) - 1) > 0 &&
	       !strcmp(target, "anon_inode:[eventfd]");
}

static void ring(struct port *p, unsigned idx, bool start)
{
	enum svh_vsw_dir dir = idx ? SVH_VSW_TO_VSWITCH : SVH_VSW_TO_GUEST;

	svh_vsw_set_doorbells(p->vsw, 0, dir, p->call[idx], p->kick[idx]);
	if (start && !p->started[idx])
		p->started[idx] = !svh_vsw_ring_start(p->vsw, 0, dir);
	else if (!start && p->started[idx])
		p->started[idx] = svh_vsw_ring_stop(p->vsw, 0, dir) != 0;
}

static void session_end(struct port *p)
{
	for (unsigned i = 0; i < 2; i++) {
		ring(p, i, false);
		if (p->kick[i] >= 0)
			close(p->kick[i]);
		if (p->call[i] >= 0)
			close(p->call[i]);
		p->kick[i] = p->call[i] = -1;
	}
	close(p->cfd);
	p->cfd = -1;
	printf("%s: session closed\n", p->name);
}

/* One request; false: drop the connection. */
static bool handle(struct port *p, struct msg *m, int *fds, int nfds)
{
	unsigned idx = m->p.u64 & 0xff;
	bool replied = false;

	p->requests++;
	printf("%s: request %u (%d fds)\n", p->name, m->request, nfds);
	if ((m->request == SET_VRING_KICK || m->request == SET_VRING_CALL) ?
	    nfds > 1 || (nfds && !is_eventfd(fds[0])) : nfds) {
		p->bad_fds++;
		return false;
	}
	switch (m->request) {
	case GET_FEATURES:
		m->p.u64 = 1ULL << F_PROTOCOL | 1ULL << F_VERSION_1;
		reply(p, m, 8, NULL, 0);
		replied = true;
		break;
	case GET_PROTOCOL_FEATURES:
		m->p.u64 = 1ULL << PF_MQ | 1ULL << PF_REPLY_ACK | 1ULL << PF_SVHOST;
		reply(p, m, 8, NULL, 0);
		replied = true;
		break;
	case SET_PROTOCOL_FEATURES:
		if (!(m->p.u64 & (1ULL << PF_SVHOST)))
			return false;
		break;
	case GET_QUEUE_NUM:
		m->p.u64 = 1;
		reply(p, m, 8, NULL, 0);
		replied = true;
		break;
	case SVHOST_GET_PORT: {
		int mfd[2];
		uint32_t qp, rs, bs, bc;

		if (m->size != sizeof(m->p.port) || m->p.port.version != 1)
			return false;
		svh_vsw_geometry(p->vsw, &qp, &rs, &bs, &bc);
		memset(&m->p.port, 0, sizeof(m->p.port));
		m->p.port.version = 1;
		snprintf(m->p.port.name, sizeof(m->p.port.name), "%s", p->name);
		m->p.port.queue_pairs = qp;
		m->p.port.ring_size = rs;
		m->p.port.buf_size = bs;
		m->p.port.buf_count = bc;
		if (test_memfd && !svh_vsw_test_memfds(p->vsw, &mfd[0], &mfd[1])) {
			m->p.port.flags = 2;
			reply(p, m, sizeof(m->p.port), mfd, 2);
		} else {
			reply(p, m, sizeof(m->p.port), NULL, 0);
		}
		replied = true;
		break;
	}
	case SET_VRING_KICK:
	case SET_VRING_CALL: {
		int *slot = m->request == SET_VRING_KICK ? p->kick : p->call;

		if (idx > 1)
			return false;
		if (slot[idx] >= 0)
			close(slot[idx]);
		slot[idx] = nfds ? dup(fds[0]) : -1;
		ring(p, idx, p->started[idx]);
		break;
	}
	case SET_VRING_ENABLE:
		if (m->p.state.index > 1)
			return false;
		ring(p, m->p.state.index, m->p.state.num);
		break;
	case GET_VRING_BASE:
		if (m->p.state.index > 1)
			return false;
		ring(p, m->p.state.index, false);
		m->p.state.num = 0;
		reply(p, m, sizeof(m->p.state), NULL, 0);
		replied = true;
		break;
	case SET_FEATURES:
	case SET_OWNER:
	case RESET_OWNER:
	case SEND_RARP:
		break;
	default:
		p->forbidden++;
		fprintf(stderr, "secure-switch: %s: forbidden request %u: dropping the"
			" connection\n", p->name, m->request);
		return false;
	}
	if (!replied && (m->flags & FLAG_NEED_REPLY)) {
		m->p.u64 = 0;
		reply(p, m, 8, NULL, 0);
	}
	return true;
}

static void serve(struct port *p)
{
	char ctl[CMSG_SPACE(8 * sizeof(int))];
	struct msg m;
	struct iovec iov = { &m, 12 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	int fds[8], nfds = 0;
	struct cmsghdr *c;
	bool ok;

	if (recvmsg(p->cfd, &mh, MSG_CMSG_CLOEXEC) != 12 || m.size > sizeof(m.p) ||
	    (m.size && read(p->cfd, &m.p, m.size) != (ssize_t)m.size)) {
		session_end(p);
		return;
	}
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
		}
	ok = handle(p, &m, fds, nfds);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (!ok)
		session_end(p);
}

/* Copy what the guest of `from` sent to the guest of `to`. */
static void forward(struct port *from, struct port *to)
{
	static uint8_t buf[SVH_MAX_PKT_LEN];
	struct svh_vsw_rx rx[32];
	unsigned n = svh_vsw_recv(from->vsw, 0, rx, 32);

	for (unsigned i = 0; i < n; i++) {
		struct iovec iov = { buf, rx[i].len };
		struct svh_vsw_pkt pkt = { .iov = &iov, .iovcnt = 1, .len = rx[i].len,
					   .hdr = rx[i].hdr };

		if (svh_vsw_recv_copy(from->vsw, 0, &rx[i], 0, &iov, 1) == (int)rx[i].len &&
		    to->started[0] && svh_vsw_send(to->vsw, 0, &pkt, 1) == 1)
			to->fwd++;
	}
	if (n)
		svh_vsw_recv_release(from->vsw, 0, n);
}

static void port_init(struct port *p, const char *name, const char *path)
{
	struct svh_vsw_opts o = {
		.sz = sizeof(o), .flags = test_memfd ? SVH_VSW_F_TEST_MEMFD : 0,
		.queue_pairs = 1, .ring_size = 256, .buf_size = 2048,
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rc;

	memset(p, 0, sizeof(*p));
	p->name = name;
	p->path = path;
	p->cfd = -1;
	p->kick[0] = p->kick[1] = p->call[0] = p->call[1] = -1;
	rc = svh_vsw_create(&p->vsw, name, &o);
	if (rc)
		die(name, -rc);
	p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(p->lfd, 1))
		die(path, errno);
}

int main(int argc, char **argv)
{
	struct port port[2];

	if (argc > 1 && !strcmp(argv[1], "--test-memfd")) {
		test_memfd = true;
		argv++;
		argc--;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: secure-switch [--test-memfd] PORT_A SOCKET_A"
			" PORT_B SOCKET_B\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	port_init(&port[0], argv[1], argv[2]);
	port_init(&port[1], argv[3], argv[4]);
	printf("secure-switch: ports %s and %s ready\n", argv[1], argv[3]);

	while (!stop) {
		struct pollfd pfd[2];

		for (int i = 0; i < 2; i++) {
			pfd[i].fd = port[i].cfd >= 0 ? port[i].cfd : port[i].lfd;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, 2, 1) < 0 && errno != EINTR)
			die("poll", errno);
		for (int i = 0; i < 2; i++) {
			struct port *p = &port[i];

			if (!(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (p->cfd < 0) {
				p->cfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
				printf("%s: session opened\n", p->name);
			} else {
				serve(p);
			}
		}
		if (port[0].started[1])
			forward(&port[0], &port[1]);
		if (port[1].started[1])
			forward(&port[1], &port[0]);
	}
	for (int i = 0; i < 2; i++) {
		printf("%s: requests %lu forbidden %lu bad_fds %lu forwarded_to %lu\n",
		       port[i].name, port[i].requests, port[i].forbidden, port[i].bad_fds,
		       port[i].fwd);
		if (port[i].cfd >= 0)
			session_end(&port[i]);
		svh_vsw_destroy(port[i].vsw);
		unlink(port[i].path);
	}
	return port[0].forbidden + port[1].forbidden + port[0].bad_fds + port[1].bad_fds ? 1 : 0;
}
