"""Run one plan step at a time against an FMC: probes, shell commands, waits, SFTP uploads.

The runner knows nothing about storage or progress reporting (that is
:mod:`bot.remediation.service`). One expert-mode session (:mod:`bot.fmc.connection`) is
opened at the first step that needs a shell and reused; it is closed before any probe
step, because a probe opens its own connection (a renewed certificate shows only to new
connections on an FMC). Every text returned has the FMC password masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime

import asyncssh

from bot.core.certificate import CertificateFacts
from bot.core.expiry import Thresholds
from bot.core.findings import Finding, assess_outcome
from bot.core.peer_text import sanitize_peer_text
from bot.errors import ProbeError, StepTimeoutError
from bot.fmc.connection import ExpertSession, expert_session
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.remediation.plan import (
    FIXABLE_ERROR_KINDS,
    Plan,
    Step,
    StepKind,
    Upload,
    applicability_problem,
    evaluate_check,
    remote_sha256_command,
    remove_command,
)
from bot.remediation.policy import format_expiry
from bot.scanning import Prober
from bot.secrets import redact
from bot.storage.records import StepStatus

log = logging.getLogger("bot.remediation")

_SHA256 = re.compile(r"^([0-9a-fA-F]{64})\b", re.MULTILINE)
# Cleaning up a partial upload on a new connection after the old one dropped.
_CLEANUP_BUDGET = 15.0

# What a connection lost mid-transfer raises (the SSH link or the SFTP channel).
_DROPPED = (
    asyncssh.DisconnectError,
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    ConnectionError,
)

Notify = Callable[[str], Awaitable[None]]
"""Told (with a one-line message) while a step waits, e.g. between reads of vdb.conf."""


class StepFailed(Exception):
    """A step did not succeed; ``message`` is one safe line, ``output`` the redacted output."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.output = output


@dataclass(frozen=True, slots=True)
class StepReport:
    """A step that succeeded (OK) or had nothing to do (SKIPPED)."""

    status: StepStatus
    message: str  # one line for people
    output: str = ""  # redacted
    finding: Finding | None = None  # what a probe/verify step read


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()[:300]
    return ""


def _describe_finding(finding: Finding) -> str:
    facts = finding.facts
    release = facts.version or "unknown release"
    if facts.version and facts.build:
        release += f" (build {facts.build})"
    cert = facts.certificate
    text = f"{release}, VDB build {facts.vdb_build if facts.vdb_build is not None else '?'}, "
    text += f"certificate expires {format_expiry(cert.not_after)}" if cert else "no certificate"
    if finding.error is not None:
        text += f" ({finding.error.kind}: {finding.error.message})"
    return text


def is_renewed(old: CertificateFacts | None, new: CertificateFacts | None) -> bool:
    """True when ``new`` exists and expires later than ``old`` (or there was none)."""
    return new is not None and (old is None or new.not_after > old.not_after)


class PlanRunner:
    """Executes the steps of one plan on one FMC, in the order the caller asks."""

    def __init__(
        self,
        plan: Plan,
        target: ProbeTarget,
        *,
        timeouts: ProbeTimeouts,
        thresholds: Thresholds,
        clock: Callable[[], datetime],
        probe: Prober,
    ) -> None:
        self._plan = plan
        self._target = target
        self._timeouts = timeouts
        self._thresholds = thresholds
        self._clock = clock
        self._probe = probe
        self._stack: AsyncExitStack | None = None
        self._session: ExpertSession | None = None
        self.before: Finding | None = None  # set by the precheck
        self.after: Finding | None = None  # set by verify

    def redact(self, text: str) -> str:
        """``text`` with the FMC password masked and the peer's control characters gone.

        Step output is stored, shown on terminals and in Slack: an FMC (or a hostile SFTP
        server) must not be able to draw on any of them.
        """
        return redact(sanitize_peer_text(text, keep_newlines=True), [self._target.password])

    async def _shell(self) -> ExpertSession:
        if self._session is None:
            stack = AsyncExitStack()
            try:
                self._session = await stack.enter_async_context(
                    expert_session(self._target, self._timeouts)
                )
            except BaseException:
                await stack.aclose()
                raise
            self._stack = stack
        return self._session

    async def close(self) -> None:
        """Leave the expert shell (if open) and close the connection."""
        stack, self._stack, self._session = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def run(self, step: Step, notify: Notify) -> StepReport:
        """Run one step; StepFailed (or a ProbeError) when it does not succeed."""
        if step.kind in (StepKind.PROBE, StepKind.VERIFY):
            await self.close()
        if step.kind is StepKind.PROBE:
            return await self._precheck()
        if step.kind is StepKind.VERIFY:
            return await self._verify(step, notify)
        if step.kind is StepKind.COMMAND:
            return await self._command(step)
        if step.kind is StepKind.WAIT:
            return await self._wait(step, notify)
        return await self._upload(step)

    # -- probes -----------------------------------------------------------------------

    async def _read_facts(self) -> Finding:
        outcome = await self._probe(self._target, self._timeouts, clock=self._clock)
        return assess_outcome(
            self._target.name, self._target.host, outcome, self._thresholds, outcome.checked_at,
            kind=self._target.kind,
        )  # fmt: skip

    async def _precheck(self) -> StepReport:
        finding = await self._read_facts()
        described = self.redact(_describe_finding(finding))
        problem = applicability_problem(self._plan.action, finding, self._plan.package)
        if problem is not None:
            raise StepFailed(self.redact(problem), described)
        self.before = finding
        return StepReport(StepStatus.OK, described, described, finding)

    async def _verify(self, step: Step, notify: Notify) -> StepReport:
        old = self.before.facts.certificate if self.before else None
        deadline = time.monotonic() + step.retry_for
        interval = step.interval or 1.0
        while True:
            finding = await self._read_facts()
            self.after = finding
            described = self.redact(_describe_finding(finding))
            new = finding.facts.certificate
            usable = finding.error is None or finding.error.kind in FIXABLE_ERROR_KINDS
            if usable and is_renewed(old, new):
                return StepReport(StepStatus.OK, described, described, finding)
            if time.monotonic() + interval > deadline:
                if not usable:
                    raise StepFailed(f"could not read the certificate back: {described}", described)
                return StepReport(StepStatus.OK, described, described, finding)
            await notify(f"not renewed yet ({described}); reading again in {interval:g} s")
            await asyncio.sleep(interval)

    # -- shell commands ---------------------------------------------------------------

    async def _run_line(self, step: Step, command: str, seconds: float) -> tuple[str, int]:
        session = await self._shell()
        output, status = await session.run(command, step=step.name, timeout=seconds)
        return self.redact(output), status

    async def _command(self, step: Step) -> StepReport:
        assert step.command is not None  # plan building guarantees it
        output, status = await self._run_line(step, step.command, step.timeout)
        check = evaluate_check(step, output, status)
        if not check.passed:
            said = _last_line(output)
            raise StepFailed(f"{check.reason}: {said}" if said else check.reason, output)
        return StepReport(StepStatus.OK, check.reason, output)

    async def _wait(self, step: Step, notify: Notify) -> StepReport:
        assert step.command is not None  # plan building guarantees it
        interval = step.interval or 1.0
        deadline = time.monotonic() + step.timeout
        while True:
            remaining = max(deadline - time.monotonic(), 0.1)
            budget = min(self._timeouts.command, remaining)
            output, status = await self._run_line(step, step.command, budget)
            check = evaluate_check(step, output, status)
            if check.passed:
                return StepReport(StepStatus.OK, check.reason, output)
            if time.monotonic() + interval > deadline:
                raise StepFailed(f"{check.reason} after {step.timeout:g} s", output)
            await notify(f"{check.reason}; reading again in {interval:g} s")
            await asyncio.sleep(interval)

    # -- upload -----------------------------------------------------------------------

    async def _remote_sha256(self, step: Step, path: str) -> str | None:
        output, status = await self._run_line(
            step, remote_sha256_command(path), self._timeouts.command
        )
        match = _SHA256.search(output)
        return match.group(1).lower() if status == 0 and match else None

    async def _upload(self, step: Step) -> StepReport:
        upload = step.upload
        assert upload is not None  # plan building guarantees it
        if await self._remote_sha256(step, upload.remote_path) == upload.sha256:
            return StepReport(
                StepStatus.SKIPPED,
                f"{upload.remote_path} is already on the FMC (same sha256)",
                f"{upload.remote_path}: sha256 {upload.sha256} already present",
            )
        notes: list[str] = []
        try:
            await self._transfer(step, upload, notes)
        except StepFailed as exc:
            cleaned = await self._discard_part(step, upload)
            raise StepFailed(exc.message, "\n".join([*notes, cleaned])) from None
        except BaseException:
            await self._discard_part(step, upload)
            raise
        notes.append(f"renamed {upload.part_path} -> {upload.remote_path}")
        return StepReport(
            StepStatus.OK, f"uploaded {upload.size} bytes to {upload.remote_path}", "\n".join(notes)
        )

    async def _transfer(self, step: Step, upload: Upload, notes: list[str]) -> None:
        session = await self._shell()
        sftp = await session.sftp()
        started = time.monotonic()
        try:
            async with asyncio.timeout(step.timeout):
                await sftp.put(upload.local_path, upload.part_path)
        except TimeoutError:
            raise StepTimeoutError(
                f"the upload took longer than {step.timeout:g} s", step=step.name
            ) from None
        except _DROPPED as exc:
            reason = self.redact(str(exc) or type(exc).__name__)
            raise StepFailed(
                f"the connection dropped during the upload to {upload.part_path} ({reason}); "
                f"{upload.remote_path} was not written",
                "\n".join(notes),
            ) from None
        except (asyncssh.Error, OSError) as exc:
            reason = self.redact(str(exc) or type(exc).__name__)
            raise StepFailed(
                f"the upload to {upload.part_path} failed ({reason}); "
                f"{upload.remote_path} was not written",
                "\n".join(notes),
            ) from None
        notes.append(
            f"sent {upload.size} bytes to {upload.part_path} in {time.monotonic() - started:.1f} s"
        )
        digest = await self._remote_sha256(step, upload.part_path)
        if digest != upload.sha256:
            raise StepFailed(
                f"the uploaded file's sha256 is {digest or 'unreadable'}, expected {upload.sha256}",
                "\n".join(notes),
            )
        notes.append(f"{upload.part_path}: sha256 {digest} verified")
        await self._rename(sftp, upload, step)

    async def _rename(self, sftp: asyncssh.SFTPClient, upload: Upload, step: Step) -> None:
        try:
            async with asyncio.timeout(self._timeouts.command):
                try:
                    await sftp.posix_rename(upload.part_path, upload.remote_path)
                except asyncssh.SFTPOpUnsupported:
                    with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                        await sftp.remove(upload.remote_path)
                    await sftp.rename(upload.part_path, upload.remote_path)
        except TimeoutError:
            raise StepTimeoutError(
                f"renaming {upload.part_path} took longer than {self._timeouts.command:g} s",
                step=step.name,
            ) from None
        except (asyncssh.Error, OSError) as exc:
            reason = self.redact(str(exc) or type(exc).__name__)
            raise StepFailed(
                f"renaming {upload.part_path} to {upload.remote_path} failed ({reason})"
            ) from None

    async def _discard_part(self, step: Step, upload: Upload) -> str:
        """Best effort: remove ``<file>.part`` so no stray file stays behind; what happened."""
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            return f"{upload.part_path} may remain on the FMC (interrupted)"
        command = remove_command(upload.part_path)
        try:
            async with asyncio.timeout(_CLEANUP_BUDGET):
                try:
                    await self._run_line(step, command, self._timeouts.command)
                except ProbeError:
                    # The session is gone (a dropped connection): try once on a new one.
                    await self.close()
                    await self._run_line(step, command, self._timeouts.command)
        except (ProbeError, TimeoutError) as exc:
            reason = self.redact(str(exc))
            log.warning(
                "fmc %s: could not remove %s: %s", self._target.name, upload.part_path, reason
            )
            return f"could not remove {upload.part_path}: {reason}"
        return f"removed {upload.part_path}"
