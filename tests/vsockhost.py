# SPDX-License-Identifier: BSD-2-Clause
"""The host side of a vsock test: run bv-vhost-vsock and reach a guest port
through its Unix socket ("CONNECT <port>\\n" -> "OK <host port>\\n").
Shared by the test modules, tests/run_main.py and bench/."""
import os
import hashlib
import re
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
    """A running bv-vhost-vsock; waits for its ready line, keeps stderr.
    prefix: words run before the binary (bench/ passes setpriv --pdeathsig so
    the back end dies with the harness); self.cmd is the command without it."""

    def __init__(self, tmp, *args, cid=3, binary=None, prefix=()):
        self.vsock = os.path.join(tmp, "v.sock")
        self.uds = os.path.join(tmp, "u.sock")
        self.log_path = os.path.join(tmp, "backend.log")
        self.log = open(self.log_path, "w")
        self.cmd = [binary or BACKEND, "-v", "--guest-cid", str(cid),
                    "--socket", self.vsock, "--uds-path", self.uds, *args]
        self.proc = subprocess.Popen(list(prefix) + self.cmd,
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


def drain_hashed(sock, chunk=262144):
    """Read sock until EOF. Returns (bytes read, sha256 hex digest of them)."""
    got, n = hashlib.sha256(), 0
    while True:
        d = sock.recv(chunk)
        if not d:
            return n, got.hexdigest()
        got.update(d)
        n += len(d)


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

    def __init__(self, case, app, tmp=None, backend_args=(), profile=""):
        cid, target, device, extra, transport = case[0], case[1], case[2], case[3], case[4]
        if not os.path.exists(BACKEND):
            import pytest
            pytest.skip(f"{BACKEND} not built (make host)")
        self.case, self.target = cid, target
        self.tmp = tmp or tempfile.mkdtemp(prefix=f"bv-e2e-{cid}-")
        self.backend = Backend(self.tmp, *backend_args)
        self.guest = qemu.Guest(target, qemu.elf_path(qemu.arch_of(target), app, profile),
                                self.backend.qemu_args(device) + list(extra), shared_mem=True,
                                log_path=os.path.join(LOGS, f"vsock-{app}-{cid}{'-' + profile if profile else ''}.log"))
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


def echo_listeners(s):
    """How many pool entries apps/echo's listeners take, from the line it
    prints when it starts: 1234, 1235 when the device offers SEQPACKET, and
    the diagnostics port 1290 when the pool is big enough."""
    m = re.search(r"echo: listening on port \d+[^\n]*\n", s.guest.text)
    assert m, f"no listening line yet\n{s.describe()}"
    line = m.group(0)
    if "for seqpacket only" in line:
        return 1
    return 1 + ("seqpacket on port 1235" in line) + ("diagnostics on port 1290" in line)


def pool_lines(s):
    # Complete lines only: the last one may still be arriving.
    return [l for l in s.guest.text.split("\n")[:-1] if l.startswith("echo: idle,")]


POOL_RE = re.compile(
    r"conns_in_use (?P<in_use>\d+) \(baseline (?P<baseline>\d+)\), peak (?P<peak>\d+), "
    r"refused (?P<refused>\d+), rst sent (?P<rst_sent>\d+) rcvd (?P<rst_rcvd>\d+), "
    r"malformed (?P<malformed>\d+), bad used (?P<bad_used>\d+), "
    r"tx bufs free (?P<tx_free>\d+)/(?P<tx_total>\d+), "
    r"rx bufs posted (?P<rx_posted>\d+)/(?P<rx_total>\d+), transport resets (?P<resets>\d+)")


def pool_fields(line):
    """The numbers of an "echo: idle, ..." line as a dict of ints."""
    m = POOL_RE.search(line)
    assert m, f"not a pool line: {line!r}"
    return {k: int(v) for k, v in m.groupdict().items()}


def assert_pools_at_baseline(line):
    """Every pool the guest has is where it started: connections (listeners
    only), TX buffers all back from the device, RX buffers all posted; and
    nothing malformed or forged on the way. Returns the fields."""
    f = pool_fields(line)
    assert f["in_use"] == f["baseline"], f"connections leaked: {line}"
    assert f["tx_free"] == f["tx_total"] > 0, f"TX buffers not all free: {line}"
    assert f["rx_posted"] == f["rx_total"] > 0, f"RX buffers not all posted: {line}"
    assert f["malformed"] == 0 and f["bad_used"] == 0, line
    return f


def backend_healthy(b):
    """The back end still runs and its sanitizers reported nothing."""
    log = b.stderr()
    assert b.proc.poll() is None, f"back end exited {b.proc.returncode}\n{log[-3000:]}"
    for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert bad not in log, f"back end: {bad}\n{log[-3000:]}"


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
