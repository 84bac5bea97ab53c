// SPDX-License-Identifier: GPL-2.0
/*
 * Copier admission: grants keyed by port name under
 * /sys/kernel/svhost/grants/ (before the port exists, across its
 * re-creation), by uid, gid and cgroup v2 (one uid, two VMs), the default
 * for names without a grant, sticky revocation, revocation when a grant
 * change no longer admits the attached copier, and the parsing of grant
 * writes.
 */
#include "kselftest_harness.h"
#include "svhost_util.h"

#define GID_A	4242
#define GID_B	4243

FIXTURE(grant) {
	struct svh_owner o;
	struct svh_child ch, ch2;
	struct svh_copier c;
	long long ports0, bytes0;
	char cg[2][64];
};

FIXTURE_SETUP(grant)
{
	int ret;

	self->ch.pid = self->ch2.pid = -1;
	self->c.fd = -1;
	SVH_COUNTER(self->ports0, "ports_count");
	SVH_COUNTER(self->bytes0, "pool_bytes");
	ret = svh_owner_setup(&self->o, "gr");
	ASSERT_EQ(0, ret) TH_LOG("owner setup: %s", strerror(-ret));
	snprintf(self->cg[0], sizeof(self->cg[0]), "/svh-vm1-%d", getpid());
	snprintf(self->cg[1], sizeof(self->cg[1]), "/svh-vm2-%d", getpid());
}

FIXTURE_TEARDOWN(grant)
{
	if (self->ch.pid > 0)
		svh_child_kill(&self->ch);
	if (self->ch2.pid > 0)
		svh_child_kill(&self->ch2);
	svh_copier_stop(&self->c);
	svh_owner_close(&self->o);
	EXPECT_EQ(0, svh_grant_remove(self->o.name));
	svh_cgroup_remove(self->cg[0]);
	svh_cgroup_remove(self->cg[1]);
	EXPECT_EQ(0, svh_wait_counter("ports_count", self->ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", self->bytes0, 2000));
}

static const struct svh_cred nobody = {
	.drop = true, .uid = SVH_NOBODY, .gid = SVH_NOBODY,
};

static bool grant_is(const char *name, const char *list, const char *want)
{
	char buf[512];

	if (svh_grant_str(name, list, buf, sizeof(buf)))
		return false;
	return svh_ids_equal(buf, want);
}

/* A name without a grant admits uid 0 only. */
TEST_F(grant, default_root_only)
{
	long long att0;

	SVH_NEED_PKU();
	EXPECT_FALSE(svh_grant_exists(self->o.name));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &nobody,
				      false));
	EXPECT_EQ(EPERM, self->ch.err);
	svh_child_end(&self->ch);
	SVH_COUNTER(att0, "attaches");
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name))
		TH_LOG("root copier: %s", self->c.step);
	EXPECT_EQ(att0 + 1, svh_counter("attaches"));
	EXPECT_EQ(1, svh_port_ll(self->o.name, "attaches"));
	EXPECT_EQ(1, svh_port_ll(self->o.name, "denials"));
	EXPECT_EQ(0, svh_port_ll(self->o.name, "copier_uid"));
}

TEST_F(grant, denied_uid_eperm)
{
	long long den0, att0;
	char state[32];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0"));
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

TEST_F(grant, grant_uid)
{
	struct svh_reply r;
	char state[32];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0 65534"));
	EXPECT_TRUE(grant_is(self->o.name, "uids", "0 65534"));
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

/* A grant written before its port exists applies to it. */
TEST(grant_before_port)
{
	char name[SVHOST_NAME_LEN];
	struct svh_child ch;
	int fd;

	SVH_NEED_PKU();
	svh_name(name, "early");
	ASSERT_FALSE(svh_port_exists(name));
	ASSERT_EQ(0, svh_grant_set(name, "uids", "65534"));
	EXPECT_TRUE(svh_grant_exists(name));
	SVH_OPEN(fd);
	ASSERT_EQ(0, svh_create(fd, name, NULL));
	ASSERT_EQ(0, svh_child_copier(&ch, name, &nobody, false));
	EXPECT_EQ(0, ch.err);
	EXPECT_EQ(SVH_NOBODY, svh_port_ll(name, "copier_uid"));
	EXPECT_EQ(0, svh_child_end(&ch));
	close(fd);
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
	EXPECT_EQ(0, svh_grant_remove(name));
}

/*
 * The grant outlives its port: the vSwitch restarts and creates the port
 * again, and the same copier principal attaches to the new one (also while
 * its old attachment still holds the old port).
 */
TEST(grant_survives_recreation)
{
	char name[SVHOST_NAME_LEN], buf[64];
	struct svh_child ch, ch2;
	struct svh_reply r;
	int fd;

	SVH_NEED_PKU();
	svh_name(name, "restart");
	SVH_OPEN(fd);
	ASSERT_EQ(0, svh_create(fd, name, NULL));
	ASSERT_EQ(0, svh_grant_set(name, "uids", "65534"));
	ASSERT_EQ(0, svh_child_copier(&ch, name, &nobody, false));
	ASSERT_EQ(0, ch.err);
	/* the vSwitch goes away and comes back */
	close(fd);
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
	ASSERT_EQ(0, svh_child_cmd(&ch, 'h', 0, &r));
	EXPECT_EQ(SVHOST_STATE_OWNER_GONE, r.a);
	ASSERT_EQ(0, svh_grant_str(name, "uids", buf, sizeof(buf)));
	EXPECT_STREQ("65534", buf);
	SVH_OPEN(fd);
	ASSERT_EQ(0, svh_create(fd, name, NULL));
	/* a new copier of the same uid is admitted */
	ASSERT_EQ(0, svh_child_copier(&ch2, name, &nobody, false));
	EXPECT_EQ(0, ch2.err);
	svh_child_end(&ch2);
	/* and the old one re-attaches with a new file */
	ASSERT_EQ(0, svh_child_cmd(&ch, 'a', 0, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(ch.pid, svh_port_ll(name, "copier_pid"));
	EXPECT_EQ(0, svh_child_end(&ch));
	close(fd);
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
	EXPECT_EQ(0, svh_grant_remove(name));
}

TEST_F(grant, grant_egid)
{
	const struct svh_cred egid_b = {
		.drop = true, .uid = SVH_NOBODY, .gid = GID_B,
	};
	const struct svh_cred egid_a = {
		.drop = true, .uid = SVH_NOBODY, .gid = GID_A,
	};
	char buf[64];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "4242"));
	ASSERT_EQ(0, svh_grant_str(self->o.name, "gids", buf, sizeof(buf)));
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

TEST_F(grant, grant_supplementary_gid)
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
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "4242\n"));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &sup_other,
				      false));
	EXPECT_EQ(EPERM, self->ch.err);
	svh_child_end(&self->ch);
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &sup, false));
	EXPECT_EQ(0, self->ch.err);
	EXPECT_EQ(0, svh_child_end(&self->ch));
}

/*
 * A new grant holds uid 0, like the default it replaces; root is not
 * special otherwise: an empty grant refuses it too.
 */
TEST_F(grant, empty_grant_denies_root)
{
	char buf[64];
	long long den0;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_grant_add(self->o.name));
	EXPECT_EQ(-EEXIST, svh_grant_add(self->o.name));
	ASSERT_EQ(0, svh_grant_str(self->o.name, "uids", buf, sizeof(buf)));
	EXPECT_STREQ("0", buf);
	ASSERT_EQ(0, svh_grant_str(self->o.name, "gids", buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "\n"));
	ASSERT_EQ(0, svh_grant_str(self->o.name, "uids", buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	SVH_COUNTER(den0, "denials");
	EXPECT_EQ(-EPERM, svh_copier_start(&self->c, self->o.name));
	EXPECT_EQ(den0 + 1, svh_counter("denials"));
	svh_copier_stop(&self->c);
	/* granting root's group works */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "0"));
	EXPECT_EQ(0, svh_copier_start(&self->c, self->o.name));
}

/* Removing the grant brings back the default, and applies at once. */
TEST_F(grant, remove_restores_default)
{
	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "65534"));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &nobody,
				      false));
	ASSERT_EQ(0, self->ch.err);
	ASSERT_EQ(0, svh_write_file(SVH_SYSFS "/grants/remove",
				    self->o.name));
	EXPECT_FALSE(svh_grant_exists(self->o.name));
	EXPECT_EQ(-ENOENT, svh_write_file(SVH_SYSFS "/grants/remove",
					  self->o.name));
	/* uid 65534 is no longer admitted: revoked with reason ACL */
	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "revoked", 100));
	EXPECT_EQ((__u32)SVHOST_REASON_ACL,
		  ((struct svhost_shm_header *)self->o.hdr)->reason);
	svh_child_end(&self->ch);
	/* and root is, again */
	EXPECT_EQ(0, svh_copier_start(&self->c, self->o.name));
}

TEST_F(grant, add_remove_bad_names)
{
	static const char * const bad[] = {
		"\n", ".", "..", "a/b", "a b", "a@1", "\xc3\xa4",
		"0123456789012345678901234567890123",
	};
	long long inval0;
	unsigned int i;

	SVH_COUNTER(inval0, "invalid_requests");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, svh_write_file(SVH_SYSFS "/grants/add",
						  bad[i]));
		EXPECT_EQ(-EINVAL, svh_write_file(SVH_SYSFS "/grants/remove",
						  bad[i]));
	}
	EXPECT_EQ(inval0 + 2 * (long long)ARRAY_SIZE(bad),
		  svh_counter("invalid_requests"));
	/* a trailing newline is fine */
	ASSERT_EQ(0, svh_grant_remove(self->o.name));
	{
		char nl[SVHOST_NAME_LEN + 1];

		snprintf(nl, sizeof(nl), "%s\n", self->o.name);
		EXPECT_EQ(0, svh_write_file(SVH_SYSFS "/grants/add", nl));
		EXPECT_TRUE(svh_grant_exists(self->o.name));
	}
}

TEST_F(grant, write_formats)
{
	char many[256];
	int i, n = 0;

	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0,65534\n"));
	EXPECT_TRUE(grant_is(self->o.name, "uids", "0 65534"));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "1 2,3\n4"));
	EXPECT_TRUE(grant_is(self->o.name, "uids", "1 2 3 4"));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "5\n6\n7\n"));
	EXPECT_TRUE(grant_is(self->o.name, "gids", "5 6 7"));
	/* 16 ids is the maximum */
	for (i = 1; i <= 16; i++)
		n += snprintf(many + n, sizeof(many) - n, "%s%d",
			      i > 1 ? " " : "", 1000 + i);
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", many));
	EXPECT_TRUE(grant_is(self->o.name, "uids", many));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", many));
	EXPECT_TRUE(grant_is(self->o.name, "gids", many));
	/* large valid ids, and 0 */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "4294967294 0"));
	EXPECT_TRUE(grant_is(self->o.name, "uids", "4294967294 0"));
	/* clearing is an explicit empty write: a lone newline */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "\n"));
	EXPECT_TRUE(grant_is(self->o.name, "gids", ""));
}

TEST_F(grant, bad_writes_einval_unchanged)
{
	static const char * const bad[] = {
		"abc", "12a", "1 2 x", "-1", "0x10", "1;2", "4294967296",
		"4294967295", "99999999999999999999", "1.5", "+", "+7",
		"007", "00", "00000000000000000000000000000007",
		"7 7", "1,2,1", " ", ",", "\n\n", " 1", "1 ", "1,", ",1",
		"1  2", "1,,2", "1\n\n", "1\t2",
	};
	char many[256];
	long long inval0;
	unsigned int i;
	int n = 0, ret;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0 777"));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "888"));
	SVH_COUNTER(inval0, "invalid_requests");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = svh_grant_set(self->o.name, "uids", bad[i]);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("uids \"%s\": %d", bad[i], ret);
		ret = svh_grant_set(self->o.name, "gids", bad[i]);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("gids \"%s\": %d", bad[i], ret);
	}
	/* 17 ids: one too many */
	for (i = 1; i <= 17; i++)
		n += snprintf(many + n, sizeof(many) - n, "%s%u",
			      i > 1 ? " " : "", i);
	EXPECT_EQ(-EINVAL, svh_grant_set(self->o.name, "uids", many));
	EXPECT_EQ(-EINVAL, svh_grant_set(self->o.name, "gids", many));
	EXPECT_TRUE(grant_is(self->o.name, "uids", "0 777"));
	EXPECT_TRUE(grant_is(self->o.name, "gids", "888"));
	EXPECT_EQ(inval0 + 2 * (long long)ARRAY_SIZE(bad) + 2,
		  svh_counter("invalid_requests"));
	/* root is still admitted */
	EXPECT_EQ(0, svh_copier_start(&self->c, self->o.name));
}

TEST_F(grant, cgroup_formats)
{
	static const char * const bad[] = {
		"a", "a/b", "//", "/a//b", "/a/", "/./a", "/a/.", "/a/..",
		"/a/../b", "/a\n\n/b", "\n\n", "/a\x01", "/a\n/a", " /a",
		"/a\n/b\n/c\n/d\n/e\n/f\n/g\n/h\n/i",
	};
	char buf[1024], longp[600];
	unsigned int i;

	ASSERT_EQ(0, svh_grant_set(self->o.name, "cgroups",
				   "/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope\n/\n"));
	ASSERT_EQ(0, svh_grant_str(self->o.name, "cgroups", buf, sizeof(buf)));
	EXPECT_STREQ("/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope\n/", buf);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = svh_grant_set(self->o.name, "cgroups", bad[i]);

		EXPECT_EQ(-EINVAL, ret) TH_LOG("cgroups #%u: %d", i, ret);
	}
	memset(longp, 'x', sizeof(longp));
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	EXPECT_EQ(-EINVAL, svh_grant_set(self->o.name, "cgroups", longp));
	/* unchanged by the refusals */
	ASSERT_EQ(0, svh_grant_str(self->o.name, "cgroups", buf, sizeof(buf)));
	EXPECT_STREQ("/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope\n/", buf);
	ASSERT_EQ(0, svh_grant_set(self->o.name, "cgroups", "\n"));
	ASSERT_EQ(0, svh_grant_str(self->o.name, "cgroups", buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
}

TEST_F(grant, nonroot_write_refused)
{
	char files[3][160];
	unsigned int i;
	pid_t pid;
	int ret;

	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0"));
	snprintf(files[0], sizeof(files[0]), SVH_SYSFS "/grants/add");
	snprintf(files[1], sizeof(files[1]), SVH_SYSFS "/grants/remove");
	snprintf(files[2], sizeof(files[2]), SVH_SYSFS "/grants/%s/uids",
		 self->o.name);
	pid = svh_fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(svh_drop_to(SVH_NOBODY, SVH_NOBODY, 0, NULL) == 0);
		for (i = 0; i < ARRAY_SIZE(files); i++) {
			ret = svh_write_file(files[i], i == 2 ? "65534" :
					     self->o.name);
			/* root only: refused by the file mode */
			CHILD_CHECK(ret == -EACCES || ret == -EPERM);
		}
		_exit(0);
	}
	EXPECT_EQ(0, svh_wait(pid));
	EXPECT_TRUE(grant_is(self->o.name, "uids", "0"));
	EXPECT_TRUE(svh_grant_exists(self->o.name));
}

/* Removing the attached copier's uid revokes it with reason ACL. */
TEST_F(grant, change_revokes_uid)
{
	const struct svhost_shm_header *h = self->o.hdr;
	long long rev0;
	struct svh_reply r;
	__u32 gen;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0 65534"));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &nobody,
				      false));
	ASSERT_EQ(0, self->ch.err);
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 't', 0, &r));
	ASSERT_EQ(0, r.a);
	gen = h->generation;
	SVH_COUNTER(rev0, "revocations");
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0"));
	EXPECT_EQ(rev0 + 1, svh_counter("revocations"));
	EXPECT_EQ(1, svh_port_ll(self->o.name, "revocations"));
	EXPECT_EQ((__u32)SVHOST_STATE_REVOKED, h->state);
	EXPECT_EQ((__u32)SVHOST_REASON_ACL, h->reason);
	EXPECT_EQ(gen + 1, h->generation);
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

TEST_F(grant, change_revokes_gid)
{
	const struct svh_cred sup = {
		.drop = true, .uid = SVH_NOBODY, .gid = SVH_NOBODY,
		.ngroups = 1, .groups = { GID_A },
	};
	struct svh_reply r;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "4242"));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &sup, false));
	ASSERT_EQ(0, self->ch.err);
	/* a write that still admits it changes nothing */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "1 4242"));
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 't', 0, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(0, svh_port_ll(self->o.name, "revocations"));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "\n"));
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

/* Grant writes that keep admitting the copier do not revoke it. */
TEST_F(grant, change_keeps_admitted)
{
	struct svh_fault f;
	long long rev0;

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	SVH_COUNTER(rev0, "revocations");
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "7 0"));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "5"));
	EXPECT_EQ(0, svh_copier_call(&self->c, touch_pool, &f));
	EXPECT_EQ(rev0, svh_counter("revocations"));
	EXPECT_EQ((__u32)SVHOST_STATE_ATTACHED,
		  ((struct svhost_shm_header *)self->o.hdr)->state);
	/* admitted through its group only */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "0"));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "7"));
	EXPECT_EQ(0, svh_copier_call(&self->c, touch_pool, &f));
	EXPECT_EQ(rev0, svh_counter("revocations"));
	/* and finally not at all: revoked, but not killed */
	((volatile __u8 *)self->o.pool)[0] = 0x77;
	ASSERT_EQ(0, svh_grant_set(self->o.name, "gids", "\n"));
	EXPECT_EQ(0, svh_copier_call(&self->c, touch_pool, &f));
	EXPECT_EQ(rev0 + 1, svh_counter("revocations"));
	EXPECT_EQ((__u32)SVHOST_STATE_REVOKED,
		  ((struct svhost_shm_header *)self->o.hdr)->state);
	EXPECT_EQ(0x77, ((volatile __u8 *)self->o.pool)[0]);
}

/* A revocation sticks: only a new grant lets that principal back. */
TEST_F(grant, revoke_sticks_until_new_grant)
{
	struct svh_reply r;
	char buf[64];

	SVH_NEED_PKU();
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "65534"));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &nobody,
				      false));
	ASSERT_EQ(0, self->ch.err);
	ASSERT_EQ(0, svh_port_write(self->o.name, "revoke", "1"));
	/* the grant is withdrawn: it is empty now */
	ASSERT_EQ(0, svh_grant_str(self->o.name, "uids", buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	/* the same copier process, a new file: refused */
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'a', 0, &r));
	EXPECT_EQ(EPERM, r.a);
	/* another process of that uid too */
	ASSERT_EQ(0, svh_child_copier(&self->ch2, self->o.name, &nobody,
				      false));
	EXPECT_EQ(EPERM, self->ch2.err);
	svh_child_end(&self->ch2);
	/* the administrator grants again: back in */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "65534"));
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'a', 0, &r));
	EXPECT_EQ(0, r.a);
	EXPECT_EQ(self->ch.pid, svh_port_ll(self->o.name, "copier_pid"));
	EXPECT_EQ(0, svh_child_end(&self->ch));
}

/* The default grant of uid 0 is withdrawn by a revocation as well. */
TEST_F(grant, revoke_sticks_for_default_root)
{
	SVH_NEED_PKU();
	ASSERT_FALSE(svh_grant_exists(self->o.name));
	ASSERT_EQ(0, svh_copier_start(&self->c, self->o.name));
	ASSERT_EQ(0, svh_port_write(self->o.name, "revoke", "1"));
	EXPECT_TRUE(svh_grant_exists(self->o.name));
	svh_copier_stop(&self->c);
	EXPECT_EQ(-EPERM, svh_copier_start(&self->c, self->o.name));
	svh_copier_stop(&self->c);
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0"));
	EXPECT_EQ(0, svh_copier_start(&self->c, self->o.name));
}

/* A denied attempt leaves the port free for an admitted copier. */
TEST_F(grant, denial_then_admitted)
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

/* --- cgroups ------------------------------------------------------------------ */

#define SVH_NEED_CGROUP2() do {						\
	if (!svh_have_cgroup2())					\
		SKIP(return, "no cgroup v2 at /sys/fs/cgroup");		\
} while (0)

/*
 * Two VMs' copiers with one uid (as libvirt runs them) in two cgroups: a
 * grant of that uid and one VM's cgroup admits only that VM's copier.
 */
TEST_F(grant, cgroup_tells_same_uid_apart)
{
	struct svh_cred vm1 = nobody, vm2 = nobody;
	char buf[128];

	SVH_NEED_PKU();
	SVH_NEED_CGROUP2();
	ASSERT_EQ(0, svh_cgroup_make(self->cg[0]));
	ASSERT_EQ(0, svh_cgroup_make(self->cg[1]));
	vm1.cgroup = self->cg[0];
	vm2.cgroup = self->cg[1];
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "65534"));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "cgroups", self->cg[0]));
	ASSERT_EQ(0, svh_child_copier(&self->ch2, self->o.name, &vm2, false));
	EXPECT_EQ(EPERM, self->ch2.err);
	svh_child_end(&self->ch2);
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &vm1, false));
	EXPECT_EQ(0, self->ch.err);
	ASSERT_EQ(0, svh_port_str(self->o.name, "copier_cgroup", buf,
				  sizeof(buf)));
	EXPECT_STREQ(self->cg[0], buf);
	EXPECT_EQ(0, svh_child_end(&self->ch));
	/* uid and cgroup are ANDed: root in vm1's cgroup is refused */
	{
		struct svh_cred root_vm1 = { .cgroup = self->cg[0] };

		ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name,
					      &root_vm1, false));
		EXPECT_EQ(EPERM, self->ch.err);
		svh_child_end(&self->ch);
	}
}

/* A cgroup grant admits the cgroup's descendants; alone, any uid in it. */
TEST_F(grant, cgroup_descendants)
{
	char child[96];
	struct svh_cred c = nobody;

	SVH_NEED_PKU();
	SVH_NEED_CGROUP2();
	ASSERT_EQ(0, svh_cgroup_make(self->cg[0]));
	snprintf(child, sizeof(child), "%s/vcpu0", self->cg[0]);
	ASSERT_EQ(0, svh_cgroup_make(child));
	c.cgroup = child;
	/* no uid or gid listed (a new grant lists uid 0): any uid */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "\n"));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "cgroups", self->cg[0]));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &c, false));
	EXPECT_EQ(0, self->ch.err);
	svh_child_end(&self->ch);
	EXPECT_EQ(0, svh_wait_port_state(self->o.name, "ready", 2000));
	/* a cgroup whose name only starts the same is not below it */
	ASSERT_EQ(0, svh_cgroup_make(self->cg[1]));
	snprintf(child, sizeof(child), "%sx", self->cg[0]);
	ASSERT_EQ(0, svh_cgroup_make(child));
	c.cgroup = child;
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &c, false));
	EXPECT_EQ(EPERM, self->ch.err);
	svh_child_end(&self->ch);
	svh_cgroup_remove(child);
	snprintf(child, sizeof(child), "%s/vcpu0", self->cg[0]);
	svh_cgroup_remove(child);
}

/*
 * Moving the attached copier to another cgroup keeps it attached (it is
 * judged as it was at attach, also when the grant changes); re-attaching
 * from there is refused.
 */
TEST_F(grant, cgroup_move_after_attach)
{
	struct svh_cred vm1 = nobody;
	struct svh_reply r;

	SVH_NEED_PKU();
	SVH_NEED_CGROUP2();
	ASSERT_EQ(0, svh_cgroup_make(self->cg[0]));
	ASSERT_EQ(0, svh_cgroup_make(self->cg[1]));
	vm1.cgroup = self->cg[0];
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "0 65534"));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "cgroups", self->cg[0]));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &vm1, false));
	ASSERT_EQ(0, self->ch.err);
	ASSERT_EQ(0, svh_cgroup_enter(self->cg[1], self->ch.pid));
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 't', 0, &r));
	EXPECT_EQ(0, r.a);
	/* a grant change judges it by its cgroup at attach: still admitted */
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "65534"));
	EXPECT_EQ(0, svh_port_ll(self->o.name, "revocations"));
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'h', 0, &r));
	EXPECT_EQ(SVHOST_STATE_ATTACHED, r.a);
	/* a new attach is judged where it is now */
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'a', 0, &r));
	EXPECT_EQ(EPERM, r.a);
	EXPECT_EQ(0, svh_child_end(&self->ch));
}

/* Dropping the copier's cgroup from the grant revokes it. */
TEST_F(grant, change_revokes_cgroup)
{
	struct svh_cred vm1 = nobody;
	struct svh_reply r;

	SVH_NEED_PKU();
	SVH_NEED_CGROUP2();
	ASSERT_EQ(0, svh_cgroup_make(self->cg[0]));
	vm1.cgroup = self->cg[0];
	ASSERT_EQ(0, svh_grant_set(self->o.name, "uids", "65534"));
	ASSERT_EQ(0, svh_grant_set(self->o.name, "cgroups", self->cg[0]));
	ASSERT_EQ(0, svh_child_copier(&self->ch, self->o.name, &vm1, false));
	ASSERT_EQ(0, self->ch.err);
	ASSERT_EQ(0, svh_grant_set(self->o.name, "cgroups", self->cg[1]));
	ASSERT_EQ(0, svh_child_cmd(&self->ch, 'h', 0, &r));
	EXPECT_EQ(SVHOST_STATE_REVOKED, r.a);
	EXPECT_EQ(SVHOST_REASON_ACL, r.b);
	EXPECT_EQ(0, svh_child_end(&self->ch));
}

TEST_HARNESS_MAIN
