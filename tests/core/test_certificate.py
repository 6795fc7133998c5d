"""Tests of parsing the Talos client certificate into facts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.core.certificate import parse_certificate
from bot.errors import CertificateInvalidError

NOT_BEFORE = datetime(2024, 1, 30, 12, 0, tzinfo=UTC)
NOT_AFTER = datetime(2025, 3, 30, 12, 0, tzinfo=UTC)


def _pem(serial: int = 0x1A2B3C) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cisco Systems Inc."),
            x509.NameAttribute(NameOID.COMMON_NAME, "Keymaster CA 2"),
        ]
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SFW76EVAL-prod-01")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_parse_reads_validity_serial_names_and_fingerprint() -> None:
    """A PEM certificate yields UTC validity, hex serial, RFC 4514 names and a SHA-256."""
    facts = parse_certificate(_pem())
    assert facts.not_before == NOT_BEFORE
    assert facts.not_after == NOT_AFTER
    assert facts.not_after.tzinfo is not None
    assert facts.serial == "1A2B3C"
    assert facts.subject == "CN=SFW76EVAL-prod-01"
    assert facts.issuer == "CN=Keymaster CA 2,O=Cisco Systems Inc.,C=US"
    assert len(facts.sha256_fingerprint.split(":")) == 32


def test_parse_skips_text_before_the_pem_block() -> None:
    """Output with noise before BEGIN CERTIFICATE (e.g. a shell echo) still parses."""
    text = "admin@firepower:~$ sudo cat x.pem\n" + _pem().decode()
    assert parse_certificate(text).serial == "1A2B3C"


@pytest.mark.parametrize(
    "content",
    [
        "",
        "cat: /var/sf/beaker3/x.pem: No such file or directory",
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    ],
)
def test_parse_rejects_what_is_not_a_certificate(content: str) -> None:
    """Empty, error text and a corrupt PEM body are cert_invalid, never healthy."""
    with pytest.raises(CertificateInvalidError) as caught:
        parse_certificate(content)
    assert caught.value.kind == "cert_invalid"


def test_parse_rejects_truncated_pem() -> None:
    """A PEM cut in the middle (e.g. a broken transfer) is cert_invalid."""
    pem = _pem()
    with pytest.raises(CertificateInvalidError):
        parse_certificate(pem[: len(pem) // 2])
