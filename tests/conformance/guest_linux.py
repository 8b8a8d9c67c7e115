# SPDX-License-Identifier: BSD-2-Clause
"""The conformance suite's servers for the Linux guest: the same ports and
behaviour as apps/hold in barevsock, over Python AF_VSOCK on the guest
kernel's own virtio transport. Runs inside the Debian-kernel guest
(tests/linuxvm.py); writes "ready" (with the guest CID) into its work
directory once every listener is up, then serves until the VM is killed.
Ports: 1234/1235 echo, 1236/1237 sink (reads, never writes), 1238/1239 hold
(accepts, never reads), 1240 a STREAM listener that never accepts, 1298/1297
dial (accept, close, connect to host port 5000 STREAM / 5001 SEQPACKET, say
"dialed!\\n", then sink), 1299 release (close every held connection and
re-create the 1240 listener). Not a general server: no threads, no limits."""
import errno
import fcntl
import os
import selectors
import socket
import struct
import sys

BACKLOG = 8   # backlog of 1240, which never accepts: Linux refuses once more than this wait (sk_acceptq_is_full)
BIG_BACKLOG = 128   # the listeners whose application accepts at once: never the limit
ST, SP = socket.SOCK_STREAM, socket.SOCK_SEQPACKET
PORTS = [(1234, ST, "echo"), (1235, SP, "echo"), (1236, ST, "sink"), (1237, SP, "sink"),
         (1238, ST, "hold"), (1239, SP, "hold"), (1240, ST, "noaccept"),
         (1297, SP, "dial:5001"), (1298, ST, "dial:5000"), (1299, ST, "release")]
GREETING = b"dialed!\n"

sel = selectors.DefaultSelector()
held = []          # hold sockets: never read, never closed until release
listeners = {}     # port -> socket


def log(*a):
    print("guest:", *a, flush=True)


def listen(port, kind):
    s = socket.socket(socket.AF_VSOCK, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((socket.VMADDR_CID_ANY, port))
    s.listen(BACKLOG if port == 1240 else BIG_BACKLOG)
    s.setblocking(False)
    listeners[port] = s
    return s


class Conn:
    def __init__(self, s, role, kind):
        self.s, self.role, self.kind = s, role, kind
        self.out = []          # echo: pending (data, flags)
        self.greet = role == "dial"
        s.setblocking(False)

    def close(self):
        try:
            sel.unregister(self.s)
        except (KeyError, ValueError):
            pass
        self.s.close()

    def want(self):
        ev = selectors.EVENT_READ
        if self.out or (self.greet and self.role == "dialing"):
            ev |= selectors.EVENT_WRITE
        return ev

    def handle(self, mask):
        try:
            if self.role == "dialing":
                err = self.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    log(f"dial failed: {os.strerror(err)}")
                    self.close()
                    return
                self.role = "dial"
                self.s.send(GREETING)
                self.greet = False
                sel.modify(self.s, self.want(), self)
                return
            if self.role == "echo":
                self.echo(mask)
            else:                      # sink, dial
                self.sink()
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return
            self.close()

    def sink(self):
        while True:
            try:
                d = self.s.recv(65536)
            except BlockingIOError:
                return
            if not d:
                self.close()
                return

    def echo(self, mask):
        if mask & selectors.EVENT_WRITE:
            self.flush()
        while not self.out:
            try:
                if self.kind == SP:
                    d, _, flags, _ = self.s.recvmsg(1 << 20)
                    eor = flags & socket.MSG_EOR
                else:
                    d, eor = self.s.recv(65536), 0
            except BlockingIOError:
                break
            if not d and self.kind == ST:
                self.close()           # peer done and everything echoed
                return
            if not d and not eor:
                # SEQPACKET EOF (a zero-length message would carry EOM, never seen here)
                self.close()
                return
            self.out.append((d, eor))
            self.flush()
        sel.modify(self.s, self.want(), self)

    def flush(self):
        while self.out:
            d, eor = self.out[0]
            try:
                if self.kind == SP:
                    n = self.s.sendmsg([d], [], eor)
                else:
                    n = self.s.send(d)
            except BlockingIOError:
                return
            if n < len(d) and self.kind == ST:
                self.out[0] = (d[n:], 0)
                continue
            self.out.pop(0)


def on_listener(port, kind, role):
    s = listeners[port]
    while True:
        try:
            c, _ = s.accept()
        except BlockingIOError:
            return
        if role.startswith("dial:"):
            c.close()
            d = socket.socket(socket.AF_VSOCK, kind)
            d.setblocking(False)
            rc = d.connect_ex((2, int(role[5:])))
            if rc not in (0, errno.EINPROGRESS):
                log(f"dial failed at once: {os.strerror(rc)}")
                d.close()
                continue
            conn = Conn(d, "dialing", kind)
            sel.register(d, selectors.EVENT_WRITE, conn)
        elif role == "release":
            c.close()
            n = len(held)
            for h in held:
                h.close()
            held.clear()
            listeners[1240].close()   # never registered: nobody accepts there
            listen(1240, ST)
            log(f"released {n} held connection(s)")
        elif role == "hold":
            held.append(c)
        else:
            conn = Conn(c, role, kind)
            sel.register(c, selectors.EVENT_READ, conn)


def main():
    with open("/dev/vsock", "rb") as f:
        # IOCTL_VM_SOCKETS_GET_LOCAL_CID
        cid = struct.unpack("I", fcntl.ioctl(f, 0x7b9, b"\0" * 4))[0]
    for port, kind, role in PORTS:
        try:
            s = listen(port, kind)
        except OSError as e:
            log(f"listen on {port} failed: {e}")
            continue
        if role != "noaccept":
            sel.register(s, selectors.EVENT_READ, ("L", port, kind, role))
    with open("ready.tmp", "w") as f:
        f.write(f"{cid}\n")
    os.rename("ready.tmp", "ready")
    log(f"ready, cid {cid}")
    while True:
        for key, mask in sel.select(1.0):
            d = key.data
            try:
                if isinstance(d, tuple):
                    on_listener(d[1], d[2], d[3])
                else:
                    d.handle(mask)
            except Exception as e:   # a bug here must not take the guest down with it
                log(f"error: {type(e).__name__}: {e}")


if __name__ == "__main__":
    sys.exit(main())
