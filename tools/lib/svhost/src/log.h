/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log.h: the library's only way to say something: the caller's print
 * callback (svh_set_print in api.h).  Nothing in libsvhost writes to stderr.
 * Messages get the "libsvhost: " prefix and a trailing newline here.
 */
#ifndef SVHOST_LOG_H
#define SVHOST_LOG_H

#include "svhost/api.h"

void svh_log(enum svh_print_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define svh_warn(...)	svh_log(SVH_WARN, __VA_ARGS__)
#define svh_info(...)	svh_log(SVH_INFO, __VA_ARGS__)
#define svh_debug(...)	svh_log(SVH_DEBUG, __VA_ARGS__)

/*
 * Validate a caller's options struct that carries its own size (libbpf's
 * OPTS_VALID): at least min_sz bytes, and any bytes beyond what this
 * library knows (known_sz) must be zero.  Returns 0 or -EINVAL.
 */
int svh_opts_check(const void *opts, size_t sz, size_t min_sz, size_t known_sz);

#endif /* SVHOST_LOG_H */
