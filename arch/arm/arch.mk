# arm32 (Cortex-A15, Thumb-2, hard float) on QEMU virt,highmem=off with
# picolibc: our entry (start.S, ARM state) -> crt0 hosted -> main. Same
# memory layout as aarch64: image at 0x40200000, RAM at 0x40400000.
CC := arm-none-eabi-gcc --specs=picolibc.specs
SIZE := arm-none-eabi-size
ARCH_CFLAGS := -mcpu=cortex-a15 -mthumb -mfloat-abi=hard -mfpu=neon-vfpv4
# -e overrides picolibc.ld's ENTRY(_start). __stack_size only counts when a
# -T picolibc.ld comes after the --defsym (the specs put theirs first).
ARCH_LDFLAGS := --crt0=hosted -Wl,-e,arch_entry \
	-Wl,--defsym=__flash=0x40200000 -Wl,--defsym=__flash_size=0x200000 \
	-Wl,--defsym=__ram=0x40400000 -Wl,--defsym=__ram_size=0x1000000 \
	-Wl,--defsym=__stack_size=0x10000 -T picolibc.ld \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
ARCH_LIBS :=
ARCH_SRCS := arch/arm/start.S arch/arm/arch.c libc-glue/picolibc/glue.c
ARCH_LDDEPS := arch/arm/arch.mk
