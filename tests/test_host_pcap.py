# SPDX-License-Identifier: BSD-2-Clause
"""Packet captures (issue 16, "See the wire"), read back with Debian's tshark:
the writer's known sample (host/pcap.c, no QEMU), and bv-vhost-vsock --pcap
recording a known echo exchange with apps/echo through host/. Not here: the
kernel's vsockmon comparison (test_kernel_vsockmon.py)."""
import os
import subprocess
import tempfile

import pytest

import qemu
import vsockpcap as vp

PCAP_UNIT = os.path.join(qemu.BUILD, "host", "test_host_pcap")
HELLO = b"hello, vsock\n"


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
