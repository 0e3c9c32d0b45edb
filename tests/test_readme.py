"""The README's commands are tested: its "Using it" shell block and its Python block run."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from truthloop.cli.main import app

README = Path(__file__).resolve().parent.parent / "README.md"


def _block(after: str, language: str) -> str:
    text = README.read_text()
    start = text.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(text, start)
    assert match, f"no {language} block after {after!r}"
    return match.group(1)


def test_the_using_it_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for line in _block("## Using it", "bash").splitlines():
        command = line.split("#", 1)[0].strip()
        if not command or command.startswith("source "):
            continue
        if command.startswith("export "):
            name, value = command.removeprefix("export ").split("=", 1)
            monkeypatch.setenv(name, str(Path(value).resolve()))
            continue
        words = shlex.split(command)
        assert words[0] == "truthloop"
        if words[1:3] == ["sim", "logos"]:
            words[words.index("--images") + 1] = "12"  # same command, fewer images
        result = runner.invoke(app, words[1:], env=dict(os.environ))
        assert result.exit_code == 0, f"{command}\n{result.output}"
    assert (tmp_path / "logos.coco.json").is_file()


def test_the_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = _block("The same from Python", "python").replace("images=200", "images=12")
    exec(compile(code, "README.md", "exec"), {})  # the README's own example
    assert (tmp_path / "logos.coco.json").is_file()
