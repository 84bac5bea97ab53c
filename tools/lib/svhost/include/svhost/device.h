/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * device.h: the copier role, shaped for QEMU.  PROPOSED libsvhost 1.0 API:
 * one struct svh_dev is the in-process "vhost back end" of one vhost-user
 * netdev in secure mode.  QEMU's vhost-user ops that would have sent guest
 * memory to the vSwitch (mem table, vring num/base/addr, kick/call, log
 * base, enable, get base) call these functions instead, one to one, and
 * only the doorbells and control messages go over the socket
 * (docs/PROTOCOL.md).
 *
 * Threads.  The PD thread is created by the caller (QEMU's qemu_thread_create)
 * and runs svh_dev_run().  It allocates the protection key, attaches to the
 * broker port and opens PKRU for itself only; no other thread ever gets
 * rights on the pool.  Every other function is called from control threads
 * (QEMU's main loop, under the BQL) and takes effect in the PD thread at a
 * batch boundary; the calls that say so wait for the PD thread to have
 * applied them.  The data path takes no lock.  With no PD thread running
 * (before svh_dev_run or after it returned) changes apply at once.
 *
 * Addresses.  Memory regions are { guest physical address, size, QEMU
 * virtual address }; vring addresses are QEMU virtual addresses (struct
 * vhost_vring_addr as QEMU's vhost code computes them) and are turned into
 * guest physical addresses at once, so they survive memory table swaps.
 *
 * All functions return 0 or a negative errno.
 */
#ifndef SVHOST_DEVICE_H
#define SVHOST_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vhost_types.h>

#include "svhost/api.h"

#ifdef __cplusplus
extern "C" {
#endif

struct svh_dev;

/* Zero is the default, so that zero-initialised options get it. */
enum svh_sched {
	SVH_SCHED_ADAPTIVE = 0,		/* poll, then sleep on eventfds when idle */
	SVH_SCHED_POLL = 1,		/* busy poll */
	SVH_SCHED_FIFO_YIELD = 2,	/* SCHED_FIFO, sched_yield() after every batch */
};

/* Test-only: accept a memfd pool from the back end (no isolation, warns). */
#define SVH_DEV_F_TEST_MEMFD	0x1u

struct svh_dev_opts {
	size_t sz;		/* sizeof(struct svh_dev_opts), for growth */
	uint32_t flags;		/* SVH_DEV_F_* */
	uint32_t queue_pairs;	/* vrings = 2 * queue_pairs, 1..64 */
	enum svh_sched mode;	/* 0: SVH_SCHED_ADAPTIVE */
	int cpu;		/* pin the PD thread, -1: no pinning (0 is CPU 0) */
	unsigned burst;		/* packets per direction per batch, 0: 32 */
	int fifo_prio;		/* FIFO_YIELD: SCHED_FIFO priority, 0: 1 */
	const char *name;	/* for log lines and stats, e.g. the netdev id */
};

SVH_API int svh_dev_create(struct svh_dev **out, const struct svh_dev_opts *opts);
/* The PD thread must have returned from svh_dev_run().  NULL is a no-op. */
SVH_API void svh_dev_destroy(struct svh_dev *d);

/* ---- the PD thread ----------------------------------------------------------------- */

/*
 * Body of the PD thread: pins and schedules itself, then loops until
 * svh_dev_shutdown().  Attaches to the port given by svh_dev_set_port()
 * (and again after a revocation, once the administrator grants again, or
 * after the owner restarted and svh_dev_set_port() named the new port).
 */
SVH_API void svh_dev_run(struct svh_dev *d);
/* Make svh_dev_run() return soon (any thread, async-signal-safe). */
SVH_API void svh_dev_shutdown(struct svh_dev *d);

/* ---- the broker port ------------------------------------------------------------------ */

/*
 * The port named in the GET_PORT reply.  The PD thread attaches to it and
 * this call waits for the result (so the caller can fail closed): 0, or the
 * broker's error (-EPERM: not granted, -ENOENT: no such port, -ENOKEY ...).
 * A failed attach is not retried (PROTOCOL.md section 5).  Call it once
 * the PD thread was created: before svh_dev_run was first entered it waits
 * for the thread to start.  After svh_dev_run returned, it returns 0 and
 * the next svh_dev_run attaches; the outcome shows in svh_dev_state().
 * ctl_fd/pool_fd: -1, or the test-only memfds (SVH_DEV_F_TEST_MEMFD; the
 * library dups them; without the flag, fds are refused with -EINVAL).
 * name NULL: detach.
 */
SVH_API int svh_dev_set_port(struct svh_dev *d, const char *name, int ctl_fd, int pool_fd);

enum svh_dev_state {
	SVH_DEV_DETACHED = 0,	/* no port set, or detached */
	SVH_DEV_ATTACHED = 1,	/* copying */
	SVH_DEV_REVOKED = 2,	/* the administrator revoked us; retrying */
	SVH_DEV_OWNER_GONE = 3,	/* the vSwitch closed the port */
};

/* Current state; *reason gets enum svhost_revoke_reason when REVOKED. */
SVH_API enum svh_dev_state svh_dev_state(const struct svh_dev *d, uint32_t *reason);
/*
 * An eventfd that becomes readable whenever the state changes (QEMU watches
 * it from its main loop and sets the link up or down).  Owned by d.
 */
SVH_API int svh_dev_state_fd(const struct svh_dev *d);
SVH_API const char *svh_dev_state_name(enum svh_dev_state s);

/* ---- the vhost back-end operations, one to one ----------------------------------- */

struct svh_mem_region {
	uint64_t gpa;		/* guest physical address */
	uint64_t size;
	uint64_t uaddr;		/* where QEMU maps it */
};

/* Negotiated virtio features (VERSION_1 required). */
SVH_API int svh_dev_set_features(struct svh_dev *d, uint64_t features);
/* Features the PD implements (ring layout, MRG_RXBUF, LOG_ALL ...). */
SVH_API uint64_t svh_dev_features(void);
/* Replace the memory table; waits until the PD thread uses the new one. */
SVH_API int svh_dev_set_mem_table(struct svh_dev *d, const struct svh_mem_region *r,
				  unsigned nr);
SVH_API int svh_dev_set_vring_num(struct svh_dev *d, unsigned idx, unsigned num);
SVH_API int svh_dev_set_vring_base(struct svh_dev *d, unsigned idx, unsigned base);
SVH_API int svh_dev_set_vring_addr(struct svh_dev *d, const struct vhost_vring_addr *a);
/* The guest's ioeventfd (we wait on it) and irqfd (we signal it); -1: none. */
SVH_API int svh_dev_set_vring_kick(struct svh_dev *d, unsigned idx, int fd);
SVH_API int svh_dev_set_vring_call(struct svh_dev *d, unsigned idx, int fd);
/* Start (true) or stop (false) copying on a vring; waits for the PD thread. */
SVH_API int svh_dev_set_vring_enable(struct svh_dev *d, unsigned idx, bool enable);
/* Stop the vring and return the guest's last avail index (GET_VRING_BASE). */
SVH_API int svh_dev_get_vring_base(struct svh_dev *d, unsigned idx, unsigned *base);
/* Dirty log for migration (QEMU's own memory); NULL: logging off. */
SVH_API int svh_dev_set_log_base(struct svh_dev *d, void *bitmap, uint64_t size);

/*
 * The doorbell eventfds of vring idx, created by the library, to send to
 * the back end: kick_fd with SET_VRING_KICK (the PD writes it), call_fd with
 * SET_VRING_CALL (the back end writes it, the PD sleeps on it).  Owned by d.
 */
SVH_API int svh_dev_doorbells(const struct svh_dev *d, unsigned idx, int *kick_fd,
			      int *call_fd);

/* ---- counters ----------------------------------------------------------------------- */

/* All counters of d (per queue pair and direction, and the PD thread's) as
 * name/value pairs; returns how many exist (n = 0 sizes the table). */
SVH_API int svh_dev_stats(const struct svh_dev *d, struct svh_stat *tbl, unsigned n);

#ifdef __cplusplus
}
#endif
#endif /* SVHOST_DEVICE_H */
