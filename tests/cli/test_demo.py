"""`fmccert demo` as a real process: the console comes up and the first scan's alert appears."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

import aiohttp

from tests.cli.process import start_fmccert


async def _start_demo(folder: Path) -> tuple[asyncio.subprocess.Process, str]:
    """Start `fmccert demo` on a free port; the process and its console URL."""
    process = await start_fmccert("demo", "--port", "0", "--folder", str(folder))
    assert process.stdout is not None
    url = None
    seen = ""
    while url is None:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert line, f"the demo ended early: {seen}"
        seen += line
        match = re.search(r"Slack console: (http://127\.0\.0\.1:\d+/)", line)
        url = match.group(1) if match else None
    return process, url


async def _console_text(session: aiohttp.ClientSession, url: str, *wanted: str) -> str:
    """The console's messages as JSON text, once every ``wanted`` string is in them."""
    texts = ""
    for _ in range(90):  # the first scan runs at start; wait for what it posts
        async with session.get(f"{url}console/api/state") as response:
            state = await response.json()
        texts = json.dumps(state.get("messages", []))
        if all(word in texts for word in wanted):
            return texts
        await asyncio.sleep(1)
    raise AssertionError(f"the console never showed {wanted}: {texts[:2000]}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 60) == 0


async def test_demo_serves_the_console_with_an_alert(tmp_path: Path) -> None:
    """The demo prints the console URL, serves it, scans at start, and stops on SIGTERM."""
    process, url = await _start_demo(tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as page:
                assert page.status == 200
                assert "<html" in (await page.text()).lower()
            # The alert and its replies with buttons.
            alert = await _console_text(session, url, "Approve VDB update")
            assert "need attention" in alert
        assert (tmp_path / "var" / "fmccert.db").exists()
    finally:
        await _stop(process)


async def test_demo_restarted_on_the_same_folder_keeps_alerting(tmp_path: Path) -> None:
    """A second run on the same folder (a new, empty console) posts the open incidents again."""
    process, url = await _start_demo(tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            await _console_text(session, url, "Approve VDB update")
    finally:
        await _stop(process)

    process, url = await _start_demo(tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            again = await _console_text(session, url, "Posted again", "Approve VDB update")
        assert "need attention" in again
        assert "message_not_found" not in again
    finally:
        await _stop(process)


async def test_demo_on_a_busy_port_is_a_one_line_error(tmp_path: Path) -> None:
    """A console port already in use is a one-line error naming --port, exit 3."""
    import socket

    from tests.cli.process import assert_one_line_error, fmccert

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = await fmccert("demo", "--port", str(port), "--folder", str(tmp_path))
    assert_one_line_error(result, f"127.0.0.1:{port}", "--port")
