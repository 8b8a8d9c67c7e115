# SPDX-License-Identifier: BSD-2-Clause
"""Boot the machine's own Debian kernel under QEMU (TCG) with the host's root
filesystem shared read-only over 9p, and run a script in it. Shared by tests
that need a real Linux: the kernel vhost-vsock lane, Linux as a vsock guest.
Not a general VM manager: one script per boot, x86_64 only, no networking."""
import glob
import hashlib
import lzma
import os
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.path.join(ROOT, "build", "linux")
RUNS = os.path.join(CACHE, "runs")
INIT_SCRIPT = os.path.join(HERE, "linux", "init.sh")
BUSYBOX = "/bin/busybox"
XZ_MAGIC = b"\xfd7zXZ\x00"

# Modules the initramfs itself needs to reach the 9p root. Everything else
# (vhost_vsock, vsock transports, kvm) is modprobe'd later from the chroot,
# where the host's /lib/modules is visible.
INITRAMFS_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay"]

# Kernel command line: quiet console (it goes through an emulated UART, and
# every byte costs), panic ends QEMU at once (-no-reboot).
KERNEL_ARGS = ["console=ttyS0", "quiet", "loglevel=3", "panic=-1", "rdinit=/init",
               "mitigations=off", "i8042.noaux", "i8042.nokbd", "i8042.nopnp"]

# Inside the guest the work share is mounted here and is the script's cwd.
GUEST_WORK = "/lvmwork"
CONTROL = ".lvm"  # control files (script, status, config) live in this subdir


class LinuxVMError(AssertionError):
    """A VM step failed or timed out. The message carries the console tail.
    An AssertionError so pytest shows it as a plain test failure."""


# ---------------------------------------------------------------- kernel ---

def kernel_version():
    """The newest kernel that has both /boot/vmlinuz-<v> and /lib/modules/<v>.
    The modules come from the host root inside the VM, so they must match."""
    versions = []
    for path in glob.glob("/boot/vmlinuz-*"):
        v = path[len("/boot/vmlinuz-"):]
        if os.path.isdir(f"/lib/modules/{v}"):
            versions.append(v)
    if not versions:
        raise LinuxVMError("no /boot/vmlinuz-<v> with matching /lib/modules/<v>: "
                           "install linux-image-amd64 (tools/install-deps.sh)")
    return sorted(versions, key=_version_key)[-1]


def _version_key(v):
    return [int(p) if p.isdigit() else p for p in v.replace("-", ".").split(".")]


def _stamp(paths):
    """Identity of input files: rebuild when any changes (package upgrade)."""
    h = hashlib.sha256()
    for p in paths:
        st = os.stat(p)
        h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _atomic_write(path, data):
    # Tests of several engineers may build the cache at once: never expose a
    # half-written file.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def vmlinux_path(version=None):
    """The ELF vmlinux inside /boot/vmlinuz-<v>, extracted once and cached.
    QEMU boots it through its PVH note, which skips the in-guest xz
    decompressor: that alone takes ~10 s under TCG."""
    version = version or kernel_version()
    src = f"/boot/vmlinuz-{version}"
    out = os.path.join(CACHE, version, f"vmlinux-{_stamp([src])}")
    if os.path.exists(out):
        return out
    try:
        with open(src, "rb") as f:
            data = f.read()
    except PermissionError:
        raise LinuxVMError(f"{src} is not readable: run the Linux-VM tests as root, or make "
                           "the kernel image readable") from None
    # The bzImage setup code precedes the payload; the payload is one xz
    # stream followed by other data, which the decompressor leaves unused.
    start = data.find(XZ_MAGIC)
    while start >= 0:
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        try:
            elf = dec.decompress(data[start:])
        except lzma.LZMAError:
            elf = b""
        if elf.startswith(b"\x7fELF") and dec.eof:
            break
        start = data.find(XZ_MAGIC, start + 1)
    else:
        raise LinuxVMError(f"{src}: no xz stream holding an ELF kernel found "
                           "(not an xz-compressed bzImage?)")
    for old in glob.glob(os.path.join(CACHE, version, "vmlinux-*")):
        os.unlink(old)
    _atomic_write(out, elf)
    return out


def module_files(version, modules=INITRAMFS_MODULES):
    """.ko paths for `modules` with their dependencies, in load order,
    without repeats. Built-in modules produce 'builtin' lines."""
    order = []
    for mod in modules:
        res = subprocess.run([_modprobe(), "-d", "/", "-S", version, "--show-depends", mod],
                             capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            raise LinuxVMError(f"modprobe --show-depends {mod} failed: {res.stderr}")
        for line in res.stdout.splitlines():
            parts = line.split()
            if parts[:1] == ["insmod"]:
                path = os.path.normpath(parts[1])
                if path not in order:
                    order.append(path)
    return order


def _modprobe():
    # /sbin is often not on a non-root user's PATH.
    for cand in (shutil.which("modprobe"), "/usr/sbin/modprobe", "/sbin/modprobe"):
        if cand and os.path.exists(cand):
            return cand
    raise LinuxVMError("modprobe not found: install kmod (tools/install-deps.sh)")


def pack_initramfs(stage_dir, files, modules):
    """An uncompressed newc cpio (TCG decompresses slowly) of /bin, /proc,
    /sys, /dev, the .ko files `modules` in /modules with their load order in
    /modules.list, and `files` ({path in the image: (host path, mode)}).
    Staged in a temporary directory below stage_dir; returns the bytes.
    Shared with bench/linuxguest.py, whose initramfs differs only in files."""
    with tempfile.TemporaryDirectory(prefix="initramfs-", dir=_mkdir(stage_dir)) as stage:
        for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "modules"):
            os.makedirs(os.path.join(stage, d))
        for dest, (src, mode) in files.items():
            shutil.copy(src, os.path.join(stage, dest))
            os.chmod(os.path.join(stage, dest), mode)
        names = []
        for m in modules:
            name = os.path.basename(m)
            shutil.copy(m, os.path.join(stage, "modules", name))
            names.append(name)
        with open(os.path.join(stage, "modules.list"), "w") as f:
            f.write("\n".join(names) + "\n")
        found = subprocess.run(["find", "."], cwd=stage, capture_output=True, check=True,
                               timeout=30).stdout
        cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], cwd=stage,
                              input=found, capture_output=True, timeout=60)
        if cpio.returncode != 0:
            raise LinuxVMError(f"cpio failed: {cpio.stderr.decode()}")
    return cpio.stdout


def initramfs_path(version=None):
    """A small uncompressed cpio: busybox, the 9p/overlay modules, /init.
    Uncompressed because TCG decompresses slowly and the file is ~3 MB."""
    version = version or kernel_version()
    mods = module_files(version)
    stamp = _stamp([BUSYBOX, INIT_SCRIPT, __file__] + mods)
    out = os.path.join(CACHE, version, f"initramfs-{stamp}.cpio")
    if os.path.exists(out):
        return out
    data = pack_initramfs(CACHE, {"bin/busybox": (BUSYBOX, 0o755), "init": (INIT_SCRIPT, 0o755)},
                          mods)
    for old in glob.glob(os.path.join(CACHE, version, "initramfs-*.cpio")):
        os.unlink(old)
    _atomic_write(out, data)
    return out


def _mkdir(path):
    os.makedirs(path, exist_ok=True)
    return path


def _prune_runs(max_age=24 * 3600):
    """Failed runs keep their work dirs for debugging; drop day-old ones so
    build/linux/runs does not grow without bound."""
    now = time.time()
    for d in glob.glob(os.path.join(RUNS, "*")):
        try:
            if now - os.stat(d).st_mtime > max_age:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


# -------------------------------------------------------------------- VM ---

class Result:
    """What a finished VM left behind. status is the script's exit status
    (None if it never finished); files maps work-dir relative paths to bytes
    (control files excluded)."""

    def __init__(self, status, console, files, workdir, boot_seconds, seconds):
        self.status = status
        self.console = console
        self.files = files
        self.workdir = workdir
        self.boot_seconds = boot_seconds  # QEMU start -> script start (host clock)
        self.seconds = seconds            # QEMU start -> QEMU exit

    def __iter__(self):
        # Lets callers write: status, console, files = vm.wait()
        return iter((self.status, self.console, self.files))

    def text(self, name):
        return self.files[name].decode("utf-8", "replace")

    def check(self):
        """Raise (with the console) unless the script exited 0."""
        if self.status != 0:
            raise LinuxVMError(f"script exited with status {self.status}\n"
                               f"{_console_tail(self.console)}\nwork dir: {self.workdir}")
        return self


def _console_tail(text, limit=6000):
    return f"---- console (last {limit} chars) ----\n{text[-limit:]}\n---- end console ----"


class LinuxVM:
    """One Linux boot that runs `script` (text; no '#!' line means /bin/sh)
    as root in a chroot of the host's root filesystem, cwd = the work share.

    Host side: self.workdir is that share; put input files there before
    start(), read results after wait() or while the VM runs (wait_for_file).
    Inside: $LVM_WORK is the share's path, `modules` are modprobe'd first,
    /usr/bin/python3 is the fast Python. The repo is visible at the same path
    as on the host (read-only), so build/ images can be used directly.

        with LinuxVM("echo hi > out.txt") as vm:
            status, console, files = vm.wait()

    Background use: start(), wait_for_file("ready") or wait_for_console(...),
    talk to the VM, then stop() (kills QEMU) or wait() for the script to end.

    shared_mem=True backs guest RAM with a shareable memfd, as vhost-user
    devices need; pass their -chardev/-device in extra_qemu_args.
    """

    def __init__(self, script, *, extra_qemu_args=(), mem_mb=1024, smp=2,
                 shared_mem=False, cpu="max", modules=(), timeout=300,
                 boot_timeout=120, files=None, name="linuxvm", kernel_args=(),
                 machine="q35", keep_workdir=False):
        self.script = script
        self.extra_qemu_args = list(extra_qemu_args)
        self.mem_mb = mem_mb
        self.smp = smp
        self.shared_mem = shared_mem
        self.cpu = cpu
        self.modules = list(modules)
        self.timeout = timeout
        self.boot_timeout = boot_timeout
        self.kernel_args = list(kernel_args)
        self.machine = machine
        self.keep_workdir = keep_workdir
        _prune_runs()
        self.workdir = tempfile.mkdtemp(prefix=f"{name}-", dir=_mkdir(RUNS))
        self.console_path = os.path.join(self.workdir, CONTROL, "console.log")
        self.proc = None
        self.cmd = None
        self.t0 = None
        self.boot_seconds = None
        self.result = None
        self._console_file = None
        os.makedirs(os.path.join(self.workdir, CONTROL))
        for rel, data in (files or {}).items():
            self.put(rel, data)

    # -- files -------------------------------------------------------------
    def path(self, rel):
        """Host path of a file in the work share."""
        return os.path.join(self.workdir, rel)

    def put(self, rel, data, mode=0o644):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(p, mode)
        return p

    def _ctl(self, name):
        return os.path.join(self.workdir, CONTROL, name)

    # -- lifecycle ---------------------------------------------------------
    def command(self):
        """The QEMU command line (built after caches are ready)."""
        version = kernel_version()
        kernel = vmlinux_path(version)
        initrd = initramfs_path(version)
        machine = self.machine
        cmd = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", self.cpu,
               "-smp", str(self.smp), "-m", f"{self.mem_mb}M"]
        if self.shared_mem:
            machine += ",memory-backend=lvmmem"
            cmd += ["-object", f"memory-backend-memfd,id=lvmmem,size={self.mem_mb}M,share=on"]
        cmd += ["-M", machine,
                "-nodefaults", "-display", "none", "-monitor", "none", "-serial", "stdio",
                "-no-reboot",
                "-kernel", kernel, "-initrd", initrd,
                "-append", " ".join(KERNEL_ARGS + self.kernel_args),
                "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,"
                           "readonly=on,multidevs=remap",
                "-virtfs", f"local,path={self.workdir},mount_tag=lvmwork,"
                           "security_model=none,multidevs=remap"]
        return cmd + self.extra_qemu_args

    def start(self):
        script = self.script
        if not script.startswith("#!"):
            script = "#!/bin/sh\n" + script
        self.put(os.path.join(CONTROL, "run"), script, mode=0o755)
        self.put(os.path.join(CONTROL, "config"),
                 f"MODULES='{' '.join(self.modules)}'\n")
        self.cmd = self.command()
        self._console_file = open(self.console_path, "wb")
        self.t0 = time.monotonic()
        # QEMU's own stderr goes into the same log so a bad option shows up
        # in the error message next to the console.
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=self._console_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    @property
    def console(self):
        try:
            with open(self.console_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def describe(self):
        rc = self.proc.poll() if self.proc else None
        return (f"command: {' '.join(self.cmd or [])}\nqemu rc={rc}\nwork dir: {self.workdir}\n"
                f"{_console_tail(self.console)}")

    def _fail(self, msg):
        self.kill()
        self.keep_workdir = True
        raise LinuxVMError(f"{msg}\n{self.describe()}")

    def _poll_until(self, cond, timeout, what):
        """Wait for cond() while QEMU lives; fail with the console if QEMU
        exits first or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if cond():
                return
            if not self.running():
                if cond():
                    return
                self._fail(f"QEMU exited while waiting for {what}")
            if time.monotonic() > deadline:
                self._fail(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.05)

    def wait_booted(self, timeout=None):
        """Wait until the script has started. Returns seconds since start()."""
        if self.boot_seconds is None:
            started = self._ctl("started")
            self._poll_until(lambda: os.path.exists(started),
                             timeout or self.boot_timeout, "the script to start")
            self.boot_seconds = time.monotonic() - self.t0
        return self.boot_seconds

    def wait_for_file(self, rel, timeout=60):
        """Wait until the guest creates work-dir file `rel` (a ready marker).
        Write it atomically in the guest (write elsewhere, then mv) if the
        content matters. Returns its host path."""
        self.wait_booted()
        p = self.path(rel)
        self._poll_until(lambda: os.path.exists(p), timeout, f"file {rel!r}")
        return p

    def wait_for_console(self, needle, timeout=60):
        """Wait until `needle` appears on the console (script output goes
        there too). Returns the console text."""
        self._poll_until(lambda: needle in self.console, timeout, f"console text {needle!r}")
        return self.console

    def wait(self, timeout=None):
        """Wait for the script to finish and the VM to power off. Returns a
        Result; a timeout or a VM that dies without a status raises
        LinuxVMError. A nonzero script status does not raise: see check()."""
        if self.result is not None:
            return self.result
        self.wait_booted()
        left = (timeout or self.timeout) - (time.monotonic() - self.t0)
        try:
            self.proc.wait(timeout=max(left, 1))
        except subprocess.TimeoutExpired:
            self._fail(f"VM did not finish within {timeout or self.timeout}s")
        return self._finish()

    def _finish(self, require_status=True):
        seconds = time.monotonic() - self.t0
        self._close_console()
        status = None
        try:
            with open(self._ctl("status")) as f:
                status = int(f.read().strip())
        except (FileNotFoundError, ValueError):
            pass
        self.result = Result(status, self.console, self._collect(), self.workdir,
                             self.boot_seconds, seconds)
        if status is None and require_status:
            self.keep_workdir = True
            raise LinuxVMError(f"VM ended without a script status\n{self.describe()}")
        return self.result

    def _collect(self):
        files = {}
        for dirpath, dirnames, filenames in os.walk(self.workdir):
            rel_dir = os.path.relpath(dirpath, self.workdir)
            if rel_dir == CONTROL:
                dirnames[:] = []
                continue
            for fn in filenames:
                rel = os.path.normpath(os.path.join(rel_dir, fn))
                try:
                    with open(os.path.join(dirpath, fn), "rb") as f:
                        files[rel] = f.read()
                except OSError:
                    pass  # sockets, fifos
        return files

    def stop(self, grace=0):
        """End a background VM: QEMU is killed (after `grace` seconds of
        waiting for the script to end by itself). Returns a Result whose
        status is None if the script had not finished."""
        if self.proc is None:
            return None
        if grace and self.running():
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        if self.result is not None:
            return self.result
        return self._finish(require_status=False)

    def kill(self):
        if self.running():
            self.proc.kill()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self._close_console()

    def _close_console(self):
        if self._console_file is not None:
            self._console_file.close()
            self._console_file = None

    def cleanup(self):
        """Remove the work dir unless something failed (kept for debugging)."""
        if not self.keep_workdir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.kill()
        if exc_type is not None:
            self.keep_workdir = True
        self.cleanup()


def vhost_user_vsock_args(socket_path, chardev_id="vuvsock"):
    """extra_qemu_args that give the VM a vhost-user vsock device served by
    the backend listening on `socket_path` (start the backend first: QEMU
    talks to it while creating the device). Use with shared_mem=True and
    modules=["vmw_vsock_virtio_transport"]; the backend assigns the CID."""
    return ["-chardev", f"socket,id={chardev_id},path={socket_path}",
            "-device", f"vhost-user-vsock-pci,chardev={chardev_id}"]


def run_script(script, check=True, **kw):
    """Boot, run `script`, power off; returns the Result. check=True raises
    (with the console) unless the script exited 0. kw as for LinuxVM."""
    vm = LinuxVM(script, **kw)
    with vm:
        res = vm.wait()
        if check:
            try:
                res.check()
            except LinuxVMError:
                vm.keep_workdir = True
                raise
    return res


if __name__ == "__main__":
    # Quick manual check: python3 tests/linuxvm.py ['shell command']
    import sys
    t = time.monotonic()
    vmlinux_path()
    initramfs_path()
    print(f"caches ready in {time.monotonic() - t:.1f}s")
    r = run_script(sys.argv[1] if len(sys.argv) > 1 else "uname -a; id; cat /proc/cmdline",
                   check=False)
    print(r.console)
    print(f"status={r.status} boot_to_script={r.boot_seconds:.1f}s total={r.seconds:.1f}s")
