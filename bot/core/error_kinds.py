"""Why an FMC could not be checked: the ``error.kind`` of the JSON contract."""

from __future__ import annotations

import enum


class ErrorKind(enum.StrEnum):
    """The kind of a failed check; the values are the JSON contract's and are stored."""

    UNREACHABLE = "unreachable"  # no TCP/SSH (or HTTPS) connection
    AUTH = "auth"  # login refused, or sudo refused the password
    HOST_KEY = "host_key"  # unknown or changed SSH host key
    TIMEOUT = "timeout"  # a step took longer than allowed
    CERT_MISSING = "cert_missing"  # no certificate file
    CERT_INVALID = "cert_invalid"  # the file is not a certificate
    PROTOCOL = "protocol"  # the FMC said something we do not understand
    CONFIG = "config"  # a per-FMC setting makes the check impossible
