"""Benchmark: time to acknowledge slash commands while the bot scans 500 FMCs.

    .venv/bin/python bench/ack_bench.py [--count 500] [--commands 200] [--delay 0.05]

Separate processes, as in production: the lab of ``--count`` FMCs, the stand-in for
Slack's Web API, a sender of signed requests (raw sockets, requests prepared in advance,
so its own cost stays out of the figures), and the real bot (HTTP mode, probing in its
worker process as `fmccert run` does) in this process. The bot is asked for a scan with
`/fmccert scan`; while it runs the scan, the sender sends ``--commands`` `/fmccert`
commands (status, help, check) at once. Prints p50, p99 and max time to the
acknowledgement (Slack's limit is 3 s; target p99 < 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bot.lab.process import spawn_lab

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-signing-secret"
CHANNEL = "CBENCH"


def _request_bytes(url: str, text: str, user: str, timestamp: str) -> bytes:
    """One signed `/fmccert TEXT` as raw HTTP/1.1 bytes, as Slack would send it."""
    from urllib.parse import urlsplit

    from slack_sdk.signature import SignatureVerifier

    from bot.lab.slack.payloads import encode_form, slash_command_form

    body = encode_form(
        slash_command_form(text=text, user_id=user, channel_id=CHANNEL, response_url="x")
    )
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    parts = urlsplit(url)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Slack-Request-Timestamp: {timestamp}\r\nX-Slack-Signature: {signature}\r\n"
        f"Content-Length: {len(body.encode())}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body.encode()


async def send_command(url: str, request: bytes) -> float:
    """Send one prepared request on its own connection; seconds until its answer arrives.

    The clock starts before connecting (Slack's does too) and stops when the status line of
    the acknowledgement arrives; the rest of the response is then read and checked.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    elapsed = time.monotonic() - started
    await reader.read()
    writer.close()
    if not status_line.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"unexpected answer: {status_line[:80]!r}")
    return elapsed


async def _send(url: str, count: int, names: list[str]) -> list[float]:
    """Child: send ``count`` prepared commands at once; each one's time to the ack.

    Raw sockets and bytes prepared beforehand keep the sender's own cost out of the figures.
    """
    texts = ["status", "help", *(f"check {name}" for name in names[:3] if name)]
    timestamp = str(int(time.time()))
    requests = [
        _request_bytes(url, texts[i % len(texts)], f"U{i:04d}", timestamp) for i in range(count)
    ]
    return list(await asyncio.gather(*(send_command(url, request) for request in requests)))


async def _slack_api() -> None:
    """Child: the stand-in for Slack's Web API, until stdin closes."""
    from bot.lab.slack.server import SlackStandIn

    async with SlackStandIn() as standin:
        print(json.dumps({"base_url": standin.base_url}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _run(args: argparse.Namespace, config_path: Path) -> dict[str, Any]:
    from bot.config import load_config
    from bot.secrets import Secret
    from bot.slack.env import SlackEnv
    from bot.slack.runtime import SlackBot
    from bot.storage.sql import open_store

    config = load_config(config_path, {})
    child_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    slack = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--slack-api", cwd=ROOT, env=child_env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert slack.stdin is not None
    assert slack.stdout is not None
    base_url = json.loads(await asyncio.wait_for(slack.stdout.readline(), 60))["base_url"]
    store = await open_store(config.storage_url, base_dir=config.base_dir)
    env = SlackEnv(Secret("xoxb-bench"), None, Secret(SECRET), base_url)
    bot = SlackBot(
        config, store, env, clock=lambda: datetime.now(UTC), port=0, post_interval=0.0,
        probe_in_worker=True,
    )  # fmt: skip
    await bot.start()
    gc.freeze()  # as `fmccert run` does after start-up
    try:
        url = f"http://127.0.0.1:{bot.port}/slack/events"
        scan_started = time.monotonic()
        request = _request_bytes(url, "scan", "UADMIN", str(int(time.time())))
        scan_ack = await send_command(url, request)
        await asyncio.sleep(1.0)  # let the scan get going: connections, PTYs, prompts
        sender = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--send", url, "--commands", str(args.commands),
            "--names", ",".join(config.names()[:3]),
            cwd=ROOT, env=child_env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await sender.communicate()
        latencies = json.loads(out.decode().strip().splitlines()[-1])
        sent_done = time.monotonic()
        await bot.tasks.wait_idle(600)  # the scan (and every command's work) is done
        scan_seconds = time.monotonic() - scan_started
    finally:
        await bot.close()
        await store.close()
        slack.stdin.close()
        await slack.wait()
    return {
        "latencies": latencies,
        "scan_ack": scan_ack,
        "scan_seconds": scan_seconds,
        "sent_while_scanning": sent_done - scan_started < scan_seconds,
    }


def main() -> None:
    """Parse arguments; either be the sender child or run the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--lab-niceness", type=int, default=10,
        help="CPU niceness of the lab, whose FMCs stand for remote machines (0: compete)",
    )  # fmt: skip
    parser.add_argument("--slack-api", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--send", help=argparse.SUPPRESS)
    parser.add_argument("--names", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.slack_api:
        asyncio.run(_slack_api())
        return
    if args.send:
        print(json.dumps(asyncio.run(_send(args.send, args.commands, args.names.split(",")))))
        return
    with tempfile.TemporaryDirectory(prefix="fmccert-ackbench-") as folder:
        config_path = Path(folder) / "fmccert.yaml"
        lab = spawn_lab(
            args.count, config_path, scenarios=["affected-760-warning"], command_delay=args.delay,
            niceness=args.lab_niceness,
        )  # fmt: skip
        try:
            data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
            data["ssh"].update(concurrency=args.concurrency, host_timeout=300)
            data["slack"] = {"alert_channel": CHANNEL, "approvers": ["UADMIN"]}
            config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            result = asyncio.run(_run(args, config_path))
        finally:
            lab.terminate()
            lab.wait(timeout=30)
    ms = [value * 1000 for value in result["latencies"]]
    print(
        f"ack bench: {len(ms)} slash commands at once during a {args.count}-FMC scan "
        f"({args.delay * 1000:.0f} ms per command, concurrency {args.concurrency})"
    )
    print(
        f"  ack time  p50 {_percentile(ms, 0.50):6.1f} ms   p99 {_percentile(ms, 0.99):6.1f} ms"
        f"   max {max(ms):6.1f} ms   mean {statistics.fmean(ms):6.1f} ms   (target p99 < 100 ms)"
    )
    print(
        f"  the scan's own ack {result['scan_ack'] * 1000:.1f} ms; scan took "
        f"{result['scan_seconds']:.1f} s; commands sent while it ran: "
        f"{result['sent_while_scanning']}"
    )


if __name__ == "__main__":
    main()
