"""A remediation run: its checklist while it runs, its verified result, or its interruption."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import Block

from bot.remediation.service import ProgressEvent, ProgressState, RemediationResult
from bot.slack.blocks.kit import Message, context, fields, message, section
from bot.slack.blocks.text import (
    MESSAGE_LIMIT,
    code_block,
    device_name,
    escaped_text,
    oneline,
    plural,
    utc,
)
from bot.storage.records import RemediationRun, RunStatus

RUN_EMOJI: Mapping[RunStatus, str] = {
    RunStatus.RUNNING: ":gear:",
    RunStatus.RENEWED: ":white_check_mark:",
    RunStatus.NOT_RENEWED: ":warning:",
    RunStatus.FAILED: ":x:",
    RunStatus.INTERRUPTED: ":octagonal_sign:",
}
_STATE_EMOJI: Mapping[str, str] = {
    ProgressState.STARTED: ":hourglass_flowing_sand:",
    ProgressState.WAITING: ":hourglass_flowing_sand:",
    ProgressState.OK: ":white_check_mark:",
    ProgressState.SKIPPED: ":fast_forward:",
    ProgressState.FAILED: ":x:",
}


def build_progress(
    event: ProgressEvent, *, fmc: str, action: str, steps_done: Sequence[tuple[str, str]]
) -> Message:
    """A run's checklist, edited in place: finished steps, then the current one."""
    lines: list[str] = []
    done = list(steps_done)[-30:]  # a checklist, not a log
    current_listed = False
    for name, state in done:
        emoji = _STATE_EMOJI.get(state, ":white_small_square:")
        line = f"{emoji} {oneline(name, 60)}"
        if name == event.step:
            current_listed = True
            line = f"{_STATE_EMOJI.get(event.state, emoji)} *{oneline(name, 60)}*"
            if event.message:
                line += f": {oneline(event.message, MESSAGE_LIMIT)}"
        lines.append(line)
    if not current_listed:
        line = f"{_STATE_EMOJI.get(event.state, ':gear:')} *{oneline(event.step, 60)}*"
        if event.message:
            line += f": {oneline(event.message, MESSAGE_LIMIT)}"
        lines.append(line)
    if event.total and event.index < event.total:
        lines.append(f":white_small_square: {plural(event.total - event.index, 'more step')}")
    position = f"step {event.index} of {event.total}" if event.total else "starting"
    title = (
        f":gear: *{oneline(action, 40)}* on *{device_name(fmc)}* (run #{event.run_id}): {position}"
    )
    blocks: list[Block] = [section(title), section("\n".join(lines))]
    text = (
        f"{oneline(action, 40)} on {device_name(fmc)}: {position}, "
        f"{oneline(event.step, 60)} {event.state.value}"
    )
    return message(text, blocks)


def build_interrupted(run: RemediationRun) -> Message:
    """A run the sweep found dead: say so where its progress stopped, and what to do."""
    fmc, action = device_name(run.fmc), oneline(run.action, 40)
    why = escaped_text(run.summary or "the process running it stopped", 1000)
    text = (
        f":warning: *{action}* on *{fmc}* (run #{run.id}) was interrupted: {why}. "
        f"The FMC may be part-way through it: check it with `/fmccert check {fmc}`, "
        "then ask for the fix again if it is still needed."
    )
    return message(text.replace("*", ""), [section(text)])


def build_result(result: RemediationResult) -> Message:
    """The verified outcome of a run: renewed, not renewed, failed at a step, interrupted."""
    fmc, action = device_name(result.fmc), oneline(result.action, 40)
    emoji = RUN_EMOJI.get(result.status, ":grey_question:")
    if result.status is RunStatus.RENEWED:
        headline = f"{emoji} *{fmc}*: the Talos certificate was renewed by *{action}*"
    elif result.status is RunStatus.NOT_RENEWED:
        headline = f"{emoji} *{fmc}*: *{action}* ran, but the certificate was not renewed"
    elif result.status is RunStatus.FAILED:
        step = oneline(result.failed_step or "unknown", 60)
        headline = f"{emoji} *{fmc}*: *{action}* failed at step *{step}*"
    elif result.status is RunStatus.INTERRUPTED:
        headline = f"{emoji} *{fmc}*: *{action}* was interrupted; check the FMC first"
    else:
        headline = f"{emoji} *{fmc}*: *{action}* is {result.status.value}"
    blocks: list[Block] = [section(headline)]
    blocks.append(
        fields(
            [
                ("Old expiry", utc(result.old_not_after)),
                ("New expiry", utc(result.new_not_after)),
            ]
        )
    )
    if result.summary:
        blocks.append(section(escaped_text(result.summary, 2000)))
    if result.status is RunStatus.FAILED and result.step_output.strip():
        blocks.append(
            section(f"*Output of the step (end):*\n{code_block(result.step_output, 2900)}")
        )
    if result.next_steps:
        steps = [f"• {oneline(step, 400)}" for step in result.next_steps[:10]]
        blocks.append(section("*Next steps:*\n" + "\n".join(steps)))
    blocks.append(context(f"Run #{result.run_id}"))
    text = f"{fmc}: {action} {result.status.value.replace('_', ' ')}"
    return message(text, blocks)
