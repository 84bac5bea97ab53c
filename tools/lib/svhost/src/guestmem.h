/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * guestmem.h: the guest memory table of one VM as seen by its PD thread:
 * regions {guest physical address, size, host virtual address}, exactly as
 * QEMU has them mapped (vhost-user SET_MEM_TABLE, but never leaving QEMU).
 *
 * Translation is the only way the data path turns a guest address into a
 * pointer.  A buffer is accepted only when every byte of it lies inside
 * mapped regions; a buffer that crosses from one region into a region that
 * starts exactly where the first ends is split into one segment per region.
 * All arithmetic is overflow-safe (addr + len never wraps).
 *
 * A loaded table is never written again, so any number of threads may use
 * it at once; the lookup cache is the caller's (a hint per virtqueue).
 * Swapping tables at run time is the device's job (device.c): a new table
 * replaces the old one at a batch boundary of the PD thread.
 */
#ifndef SVHOST_GUESTMEM_H
#define SVHOST_GUESTMEM_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SVH_GM_MAX_REGIONS	64

struct svh_gm_region {
	uint64_t gpa;		/* guest physical start */
	uint64_t size;		/* bytes, > 0 */
	void *hva;		/* where QEMU maps it */
};

struct svh_guestmem {
	uint32_t nr;
	struct svh_gm_region r[SVH_GM_MAX_REGIONS];	/* sorted by gpa, disjoint */
};

/* One host-contiguous piece of a guest buffer. */
struct svh_iov {
	void *base;
	uint32_t len;
	uint64_t gpa;		/* for dirty-page logging */
};

/*
 * Load a table.  Refuses (-EINVAL) zero sizes, gpa + size or hva + size that
 * wrap, overlapping guest ranges and more than SVH_GM_MAX_REGIONS regions.
 */
int svh_gm_init(struct svh_guestmem *gm, const struct svh_gm_region *regions, unsigned nr);

/*
 * Host pointer for [gpa, gpa + len) when it lies wholly inside ONE region,
 * else NULL.  len may be 0 (then gpa must still be mapped).  hint: the
 * caller's lookup cache (index of the region hit last), or NULL.
 */
void *svh_gm_translate(const struct svh_guestmem *gm, uint32_t *hint, uint64_t gpa,
		       uint64_t len);

/*
 * Split [gpa, gpa + len) into at most max_iov host-contiguous pieces, crossing
 * into adjacent regions as needed.  Returns the number of pieces (0 for
 * len == 0), -EFAULT if any byte is unmapped or the range wraps, -E2BIG if
 * more than max_iov pieces are needed.  len is limited to UINT32_MAX.
 */
int svh_gm_iov(const struct svh_guestmem *gm, uint32_t *hint, uint64_t gpa, uint64_t len,
	       struct svh_iov *iov, unsigned max_iov);
/*
 * Guest physical address of host address hva when it lies in a region with
 * len bytes after it in that region: 0 and *gpa, or -EFAULT.  Control path
 * only (linear search).
 */
int svh_gm_hva_to_gpa(const struct svh_guestmem *gm, uint64_t hva, uint64_t len, uint64_t *gpa);

#ifdef __cplusplus
}
#endif
#endif /* SVHOST_GUESTMEM_H */
