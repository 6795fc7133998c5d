"""Tests of host keys trusted from the CLI: each decision is audited."""

from __future__ import annotations

from bot.operations import Operations
from bot.storage.sql import SqlStore


async def test_a_trusted_key_is_audited_as_added_or_replaced(
    operations: Operations, store: SqlStore
) -> None:
    """record_trusted_key writes trust.added, or trust.replaced for a changed key."""
    await operations.record_trusted_key("fmc-east", "SHA256:one", replaced=False, actor="cli:al")
    await operations.record_trusted_key("fmc-east", "SHA256:two", replaced=True, actor="cli:al")

    entries = list(reversed(await store.audit_log("fmc-east")))
    assert [(e.actor, e.action, e.detail) for e in entries] == [
        ("cli:al", "trust.added", {"fingerprint": "SHA256:one"}),
        ("cli:al", "trust.replaced", {"fingerprint": "SHA256:two"}),
    ]
