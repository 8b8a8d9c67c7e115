"""Soak through host/ on x86_64 q35 (issue: robustness): a long hashed echo,
the connection pool filled to its configured maximum plus one more (refused
cleanly), and many connect/close cycles; afterwards the guest's pool is back
at its baseline. Shortened by default; BV_SOAK=full runs the issue's sizes
(1 GiB echoed each way, 10,000 cycles)."""
import os
import re

import pytest

import qemu
from vsockhost import (TRANSPORTS, Setup, connect, echo_stream, hybrid_connect, pool_lines,
                       wait_pool_baseline)

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


def baseline_of(line):
    m = re.search(r"conns_in_use (\d+) \(baseline (\d+)\)", line)
    assert m, line
    return int(m.group(1)), int(m.group(2))


def test_long_hashed_echo(echo):
    sock = connect(echo)
    sock.settimeout(300)
    secs, sent, got, n = echo_stream(sock, ECHO_BYTES)
    sock.close()
    assert n == ECHO_BYTES and sent == got, f"{n} of {ECHO_BYTES} bytes, hash ok {sent == got}"
    print(f"soak echo: {ECHO_BYTES >> 20} MiB each way in {secs:.1f} s ({ECHO_BYTES / secs / 2**20:.1f} MiB/s)")


def test_pool_full_then_one_more_is_refused(echo):
    listeners = 2   # echo listens on 1234 (stream) and 1235 (seqpacket)
    room = max_conns() - listeners
    socks = []
    try:
        for i in range(room):
            s = connect(echo)
            s.settimeout(30)
            s.sendall(b"%d" % i)
            assert s.recv(16) == b"%d" % i
            socks.append(s)
        extra, reply = hybrid_connect(echo.backend.uds, 1234, timeout=30)
        assert extra is None, f"connection {room + 1} beyond the pool was accepted"
        # Count idle lines only now: none can be printed while these are open,
        # so the next one is about them (an earlier test's may arrive late).
        before = len(pool_lines(echo))
    finally:
        for s in socks:
            s.close()
    line = wait_pool_baseline(echo, before, timeout=30)
    in_use, base = baseline_of(line)
    assert in_use == base == listeners, line
    assert re.search(r"peak (\d+)", line).group(1) == str(max_conns()), line
    assert int(re.search(r"refused (\d+)", line).group(1)) >= 1, line


def test_connect_close_cycles_return_the_pool_to_baseline(echo):
    for i in range(CYCLES):
        s = connect(echo)
        s.settimeout(30)
        s.sendall(b"c")
        assert s.recv(1) == b"c", f"cycle {i}"
        before = len(pool_lines(echo))   # the pool is busy: no idle line now
        s.close()
    line = wait_pool_baseline(echo, before, timeout=30)
    in_use, base = baseline_of(line)
    assert in_use == base, line
    print(f"soak: {CYCLES} cycles, then {line}")
