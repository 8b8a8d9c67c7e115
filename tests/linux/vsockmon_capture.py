# SPDX-License-Identifier: BSD-2-Clause
"""Kernel-lane driver (runs in the outer Linux next to an echo guest): records
one known exchange with the kernel's own vsockmon (ip link add type vsockmon;
tcpdump -i vsockmon0) into vsockmon.pcap in the job dir, for
tests/test_kernel_vsockmon.py to compare with what host/ records for the same
exchange. Judging is the host test's job; this only records."""
import os
import signal
import struct
import subprocess
import sys
import time

import lanelib


def sh(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    print(f"$ {' '.join(cmd)} -> {r.returncode} {r.stdout.strip()} {r.stderr.strip()}", flush=True)
    return r


def guest_frames(path, guest_cid, op):
    """How many frames from guest_cid carry virtio `op`: only to know when the
    exchange is over on the wire (the checks read the file with tshark)."""
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        return 0
    off, n = 24, 0
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) >= 76 and struct.unpack_from("<Q", frame, 0)[0] == guest_cid \
                and struct.unpack_from("<H", frame, 32 + 30)[0] == op:
            n += 1
    return n


def main(message, port=1234):
    out = os.path.join(lanelib.JOB_DIR, "vsockmon.pcap")
    if sh("modprobe", "vsockmon").returncode != 0:
        return 3
    if sh("ip", "link", "add", "type", "vsockmon").returncode != 0:
        return 3
    dev = "vsockmon0"
    if sh("ip", "link", "set", dev, "up").returncode != 0:
        return 3
    # -U: each packet reaches the file at once; -Z root: no privilege drop,
    # so tcpdump may write into the job dir.
    td = subprocess.Popen(["tcpdump", "-n", "-i", dev, "-U", "-Z", "root", "-w", out],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not os.path.exists(out) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)   # tcpdump prints "listening on" after it has the socket: give it a moment
    lanelib.wait_console("echo: listening on port 1234", timeout=60)
    s = lanelib.connect(port, timeout=30)
    s.settimeout(30)
    s.sendall(message)
    got = b""
    while len(got) < len(message):
        d = s.recv(4096)
        if not d:
            break
        got += d
    host_port = s.getsockname()[1]
    s.close()
    # The exchange ends with the guest's RST answering our close.
    deadline = time.monotonic() + 30
    while guest_frames(out, lanelib.CID, 3) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    td.send_signal(signal.SIGINT)
    try:
        tdout = td.communicate(timeout=20)[0].decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        td.kill()
        tdout = td.communicate()[0].decode("utf-8", "replace")
    print(tdout, flush=True)
    sh("ip", "link", "del", dev)   # later jobs in this outer Linux run untapped
    lanelib.save(echoed=got == message, host_port=host_port, guest_rst=guest_frames(out, lanelib.CID, 3),
                 tcpdump=tdout[-2000:], pcap_bytes=os.path.getsize(out) if os.path.exists(out) else 0)
    return 0 if got == message else 1


if __name__ == "__main__":
    sys.exit(main(b"hello, vsock\n"))
