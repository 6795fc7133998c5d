"""Parse the FMC's Talos client certificate into plain facts.

The certificate comes from the FMC, so its names are peer-chosen text: a name the
``cryptography`` library cannot decode (invalid UTF-8 in a UTF8String, an odd string
type) is rendered by :func:`render_name_der` from the raw DER instead, with replacement
characters or hex, and every name is stripped of control characters. A bad name never
loses the dates, and a certificate that cannot be read at all is a
CertificateInvalidError, never another exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bot.core.peer_text import sanitize_peer_text
from bot.errors import CertificateInvalidError

_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
# A name longer than this is cut: nobody reads it, and it must not flood a message.
NAME_LIMIT = 1024

# DER tags used below.
_SEQUENCE, _SET, _OID = 0x30, 0x31, 0x06
_EXPLICIT_VERSION = 0xA0
# RFC 4514 short names, as cryptography prints them.
_SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "STREET",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
}
# String types and how their bytes become text (bad bytes replaced, never an error).
_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x12: "ascii",  # NumericString
    0x13: "ascii",  # PrintableString
    0x14: "latin-1",  # TeletexString (T.61; latin-1 is the common reading)
    0x16: "ascii",  # IA5String
    0x1A: "ascii",  # VisibleString
    0x1C: "utf-32-be",  # UniversalString
    0x1E: "utf-16-be",  # BMPString
}
_RFC4514_SPECIAL = {",", "+", '"', "\\", "<", ">", ";", "="}


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """What fmccert needs to know about one X.509 certificate (all datetimes UTC)."""

    not_before: datetime
    not_after: datetime
    serial: str  # upper-case hex, as `openssl x509 -serial` prints it
    subject: str  # RFC 4514, printable (see render_name_der for undecodable names)
    issuer: str  # RFC 4514, printable
    sha256_fingerprint: str  # upper-case hex pairs joined by ':'


def parse_certificate(pem: str | bytes) -> CertificateFacts:
    """Parse the first PEM certificate in ``pem``; raise CertificateInvalidError otherwise."""
    data = pem.encode("utf-8", "replace") if isinstance(pem, str) else pem
    start = data.find(_PEM_BEGIN)
    if start < 0:
        raise CertificateInvalidError("no PEM certificate block in the file")
    try:
        cert = x509.load_pem_x509_certificate(data[start:])
        digest = cert.fingerprint(hashes.SHA256()).hex().upper()
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        serial = format(cert.serial_number, "X")
    except ValueError as exc:
        raise CertificateInvalidError(f"the PEM block is not a valid certificate ({exc})") from None
    subject_der, issuer_der = _name_ders(cert)
    return CertificateFacts(
        not_before=not_before,
        not_after=not_after,
        serial=serial,
        subject=_name_text(lambda: cert.subject, subject_der),
        issuer=_name_text(lambda: cert.issuer, issuer_der),
        sha256_fingerprint=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
    )


def _name_text(read: Callable[[], x509.Name], der: bytes | None) -> str:
    try:
        text = read().rfc4514_string()
    except ValueError:  # cryptography decodes names lazily and refuses bad strings
        text = render_name_der(der) if der is not None else "(unreadable name)"
    return sanitize_peer_text(text, limit=NAME_LIMIT)


def _name_ders(cert: x509.Certificate) -> tuple[bytes | None, bytes | None]:
    """The raw DER of the subject and issuer names, read from the TBS certificate."""
    try:
        tbs = cert.tbs_certificate_bytes
        tag, body, _ = _tlv(tbs, 0)
        if tag != _SEQUENCE:
            return None, None
        fields = list(_children(body))
        if fields and fields[0][0] == _EXPLICIT_VERSION:
            fields = fields[1:]
        # serial, signature algorithm, issuer, validity, subject
        issuer, subject = fields[2], fields[4]
    except (ValueError, IndexError):
        return None, None
    return subject[2], issuer[2]


def render_name_der(der: bytes) -> str:
    """An RFC 4514-like string for a DER Name, whatever its strings hold; never raises.

    Undecodable bytes become U+FFFD; a value of a type that is not a string is ``#hex``.
    """
    try:
        tag, body, _ = _tlv(der, 0)
        if tag != _SEQUENCE:
            return "#" + der.hex()
        rdns: list[str] = []
        for rdn_tag, rdn_body, _ in _children(body):
            if rdn_tag != _SET:
                raise ValueError("not a relative distinguished name")
            parts = []
            for _, atv, _ in _children(rdn_body):
                (oid_tag, oid, _), (value_tag, value, value_der) = list(_children(atv))[:2]
                if oid_tag != _OID:
                    raise ValueError("attribute type is not an OID")
                dotted = _dotted_oid(oid)
                parts.append(
                    f"{_SHORT_NAMES.get(dotted, dotted)}={_value(value_tag, value, value_der)}"
                )
            rdns.append("+".join(parts))
        return ",".join(reversed(rdns))
    except (ValueError, IndexError):
        return "#" + der.hex()


def _value(tag: int, value: bytes, der: bytes) -> str:
    codec = _STRING_CODECS.get(tag)
    if codec is None:
        return "#" + der.hex()
    text = value.decode(codec, "replace")
    escaped = "".join(f"\\{ch}" if ch in _RFC4514_SPECIAL else ch for ch in text)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    return escaped


def _dotted_oid(body: bytes) -> str:
    if not body:
        raise ValueError("empty OID")
    arcs: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def _tlv(data: bytes, offset: int) -> tuple[int, bytes, bytes]:
    """(tag, contents, whole element) of the DER element at ``offset``; ValueError if cut."""
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers do not occur in names")
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("DER element runs past its container")
    return tag, data[start:end], data[offset:end]


def _children(body: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    offset = 0
    while offset < len(body):
        tag, contents, whole = _tlv(body, offset)
        yield tag, contents, whole
        offset += len(whole)
