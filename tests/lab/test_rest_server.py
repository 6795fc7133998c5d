"""The lab's FMC REST API, checked over real HTTPS on loopback with a plain aiohttp client."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.config import load_config
from bot.core.devices import Access
from bot.errors import LabError
from bot.lab.rest import (
    DOMAIN_UUID,
    HEALTH_PATH,
    LOGIN_PATH,
    REFRESH_PATH,
    REST_USERNAME,
    REVOKE_PATH,
    VERSION_PATH,
)
from bot.lab.scenarios import get_scenario
from bot.lab.server import REST_CA_FILE, LabHost, RunningLab, start_lab

PASSWORD = "Lab-REST-pw-42"
NOW = datetime.now(UTC)
HEALTH = HEALTH_PATH.format(domain=DOMAIN_UUID)


@pytest.fixture
async def lab() -> AsyncIterator[RunningLab]:
    """A REST lab: expired 7.6.0, healthy 7.4.2, a closed port and an FTD (lab-fmc-01..04)."""
    names = ["affected-760-expired", "healthy-742", "not-listening", "ftd-fixed-761"]
    running = await start_lab(
        [get_scenario(n) for n in names], password=PASSWORD, now=NOW, rest=True
    )
    try:
        yield running
    finally:
        await running.close()


def _basic(user: str, password: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class Client:
    """A bare HTTPS client for one lab host that trusts only that host's certificate."""

    def __init__(self, lab: RunningLab, host: LabHost, http: aiohttp.ClientSession):
        self.base = f"https://{host.host}:{host.rest_port}"
        self.http = http
        self.context = ssl.create_default_context(cadata=lab.rest_server(host.name).tls.cert_pem)

    async def call(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        """Status, headers and JSON body (None when empty) of one request."""
        async with self.http.request(
            method, self.base + path, headers=headers or {}, ssl=self.context
        ) as response:
            body = await response.read()
            return (
                response.status,
                dict(response.headers),
                (await response.json()) if body else None,
            )

    async def login(self, password: str = PASSWORD) -> dict[str, str]:
        """Log in as the API user; the token headers."""
        auth = _basic(REST_USERNAME, password)
        status, headers, _ = await self.call("POST", LOGIN_PATH, {"Authorization": auth})
        assert status == 204
        return headers


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


def _client(lab: RunningLab, name: str, http: aiohttp.ClientSession) -> Client:
    return Client(lab, lab.host(name), http)


async def test_login_gives_tokens_and_domain(lab: RunningLab, http: aiohttp.ClientSession) -> None:
    """generatetoken with the API user and lab password answers 204 with both tokens."""
    headers = await _client(lab, "lab-fmc-02", http).login()

    assert headers["X-auth-access-token"]
    assert headers["X-auth-refresh-token"]
    assert headers["DOMAIN_UUID"] == DOMAIN_UUID
    assert lab.rest_server("lab-fmc-02").open_sessions == 1


async def test_wrong_password_is_401(lab: RunningLab, http: aiohttp.ClientSession) -> None:
    """generatetoken with a wrong password answers 401 and opens no session."""
    client = _client(lab, "lab-fmc-02", http)
    auth = _basic(REST_USERNAME, "nope-nope")
    status, _, body = await client.call("POST", LOGIN_PATH, {"Authorization": auth})

    assert status == 401
    assert body["error"]["messages"][0]["description"]
    assert lab.rest_server("lab-fmc-02").open_sessions == 0


async def test_server_version_shows_release_and_live_vdb(
    lab: RunningLab, http: aiohttp.ClientSession
) -> None:
    """serverversion shows the scenario's release and the VDB the box runs now."""
    client = _client(lab, "lab-fmc-01", http)
    token = {"X-auth-access-token": (await client.login())["X-auth-access-token"]}
    _, _, before = await client.call("GET", VERSION_PATH, token)
    lab.install_vdb_by_hand("lab-fmc-01", build=413)
    _, _, after = await client.call("GET", VERSION_PATH, token)

    assert before["items"][0]["serverVersion"] == "7.6.0 (build 36)"
    assert before["items"][0]["vdbVersion"].startswith("build 400 (")
    assert after["items"][0]["vdbVersion"].startswith("build 413 (")


async def test_talos_alert_is_red_until_the_certificate_is_renewed(
    lab: RunningLab, http: aiohttp.ClientSession
) -> None:
    """The Talos Connectivity alert is RED on an expired certificate and GREEN once renewed."""
    client = _client(lab, "lab-fmc-01", http)
    token = {"X-auth-access-token": (await client.login())["X-auth-access-token"]}

    def talos(body: Any) -> dict[str, Any]:
        found: dict[str, Any] = next(
            item for item in body["items"] if item["name"] == "Talos Connectivity Status"
        )
        return found

    _, _, before = await client.call("GET", HEALTH + "?filter=deviceUUIDs:0", token)
    lab.install_vdb_by_hand("lab-fmc-01")  # VDB 406 with cloud connectivity renews it
    _, _, after = await client.call("GET", HEALTH, token)
    _, _, other_device = await client.call("GET", HEALTH + "?filter=deviceUUIDs:5a1e", token)

    assert talos(before)["status"] == "RED"
    assert talos(before)["moduleID"] == "HM_TALOSAGENT"
    assert talos(before)["deviceUUID"] == "0"
    assert "expired" in talos(before)["description"]
    assert talos(after)["status"] == "GREEN"
    assert len(after["items"]) == 2  # and a Disk Usage alert
    assert other_device["items"] == []


async def test_data_request_without_valid_token_is_401(
    lab: RunningLab, http: aiohttp.ClientSession
) -> None:
    """serverversion without a token, or with one that expired, answers 401."""
    client = _client(lab, "lab-fmc-02", http)
    no_token, _, _ = await client.call("GET", VERSION_PATH)
    tokens = await client.login()
    lab.rest_server("lab-fmc-02").expire_at_next_request()
    expired, _, _ = await client.call(
        "GET", VERSION_PATH, {"X-auth-access-token": tokens["X-auth-access-token"]}
    )

    assert (no_token, expired) == (401, 401)


async def test_refresh_trades_tokens_and_revoke_ends_the_session(
    lab: RunningLab, http: aiohttp.ClientSession
) -> None:
    """refreshtoken gives working new tokens for an expired one; revokeaccess closes it."""
    client = _client(lab, "lab-fmc-02", http)
    api = lab.rest_server("lab-fmc-02")
    old = await client.login()
    api.expire_tokens()
    status, new, _ = await client.call(
        "POST",
        REFRESH_PATH,
        {k: old[k] for k in ("X-auth-access-token", "X-auth-refresh-token")},
    )
    token = {"X-auth-access-token": new["X-auth-access-token"]}
    works, _, _ = await client.call("GET", VERSION_PATH, token)
    revoked, _, _ = await client.call("POST", REVOKE_PATH, token)

    assert (status, works, revoked) == (204, 200, 204)
    assert new["X-auth-access-token"] != old["X-auth-access-token"]
    assert api.open_sessions == 0


async def test_refresh_refused_when_refresh_tokens_expired(
    lab: RunningLab, http: aiohttp.ClientSession
) -> None:
    """With the refresh tokens expired too, refreshtoken answers 401."""
    client = _client(lab, "lab-fmc-02", http)
    old = await client.login()
    lab.rest_server("lab-fmc-02").expire_tokens(refresh_too=True)
    status, _, _ = await client.call(
        "POST", REFRESH_PATH, {"X-auth-refresh-token": old["X-auth-refresh-token"]}
    )

    assert status == 401


async def test_throttle_answers_429_with_retry_after(
    lab: RunningLab, http: aiohttp.ClientSession
) -> None:
    """throttle(n) answers the next n requests 429 with Retry-After, then serves again."""
    client = _client(lab, "lab-fmc-02", http)
    api = lab.rest_server("lab-fmc-02")
    api.throttle(2, retry_after=3)
    answers = [await client.call("POST", LOGIN_PATH) for _ in range(3)]

    assert [status for status, _, _ in answers] == [429, 429, 401]
    assert answers[0][1]["Retry-After"] == "3"
    assert [request.status for request in api.requests] == [429, 429, 401]


async def test_health_missing_answers_404(lab: RunningLab, http: aiohttp.ClientSession) -> None:
    """With health_missing the health alerts endpoint answers 404, as on older releases."""
    client = _client(lab, "lab-fmc-02", http)
    token = {"X-auth-access-token": (await client.login())["X-auth-access-token"]}
    lab.rest_server("lab-fmc-02").health_missing = True
    status, _, _ = await client.call("GET", HEALTH, token)

    assert status == 404


async def test_stopped_host_stops_its_rest_api_and_comes_back(
    lab: RunningLab, http: aiohttp.ClientSession
) -> None:
    """stop_host refuses REST connections too; start_host serves them again on the same port."""
    client = _client(lab, "lab-fmc-02", http)
    await lab.stop_host("lab-fmc-02")
    with pytest.raises(aiohttp.ClientConnectorError):
        await client.call("POST", LOGIN_PATH)
    await lab.start_host("lab-fmc-02")
    status, _, _ = await client.call("POST", LOGIN_PATH)

    assert status == 401


def test_ftd_and_closed_hosts_have_no_rest_server(lab: RunningLab) -> None:
    """An FTD has no REST port; a closed-port host has a port but nothing serving it."""
    assert lab.host("lab-fmc-04").rest_port is None
    assert lab.host("lab-fmc-03").rest_port is not None
    for name in ("lab-fmc-03", "lab-fmc-04"):
        with pytest.raises(LabError):
            lab.rest_server(name)


def test_rest_config_loads_with_rest_targets(lab: RunningLab, tmp_path: Path) -> None:
    """write_config(access="rest") writes the API user, the CA bundle and each FMC's port."""
    path = tmp_path / "fmccert.yaml"
    lab.write_config(path, access="rest")
    config = load_config(path, {})
    targets = {entry.target.name: entry.target for entry in config.fmcs}

    first = targets["lab-fmc-01"]
    assert first.access is Access.REST
    assert first.rest is not None
    assert (first.rest.username, first.rest.port) == (
        REST_USERNAME,
        lab.host("lab-fmc-01").rest_port,
    )
    assert first.rest.password.reveal() == PASSWORD
    assert first.rest.ca_file == tmp_path / REST_CA_FILE
    bundle = (tmp_path / REST_CA_FILE).read_text(encoding="ascii")
    assert bundle.count("BEGIN CERTIFICATE") == 2  # the two FMCs that serve REST
    assert targets["lab-fmc-04"].access is Access.SSH  # an FTD stays on SSH


def test_rest_config_without_ca_trusts_system_cas_only(lab: RunningLab, tmp_path: Path) -> None:
    """write_config(rest_ca=False) writes no ca_file: the lab's certificates are untrusted."""
    path = tmp_path / "fmccert.yaml"
    lab.write_config(path, access="both", rest_ca=False)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))

    assert "ca_file" not in document["defaults"]["rest"]
    assert document["fmcs"][0]["access"] == "both"
    assert not (tmp_path / REST_CA_FILE).exists()


async def test_default_config_is_unchanged_by_rest(lab: RunningLab, tmp_path: Path) -> None:
    """The default config of a REST-serving lab has no REST keys: SSH only, as before."""
    path = tmp_path / "fmccert.yaml"
    lab.write_config(path)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))

    assert "rest" not in document["defaults"]
    assert all("access" not in fmc and "rest" not in fmc for fmc in document["fmcs"])


async def test_rest_config_needs_a_rest_lab(tmp_path: Path) -> None:
    """Asking for access rest from a lab started without REST is a LabError."""
    async with await start_lab([get_scenario("healthy-742")], now=NOW) as plain:
        assert plain.hosts[0].rest_port is None
        with pytest.raises(LabError):
            plain.write_config(tmp_path / "fmccert.yaml", access="rest")
        with pytest.raises(LabError):
            plain.write_config(tmp_path / "fmccert.yaml", access="telnet")


def test_lab_command_refuses_rest_access_without_rest(capsys: pytest.CaptureFixture[str]) -> None:
    """`fmccert lab --access rest` without --rest is a one-line usage error, exit 3."""
    from bot.cli import main

    assert main(["lab", "--count", "1", "--access", "rest"]) == 3
    assert "--access rest needs --rest" in capsys.readouterr().err


async def test_lab_command_serves_rest_and_writes_both(tmp_path: Path) -> None:
    """`fmccert lab --rest` serves HTTPS and writes an access: both config the probe reads."""
    from bot.fmc.rest import probe_rest
    from bot.fmc.target import ProbeTimeouts
    from bot.lab.process import spawn_lab

    path = tmp_path / "fmccert.yaml"
    process = spawn_lab(2, path, scenarios=["affected-760-warning"], rest=True)
    try:
        config = load_config(path, {})
        target = config.fmcs[0].target
        assert target.access is Access.BOTH
        outcome = await probe_rest(target, ProbeTimeouts(2, 2, 10), clock=lambda: NOW)
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert outcome.error is None
    assert (outcome.facts.version, outcome.facts.vdb_build) == ("7.6.0", 400)
