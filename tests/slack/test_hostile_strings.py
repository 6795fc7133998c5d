"""Hostile strings from an FMC reach Slack literally and the terminal without controls.

One lab FMC is made hostile the way a compromised or broken box could be: its certificate
subject and its version file carry Slack markup (a broadcast, a mention, a link, bold and
code) and terminal escapes. A real check over SSH then shows them to Slack (through the
stand-in) and to a terminal (a real `fmccert` process).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.fmc.target import DEFAULT_CERT_PATH
from bot.lab.certs import make_talos_certificate
from tests.cli.process import fmccert
from tests.support.slack_fixtures import CHANNEL, Site, SiteFactory

HOSTILE_CN = "<!channel> *x* `y` <@U999> <https://evil.example|z>\x1b[2K"
HOSTILE_BUILD = "36 <!here> \x1b]0;pwned\x07\x1b[31mok"


async def _hostile_site(site_factory: SiteFactory) -> tuple[Site, str]:
    site = await site_factory(["affected-760-warning"])
    name = site.lab.hosts[0].name
    state = site.lab.host_state(name)
    state.files[DEFAULT_CERT_PATH] = make_talos_certificate(
        common_name=HOSTILE_CN, not_after=datetime.now(UTC) + timedelta(days=12)
    )
    state.files["/etc/sf/ims.conf"] = f"SWVERSION=7.6.0\nSWBUILD={HOSTILE_BUILD}\n"
    return site, name


async def test_fmc_strings_show_literally_in_slack(site_factory: SiteFactory) -> None:
    """Markup an FMC supplies is escaped: no broadcast, mention or link reaches Slack."""
    site, name = await _hostile_site(site_factory)
    bot = await site.start_bot()
    await site.command(bot, f"check {name}")
    await site.standin.wait_for(
        lambda: [r for p in site.standin.messages(CHANNEL)
                 for r in site.standin.thread(CHANNEL, p.ts)], 30,
    )  # fmt: skip
    await bot.tasks.wait_idle(30)

    shown = json.dumps(
        [c.params for c in site.standin.calls_to("chat.postMessage")]
        + [c.params for c in site.standin.calls_to("chat.update")]
    )
    assert "<!here>" not in shown
    assert "<!channel>" not in shown
    assert "&lt;!here&gt;" in shown  # the build is shown, literally
    assert "\\u001b" not in shown  # no escape character reaches Slack either


async def test_fmc_strings_reach_the_terminal_without_control_characters(
    site_factory: SiteFactory,
) -> None:
    """The table and the JSON of a check carry the FMC's words, never its escapes."""
    site, name = await _hostile_site(site_factory)
    table = await fmccert("check", name, "--config", str(site.config_path))
    result = await fmccert("check", name, "--config", str(site.config_path), "--json")

    assert "\x1b" not in table.stdout + table.stderr
    assert "\x07" not in table.stdout + table.stderr
    finding = json.loads(result.stdout)[0]
    assert "\x1b" not in json.dumps(finding, ensure_ascii=False)
    assert "!channel" in finding["subject"]  # JSON keeps the words (RFC 4514), not controls
    assert finding["version"] == "7.6.0"
