"""The probe against a lab FMC whose Talos certificate has a subject that is not UTF-8."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.advisory import Action
from bot.core.expiry import Status, Thresholds
from bot.core.findings import assess_outcome
from bot.fmc.probe import probe_fmc
from bot.fmc.target import DEFAULT_CERT_PATH
from bot.lab.certs import make_talos_certificate, undecodable_subject_pem
from bot.lab.scenarios import get_scenario
from bot.lab.server import start_lab
from tests.fmc.helpers import PASSWORD, TIMEOUTS, fixed_clock, lab_target, write_known_hosts

NOW = datetime.now(UTC).replace(microsecond=0)


async def test_undecodable_subject_still_reports_release_vdb_and_action(tmp_path: Path) -> None:
    """An affected 7.6.0 with a non-UTF-8 subject is still 7.6.0, affected, vdb-update."""
    not_after = NOW + timedelta(days=20)
    common_name = "BROKEN-NAME-prod-01"
    pem = make_talos_certificate(common_name=common_name, not_after=not_after)
    bad = undecodable_subject_pem(pem, common_name)
    async with await start_lab(
        [get_scenario("affected-760-warning")], password=PASSWORD, now=NOW
    ) as lab:
        host = lab.hosts[0]
        lab.host_state(host.name).files[DEFAULT_CERT_PATH] = bad
        known = write_known_hosts(tmp_path / "known_hosts", [host.known_hosts_line])
        outcome = await probe_fmc(lab_target(host, known), TIMEOUTS, clock=fixed_clock(NOW))

    assert outcome.error is None, outcome.error
    assert (outcome.facts.version, outcome.facts.vdb_build) == ("7.6.0", 400)
    cert = outcome.facts.certificate
    assert cert is not None
    assert cert.not_after == not_after
    assert "\ufffd" in cert.subject
    assert "Keymaster CA 2" in cert.issuer
    finding = assess_outcome(host.name, host.host, outcome, Thresholds(30, 7), NOW)
    assert (finding.status, finding.affected, finding.action) == (
        Status.WARNING,
        True,
        Action.VDB_UPDATE,
    )
