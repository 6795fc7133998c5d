"""Host-key trust: read an FMC's key, compare it with known_hosts, and pin it.

fmccert never accepts an unknown or changed host key on its own. ``fmccert trust NAME``
calls :func:`fetch_host_key`, shows the fingerprint with :func:`host_key_state`, and after
a human confirms, calls :func:`append_known_host`. A *changed* key is only written with
``replace=True``, which drops the old lines for that host: the CLI must ask for that
explicitly, because a changed key is what a man-in-the-middle looks like.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncssh

from bot.core.peer_text import sanitize_peer_text
from bot.errors import HostKeyError, ProbeConfigError, UnreachableError

# A peer's disconnect reason is shown cut to this length.
REASON_LIMIT = 200

HostKeyState = Literal["trusted", "unknown", "changed"]


@dataclass(frozen=True, slots=True)
class HostKeyInfo:
    """One server host key as shown to a human and as written to known_hosts."""

    key_type: str  # e.g. "ssh-ed25519"
    fingerprint: str  # "SHA256:..." as `ssh-keygen -lf` prints it
    known_hosts_line: str  # "[host]:port ssh-ed25519 AAAA..." (plain host on port 22)


def host_pattern(host: str, port: int) -> str:
    """How OpenSSH names ``host:port`` in known_hosts."""
    return host if port == 22 else f"[{host}]:{port}"


def describe_host_key(host: str, port: int, key: asyncssh.SSHKey) -> HostKeyInfo:
    """HostKeyInfo for ``key`` served at ``host:port``."""
    key_type, data = key.export_public_key("openssh").decode("ascii").split()[:2]
    return HostKeyInfo(
        key_type=key_type,
        fingerprint=key.get_fingerprint("sha256"),
        known_hosts_line=f"{host_pattern(host, port)} {key_type} {data}",
    )


# The timeout parameter is the agreed API: the CLI passes the configured connect timeout.
async def fetch_host_key(host: str, port: int, timeout: float) -> HostKeyInfo:  # noqa: ASYNC109
    """Connect just far enough to read the server's host key; UnreachableError on failure."""
    try:
        async with asyncio.timeout(timeout):
            key = await asyncssh.get_server_host_key(host, port, config=None)
    except TimeoutError:
        raise UnreachableError(f"{host}:{port} did not answer within {timeout:g} s") from None
    except socket.gaierror:
        raise UnreachableError(f"cannot resolve host name {host!r}") from None
    except ConnectionRefusedError:
        raise UnreachableError(f"{host}:{port} refused the connection") from None
    except OSError as exc:
        raise UnreachableError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    except asyncssh.Error as exc:
        reason = sanitize_peer_text(str(exc.reason), limit=REASON_LIMIT)
        raise UnreachableError(f"SSH handshake with {host}:{port} failed: {reason}") from None
    if key is None:
        raise UnreachableError(f"{host}:{port} presented no host key")
    return describe_host_key(host, port, key)


def _key_of(line_or_key: HostKeyInfo | asyncssh.SSHKey | str) -> asyncssh.SSHKey:
    if isinstance(line_or_key, asyncssh.SSHKey):
        return line_or_key
    text = line_or_key.known_hosts_line if isinstance(line_or_key, HostKeyInfo) else line_or_key
    fields = text.split()
    # Accept a known_hosts line ("host type data") or a bare public key ("type data").
    for start in (0, 1):
        try:
            return asyncssh.import_public_key(" ".join(fields[start : start + 2]))
        except (asyncssh.KeyImportError, ValueError):
            continue
    raise ValueError("not an SSH public key or known_hosts line")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _known_keys(text: str, host: str, port: int) -> list[asyncssh.SSHKey]:
    # asyncssh's own matching, so that "trusted" here means the probe will connect.
    return list(asyncssh.import_known_hosts(text).match(host, "", port)[0])


def host_key_state(
    known_hosts: Path, host: str, port: int, line_or_key: HostKeyInfo | asyncssh.SSHKey | str
) -> HostKeyState:
    """``trusted`` if known_hosts holds this key for the host, ``changed`` if it holds another.

    A missing file means ``unknown``. Any other key for the host (of any type) counts as
    ``changed``: the conservative reading, since a MITM may offer a new key type.
    """
    key = _key_of(line_or_key)
    known = _known_keys(_read_text(known_hosts), host, port)
    if any(k.public_data == key.public_data for k in known):
        return "trusted"
    return "changed" if known else "unknown"


def _line_names_host(line: str, host: str, port: int) -> bool:
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "@")):
        return False
    try:
        return bool(_known_keys(stripped, host, port))
    except ValueError:
        return False


def append_known_host(known_hosts: Path, info: HostKeyInfo, *, replace: bool = False) -> None:
    """Pin ``info`` in known_hosts (created 0644 with its directories if missing).

    Does nothing if the key is already trusted. If another key is pinned for the host,
    raises HostKeyError unless ``replace=True``, which removes the old lines first.
    """
    host_port = info.known_hosts_line.split()[0]
    host, port = _split_pattern(host_port)
    text = _read_text(known_hosts)
    state = host_key_state(known_hosts, host, port, info)
    if state == "trusted":
        return
    if state == "changed" and not replace:
        raise HostKeyError(
            f"known_hosts already holds a different key for {host_port}; "
            "replace it only after verifying the new fingerprint"
        )
    lines = text.splitlines()
    if state == "changed":
        lines = [line for line in lines if not _line_names_host(line, host, port)]
    lines.append(info.known_hosts_line)
    _write_atomically(known_hosts, "\n".join(lines) + "\n")


def _split_pattern(pattern: str) -> tuple[str, int]:
    if pattern.startswith("[") and "]:" in pattern:
        host, _, port = pattern[1:].partition("]:")
        return host, int(port)
    return pattern, 22


def _write_atomically(path: Path, text: str) -> None:
    # A crash mid-write must not leave a truncated known_hosts (every probe would fail).
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".known_hosts.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_cache: dict[Path, tuple[int, int, asyncssh.SSHKnownHosts]] = {}


def load_known_hosts(path: Path, fmc: str) -> asyncssh.SSHKnownHosts:
    """Parsed known_hosts for the probe (cached until the file changes); ProbeConfigError."""
    hint = f"run `fmccert trust {fmc}`"
    try:
        stat = path.stat()
        cached = _cache.get(path)
        if cached and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProbeConfigError(f"known_hosts file {path} does not exist; {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
        raise ProbeConfigError(f"cannot read known_hosts file {path} ({reason}); {hint}") from None
    try:
        known = asyncssh.import_known_hosts(text)
    except ValueError as exc:
        raise ProbeConfigError(f"known_hosts file {path} is malformed ({exc})") from None
    _cache[path] = (stat.st_mtime_ns, stat.st_size, known)
    return known


def has_key_for(known: asyncssh.SSHKnownHosts, host: str, port: int) -> bool:
    """True if known_hosts pins any key for ``host:port`` (so a mismatch means *changed*)."""
    return bool(known.match(host, "", port)[0])
