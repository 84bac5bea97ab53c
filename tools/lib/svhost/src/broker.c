// SPDX-License-Identifier: BSD-3-Clause
/*
 * broker.c: /dev/svhost ioctls and mappings for the owner (vSwitch) and the
 * copier (PD thread), protection-key helpers, and the memfd-backed "local"
 * port used only by tests and benchmarks when the broker is absent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "broker.h"
#include "compiler.h"
#include "log.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef PKEY_DISABLE_ACCESS
#define PKEY_DISABLE_ACCESS 0x1
#endif

#define PAGE_SZ 4096ull

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

bool svh_broker_available(void)
{
	return access(SVH_DEV_PATH, F_OK) == 0;
}

int svh_broker_version(struct svhost_version *v)
{
	int fd = open(SVH_DEV_PATH, O_RDWR | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	memset(v, 0, sizeof(*v));
	if (ioctl(fd, SVHOST_GET_VERSION, v) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int svh_layout_check(const struct svhost_layout *l)
{
	uint64_t need_ring, rings_end, pool_bytes;

	if (l->header_offset != 0 || l->header_size < PAGE_SZ)
		return -EPROTO;
	if (!pow2(l->ring_size) || l->ring_size < SVHOST_MIN_RING_SIZE ||
	    l->ring_size > SVHOST_MAX_RING_SIZE)
		return -EPROTO;
	if (!pow2(l->buf_size) || l->buf_size < SVHOST_MIN_BUF_SIZE ||
	    l->buf_size > SVHOST_MAX_BUF_SIZE)
		return -EPROTO;
	if (l->buf_count == 0 || l->buf_count > SVHOST_MAX_BUF_COUNT)
		return -EPROTO;
	if (l->queue_pairs == 0 || l->queue_pairs > SVHOST_MAX_QUEUE_PAIRS)
		return -EPROTO;
	need_ring = SVHOST_RING_HDR_SIZE + (uint64_t)l->ring_size * sizeof(struct svhost_desc);
	if (l->ring_stride < need_ring || (l->ring_stride % SVHOST_CACHELINE))
		return -EPROTO;
	if ((uint64_t)l->ring_stride * 2 * l->queue_pairs > l->rings_size)
		return -EPROTO;
	pool_bytes = (uint64_t)l->buf_size * l->buf_count;
	if (l->pool_size < pool_bytes)
		return -EPROTO;
	if ((l->rings_offset | l->rings_size | l->pool_offset | l->pool_size) & (PAGE_SZ - 1))
		return -EPROTO;
	if (l->rings_offset < l->header_offset + l->header_size)
		return -EPROTO;
	rings_end = l->rings_offset + l->rings_size;
	if (rings_end < l->rings_offset || l->pool_offset < rings_end ||
	    l->pool_offset + l->pool_size < l->pool_offset)
		return -EPROTO;
	return 0;
}

void svh_port_init(struct svh_port *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->ctl_memfd = -1;
	p->pool_memfd = -1;
	p->pkey = -1;
}

static int map_regions(struct svh_port *p, int hdr_fd, uint64_t hdr_off, int rings_fd,
		       uint64_t rings_off, int pool_fd, uint64_t pool_off, bool hdr_writable)
{
	const struct svhost_layout *l = &p->layout;
	void *m;

	m = mmap(NULL, l->header_size, PROT_READ | (hdr_writable ? PROT_WRITE : 0), MAP_SHARED,
		 hdr_fd, (off_t)hdr_off);
	if (m == MAP_FAILED)
		return -errno;
	p->hdr = m;
	m = mmap(NULL, l->rings_size, PROT_READ | PROT_WRITE, MAP_SHARED, rings_fd,
		 (off_t)rings_off);
	if (m == MAP_FAILED)
		return -errno;
	p->rings = m;
	m = mmap(NULL, l->pool_size, PROT_READ | PROT_WRITE, MAP_SHARED, pool_fd, (off_t)pool_off);
	if (m == MAP_FAILED)
		return -errno;
	p->pool = m;
	return 0;
}

static int check_header(const struct svh_port *p)
{
	struct svh_hdr_copy {
		uint32_t magic, version;
	} h;

	svh_snapshot(&h, p->hdr, sizeof(h));
	if (h.magic != SVHOST_SHM_MAGIC || h.version != SVHOST_API_VERSION)
		return -EPROTO;
	return 0;
}

bool svh_port_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strnlen(name, SVHOST_NAME_LEN);
	if (n == 0 || n >= SVHOST_NAME_LEN || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int set_name(struct svh_port *p, char *dst, const char *name)
{
	size_t n;

	if (!svh_port_name_valid(name))
		return -EINVAL;
	n = strlen(name);
	memset(dst, 0, SVHOST_NAME_LEN);
	memcpy(dst, name, n);
	memcpy(p->name, dst, SVHOST_NAME_LEN);
	return 0;
}

int svh_port_create(struct svh_port *p, const char *name, const struct svh_port_params *pp)
{
	struct svhost_port_create req;
	int rc;

	svh_port_init(p);
	memset(&req, 0, sizeof(req));
	rc = set_name(p, req.name, name);
	if (rc)
		return rc;
	req.queue_pairs = pp->queue_pairs;
	req.ring_size = pp->ring_size;
	req.buf_size = pp->buf_size;
	req.buf_count = pp->buf_count;
	p->fd = open(SVH_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (p->fd < 0)
		return -errno;
	p->owner = true;
	if (ioctl(p->fd, SVHOST_PORT_CREATE, &req) < 0) {
		rc = -errno;
		goto fail;
	}
	p->layout = req.layout;
	rc = svh_layout_check(&p->layout);
	if (!rc)
		rc = map_regions(p, p->fd, p->layout.header_offset, p->fd, p->layout.rings_offset,
				 p->fd, p->layout.pool_offset, false);
	if (!rc)
		rc = check_header(p);
	if (rc)
		goto fail;
	return 0;
fail:
	svh_port_close(p);
	return rc;
}

int svh_port_attach(struct svh_port *p, const char *name, int pkey)
{
	struct svhost_copier_attach req;
	int rc;

	svh_port_init(p);
	memset(&req, 0, sizeof(req));
	rc = set_name(p, req.name, name);
	if (rc)
		return rc;
	req.pkey = pkey;
	p->fd = open(SVH_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (p->fd < 0)
		return -errno;
	p->pkey = pkey;
	if (ioctl(p->fd, SVHOST_COPIER_ATTACH, &req) < 0) {
		rc = -errno;
		goto fail;
	}
	p->generation = req.generation;
	p->layout = req.layout;
	rc = svh_layout_check(&p->layout);
	if (!rc)
		rc = map_regions(p, p->fd, p->layout.header_offset, p->fd, p->layout.rings_offset,
				 p->fd, p->layout.pool_offset, false);
	if (!rc)
		rc = check_header(p);
	if (rc)
		goto fail;
	return 0;
fail:
	svh_port_close(p);
	return rc;
}

int svh_port_create_local(struct svh_port *p, const char *name,
			  const struct svh_port_params *pp)
{
	char dummy[SVHOST_NAME_LEN];
	struct svhost_shm_header *h;
	int rc;

	svh_port_init(p);
	rc = set_name(p, dummy, name);
	if (rc)
		return rc;
	if (!pp || !pp->queue_pairs || pp->queue_pairs > SVHOST_MAX_QUEUE_PAIRS)
		return -EINVAL;
	svhost_layout_compute(&p->layout, pp->queue_pairs, pp->ring_size, pp->buf_size,
			      pp->buf_count, PAGE_SZ);
	rc = svh_layout_check(&p->layout);
	if (rc)
		return -EINVAL;
	p->owner = true;
	p->local = true;
	p->ctl_memfd = memfd_create("svhost-test-ctl", MFD_CLOEXEC);
	if (p->ctl_memfd < 0)
		return -errno;
	if (ftruncate(p->ctl_memfd, (off_t)(p->layout.rings_offset + p->layout.rings_size))) {
		rc = -errno;
		goto fail;
	}
	if (pp->hugetlb) {
		p->pool_memfd = memfd_create("svhost-test-pool", MFD_CLOEXEC | MFD_HUGETLB);
		if (p->pool_memfd >= 0 &&
		    ftruncate(p->pool_memfd, (off_t)p->layout.pool_size) == 0) {
			void *probe = mmap(NULL, p->layout.pool_size, PROT_READ | PROT_WRITE,
					   MAP_SHARED | MAP_POPULATE, p->pool_memfd, 0);

			/* hugetlb pages are reserved at mmap: failure means too few */
			if (probe != MAP_FAILED) {
				munmap(probe, p->layout.pool_size);
				p->pool_hugetlb = true;
			}
		}
		if (!p->pool_hugetlb) {
			if (p->pool_memfd >= 0)
				close(p->pool_memfd);
			p->pool_memfd = -1;
			svh_warn("no hugetlb pages for the pool of test port '%s' (%llu bytes): "
				 "using 4 KiB pages", name,
				 (unsigned long long)p->layout.pool_size);
		}
	}
	if (p->pool_memfd < 0) {
		p->pool_memfd = memfd_create("svhost-test-pool", MFD_CLOEXEC);
		if (p->pool_memfd < 0) {
			rc = -errno;
			goto fail;
		}
		if (ftruncate(p->pool_memfd, (off_t)p->layout.pool_size)) {
			rc = -errno;
			goto fail;
		}
	}
	rc = map_regions(p, p->ctl_memfd, 0, p->ctl_memfd, p->layout.rings_offset,
			 p->pool_memfd, 0, true);
	if (rc)
		goto fail;
	/* Play the kernel: fill the header page. */
	h = (struct svhost_shm_header *)p->hdr;
	h->version = SVHOST_API_VERSION;
	h->state = SVHOST_STATE_READY;
	h->reason = SVHOST_REASON_NONE;
	h->generation = 0;
	h->layout = p->layout;
	svh_store_release(&h->magic, SVHOST_SHM_MAGIC);
	return 0;
fail:
	svh_port_close(p);
	return rc;
}

/* The header of a memfd port as sent by an (untrusted) owner. */
static int memfd_header(int ctl_fd, int pool_fd, struct svhost_layout *l)
{
	struct svhost_shm_header h;
	struct svhost_layout want;
	struct stat st;
	ssize_t n;

	n = pread(ctl_fd, &h, sizeof(h), 0);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(h) || h.magic != SVHOST_SHM_MAGIC ||
	    h.version != SVHOST_API_VERSION)
		return -EPROTO;
	*l = h.layout;
	if (svh_layout_check(l) || l->header_size != PAGE_SZ)
		return -EPROTO;
	/* one rule for the layout: the uapi's, from the geometry alone */
	svhost_layout_compute(&want, l->queue_pairs, l->ring_size, l->buf_size, l->buf_count,
			      PAGE_SZ);
	if (memcmp(&want, l, sizeof(want)))
		return -EPROTO;
	if (fstat(ctl_fd, &st) || (uint64_t)st.st_size < l->rings_offset + l->rings_size)
		return -EPROTO;
	if (fstat(pool_fd, &st) || (uint64_t)st.st_size < l->pool_size)
		return -EPROTO;
	return 0;
}

int svh_port_attach_memfd(struct svh_port *c, int ctl_fd, int pool_fd)
{
	struct svhost_shm_header *h;
	uint32_t state;
	int rc;

	svh_port_init(c);
	if (ctl_fd < 0 || pool_fd < 0)
		return -EBADF;
	rc = memfd_header(ctl_fd, pool_fd, &c->layout);
	if (rc)
		return rc;
	c->local = true;
	rc = map_regions(c, ctl_fd, 0, ctl_fd, c->layout.rings_offset, pool_fd, 0, true);
	if (!rc)
		rc = check_header(c);
	if (rc)
		goto fail;
	h = (struct svhost_shm_header *)c->hdr;
	state = svh_load_acquire(&h->state);
	if (state != SVHOST_STATE_READY) {
		rc = state == SVHOST_STATE_ATTACHED ? -EBUSY :
		     state == SVHOST_STATE_REVOKED ? -EPERM : -ENOENT;
		goto fail;
	}
	/* the same header must still describe the same layout */
	if (memcmp(&h->layout, &c->layout, sizeof(c->layout))) {
		rc = -EPROTO;
		goto fail;
	}
	c->generation = svh_read_once(&h->generation) + 1;
	svh_write_once(&h->reason, SVHOST_REASON_NONE);
	svh_write_once(&h->generation, c->generation);
	svh_store_release(&h->state, SVHOST_STATE_ATTACHED);
	return 0;
fail:
	svh_port_close(c);
	return rc;
}

int svh_port_attach_local(struct svh_port *c, const struct svh_port *o)
{
	if (!o->local || !o->owner) {
		svh_port_init(c);
		return -EINVAL;
	}
	return svh_port_attach_memfd(c, o->ctl_memfd, o->pool_memfd);
}

void svh_port_local_set_state(struct svh_port *o, uint32_t state, uint32_t reason)
{
	struct svhost_shm_header *h = (struct svhost_shm_header *)o->hdr;

	if (!o->local || !o->owner || !h)
		return;
	svh_write_once(&h->reason, reason);
	if (state == SVHOST_STATE_REVOKED)
		svh_write_once(&h->generation, svh_read_once(&h->generation) + 1);
	svh_store_release(&h->state, state);
}

enum svh_dev_state svh_port_status(const struct svh_port *p, uint32_t *reason)
{
	uint32_t state, gen;

	if (reason)
		*reason = SVHOST_REASON_NONE;
	if (!p->hdr || p->owner)
		return SVH_DEV_DETACHED;
	state = svh_load_acquire(&p->hdr->state);
	gen = svh_read_once(&p->hdr->generation);
	if (gen == p->generation) {
		if (state == SVHOST_STATE_ATTACHED)
			return SVH_DEV_ATTACHED;
		if (state == SVHOST_STATE_OWNER_GONE)
			return SVH_DEV_OWNER_GONE;
	}
	/* lost: when the generation is exactly one more, state and reason say why */
	if (gen == p->generation + 1 && state == SVHOST_STATE_REVOKED && reason)
		*reason = svh_read_once(&p->hdr->reason);
	if (gen == p->generation + 1 && state == SVHOST_STATE_OWNER_GONE)
		return SVH_DEV_OWNER_GONE;
	return SVH_DEV_REVOKED;
}

void svh_port_close(struct svh_port *p)
{
	/* a local copier hands the port back, as the broker does on release */
	if (p->local && !p->owner && p->hdr &&
	    svh_port_status(p, NULL) == SVH_DEV_ATTACHED) {
		struct svhost_shm_header *h = (struct svhost_shm_header *)p->hdr;

		svh_store_release(&h->state, SVHOST_STATE_READY);
	}
	if (p->hdr)
		munmap((void *)p->hdr, p->layout.header_size);
	if (p->rings)
		munmap(p->rings, p->layout.rings_size);
	if (p->pool)
		munmap(p->pool, p->layout.pool_size);
	if (p->fd >= 0)
		close(p->fd);
	if (p->ctl_memfd >= 0)
		close(p->ctl_memfd);
	if (p->pool_memfd >= 0)
		close(p->pool_memfd);
	svh_port_init(p);
}

struct svhost_ring *svh_port_ring(const struct svh_port *p, uint32_t qp, unsigned dir)
{
	if (!p->rings || qp >= p->layout.queue_pairs || dir > 1)
		return NULL;
	return (struct svhost_ring *)(p->rings + (uint64_t)p->layout.ring_stride * (2 * qp + dir));
}

/* ---- protection keys --------------------------------------------------------------- */

bool svh_pkey_supported(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (c >> 4) & 1;	/* OSPKE */
#else
	return false;
#endif
}

int svh_pkey_alloc(void)
{
	int k = pkey_alloc(0, PKEY_DISABLE_ACCESS);

	return k < 0 ? -errno : k;
}

int svh_pkey_free(int pkey)
{
	return pkey_free(pkey) < 0 ? -errno : 0;
}

uint32_t svh_rdpkru(void)
{
#if defined(__x86_64__)
	uint32_t eax, edx;

	__asm__ __volatile__(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
#else
	return 0;
#endif
}

void svh_wrpkru(uint32_t pkru)
{
#if defined(__x86_64__)
	__asm__ __volatile__(".byte 0x0f,0x01,0xef" : : "a"(pkru), "c"(0), "d"(0) : "memory");
#else
	(void)pkru;
#endif
}

int svh_pkey_set_thread(int pkey, bool enable)
{
	uint32_t pkru, bits;

	if (pkey < 1 || pkey > 15)
		return -EINVAL;
	if (!svh_pkey_supported())
		return -EOPNOTSUPP;
	bits = 3u << (2 * pkey);	/* access-disable | write-disable */
	pkru = svh_rdpkru();
	pkru = enable ? (pkru & ~bits) : (pkru | bits);
	svh_wrpkru(pkru);
	return 0;
}
