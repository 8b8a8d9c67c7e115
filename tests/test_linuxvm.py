# SPDX-License-Identifier: BSD-2-Clause
"""Self-test of tests/linuxvm.py: the Linux VM boots, runs scripts, passes
files both ways, works in the background and with shared memory. Not a test
of barevsock itself; the kernel lane has its own module."""
import os
import shutil
import time

import pytest

import linuxvm


def test_script_status_and_files():
    vm = linuxvm.LinuxVM("cat in.txt > out.txt; echo from-guest >> out.txt; exit 7",
                         files={"in.txt": "from-host\n"}, timeout=120)
    with vm:
        status, console, files = vm.wait()
    assert status == 7, console
    assert files["out.txt"] == b"from-host\nfrom-guest\n", console
    assert "script exit 7" in console
    assert not os.path.exists(vm.workdir), "work dir should be removed after a clean run"
    print(f"boot to script {vm.result.boot_seconds:.1f}s, total {vm.result.seconds:.1f}s")


def test_python_script_and_modules():
    script = """#!/usr/bin/python3
import os, socket, sys
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.close()
open("result.txt", "w").write("%s %s" % (sys.executable, os.path.exists("/dev/vhost-vsock")))
"""
    res = linuxvm.run_script(script, modules=["vhost_vsock"], timeout=120)
    assert res.text("result.txt") == "/usr/bin/python3 True", res.console


def test_background_ready_marker_and_host_signal():
    # The guest announces it is ready, then waits for the host to drop a file.
    script = """
echo up > ready.tmp && mv ready.tmp ready
echo GUEST-READY
i=0
while [ ! -e go ]; do sleep 0.1; i=$((i+1)); [ $i -gt 600 ] && exit 3; done
cat go > done
"""
    with linuxvm.LinuxVM(script, timeout=120) as vm:
        vm.wait_for_file("ready", timeout=60)
        vm.wait_for_console("GUEST-READY", timeout=30)
        vm.put("go", "payload\n")
        res = vm.wait().check()
    assert res.files["done"] == b"payload\n"


def test_stop_kills_background_vm():
    with linuxvm.LinuxVM("touch ready; sleep 1000", timeout=120) as vm:
        vm.wait_for_file("ready")
        t = time.monotonic()
        res = vm.stop()
        assert time.monotonic() - t < 10
    assert res.status is None
    assert not vm.running()


def test_shared_memory_with_virtfs():
    # vhost-user backends need guest RAM in a shared memfd; the 9p root must
    # keep working with it.
    res = linuxvm.run_script("grep MemTotal /proc/meminfo > mem.txt; ls /usr/bin/python3",
                             shared_mem=True, mem_mb=768, timeout=120)
    kb = int(res.text("mem.txt").split()[1])
    assert 600 * 1024 < kb <= 768 * 1024, res.console


def test_bad_qemu_option_reports_qemu_error():
    vm = linuxvm.LinuxVM("true", extra_qemu_args=["-device", "no-such-device"], timeout=60)
    with pytest.raises(linuxvm.LinuxVMError) as err:
        with vm:
            vm.wait()
    assert "no-such-device" in str(err.value)
    shutil.rmtree(vm.workdir)


def test_timeout_kills_vm_and_reports_console():
    vm = linuxvm.LinuxVM("echo STUCK-HERE; sleep 1000", timeout=8)
    with pytest.raises(linuxvm.LinuxVMError) as err:
        with vm:
            vm.wait()
    assert "did not finish within 8s" in str(err.value)
    assert "STUCK-HERE" in str(err.value)
    assert not vm.running()
    assert os.path.isdir(vm.workdir), "a failed run keeps its work dir for debugging"
    shutil.rmtree(vm.workdir)
