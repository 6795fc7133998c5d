"""Prometheus metrics: the Metrics collector, the alert rules, and /metrics of a running bot."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from bot.core.advisory import assess_release
from bot.core.certificate import CertificateFacts
from bot.core.devices import DeviceKind
from bot.core.expiry import Status, Thresholds
from bot.core.findings import Finding, FmcFacts, ProbeOutcome, assess_outcome
from bot.errors import SlackError
from bot.lab.slack.payloads import find_action
from bot.lab.slack.server import SlackStandIn
from bot.lab.slack.workspace import StoredMessage
from bot.metrics import Metrics
from bot.slack.blocks import build_notice
from bot.slack.ids import APPROVE_ACTION
from bot.slack.poster import Poster, build_web_client
from bot.storage.records import StoredFinding
from tests.support.slack_fixtures import (  # noqa: F401 (fixtures)
    APPROVER,
    CHANNEL,
    Site,
    SiteFactory,
    site_factory,
    standin,
)

ALERTS = Path(__file__).resolve().parent.parent / "config" / "prometheus-alerts.yaml"
SERIES = (
    "fmccert_certificate_not_after_seconds",
    "fmccert_status",
    "fmccert_last_successful_check_timestamp_seconds",
    "fmccert_affected",
    "fmccert_scan_duration_seconds",
    "fmccert_scans",
    "fmccert_remediations",
    "fmccert_approvals",
    "fmccert_slack_api_errors",
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition text, keyed by name and label set."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float | None:
    """The sample ``name{labels}``, None when absent; per-FMC series default to kind fmc."""
    if "fmc" in labels:
        labels.setdefault("kind", "fmc")
    return found.get((name, frozenset(labels.items())))


def _stored(
    fmc: str,
    status: str,
    not_after: datetime | None,
    at: datetime,
    affected: bool | None = None,
) -> StoredFinding:
    iso = not_after.isoformat().replace("+00:00", "Z") if not_after else None
    data = {"not_after": iso, "status": status, "affected": affected}
    return StoredFinding(1, fmc, at, status, "s1", data, not_after)


def _finding(
    fmc: str,
    version: str | None,
    not_after: datetime | None,
    at: datetime,
    kind: DeviceKind = DeviceKind.FMC,
) -> Finding:
    """What a check of ``fmc`` found: that release, and a certificate unless not_after is None."""
    cert = None
    if not_after is not None:
        cert = CertificateFacts(at - timedelta(days=365), not_after, "01", "CN=x", "CN=y", "AA")
    outcome = ProbeOutcome(checked_at=at, facts=FmcFacts(version=version, certificate=cert))
    return assess_outcome(fmc, "127.0.0.1", outcome, Thresholds(30, 7), at, kind=kind)


def test_seed_sets_per_fmc_gauges_from_stored_findings() -> None:
    """Seeding sets expiry, a one-hot status and the last good check; unknown expiry is absent."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    metrics = Metrics()
    metrics.seed(
        [
            _stored("a", "warning", at + timedelta(days=20), at),
            _stored("b", "unknown", None, at),
        ],
        {"b": at - timedelta(days=1)},
    )
    found = samples(metrics.render().decode())
    assert (
        value(found, "fmccert_certificate_not_after_seconds", fmc="a")
        == (at + timedelta(days=20)).timestamp()
    )
    assert value(found, "fmccert_certificate_not_after_seconds", fmc="b") is None
    for status in Status:
        expected = 1.0 if status is Status.WARNING else 0.0
        assert value(found, "fmccert_status", fmc="a", status=status.value) == expected
    assert value(found, "fmccert_status", fmc="b", status="unknown") == 1.0
    last = "fmccert_last_successful_check_timestamp_seconds"
    assert value(found, last, fmc="b") == (at - timedelta(days=1)).timestamp()
    assert value(found, "fmccert_approvals_total", decision="refused") == 0.0


def test_fmcs_never_read_export_a_last_check_of_zero() -> None:
    """A configured FMC no check has read exports 0 as its last good check; a read sets it."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    last = "fmccert_last_successful_check_timestamp_seconds"
    metrics = Metrics()
    metrics.seed(
        [
            _stored("read", "ok", at + timedelta(days=90), at),
            _stored("failing", "unknown", None, at),
        ],
        {},
        fmcs=["read", "failing", "new"],
    )
    found = samples(metrics.render().decode())
    assert value(found, last, fmc="read") == at.timestamp()
    assert value(found, last, fmc="failing") == 0.0
    assert value(found, last, fmc="new") == 0.0

    later = at + timedelta(hours=1)
    metrics.observe_finding(_finding("new", "7.6.0", None, later))  # checked, nothing read
    assert value(samples(metrics.render().decode()), last, fmc="new") == 0.0
    metrics.observe_finding(_finding("new", "7.6.0", at + timedelta(days=20), later))
    metrics.observe_finding(_finding("new", None, None, later + timedelta(hours=1)))  # fails
    assert value(samples(metrics.render().decode()), last, fmc="new") == later.timestamp()


def test_affected_gauge_is_one_zero_or_absent_when_unknown() -> None:
    """fmccert_affected is 1 for 7.6.0/7.7.0, 0 for other releases, absent while unknown."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    expiry = at + timedelta(days=20)
    metrics = Metrics()
    metrics.seed(
        [
            _stored("old", "warning", expiry, at, affected=True),
            _stored("fixed", "ok", expiry, at, affected=False),
            _stored("unread", "unknown", None, at, affected=None),
        ]
    )
    found = samples(metrics.render().decode())
    assert value(found, "fmccert_affected", fmc="old") == 1.0
    assert value(found, "fmccert_affected", fmc="fixed") == 0.0
    assert value(found, "fmccert_affected", fmc="unread") is None

    metrics.observe_finding(_finding("unread", "7.7.0", expiry, at))
    metrics.observe_finding(_finding("old", "7.6.1", expiry, at))  # upgraded
    metrics.observe_finding(_finding("fixed", None, None, at))  # could not be read
    found = samples(metrics.render().decode())
    assert value(found, "fmccert_affected", fmc="unread") == 1.0
    assert value(found, "fmccert_affected", fmc="old") == 0.0
    assert value(found, "fmccert_affected", fmc="fixed") is None


def test_per_fmc_gauges_carry_the_device_kind() -> None:
    """An FTD's gauges say kind="ftd" under the old series names; FMCs say kind="fmc"."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    expiry = at + timedelta(days=12)
    metrics = Metrics()
    metrics.observe_finding(_finding("fw", "7.6.0", expiry, at, kind=DeviceKind.FTD))
    metrics.observe_finding(_finding("fmc", "7.6.1", expiry, at))
    found = samples(metrics.render().decode())
    assert value(found, "fmccert_certificate_not_after_seconds", fmc="fw", kind="ftd") == (
        expiry.timestamp()
    )
    assert value(found, "fmccert_affected", fmc="fw", kind="ftd") == 1.0
    assert value(found, "fmccert_status", fmc="fw", kind="ftd", status="warning") == 1.0
    assert value(found, "fmccert_affected", fmc="fw", kind="fmc") is None
    assert value(found, "fmccert_affected", fmc="fmc", kind="fmc") == 0.0
    of_fw = [labels for _, labels in found if ("fmc", "fw") in labels]
    assert of_fw
    assert all(("kind", "ftd") in labels for labels in of_fw)


def test_seeding_takes_the_kind_from_the_config_then_the_stored_finding() -> None:
    """Seeded series use the config's kind, else the stored finding's, else fmc."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    metrics = Metrics()
    plain = _stored("old-ftd", "ok", at + timedelta(days=90), at)
    stored_ftd = dataclasses.replace(plain, data={**plain.data, "kind": "ftd"})
    metrics.seed(
        [stored_ftd, _stored("plain", "ok", at + timedelta(days=90), at)],
        {},
        fmcs=["old-ftd", "plain", "new-ftd"],
        kinds={"new-ftd": "ftd"},
    )
    found = samples(metrics.render().decode())
    last = "fmccert_last_successful_check_timestamp_seconds"
    assert value(found, last, fmc="old-ftd", kind="ftd") == at.timestamp()
    assert value(found, last, fmc="plain", kind="fmc") == at.timestamp()
    assert value(found, last, fmc="new-ftd", kind="ftd") == 0.0
    assert value(found, last, fmc="new-ftd", kind="fmc") is None


def test_a_kind_change_drops_the_old_series_and_keeps_the_last_check() -> None:
    """A device re-labelled FTD loses its fmc series; its last good check moves to ftd."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    expiry = at + timedelta(days=90)
    metrics = Metrics()
    metrics.observe_finding(_finding("box", "7.6.1", expiry, at))
    metrics.observe_finding(_finding("box", None, None, at + timedelta(hours=1), DeviceKind.FTD))
    found = samples(metrics.render().decode())
    last = "fmccert_last_successful_check_timestamp_seconds"
    assert value(found, last, fmc="box", kind="ftd") == at.timestamp()
    assert value(found, last, fmc="box", kind="fmc") is None
    assert value(found, "fmccert_status", fmc="box", kind="fmc", status="ok") is None
    assert value(found, "fmccert_status", fmc="box", kind="ftd", status="unknown") == 1.0


def test_two_collectors_do_not_share_series() -> None:
    """Each Metrics has its own registry: counting in one leaves the other at zero."""
    first, second = Metrics(), Metrics()
    first.observe_approval("approved")
    assert value(samples(first.render().decode()), "fmccert_approvals_total",
                 decision="approved") == 1.0  # fmt: skip
    assert value(samples(second.render().decode()), "fmccert_approvals_total",
                 decision="approved") == 0.0  # fmt: skip


def test_alert_rules_use_existing_series() -> None:
    """The rule file parses and its expressions name only series the bot exports."""
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert len(alerts) == 4
    severities = sorted(rule["labels"]["severity"] for rule in alerts.values())
    assert severities == ["critical", "warning", "warning", "warning"]
    exported = set(SERIES) | {f"{name}_total" for name in SERIES}
    for rule in alerts.values():
        names = set(re.findall(r"\bfmccert_[a-z_]+", rule["expr"]))
        assert names, rule["expr"]
        assert names <= exported, names - exported
    exprs = " ".join(rule["expr"] for rule in alerts.values())
    assert "fmccert_certificate_not_after_seconds - time() < 30 * 86400" in exprs
    assert "fmccert_certificate_not_after_seconds - time() < 7 * 86400" in exprs
    assert "fmccert_last_successful_check_timestamp_seconds" in exprs
    never = alerts["FmccertFmcNeverChecked"]
    assert never["expr"] == "fmccert_last_successful_check_timestamp_seconds == 0"


# Prometheus' own rule tests: series sampled each minute for about 3.5 days.
PROMTOOL_TEST = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'fmccert_last_successful_check_timestamp_seconds{{fmc="never"}}'
        values: '0x5000'
      - series: 'fmccert_last_successful_check_timestamp_seconds{{fmc="fresh"}}'
        values: '0+60x5000'
      - series: 'fmccert_last_successful_check_timestamp_seconds{{fmc="stale"}}'
        values: '3600x5000'
    alert_rule_test:
      - {{eval_time: 1h, alertname: FmccertFmcNotChecked, exp_alerts: []}}
      - {{eval_time: 47h, alertname: FmccertFmcNeverChecked, exp_alerts: []}}
      - eval_time: 72h
        alertname: FmccertFmcNotChecked
        exp_alerts:
          - exp_labels: {{severity: warning, fmc: stale}}
            exp_annotations:
              summary: FMC stale has not been checked for two scan periods
              description: >-
                Last successful check 2d 23h 0m 0s ago; see
                fmccert_status{{status="unknown"}} and the bot's log.
      - eval_time: 72h
        alertname: FmccertFmcNeverChecked
        exp_alerts:
          - exp_labels: {{severity: warning, fmc: never}}
            exp_annotations:
              summary: FMC never has never been checked successfully
              description: >-
                No check has read its certificate since it was added; see
                fmccert_status{{status="unknown"}} and the bot's log.
"""


def test_not_checked_rules_fire_for_stale_and_never_read_fmcs(tmp_path: Path) -> None:
    """promtool: a stale FMC fires NotChecked, one never read (0) fires NeverChecked after 2d."""
    if shutil.which("promtool") is None:
        message = "promtool is missing (Debian: prometheus; scripts/check.sh installs it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    spec = tmp_path / "rules-test.yaml"
    spec.write_text(PROMTOOL_TEST.format(rules=ALERTS), encoding="utf-8")
    result = subprocess.run(
        ["promtool", "test", "rules", str(spec)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_poster_counts_slack_api_errors(standin: SlackStandIn) -> None:  # noqa: F811
    """A Web API call Slack refuses becomes SlackError and one count by method and error."""
    metrics = Metrics()
    poster = Poster(build_web_client("xoxb-test", standin.base_url), metrics=metrics)
    standin.fail_next("chat.update", status=200, error="message_not_found", retry_after=None)
    with pytest.raises(SlackError, match="message_not_found"):
        await poster.update(CHANNEL, "1.000", build_notice("x"))
    found = samples(metrics.render().decode())
    assert value(found, "fmccert_slack_api_errors_total", method="chat.update",
                 error="message_not_found") == 1.0  # fmt: skip


async def _fetch_metrics(site: Site, bot: object) -> Samples:
    async with (
        aiohttp.ClientSession() as session,
        session.get(site.url(bot, "/metrics")) as response,  # type: ignore[arg-type]
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return samples(await response.text())


def _expiry(site: Site, fmc: str) -> float:
    pem = site.lab.certificate_pem(fmc).encode()
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()


async def test_metrics_of_a_running_bot_after_a_scan_and_an_approval(
    site_factory: SiteFactory,  # noqa: F811
) -> None:
    """/metrics holds the lab's expiries, statuses and releases, the scan, approval and fix."""
    site = await site_factory()
    names = site.names()
    bot = await site.start_bot()
    found = await _fetch_metrics(site, bot)  # before any scan: every FMC is "never read"
    for fmc in names.values():
        assert value(found, "fmccert_last_successful_check_timestamp_seconds", fmc=fmc) == 0.0
        assert value(found, "fmccert_affected", fmc=fmc) is None
    status, _, _ = await site.command(bot, "scan")
    assert status == 200

    def parent() -> StoredMessage | None:
        return next((m for m in site.standin.messages(CHANNEL) if "need attention" in m.text),
                    None)  # fmt: skip

    alert = await site.standin.wait_for(parent, timeout=30)
    warn = names["affected-760-warning"]

    def button() -> StoredMessage | None:
        return next((r for r in site.standin.thread(CHANNEL, alert.ts)
                     if r.text.startswith(warn) and find_action(r.blocks, APPROVE_ACTION)),
                    None)  # fmt: skip

    found = await _fetch_metrics(site, bot)
    for scenario, fmc in names.items():
        expected = site.lab.expected_findings()[fmc].expect_status
        assert value(found, "fmccert_status", fmc=fmc, status=expected) == 1.0, scenario
        assert sum(value(found, "fmccert_status", fmc=fmc, status=s.value) or 0
                   for s in Status) == 1.0  # fmt: skip
        not_after = value(found, "fmccert_certificate_not_after_seconds", fmc=fmc)
        assert not_after is not None
        assert abs(not_after - _expiry(site, fmc)) < 60
        last = value(found, "fmccert_last_successful_check_timestamp_seconds", fmc=fmc)
        assert last is not None
        assert abs(last - datetime.now(UTC).timestamp()) < 120
        affected = assess_release(site.lab.expected_findings()[fmc].version).affected
        assert affected is not None, scenario  # every site scenario has a known release
        assert value(found, "fmccert_affected", fmc=fmc) == float(affected), scenario
    assert value(found, "fmccert_scans_total", kind="scan") == 1.0
    assert value(found, "fmccert_scan_duration_seconds_count") == 1.0

    reply = await site.standin.wait_for(button, timeout=30)
    await site.click(bot, reply, APPROVE_ACTION, user=APPROVER)
    await site.standin.wait_for(
        lambda: any("renewed" in m.text.lower() for m in site.standin.thread(CHANNEL, alert.ts)),
        timeout=60,
    )
    await bot.tasks.wait_idle(60)
    found = await _fetch_metrics(site, bot)
    assert value(found, "fmccert_approvals_total", decision="approved") == 1.0
    assert value(found, "fmccert_remediations_total", action="vdb-update",
                 outcome="renewed") == 1.0  # fmt: skip

    # A restarted bot serves the stored state before any scan.
    await site.stop_bot(bot)
    bot = await site.start_bot()
    found = await _fetch_metrics(site, bot)
    crit = names["affected-770-critical"]
    assert value(found, "fmccert_status", fmc=crit, status="critical") == 1.0
    assert value(found, "fmccert_certificate_not_after_seconds", fmc=crit) is not None
    assert value(found, "fmccert_affected", fmc=crit) == 1.0
    assert value(found, "fmccert_scans_total", kind="scan") is None
