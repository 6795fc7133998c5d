"""A local web page that shows the stand-in's workspace as Slack would, for ``fmccert demo``.

:class:`ConsoleServer` serves a small page (static files shipped in
``bot/lab/slack/console``) and a JSON API on loopback. The page never talks to the bot
directly: commands, clicks, App Home visits and modal submissions go through
:class:`~bot.lab.slack.server.SlackStandIn`, which delivers them over Socket Mode exactly
as Slack does, and the page shows the stand-in's model of the channel, rendered from the
bot's real Block Kit. A modal the bot opens (Snooze's dialog) is a form on the page,
submitted back as ``view_submission``.

The API (every error is a JSON ``{"ok": false, "error": ...}`` with status 400/502):

* ``GET /console/api/state?after=REV&user=ID`` (default: the first user): waits (up to
  ``poll_timeout``) until the workspace revision passes ``REV``, then answers the
  channel's messages with their thread replies, and the user's ephemerals, App Home view
  and open modal (``{id, view, errors}`` or null).
* ``POST /console/api/command`` ``{user, text}``: a ``/fmccert`` slash command.
* ``POST /console/api/click`` ``{user, channel, ts, action_id}``: a button click.
* ``POST /console/api/home`` ``{user}``: the user opens the App Home tab.
* ``POST /console/api/submit`` ``{user, view_id, values}``: the user submits their open
  modal; ``values`` maps block id -> action id -> text (a select's option value). Answers
  the ack and the modal's ``errors`` (null once the bot accepted and it closed).
* ``POST /console/api/close`` ``{user, view_id}``: the user cancels their open modal.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from bot.lab.slack.payloads import find_action
from bot.lab.slack.server import SlackStandIn
from bot.lab.slack.workspace import BOT_USER_ID, OpenModal, StoredMessage

__all__ = ["ConsoleServer", "ConsoleUser", "attach_console", "console_asset"]

log = logging.getLogger("bot.slack.console")

# Slack cuts slash command text at 4,000 characters; the page's own limit matches.
MAX_COMMAND_TEXT = 4000
COMMAND = "/fmccert"
MAX_BODY = 16 * 1024
_ASSETS: Mapping[str, str] = {
    "index.html": "text/html",
    "console.js": "application/javascript",
    "console.css": "text/css",
}
# The page loads only its own files; no inline script, no other origin.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """A person the page can act as: Slack user id, display name and role shown beside it."""

    id: str
    name: str
    role: str


class ConsoleError(ValueError):
    """A request the console refuses; the message is safe to show on the page."""


def console_asset(name: str) -> bytes:
    """One of the page's static files, read from the installed package."""
    if name not in _ASSETS:
        raise KeyError(name)
    return importlib.resources.files("bot.lab.slack").joinpath("console", name).read_bytes()


class ConsoleServer:
    """The console page and its JSON API on loopback; start() it and open ``.url``."""

    def __init__(
        self,
        standin: SlackStandIn,
        *,
        channel: str,
        users: Sequence[ConsoleUser],
        host: str = "127.0.0.1",
        port: int = 0,
        poll_timeout: float = 20.0,
        action_timeout: float = 10.0,
    ) -> None:
        if not users:
            raise ValueError("the console needs at least one user")
        self.standin = standin
        self.channel = channel
        self.users: dict[str, ConsoleUser] = {u.id: u for u in users}
        self.poll_timeout = poll_timeout
        self.action_timeout = action_timeout
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    # Lifecycle ---------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """A standalone aiohttp application serving the page, its assets and the API."""
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Route one request; refusals become 400 JSON, a silent bot 502; never a traceback."""
        path, method = request.path, request.method
        routes: dict[tuple[str, str], Handler] = {
            ("GET", "/"): self._index,
            ("GET", "/console/api/state"): self._state,
            ("POST", "/console/api/command"): self._command,
            ("POST", "/console/api/click"): self._click,
            ("POST", "/console/api/home"): self._home,
            ("POST", "/console/api/submit"): self._submit,
            ("POST", "/console/api/close"): self._close,
        }
        handler = routes.get((method, path))
        if handler is None and method == "GET" and path.removeprefix("/console/") in _ASSETS:
            handler = self._asset
        if handler is None:
            return _error("not found", 404)
        try:
            return await handler(request)
        except ConsoleError as exc:
            return _error(str(exc), 400)
        except (TimeoutError, ConnectionError) as exc:
            log.warning("console: the bot did not answer: %s", exc)
            return _error("the bot did not answer; is it running and connected?", 502)
        except Exception:
            log.exception("console: unexpected error on %s", path)
            return _error("internal error; see the log", 500)

    async def start(self) -> None:
        """Serve on ``host:port`` (port 0 picks a free one)."""
        self._runner = web.AppRunner(self.build_app(), handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving; open long-polls end."""
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
    def url(self) -> str:
        """``http://HOST:PORT/`` of the page."""
        if self._runner is None:
            raise RuntimeError("ConsoleServer is not started")
        return f"http://{self._host}:{self._port}/"

    # The model as JSON -------------------------------------------------------------------

    def snapshot(self, user: str) -> dict[str, Any]:
        """What the page shows to ``user``: channel, messages with replies, their own views."""
        workspace = self.standin.workspace
        messages = [
            {
                **_message_json(m),
                "replies": [
                    _message_json(r) for r in workspace.thread(self.channel, m.ts) if r is not m
                ],
            }
            for m in workspace.messages(self.channel)
        ]
        return {
            "ok": True,
            "revision": workspace.revision,
            "channel": {
                "id": self.channel,
                "name": self.standin.channel_names.get(self.channel, self.channel.lower()),
            },
            "bot": {"id": BOT_USER_ID, "name": "fmccert"},
            "command": COMMAND,
            "users": [asdict(u) for u in self.users.values()],
            "user": user,
            "messages": messages,
            "ephemerals": [
                _message_json(m) for m in workspace.ephemerals(user) if m.channel == self.channel
            ],
            "home": workspace.home_views.get(user),
            "modal": _modal_json(workspace.modals.get(user)),
        }

    # Handlers ----------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        return _asset_response("index.html")

    async def _asset(self, request: web.Request) -> web.Response:
        return _asset_response(request.path.removeprefix("/console/"))

    async def _state(self, request: web.Request) -> web.Response:
        user = self._user(request.query.get("user") or next(iter(self.users)))
        after_text = request.query.get("after", "-1")
        try:
            after = int(after_text)
        except ValueError:
            raise ConsoleError("after must be an integer revision") from None
        await self.standin.workspace.wait_changed(after, self.poll_timeout)
        return web.json_response(self.snapshot(user))

    async def _command(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self._user(body.get("user"))
        text = body.get("text")
        if not isinstance(text, str):
            raise ConsoleError("text must be a string")
        text = text.strip()
        if text == COMMAND or text.startswith(COMMAND + " "):
            text = text.removeprefix(COMMAND).strip()
        elif text.startswith("/"):
            raise ConsoleError(f"only {COMMAND} commands are available here")
        if len(text) > MAX_COMMAND_TEXT:
            raise ConsoleError("the command is too long")
        ack = await self.standin.run_command(
            text, user_id=user, channel_id=self.channel, timeout=self.action_timeout
        )
        return web.json_response({"ok": True, "ack": ack})

    async def _click(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self._user(body.get("user"))
        channel, ts, action_id = (_field(body, key) for key in ("channel", "ts", "action_id"))
        message = self._find(channel, ts, user)
        if message is None:
            raise ConsoleError("no such message")
        if find_action(message.blocks, action_id) is None:
            raise ConsoleError("no such button on that message")
        ack = await self.standin.click(
            message, action_id, user_id=user, timeout=self.action_timeout
        )
        return web.json_response({"ok": True, "ack": ack})

    async def _home(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self._user(body.get("user"))
        ack = await self.standin.open_home(user, timeout=self.action_timeout)
        return web.json_response({"ok": True, "ack": ack})

    async def _submit(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self._user(body.get("user"))
        view_id = _field(body, "view_id")
        values = _values(body.get("values"))
        try:
            ack = await self.standin.submit_view(
                user, values, view_id=view_id, timeout=self.action_timeout
            )
        except LookupError:
            raise ConsoleError("that dialog is no longer open") from None
        except ValueError as exc:
            raise ConsoleError(str(exc)) from None
        modal = self.standin.modal(user)
        errors = modal.errors if modal is not None and modal.id == view_id else None
        return web.json_response({"ok": True, "ack": ack, "errors": errors or None})

    async def _close(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self._user(body.get("user"))
        closed = self.standin.close_view(user, view_id=_field(body, "view_id"))
        return web.json_response({"ok": True, "closed": closed})

    # Helpers -----------------------------------------------------------------------------

    def _user(self, value: object) -> str:
        """A known console user's id, or a refusal."""
        if not isinstance(value, str) or value not in self.users:
            raise ConsoleError("unknown user")
        return value

    def _find(self, channel: str, ts: str, user: str) -> StoredMessage | None:
        """The message (top level, reply, or the user's own ephemeral) with this ts."""
        workspace = self.standin.workspace
        return workspace.find(channel, ts) or workspace.find_ephemeral(channel, ts, user)


def attach_console(standin: SlackStandIn, *, channel: str, users: Sequence[ConsoleUser]) -> str:
    """Serve the console from the stand-in's own port; return the page's URL."""
    console = ConsoleServer(standin, channel=channel, users=users)
    standin.fallback = console.dispatch
    return f"{standin.origin}/"


def _modal_json(modal: OpenModal | None) -> dict[str, Any] | None:
    """A user's open modal as the page needs it."""
    if modal is None:
        return None
    return {"id": modal.id, "view": modal.view, "errors": modal.errors}


def _message_json(message: StoredMessage) -> dict[str, Any]:
    """One stored message as the page needs it."""
    return {
        "channel": message.channel,
        "ts": message.ts,
        "thread_ts": message.thread_ts,
        "user": message.user,
        "text": message.text,
        "blocks": message.blocks,
        "edited": message.edits > 0,
        "ephemeral": message.ephemeral_to is not None,
    }


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; only ``application/json`` (a cross-site form cannot send it)."""
    if request.content_type != "application/json":
        raise ConsoleError("send application/json")
    if (request.content_length or 0) > MAX_BODY:
        raise ConsoleError("the body is too large")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConsoleError("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ConsoleError("the body must be a JSON object")
    return body


def _field(body: Mapping[str, Any], key: str) -> str:
    """A required non-empty string field of a request body."""
    value = body.get(key)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ConsoleError(f"{key} must be a non-empty string")
    return value


def _values(value: object) -> dict[str, dict[str, str]]:
    """A modal submission's values: block id -> action id -> text, all strings."""
    if not isinstance(value, dict) or len(value) > 50:
        raise ConsoleError("values must be an object of block ids")
    values: dict[str, dict[str, str]] = {}
    for block_id, actions in value.items():
        if not isinstance(actions, dict) or len(actions) > 10:
            raise ConsoleError("each block's values must be an object of action ids")
        if not all(isinstance(text, str) and len(text) <= 3000 for text in actions.values()):
            raise ConsoleError("values must be strings of at most 3000 characters")
        values[str(block_id)] = {str(action): text for action, text in actions.items()}
    return values


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def _asset_response(name: str) -> web.Response:
    return web.Response(
        body=console_asset(name),
        content_type=_ASSETS[name],
        charset="utf-8",
        headers={
            "Content-Security-Policy": _CSP,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
