# SPDX-License-Identifier: BSD-2-Clause
"""Robustness: every libFuzzer target (fuzz/fuzz.mk) replays its committed
corpus and then fuzzes briefly from it, under ASan and UBSan. `make fuzz`
runs them for longer; these short runs keep regressions out of CI."""
import os
import shutil
import subprocess
import tempfile

import pytest

import qemu

SECONDS = int(os.environ.get("BV_FUZZ_SECONDS", "8"))


def _targets():
    out = subprocess.run(["make", "-s", "--no-print-directory", "print-fuzz-targets"], cwd=qemu.ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out, "fuzz/fuzz.mk lists no targets"
    return out


@pytest.fixture(scope="module")
def built():
    if not shutil.which("clang"):
        pytest.skip("SKIPPED LOUDLY: clang is not installed (tools/install-deps.sh installs it); "
                    "the fuzz targets were not run")
    r = subprocess.run(["make", "-s", "fuzz-build"], cwd=qemu.ROOT, capture_output=True, text=True)
    assert r.returncode == 0, f"building the fuzz targets failed:\n{r.stdout}\n{r.stderr}"


@pytest.mark.parametrize("target", _targets())
def test_fuzz_target_replays_corpus_then_fuzzes(built, target):
    binary = os.path.join(qemu.BUILD, "fuzz", f"fuzz_{target}")
    seeds = os.path.join(qemu.ROOT, "fuzz", "corpus", f"fuzz_{target}")
    files = sorted(os.path.join(seeds, f) for f in os.listdir(seeds))
    assert files, f"no seed corpus in {seeds}"
    # Replay: each committed input once (crash reproducers stay fixed).
    r = subprocess.run([binary] + files, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"replaying the corpus of {target} failed:\n{r.stderr[-6000:]}"
    # A short run from a scratch copy of the corpus; findings stay in build/.
    work = tempfile.mkdtemp(prefix=f"fuzz-{target}-", dir=os.path.join(qemu.BUILD, "fuzz"))
    for f in files:
        shutil.copy(f, work)
    r = subprocess.run([binary, f"-max_total_time={SECONDS}", "-max_len=16384", "-print_final_stats=1",
                        f"-artifact_prefix={work}/", work],
                       capture_output=True, text=True, timeout=SECONDS + 120)
    execs = [l for l in r.stderr.splitlines() if "number_of_executed_units" in l]
    assert r.returncode == 0, f"fuzz_{target} found a failure (input saved in {work}):\n{r.stderr[-6000:]}"
    print(f"fuzz_{target}: {execs[-1].split()[-1] if execs else '?'} executions in {SECONDS} s")
    shutil.rmtree(work, ignore_errors=True)
