"""Text renderings of scan results for the terminal: a table, JSON, a summary line."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from bot.core.expiry import Status
from bot.core.findings import Finding, finding_to_json

_COLUMNS = ("NAME", "STATUS", "DAYS", "EXPIRES", "VERSION", "VDB", "AFFECTED", "ACTION", "NOTE")


def _note(finding: Finding) -> str:
    if finding.error is not None:
        return f"{finding.error.kind}: {finding.error.message}"
    if finding.upgrade_to:
        return f"fixed in {finding.upgrade_to}"
    return ""


def _row(finding: Finding) -> tuple[str, ...]:
    cert = finding.facts.certificate
    version = finding.facts.version or "-"
    if finding.facts.version and finding.facts.build:
        version = f"{finding.facts.version}-{finding.facts.build}"
    affected = {True: "yes", False: "no", None: "?"}[finding.affected]
    return (
        finding.name,
        finding.status.value,
        "-" if finding.days_left is None else str(finding.days_left),
        cert.not_after.strftime("%Y-%m-%d") if cert else "-",
        version,
        "-" if finding.facts.vdb_build is None else str(finding.facts.vdb_build),
        affected,
        finding.action.value,
        _note(finding),
    )


def render_table(findings: Sequence[Finding]) -> str:
    """A fixed-width table, one line per FMC, the note column left unpadded."""
    rows = [_COLUMNS, *(_row(finding) for finding in findings)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def render_json(findings: Sequence[Finding]) -> str:
    """The JSON array of the contract, one object per FMC."""
    return json.dumps([finding_to_json(finding) for finding in findings], indent=2)


def render_summary(findings: Sequence[Finding], seconds: float) -> str:
    """One line: how many FMCs in each status, and how long it took."""
    counts = Counter(finding.status for finding in findings)
    parts = [f"{counts[status]} {status.value}" for status in Status if counts[status]]
    noun = "FMC" if len(findings) == 1 else "FMCs"
    return f"{len(findings)} {noun}: {', '.join(parts) or 'none'} ({seconds:.1f} s)"
