#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Post-link check and fix-up of a UEFI application built by lld-link.
lld-link marks 32-bit Arm images IMAGE_FILE_MACHINE_ARMNT (0x01c4), a Windows
type; UEFI firmware (EDK2's loader, so OVMF and ArmVirtQemu) only starts
32-bit Arm images marked ARMTHUMB_MIXED (0x01c2), the type the UEFI
specification names, and refuses the other with EFI_UNSUPPORTED. Thumb-2 code
is valid in such an image, so only the header field changes. Every image is
also checked for what the firmware needs: the EFI application subsystem, and
relocations not stripped (the firmware loads us wherever it likes; an image
without a single absolute address needs no .reloc entries at all).
Usage: pe_fixup.py IMAGE.efi   (edits in place; exit 1 with a reason on failure)"""
import struct
import sys

MACHINE = {0x8664: "x86_64", 0xaa64: "aarch64", 0x01c2: "arm", 0x01c4: "arm (ARMNT)"}
ARMNT, ARMTHUMB_MIXED = 0x01c4, 0x01c2
SUBSYSTEM_EFI_APPLICATION = 10
RELOCS_STRIPPED = 0x0001


def fixup(path):
    data = bytearray(open(path, "rb").read())
    if data[:2] != b"MZ":
        raise SystemExit(f"{path}: not a PE image (no MZ header)")
    pe = struct.unpack_from("<I", data, 0x3c)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        raise SystemExit(f"{path}: no PE signature at 0x{pe:x}")
    coff = pe + 4
    machine = struct.unpack_from("<H", data, coff)[0]
    if machine not in MACHINE:
        raise SystemExit(f"{path}: unexpected machine type 0x{machine:04x}")
    opt = coff + 20
    magic = struct.unpack_from("<H", data, opt)[0]
    # PE32 and PE32+ agree on where the subsystem sits.
    if magic == 0x10b:
        subsystem_off = opt + 68
    elif magic == 0x20b:
        subsystem_off = opt + 68
    else:
        raise SystemExit(f"{path}: unknown optional header magic 0x{magic:x}")
    subsystem = struct.unpack_from("<H", data, subsystem_off)[0]
    if subsystem != SUBSYSTEM_EFI_APPLICATION:
        raise SystemExit(f"{path}: subsystem {subsystem}, not an EFI application (10)")
    characteristics = struct.unpack_from("<H", data, coff + 18)[0]
    if characteristics & RELOCS_STRIPPED:
        raise SystemExit(f"{path}: relocations stripped: the firmware could only load it at its link address")
    if machine == ARMNT:
        struct.pack_into("<H", data, coff, ARMTHUMB_MIXED)
        open(path, "wb").write(data)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    fixup(sys.argv[1])
