"""Which `fmccert run` process runs the schedules: exactly one, whatever the replica count.

On PostgreSQL the leader is the process holding a session advisory lock on a connection of
its own (not the pool's). PostgreSQL drops the lock with the session, so a killed leader's
lock goes as soon as its socket closes, and a follower, asking every few seconds, takes
over. The leader watches its connection (asyncpg reports a terminated session at once; a
ping every few seconds finds a silent network) and stops scheduling the moment it is lost.

SQLite serves one process: the single process is the leader, and a second process on the
same file is refused (an exclusive lock on a file beside the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.errors import ConfigError

log = logging.getLogger("bot.storage.leadership")

OnChange = Callable[[bool], Awaitable[None]]
"""Called with True when this process becomes the leader, False when it stops being one."""

LEADER_LOCK_KEY = 0x666D_6363_6C65_6164  # "fmcclead" (fits a signed bigint)
RETRY_SECONDS = 5.0  # how often a follower asks for the lock: takeover well within 30 s
CHECK_SECONDS = 5.0  # how often the leader pings its connection
TIMEOUT_SECONDS = 5.0  # for connecting, asking and pinging
# The server notices a vanished leader's socket after idle + interval * count seconds, so
# even a leader cut off without a FIN releases the lock in about 25 s.
_KEEPALIVES = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5",
               "tcp_keepalives_count": "3"}  # fmt: skip


class Leadership(Protocol):
    """Tells the bot when it runs the schedules."""

    @property
    def leader(self) -> bool: ...
    async def start(self, on_change: OnChange) -> None: ...
    async def close(self) -> None: ...


class SoleProcess:
    """Without a shared database the one process leads; a second one is refused at start.

    ``lock_path`` is a file beside the SQLite database; None (tests that run bots in one
    process) only makes this process the leader.
    """

    def __init__(self, lock_path: Path | None = None, *, storage_url: str = "") -> None:
        self._lock_path = lock_path
        self._storage_url = storage_url
        self._file: IO[str] | None = None
        self._leader = False

    @property
    def leader(self) -> bool:
        return self._leader

    async def start(self, on_change: OnChange) -> None:
        """Take the file lock (ConfigError when another process holds it), then lead."""
        if self._lock_path is not None:
            handle = self._lock_path.open("a+", encoding="utf-8")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise ConfigError(
                    f"another fmccert process is already running on the SQLite database "
                    f"{self._storage_url} (storage.url): SQLite serves one process; stop it, "
                    "or point storage.url at PostgreSQL to run replicas"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            self._file = handle
        self._leader = True
        await on_change(True)

    async def close(self) -> None:
        """Give up the lock (the file stays; only the lock says a process is running)."""
        self._leader = False
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class AdvisoryLockLeadership:
    """PostgreSQL: the holder of a session advisory lock on a dedicated connection leads."""

    def __init__(
        self,
        url: URL,
        *,
        key: int = LEADER_LOCK_KEY,
        retry: float = RETRY_SECONDS,
        check: float = CHECK_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._engine: AsyncEngine = create_async_engine(
            url,
            poolclass=NullPool,  # the lock lives on this connection: never back to a pool
            connect_args={"timeout": timeout, "server_settings": dict(_KEEPALIVES)},
        )
        self._key = key
        self._retry = retry
        self._check = check
        self._timeout = timeout
        self._leader = False
        self._task: asyncio.Task[None] | None = None

    @property
    def leader(self) -> bool:
        return self._leader

    async def start(self, on_change: OnChange) -> None:
        """Start asking for the lock in the background; ``on_change`` tells the outcome."""
        if self._task is None:
            self._task = asyncio.create_task(self._campaign(on_change), name="leadership")

    async def close(self) -> None:
        """Stop campaigning; a held lock goes with the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._engine.dispose()

    async def _campaign(self, on_change: OnChange) -> None:
        while True:
            try:
                await self._hold_while_connected(on_change)
            except (OSError, TimeoutError, SQLAlchemyError) as exc:
                log.warning("leader election: the database connection failed: %s", _said(exc))
            except Exception:
                log.exception("leader election failed; asking again")
            await asyncio.sleep(self._retry)

    async def _hold_while_connected(self, on_change: OnChange) -> None:
        async with asyncio.timeout(self._timeout):
            conn = await self._engine.connect()
        lost = asyncio.Event()
        try:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            driver.add_termination_listener(lambda _connection: lost.set())
            while True:  # a follower: ask again every few seconds on the same session
                if await self._ask(conn):
                    break
                await asyncio.sleep(self._retry)
            self._leader = True
            log.info("this process now runs the schedules (leader)")
            await on_change(True)
            try:
                await self._watch(conn, lost)
            finally:
                self._leader = False
                log.warning("this process lost the leadership: schedules stopped")
                await on_change(False)
        finally:
            await _drop(conn)

    async def _ask(self, conn: AsyncConnection) -> bool:
        async with asyncio.timeout(self._timeout):
            result = await conn.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            )
            await conn.commit()  # end the implicit transaction; the session lock stays
        return bool(result.scalar())

    async def _watch(self, conn: AsyncConnection, lost: asyncio.Event) -> None:
        """Return (or raise) when the connection, and so the lock, is gone."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._check):
                    await lost.wait()
            if lost.is_set():
                log.warning("leader election: the database ended the leader's session")
                return
            async with asyncio.timeout(self._timeout):
                await conn.execute(text("SELECT 1"))
                await conn.commit()


async def _drop(conn: AsyncConnection) -> None:
    """Close without waiting on a dead peer, and never hand the session to anyone."""
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(TIMEOUT_SECONDS):
            await conn.close()


def _said(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def leadership_for(engine: AsyncEngine, *, storage_url: str) -> Leadership:
    """The election that fits the database: an advisory lock on PostgreSQL, else one process."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLockLeadership(engine.url)
    database = engine.url.database
    lock = Path(f"{database}.lock") if database else None
    return SoleProcess(lock, storage_url=storage_url)
