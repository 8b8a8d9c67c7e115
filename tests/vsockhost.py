"""The host side of a vsock test: run bv-vhost-vsock and reach a guest port
through its Unix socket ("CONNECT <port>\\n" -> "OK <host port>\\n").
Shared by the test modules, tests/run_main.py and bench/."""
import os
import hashlib
import selectors
import signal
import socket
import subprocess
import threading
import time

import qemu

# BV_VHOST_VSOCK=build/host/bv-vhost-vsock-fast runs the suites against the
# unsanitized -O2 build (for throughput numbers).
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
