from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pytest
from PIL import Image

from truthloop.datasets.importing import import_dataset
from truthloop.storage import datasets as store
from truthloop.storage.project import Project

pytestmark = pytest.mark.s3


def _png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_images_on_s3_are_read_in_place_or_copied_to_an_s3_blob_store(
    s3_endpoint: str, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="images")
    s3.create_bucket(Bucket="project")
    for i, color in enumerate([(255, 0, 0), (0, 255, 0)]):
        s3.put_object(Bucket="images", Key=f"cats/{i}.png", Body=_png(color))
    manifest = tmp_path / "in.manifest"
    manifest.write_text(
        "\n".join(json.dumps({"source-ref": f"s3://images/cats/{i}.png"}) for i in range(2))
    )
    with Project.init(
        tmp_path / "home", blob_url="s3://project/blobs", s3_endpoint_url=s3_endpoint
    ) as project:
        in_place = import_dataset(
            project, "in-place", manifest, fmt="groundtruth", verify_images=True
        )
        copied = import_dataset(project, "copied", manifest, fmt="groundtruth", copy=True)
        with project.session() as s:
            items = {
                name: [r for _, r in store.iter_records(s, store.get_dataset(s, name).id)]
                for name in ("in-place", "copied")
            }
        assert in_place.imported == copied.imported == copied.copied == 2
        assert [r.uri for r in items["in-place"]] == [
            "s3://images/cats/0.png",
            "s3://images/cats/1.png",
        ]
        assert all(r.uri.startswith("s3://project/blobs/images/") for r in items["copied"])
        assert all(
            r.size is not None and (r.size.width, r.size.height) == (40, 30)
            for r in items["copied"]
        )
        assert project.load_image(items["copied"][1].uri).getpixel((0, 0)) == (0, 255, 0)
