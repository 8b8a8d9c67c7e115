# SPDX-License-Identifier: BSD-2-Clause
"""Packet captures (issue 16, "See the wire"), read back with Debian's tshark:
the writer's known sample (host/pcap.c, no QEMU), and bv-vhost-vsock --pcap
recording a known echo exchange with apps/echo through host/. Not here: the
kernel's vsockmon comparison (test_kernel_vsockmon.py)."""
import os
import subprocess
import tempfile

import pytest

import echosession
import qemu
import vsockpcap as vp

PCAP_UNIT = os.path.join(qemu.BUILD, "host", "test_host_pcap")
HELLO = echosession.HELLO


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="bvpcap-")
    yield d
    subprocess.run(["rm", "-rf", d], check=False)


def test_writer_sample_decodes_in_tshark(tmp):
    """The writer's sample (one connection's life, made-up timestamps) is a
    pcap of link type vsock that Wireshark's dissector reads field for field."""
    vp.need_tshark()
    if not os.path.exists(PCAP_UNIT):
        pytest.fail(f"{PCAP_UNIT} was not built (run 'make host')")
    path = os.path.join(tmp, "sample.pcap")
    subprocess.run([PCAP_UNIT, "--write", path], check=True, timeout=30)
    assert vp.linktype(path) == "vsock"
    fr = vp.read(path)
    want = [  # (src cid, op, len, flags, buf_alloc, fwd_cnt, payload)
        (2, "REQUEST", 0, 0, 262144, 0, b""),
        (3, "RESPONSE", 0, 0, 16384, 0, b""),
        (2, "RW", len(HELLO), 0, 262144, 0, HELLO),
        (3, "RW", len(HELLO), 0, 16384, len(HELLO), HELLO),
        (3, "CREDIT_UPDATE", 0, 0, 16384, len(HELLO), b""),
        (2, "CREDIT_REQUEST", 0, 0, 262144, len(HELLO), b""),
        (2, "SHUTDOWN", 0, 3, 262144, len(HELLO), b""),
        (3, "RST", 0, 0, 16384, len(HELLO), b""),
    ]
    assert len(fr) == len(want), vp.describe(fr)
    for i, (f, w) in enumerate(zip(fr, want)):
        src, op, ln, flags, ba, fc, pay = w
        got = (f["src_cid"], vp.OPS[f["op"]], f["len"], f["flags"], f["buf_alloc"], f["fwd_cnt"], f["payload"])
        assert got == w, f"frame {i + 1}: {got} != {w}"
        assert f["dst_cid"] == (3 if src == 2 else 2)
        assert (f["mon_src_cid"], f["mon_dst_cid"]) == (f["src_cid"], f["dst_cid"])
        assert (f["mon_src_port"], f["mon_dst_port"]) == (f["src_port"], f["dst_port"])
        assert f["mon_op"] == vp.MON_OP_OF[f["op"]]
        assert (f["mon_transport"], f["mon_len"], f["mon_reserved"]) == (2, 44, b"\0\0")
        assert f["frame_len"] == f["cap_len"] == 76 + ln
        assert abs(f["time"] - (1700000000 + i / 1000)) < 1e-6
    assert {f["src_port"] for f in fr} == {1234, 1 << 30}


# ------------------------------------------------- bv-vhost-vsock --pcap ---

def guest_buf_alloc():
    """The buf_alloc the guest advertises."""
    return qemu.config("BV_VSOCK_BUF_ALLOC")


HOST_BUF = 65536   # --tx-buffer-size, so the host's buf_alloc is ours, not a default


def check_echo_exchange(frames, host_port, snaplen=None):
    """The known exchange, packet by packet: REQUEST, RESPONSE, RW both ways
    (the echo), SHUTDOWN(RCV|SEND) when the host program closes, the guest's
    RST. Returns the frames of the connection."""
    fl = vp.flow(frames, echosession.ECHO_PORT, host_port)
    g_ba = guest_buf_alloc()
    n = len(echosession.HELLO)
    # When a receiver volunteers a CREDIT_UPDATE is its policy (Linux: whenever
    # its queue empties); if the guest sends one, it must announce exactly what
    # the echo server has read by then: all n bytes (it reads before it echoes).
    updates = [f for f in fl if f["src_cid"] == 3 and f["op"] == vp.OP["CREDIT_UPDATE"]]
    for f in updates:
        assert (f["buf_alloc"], f["fwd_cnt"], f["len"]) == (g_ba, n, 0), vp.describe([f])
    whole = fl
    fl = [f for f in fl if f not in updates]
    # (from host?, op, flags, len, buf_alloc, fwd_cnt, payload)
    want = [
        (True, "REQUEST", 0, 0, HOST_BUF, 0, b""),
        (False, "RESPONSE", 0, 0, g_ba, 0, b""),
        (True, "RW", 0, n, HOST_BUF, 0, echosession.HELLO),
        (False, "RW", 0, n, g_ba, n, echosession.HELLO),   # the guest read our 13 bytes before echoing
        (True, "SHUTDOWN", 3, 0, HOST_BUF, n, b""),         # we wrote its 13 bytes to the Unix socket
        (False, "RST", 0, 0, g_ba, n, b""),
    ]
    got = [(f["src_cid"] == 2, vp.OPS.get(f["op"], f["op"]), f["flags"], f["len"], f["buf_alloc"],
            f["fwd_cnt"], f["payload"]) for f in fl]
    if snaplen:
        # tshark shows no payload field for a frame the snap length cut
        want = [w[:6] + (w[6] if 76 + len(w[6]) <= snaplen else b"",) for w in want]
    assert got == want, "capture differs from the known exchange:\n" + vp.describe(fl)
    for f in whole:
        host = f["src_cid"] == 2
        assert (f["src_cid"], f["dst_cid"]) == ((2, 3) if host else (3, 2))
        assert (f["src_port"], f["dst_port"]) == ((host_port, 1234) if host else (1234, host_port))
        assert (f["mon_src_cid"], f["mon_dst_cid"], f["mon_src_port"], f["mon_dst_port"]) == \
            (f["src_cid"], f["dst_cid"], f["src_port"], f["dst_port"])
        assert f["mon_op"] == vp.MON_OP_OF[f["op"]], vp.describe([f])
        assert (f["mon_transport"], f["mon_len"], f["mon_reserved"]) == (2, 44, b"\0\0")
        assert f["type"] == 1
        assert f["frame_len"] == 76 + f["len"]
        assert f["cap_len"] == (min(f["frame_len"], snaplen) if snaplen else f["frame_len"])
    times = [f["time"] for f in whole]
    assert times == sorted(times), f"timestamps go backwards: {times}"
    return whole


@pytest.mark.parametrize("sig,snaplen", [("SIGTERM", None), ("SIGINT", 80)])
def test_echo_exchange_is_captured(tmp, sig, snaplen):
    """Every packet of the echo exchange, both directions, decoded by tshark;
    the file is complete after the back end exits on SIGTERM or SIGINT; the
    snap length cuts frames (here inside the payload) but keeps orig_len."""
    vp.need_tshark()
    import signal
    import time
    pcap = os.path.join(tmp, "echo.pcap")
    args = ["--tx-buffer-size", str(HOST_BUF)]
    if snaplen:
        args += ["--pcap-snaplen", str(snaplen)]
    t0 = time.time()
    s = echosession.Session(pcap, backend_args=args, tmp=tmp)
    try:
        got, host_port = s.run_exchange()
        assert got == echosession.HELLO
        assert s.stop_backend(getattr(signal, sig)) == 0, s.describe()
    finally:
        s.close()
    fr = vp.read(pcap)
    fl = check_echo_exchange(fr, host_port, snaplen)
    import re
    m = re.findall(r"guest tx (\d+) pkts .*?guest rx (\d+) pkts", s.backend.stderr())
    assert m and len(fr) == int(m[-1][0]) + int(m[-1][1]), f"{len(fr)} frames; back end: {m}"
    assert t0 - 1 <= fl[0]["time"] <= fl[-1]["time"] <= time.time() + 1, "timestamps are not the host clock"
    assert vp.linktype(pcap) == "vsock"
    print(vp.summary(pcap))


def backend_packets(backend):
    """Packets the back end took from the TX ring plus those it put on the RX
    ring, from its counters (SIGUSR1)."""
    import re
    import signal
    import time
    n = backend.stderr().count("stats:")
    backend.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while backend.stderr().count("stats:") == n and time.monotonic() < deadline:
        time.sleep(0.05)
    m = re.findall(r"guest tx (\d+) pkts .*?guest rx (\d+) pkts", backend.stderr())
    assert m, backend.stderr()
    return int(m[-1][0]) + int(m[-1][1])


def _wait_frames(pcap, n, timeout=30):
    """Poll the capture (while the back end runs) until tshark reads n frames
    from it; returns the frames. Every read must find a valid file."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        fr = vp.read(pcap)          # raises if the file is ever not valid
        if len(fr) >= n or time.monotonic() > deadline:
            return fr
        time.sleep(0.1)


def test_capture_survives_killed_qemu_and_sigkilled_backend(tmp):
    """QEMU killed with a connection open and data in flight: the back end goes
    on, and every packet it handled reaches the file on the flush timer alone
    (no exit, no more traffic), always as a valid file; then the back end is
    SIGKILLed: the file is neither cut nor shortened."""
    vp.need_tshark()
    import signal
    import time
    from vsockhost import hybrid_connect
    pcap = os.path.join(tmp, "kill.pcap")
    s = echosession.Session(pcap, backend_args=["--tx-buffer-size", str(HOST_BUF)], tmp=tmp)
    try:
        got, host_port = s.run_exchange()
        assert got == echosession.HELLO
        sock, port2 = hybrid_connect(s.backend.uds, echosession.ECHO_PORT, timeout=30)
        assert sock is not None
        sock.sendall(b"x" * 1000)
        sock.settimeout(30)
        assert sock.recv(1)       # the echo has started: packets in both directions
        s.guest.kill()
        t_kill = time.monotonic()
        while sock.recv(65536):   # the back end closes the Unix side when QEMU goes
            pass
        sock.close()
        assert s.backend.proc.poll() is None, s.describe()
        n = backend_packets(s.backend)
        fr = _wait_frames(pcap, n)
        t_disk = time.monotonic() - t_kill
        assert len(fr) == n, f"{len(fr)} frames on disk, the back end handled {n} packets"
        check_echo_exchange(fr, host_port)
        second = vp.flow(fr, echosession.ECHO_PORT, port2)
        assert [vp.OPS[f["op"]] for f in second[:3]] == ["REQUEST", "RESPONSE", "RW"], vp.describe(second)
        assert b"".join(f["payload"] for f in second if f["src_cid"] == 2) == b"x" * 1000
        size_before = os.path.getsize(pcap)
        s.backend.proc.send_signal(signal.SIGKILL)
        s.backend.proc.wait(timeout=10)
        print(f"{n} packets, all on disk {t_disk:.2f} s after QEMU was killed (flush timer only)")
    finally:
        s.close()
    assert os.path.getsize(pcap) == size_before, "SIGKILL changed the file"
    assert len(vp.read(pcap)) == n


def test_comparison_rules_catch_what_they_must(tmp):
    """compare_flows (used against the kernel's vsockmon) on the writer's
    sample: identical captures agree; what a host chooses (its port,
    buf_alloc, fwd_cnt, extra credit packets) may differ; anything the guest
    emitted, any host data or close packet, and any monitor header may not."""
    vp.need_tshark()
    path = os.path.join(tmp, "sample.pcap")
    subprocess.run([PCAP_UNIT, "--write", path], check=True, timeout=30)
    base = vp.read(path)
    assert vp.compare_flows(base, base) == []

    def changed(i, **kw):
        fr = [dict(f) for f in base]
        fr[i].update(kw)
        return fr

    host_rw = next(i for i, f in enumerate(base) if f["src_cid"] == 2 and f["op"] == vp.OP["RW"])
    guest_rw = next(i for i, f in enumerate(base) if f["src_cid"] == 3 and f["op"] == vp.OP["RW"])
    allowed = [
        [dict(f, src_port=7, mon_src_port=7) if f["src_cid"] == 2 else
         dict(f, dst_port=7, mon_dst_port=7) for f in base],
        changed(host_rw, buf_alloc=4096),
        changed(next(i for i, f in enumerate(base) if f["op"] == vp.OP["SHUTDOWN"]), fwd_cnt=5),
        [f for f in base if not (f["src_cid"] == 2 and f["op"] == vp.OP["CREDIT_REQUEST"])],
    ]
    for fr in allowed:
        assert vp.compare_flows(fr, base) == [], vp.compare_flows(fr, base)
    refused = [
        changed(guest_rw, fwd_cnt=12),
        changed(guest_rw, buf_alloc=4096),
        changed(guest_rw, payload=b"hello, vsocK\n"),
        changed(host_rw, payload=b"x" * 13),
        changed(host_rw, fwd_cnt=99),                    # more than the guest ever sent
        changed(1, mon_op=3),
        changed(1, mon_len=40),
        changed(1, op=vp.OP["RST"], mon_op=2),
        [f for f in base if f["op"] != vp.OP["SHUTDOWN"]],
    ]
    for i, fr in enumerate(refused):
        assert vp.compare_flows(fr, base), f"case {i}: a difference went unnoticed"


@pytest.mark.parametrize("args,rc,needle", [
    (["--pcap-snaplen", "75"], 2, "not a number in 76..262144"),
    (["--pcap", ""], 2, "--pcap needs a file name"),
    (["--stall-log-ms", "-1"], 2, "not a number in 0..3600000"),
    (["--pcap", "/nonexistent-dir/x.pcap"], 1, "--pcap: cannot create /nonexistent-dir/x.pcap"),
])
def test_capture_arguments_are_explained(tmp, args, rc, needle):
    from vsockhost import BACKEND
    if not os.path.exists(BACKEND):
        pytest.fail(f"{BACKEND} was not built (run 'make host')")
    r = subprocess.run([BACKEND, "--socket", f"{tmp}/v", "--uds-path", f"{tmp}/u", *args],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == rc and needle in r.stderr, r.stderr
    assert not os.path.exists(f"{tmp}/v") and not os.path.exists(f"{tmp}/u")
