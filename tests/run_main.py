#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""`make run`: start the host backend, boot the echo server on one
architecture, and show a real round trip through the Unix socket.
`make run PLATFORM=uefi` (--platform uefi) boots echo.efi under the
architecture's UEFI firmware instead (tests/uefi.py)."""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402
from vsockhost import BACKEND, Backend, hybrid_connect  # noqa: E402

DEFAULT_TARGET = {"x86_64": "x86_64-q35", "aarch64": "aarch64-a53", "arm": "arm-a15"}
VSOCK_DEVICE = {"x86_64-q35": "vhost-user-vsock-pci", "aarch64-a53": "vhost-user-vsock-pci",
                "arm-a15": "vhost-user-vsock-device"}
def hello_round_trip(backend, guest, port, msg, console, how, t0=None):
    """Connect to the guest's echo through the back end, send msg, read it
    back, print both and the guest's console; 0 when it came back intact."""
    s, reply = hybrid_connect(backend.uds, port, timeout=30, retry=True)
    if s is None:
        print(guest.text)
        raise SystemExit(f"run: guest port {port} refused the connection ({reply!r})")
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    after = f", {time.monotonic() - t0:.1f} s after QEMU started" if t0 is not None else ""
    print(f"run: sent {msg!r}, guest echoed {got!r}{after}")
    s.close()
    time.sleep(0.5)
    guest._pump(0.5)
    print(f"---- {console} console ----")
    print(guest.text)
    print(f"run: try it yourself: {how}")
    return 0 if got == msg else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default="x86_64", choices=sorted(DEFAULT_TARGET))
    ap.add_argument("--port", type=int, default=1234)
    ap.add_argument("--platform", default="kernel", choices=["kernel", "uefi"],
                    help="kernel: the -kernel image; uefi: echo.efi under OVMF / ArmVirtQemu")
    args = ap.parse_args()
    if args.platform == "uefi":
        return run_uefi(args)
    target = DEFAULT_TARGET[args.arch]
    echo = os.path.join(qemu.BUILD, args.arch, "echo.elf")
    if not (os.path.exists(echo) and os.path.exists(BACKEND)):
        print(f"run: {echo} or {BACKEND} is not built yet; booting hello instead")
        g = qemu.boot(target, qemu.elf_path(args.arch, "hello"), timeout=60)
        print(g.text)
        return 0 if g.status == qemu.EXIT_OK else 1

    tmp = tempfile.mkdtemp(prefix="barevsock-run-")
    with Backend(tmp, cid=3) as backend:
        print(f"run: booting {echo} on {target} with host/ backend (cid 3)")
        with qemu.Guest(target, echo, backend.qemu_args(VSOCK_DEVICE[target]), shared_mem=True) as g:
            return hello_round_trip(
                backend, g, args.port, b"hello, barevsock!\n", "guest",
                f"start build/host/bv-vhost-vsock, boot the guest (see README), then\n"
                f"     printf 'CONNECT {args.port}\\nhi\\n' | socat - UNIX-CONNECT:<uds-path>")


def run_uefi(args):
    import uefi
    device = {"x86_64": "vhost-user-vsock-pci", "aarch64": "vhost-user-vsock-pci",
              "arm": "vhost-user-vsock-pci"}[args.arch]
    tmp = tempfile.mkdtemp(prefix="barevsock-run-uefi-")
    with Backend(tmp, cid=3) as backend:
        print(f"run: booting echo.efi under {uefi.FIRMWARE[args.arch]['package']} ({args.arch}) "
              f"with the host/ back end (cid 3); firmware boots take a while under TCG")
        t0 = time.monotonic()
        g = uefi.Guest(args.arch, "echo", backend.qemu_args(device), shared_mem=True)
        try:
            g.wait_for("echo: listening on port", timeout=300)
            return hello_round_trip(backend, g, args.port, b"hello, barevsock under UEFI!\n", "firmware",
                                    "README.md, 'barevsock as a UEFI application'", t0)
        finally:
            g.kill()


if __name__ == "__main__":
    sys.exit(main())
