"""One FMC's finding: the reply about it, its fix in words, ``/fmccert check`` results."""

from __future__ import annotations

from datetime import timedelta

from bot.core.advisory import Action
from bot.core.error_kinds import ErrorKind
from bot.core.expiry import Status
from bot.core.findings import ErrorInfo
from bot.core.incidents import needs_attention
from bot.slack.blocks.findings import build_check_results, build_finding_reply
from tests.slack.blocks.helpers import (
    BIG,
    HOSTILE,
    NOW,
    all_text,
    assert_decision_buttons,
    assert_valid,
    blocks_of,
    buttons_of,
    make_finding,
    make_ftd,
)


def test_needs_attention_by_status_and_action() -> None:
    """Worrying statuses and any recommended fix need attention; healthy fixed FMCs do not."""
    assert not needs_attention(make_finding(days=300, version="7.6.1"))
    assert needs_attention(make_finding(days=300, version="7.6.0", vdb=400))  # vdb-update due
    assert needs_attention(make_finding(days=20, version="7.6.1"))  # warning
    assert needs_attention(make_finding(days=None, error=ErrorInfo(ErrorKind.AUTH, "denied")))


def test_finding_reply_with_buttons() -> None:
    """A VDB fix reply shows the facts, the fix in words and the Approve/Deny buttons."""
    finding = make_finding(days=5)
    assert finding.action is Action.VDB_UPDATE
    assert finding.status is Status.CRITICAL
    message = build_finding_reply(finding, approval_id=42)
    assert_valid(message)
    text = all_text(message)
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
    assert_decision_buttons(message, 42, "Approve VDB update")
    assert "fmc-east" in message.text
    assert "vdb-update" in message.text


def test_finding_reply_without_approval_has_no_buttons() -> None:
    """Without an approval id the reply carries no actions block."""
    message = build_finding_reply(make_finding(days=5), approval_id=None)
    assert_valid(message)
    assert blocks_of(message, "actions") == []


def test_finding_reply_restart_label() -> None:
    """The restart fix gets an ``Approve restart`` button."""
    finding = make_finding(days=-2, version="7.6.1")
    message = build_finding_reply(finding, approval_id=3, action_label="restart")
    assert_valid(message)
    assert_decision_buttons(message, 3, "Approve restart")


def test_finding_reply_upgrade_and_investigate_wording() -> None:
    """Upgrade names the fixed release; investigate says a human must look."""
    upgrade = build_finding_reply(make_finding(days=5, vdb=410), approval_id=None)
    assert_valid(upgrade)
    assert "Upgrade to 7.6.1" in all_text(upgrade)
    investigate = build_finding_reply(make_finding(days=2, version="7.4.2"), approval_id=None)
    assert_valid(investigate)
    assert "Investigate" in all_text(investigate)
    assert "*Affected by CSCwo63951*\nno" in all_text(investigate)


def test_finding_reply_unknown_shows_error() -> None:
    """An FMC that could not be checked shows the error kind, step and message."""
    error = ErrorInfo(ErrorKind.UNREACHABLE, "connection refused", "connect")
    message = build_finding_reply(
        make_finding(days=None, version=None, error=error), approval_id=None
    )
    assert_valid(message)
    text = all_text(message)
    assert "unknown" in text
    assert "expiry unknown" in text
    assert "unreachable, step connect: connection refused" in text
    assert "*Affected by CSCwo63951*\nunknown" in text


def test_finding_reply_hostile_input_is_escaped_and_bounded() -> None:
    """Mentions, ampersands and a 10 KB error stay escaped and within every limit."""
    finding = make_finding(
        HOSTILE * 20, days=None, error=ErrorInfo(ErrorKind.PROTOCOL, BIG, HOSTILE), host=HOSTILE
    )
    message = build_finding_reply(finding, approval_id=9, action_label=HOSTILE * 5)
    assert_valid(message)
    assert "&lt;!channel&gt; fmc &amp; &lt;@U999&gt;" in all_text(message)
    approve, _ = buttons_of(message)
    assert len(approve["text"]["text"]) <= 75
    assert approve["value"] == "approval:9"


def test_check_results_one_and_many() -> None:
    """One FMC is shown in full; thirty are shown in part and listed, all within limits."""
    one = build_check_results([make_finding()], now=NOW + timedelta(minutes=2))
    assert_valid(one)
    assert "fmc-east" in one.text
    assert "2 min ago" in all_text(one)
    many = build_check_results(
        [
            make_finding(f"fmc-{i}", days=i - 3, error=ErrorInfo(ErrorKind.AUTH, BIG))
            for i in range(30)
        ],
        now=NOW,
    )
    assert_valid(many)
    assert "30 FMCs checked" in many.text
    assert_valid(build_check_results([], now=NOW))


def test_ftd_finding_reply_names_the_kind_and_the_fdm_path() -> None:
    """An FTD's reply says FTD in its title, fields and fallback, and that FDM installs the VDB."""
    message = build_finding_reply(make_ftd(days=12), approval_id=None)
    assert_valid(message)
    text = all_text(message)
    assert "*fw-branch* (FTD)" in text
    assert "FTD managed by FDM (FN74284)" in text
    assert "Device &gt; Updates" in text  # the FTD note, escaped for mrkdwn
    assert "not install_update.pl" in text
    assert message.text.startswith("fw-branch (FTD): warning")
    assert not blocks_of(message, "actions")  # without an approval id: no buttons


def test_fmc_finding_reply_does_not_mention_ftd() -> None:
    """An FMC's reply reads as before: no kind tag, no FDM note."""
    text = all_text(build_finding_reply(make_finding(days=12), approval_id=None))
    assert "FTD" not in text
    assert "FDM" not in text


def test_healthy_ftd_gets_no_fdm_note() -> None:
    """With nothing to fix, an FTD's reply shows its kind but no FDM instructions."""
    text = all_text(build_finding_reply(make_ftd(days=200, version="7.6.1"), approval_id=None))
    assert "(FTD)" in text
    assert "Device &gt; Updates" not in text
