"""`fmccert run`: the Slack bot, until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys

from bot.cli.common import load, opened_store, stop_event, utc_now
from bot.slack.env import read_slack_env


def command_run(args: argparse.Namespace) -> int:
    """Serve Slack (Socket Mode with SLACK_APP_TOKEN, else HTTP) and /healthz."""
    from bot.slack.runtime import SlackBot
    from bot.storage.leadership import leadership_for
    from bot.storage.sql import SqlStore

    config = load(args)
    env = read_slack_env(os.environ)

    async def serve() -> None:
        stopped = stop_event()
        async with opened_store(config) as store:
            assert isinstance(store, SqlStore)
            # Replicas on PostgreSQL elect the one that schedules; SQLite takes one process.
            leadership = leadership_for(store.engine, storage_url=config.storage_url)
            bot = SlackBot(
                config, store, env, clock=utc_now, host=args.host, port=args.port,
                probe_in_worker=True,  # SSH in a child: the loop stays free for Slack
                leadership=leadership,
            )  # fmt: skip
            try:
                await bot.start()
                # What start-up built lives as long as the process: out of the collector's
                # sight, a full collection during a burst of deliveries has less to walk.
                gc.freeze()
                mode = "Socket Mode" if env.socket_mode else "HTTP, POST /slack/events"
                print(
                    f"fmccert bot ready ({mode}); health: http://{args.host}:{bot.port}/healthz",
                    file=sys.stderr,
                    flush=True,
                )
                await stopped.wait()
            finally:
                await bot.close()

    asyncio.run(serve())
    return 0
