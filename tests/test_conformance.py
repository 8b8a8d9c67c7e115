# SPDX-License-Identifier: BSD-2-Clause
"""The conformance gate of issue 11: every scenario of the catalogue
(tests/conformance/catalogue.py) runs against barevsock behind the raw-packet
host on x86_64 q35 (virtio-pci) and aarch64 virtio-mmio v2, and must emit
what the committed Linux column (tests/conformance/linux.json, written by
make conformance from a real Linux guest) emitted, step by step after
normalisation (norm.py). A scenario may differ only if
tests/conformance/known.py lists it: DELIBERATE (with barevsock's exact
record and why it is at least as safe) or KNOWN_BUGS (xfail, strict: a fix
makes it pass, which fails until the entry is removed). One guest boot per
transport and feature group; scenarios back to back."""
import json
import os

import pytest

from conformance import catalogue, harness, known
from vsockhost import BACKEND

LINUX_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conformance", "linux.json")
_runs = {}   # (transport, group) -> {name: record}


def _linux():
    if not os.path.exists(LINUX_JSON):
        pytest.fail(f"{LINUX_JSON} is missing: run 'make conformance' (it needs the Linux guest)")
    with open(LINUX_JSON) as f:
        return json.load(f)


def _run(transport, group):
    key = (transport, group)
    if key not in _runs:
        if not os.path.exists(BACKEND):
            pytest.skip(f"{BACKEND} not built (make host)")
        linux = _linux()["scenarios"]
        scs = dict(catalogue.by_group())[group]
        g = harness.Barevsock(harness.TRANSPORTS[transport], catalogue.GROUPS[group])
        try:
            _runs[key] = harness.run_scenarios(g, scs, expected=linux)
        finally:
            g.stop()
            log = g.final_log
            for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
                assert bad not in log, f"raw host: {bad}\n{log[-3000:]}"
    return _runs[key]


def _show(rec):
    if rec is None:
        return "  (no record)"
    lines = [f"  {i + 1}. {s['action']}\n       -> {s['guest']}" for i, s in enumerate(rec["steps"])]
    if rec.get("error"):
        lines.append(f"  error: {rec['error']}")
    return "\n".join(lines)


@pytest.mark.parametrize("transport", list(harness.TRANSPORTS))
@pytest.mark.parametrize("name", [s.name for s in catalogue.SCENARIOS])
def test_scenario(request, transport, name):
    sc = next(s for s in catalogue.SCENARIOS if s.name == name)
    if name in known.KNOWN_BUGS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"known open bug: {known.KNOWN_BUGS[name]}"))
    linux = _linux()["scenarios"].get(name)
    assert linux is not None, f"{name} has no Linux record: run 'make conformance'"
    rec = _run(transport, sc.group)[name]
    v = known.verdict(name, linux, rec)
    # A known bug that is fixed reads "same" here: the test passes, and
    # xfail(strict) turns that into the failure that removes the entry.
    assert v["kind"] in ("same", "differs on purpose"), (
        f"{name} on {transport}: {v['kind']}: {v['why']}\n{sc.about}\n"
        f"Linux emitted:\n{_show(linux)}\nbarevsock emitted:\n{_show(rec)}\n"
        f"capture: {rec.get('pcap')}")
