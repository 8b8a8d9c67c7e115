"""TRANSPORT_RESET from a real device (issue: robustness): inside the kernel
lane's outer Linux, the echo guest runs on the kernel's vhost-vsock-pci (CID
3), an echo connection is open, and QEMU migrates the guest to a second QEMU
whose device has CID 4. QEMU's vhost-vsock sends TRANSPORT_RESET after
loading; the guest must reset the open connection, re-read its CID, keep
listening, and echo on the new CID."""
import json
import os

import pytest

import linuxvm
import qemu

DRIVER = r'''#!/usr/bin/python3
import json, os, socket, subprocess, sys, threading, time
W = os.getcwd()
out = {}

def log(*a):
    print("migration:", *a, flush=True)

def qemu(cid, log_name, extra):
    cmd = ["qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-cpu", "max", "-m", "128M",
           "-nodefaults", "-display", "none", "-no-reboot", "-monitor", "none",
           "-serial", f"file:{W}/{log_name}", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-kernel", f"{W}/echo.elf", "-device", f"vhost-vsock-pci,guest-cid={cid}",
           "-qmp", f"unix:/tmp/bv-qmp-{cid}.sock,server=on,wait=off"] + extra
    return subprocess.Popen(cmd)

def console(name):
    try:
        return open(f"{W}/{name}", errors="replace").read()
    except OSError:
        return ""

def wait_console(name, needle, t=60):
    end = time.monotonic() + t
    while needle not in console(name):
        if time.monotonic() > end:
            raise SystemExit(f"{name}: no {needle!r} in {t}s:\n{console(name)}")
        time.sleep(0.1)

def qmp(cid):
    s = socket.socket(socket.AF_UNIX)
    for _ in range(100):
        try:
            s.connect(f"/tmp/bv-qmp-{cid}.sock"); break
        except OSError:
            time.sleep(0.1)
    f = s.makefile("rw")
    f.readline()
    def cmd(name, **args):
        f.write(json.dumps({"execute": name, "arguments": args}) + "\n"); f.flush()
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

src = qemu(3, "src.log", [])
wait_console("src.log", "echo: listening on port 1234")
a = connect(3)
out["before"] = echo(a, 100000)
mig = qmp(3)
out["migrate"] = mig("migrate", uri="exec:cat > /tmp/bv-mig.bin")
for _ in range(600):
    st = mig("query-migrate")["return"].get("status")
    if st in ("completed", "failed"): break
    time.sleep(0.1)
out["migrate_status"] = st
mig("quit")
src.wait(timeout=30)
dst = qemu(4, "dst.log", ["-incoming", "exec:cat /tmp/bv-mig.bin"])
# the connection opened before the move must end (reset), not hang
a.settimeout(20)
try:
    r = a.recv(100)
    out["old_conn"] = "eof" if r == b"" else f"data {r!r}"
except OSError as e:
    out["old_conn"] = type(e).__name__
b = connect(4)
try:
    out["after_small"] = echo(b, 1000)
    out["after_new_cid"] = echo(b, 1 << 20)
except OSError as e:
    out["after_new_cid"] = False
    out["after_error"] = repr(e)
b.close()
time.sleep(1)
out["dst_console"] = console("dst.log")[-2000:]
dst.kill()
json.dump(out, open(f"{W}/migration.json", "w"))
log(json.dumps({k: v for k, v in out.items() if k != "dst_console"}))
log("dst console:", out["dst_console"])
log("src console:", console("src.log")[-1500:])
sys.exit(0 if out["before"] and out["after_new_cid"] and st == "completed" else 1)
'''


def test_transport_reset_after_migration_to_a_new_cid():
    elf = os.path.join(qemu.BUILD, "x86_64", "echo.elf")
    if not os.path.exists(elf):
        pytest.skip("build/x86_64/echo.elf not built")
    with open(elf, "rb") as f:
        files = {"echo.elf": f.read()}
    res = linuxvm.run_script(DRIVER, modules=["vhost_vsock"], files=files, mem_mb=2048,
                             timeout=240, check=False, name="kernel-migration")
    assert "migration.json" in res.files, f"driver failed\n{res.console[-6000:]}"
    out = json.loads(res.files["migration.json"])
    assert out["migrate_status"] == "completed", out
    assert out["before"] and out["after_new_cid"], f"{out}\n{res.console[-3000:]}"
    assert out["old_conn"] != "timeout", f"old connection hung after the reset: {out}"
    # The guest saw the reset: the open connection ended with a reset error.
    assert "closed" in out["dst_console"], out["dst_console"]
    assert res.status == 0, res.console[-3000:]
    print(f"migration: old connection -> {out['old_conn']}; echo on CID 4 ok")
