// SPDX-License-Identifier: GPL-2.0
/*
 * Copier admission: the per-port allowed_uids / allowed_gids lists in
 * sysfs, the EPERM refusals and their counters, the parsing of ACL writes,
 * and revocation when an ACL write no longer admits the attached copier.
 */
#include "kselftest_harness.h"
#include "svhost_util.h"

#define GID_A	4242
#define GID_B	4243

FIXTURE(acl) {
	struct svh_owner o;
	struct svh_child ch;
	struct svh_copier c;
	long long ports0, bytes0;
};

FIXTURE_SETUP(acl)
{
	int ret;

	self->ch.pid = -1;
	self->c.fd = -1;
	SVH_COUNTER(self->ports0, "ports_count");
	SVH_COUNTER(self->bytes0, "pool_bytes");
	ret = svh_owner_setup(&self->o, "acl");
	ASSERT_EQ(0, ret) TH_LOG("owner setup: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(acl)
{
	if (self->ch.pid > 0)
		svh_child_kill(&self->ch);
	svh_copier_stop(&self->c);
	svh_owner_close(&self->o);
	EXPECT_EQ(0, svh_wait_counter("ports_count", self->ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", self->bytes0, 2000));
}

static const struct svh_cred nobody = {
	.drop = true, .uid = SVH_NOBODY, .gid = SVH_NOBODY,
};

static bool acl_is(const char *port, const char *attr, const char *want)
{
	char buf[512];

	if (svh_port_str(port, attr, buf, sizeof(buf)))
		return false;
	return svh_ids_equal(buf, want);
}

TEST_F(acl, default_root_only)
{
	char buf[256];
	long long att0;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_port_str(self->o.name, "allowed_uids", buf,
				  sizeof(buf)));
	EXPECT_STREQ("0", buf);
	ASSERT_EQ(0, svh_port_str(self->o.name, "allowed_gids", buf,
				  sizeof(buf)));
	EXPECT_STREQ("", buf);
	SVH_COUNTER(att0, "attaches");
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name))
		TH_LOG("root copier: %s", self->c.step);
	EXPECT_EQ(att0 + 1, svh_counter("attaches"));
	EXPECT_EQ(1, svh_port_ll(self->o.name, "attaches"));
	EXPECT_EQ(0, svh_port_ll(self->o.name, "copier_uid"));
}

TEST_F(acl, denied_uid_eperm)
{
	long long den0, att0;
	char state[32];

	SVH_NEED_PKU();
	SVH_COUNTER(den0, "denials");
	SVH_COUNTER(att0, "attaches");
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &nobody,
				      false));
	EXPECT_EQ(EPERM, self->ch.err);
	EXPECT_EQ(0, svh_child_end(&self->ch));
	EXPECT_EQ(den0 + 1, svh_counter("denials"));
	EXPECT_EQ(1, svh_port_ll(self->o.name, "denials"));
	EXPECT_EQ(att0, svh_counter("attaches"));
	EXPECT_EQ(0, svh_port_ll(self->o.name, "attaches"));
	ASSERT_EQ(0, svh_port_str(self->o.name, "state", state,
				  sizeof(state)));
	EXPECT_STREQ("ready", state);
	EXPECT_EQ(-1, svh_port_ll(self->o.name, "copier_pid"));
}

TEST_F(acl, grant_uid)
{
	struct svh_reply r;
	char state[32];

	SVH_NEED_PKU();
	/* denied first */
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &nobody,
				      false));
	EXPECT_EQ(EPERM, self->ch.err);
	svh_child_end(&self->ch);

	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids", "0 65534"));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_uids", "0 65534"));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &nobody,
				      false));
	ASSERT_EQ(0, self->ch.err);
	EXPECT_EQ(SVH_NOBODY, svh_port_ll(self->o.name, "copier_uid"));
	EXPECT_EQ(self->ch.pid, svh_port_ll(self->o.name, "copier_pid"));
	EXPECT_EQ(self->ch.tid, svh_port_ll(self->o.name, "copier_tid"));
	EXPECT_EQ(self->ch.pkey, svh_port_ll(self->o.name, "copier_pkey"));
	ASSERT_EQ(0, svh_port_str(self->o.name, "state", state,
				  sizeof(state)));
	EXPECT_STREQ("attached", state);
	/* it really maps the pool: it sees the owner's data */
	svh_fill(self->o.pool, self->o.lay.pool_size, 501);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'v', 501, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(0, r.b);
	EXPECT_EQ(0, svh_child_end(&self->ch));
	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "ready", 2000));
}

TEST_F(acl, grant_egid)
{
	const struct svh_cred egid_b = {
		.drop = true, .uid = SVH_NOBODY, .gid = GID_B,
	};
	const struct svh_cred egid_a = {
		.drop = true, .uid = SVH_NOBODY, .gid = GID_A,
	};
	char buf[64];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "4242"));
	ASSERT_EQ(0, svh_port_str(self->o.name, "allowed_gids", buf,
				  sizeof(buf)));
	EXPECT_STREQ("4242", buf);
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &egid_b,
				      false));
	EXPECT_EQ(EPERM, self->ch.err);
	svh_child_end(&self->ch);
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &egid_a,
				      false));
	EXPECT_EQ(0, self->ch.err);
	EXPECT_EQ(SVH_NOBODY, svh_port_ll(self->o.name, "copier_uid"));
	EXPECT_EQ(0, svh_child_end(&self->ch));
}

TEST_F(acl, grant_supplementary_gid)
{
	const struct svh_cred sup = {
		.drop = true, .uid = SVH_NOBODY, .gid = SVH_NOBODY,
		.ngroups = 2, .groups = { GID_B, GID_A },
	};
	const struct svh_cred sup_other = {
		.drop = true, .uid = SVH_NOBODY, .gid = SVH_NOBODY,
		.ngroups = 1, .groups = { GID_B },
	};

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "4242\n"));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &sup_other,
				      false));
	EXPECT_EQ(EPERM, self->ch.err);
	svh_child_end(&self->ch);
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &sup, false));
	EXPECT_EQ(0, self->ch.err);
	EXPECT_EQ(0, svh_child_end(&self->ch));
}

/* root is not special: with an empty allowed_uids it is refused too. */
TEST_F(acl, empty_list_denies_root)
{
	char buf[64];
	long long den0;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids", "\n"));
	ASSERT_EQ(0, svh_port_str(self->o.name, "allowed_uids", buf,
				  sizeof(buf)));
	EXPECT_STREQ("", buf);
	SVH_COUNTER(den0, "denials");
	EXPECT_EQ(-EPERM, svh_copier_start(&self->c, self->o.name));
	EXPECT_EQ(den0 + 1, svh_counter("denials"));
	svh_copier_stop(&self->c);
	/* granting root's group works */
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "0"));
	EXPECT_EQ(0, svh_copier_start(&self->c, self->o.name));
}

TEST_F(acl, write_formats)
{
	char many[256];
	int i, n = 0;

	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids",
				    "0,65534\n"));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_uids", "0 65534"));
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids",
				    "1 2,3\n4"));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_uids", "1 2 3 4"));
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids",
				    "5\n6\n7\n"));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_gids", "5 6 7"));
	/* 16 ids is the maximum */
	for (i = 1; i <= 16; i++)
		n += snprintf(many + n, sizeof(many) - n, "%d ", 1000 + i);
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids", many));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_uids", many));
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", many));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_gids", many));
	/* large valid ids */
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids",
				    "4294967294 0"));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_uids", "4294967294 0"));
	/* an empty write clears */
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "\n"));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_gids", ""));
}

TEST_F(acl, bad_writes_einval_unchanged)
{
	static const char * const bad[] = {
		"abc", "12a", "1 2 x", "-1", "0x10", "1;2", "4294967296",
		"99999999999999999999", "1.5", "+",
	};
	char many[256];
	long long inval0;
	unsigned int i;
	int n = 0, ret;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids", "0 777"));
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "888"));
	SVH_COUNTER(inval0, "invalid_requests");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = svh_port_write(self->o.name, "allowed_uids", bad[i]);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("uids \"%s\": %d", bad[i], ret);
		ret = svh_port_write(self->o.name, "allowed_gids", bad[i]);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("gids \"%s\": %d", bad[i], ret);
	}
	/* 17 ids: one too many */
	for (i = 1; i <= 17; i++)
		n += snprintf(many + n, sizeof(many) - n, "%u ", i);
	EXPECT_EQ(-EINVAL, svh_port_write(self->o.name, "allowed_uids", many));
	EXPECT_EQ(-EINVAL, svh_port_write(self->o.name, "allowed_gids", many));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_uids", "0 777"));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_gids", "888"));
	EXPECT_EQ(inval0 + 2 * (long long)ARRAY_SIZE(bad) + 2,
		  svh_counter("invalid_requests"));
	/* root is still admitted */
	EXPECT_EQ(0, svh_copier_start(&self->c, self->o.name));
}

TEST_F(acl, nonroot_write_refused)
{
	char path[160];
	pid_t pid;
	int ret;

	snprintf(path, sizeof(path), SVH_SYSFS "/ports/%s/allowed_uids",
		 self->o.name);
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(svh_drop_to(SVH_NOBODY, SVH_NOBODY, 0, NULL) == 0);
		ret = svh_write_file(path, "65534");
		/* root only: refused by the file mode or by the broker */
		CHILD_CHECK(ret == -EACCES || ret == -EPERM);
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_TRUE(acl_is(self->o.name, "allowed_uids", "0"));
}

/* Removing the attached copier's uid revokes it with reason ACL. */
TEST_F(acl, change_revokes_uid)
{
	const struct svhost_shm_header *h = self->o.hdr;
	long long rev0;
	struct svh_reply r;
	__u32 gen;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids", "0 65534"));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &nobody,
				      false));
	ASSERT_EQ(0, self->ch.err);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 't', 0, &r));
	ASSERT_EQ(0, r.a);
	gen = h->generation;
	SVH_COUNTER(rev0, "revocations");
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids", "0"));
	EXPECT_EQ(rev0 + 1, svh_counter("revocations"));
	EXPECT_EQ(1, svh_port_ll(self->o.name, "revocations"));
	EXPECT_EQ((__u32)SVHOST_STATE_REVOKED, h->state);
	EXPECT_EQ((__u32)SVHOST_REASON_ACL, h->reason);
	EXPECT_LT(gen, h->generation);
	/* no signal: the copier sees its scratch page, zeros */
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 't', 0, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(0, r.c);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'z', 0, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(-1, r.b);
	EXPECT_EQ(-1, r.c);
	/* its writes stay in that page */
	svh_fill(self->o.pool, self->o.lay.pool_size, 601);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'f', 602, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(-1, svh_check(self->o.pool, self->o.lay.pool_size, 601));
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'h', 0, &r));
	EXPECT_EQ(SVHOST_STATE_REVOKED, r.a);
	EXPECT_EQ(SVHOST_REASON_ACL, r.b);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'm', 0, &r));
	EXPECT_EQ(EACCES, r.a);
	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "revoked", 100));
	EXPECT_EQ(0, svh_child_end(&self->ch));
}

TEST_F(acl, change_revokes_gid)
{
	const struct svh_cred sup = {
		.drop = true, .uid = SVH_NOBODY, .gid = SVH_NOBODY,
		.ngroups = 1, .groups = { GID_A },
	};
	struct svh_reply r;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "4242"));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &sup, false));
	ASSERT_EQ(0, self->ch.err);
	/* a write that still admits it changes nothing */
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "1 4242"));
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 't', 0, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(0, svh_port_ll(self->o.name, "revocations"));
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "\n"));
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 't', 0, &r));
	EXPECT_EQ(0, r.a);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'z', 0, &r));
	EXPECT_EQ(-1, r.b);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'h', 0, &r));
	EXPECT_EQ(SVHOST_STATE_REVOKED, r.a);
	EXPECT_EQ(SVHOST_REASON_ACL, r.b);
	EXPECT_EQ(1, svh_port_ll(self->o.name, "revocations"));
	EXPECT_EQ(0, svh_child_end(&self->ch));
}

static int touch_pool(struct svh_copier *c, void *arg)
{
	struct svh_fault *f = arg;

	return svh_probe_write(c->pool, 1, f);
}

/* ACL writes that keep admitting the copier do not revoke it. */
TEST_F(acl, change_keeps_admitted)
{
	struct svh_fault f;
	long long rev0;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	SVH_COUNTER(rev0, "revocations");
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids", "7 0"));
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "5"));
	EXPECT_EQ(0, svh_copier_call(&self->c, touch_pool, &f));
	EXPECT_EQ(rev0, svh_counter("revocations"));
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED,
		  ((struct svhost_shm_header *)self->o.hdr)->state);
	/* admitted through its group only */
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "0"));
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_uids", "7"));
	EXPECT_EQ(0, svh_copier_call(&self->c, touch_pool, &f));
	EXPECT_EQ(rev0, svh_counter("revocations"));
	/* and finally not at all: revoked, but not killed */
	((volatile __u8 *)self->o.pool)[0] = 0x77;
	ASSERT_EQ(0, svh_port_write(self->o.name, "allowed_gids", "\n"));
	EXPECT_EQ(0, svh_copier_call(&self->c, touch_pool, &f));
	EXPECT_EQ(rev0 + 1, svh_counter("revocations"));
	EXPECT_EQ((__u32)SVHOST_STATE_REVOKED,
		  ((struct svhost_shm_header *)self->o.hdr)->state);
	EXPECT_EQ(0x77, ((volatile __u8 *)self->o.pool)[0]);
}

/* A denied attempt leaves the port free for an admitted copier. */
TEST_F(acl, denial_then_admitted)
{
	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &nobody,
				      false));
	EXPECT_EQ(EPERM, self->ch.err);
	svh_child_end(&self->ch);
	EXPECT_EQ(0, svh_copier_start(&self->c, self->o.name));
	EXPECT_EQ(1, svh_port_ll(self->o.name, "attaches"));
	EXPECT_EQ(1, svh_port_ll(self->o.name, "denials"));
}

TEST_HARNESS_MAIN
