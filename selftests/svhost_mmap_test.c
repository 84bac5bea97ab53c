// SPDX-License-Identifier: GPL-2.0
/*
 * Owner mmap of a port: layout values, header contents, region checks,
 * refused flags and protections, and that the mapping cannot be reached
 * through fork, mremap, /proc/PID/mem, process_vm_readv, ptrace or vmsplice.
 */
#include "kselftest_harness.h"
#include "svhost_util.h"

#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

_Static_assert(sizeof(struct svhost_desc) == 32, "descriptor size");
_Static_assert(sizeof(struct svhost_ring) == SVHOST_RING_HDR_SIZE,
	       "ring header size");
_Static_assert(sizeof(struct svhost_layout) == 80, "layout size");
_Static_assert(sizeof(struct svhost_shm_header) == 104, "header size");

FIXTURE(port) {
	int fd;
	char name[SVHOST_NAME_LEN];
	struct svhost_layout lay;
	long long ports0, bytes0;
};

FIXTURE_SETUP(port)
{
	SVH_COUNTER(self->ports0, "ports_count");
	SVH_COUNTER(self->bytes0, "pool_bytes");
	SVH_OPEN(self->fd);
	svh_name(self->name, "mm");
	ASSERT_EQ(0, svh_create(self->fd, self->name, &self->lay));
}

FIXTURE_TEARDOWN(port)
{
	if (self->fd > 0)
		close(self->fd);
	/* every test unmaps what it mapped: the port must be gone */
	EXPECT_EQ(0, svh_wait_counter("ports_count", self->ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", self->bytes0, 2000));
}

static bool overlaps(__u64 a, __u64 alen, __u64 b, __u64 blen)
{
	return a < b + blen && b < a + alen;
}

static void check_layout(struct __test_metadata *_metadata,
			 const struct svhost_layout *l, __u32 qp, __u32 ring,
			 __u32 bsize, __u32 bcount)
{
	EXPECT_EQ(0ULL, l->header_offset);
	EXPECT_EQ(4096ULL, l->header_size);
	EXPECT_EQ(0ULL, l->rings_offset % SVH_PAGE);
	EXPECT_EQ(0ULL, l->rings_size % SVH_PAGE);
	EXPECT_EQ(0ULL, l->pool_offset % SVH_PAGE);
	EXPECT_EQ(0ULL, l->pool_size % SVH_PAGE);
	EXPECT_EQ(svh_expected_pool(bsize, bcount), l->pool_size);
	EXPECT_EQ(qp, l->queue_pairs);
	EXPECT_EQ(ring, l->ring_size);
	EXPECT_EQ(bsize, l->buf_size);
	EXPECT_EQ(bcount, l->buf_count);
	EXPECT_EQ(0U, l->reserved[0] | l->reserved[1] | l->reserved[2]);
	EXPECT_EQ(0U, l->ring_stride % SVHOST_CACHELINE);
	EXPECT_LE(SVHOST_RING_HDR_SIZE + (__u64)ring *
		  sizeof(struct svhost_desc), (__u64)l->ring_stride);
	EXPECT_LE(2ULL * qp * l->ring_stride, l->rings_size);
	EXPECT_FALSE(overlaps(l->header_offset, l->header_size,
			      l->rings_offset, l->rings_size));
	EXPECT_FALSE(overlaps(l->header_offset, l->header_size,
			      l->pool_offset, l->pool_size));
	EXPECT_FALSE(overlaps(l->rings_offset, l->rings_size,
			      l->pool_offset, l->pool_size));
}

TEST_F(port, layout_values)
{
	check_layout(_metadata, &self->lay, SVH_DEF_QP, SVH_DEF_RING,
		     SVH_DEF_BUF_SIZE, SVH_DEF_BUF_COUNT);
	EXPECT_EQ(2ULL << 20, self->lay.pool_size);
}

/* Several geometries: layout rules, sysfs geometry, whole regions map. */
TEST(layout_geometries)
{
	static const __u32 geo[][4] = {
		{ 1, 64, 2048, 1 },
		{ 1, 64, 2048, 1025 },		/* rounds up to 4 MiB */
		{ 2, 128, 4096, 512 },
		{ 4, 256, 65536, 32 },
		{ 3, 256, 2048, 2000 },
		{ 64, 64, 2048, 16 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(geo); i++) {
		struct svhost_layout l;
		char name[SVHOST_NAME_LEN];
		void *p;
		int fd;

		SVH_OPEN(fd);
		svh_name(name, "geo");
		ASSERT_EQ(0, svh_create_geom(fd, name, geo[i][0], geo[i][1],
					     geo[i][2], geo[i][3], &l))
			TH_LOG("geometry %u", i);
		check_layout(_metadata, &l, geo[i][0], geo[i][1], geo[i][2],
			     geo[i][3]);
		EXPECT_EQ(geo[i][0], svh_port_ll(name, "queue_pairs"));
		EXPECT_EQ(geo[i][1], svh_port_ll(name, "ring_size"));
		EXPECT_EQ(geo[i][2], svh_port_ll(name, "buf_size"));
		EXPECT_EQ(geo[i][3], svh_port_ll(name, "buf_count"));
		EXPECT_EQ((long long)l.pool_size,
			  svh_port_ll(name, "pool_bytes"));
		p = svh_map(fd, l.rings_offset, l.rings_size,
			    PROT_READ | PROT_WRITE);
		EXPECT_NE(MAP_FAILED, p);
		if (p != MAP_FAILED) {
			/* last ring's last descriptor is inside the region */
			struct svhost_ring *r = svh_ring(p, &l,
							 2 * l.queue_pairs - 1);

			r->desc[l.ring_size - 1].len = 1234;
			EXPECT_EQ(1234U, r->desc[l.ring_size - 1].len);
			munmap(p, l.rings_size);
		}
		p = svh_map(fd, l.pool_offset, l.pool_size,
			    PROT_READ | PROT_WRITE);
		EXPECT_NE(MAP_FAILED, p);
		if (p != MAP_FAILED) {
			((volatile char *)p)[l.pool_size - 1] = 7;
			munmap(p, l.pool_size);
		}
		close(fd);
	}
}

TEST_F(port, header_contents)
{
	const struct svhost_shm_header *h;

	h = svh_map(self->fd, 0, 4096, PROT_READ);
	ASSERT_NE(MAP_FAILED, h);
	EXPECT_EQ((__u32)SVHOST_SHM_MAGIC, h->magic);
	EXPECT_EQ(0x50485653U, h->magic);
	EXPECT_EQ(1U, h->version);
	EXPECT_EQ((__u32)SVHOST_STATE_READY, h->state);
	EXPECT_EQ((__u32)SVHOST_REASON_NONE, h->reason);
	EXPECT_EQ(0U, h->reserved);
	EXPECT_EQ(0, memcmp(&h->layout, &self->lay, sizeof(self->lay)));
	munmap((void *)h, 4096);
}

TEST_F(port, header_prot_write_eperm)
{
	EXPECT_EQ(-EPERM, svh_map_err(self->fd, 0, 4096,
				      PROT_READ | PROT_WRITE, MAP_SHARED));
	EXPECT_EQ(-EPERM, svh_map_err(self->fd, 0, 4096, PROT_WRITE,
				      MAP_SHARED));
	EXPECT_EQ(-EPERM, svh_map_err(self->fd, 0, 4096,
				      PROT_READ | PROT_WRITE,
				      MAP_SHARED_VALIDATE));
	EXPECT_EQ(0, svh_map_err(self->fd, 0, 4096, PROT_READ, MAP_SHARED));
	EXPECT_EQ(self->ports0 + 1, svh_counter("ports_count"));
}

TEST_F(port, header_mprotect_write_fails)
{
	struct svh_fault f;
	volatile __u32 *h;
	int ret;

	h = svh_map(self->fd, 0, 4096, PROT_READ);
	ASSERT_NE(MAP_FAILED, h);
	errno = 0;
	ret = mprotect((void *)h, 4096, PROT_READ | PROT_WRITE);
	EXPECT_EQ(-1, ret);
	EXPECT_TRUE(errno == EACCES || errno == EPERM)
		TH_LOG("mprotect(RW) on header: %s", strerror(errno));
	ret = mprotect((void *)h, 4096, PROT_WRITE);
	EXPECT_EQ(-1, ret);
	ret = pkey_mprotect((void *)h, 4096, PROT_READ | PROT_WRITE, 0);
	EXPECT_EQ(-1, ret);
	/* still read-only: a store faults */
	EXPECT_EQ(SIGSEGV, svh_probe_write(h, 1, &f));
	EXPECT_EQ(SEGV_ACCERR, f.code);
	EXPECT_EQ((__u32)SVHOST_SHM_MAGIC, h[0]);
	munmap((void *)h, 4096);
}

/* Rings and pool are writable and shared: two mappings see one memory. */
TEST_F(port, rings_pool_shared)
{
	const struct svhost_layout *l = &self->lay;
	char *r1, *r2, *p1, *p2, *sub, c;

	r1 = svh_map(self->fd, l->rings_offset, l->rings_size,
		     PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, r1);
	r2 = svh_map(self->fd, l->rings_offset, l->rings_size, PROT_READ);
	ASSERT_NE(MAP_FAILED, r2);
	p1 = svh_map(self->fd, l->pool_offset, l->pool_size,
		     PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p1);
	p2 = svh_map(self->fd, l->pool_offset, l->pool_size,
		     PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p2);
	ASSERT_NE(p1, p2);

	svh_fill(r1, l->rings_size, 11);
	EXPECT_EQ(-1, svh_check(r2, l->rings_size, 11));
	svh_fill(p1, l->pool_size, 22);
	EXPECT_EQ(-1, svh_check(p2, l->pool_size, 22));
	svh_fill(p2 + l->pool_size / 2, l->pool_size / 2, 33);
	EXPECT_EQ(-1, svh_check(p1 + l->pool_size / 2, l->pool_size / 2, 33));

	/* a page-aligned sub-range of one region maps the same pages */
	sub = svh_map(self->fd, l->pool_offset + 3 * SVH_PAGE, 2 * SVH_PAGE,
		      PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, sub);
	EXPECT_EQ(0, memcmp(sub, p1 + 3 * SVH_PAGE, 2 * SVH_PAGE));
	c = sub[5];
	sub[5] = ~c;
	EXPECT_EQ((char)~c, p2[3 * SVH_PAGE + 5]);
	sub[5] = c;
	munmap(sub, 2 * SVH_PAGE);

	/* the memory outlives the mappings while the port lives */
	munmap(p1, l->pool_size);
	munmap(p2, l->pool_size);
	p1 = svh_map(self->fd, l->pool_offset, l->pool_size, PROT_READ);
	ASSERT_NE(MAP_FAILED, p1);
	EXPECT_EQ(-1, svh_check(p1, l->pool_size / 2, 22));
	munmap(p1, l->pool_size);
	munmap(r1, l->rings_size);
	munmap(r2, l->rings_size);
}

static int region_of(const struct svhost_layout *l, __u64 off)
{
	if (off >= l->header_offset && off < l->header_offset + l->header_size)
		return 0;
	if (off >= l->rings_offset && off < l->rings_offset + l->rings_size)
		return 1;
	if (off >= l->pool_offset && off < l->pool_offset + l->pool_size)
		return 2;
	return -1;
}

/*
 * Every one- and two-page window from 0 to past the end: mmap succeeds
 * exactly when the window lies inside one region, else EINVAL.
 */
TEST_F(port, mmap_region_scan)
{
	const struct svhost_layout *l = &self->lay;
	long long inval0, inval1, refused = 0;
	__u64 end, off;
	int npages, ret, want, r0, r1;

	end = l->pool_offset + l->pool_size;
	if (l->rings_offset + l->rings_size > end)
		end = l->rings_offset + l->rings_size;
	SVH_COUNTER(inval0, "invalid_requests");
	for (npages = 1; npages <= 2; npages++) {
		for (off = 0; off < end + 4 * SVH_PAGE; off += SVH_PAGE) {
			r0 = region_of(l, off);
			r1 = region_of(l, off + (npages - 1) * SVH_PAGE);
			want = (r0 >= 0 && r0 == r1) ? 0 : -EINVAL;
			ret = svh_map_err(self->fd, off, npages * SVH_PAGE,
					  PROT_READ, MAP_SHARED);
			EXPECT_EQ(want, ret)
				TH_LOG("offset %#llx, %d pages: got %d",
				       (unsigned long long)off, npages, ret);
			if (ret)
				refused++;
			if (want != ret)
				break;
		}
	}
	SVH_COUNTER(inval1, "invalid_requests");
	EXPECT_EQ(inval0 + refused, inval1);
}

TEST_F(port, mmap_out_of_range_einval)
{
	const struct svhost_layout *l = &self->lay;

	/* straddling header and the next region, or past a region's end */
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, 0, l->header_size + SVH_PAGE,
				       PROT_READ, MAP_SHARED));
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, l->rings_offset,
				       l->rings_size + SVH_PAGE, PROT_READ,
				       MAP_SHARED));
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, l->rings_offset - SVH_PAGE,
				       2 * SVH_PAGE, PROT_READ, MAP_SHARED));
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, l->pool_offset,
				       l->pool_size + SVH_PAGE,
				       PROT_READ | PROT_WRITE, MAP_SHARED));
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, l->pool_offset - SVH_PAGE,
				       l->pool_size + SVH_PAGE,
				       PROT_READ, MAP_SHARED));
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, l->pool_offset + l->pool_size,
				       SVH_PAGE, PROT_READ, MAP_SHARED));
	/* everything at once */
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, 0, l->pool_offset +
				       l->pool_size, PROT_READ, MAP_SHARED));
	/* far away */
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, 1ULL << 40, SVH_PAGE,
				       PROT_READ, MAP_SHARED));
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, l->pool_offset +
				       (64ULL << 20), SVH_PAGE, PROT_READ,
				       MAP_SHARED));
	/* not page aligned (refused by the core, must stay refused) */
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, l->pool_offset + 1, SVH_PAGE,
				       PROT_READ, MAP_SHARED));
}

TEST_F(port, mmap_private_einval)
{
	const struct svhost_layout *l = &self->lay;

	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, 0, 4096, PROT_READ,
				       MAP_PRIVATE));
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, l->rings_offset,
				       l->rings_size, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE));
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, l->pool_offset, l->pool_size,
				       PROT_READ | PROT_WRITE, MAP_PRIVATE));
	EXPECT_EQ(-EINVAL, svh_map_err(self->fd, l->pool_offset, SVH_PAGE,
				       PROT_READ, MAP_PRIVATE));
	/* MAP_SHARED_VALIDATE is a shared mapping */
	EXPECT_EQ(0, svh_map_err(self->fd, l->pool_offset, l->pool_size,
				 PROT_READ | PROT_WRITE,
				 MAP_SHARED_VALIDATE));
}

/* PROT_EXEC is refused by the broker, through a node on an exec mount. */
TEST(mmap_prot_exec_eperm)
{
	const int prots[] = {
		PROT_EXEC, PROT_READ | PROT_EXEC,
		PROT_READ | PROT_WRITE | PROT_EXEC,
	};
	struct svhost_layout l;
	char name[SVHOST_NAME_LEN];
	long long den0, inval0, den1, inval1;
	unsigned int i;
	int fd;

	fd = svh_open_exec();
	ASSERT_LE(0, fd) TH_LOG("open exec node: %s", strerror(-fd));
	svh_name(name, "exec");
	ASSERT_EQ(0, svh_create(fd, name, &l));
	SVH_COUNTER(den0, "denials");
	SVH_COUNTER(inval0, "invalid_requests");
	for (i = 0; i < ARRAY_SIZE(prots); i++) {
		EXPECT_EQ(-EPERM, svh_map_err(fd, 0, 4096, prots[i],
					      MAP_SHARED));
		EXPECT_EQ(-EPERM, svh_map_err(fd, l.rings_offset, l.rings_size,
					      prots[i], MAP_SHARED));
		EXPECT_EQ(-EPERM, svh_map_err(fd, l.pool_offset, l.pool_size,
					      prots[i], MAP_SHARED));
	}
	/* each refusal is counted, as malformed or as denied */
	SVH_COUNTER(den1, "denials");
	SVH_COUNTER(inval1, "invalid_requests");
	EXPECT_EQ(3 * ARRAY_SIZE(prots), (den1 - den0) + (inval1 - inval0));
	/* the same node maps fine without exec */
	EXPECT_EQ(0, svh_map_err(fd, l.pool_offset, l.pool_size,
				 PROT_READ | PROT_WRITE, MAP_SHARED));
	close(fd);
}

TEST(mprotect_add_exec_eacces)
{
	struct svhost_layout l;
	char name[SVHOST_NAME_LEN];
	volatile char *p, *r;
	int fd;

	fd = svh_open_exec();
	ASSERT_LE(0, fd) TH_LOG("open exec node: %s", strerror(-fd));
	svh_name(name, "mpx");
	ASSERT_EQ(0, svh_create(fd, name, &l));
	p = svh_map(fd, l.pool_offset, l.pool_size, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	r = svh_map(fd, l.rings_offset, l.rings_size, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, r);
	errno = 0;
	EXPECT_EQ(-1, mprotect((void *)p, l.pool_size,
			       PROT_READ | PROT_WRITE | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	errno = 0;
	EXPECT_EQ(-1, mprotect((void *)p, SVH_PAGE, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	errno = 0;
	EXPECT_EQ(-1, mprotect((void *)p, SVH_PAGE, PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	errno = 0;
	EXPECT_EQ(-1, mprotect((void *)r, l.rings_size, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	/* nothing changed */
	p[0] = 42;
	EXPECT_EQ(42, p[0]);
	r[0] = 43;
	EXPECT_EQ(43, r[0]);
	munmap((void *)p, l.pool_size);
	munmap((void *)r, l.rings_size);
	close(fd);
}

TEST(unbound_mmap_einval)
{
	long long inval0;
	int fd;

	SVH_OPEN(fd);
	SVH_COUNTER(inval0, "invalid_requests");
	EXPECT_EQ(-EINVAL, svh_map_err(fd, 0, 4096, PROT_READ, MAP_SHARED));
	EXPECT_EQ(-EINVAL, svh_map_err(fd, 4096, 4096, PROT_READ | PROT_WRITE,
				       MAP_SHARED));
	EXPECT_EQ(-EINVAL, svh_map_err(fd, 2 << 20, 2 << 20,
				       PROT_READ | PROT_WRITE, MAP_SHARED));
	EXPECT_EQ(inval0 + 3, svh_counter("invalid_requests"));
	close(fd);
}

TEST_F(port, mremap_grow_efault)
{
	const struct svhost_layout *l = &self->lay;
	char *p, *q;

	p = svh_map(self->fd, l->pool_offset, l->pool_size / 2,
		    PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	svh_fill(p, l->pool_size / 2, 5);
	errno = 0;
	q = mremap(p, l->pool_size / 2, l->pool_size, 0);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	q = mremap(p, l->pool_size / 2, l->pool_size, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, svh_check(p, l->pool_size / 2, 5));
	munmap(p, l->pool_size / 2);

	p = svh_map(self->fd, 0, 4096, PROT_READ);
	ASSERT_NE(MAP_FAILED, p);
	errno = 0;
	q = mremap(p, 4096, 8192, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	munmap(p, 4096);
}

TEST_F(port, mremap_move_eperm)
{
	const struct svhost_layout *l = &self->lay;
	char *p, *target, *q, line[256];

	p = svh_map(self->fd, l->pool_offset, l->pool_size,
		    PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	svh_fill(p, l->pool_size, 77);
	target = mmap(NULL, l->pool_size, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, target);
	errno = 0;
	q = mremap(p, l->pool_size, l->pool_size,
		   MREMAP_MAYMOVE | MREMAP_FIXED, target);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EPERM, errno);
	/* DONTUNMAP is a move as well (the core refuses it for PFNMAP) */
	q = mremap(p, l->pool_size, l->pool_size,
		   MREMAP_MAYMOVE | 4 /* MREMAP_DONTUNMAP */);
	EXPECT_EQ(MAP_FAILED, q);
	/* the mapping stayed where it was, with its contents */
	EXPECT_EQ(-1, svh_check(p, l->pool_size, 77));
	EXPECT_EQ(0, svh_maps_line(p, line, sizeof(line)));
	munmap(target, l->pool_size);
	munmap(p, l->pool_size);

	/* the header cannot be moved either */
	p = svh_map(self->fd, 0, 4096, PROT_READ);
	ASSERT_NE(MAP_FAILED, p);
	target = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	ASSERT_NE(MAP_FAILED, target);
	errno = 0;
	q = mremap(p, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ((__u32)SVHOST_SHM_MAGIC, *(volatile __u32 *)p);
	munmap(target, 4096);
	munmap(p, 4096);
}

/* The mapping flags documented in API.md, seen in /proc/self/smaps. */
TEST_F(port, mapping_flags_and_maps)
{
	static const char must[][4] = { "io", "pf", "dc", "de", "dd" };
	const struct svhost_layout *l = &self->lay;
	char flags[256], line[512];
	void *maps[3];
	unsigned int i, j;

	maps[0] = svh_map(self->fd, 0, 4096, PROT_READ);
	maps[1] = svh_map(self->fd, l->rings_offset, l->rings_size,
			  PROT_READ | PROT_WRITE);
	maps[2] = svh_map(self->fd, l->pool_offset, l->pool_size,
			  PROT_READ | PROT_WRITE);
	for (i = 0; i < 3; i++)
		ASSERT_NE(MAP_FAILED, maps[i]);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, svh_smaps(maps[i], NULL, flags, sizeof(flags)));
		for (j = 0; j < ARRAY_SIZE(must); j++)
			EXPECT_TRUE(svh_vmflag(flags, must[j]))
				TH_LOG("region %u lacks VmFlag %s: %s", i,
				       must[j], flags);
		EXPECT_FALSE(svh_vmflag(flags, "ex"));
		EXPECT_TRUE(svh_vmflag(flags, "sh"));
		ASSERT_EQ(0, svh_maps_line(maps[i], line, sizeof(line)));
		EXPECT_NE(NULL, strstr(line, "svhost")) TH_LOG("%s", line);
		EXPECT_NE(NULL, strstr(line, i ? "rw-s" : "r--s"))
			TH_LOG("%s", line);
	}
	ASSERT_EQ(0, svh_smaps(maps[0], NULL, flags, sizeof(flags)));
	EXPECT_FALSE(svh_vmflag(flags, "wr"));
	munmap(maps[0], 4096);
	munmap(maps[1], l->rings_size);
	munmap(maps[2], l->pool_size);
}

TEST_F(port, proc_self_mem_eio)
{
	const struct svhost_layout *l = &self->lay;
	char buf[64], *p, *h;
	static char control[64] = "control";
	int mfd;

	p = svh_map(self->fd, l->pool_offset, l->pool_size,
		    PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	h = svh_map(self->fd, 0, 4096, PROT_READ);
	ASSERT_NE(MAP_FAILED, h);
	svh_fill(p, SVH_PAGE, 9);
	mfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, mfd);
	/* /proc/self/mem works for ordinary memory */
	ASSERT_EQ((ssize_t)sizeof(buf),
		  pread(mfd, buf, sizeof(buf), (off_t)(uintptr_t)control));
	EXPECT_STREQ("control", buf);

	errno = 0;
	EXPECT_EQ(-1, pread(mfd, buf, sizeof(buf), (off_t)(uintptr_t)p));
	EXPECT_EQ(EIO, errno);
	errno = 0;
	memset(buf, 0xee, sizeof(buf));
	EXPECT_EQ(-1, pwrite(mfd, buf, sizeof(buf), (off_t)(uintptr_t)p));
	EXPECT_EQ(EIO, errno);
	errno = 0;
	EXPECT_EQ(-1, pread(mfd, buf, sizeof(buf), (off_t)(uintptr_t)h));
	EXPECT_EQ(EIO, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(mfd, buf, sizeof(buf), (off_t)(uintptr_t)h));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, svh_check(p, SVH_PAGE, 9));
	EXPECT_EQ((__u32)SVHOST_SHM_MAGIC, *(volatile __u32 *)h);
	close(mfd);
	munmap(p, l->pool_size);
	munmap(h, 4096);
}

TEST_F(port, process_vm_readv_efault)
{
	const struct svhost_layout *l = &self->lay;
	static char control[64] = "control";
	char *p;
	pid_t pid;

	p = svh_map(self->fd, l->pool_offset, l->pool_size,
		    PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	svh_fill(p, SVH_PAGE, 10);
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char buf[256];
		struct iovec local = { buf, sizeof(buf) };
		struct iovec remote = { control, sizeof(control) };
		pid_t parent = getppid();

		/* the mechanism works on ordinary memory of the parent */
		CHILD_CHECK(process_vm_readv(parent, &local, 1, &remote, 1, 0)
			    == sizeof(control));
		CHILD_CHECK(!strcmp(buf, "control"));
		remote.iov_base = p;
		remote.iov_len = sizeof(buf);
		errno = 0;
		CHILD_CHECK(process_vm_readv(parent, &local, 1, &remote, 1, 0)
			    == -1);
		CHILD_CHECK(errno == EFAULT);
		memset(buf, 0x55, sizeof(buf));
		errno = 0;
		CHILD_CHECK(process_vm_writev(parent, &local, 1, &remote, 1, 0)
			    == -1);
		CHILD_CHECK(errno == EFAULT);
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_EQ(-1, svh_check(p, SVH_PAGE, 10));
	munmap(p, l->pool_size);
}

/* ptrace PEEKDATA/POKEDATA on a traced child's pool fail with EIO. */
TEST(ptrace_peek_eio)
{
	static volatile long control = 0x1234;
	static volatile long *volatile child_pool;
	long long ports0, bytes0;
	int status, pfd[2];
	pid_t pid;
	long v;

	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	/* the child tells where its pool is through a pipe */
	ASSERT_EQ(0, pipe(pfd));
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct svh_owner o;

		CHILD_CHECK(svh_owner_setup(&o, "ptr") == 0);
		((volatile long *)o.pool)[0] = 0x5678;
		child_pool = o.pool;
		CHILD_CHECK(write(pfd[1], (void *)&child_pool,
				  sizeof(child_pool)) == sizeof(child_pool));
		CHILD_CHECK(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0);
		raise(SIGSTOP);
		/* still intact after the parent's attempts */
		CHILD_CHECK(((volatile long *)o.pool)[0] == 0x5678);
		_exit(0);
	}
	ASSERT_EQ((ssize_t)sizeof(child_pool),
		  read(pfd[0], (void *)&child_pool, sizeof(child_pool)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSTOPPED(status));
	errno = 0;
	v = ptrace(PTRACE_PEEKDATA, pid, (void *)&control, NULL);
	EXPECT_EQ(0x1234, v);
	errno = 0;
	v = ptrace(PTRACE_PEEKDATA, pid, (void *)child_pool, NULL);
	EXPECT_EQ(-1, v);
	EXPECT_EQ(EIO, errno);
	errno = 0;
	EXPECT_EQ(-1, ptrace(PTRACE_POKEDATA, pid, (void *)child_pool,
			     (void *)0x9999L));
	EXPECT_EQ(EIO, errno);
	ASSERT_EQ(0, ptrace(PTRACE_CONT, pid, NULL, NULL));
	EXPECT_EQ(0, svh_wait(pid));
	close(pfd[0]);
	close(pfd[1]);
	EXPECT_EQ(0, svh_wait_counter("ports_count", ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", bytes0, 2000));
}

TEST_F(port, vmsplice_efault)
{
	const struct svhost_layout *l = &self->lay;
	static char control[4096];
	struct iovec iov;
	int pfd[2];
	char *p;

	p = svh_map(self->fd, l->pool_offset, l->pool_size,
		    PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(pfd));
	iov.iov_base = control;
	iov.iov_len = sizeof(control);
	EXPECT_EQ((ssize_t)sizeof(control), vmsplice(pfd[1], &iov, 1, 0));
	ASSERT_EQ((ssize_t)sizeof(control),
		  read(pfd[0], control, sizeof(control)));
	iov.iov_base = p;
	iov.iov_len = SVH_PAGE;
	errno = 0;
	EXPECT_EQ(-1, vmsplice(pfd[1], &iov, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	close(pfd[0]);
	close(pfd[1]);
	munmap(p, l->pool_size);
}

/* fork() does not inherit the mapping, and MADV_DOFORK cannot change it. */
TEST_F(port, fork_not_inherited)
{
	const struct svhost_layout *l = &self->lay;
	char *p, *r, *h;
	pid_t pid;

	p = svh_map(self->fd, l->pool_offset, l->pool_size,
		    PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	r = svh_map(self->fd, l->rings_offset, l->rings_size,
		    PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, r);
	h = svh_map(self->fd, 0, 4096, PROT_READ);
	ASSERT_NE(MAP_FAILED, h);
	svh_fill(p, SVH_PAGE, 12);
	errno = 0;
	EXPECT_EQ(-1, madvise(p, l->pool_size, MADV_DOFORK));
	EXPECT_EQ(EINVAL, errno);
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char line[256];
		struct svh_fault f;
		char *m[3] = { p, r, h };
		int i;

		for (i = 0; i < 3; i++) {
			CHILD_CHECK(svh_probe_read(m[i], NULL, &f) == SIGSEGV);
			CHILD_CHECK(f.code == SEGV_MAPERR);
			CHILD_CHECK(f.addr == m[i]);
			CHILD_CHECK(svh_maps_line(m[i], line, sizeof(line)) ==
				    -ENOENT);
		}
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_EQ(-1, svh_check(p, SVH_PAGE, 12));
	munmap(p, l->pool_size);
	munmap(r, l->rings_size);
	munmap(h, 4096);
}

/* A port stays alive while mapped after its owner file is closed. */
TEST_F(port, owner_close_keeps_mapping)
{
	const struct svhost_layout *l = &self->lay;
	char *p;
	int fd2;

	p = svh_map(self->fd, l->pool_offset, l->pool_size,
		    PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	svh_fill(p, l->pool_size, 13);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(-1, svh_check(p, l->pool_size, 13));
	EXPECT_EQ(self->ports0 + 1, svh_counter("ports_count"));
	/* not released yet: the name is still taken */
	SVH_OPEN(fd2);
	EXPECT_EQ(-EEXIST, svh_create(fd2, self->name, NULL));
	munmap(p, l->pool_size);
	EXPECT_EQ(0, svh_wait_port_gone(self->name, 2000));
	EXPECT_EQ(0, svh_create(fd2, self->name, NULL));
	close(fd2);
}

TEST_HARNESS_MAIN
