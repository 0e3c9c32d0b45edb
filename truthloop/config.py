"""Every setting truthloop reads, with the environment variable that sets it.

| setting          | environment                   | default                                   |
| ---------------- | ----------------------------- | ----------------------------------------- |
| home             | TRUTHLOOP_HOME                | ./truthloop-home                          |
| database_url     | TRUTHLOOP_DATABASE_URL        | sqlite:///<home>/truthloop.db (WAL)       |
| blob_url         | TRUTHLOOP_BLOB_URL            | <home>/blobs (any fsspec URL, e.g. s3://) |
| s3_endpoint_url  | TRUTHLOOP_S3_ENDPOINT_URL     | AWS's endpoint (set it for MinIO, moto)   |
| allowed_roots    | TRUTHLOOP_ALLOWED_ROOTS       | none beyond the manifest folder and home  |
| allowed_s3_prefixes | TRUTHLOOP_ALLOWED_S3_PREFIXES | none: no s3:// prefix may be imported  |
| max_image_pixels | TRUTHLOOP_MAX_IMAGE_PIXELS    | 64 megapixels (decompression-bomb guard)  |
| max_image_bytes  | TRUTHLOOP_MAX_IMAGE_BYTES     | 50 MB                                     |
| max_request_bytes| TRUTHLOOP_MAX_REQUEST_BYTES   | 10 MB (larger portal/API bodies get 413)  |
| max_upload_bytes | TRUTHLOOP_MAX_UPLOAD_BYTES    | 4 GB (a dataset import's upload; 413 over)|
| secret_key       | TRUTHLOOP_SECRET_KEY          | random, kept in <home>/secret_key         |
| https_only       | TRUTHLOOP_HTTPS_ONLY          | false (true: session cookie over HTTPS)   |
| base_url         | TRUTHLOOP_BASE_URL            | http://127.0.0.1:8000 (invitation links)  |
| trusted_proxies  | TRUTHLOOP_TRUSTED_PROXIES     | none: the client is the socket's peer     |
| smtp_host        | TRUTHLOOP_SMTP_HOST           | none: invitation links are only printed   |
| smtp_port        | TRUTHLOOP_SMTP_PORT           | 587                                       |
| smtp_username    | TRUTHLOOP_SMTP_USERNAME       | none (no login)                           |
| smtp_password    | TRUTHLOOP_SMTP_PASSWORD       | none                                      |
| smtp_sender      | TRUTHLOOP_SMTP_SENDER         | truthloop@localhost                       |
| smtp_starttls    | TRUTHLOOP_SMTP_STARTTLS       | true                                      |
| backbone         | TRUTHLOOP_BACKBONE            | efficientnet-lite0 where installed        |
| queue_url        | TRUTHLOOP_QUEUE_URL           | <home>/queue.db (SQLite); or redis://...  |

`backbone` is what the built-in models are built on unless a training names one:
`efficientnet-lite0` (ImageNet-pretrained; its weights install with truthloop), `-lite1`,
`-lite2` (where their weights packages are installed), or `scratch` (a small net trained from
nothing: faster on logos and on tiny test data, far worse on photographs).

Invitation links are built from `base_url` alone, never from a request's Host header (which
whoever sends the request chooses): set it to the address people reach the portal at.
`queue_url` is where the background workers' task queue (huey) lives: a SQLite file in the
home by default, which the worker processes of one host share; a `redis://` URL lets workers on
several hosts share it.

`allowed_s3_prefixes` is a comma-separated list of `s3://bucket/prefix` values a dataset may be
imported from (`dataset import NAME s3://bucket/prefix --format folders`, or the same URI as the
API's or import page's server path); a source is allowed when it lies inside one of them,
folder by folder.

`trusted_proxies` is a comma-separated list of addresses or networks (`127.0.0.1,10.0.0.0/8`)
of reverse proxies whose `X-Forwarded-For` is believed; the sign-in throttle counts failures
per client address, and behind an untrusted proxy every client would share the proxy's.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from truthloop.core.image_limits import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS

# Where `truthloop serve` listens unless told otherwise: the one address an invitation link can
# name without being told which.
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRUTHLOOP_", extra="ignore")

    home: Path = Path("truthloop-home")
    database_url: str | None = None
    blob_url: str | None = None
    s3_endpoint_url: str | None = None
    allowed_roots: Annotated[tuple[Path, ...], NoDecode] = ()
    allowed_s3_prefixes: Annotated[tuple[str, ...], NoDecode] = ()
    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_image_bytes: int = MAX_IMAGE_BYTES
    max_request_bytes: int = 10_000_000
    max_upload_bytes: int = 4_000_000_000
    secret_key: str | None = None
    https_only: bool = False
    base_url: str = DEFAULT_BASE_URL
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "truthloop@localhost"
    smtp_starttls: bool = True
    backbone: str | None = None
    queue_url: str | None = None

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        # One variable holds several folders, separated like PATH.
        if isinstance(value, str):
            return tuple(Path(p) for p in value.split(os.pathsep) if p)
        return value

    @field_validator("allowed_s3_prefixes", mode="before")
    @classmethod
    def _split_s3_prefixes(cls, value: Any) -> object:
        names = value.split(",") if isinstance(value, str) else value
        prefixes = tuple(str(p).strip() for p in names if str(p).strip())
        # Checked here, so a typo fails at start-up rather than allowing nothing in silence.
        for prefix in prefixes:
            if not prefix.startswith("s3://") or not prefix[5:].strip("/"):
                raise ValueError(f"{prefix!r} is not an s3://bucket/prefix")
        return prefixes

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or any(c in value for c in " \r\n"):
            raise ValueError(f"{value!r} is not an http:// or https:// address of the portal")
        return value.rstrip("/")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> object:
        names = value.split(",") if isinstance(value, str) else value
        # Checked here, so a typo fails at start-up instead of trusting nobody in silence.
        return tuple(
            str(ipaddress.ip_network(str(p).strip(), strict=False))
            for p in names
            if str(p).strip()
        )

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p) for p in self.trusted_proxies)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home.resolve() / 'truthloop.db'}"

    @property
    def resolved_blob_url(self) -> str:
        return self.blob_url or str(self.home.resolve() / "blobs")
