"""Run the bot: the HTTP server (/slack/events, /healthz) and, with an app token, Socket Mode.

``SlackBot`` is what `fmccert run` starts and what the tests start on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import AppConfig
from bot.core.audit import AuditAction
from bot.errors import ConfigError, FmccertError, StorageError
from bot.logs import register_secret
from bot.metrics import CONTENT_TYPE, Metrics
from bot.operations import Operations
from bot.operations.ports import Store
from bot.probe_worker import ProcessProber
from bot.probing import probe_device
from bot.scanning import Clock, Prober
from bot.scheduling import DigestSchedule, ScanSchedule, ScanScheduler, schedules_from_config
from bot.slack import blocks
from bot.slack.actions import report_interrupted
from bot.slack.alerts import publish_scheduled_scan
from bot.slack.app import build_app
from bot.slack.context import BotContext, rules_from_config
from bot.slack.env import SlackEnv
from bot.slack.front import CommandFront
from bot.slack.home import refresh_homes
from bot.slack.poster import API_TIMEOUT, Poster, build_web_client
from bot.slack.requests import show_closed
from bot.slack.tasks import TaskTracker
from bot.storage.leadership import Leadership, SoleProcess

log = logging.getLogger("bot.slack")

SWEEP_INTERVAL = 60.0
"""Seconds between sweeps for remediation runs no process runs any more (besides at start)."""


class SlackBot:
    """The running bot: start() it, read .port, close() it."""

    def __init__(
        self,
        config: AppConfig,
        store: Store,
        env: SlackEnv,
        *,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = 3000,
        post_interval: float = 1.0,
        progress_interval: float = 1.0,
        sweep_interval: float = SWEEP_INTERVAL,
        probe_in_worker: bool = False,
        leadership: Leadership | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.env = env
        self.clock = clock
        self.host = host
        self.port = port
        self.post_interval = post_interval
        self.progress_interval = progress_interval
        self.sweep_interval = sweep_interval
        self._sweeper: asyncio.Task[None] | None = None
        self.ready = False
        self.tasks = TaskTracker()
        self.metrics = Metrics()  # per bot: several bots in one process keep apart
        # SSH in a child process: a scan's sessions leave the loop to Slack's requests. The
        # worker reads the time itself, so only a bot on the real clock uses it (fmccert run).
        self._prober = (
            ProcessProber(verbose=logging.getLogger().isEnabledFor(logging.DEBUG))
            if probe_in_worker
            else None
        )
        probe: Prober = probe_device if self._prober is None else self._prober
        self.operations = Operations(config, store, clock=clock, probe=probe, metrics=self.metrics)
        for secret in (env.bot_token, env.app_token, env.signing_secret):
            register_secret(secret)
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._front: CommandFront | None = None
        self._http: aiohttp.ClientSession | None = None
        self.scheduler: ScanScheduler | None = None
        # Who runs the schedules among replicas; alone (tests, one process) this one does.
        self.leadership: Leadership = leadership if leadership is not None else SoleProcess()
        self._leading = False
        self._can_schedule = False  # set once start-up has what scheduled runs need
        self.app: AsyncApp | None = None
        self.ctx: BotContext | None = None

    async def start(self) -> None:
        """Check the token with Slack, sweep stale runs, serve HTTP, connect Socket Mode.

        First of all the schedules are checked and the election joined: a second process on
        one SQLite file is refused before it does anything.
        """
        self._check_schedules()
        await self.leadership.start(self._on_leadership)
        interrupted = await self.operations.sweep()  # before Slack: told below
        # /metrics is right after a restart, and lists FMCs no check has read yet.
        await self.operations.seed_metrics()
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=API_TIMEOUT),
            connector=aiohttp.TCPConnector(limit=50, keepalive_timeout=30),
        )
        client = build_web_client(self.env.bot_token.reveal(), self.env.api_url, session=self._http)
        try:
            auth = await client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response else "error"
            raise ConfigError(f"Slack rejected SLACK_BOT_TOKEN: {error}") from None
        except (SlackClientError, OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach Slack's Web API: {exc}") from None
        self.ctx = BotContext(
            config=self.config,
            operations=self.operations,
            poster=Poster(client, post_interval=self.post_interval, metrics=self.metrics),
            tasks=self.tasks,
            rules=rules_from_config(self.config),
            clock=self.clock,
            team_id=str(auth.get("team_id") or "") or None,
            progress_interval=self.progress_interval,
        )
        secret = self.env.signing_secret.reveal() if self.env.signing_secret else ""
        identity = AuthorizeResult(
            enterprise_id=auth.get("enterprise_id"),
            team_id=auth.get("team_id"),
            bot_user_id=auth.get("user_id"),
            bot_id=auth.get("bot_id"),
            bot_token=self.env.bot_token.reveal(),
        )
        self.app = build_app(self.ctx, client, signing_secret=secret, identity=identity)
        if self.env.app_token is None:  # HTTP mode: deliveries are signed with the secret
            self._front = CommandFront(self.ctx, signing_secret=secret)
        ctx = self.ctx
        self.operations.on_requests_closed = lambda closed: show_closed(ctx, closed)
        self.operations.on_runs_interrupted = lambda runs: report_interrupted(ctx, runs)
        if interrupted:  # runs a dead process left: their threads still say "waiting"
            self.tasks.spawn(report_interrupted(ctx, interrupted), name="report-interrupted")
        try:  # requests of FMCs removed from the config can never run: close them now
            await self.operations.close_orphan_requests(actor="system:config")
            await self.operations.expire_requests()
        except StorageError as exc:
            log.warning("could not close the requests of removed FMCs: %s", exc)
        await self._serve_http()
        self._sweeper = asyncio.create_task(self._sweep_periodically(), name="sweep")
        self._can_schedule = True
        if self._leading:
            self._start_schedule()
        if self.env.app_token is not None:
            self._socket = AsyncSocketModeHandler(self.app, self.env.app_token.reveal())
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
        self.ready = True
        mode = "Socket Mode" if self._socket else f"HTTP on {self.host}:{self.port}/slack/events"
        log.info("fmccert bot ready (%s, team %s)", mode, self.ctx.team_id)

    def _check_schedules(self) -> tuple[list[ScanSchedule], DigestSchedule | None]:
        scans, digest = schedules_from_config(self.config)
        if (scans or digest is not None) and not self.config.slack.alert_channel:
            raise ConfigError("schedule: scheduled scans need slack.alert_channel to post in")
        return scans, digest

    async def _on_leadership(self, leading: bool) -> None:
        self._leading = leading
        if not self._can_schedule:
            return  # start() starts the schedules once it can
        if leading:
            self._start_schedule()
        else:
            self._stop_schedule()

    def _start_schedule(self) -> None:
        scans, digest = self._check_schedules()
        if self.scheduler is not None or (not scans and digest is None):
            return
        operations = self.operations
        self.scheduler = ScanScheduler(
            scans,
            digest,
            run_scan=self.scheduled_scan,
            run_digest=self.digest,
            last_fire=operations.last_fire,
            record_fire=operations.record_fire,
            claim_fire=operations.claim_fire,
            on_skipped=self._skipped,
            clock=self.clock,
            database_now=operations.database_now,
        )
        # A missed scan runs now, in the background: start-up (and /healthz) need not wait.
        self.tasks.spawn(self.scheduler.catch_up(), name="catch-up")
        self.scheduler.start()

    def _stop_schedule(self) -> None:
        # Leadership lost: no fire of ours may follow, and runs in progress stop too.
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None

    async def _sweep_periodically(self) -> None:
        # A run this bot lost (a storage error) or a dead process's run frees its FMC
        # within a minute or two, not only at the next start.
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.operations.sweep()
                await self.operations.expire_requests()  # buttons of expired requests go
                if not self.leadership.leader:  # the leader's scans feed only its gauges
                    await self.operations.seed_metrics()
            except StorageError as exc:
                log.warning("sweeping remediation runs failed: %s", exc)
            except Exception:
                log.exception("sweeping remediation runs failed")

    @property
    def alert_channel(self) -> str:
        """Where scheduled scans post."""
        return self.config.slack.alert_channel or ""

    async def scheduled_scan(
        self, schedule: ScanSchedule, fire_time: datetime, missed: bool
    ) -> None:
        """One scheduled scan: scan, record, and carry out the incident rules in Slack.

        A scan that fails is said in the alert channel, not only logged.
        """
        try:
            await self._scheduled_scan(schedule, fire_time, missed)
        except Exception as exc:
            if isinstance(exc, FmccertError):
                why = str(exc)
            else:
                log.exception("the scheduled scan due %s failed", fire_time.isoformat())
                why = "something went wrong inside fmccert (see its log)"
            assert self.ctx is not None
            with contextlib.suppress(FmccertError):  # Slack itself may be what failed
                await self.ctx.poster.post(
                    self.alert_channel,
                    blocks.build_notice(
                        f"The scheduled scan due {fire_time:%Y-%m-%d %H:%M} UTC "
                        f"(`{schedule.cron}` {schedule.timezone}) failed: {why}"
                    ),
                )
            raise

    async def _scheduled_scan(
        self, schedule: ScanSchedule, fire_time: datetime, missed: bool
    ) -> None:
        assert self.ctx is not None
        where = f" of FMCs tagged {schedule.tag}" if schedule.tag else ""
        if missed:
            await self.ctx.poster.post(
                self.alert_channel,
                blocks.build_notice(
                    f"The scheduled scan{where} due {fire_time:%Y-%m-%d %H:%M} UTC "
                    f"(`{schedule.cron}` {schedule.timezone}) was missed while fmccert was "
                    "not running; running it now."
                ),
            )
        report = await self.operations.scan(
            actor="system:schedule", tag=schedule.tag, kind=AuditAction.SCHEDULED_SCAN
        )
        await publish_scheduled_scan(
            self.ctx,
            report,
            channel=self.alert_channel,
            title=f"Scheduled scan{where}",
            renotify=self.config.schedule.renotify,
        )
        await refresh_homes(self.ctx)

    async def digest(self, schedule: DigestSchedule, fire_time: datetime) -> None:
        """The daily digest: the fleet from the last results, with open incidents."""
        assert self.ctx is not None
        fleet = await self.operations.overview()
        message = blocks.build_status(
            fleet.latest,
            now=self.clock(),
            pending_approvals=len(fleet.pending_requests),
            open_incidents=fleet.incident_severities,
        )
        await self.ctx.poster.post(self.alert_channel, message)

    async def _skipped(self, schedule: ScanSchedule, fire_time: datetime, why: str) -> None:
        assert self.ctx is not None
        await self.ctx.poster.post(
            self.alert_channel,
            blocks.build_notice(f"The scheduled scan due {fire_time:%Y-%m-%d %H:%M} UTC was "
                                f"skipped: {why}."),
        )  # fmt: skip

    async def _serve_http(self) -> None:
        web_app = web.Application()
        web_app.router.add_get("/healthz", self._healthz)
        web_app.router.add_get("/metrics", self._metrics)
        if self.env.app_token is None:  # HTTP mode: Slack posts here, signed
            web_app.router.add_post("/slack/events", self._events)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        # A burst of Slack deliveries must not overflow the accept queue (aiohttp's default
        # is 128): overflowed connections are retried by the client after a delay.
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        addresses = self._runner.addresses  # the bound port, when asked for port 0
        if addresses:
            self.port = int(addresses[0][1])

    async def _events(self, request: web.Request) -> web.Response:
        assert self.app is not None
        assert self._front is not None
        self.tasks.delivery_arrived()
        body = await request.text()
        response = await self._front.answer(body, request.headers)
        if response is None:  # not a `/fmccert` command: Bolt's whole dispatch
            bolt_request = AsyncBoltRequest(
                body=body, query=request.query_string, headers=request.headers,  # type: ignore[arg-type]
            )  # fmt: skip
            response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    async def _healthz(self, request: web.Request) -> web.Response:
        if not self.ready:
            return web.json_response({"ok": False, "status": "starting"}, status=503)
        mode = "socket" if self._socket else "http"
        return web.json_response(
            {"ok": True, "mode": mode, "tasks": self.tasks.running,
             "leader": self.leadership.leader, "next_fire": self._next_fire()}
        )  # fmt: skip

    def _next_fire(self) -> str | None:
        """When this process next runs a schedule (ISO 8601); None on followers."""
        if self.scheduler is None:
            return None
        fires = [job.next_run_time for job in self.scheduler.jobs() if job.next_run_time]
        return min(fires).astimezone(UTC).isoformat() if fires else None

    async def _metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    async def close(self) -> None:
        """Stop taking requests, let running work finish briefly, then cancel it."""
        self.ready = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.leadership.close()
        self._stop_schedule()
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        await self.tasks.close(grace=5.0)
        if self._prober is not None:
            await self._prober.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()
