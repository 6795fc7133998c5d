"""Benchmark: how long the schedules go unrun when the leader replica is killed with SIGKILL.

    .venv/bin/python bench/takeover_bench.py [--rounds 5] [--url postgresql+asyncpg://...]

Two child processes join the election on PostgreSQL (default: ``FMCCERT_TEST_PG_URL``, else
the tests' local server) with the bot's own settings (a follower asks every 5 s). The
leader is killed with SIGKILL; the time from the kill to the other child saying it leads is
the takeover. Each round then starts a new follower. Prints each takeover and the worst
(the promise is within 30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = 0x666D_6363_6265_6E63  # "fmccbenc": apart from a running bot's election


async def _campaign(url: str) -> None:
    """Child: join the election; print LEADER when elected; run until killed."""
    from sqlalchemy.engine import make_url

    from bot.storage.leadership import AdvisoryLockLeadership

    election = AdvisoryLockLeadership(make_url(url), key=KEY)

    async def said(leading: bool) -> None:
        print("LEADER" if leading else "FOLLOWER", flush=True)

    await election.start(said)
    await asyncio.Event().wait()


async def _child(url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", "--url", url, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _leads(process: asyncio.subprocess.Process, within: float) -> bool:
    assert process.stdout is not None
    try:
        async with asyncio.timeout(within):
            while line := await process.stdout.readline():
                if line.strip() == b"LEADER":
                    return True
    except TimeoutError:
        return False
    return False


async def _run(url: str, rounds: int) -> list[float]:
    leader = await _child(url)
    if not await _leads(leader, 30):
        raise SystemExit("the first child never led: is PostgreSQL reachable?")
    takeovers = []
    for _ in range(rounds):
        follower = await _child(url)
        await asyncio.sleep(2.0)  # it has connected and asked at least once
        killed = time.monotonic()
        leader.send_signal(signal.SIGKILL)
        await leader.wait()
        if not await _leads(follower, 60):
            follower.kill()
            raise SystemExit("no takeover within 60 s")
        takeovers.append(time.monotonic() - killed)
        leader = follower
    leader.kill()
    await leader.wait()
    return takeovers


def main() -> None:
    """Run the rounds (or be a child) and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    default = "postgresql+asyncpg://fmccert:fmccert@127.0.0.1:5432/fmccert_test"
    parser.add_argument("--url", default=os.environ.get("FMCCERT_TEST_PG_URL", default))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_campaign(args.url))
        return
    takeovers = asyncio.run(_run(args.url, args.rounds))
    print(f"takeover after SIGKILL of the leader, {len(takeovers)} rounds (promise: < 30 s)")
    print("  " + "  ".join(f"{seconds:.2f} s" for seconds in takeovers))
    print(f"  worst {max(takeovers):.2f} s   mean {sum(takeovers) / len(takeovers):.2f} s")


if __name__ == "__main__":
    main()
