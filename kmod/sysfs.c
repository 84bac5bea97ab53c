// SPDX-License-Identifier: GPL-2.0
/*
 * svhost: sysfs -- /sys/kernel/svhost/ with the global counters and one
 * directory per port.  Documented in docs/ABI/testing/sysfs-kernel-svhost.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "svhost.h"

static struct kobject *svhost_kobj;
struct kobject *svhost_ports_kobj;

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
	svhost_port_destroy(to_port(kobj));
}

const struct kobj_type svhost_port_ktype = {
	.release = svhost_port_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = svhost_port_groups,
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

int svhost_sysfs_init(void)
{
	size_t i;
	int err;

	for (i = 0; i < ARRAY_SIZE(svhost_port_attrs); i++)
		svhost_port_attr_ptrs[i] = &svhost_port_attrs[i].attr;
	svhost_global_attr_ptrs[0] = &svhost_version_attr.attr;
	for (i = 0; i < ARRAY_SIZE(svhost_stats); i++)
		svhost_global_attr_ptrs[i + 1] = &svhost_stats[i].attr.attr;

	svhost_kobj = kobject_create_and_add("svhost", kernel_kobj);
	if (!svhost_kobj)
		return -ENOMEM;
	err = sysfs_create_group(svhost_kobj, &svhost_global_group);
	if (err)
		goto err_kobj;
	err = -ENOMEM;
	svhost_ports_kobj = kobject_create_and_add("ports", svhost_kobj);
	if (!svhost_ports_kobj)
		goto err_group;
	return 0;

err_group:
	sysfs_remove_group(svhost_kobj, &svhost_global_group);
err_kobj:
	kobject_put(svhost_kobj);
	return err;
}

void svhost_sysfs_exit(void)
{
	kobject_put(svhost_ports_kobj);
	sysfs_remove_group(svhost_kobj, &svhost_global_group);
	kobject_put(svhost_kobj);
}
