"""Secrets: a Secret never shows itself, and redaction masks real secrets but not words."""

from __future__ import annotations

from bot.secrets import MIN_MASKED_LENGTH, REDACTED, Secret, redact


def test_secret_never_shows_in_repr_or_str() -> None:
    """repr() and str() of a Secret show the mask, reveal() the value."""
    secret = Secret("Pw-0f-the-Lab!x7")
    assert "Pw-0f" not in repr(secret) + str(secret)
    assert secret.reveal() == "Pw-0f-the-Lab!x7"


def test_short_values_are_not_masked_in_ordinary_text() -> None:
    """A 5-character password such as "admin" leaves the words it matches as they are."""
    text = "Last login: admin from 10.0.0.1\nadmin@fmc-east:~$ sudo cat cert.pem"
    assert MIN_MASKED_LENGTH == 6
    assert redact(text, [Secret("admin"), "fmc"]) == text


def test_secrets_of_six_characters_or_more_are_masked_everywhere() -> None:
    """A 6-character secret and a longer one are masked at every occurrence, longest first."""
    text = "typed s3cr3t, then s3cr3t-and-more; s3cr3t again"
    masked = redact(text, [Secret("s3cr3t"), "s3cr3t-and-more"])
    assert masked == f"typed {REDACTED}, then {REDACTED}; {REDACTED} again"
    assert "s3cr3t" not in masked
