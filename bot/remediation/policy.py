"""Pure rules about remediation results: how a run ended, and when a run is abandoned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.advisory import FIXED_VDB_BUILD, Action
from bot.core.certificate import CertificateFacts
from bot.remediation.plan import TAC
from bot.storage.records import RunStatus

OUTPUT_TAIL = 4096  # characters of a step's output kept in records and messages
CLOUD_CHECK = (
    "check that cloud connectivity (Security Cloud integration) and telemetry are enabled: "
    "the VDB renews the certificate only with them"
)

VDB_HINT = f"run the vdb-update action: VDB {FIXED_VDB_BUILD} or later renews the certificate"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a remediation run ended, in plain language."""

    status: RunStatus
    summary: str
    failed_step: str | None = None
    step_output: str = ""
    old_not_after: datetime | None = None
    new_not_after: datetime | None = None
    next_steps: tuple[str, ...] = ()


def output_tail(text: str, limit: int = OUTPUT_TAIL) -> str:
    """The last ``limit`` characters of ``text``, cut at a line start when possible."""
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    newline = tail.find("\n")
    if 0 <= newline < len(tail) - 1:
        tail = tail[newline + 1 :]
    return "[...]\n" + tail


def format_expiry(moment: datetime | None) -> str:
    """A certificate expiry for people: ``2025-07-01 12:00 UTC``, or ``none``."""
    if moment is None:
        return "none"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _fix_elsewhere(upgrade_to: str | None) -> tuple[str, ...]:
    steps = [f"upgrade to {upgrade_to}"] if upgrade_to else []
    return (*steps, TAC)


def classify_verification(
    fmc: str,
    action: Action,
    old: CertificateFacts | None,
    new: CertificateFacts | None,
    *,
    upgrade_to: str | None,
    vdb_build: int | None = None,
) -> Outcome:
    """RENEWED when the certificate read back is newer (or new), else NOT_RENEWED."""
    old_after = old.not_after if old else None
    new_after = new.not_after if new else None
    if new is not None and (old is None or new.not_after > old.not_after):
        if old is None:
            summary = (
                f"{fmc}: the Talos certificate was issued where there was none; "
                f"it expires {format_expiry(new_after)}"
            )
        else:
            summary = (
                f"{fmc}: the Talos certificate was renewed: old expiry "
                f"{format_expiry(old_after)}, new expiry {format_expiry(new_after)}"
            )
        return Outcome(RunStatus.RENEWED, summary, None, "", old_after, new_after)
    done = f"VDB build {vdb_build} is installed" if action is Action.VDB_UPDATE else "it ran"
    if new is None:
        still = "there is still no valid certificate"
    else:
        still = f"the certificate did not change (it expires {format_expiry(new_after)})"
    next_steps: tuple[str, ...] = _fix_elsewhere(upgrade_to)
    if action is Action.VDB_UPDATE:
        next_steps = (CLOUD_CHECK, *next_steps)
    elif vdb_build is None or vdb_build < FIXED_VDB_BUILD:
        next_steps = (VDB_HINT, *next_steps)
    summary = f"{fmc}: {action.value} was not enough: {done} but {still}"
    return Outcome(
        RunStatus.NOT_RENEWED, summary, None, "", old_after, new_after, next_steps=next_steps
    )


def classify_failure(
    fmc: str,
    action: Action,
    step: str,
    message: str,
    output: str,
    *,
    old: CertificateFacts | None,
    upgrade_to: str | None = None,
) -> Outcome:
    """FAILED at ``step``: the reason, and the step's (already redacted) output tail."""
    summary = f"{fmc}: {action.value} failed at step {step}: {message}"
    next_steps = (
        f"read the output of step {step}, fix the cause, then run the remediation again",
        *_fix_elsewhere(upgrade_to),
    )
    return Outcome(
        RunStatus.FAILED,
        summary,
        step,
        output_tail(output),
        old.not_after if old else None,
        None,
        next_steps,
    )
