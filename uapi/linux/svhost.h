/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * svhost: kernel broker for secure vhost-user packet pools.
 *
 * A vSwitch (the "owner") creates a port on /dev/svhost: a read-only header
 * page, one pair of descriptor rings per queue pair, and a pool of fixed-size
 * packet buffers backed by 2 MiB pages.  A QEMU packet-delivery thread (the
 * "copier") that the administrator authorised for that port attaches to it
 * and maps the same memory, tagged with a protection key it allocated, so
 * that no other thread of QEMU and no other process can reach the pool.
 * Guest memory never leaves QEMU; only packets cross, through the pool.
 *
 * All structures are 64-bit clean, naturally aligned and free of implicit
 * padding.  Every "flags" and "reserved" field that an ioctl reads must be
 * zero on input; the kernel rejects unknown bits with EINVAL so that they
 * can be given meaning later.  Fields marked "out" are ignored on input.
 * SVHOST_GET_VERSION reports the API version and feature bits.
 */
#ifndef _UAPI_LINUX_SVHOST_H
#define _UAPI_LINUX_SVHOST_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define SVHOST_API_VERSION	1

/* Port names: 1..31 characters of [A-Za-z0-9_.-], NUL-terminated. */
#define SVHOST_NAME_LEN		32

/* Limits enforced by the broker (module parameters may lower pool sizes). */
#define SVHOST_MAX_QUEUE_PAIRS	64
#define SVHOST_MIN_RING_SIZE	64
#define SVHOST_MAX_RING_SIZE	32768
#define SVHOST_MIN_BUF_SIZE	2048
#define SVHOST_MAX_BUF_SIZE	65536
#define SVHOST_MAX_BUF_COUNT	1048576U

/* Granularity of pool memory: every pool is a whole number of these. */
#define SVHOST_POOL_CHUNK_SIZE	(2U << 20)

/* Cache line size assumed by the shared-memory layout. */
#define SVHOST_CACHELINE	64

/* --- Feature bits reported by SVHOST_GET_VERSION ------------------------ */

/* Protection keys are available and copier mappings carry the copier's key. */
#define SVHOST_FEATURE_PKEY		0x1U
/* The broker refuses copiers that do not bring a protection key. */
#define SVHOST_FEATURE_PKEY_REQUIRED	0x2U

struct svhost_version {
	__u32 api_version;	/* out: SVHOST_API_VERSION */
	__u32 features;		/* out: SVHOST_FEATURE_* */
	__u32 max_queue_pairs;	/* out */
	__u32 max_ring_size;	/* out */
	__u64 max_port_pool_bytes;	/* out: current per-port pool limit */
	__u64 reserved[2];	/* out: zero */
};

/*
 * Layout of a port's mmap space.  Offsets are byte offsets to pass to mmap()
 * on the file descriptor that created (owner) or attached to (copier) the
 * port.  Each mmap() must lie inside one region.  The header region can only
 * be mapped read-only.  MAP_SHARED is required and PROT_EXEC is refused.
 */
struct svhost_layout {
	__u64 header_offset;	/* always 0 */
	__u64 header_size;	/* one page */
	__u64 rings_offset;
	__u64 rings_size;
	__u64 pool_offset;
	__u64 pool_size;	/* buf_size * buf_count rounded up to a chunk */
	__u32 ring_stride;	/* bytes from one ring to the next */
	__u32 queue_pairs;
	__u32 ring_size;	/* descriptors per ring, a power of two */
	__u32 buf_size;		/* bytes per pool buffer, a power of two */
	__u32 buf_count;	/* buffers in the pool */
	__u32 reserved[3];
};

/* --- Shared memory: header page ------------------------------------------ */

#define SVHOST_SHM_MAGIC	0x50485653	/* "SVHP" little-endian */

/* Port states, written by the kernel into svhost_shm_header.state. */
enum svhost_port_state {
	SVHOST_STATE_READY = 1,		/* created, no copier attached */
	SVHOST_STATE_ATTACHED = 2,	/* a copier is attached */
	SVHOST_STATE_REVOKED = 3,	/* the copier was revoked, see reason */
	SVHOST_STATE_OWNER_GONE = 4,	/* the owner closed the port */
};

/* Why a copier was revoked (svhost_shm_header.reason). */
enum svhost_revoke_reason {
	SVHOST_REASON_NONE = 0,
	SVHOST_REASON_ADMIN = 1,	/* the administrator revoked it (sysfs) */
	SVHOST_REASON_ACL = 2,		/* the grant no longer admits it */
	SVHOST_REASON_PKEY = 3,		/* require_pkey was set; it has no key */
};

/*
 * The header page is written only by the kernel and mapped read-only into
 * both sides.  generation increases by one on every change of state:
 * attach, revocation, the copier leaving, the owner leaving.  The kernel
 * stores reason, then state, then publishes generation with a release
 * store; a reader loads generation with acquire semantics first, then
 * state and reason, and so sees the values of that generation or of a
 * later one.
 *
 * A copier remembers the generation SVHOST_COPIER_ATTACH returned.  While
 * the header shows it, the copier is attached.  Once it differs the copier
 * has lost the port for good (REVOKED, or OWNER_GONE; if it is exactly one
 * more, state and reason say which, a later attach by another copier
 * overwrites them): from then on its mappings of rings and pool show one
 * private scratch page instead (reads see zeros and whatever the copier
 * wrote there itself, writes stay in the scratch page), so a copier that
 * is still copying is never killed by its loss and never reaches the pool
 * again.  It then unmaps, closes its file and may attach again with a new
 * one, if it is granted.
 */
struct svhost_shm_header {
	__u32 magic;		/* SVHOST_SHM_MAGIC */
	__u32 version;		/* SVHOST_API_VERSION */
	__u32 state;		/* enum svhost_port_state */
	__u32 reason;		/* enum svhost_revoke_reason */
	__u32 generation;
	__u32 reserved;
	struct svhost_layout layout;
};

/* --- Shared memory: rings -------------------------------------------------- */

/*
 * Each queue pair has two rings, in this order:
 *
 *   ring 2*q + SVHOST_RING_TO_GUEST:    the vSwitch posts filled buffers
 *                                       (packets for the guest); the copier
 *                                       copies them into the guest and
 *                                       completes the slot, which returns the
 *                                       buffer to the vSwitch.
 *   ring 2*q + SVHOST_RING_TO_VSWITCH:  the vSwitch posts empty buffers; the
 *                                       copier fills each with one packet from
 *                                       the guest, sets len, flags and the
 *                                       offload fields, and completes the slot.
 *
 * In both rings the vSwitch is the only producer (it advances "prod") and the
 * copier the only consumer (it advances "cons").  Indexes are free-running
 * u32 counters; the slot of index i is desc[i & (ring_size - 1)].  At all
 * times 0 <= prod - cons <= ring_size.  Producer stores are published with a
 * release store of prod, consumer completions with a release store of cons;
 * the peer reads them with an acquire load.
 *
 * Neither side trusts the other: the copier checks every offset and length
 * against the pool before touching it, and the vSwitch keeps its own record
 * of which buffer sits in which slot and reads back only len, flags and the
 * offload fields, which it validates as well.
 *
 * need-wakeup: a side that stops polling sets SVHOST_RING_NEED_WAKEUP in its
 * own flags word, re-checks the ring, and then sleeps on its eventfd.  The
 * peer kicks that eventfd after advancing its index if it sees the flag.
 * The eventfds travel over the vhost-user control socket, not through here.
 */
#define SVHOST_RING_TO_GUEST	0
#define SVHOST_RING_TO_VSWITCH	1

#define SVHOST_RING_NEED_WAKEUP	0x1U

/* Descriptor flags. */
#define SVHOST_DESC_F_NEXT	0x1U  /* packet continues in the next slot */
#define SVHOST_DESC_F_OFFLOAD	0x2U  /* offload fields below are valid */
#define SVHOST_DESC_F_ALL	(SVHOST_DESC_F_NEXT | SVHOST_DESC_F_OFFLOAD)

/*
 * One buffer.  offset is relative to the start of the pool region and must
 * be a multiple of buf_size; len never exceeds buf_size.  The offload fields
 * carry the virtio-net header (struct virtio_net_hdr) of the first buffer of
 * a packet, with the same meanings and values, in host byte order.
 */
struct svhost_desc {
	__u64 offset;
	__u32 len;
	__u16 flags;		/* SVHOST_DESC_F_* */
	__u8 vnet_flags;	/* VIRTIO_NET_HDR_F_* */
	__u8 gso_type;		/* VIRTIO_NET_HDR_GSO_* */
	__u16 hdr_len;
	__u16 gso_size;
	__u16 csum_start;
	__u16 csum_offset;
	__u64 reserved;
};

struct svhost_ring {
	/* Written by the producer (vSwitch) only. */
	__u32 prod;
	__u32 prod_flags;	/* SVHOST_RING_NEED_WAKEUP */
	__u8 pad0[SVHOST_CACHELINE - 8];
	/* Written by the consumer (copier) only. */
	__u32 cons;
	__u32 cons_flags;	/* SVHOST_RING_NEED_WAKEUP */
	__u8 pad1[SVHOST_CACHELINE - 8];
	__u8 reserved[2 * SVHOST_CACHELINE];
	struct svhost_desc desc[];
};

#define SVHOST_RING_HDR_SIZE	(4 * SVHOST_CACHELINE)

/*
 * The layout of a port's mmap space as the broker computes it: one header
 * page, then 2 * queue_pairs rings of ring_stride bytes, then the pool,
 * buf_size * buf_count bytes rounded up to whole chunks.  libsvhost's
 * test-only memfd pool uses the same function, so both always agree.  The
 * caller has checked the geometry against the limits above (all products
 * then fit in 64 bits); page_size is the kernel's page size.
 */
static inline void svhost_layout_compute(struct svhost_layout *l,
					 __u32 queue_pairs, __u32 ring_size,
					 __u32 buf_size, __u32 buf_count,
					 __u64 page_size)
{
	__u32 stride = SVHOST_RING_HDR_SIZE +
		       ring_size * (__u32)sizeof(struct svhost_desc);
	__u64 rings = (__u64)2 * queue_pairs * stride;
	__u64 pool = (__u64)buf_size * buf_count;

	l->header_offset = 0;
	l->header_size = page_size;
	l->rings_offset = page_size;
	l->rings_size = (rings + page_size - 1) / page_size * page_size;
	l->pool_offset = l->rings_offset + l->rings_size;
	l->pool_size = (pool + SVHOST_POOL_CHUNK_SIZE - 1) /
		       SVHOST_POOL_CHUNK_SIZE * SVHOST_POOL_CHUNK_SIZE;
	l->ring_stride = stride;
	l->queue_pairs = queue_pairs;
	l->ring_size = ring_size;
	l->buf_size = buf_size;
	l->buf_count = buf_count;
	l->reserved[0] = 0;
	l->reserved[1] = 0;
	l->reserved[2] = 0;
}

/* --- ioctls ---------------------------------------------------------------- */

/*
 * SVHOST_PORT_CREATE: make this file the owner of a new port.  Needs
 * CAP_NET_ADMIN and a file opened O_RDWR that does not own or is not
 * attached to a port already.  The port, its name, rings and pool live
 * until the owner's file is released (closed and unmapped); an attached
 * copier then sees OWNER_GONE and its scratch page.
 */
struct svhost_port_create {
	__u32 flags;		/* in: zero */
	__u32 queue_pairs;	/* in: 1..SVHOST_MAX_QUEUE_PAIRS */
	__u32 ring_size;	/* in: power of two, MIN..MAX_RING_SIZE */
	__u32 buf_size;		/* in: power of two, MIN..MAX_BUF_SIZE */
	__u32 buf_count;	/* in: 1..SVHOST_MAX_BUF_COUNT */
	__u32 reserved;		/* in: zero */
	char name[SVHOST_NAME_LEN];	/* in */
	struct svhost_layout layout;	/* out */
};

/*
 * SVHOST_COPIER_ATTACH: attach the calling thread to a port as its copier,
 * through a file opened O_RDWR that is not bound to a port yet.  Allowed
 * when the administrator's grant for the port name admits the caller (see
 * docs/API.md).  pkey must have been allocated with pkey_alloc() in the
 * caller's process; mappings of rings and pool made through this file
 * carry that key and can only be made by the attaching process.  pkey = -1
 * is accepted only while the module parameter require_pkey is cleared.
 * One copier per port.  The attachment ends when the file is released,
 * when the attaching process (its mm) exits, or when the copier loses the
 * port (see struct svhost_shm_header); the file is not reused after that.
 */
struct svhost_copier_attach {
	__u32 flags;		/* in: zero */
	__s32 pkey;		/* in */
	char name[SVHOST_NAME_LEN];	/* in */
	__u32 generation;	/* out: header generation while attached */
	__u32 reserved;		/* in: zero; out: zero */
	struct svhost_layout layout;	/* out */
};

/*
 * 0xBB: free in Documentation/userspace-api/ioctl/ioctl-number.rst of Linux
 * 6.1 (0xB7, used before, belongs to remoteproc and nsfs).
 */
#define SVHOST_IOCTL_MAGIC	0xBB

#define SVHOST_GET_VERSION	_IOR(SVHOST_IOCTL_MAGIC, 0x00, struct svhost_version)
#define SVHOST_PORT_CREATE	_IOWR(SVHOST_IOCTL_MAGIC, 0x01, struct svhost_port_create)
#define SVHOST_COPIER_ATTACH	_IOWR(SVHOST_IOCTL_MAGIC, 0x02, struct svhost_copier_attach)

#endif /* _UAPI_LINUX_SVHOST_H */
