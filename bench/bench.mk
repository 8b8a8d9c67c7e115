# SPDX-License-Identifier: BSD-2-Clause
# bench/: barevsock against a Linux guest, side by side (bench/run.py).
# Included by the top Makefile.
#   make bench                 full run -> bench/results.md, bench/results.png
#   make bench-quick           one small round -> build/bench/quick/ (make test runs it)
#   make bench BENCH_QUICK=1   the same as bench-quick
#   BENCH_ARGS="--runs 7"      extra arguments for bench/run.py (see --help)
BENCH_HELPER := build/bench/bvbench
BENCH_PINGPONG := build/bench/bv-pingpong
BENCH_STREAM := build/bench/bv-stream
# busypoll: the busy-poll echo (build/x86_64-busypoll/) for the halting-vs-
# spinning rows (issue 15); small-arches: the small profile (issue 14).
BENCH_DEPS := all-arches small-arches busypoll $(HOSTBUILD)/bv-vhost-vsock-fast $(BENCH_HELPER) \
	$(BENCH_PINGPONG) $(BENCH_STREAM)
BENCH_ARGS ?=

# The Linux guest's echo/sink/source server: static, it is PID 1 of the
# bench initramfs (bench/linuxguest.py packs it).
$(BENCH_HELPER): bench/linux/bvbench.c
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) -static -O2 $(WARN) -o $@ $<

# The host-side latency and throughput clients (bench/run.py hands them the
# connections).
build/bench/bv-%: bench/%.c
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) -O2 $(WARN) -o $@ $<

.PHONY: bench bench-quick
bench: $(BENCH_DEPS)
	$(PYTHON) bench/run.py $(if $(BENCH_QUICK),--quick) $(BENCH_ARGS)

bench-quick: $(BENCH_DEPS)
	$(PYTHON) bench/run.py --quick $(BENCH_ARGS)
