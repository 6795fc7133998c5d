"""Logging for fmccert: JSON lines for machines, a short format for people, never a secret.

Every line carries three context fields, ``fmc``, ``scan_id`` and ``request_id``, read from
context variables (``None`` when unset). Asyncio tasks copy the context they are created
in, so binding a field around a scan, a probe or a Slack delivery labels everything that
work logs, including tasks it spawns.

Secrets (FMC passwords, Slack tokens) are registered once at the composition root with
:func:`register_secret`; the handler's filter masks them in the message and in exception
text, and the formatters mask the finished line again.
"""

from __future__ import annotations

import contextlib
import contextvars
import json as jsonlib
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

from bot.secrets import MIN_MASKED_LENGTH, Secret, redact

FMC: contextvars.ContextVar[str | None] = contextvars.ContextVar("fmc", default=None)
SCAN_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("scan_id", default=None)
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
CONTEXT_FIELDS = ("fmc", "scan_id", "request_id")
_VARS = {"fmc": FMC, "scan_id": SCAN_ID, "request_id": REQUEST_ID}

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: Secret | str | None) -> None:
    """Mask ``value`` in every log line from now on.

    Values shorter than ``MIN_MASKED_LENGTH`` are ignored: masking them would mangle
    ordinary words (see :mod:`bot.secrets`).
    """
    raw = value.reveal() if isinstance(value, Secret) else value
    if raw and len(raw) >= MIN_MASKED_LENGTH:
        with _secrets_lock:
            _secrets.add(raw)


def mask_secrets(text: str) -> str:
    """``text`` with every registered secret replaced by a mask (longest first)."""
    with _secrets_lock:
        secrets = list(_secrets)
    return redact(text, secrets)


@contextlib.contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Set context fields (``fmc``, ``scan_id``, ``request_id``) for the enclosed code."""
    tokens = []
    for name, value in fields.items():
        tokens.append((_VARS[name], _VARS[name].set(value)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Adds the context fields to a record (an explicit ``extra={"fmc": ...}`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _VARS.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class SecretFilter(logging.Filter):
    """Masks registered secrets in a record's message and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, masked
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask_secrets(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            line[name] = getattr(record, name, None)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return mask_secrets(jsonlib.dumps(line, default=str, ensure_ascii=False))


class HumanFormatter(logging.Formatter):
    """``time LEVEL logger [fmc=… scan=… req=…]: message`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(where)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        labels = (("fmc", "fmc"), ("scan_id", "scan"), ("request_id", "req"))
        parts = [
            f"{short}={value}" for name, short in labels if (value := getattr(record, name, None))
        ]
        record.where = f" [{' '.join(parts)}]" if parts else ""
        return mask_secrets(super().format(record))


class _FmccertHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs (and replaces on a second call)."""


def configure_logging(
    *, verbose: bool, stream: IO[str] | None = None, json: bool | None = None
) -> logging.Handler:
    """Log to ``stream`` (stderr): JSON lines unless it is a terminal; returns the handler.

    ``json`` forces either format. Calling it again replaces the handler it installed.
    """
    stream = sys.stderr if stream is None else stream
    if json is None:
        isatty = getattr(stream, "isatty", None)
        json = not (callable(isatty) and isatty())
    handler = _FmccertHandler(stream)
    handler.addFilter(ContextFilter())
    handler.addFilter(SecretFilter())
    handler.setFormatter(JsonFormatter() if json else HumanFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _FmccertHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    return handler
