"""Opening a project whose database is at the newest revision needs no alembic (it is slow to
import); any other database is migrated by alembic as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from truthloop.storage.db import Database, _newest_migration
from truthloop.storage.project import Project


def test_the_newest_migration_read_from_the_files_is_alembics_head(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert _newest_migration() == db.head_revision()
    db.dispose()


def test_an_old_database_is_still_migrated(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.upgrade("0001")
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    db.dispose()


def test_opening_a_project_at_the_newest_revision_imports_no_alembic(tmp_path: Path) -> None:
    Project.init(tmp_path / "home").close()
    code = (
        "import sys; from truthloop.storage.project import Project; "
        f"Project.open({str(tmp_path / 'home')!r}).close(); "
        "print('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
