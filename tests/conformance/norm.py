# SPDX-License-Identifier: BSD-2-Clause
"""Normalising what a guest emitted in one step of a scenario, so that two
guests compare on what matters and not on what each may choose freely.

Kept (a difference counts): which flows answer, each packet's op, type and
flags, the order of packets within a flow, how many payload bytes went out
(and their checksum), the fwd_cnt the guest has reported by the end of each
step, whether a CREDIT_UPDATE told the host something no other packet of the
step told it, any byte sent beyond the credit the host granted, and a CID
other than the guest's current one (src) or the host's (dst).

Normalised away (a guest's own choice):
  - ephemeral ports: the guest's own source ports become g1, g2, ... in
    order of appearance; the host's ports are the scenario's h1, h2, ...;
  - buf_alloc: the guest's usual value is shown as B (a different value is
    shown as a number);
  - fwd_cnt packet by packet: what counts is the last value each flow
    reported in a step, shown as [fwd=all] when it covers every payload byte
    the host sent on that flow (so it does not depend on B), else as a
    number; intermediate values follow the guest's scheduling;
  - the credit fields of an RST (they describe a connection that no longer
    exists), and an RST repeated on the same flow in the same step;
  - how payload is cut into packets: consecutive RW of a flow in a step are
    merged (for SEQPACKET up to each EOM, so message boundaries stay);
  - CREDIT_UPDATEs whose news another packet of the same flow and step
    carries (the same buf_alloc with an equal or higher fwd_cnt), and all but
    the last CREDIT_UPDATE of a flow in a step;
  - timing, except in coarse classes: a packet's delay from the start of the
    step is shown only from 1.5 s on, as ~2s (1.5-5 s), ~8s (5-15 s) or >15s;
  - the order between different flows.
Non-goals: judging which behaviour is right (catalogue.py and known.py do)."""
import zlib

from rawhost import OP_NAMES, OP_RW, OP_CREDIT_UPDATE, SEQPACKET, EOM, EOR

HOST_CID = 2


def delay_class(d):
    if d < 1.5:
        return ""
    if d < 5:
        return "~2s"
    if d < 15:
        return "~8s"
    return ">15s"


class Names:
    """Symbolic names for one scenario: host ports h1.. (given by the
    harness), guest ephemeral ports g1.., and the guest's CIDs C, C'..."""

    def __init__(self, fixed_guest_ports):
        self.host = {}       # host port -> "h<k>"
        self.guest = {}      # guest ephemeral port -> "g<k>"
        self.fixed = set(fixed_guest_ports)
        self.cids = {}       # cid -> "C", "C'", ...

    def hport(self, p):
        return self.host.get(p, str(p))

    def gport(self, p):
        if p in self.fixed:
            return str(p)
        if p not in self.guest:
            self.guest[p] = f"g{len(self.guest) + 1}"
        return self.guest[p]

    def cid(self, c):
        if c == HOST_CID:
            return "2"
        if c not in self.cids:
            self.cids[c] = "C" + "'" * len(self.cids)
        return self.cids[c]


def flags_text(op, typ, flags):
    if op == OP_RW and typ == SEQPACKET:
        parts = [n for bit, n in ((EOM, "EOM"), (EOR, "EOR")) if flags & bit]
        rest = flags & ~(EOM | EOR)
        if rest:
            parts.append(f"{rest:#x}")
        return "|".join(parts)
    if OP_NAMES.get(op) == "SHUTDOWN":
        return {1: "RCV", 2: "SEND", 3: "RCV|SEND"}.get(flags, f"{flags:#x}")
    return f"{flags:#x}" if flags else ""


def step_tokens(pkts, t0, names, guest_buf, host_grant=None, host_sent=None, cur_cid=None):
    """Normalise one step: pkts are rawhost.Pkt the guest emitted, t0 the
    step's start. guest_buf: the guest's usual buf_alloc (shown as B).
    host_grant(flow_key, sent) -> bytes of `sent` beyond what the host had
    allowed on that flow (None: unchecked); host_sent(flow_key) -> payload
    the host sent on it so far (None: unknown flow); cur_cid: the guest's
    CID now. Returns {flow name: [token text]}."""
    flows = {}
    for p in pkts:
        if not p.ok:
            flows.setdefault("(ring)", []).append({"op": f"bad chain status {p.status}", "t": p.t - t0})
            continue
        key = (p.src_port, p.dst_port)
        tok = {"op": OP_NAMES.get(p.op, f"op{p.op}"), "opn": p.op, "type": p.type, "flags": p.flags,
               "len": p.len, "data": p.payload, "buf": p.buf_alloc, "fwd": p.fwd_cnt, "t": p.t - t0,
               "src_cid": p.src_cid, "dst_cid": p.dst_cid, "key": key}
        flows.setdefault(key, []).append(tok)
    out = {}
    for key, toks in flows.items():
        if key == "(ring)":
            out[key] = [t["op"] for t in toks]
            continue
        merged = []
        for t in toks:
            last = merged[-1] if merged else None
            if (t["opn"] == OP_RW and last is not None and last["opn"] == OP_RW and last["type"] == t["type"]
                    and not (t["type"] == SEQPACKET and last["flags"] & EOM)):
                last["len"] += t["len"]
                last["data"] += t["data"]
                last["flags"] |= t["flags"]
                last["fwd"], last["buf"] = t["fwd"], t["buf"]
                last["parts"] = last.get("parts", 1) + 1
                continue
            merged.append(dict(t))
        # credit updates that told the host nothing new
        cus = [i for i, t in enumerate(merged) if t["opn"] == OP_CREDIT_UPDATE]
        drop = set(cus[:-1])
        if cus:
            i = cus[-1]
            cu = merged[i]
            for j, t in enumerate(merged):
                if j != i and t["opn"] != OP_CREDIT_UPDATE and t["buf"] == cu["buf"] and t["fwd"] >= cu["fwd"]:
                    drop.add(i)
                    break
        merged = [t for i, t in enumerate(merged) if i not in drop]
        merged = [t for i, t in enumerate(merged)
                  if not (i and t["op"] == "RST" and merged[i - 1]["op"] == "RST")]
        src, dst = key
        name = f"{names.gport(src)}>{names.hport(dst)}"
        texts = []
        sent = 0
        credit = None        # (buf, fwd) last reported by a packet that is not an RST
        for t in merged:
            if t["op"] != "RST":
                credit = (t["buf"], t["fwd"])
            s = t["op"]
            if t["type"] not in (1, 2):
                s += f" type={t['type']}"
            elif t["type"] == SEQPACKET:
                s += "/P"
            fl = flags_text(t["opn"], t["type"], t["flags"])
            if fl:
                s += " " + fl
            if t["opn"] == OP_RW:
                s += f" {t['len']}B crc={zlib.crc32(t['data']) & 0xffff:04x}"
                sent += t["len"]
            elif t["len"]:
                s += f" len={t['len']}"
            if t["dst_cid"] != HOST_CID:
                s += f" dst={names.cid(t['dst_cid'])}"
            if cur_cid is None or names.cid(t["src_cid"]) != names.cid(cur_cid):
                s += f" src={names.cid(t['src_cid'])}"
            dc = delay_class(t["t"])
            if dc:
                s += f" after{dc}"
            texts.append(s)
        if credit is not None:
            buf, fwd = credit
            total = host_sent(key) if host_sent else None
            c = "fwd=all" if total is not None and fwd == total and total else f"fwd={fwd}"
            if buf != guest_buf:
                c += f" buf={buf}"
            # on the last packet that carried it (an RST's credit fields are not shown)
            last = max(i for i, t in enumerate(merged) if t["op"] != "RST")
            texts[last] += f" [{c}]"
        if host_grant is not None and sent:
            over = host_grant(key, sent)
            if over > 0:
                texts.append(f"OVER-CREDIT by {over}")
        out[name] = texts
    return out


def _natural(name):
    import re
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


def _ranges(names):
    """'1238>h1', '1238>h2', '1238>h3' -> '1238>h1..h3' (runs of consecutive h<k> only)."""
    import re
    out, run = [], []
    for n in names:
        m = re.fullmatch(r"(.*>h)(\d+)", n)
        if run and m and m.group(1) == run[-1][0] and int(m.group(2)) == run[-1][1] + 1:
            run.append((m.group(1), int(m.group(2)), n))
            continue
        if run:
            out.append(run)
        run = [(m.group(1), int(m.group(2)), n)] if m else []
        if not m:
            out.append([(None, None, n)])
    if run:
        out.append(run)
    text = []
    for r in out:
        text.append(r[0][2] if len(r) == 1 else f"{r[0][2]}..h{r[-1][1]}")
    return text


def render_step(tokens):
    """One line for a step: flows sorted by name, tokens in order, flows with
    the same tokens folded into one (h1..h5); '-' if the guest said nothing."""
    if not tokens:
        return "-"
    groups = {}
    for name in sorted(tokens, key=_natural):
        groups.setdefault(", ".join(tokens[name]), []).append(name)
    parts = [(", ".join(_ranges(names)), toks) for toks, names in groups.items()]
    return "; ".join(f"{names}: {toks}" for names, toks in sorted(parts, key=lambda p: _natural(p[0])))
