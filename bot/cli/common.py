"""What every subcommand shares: the clock, the actor, config loading, storage, signals."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from bot.config import AppConfig, load_config, resolve_config_path
from bot.core.suggest import closest_match
from bot.errors import ConfigError, UsageError

if TYPE_CHECKING:  # annotations only: commands import the application layer when they run
    from bot.operations.ports import Store

T = TypeVar("T")


def utc_now() -> datetime:
    """The real clock, passed into everything that needs the time."""
    return datetime.now(UTC)


def cli_actor() -> str:
    """Who is acting, for the audit log: the local user name."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"cli:uid{os.getuid()}"


def load(args: argparse.Namespace) -> AppConfig:
    """The validated config named by --config / $FMCCERT_CONFIG / the default path."""
    return load_config(resolve_config_path(args.config, os.environ))


def closest(name: str, names: Sequence[str]) -> str:
    """A "did you mean" hint: the most similar name, the first in config order on ties."""
    best = closest_match(name, names)
    return f"; did you mean {best!r}?" if best else ""


def check_names(names: Sequence[str], config: AppConfig) -> None:
    """UsageError for the first name the config does not list, with a hint."""
    known = config.names()
    for name in names:
        if name not in known:
            hint = closest(name, known) or f" (known: {', '.join(known[:8]) or 'none'})"
            raise UsageError(f"unknown FMC {name!r}{hint}")


@contextlib.asynccontextmanager
async def opened_store(config: AppConfig) -> AsyncIterator[Store]:
    """The config's database, migrated to the current schema, closed on the way out."""
    from bot.storage.sql import open_store

    url = config.storage_url
    if config.storage_password is not None:
        url = with_password(url, config.storage_password.reveal())
    store = await open_store(url, base_dir=config.base_dir)
    try:
        yield store
    finally:
        await store.close()


def with_password(url: str, password: str) -> str:
    """The database URL with the password from the environment filled in."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).set(password=password).render_as_string(hide_password=False)
    except ArgumentError:
        raise ConfigError(f"storage.url is not a database URL: {url!r}") from None


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"fmccert: warning: {message}", file=sys.stderr)


def stop_event() -> asyncio.Event:
    """An Event that SIGINT or SIGTERM sets: long-running commands stop cleanly on either.

    Call it inside the running loop.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def run_until_signalled(work: Awaitable[T]) -> T:
    """Run ``work``; SIGTERM cancels it like Ctrl-C does, so it can record why it stopped."""

    async def main() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await work
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None
