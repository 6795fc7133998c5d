"""Read one FMC over its REST API: release, VDB build and the Talos Connectivity alarm.

The REST API is the way in when no shell is allowed (docs/fmc-facts.md, REST section). It
cannot read the certificate, only whether it can renew (release and VDB) and the FMC's own
"Talos Connectivity Status" health alarm. One read is::

    POST /api/fmc_platform/v1/auth/generatetoken   Basic auth -> 204 + tokens, DOMAIN_UUID
    GET  /api/fmc_platform/v1/info/serverversion   items[0].serverVersion, vdbVersion
    GET  /api/fmc_config/v1/domain/{uuid}/health/alerts?filter=deviceUUIDs:0
    POST /api/fmc_platform/v1/auth/revokeaccess    always, even after a failure

A 401 on a data request refreshes the tokens (``refreshtoken``), or when that is refused
logs in again, once. 429 and 5xx are retried a bounded number of times, waiting as long as
``Retry-After`` says (up to :data:`MAX_RETRY_WAIT`; asked for longer, the read gives up).
Every request, retries and logout included, first takes a token from the FMC's
:class:`RateLimiter`, shared by every read of that ``host:port`` in this process, so a
busy bot stays within the FMC's 120 requests per minute.

TLS is verified against the system's CAs, or ``rest.ca_file`` when set; only an explicit
``rest.insecure_skip_verify`` turns verification off (with a warning, once per FMC). An
untrusted certificate is error kind ``protocol`` (step ``tls``), not ``host_key``:
``host_key`` means SSH known_hosts and its hint is ``fmccert trust``, which cannot help a
TLS peer; the message names the two settings that can. A connect timeout is
``unreachable``, as over SSH; a request that outlasts ``timeouts.command`` or a whole read
that outlasts ``timeouts.host`` is ``timeout``.

The health alert follows Cisco's ``HealthAlertModel`` (``name``, ``moduleID``
``HM_TALOSAGENT``, ``status`` GREEN/YELLOW/RED/RECOVERED/DISABLED/ERROR/FAILED,
``description``, ``timestamp``; ``deviceUUID`` "0" is the FMC itself). A release without
the endpoint (404), a user without the right to read it (403) or an endpoint that keeps
failing (5xx, 429) leaves ``talos_health`` None: the release and VDB read stands.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from multidict import CIMultiDict

from bot.core.devices import Access
from bot.core.findings import ErrorInfo, FmcFacts, ProbeOutcome
from bot.core.fmc_files import parse_sf_version
from bot.core.peer_text import MESSAGE_LIMIT, cut_with_note, sanitize_peer_text
from bot.errors import (
    AuthError,
    ProbeConfigError,
    ProbeError,
    ProtocolError,
    StepTimeoutError,
    UnreachableError,
)
from bot.fmc.target import ProbeTarget, ProbeTimeouts, RestTarget
from bot.logs import register_secret
from bot.secrets import Secret, redact

logger = logging.getLogger("bot.fmc")

LOGIN_PATH = "/api/fmc_platform/v1/auth/generatetoken"
REFRESH_PATH = "/api/fmc_platform/v1/auth/refreshtoken"
LOGOUT_PATH = "/api/fmc_platform/v1/auth/revokeaccess"
VERSION_PATH = "/api/fmc_platform/v1/info/serverversion"
HEALTH_PATH = "/api/fmc_config/v1/domain/{domain}/health/alerts"
FMC_DEVICE_UUID = "0"  # the FMC's own device UUID in health filters
TALOS_MODULE_ID = "HM_TALOSAGENT"
TALOS_ALERT_NAME = "talos connectivity"  # matched in lower case, anywhere in the name

MAX_ATTEMPTS = 4  # per request, for 429 and 5xx answers
MAX_RETRY_WAIT = 30.0  # seconds: a longer Retry-After ends the read instead
BACKOFF_START = 0.5  # seconds before the first retry without Retry-After; doubles
LOGOUT_WAIT = 3.0  # seconds: logging out is courtesy, never holds up the result
REASON_LIMIT = 200
_VDB_BUILD = re.compile(r"build\s+(\d+)", re.IGNORECASE)
# Health statuses as people say them; the rest (DISABLED, ERROR, FAILED) lower-cased.
_HEALTH_WORDS = {"RED": "critical", "YELLOW": "warning", "GREEN": "green", "RECOVERED": "green"}


# The pure part: answers in, facts out.


@dataclass(frozen=True, slots=True)
class ServerVersion:
    """What ``info/serverversion`` says: release, build and the update packages' versions."""

    version: str
    build: str | None
    vdb_build: int | None
    vdb: str | None = None
    sru: str | None = None
    geo: str | None = None


def parse_server_version(document: Any) -> ServerVersion:
    """The release and VDB build from a ``serverversion`` answer; ProtocolError if absent."""
    items = document.get("items") if isinstance(document, Mapping) else None
    first = items[0] if isinstance(items, list) and items else None
    if not isinstance(first, Mapping):
        raise ProtocolError("serverversion answered without items", step="serverversion")
    raw = first.get("serverVersion")
    release = parse_sf_version(raw) if isinstance(raw, str) else None
    if release is None:
        shown = sanitize_peer_text(str(raw), limit=60)
        raise ProtocolError(f"serverVersion {shown!r} is not a release", step="serverversion")
    vdb = first.get("vdbVersion")
    match = _VDB_BUILD.search(vdb) if isinstance(vdb, str) else None
    return ServerVersion(
        version=release.version,
        build=release.build,
        vdb_build=int(match.group(1)) if match else None,
        vdb=_text(vdb),
        sru=_text(first.get("sruVersion")),
        geo=_text(first.get("geoVersion")),
    )


def talos_health(document: Any) -> str | None:
    """The FMC's "Talos Connectivity Status" alarm from a ``health/alerts`` answer.

    ``"critical: <description>"`` (RED), ``"warning: <description>"`` (YELLOW), ``"green"``
    (GREEN, RECOVERED), else the status in lower case with its description; None when
    the answer holds no such alarm. The newest alert of the module wins.
    """
    items = document.get("items") if isinstance(document, Mapping) else None
    if not isinstance(items, list):
        return None
    alerts = [
        item
        for item in items
        if isinstance(item, Mapping)
        and str(item.get("deviceUUID", FMC_DEVICE_UUID)) == FMC_DEVICE_UUID
        and (
            item.get("moduleID") == TALOS_MODULE_ID
            or TALOS_ALERT_NAME in str(item.get("name", "")).lower()
        )
    ]
    if not alerts:
        return None
    newest = max(alerts, key=lambda item: _number(item.get("timestamp")))
    status = str(newest.get("status", "")).upper()
    word = _HEALTH_WORDS.get(status, status.lower() or "unknown")
    if word == "green":
        return word
    description = sanitize_peer_text(str(newest.get("description") or ""), limit=REASON_LIMIT)
    return f"{word}: {description}" if description else word


def retry_delay(header: str | None, attempt: int, now: datetime) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``Retry-After`` (seconds or an
    HTTP date) when given, else exponential from :data:`BACKOFF_START`."""
    if header:
        text = header.strip()
        with contextlib.suppress(ValueError):
            return max(0.0, float(text))
        with contextlib.suppress(TypeError, ValueError, IndexError):
            when = parsedate_to_datetime(text)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - now).total_seconds())
    return float(BACKOFF_START * 2 ** (attempt - 1))


def _text(value: object) -> str | None:
    return sanitize_peer_text(value, limit=REASON_LIMIT) if isinstance(value, str) else None


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


# The rate limit, shared per FMC within the process.


class RateLimiter:
    """A token bucket that keeps one FMC at or below ``per_minute`` requests in any minute.

    It holds ``burst`` tokens (a few: one read's worth) and refills at
    ``(per_minute - burst + 1)`` per minute, so that the full bucket plus a minute's refill
    never exceeds ``per_minute``. :meth:`reserve` takes a token now and says how long to
    wait for it; it never awaits, so no lock is needed (and none is bound to an event loop).
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic):
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, not {per_minute}")
        self.per_minute = per_minute
        self.burst = max(1, min(4, per_minute // 10))
        self.rate = (per_minute - self.burst + 1) / 60.0  # tokens per second
        self._clock = clock
        self._tokens = float(self.burst)
        self._updated = clock()

    def reserve(self) -> float:
        """Take one token; the seconds until it is due (0 when one is there now)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


_limiters: dict[tuple[str, int], RateLimiter] = {}


def limiter_for(rest: RestTarget) -> RateLimiter:
    """The process-wide limiter of the FMC at ``rest.host:rest.port``."""
    key = (rest.host, rest.port)
    limiter = _limiters.get(key)
    if limiter is None or limiter.per_minute != rest.requests_per_minute:
        limiter = _limiters[key] = RateLimiter(rest.requests_per_minute)
    return limiter


# TLS


_warned_insecure: set[tuple[str, int]] = set()


@functools.lru_cache(maxsize=64)
def _verifying_context(ca_file: str | None, _mtime: float) -> ssl.SSLContext:
    # Loading the system store costs milliseconds: share one context per CA file version.
    return ssl.create_default_context(cafile=ca_file)


def tls_context(name: str, rest: RestTarget) -> ssl.SSLContext | bool:
    """What aiohttp verifies the FMC with: a context, or False when verification is off."""
    if rest.insecure_skip_verify:
        if (rest.host, rest.port) not in _warned_insecure:
            _warned_insecure.add((rest.host, rest.port))
            logger.warning(
                "fmc %s: TLS certificate of %s:%s NOT verified (rest.insecure_skip_verify)",
                name, rest.host, rest.port,
            )  # fmt: skip
        return False
    if rest.ca_file is None:
        return _verifying_context(None, 0.0)
    try:
        return _verifying_context(str(rest.ca_file), rest.ca_file.stat().st_mtime)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None)
        reason = reason or type(exc).__name__
        raise ProbeConfigError(
            f"rest.ca_file {rest.ca_file} holds no usable CA certificate ({reason})", step="tls"
        ) from None


# The read itself.


@dataclass(slots=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(slots=True)
class _Session:
    """One REST read in progress: the HTTP session, tokens and what it learnt so far."""

    name: str
    rest: RestTarget
    timeouts: ProbeTimeouts
    clock: Callable[[], datetime]
    http: aiohttp.ClientSession
    base: str
    limiter: RateLimiter
    access: str | None = None
    refresh: str | None = None
    domain: str | None = None
    version: ServerVersion | None = None
    talos_health: str | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.rest.host}:{self.rest.port}"

    def note(self, line: str) -> None:
        self.lines.append(line)


async def probe_rest(
    target: ProbeTarget, timeouts: ProbeTimeouts, *, clock: Callable[[], datetime]
) -> ProbeOutcome:
    """Read one FMC over its REST API; every expected failure is in ``outcome.error``."""
    checked_at = clock()
    rest = target.rest
    secrets: list[Secret] = [target.password]
    session: _Session | None = None
    error: ProbeError | None = None
    try:
        if rest is None:
            raise ProbeConfigError(
                f"{target.name} has no REST settings (access: {target.access.value})",
                step="config",
            )
        secrets.append(rest.password)
        register_secret(rest.password)
        connector = aiohttp.TCPConnector(ssl=tls_context(target.name, rest), limit=1)
        http = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect),
            trust_env=False,  # never a proxy from the environment between us and the FMC
            raise_for_status=False,
        )
        session = _Session(
            name=target.name,
            rest=rest,
            timeouts=timeouts,
            clock=clock,
            http=http,
            base=f"https://{_url_host(rest.host)}:{rest.port}",
            limiter=limiter_for(rest),
        )
        try:
            async with asyncio.timeout(timeouts.host):
                await _read(session)
        except TimeoutError:
            error = StepTimeoutError(
                f"the whole REST read took longer than {timeouts.host:g} s", step="host"
            )
        finally:
            await _logout(session)
            await http.close()
    except ProbeError as exc:
        error = exc
    info = None
    if error is not None:
        message = cut_with_note(redact(sanitize_peer_text(error.message), secrets), MESSAGE_LIMIT)
        info = ErrorInfo(kind=error.kind, message=message, step=error.step)
        logger.info("fmc %s: REST %s (%s)", target.name, error.kind, message)
    facts = FmcFacts()
    transcript = ""
    if session is not None:
        found = session.version
        facts = FmcFacts(
            version=found.version if found else None,
            build=found.build if found else None,
            vdb_build=found.vdb_build if found else None,
            talos_health=session.talos_health,
        )
        transcript = redact("".join(f"{line}\n" for line in session.lines), secrets)
    return ProbeOutcome(
        checked_at=checked_at, facts=facts, error=info, transcript=transcript, access=Access.REST
    )


async def _read(session: _Session) -> None:
    await _login(session)
    document = await _get_json(session, VERSION_PATH, {}, step="serverversion")
    found = session.version = parse_server_version(document)
    session.note(
        f"release {found.version} build {found.build}; VDB {found.vdb}; SRU {found.sru}; "
        f"GeoDB {found.geo}"
    )
    await _read_health(session)


async def _read_health(session: _Session) -> None:
    assert session.domain is not None  # set by a successful login
    path = HEALTH_PATH.format(domain=session.domain)
    params = {"filter": f"deviceUUIDs:{FMC_DEVICE_UUID}", "expanded": "true", "limit": "1000"}
    try:
        reply = await _authorized(session, "GET", path, params, step="health")
    except ProtocolError as exc:
        # The alarm is extra: an FMC that keeps failing this one endpoint (5xx, 429) still
        # gave its release and VDB. Timeouts and lost connections still end the read.
        session.note(f"health alerts not readable ({exc.message})")
        logger.info("fmc %s: REST health alerts: %s", session.name, exc.message)
        return
    if reply.status != 200:
        # A release without the endpoint (404), or a user not allowed to read it (403):
        # the release and VDB read stands, the alarm stays unknown.
        session.note(f"health alerts not readable (HTTP {reply.status})")
        logger.info("fmc %s: REST health alerts: HTTP %d", session.name, reply.status)
        return
    session.talos_health = talos_health(_json(reply, "health"))
    session.note(f"Talos Connectivity Status: {session.talos_health or 'no such alert'}")


async def _login(session: _Session) -> None:
    # HTTP Basic by hand: aiohttp's BasicAuth is deprecated, and this keeps it in one place.
    pair = f"{session.rest.username}:{session.rest.password.reveal()}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    reply = await _send(session, "POST", LOGIN_PATH, headers=headers, step="login")
    if reply.status in (401, 403):
        raise AuthError(f"the FMC REST API refused the user {session.rest.username}", step="login")
    if reply.status != 204:
        raise ProtocolError(f"generatetoken answered HTTP {reply.status}", step="login")
    _take_tokens(session, reply, step="login")


def _take_tokens(session: _Session, reply: _Reply, *, step: str) -> None:
    access = reply.headers.get("X-auth-access-token")
    refresh = reply.headers.get("X-auth-refresh-token")
    domain = reply.headers.get("DOMAIN_UUID") or session.domain
    if not access or not refresh or not domain:
        raise ProtocolError(f"{step} answered 204 without the token headers", step=step)
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", domain):
        raise ProtocolError("DOMAIN_UUID is not a UUID", step=step)
    session.access, session.refresh, session.domain = access, refresh, domain


async def _refresh_or_login(session: _Session, step: str) -> None:
    """New tokens after a 401: ``refreshtoken`` first, a new login when it is refused."""
    headers = {
        "X-auth-access-token": session.access or "",
        "X-auth-refresh-token": session.refresh or "",
    }
    reply = await _send(session, "POST", REFRESH_PATH, headers=headers, step="refresh")
    if reply.status == 204:
        _take_tokens(session, reply, step="refresh")
        session.note(f"{step}: access token expired, refreshed")
        return
    session.note(f"{step}: access token expired, refresh refused (HTTP {reply.status})")
    session.access = session.refresh = None
    await _login(session)


async def _authorized(
    session: _Session, method: str, path: str, params: Mapping[str, str], *, step: str
) -> _Reply:
    """A request with the access token; on a 401, new tokens once, then the request again."""
    renewed = False
    while True:
        headers = {"X-auth-access-token": session.access or "", "Accept": "application/json"}
        reply = await _send(session, method, path, headers=headers, params=params, step=step)
        if reply.status != 401:
            return reply
        if renewed:
            raise AuthError(
                f"the FMC REST API refused the session of user {session.rest.username}",
                step=step,
            )
        renewed = True
        await _refresh_or_login(session, step)


async def _get_json(session: _Session, path: str, params: Mapping[str, str], *, step: str) -> Any:
    reply = await _authorized(session, "GET", path, params, step=step)
    if reply.status != 200:
        raise ProtocolError(f"{step} answered HTTP {reply.status}", step=step)
    return _json(reply, step)


def _json(reply: _Reply, step: str) -> Any:
    try:
        return json.loads(reply.body)
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError(f"{step} answered something that is not JSON", step=step) from None


async def _send(
    session: _Session,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    step: str,
) -> _Reply:
    """One request, paced by the FMC's limiter, retried on 429 and 5xx (bounded)."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        wait = session.limiter.reserve()
        if wait > 0:
            logger.debug("fmc %s: REST rate limit: waiting %.2f s", session.name, wait)
            await asyncio.sleep(wait)
        reply = await _exchange(session, method, path, headers, params, step)
        logger.debug("fmc %s: REST %s %s -> %d", session.name, method, path, reply.status)
        session.note(f"{method} {path} -> {reply.status}")
        if reply.status != 429 and reply.status < 500:
            return reply
        if attempt == MAX_ATTEMPTS:
            break
        delay = retry_delay(reply.headers.get("Retry-After"), attempt, session.clock())
        if delay > MAX_RETRY_WAIT:
            raise ProtocolError(
                f"{step}: the FMC REST API answered HTTP {reply.status} and asked to retry "
                f"after {delay:.0f} s, longer than fmccert waits ({MAX_RETRY_WAIT:g} s)",
                step=step,
            )
        session.note(f"  retry in {delay:g} s")
        await asyncio.sleep(delay)
    raise ProtocolError(
        f"{step}: the FMC REST API still answered HTTP {reply.status} after {MAX_ATTEMPTS} tries",
        step=step,
    )


async def _exchange(
    session: _Session,
    method: str,
    path: str,
    headers: Mapping[str, str] | None,
    params: Mapping[str, str] | None,
    step: str,
) -> _Reply:
    """One HTTP exchange within ``timeouts.command``; transport failures as ProbeErrors."""
    where = session.where
    try:
        async with asyncio.timeout(session.timeouts.command):
            async with session.http.request(
                method,
                session.base + path,
                headers=headers,
                params=params,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return _Reply(response.status, CIMultiDict(response.headers), body)
    except aiohttp.ClientConnectorCertificateError as exc:
        reason = _peer_reason(str(getattr(exc.certificate_error, "verify_message", "")), session)
        raise ProtocolError(
            f"the TLS certificate of {where} is not trusted ({reason or 'verification failed'});"
            " set rest.ca_file to the CA that issued it, or rest.insecure_skip_verify: true",
            step="tls",
        ) from None
    except aiohttp.ClientSSLError as exc:
        reason = _peer_reason(str(exc), session)
        raise ProtocolError(f"TLS handshake with {where} failed: {reason}", step="tls") from None
    except aiohttp.ClientConnectorDNSError:
        raise UnreachableError(
            f"cannot resolve host name {session.rest.host!r}", step="connect"
        ) from None
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ConnectionRefusedError):
            raise UnreachableError(f"{where} refused the connection", step="connect") from None
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        raise UnreachableError(f"cannot connect to {where}: {reason}", step="connect") from None
    except aiohttp.ConnectionTimeoutError:
        raise UnreachableError(
            f"no HTTPS connection to {where} within {session.timeouts.connect:g} s",
            step="connect",
        ) from None
    except TimeoutError:
        raise StepTimeoutError(
            f"{step} took longer than {session.timeouts.command:g} s", step=step
        ) from None
    except aiohttp.ClientError as exc:
        raise ProtocolError(
            f"the connection to {where} broke during {step} ({type(exc).__name__})", step=step
        ) from None


async def _logout(session: _Session) -> None:
    """Revoke the session's token, briefly and quietly; skipped when cancelled."""
    task = asyncio.current_task()
    if session.access is None or (task is not None and task.cancelling()):
        return
    headers = {"X-auth-access-token": session.access}
    with contextlib.suppress(ProbeError, TimeoutError):
        async with asyncio.timeout(LOGOUT_WAIT):
            reply = await _send(session, "POST", LOGOUT_PATH, headers=headers, step="logout")
            if reply.status != 204:
                logger.debug("fmc %s: REST logout: HTTP %d", session.name, reply.status)
    session.access = session.refresh = None


def _peer_reason(text: str, session: _Session) -> str:
    masked = redact(sanitize_peer_text(text), [session.rest.password])
    return sanitize_peer_text(masked, limit=REASON_LIMIT)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
