"""A failed export ends the command with a message naming the item, never a traceback, and
leaves the destination as it was (issue 15, item 6)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from tests.datasets.conftest import write_manifest
from truthloop.cli.main import app

runner = CliRunner()


def _home(tmp_path: Path, source: Path) -> Path:
    home = tmp_path / "home"
    assert runner.invoke(app, ["init", str(home)]).exit_code == 0
    imported = runner.invoke(
        app, ["--home", str(home), "dataset", "import", "pets", str(source), "-f", "groundtruth"]
    )
    assert imported.exit_code == 0, imported.output
    return home


def _export(home: Path, dest: Path, fmt: str, *extra: str):
    args = ["--home", str(home), "dataset", "export", "pets", str(dest), "-f", fmt, *extra]
    return runner.invoke(app, args)


def test_a_voc_export_with_a_missing_image_is_a_message(tmp_path: Path, pets: Path) -> None:
    home = _home(tmp_path, pets / "output.manifest")
    (pets / "images" / "2.png").unlink()
    result = _export(home, tmp_path / "voc", "voc")
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "error: " in result.output and "2.png" in result.output
    assert "nothing was written" in result.output
    assert not (tmp_path / "voc").exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]


def test_a_coco_export_of_an_image_of_unknown_size_is_a_message(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.manifest", [{"source-ref": "s3://b/unsized.png"}])
    home = _home(tmp_path, manifest)
    dest = tmp_path / "pets.json"
    result = _export(home, dest, "coco", "--json")
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert answer["error"] == "ExportError"
    assert answer["message"].startswith("s3://b/unsized.png: COCO needs the image size")
    assert "Traceback" not in result.output
    assert not dest.exists()
