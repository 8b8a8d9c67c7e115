# SPDX-License-Identifier: BSD-2-Clause
"""The kernel lane: a Linux VM (tests/linuxvm.py) acts as the vsock host with
the kernel's own vhost_vsock, and runs barevsock guests as inner QEMUs next to
Python driver scripts. Not the vhost-user lane (host/), and no UML variant."""
import json
import os

import linuxvm
import qemu

HERE = os.path.dirname(os.path.abspath(__file__))
LIB_DIR = os.path.join(HERE, "linux")          # lanelib.py for drivers
RUNNER = os.path.join(LIB_DIR, "lane_runner.py")

VSOCK_DEVICES = {"pci": "vhost-vsock-pci", "mmio": "vhost-vsock-device"}


class InnerGuest:
    """One inner guest run inside the lane.

    target: a tests/qemu.py TARGETS key; elf: host path of the image (the
    outer Linux sees the host root at the same paths). vsock: "pci", "mmio"
    or None. driver: Python source run in the outer Linux while the guest
    runs (cwd = the job dir; `import lanelib` for CID/connect/wait_console);
    its files come back in JobResult.files. wait_exit: after the driver, wait
    for the guest to exit by itself (True) or kill it (False, e.g. a server).
    accel: "auto" tries nested KVM for x86_64 and falls back to TCG.
    """

    def __init__(self, target, elf, vsock="pci", driver=None, *, cid=3, name=None,
                 wait_exit=True, guest_timeout=60, driver_timeout=120, accel="auto",
                 mem_mb=128, extra_args=()):
        if vsock is not None and vsock not in VSOCK_DEVICES:
            raise ValueError(f"vsock must be one of {sorted(VSOCK_DEVICES)} or None")
        if accel not in ("auto", "tcg"):
            raise ValueError("accel must be 'auto' or 'tcg'")
        self.target = target
        self.elf = os.path.abspath(elf)
        self.vsock = vsock
        self.driver = driver
        self.cid = cid
        self.name = name or f"{target}-{os.path.splitext(os.path.basename(elf))[0]}-{vsock}"
        self.wait_exit = wait_exit
        self.guest_timeout = guest_timeout
        self.driver_timeout = driver_timeout
        self.accel = accel
        self.mem_mb = mem_mb
        self.extra_args = list(extra_args)

    def guest_elf(self):
        """Where the outer Linux finds the image: a copy in the work share,
        because /tmp and /run in there are fresh tmpfs, not the host's."""
        return f"{linuxvm.GUEST_WORK}/{self.name}/{os.path.basename(self.elf)}"

    def command(self):
        cmd = qemu.qemu_cmd(self.target, self.guest_elf(), mem_mb=self.mem_mb)
        if self.accel == "auto" and qemu.arch_of(self.target) == "x86_64":
            # Nested KVM (the outer Linux's kvm_amd on TCG's SVM) when it is
            # there, TCG otherwise; -cpu max is valid for both.
            i = cmd.index("-accel")
            cmd[i:i + 2] = ["-accel", "kvm", "-accel", "tcg"]
            if "-cpu" not in cmd:
                cmd += ["-cpu", "max"]
        if self.vsock:
            cmd += ["-device", f"{VSOCK_DEVICES[self.vsock]},guest-cid={self.cid}"]
        return cmd + self.extra_args

    def job(self):
        return {"name": self.name, "cmd": self.command(), "cid": self.cid,
                "driver": "driver.py" if self.driver else None,
                "wait_exit": self.wait_exit, "guest_timeout": self.guest_timeout,
                "driver_timeout": self.driver_timeout}

    def budget(self):
        """Worst-case seconds this job can take inside the outer Linux."""
        return (self.driver_timeout if self.driver else 0) + self.guest_timeout + 10


class JobResult:
    """What one inner guest did. status: the guest's logical exit status
    (bv/exit.h, via qemu.decode_status), None if QEMU was killed or died.
    vhost_opened / kvm_used: the inner QEMU held /dev/vhost-vsock, /dev/kvm.
    data: what the driver saved with lanelib.save()."""

    def __init__(self, guest, raw, files, outer_console):
        self.guest = guest
        self.name = guest.name
        self.raw = raw
        self.qemu_rc = raw.get("qemu_rc")
        self.status = (qemu.decode_status(guest.target, self.qemu_rc)
                       if not raw.get("guest_timed_out") else None)
        self.driver_rc = raw.get("driver_rc")
        self.seconds = raw.get("seconds")
        self.devices = raw.get("devices", [])
        self.vhost_opened = "/dev/vhost-vsock" in self.devices
        self.kvm_used = "/dev/kvm" in self.devices
        prefix = self.name + "/"
        self.files = {k[len(prefix):]: v for k, v in files.items() if k.startswith(prefix)}
        self.console = self.files.get("console.log", b"").decode("utf-8", "replace")
        self.driver_output = self.files.get("driver.log", b"").decode("utf-8", "replace")
        self.data = json.loads(self.files["driver.json"]) if "driver.json" in self.files else {}
        self.outer_console = outer_console

    def describe(self):
        return (f"job {self.name}: qemu rc={self.qemu_rc} status={self.status} "
                f"driver rc={self.driver_rc} seconds={self.seconds} raw={self.raw}\n"
                f"inner command: {' '.join(self.guest.command())}\n"
                f"---- inner guest console ----\n{self.console[-4000:]}\n"
                f"---- driver output ----\n{self.driver_output[-4000:]}\n"
                f"---- outer Linux console (tail) ----\n{self.outer_console[-2500:]}\n---- end ----")

    def expect(self, status=qemu.EXIT_OK, driver_ok=True, vhost=True):
        """Assert the usual success shape; the message carries every log."""
        problems = []
        if self.raw.get("error"):
            problems.append(self.raw["error"])
        if self.raw.get("guest_timed_out"):
            problems.append("inner guest did not exit in time")
        if self.raw.get("driver_timed_out"):
            problems.append("driver timed out")
        if status is not None and self.status != status:
            problems.append(f"guest status {self.status}, expected {status}")
        if driver_ok and self.guest.driver and self.driver_rc != 0:
            problems.append(f"driver exited {self.driver_rc}")
        if vhost and self.guest.vsock and not self.vhost_opened:
            problems.append("inner QEMU never held /dev/vhost-vsock open")
        assert not problems, "; ".join(problems) + "\n" + self.describe()
        return self


class LaneResult:
    def __init__(self, jobs, vm_result, env):
        self.jobs = jobs
        self.by_name = {j.name: j for j in jobs}
        self.console = vm_result.console
        self.boot_seconds = vm_result.boot_seconds
        self.seconds = vm_result.seconds
        self.env = env  # {"vhost_vsock": bool, "kvm": bool, "uptime": s}

    def __getitem__(self, name):
        return self.by_name[name]


def run_lane(guests, timeout=None, mem_mb=2048, smp=2):
    """Boot one outer Linux and run each InnerGuest in turn (CIDs may repeat
    since they run one after another). Returns a LaneResult; raises
    linuxvm.LinuxVMError (with the outer console) if the lane itself broke.
    Guests' own failures are in the JobResults: call .expect() on them."""
    guests = list(guests)
    names = [g.name for g in guests]
    if len(set(names)) != len(names):
        raise ValueError(f"inner guest names must be unique: {names}")
    for g in guests:
        if not os.path.exists(g.elf):
            raise FileNotFoundError(f"{g.elf} is missing: run 'make all-arches' first")
    lane = {"lib_dir": LIB_DIR, "jobs": [g.job() for g in guests]}
    files = {"lane.json": json.dumps(lane, indent=1)}
    for g in guests:
        with open(g.elf, "rb") as f:
            files[f"{g.name}/{os.path.basename(g.elf)}"] = f.read()
        if g.driver:
            files[f"{g.name}/driver.py"] = g.driver
    total = timeout or (90 + sum(g.budget() for g in guests))
    script = f"exec /usr/bin/python3 -u {RUNNER}\n"
    with linuxvm.LinuxVM(script, files=files, modules=["vhost_vsock"], mem_mb=mem_mb,
                         smp=smp, timeout=total, name="kernel-lane") as vm:
        res = vm.wait()
        if res.status != 0:
            vm.keep_workdir = True
            raise linuxvm.LinuxVMError(f"lane runner exited {res.status}\n{vm.describe()}")
        env = json.loads(res.files.get("lane-env.json", b"{}"))
        jobs = []
        for g in guests:
            key = f"{g.name}/result.json"
            if key not in res.files:
                vm.keep_workdir = True
                raise linuxvm.LinuxVMError(f"no result for inner guest {g.name}\n{vm.describe()}")
            jobs.append(JobResult(g, json.loads(res.files[key]), res.files, res.console))
    return LaneResult(jobs, res, env)


def run_in_kernel_lane(guest_target, guest_elf, vsock_device="pci", driver_script=None, **kw):
    """One inner guest in its own outer boot; returns its JobResult.
    kw: InnerGuest options (cid, wait_exit, guest_timeout, ...). To run
    several guests per boot (faster), use run_lane()."""
    g = InnerGuest(guest_target, guest_elf, vsock_device, driver_script, **kw)
    return run_lane([g]).jobs[0]


if __name__ == "__main__":
    # By hand: python3 tests/kernel_lane.py x86_64-q35 build/x86_64/echo.elf
    #          --vsock pci --driver my_driver.py --kill-after-driver
    import argparse
    ap = argparse.ArgumentParser(description="run one guest image in the kernel lane")
    ap.add_argument("target", choices=sorted(qemu.TARGETS))
    ap.add_argument("elf")
    ap.add_argument("--vsock", choices=sorted(VSOCK_DEVICES), default="pci")
    ap.add_argument("--driver", help="Python file run in the outer Linux next to the guest")
    ap.add_argument("--kill-after-driver", action="store_true",
                    help="kill the guest when the driver ends (servers)")
    ap.add_argument("--tcg", action="store_true", help="no nested KVM for x86_64")
    a = ap.parse_args()
    drv = open(a.driver).read() if a.driver else None
    job = run_in_kernel_lane(a.target, a.elf, a.vsock, drv, wait_exit=not a.kill_after_driver,
                             accel="tcg" if a.tcg else "auto")
    print(job.describe())
    print(f"status={job.status} driver_rc={job.driver_rc} vhost_opened={job.vhost_opened} "
          f"kvm={job.kvm_used} seconds={job.seconds:.2f} data={job.data}")
