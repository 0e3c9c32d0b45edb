"""Storage: every table (SQLAlchemy + Alembic) and every blob path (fsspec)."""
