/* SPDX-License-Identifier: BSD-2-Clause */
/* The parts of the UEFI specification (2.x) the UEFI platform uses: the
 * system table, boot and runtime services, text output, loaded image, device
 * path, PCI I/O, configuration tables, and two GUIDs OVMF/ArmVirtQemu publish
 * for virtio-mmio. Written from the specification, in this project's naming;
 * layouts are checked below for both pointer sizes. Non-goals: anything the
 * platform does not call (HII, file systems, networking, SMM, ...). */
#ifndef BV_UEFI_EFI_H
#define BV_UEFI_EFI_H

#include <stddef.h>
#include <stdint.h>

/* Every target here is compiled as a Windows target, so its default calling
 * convention already is the one UEFI mandates (MS x64 on x86_64, AAPCS on
 * Arm): no per-function attribute is needed. */
#define EFIAPI

typedef uintptr_t efi_uintn;              /* UINTN: natural width */
typedef uintptr_t efi_status;             /* high bit set: an error */
typedef void *efi_handle;
typedef void *efi_event;
typedef uint16_t efi_char16;              /* UCS-2; build with -fshort-wchar for L"" */
typedef uint64_t efi_phys_addr;
typedef uintptr_t efi_tpl;

#define EFI_ERROR_BIT ((efi_status)1 << (sizeof(efi_status) * 8 - 1))
#define EFI_ERR(n)    (EFI_ERROR_BIT | (efi_status)(n))
#define EFI_IS_ERROR(s) (((s) & EFI_ERROR_BIT) != 0)

/* Status codes (spec appendix D). */
#define EFI_SUCCESS               ((efi_status)0)
#define EFI_LOAD_ERROR            EFI_ERR(1)
#define EFI_INVALID_PARAMETER     EFI_ERR(2)
#define EFI_UNSUPPORTED           EFI_ERR(3)
#define EFI_BAD_BUFFER_SIZE       EFI_ERR(4)
#define EFI_BUFFER_TOO_SMALL      EFI_ERR(5)
#define EFI_NOT_READY             EFI_ERR(6)
#define EFI_DEVICE_ERROR          EFI_ERR(7)
#define EFI_OUT_OF_RESOURCES      EFI_ERR(9)
#define EFI_NOT_FOUND             EFI_ERR(14)
#define EFI_ACCESS_DENIED         EFI_ERR(15)
#define EFI_TIMEOUT               EFI_ERR(18)
#define EFI_ALREADY_STARTED       EFI_ERR(20)
#define EFI_ABORTED               EFI_ERR(21)

struct efi_guid {
	uint32_t d1;
	uint16_t d2, d3;
	uint8_t d4[8];
};
_Static_assert(sizeof(struct efi_guid) == 16, "EFI_GUID is 16 bytes");

struct efi_table_header {
	uint64_t signature;
	uint32_t revision;
	uint32_t header_size;
	uint32_t crc32;
	uint32_t reserved;
};
_Static_assert(sizeof(struct efi_table_header) == 24, "EFI_TABLE_HEADER is 24 bytes");

#define EFI_SYSTEM_TABLE_SIGNATURE  0x5453595320494249ull   /* "IBI SYST" */
#define EFI_BOOT_SERVICES_SIGNATURE 0x56524553544f4f42ull   /* "BOOTSERV" */
#define EFI_RUNTIME_SERVICES_SIGNATURE 0x56524553544e5552ull /* "RUNTSERV" */

/* ---- simple text output (spec 12.4) ---- */
struct efi_simple_text_output;
typedef efi_status (EFIAPI *efi_text_string_fn)(struct efi_simple_text_output *self,
						 const efi_char16 *s);
struct efi_simple_text_output {
	void *reset;
	efi_text_string_fn output_string;
	void *test_string;
	void *query_mode;
	void *set_mode;
	void *set_attribute;
	void *clear_screen;
	void *set_cursor_position;
	void *enable_cursor;
	void *mode;
};

/* ---- memory (spec 7.2) ---- */
enum efi_allocate_type {
	EFI_ALLOCATE_ANY_PAGES = 0,
	EFI_ALLOCATE_MAX_ADDRESS = 1,
	EFI_ALLOCATE_ADDRESS = 2,
};
enum efi_memory_type {
	EFI_RESERVED_MEMORY = 0,
	EFI_LOADER_CODE = 1,
	EFI_LOADER_DATA = 2,
	EFI_BOOT_SERVICES_CODE = 3,
	EFI_BOOT_SERVICES_DATA = 4,
	EFI_RUNTIME_SERVICES_CODE = 5,
	EFI_RUNTIME_SERVICES_DATA = 6,
	EFI_CONVENTIONAL_MEMORY = 7,
};
#define EFI_PAGE_SIZE 4096u

/* ---- events and timers (spec 7.1) ---- */
#define EFI_EVT_TIMER 0x80000000u
enum efi_timer_delay { EFI_TIMER_CANCEL = 0, EFI_TIMER_PERIODIC = 1, EFI_TIMER_RELATIVE = 2 };
#define EFI_TPL_APPLICATION 4

/* ---- protocol handler services (spec 7.3) ---- */
enum efi_locate_search_type {
	EFI_ALL_HANDLES = 0,
	EFI_BY_REGISTER_NOTIFY = 1,
	EFI_BY_PROTOCOL = 2,
};
#define EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL  0x01u
#define EFI_OPEN_PROTOCOL_GET_PROTOCOL        0x02u
#define EFI_OPEN_PROTOCOL_TEST_PROTOCOL       0x04u
#define EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER 0x08u
#define EFI_OPEN_PROTOCOL_BY_DRIVER           0x10u
#define EFI_OPEN_PROTOCOL_EXCLUSIVE           0x20u

struct efi_open_protocol_information_entry {
	efi_handle agent_handle;
	efi_handle controller_handle;
	uint32_t attributes;
	uint32_t open_count;
};

struct efi_device_path;

/* Boot services (spec 4.4): the order of the members is the ABI. Members
 * the platform never calls stay untyped. */
struct efi_boot_services {
	struct efi_table_header hdr;
	/* task priority */
	void *raise_tpl;
	void *restore_tpl;
	/* memory */
	efi_status (EFIAPI *allocate_pages)(enum efi_allocate_type type, enum efi_memory_type mtype,
					    efi_uintn pages, efi_phys_addr *memory);
	efi_status (EFIAPI *free_pages)(efi_phys_addr memory, efi_uintn pages);
	void *get_memory_map;
	efi_status (EFIAPI *allocate_pool)(enum efi_memory_type mtype, efi_uintn size, void **buf);
	efi_status (EFIAPI *free_pool)(void *buf);
	/* events and timers */
	efi_status (EFIAPI *create_event)(uint32_t type, efi_tpl notify_tpl, void *notify_fn,
					  void *notify_ctx, efi_event *event);
	efi_status (EFIAPI *set_timer)(efi_event event, enum efi_timer_delay type,
				       uint64_t trigger_100ns);
	efi_status (EFIAPI *wait_for_event)(efi_uintn n, efi_event *events, efi_uintn *index);
	void *signal_event;
	efi_status (EFIAPI *close_event)(efi_event event);
	efi_status (EFIAPI *check_event)(efi_event event);
	/* protocol handlers */
	void *install_protocol_interface;
	void *reinstall_protocol_interface;
	void *uninstall_protocol_interface;
	efi_status (EFIAPI *handle_protocol)(efi_handle h, const struct efi_guid *proto, void **iface);
	void *reserved;
	void *register_protocol_notify;
	void *locate_handle;
	void *locate_device_path;
	void *install_configuration_table;
	/* images */
	void *load_image;
	void *start_image;
	efi_status (EFIAPI *exit)(efi_handle image, efi_status status, efi_uintn data_size,
				  efi_char16 *data);
	void *unload_image;
	void *exit_boot_services;
	/* miscellaneous */
	void *get_next_monotonic_count;
	efi_status (EFIAPI *stall)(efi_uintn microseconds);
	efi_status (EFIAPI *set_watchdog_timer)(efi_uintn timeout_s, uint64_t code,
						efi_uintn data_size, efi_char16 *data);
	/* driver support (EFI 1.1) */
	efi_status (EFIAPI *connect_controller)(efi_handle controller, efi_handle *driver_images,
						struct efi_device_path *remaining, uint8_t recursive);
	efi_status (EFIAPI *disconnect_controller)(efi_handle controller, efi_handle driver_image,
						   efi_handle child);
	/* open and close protocol (EFI 1.1) */
	efi_status (EFIAPI *open_protocol)(efi_handle h, const struct efi_guid *proto, void **iface,
					   efi_handle agent, efi_handle controller, uint32_t attributes);
	efi_status (EFIAPI *close_protocol)(efi_handle h, const struct efi_guid *proto,
					    efi_handle agent, efi_handle controller);
	efi_status (EFIAPI *open_protocol_information)(efi_handle h, const struct efi_guid *proto,
						       struct efi_open_protocol_information_entry **buf,
						       efi_uintn *count);
	/* library services (EFI 1.1) */
	void *protocols_per_handle;
	efi_status (EFIAPI *locate_handle_buffer)(enum efi_locate_search_type type,
						  const struct efi_guid *proto, void *search_key,
						  efi_uintn *n, efi_handle **buf);
	efi_status (EFIAPI *locate_protocol)(const struct efi_guid *proto, void *registration,
					     void **iface);
	void *install_multiple_protocol_interfaces;
	void *uninstall_multiple_protocol_interfaces;
	/* 32-bit CRC */
	void *calculate_crc32;
	/* miscellaneous (EFI 1.1 / UEFI 2.0) */
	void *copy_mem;
	void *set_mem;
	void *create_event_ex;
};

/* ---- runtime services (spec 4.5 / 8) ---- */
enum efi_reset_type {
	EFI_RESET_COLD = 0,
	EFI_RESET_WARM = 1,
	EFI_RESET_SHUTDOWN = 2,
	EFI_RESET_PLATFORM_SPECIFIC = 3,
};

struct efi_runtime_services {
	struct efi_table_header hdr;
	void *get_time;
	void *set_time;
	void *get_wakeup_time;
	void *set_wakeup_time;
	void *set_virtual_address_map;
	void *convert_pointer;
	void *get_variable;
	void *get_next_variable_name;
	void *set_variable;
	void *get_next_high_monotonic_count;
	void (EFIAPI *reset_system)(enum efi_reset_type type, efi_status status,
				    efi_uintn data_size, void *data);
	void *update_capsule;
	void *query_capsule_capabilities;
	void *query_variable_info;
};

/* ---- configuration tables (spec 4.6) ---- */
struct efi_configuration_table {
	struct efi_guid vendor_guid;
	void *vendor_table;
};

/* ---- the system table (spec 4.3) ---- */
struct efi_system_table {
	struct efi_table_header hdr;
	efi_char16 *firmware_vendor;
	uint32_t firmware_revision;
	efi_handle console_in_handle;
	void *con_in;
	efi_handle console_out_handle;
	struct efi_simple_text_output *con_out;
	efi_handle standard_error_handle;
	struct efi_simple_text_output *std_err;
	struct efi_runtime_services *runtime_services;
	struct efi_boot_services *boot_services;
	efi_uintn number_of_table_entries;
	struct efi_configuration_table *configuration_table;
};

/* ---- loaded image (spec 9.1) ---- */
struct efi_loaded_image {
	uint32_t revision;
	efi_handle parent_handle;
	struct efi_system_table *system_table;
	efi_handle device_handle;
	struct efi_device_path *file_path;
	void *reserved;
	uint32_t load_options_size;     /* bytes */
	void *load_options;
	void *image_base;
	uint64_t image_size;
	enum efi_memory_type image_code_type;
	enum efi_memory_type image_data_type;
	void *unload;
};

/* ---- device path (spec 10.2/10.3): variable-length nodes, byte aligned ---- */
struct efi_device_path {
	uint8_t type;
	uint8_t subtype;
	uint8_t length[2];       /* little-endian, includes this header */
} __attribute__((packed));
_Static_assert(sizeof(struct efi_device_path) == 4, "device path node header is 4 bytes");

#define EFI_DP_TYPE_HARDWARE   0x01
#define EFI_DP_TYPE_END        0x7f
#define EFI_DP_HW_PCI          0x01
#define EFI_DP_HW_VENDOR       0x04

/* Hardware vendor node: header, vendor GUID, vendor data. */
struct efi_dp_vendor {
	struct efi_device_path hdr;
	struct efi_guid guid;
	/* vendor-defined data follows */
} __attribute__((packed));
_Static_assert(sizeof(struct efi_dp_vendor) == 20, "vendor node is 20 bytes before its data");

/* ---- PCI I/O protocol (spec 14.4) ---- */
enum efi_pci_io_width {
	EFI_PCI_IO_WIDTH_U8 = 0,
	EFI_PCI_IO_WIDTH_U16 = 1,
	EFI_PCI_IO_WIDTH_U32 = 2,
	EFI_PCI_IO_WIDTH_U64 = 3,
};

enum efi_pci_io_attribute_op {
	EFI_PCI_IO_ATTR_GET = 0,
	EFI_PCI_IO_ATTR_SET = 1,
	EFI_PCI_IO_ATTR_ENABLE = 2,
	EFI_PCI_IO_ATTR_DISABLE = 3,
	EFI_PCI_IO_ATTR_SUPPORTED = 4,
};

#define EFI_PCI_IO_ATTRIBUTE_IO                 0x0100ull
#define EFI_PCI_IO_ATTRIBUTE_MEMORY             0x0200ull
#define EFI_PCI_IO_ATTRIBUTE_BUS_MASTER         0x0400ull
#define EFI_PCI_IO_ATTRIBUTE_DUAL_ADDRESS_CYCLE 0x8000ull

struct efi_pci_io;
struct efi_pci_io_access {
	efi_status (EFIAPI *read)(struct efi_pci_io *self, enum efi_pci_io_width width,
				  uint8_t bar, uint64_t offset, efi_uintn count, void *buf);
	efi_status (EFIAPI *write)(struct efi_pci_io *self, enum efi_pci_io_width width,
				   uint8_t bar, uint64_t offset, efi_uintn count, void *buf);
};
struct efi_pci_io_config_access {
	efi_status (EFIAPI *read)(struct efi_pci_io *self, enum efi_pci_io_width width,
				  uint32_t offset, efi_uintn count, void *buf);
	efi_status (EFIAPI *write)(struct efi_pci_io *self, enum efi_pci_io_width width,
				   uint32_t offset, efi_uintn count, void *buf);
};

struct efi_pci_io {
	void *poll_mem;
	void *poll_io;
	struct efi_pci_io_access mem;
	struct efi_pci_io_access io;
	struct efi_pci_io_config_access pci;
	void *copy_mem;
	void *map;
	void *unmap;
	void *allocate_buffer;
	void *free_buffer;
	void *flush;
	efi_status (EFIAPI *get_location)(struct efi_pci_io *self, efi_uintn *segment,
					  efi_uintn *bus, efi_uintn *device, efi_uintn *function);
	efi_status (EFIAPI *attributes)(struct efi_pci_io *self, enum efi_pci_io_attribute_op op,
					uint64_t attributes, uint64_t *result);
	efi_status (EFIAPI *get_bar_attributes)(struct efi_pci_io *self, uint8_t bar,
						uint64_t *supports, void **resources);
	void *set_bar_attributes;
	uint64_t rom_size;
	void *rom_image;
};

/* GetBarAttributes describes a BAR as ACPI resource descriptors (spec 14.4,
 * ACPI 6.x 6.4.3.5.1): one QWORD address space descriptor, then an end tag. */
struct efi_acpi_qword_desc {
	uint8_t tag;             /* 0x8a */
	uint16_t length;         /* 0x2b: bytes after this field */
	uint8_t resource_type;   /* 0 memory, 1 I/O, 2 bus */
	uint8_t general_flags;
	uint8_t type_flags;
	uint64_t granularity;    /* 32 or 64: the BAR's decoder width */
	uint64_t range_min;      /* the BAR's address */
	uint64_t range_max;
	uint64_t translation;
	uint64_t length_bytes;   /* the BAR's size */
} __attribute__((packed));
_Static_assert(sizeof(struct efi_acpi_qword_desc) == 46, "QWORD descriptor is 46 bytes");
_Static_assert(offsetof(struct efi_acpi_qword_desc, range_min) == 14, "range_min at 14");
#define EFI_ACPI_QWORD_TAG 0x8a
#define EFI_ACPI_END_TAG   0x79

/* ---- GUIDs ---- */
#define EFI_LOADED_IMAGE_PROTOCOL_GUID \
	{ 0x5b1b31a1, 0x9562, 0x11d2, { 0x8e, 0x3f, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b } }
#define EFI_DEVICE_PATH_PROTOCOL_GUID \
	{ 0x09576e91, 0x6d3f, 0x11d2, { 0x8e, 0x39, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b } }
#define EFI_PCI_IO_PROTOCOL_GUID \
	{ 0x4cf5b200, 0x68b8, 0x4ca5, { 0x9e, 0xec, 0xb2, 0x3e, 0x3f, 0x50, 0x02, 0x9a } }
#define EFI_PCI_ROOT_BRIDGE_IO_PROTOCOL_GUID \
	{ 0x2f707ebb, 0x4a1a, 0x11d4, { 0x9a, 0x38, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d } }
/* Configuration table holding a flattened device tree (spec 4.6, "EFI_DTB_TABLE"). */
#define EFI_DTB_TABLE_GUID \
	{ 0xb1b621d5, 0xf19c, 0x41a5, { 0x83, 0x0b, 0xd9, 0x15, 0x2c, 0x69, 0xaa, 0xe0 } }
/* Not in the UEFI spec, published by OVMF/ArmVirtQemu (OvmfPkg): the virtio
 * device protocol their virtio-mmio transport installs, and the vendor GUID of
 * the hardware device path node (followed by the u64 register base) that
 * names each virtio-mmio transport. */
#define EFI_OVMF_VIRTIO_DEVICE_PROTOCOL_GUID \
	{ 0xfa920010, 0x6785, 0x4941, { 0xb6, 0xec, 0x49, 0x8c, 0x57, 0x9f, 0x16, 0x0a } }
#define EFI_OVMF_VIRTIO_MMIO_TRANSPORT_GUID \
	{ 0x837dca9e, 0xe874, 0x4d82, { 0xb2, 0x9a, 0x23, 0xfe, 0x0e, 0x23, 0xd1, 0xe2 } }

/* ---- layout checks: the member offsets the firmware relies on ---- */
/* Service tables are arrays of pointer-sized members after the 24-byte header;
 * the system table too (its one u32 is padded to a pointer on 64-bit). */
#define EFI_P sizeof(void *)
#define EFI_TBL(i) (24 + (i) * EFI_P)
_Static_assert(offsetof(struct efi_system_table, firmware_revision) == EFI_TBL(1), "ST.FirmwareRevision");
_Static_assert(offsetof(struct efi_system_table, con_out) == EFI_TBL(5), "ST.ConOut");
_Static_assert(offsetof(struct efi_system_table, runtime_services) == EFI_TBL(8), "ST.RuntimeServices");
_Static_assert(offsetof(struct efi_system_table, boot_services) == EFI_TBL(9), "ST.BootServices");
_Static_assert(offsetof(struct efi_system_table, configuration_table) == EFI_TBL(11), "ST.ConfigurationTable");
_Static_assert(sizeof(struct efi_system_table) == EFI_TBL(12), "EFI_SYSTEM_TABLE size");
_Static_assert(offsetof(struct efi_boot_services, allocate_pages) == EFI_TBL(2), "BS.AllocatePages");
_Static_assert(offsetof(struct efi_boot_services, create_event) == EFI_TBL(7), "BS.CreateEvent");
_Static_assert(offsetof(struct efi_boot_services, handle_protocol) == EFI_TBL(16), "BS.HandleProtocol");
_Static_assert(offsetof(struct efi_boot_services, exit) == EFI_TBL(24), "BS.Exit");
_Static_assert(offsetof(struct efi_boot_services, stall) == EFI_TBL(28), "BS.Stall");
_Static_assert(offsetof(struct efi_boot_services, connect_controller) == EFI_TBL(30), "BS.ConnectController");
_Static_assert(offsetof(struct efi_boot_services, open_protocol) == EFI_TBL(32), "BS.OpenProtocol");
_Static_assert(offsetof(struct efi_boot_services, locate_handle_buffer) == EFI_TBL(36), "BS.LocateHandleBuffer");
_Static_assert(offsetof(struct efi_boot_services, locate_protocol) == EFI_TBL(37), "BS.LocateProtocol");
_Static_assert(sizeof(struct efi_boot_services) == EFI_TBL(44), "EFI_BOOT_SERVICES size (44 services)");
_Static_assert(offsetof(struct efi_runtime_services, reset_system) == EFI_TBL(10), "RT.ResetSystem");
_Static_assert(sizeof(struct efi_runtime_services) == EFI_TBL(14), "EFI_RUNTIME_SERVICES size");
_Static_assert(offsetof(struct efi_simple_text_output, output_string) == EFI_P, "ConOut.OutputString");
_Static_assert(sizeof(struct efi_configuration_table) == 16 + EFI_P, "EFI_CONFIGURATION_TABLE size");
_Static_assert(offsetof(struct efi_loaded_image, load_options_size) == 6 * EFI_P, "LI.LoadOptionsSize");
_Static_assert(offsetof(struct efi_loaded_image, image_base) == 8 * EFI_P, "LI.ImageBase");
_Static_assert(offsetof(struct efi_loaded_image, image_size) == (EFI_P == 8 ? 72 : 40), "LI.ImageSize");
_Static_assert(offsetof(struct efi_loaded_image, unload) == (EFI_P == 8 ? 88 : 56), "LI.Unload");
_Static_assert(offsetof(struct efi_pci_io, mem) == 2 * EFI_P, "PciIo.Mem");
_Static_assert(offsetof(struct efi_pci_io, pci) == 6 * EFI_P, "PciIo.Pci");
_Static_assert(offsetof(struct efi_pci_io, get_location) == 14 * EFI_P, "PciIo.GetLocation");
_Static_assert(offsetof(struct efi_pci_io, attributes) == 15 * EFI_P, "PciIo.Attributes");
_Static_assert(offsetof(struct efi_pci_io, get_bar_attributes) == 16 * EFI_P, "PciIo.GetBarAttributes");
_Static_assert(offsetof(struct efi_pci_io, rom_size) == (EFI_P == 8 ? 144 : 72), "PciIo.RomSize");
_Static_assert(sizeof(struct efi_pci_io) == (EFI_P == 8 ? 160 : 88), "EFI_PCI_IO_PROTOCOL size");

#endif
