# SPDX-License-Identifier: BSD-2-Clause
"""The host service apps/fetch talks to (its protocol is in
apps/fetch/main.c): length-prefixed messages over any stream socket (a Unix
socket behind host/'s back end, or AF_VSOCK in the kernel lane). serve()
answers one guest and returns what happened, including whether the digest
the guest computed matches the blob it was sent. Not a test by itself."""
import hashlib
import struct


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise EOFError(f"stream ended after {len(buf)} of {n} bytes")
        buf += d
    return buf


def read_msg(sock):
    (n,) = struct.unpack("<I", read_exact(sock, 4))
    return read_exact(sock, n)


def write_msg(sock, data):
    sock.sendall(struct.pack("<I", len(data)) + data)


def serve(sock, blobs):
    """One fetch: GET, the blob, then the guest's digest, checked here.
    Returns {"name", "size", "expected", "guest", "verified"} (or "error")."""
    req = read_msg(sock).decode()
    if not req.startswith("GET "):
        write_msg(sock, b"ERR bad request")
        return {"error": f"bad request {req!r}"}
    name = req[4:]
    if name not in blobs:
        write_msg(sock, b"ERR no such blob")
        return {"error": f"unknown blob {name!r}", "name": name}
    blob = blobs[name]
    write_msg(sock, b"OK")
    write_msg(sock, blob)
    expected = hashlib.sha256(blob).hexdigest()
    claim = read_msg(sock).decode()
    guest = claim[len("SHA256 "):] if claim.startswith("SHA256 ") else None
    verified = guest == expected
    write_msg(sock, b"VERIFIED" if verified else f"MISMATCH {expected}".encode())
    return {"name": name, "size": len(blob), "expected": expected, "guest": guest, "verified": verified}
