# SPDX-License-Identifier: BSD-2-Clause
"""Runs conformance scenarios against one guest behind the raw-packet host
and records, step by step, what the guest emitted (normalised by norm.py).
A guest is barevsock (apps/hold on one transport) or a Linux guest (Debian's
kernel, its own vmw_vsock_virtio_transport, guest_linux.py); both sit behind
the same QEMU 7.2 and bv-vhost-vsock --raw. Each scenario's traffic goes to
build/conformance/<guest>/<NN>-<scenario>.pcap.
Non-goals: judging results (test_conformance.py, run.py), scheduling across
machines, retrying a failed scenario."""
import os
import shutil
import tempfile
import time

import qemu
import rawhost as R
from conformance import norm
from qmp import QMP
from vsockhost import MODERN_MMIO

OUT = os.path.join(qemu.BUILD, "conformance")
HOST_BUF = 262144            # buf_alloc the raw host advertises unless a scenario says otherwise
FIXED_GUEST_PORTS = [1234, 1235, 1236, 1237, 1238, 1239, 1240, 1297, 1298, 1299, 4999]
ECHO, ECHO_P, SINK, SINK_P, HOLD, HOLD_P, NOACCEPT, DIAL_P, DIAL, RELEASE = \
    1234, 1235, 1236, 1237, 1238, 1239, 1240, 1297, 1298, 1299
CLOSED = 4999                # nothing listens there in either guest
DIAL_HOST_PORT, DIAL_HOST_PORT_P = 5000, 5001
STEP_LIMIT = 6.0             # longest an ordinary step waits for the guest
GRACE = 0.2                  # after a step matched the Linux record: time for anything extra to show


class ScenarioError(AssertionError):
    pass


# ---------------------------------------------------------------- guests ---

class Guest:
    """One booted guest behind a raw host; subclasses know how to boot."""
    name = "?"
    quiet = 0.5              # silence that ends a step when nothing is expected

    def __init__(self, features=None):
        self.features = features
        self.tmp = tempfile.mkdtemp(prefix=f"bv-conf-{self.name}-")
        self.rh = R.RawHost(self.tmp, features=features)
        self.qmp_path = os.path.join(self.tmp, "qmp.sock")
        self.qmp_args = ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        self.cid = 3
        self.deaf = False    # a scenario saw the guest stop posting RX buffers: nothing more can run
        self.buf = None      # the guest's buf_alloc, learned from its first packet
        self.capacity = None

    def up(self):
        info = self.rh.wait_up(timeout=180)
        self.capacity = info["next_capacity"] - 44
        self.negotiated = info["features"] & 0xffffff
        mon = QMP(self.qmp_path)
        try:
            paths = [d["path"] for d in mon.cmd("x-query-virtio") if "vsock" in d["name"]]
            self.rh.evq_from_qmp(mon, paths[0])
        finally:
            mon.close()
        warm_up(self)

    def stop(self):
        self.rh.stop()
        self.final_log = self.rh.stderr()   # the raw host's whole log, sanitizer reports included
        if not os.environ.get("BV_CONF_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def describe(self):
        return self.rh.stderr()[-2000:]


class Barevsock(Guest):
    quiet = 0.4

    def __init__(self, case, features=None):
        self.case = case
        self.name = f"barevsock-{case[0]}"
        super().__init__(features)
        tid, target, device, extra = case
        self.vm = None
        try:
            self.vm = qemu.Guest(target, qemu.elf_path(qemu.arch_of(target), "hold"),
                                 self.rh.qemu_args(device) + list(extra) + self.qmp_args, shared_mem=True,
                                 log_path=os.path.join(OUT, self.name, "console.log"))
            self.vm.wait_for("hold: ready", timeout=120)
            self.up()
        except BaseException:
            self.stop()   # a guest that never came up must not leave QEMU or the raw host behind
            raise

    def stop(self):
        if self.vm is not None:
            self.vm.kill()
        super().stop()

    def describe(self):
        return self.vm.describe() + "\n---- raw host ----\n" + super().describe()


class Linux(Guest):
    name = "linux"
    quiet = 1.0

    def __init__(self, features=None):
        import linuxvm
        super().__init__(features)
        here = os.path.dirname(os.path.abspath(__file__))
        script = f"exec /usr/bin/python3 {os.path.join(here, 'guest_linux.py')}\n"
        self.vm = linuxvm.LinuxVM(script, extra_qemu_args=self.rh.qemu_args("vhost-user-vsock-pci") + self.qmp_args,
                                  shared_mem=True, modules=["vmw_vsock_virtio_transport"], mem_mb=512,
                                  name="conformance", boot_timeout=240)
        try:
            self.vm.start()
            self.vm.wait_for_file("ready", timeout=240)
            with open(self.vm.path("ready")) as f:
                self.cid = int(f.read().split()[0])
            self.kernel = linuxvm.kernel_version()
            self.up()
        except BaseException:
            self.vm.keep_workdir = True
            self.stop()
            raise

    def stop(self):
        self.vm.kill()
        if os.environ.get("BV_CONF_KEEP"):
            print(f"conformance: Linux work dir kept: {self.vm.workdir}")
        else:
            self.vm.cleanup()
        super().stop()

    def describe(self):
        return self.vm.describe() + "\n---- raw host ----\n" + super().describe()


# (id, target, device, extra) of the barevsock transports make test covers
TRANSPORTS = {
    "q35-pci": ("q35-pci", "x86_64-q35", "vhost-user-vsock-pci", []),
    "a64-mmio-v2": ("a64-mmio-v2", "aarch64-a53", "vhost-user-vsock-device", MODERN_MMIO),
}


# ----------------------------------------------------------------- flows ---

class Flow:
    """The host end of one connection as the scenario plays it."""

    def __init__(self, ctx, hport, gport, type=R.STREAM, src_cid=R.HOST_CID):
        self.ctx, self.hport, self.gport, self.type, self.src_cid = ctx, hport, gport, type, src_cid
        self.host_buf = HOST_BUF
        self.host_fwd = 0          # guest payload the host has taken
        self.host_tx = 0           # payload the host has sent
        self.guest_buf = None
        self.guest_fwd = 0
        self.granted = 0           # most guest payload the host has allowed so far
        self.guest_tx = 0          # guest payload seen

    def hdr(self, op, payload=b"", **kw):
        f = dict(src_cid=self.src_cid, src_port=self.hport, dst_port=self.gport, type=self.type, op=op,
                 dst_cid=self.ctx.guest.cid,
                 buf_alloc=self.host_buf, fwd_cnt=self.host_fwd, payload=payload)
        f.update(kw)
        if op != R.OP_RST:
            # what the host really allows: its true consumption, whatever fwd_cnt it claims
            self.granted = max(self.granted, self.host_fwd + f["buf_alloc"])
        if op == R.OP_RW and "len" not in kw:
            self.host_tx += len(payload)
        return R.hdr(**f)

    def rw(self, data, flags=0, **kw):
        """data as RW packets the guest's RX buffers can hold (the last one
        carries flags: EOM/EOR for SEQPACKET)."""
        cap = self.ctx.guest.capacity
        out = []
        for off in range(0, max(len(data), 1), cap):
            last = off + cap >= len(data)
            out.append(self.hdr(R.OP_RW, data[off:off + cap], flags=flags if last else 0, **kw))
        return out

    def credit(self):
        """Payload the guest lets the host send now, as its packets said."""
        if self.guest_buf is None:
            return 0
        inflight = (self.host_tx - self.guest_fwd) & 0xffffffff
        return max(0, self.guest_buf - inflight) if inflight <= self.guest_buf else 0


# -------------------------------------------------------------- scenario ---

class Ctx:
    """One scenario run: names, flows, steps and their normalised record."""

    def __init__(self, guest, index, name, expected=None, pcap=True):
        self.guest, self.rh, self.index, self.name = guest, guest.rh, index, name
        self.base = 10000 + 100 * index
        self.names = norm.Names(FIXED_GUEST_PORTS + [DIAL_HOST_PORT, DIAL_HOST_PORT_P])
        self.names.cid(guest.cid)
        self.flows = {}            # (gport, hport) -> Flow
        self.steps = []            # [{"action": str, "guest": str}]
        self.expected = expected   # Linux's steps, when comparing
        self.notes = []
        self.pcap = None
        if pcap:
            d = os.path.join(OUT, guest.name)
            os.makedirs(d, exist_ok=True)
            self.pcap = os.path.join(d, f"{index:02d}-{name}.pcap")
            self.rh.capture(self.pcap)

    # -- flows
    def hp(self, k):
        p = self.base + k
        self.names.host[p] = f"h{k}"
        return p

    def flow(self, gport, k=1, type=R.STREAM, src_cid=R.HOST_CID):
        f = Flow(self, self.hp(k), gport, type, src_cid)
        self.flows[(gport, f.hport)] = f
        return f

    def guest_flow(self, gport, hport, type=R.STREAM):
        """A flow the guest opened (dial)."""
        f = Flow(self, hport, gport, type)
        self.flows[(gport, hport)] = f
        return f

    def _sent(self, key):
        f = self.flows.get(key)
        return None if f is None else f.host_tx

    def _grant(self, key, sent):
        """Bytes of this step's `sent` beyond what the host had granted."""
        f = self.flows.get(key)
        if f is None:
            return 0
        return max(0, f.guest_tx + sent - f.granted)

    def _account(self, pkts):
        for p in pkts:
            if not p.ok:
                continue
            f = self.flows.get((p.src_port, p.dst_port))
            if f is None:
                continue
            f.guest_buf, f.guest_fwd = p.buf_alloc, p.fwd_cnt
            if p.op == R.OP_RW:
                f.host_fwd += p.len
                f.guest_tx += p.len
            if self.guest.buf is None and p.op in (R.OP_RESPONSE, R.OP_REQUEST):
                self.guest.buf = p.buf_alloc

    # -- steps
    def step(self, action, entries=(), *, batch=False, reset_first=False, notify=True, limit=STEP_LIMIT,
             min_wait=0.0, until=None):
        """Put entries (one host action), then record what the guest emits
        until it is quiet (or, when comparing, until it matches Linux's
        record of this step). Returns the guest's packets."""
        i = len(self.steps)
        m = self.rh.mark()
        t0 = time.monotonic()
        if entries or reset_first:
            t0, _ = self.rh.put(list(entries), batch=batch, reset_first=reset_first, notify=notify)
            t0 = min(t0, time.monotonic())
        want = self.expected[i]["guest"] if self.expected and i < len(self.expected) else None
        deadline = time.monotonic() + limit
        last_n, last_change = -1, time.monotonic()
        while True:
            pkts = self.rh.since(m)
            now = time.monotonic()
            if len(pkts) != last_n:
                last_n, last_change = len(pkts), now
            waited = now - t0
            if waited >= min_wait:
                if until is not None and until(pkts):
                    time.sleep(0.2)
                    pkts = self.rh.since(m)
                    break
                if want is not None and self._render(pkts, t0, dry=True) == want:
                    time.sleep(GRACE)        # anything extra shows up as a difference
                    pkts = self.rh.since(m)
                    break
                if now - last_change >= self.guest.quiet and until is None:
                    break
            if now > deadline:
                break
            time.sleep(0.02)
        text = self._render(pkts, t0)
        self._account(pkts)
        self.steps.append({"action": action, "guest": text})
        return pkts

    def _render(self, pkts, t0, dry=False):
        # A dry render (while waiting) must not hand out names for good.
        if dry:
            guest_names, cids = dict(self.names.guest), dict(self.names.cids)
        buf = self.guest.buf if self.guest.buf is not None else _first_buf(pkts)
        toks = norm.step_tokens(pkts, t0, self.names, buf, self._grant, self._sent, self.guest.cid)
        if dry:
            self.names.guest, self.names.cids = guest_names, cids
        return norm.render_step(toks)

    def wait(self, action, seconds):
        """Record what the guest does on its own for `seconds`."""
        return self.step(action, (), limit=seconds, min_wait=seconds)

    def connect(self, gport, k=1, type=R.STREAM, action=None, **kw):
        """REQUEST from h<k> to gport; the step records the answer."""
        f = self.flow(gport, k, type)
        pkts = self.step(action or f"h{k}>{gport}: REQUEST{'/P' if type == R.SEQPACKET else ''}",
                         [f.hdr(R.OP_REQUEST, **kw)],
                         until=lambda ps: any(p.ok and p.dst_port == f.hport and p.op in (R.OP_RESPONSE, R.OP_RST)
                                              for p in ps))
        f.established = any(p.ok and p.dst_port == f.hport and p.op == R.OP_RESPONSE for p in pkts)
        return f

    def note(self, text):
        self.notes.append(text)

    # -- the end
    def cleanup(self):
        """Not recorded: RST every flow the scenario used, answer the guest's
        SHUTDOWNs with RST, and wait for quiet, so the next scenario starts
        clean."""
        self.rh.capture(None)
        if self.guest.deaf:
            return
        m = self.rh.mark()
        rsts = [f.hdr(R.OP_RST) for f in self.flows.values()]
        if rsts:
            self.rh.put(rsts)
        self.drain(m)
        if any(f.gport in (HOLD, HOLD_P, NOACCEPT, RELEASE) for f in self.flows.values()):
            self.release()

    def drain(self, m):
        drain(self.rh, m)

    def release(self):
        """Not recorded: make the guest close every held connection (port 1299),
        so no scenario sees another's leftovers."""
        release(self.rh, self.guest.cid, self.base + 99)

    def record(self):
        return {"steps": self.steps, "notes": self.notes,
                "pcap": os.path.relpath(self.pcap, qemu.ROOT) if self.pcap else None}


def release(rh, cid, hport):
    """Port 1299: the application closes every held connection and re-creates
    its never-accepting listener. Waits until the guest closed the release
    connection itself (its SHUTDOWN), answering whatever it says with RST."""
    m = rh.mark()
    rh.put([R.hdr(src_port=hport, dst_port=RELEASE, op=R.OP_REQUEST, dst_cid=cid, buf_alloc=HOST_BUF)])
    try:
        rh.expect(lambda p: p.dst_port == hport and p.op in (R.OP_SHUTDOWN, R.OP_RST), since=m, timeout=10,
                  what="the guest closing the release connection")
    finally:
        drain(rh, m)


def drain(rh, m, rounds=8, quiet=0.25):
    """Answer with RST whatever the guest still says from packet m on, until it is quiet."""
    for _ in range(rounds):
        rh.settle(quiet=quiet, limit=3, since=m)
        pkts = rh.since(m)
        m += len(pkts)
        talk = [p for p in pkts if p.ok and p.op not in (R.OP_RST, R.OP_CREDIT_UPDATE, R.OP_RESPONSE)]
        if not talk:
            return
        rh.put([R.hdr(src_cid=p.dst_cid, src_port=p.dst_port, dst_cid=p.src_cid, dst_port=p.src_port,
                      type=p.type, op=R.OP_RST) for p in talk])


def warm_up(guest):
    """Not recorded: one echo round trip, so the first scenario does not pay
    for a cold guest (a Linux guest's first echo can take over a second)."""
    rh, hp = guest.rh, 9000
    m = rh.mark()
    rh.put([R.hdr(src_port=hp, dst_port=ECHO, op=R.OP_REQUEST, dst_cid=guest.cid, buf_alloc=HOST_BUF)])
    rh.expect(lambda p: p.dst_port == hp and p.op == R.OP_RESPONSE, since=m, timeout=30, what="warm-up RESPONSE")
    rh.put([R.hdr(src_port=hp, dst_port=ECHO, op=R.OP_RW, dst_cid=guest.cid, buf_alloc=HOST_BUF, payload=b"warm")])
    rh.expect(lambda p: p.dst_port == hp and p.op == R.OP_RW, since=m, timeout=30, what="warm-up echo")
    rh.put([R.hdr(src_port=hp, dst_port=ECHO, op=R.OP_RST, dst_cid=guest.cid)])
    drain(rh, m)


def _first_buf(pkts):
    for p in pkts:
        if p.ok and p.op in (R.OP_RESPONSE, R.OP_REQUEST, R.OP_RW, R.OP_CREDIT_UPDATE):
            return p.buf_alloc
    return None


def run_scenarios(guest, scenarios, expected=None, on_result=None):
    """Run scenarios (catalogue entries) back to back on one booted guest.
    expected: {name: Linux record} for early step ends. Returns {name: record}."""
    out = {}
    for sc in scenarios:
        if guest.deaf:
            out[sc.name] = {"steps": [], "notes": [], "pcap": None,
                            "error": "not run: an earlier scenario left the guest deaf"}
            continue
        ctx = Ctx(guest, sc.index, sc.name, expected=(expected or {}).get(sc.name, {}).get("steps"))
        err = None
        try:
            sc.fn(ctx)
        except Exception as e:    # a scenario that breaks records why and the run goes on
            err = f"{type(e).__name__}: {e}"
            ctx.note(f"harness error: {err}")
        try:
            ctx.cleanup()
        except Exception as e:
            ctx.note(f"cleanup error: {type(e).__name__}: {e}")
        rec = ctx.record()
        if err:
            rec["error"] = err
        out[sc.name] = rec
        if on_result:
            on_result(sc, rec)
    return out
