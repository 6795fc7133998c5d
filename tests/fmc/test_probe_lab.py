"""The SSH probe against the emulated FMC lab: every scenario, timeouts, host keys, secrets."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh
import pytest

from bot.core.expiry import Thresholds
from bot.core.findings import ProbeOutcome, assess_outcome
from bot.fmc.probe import probe_fmc
from bot.fmc.target import ProbeTimeouts
from bot.lab.scenarios import CATALOG, Scenario
from bot.lab.server import RunningLab, start_lab
from tests.fmc.helpers import PASSWORD, SLACK, TIMEOUTS, fixed_clock, lab_target, write_known_hosts

NOW = datetime.now(UTC).replace(microsecond=0)
# Errors raised before the shell prompt: nothing can have been read.
_BEFORE_SHELL = {"unreachable", "host_key", "timeout", "protocol", "config"}


async def _probe_scenario(
    scenario: Scenario, tmp_path: Path, timeouts: ProbeTimeouts = TIMEOUTS
) -> tuple[ProbeOutcome, float]:
    async with await start_lab([scenario], password=PASSWORD, now=NOW) as lab:
        host = lab.hosts[0]
        lines = [host.known_hosts_line] if scenario.host_key_trusted else []
        known = write_known_hosts(tmp_path / "known_hosts", lines)
        start = time.monotonic()
        outcome = await probe_fmc(lab_target(host, known), timeouts, clock=fixed_clock(NOW))
        return outcome, time.monotonic() - start


def _assert_no_password(outcome: ProbeOutcome, caplog: pytest.LogCaptureFixture) -> None:
    assert PASSWORD not in outcome.transcript
    assert PASSWORD not in caplog.text
    if outcome.error is not None:
        assert PASSWORD not in outcome.error.message
        assert "\n" not in outcome.error.message


@pytest.mark.parametrize("scenario", list(CATALOG.values()), ids=list(CATALOG))
async def test_probe_reports_what_each_scenario_expects(
    scenario: Scenario, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each lab scenario yields its expected error kind, facts, certificate date and finding."""
    caplog.set_level(logging.DEBUG)
    outcome, elapsed = await _probe_scenario(scenario, tmp_path)

    assert outcome.checked_at == NOW
    assert (outcome.error.kind if outcome.error else None) == scenario.expect_error
    _assert_no_password(outcome, caplog)
    facts = outcome.facts
    if scenario.expect_error in _BEFORE_SHELL or not scenario.login_ok:
        assert facts.version is None
        assert facts.certificate is None
    else:
        assert (facts.version, facts.build) == (scenario.version, scenario.build)
        assert facts.vdb_build == scenario.vdb_build
        assert facts.model == scenario.model
    if scenario.expect_error is None:
        assert facts.certificate is not None
        assert scenario.cert_days_left is not None
        expected = NOW + timedelta(days=scenario.cert_days_left)
        assert abs(facts.certificate.not_after - expected) < timedelta(minutes=1)
        assert "Keymaster CA 2" in facts.certificate.issuer
    else:
        assert facts.certificate is None

    finding = assess_outcome(scenario.name, "127.0.0.1", outcome, Thresholds(), NOW)
    assert finding.status.value == scenario.expect_status
    assert finding.action.value == scenario.expect_action
    assert elapsed < TIMEOUTS.host + SLACK


async def test_slow_host_runs_into_the_host_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A slow FMC that cannot finish within the host budget is a `timeout` at step `host`."""
    timeouts = ProbeTimeouts(connect=2.0, command=2.0, host=1.5)
    outcome, elapsed = await _probe_scenario(CATALOG["slow-commands"], tmp_path, timeouts)
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("timeout", "host")
    assert "1.5 s" in outcome.error.message
    assert elapsed < timeouts.host + SLACK


async def test_slow_command_runs_into_the_command_timeout(tmp_path: Path) -> None:
    """A command slower than the step budget is a `timeout` naming that step."""
    timeouts = ProbeTimeouts(connect=2.0, command=0.5, host=10.0)
    outcome, elapsed = await _probe_scenario(CATALOG["slow-commands"], tmp_path, timeouts)
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("timeout", "expert")
    assert "expert" in outcome.error.message
    assert elapsed < timeouts.command + SLACK


async def test_hung_host_never_exceeds_the_command_timeout(tmp_path: Path) -> None:
    """A host that prints its banner and falls silent fails at `login` within the step budget."""
    timeouts = ProbeTimeouts(connect=2.0, command=1.0, host=10.0)
    outcome, elapsed = await _probe_scenario(CATALOG["hang-after-login"], tmp_path, timeouts)
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("timeout", "login")
    assert "Last login" in outcome.transcript  # the banner was read and kept
    assert elapsed < timeouts.command + SLACK


async def test_flooding_host_is_cut_off_by_the_buffer_cap(tmp_path: Path) -> None:
    """Endless output without a prompt is a `protocol` error long before any timeout."""
    outcome, elapsed = await _probe_scenario(CATALOG["garbage-talker"], tmp_path)
    assert outcome.error is not None
    assert outcome.error.kind == "protocol"
    assert "KiB" in outcome.error.message
    assert len(outcome.transcript) < 100_000  # the transcript stays bounded
    assert elapsed < TIMEOUTS.command


async def test_sudo_refusal_types_the_password_once_and_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When sudo says 'Sorry, try again' the probe sends Ctrl-C instead of a second password."""
    caplog.set_level(logging.DEBUG)
    outcome, _ = await _probe_scenario(CATALOG["sudo-refused"], tmp_path)
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("auth", "sudo")
    assert outcome.transcript.count("[sent] ********") == 1
    assert "[sent] ^C" in outcome.transcript
    _assert_no_password(outcome, caplog)


async def test_lecture_is_read_past_and_the_password_masked(tmp_path: Path) -> None:
    """The sudo lecture before `Password:` is tolerated and the typed password is masked."""
    outcome, _ = await _probe_scenario(CATALOG["sudo-lecture"], tmp_path)
    assert outcome.error is None
    assert "usual lecture" in outcome.transcript
    assert "Password:" in outcome.transcript
    assert "[sent] ********" in outcome.transcript


async def test_probe_leaves_through_expert_and_clish(tmp_path: Path) -> None:
    """A healthy probe ends with `exit` from bash and `exit` from CLISH."""
    outcome, _ = await _probe_scenario(CATALOG["healthy-742"], tmp_path)
    assert outcome.error is None
    assert outcome.transcript.count("[sent] exit") == 2
    assert "[sent] expert" in outcome.transcript


async def test_clish_off_never_types_expert(tmp_path: Path) -> None:
    """When the login lands at bash the probe does not type `expert` and exits once."""
    outcome, _ = await _probe_scenario(CATALOG["clish-off"], tmp_path)
    assert outcome.error is None
    assert "[sent] expert" not in outcome.transcript
    assert outcome.transcript.count("[sent] exit") == 1


async def _healthy_lab() -> RunningLab:
    return await start_lab([CATALOG["healthy-742"]], password=PASSWORD, now=NOW)


async def test_changed_host_key_is_refused_and_named(tmp_path: Path) -> None:
    """A different key pinned for the host is a `host_key` error that says CHANGED."""
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    async with await _healthy_lab() as lab:
        host = lab.hosts[0]
        known = write_known_hosts(
            tmp_path / "known_hosts", [f"[{host.host}]:{host.port} {other.strip()}"]
        )
        outcome = await probe_fmc(lab_target(host, known), TIMEOUTS, clock=fixed_clock(NOW))
    assert outcome.error is not None
    assert outcome.error.kind == "host_key"
    assert "CHANGED" in outcome.error.message
    assert f"fmccert trust {host.name}" in outcome.error.message


async def test_unknown_host_key_suggests_trust(tmp_path: Path) -> None:
    """A host absent from known_hosts is a `host_key` error suggesting `fmccert trust NAME`."""
    outcome, _ = await _probe_scenario(CATALOG["untrusted-host-key"], tmp_path)
    assert outcome.error is not None
    assert outcome.error.kind == "host_key"
    assert "not in known_hosts" in outcome.error.message
    assert "fmccert trust lab-fmc-01" in outcome.error.message


async def test_missing_known_hosts_file_is_a_config_error(tmp_path: Path) -> None:
    """A known_hosts path that does not exist is a `config` error naming the file."""
    async with await _healthy_lab() as lab:
        host = lab.hosts[0]
        missing = tmp_path / "nowhere" / "known_hosts"
        outcome = await probe_fmc(lab_target(host, missing), TIMEOUTS, clock=fixed_clock(NOW))
    assert outcome.error is not None
    assert outcome.error.kind == "config"
    assert str(missing) in outcome.error.message
    assert f"fmccert trust {host.name}" in outcome.error.message


async def test_malformed_known_hosts_file_is_a_config_error(tmp_path: Path) -> None:
    """A known_hosts file asyncssh cannot parse is a `config` error, not a crash."""
    async with await _healthy_lab() as lab:
        known = write_known_hosts(tmp_path / "known_hosts", ["@bogus-marker host key"])
        outcome = await probe_fmc(lab_target(lab.hosts[0], known), TIMEOUTS, clock=fixed_clock(NOW))
    assert outcome.error is not None
    assert outcome.error.kind == "config"


async def test_wrong_login_password_is_auth_and_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An SSH login refused for the password is `auth`; the wrong password leaks nowhere."""
    caplog.set_level(logging.DEBUG)
    wrong = "Not-The-Pw-9q!"
    async with await _healthy_lab() as lab:
        host = lab.hosts[0]
        known = write_known_hosts(tmp_path / "known_hosts", [host.known_hosts_line])
        outcome = await probe_fmc(
            lab_target(host, known, password=wrong), TIMEOUTS, clock=fixed_clock(NOW)
        )
    assert outcome.error is not None
    assert outcome.error.kind == "auth"
    assert wrong not in outcome.error.message + caplog.text + outcome.transcript


async def test_silent_tcp_server_is_unreachable_within_connect_timeout(tmp_path: Path) -> None:
    """A port that accepts TCP but never speaks SSH is `unreachable` after the connect budget."""
    clients: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.append(writer)  # hold the socket open, say nothing

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with await _healthy_lab() as lab:
        host = lab.hosts[0]
    known = write_known_hosts(tmp_path / "known_hosts", [f"[127.0.0.1]:{port} ssh-ed25519 AAAA"])
    target = dataclasses.replace(lab_target(host, known), port=port)
    timeouts = ProbeTimeouts(connect=0.5, command=2.0, host=10.0)
    try:
        start = time.monotonic()
        outcome = await probe_fmc(target, timeouts, clock=fixed_clock(NOW))
        elapsed = time.monotonic() - start
    finally:
        for writer in clients:
            writer.close()
        server.close()
        await server.wait_closed()
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("unreachable", "connect")
    assert elapsed < timeouts.connect + SLACK


async def test_many_probes_run_concurrently(tmp_path: Path) -> None:
    """Twenty healthy FMCs with 50 ms per command are probed concurrently in well under 2 s."""
    async with await start_lab(
        [CATALOG["affected-760-warning"]] * 20, password=PASSWORD, now=NOW, command_delay=0.05
    ) as lab:
        known = write_known_hosts(tmp_path / "known_hosts", [h.known_hosts_line for h in lab.hosts])
        start = time.monotonic()
        outcomes = await asyncio.gather(
            *(probe_fmc(lab_target(h, known), TIMEOUTS, clock=fixed_clock(NOW)) for h in lab.hosts)
        )
        elapsed = time.monotonic() - start
    assert [o.error for o in outcomes] == [None] * 20
    assert elapsed < 2.0
