"""Blobs (copied images, model artifacts, exports) through fsspec: a local folder by default,
`s3://bucket/prefix` with a configurable endpoint, or any other fsspec URL."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import IO, Any

import fsspec

from truthloop.errors import UnsafePath


def storage_options(url: str, s3_endpoint_url: str | None) -> dict[str, Any]:
    if url.startswith("s3://") and s3_endpoint_url:
        return {"client_kwargs": {"endpoint_url": s3_endpoint_url}}
    return {}


def check_key(key: str) -> str:
    """A blob key is a relative POSIX path with no `..`; anything else could escape the store."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or "\x00" in key or ".." in parts:
        raise UnsafePath(f"blob key {key!r} is not a plain relative path")
    return key


class BlobStore:
    """Where truthloop keeps the files it owns. Keys are relative paths under the store's URL."""

    def __init__(self, url: str, *, s3_endpoint_url: str | None = None):
        self.url = url.rstrip("/")
        self.s3_endpoint_url = s3_endpoint_url
        self.options = storage_options(self.url, s3_endpoint_url)
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **self.options)
        self.local = self.fs.protocol in ("file", ("file", "local"), "local") or isinstance(
            self.fs, fsspec.implementations.local.LocalFileSystem
        )

    def uri(self, key: str) -> str:
        """The address an item records to read this blob back (a plain path when local)."""
        path = posixpath.join(self.root, check_key(key))
        return path if self.local else f"{self.url.split('://', 1)[0]}://{path}"

    def _path(self, key: str) -> str:
        return posixpath.join(self.root, check_key(key))

    def put_bytes(self, key: str, data: bytes) -> str:
        path = self._path(key)
        if self.local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self.fs.open(path, "wb") as f:
            f.write(data)
        return self.uri(key)

    def put_file(self, key: str, local_path: Path) -> str:
        path = self._path(key)
        if self.local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.fs.put_file(str(local_path), path)
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        with self.fs.open(self._path(key), "rb") as f:
            return f.read()

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    def delete(self, key: str) -> None:
        if self.fs.exists(self._path(key)):
            self.fs.rm(self._path(key), recursive=True)

    def keys(self, prefix: str = "") -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not self.fs.exists(base):
            return []
        found = self.fs.find(base)
        root = self.root.rstrip("/") + "/"
        return sorted(p[len(root) :] if p.startswith(root) else p for p in found)


def open_uri(uri: str, *, s3_endpoint_url: str | None = None, mode: str = "rb") -> IO[bytes]:
    """Open an item's image wherever it is: a local path, `file://`, or `s3://`."""
    return fsspec.open(uri, mode, **storage_options(uri, s3_endpoint_url)).open()


def write_uri(uri: str, data: bytes, *, s3_endpoint_url: str | None = None) -> None:
    """Write a whole file at `uri` (a local path or any fsspec URL; local folders are made)."""
    fs, path = fsspec.core.url_to_fs(uri, **storage_options(uri, s3_endpoint_url))
    if isinstance(fs, fsspec.implementations.local.LocalFileSystem):
        # Only here: on S3, making "folders" could create the bucket a typo named.
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
    with fs.open(path, "wb") as f:
        f.write(data)


def remove_uri(uri: str, *, s3_endpoint_url: str | None = None) -> None:
    """Remove the file at `uri`; nothing happens when there is none."""
    fs, path = fsspec.core.url_to_fs(uri, **storage_options(uri, s3_endpoint_url))
    if fs.exists(path):
        fs.rm(path)
