"""The running bot sweeps for lost remediation runs periodically, not only at start."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bot.config import load_config
from bot.lab.scenarios import pick_scenarios
from bot.lab.server import start_lab
from bot.remediation.service import THIS_PROCESS
from bot.secrets import Secret
from bot.slack.env import SlackEnv
from bot.slack.runtime import SlackBot
from bot.slack.standin import SlackStandIn
from bot.storage.records import RemediationRun, RunStatus
from bot.storage.sql import open_store
from tests.slack.conftest import SECRET, slack_section


async def test_running_bot_sweeps_a_run_it_lost_within_its_sweep_interval(tmp_path: Path) -> None:
    """A run under the bot's own token that nothing executes is marked interrupted while it runs."""
    async with (
        SlackStandIn() as standin,
        await start_lab(pick_scenarios(1, ["affected-760-warning"]), now=datetime.now(UTC)) as lab,
    ):
        path = tmp_path / "fmccert.yaml"
        lab.write_config(path, connect_timeout=3, command_timeout=5, host_timeout=60)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["slack"] = slack_section()
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        config = load_config(path, {})
        store = await open_store(config.storage_url, base_dir=config.base_dir)
        env = SlackEnv(
            bot_token=Secret("xoxb-test"),
            app_token=None,
            signing_secret=Secret(SECRET),
            api_url=standin.base_url,
        )
        bot = SlackBot(config, store, env, clock=lambda: datetime.now(UTC), port=0,
                       post_interval=0.05, sweep_interval=0.2)  # fmt: skip
        await bot.start()
        told: asyncio.Queue[Sequence[RemediationRun]] = asyncio.Queue()
        slack_says = bot.operations.on_runs_interrupted

        async def listen(runs: Sequence[RemediationRun]) -> None:
            told.put_nowait(runs)
            if slack_says is not None:
                await slack_says(runs)

        bot.operations.on_runs_interrupted = listen
        try:
            lost = await store.begin_run(
                fmc=lab.hosts[0].name,
                action="vdb-update",
                requested_by="slack:UREQUESTER",
                approved_by="slack:UAPPROVER",
                owner=THIS_PROCESS.owner,  # as after a storage error ended its execution
                plan={},
                now=datetime.now(UTC),
            )
            async with asyncio.timeout(10):
                swept = await told.get()
            assert [r.id for r in swept] == [lost.id]
            run = await store.run(lost.id)
            assert run is not None
            assert run.status is RunStatus.INTERRUPTED
        finally:
            await bot.close()
            await store.close()
