#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The memory budget of libbarevsock.a, measured: for each architecture the
archive's data and bss at the defaults of include/bv/config.h, and for each
knob the bytes it costs, found by building the library again with that knob
doubled (BV_CONFIG) and taking the difference in static RAM (data + bss) and
code. The knobs and defaults are read from config.h, so a new knob shows up
by itself. Builds go to build/membudget/ (make lib BUILDDIR=...).

    tools/membudget.py                 print the table (markdown)
    tools/membudget.py --write FILE    replace the table between the markers in FILE
    tools/membudget.py --check FILE    exit 1 if FILE's table is not what the build says
    tools/membudget.py --check-totals FILE
                                       the same for the totals rows only (3 builds, not 3 per
                                       knob: what tests/test_lib.py runs)
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHES = ["x86_64", "aarch64", "arm"]
SIZE = {"x86_64": "size", "aarch64": "aarch64-linux-gnu-size", "arm": "arm-none-eabi-size"}
BEGIN, END = "<!-- membudget:begin -->", "<!-- membudget:end -->"
# Knobs that size only the -kernel images' discovery layer, not the archive.
DISCOVERY = {"BV_VIRTIO_MAX_DEVICES", "BV_PCI_MAX_FUNCS"}
# Knobs whose cost is padding, not proportional: no per-unit figure.
PADDING = {"BV_DMA_ALIGN"}
# The small configuration examples/embed builds with.
EXAMPLE_CONFIG = os.path.join("examples", "embed", "fw_bv_config.h")


def example_defines():
    text = open(os.path.join(ROOT, EXAMPLE_CONFIG)).read()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^#define (BV_\w+)\s+(\d+)", text, re.M)}


def knobs():
    """(name, default, comment) for every #define in config.h's #ifndef blocks."""
    text = open(os.path.join(ROOT, "include", "bv", "config.h")).read()
    out = []
    for m in re.finditer(r"((?:/\*[^*]*(?:\*(?!/)[^*]*)*\*/\s*)*)#ifndef (BV_\w+)\n#define \2 (\d+)", text):
        comment = " ".join(re.sub(r"/\*|\*/|^\s*\*", " ", m.group(1), flags=re.M).split())
        comment = re.sub(r"-{4} .*? -{4}\s*", "", comment)   # section headings
        out.append((m.group(2), int(m.group(3)), comment))
    return out


def build(arch, tag, defines, must=True):
    """size of libbarevsock.a built with defines {name: value}: (text, data, bss);
    None if the build fails and must is False (a value the knob's own checks refuse)."""
    bdir = os.path.join(ROOT, "build", "membudget", f"{arch}-{tag}")
    os.makedirs(bdir, exist_ok=True)
    cfg = os.path.join(bdir, "config.h")
    body = "".join(f"#define {k} {v}\n" for k, v in sorted(defines.items()))
    old = open(cfg).read() if os.path.exists(cfg) else None
    if old != body:
        with open(cfg, "w") as f:
            f.write(body)
    cmd = ["make", "-s", "-j2", f"ARCH={arch}", f"BUILDDIR={bdir}", "lib"]
    if defines:
        cmd.append(f"BV_CONFIG={cfg}")
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode:
        if not must:
            return None
        sys.exit(f"membudget: {' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    out = subprocess.run([SIZE[arch], "-t", os.path.join(bdir, "libbarevsock.a")],
                         capture_output=True, text=True, check=True).stdout
    total = [l for l in out.splitlines() if "(TOTALS)" in l][0].split()
    return int(total[0]), int(total[1]), int(total[2])


def measure(per_knob=True):
    ks = knobs()
    res = {}
    for arch in ARCHES:
        base = build(arch, "default", {})
        res[arch] = {"base": base, "knob": {}, "example": build(arch, "example", example_defines())}
        for name, dflt, _c in ks if per_knob else ():
            # doubled; where the knob's own checks refuse that (a limit such as
            # 64 KiB packets), halved: the same slope, measured from below
            r = build(arch, name, {name: dflt * 2}, must=False)
            if r is not None:
                res[arch]["knob"][name] = (r[1] + r[2]) - (base[1] + base[2])
            else:
                _t, d, b = build(arch, name + "-half", {name: dflt // 2})
                res[arch]["knob"][name] = (base[1] + base[2]) - (d + b)
    return ks, res


def fmt(n):
    return f"{n:,}"


TOTALS = "| **archive"


def knob_rows(ks, res):
    lines = ["| knob (default) | what it sizes | " + " | ".join(ARCHES) + " |",
             "|---|---|" + "---|" * len(ARCHES)]
    for name, dflt, comment in ks:
        cells = []
        for arch in ARCHES:
            dram = res[arch]["knob"][name]
            if dram == 0:
                cells.append("0")
                continue
            if name in PADDING:
                cells.append(f"{fmt(dram)} (padding at {dflt * 2})")
                continue
            per = dram / dflt
            per_s = fmt(int(per)) if per == int(per) else f"{per:.1f}"
            cells.append(f"{fmt(dram)} ({per_s} per unit)")
        what = comment + (" *(discover/ only: not in the archive)*" if name in DISCOVERY else "")
        lines.append(f"| `{name}` ({dflt}) | {what} | " + " | ".join(cells) + " |")
    return lines


def total_rows(res):
    lines = []
    # Code size is left out on purpose: every edit moves it, and no knob does.
    for label, i in (("initialised data", 1), ("zeroed data (bss)", 2)):
        lines.append(f"| **archive {label} at the defaults** | | " +
                     " | ".join(fmt(res[a]["base"][i]) for a in ARCHES) + " |")
    lines.append("| **archive static RAM at the defaults (data + bss)** | | " +
                 " | ".join(fmt(res[a]["base"][1] + res[a]["base"][2]) for a in ARCHES) + " |")
    ex = ", ".join(f"{k[3:]}={v}" for k, v in sorted(example_defines().items()))
    lines.append(f"| **archive static RAM with `{EXAMPLE_CONFIG}`** | {ex} | " +
                 " | ".join(fmt(res[a]["example"][1] + res[a]["example"][2]) for a in ARCHES) + " |")
    return lines


def table(ks, res):
    return "\n".join(knob_rows(ks, res) + total_rows(res)) + "\n"


def splice(text, tab):
    if BEGIN not in text or END not in text:
        sys.exit(f"membudget: the file has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    return head + BEGIN + "\n" + tab + END + tail


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", metavar="FILE")
    ap.add_argument("--check", metavar="FILE")
    ap.add_argument("--check-totals", metavar="FILE")
    a = ap.parse_args()
    if a.check_totals:
        _ks, res = measure(per_knob=False)
        want = total_rows(res)
        have = [l for l in open(a.check_totals).read().splitlines() if l.startswith(TOTALS)]
        if have != want:
            sys.exit("membudget: the totals in {} are stale; the build says:\n{}\nrun tools/membudget.py "
                     "--write {} (it measures every knob, a few minutes)".format(
                         a.check_totals, "\n".join(want), a.check_totals))
        print(f"membudget: the totals in {a.check_totals} match the build")
        return
    tab = table(*measure())
    if a.write:
        path = a.write
        new = splice(open(path).read(), tab)
        with open(path, "w") as f:
            f.write(new)
    elif a.check:
        cur = open(a.check).read()
        if splice(cur, tab) != cur:
            fd, tmp = tempfile.mkstemp(suffix=".md")
            with os.fdopen(fd, "w") as f:
                f.write(tab)
            sys.exit(f"membudget: the table in {a.check} is stale; the build says (also in {tmp}):\n{tab}"
                     f"run tools/membudget.py --write {a.check}")
        print(f"membudget: {a.check} matches the build")
    else:
        sys.stdout.write(tab)


if __name__ == "__main__":
    main()
