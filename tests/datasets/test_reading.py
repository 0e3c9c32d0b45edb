"""Reading a source in a child process while this one stores: the same result as reading here."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text

from tests.datasets.conftest import box_line, write_manifest
from truthloop.datasets import reading
from truthloop.datasets.importing import import_dataset
from truthloop.errors import FormatError, ImportAborted, TruthloopError
from truthloop.storage import datasets as store
from truthloop.storage.project import Project


def _stored(project: Project, name: str) -> list:
    with project.session() as s:
        return [record for _, record in store.iter_records(s, store.get_dataset(s, name).id)]


def _counts(project: Project) -> tuple[int, int]:
    with project.session() as s:
        return (
            s.execute(text("select count(*) from items")).scalar_one(),
            s.execute(text("select count(*) from annotations")).scalar_one(),
        )


def _big_manifest(path: Path) -> Path:
    """More lines than a batch, with what reading must refuse, clip and skip along the way."""
    lines: list[dict | str] = []
    for i in range(reading.BATCH + 700):
        line = box_line(f"s3://bucket/images/{i:05d}.png", [(i % 2, 5, 5, 20, 20)])
        line["note"] = f"extra key {i}"
        lines.append(line)
    lines[10] = "{not json"
    lines[20] = box_line("s3://bucket/images/00021.png", [])  # the same image as line 22
    lines[30] = box_line("s3://bucket/images/x.png", [(0, 50, 40, 30, 30)])  # clipped
    lines[2500] = box_line("s3://bucket/images/y.png", [(1, 100, 100, 10, 10)])  # outside
    return write_manifest(path, lines)


def _processes_reading() -> list[int]:
    """The reading processes this process started: not those of another pytest-xdist worker,
    which may be reading at the same time."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "serve_as_child" in " ".join(child.cmdline()):
                found.append(child.pid)
        except psutil.Error:  # gone, or a zombie whose command line is no longer there
            continue
    return found


def test_reading_in_a_child_stores_what_reading_here_stores(
    project: Project, tmp_path: Path
) -> None:
    manifest = _big_manifest(tmp_path / "big.manifest")
    here = import_dataset(
        project, "here", manifest, fmt="groundtruth", on_error="skip", read_in_child=False
    )
    child = import_dataset(
        project, "child", manifest, fmt="groundtruth", on_error="skip", read_in_child=True
    )
    assert here.imported == child.imported == reading.BATCH + 700 - 3
    assert child.skipped == here.skipped
    assert [e.split(": ", 1)[0] for e in child.skipped] == [
        f"{manifest}:11",
        f"{manifest}:22",
        f"{manifest}:2501",
    ]
    assert child.warnings == here.warnings and "clipped" in child.warnings[0]
    assert child.labels == here.labels == ("dog", "cat")
    assert _stored(project, "child") == _stored(project, "here")


def test_a_bad_line_read_in_a_child_aborts_with_its_line_and_stores_nothing(
    project: Project, tmp_path: Path
) -> None:
    manifest = _big_manifest(tmp_path / "big.manifest")
    good = write_manifest(tmp_path / "good.manifest", [box_line("s3://b/kept.png", [])])
    import_dataset(project, "kept", good, fmt="groundtruth")
    before = _counts(project)
    with pytest.raises(ImportAborted, match=r"big\.manifest:11: the line is not valid JSON") as e:
        import_dataset(project, "kept", manifest, fmt="groundtruth", read_in_child=True)
    assert isinstance(e.value.error, FormatError) and e.value.error.line == 11
    assert _counts(project) == before
    assert _processes_reading() == []


def test_the_reading_process_is_gone_when_the_caller_stops_early(tmp_path: Path) -> None:
    manifest = _big_manifest(tmp_path / "big.manifest")
    spec = reading.SourceSpec("groundtruth", manifest, None, (tmp_path,), 10**8, 10**8)
    batches = reading.read_in_child(spec, reading.Rules(skip_errors=True))
    first = next(batches)
    assert len(first.rows) == reading.BATCH and first.label_set is None
    assert len(_processes_reading()) == 1
    batches.close()
    assert _processes_reading() == []


def test_a_reading_process_that_dies_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _big_manifest(tmp_path / "big.manifest")
    spec = reading.SourceSpec("groundtruth", manifest, None, (tmp_path,), 10**8, 10**8)
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(TruthloopError, match=r"big\.manifest stopped: its reading process exited"):
        list(reading.read_in_child(spec, reading.Rules(skip_errors=True)))


def test_large_sources_are_read_in_a_child_unless_images_are_opened(
    sqlite_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_manifest(tmp_path / "m.manifest", [box_line("s3://b/a.png", [])])
    children: list[Path | str] = []
    read_in_child = reading.read_in_child

    def spy(source: reading.SourceSpec, rules: reading.Rules):
        children.append(source.path)
        return read_in_child(source, rules)

    monkeypatch.setattr(reading, "read_in_child", spy)
    import_dataset(sqlite_project, "small", manifest, fmt="groundtruth")
    assert children == []
    monkeypatch.setattr(reading, "CHILD_MIN_BYTES", manifest.stat().st_size)
    import_dataset(sqlite_project, "large", manifest, fmt="groundtruth")
    assert children == [manifest]
    with pytest.raises(ValueError, match="verify_images nor copy"):
        import_dataset(
            sqlite_project,
            "opened",
            manifest,
            fmt="groundtruth",
            verify_images=True,
            read_in_child=True,
        )


def test_input_errors_keep_their_file_and_line_across_processes() -> None:
    error = FormatError("the line is not valid JSON", path="a.manifest", line=7)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is FormatError
    assert (again.message, again.path, again.line, str(again)) == (
        error.message,
        "a.manifest",
        7,
        "a.manifest:7: the line is not valid JSON",
    )
