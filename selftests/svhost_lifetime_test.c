// SPDX-License-Identifier: GPL-2.0
/*
 * Port lifetime: per-port sysfs values and state transitions, revocation
 * through sysfs "revoke" (the copier keeps running on its scratch page),
 * the owner or the copier dying while mapped, the attach/revoke race, the
 * order of header stores, and every close order, each ending with the
 * global counters at baseline.
 */
#include "kselftest_harness.h"
#include "svhost_util.h"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

FIXTURE(life) {
	struct svh_owner o;
	struct svh_copier c, c2;
	struct svh_child ch;
	long long ports0, bytes0;
};

FIXTURE_SETUP(life)
{
	int ret;

	self->c.fd = self->c2.fd = -1;
	self->ch.pid = -1;
	SVH_COUNTER(self->ports0, "ports_count");
	SVH_COUNTER(self->bytes0, "pool_bytes");
	ret = svh_owner_setup(&self->o, "life");
	ASSERT_EQ(0, ret) TH_LOG("owner setup: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(life)
{
	if (self->ch.pid > 0)
		svh_child_kill(&self->ch);
	svh_copier_stop(&self->c);
	svh_copier_stop(&self->c2);
	svh_owner_close(&self->o);
	/* a revocation leaves a withdrawn grant behind */
	EXPECT_EQ(0, svh_grant_remove(self->o.name));
	EXPECT_EQ(0, svh_wait_counter("ports_count", self->ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", self->bytes0, 2000));
}

static const struct svhost_shm_header *hdr_of(const struct svh_owner *o)
{
	return o->hdr;
}

#define ohdr(self)	hdr_of(&(self)->o)

static void port_str(struct __test_metadata *_metadata, const char *port,
		     const char *attr, char *buf, size_t len)
{
	ASSERT_EQ(0, svh_port_str(port, attr, buf, len))
		TH_LOG("read %s/%s", port, attr);
}

/* Header fields as seen through the copier's own header mapping. */
static int copier_hdr(struct svh_copier *c, void *arg)
{
	const struct svhost_shm_header *h = c->hdr;
	__u32 *out = arg;

	out[0] = h->state;
	out[1] = h->reason;
	out[2] = h->generation;
	out[3] = h->magic;
	return 0;
}

static int copier_touch(struct svh_copier *c, void *arg)
{
	struct svh_fault *f = arg;

	return svh_probe_read(c->pool, NULL, f);
}

static int copier_touch_rings(struct svh_copier *c, void *arg)
{
	struct svh_fault *f = arg;

	return svh_probe_write(c->rings, 0, f);
}

static int copier_fill(struct svh_copier *c, void *arg)
{
	svh_fill(c->pool, c->lay.pool_size, (uintptr_t)arg);
	return 0;
}

static int copier_verify(struct svh_copier *c, void *arg)
{
	return svh_check(c->pool, c->lay.pool_size, (uintptr_t)arg) >= 0;
}

/*
 * A copier that lost the port: no signal, pool and rings read zero.
 * Returns 0 or which check failed.
 */
static int copier_sees_zeros(struct svh_copier *c, void *arg)
{
	struct svh_fault f;

	(void)arg;
	if (svh_probe_read(c->pool, NULL, &f) ||
	    svh_probe_read(c->rings, NULL, &f))
		return 1;
	if (svh_nonzero(c->pool, c->lay.pool_size) >= 0)
		return 2;
	if (svh_nonzero(c->rings, c->lay.rings_size) >= 0)
		return 3;
	return 0;
}

/*
 * ... and its writes all land in one scratch page: a byte written at the
 * start of the pool shows at the end of the pool and in the rings.
 */
static int copier_scratch_alias(struct svh_copier *c, void *arg)
{
	volatile __u8 *pool = c->pool, *rings = c->rings;
	__u8 v = (__u8)(uintptr_t)arg;

	if (svh_probe_write(pool, v, NULL))
		return 1;
	if (pool[c->lay.pool_size - SVH_PAGE] != v)
		return 2;
	if (rings[0] != v || rings[c->lay.rings_size - SVH_PAGE] != v)
		return 3;
	return 0;
}

static int copier_mmap_pool(struct svh_copier *c, void *arg)
{
	void *p;

	(void)arg;
	p = svh_map(c->fd, c->lay.pool_offset, c->lay.pool_size,
		    PROT_READ | PROT_WRITE);
	if (p == MAP_FAILED)
		return errno;
	munmap(p, c->lay.pool_size);
	return 0;
}

static int copier_mmap_rings(struct svh_copier *c, void *arg)
{
	void *p;

	(void)arg;
	p = svh_map(c->fd, c->lay.rings_offset, c->lay.rings_size,
		    PROT_READ | PROT_WRITE);
	if (p == MAP_FAILED)
		return errno;
	munmap(p, c->lay.rings_size);
	return 0;
}

TEST_F(life, sysfs_port_values)
{
	char buf[64], comm[32];

	EXPECT_EQ(getpid(), svh_port_ll(self->o.name, "owner_pid"));
	port_str(_metadata, self->o.name, "owner_comm", buf, sizeof(buf));
	ASSERT_EQ(0, svh_read_file("/proc/self/comm", comm, sizeof(comm)));
	EXPECT_STREQ(comm, buf);
	port_str(_metadata, self->o.name, "state", buf, sizeof(buf));
	EXPECT_STREQ("ready", buf);
	EXPECT_EQ(SVH_DEF_QP, svh_port_ll(self->o.name, "queue_pairs"));
	EXPECT_EQ(SVH_DEF_RING, svh_port_ll(self->o.name, "ring_size"));
	EXPECT_EQ(SVH_DEF_BUF_SIZE, svh_port_ll(self->o.name, "buf_size"));
	EXPECT_EQ(SVH_DEF_BUF_COUNT, svh_port_ll(self->o.name, "buf_count"));
	EXPECT_EQ(2 << 20, svh_port_ll(self->o.name, "pool_bytes"));
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_pid"));
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_tid"));
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_uid"));
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_pkey"));
	port_str(_metadata, self->o.name, "copier_comm", buf, sizeof(buf));
	EXPECT_STREQ("", buf);
	EXPECT_EQ(0, svh_port_ll(self->o.name, "attaches"));
	EXPECT_EQ(0, svh_port_ll(self->o.name, "denials"));
	EXPECT_EQ(0, svh_port_ll(self->o.name, "revocations"));
}

/* ready -> attached -> revoked -> attached (new file) -> ready */
TEST_F(life, state_transitions)
{
	__u32 g0, g1, g2, g3, hv[4];
	struct svh_fault f;
	char st[32];

	SVH_NEED_PKU();
	g0 = ohdr(self)->generation;
	EXPECT_EQ((__u32)SVHOST_STATE_READY, ohdr(self)->state);

	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	port_str(_metadata, self->o.name, "state", st, sizeof(st));
	EXPECT_STREQ("attached", st);
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED, ohdr(self)->state);
	g1 = ohdr(self)->generation;
	EXPECT_LT(g0, g1);

	ASSERT_EQ(0, svh_port_write(self->o.name, "revoke", "1"));
	port_str(_metadata, self->o.name, "state", st, sizeof(st));
	EXPECT_STREQ("revoked", st);
	EXPECT_EQ((__u32)SVHOST_STATE_REVOKED, ohdr(self)->state);
	EXPECT_EQ((__u32)SVHOST_REASON_ADMIN, ohdr(self)->reason);
	g2 = ohdr(self)->generation;
	EXPECT_LT(g1, g2);

	/* after a new grant, a new file (same process, new key) attaches */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0"));
	ASSERT_EQ(0, svh_copier_start(&self->c2, self->o.name))
		TH_LOG("re-attach: %s", self->c2.step);
	port_str(_metadata, self->o.name, "state", st, sizeof(st));
	EXPECT_STREQ("attached", st);
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED, ohdr(self)->state);
	g3 = ohdr(self)->generation;
	EXPECT_LT(g2, g3);
	EXPECT_EQ(self->c2.w.tid, svh_port_ll(self->o.name, "copier_tid"));
	EXPECT_EQ(self->c2.pkey, svh_port_ll(self->o.name, "copier_pkey"));
	EXPECT_EQ(2, svh_port_ll(self->o.name, "attaches"));

	/* the revoked file's mappings show its scratch page, not the pool */
	EXPECT_EQ(0, svh_copier_call(&self->c, copier_touch, &f));
	EXPECT_EQ(0, svh_copier_call(&self->c, copier_sees_zeros, NULL));

	/* closing the revoked file does not disturb the new copier */
	svh_copier_stop(&self->c);
	EXPECT_EQ(0, svh_copier_call(&self->c2, copier_touch, &f));
	port_str(_metadata, self->o.name, "state", st, sizeof(st));
	EXPECT_STREQ("attached", st);
	ASSERT_EQ(0, svh_copier_call(&self->c2, copier_hdr, hv));
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED, hv[0]);

	svh_copier_stop(&self->c2);
	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "ready", 2000));
	EXPECT_EQ((__u32)SVHOST_STATE_READY, ohdr(self)->state);
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_pid"));
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_pkey"));
	EXPECT_LE(g3, ohdr(self)->generation);
}

/*
 * After a revocation the copier keeps running: no signal, its pool and
 * rings read zero, its writes land in its scratch page and never in the
 * owner's pool; its header says why.
 */
TEST_F(life, revoke_scratch_page)
{
	long long rev0;
	__u32 hv[4], gen;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	ASSERT_EQ(0, svh_copier_call(&self->c, copier_fill, (void *)51));
	ASSERT_EQ(0, svh_copier_call(&self->c, copier_hdr, hv));
	gen = hv[2];
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED, hv[0]);
	SVH_COUNTER(rev0, "revocations");

	ASSERT_EQ(0, svh_port_write(self->o.name, "revoke", "1\n"));
	EXPECT_EQ(rev0 + 1, svh_counter("revocations"));
	EXPECT_EQ(1, svh_port_ll(self->o.name, "revocations"));

	EXPECT_EQ(0, svh_copier_call(&self->c, copier_sees_zeros, NULL));
	EXPECT_EQ(0, svh_copier_call(&self->c, copier_fill, (void *)53));
	EXPECT_EQ(0, svh_copier_call(&self->c, copier_scratch_alias,
				     (void *)0xa5));
	/* the owner's pool still holds what the copier wrote before */
	EXPECT_EQ(-1, svh_check(self->o.pool, self->o.lay.pool_size, 51));
	EXPECT_EQ(-1, svh_nonzero(self->o.rings, self->o.lay.rings_size));
	ASSERT_EQ(0, svh_copier_call(&self->c, copier_hdr, hv));
	EXPECT_EQ((__u32)SVHOST_SHM_MAGIC, hv[3]);
	EXPECT_EQ((__u32)SVHOST_STATE_REVOKED, hv[0]);
	EXPECT_EQ((__u32)SVHOST_REASON_ADMIN, hv[1]);
	EXPECT_EQ(gen + 1, hv[2]);
	/* the owner keeps its memory */
	svh_fill(self->o.pool, SVH_PAGE, 52);
	EXPECT_EQ(-1, svh_check(self->o.pool, SVH_PAGE, 52));
}

struct busy {
	unsigned long loops;
};

#define BUSY_MARK	0xdeadbeefcafef00dULL

/*
 * Copy packets in a loop, checking the header every 256 stores like a PD
 * checks it once per batch; once the generation moves on, store a marker
 * over the whole pool and stop.  Bounded to 20 s.
 */
static int copier_busy(struct svh_copier *c, void *arg)
{
	const struct svhost_shm_header *h = c->hdr;
	__u32 gen = __atomic_load_n(&h->generation, __ATOMIC_ACQUIRE);
	volatile __u64 *p = c->pool;
	size_t n = c->lay.pool_size / 8, i;
	time_t end = time(NULL) + 20;
	struct busy *b = arg;
	struct svh_fault f;
	int sig;

	for (b->loops = 0;; b->loops++) {
		sig = svh_probe_write(&p[(b->loops * 509) % n],
				      (__u8)b->loops, &f);
		if (sig)
			return sig;
		if (b->loops & 255)
			continue;
		if (__atomic_load_n(&h->generation, __ATOMIC_ACQUIRE) != gen)
			break;
		if (time(NULL) > end)
			return -ETIMEDOUT;
	}
	for (i = 0; i < n; i++)
		p[i] = BUSY_MARK;
	return 0;
}

static void *revoke_later(void *arg)
{
	const char *name = arg;

	usleep(50000);
	return (void *)(long)svh_port_write(name, "revoke", "1");
}

/* Revocation while the copier is busy in its pool: it notices, unharmed. */
TEST_F(life, revoke_while_busy)
{
	struct busy b;
	pthread_t th;
	size_t i, n;
	void *ret;
	int rc;

	SVH_NEED_PKU();
	memset(&b, 0, sizeof(b));
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	ASSERT_EQ(0, pthread_create(&th, NULL, revoke_later, self->o.name));
	rc = svh_copier_call(&self->c, copier_busy, &b);
	pthread_join(th, &ret);
	EXPECT_EQ(0, (long)ret);
	EXPECT_EQ(0, rc) TH_LOG("%lu loops, then %s", b.loops,
				rc > 0 ? strsignal(rc) : "timeout");
	EXPECT_LT(0UL, b.loops);
	EXPECT_EQ((__u32)SVHOST_STATE_REVOKED, ohdr(self)->state);
	EXPECT_EQ((__u32)SVHOST_REASON_ADMIN, ohdr(self)->reason);
	/* nothing written after the revocation reached the pool */
	n = self->o.lay.pool_size / 8;
	for (i = 0; i < n; i++)
		if (((volatile __u64 *)self->o.pool)[i] == BUSY_MARK)
			break;
	EXPECT_EQ(n, i);
}

TEST_F(life, revoked_file_mmap_eacces)
{
	long long den0;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	ASSERT_EQ(0, svh_port_write(self->o.name, "revoke", "1"));
	SVH_COUNTER(den0, "denials");
	EXPECT_EQ(EACCES, svh_copier_call(&self->c, copier_mmap_pool, NULL));
	EXPECT_EQ(EACCES, svh_copier_call(&self->c, copier_mmap_rings, NULL));
	EXPECT_EQ(den0 + 2, svh_counter("denials"));
	/* the revoked file cannot attach again: close it and attach anew */
	EXPECT_EQ(-EBUSY, svh_attach(self->c.fd, self->o.name, self->c.pkey,
				     NULL));
}

TEST_F(life, revoke_without_copier_enoent)
{
	long long rev0;

	SVH_NEED_PKU();
	SVH_COUNTER(rev0, "revocations");
	EXPECT_EQ(-ENOENT, svh_port_write(self->o.name, "revoke", "1"));
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	ASSERT_EQ(0, svh_port_write(self->o.name, "revoke", "1"));
	/* already revoked: no copier attached any more */
	EXPECT_EQ(-ENOENT, svh_port_write(self->o.name, "revoke", "1"));
	svh_copier_stop(&self->c);
	EXPECT_EQ(-ENOENT, svh_port_write(self->o.name, "revoke", "1"));
	EXPECT_EQ(rev0 + 1, svh_counter("revocations"));
}

TEST_F(life, revoke_bad_value_einval)
{
	static const char * const bad[] = {
		"0", "2", "11", "yes", "-1", "\n", " ", "1 1", "0x1",
	};
	long long inval0, rev0;
	struct svh_fault f;
	unsigned int i;
	char st[32];
	int ret;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	SVH_COUNTER(inval0, "invalid_requests");
	SVH_COUNTER(rev0, "revocations");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = svh_port_write(self->o.name, "revoke", bad[i]);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("revoke \"%s\": %d", bad[i], ret);
	}
	EXPECT_EQ(inval0 + (long long)ARRAY_SIZE(bad),
		  svh_counter("invalid_requests"));
	EXPECT_EQ(rev0, svh_counter("revocations"));
	port_str(_metadata, self->o.name, "state", st, sizeof(st));
	EXPECT_STREQ("attached", st);
	EXPECT_EQ(0, svh_copier_call(&self->c, copier_touch, &f));
}

TEST_F(life, revoke_nonroot_refused)
{
	char path[160];
	struct svh_fault f;
	pid_t pid;
	int ret;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	snprintf(path, sizeof(path), SVH_SYSFS "/ports/%s/revoke",
		 self->o.name);
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(svh_drop_to(SVH_NOBODY, SVH_NOBODY, 0, NULL) == 0);
		ret = svh_write_file(path, "1");
		CHILD_CHECK(ret == -EACCES || ret == -EPERM);
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_EQ(0, svh_copier_call(&self->c, copier_touch, &f));
	EXPECT_EQ(0, svh_port_ll(self->o.name, "revocations"));
}

/* --- the attach/revoke race ------------------------------------------------- */

struct attach_call {
	int fd;
	struct svhost_copier_attach *a;
	int ret;
};

static void *attach_thread(void *arg)
{
	struct attach_call *ac = arg;

	ac->ret = svh_attach_raw(ac->fd, ac->a);
	return NULL;
}

/*
 * Hold an attach inside its copy_to_user() (userfaultfd write-protect),
 * revoke in that window, then let the copy fail (EFAULT) or complete.
 * The attach fails, the port is as before, and a retry on the same file
 * gives a real attachment whose mappings work.
 */
static void revoke_during_attach(struct __test_metadata *_metadata,
				 struct svh_owner *o, bool fail_copy)
{
	const struct svhost_shm_header *h = o->hdr;
	struct svhost_copier_attach req;
	struct svhost_layout lay;
	struct attach_call ac;
	struct svh_uffd u;
	long long rev0;
	int fd, fd2, pkey;
	pthread_t th;
	char st[32];
	__u32 g0;
	void *p;

	pkey = pkey_alloc(0, 0);
	ASSERT_LT(0, pkey);
	SVH_OPEN(fd);
	SVH_OPEN(fd2);
	memset(&req, 0, sizeof(req));
	req.pkey = pkey;
	strcpy(req.name, o->name);
	ASSERT_EQ(0, svh_uffd_protect(&u, &req, sizeof(req)))
		TH_LOG("userfaultfd: cannot write-protect a page");
	g0 = h->generation;
	SVH_COUNTER(rev0, "revocations");

	ac.fd = fd;
	ac.a = u.page;
	ac.ret = 1;
	ASSERT_EQ(0, pthread_create(&th, NULL, attach_thread, &ac));
	ASSERT_EQ(0, svh_uffd_wait(&u, 20000));
	/* reserved, not attached: header unchanged, others get EBUSY */
	EXPECT_EQ(g0, h->generation);
	EXPECT_EQ((__u32)SVHOST_STATE_READY, h->state);
	EXPECT_EQ(-1, svh_port_ll(o->name, "copier_pid"));
	EXPECT_EQ(-EBUSY, svh_attach(fd2, o->name, pkey, NULL));
	ASSERT_EQ(0, svh_port_write(o->name, "revoke", "1"));
	EXPECT_EQ(rev0 + 1, svh_counter("revocations"));
	ASSERT_EQ(0, svh_uffd_release(&u, fail_copy));
	pthread_join(th, NULL);
	EXPECT_EQ(fail_copy ? -EFAULT : -EPERM, ac.ret);

	/* nothing happened to the port */
	EXPECT_EQ(g0, h->generation);
	EXPECT_EQ((__u32)SVHOST_STATE_READY, h->state);
	ASSERT_EQ(0, svh_port_str(o->name, "state", st, sizeof(st)));
	EXPECT_STREQ("ready", st);
	EXPECT_EQ(0, svh_port_ll(o->name, "attaches"));

	/* the revocation withdrew the grant: a retry is refused */
	EXPECT_EQ(-EPERM, svh_attach(fd, o->name, pkey, &lay));
	EXPECT_EQ(g0, h->generation);
	/* after a new grant a retry on the same file attaches for real */
	ASSERT_EQ(0, svh_grant_set(o->name, "uids", "0"));
	ASSERT_EQ(0, svh_attach(fd, o->name, pkey, &lay));
	EXPECT_EQ(g0 + 1, h->generation);
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED, h->state);
	p = svh_map(fd, lay.pool_offset, lay.pool_size, PROT_READ | PROT_WRITE);
	EXPECT_NE(MAP_FAILED, p) TH_LOG("pool mmap after retry: %s",
					strerror(errno));
	if (p != MAP_FAILED)
		munmap(p, lay.pool_size);
	p = svh_map(fd, lay.rings_offset, lay.rings_size,
		    PROT_READ | PROT_WRITE);
	EXPECT_NE(MAP_FAILED, p);
	if (p != MAP_FAILED)
		munmap(p, lay.rings_size);
	close(fd2);
	close(fd);
	pkey_free(pkey);
}

TEST_F(life, revoke_during_attach_copy_fails)
{
	SVH_NEED_PKU();
	revoke_during_attach(_metadata, &self->o, true);
}

TEST_F(life, revoke_during_attach_copy_completes)
{
	SVH_NEED_PKU();
	revoke_during_attach(_metadata, &self->o, false);
}

/* --- header store order ---------------------------------------------------- */

struct hdr_reader {
	const struct svhost_shm_header *h;
	__u32 g0;
	volatile bool stop;
	unsigned long reads, checked, bad;
	__u32 bad_gen, bad_gen2, bad_state, bad_reason;
};

#define ORDER_PERIOD	6

/*
 * State and reason the writer loop below stores with generation g: from
 * g0 on, attach, admin revoke, attach, copier leaves, attach, ACL revoke,
 * again and again.
 */
static void hdr_expect(__u32 g0, __u32 g, __u32 *state, __u32 *reason)
{
	static const __u32 cycle[ORDER_PERIOD][2] = {
		{ SVHOST_STATE_ATTACHED, SVHOST_REASON_NONE },
		{ SVHOST_STATE_REVOKED, SVHOST_REASON_ADMIN },
		{ SVHOST_STATE_ATTACHED, SVHOST_REASON_NONE },
		{ SVHOST_STATE_READY, SVHOST_REASON_NONE },
		{ SVHOST_STATE_ATTACHED, SVHOST_REASON_NONE },
		{ SVHOST_STATE_REVOKED, SVHOST_REASON_ACL },
	};

	if (g == g0) {
		*state = SVHOST_STATE_READY;
		*reason = SVHOST_REASON_NONE;
		return;
	}
	*state = cycle[(g - g0 - 1) % ORDER_PERIOD][0];
	*reason = cycle[(g - g0 - 1) % ORDER_PERIOD][1];
}

/* Keep reader and writer on different CPUs, if there are two. */
static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Read as documented: generation (acquire), then state and reason; then
 * generation again.  Each field must hold the value of a generation from
 * the first one read up to one more than the second (a change being
 * written), never an older one.
 */
static void *hdr_reader_main(void *arg)
{
	struct hdr_reader *r = arg;
	__u32 g1, g2, s, rs, x, es, er;
	bool s_ok, r_ok;

	pin_to_cpu(1);
	while (!r->stop) {
		g1 = __atomic_load_n(&r->h->generation, __ATOMIC_ACQUIRE);
		s = __atomic_load_n(&r->h->state, __ATOMIC_RELAXED);
		rs = __atomic_load_n(&r->h->reason, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		g2 = __atomic_load_n(&r->h->generation, __ATOMIC_ACQUIRE);
		r->reads++;
		if (g2 - g1 >= ORDER_PERIOD - 1)
			continue;	/* too slow to tell anything */
		r->checked++;
		s_ok = r_ok = false;
		for (x = g1; x != g2 + 2; x++) {
			hdr_expect(r->g0, x, &es, &er);
			s_ok |= s == es;
			r_ok |= rs == er;
		}
		if (s_ok && r_ok)
			continue;
		if (!r->bad++) {
			r->bad_gen = g1;
			r->bad_gen2 = g2;
			r->bad_state = s;
			r->bad_reason = rs;
		}
	}
	return NULL;
}

/*
 * At most ORDER_CYCLES cycles, and no longer than ORDER_BUDGET_S seconds:
 * a debug kernel (KASAN, lockdep) under TCG manages a few dozen cycles a
 * second, well inside the harness's 30 s per test; a native one all of
 * them in under a second.
 */
#define ORDER_CYCLES	1000
#define ORDER_BUDGET_S	10

/*
 * A reader racing attach/revoke loops never sees a generation together
 * with an older state or reason.
 */
TEST_F(life, header_store_order)
{
	struct hdr_reader r;
	pthread_t th;
	struct timespec t0, t;
	int i, fd, pkey;

	SVH_NEED_PKU();
	pkey = pkey_alloc(0, 0);
	ASSERT_LT(0, pkey);
	memset(&r, 0, sizeof(r));
	r.h = ohdr(self);
	r.g0 = r.h->generation;
	ASSERT_EQ((__u32)SVHOST_STATE_READY, r.h->state);
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0"));
	ASSERT_EQ(0, pthread_create(&th, NULL, hdr_reader_main, &r));
	pin_to_cpu(0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < ORDER_CYCLES; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= ORDER_BUDGET_S)
			break;
		SVH_OPEN(fd);
		ASSERT_EQ(0, svh_attach(fd, self->o.name, pkey, NULL));
		ASSERT_EQ(0, svh_port_write(self->o.name, "revoke", "1"));
		close(fd);
		ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0"));
		SVH_OPEN(fd);
		ASSERT_EQ(0, svh_attach(fd, self->o.name, pkey, NULL));
		close(fd);
		SVH_OPEN(fd);
		ASSERT_EQ(0, svh_attach(fd, self->o.name, pkey, NULL));
		ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "5"));
		ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0"));
		close(fd);
	}
	r.stop = true;
	pthread_join(th, NULL);
	EXPECT_EQ(r.g0 + ORDER_PERIOD * i, r.h->generation);
	EXPECT_EQ(0UL, r.bad)
		TH_LOG("%lu of %lu reads inconsistent, first: generation %u..%u with state %u reason %u",
		       r.bad, r.checked, r.bad_gen, r.bad_gen2, r.bad_state,
		       r.bad_reason);
	EXPECT_LT(0UL, r.checked);
	TH_LOG("%d cycles, %lu reads, %lu checked", i, r.reads, r.checked);
	pkey_free(pkey);
}

/* --- the copier's process exits while its file lives on ------------------ */

/*
 * The parent holds the file a child attached through: when the child
 * exits, the port is free again although the file is still open.
 */
TEST_F(life, copier_exit_detaches_inherited_fd)
{
	const struct svhost_shm_header *h = ohdr(self);
	int fd, pfd[2];
	__u32 gen;
	char c;
	pid_t pid;

	SVH_NEED_PKU();
	SVH_OPEN(fd);
	ASSERT_EQ(0, pipe(pfd));
	gen = h->generation;
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct svhost_layout lay;
		int k = pkey_alloc(0, 0);
		void *p;

		CHILD_CHECK(k > 0);
		CHILD_CHECK(svh_attach(fd, self->o.name, k, &lay) == 0);
		p = svh_map(fd, lay.pool_offset, lay.pool_size,
			    PROT_READ | PROT_WRITE);
		CHILD_CHECK(p != MAP_FAILED);
		CHILD_CHECK(write(pfd[1], "a", 1) == 1);
		_exit(0);
	}
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "ready", 2000));
	EXPECT_EQ((__u32)SVHOST_STATE_READY, h->state);
	/* attached, then left */
	EXPECT_EQ(gen + 2, h->generation);
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_pid"));
	/* the file maps nothing for anyone */
	EXPECT_EQ(-EPERM, svh_map_err(fd, self->o.lay.pool_offset, SVH_PAGE,
				      PROT_READ, MAP_SHARED));
	/* the port takes a new copier while the old file is still open */
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	close(fd);
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED, h->state);
	close(pfd[0]);
	close(pfd[1]);
}

/* The copier forks (the child inherits its file) and exits. */
TEST_F(life, copier_exit_detaches_child_keeps_fd)
{
	int pfd[2], qfd[2];
	pid_t pid, grandchild;
	char c;

	SVH_NEED_PKU();
	/* the grandchild is reaped here when its parent is gone */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, pipe(qfd));
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int k = pkey_alloc(0, 0), fd = svh_open();
		pid_t g;

		CHILD_CHECK(k > 0 && fd >= 0);
		CHILD_CHECK(svh_attach(fd, self->o.name, k, NULL) == 0);
		g = fork();
		CHILD_CHECK(g >= 0);
		if (g == 0) {
			/* holds the file until the test says so */
			close(qfd[1]);
			if (read(qfd[0], &c, 1) < 0)
				_exit(2);
			_exit(0);
		}
		CHILD_CHECK(write(pfd[1], &g, sizeof(g)) == sizeof(g));
		_exit(0);
	}
	ASSERT_EQ(sizeof(grandchild), read(pfd[0], &grandchild,
					   sizeof(grandchild)));
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "ready", 2000));
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	close(qfd[1]);
	close(qfd[0]);
	EXPECT_EQ(0, svh_wait(grandchild));
	close(pfd[0]);
	close(pfd[1]);
}

/* The copier closes normally: the port is ready again, sysfs is reset. */
TEST_F(life, copier_close_resets)
{
	char buf[32];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	svh_copier_stop(&self->c);
	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "ready", 2000));
	EXPECT_EQ((__u32)SVHOST_STATE_READY, ohdr(self)->state);
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_pid"));
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_tid"));
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_uid"));
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_pkey"));
	port_str(_metadata, self->o.name, "copier_comm", buf, sizeof(buf));
	EXPECT_STREQ("", buf);
	EXPECT_EQ(1, svh_port_ll(self->o.name, "attaches"));
}

/* The copier process is killed while mapped: back to ready, re-attach. */
TEST_F(life, copier_killed_port_ready)
{
	struct svh_reply r;
	char st[32];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, NULL, false));
	ASSERT_EQ(0, self->ch.err);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'f', 61, &r));
	ASSERT_EQ(0, r.a);
	port_str(_metadata, self->o.name, "state", st, sizeof(st));
	EXPECT_STREQ("attached", st);
	EXPECT_EQ(self->ch.pid, svh_port_ll(self->o.name, "copier_pid"));
	EXPECT_EQ(SVH_WAIT_SIG(SIGKILL), svh_child_kill(&self->ch));

	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "ready", 2000));
	EXPECT_EQ((__u32)SVHOST_STATE_READY, ohdr(self)->state);
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_pid"));
	EXPECT_EQ(self->ports0 + 1, svh_counter("ports_count"));
	/* the data the copier wrote is still in the pool, for the owner */
	EXPECT_EQ(-1, svh_check(self->o.pool, self->o.lay.pool_size, 61));
	/* a new copier (another process) attaches: the pool is cleared */
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	EXPECT_EQ(0, svh_copier_call(&self->c, copier_sees_zeros, NULL));
	EXPECT_EQ(-1, svh_nonzero(self->o.pool, self->o.lay.pool_size));
	EXPECT_EQ(2, svh_port_ll(self->o.name, "attaches"));
}

/*
 * Nothing one copier left in the pool reaches the next one: a copier of
 * another uid attaching after a revocation finds the pool cleared, also
 * what the vSwitch had written for the old one; the same copier process
 * coming back (after a new grant) finds it as it was.
 */
TEST_F(life, pool_cleared_between_principals)
{
	const struct svh_cred nobody = {
		.drop = true, .uid = SVH_NOBODY, .gid = SVH_NOBODY,
	};
	struct svh_child other;
	struct svh_reply r;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0 65534"));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, NULL, false));
	ASSERT_EQ(0, self->ch.err);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'f', 62, &r));
	/* the vSwitch also queued something for it in the upper half */
	svh_fill((char *)self->o.pool + self->o.lay.pool_size / 2,
		 self->o.lay.pool_size / 2, 63);
	ASSERT_EQ(0, svh_port_write(self->o.name, "revoke", "1"));

	/* the same process, with a new grant: nothing was cleared */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0 65534"));
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'a', 0, &r));
	ASSERT_EQ(0, r.a);
	EXPECT_EQ(-1, svh_check(self->o.pool, self->o.lay.pool_size / 2, 62));
	EXPECT_EQ(-1, svh_check((char *)self->o.pool +
				self->o.lay.pool_size / 2,
				self->o.lay.pool_size / 2, 63));
	ASSERT_EQ(0, svh_port_write(self->o.name, "revoke", "1"));
	EXPECT_EQ(0, svh_child_end(&self->ch));

	/* another uid's copier finds nothing of it */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "65534"));
	ASSERT_EQ(0, svh_child_copier(&other, self->o.name, &nobody, false));
	ASSERT_EQ(0, other.err);
	ASSERT_EQ(0, svh_child_cmd(&other, 'z', 0, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(-1, r.b) TH_LOG("pool byte %d not cleared", r.b);
	EXPECT_EQ(-1, svh_nonzero(self->o.pool, self->o.lay.pool_size));
	EXPECT_EQ(0, svh_child_end(&other));
}

/* --- orphans: gone/<name>@<id> ----------------------------------------------- */

struct gone_setup {
	char name[SVHOST_NAME_LEN];
	__u64 id;
	pid_t owner;
	struct svh_child ch;
};

/* An owner in a child process with a copier child attached; owner killed. */
static void make_orphan(struct __test_metadata *_metadata,
			struct gone_setup *g)
{
	int pfd[2];
	char c;

	svh_name(g->name, "orph");
	ASSERT_EQ(0, pipe(pfd));
	g->owner = svh_fork();
	ASSERT_LE(0, g->owner);
	if (g->owner == 0) {
		int fd = svh_open();

		CHILD_CHECK(fd >= 0 && svh_create(fd, g->name, NULL) == 0);
		CHILD_CHECK(write(pfd[1], "c", 1) == 1);
		for (;;)
			pause();
	}
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	close(pfd[0]);
	close(pfd[1]);
	g->id = svh_port_ll(g->name, "id");
	ASSERT_LT(0, (long long)g->id);
	ASSERT_EQ(0, svh_child_copier(&g->ch, g->name, NULL, false));
	ASSERT_EQ(0, g->ch.err);
	kill(g->owner, SIGKILL);
	ASSERT_EQ(SVH_WAIT_SIG(SIGKILL), svh_wait(g->owner));
	ASSERT_EQ(0, svh_wait_port_gone(g->name, 2000));
}

static int wait_gone_unlisted(struct gone_setup *g, int ms)
{
	int i;

	for (i = 0; i < ms; i += 10) {
		if (!svh_gone_exists(g->name, g->id))
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/*
 * A copier still attached when its owner died is listed under gone/ with
 * who it is; the administrator revokes it there: its header says so, it
 * keeps running, and it leaves the list.
 */
TEST(orphan_listed_and_revoked)
{
	struct gone_setup g;
	struct svh_reply r;
	long long rev0;
	char buf[64];

	SVH_NEED_PKU();
	make_orphan(_metadata, &g);
	ASSERT_TRUE(svh_gone_exists(g.name, g.id));
	ASSERT_EQ(0, svh_gone_str(g.name, g.id, "state", buf, sizeof(buf)));
	EXPECT_STREQ("owner-gone", buf);
	ASSERT_EQ(0, svh_gone_str(g.name, g.id, "name", buf, sizeof(buf)));
	EXPECT_STREQ(g.name, buf);
	ASSERT_EQ(0, svh_gone_str(g.name, g.id, "copier_pid", buf,
				  sizeof(buf)));
	EXPECT_EQ(g.ch.pid, atoi(buf));
	ASSERT_EQ(0, svh_gone_str(g.name, g.id, "copier_tid", buf,
				  sizeof(buf)));
	EXPECT_EQ(g.ch.tid, atoi(buf));
	ASSERT_EQ(0, svh_gone_str(g.name, g.id, "copier_comm", buf,
				  sizeof(buf)));
	EXPECT_LT(0U, strlen(buf));
	ASSERT_EQ(0, svh_child_cmd(&g.ch, 'h', 0, &r));
	EXPECT_EQ(SVHOST_STATE_OWNER_GONE, r.a);

	SVH_COUNTER(rev0, "revocations");
	EXPECT_EQ(-EINVAL, svh_gone_write(g.name, g.id, "revoke", "2"));
	ASSERT_EQ(0, svh_gone_write(g.name, g.id, "revoke", "1"));
	EXPECT_EQ(rev0 + 1, svh_counter("revocations"));
	ASSERT_EQ(0, svh_child_cmd(&g.ch, 'h', 0, &r));
	EXPECT_EQ(SVHOST_STATE_REVOKED, r.a);
	EXPECT_EQ(SVHOST_REASON_ADMIN, r.b);
	EXPECT_EQ(0, wait_gone_unlisted(&g, 2000));
	/* it keeps running on its scratch page */
	ASSERT_EQ(0, svh_child_cmd(&g.ch, 'z', 0, &r));
	EXPECT_EQ(0, r.a);
	/* the revocation of a dead port withdraws no grant */
	EXPECT_FALSE(svh_grant_exists(g.name));
	EXPECT_EQ(0, svh_child_end(&g.ch));
}

/* The orphan leaves the list when its process exits. */
TEST(orphan_unlisted_on_exit)
{
	struct gone_setup g;

	SVH_NEED_PKU();
	make_orphan(_metadata, &g);
	EXPECT_TRUE(svh_gone_exists(g.name, g.id));
	EXPECT_EQ(SVH_WAIT_SIG(SIGKILL), svh_child_kill(&g.ch));
	EXPECT_EQ(0, wait_gone_unlisted(&g, 2000));
}

/* ... and when it closes its file. */
TEST(orphan_unlisted_on_close)
{
	struct gone_setup g;
	struct svh_reply r;

	SVH_NEED_PKU();
	make_orphan(_metadata, &g);
	EXPECT_TRUE(svh_gone_exists(g.name, g.id));
	ASSERT_EQ(0, svh_child_cmd(&g.ch, 'u', 0, &r));
	ASSERT_EQ(0, svh_child_cmd(&g.ch, 'c', 0, &r));
	EXPECT_EQ(0, wait_gone_unlisted(&g, 2000));
	EXPECT_EQ(0, svh_child_end(&g.ch));
}

/* A port whose owner leaves without a copier is not listed as gone. */
TEST_F(life, owner_gone_without_copier_unlisted)
{
	char path[160];
	struct stat st;
	__u64 id;

	id = svh_port_ll(self->o.name, "id");
	svh_owner_close(&self->o);
	EXPECT_EQ(0, svh_wait_port_gone(self->o.name, 2000));
	EXPECT_FALSE(svh_gone_exists(self->o.name, id));
	snprintf(path, sizeof(path), SVH_SYSFS "/gone");
	EXPECT_EQ(0, stat(path, &st));
}

/*
 * The owner is SIGKILLed while the copier is mapped: the copier keeps
 * running on its scratch page and sees OWNER_GONE, the name and the memory
 * are free at once.
 */
TEST(owner_killed_copier_survives)
{
	long long ports0, bytes0, ports1;
	char name[SVHOST_NAME_LEN];
	struct svh_copier c;
	struct svh_fault f;
	int pfd[2], fd2;
	__u32 hv[4], gen;
	char ok;
	pid_t pid;

	SVH_NEED_PKU();
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	svh_name(name, "okill");
	ASSERT_EQ(0, pipe(pfd));
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct svh_owner o;
		int fd;

		fd = svh_open();
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK(svh_create(fd, name, &o.lay) == 0);
		o.pool = svh_map(fd, o.lay.pool_offset, o.lay.pool_size,
				 PROT_READ | PROT_WRITE);
		CHILD_CHECK(o.pool != MAP_FAILED);
		svh_fill(o.pool, o.lay.pool_size, 71);
		CHILD_CHECK(write(pfd[1], "k", 1) == 1);
		for (;;)
			pause();
	}
	ASSERT_EQ(1, read(pfd[0], &ok, 1));
	ASSERT_EQ(0, svh_copier_start(&c, name)) TH_LOG("%s", c.step);
	EXPECT_EQ(0, svh_copier_call(&c, copier_verify, (void *)71));
	ASSERT_EQ(0, svh_copier_call(&c, copier_hdr, hv));
	gen = hv[2];
	SVH_COUNTER(ports1, "ports_count");
	EXPECT_EQ(ports0 + 1, ports1);

	kill(pid, SIGKILL);
	EXPECT_EQ(SVH_WAIT_SIG(SIGKILL), svh_wait(pid));
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));

	/* the copier carries on, on its scratch page */
	ASSERT_EQ(0, svh_copier_call(&c, copier_hdr, hv));
	EXPECT_EQ((__u32)SVHOST_STATE_OWNER_GONE, hv[0]);
	EXPECT_EQ((__u32)SVHOST_REASON_NONE, hv[1]);
	EXPECT_EQ(gen + 1, hv[2]);
	EXPECT_EQ(0, svh_copier_call(&c, copier_touch, &f));
	EXPECT_EQ(0, svh_copier_call(&c, copier_sees_zeros, NULL));
	EXPECT_EQ(0, svh_copier_call(&c, copier_fill, (void *)72));
	EXPECT_EQ(0, svh_copier_call(&c, copier_touch_rings, &f));
	EXPECT_EQ(0, svh_copier_call(&c, copier_scratch_alias, (void *)0x5a));
	/* the pool went with its owner, although the copier still maps */
	EXPECT_EQ(ports0, svh_counter("ports_count"));
	EXPECT_EQ(bytes0, svh_counter("pool_bytes"));
	/* no new mappings of an orphaned port */
	EXPECT_EQ(EACCES, svh_copier_call(&c, copier_mmap_pool, NULL));
	/* the name is free at once; the new port is a different one */
	SVH_OPEN(fd2);
	EXPECT_EQ(0, svh_create(fd2, name, NULL));
	EXPECT_TRUE(svh_port_exists(name));
	EXPECT_EQ(ports0 + 1, svh_counter("ports_count"));
	close(fd2);
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
	ASSERT_EQ(0, svh_copier_call(&c, copier_hdr, hv));
	EXPECT_EQ((__u32)SVHOST_STATE_OWNER_GONE, hv[0]);

	svh_copier_stop(&c);
	EXPECT_EQ(0, svh_wait_counter("ports_count", ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", bytes0, 2000));
	close(pfd[0]);
	close(pfd[1]);
}

/* After the owner is gone, the name is unknown to copiers. */
TEST(owner_gone_attach_enoent)
{
	char name[SVHOST_NAME_LEN];
	int fd, cfd, pkey;

	SVH_NEED_PKU();
	SVH_OPEN(fd);
	SVH_OPEN(cfd);
	svh_name(name, "gone");
	ASSERT_EQ(0, svh_create(fd, name, NULL));
	close(fd);
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
	pkey = pkey_alloc(0, 0);
	ASSERT_LT(0, pkey);
	EXPECT_EQ(-ENOENT, svh_attach(cfd, name, pkey, NULL));
	close(cfd);
}

/* --- close orders ----------------------------------------------------------- */

FIXTURE(order) {
	long long ports0, bytes0;
};

FIXTURE_VARIANT(order) {
	bool owner_first;	/* owner lets go before the copier */
	bool close_first;	/* close files before unmapping */
};

FIXTURE_VARIANT_ADD(order, owner_first_unmap_then_close) {
	.owner_first = true, .close_first = false,
};

FIXTURE_VARIANT_ADD(order, owner_first_close_then_unmap) {
	.owner_first = true, .close_first = true,
};

FIXTURE_VARIANT_ADD(order, copier_first_unmap_then_close) {
	.owner_first = false, .close_first = false,
};

FIXTURE_VARIANT_ADD(order, copier_first_close_then_unmap) {
	.owner_first = false, .close_first = true,
};

FIXTURE_SETUP(order)
{
	SVH_COUNTER(self->ports0, "ports_count");
	SVH_COUNTER(self->bytes0, "pool_bytes");
}

FIXTURE_TEARDOWN(order)
{
	EXPECT_EQ(0, svh_wait_counter("ports_count", self->ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", self->bytes0, 2000));
}

static void owner_release(struct svh_owner *o, bool close_first)
{
	if (close_first) {
		close(o->fd);
		o->fd = -1;
		svh_owner_unmap(o);
	} else {
		svh_owner_unmap(o);
		close(o->fd);
		o->fd = -1;
	}
}

static void copier_release(struct svh_copier *c, bool close_first)
{
	if (close_first) {
		close(c->fd);
		c->fd = -1;
		svh_copier_unmap(c);
	} else {
		svh_copier_unmap(c);
		close(c->fd);
		c->fd = -1;
	}
	svh_copier_stop(c);
}

static int copier_close_only(struct svh_copier *c, void *arg)
{
	(void)arg;
	close(c->fd);
	c->fd = -1;
	return 0;
}

TEST_F(order, release)
{
	struct svh_owner o;
	struct svh_copier c;
	struct svh_fault f;
	__u32 hv[4];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_owner_setup(&o, "ord"));
	ASSERT_EQ(0, svh_copier_start(&c, o.name));
	svh_fill(o.pool, o.lay.pool_size, 81);
	EXPECT_EQ(0, svh_copier_call(&c, copier_verify, (void *)81));

	if (variant->close_first) {
		/* both files closed, mappings still live and shared */
		close(o.fd);
		o.fd = -1;
		svh_copier_call(&c, copier_close_only, NULL);
		EXPECT_EQ(self->ports0 + 1, svh_counter("ports_count"));
		EXPECT_EQ(0, svh_copier_call(&c, copier_fill, (void *)82));
		EXPECT_EQ(-1, svh_check(o.pool, o.lay.pool_size, 82));
	}
	if (variant->owner_first) {
		owner_release(&o, variant->close_first);
		EXPECT_EQ(0, svh_wait_port_gone(o.name, 2000));
		ASSERT_EQ(0, svh_copier_call(&c, copier_hdr, hv));
		EXPECT_EQ((__u32)SVHOST_STATE_OWNER_GONE, hv[0]);
		EXPECT_EQ(0, svh_copier_call(&c, copier_touch, &f));
		EXPECT_EQ(0, svh_copier_call(&c, copier_sees_zeros, NULL));
		EXPECT_EQ(self->ports0, svh_counter("ports_count"));
		copier_release(&c, variant->close_first);
	} else {
		copier_release(&c, variant->close_first);
		if (!variant->close_first) {
			EXPECT_EQ(0, svh_wait_port_state(o.name, "ready",
							 2000));
			EXPECT_EQ((__u32)SVHOST_STATE_READY,
				  ((struct svhost_shm_header *)o.hdr)->state);
		}
		EXPECT_EQ(self->ports0 + 1, svh_counter("ports_count"));
		owner_release(&o, variant->close_first);
		EXPECT_EQ(0, svh_wait_port_gone(o.name, 2000));
	}
}

TEST_HARNESS_MAIN
