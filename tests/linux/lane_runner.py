#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Runs inside the kernel lane's outer Linux (see tests/kernel_lane.py): for
each job in lane.json, start the inner QEMU with a vhost-vsock device, run the
job's driver next to it, and write result.json. Judging results is the host's
job, not this file's; it only records what happened."""
import json
import os
import subprocess
import sys
import threading
import time


def log(msg):
    print(f"lane: {msg}", flush=True)


def watch_fds(pid, seen, stop):
    """Note which device files the inner QEMU holds open: /dev/vhost-vsock
    proves the vhost backend is attached, /dev/kvm shows the accelerator.
    Sampled because the process may live well under a second."""
    fd_dir = f"/proc/{pid}/fd"
    while not stop.is_set():
        try:
            for fd in os.listdir(fd_dir):
                try:
                    target = os.readlink(os.path.join(fd_dir, fd))
                except OSError:
                    continue
                if target.startswith("/dev/"):
                    seen.add(target)
        except OSError:
            return  # process gone
        stop.wait(0.01)


def run_job(job, lib_dir):
    jobdir = os.path.abspath(job["name"])
    os.makedirs(jobdir, exist_ok=True)
    res = {"name": job["name"], "qemu_rc": None, "driver_rc": None, "guest_timed_out": False,
           "driver_timed_out": False, "devices": [], "error": None}
    console = open(os.path.join(jobdir, "console.log"), "wb")
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(job["cmd"], stdin=subprocess.DEVNULL, stdout=console,
                                stderr=subprocess.STDOUT)
    except OSError as e:
        res["error"] = f"cannot start inner QEMU: {e}"
        return res
    seen, stop = set(), threading.Event()
    watcher = threading.Thread(target=watch_fds, args=(proc.pid, seen, stop), daemon=True)
    watcher.start()
    try:
        if job.get("driver"):
            env = dict(os.environ, LANE_CID=str(job["cid"]), LANE_JOB_DIR=jobdir,
                       LANE_CONSOLE=os.path.join(jobdir, "console.log"),
                       LANE_QEMU_PID=str(proc.pid), PYTHONPATH=lib_dir)
            with open(os.path.join(jobdir, "driver.log"), "wb") as out:
                drv = subprocess.Popen(["/usr/bin/python3", "-u", job["driver"]], cwd=jobdir,
                                       env=env, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT)
                try:
                    res["driver_rc"] = drv.wait(timeout=job["driver_timeout"])
                except subprocess.TimeoutExpired:
                    drv.kill()
                    drv.wait()
                    res["driver_timed_out"] = True
            res["driver_seconds"] = time.monotonic() - t0
        if job["wait_exit"]:
            try:
                proc.wait(timeout=max(job["guest_timeout"] - (time.monotonic() - t0), 1))
            except subprocess.TimeoutExpired:
                res["guest_timed_out"] = True
        if proc.poll() is None:
            proc.kill()
        res["qemu_rc"] = proc.wait()
        # A killed QEMU reports -9; only an exit QEMU chose counts as status.
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stop.set()
        watcher.join(1)
        console.close()
    res["seconds"] = time.monotonic() - t0
    res["devices"] = sorted(seen)
    return res


def main():
    with open("lane.json") as f:
        lane = json.load(f)
    # Nested KVM for x86_64 inner guests: the outer CPU (-cpu max under TCG)
    # offers SVM. Best effort: inner QEMUs fall back to TCG without it.
    subprocess.run(["modprobe", "kvm_amd"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not os.path.exists("/dev/vhost-vsock"):
        log("FATAL: /dev/vhost-vsock missing after modprobe vhost_vsock")
        return 2
    env_info = {"vhost_vsock": True, "kvm": os.path.exists("/dev/kvm"),
                "uptime": float(open("/proc/uptime").read().split()[0])}
    with open("lane-env.json", "w") as f:
        json.dump(env_info, f)
    for job in lane["jobs"]:
        log(f"job {job['name']}: start")
        res = run_job(job, lane["lib_dir"])
        tmp = os.path.join(job["name"], "result.json.tmp")
        with open(tmp, "w") as f:
            json.dump(res, f)
        os.rename(tmp, os.path.join(job["name"], "result.json"))
        log(f"job {job['name']}: qemu rc {res['qemu_rc']} driver rc {res['driver_rc']} "
            f"in {res['seconds']:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
