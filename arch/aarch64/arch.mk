# SPDX-License-Identifier: BSD-2-Clause
# aarch64 on QEMU virt with picolibc: our entry (start.S) -> crt0 hosted ->
# main. Memory layout and the board code are shared with arm32 (virt.mk).
include arch/arm-common/virt.mk
CC := aarch64-linux-gnu-gcc --specs=picolibc.specs
AR := aarch64-linux-gnu-ar
NM := aarch64-linux-gnu-nm
SIZE := aarch64-linux-gnu-size
# What code linked with libbarevsock.a must agree on (make install records it).
ARCH_ABI_CFLAGS := -mcpu=cortex-a53 -fno-pie
ARCH_CFLAGS := $(ARCH_ABI_CFLAGS)
ARCH_LDFLAGS := -static -no-pie $(VIRT_LDFLAGS)
ARCH_LIBS :=
ARCH_SRCS := arch/aarch64/start.S arch/aarch64/arch.c $(VIRT_SRCS) arch/aarch64/irq.c
ARCH_LDDEPS := arch/aarch64/arch.mk $(VIRT_LDDEPS)
