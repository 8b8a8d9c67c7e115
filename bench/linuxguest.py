# SPDX-License-Identifier: BSD-2-Clause
"""The comparison guest of bench/: Debian's linux-image-amd64 kernel with a
minimal initramfs (busybox-static, the virtio-pci and vsock modules, and
bench/linux/bvbench as PID 1). No root filesystem and no 9p share: the guest
does nothing but serve the bench ports, like barevsock's apps.

The kernel is the ELF vmlinux inside /boot/vmlinuz-<v>, extracted once by
tests/linuxvm.py and booted through its PVH note, the same entry path
barevsock uses (this skips the in-guest xz decompressor, ~10 s under TCG,
which would only inflate Linux's boot time)."""
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import linuxvm  # noqa: E402

OUT = os.path.join(ROOT, "build", "bench", "linux")
HELPER_SRC = os.path.join(HERE, "linux", "bvbench.c")
HELPER = os.path.join(ROOT, "build", "bench", "bvbench")
INIT = os.path.join(HERE, "linux", "init")
BUSYBOX = "/bin/busybox"
# virtio-pci for the device, the vsock core and its virtio transport.
MODULES = ["virtio_pci", "vmw_vsock_virtio_transport"]
# Quiet console (every byte goes through an emulated UART), panic ends QEMU.
KERNEL_ARGS = ["console=ttyS0", "quiet", "loglevel=3", "panic=-1", "rdinit=/init",
               "mitigations=off", "i8042.noaux", "i8042.nokbd", "i8042.nopnp"]


def build_helper():
    """bench.mk builds it; build here too so run.py works on its own."""
    if os.path.exists(HELPER) and os.path.getmtime(HELPER) >= os.path.getmtime(HELPER_SRC):
        return HELPER
    os.makedirs(os.path.dirname(HELPER), exist_ok=True)
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", HELPER,
                    HELPER_SRC], check=True)
    return HELPER


def module_files(version):
    """.ko paths for MODULES and their dependencies, in load order, once each."""
    order = []
    for mod in MODULES:
        res = subprocess.run([linuxvm._modprobe(), "-d", "/", "-S", version, "--show-depends",
                              mod], capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            raise RuntimeError(f"modprobe --show-depends {mod} failed: {res.stderr}")
        for line in res.stdout.splitlines():
            parts = line.split()
            if parts[:1] == ["insmod"]:
                path = os.path.normpath(parts[1])
                if path not in order:
                    order.append(path)
    return order


def _digest(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:16]


def initramfs(version=None):
    """Uncompressed newc cpio (TCG decompresses slowly), cached by content."""
    version = version or linuxvm.kernel_version()
    helper = build_helper()
    mods = module_files(version)
    stamp = _digest([BUSYBOX, INIT, helper, __file__] + mods)
    out = os.path.join(OUT, f"initramfs-{version}-{stamp}.cpio")
    if os.path.exists(out):
        return out
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-initramfs-", dir=OUT) as stage:
        for d in ("bin", "proc", "modules"):
            os.makedirs(os.path.join(stage, d))
        shutil.copy(BUSYBOX, os.path.join(stage, "bin", "busybox"))
        shutil.copy(helper, os.path.join(stage, "bin", "bvbench"))
        shutil.copy(INIT, os.path.join(stage, "init"))
        for p in ("init", "bin/busybox", "bin/bvbench"):
            os.chmod(os.path.join(stage, p), 0o755)
        names = []
        for m in mods:
            shutil.copy(m, os.path.join(stage, "modules", os.path.basename(m)))
            names.append(os.path.basename(m))
        with open(os.path.join(stage, "modules.list"), "w") as f:
            f.write("\n".join(names) + "\n")
        files = subprocess.run(["find", "."], cwd=stage, capture_output=True, check=True,
                               timeout=30).stdout
        cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], cwd=stage,
                              input=files, capture_output=True, timeout=60)
        if cpio.returncode != 0:
            raise RuntimeError(f"cpio failed: {cpio.stderr.decode()}")
    for old in glob.glob(os.path.join(OUT, f"initramfs-{version}-*.cpio")):
        os.unlink(old)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(cpio.stdout)
    os.replace(tmp, out)
    return out


def boot_args():
    """(-kernel, -initrd, -append) for the comparison guest."""
    version = linuxvm.kernel_version()
    return ["-kernel", linuxvm.vmlinux_path(version), "-initrd", initramfs(version),
            "-append", " ".join(KERNEL_ARGS)]


if __name__ == "__main__":
    print(" ".join(boot_args()))
