"""The bot and its election: only the leader schedules; followers keep their gauges current."""

from __future__ import annotations

import aiohttp

from bot.storage.leadership import OnChange
from tests.support.slack_fixtures import Site, SiteFactory


class Election:
    """A leadership decided by the test: it says when this bot leads and when it stops."""

    def __init__(self, *, leader: bool) -> None:
        self._leader = leader
        self._on_change: OnChange | None = None

    @property
    def leader(self) -> bool:
        return self._leader

    async def start(self, on_change: OnChange) -> None:
        self._on_change = on_change
        if self._leader:
            await on_change(True)

    async def close(self) -> None:
        self._leader = False

    async def decide(self, leading: bool) -> None:
        assert self._on_change is not None
        self._leader = leading
        await self._on_change(leading)


async def _health(site: Site, bot: object) -> dict[str, object]:
    url = site.url(bot, "/healthz")  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        data: dict[str, object] = await response.json()
        return data


async def test_only_the_leader_schedules_and_stops_the_moment_it_is_not(
    site_factory: SiteFactory,
) -> None:
    """A follower has no cron jobs; elected it starts them; deposed it drops them at once."""
    site = await site_factory(schedule={"scans": [{"cron": "0 6 * * *", "timezone": "UTC"}]})
    election = Election(leader=False)
    bot = await site.start_bot(leadership=election)
    assert bot.scheduler is None
    assert (await _health(site, bot))["leader"] is False
    assert (await _health(site, bot))["next_fire"] is None
    await election.decide(True)
    assert bot.scheduler is not None
    assert [job.id for job in bot.scheduler.jobs()] == [s.key for s in bot.scheduler.schedules]
    health = await _health(site, bot)
    assert health["leader"] is True
    assert str(health["next_fire"]).endswith("T06:00:00+00:00")
    await election.decide(False)
    assert bot.scheduler is None
    assert (await _health(site, bot))["next_fire"] is None


async def test_a_follower_shows_the_leaders_results_in_its_metrics(site: Site) -> None:
    """Each sweep a follower reloads the fleet gauges the leader's scans changed."""
    fmc = site.names()["affected-760-warning"]
    leader = await site.start_bot()
    follower = await site.start_bot(leadership=Election(leader=False), sweep_interval=0.2)
    line = f'fmccert_certificate_not_after_seconds{{fmc="{fmc}"'
    assert line not in follower.metrics.render().decode()
    status, _, _ = await site.command(leader, f"check {fmc}")
    assert status == 200
    await site.standin.wait_for(lambda: line in follower.metrics.render().decode(), timeout=30)
