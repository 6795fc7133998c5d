"""Talos-like certificates and their openssl renderings."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.core.certificate import parse_certificate
from bot.errors import CertificateInvalidError, LabError
from bot.lab.certs import (
    corrupt_pem,
    make_talos_certificate,
    openssl_date,
    render_openssl_enddate,
    render_openssl_text,
)

NOT_AFTER = datetime(2025, 3, 30, 12, 0, tzinfo=UTC)
ISSUER_RFC4514 = "CN=Keymaster CA 2,OU=Security,O=Cisco Systems Inc.,L=San Jose,ST=California,C=US"


def test_certificate_names_copy_the_real_talos_certificate() -> None:
    """Issuer is Keymaster CA 2 as on a real FMC; the subject carries the common name."""
    facts = parse_certificate(
        make_talos_certificate(common_name="SFW76EVAL-prod-01", not_after=NOT_AFTER)
    )
    assert facts.issuer == ISSUER_RFC4514
    assert facts.subject == "O=Cisco Systems Inc.,ST=California,C=US,CN=SFW76EVAL-prod-01"


def test_validity_ends_at_not_after_and_spans_the_lifetime() -> None:
    """The certificate expires at ``not_after`` and starts ``lifetime`` before it."""
    pem = make_talos_certificate(
        common_name="x-prod-01", not_after=NOT_AFTER, lifetime=timedelta(days=30)
    )
    facts = parse_certificate(pem)
    assert facts.not_after == NOT_AFTER
    assert facts.not_before == NOT_AFTER - timedelta(days=30)
    default = parse_certificate(make_talos_certificate(common_name="y", not_after=NOT_AFTER))
    assert default.not_after - default.not_before == timedelta(days=425)


def test_key_is_rsa_2048_signed_with_sha256() -> None:
    """Like the real one: an RSA 2048 key and a sha256WithRSAEncryption signature."""
    cert = x509.load_pem_x509_certificate(
        make_talos_certificate(common_name="z", not_after=NOT_AFTER).encode()
    )
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256


def test_hundreds_of_certificates_are_fast() -> None:
    """Keys are cached, so 300 certificates take well under a few seconds."""
    make_talos_certificate(common_name="warm-up", not_after=NOT_AFTER)
    started = time.monotonic()
    serials = {
        parse_certificate(make_talos_certificate(common_name=f"h{i}", not_after=NOT_AFTER)).serial
        for i in range(300)
    }
    assert time.monotonic() - started < 3.0
    assert len(serials) == 300


def test_openssl_dates_pad_the_day_with_a_space() -> None:
    """Dates render as openssl does: ``Mar  3 09:05:00 2025 GMT``."""
    assert openssl_date(datetime(2025, 3, 3, 9, 5, tzinfo=UTC)) == "Mar  3 09:05:00 2025 GMT"
    assert openssl_date(NOT_AFTER) == "Mar 30 12:00:00 2025 GMT"


def test_renderings_show_the_fields_openssl_prints() -> None:
    """The -text rendering has version, issuer, validity, subject and key; -enddate one line."""
    pem = make_talos_certificate(common_name="SFW76EVAL-prod-01", not_after=NOT_AFTER)
    text = render_openssl_text(pem)
    assert "        Version: 3 (0x2)\n" in text
    assert "        Signature Algorithm: sha256WithRSAEncryption\n" in text
    assert (
        "        Issuer: C = US, ST = California, L = San Jose, O = Cisco Systems Inc., "
        "OU = Security, CN = Keymaster CA 2\n"
    ) in text
    assert "            Not Before: Jan 30 12:00:00 2024 GMT\n" in text
    assert "            Not After : Mar 30 12:00:00 2025 GMT\n" in text
    assert (
        "        Subject: CN = SFW76EVAL-prod-01, C = US, ST = California, O = Cisco Systems Inc.\n"
    ) in text
    assert "                Public-Key: (2048 bit)\n" in text
    assert render_openssl_enddate(pem) == "notAfter=Mar 30 12:00:00 2025 GMT\n"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary to compare with")
def test_text_rendering_matches_real_openssl_header(tmp_path: Path) -> None:
    """Up to the public key, our -text rendering is line for line what openssl prints."""
    pem = make_talos_certificate(common_name="cmp-prod-01", not_after=NOT_AFTER)
    (tmp_path / "c.pem").write_text(pem)
    real = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "c.pem"), "-text", "-noout"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    head = real.split("                Modulus:")[0]
    assert render_openssl_text(pem).startswith(head)
    enddate = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "c.pem"), "-enddate", "-noout"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert render_openssl_enddate(pem) == enddate


def test_corrupt_pem_looks_like_a_certificate_but_does_not_parse() -> None:
    """The corrupt-certificate scenario's file has PEM markers yet is no certificate."""
    broken = corrupt_pem(make_talos_certificate(common_name="c", not_after=NOT_AFTER))
    assert broken.startswith("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(CertificateInvalidError):
        parse_certificate(broken)


def test_bad_inputs_are_lab_errors() -> None:
    """A naive datetime, a non-positive lifetime or an empty name raise LabError."""
    with pytest.raises(LabError, match="timezone"):
        make_talos_certificate(common_name="n", not_after=datetime(2025, 1, 1))
    with pytest.raises(LabError, match="lifetime"):
        make_talos_certificate(common_name="n", not_after=NOT_AFTER, lifetime=timedelta(0))
    with pytest.raises(LabError, match="common name"):
        make_talos_certificate(common_name="", not_after=NOT_AFTER)
    with pytest.raises(LabError):
        render_openssl_enddate("not a pem")
