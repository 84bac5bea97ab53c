// SPDX-License-Identifier: BSD-3-Clause
/*
 * test_vswitch.c: the vSwitch role of the public API (svhost/vswitch.h) on
 * the test-only memfd pool, against a copier driven by hand through the
 * ring layer (an honest PD, then a hostile one): options and geometry
 * checks, packets both ways with scatter lists and offloads, large packets
 * over chained buffers, LIFO buffer reuse and the bounded TO_VSWITCH
 * posting (the working set), quiescent stop/start, doorbells, the counter
 * table, and every kind of bad completion: counted, never delivered, no
 * buffer lost.
 */
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "svhost/vswitch.h"
#include "broker.h"
#include "compiler.h"
#include "ring.h"
#include "tap.h"

static char last_warn[512];
static int nwarn;

static int capture(enum svh_print_level level, const char *fmt, va_list ap)
{
	if (level == SVH_WARN) {
		vsnprintf(last_warn, sizeof(last_warn), fmt, ap);
		nwarn++;
	}
	return 0;
}

/* The copier side, by hand: consumer views of qp 0's rings on the memfd pool. */
struct pdside {
	struct svh_port port;
	struct svh_ring tg, tv;
	svh_desc_t d[512];
	uint8_t ok[512];
};

static int pd_attach(struct pdside *p, struct svh_vsw *v)
{
	int ctl, pool, rc;
	uint32_t rs;

	memset(p, 0, sizeof(*p));
	if (svh_vsw_test_memfds(v, &ctl, &pool))
		return -1;
	rc = svh_port_attach_memfd(&p->port, ctl, pool);
	if (rc)
		return rc;
	rs = p->port.layout.ring_size;
	rc = svh_ring_init(&p->tg, svh_port_ring(&p->port, 0, SVHOST_RING_TO_GUEST),
			   SVH_RING_CONSUMER, rs, p->port.pool, p->port.layout.buf_size,
			   p->port.layout.buf_count, false);
	if (!rc)
		rc = svh_ring_init(&p->tv, svh_port_ring(&p->port, 0, SVHOST_RING_TO_VSWITCH),
				   SVH_RING_CONSUMER, rs, p->port.pool, p->port.layout.buf_size,
				   p->port.layout.buf_count, false);
	return rc;
}

static void pd_detach(struct pdside *p)
{
	svh_ring_fini(&p->tg);
	svh_ring_fini(&p->tv);
	svh_port_close(&p->port);
}

static struct svh_vsw *mk(uint32_t qps, uint32_t ring, uint32_t bufs)
{
	struct svh_vsw_opts o = { .sz = sizeof(o), .flags = SVH_VSW_F_TEST_MEMFD,
				  .queue_pairs = qps, .ring_size = ring, .buf_size = 2048,
				  .buf_count = bufs };
	struct svh_vsw *v = NULL;

	CHECK_EQ(svh_vsw_create(&v, "tvsw", &o), 0);
	return v;
}

static uint64_t stat(struct svh_vsw *v, uint32_t qp, enum svh_vsw_dir dir, const char *name)
{
	struct svh_stat t[64];
	int n = svh_vsw_stats(v, qp, dir, t, 64);

	for (int i = 0; i < n && i < 64; i++)
		if (!strcmp(t[i].name, name))
			return t[i].value;
	printf("#   no counter %s\n", name);
	return UINT64_MAX;
}

static void create_rules(void)
{
	struct svh_vsw_opts o = { .sz = sizeof(o), .flags = SVH_VSW_F_TEST_MEMFD,
				  .queue_pairs = 1, .ring_size = 64, .buf_size = 2048 };
	struct { struct svh_vsw_opts o; uint64_t more; } big = { o, 0 };
	struct svh_vsw *v = NULL;
	uint32_t a, b, c, d;

	svh_set_print(capture);
	nwarn = 0;
	CHECK_EQ(svh_vsw_create(&v, "ok-name_1.x", &o), 0);
	CHECK(nwarn >= 1 && strstr(last_warn, "TEST-ONLY"));	/* loud warning */
	CHECK_EQ(svh_vsw_geometry(v, &a, &b, &c, &d), 0);
	CHECK_EQ(a, 1);
	CHECK_EQ(b, 64);
	CHECK_EQ(c, 2048);
	CHECK_EQ(d, 2 * 64);	/* default: every ring's slots, for both rings */
	CHECK(!strcmp(svh_vsw_name(v), "ok-name_1.x"));
	CHECK(!svh_vsw_copier_attached(v));
	svh_vsw_destroy(v);
	svh_vsw_destroy(NULL);
	CHECK_EQ(svh_vsw_create(&v, "bad/name", &o), -EINVAL);
	CHECK(v == NULL);
	CHECK_EQ(svh_vsw_create(&v, "..", &o), -EINVAL);
	CHECK_EQ(svh_vsw_create(&v, "", &o), -EINVAL);
	CHECK_EQ(svh_vsw_create(&v, "0123456789012345678901234567890123", &o), -EINVAL);
	o.flags = 0x80;
	CHECK_EQ(svh_vsw_create(&v, "x", &o), -EINVAL);
	o.flags = SVH_VSW_F_TEST_HUGETLB;	/* only with the memfd pool */
	CHECK_EQ(svh_vsw_create(&v, "x", &o), -EINVAL);
	o.flags = SVH_VSW_F_TEST_MEMFD | SVH_VSW_F_TEST_HUGETLB;	/* 4 KiB fallback, warned */
	CHECK_EQ(svh_vsw_create(&v, "x", &o), 0);
	svh_vsw_destroy(v);
	o.flags = SVH_VSW_F_TEST_MEMFD;
	o.ring_size = 100;
	CHECK_EQ(svh_vsw_create(&v, "x", &o), -EINVAL);
	o.ring_size = 64;
	o.buf_size = 1000;
	CHECK_EQ(svh_vsw_create(&v, "x", &o), -EINVAL);
	o.buf_size = 2048;
	o.queue_pairs = 65;
	CHECK_EQ(svh_vsw_create(&v, "x", &o), -EINVAL);
	o.queue_pairs = 2;
	o.buf_count = 4 * 32;	/* 32 per ring: a 64 KiB packet needs 33 */
	CHECK_EQ(svh_vsw_create(&v, "x", &o), -EINVAL);
	o.buf_count = 0;
	o.sz = 8;	/* too small to hold the fields */
	CHECK_EQ(svh_vsw_create(&v, "x", &o), -EINVAL);
	/* a newer caller's larger struct: fine while the unknown tail is zero */
	big.o.sz = sizeof(big);
	CHECK_EQ(svh_vsw_create(&v, "x", &big.o), 0);
	svh_vsw_destroy(v);
	big.more = 1;
	CHECK_EQ(svh_vsw_create(&v, "x", &big.o), -EINVAL);
	o.sz = sizeof(o);
	o.queue_pairs = 1;
	/* the real broker is never replaced silently by the memfd pool */
	if (access("/dev/svhost", F_OK) != 0) {
		o.flags = 0;
		CHECK_EQ(svh_vsw_create(&v, "x", &o), -ENOENT);
	}
	/* bad arguments on every call, no crash */
	CHECK_EQ(svh_vsw_ring_start(NULL, 0, SVH_VSW_TO_GUEST), -EINVAL);
	CHECK_EQ(svh_vsw_send(NULL, 0, NULL, 0), 0);
	CHECK_EQ(svh_vsw_stats(NULL, 0, 0, NULL, 0), -EINVAL);
	svh_set_print(NULL);
}

static void to_guest_scatter_offload_lifo(void)
{
	struct svh_vsw *v = mk(1, 64, 0);
	struct pdside p;
	uint8_t a[100], b[1900], c[70000];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, 3000 } };
	struct svh_vsw_pkt pk = { .iov = iov, .iovcnt = 3, .len = 5000 };
	uint64_t first_off;
	uint32_t n;

	for (unsigned i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)i;
	memset(b, 0xbb, sizeof(b));
	memset(c, 0xcc, sizeof(c));
	CHECK_EQ(pd_attach(&p, v), 0);
	CHECK(svh_vsw_copier_attached(v));
	CHECK_EQ(svh_vsw_send(v, 0, &pk, 1), 0);	/* not started */
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_GUEST), 0);
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_GUEST), -EBUSY);
	pk.hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	pk.hdr.csum_start = 34;
	pk.hdr.csum_offset = 16;
	pk.hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	pk.hdr.gso_size = 1448;
	pk.hdr.hdr_len = 66;
	CHECK_EQ(svh_vsw_send(v, 0, &pk, 1), 1);
	n = svh_ring_cons_peek(&p.tg, p.d, p.ok, 64);
	CHECK_EQ(n, 3);	/* 5000 bytes in 2048-byte buffers */
	CHECK(p.ok[0] && p.ok[1] && p.ok[2]);
	CHECK_EQ(p.d[0].len, 2048);
	CHECK_EQ(p.d[2].len, 5000 - 4096);
	CHECK_EQ(p.d[0].flags, SVHOST_DESC_F_NEXT | SVHOST_DESC_F_OFFLOAD);
	CHECK_EQ(p.d[1].flags, SVHOST_DESC_F_NEXT);
	CHECK_EQ(p.d[2].flags, 0);
	CHECK_EQ(p.d[0].gso_size, 1448);
	CHECK_EQ(p.d[0].csum_start, 34);
	/* the bytes, gathered across the iovec and spread over the buffers */
	CHECK(!memcmp(p.port.pool + p.d[0].offset, a, 100));
	CHECK_EQ(p.port.pool[p.d[0].offset + 100], 0xbb);
	CHECK_EQ(p.port.pool[p.d[0].offset + 2047], 0xcc);
	CHECK_EQ(p.port.pool[p.d[2].offset + 5000 - 4096 - 1], 0xcc);
	first_off = p.d[2].offset;
	svh_ring_cons_complete(&p.tg, n);
	/* LIFO: one packet in flight at a time keeps using the buffer freed last */
	pk.len = 100;
	pk.iovcnt = 1;
	memset(&pk.hdr, 0, sizeof(pk.hdr));
	for (int i = 0; i < 1000; i++) {
		CHECK_EQ(svh_vsw_send(v, 0, &pk, 1), 1);
		CHECK_EQ(svh_ring_cons_peek(&p.tg, p.d, p.ok, 64), 1);
		if (p.d[0].offset != first_off) {
			CHECK_EQ(p.d[0].offset, first_off);
			break;
		}
		CHECK_EQ(p.d[0].flags, 0);	/* no offload fields: no F_OFFLOAD */
		svh_ring_cons_complete(&p.tg, 1);
	}
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_GUEST, "packets"), 1001);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_GUEST, "bytes"), 5000 + 100000);
	svh_vsw_destroy(v);
	pd_detach(&p);
}

static void to_guest_bad_metadata_and_full_ring(void)
{
	struct svh_vsw *v = mk(1, 64, 0);
	struct pdside p;
	uint8_t buf[70000] = { 1 };
	struct iovec iov = { buf, 60 };
	struct svh_vsw_pkt pk[4];
	unsigned sent = 0, r;

	CHECK_EQ(pd_attach(&p, v), 0);
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_GUEST), 0);
	for (int i = 0; i < 4; i++)
		pk[i] = (struct svh_vsw_pkt){ .iov = &iov, .iovcnt = 1, .len = 60 };
	pk[1].hdr.gso_type = 9;			/* unknown GSO type */
	pk[2].len = 61;				/* len != iov total */
	pk[3].hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	pk[3].hdr.csum_start = 50;		/* checksum field past the end */
	pk[3].hdr.csum_offset = 9;
	CHECK_EQ(svh_vsw_send(v, 0, pk, 4), 4);	/* bad ones skipped, counted as sent */
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_GUEST, "bad_packets"), 3);
	CHECK_EQ(svh_ring_cons_avail(&p.tg), 1);
	/* fill the ring: 64 slots, then the send stops and says how far it got */
	for (int i = 0; i < 100; i++)
		sent += svh_vsw_send(v, 0, pk, 1);
	CHECK_EQ(sent, 63);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_GUEST, "ring_full"), 37);
	/* a 64 KiB + 18 byte packet needs 33 buffers: refused until room */
	iov.iov_len = SVH_MAX_PKT_LEN;
	pk[0].len = SVH_MAX_PKT_LEN;
	CHECK_EQ(svh_vsw_send(v, 0, pk, 1), 0);
	r = svh_ring_cons_peek(&p.tg, p.d, p.ok, 64);
	svh_ring_cons_complete(&p.tg, r);
	CHECK_EQ(svh_vsw_send(v, 0, pk, 1), 1);
	r = svh_ring_cons_peek(&p.tg, p.d, p.ok, 64);
	CHECK_EQ(r, 33);
	CHECK_EQ(p.d[32].len, SVH_MAX_PKT_LEN - 32 * 2048);
	/* stop: the undelivered packet is dropped and counted, buffers come back */
	CHECK_EQ(svh_vsw_ring_stop(v, 0, SVH_VSW_TO_GUEST), 0);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_GUEST, "stop_dropped"), 1);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_GUEST, "buffers_free"), 64);
	CHECK_EQ(svh_vsw_ring_stop(v, 0, SVH_VSW_TO_GUEST), 0);	/* idempotent */
	CHECK_EQ(svh_vsw_send(v, 0, pk, 1), 0);
	svh_vsw_destroy(v);
	pd_detach(&p);
}

/* The PD's part for TO_VSWITCH: fill the next k posted buffers with one packet. */
static uint32_t pd_fill(struct pdside *p, uint32_t len, uint8_t seed, const svh_desc_t *first)
{
	uint32_t k = (len + 2047) / 2048, n;

	n = svh_ring_cons_peek(&p->tv, p->d, p->ok, k);
	if (n < k) {
		svh_ring_cons_unpeek(&p->tv, n);
		return 0;
	}
	for (uint32_t j = 0; j < k; j++) {
		svh_desc_t o = j == 0 && first ? *first : (svh_desc_t){ 0 };
		uint32_t piece = len - j * 2048 < 2048 ? len - j * 2048 : 2048;

		o.offset = p->d[j].offset;
		o.len = piece;
		o.flags = (uint16_t)((o.flags & SVHOST_DESC_F_OFFLOAD) |
				     (j + 1 < k ? SVHOST_DESC_F_NEXT : 0));
		memset(p->port.pool + o.offset, seed + j, piece);
		svh_ring_cons_fill(&p->tv, j, &o);
	}
	svh_ring_cons_complete(&p->tv, k);
	return k;
}

static void to_vswitch_recv_copy_release(void)
{
	struct svh_vsw *v = mk(1, 256, 0);
	struct pdside p;
	struct svh_vsw_rx rx[8], fake;
	svh_desc_t off = { .flags = SVHOST_DESC_F_OFFLOAD,
			   .vnet_flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			   .csum_start = 14, .csum_offset = 6 };
	uint8_t out[6000], tail[10];
	struct iovec iov[2] = { { out, 3000 }, { out + 3000, 1999 } };
	unsigned n;

	CHECK_EQ(pd_attach(&p, v), 0);
	CHECK_EQ(svh_vsw_recv(v, 0, rx, 8), 0);	/* not started */
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_VSWITCH), 0);
	/* bounded posting: not the whole ring of 256 */
	CHECK_EQ(svh_ring_cons_avail(&p.tv), 128);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "buffers_posted"), 128);
	CHECK_EQ(pd_fill(&p, 5000, 10, &off), 3);
	CHECK_EQ(pd_fill(&p, 60, 50, NULL), 1);
	n = svh_vsw_recv(v, 0, rx, 8);
	CHECK_EQ(n, 2);
	CHECK_EQ(rx[0].len, 5000);
	CHECK_EQ(rx[0].hdr.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(rx[0].hdr.csum_start, 14);
	CHECK_EQ(rx[1].len, 60);
	CHECK_EQ(rx[1].hdr.flags, 0);
	/* copy out of the middle, across buffer edges, into two pieces */
	CHECK_EQ(svh_vsw_recv_copy(v, 0, &rx[0], 1, iov, 2), 4999);
	CHECK_EQ(out[0], 10);
	CHECK_EQ(out[2046], 10);
	CHECK_EQ(out[2047], 11);
	CHECK_EQ(out[4998], 12);
	{
		struct iovec t = { tail, 10 };

		CHECK_EQ(svh_vsw_recv_copy(v, 0, &rx[1], 50, &t, 1), 10);
		CHECK_EQ(tail[9], 50);
		CHECK_EQ(svh_vsw_recv_copy(v, 0, &rx[1], 51, &t, 1), -EINVAL);	/* past the end */
	}
	/* the caller's record is not trusted */
	fake = rx[1];
	fake.priv[0] += 100;
	CHECK_EQ(svh_vsw_recv_copy(v, 0, &fake, 0, iov, 1), -EINVAL);
	fake = rx[0];
	fake.priv[1] = 40;
	CHECK_EQ(svh_vsw_recv_copy(v, 0, &fake, 0, iov, 1), -EINVAL);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "buffers_held"), 4);
	svh_vsw_recv_release(v, 0, 1);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "buffers_held"), 1);
	/* posted + held stays 128: released buffers are re-posted */
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "buffers_posted"), 127);
	svh_vsw_recv_release(v, 0, 5);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "buffers_held"), 0);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "buffers_posted"), 128);
	CHECK_EQ(svh_vsw_recv_copy(v, 0, &rx[1], 0, iov, 1), -EINVAL);	/* released */
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "packets"), 2);
	svh_vsw_destroy(v);
	pd_detach(&p);
}

/* Over many packets the port touches only what is in flight (LIFO + bounded posting). */
static void working_set_is_in_flight(void)
{
	struct svh_vsw *v = mk(1, 1024, 0);
	struct pdside p;
	struct svh_vsw_rx rx[32];
	static uint8_t seen[2048];
	uint32_t distinct = 0;

	CHECK_EQ(pd_attach(&p, v), 0);
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_VSWITCH), 0);
	for (int round = 0; round < 2000; round++) {
		unsigned n;

		for (int k = 0; k < 32; k++) {
			svh_desc_t o = { 0 };
			uint32_t got = svh_ring_cons_peek(&p.tv, p.d, p.ok, 1);

			if (!got)
				break;
			if (!seen[p.d[0].offset / 2048]) {
				seen[p.d[0].offset / 2048] = 1;
				distinct++;
			}
			o.offset = p.d[0].offset;
			o.len = 64;
			svh_ring_cons_fill(&p.tv, 0, &o);
			svh_ring_cons_complete(&p.tv, 1);
		}
		n = svh_vsw_recv(v, 0, rx, 32);
		svh_vsw_recv_release(v, 0, n);
	}
	printf("#   %u distinct TO_VSWITCH buffers for 64000 packets (slice 1024, ring 1024)\n",
	       distinct);
	CHECK(distinct <= 128);	/* posted + held; FIFO reuse would touch all 1024 */
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "packets"), 64000);
	svh_vsw_destroy(v);
	pd_detach(&p);
}

static void to_vswitch_hostile_pd(void)
{
	struct svh_vsw *v = mk(1, 64, 0);
	struct pdside p;
	struct svh_vsw_rx rx[64];
	struct svhost_ring *tv;
	svh_desc_t o;
	uint32_t n;

	CHECK_EQ(pd_attach(&p, v), 0);
	tv = svh_port_ring(&p.port, 0, SVHOST_RING_TO_VSWITCH);
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_VSWITCH), 0);
	n = svh_ring_cons_peek(&p.tv, p.d, p.ok, 64);
	CHECK_EQ(n, 64);
	/* 0: len beyond the buffer */
	o = (svh_desc_t){ .offset = p.d[0].offset, .len = 4000 };
	svh_ring_cons_fill(&p.tv, 0, &o);
	/* 1: unknown flags */
	o = (svh_desc_t){ .offset = p.d[1].offset, .len = 10, .flags = 0x40 };
	svh_ring_cons_fill(&p.tv, 1, &o);
	/* 2,3: offload fields in the second buffer of a packet */
	o = (svh_desc_t){ .offset = p.d[2].offset, .len = 10, .flags = SVHOST_DESC_F_NEXT };
	svh_ring_cons_fill(&p.tv, 2, &o);
	o = (svh_desc_t){ .offset = p.d[3].offset, .len = 10, .flags = SVHOST_DESC_F_OFFLOAD,
			  .vnet_flags = VIRTIO_NET_HDR_F_DATA_VALID };
	svh_ring_cons_fill(&p.tv, 3, &o);
	/* 4: checksum outside the packet */
	o = (svh_desc_t){ .offset = p.d[4].offset, .len = 30, .flags = SVHOST_DESC_F_OFFLOAD,
			  .vnet_flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20,
			  .csum_offset = 9 };
	svh_ring_cons_fill(&p.tv, 4, &o);
	/* 5: returned unused */
	o = (svh_desc_t){ .offset = p.d[5].offset };
	svh_ring_cons_fill(&p.tv, 5, &o);
	/* 6: an offset pointing at another buffer: ours is used */
	o = (svh_desc_t){ .offset = 0, .len = 7 };
	svh_ring_cons_fill(&p.tv, 6, &o);
	/* 7..39: 33 buffers chained and the last still says NEXT: longer than any packet */
	for (uint32_t j = 7; j <= 39; j++) {
		o = (svh_desc_t){ .offset = p.d[j].offset, .len = 2048,
				  .flags = SVHOST_DESC_F_NEXT };
		svh_ring_cons_fill(&p.tv, j, &o);
	}
	/* 40: returned unused */
	o = (svh_desc_t){ .offset = p.d[40].offset };
	svh_ring_cons_fill(&p.tv, 40, &o);
	/* 41, 42: a packet of zero bytes in two buffers */
	o = (svh_desc_t){ .offset = p.d[41].offset, .flags = SVHOST_DESC_F_NEXT };
	svh_ring_cons_fill(&p.tv, 41, &o);
	o = (svh_desc_t){ .offset = p.d[42].offset };
	svh_ring_cons_fill(&p.tv, 42, &o);
	/* 43: a good one, its bytes written at its real buffer */
	o = (svh_desc_t){ .offset = p.d[43].offset, .len = 42 };
	memset(p.port.pool + o.offset, 0x42, 42);
	svh_ring_cons_fill(&p.tv, 43, &o);
	svh_ring_cons_complete(&p.tv, 44);
	n = svh_vsw_recv(v, 0, rx, 64);
	CHECK_EQ(n, 2);
	CHECK_EQ(rx[0].len, 7);
	CHECK_EQ(rx[1].len, 42);
	{
		uint8_t b[42];
		struct iovec io = { b, 42 };

		CHECK_EQ(svh_vsw_recv_copy(v, 0, &rx[1], 0, &io, 1), 42);
		CHECK_EQ(b[41], 0x42);
	}
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "err_len"), 1);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "err_flags"), 1);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "err_offload"), 1);
	/* len, flags, offload in 2nd buffer, csum, endless chain, zero bytes */
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "bad_packets"), 6);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "unused_buffers"), 2);
	/* a cons index beyond what was posted breaks the ring; nothing more is read */
	svh_vsw_recv_release(v, 0, 2);
	svh_store_release(&tv->cons, tv->cons + 1000);
	CHECK_EQ(svh_vsw_recv(v, 0, rx, 64), 0);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "broken"), 1);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "err_peer_index"), 1);
	/* stop takes every buffer back; start repairs the ring (prod = cons) */
	CHECK_EQ(svh_vsw_ring_stop(v, 0, SVH_VSW_TO_VSWITCH), 0);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "buffers_free"), 64);
	CHECK_EQ(svh_load_acquire(&tv->prod_flags), 0);
	/* left empty and consistent for the next copier, whatever cons holds */
	CHECK_EQ(svh_load_acquire(&tv->prod), svh_load_acquire(&tv->cons));
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_VSWITCH), 0);
	/* "broken" counts breaks: the repaired ring keeps its history */
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "broken"), 1);
	CHECK_EQ(svh_load_acquire(&tv->prod) - svh_load_acquire(&tv->cons), 64);
	svh_vsw_destroy(v);
	pd_detach(&p);
}

static void stop_makes_quiescent(void)
{
	struct svh_vsw *v = mk(2, 64, 0);
	struct pdside p;
	struct svh_vsw_rx rx[4];
	struct svhost_ring *tv, *tg;
	uint8_t b[100] = { 0 };
	struct iovec io = { b, 100 };
	struct svh_vsw_pkt pk = { .iov = &io, .iovcnt = 1, .len = 100 };

	CHECK_EQ(pd_attach(&p, v), 0);
	tv = svh_port_ring(&p.port, 0, SVHOST_RING_TO_VSWITCH);
	tg = svh_port_ring(&p.port, 0, SVHOST_RING_TO_GUEST);
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_VSWITCH), 0);
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_GUEST), 0);
	CHECK_EQ(svh_vsw_set_notify(v, 0, SVH_VSW_TO_VSWITCH, true), 0);
	CHECK(svh_load_acquire(&tv->prod_flags) & SVHOST_RING_NEED_WAKEUP);
	CHECK_EQ(pd_fill(&p, 100, 1, NULL), 1);
	CHECK_EQ(pd_fill(&p, 100, 2, NULL), 1);
	CHECK_EQ(svh_vsw_recv(v, 0, rx, 1), 1);	/* one held by the caller */
	CHECK_EQ(svh_vsw_send(v, 0, &pk, 1), 1);
	CHECK_EQ(svh_vsw_ring_stop(v, 0, SVH_VSW_TO_VSWITCH), 0);
	CHECK_EQ(svh_vsw_ring_stop(v, 0, SVH_VSW_TO_GUEST), 0);
	CHECK_EQ(svh_load_acquire(&tv->prod), svh_load_acquire(&tv->cons));
	CHECK_EQ(svh_load_acquire(&tg->prod), svh_load_acquire(&tg->cons));
	CHECK_EQ(svh_load_acquire(&tv->prod_flags), 0);
	/* completed but not yet received: dropped and counted (its buffer comes
	 * back behind the packet the caller holds); held stays held */
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "stop_dropped"), 1);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "buffers_held"), 2);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_GUEST, "stop_dropped"), 1);
	{
		uint8_t o[100];
		struct iovec oi = { o, 100 };

		/* a packet received before the stop can still be copied and released */
		CHECK_EQ(svh_vsw_recv_copy(v, 0, &rx[0], 0, &oi, 1), 100);
		CHECK_EQ(o[99], 1);
	}
	svh_vsw_recv_release(v, 0, 1);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_VSWITCH, "buffers_free"), 64);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_GUEST, "buffers_free"), 64);
	/* the other queue pair was never touched */
	CHECK_EQ(stat(v, 1, SVH_VSW_TO_GUEST, "buffers_free"), 64);
	/* a copier restarting its view reads prod == cons: nothing pending */
	CHECK_EQ(svh_ring_restart(&p.tv, tv, p.port.pool), 0);
	CHECK_EQ(svh_ring_cons_avail(&p.tv), 0);
	/* notify survives a stop/start */
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_VSWITCH), 0);
	CHECK(svh_load_acquire(&tv->prod_flags) & SVHOST_RING_NEED_WAKEUP);
	svh_vsw_destroy(v);
	/* destroying a memfd port tells the copier the owner is gone */
	CHECK_EQ(svh_port_status(&p.port, NULL), SVH_DEV_OWNER_GONE);
	pd_detach(&p);
}

static void doorbells(void)
{
	struct svh_vsw *v = mk(1, 64, 0);
	struct pdside p;
	int call = eventfd(0, EFD_NONBLOCK), kick = eventfd(0, EFD_NONBLOCK);
	uint8_t b[64] = { 0 };
	struct iovec io = { b, 64 };
	struct svh_vsw_pkt pk[8];
	uint64_t cnt = 0;

	for (int i = 0; i < 8; i++)
		pk[i] = (struct svh_vsw_pkt){ .iov = &io, .iovcnt = 1, .len = 64 };
	CHECK_EQ(pd_attach(&p, v), 0);
	CHECK_EQ(svh_vsw_set_doorbells(v, 0, SVH_VSW_TO_GUEST, call, kick), 0);
	CHECK_EQ(svh_vsw_set_doorbells(v, 1, SVH_VSW_TO_GUEST, call, kick), -EINVAL);
	CHECK_EQ(svh_vsw_ring_start(v, 0, SVH_VSW_TO_GUEST), 0);
	/* the PD does not ask: no system call */
	CHECK_EQ(svh_vsw_send(v, 0, pk, 8), 8);
	CHECK_EQ(read(call, &cnt, 8), -1);
	/* the PD asks: one kick per call, not per packet */
	svh_ring_set_need_wakeup(&p.tg, true);
	CHECK_EQ(svh_vsw_send(v, 0, pk, 8), 8);
	CHECK_EQ(read(call, &cnt, 8), 8);
	CHECK_EQ(cnt, 1);
	CHECK_EQ(stat(v, 0, SVH_VSW_TO_GUEST, "kicks"), 1);
	close(call);
	close(kick);
	svh_vsw_destroy(v);
	pd_detach(&p);
}

static void stats_table(void)
{
	struct svh_vsw *v = mk(1, 64, 0);
	struct svh_stat t[64];
	int n = svh_vsw_stats(v, 0, SVH_VSW_TO_GUEST, NULL, 0);

	CHECK(n > 10 && n < 64);
	CHECK_EQ(svh_vsw_stats(v, 0, SVH_VSW_TO_GUEST, t, 3), n);	/* fills 3, says n */
	CHECK_EQ(svh_vsw_stats(v, 0, SVH_VSW_TO_GUEST, t, 64), n);
	for (int i = 0; i < n; i++) {
		CHECK(t[i].name && t[i].name[0]);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(t[i].name, t[j].name));
	}
	CHECK_EQ(svh_vsw_stats(v, 1, SVH_VSW_TO_GUEST, t, 64), -EINVAL);
	CHECK_EQ(svh_vsw_stats(v, 0, 2, t, 64), -EINVAL);
	svh_vsw_destroy(v);
}

int main(void)
{
	printf("KTAP version 1\n1..9\n");
	RUN(create_rules);
	RUN(to_guest_scatter_offload_lifo);
	RUN(to_guest_bad_metadata_and_full_ring);
	RUN(to_vswitch_recv_copy_release);
	RUN(working_set_is_in_flight);
	RUN(to_vswitch_hostile_pd);
	RUN(stop_makes_quiescent);
	RUN(doorbells);
	RUN(stats_table);
	return tap_done();
}
