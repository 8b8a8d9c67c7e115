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
# picolibc's integer-only printf (picolibc.specs maps vfprintf to __i_vfprintf
# when it sees the define at link time): nothing here prints a float, and the
# default double printf costs 5.5 KB of text (__d_vfprintf, __dtoa_engine).
# It drops long long values wider than long, which on aarch64 (LP64) none
# is; arm32 keeps the default for that reason (libc-glue/picolibc/glue.c).
ARCH_CFLAGS := $(ARCH_ABI_CFLAGS) -DPICOLIBC_INTEGER_PRINTF_SCANF
ARCH_LDFLAGS := -static -no-pie $(VIRT_LDFLAGS)
ARCH_LIBS :=
ARCH_SRCS := arch/aarch64/start.S arch/aarch64/arch.c $(VIRT_SRCS) arch/aarch64/irq.c
ARCH_LDDEPS := arch/aarch64/arch.mk $(VIRT_LDDEPS)
