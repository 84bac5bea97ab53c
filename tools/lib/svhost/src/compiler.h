/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Small helpers shared by every libsvhost module: memory barriers, single
 * reads of shared memory (READ_ONCE-style copies), branch hints and the TSC.
 * They live in one place so that every module accesses memory shared with an
 * untrusted peer (the guest or the vSwitch) the same, auditable way.
 */
#ifndef SVHOST_COMPILER_H
#define SVHOST_COMPILER_H

#include <stdint.h>
#include <string.h>

#define svh_likely(x)	__builtin_expect(!!(x), 1)
#define svh_unlikely(x)	__builtin_expect(!!(x), 0)

/* Compiler-only barrier: values loaded before it are never re-fetched after. */
#define svh_barrier()	__asm__ __volatile__("" ::: "memory")

/* x86-64 is TSO: loads are not reordered with loads, stores with stores. */
#if defined(__x86_64__) || defined(__i386__)
#define svh_rmb()	svh_barrier()
#define svh_wmb()	svh_barrier()
#define svh_mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)
#else
#define svh_rmb()	__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define svh_wmb()	__atomic_thread_fence(__ATOMIC_RELEASE)
#define svh_mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

#define svh_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define svh_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define svh_read_once(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define svh_write_once(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

/*
 * Copy an object out of memory the peer can change, loading every byte
 * exactly once.  Aligned whole words are copied with one 8-byte load each
 * (memcpy may load a byte twice: glibc's copies of 17..64 bytes overlap
 * their first and last vector), anything else falls back to memcpy.  The
 * barrier after the copy forbids the compiler from dropping the private
 * copy and reading the shared object again later (a "double fetch").
 */
static inline void svh_snapshot(void *dst, const void *shared, size_t len)
{
	if (!((uintptr_t)shared & 7) && !(len & 7)) {
		const uint64_t *s = shared;
		uint8_t *d = dst;

		for (size_t i = 0; i < len / 8; i++) {
			uint64_t w = __atomic_load_n(&s[i], __ATOMIC_RELAXED);

			memcpy(d + 8 * i, &w, 8);
		}
	} else {
		memcpy(dst, shared, len);
	}
	svh_barrier();
}

/*
 * Prefetch hints.  A prefetch never faults and never changes what the code
 * reads: addresses computed for a prefetch from shared memory are hints only
 * and are never dereferenced; every real access still goes through a private,
 * validated snapshot.  svh_prefetch_w asks for the line in exclusive state
 * (PREFETCHW) when we are about to write it, so that the write does not need
 * a second transfer from the other core.
 */
static inline void svh_prefetch(const void *p)
{
	__builtin_prefetch(p, 0, 3);
}

static inline void svh_prefetch_w(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	/* PREFETCHW (0F 0D /1): a NOP on CPUs without it, so always safe. */
	__asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

static inline uint64_t svh_rdtsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
#else
	return 0;
#endif
}

static inline void svh_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("pause");
#endif
}

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "libsvhost assumes a little-endian host (virtio 1.x rings are little-endian)"
#endif

#endif /* SVHOST_COMPILER_H */
