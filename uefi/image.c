/* SPDX-License-Identifier: BSD-2-Clause */
/* Keep the image, and so every buffer the device reaches, below 4 GiB.
 * The library's DMA memory (virtqueue rings, packet buffers) is static, so it
 * lives wherever the firmware loaded us. EDK2 tries the link address first
 * (lld-link's default 0x140000000, which is RAM once a guest has more than
 * 5 GiB: measured on OVMF and ArmVirtQemu with -m 6G) and otherwise takes any
 * free pages. When that is above 4 GiB we copy the image into EfiLoaderCode
 * pages from AllocatePages(AllocateMaxAddress, 4 GiB - 1), apply its base
 * relocations for the new address and continue there. Loader memory is the
 * loader's until it frees it, across ExitBootServices too (boot-services
 * memory is not). Non-goals: translated DMA (IOMMU, SEV/TDX: the bus address
 * is the CPU address here), 32-bit images (always below 4 GiB). */
#include <stdint.h>
#include <string.h>
#include "uefi/uefi.h"

#define PE_DIR_BASERELOC  5
#define REL_ABSOLUTE      0
#define REL_HIGHLOW       3
#define REL_DIR64         10

uintptr_t uefi_moved_from;               /* in the copy: where the firmware put us */
void (*uefi_exit_via)(efi_status s);     /* in the copy: the original's exit, which frees the copy */

static efi_phys_addr copy_addr;
static efi_uintn copy_pages;

static uint32_t rd32(uintptr_t a) { uint32_t v; memcpy(&v, (const void *)a, 4); return v; }
static uint16_t rd16(uintptr_t a) { uint16_t v; memcpy(&v, (const void *)a, 2); return v; }

/* Runs in the original image: nothing may return into the copy afterwards. */
static _Noreturn void exit_from_copy(efi_status s)
{
	uefi_bs->free_pages(copy_addr, copy_pages);
	uefi_bs->exit(uefi_image, s, 0, NULL);
	for (;;)
		;
}

/* Apply the image's base relocations to the copy at dst (loaded for src).
 * 0, or -1 for a relocation type a 64-bit image should not carry. */
static int relocate(uintptr_t src, uintptr_t dst, uint64_t size)
{
	uintptr_t pe = src + rd32(src + 0x3c);
	uintptr_t opt = pe + 24;
	uint16_t magic = rd16(opt);
	uintptr_t dirs = opt + (magic == 0x20b ? 112 : 96);
	uint32_t ndirs = rd32(opt + (magic == 0x20b ? 108 : 92));
	if (ndirs <= PE_DIR_BASERELOC)
		return 0;
	uint32_t rva = rd32(dirs + 8 * PE_DIR_BASERELOC), len = rd32(dirs + 8 * PE_DIR_BASERELOC + 4);
	uint64_t delta = (uint64_t)dst - (uint64_t)src;
	for (uint32_t off = 0; off + 8 <= len; ) {
		uint32_t page = rd32(src + rva + off), bsize = rd32(src + rva + off + 4);
		if (bsize < 8 || off + bsize > len)
			return -1;
		for (uint32_t e = 8; e + 2 <= bsize; e += 2) {
			uint16_t ent = rd16(src + rva + off + e);
			uint64_t at = (uint64_t)page + (ent & 0xfff);
			if (at + 8 > size)
				return -1;
			void *p = (void *)(dst + (uintptr_t)at);
			switch (ent >> 12) {
			case REL_ABSOLUTE:
				break;
			case REL_DIR64: {
				uint64_t v;
				memcpy(&v, p, 8);
				v += delta;
				memcpy(p, &v, 8);
				break;
			}
			case REL_HIGHLOW: {
				uint32_t v;
				memcpy(&v, p, 4);
				v += (uint32_t)delta;
				memcpy(p, &v, 4);
				break;
			}
			default:
				return -1;
			}
		}
		off += bsize;
	}
	return 0;
}

/* The copy holds code we are about to run: make the instruction side see it. */
static void sync_icache(uintptr_t a, uint64_t n)
{
#if defined(__aarch64__)
	uint64_t ctr;
	__asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
	uintptr_t dline = 4u << ((ctr >> 16) & 0xf), iline = 4u << (ctr & 0xf);
	for (uintptr_t p = a & ~(dline - 1); p < a + n; p += dline)
		__asm__ volatile("dc cvau, %0" :: "r"(p) : "memory");
	__asm__ volatile("dsb ish" ::: "memory");
	for (uintptr_t p = a & ~(iline - 1); p < a + n; p += iline)
		__asm__ volatile("ic ivau, %0" :: "r"(p) : "memory");
	__asm__ volatile("dsb ish; isb" ::: "memory");
#else
	/* x86 keeps instruction fetch coherent with stores. */
	(void)a;
	(void)n;
#endif
}

int uefi_move_below_4g(efi_handle image, struct efi_system_table *st,
		       efi_status (*entry)(efi_handle, struct efi_system_table *), efi_status *status)
{
	if (sizeof(void *) < 8)
		return 0;
	struct efi_loaded_image *li = NULL;
	if (uefi_bs->handle_protocol(image, &uefi_guid_loaded_image, (void **)&li) != EFI_SUCCESS || !li)
		return 0;
	uintptr_t src = (uintptr_t)li->image_base;
	uint64_t size = li->image_size;
	if ((uint64_t)src + size <= 0x100000000ull)
		return 0;
	efi_phys_addr dst = 0xffffffffull;
	efi_uintn pages = (efi_uintn)((size + EFI_PAGE_SIZE - 1) / EFI_PAGE_SIZE);
	efi_status s = uefi_bs->allocate_pages(EFI_ALLOCATE_MAX_ADDRESS, EFI_LOADER_CODE, pages, &dst);
	if (s != EFI_SUCCESS)
		return 0;    /* stay where we are; uefi_dma_check says what that means */
	memcpy((void *)(uintptr_t)dst, (const void *)src, (size_t)size);
	if (relocate(src, (uintptr_t)dst, size) < 0) {
		uefi_bs->free_pages(dst, pages);
		return 0;
	}
	sync_icache((uintptr_t)dst, size);
	copy_addr = dst;
	copy_pages = pages;
	/* Tell the copy where it came from and how to leave; its own globals. */
	uintptr_t delta = (uintptr_t)dst - src;
	*(uintptr_t *)((uintptr_t)&uefi_moved_from + delta) = src;
	*(void (**)(efi_status))((uintptr_t)&uefi_exit_via + delta) = exit_from_copy;
	efi_status (*moved)(efi_handle, struct efi_system_table *) =
		(efi_status (*)(efi_handle, struct efi_system_table *))((uintptr_t)entry + delta);
	*status = moved(image, st);
	uefi_bs->free_pages(copy_addr, copy_pages);
	return 1;
}
