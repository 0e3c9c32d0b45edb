"""A project: one home folder holding (by default) the SQLite database and the blob store.

`Project.open()` is where a notebook, the CLI and the web app begin; every service gets its
database session and blob store from here, nothing else opens them by itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.orm import Session

from truthloop.config import Settings
from truthloop.errors import ConfigError, ImageError
from truthloop.storage.blobs import BlobStore, open_uri
from truthloop.storage.db import Database

if TYPE_CHECKING:
    from PIL import Image


class Project:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.home = settings.home.resolve()
        self.db = Database(settings.resolved_database_url)
        self.blobs = BlobStore(settings.resolved_blob_url, s3_endpoint_url=settings.s3_endpoint_url)

    @classmethod
    def init(cls, home: Path | str | None = None, **overrides: object) -> Project:
        """Create (or upgrade) a project in `home` and return it open."""
        settings = _settings(home, overrides)
        settings.home.mkdir(parents=True, exist_ok=True)
        project = cls(settings)
        project.db.upgrade()
        return project

    @classmethod
    def open(cls, home: Path | str | None = None, **overrides: object) -> Project:
        """Open an existing project (TRUTHLOOP_HOME when `home` is not given)."""
        settings = _settings(home, overrides)
        if not settings.home.is_dir():
            raise ConfigError(
                f"no truthloop project at {settings.home}: run `truthloop init {settings.home}`"
                " or set TRUTHLOOP_HOME"
            )
        project = cls(settings)
        project.db.upgrade()
        return project

    @property
    def allowed_roots(self) -> tuple[Path, ...]:
        """Folders a manifest may point into besides its own: the home and the configured ones."""
        return (self.home, *(p.resolve() for p in self.settings.allowed_roots))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.db.session() as session:
            yield session

    def read_bytes(self, uri: str) -> bytes:
        with open_uri(uri, s3_endpoint_url=self.settings.s3_endpoint_url) as f:
            return f.read()

    def read_image_bytes(self, uri: str, name: str | None = None) -> bytes:
        """An item's image file, read no further than the byte limit: an ImageError naming it
        `name` (its URI by default) when it cannot be read or is over the limit."""
        limit, name = self.settings.max_image_bytes, name or uri
        try:
            with open_uri(uri, s3_endpoint_url=self.settings.s3_endpoint_url) as f:
                data = f.read(limit + 1)
                # Past the limit, the true size comes from the end, without reading up to it.
                size = f.seek(0, os.SEEK_END) if len(data) > limit else len(data)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise ImageError(f"cannot read the image: {reason}", path=name) from None
        from truthloop.formats.images import check_bytes  # Pillow, only where images are read

        check_bytes(size, limit, name)
        return data

    def load_image(
        self, uri: str, *, fit: int | None = None, name: str | None = None
    ) -> Image.Image:
        """An item's image decoded to RGB under the project's image limits (with `fit`, shrunk
        to a thumbnail); an ImageError naming it `name` (its URI by default) otherwise."""
        from truthloop.formats.images import decode

        return decode(
            self.read_image_bytes(uri, name),
            max_pixels=self.settings.max_image_pixels,
            max_bytes=self.settings.max_image_bytes,
            fit=fit,
            name=name or uri,
        )

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _settings(home: Path | str | None, overrides: dict[str, object]) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if home is not None:
        values["home"] = Path(home)
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(_settings_problems(error)) from None


def _settings_problems(error: ValidationError) -> str:
    """Each refused setting named as the environment sets it, with what is wrong (never its
    value: a password or a database URL would end up in a log)."""
    problems = []
    for problem in error.errors():
        name = ".".join(map(str, problem["loc"]))
        reason = problem["msg"].removeprefix("Value error, ")
        problems.append(f"TRUTHLOOP_{name.upper()} ({name}): {reason}")
    return "settings not valid: " + "; ".join(problems)
