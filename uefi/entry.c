/* SPDX-License-Identifier: BSD-2-Clause */
/* The UEFI application's life: efi_main saves the firmware's tables, turns
 * off the boot watchdog, reads the load options and the boot information,
 * runs the app's main(), and leaves with a status a test can read (x86:
 * isa-debug-exit; Arm: semihosting; or back to the firmware / shutdown, as
 * the "exit=" load option says). Also the small libc exit/abort pair.
 * Not here: the console, clock, DMA or devices (their own files). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bv/arch.h"
#include "bv/exit.h"
#include "uefi/uefi.h"

efi_handle uefi_image;
struct efi_system_table *uefi_st;
struct efi_boot_services *uefi_bs;

const struct efi_guid uefi_guid_loaded_image = EFI_LOADED_IMAGE_PROTOCOL_GUID;
const struct efi_guid uefi_guid_device_path = EFI_DEVICE_PATH_PROTOCOL_GUID;
const struct efi_guid uefi_guid_pci_io = EFI_PCI_IO_PROTOCOL_GUID;
const struct efi_guid uefi_guid_dtb = EFI_DTB_TABLE_GUID;
const struct efi_guid uefi_guid_acpi20 =
	{ 0x8868e871, 0xe4f1, 0x11d3, { 0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81 } };
const struct efi_guid uefi_guid_ovmf_virtio = EFI_OVMF_VIRTIO_DEVICE_PROTOCOL_GUID;
const struct efi_guid uefi_guid_ovmf_virtio_mmio = EFI_OVMF_VIRTIO_MMIO_TRANSPORT_GUID;

/* The load options as ASCII: OVMF and ArmVirtQemu hand -append over as the
 * UCS-2 load options of the image they start from -kernel; the shell passes
 * the command line it ran us with. */
#define UEFI_CMDLINE_MAX 512
static char cmdline[UEFI_CMDLINE_MAX];
static struct bv_boot_info boot_info;
static uint64_t image_size;
/* The linker's symbol for the start of the image as it runs (the copy, if moved). */
extern const char __ImageBase[];

static void (*exit_hooks[UEFI_MAX_EXIT_HOOKS])(void);
static unsigned n_exit_hooks;

enum exit_mode { EXIT_QEMU, EXIT_FIRMWARE, EXIT_SHUTDOWN };
static enum exit_mode exit_mode = EXIT_QEMU;

int main(void);
efi_status efi_main(efi_handle image, struct efi_system_table *st);

int uefi_guid_eq(const struct efi_guid *a, const struct efi_guid *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

const char *uefi_strerror(efi_status s)
{
	static char buf[24];
	switch (s) {
	case EFI_SUCCESS: return "EFI_SUCCESS";
	case EFI_LOAD_ERROR: return "EFI_LOAD_ERROR";
	case EFI_INVALID_PARAMETER: return "EFI_INVALID_PARAMETER";
	case EFI_UNSUPPORTED: return "EFI_UNSUPPORTED";
	case EFI_BUFFER_TOO_SMALL: return "EFI_BUFFER_TOO_SMALL";
	case EFI_DEVICE_ERROR: return "EFI_DEVICE_ERROR";
	case EFI_OUT_OF_RESOURCES: return "EFI_OUT_OF_RESOURCES";
	case EFI_NOT_FOUND: return "EFI_NOT_FOUND";
	case EFI_ACCESS_DENIED: return "EFI_ACCESS_DENIED";
	case EFI_ALREADY_STARTED: return "EFI_ALREADY_STARTED";
	}
	snprintf(buf, sizeof(buf), "EFI status 0x%llx", (unsigned long long)s);
	return buf;
}

void *uefi_config_table(const struct efi_guid *g)
{
	for (efi_uintn i = 0; i < uefi_st->number_of_table_entries; i++)
		if (uefi_guid_eq(&uefi_st->configuration_table[i].vendor_guid, g))
			return uefi_st->configuration_table[i].vendor_table;
	return NULL;
}

const char *uefi_option(const char *key, char *buf, unsigned size)
{
	size_t klen = strlen(key);
	for (const char *p = cmdline; *p; ) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		size_t wlen = (size_t)(p - w);
		if (wlen >= klen && memcmp(w, key, klen) == 0 && (wlen == klen || w[klen] == '=')) {
			const char *v = wlen == klen ? w + klen : w + klen + 1;
			size_t n = (size_t)(p - v);
			if (size == 0)
				return NULL;
			if (n >= size)
				n = size - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return NULL;
}

int uefi_at_exit(void (*fn)(void))
{
	if (n_exit_hooks >= UEFI_MAX_EXIT_HOOKS)
		return -1;
	exit_hooks[n_exit_hooks++] = fn;
	return 0;
}

/* UCS-2 load options to ASCII; binary options (a boot entry's optional data)
 * show up as non-printable characters and are dropped. */
static void read_load_options(void)
{
	struct efi_loaded_image *li = NULL;
	if (uefi_bs->handle_protocol(uefi_image, &uefi_guid_loaded_image, (void **)&li) != EFI_SUCCESS || !li)
		return;
	image_size = li->image_size;
	const efi_char16 *o = li->load_options;
	unsigned n = o ? li->load_options_size / 2 : 0, k = 0;
	for (unsigned i = 0; i < n && o[i] && k + 1 < sizeof(cmdline); i++) {
		if (o[i] < 0x20 || o[i] > 0x7e) {
			k = 0;
			break;
		}
		cmdline[k++] = (char)o[i];
	}
	cmdline[k] = '\0';
}

static int current_el(void)
{
#if defined(__aarch64__)
	uint64_t el;
	__asm__ volatile("mrs %0, CurrentEL" : "=r"(el));
	return (int)((el >> 2) & 3);
#elif defined(__arm__)
	uint32_t cpsr;
	__asm__ volatile("mrs %0, cpsr" : "=r"(cpsr));
	return (int)(cpsr & 0x1f);      /* the mode: 0x13 SVC, 0x1a HYP */
#else
	return 0;
#endif
}

/* Everything after the image is where it will stay (image.c). */
static efi_status uefi_start(efi_handle image, struct efi_system_table *st)
{
	uefi_image = image;
	uefi_st = st;
	uefi_bs = st->boot_services;

	/* The boot manager armed a 5-minute watchdog before starting us; a
	 * server runs for longer. */
	uefi_bs->set_watchdog_timer(0, 0, 0, NULL);
	read_load_options();
	char v[16];
	if (uefi_option("exit", v, sizeof(v))) {
		if (strcmp(v, "firmware") == 0)
			exit_mode = EXIT_FIRMWARE;
		else if (strcmp(v, "shutdown") == 0)
			exit_mode = EXIT_SHUTDOWN;
		else if (strcmp(v, "qemu") != 0)
			printf("uefi: unknown exit=%s (use exit=qemu, exit=firmware or exit=shutdown); "
			       "keeping exit=qemu\n", v);
	}
	boot_info.cmdline = cmdline;
	boot_info.fdt = uefi_config_table(&uefi_guid_dtb);
	boot_info.rsdp = (uint64_t)(uintptr_t)uefi_config_table(&uefi_guid_acpi20);
	boot_info.el = current_el();
	uefi_clock_init();

	char vendor[40];
	unsigned k = 0;
	for (const efi_char16 *w = st->firmware_vendor; w && *w && k + 1 < sizeof(vendor); w++)
		vendor[k++] = *w < 0x80 ? (char)*w : '?';
	vendor[k] = '\0';
	char moved[48] = "";
	if (uefi_moved_from)
		snprintf(moved, sizeof(moved), " (moved from 0x%llx)", (unsigned long long)uefi_moved_from);
	printf("uefi: %s firmware rev 0x%x, UEFI %u.%u, image at 0x%llx%s (%llu KiB), options \"%s\"\n",
	       vendor, (unsigned)st->firmware_revision, (unsigned)(st->hdr.revision >> 16),
	       (unsigned)(st->hdr.revision & 0xffff) / 10, (unsigned long long)(uintptr_t)&__ImageBase,
	       moved, (unsigned long long)(image_size >> 10), cmdline);
	exit(main());
}

efi_status efi_main(efi_handle image, struct efi_system_table *st)
{
	if (!st || st->hdr.signature != EFI_SYSTEM_TABLE_SIGNATURE || !st->boot_services ||
	    st->boot_services->hdr.signature != EFI_BOOT_SERVICES_SIGNATURE)
		return EFI_INVALID_PARAMETER;
	uefi_image = image;
	uefi_st = st;
	uefi_bs = st->boot_services;
	efi_status s;
	if (uefi_move_below_4g(image, st, uefi_start, &s))
		return s;
	return uefi_start(image, st);
}

void arch_init(void)
{
	/* efi_main did it all before main(). */
}

const struct bv_boot_info *arch_boot_info(void)
{
	return &boot_info;
}

static _Noreturn void leave(int status)
{
	uefi_console_flush();
#if defined(__x86_64__)
	if (exit_mode == EXIT_QEMU) {
		/* -device isa-debug-exit,iobase=0xf4: QEMU exits with (status << 1) | 1.
		 * Without that device the write goes nowhere and we fall through. */
		__asm__ volatile("outl %0, %1" :: "a"((uint32_t)status), "Nd"((uint16_t)0xf4) : "memory");
	}
#elif defined(__aarch64__) || defined(__arm__)
	if (exit_mode == EXIT_QEMU) {
		/* Semihosting SYS_EXIT with ADP_Stopped_ApplicationExit and the status:
		 * QEMU exits with it. Needs -semihosting; without it this traps. */
		static uintptr_t block[2];
		block[0] = 0x20026;
		block[1] = (uintptr_t)status;
#if defined(__aarch64__)
		register uint64_t x0 __asm__("x0") = 0x18;
		register uintptr_t *x1 __asm__("x1") = block;
		__asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
#else
		/* A32 SYS_EXIT (0x18) cannot carry a status: SYS_EXIT_EXTENDED. */
		register uint32_t r0 __asm__("r0") = 0x20;
		register uintptr_t *r1 __asm__("r1") = block;
		__asm__ volatile("svc 0xab" : "+r"(r0) : "r"(r1) : "memory");
#endif
	}
#endif
	if (exit_mode == EXIT_SHUTDOWN && uefi_st->runtime_services)
		uefi_st->runtime_services->reset_system(EFI_RESET_SHUTDOWN, EFI_SUCCESS, 0, NULL);
	/* Back to the firmware (boot manager or shell), from however deep we are;
	 * through the original image if we run in a copy, which it frees. */
	if (uefi_exit_via)
		uefi_exit_via(status == 0 ? EFI_SUCCESS : EFI_ABORTED);
	uefi_bs->exit(uefi_image, status == 0 ? EFI_SUCCESS : EFI_ABORTED, 0, NULL);
	for (;;)
		;
}

_Noreturn void arch_exit(int status)
{
	/* Give every device back first; a hook that itself exits must not loop. */
	while (n_exit_hooks)
		exit_hooks[--n_exit_hooks]();
	printf("uefi: exit status %d\n", status);
	leave(status);
}

_Noreturn void exit(int status)
{
	arch_exit(status);
}

_Noreturn void abort(void)
{
	bv_panic("abort() called");
}
