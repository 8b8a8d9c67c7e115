# SPDX-License-Identifier: BSD-2-Clause
# barevsock: one Makefile for every guest image, the host tools and the tests.
#   make [ARCH=x86_64|aarch64|arm]   guest images -> build/<arch>/<app>.elf, and the library
#   make lib [ARCH=...]              the library alone -> build/<arch>/libbarevsock.a
#   make install PREFIX=dir          the library, its public headers and barevsock.mk
#                                    (the flags it was built with) under dir
#   make all-arches                  images and library for every architecture
#   make examples                    examples/embed against each installed library
#   make host                        host-side tools and unit tests -> build/host/
#   make test                        everything above, then the test suite
#   make run                         boot the main app and show it working
#   make docs                        regenerate docs/ pictures and tables (docs/docs.mk)
#   make conformance                 the conformance suite against a Linux guest and barevsock:
#                                    rewrites tests/conformance/linux.json, docs/conformance.md
# Options: V=1 prints every command; BV_CONFIG=my_config.h overrides pool
# sizes (bv/config.h) without editing the tree.

ARCHES := x86_64 aarch64 arm
ARCH ?= x86_64
ifeq ($(filter $(ARCH),$(ARCHES)),)
$(error ARCH=$(ARCH) is not supported: use ARCH=x86_64, ARCH=aarch64 or ARCH=arm)
endif

PYTHON ?= /usr/bin/python3
# BUILDDIR puts one build elsewhere (tools/membudget.py builds variants so).
BUILDDIR ?= build/$(ARCH)
BUILD := $(BUILDDIR)
HOSTBUILD := build/host

# Quiet by default: one "  CC  file" line per step. Fragments use the same:
#   $(msg) CC $@
#   $(Q)$(HOST_CC) ...
V ?= 0
ifeq ($(V),1)
Q :=
msg := @true
else
Q := @
msg := @printf '  %-7s %s\n'
endif

WARN := -Wall -Wextra -Werror
COMMON_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-stack-protector \
	-ffunction-sections -fdata-sections -Iinclude -I. -Iarch/$(ARCH)/include

# arch.mk sets CC, SIZE, ARCH_CFLAGS, ARCH_LDFLAGS, ARCH_LIBS, ARCH_SRCS (its
# libc-glue included). Filelists.mk lists the library and the discovery layer.
-include arch/$(ARCH)/arch.mk
BAREVSOCK_DIR := .
include Filelists.mk

# BV_CONFIG: a header of #defines included first by bv/config.h (as lwIP's
# lwipopts.h). The stamp rebuilds everything when the choice changes; edits
# inside the file are followed through the .d files.
BV_CONFIG ?=
ifneq ($(BV_CONFIG),)
ifeq ($(wildcard $(BV_CONFIG)),)
$(error BV_CONFIG=$(BV_CONFIG): no such file (give a header with #defines for bv/config.h's knobs))
endif
COMMON_CFLAGS += -DBV_CONFIG_FILE='"$(abspath $(BV_CONFIG))"'
endif
CONFIG_STAMP := $(BUILD)/.bv_config
$(CONFIG_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(abspath $(BV_CONFIG))' | cmp -s - $@ || echo '$(abspath $(BV_CONFIG))' > $@
.PHONY: FORCE

# An image = its app + the library + discovery + the arch's boot, console and port.
LIB_SRCS := $(ARCH_SRCS) $(wildcard arch/common/*.c) $(BAREVSOCK_DISCOVER_FILES) $(BAREVSOCK_LIB_FILES)
LIB_OBJS := $(patsubst %,$(BUILD)/%.o,$(LIB_SRCS))

# libbarevsock.a: the library alone (no arch/, no discover/).
LIBBV := $(BUILD)/libbarevsock.a
LIBBV_OBJS := $(patsubst %,$(BUILD)/%.o,$(BAREVSOCK_LIB_FILES))

APPS := $(notdir $(patsubst %/,%,$(dir $(wildcard apps/*/*.c))))
APPS := $(sort $(APPS))
ELFS := $(patsubst %,$(BUILD)/%.elf,$(APPS))

.PHONY: all all-arches host test run clean unit fuzz bench print-unit-tests lib install examples lib-all-arches \
	small-arches busypoll
all: $(ELFS) $(LIBBV)
lib: $(LIBBV)

$(BUILD)/%.c.o: %.c $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(msg) CC $<
	$(Q)$(CC) $(COMMON_CFLAGS) $(ARCH_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.S.o: %.S $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(msg) AS $<
	$(Q)$(CC) $(COMMON_CFLAGS) $(ARCH_CFLAGS) -MMD -MP -c $< -o $@

$(LIBBV): $(LIBBV_OBJS)
	$(msg) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# Keep objects between runs so rebuilds are incremental.
.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/%.elf: $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(wildcard apps/$$*/*.c))) $(LIB_OBJS) $(ARCH_LDDEPS)
	$(msg) LD $@
	$(Q)$(CC) $(ARCH_CFLAGS) $(ARCH_LDFLAGS) -o $@ $(filter %.o,$^) $(ARCH_LIBS)

# ---- make install: what a firmware project links against ----
# PREFIX/lib/libbarevsock.a, PREFIX/include/barevsock/{bv,drivers,vsock}/*.h,
# the bv_port_io.h the archive was compiled with, and
# PREFIX/share/barevsock/barevsock.mk with the compiler and ABI flags.
# A BV_CONFIG override is installed as bv/config_build.h and named by the
# installed bv/config.h, so your code sees the sizes the archive has.
PREFIX ?= /usr/local
INSTALL_INC := $(PREFIX)/include/barevsock
install: $(LIBBV)
	$(msg) INSTALL $(PREFIX)
	$(Q)install -d $(PREFIX)/lib $(INSTALL_INC)/bv $(INSTALL_INC)/drivers $(INSTALL_INC)/vsock $(PREFIX)/share/barevsock
	$(Q)install -m 644 $(LIBBV) $(PREFIX)/lib/libbarevsock.a
	$(Q)for h in $(BAREVSOCK_HEADER_FILES); do install -m 644 $$h $(INSTALL_INC)/$${h#include/}; done
	$(Q)install -m 644 arch/$(ARCH)/include/bv_port_io.h $(INSTALL_INC)/bv_port_io.h
	$(Q)if [ -n "$(BV_CONFIG)" ]; then \
		install -m 644 $(BV_CONFIG) $(INSTALL_INC)/bv/config_build.h && \
		{ echo '/* make install: libbarevsock.a was built with BV_CONFIG=$(notdir $(BV_CONFIG)). */'; \
		  echo '#ifndef BV_CONFIG_FILE'; echo '#define BV_CONFIG_FILE "bv/config_build.h"'; echo '#endif'; \
		  cat include/bv/config.h; } > $(INSTALL_INC)/bv/config.h; fi
	$(Q){ echo '# SPDX-License-Identifier: BSD-2-Clause'; \
	  echo '# Written by barevsock'"'"'s make install: how libbarevsock.a was built ($(ARCH)).'; \
	  echo 'BAREVSOCK_ARCH := $(ARCH)'; \
	  echo 'BAREVSOCK_CC := $(firstword $(CC))'; \
	  echo 'BAREVSOCK_ABI_CFLAGS := $(ARCH_ABI_CFLAGS)'; \
	  echo 'BAREVSOCK_CPPFLAGS := -I$(abspath $(INSTALL_INC))'; \
	  echo 'BAREVSOCK_LIBS := -L$(abspath $(PREFIX))/lib -lbarevsock'; \
	} > $(PREFIX)/share/barevsock/barevsock.mk

# The busy-poll variant (configs/busypoll.h: vsock_wait spins, no interrupts)
# beside the normal images, for bench/'s halting-vs-spinning comparison:
# build/<arch>-busypoll/.
busypoll:
	$(MAKE) --no-print-directory BUILDDIR=build/$(ARCH)-busypoll BV_CONFIG=configs/busypoll.h all

all-arches:
	@for a in $(ARCHES); do \
		if [ ! -f arch/$$a/arch.mk ]; then echo "*** SKIP ARCH=$$a: arch/$$a is not in the tree yet ***"; continue; fi; \
		$(MAKE) --no-print-directory ARCH=$$a all || exit 1; done

# examples/embed against each architecture's installed library, built with the
# example's own sizes (tests/test_example.py does the same).
EXAMPLE_CONFIG := examples/embed/fw_bv_config.h
examples:
	@for a in $(ARCHES); do \
		$(MAKE) --no-print-directory ARCH=$$a install PREFIX=$(CURDIR)/build/$$a/install \
			BV_CONFIG=$(EXAMPLE_CONFIG) BUILDDIR=build/$$a/example-lib && \
		$(MAKE) --no-print-directory -C examples/embed BAREVSOCK=$(CURDIR)/build/$$a/install \
			O=$(CURDIR)/build/$$a/example || exit 1; done

# The small profile (the embed example's sizes: 4 connections, 16 KiB
# windows, 4 KiB packets) as -kernel images, in build/<arch>-small/: tests/
# and bench/ run the echo server with it too.
small-arches:
	@for a in $(ARCHES); do \
		$(MAKE) --no-print-directory ARCH=$$a BV_CONFIG=$(EXAMPLE_CONFIG) BUILDDIR=build/$$a-small all \
			|| exit 1; done

lib-all-arches:
	@for a in $(ARCHES); do $(MAKE) --no-print-directory ARCH=$$a lib || exit 1; done

# ---- host side: native builds of portable code, host tools, unit tests ----
HOST_CC ?= gcc
HOST_CFLAGS := -std=gnu11 -O1 -g $(WARN) -Iinclude -I. -Iarch/host/include \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
HOST_TOOLS :=
UNIT_TESTS :=
-include host/host.mk
-include $(wildcard tests/unit/*.mk)
-include fuzz/fuzz.mk
-include bench/bench.mk
-include docs/docs.mk
-include uefi/uefi.mk

host: $(HOST_TOOLS) $(UNIT_TESTS)

# ---- tests ----
PYTEST_ARGS ?=
test: all-arches small-arches host uefi
	$(PYTHON) -m pytest -v -rs $(PYTEST_ARGS) tests/

# Issue 11: the conformance catalogue against a Linux guest and barevsock;
# rewrites tests/conformance/linux.json and docs/conformance.md (make test
# runs the catalogue against barevsock only, see tests/test_conformance.py).
.PHONY: conformance
conformance: all-arches host
	$(PYTHON) tests/conformance/run.py

# PLATFORM=uefi: echo.efi under the UEFI firmware (uefi/uefi.mk) instead.
PLATFORM ?= kernel
ifeq ($(filter $(PLATFORM),kernel uefi),)
$(error PLATFORM=$(PLATFORM) is not supported: use PLATFORM=kernel (-kernel images) or PLATFORM=uefi)
endif
run: $(if $(filter uefi,$(PLATFORM)),uefi-$(ARCH) $(HOST_TOOLS),all)
	$(PYTHON) tests/run_main.py --arch $(ARCH) --platform $(PLATFORM)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

print-unit-tests:
	@echo $(UNIT_TESTS)
