"""docs/ARCHITECTURE.md is the map of the package: it must match the tree it describes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "jupyter_drive_sync"
LAYERS = ("core", "home", "drive", "auth", "engine", "server", "hub", "cli")
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")


def test_every_module_of_every_layer_is_on_the_map():
    modules = sorted(f"{p.parent.name}/{p.name}" for layer in LAYERS for p in (PKG / layer).glob("*.py")
                     if p.name != "__init__.py")
    assert modules, "no layer modules found: the layout changed?"
    missing = [m for m in modules if m not in DOC]
    assert not missing, f"modules not named in docs/ARCHITECTURE.md: {missing}"


def test_every_module_the_map_names_exists():
    named = set(re.findall(r"`((?:%s|emulator)/[\w/]+\.py)" % "|".join(LAYERS), DOC))
    assert named
    gone = sorted(m for m in named if not (PKG / m).is_file())
    assert not gone, f"docs/ARCHITECTURE.md names modules that do not exist: {gone}"


def test_the_layer_order_on_the_map_is_the_one_import_linter_checks():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    layers = re.search(r'layers = \[(.*?)\]', pyproject).group(1)
    assert [x.strip().strip('"') for x in layers.split(",")] == \
        ["cli", "server | hub", "engine", "auth", "drive | home", "core"]
    # the picture in the doc, top to bottom
    order = [m.group(1) for m in re.finditer(r"^(\w+)/ ", DOC.split("## Data flow")[0], re.M)]
    assert order == ["cli", "server", "engine", "auth", "drive", "core"], order
