# SPDX-License-Identifier: BSD-2-Clause
"""Boot guest images under QEMU (TCG only) and read back what they printed and
how they exited. Every run has a timeout; the console log is kept for the
failure message. Shared by every test module and by tests/run_main.py."""
import os
import re
import threading
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")

EXIT_OK, EXIT_FAIL, EXIT_PANIC = 0, 1, 77  # bv/exit.h

_COMMON = ["-accel", "tcg", "-nodefaults", "-display", "none",
           "-serial", "stdio", "-no-reboot", "-monitor", "none"]

# target name -> (arch, qemu binary, machine/cpu arguments)
TARGETS = {
    "x86_64-q35":     ("x86_64", "qemu-system-x86_64", ["-M", "q35"]),
    "x86_64-pc":      ("x86_64", "qemu-system-x86_64", ["-M", "pc"]),
    "x86_64-microvm": ("x86_64", "qemu-system-x86_64", ["-M", "microvm"]),
    "aarch64-a53":    ("aarch64", "qemu-system-aarch64", ["-M", "virt", "-cpu", "cortex-a53"]),
    "aarch64-max":    ("aarch64", "qemu-system-aarch64", ["-M", "virt", "-cpu", "max"]),
    "aarch64-el2":    ("aarch64", "qemu-system-aarch64",
                       ["-M", "virt,virtualization=on", "-cpu", "cortex-a53"]),
    "arm-a15":        ("arm", "qemu-system-arm", ["-M", "virt,highmem=off", "-cpu", "cortex-a15"]),
}


def config(name, profile=""):
    """A size knob as the images of a profile were built with: the small
    profile's override if it sets it, else the default in include/bv/config.h."""
    files = ([SMALL_CONFIG] if profile == "small" else []) + [os.path.join(ROOT, "include", "bv", "config.h")]
    for path in files:
        with open(path) as f:
            m = re.search(r"#define\s+%s\s+(\d+)" % re.escape(name), f.read())
        if m:
            return int(m.group(1))
    raise AssertionError(f"{name} not found in {files}")


def arch_of(target):
    return TARGETS[target][0]


# Build profiles: "" the defaults (build/<arch>), "small" the small profile
# (make small-arches: build/<arch>-small, sizes from SMALL_CONFIG).
SMALL_CONFIG = os.path.join(ROOT, "examples", "embed", "fw_bv_config.h")


def elf_path(arch, app, profile=""):
    if not os.path.exists(os.path.join(ROOT, "arch", arch, "arch.mk")):
        import pytest
        pytest.skip(f"SKIPPED LOUDLY: the {arch} port (arch/{arch}) is not in the tree yet")
    path = os.path.join(BUILD, arch + (f"-{profile}" if profile else ""), app + ".elf")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing: run 'make all-arches small-arches' first")
    return path


def machine_args(target, mem_mb=128, shared_mem=False):
    """QEMU arguments for a target. shared_mem puts guest RAM in a shareable
    memfd, which vhost-user backends need to map it."""
    arch, binary, mach = TARGETS[target]
    args = [binary] + list(mach)
    if shared_mem:
        # memory-backend goes on the -M option so it works on every machine type
        args[2] = mach[1] + ",memory-backend=bvmem"
        args += ["-object", f"memory-backend-memfd,id=bvmem,size={mem_mb}M,share=on"]
    args += ["-m", f"{mem_mb}M"] + _COMMON
    if arch == "x86_64":
        args += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    else:
        args += ["-semihosting"]
    return args


def qemu_cmd(target, elf, extra=(), **kw):
    return machine_args(target, **kw) + ["-kernel", elf] + list(extra)


def decode_status(target, rc):
    """Map QEMU's exit code to the guest's logical status (bv/exit.h), or None
    when the guest did not exit through the harness path."""
    if rc is None or rc < 0:
        return None
    if arch_of(target) == "x86_64":
        return (rc - 1) // 2 if rc & 1 else None
    return rc


class Guest:
    """A running QEMU. A reader thread drains the console all the time: a
    guest whose serial output nobody reads would stall once the pipe fills
    (QEMU's UART then reports "busy" forever), and a test would blame the
    guest. wait_for/_pump let a test wait for a line while the guest runs."""

    def __init__(self, target, elf, extra=(), log_path=None, cmd=None, **kw):
        """cmd: a complete QEMU command line built elsewhere (tests/uefi.py
        boots firmware); target then only says how to decode the exit code."""
        self.target = target
        self.cmd = list(cmd) if cmd else qemu_cmd(target, elf, extra, **kw)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.out = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read_console, daemon=True)
        self._reader.start()
        self.log_path = log_path
        self.status = None
        self.rc = None
        self.seconds = None

    def _read_console(self):
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            with self._cond:
                if not chunk:
                    self._eof = True
                else:
                    self.out += chunk
                self._cond.notify_all()
            if not chunk:
                return

    @property
    def text(self):
        with self._cond:
            return self.out.decode("utf-8", "replace")

    def _pump(self, timeout):
        """Wait up to `timeout` s for more console output; False at EOF."""
        with self._cond:
            if not self._eof:
                n = len(self.out)
                self._cond.wait_for(lambda: self._eof or len(self.out) != n, timeout)
            return not self._eof

    def wait_for(self, needle, timeout=30):
        """Wait until `needle` appears in the console; fail with the log if not."""
        deadline = time.monotonic() + timeout
        data = needle.encode()
        while data not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {needle!r}\n{self.describe()}")
            if not self._pump(min(left, 0.2)) and self.proc.poll() is not None:
                self._drain()
                if data in self.out:
                    break
                raise AssertionError(f"guest exited before printing {needle!r}\n{self.describe()}")
        return self.text

    def _drain(self):
        """After QEMU exited: wait for the reader to reach EOF."""
        self._reader.join(timeout=5)

    def wait(self, timeout=30):
        """Wait for QEMU to exit; kill it (and fail) after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise AssertionError(f"guest did not exit within {timeout}s\n{self.describe()}")
            self._pump(min(left, 0.2))
        self._drain()
        self.rc = self.proc.returncode
        self.status = decode_status(self.target, self.rc)
        self.seconds = time.monotonic() - self.t0
        self._save_log()
        return self.status

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._drain()
        self._save_log()

    def _save_log(self):
        if self.log_path:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            with open(self.log_path, "wb") as f:
                f.write(self.out)

    def describe(self):
        tail = self.text[-4000:]
        return (f"command: {' '.join(self.cmd)}\nqemu rc={self.proc.returncode}\n"
                f"---- console (last 4000 chars) ----\n{tail}\n---- end console ----")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def boot(target, elf, extra=(), timeout=30, **kw):
    """Boot to completion. Returns the Guest with .status, .rc, .text, .seconds."""
    g = Guest(target, elf, extra, **kw)
    try:
        g.wait(timeout)
    finally:
        g.kill()
    return g


def expect_exit(g, status):
    assert g.status == status, f"expected exit status {status}, got {g.status}\n{g.describe()}"
