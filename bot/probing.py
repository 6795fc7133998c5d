"""Read one configured device the way its config says: over SSH, the REST API, or both.

SSH reads everything (release, VDB, the certificate itself); the FMC REST API reads the
release, the VDB and the Talos health alarm without a shell, never the certificate. With
``access: both`` the two reads run at once and are merged (``merge_reads``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from bot.core.devices import Access
from bot.core.findings import ProbeOutcome, merge_reads
from bot.fmc.probe import probe_fmc
from bot.fmc.rest import probe_rest
from bot.fmc.target import ProbeTarget, ProbeTimeouts


async def probe_device(
    target: ProbeTarget, timeouts: ProbeTimeouts, *, clock: Callable[[], datetime]
) -> ProbeOutcome:
    """Probe one device by its access mode; expected failures are in the outcome."""
    if target.access is Access.SSH:
        return await probe_fmc(target, timeouts, clock=clock)
    if target.access is Access.REST:
        return await probe_rest(target, timeouts, clock=clock)
    over_ssh, over_rest = await asyncio.gather(
        probe_fmc(target, timeouts, clock=clock), probe_rest(target, timeouts, clock=clock)
    )
    return merge_reads(over_ssh, over_rest)
