# SPDX-License-Identifier: BSD-2-Clause
"""bv-vhost-vsock against the Linux kernel's own virtio-vsock guest driver:
Debian's kernel boots under TCG with vhost-user-vsock-pci served by the
backend, and everything is driven from the host through the Unix sockets
(hybrid CONNECT convention). One VM per module; a second VM at the end
checks the backend serves the next QEMU after the first one is gone."""
import hashlib
import json
import os
import socket
import tempfile
import threading
import time

import pytest

import linuxvm
from vsockhost import BACKEND, Backend, echo_stream, hybrid_connect

ECHO_PORT = 1234
SINK_PORT = 1235      # guest reads everything, then replies with its sha256
DEAD_PORT = 999       # nothing listens here in the guest

# Guest side: socat echo server, a Python hash server, and a trigger loop that
# runs guest->host connections on request (files cmd-N -> res-N).
GUEST_SCRIPT = r"""#!/bin/sh
socat VSOCK-LISTEN:1234,fork,reuseaddr,backlog=128 EXEC:cat &
/usr/bin/python3 - <<'PY' &
import hashlib, json, os, socket, threading, time
def sink():
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.bind((socket.VMADDR_CID_ANY, 1235)); s.listen(8)
    while True:
        c, _ = s.accept()
        h = hashlib.sha256(); n = 0
        while True:
            d = c.recv(65536)
            if not d: break
            h.update(d); n += len(d)
        c.sendall(("%d %s\n" % (n, h.hexdigest())).encode()); c.close()
threading.Thread(target=sink, daemon=True).start()
def run_seq(cmd):
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET)
    s.settimeout(30)
    s.connect((2, cmd["port"]))
    for n in cmd["sizes"]:
        s.send(bytes([n % 251]) * n)
    got = [len(s.recv(1 << 20)) for _ in cmd["expect"]]
    s.close()
    return {"got": got}
def run(cmd):
    if cmd.get("sizes"):
        return run_seq(cmd)
    r = {}
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect((2, cmd["port"]))
    except OSError as e:
        return {"connect_error": e.__class__.__name__ + ":" + str(e.errno)}
    data = bytes(range(256)) * (cmd["nbytes"] // 256)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)               # guest half-close
    got = b""
    while True:
        d = s.recv(65536)
        if not d: break
        got += d
    s.close()
    return {"sent_sha": hashlib.sha256(data).hexdigest(), "reply": got.decode()}
done = set()
open("ready.tmp", "w").write("up"); os.rename("ready.tmp", "ready")
while not os.path.exists("stop"):
    for f in sorted(os.listdir(".")):
        if f.startswith("cmd-") and f not in done:
            done.add(f)
            res = run(json.load(open(f)))
            open("t" + f, "w").write(json.dumps(res)); os.rename("t" + f, "res-" + f[4:])
    time.sleep(0.05)
PY
while [ ! -e stop ]; do sleep 0.2; done
"""


def echo_roundtrip(uds, nbytes):
    """Echo nbytes through guest ECHO_PORT; returns (seconds, hash ok)."""
    s, _ = hybrid_connect(uds, ECHO_PORT)
    secs, sent, got, n = echo_stream(s, nbytes)
    s.close()
    assert n == nbytes, f"echo returned {n} of {nbytes} bytes"
    return secs, sent == got


class Env:
    pass


@pytest.fixture(scope="module")
def env():
    if not os.path.exists(BACKEND):
        pytest.skip(f"{BACKEND} not built (make host)")
    tmp = tempfile.mkdtemp(prefix="bvh-linux-")
    t0 = time.monotonic()
    b = Backend(tmp)
    vm = linuxvm.LinuxVM(GUEST_SCRIPT, shared_mem=True, modules=["vmw_vsock_virtio_transport"],
                         extra_qemu_args=linuxvm.vhost_user_vsock_args(b.vsock), timeout=900,
                         name="bvh-linux")
    e = Env()
    e.tmp, e.backend, e.vm, e.t0, e.ncmd = tmp, b, vm, t0, 0
    try:
        vm.start()
        vm.wait_for_file("ready", timeout=120)
        e.boot = vm.boot_seconds
        yield e
    finally:
        vm.put("stop", "x")
        vm.stop(grace=5)
        vm.cleanup()
        rc = b.stop()
        log = b.stderr()
        keep = os.path.join(linuxvm.ROOT, "build", "host", "test_host_linux_guest.backend.log")
        os.makedirs(os.path.dirname(keep), exist_ok=True)
        with open(keep, "w") as f:
            f.write(log)   # kept for debugging; build/ is not tracked
        print(f"\nLinux-guest module: {time.monotonic() - t0:.1f}s (boot {getattr(e, 'boot', 0):.1f}s)")
        print("\n".join(line for line in log.splitlines() if "stats" in line or "guest error" in line))
        for f in os.listdir(tmp):
            try:
                os.unlink(os.path.join(tmp, f))
            except OSError:
                pass
        os.rmdir(tmp)
        assert rc == 0, log
        for bad in ("guest error", "vhost-user:", "AddressSanitizer", "runtime error"):
            assert bad not in log, log


def guest_cmd(e, port, nbytes, timeout=120, **extra):
    """Have the guest connect to host port `port`; returns its result dict."""
    e.ncmd += 1
    n = e.ncmd
    e.vm.put(f"cmd-{n}.tmp", json.dumps({"port": port, "nbytes": nbytes, **extra}))
    os.rename(e.vm.path(f"cmd-{n}.tmp"), e.vm.path(f"cmd-{n}"))
    p = e.vm.wait_for_file(f"res-{n}", timeout=timeout)
    return json.load(open(p))


def test_small_echo(env):
    s, port = hybrid_connect(env.backend.uds, ECHO_PORT)
    assert port >= 1 << 30
    s.sendall(b"hello, linux\n")
    assert s.recv(100) == b"hello, linux\n"
    s.close()


def test_echo_16mib_with_hash(env):
    secs, ok = echo_roundtrip(env.backend.uds, 16 << 20)
    assert ok, "echoed data differs"
    mib_s = 16 / secs
    print(f"\n16 MiB echo: {secs:.2f}s, {mib_s:.2f} MiB/s each way")
    with open(os.path.join(os.path.dirname(__file__), "..", "build", "host", "echo-16mib.txt"), "w") as f:
        f.write(f"{secs:.3f}s {mib_s:.2f} MiB/s\n")


def test_host_to_guest_half_close(env):
    # host sends, shuts its write side; the guest sees EOF, returns the hash, closes
    s, _ = hybrid_connect(env.backend.uds, SINK_PORT)
    data = os.urandom(300000)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        reply += d
    s.close()
    n, h = reply.decode().split()
    assert int(n) == len(data) and h == hashlib.sha256(data).hexdigest()


def test_refused_port_closes_without_ok(env):
    t = time.monotonic()
    s, line = hybrid_connect(env.backend.uds, DEAD_PORT)
    assert s is None and line == b"", line
    assert time.monotonic() - t < 5, "refusal took too long"


def test_32_concurrent_connections(env):
    errors = []

    def one(i):
        try:
            s, _ = hybrid_connect(env.backend.uds, ECHO_PORT)
            data = os.urandom(65536 + i * 1000)
            got = bytearray()

            def rd():
                while len(got) < len(data):
                    d = s.recv(65536)
                    if not d:
                        break
                    got.extend(d)
            th = threading.Thread(target=rd)
            th.start()
            s.sendall(data)
            th.join(timeout=300)
            s.close()
            if bytes(got) != data:
                errors.append(f"conn {i}: {len(got)}/{len(data)} bytes, match={bytes(got) == data}")
        except Exception as ex:  # noqa: BLE001 - report every failure
            errors.append(f"conn {i}: {ex!r}")

    ths = [threading.Thread(target=one, args=(i,)) for i in range(32)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(timeout=400)
    assert not errors, errors


def _serve_once(path, ready):
    """Host service on <uds>_P: read to EOF (guest half-close), reply with
    the byte count and hash, then close."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(60)
    ready.set()
    c, _ = srv.accept()
    c.settimeout(60)
    h = hashlib.sha256()
    n = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        h.update(d)
        n += len(d)
    c.sendall(f"{n} {h.hexdigest()}".encode())
    c.close()
    srv.close()
    os.unlink(path)


def test_guest_to_host_with_half_close(env):
    port = 5000
    ready = threading.Event()
    th = threading.Thread(target=_serve_once, args=(f"{env.backend.uds}_{port}", ready))
    th.start()
    ready.wait(10)
    res = guest_cmd(env, port, 1 << 20)
    th.join(timeout=60)
    assert "connect_error" not in res, res
    n, h = res["reply"].split()
    assert int(n) == 1 << 20 and h == res["sent_sha"], res


def test_guest_to_host_16mib_with_hash(env):
    """Bulk guest->host: exercises our credit updates (buf_alloc 256 KiB)."""
    port = 5001
    ready = threading.Event()
    th = threading.Thread(target=_serve_once, args=(f"{env.backend.uds}_{port}", ready))
    th.start()
    ready.wait(10)
    t = time.monotonic()
    res = guest_cmd(env, port, 16 << 20, timeout=300)
    secs = time.monotonic() - t
    th.join(timeout=60)
    n, h = res["reply"].split()
    assert int(n) == 16 << 20 and h == res["sent_sha"], res
    print(f"\n16 MiB guest->host: {secs:.2f}s including the trigger round trip")


def test_guest_to_host_nothing_listening_gets_reset(env):
    t = time.monotonic()
    res = guest_cmd(env, 5999, 10)
    assert "connect_error" in res, res
    assert time.monotonic() - t < 20


def test_guest_to_host_seqpacket_keeps_boundaries(env):
    """Guest SOCK_SEQPACKET <-> host SOCK_SEQPACKET Unix socket: a 70000-byte
    message (fragmented by Linux on the wire) arrives as one message; host
    messages arrive whole, in order."""
    port = 6000
    path = f"{env.backend.uds}_{port}"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(60)
    got = []

    def serve():
        c, _ = srv.accept()
        c.settimeout(60)
        for _ in range(3):
            m = c.recv(1 << 20)
            got.append((len(m), len(set(m))))
        c.send(b"x" * 10000)
        c.send(b"yy")
        c.recv(10)   # until the guest closes
        c.close()

    th = threading.Thread(target=serve)
    th.start()
    try:
        res = guest_cmd(env, port, 0, sizes=[5, 70000, 1], expect=[10000, 2])
    finally:
        th.join(timeout=60)
        srv.close()
        os.unlink(path)
    assert got == [(5, 1), (70000, 1), (1, 1)], got
    assert res == {"got": [10000, 2]}, res


def test_next_qemu_is_served_after_the_first_goes(env):
    """Stop the first VM; a new one boots against the same backend process."""
    env.vm.put("stop", "x")
    env.vm.stop(grace=5)
    script = """
socat -u VSOCK-CONNECT:2:5100 OPEN:/dev/null 2>/dev/null || true
echo second > out.txt
echo hi | socat - VSOCK-CONNECT:2:5101 > got.txt
"""
    got = []
    ready = threading.Event()

    def serve():
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(f"{env.backend.uds}_5101")
        srv.listen(1)
        srv.settimeout(120)
        ready.set()
        c, _ = srv.accept()
        got.append(c.recv(100))
        c.sendall(b"back\n")
        c.close()
        srv.close()
        os.unlink(f"{env.backend.uds}_5101")

    th = threading.Thread(target=serve)
    th.start()
    ready.wait(10)
    res = linuxvm.run_script(script, shared_mem=True, modules=["vmw_vsock_virtio_transport"],
                             extra_qemu_args=linuxvm.vhost_user_vsock_args(env.backend.vsock),
                             timeout=180)
    th.join(timeout=30)
    assert got == [b"hi\n"], (got, res.console[-2000:])
    assert res.files["got.txt"] == b"back\n", res.console[-2000:]
