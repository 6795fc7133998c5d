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


def _talos_pem(common_name: str) -> str:
    from datetime import timedelta

    from bot.lab.certs import make_talos_certificate

    return make_talos_certificate(
        common_name=common_name, not_after=NOT_AFTER, lifetime=timedelta(days=425)
    )


def test_invalid_utf8_subject_keeps_dates_and_issuer() -> None:
    """A subject CN that is not UTF-8 shows replacement characters; dates and issuer stay."""
    from bot.lab.certs import undecodable_subject_pem

    pem = undecodable_subject_pem(_talos_pem("BADNAME-prod-01"), "BADNAME-prod-01")
    with pytest.raises(ValueError, match="subject"):
        x509.load_pem_x509_certificate(pem.encode()).subject  # noqa: B018 (what used to escape)
    facts = parse_certificate(pem)
    assert facts.not_after == NOT_AFTER
    assert (
        facts.subject == "O=Cisco Systems Inc.,ST=California,C=US,CN=\ufffd\ufffd\ufffd(BADNAME-pro"
    )
    assert facts.issuer == (
        "CN=Keymaster CA 2,OU=Security,O=Cisco Systems Inc.,L=San Jose,ST=California,C=US"
    )


def test_names_with_control_characters_are_printable() -> None:
    """An escape sequence or newline inside a subject never reaches the facts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil\x1b[2K\rok\nrow")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(key, hashes.SHA256())
    )
    facts = parse_certificate(cert.public_bytes(serialization.Encoding.PEM))
    assert facts.subject == facts.issuer == "CN=evil ok row"


def _der(tag: int, body: bytes) -> bytes:
    assert len(body) < 128
    return bytes([tag, len(body)]) + body


def _name(*attributes: tuple[str, int, bytes]) -> bytes:
    oids = {
        "CN": bytes.fromhex("550403"),
        "C": bytes.fromhex("550406"),
        "O": bytes.fromhex("55040a"),
    }
    rdns = b"".join(
        _der(0x31, _der(0x30, _der(0x06, oids[key]) + _der(tag, value)))
        for key, tag, value in attributes
    )
    return _der(0x30, rdns)


@pytest.mark.parametrize(
    ("der", "text"),
    [
        # CN as a BMPString with an odd byte count: the last byte cannot decode.
        (_name(("CN", 0x1E, b"\x00A\x00")), "CN=A\ufffd"),
        # C as a PrintableString, then O as a TeletexString holding latin-1 and specials.
        (_name(("C", 0x13, b"US"), ("O", 0x14, b"\xe9,+")), "O=\u00e9\\,\\+,C=US"),
        # CN whose value is an INTEGER: no text at all, shown as hex.
        (_name(("CN", 0x02, b"\xff")), "CN=#0201ff"),
        # Not a Name at all, and a Name cut short.
        (bytes.fromhex("0201ff"), "#0201ff"),
        (bytes.fromhex("3005310330"), "#3005310330"),
    ],
)
def test_render_name_der_never_raises(der: bytes, text: str) -> None:
    """Odd string types, bad bytes and non-strings render with U+FFFD or hex, never an error."""
    from bot.core.certificate import render_name_der

    assert render_name_der(der) == text


def test_render_name_der_matches_cryptography_on_good_names() -> None:
    """For a name cryptography can read, the fallback renders the same RFC 4514 text."""
    from bot.core.certificate import render_name_der
    from bot.lab.certs import TALOS_ISSUER

    assert render_name_der(TALOS_ISSUER.public_bytes()) == TALOS_ISSUER.rfc4514_string()
