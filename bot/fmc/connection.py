"""A logged-in expert-mode shell on one FMC, shared by the probe and the remediation runner.

The flow follows docs/fmc-facts.md: connect with a pinned host key and the password,
open a PTY, detect CLISH ``>`` vs bash after the banner, type ``expert`` only from ``>``,
answer sudo's bare ``Password:`` once per command (never a second time after a refusal),
and leave with ``exit`` (twice when we came through CLISH). Every expected failure is a
:class:`bot.errors.ProbeError` whose message never holds the password.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncssh

from bot.core.peer_text import sanitize_peer_text
from bot.errors import (
    AuthError,
    HostKeyError,
    ProtocolError,
    StepTimeoutError,
    UnreachableError,
)
from bot.fmc.known_hosts import has_key_for, load_known_hosts
from bot.fmc.prompts import PromptKind, SudoOutcome, classify_sudo, command_output
from bot.fmc.session import FmcShell
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.secrets import REDACTED, redact

logger = logging.getLogger("bot.fmc")

# A tall, wide terminal so the FMC never wraps or pages our short commands.
TERM_TYPE = "vt100"
TERM_SIZE = (200, 50)
# Leaving is courtesy: never let a slow goodbye hold up the result.
EXIT_WAIT = 1.0
# A peer's reason (disconnect, refused channel, SFTP) is shown cut to this length.
REASON_LIMIT = 200
# Appended to every command run for its exit status; the echoed line shows `$?`, never
# digits, so only the shell's own output matches _STATUS_MARK. Not anchored at a line
# start: output without a final newline (`cat` of a file that lacks one) glues the
# marker to its last line. The last match is the shell's: it is printed after the rest.
STATUS_SUFFIX = '; echo "@@rc=$?"'
_STATUS_MARK = re.compile(r"@@rc=(\d+)[ \t]*$", re.MULTILINE)


async def connect_fmc(target: ProbeTarget, timeouts: ProbeTimeouts) -> asyncssh.SSHClientConnection:
    """Open the SSH connection (host key pinned, password auth only); ProbeError on failure."""
    known = load_known_hosts(target.known_hosts, target.name)
    where = f"{target.host}:{target.port}"
    logger.debug("fmc %s: connecting to %s", target.name, where)
    try:
        async with asyncio.timeout(timeouts.connect):
            return await asyncssh.connect(
                target.host,
                target.port,
                username=target.username,
                password=target.password.reveal(),
                known_hosts=known,
                client_keys=None,  # FMC admins log in with the password only
                agent_path=None,
                config=None,  # ~/.ssh/config must not change what a check does
                gss_host=None,
                preferred_auth=("password", "keyboard-interactive"),
                connect_timeout=timeouts.connect,
            )
    except TimeoutError:
        raise UnreachableError(
            f"no SSH connection to {where} within {timeouts.connect:g} s", step="connect"
        ) from None
    except asyncssh.HostKeyNotVerifiable:
        changed = has_key_for(known, target.host, target.port)
        raise host_key_error(target, changed=changed) from None
    except asyncssh.PermissionDenied:
        raise AuthError(
            f"{where} refused the SSH login for user {target.username}", step="connect"
        ) from None
    except asyncssh.ConnectionLost:
        raise UnreachableError(
            f"{where} closed the connection during the SSH handshake", step="connect"
        ) from None
    except asyncssh.Error as exc:
        reason = peer_reason(str(exc.reason), target)
        raise ProtocolError(
            f"SSH handshake with {where} failed: {reason}", step="connect"
        ) from None
    except socket.gaierror:
        raise UnreachableError(
            f"cannot resolve host name {target.host!r}", step="connect"
        ) from None
    except ConnectionRefusedError:
        raise UnreachableError(f"{where} refused the connection", step="connect") from None
    except OSError as exc:
        raise UnreachableError(
            f"cannot connect to {where}: {exc.strerror or type(exc).__name__}", step="connect"
        ) from None


def peer_reason(text: str, target: ProbeTarget) -> str:
    """A reason the FMC (or whoever answers) sent, one printable line, password masked."""
    # Strip before masking: a peer that learnt the password must not get it shown by
    # splitting it with a control character that stripping would then remove.
    masked = redact(sanitize_peer_text(text), [target.password])
    return sanitize_peer_text(masked, limit=REASON_LIMIT)


def host_key_error(target: ProbeTarget, *, changed: bool) -> HostKeyError:
    """The host_key error for an unknown or a changed key, with the `trust` hint."""
    hint = f"verify the fingerprint, then run `fmccert trust {target.name}`"
    if changed:
        message = f"host key of {target.host}:{target.port} CHANGED since it was trusted; {hint}"
    else:
        message = f"host key of {target.host}:{target.port} is not in known_hosts; {hint}"
    return HostKeyError(message, step="connect")


async def close_connection(conn: asyncssh.SSHClientConnection | None) -> None:
    """Close ``conn`` and wait briefly for it; never blocks a cancelled caller."""
    if conn is None:
        return
    conn.close()
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        return  # the caller cancelled us: close() already dropped the link
    try:
        async with asyncio.timeout(EXIT_WAIT):
            await conn.wait_closed()
    except TimeoutError:
        conn.abort()


async def open_terminal(
    conn: asyncssh.SSHClientConnection, target: ProbeTarget, timeouts: ProbeTimeouts
) -> FmcShell:
    """Open an interactive PTY session on ``conn``, wrapped in an FmcShell."""
    try:
        async with asyncio.timeout(timeouts.command):
            process = await conn.create_process(
                term_type=TERM_TYPE, term_size=TERM_SIZE, encoding=None, stderr=asyncssh.STDOUT
            )
    except TimeoutError:
        raise StepTimeoutError(
            f"opening a terminal took longer than {timeouts.command:g} s", step="session"
        ) from None
    except (asyncssh.Error, OSError) as exc:
        reason = peer_reason(str(exc) or type(exc).__name__, target)
        raise ProtocolError(
            f"the FMC refused a terminal session ({reason})", step="session"
        ) from None
    return FmcShell(
        process, fmc=target.name, step_timeout=timeouts.command, secrets=[target.password]
    )


async def enter_expert(shell: FmcShell) -> bool:
    """Read past the banner to a bash prompt, typing ``expert`` only from CLISH ``>``.

    Returns True when the shell was reached through ``expert`` (so leaving takes two exits).
    """
    landed = await shell.wait_for_prompt("login")
    if landed.prompt is PromptKind.CLISH:
        entered = await shell.run("expert", "expert")
        if entered.prompt is PromptKind.CLISH:
            # Still at `>`: the device has no expert mode for us, e.g. an FTD after
            # `system lockdown` (`system lockdown-sensor` on older images). A search of
            # public Cisco docs found no wording for what `expert` then prints, so any
            # answer that stays at `>` counts, quoted as it came.
            words = expert_refusal(command_output(entered.text, "expert"))
            raise ProtocolError(
                f"expert mode is unavailable on this device ({words}); fmccert reads the "
                "certificate from expert mode only",
                step="expert",
            )
        if entered.prompt is not PromptKind.SHELL:
            raise ProtocolError("`expert` did not lead to a shell prompt", step="expert")
        return True
    if landed.prompt is not PromptKind.SHELL:
        raise ProtocolError("the login ended at an unexpected password prompt", step="login")
    return False


def expert_refusal(output: str) -> str:
    """What the device said to ``expert``, one short printable line (or that it said nothing)."""
    # CLISH marks the bad word with a caret line: keep only lines with words in them.
    lines = [line.strip() for line in output.splitlines() if line.strip(" \t^")]
    if not lines:
        return "it answered `expert` with a new prompt and no message"
    return sanitize_peer_text(" ".join(lines), limit=REASON_LIMIT)


async def run_sudo_aware(
    shell: FmcShell,
    target: ProbeTarget,
    command: str,
    *,
    step: str = "sudo",
    timeout: float | None = None,  # noqa: ASYNC109 (expiry is a StepTimeoutError naming step)
) -> str:
    """Type ``command`` and return its output, answering sudo's ``Password:`` at most once.

    A refusal (``Sorry, try again``, a second ``Password:``, not in sudoers) sends Ctrl-C
    and raises AuthError: the password is never typed a second time.
    """
    shell.send(command)
    result = await shell.wait_for_prompt(step, watch_sudo=True, timeout=timeout)
    echo: str | None = command
    if result.prompt is PromptKind.PASSWORD and result.sudo is None:
        shell.send(target.password.reveal(), shown=REDACTED)
        result = await shell.wait_for_prompt(step, watch_sudo=True, timeout=timeout)
        echo = None
    outcome = classify_sudo(result.text, result.prompt)
    if result.prompt is PromptKind.PASSWORD or outcome is not SudoOutcome.ACCEPTED:
        shell.interrupt()  # never type the password a second time
        if outcome is SudoOutcome.NOT_ALLOWED:
            raise AuthError(f"{target.username} may not use sudo on the FMC", step=step)
        raise AuthError("sudo refused the password", step=step)
    if result.prompt is not PromptKind.SHELL:
        raise ProtocolError(f"{step} did not end at the shell prompt", step=step)
    return command_output(result.text, echo)


def split_status(output: str) -> tuple[str, int | None]:
    """Output without the ``@@rc=N`` marker, and N (None when the marker is missing).

    The marker ends a line, on its own or glued to output that had no final newline.
    """
    matches = list(_STATUS_MARK.finditer(output))
    if not matches:
        return output, None
    last = matches[-1]
    text = (output[: last.start()] + output[last.end() :]).strip("\n")
    return text, int(last.group(1))


async def leave_shell(shell: FmcShell, via_expert: bool, timeouts: ProbeTimeouts) -> None:
    """Type ``exit`` (twice when entered through CLISH) and wait briefly for the close."""
    # Leaving the box as found matters, but a failed goodbye does not change the facts.
    # Both exits go at once (bash, then CLISH): the PTY queues the second line for CLISH,
    # and waiting for the `>` in between would only cost a round trip.
    shell.send("exit")
    if via_expert:
        shell.send("exit")
    if await shell.wait_closed(min(EXIT_WAIT, timeouts.command)):
        logger.debug("fmc %s: session closed after exit", shell.fmc)
    else:
        logger.debug("fmc %s: session still open after exit; closing anyway", shell.fmc)


class ExpertSession:
    """A logged-in expert-mode shell on one FMC, plus SFTP over the same connection."""

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        shell: FmcShell,
        *,
        target: ProbeTarget,
        timeouts: ProbeTimeouts,
        via_expert: bool,
    ) -> None:
        self._conn = conn
        self._shell = shell
        self._target = target
        self._timeouts = timeouts
        self._via_expert = via_expert
        self._sftp: asyncssh.SFTPClient | None = None

    @property
    def target(self) -> ProbeTarget:
        """The FMC this session is logged in to."""
        return self._target

    @property
    def transcript(self) -> str:
        """Everything typed and read in the shell so far, the password masked."""
        return self._shell.transcript

    def redact(self, text: str) -> str:
        """``text`` with the FMC password masked."""
        return redact(text, [self._target.password])

    async def run(
        self,
        command: str,
        *,
        step: str,
        timeout: float | None = None,  # noqa: ASYNC109 (expiry is a StepTimeoutError naming step)
    ) -> tuple[str, int]:
        """Run one shell line (sudo-aware); its redacted output and exit status.

        ``timeout`` (default: the command timeout) bounds the wait for the next prompt.
        """
        output = await run_sudo_aware(
            self._shell, self._target, command + STATUS_SUFFIX, step=step, timeout=timeout
        )
        text, status = split_status(self.redact(output))
        if status is None:
            raise ProtocolError(f"{step}: the shell printed no exit status", step=step)
        return text, status

    async def sftp(self) -> asyncssh.SFTPClient:
        """The SFTP client on this connection, started on first use."""
        if self._sftp is None:
            try:
                async with asyncio.timeout(self._timeouts.command):
                    self._sftp = await self._conn.start_sftp_client()
            except TimeoutError:
                raise StepTimeoutError(
                    f"starting SFTP took longer than {self._timeouts.command:g} s", step="sftp"
                ) from None
            except (asyncssh.Error, OSError) as exc:
                reason = peer_reason(str(exc) or type(exc).__name__, self._target)
                raise ProtocolError(f"the FMC refused SFTP ({reason})", step="sftp") from None
        return self._sftp

    async def leave(self) -> None:
        """Close SFTP and leave the shell with ``exit``; bounded, never raises."""
        if self._sftp is not None:
            self._sftp.exit()
            self._sftp = None
        await leave_shell(self._shell, self._via_expert, self._timeouts)


@asynccontextmanager
async def expert_session(
    target: ProbeTarget, timeouts: ProbeTimeouts
) -> AsyncIterator[ExpertSession]:
    """Connect, log in and reach the expert shell; leave and close on the way out."""
    conn = await connect_fmc(target, timeouts)
    try:
        shell = await open_terminal(conn, target, timeouts)
        via_expert = await enter_expert(shell)
        session = ExpertSession(
            conn, shell, target=target, timeouts=timeouts, via_expert=via_expert
        )
        try:
            yield session
        finally:
            task = asyncio.current_task()
            if task is None or not task.cancelling():
                await session.leave()
    finally:
        await close_connection(conn)
