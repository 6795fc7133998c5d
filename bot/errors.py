"""The one error tree of fmccert.

Expected failures are subclasses of :class:`FmccertError`: they carry a short message
that is safe to show a user (never a password) and structured fields. Anything else
that escapes is a bug and is reported as such, with a traceback in the log only::

    FmccertError                 expected, user-facing
    ├── ConfigError              the config file or environment is wrong (exit 3)
    ├── UsageError               the command line asks for something that is not there (exit 3)
    ├── ProbeError               checking one FMC failed; ``kind`` is its ErrorKind (JSON)
    │   ├── UnreachableError     kind "unreachable": no TCP/SSH connection
    │   ├── AuthError            kind "auth": login refused, or sudo refused the password
    │   ├── HostKeyError         kind "host_key": unknown or changed host key
    │   ├── StepTimeoutError     kind "timeout": a step took longer than allowed
    │   ├── CertificateMissingError  kind "cert_missing": no certificate file
    │   ├── CertificateInvalidError  kind "cert_invalid": the file is not a certificate
    │   ├── ProbeConfigError     kind "config": a per-FMC setting makes the check impossible
    │   └── ProtocolError        kind "protocol": the FMC said something we do not understand
    ├── RemediationError         a fix cannot be planned or started
    │   ├── RemediationBusyError another remediation of the same FMC holds the lock
    │   └── NothingToDoError     the FMC is healthy: its certificate was already renewed
    ├── StorageError             the database cannot be opened, migrated or written
    ├── SlackError               Slack's Web API refused or failed a call
    └── LabError                 the emulated FMC lab could not start
"""

from __future__ import annotations

from typing import ClassVar

from bot.core.error_kinds import ErrorKind


class FmccertError(Exception):
    """Root of every expected fmccert failure; ``str()`` is safe to show users."""


class ConfigError(FmccertError):
    """The configuration (file or environment) is invalid."""


class UsageError(FmccertError):
    """The command line names something that does not exist or is malformed."""


class LabError(FmccertError):
    """The emulated FMC lab could not be started or configured."""


class RemediationError(FmccertError):
    """A fix cannot be planned or started (no package configured, action not offered...)."""


class RemediationBusyError(RemediationError):
    """Another remediation of this FMC is running; ``holder`` says whose."""

    def __init__(self, message: str, *, fmc: str, holder: str, run_id: int):
        super().__init__(message)
        self.fmc = fmc
        self.holder = holder
        self.run_id = run_id


class NothingToDoError(RemediationError):
    """The FMC needs no fix: its certificate is healthy (the message says until when)."""


class StorageError(FmccertError):
    """The database cannot be opened, migrated or written."""


class SlackError(FmccertError):
    """Slack's Web API refused or failed a call (after the client's own retries).

    ``error`` is Slack's error code (``message_not_found``, ``is_archived``...) when Slack
    answered, else None (a timeout, a refused connection).
    """

    def __init__(self, message: str, *, error: str | None = None):
        super().__init__(message)
        self.error = error


class ProbeError(FmccertError):
    """Checking one FMC failed; ``kind`` is the error kind of the JSON contract."""

    kind: ClassVar[ErrorKind] = ErrorKind.PROTOCOL

    def __init__(self, message: str, *, fmc: str | None = None, step: str | None = None):
        super().__init__(message)
        self.message = message
        self.fmc = fmc
        self.step = step


class UnreachableError(ProbeError):
    """No SSH connection could be made (refused, no route, connect timeout)."""

    kind = ErrorKind.UNREACHABLE


class AuthError(ProbeError):
    """The FMC refused the login or sudo refused the password."""

    kind = ErrorKind.AUTH


class HostKeyError(ProbeError):
    """The FMC's host key is not in known_hosts, or differs from it."""

    kind = ErrorKind.HOST_KEY


class StepTimeoutError(ProbeError):
    """A step (login, expert, sudo, a command, the whole host) ran out of time."""

    kind = ErrorKind.TIMEOUT


class CertificateMissingError(ProbeError):
    """The Talos client certificate file does not exist on the FMC."""

    kind = ErrorKind.CERT_MISSING


class CertificateInvalidError(ProbeError):
    """The certificate file exists but holds no parseable X.509 certificate."""

    kind = ErrorKind.CERT_INVALID


class ProtocolError(ProbeError):
    """The FMC's output did not match what an FMC says (no prompt, garbage, lost link)."""

    kind = ErrorKind.PROTOCOL


class ProbeConfigError(ProbeError):
    """A per-FMC setting makes the check impossible (e.g. unreadable known_hosts)."""

    kind = ErrorKind.CONFIG
