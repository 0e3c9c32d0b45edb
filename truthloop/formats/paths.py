"""Path safety: every name a reader turns into a file goes through here.

A manifest or annotation file is untrusted input. A reference in it must not reach files outside
the folders the user allowed (`../`, absolute paths, symlinks that lead out), and must not name a
scheme truthloop would fetch from an arbitrary server.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from truthloop.errors import UnsafePath

REMOTE_SCHEMES = ("s3",)
ALLOW_ROOT_HINT = "allow it with --allow-root or TRUTHLOOP_ALLOWED_ROOTS"
S3_PREFIX_HINT = "allow it with TRUTHLOOP_ALLOWED_S3_PREFIXES (the setting allowed_s3_prefixes)"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DRIVE = re.compile(r"^[A-Za-z]:")


def _scheme(ref: str) -> str | None:
    match = _SCHEME.match(ref)
    if match is None:
        return None
    scheme = match.group(1).lower()
    if len(scheme) == 1:
        raise UnsafePath(f"{ref!r} starts with a drive letter; use a path relative to the manifest")
    return scheme


def is_remote(ref: str) -> bool:
    """True for an object-store URI (`s3://`); False for a local path or `file://` URI.

    Any other scheme (`http://`, `ftp://`, `javascript:`...) is refused: truthloop never fetches
    images from an arbitrary server named in a user's file.
    """
    scheme = _scheme(ref)
    if scheme is None or scheme == "file":
        return False
    if scheme in REMOTE_SCHEMES:
        return True
    raise UnsafePath(
        f"{ref!r}: the scheme {scheme}: is not allowed; use a local path, file:// or s3://"
    )


def is_s3_source(source: object) -> bool:
    """True for a source named as an `s3://` URI rather than a local path."""
    return isinstance(source, str) and source[:5].lower() == "s3://"


def allowed_s3_prefix(source: str, allowed_prefixes: Sequence[str]) -> str:
    """`source`, an `s3://bucket/prefix` to import from, without its trailing '/'; refused
    (UnsafePath naming it and the setting) unless it lies inside one of `allowed_prefixes`.

    The CLI, the API and the background worker all read an S3 source only past this check: an
    object store may hold far more than the user meant anyone to import from.
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in source):
        raise UnsafePath(f"the source {source!r} contains a control character")
    bucket, _, key = source[5:].rstrip("/").partition("/")
    if not is_s3_source(source) or not bucket:
        raise UnsafePath(f"the source {source!r} names no bucket; give s3://bucket/prefix")
    wanted = [bucket, *(key.split("/") if key else ())]
    if ".." in wanted or "." in wanted or "" in wanted:
        raise UnsafePath(f"the source {source!r} has a '..', '.' or empty folder in it")
    # Compared folder by folder: s3://b/cats allows s3://b/cats/x, never s3://b/catsup.
    for allowed in allowed_prefixes:
        folders = [f for f in allowed[5:].split("/") if f]
        if is_s3_source(allowed) and folders and wanted[: len(folders)] == folders:
            return f"s3://{'/'.join(wanted)}"
    named = ", ".join(allowed_prefixes) or "none"
    raise UnsafePath(
        f"the source {source!r} is outside the allowed S3 prefixes ({named}); if it is meant to"
        f" be read, {S3_PREFIX_HINT}"
    )


def _local_path(ref: str, base: str) -> str:
    if "\x00" in ref:
        raise UnsafePath(f"{ref!r} contains a NUL character")
    if ":" not in ref or _scheme(ref) != "file":
        return os.path.join(base, ref)
    parts = urlsplit(ref)
    if parts.netloc not in ("", "localhost"):
        raise UnsafePath(f"{ref!r} names another host ({parts.netloc}); only local files")
    path = unquote(parts.path)
    if "\x00" in path:
        raise UnsafePath(f"{ref!r} contains a NUL character")
    return path


class LocalResolver:
    """`resolve_local` for many refs against one base and set of roots, as readers need.

    Real folder paths are cached, so a manifest whose million images share a few folders costs
    one `lstat` per image rather than one per path component.
    """

    def __init__(self, base: Path, allowed_roots: Sequence[Path]) -> None:
        self.base = os.fspath(base)
        self.roots = [os.path.realpath(root) for root in allowed_roots]
        self._real_folder = functools.lru_cache(maxsize=4096)(os.path.realpath)

    def __call__(self, ref: str) -> str:
        """The real path of `ref` as a string (readers put it in `ImageRecord.uri` as is)."""
        if is_remote(ref):
            raise UnsafePath(f"{ref!r} is a remote URI; it cannot be resolved to a local file")
        # No lexical normalisation: `link/..` must go where the file system takes it.
        folder, name = os.path.split(_local_path(ref, self.base))
        real = os.path.join(self._real_folder(folder), name)
        if name in ("", ".", "..") or os.path.islink(real):
            real = os.path.realpath(real)
        if any(_inside(real, root) for root in self.roots):
            return real
        named = ", ".join(self.roots) or "none given"
        raise UnsafePath(
            f"{ref!r} resolves to {real}, which is outside the allowed roots ({named}); "
            f"if that folder is meant to be read, {ALLOW_ROOT_HINT}"
        )


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def resolve_local(ref: str, *, base: Path, allowed_roots: Sequence[Path]) -> Path:
    """The real absolute path `ref` names, refused unless it lies inside one of `allowed_roots`.

    A relative `ref` is relative to `base`; `file://` URIs are accepted. Symlinks are resolved
    first, so one that leads out of the roots is caught.
    """
    return Path(LocalResolver(base, allowed_roots)(ref))


def safe_member(name: str) -> str:
    """`name` as a clean relative POSIX path, for names inside annotation files and archives.

    Refuses what could step outside the folder the name is relative to: absolute paths, `..`,
    drive letters, backslashes (a Windows separator or an escape trick) and NUL characters.
    """
    if not name or not name.strip():
        raise UnsafePath("an empty file name")
    if "\x00" in name:
        raise UnsafePath(f"{name!r} contains a NUL character")
    if "\\" in name:
        raise UnsafePath(f"{name!r} contains a backslash; use '/' between folders")
    if _DRIVE.match(name):
        raise UnsafePath(f"{name!r} starts with a drive letter; names must be relative")
    if name.startswith("/"):
        raise UnsafePath(f"{name!r} is an absolute path; names must be relative")
    parts = [part for part in PurePosixPath(name).parts if part != "."]
    if ".." in parts:
        raise UnsafePath(f"{name!r} contains '..'; names must stay inside their folder")
    if not parts:
        raise UnsafePath(f"{name!r} names no file")
    return "/".join(parts)
