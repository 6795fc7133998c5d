"""How a certificate status shows: its emoji, worst-first order and counts by status."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from slack_sdk.models.blocks import SectionBlock

from bot.core.expiry import Status
from bot.core.findings import Finding
from bot.slack.blocks.kit import fields

STATUS_EMOJI: Mapping[Status, str] = {
    Status.OK: ":white_check_mark:",
    Status.WARNING: ":warning:",
    Status.CRITICAL: ":red_circle:",
    Status.EXPIRED: ":x:",
    Status.UNKNOWN: ":grey_question:",
    Status.AT_RISK: ":large_orange_diamond:",
}
# Worst first: expired, critical, could-not-check, warning, at risk, ok.
_SEVERITY: Mapping[Status, int] = {
    Status.EXPIRED: 0,
    Status.CRITICAL: 1,
    Status.UNKNOWN: 2,
    Status.WARNING: 3,
    Status.AT_RISK: 4,
    Status.OK: 5,
}


def status_of(raw: str) -> Status:
    """A stored status as a :class:`Status`; one this release does not know is unknown."""
    try:
        return Status(raw)
    except ValueError:
        return Status.UNKNOWN


def worst_first(findings: Iterable[Finding]) -> list[Finding]:
    def key(finding: Finding) -> tuple[int, int, str]:
        days = finding.days_left if finding.days_left is not None else 1_000_000
        return (_SEVERITY[finding.status], days, finding.name)

    return sorted(findings, key=key)


def count_statuses(statuses: Iterable[Status]) -> Counter[Status]:
    return Counter(statuses)


def count_fields(counts: Counter[Status]) -> SectionBlock:
    # at_risk only comes from REST reads: shown when some FMC has it.
    shown = [s for s in Status if s is not Status.AT_RISK or counts[s]]
    return fields(
        (f"{STATUS_EMOJI[status]} {status.value}", str(counts[status])) for status in shown
    )
