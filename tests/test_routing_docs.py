"""The YAML examples in docs/routing.md are valid menus (ivr check accepts them)."""

from __future__ import annotations

import re

from appfixtures import ROOT

from ivr.loader import check_menus

DOC = (ROOT / "docs" / "routing.md").read_text(encoding="utf-8")


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)


def test_every_section_has_an_example():
    heads = {block.split(":", 1)[0] for block in yaml_blocks()}
    assert {"queues", "voicemail", "transfers", "menus"} <= heads


def test_examples_pass_ivr_check(menus_dir):
    blocks = {block.split(":", 1)[0]: block for block in yaml_blocks()}
    routing = menus_dir / "routing.yaml"
    schedules = "schedules:" + routing.read_text().partition("\nschedules:")[2]
    extra = """  support:\n    hold_music: recordings/hold.wav\n  orders:\n    max_wait: 600\n  operator:\n    max_wait: 300\n"""
    queues = "".join(x for x in blocks["queues"].splitlines(keepends=True) if "survey:" not in x)
    routing.write_text("\n".join([queues + extra, blocks["voicemail"] + "  billing: {}\n",
                                  blocks["transfers"], schedules]))
    main = menus_dir / "main.yaml"
    option = blocks["menus"].split("options:\n", 1)[1]
    main.write_text(main.read_text().replace(
        "      2: {menu: support, label: Technical support}\n", option))
    menuset, problems = check_menus(menus_dir, ROOT / "recordings")
    assert menuset is not None, "\n".join(map(str, problems))
    assert [p for p in problems if p.is_error] == []
    assert menuset.menus["main"].options["2"].hours == "office"
    assert menuset.queues["billing"].max_size == 20
    assert menuset.transfers["operator"].caller_id == "+15550001111"
