# SPDX-License-Identifier: BSD-2-Clause
"""The generated parts of docs/ stay true: the state diagram shows exactly the
guest engine's states (tools/check_states.py; the checker itself is tried on
broken trees here), and docs/states.svg is drawn from docs/states.dot. No
QEMU; the capture behind docs/protocol.md is checked in test_host_pcap.py."""
import os
import shutil
import subprocess
import sys

import pytest

import qemu

sys.path.insert(0, os.path.join(qemu.ROOT, "tools"))
import check_states  # noqa: E402


def test_state_diagram_matches_engine():
    problems, rc = check_states.check()
    assert rc == 0, "\n".join(problems)
    path, names = check_states.find_enum()
    assert len(names) >= 4, f"implausibly few states in {path}: {names}"


def test_state_svg_is_current():
    if not shutil.which("dot"):
        pytest.skip("SKIPPED LOUDLY: Graphviz 'dot' is not installed (tools/install-deps.sh installs it)")
    out = subprocess.run(["dot", "-Tsvg", os.path.join(qemu.ROOT, "docs", "states.dot")],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    drawn = check_states.svg_graph(out)
    with open(os.path.join(qemu.ROOT, "docs", "states.svg")) as f:
        kept = check_states.svg_graph(f.read())
    assert drawn == kept, "docs/states.svg is stale: run 'make docs'"
    assert drawn == check_states.dot_graph(open(os.path.join(qemu.ROOT, "docs", "states.dot")).read())


def _tree(tmp_path, engine_src, dot_src, svg_from_dot=True):
    (tmp_path / "vsock" / "sub").mkdir(parents=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "vsock" / "sub" / "engine.c").write_text(engine_src)
    (tmp_path / "docs" / "states.dot").write_text(dot_src)
    if svg_from_dot and shutil.which("dot"):
        svg = subprocess.run(["dot", "-Tsvg"], input=dot_src, capture_output=True, text=True,
                             check=True).stdout
        (tmp_path / "docs" / "states.svg").write_text(svg)
    return str(tmp_path)


GOOD_DOT = "digraph g { A [label=\"A -> Z\"]; A -> B; B -> A; }\n"


def test_checker_reads_the_marked_enum_anywhere_under_vsock(tmp_path):
    if not shutil.which("dot"):
        pytest.skip("SKIPPED LOUDLY: Graphviz 'dot' is not installed")
    src = ("enum cstate { OLD_X, OLD_Y };\n"
           "/* bv:state-enum */\nenum conn_state {\n\tVS_A = 0, /* first */\n\tVS_B,\n};\n")
    root = _tree(tmp_path, src, GOOD_DOT)
    assert check_states.find_enum(root)[1] == ["VS_A", "VS_B"]
    assert check_states.check(root) == ([], 0)


def test_checker_reports_missing_and_extra_states(tmp_path):
    if not shutil.which("dot"):
        pytest.skip("SKIPPED LOUDLY: Graphviz 'dot' is not installed")
    src = "// bv:state-enum\nenum s { S_A, S_B, S_C };\n"
    probs, rc = check_states.check(_tree(tmp_path, src, "digraph g { A -> B; B -> D; }\n"))
    assert rc == 1
    text = "\n".join(probs)
    assert "['D']" in text and "['C']" in text, text


def test_checker_fails_clearly_without_the_enum(tmp_path):
    probs, rc = check_states.check(_tree(tmp_path, "enum other { X, Y };\n", GOOD_DOT, svg_from_dot=False))
    assert rc == 2 and "bv:state-enum" in probs[0], probs


def test_checker_notices_a_stale_svg(tmp_path):
    if not shutil.which("dot"):
        pytest.skip("SKIPPED LOUDLY: Graphviz 'dot' is not installed")
    root = _tree(tmp_path, "/* bv:state-enum */ enum s { S_A, S_B };\n", GOOD_DOT)
    (tmp_path / "docs" / "states.dot").write_text("digraph g { A -> B; }\n")
    probs, rc = check_states.check(root)
    assert rc == 1 and any("make docs" in p for p in probs), probs


# ---------------------------------------------------------- docs/protocol.md ---

import re  # noqa: E402

import echosession  # noqa: E402
import vsockpcap as vp  # noqa: E402

sys.path.insert(0, os.path.join(qemu.ROOT, "tools"))
import pcap_table  # noqa: E402

PROTOCOL_MD = os.path.join(qemu.ROOT, "docs", "protocol.md")
WALK = os.path.join(qemu.ROOT, "docs", "walkthrough.pcap")



def test_protocol_table_is_generated_from_the_capture():
    vp.need_tshark()
    doc = open(PROTOCOL_MD).read()
    tab, problems = pcap_table.table(WALK)
    assert not problems, problems
    assert pcap_table.splice(doc, "docs/walkthrough.pcap", tab) == doc, \
        "the packet table in docs/protocol.md is not the one docs/walkthrough.pcap gives: run 'make docs'"


def test_protocol_text_names_the_right_packets():
    """Every **#n OP** (or **#n–#m OP**) in the prose is that packet in the capture."""
    vp.need_tshark()
    frames = {f["frame"]: f for f in vp.read(WALK)}
    doc = open(PROTOCOL_MD).read()
    refs = re.findall(r"\*\*#(\d+)(?:–#(\d+))? ([A-Z_]+)\*\*", doc)
    assert len(refs) >= 8, f"expected the walkthrough to name its packets, found {refs}"
    for a, b, op in refs:
        for n in range(int(a), int(b or a) + 1):
            assert n in frames, f"docs/protocol.md names packet #{n}; the capture has {len(frames)}"
            got = vp.OPS.get(frames[n]["op"])
            assert got == op, f"docs/protocol.md says #{n} is {op}; in docs/walkthrough.pcap it is {got}"


def test_walkthrough_capture_is_the_documented_exchange():
    """One whole connection (REQUEST ... RST) carrying the walkthrough's bytes
    both ways, never beyond credit, with the buffer sizes the text names
    still being the guest's configuration."""
    vp.need_tshark()
    fr = vp.read(WALK)
    ops = [vp.OPS.get(f["op"]) for f in fr]
    assert ops[0] == "REQUEST" and fr[0]["src_cid"] == 2 and ops[-1] == "RST", ops
    assert len({(f["src_port"], f["dst_port"]) for f in fr if f["src_cid"] == 2}) == 1, "more than one connection"
    _, problems = pcap_table.rows(fr)
    assert not problems, problems
    for cid in (2, 3):
        data = b"".join(f["payload"] for f in fr if f["src_cid"] == cid and f["op"] == vp.OP["RW"])
        assert data == echosession.WALKTHROUGH, f"CID {cid} did not send the walkthrough's bytes"
    guest = [f for f in fr if f["src_cid"] == 3]
    prof = echosession.WALKTHROUGH_PROFILE
    assert {f["buf_alloc"] for f in guest} == {qemu.config("BV_VSOCK_BUF_ALLOC", prof)}, \
        "the guest's window changed since docs/walkthrough.pcap was recorded: run 'make docs-capture'"
    assert max(f["len"] for f in fr if f["src_cid"] == 2) == qemu.config("BV_VSOCK_RX_BUF_SIZE", prof)
    assert max(f["len"] for f in guest) <= qemu.config("BV_VSOCK_TX_BUF_SIZE", prof)
