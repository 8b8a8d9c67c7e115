#!/usr/bin/env python3
"""`make run`: start the host backend, boot the echo server on one
architecture, and show a real round trip through the Unix socket."""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402

DEFAULT_TARGET = {"x86_64": "x86_64-q35", "aarch64": "aarch64-a53", "arm": "arm-a15"}
VSOCK_DEVICE = {"x86_64-q35": "vhost-user-vsock-pci", "aarch64-a53": "vhost-user-vsock-pci",
                "arm-a15": "vhost-user-vsock-device"}
BACKEND = os.path.join(qemu.BUILD, "host", "bv-vhost-vsock")


def hybrid_connect(uds, port, timeout=10.0):
    """Connect to guest `port` through the backend's CONNECT handshake, retrying
    while the guest is still posting its receive buffers."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(uds)
            s.sendall(f"CONNECT {port}\n".encode())
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)
                if not c:
                    break
                line += c
            if line.startswith(b"OK "):
                return s
        except OSError:
            pass
        s.close()
        if time.monotonic() > deadline:
            raise SystemExit(f"run: could not connect to guest port {port} through {uds}")
        time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default="x86_64", choices=sorted(DEFAULT_TARGET))
    ap.add_argument("--port", type=int, default=1234)
    args = ap.parse_args()
    target = DEFAULT_TARGET[args.arch]
    echo = os.path.join(qemu.BUILD, args.arch, "echo.elf")
    if not (os.path.exists(echo) and os.path.exists(BACKEND)):
        print(f"run: {echo} or {BACKEND} is not built yet; booting hello instead")
        g = qemu.boot(target, qemu.elf_path(args.arch, "hello"), timeout=60)
        print(g.text)
        return 0 if g.status == qemu.EXIT_OK else 1

    tmp = tempfile.mkdtemp(prefix="barevsock-run-")
    vu_sock, uds = os.path.join(tmp, "vhost.sock"), os.path.join(tmp, "vsock.sock")
    backend = subprocess.Popen([BACKEND, "--guest-cid", "3", "--socket", vu_sock, "--uds-path", uds])
    try:
        for _ in range(100):
            if os.path.exists(vu_sock):
                break
            time.sleep(0.05)
        extra = ["-chardev", f"socket,id=vsock,path={vu_sock}",
                 "-device", f"{VSOCK_DEVICE[target]},chardev=vsock"]
        print(f"run: booting {echo} on {target} with host/ backend (cid 3)")
        with qemu.Guest(target, echo, extra, shared_mem=True) as g:
            s = hybrid_connect(uds, args.port)
            msg = b"hello, barevsock!\n"
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            print(f"run: sent {msg!r}, guest echoed {got!r}")
            s.close()
            time.sleep(0.5)
            g._pump(0.5)
            print("---- guest console ----")
            print(g.text)
            print(f"run: try it yourself: socat - UNIX-CONNECT:{uds} then type 'CONNECT {args.port}'")
            return 0 if got == msg else 1
    finally:
        backend.terminate()
        backend.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
