"""Tests of how `fmccert run` builds its bot: SSH probes run in a worker process."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

import bot.slack.runtime
from bot.cli.run import command_run
from bot.errors import ConfigError


class _RecordingBot:
    """Stands in for SlackBot: records how it was built, then fails to start."""

    built: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, **options: Any) -> None:
        _RecordingBot.built = options

    async def start(self) -> None:
        raise ConfigError("stop here")

    async def close(self) -> None:
        pass


def test_run_probes_in_a_worker_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`fmccert run` asks its SlackBot to probe FMCs in a child process."""
    config = tmp_path / "fmccert.yaml"
    (tmp_path / "pw").write_text("secret\n", encoding="utf-8")
    data = {
        "defaults": {"password_file": "pw"},
        "fmcs": [{"name": "fmc-east", "host": "127.0.0.1", "port": 1}],
    }
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.setattr(bot.slack.runtime, "SlackBot", _RecordingBot)
    args = argparse.Namespace(config=str(config), host="127.0.0.1", port=0)
    with pytest.raises(ConfigError, match="stop here"):
        command_run(args)
    assert _RecordingBot.built["probe_in_worker"] is True
