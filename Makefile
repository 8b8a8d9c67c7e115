# SPDX-License-Identifier: BSD-2-Clause
# barevsock: one Makefile for every guest image, the host tools and the tests.
#   make [ARCH=x86_64|aarch64|arm]   guest images -> build/<arch>/<app>.elf
#   make all-arches                  images for every architecture
#   make host                        host-side tools and unit tests -> build/host/
#   make test                        everything above, then the test suite
#   make run                         boot the main app and show it working
#   make docs                        regenerate docs/ pictures and tables (docs/docs.mk)

ARCHES := x86_64 aarch64 arm
ARCH ?= x86_64
ifeq ($(filter $(ARCH),$(ARCHES)),)
$(error ARCH=$(ARCH) is not supported: use ARCH=x86_64, ARCH=aarch64 or ARCH=arm)
endif

PYTHON ?= /usr/bin/python3
BUILD := build/$(ARCH)
HOSTBUILD := build/host

WARN := -Wall -Wextra -Werror
COMMON_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-stack-protector \
	-ffunction-sections -fdata-sections -Iinclude -I. -Iarch/$(ARCH)/include

# arch.mk sets CC, SIZE, ARCH_CFLAGS, ARCH_LDFLAGS, ARCH_LIBS, ARCH_SRCS (its
# libc-glue included). Filelists.mk lists the library and the discovery layer.
-include arch/$(ARCH)/arch.mk
BAREVSOCK_DIR := .
include Filelists.mk

# An image = its app + the library + discovery + the arch's boot, console and port.
LIB_SRCS := $(ARCH_SRCS) $(wildcard arch/common/*.c) $(BAREVSOCK_DISCOVER_FILES) $(BAREVSOCK_LIB_FILES)
LIB_OBJS := $(patsubst %,$(BUILD)/%.o,$(LIB_SRCS))

APPS := $(notdir $(patsubst %/,%,$(dir $(wildcard apps/*/*.c))))
APPS := $(sort $(APPS))
ELFS := $(patsubst %,$(BUILD)/%.elf,$(APPS))

.PHONY: all all-arches host test run clean unit fuzz bench print-unit-tests
all: $(ELFS)

$(BUILD)/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(COMMON_CFLAGS) $(ARCH_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(COMMON_CFLAGS) $(ARCH_CFLAGS) -MMD -MP -c $< -o $@

# Keep objects between runs so rebuilds are incremental.
.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/%.elf: $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(wildcard apps/$$*/*.c))) $(LIB_OBJS) $(ARCH_LDDEPS)
	$(CC) $(ARCH_CFLAGS) $(ARCH_LDFLAGS) -o $@ $(filter %.o,$^) $(ARCH_LIBS)

all-arches:
	@for a in $(ARCHES); do \
		if [ ! -f arch/$$a/arch.mk ]; then echo "*** SKIP ARCH=$$a: arch/$$a is not in the tree yet ***"; continue; fi; \
		$(MAKE) --no-print-directory ARCH=$$a all || exit 1; done

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

host: $(HOST_TOOLS) $(UNIT_TESTS)

# ---- tests ----
PYTEST_ARGS ?=
test: all-arches host
	$(PYTHON) -m pytest -v -rs $(PYTEST_ARGS) tests/

run: all
	$(PYTHON) tests/run_main.py --arch $(ARCH)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

print-unit-tests:
	@echo $(UNIT_TESTS)
