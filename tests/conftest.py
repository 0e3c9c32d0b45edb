from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import postgres_database, s3_server
from truthloop.storage.project import Project

# Credentials for the loopback S3 server only; never real ones.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _var in ("TRUTHLOOP_HOME", "TRUTHLOOP_DATABASE_URL", "TRUTHLOOP_BLOB_URL",
             "TRUTHLOOP_ALLOWED_ROOTS", "TRUTHLOOP_ALLOWED_S3_PREFIXES",
             "TRUTHLOOP_S3_ENDPOINT_URL", "TRUTHLOOP_BASE_URL", "TRUTHLOOP_TRUSTED_PROXIES"):
    os.environ.pop(_var, None)
# Tests train tiny models on tiny data, where the scratch backbone takes seconds; those of the
# pretrained one (the default a user gets) name it, in tests/ml/test_efficientnet.py and
# tests/ml/test_pretrained_models.py.
os.environ["TRUTHLOOP_BACKBONE"] = "scratch"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`scripts/test` runs two workers on two cores) torch trains on one
    thread per worker: two threads each would oversubscribe the cores. torch is imported only
    then: it takes over a second, which a serial run of a few tests need not pay."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        try:
            import torch
        except ImportError:
            return
        torch.set_num_threads(1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'truthloop.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Iterator[Project]:
    with Project.init(tmp_path / "home", database_url=database_url) as p:
        yield p


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Iterator[Project]:
    with Project.init(tmp_path / "home") as p:
        yield p


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as url:
        yield url
