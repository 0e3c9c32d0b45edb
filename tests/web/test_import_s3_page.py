"""The import page takes an `s3://` prefix in its server path field, as a folder on the server:
queued, read by the background worker, its images stored with their `s3://` URIs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.datasets.test_s3_prefix_import import EXPECTED, make_bucket, stored
from tests.web.portal import Portal, browser_sign_in, seed
from truthloop.datasets import queued
from truthloop.storage.project import Project

pytestmark = [pytest.mark.s3, pytest.mark.browser]


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    return make_bucket(s3_endpoint)


@pytest.fixture
def portal(tmp_path: Path, s3_endpoint: str, bucket: str) -> Iterator[Portal]:
    """The portal tests/web/conftest.py serves (`live`, `page`), on a project allowed the
    bucket's pets/ prefix."""
    with Project.init(
        tmp_path / "home", s3_endpoint_url=s3_endpoint, allowed_s3_prefixes=(f"s3://{bucket}",)
    ) as project:
        yield seed(project)


def test_the_import_page_takes_a_prefix_in_its_server_path_field(
    portal: Portal, page: Page, bucket: str
) -> None:
    browser_sign_in(page, "mia")
    page.goto("/datasets/import")
    page.check("input[name=source][value=folder]")
    page.fill("input[name=dataset_name]", "remote")
    page.select_option("select[name=format]", "folders")
    page.fill("input[name=folder]", f"s3://{bucket}/pets/")
    page.click("#import-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/datasets/import\?import=\d+$"))
    queued.run_next(portal.project)
    expect(page.locator("#import-status")).to_have_text("done")
    expect(page.locator("#items-stored")).to_have_text("4")
    assert set(stored(portal.project, "remote")) == {
        f"s3://{bucket}/pets/{key}" for key in EXPECTED
    }
