"""The README documents every setting, and the documents it links to exist."""

from __future__ import annotations

import re
from pathlib import Path

from ivr.settings import SETTINGS, markdown_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table():
    block = README.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0].strip()
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in block, f"{setting.name} missing from README (python -m ivr.settings)"
    assert block == markdown_table(), "README settings table is out of date: run python -m ivr.settings"


def test_every_environment_variable_read_is_a_declared_setting():
    declared = {s.name for s in SETTINGS}
    read = set()
    for file in [*ROOT.glob("ivr/*.py"), *ROOT.glob("handlers/**/*.py"), ROOT / "app.py"]:
        text = file.read_text(encoding="utf-8")
        read |= set(re.findall(r"environ(?:\.get\(|\[)[\"']([A-Z][A-Z0-9_]+)[\"']", text))
        read |= set(re.findall(r"getenv\([\"']([A-Z][A-Z0-9_]+)[\"']", text))
    assert read - declared == set()


def test_readme_menu_example_passes_ivr_check(tmp_path):
    from ivr.loader import check_menus

    example = README.split("A small line:")[1].split("```yaml")[1].split("```")[0]
    (tmp_path / "line.yaml").write_text(example, encoding="utf-8")
    menuset, problems = check_menus(tmp_path / "line.yaml", ROOT / "recordings")
    assert menuset is not None, [str(p) for p in problems]
    more = README.split("The other constructs, added to that line")[1].split("```yaml")[1].split("```")[0]
    (tmp_path / "more.yaml").write_text(more, encoding="utf-8")
    (tmp_path / "line.yaml").write_text(example.replace(
        '      9: {voicemail: general}', '      9: {voicemail: general}\n'
        '      3: {menu: order_status}\n      0: {transfer: operator}'), encoding="utf-8")
    menuset, problems = check_menus(tmp_path, ROOT / "recordings")
    assert menuset is not None and not [p for p in problems if p.is_error], [str(p) for p in problems]
    assert set(menuset.transfers) == {"operator"} and set(menuset.schedules) == {"office"}
    assert set(menuset.surveys) == {"csat"} and menuset.menus["order_status"].collect is not None


def test_readme_links_resolve():
    for target in re.findall(r"\]\(((?:docs|bench)/[^)#]+)", README):
        assert (ROOT / target).exists(), target


def test_readme_has_the_two_setup_commands():
    assert "pip install -e . && ivr serve" in README
    command = "apt-get update && apt-get install -y chromium graphviz && pip install -e '.[test]' && python -m pytest"
    assert command in README
    assert command in (ROOT / ".ci" / "run").read_text()


def test_every_template_and_static_file_ships_in_the_package():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert config["packages"]["find"]["include"] == ["ivr*", "handlers*"]
    for package in ("ivr", "handlers"):
        shipped = {f for pattern in config.get("package-data", {}).get(package, [])
                   for f in (ROOT / package).glob(pattern) if f.is_file()}
        data = {f for f in (ROOT / package).rglob("*")
                if f.is_file() and f.suffix not in (".py", ".pyc") and "__pycache__" not in f.parts}
        assert data - shipped == set(), f"add these to [tool.setuptools.package-data] {package}"
