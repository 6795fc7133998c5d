"""The SSH probe against emulated FTDs (FN74284): same check, FTD banners, lockdown."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.devices import DeviceKind
from bot.core.expiry import Thresholds
from bot.core.findings import ProbeOutcome, assess_outcome, finding_to_json
from bot.fmc.connection import expert_refusal
from bot.fmc.probe import probe_fmc
from bot.lab.scenarios import CATALOG, Scenario
from bot.lab.server import start_lab
from tests.fmc.helpers import PASSWORD, TIMEOUTS, fixed_clock, lab_target, write_known_hosts

NOW = datetime.now(UTC).replace(microsecond=0)
FTDS = [scenario for scenario in CATALOG.values() if scenario.kind == "ftd"]


async def _probe(scenario: Scenario, tmp_path: Path) -> ProbeOutcome:
    async with await start_lab([scenario], password=PASSWORD, now=NOW) as lab:
        host = lab.hosts[0]
        known = write_known_hosts(tmp_path / "known_hosts", [host.known_hosts_line])
        return await probe_fmc(lab_target(host, known), TIMEOUTS, clock=fixed_clock(NOW))


@pytest.mark.parametrize("scenario", FTDS, ids=[s.name for s in FTDS])
async def test_ftd_scenarios_give_their_expected_findings(
    scenario: Scenario, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Over real SSH each FTD scenario yields its expected error, facts and FTD finding."""
    caplog.set_level(logging.DEBUG)
    outcome = await _probe(scenario, tmp_path)
    assert (outcome.error.kind if outcome.error else None) == scenario.expect_error
    assert PASSWORD not in outcome.transcript
    assert PASSWORD not in caplog.text
    assert "Firepower Extensible Operating System (FX-OS)" in outcome.transcript
    if scenario.expect_error is None:
        assert (outcome.facts.version, outcome.facts.build) == (scenario.version, scenario.build)
        assert outcome.facts.vdb_build == scenario.vdb_build
        assert outcome.facts.model == scenario.model
        assert outcome.facts.certificate is not None
        assert scenario.cert_days_left is not None
        expected = NOW + timedelta(days=scenario.cert_days_left)
        assert abs(outcome.facts.certificate.not_after - expected) < timedelta(minutes=1)
        assert "usual lecture" in outcome.transcript  # FTD sudo lectures on first use
    finding = assess_outcome(
        scenario.name, "127.0.0.1", outcome, Thresholds(), NOW, kind=DeviceKind.FTD
    )
    assert finding.status.value == scenario.expect_status
    assert finding.action.value == scenario.expect_action
    assert finding_to_json(finding)["kind"] == "ftd"


async def test_ftd_lockdown_is_a_protocol_error_saying_expert_is_unavailable(
    tmp_path: Path,
) -> None:
    """`expert` that stays at '>' (system lockdown) is `protocol` at `expert`, quoting the FTD."""
    outcome = await _probe(CATALOG["ftd-lockdown"], tmp_path)
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("protocol", "expert")
    assert "expert mode is unavailable on this device" in outcome.error.message
    assert "Invalid Input Detected" in outcome.error.message  # the device's own words
    assert "\n" not in outcome.error.message
    assert outcome.transcript.count("[sent] expert") == 1  # typed once, never retried
    assert "[sent] ********" not in outcome.transcript  # no password typed after login
    assert outcome.facts.version is None
    assert outcome.facts.certificate is None


def test_expert_refusal_quotes_the_words_without_the_caret_line() -> None:
    """The refusal keeps the device's words on one line, drops the caret, says so if silent."""
    invalid = "expert\n          ^\n% Invalid Input Detected at '^' marker.\n"
    assert expert_refusal(invalid.split("\n", 1)[1]) == "% Invalid Input Detected at '^' marker."
    lockdown = "Expert mode has been disabled\nby the administrator.\x1b[0m\n"
    assert expert_refusal(lockdown) == "Expert mode has been disabled by the administrator."
    assert "no message" in expert_refusal("\n  \n")
    assert len(expert_refusal("x" * 1000)) <= 200
