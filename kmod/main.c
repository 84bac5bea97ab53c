// SPDX-License-Identifier: GPL-2.0
/*
 * svhost: broker for secure vhost-user packet pools -- the module, its
 * parameters, the misc device and its ioctls.  See svhost.h for the design,
 * lifetimes and lock order.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "svhost.h"

#define SVHOST_FS_MAGIC		0x53564846	/* "SVHF" */

unsigned int max_ports = 64;
module_param(max_ports, uint, 0644);
MODULE_PARM_DESC(max_ports, "Maximum number of ports alive (default 64)");

unsigned int max_pool_mib = 1024;
module_param(max_pool_mib, uint, 0644);
MODULE_PARM_DESC(max_pool_mib, "Maximum MiB of port memory in total (default 1024)");

unsigned int max_port_pool_mib = 256;
module_param(max_port_pool_mib, uint, 0644);
MODULE_PARM_DESC(max_port_pool_mib, "Maximum MiB of memory per port (default 256)");

bool require_pkey = true;
static const struct kernel_param_ops svhost_require_pkey_ops;
module_param_cb(require_pkey, &svhost_require_pkey_ops, &require_pkey, 0644);
MODULE_PARM_DESC(require_pkey,
		 "Refuse copiers without a protection key; setting it revokes attached ones (default Y)");

/* Protects svhost_ports, the named ports, and serialises creation limits. */
DEFINE_MUTEX(svhost_lock);
LIST_HEAD(svhost_ports);
atomic64_t svhost_nr_ports = ATOMIC64_INIT(0);
atomic64_t svhost_mem_bytes = ATOMIC64_INIT(0);

atomic64_t svhost_attaches = ATOMIC64_INIT(0);
atomic64_t svhost_denials = ATOMIC64_INIT(0);
atomic64_t svhost_revocations = ATOMIC64_INIT(0);
atomic64_t svhost_invalid = ATOMIC64_INIT(0);

static struct vfsmount *svhost_mnt;

/* Refuse a malformed request: count it, log it, return @err. */
__printf(2, 3) int svhost_invalid_req(int err, const char *fmt, ...)
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
__printf(2, 3) int svhost_deny(int err, const char *fmt, ...)
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
	int err;

	svhost_mnt = kern_mount(&svhost_fs_type);
	if (IS_ERR(svhost_mnt))
		return PTR_ERR(svhost_mnt);
	err = svhost_sysfs_init();
	if (err)
		goto err_unmount;
	err = misc_register(&svhost_misc);
	if (err)
		goto err_sysfs;

	pr_info("loaded, api %u, protection keys %s%s\n", SVHOST_API_VERSION,
		svhost_have_pkeys() ? "available" : "unavailable",
		require_pkey ? ", required" : "");
	return 0;

err_sysfs:
	svhost_sysfs_exit();
err_unmount:
	kern_unmount(svhost_mnt);
	return err;
}

static void __exit svhost_exit(void)
{
	misc_deregister(&svhost_misc);
	svhost_sysfs_exit();
	kern_unmount(svhost_mnt);
}

module_init(svhost_init);
module_exit(svhost_exit);

MODULE_DESCRIPTION("Broker for secure vhost-user packet pools");
MODULE_AUTHOR("secure-vhost developers");
MODULE_LICENSE("GPL");

