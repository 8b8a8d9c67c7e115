# SPDX-License-Identifier: BSD-2-Clause
"""Reading vsock captures (LINKTYPE_VSOCK pcap) for the tests, through
Debian's tshark (Wireshark's vsock dissector), never through our own parser:
a capture counts as right only when a tool nobody here wrote agrees. Also the
field names and op numbers the tests and docs/ share. Not a pcap library."""
import os
import shutil
import subprocess

TSHARK = shutil.which("tshark") or "/usr/bin/tshark"

# (our name, tshark field). Wireshark 4.0 spells the virtio ports "src_prot"/"dst_prot".
FIELDS = [
    ("frame", "frame.number"),
    ("time", "frame.time_epoch"),
    ("frame_len", "frame.len"),
    ("cap_len", "frame.cap_len"),
    ("mon_src_cid", "vsock.src_cid"),
    ("mon_dst_cid", "vsock.dst_cid"),
    ("mon_src_port", "vsock.src_port"),
    ("mon_dst_port", "vsock.dst_port"),
    ("mon_op", "vsock.op"),
    ("mon_transport", "vsock.trans"),
    ("mon_len", "vsock.trans_len"),
    ("mon_reserved", "vsock.reserved"),
    ("src_cid", "vsock.virtio.src_cid"),
    ("dst_cid", "vsock.virtio.dst_cid"),
    ("src_port", "vsock.virtio.src_prot"),
    ("dst_port", "vsock.virtio.dst_prot"),
    ("len", "vsock.virtio.len"),
    ("type", "vsock.virtio.type"),
    ("op", "vsock.virtio.op"),
    ("flags", "vsock.virtio.flags"),
    ("buf_alloc", "vsock.virtio.buf_alloc"),
    ("fwd_cnt", "vsock.virtio.fwd_cnt"),
    ("payload", "vsock.payload"),
]
MON_HDR = ["mon_src_cid", "mon_dst_cid", "mon_src_port", "mon_dst_port", "mon_op", "mon_transport",
           "mon_len", "mon_reserved"]
VIRTIO_HDR = ["src_cid", "dst_cid", "src_port", "dst_port", "len", "type", "op", "flags",
              "buf_alloc", "fwd_cnt"]

OPS = {1: "REQUEST", 2: "RESPONSE", 3: "RST", 4: "SHUTDOWN", 5: "RW", 6: "CREDIT_UPDATE",
       7: "CREDIT_REQUEST"}
OP = {v: k for k, v in OPS.items()}
MON_OPS = {0: "UNKNOWN", 1: "CONNECT", 2: "DISCONNECT", 3: "CONTROL", 4: "PAYLOAD"}
# What Linux's vsockmon puts in the monitor header for each virtio op.
MON_OP_OF = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 3, 7: 3}


class CaptureError(AssertionError):
    pass


def need_tshark():
    if not os.path.exists(TSHARK):
        import pytest
        pytest.skip("SKIPPED LOUDLY: tshark is not installed (tools/install-deps.sh installs it)")


def _int(v):
    if v == "":
        return None
    return int(v, 16) if v.startswith("0x") else int(v)


def read(path):
    """Every frame of a capture as a dict (our names, ints; payload as bytes;
    time as a float). Raises CaptureError if tshark rejects the file at all,
    including a file cut in the middle of a record."""
    cmd = [TSHARK, "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for _, f in FIELDS:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    err = "\n".join(l for l in r.stderr.splitlines() if "Running as user" not in l)
    if r.returncode != 0 or err.strip():
        raise CaptureError(f"tshark rejected {path} (rc {r.returncode}): {err.strip()}")
    frames = []
    for line in r.stdout.splitlines():
        vals = line.split("\t")
        d = {}
        for (name, _), v in zip(FIELDS, vals):
            if name == "payload":
                d[name] = bytes.fromhex(v.replace(":", "")) if v else b""
            elif name == "mon_reserved":
                d[name] = bytes.fromhex(v.replace(":", "")) if v else b""
            elif name == "time":
                d[name] = float(v)
            else:
                d[name] = _int(v)
        frames.append(d)
    return frames


def linktype(path):
    """The file's link type, from capinfos (also Wireshark's)."""
    r = subprocess.run(["capinfos", "-E", "-T", "-r", path], capture_output=True, text=True, timeout=60)
    return r.stdout.strip().split("\t")[-1]


def summary(path):
    """tshark's own one-line-per-packet summary of a capture."""
    r = subprocess.run([TSHARK, "-n", "-r", path], capture_output=True, text=True, timeout=120)
    return r.stdout


def describe(frames):
    """A short readable list of frames for assertion messages."""
    out = []
    for f in frames:
        out.append(f"#{f['frame']} {f['src_cid']}:{f['src_port']} -> {f['dst_cid']}:{f['dst_port']} "
                   f"{OPS.get(f['op'], f['op'])} len={f['len']} flags={f['flags']} "
                   f"buf_alloc={f['buf_alloc']} fwd_cnt={f['fwd_cnt']} payload={f['payload'][:32]!r}")
    return "\n".join(out)


def flow(frames, guest_port, host_port=None):
    """The frames of one connection, identified by the guest's port (and the
    host's, when known)."""
    out = []
    for f in frames:
        if f["src_cid"] == 2:
            gp, hp = f["dst_port"], f["src_port"]
        else:
            gp, hp = f["src_port"], f["dst_port"]
        if gp == guest_port and (host_port is None or hp == host_port):
            out.append(f)
    return out


# Fields a host stack chooses for itself, so two correct hosts may differ:
# its port (ephemeral), its receive buffer size (buf_alloc: a socket option
# or --tx-buffer-size) and when its reader consumed (fwd_cnt). Timestamps too.
HOST_CHOSEN = {"src_port", "mon_src_port", "buf_alloc", "fwd_cnt"}
# A packet's receiver port is the host's port on guest-emitted packets.
GUEST_EMITTED_HOST_PORT = {"dst_port", "mon_dst_port"}
# Host control packets are host policy (Linux volunteers a CREDIT_UPDATE when
# its receive queue drains; host/ when a quarter of its buffer is free again).
HOST_POLICY_OPS = {OP["CREDIT_UPDATE"], OP["CREDIT_REQUEST"]}
COMPARED = MON_HDR + VIRTIO_HDR + ["payload", "frame_len"]


def monitor_header_problems(frames, who):
    """The monitor header of every frame must be what vsockmon derives from
    the virtio header."""
    probs = []
    for f in frames:
        want = {"mon_src_cid": f["src_cid"], "mon_dst_cid": f["dst_cid"], "mon_src_port": f["src_port"],
                "mon_dst_port": f["dst_port"], "mon_op": MON_OP_OF.get(f["op"], 0), "mon_transport": 2,
                "mon_len": 44, "mon_reserved": b"\0\0"}
        for k, v in want.items():
            if f[k] != v:
                probs.append(f"{who} frame {f['frame']}: {k} = {f[k]!r}, vsockmon derives {v!r}")
    return probs


def compare_flows(ours, theirs, guest_cid=3):
    """Differences between two captures of the same exchange with the same
    guest under two host stacks (one connection each). Guest-emitted frames
    must match field for field, the host's port aside; host-emitted frames
    must match except what a host chooses for itself (HOST_CHOSEN), and host
    control packets (HOST_POLICY_OPS) are not paired. Returns a list of strings."""
    probs = monitor_header_problems(ours, "ours") + monitor_header_problems(theirs, "theirs")
    for who, skip, keep in (("guest", GUEST_EMITTED_HOST_PORT, lambda f: f["src_cid"] == guest_cid),
                            ("host", HOST_CHOSEN, lambda f: f["src_cid"] != guest_cid
                             and f["op"] not in HOST_POLICY_OPS)):
        a = [f for f in ours if keep(f)]
        b = [f for f in theirs if keep(f)]
        if [f["op"] for f in a] != [f["op"] for f in b]:
            probs.append(f"{who}-emitted ops differ: ours {[OPS.get(f['op']) for f in a]}, "
                         f"theirs {[OPS.get(f['op']) for f in b]}")
            continue
        for fa, fb in zip(a, b):
            for k in COMPARED:
                if k not in skip and fa[k] != fb[k]:
                    probs.append(f"{who}-emitted {OPS.get(fa['op'])} (ours #{fa['frame']}, theirs "
                                 f"#{fb['frame']}): {k} ours {fa[k]!r} theirs {fb[k]!r}")
    # Host fwd_cnt may differ, but never beyond what the guest has sent.
    for who, frames in (("ours", ours), ("theirs", theirs)):
        sent = 0
        for f in frames:
            if f["src_cid"] == guest_cid and f["op"] == OP["RW"]:
                sent += f["len"]
            elif f["src_cid"] != guest_cid and f["fwd_cnt"] > sent:
                probs.append(f"{who} frame {f['frame']}: host fwd_cnt {f['fwd_cnt']} > {sent} bytes the guest sent")
    return probs
