// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifetime: unloading svhost is refused while a file is open or a
 * mapping exists (also an orphaned copier mapping); once everything is
 * released it unloads, and loading it again (from $SVHOST_KO, default
 * kmod/svhost.ko next to this directory) restores the module parameters.
 * Run this binary last: it reloads the module.
 */
#include "kselftest_harness.h"
#include "svhost_util.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static int delete_module(const char *name, int flags)
{
	return syscall(SYS_delete_module, name, flags) ? -errno : 0;
}

static int finit_module(int fd, const char *params, int flags)
{
	return syscall(SYS_finit_module, fd, params, flags) ? -errno : 0;
}

static bool module_loaded(void)
{
	struct stat st;

	return stat("/sys/module/svhost", &st) == 0;
}

/* Unload must be refused while something holds the module. */
static void expect_unload_refused(struct __test_metadata *_metadata)
{
	int ret = delete_module("svhost", O_NONBLOCK);

	ASSERT_TRUE(ret == -EWOULDBLOCK || ret == -EBUSY)
		TH_LOG("delete_module while in use: %s",
		       ret ? strerror(-ret) : "unloaded!");
	ASSERT_TRUE(module_loaded());
}

static void module_path(char *out, size_t len)
{
	const char *env = getenv("SVHOST_KO");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		snprintf(out, len, "kmod/svhost.ko");
		return;
	}
	exe[n] = 0;
	snprintf(out, len, "%s/../kmod/svhost.ko", dirname(exe));
}

TEST(unload_refused_open_file)
{
	struct svhost_version v;
	int fd;

	SVH_OPEN(fd);
	expect_unload_refused(_metadata);
	/* the file still works */
	EXPECT_EQ(0, svh_version(fd, &v));
	EXPECT_EQ(1U, v.api_version);
	close(fd);
}

TEST(unload_refused_owner_mapping)
{
	struct svhost_layout lay;
	char name[SVHOST_NAME_LEN];
	char *p;
	int fd;

	SVH_OPEN(fd);
	svh_name(name, "rm");
	ASSERT_EQ(0, svh_create(fd, name, &lay));
	p = svh_map(fd, lay.pool_offset, lay.pool_size,
		    PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	close(fd);
	/* only the mapping holds the module now */
	svh_fill(p, SVH_PAGE, 91);
	expect_unload_refused(_metadata);
	EXPECT_EQ(-1, svh_check(p, SVH_PAGE, 91));
	munmap(p, lay.pool_size);
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
}

static int copier_touch(struct svh_copier *c, void *arg)
{
	(void)arg;
	return svh_probe_write(c->pool, 9, NULL);
}

static int copier_close_fd(struct svh_copier *c, void *arg)
{
	(void)arg;
	close(c->fd);
	c->fd = -1;
	return 0;
}

/*
 * An orphaned copier mapping (owner gone, file closed) holds it too, although
 * the port's memory is gone: the mapping shows the copier's scratch page.
 */
TEST(unload_refused_orphan_copier)
{
	long long ports0;
	struct svh_owner o;
	struct svh_copier c;

	SVH_NEED_PKU();
	SVH_COUNTER(ports0, "ports_count");
	ASSERT_EQ(0, svh_owner_setup(&o, "rmo"));
	ASSERT_EQ(0, svh_copier_start(&c, o.name));
	svh_owner_close(&o);
	EXPECT_EQ(0, svh_wait_port_gone(o.name, 2000));
	svh_copier_call(&c, copier_close_fd, NULL);
	EXPECT_EQ(ports0, svh_counter("ports_count"));
	expect_unload_refused(_metadata);
	EXPECT_EQ(0, svh_copier_call(&c, copier_touch, NULL));
	svh_copier_stop(&c);
	EXPECT_EQ(0, svh_wait_counter("ports_count", ports0, 2000));
}

/* Keep last: unload once everything is released, then load again. */
TEST(unload_and_reload)
{
	char ko[PATH_MAX], params[256], name[SVHOST_NAME_LEN];
	struct svh_params saved, now;
	struct svhost_version v;
	int kfd, fd, ret, i;

	module_path(ko, sizeof(ko));
	kfd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, kfd) TH_LOG("module file %s: %s", ko, strerror(errno));
	ASSERT_EQ(0, svh_params_save(&saved));
	ASSERT_EQ(0, svh_wait_counter("ports_count", 0, 2000))
		TH_LOG("ports still alive: cannot unload");
	snprintf(params, sizeof(params),
		 "max_ports=%s max_pool_mib=%s max_port_pool_mib=%s "
		 "require_pkey=%s", saved.max_ports, saved.max_pool_mib,
		 saved.max_port_pool_mib, saved.require_pkey);

	/* a file closed a moment ago may still be on its way out */
	for (i = 0; i < 100; i++) {
		ret = delete_module("svhost", O_NONBLOCK);
		if (ret != -EWOULDBLOCK && ret != -EBUSY)
			break;
		usleep(20000);
	}
	ASSERT_EQ(0, ret) TH_LOG("delete_module: %s", strerror(-ret));
	EXPECT_FALSE(module_loaded());
	fd = svh_open();
	EXPECT_TRUE(fd == -ENOENT || fd == -ENODEV || fd == -ENXIO)
		TH_LOG("open after unload: %d", fd);
	if (fd >= 0)
		close(fd);

	ret = finit_module(kfd, params, 0);
	ASSERT_EQ(0, ret) TH_LOG("finit_module(%s, \"%s\"): %s", ko, params,
				 strerror(-ret));
	close(kfd);
	ASSERT_TRUE(module_loaded());
	ASSERT_EQ(0, svh_params_save(&now));
	EXPECT_STREQ(saved.max_ports, now.max_ports);
	EXPECT_STREQ(saved.max_pool_mib, now.max_pool_mib);
	EXPECT_STREQ(saved.max_port_pool_mib, now.max_port_pool_mib);
	EXPECT_STREQ(saved.require_pkey, now.require_pkey);

	/* the device node may take a moment to appear */
	for (i = 0; i < 100; i++) {
		fd = svh_open();
		if (fd >= 0)
			break;
		usleep(20000);
	}
	ASSERT_LE(0, fd) TH_LOG("open after reload: %s", strerror(-fd));
	ASSERT_EQ(0, svh_version(fd, &v));
	EXPECT_EQ(1U, v.api_version);
	EXPECT_EQ(0, svh_counter("ports_count"));
	EXPECT_EQ(0, svh_counter("pool_bytes"));
	EXPECT_EQ(0, svh_counter("attaches"));
	/* and it works */
	svh_name(name, "reload");
	EXPECT_EQ(0, svh_create(fd, name, NULL));
	EXPECT_TRUE(svh_port_exists(name));
	close(fd);
	EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
}

TEST_HARNESS_MAIN
