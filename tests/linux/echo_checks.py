# SPDX-License-Identifier: BSD-2-Clause
"""Checks a vsock echo server from the vsock host side: one large transfer
with a hash check, several concurrent connections, and a port nobody listens
on. Runs in the kernel lane's outer Linux (a driver imports it); no asserts
about timing, only correctness. Results go to driver.json via lanelib.save."""
import errno
import hashlib
import os
import sys
import threading
import time

import lanelib


def echo_once(port, size, cid=None, chunk=16384, timeout=60):
    """Send `size` random bytes and read them back; returns (ok, detail).
    Sending runs in its own thread so a server that echoes before reading
    everything never deadlocks against our unread receive buffer."""
    data = os.urandom(size)
    s = lanelib.connect(port, cid=cid, timeout=30)
    s.settimeout(timeout)
    err = []

    def sender():
        try:
            view = memoryview(data)
            for off in range(0, size, chunk):
                s.sendall(view[off:off + chunk])
        except OSError as e:
            err.append(e)

    t0 = time.monotonic()
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    got = hashlib.sha256()
    n = 0
    try:
        while n < size:
            buf = s.recv(65536)
            if not buf:
                break
            got.update(buf)
            n += len(buf)
    except OSError as e:
        err.append(e)
    th.join(timeout)
    secs = time.monotonic() - t0
    s.close()
    ok = not err and n == size and got.digest() == hashlib.sha256(data).digest()
    return ok, {"bytes": n, "expected": size, "seconds": round(secs, 3),
                "errors": [repr(e) for e in err], "hash_ok": got.digest() == hashlib.sha256(data).digest()}


def main(port=1234, size=256 * 1024, conns=4, conn_size=64 * 1024, closed_port=4321, cid=None):
    results = {}
    ok1, results["single"] = echo_once(port, size, cid=cid)

    out = [None] * conns

    def worker(i):
        try:
            out[i] = echo_once(port, conn_size, cid=cid)
        except Exception as e:  # report, don't hang the join
            out[i] = (False, {"exception": repr(e)})

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    ok2 = all(o is not None and o[0] for o in out)
    results["concurrent"] = [o[1] if o else "hung" for o in out]

    # The guest must answer a connect to a closed port with RST: Linux then
    # fails connect() with ECONNRESET (never a timeout).
    e = lanelib.connect_error(closed_port, cid=cid, timeout=10)
    results["closed_port_errno"] = errno.errorcode.get(e, e)
    ok3 = e in (errno.ECONNRESET, errno.ECONNREFUSED)

    results["ok"] = {"single": ok1, "concurrent": ok2, "closed_port": ok3}
    lanelib.save(**results)
    print(results, flush=True)
    return 0 if ok1 and ok2 and ok3 else 1


if __name__ == "__main__":
    sys.exit(main())
