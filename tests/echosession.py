# SPDX-License-Identifier: BSD-2-Clause
"""The known exchange the capture tests, the kernel-lane vsockmon comparison
and docs/protocol.md share: a host program connects to apps/echo (port 1234),
sends HELLO, reads the echo, closes; the guest's RST ends it. Here it runs
through host/ (bv-vhost-vsock --pcap). Not a test by itself."""
import os
import signal
import tempfile

import qemu
from vsockhost import TRANSPORTS, Setup, hybrid_connect, pool_lines, wait_pool_baseline

HELLO = b"hello, vsock\n"
ECHO_PORT = 1234
# docs/protocol.md's connection: more than the guest's 16 KiB buffer, so credit runs out once.
WALKTHROUGH = b"".join(b"line %04d of the walkthrough\n" % i for i in range(700))[:20000]
CASE = {t[0]: t for t in TRANSPORTS}


def exchange(sock, message=HELLO):
    """Send message, read its echo, close. Returns the echo."""
    sock.settimeout(30)
    sock.sendall(message)
    got = b""
    while len(got) < len(message):
        d = sock.recv(4096)
        if not d:
            break
        got += d
    sock.close()
    return got


class Session:
    """A back end recording to `pcap` plus apps/echo booted against it."""

    def __init__(self, pcap, case="q35-pci", backend_args=(), tmp=None, profile=""):
        self.pcap = pcap
        self.setup = Setup(CASE[case], "echo", tmp or tempfile.mkdtemp(prefix="bv-pcap-"),
                           backend_args=["--pcap", pcap, *backend_args], profile=profile)
        self.guest = self.setup.guest
        self.backend = self.setup.backend
        self.guest.wait_for("echo: listening on port 1234", timeout=90)

    def run_exchange(self, message=HELLO):
        """The known exchange; returns (echo, host port). Waits until the guest
        is idle again, which is after its RST went out (so it is on the ring)."""
        before = len(pool_lines(self.setup))
        sock, host_port = hybrid_connect(self.backend.uds, ECHO_PORT, timeout=30, retry=True)
        assert sock is not None, f"CONNECT refused: {host_port!r}\n{self.describe()}"
        got = exchange(sock, message)
        wait_pool_baseline(self.setup, before, timeout=60)
        return got, host_port

    def stop_backend(self, sig=signal.SIGTERM):
        return self.backend.stop(sig)

    def describe(self):
        return self.setup.describe()

    def close(self):
        self.setup.close()


# The walkthrough is recorded with the small profile (16 KiB window, 4 KiB
# packets), so that 20000 bytes run the guest's credit out once.
WALKTHROUGH_PROFILE = "small"


def record(pcap, case="q35-pci", backend_args=(), message=HELLO, profile=""):
    """One whole session into `pcap`: boot, exchange, clean back-end exit.
    Returns the host port the back end chose."""
    s = Session(pcap, case, backend_args, profile=profile)
    try:
        got, host_port = s.run_exchange(message)
        assert got == message, f"echo of {len(got)} bytes\n{s.describe()}"
        assert s.stop_backend() == 0, s.describe()
    finally:
        s.close()
    return host_port


if __name__ == "__main__":
    # By hand: python3 tests/echosession.py OUT.pcap [--walkthrough]
    # (make docs-capture records docs/walkthrough.pcap this way)
    import sys
    out = os.path.abspath(sys.argv[1])
    msg = WALKTHROUGH if "--walkthrough" in sys.argv[2:] else HELLO
    port = record(out, message=msg, profile=WALKTHROUGH_PROFILE if msg is WALKTHROUGH else "")
    print(f"recorded the echo session ({len(msg)} bytes each way) to {out} (host port {port})")
