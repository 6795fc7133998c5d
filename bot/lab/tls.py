"""TLS for the lab's emulated FMC REST API: one self-signed certificate per lab host.

A real FMC serves its REST API with a self-signed certificate out of the box, so a
client must be told whom to trust (``rest.ca_file``) or explicitly told not to check
(``rest.insecure_skip_verify``). Each lab host gets its own self-signed certificate
(EC P-256: generated in well under a millisecond, so a 500-host lab starts as fast as
before) with its loopback address as subject alternative name and a distinct subject,
so that a bundle of every host's certificate works as one ``ca_file``.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bot.errors import LabError

LIFETIME = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class LabTlsIdentity:
    """A lab host's REST certificate and key, as PEM files on disk."""

    cert_pem: str
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context serving this certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_tls_identity(name: str, host: str, directory: Path, *, now: datetime) -> LabTlsIdentity:
    """A self-signed certificate for lab host ``name`` at ``host``, written to ``directory``.

    Valid from a day before ``now`` for :data:`LIFETIME`; ``host`` is its IP address SAN
    (a name SAN when it is not an address).
    """
    if now.tzinfo is None:
        raise LabError("the lab clock `now` must be timezone-aware (UTC)")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fmccert lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} REST API"),
        ]
    )
    try:
        alt_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt_name = x509.DNSName(host)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + LIFETIME)
        .add_extension(x509.SubjectAlternativeName([alt_name]), critical=False)
        # Self-signed and used as its own trust anchor: a CA as far as OpenSSL is concerned.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    cert_file = directory / "rest-cert.pem"
    key_file = directory / "rest-key.pem"
    cert_file.write_text(cert_pem, encoding="ascii")
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return LabTlsIdentity(cert_pem=cert_pem, cert_file=cert_file, key_file=key_file)
