"""Tests of `fmccert run` as a real process: start-up, /healthz, shutdown, bad environment."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp
import yaml

from bot.lab.slack.server import SlackStandIn
from tests.cli.process import assert_one_line_error, fmccert, start_fmccert


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "fmccert.yaml"
    (tmp_path / "pw").write_text("secret\n", encoding="utf-8")
    data = {
        "defaults": {"password_file": "pw"},
        "fmcs": [{"name": "fmc-east", "host": "127.0.0.1", "port": 1}],
        "slack": {"alert_channel": "COPS", "approvers": ["U1"]},
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _http_env(standin: SlackStandIn) -> dict[str, str]:
    """HTTP mode against the stand-in."""
    return {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_API_URL": standin.base_url,
    }


async def _started_run(
    config: Path, env: dict[str, str]
) -> tuple[asyncio.subprocess.Process, str, re.Match[str]]:
    """`fmccert run` on a free port, once it says where its /healthz is: process, stderr."""
    process = await start_fmccert("run", "--config", str(config), "--port", "0", env=env)
    assert process.stderr is not None
    seen = ""
    match = None
    while match is None:
        line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
        assert line, f"fmccert run ended early: {seen}"
        seen += line
        match = re.search(r"http://127\.0\.0\.1:(\d+)/healthz", line)
    return process, seen, match


async def test_run_serves_healthz_and_stops_on_sigterm(tmp_path: Path) -> None:
    """In HTTP mode the bot checks its token, serves /healthz, and exits 0 on SIGTERM."""
    async with SlackStandIn() as standin:
        env = _http_env(standin)
        process, seen, match = await _started_run(_config(tmp_path), env)
        assert "Traceback" not in seen
        assert "WARNING" not in seen, seen
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{match.group(1)}/healthz") as response,
        ):
            assert response.status == 200
            assert (await response.json())["mode"] == "http"
        assert standin.calls_to("auth.test")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert (tmp_path / "var" / "fmccert.db").exists()


async def test_run_without_tokens_is_a_one_line_error(tmp_path: Path) -> None:
    """Missing SLACK_BOT_TOKEN, or neither app token nor signing secret: one line, exit 3."""
    config = _config(tmp_path)
    result = await fmccert("run", "--config", str(config), env={"SLACK_BOT_TOKEN": ""})
    assert_one_line_error(result, "SLACK_BOT_TOKEN")
    result = await fmccert(
        "run", "--config", str(config),
        env={"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_APP_TOKEN": "", "SLACK_SIGNING_SECRET": ""},
    )  # fmt: skip
    assert_one_line_error(result, "SLACK_APP_TOKEN")


async def test_run_with_a_rejected_token_says_so(tmp_path: Path) -> None:
    """A token Slack refuses stops the bot with Slack's reason, not a traceback."""
    async with SlackStandIn() as standin:
        standin.fail_next("auth.test", status=200, error="invalid_auth", retry_after=None)
        env = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "s3cret",
            "SLACK_API_URL": standin.base_url,
        }
        result = await fmccert("run", "--config", str(_config(tmp_path)), "--port", "0", env=env)
    assert_one_line_error(result, "Slack rejected SLACK_BOT_TOKEN: invalid_auth")


async def test_a_second_run_on_one_sqlite_file_is_refused_in_one_line(tmp_path: Path) -> None:
    """SQLite serves one bot process: a second `fmccert run` exits 3 naming storage.url."""
    async with SlackStandIn() as standin:
        env = _http_env(standin)
        config = _config(tmp_path)
        first, _, _ = await _started_run(config, env)
        try:
            second = await fmccert("run", "--config", str(config), "--port", "0", env=env)
            assert_one_line_error(second, "another fmccert process", "storage.url")
            assert first.returncode is None  # the first one is untouched
        finally:
            first.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(first.wait(), 30) == 0
        # Once the first has stopped, the file is free for the next process.
        third, _, _ = await _started_run(config, env)
        third.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(third.wait(), 30) == 0
