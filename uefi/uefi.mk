# SPDX-License-Identifier: BSD-2-Clause
# The UEFI platform: every app as a UEFI application, build/uefi-<arch>/<app>.efi,
# for x86_64, aarch64 and 32-bit Arm, with Debian's clang and lld-link (PE/COFF
# straight from the windows targets, no SDK). Independent of ARCH: one rule set
# per UEFI architecture. Included by the top-level Makefile.
#   make uefi                       every .efi for every architecture
#   make uefi-aarch64               one architecture
#   make run PLATFORM=uefi ARCH=..  boot the echo server under the firmware

UEFI_ARCHES := x86_64 aarch64 arm
UEFI_APPS := hello panic echo client fetch rng
UEFI_CC := clang
UEFI_LD := lld-link
UEFI_TARGET_x86_64 := x86_64-unknown-windows
UEFI_TARGET_aarch64 := aarch64-unknown-windows
UEFI_TARGET_arm := thumbv7-unknown-windows
UEFI_CPU_x86_64 := -march=x86-64
UEFI_CPU_aarch64 := -mcpu=cortex-a53
# The firmware runs in Thumb-2 as well; a15 brings the divide instructions.
# No VFP/NEON: ArmVirtQemu (32-bit) starts applications with the FPU off, and
# clang would otherwise use NEON to clear or copy small arrays.
UEFI_CPU_arm := -mcpu=cortex-a15 -mfpu=none

# No stack probes (__chkstk is Windows' own), no builtin printf rewriting,
# wchar_t as UEFI's CHAR16 for L"" literals.
UEFI_CFLAGS := -std=gnu11 -O2 $(WARN) -ffreestanding -fshort-wchar -fno-stack-protector \
	-mno-stack-arg-probe -fno-builtin-printf -ffunction-sections -fdata-sections \
	-Iinclude -I. -Ilibc-glue/x86_64/include
# -Brepro: no link timestamp, so the same sources give the same .efi bytes.
UEFI_LDFLAGS := -nostdlib -fuse-ld=lld-link -Wl,-entry:efi_main -Wl,-subsystem:efi_application \
	-Wl,-opt:ref -Wl,-nodefaultlib -Wl,-Brepro

# The platform (its port, discovery through the firmware's protocols, a small
# libc, the device-tree reader for ArmVirtQemu's table), then the library as
# Filelists.mk lists it. Not the -kernel images' arch/ or discover/ scan.
UEFI_PLAT_SRCS := uefi/entry.c uefi/image.c uefi/console.c uefi/clock.c uefi/dma.c \
	uefi/pci.c uefi/mmio.c uefi/discover.c uefi/libc.c libc-glue/str.c \
	libc-glue/x86_64/printf.c arch/common/panic.c discover/fdt.c
UEFI_LIB_SRCS := $(BAREVSOCK_LIB_FILES)

uefi: $(addprefix uefi-,$(UEFI_ARCHES))

define UEFI_ARCH_RULES
UB_$(1) := build/uefi-$(1)
UEFI_OBJS_$(1) := $$(patsubst %,$$(UB_$(1))/%.o,$$(UEFI_PLAT_SRCS) $$(UEFI_LIB_SRCS))

uefi-$(1): $$(patsubst %,$$(UB_$(1))/%.efi,$$(UEFI_APPS))

$$(UB_$(1))/%.c.o: %.c uefi/uefi.mk
	@mkdir -p $$(dir $$@)
	$$(msg) CC $$@
	$$(Q)$$(UEFI_CC) --target=$$(UEFI_TARGET_$(1)) $$(UEFI_CPU_$(1)) $$(UEFI_CFLAGS) -Iarch/$(1)/include \
		$$(if $$(filter uefi/libc.c libc-glue/str.c,$$*.c),-fno-builtin) -MMD -MP -c $$< -o $$@

$$(UB_$(1))/libbv-uefi.lib: $$(UEFI_OBJS_$(1))
	@rm -f $$@
	$$(msg) AR $$@
	$$(Q)$$(UEFI_LD) /lib /out:$$@ $$^

$$(foreach app,$$(UEFI_APPS),$$(eval $$(call UEFI_APP_RULE,$(1),$$(app))))
endef
# One .efi: the app's objects, then whatever of the platform and library they
# pull from the archive.
define UEFI_APP_RULE
$$(UB_$(1))/$(2).efi: $$(patsubst %,$$(UB_$(1))/%.o,$$(wildcard apps/$(2)/*.c)) $$(UB_$(1))/libbv-uefi.lib \
		uefi/uefi.mk uefi/pe_fixup.py
	$$(msg) LD $$@
	$$(Q)$$(UEFI_CC) --target=$$(UEFI_TARGET_$(1)) $$(UEFI_LDFLAGS) -o $$@.tmp $$(filter %.o %.lib,$$^)
	$$(Q)$$(PYTHON) uefi/pe_fixup.py $$@.tmp
	@mv $$@.tmp $$@
endef

$(foreach a,$(UEFI_ARCHES),$(eval $(call UEFI_ARCH_RULES,$(a))))

.PHONY: uefi $(addprefix uefi-,$(UEFI_ARCHES))
