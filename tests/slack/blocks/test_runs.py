"""A remediation run: its progress checklist and its verified result."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.remediation.service import ProgressEvent, ProgressState, RemediationResult
from bot.slack.blocks.runs import build_progress, build_result
from bot.storage.records import RunStatus
from tests.slack.blocks.helpers import BIG, HOSTILE, NOW, all_text, assert_valid, texts_in


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
    assert_valid(message)
    text = all_text(message)
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
    assert_valid(message)


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
    assert_valid(message)
    text = all_text(message)
    assert "renewed" in text
    assert "*Old expiry*\n2026-11-29 10:00 UTC" in text
    assert "*New expiry*\n2027-11-29 10:00 UTC" in text


def test_result_not_renewed_lists_next_steps() -> None:
    """A run that did not renew lists the next steps."""
    message = build_result(
        _result(RunStatus.NOT_RENEWED, new_not_after=None, next_steps=("check cloud", "call TAC"))
    )
    assert_valid(message)
    text = all_text(message)
    assert "not renewed" in text
    assert "• check cloud\n• call TAC" in text


def test_result_failed_shows_output_tail_in_code_block() -> None:
    """A failed run names the step and shows the end of a 10 KB output in a code block."""
    output = BIG + "\n```\nlast line: & <!channel> done"
    message = build_result(
        _result(RunStatus.FAILED, failed_step="install-vdb", step_output=output, summary=BIG)
    )
    assert_valid(message)
    text = all_text(message)
    assert "failed at step *install-vdb*" in text
    code = next(t for _, t in texts_in(list(message.blocks)) if "```" in t)
    assert code.count("```") == 2  # the output's own ``` cannot close the block early
    assert code.rstrip().endswith("last line: &amp; &lt;!channel&gt; done\n```")


def test_result_interrupted() -> None:
    """An interrupted run says so and asks to check the FMC."""
    message = build_result(_result(RunStatus.INTERRUPTED, new_not_after=None))
    assert_valid(message)
    assert "interrupted" in all_text(message)
    assert "interrupted" in message.text
