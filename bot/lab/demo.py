"""`fmccert demo`: the whole product on embedded defaults, no Slack workspace, no FMC.

It starts, all on loopback:
- a lab fleet with one emulated FMC per scenario (real SSH servers),
- a stand-in for Slack (Web API + Socket Mode) with a web console to look at it,
- the real bot (Socket Mode, SQLite storage in the demo folder), scanning at start and
  then on a short schedule, so alerts appear without typing anything.

The console's commands and clicks reach the bot exactly as Slack's would (Socket Mode
envelopes); the bot's Web API calls land in the stand-in, which the console shows.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bot.config import load_config
from bot.errors import UsageError
from bot.lab.scenarios import CATALOG, pick_scenarios
from bot.lab.server import start_lab
from bot.lab.slack.console import ConsoleUser
from bot.lab.slack.server import SlackStandIn
from bot.scheduling import schedules_from_config
from bot.secrets import Secret
from bot.slack.env import SlackEnv
from bot.slack.runtime import SlackBot
from bot.storage.sql import open_store

log = logging.getLogger("bot.demo")

CHANNEL = "CFMCALERTS"
CHANNEL_NAME = "fmc-alerts"
USERS = (
    ConsoleUser("UALICE", "Alice", "approver"),
    ConsoleUser("UBOB", "Bob", "requester (also an approver)"),
    ConsoleUser("UEVE", "Eve", "stranger"),
)


@dataclass(frozen=True, slots=True)
class DemoUrls:
    """Where a person looks once the demo runs."""

    console: str
    health: str
    metrics: str
    folder: Path


def _write_demo_config(folder: Path, lab_config: Path, scan_minutes: int) -> Path:
    data = yaml.safe_load(lab_config.read_text(encoding="utf-8"))
    data["slack"] = {
        "alert_channel": CHANNEL,
        "approvers": ["UALICE", "UBOB"],
        "two_person_rule": True,
        "approval_ttl_hours": 24,
    }
    data["schedule"] = {"scans": [{"cron": f"*/{scan_minutes} * * * *", "timezone": "UTC"}]}
    data["remediation"]["vdb_poll_interval_seconds"] = 1
    path = folder / "fmccert.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


async def run_demo(
    *,
    port: int = 8080,
    scan_minutes: int = 5,
    folder: Path | None = None,
    on_ready: Callable[[DemoUrls], None] = lambda urls: None,
    stop: asyncio.Event,
) -> None:
    """Run the demo until ``stop`` is set (the CLI sets it on SIGINT/SIGTERM)."""
    from bot.lab.slack.console import attach_console

    with tempfile.TemporaryDirectory(prefix="fmccert-demo-") as scratch:
        where = folder or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        # REST too: the demo's FMCs are read over SSH and the FMC REST API (access: both).
        lab = await start_lab(pick_scenarios(len(CATALOG)), now=now, install_delay=5.0, rest=True)
        try:
            lab.write_config(where / "lab.yaml", command_timeout=3, host_timeout=20, access="both")
            config = load_config(_write_demo_config(where, where / "lab.yaml", scan_minutes), {})
            names = {user.id: user.name for user in USERS}
            standin = SlackStandIn(users=names, channels={CHANNEL: CHANNEL_NAME}, port=port)
            try:
                await standin.start()
            except OSError as exc:
                raise UsageError(
                    f"cannot serve the console on 127.0.0.1:{port} ({exc.strerror or exc}); "
                    "choose another port with --port"
                ) from None
            try:
                console_url = attach_console(standin, channel=CHANNEL, users=USERS)
                store = await open_store(config.storage_url, base_dir=config.base_dir)
                # This console's workspace is new: incidents from an earlier run on the same
                # folder point at messages it never had, so the first scan posts them again.
                forgotten = await store.forget_incident_messages(now=datetime.now(UTC))
                if forgotten:
                    log.info("%d open incident(s) from an earlier run will be posted again",
                             forgotten)  # fmt: skip
                env = SlackEnv(
                    bot_token=Secret("xoxb-demo"),
                    app_token=Secret("xapp-demo"),
                    signing_secret=None,
                    api_url=standin.base_url,
                )
                bot = SlackBot(config, store, env, clock=lambda: datetime.now(UTC), port=0)
                try:
                    await bot.start()
                    await standin.wait_connected()
                    # A scan at start, so alerts appear without typing anything.
                    schedule = schedules_from_config(config)[0][0]
                    bot.tasks.spawn(
                        bot.scheduled_scan(schedule, datetime.now(UTC), False), name="first-scan"
                    )
                    base = f"http://127.0.0.1:{bot.port}"
                    on_ready(DemoUrls(console_url, f"{base}/healthz", f"{base}/metrics", where))
                    await stop.wait()
                finally:
                    await bot.close()
                    await store.close()
            finally:
                await standin.close()
        finally:
            await lab.close()
