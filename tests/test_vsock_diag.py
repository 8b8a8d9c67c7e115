# SPDX-License-Identifier: BSD-2-Clause
"""The guest explains itself (issue 16, guest half), end to end through
host/: apps/echo's diagnostics port (1290) returns the connection table as
text, and its numbers for a connection are the ones on the wire (host/
--pcap, read by tshark); the guest's stall log fires once per stall, both
ways, with the numbers host/'s own stall line and the wire show. The
formatter and vsock_conn_info field by field: tests/unit/test_vsock_diag.c."""
import hashlib
import os
import re
import socket
import tempfile
import time

import pytest

import qemu
import vsockpcap as vp
from test_host_stall import STALL_RE as HOST_STALL_RE
from vsockhost import TRANSPORTS, Setup, drain_hashed, echo_stream, hybrid_connect, pool_lines, wait_pool_baseline

ECHO_PORT = 1234
DIAG_PORT = 1290
CASE = {t[0]: t for t in TRANSPORTS}

HEADER_RE = re.compile(r"vsock: cid (?P<cid>\d+), (?P<in_use>\d+) of (?P<entries>\d+) entries in use, "
                       r"clock (?P<clock>\d+) ms, stall log after (?P<stall_ms>\d+) ms")
COLS = ["h", "state", "type", "local", "peer", "peer_buf_alloc", "peer_fwd_cnt", "tx_cnt", "credit", "unsent",
        "buf_alloc", "fwd_cnt", "fwd_sent", "unread", "flags", "timers"]
NUMERIC = COLS[5:14]

GUEST_TX_RE = re.compile(
    r"vsock: stall: guest port (?P<gp>\d+) -> host port (?P<hp>\d+): (?P<waiting>\d+) bytes waiting on zero "
    r"credit for (?P<ms>\d+) ms \(peer buf_alloc (?P<buf_alloc>\d+), peer fwd_cnt (?P<fwd_cnt>\d+), our tx_cnt "
    r"(?P<tx_cnt>\d+): (?P<in_flight>\d+) in flight; CREDIT_REQUEST (?:sent (?P<ago>\d+) ms ago|not sent)\)")
GUEST_RX_RE = re.compile(
    r"vsock: stall: host port (?P<hp>\d+) -> guest port (?P<gp>\d+): our window zero for (?P<ms>\d+) ms "
    r"\(our buf_alloc (?P<buf_alloc>\d+), our fwd_cnt (?P<fwd_cnt>\d+), told the peer (?P<told>\d+), "
    r"our rx_cnt (?P<rx_cnt>\d+): (?P<unread>\d+) unread by the app\)")


def parse_table(text):
    """(header fields, {index: row}, {counter: value}) of vsock_diag_table's
    text; fails on any line it does not understand."""
    lines = text.splitlines()
    head = HEADER_RE.fullmatch(lines[0])
    assert head, f"not a table header: {lines[0]!r}\n{text}"
    assert lines[1].split() == COLS, f"column names: {lines[1]!r}"
    rows, counters = {}, {}
    for line in lines[2:]:
        if line.startswith("vsock: "):
            section, _, rest = line[len("vsock: "):].partition(": ")
            assert section in ("engine", "device"), line
            for tok in rest.split():
                k, v = tok.split("=")
                assert k not in counters, f"counter {k} twice"
                counters[k] = int(v) if v.isdigit() else v
            continue
        f = line.split()
        assert len(f) == len(COLS), f"a row with {len(f)} columns: {line!r}"
        row = dict(zip(COLS, f))
        for k in NUMERIC:
            row[k] = int(row[k]) if row[k] != "-" else None
        rows[int(row["h"])] = row
    return {k: int(v) for k, v in head.groupdict().items()}, rows, counters


def fetch_table(s):
    """Connect to the diagnostics port, read until the guest closes."""
    sock, port = hybrid_connect(s.backend.uds, DIAG_PORT, timeout=30)
    assert sock is not None, f"diagnostics port refused: {port!r}\n{s.describe()}"
    sock.settimeout(60)
    text = b""
    while True:
        d = sock.recv(65536)
        if not d:
            break
        text += d
    sock.close()
    return text.decode(), port


def row_of(rows, local, peer):
    found = [r for r in rows.values() if r["local"] == local and r["peer"] == peer]
    assert len(found) == 1, f"rows for {local} <-> {peer}: {found}"
    return found[0]


@pytest.mark.parametrize("case", ["q35-pci", "a32-mmio-v2"])
def test_table_shows_a_connection_as_the_wire_saw_it(case):
    vp.need_tshark()
    tmp = tempfile.mkdtemp(prefix="bv-diag-")
    pcap = os.path.join(tmp, "diag.pcap")
    s = Setup(CASE[case], "echo", tmp, backend_args=["--pcap", pcap])
    try:
        s.guest.wait_for("diagnostics on port 1290", timeout=120)
        # More than the guest's window both ways, so credit is used up and returned.
        n = 3 * qemu.config("BV_VSOCK_BUF_ALLOC") + 12345
        sock, hp = hybrid_connect(s.backend.uds, ECHO_PORT, timeout=30, retry=True)
        assert sock is not None, s.describe()
        sock.settimeout(120)
        _, sent, got, ngot = echo_stream(sock, n)
        assert (ngot, got) == (n, sent), f"echoed {ngot} of {n} bytes\n{s.describe()}"

        text, dp = fetch_table(s)
        print(text)
        head, rows, ctr = parse_table(text)
        assert head["cid"] == 3 and head["entries"] == qemu.config("BV_VSOCK_MAX_CONNS"), head
        assert head["stall_ms"] == qemu.config("BV_VSOCK_STALL_LOG_MS"), head
        assert head["in_use"] == len(rows) == ctr["conns_in_use"] == 5, (head, sorted(rows))

        listeners = {r["local"]: r for r in rows.values() if r["state"] == "LISTEN"}
        assert sorted(listeners) == ["3:1234", "3:1235", "3:1290"], listeners
        assert listeners["3:1235"]["type"] == "SEQPACKET" and listeners["3:1234"]["type"] == "STREAM"
        for r in listeners.values():
            assert r["peer"] == "-" and all(r[k] is None for k in NUMERIC), r
            assert r["flags"].startswith("app,backlog=0/"), r

        # The echo connection: everything the host sent was consumed and sent back.
        e = row_of(rows, "3:1234", f"2:{hp}")
        window = qemu.config("BV_VSOCK_BUF_ALLOC")
        assert (e["state"], e["type"], e["flags"], e["timers"]) == ("ESTABLISHED", "STREAM", "app", "-"), e
        assert (e["fwd_cnt"], e["tx_cnt"], e["unread"], e["unsent"], e["buf_alloc"]) == (n, n, 0, 0, window), e
        assert e["fwd_sent"] == n, f"the guest never told the host it consumed everything: {e}"
        assert e["credit"] == max(0, e["peer_buf_alloc"] - (e["tx_cnt"] - e["peer_fwd_cnt"])), e
        # The diagnostics connection itself, accepted just before the table was made.
        d = row_of(rows, "3:1290", f"2:{dp}")
        assert (d["state"], d["tx_cnt"], d["unsent"], d["fwd_cnt"]) == ("ESTABLISHED", 0, 0, 0), d

        # Counters of one snapshot agree with each other: every RX completion
        # went to the engine or was dropped as short or too long.
        assert ctr["rx_bufs"] == ctr["rx_pkts"] + ctr["rx_short"] + ctr["rx_bad_len"], ctr
        assert ctr["tx_bufs"] <= ctr["tx_pkts"] and ctr["rx_bytes"] >= n and ctr["tx_bytes"] >= n, ctr
        for k in ("rx_dropped_malformed", "rx_overflow", "bad_used", "tx_bad_token", "rst_dropped"):
            assert ctr[k] == 0, (k, ctr)
        posted, total = ctr["rx_posted"].split("/")
        assert posted == total, f"RX buffers not all back on the ring while nothing is unread: {ctr}"

        before = len(pool_lines(s))
        sock.close()
        wait_pool_baseline(s, before, timeout=60)
        assert s.backend.stop() == 0, s.describe()
    finally:
        s.close()

    # The wire agrees (tshark's reading of host/'s capture).
    frames = vp.read(pcap)
    echo = vp.flow(frames, ECHO_PORT, hp)
    diag = vp.flow(frames, DIAG_PORT, dp)
    assert sum(f["len"] for f in echo if f["src_cid"] == 3 and f["op"] == vp.OP["RW"]) == e["tx_cnt"]
    guest_rw = [f for f in diag if f["src_cid"] == 3 and f["op"] == vp.OP["RW"]]
    assert b"".join(f["payload"] for f in guest_rw) == text.encode(), "the table on the wire differs"
    req = [f["frame"] for f in diag if f["src_cid"] == 2 and f["op"] == vp.OP["REQUEST"]][0]
    first_rw = guest_rw[0]["frame"]
    # The guest's latest header on the echo connection before the table left
    # carried the fwd_cnt the table calls fwd_sent, and its window.
    last_guest = [f for f in echo if f["src_cid"] == 3 and f["frame"] < first_rw][-1]
    assert (last_guest["fwd_cnt"], last_guest["buf_alloc"]) == (e["fwd_sent"], e["buf_alloc"]), vp.describe([last_guest])
    # The host's buf_alloc and fwd_cnt in the table were said by the host:
    # the last before the diagnostics REQUEST, or one the guest read with it.
    host = [f for f in echo if f["src_cid"] == 2]
    said = [(f["buf_alloc"], f["fwd_cnt"]) for f in host if f["frame"] < req][-1:] + \
        [(f["buf_alloc"], f["fwd_cnt"]) for f in host if req < f["frame"] < first_rw]
    assert (e["peer_buf_alloc"], e["peer_fwd_cnt"]) in said, (e, said)


def _wait_text(s, pattern, count=1, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.guest._pump(0.2)
        found = re.findall(pattern, s.guest.text)
        if len(found) >= count:
            return found
    raise AssertionError(f"no {pattern!r} on the guest's console after {timeout} s\n{s.describe()}")


def test_stall_is_logged_once_each_way_with_the_numbers_both_sides_saw():
    """A host program writes to the echo server and never reads: the echo's
    way back fills (the guest's data waits on the host's zero credit), then
    the guest stops reading (the host's data waits on the guest's). Each
    side logs its stall once; the numbers agree with each other and the wire."""
    vp.need_tshark()
    limit = qemu.config("BV_VSOCK_STALL_LOG_MS")
    tmp = tempfile.mkdtemp(prefix="bv-diag-stall-")
    pcap = os.path.join(tmp, "stall.pcap")
    s = Setup(CASE["q35-pci"], "echo", tmp, backend_args=[
        "--stall-log-ms", "400", "--pcap", pcap, "--pcap-snaplen", "76"])
    try:
        s.guest.wait_for("diagnostics on port 1290", timeout=120)
        sock, hp = hybrid_connect(s.backend.uds, ECHO_PORT, timeout=30, retry=True)
        assert sock is not None, s.describe()
        data = os.urandom(1 << 20)
        sent = hashlib.sha256()
        nsent = 0
        sock.setblocking(False)
        deadline = time.monotonic() + 180
        while not (GUEST_TX_RE.search(s.guest.text) and GUEST_RX_RE.search(s.guest.text)):
            assert time.monotonic() < deadline, f"no stall lines after {nsent} bytes written\n{s.describe()}"
            try:
                k = sock.send(data[nsent % len(data):][:65536])
                sent.update(data[nsent % len(data):][:k])
                nsent += k
            except BlockingIOError:
                s.guest._pump(0.05)

        # While it stalls: the table says so too.
        text, _ = fetch_table(s)
        print(text)
        _, rows, _ = parse_table(text)
        e = row_of(rows, "3:1234", f"2:{hp}")
        tx = {k: int(v) for k, v in GUEST_TX_RE.search(s.guest.text).groupdict(default="-1").items()}
        rx = {k: int(v) for k, v in GUEST_RX_RE.search(s.guest.text).groupdict().items()}
        assert (tx["gp"], tx["hp"], rx["gp"], rx["hp"]) == (ECHO_PORT, hp, ECHO_PORT, hp), (tx, rx)
        assert e["credit"] == 0 and re.search(r"(^|,)tx_stall=\d+ms", e["timers"]), e
        assert re.search(r"(^|,)rx_stall=\d+ms", e["timers"]), e
        assert (e["peer_buf_alloc"], e["peer_fwd_cnt"], e["tx_cnt"], e["unsent"]) == \
            (tx["buf_alloc"], tx["fwd_cnt"], tx["tx_cnt"], tx["waiting"]), (e, tx)
        assert (e["buf_alloc"], e["fwd_cnt"], e["fwd_sent"], e["unread"]) == \
            (rx["buf_alloc"], rx["fwd_cnt"], rx["told"], rx["unread"]), (e, rx)

        # Our data: the host's window is full, all of it in flight.
        assert tx["ms"] >= limit and tx["in_flight"] == tx["tx_cnt"] - tx["fwd_cnt"] == tx["buf_alloc"], tx
        send_buffer = qemu.config("BV_VSOCK_CONN_TX_BUFS") * qemu.config("BV_VSOCK_TX_BUF_SIZE")
        assert 0 < tx["waiting"] <= send_buffer, tx
        # Theirs: our window is full and the app has read nothing of it.
        assert rx["ms"] >= limit and rx["buf_alloc"] == qemu.config("BV_VSOCK_BUF_ALLOC"), rx
        assert rx["rx_cnt"] - rx["told"] == rx["buf_alloc"] and rx["unread"] == rx["rx_cnt"] - rx["fwd_cnt"], rx
        # The host's stall line is about the same data and says the same.
        hl = [m.groupdict() for m in HOST_STALL_RE.finditer(s.backend.stderr())]
        assert hl, f"host/ logged no stall\n{s.backend.stderr()[-3000:]}"
        h = {k: (v if k == "req" else int(v)) for k, v in hl[-1].items()}
        assert (h["hp"], h["gp"]) == (hp, ECHO_PORT), h
        assert (h["buf_alloc"], h["fwd_cnt"], h["tx_cnt"], h["in_flight"]) == \
            (rx["buf_alloc"], rx["told"], rx["rx_cnt"], rx["rx_cnt"] - rx["told"]), (h, rx)

        # Stalled for two more periods: still one line each way.
        time.sleep(2 * limit / 1000)
        s.guest._pump(0.2)
        assert len(GUEST_TX_RE.findall(s.guest.text)) == 1 and len(GUEST_RX_RE.findall(s.guest.text)) == 1, \
            s.guest.text[-3000:]
        assert "vsock: stall over" not in s.guest.text, s.guest.text[-3000:]

        # Read: it all moves again, every byte intact, and each stall ends once.
        sock.setblocking(True)
        sock.settimeout(120)
        sock.shutdown(socket.SHUT_WR)
        ngot, digest = drain_hashed(sock)
        sock.close()
        assert (ngot, digest) == (nsent, sent.hexdigest()), f"echoed {ngot} of {nsent} bytes"
        _wait_text(s, r"vsock: stall over: guest port 1234 <-> host port %d: credit again after \d+ ms" % hp)
        _wait_text(s, r"vsock: stall over: host port %d <-> guest port 1234: window open again after \d+ ms" % hp)
        assert len(re.findall(r"vsock: stall over: ", s.guest.text)) == 2, s.guest.text[-3000:]
        assert len(GUEST_TX_RE.findall(s.guest.text)) == 1 and len(GUEST_RX_RE.findall(s.guest.text)) == 1
        assert s.backend.stop() == 0, s.describe()
        print("\n".join(l for l in s.guest.text.splitlines() if l.startswith("vsock: stall")))
        print("\n".join(l for l in s.backend.stderr().splitlines() if "stall" in l))
    finally:
        s.close()

    # The guest's TX line is a moment of the wire: our RW bytes summed to its
    # tx_cnt while the host's latest header said its buf_alloc and fwd_cnt.
    fr = vp.flow(vp.read(pcap), ECHO_PORT, hp)
    sent_bytes, last_host, seen = 0, None, False
    for f in fr:
        if f["src_cid"] == 3 and f["op"] == vp.OP["RW"]:
            sent_bytes += f["len"]
        elif f["src_cid"] == 2:
            last_host = (f["buf_alloc"], f["fwd_cnt"])
        seen = seen or (sent_bytes == tx["tx_cnt"] and last_host == (tx["buf_alloc"], tx["fwd_cnt"]))
    assert seen, f"no point in the capture matches the guest's stall line {tx}"
    if tx["ago"] >= 0:
        assert [f for f in fr if f["src_cid"] == 3 and f["op"] == vp.OP["CREDIT_REQUEST"]], \
            "the stall line says a CREDIT_REQUEST went out; the capture has none"
