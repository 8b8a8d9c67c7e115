# SPDX-License-Identifier: BSD-2-Clause
"""The x86_64 UEFI applications against the Linux kernel's own vhost_vsock,
in the kernel lane (tests/kernel_lane.py): the inner QEMU boots OVMF next to
a vhost-vsock-pci device, and OVMF's shell runs fetch.efi (exit=firmware:
back to the shell, device given back) and then echo.efi (which takes the
device again) from an ESP. One OVMF boot for both, because it is slow here:
nested KVM would help, but QEMU 7.2's TCG aborts the outer VM
(tcg_handle_interrupt: assertion qemu_mutex_iothread_locked) as soon as an
inner KVM guest takes interrupts, which firmware does, so the inner QEMU runs
TCG inside TCG (OVMF to its shell: minutes). The firmware files are the
host's /usr/share/OVMF (the outer Linux sees the host's root)."""
import json
import os
import shlex

import pytest

import kernel_lane as kl
import linuxvm
import qemu
import uefi

HERE = os.path.dirname(os.path.abspath(__file__))
SHELL = [("fetch", "exit=firmware"), ("echo", "")]
# Inner OVMF under TCG in TCG: the first app started 380 s (quiet) to 813 s
# (load average 9) after the inner QEMU here.
FIRMWARE_BOOT_S = 1500
DRIVER = f"""import json, os, socket, sys, time
sys.path.insert(0, {HERE!r})
import echo_checks, fetchsvc, lanelib
t0 = time.monotonic()
times = {{}}
blob = os.urandom(1 << 20)
# fetch: listen only once the guest has been refused (the retry is under test).
lanelib.wait_console("fetch: attempt 1:", timeout={FIRMWARE_BOOT_S})
times["fetch_first_attempt"] = round(time.monotonic() - t0, 1)
srv = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
srv.bind((socket.VMADDR_CID_ANY, 5600))
srv.listen(1)
srv.settimeout(300)
c, _ = srv.accept()
c.settimeout(300)
res = fetchsvc.serve(c, {{"boot-config": blob}})
c.close()
lanelib.save("fetch.json", result=res)
# then echo.efi, started by the shell after fetch gave the device back
lanelib.wait_console("echo: listening on port 1234", timeout=600)
times["echo_listening"] = round(time.monotonic() - t0, 1)
lanelib.save("boot.json", **times)
sys.exit(echo_checks.main(port=1234, size=16 << 20, conns=8, conn_size=256 * 1024, closed_port=4321))
"""


class UefiInnerGuest(kl.InnerGuest):
    """An inner guest that boots OVMF, whose shell runs the apps in SHELL
    from an ESP made in the job directory, with its own variable store copy."""

    def command(self):
        cmd = super().command()
        i = cmd.index("-kernel")
        del cmd[i:i + 2]
        fw = uefi.FIRMWARE["x86_64"]
        job = f"{linuxvm.GUEST_WORK}/{self.name}"
        cmd += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={fw['code']}",
                "-drive", f"if=pflash,format=raw,unit=1,file={job}/vars.fd",
                "-drive", f"file=fat:rw:{job}/esp,format=raw,media=disk"]
        copies = "; ".join(f"cp {shlex.quote(uefi.efi_path('x86_64', app))} {job}/esp/{app}.efi"
                           for app, _ in SHELL)
        nsh = uefi.startup_nsh(SHELL).replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        prep = (f"set -e; mkdir -p {job}/esp; {copies}; printf '{nsh}' > {job}/esp/startup.nsh; "
                f"cp {fw['vars']} {job}/vars.fd; exec ")
        return ["/bin/sh", "-c", prep + shlex.join(cmd)]


@pytest.fixture(scope="module")
def lane():
    uefi.firmware("x86_64")
    for app, _ in SHELL:
        uefi.efi_path("x86_64", app)
    # accel="tcg": see the module's docstring for why not nested KVM.
    g = UefiInnerGuest("x86_64-q35", uefi.efi_path("x86_64", "echo"), "pci", DRIVER, name="uefi-shell",
                       wait_exit=False, driver_timeout=FIRMWARE_BOOT_S + 900, guest_timeout=10, accel="tcg")
    res = kl.run_lane([g])
    print(f"\nkernel lane (UEFI): outer boot {res.boot_seconds:.1f}s, whole lane {res.seconds:.1f}s")
    return res["uefi-shell"]


def test_fetch_efi_against_kernel_vhost(lane):
    """A guest-initiated connection to a host AF_VSOCK listener that comes up
    late: refused, retried, a 1 MiB blob hashed and confirmed; then the
    device goes back to the firmware and the shell runs the next app."""
    fetch = json.loads(lane.files.get("fetch.json", b"{}")).get("result", {})
    assert fetch.get("verified"), f"host service: {fetch}\n{lane.describe()}"
    c = lane.console
    assert fetch["expected"] in c and "fetch: host says VERIFIED" in c, lane.describe()
    assert "uefi: exit status 0" in c and "given back: device reset ok" in c, lane.describe()


def test_echo_efi_against_kernel_vhost(lane):
    lane.expect(status=None)
    c = lane.console
    assert c.count("taken from the firmware") >= 2, f"echo did not take the device again\n{lane.describe()}"
    assert all(lane.data.get("ok", {}).values()), lane.describe()
    boot = json.loads(lane.files.get("boot.json", b"{}"))
    single = lane.data["single"]
    print(f"kernel vhost_vsock, OVMF x86_64 in TCG-in-TCG: fetch's first attempt "
          f"{boot.get('fetch_first_attempt')} s and echo listening {boot.get('echo_listening')} s after "
          f"the inner QEMU started; 16 MiB echo in {single['seconds']} s, "
          f"{len(lane.data['concurrent'])} concurrent ok, closed port {lane.data['closed_port_errno']}")
