"""`ivr check --diff OLD NEW`: what changes for callers, between folders and between git revisions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner

from ivr.cli import main

ROOT = Path(__file__).resolve().parent.parent
ENV = {"IVR_RECORDINGS": str(ROOT / "recordings")}


def edit(menus: Path) -> None:
    """Operator becomes a queue, a new key 4, billing's prompt reworded, support's outage option gone."""
    main_yaml = menus / "main.yaml"
    text = main_yaml.read_text()
    text = text.replace("0: {transfer: operator, label: Operator}",
                        "0: {queue: operator, label: Operator}\n      4: {voicemail: billing}")
    text = text.replace("For billing, press 1.", "For billing and payments, press 1.")
    main_yaml.write_text(text)


def diff(*args: str) -> list[str]:
    result = CliRunner().invoke(main, ["check", "--diff", *args], env=ENV)
    assert result.exit_code == 0, result.output
    return [line.strip() for line in result.output.splitlines()[1:]]


def test_folders(menus_dir, tmp_path):
    new = tmp_path / "new"
    shutil.copytree(menus_dir, new)
    edit(new)
    lines = diff(str(menus_dir), str(new))
    assert "menu main: option 0 now goes to queue operator (was transfer operator)" in lines
    assert "menu main: option 4 added: voicemail billing" in lines
    assert any(line.startswith('menu main: prompt (en-US) changed: "For billing, press 1.')
               and '-> "For billing and payments, press 1.' in line for line in lines)
    assert "menu main: prompt (es-US) changed" not in " ".join(lines)
    assert "transfer operator [en-US]: no longer reachable (was keys 1 0)" in lines
    assert "voicemail billing [en-US]: now keys 1 4 (was 1 1)" in lines
    assert "queue operator [es-US]: now keys 2 0 (was 2 silence silence silence)" in lines


def test_no_change_and_moved_lines_are_not_changes(menus_dir, tmp_path):
    new = tmp_path / "new"
    shutil.copytree(menus_dir, new)
    (new / "main.yaml").write_text("\n\n# moved down two lines\n" + (new / "main.yaml").read_text())
    assert diff(str(menus_dir), str(new)) == ["no change a caller would notice"]


def test_git_revisions(menus_dir, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(menus_dir, repo / "menus")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "menus"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], cwd=repo, check=True)
    edit(repo / "menus")
    subprocess.run([*git, "commit", "-qam", "v2"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    lines = diff("HEAD~1", "HEAD")
    assert "menu main: option 4 added: voicemail billing" in lines
    assert "menu main: option 4 removed (was voicemail billing)" in diff("HEAD", "HEAD~1")


def test_an_unknown_side_is_explained(menus_dir):
    result = CliRunner().invoke(main, ["check", "--diff", "no-such-rev", str(menus_dir)], env=ENV)
    assert result.exit_code == 1
    assert "not a menu file or folder, nor a git revision" in result.output
