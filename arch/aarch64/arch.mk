# aarch64 on QEMU virt with picolibc: our entry (start.S) -> crt0 hosted -> main.
# Image in "flash" at 0x40200000 (the DTB owns the first MiB of RAM); data,
# .bss, heap and a 64 KiB stack in 16 MiB of RAM at 0x40400000.
CC := aarch64-linux-gnu-gcc --specs=picolibc.specs
SIZE := aarch64-linux-gnu-size
ARCH_CFLAGS := -mcpu=cortex-a53 -fno-pie
# -e overrides picolibc.ld's ENTRY(_start). __stack_size only counts when a
# -T picolibc.ld comes after the --defsym (the specs put theirs first).
ARCH_LDFLAGS := --crt0=hosted -static -no-pie -Wl,-e,arch_entry \
	-Wl,--defsym=__flash=0x40200000 -Wl,--defsym=__flash_size=0x200000 \
	-Wl,--defsym=__ram=0x40400000 -Wl,--defsym=__ram_size=0x1000000 \
	-Wl,--defsym=__stack_size=0x10000 -T picolibc.ld \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
ARCH_LIBS :=
ARCH_SRCS := arch/aarch64/start.S arch/aarch64/arch.c libc-glue/picolibc/glue.c
ARCH_LDDEPS := arch/aarch64/arch.mk
