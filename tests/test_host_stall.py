# SPDX-License-Identifier: BSD-2-Clause
"""The back end's stall log (issue 16): a connection whose data waits on zero
credit for --stall-log-ms is logged once with its credit numbers, which must
agree with the packets on the wire (--pcap, read by tshark), and logged again
when credit returns. The stalls are made on purpose: a host program writes to
apps/echo and does not read the echo, so every buffer on the way fills up;
and apps/hold accepts on port 1238 and never reads. Not here: the guest's own
stall log (vsock/, the lead's)."""
import hashlib
import os
import re
import socket
import tempfile
import threading
import time

import pytest

import echosession
import qemu
import vsockpcap as vp
from vsockhost import TRANSPORTS, Setup, drain_hashed, hybrid_connect

STALL_MS = 400
STALL_RE = re.compile(
    r"stall: host port (?P<hp>\d+) -> guest port (?P<gp>\d+): (?P<waiting>\d+) bytes waiting on zero credit "
    r"for (?P<ms>\d+) ms \(peer buf_alloc (?P<buf_alloc>\d+), peer fwd_cnt (?P<fwd_cnt>\d+), our tx_cnt "
    r"(?P<tx_cnt>\d+): (?P<in_flight>\d+) in flight; CREDIT_REQUEST (?P<req>sent|not sent)\)")


def _wait_log(backend, pattern, count=1, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.findall(pattern, backend.stderr())
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {pattern!r} in the back end's log after {timeout} s:\n{backend.stderr()[-3000:]}")


def test_stalled_connection_is_logged_once_with_its_credit(tmp_path=None):
    vp.need_tshark()
    tmp = tempfile.mkdtemp(prefix="bv-stall-")
    pcap = os.path.join(tmp, "stall.pcap")
    s = Setup(TRANSPORTS[0], "echo", tmp, backend_args=[
        "--stall-log-ms", str(STALL_MS), "--tx-buffer-size", "4096", "--pcap", pcap,
        "--pcap-snaplen", "76"])   # headers are all this test reads
    try:
        s.guest.wait_for("echo: listening on port 1234", timeout=90)
        sock, host_port = hybrid_connect(s.backend.uds, echosession.ECHO_PORT, timeout=30, retry=True)
        assert sock is not None, s.describe()
        # Write without reading until nothing more goes in for a while: the
        # echo's way back is full, so the guest stops reading, so its credit
        # to us is gone, so our side holds data it cannot send.
        data = os.urandom(1 << 20)
        sent = hashlib.sha256()
        nsent = 0
        sock.setblocking(False)
        idle_since = None
        while True:
            try:
                n = sock.send(data[nsent % len(data):][:65536])
                sent.update(data[nsent % len(data):][:n])
                nsent += n
                idle_since = None
            except BlockingIOError:
                idle_since = idle_since or time.monotonic()
                if "stall:" in s.backend.stderr() or time.monotonic() - idle_since > 60:
                    break
                time.sleep(0.05)
        (line,) = [m for m in STALL_RE.finditer(s.backend.stderr())][:1] or [None]
        assert line, f"no stall line after {nsent} bytes written:\n{s.backend.stderr()[-3000:]}"
        f = {k: (v if k == "req" else int(v)) for k, v in line.groupdict().items()}
        assert (f["hp"], f["gp"]) == (host_port, echosession.ECHO_PORT), line.group(0)
        assert f["ms"] >= STALL_MS and f["waiting"] > 0, line.group(0)
        # zero credit: everything the guest allows is in flight
        assert f["in_flight"] == f["tx_cnt"] - f["fwd_cnt"] == f["buf_alloc"], line.group(0)
        # Stalled for many more periods: still one line.
        time.sleep(STALL_MS * 4 / 1000)
        assert len(STALL_RE.findall(s.backend.stderr())) == 1, s.backend.stderr()[-3000:]

        # Now read: everything moves again, and every byte comes back intact.
        sock.setblocking(True)
        sock.settimeout(60)
        sock.shutdown(socket.SHUT_WR)
        ngot, digest = drain_hashed(sock)
        sock.close()
        assert (ngot, digest) == (nsent, sent.hexdigest()), f"echoed {ngot} of {nsent} bytes"
        over = _wait_log(s.backend, r"stall over: host port %d <-> guest port 1234: credit again" % host_port)
        assert len(over) == 1
        assert s.backend.stop() == 0, s.describe()
    finally:
        s.close()

    # The numbers in the log are the wire's: at some point our RW bytes sum
    # to the logged tx_cnt while the guest's last header said the logged
    # buf_alloc and fwd_cnt.
    fr = vp.flow(vp.read(pcap), echosession.ECHO_PORT, host_port)
    tx = 0
    last_guest = None
    seen = False
    for fm in fr:
        if fm["src_cid"] == 2 and fm["op"] == vp.OP["RW"]:
            tx += fm["len"]
        elif fm["src_cid"] == 3:
            last_guest = (fm["buf_alloc"], fm["fwd_cnt"])
        if tx == f["tx_cnt"] and last_guest == (f["buf_alloc"], f["fwd_cnt"]):
            seen = True
    assert seen, f"no point in the capture matches the stall line {line.group(0)}"
    if f["req"] == "sent":
        req = [fm for fm in fr if fm["src_cid"] == 2 and fm["op"] == vp.OP["CREDIT_REQUEST"]]
        assert req, "the stall line says CREDIT_REQUEST sent; the capture shows none"
    print(line.group(0))


def test_guest_that_never_reads_is_logged_with_fwd_cnt_zero():
    """apps/hold on port 1238 accepts and never reads: the guest's buffer fills
    with exactly its buf_alloc, its fwd_cnt stays 0, and the line says so."""
    tmp = tempfile.mkdtemp(prefix="bv-stall-hold-")
    s = Setup(TRANSPORTS[0], "hold", tmp, backend_args=["--stall-log-ms", str(STALL_MS)])
    try:
        s.guest.wait_for("hold: ready", timeout=90)
        sock, host_port = hybrid_connect(s.backend.uds, 1238, timeout=30, retry=True)
        assert sock is not None, s.describe()
        # the guest's window, then 100000 bytes more that fit the Unix socket
        window = qemu.config("BV_VSOCK_BUF_ALLOC")
        sock.sendall(os.urandom(window + 100000))
        found = _wait_log(s.backend, STALL_RE.pattern)
        m = STALL_RE.search(s.backend.stderr())
        f = {k: (v if k == "req" else int(v)) for k, v in m.groupdict().items()}
        assert (f["hp"], f["gp"], f["fwd_cnt"]) == (host_port, 1238, 0), m.group(0)
        assert f["tx_cnt"] == f["in_flight"] == f["buf_alloc"] == window, m.group(0)
        assert f["waiting"] == 100000, m.group(0)
        assert len(found) == 1
        print(m.group(0))
        sock.close()
        assert s.backend.stop() == 0, s.describe()
    finally:
        s.close()
