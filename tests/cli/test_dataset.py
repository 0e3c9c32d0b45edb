from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.datasets.conftest import box_line, make_image, write_manifest
from truthloop.cli.main import app

runner = CliRunner()


def _run(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def test_init_import_show_list_export_with_json(tmp_path: Path, pets: Path) -> None:
    home = tmp_path / "home"
    assert json.loads(runner.invoke(app, ["init", str(home), "--json"]).stdout)["home"] == str(home)

    result = _run(
        home,
        "dataset",
        "import",
        "pets",
        str(pets / "output.manifest"),
        "--format",
        "groundtruth",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imported"] == 3

    shown = json.loads(_run(home, "dataset", "show", "pets", "--json").stdout)
    assert shown["items"] == 3
    assert shown["attributes"] == [{
        "attribute": "bb", "images": 3, "images_per_label": {"dog": 2, "cat": 1},
        "objects_per_label": {"dog": 2, "cat": 1}, "sources": {"human": 3},
    }]
    assert shown["items_per_split"] == {"unassigned": 3}

    listed = json.loads(_run(home, "dataset", "list", "--json").stdout)
    assert [d["name"] for d in listed] == ["pets"] and listed[0]["items"] == 3

    out = tmp_path / "pets.coco.json"
    exported = json.loads(
        _run(home, "dataset", "export", "pets", str(out), "--format", "coco", "--json").stdout
    )
    assert exported["exported"] == 3
    coco = json.loads(out.read_text())
    assert len(coco["images"]) == 3 and len(coco["annotations"]) == 3


def test_human_output_shows_tables(tmp_path: Path, pets: Path) -> None:
    home = tmp_path / "home"
    runner.invoke(app, ["init", str(home)])
    imported = _run(
        home, "dataset", "import", "pets", str(pets / "output.manifest"), "--format", "groundtruth"
    )
    assert "3 images were not opened" in " ".join(imported.stdout.split())
    shown = _run(home, "dataset", "show", "pets")
    assert "bb: 3 images labeled (3 by human)" in shown.stdout
    assert "dog" in shown.stdout and "per split" in shown.stdout


def test_errors_are_messages_with_exit_code_1(tmp_path: Path, pets: Path) -> None:
    home = tmp_path / "home"
    runner.invoke(app, ["init", str(home)])
    bad = write_manifest(pets / "bad.manifest", [box_line("images/0.png", []), "{broken"])
    result = runner.invoke(
        app,
        [
            "--home",
            str(home),
            "dataset",
            "import",
            "x",
            str(bad),
            "--format",
            "groundtruth",
            "--json",
        ],
    )
    assert result.exit_code == 1
    error = json.loads(result.stdout)
    assert error["error"] == "ImportAborted" and "bad.manifest:2" in error["message"]

    result = runner.invoke(
        app,
        [
            "--home",
            str(home),
            "dataset",
            "import",
            "x",
            str(bad),
            "--format",
            "groundtruth",
            "--on-error",
            "skip",
        ],
    )
    assert result.exit_code == 0 and "skipped 1 bad records" in result.stdout

    missing = runner.invoke(app, ["--home", str(home), "dataset", "show", "nope"])
    assert missing.exit_code == 1 and "no dataset named 'nope'" in missing.stderr


def test_hostile_names_are_printed_as_text_not_markup(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner.invoke(app, ["init", str(home)])
    make_image(tmp_path / "data" / "[bold red]x[red]" / "a.png")
    result = _run(home, "dataset", "import", "odd", str(tmp_path / "data"), "--format", "folders")
    assert result.exit_code == 0, result.output
    shown = _run(home, "dataset", "show", "odd")
    assert "[bold red]x[red]" in shown.stdout


def test_a_command_without_a_project_says_how_to_make_one(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--home", str(tmp_path / "none"), "dataset", "list"])
    assert result.exit_code == 1 and "truthloop init" in result.stderr


def test_import_coco_with_an_image_root(tmp_path: Path, pets: Path) -> None:
    home = tmp_path / "home"
    runner.invoke(app, ["init", str(home)])
    coco = tmp_path / "annotations" / "instances.json"
    coco.parent.mkdir()
    coco.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "1.png", "width": 32, "height": 32}],
        "annotations": [], "categories": [{"id": 1, "name": "cat"}],
    }))
    result = _run(home, "dataset", "import", "cats", str(coco), "--format", "coco",
                  "--image-root", str(pets / "images"), "--verify-images", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imported"] == 1
