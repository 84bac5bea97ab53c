// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/svhost ioctl API: SVHOST_GET_VERSION, unknown ioctls, and every
 * argument check and limit of SVHOST_PORT_CREATE / SVHOST_COPIER_ATTACH as
 * documented in docs/API.md.
 */
#include "kselftest_harness.h"
#include "svhost_util.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/capability.h>

/* Expect ports_count and pool_bytes unchanged from a baseline. */
#define EXPECT_BASELINE(ports, bytes) do {				\
	EXPECT_EQ(0, svh_wait_counter("ports_count", (ports), 2000));	\
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", (bytes), 2000));	\
} while (0)

TEST(version_ioctl)
{
	struct svhost_version v;
	char req[8];
	long long mib;
	int fd;

	SVH_OPEN(fd);
	memset(&v, 0xa5, sizeof(v));
	ASSERT_EQ(0, svh_version(fd, &v));
	EXPECT_EQ(1U, v.api_version);
	EXPECT_EQ((__u32)SVHOST_API_VERSION, v.api_version);
	EXPECT_EQ(64U, v.max_queue_pairs);
	EXPECT_EQ(32768U, v.max_ring_size);
	EXPECT_EQ(0ULL, v.reserved[0]);
	EXPECT_EQ(0ULL, v.reserved[1]);
	EXPECT_EQ(0U, v.features & ~(SVHOST_FEATURE_PKEY |
				     SVHOST_FEATURE_PKEY_REQUIRED));
	EXPECT_EQ(svh_have_pku(), !!(v.features & SVHOST_FEATURE_PKEY));

	mib = svh_param_ll("max_port_pool_mib");
	ASSERT_NE(SVH_BAD, mib);
	EXPECT_EQ((__u64)mib << 20, v.max_port_pool_bytes);

	ASSERT_EQ(0, svh_param_read("require_pkey", req, sizeof(req)));
	EXPECT_EQ(req[0] == 'Y',
		  !!(v.features & SVHOST_FEATURE_PKEY_REQUIRED));
	close(fd);
}

/* GET_VERSION works on a file of any role. */
TEST(version_any_role)
{
	struct svhost_version v;
	char name[SVHOST_NAME_LEN];
	int fd;

	SVH_OPEN(fd);
	svh_name(name, "ver");
	ASSERT_EQ(0, svh_create(fd, name, NULL));
	memset(&v, 0xff, sizeof(v));
	ASSERT_EQ(0, svh_version(fd, &v));
	EXPECT_EQ(1U, v.api_version);
	EXPECT_EQ(0ULL, v.reserved[0] | v.reserved[1]);
	close(fd);
}

TEST(version_sysfs_and_counters)
{
	static const char counters[][20] = {
		"ports_count", "pool_bytes", "attaches", "denials",
		"revocations", "invalid_requests",
	};
	unsigned int i;

	EXPECT_EQ(1, svh_counter("version"));
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		EXPECT_LE(0, svh_counter(counters[i]))
			TH_LOG(SVH_SYSFS "/%s unreadable or negative",
			       counters[i]);
}

/* The module parameters exist and have the documented defaults. */
TEST(module_param_defaults)
{
	char buf[16];

	EXPECT_EQ(64, svh_param_ll("max_ports"));
	EXPECT_EQ(1024, svh_param_ll("max_pool_mib"));
	EXPECT_EQ(256, svh_param_ll("max_port_pool_mib"));
	ASSERT_EQ(0, svh_param_read("require_pkey", buf, sizeof(buf)));
	EXPECT_STREQ("Y", buf);
}

TEST(version_efault)
{
	long long inval0, inval1;
	int fd;

	SVH_OPEN(fd);
	SVH_COUNTER(inval0, "invalid_requests");
	EXPECT_EQ(-1, ioctl(fd, SVHOST_GET_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, SVHOST_GET_VERSION, (void *)1));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, SVHOST_GET_VERSION, (void *)-4096L));
	EXPECT_EQ(EFAULT, errno);
	SVH_COUNTER(inval1, "invalid_requests");
	EXPECT_LE(inval0, inval1);
	close(fd);
}

TEST(unknown_ioctl_enotty)
{
	const unsigned long cmds[] = {
		_IO(SVHOST_IOCTL_MAGIC, 3),
		_IOWR(SVHOST_IOCTL_MAGIC, 3, struct svhost_port_create),
		_IOWR(SVHOST_IOCTL_MAGIC, 0x7f, struct svhost_copier_attach),
		_IOWR(SVHOST_IOCTL_MAGIC, 0xff, struct svhost_version),
		/* right numbers, wrong size or direction */
		_IOR(SVHOST_IOCTL_MAGIC, 0, __u64),
		_IOW(SVHOST_IOCTL_MAGIC, 0, struct svhost_version),
		_IOWR(SVHOST_IOCTL_MAGIC, 0, struct svhost_version),
		_IOWR(SVHOST_IOCTL_MAGIC, 1, struct svhost_copier_attach),
		_IOW(SVHOST_IOCTL_MAGIC, 1, struct svhost_port_create),
		_IOWR(SVHOST_IOCTL_MAGIC, 2, struct svhost_port_create),
		_IO(SVHOST_IOCTL_MAGIC, 2),
		/* other drivers' numbers */
		_IOR('T', 0x01, int),
		0x5401,		/* TCGETS */
		0x541B,		/* FIONREAD, passed to the driver */
		_IOWR(0xAF, 0x00, __u64),	/* vhost */
		0xffffffffUL,
		0,
	};
	static char buf[4096];
	long long inval0, inval1;
	char name[SVHOST_NAME_LEN];
	unsigned int i, n = 0;
	int fds[2];

	SVH_OPEN(fds[0]);
	SVH_OPEN(fds[1]);
	svh_name(name, "enotty");
	ASSERT_EQ(0, svh_create(fds[1], name, NULL));
	SVH_COUNTER(inval0, "invalid_requests");
	for (i = 0; i < 2 * ARRAY_SIZE(cmds); i++) {
		unsigned long cmd = cmds[i % ARRAY_SIZE(cmds)];
		int fd = fds[i / ARRAY_SIZE(cmds)];

		memset(buf, 0, sizeof(buf));
		errno = 0;
		EXPECT_EQ(-1, ioctl(fd, cmd, buf))
			TH_LOG("cmd %#lx succeeded", cmd);
		EXPECT_EQ(ENOTTY, errno)
			TH_LOG("cmd %#lx: %s", cmd, strerror(errno));
		n++;
	}
	SVH_COUNTER(inval1, "invalid_requests");
	EXPECT_EQ(inval0 + n, inval1);
	/* The owner file is still the owner and works. */
	EXPECT_TRUE(svh_port_exists(name));
	close(fds[0]);
	close(fds[1]);
}

/* A default port appears in sysfs and in the counters, and goes away. */
TEST(create_counters_and_sysfs)
{
	long long ports0, bytes0, ports1, bytes1;
	struct svhost_layout lay;
	char name[SVHOST_NAME_LEN];
	int fd;

	SVH_OPEN(fd);
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	svh_name(name, "cnt");
	ASSERT_FALSE(svh_port_exists(name));
	ASSERT_EQ(0, svh_create(fd, name, &lay));
	EXPECT_TRUE(svh_port_exists(name));
	SVH_COUNTER(ports1, "ports_count");
	SVH_COUNTER(bytes1, "pool_bytes");
	EXPECT_EQ(ports0 + 1, ports1);
	EXPECT_EQ(bytes0 + (long long)(lay.header_size + lay.rings_size +
				       lay.pool_size), bytes1);
	EXPECT_EQ((long long)lay.pool_size, svh_port_ll(name, "pool_bytes"));
	close(fd);
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
	EXPECT_BASELINE(ports0, bytes0);
}

/*
 * Run one create on a fresh copy of a valid request changed by mod() and
 * return -errno; the file must still be unbound afterwards on failure.
 */
static int create_mod(int fd, const char *name,
		      void (*mod)(struct svhost_port_create *, long), long v)
{
	struct svhost_port_create c;

	svh_create_args(&c, name, SVH_DEF_QP, SVH_DEF_RING, SVH_DEF_BUF_SIZE,
			SVH_DEF_BUF_COUNT);
	mod(&c, v);
	return svh_create_raw(fd, &c);
}

static void mod_flags(struct svhost_port_create *c, long v)
{
	c->flags = v;
}

static void mod_reserved(struct svhost_port_create *c, long v)
{
	c->reserved = v;
}

static void mod_qp(struct svhost_port_create *c, long v)
{
	c->queue_pairs = v;
}

static void mod_ring(struct svhost_port_create *c, long v)
{
	c->ring_size = v;
}

static void mod_bsize(struct svhost_port_create *c, long v)
{
	c->buf_size = v;
	/* keep the pool at 2 MiB so only the size itself is wrong */
	if (v >= 2048 && v <= 65536)
		c->buf_count = (2 << 20) / v;
}

static void mod_bcount(struct svhost_port_create *c, long v)
{
	c->buf_count = v;
}

static void mod_both(struct svhost_port_create *c, long v)
{
	c->buf_size = (__u32)(v >> 32);
	c->buf_count = (__u32)v;
}

struct bad_case {
	const char *what;
	void (*mod)(struct svhost_port_create *c, long v);
	long v;
	int err;
};

static void run_cases(struct __test_metadata *_metadata,
		      const struct bad_case *cases, unsigned int n)
{
	long long ports0, bytes0, inval0, inval1;
	char name[SVHOST_NAME_LEN];
	unsigned int i, fails = 0;
	const char *got;
	int fd, ret;

	SVH_OPEN(fd);
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	SVH_COUNTER(inval0, "invalid_requests");
	svh_name(name, "bad");
	for (i = 0; i < n; i++) {
		ret = create_mod(fd, name, cases[i].mod, cases[i].v);
		got = ret ? strerror(-ret) : "success";
		EXPECT_EQ(-cases[i].err, ret)
			TH_LOG("%s = %#lx: got %s, want %s", cases[i].what,
			       cases[i].v, got, strerror(cases[i].err));
		if (ret == -EINVAL)
			fails++;
		if (!ret) {
			/* do not let a wrong success hide the next cases */
			close(fd);
			SVH_OPEN(fd);
		}
	}
	SVH_COUNTER(inval1, "invalid_requests");
	EXPECT_LE(inval0 + fails, inval1);
	EXPECT_EQ(ports0, svh_counter("ports_count"));
	EXPECT_EQ(bytes0, svh_counter("pool_bytes"));
	EXPECT_FALSE(svh_port_exists(name));
	/* The file is still unbound: a valid request now succeeds. */
	EXPECT_EQ(0, svh_create(fd, name, NULL));
	close(fd);
}

TEST(create_bad_flags_reserved)
{
	const struct bad_case cases[] = {
		{ "flags", mod_flags, 1, EINVAL },
		{ "flags", mod_flags, 0x80000000L, EINVAL },
		{ "flags", mod_flags, 0xffffffffL, EINVAL },
		{ "reserved", mod_reserved, 1, EINVAL },
		{ "reserved", mod_reserved, 0x100, EINVAL },
		{ "reserved", mod_reserved, 0xffffffffL, EINVAL },
	};

	run_cases(_metadata, cases, ARRAY_SIZE(cases));
}

TEST(create_bad_queue_pairs)
{
	const struct bad_case cases[] = {
		{ "queue_pairs", mod_qp, 0, EINVAL },
		{ "queue_pairs", mod_qp, 65, EINVAL },
		{ "queue_pairs", mod_qp, 1000, EINVAL },
		{ "queue_pairs", mod_qp, 0xffffffffL, EINVAL },
		{ "queue_pairs", mod_qp, 64, 0 },
		{ "queue_pairs", mod_qp, 2, 0 },
	};

	run_cases(_metadata, cases, ARRAY_SIZE(cases));
}

TEST(create_bad_ring_size)
{
	const struct bad_case cases[] = {
		{ "ring_size", mod_ring, 0, EINVAL },
		{ "ring_size", mod_ring, 1, EINVAL },
		{ "ring_size", mod_ring, 32, EINVAL },
		{ "ring_size", mod_ring, 63, EINVAL },
		{ "ring_size", mod_ring, 65, EINVAL },
		{ "ring_size", mod_ring, 100, EINVAL },
		{ "ring_size", mod_ring, 32767, EINVAL },
		{ "ring_size", mod_ring, 32769, EINVAL },
		{ "ring_size", mod_ring, 65536, EINVAL },
		{ "ring_size", mod_ring, 0x80000000L, EINVAL },
		{ "ring_size", mod_ring, 0xffffffffL, EINVAL },
		{ "ring_size", mod_ring, 64, 0 },
		{ "ring_size", mod_ring, 256, 0 },
		{ "ring_size", mod_ring, 32768, 0 },
	};

	run_cases(_metadata, cases, ARRAY_SIZE(cases));
}

TEST(create_bad_buf_size)
{
	const struct bad_case cases[] = {
		{ "buf_size", mod_bsize, 0, EINVAL },
		{ "buf_size", mod_bsize, 1, EINVAL },
		{ "buf_size", mod_bsize, 1024, EINVAL },
		{ "buf_size", mod_bsize, 2047, EINVAL },
		{ "buf_size", mod_bsize, 2049, EINVAL },
		{ "buf_size", mod_bsize, 3000, EINVAL },
		{ "buf_size", mod_bsize, 65535, EINVAL },
		{ "buf_size", mod_bsize, 131072, EINVAL },
		{ "buf_size", mod_bsize, 0x80000000L, EINVAL },
		{ "buf_size", mod_bsize, 0xffffffffL, EINVAL },
		{ "buf_size", mod_bsize, 2048, 0 },
		{ "buf_size", mod_bsize, 4096, 0 },
		{ "buf_size", mod_bsize, 65536, 0 },
	};

	run_cases(_metadata, cases, ARRAY_SIZE(cases));
}

TEST(create_bad_buf_count)
{
	const struct bad_case cases[] = {
		{ "buf_count", mod_bcount, 0, EINVAL },
		{ "buf_count", mod_bcount, (1L << 20) + 1, EINVAL },
		{ "buf_count", mod_bcount, 1L << 24, EINVAL },
		{ "buf_count", mod_bcount, 0x80000000L, EINVAL },
		{ "buf_count", mod_bcount, 0xffffffffL, EINVAL },
		/* 2^20 is valid, but 2 GiB is over max_port_pool_mib */
		{ "buf_count", mod_bcount, 1L << 20, E2BIG },
		{ "buf_count", mod_bcount, 1, 0 },
		{ "buf_count", mod_bcount, 1000, 0 },
	};

	run_cases(_metadata, cases, ARRAY_SIZE(cases));
}

/*
 * buf_size * buf_count must be computed in 64 bits: products that wrap a
 * u32 to a small value (65536 * 65536 = 2^32 -> 0) must fail with E2BIG.
 */
TEST(create_overflow_e2big)
{
	long long lim = svh_param_ll("max_port_pool_mib");
	struct bad_case cases[] = {
		{ "size*count", mod_both, (65536L << 32) | 65536, E2BIG },
		{ "size*count", mod_both, (65536L << 32) | (65536 + 1), E2BIG },
		{ "size*count", mod_both, (65536L << 32) | (1L << 20), E2BIG },
		{ "size*count", mod_both, (32768L << 32) | 131072, E2BIG },
		{ "size*count", mod_both, (2048L << 32) | (1L << 20), E2BIG },
		{ "size*count", mod_both, (4096L << 32) | (1L << 20), E2BIG },
		/* one buffer over the limit */
		{ "size*count", mod_both, 0, E2BIG },
	};

	ASSERT_LT(0, lim);
	ASSERT_GE(1024, lim);
	cases[ARRAY_SIZE(cases) - 1].v = (65536L << 32) |
					 ((lim << 20) / 65536 + 1);
	run_cases(_metadata, cases, ARRAY_SIZE(cases));
}

TEST(create_bad_names)
{
	static const char * const bad[] = {
		"", ".", "..", "a/b", "/", "a b", " a", "a\tb", "a\nb",
		"a:b", "a\\b", "a*b", "a?b", "a@b", "a+b", "a%b", "a~b",
		"a,b", "a=b", "\xc3\xa4", "a\x7f", "a\x01", "../x",
		/* Latin-1 letters: alphanumeric to the kernel's isalnum() */
		"a\xe9", "\xff", "\xc0x", "x\xdf",
	};
	long long ports0, inval0, inval1;
	struct svhost_port_create c;
	unsigned int i;
	char esc[160];
	int fd, ret;

	SVH_OPEN(fd);
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(inval0, "invalid_requests");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		svh_create_args(&c, bad[i], SVH_DEF_QP, SVH_DEF_RING,
				SVH_DEF_BUF_SIZE, SVH_DEF_BUF_COUNT);
		ret = svh_create_raw(fd, &c);
		EXPECT_EQ(-EINVAL, ret)
			TH_LOG("name \"%s\": %s",
			       svh_escape(bad[i], 32, esc, sizeof(esc)),
			       ret ? strerror(-ret) : "created");
		if (!ret) {
			close(fd);
			SVH_OPEN(fd);
		}
	}
	/* 32 characters: not NUL-terminated within 32 bytes */
	svh_create_args(&c, NULL, SVH_DEF_QP, SVH_DEF_RING, SVH_DEF_BUF_SIZE,
			SVH_DEF_BUF_COUNT);
	memset(c.name, 'a', sizeof(c.name));
	EXPECT_EQ(-EINVAL, svh_create_raw(fd, &c));
	SVH_COUNTER(inval1, "invalid_requests");
	EXPECT_LE(inval0 + (long long)ARRAY_SIZE(bad) + 1, inval1);
	EXPECT_EQ(ports0, svh_counter("ports_count"));
	close(fd);
}

TEST(create_good_names)
{
	char names[5][SVHOST_NAME_LEN];
	int fds[5], i;

	/* 31 characters, the maximum */
	snprintf(names[0], sizeof(names[0]), "L%d", getpid());
	memset(names[0] + strlen(names[0]), 'Z',
	       SVHOST_NAME_LEN - 1 - strlen(names[0]));
	names[0][SVHOST_NAME_LEN - 1] = 0;
	snprintf(names[1], sizeof(names[1]), "A.b-c_9.%d", getpid());
	snprintf(names[2], sizeof(names[2]), "-%d", getpid());
	snprintf(names[3], sizeof(names[3]), "_.%d", getpid());
	snprintf(names[4], sizeof(names[4]), "...");
	for (i = 0; i < 5; i++) {
		SVH_OPEN(fds[i]);
		EXPECT_EQ(0, svh_create(fds[i], names[i], NULL))
			TH_LOG("name \"%s\" refused", names[i]);
		EXPECT_TRUE(svh_port_exists(names[i]))
			TH_LOG("no sysfs dir for \"%s\"", names[i]);
	}
	for (i = 0; i < 5; i++)
		close(fds[i]);
	for (i = 0; i < 5; i++)
		EXPECT_EQ(0, svh_wait_port_gone(names[i], 2000));
}

/* Bytes after the NUL are not part of the name. */
TEST(create_name_stops_at_nul)
{
	struct svhost_port_create c;
	char name[SVHOST_NAME_LEN];
	int fd, fd2;

	SVH_OPEN(fd);
	SVH_OPEN(fd2);
	svh_name(name, "nul");
	svh_create_args(&c, name, SVH_DEF_QP, SVH_DEF_RING, SVH_DEF_BUF_SIZE,
			SVH_DEF_BUF_COUNT);
	memset(c.name + strlen(name) + 1, '#',
	       SVHOST_NAME_LEN - strlen(name) - 1);
	ASSERT_EQ(0, svh_create_raw(fd, &c));
	EXPECT_TRUE(svh_port_exists(name));
	EXPECT_EQ(-EEXIST, svh_create(fd2, name, NULL));
	close(fd);
	close(fd2);
}

TEST(create_duplicate_eexist)
{
	char name[SVHOST_NAME_LEN];
	long long ports0;
	int fd1, fd2;

	SVH_OPEN(fd1);
	SVH_OPEN(fd2);
	svh_name(name, "dup");
	ASSERT_EQ(0, svh_create(fd1, name, NULL));
	SVH_COUNTER(ports0, "ports_count");
	EXPECT_EQ(-EEXIST, svh_create(fd2, name, NULL));
	EXPECT_EQ(-EEXIST, svh_create_geom(fd2, name, 2, 128, 4096, 512, NULL));
	EXPECT_EQ(ports0, svh_counter("ports_count"));
	EXPECT_EQ((long long)getpid(), svh_port_ll(name, "owner_pid"));
	/* The name is free as soon as the owner is released. */
	close(fd1);
	EXPECT_EQ(0, svh_create(fd2, name, NULL));
	EXPECT_TRUE(svh_port_exists(name));
	close(fd2);
}

TEST(create_twice_ebusy)
{
	char n1[SVHOST_NAME_LEN], n2[SVHOST_NAME_LEN], state[32];
	long long ports0;
	int fd;

	SVH_OPEN(fd);
	svh_name(n1, "busy");
	svh_name(n2, "busy");
	ASSERT_EQ(0, svh_create(fd, n1, NULL));
	SVH_COUNTER(ports0, "ports_count");
	EXPECT_EQ(-EBUSY, svh_create(fd, n2, NULL));
	EXPECT_EQ(-EBUSY, svh_create(fd, n1, NULL));
	EXPECT_FALSE(svh_port_exists(n2));
	EXPECT_EQ(ports0, svh_counter("ports_count"));
	/* an owner file cannot also become a copier, of any port */
	if (svh_have_pku()) {
		int pkey = pkey_alloc(0, 0);

		ASSERT_LT(0, pkey);
		EXPECT_EQ(-EBUSY, svh_attach(fd, n1, pkey, NULL));
	}
	ASSERT_EQ(0, svh_port_str(n1, "state", state, sizeof(state)));
	EXPECT_STREQ("ready", state);
	close(fd);
}

/* A copier file cannot create a port. */
TEST(copier_file_create_ebusy)
{
	char name[SVHOST_NAME_LEN], n2[SVHOST_NAME_LEN];
	int ofd, cfd, pkey;

	if (!svh_have_pku())
		SKIP(return, "CPU without protection keys");
	SVH_OPEN(ofd);
	SVH_OPEN(cfd);
	svh_name(name, "cpb");
	svh_name(n2, "cpb");
	ASSERT_EQ(0, svh_create(ofd, name, NULL));
	pkey = pkey_alloc(0, 0);
	ASSERT_LT(0, pkey);
	ASSERT_EQ(0, svh_attach(cfd, name, pkey, NULL));
	EXPECT_EQ(-EBUSY, svh_create(cfd, n2, NULL));
	EXPECT_FALSE(svh_port_exists(n2));
	EXPECT_EQ(-EBUSY, svh_attach(cfd, name, pkey, NULL));
	close(cfd);
	close(ofd);
}

TEST(create_efault)
{
	long long ports0, bytes0;
	struct svhost_port_create *ro;
	char name[SVHOST_NAME_LEN];
	int fd, ret;

	SVH_OPEN(fd);
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	EXPECT_EQ(-1, ioctl(fd, SVHOST_PORT_CREATE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, SVHOST_PORT_CREATE, (void *)1));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, SVHOST_COPIER_ATTACH, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, SVHOST_COPIER_ATTACH, (void *)-4096L));
	EXPECT_EQ(EFAULT, errno);

	/* readable but not writable: the layout cannot be written back */
	ro = mmap(NULL, SVH_PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	svh_name(name, "efault");
	svh_create_args(ro, name, SVH_DEF_QP, SVH_DEF_RING, SVH_DEF_BUF_SIZE,
			SVH_DEF_BUF_COUNT);
	ASSERT_EQ(0, mprotect(ro, SVH_PAGE, PROT_READ));
	ret = svh_create_raw(fd, ro);
	EXPECT_EQ(-EFAULT, ret);
	close(fd);
	munmap(ro, SVH_PAGE);
	EXPECT_BASELINE(ports0, bytes0);
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
}

/* Without CAP_NET_ADMIN (still uid 0) creation fails with EPERM. */
TEST(create_no_cap_net_admin)
{
	long long ports0, den0, den1;
	char name[SVHOST_NAME_LEN];
	pid_t pid;

	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(den0, "denials");
	svh_name(name, "nocap");
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct svhost_version v;
		int fd;

		CHILD_CHECK(svh_drop_cap(CAP_NET_ADMIN) == 0);
		CHILD_CHECK(geteuid() == 0);
		fd = svh_open();
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK(svh_version(fd, &v) == 0);
		CHILD_CHECK(svh_create(fd, name, NULL) == -EPERM);
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
	SVH_COUNTER(den1, "denials");
	EXPECT_EQ(den0 + 1, den1);
	EXPECT_EQ(ports0, svh_counter("ports_count"));
	EXPECT_FALSE(svh_port_exists(name));
}

/* A non-root user (no capabilities) gets EPERM. */
TEST(create_nonroot_eperm)
{
	char name[SVHOST_NAME_LEN];
	long long ports0;
	pid_t pid;

	SVH_COUNTER(ports0, "ports_count");
	svh_name(name, "nonroot");
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		CHILD_CHECK(svh_drop_to(SVH_NOBODY, SVH_NOBODY, 0, NULL) == 0);
		fd = svh_open();
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK(svh_create(fd, name, NULL) == -EPERM);
		/* and repeatedly so: no state was left behind */
		CHILD_CHECK(svh_create(fd, name, NULL) == -EPERM);
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_EQ(ports0, svh_counter("ports_count"));
	EXPECT_FALSE(svh_port_exists(name));
}

/*
 * Pool memory is charged to the creator's memory cgroup: over memory.max
 * creation fails with ENOMEM, under it memory.current grows by the pool and
 * shrinks again when the port goes away.
 */
TEST(create_memcg_enomem)
{
	char cg[96], path[160], ctl[256], name[SVHOST_NAME_LEN];
	long long ports0, bytes0;
	pid_t pid;

	if (svh_read_file("/sys/fs/cgroup/cgroup.controllers", ctl,
			  sizeof(ctl)) || !strstr(ctl, "memory"))
		SKIP(return, "no cgroup2 memory controller");
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	ASSERT_EQ(0, svh_write_file("/sys/fs/cgroup/cgroup.subtree_control",
				    "+memory"));
	snprintf(cg, sizeof(cg), "/sys/fs/cgroup/svhost-test-%d", getpid());
	ASSERT_EQ(0, mkdir(cg, 0755));
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	EXPECT_EQ(0, svh_write_file(path, "12M"));
	svh_name(name, "memcg");
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		long long before, during, after;
		int fd, fd2;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		CHILD_CHECK(svh_write_file(path, "0") == 0);
		snprintf(path, sizeof(path), "%s/memory.current", cg);
		fd = svh_open();
		fd2 = svh_open();
		CHILD_CHECK(fd >= 0 && fd2 >= 0);
		before = svh_read_ll(path);
		CHILD_CHECK(before >= 0);
		/* 16 MiB pool, 12 MiB cgroup */
		CHILD_CHECK(svh_create_geom(fd, name, 1, 64, 4096, 4096,
					    NULL) == -ENOMEM);
		CHILD_CHECK(!svh_port_exists(name));
		/* failed creation left nothing charged */
		CHILD_CHECK(svh_read_ll(path) < before + (1 << 20));
		CHILD_CHECK(svh_create(fd2, name, NULL) == 0);
		during = svh_read_ll(path);
		CHILD_CHECK(during >= before + (2 << 20));
		close(fd2);
		close(fd);
		after = svh_read_ll(path);
		CHILD_CHECK(after < before + (1 << 20));
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_EQ(0, rmdir(cg));
	EXPECT_EQ(0, svh_wait_counter("ports_count", ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", bytes0, 2000));
}

/* --- limits (module parameters, saved and restored) ------------------------ */

FIXTURE(limits) {
	struct svh_params saved;
	int fds[8];
	int nfds;
};

FIXTURE_SETUP(limits)
{
	ASSERT_EQ(0, svh_params_save(&self->saved));
}

FIXTURE_TEARDOWN(limits)
{
	int i;

	for (i = 0; i < self->nfds; i++)
		close(self->fds[i]);
	EXPECT_EQ(0, svh_params_restore(&self->saved));
}

/* Open a file that the fixture closes in its teardown. */
static int limits_open(struct __test_metadata *_metadata, int *fds, int *n)
{
	int fd;

	SVH_OPEN(fd);
	fds[(*n)++] = fd;
	return fd;
}

TEST_F(limits, max_ports)
{
	char name[SVHOST_NAME_LEN], val[32];
	long long ports0;
	int a, b, c;

	SVH_COUNTER(ports0, "ports_count");
	snprintf(val, sizeof(val), "%lld", ports0 + 2);
	ASSERT_EQ(0, svh_param_write("max_ports", val));
	a = limits_open(_metadata, self->fds, &self->nfds);
	b = limits_open(_metadata, self->fds, &self->nfds);
	c = limits_open(_metadata, self->fds, &self->nfds);
	svh_name(name, "mp");
	EXPECT_EQ(0, svh_create(a, name, NULL));
	svh_name(name, "mp");
	EXPECT_EQ(0, svh_create(b, name, NULL));
	svh_name(name, "mp");
	EXPECT_EQ(-ENOSPC, svh_create(c, name, NULL));
	EXPECT_FALSE(svh_port_exists(name));
	EXPECT_EQ(ports0 + 2, svh_counter("ports_count"));
	/* room again after one port goes away */
	close(a);
	self->fds[0] = -1;
	EXPECT_EQ(0, svh_create(c, name, NULL));
	/* and after raising the limit */
	snprintf(val, sizeof(val), "%lld", ports0 + 3);
	ASSERT_EQ(0, svh_param_write("max_ports", val));
	a = limits_open(_metadata, self->fds, &self->nfds);
	svh_name(name, "mp");
	EXPECT_EQ(0, svh_create(a, name, NULL));
}

TEST_F(limits, max_pool_mib)
{
	char name[SVHOST_NAME_LEN], val[32];
	long long bytes0, base;
	int a, b, c;

	SVH_COUNTER(bytes0, "pool_bytes");
	base = (bytes0 + SVH_MIB - 1) / SVH_MIB;
	/* room for two 2 MiB pools (with rings and headers), not three */
	snprintf(val, sizeof(val), "%lld", base + 5);
	ASSERT_EQ(0, svh_param_write("max_pool_mib", val));
	a = limits_open(_metadata, self->fds, &self->nfds);
	b = limits_open(_metadata, self->fds, &self->nfds);
	c = limits_open(_metadata, self->fds, &self->nfds);
	svh_name(name, "mpm");
	EXPECT_EQ(0, svh_create(a, name, NULL));
	svh_name(name, "mpm");
	EXPECT_EQ(0, svh_create(b, name, NULL));
	svh_name(name, "mpm");
	EXPECT_EQ(-ENOSPC, svh_create(c, name, NULL));
	EXPECT_FALSE(svh_port_exists(name));
	/* a 4 MiB pool does not fit either */
	EXPECT_EQ(-ENOSPC, svh_create_geom(c, name, 1, 64, 4096, 1024, NULL));
	snprintf(val, sizeof(val), "%lld", base + 7);
	ASSERT_EQ(0, svh_param_write("max_pool_mib", val));
	EXPECT_EQ(0, svh_create(c, name, NULL));
}

TEST_F(limits, max_port_pool_mib)
{
	char name[SVHOST_NAME_LEN];
	struct svhost_version v;
	struct svhost_layout lay;
	int a, b;

	memset(&lay, 0, sizeof(lay));
	ASSERT_EQ(0, svh_param_write("max_port_pool_mib", "4"));
	a = limits_open(_metadata, self->fds, &self->nfds);
	ASSERT_EQ(0, svh_version(a, &v));
	EXPECT_EQ(4ULL << 20, v.max_port_pool_bytes);
	svh_name(name, "mppm");
	/* 2048 * 2049 rounds up to 6 MiB */
	EXPECT_EQ(-E2BIG, svh_create_geom(a, name, 1, 64, 2048, 2049, NULL));
	EXPECT_EQ(-E2BIG, svh_create_geom(a, name, 1, 64, 65536, 65, NULL));
	/* a 4 MiB pool plus header page and rings is over 4 MiB */
	EXPECT_EQ(-E2BIG, svh_create_geom(a, name, 1, 64, 2048, 2048, NULL));
	EXPECT_FALSE(svh_port_exists(name));
	EXPECT_EQ(0, svh_create_geom(a, name, 1, 64, 2048, 1024, &lay));
	EXPECT_EQ(2ULL << 20, lay.pool_size);
	b = limits_open(_metadata, self->fds, &self->nfds);
	ASSERT_EQ(0, svh_param_write("max_port_pool_mib", "2"));
	ASSERT_EQ(0, svh_version(b, &v));
	EXPECT_EQ(2ULL << 20, v.max_port_pool_bytes);
	svh_name(name, "mppm");
	EXPECT_EQ(-E2BIG, svh_create_geom(b, name, 1, 64, 2048, 1024, NULL));
	ASSERT_EQ(0, svh_param_write("max_port_pool_mib", "3"));
	EXPECT_EQ(0, svh_create_geom(b, name, 1, 64, 2048, 1024, NULL));
}

/* --- attach argument checks ------------------------------------------------- */

TEST(attach_bad_args)
{
	static const char * const bad[] = {
		"", ".", "..", "a/b", "a b", "a\nb", "\xc3\xa4", "\xff",
		"a\xe9",
	};
	struct svhost_copier_attach a;
	char name[SVHOST_NAME_LEN], state[32], esc[160];
	long long att0;
	unsigned int i;
	int ofd, cfd, pkey, ret;

	if (!svh_have_pku())
		SKIP(return, "CPU without protection keys");
	SVH_OPEN(ofd);
	SVH_OPEN(cfd);
	svh_name(name, "abad");
	ASSERT_EQ(0, svh_create(ofd, name, NULL));
	pkey = pkey_alloc(0, 0);
	ASSERT_LT(0, pkey);
	SVH_COUNTER(att0, "attaches");

	memset(&a, 0, sizeof(a));
	a.pkey = pkey;
	strcpy(a.name, name);
	a.flags = 1;
	EXPECT_EQ(-EINVAL, svh_attach_raw(cfd, &a));
	a.flags = 0x80000000U;
	EXPECT_EQ(-EINVAL, svh_attach_raw(cfd, &a));
	a.flags = 0;
	memset(a.name, 'a', sizeof(a.name));
	EXPECT_EQ(-EINVAL, svh_attach_raw(cfd, &a));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = svh_attach(cfd, bad[i], pkey, NULL);
		EXPECT_EQ(-EINVAL, ret)
			TH_LOG("name \"%s\": %s",
			       svh_escape(bad[i], 32, esc, sizeof(esc)),
			       ret ? strerror(-ret) : "attached");
	}
	EXPECT_EQ(-ENOENT, svh_attach(cfd, "no-such-port", pkey, NULL));
	svh_name(a.name, "nope");
	EXPECT_EQ(-ENOENT, svh_attach(cfd, a.name, pkey, NULL));
	EXPECT_EQ(att0, svh_counter("attaches"));
	ASSERT_EQ(0, svh_port_str(name, "state", state, sizeof(state)));
	EXPECT_STREQ("ready", state);
	/* the file is still unbound and can attach for real */
	EXPECT_EQ(0, svh_attach(cfd, name, pkey, NULL));
	EXPECT_EQ(att0 + 1, svh_counter("attaches"));
	close(cfd);
	close(ofd);
}

/* reserved is an input field that must be zero, like flags. */
TEST(attach_reserved_nonzero_einval)
{
	static const __u32 bad[] = { 1, 2, 0x100, 0x80000000U, 0xffffffffU };
	struct svhost_copier_attach a;
	const struct svhost_shm_header *h;
	char name[SVHOST_NAME_LEN];
	struct svhost_layout lay;
	long long inval0;
	unsigned int i;
	int ofd, cfd, pkey;
	__u32 gen;

	SVH_NEED_PKU();
	SVH_OPEN(ofd);
	SVH_OPEN(cfd);
	svh_name(name, "rsv");
	ASSERT_EQ(0, svh_create(ofd, name, &lay));
	h = svh_map(ofd, 0, lay.header_size, PROT_READ);
	ASSERT_NE(MAP_FAILED, h);
	pkey = pkey_alloc(0, 0);
	ASSERT_LT(0, pkey);
	gen = h->generation;
	SVH_COUNTER(inval0, "invalid_requests");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&a, 0, sizeof(a));
		a.pkey = pkey;
		strcpy(a.name, name);
		a.reserved = bad[i];
		EXPECT_EQ(-EINVAL, svh_attach_raw(cfd, &a))
			TH_LOG("reserved %#x accepted", bad[i]);
	}
	EXPECT_EQ(inval0 + (long long)ARRAY_SIZE(bad),
		  svh_counter("invalid_requests"));
	EXPECT_EQ(gen, h->generation);
	EXPECT_EQ(0, svh_port_ll(name, "attaches"));
	/* zero is accepted on the same file */
	EXPECT_EQ(0, svh_attach(cfd, name, pkey, NULL));
	munmap((void *)h, lay.header_size);
	close(cfd);
	close(ofd);
}

/* Binding a file needs O_RDWR: rings and pool are mapped read-write. */
TEST(open_not_rdwr_ebadf)
{
	static const int modes[] = { O_RDONLY, O_WRONLY };
	char name[SVHOST_NAME_LEN], n2[SVHOST_NAME_LEN];
	long long ports0, inval0;
	unsigned int i;
	int ofd, fd, pkey;

	SVH_OPEN(ofd);
	svh_name(name, "rdwr");
	ASSERT_EQ(0, svh_create(ofd, name, NULL));
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(inval0, "invalid_requests");
	pkey = svh_have_pku() ? pkey_alloc(0, 0) : -1;
	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		fd = open(SVH_DEV, modes[i] | O_CLOEXEC);
		ASSERT_LE(0, fd);
		svh_name(n2, "rdwr");
		EXPECT_EQ(-EBADF, svh_create(fd, n2, NULL));
		EXPECT_FALSE(svh_port_exists(n2));
		EXPECT_EQ(-EBADF, svh_attach(fd, name, pkey, NULL));
		close(fd);
	}
	EXPECT_EQ(inval0 + 4, svh_counter("invalid_requests"));
	EXPECT_EQ(ports0, svh_counter("ports_count"));
	EXPECT_EQ(0, svh_port_ll(name, "attaches"));
	close(ofd);
}

struct create_call {
	int fd;
	struct svhost_port_create *c;
	int ret;
};

static void *create_thread(void *arg)
{
	struct create_call *cc = arg;

	cc->ret = svh_create_raw(cc->fd, cc->c);
	return NULL;
}

/*
 * A port becomes visible only when its creation can no longer fail: while
 * SVHOST_PORT_CREATE writes its result back (held here with userfaultfd)
 * nobody can attach to it, and if that write fails it never existed.
 */
static void create_held(struct __test_metadata *_metadata, bool fail_copy)
{
	long long ports0, bytes0;
	struct svhost_port_create req;
	char name[SVHOST_NAME_LEN];
	struct create_call cc;
	struct svh_uffd u;
	pthread_t th;
	int fd, cfd, pkey;

	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	SVH_OPEN(fd);
	SVH_OPEN(cfd);
	pkey = svh_have_pku() ? pkey_alloc(0, 0) : -1;
	svh_name(name, "held");
	svh_create_args(&req, name, SVH_DEF_QP, SVH_DEF_RING,
			SVH_DEF_BUF_SIZE, SVH_DEF_BUF_COUNT);
	ASSERT_EQ(0, svh_uffd_protect(&u, &req, sizeof(req)));
	cc.fd = fd;
	cc.c = u.page;
	cc.ret = 1;
	ASSERT_EQ(0, pthread_create(&th, NULL, create_thread, &cc));
	ASSERT_EQ(0, svh_uffd_wait(&u, 20000));
	EXPECT_FALSE(svh_port_exists(name));
	EXPECT_EQ(-ENOENT, svh_attach(cfd, name, pkey, NULL));
	ASSERT_EQ(0, svh_uffd_release(&u, fail_copy));
	pthread_join(th, NULL);
	if (fail_copy) {
		EXPECT_EQ(-EFAULT, cc.ret);
		EXPECT_FALSE(svh_port_exists(name));
		EXPECT_EQ(ports0, svh_counter("ports_count"));
		EXPECT_EQ(bytes0, svh_counter("pool_bytes"));
		/* the file is still unbound and the name free */
		EXPECT_EQ(0, svh_create(fd, name, NULL));
	} else {
		EXPECT_EQ(0, cc.ret);
		EXPECT_TRUE(svh_port_exists(name));
	}
	if (svh_have_pku())
		EXPECT_EQ(0, svh_attach(cfd, name, pkey, NULL));
	close(cfd);
	close(fd);
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
}

TEST(create_unpublished_until_done_copy_fails)
{
	create_held(_metadata, true);
}

TEST(create_unpublished_until_done_copy_completes)
{
	create_held(_metadata, false);
}

/* A refused attach leaves the header alone. */
TEST(failed_attach_keeps_generation)
{
	const struct svh_cred nobody = {
		.drop = true, .uid = SVH_NOBODY, .gid = SVH_NOBODY,
	};
	struct svh_owner o;
	struct svh_child ch;
	__u32 gen;
	int fd;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_owner_setup(&o, "fgen"));
	gen = ((struct svhost_shm_header *)o.hdr)->generation;
	ASSERT_EQ(0, svh_child_copier(&ch, o.name, &nobody, false));
	EXPECT_EQ(EPERM, ch.err);
	svh_child_end(&ch);
	SVH_OPEN(fd);
	EXPECT_EQ(-EINVAL, svh_attach(fd, o.name, 0, NULL));
	EXPECT_EQ(-ENOKEY, svh_attach(fd, o.name, 15, NULL));
	close(fd);
	EXPECT_EQ(gen, ((struct svhost_shm_header *)o.hdr)->generation);
	EXPECT_EQ((__u32)SVHOST_STATE_READY,
		  ((struct svhost_shm_header *)o.hdr)->state);
	svh_owner_close(&o);
}

TEST(invalid_requests_counted)
{
	long long inval0, inval1, den0, den1;
	struct svhost_port_create c;
	char name[SVHOST_NAME_LEN];
	int fd;

	SVH_OPEN(fd);
	svh_name(name, "inv");
	SVH_COUNTER(inval0, "invalid_requests");
	SVH_COUNTER(den0, "denials");
	svh_create_args(&c, name, 1, 64, 2048, 1024);
	c.flags = 2;
	EXPECT_EQ(-EINVAL, svh_create_raw(fd, &c));
	SVH_COUNTER(inval1, "invalid_requests");
	SVH_COUNTER(den1, "denials");
	EXPECT_EQ(inval0 + 1, inval1);
	EXPECT_EQ(den0, den1);
	c.flags = 0;
	c.ring_size = 96;
	EXPECT_EQ(-EINVAL, svh_create_raw(fd, &c));
	EXPECT_EQ(inval0 + 2, svh_counter("invalid_requests"));
	close(fd);
}

TEST_HARNESS_MAIN
