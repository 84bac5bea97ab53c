// SPDX-License-Identifier: GPL-2.0
/*
 * svhost: broker for secure vhost-user packet pools.
 *
 * A vSwitch (owner) creates a port on /dev/svhost: a header page written only
 * by this driver, descriptor rings and a pool of packet buffers made of 2 MiB
 * pages.  A QEMU packet-delivery thread (copier) that the administrator has
 * granted the port in sysfs attaches with a protection key allocated in its
 * process and maps the rings and pool tagged with that key.  Guest memory
 * never leaves QEMU; only packets cross, through the pool.
 *
 * Lifetimes:
 *  - struct svhost_file lives from open() to release().  release() runs only
 *    after the fd is closed *and* every mapping made through it is gone,
 *    because each vma holds a reference on the file.
 *  - struct svhost_port is refcounted by its kobject: one reference for the
 *    owner's file, one for each copier file bound to it, short-lived ones
 *    for lookups.  The header page goes with the last reference.
 *  - Rings and pool, and the port's name and sysfs directory, live exactly
 *    as long as the owner's file.  Only the owner and the attached copier
 *    can map or fault them.  A copier that loses the port (revoked, owner
 *    gone, its process gone) has its mappings zapped; its faults are then
 *    served from a scratch page of its own file, so a copier still copying
 *    reads zeros and writes into nothing instead of getting SIGBUS.
 *
 * Every open file has a private inode so that revoking a copier can zap
 * exactly that copier's mappings with unmap_mapping_range().
 *
 * Locking, outermost first:
 *  - svhost_file.lock serialises binding a file to a port (ioctls); it is
 *    held across copy_to_user() and mmu_notifier_register(), so it nests
 *    outside mmap_lock.
 *  - svhost_lock protects the list of named ports and serialises the limit
 *    checks at creation.  Port sysfs handlers never take it, so
 *    kobject_del() may run under it.  The totals are atomics, decremented
 *    without it.
 *  - mmap_lock of a process: held (read) by the fault handler and (write)
 *    by mmap(), which both take svhost_port.lock inside it.
 *  - svhost_port.lock protects the port's copier, the header page, its
 *    ACL and counters.  Revocation zaps the copier's mappings under it;
 *    zapping takes no mmap_lock, and holding the lock keeps the copier's
 *    file alive meanwhile.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/kobject.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/mutex.h>
#include <linux/pkeys.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include <linux/svhost.h>

#define SVHOST_FS_MAGIC		0x53564846	/* "SVHF" */
#define SVHOST_ACL_MAX		16
#define SVHOST_CHUNK_ORDER	(21 - PAGE_SHIFT)
#define SVHOST_CHUNK_PAGES	BIT(SVHOST_CHUNK_ORDER)

static unsigned int max_ports = 64;
module_param(max_ports, uint, 0644);
MODULE_PARM_DESC(max_ports, "Maximum number of ports alive (default 64)");

static unsigned int max_pool_mib = 1024;
module_param(max_pool_mib, uint, 0644);
MODULE_PARM_DESC(max_pool_mib, "Maximum MiB of port memory in total (default 1024)");

static unsigned int max_port_pool_mib = 256;
module_param(max_port_pool_mib, uint, 0644);
MODULE_PARM_DESC(max_port_pool_mib, "Maximum MiB of memory per port (default 256)");

static bool require_pkey = true;
static const struct kernel_param_ops svhost_require_pkey_ops;
module_param_cb(require_pkey, &svhost_require_pkey_ops, &require_pkey, 0644);
MODULE_PARM_DESC(require_pkey,
		 "Refuse copiers without a protection key; setting it revokes attached ones (default Y)");

enum svhost_role {
	SVHOST_ROLE_NONE,
	SVHOST_ROLE_OWNER,
	SVHOST_ROLE_COPIER,
};

struct svhost_port {
	struct kobject kobj;
	struct list_head node;		/* in svhost_ports while named */
	char name[SVHOST_NAME_LEN];
	struct svhost_layout layout;
	u64 mem_bytes;			/* accounted in svhost_mem_bytes */
	bool accounted;			/* under lock once published */

	struct page *hdr_page;
	struct svhost_shm_header *hdr;	/* kernel address of hdr_page */
	struct page **ring_pages;
	unsigned long nr_ring_pages;
	struct page **chunks;		/* pool, SVHOST_CHUNK_ORDER each */
	unsigned long nr_chunks;

	pid_t owner_pid;
	char owner_comm[TASK_COMM_LEN];

	struct mutex lock;		/* protects the fields below */
	bool owner_alive;		/* rings and pool exist */
	struct svhost_file *copier;	/* the attached copier */
	struct svhost_file *attaching;	/* reserved by an attach in progress */
	bool attach_revoked;		/* ... and revoked meanwhile */
	kuid_t uids[SVHOST_ACL_MAX];
	unsigned int nr_uids;
	kgid_t gids[SVHOST_ACL_MAX];
	unsigned int nr_gids;
	u64 attaches;
	u64 denials;
	u64 revocations;
};

struct svhost_file {
	struct inode *inode;		/* private: its mapping holds our vmas */
	struct mutex lock;		/* serialises binding */
	enum svhost_role role;		/* set once, before port is published */
	struct svhost_port *port;	/* published with smp_store_release() */

	/* Fixed at bind.  Rings and pool can be mapped only from mm. */
	struct mm_struct *mm;		/* mmgrab()ed, compared only */
	/* Copier only; attached while port->copier points here. */
	const struct cred *cred;
	u32 generation;			/* header generation at attach */
	pid_t pid;
	pid_t tid;
	int pkey;
	char comm[TASK_COMM_LEN];
	struct page *scratch;		/* what rings and pool show once lost */
	struct mmu_notifier mn;		/* detaches when the process exits */
	struct svhost_port *mn_port;	/* the port mn was registered for */
};

static DEFINE_MUTEX(svhost_lock);
static LIST_HEAD(svhost_ports);
static atomic64_t svhost_nr_ports = ATOMIC64_INIT(0);
static atomic64_t svhost_mem_bytes = ATOMIC64_INIT(0);

static atomic64_t svhost_attaches = ATOMIC64_INIT(0);
static atomic64_t svhost_denials = ATOMIC64_INIT(0);
static atomic64_t svhost_revocations = ATOMIC64_INIT(0);
static atomic64_t svhost_invalid = ATOMIC64_INIT(0);

static struct vfsmount *svhost_mnt;
static struct kobject *svhost_kobj;
static struct kobject *svhost_ports_kobj;

/* Refuse a malformed request: count it, log it, return @err. */
static __printf(2, 3) int svhost_invalid_req(int err, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	atomic64_inc(&svhost_invalid);
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_info_ratelimited("%s[%d]: refused: %pV\n", current->comm,
			    task_pid_nr(current), &vaf);
	va_end(args);
	return err;
}

/* Refuse for lack of permission; caller counts per port under its lock. */
static __printf(2, 3) int svhost_deny(int err, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	atomic64_inc(&svhost_denials);
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_notice_ratelimited("%s[%d]: denied: %pV\n", current->comm,
			      task_pid_nr(current), &vaf);
	va_end(args);
	return err;
}

/* --- Protection keys ------------------------------------------------------ */

static bool svhost_have_pkeys(void)
{
#ifdef CONFIG_ARCH_HAS_PKEYS
	return arch_pkeys_enabled();
#else
	return false;
#endif
}

static unsigned long svhost_pkey_vm_flags(int pkey)
{
#ifdef CONFIG_ARCH_HAS_PKEYS
	if (pkey > 0)
		return ((unsigned long)pkey << VM_PKEY_SHIFT) & ARCH_VM_PKEY_FLAGS;
#endif
	return 0;
}

static unsigned long svhost_vm_pkey_mask(void)
{
#ifdef CONFIG_ARCH_HAS_PKEYS
	return ARCH_VM_PKEY_FLAGS;
#else
	return 0;
#endif
}

/* Return 0 if @pkey may tag a copier mapping of the current process. */
static int svhost_check_pkey(int pkey)
{
	bool allocated;

	if (READ_ONCE(require_pkey) && !svhost_have_pkeys())
		return svhost_invalid_req(-EOPNOTSUPP,
			"protection keys required but not supported here");
	if (pkey == -1) {
		if (READ_ONCE(require_pkey))
			return svhost_invalid_req(-EINVAL,
				"copier brings no protection key");
		return 0;
	}
	if (pkey < 1 || pkey >= arch_max_pkey())
		return svhost_invalid_req(-EINVAL, "pkey %d out of range", pkey);

	if (mmap_read_lock_killable(current->mm))
		return -EINTR;
	allocated = mm_pkey_is_allocated(current->mm, pkey);
	mmap_read_unlock(current->mm);
	if (!allocated)
		return svhost_invalid_req(-ENOKEY, "pkey %d not allocated", pkey);
	return 0;
}

/* --- Port memory ---------------------------------------------------------- */

/*
 * Free rings and pool and give their bytes back to the limits.  Nothing can
 * map or fault them any more: called when the owner's file is released,
 * after the attached copier's mappings were zapped, or before the port is
 * public.
 */
static void svhost_port_free_mem(struct svhost_port *port)
{
	unsigned long i;

	if (port->chunks) {
		for (i = 0; i < port->nr_chunks && port->chunks[i]; i++)
			__free_pages(port->chunks[i], SVHOST_CHUNK_ORDER);
		kvfree(port->chunks);
		port->chunks = NULL;
	}
	if (port->ring_pages) {
		for (i = 0; i < port->nr_ring_pages && port->ring_pages[i]; i++)
			__free_page(port->ring_pages[i]);
		kvfree(port->ring_pages);
		port->ring_pages = NULL;
	}
	if (port->accounted) {
		atomic64_dec(&svhost_nr_ports);
		atomic64_sub(port->mem_bytes, &svhost_mem_bytes);
		port->accounted = false;
	}
}

/* Allocate zeroed, memcg-charged header, ring and pool memory. */
static int svhost_port_alloc_mem(struct svhost_port *port)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO;
	unsigned long i;

	port->nr_ring_pages = port->layout.rings_size >> PAGE_SHIFT;
	port->nr_chunks = port->layout.pool_size >> (SVHOST_CHUNK_ORDER + PAGE_SHIFT);

	port->hdr_page = alloc_page(gfp);
	port->ring_pages = kvcalloc(port->nr_ring_pages, sizeof(struct page *),
				    GFP_KERNEL_ACCOUNT);
	port->chunks = kvcalloc(port->nr_chunks, sizeof(struct page *),
				GFP_KERNEL_ACCOUNT);
	if (!port->hdr_page || !port->ring_pages || !port->chunks)
		return -ENOMEM;

	for (i = 0; i < port->nr_ring_pages; i++) {
		port->ring_pages[i] = alloc_page(gfp);
		if (!port->ring_pages[i])
			return -ENOMEM;
	}
	for (i = 0; i < port->nr_chunks; i++) {
		if (fatal_signal_pending(current))
			return -EINTR;
		/* compound: a stray reference keeps one page, not 511 */
		port->chunks[i] = alloc_pages(gfp | __GFP_COMP | __GFP_NOWARN |
					      __GFP_RETRY_MAYFAIL,
					      SVHOST_CHUNK_ORDER);
		if (!port->chunks[i])
			return -ENOMEM;
		cond_resched();
	}
	port->hdr = page_address(port->hdr_page);
	return 0;
}

/* Page frame behind byte offset @pgoff pages into the port's mmap space. */
static bool svhost_port_pfn(struct svhost_port *port, pgoff_t pgoff,
			    unsigned long *pfn)
{
	const struct svhost_layout *l = &port->layout;
	pgoff_t rings = l->rings_offset >> PAGE_SHIFT;
	pgoff_t pool = l->pool_offset >> PAGE_SHIFT;

	if (pgoff == 0) {
		*pfn = page_to_pfn(port->hdr_page);
		return true;
	}
	if (!port->ring_pages || !port->chunks)
		return false;
	if (pgoff >= rings && pgoff - rings < port->nr_ring_pages) {
		*pfn = page_to_pfn(port->ring_pages[pgoff - rings]);
		return true;
	}
	if (pgoff >= pool && pgoff - pool < port->nr_chunks * SVHOST_CHUNK_PAGES) {
		pgoff -= pool;
		*pfn = page_to_pfn(port->chunks[pgoff >> SVHOST_CHUNK_ORDER]) +
		       (pgoff & (SVHOST_CHUNK_PAGES - 1));
		return true;
	}
	return false;
}

/* --- Names and ACLs ------------------------------------------------------- */

/* Validate a user-supplied name already copied into a private buffer. */
static bool svhost_name_valid(const char *name)
{
	size_t len = strnlen(name, SVHOST_NAME_LEN);
	size_t i;

	if (len == 0 || len == SVHOST_NAME_LEN)
		return false;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!isascii(c) ||
		    (!isalnum(c) && c != '_' && c != '-' && c != '.'))
			return false;
	}
	return true;
}

static struct svhost_port *svhost_find_locked(const char *name)
{
	struct svhost_port *port;

	lockdep_assert_held(&svhost_lock);
	list_for_each_entry(port, &svhost_ports, node)
		if (!strcmp(port->name, name))
			return port;
	return NULL;
}

static bool svhost_cred_in_group(const struct cred *cred, kgid_t gid)
{
	const struct group_info *gi = cred->group_info;
	int i;

	if (gid_eq(cred->egid, gid))
		return true;
	for (i = 0; gi && i < gi->ngroups; i++)
		if (gid_eq(gi->gid[i], gid))
			return true;
	return false;
}

static bool svhost_acl_admits(struct svhost_port *port, const struct cred *cred)
{
	unsigned int i;

	lockdep_assert_held(&port->lock);
	for (i = 0; i < port->nr_uids; i++)
		if (uid_eq(cred->euid, port->uids[i]))
			return true;
	for (i = 0; i < port->nr_gids; i++)
		if (svhost_cred_in_group(cred, port->gids[i]))
			return true;
	return false;
}

/* --- Header page ---------------------------------------------------------- */

/*
 * Record a change of state.  Readers load generation with acquire first,
 * then state and reason: publishing generation last, with release, shows
 * them the state and reason of that generation or a later one.
 */
static void svhost_set_state(struct svhost_port *port, u32 state, u32 reason)
{
	struct svhost_shm_header *h = port->hdr;

	lockdep_assert_held(&port->lock);
	WRITE_ONCE(h->reason, reason);
	WRITE_ONCE(h->state, state);
	/* Pairs with the readers' acquire load of generation. */
	smp_store_release(&h->generation, h->generation + 1);
}

static const char *svhost_state_name(u32 state)
{
	switch (state) {
	case SVHOST_STATE_READY:
		return "ready";
	case SVHOST_STATE_ATTACHED:
		return "attached";
	case SVHOST_STATE_REVOKED:
		return "revoked";
	case SVHOST_STATE_OWNER_GONE:
		return "owner-gone";
	}
	return "unknown";
}

static const char *svhost_reason_name(u32 reason)
{
	switch (reason) {
	case SVHOST_REASON_ADMIN:
		return "admin";
	case SVHOST_REASON_ACL:
		return "acl";
	case SVHOST_REASON_PKEY:
		return "pkey";
	}
	return "none";
}

/*
 * The attached copier loses the port.  With @zap (it may still be running)
 * its ring and pool mappings are torn down so that its next access faults
 * in its scratch page; its header mapping stays so that it can read why.
 * The copier's file cannot be released while we hold port->lock, so its
 * inode is safe to use.
 */
static void svhost_detach_locked(struct svhost_port *port, bool zap)
{
	struct svhost_file *cf = port->copier;

	lockdep_assert_held(&port->lock);
	port->copier = NULL;
	if (zap)
		unmap_mapping_range(cf->inode->i_mapping,
				    port->layout.rings_offset, 0, 1);
}

static void svhost_revoke_locked(struct svhost_port *port, u32 reason)
{
	struct svhost_file *cf = port->copier;

	lockdep_assert_held(&port->lock);
	svhost_detach_locked(port, true);
	port->revocations++;
	atomic64_inc(&svhost_revocations);
	svhost_set_state(port, SVHOST_STATE_REVOKED, reason);
	pr_info("port %s: copier %s[%d] revoked (%s)\n", port->name, cf->comm,
		cf->pid, svhost_reason_name(reason));
}

/* --- sysfs: per port ------------------------------------------------------- */

#define to_port(k) container_of(k, struct svhost_port, kobj)

static ssize_t state_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	struct svhost_port *port = to_port(kobj);
	ssize_t ret;

	mutex_lock(&port->lock);
	ret = sysfs_emit(buf, "%s\n", svhost_state_name(port->hdr->state));
	mutex_unlock(&port->lock);
	return ret;
}

static ssize_t owner_pid_show(struct kobject *kobj, struct kobj_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%d\n", to_port(kobj)->owner_pid);
}

static ssize_t owner_comm_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", to_port(kobj)->owner_comm);
}

enum svhost_copier_field {
	SVHOST_COPIER_PID,
	SVHOST_COPIER_TID,
	SVHOST_COPIER_UID,
	SVHOST_COPIER_PKEY,
	SVHOST_COPIER_COMM,
};

static ssize_t svhost_copier_show(struct kobject *kobj, char *buf,
				  enum svhost_copier_field field)
{
	struct svhost_port *port = to_port(kobj);
	struct svhost_file *cf;
	ssize_t ret;

	mutex_lock(&port->lock);
	cf = port->copier;
	if (!cf)
		ret = sysfs_emit(buf, field == SVHOST_COPIER_COMM ? "\n" : "-1\n");
	else if (field == SVHOST_COPIER_PID)
		ret = sysfs_emit(buf, "%d\n", cf->pid);
	else if (field == SVHOST_COPIER_TID)
		ret = sysfs_emit(buf, "%d\n", cf->tid);
	else if (field == SVHOST_COPIER_UID)
		ret = sysfs_emit(buf, "%u\n",
				 from_kuid_munged(&init_user_ns, cf->cred->euid));
	else if (field == SVHOST_COPIER_PKEY)
		ret = sysfs_emit(buf, "%d\n", cf->pkey);
	else
		ret = sysfs_emit(buf, "%s\n", cf->comm);
	mutex_unlock(&port->lock);
	return ret;
}

static ssize_t copier_pid_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return svhost_copier_show(kobj, buf, SVHOST_COPIER_PID);
}

static ssize_t copier_tid_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return svhost_copier_show(kobj, buf, SVHOST_COPIER_TID);
}

static ssize_t copier_uid_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return svhost_copier_show(kobj, buf, SVHOST_COPIER_UID);
}

static ssize_t copier_pkey_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return svhost_copier_show(kobj, buf, SVHOST_COPIER_PKEY);
}

static ssize_t copier_comm_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return svhost_copier_show(kobj, buf, SVHOST_COPIER_COMM);
}

static ssize_t queue_pairs_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", to_port(kobj)->layout.queue_pairs);
}

static ssize_t ring_size_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", to_port(kobj)->layout.ring_size);
}

static ssize_t buf_size_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%u\n", to_port(kobj)->layout.buf_size);
}

static ssize_t buf_count_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", to_port(kobj)->layout.buf_count);
}

static ssize_t pool_bytes_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_port(kobj)->layout.pool_size);
}

enum svhost_counter {
	SVHOST_CNT_ATTACHES,
	SVHOST_CNT_DENIALS,
	SVHOST_CNT_REVOCATIONS,
};

static ssize_t svhost_counter_show(struct kobject *kobj, char *buf,
				   enum svhost_counter which)
{
	struct svhost_port *port = to_port(kobj);
	u64 val;

	mutex_lock(&port->lock);
	if (which == SVHOST_CNT_ATTACHES)
		val = port->attaches;
	else if (which == SVHOST_CNT_DENIALS)
		val = port->denials;
	else
		val = port->revocations;
	mutex_unlock(&port->lock);
	return sysfs_emit(buf, "%llu\n", val);
}

static ssize_t attaches_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	return svhost_counter_show(kobj, buf, SVHOST_CNT_ATTACHES);
}

static ssize_t denials_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return svhost_counter_show(kobj, buf, SVHOST_CNT_DENIALS);
}

static ssize_t revocations_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return svhost_counter_show(kobj, buf, SVHOST_CNT_REVOCATIONS);
}

/*
 * Parse up to SVHOST_ACL_MAX decimal ids separated by spaces, commas or
 * newlines.  Returns the number parsed or -EINVAL.
 */
static int svhost_parse_ids(const char *buf, size_t count, u32 *ids)
{
	char tmp[SVHOST_ACL_MAX * 12];
	char *cur, *tok;
	int n = 0;

	if (count >= sizeof(tmp) || memchr(buf, '\0', count))
		return -EINVAL;
	memcpy(tmp, buf, count);
	tmp[count] = '\0';
	cur = tmp;
	while ((tok = strsep(&cur, " ,\n")) != NULL) {
		if (!*tok)
			continue;
		if (n == SVHOST_ACL_MAX || kstrtou32(tok, 10, &ids[n]))
			return -EINVAL;
		n++;
	}
	return n;
}

static ssize_t svhost_acl_show(struct svhost_port *port, char *buf, bool gids)
{
	unsigned int i, n;
	ssize_t len = 0;

	mutex_lock(&port->lock);
	n = gids ? port->nr_gids : port->nr_uids;
	for (i = 0; i < n; i++)
		len += sysfs_emit_at(buf, len, "%s%u", i ? " " : "",
				     gids ? from_kgid_munged(&init_user_ns, port->gids[i]) :
				     from_kuid_munged(&init_user_ns, port->uids[i]));
	mutex_unlock(&port->lock);
	len += sysfs_emit_at(buf, len, "\n");
	return len;
}

static ssize_t svhost_acl_store(struct svhost_port *port, const char *buf,
				size_t count, bool gids)
{
	u32 ids[SVHOST_ACL_MAX];
	kuid_t uids[SVHOST_ACL_MAX];
	kgid_t kgids[SVHOST_ACL_MAX];
	int i, n;

	n = svhost_parse_ids(buf, count, ids);
	if (n < 0)
		return svhost_invalid_req(-EINVAL, "port %s: bad %s list",
					  port->name, gids ? "gid" : "uid");
	for (i = 0; i < n; i++) {
		uids[i] = make_kuid(&init_user_ns, ids[i]);
		kgids[i] = make_kgid(&init_user_ns, ids[i]);
		if (gids ? !gid_valid(kgids[i]) : !uid_valid(uids[i]))
			return svhost_invalid_req(-EINVAL, "port %s: invalid id %u",
						  port->name, ids[i]);
	}

	mutex_lock(&port->lock);
	if (gids) {
		memcpy(port->gids, kgids, n * sizeof(kgid_t));
		port->nr_gids = n;
	} else {
		memcpy(port->uids, uids, n * sizeof(kuid_t));
		port->nr_uids = n;
	}
	if (port->copier && !svhost_acl_admits(port, port->copier->cred))
		svhost_revoke_locked(port, SVHOST_REASON_ACL);
	mutex_unlock(&port->lock);
	return count;
}

static ssize_t allowed_uids_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return svhost_acl_show(to_port(kobj), buf, false);
}

static ssize_t allowed_uids_store(struct kobject *kobj,
				  struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	return svhost_acl_store(to_port(kobj), buf, count, false);
}

static ssize_t allowed_gids_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return svhost_acl_show(to_port(kobj), buf, true);
}

static ssize_t allowed_gids_store(struct kobject *kobj,
				  struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	return svhost_acl_store(to_port(kobj), buf, count, true);
}

static ssize_t revoke_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	struct svhost_port *port = to_port(kobj);
	int ret = count;

	if (!sysfs_streq(buf, "1"))
		return svhost_invalid_req(-EINVAL, "port %s: bad revoke value",
					  port->name);
	mutex_lock(&port->lock);
	if (port->copier) {
		svhost_revoke_locked(port, SVHOST_REASON_ADMIN);
	} else if (port->attaching) {
		/* the attach in progress will fail with EPERM */
		port->attach_revoked = true;
		port->revocations++;
		atomic64_inc(&svhost_revocations);
	} else {
		ret = -ENOENT;
	}
	mutex_unlock(&port->lock);
	return ret;
}

static struct kobj_attribute svhost_port_attrs[] = {
	__ATTR_RO(state),
	__ATTR_RO(owner_pid),
	__ATTR_RO(owner_comm),
	__ATTR_RO(copier_pid),
	__ATTR_RO(copier_tid),
	__ATTR_RO(copier_comm),
	__ATTR_RO(copier_uid),
	__ATTR_RO(copier_pkey),
	__ATTR_RO(queue_pairs),
	__ATTR_RO(ring_size),
	__ATTR_RO(buf_size),
	__ATTR_RO(buf_count),
	__ATTR_RO(pool_bytes),
	__ATTR_RO(attaches),
	__ATTR_RO(denials),
	__ATTR_RO(revocations),
	__ATTR_RW(allowed_uids),
	__ATTR_RW(allowed_gids),
	__ATTR_WO(revoke),
};

static struct attribute *svhost_port_attr_ptrs[ARRAY_SIZE(svhost_port_attrs) + 1];

static const struct attribute_group svhost_port_group = {
	.attrs = svhost_port_attr_ptrs,
};

static const struct attribute_group *svhost_port_groups[] = {
	&svhost_port_group,
	NULL,
};

static void svhost_port_release(struct kobject *kobj)
{
	struct svhost_port *port = to_port(kobj);

	svhost_port_free_mem(port);
	if (port->hdr_page)
		__free_page(port->hdr_page);
	mutex_destroy(&port->lock);
	kfree(port);
}

static const struct kobj_type svhost_port_ktype = {
	.release = svhost_port_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = svhost_port_groups,
};

/* --- Port creation and teardown ------------------------------------------ */

static int svhost_check_create(const struct svhost_port_create *req)
{
	if (req->flags || req->reserved)
		return svhost_invalid_req(-EINVAL, "create: unknown flags");
	if (!svhost_name_valid(req->name))
		return svhost_invalid_req(-EINVAL, "create: bad port name");
	if (!req->queue_pairs || req->queue_pairs > SVHOST_MAX_QUEUE_PAIRS)
		return svhost_invalid_req(-EINVAL, "create: queue_pairs %u",
					  req->queue_pairs);
	if (!is_power_of_2(req->ring_size) ||
	    req->ring_size < SVHOST_MIN_RING_SIZE ||
	    req->ring_size > SVHOST_MAX_RING_SIZE)
		return svhost_invalid_req(-EINVAL, "create: ring_size %u",
					  req->ring_size);
	if (!is_power_of_2(req->buf_size) ||
	    req->buf_size < SVHOST_MIN_BUF_SIZE ||
	    req->buf_size > SVHOST_MAX_BUF_SIZE)
		return svhost_invalid_req(-EINVAL, "create: buf_size %u",
					  req->buf_size);
	if (!req->buf_count || req->buf_count > SVHOST_MAX_BUF_COUNT)
		return svhost_invalid_req(-EINVAL, "create: buf_count %u",
					  req->buf_count);
	return 0;
}

/*
 * Reserve a slot and memory against the limits; undone when the memory is
 * freed.  Creations are serialised by svhost_lock; concurrent frees only
 * lower the totals, so the check stays conservative.
 */
static int svhost_account_locked(struct svhost_port *port)
{
	u64 port_limit = (u64)READ_ONCE(max_port_pool_mib) << 20;
	u64 total_limit = (u64)READ_ONCE(max_pool_mib) << 20;

	lockdep_assert_held(&svhost_lock);
	if (port->mem_bytes > port_limit)
		return svhost_invalid_req(-E2BIG,
			"create %s: %llu bytes over max_port_pool_mib",
			port->name, port->mem_bytes);
	if (atomic64_read(&svhost_nr_ports) >= READ_ONCE(max_ports))
		return svhost_invalid_req(-ENOSPC, "create %s: max_ports reached",
					  port->name);
	if (atomic64_read(&svhost_mem_bytes) + port->mem_bytes > total_limit)
		return svhost_invalid_req(-ENOSPC, "create %s: max_pool_mib reached",
					  port->name);
	atomic64_inc(&svhost_nr_ports);
	atomic64_add(port->mem_bytes, &svhost_mem_bytes);
	port->accounted = true;
	return 0;
}

/*
 * Allocate a port, its memory and its accounting, not yet visible to
 * anyone: everything that can fail after this is svhost_port_publish().
 */
static struct svhost_port *svhost_port_new(const struct svhost_port_create *req)
{
	struct svhost_port *port;
	int err;

	port = kzalloc(sizeof(*port), GFP_KERNEL_ACCOUNT);
	if (!port)
		return ERR_PTR(-ENOMEM);
	kobject_init(&port->kobj, &svhost_port_ktype);
	mutex_init(&port->lock);
	INIT_LIST_HEAD(&port->node);
	strscpy(port->name, req->name, sizeof(port->name));
	svhost_layout_compute(&port->layout, req->queue_pairs, req->ring_size,
			      req->buf_size, req->buf_count, PAGE_SIZE);
	port->mem_bytes = port->layout.pool_offset + port->layout.pool_size;
	port->owner_pid = task_tgid_nr(current);
	get_task_comm(port->owner_comm, current);
	port->uids[0] = GLOBAL_ROOT_UID;
	port->nr_uids = 1;
	port->owner_alive = true;

	mutex_lock(&svhost_lock);
	err = svhost_find_locked(port->name) ? -EEXIST :
	      svhost_account_locked(port);
	mutex_unlock(&svhost_lock);
	if (err)
		goto out_put;

	err = svhost_port_alloc_mem(port);
	if (err) {
		pr_info_ratelimited("create %s: cannot allocate %llu bytes\n",
				    port->name, port->mem_bytes);
		goto out_put;
	}
	port->hdr->magic = SVHOST_SHM_MAGIC;
	port->hdr->version = SVHOST_API_VERSION;
	port->hdr->state = SVHOST_STATE_READY;
	port->hdr->layout = port->layout;
	return port;

out_put:
	kobject_put(&port->kobj);
	return ERR_PTR(err);
}

/* Make the port visible by name; after this, creation cannot fail. */
static int svhost_port_publish(struct svhost_port *port)
{
	int err;

	mutex_lock(&svhost_lock);
	if (svhost_find_locked(port->name))
		err = -EEXIST;
	else
		err = kobject_add(&port->kobj, svhost_ports_kobj, "%s",
				  port->name);
	if (!err)
		list_add_tail(&port->node, &svhost_ports);
	mutex_unlock(&svhost_lock);
	if (!err)
		kobject_uevent(&port->kobj, KOBJ_ADD);
	return err;
}

/*
 * The owner's file is going away: free the name, then the memory.  An
 * attached copier loses the port first and sees OWNER_GONE.
 */
static void svhost_owner_release(struct svhost_port *port)
{
	mutex_lock(&svhost_lock);
	list_del_init(&port->node);
	kobject_del(&port->kobj);
	mutex_unlock(&svhost_lock);

	mutex_lock(&port->lock);
	port->owner_alive = false;
	if (port->copier) {
		pr_info("port %s: owner gone, copier %s[%d] detached\n",
			port->name, port->copier->comm, port->copier->pid);
		svhost_detach_locked(port, true);
	}
	svhost_set_state(port, SVHOST_STATE_OWNER_GONE, SVHOST_REASON_NONE);
	svhost_port_free_mem(port);
	mutex_unlock(&port->lock);
	kobject_put(&port->kobj);
}

/*
 * The copier's process is gone (its mm is torn down), or its file is
 * released: it leaves the port, which takes a new copier.  Called from the
 * mmu notifier, maybe twice (exit and unregister), so idempotent.  No zap:
 * no mapping of this copier survives either event.
 */
static void svhost_copier_mm_release(struct mmu_notifier *mn,
				     struct mm_struct *mm)
{
	struct svhost_file *sf = container_of(mn, struct svhost_file, mn);
	struct svhost_port *port = sf->mn_port;

	mutex_lock(&port->lock);
	if (port->copier == sf) {
		svhost_detach_locked(port, false);
		if (port->owner_alive)
			svhost_set_state(port, SVHOST_STATE_READY,
					 SVHOST_REASON_NONE);
	}
	mutex_unlock(&port->lock);
}

static const struct mmu_notifier_ops svhost_copier_mn_ops = {
	.release = svhost_copier_mm_release,
};

static void svhost_copier_release(struct svhost_file *sf)
{
	struct svhost_port *port = sf->port;

	/* runs svhost_copier_mm_release() unless the exit already did */
	mmu_notifier_unregister(&sf->mn, sf->mm);
	put_cred(sf->cred);
	kobject_put(&port->kobj);
}

/* --- ioctls ----------------------------------------------------------------- */

static long svhost_ioctl_version(void __user *argp)
{
	struct svhost_version v = {
		.api_version = SVHOST_API_VERSION,
		.max_queue_pairs = SVHOST_MAX_QUEUE_PAIRS,
		.max_ring_size = SVHOST_MAX_RING_SIZE,
		.max_port_pool_bytes = (u64)READ_ONCE(max_port_pool_mib) << 20,
	};

	if (svhost_have_pkeys())
		v.features |= SVHOST_FEATURE_PKEY;
	if (READ_ONCE(require_pkey))
		v.features |= SVHOST_FEATURE_PKEY_REQUIRED;
	return copy_to_user(argp, &v, sizeof(v)) ? -EFAULT : 0;
}

/* Rings and pool are mapped read-write: binding needs an O_RDWR file. */
static bool svhost_file_rdwr(const struct file *file)
{
	return (file->f_mode & (FMODE_READ | FMODE_WRITE)) ==
	       (FMODE_READ | FMODE_WRITE);
}

/* Bind @sf to @port in @role, visible to mmap() from now on. */
static void svhost_bind(struct svhost_file *sf, struct svhost_port *port,
			enum svhost_role role)
{
	lockdep_assert_held(&sf->lock);
	sf->mm = current->mm;
	mmgrab(sf->mm);
	sf->role = role;
	/* Pairs with smp_load_acquire() in svhost_mmap(): role first. */
	smp_store_release(&sf->port, port);
}

static long svhost_ioctl_create(struct svhost_file *sf, struct file *file,
				void __user *argp)
{
	struct svhost_port_create req;
	struct svhost_port *port;
	int err;

	if (!capable(CAP_NET_ADMIN))
		return svhost_deny(-EPERM, "create needs CAP_NET_ADMIN");
	if (!svhost_file_rdwr(file))
		return svhost_invalid_req(-EBADF, "create: file not opened O_RDWR");
	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	err = svhost_check_create(&req);
	if (err)
		return err;

	mutex_lock(&sf->lock);
	if (sf->port) {
		err = svhost_invalid_req(-EBUSY, "create: file already bound");
		goto unlock;
	}
	port = svhost_port_new(&req);
	if (IS_ERR(port)) {
		err = PTR_ERR(port);
		goto unlock;
	}
	req.layout = port->layout;
	if (copy_to_user(argp, &req, sizeof(req)))
		err = -EFAULT;
	else
		err = svhost_port_publish(port);
	if (err) {
		kobject_put(&port->kobj);
		goto unlock;
	}
	svhost_bind(sf, port, SVHOST_ROLE_OWNER);
	pr_debug("port %s created by %s[%d]\n", port->name, current->comm,
		 task_tgid_nr(current));
unlock:
	mutex_unlock(&sf->lock);
	return err;
}

static struct svhost_port *svhost_get_port(const char *name)
{
	struct svhost_port *port;

	mutex_lock(&svhost_lock);
	port = svhost_find_locked(name);
	if (port)
		kobject_get(&port->kobj);
	mutex_unlock(&svhost_lock);
	return port;
}

/*
 * May the current thread become the copier of @port with @pkey?  Checked
 * when the attach reserves the port and again when it binds, so that a
 * grant change, a revocation or require_pkey set in between is obeyed.
 */
static int svhost_may_attach_locked(struct svhost_port *port, int pkey)
{
	lockdep_assert_held(&port->lock);
	if (!port->owner_alive)
		return svhost_invalid_req(-ENOENT, "attach: port %s is closing",
					  port->name);
	if (!svhost_acl_admits(port, current_cred())) {
		port->denials++;
		return svhost_deny(-EPERM, "port %s: attach not granted",
				   port->name);
	}
	if (pkey == -1 && READ_ONCE(require_pkey))
		return svhost_invalid_req(-EINVAL,
			"port %s: copier brings no protection key", port->name);
	return 0;
}

/* Reserve @port for @sf; returns the generation the attach will get. */
static int svhost_reserve_locked(struct svhost_file *sf,
				 struct svhost_port *port, int pkey, u32 *gen)
{
	int err;

	lockdep_assert_held(&port->lock);
	err = svhost_may_attach_locked(port, pkey);
	if (err)
		return err;
	if (port->copier || port->attaching)
		return svhost_invalid_req(-EBUSY, "port %s: already has a copier",
					  port->name);
	port->attaching = sf;
	port->attach_revoked = false;
	*gen = port->hdr->generation + 1;
	return 0;
}

/* Turn the reservation into the attachment, or drop it. */
static int svhost_attach_locked(struct svhost_file *sf,
				struct svhost_port *port, int pkey)
{
	int err;

	lockdep_assert_held(&port->lock);
	port->attaching = NULL;
	if (port->attach_revoked) {
		port->denials++;
		return svhost_deny(-EPERM, "port %s: revoked while attaching",
				   port->name);
	}
	err = svhost_may_attach_locked(port, pkey);
	if (err)
		return err;

	sf->cred = get_current_cred();
	sf->pid = task_tgid_nr(current);
	sf->tid = task_pid_nr(current);
	sf->pkey = pkey;
	get_task_comm(sf->comm, current);
	port->copier = sf;
	port->attaches++;
	atomic64_inc(&svhost_attaches);
	svhost_set_state(port, SVHOST_STATE_ATTACHED, SVHOST_REASON_NONE);
	sf->generation = port->hdr->generation;
	return 0;
}

/*
 * Attach in two steps so that no user memory access happens while the
 * port shows the copier: reserve the port (checks done, other attaches get
 * EBUSY, the header untouched), write the result back, then check again
 * and attach.  A revocation or a failing copy in between leaves the port
 * as it was and this file unbound, ready for a retry.
 */
static long svhost_ioctl_attach(struct svhost_file *sf, struct file *file,
				void __user *argp)
{
	struct svhost_copier_attach req;
	struct svhost_port *port;
	struct page *scratch;
	u32 gen = 0;
	int err;

	if (!svhost_file_rdwr(file))
		return svhost_invalid_req(-EBADF, "attach: file not opened O_RDWR");
	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.reserved)
		return svhost_invalid_req(-EINVAL, "attach: unknown flags");
	if (!svhost_name_valid(req.name))
		return svhost_invalid_req(-EINVAL, "attach: bad port name");
	/* Takes mmap_lock: do it before sf->lock, which copy_to_user() nests. */
	err = svhost_check_pkey(req.pkey);
	if (err)
		return err;
	scratch = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!scratch)
		return -ENOMEM;

	mutex_lock(&sf->lock);
	if (sf->port) {
		err = svhost_invalid_req(-EBUSY, "attach: file already bound");
		goto unlock;
	}
	port = svhost_get_port(req.name);
	if (!port) {
		err = svhost_invalid_req(-ENOENT, "attach: no port %s", req.name);
		goto unlock;
	}
	mutex_lock(&port->lock);
	err = svhost_reserve_locked(sf, port, req.pkey, &gen);
	mutex_unlock(&port->lock);
	if (err)
		goto put;

	sf->mn_port = port;
	sf->mn.ops = &svhost_copier_mn_ops;
	err = mmu_notifier_register(&sf->mn, current->mm);
	if (err) {
		mutex_lock(&port->lock);
		port->attaching = NULL;
		mutex_unlock(&port->lock);
		goto put;
	}

	req.generation = gen;
	req.reserved = 0;
	req.layout = port->layout;
	err = copy_to_user(argp, &req, sizeof(req)) ? -EFAULT : 0;

	mutex_lock(&port->lock);
	if (err)
		port->attaching = NULL;
	else
		err = svhost_attach_locked(sf, port, req.pkey);
	mutex_unlock(&port->lock);
	if (err) {
		/* nothing was attached: the release finds nothing to do */
		mmu_notifier_unregister(&sf->mn, current->mm);
		goto put;
	}
	WARN_ON_ONCE(sf->generation != gen);
	sf->scratch = scratch;
	scratch = NULL;
	svhost_bind(sf, port, SVHOST_ROLE_COPIER);
	if (req.pkey == -1)
		pr_warn_ratelimited("port %s: copier %s[%d] attached WITHOUT protection key isolation (require_pkey=N)\n",
				    port->name, sf->comm, sf->pid);
	goto unlock;
put:
	kobject_put(&port->kobj);
unlock:
	mutex_unlock(&sf->lock);
	if (scratch)
		__free_page(scratch);
	return err;
}

static long svhost_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct svhost_file *sf = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case SVHOST_GET_VERSION:
		return svhost_ioctl_version(argp);
	case SVHOST_PORT_CREATE:
		return svhost_ioctl_create(sf, file, argp);
	case SVHOST_COPIER_ATTACH:
		return svhost_ioctl_attach(sf, file, argp);
	}
	return svhost_invalid_req(-ENOTTY, "unknown ioctl %#x", cmd);
}

/* --- mmap ------------------------------------------------------------------ */

/*
 * Rings and pool of a copier that lost the port fault in its scratch page,
 * one page for the whole range: it keeps running, sees zeros and its own
 * writes, and never reaches the pool again.
 */
static vm_fault_t svhost_fault(struct vm_fault *vmf)
{
	struct svhost_file *sf = vmf->vma->vm_file->private_data;
	struct svhost_port *port = sf->port;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	unsigned long pfn;

	mutex_lock(&port->lock);
	if (vmf->pgoff && sf->role == SVHOST_ROLE_COPIER && port->copier != sf)
		ret = vmf_insert_pfn(vmf->vma, vmf->address,
				     page_to_pfn(sf->scratch));
	else if (svhost_port_pfn(port, vmf->pgoff, &pfn))
		ret = vmf_insert_pfn(vmf->vma, vmf->address, pfn);
	mutex_unlock(&port->lock);
	return ret;
}

/* The key is fixed at attach; VM_MAYEXEC is clear, so the core refuses exec. */
static int svhost_vm_mprotect(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, unsigned long newflags)
{
	if ((newflags ^ vma->vm_flags) & svhost_vm_pkey_mask())
		return svhost_invalid_req(-EPERM, "mprotect: protection key change");
	return 0;
}

static int svhost_vm_mremap(struct vm_area_struct *vma)
{
	return svhost_invalid_req(-EPERM, "mremap: mappings cannot move");
}

static const struct vm_operations_struct svhost_vm_ops = {
	.fault = svhost_fault,
	.mprotect = svhost_vm_mprotect,
	.mremap = svhost_vm_mremap,
};

/* Return true if [start, start + len) lies inside one region of @l. */
static bool svhost_range_ok(const struct svhost_layout *l, u64 start, u64 len,
			    bool *header)
{
	u64 end;

	if (check_add_overflow(start, len, &end))
		return false;
	*header = end <= l->header_size;
	if (*header)
		return true;
	if (start >= l->rings_offset && end <= l->rings_offset + l->rings_size)
		return true;
	return start >= l->pool_offset && end <= l->pool_offset + l->pool_size;
}

/*
 * May the current process map rings and pool through @sf?  Only the process
 * that bound the file may; a copier also needs to be still attached and its
 * key still allocated (6.1's pkey_free() does not check for users).  Called
 * with mmap_lock held for writing.
 */
static int svhost_may_map(struct svhost_file *sf, struct svhost_port *port)
{
	int err = 0;

	mutex_lock(&port->lock);
	if (current->mm != sf->mm)
		err = svhost_deny(-EPERM, "port %s: mapping from another process",
				  port->name);
	else if (sf->role == SVHOST_ROLE_COPIER && port->copier != sf)
		err = svhost_deny(-EACCES, "port %s: copier no longer attached",
				  port->name);
	else if (sf->role == SVHOST_ROLE_COPIER && sf->pkey > 0 &&
		 !mm_pkey_is_allocated(current->mm, sf->pkey))
		err = svhost_deny(-EACCES, "port %s: pkey %d was freed",
				  port->name, sf->pkey);
	if (err)
		port->denials++;
	mutex_unlock(&port->lock);
	return err;
}

static int svhost_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct svhost_file *sf = file->private_data;
	/* Pairs with smp_store_release() at bind: role is valid if set. */
	struct svhost_port *port = smp_load_acquire(&sf->port);
	u64 start = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u64 len = vma->vm_end - vma->vm_start;
	bool header;
	int err = 0;

	if (!port)
		return svhost_invalid_req(-EINVAL, "mmap of an unbound file");
	if (!(vma->vm_flags & VM_MAYSHARE))
		return svhost_invalid_req(-EINVAL, "mmap: MAP_PRIVATE");
	if (vma->vm_flags & VM_EXEC)
		return svhost_invalid_req(-EPERM, "mmap: PROT_EXEC");
	if (!svhost_range_ok(&port->layout, start, len, &header))
		return svhost_invalid_req(-EINVAL,
			"mmap: range %#llx+%#llx outside the regions", start, len);
	if (header && (vma->vm_flags & VM_WRITE))
		return svhost_invalid_req(-EPERM, "mmap: header is read-only");

	if (!header) {
		err = svhost_may_map(sf, port);
		if (err)
			return err;
	}
	if (!header && sf->role == SVHOST_ROLE_COPIER) {
		vma->vm_flags &= ~svhost_vm_pkey_mask();
		vma->vm_flags |= svhost_pkey_vm_flags(sf->pkey);
	}

	vma->vm_flags |= VM_PFNMAP | VM_IO | VM_DONTCOPY | VM_DONTEXPAND |
			 VM_DONTDUMP;
	vma->vm_flags &= ~VM_MAYEXEC;
	if (header)
		vma->vm_flags &= ~VM_MAYWRITE;
	vma->vm_page_prot = vm_get_page_prot(vma->vm_flags);
	vma->vm_ops = &svhost_vm_ops;
	return 0;
}

/* --- File operations --------------------------------------------------------- */

static int svhost_open(struct inode *inode, struct file *file)
{
	struct svhost_file *sf;

	sf = kzalloc(sizeof(*sf), GFP_KERNEL_ACCOUNT);
	if (!sf)
		return -ENOMEM;
	sf->inode = alloc_anon_inode(svhost_mnt->mnt_sb);
	if (IS_ERR(sf->inode)) {
		int err = PTR_ERR(sf->inode);

		kfree(sf);
		return err;
	}
	mutex_init(&sf->lock);
	sf->pkey = -1;
	file->f_mapping = sf->inode->i_mapping;
	file->private_data = sf;
	return 0;
}

static int svhost_release(struct inode *inode, struct file *file)
{
	struct svhost_file *sf = file->private_data;

	if (sf->role == SVHOST_ROLE_OWNER)
		svhost_owner_release(sf->port);
	else if (sf->role == SVHOST_ROLE_COPIER)
		svhost_copier_release(sf);
	if (sf->mm)
		mmdrop(sf->mm);
	if (sf->scratch)
		__free_page(sf->scratch);
	iput(sf->inode);
	mutex_destroy(&sf->lock);
	kfree(sf);
	return 0;
}

static const struct file_operations svhost_fops = {
	.owner = THIS_MODULE,
	.open = svhost_open,
	.release = svhost_release,
	.unlocked_ioctl = svhost_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = svhost_mmap,
	.fsync = noop_fsync,
	.llseek = noop_llseek,
};

static struct miscdevice svhost_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "svhost",
	.fops = &svhost_fops,
	.mode = 0666,
};

/* --- require_pkey ------------------------------------------------------------ */

/* Revoke every attached copier that brought no protection key. */
static void svhost_enforce_pkey(void)
{
	struct svhost_port *port;

	mutex_lock(&svhost_lock);
	list_for_each_entry(port, &svhost_ports, node) {
		mutex_lock(&port->lock);
		if (port->copier && port->copier->pkey == -1)
			svhost_revoke_locked(port, SVHOST_REASON_PKEY);
		mutex_unlock(&port->lock);
	}
	mutex_unlock(&svhost_lock);
}

/* Setting require_pkey applies to attached copiers too, not only new ones. */
static int svhost_set_require_pkey(const char *val,
				   const struct kernel_param *kp)
{
	int err = param_set_bool(val, kp);

	if (!err && READ_ONCE(require_pkey))
		svhost_enforce_pkey();
	return err;
}

static const struct kernel_param_ops svhost_require_pkey_ops = {
	.set = svhost_set_require_pkey,
	.get = param_get_bool,
};

/* --- sysfs: global ---------------------------------------------------------- */

static ssize_t version_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%u\n", SVHOST_API_VERSION);
}

/* Read-only global counters, one show function for all of them. */
struct svhost_stat_attr {
	struct kobj_attribute attr;
	atomic64_t *val;
};

static ssize_t svhost_stat_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	struct svhost_stat_attr *sa = container_of(attr, struct svhost_stat_attr,
						   attr);

	return sysfs_emit(buf, "%lld\n", atomic64_read(sa->val));
}

#define SVHOST_STAT(_name, _val) \
	{ .attr = __ATTR(_name, 0444, svhost_stat_show, NULL), .val = (_val) }

static struct svhost_stat_attr svhost_stats[] = {
	SVHOST_STAT(ports_count, &svhost_nr_ports),
	SVHOST_STAT(pool_bytes, &svhost_mem_bytes),
	SVHOST_STAT(attaches, &svhost_attaches),
	SVHOST_STAT(denials, &svhost_denials),
	SVHOST_STAT(revocations, &svhost_revocations),
	SVHOST_STAT(invalid_requests, &svhost_invalid),
};

static struct kobj_attribute svhost_version_attr = __ATTR_RO(version);

static struct attribute *svhost_global_attr_ptrs[ARRAY_SIZE(svhost_stats) + 2];

static const struct attribute_group svhost_global_group = {
	.attrs = svhost_global_attr_ptrs,
};

/* --- Module ------------------------------------------------------------------ */

static int svhost_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, SVHOST_FS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * Private pseudo filesystem for the per-file inodes.  Only this module
 * mounts it, and it unmounts it on exit, so it takes no module reference.
 */
static struct file_system_type svhost_fs_type = {
	.name = "svhost",
	.init_fs_context = svhost_init_fs_context,
	.kill_sb = kill_anon_super,
};

static int __init svhost_init(void)
{
	size_t i;
	int err;

	for (i = 0; i < ARRAY_SIZE(svhost_port_attrs); i++)
		svhost_port_attr_ptrs[i] = &svhost_port_attrs[i].attr;
	svhost_global_attr_ptrs[0] = &svhost_version_attr.attr;
	for (i = 0; i < ARRAY_SIZE(svhost_stats); i++)
		svhost_global_attr_ptrs[i + 1] = &svhost_stats[i].attr.attr;

	svhost_mnt = kern_mount(&svhost_fs_type);
	if (IS_ERR(svhost_mnt))
		return PTR_ERR(svhost_mnt);

	err = -ENOMEM;
	svhost_kobj = kobject_create_and_add("svhost", kernel_kobj);
	if (!svhost_kobj)
		goto err_unmount;
	err = sysfs_create_group(svhost_kobj, &svhost_global_group);
	if (err)
		goto err_kobj;
	err = -ENOMEM;
	svhost_ports_kobj = kobject_create_and_add("ports", svhost_kobj);
	if (!svhost_ports_kobj)
		goto err_group;
	err = misc_register(&svhost_misc);
	if (err)
		goto err_ports;

	pr_info("loaded, api %u, protection keys %s%s\n", SVHOST_API_VERSION,
		svhost_have_pkeys() ? "available" : "unavailable",
		require_pkey ? ", required" : "");
	return 0;

err_ports:
	kobject_put(svhost_ports_kobj);
err_group:
	sysfs_remove_group(svhost_kobj, &svhost_global_group);
err_kobj:
	kobject_put(svhost_kobj);
err_unmount:
	kern_unmount(svhost_mnt);
	return err;
}

static void __exit svhost_exit(void)
{
	misc_deregister(&svhost_misc);
	kobject_put(svhost_ports_kobj);
	sysfs_remove_group(svhost_kobj, &svhost_global_group);
	kobject_put(svhost_kobj);
	kern_unmount(svhost_mnt);
}

module_init(svhost_init);
module_exit(svhost_exit);

MODULE_DESCRIPTION("Broker for secure vhost-user packet pools");
MODULE_AUTHOR("secure-vhost developers");
MODULE_LICENSE("GPL");
