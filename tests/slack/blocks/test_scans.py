"""A scan's thread: the parent with counts and the worst FMCs, then continuation lists."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.core.error_kinds import ErrorKind
from bot.core.findings import ErrorInfo, Finding
from bot.core.incidents import needs_attention
from bot.scanning import ScanReport
from bot.slack.blocks.kit import Message
from bot.slack.blocks.scans import build_scan_messages
from tests.slack.blocks.helpers import (
    BIG,
    HOSTILE,
    NOW,
    all_text,
    assert_valid,
    blocks_of,
    make_finding,
    make_ftd,
)


def _report(findings: list[Finding]) -> ScanReport:
    return ScanReport(
        started_at=NOW - timedelta(seconds=75),
        finished_at=NOW - timedelta(seconds=60),
        findings=tuple(findings),
    )


def _listed_names(messages: list[Message]) -> list[str]:
    names: list[str] = []
    for message in messages:
        for block in blocks_of(message, "section"):
            text = block.get("text", {}).get("text", "")
            names += re.findall(r"^:[a-z_]+: \*([^*]+)\*", text, re.MULTILINE)
    return names


def test_scan_single_healthy_fmc() -> None:
    """One healthy FMC gives one message with a green header and no attention list."""
    messages = build_scan_messages(
        _report([make_finding(days=300, version="7.6.1")]), title="fmccert scan", now=NOW
    )
    assert len(messages) == 1
    (message,) = messages
    assert_valid(message)
    (header,) = blocks_of(message, "header")
    assert header["text"]["text"] == ":white_check_mark: fmccert scan: 1 FMC healthy"
    assert "took 15.0 s" in all_text(message)
    assert "1 min ago" in all_text(message)
    assert _listed_names(messages) == []


def test_scan_twenty_fmcs_worst_first() -> None:
    """Twenty FMCs: counts by status, and the ones needing attention listed worst first."""
    findings = [make_finding(f"fmc-{i:02}", days=300, version="7.6.1") for i in range(15)]
    findings += [
        make_finding("fmc-warn", days=20, version="7.6.1"),
        make_finding("fmc-crit", days=3, version="7.6.1"),
        make_finding("fmc-dead", days=-4, version="7.6.1"),
        make_finding("fmc-lost", days=None, error=ErrorInfo(ErrorKind.TIMEOUT, "no answer")),
        make_finding("fmc-vdb", days=300, version="7.7.0", vdb=300),
    ]
    messages = build_scan_messages(_report(findings), title="fmccert scan", now=NOW)
    assert len(messages) == 1
    assert_valid(messages[0])
    (header,) = blocks_of(messages[0], "header")
    assert header["text"]["text"] == ":rotating_light: fmccert scan: 5 FMCs need attention"
    fields = [f["text"] for f in blocks_of(messages[0], "section")[0]["fields"]]
    assert ":white_check_mark: ok*\n16" in fields[0]
    assert [f.split("\n")[1] for f in fields] == ["16", "1", "1", "1", "1"]
    assert _listed_names(messages) == ["fmc-dead", "fmc-crit", "fmc-lost", "fmc-warn", "fmc-vdb"]
    assert "1 warning" in messages[0].text
    assert "1 expired" in messages[0].text


def test_scan_two_thousand_fmcs_split_cleanly() -> None:
    """2000 FMCs split into valid messages listing each FMC needing attention exactly once."""
    findings = [
        make_finding(f"fmc-{i:04}", days=(i % 40) - 5, version="7.6.0" if i % 3 else "7.6.1")
        for i in range(2000)
    ]
    expected = sorted(f.name for f in findings if needs_attention(f))
    assert len(expected) > 1000
    messages = build_scan_messages(_report(findings), title="fmccert scan", now=NOW)
    assert len(messages) > 2
    for message in messages:
        assert_valid(message)
    assert blocks_of(messages[0], "header")
    assert all(not blocks_of(m, "header") for m in messages[1:])
    listed = _listed_names(messages)
    assert sorted(listed) == expected
    assert len(set(listed)) == len(listed)
    assert "more in the thread" in all_text(messages[0])
    assert f"part 2/{len(messages)}" in messages[1].text


def test_scan_hostile_names_stay_escaped() -> None:
    """Hostile FMC names and huge errors in a scan never leak markup or break limits."""
    findings = [
        make_finding(f"{HOSTILE} {i}" * 3, days=None, error=ErrorInfo(ErrorKind.PROTOCOL, BIG))
        for i in range(300)
    ]
    messages = build_scan_messages(_report(findings), title=f"scan {HOSTILE}", now=NOW)
    for message in messages:
        assert_valid(message)
    assert len(_listed_names(messages)) == 300


def test_scan_alert_lists_an_ftd_with_its_kind() -> None:
    """The scan's needs-attention list tags the FTD's line with (FTD)."""
    report = ScanReport(
        findings=(make_ftd(days=12), make_finding("fmc-east", days=5)),
        started_at=NOW - timedelta(seconds=30),
        finished_at=NOW,
    )
    text = all_text(build_scan_messages(report, title="Scan", now=NOW)[0])
    assert "*fw-branch* (FTD) warning" in text
    assert "*fmc-east* critical" in text
