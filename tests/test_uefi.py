# SPDX-License-Identifier: BSD-2-Clause
"""barevsock as a UEFI application under real firmware (issue 13): OVMF on
q35, ArmVirtQemu on aarch64 and 32-bit Arm virt, all from Debian's packages
(tests/uefi.py). This file: the platform itself (console, clock, load
options, exit statuses, image placement). The vsock tests under the firmware
are in test_uefi_vsock.py."""
import os

import pytest

import qemu
import uefi

LOGS = os.path.join(qemu.BUILD, "test-logs")


def banner(g):
    lines = [l for l in g.text.splitlines() if "uefi: " in l and "firmware rev" in l]
    assert lines, f"no platform banner\n{g.describe()}"
    return lines[0][lines[0].index("uefi: "):]


@pytest.mark.parametrize("arch", uefi.ARCHES)
def test_hello_under_firmware(arch):
    """hello unchanged: printf, the clock (300 ms that the host must also
    see), the exit status. On the 64-bit firmwares with 6 GiB of RAM, where
    EDK2 loads the image at lld-link's 0x140000000, the platform must have
    moved itself below 4 GiB (its static memory is the device's DMA memory)."""
    mem = 6144 if arch != "arm" else 128
    g = uefi.boot(arch, "hello", timeout=240, mem_mb=mem,
                  log_path=os.path.join(LOGS, f"uefi-hello-{arch}.log"))
    qemu.expect_exit(g, qemu.EXIT_OK)
    assert "hello from barevsock" in g.text and "hello: ok" in g.text, g.describe()
    assert "uefi: exit status 0" in g.text, g.describe()
    line = banner(g)
    at = int(line.split("image at ")[1].split()[0], 16)
    kib = int(line.split(" KiB)")[0].rsplit("(", 1)[1])
    assert at + kib * 1024 <= 1 << 32, f"image left above 4 GiB: {line}"
    if arch != "arm":
        assert "moved from 0x140000000" in line, f"expected the move from lld-link's base: {line}"
    assert g.seconds >= 0.3, f"guest clock runs fast: whole run took {g.seconds:.3f}s"
    print(f"{arch}: {line}; qemu start to exit {g.seconds:.1f} s")


@pytest.mark.parametrize("arch", uefi.ARCHES)
def test_panic_status_under_firmware(arch):
    g = uefi.boot(arch, "panic", timeout=240)
    qemu.expect_exit(g, qemu.EXIT_PANIC)
    assert "PANIC: deliberate panic, code 1234" in g.text, g.describe()


@pytest.mark.parametrize("arch", ["aarch64", "arm"])
def test_load_options_and_exit_by_shutdown(arch):
    """-append reaches the app as its load options; exit=shutdown leaves
    through ResetSystem (QEMU reports 0) after printing the real status."""
    g = uefi.boot(arch, "panic", timeout=240, append="exit=shutdown marker=42")
    assert g.rc == 0, f"ResetSystem(shutdown) should end QEMU with 0\n{g.describe()}"
    assert 'options "exit=shutdown marker=42"' in g.text, g.describe()
    assert "uefi: exit status 77" in g.text, g.describe()


def test_exit_back_to_firmware():
    """exit=firmware returns to the boot manager, which goes on to its next
    boot option (ArmVirtQemu: the UEFI shell)."""
    g = uefi.Guest("aarch64", "hello", append="exit=firmware")
    try:
        g.wait_for("uefi: exit status 0", timeout=240)
        g.wait_for("Shell", timeout=120)
    finally:
        g.kill()
