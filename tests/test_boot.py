# SPDX-License-Identifier: BSD-2-Clause
"""Foundation: every image boots on every target, prints, keeps time, and
exits with the status it chose (issue: guest foundation)."""
import os
import pytest
import qemu

LOGS = os.path.join(qemu.BUILD, "test-logs")


@pytest.mark.parametrize("target", sorted(qemu.TARGETS))
def test_hello_boots(target):
    elf = qemu.elf_path(qemu.arch_of(target), "hello")
    g = qemu.boot(target, elf, timeout=60, log_path=os.path.join(LOGS, f"hello-{target}.log"))
    qemu.expect_exit(g, qemu.EXIT_OK)
    assert "hello from barevsock" in g.text, g.describe()
    assert "hello: ok" in g.text, g.describe()
    # The guest spun for 300 ms on its own clock: the host must have seen at
    # least that much wall time, or the guest clock runs fast.
    assert g.seconds >= 0.3, f"guest clock runs fast: whole run took {g.seconds:.3f}s\n{g.describe()}"
    print(f"{target}: qemu start to exit {g.seconds * 1000:.0f} ms")


@pytest.mark.parametrize("target", ["x86_64-q35", "aarch64-a53", "arm-a15"])
def test_panic_reports_and_exits(target):
    elf = qemu.elf_path(qemu.arch_of(target), "panic")
    g = qemu.boot(target, elf, timeout=60)
    qemu.expect_exit(g, qemu.EXIT_PANIC)
    assert "PANIC: deliberate panic, code 1234" in g.text, g.describe()
