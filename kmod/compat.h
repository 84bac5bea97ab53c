/* SPDX-License-Identifier: GPL-2.0 */
/*
 * svhost: kernel API differences between the releases svhost builds on,
 * from Linux 6.1 (Debian 12) on.  Kbuild tests the headers for each
 * feature (SVHOST_HAVE_*), so a backport into an older stable kernel is
 * picked up too; each entry names the release that changed the API.  The
 * helpers carry an svhost_ prefix so that they never clash with the
 * kernel's own.  Drop an entry once kernels without the change are no
 * longer built.
 */
#ifndef _SVHOST_COMPAT_H
#define _SVHOST_COMPAT_H

#include <linux/kobject.h>
#include <linux/mm.h>

/* 6.3: vma->vm_flags became read-only; vm_flags_set()/_clear() modify it. */
static inline void svhost_vm_flags_set(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
#ifdef SVHOST_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void svhost_vm_flags_clear(struct vm_area_struct *vma,
					 vm_flags_t flags)
{
#ifdef SVHOST_HAVE_VM_FLAGS_SET
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/* 6.2: kset_uevent_ops callbacks take a const struct kobject. */
#ifdef SVHOST_HAVE_CONST_UEVENT_KOBJ
#define SVHOST_UEVENT_KOBJ	const struct kobject
#else
#define SVHOST_UEVENT_KOBJ	struct kobject
#endif

#endif /* _SVHOST_COMPAT_H */
