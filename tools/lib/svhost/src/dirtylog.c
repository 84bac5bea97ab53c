// SPDX-License-Identifier: BSD-3-Clause
/*
 * dirtylog.c: set bits in the shared vhost-user dirty log.  The bitmap is
 * shared with QEMU's migration thread, which clears bits concurrently, so
 * bits are set with atomic OR on single bytes as vhost-user requires.
 */
#include "compiler.h"
#include "dirtylog.h"

void svh_log_write(struct svh_dirtylog *l, uint64_t gpa, uint64_t len)
{
	uint64_t first, last;

	if (svh_likely(!l || !l->bitmap) || !len)
		return;
	first = gpa >> SVH_LOG_PAGE_SHIFT;
	/* clamp so that gpa + len - 1 cannot wrap */
	if (len - 1 > UINT64_MAX - gpa)
		len = UINT64_MAX - gpa + 1;
	last = (gpa + len - 1) >> SVH_LOG_PAGE_SHIFT;
	for (uint64_t p = first; p <= last; p++) {
		if (p / 8 >= l->size) {
			l->out_of_range++;
			break;
		}
		__atomic_fetch_or(&l->bitmap[p / 8], (uint8_t)(1u << (p % 8)), __ATOMIC_RELAXED);
		if (p == UINT64_MAX)
			break;
	}
}
