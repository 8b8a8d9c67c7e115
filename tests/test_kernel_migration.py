# SPDX-License-Identifier: BSD-2-Clause
"""TRANSPORT_RESET from a real device (issue: robustness): inside the kernel
lane's outer Linux, the echo guest runs on the kernel's vhost-vsock-pci (CID
3) with echo traffic flowing on a connection, and QEMU live-migrates it
(through a file) to a second QEMU whose device has CID 4; then again, with
traffic, to a third QEMU with the same CID 4. QEMU's vhost-vsock sends
TRANSPORT_RESET after loading; each time the guest must reset the open
connection, re-read its CID, keep listening, echo on the (new) CID, and have
its pools back at baseline. (vhost-user-vsock, host/, is unmigratable in QEMU.)"""
import json
import os
import re
import time

import pytest

import linuxvm
import qemu
from vsockhost import assert_pools_at_baseline

DRIVER = r'''#!/usr/bin/python3
import json, os, socket, subprocess, sys, threading, time
W = os.getcwd()
out = {}

def log(*a):
    print("migration:", *a, flush=True)

def qemu(name, cid, extra):
    cmd = ["qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-cpu", "max", "-m", "128M",
           "-nodefaults", "-display", "none", "-no-reboot", "-monitor", "none",
           "-serial", f"file:{W}/{name}.log", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-kernel", f"{W}/echo.elf", "-device", f"vhost-vsock-pci,guest-cid={cid}",
           "-qmp", f"unix:/tmp/bv-qmp-{name}.sock,server=on,wait=off"] + extra
    return subprocess.Popen(cmd)

def console(name):
    try:
        return open(f"{W}/{name}.log", errors="replace").read()
    except OSError:
        return ""

def wait_console(name, needle, t=30, must=True):
    # must=False: give up quietly (False) and leave the verdict to the test.
    end = time.monotonic() + t
    while needle not in console(name):
        if time.monotonic() > end:
            if not must:
                return False
            raise SystemExit(f"{name}: no {needle!r} in {t}s:\n{console(name)}")
        time.sleep(0.1)
    return True

def qmp(name):
    s = socket.socket(socket.AF_UNIX)
    for _ in range(100):
        try:
            s.connect(f"/tmp/bv-qmp-{name}.sock"); break
        except OSError:
            time.sleep(0.1)
    f = s.makefile("rw")
    f.readline()
    def cmd(c, **args):
        f.write(json.dumps({"execute": c, "arguments": args}) + "\n"); f.flush()
        while True:
            r = json.loads(f.readline())
            if "return" in r or "error" in r:
                return r
    cmd("qmp_capabilities")
    return cmd

def connect(cid, t=30):
    end = time.monotonic() + t
    while True:
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((cid, 1234)); return s
        except OSError as e:
            s.close()
            if time.monotonic() > end:
                raise SystemExit(f"connect to {cid}:1234 failed: {e}")
            time.sleep(0.2)

def echo(s, n):
    # Write from a thread while reading here: the echo comes back while we
    # send, and with both sides' buffers full a sequential client deadlocks.
    data = os.urandom(n); got = bytearray()
    t = threading.Thread(target=s.sendall, args=(data,), daemon=True)
    t.start()
    while len(got) < n:
        d = s.recv(65536)
        if not d: break
        got += d
    t.join(30)
    return bytes(got) == data

class Pump:
    # Echo traffic both ways on s until it breaks: in flight during the migration.
    def __init__(self, s):
        self.s, self.moved, self.end = s, 0, None
        self.t = threading.Thread(target=self.run, daemon=True); self.t.start()
    def run(self):
        blob = os.urandom(32768)
        try:
            while True:
                self.s.sendall(blob)
                got = 0
                while got < len(blob):
                    d = self.s.recv(65536)
                    if not d:
                        self.end = "eof"; return
                    got += len(d); self.moved += len(d)
        except OSError as e:
            self.end = type(e).__name__

def migrate(src_name, src, dst_name, dst_cid, conn, tag):
    # Live-migrate src to a new QEMU (CID dst_cid) through a file while conn
    # carries echo traffic; returns the destination QEMU.
    r = {}
    pump = Pump(conn)
    time.sleep(0.5)
    r["moved_before"] = pump.moved
    mon = qmp(src_name)
    r["migrate"] = mon("migrate", uri=f"exec:cat > /tmp/bv-mig-{tag}.bin")
    st = None
    for _ in range(1200):
        st = mon("query-migrate")["return"].get("status")
        if st in ("completed", "failed"): break
        time.sleep(0.05)
    r["status"] = st
    r["moved_at_stop"] = pump.moved
    mon("quit")
    src.wait(timeout=30)
    t0 = time.monotonic()
    dst = qemu(dst_name, dst_cid, ["-incoming", f"exec:cat /tmp/bv-mig-{tag}.bin"])
    pump.t.join(20)
    r["old_conn"] = pump.end or "hung"
    r["port"] = conn.getsockname()[1]
    conn.close()
    # Let the destination settle after the reset before the next connection:
    # its pool line ("echo: idle, ... transport resets N, ...") is printed only
    # once nothing is open or in flight, and a connection made at once would
    # keep it busy until the next migration (the line is asserted on below).
    n = {"m1": 1, "m2": 2}[tag]
    wait_console(dst_name, f"transport resets {n}, tx slots", 20, must=False)
    b = connect(dst_cid)
    r["resumed_s"] = round(time.monotonic() - t0, 2)
    try:
        r["echo_after"] = echo(b, 1000) and echo(b, 1 << 20)
    except OSError as e:
        r["echo_after"] = False
        r["echo_error"] = repr(e)
    out[tag] = r
    log(tag, json.dumps(r))
    return dst, b

rc = 1
try:
    src = qemu("src", 3, [])
    wait_console("src", "echo: listening on port 1234")
    a = connect(3)
    out["before"] = echo(a, 100000)
    # 1: to a new QEMU whose device has another CID (4)
    dst, b = migrate("src", src, "dst", 4, a, "m1")
    # 2: to a new QEMU with the same CID (4), once the old one is gone
    dst2, c = migrate("dst", dst, "dst2", 4, b, "m2")
    c.close()
    wait_console("dst2", "transport resets 2", 20)
    rc = 0 if out["before"] and all(out[m]["status"] == "completed" and out[m]["echo_after"]
                                    for m in ("m1", "m2")) else 1
    dst2.kill()
finally:
    for n in ("src", "dst", "dst2"):
        out[n + "_console"] = console(n)[-3000:]
    json.dump(out, open(f"{W}/migration.json", "w"))
    for n in ("src", "dst", "dst2"):
        log(f"---- {n} console ----\n" + console(n)[-1500:])
sys.exit(rc)
'''


def reset_of(console, port):
    """The echo's line for the connection from host port `port`."""
    m = re.search(r"echo: conn \d+ from 2:%d closed, (\d+) bytes echoed, (.*)" % port, console)
    return (int(m.group(1)), m.group(2)) if m else None


def test_transport_reset_after_migration_with_traffic():
    elf = os.path.join(qemu.BUILD, "x86_64", "echo.elf")
    if not os.path.exists(elf):
        pytest.skip("build/x86_64/echo.elf not built")
    with open(elf, "rb") as f:
        files = {"echo.elf": f.read()}
    t0 = time.monotonic()
    res = linuxvm.run_script(DRIVER, modules=["vhost_vsock"], files=files, mem_mb=2048,
                             timeout=150, check=False, name="kernel-migration")
    secs = time.monotonic() - t0
    assert "migration.json" in res.files, f"driver failed\n{res.console[-6000:]}"
    out = json.loads(res.files["migration.json"])
    why = f"{ {k: v for k, v in out.items() if not k.endswith('_console')} }\n{res.console[-4000:]}"
    assert out.get("before"), why
    for tag, name, cid, n in (("m1", "dst", 4, 1), ("m2", "dst2", 4, 2)):
        r, con = out.get(tag), out[name + "_console"]
        assert r and r["status"] == "completed", why
        # traffic was flowing while the source ran the migration
        assert r["moved_at_stop"] > r["moved_before"] > 0, why
        # the host's end of the old connection was reset, not left hanging
        # (ECONNRESET, or EPIPE when the pump was writing at that moment)
        assert r["old_conn"] in ("ConnectionResetError", "BrokenPipeError", "eof"), why
        # QEMU sent TRANSPORT_RESET; the guest re-read its CID and kept listening
        assert f"echo: transport reset {n}, cid now {cid}, still listening on port 1234" in con, con
        # the connection open across the move was reset in the guest
        old = reset_of(con, r["port"])
        assert old and old[1] == "connection reset by peer", f"old connection: {old}\n{con}"
        # and a new connection to the destination echoes 1 MiB byte-exact
        assert r["echo_after"], why
        # the pools are back at their baseline, the reset counted
        idle = [l for l in con.splitlines() if l.startswith("echo: idle,")]
        assert idle, con
        f = assert_pools_at_baseline(idle[-1])
        assert f["resets"] == n, idle[-1]
    assert res.status == 0, res.console[-3000:]
    m1, m2 = out["m1"], out["m2"]
    print(f"migration (outer Linux boot included) {secs:.1f} s: CID 3 -> 4 with "
          f"{m1['moved_at_stop'] >> 10} KiB echoed during it, old connection -> {m1['old_conn']}, "
          f"guest reset it ({reset_of(out['dst_console'], m1['port'])}); CID 4 -> 4: "
          f"old -> {m2['old_conn']}; echo on CID 4 after each")
