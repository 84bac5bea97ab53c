// SPDX-License-Identifier: GPL-2.0
/*
 * Copier attachment and protection keys: pkey argument checks, the key on
 * the copier's mappings, data exchange between owner and copier in both
 * directions, SEGV_PKUERR for every other thread, refused re-keying and
 * exec, one copier per port, and binding of the copier file to its process.
 */
#include "kselftest_harness.h"
#include "svhost_util.h"

#include <fcntl.h>

FIXTURE(pk) {
	struct svh_owner o;
	struct svh_copier c, c2;
	struct svh_child ch;
	struct svh_params saved;
	long long ports0, bytes0;
};

FIXTURE_SETUP(pk)
{
	int ret;

	self->c.fd = self->c2.fd = -1;
	self->ch.pid = -1;
	ASSERT_EQ(0, svh_params_save(&self->saved));
	SVH_COUNTER(self->ports0, "ports_count");
	SVH_COUNTER(self->bytes0, "pool_bytes");
	ret = svh_owner_setup(&self->o, "pk");
	ASSERT_EQ(0, ret) TH_LOG("owner setup: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(pk)
{
	if (self->ch.pid > 0)
		svh_child_kill(&self->ch);
	svh_copier_stop(&self->c);
	svh_copier_stop(&self->c2);
	svh_owner_close(&self->o);
	EXPECT_EQ(0, svh_params_restore(&self->saved));
	EXPECT_EQ(0, svh_wait_counter("ports_count", self->ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", self->bytes0, 2000));
}

static const struct svhost_shm_header *hdr_of(struct svh_owner *o)
{
	return o->hdr;
}

TEST_F(pk, minus_one_refused_when_required)
{
	long long inval0;
	char state[32];
	int fd;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_param_write("require_pkey", "Y"));
	SVH_OPEN(fd);
	SVH_COUNTER(inval0, "invalid_requests");
	EXPECT_EQ(-EINVAL, svh_attach(fd, self->o.name, -1, NULL));
	EXPECT_EQ(inval0 + 1, svh_counter("invalid_requests"));
	ASSERT_EQ(0, svh_port_str(self->o.name, "state", state,
				  sizeof(state)));
	EXPECT_STREQ("ready", state);
	close(fd);
}

static int read_pool(struct svh_copier *c, void *arg)
{
	(void)arg;
	return svh_probe_read(c->pool, NULL, NULL);
}

TEST_F(pk, minus_one_accepted_when_not_required)
{
	struct svhost_version v;
	struct svh_fault f;
	int pkey;

	ASSERT_EQ(0, svh_param_write("require_pkey", "N"));
	ASSERT_EQ(0, svh_version(self->o.fd, &v));
	EXPECT_EQ(0U, v.features & SVHOST_FEATURE_PKEY_REQUIRED);
	ASSERT_EQ(0, svh_copier_start_nokey(&self->c, self->o.name))
		TH_LOG("copier without key: %s", self->c.step);
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_pkey"));
	EXPECT_EQ(getpid(), svh_port_ll(self->o.name, "copier_pid"));
	/* no key: the default key 0, any thread can touch it */
	ASSERT_EQ(0, svh_smaps(self->c.pool, &pkey, NULL, 0));
	if (svh_have_pku())
		EXPECT_EQ(0, pkey);
	svh_fill(self->o.pool, SVH_PAGE, 31);
	EXPECT_EQ(0, svh_probe_read(self->c.pool, NULL, &f));
	EXPECT_EQ(-1, svh_check(self->c.pool, SVH_PAGE, 31));
	EXPECT_EQ(0, svh_copier_call(&self->c, read_pool, NULL));
	ASSERT_EQ(0, svh_param_write("require_pkey", "Y"));
	ASSERT_EQ(0, svh_version(self->o.fd, &v));
	if (svh_have_pku())
		EXPECT_EQ(SVHOST_FEATURE_PKEY_REQUIRED,
			  v.features & SVHOST_FEATURE_PKEY_REQUIRED);
}

TEST_F(pk, pkey_out_of_range_einval)
{
	const int bad[] = { 0, 16, 17, 1000, -2, -16, INT_MIN, INT_MAX };
	long long inval0;
	unsigned int i;
	int fd, ret;

	SVH_NEED_PKU();
	SVH_OPEN(fd);
	SVH_COUNTER(inval0, "invalid_requests");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = svh_attach(fd, self->o.name, bad[i], NULL);
		EXPECT_EQ(-EINVAL, ret)
			TH_LOG("pkey %d: %d", bad[i], ret);
	}
	EXPECT_EQ(inval0 + (long long)ARRAY_SIZE(bad),
		  svh_counter("invalid_requests"));
	EXPECT_EQ(0, svh_port_ll(self->o.name, "attaches"));
	close(fd);
}

TEST_F(pk, pkey_not_allocated_enokey)
{
	int fd, k, k2;
	pid_t pid;

	SVH_NEED_PKU();
	SVH_OPEN(fd);
	k = pkey_alloc(0, 0);
	ASSERT_LT(0, k);
	ASSERT_EQ(0, pkey_free(k));
	EXPECT_EQ(-ENOKEY, svh_attach(fd, self->o.name, k, NULL));

	/* allocated in the parent, freed in the child: refused there */
	k2 = pkey_alloc(0, 0);
	ASSERT_LT(0, k2);
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int cfd = svh_open();

		CHILD_CHECK(cfd >= 0);
		CHILD_CHECK(pkey_free(k2) == 0);
		CHILD_CHECK(svh_attach(cfd, self->o.name, k2, NULL) ==
			    -ENOKEY);
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_EQ(0, svh_port_ll(self->o.name, "attaches"));
	/* still allocated here: accepted */
	EXPECT_EQ(0, svh_attach(fd, self->o.name, k2, NULL));
	close(fd);
}

/* The copier's rings and pool carry its key; sysfs shows who it is. */
TEST_F(pk, copier_mapping_has_pkey)
{
	char comm[32], scomm[32];
	int pkey;
	__u32 gen0;

	SVH_NEED_PKU();
	gen0 = hdr_of(&self->o)->generation;
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name))
		TH_LOG("copier: %s", self->c.step);
	ASSERT_LT(0, self->c.pkey);
	ASSERT_EQ(0, svh_smaps(self->c.pool, &pkey, NULL, 0));
	EXPECT_EQ(self->c.pkey, pkey);
	ASSERT_EQ(0, svh_smaps(self->c.rings, &pkey, NULL, 0));
	EXPECT_EQ(self->c.pkey, pkey);
	/* the owner's mappings keep the default key */
	ASSERT_EQ(0, svh_smaps(self->o.pool, &pkey, NULL, 0));
	EXPECT_EQ(0, pkey);

	EXPECT_EQ(self->c.pkey, svh_port_ll(self->o.name, "copier_pkey"));
	EXPECT_EQ(getpid(), svh_port_ll(self->o.name, "copier_pid"));
	EXPECT_EQ(self->c.w.tid, svh_port_ll(self->o.name, "copier_tid"));
	EXPECT_EQ(0, svh_port_ll(self->o.name, "copier_uid"));
	ASSERT_EQ(0, svh_read_file("/proc/self/comm", comm, sizeof(comm)));
	ASSERT_EQ(0, svh_port_str(self->o.name, "copier_comm", scomm,
				  sizeof(scomm)));
	EXPECT_STREQ(comm, scomm);
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED, hdr_of(&self->o)->state);
	EXPECT_EQ((__u32)SVHOST_REASON_NONE, hdr_of(&self->o)->reason);
	EXPECT_LT(gen0, hdr_of(&self->o)->generation);
	EXPECT_EQ(0, memcmp(&self->c.lay, &self->o.lay, sizeof(self->o.lay)));
}

/*
 * SVHOST_COPIER_ATTACH returns the header generation it set; a revocation
 * makes it exactly one more, with state and reason saying why.
 */
TEST_F(pk, attach_returns_generation)
{
	const struct svhost_shm_header *h = hdr_of(&self->o);
	struct svhost_copier_attach a, b;
	int fd, fd2, pkey, ret;
	__u32 gen0;

	SVH_NEED_PKU();
	SVH_OPEN(fd);
	SVH_OPEN(fd2);
	pkey = pkey_alloc(0, PKEY_DISABLE_ACCESS);
	ASSERT_LT(0, pkey);
	gen0 = h->generation;
	/* reserved is input: anything but zero is refused */
	memset(&a, 0, sizeof(a));
	a.pkey = pkey;
	strcpy(a.name, self->o.name);
	a.reserved = 1;
	EXPECT_EQ(-EINVAL, svh_attach_raw(fd, &a));
	a.reserved = 0x80000000U;
	EXPECT_EQ(-EINVAL, svh_attach_raw(fd, &a));
	EXPECT_EQ(gen0, h->generation);
	EXPECT_EQ((__u32)SVHOST_STATE_READY, h->state);
	/* the out fields hold garbage on input */
	memset(&a, 0xff, sizeof(a));
	a.flags = 0;
	a.reserved = 0;
	a.pkey = pkey;
	memset(a.name, 0, sizeof(a.name));
	strcpy(a.name, self->o.name);
	ret = svh_attach_raw(fd, &a);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(0U, a.reserved);
	EXPECT_EQ(h->generation, a.generation);
	EXPECT_EQ(gen0 + 1, a.generation);
	EXPECT_EQ(0, memcmp(&a.layout, &self->o.lay, sizeof(a.layout)));
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED, h->state);

	ASSERT_EQ(0, svh_port_write(self->o.name, "revoke", "1"));
	EXPECT_EQ(a.generation + 1, h->generation);
	EXPECT_EQ((__u32)SVHOST_STATE_REVOKED, h->state);
	EXPECT_EQ((__u32)SVHOST_REASON_ADMIN, h->reason);

	/* someone else attaches: the old copier sees more than +1 */
	memset(&b, 0, sizeof(b));
	b.pkey = pkey;
	strcpy(b.name, self->o.name);
	ASSERT_EQ(0, svh_attach_raw(fd2, &b));
	EXPECT_EQ(h->generation, b.generation);
	EXPECT_EQ(a.generation + 2, b.generation);
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED, h->state);
	/* a refused attach changes nothing */
	EXPECT_EQ(-EBUSY, svh_attach(fd, self->o.name, pkey, NULL));
	close(fd2);
	/* the copier leaving is a change too */
	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "ready", 2000));
	EXPECT_EQ(b.generation + 1, h->generation);
	close(fd);
}

static int copier_zeros(struct svh_copier *c, void *arg)
{
	(void)arg;
	if (svh_probe_read(c->pool, NULL, NULL))
		return 1;
	return svh_nonzero(c->pool, c->lay.pool_size) >= 0 ? 2 : 0;
}

/*
 * Setting require_pkey revokes attached copiers without a key (reason
 * PKEY); copiers with a key stay.
 */
TEST_F(pk, require_pkey_revokes_keyless)
{
	const struct svhost_shm_header *h = hdr_of(&self->o);
	struct svh_owner o2;
	long long rev0;
	__u32 gen;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_param_write("require_pkey", "N"));
	ASSERT_EQ(0, svh_copier_start_nokey(&self->c, self->o.name));
	ASSERT_EQ(0, svh_owner_setup(&o2, "pk2"));
	ASSERT_EQ(0, svh_copier_start(&self->c2, o2.name));
	svh_fill(self->o.pool, self->o.lay.pool_size, 808);
	gen = h->generation;
	SVH_COUNTER(rev0, "revocations");
	/* setting it to N again changes nothing */
	ASSERT_EQ(0, svh_param_write("require_pkey", "N"));
	EXPECT_EQ(gen, h->generation);
	ASSERT_EQ(0, svh_param_write("require_pkey", "Y"));
	EXPECT_EQ(gen + 1, h->generation);
	EXPECT_EQ((__u32)SVHOST_STATE_REVOKED, h->state);
	EXPECT_EQ((__u32)SVHOST_REASON_PKEY, h->reason);
	EXPECT_EQ(rev0 + 1, svh_counter("revocations"));
	EXPECT_EQ(0, svh_copier_call(&self->c, copier_zeros, NULL));
	EXPECT_EQ(-1, svh_check(self->o.pool, self->o.lay.pool_size, 808));
	/* the keyed copier of the other port is untouched */
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED,
		  ((struct svhost_shm_header *)o2.hdr)->state);
	EXPECT_EQ(0, svh_copier_call(&self->c2, read_pool, NULL));
	/* and keyless copiers are refused from now on */
	svh_copier_stop(&self->c);
	EXPECT_EQ(-EINVAL, svh_copier_start_nokey(&self->c, self->o.name));
	svh_copier_stop(&self->c2);
	svh_owner_close(&o2);
}

#define XCHG_N	16

/* Copier side of the exchange, on the copier thread. */
static int copier_exchange(struct svh_copier *c, void *arg)
{
	const struct svhost_layout *l = &c->lay;
	struct svhost_ring *to_guest = svh_ring(c->rings, l,
						SVHOST_RING_TO_GUEST);
	struct svhost_ring *to_vsw = svh_ring(c->rings, l,
					      SVHOST_RING_TO_VSWITCH);
	__u32 prod, i;

	(void)arg;
	prod = __atomic_load_n(&to_guest->prod, __ATOMIC_ACQUIRE);
	if (prod != XCHG_N)
		return 1;
	for (i = 0; i < prod; i++) {
		struct svhost_desc d = to_guest->desc[i & (l->ring_size - 1)];

		if (d.offset != (__u64)i * l->buf_size || d.len != 100 + i)
			return 2;
		if (svh_check((char *)c->pool + d.offset, l->buf_size,
			      1000 + i) >= 0)
			return 3;
	}
	__atomic_store_n(&to_guest->cons, prod, __ATOMIC_RELEASE);

	/* fill the buffers the vSwitch posted on the other ring */
	prod = __atomic_load_n(&to_vsw->prod, __ATOMIC_ACQUIRE);
	if (prod != XCHG_N)
		return 4;
	for (i = 0; i < prod; i++) {
		struct svhost_desc *d = &to_vsw->desc[i & (l->ring_size - 1)];
		__u64 off = d->offset;

		if (off % l->buf_size || off >= l->pool_size)
			return 5;
		svh_fill((char *)c->pool + off, l->buf_size, 2000 + i);
		d->len = 200 + i;
		d->flags = SVHOST_DESC_F_OFFLOAD;
		d->gso_size = 1400;
	}
	__atomic_store_n(&to_vsw->cons, prod, __ATOMIC_RELEASE);
	/* and the whole upper half of the pool */
	svh_fill((char *)c->pool + l->pool_size / 2, l->pool_size / 2, 3000);
	return 0;
}

/* Owner writes, copier reads; copier writes, owner reads; rings and pool. */
TEST_F(pk, copier_data_exchange)
{
	const struct svhost_layout *l = &self->o.lay;
	struct svhost_ring *to_guest, *to_vsw;
	__u32 i;
	int ret;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	to_guest = svh_ring(self->o.rings, l, SVHOST_RING_TO_GUEST);
	to_vsw = svh_ring(self->o.rings, l, SVHOST_RING_TO_VSWITCH);
	for (i = 0; i < XCHG_N; i++) {
		svh_fill((char *)self->o.pool + (__u64)i * l->buf_size,
			 l->buf_size, 1000 + i);
		to_guest->desc[i].offset = (__u64)i * l->buf_size;
		to_guest->desc[i].len = 100 + i;
		to_vsw->desc[i].offset = (__u64)(XCHG_N + i) * l->buf_size;
		to_vsw->desc[i].len = 0;
	}
	__atomic_store_n(&to_guest->prod, XCHG_N, __ATOMIC_RELEASE);
	__atomic_store_n(&to_vsw->prod, XCHG_N, __ATOMIC_RELEASE);

	ret = svh_copier_call(&self->c, copier_exchange, NULL);
	ASSERT_EQ(0, ret) TH_LOG("copier side failed at step %d", ret);

	EXPECT_EQ((__u32)XCHG_N,
		  __atomic_load_n(&to_guest->cons, __ATOMIC_ACQUIRE));
	EXPECT_EQ((__u32)XCHG_N,
		  __atomic_load_n(&to_vsw->cons, __ATOMIC_ACQUIRE));
	for (i = 0; i < XCHG_N; i++) {
		EXPECT_EQ(200 + i, to_vsw->desc[i].len);
		EXPECT_EQ(SVHOST_DESC_F_OFFLOAD, to_vsw->desc[i].flags);
		EXPECT_EQ(1400, to_vsw->desc[i].gso_size);
		EXPECT_EQ(-1, svh_check((char *)self->o.pool +
					(__u64)(XCHG_N + i) * l->buf_size,
					l->buf_size, 2000 + i));
	}
	EXPECT_EQ(-1, svh_check((char *)self->o.pool + l->pool_size / 2,
				l->pool_size / 2, 3000));
}

/* The same across processes: owner here, copier in a child. */
TEST_F(pk, copier_cross_process_exchange)
{
	struct svh_reply r;

	SVH_NEED_PKU();
	svh_fill(self->o.pool, self->o.lay.pool_size, 4000);
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, NULL, false));
	ASSERT_EQ(0, self->ch.err);
	EXPECT_EQ(self->ch.pid, svh_port_ll(self->o.name, "copier_pid"));
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'v', 4000, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(0, r.b);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'f', 4001, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(-1, svh_check(self->o.pool, self->o.lay.pool_size, 4001));
	EXPECT_EQ(0, svh_child_end(&self->ch));
}

static int probe_thread_fn(void *arg)
{
	struct svh_fault *f = arg;

	return svh_probe_read(f->addr, NULL, f);
}

/* Any thread but the copier faults with SEGV_PKUERR and the right key. */
TEST_F(pk, other_thread_segv_pkuerr)
{
	struct svh_worker other;
	struct svh_fault f;
	int sig;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	/* the copier thread itself can read and write */
	EXPECT_EQ(0, svh_copier_call(&self->c, read_pool, NULL));

	/* this (main) thread: read and write */
	sig = svh_probe_read(self->c.pool, NULL, &f);
	EXPECT_EQ(SIGSEGV, sig);
	EXPECT_EQ(SEGV_PKUERR, f.code);
	EXPECT_EQ(4, f.code);
	EXPECT_EQ(self->c.pkey, f.pkey);
	EXPECT_EQ(self->c.pool, f.addr);
	sig = svh_probe_write((char *)self->c.pool + 12345, 1, &f);
	EXPECT_EQ(SIGSEGV, sig);
	EXPECT_EQ(SEGV_PKUERR, f.code);
	EXPECT_EQ(self->c.pkey, f.pkey);
	EXPECT_EQ((char *)self->c.pool + 12345, f.addr);
	sig = svh_probe_read(self->c.rings, NULL, &f);
	EXPECT_EQ(SIGSEGV, sig);
	EXPECT_EQ(SEGV_PKUERR, f.code);
	EXPECT_EQ(self->c.pkey, f.pkey);

	/* a thread created afterwards */
	ASSERT_EQ(0, svh_worker_start(&other));
	memset(&f, 0, sizeof(f));
	f.addr = (char *)self->c.pool + self->c.lay.pool_size - 1;
	EXPECT_EQ(SIGSEGV, svh_worker_call(&other, probe_thread_fn, &f));
	EXPECT_EQ(SEGV_PKUERR, f.code);
	EXPECT_EQ(self->c.pkey, f.pkey);
	svh_worker_stop(&other);
	/* the owner mapping of the same memory stays usable here */
	EXPECT_EQ(0, svh_probe_read(self->o.pool, NULL, &f));
}

static int rekey(struct svh_copier *c, void *arg)
{
	int *res = arg, k2, pkey;

	k2 = pkey_alloc(0, 0);
	if (k2 < 0)
		return -100;
	errno = 0;
	res[0] = pkey_mprotect(c->pool, c->lay.pool_size,
			       PROT_READ | PROT_WRITE, k2) ? errno : 0;
	errno = 0;
	res[1] = pkey_mprotect(c->pool, c->lay.pool_size,
			       PROT_READ | PROT_WRITE, 0) ? errno : 0;
	errno = 0;
	res[2] = pkey_mprotect(c->rings, c->lay.rings_size,
			       PROT_READ | PROT_WRITE, k2) ? errno : 0;
	errno = 0;
	res[3] = pkey_mprotect(c->pool, SVH_PAGE, PROT_READ, k2) ? errno : 0;
	svh_smaps(c->pool, &pkey, NULL, 0);
	res[4] = pkey;
	svh_smaps(c->rings, &pkey, NULL, 0);
	res[5] = pkey;
	/* still usable by this thread */
	res[6] = svh_probe_write(c->pool, 3, NULL);
	pkey_free(k2);
	return 0;
}

TEST_F(pk, pkey_mprotect_rekey_eperm)
{
	int res[7];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	ASSERT_EQ(0, svh_copier_call(&self->c, rekey, res));
	EXPECT_EQ(EPERM, res[0]);
	EXPECT_EQ(EPERM, res[1]);
	EXPECT_EQ(EPERM, res[2]);
	EXPECT_EQ(EPERM, res[3]);
	EXPECT_EQ(self->c.pkey, res[4]);
	EXPECT_EQ(self->c.pkey, res[5]);
	EXPECT_EQ(0, res[6]);
	/* and from another thread, to the default key */
	errno = 0;
	EXPECT_EQ(-1, pkey_mprotect(self->c.pool, self->c.lay.pool_size,
				    PROT_READ | PROT_WRITE, 0));
	EXPECT_EQ(EPERM, errno);
}

static int mprot_exec(struct svh_copier *c, void *arg)
{
	int *res = arg, pkey;

	errno = 0;
	res[0] = mprotect(c->pool, c->lay.pool_size,
			  PROT_READ | PROT_WRITE | PROT_EXEC) ? errno : 0;
	errno = 0;
	res[1] = pkey_mprotect(c->pool, SVH_PAGE, PROT_READ | PROT_EXEC,
			       c->pkey) ? errno : 0;
	errno = 0;
	res[2] = mprotect(c->rings, c->lay.rings_size, PROT_EXEC) ? errno : 0;
	svh_smaps(c->pool, &pkey, NULL, 0);
	res[3] = pkey;
	res[4] = svh_probe_write(c->pool, 4, NULL);
	return 0;
}

TEST_F(pk, mprotect_exec_eacces)
{
	int res[5], fd;

	SVH_NEED_PKU();
	fd = svh_open_exec();
	ASSERT_LE(0, fd) TH_LOG("open exec node: %s", strerror(-fd));
	ASSERT_EQ(0, svh_copier_start_fd(&self->c, self->o.name, fd));
	ASSERT_EQ(0, svh_copier_call(&self->c, mprot_exec, res));
	EXPECT_EQ(EACCES, res[0]);
	EXPECT_EQ(EACCES, res[1]);
	EXPECT_EQ(EACCES, res[2]);
	EXPECT_EQ(self->c.pkey, res[3]);
	EXPECT_EQ(0, res[4]);
}

static int mprot_same_key(struct svh_copier *c, void *arg)
{
	int *res = arg, pkey;
	struct svh_fault f;

	res[0] = mprotect(c->pool, c->lay.pool_size, PROT_READ) ? errno : 0;
	svh_smaps(c->pool, &pkey, NULL, 0);
	res[1] = pkey;
	res[2] = svh_probe_write(c->pool, 5, &f);
	res[3] = f.code;
	res[4] = svh_probe_read(c->pool, NULL, NULL);
	res[5] = mprotect(c->pool, c->lay.pool_size,
			  PROT_READ | PROT_WRITE) ? errno : 0;
	svh_smaps(c->pool, &pkey, NULL, 0);
	res[6] = pkey;
	res[7] = svh_probe_write(c->pool, 5, NULL);
	return 0;
}

/* Plain mprotect that keeps the key and adds no exec is allowed. */
TEST_F(pk, mprotect_same_key_allowed)
{
	int res[8];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	ASSERT_EQ(0, svh_copier_call(&self->c, mprot_same_key, res));
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(self->c.pkey, res[1]);
	EXPECT_EQ(SIGSEGV, res[2]);
	EXPECT_EQ(SEGV_ACCERR, res[3]);
	EXPECT_EQ(0, res[4]);
	EXPECT_EQ(0, res[5]);
	EXPECT_EQ(self->c.pkey, res[6]);
	EXPECT_EQ(0, res[7]);
}

static int mremap_move(struct svh_copier *c, void *arg)
{
	int *res = arg;
	void *target, *q;

	target = mmap(NULL, c->lay.pool_size, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (target == MAP_FAILED)
		return -1;
	svh_fill(c->pool, SVH_PAGE, 66);
	errno = 0;
	q = mremap(c->pool, c->lay.pool_size, c->lay.pool_size,
		   MREMAP_MAYMOVE | MREMAP_FIXED, target);
	res[0] = q == MAP_FAILED ? errno : 0;
	errno = 0;
	q = mremap(c->pool, c->lay.pool_size / 2, c->lay.pool_size,
		   MREMAP_MAYMOVE);
	res[1] = q == MAP_FAILED ? errno : 0;
	res[2] = svh_check(c->pool, SVH_PAGE, 66) < 0;
	munmap(target, c->lay.pool_size);
	return 0;
}

TEST_F(pk, copier_mremap_refused)
{
	int res[3];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	ASSERT_EQ(0, svh_copier_call(&self->c, mremap_move, res));
	EXPECT_EQ(EPERM, res[0]);
	EXPECT_EQ(EFAULT, res[1]);
	EXPECT_EQ(1, res[2]);
}

/* /proc/self/mem cannot reach the copier's mapping either. */
static int proc_mem(struct svh_copier *c, void *arg)
{
	int *res = arg, fd;
	char buf[16];

	fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	errno = 0;
	res[0] = pread(fd, buf, sizeof(buf), (off_t)(uintptr_t)c->pool) < 0 ?
		 errno : 0;
	errno = 0;
	res[1] = pwrite(fd, buf, sizeof(buf), (off_t)(uintptr_t)c->pool) < 0 ?
		 errno : 0;
	close(fd);
	return 0;
}

TEST_F(pk, copier_proc_mem_eio)
{
	int res[2];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	ASSERT_EQ(0, svh_copier_call(&self->c, proc_mem, res));
	EXPECT_EQ(EIO, res[0]);
	EXPECT_EQ(EIO, res[1]);
}

TEST_F(pk, second_copier_ebusy)
{
	long long att0;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	SVH_COUNTER(att0, "attaches");
	EXPECT_EQ(-EBUSY, svh_copier_start(&self->c2, self->o.name));
	EXPECT_EQ(self->c.w.tid, svh_port_ll(self->o.name, "copier_tid"));
	EXPECT_EQ(att0, svh_counter("attaches"));
	/* from another process as well */
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, NULL, false));
	EXPECT_EQ(EBUSY, self->ch.err);
	svh_child_end(&self->ch);
	/* once the first copier is gone, the port takes a new one */
	svh_copier_stop(&self->c);
	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "ready", 2000));
	svh_copier_stop(&self->c2);
	EXPECT_EQ(0, svh_copier_start(&self->c2, self->o.name));
}

/* Only the attaching process may mmap through the copier file. */
TEST_F(pk, copier_file_other_process_eperm)
{
	long long den0;
	pid_t pid;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	SVH_COUNTER(den0, "denials");
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		const struct svhost_layout *l = &self->c.lay;
		int k = pkey_alloc(0, 0);

		CHILD_CHECK(k > 0);
		CHILD_CHECK(svh_map_err(self->c.fd, l->pool_offset,
					l->pool_size, PROT_READ | PROT_WRITE,
					MAP_SHARED) == -EPERM);
		CHILD_CHECK(svh_map_err(self->c.fd, l->rings_offset,
					l->rings_size, PROT_READ | PROT_WRITE,
					MAP_SHARED) == -EPERM);
		CHILD_CHECK(svh_map_err(self->c.fd, l->pool_offset, SVH_PAGE,
					PROT_READ, MAP_SHARED) == -EPERM);
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_EQ(den0 + 3, svh_counter("denials"));
	EXPECT_EQ(3, svh_port_ll(self->o.name, "denials"));
	/* the copier itself is unaffected */
	EXPECT_EQ(0, svh_copier_call(&self->c, read_pool, NULL));
}

/*
 * Another thread of the copier process may map through the file; the
 * mapping still carries the copier's key, so that thread cannot touch it.
 */
TEST_F(pk, copier_file_other_thread_keyed)
{
	struct svh_fault f;
	void *p;
	int pkey;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	p = svh_map(self->c.fd, self->c.lay.pool_offset, self->c.lay.pool_size,
		    PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, svh_smaps(p, &pkey, NULL, 0));
	EXPECT_EQ(self->c.pkey, pkey);
	EXPECT_EQ(SIGSEGV, svh_probe_read(p, NULL, &f));
	EXPECT_EQ(SEGV_PKUERR, f.code);
	EXPECT_EQ(self->c.pkey, f.pkey);
	munmap(p, self->c.lay.pool_size);
}

/* The copier's pool mapping is not inherited by a child of the copier. */
TEST_F(pk, copier_fork_not_inherited)
{
	pid_t pid;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct svh_fault f;

		/* even with every key allowed in PKRU */
		svh_wrpkru(0);
		CHILD_CHECK(svh_probe_read(self->c.pool, NULL, &f) == SIGSEGV);
		CHILD_CHECK(f.code == SEGV_MAPERR);
		CHILD_CHECK(svh_probe_read(self->c.rings, NULL, &f) ==
			    SIGSEGV);
		CHILD_CHECK(f.code == SEGV_MAPERR);
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
}

TEST_HARNESS_MAIN
