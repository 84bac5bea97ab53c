/* SPDX-License-Identifier: GPL-2.0 */
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

#ifndef _SVHOST_H
#define _SVHOST_H

#include <linux/atomic.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/uidgid.h>

#include <linux/svhost.h>

#define SVHOST_ACL_MAX		16
#define SVHOST_CHUNK_ORDER	(21 - PAGE_SHIFT)
#define SVHOST_CHUNK_PAGES	BIT(SVHOST_CHUNK_ORDER)

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

/* main.c */
extern unsigned int max_ports;
extern unsigned int max_pool_mib;
extern unsigned int max_port_pool_mib;
extern bool require_pkey;
extern struct mutex svhost_lock;
extern struct list_head svhost_ports;
extern atomic64_t svhost_nr_ports;
extern atomic64_t svhost_mem_bytes;
extern atomic64_t svhost_attaches;
extern atomic64_t svhost_denials;
extern atomic64_t svhost_revocations;
extern atomic64_t svhost_invalid;

__printf(2, 3) int svhost_invalid_req(int err, const char *fmt, ...);
__printf(2, 3) int svhost_deny(int err, const char *fmt, ...);

/* port.c */
bool svhost_have_pkeys(void);
unsigned long svhost_pkey_vm_flags(int pkey);
unsigned long svhost_vm_pkey_mask(void);
int svhost_check_pkey(int pkey);
bool svhost_name_valid(const char *name);
struct svhost_port *svhost_find_locked(const char *name);
struct svhost_port *svhost_get_port(const char *name);
bool svhost_acl_admits(struct svhost_port *port, const struct cred *cred);
void svhost_set_state(struct svhost_port *port, u32 state, u32 reason);
const char *svhost_state_name(u32 state);
const char *svhost_reason_name(u32 reason);
void svhost_detach_locked(struct svhost_port *port, bool zap);
void svhost_revoke_locked(struct svhost_port *port, u32 reason);
void svhost_port_destroy(struct svhost_port *port);
int svhost_check_create(const struct svhost_port_create *req);
struct svhost_port *svhost_port_new(const struct svhost_port_create *req);
int svhost_port_publish(struct svhost_port *port);
void svhost_owner_release(struct svhost_port *port);
void svhost_copier_release(struct svhost_file *sf);
int svhost_mmap(struct file *file, struct vm_area_struct *vma);
extern const struct mmu_notifier_ops svhost_copier_mn_ops;

/* sysfs.c */
extern struct kobject *svhost_ports_kobj;
extern const struct kobj_type svhost_port_ktype;
int svhost_sysfs_init(void);
void svhost_sysfs_exit(void);

#endif /* _SVHOST_H */
