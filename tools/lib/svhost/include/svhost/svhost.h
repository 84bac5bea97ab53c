/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * svhost.h: umbrella header of libsvhost 1.0, the secure-vhost data path.
 *   api.h      version, print callback, counter tables (shared by all)
 *   vswitch.h  the vSwitch (port owner) role: DPDK lib/vhost secure mode
 *   device.h   the copier role: an in-process vhost back end for QEMU
 * Everything else in the library is private.  Link with `pkg-config
 * --libs libsvhost` (or the static archive, whose symbols are all hidden).
 */
#ifndef SVHOST_SVHOST_H
#define SVHOST_SVHOST_H

#include "svhost/api.h"
#include "svhost/vswitch.h"
#include "svhost/device.h"

#endif /* SVHOST_SVHOST_H */
