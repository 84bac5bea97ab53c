#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the svhost selftests in a fixed order and print one KTAP document:
# each test binary is one top-level test whose own KTAP output is nested
# (indented with "# ").  Exits non-zero if any binary failed.
#
# Needs root, svhost.ko loaded and the binaries built (make -C selftests).
# Usually run in the test VM:  tools/vmtest/run -- selftests/run_tests.sh
#
# Environment:
#   SVHOST_KO            module file for the reload test
#                        (default: <repo>/kmod/svhost.ko)
#   SVHOST_TEST_TIMEOUT  seconds allowed per binary (default 900)
#   SVHOST_TESTS         space separated subset of binaries to run

set -u

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
repo=$(cd "$here/.." && pwd)

export SVHOST_KO=${SVHOST_KO:-$repo/kmod/svhost.ko}
timeout_s=${SVHOST_TEST_TIMEOUT:-900}

# svhost_module_test unloads and reloads the module: it must stay last.
all="svhost_api_test svhost_mmap_test svhost_grant_test svhost_pkey_test
svhost_lifetime_test svhost_stress_test svhost_module_test"
tests=${SVHOST_TESTS:-$all}

ntests=$(echo $tests | wc -w)
echo "TAP version 13"
echo "1..$ntests"

if [ "$(id -u)" != 0 ]; then
	echo "# run_tests.sh: must run as root" >&2
fi

n=0
failed=0
for t in $tests; do
	n=$((n + 1))
	bin=$here/$t
	echo "# selftests: svhost: $t"
	if [ ! -x "$bin" ]; then
		echo "# $bin missing: run 'make -C selftests' first"
		echo "not ok $n selftests: svhost: $t # missing binary"
		failed=$((failed + 1))
		continue
	fi
	start=$(date +%s)
	timeout --foreground -k 10 "$timeout_s" "$bin" 2>&1 | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	secs=$(( $(date +%s) - start ))
	case $rc in
	0)	echo "ok $n selftests: svhost: $t # ${secs}s" ;;
	4)	echo "ok $n selftests: svhost: $t # SKIP" ;;
	124)	echo "not ok $n selftests: svhost: $t # TIMEOUT ${timeout_s}s"
		failed=$((failed + 1)) ;;
	*)	echo "not ok $n selftests: svhost: $t # exit=$rc ${secs}s"
		failed=$((failed + 1)) ;;
	esac
done

echo "# svhost selftests: $((ntests - failed)) of $ntests binaries passed"
[ "$failed" -eq 0 ]
