/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vswitch.h: the vSwitch (owner) role of a secure-vhost port, shaped for a
 * DPDK-style poll loop.  PROPOSED libsvhost 1.0 API: the DPDK lib/vhost
 * secure mode is glue over these calls and nothing else; it converts mbufs
 * to scatter lists and ol_flags to virtio-net headers, libsvhost does the
 * rest (buffer management, rings, validation, doorbells, counters).
 *
 * One struct svh_vsw is one broker port (or, for tests and benchmarks only,
 * one memfd pool, see SVH_VSW_F_TEST_MEMFD).  Queue pair q has two rings:
 * TO_GUEST (vhost-user vring 2q, rte_vhost_enqueue_burst) and TO_VSWITCH
 * (vring 2q+1, rte_vhost_dequeue_burst).  Each ring owns its own slice of the
 * pool and its own LIFO free list, so the two rings of a queue pair and
 * different queue pairs may be driven from different threads; one ring must
 * be driven by one thread at a time (DPDK's per-virtqueue lock).
 *
 * Per-packet calls (svh_vsw_send, svh_vsw_recv, svh_vsw_recv_copy,
 * svh_vsw_recv_release) make no system call and no allocation, except the
 * doorbell eventfd write when the peer asked to be woken (at most one per
 * call).  All functions return negative errno on error.
 */
#ifndef SVHOST_VSWITCH_H
#define SVHOST_VSWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

#include "svhost/api.h"

#ifdef __cplusplus
extern "C" {
#endif

struct svh_vsw;

/* Test-only: the pool lives in memfds instead of the broker (no isolation). */
#define SVH_VSW_F_TEST_MEMFD	0x1u
/*
 * With SVH_VSW_F_TEST_MEMFD only: the pool memfd is MFD_HUGETLB (2 MiB
 * pages; 4 KiB with a warning when none are reserved).  The broker maps
 * pools with 4 KiB pages; this exists so benchmarks can measure the
 * difference.
 */
#define SVH_VSW_F_TEST_HUGETLB	0x2u

struct svh_vsw_opts {
	size_t sz;		/* sizeof(struct svh_vsw_opts), for growth */
	uint32_t flags;		/* SVH_VSW_F_* */
	uint32_t queue_pairs;	/* 1..SVHOST_MAX_QUEUE_PAIRS */
	uint32_t ring_size;	/* slots per ring, power of two */
	uint32_t buf_size;	/* bytes per pool buffer, power of two */
	uint32_t buf_count;	/* 0: 2 * queue_pairs * ring_size */
};

/* Create the port (SVHOST_PORT_CREATE) and map it. */
SVH_API int svh_vsw_create(struct svh_vsw **out, const char *port_name,
			   const struct svh_vsw_opts *opts);
/* Close the port: every ring is stopped first.  NULL is a no-op. */
SVH_API void svh_vsw_destroy(struct svh_vsw *v);

SVH_API const char *svh_vsw_name(const struct svh_vsw *v);
/* Geometry as the broker returned it. */
SVH_API int svh_vsw_geometry(const struct svh_vsw *v, uint32_t *queue_pairs,
			     uint32_t *ring_size, uint32_t *buf_size, uint32_t *buf_count);
/*
 * Test-only transport: the two memfds (header + rings, pool) to pass to the
 * front end.  -ENOTSUP for a broker port.  The fds stay owned by v.
 */
SVH_API int svh_vsw_test_memfds(const struct svh_vsw *v, int *ctl_fd, int *pool_fd);
/* Is a copier attached now (header page state ATTACHED)? */
SVH_API bool svh_vsw_copier_attached(const struct svh_vsw *v);

/* ---- per ring control (not per packet) ------------------------------------ */

enum svh_vsw_dir {
	SVH_VSW_TO_GUEST = 0,	/* == SVHOST_RING_TO_GUEST, vring 2q */
	SVH_VSW_TO_VSWITCH = 1,	/* == SVHOST_RING_TO_VSWITCH, vring 2q+1 */
};

/*
 * Doorbells of one ring (vhost-user SET_VRING_CALL / SET_VRING_KICK fds):
 * call_fd is written by us to wake the PD, kick_fd is written by the PD to
 * wake us.  -1 for none.  The fds stay owned by the caller.
 */
SVH_API int svh_vsw_set_doorbells(struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir,
				  int call_fd, int kick_fd);
/*
 * Start a ring: from now on send (TO_GUEST) posts packets, recv
 * (TO_VSWITCH) keeps empty buffers posted.  The ring must be quiescent.
 */
SVH_API int svh_vsw_ring_start(struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir);
/*
 * Stop a ring and make it quiescent (docs/PROTOCOL.md section 6): every
 * posted buffer is taken back, undelivered TO_GUEST packets are dropped and
 * counted, prod is set back to cons.  Idempotent.
 */
SVH_API int svh_vsw_ring_stop(struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir);
/*
 * Interrupt mode (rte_vhost_enable_guest_notification): on = set
 * NEED_WAKEUP in our flags so the PD kicks kick_fd after completing slots.
 */
SVH_API int svh_vsw_set_notify(struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir, bool on);

/* ---- data path: vSwitch -> guest (TO_GUEST) ---------------------------------- */

/* One packet to send: its bytes as a scatter list and its offload metadata. */
struct svh_vsw_pkt {
	const struct iovec *iov;
	uint32_t iovcnt;
	uint32_t len;			/* sum of iov lengths, 1..SVH_MAX_PKT_LEN */
	struct virtio_net_hdr hdr;	/* offloads; all zero: none */
};

/*
 * Reap what the PD completed, then copy up to n packets into pool buffers
 * (several chained slots for a packet larger than buf_size) and post them.
 * Returns how many of pkts[0..n) were posted, in order; the caller keeps
 * ownership of its buffers either way (it frees sent mbufs, like classic
 * rte_vhost_enqueue_burst).  Packets with bad metadata are skipped and
 * counted (they count as sent).  0 when the ring is stopped or broken.
 */
SVH_API unsigned svh_vsw_send(struct svh_vsw *v, uint32_t qp, const struct svh_vsw_pkt *pkts,
			      unsigned n);

/* ---- data path: guest -> vSwitch (TO_VSWITCH) ----------------------------------- */

/* One packet the PD filled, validated, in private memory. */
struct svh_vsw_rx {
	uint32_t len;			/* packet bytes, 1..SVH_MAX_PKT_LEN */
	struct virtio_net_hdr hdr;	/* validated offload metadata */
	uint32_t priv[2];		/* libsvhost's: where the bytes are */
};

/*
 * Reap up to n filled packets (validated; bad ones are counted and their
 * buffers re-posted, never returned).  The packets stay in the pool until
 * svh_vsw_recv_release(): copy them out with svh_vsw_recv_copy() first.
 */
SVH_API unsigned svh_vsw_recv(struct svh_vsw *v, uint32_t qp, struct svh_vsw_rx *rx, unsigned n);
/*
 * Copy bytes [off, off + iov total) of packet rx into the scatter list.
 * Returns bytes copied or -EINVAL if the range is outside the packet.
 */
SVH_API int svh_vsw_recv_copy(struct svh_vsw *v, uint32_t qp, const struct svh_vsw_rx *rx,
			      uint32_t off, const struct iovec *iov, uint32_t iovcnt);
/* Give back the buffers of the n oldest packets from svh_vsw_recv and re-post. */
SVH_API void svh_vsw_recv_release(struct svh_vsw *v, uint32_t qp, unsigned n);

/* ---- counters --------------------------------------------------------------------- */

/*
 * Counters of ring (qp, dir) as a name/value table (for DPDK xstats):
 * fills at most n entries and returns how many exist (call with n = 0 to
 * size the table).  Names are stable strings owned by the library.
 * Every value counts events since the port was created (`broken`: times
 * the peer broke the ring, each break also counted under its err_*
 * reason), except the buffers_* gauges.
 */
SVH_API int svh_vsw_stats(const struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir,
			  struct svh_stat *tbl, unsigned n);

#ifdef __cplusplus
}
#endif
#endif /* SVHOST_VSWITCH_H */
