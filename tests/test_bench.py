# SPDX-License-Identifier: BSD-2-Clause
"""`make bench-quick` end to end: both guests boot, every figure is measured
once with small transfers, and the report and chart are written with every
row. No figure is checked against a target here (that is what the full
`make bench` reports); this only keeps the benchmark from rotting."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import run as bench  # noqa: E402

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
        assert row in md, f"report lacks the row {row!r}\n{md}"
    for arch in ("x86_64", "aarch64", "32-bit Arm"):
        assert f"| {arch} |" in md, f"no image-size row for {arch}\n{md}"
    assert "TCG" in md and "qemu-system-x86_64" in md
    png = (out / "results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
