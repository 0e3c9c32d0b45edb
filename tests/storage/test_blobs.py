from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from truthloop.errors import UnsafePath
from truthloop.storage.blobs import BlobStore, open_uri


def _exercise(store: BlobStore) -> None:
    uri = store.put_bytes("images/ab/abc.jpg", b"jpeg bytes")
    assert store.exists("images/ab/abc.jpg")
    assert store.get_bytes("images/ab/abc.jpg") == b"jpeg bytes"
    with open_uri(uri, s3_endpoint_url=store.s3_endpoint_url) as f:
        assert f.read() == b"jpeg bytes"
    assert store.keys("images") == ["images/ab/abc.jpg"]
    store.delete("images/ab/abc.jpg")
    assert not store.exists("images/ab/abc.jpg")


def test_local_blob_store(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    _exercise(store)


@pytest.mark.s3
def test_s3_blob_store_over_real_http(s3_endpoint: str) -> None:
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="blobs-test")
    store = BlobStore("s3://blobs-test/project", s3_endpoint_url=s3_endpoint)
    _exercise(store)
    assert store.uri("x/y.bin") == "s3://blobs-test/project/x/y.bin"


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b", "a\\..\\b", "a\x00b", ""])
def test_keys_that_could_escape_the_store_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(UnsafePath):
        BlobStore(str(tmp_path)).put_bytes(key, b"x")
