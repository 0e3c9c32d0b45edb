"""The database: one engine per project, SQLite (WAL) by default or PostgreSQL, always migrated
to the newest schema with Alembic before use.

SQLite transactions are begun by us, not by pysqlite (SQLAlchemy's documented pysqlite recipe:
the driver in autocommit mode, BEGIN emitted from engine events), in two ways:

- `Database.session(immediate=True)` begins with `BEGIN IMMEDIATE`: the transaction holds the
  write lock from its first read, so what it read cannot change before it writes. Task leases and
  submits need exactly this, and pysqlite's own handling cannot give it.
- Any other transaction begins just before its first write (reads before that see the latest
  data, each on its own). This is what pysqlite did, and it matters: a transaction begun before
  its reads could not take the write lock once another writer had committed after those reads
  (SQLite answers "database is locked" at once, without waiting), which would make every
  read-then-write request fail under concurrent load.

Immediate transactions of one process also queue on a Python lock before they ask SQLite for
the write lock. SQLite's own wait for a busy database is a sleep-and-retry loop (sleeps of up to
100 ms, however soon the lock frees), so without it a burst of concurrent leases and submits
wastes most of its time asleep; a lock in the process hands over the moment the writer commits.
That is also why a SQLite project is served by one process (see `truthloop serve`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from truthloop.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def json_text(value: object) -> str:
    """JSON as the database stores it (orjson: fast, and exact for floats)."""
    return orjson.dumps(value).decode()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the portal) go on while a writer (an import) works; a busy writer waits
    # instead of failing; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_SQLITE_BEGIN = "sqlite_begin"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def _sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(_SQLITE_BEGIN) == "IMMEDIATE":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_at_first_write(
    connection: Connection, cursor, statement: str, *_args
) -> None:
    dbapi_connection = connection.connection.dbapi_connection
    if (
        dbapi_connection is not None
        and not dbapi_connection.in_transaction
        and statement.lstrip()[:8].upper().startswith(_WRITES)
    ):
        cursor.execute("BEGIN IMMEDIATE")


# The connections one process keeps to PostgreSQL: one for each request it can run at once. The
# server runs its synchronous endpoints on anyio's worker threads, 40 of them by default, and a
# connection returned to a full pool is closed: with a pool smaller than that, a loaded server
# opened and closed a connection for most requests (982 new sessions in one benchmark run). A few
# more, opened only while needed, serve the background worker and start-up beside a full load.
REQUEST_THREADS = 40
POOL_OVERFLOW = 5


def create_db_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        # psycopg 3, not psycopg2, is the driver this project installs.
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, object] = {"json_serializer": json_text, "json_deserializer": orjson.loads}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {
            "check_same_thread": False,
            "timeout": 30,
            "isolation_level": None,
        }
    elif parsed.get_backend_name() == "postgresql":
        # No ping before each use of a pooled connection: it is a round trip on every request,
        # a tenth of a lease's. A connection the server dropped (a restart) fails the one
        # statement that meets it, unacknowledged; SQLAlchemy then renews the whole pool.
        kwargs.update(pool_size=REQUEST_THREADS, max_overflow=POOL_OVERFLOW)
    else:
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
        )
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _sqlite_begin_at_first_write)
    return engine


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # alembic (with mako, pygments) only when it migrates

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def _newest_migration() -> str | None:
    """The head revision, read from the migration files as alembic would find it: the one no
    other names as its `down_revision`. None when the files are not one plain line of history
    (alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[!_]*.py"):
        source = path.read_text(encoding="utf-8")
        revision = re.findall(r'^revision\b[^=]*=\s*"([^"]+)"\s*$', source, re.MULTILINE)
        down = re.findall(r'^down_revision\b[^=]*=\s*(.*)$', source, re.MULTILINE)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        parents.update(re.findall(r'"([^"]+)"', down[0]))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


class Database:
    """An engine, a session factory and the schema migrations of one project."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_db_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writer: AbstractContextManager[object] = (
            threading.Lock() if self.dialect == "sqlite" else nullcontext()
        )
        # Shares the engine's pool; a connection is set back to transactions when returned.
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        if revision == "head" and self._at_head():
            return  # the usual case, told without importing alembic (a command starts faster)
        from alembic import command

        with self.engine.begin() as connection:
            config = alembic_config(self.engine)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def downgrade(self, revision: str) -> None:
        from alembic import command

        with self.engine.begin() as connection:
            config = alembic_config(self.engine)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(alembic_config(self.engine)).get_current_head()

    def _at_head(self) -> bool:
        """Whether the database already holds the newest revision of the migration files."""
        head = _newest_migration()
        if head is None:
            return False
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            stored = connection.execute(text("SELECT version_num FROM alembic_version"))
            return stored.scalars().all() == [head]

    @contextmanager
    def session(self, *, immediate: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error.

        `immediate` takes SQLite's write lock when the transaction begins, so a transaction that
        reads and then writes (a lease, a submit) never sees the data change under it; writers
        queue up for the lock instead (first on the process's own lock, see the module
        docstring). PostgreSQL needs no such thing (row locks do the job).
        """
        writer = self._writer if immediate else nullcontext()
        with writer, self.sessions() as session, session.begin():
            if immediate and self.dialect == "sqlite":
                session.connection(execution_options={_SQLITE_BEGIN: "IMMEDIATE"})
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for a few reads outside any transaction: each statement sees the latest
        committed data. On PostgreSQL this saves the BEGIN and COMMIT round trips of a request
        that only looks something up (who a token belongs to); a write in it commits at once.
        SQLite reads never begin a transaction (see the module docstring), so there it is an
        ordinary session.
        """
        if self.dialect != "postgresql":
            with self.session() as session:
                yield session
            return
        with Session(self._autocommit, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
