/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * api.h: what every public libsvhost header shares.  PROPOSED libsvhost 1.0:
 * the export macro, the library version, the print callback and the
 * name/value counter tables.
 *
 * Conventions: every function that can fail returns 0 (or a count) on
 * success and a negative errno on failure; the library never prints to
 * stderr itself, it calls the print callback (default: none).
 */
#ifndef SVHOST_API_H
#define SVHOST_API_H

#include <stdarg.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SVH_API
#define SVH_API __attribute__((visibility("default")))
#endif

#define SVH_VERSION_MAJOR	1
#define SVH_VERSION_MINOR	0

/* Largest packet (without virtio-net header) either side accepts. */
#define SVH_MAX_PKT_LEN		(65535u + 14u + 4u)

enum svh_print_level {
	SVH_WARN,
	SVH_INFO,
	SVH_DEBUG,
};

typedef int (*svh_print_fn_t)(enum svh_print_level level, const char *fmt, va_list ap);

/*
 * Set the print callback (libbpf_set_print style); returns the previous one.
 * QEMU routes it to error_report/warn_report, DPDK to RTE_LOG.  NULL: silent.
 */
SVH_API svh_print_fn_t svh_set_print(svh_print_fn_t fn);

/* One counter. */
struct svh_stat {
	const char *name;	/* stable, owned by the library */
	uint64_t value;
};

/* "1.0.0" */
SVH_API const char *svh_version(void);

#ifdef __cplusplus
}
#endif
#endif /* SVHOST_API_H */
