"""The menu registry: versions that name the same menus everywhere, and no disk read per request."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ivr.loader import path_version
from ivr.registry import MenuRegistry, VersionStore

ROOT = Path(__file__).resolve().parent.parent


class CountingStore(VersionStore):
    """The real version store, counting how often a version's sources are read from disk."""

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.reads: list[str] = []

    def sources(self, version: str) -> dict[str, str] | None:
        self.reads.append(version)
        return super().sources(version)


def test_the_version_does_not_depend_on_how_the_folder_is_spelled(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "menus", tmp_path / "menus")
    absolute = MenuRegistry(tmp_path / "menus", ROOT / "recordings", check_every=0).current.version
    monkeypatch.chdir(tmp_path)
    relative = MenuRegistry(Path("menus"), ROOT / "recordings", check_every=0).current.version
    monkeypatch.chdir(tmp_path / "menus")
    dotted = MenuRegistry(Path("../menus"), ROOT / "recordings", check_every=0).current.version
    assert absolute == relative == dotted


def test_the_version_changes_with_a_file_name_or_its_text(tmp_path):
    shutil.copytree(ROOT / "menus", tmp_path / "menus")
    before = MenuRegistry(tmp_path / "menus", ROOT / "recordings", check_every=0).current.version
    first = sorted((tmp_path / "menus").glob("*.yaml"))[0]
    first.rename(first.with_name("renamed-" + first.name))
    renamed = MenuRegistry(tmp_path / "menus", ROOT / "recordings", check_every=0).current.version
    target = sorted((tmp_path / "menus").glob("*.yaml"))[-1]
    target.write_text(target.read_text() + "\n# a comment\n")
    edited = MenuRegistry(tmp_path / "menus", ROOT / "recordings", check_every=0).current.version
    assert len({before, renamed, edited}) == 3


def test_an_unknown_version_is_looked_up_on_disk_once_per_retry_window(tmp_path):
    shutil.copytree(ROOT / "menus", tmp_path / "menus")
    store = CountingStore(tmp_path / "versions")
    registry = MenuRegistry(tmp_path / "menus", ROOT / "recordings", check_every=0, store=store)
    current = registry.current
    for _ in range(50):
        assert registry.for_call("0123456789") is current
    assert store.reads == ["0123456789"]


def test_a_version_saved_later_by_another_process_is_found_after_the_window(tmp_path):
    shutil.copytree(ROOT / "menus", tmp_path / "menus")
    other_menus = tmp_path / "other"
    shutil.copytree(ROOT / "menus", other_menus)
    main = sorted(other_menus.glob("*.yaml"))[0]
    main.write_text(main.read_text() + "\n# edited elsewhere\n")
    store = CountingStore(tmp_path / "versions")
    registry = MenuRegistry(tmp_path / "menus", ROOT / "recordings", check_every=0, store=store)
    other = MenuRegistry(other_menus, ROOT / "recordings", check_every=0).current
    assert registry.get(other.version) is None
    VersionStore(tmp_path / "versions").save(other)  # another worker installs it
    assert registry.get(other.version) is None  # still inside the retry window
    registry.MISSING_RETRY = 0.0
    registry._missing.clear()
    found = registry.get(other.version)
    assert found is not None and found.version == other.version
    assert store.reads == [other.version, other.version]


def saved_by_previous_release(menus: Path, folder: Path) -> str:
    """Save `menus` as the previous release did (sources keyed by full path); its version."""
    sources = {str(path): path.read_text() for path in sorted(menus.glob("*.yaml"))}
    version = path_version(sources)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{version}.json").write_text(json.dumps(sources))
    (folder / VersionStore.LAST_GOOD).write_text(version)
    return version


def test_a_version_the_previous_release_saved_still_serves_its_calls(tmp_path):
    shutil.copytree(ROOT / "menus", tmp_path / "old")
    main = sorted((tmp_path / "old").glob("*.yaml"))[0]
    main.write_text(main.read_text() + "\n# the version before the deploy\n")
    old = saved_by_previous_release(tmp_path / "old", tmp_path / "versions")
    shutil.copytree(ROOT / "menus", tmp_path / "menus")
    registry = MenuRegistry(tmp_path / "menus", ROOT / "recordings", check_every=0,
                            store=VersionStore(tmp_path / "versions"))
    found = registry.for_call(old)
    assert found is not registry.current and registry.for_call(found.version) is found
    assert dict(found.sources) == {str(p): p.read_text() for p in sorted((tmp_path / "old").glob("*.yaml"))}


def test_broken_files_fall_back_to_the_last_good_version_of_the_previous_release(tmp_path):
    shutil.copytree(ROOT / "menus", tmp_path / "menus")
    saved_by_previous_release(tmp_path / "menus", tmp_path / "versions")
    main = sorted((tmp_path / "menus").glob("*.yaml"))[0]
    main.write_text("menus: [broken\n")
    registry = MenuRegistry(tmp_path / "menus", ROOT / "recordings", check_every=0,
                            store=VersionStore(tmp_path / "versions"))
    assert registry.error and registry.current.menus  # serving the saved version, not failing
