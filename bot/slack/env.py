"""Slack credentials and endpoints, read from the environment at the composition root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.errors import ConfigError
from bot.secrets import Secret


@dataclass(frozen=True, slots=True)
class SlackEnv:
    """SLACK_BOT_TOKEN, SLACK_APP_TOKEN (Socket Mode), SLACK_SIGNING_SECRET, SLACK_API_URL."""

    bot_token: Secret
    app_token: Secret | None
    signing_secret: Secret | None
    api_url: str | None

    @property
    def socket_mode(self) -> bool:
        """Socket Mode when an app-level token is set; HTTP otherwise."""
        return self.app_token is not None


def read_slack_env(environ: Mapping[str, str]) -> SlackEnv:
    """The Slack settings; a missing required variable is a ConfigError naming it."""
    bot_token = environ.get("SLACK_BOT_TOKEN")
    if not bot_token:
        raise ConfigError("environment variable SLACK_BOT_TOKEN is not set (the xoxb- bot token)")
    app_token = environ.get("SLACK_APP_TOKEN") or None
    signing_secret = environ.get("SLACK_SIGNING_SECRET") or None
    if app_token is None and signing_secret is None:
        raise ConfigError(
            "set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode): "
            "without either, Slack's requests cannot be received safely"
        )
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token (xapp-...)")
    api_url = environ.get("SLACK_API_URL") or None
    if api_url is not None and not api_url.endswith("/"):
        api_url += "/"  # slack-sdk joins base_url and the method name
    return SlackEnv(
        bot_token=Secret(bot_token),
        app_token=Secret(app_token) if app_token else None,
        signing_secret=Secret(signing_secret) if signing_secret else None,
        api_url=api_url,
    )
