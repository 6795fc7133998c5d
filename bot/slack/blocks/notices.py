"""Short messages: help, an error, a placeholder while work runs, the bot's own notices."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from bot.slack.blocks.kit import Message, context, message, section
from bot.slack.blocks.text import CONTEXT_TEXT_LIMIT, device_name, escaped_text, own_text, who

HELP_VERBS: tuple[tuple[str, str], ...] = (
    ("help", "this message"),
    ("check NAME", "read one FMC's certificate now"),
    ("scan [TAG]", "check every FMC (or those tagged TAG), answers in a thread"),
    ("status", "the fleet from the last results, without contacting any FMC"),
    ("remediate NAME [ACTION]", "ask approvers to run a fix (vdb-update or restart)"),
    ("history NAME", "past fixes and audit entries of one FMC"),
)


def build_help(*, fmc_names: Sequence[str]) -> Message:
    """The verbs of ``/fmccert`` and the FMC names it knows."""
    verbs = "\n".join(f"`/fmccert {verb}`: {what}" for verb, what in HELP_VERBS)
    blocks: list[Block] = [
        section(
            "*fmccert* checks and fixes FMC Talos client certificates "
            "(CSCwo63951: FMC 7.6.0/7.7.0 does not auto-renew).\n" + verbs
        )
    ]
    names, budget = [], CONTEXT_TEXT_LIMIT - 100
    for name in fmc_names:
        shown = device_name(name)
        budget -= len(shown) + 2
        if budget < 0:
            break
        names.append(shown)
    listed = ", ".join(names)
    if len(names) < len(fmc_names):
        listed += f" …and {len(fmc_names) - len(names)} more"
    blocks.append(context(f"FMCs: {listed}" if fmc_names else "No FMCs configured."))
    return message("fmccert help: " + ", ".join(verb for verb, _ in HELP_VERBS), blocks)


def build_error(text: str, *, own_words: bool = False) -> Message:
    """A short error for the user; ``text`` may hold user input (then nobody is mentioned).

    ``own_words``: fmccert composed all of ``text``; its ``<@U…>`` mentions stay mentions.
    """
    safe = own_text(text, 1000) if own_words else escaped_text(text, 1000)
    return message(safe, [section(f":warning: {safe}")])


def build_working(text: str, *, by: str | None = None) -> Message:
    """A placeholder ("Checking fmc-east…") that is edited once the work is done.

    ``text`` may hold user input (escaped); ``by``, a user id, is mentioned in front.
    """
    safe = escaped_text(text, 1000)
    if by is not None:
        safe = f"{who(by)} {safe}"
    return message(safe, [section(f":hourglass_flowing_sand: {safe}")])


def build_notice(text: str) -> Message:
    """A one-line notice from the bot itself (missed or skipped scheduled scans)."""
    return message(text, [section(f":alarm_clock: {escaped_text(text, 2900)}")])
