"""What the message-builder tests share: sample inputs and the checks every message passes."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from slack_sdk.models.blocks import Block

from bot.core.certificate import CertificateFacts
from bot.core.devices import DeviceKind
from bot.core.expiry import Thresholds
from bot.core.findings import (
    ErrorInfo,
    Finding,
    FmcFacts,
    ProbeOutcome,
    assess_outcome,
    finding_to_json,
)
from bot.slack.blocks.kit import Message
from bot.slack.ids import APPROVE_ACTION, DENY_ACTION
from bot.storage.records import StoredFinding

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
HOSTILE = "<!channel> fmc & <@U999> <https://evil.example|click>"
BIG = ("boom & <!here> " * 700)[:10_240]  # 10 KB of hostile error text
_TOKEN = re.compile(r"<@[UW][A-Z0-9]+>")
_ENTITY = re.compile(r"&(amp|lt|gt);")


def make_finding(
    name: str = "fmc-east",
    *,
    days: float | None = 5,
    version: str | None = "7.6.0",
    vdb: int | None = 400,
    error: ErrorInfo | None = None,
    host: str = "10.0.0.1",
) -> Finding:
    """A finding assessed by the real rules, from a certificate ``days`` from NOW."""
    cert = None
    if days is not None:
        cert = CertificateFacts(
            not_before=NOW - timedelta(days=365),
            not_after=NOW + timedelta(days=days),
            serial="0A1B",
            subject="CN=fmc",
            issuer="CN=Talos",
            sha256_fingerprint="AA:BB",
        )
    facts = FmcFacts(version=version, build="123", model="FMC", vdb_build=vdb, certificate=cert)
    outcome = ProbeOutcome(checked_at=NOW, facts=facts, error=error)
    return assess_outcome(name, host, outcome, Thresholds(), NOW)


def texts_in(node: Any) -> Iterator[tuple[str, str]]:
    """Every (type, text) text object inside a block dict."""
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield node["type"], node["text"]
        for value in node.values():
            yield from texts_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from texts_in(value)


def assert_valid(message: Message) -> None:
    """Assert the message passes Slack's offline checks and our stricter bounds."""
    assert isinstance(message, Message)
    assert 0 < len(message.text) <= 3000
    assert 0 < len(message.blocks) <= 50
    json.dumps(message.as_kwargs())
    for data in message.blocks:
        block = Block.parse(data)
        assert block is not None, data
        again = block.to_dict()  # raises SlackObjectFormationError over a limit
        assert again["type"] == data["type"]
        if data["type"] == "section":
            if "text" in data:
                assert len(data["text"]["text"]) <= 3000
            for field in data.get("fields", []):
                assert len(field["text"]) <= 2000
            assert len(data.get("fields", [])) <= 10
        if data["type"] == "header":
            assert len(data["text"]["text"]) <= 150
        for kind, text in texts_in(data):
            assert text, data
            if kind == "mrkdwn":
                assert "&" not in _ENTITY.sub("", text), text
                assert "<" not in _TOKEN.sub("", text), text
                assert ">" not in _TOKEN.sub("", text), text
            else:
                assert "<" not in text, text
                assert ">" not in text, text
    blocks_json = json.dumps(message.blocks)
    assert "<!channel>" not in blocks_json
    assert "<!here>" not in blocks_json
    assert "<!channel>" not in message.text
    assert "<!here>" not in message.text


def blocks_of(message: Message, kind: str) -> list[dict[str, Any]]:
    return [block for block in message.blocks if block["type"] == kind]


def all_text(message: Message) -> str:
    return "\n".join(text for block in message.blocks for _, text in texts_in(block))


def buttons_of(message: Message) -> list[dict[str, Any]]:
    (actions,) = blocks_of(message, "actions")
    return cast(list[dict[str, Any]], actions["elements"])


def assert_decision_buttons(message: Message, approval_id: int, approve_text: str) -> None:
    approve, deny = buttons_of(message)
    assert approve["text"]["text"] == approve_text
    assert approve["text"]["text"].startswith("Approve")
    assert approve["style"] == "primary"
    assert approve["action_id"] == APPROVE_ACTION
    assert approve["value"] == f"approval:{approval_id}"
    assert "Snort" in approve["confirm"]["text"]["text"]
    assert deny["text"]["text"].startswith("Deny")
    assert deny["style"] == "danger"
    assert deny["action_id"] == DENY_ACTION
    assert deny["value"] == f"approval:{approval_id}"


def make_stored(finding: Finding, index: int) -> StoredFinding:
    return StoredFinding(
        id=index,
        fmc=finding.name,
        checked_at=finding.checked_at - timedelta(hours=index),
        status=finding.status.value,
        scan_id="s1",
        data=finding_to_json(finding),
        not_after=finding.facts.certificate.not_after if finding.facts.certificate else None,
    )


def make_ftd(name: str = "fw-branch", **changes: Any) -> Finding:
    return dataclasses.replace(make_finding(name, **changes), kind=DeviceKind.FTD)
