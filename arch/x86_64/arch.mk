# SPDX-License-Identifier: BSD-2-Clause
# x86_64 on QEMU q35/pc/microvm: the host gcc, freestanding, with our own
# libc subset (libc-glue/x86_64) since Debian has no x86_64 picolibc.
# PVH entry (start.S) -> long mode -> bv_crt_start -> main. Linked at 1 MiB.
CC := gcc
AR := ar
NM := nm
SIZE := size
X86_GCC_INC := $(shell gcc -print-file-name=include)
# What code linked with libbarevsock.a must agree on (make install records it).
ARCH_ABI_CFLAGS := -m64 -march=x86-64 -mno-red-zone -mgeneral-regs-only -fno-pic -fno-pie
ARCH_CFLAGS := $(ARCH_ABI_CFLAGS) \
	-fno-asynchronous-unwind-tables -fno-builtin-printf -nostdinc -isystem $(X86_GCC_INC) \
	-Ilibc-glue/x86_64/include
ARCH_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,linker/x86_64.ld -Wl,--gc-sections \
	-Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
ARCH_LIBS := -lgcc
ARCH_SRCS := arch/x86_64/start.S arch/x86_64/arch.c libc-glue/x86_64/crt0.c \
	libc-glue/x86_64/string.c libc-glue/str.c libc-glue/x86_64/printf.c
# Interrupts that wake the CPU from HLT, and bv_port_idle (issue 15).
ARCH_SRCS += arch/x86_64/irq.c arch/x86_64/irq_entry.S
ARCH_LDDEPS := arch/x86_64/arch.mk linker/x86_64.ld
