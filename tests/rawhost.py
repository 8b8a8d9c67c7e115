# SPDX-License-Identifier: BSD-2-Clause
"""Play the host of a vsock guest packet by packet: run bv-vhost-vsock --raw
and drive it over its control socket (protocol in host/raw.h). A test puts
any bytes into the guest's RX buffers (any header field, any hdr.len, any
used length, one used entry at a time or a batch published at once), can
deliver TRANSPORT_RESET and change the CID, can hold the guest's TX ring,
and sees every packet the guest emits with its time. Shared by the
conformance suite and the raw host's own tests. Not a vsock implementation:
nothing here answers the guest unless the test does."""
import builtins
import os
import signal
import socket
import struct
import subprocess
import threading
import time

import qemu
from vsockhost import BACKEND, readline

HOST_CID = 2
HDR = struct.Struct("<QQIIIHHIII")   # the 44-byte virtio-vsock header
assert HDR.size == 44

OP_INVALID, OP_REQUEST, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE, OP_CREDIT_REQUEST = range(8)
OP_NAMES = {0: "INVALID", 1: "REQUEST", 2: "RESPONSE", 3: "RST", 4: "SHUTDOWN", 5: "RW",
            6: "CREDIT_UPDATE", 7: "CREDIT_REQUEST"}
STREAM, SEQPACKET = 1, 2
SHUT_RCV, SHUT_SEND = 1, 2
EOM, EOR = 1, 2

C_PUT, C_EVQ, C_SET_CID, C_CAPTURE, C_TX, C_RXINFO, C_NOTIFY = 1, 2, 3, 4, 5, 6, 7
E_OK, E_ERROR, E_PUT_DONE, E_RXINFO, E_TX, E_DEVICE = 1, 2, 3, 4, 16, 17
PUT_BATCH, PUT_RESET_FIRST, PUT_NO_NOTIFY = 1, 2, 4
USED_AUTO = 0xFFFFFFFF


class RawHostError(AssertionError):
    pass


_blen = builtins.len   # hdr() takes a keyword named len


def hdr(*, src_cid=HOST_CID, dst_cid=3, src_port=0, dst_port=0, len=None, type=STREAM, op=OP_RW,
        flags=0, buf_alloc=262144, fwd_cnt=0, payload=b""):
    """Header plus payload as bytes. len defaults to len(payload); pass it to lie."""
    n = _blen(payload)
    return HDR.pack(src_cid, dst_cid, src_port, dst_port, n if len is None else len, type, op, flags,
                    buf_alloc, fwd_cnt) + payload



class Entry:
    """One RX used entry: the bytes written into the buffer (cut to its size)
    and the used length reported (None: the bytes written)."""

    def __init__(self, data, used=None):
        self.data = data
        self.used = used


class Pkt:
    """A packet the guest put on its TX ring."""

    def __init__(self, t_ns, head, status, total, raw):
        self.t = t_ns / 1e9
        self.head, self.status, self.total, self.raw = head, status, total, raw
        self.ok = status == 0 and _blen(raw) >= 44
        if self.ok:
            (self.src_cid, self.dst_cid, self.src_port, self.dst_port, self.len, self.type, self.op,
             self.flags, self.buf_alloc, self.fwd_cnt) = HDR.unpack_from(raw)
            self.payload = raw[44:44 + self.len]
        else:
            self.op = None
            self.payload = b""

    def __repr__(self):
        if not self.ok:
            return f"<chain status {self.status} total {self.total}>"
        return (f"<{OP_NAMES.get(self.op, self.op)} {self.src_cid}:{self.src_port}->{self.dst_cid}:"
                f"{self.dst_port} type {self.type} len {self.len} flags {self.flags:#x} "
                f"buf {self.buf_alloc} fwd {self.fwd_cnt}>")


class RawHost:
    """A running bv-vhost-vsock --raw with its control connection.

        rh = RawHost(tmpdir)
        guest = qemu.Guest(..., rh.qemu_args("vhost-user-vsock-pci"), shared_mem=True)
        rh.wait_up()
        rh.put([hdr(op=OP_REQUEST, src_port=5000, dst_port=1234)])
        resp = rh.expect(lambda p: p.op == OP_RESPONSE)
    """

    def __init__(self, tmp, *, cid=3, features=None, binary=None, extra=()):
        self.tmp = tmp
        self.cid = cid
        self.vsock = os.path.join(tmp, "v.sock")
        self.ctl_path = os.path.join(tmp, "raw.sock")
        self.log_path = os.path.join(tmp, "rawhost.log")
        self.log = open(self.log_path, "w")
        args = [binary or BACKEND, "-v", "--guest-cid", str(cid), "--socket", self.vsock,
                "--raw", self.ctl_path, *extra]
        if features is not None:
            args += ["--features", features]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = readline(self.proc, 10)
        if "listening on" not in line:
            raise RawHostError(f"raw host did not start: {line!r}\n{self.stderr()}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.ctl_path)
        self._cv = threading.Condition()
        self.packets = []          # every Pkt the guest emitted, in order
        self._replies = {}         # seq -> (kind, t_ns, body)
        self.device_up = False
        self.device_events = []    # (t, up)
        self._seq = 0
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # ------------------------------------------------------------ plumbing
    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def qemu_args(self, device, dev_id="bvraw"):
        return ["-chardev", f"socket,id=bvrawc,path={self.vsock}",
                "-device", f"{device},chardev=bvrawc,id={dev_id}"]

    def _recv_exact(self, n):
        b = bytearray()
        while _blen(b) < n:
            d = self.sock.recv(n - _blen(b))
            if not d:
                return None
            b += d
        return bytes(b)

    def _read(self):
        while True:
            try:
                h = self._recv_exact(4)
                if h is None:
                    break
                (n,) = struct.unpack("<I", h)
                f = self._recv_exact(n)
                if f is None:
                    break
            except OSError:
                break
            kind, seq, t = struct.unpack_from("<IIQ", f)
            body = f[16:]
            with self._cv:
                if kind == E_TX:
                    head, status, total = struct.unpack_from("<HHI", body)
                    self.packets.append(Pkt(t, head, status, total, body[8:]))
                elif kind == E_DEVICE:
                    (up,) = struct.unpack_from("<I", body)
                    self.device_up = bool(up)
                    self.device_events.append((t / 1e9, bool(up)))
                else:
                    self._replies[seq] = (kind, t, body)
                self._cv.notify_all()
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _cmd(self, cmd, body=b"", timeout=40):
        with self._cv:
            self._seq += 1
            seq = self._seq
        frame = struct.pack("<II", cmd, seq) + body
        self.sock.sendall(struct.pack("<I", _blen(frame)) + frame)
        deadline = time.monotonic() + timeout
        with self._cv:
            while seq not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise RawHostError(f"no answer to command {cmd} within {timeout}s\n{self.stderr()[-3000:]}")
                self._cv.wait(left)
            kind, t, body = self._replies.pop(seq)
        if kind == E_ERROR:
            raise RawHostError(body.decode(errors="replace"))
        return kind, t, body

    # ------------------------------------------------------------ commands
    def put(self, entries, *, batch=False, reset_first=False, notify=True, timeout=40):
        """Put entries (bytes or Entry) into the guest's RX buffers, one per
        buffer. batch: publish every used entry with one used->idx store.
        reset_first: complete an event buffer with TRANSPORT_RESET just
        before. Returns (t, [(capacity, written, used_len), ...])."""
        flags = (PUT_BATCH if batch else 0) | (PUT_RESET_FIRST if reset_first else 0) | \
                (0 if notify else PUT_NO_NOTIFY)
        parts = [struct.pack("<II", flags, _blen(entries))]
        for e in entries:
            if not isinstance(e, Entry):
                e = Entry(e)
            parts.append(struct.pack("<II", USED_AUTO if e.used is None else e.used, _blen(e.data)) + e.data)
        _, t, body = self._cmd(C_PUT, b"".join(parts), timeout=timeout)
        (n,) = struct.unpack_from("<I", body)
        return t / 1e9, [struct.unpack_from("<III", body, 4 + 12 * i) for i in range(n)]

    def evq(self, desc, avail, used, num):
        self._cmd(C_EVQ, struct.pack("<QQQI", desc, avail, used, num))

    def evq_from_qmp(self, mon, path="/machine/peripheral/bvraw/virtio-backend"):
        """Tell the raw host where the event queue (QEMU's) lies in guest memory."""
        st = mon.cmd("x-query-virtio-queue-status", path=path, queue=2)
        self.evq(st["vring-desc"], st["vring-avail"], st["vring-used"], st["vring-num"])
        return st

    def transport_reset(self):
        """TRANSPORT_RESET alone (the guest is interrupted through RX)."""
        return self.put([], reset_first=True)

    def set_cid(self, cid):
        """GET_CONFIG answers cid from now on and QEMU re-reads it (returns once it has)."""
        self._cmd(C_SET_CID, struct.pack("<Q", cid))
        self.cid = cid

    def capture(self, path):
        """Start a new pcap of what follows (None: stop capturing)."""
        self._cmd(C_CAPTURE, (path or "").encode())

    def tx_hold(self, hold=True):
        self._cmd(C_TX, struct.pack("<I", 1 if hold else 0))

    def rxinfo(self):
        _, _, b = self._cmd(C_RXINFO)
        rx_ready, avail, cap, tx_ready, cid, feat = struct.unpack_from("<IIIIQQ", b)
        return {"rx_ready": bool(rx_ready), "rx_avail": avail, "next_capacity": cap,
                "tx_ready": bool(tx_ready), "cid": cid, "features": feat}

    def notify(self):
        self._cmd(C_NOTIFY)

    # ------------------------------------------------------------ guest side
    def wait_up(self, timeout=60, min_rx=1):
        """Wait until both rings run and the guest posted min_rx RX buffers."""
        deadline = time.monotonic() + timeout
        while True:
            if self.device_up:
                info = self.rxinfo()
                if info["rx_ready"] and info["tx_ready"] and info["rx_avail"] >= min_rx:
                    return info
            if time.monotonic() > deadline:
                raise RawHostError(f"guest rings not up within {timeout}s\n{self.stderr()[-3000:]}")
            time.sleep(0.05)

    def mark(self):
        """Index of the next packet: pass as since= to look only at newer ones."""
        with self._cv:
            return _blen(self.packets)

    def expect(self, pred, timeout=10, since=0, what="a matching packet"):
        """The first packet at index >= since for which pred(p) is true; waits."""
        deadline = time.monotonic() + timeout
        i = since
        with self._cv:
            while True:
                while i < _blen(self.packets):
                    p = self.packets[i]
                    i += 1
                    if p.ok and pred(p):
                        return p
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RawHostError(f"no {what} within {timeout}s; guest sent since #{since}: "
                                       f"{self.packets[since:][-20:]}")
                self._cv.wait(left)

    def settle(self, quiet=0.5, limit=10, since=0):
        """Wait until the guest has been silent for `quiet` s (at most `limit` s);
        returns the packets since `since`."""
        deadline = time.monotonic() + limit
        with self._cv:
            n = _blen(self.packets)
            last = time.monotonic()
            while time.monotonic() < deadline:
                self._cv.wait(0.05)
                if _blen(self.packets) != n:
                    n = _blen(self.packets)
                    last = time.monotonic()
                elif time.monotonic() - last >= quiet:
                    break
            return list(self.packets[since:])

    def since(self, i):
        with self._cv:
            return list(self.packets[i:])

    def stop(self):
        try:
            self.sock.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
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
