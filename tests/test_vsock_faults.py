"""Faults end to end through host/ (issue: robustness): the host client
vanishes mid-transfer, QEMU is killed and restarted against the same back
end, the back end dies and comes back. Afterwards the guest (or its fresh
boot) keeps listening and a new connection echoes byte-exact. TRANSPORT_RESET
with traffic in flight is covered against a hostile fake device in
tests/unit/test_vsock_dev.c and, through a real migration under the
kernel's vhost-vsock, in tests/test_kernel_migration.py."""
import os
import socket
import tempfile
import threading
import time

import pytest

import qemu
from vsockhost import (TRANSPORTS, Backend, Setup, connect, echo_stream, hybrid_connect,
                       pool_lines, wait_pool_baseline)

CASES = [t for t in TRANSPORTS if t[0] in ("q35-pci", "a64-mmio-v1")]
IDS = [t[0] for t in CASES]
CLOSE_TIMEOUT_S = 8   # BV_VSOCK_CLOSE_TIMEOUT_MS


def echo_ok(s, nbytes=1 << 20):
    sock = connect(s)
    sock.settimeout(60)
    _secs, sent, got, n = echo_stream(sock, nbytes)
    sock.close()
    assert n == nbytes and sent == got, f"echo after the fault: {n} of {nbytes} bytes\n{s.describe()}"


def start_echo(case, tmp=None):
    s = Setup(case, "echo", tmp)
    s.guest.wait_for("echo: listening on port 1234", timeout=60)
    return s


def reboot_and_echo(s, case):
    """A fresh QEMU with the echo image on s.backend; it must serve."""
    _cid, target, device, extra, _t = case
    s.guest = qemu.Guest(target, qemu.elf_path(qemu.arch_of(target), "echo"),
                         s.backend.qemu_args(device) + list(extra), shared_mem=True)
    s.guest.wait_for("echo: listening on port 1234", timeout=60)
    echo_ok(s)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_client_vanishes_mid_transfer(case):
    s = start_echo(case)
    try:
        before = len(pool_lines(s))
        # Several clients write megabytes without reading the echo back, then
        # vanish: the guest has data queued both ways when the peer goes.
        socks = [connect(s) for _ in range(4)]
        blob = os.urandom(1 << 20)
        for sock in socks:
            sock.setblocking(False)
            try:
                for _ in range(8):
                    sock.send(blob)
            except BlockingIOError:
                pass
        for sock in socks:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            sock.close()
        line = wait_pool_baseline(s, before, timeout=CLOSE_TIMEOUT_S + 30)
        assert "conns_in_use 2 (baseline 2)" in line, line
        closed = [l for l in s.guest.text.splitlines() if l.startswith("echo: conn ")]
        assert len(closed) >= 4, f"not every vanished client was closed\n{s.describe()}"
        echo_ok(s)
    finally:
        s.close()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_qemu_restarted_against_the_same_backend(case):
    s = start_echo(case)
    try:
        sock = connect(s)
        sock.settimeout(30)
        stop = threading.Event()

        def pump():   # traffic in flight when QEMU dies
            try:
                while not stop.is_set():
                    sock.sendall(b"x" * 65536)
                    sock.recv(65536)
            except OSError:
                pass
        t = threading.Thread(target=pump, daemon=True)
        t.start()
        time.sleep(0.5)
        s.guest.kill()
        stop.set()
        # The back end closes every bridged socket when its front end goes.
        sock.settimeout(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    break
            except socket.timeout:
                pytest.fail(f"client socket not closed after QEMU died\n{s.backend.stderr()[-2000:]}")
            except OSError:
                break
        sock.close()
        t.join(timeout=10)
        assert s.backend.proc.poll() is None, f"back end died with QEMU\n{s.backend.stderr()[-2000:]}"
        # A new QEMU on the same back end socket.
        reboot_and_echo(s, case)
    finally:
        s.close()


def test_backend_dies_client_and_guest_fail_cleanly_then_a_new_pair_works():
    case = CASES[0]
    tmp = tempfile.mkdtemp(prefix="bv-fault-")
    s = start_echo(case, tmp)
    try:
        sock = connect(s)
        sock.sendall(b"hello")
        assert sock.recv(5) == b"hello"
        s.backend.stop()
        sock.settimeout(10)
        assert sock.recv(100) == b"", "client not told that the back end is gone"
        sock.close()
        # QEMU 7.2 keeps running without its back end (the device is dead).
        time.sleep(0.5)
        assert s.guest.proc.poll() is None, f"QEMU exited when the back end died\n{s.guest.describe()}"
        s.guest.kill()
        # Restarting both on the same paths works.
        s.backend = Backend(tmp)
        reboot_and_echo(s, case)
    finally:
        s.close()


def test_qemu_reconnects_to_a_restarted_backend():
    """Only QEMU can reconnect a running guest to a new back end. Probe whether
    this QEMU's vhost-user-vsock accepts a reconnecting chardev; run the real
    check if it does, and say loudly why not if it does not."""
    case = CASES[0]
    _cid, target, device, extra, _t = case
    tmp = tempfile.mkdtemp(prefix="bv-recon-")
    b = Backend(tmp)
    args = ["-chardev", f"socket,id=bvvsock,path={b.vsock},reconnect=1",
            "-device", f"{device},chardev=bvvsock"]
    g = qemu.Guest(target, qemu.elf_path(qemu.arch_of(target), "echo"), args + list(extra), shared_mem=True)
    try:
        try:
            g.wait_for("echo: listening on port 1234", timeout=60)
        except AssertionError:
            if g.proc.poll() is not None and "vhost_backend_init failed" in g.text:
                pytest.skip("SKIPPED LOUDLY: QEMU 7.2's vhost-user-vsock cannot use a reconnecting "
                            "chardev (realize fails: " + g.text.strip().splitlines()[0][:120] +
                            "), so a restarted back end needs a restarted QEMU; "
                            "that path is tested in test_backend_dies_...")
            raise
        b.stop()
        b = Backend(tmp)
        s, info = hybrid_connect(b.uds, 1234, timeout=30, retry=True)
        assert s is not None, f"no echo after the back end came back: {info!r}\n{g.describe()}"
        s.sendall(b"again")
        assert s.recv(5) == b"again"
        s.close()
    finally:
        g.kill()
        b.stop()
