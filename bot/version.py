"""What `fmccert --version` says: the package version and the schema this build migrates to.

The schema revision is the head of the Alembic migrations shipped in
``bot/storage/migrations``, read with the same Alembic config ``open_store`` migrates with,
so the number printed is the one a store opened by this build ends at. It is computed
when asked (Alembic and SQLAlchemy are imported then, not at every start of the CLI).
"""

from __future__ import annotations

from bot import __version__


def schema_head() -> str:
    """The Alembic head revision of the shipped migrations, e.g. ``"0006"``.

    Several heads would be a packaging bug (the store would refuse to upgrade); they are
    shown joined with ``+`` rather than hidden.
    """
    from alembic.script import ScriptDirectory

    from bot.storage.sql import alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if not heads:
        raise RuntimeError("no Alembic revision is shipped in bot/storage/migrations")
    return "+".join(sorted(heads))


def version_text() -> str:
    """``fmccert 0.1.0 (schema 0006)``."""
    return f"fmccert {__version__} (schema {schema_head()})"
