# SPDX-License-Identifier: BSD-2-Clause
# libFuzzer targets (clang + ASan + UBSan), each fuzz/fuzz_<name>.c plus the
# sources it exercises. Add a target: write fuzz/fuzz_<name>.c, add one
# FUZZ_SRCS_<name> line below and seed files under fuzz/corpus/fuzz_<name>/.
#   make fuzz [FUZZ_SECONDS=60]   run every target that long on a copy of its
#                                  corpus (new inputs stay in build/fuzz/)
#   tests/test_fuzz.py             replays the corpora and runs each briefly
FUZZ_CC ?= clang
FUZZ_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Werror -Iinclude -I. -Iarch/host/include \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SECONDS ?= 60
FUZZ_BUILD := build/fuzz

FUZZ_SRCS_virtq := drivers/virtq.c arch/host/port.c
FUZZ_SRCS_fdt := discover/fdt.c
FUZZ_SRCS_vsock_engine := vsock/vsock_engine.c vsock/vsock_socket.c
FUZZ_SRCS_host_vhu := host/vhu.c host/vring.c
FUZZ_SRCS_host_vring := host/vring.c
FUZZ_SRCS_vsock_dev := tests/unit/fake_virtio.c $(BAREVSOCK_LIB_FILES) arch/host/port.c
FUZZ_DEFS_vsock_dev := -DBV_VSOCK_TEST_HOOKS

FUZZ_TARGETS := virtq fdt vsock_engine host_vhu host_vring vsock_dev
FUZZ_BINS := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-build print-fuzz-targets
fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*) fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(msg) FUZZCC $@
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_DEFS_$*) -o $@ $< $(FUZZ_SRCS_$*)

fuzz: SHELL := /bin/bash
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		rm -rf $(FUZZ_BUILD)/corpus/$$t && mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crashes/$$t && \
		cp fuzz/corpus/fuzz_$$t/* $(FUZZ_BUILD)/corpus/$$t/ 2>/dev/null; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/crashes/$$t/ $(FUZZ_BUILD)/corpus/$$t 2>&1 \
			| grep -E "stat::number_of_executed_units|ERROR|SUMMARY|Test unit written" \
			| sed "s/^/fuzz: $$t: /" ; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

print-fuzz-targets:
	@echo $(FUZZ_TARGETS)
