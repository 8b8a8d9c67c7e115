# SPDX-License-Identifier: BSD-2-Clause
"""Run each native unit-test binary (portable code compiled for the host with
ASan/UBSan). The list comes from the Makefile, so a test that failed to build
is a failure here, not a silent omission."""
import os
import subprocess
import pytest
import qemu

def _unit_tests():
    out = subprocess.run(["make", "-s", "--no-print-directory", "print-unit-tests"],
                         cwd=qemu.ROOT, capture_output=True, text=True, check=True).stdout
    return out.split()

@pytest.mark.parametrize("binary", _unit_tests())
def test_unit(binary):
    path = os.path.join(qemu.ROOT, binary)
    assert os.path.exists(path), f"{binary} was not built (run 'make host')"
    r = subprocess.run([path], cwd=qemu.ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{binary} failed (rc={r.returncode})\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}"
