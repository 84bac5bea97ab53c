/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tap.h: a tiny KTAP-style test harness for libsvhost's tests.  Each test
 * program prints "ok N - name" / "not ok N - name" / "ok N - name # SKIP
 * why" lines and a final "# N passed, M failed"; the runner
 * (tests/run-tests) adds them up and counts the skips as skips.
 */
#ifndef SVHOST_TAP_H
#define SVHOST_TAP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_fail, tap_cur_failed;
static const char *tap_cur_skip;

/* Inside a test: it cannot run here (reason); reported as a skip, not a pass. */
#define SKIP(reason) do { tap_cur_skip = (reason); } while (0)

#define CHECK(cond) do { \
	if (!(cond)) { \
		printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		tap_cur_failed = 1; \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { \
		printf("#   %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
		       #a, _a, #b, _b); \
		tap_cur_failed = 1; \
	} \
} while (0)

#define RUN(fn) do { \
	tap_cur_failed = 0; \
	tap_cur_skip = NULL; \
	fn(); \
	tap_n++; \
	if (tap_cur_failed) { \
		tap_fail++; \
		printf("not ok %d - %s\n", tap_n, #fn); \
	} else if (tap_cur_skip) { \
		printf("ok %d - %s # SKIP %s\n", tap_n, #fn, tap_cur_skip); \
	} else { \
		printf("ok %d - %s\n", tap_n, #fn); \
	} \
	fflush(stdout); \
} while (0)

static inline int tap_done(void)
{
	printf("# %d passed, %d failed\n", tap_n - tap_fail, tap_fail);
	return tap_fail ? 1 : 0;
}

#endif
