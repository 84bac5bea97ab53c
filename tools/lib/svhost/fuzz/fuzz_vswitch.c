// SPDX-License-Identifier: BSD-3-Clause
/*
 * fuzz_vswitch.c: libFuzzer target for the vSwitch role (svhost/vswitch.h)
 * facing a hostile copier.  The input is a program for the copier: each
 * 40-byte record either completes TO_VSWITCH slots with descriptors taken
 * from the input (any len, flags, offload fields, offsets), moves the
 * consumer index anywhere, consumes TO_GUEST slots, or makes the vSwitch
 * receive (copying every packet out), release, send, or stop and restart
 * a ring.  After every step no buffer may be lost or duplicated: free +
 * posted + held = the ring's slice, and every packet handed out is within
 * the limits.  The pool is a memfd mapping of exactly its size, so ASan
 * and the page boundary catch any access outside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "svhost/vswitch.h"
#include "broker.h"
#include "compiler.h"
#include "ring.h"

#define RS 64u

static uint64_t stat(struct svh_vsw *v, enum svh_vsw_dir dir, const char *name)
{
	struct svh_stat t[32];
	int n = svh_vsw_stats(v, 0, dir, t, 32);

	for (int i = 0; i < n && i < 32; i++)
		if (!strcmp(t[i].name, name))
			return t[i].value;
	abort();
}

static void check_buffers(struct svh_vsw *v, uint64_t slice)
{
	for (int dir = 0; dir < 2; dir++)
		if (stat(v, dir, "buffers_free") + stat(v, dir, "buffers_posted") +
		    stat(v, dir, "buffers_held") != slice)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[SVH_MAX_PKT_LEN], src[SVH_MAX_PKT_LEN];
	struct svh_vsw_opts o = { .sz = sizeof(o), .flags = SVH_VSW_F_TEST_MEMFD,
				  .queue_pairs = 1, .ring_size = RS, .buf_size = 2048 };
	struct svh_vsw *v;
	struct svh_port c;
	struct svh_ring tv, tg;
	struct svhost_ring *tvs, *tgs;
	struct svh_vsw_rx rx[RS];
	unsigned held = 0;
	bool tv_ok = true, tg_ok = true;	/* our consumer views still usable */
	svh_desc_t d[RS];
	uint8_t ok[RS];
	int ctl, pool;

	if (svh_vsw_create(&v, "fz", &o))
		abort();
	svh_vsw_test_memfds(v, &ctl, &pool);
	if (svh_port_attach_memfd(&c, ctl, pool))
		abort();
	tvs = svh_port_ring(&c, 0, SVHOST_RING_TO_VSWITCH);
	tgs = svh_port_ring(&c, 0, SVHOST_RING_TO_GUEST);
	if (svh_ring_init(&tv, tvs, SVH_RING_CONSUMER, RS, c.pool, 2048, 2 * RS, false) ||
	    svh_ring_init(&tg, tgs, SVH_RING_CONSUMER, RS, c.pool, 2048, 2 * RS, false))
		abort();
	svh_vsw_ring_start(v, 0, SVH_VSW_TO_VSWITCH);
	svh_vsw_ring_start(v, 0, SVH_VSW_TO_GUEST);
	for (size_t at = 0; at + 40 <= size; at += 40) {
		const uint8_t *p = data + at;
		struct svhost_desc raw;
		uint32_t k = p[1] % 8 + 1, n;

		memcpy(&raw, p + 8, sizeof(raw));
		switch (p[0] % 8) {
		case 0:	/* complete k posted slots, each with the input's descriptor */
		case 1:
			if (!tv_ok)
				break;
			n = svh_ring_cons_peek(&tv, d, ok, k);
			for (uint32_t i = 0; i < n; i++) {
				struct svhost_desc w = raw;

				if (p[2] & 1)
					w.offset = d[i].offset;	/* keep the real buffer */
				w.len = raw.len % (p[3] & 1 ? 4096 : 2049);
				if (i + 1 < n && (p[4] & 1))
					w.flags |= SVHOST_DESC_F_NEXT;
				svh_ring_cons_fill(&tv, i, &w);
			}
			svh_ring_cons_complete(&tv, n);
			break;
		case 2:	/* the copier writes any cons index */
			__atomic_store_n(p[2] & 1 ? &tvs->cons : &tgs->cons,
					 (uint32_t)raw.offset, __ATOMIC_RELEASE);
			tv_ok = svh_ring_restart(&tv, tvs, c.pool) == 0;
			tg_ok = svh_ring_restart(&tg, tgs, c.pool) == 0;
			break;
		case 3:	/* receive, copying every packet out */
			n = svh_vsw_recv(v, 0, rx + held, RS - held);
			for (uint32_t i = held; i < held + n; i++) {
				struct iovec io = { out, rx[i].len };

				if (rx[i].len == 0 || rx[i].len > SVH_MAX_PKT_LEN)
					abort();
				if (svh_vsw_recv_copy(v, 0, &rx[i], 0, &io, 1) != (int)rx[i].len)
					abort();
			}
			held += n;
			break;
		case 4:	/* release the oldest ones */
			n = k < held ? k : held;
			svh_vsw_recv_release(v, 0, n);
			memmove(rx, rx + n, (held - n) * sizeof(rx[0]));
			held -= n;
			break;
		case 5: {	/* send a packet; the copier consumes what was posted */
			struct iovec io = { src, (raw.len % SVH_MAX_PKT_LEN) + 1 };
			struct svh_vsw_pkt pk = { .iov = &io, .iovcnt = 1, .len = (uint32_t)io.iov_len };

			memcpy(&pk.hdr, p + 24, sizeof(pk.hdr));
			svh_vsw_send(v, 0, &pk, 1);
			if (tg_ok) {
				n = svh_ring_cons_peek(&tg, d, ok, RS);
				svh_ring_cons_complete(&tg, n);
			}
			break;
		}
		case 6:	/* stop and start one ring */
			svh_vsw_ring_stop(v, 0, p[2] & 1);
			svh_vsw_ring_start(v, 0, p[2] & 1);
			if (p[2] & 1)
				tv_ok = svh_ring_restart(&tv, tvs, c.pool) == 0;
			else
				tg_ok = svh_ring_restart(&tg, tgs, c.pool) == 0;
			break;
		default:	/* a forged record is refused */
			if (held) {
				struct svh_vsw_rx f = rx[0];
				struct iovec io = { out, 16 };

				f.priv[0] += raw.len;
				f.priv[1] = raw.flags;
				if (svh_vsw_recv_copy(v, 0, &f, raw.vnet_flags, &io, 1) > 16)
					abort();
			}
			break;
		}
		check_buffers(v, RS);
	}
	svh_vsw_recv_release(v, 0, held);
	svh_vsw_ring_stop(v, 0, SVH_VSW_TO_VSWITCH);
	svh_vsw_ring_stop(v, 0, SVH_VSW_TO_GUEST);
	/* everything back at the end */
	if (stat(v, SVH_VSW_TO_VSWITCH, "buffers_free") != RS ||
	    stat(v, SVH_VSW_TO_GUEST, "buffers_free") != RS)
		abort();
	svh_ring_fini(&tv);
	svh_ring_fini(&tg);
	svh_port_close(&c);
	svh_vsw_destroy(v);
	return 0;
}
