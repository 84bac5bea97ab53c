/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * broker.h: talking to /dev/svhost (the svhost.ko buffer broker) and mapping
 * a port's header, rings and pool; protection-key (PKRU) helpers so that
 * only the PD thread can touch a copier's mappings.
 *
 * Also a "local" port for benchmarks and tests ONLY (the test-only memfd
 * transport of docs/PROTOCOL.md section 7): the same layout in two memfds
 * (header + rings, pool), usable when /dev/svhost is absent.  It offers none
 * of the broker's isolation and must never be a product default: the caller
 * has to ask for it by name (svh_port_create_local / svh_port_attach_memfd).
 * The owner plays the kernel's part on the header page (state, generation).
 */
#ifndef SVHOST_BROKER_H
#define SVHOST_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/svhost.h>

#include "svhost/device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SVH_DEV_PATH	"/dev/svhost"

struct svh_port {
	int fd;			/* /dev/svhost file, -1 for a local port */
	int ctl_memfd;		/* local ports: header + rings */
	int pool_memfd;		/* local ports: pool */
	bool owner;
	bool local;
	bool pool_hugetlb;	/* local ports: pool is hugetlb-backed */
	int pkey;		/* copier's key, -1 if none */
	uint32_t generation;	/* copier: header generation while attached */
	struct svhost_layout layout;
	const struct svhost_shm_header *hdr;	/* read-only */
	uint8_t *rings;
	uint8_t *pool;
	char name[SVHOST_NAME_LEN];
};

struct svh_port_params {
	uint32_t queue_pairs;
	uint32_t ring_size;
	uint32_t buf_size;
	uint32_t buf_count;
	bool hugetlb;		/* local ports: try a MFD_HUGETLB pool (2 MiB TLB
				 * entries; falls back to 4 KiB pages with a warning) */
};

/* 1..31 characters of [A-Za-z0-9_.-], not "." or "..": the broker's rule. */
bool svh_port_name_valid(const char *name);
/* An empty port: no fds (-1), nothing mapped; what svh_port_close leaves. */
void svh_port_init(struct svh_port *p);
/* Is /dev/svhost present? */
bool svh_broker_available(void);
/* SVHOST_GET_VERSION on a fresh open. 0 or -errno. */
int svh_broker_version(struct svhost_version *v);

/* Owner (vSwitch): create a port and map header, rings and pool.  0 or -errno. */
int svh_port_create(struct svh_port *p, const char *name, const struct svh_port_params *pp);
/*
 * Copier (PD): attach to a port with protection key pkey (from
 * svh_pkey_alloc(), or -1 where the administrator allows it) and map rings
 * and pool.  Call from the thread that will copy (the broker binds it).
 */
int svh_port_attach(struct svh_port *p, const char *name, int pkey);

/* Benchmarks/tests only: a local port in memfds (see above). */
int svh_port_create_local(struct svh_port *p, const char *name,
			  const struct svh_port_params *pp);
/*
 * Benchmarks/tests only: attach as copier to a local port given its two
 * memfds (received over a socket, or the owner's own).  The header is
 * checked like the broker's answer (magic, version, a layout equal to
 * svhost_layout_compute() of its geometry, memfds large enough).  Needs
 * state READY: -EBUSY (ATTACHED), -EPERM (REVOKED), -ENOENT (OWNER_GONE).
 * The fds are not kept.
 */
int svh_port_attach_memfd(struct svh_port *copier, int ctl_fd, int pool_fd);
/* Benchmarks/tests only: svh_port_attach_memfd on the owner's memfds. */
int svh_port_attach_local(struct svh_port *copier, const struct svh_port *owner);

/*
 * Owner of a local port only, playing the kernel: show state (with reason)
 * on the header page, bumping the generation for REVOKED as the broker does.
 * Tests use it to simulate a revocation or a re-grant (READY).
 */
void svh_port_local_set_state(struct svh_port *owner, uint32_t state, uint32_t reason);

/*
 * Copier: where the port stands, from the header page (two loads, no
 * system call, safe on the data path).  Returns SVH_DEV_ATTACHED while the
 * header shows our generation and ATTACHED; SVH_DEV_REVOKED (and *reason,
 * SVHOST_REASON_NONE when another attach has overwritten it) or
 * SVH_DEV_OWNER_GONE once we lost it; SVH_DEV_DETACHED when not attached.
 */
enum svh_dev_state svh_port_status(const struct svh_port *p, uint32_t *reason);

/* Owner or copier: unmap and close.  A local copier returns the header to READY. */
void svh_port_close(struct svh_port *p);

/* Ring dir (SVHOST_RING_TO_GUEST / SVHOST_RING_TO_VSWITCH) of queue pair qp. */
struct svhost_ring *svh_port_ring(const struct svh_port *p, uint32_t qp, unsigned dir);

/*
 * Check a layout returned by the broker (or computed locally): sizes,
 * powers of two, ring stride large enough, regions disjoint and page aligned.
 */
int svh_layout_check(const struct svhost_layout *l);

/* ---- protection keys ---------------------------------------------------- */

/* CPU and OS support PKU (CPUID.7.0:ECX.OSPKE)? */
bool svh_pkey_supported(void);
/* pkey_alloc(0, PKEY_DISABLE_ACCESS): no thread, including this one, may
 * access pages with the key until svh_pkey_enable_thread().  -errno on error. */
int svh_pkey_alloc(void);
int svh_pkey_free(int pkey);
/* Allow (enable) or forbid access to pkey in the calling thread only. */
int svh_pkey_set_thread(int pkey, bool enable);
uint32_t svh_rdpkru(void);
void svh_wrpkru(uint32_t pkru);

#ifdef __cplusplus
}
#endif
#endif /* SVHOST_BROKER_H */
