/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * svhost.h: umbrella header of libsvhost, the secure-vhost data path.
 *   ring.h      svhost shared rings, both roles
 *   guestmem.h  guest memory table and bounds-checked translation
 *   virtq.h     split virtqueue device engine, virtio-net header mapping
 *   dirtylog.h  vhost-user dirty bitmap for live migration
 *   pd.h        PD copy loop and PD thread scheduling
 *   broker.h    /dev/svhost owner/copier, PKRU helpers, local test ports
 */
#ifndef SVHOST_SVHOST_H
#define SVHOST_SVHOST_H

#include "svhost/compiler.h"
#include "svhost/ring.h"
#include "svhost/guestmem.h"
#include "svhost/dirtylog.h"
#include "svhost/virtq.h"
#include "svhost/pd.h"
#include "svhost/broker.h"

#define SVHOST_LIB_VERSION "0.1.0"

#endif
