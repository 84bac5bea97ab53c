#!/bin/bash
# tools/deps.sh - install what secure-vhost needs on Debian 12 and fetch the
# test kernel.  Idempotent; a second run only checks and takes seconds.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SVHOST_BUILD_DIR:-$ROOT/build}
KERNEL_DIR=$BUILD/kernel
LINUX_SRC=$BUILD/linux-src
LISTS=/var/lib/apt/lists
LISTS_MAX_AGE_MIN=1440	# refresh apt lists older than a day

# Packages the project needs (besides the kernel headers, added at run time).
PACKAGES="build-essential ccache cpio kmod sparse linux-source python3
	xz-utils busybox-static qemu-system-x86 seabios coreutils gzip perl
	clang libclang-rt-14-dev dkms
	meson ninja-build pkg-config libglib2.0-dev libpixman-1-dev
	python3-pyelftools libnuma-dev dpdk-dev openvswitch-switch-dpdk
	flex bison bc libelf-dev ethtool"

# Files taken from the kernel source tarball (paths inside linux-source-X.Y/).
SRC_FILES="scripts/checkpatch.pl scripts/spelling.txt
	tools/testing/selftests/lib.mk tools/testing/selftests/kselftest/runner.sh
	tools/testing/selftests/kselftest/prefix.pl
	scripts/const_structs.checkpatch
	tools/testing/selftests/kselftest_harness.h
	tools/testing/selftests/kselftest.h"

usage() {
	# shellcheck disable=SC2086 # word splitting wanted
	cat <<EOF
Usage: tools/deps.sh [OPTION]

Install the Debian 12 packages secure-vhost needs to build and test, and
fetch the test kernel, without touching the host's own kernel.

  1. apt-get update, when the package lists are missing or older than a day
     (or with --update).
  2. apt-get install --no-install-recommends:
$(echo $PACKAGES | fold -s -w 66 | sed 's/ *$//; s/^/       /')
     plus linux-headers-amd64 and linux-headers-ABI, where ABI (for example
     6.1.0-56-amd64) is what the linux-image-amd64 package points to now.
  3. apt-get download linux-image-ABI and unpack it (dpkg-deb -x) into
     build/kernel/ABI/, giving boot/vmlinuz-ABI and lib/modules/ABI/.
  4. Extract checkpatch.pl (with spelling.txt, const_structs.checkpatch) and
     kselftest_harness.h, kselftest.h from /usr/src/linux-source-X.Y.tar.xz
     into build/linux-src/, keeping their relative paths.
  5. Write the ABI to build/abi (one line), which the Makefile and
     tools/vmtest/run read.

Everything is cached under build/; steps already done are skipped.

Options:
  --print-abi   print the kernel ABI linux-image-amd64 points to, and exit
  --update      run apt-get update even if the lists are fresh
  --check       change nothing: exit 0 if everything is in place, else 1
  -q, --quiet   print only errors
  -h, --help    show this help

Environment: SVHOST_BUILD_DIR overrides build/ (default: REPO/build).
Needs root for apt-get (CI runs it as root).
EOF
}

QUIET=0
# progress goes to stderr: stdout carries only --print-abi's answer
say() { [ "$QUIET" = 1 ] || echo "deps: $*" >&2; }
die() { echo "deps: error: $*" >&2; exit 1; }

UPDATED=0
apt_update() {
	say "apt-get update"
	if apt-get update -qq >&2; then
		UPDATED=1
	else
		echo "deps: warning: apt-get update failed; using the lists as they are" >&2
	fi
}

lists_fresh() {
	# true when package lists exist and the newest is younger than the limit
	ls "$LISTS"/*_Packages* >/dev/null 2>&1 || return 1
	[ -n "$(find "$LISTS" -maxdepth 1 -name '*_Packages*' \
		-mmin -"$LISTS_MAX_AGE_MIN" -print -quit)" ]
}

# resolve_abi: print e.g. 6.1.0-56-amd64, from the candidate linux-image-amd64
resolve_abi() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][0-9.]*-[0-9]*-amd64\)$/\1/p' |
		head -n1
}

installed() { # installed PKG: true when PKG is fully installed
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

need_root() {
	[ "$(id -u)" = 0 ] || die "$1 needs root (run as root, or: sudo $0)"
}

# --- options -----------------------------------------------------------------
MODE=install
FORCE_UPDATE=0
while [ $# -gt 0 ]; do
	case $1 in
	--print-abi) MODE=print-abi ;;
	--update) FORCE_UPDATE=1 ;;
	--check) MODE=check ;;
	-q|--quiet) QUIET=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "deps: unknown option: $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

export DEBIAN_FRONTEND=noninteractive

# --- 1. package lists and the ABI ---------------------------------------------
if [ "$MODE" != check ] && { [ "$FORCE_UPDATE" = 1 ] || ! lists_fresh; }; then
	if [ "$(id -u)" = 0 ]; then
		apt_update
	elif [ "$FORCE_UPDATE" = 1 ]; then
		need_root "apt-get update"
	else
		echo "deps: warning: apt lists are old or missing; not root, so not updating them" >&2
	fi
fi
ABI=$(resolve_abi)
if [ -z "$ABI" ] && [ "$UPDATED" = 0 ] && [ "$MODE" != check ]; then
	need_root "apt-get update"
	apt_update
	ABI=$(resolve_abi)
fi
if [ -z "$ABI" ]; then
	# offline fallback: the ABI of the last successful run
	[ -s "$BUILD/abi" ] && ABI=$(cat "$BUILD/abi")
	[ -n "$ABI" ] || die "cannot resolve the ABI of linux-image-amd64 (apt-cache depends linux-image-amd64 shows no linux-image-*-amd64)"
	echo "deps: warning: apt knows no linux-image-amd64; using cached ABI $ABI" >&2
fi

if [ "$MODE" = print-abi ]; then
	echo "$ABI"
	exit 0
fi

VMLINUZ=$KERNEL_DIR/$ABI/boot/vmlinuz-$ABI
MODDIR=$KERNEL_DIR/$ABI/lib/modules/$ABI
SRC_STAMP=$LINUX_SRC/.stamp

# --- 2. packages --------------------------------------------------------------
MISSING=
for p in $PACKAGES linux-headers-amd64 "linux-headers-$ABI"; do
	installed "$p" || MISSING="$MISSING $p"
done

if [ "$MODE" = check ]; then
	ok=1
	[ -z "$MISSING" ] || { echo "deps: missing packages:$MISSING"; ok=0; }
	[ -f "$VMLINUZ" ] && [ -f "$MODDIR/modules.dep" ] ||
		{ echo "deps: test kernel $ABI not unpacked in $KERNEL_DIR"; ok=0; }
	[ -f "$SRC_STAMP" ] || { echo "deps: $LINUX_SRC not extracted"; ok=0; }
	[ "$(cat "$BUILD/abi" 2>/dev/null)" = "$ABI" ] ||
		{ echo "deps: $BUILD/abi is not $ABI"; ok=0; }
	[ "$ok" = 1 ] && say "all in place (ABI $ABI)"
	[ "$ok" = 1 ]
	exit
fi

if [ -n "$MISSING" ]; then
	need_root "installing packages"
	say "apt-get install$MISSING"
	# shellcheck disable=SC2086
	if ! apt-get install -y -qq --no-install-recommends $MISSING; then
		[ "$UPDATED" = 0 ] || die "apt-get install failed:$MISSING"
		# stale lists can name files the mirror no longer has
		apt_update
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $MISSING ||
			die "apt-get install failed:$MISSING"
	fi
fi
[ -d "/usr/src/linux-headers-$ABI" ] ||
	die "/usr/src/linux-headers-$ABI missing after installing linux-headers-$ABI"

# --- 3. the test kernel image, unpacked under build/ -----------------------------
if [ ! -f "$VMLINUZ" ] || [ ! -f "$MODDIR/modules.dep" ]; then
	mkdir -p "$KERNEL_DIR"
	rm -rf "${KERNEL_DIR:?}/$ABI" "$KERNEL_DIR/$ABI.tmp" \
		"$KERNEL_DIR"/linux-image-"$ABI"_*.deb
	say "downloading linux-image-$ABI"
	# running as root in a directory _apt may not write: no sandbox user
	if ! (cd "$KERNEL_DIR" && apt-get download -qq -o APT::Sandbox::User=root \
		"linux-image-$ABI"); then
		[ "$UPDATED" = 0 ] || die "apt-get download linux-image-$ABI failed"
		apt_update
		(cd "$KERNEL_DIR" && apt-get download -qq -o APT::Sandbox::User=root \
			"linux-image-$ABI") || die "apt-get download linux-image-$ABI failed"
	fi
	deb=$(ls "$KERNEL_DIR"/linux-image-"$ABI"_*.deb)
	say "unpacking $(basename "$deb")"
	dpkg-deb -x "$deb" "$KERNEL_DIR/$ABI.tmp"
	# the package ships no modules.dep (its postinst runs depmod)
	depmod -b "$KERNEL_DIR/$ABI.tmp" "$ABI"
	[ -f "$KERNEL_DIR/$ABI.tmp/boot/vmlinuz-$ABI" ] ||
		die "$deb holds no boot/vmlinuz-$ABI"
	mv "$KERNEL_DIR/$ABI.tmp" "$KERNEL_DIR/$ABI"
	rm -f "$deb"
	# kernels of older ABIs are no longer used
	for d in "$KERNEL_DIR"/*; do
		[ "$d" = "$KERNEL_DIR/$ABI" ] || { say "removing old $d"; rm -rf "$d"; }
	done
fi

# --- 4. files from the kernel source tarball -----------------------------------
SERIES=$(echo "$ABI" | sed 's/^\([0-9]*\.[0-9]*\).*/\1/')
TARBALL=/usr/src/linux-source-$SERIES.tar.xz
[ -f "$TARBALL" ] || die "$TARBALL missing (package linux-source-$SERIES)"
WANT="$(stat -c '%s %Y' "$TARBALL") $SRC_FILES"
if [ "$(cat "$SRC_STAMP" 2>/dev/null)" != "$WANT" ]; then
	say "extracting checkpatch and kselftest headers from $(basename "$TARBALL")"
	rm -rf "$LINUX_SRC"
	mkdir -p "$LINUX_SRC"
	members=
	for f in $SRC_FILES; do members="$members linux-source-$SERIES/$f"; done
	# shellcheck disable=SC2086
	tar -xJf "$TARBALL" -C "$LINUX_SRC" --strip-components=1 $members
	for f in $SRC_FILES; do
		[ -f "$LINUX_SRC/$f" ] || die "$f not found in $TARBALL"
	done
	echo "$WANT" >"$SRC_STAMP"
fi

# --- 5. record the ABI ---------------------------------------------------------
mkdir -p "$BUILD"
if [ "$(cat "$BUILD/abi" 2>/dev/null)" != "$ABI" ]; then
	echo "$ABI" >"$BUILD/abi.tmp"
	mv "$BUILD/abi.tmp" "$BUILD/abi"
fi
say "ready: ABI $ABI, kernel $VMLINUZ"
