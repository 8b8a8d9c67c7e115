# SPDX-License-Identifier: BSD-2-Clause
"""The reviewed list of where barevsock may differ from the Linux column, and
the verdict of one scenario. Two kinds of entries, each naming its reason:

DELIBERATE: barevsock behaves differently on purpose, at least as safely as
Linux (e.g. it never exceeds the peer's credit where Linux 6.1 does). The
entry holds barevsock's exact normalised record, step by step, so any other
change in that scenario is still a difference.

KNOWN_BUGS: open bugs in barevsock (issue 11's list or found by the suite,
see /work/wt/conf-findings.md). make test marks these scenarios
xfail(strict=True): once the bug is fixed the scenario matches Linux, the
xfail passes, strict turns that into a failure, and the entry must go.

Nothing else may differ. Non-goals: loosening a comparison (norm.py says
what is normalised, for both guests alike)."""

_CREDIT_REQUEST = (
    "barevsock sends CREDIT_REQUEST when it has data to send and the host's credit is zero; Linux 6.1 nev"
    'er sends one and waits for the host to volunteer a CREDIT_UPDATE. The spec allows the request, it ca'
    "rries the same fwd_cnt Linux's packets carry, it never sends a payload byte beyond the credit (no OV"
    'ER-CREDIT in either column), and it is the only way to get going again with a host that never volunt'
    'eers credit (vhost-device-vsock). While the credit stays zero it asks again every BV_VSOCK_CREDIT_RET'
    'RY_MS (4 s, longer than any wait here), so a host that answers a request with no credit yet and the'
    'n never volunteers cannot leave the connection stuck. At least as safe: one extra control packet.')

_DST_CID = (
    "barevsock answers only packets addressed to its own CID (dst_cid); Linux matches flows by port and "
    "ignores dst_cid (virtio_transport_recv_pkt), answering from its current CID. A device routes to a "
    "guest only what is addressed to it (vhost_vsock delivers by guest CID), so a packet to another CID is "
    "misrouted or stale (the old CID after a migration): answering it would speak for a CID that is not "
    "ours. The case that matters, a host connecting to the new CID right after TRANSPORT_RESET, is "
    "answered: the event queue is taken before RX, and a packet for another CID first drains the event "
    "queue (cid_change_request_at_once). At least as safe: stricter, never an answer Linux would not give "
    "to a well-routed packet.")

DELIBERATE = {
    'dst_cid_wrong': {
        "reason": _DST_CID,
        "barevsock": ['-'],
    },
    'request_to_old_cid': {
        "reason": _DST_CID,
        "barevsock": ['-', '-'],
    },
    'credit_zero_window': {
        "reason": _CREDIT_REQUEST + " Here it also stands where Linux volunteers a CREDIT_UPDATE after its reader drained the 100 bytes: the host learns fwd=all from either.",
        "barevsock": [
            '1234>h1: RESPONSE [fwd=0]',
            '1234>h1: CREDIT_REQUEST [fwd=all]',
            '-',
            '1234>h1: RW 100B crc=b2a5 [fwd=all]',
        ],
    },
    'credit_shrinking_window': {
        "reason": _CREDIT_REQUEST,
        "barevsock": [
            '1234>h1: RESPONSE [fwd=0]',
            '-',
            '1234>h1: RW 100B crc=32f5, CREDIT_REQUEST [fwd=all]',
            '1234>h1: RW 100B crc=12c4, CREDIT_REQUEST [fwd=all]',
            '1234>h1: RW 100B crc=1e69 [fwd=all]',
            '-',
        ],
    },
    'credit_lying_fwd_cnt': {
        "reason": _CREDIT_REQUEST + " Both ignore the lie (fwd_cnt beyond what was ever sent) and send nothing: neither exceeds the 64-byte window (Linux 6.1.0 before the s64 clamp would have).",
        "barevsock": [
            '1234>h1: RESPONSE [fwd=0]',
            '-',
            '1234>h1: CREDIT_REQUEST [fwd=all]',
        ],
    },
    'credit_fwd_cnt_backwards': {
        "reason": _CREDIT_REQUEST + " Both honour the smaller window the backwards fwd_cnt leaves (400 bytes).",
        "barevsock": [
            '1234>h1: RESPONSE [fwd=0]',
            '1234>h1: RW 600B crc=a9a7 [fwd=all]',
            '1234>h1: RW 400B crc=87d8, CREDIT_REQUEST [fwd=all]',
            '1234>h1: RW 200B crc=040a [fwd=all]',
        ],
    },
    'dial_zero_window': {
        "reason": _CREDIT_REQUEST,
        "barevsock": [
            '1298>h1: RESPONSE, SHUTDOWN RCV|SEND [fwd=0]; g1>5000: REQUEST [fwd=0]',
            'g1>5000: CREDIT_REQUEST [fwd=0]',
            '-',
            'g1>5000: RW 8B crc=a69d [fwd=0]',
        ],
    },
    'pool_many_held': {
        "reason": 'barevsock holds at most BV_VSOCK_MAX_CONNS (64) connections and listeners in a fixed pool (no heap by design); apps/hold has 10 listeners, so the 55th connection is refused with RST, where Linux allocates without a small limit. Refusing with RST is what Linux does when it cannot take a connection (a full backlog): the host gets a clean refusal.',
        "barevsock": [
            '1238>h1..h5: RESPONSE [fwd=0]',
            '1238>h6..h10: RESPONSE [fwd=0]',
            '1238>h11..h15: RESPONSE [fwd=0]',
            '1238>h16..h20: RESPONSE [fwd=0]',
            '1238>h21..h25: RESPONSE [fwd=0]',
            '1238>h26..h30: RESPONSE [fwd=0]',
            '1238>h31..h35: RESPONSE [fwd=0]',
            '1238>h36..h40: RESPONSE [fwd=0]',
            '1238>h41..h45: RESPONSE [fwd=0]',
            '1238>h46..h50: RESPONSE [fwd=0]',
            '1238>h51..h54: RESPONSE [fwd=0]; 1238>h55: RST',
            '1238>h56..h60: RST',
            '1238>h61..h65: RST',
            '1238>h66..h70: RST',
        ],
    },
}

KNOWN_BUGS = {}


def steps_of(rec):
    return [(s["action"], s["guest"]) for s in rec["steps"]]


def verdict(name, linux, bv):
    """{"kind": same | differs on purpose | bug | DIFFERENT | not run | harness error, "why": text}"""
    if linux is None:
        return {"kind": "not run", "why": "no Linux record: run make conformance"}
    if bv is None:
        return {"kind": "not run", "why": "barevsock did not run it"}
    for who, rec in (("Linux", linux), ("barevsock", bv)):
        if "error" in rec:
            return {"kind": "harness error", "why": f"{who}: {rec['error']}"}
    if steps_of(linux) == steps_of(bv):
        if name in KNOWN_BUGS:
            return {"kind": "same", "why": f"FIXED, remove from KNOWN_BUGS: {KNOWN_BUGS[name]}"}
        return {"kind": "same", "why": ""}
    if name in DELIBERATE:
        d = DELIBERATE[name]
        if [g for _, g in steps_of(bv)] == d["barevsock"]:
            return {"kind": "differs on purpose", "why": d["reason"]}
        return {"kind": "DIFFERENT", "why": "differs from Linux and from its DELIBERATE record"}
    if name in KNOWN_BUGS:
        return {"kind": "bug", "why": KNOWN_BUGS[name]}
    return {"kind": "DIFFERENT", "why": "undocumented difference from the Linux column"}
