# SPDX-License-Identifier: BSD-2-Clause
"""Soak through host/ on x86_64 q35 (issue: robustness): a long hashed echo,
the connection pool filled to its configured maximum plus one more (refused
cleanly), and many connect/close cycles; afterwards the guest's pool is back
at its baseline. Shortened by default; BV_SOAK=full runs the issue's sizes
(1 GiB echoed each way, 10,000 cycles)."""
import os
import re
import time

import pytest

import qemu
from vsockhost import (TRANSPORTS, Setup, assert_pools_at_baseline, backend_healthy, connect, echo_listeners,
                       echo_stream, hybrid_connect, pool_fields, pool_lines, wait_pool_baseline)

FULL = os.environ.get("BV_SOAK") == "full"
ECHO_BYTES = (1 << 30) if FULL else (64 << 20)
CYCLES = 10000 if FULL else 2000


def max_conns():
    with open(os.path.join(qemu.ROOT, "include", "bv", "config.h")) as f:
        return int(re.search(r"#define BV_VSOCK_MAX_CONNS (\d+)", f.read()).group(1))


@pytest.fixture(scope="module")
def echo():
    s = Setup(TRANSPORTS[0], "echo")
    try:
        s.guest.wait_for("echo: listening on port 1234", timeout=60)
        yield s
    finally:
        s.close()


def last_refused(s):
    lines = pool_lines(s)
    return pool_fields(lines[-1])["refused"] if lines else 0


def test_long_hashed_echo(echo):
    """ECHO_BYTES host->guest and the same back guest->host, both hashed."""
    before = None
    sock = connect(echo)
    sock.settimeout(300)
    before = len(pool_lines(echo))
    secs, sent, got, n = echo_stream(sock, ECHO_BYTES)
    sock.close()
    assert n == ECHO_BYTES and sent == got, f"{n} of {ECHO_BYTES} bytes, hash ok {sent == got}"
    line = wait_pool_baseline(echo, before)
    assert_pools_at_baseline(line)
    backend_healthy(echo.backend)
    print(f"soak echo: {ECHO_BYTES >> 20} MiB each way in {secs:.1f} s "
          f"({ECHO_BYTES / secs / 2**20:.1f} MiB/s each way), sha256 {sent[:16]}... both ways")


def test_pool_full_then_one_more_is_refused(echo):
    listeners = echo_listeners(echo)   # 1234 (stream), 1235 (seqpacket), 1290 (diagnostics)
    room = max_conns() - listeners
    refused0 = last_refused(echo)
    socks = []
    try:
        for i in range(room):
            s = connect(echo)
            s.settimeout(30)
            socks.append(s)
        # All of them live at once: each echoes while the others are held.
        for i, s in enumerate(socks):
            s.sendall(b"%d." % i)
        for i, s in enumerate(socks):
            want, got = b"%d." % i, b""
            while len(got) < len(want):
                d = s.recv(16)
                assert d, f"held connection {i} ended"
                got += d
            assert got == want, (i, got)
        # One more: the guest's pool is full, it answers RST, the back end
        # closes the socket without OK (and well before its connect timeout).
        t0 = time.monotonic()
        extra, reply = hybrid_connect(echo.backend.uds, 1234, timeout=30)
        refused_in = time.monotonic() - t0
        assert extra is None, f"connection {room + 1} beyond the pool was accepted\n{echo.describe()}"
        assert reply == b"", f"refusal was not a close without OK: {reply!r}"
        assert refused_in < 2, f"refusal took {refused_in:.1f} s (a timeout, not the guest's RST)"
        # The held ones still work after the refusal.
        for i, s in enumerate(socks[:4] + socks[-4:]):
            s.sendall(b"again")
            got = b""
            while len(got) < 5:
                got += s.recv(5 - len(got))
            assert got == b"again"
        # Count idle lines only now: none can be printed while these are open,
        # so the next one is about them (an earlier test's may arrive late).
        before = len(pool_lines(echo))
    finally:
        for s in socks:
            s.close()
    line = wait_pool_baseline(echo, before, timeout=30)
    f = assert_pools_at_baseline(line)
    assert f["in_use"] == listeners, line
    assert f["peak"] == max_conns(), line
    assert f["refused"] == refused0 + 1, f"refused counter {refused0} -> {f['refused']}: {line}"
    # and the pool takes a new connection again
    s = connect(echo)
    s.sendall(b"ok")
    assert s.recv(2) == b"ok"
    s.close()
    backend_healthy(echo.backend)
    print(f"soak pool: {room} held + {listeners} listeners = {max_conns()}; one more refused "
          f"in {refused_in * 1000:.0f} ms; {line}")


def test_connect_close_cycles_return_the_pool_to_baseline(echo):
    t0 = time.monotonic()
    marks = []
    for i in range(CYCLES):
        s = connect(echo)
        s.settimeout(30)
        s.sendall(b"c")
        assert s.recv(1) == b"c", f"cycle {i}"
        if i == CYCLES - 1:
            before = len(pool_lines(echo))   # the pool is busy: no idle line now
        s.close()
        if i % 1000 == 999:
            marks.append(time.monotonic() - t0)
    secs = time.monotonic() - t0
    per_k = [round(b - a, 2) for a, b in zip([0] + marks, marks)]
    line = wait_pool_baseline(echo, before, timeout=30)
    assert_pools_at_baseline(line)
    backend_healthy(echo.backend)
    print(f"soak: {CYCLES} connect/echo/close cycles in {secs:.1f} s (s per 1000: {per_k}), then {line}")
