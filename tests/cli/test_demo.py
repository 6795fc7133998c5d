"""`fmccert demo` as a real process: the console comes up and the first scan's alert appears."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

import aiohttp

from tests.cli.process import start_fmccert


async def test_demo_serves_the_console_with_an_alert(tmp_path: Path) -> None:
    """The demo prints the console URL, serves it, scans at start, and stops on SIGTERM."""
    process = await start_fmccert("demo", "--port", "0", "--folder", str(tmp_path))
    assert process.stdout is not None
    url = None
    seen = ""
    while url is None:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert line, f"the demo ended early: {seen}"
        seen += line
        match = re.search(r"Slack console: (http://127\.0\.0\.1:\d+/)", line)
        url = match.group(1) if match else None
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as page:
                assert page.status == 200
                assert "<html" in (await page.text()).lower()
            alert = None
            for _ in range(60):  # the first scan runs at start; wait for its alert
                async with session.get(f"{url}console/api/state") as response:
                    state = await response.json()
                texts = json.dumps(state.get("messages", []))
                if "Approve VDB update" in texts:  # the alert and its replies with buttons
                    alert = texts
                    break
                await asyncio.sleep(1)
            assert alert is not None, "no alert appeared in the console"
            assert "need attention" in alert
        assert (tmp_path / "var" / "fmccert.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0


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
