# SPDX-License-Identifier: BSD-2-Clause
"""The raw-packet host (bv-vhost-vsock --raw, tests/rawhost.py) against the
barevsock conformance guest (apps/hold) on x86_64 q35: what the suite relies
on works and reports truthfully. A handshake and an echo packet by packet,
a batch of used entries, used lengths beyond the buffer and below a header,
holding the TX ring, a CID change with TRANSPORT_RESET through the event
queue QEMU owns, and the per-scenario capture read back by tshark. Also the
command-line checks of --raw. The conformance catalogue is in
tests/test_conformance.py."""
import os
import shutil
import subprocess
import tempfile

import pytest

import qemu
import rawhost as R
import vsockpcap
from qmp import QMP
from vsockhost import BACKEND


@pytest.fixture(scope="module")
def env():
    if not os.path.exists(BACKEND):
        pytest.skip(f"{BACKEND} not built (make host)")
    tmp = tempfile.mkdtemp(prefix="bv-rawhost-")
    rh = R.RawHost(tmp)
    qmp_path = os.path.join(tmp, "qmp.sock")
    g = qemu.Guest("x86_64-q35", qemu.elf_path("x86_64", "hold"),
                   rh.qemu_args("vhost-user-vsock-pci") + ["-qmp", f"unix:{qmp_path},server=on,wait=off"],
                   shared_mem=True, log_path=os.path.join(qemu.BUILD, "test-logs", "rawhost-q35.log"))
    try:
        g.wait_for("hold: ready", timeout=60)
        info = rh.wait_up()
        yield rh, g, qmp_path, info, tmp
    finally:
        g.kill()
        rc = rh.stop()
        log = rh.stderr()
        assert rc == 0, log
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert bad not in log, log
        shutil.rmtree(tmp, ignore_errors=True)


def test_raw_needs_no_uds_and_refuses_both(tmp_path):
    if not os.path.exists(BACKEND):
        pytest.skip(f"{BACKEND} not built (make host)")
    r = subprocess.run([BACKEND, "--socket", f"{tmp_path}/v", "--uds-path", f"{tmp_path}/u",
                        "--raw", f"{tmp_path}/r"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "exclude each other" in r.stderr, r.stderr


def test_handshake_echo_and_what_put_reports(env):
    rh, g, _, info, _ = env
    cap = info["next_capacity"]
    assert cap == 44 + qemu.config("BV_VSOCK_RX_BUF_SIZE"), info   # what barevsock posts
    m = rh.mark()
    t, rep = rh.put([R.hdr(op=R.OP_REQUEST, src_port=41000, dst_port=1234)])
    assert rep == [(cap, 44, 44)]
    resp = rh.expect(lambda p: p.op == R.OP_RESPONSE, since=m)
    assert (resp.src_cid, resp.dst_cid, resp.src_port, resp.dst_port) == (3, 2, 1234, 41000)
    assert resp.t >= t                      # the guest answered after we published
    m = rh.mark()
    rh.put([R.hdr(op=R.OP_RW, src_port=41000, dst_port=1234, payload=b"raw hello")])
    rw = rh.expect(lambda p: p.op == R.OP_RW, since=m)
    assert rw.payload == b"raw hello" and rw.len == 9
    m = rh.mark()
    rh.put([R.hdr(op=R.OP_RST, src_port=41000, dst_port=1234)])
    assert [p for p in rh.settle(0.5, since=m) if p.dst_port == 41000] == []   # an RST is never answered


def test_batch_and_hostile_used_lengths(env):
    rh, g, _, info, _ = env
    cap = info["next_capacity"]
    # Three REQUESTs to a port nobody listens on, published with one used->idx store.
    m = rh.mark()
    t, rep = rh.put([R.hdr(op=R.OP_REQUEST, src_port=41100 + i, dst_port=4999) for i in range(3)], batch=True)
    assert [r[1] for r in rep] == [44, 44, 44]
    for i in range(3):
        rh.expect(lambda p, i=i: p.op == R.OP_RST and p.dst_port == 41100 + i, since=m)
    # A used length beyond the buffer is written to the ring as asked; the
    # bytes written stop at the buffer's end.
    big = R.hdr(op=R.OP_RW, src_port=41200, dst_port=4999, payload=b"x" * (cap + 100))
    t, rep = rh.put([R.Entry(big, used=cap + 500), R.Entry(R.hdr(op=R.OP_REQUEST, src_port=41201,
                                                                  dst_port=4999), used=10)])
    assert rep == [(cap, cap, cap + 500), (cap, 44, 10)]
    # the guest keeps working after both
    m = rh.mark()
    rh.put([R.hdr(op=R.OP_REQUEST, src_port=41202, dst_port=4999)])
    rh.expect(lambda p: p.op == R.OP_RST and p.dst_port == 41202, since=m)


def test_tx_hold_delays_what_the_guest_sends(env):
    rh, g, _, _, _ = env
    rh.tx_hold(True)
    try:
        m = rh.mark()
        rh.put([R.hdr(op=R.OP_REQUEST, src_port=41300, dst_port=4999)])
        assert rh.settle(0.5, since=m) == []
    finally:
        rh.tx_hold(False)
    rh.expect(lambda p: p.op == R.OP_RST and p.dst_port == 41300, since=m, timeout=5)


def test_cid_change_and_transport_reset_reach_the_guest(env):
    rh, g, qmp_path, _, _ = env
    mon = QMP(qmp_path)
    try:
        st = rh.evq_from_qmp(mon)
        assert st["vring-num"] >= 1
    finally:
        mon.close()
    rh.set_cid(9)
    assert rh.rxinfo()["cid"] == 9
    rh.transport_reset()
    g.wait_for("hold: cid now 9", timeout=10)
    m = rh.mark()
    rh.put([R.hdr(op=R.OP_REQUEST, dst_cid=9, src_port=41400, dst_port=1234)])
    resp = rh.expect(lambda p: p.dst_port == 41400, since=m)
    assert resp.op == R.OP_RESPONSE and resp.src_cid == 9
    rh.put([R.hdr(op=R.OP_RST, dst_cid=9, src_port=41400, dst_port=1234)])


def test_capture_holds_both_directions(env):
    rh, g, _, _, tmp = env
    vsockpcap.need_tshark()
    path = os.path.join(tmp, "one.pcap")
    rh.capture(path)
    m = rh.mark()
    cid = rh.cid
    rh.put([R.hdr(op=R.OP_REQUEST, dst_cid=cid, src_port=41500, dst_port=4999)])
    rh.expect(lambda p: p.op == R.OP_RST and p.dst_port == 41500, since=m)
    rh.capture(None)
    frames = vsockpcap.read(path)
    got = [(f["src_port"], f["dst_port"], f["op"]) for f in frames]
    assert got == [(41500, 4999, R.OP_REQUEST), (4999, 41500, R.OP_RST)], vsockpcap.describe(frames)
