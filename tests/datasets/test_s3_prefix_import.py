"""Importing images labeled by folder from an `s3://bucket/prefix`, as Rekognition Custom Labels
does: from the CLI and the REST API, only inside TRUTHLOOP_ALLOWED_S3_PREFIXES, against a real
S3-speaking server on loopback (moto)."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from tests.web.portal import seed
from truthloop.cli.main import app
from truthloop.core.types import Classification, ImageRecord
from truthloop.datasets.importing import import_dataset
from truthloop.errors import ImportAborted, UnsafePath
from truthloop.formats.paths import allowed_s3_prefix
from truthloop.runtime.background import BackgroundWorker
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.web.app import create_app

pytestmark = pytest.mark.s3
runner = CliRunner()


def _image(size: tuple[int, int], fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 160, 30)).save(buffer, format=fmt, **options)
    return buffer.getvalue()


# Its frame header lies past the first 64 KiB (two large comment segments come first), so its
# size takes the whole object rather than the ranged read of its header.
LATE_HEADER_JPEG = _image(
    (33, 22), "JPEG", exif=b"Exif\x00\x00" + bytes(65000), comment=bytes(65000)
)

OBJECTS = {
    "cats/0.png": _image((40, 30)),
    "cats/deeper/1.jpg": LATE_HEADER_JPEG,
    "dogs/a.png": _image((20, 10)),
    "top.png": _image((8, 6)),
    "dogs/notes.txt": b"not an image, not imported",
    ".hidden/x.png": _image((5, 5)),
}
EXPECTED = {  # uri under the prefix: (label, width, height)
    "cats/0.png": ("cats", 40, 30),
    "cats/deeper/1.jpg": ("cats", 33, 22),
    "dogs/a.png": ("dogs", 20, 10),
    "top.png": (None, 8, 6),
}


def make_bucket(s3_endpoint: str) -> str:
    """A fresh bucket holding OBJECTS under `pets/`, and one object outside that prefix."""
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket=name)
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=name, Key=f"pets/{key}", Body=body)
    s3.put_object(Bucket=name, Key="private/cats/0.png", Body=_image((4, 4)))
    return name


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    return make_bucket(s3_endpoint)


@pytest.fixture
def s3_project(
    tmp_path: Path, database_url: str, s3_endpoint: str, bucket: str
) -> Iterator[Project]:
    with Project.init(
        tmp_path / "home",
        database_url=database_url,
        s3_endpoint_url=s3_endpoint,
        allowed_s3_prefixes=(f"s3://{bucket}/pets",),
    ) as project:
        yield project


def stored(project: Project, name: str) -> dict[str, ImageRecord]:
    with project.session() as session:
        dataset = store.find_dataset(session, name)
        if dataset is None:
            return {}
        return {r.uri: r for _, r in store.iter_records(session, dataset.id)}


def _found(records: dict[str, ImageRecord], prefix: str) -> dict[str, tuple]:
    found = {}
    for uri, record in records.items():
        labels = [a.value.label for a in record.annotations if isinstance(a.value, Classification)]
        assert record.size is not None, uri
        found[uri.removeprefix(prefix)] = (
            labels[0] if labels else None,
            record.size.width,
            record.size.height,
        )
    return found


@pytest.mark.parametrize(
    ("source", "allowed", "expected"),
    [
        ("s3://b/pets/", ["s3://b/pets"], "s3://b/pets"),
        ("s3://b/pets/cats", ["s3://b/pets/"], "s3://b/pets/cats"),
        ("s3://b", ["s3://b"], "s3://b"),
        ("s3://b/any", ["s3://other", "s3://b"], "s3://b/any"),
    ],
)
def test_a_source_inside_an_allowed_prefix_is_allowed(
    source: str, allowed: list[str], expected: str
) -> None:
    assert allowed_s3_prefix(source, allowed) == expected


@pytest.mark.parametrize(
    ("source", "allowed", "reason"),
    [
        ("s3://b/petsitters", ["s3://b/pets"], "outside the allowed S3 prefixes"),
        ("s3://b/other", [], "outside the allowed S3 prefixes (none)"),
        ("s3://b/pets/../private", ["s3://b/pets"], "'..'"),
        ("s3://b/pets//x", ["s3://b/pets"], "empty folder"),
        ("s3:///pets", ["s3://b"], "names no bucket"),
        ("s3://b/pets/\nx", ["s3://b/pets"], "control character"),
    ],
)
def test_a_source_outside_the_allowed_prefixes_is_refused(
    source: str, allowed: list[str], reason: str
) -> None:
    with pytest.raises(UnsafePath) as refused:
        allowed_s3_prefix(source, allowed)
    assert reason in str(refused.value)
    assert repr(source) in str(refused.value)


def test_the_cli_imports_a_prefix_as_labeled_s3_images(
    tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    home = str(tmp_path / "home")
    env = {
        "TRUTHLOOP_S3_ENDPOINT_URL": s3_endpoint,
        "TRUTHLOOP_ALLOWED_S3_PREFIXES": f"s3://{bucket}/pets, s3://elsewhere",
    }
    assert runner.invoke(app, ["init", home]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "--home",
            home,
            "dataset",
            "import",
            "pets",
            f"s3://{bucket}/pets/",
            "--format",
            "folders",
            "--json",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["imported"], report["labels"]) == (4, ["cats", "dogs"])

    refused = runner.invoke(
        app,
        [
            "--home",
            home,
            "dataset",
            "import",
            "secret",
            f"s3://{bucket}/private",
            "--format",
            "folders",
            "--json",
        ],
        env=env,
    )
    assert refused.exit_code == 1
    message = json.loads(refused.stdout)["message"]
    assert f"s3://{bucket}/private" in message and "TRUTHLOOP_ALLOWED_S3_PREFIXES" in message

    with Project.open(home) as project:
        prefix = f"s3://{bucket}/pets/"
        assert _found(stored(project, "pets"), prefix) == EXPECTED
        assert stored(project, "secret") == {}


def test_the_api_imports_a_prefix_inline_or_queued_and_refuses_others(
    s3_project: Project, bucket: str
) -> None:
    portal = seed(s3_project)
    prefix = f"s3://{bucket}/pets"
    with TestClient(create_app(s3_project)) as api:
        api.headers["Authorization"] = f"Bearer {portal.token('mia')}"
        inline = api.post("/api/datasets/pets/import", json={"path": prefix, "format": "folders"})
        assert inline.status_code == 201, inline.text
        assert inline.json()["imported"] == 4
        page = api.get("/api/datasets/pets/items").json()
        assert {i["uri"] for i in page["items"]} == {f"{prefix}/{k}" for k in EXPECTED}

        # As the import page sends it: queued for the background worker, which copies.
        waiting = api.post(
            "/api/datasets/copied/import",
            json={"path": prefix, "format": "folders", "background": True, "copy": True},
        )
        assert waiting.status_code == 202, waiting.text
        BackgroundWorker(s3_project).run_once()
        status = api.get(waiting.json()["url"]).json()
        assert (status["status"], status["items_stored"]) == ("done", 4), status

        for source in (f"s3://{bucket}/private", f"s3://{bucket}/pets/../private"):
            refused = api.post(
                "/api/datasets/secret/import", json={"path": source, "format": "folders"}
            )
            assert refused.status_code == 422, refused.text
            assert source in refused.text
    copied = stored(s3_project, "copied")
    blobs = s3_project.settings.resolved_blob_url
    assert all(uri.startswith(blobs) for uri in copied), copied
    assert sorted(size for *_, size in (_found(copied, "").values())) == [6, 10, 22, 30]
    assert stored(s3_project, "secret") == {}


def test_an_object_that_is_not_an_image_is_reported_per_the_on_error_policy(
    s3_project: Project, bucket: str, s3_endpoint: str
) -> None:
    broken = f"s3://{bucket}/pets/dogs/broken.jpg"
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(
        Bucket=bucket, Key="pets/dogs/broken.jpg", Body=b"this is no JPEG"
    )
    prefix = f"s3://{bucket}/pets"
    with pytest.raises(ImportAborted) as aborted:
        import_dataset(s3_project, "strict", prefix, fmt="folders")
    assert broken in str(aborted.value)
    assert stored(s3_project, "strict") == {}

    report = import_dataset(s3_project, "lenient", prefix, fmt="folders", on_error="skip")
    assert report.imported == 4
    assert len(report.skipped) == 1 and broken in report.skipped[0]
    assert set(stored(s3_project, "lenient")) == {f"{prefix}/{k}" for k in EXPECTED}
