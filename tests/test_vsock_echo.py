# SPDX-License-Identifier: BSD-2-Clause
"""vsock end to end through our own host side (host/ bv-vhost-vsock with
QEMU's stock vhost-user-vsock-pci / -device) on every transport: apps/echo
as server, apps/client as the connecting side (issue: vsock protocol engine,
socket API and echo server). One QEMU boot per transport serves every echo
case; the Linux kernel's vhost_vsock is covered in test_kernel_lane.py."""
import os
import socket
import tempfile
import threading

import pytest

import qemu
from vsockhost import (BIG, CYCLES, IDS, TRANSPORTS, Setup, connect, echo_listeners, echo_stream,
                       hybrid_connect, pool_lines, wait_pool_baseline)

DEAD_PORT = 4321
# Every transport with the default sizes, and two with the small profile
# (examples/embed/fw_bv_config.h: 4 connections, 16 KiB windows, 4 KiB packets).
SMALL = [c for c in TRANSPORTS if c[0] in ("q35-pci", "a32-mmio-v2")]
ECHO_CASES = [(c, "") for c in TRANSPORTS] + [(c, "small") for c in SMALL]
ECHO_IDS = IDS + [c[0] + "-small" for c in SMALL]


@pytest.fixture(scope="module", params=ECHO_CASES, ids=ECHO_IDS)
def echo(request):
    case, profile = request.param
    s = Setup(case, "echo", profile=profile)
    s.profile = profile
    try:
        s.guest.wait_for("echo: listening on port 1234", timeout=60)
        assert s.transport in s.guest.text, s.describe()
        yield s
    finally:
        s.close()


def test_echo_64mib_with_hash(echo):
    sock = connect(echo)
    sock.settimeout(120)
    secs, sent, got, n = echo_stream(sock, BIG)
    sock.close()
    assert n == BIG and got == sent, f"echoed {n} of {BIG} bytes, hash match {got == sent}\n{echo.describe()}"
    print(f"{echo.case}: 64 MiB echo in {secs:.2f} s = {BIG / secs / 2**20:.1f} MiB/s")


def test_32_concurrent_connections(echo):
    # as many as the pool holds beside the echo's listeners (32 at most)
    n = min(32, qemu.config("BV_VSOCK_MAX_CONNS", echo.profile) - echo_listeners(echo))
    results = [None] * n

    def one(i):
        try:
            sock = connect(echo)
            sock.settimeout(120)
            results[i] = echo_stream(sock, 512 * 1024 + i * 997, chunk=8192)
            sock.close()
        except Exception as e:  # reported below with the console
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for i, r in enumerate(results):
        assert not isinstance(r, Exception) and r is not None, f"conn {i}: {r!r}\n{echo.describe()}"
        _secs, sent, got, n = r
        assert n == 512 * 1024 + i * 997 and sent == got, f"conn {i}: {n} bytes\n{echo.describe()}"


def test_half_close_gets_everything_then_eof(echo):
    sock = connect(echo)
    sock.settimeout(60)
    msg = os.urandom(300000)
    sock.sendall(msg)
    sock.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = sock.recv(65536)
        if not d:
            break
        got += d
    sock.close()
    assert got == msg, f"got {len(got)} of {len(msg)} bytes before EOF\n{echo.describe()}"


def test_port_nobody_listens_on_is_reset(echo):
    sock, info = hybrid_connect(echo.backend.uds, DEAD_PORT, timeout=10)
    assert sock is None, f"CONNECT {DEAD_PORT} was accepted: {info!r}"
    # and the server is still there
    s2 = connect(echo)
    s2.sendall(b"still here")
    assert s2.recv(100) == b"still here"
    s2.close()


def test_1000_connect_close_cycles_leak_nothing(echo):
    for i in range(CYCLES):
        sock = connect(echo)
        sock.settimeout(30)
        sock.sendall(b"%d" % i)
        want = b"%d" % i
        got = b""
        while len(got) < len(want):
            d = sock.recv(64)
            assert d, f"cycle {i}: EOF\n{echo.describe()}"
            got += d
        assert got == want
        before = len(pool_lines(echo))   # busy now: the next idle line is ours
        sock.close()
    line = wait_pool_baseline(echo, before)
    # "echo: idle, conns_in_use N (baseline B), ..."
    words = line.replace(",", "").replace("(", "").replace(")", "").split()
    in_use, baseline = int(words[3]), int(words[5])
    assert in_use == baseline, line
    summaries = [l for l in echo.guest.text.splitlines() if l.startswith("echo: conn ")]
    assert len(summaries) >= CYCLES, f"{len(summaries)} per-connection lines for {CYCLES} cycles"


@pytest.mark.parametrize("case", TRANSPORTS, ids=IDS)
def test_guest_connects_to_host_listeners(case):
    """apps/client: stream echo with a host half-close, seqpacket boundaries
    both ways, and a refused connect to a port nobody listens on."""
    s = None
    tmp = tempfile.mkdtemp(prefix="bv-client-")
    uds = os.path.join(tmp, "u.sock")   # Backend(tmp) uses the same name
    stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stream.bind(uds + "_5000")
    stream.listen(1)
    seq = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    seq.bind(uds + "_5001")
    seq.listen(1)
    result = {}

    def serve_stream():
        c, _ = stream.accept()
        c.settimeout(60)
        hello = b""
        while not hello.endswith(b"\n"):
            hello += c.recv(1)
        data = os.urandom(1 << 20)
        got = bytearray()

        def rd():
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got.extend(d)
        t = threading.Thread(target=rd)
        t.start()
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        t.join(timeout=120)
        result["stream"] = (hello, bytes(got) == data, len(got))
        c.close()

    def serve_seq():
        c, _ = seq.accept()
        c.settimeout(60)
        hello = c.recv(100)
        msgs = [os.urandom(n) for n in (1, 7, 100, 4096, 5000, 12000, 3)]
        back = []
        for m in msgs:
            c.send(m)
            back.append(c.recv(65536))
        c.shutdown(socket.SHUT_WR)
        result["seq"] = (hello, back == msgs, [len(b) for b in back])
        c.close()

    threads = [threading.Thread(target=serve_stream, daemon=True),
               threading.Thread(target=serve_seq, daemon=True)]
    for t in threads:
        t.start()
    try:
        s = Setup(case, "client", tmp)
        assert s.backend.uds == uds
        s.guest.wait(timeout=120)
        for t in threads:
            t.join(timeout=60)
        qemu.expect_exit(s.guest, qemu.EXIT_OK)
        assert "client: ok" in s.guest.text, s.describe()
        hello, ok, n = result["stream"]
        assert hello.startswith(b"hello from cid 3") and ok, f"stream: {hello!r} {n}\n{s.describe()}"
        hello, ok, lens = result["seq"]
        assert hello.startswith(b"hello from cid 3") and ok, f"seqpacket: {hello!r} {lens}\n{s.describe()}"
    finally:
        if s:
            s.close()
        stream.close()
        seq.close()
