# SPDX-License-Identifier: BSD-2-Clause
"""libbarevsock.a as a product: for every architecture the archive exists
(make all-arches builds it), and everything it leaves undefined is in the
port interface (include/bv/port.h), the compiler's mem* builtins, or, on
32-bit Arm, the named libgcc helpers. Nothing else: no printf, no str*, no
arch_*, nothing of discover/."""
import os
import re
import subprocess
import pytest
import qemu

NM = {"x86_64": "nm", "aarch64": "aarch64-linux-gnu-nm", "arm": "arm-none-eabi-nm"}

# bv/port.h, read from the header so the two cannot drift apart.
def _port_functions():
    with open(os.path.join(qemu.ROOT, "include", "bv", "port.h")) as f:
        text = f.read()
    names = set(re.findall(r"^\w[\w ]*?\b(bv_port_\w+)\(", text, re.M))
    assert {"bv_port_now_us", "bv_port_dma_addr", "bv_port_log"} <= names, names
    return names

# What gcc may call on its own for plain C: block moves and clears, and
# (only with -O2 loops it recognises) comparisons. Any freestanding
# environment has to supply them (gcc's documentation says so).
COMPILER_MEM = {"memcpy", "memset", "memmove", "memcmp"}

# arm32 (AAPCS): gcc calls libgcc for what the core cannot do inline. The
# library divides 64-bit values (microseconds to milliseconds, %llu in
# bv_logf, the engine's timers): __aeabi_uldivmod (unsigned), __aeabi_ldivmod
# (signed). Cortex-A15 has hardware 32-bit divide, but for a port built for
# a core without it (-mcpu=cortex-a9) gcc calls __aeabi_uidiv(mod) and
# __aeabi_idiv(mod) instead. Every arm-none-eabi toolchain's libgcc has them.
ARM_EABI = {"__aeabi_uldivmod", "__aeabi_ldivmod", "__aeabi_uidiv", "__aeabi_uidivmod",
            "__aeabi_idiv", "__aeabi_idivmod"}


def library_undefined(arch):
    lib = os.path.join(qemu.BUILD, arch, "libbarevsock.a")
    if not os.path.exists(lib):
        raise FileNotFoundError(f"{lib} is missing: run 'make all-arches' (or 'make lib ARCH={arch}')")
    undef = subprocess.run([NM[arch], "-u", lib], capture_output=True, text=True, check=True).stdout
    defined = subprocess.run([NM[arch], "--defined-only", lib], capture_output=True, text=True, check=True).stdout
    u = {l.split()[-1] for l in undef.splitlines() if l.strip() and not l.endswith(":")}
    d = {l.split()[-1] for l in defined.splitlines() if len(l.split()) == 3}
    return u - d


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "arm"])
def test_library_needs_only_the_port(arch):
    allowed = _port_functions() | COMPILER_MEM | (ARM_EABI if arch == "arm" else set())
    need = library_undefined(arch)
    print(f"{arch}: libbarevsock.a needs {' '.join(sorted(need))}")
    assert need - allowed == set(), f"{arch}: libbarevsock.a calls outside the port: {sorted(need - allowed)}"
    # Not vacuous: the archive does reach the port.
    assert {"bv_port_now_us", "bv_port_dma_addr", "bv_port_log"} <= need, sorted(need)


def test_memory_budget_totals_match_the_build():
    """PORTING.md's memory budget totals are what 'size' says of the archive
    built at the defaults and with the example's configuration, on every
    architecture (tools/membudget.py --check-totals; the per-knob rows are
    rechecked by tools/membudget.py --check)."""
    r = subprocess.run(["/usr/bin/python3", "tools/membudget.py", "--check-totals", "PORTING.md"],
                       cwd=qemu.ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr


# README's dependency table, as include rules: each file may include only
# headers of its own layer or below. Higher number = higher layer.
LAYERS = [
    ("apps/", 7), ("examples/", 7), ("discover/", 6), ("include/bv/arch.h", 6), ("include/bv/exit.h", 6),
    ("vsock/", 5),
    ("drivers/virtio_mmio", 4), ("drivers/virtio_pci", 4), ("drivers/pci_regs.h", 4),
    ("drivers/virtio", 3), ("drivers/virtq", 3),
    ("base/", 2), ("include/bv/log.h", 2), ("include/bv/err.h", 2), ("include/bv/config.h", 2),
    ("include/bv/time.h", 2),
    ("include/bv/port.h", 1), ("bv_port_io.h", 1),
]


def _layer(path):
    for prefix, n in LAYERS:
        if path.startswith(prefix) or (prefix == "bv_port_io.h" and path.endswith(prefix)):
            return n
    return None


def test_layers_point_down():
    """No file of the library includes a header of a layer above it, the
    virtio core and vsock know no transport, and the protocol engine is pure C
    (no drivers/, no port)."""
    bad = []
    for top in ("base", "drivers", "vsock", "discover", "include/bv"):
        for dirpath, _d, files in os.walk(os.path.join(qemu.ROOT, top)):
            for name in files:
                if not name.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), qemu.ROOT)
                mine = _layer(rel)
                with open(os.path.join(qemu.ROOT, rel)) as f:
                    incs = re.findall(r'^#include "([^"]+)"', f.read(), re.M)
                for inc in incs:
                    target = inc if inc == "bv_port_io.h" else (
                        "include/" + inc if inc.startswith("bv/") else inc)
                    theirs = _layer(target)
                    if theirs is None or mine is None:
                        continue
                    if theirs > mine:
                        bad.append(f"{rel} (layer {mine}) includes {inc} (layer {theirs})")
                    if rel.startswith(("vsock/", "drivers/virtio.", "drivers/virtq.")) and \
                            inc.startswith(("drivers/virtio_mmio", "drivers/virtio_pci")):
                        bad.append(f"{rel} knows a transport: {inc}")
                    if rel.startswith("vsock/vsock_engine") and (inc.startswith("drivers/") or inc == "bv/port.h"):
                        bad.append(f"{rel} (the protocol engine) includes {inc}")
    assert not bad, "\n".join(bad)


def test_filelists_mk_builds_the_library_elsewhere(tmp_path):
    """A project that compiles barevsock in its own build: its makefile
    includes Filelists.mk from outside the tree, compiles $(BAREVSOCK_SRCS)
    with $(BAREVSOCK_INCLUDES) and its own bv_port_io.h (here arch/host's,
    copied away), and gets an archive that needs only the port and mem*."""
    port = tmp_path / "myport"
    port.mkdir()
    with open(os.path.join(qemu.ROOT, "arch", "host", "include", "bv_port_io.h")) as f:
        (port / "bv_port_io.h").write_text(f.read())
    mk = tmp_path / "Makefile"
    mk.write_text(f"""BAREVSOCK_DIR := {qemu.ROOT}
include $(BAREVSOCK_DIR)/Filelists.mk
OBJS := $(patsubst %.c,obj/%.o,$(notdir $(BAREVSOCK_SRCS)))
vpath %.c $(sort $(dir $(BAREVSOCK_SRCS)))
lib.a: $(OBJS)
\tar rcs $@ $^
obj/%.o: %.c
\t@mkdir -p obj
\tgcc -std=gnu11 -O2 -Wall -Wextra -Werror -c $(BAREVSOCK_INCLUDES) -I{port} $< -o $@
""")
    r = subprocess.run(["make", "-s", "-f", str(mk)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    lib = str(tmp_path / "lib.a")
    undef = subprocess.run(["nm", "-u", lib], capture_output=True, text=True, check=True).stdout
    defined = subprocess.run(["nm", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
    need = {l.split()[-1] for l in undef.splitlines() if l.strip() and not l.endswith(":")} - \
        {l.split()[-1] for l in defined.splitlines() if len(l.split()) == 3}
    # arch/host's accessors call into its port.c for the fake-MMIO windows.
    allowed = _port_functions() | COMPILER_MEM | {"bv_host_mmio_read", "bv_host_mmio_write"}
    assert need - allowed == set(), sorted(need - allowed)
    assert "vsock_dev_attach" in defined and "virtio_pci_attach" in defined
