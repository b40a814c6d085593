"""`ivr graph`: drawings that parse (DOT through Graphviz, SVG as XML) and show every destination."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from ivr.cli import main
from ivr.graph import build_graph
from ivr.graph_render import to_svg
from ivr.loader import load_menus

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"


def draw(fmt: str, menus: Path) -> str:
    result = CliRunner().invoke(main, ["graph", str(menus), "--format", fmt],
                                env={"IVR_RECORDINGS": str(ROOT / "recordings")})
    assert result.exit_code == 0, result.output
    return result.output


def test_dot_parses_with_graphviz_and_has_end_nodes_and_schedule_branches(menus_dir):
    dot = draw("dot", menus_dir)
    parsed = json.loads(subprocess.run(["dot", "-Tjson"], input=dot, capture_output=True, text=True,
                                       check=True).stdout)
    nodes = {o["_gvid"]: o for o in parsed["objects"]}
    labels = {o["label"]: o["shape"] for o in nodes.values()}
    assert labels["queue billing"] == "box3d" and labels["voicemail general"] == "cylinder"
    assert labels["transfer operator\\nto +15555550100"] == "cds"
    assert labels["office open?"] == "diamond"
    by_label = {o["label"]: gvid for gvid, o in nodes.items()}
    arrows = {(e["tail"], e.get("label", "")): e["head"] for e in parsed["edges"]}
    billing_hours = arrows[(by_label["Main menu\\nmain"], "1: Billing")]
    assert nodes[billing_hours]["label"] == "office open?"
    assert arrows[(billing_hours, "open")] == by_label["queue billing"]
    assert nodes[arrows[(billing_hours, "closed")]]["label"].startswith("says: Our billing team")


def test_mermaid_lists_every_destination(menus_dir):
    text = draw("mermaid", menus_dir)
    assert text.startswith("flowchart LR\n")
    for name in ("queue billing", "queue support", "queue orders", "queue operator",
                 "voicemail general", "voicemail billing"):
        assert re.search(rf'n\d+\[\["{name}"\]\]|n\d+\[\("{name}"\)\]', text), name
    assert re.search(r'n\d+ -->\|"1: Billing"\| n\d+', text)


def test_svg_from_graphviz_is_xml(menus_dir):
    root = ET.fromstring(draw("svg", menus_dir))
    assert root.tag == f"{SVG}svg"
    assert "queue billing" in {t.text for t in root.iter(f"{SVG}text")}


def test_built_in_svg_layout_is_xml_with_a_box_per_node(menus_dir):
    graph = build_graph(load_menus(menus_dir, ROOT / "recordings"))
    root = ET.fromstring(to_svg(graph, use_graphviz=False))
    boxes = [g for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("node")]
    assert len(boxes) == len(graph.nodes)
    kinds = {g.get("class") for g in boxes}
    assert {"node queue", "node voicemail", "node transfer", "node schedule", "node menu"} <= kinds
    edges = [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]
    assert len(edges) == len(graph.edges)


def test_graph_of_broken_menus_says_to_fix_them(menus_dir):
    (menus_dir / "main.yaml").write_text("menus: [\n")
    result = CliRunner().invoke(main, ["graph", str(menus_dir)])
    assert result.exit_code == 1 and "fix them first" in result.output
