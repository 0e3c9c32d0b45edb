"""`truthloop dataset list` starts at once: it imports no model stack, and what it adds to the
imports every command that opens a project cannot do without stays under half a second.

That floor is the libraries (Typer and Rich to parse and print; SQLAlchemy's ORM, pydantic-settings
and fsspec to open a project) and the table mappings (`storage.tables`: SQLAlchemy builds every
mapped class, and loads its PostgreSQL dialect for the column variants). On a busy two-core
machine the floor alone takes about two seconds of `-X importtime`, the mappings half a second
of it, so the budget is put on everything else, module by module. The sys.modules check is the
one that cannot flake: the heavy packages must not load at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from truthloop.storage.project import Project

HEAVY = {
    "torch", "torchvision", "onnx", "onnxruntime", "numpy", "scipy", "pycocotools", "PIL",
    "fastapi", "starlette", "uvicorn", "psycopg", "alembic", "markdown_it", "yaml", "huey", "ray",
}  # fmt: skip
"""Packages that a command which needs no model, no image and no web server must not import."""

FLOOR = "import typer, rich.progress, rich.table, sqlalchemy.orm, pydantic_settings, fsspec"
MAPPINGS = "truthloop.storage.tables"

RUN = """
import json, sys
from truthloop.cli.main import app
try:
    app(sys.argv[1:], prog_name="truthloop")
except SystemExit as end:
    assert not end.code, end.code
print("LOADED", json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""

BUDGET = 0.5  # seconds


def import_times(code: str, *args: str, env: dict[str, str]) -> tuple[dict[str, float], str]:
    """`python -X importtime -c code args`: each module's own import seconds, and stdout."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    seconds: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, _cumulative, name = line.removeprefix("import time:").split("|")
            seconds[name.strip()] = int(own) / 1e6
    return seconds, done.stdout


def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # Compiled modules go to a folder of the test's own, as an installed package has them.
    return env | {"PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")}


def test_dataset_list_imports_no_heavy_package(tmp_path: Path) -> None:
    Project.init(tmp_path / "home").close()
    env = environment(tmp_path)
    _, out = import_times(RUN, "--home", str(tmp_path / "home"), "dataset", "list", env=env)
    loaded = set(json.loads(out.split("LOADED", 1)[1]))
    assert loaded & HEAVY == set()


def test_dataset_list_adds_under_half_a_second_of_imports(tmp_path: Path) -> None:
    Project.init(tmp_path / "home").close()
    env = environment(tmp_path)
    args = ("--home", str(tmp_path / "home"), "dataset", "list")
    import_times(RUN, *args, env=env)  # compiles truthloop once, as an install would have
    floor, _ = import_times(FLOOR, env=env)
    added = []
    for _ in range(3):  # the quietest of three runs: the machine may be busy
        seconds, _ = import_times(RUN, *args, env=env)
        added.append(
            sum(
                s
                for name, s in seconds.items()
                if name not in floor and name != MAPPINGS and not name.startswith("sqlalchemy.")
            )
        )
    assert min(added) < BUDGET, f"imports beyond the floor took {min(added):.2f} s"
