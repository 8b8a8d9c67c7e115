# SPDX-License-Identifier: BSD-2-Clause
"""`make bench-quick` end to end: both guests boot, every figure is measured
once with small transfers (the 8-connection echo, the small profile, the
busy-poll build and idle CPU on every transport included), and the report
and chart are written with every section, target and row. No figure is checked against a target here (that is what the full
`make bench` reports); this only keeps the benchmark from rotting."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import run as bench  # noqa: E402
import vsockhost  # noqa: E402  (bench/run.py put tests/ on the path)

APPS = ("echo", "sink", "source", "memcpy")


def test_bench_quick_end_to_end(tmp_path):
    missing = [a for a in APPS if not os.path.exists(os.path.join(ROOT, "apps", a, "main.c"))]
    if missing:
        pytest.skip(f"SKIPPED LOUDLY: apps {', '.join(missing)} are not in the tree yet")
    out = tmp_path / "bench"
    res = subprocess.run(["make", "--no-print-directory", "-s", "bench-quick",
                          f"BENCH_ARGS=--out {out}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=900)
    log = res.stdout[-6000:] + "\n---- stderr ----\n" + res.stderr[-6000:]
    assert res.returncode == 0, log
    assert "[bench " in res.stdout, "no progress lines\n" + log
    md = (out / "results.md").read_text()
    for row in bench.REPORT_ROWS:
        assert row in md, f"report lacks {row!r}\n{md}"
    for arch in ("x86_64", "aarch64", "32-bit Arm"):
        assert f"| {arch} |" in md, f"no memory/image row for {arch}\n{md}"
    # Every target has a measured value and a verdict, every transfer its CPU shares:
    # issue 14's ratios and echo text per arch, issue 15's idle CPU (q35 over the
    # rounds, then every transport) and halting ÷ busy-poll.
    targets = md.split("## The issue's targets")[1].split("\n## ")[0]
    expect = [(label, "%" if key == "idle" else "×") for key, _m, _op, _b, label in bench.TARGETS]
    expect += [(bench.idle_label(c[0]), "%") for c in vsockhost.TRANSPORTS]
    expect += [(bench.text_label(a), " KiB") for a in ("x86_64", "aarch64", "arm")]
    for label, unit in expect:
        row = next((ln for ln in targets.splitlines() if ln.startswith(f"| {label} |")), None)
        assert row, f"no targets row for {label!r}\n{targets}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert re.match(r"[0-9][0-9.,]*" + re.escape(unit) + "$", cells[1]), \
            f"no measured value in {unit!r}: {row}"
        assert cells[3] in ("yes", "**missed**"), f"no verdict: {row}"
        if cells[3] != "yes":
            assert cells[4], f"a miss without a breakdown: {row}"
    # Both builds measured side by side, and both guests idle.
    bp = md.split("## Halting vs busy-poll")[1].split("\n## ")[0]
    for name in ("Echo, 1 connection", "p50", "Idle host CPU: QEMU"):
        row = next((ln for ln in bp.splitlines() if ln.startswith("| ") and name in ln), None)
        assert row and re.search(r"\| [0-9][0-9.,]* \| [0-9][0-9.,]* \| [0-9][0-9.,]* \|$", row), \
            f"halting vs busy-poll: no figures for {name!r}\n{bp}"
    x86 = md.split("## x86_64: barevsock vs Linux")[1].split("\n## ")[0]
    row = next((ln for ln in x86.splitlines() if ln.startswith("| Idle host CPU")), None)
    assert row and re.search(r"\| [0-9][0-9.,]* \| [0-9][0-9.,]* \| [0-9][0-9.,]* \|$", row), \
        f"no idle row for both guests\n{x86}"
    where = md.split("## Where the time goes")[1].split("\n## ")[0]
    for short in bench.SHORT.values():
        for guest in ("barevsock", "Linux"):
            row = next((ln for ln in where.splitlines() if ln.startswith(f"| {short} | {guest} |")),
                       None)
            assert row and re.search(r"\| \d+% \| \d+% \| \d+% \| \d+% \|", row), \
                f"no CPU shares for {short}, {guest}\n{where}"
    assert "TCG" in md and "qemu-system-x86_64" in md
    png = (out / "results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
