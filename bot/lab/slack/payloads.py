"""Payload builders: exactly what Slack sends, for HTTP bodies and Socket Mode envelopes.

A slash command's form fields (:func:`slash_command_form`, the Socket Mode
``slash_commands`` payload too), a button click's ``block_actions`` payload
(:func:`block_actions_payload`), the ``app_home_opened`` event
(:func:`app_home_opened_event`), a submitted modal's ``view_submission`` payload with its
``state`` (:func:`view_submission_payload`, :func:`view_state`), and their HTTP bodies
(:func:`encode_form`, :func:`interactive_form`). :func:`find_action` finds the element a
click names in Block Kit blocks.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from bot.lab.slack.workspace import API_APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

__all__ = [
    "app_home_opened_event",
    "block_actions_payload",
    "encode_form",
    "find_action",
    "interactive_form",
    "new_trigger_id",
    "slash_command_form",
    "view_state",
    "view_submission_payload",
]

# Slack still sends the deprecated verification token in payloads; Bolt ignores it.
VERIFICATION_TOKEN = "standin-verification-token"  # noqa: S105 - a placeholder, not a secret


def encode_form(fields: Mapping[str, str]) -> str:
    """URL-encode form fields as an ``application/x-www-form-urlencoded`` body."""
    return urlencode(dict(fields))


def interactive_form(payload: Mapping[str, Any]) -> str:
    """The HTTP body Slack posts for an interaction: ``payload=<json>``, form-encoded."""
    return encode_form({"payload": json.dumps(payload, separators=(",", ":"))})


def slash_command_form(
    *,
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    command: str = "/fmccert",
    team_id: str = TEAM_ID,
    user_name: str | None = None,
    channel_name: str | None = None,
    trigger_id: str | None = None,
    api_app_id: str = API_APP_ID,
) -> dict[str, str]:
    """The form fields of a slash command (also the Socket Mode ``slash_commands`` payload)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name or channel_id.lower(),
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def block_actions_payload(
    *,
    user_id: str,
    action_id: str,
    channel_id: str,
    response_url: str,
    value: str | None = None,
    message: Mapping[str, Any] | None = None,
    message_ts: str | None = None,
    thread_ts: str | None = None,
    is_ephemeral: bool = False,
    block_id: str | None = None,
    action_text: Mapping[str, Any] | None = None,
    style: str | None = None,
    user_name: str | None = None,
    channel_name: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A button click's ``block_actions`` payload; ``message`` is None for ephemeral ones."""
    ts = message_ts or (str(message["ts"]) if message is not None else None)
    if ts is None:
        raise ValueError("block_actions_payload needs message or message_ts")
    thread = thread_ts or (message.get("thread_ts") if message is not None else None)
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel_id,
        "is_ephemeral": is_ephemeral,
    }
    if thread:
        container["thread_ts"] = thread
    action: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id or uuid.uuid4().hex[:5],
        "text": dict(action_text or {"type": "plain_text", "text": action_id, "emoji": True}),
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    if style is not None:
        action["style"] = style
    name = user_name or user_id.lower()
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name or channel_id.lower()},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if message is not None:
        payload["message"] = copy.deepcopy(dict(message))
    return payload


def app_home_opened_event(
    user_id: str,
    *,
    view: Mapping[str, Any] | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The Events API body for ``app_home_opened`` (the ``events_api`` envelope payload)."""
    now = time.time()
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D" + user_id.lstrip("U")[:10].upper().ljust(8, "0"),
        "tab": "home",
        "event_ts": f"{now:.6f}",
    }
    if view is not None:
        event["view"] = copy.deepcopy(dict(view))
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def view_state(
    view: Mapping[str, Any], values: Mapping[str, Mapping[str, str | None]]
) -> dict[str, Any]:
    """A modal's ``state`` as Slack sends it on submission, from plain values.

    ``values`` maps block id -> action id -> a select's option value or an input's text;
    every input block of the view is in the state (empty when not given). ValueError for a
    block the view lacks, a select value that is not one of its options, or an element
    type the stand-in does not fill.
    """
    inputs = {
        str(block.get("block_id")): block
        for block in view.get("blocks") or []
        if isinstance(block, Mapping) and block.get("type") == "input"
    }
    for block_id, given in values.items():
        element = (inputs.get(block_id) or {}).get("element") or {}
        if set(given) - {element.get("action_id")}:
            raise ValueError(f"the modal has no input {block_id}/{', '.join(given)}")
    state: dict[str, Any] = {}
    for block_id, block in inputs.items():
        element = block.get("element") or {}
        action_id, kind = str(element.get("action_id")), element.get("type")
        raw = (values.get(block_id) or {}).get(action_id) or None
        if kind == "static_select":
            options = [o for o in element.get("options") or [] if isinstance(o, Mapping)]
            option = next((o for o in options if o.get("value") == raw), None)
            if raw is not None and option is None:
                raise ValueError(f"{raw[:40]!r} is not an option of {block_id}")
            entry = {"type": kind, "selected_option": copy.deepcopy(option)}
        elif kind == "plain_text_input":
            entry = {"type": kind, "value": raw}
        else:
            raise ValueError(f"the stand-in cannot fill a {kind} element ({block_id})")
        state[block_id] = {action_id: entry}
    return {"values": state}


def view_submission_payload(
    *,
    user_id: str,
    view: Mapping[str, Any],
    user_name: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """The ``view_submission`` payload of a submitted modal (``view`` holds its ``state``)."""
    name = user_name or user_id.lower()
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": copy.deepcopy(dict(view)),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def find_action(
    blocks: Sequence[Mapping[str, Any]], action_id: str
) -> tuple[str | None, dict[str, Any]] | None:
    """The ``(block_id, element)`` holding ``action_id`` in Block Kit blocks, if any."""
    for block in blocks:
        for element in _interactive_elements(block):
            if element.get("action_id") == action_id:
                return block.get("block_id"), dict(element)
    return None


def _interactive_elements(block: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Elements of an ``actions`` block and a section's accessory."""
    elements = block.get("elements")
    if block.get("type") == "actions" and isinstance(elements, list):
        yield from (e for e in elements if isinstance(e, Mapping))
    accessory = block.get("accessory")
    if isinstance(accessory, Mapping):
        yield accessory


def new_trigger_id() -> str:
    """A trigger id shaped like Slack's."""
    return f"{int(time.time())}.{TEAM_ID[1:]}.{uuid.uuid4().hex}"
