"""What every Slack surface needs, built once at the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import AppConfig
from bot.core.approval import ApprovalRules
from bot.operations import Operations
from bot.scanning import Clock
from bot.slack.poster import Poster
from bot.slack.tasks import TaskTracker


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
    from datetime import timedelta

    slack = config.raw.slack
    return ApprovalRules(
        approvers=frozenset(slack.approvers),
        approver_groups=frozenset(slack.approver_groups),
        command_channels=frozenset(slack.command_channels),
        two_person_rule=slack.two_person_rule,
        ttl=timedelta(hours=slack.approval_ttl_hours),
    )
