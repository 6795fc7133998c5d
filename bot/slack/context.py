"""What every Slack surface needs, built once at the composition root."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.config import AppConfig
from bot.core.approval import ApprovalRules
from bot.errors import FmccertError
from bot.operations import Operations
from bot.scanning import Clock
from bot.slack.poster import Poster
from bot.slack.tasks import TaskTracker

log = logging.getLogger("bot.slack")


@dataclass(frozen=True, slots=True)
class BotContext:
    """The bot's collaborators: config, operations, Slack voice, background tasks, rules."""

    config: AppConfig
    operations: Operations
    poster: Poster
    tasks: TaskTracker
    rules: ApprovalRules
    clock: Clock
    team_id: str | None = None  # from auth.test: requests from other workspaces are ignored
    progress_interval: float = 1.0  # minimum seconds between edits of a progress message


def rules_from_config(config: AppConfig) -> ApprovalRules:
    """The approval rules of the config's ``slack:`` section."""
    slack = config.slack
    return ApprovalRules(
        approvers=frozenset(slack.approvers),
        approver_groups=frozenset(slack.approver_groups),
        command_channels=frozenset(slack.command_channels),
        two_person_rule=slack.two_person_rule,
        ttl=slack.approval_ttl,
        scan_requesters=None if slack.scan_requesters is None else frozenset(slack.scan_requesters),
        scan_requester_groups=(
            None if slack.scan_requester_groups is None else frozenset(slack.scan_requester_groups)
        ),
        scans_per_user_per_hour=slack.scans_per_user_per_hour,
    )


async def user_groups(ctx: BotContext, user: str) -> frozenset[str]:
    """The approver and scan-requester groups ``user`` belongs to (cached; unreadable skipped)."""
    wanted = ctx.rules.approver_groups | (ctx.rules.scan_requester_groups or frozenset())
    groups = set()
    for group in sorted(wanted):
        try:
            if user in await ctx.poster.group_members(group):
                groups.add(group)
        except FmccertError as exc:
            log.warning("cannot read user group %s: %s", group, exc)
    return frozenset(groups)
