// SPDX-License-Identifier: BSD-3-Clause
/*
 * fuzz_ring.c: libFuzzer target for both roles of the svhost rings as a
 * hostile peer would fill them.  The input becomes the shared ring (indexes,
 * flags, descriptors) of a TO_GUEST and a TO_VSWITCH ring; the copier runs
 * the real PD bursts against a synthetic guest, and a producer reaps
 * completions it never posted.  The pool is an exactly sized allocation so
 * ASan reports any access outside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

#define RS 64u
#define BS 2048u
#define BC 8u
#define RING_BYTES (SVHOST_RING_HDR_SIZE + RS * sizeof(struct svhost_desc))

static struct synth_guest g;
static bool g_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct svhost_ring *tg, *tv;
	uint8_t *pool;
	struct svh_qp *qp;
	struct svh_qp_cfg qc;
	struct svh_ring prod;
	svh_desc_t out[RS];
	uint8_t ok[RS];

	if (!g_ready) {
		struct sg_cfg c = { .num = 64, .tx_buf_cap = 4096, .rx_buf_len = 1024,
				    .features = SVH_VQ_FEATURES, .split_regions = true,
				    .tx_layout = SG_TX_ROTATE };

		if (sg_init(&g, &c))
			abort();
		g_ready = true;
	}
	tg = aligned_alloc(64, RING_BYTES);
	tv = aligned_alloc(64, RING_BYTES);
	pool = malloc(BS * BC);
	qp = aligned_alloc(64, (sizeof(*qp) + 63) & ~(size_t)63);
	memset(tg, 0, RING_BYTES);
	memset(tv, 0, RING_BYTES);
	memset(pool, 0, BS * BC);
	/* first half of the input: TO_GUEST ring; second half: TO_VSWITCH */
	{
		size_t h = size / 2;

		memcpy(tg, data, h < RING_BYTES ? h : RING_BYTES);
		memcpy(tv, data + h, size - h < RING_BYTES ? size - h : RING_BYTES);
	}
	memset(&qc, 0, sizeof(qc));
	qc.to_guest = tg;
	qc.to_vswitch = tv;
	qc.pool = pool;
	qc.ring_size = RS;
	qc.buf_size = BS;
	qc.buf_count = BC;
	qc.gm = sg_gm(&g);
	sg_vq_params(&g, false, &qc.txq);
	sg_vq_params(&g, true, &qc.rxq);
	/* the guest queues continue from where the last input left them */
	qc.txq.last_avail_idx = g.tx.avail_idx;
	qc.rxq.last_avail_idx = g.rx.avail_idx;
	qc.ring_kick_fd = qc.ring_wait_fd = -1;
	if (svh_qp_init(qp, &qc) == 0) {
		for (int round = 0; round < 4; round++) {
			sg_rx_refill(&g);
			while (sg_tx_post(&g, 1 + (uint32_t)(round * 1500 + size) % 3000))
				;
			svh_pd_rx_burst(qp, 32);
			svh_pd_tx_burst(qp, 32);
			sg_rx_poll(&g);
			sg_tx_reap(&g);
		}
	}
	/* whatever the PD left un-consumed in the guest TX queue is dropped */
	g.tx.last_used = g.tx.used->idx = g.tx.avail_idx;
	for (uint32_t s = 0; s < g.tx.nslots; s++)
		g.tx.free_slots[s] = s;
	g.tx.nfree = g.tx.nslots;
	g.rx.used->idx = g.rx.last_used = g.rx.avail_idx;
	for (uint32_t s = 0; s < g.rx.nslots; s++)
		g.rx.free_slots[s] = s;
	g.rx.nfree = g.rx.nslots;
	svh_qp_fini(qp);

	/* producer side: reap completions from a hostile copier */
	memset(tv, 0, SVHOST_RING_HDR_SIZE);
	if (svh_ring_init(&prod, tv, SVH_RING_PRODUCER, RS, pool, BS, BC, true) == 0) {
		svh_desc_t d[BC];

		for (uint32_t i = 0; i < BC; i++)
			d[i] = (svh_desc_t){ .offset = (uint64_t)i * BS };
		svh_ring_prod_post(&prod, d, BC);
		if (size >= 8) {
			uint32_t cons;

			memcpy(&cons, data + size - 4, 4);
			tv->cons = cons;
			memcpy(tv->desc, data, size - 4 < RS * 32 ? size - 4 : RS * 32);
		}
		for (uint32_t n = svh_ring_prod_reap(&prod, out, ok, RS), i = 0; i < n; i++)
			if (ok[i] && (out[i].offset >= BS * BC || out[i].len > BS))
				abort();
		svh_ring_fini(&prod);
	}
	free(qp);
	free(pool);
	free(tv);
	free(tg);
	return 0;
}
