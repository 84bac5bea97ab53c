// SPDX-License-Identifier: GPL-2.0
/*
 * svhost: ports -- their memory, names, admission, header page, creation
 * and teardown, revocation and the mappings of owner and copier.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pkeys.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "svhost.h"

/* --- Protection keys ------------------------------------------------------ */

bool svhost_have_pkeys(void)
{
#ifdef CONFIG_ARCH_HAS_PKEYS
	return arch_pkeys_enabled();
#else
	return false;
#endif
}

unsigned long svhost_pkey_vm_flags(int pkey)
{
#ifdef CONFIG_ARCH_HAS_PKEYS
	if (pkey > 0)
		return ((unsigned long)pkey << VM_PKEY_SHIFT) & ARCH_VM_PKEY_FLAGS;
#endif
	return 0;
}

unsigned long svhost_vm_pkey_mask(void)
{
#ifdef CONFIG_ARCH_HAS_PKEYS
	return ARCH_VM_PKEY_FLAGS;
#else
	return 0;
#endif
}

/* Return 0 if @pkey may tag a copier mapping of the current process. */
int svhost_check_pkey(int pkey)
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

/* The last reference to the port is gone. */
void svhost_port_destroy(struct svhost_port *port)
{
	svhost_port_free_mem(port);
	if (port->hdr_page)
		__free_page(port->hdr_page);
	mutex_destroy(&port->lock);
	kfree(port);
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
bool svhost_name_valid(const char *name)
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

struct svhost_port *svhost_find_locked(const char *name)
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

bool svhost_acl_admits(struct svhost_port *port, const struct cred *cred)
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

struct svhost_port *svhost_get_port(const char *name)
{
	struct svhost_port *port;

	mutex_lock(&svhost_lock);
	port = svhost_find_locked(name);
	if (port)
		kobject_get(&port->kobj);
	mutex_unlock(&svhost_lock);
	return port;
}

/* --- Header page ---------------------------------------------------------- */

/*
 * Record a change of state.  Readers load generation with acquire first,
 * then state and reason: publishing generation last, with release, shows
 * them the state and reason of that generation or a later one.
 */
void svhost_set_state(struct svhost_port *port, u32 state, u32 reason)
{
	struct svhost_shm_header *h = port->hdr;

	lockdep_assert_held(&port->lock);
	WRITE_ONCE(h->reason, reason);
	WRITE_ONCE(h->state, state);
	/* Pairs with the readers' acquire load of generation. */
	smp_store_release(&h->generation, h->generation + 1);
}

const char *svhost_state_name(u32 state)
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

const char *svhost_reason_name(u32 reason)
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
void svhost_detach_locked(struct svhost_port *port, bool zap)
{
	struct svhost_file *cf = port->copier;

	lockdep_assert_held(&port->lock);
	port->copier = NULL;
	if (zap)
		unmap_mapping_range(cf->inode->i_mapping,
				    port->layout.rings_offset, 0, 1);
}

void svhost_revoke_locked(struct svhost_port *port, u32 reason)
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

/* --- Port creation and teardown ------------------------------------------ */

int svhost_check_create(const struct svhost_port_create *req)
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
struct svhost_port *svhost_port_new(const struct svhost_port_create *req)
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
int svhost_port_publish(struct svhost_port *port)
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
void svhost_owner_release(struct svhost_port *port)
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

const struct mmu_notifier_ops svhost_copier_mn_ops = {
	.release = svhost_copier_mm_release,
};

void svhost_copier_release(struct svhost_file *sf)
{
	struct svhost_port *port = sf->port;

	/* runs svhost_copier_mm_release() unless the exit already did */
	mmu_notifier_unregister(&sf->mn, sf->mm);
	put_cred(sf->cred);
	kobject_put(&port->kobj);
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

int svhost_mmap(struct file *file, struct vm_area_struct *vma)
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
