# SPDX-License-Identifier: GPL-2.0
# secure-vhost: top-level build, checks and tests.  `make help` lists targets.
#
# The kernel ABI comes from build/abi (written by tools/deps.sh); it is read
# when a recipe runs, so `make test` works on a fresh machine: it runs deps
# first.

SHELL := /bin/bash
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ROOT     := $(CURDIR)
BUILD    := $(or $(SVHOST_BUILD_DIR),$(ROOT)/build)
ABI       = $(shell cat $(BUILD)/abi 2>/dev/null)
KDIR     ?= /usr/src/linux-headers-$(ABI)
KSFT_INC := $(BUILD)/linux-src/tools/testing/selftests
KSFT_TREE := $(BUILD)/ksft
CHECKPATCH := $(BUILD)/linux-src/scripts/checkpatch.pl
VMTEST   := $(ROOT)/tools/vmtest/run

# Extra tools/vmtest/run options for the test, demo and bench VMs.
VMTEST_FLAGS ?=
VMTEST_TIMEOUT ?= 2400

# ccache: its compiler symlinks first in PATH (covers Kbuild and sub-makes).
ifneq ($(wildcard /usr/lib/ccache/gcc),)
export PATH := /usr/lib/ccache:$(PATH)
endif

# Optional parts: each is built only once it exists.
HAVE_KMOD      := $(wildcard kmod/Kbuild kmod/Makefile)
HAVE_SELFTESTS := $(wildcard selftests/Makefile)
# tools/Makefile builds all tools when it exists; else each tools/*/ Makefile
ifneq ($(wildcard tools/Makefile),)
TOOL_DIRS := tools
else
TOOL_DIRS := $(patsubst %/Makefile,%,$(wildcard tools/lib/svhost/Makefile \
		tools/svhost-bench/Makefile tools/demo/Makefile tools/svhost-fe/Makefile))
endif
# Our C sources for checkpatch (generated *.mod.c excluded).
KMOD_SRCS = $(filter-out %.mod.c,$(wildcard kmod/*.c)) $(wildcard kmod/*.h) \
	    $(wildcard uapi/linux/*.h)

.PHONY: help deps all build kmod selftests tools check checkpatch sparse \
	test test-debug demo bench clean distclean dkms-install dkms-uninstall \
	dkms-check qemu dpdk guest e2e

help:
	@echo "secure-vhost make targets:"
	@echo "  deps        install Debian packages, fetch the test kernel (tools/deps.sh)"
	@echo "  all, build  build kmod/svhost.ko, the selftests and the tools"
	@echo "  check       checkpatch.pl --strict and sparse/W=1 on kmod/ and uapi/"
	@echo "  test        deps + build + check + selftests in the test VM + host"
	@echo "              test suites; last line: 'N passed, M failed'"
	@echo "  test-debug  build a debug kernel (KASAN, lockdep, kmemleak, ...) from"
	@echo "              linux-source and run the selftests and broker_e2e on it;"
	@echo "              long (about an hour of 2 cores to build), not part of test"
	@echo "  demo        deps + build + tools/demo/run-demo.sh in the test VM"
	@echo "  bench       deps + build + tools/svhost-bench/run (BENCH_ARGS='...'),"
	@echo "              then make dpdk + tools/svhost-bench/vswitch"
	@echo "  dkms-install  build and install svhost.ko with DKMS for DKMS_KERNEL"
	@echo "              (default: the running kernel); dkms-uninstall removes it"
	@echo "  dkms-check  build through DKMS into build/dkms for the test kernel"
	@echo "  qemu        patched QEMU (qemu-patches/) into build/qemu/ (tools/qemu/build)"
	@echo "  dpdk        Debian's DPDK + dpdk-patches/ -> build/dpdk/lib (tools/dpdk/build)"
	@echo "  guest       build the e2e guest kernel and initramfs (tools/guest/build)"
	@echo "  e2e         deps + build + guest + tools/e2e/run in the test VM"
	@echo "              (E2E_ARGS='$(E2E_ARGS)'; docs/E2E.md)"
	@echo "  clean       remove build products (keeps the cached kernel)"
	@echo "  distclean   clean + remove build/ entirely"
	@echo "Variables: KDIR=$(KDIR)"
	@echo "  VMTEST_FLAGS='...' extra tools/vmtest/run options (e.g. --hugepages 64)"
	@echo "  VMTEST_TIMEOUT=$(VMTEST_TIMEOUT) seconds for the test VM"

deps:
	@tools/deps.sh

# First build on a fresh checkout: fetch what the build needs.
$(BUILD)/abi:
	@tools/deps.sh

all build: kmod selftests tools

kmod: $(BUILD)/abi
ifneq ($(HAVE_KMOD),)
	@test -d "$(KDIR)" || { echo "make: kernel headers $(KDIR) missing: run 'make deps'" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(ROOT)/kmod modules
else
	@echo "make: kmod/ has no Kbuild yet: skipping the module"
endif

# The selftests as they would sit in a kernel tree (tools/testing/selftests/
# svhost/ beside lib.mk and kselftest/), so that the kernel's own runner runs
# them: make -C $(KSFT_TREE)/svhost run_tests.
selftests: $(BUILD)/abi
ifneq ($(HAVE_SELFTESTS),)
	@test -f $(KSFT_INC)/lib.mk || { echo "make: $(KSFT_INC)/lib.mk missing: run 'make deps'" >&2; exit 1; }
	@mkdir -p $(KSFT_TREE)/svhost/uapi/linux
	@cp -p $(KSFT_INC)/lib.mk $(KSFT_INC)/kselftest.h \
		$(KSFT_INC)/kselftest_harness.h $(KSFT_TREE)/
	@cp -pr $(KSFT_INC)/kselftest $(KSFT_TREE)/
	@cp -p selftests/Makefile selftests/config selftests/settings \
		selftests/*.c selftests/*.h selftests/*.py $(KSFT_TREE)/svhost/
	@cp -p uapi/linux/svhost.h $(KSFT_TREE)/svhost/uapi/linux/
	$(MAKE) -C $(KSFT_TREE)/svhost OUTPUT=$(KSFT_TREE)/svhost
else
	@echo "make: selftests/Makefile missing: skipping the selftests"
endif

tools:
	@set -e; for d in $(TOOL_DIRS); do $(MAKE) -C $$d; done

check: checkpatch sparse

checkpatch: $(BUILD)/abi
	@test -f $(CHECKPATCH) || { echo "make: $(CHECKPATCH) missing: run 'make deps'" >&2; exit 1; }
	@test -n "$(strip $(KMOD_SRCS))" || { echo "make: no sources in kmod/ or uapi/" >&2; exit 1; }
	perl $(CHECKPATCH) --strict --no-tree --quiet -f $(KMOD_SRCS)
	@echo "checkpatch: clean ($(words $(KMOD_SRCS)) files)"

# sparse (C=2: every file) and W=1 on a fresh copy of kmod/ and uapi/ in
# build/check/, so no warning hides in an up-to-date object and kmod/ itself
# is left alone; any warning or error in our files fails.
sparse: $(BUILD)/abi
ifneq ($(HAVE_KMOD),)
	@test -d "$(KDIR)" || { echo "make: kernel headers $(KDIR) missing: run 'make deps'" >&2; exit 1; }
	@rm -rf $(BUILD)/check && mkdir -p $(BUILD)/check && cp -r kmod uapi $(BUILD)/check/
	@$(MAKE) -C $(KDIR) M=$(BUILD)/check/kmod clean >/dev/null
	@set -o pipefail; $(MAKE) -C $(KDIR) M=$(BUILD)/check/kmod C=2 W=1 modules 2>&1 | \
		sed 's|$(BUILD)/check/||g' | tee $(BUILD)/sparse.log
	@if grep -E '(warning|error):' $(BUILD)/sparse.log | grep -E '(^|/)(kmod|uapi)/'; then \
		echo "sparse/W=1: warnings in our files (full log: $(BUILD)/sparse.log)" >&2; exit 1; \
	fi
	@echo "sparse/W=1: clean"
else
	@echo "make: kmod/ has no Kbuild yet: nothing for sparse"
endif

# --- DKMS ---------------------------------------------------------------------
# dkms.conf at the top; the DKMS source tree holds only what builds the module.
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' dkms.conf)
DKMS_KERNEL ?= $(shell uname -r)
DKMS_SRC := /usr/src/svhost-$(DKMS_VERSION)
DKMS_FILES = dkms.conf kmod/Kbuild kmod/Makefile uapi/linux/svhost.h \
	     $(filter-out %.mod.c,$(wildcard kmod/*.c)) $(wildcard kmod/*.h)
DKMS_LOCAL = --sourcetree $(BUILD)/dkms/src --dkmstree $(BUILD)/dkms/tree

# dkms_stage DIR: a clean copy of the module's sources in DIR
define dkms_stage
	rm -rf $(1) && mkdir -p $(1)
	tar -c $(DKMS_FILES) | tar -x -C $(1)
endef

dkms-install:
	@command -v dkms >/dev/null || { echo "make: dkms is not installed (apt-get install dkms)" >&2; exit 1; }
	@test -d /lib/modules/$(DKMS_KERNEL)/build || { echo "make: no headers for $(DKMS_KERNEL): apt-get install linux-headers-$(DKMS_KERNEL), or set DKMS_KERNEL" >&2; exit 1; }
	-dkms remove -m svhost -v $(DKMS_VERSION) --all >/dev/null 2>&1
	$(call dkms_stage,$(DKMS_SRC))
	dkms add -m svhost -v $(DKMS_VERSION)
	dkms build -m svhost -v $(DKMS_VERSION) -k $(DKMS_KERNEL)
	dkms install -m svhost -v $(DKMS_VERSION) -k $(DKMS_KERNEL)
	@echo "svhost $(DKMS_VERSION) installed for $(DKMS_KERNEL): modprobe svhost"

dkms-uninstall:
	-dkms remove -m svhost -v $(DKMS_VERSION) --all
	rm -rf $(DKMS_SRC)

# The DKMS build for the test kernel, in build/dkms (of the system, only
# DKMS's own signing key in /var/lib/dkms is made, once); the module must
# carry the test kernel's vermagic.
dkms-check: $(BUILD)/abi
	@command -v dkms >/dev/null || { echo "make: dkms is not installed: run 'make deps'" >&2; exit 1; }
	$(call dkms_stage,$(BUILD)/dkms/src/svhost-$(DKMS_VERSION))
	rm -rf $(BUILD)/dkms/tree && mkdir -p $(BUILD)/dkms/tree
	dkms add -m svhost -v $(DKMS_VERSION) $(DKMS_LOCAL)
	dkms build -m svhost -v $(DKMS_VERSION) -k $(ABI) $(DKMS_LOCAL) \
		--kernelsourcedir $(KDIR)
	@ko=$$(find $(BUILD)/dkms/tree/svhost/$(DKMS_VERSION)/$(ABI) -name 'svhost.ko*' | head -n1); \
	test -n "$$ko" || { echo "dkms-check: no svhost.ko built" >&2; exit 1; }; \
	modinfo -F vermagic "$$ko" | grep -q "^$(ABI) " || { echo "dkms-check: $$ko is not for $(ABI)" >&2; exit 1; }; \
	echo "dkms-check: $$ko built for $(ABI)"

# The full suite; the driver prints the summary as its last line.
test:
	@VMTEST_FLAGS="$(VMTEST_FLAGS)" VMTEST_TIMEOUT="$(VMTEST_TIMEOUT)" tools/vmtest/suite

# The debug kernel run: tools/vmtest/debug-kernel builds the kernel (once;
# later only what changed), svhost.ko is built against it from a copy of
# kmod/ and uapi/, the selftests are dropped into that kernel's tree
# (tools/testing/selftests/svhost) and built by its kselftest Makefile, and
# tools/vmtest/debug-suite runs in the test VM on the debug kernel.
# Any splat (KASAN, lockdep, ...), leak or failed test fails it.  Its KTAP is
# in $(BUILD)/debug/results/; the last line is 'N passed, M failed'.
DEBUG_DIR := $(BUILD)/debug
DEBUG_TIMEOUT ?= 10800
# KASAN and lockdep under TCG are slow: no ACPI interrupt routing (its AML
# loops time out), the watchdogs' longest thresholds, and page poisoning
# only (slub_debug adds little to KASAN)
DEBUG_APPEND ?= acpi=noirq watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=300
DEBUG_KDEBUG ?= page_poison=1

test-debug:
	@tools/deps.sh
	@$(MAKE) build
	@set -o pipefail; kroot=$$(tools/vmtest/debug-kernel | tail -n1) && \
	ksrc=$$(ls -d $(DEBUG_DIR)/src/linux-source-*) && \
	ksft=$$ksrc/tools/testing/selftests && \
	rm -rf $(DEBUG_DIR)/kmod-src $$ksft/svhost && \
	mkdir -p $(DEBUG_DIR)/kmod-src $(DEBUG_DIR)/results $$ksft/svhost/uapi/linux && \
	cp -r kmod uapi $(DEBUG_DIR)/kmod-src/ && \
	$(MAKE) -C $$ksrc O=$(DEBUG_DIR)/obj \
		CC="$$(command -v ccache >/dev/null && echo ccache) gcc" \
		M=$(DEBUG_DIR)/kmod-src/kmod modules && \
	cp -p selftests/Makefile selftests/config selftests/settings \
		selftests/*.c selftests/*.h selftests/*.py $$ksft/svhost/ && \
	cp uapi/linux/svhost.h $$ksft/svhost/uapi/linux/ && \
	$(MAKE) -C $$ksft TARGETS=svhost && \
	{ VMTEST_KDEBUG=$(DEBUG_KDEBUG) tools/vmtest/run --kernel "$$kroot" \
		--timeout $(DEBUG_TIMEOUT) --append "$(DEBUG_APPEND)" \
		--module $(DEBUG_DIR)/kmod-src/kmod/svhost.ko --share $$ksft \
		--env SVHOST_KO=$(DEBUG_DIR)/kmod-src/kmod/svhost.ko \
		--env SVHOST_KSFT_DIR=$$ksft --env SVHOST_CTL=$(ROOT)/tools/svhostctl \
		-- tools/vmtest/debug-suite 2>&1 | tee $(DEBUG_DIR)/results/output.ktap; \
	  rc=$${PIPESTATUS[0]}; \
	  tools/ktap-summary $(DEBUG_DIR)/results/output.ktap && [ $$rc = 0 ]; }

demo:
	@tools/deps.sh
	@$(MAKE) build dpdk qemu guest
	@test -x tools/demo/run-demo.sh || { echo "make demo: tools/demo/run-demo.sh does not exist yet" >&2; exit 1; }
	rm -rf $(BUILD)/demo && mkdir -p $(BUILD)/demo
	$(VMTEST) --timeout $(VMTEST_TIMEOUT) $(VMTEST_FLAGS) --mem 2048 --hugepages 128 \
		--out $(BUILD)/demo --env DEMO_LOGDIR=$(BUILD)/demo/logs \
		--env DEMO_QEMU=$(BUILD)/qemu/qemu-system-x86_64 \
		--env DEMO_DPDK_LIB=$$(tools/dpdk/build --print-dir) \
		-- tools/demo/run-demo.sh

# tools/svhost-bench/run decides itself what runs on the host and what in
# the test VM (through tools/vmtest/run).
bench:
	@tools/deps.sh
	@$(MAKE) build
	@test -x tools/svhost-bench/run || { echo "make bench: tools/svhost-bench/run does not exist yet" >&2; exit 1; }
	tools/svhost-bench/run $(BENCH_ARGS)
	@# the vSwitch core's cost in DPDK secure mode vs classic (needs make dpdk)
	tools/dpdk/build -q
	tools/svhost-bench/vswitch

# The patched librte_vhost.so.23 and net_vhost PMD (DPDK_BUILD_ARGS: --each, --asan)
dpdk:
	@tools/deps.sh -q
	tools/dpdk/build $(DPDK_BUILD_ARGS)

# Debian's QEMU with qemu-patches/ applied, and its qtests (tools/qemu/build --help)
qemu:
	@tools/deps.sh
	@tools/qemu/build

# The end-to-end test (docs/E2E.md): two nested guests through a vSwitch,
# and svhostctl audit; logs in build/e2e/logs.
E2E_ARGS ?= --profile classic
guest:
	@tools/guest/build

e2e:
	@tools/deps.sh
	@$(MAKE) build
	@tools/guest/build
	@rm -rf $(BUILD)/e2e && mkdir -p $(BUILD)/e2e
	$(VMTEST) --timeout $(VMTEST_TIMEOUT) $(VMTEST_FLAGS) --mem 2048 \
		--hugepages 128 --out $(BUILD)/e2e -- tools/e2e/run $(E2E_ARGS) \
		--logdir $(BUILD)/e2e/logs

clean:
	cd kmod && rm -rf *.o *.ko *.mod *.mod.c .*.cmd .*.d Module.symvers modules.order .tmp_versions
	rm -rf $(KSFT_TREE)
	@for d in $(TOOL_DIRS); do $(MAKE) -C $$d clean || true; done
	rm -rf $(BUILD)/vmtest-out $(BUILD)/vmtest $(BUILD)/test-results \
		$(BUILD)/test-output.txt $(BUILD)/sparse.log $(BUILD)/check

distclean: clean
	rm -rf $(BUILD)
