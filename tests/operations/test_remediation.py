"""Tests of planning, running and sweeping remediations through Operations.

The running bot sweeps for lost remediation runs periodically, not only at start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.config import AppConfig, load_config
from bot.errors import RemediationError
from bot.lab.scenarios import pick_scenarios
from bot.lab.server import start_lab
from bot.lab.slack.server import SlackStandIn
from bot.operations import Operations
from bot.remediation.service import THIS_PROCESS
from bot.secrets import Secret
from bot.slack.env import SlackEnv
from bot.slack.runtime import SlackBot
from bot.storage.records import RemediationRun, RunStatus
from bot.storage.sql import SqlStore, open_store
from tests.support.runs import begin_run
from tests.support.slack_fixtures import SECRET, slack_section


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


async def test_sweep_tells_the_listener_and_survives_its_failure(
    config: AppConfig, store: SqlStore
) -> None:
    """Operations.sweep hands swept runs to on_runs_interrupted; a failing listener is logged."""
    operations = Operations(config, store, clock=lambda: datetime.now(UTC))
    told: list[list[int]] = []

    async def listener(runs: object) -> None:
        told.append([run.id for run in runs])  # type: ignore[attr-defined]
        raise RuntimeError("Slack is down")

    operations.on_runs_interrupted = listener
    run = await begin_run(store, THIS_PROCESS.owner)
    swept = await operations.sweep()
    assert [r.id for r in swept] == [run.id]
    assert told == [[run.id]]


async def test_a_plan_that_cannot_be_made_is_audited_then_raised(
    operations: Operations, store: SqlStore
) -> None:
    """plan_fix records remediation.refused with the reason, then raises it."""
    with pytest.raises(RemediationError) as refused:
        await operations.plan_fix("fmc-east", "vdb-update", actor="slack:U0REQ")

    [entry] = await store.audit_log("fmc-east")
    assert (entry.actor, entry.action) == ("slack:U0REQ", "remediation.refused")
    assert entry.detail == {"action": "vdb-update", "reason": str(refused.value)}


async def test_history_holds_one_fmcs_newest_runs_and_entries(
    operations: Operations, store: SqlStore
) -> None:
    """history returns the newest runs and audit entries of one FMC, within the limits."""
    older = await begin_run(store, "bot-2:1:t")
    await store.finish_run(older.id, status=RunStatus.FAILED, now=datetime.now(UTC), summary="x")
    newer = await begin_run(store, "bot-2:1:t")
    await begin_run(store, "bot-2:1:t", fmc="fmc-west")
    await operations.record_trusted_key("fmc-east", "SHA256:k", replaced=False, actor="cli:al")
    await operations.record_trusted_key("fmc-west", "SHA256:k", replaced=False, actor="cli:al")

    history = await operations.history("fmc-east", runs=1, entries=5)

    assert [run.id for run in history.runs] == [newer.id]
    assert [(e.fmc, e.action) for e in history.audit] == [("fmc-east", "trust.added")]
