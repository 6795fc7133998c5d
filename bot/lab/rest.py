"""The FMC REST API of a lab host: a real aiohttp HTTPS server on loopback.

It serves what fmccert reads over REST, shaped as Cisco's FMC API answers it
(docs/fmc-facts.md, REST section; the health alert fields follow Cisco's published
``HealthAlertModel``: ``moduleID``, ``name``, ``status`` GREEN/YELLOW/RED/..., ``description``,
``deviceUUID`` "0" for the FMC itself):

- ``POST /api/fmc_platform/v1/auth/generatetoken`` (HTTP Basic; user :data:`REST_USERNAME`,
  the lab password) answers 204 with ``X-auth-access-token``, ``X-auth-refresh-token`` and
  ``DOMAIN_UUID``; ``refreshtoken`` trades both tokens for new ones; ``revokeaccess`` ends
  the session;
- ``GET /api/fmc_platform/v1/info/serverversion``: the scenario's release and build, the
  VDB build **live** from the host's :class:`~bot.lab.shell.FmcHost` (a VDB installed over
  SSH shows here at once);
- ``GET /api/fmc_config/v1/domain/{uuid}/health/alerts``: a "Talos Connectivity Status"
  alert (module ``HM_TALOSAGENT``) that is RED while the host's Talos certificate is
  expired, missing or unreadable (the FMC cannot authenticate to Talos then) and GREEN
  otherwise, read live, so a renewal over SSH turns it green; plus a green "Disk Usage"
  alert so a client must pick the right one.

It shares the host's state and lab clock with the SSH side, so both tell the same story.
A scenario whose SSH login is refused refuses the API user too. Test behaviours:
:meth:`LabRestHost.expire_at_next_request` (the next data request gets 401, as when a
token expires mid-session), :meth:`~LabRestHost.throttle` (answer 429 with ``Retry-After``,
or a 5xx, the next n times), :attr:`~LabRestHost.health_missing` (404 on the health
endpoint, as on releases without it); :attr:`~LabRestHost.requests` records every request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from cryptography import x509

from bot.fmc.target import DEFAULT_CERT_PATH
from bot.lab.scenarios import Scenario
from bot.lab.shell import FmcHost
from bot.lab.tls import LabTlsIdentity

REST_USERNAME = "api-user"
DOMAIN_UUID = "e276abec-e0f2-11e3-8169-6d9ed49b625f"  # the Global domain in Cisco's examples
LOGIN_PATH = "/api/fmc_platform/v1/auth/generatetoken"
REFRESH_PATH = "/api/fmc_platform/v1/auth/refreshtoken"
REVOKE_PATH = "/api/fmc_platform/v1/auth/revokeaccess"
VERSION_PATH = "/api/fmc_platform/v1/info/serverversion"
HEALTH_PATH = "/api/fmc_config/v1/domain/{domain}/health/alerts"
TALOS_ALERT_NAME = "Talos Connectivity Status"
TALOS_MODULE_ID = "HM_TALOSAGENT"
_SHUTDOWN_TIMEOUT = 0.5  # stop_host drops open connections, as the SSH side does


@dataclass(frozen=True, slots=True)
class RestRequest:
    """One request the lab's REST API received, and what it answered."""

    at: float  # time.monotonic() on arrival
    method: str
    path: str
    status: int


def _error(status: int, description: str) -> web.Response:
    # The FMC's error body: {"error": {"category", "messages": [{"description"}], "severity"}}
    body = {
        "error": {
            "category": "FRAMEWORK",
            "messages": [{"description": description}],
            "severity": "ERROR",
        }
    }
    return web.json_response(body, status=status)


class LabRestHost:
    """The REST API of one lab FMC: its sessions, test behaviours and request record."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        scenario: Scenario,
        state: FmcHost,
        password: str,
        clock: Callable[[], datetime],
        tls: LabTlsIdentity,
    ) -> None:
        self.name = name
        self.host = host
        self.scenario = scenario
        self.state = state
        self.tls = tls
        self.health_missing = False  # True: the health endpoint answers 404
        self.requests: list[RestRequest] = []
        self._password = password
        self._clock = clock
        self._access: dict[str, str] = {}  # valid access token -> its refresh token
        self._refresh: set[str] = set()  # valid refresh tokens (one per open session)
        # What to answer instead, in order: (status, Retry-After, only for this path).
        self._throttle: list[tuple[int, float | None, str | None]] = []
        self._expire_next: bool | None = None  # expire tokens at the next data request
        self._runner: web.AppRunner | None = None

    # Test behaviours

    def expire_tokens(self, *, refresh_too: bool = False) -> None:
        """Every access token expires now (the next data request gets 401); with
        ``refresh_too`` the refresh tokens as well, so only a new login helps."""
        self._access.clear()
        if refresh_too:
            self._refresh.clear()

    def expire_at_next_request(self, *, refresh_too: bool = False) -> None:
        """The tokens expire when the next data request arrives: it gets 401 mid-session."""
        self._expire_next = refresh_too

    def throttle(
        self,
        times: int,
        *,
        retry_after: float | None = 1,
        status: int = 429,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests (to ``path`` only, when given) with ``status``,
        and ``Retry-After`` when set."""
        self._throttle.extend([(status, retry_after, path)] * times)

    @property
    def open_sessions(self) -> int:
        """Sessions logged in and not revoked (0 after a client logged out)."""
        return len(self._refresh)

    def talos_alert(self) -> dict[str, Any]:
        """The "Talos Connectivity Status" health alert as it stands now."""
        status, description = self._talos_state()
        return {
            "type": "Alert",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}/talos")),
            "deviceUUID": "0",
            "moduleID": TALOS_MODULE_ID,
            "moduleUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, TALOS_MODULE_ID)),
            "name": TALOS_ALERT_NAME,
            "status": status,
            "description": description,
            "details": "",
            "timestamp": int(self._clock().timestamp()),
        }

    def _talos_state(self) -> tuple[str, str]:
        pem = self.state.files.get(DEFAULT_CERT_PATH)
        if pem is None:
            return "RED", "Unable to connect to Talos: the client certificate is missing"
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        except ValueError:
            return "RED", "Unable to connect to Talos: the client certificate is unreadable"
        expiry = cert.not_valid_after_utc
        if expiry <= self._clock():
            return "RED", (
                f"Unable to connect to Talos: the client certificate expired on "
                f"{expiry:%Y-%m-%d %H:%M:%S} UTC"
            )
        return "GREEN", "Connected to Talos"

    # HTTP

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_post(LOGIN_PATH, self._generate_token)
        app.router.add_post(REFRESH_PATH, self._refresh_token)
        app.router.add_post(REVOKE_PATH, self._revoke)
        app.router.add_get(VERSION_PATH, self._server_version)
        app.router.add_get(HEALTH_PATH.format(domain="{domain}"), self._health_alerts)
        return app

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        index = next(
            (i for i, (*_, path) in enumerate(self._throttle) if path in (None, request.path)),
            None,
        )
        if index is not None:
            status, retry_after, _ = self._throttle.pop(index)
            response: web.StreamResponse = _error(status, "Too many requests.")
            if retry_after is not None:
                response.headers["Retry-After"] = f"{retry_after:g}"
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = _error(exc.status, exc.reason)
        self.requests.append(
            RestRequest(time.monotonic(), request.method, request.path, response.status)
        )
        return response

    def _basic_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (
            self.scenario.login_ok
            and user == REST_USERNAME
            and secrets.compare_digest(password.encode(), self._password.encode())
        )

    def _new_session(self) -> web.Response:
        access, refresh = str(uuid.uuid4()), str(uuid.uuid4())
        self._access[access] = refresh
        self._refresh.add(refresh)
        return web.Response(
            status=204,
            headers={
                "X-auth-access-token": access,
                "X-auth-refresh-token": refresh,
                "DOMAIN_UUID": DOMAIN_UUID,
                "DOMAINS": f'[{{"name":"Global","uuid":"{DOMAIN_UUID}"}}]',
            },
        )

    async def _generate_token(self, request: web.Request) -> web.StreamResponse:
        if not self._basic_ok(request.headers.get("Authorization")):
            return _error(401, "Unauthorized")
        return self._new_session()

    async def _refresh_token(self, request: web.Request) -> web.StreamResponse:
        refresh = request.headers.get("X-auth-refresh-token", "")
        if refresh not in self._refresh:
            return _error(401, "Invalid refresh token.")
        self._refresh.discard(refresh)
        self._access = {a: r for a, r in self._access.items() if r != refresh}
        return self._new_session()

    async def _revoke(self, request: web.Request) -> web.StreamResponse:
        refresh = self._access.pop(request.headers.get("X-auth-access-token", ""), None)
        if refresh is None:
            return _error(401, "Access token invalid.")
        self._refresh.discard(refresh)
        return web.Response(status=204)

    async def _authorized(self, request: web.Request) -> bool:
        # An FMC is not instant: the lab's per-command delay applies to each data request.
        if self.state.config.command_delay > 0:
            await asyncio.sleep(self.state.config.command_delay)
        if self._expire_next is not None:
            self.expire_tokens(refresh_too=self._expire_next)
            self._expire_next = None
        return request.headers.get("X-auth-access-token", "") in self._access

    async def _server_version(self, request: web.Request) -> web.StreamResponse:
        if not await self._authorized(request):
            return _error(401, "Access token invalid.")
        vdb = self.state.vdb_build
        day = f"{self._clock():%Y-%m-%d}"  # package dates: today, as the lab sees it
        item = {
            "type": "ServerVersion",
            "serverVersion": f"{self.scenario.version} (build {self.scenario.build})",
            "vdbVersion": f"build {vdb} ( {day} 13:00:04 )" if vdb is not None else "",
            "sruVersion": f"{day}-001-vrt",
            "lspVersion": f"lsp-rel-{day.replace('-', '')}-1200",
            "geoVersion": f"{day}-101",
        }
        return web.json_response(
            {
                "links": {"self": str(request.url)},
                "items": [item],
                "paging": {"offset": 0, "limit": 25, "count": 1, "pages": 1},
            }
        )

    async def _health_alerts(self, request: web.Request) -> web.StreamResponse:
        if not await self._authorized(request):
            return _error(401, "Access token invalid.")
        if self.health_missing or request.match_info["domain"] != DOMAIN_UUID:
            return _error(404, "Not found.")
        items = [
            self.talos_alert(),
            {
                "type": "Alert",
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}/disk")),
                "deviceUUID": "0",
                "moduleID": "DISK_USAGE",
                "name": "Disk Usage",
                "status": "GREEN",
                "description": "/Volume using 21%",
                "details": "",
                "timestamp": int(self._clock().timestamp()),
            },
        ]
        devices = _filter_value(request.query.get("filter", ""), "deviceUUIDs")
        if devices is not None and "0" not in devices.split(","):
            items = []  # every lab alert is the FMC's own
        return web.json_response(
            {
                "links": {"self": str(request.url)},
                "items": items,
                "paging": {"offset": 0, "limit": 1000, "count": len(items), "pages": 1},
            }
        )

    # Serving

    @property
    def is_serving(self) -> bool:
        """Whether the API accepts connections now."""
        return self._runner is not None

    async def start(self, port: int = 0) -> int:
        """Serve on ``host:port`` (0: any free port); the port. OSError when it is taken."""
        runner = web.AppRunner(
            self._app(), access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, port))
            site = web.SockSite(runner, sock, ssl_context=self.tls.server_context())
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        bound: int = sock.getsockname()[1]
        return bound

    async def stop(self) -> None:
        """Stop serving and drop open connections; sessions and state are kept."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def _filter_value(text: str, key: str) -> str | None:
    # The FMC's filter syntax: "key1:value1;key2:value2".
    for part in text.split(";"):
        name, sep, value = part.partition(":")
        if sep and name.strip() == key:
            return value.strip()
    return None
