// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers for the /dev/svhost selftests (see svhost_util.h).  This
 * file does not include kselftest_harness.h: it is linked into every test.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <ctype.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>

#include "svhost_util.h"

/* --- device and ports ----------------------------------------------------- */

int svh_open_path(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int svh_open(void)
{
	return svh_open_path(SVH_DEV);
}

/*
 * Open the device through a node on a mount without noexec, so that a test
 * of PROT_EXEC refusal exercises the broker and not the mount flags.  When
 * /dev is noexec, a private tmpfs with a copy of the node is used, in a
 * private mount namespace of the calling test process.
 */
int svh_open_exec(void)
{
	char dir[64], node[96];
	struct statvfs sv;
	struct stat st;
	int fd;

	if (statvfs(SVH_DEV, &sv))
		return -errno;
	if (!(sv.f_flag & ST_NOEXEC))
		return svh_open();
	if (stat(SVH_DEV, &st))
		return -errno;
	if (unshare(CLONE_NEWNS))
		return -errno;
	mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	mount(NULL, "/tmp", NULL, MS_REC | MS_PRIVATE, NULL);
	snprintf(dir, sizeof(dir), "/tmp/svh-exec-%d", getpid());
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (mount("svh-exec", dir, "tmpfs", 0, "size=64k")) {
		fd = -errno;
		rmdir(dir);
		return fd;
	}
	snprintf(node, sizeof(node), "%s/svhost", dir);
	if (mknod(node, S_IFCHR | 0666, st.st_rdev))
		fd = -errno;
	else
		fd = svh_open_path(node);
	unlink(node);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return fd;
}

void svh_name(char *buf, const char *tag)
{
	static unsigned int seq;

	snprintf(buf, SVHOST_NAME_LEN, "%.12s-%d-%u", tag, getpid(), seq++);
}

int svh_version(int fd, struct svhost_version *v)
{
	return ioctl(fd, SVHOST_GET_VERSION, v) ? -errno : 0;
}

void svh_create_args(struct svhost_port_create *c, const char *name,
		     __u32 qp, __u32 ring, __u32 buf_size, __u32 buf_count)
{
	memset(c, 0, sizeof(*c));
	c->queue_pairs = qp;
	c->ring_size = ring;
	c->buf_size = buf_size;
	c->buf_count = buf_count;
	if (name)
		memcpy(c->name, name, strnlen(name, sizeof(c->name)));
}

int svh_create_raw(int fd, struct svhost_port_create *c)
{
	return ioctl(fd, SVHOST_PORT_CREATE, c) ? -errno : 0;
}

int svh_create_geom(int fd, const char *name, __u32 qp, __u32 ring,
		    __u32 buf_size, __u32 buf_count, struct svhost_layout *lay)
{
	struct svhost_port_create c;
	int ret;

	svh_create_args(&c, name, qp, ring, buf_size, buf_count);
	ret = svh_create_raw(fd, &c);
	if (!ret && lay)
		*lay = c.layout;
	return ret;
}

int svh_create(int fd, const char *name, struct svhost_layout *lay)
{
	return svh_create_geom(fd, name, SVH_DEF_QP, SVH_DEF_RING,
			       SVH_DEF_BUF_SIZE, SVH_DEF_BUF_COUNT, lay);
}

int svh_attach_raw(int fd, struct svhost_copier_attach *a)
{
	return ioctl(fd, SVHOST_COPIER_ATTACH, a) ? -errno : 0;
}

int svh_attach(int fd, const char *name, int pkey, struct svhost_layout *lay)
{
	struct svhost_copier_attach a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.pkey = pkey;
	memcpy(a.name, name, strnlen(name, sizeof(a.name)));
	ret = svh_attach_raw(fd, &a);
	if (!ret && lay)
		*lay = a.layout;
	return ret;
}

void *svh_map(int fd, __u64 off, size_t len, int prot)
{
	return mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)off);
}

/* mmap and unmap again: 0 on success, else -errno. */
int svh_map_err(int fd, __u64 off, size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags, fd, (off_t)off);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, len);
	return 0;
}

__u64 svh_expected_pool(__u32 buf_size, __u32 buf_count)
{
	__u64 b = (__u64)buf_size * buf_count;

	return (b + SVHOST_POOL_CHUNK_SIZE - 1) &
		~((__u64)SVHOST_POOL_CHUNK_SIZE - 1);
}

/* --- sysfs ------------------------------------------------------------------ */

int svh_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

int svh_write_file(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	if (close(fd))
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

long long svh_read_ll(const char *path)
{
	char buf[64], *end;
	long long v;

	if (svh_read_file(path, buf, sizeof(buf)))
		return SVH_BAD;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf || *end)
		return SVH_BAD;
	return v;
}

long long svh_counter(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), SVH_SYSFS "/%s", name);
	return svh_read_ll(path);
}

long long svh_port_ll(const char *port, const char *attr)
{
	char path[160];

	snprintf(path, sizeof(path), SVH_SYSFS "/ports/%s/%s", port, attr);
	return svh_read_ll(path);
}

int svh_port_str(const char *port, const char *attr, char *buf, size_t len)
{
	char path[160];

	snprintf(path, sizeof(path), SVH_SYSFS "/ports/%s/%s", port, attr);
	return svh_read_file(path, buf, len);
}

int svh_port_write(const char *port, const char *attr, const char *s)
{
	char path[160];

	snprintf(path, sizeof(path), SVH_SYSFS "/ports/%s/%s", port, attr);
	return svh_write_file(path, s);
}

bool svh_port_exists(const char *port)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), SVH_SYSFS "/ports/%s", port);
	return stat(path, &st) == 0;
}

int svh_param_read(const char *name, char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), SVH_PARAMS "/%s", name);
	return svh_read_file(path, buf, len);
}

int svh_param_write(const char *name, const char *s)
{
	char path[128];

	snprintf(path, sizeof(path), SVH_PARAMS "/%s", name);
	return svh_write_file(path, s);
}

long long svh_param_ll(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), SVH_PARAMS "/%s", name);
	return svh_read_ll(path);
}

static void svh_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int svh_wait_counter(const char *name, long long want, int ms)
{
	int i;

	for (i = 0; i <= ms; i += 10) {
		if (svh_counter(name) == want)
			return 0;
		svh_sleep_ms(10);
	}
	return -ETIMEDOUT;
}

int svh_wait_port_gone(const char *port, int ms)
{
	int i;

	for (i = 0; i <= ms; i += 10) {
		if (!svh_port_exists(port))
			return 0;
		svh_sleep_ms(10);
	}
	return -ETIMEDOUT;
}

int svh_wait_port_state(const char *port, const char *state, int ms)
{
	char buf[64];
	int i;

	for (i = 0; i <= ms; i += 10) {
		if (!svh_port_str(port, "state", buf, sizeof(buf)) &&
		    !strcmp(buf, state))
			return 0;
		svh_sleep_ms(10);
	}
	return -ETIMEDOUT;
}

/* Parse a space separated list of decimal ids; -1 if malformed. */
int svh_parse_ids(const char *s, long long *ids, int max)
{
	int n = 0;

	while (*s) {
		char *end;

		if (*s == ' ' || *s == '\n') {
			s++;
			continue;
		}
		if (!isdigit((unsigned char)*s) || n == max)
			return -1;
		ids[n++] = strtoll(s, &end, 10);
		s = end;
		if (*s && *s != ' ' && *s != '\n')
			return -1;
	}
	return n;
}

static int svh_cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Compare two id lists as multisets. */
bool svh_ids_equal(const char *a, const char *b)
{
	long long ia[64], ib[64];
	int na, nb;

	na = svh_parse_ids(a, ia, 64);
	nb = svh_parse_ids(b, ib, 64);
	if (na < 0 || nb < 0 || na != nb)
		return false;
	qsort(ia, na, sizeof(ia[0]), svh_cmp_ll);
	qsort(ib, nb, sizeof(ib[0]), svh_cmp_ll);
	return !memcmp(ia, ib, na * sizeof(ia[0]));
}

/* Printable form of up to max bytes of s (for logs of odd names). */
const char *svh_escape(const char *s, size_t max, char *out, size_t len)
{
	size_t i, k = 0;

	out[0] = 0;
	for (i = 0; i < max && s[i] && k + 5 < len; i++) {
		unsigned char c = s[i];

		if (c > 32 && c < 127 && c != '\\')
			out[k++] = c;
		else
			k += snprintf(out + k, len - k, "\\x%02x", c);
	}
	out[k] = 0;
	return out;
}

int svh_params_save(struct svh_params *p)
{
	int ret;

	memset(p, 0, sizeof(*p));
	ret = svh_param_read("max_ports", p->max_ports, sizeof(p->max_ports));
	ret = ret ?: svh_param_read("max_pool_mib", p->max_pool_mib,
				    sizeof(p->max_pool_mib));
	ret = ret ?: svh_param_read("max_port_pool_mib", p->max_port_pool_mib,
				    sizeof(p->max_port_pool_mib));
	ret = ret ?: svh_param_read("require_pkey", p->require_pkey,
				    sizeof(p->require_pkey));
	p->saved = !ret;
	return ret;
}

int svh_params_restore(const struct svh_params *p)
{
	int ret = 0, r;

	if (!p->saved)
		return 0;
	r = svh_param_write("max_pool_mib", p->max_pool_mib);
	ret = ret ?: r;
	r = svh_param_write("max_port_pool_mib", p->max_port_pool_mib);
	ret = ret ?: r;
	r = svh_param_write("max_ports", p->max_ports);
	ret = ret ?: r;
	r = svh_param_write("require_pkey", p->require_pkey);
	ret = ret ?: r;
	return ret;
}

/* --- memory, maps and faults ------------------------------------------------ */

static __thread sigjmp_buf probe_env;
static __thread volatile sig_atomic_t probe_active;
static __thread struct svh_fault probe_fault;

static void probe_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!probe_active) {
		/* A real crash: let it happen with the default action. */
		signal(sig, SIG_DFL);
		return;
	}
	probe_fault.sig = sig;
	probe_fault.code = si->si_code;
	probe_fault.addr = si->si_addr;
	probe_fault.pkey = (sig == SIGSEGV && si->si_code == SEGV_PKUERR) ?
			   (int)si->si_pkey : -1;
	probe_active = 0;
	siglongjmp(probe_env, 1);
}

static void probe_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = probe_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/*
 * Touch one byte; returns 0 if no signal was raised, else the signal number
 * with the details in *f.  The thread's PKRU is preserved across the fault
 * (signal delivery resets it to the default).
 */
static int svh_probe(volatile __u8 *p, bool write, __u8 wval, __u8 *rval,
		     struct svh_fault *f)
{
	volatile unsigned int pkru = 0;
	volatile bool pku = svh_have_pku();
	volatile int sig = 0;

	probe_install();
	if (pku)
		pkru = svh_rdpkru();
	memset(&probe_fault, 0, sizeof(probe_fault));
	if (sigsetjmp(probe_env, 1) == 0) {
		probe_active = 1;
		if (write)
			*p = wval;
		else if (rval)
			*rval = *p;
		else
			(void)*p;
		probe_active = 0;
	} else {
		sig = probe_fault.sig;
	}
	if (pku)
		svh_wrpkru(pkru);
	if (f)
		*f = probe_fault;
	return sig;
}

int svh_probe_read(const volatile void *addr, __u8 *val, struct svh_fault *f)
{
	return svh_probe((volatile __u8 *)addr, false, 0, val, f);
}

int svh_probe_write(volatile void *addr, __u8 val, struct svh_fault *f)
{
	return svh_probe((volatile __u8 *)addr, true, val, NULL, f);
}

/*
 * Find the /proc/self/smaps entry holding addr and report its
 * "ProtectionKey:" (or -1 when absent) and "VmFlags:" values.
 */
int svh_smaps(const void *addr, int *pkey, char *vmflags, size_t len)
{
	unsigned long a = (unsigned long)addr, start, end;
	bool in = false, found = false;
	char line[512];
	FILE *f;

	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -errno;
	if (pkey)
		*pkey = -1;
	if (vmflags && len)
		vmflags[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			if (in)
				break;
			in = a >= start && a < end;
			found |= in;
			continue;
		}
		if (!in)
			continue;
		if (pkey && !strncmp(line, "ProtectionKey:", 14))
			*pkey = atoi(line + 14);
		if (vmflags && !strncmp(line, "VmFlags:", 8)) {
			snprintf(vmflags, len, "%s", line + 8);
			vmflags[strcspn(vmflags, "\n")] = 0;
		}
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

bool svh_vmflag(const char *vmflags, const char *flag)
{
	char buf[256], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", vmflags);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		if (!strcmp(tok, flag))
			return true;
	return false;
}

int svh_maps_line(const void *addr, char *out, size_t len)
{
	unsigned long a = (unsigned long)addr, start, end;
	char line[512];
	FILE *f;
	int ret = -ENOENT;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) != 2)
			continue;
		if (a >= start && a < end) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, len, "%s", line);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static __u64 svh_mix(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void svh_fill(void *buf, size_t len, __u64 seed)
{
	volatile __u64 *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = svh_mix(seed + i);
}

long svh_check(const void *buf, size_t len, __u64 seed)
{
	const volatile __u64 *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (p[i] != svh_mix(seed + i))
			return (long)(i * 8);
	return -1;
}

/* Offset of the first non-zero byte, or -1. */
long svh_nonzero(const void *buf, size_t len)
{
	const volatile __u8 *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return (long)i;
	return -1;
}

/* --- userfaultfd ------------------------------------------------------------- */

/*
 * Allocate u->page, copy len bytes of init into it and write-protect it;
 * returns 0 or -errno.  Only reads of the page work from now on.
 */
int svh_uffd_protect(struct svh_uffd *u, const void *init, size_t len)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP,
	};
	struct uffdio_register reg;
	struct uffdio_writeprotect wp;

	u->page = mmap(NULL, SVH_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->page == MAP_FAILED)
		return -errno;
	memset(u->page, 0, SVH_PAGE);
	memcpy(u->page, init, len < SVH_PAGE ? len : SVH_PAGE);
	u->fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->fd < 0)
		return -errno;
	if (ioctl(u->fd, UFFDIO_API, &api))
		return -errno;
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (unsigned long)u->page;
	reg.range.len = SVH_PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_WP;
	if (ioctl(u->fd, UFFDIO_REGISTER, &reg))
		return -errno;
	memset(&wp, 0, sizeof(wp));
	wp.range = reg.range;
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	if (ioctl(u->fd, UFFDIO_WRITEPROTECT, &wp))
		return -errno;
	return 0;
}

/* Wait up to ms for a write fault on the page. */
int svh_uffd_wait(struct svh_uffd *u, int ms)
{
	struct pollfd pfd = { .fd = u->fd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1)
		return -ETIMEDOUT;
	if (read(u->fd, &msg, sizeof(msg)) != sizeof(msg))
		return -errno;
	if (msg.event != UFFD_EVENT_PAGEFAULT ||
	    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
		return -EPROTO;
	return 0;
}

/*
 * Let the blocked writer go on.  With fail_copy the page is unmapped
 * first, so the writer's copy fails with EFAULT; else the page becomes
 * writable and the copy completes.
 */
int svh_uffd_release(struct svh_uffd *u, bool fail_copy)
{
	struct uffdio_writeprotect wp;
	int ret = 0;

	if (fail_copy) {
		if (munmap(u->page, SVH_PAGE))
			ret = -errno;
		u->page = MAP_FAILED;
	} else {
		memset(&wp, 0, sizeof(wp));
		wp.range.start = (unsigned long)u->page;
		wp.range.len = SVH_PAGE;
		if (ioctl(u->fd, UFFDIO_WRITEPROTECT, &wp))
			ret = -errno;
	}
	/* closing the userfaultfd wakes every waiter */
	close(u->fd);
	u->fd = -1;
	return ret;
}

/* --- protection keys --------------------------------------------------------- */

bool svh_have_pku(void)
{
	static int have = -1;
	unsigned int a, b, c, d;

	if (have < 0) {
		have = 0;
		if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
			have = (c & (1U << 3)) && (c & (1U << 4));
	}
	return have;
}

unsigned int svh_rdpkru(void)
{
	unsigned int eax, edx, ecx = 0;

	asm volatile(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(ecx));
	return eax;
}

void svh_wrpkru(unsigned int pkru)
{
	unsigned int ecx = 0, edx = 0;

	asm volatile(".byte 0x0f,0x01,0xef" : : "a"(pkru), "c"(ecx), "d"(edx)
		     : "memory");
}

/* --- credentials --------------------------------------------------------------- */

int svh_drop_to(uid_t uid, gid_t gid, int ngroups, const gid_t *groups)
{
	if (setgroups(ngroups, groups))
		return -errno;
	if (setresgid(gid, gid, gid))
		return -errno;
	if (setresuid(uid, uid, uid))
		return -errno;
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 0;
}

int svh_drop_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[cap / 32].effective &= ~(1U << (cap % 32));
	data[cap / 32].permitted &= ~(1U << (cap % 32));
	data[cap / 32].inheritable &= ~(1U << (cap % 32));
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

/* --- processes and threads ------------------------------------------------------- */

pid_t svh_fork(void)
{
	pid_t parent = getpid();
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(99);
	}
	return pid;
}

static int svh_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return SVH_WAIT_SIG(WTERMSIG(status));
	return -1;
}

int svh_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return svh_status(status);
}

int svh_wait_ms(pid_t pid, int ms)
{
	int status, i;
	pid_t r;

	for (i = 0; i <= ms; i++) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return svh_status(status);
		if (r < 0 && errno != EINTR)
			return -1;
		svh_sleep_ms(1);
	}
	kill(pid, SIGKILL);
	svh_wait(pid);
	return SVH_WAIT_TIMEOUT;
}

static void *svh_worker_main(void *arg)
{
	struct svh_worker *w = arg;

	pthread_mutex_lock(&w->mu);
	w->tid = gettid();
	pthread_cond_broadcast(&w->cv);
	for (;;) {
		while (!w->busy && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->mu);
		w->ret = w->fn(w->arg);
		pthread_mutex_lock(&w->mu);
		w->busy = false;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int svh_worker_start(struct svh_worker *w)
{
	int ret;

	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	ret = pthread_create(&w->th, NULL, svh_worker_main, w);
	if (ret)
		return -ret;
	w->started = true;
	pthread_mutex_lock(&w->mu);
	while (!w->tid)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int svh_worker_call(struct svh_worker *w, int (*fn)(void *), void *arg)
{
	int ret;

	pthread_mutex_lock(&w->mu);
	w->fn = fn;
	w->arg = arg;
	w->busy = true;
	pthread_cond_broadcast(&w->cv);
	while (w->busy)
		pthread_cond_wait(&w->cv, &w->mu);
	ret = w->ret;
	pthread_mutex_unlock(&w->mu);
	return ret;
}

void svh_worker_stop(struct svh_worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	w->started = false;
}

/* --- owner and copier contexts --------------------------------------------------- */

int svh_owner_setup_geom(struct svh_owner *o, const char *tag, __u32 qp,
			 __u32 ring, __u32 buf_size, __u32 buf_count)
{
	int ret;

	memset(o, 0, sizeof(*o));
	o->hdr = o->rings = o->pool = MAP_FAILED;
	svh_name(o->name, tag);
	o->fd = svh_open();
	if (o->fd < 0)
		return o->fd;
	ret = svh_create_geom(o->fd, o->name, qp, ring, buf_size, buf_count,
			      &o->lay);
	if (ret)
		return ret;
	o->hdr = svh_map(o->fd, o->lay.header_offset, o->lay.header_size,
			 PROT_READ);
	if (o->hdr == MAP_FAILED)
		return -errno;
	o->rings = svh_map(o->fd, o->lay.rings_offset, o->lay.rings_size,
			   PROT_READ | PROT_WRITE);
	if (o->rings == MAP_FAILED)
		return -errno;
	o->pool = svh_map(o->fd, o->lay.pool_offset, o->lay.pool_size,
			  PROT_READ | PROT_WRITE);
	if (o->pool == MAP_FAILED)
		return -errno;
	return 0;
}

int svh_owner_setup(struct svh_owner *o, const char *tag)
{
	return svh_owner_setup_geom(o, tag, SVH_DEF_QP, SVH_DEF_RING,
				    SVH_DEF_BUF_SIZE, SVH_DEF_BUF_COUNT);
}

void svh_owner_unmap(struct svh_owner *o)
{
	if (o->hdr && o->hdr != MAP_FAILED)
		munmap(o->hdr, o->lay.header_size);
	if (o->rings && o->rings != MAP_FAILED)
		munmap(o->rings, o->lay.rings_size);
	if (o->pool && o->pool != MAP_FAILED)
		munmap(o->pool, o->lay.pool_size);
	o->hdr = o->rings = o->pool = MAP_FAILED;
}

void svh_owner_close(struct svh_owner *o)
{
	svh_owner_unmap(o);
	if (o->fd > 0)
		close(o->fd);
	o->fd = -1;
}

static int svh_copier_attach_fn(void *arg)
{
	struct svh_copier *c = arg;

	c->step = "pkey_alloc";
	if (c->no_pkey) {
		c->pkey = -1;
	} else {
		c->pkey = pkey_alloc(0, 0);
		if (c->pkey < 0)
			return -errno;
	}
	c->step = "open";
	c->fd = c->pre_fd >= 0 ? c->pre_fd : svh_open();
	if (c->fd < 0)
		return c->fd;
	c->step = "attach";
	c->err = svh_attach(c->fd, c->name, c->pkey, &c->lay);
	if (c->err)
		return c->err;
	c->step = "mmap header";
	c->hdr = svh_map(c->fd, c->lay.header_offset, c->lay.header_size,
			 PROT_READ);
	if (c->hdr == MAP_FAILED)
		return -errno;
	c->step = "mmap rings";
	c->rings = svh_map(c->fd, c->lay.rings_offset, c->lay.rings_size,
			   PROT_READ | PROT_WRITE);
	if (c->rings == MAP_FAILED)
		return -errno;
	c->step = "mmap pool";
	c->pool = svh_map(c->fd, c->lay.pool_offset, c->lay.pool_size,
			  PROT_READ | PROT_WRITE);
	if (c->pool == MAP_FAILED)
		return -errno;
	c->step = "done";
	return 0;
}

static int svh_copier_start_common(struct svh_copier *c, const char *name,
				   bool no_pkey, int fd)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->pre_fd = fd;
	c->pkey = -1;
	c->no_pkey = no_pkey;
	c->hdr = c->rings = c->pool = MAP_FAILED;
	snprintf(c->name, sizeof(c->name), "%s", name);
	ret = svh_worker_start(&c->w);
	if (ret)
		return ret;
	return svh_worker_call(&c->w, svh_copier_attach_fn, c);
}

int svh_copier_start(struct svh_copier *c, const char *name)
{
	return svh_copier_start_common(c, name, false, -1);
}

int svh_copier_start_nokey(struct svh_copier *c, const char *name)
{
	return svh_copier_start_common(c, name, true, -1);
}

/* Attach through an already open file (e.g. from svh_open_exec()). */
int svh_copier_start_fd(struct svh_copier *c, const char *name, int fd)
{
	return svh_copier_start_common(c, name, false, fd);
}

struct svh_copier_thunk {
	struct svh_copier *c;
	int (*fn)(struct svh_copier *c, void *arg);
	void *arg;
};

static int svh_copier_thunk_fn(void *arg)
{
	struct svh_copier_thunk *t = arg;

	return t->fn(t->c, t->arg);
}

int svh_copier_call(struct svh_copier *c,
		    int (*fn)(struct svh_copier *, void *), void *arg)
{
	struct svh_copier_thunk t = { c, fn, arg };

	return svh_worker_call(&c->w, svh_copier_thunk_fn, &t);
}

int svh_copier_unmap(struct svh_copier *c)
{
	int ret = 0;

	if (c->hdr != MAP_FAILED && c->hdr && munmap(c->hdr, c->lay.header_size))
		ret = -errno;
	if (c->rings != MAP_FAILED && c->rings &&
	    munmap(c->rings, c->lay.rings_size))
		ret = -errno;
	if (c->pool != MAP_FAILED && c->pool && munmap(c->pool, c->lay.pool_size))
		ret = -errno;
	c->hdr = c->rings = c->pool = MAP_FAILED;
	return ret;
}

void svh_copier_stop(struct svh_copier *c)
{
	svh_copier_unmap(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	svh_worker_stop(&c->w);
	if (c->pkey > 0)
		pkey_free(c->pkey);
	c->pkey = -1;
}

/* --- copier in a child process ------------------------------------------------------- */

static int svh_full_read(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

static int svh_full_write(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* One command to a child copier. */
struct svh_req {
	char op;
	char pad[7];
	__u64 arg;
};

struct svh_child_state {
	int fd;
	void *hdr, *rings, *pool;
	struct svhost_layout lay;
};

static void svh_child_serve(struct svh_child_state *st, int cmd, int ev)
{
	const struct svhost_shm_header *h = st->hdr;
	struct svh_reply r;
	struct svh_fault f;
	struct svh_req req;
	void *p;

	for (;;) {
		if (svh_full_read(cmd, &req, sizeof(req)))
			_exit(0);
		memset(&r, 0, sizeof(r));
		switch (req.op) {
		case 't':
			r.a = svh_probe_read(st->pool, NULL, &f);
			r.b = f.code;
			r.c = svh_probe_read(st->rings, NULL, &f);
			break;
		case 'f':
			r.a = svh_probe_write(st->pool, 0, &f);
			if (!r.a)
				svh_fill(st->pool, st->lay.pool_size, req.arg);
			break;
		case 'v':
			r.a = svh_probe_read(st->pool, NULL, &f);
			if (!r.a)
				r.b = svh_check(st->pool, st->lay.pool_size,
						req.arg) >= 0;
			break;
		case 'z':
			r.a = svh_probe_read(st->pool, NULL, &f);
			if (!r.a) {
				r.b = svh_nonzero(st->pool, st->lay.pool_size);
				r.c = svh_nonzero(st->rings,
						  st->lay.rings_size);
			}
			break;
		case 'h':
			r.a = h->state;
			r.b = h->reason;
			r.c = h->generation;
			break;
		case 'm':
			p = svh_map(st->fd, st->lay.pool_offset,
				    st->lay.pool_size, PROT_READ | PROT_WRITE);
			if (p == MAP_FAILED)
				r.a = errno;
			else
				munmap(p, st->lay.pool_size);
			break;
		case 'u':
			munmap(st->hdr, st->lay.header_size);
			munmap(st->rings, st->lay.rings_size);
			munmap(st->pool, st->lay.pool_size);
			break;
		case 'c':
			close(st->fd);
			break;
		case 'x':
			_exit(0);
		default:
			r.a = -1;
		}
		if (svh_full_write(ev, &r, sizeof(r)))
			_exit(3);
	}
}

int svh_child_copier(struct svh_child *ch, const char *name,
		     const struct svh_cred *cred, bool no_pkey)
{
	int cmdp[2], evp[2];
	struct svh_reply r;

	memset(ch, 0, sizeof(*ch));
	ch->pid = -1;
	if (pipe2(cmdp, O_CLOEXEC) || pipe2(evp, O_CLOEXEC))
		return -errno;
	ch->pid = svh_fork();
	if (ch->pid < 0)
		return -errno;
	if (ch->pid == 0) {
		struct svh_child_state st;
		int pkey = -1, ret;

		memset(&st, 0, sizeof(st));
		st.hdr = st.rings = st.pool = MAP_FAILED;
		close(cmdp[1]);
		close(evp[0]);
		memset(&r, 0, sizeof(r));
		if (cred && cred->drop &&
		    svh_drop_to(cred->uid, cred->gid, cred->ngroups,
				cred->groups))
			_exit(4);
		if (!no_pkey) {
			pkey = pkey_alloc(0, 0);
			if (pkey < 0)
				_exit(5);
		}
		r.b = pkey;
		r.c = gettid();
		st.fd = svh_open();
		if (st.fd < 0)
			_exit(6);
		ret = svh_attach(st.fd, name, pkey, &st.lay);
		r.a = -ret;
		if (!ret) {
			st.hdr = svh_map(st.fd, st.lay.header_offset,
					 st.lay.header_size, PROT_READ);
			st.rings = svh_map(st.fd, st.lay.rings_offset,
					   st.lay.rings_size,
					   PROT_READ | PROT_WRITE);
			st.pool = svh_map(st.fd, st.lay.pool_offset,
					  st.lay.pool_size,
					  PROT_READ | PROT_WRITE);
			if (st.hdr == MAP_FAILED || st.rings == MAP_FAILED ||
			    st.pool == MAP_FAILED)
				r.a = 1000 + errno;
		}
		if (svh_full_write(evp[1], &r, sizeof(r)) ||
		    svh_full_write(evp[1], &st.lay, sizeof(st.lay)))
			_exit(7);
		svh_child_serve(&st, cmdp[0], evp[1]);
		_exit(0);
	}
	close(cmdp[0]);
	close(evp[1]);
	ch->cmd = cmdp[1];
	ch->ev = evp[0];
	if (svh_full_read(ch->ev, &r, sizeof(r)) ||
	    svh_full_read(ch->ev, &ch->lay, sizeof(ch->lay))) {
		ch->err = -1;
		return -EPIPE;
	}
	ch->err = r.a;
	ch->pkey = r.b;
	ch->tid = r.c;
	return 0;
}

int svh_child_cmd(struct svh_child *ch, char cmd, __u64 arg,
		  struct svh_reply *r)
{
	struct svh_req req = { .op = cmd, .arg = arg };
	struct svh_reply dummy;

	if (!r)
		r = &dummy;
	if (svh_full_write(ch->cmd, &req, sizeof(req)))
		return -EPIPE;
	if (cmd == 'x')
		return 0;
	if (svh_full_read(ch->ev, r, sizeof(*r)))
		return -EPIPE;
	return 0;
}

/* Ask the child to exit and reap it; returns its svh_wait() status. */
int svh_child_end(struct svh_child *ch)
{
	int ret;

	if (ch->pid <= 0)
		return -1;
	svh_child_cmd(ch, 'x', 0, NULL);
	ret = svh_wait_ms(ch->pid, 20000);
	close(ch->cmd);
	close(ch->ev);
	ch->pid = -1;
	return ret;
}

int svh_child_kill(struct svh_child *ch)
{
	int ret;

	if (ch->pid <= 0)
		return -1;
	kill(ch->pid, SIGKILL);
	ret = svh_wait(ch->pid);
	close(ch->cmd);
	close(ch->ev);
	ch->pid = -1;
	return ret;
}
