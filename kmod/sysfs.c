// SPDX-License-Identifier: GPL-2.0
/*
 * svhost: sysfs -- /sys/kernel/svhost/ with the global counters, one
 * directory per live port under ports/ (a kset: udev sees them come and
 * go, SUBSYSTEM=svhost), one per orphaned copier under gone/, and grants/
 * (grant.c).  Documented in docs/ABI/testing/sysfs-kernel-svhost.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>

#include "svhost.h"

static struct kobject *svhost_kobj;
struct kset *svhost_ports_kset;
struct kobject *svhost_gone_kobj;

/* --- per port: ports/<name>/ and gone/<name>@<id>/ ------------------------- */

#define to_port(k) container_of(k, struct svhost_port, kobj)

enum svhost_port_field {
	SVHOST_F_NAME,
	SVHOST_F_ID,
	SVHOST_F_STATE,
	SVHOST_F_OWNER_PID,
	SVHOST_F_OWNER_COMM,
	SVHOST_F_COPIER_PID,
	SVHOST_F_COPIER_TID,
	SVHOST_F_COPIER_COMM,
	SVHOST_F_COPIER_UID,
	SVHOST_F_COPIER_PKEY,
	SVHOST_F_COPIER_CGROUP,
	SVHOST_F_QUEUE_PAIRS,
	SVHOST_F_RING_SIZE,
	SVHOST_F_BUF_SIZE,
	SVHOST_F_BUF_COUNT,
	SVHOST_F_POOL_BYTES,
	SVHOST_F_ATTACHES,
	SVHOST_F_DENIALS,
	SVHOST_F_REVOCATIONS,
};

struct svhost_port_attr {
	struct kobj_attribute attr;
	enum svhost_port_field field;
};

/* One show function for every read-only port attribute. */
static ssize_t svhost_port_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	enum svhost_port_field f =
		container_of(attr, struct svhost_port_attr, attr)->field;
	struct svhost_port *port = to_port(kobj);
	const struct svhost_layout *l = &port->layout;
	struct svhost_file *cf;
	ssize_t ret;

	mutex_lock(&port->lock);
	/* the attached copier, or the orphan of a gone port */
	cf = port->copier ?: port->orphan;
	switch (f) {
	case SVHOST_F_NAME:
		ret = sysfs_emit(buf, "%s\n", port->name);
		break;
	case SVHOST_F_ID:
		ret = sysfs_emit(buf, "%llu\n", port->id);
		break;
	case SVHOST_F_STATE:
		ret = sysfs_emit(buf, "%s\n",
				 svhost_state_name(port->hdr->state));
		break;
	case SVHOST_F_OWNER_PID:
		ret = sysfs_emit(buf, "%d\n", port->owner_pid);
		break;
	case SVHOST_F_OWNER_COMM:
		ret = sysfs_emit(buf, "%s\n", port->owner_comm);
		break;
	case SVHOST_F_COPIER_PID:
		ret = sysfs_emit(buf, "%d\n", cf ? cf->pid : -1);
		break;
	case SVHOST_F_COPIER_TID:
		ret = sysfs_emit(buf, "%d\n", cf ? cf->tid : -1);
		break;
	case SVHOST_F_COPIER_COMM:
		ret = sysfs_emit(buf, "%s\n", cf ? cf->comm : "");
		break;
	case SVHOST_F_COPIER_UID:
		if (cf)
			ret = sysfs_emit(buf, "%u\n",
					 from_kuid_munged(&init_user_ns,
							  cf->cred->euid));
		else
			ret = sysfs_emit(buf, "-1\n");
		break;
	case SVHOST_F_COPIER_PKEY:
		ret = sysfs_emit(buf, "%d\n", cf ? cf->pkey : -1);
		break;
	case SVHOST_F_COPIER_CGROUP:
		ret = sysfs_emit(buf, "%s\n", cf ? cf->cgroup : "");
		break;
	case SVHOST_F_QUEUE_PAIRS:
		ret = sysfs_emit(buf, "%u\n", l->queue_pairs);
		break;
	case SVHOST_F_RING_SIZE:
		ret = sysfs_emit(buf, "%u\n", l->ring_size);
		break;
	case SVHOST_F_BUF_SIZE:
		ret = sysfs_emit(buf, "%u\n", l->buf_size);
		break;
	case SVHOST_F_BUF_COUNT:
		ret = sysfs_emit(buf, "%u\n", l->buf_count);
		break;
	case SVHOST_F_POOL_BYTES:
		ret = sysfs_emit(buf, "%llu\n", l->pool_size);
		break;
	case SVHOST_F_ATTACHES:
		ret = sysfs_emit(buf, "%llu\n", port->attaches);
		break;
	case SVHOST_F_DENIALS:
		ret = sysfs_emit(buf, "%llu\n", port->denials);
		break;
	case SVHOST_F_REVOCATIONS:
		ret = sysfs_emit(buf, "%llu\n", port->revocations);
		break;
	default:
		ret = -EIO;
	}
	mutex_unlock(&port->lock);
	return ret;
}

#define SVHOST_PORT_ATTR(_name, _field)					\
	static struct svhost_port_attr svhost_port_attr_##_name = {	\
		.attr = __ATTR(_name, 0444, svhost_port_show, NULL),	\
		.field = (_field),					\
	}

SVHOST_PORT_ATTR(name, SVHOST_F_NAME);
SVHOST_PORT_ATTR(id, SVHOST_F_ID);
SVHOST_PORT_ATTR(state, SVHOST_F_STATE);
SVHOST_PORT_ATTR(owner_pid, SVHOST_F_OWNER_PID);
SVHOST_PORT_ATTR(owner_comm, SVHOST_F_OWNER_COMM);
SVHOST_PORT_ATTR(copier_pid, SVHOST_F_COPIER_PID);
SVHOST_PORT_ATTR(copier_tid, SVHOST_F_COPIER_TID);
SVHOST_PORT_ATTR(copier_comm, SVHOST_F_COPIER_COMM);
SVHOST_PORT_ATTR(copier_uid, SVHOST_F_COPIER_UID);
SVHOST_PORT_ATTR(copier_pkey, SVHOST_F_COPIER_PKEY);
SVHOST_PORT_ATTR(copier_cgroup, SVHOST_F_COPIER_CGROUP);
SVHOST_PORT_ATTR(queue_pairs, SVHOST_F_QUEUE_PAIRS);
SVHOST_PORT_ATTR(ring_size, SVHOST_F_RING_SIZE);
SVHOST_PORT_ATTR(buf_size, SVHOST_F_BUF_SIZE);
SVHOST_PORT_ATTR(buf_count, SVHOST_F_BUF_COUNT);
SVHOST_PORT_ATTR(pool_bytes, SVHOST_F_POOL_BYTES);
SVHOST_PORT_ATTR(attaches, SVHOST_F_ATTACHES);
SVHOST_PORT_ATTR(denials, SVHOST_F_DENIALS);
SVHOST_PORT_ATTR(revocations, SVHOST_F_REVOCATIONS);

static ssize_t revoke_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	struct svhost_port *port = to_port(kobj);
	int err;

	if (!sysfs_streq(buf, "1"))
		return svhost_invalid_req(-EINVAL, "port %s: bad revoke value",
					  port->name);
	err = svhost_port_revoke(port);
	return err ? err : count;
}

static struct kobj_attribute svhost_port_attr_revoke = __ATTR_WO(revoke);

static struct attribute *svhost_port_attrs[] = {
	&svhost_port_attr_name.attr.attr,
	&svhost_port_attr_id.attr.attr,
	&svhost_port_attr_state.attr.attr,
	&svhost_port_attr_owner_pid.attr.attr,
	&svhost_port_attr_owner_comm.attr.attr,
	&svhost_port_attr_copier_pid.attr.attr,
	&svhost_port_attr_copier_tid.attr.attr,
	&svhost_port_attr_copier_comm.attr.attr,
	&svhost_port_attr_copier_uid.attr.attr,
	&svhost_port_attr_copier_pkey.attr.attr,
	&svhost_port_attr_copier_cgroup.attr.attr,
	&svhost_port_attr_queue_pairs.attr.attr,
	&svhost_port_attr_ring_size.attr.attr,
	&svhost_port_attr_buf_size.attr.attr,
	&svhost_port_attr_buf_count.attr.attr,
	&svhost_port_attr_pool_bytes.attr.attr,
	&svhost_port_attr_attaches.attr.attr,
	&svhost_port_attr_denials.attr.attr,
	&svhost_port_attr_revocations.attr.attr,
	&svhost_port_attr_revoke.attr,
	NULL,
};
ATTRIBUTE_GROUPS(svhost_port);

static void svhost_port_release(struct kobject *kobj)
{
	svhost_port_destroy(to_port(kobj));
}

const struct kobj_type svhost_port_ktype = {
	.release = svhost_port_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = svhost_port_groups,
};

static const char *svhost_uevent_name(SVHOST_UEVENT_KOBJ *kobj)
{
	return "svhost";
}

static const struct kset_uevent_ops svhost_ports_uevent_ops = {
	.name = svhost_uevent_name,
};

/* --- global ------------------------------------------------------------------- */

/* Read-only global values, one show function for all of them. */
struct svhost_stat_attr {
	struct kobj_attribute attr;
	atomic64_t *val;
};

static ssize_t svhost_stat_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	struct svhost_stat_attr *sa = container_of(attr, struct svhost_stat_attr,
						   attr);

	if (!sa->val)
		return sysfs_emit(buf, "%u\n", SVHOST_API_VERSION);
	return sysfs_emit(buf, "%lld\n", atomic64_read(sa->val));
}

#define SVHOST_STAT(_name, _val)					\
	static struct svhost_stat_attr svhost_stat_##_name = {		\
		.attr = __ATTR(_name, 0444, svhost_stat_show, NULL),	\
		.val = (_val),						\
	}

SVHOST_STAT(version, NULL);
SVHOST_STAT(ports_count, &svhost_nr_ports);
SVHOST_STAT(pool_bytes, &svhost_mem_bytes);
SVHOST_STAT(attaches, &svhost_attaches);
SVHOST_STAT(denials, &svhost_denials);
SVHOST_STAT(revocations, &svhost_revocations);
SVHOST_STAT(invalid_requests, &svhost_invalid);

static struct attribute *svhost_global_attrs[] = {
	&svhost_stat_version.attr.attr,
	&svhost_stat_ports_count.attr.attr,
	&svhost_stat_pool_bytes.attr.attr,
	&svhost_stat_attaches.attr.attr,
	&svhost_stat_denials.attr.attr,
	&svhost_stat_revocations.attr.attr,
	&svhost_stat_invalid_requests.attr.attr,
	NULL,
};

static const struct attribute_group svhost_global_group = {
	.attrs = svhost_global_attrs,
};

int svhost_sysfs_init(void)
{
	int err;

	svhost_kobj = kobject_create_and_add("svhost", kernel_kobj);
	if (!svhost_kobj)
		return -ENOMEM;
	err = sysfs_create_group(svhost_kobj, &svhost_global_group);
	if (err)
		goto err_kobj;
	err = -ENOMEM;
	svhost_ports_kset = kset_create_and_add("ports",
						&svhost_ports_uevent_ops,
						svhost_kobj);
	if (!svhost_ports_kset)
		goto err_group;
	svhost_gone_kobj = kobject_create_and_add("gone", svhost_kobj);
	if (!svhost_gone_kobj)
		goto err_ports;
	err = svhost_grants_init(svhost_kobj);
	if (err)
		goto err_gone;
	return 0;

err_gone:
	kobject_put(svhost_gone_kobj);
err_ports:
	kset_unregister(svhost_ports_kset);
err_group:
	sysfs_remove_group(svhost_kobj, &svhost_global_group);
err_kobj:
	kobject_put(svhost_kobj);
	return err;
}

void svhost_sysfs_exit(void)
{
	svhost_grants_exit();
	kobject_put(svhost_gone_kobj);
	kset_unregister(svhost_ports_kset);
	sysfs_remove_group(svhost_kobj, &svhost_global_group);
	kobject_put(svhost_kobj);
}
