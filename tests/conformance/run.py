# SPDX-License-Identifier: BSD-2-Clause
"""`make conformance`: run the catalogue against a Linux guest and barevsock
(x86_64 q35) behind the raw-packet host, rewrite the committed Linux column
(tests/conformance/linux.json) and docs/conformance.md.

    python3 tests/conformance/run.py                 # both guests, write both files
    python3 tests/conformance/run.py --only linux    # just the Linux column
    python3 tests/conformance/run.py --only barevsock --no-write -k credit
Non-goals: the make-test gate (tests/test_conformance.py)."""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import qemu                                   # noqa: E402
from conformance import catalogue, harness, known, matrix   # noqa: E402

LINUX_JSON = os.path.join(HERE, "linux.json")
BAREVSOCK_JSON = os.path.join(harness.OUT, "barevsock-q35-pci.json")


def run_guest(make_guest, selected, expected=None, verbose=True):
    results, meta = {}, {}
    t_all = time.monotonic()
    for group, scs in catalogue.by_group():
        scs = [s for s in scs if s in selected]
        if not scs:
            continue
        features = catalogue.GROUPS[group]
        t = time.monotonic()
        g = make_guest(features)
        meta.setdefault("boot_seconds", {})[group] = round(time.monotonic() - t, 1)
        meta["name"] = g.name
        if hasattr(g, "kernel"):
            meta["kernel"] = g.kernel
        try:
            def show(sc, rec):
                if verbose:
                    print(f"  {sc.index:2d} {sc.name}: {'ERROR ' + rec['error'] if 'error' in rec else 'ok'}",
                          flush=True)
            results.update(harness.run_scenarios(g, scs, expected, on_result=show))
        finally:
            g.stop()
    meta["seconds"] = round(time.monotonic() - t_all, 1)
    if verbose:
        print(f"  ({meta.get('name')}: {meta['seconds']} s, boots {meta.get('boot_seconds')})", flush=True)
    return results, meta


def qemu_version():
    out = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["linux", "barevsock"])
    ap.add_argument("-k", help="only scenarios whose name contains one of these (comma-separated)")
    ap.add_argument("--no-write", action="store_true", help="print, do not rewrite the committed files")
    ap.add_argument("--doc-only", action="store_true",
                    help="run nothing: rewrite docs/conformance.md from the last records")
    a = ap.parse_args()
    keys = a.k.split(",") if a.k else []
    selected = [s for s in catalogue.SCENARIOS if not keys or any(k in s.name for k in keys)]
    t0 = time.monotonic()
    linux = None
    if a.doc_only:
        a.only = "none"
    if a.only not in ("barevsock", "none"):
        print(f"conformance: Linux guest, {len(selected)} scenarios", flush=True)
        results, meta = run_guest(lambda f: harness.Linux(f), selected)
        meta.update({"qemu": qemu_version(), "date": datetime.date.today().isoformat(),
                     "raw_host": "bv-vhost-vsock --raw"})
        linux = {"meta": meta, "scenarios": results}
        if not a.no_write:
            if a.k and os.path.exists(LINUX_JSON):
                with open(LINUX_JSON) as f:
                    old = json.load(f)
                old["scenarios"].update(results)
                old["meta"] = meta
                linux = old
            with open(LINUX_JSON, "w") as f:
                json.dump(linux, f, indent=1, sort_keys=True)
                f.write("\n")
    if linux is None:
        linux = {"meta": {}, "scenarios": {}}
        if os.path.exists(LINUX_JSON):
            with open(LINUX_JSON) as f:
                linux = json.load(f)
    bv = None
    if a.only not in ("linux", "none"):
        print(f"conformance: barevsock on q35, {len(selected)} scenarios", flush=True)
        results, meta = run_guest(lambda f: harness.Barevsock(harness.TRANSPORTS["q35-pci"], f), selected,
                                  expected=linux["scenarios"])
        bv = {"meta": meta, "scenarios": results}
        if a.k and os.path.exists(BAREVSOCK_JSON):
            with open(BAREVSOCK_JSON) as f:
                old = json.load(f)
            old["scenarios"].update(results)
            bv = old
        os.makedirs(os.path.dirname(BAREVSOCK_JSON), exist_ok=True)
        with open(BAREVSOCK_JSON, "w") as f:
            json.dump(bv, f, indent=1, sort_keys=True)
    elif os.path.exists(BAREVSOCK_JSON):
        with open(BAREVSOCK_JSON) as f:
            bv = json.load(f)
    verdicts = {s.name: known.verdict(s.name, linux["scenarios"].get(s.name), (bv or {}).get("scenarios", {}).get(s.name))
                for s in catalogue.SCENARIOS}
    for name, v in verdicts.items():
        if v["kind"] != "same":
            why = v["why"] if len(v["why"]) < 100 else v["why"][:97] + "..."
            print(f"  {name}: {v['kind']}: {why}")
    if not a.no_write and bv is not None:
        doc = matrix.render(linux, bv, verdicts)
        path = os.path.join(qemu.ROOT, "docs", "conformance.md")
        with open(path, "w") as f:
            f.write(doc)
        print(f"conformance: wrote {os.path.relpath(path, qemu.ROOT)}")
    print(f"conformance: {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
