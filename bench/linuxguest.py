# SPDX-License-Identifier: BSD-2-Clause
"""The comparison guest of bench/: Debian's linux-image-amd64 kernel with a
minimal initramfs (busybox-static, the virtio-pci and vsock modules, and
bench/linux/bvbench as PID 1). No root filesystem and no 9p share: the guest
does nothing but serve the bench ports, like barevsock's apps.

The kernel and the initramfs packing come from tests/linuxvm.py: the ELF
vmlinux inside /boot/vmlinuz-<v>, extracted once and booted through its PVH
note, the same entry path barevsock uses (this skips the in-guest xz
decompressor, ~10 s under TCG, which would only inflate Linux's boot time)."""
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import linuxvm  # noqa: E402

OUT = os.path.join(ROOT, "build", "bench", "linux")
HELPER = os.path.join(ROOT, "build", "bench", "bvbench")   # bench/bench.mk builds it
INIT = os.path.join(HERE, "linux", "init")
# virtio-pci for the device, the vsock core and its virtio transport.
MODULES = ["virtio_pci", "vmw_vsock_virtio_transport"]
# Quiet console (every byte goes through an emulated UART), panic ends QEMU.
KERNEL_ARGS = linuxvm.KERNEL_ARGS


def initramfs(version=None):
    """The bench initramfs, rebuilt when an input changes."""
    version = version or linuxvm.kernel_version()
    if not os.path.exists(HELPER):
        raise FileNotFoundError(f"{HELPER} is missing: run 'make bench' (it builds it)")
    mods = linuxvm.module_files(version, MODULES)
    stamp = linuxvm._stamp([linuxvm.BUSYBOX, INIT, HELPER, __file__] + mods)
    out = os.path.join(OUT, f"initramfs-{version}-{stamp}.cpio")
    if os.path.exists(out):
        return out
    data = linuxvm.pack_initramfs(OUT, {"bin/busybox": (linuxvm.BUSYBOX, 0o755),
                                        "bin/bvbench": (HELPER, 0o755),
                                        "init": (INIT, 0o755)}, mods)
    for old in glob.glob(os.path.join(OUT, f"initramfs-{version}-*.cpio")):
        os.unlink(old)
    linuxvm._atomic_write(out, data)
    return out


def boot_args():
    """(-kernel, -initrd, -append) for the comparison guest."""
    version = linuxvm.kernel_version()
    return ["-kernel", linuxvm.vmlinux_path(version), "-initrd", initramfs(version),
            "-append", " ".join(KERNEL_ARGS)]


if __name__ == "__main__":
    print(" ".join(boot_args()))
