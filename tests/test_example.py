# SPDX-License-Identifier: BSD-2-Clause
"""examples/embed, the out-of-tree firmware: built by its own Makefile
against 'make install PREFIX=build/<arch>/install' only (the installed
headers and libbarevsock.a, built with the example's BV_CONFIG sizes; its
own entry, board, libc bits and port), it attaches its vsock device by
address with virtio_mmio_attach (no discovery layer), boots under QEMU on
every architecture and echoes through our host back end."""
import os
import subprocess
import pytest

import qemu
from vsockhost import MODERN_MMIO, Setup, connect

# (id, target, vhost-user device, extra QEMU args, transport the library logs)
CASES = [
    ("x86_64-microvm", "x86_64-microvm", "vhost-user-vsock-device", [], "on mmio v1"),
    ("aarch64-virt", "aarch64-a53", "vhost-user-vsock-device", MODERN_MMIO, "on mmio v2"),
    ("arm-virt", "arm-a15", "vhost-user-vsock-device", [], "on mmio v1"),
]


def example_elf(arch):
    """Install the library for arch and build the example against it (both
    incremental); the example's ELF path."""
    prefix = os.path.join(qemu.BUILD, arch, "install")
    out = os.path.join(qemu.BUILD, arch, "example")
    lib = os.path.join(qemu.BUILD, arch, "example-lib")
    for cmd in (["make", "-s", f"ARCH={arch}", "install", f"PREFIX={prefix}",
                 "BV_CONFIG=examples/embed/fw_bv_config.h", f"BUILDDIR={lib}"],
                ["make", "-s", "-C", "examples/embed", f"BAREVSOCK={prefix}", f"O={out}"]):
        r = subprocess.run(cmd, cwd=qemu.ROOT, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return os.path.join(out, "fw.elf")


def test_example_uses_only_the_installed_library():
    """The example's sources name no path into the tree and include only
    what make install ships (bv/, drivers/, vsock/) or its own files."""
    here = os.path.join(qemu.ROOT, "examples", "embed")
    shipped = ("bv/", "drivers/", "vsock/")
    own = {"board.h"}
    for dirpath, _dirs, files in os.walk(here):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path) as f:
                text = f.read()
            assert "../" not in text.replace("$(BAREVSOCK)", ""), f"{path} reaches outside examples/embed"
            for line in text.splitlines():
                if line.startswith("#include \""):
                    inc = line.split('"')[1]
                    assert inc.startswith(shipped) or inc in own, f"{path}: {line}"


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_example_boots_and_echoes(case, monkeypatch):
    cid, target = case[0], case[1]
    arch = qemu.arch_of(target)
    elf = example_elf(arch)
    # vsockhost.Setup boots an app by name; point it at the example's ELF.
    monkeypatch.setattr(qemu, "elf_path", lambda _arch, _app, _profile="": elf)
    s = Setup(case, "fw")
    try:
        s.guest.wait_for("fw: echo listening on port 1234", timeout=60)
        assert f"looking for virtio-vsock at 0x" in s.guest.text, s.describe()
        assert case[4] in s.guest.text, s.describe()
        # fw_bv_config.h's BV_VIRTQ_MAX_SIZE 64 reached the archive (the device offers 128).
        assert "queues 64/64/64" in s.guest.text, s.describe()
        for round_ in range(2):
            sock = connect(s)
            sock.settimeout(60)
            msg = os.urandom(100000)
            sock.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = sock.recv(65536)
                assert d, f"EOF after {len(got)} bytes\n{s.describe()}"
                got += d
            sock.close()
            assert got == msg, f"round {round_}: echo differs\n{s.describe()}"
        s.guest.wait_for("100000 bytes echoed", timeout=30)
    finally:
        s.close()
