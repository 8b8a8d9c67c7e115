# SPDX-License-Identifier: BSD-2-Clause
"""Virtio transports and polled split virtqueues, end to end: apps/rng reads
entropy from virtio-rng through every transport on every machine (issue:
virtio transports and polled split virtqueues)."""
import os
import pytest
import qemu

LOGS = os.path.join(qemu.BUILD, "test-logs")
MODERN_MMIO = ["-global", "virtio-mmio.force-legacy=false"]

# (case id, target, extra QEMU args, transport name the guest must report,
#  text the "where" part must contain)
CASES = [
    ("q35-pci", "x86_64-q35", ["-device", "virtio-rng-pci"], "pci", "pci 00:"),
    # qboot assigns no BARs: the guest sizes and places them itself.
    ("q35-qboot-pci", "x86_64-q35", ["-bios", "/usr/share/qemu/qboot.rom", "-device", "virtio-rng-pci"],
     "pci", "pci 00:"),
    ("pc-pci", "x86_64-pc", ["-device", "virtio-rng-pci"], "pci", "pci 00:"),
    # microvm with ACPI (default): found through its fixed slot layout;
    # acpi=off: QEMU appends virtio_mmio.device= to the command line instead.
    ("microvm-mmio", "x86_64-microvm", ["-device", "virtio-rng-device"], "mmio v1", "mmio@0xfeb0"),
    ("microvm-mmio-cmdline", "x86_64-microvm", ["-M", "acpi=off", "-device", "virtio-rng-device"],
     "mmio v1", "(cmdline)"),
    ("microvm-mmio-v2", "x86_64-microvm", MODERN_MMIO + ["-device", "virtio-rng-device"], "mmio v2",
     "mmio@0xfeb0"),
    ("a64-pci", "aarch64-a53", ["-device", "virtio-rng-pci"], "pci", "pci 00:"),
    ("a64-mmio-v1", "aarch64-a53", ["-device", "virtio-rng-device"], "mmio v1", "(dt)"),
    ("a64-mmio-v2", "aarch64-a53", MODERN_MMIO + ["-device", "virtio-rng-device"], "mmio v2", "(dt)"),
    ("a32-pci", "arm-a15", ["-device", "virtio-rng-pci"], "pci", "pci 00:"),
    ("a32-mmio-v1", "arm-a15", ["-device", "virtio-rng-device"], "mmio v1", "(dt)"),
    ("a32-mmio-v2", "arm-a15", MODERN_MMIO + ["-device", "virtio-rng-device"], "mmio v2", "(dt)"),
]


def _elf(target):
    try:
        return qemu.elf_path(qemu.arch_of(target), "rng")
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("case,target,extra,transport,where", CASES, ids=[c[0] for c in CASES])
def test_rng_reads_entropy(case, target, extra, transport, where):
    g = qemu.boot(target, _elf(target), extra=extra, timeout=60,
                  log_path=os.path.join(LOGS, f"rng-{case}.log"))
    qemu.expect_exit(g, qemu.EXIT_OK)
    assert f"rng: found virtio-rng on transport {transport}" in g.text, g.describe()
    found = [l for l in g.text.splitlines() if l.startswith("rng: found")]
    assert found and where in found[0], g.describe()
    assert "rng: ok" in g.text, g.describe()
    hexlines = [l for l in g.text.splitlines() if l.startswith("rng: ") and len(l) == 5 + 128]
    assert len(hexlines) >= 2 and len(set(hexlines)) == len(hexlines), g.describe()


@pytest.mark.parametrize("target", ["x86_64-q35", "x86_64-microvm", "aarch64-a53", "arm-a15"])
def test_rng_without_device_fails_cleanly(target):
    g = qemu.boot(target, _elf(target), timeout=60,
                  log_path=os.path.join(LOGS, f"rng-nodev-{target}.log"))
    qemu.expect_exit(g, qemu.EXIT_FAIL)
    assert "no virtio-rng device" in g.text, g.describe()


def test_rng_scans_all_mmio_slots():
    """Several mmio devices: every slot is scanned, not just the highest."""
    target = "aarch64-a53"
    g = qemu.boot(target, _elf(target), timeout=60,
                  extra=["-device", "virtio-rng-device", "-device", "virtio-rng-device"],
                  log_path=os.path.join(LOGS, "rng-two-devices.log"))
    qemu.expect_exit(g, qemu.EXIT_OK)
    assert "rng: ok" in g.text, g.describe()


def test_rng_microvm_cmdline_entries_we_pass():
    """Linux's virtio_mmio.device=<size>[K|M|G]@<base>:<irq>[:<id>] given by
    hand on microvm (ACPI on, so QEMU adds none of its own): a K size and an
    id are accepted, several entries are allowed, a malformed one is reported
    with what is wrong and the expected form, and only the listed slots are
    probed (the device sits in microvm's last slot, 0xfeb02e00)."""
    target = "x86_64-microvm"
    append = ("virtio_mmio.device=1K@0xfeb02c00:22 virtio_mmio.device=512@feb02e00:23 "
              "virtio_mmio.device=4K@0xfeb02e00:23:7")
    g = qemu.boot(target, _elf(target), timeout=60,
                  extra=["-device", "virtio-rng-device", "-append", append],
                  log_path=os.path.join(LOGS, "rng-microvm-append.log"))
    qemu.expect_exit(g, qemu.EXIT_OK)
    assert ("ignoring 'virtio_mmio.device=512@feb02e00:23': the base address after '@' is missing "
            "or not a number; expected virtio_mmio.device=<size>[K|M|G]@<base>:<irq>[:<id>]") in g.text, g.describe()
    assert "rng: found virtio-rng on transport mmio v1 at mmio@0xfeb02e00 (cmdline)" in g.text, g.describe()
    assert "microvm layout" not in g.text, g.describe()
    assert "rng: ok" in g.text, g.describe()
