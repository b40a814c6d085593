"""Menu loading: a generated tree of 5,000 menus loaded and validated, and the per-request cost
of the reload check, each against a plain baseline measured in the same run.

    python bench/menus_bench.py [--menus 5000]
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from bench.harness import ROOT, machine  # noqa: E402
from ivr.loader import build_menuset, read_sources  # noqa: E402
from ivr.registry import MenuRegistry  # noqa: E402
from ivr.validator import validate  # noqa: E402
from ivr.yamlsrc import load_yaml, reset_caches  # noqa: E402

LOAD_TARGET_S = 0.5
CHECK_TARGET_US = 20.0
PER_FILE = 500
FANOUT = 5


def menu_yaml(index: int, count: int) -> str:
    """One generated menu: options 1-5 to its children (leaves go to queues), * back, 0 main."""
    name = "main" if index == 0 else f"m{index}"
    lines = [f"  {name}:", f"    title: Menu {index}", "    prompt:",
             f"      en-US: This is menu {index}. Choose one of five options, star to go back.",
             f"      es-US: Este es el menú {index}. Elija una de nueve opciones."]
    lines.append("    options:")
    for key in range(1, FANOUT + 1):
        child = index * FANOUT + key
        target = f"m{child}" if child < count else ("queue: support" if key % 2 else "queue: billing")
        lines.append(f"      {key}: {{{target if ':' in target else 'menu: ' + target}}}")
    lines += ['      "*": back', "      0: main"] if index else ['      "*": repeat']
    return "\n".join(lines)


def generate(folder: Path, count: int) -> Path:
    """Shipped line, routing and survey files plus `count` generated menus (language menu first)."""
    folder.mkdir(parents=True)
    for name in ("line.yaml", "routing.yaml", "surveys.yaml"):
        if (ROOT / "menus" / name).exists():
            shutil.copy(ROOT / "menus" / name, folder / name)
    language = ("menus:\n  language:\n    prompt:\n      en-US: For English, press 1.\n"
                "      es-US: Para español, oprima 2.\n    options:\n"
                "      1: {language: en-US, then: main}\n      2: {language: es-US, then: main}\n")
    (folder / "language.yaml").write_text(language)
    for start in range(0, count - 1, PER_FILE):
        body = [menu_yaml(i, count - 1) for i in range(start, min(start + PER_FILE, count - 1))]
        (folder / f"tree{start // PER_FILE:03d}.yaml").write_text("menus:\n" + "\n".join(body) + "\n")
    return folder


def best_of(fn, repeat: int = 5) -> float:
    """The fastest of `repeat` runs of `fn`, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def per_call(fn, seconds: float) -> tuple[float, int]:
    """Mean microseconds per call of `fn` over `seconds` of calls, and the call count."""
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(1000):
            fn()
        calls += 1000
    return (time.perf_counter() - start) / calls * 1e6, calls


def breakdown(sources: dict[str, str], menuset) -> tuple[float, float]:
    """Seconds spent reading the YAML and validating the MenuSet, each timed alone."""
    gc.disable()  # as build_menuset does during a load
    try:
        def read() -> None:
            reset_caches()
            for name, text in sources.items():
                load_yaml(text, name)

        declared = {"menus": set(menuset.menus)}
        return best_of(read), best_of(lambda: validate(menuset, declared))
    finally:
        gc.enable()


def bench_load(folder: Path) -> bool:
    """Time build_menuset against a bare YAML parse of the same files."""
    sources, problems = read_sources(folder)
    menuset, found = build_menuset(sources, ROOT / "recordings", problems)
    errors = [p for p in found if p.is_error]
    if menuset is None:
        raise SystemExit("generated menus do not load:\n" + "\n".join(map(str, errors[:10])))
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    ours = best_of(lambda: build_menuset(*read_sources(folder)[:1], ROOT / "recordings"))
    parse = best_of(lambda: [yaml.load(text, Loader=loader) for text in sources.values()])
    reading, checking = breakdown(sources, menuset)
    size = sum(len(t) for t in sources.values())
    print(f"\nload + validate {len(menuset.menus)} menus ({len(sources)} files, {size / 1e6:.1f} MB)")
    print(f"  build_menuset              {ours:8.3f} s")
    print(f"    of which YAML reading    {reading:8.3f} s   (ivr.yamlsrc.load_yaml, cold caches)")
    print(f"    of which validation      {checking:8.3f} s   (ivr.validator.validate)")
    print(f"    the rest: model objects  {ours - reading - checking:8.3f} s   (Reader, parse_menus)")
    print(f"  baseline: yaml.load only   {parse:8.3f} s   ({loader.__name__})")
    print(f"  ratio to baseline          {ours / parse:8.2f}")
    ok = ours < LOAD_TARGET_S
    print(f"  {'PASS' if ok else 'MISS'}  under {LOAD_TARGET_S} s")
    return ok


def bench_reload_check(folder: Path, seconds: float) -> bool:
    """Time MenuRegistry.current (default 1 s check interval) against one os.stat per request."""
    logging.getLogger("ivr.menus").setLevel(logging.ERROR)  # not thousands of "levels deep" warnings
    registry = MenuRegistry(folder, ROOT / "recordings")
    ours, calls = per_call(lambda: registry.current, seconds)
    one_check = best_of(registry.maybe_reload, repeat=20) * 1e6
    first = next(iter(sorted(folder.glob("*.yaml"))))
    stat, _ = per_call(lambda: os.stat(first), seconds / 2)
    print(f"\nreload check (MenuRegistry.current, check every {registry.check_every:g} s)")
    print(f"  per request                {ours:8.3f} us   ({calls} requests in {seconds:g} s)")
    print(f"  one full check of files    {one_check:8.1f} us   (done at most once a second)")
    print(f"  baseline: one os.stat      {stat:8.3f} us")
    print(f"  ratio to baseline          {ours / stat:8.2f}")
    ok = ours < CHECK_TARGET_US
    print(f"  {'PASS' if ok else 'MISS'}  under {CHECK_TARGET_US:g} us per request")
    return ok


def main() -> int:
    """Generate the menus, run both measurements, print figures and targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--menus", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=3.0, help="reload-check run length")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="ivr-bench-menus-") as tmp:
        folder = generate(Path(tmp) / "menus", args.menus)
        ok = bench_load(folder)
        ok &= bench_reload_check(folder, args.seconds)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
