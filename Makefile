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
		tools/svhost-bench/Makefile tools/demo/Makefile))
endif
# Our C sources for checkpatch (generated *.mod.c excluded).
KMOD_SRCS = $(filter-out %.mod.c,$(wildcard kmod/*.c)) $(wildcard kmod/*.h) \
	    $(wildcard uapi/linux/*.h)

.PHONY: help deps all build kmod selftests tools check checkpatch sparse \
	test demo bench guest e2e clean distclean

help:
	@echo "secure-vhost make targets:"
	@echo "  deps        install Debian packages, fetch the test kernel (tools/deps.sh)"
	@echo "  all, build  build kmod/svhost.ko, the selftests and the tools"
	@echo "  check       checkpatch.pl --strict and sparse/W=1 on kmod/ and uapi/"
	@echo "  test        deps + build + check + selftests in the test VM + host"
	@echo "              test suites; last line: 'N passed, M failed'"
	@echo "  demo        deps + build + tools/demo/run-demo.sh in the test VM"
	@echo "  bench       deps + build + tools/svhost-bench/run (BENCH_ARGS='...')"
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

selftests: $(BUILD)/abi
ifneq ($(HAVE_SELFTESTS),)
	$(MAKE) -C selftests KSFT_INC=$(KSFT_INC)
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

# The full suite; the driver prints the summary as its last line.
test:
	@VMTEST_FLAGS="$(VMTEST_FLAGS)" VMTEST_TIMEOUT="$(VMTEST_TIMEOUT)" tools/vmtest/suite

demo:
	@tools/deps.sh
	@$(MAKE) build
	@test -x tools/demo/run-demo.sh || { echo "make demo: tools/demo/run-demo.sh does not exist yet" >&2; exit 1; }
	$(VMTEST) --timeout $(VMTEST_TIMEOUT) $(VMTEST_FLAGS) -- tools/demo/run-demo.sh

# tools/svhost-bench/run decides itself what runs on the host and what in
# the test VM (through tools/vmtest/run).
bench:
	@tools/deps.sh
	@$(MAKE) build
	@test -x tools/svhost-bench/run || { echo "make bench: tools/svhost-bench/run does not exist yet" >&2; exit 1; }
	tools/svhost-bench/run $(BENCH_ARGS)

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
	@if [ -n "$(HAVE_SELFTESTS)" ]; then $(MAKE) -C selftests clean; fi
	@for d in $(TOOL_DIRS); do $(MAKE) -C $$d clean || true; done
	rm -rf $(BUILD)/vmtest-out $(BUILD)/vmtest $(BUILD)/test-results \
		$(BUILD)/test-output.txt $(BUILD)/sparse.log $(BUILD)/check

distclean: clean
	rm -rf $(BUILD)
