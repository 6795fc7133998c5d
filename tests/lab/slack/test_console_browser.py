"""The console in a real headless Chromium: scan, check, approve, snooze with its dialog."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright, expect

from bot.lab.slack.console import ConsoleServer, ConsoleUser
from bot.scheduling import schedules_from_config
from tests.support.slack_fixtures import APPROVER, CHANNEL, REQUESTER, STRANGER, Site, SiteFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERS = [
    ConsoleUser(REQUESTER, "bob", "requester"),
    ConsoleUser(APPROVER, "alice", "approver"),
    ConsoleUser(STRANGER, "mallory", "not an approver"),
]

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed at /usr/bin/chromium", allow_module_level=True)


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile directory removed afterwards."""
    profile = tempfile.mkdtemp(prefix="fmccert-chromium-")
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1200, "height": 900},
            )
            try:
                yield context
            finally:
                await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


async def _composer_send(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_role("button", name="Send").click()


async def test_scan_check_and_approve_in_the_browser(site: Site, browser: BrowserContext) -> None:
    """A person scans, checks one FMC, then approves its VDB update and sees the renewal."""
    await site.start_bot(socket_mode=True)
    await site.standin.wait_connected()
    fmc = site.names()["affected-760-warning"]
    async with ConsoleServer(site.standin, channel=CHANNEL, users=USERS) as console:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(20_000)
        await page.goto(console.url)
        await expect(page.locator("#channel-name")).to_have_text(f"#{CHANNEL.lower()}")

        await _composer_send(page, "/fmccert scan")
        alert = page.locator(".thread").filter(has_text="need attention")
        await expect(alert.locator(".thread-summary")).to_contain_text("replies")

        await _composer_send(page, f"/fmccert check {fmc}")
        check = page.locator(".thread").nth(1)  # the check's own thread, after the alert
        await expect(check.locator(".msg.parent")).to_contain_text(fmc)
        await expect(check.locator(".msg.reply").filter(has_text=fmc).first).to_be_visible()

        # The check's request superseded the alert's: only the newest copy keeps buttons.
        stale = alert.locator(".msg.reply").filter(has_text=fmc)
        await expect(stale.first).to_contain_text("superseded by request")
        await expect(stale.get_by_role("button", name="Approve VDB update")).to_have_count(0)

        await page.get_by_label("Acting as").select_option(APPROVER)
        reply = check.locator(".msg.reply").filter(has_text=fmc)
        approve = reply.get_by_role("button", name="Approve VDB update")
        await expect(approve).to_have_class("btn primary")
        await approve.click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_be_visible()
        await expect(dialog).to_contain_text("Approve VDB update?")
        await dialog.get_by_role("button", name="Approve").click()
        await expect(dialog).to_be_hidden()

        await expect(check.locator(".msg.reply").filter(has_text="renewed").first).to_be_visible(
            timeout=45_000
        )
        await expect(reply.first).to_contain_text("Approved by @alice")
        await expect(reply.first.locator(".edited")).to_have_text("(edited)")
        assert site.lab.vdb_build(fmc) == 406
        assert errors == []


async def test_snooze_in_the_browser_shows_real_times(
    site_factory: SiteFactory, browser: BrowserContext
) -> None:
    """Messages show the local time they were posted; Snooze's dialog is filled and submitted."""
    site = await site_factory(
        ["affected-760-warning"], schedule={"scans": [{"cron": "0 6 * * *", "timezone": "UTC"}]}
    )
    bot = await site.start_bot(socket_mode=True)
    await site.standin.wait_connected()
    fmc = site.names()["affected-760-warning"]
    schedule = schedules_from_config(site.config())[0][0]
    await bot.scheduled_scan(schedule, datetime.now(UTC), False)
    await bot.tasks.wait_idle(60)
    async with ConsoleServer(site.standin, channel=CHANNEL, users=USERS) as console:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(20_000)
        await page.goto(f"{console.url}?user={APPROVER}")
        incident = (
            page.locator(".msg.reply")
            .filter(has_text=fmc)
            .filter(has=page.get_by_role("button", name="Snooze"))
        )
        await expect(incident).to_have_count(1)

        shown = page.locator(".msg.parent .msg-time").first
        posted_at = await shown.evaluate("node => Date.parse(node.dateTime)")
        assert abs(posted_at / 1000 - datetime.now(UTC).timestamp()) < 300
        local = await page.evaluate(
            """at => new Date(at).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"})"""
            , posted_at
        )  # fmt: skip
        await expect(shown).to_have_text(local)

        await incident.get_by_role("button", name="Snooze").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("Snooze alerts")
        await dialog.get_by_label("For how long").select_option(label="1 week")
        await dialog.get_by_label("Why").fill("   ")  # passes the browser, not the bot
        await dialog.get_by_role("button", name="Snooze").click()
        await expect(dialog.locator(".field-error")).to_have_text("Say why.")
        await expect(dialog.get_by_label("For how long")).to_have_value(str(7 * 86400))

        await dialog.get_by_label("Why").fill("change freeze until Monday")
        await dialog.get_by_role("button", name="Snooze").click()
        await expect(dialog).to_be_hidden()
        await expect(incident).to_contain_text("Snoozed by @alice", timeout=30_000)
        await expect(incident).to_contain_text("change freeze until Monday")
        assert site.standin.modal(APPROVER) is None
        assert errors == []
