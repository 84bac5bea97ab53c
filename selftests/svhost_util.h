/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the /dev/svhost selftests: opening the device, creating
 * and attaching ports, sysfs and module parameter access, fault probing,
 * protection keys, worker threads and child processes.  Helpers return 0 or
 * -errno and never abort, so they can also be used in forked children.
 */
#ifndef SVHOST_UTIL_H
#define SVHOST_UTIL_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <linux/svhost.h>

#define SVH_DEV			"/dev/svhost"
#define SVH_SYSFS		"/sys/kernel/svhost"
#define SVH_PARAMS		"/sys/module/svhost/parameters"

#define SVH_PAGE		4096UL
#define SVH_MIB			(1UL << 20)
#define SVH_NOBODY		65534

/* Default geometry for tests: one queue pair, 64-slot rings, 2 MiB pool. */
#define SVH_DEF_QP		1
#define SVH_DEF_RING		64
#define SVH_DEF_BUF_SIZE	2048
#define SVH_DEF_BUF_COUNT	1024

/* Value returned by the counter readers on error. */
#define SVH_BAD			LLONG_MIN

/*
 * Checks for forked children: they must not use the harness macros, so they
 * print a diagnostic on stderr and exit with status 1.
 */
#define CHILD_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "# child %d: %s:%d: check failed: %s "	\
			"(errno %d %s)\n", getpid(), __FILE__, __LINE__, \
			#cond, errno, strerror(errno));			\
		_exit(1);						\
	}								\
} while (0)

/* --- device and ports ----------------------------------------------------- */

int svh_open(void);
int svh_open_path(const char *path);
void svh_name(char *buf, const char *tag);
int svh_version(int fd, struct svhost_version *v);
void svh_create_args(struct svhost_port_create *c, const char *name,
		     __u32 qp, __u32 ring, __u32 buf_size, __u32 buf_count);
int svh_create_raw(int fd, struct svhost_port_create *c);
int svh_create(int fd, const char *name, struct svhost_layout *lay);
int svh_create_geom(int fd, const char *name, __u32 qp, __u32 ring,
		    __u32 buf_size, __u32 buf_count, struct svhost_layout *lay);
int svh_attach_raw(int fd, struct svhost_copier_attach *a);
int svh_attach(int fd, const char *name, int pkey, struct svhost_layout *lay);
void *svh_map(int fd, __u64 off, size_t len, int prot);
int svh_map_err(int fd, __u64 off, size_t len, int prot, int flags);
__u64 svh_expected_pool(__u32 buf_size, __u32 buf_count);

/* A character device node with exec allowed, see svh_open_exec(). */
int svh_open_exec(void);

/* --- sysfs ------------------------------------------------------------------ */

int svh_read_file(const char *path, char *buf, size_t len);
int svh_write_file(const char *path, const char *s);
long long svh_read_ll(const char *path);
long long svh_counter(const char *name);
long long svh_port_ll(const char *port, const char *attr);
int svh_port_str(const char *port, const char *attr, char *buf, size_t len);
int svh_port_write(const char *port, const char *attr, const char *s);
bool svh_port_exists(const char *port);
int svh_param_read(const char *name, char *buf, size_t len);
int svh_param_write(const char *name, const char *s);
long long svh_param_ll(const char *name);
int svh_wait_counter(const char *name, long long want, int ms);
int svh_wait_port_gone(const char *port, int ms);
int svh_wait_port_state(const char *port, const char *state, int ms);
int svh_parse_ids(const char *s, long long *ids, int max);
bool svh_ids_equal(const char *a, const char *b);
const char *svh_escape(const char *s, size_t max, char *out, size_t len);

/* Saved module parameters, restored by svh_params_restore(). */
struct svh_params {
	char max_ports[32];
	char max_pool_mib[32];
	char max_port_pool_mib[32];
	char require_pkey[32];
	bool saved;
};
int svh_params_save(struct svh_params *p);
int svh_params_restore(const struct svh_params *p);

/* --- memory, maps and faults ------------------------------------------------ */

struct svh_fault {
	int sig;
	int code;
	int pkey;
	void *addr;
};

int svh_probe_read(const volatile void *addr, __u8 *val, struct svh_fault *f);
int svh_probe_write(volatile void *addr, __u8 val, struct svh_fault *f);
int svh_smaps(const void *addr, int *pkey, char *vmflags, size_t len);
bool svh_vmflag(const char *vmflags, const char *flag);
int svh_maps_line(const void *addr, char *line, size_t len);

void svh_fill(void *buf, size_t len, __u64 seed);
long svh_check(const void *buf, size_t len, __u64 seed);
long svh_nonzero(const void *buf, size_t len);

/*
 * Hold a kernel copy_to_user() into a page: the page is write-protected
 * with userfaultfd, so the first write to it blocks the writer until
 * svh_uffd_release().  Lets a test act in the middle of an ioctl.
 */
struct svh_uffd {
	int fd;
	void *page;
};

int svh_uffd_protect(struct svh_uffd *u, const void *init, size_t len);
int svh_uffd_wait(struct svh_uffd *u, int ms);
int svh_uffd_release(struct svh_uffd *u, bool fail_copy);

static inline struct svhost_ring *svh_ring(void *rings,
					   const struct svhost_layout *lay,
					   unsigned int idx)
{
	return (struct svhost_ring *)((char *)rings +
				      (size_t)idx * lay->ring_stride);
}

/* --- protection keys --------------------------------------------------------- */

bool svh_have_pku(void);
unsigned int svh_rdpkru(void);
void svh_wrpkru(unsigned int pkru);

/* --- credentials --------------------------------------------------------------- */

int svh_drop_to(uid_t uid, gid_t gid, int ngroups, const gid_t *groups);
int svh_drop_cap(int cap);

/* --- processes and threads ------------------------------------------------------- */

pid_t svh_fork(void);
int svh_wait(pid_t pid);
int svh_wait_ms(pid_t pid, int ms);
#define SVH_WAIT_SIG(sig)	(1000 + (sig))
#define SVH_WAIT_TIMEOUT	(-2)

struct svh_worker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int (*fn)(void *arg);
	void *arg;
	int ret;
	bool busy;
	bool stop;
	bool started;
	pid_t tid;
};

int svh_worker_start(struct svh_worker *w);
int svh_worker_call(struct svh_worker *w, int (*fn)(void *), void *arg);
void svh_worker_stop(struct svh_worker *w);

/* --- owner and copier contexts --------------------------------------------------- */

struct svh_owner {
	int fd;
	char name[SVHOST_NAME_LEN];
	struct svhost_layout lay;
	void *hdr;
	void *rings;
	void *pool;
};

int svh_owner_setup(struct svh_owner *o, const char *tag);
int svh_owner_setup_geom(struct svh_owner *o, const char *tag, __u32 qp,
			 __u32 ring, __u32 buf_size, __u32 buf_count);
void svh_owner_unmap(struct svh_owner *o);
void svh_owner_close(struct svh_owner *o);

/*
 * A copier: a worker thread that allocated a protection key (its PKRU
 * allows the key, no other thread's does), attached and mapped the header,
 * the rings and the pool.  Everything touching rings or pool runs on the
 * worker with svh_copier_call().
 */
struct svh_copier {
	struct svh_worker w;
	int fd;
	int pre_fd;
	int pkey;
	bool no_pkey;
	char name[SVHOST_NAME_LEN];
	struct svhost_layout lay;
	void *hdr;
	void *rings;
	void *pool;
	int err;
	const char *step;
};

int svh_copier_start(struct svh_copier *c, const char *name);
int svh_copier_start_nokey(struct svh_copier *c, const char *name);
int svh_copier_call(struct svh_copier *c, int (*fn)(struct svh_copier *,
						    void *), void *arg);
int svh_copier_unmap(struct svh_copier *c);
void svh_copier_stop(struct svh_copier *c);

int svh_copier_start_fd(struct svh_copier *c, const char *name, int fd);

/*
 * A copier in a forked child process, driven over pipes.  The child drops
 * to the given credentials (if drop), allocates a protection key (unless
 * no_pkey), opens the device, attaches and maps header, rings and pool,
 * then reports and serves commands:
 *
 *   't'  touch pool[0] and rings[0]     -> { pool signal, si_code, rings signal }
 *   'f'  fill the pool with seed arg    -> { signal or 0 }
 *   'v'  verify the pool with seed arg  -> { signal or 0, mismatch (0/1) }
 *   'z'  scan pool and rings            -> { signal or 0, first non-zero
 *                                           byte of the pool or -1, same
 *                                           for the rings }
 *   'h'  read the header                -> { state, reason, generation }
 *   'm'  mmap the pool again            -> { 0 or errno }
 *   'u'  unmap everything               -> { 0 }
 *   'c'  close the file                 -> { 0 }
 *   'x'  exit(0)
 */
struct svh_cred {
	bool drop;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[4];
};

struct svh_reply {
	int a, b, c, d;
};

struct svh_child {
	pid_t pid;
	int cmd;	/* parent -> child */
	int ev;		/* child -> parent */
	int err;	/* attach result: 0 or errno */
	int pkey;
	pid_t tid;
	struct svhost_layout lay;
};

int svh_child_copier(struct svh_child *ch, const char *name,
		     const struct svh_cred *cred, bool no_pkey);
int svh_child_cmd(struct svh_child *ch, char cmd, __u64 arg,
		  struct svh_reply *r);
int svh_child_end(struct svh_child *ch);
int svh_child_kill(struct svh_child *ch);

/*
 * The test VM runs under TCG, 10-50 times slower than native: give each
 * test more than the harness default of 30 s.
 */
#ifdef __KSELFTEST_HARNESS_H
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 150

/* Open /dev/svhost or fail the test. */
#define SVH_OPEN(fd) do {						\
	(fd) = svh_open();						\
	ASSERT_LE(0, (fd))						\
		TH_LOG("open " SVH_DEV ": %s", strerror(-(fd)));	\
} while (0)

/* Tests that attach a copier need protection keys (require_pkey=Y). */
#define SVH_NEED_PKU() do {						\
	if (!svh_have_pku())						\
		SKIP(return, "CPU without protection keys");		\
} while (0)

/* Read a global counter, failing the test when it cannot be read. */
#define SVH_COUNTER(var, name) do {					\
	(var) = svh_counter(name);					\
	ASSERT_NE(SVH_BAD, (var))					\
		TH_LOG("cannot read " SVH_SYSFS "/%s", name);		\
} while (0)
#endif

#endif /* SVHOST_UTIL_H */
