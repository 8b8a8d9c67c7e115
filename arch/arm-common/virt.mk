# SPDX-License-Identifier: BSD-2-Clause
# Shared by arch/aarch64/arch.mk and arch/arm/arch.mk: QEMU virt with
# picolibc. Image in "flash" at 0x40200000 (the DTB owns the first MiB of
# RAM); data, .bss, heap and a 64 KiB stack in 16 MiB of RAM at 0x40400000.
# -e overrides picolibc.ld's ENTRY(_start). __stack_size only counts when a
# -T picolibc.ld comes after the --defsym (the specs put theirs first).
VIRT_LDFLAGS := --crt0=hosted -Wl,-e,arch_entry \
	-Wl,--defsym=__flash=0x40200000 -Wl,--defsym=__flash_size=0x200000 \
	-Wl,--defsym=__ram=0x40400000 -Wl,--defsym=__ram_size=0x1000000 \
	-Wl,--defsym=__stack_size=0x10000 -T picolibc.ld \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
VIRT_SRCS := arch/arm-common/virt.c libc-glue/picolibc/glue.c
# GIC, timer and WFI: bv_port_idle and the interrupt hooks (issue 15).
VIRT_SRCS += arch/arm-common/gic.c
VIRT_LDDEPS := arch/arm-common/virt.mk
