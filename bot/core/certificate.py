"""Parse the FMC's Talos client certificate into plain facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bot.errors import CertificateInvalidError

_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """What fmccert needs to know about one X.509 certificate (all datetimes UTC)."""

    not_before: datetime
    not_after: datetime
    serial: str  # upper-case hex, as `openssl x509 -serial` prints it
    subject: str  # RFC 4514
    issuer: str  # RFC 4514
    sha256_fingerprint: str  # upper-case hex pairs joined by ':'


def parse_certificate(pem: str | bytes) -> CertificateFacts:
    """Parse the first PEM certificate in ``pem``; raise CertificateInvalidError otherwise."""
    data = pem.encode("utf-8", "replace") if isinstance(pem, str) else pem
    start = data.find(_PEM_BEGIN)
    if start < 0:
        raise CertificateInvalidError("no PEM certificate block in the file")
    try:
        cert = x509.load_pem_x509_certificate(data[start:])
    except ValueError as exc:
        raise CertificateInvalidError(f"the PEM block is not a valid certificate ({exc})") from None
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return CertificateFacts(
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=format(cert.serial_number, "X"),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sha256_fingerprint=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
    )
