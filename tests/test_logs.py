"""Structured logs: JSON lines with context fields, a human format, and no secret ever."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.lab.slack.workspace import StoredMessage
from bot.logs import bound, configure_logging, register_secret
from bot.secrets import REDACTED, Secret
from tests.support.slack_fixtures import (  # noqa: F401 (fixtures)
    CHANNEL,
    SiteFactory,
    site_factory,
    standin,
)


class _Tty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger's handlers and level back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_context_fields_null_when_unset() -> None:
    """Each JSON line has time, level, logger, message and fmc/scan_id/request_id."""
    stream = io.StringIO()
    configure_logging(verbose=True, stream=stream)  # not a terminal: JSON
    log = logging.getLogger("bot.test")
    log.info("outside")
    with bound(fmc="fmc-1", scan_id="abc123"), bound(request_id="req-9"):
        log.warning("inside %d", 2)
    first, second = _lines(stream)
    assert first["message"] == "outside"
    assert (first["fmc"], first["scan_id"], first["request_id"]) == (None, None, None)
    assert second["message"] == "inside 2"
    assert second["level"] == "warning"
    assert second["logger"] == "bot.test"
    assert (second["fmc"], second["scan_id"], second["request_id"]) == (
        "fmc-1",
        "abc123",
        "req-9",
    )
    assert second["time"].endswith("+00:00")


@pytest.mark.usefixtures("restore_logging")
def test_terminal_gets_the_human_format() -> None:
    """On a terminal the line is plain text with the context in brackets."""
    stream = _Tty()
    configure_logging(verbose=False, stream=stream)
    with bound(fmc="fmc-2"):
        logging.getLogger("bot.test").warning("careful")
    line = stream.getvalue().strip()
    assert "WARNING bot.test [fmc=fmc-2]: careful" in line
    assert not line.startswith("{")


@pytest.mark.usefixtures("restore_logging")
def test_registered_secrets_are_masked_in_messages_and_tracebacks() -> None:
    """A registered secret never appears, whether in the message, its args or exception text."""
    register_secret(Secret("hunter2-password"))
    register_secret("xoxb-very-secret-token")
    stream = io.StringIO()
    configure_logging(verbose=True, stream=stream, json=True)
    log = logging.getLogger("bot.test")
    log.info("login with %s", "hunter2-password")
    try:
        raise RuntimeError("token xoxb-very-secret-token refused")
    except RuntimeError:
        log.exception("call failed")
    text = stream.getvalue()
    assert "hunter2-password" not in text
    assert "xoxb-very-secret-token" not in text
    lines = _lines(stream)
    assert lines[0]["message"] == f"login with {REDACTED}"
    assert REDACTED in lines[1]["exc"]


@pytest.mark.usefixtures("restore_logging")
def test_values_shorter_than_six_characters_are_not_masked_in_logs() -> None:
    """Registering "admin" leaves "admin@fmc" readable; a 6-character secret is masked."""
    register_secret(Secret("admin"))
    register_secret("Xq7!zk")
    stream = io.StringIO()
    configure_logging(verbose=True, stream=stream, json=True)
    logging.getLogger("bot.test").info("login as admin@fmc-east with Xq7!zk")
    (line,) = _lines(stream)
    assert line["message"] == f"login as admin@fmc-east with {REDACTED}"


@pytest.mark.usefixtures("restore_logging")
async def test_bot_logs_label_scans_and_requests_and_hide_secrets(
    site_factory: SiteFactory,  # noqa: F811
) -> None:
    """A Slack-commanded scan logs fmc/scan_id and request_id; no password or token leaks."""
    stream = io.StringIO()
    configure_logging(verbose=True, stream=stream, json=True)
    site = await site_factory()
    bot = await site.start_bot()
    status, _, _ = await site.command(bot, "scan")
    assert status == 200

    def parent() -> StoredMessage | None:
        return next((m for m in site.standin.messages(CHANNEL) if "need attention" in m.text), None)

    await site.standin.wait_for(parent, timeout=30)
    await bot.tasks.wait_idle(30)
    text = stream.getvalue()
    lines = _lines(stream)
    password = site.config().fmcs[0].target.password.reveal()
    assert password
    assert password not in text
    assert "xoxb-test" not in text
    for line in lines:
        assert {"time", "level", "logger", "message", "fmc", "scan_id", "request_id"} <= set(line)
    names = set(site.names().values())
    probes = [line for line in lines if line["logger"] == "bot.scan" and line["fmc"] in names]
    assert {line["fmc"] for line in probes} == names
    assert all(line["scan_id"] for line in probes)
    assert len({line["scan_id"] for line in probes}) == 1
    assert all(line["request_id"] for line in probes)  # the command that started the scan
    recorded = [line for line in lines if line["message"].startswith("scan recorded")]
    assert recorded
    assert recorded[0]["scan_id"] == probes[0]["scan_id"]
