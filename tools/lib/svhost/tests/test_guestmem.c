// SPDX-License-Identifier: BSD-3-Clause
/*
 * test_guestmem.c: guest memory table: loading rules (overlaps, wrap,
 * empty regions), translation only when wholly inside one region, spans
 * across adjacent regions split per region, holes and overflow rejected.
 */
#include <string.h>

#include "guestmem.h"
#include "tap.h"

static uint8_t a[8192], b[8192], c[4096];
static struct svh_guestmem gm;

static void load3(void)
{
	/* [0x1000,0x3000) a, [0x3000,0x5000) b (adjacent), hole, [0x10000,0x11000) c */
	struct svh_gm_region r[3] = {
		{ .gpa = 0x10000, .size = 4096, .hva = c },
		{ .gpa = 0x1000, .size = 8192, .hva = a },
		{ .gpa = 0x3000, .size = 8192, .hva = b },
	};

	CHECK_EQ(svh_gm_init(&gm, r, 3), 0);
}

static void init_rules(void)
{
	struct svh_gm_region r[2] = { { .gpa = 0, .size = 4096, .hva = a },
				      { .gpa = 4095, .size = 10, .hva = b } };

	CHECK_EQ(svh_gm_init(&gm, r, 2), -EINVAL);	/* overlap by one byte */
	r[1].gpa = 4096;
	CHECK_EQ(svh_gm_init(&gm, r, 2), 0);
	r[1].size = 0;
	CHECK_EQ(svh_gm_init(&gm, r, 2), -EINVAL);	/* empty */
	r[1].size = 10;
	r[1].gpa = UINT64_MAX - 5;
	CHECK_EQ(svh_gm_init(&gm, r, 2), -EINVAL);	/* gpa wraps */
	r[1].gpa = UINT64_MAX - 9;
	CHECK_EQ(svh_gm_init(&gm, r, 2), 0);	/* ends exactly at the top */
	r[1].hva = NULL;
	CHECK_EQ(svh_gm_init(&gm, r, 2), -EINVAL);
	CHECK_EQ(svh_gm_init(&gm, r, SVH_GM_MAX_REGIONS + 1), -EINVAL);
	/* a failed load leaves an empty table */
	CHECK_EQ(gm.nr, 0);
	CHECK(svh_gm_translate(&gm, NULL, 0, 1) == NULL);
}

static void translate_inside_one_region(void)
{
	load3();
	CHECK(svh_gm_translate(&gm, NULL, 0x1000, 8192) == a);
	CHECK(svh_gm_translate(&gm, NULL, 0x1010, 16) == a + 16);
	CHECK(svh_gm_translate(&gm, NULL, 0x2fff, 1) == a + 8191);
	CHECK(svh_gm_translate(&gm, NULL, 0x2fff, 2) == NULL);	/* crosses into b */
	CHECK(svh_gm_translate(&gm, NULL, 0x0fff, 1) == NULL);	/* below */
	CHECK(svh_gm_translate(&gm, NULL, 0x5000, 1) == NULL);	/* hole */
	CHECK(svh_gm_translate(&gm, NULL, 0x10000, 4097) == NULL);	/* past the end */
	CHECK(svh_gm_translate(&gm, NULL, 0x10fff, UINT64_MAX) == NULL);	/* huge len */
	CHECK(svh_gm_translate(&gm, NULL, 0x10000, 0) == c);
}

static void iov_spans_adjacent_regions(void)
{
	struct svh_iov iov[4];

	load3();
	CHECK_EQ(svh_gm_iov(&gm, NULL, 0x2ff0, 0x20, iov, 4), 2);
	CHECK(iov[0].base == a + 8192 - 16);
	CHECK_EQ(iov[0].len, 16);
	CHECK_EQ(iov[0].gpa, 0x2ff0);
	CHECK(iov[1].base == b);
	CHECK_EQ(iov[1].len, 16);
	CHECK_EQ(iov[1].gpa, 0x3000);
	CHECK_EQ(svh_gm_iov(&gm, NULL, 0x1000, 16384, iov, 4), 2);	/* a and b entirely */
	CHECK_EQ(svh_gm_iov(&gm, NULL, 0x1000, 16384, iov, 1), -E2BIG);
	CHECK_EQ(svh_gm_iov(&gm, NULL, 0x4ff0, 0x20, iov, 4), -EFAULT);	/* into the hole */
	CHECK_EQ(svh_gm_iov(&gm, NULL, UINT64_MAX - 4, 10, iov, 4), -EFAULT);	/* wraps */
	CHECK_EQ(svh_gm_iov(&gm, NULL, 0x1000, (uint64_t)UINT32_MAX + 1, iov, 4), -EFAULT);
	CHECK_EQ(svh_gm_iov(&gm, NULL, 0x1000, 0, iov, 4), 0);
}

static void lookup_cache_not_stale(void)
{
	uint32_t hint = 0, other = 0;
	uint64_t gpa = 0;

	load3();
	CHECK(svh_gm_translate(&gm, &hint, 0x10000, 1) == c);
	CHECK_EQ(hint, 2);
	CHECK(svh_gm_translate(&gm, &hint, 0x1000, 1) == a);
	CHECK_EQ(hint, 0);
	CHECK(svh_gm_translate(&gm, &hint, 0x3000, 1) == b);
	CHECK(svh_gm_translate(&gm, &hint, 0x10800, 1) == c + 0x800);
	CHECK(svh_gm_translate(&gm, &hint, 0x9000, 1) == NULL);
	/* two callers, two hints: neither disturbs the other */
	CHECK(svh_gm_translate(&gm, &other, 0x1010, 1) == a + 0x10);
	CHECK_EQ(hint, 2);
	hint = 1000;	/* a corrupt hint is only a hint */
	CHECK(svh_gm_translate(&gm, &hint, 0x3010, 1) == b + 0x10);
	/* reverse lookup (control path: vring addresses given as host addresses) */
	CHECK_EQ(svh_gm_hva_to_gpa(&gm, (uintptr_t)(b + 16), 8, &gpa), 0);
	CHECK_EQ(gpa, 0x3010);
	CHECK_EQ(svh_gm_hva_to_gpa(&gm, (uintptr_t)(b + 8190), 8, &gpa), -EFAULT);
	CHECK_EQ(svh_gm_hva_to_gpa(&gm, (uintptr_t)&hint, 1, &gpa), -EFAULT);	/* not guest RAM */
}

int main(void)
{
	printf("KTAP version 1\n1..4\n");
	RUN(init_rules);
	RUN(translate_inside_one_region);
	RUN(iov_spans_adjacent_regions);
	RUN(lookup_cache_not_stale);
	return tap_done();
}
