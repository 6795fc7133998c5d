"""Alembic environment: runs on the connection that ``open_store`` hands over.

At runtime ``bot.storage.sql`` builds the Alembic config in code and puts a live
(sync-facing) connection in ``config.attributes["connection"]``; no alembic.ini is read.
For authoring a revision by hand, ``sqlalchemy.url`` may be set on the config instead
(a synchronous driver URL, e.g. ``sqlite:///dev.db``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from bot.storage.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode recreates tables in later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the given connection, or one made from ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url set")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
