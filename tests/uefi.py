# SPDX-License-Identifier: BSD-2-Clause
"""Boot barevsock's UEFI applications (build/uefi-<arch>/<app>.efi) under the
firmware Debian packages: OVMF on q35 (x86_64), ArmVirtQemu on virt (aarch64
and 32-bit Arm). Each run gets its own copy of the firmware's variable store.
OVMF boots the app from a FAT directory (an ESP with \\EFI\\BOOT\\BOOTX64.EFI,
QEMU's x86 -kernel only takes Linux images); ArmVirtQemu starts it from
-kernel, and -append reaches it as its load options. Exit statuses come back
as on the -kernel images (isa-debug-exit, semihosting), so qemu.Guest decodes
them. Not here: what a test does with the guest."""
import os
import shutil
import subprocess
import tempfile

import qemu

# arch -> firmware code/vars, the Debian package, the -kernel target whose
# machine arguments and exit decoding we share, how the app is started, and
# the -drive interface of a FAT directory the firmware can read: q35's default
# (AHCI) for OVMF; ArmVirtQemu has no AHCI driver, so virtio-blk there (on PCI).
FIRMWARE = {
    "x86_64": {"code": "/usr/share/OVMF/OVMF_CODE_4M.fd", "vars": "/usr/share/OVMF/OVMF_VARS_4M.fd",
               "package": "ovmf", "target": "x86_64-q35", "boot": "esp", "esp_name": "BOOTX64.EFI",
               "esp_drive": "media=disk"},
    "aarch64": {"code": "/usr/share/AAVMF/AAVMF_CODE.fd", "vars": "/usr/share/AAVMF/AAVMF_VARS.fd",
                "package": "qemu-efi-aarch64", "target": "aarch64-a53", "boot": "kernel",
                "esp_drive": "if=virtio"},
    "arm": {"code": "/usr/share/AAVMF/AAVMF32_CODE.fd", "vars": "/usr/share/AAVMF/AAVMF32_VARS.fd",
            "package": "qemu-efi-arm", "target": "arm-a15", "boot": "kernel", "esp_drive": "if=virtio"},
}
ARCHES = ["x86_64", "aarch64", "arm"]


def efi_path(arch, app):
    path = os.path.join(qemu.BUILD, f"uefi-{arch}", app + ".efi")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing: run 'make uefi' first")
    return path


def firmware(arch):
    fw = FIRMWARE[arch]
    for f in (fw["code"], fw["vars"]):
        if not os.path.exists(f):
            import pytest
            pytest.skip(f"SKIPPED LOUDLY: {f} is missing: install Debian's {fw['package']} "
                        f"(tools/install-deps.sh)")
    return fw


def esp_drive(arch, path):
    """QEMU arguments for the host directory `path` as a FAT disk that
    `arch`'s firmware (and its shell) can read."""
    return ["-drive", f"file=fat:rw:{path},format=raw,{FIRMWARE[arch]['esp_drive']}"]


def startup_nsh(shell):
    """The shell script that runs each (app, options) from the ESP in turn.
    The ESP has no \\EFI\\BOOT\\BOOT<arch>.EFI, so the boot manager (OVMF's
    and ArmVirtQemu's alike, when there is no -kernel) falls through to the
    built-in shell, which runs startup.nsh (after a 5 s countdown)."""
    lines = ["fs0:"] + [f"\\{app}.efi {opts}".rstrip() for app, opts in shell]
    return "\r\n".join(lines) + "\r\n"


class Run:
    """The files one firmware boot needs (variable store copy, ESP), in a
    temporary directory removed by close()."""

    def __init__(self, arch, efi, mem_mb=128, shared_mem=False, append=None, extra=(), shell=None):
        """shell: instead of one app, [(app, options), ...] run in turn by the
        firmware's UEFI shell from startup.nsh (OVMF only); options are the
        app's load options, e.g. "exit=firmware" to come back for the next."""
        fw = firmware(arch)
        self.arch = arch
        self.target = fw["target"]
        self.dir = tempfile.mkdtemp(prefix=f"bv-uefi-{arch}-")
        vars_copy = os.path.join(self.dir, "vars.fd")
        # Debian's Arm variable stores are 64 MiB of zeros: copy sparsely.
        subprocess.run(["cp", "--sparse=always", fw["vars"], vars_copy], check=True)
        cmd = qemu.machine_args(self.target, mem_mb=mem_mb, shared_mem=shared_mem)
        cmd += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={fw['code']}",
                "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]
        if shell:
            if fw["boot"] != "esp":
                raise ValueError("shell= is for OVMF, which boots the ESP")
            esp = os.path.join(self.dir, "esp")
            os.makedirs(esp)
            for app, _ in shell:
                shutil.copy(efi_path(arch, app), os.path.join(esp, app + ".efi"))
            with open(os.path.join(esp, "startup.nsh"), "w") as f:
                f.write(startup_nsh(shell))
            cmd += esp_drive(arch, esp)
        elif fw["boot"] == "esp":
            if append:
                raise ValueError("load options need -kernel (Arm) here; OVMF boots the ESP's default path")
            boot = os.path.join(self.dir, "esp", "EFI", "BOOT")
            os.makedirs(boot)
            shutil.copy(efi, os.path.join(boot, fw["esp_name"]))
            cmd += esp_drive(arch, os.path.join(self.dir, "esp"))
        else:
            cmd += ["-kernel", efi]
            if append:
                cmd += ["-append", append]
        self.cmd = cmd + list(extra)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Guest(qemu.Guest):
    """A qemu.Guest booted through the firmware; kill() also removes the run's files."""

    def __init__(self, arch, app, extra=(), log_path=None, mem_mb=128, shared_mem=False, append=None,
                 shell=None):
        self.run = Run(arch, efi_path(arch, app) if app else None, mem_mb=mem_mb, shared_mem=shared_mem,
                       append=append, extra=extra, shell=shell)
        super().__init__(self.run.target, None, log_path=log_path, cmd=self.run.cmd)

    def kill(self):
        super().kill()
        self.run.close()

    def wait(self, timeout=30):
        try:
            return super().wait(timeout)
        finally:
            self.run.close()


def boot(arch, app, timeout=120, **kw):
    """Boot to completion; returns the Guest with .status, .text, .seconds."""
    g = Guest(arch, app, **kw)
    try:
        g.wait(timeout)
    finally:
        g.kill()
    return g
