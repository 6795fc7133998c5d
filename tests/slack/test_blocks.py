"""Tests of the Slack message builders and the button value parser."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from slack_sdk.models.blocks import Block

from bot.core.advisory import Action
from bot.core.approval import ApprovalRequest, ApprovalStatus
from bot.core.certificate import CertificateFacts
from bot.core.devices import DeviceKind
from bot.core.expiry import Status, Thresholds
from bot.core.findings import (
    ErrorInfo,
    Finding,
    FmcFacts,
    ProbeOutcome,
    assess_outcome,
    finding_to_json,
)
from bot.core.incidents import needs_attention
from bot.remediation.plan import SNORT_NOTICE, Plan, Step, StepKind
from bot.remediation.service import ProgressEvent, ProgressState, RemediationResult
from bot.scanning import ScanReport
from bot.slack.blocks import (
    Message,
    build_approval_request,
    build_check_results,
    build_decided,
    build_error,
    build_finding_reply,
    build_help,
    build_history,
    build_home,
    build_progress,
    build_result,
    build_scan_messages,
    build_status,
    build_working,
)
from bot.slack.ids import (
    APPROVE_ACTION,
    DENY_ACTION,
    SNOOZE_ACTION,
    approval_value,
    parse_approval_value,
)
from bot.storage.records import AuditEntry, RemediationRun, RunStatus, StoredFinding

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
HOSTILE = "<!channel> fmc & <@U999> <https://evil.example|click>"
BIG = ("boom & <!here> " * 700)[:10_240]  # 10 KB of hostile error text
_TOKEN = re.compile(r"<@[UW][A-Z0-9]+>")
_ENTITY = re.compile(r"&(amp|lt|gt);")

# ---------------------------------------------------------------- helpers


def _finding(
    name: str = "fmc-east",
    *,
    days: float | None = 5,
    version: str | None = "7.6.0",
    vdb: int | None = 400,
    error: ErrorInfo | None = None,
    host: str = "10.0.0.1",
) -> Finding:
    """A finding assessed by the real rules, from a certificate ``days`` from NOW."""
    cert = None
    if days is not None:
        cert = CertificateFacts(
            not_before=NOW - timedelta(days=365),
            not_after=NOW + timedelta(days=days),
            serial="0A1B",
            subject="CN=fmc",
            issuer="CN=Talos",
            sha256_fingerprint="AA:BB",
        )
    facts = FmcFacts(version=version, build="123", model="FMC", vdb_build=vdb, certificate=cert)
    outcome = ProbeOutcome(checked_at=NOW, facts=facts, error=error)
    return assess_outcome(name, host, outcome, Thresholds(), NOW)


def _plan(steps: int = 6, action: Action = Action.VDB_UPDATE) -> Plan:
    return Plan(
        action=action,
        fmc="fmc-east",
        steps=tuple(
            Step(name=f"step-{i}", kind=StepKind.COMMAND, description=f"Does thing {i}.")
            for i in range(1, steps + 1)
        ),
        package=None,
        notice=SNORT_NOTICE,
    )


def _request(status: ApprovalStatus, **changes: Any) -> ApprovalRequest:
    base: dict[str, Any] = {
        "id": 42,
        "fmc": "fmc-east",
        "action": "vdb-update",
        "requested_by": "U0REQ",
        "created_at": NOW,
        "expires_at": NOW + timedelta(hours=24),
        "status": status,
        "decided_by": "U1",
        "decided_at": datetime(2026, 11, 27, 10, 5, tzinfo=UTC),
    }
    base.update(changes)
    return ApprovalRequest(**base)


def _texts(node: Any, kind: str | None = None) -> Iterator[tuple[str, str]]:
    """Every (type, text) text object inside a block dict."""
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield node["type"], node["text"]
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)


def _valid(message: Message) -> None:
    """Assert the message passes Slack's offline checks and our stricter bounds."""
    assert isinstance(message, Message)
    assert 0 < len(message.text) <= 3000
    assert 0 < len(message.blocks) <= 50
    json.dumps(message.as_kwargs())
    for data in message.blocks:
        block = Block.parse(data)
        assert block is not None, data
        again = block.to_dict()  # raises SlackObjectFormationError over a limit
        assert again["type"] == data["type"]
        if data["type"] == "section":
            if "text" in data:
                assert len(data["text"]["text"]) <= 3000
            for field in data.get("fields", []):
                assert len(field["text"]) <= 2000
            assert len(data.get("fields", [])) <= 10
        if data["type"] == "header":
            assert len(data["text"]["text"]) <= 150
        for kind, text in _texts(data):
            assert text, data
            if kind == "mrkdwn":
                assert "&" not in _ENTITY.sub("", text), text
                assert "<" not in _TOKEN.sub("", text), text
                assert ">" not in _TOKEN.sub("", text), text
            else:
                assert "<" not in text, text
                assert ">" not in text, text
    blocks_json = json.dumps(message.blocks)
    assert "<!channel>" not in blocks_json
    assert "<!here>" not in blocks_json
    assert "<!channel>" not in message.text
    assert "<!here>" not in message.text


def _blocks(message: Message, kind: str) -> list[dict[str, Any]]:
    return [block for block in message.blocks if block["type"] == kind]


def _all_text(message: Message) -> str:
    return "\n".join(text for block in message.blocks for _, text in _texts(block))


def _buttons(message: Message) -> list[dict[str, Any]]:
    (actions,) = _blocks(message, "actions")
    return cast(list[dict[str, Any]], actions["elements"])


def _assert_decision_buttons(message: Message, approval_id: int, approve_text: str) -> None:
    approve, deny = _buttons(message)
    assert approve["text"]["text"] == approve_text
    assert approve["text"]["text"].startswith("Approve")
    assert approve["style"] == "primary"
    assert approve["action_id"] == APPROVE_ACTION
    assert approve["value"] == f"approval:{approval_id}"
    assert "Snort" in approve["confirm"]["text"]["text"]
    assert deny["text"]["text"].startswith("Deny")
    assert deny["style"] == "danger"
    assert deny["action_id"] == DENY_ACTION
    assert deny["value"] == f"approval:{approval_id}"


# ---------------------------------------------------------------- ids


def test_action_ids_are_distinct_constants() -> None:
    """The three action ids are the documented, distinct strings."""
    assert (APPROVE_ACTION, DENY_ACTION, SNOOZE_ACTION) == (
        "fmccert_approve",
        "fmccert_deny",
        "fmccert_snooze",
    )


def test_parse_approval_value_round_trips() -> None:
    """A value made by approval_value parses back to its id."""
    assert parse_approval_value(approval_value(42)) == 42
    assert parse_approval_value("approval:7") == 7


@pytest.mark.parametrize(
    "value",
    [
        "",
        "42",
        "approval:",
        "approval:0",
        "approval:-1",
        "approval:+1",
        "approval:01",
        "approval:1 ",
        " approval:1",
        "approval:1\n",
        "Approval:1",
        "approve:1",
        "approval:1;2",
        "approval:1e3",
        "approval:\uff11",  # a full-width digit
        "approval:" + "9" * 19,
        '{"approval": 1}',
    ],
)
def test_parse_approval_value_rejects_junk(value: str) -> None:
    """Anything but ``approval:<positive id>`` is a ValueError."""
    with pytest.raises(ValueError, match="approval"):
        parse_approval_value(value)


def test_parse_approval_value_rejects_non_strings() -> None:
    """A value that is not a string at all is a ValueError too."""
    with pytest.raises(ValueError, match="string"):
        parse_approval_value(cast(str, 42))


def test_approval_value_rejects_bad_ids() -> None:
    """Button values are only made for positive integer ids."""
    for bad in (0, -3, True):
        with pytest.raises(ValueError, match="approval id"):
            approval_value(bad)


# ---------------------------------------------------------------- findings


def test_needs_attention_by_status_and_action() -> None:
    """Worrying statuses and any recommended fix need attention; healthy fixed FMCs do not."""
    assert not needs_attention(_finding(days=300, version="7.6.1"))
    assert needs_attention(_finding(days=300, version="7.6.0", vdb=400))  # vdb-update due
    assert needs_attention(_finding(days=20, version="7.6.1"))  # warning
    assert needs_attention(_finding(days=None, error=ErrorInfo("auth", "denied")))


def test_finding_reply_with_buttons() -> None:
    """A VDB fix reply shows the facts, the fix in words and the Approve/Deny buttons."""
    finding = _finding(days=5)
    assert finding.action is Action.VDB_UPDATE
    assert finding.status is Status.CRITICAL
    message = build_finding_reply(finding, approval_id=42)
    _valid(message)
    text = _all_text(message)
    for expected in (
        "fmc-east",
        "critical",
        "expires in 5 days",
        "2026-12-02 10:00 UTC",
        "7.6.0-123",
        "400",
        "Update the VDB to build 406 or later (renews the certificate)",
        "Fixed in",
        "7.6.1",
    ):
        assert expected in text, expected
    assert "*Affected by CSCwo63951*\nyes" in text
    _assert_decision_buttons(message, 42, "Approve VDB update")
    assert "fmc-east" in message.text
    assert "vdb-update" in message.text


def test_finding_reply_without_approval_has_no_buttons() -> None:
    """Without an approval id the reply carries no actions block."""
    message = build_finding_reply(_finding(days=5), approval_id=None)
    _valid(message)
    assert _blocks(message, "actions") == []


def test_finding_reply_restart_label() -> None:
    """The restart fix gets an ``Approve restart`` button."""
    finding = _finding(days=-2, version="7.6.1")
    message = build_finding_reply(finding, approval_id=3, action_label="restart")
    _valid(message)
    _assert_decision_buttons(message, 3, "Approve restart")


def test_finding_reply_upgrade_and_investigate_wording() -> None:
    """Upgrade names the fixed release; investigate says a human must look."""
    upgrade = build_finding_reply(_finding(days=5, vdb=410), approval_id=None)
    _valid(upgrade)
    assert "Upgrade to 7.6.1" in _all_text(upgrade)
    investigate = build_finding_reply(_finding(days=2, version="7.4.2"), approval_id=None)
    _valid(investigate)
    assert "Investigate" in _all_text(investigate)
    assert "*Affected by CSCwo63951*\nno" in _all_text(investigate)


def test_finding_reply_unknown_shows_error() -> None:
    """An FMC that could not be checked shows the error kind, step and message."""
    error = ErrorInfo("unreachable", "connection refused", "connect")
    message = build_finding_reply(_finding(days=None, version=None, error=error), approval_id=None)
    _valid(message)
    text = _all_text(message)
    assert "unknown" in text
    assert "expiry unknown" in text
    assert "unreachable, step connect: connection refused" in text
    assert "*Affected by CSCwo63951*\nunknown" in text


def test_finding_reply_hostile_input_is_escaped_and_bounded() -> None:
    """Mentions, ampersands and a 10 KB error stay escaped and within every limit."""
    finding = _finding(
        HOSTILE * 20, days=None, error=ErrorInfo("protocol", BIG, HOSTILE), host=HOSTILE
    )
    message = build_finding_reply(finding, approval_id=9, action_label=HOSTILE * 5)
    _valid(message)
    assert "&lt;!channel&gt; fmc &amp; &lt;@U999&gt;" in _all_text(message)
    approve, _ = _buttons(message)
    assert len(approve["text"]["text"]) <= 75
    assert approve["value"] == "approval:9"


# ---------------------------------------------------------------- scans


def _report(findings: list[Finding]) -> ScanReport:
    return ScanReport(
        started_at=NOW - timedelta(seconds=75),
        finished_at=NOW - timedelta(seconds=60),
        findings=tuple(findings),
    )


def _listed_names(messages: list[Message]) -> list[str]:
    names: list[str] = []
    for message in messages:
        for block in _blocks(message, "section"):
            text = block.get("text", {}).get("text", "")
            names += re.findall(r"^:[a-z_]+: \*([^*]+)\*", text, re.MULTILINE)
    return names


def test_scan_single_healthy_fmc() -> None:
    """One healthy FMC gives one message with a green header and no attention list."""
    messages = build_scan_messages(
        _report([_finding(days=300, version="7.6.1")]), title="fmccert scan", now=NOW
    )
    assert len(messages) == 1
    (message,) = messages
    _valid(message)
    (header,) = _blocks(message, "header")
    assert header["text"]["text"] == ":white_check_mark: fmccert scan: 1 FMC healthy"
    assert "took 15.0 s" in _all_text(message)
    assert "1 min ago" in _all_text(message)
    assert _listed_names(messages) == []


def test_scan_twenty_fmcs_worst_first() -> None:
    """Twenty FMCs: counts by status, and the ones needing attention listed worst first."""
    findings = [_finding(f"fmc-{i:02}", days=300, version="7.6.1") for i in range(15)]
    findings += [
        _finding("fmc-warn", days=20, version="7.6.1"),
        _finding("fmc-crit", days=3, version="7.6.1"),
        _finding("fmc-dead", days=-4, version="7.6.1"),
        _finding("fmc-lost", days=None, error=ErrorInfo("timeout", "no answer")),
        _finding("fmc-vdb", days=300, version="7.7.0", vdb=300),
    ]
    messages = build_scan_messages(_report(findings), title="fmccert scan", now=NOW)
    assert len(messages) == 1
    _valid(messages[0])
    (header,) = _blocks(messages[0], "header")
    assert header["text"]["text"] == ":rotating_light: fmccert scan: 5 FMCs need attention"
    fields = [f["text"] for f in _blocks(messages[0], "section")[0]["fields"]]
    assert ":white_check_mark: ok*\n16" in fields[0]
    assert [f.split("\n")[1] for f in fields] == ["16", "1", "1", "1", "1"]
    assert _listed_names(messages) == ["fmc-dead", "fmc-crit", "fmc-lost", "fmc-warn", "fmc-vdb"]
    assert "1 warning" in messages[0].text
    assert "1 expired" in messages[0].text


def test_scan_two_thousand_fmcs_split_cleanly() -> None:
    """2000 FMCs split into valid messages listing each FMC needing attention exactly once."""
    findings = [
        _finding(f"fmc-{i:04}", days=(i % 40) - 5, version="7.6.0" if i % 3 else "7.6.1")
        for i in range(2000)
    ]
    expected = sorted(f.name for f in findings if needs_attention(f))
    assert len(expected) > 1000
    messages = build_scan_messages(_report(findings), title="fmccert scan", now=NOW)
    assert len(messages) > 2
    for message in messages:
        _valid(message)
    assert _blocks(messages[0], "header")
    assert all(not _blocks(m, "header") for m in messages[1:])
    listed = _listed_names(messages)
    assert sorted(listed) == expected
    assert len(set(listed)) == len(listed)
    assert "more in the thread" in _all_text(messages[0])
    assert f"part 2/{len(messages)}" in messages[1].text


def test_scan_hostile_names_stay_escaped() -> None:
    """Hostile FMC names and huge errors in a scan never leak markup or break limits."""
    findings = [
        _finding(f"{HOSTILE} {i}" * 3, days=None, error=ErrorInfo("protocol", BIG))
        for i in range(300)
    ]
    messages = build_scan_messages(_report(findings), title=f"scan {HOSTILE}", now=NOW)
    for message in messages:
        _valid(message)
    assert len(_listed_names(messages)) == 300


# ---------------------------------------------------------------- approvals


def test_approval_request_content_and_buttons() -> None:
    """The request names the requester, the FMC's state, the plan steps and the expiry."""
    message = build_approval_request(
        fmc="fmc-east",
        action="vdb-update",
        requested_by="U0ALICE",
        approval_id=42,
        plan=_plan(),
        expires_at=NOW + timedelta(hours=24),
        finding=_finding(days=5),
    )
    _valid(message)
    text = _all_text(message)
    assert "<@U0ALICE> asks to run *vdb-update* on *fmc-east*" in text
    assert "1. *step-1*: Does thing 1." in text
    assert "6. *step-6*" in text
    assert "expires 2026-11-28 10:00 UTC" in text
    assert "Snort" in text
    assert "critical" in text
    _assert_decision_buttons(message, 42, "Approve VDB update")


def test_approval_request_long_plan_summarised() -> None:
    """A plan of 40 steps with hostile text is summarised and stays valid."""
    plan = Plan(
        action=Action.RESTART,
        fmc=HOSTILE,
        steps=tuple(
            Step(name=f"{HOSTILE}-{i}", kind=StepKind.COMMAND, description=BIG) for i in range(40)
        ),
        package=None,
        notice=BIG,
    )
    message = build_approval_request(
        fmc=HOSTILE,
        action="restart",
        requested_by=HOSTILE,
        approval_id=5,
        plan=plan,
        expires_at=NOW,
        finding=None,
    )
    _valid(message)
    assert "…and 28 more steps" in _all_text(message)
    _assert_decision_buttons(message, 5, "Approve restart")


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (ApprovalStatus.APPROVED, ":white_check_mark: Approved by <@U1> at 2026-11-27 10:05 UTC"),
        (ApprovalStatus.DENIED, ":no_entry: Denied by <@U1> at 2026-11-27 10:05 UTC"),
    ],
)
def test_decided_drops_buttons_and_says_who(status: ApprovalStatus, line: str) -> None:
    """A decided request keeps its content, loses its buttons and says who decided when."""
    original = build_approval_request(
        fmc="fmc-east",
        action="vdb-update",
        requested_by="U0ALICE",
        approval_id=42,
        plan=_plan(),
        expires_at=NOW + timedelta(hours=24),
        finding=None,
    )
    decided = build_decided(original, request=_request(status), now=NOW)
    _valid(decided)
    assert _blocks(decided, "actions") == []
    assert decided.blocks[:-1] == tuple(b for b in original.blocks if b["type"] != "actions")
    assert decided.blocks[-1]["elements"][0]["text"] == line
    assert status.value in decided.text


def test_decided_expired_without_original() -> None:
    """An expired request with no original message still yields a valid, button-less note."""
    request = _request(ApprovalStatus.EXPIRED, decided_by=None, decided_at=None)
    decided = build_decided(None, request=request, now=NOW + timedelta(days=2))
    _valid(decided)
    assert _blocks(decided, "actions") == []
    assert "Expired at 2026-11-28 10:00 UTC" in _all_text(decided)


def test_decided_full_original_stays_within_fifty_blocks() -> None:
    """Deciding a message that already has 50 blocks keeps it at 50 blocks."""
    full = Message(text="x", blocks=tuple({"type": "divider"} for _ in range(50)))
    decided = build_decided(full, request=_request(ApprovalStatus.APPROVED), now=NOW)
    _valid(decided)
    assert len(decided.blocks) == 50


def test_decided_twice_keeps_one_decision_line() -> None:
    """Re-rendering a decided message replaces the decision line instead of stacking it."""
    original = build_finding_reply(_finding(), approval_id=42)
    once = build_decided(original, request=_request(ApprovalStatus.APPROVED), now=NOW)
    twice = build_decided(once, request=_request(ApprovalStatus.APPROVED), now=NOW)
    assert twice.blocks == once.blocks


# ---------------------------------------------------------------- runs


def test_progress_checklist() -> None:
    """The progress message lists done steps, the current one with its message, and the rest."""
    event = ProgressEvent(
        fmc="fmc-east",
        run_id=7,
        step="upload-package",
        state=ProgressState.WAITING,
        message="uploaded 40 % <&>",
        index=3,
        total=6,
    )
    message = build_progress(
        event,
        fmc="fmc-east",
        action="vdb-update",
        steps_done=[("precheck", "ok"), ("check-free-space", "skipped")],
    )
    _valid(message)
    text = _all_text(message)
    assert "run #7" in text
    assert "step 3 of 6" in text
    assert ":white_check_mark: precheck" in text
    assert ":fast_forward: check-free-space" in text
    assert ":hourglass_flowing_sand: *upload-package*: uploaded 40 % &lt;&amp;&gt;" in text
    assert "3 more steps" in text


def test_progress_hostile_and_long() -> None:
    """Hundreds of done steps and a huge message still fit one valid message."""
    event = ProgressEvent("x", 1, HOSTILE, ProgressState.FAILED, BIG, 500, 500)
    steps = [(f"{HOSTILE}{i}", "ok") for i in range(499)]
    message = build_progress(event, fmc=HOSTILE, action=HOSTILE, steps_done=steps)
    _valid(message)


def _result(status: RunStatus, **changes: Any) -> RemediationResult:
    base: dict[str, Any] = {
        "run_id": 7,
        "fmc": "fmc-east",
        "action": "vdb-update",
        "status": status,
        "summary": "fmc-east: the Talos certificate was renewed",
        "failed_step": None,
        "step_output": "",
        "old_not_after": NOW + timedelta(days=2),
        "new_not_after": NOW + timedelta(days=367),
        "next_steps": (),
    }
    base.update(changes)
    return RemediationResult(**base)


def test_result_renewed_shows_old_and_new_expiry() -> None:
    """A renewed run shows the old and the new expiry."""
    message = build_result(_result(RunStatus.RENEWED))
    _valid(message)
    text = _all_text(message)
    assert "renewed" in text
    assert "*Old expiry*\n2026-11-29 10:00 UTC" in text
    assert "*New expiry*\n2027-11-29 10:00 UTC" in text


def test_result_not_renewed_lists_next_steps() -> None:
    """A run that did not renew lists the next steps."""
    message = build_result(
        _result(RunStatus.NOT_RENEWED, new_not_after=None, next_steps=("check cloud", "call TAC"))
    )
    _valid(message)
    text = _all_text(message)
    assert "not renewed" in text
    assert "• check cloud\n• call TAC" in text


def test_result_failed_shows_output_tail_in_code_block() -> None:
    """A failed run names the step and shows the end of a 10 KB output in a code block."""
    output = BIG + "\n```\nlast line: & <!channel> done"
    message = build_result(
        _result(RunStatus.FAILED, failed_step="install-vdb", step_output=output, summary=BIG)
    )
    _valid(message)
    text = _all_text(message)
    assert "failed at step *install-vdb*" in text
    code = next(t for _, t in _texts(list(message.blocks)) if "```" in t)
    assert code.count("```") == 2  # the output's own ``` cannot close the block early
    assert code.rstrip().endswith("last line: &amp; &lt;!channel&gt; done\n```")


def test_result_interrupted() -> None:
    """An interrupted run says so and asks to check the FMC."""
    message = build_result(_result(RunStatus.INTERRUPTED, new_not_after=None))
    _valid(message)
    assert "interrupted" in _all_text(message)
    assert "interrupted" in message.text


# ---------------------------------------------------------------- check, status, history


def test_check_results_one_and_many() -> None:
    """One FMC is shown in full; thirty are shown in part and listed, all within limits."""
    one = build_check_results([_finding()], now=NOW + timedelta(minutes=2))
    _valid(one)
    assert "fmc-east" in one.text
    assert "2 min ago" in _all_text(one)
    many = build_check_results(
        [_finding(f"fmc-{i}", days=i - 3, error=ErrorInfo("auth", BIG)) for i in range(30)],
        now=NOW,
    )
    _valid(many)
    assert "30 FMCs checked" in many.text
    _valid(build_check_results([], now=NOW))


def _stored(finding: Finding, index: int) -> StoredFinding:
    return StoredFinding(
        id=index,
        fmc=finding.name,
        checked_at=finding.checked_at - timedelta(hours=index),
        status=finding.status.value,
        scan_id="s1",
        data=finding_to_json(finding),
    )


def test_status_counts_and_soonest_expiries() -> None:
    """Status counts by status and lists the five soonest expiries with the last check."""
    findings = [_finding(f"fmc-{i}", days=10 * i + 1) for i in range(8)]
    findings.append(_finding("fmc-lost", days=None, error=ErrorInfo("auth", "no")))
    latest = [_stored(f, i) for i, f in enumerate(findings)]
    message = build_status(latest, now=NOW + timedelta(days=1), pending_approvals=2)
    _valid(message)
    text = _all_text(message)
    soonest = text.split("*Soonest expiries:*\n")[1].split("\n")[:5]
    assert [line.split("*")[1] for line in soonest] == [f"fmc-{i}" for i in range(5)]
    assert "expires within a day" in soonest[0]
    assert "Last check 2026-11-27 10:00 UTC (24 h ago)" in text
    assert "2 approvals pending" in text
    assert "9 FMCs" in message.text


def test_status_empty() -> None:
    """With no stored results, status says to run a scan."""
    message = build_status([], now=NOW)
    _valid(message)
    assert "/fmccert scan" in _all_text(message)


def test_history_runs_and_audit() -> None:
    """History lists runs (newest first) and audit entries, with mentions for Slack actors."""
    runs = [
        RemediationRun(
            id=i,
            fmc="fmc-east",
            action="vdb-update",
            status=RunStatus.FAILED if i % 2 else RunStatus.RENEWED,
            requested_by="U0ALICE",
            approved_by="U0BOB",
            owner="host:1",
            started_at=NOW + timedelta(hours=i),
            heartbeat_at=NOW,
            finished_at=NOW,
            failed_step="install-vdb" if i % 2 else None,
            summary=BIG,
            old_not_after=None,
            new_not_after=None,
            plan={},
        )
        for i in range(1, 13)
    ]
    audit = [
        AuditEntry(
            id=i,
            at=NOW + timedelta(minutes=i),
            actor="slack:U0ALICE",
            action="remediation.requested",
            fmc="fmc-east",
            detail={"run_id": i, "note": HOSTILE},
        )
        for i in range(20)
    ]
    message = build_history("fmc-east", runs, audit)
    _valid(message)
    text = _all_text(message)
    assert text.index("#12") < text.index("#11")
    assert "#2 " not in text  # only the ten newest runs
    assert "by <@U0ALICE>, approved by <@U0BOB>" in text
    assert "failed at install-vdb" in text
    assert "Showing 10 of 12 runs, 15 of 20 entries" in text
    empty = build_history(HOSTILE, [], [])
    _valid(empty)
    assert "none yet" in _all_text(empty)


# ---------------------------------------------------------------- small messages


def test_help_lists_verbs_and_names() -> None:
    """Help shows every verb and the FMC names, even for a thousand names."""
    message = build_help(fmc_names=["fmc-east", "fmc-west"])
    _valid(message)
    text = _all_text(message)
    for verb in ("help", "check NAME", "scan [TAG]", "status", "remediate NAME [ACTION]"):
        assert f"`/fmccert {verb}`" in text
    assert "`/fmccert history NAME`" in text
    assert "FMCs: fmc-east, fmc-west" in text
    many = build_help(fmc_names=[f"{HOSTILE}-{i}" for i in range(1000)])
    _valid(many)
    assert "more" in _all_text(many)


def test_error_and_working_escape_user_text() -> None:
    """Error and placeholder messages keep backticks but escape markup, and stay short."""
    error = build_error("Unknown FMC `fmc-eats`; did you mean `fmc-east`?")
    _valid(error)
    assert "Unknown FMC `fmc-eats`; did you mean `fmc-east`?" in _all_text(error)
    hostile = build_error(f"Unknown FMC `{HOSTILE}{BIG}`")
    _valid(hostile)
    assert len(hostile.text) <= 1000
    working = build_working("Checking fmc-east…")
    _valid(working)
    assert "Checking fmc-east…" in working.text
    _valid(build_working(BIG))


def test_closed_request_keeps_snooze_and_says_why() -> None:
    """Closing an incident's request drops Approve/Deny, keeps Snooze, and gives the reason."""
    from bot.slack.blocks import build_incident

    original = build_incident(_finding(), incident_id=3, approval_id=42)
    request = _request(
        ApprovalStatus.CLOSED, decided_by=None, closed_reason="superseded by request #43"
    )
    closed = build_decided(original, request=request, now=NOW)
    _valid(closed)
    buttons = [e["action_id"] for b in _blocks(closed, "actions") for e in b["elements"]]
    assert buttons == [SNOOZE_ACTION]
    assert "Request #42 closed at 2026-11-27 10:05 UTC: superseded by request #43" in (
        _all_text(closed)
    )
    assert closed.blocks[-1]["type"] == "actions"  # the reason reads before the Snooze button


def test_own_mentions_stay_mentions_and_hostile_ones_do_not() -> None:
    """fmccert's own <@U…> stays a mention; the same text from a user or an FMC is escaped."""
    from bot.slack.blocks import build_error, build_working

    own = build_error("This request was already denied by <@UAPPROVER>.", own_words=True)
    assert "denied by <@UAPPROVER>." in _all_text(own)
    hostile = build_error(f"fmccert cannot run it: {HOSTILE}")
    assert "&lt;@U999&gt;" in _all_text(hostile)
    assert "<@U999>" not in _all_text(hostile)
    mixed = build_error(f"from <@UAPPROVER>: {HOSTILE}", own_words=True)
    assert "&lt;!channel&gt;" in _all_text(mixed)  # own words never unescape a broadcast
    working = build_working(f"`/fmccert scan`: scanning FMCs tagged {HOSTILE}…", by="UALICE")
    assert working.text.startswith("<@UALICE> `/fmccert scan`")
    assert "<@UALICE> `/fmccert scan`" in _all_text(working)
    assert "&lt;!channel&gt;" in _all_text(working)


def test_a_closed_reason_keeps_the_deniers_mention() -> None:
    """A request closed by a Deny names the denier as a mention, not as escaped text."""
    request = _request(
        ApprovalStatus.CLOSED,
        decided_by=None,
        closed_reason="request #41 for fmc-east was denied by <@UAPPROVER>",
    )
    closed = build_decided(None, request=request, now=NOW)
    assert "was denied by <@UAPPROVER>" in _all_text(closed)


# ---------------------------------------------------------------- FTD (FN74284)


def _ftd(name: str = "fw-branch", **changes: Any) -> Finding:
    return dataclasses.replace(_finding(name, **changes), kind=DeviceKind.FTD)


def test_ftd_finding_reply_names_the_kind_and_the_fdm_path() -> None:
    """An FTD's reply says FTD in its title, fields and fallback, and that FDM installs the VDB."""
    message = build_finding_reply(_ftd(days=12), approval_id=None)
    _valid(message)
    text = _all_text(message)
    assert "*fw-branch* (FTD)" in text
    assert "FTD managed by FDM (FN74284)" in text
    assert "Device &gt; Updates" in text  # the FTD note, escaped for mrkdwn
    assert "not install_update.pl" in text
    assert message.text.startswith("fw-branch (FTD): warning")
    assert not _blocks(message, "actions")  # without an approval id: no buttons


def test_fmc_finding_reply_does_not_mention_ftd() -> None:
    """An FMC's reply reads as before: no kind tag, no FDM note."""
    text = _all_text(build_finding_reply(_finding(days=12), approval_id=None))
    assert "FTD" not in text
    assert "FDM" not in text


def test_healthy_ftd_gets_no_fdm_note() -> None:
    """With nothing to fix, an FTD's reply shows its kind but no FDM instructions."""
    text = _all_text(build_finding_reply(_ftd(days=200, version="7.6.1"), approval_id=None))
    assert "(FTD)" in text
    assert "Device &gt; Updates" not in text


def test_scan_alert_lists_an_ftd_with_its_kind() -> None:
    """The scan's needs-attention list tags the FTD's line with (FTD)."""
    report = ScanReport(
        findings=(_ftd(days=12), _finding("fmc-east", days=5)),
        started_at=NOW - timedelta(seconds=30),
        finished_at=NOW,
    )
    text = _all_text(build_scan_messages(report, title="Scan", now=NOW)[0])
    assert "*fw-branch* (FTD) warning" in text
    assert "*fmc-east* critical" in text


def test_home_counts_ftds_and_tags_their_expiries() -> None:
    """App Home's header counts FMCs and FTDs apart and tags an FTD's expiry line."""
    latest = [_stored(_ftd(days=12), 1), _stored(_finding("fmc-east", days=5), 2)]
    home = build_home(latest, now=NOW)
    text = json.dumps(home)
    assert "fmccert: 1 FMC, 1 FTD" in text
    assert "*fw-branch* (FTD)" in text
    assert "*fmc-east* (FTD)" not in text
