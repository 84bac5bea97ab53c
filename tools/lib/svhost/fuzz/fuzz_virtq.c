// SPDX-License-Identifier: BSD-3-Clause
/*
 * fuzz_virtq.c: libFuzzer target for the split-virtqueue parser.  The input
 * is the whole guest memory (two separately allocated regions, so ASan sees
 * any byte touched outside them) holding the descriptor table, avail and
 * used rings and indirect tables; the first bytes choose queue size,
 * features and direction.  Every segment of every accepted chain is read or
 * written in full, then the chain is returned through the used ring.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_config.h>

#include "broker.h"
#include "compiler.h"
#include "pd.h"

#define REG 4096u

static uint8_t sink[SVH_VQ_MAX_SEGS * 8];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct svh_gm_region r[2];
	struct svh_guestmem gm;
	struct svh_vq_params p;
	struct svh_vq *vq;
	struct svh_chain *c;
	struct svh_dirtylog log;
	uint8_t logbits[8] = { 0 };
	uint8_t *m0, *m1;
	bool rx;

	if (size < 4)
		return 0;
	m0 = malloc(REG);
	m1 = malloc(REG);
	vq = malloc(sizeof(*vq));
	c = malloc(sizeof(*c));
	memset(m0, 0, REG);
	memset(m1, 0, REG);
	memcpy(m0, data + 4, size - 4 < REG ? size - 4 : REG);
	if (size - 4 > REG)
		memcpy(m1, data + 4 + REG, size - 4 - REG < REG ? size - 4 - REG : REG);
	r[0] = (struct svh_gm_region){ .gpa = 0, .size = REG, .hva = m0 };
	/* region 1 adjacent or behind a hole, chosen by the input */
	r[1] = (struct svh_gm_region){ .gpa = (data[3] & 1) ? REG : 3 * REG, .size = REG, .hva = m1 };
	if (svh_gm_init(&gm, r, 2))
		abort();
	svh_log_init(&log, logbits, sizeof(logbits));

	memset(&p, 0, sizeof(p));
	p.num = (uint16_t)(1u << (data[0] % 7 + 1));	/* 2..128 */
	p.features = 1ULL << VIRTIO_F_VERSION_1;
	if (data[1] & 1)
		p.features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[1] & 2)
		p.features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	p.desc_gpa = 0;
	p.avail_gpa = 16u * p.num;
	p.used_gpa = (p.avail_gpa + 6 + 2u * p.num + 3) & ~3ull;
	p.last_avail_idx = (uint16_t)(data[2] * 257);
	p.kick_fd = p.call_fd = -1;
	rx = data[1] & 4;
	if (svh_vq_init(vq, &gm, &log, &p) == 0) {
		for (int round = 0; round < 3; round++) {
			int got = 0;

			svh_vq_set_notification(vq, round & 1);
			while (got < 2 * p.num && svh_vq_pop(vq, c, rx) == 1) {
				uint64_t total = 0;

				for (uint32_t i = 0; i < c->nseg; i++) {
					uint32_t k = c->seg[i].len < sizeof(sink) ? c->seg[i].len
										  : sizeof(sink);

					if (rx)
						memset(c->seg[i].base, 0xab, c->seg[i].len);
					else
						memcpy(sink, c->seg[i].base, k);
					total += c->seg[i].len;
				}
				if (total != c->len)
					abort();
				if (c->len >= SVH_VNET_HDR_LEN && c->seg[0].len >= SVH_VNET_HDR_LEN) {
					svh_desc_t d = { 0 };
					struct virtio_net_hdr_mrg_rxbuf h;

					memcpy(&h, c->seg[0].base, sizeof(h));	/* private copy */
					if (svh_vnet_check(&h.hdr, c->len - SVH_VNET_HDR_LEN) == 0) {
						svh_vnet_to_desc(&h.hdr, &d);
						if (svh_desc_check_offload(&d))
							abort();
					}
				}
				svh_vq_push(vq, c->head, (uint32_t)c->len);
				got++;
			}
			svh_vq_flush(vq);
			svh_vq_notify(vq);
			if (vq->broken)
				break;
		}
	}
	free(c);
	free(vq);
	free(m0);
	free(m1);
	return 0;
}
