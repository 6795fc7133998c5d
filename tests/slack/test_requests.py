"""Approvals that stay true: one live request per FMC and action, closed once untrue.

Through the real bot (signed HTTP), the lab behind it and the Slack stand-in: a Deny
stops the fix for good, a newer alert supersedes the older one, a renewal, a finished run
or a removed FMC closes what is open, and a stale click is refused with the reason.
"""

from __future__ import annotations

from typing import Any

import yaml

from bot.core.approval import ApprovalStatus
from bot.lab.slack.payloads import find_action
from bot.lab.slack.workspace import StoredMessage
from bot.slack.ids import APPROVE_ACTION, DENY_ACTION
from bot.slack.runtime import SlackBot
from tests.support.slack_fixtures import APPROVER, CHANNEL, GROUPIE, Site, SiteFactory

WARN = "affected-760-warning"


async def _with_buttons(
    site: Site, fmc: str, *, not_: StoredMessage | None = None
) -> StoredMessage:
    """The newest message about ``fmc`` that carries Approve (other than ``not_``)."""

    def find() -> StoredMessage | None:
        found = [
            m
            for parent in site.standin.messages(CHANNEL)
            for m in [parent, *site.standin.thread(CHANNEL, parent.ts)]
            if fmc in m.text
            and find_action(m.blocks, APPROVE_ACTION)
            and (not_ is None or m.ts != not_.ts)
        ]
        return found[-1] if found else None

    return await site.standin.wait_for(find, timeout=30)


def _current(site: Site, message: StoredMessage) -> StoredMessage:
    """The message as Slack shows it now (after any edits)."""
    for parent in site.standin.messages(CHANNEL):
        for m in [parent, *site.standin.thread(CHANNEL, parent.ts)]:
            if m.ts == message.ts:
                return m
    raise AssertionError(f"message {message.ts} is gone")


async def _refusal(site: Site, user: str, count: int = 1) -> str:
    shown = await site.standin.wait_for(
        lambda: (lambda e: e if len(e) >= count else None)(site.standin.ephemerals(user)), 30
    )
    return str(shown[-1].text)


async def _two_requests(
    site_factory: SiteFactory,
) -> tuple[Site, SlackBot, str, StoredMessage, StoredMessage]:
    """One FMC with two open requests: a restart (asked by a user) and a VDB update (a check)."""
    site = await site_factory([WARN])
    data = yaml.safe_load(site.config_path.read_text(encoding="utf-8"))
    data["remediation"]["restart_command"] = "sudo true"
    site.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    bot = await site.start_bot()
    fmc = site.names()[WARN]
    await site.command(bot, f"remediate {fmc} restart")
    restart = await _with_buttons(site, fmc)
    await site.command(bot, f"check {fmc}")
    vdb = await _with_buttons(site, fmc, not_=restart)
    await bot.tasks.wait_idle(30)
    return site, bot, fmc, restart, vdb


async def test_deny_then_approve_an_old_copy_runs_nothing(site: Site) -> None:
    """Two alerts for one FMC, Deny on the newest, Approve on the oldest: no run, refused."""
    bot = await site.start_bot()
    fmc = site.names()[WARN]
    await site.command(bot, f"check {fmc}")
    old_copy = await _with_buttons(site, fmc)
    await site.command(bot, f"check {fmc}")
    new_copy = await _with_buttons(site, fmc, not_=old_copy)
    await bot.tasks.wait_idle(30)

    # The older copy lost its buttons when the newer alert superseded it.
    assert find_action(_current(site, old_copy).blocks, APPROVE_ACTION) is None
    assert "superseded by request" in str(_current(site, old_copy).blocks)

    await site.click(bot, new_copy, DENY_ACTION, user=APPROVER)
    await site.standin.wait_for(lambda: "Denied by" in str(_current(site, new_copy).blocks), 30)
    await site.click(bot, old_copy, APPROVE_ACTION, user=GROUPIE)  # a stale client's button
    refusal = await _refusal(site, GROUPIE)
    await bot.tasks.wait_idle(30)

    assert "closed" in refusal
    assert "superseded by request" in refusal
    assert await bot.store.runs(fmc) == []
    assert site.lab.vdb_build(fmc) == 400
    assert await bot.store.pending_approvals() == []
    refused = [e for e in await bot.store.audit_log(fmc) if e.action == "approval.refused"]
    assert [e.actor for e in refused] == [f"slack:{GROUPIE}"]


async def test_a_deny_closes_the_other_open_requests_of_the_fmc(site_factory: SiteFactory) -> None:
    """Deny on the VDB update closes the open restart request too, and its message says why."""
    site, bot, fmc, restart, vdb = await _two_requests(site_factory)

    await site.click(bot, vdb, DENY_ACTION, user=APPROVER)
    await site.standin.wait_for(lambda: "was denied by" in str(_current(site, restart).blocks), 30)

    assert find_action(_current(site, restart).blocks, APPROVE_ACTION) is None
    assert await bot.store.pending_approvals() == []
    closed = [e for e in await bot.store.audit_log(fmc) if e.action == "approval.closed"]
    assert any("was denied by" in str(e.detail["reason"]) for e in closed)


async def test_stale_approve_on_a_renewed_fmc_says_nothing_to_do(site: Site) -> None:
    """Renewed outside fmccert after the alert: Approve answers "already renewed", not TAC."""
    bot = await site.start_bot()
    fmc = site.names()[WARN]
    await site.command(bot, f"check {fmc}")
    copy = await _with_buttons(site, fmc)
    site.lab.install_vdb_by_hand(fmc)  # an operator updated the VDB: the certificate renewed

    await site.click(bot, copy, APPROVE_ACTION, user=APPROVER)
    refusal = await _refusal(site, APPROVER)
    await bot.tasks.wait_idle(30)

    assert "already renewed on" in refusal
    assert "nothing to do" in refusal
    assert "TAC" not in refusal
    assert await bot.store.runs(fmc) == []
    refused = [e for e in await bot.store.audit_log(fmc) if e.action == "approval.refused"]
    assert "already renewed on" in str(refused[0].detail["reason"])
    assert find_action(_current(site, copy).blocks, APPROVE_ACTION) is None
    assert "nothing to do" in str(_current(site, copy).blocks)


async def test_a_scan_that_sees_the_renewal_closes_the_request(site: Site) -> None:
    """After an out-of-band renewal, the next check closes the open request and edits it."""
    bot = await site.start_bot()
    fmc = site.names()[WARN]
    await site.command(bot, f"check {fmc}")
    copy = await _with_buttons(site, fmc)
    await bot.tasks.wait_idle(30)
    site.lab.install_vdb_by_hand(fmc)

    await site.command(bot, f"check {fmc}")
    await site.standin.wait_for(
        lambda: "already renewed on" in str(_current(site, copy).blocks), 30
    )

    assert find_action(_current(site, copy).blocks, APPROVE_ACTION) is None
    assert await bot.store.pending_approvals() == []


async def test_a_finished_run_closes_the_fmcs_other_open_requests(
    site_factory: SiteFactory,
) -> None:
    """Once an approved VDB update has run, the FMC's open restart request is closed."""
    site, bot, fmc, restart, vdb = await _two_requests(site_factory)

    await site.click(bot, vdb, APPROVE_ACTION, user=APPROVER)
    await site.standin.wait_for(
        lambda: "finished: renewed" in str(_current(site, restart).blocks), 60
    )

    runs = await bot.store.runs(fmc)
    assert [run.status.value for run in runs] == ["renewed"]
    assert await bot.store.pending_approvals() == []


async def test_requests_of_a_removed_fmc_close_at_start_and_clicks_are_refused(
    site_factory: SiteFactory,
) -> None:
    """An FMC taken out of the config: its request closes when the bot starts; a click is told."""
    site = await site_factory([WARN, "affected-770-critical"])
    first = await site.start_bot()
    fmc = site.names()[WARN]
    await site.command(first, f"check {fmc}")
    copy = await _with_buttons(site, fmc)
    await first.tasks.wait_idle(30)
    await site.stop_bot(first)

    data: dict[str, Any] = yaml.safe_load(site.config_path.read_text(encoding="utf-8"))
    data["fmcs"] = [entry for entry in data["fmcs"] if entry["name"] != fmc]
    site.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    second = await site.start_bot()
    await site.standin.wait_for(
        lambda: "no longer in fmccert's configuration" in str(_current(site, copy).blocks), 30
    )
    await site.click(second, copy, APPROVE_ACTION, user=APPROVER)
    refusal = await _refusal(site, APPROVER)

    assert "no longer in fmccert's configuration" in refusal
    request_id = int(str(find_action(copy.blocks, APPROVE_ACTION)[1]["value"]).split(":")[1])  # type: ignore[index]
    request = await second.store.approval(request_id)
    assert request is not None
    assert request.status is ApprovalStatus.CLOSED
    assert await second.store.runs(fmc) == []


async def test_an_approval_is_bound_to_the_package_it_was_shown(site: Site) -> None:
    """The VDB package file is swapped after the request: the Approve is refused, nothing runs."""
    bot = await site.start_bot()
    fmc = site.names()[WARN]
    await site.command(bot, f"remediate {fmc}")
    request = await _with_buttons(site, fmc)
    assert "sha256" in str(request.blocks)
    await bot.tasks.wait_idle(30)
    package = site.config().remediation.vdb_package
    assert package is not None
    package.write_bytes(package.read_bytes() + b"tampered")

    await site.click(bot, request, APPROVE_ACTION, user=APPROVER)
    refusal = await _refusal(site, APPROVER)
    await bot.tasks.wait_idle(30)

    assert "the VDB package changed since request" in refusal
    assert await bot.store.runs(fmc) == []
    assert site.lab.vdb_build(fmc) == 400
    assert await bot.store.pending_approvals() == []
    assert "package changed" in str(_current(site, request).blocks)


async def test_no_buttons_for_an_ftd_or_a_rest_only_fmc(site_factory: SiteFactory) -> None:
    """fmccert cannot run the fix on an FTD (FDM) or over REST: the replies carry no Approve."""
    site = await site_factory([WARN, "ftd-affected-760"], access="rest")
    bot = await site.start_bot()
    fmc, ftd = site.names()[WARN], site.names()["ftd-affected-760"]

    await site.command(bot, f"check {fmc} {ftd}")
    await site.standin.wait_for(
        lambda: len([m for p in site.standin.messages(CHANNEL)
                     for m in site.standin.thread(CHANNEL, p.ts)]) >= 2, 30,
    )  # fmt: skip
    await bot.tasks.wait_idle(30)

    replies = [
        m for p in site.standin.messages(CHANNEL) for m in site.standin.thread(CHANNEL, p.ts)
    ]
    by_device = {name: next(m for m in replies if m.text.startswith(name)) for name in (fmc, ftd)}
    assert "at_risk" in by_device[fmc].text
    assert "FTD" in by_device[ftd].text
    assert all(find_action(m.blocks, APPROVE_ACTION) is None for m in by_device.values())
    assert await bot.store.pending_approvals() == []
