// SPDX-License-Identifier: BSD-3-Clause
/*
 * test_fetch.c: every value a peer can change is fetched once.  Each test
 * puts the peer's slots on a trapped page (fetchtrap.h): every load the
 * library makes from it is counted, and right after each load the "peer"
 * rewrites the slot it came from into a different but equally valid
 * descriptor.  A library that copies each slot once and works on the copy
 * loads every address once and acts on the first version only; one that
 * reads a field again after checking it loads that address twice and acts
 * on the second version, every time.
 *
 * Covered: the copier reading posted ring slots (svh_ring_cons_peek, and the
 * PD's whole receive burst built on it), the vSwitch reading completed slots
 * back (svh_ring_prod_reap), the PD walking the guest's descriptor table
 * (svh_vq_pop).  `test_fetch_bad --expect-caught` is the same program
 * linked with a library built with SVH_TEST_DOUBLE_FETCH, which re-reads one
 * field in each of those places: there every test must see the double
 * fetch (and passes only if it does), which shows the tests can fail.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "synth.h"
#include "fetchtrap.h"
#include "tap.h"

#define RS 64
#define BS 2048
#define BC 256

static bool expect_caught;

/* A clean run (true) must pass; in the double-fetching build it must not. */
static void verdict(bool clean, const char *what)
{
	if (expect_caught) {
		if (clean)
			printf("#   the double fetch in %s went unnoticed\n", what);
		CHECK(!clean);
	} else {
		CHECK(clean);
	}
}

/* ---- the copier reading posted slots -------------------------------------------- */

static uint8_t *peek_pool;
static uint32_t slot_base;	/* where slot 0 is on the trapped page */

/*
 * After a load of a word of slot k: the producer rewrites that word, the
 * offset to another buffer, the length word to 50 bytes.
 */
static void mutate_slot(struct fetchtrap *ft)
{
	uint32_t off = ft->load_off[ft->nloads - 1];
	struct svhost_desc *d;

	if (off < slot_base)
		return;	/* the ring header (prod) */
	off -= slot_base;
	d = (struct svhost_desc *)(ft->page + slot_base + off / 32 * 32);
	if (off % 32 < 8)
		d->offset = (uint64_t)(off / 32 + 100) * BS;
	else if (off % 32 < 16)
		d->len = 50;
}

static void cons_peek_reads_once(void)
{
	uint8_t *mem = mmap(NULL, 2 * FT_PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* the ring header ends where page 1 begins: the slots are all on page 1 */
	struct svhost_ring *shm = (struct svhost_ring *)(mem + FT_PAGE - SVHOST_RING_HDR_SIZE);
	struct fetchtrap ft = { .page = mem + FT_PAGE, .mutate = mutate_slot };
	struct svh_ring cons;
	svh_desc_t out[8];
	uint8_t ok[8];
	bool clean = true;

	peek_pool = aligned_alloc(4096, (size_t)BS * BC);
	slot_base = 0;
	for (int k = 0; k < 8; k++)
		shm->desc[k] = (struct svhost_desc){ .offset = (uint64_t)k * BS, .len = 100 };
	shm->prod = 8;
	CHECK_EQ(svh_ring_init(&cons, shm, SVH_RING_CONSUMER, RS, peek_pool, BS, BC, false), 0);
	ft_arm(&ft);
	CHECK_EQ(svh_ring_cons_peek(&cons, out, ok, 8), 8);
	ft_disarm(&ft);
	printf("#   %u loads from the 8 slots, at most %u at one address\n", ft.nloads,
	       ft_max_same(&ft));
	CHECK(ft.nloads >= 8);	/* the trap saw the reads: the test is not vacuous */
	clean = ft_max_same(&ft) == 1;
	for (int k = 0; k < 8; k++)
		clean = clean && ok[k] && out[k].offset == (uint64_t)k * BS && out[k].len == 100;
	verdict(clean, "svh_ring_cons_peek");
	svh_ring_fini(&cons);
	munmap(mem, 2 * FT_PAGE);
	free(peek_pool);
}

/* The PD's receive burst: packets from the trapped TO_GUEST ring reach the guest intact. */
static void pd_rx_burst_reads_slots_once(void)
{
	struct rig_cfg c;
	struct rig r;
	struct fetchtrap ft = { .mutate = NULL };
	struct svhost_ring *tg;
	uint32_t first;
	bool clean;

	rig_cfg_default(&c);
	c.pp.ring_size = 64;
	CHECK_EQ(rig_init(&r, &c), 0);
	sg_rx_refill(&r.g);
	CHECK_EQ(sv_send_burst(&r.sv, 700, 8), 8);
	/* the copier's own mapping of the ring: slots 0..119 share its first page */
	tg = svh_port_ring(&r.copier, 0, SVHOST_RING_TO_GUEST);
	ft.page = (uint8_t *)tg;
	ft.mutate = mutate_slot;
	first = SVHOST_RING_HDR_SIZE;
	slot_base = first;
	ft_arm(&ft);
	CHECK_EQ(svh_pd_rx_burst(r.qp, 32), 8);
	ft_disarm(&ft);
	CHECK(ft_loads_in(&ft, first, 8 * 32) >= 8);
	{
		/* per-address counts over the slots only (prod is read more than once) */
		unsigned worst = 0;

		for (unsigned i = 0; i < ft.nloads; i++) {
			unsigned n = 0;

			if (ft.load_off[i] < first)
				continue;
			for (unsigned j = 0; j < ft.nloads; j++)
				n += ft.load_off[j] == ft.load_off[i];
			if (n > worst)
				worst = n;
		}
		printf("#   %u loads from the slots, at most %u at one address\n",
		       ft_loads_in(&ft, first, 8 * 32), worst);
		CHECK_EQ(sg_rx_poll(&r.g), 8);
		clean = worst == 1 && r.g.rx_bad == 0 && r.g.rx_bytes == 8 * 700;
	}
	verdict(clean, "the PD's receive burst");
	rig_fini(&r);
}

/* ---- the vSwitch reading completed slots back ----------------------------------- */

/* After a load of a completed slot's length word: the copier claims 1500 bytes and F_NEXT. */
static void mutate_completion(struct fetchtrap *ft)
{
	uint32_t off = ft->load_off[ft->nloads - 1];
	struct svhost_desc *d = (struct svhost_desc *)(ft->page + off / 32 * 32);

	if (off % 32 >= 8 && off % 32 < 16) {
		d->len = 1500;
		d->flags = SVHOST_DESC_F_NEXT;
	}
}

static void prod_reap_reads_once(void)
{
	uint8_t *mem = mmap(NULL, 2 * FT_PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct svhost_ring *shm = (struct svhost_ring *)(mem + FT_PAGE - SVHOST_RING_HDR_SIZE);
	struct fetchtrap ft = { .page = mem + FT_PAGE, .mutate = mutate_completion };
	uint8_t *pool = aligned_alloc(4096, (size_t)BS * BC);
	struct svh_ring prod;
	svh_desc_t d[8], out[8];
	uint8_t ok[8];
	bool clean;

	memset(shm, 0, SVHOST_RING_HDR_SIZE);
	CHECK_EQ(svh_ring_init(&prod, shm, SVH_RING_PRODUCER, RS, pool, BS, BC, true), 0);
	for (int k = 0; k < 8; k++)
		d[k] = (svh_desc_t){ .offset = (uint64_t)k * BS };
	CHECK_EQ(svh_ring_prod_post(&prod, d, 8), 8);
	for (int k = 0; k < 8; k++)
		shm->desc[k].len = 64;	/* the copier filled each with 64 bytes */
	shm->cons = 8;
	ft_arm(&ft);
	CHECK_EQ(svh_ring_prod_reap(&prod, out, ok, 8), 8);
	ft_disarm(&ft);
	printf("#   %u loads from the 8 slots, at most %u at one address\n", ft.nloads,
	       ft_max_same(&ft));
	CHECK(ft.nloads >= 8);
	clean = ft_max_same(&ft) == 1;
	for (int k = 0; k < 8; k++)
		clean = clean && ok[k] && out[k].len == 64 && out[k].flags == 0 &&
			out[k].offset == (uint64_t)k * BS;
	verdict(clean, "svh_ring_prod_reap");
	svh_ring_fini(&prod);
	munmap(mem, 2 * FT_PAGE);
	free(pool);
}

/* ---- the PD walking the guest's descriptors ----------------------------------------- */

static uint64_t other_addr;

/* After a load of descriptor k's address: the guest points it at another buffer. */
static void mutate_vring_desc(struct fetchtrap *ft)
{
	uint32_t off = ft->load_off[ft->nloads - 1];

	if (off < 64 * 16 && off % 16 < 8)
		((struct vring_desc *)(ft->page + off / 16 * 16))->addr = other_addr;
}

static void vq_pop_reads_desc_once(void)
{
	struct sg_cfg gc = { .num = 64, .tx_buf_cap = 4096, .rx_buf_len = 2048,
			     .features = SG_FEATURES, .tx_layout = SG_TX_MULTI };
	struct synth_guest g;
	struct svh_vq_params p;
	struct svh_vq vq;
	struct svh_chain *ch = malloc(sizeof(*ch));
	struct fetchtrap ft = { .mutate = mutate_vring_desc };
	bool clean = true;

	CHECK_EQ(sg_init(&g, &gc), 0);
	sg_vq_params(&g, false, &p);
	CHECK_EQ(svh_vq_init(&vq, sg_gm(&g), NULL, &p), 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(sg_tx_post(&g, 300), 1);	/* four chains of four descriptors */
	other_addr = g.rx_buf_gpa;
	CHECK_EQ(svh_vq_avail(&vq), 4);
	/* the descriptor table is the first thing in guest memory, on its own page */
	ft.page = sg_hva(&g, g.tx.desc_gpa);
	CHECK(((uintptr_t)ft.page & (FT_PAGE - 1)) == 0);
	ft_arm(&ft);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(svh_vq_pop(&vq, ch, false), 1);
		/* every segment must still point into this chain's own TX buffer */
		for (uint32_t s = 0; s < ch->nseg; s++)
			clean = clean && ch->seg[s].gpa >= g.tx_buf_gpa &&
				ch->seg[s].gpa < g.rx_buf_gpa;
		clean = clean && ch->len == 12 + 300;
	}
	ft_disarm(&ft);
	printf("#   %u loads from the descriptor table, at most %u at one address\n",
	       ft_loads_in(&ft, 0, 64 * 16), ft_max_same(&ft));
	CHECK(ft_loads_in(&ft, 0, 64 * 16) >= 16);
	clean = clean && ft_max_same(&ft) == 1;
	verdict(clean, "svh_vq_pop");
	sg_fini(&g);
	free(ch);
}

int main(int argc, char **argv)
{
	expect_caught = argc > 1 && !strcmp(argv[1], "--expect-caught");
	printf("KTAP version 1\n1..4\n");
	if (!ft_supported()) {
		printf("ok 1 - fetch traps # SKIP not x86-64 Linux\n# 1 passed, 0 failed\n");
		return 0;
	}
	if (expect_caught)
		printf("# library built with SVH_TEST_DOUBLE_FETCH: every test must catch it\n");
	RUN(cons_peek_reads_once);
	RUN(pd_rx_burst_reads_slots_once);
	RUN(prod_reap_reads_once);
	RUN(vq_pop_reads_desc_once);
	return tap_done();
}
