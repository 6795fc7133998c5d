"""A local stand-in for Slack's servers: Web API, response URLs and Socket Mode on loopback.

Slack's servers cannot exist in tests or in ``fmccert demo``, so :class:`SlackStandIn`
plays their part with real HTTP and a real websocket on ``127.0.0.1`` (port 0 by default)
and keeps a small model of the workspace (:class:`~bot.lab.slack.workspace.Workspace`:
channels with messages and threads, ephemeral messages, App Home views). The bot under
test or demo is the real bot, pointed here:

* **Web API**: give the bot's ``AsyncWebClient`` ``base_url=standin.base_url``
  (``SLACK_API_URL``). slack-sdk builds each call with ``urljoin(base_url, method)``, so
  the URL ends in ``/api/``. Every call is recorded as an :class:`ApiCall` and answered
  as Slack would (``auth.test``, ``chat.*``, ``usergroups.users.list``, ``views.publish``,
  ``views.open`` ...); :meth:`SlackStandIn.fail_next` programs 429/5xx answers.
* **Response URLs**: payloads carry URLs from :meth:`SlackStandIn.response_url`, so
  ``respond()`` posts back here; the JSON is recorded and applied to the model.
* **Socket Mode**: ``apps.connections.open`` (app-level ``xapp-`` token) answers a
  ``ws://127.0.0.1:PORT/link/?ticket=...`` URL; a client that connects gets Slack's
  ``hello`` and then whatever :meth:`SlackStandIn.send_envelope` delivers.
* **HTTP mode**: :meth:`SlackStandIn.post_signed` sends a body signed with the signing
  secret to the bot's endpoint, built with :mod:`bot.lab.slack.payloads`
  (``slash_command_form``, ``block_actions_payload``, ``app_home_opened_event``).

:meth:`SlackStandIn.run_command`, :meth:`SlackStandIn.click`,
:meth:`SlackStandIn.open_home` and :meth:`SlackStandIn.submit_view` do what a person's
action in Slack does over Socket Mode, including showing a command's acknowledgement text.
A modal the bot opens with the trigger id of a person's click or command is open for that
person (``Workspace.modals``) until they submit or close it. Listeners finish after the
ack, so tests poll the model with :meth:`SlackStandIn.wait_for`.
"""

# Waits take a ``timeout`` (like Slack's 3-second ack window) so a missing ack or message
# fails with a description of what did arrive, which asyncio.timeout() cannot give.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import dataclasses
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

from bot.lab.slack.payloads import (
    app_home_opened_event,
    block_actions_payload,
    find_action,
    new_trigger_id,
    slash_command_form,
    view_state,
    view_submission_payload,
)
from bot.lab.slack.workspace import (
    API_APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    OpenModal,
    StoredMessage,
    Workspace,
)

__all__ = ["ApiCall", "ResponseCall", "SlackStandIn"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One Web API call as received: method, merged parameters, bearer token, monotonic time."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    status: int = 200


@dataclass(frozen=True, slots=True)
class ResponseCall:
    """One POST to a response URL: the URL's id, the JSON body, monotonic time."""

    url_id: str
    body: dict[str, Any]
    at: float


@dataclass(frozen=True, slots=True)
class _ResponseTarget:
    """Where a response URL's messages land: the channel, the actor, the source message."""

    channel: str
    user_id: str
    message_ts: str | None
    thread_ts: str | None
    ephemeral: bool


@dataclass(frozen=True, slots=True)
class _Failure:
    """A programmed failure answer for the next calls of one method."""

    status: int
    error: str
    retry_after: int | None


class SlackStandIn:
    """Slack's Web API, response URLs and Socket Mode on loopback, with a workspace model."""

    def __init__(
        self,
        *,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        users: Mapping[str, str] | None = None,
        channels: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.usergroups: dict[str, list[str]] = {k: list(v) for k, v in (usergroups or {}).items()}
        self.users: dict[str, str] = dict(users or {})
        self.channel_names: dict[str, str] = dict(channels or {})
        self.calls: list[ApiCall] = []
        self.responses: list[ResponseCall] = []
        self.workspace = Workspace()
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._failures: dict[str, list[_Failure | None]] = {}  # None: answer as usual
        self._targets: dict[str, _ResponseTarget] = {}
        self._tickets: set[str] = set()
        self._triggers: dict[str, str] = {}  # trigger id -> the user whose action issued it
        self._sockets: list[web.WebSocketResponse] = []
        self._next_socket = itertools.count()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        # Other paths on the same port (the demo's console page); may be set after start().
        self.fallback: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None

    # Lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the HTTP and websocket server."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{url_id}", self._response)
        app.router.add_get("/link/", self._link)
        app.router.add_get("/link", self._link)
        app.router.add_route("*", "/{tail:.*}", self._fallback)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        """Close client connections and stop the server."""
        for future in self._acks.values():
            future.cancel()
        self._acks.clear()
        for ws in list(self._sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"stand-in closing")
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def origin(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if self._runner is None:
            raise RuntimeError("SlackStandIn is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The Web API base URL for ``AsyncWebClient(base_url=...)``; ends in ``/api/``."""
        return f"{self.origin}/api/"

    # Programming and querying ------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int | None = 1,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Answer ``times`` calls of ``method`` with this HTTP status and error.

        ``after``: first let that many calls through as usual (fail the third post: 2).
        """
        failure = _Failure(status=status, error=error, retry_after=retry_after)
        self._failures.setdefault(method, []).extend([None] * after + [failure] * times)

    def response_url(
        self,
        *,
        channel: str,
        user_id: str,
        message_ts: str | None = None,
        thread_ts: str | None = None,
        ephemeral: bool = False,
    ) -> str:
        """Issue a response URL for an action by ``user_id`` in ``channel`` (on a message)."""
        url_id = uuid.uuid4().hex
        self._targets[url_id] = _ResponseTarget(channel, user_id, message_ts, thread_ts, ephemeral)
        return f"{self.origin}/response/{url_id}"

    def issue_trigger(self, user_id: str) -> str:
        """A trigger id for an action by ``user_id``: a modal opened with it opens for them."""
        trigger = new_trigger_id()
        self._triggers[trigger] = user_id
        if len(self._triggers) > 1000:  # Slack's expire after 3 seconds; keep the newest
            del self._triggers[next(iter(self._triggers))]
        return trigger

    def modal(self, user: str) -> OpenModal | None:
        """The modal open in ``user``'s client, if any."""
        return self.workspace.modals.get(user)

    def calls_to(self, method: str) -> list[ApiCall]:
        """Recorded calls of one Web API method, in order."""
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str) -> list[StoredMessage]:
        """Top-level messages of a channel, in order."""
        return self.workspace.messages(channel)

    def thread(self, channel: str, ts: str) -> list[StoredMessage]:
        """Replies in the thread under the message ``ts`` (parent excluded), in order."""
        return self.workspace.thread(channel, ts)

    def ephemerals(self, user: str | None = None) -> list[StoredMessage]:
        """Ephemeral messages, optionally only those shown to ``user``."""
        return self.workspace.ephemerals(user)

    def home_view(self, user: str) -> dict[str, Any] | None:
        """The App Home view last published for ``user``."""
        return self.workspace.home_views.get(user)

    @property
    def connections(self) -> int:
        """Number of open Socket Mode connections."""
        return sum(1 for ws in self._sockets if not ws.closed)

    def describe(self) -> str:
        """A short text summary of calls, connections and the model, for failure messages."""
        recent = ", ".join(c.method for c in self.calls[-8:]) or "none"
        return (
            f"{len(self.calls)} API calls (last: {recent}); {len(self.responses)} responses; "
            f"{self.connections} socket connections; {self.workspace.describe()}"
        )

    async def wait_for(
        self, predicate: Callable[[], T | None], timeout: float = 5.0, *, interval: float = 0.01
    ) -> T:
        """Poll ``predicate`` until it returns something truthy and return that."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"condition not met within {timeout}s (last value {result!r}); "
                    f"{self.describe()}"
                )
            await asyncio.sleep(interval)

    async def wait_connected(self, timeout: float = 5.0) -> int:
        """Wait until a Socket Mode client has connected; return the connection count."""
        return await self.wait_for(lambda: self.connections, timeout)

    def reset(self) -> None:
        """Forget calls, responses, programmed failures and the workspace model."""
        self.calls.clear()
        self.responses.clear()
        self._failures.clear()
        self._targets.clear()
        self._triggers.clear()
        self.workspace = Workspace()

    async def _fallback(self, request: web.Request) -> web.StreamResponse:
        """Any other path: the ``fallback`` handler if one is set, else 404."""
        if self.fallback is None:
            raise web.HTTPNotFound()
        return await self.fallback(request)

    # Web API -----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        """Record one Web API call and answer it as Slack would."""
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        token = _bearer(request.headers.get("Authorization")) or params.pop("token", None)
        queue = self._failures.get(method)
        failure = queue.pop(0) if queue else None
        status = failure.status if failure else 200
        self.calls.append(ApiCall(method, copy.deepcopy(params), token, time.monotonic(), status))
        if failure is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            return web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=headers
            )
        return web.json_response(self._answer(method, params, token))

    def _answer(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        """The JSON Slack answers for one method."""
        if not token:
            return {"ok": False, "error": "not_authed"}
        app_token = token.startswith("xapp-")
        if (method == "apps.connections.open") != app_token and method != "auth.test":
            # Socket Mode URLs need the app-level token; the bot's methods need a bot token.
            return {"ok": False, "error": "not_allowed_token_type"}
        handler = self._methods().get(method)
        return handler(params) if handler else {"ok": True}

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        """Web API methods with answers beyond a bare ``ok``."""
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "usergroups.users.list": self._usergroups_users_list,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "conversations.info": self._conversations_info,
            "users.info": self._users_info,
            "apps.connections.open": self._apps_connections_open,
        }

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": "fmccert",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        text, blocks = str(params.get("text") or ""), _blocks(params.get("blocks"))
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        thread_ts = params.get("thread_ts") or None
        message = self.workspace.post(
            StoredMessage(
                channel=channel,
                ts=self.workspace.next_ts(),
                text=text,
                blocks=blocks,
                thread_ts=str(thread_ts) if thread_ts else None,
                reply_broadcast=_flag(params.get("reply_broadcast")),
            )
        )
        return {"ok": True, "channel": channel, "ts": message.ts, "message": message.to_payload()}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        old = self.workspace.find(channel, ts)
        if old is None:
            return {"ok": False, "error": "message_not_found"}
        new = self.workspace.replace(old, _edited(old, params))
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": new.text,
            "message": new.to_payload(),
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        old = self.workspace.find(channel, ts)
        if old is None:
            return {"ok": False, "error": "message_not_found"}
        self.workspace.delete(old)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, user = str(params.get("channel") or ""), str(params.get("user") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not user:
            return {"ok": False, "error": "user_not_in_channel"}
        thread_ts = params.get("thread_ts") or None
        message = self.workspace.post_ephemeral(
            StoredMessage(
                channel=channel,
                ts=self.workspace.next_ts(),
                text=str(params.get("text") or ""),
                blocks=_blocks(params.get("blocks")),
                thread_ts=str(thread_ts) if thread_ts else None,
                ephemeral_to=user,
            )
        )
        return {"ok": True, "message_ts": message.ts}

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup") or "")
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user_id") or "")
        view = _view_param(params.get("view"))
        if not user or view is None:
            return {"ok": False, "error": "invalid_arguments"}
        stored = _stored_view(view)
        self.workspace.home_views[user] = stored
        self.workspace.touch()
        return {"ok": True, "view": stored}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger = str(params.get("trigger_id") or "")
        view = _view_param(params.get("view"))
        if not trigger:
            return {"ok": False, "error": "invalid_trigger_id"}
        if view is None or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        stored = _stored_view(view)
        # Triggers from payloads the stand-in did not build (signed HTTP tests) open for no one.
        user = self._triggers.pop(trigger, None)
        if user is not None:
            self.workspace.show_modal(OpenModal(user, stored))
        return {"ok": True, "view": stored}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": self.channel_names.get(channel, channel.lower()),
                "is_channel": not channel.startswith("D"),
                "is_im": channel.startswith("D"),
                "is_private": channel.startswith("G"),
                "is_archived": False,
                "is_member": True,
                "context_team_id": TEAM_ID,
            },
        }

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user") or "")
        if not user:
            return {"ok": False, "error": "user_not_found"}
        name = "fmccert" if user == BOT_USER_ID else self.users.get(user, user.lower())
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": TEAM_ID,
                "name": name,
                "real_name": name,
                "deleted": False,
                "is_bot": user == BOT_USER_ID,
                "tz": "UTC",
                "profile": {"display_name": name, "real_name": name},
            },
        }

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        ws_origin = self.origin.replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{ws_origin}/link/?ticket={ticket}&app_id={API_APP_ID}"}

    # Response URLs -----------------------------------------------------------------------

    async def _response(self, request: web.Request) -> web.Response:
        """Record a POST to a response URL and apply it to the model."""
        url_id = request.match_info["url_id"]
        target = self._targets.get(url_id)
        if target is None:
            return web.json_response({"ok": False, "error": "expired_url"}, status=404)
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        self.responses.append(ResponseCall(url_id, copy.deepcopy(body), time.monotonic()))
        self._apply_reply(target, body)
        return web.json_response({"ok": True})

    def _apply_reply(self, target: _ResponseTarget, body: Mapping[str, Any]) -> None:
        """Show a response-URL or acknowledgement message the way Slack's client would."""
        source = self._source(target)
        if _flag(body.get("delete_original")):
            if source is not None:
                self.workspace.delete(source)
            return
        if _flag(body.get("replace_original")) and source is not None:
            self.workspace.replace(source, _edited(source, body))
            return
        text, blocks = str(body.get("text") or ""), _blocks(body.get("blocks"))
        if not text and not blocks:
            return
        thread_ts = body.get("thread_ts") or target.thread_ts
        message = StoredMessage(
            channel=target.channel,
            ts=self.workspace.next_ts(),
            text=text,
            blocks=blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
        )
        if body.get("response_type") == "in_channel":
            self.workspace.post(message)
        else:
            self.workspace.post_ephemeral(dataclasses.replace(message, ephemeral_to=target.user_id))

    def _source(self, target: _ResponseTarget) -> StoredMessage | None:
        """The message a response URL was issued for, if it still exists."""
        if target.message_ts is None:
            return None
        if target.ephemeral:
            return self.workspace.find_ephemeral(target.channel, target.message_ts, target.user_id)
        return self.workspace.find(target.channel, target.message_ts)

    # Socket Mode -------------------------------------------------------------------------

    async def _link(self, request: web.Request) -> web.StreamResponse:
        """Accept a Socket Mode websocket, greet it with ``hello`` and collect its acks."""
        if request.query.get("ticket") not in self._tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        # autoping answers the SDK's "sdk-ping-pong:<time>" pings with matching pongs.
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": self.connections,
                "debug_info": {
                    "host": "applink-standin",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": API_APP_ID},
            }
        )
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._receive_ack(msg.data)
        finally:
            self._sockets.remove(ws)
        return ws

    def _receive_ack(self, data: str) -> None:
        """Resolve the pending envelope an ack names; ignore anything else."""
        try:
            ack = json.loads(data)
        except json.JSONDecodeError:
            return
        if not isinstance(ack, dict):
            return
        future = self._acks.pop(str(ack.get("envelope_id")), None)
        if future is not None and not future.done():
            future.set_result(ack)

    async def send_envelope(
        self,
        type_: str,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool = False,
        timeout: float = 5.0,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> dict[str, Any]:
        """Deliver an envelope to one connected client and return its ack."""
        await self.wait_connected(timeout)
        sockets = [ws for ws in self._sockets if not ws.closed]
        ws = sockets[next(self._next_socket) % len(sockets)]
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "type": type_,
            "payload": dict(payload),
            "accepts_response_payload": accepts_response_payload,
        }
        if type_ == "events_api":
            # Slack marks first deliveries with attempt 0 and an empty reason.
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope["envelope_id"]] = future
        try:
            await ws.send_json(envelope)
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise TimeoutError(
                f"no ack for {type_} envelope {envelope['envelope_id']} within {timeout}s"
            ) from None
        finally:
            self._acks.pop(envelope["envelope_id"], None)

    # Acting as Slack for a person --------------------------------------------------------

    async def run_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        command: str = "/fmccert",
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Deliver a slash command over Socket Mode and show its ack's message; return the ack."""
        target = _ResponseTarget(channel_id, user_id, None, None, ephemeral=False)
        form = slash_command_form(
            command=command,
            text=text,
            user_id=user_id,
            user_name=self.users.get(user_id, user_id.lower()),
            channel_id=channel_id,
            channel_name=self.channel_names.get(channel_id, channel_id.lower()),
            response_url=self.response_url(channel=channel_id, user_id=user_id),
            trigger_id=self.issue_trigger(user_id),
        )
        ack = await self.send_envelope(
            "slash_commands", form, accepts_response_payload=True, timeout=timeout
        )
        reply = ack.get("payload")
        if isinstance(reply, dict):
            self._apply_reply(target, reply)
        return ack

    async def click(
        self,
        message: StoredMessage,
        action_id: str,
        *,
        user_id: str,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Click the button ``action_id`` on a stored message over Socket Mode; return the ack."""
        found = find_action(message.blocks, action_id)
        if found is None:
            raise LookupError(f"no element with action_id {action_id!r} in message {message.ts}")
        block_id, element = found
        ephemeral = message.ephemeral_to is not None
        payload = block_actions_payload(
            user_id=user_id,
            user_name=self.users.get(user_id, user_id.lower()),
            action_id=action_id,
            value=element.get("value"),
            block_id=block_id,
            action_text=element.get("text"),
            style=element.get("style"),
            channel_id=message.channel,
            channel_name=self.channel_names.get(message.channel, message.channel.lower()),
            # A click on an ephemeral message carries no ``message`` field.
            message=None if ephemeral else message.to_payload(),
            message_ts=message.ts,
            thread_ts=message.thread_ts,
            is_ephemeral=ephemeral,
            response_url=self.response_url(
                channel=message.channel,
                user_id=user_id,
                message_ts=message.ts,
                thread_ts=message.thread_ts,
                ephemeral=ephemeral,
            ),
            trigger_id=self.issue_trigger(user_id),
        )
        return await self.send_envelope("interactive", payload, timeout=timeout)

    async def open_home(self, user_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
        """Deliver ``app_home_opened`` for a user over Socket Mode; return the ack."""
        event = app_home_opened_event(user_id, view=self.home_view(user_id))
        return await self.send_envelope("events_api", event, timeout=timeout)

    async def submit_view(
        self,
        user_id: str,
        values: Mapping[str, Mapping[str, str | None]],
        *,
        view_id: str | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Submit the modal open for ``user_id`` over Socket Mode, as Slack does; return the ack.

        ``values`` are plain strings by block id and action id (a select's option value,
        a text input's text); they become ``view.state`` with :func:`view_state`. The ack's
        ``response_action`` is applied like Slack's client: ``errors`` keeps the modal open
        with the errors under its fields, ``update`` and ``push`` show the new view, and
        anything else closes it. LookupError when that modal is not open, ValueError for
        values the modal does not offer.
        """
        modal = self.modal(user_id)
        if modal is None or (view_id is not None and modal.id != view_id):
            raise LookupError(f"that modal is not open for {user_id}")
        view = {**copy.deepcopy(modal.view), "state": view_state(modal.view, values)}
        payload = view_submission_payload(
            user_id=user_id,
            user_name=self.users.get(user_id, user_id.lower()),
            view=view,
            trigger_id=self.issue_trigger(user_id),
        )
        ack = await self.send_envelope("interactive", payload, timeout=timeout)
        if self.modal(user_id) is modal:  # the bot may have opened another meanwhile
            self._apply_view_response(OpenModal(user_id, view), ack.get("payload"))
        return ack

    def close_view(self, user_id: str, *, view_id: str | None = None) -> bool:
        """Close the modal open for ``user_id`` (Cancel, or the close button); True if one was.

        Slack then tells the app only for views with ``notify_on_close``, which the stand-in
        does not model (fmccert's modals do not ask).
        """
        modal = self.modal(user_id)
        if modal is None or (view_id is not None and modal.id != view_id):
            return False
        self.workspace.close_modal(user_id)
        return True

    def _apply_view_response(self, modal: OpenModal, response: object) -> None:
        """What Slack's client does with a view submission's ack: keep, replace or close."""
        answer = response if isinstance(response, Mapping) else {}
        action = answer.get("response_action")
        if action == "errors" and isinstance(answer.get("errors"), Mapping):
            errors = {str(k): str(v) for k, v in answer["errors"].items()}
            self.workspace.show_modal(dataclasses.replace(modal, errors=errors))
            return
        new_view = _view_param(answer.get("view"))
        if action in ("update", "push") and new_view is not None:
            stored = _stored_view(new_view)
            if action == "update":
                stored["id"] = modal.id  # an update keeps the view's id
            self.workspace.show_modal(OpenModal(modal.user, stored))
            return
        self.workspace.close_modal(modal.user)

    # HTTP mode ---------------------------------------------------------------------------

    async def post_signed(
        self,
        url: str,
        body: str,
        *,
        secret: str,
        timestamp: int | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, str, float]:
        """POST a body signed with the signing secret, as Slack does; return status, text, secs."""
        if self._session is None:
            raise RuntimeError("SlackStandIn is not started")
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or "",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(headers or {}),
        }
        started = time.monotonic()
        async with self._session.post(url, data=body.encode(), headers=all_headers) as resp:
            text = await resp.text()
            return resp.status, text, time.monotonic() - started


def _edited(message: StoredMessage, changes: Mapping[str, Any]) -> StoredMessage:
    """The message with text and blocks changed; blocks stay unless new ones are given."""
    text = changes.get("text")
    blocks = changes.get("blocks")
    return dataclasses.replace(
        message,
        text=message.text if text is None else str(text),
        blocks=message.blocks if blocks is None else _blocks(blocks),
        edits=message.edits + 1,
    )


def _view_param(value: Any) -> dict[str, Any] | None:
    """A ``view`` argument: a JSON object, or a JSON string of one (form-encoded calls)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return dict(value) if isinstance(value, Mapping) else None


def _stored_view(view: Mapping[str, Any]) -> dict[str, Any]:
    """A view as Slack keeps and answers it: the app's fields plus id, hash and state."""
    view_id = "V" + uuid.uuid4().hex[:10].upper()
    return {
        "id": view_id,
        "team_id": TEAM_ID,
        "app_id": API_APP_ID,
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        "state": {"values": {}},
        "hash": uuid.uuid4().hex,
        "clear_on_close": False,
        "notify_on_close": False,
        "root_view_id": view_id,
        "previous_view_id": None,
        **copy.deepcopy(dict(view)),
    }


def _blocks(value: Any) -> list[dict[str, Any]]:
    """Blocks from a JSON body (a list) or a form field (a JSON string), deep-copied."""
    if isinstance(value, str):
        value = json.loads(value) if value else []
    if not isinstance(value, list):
        return []
    return [copy.deepcopy(b) for b in value if isinstance(b, dict)]


def _flag(value: Any) -> bool:
    """A Slack boolean parameter: JSON true or form ``true``/``1``."""
    if isinstance(value, str):
        return value.lower() in {"true", "1"}
    return bool(value)


def _bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    if header and header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip() or None
    return None
