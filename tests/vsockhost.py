"""The host side of a vsock test: run bv-vhost-vsock and reach a guest port
through its Unix socket ("CONNECT <port>\\n" -> "OK <host port>\\n").
Shared by the test modules, tests/run_main.py and bench/."""
import os
import hashlib
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time

import qemu

# BV_VHOST_VSOCK=build/host/bv-vhost-vsock-fast runs the suites against the
# unsanitized -O2 build (for throughput numbers).
LOGS = os.path.join(qemu.BUILD, "test-logs")
ECHO_PORT = 1234
MODERN_MMIO = ["-global", "virtio-mmio.force-legacy=false"]
BIG = 64 << 20     # the hashed echo size
CYCLES = 1000

# (id, target, vhost-user device, extra QEMU args, transport the guest reports)
TRANSPORTS = [
    ("q35-pci", "x86_64-q35", "vhost-user-vsock-pci", [], "on pci"),
    ("pc-pci", "x86_64-pc", "vhost-user-vsock-pci", [], "on pci"),
    ("microvm-mmio", "x86_64-microvm", "vhost-user-vsock-device", [], "on mmio v1"),
    ("a64-pci", "aarch64-a53", "vhost-user-vsock-pci", [], "on pci"),
    ("a64-mmio-v1", "aarch64-a53", "vhost-user-vsock-device", [], "on mmio v1"),
    ("a64-mmio-v2", "aarch64-a53", "vhost-user-vsock-device", MODERN_MMIO, "on mmio v2"),
    ("a32-mmio-v1", "arm-a15", "vhost-user-vsock-device", [], "on mmio v1"),
    ("a32-mmio-v2", "arm-a15", "vhost-user-vsock-device", MODERN_MMIO, "on mmio v2"),
]
IDS = [t[0] for t in TRANSPORTS]



BACKEND = os.environ.get("BV_VHOST_VSOCK", os.path.join(qemu.BUILD, "host", "bv-vhost-vsock"))


def readline(proc, timeout):
    """One line of proc's stdout, or "" (and the process killed) on timeout."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        proc.kill()
        return ""
    return proc.stdout.readline()


class Backend:
    """A running bv-vhost-vsock; waits for its ready line, keeps stderr."""

    def __init__(self, tmp, *args, cid=3, binary=None):
        self.vsock = os.path.join(tmp, "v.sock")
        self.uds = os.path.join(tmp, "u.sock")
        self.log_path = os.path.join(tmp, "backend.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary or BACKEND, "-v", "--guest-cid", str(cid),
                                      "--socket", self.vsock, "--uds-path", self.uds, *args],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = readline(self.proc, 10)
        assert "listening on" in line, f"no ready line: {line!r}\n{self.stderr()}"
        self.ready = line

    def qemu_args(self, device):
        """The -chardev/-device pair that attaches QEMU to this backend."""
        return ["-chardev", f"socket,id=bvvsock,path={self.vsock}",
                "-device", f"{device},chardev=bvvsock"]

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def hybrid_connect(uds, port, timeout=20, retry=False):
    """CONNECT to guest `port` through the backend. Returns (socket, host_port),
    or (None, reply) when the guest refused. With retry, a refusal is retried
    until `timeout` (for a guest that has not started listening yet)."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(uds)
        s.sendall(f"CONNECT {port}\n".encode())
        line = b""
        while not line.endswith(b"\n"):
            c = s.recv(1)
            if not c:
                break
            line += c
        if line.startswith(b"OK "):
            return s, int(line.split()[1])
        s.close()
        if not retry or time.monotonic() > deadline:
            return None, line
        time.sleep(0.2)


def echo_stream(sock, nbytes, chunk=65536):
    """Write nbytes of random data while a second thread reads the echo back.
    Returns (seconds, sha256 of sent, sha256 of received, bytes received)."""
    data = os.urandom(min(nbytes, 1 << 20))
    sent_h, got_h = hashlib.sha256(), hashlib.sha256()
    got = [0]

    def reader():
        while got[0] < nbytes:
            d = sock.recv(262144)
            if not d:
                break
            got_h.update(d)
            got[0] += len(d)

    th = threading.Thread(target=reader)
    t0 = time.monotonic()
    th.start()
    off = 0
    while off < nbytes:
        piece = data[off % len(data):][:min(chunk, nbytes - off)]
        sock.sendall(piece)
        sent_h.update(piece)
        off += len(piece)
    th.join(timeout=600)
    return time.monotonic() - t0, sent_h.hexdigest(), got_h.hexdigest(), got[0]


class Setup:
    """A backend plus one guest image booted against it."""

    def __init__(self, case, app, tmp=None):
        cid, target, device, extra, transport = case[0], case[1], case[2], case[3], case[4]
        if not os.path.exists(BACKEND):
            import pytest
            pytest.skip(f"{BACKEND} not built (make host)")
        self.case, self.target = cid, target
        self.tmp = tmp or tempfile.mkdtemp(prefix=f"bv-e2e-{cid}-")
        self.backend = Backend(self.tmp)
        self.guest = qemu.Guest(target, qemu.elf_path(qemu.arch_of(target), app),
                                self.backend.qemu_args(device) + list(extra), shared_mem=True,
                                log_path=os.path.join(LOGS, f"vsock-{app}-{cid}.log"))
        self.transport = transport

    def describe(self):
        return f"{self.guest.describe()}\n---- backend ----\n{self.backend.stderr()[-3000:]}"

    def close(self):
        self.guest.kill()
        self.backend.stop()


def connect(s, port=ECHO_PORT):
    sock, info = hybrid_connect(s.backend.uds, port, timeout=30)
    assert sock is not None, f"CONNECT {port} refused: {info!r}\n{s.describe()}"
    return sock


def pool_lines(s):
    # Complete lines only: the last one may still be arriving.
    return [l for l in s.guest.text.split("\n")[:-1] if l.startswith("echo: idle,")]


def wait_pool_baseline(s, after, timeout=30):
    """Wait for a pool line newer than the first `after` ones and return it;
    it is only printed once every connection has been freed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.guest._pump(0.2)
        lines = pool_lines(s)
        if len(lines) > after:
            return lines[-1]
    raise AssertionError(f"pool never came back to baseline\n{s.describe()}")
