// SPDX-License-Identifier: BSD-3-Clause
/*
 * device.c: the copier role of include/svhost/device.h, an in-process vhost
 * back end for QEMU whose PD thread is the caller's own thread.
 *
 * Two halves share struct svh_dev:
 *
 *   control (any thread, under d->lock): the vhost operations store what
 *   they are asked into d->cfg, bump d->req and wake the PD; when a PD
 *   thread runs they wait until it has applied that request (d->ack).
 *
 *   the PD thread (svh_dev_run): between two batches it compares d->req
 *   with what it applied, one relaxed load, and only then takes the lock
 *   and applies the new configuration to its private state (queue pairs,
 *   memory table, dirty log, attachment).  The data path never takes a
 *   lock, allocates or makes a system call beyond doorbells and sleeping.
 *
 * The PD thread owns the protection key and the attachment: it allocates
 * the key, attaches to the broker (so the broker records it), opens PKRU
 * for itself only, and checks the header page at every batch; when the
 * port is revoked or its owner goes away it detaches, reports the new
 * state on the state eventfd and retries attaching with backoff, so a new
 * grant or a restarted vSwitch brings the link back.  It creates no
 * thread (a thread it created would inherit its PKRU).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>

#include "broker.h"
#include "compiler.h"
#include "log.h"
#include "pd.h"
#include "svhost/device.h"

#define NVR_MAX		(2 * SVH_PD_MAX_QP)
#define RETRY_MIN_MS	100
#define RETRY_MAX_MS	2000
#define IDLE_WAIT_MS	1000

/* Control-side view of one vring, under d->lock. */
struct dev_vring {
	unsigned num;
	unsigned base;		/* SET_VRING_BASE, or where the PD stopped */
	bool addr_set;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	int kick_fd;		/* the guest's ioeventfd (our dup), -1 */
	int call_fd;		/* the guest's irqfd (our dup), -1 */
	bool enable;
	uint32_t gen;		/* bumped on every change of this vring */
	int rc;			/* the PD's result of the last start */
};

struct dev_cfg {
	uint64_t features;
	struct svh_guestmem *gm;	/* latest memory table, NULL: none yet */
	void *log_base;
	uint64_t log_size;
	char port[SVHOST_NAME_LEN];	/* "" : detached */
	int ctl_fd, pool_fd;		/* test-only memfds (our dups), -1 */
	uint32_t port_gen;		/* bumped by each svh_dev_set_port */
	struct dev_vring vr[NVR_MAX];
};

/* The PD thread's private state. */
struct dev_pd {
	uint64_t applied;		/* d->req value last applied */
	struct svh_port port;
	bool attached;
	bool retrying;			/* lost the port: attach again by name */
	int pkey;
	uint32_t port_gen;
	uint64_t next_retry_ns;
	unsigned backoff_ms;
	const struct svh_guestmem *gm;
	uint64_t features;
	void *log_base;
	uint64_t log_size;
	bool log_on;
	struct svh_dirtylog log;
	uint32_t vr_gen[NVR_MAX];
	struct svh_pd pd;
	/* counters (read by svh_dev_stats) */
	uint64_t attaches, attach_failures, revocations, owner_gone;
};

struct svh_dev {
	char name[64];
	uint32_t flags;
	unsigned nqp;
	unsigned nvr;
	struct svh_pd_cfg pdcfg;
	int wake_fd;			/* wakes the PD for requests and shutdown */
	int state_fd;			/* readable when the state changed */
	int db_kick[NVR_MAX];		/* PD -> vSwitch doorbells (SET_VRING_KICK) */
	int db_call[NVR_MAX];		/* vSwitch -> PD doorbells (SET_VRING_CALL) */
	uint32_t state;			/* enum svh_dev_state, atomic */
	uint32_t reason;		/* atomic */
	int shutdown;			/* atomic */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct dev_cfg cfg;		/* under lock */
	uint64_t req;			/* written under lock, read by the PD without */
	uint64_t ack;			/* under lock */
	bool running;			/* under lock */
	bool ran;			/* under lock: svh_dev_run was entered once */
	int attach_rc;			/* under lock: result of the last set_port */

	struct svh_qp *qps;		/* nqp, cache-line aligned, PD-owned */
	struct dev_pd p;

	const char **stat_names;
	char *stat_buf;
	unsigned nstats;
};

/* ---- small helpers ----------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int dup_fd(int fd)
{
	int n;

	if (fd < 0)
		return -1;
	n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return n < 0 ? -errno : n;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void set_state(struct svh_dev *d, enum svh_dev_state s, uint32_t reason)
{
	uint32_t old = __atomic_load_n(&d->state, __ATOMIC_ACQUIRE);
	uint32_t old_reason = __atomic_load_n(&d->reason, __ATOMIC_RELAXED);

	if (old == (uint32_t)s && old_reason == reason)
		return;
	__atomic_store_n(&d->reason, reason, __ATOMIC_RELAXED);
	__atomic_store_n(&d->state, (uint32_t)s, __ATOMIC_RELEASE);
	svh_eventfd_kick(d->state_fd);
}

static struct svh_vq *vq_of(struct svh_dev *d, unsigned idx)
{
	struct svh_qp *qp = &d->qps[idx / 2];

	return idx % 2 ? &qp->txq : &qp->rxq;
}

static struct svh_ring *ring_of(struct svh_dev *d, unsigned idx)
{
	struct svh_qp *qp = &d->qps[idx / 2];

	return idx % 2 ? &qp->to_vswitch : &qp->to_guest;
}

/* ---- creation ------------------------------------------------------------------------ */

static const char *const dir_stat[] = {
	"packets", "bytes", "drop_guest_hdr", "drop_too_big", "drop_empty", "drop_bad_desc",
	"drop_rx_too_small", "guest_irqs", "peer_kicks", "busy_cycles", "batches", "stalls",
	"vq_err_avail_idx", "vq_err_head", "vq_err_next", "vq_err_loop", "vq_err_addr",
	"vq_err_direction", "vq_err_indirect", "vq_err_segments", "vq_err_flags",
	"ring_err_peer_index", "ring_err_offset", "ring_err_len", "ring_err_flags",
	"ring_err_reserved", "ring_err_offload", "ring_err_chain",
	"irqs_suppressed", "vq_broken", "ring_broken",
};
#define NDIR_STATS (sizeof(dir_stat) / sizeof(dir_stat[0]))
_Static_assert(SVH_DROP_MAX == 5 && SVH_VQERR_MAX == 9 && SVH_RERR_MAX == 7,
	       "dir_stat lists every drop and error reason");
static const char *const pd_stat[] = {
	"pd.loops", "pd.sleeps", "pd.yields", "pd.attaches", "pd.attach_failures",
	"pd.revocations", "pd.owner_gone", "pd.log_out_of_range",
};
#define NPD_STATS (sizeof(pd_stat) / sizeof(pd_stat[0]))
#define STAT_NAME_LEN 48

static int build_stat_names(struct svh_dev *d)
{
	unsigned n = d->nqp * 2 * NDIR_STATS + NPD_STATS, k = 0;

	d->stat_names = calloc(n, sizeof(*d->stat_names));
	d->stat_buf = calloc(n, STAT_NAME_LEN);
	if (!d->stat_names || !d->stat_buf)
		return -ENOMEM;
	for (unsigned q = 0; q < d->nqp; q++)
		for (unsigned dir = 0; dir < 2; dir++)
			for (unsigned i = 0; i < NDIR_STATS; i++, k++) {
				char *s = d->stat_buf + (size_t)k * STAT_NAME_LEN;

				snprintf(s, STAT_NAME_LEN, "q%u.%s.%s", q,
					 dir == SVH_DIR_TO_GUEST ? "to_guest" : "to_vswitch",
					 dir_stat[i]);
				d->stat_names[k] = s;
			}
	for (unsigned i = 0; i < NPD_STATS; i++, k++)
		d->stat_names[k] = pd_stat[i];
	d->nstats = n;
	return 0;
}

SVH_API int svh_dev_create(struct svh_dev **out, const struct svh_dev_opts *opts)
{
	struct svh_dev_opts o = { .sz = sizeof(o), .queue_pairs = 1, .cpu = -1 };
	struct svh_dev *d;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts) {
		rc = svh_opts_check(opts, opts->sz, offsetof(struct svh_dev_opts, name) +
				    sizeof(opts->name), sizeof(o));
		if (rc)
			return rc;
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	}
	if (o.flags & ~SVH_DEV_F_TEST_MEMFD)
		return -EINVAL;
	if (o.queue_pairs == 0 || o.queue_pairs > SVH_PD_MAX_QP)
		return -EINVAL;
	if (o.mode != SVH_SCHED_ADAPTIVE && o.mode != SVH_SCHED_POLL &&
	    o.mode != SVH_SCHED_FIFO_YIELD)
		return -EINVAL;
	if (o.burst > SVH_PD_MAX_BURST || o.fifo_prio < 0 || o.fifo_prio > 99 || o.cpu < -1)
		return -EINVAL;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->wake_fd = d->state_fd = -1;
	svh_port_init(&d->p.port);
	for (unsigned i = 0; i < NVR_MAX; i++) {
		d->db_kick[i] = d->db_call[i] = -1;
		d->cfg.vr[i].kick_fd = d->cfg.vr[i].call_fd = -1;
	}
	d->cfg.ctl_fd = d->cfg.pool_fd = -1;
	d->p.pkey = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	snprintf(d->name, sizeof(d->name), "%s", o.name ? o.name : "svhost");
	d->flags = o.flags;
	d->nqp = o.queue_pairs;
	d->nvr = 2 * o.queue_pairs;
	svh_pd_cfg_default(&d->pdcfg);
	d->pdcfg.mode = o.mode;
	d->pdcfg.cpu = o.cpu;
	d->pdcfg.burst = o.burst ? o.burst : 32;
	d->pdcfg.fifo_prio = o.fifo_prio ? o.fifo_prio : 1;

	rc = -ENOMEM;
	d->qps = aligned_alloc(64, (sizeof(*d->qps) * d->nqp + 63) / 64 * 64);
	if (!d->qps)
		goto fail;
	memset(d->qps, 0, sizeof(*d->qps) * d->nqp);
	d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->state_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->wake_fd < 0 || d->state_fd < 0)
		goto fail_errno;
	for (unsigned i = 0; i < d->nvr; i++) {
		d->db_kick[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		d->db_call[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (d->db_kick[i] < 0 || d->db_call[i] < 0)
			goto fail_errno;
	}
	svh_log_init(&d->p.log, NULL, 0);
	for (unsigned q = 0; q < d->nqp; q++) {
		struct svh_qp *qp = &d->qps[q];

		svh_log_init(&qp->nolog, NULL, 0);
		qp->to_vswitch.fill_slots = true;
	}
	{
		struct svh_qp *qps[SVH_PD_MAX_QP];

		for (unsigned q = 0; q < d->nqp; q++)
			qps[q] = &d->qps[q];
		rc = svh_pd_init(&d->p.pd, &d->pdcfg, qps, d->nqp);
		if (rc)
			goto fail;
		d->p.pd.wake_fd = d->wake_fd;
		svh_pd_refresh_fds(&d->p.pd);
	}
	rc = build_stat_names(d);
	if (rc)
		goto fail;
	if (d->flags & SVH_DEV_F_TEST_MEMFD)
		svh_warn("device '%s': accepts the TEST-ONLY memfd pool: a vSwitch that sends "
			 "one gets no isolation and no security claim holds", d->name);
	*out = d;
	return 0;
fail_errno:
	rc = -errno;
fail:
	svh_dev_destroy(d);
	return rc;
}

SVH_API void svh_dev_destroy(struct svh_dev *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->running) {
		pthread_mutex_unlock(&d->lock);
		svh_warn("device '%s': svh_dev_destroy while its PD thread runs: leaked",
			 d->name);
		return;
	}
	pthread_mutex_unlock(&d->lock);
	svh_port_close(&d->p.port);
	for (unsigned q = 0; q < d->nqp && d->qps; q++) {
		svh_ring_fini(&d->qps[q].to_guest);
		svh_ring_fini(&d->qps[q].to_vswitch);
	}
	for (unsigned i = 0; i < NVR_MAX; i++) {
		close_fd(&d->db_kick[i]);
		close_fd(&d->db_call[i]);
		close_fd(&d->cfg.vr[i].kick_fd);
		close_fd(&d->cfg.vr[i].call_fd);
	}
	close_fd(&d->cfg.ctl_fd);
	close_fd(&d->cfg.pool_fd);
	close_fd(&d->wake_fd);
	close_fd(&d->state_fd);
	if (d->p.pkey > 0)
		svh_pkey_free(d->p.pkey);
	free(d->cfg.gm);
	free(d->qps);
	free(d->stat_names);
	free(d->stat_buf);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* ---- the PD thread: attachment --------------------------------------------------------- */

/* Rings of the attached port into every queue pair (afresh: PROTOCOL.md section 6). */
static void rings_attach(struct svh_dev *d)
{
	const struct svhost_layout *l = &d->p.port.layout;

	for (unsigned i = 0; i < d->nvr; i++) {
		struct svh_ring *r = ring_of(d, i);
		struct svhost_ring *shm = svh_port_ring(&d->p.port, i / 2, i % 2);
		bool fill = r->fill_slots;
		int rc;

		if (r->role == SVH_RING_CONSUMER && r->size == l->ring_size &&
		    r->buf_size == l->buf_size &&
		    r->pool_len == (uint64_t)l->buf_size * l->buf_count) {
			rc = svh_ring_restart(r, shm, d->p.port.pool);
		} else {
			rc = svh_ring_init(r, shm, SVH_RING_CONSUMER, l->ring_size, d->p.port.pool,
					   l->buf_size, l->buf_count, false);
			r->fill_slots = fill;
		}
		svh_ring_set_fds(r, d->db_kick[i], d->db_call[i]);
		if (rc) {
			r->shm = NULL;
			svh_warn("device '%s': vring %u: the vSwitch's ring indexes are "
				 "inconsistent (%s): not used until it is restarted", d->name, i,
				 strerror(-rc));
		}
	}
}

static void rings_detach(struct svh_dev *d)
{
	for (unsigned i = 0; i < d->nvr; i++)
		ring_of(d, i)->shm = NULL;
}

/* Attach to cfg's port (d->lock held).  0 or -errno. */
static int pd_attach(struct svh_dev *d)
{
	struct dev_pd *p = &d->p;
	int rc;

	if (d->cfg.ctl_fd >= 0)
		rc = svh_port_attach_memfd(&p->port, d->cfg.ctl_fd, d->cfg.pool_fd);
	else
		rc = svh_port_attach(&p->port, d->cfg.port, p->pkey);
	if (rc) {
		p->attach_failures++;
		return rc;
	}
	if (p->port.layout.queue_pairs < d->nqp) {
		svh_warn("device '%s': port '%s' has %u queue pairs, the device %u",
			 d->name, d->cfg.port, p->port.layout.queue_pairs, d->nqp);
		svh_port_close(&p->port);
		p->attach_failures++;
		return -EPROTO;
	}
	/* the broker tags its mappings with our key; a memfd port we tag ourselves */
	if (d->cfg.ctl_fd >= 0 && p->pkey > 0) {
		if (pkey_mprotect(p->port.rings, p->port.layout.rings_size,
				  PROT_READ | PROT_WRITE, p->pkey) ||
		    pkey_mprotect(p->port.pool, p->port.layout.pool_size,
				  PROT_READ | PROT_WRITE, p->pkey))
			svh_warn("device '%s': pkey_mprotect on the test memfd pool: %s",
				 d->name, strerror(errno));
	}
	rings_attach(d);
	p->attached = true;
	p->retrying = false;
	p->attaches++;
	svh_pd_refresh_fds(&p->pd);
	set_state(d, SVH_DEV_ATTACHED, SVHOST_REASON_NONE);
	svh_info("device '%s': attached to port '%s'%s (generation %u, pkey %d)", d->name,
		 d->cfg.port, d->cfg.ctl_fd >= 0 ? " (TEST-ONLY memfd pool)" : "",
		 p->port.generation, p->pkey);
	return 0;
}

static void pd_detach(struct svh_dev *d)
{
	rings_detach(d);
	svh_port_close(&d->p.port);
	d->p.attached = false;
	svh_pd_refresh_fds(&d->p.pd);
}

/* The header says we lost the port: stop, say why, retry with backoff. */
static void pd_lost(struct svh_dev *d, enum svh_dev_state st, uint32_t reason)
{
	struct dev_pd *p = &d->p;

	pd_detach(d);
	if (st == SVH_DEV_OWNER_GONE)
		p->owner_gone++;
	else
		p->revocations++;
	p->retrying = true;
	p->backoff_ms = RETRY_MIN_MS;
	p->next_retry_ns = now_ns() + RETRY_MIN_MS * 1000000ull;
	set_state(d, st, reason);
	svh_warn("device '%s': port '%s' %s%s%s; the link is down, attaching again when "
		 "possible", d->name, d->cfg.port,
		 st == SVH_DEV_OWNER_GONE ? "closed by its owner" : "revoked",
		 reason == SVHOST_REASON_ADMIN ? " by the administrator" :
		 reason == SVHOST_REASON_ACL ? " (grant withdrawn)" : "", "");
}

static void pd_retry(struct svh_dev *d)
{
	struct dev_pd *p = &d->p;

	pthread_mutex_lock(&d->lock);
	if (p->retrying && d->cfg.port[0] && pd_attach(d) != 0) {
		p->backoff_ms = p->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : p->backoff_ms * 2;
		p->next_retry_ns = now_ns() + p->backoff_ms * 1000000ull;
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- the PD thread: applying requests -------------------------------------------------- */

static void vq_params(struct svh_dev *d, unsigned i, struct svh_vq_params *vp)
{
	const struct dev_vring *v = &d->cfg.vr[i];

	memset(vp, 0, sizeof(*vp));
	vp->num = (uint16_t)v->num;
	vp->desc_gpa = v->desc_gpa;
	vp->avail_gpa = v->avail_gpa;
	vp->used_gpa = v->used_gpa;
	vp->features = d->p.features;
	vp->last_avail_idx = (uint16_t)v->base;
	vp->kick_fd = v->kick_fd;
	vp->call_fd = v->call_fd;
}

static void vring_stop(struct svh_dev *d, unsigned i)
{
	struct svh_vq *vq = vq_of(d, i);

	/* only at the transition: a later SET_VRING_BASE must stick */
	if (vq->ready)
		d->cfg.vr[i].base = vq->last_avail;
	vq->ready = false;
}

static void vring_apply(struct svh_dev *d, unsigned i, bool mem_changed)
{
	struct dev_vring *v = &d->cfg.vr[i];
	struct svh_vq *vq = vq_of(d, i);
	struct svh_dirtylog *log = &d->p.log;
	bool changed = d->p.vr_gen[i] != v->gen;

	d->p.vr_gen[i] = v->gen;
	if (!v->enable) {
		vring_stop(d, i);
		return;
	}
	if (vq->ready && !changed && !mem_changed)
		return;
	if (vq->ready) {
		/* running: new fds, addresses or memory table, same indexes */
		vq->kick_fd = v->kick_fd;
		vq->call_fd = v->call_fd;
		v->rc = svh_vq_remap(vq, d->p.gm, v->desc_gpa, v->avail_gpa, v->used_gpa);
		if (v->rc) {
			v->base = vq->last_avail;
			svh_warn("device '%s': vring %u no longer mapped after a memory or "
				 "address change: stopped", d->name, i);
		}
		return;
	}
	if (!changed)
		return;	/* a failed start is tried again only after a change */
	if (!d->p.gm || !v->addr_set || !v->num) {
		v->rc = -EINVAL;
		return;
	}
	{
		struct svh_vq_params vp;

		vq_params(d, i, &vp);
		v->rc = svh_vq_start(vq, d->p.gm, log, &vp);
	}
	if (v->rc) {
		svh_warn("device '%s': vring %u cannot start: %s", d->name, i, strerror(-v->rc));
		return;
	}
	/* the vSwitch quiesced this ring when it stopped: read it afresh */
	if (d->p.attached) {
		struct svh_ring *r = ring_of(d, i);
		struct svhost_ring *shm = svh_port_ring(&d->p.port, i / 2, i % 2);

		if (svh_ring_restart(r, shm, d->p.port.pool))
			svh_warn("device '%s': vring %u: inconsistent ring indexes from the "
				 "vSwitch", d->name, i);
	}
}

/* Apply everything control threads asked for; d->lock held. */
static void pd_apply_locked(struct svh_dev *d)
{
	struct dev_pd *p = &d->p;
	uint64_t seq = d->req;
	bool mem_changed = false, log_on;

	/* the port */
	if (p->port_gen != d->cfg.port_gen) {
		p->port_gen = d->cfg.port_gen;
		if (p->attached)
			pd_detach(d);
		p->retrying = false;
		if (d->cfg.port[0]) {
			d->attach_rc = pd_attach(d);
			if (d->attach_rc) {
				svh_warn("device '%s': cannot attach to port '%s': %s", d->name,
					 d->cfg.port, strerror(-d->attach_rc));
				d->cfg.port[0] = 0;
				set_state(d, SVH_DEV_DETACHED, SVHOST_REASON_NONE);
			}
		} else {
			d->attach_rc = 0;
			set_state(d, SVH_DEV_DETACHED, SVHOST_REASON_NONE);
		}
	}
	p->features = d->cfg.features;
	/* dirty log: on while VHOST_F_LOG_ALL is negotiated and a bitmap is set */
	log_on = (p->features & (1ULL << VHOST_F_LOG_ALL)) && d->cfg.log_base;
	if (log_on != p->log_on || d->cfg.log_base != p->log_base ||
	    d->cfg.log_size != p->log_size) {
		p->log_on = log_on;
		p->log_base = d->cfg.log_base;
		p->log_size = d->cfg.log_size;
		svh_log_init(&p->log, log_on ? p->log_base : NULL, p->log_size);
	}
	/* memory table swap: every running vring is translated again by gpa */
	if (p->gm != d->cfg.gm) {
		p->gm = d->cfg.gm;
		mem_changed = true;
	}
	for (unsigned i = 0; i < d->nvr; i++)
		vring_apply(d, i, mem_changed);
	svh_pd_refresh_fds(&p->pd);
	p->applied = seq;
	d->ack = seq;
	pthread_cond_broadcast(&d->cond);
}

static void pd_apply(struct svh_dev *d)
{
	pthread_mutex_lock(&d->lock);
	pd_apply_locked(d);
	pthread_mutex_unlock(&d->lock);
}

/* Nothing to copy: sleep until a request, shutdown or the next retry. */
static void pd_idle_wait(struct svh_dev *d)
{
	struct pollfd pf = { .fd = d->wake_fd, .events = POLLIN };
	int ms = IDLE_WAIT_MS;

	if (d->p.retrying) {
		uint64_t t = now_ns();

		ms = d->p.next_retry_ns > t ? (int)((d->p.next_retry_ns - t) / 1000000) + 1 : 0;
	}
	if (poll(&pf, 1, ms) > 0)
		svh_eventfd_drain(d->wake_fd);
}

static bool shutting_down(const struct svh_dev *d)
{
	return __atomic_load_n(&d->shutdown, __ATOMIC_ACQUIRE) != 0;
}

SVH_API void svh_dev_run(struct svh_dev *d)
{
	struct dev_pd *p;

	if (!d)
		return;
	p = &d->p;
	pthread_mutex_lock(&d->lock);
	if (d->running) {
		pthread_mutex_unlock(&d->lock);
		svh_warn("device '%s': svh_dev_run called twice", d->name);
		return;
	}
	d->running = true;
	d->ran = true;
	pthread_cond_broadcast(&d->cond);	/* a set_port waiting for us */
	pthread_mutex_unlock(&d->lock);

	svh_pd_setup_thread(&p->pd);
	/* the key is this thread's: allocated here, opened here only */
	if (p->pkey < 0 && svh_pkey_supported()) {
		p->pkey = svh_pkey_alloc();
		if (p->pkey < 0) {
			svh_warn("device '%s': pkey_alloc: %s (the broker may refuse us)",
				 d->name, strerror(-p->pkey));
			p->pkey = -1;
		}
	}
	if (p->pkey > 0)
		svh_pkey_set_thread(p->pkey, true);
	pd_apply(d);	/* whatever was asked before the thread ran */
	svh_info("device '%s': PD thread running (%s, burst %u, cpu %d, pkey %d)", d->name,
		 svh_sched_name(d->pdcfg.mode), d->pdcfg.burst, d->pdcfg.cpu, p->pkey);

	while (!shutting_down(d)) {
		unsigned moved;

		if (svh_unlikely(__atomic_load_n(&d->req, __ATOMIC_RELAXED) != p->applied))
			pd_apply(d);
		if (svh_likely(p->attached)) {
			uint32_t reason;
			enum svh_dev_state st = svh_port_status(&p->port, &reason);

			if (svh_unlikely(st != SVH_DEV_ATTACHED)) {
				pthread_mutex_lock(&d->lock);
				pd_lost(d, st, reason);
				pthread_mutex_unlock(&d->lock);
				continue;
			}
		} else {
			if (p->retrying && now_ns() >= p->next_retry_ns) {
				pd_retry(d);
				continue;
			}
			pd_idle_wait(d);
			continue;
		}
		moved = svh_pd_poll(&p->pd);
		svh_pd_idle(&p->pd, moved);
	}

	/* leaving: stop every vring where it is, detach, close the key */
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->nvr; i++) {
		vring_stop(d, i);
		d->cfg.vr[i].gen++;	/* started again by the next run */
	}
	if (p->attached)
		pd_detach(d);
	p->retrying = false;
	p->port_gen = d->cfg.port_gen - 1;	/* the next run attaches again */
	if (p->pkey > 0) {
		svh_pkey_set_thread(p->pkey, false);
		svh_pkey_free(p->pkey);
		p->pkey = -1;
	}
	d->running = false;
	d->ack = d->req;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	set_state(d, SVH_DEV_DETACHED, SVHOST_REASON_NONE);
	__atomic_store_n(&d->shutdown, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&p->pd.stop, 0, __ATOMIC_RELEASE);
	svh_info("device '%s': PD thread stopped", d->name);
}

SVH_API void svh_dev_shutdown(struct svh_dev *d)
{
	uint64_t one = 1;

	if (!d)
		return;
	__atomic_store_n(&d->shutdown, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&d->p.pd.stop, 1, __ATOMIC_RELEASE);
	/* write(2) is async-signal-safe */
	if (write(d->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the PD is awake anyway */
	}
}

/* ---- control calls ----------------------------------------------------------------- */

/*
 * After changing d->cfg under the lock: hand the request to the PD thread
 * and wait until it applied it.  Without a running PD thread the change is
 * applied when svh_dev_run starts.  Returns with the lock held.
 */
static void request_locked(struct svh_dev *d)
{
	uint64_t seq = ++d->req;

	if (!d->running)
		return;
	svh_eventfd_kick(d->wake_fd);
	while (d->running && d->ack < seq)
		pthread_cond_wait(&d->cond, &d->lock);
}

static int vring_check(const struct svh_dev *d, unsigned idx)
{
	return d && idx < d->nvr ? 0 : -EINVAL;
}

SVH_API int svh_dev_set_port(struct svh_dev *d, const char *name, int ctl_fd, int pool_fd)
{
	int c = -1, p = -1, rc = 0;

	if (!d)
		return -EINVAL;
	if (name && !svh_port_name_valid(name))
		return -EINVAL;
	if (ctl_fd >= 0 || pool_fd >= 0) {
		/* a front end not in test mode treats memfds as malformed */
		if (!(d->flags & SVH_DEV_F_TEST_MEMFD) || ctl_fd < 0 || pool_fd < 0 || !name)
			return -EINVAL;
		c = dup_fd(ctl_fd);
		p = dup_fd(pool_fd);
		if (c < 0 || p < 0) {
			rc = c < 0 ? c : p;
			close_fd(&c);
			close_fd(&p);
			return rc;
		}
		svh_warn("device '%s': port '%s' uses the TEST-ONLY memfd pool: no broker, no "
			 "isolation", d->name, name);
	}
	pthread_mutex_lock(&d->lock);
	/* the attach is the PD thread's: wait for the first one to start */
	while (!d->ran)
		pthread_cond_wait(&d->cond, &d->lock);
	close_fd(&d->cfg.ctl_fd);
	close_fd(&d->cfg.pool_fd);
	d->cfg.ctl_fd = c;
	d->cfg.pool_fd = p;
	snprintf(d->cfg.port, sizeof(d->cfg.port), "%s", name ? name : "");
	d->cfg.port_gen++;
	d->attach_rc = 0;
	request_locked(d);
	if (d->running || d->ack >= d->req)
		rc = d->attach_rc;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

SVH_API enum svh_dev_state svh_dev_state(const struct svh_dev *d, uint32_t *reason)
{
	if (reason)
		*reason = d ? __atomic_load_n(&d->reason, __ATOMIC_RELAXED) : 0;
	return d ? (enum svh_dev_state)__atomic_load_n(&d->state, __ATOMIC_ACQUIRE)
		 : SVH_DEV_DETACHED;
}

SVH_API int svh_dev_state_fd(const struct svh_dev *d)
{
	return d ? d->state_fd : -EINVAL;
}

SVH_API const char *svh_dev_state_name(enum svh_dev_state s)
{
	switch (s) {
	case SVH_DEV_DETACHED: return "detached";
	case SVH_DEV_ATTACHED: return "attached";
	case SVH_DEV_REVOKED: return "revoked";
	case SVH_DEV_OWNER_GONE: return "owner-gone";
	}
	return "unknown";
}

SVH_API uint64_t svh_dev_features(void)
{
	return (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
	       (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |
	       (1ULL << VHOST_F_LOG_ALL);
}

SVH_API int svh_dev_set_features(struct svh_dev *d, uint64_t features)
{
	if (!d)
		return -EINVAL;
	if (!(features & (1ULL << VIRTIO_F_VERSION_1)))
		return -EINVAL;	/* legacy layouts are not implemented */
	pthread_mutex_lock(&d->lock);
	d->cfg.features = features;
	request_locked(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

SVH_API int svh_dev_set_mem_table(struct svh_dev *d, const struct svh_mem_region *r,
				  unsigned nr)
{
	struct svh_gm_region regs[SVH_GM_MAX_REGIONS];
	struct svh_guestmem *gm, *old;
	int rc;

	if (!d || (!r && nr) || nr > SVH_GM_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < nr; i++) {
		regs[i].gpa = r[i].gpa;
		regs[i].size = r[i].size;
		regs[i].hva = (void *)(uintptr_t)r[i].uaddr;
	}
	gm = malloc(sizeof(*gm));
	if (!gm)
		return -ENOMEM;
	rc = svh_gm_init(gm, regs, nr);
	if (rc) {
		free(gm);
		return rc;
	}
	pthread_mutex_lock(&d->lock);
	old = d->cfg.gm;
	d->cfg.gm = gm;
	request_locked(d);
	/* the PD uses the new table now (or will, when it starts) */
	pthread_mutex_unlock(&d->lock);
	free(old);
	return 0;
}

SVH_API int svh_dev_set_vring_num(struct svh_dev *d, unsigned idx, unsigned num)
{
	if (vring_check(d, idx) || num == 0 || num > SVH_VQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	d->cfg.vr[idx].num = num;
	d->cfg.vr[idx].gen++;
	request_locked(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

SVH_API int svh_dev_set_vring_base(struct svh_dev *d, unsigned idx, unsigned base)
{
	if (vring_check(d, idx) || base > 0xffff)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	d->cfg.vr[idx].base = base;
	d->cfg.vr[idx].gen++;
	request_locked(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

SVH_API int svh_dev_set_vring_addr(struct svh_dev *d, const struct vhost_vring_addr *a)
{
	struct dev_vring *v;
	uint64_t desc, avail, used, num;
	int rc = 0;

	if (!a || vring_check(d, a->index))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	v = &d->cfg.vr[a->index];
	num = v->num ? v->num : 1;
	/* guest physical addresses survive memory table swaps; host ones do not */
	if (!d->cfg.gm ||
	    svh_gm_hva_to_gpa(d->cfg.gm, a->desc_user_addr, 16 * num, &desc) ||
	    svh_gm_hva_to_gpa(d->cfg.gm, a->avail_user_addr, 4 + 2 * num, &avail) ||
	    svh_gm_hva_to_gpa(d->cfg.gm, a->used_user_addr, 4 + 8 * num, &used)) {
		rc = -EFAULT;
	} else if ((desc & 15) || (avail & 1) || (used & 3)) {
		rc = -EINVAL;
	} else {
		v->desc_gpa = desc;
		v->avail_gpa = avail;
		v->used_gpa = used;
		v->addr_set = true;
		v->gen++;
		request_locked(d);
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int set_vring_fd(struct svh_dev *d, unsigned idx, int fd, bool kick)
{
	int nfd, old;

	if (vring_check(d, idx))
		return -EINVAL;
	nfd = dup_fd(fd);
	if (fd >= 0 && nfd < 0)
		return nfd;
	pthread_mutex_lock(&d->lock);
	if (kick) {
		old = d->cfg.vr[idx].kick_fd;
		d->cfg.vr[idx].kick_fd = nfd;
	} else {
		old = d->cfg.vr[idx].call_fd;
		d->cfg.vr[idx].call_fd = nfd;
	}
	d->cfg.vr[idx].gen++;
	request_locked(d);
	pthread_mutex_unlock(&d->lock);
	/* the PD no longer uses the old one */
	close_fd(&old);
	return 0;
}

SVH_API int svh_dev_set_vring_kick(struct svh_dev *d, unsigned idx, int fd)
{
	return set_vring_fd(d, idx, fd, true);
}

SVH_API int svh_dev_set_vring_call(struct svh_dev *d, unsigned idx, int fd)
{
	return set_vring_fd(d, idx, fd, false);
}

SVH_API int svh_dev_set_vring_enable(struct svh_dev *d, unsigned idx, bool enable)
{
	int rc = 0;

	if (vring_check(d, idx))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	d->cfg.vr[idx].enable = enable;
	d->cfg.vr[idx].rc = 0;
	d->cfg.vr[idx].gen++;
	request_locked(d);
	if (enable && d->running)
		rc = d->cfg.vr[idx].rc;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

SVH_API int svh_dev_get_vring_base(struct svh_dev *d, unsigned idx, unsigned *base)
{
	if (vring_check(d, idx) || !base)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	if (d->cfg.vr[idx].enable) {
		d->cfg.vr[idx].enable = false;
		d->cfg.vr[idx].gen++;
		request_locked(d);
	}
	*base = d->cfg.vr[idx].base;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

SVH_API int svh_dev_set_log_base(struct svh_dev *d, void *bitmap, uint64_t size)
{
	if (!d || (bitmap && !size))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	d->cfg.log_base = bitmap;
	d->cfg.log_size = bitmap ? size : 0;
	request_locked(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

SVH_API int svh_dev_doorbells(const struct svh_dev *d, unsigned idx, int *kick_fd, int *call_fd)
{
	if (!d || idx >= d->nvr || !kick_fd || !call_fd)
		return -EINVAL;
	*kick_fd = d->db_kick[idx];
	*call_fd = d->db_call[idx];
	return 0;
}

/* ---- counters ----------------------------------------------------------------------- */

#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void dir_values(const struct svh_qp *qp, unsigned dir, uint64_t *v)
{
	const struct svh_dir_stats *st = &qp->st[dir];
	const struct svh_vq *vq = dir == SVH_DIR_TO_GUEST ? &qp->rxq : &qp->txq;
	const struct svh_ring *r = dir == SVH_DIR_TO_GUEST ? &qp->to_guest : &qp->to_vswitch;
	unsigned k = 0;

	v[k++] = RD(st->packets);
	v[k++] = RD(st->bytes);
	for (int i = 0; i < SVH_DROP_MAX; i++)
		v[k++] = RD(st->drops[i]);
	v[k++] = RD(st->guest_irqs);
	v[k++] = RD(st->peer_kicks);
	v[k++] = RD(st->busy_cycles);
	v[k++] = RD(st->batches);
	v[k++] = RD(st->stalls);
	for (int i = 0; i < SVH_VQERR_MAX; i++)
		v[k++] = RD(vq->errors[i]);
	for (int i = 0; i < SVH_RERR_MAX; i++)
		v[k++] = RD(r->stats.errors[i]);
	v[k++] = RD(vq->suppressed);
	v[k++] = RD(vq->broken);
	v[k++] = RD(r->broken);
}

SVH_API int svh_dev_stats(const struct svh_dev *d, struct svh_stat *tbl, unsigned n)
{
	uint64_t v[NDIR_STATS > NPD_STATS ? NDIR_STATS : NPD_STATS];
	unsigned k = 0;

	if (!d || (!tbl && n))
		return -EINVAL;
	for (unsigned q = 0; q < d->nqp && k < n; q++)
		for (unsigned dir = 0; dir < 2 && k < n; dir++) {
			dir_values(&d->qps[q], dir, v);
			for (unsigned i = 0; i < NDIR_STATS && k < n; i++, k++) {
				tbl[k].name = d->stat_names[k];
				tbl[k].value = v[i];
			}
		}
	if (k < n) {
		unsigned j = 0;

		v[j++] = RD(d->p.pd.loops);
		v[j++] = RD(d->p.pd.sleeps);
		v[j++] = RD(d->p.pd.yields);
		v[j++] = RD(d->p.attaches);
		v[j++] = RD(d->p.attach_failures);
		v[j++] = RD(d->p.revocations);
		v[j++] = RD(d->p.owner_gone);
		v[j++] = RD(d->p.log.out_of_range);
		for (unsigned i = 0; i < NPD_STATS && k < n; i++, k++) {
			tbl[k].name = d->stat_names[k];
			tbl[k].value = v[i];
		}
	}
	return (int)d->nstats;
}
