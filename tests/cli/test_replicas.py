"""Two real `fmccert run` processes on one PostgreSQL database behave as one bot.

The schedule fires every minute, so this waits for one fire (up to a minute): replica A
leads and runs it, exactly once while both replicas live; B answers an App Home opening
that A's scan then refreshes; A is killed with SIGKILL and B takes over within 30 s, its
/healthz naming the next fire it will run; B handles the click on the request A posted.
(That the elected process starts the cron jobs, and the deposed one drops them, is tested
in tests/slack/test_leadership.py; a fire run once across leaders, in the storage and
scheduler tests.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.lab.process import spawn_lab
from bot.lab.slack.payloads import (
    app_home_opened_event,
    block_actions_payload,
    find_action,
    interactive_form,
)
from bot.lab.slack.server import SlackStandIn
from bot.lab.slack.workspace import StoredMessage
from bot.slack.ids import APPROVE_ACTION
from tests.cli.process import start_fmccert
from tests.storage.pg import clean_postgres

SECRET = "replica-signing-secret"
CHANNEL = "COPS"
APPROVER, VIEWER = "UAPPROVER", "UVIEWER"
READY = re.compile(r"fmccert bot ready .*http://127\.0\.0\.1:(\d+)/healthz")


@dataclass
class Replica:
    """One `fmccert run` process and what it has written on stderr."""

    name: str
    process: asyncio.subprocess.Process
    port: int
    log: list[str] = field(default_factory=list)
    drain: asyncio.Task[None] | None = None

    def url(self, path: str = "/slack/events") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def health(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.get(self.url("/healthz")) as r:
            assert r.status == 200, await r.text()
            data: dict[str, Any] = await r.json()
            return data

    async def wait_leader(self, leading: bool, within: float) -> float:
        """Seconds until /healthz says ``leader: leading``."""
        started = time.monotonic()
        async with asyncio.timeout(within):
            while True:  # polled: another process's state
                if (await self.health())["leader"] is leading:
                    break
                await asyncio.sleep(0.2)
        return time.monotonic() - started


async def _start(name: str, config: Path, env: dict[str, str]) -> Replica:
    process = await start_fmccert("run", "--config", str(config), "--port", "0", env=env)
    assert process.stderr is not None
    seen: list[str] = []
    while True:
        line = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
        assert line, f"replica {name} ended early: {''.join(seen)}"
        seen.append(line)
        match = READY.search(line)
        if match:
            break
    replica = Replica(name, process, int(match.group(1)), seen)

    async def drain() -> None:  # a full pipe would block the process
        assert process.stderr is not None
        async for raw in process.stderr:
            replica.log.append(raw.decode())

    replica.drain = asyncio.create_task(drain())
    return replica


async def _stop(replica: Replica) -> None:
    if replica.process.returncode is None:
        replica.process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(replica.process.wait(), 30)
    if replica.process.returncode is None:
        replica.process.kill()
        await replica.process.wait()
    if replica.drain is not None:
        await replica.drain


@contextlib.asynccontextmanager
async def _fleet(tmp_path: Path, db_url: str, standin: SlackStandIn) -> AsyncIterator[Path]:
    """Two lab FMCs needing a fix, and a config scanning them every minute on PostgreSQL."""
    config = tmp_path / "fmccert.yaml"
    lab = spawn_lab(2, config, scenarios=["affected-760-warning", "affected-770-critical"])
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        data["storage"] = {"url": db_url}
        data["slack"] = {"alert_channel": CHANNEL, "approvers": [APPROVER]}
        data["schedule"] = {"scans": [{"cron": "* * * * *", "timezone": "UTC"}]}
        config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        yield config
    finally:
        lab.terminate()
        lab.wait(timeout=30)


async def _scheduled_scans(db_url: str) -> list[str]:
    """The minute (UTC, ``HH:MM``) of each scheduled scan in the audit, oldest first.

    A minutely cron's scan is recorded seconds after its fire, so two records in one
    minute would be one fire run twice.
    """
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT at FROM audit_log WHERE action = 'scheduled-scan' ORDER BY id")
            )
            return [f"{at:%H:%M}" for (at,) in rows]
    finally:
        await engine.dispose()


async def _wait_scans(db_url: str, count: int, within: float) -> list[str]:
    async with asyncio.timeout(within):
        while True:  # polled: rows another process writes
            scans = await _scheduled_scans(db_url)
            if len(scans) >= count:
                return scans
            await asyncio.sleep(1.0)


def _approve_button(standin: SlackStandIn) -> StoredMessage | None:
    for parent in standin.messages(CHANNEL):
        for message in [parent, *standin.thread(CHANNEL, parent.ts)]:
            if find_action(message.blocks, APPROVE_ACTION):
                return message
    return None


async def _click(standin: SlackStandIn, replica: Replica, message: StoredMessage) -> int:
    found = find_action(message.blocks, APPROVE_ACTION)
    assert found is not None
    block_id, element = found
    payload = block_actions_payload(
        user_id=APPROVER, action_id=APPROVE_ACTION, value=element.get("value"),
        block_id=block_id, channel_id=message.channel, message=message.to_payload(),
        response_url=standin.response_url(channel=message.channel, user_id=APPROVER),
    )  # fmt: skip
    status, _, _ = await standin.post_signed(
        replica.url(), interactive_form(payload), secret=SECRET
    )
    return status


def _publishes_to(standin: SlackStandIn, user: str) -> int:
    return sum(
        1 for call in standin.calls_to("views.publish") if call.params.get("user_id") == user
    )


@pytest.mark.timeout(180)  # a fire of a minutely cron, waited for on the wall clock
async def test_two_replicas_schedule_once_take_over_and_share_clicks(tmp_path: Path) -> None:
    """One scheduled scan per fire; SIGKILL the leader and the other leads within 30 s."""
    async with clean_postgres() as db_url, SlackStandIn() as standin:
        env = {"SLACK_BOT_TOKEN": "xoxb-replicas", "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": standin.base_url}  # fmt: skip
        async with _fleet(tmp_path, db_url, standin) as config:
            a = await _start("A", config, env)
            b: Replica | None = None
            try:
                await a.wait_leader(True, within=15)
                b = await _start("B", config, env)
                await asyncio.sleep(1.0)
                assert (await b.health())["leader"] is False

                # B sees the App Home opened; A, the leader, refreshes it after its scan.
                home = json.dumps(app_home_opened_event(VIEWER))
                status, _, _ = await standin.post_signed(
                    b.url(), home, secret=SECRET, content_type="application/json"
                )
                assert status == 200
                await standin.wait_for(lambda: _publishes_to(standin, VIEWER) >= 1, timeout=15)

                first = await _wait_scans(db_url, 1, within=90)
                request = await standin.wait_for(lambda: _approve_button(standin), timeout=30)
                await standin.wait_for(lambda: _publishes_to(standin, VIEWER) >= 2, timeout=30)
                assert first == await _scheduled_scans(db_url)  # B ran nothing meanwhile

                a.process.kill()  # SIGKILL: no goodbye, the lock goes with its session
                await a.process.wait()
                takeover = await b.wait_leader(True, within=30)
                assert takeover < 30
                next_fire = (await b.health())["next_fire"]
                assert next_fire is not None
                assert next_fire.endswith(":00+00:00")

                # The request A posted is approved on B, and B runs the fix.
                assert await _click(standin, b, request) == 200
                await standin.wait_for(
                    lambda: any(
                        "renewed" in m.text.lower()
                        for m in standin.thread(CHANNEL, request.thread_ts or request.ts)
                    ),
                    timeout=90,
                )

                scans = await _scheduled_scans(db_url)
                assert scans[0] == first[0]  # B did not run A's fire again on taking over
                assert len(set(scans)) == len(scans), scans  # no fire ran twice
                assert not any("Traceback" in line for line in a.log + b.log), "".join(b.log)
            finally:
                await _stop(a)
                if b is not None:
                    await _stop(b)
