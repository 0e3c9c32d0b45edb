"""Imports over HTTP: where a source may come from, and the large ones queued for the background
worker.

A source is either a file the server received (an upload, kept under `<home>/uploads/<uuid>/`
until its import ends; a zip unpacked there, datasets/uploads.py), a path on the server
inside the allowed roots, checked as the CLI's image references are, or an `s3://` prefix
inside the allowed S3 prefixes (folders as labels), checked as the CLI's. A large one is queued as
a row of `imports`; the background worker runs it (`run_next`) with `import_dataset`, so it is
the same one transaction with the same refusals. An import interrupted by a restart stored
nothing (one transaction): `resume` queues it again. While it runs, its progress is in
`<home>/imports/<id>.progress` rather than its row, because on SQLite the import's own
transaction holds the only write lock until it commits.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from truthloop import formats
from truthloop.core.text import text_problem
from truthloop.core.types import Split
from truthloop.datasets.importing import ImportReport, check_dataset_name, import_dataset
from truthloop.errors import InputError, NotFound, TruthloopError, UnsafePath
from truthloop.formats.paths import allowed_s3_prefix, is_s3_source, resolve_local
from truthloop.storage.project import Project
from truthloop.storage.tables import ImportRow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
# Options of import_dataset a request may set.
OPTIONS = ("label_attribute", "on_error", "labels", "split", "image_root", "copy", "verify_images")
# Options that open every image: a request must not make the server do that within its own
# timeout, so an import with any of them set is queued for the background worker.
QUEUED_ONLY = ("copy", "verify_images")


def check_format(fmt: str) -> str:
    if fmt not in formats.READ_FORMATS:
        known = ", ".join(formats.READ_FORMATS)
        raise InputError(f"format {fmt!r} is not one truthloop reads; use one of {known}")
    return fmt


def import_source(project: Project, ref: str) -> Path | str:
    """The source a request names: an `s3://` prefix inside the allowed S3 prefixes (a str, as
    import_dataset takes it), or a path on the server (`server_path`)."""
    if is_s3_source(ref):
        return allowed_s3_prefix(ref, project.settings.allowed_s3_prefixes)
    return server_path(project, ref)


def server_path(project: Project, ref: str, what: str = "path") -> Path:
    """`ref`, a path on the server, resolved (symlinks followed) and inside the allowed roots
    (the project home and TRUTHLOOP_ALLOWED_ROOTS), or UnsafePath saying what was refused."""
    if "\x00" in ref or any(ord(c) < 32 or ord(c) == 127 for c in ref):
        raise UnsafePath(f"the {what} {ref!r} contains a control character")
    if "://" in ref:
        raise UnsafePath(
            f"the {what} {ref!r} is a URI; give a path on the server (only a dataset's source"
            " may be an s3:// prefix)"
        )
    path = Path(ref)
    if not path.is_absolute():
        raise UnsafePath(f"the {what} {ref!r} is not absolute")
    if ".." in path.parts:
        raise UnsafePath(f"the {what} {ref!r} goes up a folder (..)")
    # Symlinks followed, then held to the roots, as every path a manifest names.
    resolved = resolve_local(ref, base=project.home, allowed_roots=project.allowed_roots)
    if not resolved.exists():
        raise InputError(f"the {what} {ref!r} does not exist")
    return resolved


def upload_folder(project: Project) -> Path:
    folder = project.home / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def upload_name(filename: str | None, fmt: str) -> str:
    """A file name for an upload: the client's, cut to safe characters, or one from the format."""
    name = Path((filename or "").replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")[:100]
    return name or ("annotations.json" if fmt == "coco" else "upload.manifest")


def remove_upload(project: Project, source: Path) -> None:
    """The whole upload folder `source` lies in (a zip's source may lie deeper in it)."""
    uploads = project.home / "uploads"
    if source.is_relative_to(uploads) and source != uploads:
        shutil.rmtree(uploads / source.relative_to(uploads).parts[0], ignore_errors=True)


def needs_queue(options: dict[str, Any]) -> bool:
    return any(options.get(key) for key in QUEUED_ONLY)


def check_options(project: Project, options: dict[str, Any]) -> dict[str, Any]:
    """The request's import options, checked; `image_root` must be inside the allowed roots."""
    options = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise InputError(f"unknown import option {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
    if options.get("on_error", "abort") not in ("abort", "skip"):
        raise InputError(f"on_error {options['on_error']!r} is neither abort nor skip")
    if "labels" in options:
        options["labels"] = _label_names(options["labels"])
    for key in QUEUED_ONLY:
        if not isinstance(options.get(key, False), bool):
            raise InputError(f"{key} is true or false, not {options[key]!r}")
    for key in ("label_attribute", "split"):
        value = options.get(key)
        if value is not None and (problem := text_problem(key, str(value))):
            raise InputError(problem)
    if "split" in options and options["split"] not in {s.value for s in Split}:
        known = ", ".join(s.value for s in Split)
        raise InputError(f"split {options['split']!r} is not one of {known}")
    if options.get("image_root") is not None:
        options["image_root"] = str(server_path(project, options["image_root"], "image root"))
    return options


def _label_names(labels: object) -> list[str]:
    """A fixed label set: a list of names, or one comma-separated string of them (a form's)."""
    if isinstance(labels, str):
        return [name.strip() for name in labels.split(",") if name.strip()]
    if isinstance(labels, list) and all(isinstance(name, str) for name in labels):
        return labels
    raise InputError(
        f"labels is a list of label names or one comma-separated string, not {labels!r}"
    )


def import_now(
    project: Project, dataset: str, source: Path | str, fmt: str, options: dict[str, Any]
) -> ImportReport:
    """Import as the CLI does; `options` as check_options left them (JSON, for a queued row)."""
    if options.get("split") is not None:
        options = {**options, "split": Split(options["split"])}
    return import_dataset(
        project, dataset, source, fmt=fmt, allowed_roots=project.allowed_roots, **options
    )


def queue_import(
    project: Project,
    dataset: str,
    source: Path | str,
    fmt: str,
    options: dict[str, Any],
    *,
    upload: bool,
    created_by: int | None,
) -> int:
    check_dataset_name(dataset)
    with project.session() as session:
        row = ImportRow(
            dataset=dataset, source=str(source), fmt=fmt, options=options, upload=upload,
            status=QUEUED, lines_read=0, items_stored=0, created_by=created_by,
        )
        session.add(row)
        session.flush()
        return row.id


def get_import(session: Session, import_id: int) -> ImportRow:
    row = session.get(ImportRow, import_id)
    if row is None:
        raise NotFound(f"there is no import {import_id}")
    return row


def lines_read(project: Project, row: ImportRow) -> int:
    """How far a running import got (its progress file), or what its row says."""
    if row.status != RUNNING:
        return row.lines_read
    try:
        return int(_progress_file(project, row.id).read_text() or 0)
    except (OSError, ValueError):
        return row.lines_read


def resume(project: Project) -> int:
    """Queue again the imports a stopped worker left running (they stored nothing)."""
    with project.session() as session:
        result = session.execute(
            update(ImportRow).where(ImportRow.status == RUNNING).values(status=QUEUED)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def run_next(project: Project) -> int | None:
    """Run the oldest queued import to its end; its id, or None when none waits."""
    with project.session() as session:
        row = session.scalars(
            select(ImportRow).where(ImportRow.status == QUEUED).order_by(ImportRow.id).limit(1)
        ).first()
        if row is None:
            return None
        row.status = RUNNING
        import_id, dataset, fmt = row.id, row.dataset, row.fmt
        source = row.source if is_s3_source(row.source) else Path(row.source)
        options, upload = dict(row.options), row.upload
    progress = _progress_file(project, import_id)
    progress.parent.mkdir(parents=True, exist_ok=True)

    def record(seen: int) -> None:
        temporary = progress.with_suffix(".tmp")
        temporary.write_text(str(seen))
        os.replace(temporary, progress)

    outcome: dict[str, Any] = {"finished_at": datetime.now(UTC).replace(tzinfo=None)}
    try:
        report = import_now(project, dataset, source, fmt, {**options, "progress": record})
    except TruthloopError as error:
        outcome |= {"status": FAILED, "error": str(error)}
    except Exception as error:  # recorded for whoever asks, then the worker goes on
        outcome |= {"status": FAILED, "error": f"the import failed: {error!r}"}
    else:
        outcome |= {
            "status": DONE, "items_stored": report.imported, "report": report.to_json(),
        }
    if upload and isinstance(source, Path):
        remove_upload(project, source)  # failed too: nothing runs it again
    with contextlib.suppress(OSError, ValueError):
        outcome["lines_read"] = int(progress.read_text() or 0)
    with project.session() as session:
        session.execute(update(ImportRow).where(ImportRow.id == import_id).values(**outcome))
    progress.unlink(missing_ok=True)
    return import_id


def _progress_file(project: Project, import_id: int) -> Path:
    return project.home / "imports" / f"{import_id}.progress"
