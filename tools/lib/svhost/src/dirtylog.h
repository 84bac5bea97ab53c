/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dirtylog.h: dirty-page logging for live migration, in the vhost-user log
 * bitmap format (VHOST_USER_SET_LOG_BASE): bit (gpa / 4096) % 8 of byte
 * gpa / 4096 / 8 is set, with an atomic OR, for every guest page the device
 * wrote.  The PD thread marks the guest pages it writes: received packet
 * data, used ring entries and used ring index / avail_event.
 */
#ifndef SVHOST_DIRTYLOG_H
#define SVHOST_DIRTYLOG_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SVH_LOG_PAGE_SHIFT	12
#define SVH_LOG_PAGE_SIZE	(1u << SVH_LOG_PAGE_SHIFT)

struct svh_dirtylog {
	uint8_t *bitmap;	/* NULL: logging off */
	uint64_t size;		/* bytes in bitmap */
	uint64_t out_of_range;	/* writes beyond the bitmap (counted, not logged) */
};

static inline void svh_log_init(struct svh_dirtylog *l, void *bitmap, uint64_t size)
{
	l->bitmap = bitmap;
	l->size = bitmap ? size : 0;
	l->out_of_range = 0;
}

/* Mark [gpa, gpa + len) dirty.  No-op when logging is off or len is 0. */
void svh_log_write(struct svh_dirtylog *l, uint64_t gpa, uint64_t len);

static inline int svh_log_test(const struct svh_dirtylog *l, uint64_t gpa)
{
	uint64_t page = gpa >> SVH_LOG_PAGE_SHIFT;

	if (!l->bitmap || page / 8 >= l->size)
		return 0;
	return (l->bitmap[page / 8] >> (page % 8)) & 1;
}

#ifdef __cplusplus
}
#endif
#endif /* SVHOST_DIRTYLOG_H */
