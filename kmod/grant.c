// SPDX-License-Identifier: GPL-2.0
/*
 * svhost: grants -- the administrator's policy of who may attach as the
 * copier of a port.
 *
 * A grant is keyed by the port *name*, not by a port: it can be written
 * before the port exists and outlives it, so a vSwitch that restarts and
 * creates its ports again finds their grants in place.  Each grant lists
 * uids, gids and cgroup v2 paths; a copier is admitted when
 *
 *	(no uids and no gids listed, or its euid is listed, or its egid or
 *	 a supplementary group is listed)
 *   and (no cgroups listed, or its thread is in a listed cgroup or below)
 *   and the grant lists anything at all.
 *
 * Identity and placement are ANDed because they answer different
 * questions: libvirt runs every QEMU with one uid, so the uid says "a QEMU"
 * and only the cgroup (the VM's machine scope) says "which VM".  A name
 * without a grant is judged as if it had the grant a new one starts with:
 * uid 0 only.
 *
 * sysfs: /sys/kernel/svhost/grants/add and remove take a port name;
 * grants/<name>/{uids,gids,cgroups} hold the lists (root only).  See
 * docs/ABI/testing/sysfs-kernel-svhost.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/ctype.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uidgid.h>

#include "svhost.h"

#define SVHOST_GRANT_IDS	16	/* uids, and gids, per grant */
#define SVHOST_GRANT_CGROUPS	8	/* cgroup paths per grant */
#define SVHOST_CGROUP_PATH_MAX	512	/* bytes, with the NUL */
#define SVHOST_MAX_GRANTS	1024

struct svhost_grant {
	struct kobject kobj;		/* grants/<name> */
	struct list_head node;		/* in svhost_grants */
	char name[SVHOST_NAME_LEN];
	/* under svhost_grant_lock */
	kuid_t uids[SVHOST_GRANT_IDS];
	unsigned int nr_uids;
	kgid_t gids[SVHOST_GRANT_IDS];
	unsigned int nr_gids;
	char *cgroups[SVHOST_GRANT_CGROUPS];
	unsigned int nr_cgroups;
};

#define to_grant(k) container_of(k, struct svhost_grant, kobj)

/* Protects svhost_grants and every grant's lists.  Innermost. */
static DEFINE_MUTEX(svhost_grant_lock);
/* Serialises adding and removing grants with their sysfs directories. */
static DEFINE_MUTEX(svhost_grant_mgmt);
static LIST_HEAD(svhost_grants);
static unsigned int svhost_nr_grants;
static struct kobject *svhost_grants_kobj;

static struct svhost_grant *svhost_grant_find_locked(const char *name)
{
	struct svhost_grant *g;

	lockdep_assert_held(&svhost_grant_lock);
	list_for_each_entry(g, &svhost_grants, node)
		if (!strcmp(g->name, name))
			return g;
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

/* Is cgroup @path @grant or below it?  Both are normalised paths. */
static bool svhost_cgroup_under(const char *path, const char *grant)
{
	size_t n = strlen(grant);

	if (n == 1)
		return true;		/* "/" */
	return !strncmp(path, grant, n) && (path[n] == '\0' || path[n] == '/');
}

/*
 * Does the grant for @name admit a copier with @cred whose thread was in
 * cgroup @cgroup (a path from the root of the cgroup v2 hierarchy, or NULL
 * when unknown)?
 */
bool svhost_grant_admits(const char *name, const struct cred *cred,
			 const char *cgroup)
{
	struct svhost_grant *g;
	bool who, where;
	unsigned int i;

	mutex_lock(&svhost_grant_lock);
	g = svhost_grant_find_locked(name);
	if (!g) {
		who = uid_eq(cred->euid, GLOBAL_ROOT_UID);
		where = true;
	} else if (!g->nr_uids && !g->nr_gids && !g->nr_cgroups) {
		who = false;	/* an empty grant admits nobody */
		where = false;
	} else {
		who = !g->nr_uids && !g->nr_gids;
		for (i = 0; i < g->nr_uids; i++)
			who |= uid_eq(cred->euid, g->uids[i]);
		for (i = 0; i < g->nr_gids; i++)
			who |= svhost_cred_in_group(cred, g->gids[i]);
		where = !g->nr_cgroups;
		for (i = 0; cgroup && i < g->nr_cgroups; i++)
			where |= svhost_cgroup_under(cgroup, g->cgroups[i]);
	}
	mutex_unlock(&svhost_grant_lock);
	return who && where;
}

static void svhost_grant_clear_locked(struct svhost_grant *g)
{
	unsigned int i;

	lockdep_assert_held(&svhost_grant_lock);
	for (i = 0; i < g->nr_cgroups; i++)
		kfree(g->cgroups[i]);
	g->nr_uids = 0;
	g->nr_gids = 0;
	g->nr_cgroups = 0;
}

static const struct kobj_type svhost_grant_ktype;

/*
 * Add the grant for @name, holding uid 0 like the default it replaces
 * (nothing when @empty); called with svhost_grant_mgmt held.
 */
static int svhost_grant_add_locked(const char *name, bool empty)
{
	struct svhost_grant *g;
	int err = 0;

	lockdep_assert_held(&svhost_grant_mgmt);
	g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
	if (!g)
		return -ENOMEM;
	kobject_init(&g->kobj, &svhost_grant_ktype);
	INIT_LIST_HEAD(&g->node);
	strscpy(g->name, name, sizeof(g->name));
	if (!empty) {
		g->uids[0] = GLOBAL_ROOT_UID;
		g->nr_uids = 1;
	}

	mutex_lock(&svhost_grant_lock);
	if (svhost_grant_find_locked(name))
		err = -EEXIST;
	else if (svhost_nr_grants >= SVHOST_MAX_GRANTS)
		err = -ENOSPC;
	mutex_unlock(&svhost_grant_lock);
	if (!err)
		err = kobject_add(&g->kobj, svhost_grants_kobj, "%s", name);
	if (err) {
		kobject_put(&g->kobj);
		return err;
	}
	mutex_lock(&svhost_grant_lock);
	list_add_tail(&g->node, &svhost_grants);
	svhost_nr_grants++;
	mutex_unlock(&svhost_grant_lock);
	return 0;
}

/* Take the grant for @name out of the policy; its directory goes too. */
static int svhost_grant_remove(const char *name)
{
	struct svhost_grant *g;

	mutex_lock(&svhost_grant_mgmt);
	mutex_lock(&svhost_grant_lock);
	g = svhost_grant_find_locked(name);
	if (g) {
		list_del_init(&g->node);
		svhost_nr_grants--;
	}
	mutex_unlock(&svhost_grant_lock);
	if (g)
		kobject_del(&g->kobj);
	mutex_unlock(&svhost_grant_mgmt);
	if (!g)
		return -ENOENT;
	kobject_put(&g->kobj);
	return 0;
}

/*
 * A revocation sticks: empty the grant for @name (adding an empty one if
 * there is none, which also shuts out uid 0), so that only a new grant
 * lets a copier back.
 */
int svhost_grant_withdraw(const char *name)
{
	struct svhost_grant *g;
	int err = 0;

	mutex_lock(&svhost_grant_mgmt);
	mutex_lock(&svhost_grant_lock);
	g = svhost_grant_find_locked(name);
	if (g)
		svhost_grant_clear_locked(g);
	mutex_unlock(&svhost_grant_lock);
	if (!g)
		err = svhost_grant_add_locked(name, true);
	mutex_unlock(&svhost_grant_mgmt);
	return err;
}

/* --- parsing ---------------------------------------------------------------- */

/*
 * Up to SVHOST_GRANT_IDS distinct decimal ids, each pair separated by one
 * space, comma or newline, with at most one newline at the end.  An empty
 * write ("" or "\n") gives the empty list.  No signs, no leading zeros, no
 * empty items.  Returns the number of ids or -EINVAL.
 */
static int svhost_parse_ids(const char *buf, size_t count, u32 *ids)
{
	size_t i = 0, start;
	int n = 0, j;
	u64 v;

	if (count && buf[count - 1] == '\n')
		count--;
	if (!count)
		return 0;
	for (;;) {
		start = i;
		for (v = 0; i < count && isdigit(buf[i]); i++) {
			v = v * 10 + (buf[i] - '0');
			if (v > U32_MAX)
				return -EINVAL;
		}
		if (i == start || (buf[start] == '0' && i - start > 1) ||
		    n == SVHOST_GRANT_IDS)
			return -EINVAL;
		for (j = 0; j < n; j++)
			if (ids[j] == v)
				return -EINVAL;
		ids[n++] = v;
		if (i == count)
			return n;
		if (buf[i] != ' ' && buf[i] != ',' && buf[i] != '\n')
			return -EINVAL;
		if (++i == count)
			return -EINVAL;
	}
}

/*
 * A cgroup v2 path as seen from the root of the hierarchy: "/" or
 * "/a/b", printable, no empty, "." or ".." component, no trailing "/".
 */
static bool svhost_cgroup_path_valid(const char *p, size_t len)
{
	size_t i, comp = 0;

	if (!len || len >= SVHOST_CGROUP_PATH_MAX || p[0] != '/')
		return false;
	if (len == 1)
		return true;
	for (i = 1; i <= len; i++) {
		if (i < len && (p[i] < 0x20 || p[i] == 0x7f))
			return false;
		if (i < len && p[i] != '/')
			continue;
		if (i - comp == 1)
			return false;	/* empty component */
		if ((i - comp == 2 && p[comp + 1] == '.') ||
		    (i - comp == 3 && p[comp + 1] == '.' && p[comp + 2] == '.'))
			return false;
		comp = i;
	}
	return true;
}

/*
 * Up to SVHOST_GRANT_CGROUPS distinct paths, one per line, with at most
 * one newline at the end; an empty write gives the empty list.  Returns
 * the number of paths (allocated into @out) or a negative errno.
 */
static int svhost_parse_cgroups(const char *buf, size_t count, char **out)
{
	const char *p = buf, *nl;
	size_t len;
	int n = 0, j;

	if (count && buf[count - 1] == '\n')
		count--;
	while (count) {
		nl = memchr(p, '\n', count);
		len = nl ? nl - p : count;
		if (n == SVHOST_GRANT_CGROUPS || !svhost_cgroup_path_valid(p, len))
			goto inval;
		for (j = 0; j < n; j++)
			if (strlen(out[j]) == len && !memcmp(out[j], p, len))
				goto inval;
		out[n] = kstrndup(p, len, GFP_KERNEL_ACCOUNT);
		if (!out[n])
			goto nomem;
		n++;
		if (!nl)
			break;
		count -= len + 1;
		p = nl + 1;
		if (!count)
			goto inval;	/* an empty last line */
	}
	return n;
inval:
	while (n--)
		kfree(out[n]);
	return -EINVAL;
nomem:
	while (n--)
		kfree(out[n]);
	return -ENOMEM;
}

/* --- sysfs: grants/<name>/ ----------------------------------------------------- */

enum svhost_grant_list {
	SVHOST_GRANT_UIDS,
	SVHOST_GRANT_GIDS,
	SVHOST_GRANT_CGROUP_LIST,
};

struct svhost_grant_attr {
	struct kobj_attribute attr;
	enum svhost_grant_list list;
};

#define to_grant_attr(a) container_of(a, struct svhost_grant_attr, attr)

static ssize_t svhost_grant_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	enum svhost_grant_list list = to_grant_attr(attr)->list;
	struct svhost_grant *g = to_grant(kobj);
	unsigned int i;
	ssize_t len = 0;

	mutex_lock(&svhost_grant_lock);
	if (list == SVHOST_GRANT_CGROUP_LIST) {
		for (i = 0; i < g->nr_cgroups; i++)
			len += sysfs_emit_at(buf, len, "%s\n", g->cgroups[i]);
	} else {
		for (i = 0; list == SVHOST_GRANT_UIDS && i < g->nr_uids; i++)
			len += sysfs_emit_at(buf, len, "%s%u", i ? " " : "",
					     from_kuid_munged(&init_user_ns,
							      g->uids[i]));
		for (i = 0; list == SVHOST_GRANT_GIDS && i < g->nr_gids; i++)
			len += sysfs_emit_at(buf, len, "%s%u", i ? " " : "",
					     from_kgid_munged(&init_user_ns,
							      g->gids[i]));
		len += sysfs_emit_at(buf, len, "\n");
	}
	mutex_unlock(&svhost_grant_lock);
	return len;
}

/* Parse @buf into @g's @list, replacing it.  Returns 0 or -errno. */
static int svhost_grant_set(struct svhost_grant *g,
			    enum svhost_grant_list list, const char *buf,
			    size_t count)
{
	char *cgroups[SVHOST_GRANT_CGROUPS], *old[SVHOST_GRANT_CGROUPS];
	kuid_t uids[SVHOST_GRANT_IDS];
	kgid_t gids[SVHOST_GRANT_IDS];
	u32 ids[SVHOST_GRANT_IDS];
	int i, n, nold = 0;

	if (list == SVHOST_GRANT_CGROUP_LIST)
		n = svhost_parse_cgroups(buf, count, cgroups);
	else
		n = svhost_parse_ids(buf, count, ids);
	if (n < 0)
		return n;
	for (i = 0; list != SVHOST_GRANT_CGROUP_LIST && i < n; i++) {
		uids[i] = make_kuid(&init_user_ns, ids[i]);
		gids[i] = make_kgid(&init_user_ns, ids[i]);
		if (list == SVHOST_GRANT_UIDS ? !uid_valid(uids[i]) :
		    !gid_valid(gids[i]))
			return -EINVAL;
	}

	mutex_lock(&svhost_grant_lock);
	if (list == SVHOST_GRANT_UIDS) {
		memcpy(g->uids, uids, n * sizeof(uids[0]));
		g->nr_uids = n;
	} else if (list == SVHOST_GRANT_GIDS) {
		memcpy(g->gids, gids, n * sizeof(gids[0]));
		g->nr_gids = n;
	} else {
		nold = g->nr_cgroups;
		memcpy(old, g->cgroups, nold * sizeof(old[0]));
		memcpy(g->cgroups, cgroups, n * sizeof(cgroups[0]));
		g->nr_cgroups = n;
	}
	mutex_unlock(&svhost_grant_lock);
	while (nold--)
		kfree(old[nold]);
	return 0;
}

static ssize_t svhost_grant_store(struct kobject *kobj,
				  struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	enum svhost_grant_list list = to_grant_attr(attr)->list;
	struct svhost_grant *g = to_grant(kobj);
	int err;

	err = svhost_grant_set(g, list, buf, count);
	if (err == -EINVAL)
		return svhost_invalid_req(-EINVAL, "grant %s: bad %s list",
					  g->name, attr->attr.name);
	if (err)
		return err;
	pr_info("grant %s: %s set\n", g->name, attr->attr.name);
	svhost_port_regrant(g->name);
	return count;
}

#define SVHOST_GRANT_ATTR(_name, _list)					\
	static struct svhost_grant_attr svhost_grant_attr_##_name = {	\
		.attr = __ATTR(_name, 0644, svhost_grant_show,		\
			       svhost_grant_store),			\
		.list = (_list),					\
	}

SVHOST_GRANT_ATTR(uids, SVHOST_GRANT_UIDS);
SVHOST_GRANT_ATTR(gids, SVHOST_GRANT_GIDS);
SVHOST_GRANT_ATTR(cgroups, SVHOST_GRANT_CGROUP_LIST);

static struct attribute *svhost_grant_attrs[] = {
	&svhost_grant_attr_uids.attr.attr,
	&svhost_grant_attr_gids.attr.attr,
	&svhost_grant_attr_cgroups.attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(svhost_grant);

static void svhost_grant_release(struct kobject *kobj)
{
	struct svhost_grant *g = to_grant(kobj);
	unsigned int i;

	for (i = 0; i < g->nr_cgroups; i++)
		kfree(g->cgroups[i]);
	kfree(g);
}

static const struct kobj_type svhost_grant_ktype = {
	.release = svhost_grant_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = svhost_grant_groups,
};

/* --- sysfs: grants/add, grants/remove ------------------------------------------ */

/* Copy a port name written to sysfs ("name" or "name\n") into @name. */
static int svhost_sysfs_name(const char *buf, size_t count, char *name)
{
	if (count && buf[count - 1] == '\n')
		count--;
	if (!count || count >= SVHOST_NAME_LEN || memchr(buf, '\0', count))
		return -EINVAL;
	memset(name, 0, SVHOST_NAME_LEN);
	memcpy(name, buf, count);
	return svhost_name_valid(name) ? 0 : -EINVAL;
}

static ssize_t add_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	char name[SVHOST_NAME_LEN];
	int err;

	if (svhost_sysfs_name(buf, count, name))
		return svhost_invalid_req(-EINVAL, "grants/add: bad port name");
	mutex_lock(&svhost_grant_mgmt);
	err = svhost_grant_add_locked(name, false);
	mutex_unlock(&svhost_grant_mgmt);
	if (err)
		return err;
	/* the new grant admits whom the default did: nobody to revoke */
	pr_info("grant %s added\n", name);
	return count;
}

static ssize_t remove_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	char name[SVHOST_NAME_LEN];
	int err;

	if (svhost_sysfs_name(buf, count, name))
		return svhost_invalid_req(-EINVAL, "grants/remove: bad port name");
	err = svhost_grant_remove(name);
	if (err)
		return err;
	pr_info("grant %s removed\n", name);
	svhost_port_regrant(name);
	return count;
}

static struct kobj_attribute svhost_grants_add_attr = __ATTR_WO(add);
static struct kobj_attribute svhost_grants_remove_attr = __ATTR_WO(remove);

static struct attribute *svhost_grants_attrs[] = {
	&svhost_grants_add_attr.attr,
	&svhost_grants_remove_attr.attr,
	NULL,
};

static const struct attribute_group svhost_grants_group = {
	.attrs = svhost_grants_attrs,
};

int svhost_grants_init(struct kobject *parent)
{
	int err;

	svhost_grants_kobj = kobject_create_and_add("grants", parent);
	if (!svhost_grants_kobj)
		return -ENOMEM;
	err = sysfs_create_group(svhost_grants_kobj, &svhost_grants_group);
	if (err)
		kobject_put(svhost_grants_kobj);
	return err;
}

/* Module exit: no file is open, so no port can be judged any more. */
void svhost_grants_exit(void)
{
	struct svhost_grant *g, *tmp;

	list_for_each_entry_safe(g, tmp, &svhost_grants, node) {
		list_del(&g->node);
		kobject_del(&g->kobj);
		kobject_put(&g->kobj);
	}
	svhost_nr_grants = 0;
	sysfs_remove_group(svhost_grants_kobj, &svhost_grants_group);
	kobject_put(svhost_grants_kobj);
}
