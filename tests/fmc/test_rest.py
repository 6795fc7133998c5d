"""The REST probe against the lab's real HTTPS FMC API on loopback, and its pure parts."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.devices import Access
from bot.core.expiry import Status, Thresholds
from bot.core.findings import ProbeOutcome, assess_outcome
from bot.errors import ProtocolError
from bot.fmc import rest as rest_module
from bot.fmc.rest import (
    LOGIN_PATH,
    LOGOUT_PATH,
    MAX_ATTEMPTS,
    REFRESH_PATH,
    VERSION_PATH,
    RateLimiter,
    parse_server_version,
    probe_rest,
    retry_delay,
    talos_health,
)
from bot.fmc.target import ProbeTarget, ProbeTimeouts, RestTarget
from bot.lab.rest import DOMAIN_UUID, REST_USERNAME, LabRestHost
from bot.lab.scenarios import Scenario, get_scenario
from bot.lab.server import LabHost, RunningLab, start_lab
from bot.secrets import Secret
from tests.fmc.helpers import PASSWORD, SLACK, TIMEOUTS, fixed_clock

NOW = datetime.now(UTC).replace(microsecond=0)


class RestLab:
    """Starts REST-serving labs for a test and closes them after it."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.labs: list[RunningLab] = []

    async def start(self, *names: str | Scenario, command_delay: float = 0.0) -> RunningLab:
        """A lab serving SSH and REST, one host per scenario name."""
        scenarios = [get_scenario(n) if isinstance(n, str) else n for n in names]
        lab = await start_lab(
            scenarios, password=PASSWORD, now=NOW, rest=True, command_delay=command_delay
        )
        self.labs.append(lab)
        return lab

    def target(self, lab: RunningLab, host: LabHost, **rest: object) -> ProbeTarget:
        """A REST-only target for ``host`` trusting its own certificate unless told otherwise."""
        ca = self.tmp_path / f"{host.name}-ca.pem"
        ca.write_text(lab.rest_server(host.name).tls.cert_pem, encoding="ascii")
        assert host.rest_port is not None
        settings = RestTarget(
            host=host.host,
            port=host.rest_port,
            username=REST_USERNAME,
            password=Secret(PASSWORD),
            ca_file=ca,
        )
        return ProbeTarget(
            name=host.name,
            host=host.host,
            port=host.port,
            username="admin",
            password=Secret(PASSWORD),
            known_hosts=self.tmp_path / "known_hosts",
            access=Access.REST,
            rest=dataclasses.replace(settings, **rest),  # type: ignore[arg-type]
        )


@pytest.fixture(autouse=True)
def _fresh_process_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """No rate-limit history or insecure warning from earlier tests (ports get reused)."""
    monkeypatch.setattr(rest_module, "_limiters", {})
    monkeypatch.setattr(rest_module, "_warned_insecure", set())


@pytest.fixture
async def rest_lab(tmp_path: Path) -> AsyncIterator[RestLab]:
    """Call ``start`` with scenario names for a lab that serves the REST API too."""
    factory = RestLab(tmp_path)
    try:
        yield factory
    finally:
        for lab in factory.labs:
            await lab.close()


async def _probe(
    target: ProbeTarget, timeouts: ProbeTimeouts = TIMEOUTS
) -> tuple[ProbeOutcome, float]:
    start = time.monotonic()
    outcome = await probe_rest(target, timeouts, clock=fixed_clock(NOW))
    return outcome, time.monotonic() - start


async def _one(rest_lab: RestLab, name: str) -> tuple[RunningLab, LabRestHost]:
    lab = await rest_lab.start(name)
    return lab, lab.rest_server(lab.hosts[0].name)


def _paths(api: LabRestHost) -> list[tuple[str, int]]:
    return [(request.path, request.status) for request in api.requests]


def _status(outcome: ProbeOutcome) -> Status:
    return assess_outcome("fmc", "127.0.0.1", outcome, Thresholds(), NOW).status


def _no_password(outcome: ProbeOutcome, caplog: pytest.LogCaptureFixture) -> None:
    basic = base64.b64encode(f"{REST_USERNAME}:{PASSWORD}".encode()).decode()
    for text in (outcome.transcript, caplog.text, outcome.error.message if outcome.error else ""):
        assert PASSWORD not in text
        assert basic not in text


# Reading an FMC


async def test_affected_release_with_old_vdb_is_at_risk(rest_lab: RestLab) -> None:
    """7.6.0 with VDB 400 read over REST gives release, build, VDB and status at_risk."""
    lab, _ = await _one(rest_lab, "affected-760-warning")
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is None
    assert outcome.access is Access.REST
    assert outcome.checked_at == NOW
    facts = outcome.facts
    assert (facts.version, facts.build, facts.vdb_build) == ("7.6.0", "36", 400)
    assert facts.certificate is None
    assert facts.talos_health == "green"
    assert _status(outcome) is Status.AT_RISK


async def test_unaffected_release_is_ok(rest_lab: RestLab) -> None:
    """7.4.2 read over REST is ok: its certificate renews on its own."""
    lab, _ = await _one(rest_lab, "healthy-742")
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is None
    assert (outcome.facts.version, outcome.facts.build) == ("7.4.2", "172")
    assert _status(outcome) is Status.OK


async def test_expired_certificate_shows_as_critical_talos_alarm(rest_lab: RestLab) -> None:
    """An FMC whose Talos certificate expired reports its alarm as critical with the reason."""
    lab, _ = await _one(rest_lab, "affected-760-expired")
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is None
    assert outcome.facts.talos_health is not None
    assert outcome.facts.talos_health.startswith("critical: ")
    assert "expired" in outcome.facts.talos_health


async def test_vdb_installed_over_ssh_shows_over_rest(rest_lab: RestLab) -> None:
    """After a VDB 406 install on the box the REST read shows it: ok, alarm green again."""
    lab, _ = await _one(rest_lab, "affected-760-expired")
    lab.install_vdb_by_hand(lab.hosts[0].name)
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.facts.vdb_build == 406
    assert outcome.facts.talos_health == "green"
    assert _status(outcome) is Status.OK


async def test_session_is_logged_out_after_a_read(rest_lab: RestLab) -> None:
    """A read logs in once, revokes its token at the end and leaves no session open."""
    lab, api = await _one(rest_lab, "healthy-742")
    await _probe(rest_lab.target(lab, lab.hosts[0]))

    paths = [path for path, _ in _paths(api)]
    assert paths[0] == LOGIN_PATH
    assert paths[-1] == LOGOUT_PATH
    assert paths.count(LOGIN_PATH) == 1
    assert api.open_sessions == 0


async def test_missing_health_endpoint_leaves_alarm_unknown(rest_lab: RestLab) -> None:
    """A release without the health alerts endpoint (404) still gives release and VDB."""
    lab, api = await _one(rest_lab, "affected-760-warning")
    api.health_missing = True
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is None
    assert outcome.facts.talos_health is None
    assert outcome.facts.vdb_build == 400
    assert _status(outcome) is Status.AT_RISK


async def test_failing_health_endpoint_leaves_alarm_unknown(rest_lab: RestLab) -> None:
    """A health endpoint that keeps answering 503 leaves the alarm unknown, the read ok."""
    lab, api = await _one(rest_lab, "affected-760-warning")
    health = f"/api/fmc_config/v1/domain/{DOMAIN_UUID}/health/alerts"
    api.throttle(MAX_ATTEMPTS, status=503, retry_after=0.01, path=health)
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is None
    assert outcome.facts.talos_health is None
    assert outcome.facts.vdb_build == 400
    assert "health alerts not readable" in outcome.transcript
    assert api.open_sessions == 0


# Tokens


async def test_expired_token_mid_session_is_refreshed(rest_lab: RestLab) -> None:
    """A 401 on a data request refreshes the tokens and repeats the request, no new login."""
    lab, api = await _one(rest_lab, "affected-760-warning")
    api.expire_at_next_request()
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is None
    assert outcome.facts.version == "7.6.0"
    paths = _paths(api)
    assert (VERSION_PATH, 401) in paths
    assert (REFRESH_PATH, 204) in paths
    assert (VERSION_PATH, 200) in paths
    assert [path for path, _ in paths].count(LOGIN_PATH) == 1
    assert api.open_sessions == 0


async def test_refused_refresh_logs_in_again_once(rest_lab: RestLab) -> None:
    """When the refresh token is refused too, the read logs in again once and goes on."""
    lab, api = await _one(rest_lab, "affected-760-warning")
    api.expire_at_next_request(refresh_too=True)
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is None
    paths = _paths(api)
    assert (REFRESH_PATH, 401) in paths
    assert [path for path, _ in paths].count(LOGIN_PATH) == 2
    assert api.open_sessions == 0


async def test_wrong_password_is_auth_error(
    rest_lab: RestLab, caplog: pytest.LogCaptureFixture
) -> None:
    """generatetoken refusing the password is kind auth naming the user, never the password."""
    caplog.set_level(logging.DEBUG)
    lab, api = await _one(rest_lab, "healthy-742")
    target = rest_lab.target(lab, lab.hosts[0], password=Secret(PASSWORD + "-wrong"))
    outcome, _ = await _probe(target)

    assert outcome.error is not None
    assert outcome.error.kind == "auth"
    assert outcome.error.message == f"the FMC REST API refused the user {REST_USERNAME}"
    assert outcome.facts.version is None
    assert _status(outcome) is Status.UNKNOWN
    assert _paths(api) == [(LOGIN_PATH, 401)]
    assert f"{PASSWORD}-wrong" not in caplog.text + outcome.transcript


# Back-off and the rate limit


async def test_429_waits_as_long_as_retry_after_says(rest_lab: RestLab) -> None:
    """Two 429 answers with Retry-After: 0.5 are retried after waiting at least that long."""
    lab, api = await _one(rest_lab, "healthy-742")
    api.throttle(2, retry_after=0.5)
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is None
    assert [request.status for request in api.requests[:3]] == [429, 429, 204]
    gaps = [b.at - a.at for a, b in zip(api.requests[:2], api.requests[1:3], strict=True)]
    assert all(gap >= 0.45 for gap in gaps)


async def test_server_error_is_retried_with_backoff(rest_lab: RestLab) -> None:
    """A 503 without Retry-After is retried after a short back-off, and the read succeeds."""
    lab, api = await _one(rest_lab, "healthy-742")
    api.throttle(1, status=503, retry_after=None)
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is None
    assert api.requests[0].status == 503
    assert api.requests[1].at - api.requests[0].at >= 0.4


async def test_endless_429_gives_up_after_bounded_tries(rest_lab: RestLab) -> None:
    """An FMC that keeps answering 429 ends the read as protocol after MAX_ATTEMPTS tries."""
    lab, api = await _one(rest_lab, "healthy-742")
    api.throttle(50, retry_after=0.05)
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is not None
    assert outcome.error.kind == "protocol"
    assert "429" in outcome.error.message
    login_tries = [r for r in api.requests if r.path == LOGIN_PATH]
    assert len(login_tries) == MAX_ATTEMPTS


async def test_retry_after_beyond_the_cap_stops_at_once(rest_lab: RestLab) -> None:
    """Asked to come back in an hour, the read stops at once instead of waiting or hammering."""
    lab, api = await _one(rest_lab, "healthy-742")
    api.throttle(1, retry_after=3600)
    outcome, elapsed = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is not None
    assert outcome.error.kind == "protocol"
    assert "3600" in outcome.error.message
    assert len(api.requests) == 1
    assert elapsed < TIMEOUTS.command


async def test_failed_read_after_login_still_logs_out(rest_lab: RestLab) -> None:
    """A read that fails after logging in still revokes its token."""
    lab, api = await _one(rest_lab, "healthy-742")
    # Login passes, then every serverversion attempt gets a 503: the read fails.
    api.throttle(MAX_ATTEMPTS, status=503, retry_after=0.01, path=VERSION_PATH)
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0]))

    assert outcome.error is not None
    assert outcome.error.kind == "protocol"
    assert api.requests[-1].path == LOGOUT_PATH
    assert api.open_sessions == 0


async def test_limiter_paces_requests_to_one_fmc(rest_lab: RestLab) -> None:
    """At 120/min, past a small burst, requests to one FMC are spaced about 0.5 s apart."""
    lab, api = await _one(rest_lab, "healthy-742")
    target = rest_lab.target(lab, lab.hosts[0])
    start = time.monotonic()
    # Two reads at once share the FMC's bucket: 8 requests in all.
    await asyncio.gather(_probe(target), _probe(target))
    elapsed = time.monotonic() - start

    times = sorted(request.at for request in api.requests)
    assert len(times) == 8
    burst = RateLimiter(120).burst
    spaced = [b - a for a, b in zip(times[burst - 1 :], times[burst:], strict=False)]
    assert all(gap >= 0.4 for gap in spaced)
    assert 1.5 <= elapsed < 10


async def test_small_limit_counts_requests_over_time(rest_lab: RestLab) -> None:
    """At 60/min the server never counts more requests than the bucket's burst plus refill."""
    lab, api = await _one(rest_lab, "healthy-742")
    target = rest_lab.target(lab, lab.hosts[0], requests_per_minute=60)
    limiter = RateLimiter(60)
    await asyncio.gather(*(_probe(target) for _ in range(2)))

    times = sorted(request.at for request in api.requests)
    assert len(times) == 8
    start = times[0]
    for index, moment in enumerate(times):
        allowed = limiter.burst + (moment - start) * limiter.rate + 0.5  # generous
        assert index + 1 <= allowed


def _greedy_caller(per_minute: int, seconds: float) -> list[float]:
    """When each request goes out if the caller always waits exactly as told (fake clock)."""
    now = [0.0]
    limiter = RateLimiter(per_minute, clock=lambda: now[0])
    sent: list[float] = []
    while now[0] < seconds:
        now[0] += limiter.reserve()
        sent.append(now[0])
    return sent


@pytest.mark.parametrize("per_minute", [1, 7, 20, 60, 120])
def test_rate_limiter_never_exceeds_its_limit_in_any_minute(per_minute: int) -> None:
    """A greedy caller gets at most per_minute requests in every 60 s window, and close to it."""
    sent = _greedy_caller(per_minute, 600)
    for index, moment in enumerate(sent):
        window = [t for t in sent[index:] if t < moment + 60 - 1e-9]  # float noise
        assert len(window) <= per_minute
    assert len([t for t in sent if t < 600]) >= per_minute * 10 * 0.9


# TLS


async def test_untrusted_certificate_is_refused(rest_lab: RestLab) -> None:
    """Without ca_file the lab's self-signed certificate is not trusted: kind protocol, no login."""
    lab, api = await _one(rest_lab, "healthy-742")
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0], ca_file=None))

    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("protocol", "tls")
    assert "not trusted" in outcome.error.message
    assert "rest.ca_file" in outcome.error.message
    assert api.requests == []


async def test_another_hosts_certificate_is_refused(rest_lab: RestLab, tmp_path: Path) -> None:
    """A ca_file holding a different FMC's certificate does not make this one trusted."""
    lab = await rest_lab.start("healthy-742", "healthy-742")
    first, second = lab.hosts
    other = tmp_path / "other.pem"
    other.write_text(lab.rest_server(second.name).tls.cert_pem, encoding="ascii")
    outcome, _ = await _probe(rest_lab.target(lab, first, ca_file=other))

    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("protocol", "tls")


async def test_insecure_skip_verify_reads_and_warns_once(
    rest_lab: RestLab, caplog: pytest.LogCaptureFixture
) -> None:
    """insecure_skip_verify reads an untrusted FMC, with one warning however many reads."""
    caplog.set_level(logging.WARNING, logger="bot.fmc")
    lab, _ = await _one(rest_lab, "healthy-742")
    target = rest_lab.target(lab, lab.hosts[0], ca_file=None, insecure_skip_verify=True)
    first, _ = await _probe(target)
    second, _ = await _probe(target)

    assert first.error is None
    assert second.error is None
    warnings = [r for r in caplog.records if "NOT verified" in r.getMessage()]
    assert len(warnings) == 1


async def test_unreadable_ca_file_is_config_error(rest_lab: RestLab, tmp_path: Path) -> None:
    """A ca_file that holds no certificate is kind config, before anything connects."""
    lab, api = await _one(rest_lab, "healthy-742")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n", encoding="ascii")
    outcome, _ = await _probe(rest_lab.target(lab, lab.hosts[0], ca_file=bad))

    assert outcome.error is not None
    assert outcome.error.kind == "config"
    assert api.requests == []


# Network failures


async def test_closed_port_is_unreachable(rest_lab: RestLab) -> None:
    """A host not listening refuses the connection: kind unreachable, quickly."""
    lab = await rest_lab.start("healthy-742")
    host = lab.hosts[0]
    target = rest_lab.target(lab, host)
    await lab.stop_host(host.name)
    outcome, elapsed = await _probe(target)

    assert outcome.error is not None
    assert outcome.error.kind == "unreachable"
    assert "refused" in outcome.error.message
    assert elapsed < TIMEOUTS.connect + SLACK


async def test_slow_answer_is_timeout(rest_lab: RestLab) -> None:
    """A data request slower than the command timeout is kind timeout, within its budget."""
    lab = await rest_lab.start("healthy-742", command_delay=3.0)
    timeouts = ProbeTimeouts(connect=2.0, command=0.5, host=10.0)
    outcome, elapsed = await _probe(rest_lab.target(lab, lab.hosts[0]), timeouts)

    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("timeout", "serverversion")
    assert elapsed < timeouts.command + LOGOUT_BUDGET


async def test_whole_read_longer_than_host_timeout_is_timeout(rest_lab: RestLab) -> None:
    """A read that outlasts the host timeout (many 429s) is kind timeout, step host."""
    lab, api = await _one(rest_lab, "healthy-742")
    api.throttle(3, retry_after=2)
    timeouts = ProbeTimeouts(connect=2.0, command=2.0, host=1.0)
    outcome, elapsed = await _probe(rest_lab.target(lab, lab.hosts[0]), timeouts)

    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.step) == ("timeout", "host")
    assert elapsed < timeouts.host + SLACK


async def test_target_without_rest_settings_is_config_error() -> None:
    """A target whose access has no REST settings is kind config, nothing connects."""
    target = ProbeTarget(
        name="fmc",
        host="127.0.0.1",
        port=22,
        username="admin",
        password=Secret(PASSWORD),
        known_hosts=Path("known_hosts"),
        access=Access.REST,
    )
    outcome, _ = await _probe(target)

    assert outcome.error is not None
    assert outcome.error.kind == "config"


# Secrets


async def test_password_never_logged_at_debug(
    rest_lab: RestLab, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, neither the password nor the Basic credentials show in logs or transcripts."""
    caplog.set_level(logging.DEBUG)
    lab, api = await _one(rest_lab, "affected-760-warning")
    api.expire_at_next_request(refresh_too=True)
    api.throttle(1, retry_after=0.1)
    target = rest_lab.target(lab, lab.hosts[0])
    outcomes = [(await _probe(target))[0]]
    untrusted = rest_lab.target(lab, lab.hosts[0], ca_file=None)
    outcomes.append((await _probe(untrusted))[0])

    assert outcomes[0].error is None
    assert outcomes[1].error is not None
    assert any("REST" in record.getMessage() for record in caplog.records)
    for outcome in outcomes:
        _no_password(outcome, caplog)


# The pure parts


def test_server_version_is_parsed() -> None:
    """serverVersion "7.7.0 (build 91)" and vdbVersion "build 413 ( ... )" give 7.7.0/91/413."""
    found = parse_server_version(
        {
            "items": [
                {
                    "serverVersion": "7.7.0 (build 91)",
                    "vdbVersion": "build 413 ( 2025-08-25 13:00:04 )",
                    "sruVersion": "2025-08-20-001-vrt",
                    "geoVersion": "2025-08-18-101",
                }
            ]
        }
    )

    assert (found.version, found.build, found.vdb_build) == ("7.7.0", "91", 413)
    assert found.geo == "2025-08-18-101"


@pytest.mark.parametrize(
    "document",
    [{}, {"items": []}, {"items": ["x"]}, {"items": [{"serverVersion": "\x1b[2Kok"}]}, []],
)
def test_server_version_without_a_release_is_protocol_error(document: object) -> None:
    """An answer without a parsable serverVersion is a ProtocolError, peer text sanitized."""
    with pytest.raises(ProtocolError) as caught:
        parse_server_version(document)
    assert "\x1b" not in caught.value.message


def test_missing_vdb_version_leaves_vdb_unknown() -> None:
    """An answer without vdbVersion has the release but no VDB build."""
    found = parse_server_version({"items": [{"serverVersion": "7.6.0 (build 36)"}]})
    assert (found.version, found.vdb_build) == ("7.6.0", None)


def _alert(status: str, *, timestamp: int = 1, **extra: object) -> dict[str, object]:
    return {
        "type": "Alert",
        "deviceUUID": "0",
        "moduleID": "HM_TALOSAGENT",
        "name": "Talos Connectivity Status",
        "status": status,
        "description": "Unable to connect to Talos\x1b[2K\r\nfake ok row",
        "timestamp": timestamp,
        **extra,
    }


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([_alert("RED")], "critical: Unable to connect to Talos fake ok row"),
        ([_alert("YELLOW")], "warning: Unable to connect to Talos fake ok row"),
        ([_alert("GREEN")], "green"),
        ([_alert("RECOVERED")], "green"),
        ([_alert("GREEN", timestamp=1), _alert("RED", timestamp=2)], "critical: "),
        ([_alert("RED", timestamp=2), _alert("GREEN", timestamp=1)], "critical: "),
        ([_alert("RED", moduleID="OTHER", name="Disk Usage")], None),
        ([_alert("RED", deviceUUID="5a1e-device")], None),
        ([_alert("RED", moduleID="X", name="talos connectivity status")], "critical: "),
        ([], None),
    ],
)
def test_talos_alarm_is_picked_from_health_alerts(
    items: Sequence[dict[str, object]], expected: str | None
) -> None:
    """The FMC's own Talos alarm is found by module or name, newest first, as one clean line."""
    found = talos_health({"items": list(items)})
    if expected is None or not expected.endswith(": "):
        assert found == expected
    else:
        assert found is not None
        assert found.startswith(expected)
        assert "\x1b" not in found
        assert "\n" not in found


def test_retry_delay_reads_seconds_dates_or_backs_off() -> None:
    """Retry-After in seconds or as an HTTP date is honoured; without it the wait doubles."""
    now = datetime(2025, 6, 18, 12, 0, 0, tzinfo=UTC)
    later = (now + timedelta(seconds=7)).strftime("%a, %d %b %Y %H:%M:%S GMT")

    assert retry_delay("3", 1, now) == 3.0
    assert retry_delay(later, 1, now) == 7.0
    assert retry_delay(None, 1, now) == 0.5
    assert retry_delay(None, 3, now) == 2.0
    assert retry_delay("soon", 2, now) == 1.0


LOGOUT_BUDGET = 3.0 + SLACK  # a failed read still logs out, for at most LOGOUT_WAIT
