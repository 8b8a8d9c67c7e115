#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""`make bench`: barevsock against a Linux guest, side by side in one run.

Both guests boot under the same QEMU binary, machine type, CPU model, memory
size and TCG settings, attached to the same host/ back end
(bv-vhost-vsock-fast), and are driven by the same host clients through its
Unix socket. The rounds alternate the two guests (and the order within a
round), so a noisy machine affects both alike. Each figure is the median of
the rounds with min-max. barevsock also runs alone on aarch64 and 32-bit Arm,
with the small profile (build/<arch>-small) and as the busy-poll build
(build/x86_64-busypoll, make busypoll) on x86_64; after the rounds, its idle
QEMU CPU is measured once on every transport the tests cover.
Non-goals: judging a figure (the report says where a target is met and where
not) and any assertion on timing (tests/test_bench.py only runs --quick).

    bench/run.py                 full run: 7 rounds, 64 MiB transfers, 10,000 pings
    bench/run.py --quick         one small round (make bench-quick, make test)

Writes <out>/results.md, <out>/results.png and build/bench/<mode>-raw.json.
The boots, back ends and connections come from the tests' harness
(tests/qemu.py, tests/vsockhost.py, tests/linuxvm.py via bench/linuxguest.py);
the transfers are bench/stream.c and bench/pingpong.c, each a process of its
own so its CPU time is measured apart."""
import argparse
import glob
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
import qemu  # noqa: E402
import vsockhost  # noqa: E402
import membudget  # noqa: E402
import linuxguest  # noqa: E402

BUILD = qemu.BUILD
FAST_BACKEND = os.path.join(BUILD, "host", "bv-vhost-vsock-fast")
PINGPONG = os.path.join(BUILD, "bench", "bv-pingpong")
STREAM = os.path.join(BUILD, "bench", "bv-stream")
ECHO_PORT, SINK_PORT, SOURCE_PORT = 1234, 1235, 1236
MiB = 1 << 20
GiB = 1 << 30
MEM_MB = 256
RETRY_S = 0.002             # pause between CONNECT attempts while a guest boots
OP_TIMEOUT = 300            # any one client run
BOOT_TIMEOUT = 120
ECHO8_CONNS = 8

# arch -> the tests' transport case (vsockhost.TRANSPORTS) the bench boots:
# the same machine, CPU and vhost-user device as `make run`.
CASES = {"x86_64": "q35-pci", "aarch64": "a64-pci", "arm": "a32-mmio-v1"}
# Both x86_64 guests get -cpu max (Linux's test VMs use it too). The thread
# names make the vCPU's own CPU time readable (/proc/<pid>/task/*/comm).
EXTRA = {"x86_64": ["-cpu", "max"]}
NAME_THREADS = ["-name", "bench,debug-threads=on"]
ARCH_NAMES = {"x86_64": "x86_64", "aarch64": "aarch64", "arm": "32-bit Arm"}

FULL = dict(runs=7, echo_bytes=64 * MiB, echo8_bytes=8 * MiB, oneway_bytes=64 * MiB,
            pings=10000, loop_bytes=64 * MiB, idle_s=10)
QUICK = dict(runs=1, echo_bytes=4 * MiB, echo8_bytes=512 << 10, oneway_bytes=4 * MiB,
             pings=500, loop_bytes=16 * MiB, idle_s=2)
IDLE_SETTLE_S = 1.0         # after the last byte, before the idle CPU is measured

# The transfers; each is measured with the CPU time of every process.
# key -> (label, bytes-per-connection key, connections, bytes crossing the
# back end per payload byte sent)
TRANSFERS = {
    "echo": ("Echo, 1 connection ({echo}, each way)", "echo_bytes", 1, 2),
    "echo8": (f"Echo, {ECHO8_CONNS} connections at once ({{echo8}} each, aggregate each way)",
              "echo8_bytes", ECHO8_CONNS, 2),
    "h2g": ("One-way host→guest ({oneway}, guest sink)", "oneway_bytes", 1, 1),
    "g2h": ("One-way guest→host ({oneway}, guest source)", "oneway_bytes", 1, 1),
}
SHORT = {"echo": "echo", "echo8": f"{ECHO8_CONNS}-conn echo", "h2g": "host→guest",
         "g2h": "guest→host"}
# Guest memcpys of each payload byte, from the code path (see the report's
# Method): barevsock's echo moves bytes with vsock_splice (RX buffer -> TX
# buffer), sink reads them where they lie (vsock_recv_borrow), source copies
# its pattern once into reserved TX room (vsock_send_reserve; the stack adds
# no copy); Linux copies out of the RX packet in recvmsg and into a new TX
# packet in sendmsg (bvbench fills its source buffer once, outside the loop).
COPIES = {("barevsock", "echo"): 1, ("barevsock", "echo8"): 1, ("barevsock", "h2g"): 0,
          ("barevsock", "g2h"): 1, ("linux", "echo"): 2, ("linux", "echo8"): 2,
          ("linux", "h2g"): 1, ("linux", "g2h"): 1}
PROCS = (("vcpu", "QEMU vCPU thread"), ("qemu_other", "QEMU's other threads"),
         ("backend", "back end"), ("client", "client"))

# The issues' targets (14, then 15), x86_64; echo text and idle CPU per
# transport are added per arch / per transport. (key, metric, op, bound,
# label): barevsock ÷ Linux, but "idle" is barevsock's own % of a host CPU and
# "bp_*" the halting build ÷ the busy-poll build.
TARGETS = [
    ("echo", "echo", ">=", 3.0, "echo throughput ≥ 3× Linux"),
    ("h2g", "h2g", ">=", 3.0, "host→guest ≥ 3× Linux"),
    ("g2h", "g2h", ">=", 3.0, "guest→host ≥ 3× Linux"),
    ("echo8", "echo8", ">=", 3.0, f"{ECHO8_CONNS}-connection echo ≥ 3× Linux"),
    ("memcpy", "echo", ">=", 0.5, "echo ≥ 0.5× the guest's memcpy bandwidth"),
    ("cpu_echo", "cpu_echo", "<=", 1.0, "back-end CPU per GiB, echo ≤ 1× Linux"),
    ("cpu_echo8", "cpu_echo8", "<=", 1.0, f"back-end CPU per GiB, {ECHO8_CONNS}-conn echo ≤ 1× Linux"),
    ("cpu_h2g", "cpu_h2g", "<=", 1.0, "back-end CPU per GiB, host→guest ≤ 1× Linux"),
    ("cpu_g2h", "cpu_g2h", "<=", 1.0, "back-end CPU per GiB, guest→host ≤ 1× Linux"),
    ("p50", "p50", "<=", 1 / 3, "round trip p50 ≤ ⅓ of Linux"),
    ("p99", "p99", "<=", 1 / 3, "round trip p99 ≤ ⅓ of Linux"),
    ("boot", "boot", "<=", 1 / 20, "boot to first echo ≤ 1/20 of Linux (kept from before)"),
    ("idle", "idle", "<=", 2.0, "idle QEMU CPU, q35 ≤ 2% of a host CPU (issue 15)"),
    ("bp_echo", "echo", ">=", 0.9, "echo throughput, halting ÷ busy-poll ≥ 0.9 (issue 15)"),
    ("bp_p50", "p50", "<=", 1.1, "round trip p50, halting ÷ busy-poll ≤ 1.1 (issue 15)"),
]
TEXT_TARGET = 64 * 1024
IDLE_TARGET_ANY = 5.0       # % of a host CPU, every transport (issue 15)


def idle_label(case_id):
    return f"idle QEMU CPU, {case_id} ≤ 5% (issue 15)"


def text_label(arch):
    return f"echo ELF text < 64 KiB, {ARCH_NAMES[arch]}"

# Headings and row labels the report always has; tests/test_bench.py checks them.
REPORT_ROWS = (["## The issue's targets", "## Where the time goes", "## x86_64: barevsock vs Linux",
                "## barevsock on every architecture", "## The small profile",
                "## Halting vs busy-poll", "## Idle host CPU per transport",
                "## Memory and image size", "Guest memcpy bandwidth", "Host Unix-socket loopback",
                "Idle host CPU", "archive static RAM", "echo ELF text", "load average"] +
               [t[4] for t in TARGETS])


class BenchError(RuntimeError):
    pass


T_START = time.monotonic()


def progress(msg):
    t = int(time.monotonic() - T_START)
    print(f"[bench {t // 60:02d}:{t % 60:02d}] {msg}", flush=True)


# ----------------------------------------------------------- processes ---

# A guest that polls never exits by itself: if this process dies without
# cleaning up (SIGKILL, a test-runner timeout), QEMU and the back end must die
# with it instead of spinning on a host CPU for good. setpriv (util-linux)
# sets the parent-death signal and execs, so the PID is the program's.
DIE_WITH_US = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []


def task_cpu(pid, only=None):
    """CPU seconds (user + sys) of a process's threads, from the scheduler's
    nanosecond run time (/proc/<pid>/task/*/schedstat); `only`: threads whose
    name starts with it. Falls back to the 10 ms ticks of .../stat."""
    total = 0.0
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            if only:
                with open(f"{task}/comm") as f:
                    if not f.read().startswith(only):
                        continue
            try:
                with open(f"{task}/schedstat") as f:
                    total += int(f.read().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                with open(f"{task}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass    # a thread that just ended
    return total


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


STATS_RE = re.compile(r"stats: conns .*?guest tx (\d+) pkts (\d+) bytes, guest rx (\d+) pkts (\d+) "
                      r"bytes;.*calls (\d+); kicks rx (\d+) tx (\d+) event (\d+)")


class Session:
    """One guest boot with its own back end (bv-vhost-vsock-fast): the tests'
    vsockhost.Backend and qemu.Guest, with the bench's memory size. case: a
    vsockhost.TRANSPORTS id (default: the arch's in CASES)."""

    def __init__(self, tmp, arch, kernel, extra, what, case=None):
        self.what, self.arch = what, arch
        self.dir = tempfile.mkdtemp(prefix="s-", dir=tmp)
        _cid, target, device, case_extra, _tr = next(c for c in vsockhost.TRANSPORTS
                                                      if c[0] == (case or CASES[arch]))
        self.target = target
        self.closed = False
        self.guest = None
        self.backend = vsockhost.Backend(self.dir, binary=FAST_BACKEND, prefix=DIE_WITH_US)
        self.cmd = qemu.qemu_cmd(target, kernel, self.backend.qemu_args(device) + list(case_extra) +
                                 EXTRA.get(arch, []) + NAME_THREADS + list(extra),
                                 mem_mb=MEM_MB, shared_mem=True)
        self.guest = qemu.Guest(target, kernel, cmd=DIE_WITH_US + self.cmd)
        self.guest_errors = []

    def fail(self, msg):
        text = f"{self.what}: {msg}\n{self.guest.describe()}\n---- back end ----\n" \
               f"{self.backend.stderr()[-2000:]}"
        self.close()
        return BenchError(text)

    def connect(self, port, timeout=BOOT_TIMEOUT):
        """CONNECT to a guest port, retrying every RETRY_S while the guest
        boots or has not started listening (the back end holds a REQUEST
        until the guest posts RX buffers; a guest that is up but not
        listening resets)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.guest.proc.poll() is not None:
                raise self.fail(f"QEMU exited while connecting to port {port}")
            try:
                s, _ = vsockhost.hybrid_connect(self.backend.uds, port,
                                                timeout=max(1.0, deadline - time.monotonic()))
            except OSError:
                s = None
            if s is not None:
                s.settimeout(OP_TIMEOUT)
                return s
            if time.monotonic() > deadline:
                raise self.fail(f"guest port {port} did not accept within {timeout}s")
            time.sleep(RETRY_S)

    def counters(self):
        """The back end's counters now (SIGUSR1 makes it print them)."""
        before = self.backend.stderr().count("stats: conns")
        self.backend.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while True:
            log = self.backend.stderr()
            if log.count("stats: conns") > before:
                break
            if time.monotonic() > deadline:
                raise self.fail("the back end did not print its counters on SIGUSR1")
            time.sleep(0.005)
        m = STATS_RE.findall(log)
        if not m:
            raise self.fail("cannot parse the back end's counters line")
        tx_pkts, tx_bytes, rx_pkts, rx_bytes, calls, k_rx, k_tx, k_ev = (int(x) for x in m[-1])
        return {"pkts": tx_pkts + rx_pkts, "bytes": tx_bytes + rx_bytes, "calls": calls,
                "kicks": k_rx + k_tx + k_ev}

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.guest:
            self.guest.kill()
        self.backend.stop()
        self.guest_errors = [ln for ln in self.backend.stderr().splitlines() if "guest error" in ln]
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------- measurements ---

def first_echo(ss):
    """Seconds from QEMU start until the host has the first echoed byte."""
    s = ss.connect(ECHO_PORT)
    s.sendall(b"\x5a")
    got = s.recv(1)
    t = time.monotonic() - ss.guest.t0
    s.close()
    if got != b"\x5a":
        raise ss.fail(f"first echo returned {got!r}")
    return t


def ping_pong(ss, n):
    """p50 and p99 in µs of n 1-byte round trips on one connection, timed
    by bv-pingpong (C) on the connection this process opened."""
    s = ss.connect(ECHO_PORT, timeout=30)
    s.setblocking(True)    # a Python timeout makes the fd O_NONBLOCK; the tool wants it blocking
    res = subprocess.run([PINGPONG, str(s.fileno()), str(n)], pass_fds=[s.fileno()],
                         capture_output=True, text=True, timeout=OP_TIMEOUT)
    s.close()
    if res.returncode != 0:
        raise ss.fail(f"bv-pingpong failed: {res.stderr.strip()}")
    p50, p99 = (int(x) / 1000 for x in res.stdout.split())
    return p50, p99


def transfer(ss, kind, per_conn):
    """One transfer by bv-stream with everything measured around it:
    MiB/s (the client's clock; echo: aggregate, each way), each process's
    CPU time as a share of the wall time, the back end's CPU seconds per GiB
    that crossed it, and its kicks, calls and packets per MiB that crossed it."""
    _label, _key, nconn, crossings = TRANSFERS[kind]
    port = {"echo": ECHO_PORT, "echo8": ECHO_PORT, "h2g": SINK_PORT, "g2h": SOURCE_PORT}[kind]
    mode = {"h2g": "sink", "g2h": "source"}.get(kind, "echo")
    socks = [ss.connect(port, timeout=BOOT_TIMEOUT) for _ in range(nconn)]
    qpid, bpid = ss.guest.proc.pid, ss.backend.proc.pid
    c0 = ss.counters()
    q0, v0, b0, k0 = task_cpu(qpid), task_cpu(qpid, "CPU "), task_cpu(bpid), children_cpu()
    t0 = time.monotonic()
    res = subprocess.run([STREAM, mode, str(per_conn)] + [str(s.fileno()) for s in socks],
                         pass_fds=[s.fileno() for s in socks], capture_output=True, text=True,
                         timeout=OP_TIMEOUT)
    wall = time.monotonic() - t0
    q1, v1, b1, k1 = task_cpu(qpid), task_cpu(qpid, "CPU "), task_cpu(bpid), children_cpu()
    c1 = ss.counters()
    for s in socks:
        s.close()
    if res.returncode != 0:
        raise ss.fail(f"bv-stream {mode} failed: {res.stderr.strip()}")
    if kind == "h2g":
        try:
            ss.guest.wait_for(f"sink: {per_conn} bytes", 30)
        except AssertionError as e:
            raise ss.fail(f"the sink did not report {per_conn} bytes: {str(e)[:200]}") from None
    secs = int(res.stdout.split()[0]) / 1e9
    moved = per_conn * nconn * crossings    # payload bytes through the back end
    vcpu = v1 - v0
    r = {kind: per_conn * nconn / MiB / secs,
         f"cpu_{kind}": (b1 - b0) / (moved / GiB),
         f"vcpu_{kind}": vcpu / wall, f"qemu_other_{kind}": max(0.0, q1 - q0 - vcpu) / wall,
         f"backend_{kind}": (b1 - b0) / wall, f"client_{kind}": (k1 - k0) / wall}
    for c in ("kicks", "calls", "pkts"):
        r[f"{c}_{kind}"] = (c1[c] - c0[c]) / (moved / MiB)
    return r


def idle_cpu(ss, secs):
    """QEMU's CPU share (% of one host CPU) over secs with one echo connection
    open and idle after a one-byte echo (issue 15), and the shares of its
    vCPU thread and of the back end over the same time."""
    s = ss.connect(ECHO_PORT, timeout=30)
    s.sendall(b"i")
    if s.recv(1) != b"i":
        raise ss.fail("idle probe: no echo")
    time.sleep(IDLE_SETTLE_S)          # let the last packets and the polling window pass
    qpid, bpid = ss.guest.proc.pid, ss.backend.proc.pid
    q0, v0, b0, t0 = task_cpu(qpid), task_cpu(qpid, "CPU "), task_cpu(bpid), time.monotonic()
    time.sleep(secs)
    q1, v1, b1, t1 = task_cpu(qpid), task_cpu(qpid, "CPU "), task_cpu(bpid), time.monotonic()
    s.close()
    wall = t1 - t0
    return {"idle": 100 * (q1 - q0) / wall, "idle_vcpu": 100 * (v1 - v0) / wall,
            "idle_backend": 100 * (b1 - b0) / wall}


def idle_per_transport(tmp, secs, arches, commands):
    """barevsock echo's idle QEMU CPU on every transport the tests cover
    (vsockhost.TRANSPORTS) whose arch is in the run, one boot each:
    {case id: {idle, idle_vcpu, idle_backend, machine, device}}."""
    out = {}
    for cid, target, device, extra, _tr in vsockhost.TRANSPORTS:
        arch = qemu.arch_of(target)
        if arch not in arches:
            continue
        with Session(tmp, arch, qemu.elf_path(arch, "echo"), [], f"barevsock {cid} (idle)",
                     case=cid) as ss:
            commands.setdefault(f"barevsock {cid} (idle)", ss.cmd)
            first_echo(ss)
            r = idle_cpu(ss, secs)
        r["machine"] = " ".join(qemu.TARGETS[target][2])
        r["device"] = " ".join([device] + list(extra))
        out[cid] = r
    return out


def unix_ping_floor(n):
    """p50/p99 µs of bv-pingpong against a host process (bv-pingpong --echo)
    over a Unix socketpair: the host side's own share of a round trip."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    echo = subprocess.Popen([PINGPONG, "--echo", str(b.fileno())], pass_fds=[b.fileno()])
    b.close()
    res = subprocess.run([PINGPONG, str(a.fileno()), str(n)], pass_fds=[a.fileno()],
                         capture_output=True, text=True, timeout=OP_TIMEOUT)
    a.close()
    echo.wait(10)
    if res.returncode != 0:
        raise BenchError(f"bv-pingpong (floor) failed: {res.stderr.strip()}")
    p50, p99 = (int(x) / 1000 for x in res.stdout.split())
    return p50, p99


def memcpy_bandwidth(arch):
    """barevsock's memcpy app under the same QEMU settings (no vsock device)."""
    target = next(c[1] for c in vsockhost.TRANSPORTS if c[0] == CASES[arch])
    g = qemu.Guest(target, qemu.elf_path(arch, "memcpy"), EXTRA.get(arch, []), mem_mb=MEM_MB,
                   shared_mem=True)
    try:
        g.wait(120)
    finally:
        g.kill()
    m = re.search(r"memcpy: ([0-9.]+) MiB/s", g.text)
    if not m:
        raise BenchError(f"memcpy on {arch}: no 'memcpy: <MiB/s>' line\n{g.describe()}")
    return float(m.group(1)), g.cmd


def unix_loopback(nbytes):
    """Host Unix stream socket throughput between two processes."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:   # reader: drain to EOF, then exit (closing its end)
        a.close()
        buf = bytearray(MiB)
        try:
            while b.recv_into(buf):
                pass
        finally:
            os._exit(0)
    b.close()
    chunk = 256 * 1024
    data = memoryview(bytes(chunk))
    t0 = time.monotonic()
    for _ in range(nbytes // chunk):
        a.sendall(data)
    a.shutdown(socket.SHUT_WR)
    a.recv(1)            # EOF once the reader has everything and exits
    secs = time.monotonic() - t0
    a.close()
    os.waitpid(pid, 0)
    return nbytes / MiB / secs


# ------------------------------------------------------------- sessions ---

def run_guest(tmp, arch, guest, profile, cfg, commands):
    """One round of every per-guest figure. barevsock: one boot per app
    (echo, sink, source); Linux: one boot serves all three ports. The small
    profile: boot, round trips and the one-connection echo only (its pool
    of 4 has room for 2 connections beside the 2 listeners); the busy-poll
    build: the same and the idle CPU. Idle CPU is measured on x86_64 only
    (the other arches get theirs per transport, after the rounds)."""
    r, errors = {}, []
    linux = guest == "linux"
    what = f"{guest} {arch}" + (f" ({profile} profile)" if profile else "")

    def boot(app):
        if linux:
            args = linuxguest.boot_args()
            kernel, extra = args[1], args[2:]
        else:
            kernel, extra = qemu.elf_path(arch, app, profile), []
        ss = Session(tmp, arch, kernel, extra, f"{what} ({app})")
        commands.setdefault(f"{what} ({'all' if linux else app})", ss.cmd)
        commands.setdefault("back end", ss.backend.cmd)
        return ss

    ss = boot("echo")
    try:
        r["boot"] = first_echo(ss)
        r["p50"], r["p99"] = ping_pong(ss, cfg["pings"])
        r.update(transfer(ss, "echo", cfg["echo_bytes"]))
        if arch == "x86_64" and profile != "small":
            r.update(idle_cpu(ss, cfg["idle_s"]))
        if profile:
            return r, errors
        r.update(transfer(ss, "echo8", cfg["echo8_bytes"]))
        for kind, app in (("h2g", "sink"), ("g2h", "source")):
            if not linux:
                ss.close()
                errors += ss.guest_errors
                ss = boot(app)
            r.update(transfer(ss, kind, cfg["oneway_bytes"]))
    finally:
        ss.close()
        errors += ss.guest_errors
    return r, errors


def other_qemus():
    """QEMU processes not started by this run: other work on the machine."""
    n = 0
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(comm) as f:
                if not f.read().startswith("qemu-system"):
                    continue
            with open(comm[:-4] + "stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            n += ppid != os.getpid()
        except (OSError, ValueError, IndexError):
            pass
    return n


# ----------------------------------------------------------------- format ---

def fmt(v):
    if v is None:
        return "—"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def pct(v):
    return "—" if v is None else f"{100 * v:.0f}%"


def stat(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def med(values):
    st = stat(values)
    return st["median"] if st else None


def cell(st, f=fmt):
    if not st:
        return "—"
    if st["n"] == 1:
        return f(st["median"])
    return f"{f(st['median'])} ({f(st['min'])}–{f(st['max'])})"


# ----------------------------------------------------------------- sizes ---

def elf_size(arch, profile="", app="echo"):
    out = subprocess.run([membudget.SIZE[arch], qemu.elf_path(arch, app, profile)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def archive_ram(arch, profile=""):
    """data + bss of libbarevsock.a as built for the images (the library has
    no heap, so this is its worst-case static RAM; tools/membudget.py
    measures the same)."""
    lib = os.path.join(BUILD, arch + (f"-{profile}" if profile else ""), "libbarevsock.a")
    out = subprocess.run([membudget.SIZE[arch], "-t", lib], capture_output=True, text=True,
                         check=True).stdout
    tot = [ln for ln in out.splitlines() if "(TOTALS)" in ln][0].split()
    return int(tot[1]) + int(tot[2])


def porting_ram():
    """PORTING.md's totals rows (tools/membudget.py), per arch: defaults and
    the small profile; None where the table is missing."""
    try:
        with open(os.path.join(ROOT, "PORTING.md")) as f:
            rows = [ln for ln in f.read().splitlines() if ln.startswith(membudget.TOTALS)]
    except OSError:
        return None
    out = {}
    for ln in rows:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        vals = [int(c.replace(",", "")) for c in cells[-len(membudget.ARCHES):]]
        if "static RAM at the defaults" in ln:
            out[""] = dict(zip(membudget.ARCHES, vals))
        elif "static RAM with" in ln:
            out["small"] = dict(zip(membudget.ARCHES, vals))
    return out or None


def text_breakdown(arch):
    """What the echo ELF's text (as `size` counts it: code and read-only
    data) is made of: the largest symbols, and the boot page tables (arch
    start.S, .rodata.arch_pgt), which have no symbol size."""
    nm = membudget.SIZE[arch][:-len("size")] + "nm"
    out = subprocess.run([nm, "-S", "--size-sort", "-t", "d", qemu.elf_path(arch, "echo")],
                         capture_output=True, text=True, check=True).stdout
    syms = []
    for ln in out.splitlines():
        p = ln.split()
        if len(p) == 4 and p[2] in "tTrR":
            syms.append((int(p[1]), p[3]))
    pgt = 0
    for o in glob.glob(os.path.join(BUILD, arch, "arch", arch, "*.S.o")):
        sec = subprocess.run([membudget.SIZE[arch], "-A", o], capture_output=True, text=True,
                             check=True).stdout
        for ln in sec.splitlines():
            p = ln.split()
            if p and p[0].startswith(".rodata.arch_pgt"):
                pgt += int(p[1])
    libc = sum(n for n, s in syms if re.search(r"printf|dtoa|udivmod|divdi|__aeabi|memcpy|memset|"
                                              r"memmove|strlen|__ultoa|__lltoa", s))
    return {"pagetables": pgt, "libc": libc, "largest": sorted(syms, reverse=True)[:5]}


# ---------------------------------------------------------------- report ---

def machine_info():
    cpu = "?"
    mem = 0
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else cpu
        with open("/proc/meminfo") as f:
            mem = int(re.search(r"MemTotal:\s*(\d+)", f.read()).group(1)) // 1024
    except (OSError, AttributeError):
        pass
    qv = {}
    for b in ("qemu-system-x86_64", "qemu-system-aarch64", "qemu-system-arm"):
        try:
            qv[b] = subprocess.run([b, "--version"], capture_output=True,
                                   text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            qv[b] = "not found"
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return {"uname": " ".join(platform.uname()), "cpu": cpu, "cpus": os.cpu_count(),
            "mem_mib": mem, "qemu": qv, "git": git + (" (with uncommitted changes)" if dirty else ""),
            "linux_kernel": linuxguest.linuxvm.kernel_version(), "load_start": os.getloadavg()}


def check(op, bound, v):
    if v is None:
        return None
    return v >= bound if op == ">=" else v <= bound


def bound_label(op, bound):
    frac = {1 / 3: "⅓", 1 / 20: "1/20", 0.5: "0.5×", 1.0: "1×", 3.0: "3×", 0.9: "0.9×",
            1.1: "1.1×"}.get(bound, fmt(bound))
    return ("≥ " if op == ">=" else "≤ ") + frac


def ratio_of(res, key, a="bv", b="lx"):
    x, y = med(res[a].get(key, [])), med(res[b].get(key, []))
    return x / y if x is not None and y else None


def paired(res, key, a="bv", b="lx"):
    """Per-round ratios (the two were measured in the same round)."""
    return [x / y for x, y in zip(res[a].get(key, []), res[b].get(key, []))
            if x is not None and y]


def shares(r, kind):
    return {p: med(r.get(f"{p}_{kind}", [])) for p, _ in PROCS}


def share_text(r, kind):
    s = shares(r, kind)
    parts = [f"{name} {pct(s[p])}" for p, name in PROCS]
    tot = sum(v for v in s.values() if v is not None)
    return ", ".join(parts) + f" (sum {tot:.2f} CPUs)"


def saturated(r, kind, ncpu):
    """Which process (or the machine) ran out of CPU during a transfer."""
    s = shares(r, kind)
    if any(v is None for v in s.values()):
        return "?"
    who = [name for p, name in PROCS if s[p] >= 0.9]
    tot = sum(s.values())
    if tot >= 0.9 * ncpu:
        who.append(f"the machine ({tot:.2f} of {ncpu} CPUs busy)")
    return ", ".join(who) if who else "nothing (waiting on each other)"


def per_mib(r, kind):
    k, c, p = (med(r.get(f"{x}_{kind}", [])) for x in ("kicks", "calls", "pkts"))
    avg = f", {MiB / p / 1024:.1f} KiB a packet" if p else ""
    return f"{fmt(k)} kicks, {fmt(c)} calls, {fmt(p)} packets per MiB{avg}"


def where(res, kind, ncpu, other="lx"):
    """The "where the time goes" sentence for a transfer: barevsock against
    Linux, or (other="busypoll") the halting build against the busy-poll one."""
    bv, ot = res["bv"], res[other]
    if other == "busypoll":
        return (f"halting: {share_text(bv, kind)}, saturated: {saturated(bv, kind, ncpu)}; "
                f"{per_mib(bv, kind)}. Busy-poll: {share_text(ot, kind)}, saturated: "
                f"{saturated(ot, kind, ncpu)}; {per_mib(ot, kind)}.")
    return (f"barevsock: {share_text(bv, kind)}, saturated: {saturated(bv, kind, ncpu)}; "
            f"{per_mib(bv, kind)}; {COPIES[('barevsock', kind)]} guest cop"
            f"{'y' if COPIES[('barevsock', kind)] == 1 else 'ies'} per byte. "
            f"Linux: {share_text(ot, kind)}, saturated: {saturated(ot, kind, ncpu)}; "
            f"{per_mib(ot, kind)}; {COPIES[('linux', kind)]} guest cop"
            f"{'y' if COPIES[('linux', kind)] == 1 else 'ies'} per byte.")


def idle_where(r):
    """Where an idle guest's CPU goes: QEMU's vCPU thread against its others."""
    q, v, b = (med(r.get(k, [])) if isinstance(r.get(k), list) else r.get(k)
               for k in ("idle", "idle_vcpu", "idle_backend"))
    if q is None:
        return "not measured"
    return (f"QEMU {fmt(q)}% (its vCPU thread {fmt(v)}%, other threads "
            f"{fmt(max(0.0, q - v))}%), back end {fmt(b)}%")


def targets(res, refs, sizes):
    """[{label, value, unit, bound, op, met, note}] for the targets table:
    value and bound in the row's unit (× a ratio, % of a host CPU)."""
    rows = []
    ncpu = os.cpu_count()
    for key, metric, op, bound, label in TARGETS:
        unit = "×"
        if key == "memcpy":
            e, m = med(res["bv"].get("echo", [])), med(refs["memcpy"]["x86_64"])
            v = e / m if e and m else None
            lxe = med(res["lx"].get("echo", []))
            note = (f"echo {fmt(e)} MiB/s, memcpy {fmt(m)} MiB/s (Linux's echo: "
                    f"{fmt(lxe / m if lxe and m else None)}×). " + where(res, "echo", ncpu))
        elif key == "idle":
            v, unit = med(res["bv"].get("idle", [])), "%"
            note = (f"barevsock: {idle_where(res['bv'])}; Linux: {idle_where(res['lx'])}; "
                    f"the busy-poll build: {idle_where(res['busypoll'])}.")
        elif key.startswith("bp_"):
            v = ratio_of(res, metric, "bv", "busypoll")
            pr = paired(res, metric, "bv", "busypoll")
            rng = f"per-round {fmt(min(pr))}–{fmt(max(pr))}. " if len(pr) > 1 else ""
            u = "MiB/s" if metric in TRANSFERS else "µs"
            note = (rng + f"halting {fmt(med(res['bv'].get(metric, [])))} {u}, busy-poll "
                    f"{fmt(med(res['busypoll'].get(metric, [])))} {u}. " +
                    (where(res, metric, ncpu, "busypoll") if metric in TRANSFERS else
                     f"The client against a host echo process alone takes "
                     f"{fmt(med(refs['floor_p50']))} µs."))
        else:
            v = ratio_of(res, metric)
            pr = paired(res, metric)
            rng = f"per-round {fmt(min(pr))}–{fmt(max(pr))}. " if len(pr) > 1 else ""
            kind = metric[4:] if metric.startswith("cpu_") else metric
            if kind in TRANSFERS:
                note = rng + where(res, kind, ncpu)
            elif key in ("p50", "p99"):
                fl = med(refs[f"floor_{key}"])
                note = (rng + f"barevsock {fmt(med(res['bv'].get(key, [])))} µs, Linux "
                        f"{fmt(med(res['lx'].get(key, [])))} µs; the client against a host "
                        f"echo process alone takes {fmt(fl)} µs.")
            else:
                note = (rng + f"barevsock {fmt(med(res['bv'].get(key, [])))} s, Linux "
                        f"{fmt(med(res['lx'].get(key, [])))} s from QEMU's start.")
        rows.append({"label": label, "value": v, "unit": unit, "bound": bound, "op": op,
                     "met": check(op, bound, v), "note": note})
    for cid, r in refs.get("idle_transports", {}).items():
        v = r["idle"]
        rows.append({"label": idle_label(cid), "value": v, "unit": "%", "bound": IDLE_TARGET_ANY,
                     "op": "<=", "met": check("<=", IDLE_TARGET_ANY, v),
                     "note": f"{idle_where(r)}; `{r['machine']}`, `{r['device']}` (one boot)."})
    for arch, sz in sizes.items():
        t = sz["default"]["text"]
        b = sz["breakdown"]
        note = (f"{t:,} B: boot page tables (read-only data in arch/{arch}/start.S) "
                f"{b['pagetables']:,} B, libc routines (printf, division, mem*) {b['libc']:,} B; "
                "largest symbols " + ", ".join(f"`{s}` {n:,}" for n, s in b["largest"]))
        rows.append({"label": text_label(arch), "value": t / TEXT_TARGET, "unit": "KiB",
                     "bound": 1.0, "op": "<", "met": t < TEXT_TARGET, "note": note})
    return rows


def shown_value(r):
    v = r["value"]
    if v is None:
        return "—"
    if r["unit"] == "KiB":
        return f"{fmt(v * TEXT_TARGET / 1024)} KiB"
    return f"{fmt(v)}{r['unit']}"


def shown_bound(r):
    if r["unit"] == "KiB":
        return "< 64 KiB"
    if r["unit"] == "%":
        return ("≥ " if r["op"] == ">=" else "≤ ") + f"{r['bound']:g}%"
    return bound_label(r["op"], r["bound"])


def write_report(out, mode, cfg, res, refs, sizes, info, commands, errors, elapsed, argv, loads):
    lab = {k: (v[0].format(echo=f"{cfg['echo_bytes'] // MiB} MiB",
                           echo8=f"{cfg['echo8_bytes'] / MiB:g} MiB",
                           oneway=f"{cfg['oneway_bytes'] // MiB} MiB")) for k, v in TRANSFERS.items()}
    ncpu = os.cpu_count()
    L = []
    L.append(f"# barevsock vs Linux: vsock benchmark ({mode} run)\n")
    la = [x for ld in loads for x in ld]
    L.append(f"Generated by `{' '.join(argv)}` in {elapsed / 60:.1f} min, git {info['git']}. "
             f"Machine: {ncpu} CPUs; load average (1 min) over the run {min(la):.2f}–{max(la):.2f}"
             f" (at start {info['load_start'][0]:.2f}, at end {os.getloadavg()[0]:.2f}); other "
             f"QEMUs running beside the bench: {min(refs['others'])}–{max(refs['others'])}. "
             "**Everything ran under QEMU's TCG** (no KVM anywhere): absolute figures measure "
             "QEMU's instruction emulation as much as either guest, and only the ratios carry over.\n")
    L.append(f"Each figure is the median of {cfg['runs']} round(s) with min–max in brackets. "
             "The two x86_64 guests alternate within every round (the order flips each round), "
             "boot under the same QEMU command line apart from `-kernel`/`-initrd`/`-append`, and "
             "are served by the same back end (`build/host/bv-vhost-vsock-fast`, a fresh process "
             "per boot) and the same host clients.\n")

    L.append("## The issue's targets (issue 14: x86_64, barevsock ÷ Linux 6.1; issue 15: idle "
             "CPU, halting ÷ busy-poll; this run)\n")
    L.append("Issue 14's targets are barevsock ÷ Linux; issue 15's are barevsock's idle QEMU CPU "
             "(% of one host CPU; x86_64 q35 over the rounds, then every transport once) and the "
             "halting build ÷ the busy-poll build (`make busypoll`) in the same rounds.\n")
    rows = targets(res, refs, sizes)
    L.append("| target | measured | bound | met | where the time goes (for a miss) |")
    L.append("|---|---|---|---|---|")
    for r in rows:
        m = "—" if r["met"] is None else ("yes" if r["met"] else "**missed**")
        L.append(f"| {r['label']} | {shown_value(r)} | {shown_bound(r)} | {m} | "
                 f"{r['note'] if r['met'] is False else ''} |")
    L.append("")
    missed = [r["label"] for r in rows if r["met"] is False]
    L.append(f"Met {sum(1 for r in rows if r['met'])} of {len(rows)}" +
             (f"; missed: {'; '.join(missed)}." if missed else ".") + "\n")

    L.append("## Where the time goes (x86_64, every transfer)\n")
    L.append("CPU time of each process during the transfer as a share of one host CPU "
             f"(the machine has {ncpu}); kicks (guest → back end notifications), calls (back end "
             "→ guest interrupts) and packets as the back end counted them, per MiB that crossed "
             "it; guest copies per payload byte from the code path (see Method).\n")
    L.append("| transfer | guest | MiB/s | " + " | ".join(n for _p, n in PROCS) +
             " | saturated | back end s/GiB | kicks/MiB | calls/MiB | packets/MiB | guest copies/byte |")
    L.append("|---|---|---|" + "---|" * len(PROCS) + "---|---|---|---|---|---|")
    for kind in TRANSFERS:
        for g, name in (("bv", "barevsock"), ("lx", "Linux")):
            r = res[g]
            s = shares(r, kind)
            L.append(f"| {SHORT[kind]} | {name} | {cell(stat(r.get(kind, [])))} | " +
                     " | ".join(pct(s[p]) for p, _ in PROCS) +
                     f" | {saturated(r, kind, ncpu)} | {fmt(med(r.get('cpu_' + kind, [])))} | "
                     f"{fmt(med(r.get('kicks_' + kind, [])))} | {fmt(med(r.get('calls_' + kind, [])))}"
                     f" | {fmt(med(r.get('pkts_' + kind, [])))} | "
                     f"{COPIES[('barevsock' if g == 'bv' else 'linux', kind)]} |")
    L.append("")
    L.append("barevsock polls its rings while the device gives it work and halts in "
             "`vsock_wait()` after a short polling window with nothing to do (BV_VSOCK_WAIT_SPIN_US, "
             "growing up to BV_VSOCK_WAIT_SPIN_MAX_US), so its vCPU share is the time it worked or "
             "polled; Linux takes the device's interrupts. The busy-poll build's vCPU spins "
             "throughout (see Halting vs busy-poll).\n")

    L.append("## x86_64: barevsock vs Linux\n")
    L.append("| metric | unit | barevsock | Linux 6.1 | barevsock ÷ Linux (per-round range) |")
    L.append("|---|---|---|---|---|")
    metrics = [("boot", "Boot to first echo", "s")] + \
              [(k, lab[k], "MiB/s") for k in TRANSFERS] + \
              [("p50", f"Round trip, 1-byte ping-pong, p50 ({cfg['pings']:,} trips)", "µs"),
               ("p99", f"Round trip, 1-byte ping-pong, p99 ({cfg['pings']:,} trips)", "µs")] + \
              [(f"cpu_{k}", f"Back-end CPU per GiB moved: {SHORT[k]}", "s/GiB") for k in TRANSFERS]
    idle_row = ("idle", f"Idle host CPU: QEMU with one open idle connection ({cfg['idle_s']} s)",
                "% of a CPU")
    for k, name, unit in metrics + [idle_row]:
        pr = paired(res, k)
        rng = f" ({fmt(min(pr))}–{fmt(max(pr))})" if len(pr) > 1 else ""
        L.append(f"| {name} | {unit} | {cell(stat(res['bv'].get(k, [])))} | "
                 f"{cell(stat(res['lx'].get(k, [])))} | {fmt(ratio_of(res, k))}{rng} |")
    L.append("")
    L.append("### Reference ceilings (same run)\n")
    L.append("| ceiling | MiB/s | barevsock echo as a fraction | Linux echo as a fraction |")
    L.append("|---|---|---|---|")
    eb, el = med(res["bv"].get("echo", [])), med(res["lx"].get("echo", []))
    for name, vals in (("Guest memcpy bandwidth (barevsock `memcpy` app, x86_64, same QEMU "
                        "settings, 64 × 1 MiB)", refs["memcpy"]["x86_64"]),
                       (f"Host Unix-socket loopback (stream, two processes, "
                        f"{cfg['loop_bytes'] // MiB} MiB)", refs["unix"])):
        m = med(vals)
        L.append(f"| {name} | {cell(stat(vals))} | {fmt(eb / m if eb and m else None)} | "
                 f"{fmt(el / m if el and m else None)} |")
    L.append("")
    L.append(f"Host-only ping-pong floor: the same client against a host process echoing over a "
             f"Unix socketpair takes p50 {cell(stat(refs['floor_p50']))} µs and p99 "
             f"{cell(stat(refs['floor_p99']))} µs per round trip; that much of every guest round "
             "trip above is the client itself.\n")

    L += idle_report(cfg, res, refs)

    L.append("## barevsock on every architecture\n")
    arches = [a for a in CASES if a in res["arch"]]
    L.append("| metric | unit | " + " | ".join(
        f"{ARCH_NAMES[a]} ({next(c[1] for c in vsockhost.TRANSPORTS if c[0] == CASES[a])}, "
        f"{CASES[a]})" for a in arches) + " |")
    L.append("|---|---|" + "---|" * len(arches))
    for k, name, unit in metrics:
        L.append(f"| {name} | {unit} | " +
                 " | ".join(cell(stat(res["arch"][a].get(k, []))) for a in arches) + " |")
    for kind in ("echo", "echo8"):
        L.append(f"| QEMU vCPU / back end / client CPU, {SHORT[kind]} | share of a CPU | " +
                 " | ".join("/".join(pct(med(res["arch"][a].get(f"{p}_{kind}", [])))
                                     for p in ("vcpu", "backend", "client")) for a in arches) + " |")
    L.append("| Guest memcpy bandwidth | MiB/s | " +
             " | ".join(cell(stat(refs["memcpy"].get(a, []))) for a in arches) + " |")
    L.append("")

    L.append("## The small profile (x86_64)\n")
    sm = res["small"]
    L.append(f"`make small-arches` builds the images with `{membudget.EXAMPLE_CONFIG}` "
             "(4 connections including the 2 listeners, 16 KiB window, 4 KiB packets) into "
             "build/<arch>-small; echo only (its pool has room for 2 connections at once).\n")
    L.append("| metric | unit | small profile | defaults | small ÷ defaults |")
    L.append("|---|---|---|---|---|")
    for k, name, unit in metrics[:2] + [m for m in metrics if m[0] in ("p50", "p99", "cpu_echo")]:
        a, b = med(sm.get(k, [])), med(res["bv"].get(k, []))
        L.append(f"| {name} | {unit} | {cell(stat(sm.get(k, [])))} | {cell(stat(res['bv'].get(k, [])))}"
                 f" | {fmt(a / b if a is not None and b else None)} |")
    for p, name in PROCS:
        L.append(f"| {name}, echo | share of a CPU | {pct(med(sm.get(f'{p}_echo', [])))} | "
                 f"{pct(med(res['bv'].get(f'{p}_echo', [])))} | |")
    L.append("")

    L.append("## Memory and image size\n")
    por = porting_ram()
    L.append("The library has no heap: its worst-case RAM is the data + bss that "
             "`libbarevsock.a` reserves, fixed at link time by `include/bv/config.h` (or a "
             "`BV_CONFIG` header). Measured here with `size -t` on the archives the images were "
             "linked from, as tools/membudget.py does for PORTING.md's table.\n")
    L.append("| arch | archive static RAM, defaults | small profile | PORTING.md (defaults / small) "
             "| echo ELF text, defaults | small profile | echo data + bss, defaults | small profile "
             "| text < 64 KiB |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for a in arches:
        sz = sizes[a]
        pr = (f"{por[''][a]:,} / {por['small'][a]:,}" +
              ("" if (por[""][a], por["small"][a]) == (sz["ram"], sz["ram_small"]) else " (**stale**)")
              ) if por and a in por.get("", {}) and a in por.get("small", {}) else "—"
        d, s = sz["default"], sz["small"]
        L.append(f"| {ARCH_NAMES[a]} | {sz['ram']:,} B ({sz['ram'] / 1024:.0f} KiB) | "
                 f"{sz['ram_small']:,} B ({sz['ram_small'] / 1024:.0f} KiB) | {pr} | {d['text']:,} | "
                 f"{s['text']:,} | {d['data'] + d['bss']:,} | {s['data'] + s['bss']:,} | "
                 f"{'yes' if d['text'] < TEXT_TARGET else '**no**'} |")
    L.append("")
    L.append("`size` counts read-only data as text: on aarch64 and 32-bit Arm that includes the "
             "boot page tables of arch/<arch>/start.S; see the targets table for what each "
             "echo text is made of. The echo image's data + bss adds the app's own table, the "
             "discovery layer and the boot stack to the archive's.\n")

    if errors:
        L.append("## Guest errors logged by the back end\n")
        L.append("The back end logs each kind of guest misbehaviour once per process; these "
                 "appeared during the run (figures were still recorded):\n")
        for e in sorted(set(errors))[:20]:
            L.append(f"- `{e.strip()}`")
        L.append("")

    L.append("## Machine\n")
    L.append(f"- host: {info['uname']}")
    L.append(f"- CPU: {info['cpu']}, {info['cpus']} logical CPUs, {info['mem_mib']:,} MiB RAM")
    L.append(f"- load average (1, 5, 15 min) at start: "
             f"{' '.join(f'{x:.2f}' for x in info['load_start'])}, at end: "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; at each round's start (1 min): "
             f"{', '.join(f'{ld[0]:.2f}' for ld in loads)}")
    L.append(f"- other QEMU processes at each round's start: {', '.join(map(str, refs['others']))}")
    for b, v in info["qemu"].items():
        L.append(f"- `{b}`: {v}")
    L.append(f"- Linux guest: Debian linux-image-amd64 {info['linux_kernel']}, the ELF vmlinux "
             "from /boot/vmlinuz booted through its PVH note (as barevsock is), and a "
             "minimal initramfs: busybox-static, virtio-pci and the vsock modules, "
             "`bench/linux/bvbench.c` (static) as PID 1")
    L.append("")
    L.append("## Method\n")
    L.append(f"- Boot to first echo: from just before QEMU is started until the host client has "
             f"the first echoed byte. The client retries `CONNECT {ECHO_PORT}` every "
             f"{RETRY_S * 1000:.0f} ms until the guest accepts, then sends one byte.")
    L.append(f"- Transfers: `bench/stream.c` (build/bench/bv-stream), a process of its own, on "
             f"connections the harness opened through the back end. Echo: random bytes written in "
             f"256 KiB pieces while the echo is read back and compared, on 1 connection "
             f"({cfg['echo_bytes'] // MiB} MiB) or {ECHO8_CONNS} at once "
             f"({cfg['echo8_bytes'] / MiB:g} MiB each; MiB/s is the aggregate, each direction "
             f"counted once). Host→guest: {cfg['oneway_bytes'] // MiB} MiB to port {SINK_PORT}, "
             "then `shutdown(SHUT_WR)`; the clock stops when the guest closes (it has read "
             "everything) and its console must report the count. Guest→host: an 8-byte count to "
             f"port {SOURCE_PORT}; the clock stops at EOF; the bytes are checked against the pattern.")
    L.append("- CPU shares: user+sys time of each process across the transfer (QEMU: all threads "
             "from /proc/<pid>/task/*/schedstat, the vCPU thread apart by its name under "
             "`-name debug-threads=on`; the back end: the same; the client: getrusage of the "
             "harness's children), divided by the wall time. Back-end CPU per GiB divides its "
             "CPU time by the payload that crossed it (echo counts both directions).")
    L.append("- Kicks, calls, packets: the back end's counters (SIGUSR1 prints them) before and "
             "after the transfer: kicks are the guest's doorbell writes as QEMU forwards them "
             "(the kick eventfds' counts), calls the interrupts the back end raised, packets both "
             "directions; per MiB that crossed the back end.")
    L.append("- Guest copies per payload byte, from the code path: barevsock's `apps/echo` moves "
             "data with `vsock_splice` (one memcpy from the RX buffer the device wrote into the "
             "TX buffer it leaves from; a small packet is also copied onto the tail of the RX "
             "buffer before it); `apps/sink` reads with `vsock_recv_borrow`/`vsock_recv_release` "
             "(none); `apps/source` copies its pattern into room from `vsock_send_reserve`, the "
             "TX buffer the bytes leave from (one, the app's own: the stack adds none). Linux "
             "6.1: `recvmsg` copies out of the RX packet buffer and `sendmsg` into a newly "
             "allocated TX packet buffer (net/vmw_vsock/virtio_transport_common.c), so its echo "
             "copies each byte twice and sink or source once (bvbench fills its source buffer "
             "once, outside the loop).")
    L.append(f"- Latency: {cfg['pings']:,} sequential 1-byte round trips on one echo connection "
             "(after 50 warm-up trips), each timed with CLOCK_MONOTONIC by `bench/pingpong.c` "
             "(built as build/bench/bv-pingpong) on the connection the harness opened.")
    L.append("- barevsock boots one image per app (`echo`, `sink`, `source`), Linux serves all "
             "three ports from one boot (8 echo worker processes, so 8 connections are served at "
             "once). Both boot times include QEMU's own start-up and firmware (the same for both).")
    L.append(f"- Both guests halt when idle and take the device's interrupt (barevsock: "
             "`vsock_wait()`, polling for a moment after traffic before it halts); the busy-poll "
             "build (`make busypoll`, `configs/busypoll.h`) spins instead and keeps one host CPU "
             f"busy. With {ncpu} host CPUs, a busy vCPU takes one and the back end and the client "
             "share what is left; other load on the machine (see Machine) reaches the p99 as "
             "millisecond scheduling delays.")
    L.append(f"- Idle host CPU: one echo connection is opened and one byte echoed, then nothing "
             f"for {IDLE_SETTLE_S:g} s and {cfg['idle_s']} s of measurement: QEMU's CPU time (every "
             "thread, schedstat as above) over the wall time, in % of one host CPU. x86_64 q35 "
             "(both guests and the busy-poll build) in every round; every transport of "
             "tests/vsockhost.py once after the rounds, with the same back end and memory size.")
    L.append("")
    L.append("## Command lines\n")
    L.append("The run:\n")
    L.append(f"    {' '.join(argv)}\n")
    L.append("Socket paths are per boot (a temporary directory); these are the first of each kind.\n")
    for what, cmd in commands.items():
        L.append(f"{what}:\n")
        L.append("    " + " ".join(cmd) + "\n")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(L))
    return rows


def idle_report(cfg, res, refs):
    """Issue 15's sections: the halting build against the busy-poll build,
    and idle QEMU CPU per transport."""
    L = ["## Halting vs busy-poll (barevsock x86_64 q35, same rounds)\n",
         "The default build halts in `vsock_wait()` until the device's interrupt or a timer; "
         "the busy-poll build (`configs/busypoll.h`, build/x86_64-busypoll) spins on the rings. "
         "Issue 15 wants the halting build within 10% of the busy-poll one on echo throughput and "
         "round-trip p50, and idle QEMU CPU ≤ 2% on q35 (the targets table has the verdicts).\n",
         "| metric | unit | halting | busy-poll | halting ÷ busy-poll (per-round range) |",
         "|---|---|---|---|---|"]
    rows = [("echo", f"Echo, 1 connection ({cfg['echo_bytes'] // MiB} MiB, each way)", "MiB/s"),
            ("p50", "Round trip, 1-byte ping-pong, p50", "µs"),
            ("p99", "Round trip, 1-byte ping-pong, p99", "µs"),
            ("boot", "Boot to first echo", "s"),
            ("vcpu_echo", "QEMU vCPU thread during the echo", "share of a CPU"),
            ("idle", f"Idle host CPU: QEMU ({cfg['idle_s']} s)", "% of a CPU"),
            ("idle_vcpu", "Idle host CPU: its vCPU thread", "% of a CPU")]
    for k, name, unit in rows:
        pr = paired(res, k, "bv", "busypoll")
        rng = f" ({fmt(min(pr))}–{fmt(max(pr))})" if len(pr) > 1 else ""
        f = pct if unit == "share of a CPU" else fmt
        L.append(f"| {name} | {unit} | {cell(stat(res['bv'].get(k, [])), f)} | "
                 f"{cell(stat(res['busypoll'].get(k, [])), f)} | "
                 f"{fmt(ratio_of(res, k, 'bv', 'busypoll'))}{rng} |")
    L.append("")
    per = refs.get("idle_transports") or {}
    L.append(f"## Idle host CPU per transport (barevsock echo, {cfg['idle_s']} s, one boot each)\n")
    if not per:
        L.append("Not measured in this run.\n")
        return L
    L.append("| transport | machine | device | QEMU, % of a CPU | its vCPU thread | back end | ≤ 5% |")
    L.append("|---|---|---|---|---|---|---|")
    for cid, r in per.items():
        L.append(f"| {cid} | `{r['machine']}` | `{r['device']}` | {fmt(r['idle'])} | "
                 f"{fmt(r['idle_vcpu'])} | {fmt(r['idle_backend'])} | "
                 f"{'yes' if r['idle'] <= IDLE_TARGET_ANY else '**no**'} |")
    L.append("")
    return L


def write_chart(out, cfg, rows, res):
    """Left: each target's measured value against its bound (log axis).
    Right: where the CPU goes during each x86_64 transfer, per guest (and the
    busy-poll build's echo)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in rows if r["value"] is not None]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(15, 0.45 * len(rows) + 2.5),
                                 gridspec_kw={"width_ratios": [3, 2]})
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        v = max(r["value"], 1e-3)    # a log axis has no 0 (an idle share can round to it)
        ax.barh(y, v, color="tab:green" if r["met"] else "tab:red", height=0.6)
        ax.text(v, y, f" {fmt(r['value'])}{'%' if r['unit'] == '%' else '×'}", va="center",
                ha="left", fontsize=8)
        ax.plot([r["bound"]], [y], marker="|", markersize=16, markeredgewidth=2.5, color="tab:blue")
    ax.plot([], [], marker="|", linestyle="none", markersize=12, markeredgewidth=2.5,
            color="tab:blue", label="the bound")
    ax.set_xscale("log")
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels([r["label"].replace("echo ELF text < 64 KiB", "echo text ÷ 64 KiB")
                        for r in rows], fontsize=8)
    ax.set_xlabel("measured: × a ratio, % of a host CPU (log scale; green met, red missed)")
    ax.set_title(f"targets (issues 14, 15), QEMU TCG, median of {cfg['runs']} round(s)",
                 fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    cats = [(kind, g) for kind in TRANSFERS for g in ("bv", "lx")] + [("echo", "busypoll")]
    gname = {"bv": "barevsock", "lx": "Linux", "busypoll": "barevsock busy-poll"}
    colors = {"vcpu": "tab:orange", "qemu_other": "navajowhite", "backend": "tab:purple",
              "client": "tab:gray"}
    yb = list(range(len(cats)))[::-1]
    for y, (kind, g) in zip(yb, cats):
        left = 0.0
        for p, name in PROCS:
            v = med(res[g].get(f"{p}_{kind}", [])) or 0.0
            bx.barh(y, v, left=left, color=colors[p], height=0.6,
                    label=name if (kind, g) == cats[0] else None)
            left += v
        mibs = med(res[g].get(kind, []))
        bx.text(left, y, f" {fmt(mibs)} MiB/s", va="center", fontsize=7)
    bx.axvline(os.cpu_count(), color="black", linewidth=0.8, linestyle="--")
    bx.set_yticks(yb)
    bx.set_yticklabels([f"{SHORT[k]}, {gname[g]}" for k, g in cats], fontsize=8)
    bx.set_xlabel("host CPUs busy during the transfer (dashed: all of them)")
    bx.set_title("where the CPU goes (x86_64)", fontsize=10)
    bx.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "results.png"), dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------ main ---

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one small round (for make test)")
    ap.add_argument("--runs", type=int, help="rounds (default 7, at least 5; quick 1)")
    ap.add_argument("--out", help="directory for results.md and results.png "
                                  "(default bench/, quick: build/bench/quick)")
    ap.add_argument("--arches", default="x86_64,aarch64,arm",
                    help="barevsock architectures (x86_64 is always included)")
    args = ap.parse_args()
    cfg = dict(QUICK if args.quick else FULL)
    if args.runs:
        cfg["runs"] = args.runs
    mode = "quick" if args.quick else "full"
    if not args.quick and cfg["runs"] < 5:
        progress(f"warning: {cfg['runs']} round(s); the issue asks for medians of at least 5")
    out = args.out or (os.path.join(BUILD, "bench", "quick") if args.quick else HERE)
    os.makedirs(out, exist_ok=True)
    arches = ["x86_64"] + [a for a in args.arches.split(",") if a in CASES and a != "x86_64"]
    argv = [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]

    for p in [FAST_BACKEND, PINGPONG, STREAM, linuxguest.HELPER]:
        if not os.path.exists(p):
            raise BenchError(f"{p} is missing: run 'make bench' (it builds everything first)")
    for a in arches:
        for app in ("echo", "sink", "source", "memcpy"):
            qemu.elf_path(a, app)
    qemu.elf_path("x86_64", "echo", "small")
    qemu.elf_path("x86_64", "echo", "busypoll")
    progress(f"{mode} run: {cfg['runs']} round(s); barevsock on {', '.join(arches)} (and the small "
             "profile and the busy-poll build on x86_64), Linux on x86_64; then idle CPU per "
             "transport; everything under TCG")
    info = machine_info()
    progress("preparing the Linux guest (kernel ELF, initramfs)")
    linuxguest.boot_args()

    res = {"bv": {}, "lx": {}, "small": {}, "busypoll": {},
           "arch": {a: {} for a in arches if a != "x86_64"}}
    refs = {"memcpy": {a: [] for a in arches}, "unix": [], "floor_p50": [], "floor_p99": [],
            "others": []}
    loads = []
    commands, errors = {}, []
    tmp = tempfile.mkdtemp(prefix="bvbench-")
    try:
        for rnd in range(cfg["runs"]):
            loads.append(os.getloadavg())
            refs["others"].append(other_qemus())
            # The halting build sits between Linux and the busy-poll build,
            # and each pair's order flips every round.
            order = [("x86_64", "barevsock", ""), ("x86_64", "barevsock", "busypoll"),
                     ("x86_64", "linux", "")]
            if rnd % 2:
                order.reverse()
            order += [("x86_64", "barevsock", "small")]
            order += [(a, "barevsock", "") for a in arches if a != "x86_64"]
            for arch, guest, profile in order:
                t = time.monotonic()
                r, errs = run_guest(tmp, arch, guest, profile, cfg, commands)
                errors += errs
                dest = (res[profile] if profile else res["lx"] if guest == "linux"
                        else res["bv"] if arch == "x86_64" else res["arch"][arch])
                for k, v in r.items():
                    dest.setdefault(k, []).append(v)
                line = ", ".join(f"{SHORT[k]} {r[k]:.1f}" for k in TRANSFERS if k in r)
                idle = f", idle QEMU {r['idle']:.1f}%" if "idle" in r else ""
                progress(f"round {rnd + 1}/{cfg['runs']} {guest:9s} {arch:7s}"
                         f"{' ' + profile if profile else ''}"
                         f": boot {r['boot']:.3f} s, {line} MiB/s, rtt p50 {r['p50']:.0f} "
                         f"p99 {r['p99']:.0f} µs, back end s/GiB " +
                         "/".join(f"{r['cpu_' + k]:.2f}" for k in TRANSFERS if 'cpu_' + k in r) +
                         f"{idle} ({time.monotonic() - t:.0f} s)")
            for a in arches:
                mbs, cmd = memcpy_bandwidth(a)
                refs["memcpy"][a].append(mbs)
                commands.setdefault(f"memcpy {a}", cmd)
            refs["unix"].append(unix_loopback(cfg["loop_bytes"]))
            p50, p99 = unix_ping_floor(cfg["pings"])
            refs["floor_p50"].append(p50)
            refs["floor_p99"].append(p99)
            progress(f"round {rnd + 1}/{cfg['runs']} ceilings: memcpy " +
                     ", ".join(f"{a} {refs['memcpy'][a][-1]:.1f}" for a in arches) +
                     f" MiB/s; Unix loopback {refs['unix'][-1]:.0f} MiB/s; host-only "
                     f"ping-pong p50 {p50:.0f} µs; load {os.getloadavg()[0]:.2f}")
        progress(f"idle QEMU CPU per transport ({cfg['idle_s']} s each)")
        refs["idle_transports"] = idle_per_transport(tmp, cfg["idle_s"], arches, commands)
        progress("idle QEMU CPU per transport: " +
                 ", ".join(f"{k} {v['idle']:.1f}%" for k, v in refs["idle_transports"].items()))
        loads.append(os.getloadavg())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    res["arch"]["x86_64"] = res["bv"]
    sizes = {a: {"default": elf_size(a), "small": elf_size(a, "small"), "ram": archive_ram(a),
                 "ram_small": archive_ram(a, "small"), "breakdown": text_breakdown(a)}
             for a in arches}
    elapsed = time.monotonic() - T_START
    rows = write_report(out, mode, cfg, res, refs, sizes, info, commands, errors, elapsed, argv,
                        loads)
    write_chart(out, cfg, rows, res)
    raw = {"mode": mode, "cfg": cfg, "info": info, "sizes": sizes, "refs": refs, "loads": loads,
           "results": {k: v for k, v in res.items() if k != "arch"},
           "arch": {a: v for a, v in res["arch"].items() if a != "x86_64"},
           "targets": rows, "errors": errors, "seconds": elapsed}
    os.makedirs(os.path.join(BUILD, "bench"), exist_ok=True)
    with open(os.path.join(BUILD, "bench", f"{mode}-raw.json"), "w") as f:
        json.dump(raw, f, indent=1, default=str)
    shown = os.path.abspath(out)
    if shown.startswith(ROOT + os.sep):
        shown = os.path.relpath(shown, ROOT)
    progress(f"done in {elapsed / 60:.1f} min: {shown}/results.md and {shown}/results.png")
    with open(os.path.join(out, "results.md")) as f:
        print(f.read().split("## Where the time goes")[0])
    return 0


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)   # unwinds through every session's cleanup


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    try:
        sys.exit(main())
    except (BenchError, AssertionError, FileNotFoundError) as e:
        print(f"bench: FAILED: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
