"""A password that never shows itself, and redaction of text that might hold one."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "********"
# Shorter values are not masked in text: a lab password such as "admin" would turn every
# "admin" (the user name, the prompt "admin@fmc:~$") into the mask. Such a password is still
# never shown where fmccert itself types it, and never in a repr; only an FMC printing the
# same characters back can show it. No Slack token or real password is this short.
MIN_MASKED_LENGTH = 6


class Secret:
    """Holds a secret string; ``repr`` and ``str`` never reveal it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must type it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact(text: str, secrets: Iterable[Secret | str]) -> str:
    """Replace every occurrence of each secret in ``text`` with a mask, the longest first.

    Values shorter than ``MIN_MASKED_LENGTH`` are left alone (they would mangle words).
    """
    values = {secret.reveal() if isinstance(secret, Secret) else secret for secret in secrets}
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= MIN_MASKED_LENGTH:
            text = text.replace(value, REDACTED)
    return text
