# SPDX-License-Identifier: BSD-2-Clause
"""A minimal QMP client for tests: connect to a QEMU started with
-qmp unix:PATH,server=on,wait=off, negotiate, run commands. Events that
arrive while waiting for a reply are kept in .events. Not a general
QMP library: no async, no out-of-band commands."""
import json
import socket
import time


class QMPError(AssertionError):
    pass


class QMP:
    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        self.sock = socket.socket(socket.AF_UNIX)
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise QMPError(f"QMP socket {path} never accepted a connection")
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.f = self.sock.makefile("rw")
        self.events = []
        greeting = json.loads(self.f.readline())
        if "QMP" not in greeting:
            raise QMPError(f"not a QMP greeting: {greeting!r}")
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        """Run one command; returns its "return" value, raises on "error"."""
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                raise QMPError(f"QMP closed while waiting for {name}")
            r = json.loads(line)
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise QMPError(f"{name} {args}: {r['error']}")
            return r["return"]

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass
