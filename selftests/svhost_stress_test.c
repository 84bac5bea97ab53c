// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded stress and fuzz runs: processes creating ports and attaching,
 * mapping and killing copiers concurrently; random ioctls, mmaps and sysfs
 * writes checked against the rules of docs/API.md.  Fixed seeds and
 * iteration caps; every run must end with the counters at baseline.
 */
#include "kselftest_harness.h"
#include "svhost_util.h"

#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>

/* --- random numbers ---------------------------------------------------------- */

static __u64 rng_state;

static void rng_seed(__u64 seed)
{
	rng_state = seed ? seed : 1;
}

static __u64 rnd(void)
{
	__u64 x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static __u32 rnd_below(__u32 n)
{
	return n ? (__u32)(rnd() % n) : 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* --- stress -------------------------------------------------------------------- */

#define STRESS_WORKERS		8
#define STRESS_SECONDS		10.0
#define STRESS_MAX_ITERS	40

/* Copier child of a stress worker; exit 0 or killed, anything else fails. */
static void stress_copier(const char *name, int ready_fd, __u64 seed)
{
	struct svhost_layout lay;
	void *pool, *rings, *hdr;
	int fd, pkey, ret;
	char c;

	rng_seed(seed);
	pkey = pkey_alloc(0, 0);
	CHILD_CHECK(pkey > 0);
	fd = svh_open();
	CHILD_CHECK(fd >= 0);
	ret = svh_attach(fd, name, pkey, &lay);
	if (ret) {
		c = (char)-ret;
		CHILD_CHECK(write(ready_fd, &c, 1) == 1);
		CHILD_CHECK(ret == 0);
	}
	hdr = svh_map(fd, 0, lay.header_size, PROT_READ);
	rings = svh_map(fd, lay.rings_offset, lay.rings_size,
			PROT_READ | PROT_WRITE);
	pool = svh_map(fd, lay.pool_offset, lay.pool_size,
		       PROT_READ | PROT_WRITE);
	CHILD_CHECK(hdr != MAP_FAILED && rings != MAP_FAILED &&
		    pool != MAP_FAILED);
	CHILD_CHECK(((struct svhost_shm_header *)hdr)->state ==
		    SVHOST_STATE_ATTACHED);
	CHILD_CHECK(svh_check(pool, SVH_PAGE, 0x5eed) < 0);
	svh_fill((char *)pool + SVH_PAGE, SVH_PAGE, 0xc0c0);
	((volatile char *)rings)[0] = 1;
	c = 0;
	CHILD_CHECK(write(ready_fd, &c, 1) == 1);
	/* the owner may be gone by now: then this lands in the scratch page */
	svh_fill((char *)pool + 2 * SVH_PAGE, SVH_PAGE, 0xc0c1);
	switch (rnd_below(4)) {
	case 0:
		munmap(pool, lay.pool_size);
		munmap(rings, lay.rings_size);
		munmap(hdr, lay.header_size);
		close(fd);
		_exit(0);
	case 1:
		close(fd);
		munmap(pool, lay.pool_size);
		_exit(0);
	case 2:
		_exit(0);
	default:
		for (;;)
			pause();
	}
}

static int stress_worker(int id, double deadline, __u64 seed)
{
	static const __u32 rings[] = { 64, 128, 256 };
	int i, iters = 0;

	rng_seed(seed);
	for (i = 0; i < STRESS_MAX_ITERS && now_s() < deadline; i++) {
		char name[SVHOST_NAME_LEN];
		struct svhost_layout lay;
		__u32 bsize = rnd_below(2) ? 2048 : 4096;
		__u32 count = (rnd_below(2) + 1) * ((2 << 20) / bsize) -
			      rnd_below(3);
		int fd, ret, pfd[2], status = 0;
		char c = 0;
		void *pool;
		pid_t pid;

		snprintf(name, sizeof(name), "st%d-%d-%d", id, getpid(), i);
		fd = svh_open();
		CHILD_CHECK(fd >= 0);
		ret = svh_create_geom(fd, name, 1 + rnd_below(2),
				      rings[rnd_below(3)], bsize, count, &lay);
		if (ret == -ENOMEM) {
			close(fd);
			continue;
		}
		CHILD_CHECK(ret == 0);
		pool = svh_map(fd, lay.pool_offset, lay.pool_size,
			       PROT_READ | PROT_WRITE);
		CHILD_CHECK(pool != MAP_FAILED);
		svh_fill(pool, SVH_PAGE, 0x5eed);
		CHILD_CHECK(pipe(pfd) == 0);
		pid = svh_fork();
		CHILD_CHECK(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			stress_copier(name, pfd[1], rnd());
		}
		close(pfd[1]);
		switch (rnd_below(3)) {
		case 0:
			/* kill at a random moment, maybe before attaching */
			sleep_us(rnd_below(3000));
			kill(pid, SIGKILL);
			break;
		case 1:
			/* let it attach, then the owner goes first */
			if (read(pfd[0], &c, 1) == 1 && c == 0) {
				munmap(pool, lay.pool_size);
				pool = MAP_FAILED;
				close(fd);
				fd = -1;
			}
			sleep_us(rnd_below(2000));
			kill(pid, SIGKILL);
			break;
		default:
			/* let it attach and finish (or kill a sleeper) */
			if (read(pfd[0], &c, 1) == 1)
				CHILD_CHECK(c == 0);
			sleep_us(rnd_below(2000));
			if (waitpid(pid, &status, WNOHANG) == 0)
				kill(pid, SIGKILL);
			else
				pid = 0;
			break;
		}
		if (pid > 0)
			CHILD_CHECK(waitpid(pid, &status, 0) == pid);
		CHILD_CHECK(WIFSIGNALED(status) ? WTERMSIG(status) == SIGKILL :
			    WEXITSTATUS(status) == 0);
		close(pfd[0]);
		if (pool != MAP_FAILED) {
			/* the copier is gone: the port is ready again */
			CHILD_CHECK(svh_wait_port_state(name, "ready", 5000) ==
				    0);
			munmap(pool, lay.pool_size);
		}
		if (fd >= 0)
			close(fd);
		iters++;
	}
	return iters > 0 ? 0 : 5;
}

TEST(stress_create_attach_kill)
{
	long long ports0, bytes0, att0;
	pid_t pids[STRESS_WORKERS];
	double deadline;
	int i, st, kills = 0, respawns = 0;

	SVH_NEED_PKU();
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	SVH_COUNTER(att0, "attaches");
	rng_seed(0x5712e55);
	deadline = now_s() + STRESS_SECONDS;
	for (i = 0; i < STRESS_WORKERS; i++) {
		__u64 seed = rnd();

		pids[i] = svh_fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0)
			_exit(stress_worker(i, deadline, seed));
	}
	/* randomly SIGKILL whole workers (owner and, via PDEATHSIG, copier) */
	while (now_s() < deadline - 1.0) {
		sleep_us(200000 + rnd_below(400000));
		if (rnd_below(3))
			continue;
		i = rnd_below(STRESS_WORKERS);
		kill(pids[i], SIGKILL);
		st = svh_wait(pids[i]);
		EXPECT_TRUE(st == 0 || st == SVH_WAIT_SIG(SIGKILL))
			TH_LOG("worker %d ended with %d", i, st);
		kills++;
		if (now_s() < deadline - 1.0) {
			__u64 seed = rnd();

			pids[i] = svh_fork();
			ASSERT_LE(0, pids[i]);
			if (pids[i] == 0)
				_exit(stress_worker(i + STRESS_WORKERS *
						    (respawns + 1),
						    deadline, seed));
			respawns++;
		} else {
			pids[i] = 0;
		}
	}
	for (i = 0; i < STRESS_WORKERS; i++) {
		if (!pids[i])
			continue;
		st = svh_wait_ms(pids[i], 60000);
		EXPECT_EQ(0, st) TH_LOG("worker %d ended with %d", i, st);
	}
	TH_LOG("%d worker kills, %lld attaches", kills,
	       svh_counter("attaches") - att0);
	EXPECT_LT(att0 + STRESS_WORKERS, svh_counter("attaches"));
	EXPECT_EQ(0, svh_wait_counter("ports_count", ports0, 5000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", bytes0, 5000));
}

/* --- races ------------------------------------------------------------------------ */

#define RACERS		6
#define RACE_ROUNDS	15

/*
 * Start n children that block until released, run fn(i, arg) at the same
 * moment, report its int result, and exit when told.  Returns 0 and fills
 * res[] with the results.
 */
struct race {
	pid_t pid[RACERS];
	int go[2], res[2], quit[2];
	int n;
};

static int race_start(struct race *r, int n, int (*fn)(int, void *),
		      void *arg)
{
	int i;

	r->n = n;
	if (pipe(r->go) || pipe(r->res) || pipe(r->quit))
		return -errno;
	for (i = 0; i < n; i++) {
		r->pid[i] = svh_fork();
		if (r->pid[i] < 0)
			return -errno;
		if (r->pid[i] == 0) {
			int v[2];
			char c;

			close(r->go[1]);
			close(r->quit[1]);
			if (read(r->go[0], &c, 1) < 0)
				_exit(2);
			v[0] = i;
			v[1] = fn(i, arg);
			CHILD_CHECK(write(r->res[1], v, sizeof(v)) ==
				    sizeof(v));
			if (read(r->quit[0], &c, 1) < 0)
				_exit(2);
			_exit(0);
		}
	}
	close(r->go[0]);
	close(r->quit[0]);
	close(r->res[1]);
	return 0;
}

/* Release all racers at once and collect their results by index. */
static int race_run(struct race *r, int *out)
{
	int i, v[2];

	close(r->go[1]);
	for (i = 0; i < r->n; i++) {
		if (read(r->res[0], v, sizeof(v)) != sizeof(v))
			return -EPIPE;
		out[v[0]] = v[1];
	}
	return 0;
}

static int race_end(struct race *r)
{
	int i, bad = 0;

	close(r->quit[1]);
	close(r->res[0]);
	for (i = 0; i < r->n; i++)
		if (svh_wait_ms(r->pid[i], 20000))
			bad++;
	return bad;
}

static int race_create(int i, void *arg)
{
	int fd = svh_open();

	(void)i;
	return fd < 0 ? -fd + 1000 : -svh_create(fd, arg, NULL);
}

/* Racing creators of one name: exactly one wins, the rest get EEXIST. */
TEST(race_create_same_name)
{
	long long ports0, bytes0;
	int round, i, res[RACERS];

	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	for (round = 0; round < RACE_ROUNDS; round++) {
		char name[SVHOST_NAME_LEN];
		struct race r;
		int wins = 0;

		svh_name(name, "rc");
		ASSERT_EQ(0, race_start(&r, RACERS, race_create, name));
		ASSERT_EQ(0, race_run(&r, res));
		for (i = 0; i < RACERS; i++) {
			if (res[i] == 0)
				wins++;
			else
				EXPECT_EQ(EEXIST, res[i]);
		}
		EXPECT_EQ(1, wins);
		EXPECT_EQ(ports0 + 1, svh_counter("ports_count"));
		EXPECT_EQ(0, race_end(&r));
		EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
	}
	EXPECT_EQ(0, svh_wait_counter("ports_count", ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", bytes0, 2000));
}

static int race_attach(int i, void *arg)
{
	int fd = svh_open(), pkey = pkey_alloc(0, 0);
	struct svhost_layout lay;
	void *p;
	int ret;

	(void)i;
	if (fd < 0 || pkey < 0)
		return 1000;
	ret = svh_attach(fd, arg, pkey, &lay);
	if (ret)
		return -ret;
	p = svh_map(fd, lay.pool_offset, lay.pool_size, PROT_READ | PROT_WRITE);
	if (p == MAP_FAILED)
		return 2000 + errno;
	svh_fill(p, SVH_PAGE, 0x7ace);
	return 0;
}

/* Racing copiers of one port: exactly one attaches, the rest get EBUSY. */
TEST(race_attach_same_port)
{
	long long ports0, bytes0, att0;
	int round, i, res[RACERS];
	struct svh_owner o;

	SVH_NEED_PKU();
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	SVH_COUNTER(att0, "attaches");
	ASSERT_EQ(0, svh_owner_setup(&o, "ra"));
	for (round = 0; round < RACE_ROUNDS; round++) {
		struct race r;
		int wins = 0;

		memset(o.pool, 0, SVH_PAGE);
		ASSERT_EQ(0, race_start(&r, RACERS, race_attach, o.name));
		ASSERT_EQ(0, race_run(&r, res));
		for (i = 0; i < RACERS; i++) {
			if (res[i] == 0)
				wins++;
			else
				EXPECT_EQ(EBUSY, res[i]);
		}
		EXPECT_EQ(1, wins);
		EXPECT_EQ(-1, svh_check(o.pool, SVH_PAGE, 0x7ace));
		EXPECT_EQ(0, race_end(&r));
		EXPECT_EQ(0, svh_wait_port_state(o.name, "ready", 2000));
	}
	EXPECT_EQ(att0 + RACE_ROUNDS, svh_counter("attaches"));
	EXPECT_EQ(RACE_ROUNDS, svh_port_ll(o.name, "attaches"));
	svh_owner_close(&o);
	EXPECT_EQ(0, svh_wait_counter("ports_count", ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", bytes0, 2000));
}

static void *revoke_thread(void *arg)
{
	const char *name = arg;

	return (void *)(long)svh_port_write(name, "revoke", "1");
}

/*
 * Revocation racing with the copier's death, and an ACL write racing with
 * a new attachment: every outcome allowed by the API, nothing leaked.
 */
TEST(race_revoke_vs_exit)
{
	long long ports0, bytes0;
	struct svh_owner o;
	int round;

	SVH_NEED_PKU();
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	ASSERT_EQ(0, svh_owner_setup(&o, "rr"));
	rng_seed(0x4ace);
	for (round = 0; round < 3 * RACE_ROUNDS; round++) {
		struct svh_child ch;
		pthread_t th;
		void *ret;

		ASSERT_EQ(0, svh_port_write(o.name, "allowed_uids", "0"));
		ASSERT_EQ(0, svh_child_copier(&ch, o.name, NULL, false));
		ASSERT_EQ(0, ch.err);
		if (round & 1) {
			ASSERT_EQ(0, pthread_create(&th, NULL, revoke_thread,
						    o.name));
		} else {
			ASSERT_EQ(0, svh_port_write(o.name, "allowed_uids",
						    "5"));
			th = 0;
		}
		sleep_us(rnd_below(1000));
		kill(ch.pid, SIGKILL);
		if (th) {
			pthread_join(th, &ret);
			EXPECT_TRUE((long)ret == 0 || (long)ret == -ENOENT)
				TH_LOG("revoke: %ld", (long)ret);
		}
		EXPECT_EQ(SVH_WAIT_SIG(SIGKILL), svh_child_kill(&ch));
		/*
		 * No copier any more: "ready", or "revoked" if the
		 * revocation won (API.md leaves open which one stays once
		 * the revoked copier is gone).  The next round's attach
		 * checks that the port takes a new copier either way.
		 */
		EXPECT_TRUE(!svh_wait_port_state(o.name, "ready", 500) ||
			    !svh_wait_port_state(o.name, "revoked", 0));
		EXPECT_EQ(-1, svh_port_ll(o.name, "copier_pid"));
	}
	svh_owner_close(&o);
	EXPECT_EQ(0, svh_wait_counter("ports_count", ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", bytes0, 2000));
}

/* The owner exits while a copier attaches: ENOENT or an orphan. */
TEST(race_owner_exit_vs_attach)
{
	long long ports0, bytes0;
	int round, okc = 0;

	SVH_NEED_PKU();
	SVH_COUNTER(ports0, "ports_count");
	SVH_COUNTER(bytes0, "pool_bytes");
	rng_seed(0x0e1d);
	for (round = 0; round < 3 * RACE_ROUNDS; round++) {
		char name[SVHOST_NAME_LEN], c;
		int pfd[2], fd, pkey, ret;
		struct svhost_layout lay;
		pid_t owner;
		void *p;

		svh_name(name, "roa");
		ASSERT_EQ(0, pipe(pfd));
		owner = svh_fork();
		ASSERT_LE(0, owner);
		if (owner == 0) {
			fd = svh_open();
			CHILD_CHECK(svh_create(fd, name, NULL) == 0);
			CHILD_CHECK(write(pfd[1], "r", 1) == 1);
			sleep_us(rnd_below(1500));
			_exit(0);
		}
		ASSERT_EQ(1, read(pfd[0], &c, 1));
		close(pfd[0]);
		close(pfd[1]);
		fd = svh_open();
		ASSERT_LE(0, fd);
		pkey = pkey_alloc(0, PKEY_DISABLE_ACCESS);
		ASSERT_LT(0, pkey);
		ret = svh_attach(fd, name, pkey, &lay);
		EXPECT_TRUE(ret == 0 || ret == -ENOENT) TH_LOG("attach %d", ret);
		if (!ret) {
			okc++;
			p = svh_map(fd, lay.pool_offset, lay.pool_size,
				    PROT_READ | PROT_WRITE);
			EXPECT_TRUE(p != MAP_FAILED || errno == EACCES);
			if (p != MAP_FAILED)
				munmap(p, lay.pool_size);
		}
		EXPECT_EQ(0, svh_wait(owner));
		close(fd);
		pkey_free(pkey);
		EXPECT_EQ(0, svh_wait_port_gone(name, 2000));
	}
	TH_LOG("%d of %d attaches won the race", okc, 3 * RACE_ROUNDS);
	EXPECT_EQ(0, svh_wait_counter("ports_count", ports0, 2000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", bytes0, 2000));
}

/* --- fuzz helpers ----------------------------------------------------------------- */

/*
 * Fuzz checks do not stop the run: every violation is counted (the first
 * ones logged) and the test fails at the end if there was any.
 */
static unsigned int fz_bad;

#define FZ_CHECK(cond, fmt, ...) do {					\
	if (!(cond) && fz_bad++ < 10)					\
		fprintf(stderr, "# %s:%d: violated: %s: " fmt "\n",	\
			__FILE__, __LINE__, #cond, ##__VA_ARGS__);	\
} while (0)

/* --- ioctl fuzz ------------------------------------------------------------------ */

#define FUZZ_FDS	4
#define FUZZ_PORTS	3	/* max_ports above baseline */
#define FUZZ_PORT_MIB	8
#define FUZZ_IOCTLS	10000

enum { ROLE_NONE, ROLE_OWNER, ROLE_COPIER };

struct fz_fd {
	int fd;
	int role;
	char name[SVHOST_NAME_LEN];	/* port owned or attached */
};

struct fz {
	struct fz_fd f[FUZZ_FDS];
	int pkey;
	long long ports0;
};

static bool name_valid(const char *n)
{
	size_t len = strnlen(n, SVHOST_NAME_LEN), i;

	if (len == 0 || len == SVHOST_NAME_LEN)
		return false;
	if (!strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (i = 0; i < len; i++) {
		char c = n[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

static bool pow2_in(__u32 v, __u32 lo, __u32 hi)
{
	return v >= lo && v <= hi && !(v & (v - 1));
}

static int fz_owner_of(struct fz *z, const char *name)
{
	int i;

	for (i = 0; i < FUZZ_FDS; i++)
		if (z->f[i].role == ROLE_OWNER &&
		    !strncmp(z->f[i].name, name, SVHOST_NAME_LEN))
			return i;
	return -1;
}

static bool fz_has_copier(struct fz *z, const char *name)
{
	int i;

	for (i = 0; i < FUZZ_FDS; i++)
		if (z->f[i].role == ROLE_COPIER &&
		    !strncmp(z->f[i].name, name, SVHOST_NAME_LEN))
			return true;
	return false;
}

static void fz_reopen(struct fz *z, int i)
{
	int j;

	/* closing an owner orphans its copier file */
	if (z->f[i].role == ROLE_OWNER)
		for (j = 0; j < FUZZ_FDS; j++)
			if (z->f[j].role == ROLE_COPIER &&
			    !strcmp(z->f[j].name, z->f[i].name))
				z->f[j].name[0] = 0;
	close(z->f[i].fd);
	z->f[i].fd = svh_open();
	z->f[i].role = ROLE_NONE;
	z->f[i].name[0] = 0;
}

static void fz_rand_name(char *name)
{
	unsigned int len, i;

	memset(name, 0, SVHOST_NAME_LEN);
	switch (rnd_below(4)) {
	case 0:
	case 1:
		snprintf(name, SVHOST_NAME_LEN, "fz%u", rnd_below(6));
		break;
	case 2:
		len = rnd_below(SVHOST_NAME_LEN + 1);
		for (i = 0; i < len && i < SVHOST_NAME_LEN; i++)
			name[i] = "aZ9._-/\n .\x01\xff"[rnd_below(13)];
		break;
	default:
		for (i = 0; i < SVHOST_NAME_LEN; i++)
			name[i] = (char)rnd();
		break;
	}
}

static __u32 fz_interesting(void)
{
	static const __u32 v[] = {
		0, 1, 2, 3, 63, 64, 65, 128, 256, 2047, 2048, 2049, 4096,
		32768, 32769, 65536, 65537, 1U << 20, (1U << 20) + 1,
		0x7fffffff, 0x80000000, 0xffffffff,
	};

	return rnd_below(4) ? v[rnd_below(ARRAY_SIZE(v))] : (__u32)rnd();
}

static void fz_make_create(struct svhost_port_create *c)
{
	static const __u32 bs[] = { 2048, 4096, 65536 };

	memset(c, 0, sizeof(*c));
	c->queue_pairs = 1 + rnd_below(2);
	c->ring_size = 64 << rnd_below(3);
	c->buf_size = bs[rnd_below(3)];
	c->buf_count = 1 + rnd_below((4 << 20) / c->buf_size);
	fz_rand_name(c->name);
	if (rnd_below(3))
		snprintf(c->name, SVHOST_NAME_LEN, "fz%u", rnd_below(6));
	switch (rnd_below(10)) {
	case 0:
		c->flags = fz_interesting();
		break;
	case 1:
		c->reserved = fz_interesting();
		break;
	case 2:
		c->queue_pairs = fz_interesting();
		break;
	case 3:
		c->ring_size = fz_interesting();
		break;
	case 4:
		c->buf_size = fz_interesting();
		break;
	case 5:
		c->buf_count = fz_interesting();
		break;
	case 6:
		fz_rand_name(c->name);
		break;
	default:
		break;
	}
}

static void fz_make_attach(struct fz *z, struct svhost_copier_attach *a)
{
	static const int keys[] = { -1, 0, 16, 1000, -2 };
	int i;

	memset(a, 0, sizeof(*a));
	a->pkey = z->pkey;
	a->generation = (__u32)rnd();	/* out only */
	i = rnd_below(FUZZ_FDS);
	if (z->f[i].role == ROLE_OWNER && rnd_below(4))
		memcpy(a->name, z->f[i].name, SVHOST_NAME_LEN);
	else
		fz_rand_name(a->name);
	switch (rnd_below(9)) {
	case 0:
		a->flags = fz_interesting();
		break;
	case 8:
		a->reserved = fz_interesting();
		break;
	case 1:
		a->pkey = keys[rnd_below(ARRAY_SIZE(keys))];
		break;
	case 2:
		a->pkey = 1 + rnd_below(15);
		break;
	default:
		break;
	}
}

/* Bit n set: errno n acceptable; bit 0: success acceptable. */
#define OK(e)	((__uint128_t)1 << (e))

static __uint128_t fz_expect_create(struct fz *z, int i,
			      const struct svhost_port_create *c)
{
	__u64 pool = svh_expected_pool(c->buf_size, c->buf_count);
	__uint128_t set = 0;

	if (z->f[i].role != ROLE_NONE)
		return OK(EBUSY) | OK(EINVAL);
	if (c->flags || c->reserved || !name_valid(c->name) ||
	    c->queue_pairs < 1 || c->queue_pairs > 64 ||
	    !pow2_in(c->ring_size, 64, 32768) ||
	    !pow2_in(c->buf_size, 2048, 65536) ||
	    c->buf_count < 1 || c->buf_count > (1U << 20))
		return OK(EINVAL);
	/* the per-port limit counts header page, rings and pool */
	if (pool + 4096 + (((__u64)2 * c->queue_pairs *
			    (256 + (__u64)c->ring_size * 32) + 4095) & ~4095ULL) >
	    ((__u64)FUZZ_PORT_MIB << 20))
		set |= OK(E2BIG);
	if (fz_owner_of(z, c->name) >= 0)
		set |= OK(EEXIST);
	if (svh_counter("ports_count") >= z->ports0 + FUZZ_PORTS)
		set |= OK(ENOSPC);
	return (set ? set : OK(0)) | OK(ENOMEM);
}

static __uint128_t fz_expect_attach(struct fz *z, int i,
			      const struct svhost_copier_attach *a)
{
	bool key_ok = a->pkey == z->pkey;
	__uint128_t set = 0;

	if (z->f[i].role != ROLE_NONE)
		return OK(EBUSY) | OK(EINVAL) | OK(ENOKEY) | OK(ENOENT);
	if (a->flags || a->reserved || !name_valid(a->name) || a->pkey < 1 ||
	    a->pkey > 15)
		return OK(EINVAL);
	if (!key_ok)
		set |= OK(ENOKEY);
	if (fz_owner_of(z, a->name) < 0)
		set |= OK(ENOENT);
	else if (fz_has_copier(z, a->name))
		set |= OK(EBUSY);
	return set ? set : OK(0);
}

/* A printable summary of a create/attach request, for violation logs. */
static const char *fz_describe(unsigned long cmd, const void *buf)
{
	static char out[256];
	char name[4 * SVHOST_NAME_LEN + 8];
	const char *n;

	if (cmd == SVHOST_PORT_CREATE)
		n = ((const struct svhost_port_create *)buf)->name;
	else if (cmd == SVHOST_COPIER_ATTACH)
		n = ((const struct svhost_copier_attach *)buf)->name;
	else
		return "-";
	svh_escape(n, SVHOST_NAME_LEN, name, sizeof(name));
	if (cmd == SVHOST_PORT_CREATE) {
		const struct svhost_port_create *c = buf;

		snprintf(out, sizeof(out), "create flags %#x qp %u ring %u "
			 "buf %u x %u res %#x name \"%s\"", c->flags,
			 c->queue_pairs, c->ring_size, c->buf_size,
			 c->buf_count, c->reserved, name);
	} else {
		const struct svhost_copier_attach *a = buf;

		snprintf(out, sizeof(out), "attach flags %#x pkey %d name "
			 "\"%s\"", a->flags, a->pkey, name);
	}
	return out;
}

static bool fz_is_ours(unsigned long cmd)
{
	return cmd == SVHOST_GET_VERSION || cmd == SVHOST_PORT_CREATE ||
	       cmd == SVHOST_COPIER_ATTACH;
}

/* A command number that only our driver sees (no generic VFS ioctl). */
static unsigned long fz_cmd(void)
{
	static const __u8 types[] = {
		SVHOST_IOCTL_MAGIC, SVHOST_IOCTL_MAGIC, SVHOST_IOCTL_MAGIC,
		0xAF, 'V', 'U', 0x12, 0x89, 'b', 0xB6, 0xB8, 0xFF, 'K',
	};
	unsigned int dir = rnd_below(4), size, nr, type;

	type = types[rnd_below(ARRAY_SIZE(types))];
	nr = rnd_below(2) ? rnd_below(4) : rnd_below(256);
	switch (rnd_below(4)) {
	case 0:
		size = sizeof(struct svhost_port_create);
		break;
	case 1:
		size = sizeof(struct svhost_copier_attach);
		break;
	case 2:
		size = sizeof(struct svhost_version);
		break;
	default:
		size = rnd_below(1 << 14);
		break;
	}
	return _IOC(dir, type, nr, size);
}

FIXTURE(fuzz) {
	struct svh_params saved;
	long long ports0, bytes0;
};

FIXTURE_SETUP(fuzz)
{
	char val[32];

	ASSERT_EQ(0, svh_params_save(&self->saved));
	SVH_COUNTER(self->ports0, "ports_count");
	SVH_COUNTER(self->bytes0, "pool_bytes");
	snprintf(val, sizeof(val), "%lld", self->ports0 + FUZZ_PORTS);
	ASSERT_EQ(0, svh_param_write("max_ports", val));
	snprintf(val, sizeof(val), "%d", FUZZ_PORT_MIB);
	ASSERT_EQ(0, svh_param_write("max_port_pool_mib", val));
}

FIXTURE_TEARDOWN(fuzz)
{
	EXPECT_EQ(0, svh_params_restore(&self->saved));
	/* after a failed assertion the test's files are still open */
	if (!_metadata->passed)
		return;
	EXPECT_EQ(0, svh_wait_counter("ports_count", self->ports0, 5000));
	EXPECT_EQ(0, svh_wait_counter("pool_bytes", self->bytes0, 5000));
}

TEST_F(fuzz, ioctl)
{
	char *buf, *ro, *none;
	struct fz z;
	unsigned int it, calls[4] = { 0 };
	long long inval0;
	int i;

	SVH_NEED_PKU();
	fz_bad = 0;
	rng_seed(0xf022ed);
	memset(&z, 0, sizeof(z));
	z.ports0 = self->ports0;
	z.pkey = pkey_alloc(0, 0);
	ASSERT_LT(0, z.pkey);
	for (i = 0; i < FUZZ_FDS; i++)
		SVH_OPEN(z.f[i].fd);
	buf = mmap(NULL, 3 * SVH_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ro = buf + SVH_PAGE;
	none = buf + 2 * SVH_PAGE;
	ASSERT_EQ(0, mprotect(none, SVH_PAGE, PROT_NONE));
	SVH_COUNTER(inval0, "invalid_requests");

	for (it = 0; it < FUZZ_IOCTLS; it++) {
		unsigned long cmd;
		int ret, err, argk;
		__uint128_t want;
		char *arg;

		i = rnd_below(FUZZ_FDS);
		if (z.f[i].fd < 0) {
			z.f[i].fd = svh_open();
			ASSERT_LE(0, z.f[i].fd);
		}
		memset(buf, 0, SVH_PAGE);
		switch (rnd_below(8)) {
		case 0: case 1: case 2:
			cmd = SVHOST_PORT_CREATE;
			fz_make_create((struct svhost_port_create *)buf);
			break;
		case 3: case 4:
			cmd = SVHOST_COPIER_ATTACH;
			fz_make_attach(&z, (struct svhost_copier_attach *)buf);
			break;
		case 5:
			cmd = SVHOST_GET_VERSION;
			break;
		default:
			cmd = fz_cmd();
			for (ret = 0; ret < 256; ret++)
				buf[ret] = (char)rnd();
			if (fz_is_ours(cmd))
				cmd = _IO(SVHOST_IOCTL_MAGIC, 0x42);
			break;
		}
		/* where the argument points */
		argk = rnd_below(20);
		if (argk == 0) {
			arg = NULL;
		} else if (argk == 1) {
			arg = none;
		} else if (argk == 2) {
			mprotect(ro, SVH_PAGE, PROT_READ | PROT_WRITE);
			memcpy(ro, buf, SVH_PAGE);
			mprotect(ro, SVH_PAGE, PROT_READ);
			arg = ro;
		} else {
			arg = buf;
		}

		if (!fz_is_ours(cmd))
			want = OK(ENOTTY);
		else if (argk <= 1)
			want = OK(EFAULT);
		else if (cmd == SVHOST_GET_VERSION)
			want = argk == 2 ? OK(EFAULT) : OK(0);
		else if (cmd == SVHOST_PORT_CREATE)
			want = fz_expect_create(&z, i, (void *)buf);
		else
			want = fz_expect_attach(&z, i, (void *)buf);
		if (argk == 2 && fz_is_ours(cmd)) {
			/* valid input but no room for the answer */
			want |= OK(EFAULT);
			want &= ~OK(0);
		}

		errno = 0;
		ret = ioctl(z.f[i].fd, cmd, arg);
		err = ret ? errno : 0;
		calls[err == 0 ? 0 : err == ENOTTY ? 1 : err == EINVAL ? 2 : 3]++;
		FZ_CHECK(err < 128 && (want & OK(err)),
			 "iteration %u: cmd %#lx fd role %d arg %d: got %s "
			 "(want mask %#llx:%016llx) request %s", it, cmd,
			 z.f[i].role, argk, err ? strerror(err) : "0",
			 (unsigned long long)(want >> 64),
			 (unsigned long long)want, fz_describe(cmd, buf));
		if (ret == 0 && cmd == SVHOST_PORT_CREATE) {
			struct svhost_port_create *c = (void *)buf;

			z.f[i].role = ROLE_OWNER;
			memcpy(z.f[i].name, c->name, SVHOST_NAME_LEN);
			FZ_CHECK(svh_expected_pool(c->buf_size, c->buf_count) ==
				 c->layout.pool_size, "iteration %u", it);
			FZ_CHECK(svh_port_exists(c->name), "iteration %u", it);
		} else if (ret == 0 && cmd == SVHOST_COPIER_ATTACH) {
			struct svhost_copier_attach *a = (void *)buf;

			z.f[i].role = ROLE_COPIER;
			memcpy(z.f[i].name, a->name, SVHOST_NAME_LEN);
			FZ_CHECK(a->reserved == 0, "iteration %u", it);
			FZ_CHECK((long long)a->layout.pool_size ==
				 svh_port_ll(a->name, "pool_bytes"),
				 "iteration %u", it);
		} else if (ret == 0) {
			FZ_CHECK(((struct svhost_version *)buf)->api_version ==
				 1, "iteration %u", it);
		}
		/* partial success on a read-only argument: start afresh */
		if (argk == 2 && fz_is_ours(cmd) && cmd != SVHOST_GET_VERSION)
			fz_reopen(&z, i);
		/* every so often, let go of a file */
		if (!rnd_below(40))
			fz_reopen(&z, rnd_below(FUZZ_FDS));
	}
	TH_LOG("%u ioctls: %u ok, %u ENOTTY, %u EINVAL, %u other",
	       FUZZ_IOCTLS, calls[0], calls[1], calls[2], calls[3]);
	EXPECT_EQ(0U, fz_bad) TH_LOG("%u violations", fz_bad);
	EXPECT_LT(inval0 + calls[1] + calls[2] - 1,
		  svh_counter("invalid_requests"));
	EXPECT_LT(10U, calls[0]);
	for (i = 0; i < FUZZ_FDS; i++)
		close(z.f[i].fd);
	munmap(buf, 3 * SVH_PAGE);
}

/* --- mmap fuzz --------------------------------------------------------------- */

#define FUZZ_MMAPS	4000

struct mz_fd {
	int fd;
	bool copier;
	bool bound;
	struct svhost_layout lay;
};

static int mz_region(const struct svhost_layout *l, __u64 off, __u64 len)
{
	const __u64 start[3] = { l->header_offset, l->rings_offset,
				 l->pool_offset };
	const __u64 size[3] = { l->header_size, l->rings_size, l->pool_size };
	int r;

	for (r = 0; r < 3; r++)
		if (off >= start[r] && len <= size[r] &&
		    off - start[r] <= size[r] - len)
			return r;
	return -1;
}

TEST_F(fuzz, mmap)
{
	static const int extra[] = {
		0, 0, 0, MAP_POPULATE, MAP_NORESERVE, MAP_LOCKED,
		MAP_NONBLOCK, MAP_POPULATE | MAP_LOCKED,
	};
	static const int types[] = {
		MAP_SHARED, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_PRIVATE,
	};
	char name[2][SVHOST_NAME_LEN];
	unsigned int it, okc = 0;
	struct mz_fd m[4];
	int i, ret, err, pkey;

	SVH_NEED_PKU();
	fz_bad = 0;
	rng_seed(0x3a9f);
	/* two owners, the copier of the first, one unbound file */
	for (i = 0; i < 4; i++) {
		SVH_OPEN(m[i].fd);
		m[i].copier = false;
		m[i].bound = i != 3;
	}
	svh_name(name[0], "mz");
	svh_name(name[1], "mz");
	ASSERT_EQ(0, svh_create_geom(m[0].fd, name[0], 1, 64, 2048, 1024,
				     &m[0].lay));
	ASSERT_EQ(0, svh_create_geom(m[1].fd, name[1], 3, 256, 4096, 700,
				     &m[1].lay));
	/* allocated but not accessible to this thread */
	pkey = pkey_alloc(0, PKEY_DISABLE_ACCESS);
	ASSERT_LT(0, pkey);
	ASSERT_EQ(0, svh_attach(m[2].fd, name[0], pkey, &m[2].lay));
	m[2].copier = true;
	memset(&m[3].lay, 0, sizeof(m[3].lay));
	m[3].lay.pool_size = 2 << 20;

	for (it = 0; it < FUZZ_MMAPS; it++) {
		struct mz_fd *f = &m[rnd_below(4)];
		const struct svhost_layout *l = &f->lay;
		__u64 off, len, end;
		int prot, flags, region;
		bool valid, private;
		char *p, *q;

		end = l->pool_offset + l->pool_size;
		switch (rnd_below(4)) {
		case 0:
			off = rnd_below(end / SVH_PAGE + 8) * SVH_PAGE;
			break;
		case 1:
			off = l->rings_offset + rnd_below(3) * SVH_PAGE;
			off = off ? off - SVH_PAGE : 0;
			break;
		case 2:
			off = l->pool_offset + rnd_below(l->pool_size /
					SVH_PAGE + 2) * SVH_PAGE;
			off = off ? off - SVH_PAGE : 0;
			break;
		default:
			off = 0;
			break;
		}
		switch (rnd_below(4)) {
		case 0:
			len = SVH_PAGE * (1 + rnd_below(4));
			break;
		case 1:
			len = l->pool_size;
			break;
		case 2:
			len = l->rings_size ? l->rings_size : SVH_PAGE;
			break;
		default:
			len = SVH_PAGE * (1 + rnd_below(2048));
			break;
		}
		prot = rnd_below(8);
		flags = types[rnd_below(4)] | extra[rnd_below(8)];
		region = f->bound ? mz_region(l, off, len) : -1;
		private = (flags & MAP_TYPE) == MAP_PRIVATE;
		valid = f->bound && region >= 0 && !(prot & PROT_EXEC) &&
			!private &&
			!(region == 0 && (prot & PROT_WRITE));

		errno = 0;
		p = mmap(NULL, len, prot, flags, f->fd, (off_t)off);
		if (p == MAP_FAILED) {
			err = errno;
			FZ_CHECK(!valid, "it %u: valid mmap off %#llx len %#llx "
				 "prot %d flags %#x failed: %s", it,
				 (unsigned long long)off,
				 (unsigned long long)len, prot, flags,
				 strerror(err));
			/*
			 * Every failure is one of the reasons that apply:
			 * EINVAL for unbound/range/MAP_PRIVATE, EPERM for
			 * exec or a writable header (checked in any order).
			 */
			FZ_CHECK(valid ||
				 ((!f->bound || region < 0 || private) &&
				  err == EINVAL) ||
				 (((prot & PROT_EXEC) ||
				   (region == 0 && (prot & PROT_WRITE))) &&
				  err == EPERM),
				 "it %u: off %#llx len %#llx prot %d flags "
				 "%#x: %s", it, (unsigned long long)off,
				 (unsigned long long)len, prot, flags,
				 strerror(err));
			continue;
		}
		okc++;
		FZ_CHECK(valid, "it %u: invalid mmap off %#llx len %#llx prot "
			 "%d flags %#x succeeded", it,
			 (unsigned long long)off, (unsigned long long)len,
			 prot, flags);
		if (prot & PROT_READ) {
			struct svh_fault fl;
			int sig = svh_probe_read(p + len - 1, NULL, &fl);

			if (f->copier && region) {
				FZ_CHECK(sig == SIGSEGV &&
					 fl.code == SEGV_PKUERR &&
					 fl.pkey == pkey, "it %u: sig %d",
					 it, sig);
			} else if (f->copier) {
				/* the header may or may not carry the key */
				FZ_CHECK(!sig || fl.code == SEGV_PKUERR,
					 "it %u: sig %d", it, sig);
			} else {
				FZ_CHECK(!sig, "it %u: sig %d", it, sig);
			}
		}
		if ((prot & PROT_WRITE) && !f->copier && valid)
			p[0] = p[0];
		/* the mapping cannot be re-protected with exec, grown, moved */
		ret = mprotect(p, SVH_PAGE, prot | PROT_EXEC);
		FZ_CHECK(ret == -1, "it %u: mprotect exec", it);
		if (region == 0) {
			ret = mprotect(p, SVH_PAGE, PROT_READ | PROT_WRITE);
			FZ_CHECK(ret == -1, "it %u: header made writable", it);
		}
		q = mremap(p, len, len + SVH_PAGE, MREMAP_MAYMOVE);
		FZ_CHECK(q == MAP_FAILED, "it %u: mremap grew", it);
		if (q != MAP_FAILED) {
			p = q;
			len += SVH_PAGE;
		}
		munmap(p, len);
	}
	TH_LOG("%u mmaps, %u succeeded", FUZZ_MMAPS, okc);
	EXPECT_EQ(0U, fz_bad) TH_LOG("%u violations", fz_bad);
	EXPECT_LT(20U, okc);
	for (i = 0; i < 4; i++)
		close(m[i].fd);
}

/* --- sysfs fuzz -------------------------------------------------------------- */

#define FUZZ_SYSFS	800

/*
 * Parse an ACL write the way the ABI describes it: decimal ids separated
 * by one space, comma or newline, optionally ending with a newline.
 * Returns the number of ids, -1 when the write must be refused, -2 when the
 * text is not clearly either (empty tokens from leading, repeated or
 * trailing separators; uid 4294967295).
 */
static int acl_parse(const char *s, long long *ids)
{
	char buf[256], *tok, *p;
	bool ambiguous = false;
	size_t len;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	len = strlen(buf);
	if (len && buf[len - 1] == '\n')
		buf[--len] = 0;
	if (!len)
		return *s ? 0 : -2;
	for (p = buf; *p; p++)
		if (!strchr("0123456789 ,\n", *p))
			return -1;
	for (tok = buf; tok; tok = p) {
		p = strpbrk(tok, " ,\n");
		if (p)
			*p++ = 0;
		if (!*tok) {
			ambiguous = true;
			continue;
		}
		if (n == 16)
			return -1;
		if (strlen(tok) > 10)
			return -1;
		ids[n] = strtoll(tok, NULL, 10);
		if (ids[n] > 0xffffffffLL)
			return -1;
		if (ids[n] == 0xffffffffLL)
			ambiguous = true;
		n++;
	}
	return ambiguous ? -2 : n;
}

static void rand_acl(char *out, size_t len)
{
	static const char alpha[] = "0123456789 ,\n0xa";
	unsigned int n, i, k = 0;

	switch (rnd_below(3)) {
	case 0:	/* well formed */
		n = rnd_below(19);
		out[0] = 0;
		for (i = 0; i < n; i++)
			k += snprintf(out + k, len - k, "%s%u",
				      i ? (rnd_below(2) ? " " : ",") : "",
				      rnd_below(3) ? rnd_below(3) :
				      (unsigned int)rnd());
		if (rnd_below(2))
			snprintf(out + k, len - k, "\n");
		break;
	default:
		n = rnd_below(40);
		for (i = 0; i < n && i < len - 1; i++)
			out[i] = alpha[rnd_below(sizeof(alpha) - 1)];
		out[i] = 0;
		break;
	}
}

static bool root_admitted(const char *uids, const char *gids)
{
	long long ids[64];
	int n, i;

	n = svh_parse_ids(uids, ids, 64);
	for (i = 0; i < n; i++)
		if (ids[i] == 0)
			return true;
	n = svh_parse_ids(gids, ids, 64);
	for (i = 0; i < n; i++)
		if (ids[i] == 0)
			return true;
	return false;
}

TEST_F(fuzz, sysfs)
{
	char before[512], after[512], other[512], w[256], state[32];
	static const char * const attrs[] = {
		"allowed_uids", "allowed_gids",
	};
	unsigned int it, revokes = 0, refusals = 0;
	struct svh_owner o;
	struct svh_copier c;
	long long ids[20];

	SVH_NEED_PKU();
	fz_bad = 0;
	rng_seed(0x5f5);
	ASSERT_EQ(0, svh_owner_setup(&o, "sfz"));
	ASSERT_EQ(0, svh_copier_start(&c, o.name));
	for (it = 0; it < FUZZ_SYSFS; it++) {
		const char *attr = attrs[rnd_below(2)];
		int n, ret;
		bool attached, admitted;

		ASSERT_EQ(0, svh_port_str(o.name, "state", state,
					  sizeof(state)));
		attached = !strcmp(state, "attached");
		if (!rnd_below(8)) {
			/* revoke: only "1" (and "1\n") */
			const char *v = rnd_below(2) ? "1\n" : "1";

			if (rnd_below(2)) {
				rand_acl(w, 8);
				v = w[0] ? w : "1";
			}
			ret = svh_port_write(o.name, "revoke", v);
			if (!strcmp(v, "1") || !strcmp(v, "1\n")) {
				FZ_CHECK(ret == (attached ? 0 : -ENOENT),
					 "it %u revoke: %d", it, ret);
			} else if (attached) {
				FZ_CHECK(ret == -EINVAL,
					 "it %u revoke \"%s\": %d", it, v, ret);
			} else {
				/* both reasons apply, in either order */
				FZ_CHECK(ret == -EINVAL || ret == -ENOENT,
					 "it %u revoke \"%s\": %d", it, v, ret);
			}
			if (!ret)
				revokes++;
		} else {
			ASSERT_EQ(0, svh_port_str(o.name, attr, before,
						  sizeof(before)));
			rand_acl(w, sizeof(w));
			if (!w[0])
				snprintf(w, sizeof(w), "\n");
			n = acl_parse(w, ids);
			ret = svh_port_write(o.name, attr, w);
			ASSERT_EQ(0, svh_port_str(o.name, attr, after,
						  sizeof(after)));
			if (n == -1) {
				FZ_CHECK(ret == -EINVAL,
					 "it %u: %s \"%s\" accepted", it, attr,
					 w);
			} else if (n >= 0) {
				FZ_CHECK(ret == 0, "it %u: %s \"%s\" refused",
					 it, attr, w);
			}
			if (ret) {
				FZ_CHECK(ret == -EINVAL, "it %u: %d", it, ret);
				FZ_CHECK(!strcmp(before, after),
					 "it %u: refused write changed \"%s\" "
					 "to \"%s\"", it, before, after);
				refusals++;
			} else if (n >= 0) {
				char exp[512];
				int k = 0, j;

				exp[0] = 0;
				for (j = 0; j < n; j++)
					k += snprintf(exp + k,
						      sizeof(exp) - k,
						      "%lld ", ids[j]);
				FZ_CHECK(svh_ids_equal(exp, after),
					 "it %u: wrote \"%s\" read \"%s\"", it,
					 w, after);
			}
			/* an ACL that drops root revokes the copier */
			ASSERT_EQ(0, svh_port_str(o.name, attrs[0], after,
						  sizeof(after)));
			ASSERT_EQ(0, svh_port_str(o.name, attrs[1], other,
						  sizeof(other)));
			admitted = root_admitted(after, other);
			ASSERT_EQ(0, svh_port_str(o.name, "state", state,
						  sizeof(state)));
			if (attached && !admitted) {
				FZ_CHECK(!strcmp(state, "revoked") &&
					 ((struct svhost_shm_header *)
					  o.hdr)->reason == SVHOST_REASON_ACL,
					 "it %u: root dropped, state %s", it,
					 state);
			} else if (attached) {
				FZ_CHECK(!strcmp(state, "attached"),
					 "it %u: root admitted, state %s", it,
					 state);
			}
		}
		/* bring a copier back now and then */
		ASSERT_EQ(0, svh_port_str(o.name, "state", state,
					  sizeof(state)));
		if (strcmp(state, "attached") && !rnd_below(3)) {
			svh_copier_stop(&c);
			ASSERT_EQ(0, svh_port_write(o.name, "allowed_uids",
						    "0"));
			ASSERT_EQ(0, svh_copier_start(&c, o.name));
		}
	}
	TH_LOG("%u sysfs writes: %u revokes, %u refusals", FUZZ_SYSFS,
	       revokes, refusals);
	EXPECT_EQ(0U, fz_bad) TH_LOG("%u violations", fz_bad);
	svh_copier_stop(&c);
	svh_owner_close(&o);
}

TEST_HARNESS_MAIN
