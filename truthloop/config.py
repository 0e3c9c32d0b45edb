"""Every setting truthloop reads, with the environment variable that sets it.

| setting          | environment                   | default                                   |
| ---------------- | ----------------------------- | ----------------------------------------- |
| home             | TRUTHLOOP_HOME                | ./truthloop-home                          |
| database_url     | TRUTHLOOP_DATABASE_URL        | sqlite:///<home>/truthloop.db (WAL)       |
| blob_url         | TRUTHLOOP_BLOB_URL            | <home>/blobs (any fsspec URL, e.g. s3://) |
| s3_endpoint_url  | TRUTHLOOP_S3_ENDPOINT_URL     | AWS's endpoint (set it for MinIO, moto)   |
| allowed_roots    | TRUTHLOOP_ALLOWED_ROOTS       | none beyond the manifest folder and home  |
| max_image_pixels | TRUTHLOOP_MAX_IMAGE_PIXELS    | 64 megapixels (decompression-bomb guard)  |
| max_image_bytes  | TRUTHLOOP_MAX_IMAGE_BYTES     | 50 MB                                     |
| max_request_bytes| TRUTHLOOP_MAX_REQUEST_BYTES   | 10 MB (larger portal/API bodies get 413)  |
| secret_key       | TRUTHLOOP_SECRET_KEY          | random, kept in <home>/secret_key         |
| https_only       | TRUTHLOOP_HTTPS_ONLY          | false (true: session cookie over HTTPS)   |
| smtp_host        | TRUTHLOOP_SMTP_HOST           | none: invitation links are only printed   |
| smtp_port        | TRUTHLOOP_SMTP_PORT           | 587                                       |
| smtp_username    | TRUTHLOOP_SMTP_USERNAME       | none (no login)                           |
| smtp_password    | TRUTHLOOP_SMTP_PASSWORD       | none                                      |
| smtp_sender      | TRUTHLOOP_SMTP_SENDER         | truthloop@localhost                       |
| smtp_starttls    | TRUTHLOOP_SMTP_STARTTLS       | true                                      |
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRUTHLOOP_", extra="ignore")

    home: Path = Path("truthloop-home")
    database_url: str | None = None
    blob_url: str | None = None
    s3_endpoint_url: str | None = None
    allowed_roots: Annotated[tuple[Path, ...], NoDecode] = ()
    max_image_pixels: int = 64_000_000
    max_image_bytes: int = 50_000_000
    max_request_bytes: int = 10_000_000
    secret_key: str | None = None
    https_only: bool = False
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "truthloop@localhost"
    smtp_starttls: bool = True

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        # One variable holds several folders, separated like PATH.
        if isinstance(value, str):
            return tuple(Path(p) for p in value.split(os.pathsep) if p)
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home.resolve() / 'truthloop.db'}"

    @property
    def resolved_blob_url(self) -> str:
        return self.blob_url or str(self.home.resolve() / "blobs")
