"""Screenshots of the local Slack console for the README, from a real run.

Starts a small lab fleet, the Slack stand-in, the real bot on Socket Mode and the console
(the same setup as tests/lab/slack/test_console_browser.py), scans, approves one VDB update
in headless Chromium and saves PNGs:

    .venv/bin/python scripts/console_screenshot.py [--out docs]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import yaml
from playwright.async_api import Page, async_playwright, expect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.lab.scenarios import pick_scenarios
from bot.lab.server import start_lab
from bot.lab.slack.console import ConsoleServer, ConsoleUser
from bot.lab.slack.server import SlackStandIn
from tests.lab.slack.test_console_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.slack_fixtures import (
    APPROVER,
    CHANNEL,
    GROUPIE,
    REQUESTER,
    SCENARIOS,
    STRANGER,
    Site,
    slack_section,
    utc_now,
)

USERS = [
    ConsoleUser(REQUESTER, "bob", "requester"),
    ConsoleUser(APPROVER, "alice", "approver"),
    ConsoleUser(STRANGER, "mallory", "not an approver"),
]


async def _send(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_role("button", name="Send").click()


async def take(out: Path) -> list[Path]:
    """Run the scenario and save the screenshots into ``out``; return their paths."""
    work = Path(tempfile.mkdtemp(prefix="fmccert-shots-"))
    saved: list[Path] = []
    lab = await start_lab(pick_scenarios(len(SCENARIOS), SCENARIOS), now=utc_now())
    try:
        config_path = work / "fmccert.yaml"
        lab.write_config(config_path, connect_timeout=3, command_timeout=5, host_timeout=60)
        data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        data["slack"] = slack_section()
        data["remediation"]["vdb_poll_interval_seconds"] = 0.2
        config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        async with (
            SlackStandIn(
                usergroups={"SNETSEC": [GROUPIE]},
                users={u.id: u.name for u in USERS},
                channels={CHANNEL: "fmc-alerts"},
            ) as standin,
            ConsoleServer(standin, channel=CHANNEL, users=USERS) as console,
            async_playwright() as playwright,
        ):
            site = Site(lab, config_path, standin)
            bot = await site.start_bot(socket_mode=True)
            try:
                await standin.wait_connected()
                fmc = site.names()["affected-760-warning"]
                context = await playwright.chromium.launch_persistent_context(
                    str(work / "profile"),
                    executable_path=str(CHROMIUM),
                    headless=True,
                    args=CHROMIUM_ARGS,
                    viewport={"width": 1200, "height": 1400},
                )
                page = await context.new_page()
                page.set_default_timeout(30_000)
                await page.goto(console.url)
                await _send(page, "/fmccert scan")
                alert = page.locator(".thread").filter(has_text="need attention")
                reply = alert.locator(".msg.reply").filter(has_text=fmc)
                approve = reply.get_by_role("button", name="Approve VDB update")
                await expect(approve).to_be_visible()
                await page.get_by_label("Acting as").select_option(APPROVER)
                saved.append(out / "console-alert.png")
                await page.screenshot(path=saved[-1])

                await approve.click()
                await expect(page.get_by_role("dialog")).to_be_visible()
                saved.append(out / "console-confirm.png")
                await page.screenshot(path=saved[-1])
                await page.get_by_role("dialog").get_by_role("button", name="Approve").click()

                renewed = alert.locator(".msg.reply").filter(has_text="renewed").first
                await expect(renewed).to_be_visible(timeout=60_000)
                await renewed.scroll_into_view_if_needed()
                saved.append(out / "console-approved.png")
                await page.screenshot(path=saved[-1])

                await page.get_by_role("tab", name="App Home").click()
                await expect(page.locator("#home .blocks")).to_be_visible()
                saved.append(out / "console-home.png")
                await page.screenshot(path=saved[-1])
                await context.close()
            finally:
                await site.stop_bot(bot)
    finally:
        await lab.close()
        shutil.rmtree(work, ignore_errors=True)
    return saved


def main() -> None:
    """Parse arguments and take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"), help="output directory")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(take(args.out)):
        print(path)


if __name__ == "__main__":
    main()
