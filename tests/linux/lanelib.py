# SPDX-License-Identifier: BSD-2-Clause
"""Helpers for kernel-lane driver scripts, which run in the outer Linux next
to the inner guest (PYTHONPATH points here). Only what drivers share:
the guest's CID, waiting on its console, connecting with retries."""
import errno
import json
import os
import socket
import time

CID = int(os.environ.get("LANE_CID", "3"))
JOB_DIR = os.environ.get("LANE_JOB_DIR", ".")
CONSOLE = os.environ.get("LANE_CONSOLE", "console.log")
QEMU_PID = int(os.environ.get("LANE_QEMU_PID", "0"))

# Right after the inner guest starts, connects fail until its driver has
# posted RX buffers (RST -> ECONNRESET) or registered at all (ENODEV).
TRANSIENT = {errno.ECONNRESET, errno.ECONNREFUSED, errno.ETIMEDOUT, errno.ENODEV}


def console():
    try:
        with open(CONSOLE, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def guest_alive():
    """True while the inner QEMU runs (not yet reaped counts as gone)."""
    if not QEMU_PID:
        return True
    try:
        with open(f"/proc/{QEMU_PID}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_console(text, timeout=60):
    """Wait until the inner guest prints `text`; raise with its console if
    not, or as soon as the inner QEMU is gone."""
    deadline = time.monotonic() + timeout
    while text not in console():
        if not guest_alive() and text not in console():
            raise RuntimeError(f"inner QEMU exited before printing {text!r}; "
                               f"console:\n{console()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"inner guest did not print {text!r} in {timeout}s; "
                               f"console:\n{console()[-3000:]}")
        time.sleep(0.05)


def connect(port, cid=None, timeout=30, connect_timeout=2.0):
    """AF_VSOCK stream connection to the guest, retrying transient errors
    until `timeout`. Returns the connected socket."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.settimeout(connect_timeout)
        try:
            s.connect((CID if cid is None else cid, port))
            s.settimeout(None)
            return s
        except OSError as e:
            s.close()
            last = e
            if e.errno not in TRANSIENT and not isinstance(e, socket.timeout):
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"connect to {cid or CID}:{port} kept failing for {timeout}s: {last!r}")
        time.sleep(0.1)


def connect_error(port, cid=None, timeout=5.0):
    """Connect once and return the errno it fails with (0 if it succeeded):
    for checks like 'a port nobody listens on is refused'."""
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((CID if cid is None else cid, port))
        return 0
    except socket.timeout:
        return errno.ETIMEDOUT
    except OSError as e:
        return e.errno
    finally:
        s.close()


def save(name="driver.json", **values):
    """Record values for the host-side test (JobResult.data)."""
    path = os.path.join(JOB_DIR, name)
    with open(path + ".tmp", "w") as f:
        json.dump(values, f)
    os.rename(path + ".tmp", path)
