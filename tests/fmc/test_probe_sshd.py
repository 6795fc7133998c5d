"""The SSH probe against OpenSSH's sshd and a kernel PTY: a server this project did not write."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.findings import ProbeOutcome
from bot.fmc.probe import probe_fmc
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.secrets import Secret
from tests.fmc.helpers import TIMEOUTS, fixed_clock
from tests.support.sshd import SshdFmc, SshdFmcFactory


def _target(fmc: SshdFmc, password: str | None = None) -> ProbeTarget:
    return ProbeTarget(
        name="sshd-fmc",
        host=fmc.host,
        port=fmc.port,
        username=fmc.username,
        password=Secret(password if password is not None else fmc.password),
        known_hosts=fmc.known_hosts,
    )


async def _probe(fmc: SshdFmc, timeouts: ProbeTimeouts = TIMEOUTS) -> ProbeOutcome:
    now = datetime.now(UTC)
    return await probe_fmc(_target(fmc), timeouts, clock=fixed_clock(now))


@pytest.mark.parametrize(
    "scenario",
    ["sudo-lecture", "clish-off", "fixed-7710", "affected-770-critical", "ftd-affected-760"],
)
async def test_probe_reads_facts_through_openssh(
    sshd_fmc_factory: SshdFmcFactory, scenario: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Through sshd's kernel PTY the probe reads version, VDB, model and the certificate."""
    caplog.set_level(logging.DEBUG)
    fmc = sshd_fmc_factory(scenario)
    outcome = await _probe(fmc)

    assert outcome.error is None, outcome.transcript
    sc = fmc.scenario
    assert (outcome.facts.version, outcome.facts.build) == (sc.version, sc.build)
    assert outcome.facts.vdb_build == sc.vdb_build
    assert outcome.facts.model == sc.model
    assert outcome.facts.certificate is not None
    assert sc.cert_days_left is not None
    expected = datetime.now(UTC) + timedelta(days=sc.cert_days_left)
    assert abs(outcome.facts.certificate.not_after - expected) < timedelta(minutes=1)
    assert fmc.password not in outcome.transcript
    assert fmc.password not in caplog.text
    assert ("[sent] expert" in outcome.transcript) == sc.clish


async def test_sudo_refusal_through_openssh_is_auth(sshd_fmc_factory: SshdFmcFactory) -> None:
    """sudo refusing the password on a real PTY is `auth`, typed once, never retried."""
    fmc = sshd_fmc_factory("sudo-refused", lecture=True)
    outcome = await _probe(fmc)
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("auth", "sudo")
    assert outcome.transcript.count("[sent] ********") == 1
    assert fmc.password not in outcome.transcript


async def test_missing_certificate_through_openssh(sshd_fmc_factory: SshdFmcFactory) -> None:
    """A missing certificate file is `cert_missing` with the versions still reported."""
    fmc = sshd_fmc_factory("cert-missing")
    outcome = await _probe(fmc)
    assert outcome.error is not None
    assert outcome.error.kind == "cert_missing"
    assert outcome.facts.version == fmc.scenario.version
    assert outcome.facts.vdb_build == fmc.scenario.vdb_build


async def test_wrong_password_through_openssh_is_auth(sshd_fmc_factory: SshdFmcFactory) -> None:
    """OpenSSH refusing the login password is `auth` at step `connect`."""
    fmc = sshd_fmc_factory("healthy-742")
    wrong = "definitely-not-it-3!"
    outcome = await probe_fmc(
        _target(fmc, password=wrong), TIMEOUTS, clock=fixed_clock(datetime.now(UTC))
    )
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("auth", "connect")
    assert wrong not in outcome.error.message


async def test_hang_through_openssh_times_out_at_login(sshd_fmc_factory: SshdFmcFactory) -> None:
    """A login shell that falls silent after the banner is a `timeout` at step `login`."""
    fmc = sshd_fmc_factory("hang-after-login")
    outcome = await _probe(fmc, ProbeTimeouts(connect=2.0, command=1.0, host=10.0))
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("timeout", "login")


async def test_ftd_shell_through_openssh(sshd_fmc_factory: SshdFmcFactory) -> None:
    """An FTD login shell under sshd: FX-OS banner, lecture, /opt/cisco/platform prompt, read."""
    fmc = sshd_fmc_factory("ftd-affected-760")
    outcome = await _probe(fmc)
    assert outcome.error is None, outcome.transcript
    assert "Cisco Firepower Extensible Operating System (FX-OS)" in outcome.transcript
    assert "usual lecture" in outcome.transcript
    assert f"{fmc.username}@firepower:/opt/cisco/platform$ " in outcome.transcript
    assert outcome.facts.model == "Cisco Secure Firewall Threat Defense for VMware"
    assert outcome.transcript.count("[sent] ********") == 1
    assert fmc.password not in outcome.transcript


async def test_ftd_lockdown_through_openssh_is_protocol(sshd_fmc_factory: SshdFmcFactory) -> None:
    """On a real PTY an FTD without `expert` is `protocol`: expert mode is unavailable."""
    fmc = sshd_fmc_factory("ftd-lockdown")
    outcome = await _probe(fmc)
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("protocol", "expert")
    assert "expert mode is unavailable on this device" in outcome.error.message
    assert "Invalid Input Detected" in outcome.error.message
