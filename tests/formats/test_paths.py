from __future__ import annotations

import os
from pathlib import Path

import pytest

from truthloop.errors import UnsafePath
from truthloop.formats.paths import LocalResolver, is_remote, resolve_local, safe_member


def test_relative_refs_resolve_against_base(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    got = resolve_local("images/a.jpg", base=tmp_path, allowed_roots=[tmp_path])
    assert got == Path(os.path.realpath(tmp_path)) / "images" / "a.jpg"


def test_file_uris_and_absolute_paths_inside_a_root_are_accepted(tmp_path: Path) -> None:
    target = tmp_path / "a b.jpg"
    real = Path(os.path.realpath(target))
    assert resolve_local(target.as_uri(), base=Path("/"), allowed_roots=[tmp_path]) == real
    assert resolve_local(str(target), base=Path("/"), allowed_roots=[tmp_path]) == real


@pytest.mark.parametrize("ref", ["../secret.jpg", "images/../../secret.jpg", "/etc/passwd"])
def test_refs_outside_the_roots_are_refused_naming_the_roots_and_the_fix(
    tmp_path: Path, ref: str
) -> None:
    base = tmp_path / "data"
    base.mkdir()
    with pytest.raises(UnsafePath) as caught:
        resolve_local(ref, base=base, allowed_roots=[base])
    message = str(caught.value)
    assert repr(ref) in message
    assert str(os.path.realpath(base)) in message
    assert "--allow-root" in message and "TRUTHLOOP_ALLOWED_ROOTS" in message


def test_a_symlink_that_leads_out_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"x")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.jpg").symlink_to(outside)
    with pytest.raises(UnsafePath, match="outside the allowed roots"):
        resolve_local("link.jpg", base=root, allowed_roots=[root])


def test_no_roots_means_nothing_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(UnsafePath, match="none given"):
        resolve_local("a.jpg", base=tmp_path, allowed_roots=[])


def test_file_uris_of_other_hosts_and_nul_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePath, match="another host"):
        resolve_local("file://evil.example/a.jpg", base=tmp_path, allowed_roots=[tmp_path])
    with pytest.raises(UnsafePath, match="NUL"):
        resolve_local("a\x00.jpg", base=tmp_path, allowed_roots=[tmp_path])
    with pytest.raises(UnsafePath, match="NUL"):
        resolve_local("file:///a%00.jpg", base=tmp_path, allowed_roots=[tmp_path])


def test_s3_is_remote_and_local_refs_are_not() -> None:
    assert is_remote("s3://bucket/a.jpg")
    assert is_remote("S3://bucket/a.jpg")
    assert not is_remote("images/a.jpg")
    assert not is_remote("/data/a.jpg")
    assert not is_remote("file:///data/a.jpg")


@pytest.mark.parametrize(
    "ref", ["http://example.com/a.jpg", "https://x/a.jpg", "ftp://x/a", "javascript:alert(1)"]
)
def test_other_schemes_are_refused(ref: str) -> None:
    with pytest.raises(UnsafePath, match="not allowed"):
        is_remote(ref)


def test_remote_refs_are_not_resolved_locally(tmp_path: Path) -> None:
    with pytest.raises(UnsafePath, match="remote"):
        resolve_local("s3://bucket/a.jpg", base=tmp_path, allowed_roots=[tmp_path])


def test_drive_letters_are_refused() -> None:
    with pytest.raises(UnsafePath, match="drive letter"):
        is_remote("C:/Windows/a.jpg")


@pytest.mark.parametrize(
    ("name", "clean"),
    [("a.jpg", "a.jpg"), ("./images//a.jpg", "images/a.jpg"), ("x/y/z.png", "x/y/z.png")],
)
def test_safe_members_come_back_clean(name: str, clean: str) -> None:
    assert safe_member(name) == clean


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("../a.jpg", r"'\.\.'"),
        ("images/../../a.jpg", r"'\.\.'"),
        ("a\x00.jpg", "NUL"),
        ("C:/a.jpg", "drive letter"),
        ("c:a.jpg", "drive letter"),
        ("..\\a.jpg", "backslash"),
        ("images\\a.jpg", "backslash"),
        ("", "empty"),
        (".", "names no file"),
    ],
)
def test_unsafe_members_are_refused(name: str, why: str) -> None:
    with pytest.raises(UnsafePath, match=why):
        safe_member(name)


def test_dot_dot_after_a_symlinked_folder_goes_where_the_file_system_goes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (tmp_path / "outside" / "deep").mkdir(parents=True)
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "outside" / "deep")
    # Lexically root/secret.jpg, but the OS opens outside/secret.jpg.
    with pytest.raises(UnsafePath, match="outside"):
        resolve_local("link/../secret.jpg", base=root, allowed_roots=[root])


def test_one_resolver_serves_many_refs_and_still_sees_each_symlink(tmp_path: Path) -> None:
    (tmp_path / "outside.jpg").write_bytes(b"x")
    (tmp_path / "root" / "images").mkdir(parents=True)
    (tmp_path / "root" / "images" / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    resolve = LocalResolver(tmp_path / "root", [tmp_path / "root"])
    real = os.path.realpath(tmp_path / "root" / "images")
    assert resolve("images/a.jpg") == os.path.join(real, "a.jpg")
    with pytest.raises(UnsafePath):
        resolve("images/link.jpg")
    assert resolve("images/b.jpg") == os.path.join(real, "b.jpg")
