# SPDX-License-Identifier: BSD-2-Clause
"""Kernel lane: barevsock guests against Linux's own vhost_vsock, inside one
outer Linux VM per module (tests/kernel_lane.py). Echo tests wait for
apps/echo and skip loudly until build/<arch>/echo.elf exists. The kernel's
vsockmon records one known exchange, compared with host/'s own capture."""
import os

import pytest

import echosession
import kernel_lane as kl
import linuxvm
import qemu
import vsockpcap as vp

# (target, vsock transport) pairs the lane covers.
CASES = [("x86_64-q35", "pci"), ("aarch64-a53", "mmio"), ("aarch64-a53", "pci"),
         ("arm-a15", "mmio")]
ECHO_PORT = 1234
ECHO_DRIVER = (f"import sys, echo_checks\n"
               f"sys.exit(echo_checks.main(port={ECHO_PORT}, size=ECHO_BYTES, conns=32,"
               f" conn_size=128 * 1024, closed_port=4321))\n").replace("ECHO_BYTES", str(64 << 20))
VSOCKMON_TARGET = "x86_64-q35"
VSOCKMON_DRIVER = (f"import sys, vsockmon_capture\n"
                   f"sys.exit(vsockmon_capture.main({echosession.HELLO!r}, port={echosession.ECHO_PORT}))\n")


def _elf(target, app):
    path = os.path.join(qemu.BUILD, qemu.arch_of(target), app + ".elf")
    return path if os.path.exists(path) else None


def _name(app, target, vsock):
    return f"{app}-{target}-{vsock}"


@pytest.fixture(scope="module")
def lane():
    """One outer boot for the whole module: every available image runs in it,
    one after another."""
    guests = []
    for target, vsock in CASES:
        hello = _elf(target, "hello")
        if hello:
            guests.append(kl.InnerGuest(target, hello, vsock, name=_name("hello", target, vsock),
                                        guest_timeout=60))
        echo = _elf(target, "echo")
        if echo:
            # The echo server never exits by itself: kill it after the driver.
            guests.append(kl.InnerGuest(target, echo, vsock, ECHO_DRIVER, wait_exit=False,
                                        name=_name("echo", target, vsock),
                                        driver_timeout=150, guest_timeout=10))
    echo = _elf(VSOCKMON_TARGET, "echo")
    if echo:
        # Last: it leaves a vsockmon device behind (removed, but just in case).
        guests.append(kl.InnerGuest(VSOCKMON_TARGET, echo, "pci", VSOCKMON_DRIVER, wait_exit=False,
                                    name="vsockmon", driver_timeout=150, guest_timeout=10))
    res = kl.run_lane(guests)
    print(f"\nkernel lane: outer boot to script {res.boot_seconds:.1f}s, whole lane "
          f"{res.seconds:.1f}s, nested kvm={res.env.get('kvm')}")
    for j in res.jobs:
        print(f"  {j.name}: {j.seconds:.2f}s in the outer Linux, kvm={j.kvm_used}")
    return res


def test_lane_boots_with_vhost_vsock(lane):
    assert lane.env.get("vhost_vsock"), lane.console
    assert lane.boot_seconds < 60, f"outer Linux took {lane.boot_seconds:.0f}s to boot"


@pytest.mark.parametrize("target,vsock", CASES)
def test_hello_with_vhost_vsock_device(lane, target, vsock):
    """The inner QEMU opens /dev/vhost-vsock (CID 3 set) and the image runs to
    a clean exit next to it."""
    if not _elf(target, "hello"):
        pytest.skip(f"build/{qemu.arch_of(target)}/hello.elf not built yet")
    job = lane[_name("hello", target, vsock)].expect(qemu.EXIT_OK)
    # x86 QEMU also exits 1 when it fails to start, which decodes as status
    # 0: only the guest's own words prove it ran.
    assert "hello: ok" in job.console, job.describe()


@pytest.mark.parametrize("target,vsock", CASES)
def test_echo_against_kernel_vhost(lane, target, vsock):
    if not _elf(target, "echo"):
        pytest.skip(f"KERNEL LANE ECHO NOT RUN: build/{qemu.arch_of(target)}/echo.elf does not "
                    "exist yet (apps/echo pending); this test covers echo with hash check, "
                    "concurrent connections and RST on a closed port")
    job = lane[_name("echo", target, vsock)]
    job.expect(status=None)
    assert all(job.data.get("ok", {}).values()), job.describe()
    single = job.data["single"]
    print(f"kernel vhost_vsock {target}/{vsock}: {single['bytes'] >> 20} MiB echo in "
          f"{single['seconds']} s = {single['bytes'] / single['seconds'] / 2**20:.1f} MiB/s, "
          f"{len(job.data['concurrent'])} concurrent ok")


def test_vsockmon_sees_what_host_backend_records(lane, tmp_path):
    """The kernel's own vsockmon (tcpdump -i vsockmon0) records the known echo
    exchange with vhost_vsock; bv-vhost-vsock --pcap records the same exchange
    with the same guest image. Guest-emitted frames must be identical field for
    field in both (monitor header, virtio header, payload), the host's port
    aside; host-emitted ones too, except what a host stack chooses for itself
    (its port, buf_alloc, fwd_cnt, volunteered credit packets): see
    vsockpcap.compare_flows."""
    vp.need_tshark()
    if not _elf(VSOCKMON_TARGET, "echo"):
        pytest.skip(f"VSOCKMON COMPARISON NOT RUN: build/{qemu.arch_of(VSOCKMON_TARGET)}/echo.elf is missing")
    job = lane["vsockmon"].expect(status=None)
    assert job.data.get("echoed"), job.describe()
    assert "vsockmon.pcap" in job.files, job.describe()
    theirs_path = tmp_path / "vsockmon.pcap"
    theirs_path.write_bytes(job.files["vsockmon.pcap"])
    theirs = vp.flow(vp.read(str(theirs_path)), echosession.ECHO_PORT, job.data["host_port"])
    ours_path = str(tmp_path / "ours.pcap")
    host_port = echosession.record(ours_path)
    ours = vp.flow(vp.read(ours_path), echosession.ECHO_PORT, host_port)
    print(f"kernel vsockmon:\n{vp.describe(theirs)}\nbv-vhost-vsock --pcap:\n{vp.describe(ours)}")
    ops = [vp.OPS[f["op"]] for f in theirs]
    assert ops[0] == "REQUEST" and ops[-1] == "RST" and "RW" in ops, vp.describe(theirs)
    probs = vp.compare_flows(ours, theirs)
    assert not probs, "\n".join(probs) + f"\nours:\n{vp.describe(ours)}\ntheirs:\n{vp.describe(theirs)}"


def test_echo_checks_against_linux_loopback():
    """The echo driver itself, against a Linux echo server over vsock
    loopback: a failing echo test must mean the guest, not the driver."""
    script = f"""#!/usr/bin/python3
import os, socket, sys, threading
sys.path.insert(0, {kl.LIB_DIR!r})
srv = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
srv.bind((socket.VMADDR_CID_ANY, {ECHO_PORT}))
srv.listen(8)
def serve(c):
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.close()
def accept():
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
os.environ["LANE_JOB_DIR"] = os.getcwd()
import echo_checks
sys.exit(echo_checks.main(port={ECHO_PORT}, cid=1))  # VMADDR_CID_LOCAL
"""
    res = linuxvm.run_script(script, modules=["vsock_loopback"], timeout=180, check=False)
    assert res.status == 0, f"driver failed\n{res.console[-4000:]}"
    assert "driver.json" in res.files, res.console
