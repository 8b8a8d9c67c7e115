# SPDX-License-Identifier: BSD-2-Clause
"""The conformance catalogue: scenarios a host can play against a vsock
guest, each written once and run against barevsock and a Linux guest. A
scenario is a function of a harness.Ctx; every ctx.step() is one host action
and records what the guest emitted in answer. Host actions never depend on
which guest runs, only on what the guest said (credit) and on its sizes (B,
its buf_alloc; the RX buffer size), which the action texts name
symbolically. Groups: scenarios that need the back end to offer another
feature set run on a separate boot. Non-goals: verdicts (known.py)."""
import rawhost as R
from conformance.harness import (CLOSED, DIAL, DIAL_HOST_PORT, DIAL_HOST_PORT_P, DIAL_P, ECHO, ECHO_P, HOLD,
                                 NOACCEPT, RELEASE, SINK, SINK_P)

SCENARIOS = []
GROUPS = {  # feature group -> --features of the raw host (None: its default, SEQPACKET)
    "seqpacket": None,
    "none": "none",
    "stream,no-implied-stream": "stream,no-implied-stream",
    "seqpacket,no-implied-stream": "seqpacket,no-implied-stream",
}


# Run order within a group: ordinary scenarios, then those that change the
# guest for everything after them (CID, TRANSPORT_RESET), then those that may
# leave a buggy guest unable to go on (a deaf guest fails the rest of its boot).
NORMAL, CHANGES_GUEST, MAY_BREAK_GUEST = 0, 1, 2


class Scenario:
    def __init__(self, index, name, about, group, fn, order):
        self.index, self.name, self.about, self.group, self.fn, self.order = index, name, about, group, fn, order


def scenario(about, group="seqpacket", order=NORMAL):
    def deco(fn):
        SCENARIOS.append(Scenario(len(SCENARIOS) + 1, fn.__name__, about, group, fn, order))
        return fn
    return deco


ALL_OPS = [(R.OP_RESPONSE, "RESPONSE"), (R.OP_RST, "RST"), (R.OP_SHUTDOWN, "SHUTDOWN"), (R.OP_RW, "RW 5B"),
           (R.OP_CREDIT_UPDATE, "CREDIT_UPDATE"), (R.OP_CREDIT_REQUEST, "CREDIT_REQUEST"),
           (R.OP_INVALID, "INVALID"), (9, "op 9")]


def _op_packet(f, op):
    if op == R.OP_RW:
        return f.hdr(op, b"hello")
    if op == R.OP_SHUTDOWN:
        return f.hdr(op, flags=R.SHUT_RCV | R.SHUT_SEND)
    return f.hdr(op)


def _every_op(ctx, gport, where):
    flows = [ctx.flow(gport, k + 1) for k in range(len(ALL_OPS))]
    ctx.step(f"h1..h{len(ALL_OPS)}>{where}: " + ", ".join(n for _, n in ALL_OPS) + " (one each, one batch)",
             [_op_packet(f, op) for f, (op, _) in zip(flows, ALL_OPS)], batch=True)


def _alive(ctx, f, what="is the flow alive? CREDIT_REQUEST"):
    return ctx.step(f"h{f.hport - ctx.base}>{f.gport}: {what}", [f.hdr(R.OP_CREDIT_REQUEST)])


def _echoed(f, n):
    """until= for a step: the guest has echoed n payload bytes on f (in this step)."""
    return lambda ps: sum(p.len for p in ps if p.ok and p.op == R.OP_RW and p.dst_port == f.hport) >= n


def _host(ctx, f):
    return f"h{f.hport - ctx.base}>{f.gport}"


def _fact(ctx, action, value):
    ctx.steps.append({"action": action, "guest": value})


def _sent_note(f, sent, want):
    return "host sent all of it" if sent >= want else f"host sent {sent}/{want} (credit ran out)"


def _send_by_credit(ctx, f, data, flags=0, action="", limit=None):
    """Send as much of data as the guest's credit allows (as a well-behaved
    host would); returns bytes sent. The step text says whether it was all."""
    n = min(len(data), f.credit())
    entries = f.rw(data[:n], flags=flags if n == len(data) else 0) if n else []
    kw = {"limit": limit} if limit else {}
    ctx.step(f"{action} [{_sent_note(f, n, len(data))}]", entries, **kw)
    return n


# ------------------------------------------------------------ unknown flows ---

@scenario("REQUEST to a port nobody listens on: the guest refuses with RST")
def unknown_request(ctx):
    f = ctx.flow(CLOSED)
    ctx.step("h1>4999: REQUEST", [f.hdr(R.OP_REQUEST)])


@scenario("Every other op, and INVALID and an undefined op, to a port nobody listens on")
def unknown_every_op(ctx):
    _every_op(ctx, CLOSED, "4999")


@scenario("SEQPACKET REQUEST to a port nobody listens on")
def unknown_request_seqpacket(ctx):
    f = ctx.flow(CLOSED, type=R.SEQPACKET)
    ctx.step("h1>4999: REQUEST/P", [f.hdr(R.OP_REQUEST)])


# ---------------------------------------------------------------- listeners ---

@scenario("Every op but REQUEST to a listening port with no connection on that flow")
def listener_every_op(ctx):
    _every_op(ctx, HOLD, "1238 (listening)")


@scenario("REQUEST of the wrong or an undefined type to a listener")
def listener_type_mismatch(ctx):
    a, b, c = ctx.flow(HOLD, 1, R.SEQPACKET), ctx.flow(1239, 2, R.STREAM), ctx.flow(HOLD, 3)
    ctx.step("h1>1238: REQUEST/P to a STREAM listener; h2>1239: REQUEST to a SEQPACKET listener; "
             "h3>1238: REQUEST type=3", [a.hdr(R.OP_REQUEST), b.hdr(R.OP_REQUEST), c.hdr(R.OP_REQUEST, type=3)],
             batch=True)


# -------------------------------------------------------- established flows ---

@scenario("Stray REQUEST, RESPONSE, INVALID, CREDIT_UPDATE, CREDIT_REQUEST and an undefined op on an "
          "established flow (hold: the application never reads)")
def established_stray_ops(ctx):
    f = ctx.connect(HOLD)
    for op, name in [(R.OP_REQUEST, "REQUEST"), (R.OP_RESPONSE, "RESPONSE"), (R.OP_INVALID, "INVALID"),
                     (R.OP_CREDIT_UPDATE, "CREDIT_UPDATE"), (R.OP_CREDIT_REQUEST, "CREDIT_REQUEST"),
                     (9, "op 9")]:
        ctx.step(f"h1>1238: {name}", [f.hdr(op)])
    _alive(ctx, f)


@scenario("A packet of the other type on an established STREAM flow")
def established_type_mismatch(ctx):
    f = ctx.connect(HOLD)
    ctx.step("h1>1238: RW/P 5B EOM on the STREAM flow", [f.hdr(R.OP_RW, b"hello", type=R.SEQPACKET, flags=R.EOM)])
    _alive(ctx, f)


@scenario("STREAM echo: data, the host half-closes, the echo closes, the host answers RST")
def echo_stream(ctx):
    f = ctx.connect(ECHO)
    ctx.step("h1>1234: RW 5B", f.rw(b"hello"), until=_echoed(f, 5))
    ctx.step("h1>1234: SHUTDOWN SEND", [f.hdr(R.OP_SHUTDOWN, flags=R.SHUT_SEND)])
    ctx.step("h1>1234: RST", [f.hdr(R.OP_RST)])


@scenario("SEQPACKET echo keeps message boundaries: three messages in one batch")
def echo_seqpacket_boundaries(ctx):
    f = ctx.connect(ECHO_P, type=R.SEQPACKET)
    msgs = [b"a", b"b" * 100, b"c" * 3000]
    ctx.step("h1>1235: messages of 1, 100 and 3000 bytes (EOM each), one batch",
             [p for m in msgs for p in f.rw(m, flags=R.EOM)], batch=True, until=_echoed(f, 3101))


@scenario("SEQPACKET EOR: a message sent with EOM|EOR is echoed with EOR, one with EOM only without")
def seqpacket_eor(ctx):
    f = ctx.connect(ECHO_P, type=R.SEQPACKET)
    ctx.step("h1>1235: message 'record' with EOM|EOR", f.rw(b"record", flags=R.EOM | R.EOR), until=_echoed(f, 6))
    ctx.step("h1>1235: message 'plain' with EOM", f.rw(b"plain", flags=R.EOM), until=_echoed(f, 5))


# ------------------------------------------------------------------- credit ---

@scenario("Zero window: the host grants no credit (buf_alloc 0), then opens it")
def credit_zero_window(ctx):
    f = ctx.flow(ECHO)
    f.host_buf = 0
    ctx.step("h1>1234: REQUEST buf_alloc=0", [f.hdr(R.OP_REQUEST)])
    ctx.step("h1>1234: RW 100B (the echo cannot answer)", f.rw(b"z" * 100))
    ctx.wait("wait 1 s", 1.0)
    f.host_buf = 262144
    ctx.step("h1>1234: CREDIT_UPDATE buf_alloc=262144", [f.hdr(R.OP_CREDIT_UPDATE)], until=_echoed(f, 100))


@scenario("Shrinking window: the host shrinks buf_alloc to 100 and then grants 100 bytes at a time")
def credit_shrinking_window(ctx):
    f = ctx.connect(ECHO)
    f.host_buf = 100
    ctx.step("h1>1234: CREDIT_UPDATE buf_alloc=100", [f.hdr(R.OP_CREDIT_UPDATE)])
    ctx.step("h1>1234: RW 300B", f.rw(bytes(range(256)) + b"x" * 44))
    for _ in range(3):
        ctx.step("h1>1234: CREDIT_UPDATE buf_alloc=100 fwd_cnt=(all received)", [f.hdr(R.OP_CREDIT_UPDATE)])


@scenario("Lying fwd_cnt: the host claims to have consumed 100000 bytes it never got, with buf_alloc 64")
def credit_lying_fwd_cnt(ctx):
    f = ctx.connect(ECHO)
    f.host_buf = 64
    ctx.step("h1>1234: CREDIT_UPDATE buf_alloc=64 fwd_cnt=100000", [f.hdr(R.OP_CREDIT_UPDATE, fwd_cnt=100000)])
    ctx.step("h1>1234: RW 1000B (fwd_cnt=100000 again)", f.rw(b"L" * 1000, fwd_cnt=100000))


@scenario("Receive-only STREAM flow (sink): the host sends B bytes; does the guest volunteer credit, "
          "so a host that honours credit can go on?")
def credit_receive_only_stream(ctx):
    f = ctx.connect(SINK)
    B = f.guest_buf
    ctx.step("h1>1236: RW B bytes (all the credit)", f.rw(b"s" * B))
    ctx.wait("wait 1 s", 1.0)
    _send_by_credit(ctx, f, b"t" * B, action="h1>1236: RW up to B more bytes, as credit allows")


@scenario("Receive-only SEQPACKET flow (sink): Linux volunteers a CREDIT_UPDATE after each message read")
def credit_receive_only_seqpacket(ctx):
    f = ctx.connect(SINK_P, type=R.SEQPACKET)
    s = f.guest_buf // 16
    for i in range(3):
        ctx.step(f"h1>1237: message {i + 1} of B/16 bytes", f.rw(bytes([65 + i]) * s, flags=R.EOM))


@scenario("SEQPACKET message split across credit windows: small messages eat credit without an update, "
          "then a large message needs more than the host sees (the deadlock of issue 11)")
def credit_seqpacket_split_deadlock(ctx):
    f = ctx.connect(SINK_P, type=R.SEQPACKET)
    B = f.guest_buf
    s = B // 16
    ctx.step("h1>1237: three messages of B/16 bytes, one batch",
             [p for i in range(3) for p in f.rw(bytes([97 + i]) * s, flags=R.EOM)], batch=True)
    msg = b"M" * (B - s)
    sent = _send_by_credit(ctx, f, msg, flags=R.EOM, action="h1>1237: a message of B - B/16 bytes, as credit allows")
    if sent < len(msg):
        ctx.wait("wait 2 s for credit", 2.0)
        _send_by_credit(ctx, f, msg[sent:], flags=R.EOM, action="h1>1237: the rest of the message, as credit allows")


@scenario("Data beyond the advertised credit but within the real free space: after 1000 bytes the "
          "application read, the host sends B bytes more (no RST expected)")
def credit_overrun_within_real_space(ctx):
    f = ctx.connect(SINK)
    B = f.guest_buf
    ctx.step("h1>1236: RW 1000B (the sink reads it)", f.rw(b"a" * 1000))
    ctx.step("h1>1236: RW B bytes, whatever the guest advertised since", f.rw(b"b" * B))
    _alive(ctx, f)


@scenario("True overflow: B bytes the application never reads, then 100 more")
def credit_true_overflow(ctx):
    f = ctx.connect(HOLD)
    B = f.guest_buf
    ctx.step("h1>1238: RW B bytes (hold never reads)", f.rw(b"f" * B))
    ctx.step("h1>1238: RW 100B beyond the buffer", f.rw(b"o" * 100))
    _alive(ctx, f)


# --------------------------------------------------------- shutdown and close ---

@scenario("SHUTDOWN RCV from the host, then data, then SHUTDOWN SEND, to hold with unread data; then the "
          "application closes (release)")
def shutdown_rcv_then_send_unread(ctx):
    f = ctx.connect(HOLD)
    ctx.step("h1>1238: SHUTDOWN RCV", [f.hdr(R.OP_SHUTDOWN, flags=R.SHUT_RCV)])
    ctx.step("h1>1238: RW 5B", f.rw(b"hello"))
    ctx.step("h1>1238: SHUTDOWN SEND (now both, 5 bytes unread)", [f.hdr(R.OP_SHUTDOWN, flags=R.SHUT_SEND)])
    r = ctx.flow(RELEASE, 99)
    ctx.step("h99>1299: REQUEST (the application closes every held connection)", [r.hdr(R.OP_REQUEST)])


@scenario("SHUTDOWN RCV|SEND from the host with nothing unread (hold)")
def shutdown_both_nothing_unread(ctx):
    f = ctx.connect(HOLD)
    ctx.step("h1>1238: SHUTDOWN RCV|SEND", [f.hdr(R.OP_SHUTDOWN, flags=R.SHUT_RCV | R.SHUT_SEND)])
    ctx.step("h1>1238: RW 5B after it", f.rw(b"hello"))


@scenario("SHUTDOWN SEND from the host, then data anyway (hold)")
def shutdown_send_then_data(ctx):
    f = ctx.connect(HOLD)
    ctx.step("h1>1238: SHUTDOWN SEND", [f.hdr(R.OP_SHUTDOWN, flags=R.SHUT_SEND)])
    ctx.step("h1>1238: RW 5B after it", f.rw(b"hello"))
    _alive(ctx, f)


@scenario("RST from the host on an established flow, then data on it")
def rst_then_data(ctx):
    f = ctx.connect(HOLD)
    ctx.step("h1>1238: RST", [f.hdr(R.OP_RST)])
    ctx.step("h1>1238: RW 5B on the reset flow", f.rw(b"hello"))


@scenario("The sink closes after the host half-closes; the host answers the guest's SHUTDOWN with RST")
def sink_close_after_half_close(ctx):
    f = ctx.connect(SINK)
    ctx.step("h1>1236: RW 10B, SHUTDOWN SEND", f.rw(b"0123456789") + [f.hdr(R.OP_SHUTDOWN, flags=R.SHUT_SEND)])
    ctx.step("h1>1236: RST", [f.hdr(R.OP_RST)])


@scenario("The guest closes (echo after the host's SHUTDOWN SEND) and the host never answers: the "
          "guest's close timeout")
def close_timeout(ctx):
    f = ctx.connect(ECHO)
    ctx.step("h1>1234: SHUTDOWN SEND", [f.hdr(R.OP_SHUTDOWN, flags=R.SHUT_SEND)])
    ctx.wait("the host stays silent for 16 s", 16.0)


@scenario("The guest closes and the host sends data instead of RST")
def data_after_guest_close(ctx):
    f = ctx.connect(ECHO)
    ctx.step("h1>1234: SHUTDOWN SEND", [f.hdr(R.OP_SHUTDOWN, flags=R.SHUT_SEND)])
    ctx.step("h1>1234: RW 5B", f.rw(b"hello"))


@scenario("The guest closes first (the application lets go of a held connection); the host answers RST")
def guest_closes_first(ctx):
    f = ctx.connect(HOLD)
    r = ctx.flow(RELEASE, 99)
    ctx.step("h99>1299: REQUEST (the application closes every held connection)", [r.hdr(R.OP_REQUEST)])
    ctx.step("h1>1238: RST; h99>1299: RST", [f.hdr(R.OP_RST), r.hdr(R.OP_RST)])


@scenario("The guest closes first; the host answers with its own SHUTDOWN RCV|SEND instead of RST")
def guest_closes_first_host_shutdown(ctx):
    f = ctx.connect(HOLD)
    r = ctx.flow(RELEASE, 99)
    ctx.step("h99>1299: REQUEST (the application closes every held connection)", [r.hdr(R.OP_REQUEST)])
    ctx.step("h1>1238: SHUTDOWN RCV|SEND; h99>1299: SHUTDOWN RCV|SEND",
             [f.hdr(R.OP_SHUTDOWN, flags=R.SHUT_RCV | R.SHUT_SEND), r.hdr(R.OP_SHUTDOWN, flags=R.SHUT_RCV | R.SHUT_SEND)])


@scenario("Lying fwd_cnt the other way: the host's fwd_cnt goes backwards after data was acknowledged")
def credit_fwd_cnt_backwards(ctx):
    f = ctx.connect(ECHO)
    f.host_buf = 1000
    ctx.step("h1>1234: RW 600B (echoed; the host counts it consumed)", f.rw(b"q" * 600))
    ctx.step("h1>1234: CREDIT_UPDATE buf_alloc=1000 fwd_cnt=0 (backwards), then RW 600B",
             [f.hdr(R.OP_CREDIT_UPDATE, fwd_cnt=0)] + f.rw(b"r" * 600, fwd_cnt=0))
    ctx.step("h1>1234: CREDIT_UPDATE buf_alloc=1000 fwd_cnt=(all received)", [f.hdr(R.OP_CREDIT_UPDATE)])


@scenario("SHUTDOWN RCV|SEND from the host to the echo with data in flight")
def shutdown_both_with_data(ctx):
    f = ctx.connect(ECHO)
    ctx.step("h1>1234: RW 5B and SHUTDOWN RCV|SEND in one batch",
             f.rw(b"hello") + [f.hdr(R.OP_SHUTDOWN, flags=R.SHUT_RCV | R.SHUT_SEND)], batch=True)


# ------------------------------------------------- malformed headers and used lengths ---

def _req(ctx, k, gport=CLOSED, **kw):
    return ctx.flow(gport, k).hdr(R.OP_REQUEST, **kw)


@scenario("RX used length beyond the buffer (REQUEST), then a good REQUEST")
def used_len_beyond_buffer(ctx):
    cap = ctx.guest.capacity + 44
    ctx.step("h1>4999: REQUEST with used length = buffer + 1000", [R.Entry(_req(ctx, 1), used=cap + 1000)])
    ctx.step("h2>4999: REQUEST", [_req(ctx, 2)])


@scenario("200 RX used entries longer than their buffers (more than the guest posts), then a good REQUEST: "
          "is the guest still listening?", order=MAY_BREAK_GUEST)
def used_len_beyond_buffer_flood(ctx):
    cap = ctx.guest.capacity + 44
    entries = [R.Entry(_req(ctx, k), used=cap + 1) for k in range(1, 201)]
    try:
        ctx.step("h1..h200>4999: REQUESTs with used length = buffer + 1", entries)
    except R.RawHostError as e:
        _fact(ctx, "the raw host while putting them", "guest stopped posting RX buffers: " +
              str(e).split(":")[1].split("(")[0].strip())
        ctx.guest.deaf = True
        return
    ctx.step("h201>4999: REQUEST", [_req(ctx, 201)])


@scenario("RX used length shorter than a header (20 and 0), then a good REQUEST")
def used_len_below_header(ctx):
    ctx.step("h1>4999: REQUEST with used length 20; h2: used length 0",
             [R.Entry(_req(ctx, 1), used=20), R.Entry(_req(ctx, 2), used=0)])
    ctx.step("h3>4999: REQUEST", [_req(ctx, 3)])


@scenario("hdr.len disagreeing with the used length: a REQUEST claiming 8 payload bytes it lacks, one "
          "carrying 8 bytes it does not claim")
def hdr_len_mismatch_request(ctx):
    ctx.step("h1>1238: REQUEST hdr.len=8, used length 44", [R.Entry(_req(ctx, 1, HOLD, len=8), used=44)])
    ctx.step("h2>1238: REQUEST hdr.len=0 with 8 more bytes (used length 52)",
             [_req(ctx, 2, HOLD) + b"8 bytes!"])


@scenario("An RW whose hdr.len claims 100 bytes but 50 were delivered, on an established echo flow")
def hdr_len_mismatch_rw(ctx):
    f = ctx.connect(ECHO)
    ctx.step("h1>1234: RW hdr.len=100 with 50 bytes", [f.hdr(R.OP_RW, b"x" * 50, len=100)])
    ctx.step("h1>1234: RW 5B", f.rw(b"hello"), until=_echoed(f, 5))


@scenario("REQUEST to a dst_cid that is not the guest's")
def dst_cid_wrong(ctx):
    f = ctx.flow(HOLD)
    ctx.step("h1>1238: REQUEST dst_cid=99", [f.hdr(R.OP_REQUEST, dst_cid=99)])


@scenario("REQUEST whose src_cid is the guest's own CID, or the local CID 1, or another guest's (5)")
def src_cid_odd(ctx):
    a = ctx.flow(HOLD, 1, src_cid=ctx.guest.cid)
    b, c = ctx.flow(HOLD, 2, src_cid=1), ctx.flow(HOLD, 3, src_cid=5)
    ctx.step("h1>1238: REQUEST src_cid=(guest's own)", [a.hdr(R.OP_REQUEST)])
    ctx.step("h2>1238: REQUEST src_cid=1", [b.hdr(R.OP_REQUEST)])
    ctx.step("h3>1238: REQUEST src_cid=5", [c.hdr(R.OP_REQUEST)])


@scenario("Replies backing up: the host stops taking the guest's TX ring and puts 300 REQUESTs to a closed "
          "port (each owed an RST) as far as the guest takes RX, then takes TX again and puts the rest: is "
          "any reply lost? (How far RX goes while held is each guest's buffer policy, not compared.)")
def replies_back_up(ctx):
    import re
    n = 300
    flows = [ctx.flow(CLOSED, k) for k in range(1, n + 1)]
    ctx.rh.tx_hold(True)
    m = ctx.rh.mark()
    taken = n
    try:
        try:
            ctx.rh.put([f.hdr(R.OP_REQUEST) for f in flows])
        except R.RawHostError as e:
            got = re.search(r"delivered (\d+) of", str(e))
            if not got:
                raise
            taken = int(got.group(1))
        ctx.rh.settle(quiet=0.5, limit=2, since=m)
        held = [p for p in ctx.rh.since(m) if p.ok]
    finally:
        ctx.rh.tx_hold(False)
    _fact(ctx, f"TX held; h1..h{n}>4999: REQUEST each, as far as RX takes them",
          "-" if not held else f"{len(held)} packets came out of a held TX ring")
    if flows[taken:]:
        ctx.rh.put([f.hdr(R.OP_REQUEST) for f in flows[taken:]])
    ctx.rh.settle(quiet=1.0, limit=30, since=m)
    got = {p.dst_port for p in ctx.rh.since(m) if p.ok and p.op == R.OP_RST}
    miss = {f.hport for f in flows} - got
    _fact(ctx, "TX taken again; the REQUESTs RX had not taken, put again",
          f"RST to every one of the {n}" if not miss else f"{len(miss)} of {n} never answered")


# ------------------------------------------------------------- pool and backlog ---

@scenario("Backlog: 12 REQUESTs to a listener whose application never accepts, then one to another "
          "listener")
def backlog_never_accepting(ctx):
    flows = [ctx.flow(NOACCEPT, k) for k in range(1, 13)]
    ctx.step("h1..h12>1240: REQUEST each", [f.hdr(R.OP_REQUEST) for f in flows])
    ctx.connect(HOLD, 13, action="h13>1238: REQUEST")


@scenario("Pool: 70 connections held at once on one port, asked for five at a time (the application "
          "accepts them all)")
def pool_many_held(ctx):
    for k in range(1, 71, 5):
        flows = [ctx.flow(HOLD, j) for j in range(k, k + 5)]
        ctx.step(f"h{k}..h{k + 4}>1238: REQUEST each", [f.hdr(R.OP_REQUEST) for f in flows],
                 until=lambda ps, n=len(flows): len([p for p in ps if p.ok and p.op in (R.OP_RESPONSE, R.OP_RST)]) >= n)


# ------------------------------------------------------------- guest connects ---

def _dial(ctx, trigger=DIAL, hport=DIAL_HOST_PORT, type=R.STREAM):
    t = ctx.flow(trigger, 1, type=type)   # the trigger listener has the type it dials with
    pkts = ctx.step(f"h1>{trigger}: REQUEST (the application accepts, closes, and connects to host port {hport})",
                    [t.hdr(R.OP_REQUEST)],
                    until=lambda ps: any(p.ok and p.op == R.OP_REQUEST and p.dst_port == hport for p in ps))
    req = [p for p in pkts if p.ok and p.op == R.OP_REQUEST and p.dst_port == hport]
    if not req:
        raise AssertionError(f"the guest did not connect to host port {hport}")
    g = ctx.guest_flow(req[0].src_port, hport, type)
    g.guest_buf, g.guest_fwd = req[0].buf_alloc, req[0].fwd_cnt
    return t, g


@scenario("The guest connects to the host, which refuses with RST")
def dial_refused(ctx):
    t, g = _dial(ctx)
    ctx.step("h1>1298: RST; 5000>g1: RST", [t.hdr(R.OP_RST), g.hdr(R.OP_RST)])


@scenario("The guest connects, the host accepts; the greeting; the host closes with SHUTDOWN RCV|SEND")
def dial_accepted(ctx):
    t, g = _dial(ctx)
    ctx.step("h1>1298: RST; 5000>g1: RESPONSE", [t.hdr(R.OP_RST), g.hdr(R.OP_RESPONSE)])
    ctx.step("5000>g1: SHUTDOWN RCV|SEND", [g.hdr(R.OP_SHUTDOWN, flags=R.SHUT_RCV | R.SHUT_SEND)])


@scenario("The guest connects; the host accepts with buf_alloc 0, then opens the window")
def dial_zero_window(ctx):
    t, g = _dial(ctx)
    g.host_buf = 0
    ctx.step("h1>1298: RST; 5000>g1: RESPONSE buf_alloc=0", [t.hdr(R.OP_RST), g.hdr(R.OP_RESPONSE)])
    ctx.wait("wait 1 s", 1.0)
    g.host_buf = 262144
    ctx.step("5000>g1: CREDIT_UPDATE buf_alloc=262144", [g.hdr(R.OP_CREDIT_UPDATE)])


@scenario("The guest connects and the host never answers: the guest's connect timeout")
def dial_unanswered(ctx):
    t, g = _dial(ctx)
    ctx.step("h1>1298: RST", [t.hdr(R.OP_RST)])
    ctx.wait("the host stays silent for 4 s", 4.0)
    ctx.step("5000>g1: RESPONSE, late", [g.hdr(R.OP_RESPONSE)])


@scenario("The guest connects with SEQPACKET; the host accepts; the greeting is one message")
def dial_seqpacket(ctx):
    t, g = _dial(ctx, DIAL_P, DIAL_HOST_PORT_P, R.SEQPACKET)
    ctx.step("h1>1297: RST; 5001>g1: RESPONSE/P", [t.hdr(R.OP_RST), g.hdr(R.OP_RESPONSE)])


# ------------------------------------------------------- CID and TRANSPORT_RESET ---

@scenario("TRANSPORT_RESET with a connection open: the guest drops it; the listener stays", order=CHANGES_GUEST)
def reset_drops_established(ctx):
    f = ctx.connect(HOLD)
    ctx.step("TRANSPORT_RESET (event queue)", [], reset_first=True)
    ctx.step("h1>1238: RW 5B on the old flow", f.rw(b"hello"))
    ctx.connect(HOLD, 2, action="h2>1238: REQUEST")


@scenario("CID change: TRANSPORT_RESET and, in the same batch, a REQUEST to the new CID", order=CHANGES_GUEST)
def cid_change_request_at_once(ctx):
    new = ctx.guest.cid + 4
    ctx.rh.set_cid(new)
    ctx.guest.cid = new
    f = ctx.flow(HOLD)
    ctx.step("CID := C+4; TRANSPORT_RESET and h1>1238: REQUEST to the new CID, one batch",
             [f.hdr(R.OP_REQUEST)], reset_first=True, batch=True)
    g = ctx.flow(HOLD, 2)
    ctx.step("h2>1238: REQUEST to the new CID", [g.hdr(R.OP_REQUEST)])


@scenario("After a CID change, a REQUEST to the old CID", order=CHANGES_GUEST)
def request_to_old_cid(ctx):
    old = ctx.guest.cid
    new = old + 1
    ctx.rh.set_cid(new)
    ctx.guest.cid = new
    ctx.step("CID := C+1; TRANSPORT_RESET", [], reset_first=True)
    f = ctx.flow(HOLD)
    ctx.step("h1>1238: REQUEST to the old CID", [f.hdr(R.OP_REQUEST, dst_cid=old)])


# ---------------------------------------------------------------- feature sets ---

def _features(ctx):
    names = {0: "STREAM", 1: "SEQPACKET", 2: "NO_IMPLIED_STREAM"}
    neg = ctx.guest.negotiated
    _fact(ctx, "device feature bits the guest accepted (QEMU 7.2 passes only SEQPACKET on)",
          "|".join(n for b, n in names.items() if neg & (1 << b)) or "none")
    s = ctx.connect(ECHO, 1, action="h1>1234: REQUEST")
    if s.established:
        ctx.step("h1>1234: RW 5B", s.rw(b"hello"), until=_echoed(s, 5))
    ctx.connect(ECHO_P, 2, type=R.SEQPACKET, action="h2>1235: REQUEST/P")


@scenario("Feature set {SEQPACKET} (what Linux vhost offers): STREAM and SEQPACKET both work")
def features_seqpacket(ctx):
    _features(ctx)


@scenario("Feature set {} (nothing offered): STREAM only", group="none")
def features_none(ctx):
    _features(ctx)


@scenario("Feature set {STREAM, NO_IMPLIED_STREAM} offered by the back end", group="stream,no-implied-stream")
def features_stream_no_implied(ctx):
    _features(ctx)


@scenario("Feature set {SEQPACKET, NO_IMPLIED_STREAM} offered by the back end",
          group="seqpacket,no-implied-stream")
def features_seqpacket_no_implied(ctx):
    _features(ctx)


def by_group():
    """Scenarios in run order: groups in GROUPS order, each by (order, index)."""
    out = []
    for g in GROUPS:
        out.append((g, sorted((s for s in SCENARIOS if s.group == g), key=lambda s: (s.order, s.index))))
    return out
