// SPDX-License-Identifier: BSD-3-Clause
/*
 * guestmem.c: guest-physical to host-virtual translation with bounds checks.
 * Kept apart from the virtqueue code so that the one place deciding whether a
 * guest-supplied address may be touched is small enough to audit and fuzz.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "guestmem.h"

static int cmp_gpa(const void *a, const void *b)
{
	const struct svh_gm_region *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

int svh_gm_init(struct svh_guestmem *gm, const struct svh_gm_region *regions, unsigned nr)
{
	memset(gm, 0, sizeof(*gm));
	if (nr > SVH_GM_MAX_REGIONS || (nr && !regions))
		return -EINVAL;
	for (unsigned i = 0; i < nr; i++) {
		const struct svh_gm_region *r = &regions[i];

		if (r->size == 0 || !r->hva)
			return -EINVAL;
		if (r->gpa + r->size - 1 < r->gpa)
			return -EINVAL;
		if ((uintptr_t)r->hva + r->size - 1 < (uintptr_t)r->hva)
			return -EINVAL;
		gm->r[i] = *r;
	}
	qsort(gm->r, nr, sizeof(gm->r[0]), cmp_gpa);
	for (unsigned i = 1; i < nr; i++) {
		/* last byte of the previous region must be below this start */
		if (gm->r[i - 1].gpa + gm->r[i - 1].size - 1 >= gm->r[i].gpa) {
			memset(gm, 0, sizeof(*gm));
			return -EINVAL;
		}
	}
	gm->nr = nr;
	return 0;
}

/* Region containing gpa, or NULL. */
static const struct svh_gm_region *find(const struct svh_guestmem *gm, uint32_t *hint,
					uint64_t gpa)
{
	const struct svh_gm_region *r;
	uint32_t lo = 0, hi = gm->nr;

	if (svh_likely(hint && *hint < gm->nr)) {
		r = &gm->r[*hint];
		if (gpa - r->gpa < r->size)
			return r;
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		r = &gm->r[mid];
		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else {
			if (hint)
				*hint = mid;
			return r;
		}
	}
	return NULL;
}

void *svh_gm_translate(const struct svh_guestmem *gm, uint32_t *hint, uint64_t gpa,
		       uint64_t len)
{
	const struct svh_gm_region *r = find(gm, hint, gpa);
	uint64_t off;

	if (!r)
		return NULL;
	off = gpa - r->gpa;
	/* off < size here, so size - off cannot underflow. */
	if (len > r->size - off)
		return NULL;
	return (uint8_t *)r->hva + off;
}

int svh_gm_iov(const struct svh_guestmem *gm, uint32_t *hint, uint64_t gpa, uint64_t len,
	       struct svh_iov *iov, unsigned max_iov)
{
	unsigned n = 0;

	if (len > UINT32_MAX)
		return -EFAULT;
	if (len && gpa + len - 1 < gpa)
		return -EFAULT;
	while (len) {
		const struct svh_gm_region *r = find(gm, hint, gpa);
		uint64_t off, chunk;

		if (!r)
			return -EFAULT;
		if (n == max_iov)
			return -E2BIG;
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		iov[n].base = (uint8_t *)r->hva + off;
		iov[n].len = (uint32_t)chunk;
		iov[n].gpa = gpa;
		n++;
		gpa += chunk;
		len -= chunk;
	}
	return (int)n;
}

int svh_gm_hva_to_gpa(const struct svh_guestmem *gm, uint64_t hva, uint64_t len, uint64_t *gpa)
{
	for (uint32_t i = 0; i < gm->nr; i++) {
		const struct svh_gm_region *r = &gm->r[i];
		uint64_t off = hva - (uintptr_t)r->hva;

		if (off < r->size && len <= r->size - off) {
			*gpa = r->gpa + off;
			return 0;
		}
	}
	return -EFAULT;
}
