// SPDX-License-Identifier: BSD-3-Clause
/*
 * rig.c: wires a local port, a synthetic guest, a synthetic vSwitch and one
 * PD queue pair together, for tests and benchmarks (never product code).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "synth.h"

void rig_cfg_default(struct rig_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->pp.queue_pairs = 1;
	c->pp.ring_size = 256;
	c->pp.buf_size = 2048;
	c->pp.buf_count = 2048;
	c->g.num = 256;
	c->g.tx_buf_cap = 10240;
	c->g.rx_buf_len = 2048;
	c->g.features = SVH_VQ_FEATURES;
	c->g.split_regions = true;
	c->g.tx_layout = SG_TX_ROTATE;
	c->g.verify = true;
	c->verify = true;
}

int rig_init(struct rig *r, const struct rig_cfg *c)
{
	struct svh_qp_cfg qc;
	int rc;

	memset(r, 0, sizeof(*r));
	r->cfg = *c;
	r->efd_pd = r->efd_sw = -1;
	r->cfg.pp.queue_pairs = 1;
	rc = svh_port_create_local(&r->owner, "rig", &r->cfg.pp);
	if (rc)
		return rc;
	rc = svh_port_attach_local(&r->copier, &r->owner);
	if (rc)
		return rc;
	rc = sg_init(&r->g, &c->g);
	if (rc)
		return rc;
	rc = sv_init(&r->sv, svh_port_ring(&r->owner, 0, SVHOST_RING_TO_VSWITCH),
		     svh_port_ring(&r->owner, 0, SVHOST_RING_TO_GUEST), r->owner.pool,
		     c->pp.ring_size, c->pp.buf_size, c->pp.buf_count, c->verify, true);
	if (rc)
		return rc;
	if (c->eventfds) {
		r->efd_pd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		r->efd_sw = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		svh_ring_set_fds(&r->sv.tx, r->efd_pd, r->efd_sw);
		svh_ring_set_fds(&r->sv.rx, r->efd_pd, r->efd_sw);
	}
	if (c->dirty_log) {
		r->logsize = (r->g.mem_size / SVH_LOG_PAGE_SIZE + 7) / 8;
		r->logmem = calloc(1, r->logsize);
		if (!r->logmem)
			return -ENOMEM;
		svh_log_init(&r->log, r->logmem, r->logsize);
	}
	r->qp = aligned_alloc(64, (sizeof(*r->qp) + 63) / 64 * 64);
	if (!r->qp)
		return -ENOMEM;
	memset(&qc, 0, sizeof(qc));
	qc.to_guest = svh_port_ring(&r->copier, 0, SVHOST_RING_TO_GUEST);
	qc.to_vswitch = svh_port_ring(&r->copier, 0, SVHOST_RING_TO_VSWITCH);
	qc.pool = r->copier.pool;
	qc.ring_size = c->pp.ring_size;
	qc.buf_size = c->pp.buf_size;
	qc.buf_count = c->pp.buf_count;
	qc.gm = sg_gm(&r->g);
	qc.log = c->dirty_log ? &r->log : NULL;
	sg_vq_params(&r->g, false, &qc.txq);
	sg_vq_params(&r->g, true, &qc.rxq);
	qc.ring_kick_fd = r->efd_sw;
	qc.ring_wait_fd = r->efd_pd;
	return svh_qp_init(r->qp, &qc);
}

void rig_fini(struct rig *r)
{
	if (r->qp) {
		svh_qp_fini(r->qp);
		free(r->qp);
	}
	sv_fini(&r->sv);
	sg_fini(&r->g);
	svh_port_close(&r->copier);
	svh_port_close(&r->owner);
	if (r->efd_pd >= 0)
		close(r->efd_pd);
	if (r->efd_sw >= 0)
		close(r->efd_sw);
	free(r->logmem);
	memset(r, 0, sizeof(*r));
}
