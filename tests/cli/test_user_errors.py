"""A user's mistake ends a command with a message and exit code 1, never a traceback: each path
that used to raise a bare ValueError (or pydantic's error) now raises an error of the tree
(issue 16, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.datasets.conftest import box_line, make_image, write_manifest
from tests.labeling.conftest import seed
from truthloop.cli.main import app
from truthloop.storage.project import Project

runner = CliRunner()


def _invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


def _refused(result: Result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "error: " in result.output
    flat = " ".join(result.output.split())  # rich wraps long messages
    for word in words:
        assert word in flat, (word, result.output)


@pytest.fixture
def two_attributes(tmp_path: Path) -> Path:
    """A project whose dataset holds two box sets per image, under `bb` and `bb2`."""
    make_image(tmp_path / "images" / "0.png")
    line = box_line("images/0.png", [(0, 5, 5, 20, 20)])
    other = box_line("images/0.png", [(1, 6, 6, 10, 10)])
    line |= {"bb2": other["bb"], "bb2-metadata": other["bb-metadata"]}
    write_manifest(tmp_path / "two.manifest", [line])
    home = tmp_path / "home"
    assert _invoke("init", str(home)).exit_code == 0
    imported = _invoke("--home", str(home), "dataset", "import", "pets",
                       str(tmp_path / "two.manifest"), "-f", "groundtruth")
    assert imported.exit_code == 0, imported.output
    return home


@pytest.mark.parametrize("fmt", ["coco", "voc", "yolo"])
def test_exporting_two_label_attributes_without_choosing_is_a_message(
    two_attributes: Path, tmp_path: Path, fmt: str
) -> None:
    dest = tmp_path / f"out-{fmt}"
    export = ("--home", str(two_attributes), "dataset", "export", "pets", str(dest), "-f", fmt)
    _refused(_invoke(*export), "several annotations could be written", "'bb', 'bb2'")
    assert not dest.exists()
    as_json = json.loads(_invoke(*export, "--json").stdout)
    assert as_json["error"] == "ExportError" and "choose one" in as_json["message"]
    chosen = _invoke(*export, "--label-attribute", "bb2")
    assert chosen.exit_code == 0, chosen.output


def test_exporting_remote_images_to_a_folder_format_is_a_message(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path / "remote.manifest", [box_line("s3://bucket/a.png", [(0, 5, 5, 20, 20)])]
    )
    home = tmp_path / "home"
    assert _invoke("init", str(home)).exit_code == 0
    assert _invoke("--home", str(home), "dataset", "import", "remote", str(manifest),
                   "-f", "groundtruth").exit_code == 0
    result = _invoke("--home", str(home), "dataset", "export", "remote", str(tmp_path / "voc"),
                     "-f", "voc")
    _refused(result, "s3://bucket/a.png", "needs the image files locally")


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    with Project.init(tmp_path / "home") as project:
        seed(project)
    return tmp_path / "home"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (("--label-attribute", "source-ref"), ("'source-ref' cannot be a label attribute name",)),
        (("--workers-per-item", "101"), ("workers per item must be a whole number between 1"
                                         " and 100, not 101",)),
        (("--time-limit", "28801"), ("between 1 and 28800",)),
    ],
)
def test_a_job_on_terms_the_service_refuses_is_a_message(
    seeded: Path, extra: tuple[str, ...], words: tuple[str, ...]
) -> None:
    result = _invoke("--home", str(seeded), "job", "create", "pets-job", "--dataset", "pets",
                     "--type", "classification", "--team", "crew", *extra)
    _refused(result, *words)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"TRUTHLOOP_SMTP_PORT": "many"}, ("TRUTHLOOP_SMTP_PORT (smtp_port)", "valid integer")),
        ({"TRUTHLOOP_BASE_URL": "portal"}, ("TRUTHLOOP_BASE_URL", "not an http:// or https://")),
        ({"TRUTHLOOP_MAX_IMAGE_BYTES": "lots"}, ("TRUTHLOOP_MAX_IMAGE_BYTES",)),
    ],
)
def test_a_bad_setting_is_a_message_naming_its_variable(
    seeded: Path, env: dict[str, str], words: tuple[str, ...]
) -> None:
    _refused(_invoke("--home", str(seeded), "dataset", "list", env=env), *words)


def test_a_bad_setting_does_not_show_its_value(seeded: Path) -> None:
    result = _invoke("--home", str(seeded), "dataset", "list",
                     env={"TRUTHLOOP_SMTP_PORT": "hunter2-secret"})
    _refused(result, "TRUTHLOOP_SMTP_PORT")
    assert "hunter2-secret" not in result.output
