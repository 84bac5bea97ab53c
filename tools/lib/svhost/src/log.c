// SPDX-License-Identifier: BSD-3-Clause
/*
 * log.c: the print callback, the library version and the options-size check.
 * The callback pointer is the library's one piece of global state (as in
 * libbpf): it is process-wide by nature and swapped atomically.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static svh_print_fn_t print_fn;

SVH_API svh_print_fn_t svh_set_print(svh_print_fn_t fn)
{
	return __atomic_exchange_n(&print_fn, fn, __ATOMIC_ACQ_REL);
}

SVH_API const char *svh_version(void)
{
#define SVH_STR2(x) #x
#define SVH_STR(x) SVH_STR2(x)
	return SVH_STR(SVH_VERSION_MAJOR) "." SVH_STR(SVH_VERSION_MINOR) ".0";
}

/* calls the user's callback with a va_list of its own */
static void call_fn(svh_print_fn_t fn, enum svh_print_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fn(level, fmt, ap);
	va_end(ap);
}

void svh_log(enum svh_print_level level, const char *fmt, ...)
{
	svh_print_fn_t fn = __atomic_load_n(&print_fn, __ATOMIC_ACQUIRE);
	char msg[512];
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	call_fn(fn, level, "libsvhost: %s\n", msg);
}

int svh_opts_check(const void *opts, size_t sz, size_t min_sz, size_t known_sz)
{
	const unsigned char *p = opts;

	if (sz < min_sz)
		return -EINVAL;
	for (size_t i = known_sz; i < sz; i++)
		if (p[i])
			return -EINVAL;
	return 0;
}
