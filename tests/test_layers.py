"""Imports point down the layers of ARCHITECTURE.md, lazy imports inside functions included.

    core, errors, config                   the bottom; core imports nothing outside core
    formats
    storage
    ml
    labeling, review, pipeline, datasets, people
    runtime
    sim                                    uses the workflows; only its entry points import it
    cli, web, demo.py                      the demo runs the simulator; `truthloop demo` runs it
    truthloop/__init__.py                  the top: the public API

A module may import its own layer or any layer below it. Nothing in production imports `sim`:
only the commands that run the simulator (`truthloop sim`, `truthloop bench`), the demo and the
public API do.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import truthloop

PACKAGE = Path(truthloop.__file__).parent

RANKS = {
    "core": 0,
    "errors": 0,
    "config": 0,
    "formats": 1,
    "storage": 2,
    "ml": 3,
    "labeling": 4,
    "review": 4,
    "pipeline": 4,
    "datasets": 4,
    "people": 4,
    "runtime": 5,
    "sim": 6,
    "cli": 7,
    "web": 7,
    "demo": 7,
    "__init__": 8,
}

SIM_ENTRY_POINTS = {"truthloop", "truthloop.demo", "truthloop.cli.sim", "truthloop.cli.bench"}
"""The only modules outside `sim` that may import it."""

def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """Every truthloop module `path` imports, at any depth of the file, with its line."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                # `from truthloop import people` imports the module truthloop.people
                submodule = f"{source}.{alias.name}"
                yield (submodule if exists(submodule) else source), node.lineno


def layer(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        low = layer(importer)
        for target, line in imported(path):
            if target != "truthloop" and not target.startswith("truthloop."):
                continue
            high = layer(target)
            where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
            if low == "core" and high != "core":
                found.append(f"{where}: core imports nothing outside core")
            elif high == "sim" and low != "sim" and importer not in SIM_ENTRY_POINTS:
                found.append(f"{where}: nothing in production imports sim")
            elif RANKS[high] > RANKS[low]:
                found.append(f"{where}: {low} sits below {high}")
    return found


def test_every_package_has_a_layer() -> None:
    packages = {layer(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert packages <= RANKS.keys(), f"give these a layer: {sorted(packages - RANKS.keys())}"


def test_imports_point_down_the_layers() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from truthloop.web.app import create_app\n", "core imports nothing outside core"),
        ("def f():\n    from truthloop.errors import NotFound\n", "core imports nothing outside"),
    ],
)
def test_a_lazy_or_eager_upward_import_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: str
) -> None:
    fake = tmp_path / "truthloop"
    (fake / "core").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "core" / "__init__.py").write_text("")
    (fake / "core" / "bad.py").write_text(source)
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    [message] = violations()
    assert "truthloop/core/bad.py" in message
    assert expected in message
