"""Hostile SSH peers on loopback: servers that answer with text chosen to fool a terminal.

Not FMCs: they exist so tests can prove that what a peer says (a disconnect reason, a
refused channel's reason) never reaches the terminal raw.

- :func:`start_disconnecting_server` speaks just enough SSH to send ``SSH_MSG_DISCONNECT``
  with the given reason right after the version exchange: before key exchange, so before
  any host-key check (an attacker needs no trusted key for this).
- :func:`start_refusing_server` is a real asyncssh server that accepts the password and
  then refuses every session channel with the given reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field
from typing import Any

import asyncssh

_DISCONNECT = 1  # SSH_MSG_DISCONNECT
_BY_APPLICATION = 11  # SSH_DISCONNECT_BY_APPLICATION
_VERSION = b"SSH-2.0-OpenSSH_9.6\r\n"
_READ_TIMEOUT = 5.0


@dataclass(slots=True)
class HostileServer:
    """A running hostile server: where it listens and the known_hosts line of its key."""

    host: str
    port: int
    known_hosts_line: str  # empty for the disconnecting server (it never shows a key)
    _close: Any = field(repr=False)

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        await self._close()


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def disconnect_packet(reason: str) -> bytes:
    """An unencrypted SSH binary packet carrying SSH_MSG_DISCONNECT with ``reason``."""
    payload = bytes([_DISCONNECT]) + struct.pack(">I", _BY_APPLICATION)
    payload += _ssh_string(reason.encode("utf-8", "surrogateescape")) + _ssh_string(b"")
    padding = 8 - (len(payload) + 5) % 8
    if padding < 4:
        padding += 8
    return struct.pack(">IB", len(payload) + padding + 1, padding) + payload + b"\0" * padding


async def start_disconnecting_server(reason: str, host: str = "127.0.0.1") -> HostileServer:
    """A server that sends its version, reads the client's, then disconnects with ``reason``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(_VERSION)
            async with asyncio.timeout(_READ_TIMEOUT):
                await reader.readline()
            writer.write(disconnect_packet(reason))
            await writer.drain()
        except (OSError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host, 0)
    port: int = server.sockets[0].getsockname()[1]

    async def close() -> None:
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2.0)

    return HostileServer(host, port, "", close)


class _RefusingServer(asyncssh.SSHServer):
    def __init__(self, password: str, reason: str) -> None:
        self._password = password
        self._reason = reason

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return password == self._password

    def session_requested(self) -> bool:
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, self._reason)


async def start_refusing_server(
    reason: str, password: str, host: str = "127.0.0.1"
) -> HostileServer:
    """An SSH server that logs ``password`` in, then refuses sessions with ``reason``."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    acceptor = await asyncssh.create_server(
        lambda: _RefusingServer(password, reason), host, 0, server_host_keys=[key]
    )
    port = acceptor.get_port()
    algorithm, blob = key.export_public_key("openssh").decode("ascii").split()[:2]

    async def close() -> None:
        acceptor.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(acceptor.wait_closed(), 2.0)

    return HostileServer(host, port, f"[{host}]:{port} {algorithm} {blob}", close)
