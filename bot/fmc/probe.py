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
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncssh

from bot.core.certificate import CertificateFacts, parse_certificate
from bot.core.findings import ErrorInfo, FmcFacts, ProbeOutcome
from bot.core.fmc_files import parse_ims_conf, parse_model_conf, parse_sf_version, parse_vdb_conf
from bot.errors import (
    AuthError,
    CertificateInvalidError,
    CertificateMissingError,
    HostKeyError,
    ProbeError,
    ProtocolError,
    StepTimeoutError,
    UnreachableError,
)
from bot.fmc.known_hosts import has_key_for, load_known_hosts
from bot.fmc.prompts import (
    PromptKind,
    SudoOutcome,
    classify_sudo,
    command_output,
    join_reads,
    split_reads,
)
from bot.fmc.prompts import says_no_such_file as _says_no_such_file
from bot.fmc.session import FmcShell
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.secrets import REDACTED, redact

logger = logging.getLogger("bot.fmc")

IMS_CONF = "/etc/sf/ims.conf"
SF_VERSION = "/etc/sf/sf-version"
VDB_CONF = "/etc/sf/.versiondb/vdb.conf"
MODEL_CONF = "/etc/sf/model.conf"
VERSION_FILES = (IMS_CONF, SF_VERSION, VDB_CONF, MODEL_CONF)
# A tall, wide terminal so the FMC never wraps or pages our short commands.
TERM_TYPE = "vt100"
TERM_SIZE = (200, 50)
# Leaving is courtesy: never let a slow goodbye hold up the result.
EXIT_WAIT = 1.0


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
        await _close(progress.conn)
    if error is None and progress.deferred:
        error = progress.deferred[0]
    info = None
    if error is not None:
        message = redact(error.message, [target.password])
        info = ErrorInfo(kind=error.kind, message=message, step=error.step)
        logger.info("fmc %s: %s (%s)", target.name, error.kind, message)
    transcript = progress.shell.transcript if progress.shell else ""
    return ProbeOutcome(
        checked_at=checked_at, facts=progress.facts(), error=info, transcript=transcript
    )


async def _close(conn: asyncssh.SSHClientConnection | None) -> None:
    if conn is None:
        return
    conn.close()
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        return  # the caller cancelled us: close() already dropped the link
    try:
        async with asyncio.timeout(EXIT_WAIT):
            await conn.wait_closed()
    except TimeoutError:
        conn.abort()


async def _probe(target: ProbeTarget, timeouts: ProbeTimeouts, progress: _Progress) -> None:
    conn = progress.conn = await _connect(target, timeouts)
    try:
        async with asyncio.timeout(timeouts.command):
            process = await conn.create_process(
                term_type=TERM_TYPE, term_size=TERM_SIZE, encoding=None, stderr=asyncssh.STDOUT
            )
    except TimeoutError:
        raise StepTimeoutError(
            f"opening a terminal took longer than {timeouts.command:g} s", step="session"
        ) from None
    except (asyncssh.Error, OSError) as exc:
        raise ProtocolError(f"the FMC refused a terminal session ({exc})", step="session") from None
    shell = progress.shell = FmcShell(
        process, fmc=target.name, step_timeout=timeouts.command, secrets=[target.password]
    )

    landed = await shell.wait_for_prompt("login")
    via_expert = landed.prompt is PromptKind.CLISH
    if via_expert:
        if (await shell.run("expert", "expert")).prompt is not PromptKind.SHELL:
            raise ProtocolError("`expert` did not lead to a shell prompt", step="expert")
    elif landed.prompt is not PromptKind.SHELL:
        raise ProtocolError("the login ended at an unexpected password prompt", step="login")

    await _read_versions(shell, progress)
    try:
        await _read_certificate(shell, target, progress)
    except (CertificateMissingError, CertificateInvalidError) as exc:
        # The session is still healthy: report after leaving cleanly.
        progress.deferred.append(exc)
    await _leave(shell, via_expert, timeouts)


async def _connect(target: ProbeTarget, timeouts: ProbeTimeouts) -> asyncssh.SSHClientConnection:
    known = load_known_hosts(target.known_hosts, target.name)
    where = f"{target.host}:{target.port}"
    logger.debug("fmc %s: connecting to %s", target.name, where)
    try:
        async with asyncio.timeout(timeouts.connect):
            return await asyncssh.connect(
                target.host,
                target.port,
                username=target.username,
                password=target.password.reveal(),
                known_hosts=known,
                client_keys=None,  # FMC admins log in with the password only
                agent_path=None,
                config=None,  # ~/.ssh/config must not change what a check does
                gss_host=None,
                preferred_auth=("password", "keyboard-interactive"),
                connect_timeout=timeouts.connect,
            )
    except TimeoutError:
        raise UnreachableError(
            f"no SSH connection to {where} within {timeouts.connect:g} s", step="connect"
        ) from None
    except asyncssh.HostKeyNotVerifiable:
        changed = has_key_for(known, target.host, target.port)
        raise _host_key_error(target, changed=changed) from None
    except asyncssh.PermissionDenied:
        raise AuthError(
            f"{where} refused the SSH login for user {target.username}", step="connect"
        ) from None
    except asyncssh.ConnectionLost:
        raise UnreachableError(
            f"{where} closed the connection during the SSH handshake", step="connect"
        ) from None
    except asyncssh.Error as exc:
        reason = redact(str(exc.reason), [target.password])
        raise ProtocolError(
            f"SSH handshake with {where} failed: {reason}", step="connect"
        ) from None
    except socket.gaierror:
        raise UnreachableError(
            f"cannot resolve host name {target.host!r}", step="connect"
        ) from None
    except ConnectionRefusedError:
        raise UnreachableError(f"{where} refused the connection", step="connect") from None
    except OSError as exc:
        raise UnreachableError(
            f"cannot connect to {where}: {exc.strerror or type(exc).__name__}", step="connect"
        ) from None


def _host_key_error(target: ProbeTarget, *, changed: bool) -> HostKeyError:
    hint = f"verify the fingerprint, then run `fmccert trust {target.name}`"
    if changed:
        message = f"host key of {target.host}:{target.port} CHANGED since it was trusted; {hint}"
    else:
        message = f"host key of {target.host}:{target.port} is not in known_hosts; {hint}"
    return HostKeyError(message, step="connect")


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
    shell.send(command)
    result = await shell.wait_for_prompt("sudo", watch_sudo=True)
    echo: str | None = command
    if result.prompt is PromptKind.PASSWORD and result.sudo is None:
        shell.send(target.password.reveal(), shown=REDACTED)
        result = await shell.wait_for_prompt("sudo", watch_sudo=True)
        echo = None
    outcome = classify_sudo(result.text, result.prompt)
    if result.prompt is PromptKind.PASSWORD or outcome is not SudoOutcome.ACCEPTED:
        shell.interrupt()  # never type the password a second time
        if outcome is SudoOutcome.NOT_ALLOWED:
            raise AuthError(f"{target.username} may not use sudo on the FMC", step="sudo")
        raise AuthError("sudo refused the password", step="sudo")
    if result.prompt is not PromptKind.SHELL:
        raise ProtocolError("sudo did not end at the shell prompt", step="sudo")
    output = command_output(result.text, echo)
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


async def _leave(shell: FmcShell, via_expert: bool, timeouts: ProbeTimeouts) -> None:
    # Leaving the box as found matters, but a failed goodbye does not change the facts.
    # Both exits go at once (bash, then CLISH): the PTY queues the second line for CLISH,
    # and waiting for the `>` in between would only cost a round trip.
    shell.send("exit")
    if via_expert:
        shell.send("exit")
    if await shell.wait_closed(min(EXIT_WAIT, timeouts.command)):
        logger.debug("fmc %s: session closed after exit", shell.fmc)
    else:
        logger.debug("fmc %s: session still open after exit; closing anyway", shell.fmc)
