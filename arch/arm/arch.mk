# SPDX-License-Identifier: BSD-2-Clause
# arm32 (Cortex-A15, Thumb-2, hard float) on QEMU virt,highmem=off with
# picolibc: our entry (start.S, ARM state) -> crt0 hosted -> main. Memory
# layout and the board code are shared with aarch64 (virt.mk).
include arch/arm-common/virt.mk
CC := arm-none-eabi-gcc --specs=picolibc.specs
AR := arm-none-eabi-ar
NM := arm-none-eabi-nm
SIZE := arm-none-eabi-size
# What code linked with libbarevsock.a must agree on (make install records it).
ARCH_ABI_CFLAGS := -mcpu=cortex-a15 -mthumb -mfloat-abi=hard -mfpu=neon-vfpv4
ARCH_CFLAGS := $(ARCH_ABI_CFLAGS)
ARCH_LDFLAGS := $(VIRT_LDFLAGS)
ARCH_LIBS :=
ARCH_SRCS := arch/arm/start.S arch/arm/arch.c $(VIRT_SRCS) arch/arm/irq.c
ARCH_LDDEPS := arch/arm/arch.mk $(VIRT_LDDEPS)
