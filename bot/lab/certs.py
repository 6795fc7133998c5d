"""Talos client certificates like the FMC's, and openssl-style renderings of them.

The issuer and subject copy the field notice's sample (``CN = Keymaster CA 2`` issuing
``CN = <host>-prod-01``, RSA 2048, sha256WithRSAEncryption). RSA key generation takes
tens of milliseconds, so one CA key and one leaf key are made per process and reused:
a 500-host lab signs 500 certificates in well under a second.
"""

from __future__ import annotations

import base64
import functools
import secrets
import textwrap
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bot.errors import LabError

TALOS_ISSUER = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "California"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "San Jose"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cisco Systems Inc."),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Security"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Keymaster CA 2"),
    ]
)
"""The issuer of real FMC Talos client certificates, in DER (openssl display) order."""

_OPENSSL_NAME_KEYS = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
}


@functools.cache
def _ca_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _leaf_key() -> rsa.RSAPrivateKey:
    # One leaf key for every lab certificate: only the dates and names differ per FMC.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def talos_subject(common_name: str) -> x509.Name:
    """The subject of an FMC Talos certificate: ``CN=<cn>, C=US, ST=California, O=Cisco...``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "California"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cisco Systems Inc."),
        ]
    )


def make_talos_certificate(
    *, common_name: str, not_after: datetime, lifetime: timedelta = timedelta(days=425)
) -> str:
    """A PEM Talos client certificate valid from ``not_after - lifetime`` to ``not_after``."""
    if not_after.tzinfo is None:
        raise LabError("certificate dates must be timezone-aware (UTC)")
    if lifetime <= timedelta(0):
        raise LabError(f"certificate lifetime must be positive, not {lifetime}")
    if not common_name:
        raise LabError("certificate common name must not be empty")
    # X.509 validity has whole-second resolution; drop microseconds so PEM and text agree.
    not_after = not_after.astimezone(UTC).replace(microsecond=0)
    leaf = _leaf_key()
    ca = _ca_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(talos_subject(common_name))
        .issuer_name(TALOS_ISSUER)
        .public_key(leaf.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(not_after - lifetime)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False
        )
        .sign(ca, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _load(pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii", "replace"))
    except ValueError as exc:
        raise LabError(f"not a PEM certificate: {exc}") from None


def openssl_date(moment: datetime) -> str:
    """A date as openssl prints it: ``Mar 30 12:00:00 2025 GMT`` (day padded with a space)."""
    moment = moment.astimezone(UTC)
    return f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S} {moment.year} GMT"


def openssl_name(name: x509.Name) -> str:
    """A distinguished name as openssl 3 prints it: ``C = US, ST = California, ...``."""
    parts = []
    for attribute in name:
        key = _OPENSSL_NAME_KEYS.get(attribute.oid, attribute.oid.dotted_string)
        parts.append(f"{key} = {attribute.value!s}")
    return ", ".join(parts)


def _hex_lines(data: bytes, indent: int, per_line: int) -> str:
    pairs = [f"{byte:02x}" for byte in data]
    rows = [":".join(pairs[i : i + per_line]) for i in range(0, len(pairs), per_line)]
    pad = " " * indent
    return ":\n".join(pad + row for row in rows)


def _serial_bytes(serial: int) -> bytes:
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")


def render_openssl_text(pem: str) -> str:
    """Imitate ``openssl x509 -text -noout`` for a lab certificate (RSA, sha256)."""
    cert = _load(pem)
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise LabError("the lab only renders RSA certificates")
    numbers = public.public_numbers()
    modulus = b"\x00" + numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    aki_hex = (aki.key_identifier or b"").hex(":").upper()
    lines = [
        "Certificate:",
        "    Data:",
        "        Version: 3 (0x2)",
        "        Serial Number:",
        _hex_lines(_serial_bytes(cert.serial_number), 12, 20),
        "        Signature Algorithm: sha256WithRSAEncryption",
        f"        Issuer: {openssl_name(cert.issuer)}",
        "        Validity",
        f"            Not Before: {openssl_date(cert.not_valid_before_utc)}",
        f"            Not After : {openssl_date(cert.not_valid_after_utc)}",
        f"        Subject: {openssl_name(cert.subject)}",
        "        Subject Public Key Info:",
        "            Public Key Algorithm: rsaEncryption",
        f"                Public-Key: ({public.key_size} bit)",
        "                Modulus:",
        _hex_lines(modulus, 20, 15),
        f"                Exponent: {numbers.e} ({numbers.e:#x})",
        "        X509v3 extensions:",
        "            X509v3 Basic Constraints: critical",
        "                CA:FALSE",
        "            X509v3 Key Usage: critical",
        "                Digital Signature, Key Encipherment",
        "            X509v3 Extended Key Usage: ",
        "                TLS Web Client Authentication",
        "            X509v3 Subject Key Identifier: ",
        f"                {ski.hex(':').upper()}",
        "            X509v3 Authority Key Identifier: ",
        f"                {aki_hex}",
        "    Signature Algorithm: sha256WithRSAEncryption",
        "    Signature Value:",
        _hex_lines(cert.signature, 8, 18),
    ]
    return "\n".join(lines) + "\n"


def render_openssl_enddate(pem: str) -> str:
    """Imitate ``openssl x509 -noout -enddate``: ``notAfter=Mar 30 12:00:00 2025 GMT``."""
    return f"notAfter={openssl_date(_load(pem).not_valid_after_utc)}\n"


def render_openssl_startdate(pem: str) -> str:
    """Imitate ``openssl x509 -noout -startdate``: ``notBefore=...``."""
    return f"notBefore={openssl_date(_load(pem).not_valid_before_utc)}\n"


def render_openssl_fields(pem: str) -> dict[str, str]:
    """Every one-line openssl x509 print option (subject, issuer, serial, dates) by name."""
    cert = _load(pem)
    return {
        "subject": f"subject={openssl_name(cert.subject)}\n",
        "issuer": f"issuer={openssl_name(cert.issuer)}\n",
        "serial": f"serial={cert.serial_number:X}\n",
        "startdate": render_openssl_startdate(pem),
        "enddate": render_openssl_enddate(pem),
        "text": render_openssl_text(pem),
    }


def corrupt_pem(pem: str) -> str:
    """A PEM whose base64 body is broken: it looks like a certificate but does not parse."""
    body = "".join(pem.strip().splitlines()[1:-1])
    broken = body[:64] + "!!not-base64!!" + body[200:300]
    wrapped = "\n".join(textwrap.wrap(broken, 64))
    return f"-----BEGIN CERTIFICATE-----\n{wrapped}\n-----END CERTIFICATE-----\n"


def undecodable_subject_pem(pem: str, common_name: str) -> str:
    """``pem`` with its subject CN (a UTF8String) overwritten by bytes that are not UTF-8.

    The length stays, so the DER still parses; only the signature no longer matches, which
    a reader of the dates never checks. ``common_name`` must occur once in the DER, and
    in the subject only (not the issuer).
    """
    cert = _load(pem)
    der = cert.public_bytes(serialization.Encoding.DER)
    encoded = common_name.encode("utf-8")
    if der.count(encoded) != 1 or len(encoded) < 4:
        raise LabError(f"common name {common_name!r} must occur once in the certificate")
    bad = (b"\xff\xfe\xc3(" + encoded)[: len(encoded)]
    patched = der.replace(encoded, bad)
    body = "\n".join(textwrap.wrap(base64.b64encode(patched).decode("ascii"), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
