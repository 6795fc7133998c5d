"""Check one FMC over SSH: log in, go to expert mode, read versions and the Talos certificate.

The steps follow docs/fmc-facts.md: detect CLISH ``>`` vs bash after the banner,
``expert`` only from ``>``, read ``/etc/sf`` files, ``sudo cat`` the certificate
(answering ``Password:`` once, never retrying), then ``exit`` back out. Every expected
failure becomes an :class:`ErrorInfo` in the returned outcome; :func:`probe_fmc` raises
nothing a caller must handle.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncssh

from bot.core.certificate import CertificateFacts, parse_certificate
from bot.core.findings import ErrorInfo, FmcFacts, ProbeOutcome
from bot.core.fmc_files import parse_ims_conf, parse_model_conf, parse_sf_version, parse_vdb_conf
from bot.core.peer_text import MESSAGE_LIMIT, cut_with_note, sanitize_peer_text
from bot.errors import (
    CertificateInvalidError,
    CertificateMissingError,
    ProbeError,
    ProtocolError,
    StepTimeoutError,
)
from bot.fmc.connection import (
    close_connection,
    connect_fmc,
    enter_expert,
    leave_shell,
    open_terminal,
    run_sudo_aware,
)
from bot.fmc.prompts import PromptKind, command_output, join_reads, split_reads
from bot.fmc.prompts import says_no_such_file as _says_no_such_file
from bot.fmc.session import FmcShell
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.secrets import redact

logger = logging.getLogger("bot.fmc")

IMS_CONF = "/etc/sf/ims.conf"
SF_VERSION = "/etc/sf/sf-version"
VDB_CONF = "/etc/sf/.versiondb/vdb.conf"
MODEL_CONF = "/etc/sf/model.conf"
VERSION_FILES = (IMS_CONF, SF_VERSION, VDB_CONF, MODEL_CONF)


@dataclass(slots=True)
class _Progress:
    """What the probe learned so far; survives a failure half-way."""

    version: str | None = None
    build: str | None = None
    model: str | None = None
    vdb_build: int | None = None
    certificate: CertificateFacts | None = None
    shell: FmcShell | None = None
    conn: asyncssh.SSHClientConnection | None = None
    deferred: list[ProbeError] = field(default_factory=list)

    def facts(self) -> FmcFacts:
        return FmcFacts(
            version=self.version,
            build=self.build,
            model=self.model,
            vdb_build=self.vdb_build,
            certificate=self.certificate,
        )


async def probe_fmc(
    target: ProbeTarget, timeouts: ProbeTimeouts, *, clock: Callable[[], datetime]
) -> ProbeOutcome:
    """Probe one FMC; every expected failure is returned in ``outcome.error``, never raised."""
    checked_at = clock()
    progress = _Progress()
    error: ProbeError | None = None
    try:
        async with asyncio.timeout(timeouts.host):
            await _probe(target, timeouts, progress)
    except ProbeError as exc:
        error = exc
    except TimeoutError:
        error = StepTimeoutError(
            f"the whole check took longer than {timeouts.host:g} s", step="host"
        )
    finally:
        await close_connection(progress.conn)
    if error is None and progress.deferred:
        error = progress.deferred[0]
    info = None
    if error is not None:
        # Peer-chosen text may sit in any message: one printable line, whatever it holds.
        message = redact(sanitize_peer_text(error.message), [target.password])
        message = cut_with_note(message, MESSAGE_LIMIT)  # an FMC can say a lot
        info = ErrorInfo(kind=error.kind, message=message, step=error.step)
        logger.info("fmc %s: %s (%s)", target.name, error.kind, message)
    transcript = progress.shell.transcript if progress.shell else ""
    return ProbeOutcome(
        checked_at=checked_at, facts=progress.facts(), error=info, transcript=transcript
    )


async def _probe(target: ProbeTarget, timeouts: ProbeTimeouts, progress: _Progress) -> None:
    progress.conn = await connect_fmc(target, timeouts)
    shell = progress.shell = await open_terminal(progress.conn, target, timeouts)
    via_expert = await enter_expert(shell)
    await _read_versions(shell, progress)
    try:
        await _read_certificate(shell, target, progress)
    except (CertificateMissingError, CertificateInvalidError) as exc:
        # The session is still healthy: report after leaving cleanly.
        progress.deferred.append(exc)
    await leave_shell(shell, via_expert, timeouts)


async def _read_file(shell: FmcShell, path: str, step: str) -> str:
    return await _run_in_shell(shell, f"cat {shlex.quote(path)}", step)


async def _run_in_shell(shell: FmcShell, command: str, step: str) -> str:
    result = await shell.run(command, step)
    if result.prompt is not PromptKind.SHELL:
        raise ProtocolError(f"{step} did not end at the shell prompt", step=step)
    return command_output(result.text, command)


async def _read_versions(shell: FmcShell, progress: _Progress) -> None:
    # One command line reads all four files (a prompt round trip per file is what makes a
    # fleet scan slow); if the shell does not split them as asked, read them one by one.
    command = join_reads(VERSION_FILES)
    sections = split_reads(await _run_in_shell(shell, command, "read versions"), VERSION_FILES)
    if sections is None:
        logger.debug("fmc %s: combined read not understood, reading one by one", shell.fmc)
        sections = [await _read_file(shell, path, f"read {path}") for path in VERSION_FILES]
    ims, sf_version, vdb, model = sections
    # Older or trimmed images have no ims.conf: only the one-line product string.
    release = parse_ims_conf(ims) or parse_sf_version(sf_version)
    if release is not None:
        progress.version, progress.build = release.version, release.build
    progress.vdb_build = parse_vdb_conf(vdb)
    progress.model = parse_model_conf(model)


async def _read_certificate(shell: FmcShell, target: ProbeTarget, progress: _Progress) -> None:
    command = f"sudo cat {shlex.quote(target.cert_path)}"
    output = await run_sudo_aware(shell, target, command, step="sudo")
    if _says_no_such_file(output):
        raise CertificateMissingError(
            f"the Talos certificate {target.cert_path} does not exist", step="certificate"
        )
    try:
        progress.certificate = parse_certificate(output)
    except CertificateInvalidError:
        raise CertificateInvalidError(
            f"{target.cert_path} holds no valid PEM certificate", step="certificate"
        ) from None
